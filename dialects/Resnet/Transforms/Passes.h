//===- Passes.h - The graph passes of resnetc -------------------*- C++ -*-===//
#ifndef RESNET_TRANSFORMS_PASSES_H
#define RESNET_TRANSFORMS_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace resnet {

#define GEN_PASS_DECL
#include "Resnet/Transforms/Passes.h.inc"

/// Options of the inference pipeline.
struct InferencePipelineOptions
    : public PassPipelineOptions<InferencePipelineOptions> {
  Option<bool> planMemory{*this, "plan-memory",
                          llvm::cl::desc("Run resnet-plan-memory last"),
                          llvm::cl::init(true)};
};

/// fold-batchnorm, fuse-epilogue, hoist-weight-prep, plan-memory: the
/// graph-level half of `resnetc compile`.
void buildInferencePipeline(OpPassManager &pm,
                            const InferencePipelineOptions &options);

/// Registers every pass (registerResnetPasses) and the
/// `resnet-inference-pipeline`.
void registerPassesAndPipelines();

#define GEN_PASS_REGISTRATION
#include "Resnet/Transforms/Passes.h.inc"

} // namespace resnet
} // namespace mlir

#endif // RESNET_TRANSFORMS_PASSES_H
