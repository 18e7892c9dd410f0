//===- CudaSchedules.cpp - How resnetc's kernels run on CUDA GPUs ---------===//
//
// One thread per output element (per `blockChannels` channels), the
// reduction in registers. A first, simple schedule: the plumbing from MLIR
// to PTX exists and is tested; tuning comes with running on a GPU.
//
//===----------------------------------------------------------------------===//
#include "schedules/cuda/CudaSchedules.h"

#include <algorithm>

using namespace Halide;

namespace resnetc {
namespace schedules {

GpuScheduleParams defaultCudaSchedule(const KernelSpec &spec) {
  GpuScheduleParams p;
  if (spec.outputs.empty() || spec.outputs[0].size() != 4)
    return p;
  const Shape &out = spec.outputs[0];
  p.blockX = static_cast<int>(std::min<int64_t>(out[3], 16));
  p.blockY = static_cast<int>(std::min<int64_t>(out[2], 8));
  return p;
}

namespace {
/// Flattens `f` and tiles it over threads: for kernels without structure.
void gpuFlat(Func f) {
  std::vector<Var> args = f.args();
  Var all("all"), block("block"), thread("thread");
  Func g = f;
  if (args.empty()) {
    g.gpu_single_thread();
    return;
  }
  if (args.size() == 1) {
    g.gpu_tile(args[0], block, thread, 128, TailStrategy::GuardWithIf);
    return;
  }
  Var fused = args[0];
  for (size_t i = 1; i < args.size(); ++i)
    g.fuse(fused, args[i], fused);
  g.gpu_tile(fused, block, thread, 128, TailStrategy::GuardWithIf);
}

/// gpuFlat for every stage of a Func with update definitions too (each
/// thread reduces its own elements).
void gpuFlatStages(Func f) {
  gpuFlat(f);
  std::vector<Var> args = f.args();
  Var block("block"), thread("thread");
  for (int u = 0; u < f.num_update_definitions(); ++u) {
    Stage s = f.update(u);
    if (args.empty()) {
      s.gpu_single_thread();
      continue;
    }
    Var fused = args[0];
    for (size_t i = 1; i < args.size(); ++i)
      s.fuse(fused, args[i], fused);
    s.gpu_tile(fused, block, thread, 128, TailStrategy::GuardWithIf);
  }
}

/// The training kernels: simple, correct first schedules (one thread per
/// result element, reductions serial in the thread).
void scheduleTrainingCuda(algorithms::KernelFuncs &k, const KernelSpec &spec,
                          const GpuScheduleParams &p) {
  Var xo("xo"), yo("yo"), co("co"), xi("xi"), yi("yi"), ci("ci");
  Var thread("thread");
  for (algorithms::ChannelSum sum : k.channelSums) {
    sum.total.compute_root();
    gpuFlatStages(sum.total);
  }
  switch (spec.kind) {
  case KernelKind::MaxPoolGrad: {
    // One thread per (c, n) plane scatters its windows (a first schedule).
    k.reduction.compute_root();
    gpuFlat(k.reduction);
    Var plane("plane"), block("block");
    k.reduction.update().fuse(k.c, k.n, plane).gpu_tile(
        plane, block, thread, 64, TailStrategy::GuardWithIf);
    k.auxiliary.compute_at(k.reduction, thread);
    gpuFlat(k.output);
    return;
  }
  case KernelKind::ConvGradInput:
  case KernelKind::AvgPoolGrad:
    k.output.gpu_tile(k.x, k.y, k.c, xo, yo, co, xi, yi, ci, p.blockX,
                      p.blockY, p.blockChannels, TailStrategy::GuardWithIf);
    k.reduction.compute_at(k.output, xi);
    return;
  case KernelKind::ConvGradWeight:
    gpuFlatStages(k.output);
    k.auxiliary.compute_at(k.output, thread);
    return;
  case KernelKind::LinearGradInput:
  case KernelKind::LinearGradWeight:
    k.output.gpu_tile(k.x, k.y, xo, yo, xi, yi, 32, 4,
                      TailStrategy::GuardWithIf);
    k.reduction.compute_at(k.output, xi);
    return;
  case KernelKind::BiasGrad:
    gpuFlat(k.output);
    if (k.channelSums.empty())
      k.reduction.compute_at(k.output, thread);
    return;
  case KernelKind::CrossEntropy:
    k.output.gpu_single_thread();
    return;
  case KernelKind::CrossEntropyGrad:
    k.auxiliary.compute_root();
    gpuFlatStages(k.auxiliary);
    k.reduction.compute_root();
    gpuFlatStages(k.reduction);
    gpuFlat(k.output);
    return;
  default:
    // Pointwise results (batch norm's, running statistics, SGD, ReLU,
    // pad and global pool gradients).
    for (Func f : k.outputs)
      gpuFlat(f);
    return;
  }
}
} // namespace

void scheduleCuda(algorithms::KernelFuncs &k, const KernelSpec &spec,
                  const GpuScheduleParams &p) {
  Var xo("xo"), yo("yo"), co("co"), xi("xi"), yi("yi"), ci("ci");
  switch (spec.kind) {
  case KernelKind::FusedConv:
  case KernelKind::MaxPool:
  case KernelKind::AvgPool:
    k.output.gpu_tile(k.x, k.y, k.c, xo, yo, co, xi, yi, ci, p.blockX,
                      p.blockY, p.blockChannels, TailStrategy::GuardWithIf);
    k.reduction.compute_at(k.output, xi);
    return;
  case KernelKind::GlobalAvgPool:
    k.output.gpu_tile(k.c, co, ci, 64, TailStrategy::GuardWithIf);
    k.reduction.compute_at(k.output, ci);
    return;
  case KernelKind::Linear:
    k.output.gpu_tile(k.x, xo, xi, 64, TailStrategy::GuardWithIf);
    k.reduction.compute_at(k.output, xi);
    return;
  case KernelKind::Softmax:
    k.auxiliary.compute_root();
    gpuFlat(k.auxiliary);
    k.reduction.compute_root();
    gpuFlat(k.reduction);
    gpuFlat(k.output);
    return;
  case KernelKind::FoldBatchNorm:
    for (Func f : k.outputs)
      gpuFlat(f);
    return;
  case KernelKind::Pad:
  case KernelKind::Add:
  case KernelKind::Relu:
  case KernelKind::BatchNorm:
    gpuFlat(k.output);
    return;
  default:
    return scheduleTrainingCuda(k, spec, p);
  }
}

} // namespace schedules
} // namespace resnetc
