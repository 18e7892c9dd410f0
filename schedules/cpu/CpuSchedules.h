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

/// Activation layout a kernel writes: NCHW, or channel-blocked NCHW16c
/// (KernelSpec.h), which the plan chooses for convolutions, max pooling and
/// global pooling wherever every reader of a value can take it.
enum class Layout { NCHW, NCHW16c };

/// The tunable choices of one kernel's schedule.
struct ScheduleParams {
  Layout layout = Layout::NCHW;
  /// SIMD lanes along the innermost output dimension (x, or m for linear).
  int vectorWidth = 8;
  /// Output channels computed together in registers (unrolled).
  int tileChannels = 1;
  /// Output vectors along x per register tile (along the channels in the
  /// GEMM-shaped gradient schedules; channel blocks of 16 in GEMM
  /// convolutions, KernelSpec::gemm).
  int tileVectors = 1;
  /// Pixels along x per register tile of the GEMM-shaped kernels (the
  /// input gradient, GEMM convolutions).
  int tilePixels = 1;
  /// Rows per register tile of the GEMM-shaped input gradient; output rows
  /// per task of a GEMM convolution.
  int tileRows = 1;
  /// Parallelize over (n, output row) fused; otherwise over n only.
  bool parallelRows = true;
  /// GEMM convolutions whose register-tile weights outgrow their share of
  /// L2: a task sweeps its register tiles once per block of input channels
  /// (partial sums in memory), so that each weight is loaded once per task
  /// rather than once per tile.
  bool inputBlocksOuter = false;
  /// GEMM convolutions: channel blocks per task (a multiple of
  /// tileVectors), pixels per task of a pointwise one's single row, and
  /// software prefetch of the broadcast inputs.
  int taskBlocks = 1;
  int taskPixels = 256;
  bool prefetchInput = false;
  /// GEMM convolutions and the GEMM-shaped input gradient: a task covers
  /// every image (else one).
  bool imagesPerTask = false;
  /// Images per register tile of the GEMM-shaped input gradient: on maps
  /// too small to give a tile its pixels (1x1, 2x2), pixels of several
  /// images share each weight load.
  int tileImages = 1;

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
