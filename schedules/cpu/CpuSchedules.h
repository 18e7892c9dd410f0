//===- CpuSchedules.h - How resnetc's kernels run on x86 CPUs ---*- C++ -*-===//
//
// A schedule is a function of explicit parameters (ScheduleParams) that a
// heuristic fills in from the kernel's shapes and the target, so that an
// autotuner can search them.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_SCHEDULES_CPU_CPUSCHEDULES_H
#define RESNETC_SCHEDULES_CPU_CPUSCHEDULES_H

#include "schedules/algorithms/Algorithms.h"

#include <string>

namespace resnetc {
namespace schedules {

/// Activation layout a kernel reads and writes. Only NCHW is implemented;
/// the field exists so schedules and the tuner name it explicitly.
enum class Layout { NCHW };

/// The tunable choices of one kernel's schedule.
struct ScheduleParams {
  Layout layout = Layout::NCHW;
  /// SIMD lanes along the innermost output dimension (x, or m for linear).
  int vectorWidth = 8;
  /// Output channels computed together in registers (unrolled).
  int tileChannels = 1;
  /// Output vectors along x per register tile (along the channels in the
  /// GEMM-shaped gradient schedules).
  int tileVectors = 1;
  /// Pixels along x per register tile of the GEMM-shaped input gradient.
  int tilePixels = 1;
  /// Rows per register tile of the GEMM-shaped input gradient.
  int tileRows = 1;
  /// Parallelize over (n, output row) fused; otherwise over n only.
  bool parallelRows = true;

  std::string describe() const;
};

/// The heuristic: what the schedule does when no tuner says otherwise.
ScheduleParams defaultCpuSchedule(const KernelSpec &spec,
                                  const Halide::Target &target);

/// Bytes one task of the kernel allocates from the heap: the zero-padded
/// input band of a padding convolution (or of dy, for its input gradient),
/// a max pool gradient's window maxima; 0 for other kernels.
int64_t taskScratchBytes(const KernelSpec &spec);

void scheduleCpu(algorithms::KernelFuncs &funcs, const KernelSpec &spec,
                 const ScheduleParams &params);

} // namespace schedules
} // namespace resnetc

#endif // RESNETC_SCHEDULES_CPU_CPUSCHEDULES_H
