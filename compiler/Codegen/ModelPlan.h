//===- ModelPlan.h - A compiled model before it is written ------*- C++ -*-===//
//
// What `resnetc compile` knows about a model after the inference pipeline:
// its unique kernels and the plan that calls them (the in-memory form of
// runtime/include/resnetc/runtime/Plan.h). Plain C++.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_CODEGEN_MODELPLAN_H
#define RESNETC_COMPILER_CODEGEN_MODELPLAN_H

#include "schedules/KernelSpec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace resnetc {

struct PlanBuffer {
  enum Storage {
    Arena = 0,
    Prepared = 1,
    Weight = 2,
    Input = 3,
    Labels = 4,
    Lr = 5
  } storage;
  int64_t offset = 0; ///< bytes (arena, prepared) or parameter number
  Shape shape;
};

struct PlanParam {
  std::string name;
  Shape shape;
  /// Not in the weights file: starts at zero, never saved.
  bool optimizerState = false;
};

struct PlanCall {
  /// Index into ModelPlan::kernels, or -1 for a copy (reshape).
  int kernel = -1;
  std::vector<int> args; ///< buffer numbers: inputs, then outputs
};

struct ModelPlan {
  std::string name;
  std::vector<KernelSpec> kernels; ///< unique: one per distinct key()
  std::vector<PlanParam> params;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanCall> initCalls, forwardCalls, trainCalls;
  int64_t preparedBytes = 0;
  int64_t arenaBytes = 0;
  int64_t scratchBytes = 0; ///< the most any kernel task asks Halide for
  int inputBuffer = -1;
  int outputBuffer = -1;
  /// Training (@train_step), when the model has one.
  int trainInputBuffer = -1, labelsBuffer = -1, lrBuffer = -1,
      lossBuffer = -1;
  /// The step updates running statistics (batch norms in training form).
  bool batchStats = false;

  bool hasTraining() const { return !trainCalls.empty(); }

  const Shape &inputShape() const { return buffers[inputBuffer].shape; }
  const Shape &outputShape() const { return buffers[outputBuffer].shape; }
  /// The C name of kernel `i`: "rn_k<hash of its signature>".
  std::string kernelName(int i) const;
};

/// The C header of the model's API (N_create, N_forward, ...).
std::string emitHeader(const ModelPlan &plan);
/// The C source holding the plan's tables and the API's definitions.
std::string emitPlanSource(const ModelPlan &plan);

} // namespace resnetc

#endif // RESNETC_COMPILER_CODEGEN_MODELPLAN_H
