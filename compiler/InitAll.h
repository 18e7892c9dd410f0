//===- InitAll.h - Everything resnetc registers -----------------*- C++ -*-===//
//
// One registration point shared by every tool (CIRCT's InitAllPasses.h).
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_INITALL_H
#define RESNETC_COMPILER_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace resnetc {

/// The dialects a resnetc module may hold: resnet, func, builtin.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Every pass and pipeline of the project, plus the generic MLIR passes the
/// tests use (canonicalize, cse).
void registerAllPasses();

} // namespace resnetc

#endif // RESNETC_COMPILER_INITALL_H
