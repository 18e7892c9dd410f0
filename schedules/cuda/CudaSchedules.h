//===- CudaSchedules.h - How resnetc's kernels run on CUDA GPUs -*- C++ -*-===//
#ifndef RESNETC_SCHEDULES_CUDA_CUDASCHEDULES_H
#define RESNETC_SCHEDULES_CUDA_CUDASCHEDULES_H

#include "schedules/algorithms/Algorithms.h"

namespace resnetc {
namespace schedules {

/// The tunable choices of a GPU schedule: the thread block's shape.
struct GpuScheduleParams {
  int blockX = 16;
  int blockY = 8;
  int blockChannels = 1;
};

GpuScheduleParams defaultCudaSchedule(const KernelSpec &spec);

void scheduleCuda(algorithms::KernelFuncs &funcs, const KernelSpec &spec,
                  const GpuScheduleParams &params);

} // namespace schedules
} // namespace resnetc

#endif // RESNETC_SCHEDULES_CUDA_CUDASCHEDULES_H
