//===- CompileModel.h - From a ModelPlan to a library -----------*- C++ -*-===//
#ifndef RESNETC_COMPILER_CODEGEN_COMPILEMODEL_H
#define RESNETC_COMPILER_CODEGEN_COMPILEMODEL_H

#include "compiler/Codegen/ModelPlan.h"

#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace resnetc {

struct CompileOptions {
  std::string outputDir;
  /// A Halide target string (see resolveTarget).
  std::string halideTarget;
  /// Write only the kernels' objects and assembly, not the library.
  bool kernelsOnly = false;
  /// Kernels compiled at once (processes).
  int jobs = 2;
  /// Where libResnetcRuntime.a and include/resnetc/runtime live.
  std::string runtimeLibDir, runtimeIncludeDir;
  /// Where compiled kernels are kept for reuse, keyed by their signature,
  /// the target and `compilerId` (empty: no cache).
  std::string cacheDir;
  /// Identifies the compiler build whose kernels the cache holds.
  std::string compilerId;
  /// Reports the time of each phase when set.
  std::function<void(const std::string &phase, double seconds)> onPhase;
};

/// Compiles every kernel of `plan` (once per unique signature, in parallel)
/// and writes DIR/N.h, DIR/libN.a and DIR/libN.so, self-contained: one copy
/// of the Halide runtime and of resnetc's runtime inside. Nothing is left
/// half-written in DIR on failure.
llvm::Error compileModel(const ModelPlan &plan, const CompileOptions &options);

} // namespace resnetc

#endif // RESNETC_COMPILER_CODEGEN_COMPILEMODEL_H
