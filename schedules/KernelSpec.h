//===- KernelSpec.h - What one generated kernel computes --------*- C++ -*-===//
//
// A kernel as the code generator sees it: its kind, the exact shapes of its
// operands and results (row-major: NCHW activations, or channel-blocked
// NCHW16c ones of rank 5, see below), and the
// attributes of the op it implements. Plain C++: the MLIR side fills it in,
// the Halide side (schedules/) turns it into code, and neither sees the
// other's headers. Identical specs share one compiled kernel.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_SCHEDULES_KERNELSPEC_H
#define RESNETC_SCHEDULES_KERNELSPEC_H

#include <cstdint>
#include <string>
#include <vector>

namespace resnetc {

enum class KernelKind {
  FusedConv,     ///< relu?(conv2d(x, w) + bias? + residual?)
  MaxPool,       ///< max_pool2d
  AvgPool,       ///< avg_pool2d
  GlobalAvgPool, ///< NxCxHxW -> NxCx1x1
  Linear,        ///< x * w^T + bias?
  Softmax,       ///< along `axis`
  FoldBatchNorm, ///< @init: conv weights and bias with a batch norm folded in
  Pad,           ///< zero padding
  Add,           ///< elementwise sum
  Relu,          ///< max(x, 0)
  BatchNorm,     ///< inference batch norm not folded into a convolution
  BlockWeights,  ///< @init: OIHW weights -> the blocked layout a convolution
                 ///< with a channel-blocked result reads (blockedWeightShape)

  // Training (resnet-autodiff). Operands and results in the op's order;
  // `relu` on a gradient kernel means it takes one more input, `mask`, last:
  // the output of a forward ReLU, whose gradient (mask > 0) it applies.
  BatchNormTrain,    ///< [x, gamma, beta, residual?] -> [y, batch_mean,
                     ///< batch_var (biased)]; epsilon; y = relu?(normalized
                     ///< + residual?)
  BatchNormGrad,     ///< [dy, x, gamma, mean, var, mask?] -> [dx, dgamma,
                     ///< dbeta]; `training`: batch statistics (mean, var are
                     ///< the batch's) or running ones; relu masks dy
  RunningStats,      ///< [running_mean, running_var, batch_mean, batch_var]
                     ///< -> [new_mean, new_var]; momentum, count (elements
                     ///< per channel: unbiased var = var * count/(count-1))
  ConvGradInput,     ///< [dy, weight, mask?] -> [dx]; conv attributes;
                     ///< relu masks dx
  ConvGradWeight,    ///< [x, dy] -> [dweight]; conv attributes
  ReluGrad,          ///< [dy, y] -> [y > 0 ? dy : 0]
  MaxPoolGrad,       ///< [dy, x] -> [dx]; to each window's first maximum
  AvgPoolGrad,       ///< [dy] -> [dx] (shape outputs[0]); pool attributes
  GlobalAvgPoolGrad, ///< [dy Nx Cx1x1] -> [dx NxCxHxW]
  LinearGradInput,   ///< [dy NxM, weight MxK] -> [dx NxK]
  LinearGradWeight,  ///< [dy NxM, x NxK] -> [dweight MxK]
  BiasGrad,          ///< [dy] -> [sum over every dimension but 1]
  CrossEntropy,      ///< [logits NxC, labels N (int32)] -> [loss, rank 0]
  CrossEntropyGrad,  ///< [logits, labels] -> [(softmax - onehot) / N]
  PadGrad,           ///< [dy] -> [dx]: dy without pad's low/high borders
  SgdUpdate,         ///< [param, grad, momentum_buffer, lr (rank 0)] ->
                     ///< [new_param, new_buffer] (may alias the inputs);
                     ///< torch.optim.SGD: momentum, weightDecay, nesterov
};

const char *kernelKindName(KernelKind kind);

using Shape = std::vector<int64_t>;

/// Channels per block of the channel-blocked activation layout NCHW16c
/// (oneDNN's nChw16c): [N, C/16, H, W, 16], one AVX-512 vector of channels
/// innermost. A convolution producing it is a GEMM vectorized along its
/// output channels, with every lane used whatever the image width.
constexpr int64_t kChannelBlock = 16;

/// Whether an activation shape is channel-blocked (rank 5) rather than NCHW.
inline bool isBlocked(const Shape &shape) { return shape.size() == 5; }

/// NCHW [N, C, H, W] -> NCHW16c [N, C/16, H, W, 16] (C a multiple of 16).
Shape blockedShape(const Shape &nchw);

/// The channels of an activation, NCHW or blocked.
inline int64_t channelsOf(const Shape &activation) {
  return isBlocked(activation) ? activation[1] * activation[4] : activation[1];
}

/// The weights [O, C, KH, KW] of a convolution with a channel-blocked
/// result, as it reads them: [O/16, C/CI, KH, KW, CI, 16] with CI = 16
/// (blocked input) or CI = C (NCHW input, e.g. the 3-channel stem), so
/// that one reduction step loads one vector of 16 output channels.
Shape blockedWeightShape(const Shape &oihw, bool blockedInput);

struct KernelSpec {
  KernelKind kind;
  /// Operand shapes in the op's operand order; results likewise.
  std::vector<Shape> inputs;
  std::vector<Shape> outputs;

