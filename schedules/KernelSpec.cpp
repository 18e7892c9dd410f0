//===- KernelSpec.cpp - What one generated kernel computes ------*- C++ -*-===//
#include "schedules/KernelSpec.h"

#include <sstream>

namespace resnetc {

const char *kernelKindName(KernelKind kind) {
  switch (kind) {
  case KernelKind::FusedConv:
    return "fused_conv2d";
  case KernelKind::MaxPool:
    return "max_pool2d";
  case KernelKind::AvgPool:
    return "avg_pool2d";
  case KernelKind::GlobalAvgPool:
    return "global_avg_pool";
  case KernelKind::Linear:
    return "linear";
  case KernelKind::Softmax:
    return "softmax";
  case KernelKind::FoldBatchNorm:
    return "fold_batch_norm";
  case KernelKind::Pad:
    return "pad";
  case KernelKind::Add:
    return "add";
  case KernelKind::Relu:
    return "relu";
  case KernelKind::BatchNorm:
    return "batch_norm";
  case KernelKind::BlockWeights:
    return "block_weights";
  case KernelKind::BatchNormTrain:
    return "batch_norm_train";
  case KernelKind::BatchNormGrad:
    return "batch_norm_grad";
  case KernelKind::RunningStats:
    return "running_stats_update";
  case KernelKind::ConvGradInput:
    return "conv2d_grad_input";
  case KernelKind::ConvGradWeight:
    return "conv2d_grad_weight";
  case KernelKind::ReluGrad:
    return "relu_grad";
  case KernelKind::MaxPoolGrad:
    return "max_pool2d_grad";
  case KernelKind::AvgPoolGrad:
    return "avg_pool2d_grad";
  case KernelKind::GlobalAvgPoolGrad:
    return "global_avg_pool_grad";
  case KernelKind::LinearGradInput:
    return "linear_grad_input";
  case KernelKind::LinearGradWeight:
    return "linear_grad_weight";
  case KernelKind::BiasGrad:
    return "bias_grad";
  case KernelKind::CrossEntropy:
    return "softmax_cross_entropy";
  case KernelKind::CrossEntropyGrad:
    return "softmax_cross_entropy_grad";
  case KernelKind::PadGrad:
    return "pad_grad";
  case KernelKind::SgdUpdate:
    return "sgd_update";
  }
  return "unknown";
}

Shape blockedShape(const Shape &nchw) {
  return {nchw[0], nchw[1] / kChannelBlock, nchw[2], nchw[3], kChannelBlock};
}

Shape blockedWeightShape(const Shape &oihw, bool blockedInput) {
  int64_t perBlock = blockedInput ? kChannelBlock : oihw[1];
  return {oihw[0] / kChannelBlock, oihw[1] / perBlock, oihw[2], oihw[3],
          perBlock, kChannelBlock};
}

namespace {
/// A convolution's image, output and kernel extents along dimension d,
/// whichever of its operands and results hold them (activation and weight
/// shapes, blocked or not, keep H and W at indices 2 and 3).
struct WindowExtents {
  int64_t image, output, kernel;
};
WindowExtents windowExtents(const KernelSpec &spec, int d) {
  int i = 2 + d;
  switch (spec.kind) {
  case KernelKind::ConvGradInput: // [dy, weight] -> [dx]
    return {spec.outputs[0][i], spec.inputs[0][i], spec.inputs[1][i]};
  case KernelKind::ConvGradWeight: // [x, dy] -> [dweight]
    return {spec.inputs[0][i], spec.inputs[1][i], spec.outputs[0][i]};
  default: // [x, weight, ...] -> [y]
    return {spec.inputs[0][i], spec.outputs[0][i], spec.inputs[1][i]};
  }
}

/// The image positions output pixels read through tap k: o * stride +
/// k * dilation - padding for o in [0, output).
template <typename Visit>
void forEachRead(const KernelSpec &spec, int d, const WindowExtents &e,
                 int64_t k, Visit visit) {
  for (int64_t o = 0; o < e.output; ++o)
    visit(o * spec.stride[d] + k * spec.dilation[d] - spec.padding[d]);
}
} // namespace

TapRange liveTaps(const KernelSpec &spec, int d) {
  WindowExtents e = windowExtents(spec, d);
  int64_t first = -1, last = -1;
  for (int64_t k = 0; k < e.kernel; ++k) {
    bool live = false;
    forEachRead(spec, d, e, k,
                [&](int64_t at) { live |= at >= 0 && at < e.image; });
    if (live) {
      if (first < 0)
        first = k;
      last = k;
    }
  }
  if (first < 0) // no tap meets the image: keep one, it reads zeros
    return {0, 1};
  return {first, last - first + 1};
}

bool readsPadding(const KernelSpec &spec) {
  for (int d = 0; d < 2; ++d) {
    WindowExtents e = windowExtents(spec, d);
    TapRange taps = liveTaps(spec, d);
    bool outside = false;
    for (int64_t k = taps.first; k < taps.first + taps.count; ++k)
      forEachRead(spec, d, e, k,
                  [&](int64_t at) { outside |= at < 0 || at >= e.image; });
    if (outside)
      return true;
  }
  return false;
}

bool gradInputAsGemm(const KernelSpec &spec) {
  // (Strides with dilations would need phases of several taps' period.)
  return spec.groups == 1 && (spec.stride[0] == 1 || spec.dilation[0] == 1) &&
         (spec.stride[1] == 1 || spec.dilation[1] == 1);
}

bool gradInputIsConvolution(const KernelSpec &spec) {
  const Shape &w = spec.inputs[1], &dx = spec.outputs[0];
  if (spec.kind != KernelKind::ConvGradInput || spec.groups != 1 ||
      spec.stride[0] != 1 || spec.stride[1] != 1 ||
      channelsOf(dx) % kChannelBlock != 0)
    return false;
  for (int d = 0; d < 2; ++d) {
    int64_t span = (w[2 + d] - 1) * spec.dilation[d];
    if (spec.padding[d] > span || spec.padding[d + 2] > span)
      return false;
  }
  return true;
}

KernelSpec gradInputAsConvolution(const KernelSpec &spec) {
  const Shape &w = spec.inputs[1];
  KernelSpec conv = spec;
  conv.kind = KernelKind::FusedConv;
  conv.inputs = {spec.inputs[0], {w[1], w[0], w[2], w[3]}};
  conv.outputs = {spec.outputs[0]};
  int64_t spanY = (w[2] - 1) * spec.dilation[0],
          spanX = (w[3] - 1) * spec.dilation[1];
  conv.padding = {spanY - spec.padding[0], spanX - spec.padding[1],
                  spanY - spec.padding[2], spanX - spec.padding[3]};
  conv.relu = false;
  conv.hasBias = false;
  conv.hasResidual = false;
  conv.gemm = true;
  return conv;
}

int64_t numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {
void print(std::ostream &os, const std::vector<int64_t> &values) {
  os << '[';
  for (size_t i = 0; i < values.size(); ++i)
    os << (i ? "," : "") << values[i];
  os << ']';
}
} // namespace

std::string KernelSpec::key() const {
  std::ostringstream os;
  os.precision(17);
  os << kernelKindName(kind) << " in";
  for (const Shape &s : inputs)
    print(os, s);
  os << " out";
  for (const Shape &s : outputs)
    print(os, s);
  os << " win";
  print(os, window);
  os << " s";
  print(os, stride);
  os << " p";
  print(os, padding);
  os << " d";
  print(os, dilation);
  os << " g" << groups << " r" << relu << " b" << hasBias << " res"
     << hasResidual << (gemm ? " gemm" : "") << " ceil" << ceilMode << " cip" << countIncludePad
     << " axis" << axis << " eps" << epsilon << " train" << training
     << " mom" << momentum << " wd" << weightDecay << " nest" << nesterov
     << " count" << count << " low";
  print(os, low);
  os << " high";
  print(os, high);
  return os.str();
}

} // namespace resnetc
