//===- BuildPlan.h - From a compiled module to a ModelPlan ------*- C++ -*-===//
#ifndef RESNETC_COMPILER_CODEGEN_BUILDPLAN_H
#define RESNETC_COMPILER_CODEGEN_BUILDPLAN_H

#include "compiler/Codegen/ModelPlan.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

namespace resnetc {

/// Reads @init and @forward of a module after resnet-inference-pipeline
/// (fused kernels, prepared weights, a memory plan) into `plan`. An op with
/// no kernel gets a diagnostic at its location and the result is failure.
/// With `blockedLayouts` (CPU targets), activations that only convolutions
/// and pools read are kept channel-blocked (NCHW16c, KernelSpec.h), and
/// @init relays the weights of the convolutions producing them.
mlir::LogicalResult buildPlan(mlir::ModuleOp module, const std::string &name,
                              ModelPlan &plan, bool blockedLayouts = true);

} // namespace resnetc

#endif // RESNETC_COMPILER_CODEGEN_BUILDPLAN_H
