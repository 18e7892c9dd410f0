//===- FoldBatchNorm.cpp ------------------------------------------------*- C++ -*-===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;

namespace {
struct FoldBatchNormPass : resnet::impl::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {}
};
} // namespace