  // Window ops (convolution, pooling).
  std::vector<int64_t> window = {1, 1};   ///< pooling kernel [h, w]
  std::vector<int64_t> stride = {1, 1};   ///< [h, w]
  std::vector<int64_t> padding = {0, 0, 0, 0}; ///< [top, left, bottom, right]
  std::vector<int64_t> dilation = {1, 1}; ///< [h, w]
  int64_t groups = 1;
  bool relu = false;
  bool hasBias = false;
  bool hasResidual = false;
  bool ceilMode = false;
  bool countIncludePad = true;
  /// A convolution computed as a GEMM vectorized along its output channels
  /// (see kChannelBlock): its result is channel-blocked or NCHW, and its
  /// weights come relaid (rank 6, blockedWeightShape) or, when they change
  /// between calls (training), as OIHW that the kernel relays itself.
  bool gemm = false;

  int64_t axis = 1;     ///< softmax
  bool training = false; ///< batch norm gradient with batch statistics
  double momentum = 0;   ///< running statistics, SGD
  double weightDecay = 0; ///< SGD
  bool nesterov = false;  ///< SGD
  int64_t count = 0;      ///< running statistics
  double epsilon = 1e-5; ///< batch norm
  std::vector<int64_t> low, high; ///< pad

  /// A canonical text of everything above: equal keys, equal kernels.
  std::string key() const;
};

/// Row-major element count.
int64_t numElements(const Shape &shape);

/// The taps [first, first + count) of a convolution's kernel along spatial
/// dimension `d` (0: rows, 1: columns) that meet the image for some output
/// pixel. The others only ever read zero padding (a 3x3 kernel on a 1x1
/// map has one live tap, its centre), so the kernels skip them: they add
/// nothing to the result or the input gradient, and their weight gradient
/// is zero. For FusedConv, ConvGradInput and ConvGradWeight specs.
struct TapRange {
  int64_t first = 0, count = 0;
};
TapRange liveTaps(const KernelSpec &spec, int d);

/// Whether a convolution's live taps read its zero padding.
bool readsPadding(const KernelSpec &spec);

/// Whether a convolution's input gradient can run as the forward GEMM
/// convolution of gradInputAsConvolution (KernelSpec::gemm on a
/// ConvGradInput spec): stride 1, no groups, whole blocks of 16 input
/// channels, and padding no wider than the dilated kernel.
bool gradInputIsConvolution(const KernelSpec &gradInput);

/// Whether a convolution's input gradient is defined as a GEMM with the
/// weights staged channels-innermost (the algorithm's `staged`, and its
/// `reduction` indexed (c, qx, qy, px, py, n): x = stride * qx + px): no
/// groups, and no dimension both strided and dilated.
bool gradInputAsGemm(const KernelSpec &spec);

/// dx of a stride-1 convolution is itself one: of dy with the weights
/// transposed ([C, O, KH, KW]) and flipped, padded (KH - 1) * dilation -
/// padding on each side. This is that forward convolution's spec (a GEMM,
/// KernelSpec::gemm), for a ConvGradInput spec gradInputIsConvolution
/// accepts.
KernelSpec gradInputAsConvolution(const KernelSpec &gradInput);

} // namespace resnetc

#endif // RESNETC_SCHEDULES_KERNELSPEC_H
