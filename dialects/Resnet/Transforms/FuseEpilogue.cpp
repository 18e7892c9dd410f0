//===- FuseEpilogue.cpp ------------------------------------------------*- C++ -*-===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_FUSEEPILOGUE
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;

namespace {
struct FuseEpiloguePass : resnet::impl::FuseEpilogueBase<FuseEpiloguePass> {
  void runOnOperation() override {}
};
} // namespace
