//===- Algorithms.cpp - Halide algorithms of resnetc's kernels ------------===//
#include "schedules/algorithms/Algorithms.h"

using namespace Halide;

namespace resnetc {
namespace algorithms {

ImageParam shapedInput(const Shape &shape, const std::string &name) {
  int rank = static_cast<int>(shape.size());
  ImageParam param(Float(32), rank, name);
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    int64_t extent = shape[rank - 1 - d];
    param.dim(d).set_bounds(0, static_cast<int>(extent));
    param.dim(d).set_stride(static_cast<int>(stride));
    stride *= extent;
  }
  return param;
}

void constrainOutput(Func output, const Shape &shape) {
  int rank = static_cast<int>(shape.size());
  OutputImageParam buffer = output.output_buffer();
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    int64_t extent = shape[rank - 1 - d];
    buffer.dim(d).set_bounds(0, static_cast<int>(extent));
    buffer.dim(d).set_stride(static_cast<int>(stride));
    stride *= extent;
  }
}

namespace {

/// The input read through zero padding on its spatial dimensions, when the
/// window op pads; the input itself otherwise.
Func zeroPadded(const ImageParam &input, const KernelSpec &spec,
                float value) {
  bool pads = false;
  for (int64_t p : spec.padding)
    pads |= p != 0;
  if (!pads) {
    Func same("unpadded");
    same(_) = input(_);
    return same;
  }
  const Shape &shape = spec.inputs[0];
  return BoundaryConditions::constant_exterior(
      input, value,
      {{0, static_cast<int>(shape[3])}, {0, static_cast<int>(shape[2])}});
}

KernelFuncs fusedConv(const KernelSpec &spec) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam input = shapedInput(spec.inputs[0], "input");
  ImageParam weight = shapedInput(spec.inputs[1], "weight");
  k.inputs = {input, weight};
  const Shape &w = spec.inputs[1];
  int outChannels = static_cast<int>(w[0]), perGroup = static_cast<int>(w[1]);
  int kh = static_cast<int>(w[2]), kw = static_cast<int>(w[3]);
  int groups = static_cast<int>(spec.groups);

  k.padded = zeroPadded(input, spec, 0.0f);
  RDom r(0, kw, 0, kh, 0, perGroup, "r");
  Expr inX = x * int(spec.stride[1]) + r.x * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = y * int(spec.stride[0]) + r.y * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Expr inC = groups == 1 ? Expr(r.z)
                         : (c / (outChannels / groups)) * perGroup + r.z;

  Func conv("conv");
  Expr init = 0.0f;
  if (spec.hasBias) {
    ImageParam bias = shapedInput(spec.inputs[2], "bias");
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
        shapedInput(spec.inputs[spec.hasBias ? 3 : 2], "residual");
    k.inputs.push_back(residual);
    value += residual(x, y, c, n);
  }
  if (spec.relu)
    value = max(value, 0.0f);
  k.output = Func("fused_conv2d");
  k.output(x, y, c, n) = value;
  return k;
}

KernelFuncs pool(const KernelSpec &spec) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam input = shapedInput(spec.inputs[0], "input");
  k.inputs = {input};
  bool isMax = spec.kind == KernelKind::MaxPool;
  k.padded = zeroPadded(input, spec, isMax ? -INFINITY : 0.0f);
  int kh = int(spec.window[0]), kw = int(spec.window[1]);
  RDom r(0, kw, 0, kh, "r");
  Expr inX = x * int(spec.stride[1]) + r.x * int(spec.dilation[1]) -
             int(spec.padding[1]);
  Expr inY = y * int(spec.stride[0]) + r.y * int(spec.dilation[0]) -
             int(spec.padding[0]);
  Func reduce(isMax ? "max_window" : "sum_window");
  if (isMax) {
    reduce(x, y, c, n) = Float(32).min();
    reduce(x, y, c, n) = max(reduce(x, y, c, n), k.padded(inX, inY, c, n));
  } else {
    reduce(x, y, c, n) = 0.0f;
    reduce(x, y, c, n) += k.padded(inX, inY, c, n);
  }
  k.reduction = reduce;
  k.rdom = r;
  k.output = Func(isMax ? "max_pool2d" : "avg_pool2d");
  if (isMax) {
    k.output(x, y, c, n) = reduce(x, y, c, n);
    return k;
  }
  // PyTorch's divisor: the window clipped to the padded input with
  // count_include_pad, to the input itself without.
  const Shape &shape = spec.inputs[0];
  int h = int(shape[2]), wd = int(shape[3]);
  Expr y0 = y * int(spec.stride[0]) - int(spec.padding[0]);
  Expr x0 = x * int(spec.stride[1]) - int(spec.padding[1]);
  Expr y1 = y0 + kh, x1 = x0 + kw;
  Expr count;
  if (spec.countIncludePad) {
    count = (min(y1, h + int(spec.padding[2])) - y0) *
            (min(x1, wd + int(spec.padding[3])) - x0);
  } else {
    count = (min(y1, h) - max(y0, 0)) * (min(x1, wd) - max(x0, 0));
  }
  k.output(x, y, c, n) = reduce(x, y, c, n) / cast<float>(count);
  return k;
}

