//===- Pipelines.cpp - Named pipelines of resnetc ---------------*- C++ -*-===//
#include "Resnet/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

void resnet::buildInferencePipeline(OpPassManager &pm,
                                    const InferencePipelineOptions &options) {
  pm.addPass(createFoldBatchNorm());
  pm.addPass(createFuseEpilogue());
  pm.addPass(createHoistWeightPrep());
  if (options.planMemory)
    pm.addPass(createPlanMemory());
}

void resnet::registerPassesAndPipelines() {
  registerResnetPasses();
  PassPipelineRegistration<InferencePipelineOptions>(
      "resnet-inference-pipeline",
      "Fold batch norms, fuse epilogues, hoist weight preparation into "
      "@init and plan memory",
      buildInferencePipeline);
}
