//===- Algorithms.cpp - Halide algorithms of resnetc's kernels ------------===//
#include "schedules/algorithms/Algorithms.h"

#include <cmath>
#include <functional>

using namespace Halide;
using Halide::Internal::make_const;
using Halide::Internal::make_zero;

namespace resnetc {
namespace algorithms {

ImageParam shapedInput(const Shape &shape, const std::string &name, Type type) {
  int rank = static_cast<int>(shape.size());
  ImageParam param(type, rank, name);
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    int64_t extent = shape[rank - 1 - d];
    param.dim(d).set_bounds(0, static_cast<int>(extent));
    param.dim(d).set_stride(static_cast<int>(stride));
    stride *= extent;
  }
  return param;
}

namespace {
/// `bounds` false for a Tuple's later elements: Halide ties their extents
/// to the first's, and only their strides may be stated.
void constrainBuffer(OutputImageParam buffer, const Shape &shape,
                     bool bounds = true) {
  int rank = static_cast<int>(shape.size());
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    int64_t extent = shape[rank - 1 - d];
    if (bounds)
      buffer.dim(d).set_bounds(0, static_cast<int>(extent));
    buffer.dim(d).set_stride(static_cast<int>(stride));
    stride *= extent;
  }
}
} // namespace

void constrainOutput(Func output, const Shape &shape) {
  constrainBuffer(output.output_buffer(), shape);
}

void constrainOutputs(const KernelFuncs &funcs, const KernelSpec &spec) {
  size_t result = 0;
  for (const Func &f : funcs.outputs) {
    std::vector<OutputImageParam> buffers = f.output_buffers();
    for (size_t i = 0; i < buffers.size(); ++i)
      constrainBuffer(buffers[i], spec.outputs.at(result++), i == 0);
  }
}

