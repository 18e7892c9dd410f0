//===- PlanMemory.cpp - Static arena assignment -----------------*- C++ -*-===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_PLANMEMORY
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;

namespace {
struct PlanMemoryPass : resnet::impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;
  void runOnOperation() override {}
};
} // namespace
