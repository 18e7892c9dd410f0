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
  if (args.size() == 1) {
    g.gpu_tile(args[0], block, thread, 128, TailStrategy::GuardWithIf);
    return;
  }
  Var fused = args[0];
  for (size_t i = 1; i < args.size(); ++i)
    g.fuse(fused, args[i], fused);
  g.gpu_tile(fused, block, thread, 128, TailStrategy::GuardWithIf);
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
  }
}

} // namespace schedules
} // namespace resnetc
