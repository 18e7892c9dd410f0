//===- CpuSchedules.cpp - How resnetc's kernels run on x86 CPUs -----------===//
#include "schedules/cpu/CpuSchedules.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

using namespace Halide;

namespace resnetc {
namespace schedules {

std::string ScheduleParams::describe() const {
  std::ostringstream os;
  os << (layout == Layout::NCHW16c ? "nchw16c" : "nchw") << " vec"
     << vectorWidth << " co" << tileChannels << " xv" << tileVectors << " px"
     << tilePixels << " rows" << tileRows << " img" << tileImages
     << (parallelRows ? " par-rows" : " par-n")
     << (inputBlocksOuter ? " icb-outer" : "") << " task" << taskBlocks << "x"
     << taskPixels << (imagesPerTask ? " all-images" : "")
     << (prefetchInput ? " prefetch" : "");
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

/// The bytes a task may keep in cache: a quarter of the 1 MB L2 that the
/// machine's two threads share (see chooseConvTasks).
constexpr int64_t kCacheShare = 256 * 1024;

/// Output columns per task of a convolution flattened to one row.
constexpr int kFlatChunk = 256;

/// Columns and rows of the zero-padded input one output row reads.
std::pair<int64_t, int64_t> paddedBand(const KernelSpec &spec) {
  const Shape &out = spec.outputs[0], &w = spec.inputs[1];
  return {(out[3] - 1) * spec.stride[1] + (w[3] - 1) * spec.dilation[1] + 1,
          (w[2] - 1) * spec.dilation[0] + 1};
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
                       spec.inputs[1][3] == 1 && !readsPadding(spec);
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
  bool pads = readsPadding(spec);
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

/// A GEMM convolution's weights as it reads them, relaid or not yet.
Shape gemmWeights(const KernelSpec &spec) {
  return spec.inputs[1].size() == 6
             ? spec.inputs[1]
             : blockedWeightShape(spec.inputs[1], isBlocked(spec.inputs[0]));
}

/// A GEMM convolution's blocks of 16 output channels.
int64_t gemmBlocks(const KernelSpec &spec) {
  const Shape &out = spec.outputs[0];
  return isBlocked(out) ? out[1] : out[1] / kChannelBlock;
}

/// Bytes of one image of a blocked convolution's input as its windows
/// read it: zero-padded, channels innermost.
int64_t blockedInputImageBytes(const KernelSpec &spec) {
  const Shape &out = spec.outputs[0];
  Shape w = gemmWeights(spec);
  int64_t rows = (out[2] - 1) * spec.stride[0] +
                 (w[2] - 1) * spec.dilation[0] + 1;
  int64_t cols = (out[3] - 1) * spec.stride[1] +
                 (w[3] - 1) * spec.dilation[1] + 1;
  // A channel-planar copy (few channels: the stem) rounds its rows up to
  // whole vectors.
  if (w[4] % kChannelBlock != 0)
    cols = (cols + kChannelBlock - 1) / kChannelBlock * kChannelBlock;
  return w[1] * w[4] * rows * cols * int64_t(sizeof(float));
}

/// A register tile of `stage`: `lane` split into vectors of `lanes`
/// (innermost, the rest of it unrolled around them), then the loops of
/// `order` inside out (none: the stage's order), with `unrolled` unrolled.
void registerTile(Stage stage, Var lane, int lanes,
                  std::vector<VarOrRVar> order,
                  const std::vector<VarOrRVar> &unrolled) {
  Var vo("vo"), vi("vi");
  stage.split(lane, vo, vi, lanes);
  if (!order.empty()) {
    order.insert(order.begin(), {vi, vo});
    stage.reorder(order);
  }
  stage.vectorize(vi).unroll(vo);
  for (const VarOrRVar &v : unrolled)
    stage.unroll(v);
}

/// A GEMM convolution (KernelSpec::gemm): register tiles of tileVectors
/// blocks of 16 output channels by tilePixels pixels of a row accumulate
/// over every (input channel, tap); per step one vector load of weights per
/// block feeds tilePixels FMAs with broadcast inputs. A padding convolution
/// first copies its images zero-padded, channels innermost; tasks are
/// chosen by chooseConvTasks. The result is stored blocked, or transposed
/// to NCHW.
void scheduleConvBlocked(algorithms::KernelFuncs &k, const KernelSpec &spec,
                         const ScheduleParams &p) {
  const Shape &out = spec.outputs[0];
  int64_t width = out[3], height = out[2], blocks = gemmBlocks(spec);
  int lanes = p.vectorWidth, tileB = p.tileVectors, tileX = p.tilePixels;
  int groupB = p.taskBlocks;
  bool blockedOut = isBlocked(out);
  auto tail = [](int64_t extent, int factor) {
    return extent % factor == 0 ? TailStrategy::RoundUp
                                : TailStrategy::ShiftInwards;
  };
  Func output = k.output, conv = k.reduction;
  Var xo("xo"), xi("xi"), cg("cg"), cr("cr"), co("co"), ci("ci"), lo("lo"),
      li("li"), t("t");
  // Register tiles of tiles (xo, co) of tasks. An NCHW result is stored
  // from the blocked tile a row of pixels at a time, channel by channel.
  int channelUnit = blockedOut ? 1 : int(kChannelBlock);
  output.split(k.x, xo, xi, tileX, tail(width, tileX))
      .split(k.c, cg, cr, groupB * channelUnit,
             tail(blocks, groupB))
      .split(cr, co, ci, tileB * channelUnit, tail(groupB, tileB));
  std::vector<VarOrRVar> tile;
  if (blockedOut) {
    output.split(k.lane, lo, li, lanes).vectorize(li).unroll(lo).unroll(xi)
        .unroll(ci);
    tile = {li, lo, xi, ci};
  } else {
    if (tileX > 1)
      output.vectorize(xi);
    tile = {xi, ci};
  }
  auto order = [&](std::initializer_list<VarOrRVar> rest) {
    std::vector<VarOrRVar> all = tile;
    all.insert(all.end(), rest);
    output.reorder(all);
  };
  // Within a task, each register-tile group of channel blocks sweeps the
  // task's pixels (its weights stay in cache), then the next group.
  Var tileLoop = xo;
  bool pads = readsPadding(spec);
  // Tasks of (pixels, channel-block group), every image inside a task (its
  // weights then load once for all of them) or one image per task.
  if (height == 1 && !pads) {
    // One long row (a pointwise convolution, see BuildPlan): chunks of it.
    Var xoo("xoo"), xoi("xoi");
    output.split(xo, xoo, xoi, std::max(1, p.taskPixels / tileX),
                 TailStrategy::GuardWithIf);
    if (p.imagesPerTask) {
      order({xoi, k.n, co, xoo, cg, k.y});
      output.fuse(xoo, cg, t).fuse(t, k.y, t);
    } else {
      order({xoi, co, xoo, cg, k.y, k.n});
      output.fuse(xoo, cg, t).fuse(t, k.y, t).fuse(t, k.n, t);
    }
    tileLoop = xoi;
  } else {
    Var yo("yo"), yi("yi");
    output.split(k.y, yo, yi, p.tileRows, TailStrategy::GuardWithIf);
    if (p.imagesPerTask) {
      order({xo, yi, k.n, co, yo, cg});
      output.fuse(yo, cg, t);
    } else {
      order({xo, yi, co, yo, cg, k.n});
      output.fuse(yo, cg, t).fuse(t, k.n, t);
    }
  }
  output.parallel(t);
  if (p.inputBlocksOuter && width % tileX == 0 && groupB % tileB == 0) {
    // The task's partial sums in memory, swept once per input block; each
    // block's contribution to a register tile accumulates in registers
    // first (rfactor: `block`), then adds to the partial sums once.
    Var cxo("cxo"), cxi("cxi"), cco("cco"), cci("cci"), b("b");
    Func block = conv.update().rfactor(k.rdom.w, b);
    registerTile(conv.compute_at(output, t), k.lane, lanes, {}, {});
    Stage sums = conv.update();
    sums.split(k.x, cxo, cxi, tileX, TailStrategy::RoundUp)
        .split(k.c, cco, cci, tileB, TailStrategy::RoundUp);
    registerTile(sums, k.lane, lanes,
                 {cxi, cci, cxo, k.y, cco, k.n, k.rdom.w}, {cxi, cci});
    std::vector<Var> v = block.args(); // lane, x, y, c, n, b
    registerTile(block.compute_at(conv, cxo), v[0], lanes, {}, {v[1], v[3]});
    registerTile(block.update(), v[0], lanes,
                 {v[1], v[3], k.rdom.x, k.rdom.y, k.rdom.z, v[2], v[4], v[5]},
                 {v[1], v[3]});
  } else if (p.inputBlocksOuter) {
    // The task's partial sums in memory, swept once per input block.
    Var cxo("cxo"), cxi("cxi"), cco("cco"), cci("cci");
    registerTile(conv.compute_at(output, t), k.lane, lanes, {}, {});
    Stage sums = conv.update();
    sums.split(k.x, cxo, cxi, tileX,
               width % tileX == 0 ? TailStrategy::RoundUp
                                  : TailStrategy::GuardWithIf)
        .split(k.c, cco, cci, tileB,
               groupB % tileB == 0 ? TailStrategy::RoundUp
                                   : TailStrategy::GuardWithIf);
    registerTile(sums, k.lane, lanes,
                 {cxi, cci, k.rdom.x, k.rdom.y, k.rdom.z, cxo, k.y, cco, k.n,
                  k.rdom.w},
                 {cxi, cci});
  } else {
    registerTile(conv.compute_at(output, tileLoop), k.lane, lanes, {},
                 {k.x, k.c});
    registerTile(conv.update(), k.lane, lanes,
                 {k.x, k.c, k.rdom.x, k.rdom.y, k.rdom.z, k.rdom.w, k.y, k.n},
                 {k.x, k.c});
  }
  if (k.staged.defined()) {
    // Weights that change between calls (training), relaid once per call.
    std::vector<Var> v = k.staged.args(); // lane, i, kx, ky, block, o
    k.staged.compute_root().vectorize(v[0], lanes).parallel(v[5]);
  }
  if (p.prefetchInput && !pads && gemmWeights(spec)[1] > 2)
    // The broadcast inputs of the input block after next: 7-odd cache
    // lines 12 KB and more apart, which no hardware prefetcher predicts.
    conv.update().prefetch(k.inputs[0], k.rdom.w, k.rdom.w, 2,
                           PrefetchBoundStrategy::NonFaulting);
  if (pads) {
    // Once, before the tasks (the runtime serves it from the scratch
    // memory taskScratchBytes asks for).
    std::vector<Var> v = k.padded.args(); // lane, x, y, block, n
    int perBlock = int(gemmWeights(spec)[4]);
    Var rows("rows");
    if (perBlock % lanes == 0) {
      k.padded.compute_root()
          .reorder(v[0], v[1], v[3], v[2], v[4])
          .fuse(v[2], v[4], rows)
          .vectorize(v[0], lanes);
    } else {
      // An NCHW input with few channels (the 3-channel stem): stored
      // channel-planar, so that the copy runs vectorized along its rows.
      k.padded.compute_root()
          .reorder_storage(v[1], v[0], v[2], v[3], v[4])
          .reorder(v[1], v[0], v[3], v[2], v[4])
          .fuse(v[2], v[4], rows)
          .vectorize(v[1], lanes, TailStrategy::RoundUp);
    }
    k.padded.parallel(rows);
  }
}

void schedulePoolBlocked(algorithms::KernelFuncs &k, const KernelSpec &spec,
                         const ScheduleParams &p) {
  Var t("t"), lo("lo"), li("li");
  k.output.split(k.lane, lo, li, p.vectorWidth)
      .vectorize(li)
      .unroll(lo)
      .fuse(k.c, k.n, t)
      .parallel(t);
  k.reduction.compute_at(k.output, k.x).vectorize(k.lane, p.vectorWidth);
  k.reduction.update().vectorize(k.lane, p.vectorWidth);
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
  // Tasks of 8 outputs for every row of the batch: their weight rows stay
  // in cache while the rows go by.
  k.output.split(k.x, mo, mi, 8, TailStrategy::GuardWithIf)
      .reorder(mi, k.y, mo)
      .parallel(mo);
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

//===----------------------------------------------------------------------===//
// Training kernels
//===----------------------------------------------------------------------===//

/// Whether dx of a convolution is a plain pointwise product of dy (1x1,
/// stride 1, no padding): then dy needs no zero-padded band.
bool gradInputIsPointwise(const KernelSpec &spec) {
  const Shape &w = spec.inputs[1];
  return w[2] == 1 && w[3] == 1 && spec.stride[0] == 1 && spec.stride[1] == 1 &&
         !readsPadding(spec);
}

/// Columns and rows of the spread dy one row of dx reads.
std::pair<int64_t, int64_t> gradInputBand(const KernelSpec &spec) {
  const Shape &dx = spec.outputs[0], &w = spec.inputs[1];
  return {dx[3] + (w[3] - 1) * spec.dilation[1],
          (w[2] - 1) * spec.dilation[0] + 1};
}

/// Vectorized along x, accumulated across rows and images per channel,
/// parallel over channels.
void scheduleChannelSum(algorithms::ChannelSum sum, int64_t width,
                        const ScheduleParams &p) {
  Var c = sum.total.args()[0], x = sum.partial.args()[0];
  if (sum.partial.dimensions() == 3) {
    // Blocked: each (block, image) a task summing its pixels a vector of
    // lanes at a time; then the images' sums, per channel.
    std::vector<Var> v = sum.partial.args(); // lane, block, n
    Var t("t");
    sum.partial.compute_root()
        .fuse(v[1], v[2], t)
        .parallel(t)
        .vectorize(v[0], p.vectorWidth);
    Stage update = sum.partial.update();
    std::vector<RVar> r = sum.partial.rvars(0);
    update.reorder({v[0], r[0], r[1], v[1], v[2]})
        .fuse(v[1], v[2], t)
        .parallel(t)
        .vectorize(v[0], p.vectorWidth);
    sum.total.compute_root().vectorize(c, p.vectorWidth);
    sum.total.update().vectorize(c, p.vectorWidth);
    return;
  }
  int lanes = lanesFor(width, p.vectorWidth);
  sum.total.compute_root().parallel(c);
  sum.total.update().parallel(c);
  sum.partial.compute_at(sum.total, c)
      .vectorize(x, lanes, TailStrategy::GuardWithIf);
  sum.partial.update().vectorize(x, lanes, TailStrategy::GuardWithIf);
}

/// Parallel over (c, n), vectorized along x: an NCHW pointwise result.
/// Elements a parallel task of a pointwise kernel should cover at least:
/// thousands of tiny tasks (7x7 planes, rows) cost more in the thread
/// pool than they compute.
constexpr int64_t kTaskElements = 16384;

void scheduleActivation(Func f, const Shape &shape, const ScheduleParams &p,
                        Var &fused) {
  std::vector<Var> v = f.args();
  if (isBlocked(shape)) {
    // (lane, x, y, block, n): vectors of lanes, tasks of whole planes.
    int64_t plane = shape[2] * shape[3] * shape[4];
    int planesPerTask = int(std::max<int64_t>(1, kTaskElements / plane));
    f.fuse(v[3], v[4], fused)
        .parallel(fused, planesPerTask, TailStrategy::GuardWithIf)
        .vectorize(v[0], p.vectorWidth);
    return;
  }
  int64_t plane = shape[2] * shape[3];
  int planesPerTask = int(std::max<int64_t>(1, kTaskElements / plane));
  f.fuse(v[2], v[3], fused)
      .parallel(fused, planesPerTask, TailStrategy::GuardWithIf)
      .vectorize(v[0], lanesFor(shape[3], p.vectorWidth),
                 TailStrategy::GuardWithIf);
}

/// Pointwise kernels on dense buffers of any rank: short inner dimensions
/// (3x3 weights) are fused until a row holds a few vectors, so SGD on
/// convolution weights runs vectorized.
void scheduleDense(Func f, const Shape &shape, const ScheduleParams &p) {
  int rank = int(shape.size());
  if (rank == 0)
    return;
  std::vector<Var> v = f.args();
  Var inner = v[0];
  int64_t extent = shape[rank - 1];
  int d = 1;
  for (; d < rank && extent < 4 * p.vectorWidth; ++d) {
    f.fuse(inner, v[d], inner);
    extent *= shape[rank - 1 - d];
  }
  // Parallel over what is left outside, or over chunks of the row.
  if (d < rank) {
    Var outer = v[rank - 1];
    for (int e = rank - 2; e >= d; --e)
      f.fuse(v[e], outer, outer);
    int rowsPerTask = int(std::max<int64_t>(1, kTaskElements / extent));
    f.parallel(outer, rowsPerTask, TailStrategy::GuardWithIf);
  } else if (extent >= 4096) {
    Var chunk("chunk"), lane("lane");
    f.split(inner, chunk, inner, 1024, TailStrategy::GuardWithIf)
        .parallel(chunk);
  }
  if (extent >= p.vectorWidth)
    f.vectorize(inner, p.vectorWidth, TailStrategy::GuardWithIf);
}

/// The GEMM form: a register tile of tileVectors x vectorWidth input
/// channels by tilePixels x tileRows pixels of one output phase (of
/// tileImages images) accumulates over every (o, ky, kx): per step,
/// tileVectors loads of staged weights feed FMAs with broadcast dy values.
/// Per image: its zero-padded dy, then tasks of (row tile, channel tile);
/// or, with imagesPerTask, every image's padded dy first, then tasks of
/// (row tile, channel tile) over every image.
void scheduleConvGradInputGemm(algorithms::KernelFuncs &k,
                               const KernelSpec &spec,
                               const ScheduleParams &p) {
  const Shape &dx = spec.outputs[0];
  int lanes = p.vectorWidth, tileC = lanes * p.tileVectors;
  int pixels = p.tilePixels, rows = p.tileRows;
  int sy = int(spec.stride[0]), sx = int(spec.stride[1]);
  Var co("co"), ci("ci"), xo("xo"), xi("xi"), yo("yo"), yi("yi"), t("t");
  Var qx("qx"), qy("qy"), px("px"), py("py");
  auto tail = [](int64_t extent, int factor) {
    return extent % factor == 0 ? TailStrategy::RoundUp
                                : TailStrategy::ShiftInwards;
  };
  // x = s * qx + px: a tile holds every phase of its pixels (computed one
  // phase after the other), so that bounds inference needs no proof that
  // a phase loop outside it selects one.
  Func out = k.output;
  Var colX = k.x, colY = k.y;
  std::vector<VarOrRVar> order;
  if (sx > 1) {
    out.split(k.x, qx, px, sx, dx[3] % sx == 0 ? TailStrategy::RoundUp
                                               : TailStrategy::GuardWithIf);
    colX = qx;
    order.push_back(px);
  }
  order.push_back(xi);
  if (sy > 1) {
    out.split(k.y, qy, py, sy, dx[2] % sy == 0 ? TailStrategy::RoundUp
                                               : TailStrategy::GuardWithIf);
    colY = qy;
    order.push_back(py);
  }
  int64_t width = (dx[3] + sx - 1) / sx, height = (dx[2] + sy - 1) / sy;
  int images = p.tileImages;
  Var no("no"), ni("ni");
  if (isBlocked(dx)) {
    // (lane, x, y, block, n): the tile's channels stored a vector at a time.
    Var lo("lo"), li("li");
    out.split(k.lane, lo, li, lanes).vectorize(li).unroll(lo);
    order.insert(order.begin(), {li, lo});
    out.split(k.c, co, ci, std::max<int>(1, tileC / int(kChannelBlock)));
  } else {
    out.split(k.c, co, ci, tileC);
  }
  out.split(colX, xo, xi, pixels, tail(width, pixels))
      .split(colY, yo, yi, rows, tail(height, rows))
      .split(k.n, no, ni, images, tail(dx[0], images));
  order.insert(order.end(), {yi, ni, ci, xo});
  if (p.imagesPerTask)
    order.insert(order.end(), {no, yo, co});
  else
    order.insert(order.end(), {yo, co, no});
  out.reorder(order).unroll(xi).unroll(yi).unroll(ni).fuse(yo, co, t);
  out.parallel(t);
  std::vector<Var> v = k.reduction.args(); // c, qx, qy, px, py, n
  Var vo("vo"), vi("vi");
  k.reduction.compute_at(out, xo)
      .split(v[0], vo, vi, lanes)
      .vectorize(vi)
      .unroll(vo)
      .unroll(v[1])
      .unroll(v[2])
      .unroll(v[5]);
  k.reduction.update()
      .split(v[0], vo, vi, lanes)
      .reorder(vi, vo, v[1], v[2], v[5], k.rdom.x, k.rdom.y, k.rdom.z, v[3],
               v[4])
      .vectorize(vi)
      .unroll(vo)
      .unroll(v[1])
      .unroll(v[2])
      .unroll(v[5]);
  // The weights relaid once per call: tasks of output channels, each
  // relaying every tap of its channels while their rows are in cache.
  std::vector<Var> w = k.staged.args(); // c, o, kx, ky, block
  k.staged.compute_root()
      .vectorize(w[0], lanes)
      .reorder(w[0], w[2], w[3], w[4], w[1])
      .parallel(w[1], 16, TailStrategy::GuardWithIf);
  // x, y, o, n; or, from a blocked dy, o, x, y, n
  std::vector<Var> d = k.padded.args();
  int dyLanes = isBlocked(spec.inputs[0])
                    ? p.vectorWidth
                    : lanesFor(spec.inputs[0][3], p.vectorWidth);
  if (p.imagesPerTask)
    k.padded.compute_root().parallel(d.back());
  else // (rows of a blocked dy, channels of an NCHW one)
    k.padded.compute_at(out, no).parallel(d[2]);
  k.padded.vectorize(d[0], dyLanes, TailStrategy::GuardWithIf);
}

/// Whether the GEMM-shaped input gradient's register tiles may span
/// images: where one output phase has too few pixels (1x1, 2x2) to share a
/// weight load among enough of them.
bool gradInputTilesImages(const KernelSpec &spec) {
  const Shape &dx = spec.outputs[0];
  int64_t width = (dx[3] + spec.stride[1] - 1) / spec.stride[1];
  int64_t height = (dx[2] + spec.stride[0] - 1) / spec.stride[0];
  return width * height <= 4 && dx[0] > 1;
}

/// Whether each task of the GEMM-shaped input gradient covers every image
/// (ScheduleParams::imagesPerTask): where the weights outgrow the cache
/// share, so that a task's weights load once rather than once per image
/// (ResNet-18's layer4 at 224x224: 9.4 MB of them, 8 images of 7x7), or
/// where tiles span images. Every image's padded dy is then copied before
/// the tasks.
bool gradInputImagesPerTask(const KernelSpec &spec) {
  return gradInputTilesImages(spec) ||
         numElements(spec.inputs[1]) * int64_t(sizeof(float)) > kCacheShare;
}

/// Columns and rows of the zero-padded dy one image of dx reads (the GEMM
/// form), with room for shifted-inwards tiles.
std::pair<int64_t, int64_t> gradInputImage(const KernelSpec &spec) {
  const Shape &dy = spec.inputs[0], &w = spec.inputs[1];
  auto extent = [&](int d) {
    int64_t taps = (w[2 + d] + spec.stride[d] - 1) / spec.stride[d];
    return dy[2 + d] + spec.padding[d] + spec.padding[d + 2] +
           2 * (taps - 1) * spec.dilation[d] + 2;
  };
  return {extent(1), extent(0)};
}

void scheduleConvGradInput(algorithms::KernelFuncs &k, const KernelSpec &spec,
                           const ScheduleParams &p) {
  if (gradInputAsGemm(spec))
    return scheduleConvGradInputGemm(k, spec, p);
  const Shape &dx = spec.outputs[0];
  int64_t width = dx[3];
  int lanes = lanesFor(width, p.vectorWidth);
  int tileX = lanes * p.tileVectors;
  Var xo("xo"), xi("xi"), co("co"), ci("ci"), t("t");
  TailStrategy tail =
      width % tileX == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards;
  // As the forward convolution: a register tile of input channels x one
  // row segment, accumulated over taps and output channels.
  k.output.split(k.x, xo, xi, tileX, tail)
      .split(k.c, co, ci, p.tileChannels)
      .reorder(xi, ci, xo, co, k.y, k.n)
      .vectorize(xi, lanes)
      .unroll(ci)
      .fuse(k.y, k.n, t)
      .parallel(t);
  k.reduction.compute_at(k.output, xo).vectorize(k.x, lanes).unroll(k.c);
  k.reduction.update()
      .reorder(k.x, k.c, k.rdom.x, k.rdom.y, k.rdom.z, k.y, k.n)
      .vectorize(k.x, lanes)
      .unroll(k.c);
  if (!gradInputIsPointwise(spec)) {
    // The spread, zero-padded dy rows one dx row reads, once per row.
    std::vector<Var> v = k.padded.args();
    auto [bandWidth, bandRows] = gradInputBand(spec);
    k.padded.compute_at(k.output, t)
        .bound_extent(v[0], int(bandWidth))
        .bound_extent(v[1], int(bandRows))
        .bound_extent(v[2], int(spec.inputs[0][1]))
        .vectorize(v[0], lanes, TailStrategy::GuardWithIf);
  }
}

void scheduleConvGradWeight(algorithms::KernelFuncs &k, const KernelSpec &spec,
                            const ScheduleParams &p) {
  // A register tile of tileVectors x vectorWidth output channels by
  // tileChannels input channels x every kx tap accumulates over one block
  // of pixels: per pixel, tileVectors loads of staged dy feed
  // tileVectors x tileChannels x KW FMAs with broadcast inputs.
  const Shape &w = spec.outputs[0];
  int lanes = p.vectorWidth, tileO = lanes * p.tileVectors;
  bool blocked = k.blocks.defined();
  Func dw = k.output, partial = k.auxiliary;
  Var kx = k.x, ky = k.y, ci = k.c, o = k.n;
  Var oo("oo"), oi("oi"), cio("cio"), cii("cii"), t("t");
  Stage tiles = blocked ? dw.update() : Stage(dw);
  tiles.split(o, oo, oi, tileO).split(ci, cio, cii, p.tileChannels).unroll(kx);
  // Where some rows of taps only meet padding (below), each weight's taps
  // are stored together: a run of KH x KW floats, mostly zeros.
  bool deadRows = liveTaps(spec, 0).count < w[2];
  std::vector<VarOrRVar> order = {kx, cii, oi, ky, cio, oo};
  if (deadRows) {
    order = {kx, ky, cii, oi, cio, oo};
    tiles.unroll(ky);
  }
  if (blocked)
    order.push_back(k.blocks.x);
  tiles.reorder(order);
  // Tasks of 8 tiles of channels, each computed a row of taps at a time;
  // or, where some rows only meet padding (liveTaps), every live row at
  // once. Thousands of tiny tasks cost more than they balance; but where
  // the tiles are few (the 3-channel stem has 3), each row of taps of each
  // is a task's unit, or one thread would do most of the work.
  int64_t channelTiles = (w[1] + p.tileChannels - 1) / p.tileChannels *
                         ((w[0] + tileO - 1) / tileO);
  bool rowTasks = !deadRows && channelTiles < 16;
  int perTask =
      rowTasks ? int(std::clamp<int64_t>(channelTiles * w[2] / 8, 1, 8)) : 8;
  Var ti("ti");
  if (rowTasks)
    tiles.fuse(ky, cio, t).fuse(t, oo, t);
  else
    tiles.fuse(cio, oo, t);
  tiles.split(t, t, ti, perTask, TailStrategy::GuardWithIf).parallel(t);
  if (blocked)
    scheduleDense(dw, w, p);
  LoopLevel tile = deadRows || rowTasks ? LoopLevel(dw, ti) : LoopLevel(dw, ky);
  std::vector<Var> v = partial.args(); // o, kx, ky, ci, b
  Var vo("vo"), vi("vi");
  partial.compute_at(tile)
      .split(v[0], vo, vi, lanes)
      .vectorize(vi)
      .unroll(vo)
      .unroll(v[1])
      .unroll(v[3]);
  partial.update()
      .split(v[0], vo, vi, lanes)
      .reorder(vi, vo, v[1], v[3], k.rdom.x, k.rdom.y, k.rdom.z, v[2], v[4])
      .vectorize(vi)
      .unroll(vo)
      .unroll(v[1])
      .unroll(v[3]);
  // Stage each block's dy (channels innermost) and zero-padded input
  // once, before its tiles.
  LoopLevel block =
      blocked ? LoopLevel(dw, k.blocks.x) : LoopLevel::root();
  if (k.staged.defined()) {
    std::vector<Var> s = k.staged.args(); // o, ox, oy, n
    Var sy("sy");
    k.staged.compute_at(block)
        .vectorize(s[0], lanes)
        .fuse(s[2], s[3], sy)
        .parallel(sy);
  }
  if (readsPadding(spec)) {
    std::vector<Var> x = k.padded.args(); // x, y, c, n
    Var plane("plane");
    if (isBlocked(spec.inputs[0])) { // lane, x, y, block, n
      k.padded.compute_at(block)
          .fuse(x[3], x[4], plane)
          .parallel(plane)
          .vectorize(x[0], std::min<int>(16, p.vectorWidth));
      return;
    }
    k.padded.compute_at(block)
        .fuse(x[2], x[3], plane)
        .parallel(plane)
        .vectorize(x[0], lanesFor(spec.inputs[0][3], p.vectorWidth),
                   TailStrategy::GuardWithIf);
  }
}

void schedulePoolGrad(algorithms::KernelFuncs &k, const KernelSpec &spec,
                      const ScheduleParams &p) {
  int64_t width = spec.outputs[0][3];
  int lanes = lanesFor(width, p.vectorWidth);
  Var t("t");
  if (spec.kind == KernelKind::AvgPoolGrad) {
    scheduleActivation(k.output, spec.outputs[0], p, t);
    k.reduction.compute_at(k.output, k.x);
    return;
  }
  if (isBlocked(spec.outputs[0])) {
    // One (block, n) plane per task: every window's maximum, then each
    // pixel's gathered dy, a vector of lanes at a time.
    // Pixels a stride apart unrolled, so that which taps of which windows
    // hold each of them is known at compile time: no divisions, no tests
    // but the image's edges.
    Var lo("lo"), li("li"), xo("xo"), xi("xi"), yo("yo"), yi("yi");
    int sx = int(spec.stride[1]), sy = int(spec.stride[0]);
    k.output.fuse(k.c, k.n, t)
        .parallel(t)
        .split(k.lane, lo, li, p.vectorWidth)
        .split(k.x, xo, xi, sx, TailStrategy::GuardWithIf)
        .split(k.y, yo, yi, sy, TailStrategy::GuardWithIf)
        .reorder(li, lo, xi, xo, yi, yo, t)
        .vectorize(li)
        .unroll(lo)
        .unroll(xi)
        .unroll(yi);
    std::vector<Var> a = k.auxiliary.args(); // lane, ox, oy, block, n
    k.auxiliary.compute_at(k.output, t).vectorize(a[0], p.vectorWidth);
    k.auxiliary.update().vectorize(a[0], p.vectorWidth);
    k.reduction.compute_at(k.output, xi).vectorize(k.lane, p.vectorWidth);
    k.reduction.update()
        .vectorize(k.lane, p.vectorWidth)
        .unroll(k.rdom.x)
        .unroll(k.rdom.y);
    return;
  }
  // Max pool, one (c, n) plane per task: the plane with its -inf border,
  // each window's maximum, then zero the plane, scatter dy into it and
  // copy it out while it is in cache.
  k.output.fuse(k.c, k.n, t).parallel(t).vectorize(k.x, lanes,
                                                    TailStrategy::GuardWithIf);
  std::vector<Var> s = k.reduction.args();
  k.reduction.compute_at(k.output, t).vectorize(s[0], lanes,
                                                TailStrategy::GuardWithIf);
  k.reduction.update().unscheduled(); // a serial scatter
  std::vector<Var> v = k.auxiliary.args();
  int outLanes = lanesFor(spec.inputs[0][3], p.vectorWidth);
  k.auxiliary.compute_at(k.output, t).vectorize(v[0], outLanes,
                                                TailStrategy::GuardWithIf);
  k.auxiliary.update().vectorize(v[0], outLanes, TailStrategy::GuardWithIf);
  if (k.padded.name() != "unpadded") {
    std::vector<Var> x = k.padded.args();
    k.padded.compute_at(k.output, t).vectorize(x[0], lanes,
                                               TailStrategy::GuardWithIf);
  }
}

void scheduleLinearGrad(algorithms::KernelFuncs &k, const KernelSpec &spec,
                        const ScheduleParams &p) {
  // Vectorized along the contiguous k of the weight or input rows; the
  // input gradient's tiles take up to 8 rows of the batch, so that each
  // vector of weights loads once for all of them.
  int64_t width = spec.outputs[0][1], height = spec.outputs[0][0];
  int lanes = lanesFor(width, p.vectorWidth);
  int rows = spec.kind == KernelKind::LinearGradInput
                 ? int(std::min<int64_t>(8, height))
                 : 1;
  Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
  // Tails shift inwards, so the reduction always has whole vectors.
  k.output.split(k.x, xo, xi, lanes, TailStrategy::ShiftInwards)
      .split(k.y, yo, yi, rows, TailStrategy::ShiftInwards)
      .reorder(xi, yi, xo, yo)
      .vectorize(xi)
      .unroll(yi)
      .parallel(rows > 1 ? xo : yo, rows > 1 ? 1 : 16,
                TailStrategy::GuardWithIf);
  k.reduction.compute_at(k.output, xo).vectorize(k.x).unroll(k.y);
  k.reduction.update().reorder(k.x, k.y, k.rdom.x).vectorize(k.x).unroll(k.y);
}

void scheduleTraining(algorithms::KernelFuncs &k, const KernelSpec &spec,
                      const ScheduleParams &p) {
  const Shape &out = spec.outputs[0];
  Var t("t");
  switch (spec.kind) {
  case KernelKind::BatchNormTrain:
  case KernelKind::BatchNormGrad:
    for (const algorithms::ChannelSum &sum : k.channelSums)
      scheduleChannelSum(sum, spec.inputs[0][3], p);
    // Per channel once (along rows of NCHW, the loops hoist it).
    if (isBlocked(out))
      k.auxiliary.compute_root();
    scheduleActivation(k.output, out, p, t);
    return;
  case KernelKind::BiasGrad:
    if (!k.channelSums.empty()) {
      scheduleChannelSum(k.channelSums[0], spec.inputs[0][3], p);
      return;
    }
    k.output.vectorize(k.c, lanesFor(out[0], p.vectorWidth),
                       TailStrategy::ShiftInwards);
    k.reduction.compute_at(k.output, k.c).vectorize(k.c);
    k.reduction.update().vectorize(k.c);
    return;
  case KernelKind::ConvGradInput:
    return scheduleConvGradInput(k, spec, p);
  case KernelKind::ConvGradWeight:
    return scheduleConvGradWeight(k, spec, p);
  case KernelKind::MaxPoolGrad:
  case KernelKind::AvgPoolGrad:
    return schedulePoolGrad(k, spec, p);
  case KernelKind::LinearGradInput:
  case KernelKind::LinearGradWeight:
    return scheduleLinearGrad(k, spec, p);
  case KernelKind::CrossEntropy:
  case KernelKind::CrossEntropyGrad:
    k.auxiliary.compute_root();
    k.reduction.compute_root();
    if (spec.kind == KernelKind::CrossEntropyGrad)
      scheduleDense(k.output, out, p);
    return;
  case KernelKind::RunningStats:
  case KernelKind::ReluGrad:
  case KernelKind::PadGrad:
  case KernelKind::SgdUpdate:
    return scheduleDense(k.output, out, p);
  case KernelKind::GlobalAvgPoolGrad:
    if (isBlocked(out))
      return scheduleDense(k.output, out, p);
    return scheduleActivation(k.output, out, p, t);
  default:
    return;
  }
}

} // namespace

int64_t taskScratchBytes(const KernelSpec &spec) {
  // Halide pads an allocation a little for vector loads that run past its
  // end (12 bytes measured); 1 KB covers that with room.
  constexpr int64_t kSlack = 1024;
  switch (spec.kind) {
  case KernelKind::FusedConv: {
    if (spec.gemm) {
      // Every image padded (once per call), the weights relaid (when not
      // relaid by @init), and with inputBlocksOuter a
      // task's partial sums: at most a quarter MB (chooseConvTasks) or one
      // row of 4 channel blocks.
      const Shape &out = spec.outputs[0];
      int64_t partial =
          std::max<int64_t>(256 * 1024, 4 * kChannelBlock * out[3] * 4);
      int64_t image =
          readsPadding(spec) ? out[0] * blockedInputImageBytes(spec) : 0;
      int64_t weights = spec.inputs[1].size() == 6
                            ? 0
                            : numElements(spec.inputs[1]) * 4;
      return std::max({partial, image, weights}) + kSlack;
    }
    if (!readsPadding(spec))
      return 0;
    auto [width, rows] = paddedBand(spec);
    return width * rows * spec.inputs[0][1] * int64_t(sizeof(float)) + kSlack;
  }
  case KernelKind::ConvGradInput: {
    if (spec.gemm)
      return taskScratchBytes(gradInputAsConvolution(spec));
    if (gradInputAsGemm(spec)) {
      // The staged weights (once) and one image of padded dy per task,
      // or every image's (gradInputImagesPerTask).
      auto [width, rows] = gradInputImage(spec);
      int64_t image = (width + 16) * rows * channelsOf(spec.inputs[0]) *
                      (gradInputImagesPerTask(spec) ? spec.inputs[0][0] : 1);
      return std::max(numElements(spec.inputs[1]), image) *
                 int64_t(sizeof(float)) +
             kSlack;
    }
    if (gradInputIsPointwise(spec))
      return 0;
    auto [width, rows] = gradInputBand(spec);
    return width * rows * spec.inputs[0][1] * int64_t(sizeof(float)) + kSlack;
  }
  case KernelKind::ConvGradWeight: {
    // One block's staged dy and (when it pads) its zero-padded input, as
    // two allocations.
    const Shape &x = spec.inputs[0], &dy = spec.inputs[1], &w = spec.outputs[0];
    int64_t images = algorithms::gradWeightBlockImages(spec);
    int64_t staged = images * channelsOf(dy) * dy[2] * dy[3];
    int64_t padded = 0;
    if (readsPadding(spec)) {
      // The columns and rows the windows of the block reach, padding and
      // a vector's overrun included.
      int64_t cols = (dy[3] - 1) * spec.stride[1] +
                     (w[3] - 1) * spec.dilation[1] + 1 + 16;
      int64_t rows = (dy[2] - 1) * spec.stride[0] +
                     (w[2] - 1) * spec.dilation[0] + 1;
      padded = images * channelsOf(x) * rows * cols;
    }
    return std::max(staged, padded) * int64_t(sizeof(float)) + kSlack;
  }
  case KernelKind::MaxPoolGrad: {
    if (isBlocked(spec.outputs[0])) // index and value of a plane's windows
      return 2 * numElements(spec.inputs[0]) / spec.inputs[0][0] /
                 spec.inputs[0][1] * int64_t(sizeof(float)) +
             kSlack;
    // Index and value of every window of one (c, n) plane, rounded up to
    // whole vectors; the plane with its -inf border; the plane of dx it
    // fills: separate allocations.
    const Shape &dy = spec.inputs[0];
    int64_t windows = (dy[3] + 16) * dy[2];
    int64_t cols = (dy[3] + 16) * spec.stride[1] +
                   (spec.window[1] - 1) * spec.dilation[1] + 17;
    int64_t rows = dy[2] * spec.stride[0] +
                   (spec.window[0] - 1) * spec.dilation[0] + 1;
    int64_t plane = spec.outputs[0][2] * spec.outputs[0][3];
    return std::max({windows * 2, cols * rows, plane}) *
               int64_t(sizeof(float)) +
           kSlack;
  }
  default:
    return 0;
  }
}

namespace {
/// Tasks of an NCHW16c convolution: taskBlocks channel blocks by tileRows
/// rows (taskPixels pixels of a pointwise one's single row), of one image
/// or all. A task loads its weights once (its register-tile groups' weights
/// stay in cache while they sweep its pixels) and its input once (it stays
/// in cache while the groups sweep it), so the choice is the one moving the
/// fewest bytes, with a task's input (or partial sums) at most a quarter of
/// the 1 MB L2 that the machine's two threads share (measured: two threads
/// each streaming 512 KB get half the bandwidth of one), and at least 8 tasks
/// where the shape allows (a few per thread, for balance). Measured on
/// ResNet-50 bs8: the 1x1 1024->512 convolution went from 12.4 ms (tasks of
/// one 32-channel group each streaming all 6.4 MB of input through its
/// broadcasts) to 5.4 ms (tasks of every group on 49 pixels).
void chooseConvTasks(const KernelSpec &spec, ScheduleParams &p) {
  const Shape &out = spec.outputs[0];
  Shape w = gemmWeights(spec);
  int64_t images = out[0], blocks = gemmBlocks(spec), height = out[2],
          width = out[3];
  int64_t channels = w[1] * w[4];
  int64_t reduction = channels * w[2] * w[3];
  int64_t blockWeights = kChannelBlock * reduction * 4;
  constexpr int64_t kTasks = 8;
  bool flat = height == 1 && !readsPadding(spec);
  int a = p.tileVectors, b = p.tilePixels;
  // Partial sums in memory when one register-tile group's weights outgrow
  // the cache share: each weight is then loaded once per input block.
  p.inputBlocksOuter = !flat && a * blockWeights > kCacheShare;
  int64_t paddedWidth =
      (width - 1) * spec.stride[1] + (w[3] - 1) * spec.dilation[1] + 1;
  auto inputBytes = [&](int64_t units) { // one image's, for a task
    if (flat)
      return units * channels * 4;
    int64_t rows = (units - 1) * spec.stride[0] +
                   (w[2] - 1) * spec.dilation[0] + 1;
    return rows * paddedWidth * channels * 4;
  };
  int64_t pixelsPerUnit = flat ? 1 : width;
  int64_t unitsTotal = flat ? width : height;
  double best = -1;
  for (int64_t g = a; g <= blocks; g += a) {
    if (blocks % g != 0 && g != a)
      continue;
    int64_t groups = (blocks + g - 1) / g;
    for (int64_t units = flat ? b : 1; units <= unitsTotal;
         units += flat ? b : 1) {
      if (!flat && height % units != 0)
        continue;
      int64_t chunks = (unitsTotal + units - 1) / units;
      for (bool allImages : {false, true}) {
        if (allImages && images == 1)
          continue;
        int64_t perTask = allImages ? images : 1;
        bool minimal = units == (flat ? b : 1) && !allImages && g == a;
        int64_t input = inputBytes(units) * perTask;
        int64_t partial = g * kChannelBlock * units * pixelsPerUnit *
                          perTask * 4;
        // (With partial sums in memory, the input streams through one
        // block of channels at a time: only the partial sums stay.)
        if (!minimal && (p.inputBlocksOuter ? partial > kCacheShare
                                            : input > kCacheShare))
          continue;
        int64_t tasks = groups * chunks * (images / perTask);
        double traffic =
            double(tasks) * double(g * blockWeights + input);
        if (tasks < kTasks)
          traffic *= double(kTasks) / double(tasks);
        if (best < 0 || traffic < best * (1 - 1e-9)) {
          best = traffic;
          p.taskBlocks = int(g);
          p.imagesPerTask = allImages;
          if (flat) // the same chunks, evenly sized
            p.taskPixels =
                int((width / chunks + b - 1) / b * b);
          else
            p.tileRows = int(units);
        }
      }
    }
  }
}
} // namespace

ScheduleParams defaultCpuSchedule(const KernelSpec &spec,
                                  const Target &target) {
  if (spec.kind == KernelKind::ConvGradInput && spec.gemm)
    return defaultCpuSchedule(gradInputAsConvolution(spec), target);
  ScheduleParams p;
  p.vectorWidth = target.natural_vector_size<float>();
  if (spec.kind == KernelKind::FusedConv && spec.gemm) {
    // Tiles of A blocks of output channels by B pixels: the accumulators
    // (A x B, in vectors), A weight vectors or B broadcasts, and one more
    // must fit the registers (32 zmm, 16 ymm), or LLVM spills in the inner
    // loop. Among those, the least work wasted on overlapping tail tiles,
    // then the most FMAs per load, which pays up to about 1.5 (measured on
    // ResNet-18's 3x3 layers, AVX-512, 2 threads: 2 blocks x 7 pixels ran
    // at 290-340 GFLOP/s on 7x7, 14x14 and 56x56 maps; 28 accumulators
    // spilled and ran at 200).
    p.layout = Layout::NCHW16c;
    p.vectorWidth = std::min<int>(p.vectorWidth, int(kChannelBlock));
    int perBlock = int(kChannelBlock) / p.vectorWidth; // vectors per block
    int registers = target.has_feature(Target::AVX512) ? 32 : 16;
    int64_t width = spec.outputs[0][3], blocks = gemmBlocks(spec);
    double best = -1;
    for (int a = 1; a <= 4 && a <= blocks; ++a)
      for (int b = 1; b <= 16 && b <= width; ++b) {
        int vectors = a * perBlock;
        if (vectors * b + std::max(vectors, b) + 1 > registers)
          continue;
        double useful = double(width) / double((width + b - 1) / b * b) *
                        double(blocks) / double((blocks + a - 1) / a * a);
        double perLoad = double(vectors * b) / double(vectors + b);
        double score = useful * std::min(perLoad, 1.55);
        if (score > best + 1e-9 ||
            (score > best - 1e-9 && a * b > p.tileVectors * p.tilePixels)) {
          best = std::max(best, score);
          p.tileVectors = a;
          p.tilePixels = b;
        }
      }
    p.prefetchInput = true;
    chooseConvTasks(spec, p);
    return p;
  }
  if (spec.kind == KernelKind::FusedConv ||
      spec.kind == KernelKind::ConvGradInput) {
    // (The input gradient is a convolution too, over dx's channels.)
    int64_t outChannels = channelsOf(spec.outputs[0]);
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
  if (spec.kind == KernelKind::ConvGradInput && gradInputAsGemm(spec)) {
    // Vectors along the input channels; up to 28 (of 32 zmm) or 12 (of 16
    // ymm) accumulators: tileVectors x tilePixels.
    const Shape &dx = spec.outputs[0];
    bool avx512 = target.has_feature(Target::AVX512);
    int budget = avx512 ? 28 : 12;
    p.vectorWidth =
        std::min(largestDivisor(channelsOf(dx), {p.vectorWidth, 8, 4, 2}),
                 target.natural_vector_size<float>());
    // (Per output phase, with strides.)
    int64_t width = (dx[3] + spec.stride[1] - 1) / spec.stride[1];
    int64_t height = (dx[2] + spec.stride[0] - 1) / spec.stride[0];
    // The tile (vectors x pixels x rows) with the most FMAs per load whose
    // accumulators, weight vectors and one broadcast fit the registers;
    // rows and pixels past the image's edge are recomputed work.
    int registers = avx512 ? 32 : 16;
    double best = 0;
    int64_t block = algorithms::gradInputChannelBlock(spec);
    int64_t batch = dx[0];
    int maxImages =
        gradInputTilesImages(spec) ? int(std::min<int64_t>(batch, 16)) : 1;
    auto useful = [](int64_t extent, int tile) {
      return double(extent) / double((extent + tile - 1) / tile * tile);
    };
    for (int a : {4, 2, 1}) {
      if (block % (a * p.vectorWidth) != 0)
        continue;
      for (int images = 1; images <= maxImages; ++images)
        for (int rows : {1, 2})
          for (int b = 1; b <= width && a * b * rows * images <= budget; ++b) {
            int pixels = b * rows * images;
            if (a * pixels + a + 1 > registers || rows > height)
              continue;
            double perLoad = double(a * pixels) / double(a + pixels);
            double score = perLoad * useful(width, b) * useful(height, rows) *
                           useful(batch, images);
            if (score > best + 1e-9) {
              best = score;
              p.tileVectors = a;
              p.tilePixels = b;
              p.tileRows = rows;
              p.tileImages = images;
            }
          }
    }
    p.imagesPerTask = gradInputImagesPerTask(spec);
  }
  if (spec.kind == KernelKind::ConvGradWeight) {
    // Vectors along the output channels; register tiles of up to 28 (of
    // 32 zmm) or 12 (of 16 ymm) accumulators.
    const Shape &w = spec.outputs[0];
    bool avx512 = target.has_feature(Target::AVX512);
    int budget = avx512 ? 28 : 12;
    p.vectorWidth = largestDivisor(w[0], {p.vectorWidth, 8, 4, 2});
    p.vectorWidth = std::min(p.vectorWidth, target.natural_vector_size<float>());
    int kw = int(liveTaps(spec, 1).count);
    p.tileVectors = 1;
    for (int v : {4, 2})
      if ((w[0] / p.vectorWidth) % v == 0 && v * kw <= budget) {
        p.tileVectors = v;
        break;
      }
    p.tileChannels = 1;
    for (int c = 1; c <= w[1]; ++c)
      if (w[1] % c == 0 && p.tileVectors * kw * c <= budget)
        p.tileChannels = c;
  }
  return p;
}

void scheduleCpu(algorithms::KernelFuncs &k, const KernelSpec &spec,
                 const ScheduleParams &p) {
  switch (spec.kind) {
  case KernelKind::ConvGradInput:
    if (spec.gemm) // as the convolution it is (gradInputIsConvolution)
      return scheduleConvBlocked(k, gradInputAsConvolution(spec), p);
    return scheduleTraining(k, spec, p);
  case KernelKind::FusedConv:
    if (spec.gemm)
      return scheduleConvBlocked(k, spec, p);
    return scheduleConv(k, spec, p);
  case KernelKind::MaxPool:
    if (isBlocked(spec.outputs[0]))
      return schedulePoolBlocked(k, spec, p);
    return schedulePool(k, spec, p);
  case KernelKind::AvgPool:
    return schedulePool(k, spec, p);
  case KernelKind::Linear:
    return scheduleLinear(k, spec, p);
  case KernelKind::GlobalAvgPool:
    if (isBlocked(spec.inputs[0])) {
      Var co("co"), ci("ci");
      int lanes = int(kChannelBlock);
      k.output.split(k.c, co, ci, lanes).vectorize(ci).parallel(co);
      k.reduction.compute_at(k.output, co).vectorize(k.lane);
      k.reduction.update().vectorize(k.lane);
      return;
    }
    k.output.parallel(k.c);
    k.reduction.compute_at(k.output, k.c);
    return;
  case KernelKind::BlockWeights: {
    std::vector<Var> v = k.output.args(); // lane, i, kx, ky, block, o
    k.output.vectorize(v[0], p.vectorWidth).parallel(v[5]);
    return;
  }
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
  default:
    return scheduleTraining(k, spec, p);
  }
}

} // namespace schedules
} // namespace resnetc