KernelFuncs globalAvgPool(const KernelSpec &spec) {
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam input = shapedInput(spec.inputs[0], "input");
  k.inputs = {input};
  const Shape &shape = spec.inputs[0];
  RDom r(0, int(shape[3]), 0, int(shape[2]), "r");
  Func sum("sum");
  sum(c, n) = 0.0f;
  sum(c, n) += input(r.x, r.y, c, n);
  k.reduction = sum;
  k.rdom = r;
  k.output = Func("global_avg_pool");
  k.output(x, y, c, n) = sum(c, n) / float(shape[2] * shape[3]);
  return k;
}

KernelFuncs linear(const KernelSpec &spec) {
  KernelFuncs k;
  Var &m = k.x, &n = k.y;
  ImageParam input = shapedInput(spec.inputs[0], "input");
  ImageParam weight = shapedInput(spec.inputs[1], "weight");
  k.inputs = {input, weight};
  RDom r(0, int(spec.inputs[0][1]), "r");
  Func dot("dot");
  Expr init = 0.0f;
  if (spec.hasBias) {
    ImageParam bias = shapedInput(spec.inputs[2], "bias");
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

KernelFuncs softmax(const KernelSpec &spec) {
  KernelFuncs k;
  const Shape &shape = spec.inputs[0];
  int rank = int(shape.size());
  int axis = int(spec.axis < 0 ? spec.axis + rank : spec.axis);
  int dim = rank - 1 - axis; // Halide's index of the softmax dimension
  ImageParam input = shapedInput(shape, "input");
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
  largest(outer) = Float(32).min();
  largest(outer) = max(largest(outerArgs), input(along(r)));
  total(outer) = 0.0f;
  total(outer) += exp(input(along(r)) - largest(outerArgs));
  k.reduction = total;
  k.auxiliary = largest;
  k.output = Func("softmax");
  k.output(vars) = exp(input(at) - largest(outerArgs)) / total(outerArgs);
  return k;
}

KernelFuncs foldBatchNorm(const KernelSpec &spec) {
  // Two results, the folded weight and bias: a pipeline of two outputs.
  KernelFuncs k;
  Var x = k.x, y = k.y, c = k.c, n = k.n;
  ImageParam weight = shapedInput(spec.inputs[0], "weight");
  ImageParam gamma = shapedInput(spec.inputs[1], "gamma");
  ImageParam beta = shapedInput(spec.inputs[2], "beta");
  ImageParam mean = shapedInput(spec.inputs[3], "running_mean");
  ImageParam var = shapedInput(spec.inputs[4], "running_var");
  k.inputs = {weight, gamma, beta, mean, var};
  Expr bias = 0.0f;
  if (spec.hasBias) {
    ImageParam b = shapedInput(spec.inputs[5], "bias");
    k.inputs.push_back(b);
    bias = b(n);
  }
  Func scale("scale");
  scale(n) = gamma(n) / sqrt(var(n) + float(spec.epsilon));
  k.reduction = scale;
  k.output = Func("folded_weight");
  k.output(x, y, c, n) = weight(x, y, c, n) * scale(n);
  k.secondOutput = Func("folded_bias");
  k.secondOutput(n) = (bias - mean(n)) * scale(n) + beta(n);
  return k;
}

KernelFuncs elementwise(const KernelSpec &spec) {
  KernelFuncs k;
  const Shape &shape = spec.inputs[0];
  int rank = int(shape.size());
  std::vector<Var> vars(rank);
  std::vector<Expr> at(vars.begin(), vars.end());
  ImageParam input = shapedInput(shape, "input");
  k.inputs = {input};
  k.output = Func(kernelKindName(spec.kind));
  switch (spec.kind) {
  case KernelKind::Add: {
    ImageParam other = shapedInput(spec.inputs[1], "other");
    k.inputs.push_back(other);
    k.output(vars) = input(at) + other(at);
    break;
  }
  case KernelKind::Relu:
    k.output(vars) = max(input(at), 0.0f);
    break;
  case KernelKind::BatchNorm: {
    std::vector<ImageParam> p;
    for (const char *name : {"weight", "bias", "running_mean", "running_var"})
      p.push_back(shapedInput(spec.inputs[1 + p.size()], name));
    k.inputs.insert(k.inputs.end(), p.begin(), p.end());
    Expr ch = vars[rank - 2];
    k.output(vars) = (input(at) - p[2](ch)) /
                         sqrt(p[3](ch) + float(spec.epsilon)) * p[0](ch) +
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
    k.output(vars) = select(inside, input(clamped), 0.0f);
    break;
  }
  default:
    break;
  }
  return k;
}

} // namespace

KernelFuncs defineKernel(const KernelSpec &spec) {
  switch (spec.kind) {
  case KernelKind::FusedConv:
    return fusedConv(spec);
  case KernelKind::MaxPool:
  case KernelKind::AvgPool:
    return pool(spec);
  case KernelKind::GlobalAvgPool:
    return globalAvgPool(spec);
  case KernelKind::Linear:
    return linear(spec);
  case KernelKind::Softmax:
    return softmax(spec);
  case KernelKind::FoldBatchNorm:
    return foldBatchNorm(spec);
  case KernelKind::Pad:
  case KernelKind::Add:
  case KernelKind::Relu:
  case KernelKind::BatchNorm:
    return elementwise(spec);
  }
  return {};
}

} // namespace algorithms
} // namespace resnetc