namespace {

Expr constant(Type t, double value) { return make_const(t, value); }

/// max(v, 0) that keeps a NaN, as torch.relu does (x86's max returns the
/// zero), so that a NaN in the data reaches the loss instead of vanishing.
/// The test is on the bits: Halide compiles floats with fast-math flags,
/// under which is_nan and a plain select both fold away.
Expr reluOf(Expr v) {
  Type bits = UInt(v.type().bits(), v.type().lanes());
  Expr magnitude = reinterpret(bits, v) &
                   make_const(bits, ~(~uint64_t(0) << (v.type().bits() - 1)));
  Expr infinity = reinterpret(bits, make_const(v.type(), INFINITY));
  return select(magnitude > infinity, v, max(v, make_zero(v.type())));
}

/// An activation operand of `shape`, NCHW or channel-blocked (NCHW16c),
/// read at NCHW coordinates. On a blocked one the channel's lane and block
/// fold into one vector load wherever the loop over the channels is
/// aligned to whole blocks.
Expr readAt(const Func &f, const Shape &shape, Expr x, Expr y, Expr c, Expr n) {
  if (!isBlocked(shape))
    return f(x, y, c, n);
  int block = int(kChannelBlock);
  return f(c % block, x, y, c / block, n);
}

using ValueAt = std::function<Expr(Expr x, Expr y, Expr c, Expr n)>;

/// Defines `f`, an activation result of `shape`, by its value at NCHW
/// coordinates: a blocked one as (lane, x, y, block, n), its channel
/// block * 16 + lane.
void defineActivation(Func &f, const Shape &shape, const KernelFuncs &k,
                      const ValueAt &value) {
  if (isBlocked(shape))
    f(k.lane, k.x, k.y, k.c, k.n) =
        value(k.x, k.y, k.c * int(kChannelBlock) + k.lane, k.n);
  else
    f(k.x, k.y, k.c, k.n) = value(k.x, k.y, k.c, k.n);
}

/// The input read through `value` outside its spatial extent when the
/// window op pads (a convolution: when its live taps read the padding);
/// the input itself otherwise.
Func zeroPadded(const ImageParam &input, const Shape &shape,
                const KernelSpec &spec, Expr value) {
  bool conv = spec.kind == KernelKind::FusedConv ||
              spec.kind == KernelKind::ConvGradWeight;
  bool pads = conv && readsPadding(spec);
  for (int64_t p : spec.padding)
    pads |= !conv && p != 0;
  // A ceil_mode pool's last window may reach past the input too.
  if (spec.ceilMode && spec.outputs.size() == 1 &&
      spec.outputs[0].size() == 4) {
    const Shape &out = spec.outputs[0];
    for (int d : {0, 1}) {
      int64_t window = spec.kind == KernelKind::FusedConv ? 1 : spec.window[d];
      int64_t end = (out[2 + d] - 1) * spec.stride[d] - spec.padding[d] +
                    (window - 1) * spec.dilation[d] + 1;
      pads |= end > shape[2 + d];
    }
  }
  if (!pads) {
    Func same("unpadded");
    same(_) = input(_);
    return same;
  }
  return BoundaryConditions::constant_exterior(
      input, value,
      {{0, static_cast<int>(shape[3])}, {0, static_cast<int>(shape[2])}});
}

KernelFuncs fusedConv(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam input = shapedInput(spec.inputs[0], "input", t);
  ImageParam weight = shapedInput(spec.inputs[1], "weight", t);
  k.inputs = {input, weight};
  const Shape &w = spec.inputs[1];
  int outChannels = static_cast<int>(w[0]), perGroup = static_cast<int>(w[1]);
  int groups = static_cast<int>(spec.groups);

  k.padded = zeroPadded(input, spec.inputs[0], spec, make_zero(t));
  // Taps that only meet padding are skipped (liveTaps).
  TapRange tx = liveTaps(spec, 1), ty = liveTaps(spec, 0);
  RDom r(int(tx.first), int(tx.count), int(ty.first), int(ty.count), 0,
         perGroup, "r");
  Expr inX = x * int(spec.stride[1]) + r.x * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = y * int(spec.stride[0]) + r.y * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Expr inC =
      groups == 1 ? Expr(r.z) : (c / (outChannels / groups)) * perGroup + r.z;

  Func conv("conv");
  Expr init = make_zero(t);
  if (spec.hasBias) {
    ImageParam bias = shapedInput(spec.inputs[2], "bias", t);
    k.inputs.push_back(bias);
    init = bias(c);
  }
  conv(x, y, c, n) = init;
  conv(x, y, c, n) += weight(r.x, r.y, r.z, c) * k.padded(inX, inY, inC, n);
  k.reduction = conv;
  k.rdom = r;

  Expr value = conv(x, y, c, n);
  if (spec.hasResidual) {
    ImageParam residual =
        shapedInput(spec.inputs[spec.hasBias ? 3 : 2], "residual", t);
    k.inputs.push_back(residual);
    value += residual(x, y, c, n);
  }
  if (spec.relu)
    value = reluOf(value);
  k.output = Func("fused_conv2d");
  k.output(x, y, c, n) = value;
  return k;
}

/// A convolution as a GEMM (KernelSpec::gemm): the blocked weights (one
/// vector of 16 output channels per reduction step) times broadcast input
/// values, accumulated in `reduction` (lane, x, y, block, n). The input is
/// blocked or NCHW; either way `padded` indexes it (lane, x, y, block, n)
/// in the blocked weights' channel blocks, zero outside the image, so that
/// a schedule can copy it channels-innermost and padded once per call. The
/// result is blocked or NCHW.
///
/// A ConvGradInput spec (gradInputIsConvolution) runs as the convolution
/// gradInputAsConvolution describes: dy in, its OIHW weights relaid
/// transposed and flipped, dx out, masked where the spec's relu says.
KernelFuncs fusedConvBlocked(const KernelSpec &original, Type t) {
  KernelFuncs k;
  Var lane = k.lane, x = k.x, y = k.y, c = k.c, n = k.n;
  bool gradInput = original.kind == KernelKind::ConvGradInput;
  const KernelSpec spec =
      gradInput ? gradInputAsConvolution(original) : original;
  const Shape &in = spec.inputs[0], &out = spec.outputs[0];
  ImageParam input = shapedInput(in, gradInput ? "dy" : "input", t);
  ImageParam weight = shapedInput(original.inputs[1], "weight", t);
  k.inputs = {input, weight};
  // The weights as [O/16, C/CI, KH, KW, CI, 16]: given so, or relaid here
  // from OIHW once per call (`staged`).
  Shape w = spec.inputs[1].size() == 6
                ? spec.inputs[1]
                : blockedWeightShape(spec.inputs[1], isBlocked(in));
  int blocks = int(w[1]), perBlock = int(w[4]);
  int height = int(in[2]), width = int(in[3]);
  int lanes = int(kChannelBlock);
  Func weights = weight;
  if (spec.inputs[1].size() != 6) {
    Var wl("wl"), wi("wi"), wx("wx"), wy("wy"), wb("wb"), wo("wo");
    k.staged = Func("weight_blocked");
    if (gradInput) // w[o, c, ky, kx] -> w'[c, o, KH-1-ky, KW-1-kx]
      k.staged(wl, wi, wx, wy, wb, wo) =
          weight(int(w[3]) - 1 - wx, int(w[2]) - 1 - wy, wo * lanes + wl,
                 wb * perBlock + wi);
    else
      k.staged(wl, wi, wx, wy, wb, wo) =
          weight(wx, wy, wb * perBlock + wi, wo * lanes + wl);
    weights = k.staged;
  }
  Var i("i"), px("px"), py("py"), b("b"), m("m");
  bool pads = readsPadding(spec);
  auto read = [&](Expr cx, Expr cy) {
    return isBlocked(in) ? input(i, cx, cy, b, m)
                         : input(cx, cy, b * perBlock + i, m);
  };
  k.padded = Func("input_blocked");
  if (pads) {
    Expr inside = px >= 0 && px < width && py >= 0 && py < height;
    k.padded(i, px, py, b, m) =
        select(inside,
               read(clamp(px, 0, width - 1), clamp(py, 0, height - 1)),
               make_zero(t));
  } else {
    k.padded(i, px, py, b, m) = read(px, py);
  }
  // Taps that only meet padding are skipped (liveTaps).
  TapRange tx = liveTaps(spec, 1), ty = liveTaps(spec, 0);
  RDom r(0, perBlock, int(tx.first), int(tx.count), int(ty.first),
         int(ty.count), 0, blocks, "r");
  Expr inX = x * int(spec.stride[1]) + r.y * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = y * int(spec.stride[0]) + r.z * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Func conv("conv");
  Expr init = make_zero(t);
  ImageParam bias, residual;
  if (spec.hasBias) {
    bias = shapedInput(spec.inputs[2], "bias", t);
    k.inputs.push_back(bias);
    init = bias(c * lanes + lane);
  }
  conv(lane, x, y, c, n) = init;
  conv(lane, x, y, c, n) +=
      weights(lane, r.x, r.y, r.z, r.w, c) * k.padded(r.x, inX, inY, r.w, n);
  k.reduction = conv;
  k.rdom = r;
  if (spec.hasResidual) {
    residual = shapedInput(spec.inputs[spec.hasBias ? 3 : 2], "residual", t);
    k.inputs.push_back(residual);
  }
  if (gradInput) {
    k.output = Func("conv2d_grad_input");
    ImageParam mask;
    if (original.relu) {
      mask = shapedInput(original.inputs[2], "mask", t);
      k.inputs.push_back(mask);
    }
    // dx blocked (the tile as it is) or NCHW (transposed as it is stored).
    defineActivation(k.output, out, k, [&](Expr x, Expr y, Expr c, Expr n) {
      Expr value = conv(c % lanes, x, y, c / lanes, n);
      if (!original.relu)
        return value;
      return select(readAt(mask, original.inputs[2], x, y, c, n) > 0, value,
                    make_zero(t));
    });
    k.outputs = {k.output};
    return k;
  }
  k.output = Func("fused_conv2d");
  if (isBlocked(out)) {
    Expr value = conv(lane, x, y, c, n);
    if (spec.hasResidual)
      value += residual(lane, x, y, c, n);
    k.output(lane, x, y, c, n) = spec.relu ? reluOf(value) : value;
  } else {
    // An NCHW result: the blocked tile, transposed as it is stored.
    Expr value = conv(c % lanes, x, y, c / lanes, n);
    if (spec.hasResidual)
      value += residual(x, y, c, n);
    k.output(x, y, c, n) = spec.relu ? reluOf(value) : value;
  }
  return k;
}

/// OIHW weights in the layout fusedConvBlocked reads.
KernelFuncs blockWeights(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  ImageParam weight = shapedInput(spec.inputs[0], "weight", t);
  k.inputs = {weight};
  int perBlock = int(spec.outputs[0][4]);
  Var lane = k.lane, i("i"), kx("kx"), ky("ky"), b("b"), o("o");
  k.output = Func("block_weights");
  k.output(lane, i, kx, ky, b, o) =
      weight(kx, ky, b * perBlock + i, o * int(kChannelBlock) + lane);
  return k;
}

/// Max pooling of a channel-blocked image, vectorizable along the lanes.
KernelFuncs maxPoolBlocked(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var lane = k.lane, x = k.x, y = k.y, c = k.c, n = k.n;
  const Shape &in = spec.inputs[0];
  ImageParam input = shapedInput(in, "input", t);
  k.inputs = {input};
  k.padded = BoundaryConditions::constant_exterior(
      input, constant(t, -INFINITY),
      {{Expr(), Expr()}, {0, int(in[3])}, {0, int(in[2])}});
  RDom r(0, int(spec.window[1]), 0, int(spec.window[0]), "r");
  Expr inX = x * int(spec.stride[1]) + r.x * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = y * int(spec.stride[0]) + r.y * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Func reduce("max_window");
  reduce(lane, x, y, c, n) = t.min();
  reduce(lane, x, y, c, n) =
      max(reduce(lane, x, y, c, n), k.padded(lane, inX, inY, c, n));
  k.reduction = reduce;
  k.rdom = r;
  k.output = Func("max_pool2d");
  k.output(lane, x, y, c, n) = reduce(lane, x, y, c, n);
  return k;
}

/// PyTorch's avg_pool2d divisor of the window at output (x, y): the window
/// clipped to the padded input with count_include_pad, to the input itself
/// without.
Expr poolDivisor(const KernelSpec &spec, const Shape &inShape, Expr x, Expr y) {
  int kh = int(spec.window[0]), kw = int(spec.window[1]);
  int h = int(inShape[2]), wd = int(inShape[3]);
  Expr y0 = y * int(spec.stride[0]) - int(spec.padding[0]);
  Expr x0 = x * int(spec.stride[1]) - int(spec.padding[1]);
  Expr y1 = y0 + kh, x1 = x0 + kw;
  if (spec.countIncludePad)
    return (min(y1, h + int(spec.padding[2])) - y0) *
           (min(x1, wd + int(spec.padding[3])) - x0);
  return (min(y1, h) - max(y0, 0)) * (min(x1, wd) - max(x0, 0));
}

KernelFuncs pool(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam input = shapedInput(spec.inputs[0], "input", t);
  k.inputs = {input};
  bool isMax = spec.kind == KernelKind::MaxPool;
  k.padded = zeroPadded(input, spec.inputs[0], spec,
                        isMax ? constant(t, -INFINITY) : make_zero(t));
  int kh = int(spec.window[0]), kw = int(spec.window[1]);
  RDom r(0, kw, 0, kh, "r");
  Expr inX = x * int(spec.stride[1]) + r.x * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = y * int(spec.stride[0]) + r.y * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Func reduce(isMax ? "max_window" : "sum_window");
  if (isMax) {
    reduce(x, y, c, n) = t.min();
    reduce(x, y, c, n) = max(reduce(x, y, c, n), k.padded(inX, inY, c, n));
  } else {
    reduce(x, y, c, n) = make_zero(t);
    reduce(x, y, c, n) += k.padded(inX, inY, c, n);
  }
  k.reduction = reduce;
  k.rdom = r;
  k.output = Func(isMax ? "max_pool2d" : "avg_pool2d");
  if (isMax) {
    k.output(x, y, c, n) = reduce(x, y, c, n);
    return k;
  }
  k.output(x, y, c, n) =
      reduce(x, y, c, n) / cast(t, poolDivisor(spec, spec.inputs[0], x, y));
  return k;
}

KernelFuncs globalAvgPool(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam input = shapedInput(spec.inputs[0], "input", t);
  k.inputs = {input};
  const Shape &shape = spec.inputs[0];
  RDom r(0, int(shape[3]), 0, int(shape[2]), "r");
  Func sum("sum");
  Expr scale = constant(t, double(shape[2] * shape[3]));
  k.output = Func("global_avg_pool");
  if (isBlocked(shape)) {
    // (lane, block, n); the NxCx1x1 result is the same either way.
    int lanes = int(kChannelBlock);
    sum(k.lane, c, n) = make_zero(t);
    sum(k.lane, c, n) += input(k.lane, r.x, r.y, c, n);
    k.output(x, y, c, n) = sum(c % lanes, c / lanes, n) / scale;
  } else {
    sum(c, n) = make_zero(t);
    sum(c, n) += input(r.x, r.y, c, n);
    k.output(x, y, c, n) = sum(c, n) / scale;
  }
  k.reduction = sum;
  k.rdom = r;
  return k;
}

KernelFuncs linear(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var &m = k.x, &n = k.y;
  ImageParam input = shapedInput(spec.inputs[0], "input", t);
  ImageParam weight = shapedInput(spec.inputs[1], "weight", t);
  k.inputs = {input, weight};
  RDom r(0, int(spec.inputs[0][1]), "r");
  Func dot("dot");
  Expr init = make_zero(t);
  if (spec.hasBias) {
    ImageParam bias = shapedInput(spec.inputs[2], "bias", t);
    k.inputs.push_back(bias);
    init = bias(m);
  }
  dot(m, n) = init;
  dot(m, n) += input(r, n) * weight(r, m);
  k.reduction = dot;
  k.rdom = r;
  k.output = Func("linear");
  k.output(m, n) = dot(m, n);
  return k;
}

KernelFuncs softmax(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  const Shape &shape = spec.inputs[0];
  int rank = int(shape.size());
  int axis = int(spec.axis < 0 ? spec.axis + rank : spec.axis);
  int dim = rank - 1 - axis; // Halide's index of the softmax dimension
  ImageParam input = shapedInput(shape, "input", t);
  k.inputs = {input};
  std::vector<Var> vars(rank);
  std::vector<Expr> at(vars.begin(), vars.end());
  RDom r(0, int(shape[axis]), "r");
  auto along = [&](Expr i) {
    std::vector<Expr> args = at;
    args[dim] = i;
    return args;
  };
  std::vector<Var> outer;
  for (int d = 0; d < rank; ++d)
    if (d != dim)
      outer.push_back(vars[d]);
  std::vector<Expr> outerArgs(outer.begin(), outer.end());
  Func largest("largest"), total("total");
  largest(outer) = t.min();
  largest(outer) = max(largest(outerArgs), input(along(r)));
  total(outer) = make_zero(t);
  total(outer) += exp(input(along(r)) - largest(outerArgs));
  k.reduction = total;
  k.auxiliary = largest;
  k.output = Func("softmax");
  k.output(vars) = exp(input(at) - largest(outerArgs)) / total(outerArgs);
  return k;
}

KernelFuncs foldBatchNorm(const KernelSpec &spec, Type t) {
  // Two results, the folded weight and bias: a pipeline of two outputs.
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam weight = shapedInput(spec.inputs[0], "weight", t);
  ImageParam gamma = shapedInput(spec.inputs[1], "gamma", t);
  ImageParam beta = shapedInput(spec.inputs[2], "beta", t);
  ImageParam mean = shapedInput(spec.inputs[3], "running_mean", t);
  ImageParam var = shapedInput(spec.inputs[4], "running_var", t);
  k.inputs = {weight, gamma, beta, mean, var};
  Expr bias = make_zero(t);
  if (spec.hasBias) {
    ImageParam b = shapedInput(spec.inputs[5], "bias", t);
    k.inputs.push_back(b);
    bias = b(n);
  }
  Func scale("scale");
  scale(n) = gamma(n) / sqrt(var(n) + constant(t, spec.epsilon));
  k.reduction = scale;
  k.output = Func("folded_weight");
  k.output(x, y, c, n) = weight(x, y, c, n) * scale(n);
  Func foldedBias("folded_bias");
  foldedBias(n) = (bias - mean(n)) * scale(n) + beta(n);
  k.outputs = {k.output, foldedBias};
  return k;
}

KernelFuncs elementwise(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  const Shape &shape = spec.inputs[0];
  int rank = int(shape.size());
  std::vector<Var> vars(rank);
  std::vector<Expr> at(vars.begin(), vars.end());
  ImageParam input = shapedInput(shape, "input", t);
  k.inputs = {input};
  k.output = Func(kernelKindName(spec.kind));
  switch (spec.kind) {
  case KernelKind::Add: {
    ImageParam other = shapedInput(spec.inputs[1], "other", t);
    k.inputs.push_back(other);
    k.output(vars) = input(at) + other(at);
    break;
  }
  case KernelKind::Relu:
    k.output(vars) = reluOf(input(at));
    break;
  case KernelKind::BatchNorm: {
    std::vector<ImageParam> p;
    for (const char *name : {"weight", "bias", "running_mean", "running_var"})
      p.push_back(shapedInput(spec.inputs[1 + p.size()], name, t));
    k.inputs.insert(k.inputs.end(), p.begin(), p.end());
    Expr ch = vars[rank - 2];
    k.output(vars) = (input(at) - p[2](ch)) /
                         sqrt(p[3](ch) + constant(t, spec.epsilon)) * p[0](ch) +
                     p[1](ch);
    break;
  }
  case KernelKind::Pad: {
    std::vector<Expr> src(rank);
    Expr inside = Internal::const_true();
    for (int d = 0; d < rank; ++d) {
      int dim = rank - 1 - d;
      src[d] = vars[d] - int(spec.low[dim]);
      inside = inside && src[d] >= 0 && src[d] < int(shape[dim]);
    }
    std::vector<Expr> clamped(rank);
    for (int d = 0; d < rank; ++d)
      clamped[d] = clamp(src[d], 0, int(shape[rank - 1 - d]) - 1);
    k.output(vars) = select(inside, input(clamped), make_zero(t));
    break;
  }
  default:
    break;
  }
  return k;
}

//===----------------------------------------------------------------------===//
// Training kernels
//===----------------------------------------------------------------------===//

/// Per-channel sums over (x, y, n) of the values `term(x, y, c, n)` gives
/// (several at once: a Tuple), for activations of `shape`: NCHW ones by
/// columns (ChannelSum), blocked ones by image, `partial(lane, block, n)`
/// summing an image's pixels one vector of channels at a time.
ChannelSum
channelSum(const Shape &shape,
           const std::function<std::vector<Expr>(Expr, Expr, Expr, Expr)> &term,
           Type t, const std::string &name) {
  Var x("x"), c("c");
  ChannelSum sum{Func(name + "_partial"), Func(name)};
  auto element = [](FuncRef ref, size_t i, size_t count) -> Expr {
    return count == 1 ? Expr(ref) : Expr(ref[i]);
  };
  auto accumulate = [&](Func f, const std::vector<Var> &at,
                        const std::vector<Expr> &values) {
    std::vector<Expr> zeros(values.size(), make_zero(t)), updated;
    f(at) = Tuple(zeros);
    for (size_t i = 0; i < values.size(); ++i)
      updated.push_back(element(f(at), i, values.size()) + values[i]);
    f(at) = Tuple(updated);
  };
  if (isBlocked(shape)) {
    Var lane("lane"), b("b"), n("n");
    int block = int(kChannelBlock);
    RDom r(0, int(shape[3]), 0, int(shape[2]), name + "_r");
    std::vector<Expr> values = term(r.x, r.y, b * block + lane, n);
    accumulate(sum.partial, {lane, b, n}, values);
    RDom images(0, int(shape[0]), name + "_n");
    std::vector<Expr> parts;
    for (size_t i = 0; i < values.size(); ++i)
      parts.push_back(
          element(sum.partial(c % block, c / block, images), i, values.size()));
    accumulate(sum.total, {c}, parts);
    return sum;
  }
  RDom r(0, int(shape[2]), 0, int(shape[0]), name + "_r");
  std::vector<Expr> values = term(x, r.x, c, r.y);
  accumulate(sum.partial, {x, c}, values);
  RDom col(0, int(shape[3]), name + "_col");
  std::vector<Expr> parts;
  for (size_t i = 0; i < values.size(); ++i)
    parts.push_back(element(sum.partial(col, c), i, values.size()));
  accumulate(sum.total, {c}, parts);
  return sum;
}

KernelFuncs batchNormTrain(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var c = k.c;
  const Shape &shape = spec.inputs[0];
  ImageParam input = shapedInput(shape, "input", t);
  ImageParam gamma = shapedInput(spec.inputs[1], "gamma", t);
  ImageParam beta = shapedInput(spec.inputs[2], "beta", t);
  k.inputs = {input, gamma, beta};
  // One pass over the input for both statistics: the sums of x and of x^2
  // accumulated in float64, where E[x^2] - E[x]^2 loses nothing that
  // float32 keeps (PyTorch's two passes over centered values cost one more
  // sweep of the activations).
  Type wide = Float(64);
  Expr count = constant(wide, double(shape[0] * shape[2] * shape[3]));
  ChannelSum moments = channelSum(
      shape,
      [&](Expr x, Expr y, Expr c, Expr n) -> std::vector<Expr> {
        Expr v = cast(wide, readAt(input, shape, x, y, c, n));
        return {v, v * v};
      },
      wide, "moments");
  Func mean("batch_mean"), var("batch_var");
  Expr mean64 = moments.total(c)[0] / count;
  mean(c) = cast(t, mean64);
  var(c) = cast(
      t, max(moments.total(c)[1] / count - mean64 * mean64, make_zero(wide)));
  k.channelSums = {moments};
  Func rstd("rstd");
  rstd(c) = 1 / sqrt(var(c) + constant(t, spec.epsilon));
  k.auxiliary = rstd;
  ImageParam residual;
  // The epilogue of a ResNet block: + residual, relu.
  if (spec.hasResidual) {
    residual = shapedInput(spec.inputs[3], "residual", t);
    k.inputs.push_back(residual);
  }
  k.output = Func("batch_norm_train");
  defineActivation(k.output, shape, k, [&](Expr x, Expr y, Expr c, Expr n) {
    Expr value =
        (readAt(input, shape, x, y, c, n) - mean(c)) * rstd(c) * gamma(c) +
        beta(c);
    if (spec.hasResidual)
      value += readAt(residual, spec.inputs[3], x, y, c, n);
    return spec.relu ? reluOf(value) : value;
  });
  k.outputs = {k.output, mean, var};
  return k;
}

KernelFuncs batchNormGrad(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var c = k.c;
  const Shape &shape = spec.inputs[0];
  ImageParam dy = shapedInput(shape, "dy", t);
  ImageParam input = shapedInput(spec.inputs[1], "input", t);
  ImageParam gamma = shapedInput(spec.inputs[2], "gamma", t);
  ImageParam mean = shapedInput(spec.inputs[3], "mean", t);
  ImageParam var = shapedInput(spec.inputs[4], "var", t);
  k.inputs = {dy, input, gamma, mean, var};
  ImageParam mask;
  if (spec.relu) {
    mask = shapedInput(spec.inputs[5], "mask", t);
    k.inputs.push_back(mask);
  }
  auto grad = [&](Expr x, Expr y, Expr c, Expr n) {
    Expr g = readAt(dy, shape, x, y, c, n);
    if (!spec.relu)
      return g;
    return select(readAt(mask, spec.inputs[5], x, y, c, n) > 0, g,
                  make_zero(t));
  };
  Func rstd("rstd");
  rstd(c) = 1 / sqrt(var(c) + constant(t, spec.epsilon));
  auto xhat = [&](Expr x, Expr y, Expr c, Expr n) {
    return (readAt(input, spec.inputs[1], x, y, c, n) - mean(c)) * rstd(c);
  };
  ChannelSum sums = channelSum(
      shape,
      [&](Expr x, Expr y, Expr c, Expr n) -> std::vector<Expr> {
        Expr g = grad(x, y, c, n);
        return {g, g * xhat(x, y, c, n)};
      },
      t, "grad_sums");
  k.channelSums = {sums};
  Func dgamma("dgamma"), dbeta("dbeta");
  dbeta(c) = sums.total(c)[0];
  dgamma(c) = sums.total(c)[1];
  k.output = Func("batch_norm_grad");
  // The batch statistics depend on x too: their terms, averaged.
  Expr count = constant(t, double(shape[0] * shape[2] * shape[3]));
  defineActivation(k.output, shape, k, [&](Expr x, Expr y, Expr c, Expr n) {
    Expr scale = gamma(c) * rstd(c);
    if (!spec.training)
      return scale * grad(x, y, c, n);
    return scale * (grad(x, y, c, n) - dbeta(c) / count -
                    xhat(x, y, c, n) * (dgamma(c) / count));
  });
  k.auxiliary = rstd;
  k.outputs = {k.output, dgamma, dbeta};
  return k;
}

KernelFuncs runningStats(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var c = k.c;
  ImageParam runMean = shapedInput(spec.inputs[0], "running_mean", t);
  ImageParam runVar = shapedInput(spec.inputs[1], "running_var", t);
  ImageParam mean = shapedInput(spec.inputs[2], "batch_mean", t);
  ImageParam var = shapedInput(spec.inputs[3], "batch_var", t);
  k.inputs = {runMean, runVar, mean, var};
  double m = spec.momentum;
  double unbias =
      spec.count > 1 ? double(spec.count) / double(spec.count - 1) : 1.0;
  // One Tuple: the results may overwrite the running statistics.
  k.output = Func("running_stats_update");
  k.output(c) =
      Tuple(constant(t, 1 - m) * runMean(c) + constant(t, m) * mean(c),
            constant(t, 1 - m) * runVar(c) + constant(t, m * unbias) * var(c));
  k.outputs = {k.output};
  return k;
}

/// The zero-padded, zero-interleaved dy of a strided convolution: for
/// stride 1 just dy read as 0 outside, so that dx is a stride-1
/// correlation of it with the weights.
Func dilatedGradient(const ImageParam &dy, const Shape &shape,
                     const KernelSpec &spec, Type t) {
  Func outside = BoundaryConditions::constant_exterior(
      dy, make_zero(t),
      {{0, static_cast<int>(shape[3])}, {0, static_cast<int>(shape[2])}});
  int sy = int(spec.stride[0]), sx = int(spec.stride[1]);
  Var u("u"), v("v"), o("o"), n("n");
  Func spread("dy_spread");
  if (sx == 1 && sy == 1) {
    spread(u, v, o, n) = outside(u, v, o, n);
    return spread;
  }
  spread(u, v, o, n) = select(u % sx == 0 && v % sy == 0,
                              outside(u / sx, v / sy, o, n), make_zero(t));
  return spread;
}

/// dx of an ungrouped convolution as a GEMM over (o, ky, kx):
/// dx[c, pixel] = sum of w[o, c, ky, kx] * dy[o, pixel shifted by the tap],
/// with the weights staged channels-innermost so that a schedule can
/// vectorize along c and broadcast dy. A strided convolution is split by
/// output phase: dx at x = s * qx + px meets only the taps kx = kx0(px) +
/// s * j, at dy column qx + e(px) - j, so no product with an inserted zero
/// happens.
KernelFuncs convGradInputGemm(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam dy = shapedInput(spec.inputs[0], "dy", t);
  ImageParam weight = shapedInput(spec.inputs[1], "weight", t);
  k.inputs = {dy, weight};
  const Shape &w = spec.inputs[1], &dyShape = spec.inputs[0];
  int outChannels = int(w[0]), kh = int(w[2]), kw = int(w[3]);
  int sy = int(spec.stride[0]), sx = int(spec.stride[1]);
  int pt = int(spec.padding[0]), pl = int(spec.padding[1]);
  int dly = int(spec.dilation[0]), dlx = int(spec.dilation[1]);
  // Taps per phase along each dimension.
  int tapsX = (kw + sx - 1) / sx, tapsY = (kh + sy - 1) / sy;
  // (c % B, o, kx, ky, c / B): the weights of a block of B input channels
  // are one contiguous stream, consecutive o innermost; taps past the
  // kernel (a phase's last) are zero.
  int block = int(gradInputChannelBlock(spec));
  Var vc("c"), vx("kx"), vy("ky"), vo("o"), vb("cb");
  k.staged = Func("weight_channels_last");
  k.staged(vc, vo, vx, vy, vb) =
      select(vx < kw && vy < kh,
             weight(min(vx, kw - 1), min(vy, kh - 1), vb * block + vc, vo),
             make_zero(t));
  // Output channels innermost: a long loop a schedule keeps rolled. A
  // blocked dy is copied channels-innermost (zero-padded), so that one
  // pixel's O values are one contiguous run there too.
  bool blockedDy = isBlocked(dyShape);
  int width = int(dyShape[3]), height = int(dyShape[2]);
  if (blockedDy) {
    Var po("o"), pu("u"), pv("v"), pn("n");
    k.padded = Func("dy_channels_last");
    Expr inside = pu >= 0 && pu < width && pv >= 0 && pv < height;
    k.padded(po, pu, pv, pn) =
        select(inside,
               readAt(dy, dyShape, clamp(pu, 0, width - 1),
                      clamp(pv, 0, height - 1), po, pn),
               make_zero(t));
  } else {
    k.padded = BoundaryConditions::constant_exterior(dy, make_zero(t),
                                                     {{0, width}, {0, height}});
  }
  Var qx("qx"), qy("qy"), px("px"), py("py");
  // Taps that only meet padding are skipped (liveTaps): with stride 1 by
  // the range of the tap loop, with strides by the phase's condition below.
  TapRange tx = liveTaps(spec, 1), ty = liveTaps(spec, 0);
  RDom r(0, outChannels, sx == 1 ? int(tx.first) : 0,
         sx == 1 ? int(tx.count) : tapsX, sy == 1 ? int(ty.first) : 0,
         sy == 1 ? int(ty.count) : tapsY, "r");
  Expr kx = r.y, ky = r.z, u, v;
  if (sx == 1) {
    u = qx + pl - r.y * dlx;
  } else {
    Expr first = (px + pl) % sx;
    kx = first + sx * r.y;
    u = qx + (px + pl - first) / sx - r.y;
  }
  if (sy == 1) {
    v = qy + pt - r.z * dly;
  } else {
    Expr first = (py + pt) % sy;
    ky = first + sy * r.z;
    v = qy + (py + pt - first) / sy - r.z;
  }
  // Skip a phase's taps past the kernel or outside the live ones.
  Expr keep = Internal::const_true();
  if (sx > 1 && (kw % sx != 0 || tx.count < kw))
    keep = keep && kx >= int(tx.first) && kx < int(tx.first + tx.count);
  if (sy > 1 && (kh % sy != 0 || ty.count < kh))
    keep = keep && ky >= int(ty.first) && ky < int(ty.first + ty.count);
  if (!Internal::is_const_one(keep))
    r.where(keep);
  Func sum("conv_grad_input_sum");
  sum(c, qx, qy, px, py, n) = make_zero(t);
  // (The clamps change nothing the condition keeps; they tell bounds
  // inference that only the live taps are staged.)
  Expr stagedX =
      sx == 1 ? kx : clamp(kx, int(tx.first), int(tx.first + tx.count) - 1);
  Expr stagedY =
      sy == 1 ? ky : clamp(ky, int(ty.first), int(ty.first + ty.count) - 1);
  Expr dyValue = blockedDy ? k.padded(r.x, u, v, n) : k.padded(u, v, r.x, n);
  sum(c, qx, qy, px, py, n) +=
      k.staged(c % block, r.x, stagedX, stagedY, c / block) * dyValue;
  k.reduction = sum;
  k.rdom = r;
  k.output = Func("conv2d_grad_input");
  ImageParam mask;
  if (spec.relu) {
    mask = shapedInput(spec.inputs[2], "mask", t);
    k.inputs.push_back(mask);
  }
  defineActivation(k.output, spec.outputs[0], k,
                   [&](Expr x, Expr y, Expr c, Expr n) {
                     Expr value = sum(c, x / sx, y / sy, x % sx, y % sy, n);
                     if (!spec.relu)
                       return value;
                     return select(readAt(mask, spec.inputs[2], x, y, c, n) > 0,
                                   value, make_zero(t));
                   });
  k.outputs = {k.output};
  return k;
}

KernelFuncs convGradInput(const KernelSpec &spec, Type t) {
  if (spec.gemm)
    return fusedConvBlocked(spec, t);
  if (gradInputAsGemm(spec))
    return convGradInputGemm(spec, t);
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam dy = shapedInput(spec.inputs[0], "dy", t);
  ImageParam weight = shapedInput(spec.inputs[1], "weight", t);
  k.inputs = {dy, weight};
  const Shape &w = spec.inputs[1];
  int outChannels = int(w[0]), perGroup = int(w[1]);
  int outPerGroup = outChannels / int(spec.groups);
  k.padded = dilatedGradient(dy, spec.inputs[0], spec, t);
  TapRange tx = liveTaps(spec, 1), ty = liveTaps(spec, 0);
  RDom r(int(tx.first), int(tx.count), int(ty.first), int(ty.count), 0,
         outPerGroup, "r");
  // Input pixel x met output pixel u / stride through tap r.x.
  Expr u = x + int(spec.padding[1]) - r.x * int(spec.dilation[1]);
  Expr v = y + int(spec.padding[0]) - r.y * int(spec.dilation[0]);
  Expr group = c / perGroup;
  Expr o = spec.groups == 1 ? Expr(r.z) : group * outPerGroup + r.z;
  Expr ci = spec.groups == 1 ? Expr(c) : c % perGroup;
  Func sum("conv_grad_input_sum");
  sum(x, y, c, n) = make_zero(t);
  sum(x, y, c, n) += weight(r.x, r.y, ci, o) * k.padded(u, v, o, n);
  k.reduction = sum;
  k.rdom = r;
  k.output = Func("conv2d_grad_input");
  if (spec.relu) {
    ImageParam mask = shapedInput(spec.inputs[2], "mask", t);
    k.inputs.push_back(mask);
    k.output(x, y, c, n) =
        select(mask(x, y, c, n) > 0, sum(x, y, c, n), make_zero(t));
  } else {
    k.output(x, y, c, n) = sum(x, y, c, n);
  }
  k.outputs = {k.output};
  return k;
}

KernelFuncs convGradWeight(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  // Output (kx, ky, ci, o) of the weight's O x C/groups x KH x KW: a GEMM
  // over the output pixels (images, rows, columns) of dy (O of them per
  // pixel) and of the input's im2col columns (C/groups x KH x KW).
  Var kx = k.x, ky = k.y, ci = k.c, o = k.n;
  const Shape &inShape = spec.inputs[0], &outShape = spec.inputs[1];
  ImageParam input = shapedInput(inShape, "input", t);
  ImageParam dy = shapedInput(outShape, "dy", t);
  k.inputs = {input, dy};
  const Shape &w = spec.outputs[0];
  int perGroup = int(w[1]);
  int outPerGroup = int(w[0]) / int(spec.groups);
  // A blocked input is padded as it is (lanes unbounded), then read a
  // channel at a time: broadcasts.
  if (isBlocked(inShape) && readsPadding(spec))
    k.padded = BoundaryConditions::constant_exterior(
        input, make_zero(t),
        {{Expr(), Expr()}, {0, int(inShape[3])}, {0, int(inShape[2])}});
  else
    k.padded = zeroPadded(input, inShape, spec, make_zero(t));
  Var vo("o"), vx("ox"), vy("oy"), vn("n"), b("b");
  // dy with its channels innermost, so that one pixel's O values are one
  // contiguous run (a vector of output channels); a blocked dy has them
  // so already, a vector of 16 at a time (`staged` stays undefined).
  Func dyAt("dy_at");
  if (isBlocked(outShape)) {
    dyAt(vo, vx, vy, vn) = readAt(dy, outShape, vx, vy, vo, vn);
  } else {
    k.staged = Func("dy_channels_last");
    k.staged(vo, vx, vy, vn) = dy(vx, vy, vo, vn);
    dyAt = k.staged;
  }
  // Partial sums over blocks of whole images (see gradWeightBlockImages).
  int blockImages = int(gradWeightBlockImages(spec));
  int blocks = int(outShape[0]) / blockImages;
  RDom r(0, int(outShape[3]), 0, int(outShape[2]), 0, blockImages, "r");
  Expr image = b * blockImages + r.z;
  Expr c = spec.groups == 1 ? Expr(ci) : (o / outPerGroup) * perGroup + ci;
  // The partial sums cover the live taps only (liveTaps), indexed from
  // the first; the others' gradient is zero.
  TapRange tx = liveTaps(spec, 1), ty = liveTaps(spec, 0);
  Expr inX = r.x * int(spec.stride[1]) +
             (kx + int(tx.first)) * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = r.y * int(spec.stride[0]) +
             (ky + int(ty.first)) * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Func partial("conv_grad_weight_block");
  partial(o, kx, ky, ci, b) = make_zero(t);
  partial(o, kx, ky, ci, b) +=
      dyAt(o, r.x, r.y, image) * readAt(k.padded, inShape, inX, inY, c, image);
  k.auxiliary = partial;
  k.rdom = r;
  bool allLive = tx.count == w[3] && ty.count == w[2];
  auto fromBlock = [&](Expr block) -> Expr {
    if (allLive)
      return partial(o, kx, ky, ci, block);
    Expr jx = kx - int(tx.first), jy = ky - int(ty.first);
    Expr value = partial(o, clamp(jx, 0, int(tx.count) - 1),
                         clamp(jy, 0, int(ty.count) - 1), ci, block);
    return select(jx >= 0 && jx < int(tx.count) && jy >= 0 &&
                      jy < int(ty.count),
                  value, make_zero(t));
  };
  k.output = Func("conv2d_grad_weight");
  if (blocks == 1) {
    k.output(kx, ky, ci, o) = fromBlock(0);
  } else {
    k.blocks = RDom(0, blocks, "blocks");
    k.output(kx, ky, ci, o) = make_zero(t);
    k.output(kx, ky, ci, o) += fromBlock(k.blocks);
    k.reduction = k.output;
  }
  k.outputs = {k.output};
  return k;
}

/// The output pixels whose windows hold input pixel (x, y) through tap
/// (r.x, r.y), with whether that tap exists.
struct WindowHit {
  Expr ox, oy, valid;
};
WindowHit windowHit(const KernelSpec &spec, const Shape &outShape, Expr x,
                    Expr y, const RDom &r) {
  int sy = int(spec.stride[0]), sx = int(spec.stride[1]);
  Expr u = x + int(spec.padding[1]) - r.x * int(spec.dilation[1]);
  Expr v = y + int(spec.padding[0]) - r.y * int(spec.dilation[0]);
  Expr ox = u / sx, oy = v / sy;
  int ow = int(outShape[3]), oh = int(outShape[2]);
  Expr valid = ox >= 0 && ox < ow && oy >= 0 && oy < oh;
  if (sx != 1)
    valid = valid && u % sx == 0;
  if (sy != 1)
    valid = valid && v % sy == 0;
  return {clamp(ox, 0, ow - 1), clamp(oy, 0, oh - 1), valid};
}

/// The window of a max pool at output pixel (ox, oy): its first in-bounds
/// position along each dimension (where PyTorch's running maximum starts)
/// and the input position of each of its taps (`taps`).
struct PoolWindow {
  Var ox{"ox"}, oy{"oy"};
  RDom taps;
  Expr firstX, firstY, ix, iy;
};
PoolWindow poolWindow(const KernelSpec &spec) {
  PoolWindow win;
  int sy = int(spec.stride[0]), sx = int(spec.stride[1]);
  int dly = int(spec.dilation[0]), dlx = int(spec.dilation[1]);
  Expr x0 = win.ox * sx - int(spec.padding[1]);
  Expr y0 = win.oy * sy - int(spec.padding[0]);
  win.firstX = select(x0 < 0, x0 + ((dlx - 1 - x0) / dlx) * dlx, x0);
  win.firstY = select(y0 < 0, y0 + ((dly - 1 - y0) / dly) * dly, y0);
  win.taps = RDom(0, int(spec.window[1]), 0, int(spec.window[0]), "r");
  win.ix = x0 + win.taps.x * dlx;
  win.iy = y0 + win.taps.y * dly;
  return win;
}

KernelFuncs maxPoolGrad(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  const Shape &outShape = spec.inputs[0], &inShape = spec.inputs[1];
  ImageParam dy = shapedInput(outShape, "dy", t);
  ImageParam input = shapedInput(inShape, "input", t);
  k.inputs = {dy, input};
  int h = int(inShape[2]), w = int(inShape[3]);
  int kh = int(spec.window[0]), kw = int(spec.window[1]);
  int sy = int(spec.stride[0]), sx = int(spec.stride[1]);
  int dly = int(spec.dilation[0]), dlx = int(spec.dilation[1]);

  // PyTorch's CPU rule: the first in-bounds element in scan order (rows
  // outer) whose value beats the running maximum, or is NaN; the index
  // starts at the window's first in-bounds element.
  PoolWindow win = poolWindow(spec);
  Var ox = win.ox, oy = win.oy;
  Expr firstX = win.firstX, firstY = win.firstY, ix = win.ix, iy = win.iy;
  // Outside the input the windows read -inf, which never beats the running
  // maximum (a window always holds an element of the input): the same
  // choice as testing each tap, without clamped (gathered) loads.
  int ow = int(outShape[3]), oh = int(outShape[2]);
  bool reachesOut = spec.padding[0] > 0 || spec.padding[1] > 0 ||
                    (ow - 1) * sx - spec.padding[1] + (kw - 1) * dlx >= w ||
                    (oh - 1) * sy - spec.padding[0] + (kh - 1) * dly >= h;
  if (reachesOut) {
    k.padded = BoundaryConditions::constant_exterior(
        input, constant(t, -INFINITY), {{0, w}, {0, h}});
  } else {
    k.padded = Func("unpadded");
    k.padded(x, y, c, n) = input(x, y, c, n);
  }
  Expr value = k.padded(ix, iy, c, n);
  Func argmax("window_argmax");
  // Starting from the first in-bounds element's value picks the same
  // element as starting from -inf.
  argmax(ox, oy, c, n) =
      Tuple(firstY * w + firstX,
            input(clamp(firstX, 0, w - 1), clamp(firstY, 0, h - 1), c, n));
  Expr better = value > argmax(ox, oy, c, n)[1] || is_nan(value);
  argmax(ox, oy, c, n) =
      Tuple(select(better, iy * w + ix, argmax(ox, oy, c, n)[0]),
            select(better, value, argmax(ox, oy, c, n)[1]));
  k.auxiliary = argmax;

  // Each window adds its dy to its maximum: a scatter over the windows,
  // with every (c, n) plane independent.
  // (Into a stage of its own, so that a schedule can zero and fill one
  // plane while it is in cache.)
  RDom windows(0, int(outShape[3]), 0, int(outShape[2]), "windows");
  Expr at = argmax(windows.x, windows.y, c, n)[0];
  // The plane flattened: the index of the maximum is its address.
  Var i("i");
  Func scatter("max_pool2d_grad_scatter");
  scatter(i, c, n) = make_zero(t);
  scatter(clamp(at, 0, h * w - 1), c, n) += dy(windows.x, windows.y, c, n);
  k.reduction = scatter;
  k.rdom = windows;
  k.output = Func("max_pool2d_grad");
  k.output(x, y, c, n) = scatter(y * w + x, c, n);
  k.outputs = {k.output};
  return k;
}

/// The same of channel-blocked operands, vectorizable along the lanes: each
/// window's first maximum, then each input pixel gathers dy from the
/// windows holding it whose maximum it is (a scatter, of lanes that may
/// collide, would not vectorize).
KernelFuncs maxPoolGradBlocked(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var lane = k.lane, x = k.x, y = k.y, c = k.c, n = k.n;
  const Shape &outShape = spec.inputs[0], &inShape = spec.inputs[1];
  ImageParam dy = shapedInput(outShape, "dy", t);
  ImageParam input = shapedInput(inShape, "input", t);
  k.inputs = {dy, input};
  int h = int(inShape[2]), w = int(inShape[3]);
  int kh = int(spec.window[0]), kw = int(spec.window[1]);
  // PyTorch's CPU rule, as maxPoolGrad: the first in-bounds element in scan
  // order whose value beats the running maximum, or is NaN. Taps outside
  // the input are skipped by a test common to the lanes.
  PoolWindow win = poolWindow(spec);
  Var ox = win.ox, oy = win.oy;
  Expr firstX = win.firstX, firstY = win.firstY, ix = win.ix, iy = win.iy;
  Expr inside = ix >= 0 && ix < w && iy >= 0 && iy < h;
  Expr value = input(lane, clamp(ix, 0, w - 1), clamp(iy, 0, h - 1), c, n);
  Func argmax("window_argmax");
  argmax(lane, ox, oy, c, n) =
      Tuple(firstY * w + firstX, input(lane, clamp(firstX, 0, w - 1),
                                       clamp(firstY, 0, h - 1), c, n));
  Expr better =
      inside && (value > argmax(lane, ox, oy, c, n)[1] || is_nan(value));
  argmax(lane, ox, oy, c, n) =
      Tuple(select(better, iy * w + ix, argmax(lane, ox, oy, c, n)[0]),
            select(better, value, argmax(lane, ox, oy, c, n)[1]));
  k.auxiliary = argmax;
  RDom taps(0, kw, 0, kh, "taps");
  WindowHit hit = windowHit(spec, outShape, x, y, taps);
  taps.where(hit.valid);
  Func gathered("max_pool2d_grad_gather");
  gathered(lane, x, y, c, n) = make_zero(t);
  gathered(lane, x, y, c, n) +=
      select(argmax(lane, hit.ox, hit.oy, c, n)[0] == y * w + x,
             dy(lane, hit.ox, hit.oy, c, n), make_zero(t));
  k.reduction = gathered;
  k.rdom = taps;
  k.output = Func("max_pool2d_grad");
  k.output(lane, x, y, c, n) = gathered(lane, x, y, c, n);
  k.outputs = {k.output};
  return k;
}

KernelFuncs avgPoolGrad(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  const Shape &outShape = spec.inputs[0], &inShape = spec.outputs[0];
  ImageParam dy = shapedInput(outShape, "dy", t);
  k.inputs = {dy};
  RDom taps(0, int(spec.window[1]), 0, int(spec.window[0]), "taps");
  WindowHit hit = windowHit(spec, outShape, x, y, taps);
  Func sum("avg_pool_grad_sum");
  sum(x, y, c, n) = make_zero(t);
  sum(x, y, c, n) +=
      select(hit.valid,
             dy(hit.ox, hit.oy, c, n) /
                 cast(t, poolDivisor(spec, inShape, hit.ox, hit.oy)),
             make_zero(t));
  k.reduction = sum;
  k.rdom = taps;
  k.output = Func("avg_pool2d_grad");
  k.output(x, y, c, n) = sum(x, y, c, n);
  k.outputs = {k.output};
  return k;
}

KernelFuncs linearGrad(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var &i = k.x, &j = k.y;
  ImageParam dy = shapedInput(spec.inputs[0], "dy", t);
  int rows = int(spec.inputs[0][0]), outs = int(spec.inputs[0][1]);
  Func dot("dot");
  dot(i, j) = make_zero(t);
  if (spec.kind == KernelKind::LinearGradInput) {
    // dx(k, n) = sum_m dy(m, n) w(k, m).
    ImageParam weight = shapedInput(spec.inputs[1], "weight", t);
    k.inputs = {dy, weight};
    RDom r(0, outs, "r");
    dot(i, j) += dy(r, j) * weight(i, r);
    k.rdom = r;
    k.output = Func("linear_grad_input");
  } else {
    // dw(k, m) = sum_n dy(m, n) x(k, n).
    ImageParam input = shapedInput(spec.inputs[1], "input", t);
    k.inputs = {dy, input};
    RDom r(0, rows, "r");
    dot(i, j) += dy(j, r) * input(i, r);
    k.rdom = r;
    k.output = Func("linear_grad_weight");
  }
  k.reduction = dot;
  k.output(i, j) = dot(i, j);
  k.outputs = {k.output};
  return k;
}

KernelFuncs biasGrad(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  const Shape &shape = spec.inputs[0];
  ImageParam dy = shapedInput(shape, "dy", t);
  k.inputs = {dy};
  Var c = k.c;
  k.output = Func("bias_grad");
  if (shape.size() == 4) {
    ChannelSum sum = channelSum(
        shape,
        [&](Expr x, Expr y, Expr c, Expr n) -> std::vector<Expr> {
          return {dy(x, y, c, n)};
        },
        t, "sum");
    k.channelSums = {sum};
    k.output(c) = sum.total(c);
  } else {
    // [N, C]: sum over n, vectorizable along c.
    RDom r(0, int(shape[0]), "r");
    Func sum("sum");
    sum(c) = make_zero(t);
    sum(c) += dy(c, r);
    k.reduction = sum;
    k.rdom = r;
    k.output(c) = sum(c);
  }
  k.outputs = {k.output};
  return k;
}

KernelFuncs crossEntropy(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  Var c = k.x, n = k.y;
  const Shape &shape = spec.inputs[0];
  int batch = int(shape[0]), classes = int(shape[1]);
  ImageParam logits = shapedInput(shape, "logits", t);
  ImageParam labels = shapedInput(spec.inputs[1], "labels", Int(32));
  k.inputs = {logits, labels};
  RDom r(0, classes, "r");
  Func largest("largest"), total("total");
  largest(n) = t.min();
  largest(n) = max(largest(n), logits(r, n));
  total(n) = make_zero(t);
  total(n) += exp(logits(r, n) - largest(n));
  k.auxiliary = largest;
  k.reduction = total;
  Expr label = clamp(labels(n), 0, classes - 1);
  if (spec.kind == KernelKind::CrossEntropy) {
    Func perImage("per_image_loss");
    perImage(n) = log(total(n)) + largest(n) - logits(label, n);
    RDom images(0, batch, "images");
    Func lossSum("loss_sum");
    lossSum() = make_zero(t);
    lossSum() += perImage(images);
    k.rdom = images;
    k.output = Func("softmax_cross_entropy");
    k.output() = lossSum() / constant(t, double(batch));
    k.outputs = {k.output};
    return k;
  }
  k.output = Func("softmax_cross_entropy_grad");
  Expr softmax = exp(logits(c, n) - largest(n)) / total(n);
  k.output(c, n) =
      (softmax - select(c == label, make_const(t, 1), make_zero(t))) /
      constant(t, double(batch));
  k.outputs = {k.output};
  return k;
}

KernelFuncs trainingElementwise(const KernelSpec &spec, Type t) {
  KernelFuncs k;
  const Shape &shape = spec.outputs[0];
  int rank = int(shape.size());
  std::vector<Var> vars(rank);
  std::vector<Expr> at(vars.begin(), vars.end());
  k.output = Func(kernelKindName(spec.kind));
  switch (spec.kind) {
  case KernelKind::ReluGrad: {
    ImageParam dy = shapedInput(spec.inputs[0], "dy", t);
    ImageParam out = shapedInput(spec.inputs[1], "relu_output", t);
    k.inputs = {dy, out};
    k.output(vars) = select(out(at) > 0, dy(at), make_zero(t));
    break;
  }
  case KernelKind::GlobalAvgPoolGrad: {
    ImageParam dy = shapedInput(spec.inputs[0], "dy", t);
    k.inputs = {dy};
    Expr zero = 0, count = constant(t, double(shape[2] * shape[3]));
    if (isBlocked(shape)) // (lane, x, y, block, n)
      k.output(vars) =
          dy(zero, zero, at[3] * int(kChannelBlock) + at[0], at[4]) / count;
    else
      k.output(vars) = dy(zero, zero, at[2], at[3]) / count;
    break;
  }
  case KernelKind::PadGrad: {
    ImageParam dy = shapedInput(spec.inputs[0], "dy", t);
    k.inputs = {dy};
    std::vector<Expr> src(rank);
    for (int d = 0; d < rank; ++d)
      src[d] = at[d] + int(spec.low[rank - 1 - d]);
    k.output(vars) = dy(src);
    break;
  }
  case KernelKind::SgdUpdate: {
    ImageParam param = shapedInput(spec.inputs[0], "param", t);
    ImageParam grad = shapedInput(spec.inputs[1], "grad", t);
    ImageParam buffer = shapedInput(spec.inputs[2], "momentum_buffer", t);
    ImageParam lr = shapedInput(spec.inputs[3], "lr", t);
    k.inputs = {param, grad, buffer, lr};
    Expr p = param(at);
    Expr d = grad(at);
    if (spec.weightDecay != 0)
      d += constant(t, spec.weightDecay) * p;
    Expr m = constant(t, spec.momentum);
    Expr newBuffer = m * buffer(at) + d;
    Expr step = spec.nesterov ? d + m * newBuffer : newBuffer;
    // One Tuple: both results may overwrite their inputs.
    k.output(vars) = Tuple(p - lr(std::vector<Expr>{}) * step, newBuffer);
    break;
  }
  default:
    break;
  }
  k.outputs = {k.output};
  return k;
}

} // namespace

