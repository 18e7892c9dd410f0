//===- CpuSchedules.cpp - How resnetc's kernels run on x86 CPUs -----------===//
#include "schedules/cpu/CpuSchedules.h"

#include <algorithm>
#include <sstream>

using namespace Halide;

namespace resnetc {
namespace schedules {

std::string ScheduleParams::describe() const {
  std::ostringstream os;
  os << "nchw vec" << vectorWidth << " co" << tileChannels << " xv"
     << tileVectors << (parallelRows ? " par-rows" : " par-n");
  return os.str();
}

namespace {

/// Lanes along x: the target's natural width, or the whole row if narrower.
int lanesFor(int64_t extent, int natural) {
  return static_cast<int>(std::min<int64_t>(extent, natural));
}

/// The largest of `choices` dividing `extent`.
int largestDivisor(int64_t extent, std::initializer_list<int> choices) {
  for (int c : choices)
    if (extent % c == 0)
      return c;
  return 1;
}

/// Output columns per task of a convolution flattened to one row.
constexpr int kFlatChunk = 256;

/// Columns and rows of the zero-padded input one output row reads.
std::pair<int64_t, int64_t> paddedBand(const KernelSpec &spec) {
  const Shape &out = spec.outputs[0], &w = spec.inputs[1];
  return {(out[3] - 1) * spec.stride[1] + (w[3] - 1) * spec.dilation[1] + 1,
          (w[2] - 1) * spec.dilation[0] + 1};
}

bool padsInput(const KernelSpec &spec) {
  for (int64_t v : spec.padding)
    if (v != 0)
      return true;
  return false;
}

void scheduleConv(algorithms::KernelFuncs &k, const KernelSpec &spec,
                  const ScheduleParams &p) {
  const Shape &out = spec.outputs[0];
  int64_t width = out[3];
  int lanes = lanesFor(width, p.vectorWidth);
  int tileX = lanes * p.tileVectors;
  Func output = k.output, conv = k.reduction;
  Var xo("xo"), xi("xi"), co("co"), ci("ci"), t("t");
  TailStrategy tail =
      width % tileX == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards;
  // A register tile of tileChannels x tileX outputs accumulates over the
  // whole reduction; the tiles of one output row share the padded input.
  output.split(k.x, xo, xi, tileX, tail)
      .split(k.c, co, ci, p.tileChannels)
      .reorder(xi, ci, xo, co, k.y, k.n)
      .vectorize(xi, lanes)
      .unroll(ci);
  Var tileLoop = xo; // where a register tile is computed
  // A pointwise convolution BuildPlan flattened to one row (no padding:
  // the padded band below is per output row, over all input channels).
  bool flatPointwise = out[2] == 1 && spec.inputs[1][2] == 1 &&
                       spec.inputs[1][3] == 1 && !padsInput(spec);
  if (flatPointwise && width > kFlatChunk) {
    // A pointwise convolution seen as one long row (see BuildPlan): chunks
    // of the row, each visited by every channel tile while it is in cache.
    Var xoo("xoo"), xoi("xoi");
    output.split(xo, xoo, xoi, kFlatChunk / tileX, TailStrategy::GuardWithIf)
        .reorder(xi, ci, xoi, co, xoo, k.y, k.n)
        .fuse(xoo, k.y, t)
        .fuse(t, k.n, t)
        .parallel(t);
    tileLoop = xoi;
  } else if (flatPointwise) {
    output.fuse(co, k.y, t).fuse(t, k.n, t).parallel(t);
  } else if (p.parallelRows) {
    output.fuse(k.y, k.n, t).parallel(t);
  } else {
    output.parallel(k.n);
  }
  conv.compute_at(output, tileLoop).vectorize(k.x, lanes).unroll(k.c);
  conv.update()
      .reorder(k.x, k.c, k.rdom.x, k.rdom.y, k.rdom.z, k.y, k.n)
      .vectorize(k.x, lanes)
      .unroll(k.c);
  // Padding by a select in the inner loop costs 2-4x on 3x3 convolutions:
  // copy the rows one output row reads, zero-padded, once per row instead.
  bool pads = padsInput(spec);
  // The band has a constant size (its extents are stated), so Halide keeps
  // it on the stack up to 16 KB; larger ones come from halide_malloc,
  // which the runtime serves from memory preallocated at create time
  // (see paddedBandBytes).
  if (pads) {
    std::vector<Var> v = k.padded.args();
    auto [bandWidth, bandRows] = paddedBand(spec);
    k.padded.compute_at(output, p.parallelRows ? t : k.y)
        .bound_extent(v[0], int(bandWidth))
        .bound_extent(v[1], int(bandRows))
        .bound_extent(v[2], int(spec.inputs[0][1]));
  }
}

void schedulePool(algorithms::KernelFuncs &k, const KernelSpec &spec,
                  const ScheduleParams &p) {
  int lanes = lanesFor(spec.outputs[0][3], p.vectorWidth);
  Var t("t");
  k.output.fuse(k.c, k.n, t).parallel(t).vectorize(k.x, lanes,
                                                     TailStrategy::GuardWithIf);
  k.reduction.compute_at(k.output, k.x);
}

void scheduleLinear(algorithms::KernelFuncs &k, const KernelSpec &spec,
                    const ScheduleParams &p) {
  // Vectorize the reduction: a vector of partial sums along k, reduced at
  // the end (rfactor), so the weight rows are read contiguously.
  Var u("u"), mo("mo"), mi("mi");
  RVar ro("ro"), ri("ri");
  Func partial = k.reduction.update()
                     .split(k.rdom.x, ro, ri, p.vectorWidth)
                     .rfactor(ri, u);
  k.output.split(k.x, mo, mi, 8, TailStrategy::GuardWithIf).parallel(mo);
  k.reduction.compute_at(k.output, mi);
  partial.compute_at(k.output, mi).vectorize(u);
  partial.update().reorder(u, ro).vectorize(u);
}

/// Parallel over the outermost dimension, vectorized along the innermost.
void scheduleElementwise(Func f, int rank, int64_t innerExtent,
                         const ScheduleParams &p) {
  std::vector<Var> args = f.args();
  if (rank >= 2)
    f.parallel(args[rank - 1]);
  if (rank >= 1 && innerExtent >= p.vectorWidth)
    f.vectorize(args[0], p.vectorWidth, TailStrategy::GuardWithIf);
}

} // namespace

int64_t paddedBandBytes(const KernelSpec &spec) {
  if (spec.kind != KernelKind::FusedConv || !padsInput(spec))
    return 0;
  auto [width, rows] = paddedBand(spec);
  // Halide pads an allocation a little for vector loads that run past its
  // end (12 bytes measured); 1 KB covers that with room.
  return width * rows * spec.inputs[0][1] * int64_t(sizeof(float)) + 1024;
}

ScheduleParams defaultCpuSchedule(const KernelSpec &spec,
                                  const Target &target) {
  ScheduleParams p;
  p.vectorWidth = target.natural_vector_size<float>();
  if (spec.kind == KernelKind::FusedConv) {
    int64_t outChannels = spec.outputs[0][1];
    // Enough accumulators to hide the FMA latency, few enough to stay in
    // registers: 32 zmm (AVX-512) or 16 ymm (AVX2).
    // Measured on ResNet-50's layers (1 core, AVX-512): 16 channels x one
    // vector is best or near it everywhere; 8 x 2 vectors on AVX2 keeps
    // the accumulators in its 16 registers.
    bool avx512 = target.has_feature(Target::AVX512);
    p.tileChannels = largestDivisor(
        outChannels, avx512 ? std::initializer_list<int>{16, 8, 4, 2}
                            : std::initializer_list<int>{8, 4, 2});
    p.tileVectors = 1;
  }
  return p;
}

void scheduleCpu(algorithms::KernelFuncs &k, const KernelSpec &spec,
                 const ScheduleParams &p) {
  switch (spec.kind) {
  case KernelKind::FusedConv:
    return scheduleConv(k, spec, p);
  case KernelKind::MaxPool:
  case KernelKind::AvgPool:
    return schedulePool(k, spec, p);
  case KernelKind::Linear:
    return scheduleLinear(k, spec, p);
  case KernelKind::GlobalAvgPool:
    k.output.parallel(k.c);
    k.reduction.compute_at(k.output, k.c);
    return;
  case KernelKind::FoldBatchNorm:
    k.output.vectorize(k.x, p.vectorWidth, TailStrategy::GuardWithIf);
    return;
  case KernelKind::Softmax:
    k.auxiliary.compute_root();
    k.reduction.compute_root();
    [[fallthrough]];
  case KernelKind::Pad:
  case KernelKind::Add:
  case KernelKind::Relu:
  case KernelKind::BatchNorm: {
    const Shape &shape = spec.outputs[0];
    scheduleElementwise(k.output, int(shape.size()),
                        shape.empty() ? 1 : shape.back(), p);
    return;
  }
  }
}

} // namespace schedules
} // namespace resnetc
