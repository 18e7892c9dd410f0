//===- HoistWeightPrep.cpp ------------------------------------------------*- C++ -*-===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_HOISTWEIGHTPREP
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;

namespace {
struct HoistWeightPrepPass : resnet::impl::HoistWeightPrepBase<HoistWeightPrepPass> {
  void runOnOperation() override {}
};
} // namespace