int64_t gradInputChannelBlock(const KernelSpec &spec) {
  int64_t channels = channelsOf(spec.outputs[0]);
  return channels % 32 == 0 ? 32 : channels;
}

int64_t gradWeightBlockImages(const KernelSpec &spec) {
  // At most 4K pixels per block (at least one image): a tile of 64 output
  // channels then reads at most 1 MB of staged dy per block, which stays
  // in a core's L2 while the weight tiles of the block sweep it.
  constexpr int64_t kBlockPixels = 4096;
  const Shape &dy = spec.inputs[1];
  int64_t images = dy[0], pixels = dy[2] * dy[3];
  int64_t best = 1;
  for (int64_t b = 1; b <= images; ++b)
    if (images % b == 0 && b * pixels <= kBlockPixels)
      best = b;
  return best;
}

KernelFuncs defineKernel(const KernelSpec &spec, Type type) {
  KernelFuncs k;
  switch (spec.kind) {
  case KernelKind::FusedConv:
    k = spec.gemm ? fusedConvBlocked(spec, type) : fusedConv(spec, type);
    break;
  case KernelKind::BlockWeights:
    k = blockWeights(spec, type);
    break;
  case KernelKind::MaxPool:
    if (isBlocked(spec.outputs[0])) {
      k = maxPoolBlocked(spec, type);
      break;
    }
    k = pool(spec, type);
    break;
  case KernelKind::AvgPool:
    k = pool(spec, type);
    break;
  case KernelKind::GlobalAvgPool:
    k = globalAvgPool(spec, type);
    break;
  case KernelKind::Linear:
    k = linear(spec, type);
    break;
  case KernelKind::Softmax:
    k = softmax(spec, type);
    break;
  case KernelKind::FoldBatchNorm:
    k = foldBatchNorm(spec, type);
    break;
  case KernelKind::Pad:
  case KernelKind::Add:
  case KernelKind::Relu:
  case KernelKind::BatchNorm:
    k = elementwise(spec, type);
    break;
  case KernelKind::BatchNormTrain:
    k = batchNormTrain(spec, type);
    break;
  case KernelKind::BatchNormGrad:
    k = batchNormGrad(spec, type);
    break;
  case KernelKind::RunningStats:
    k = runningStats(spec, type);
    break;
  case KernelKind::ConvGradInput:
    k = convGradInput(spec, type);
    break;
  case KernelKind::ConvGradWeight:
    k = convGradWeight(spec, type);
    break;
  case KernelKind::MaxPoolGrad:
    k = isBlocked(spec.outputs[0]) ? maxPoolGradBlocked(spec, type)
                                   : maxPoolGrad(spec, type);
    break;
  case KernelKind::AvgPoolGrad:
    k = avgPoolGrad(spec, type);
    break;
  case KernelKind::LinearGradInput:
  case KernelKind::LinearGradWeight:
    k = linearGrad(spec, type);
    break;
  case KernelKind::BiasGrad:
    k = biasGrad(spec, type);
    break;
  case KernelKind::CrossEntropy:
  case KernelKind::CrossEntropyGrad:
    k = crossEntropy(spec, type);
    break;
  case KernelKind::ReluGrad:
  case KernelKind::GlobalAvgPoolGrad:
  case KernelKind::PadGrad:
  case KernelKind::SgdUpdate:
    k = trainingElementwise(spec, type);
    break;
  }
  if (k.outputs.empty())
    k.outputs = {k.output};
  return k;
}

} // namespace algorithms
} // namespace resnetc
