//===- ResnetOps.cpp - Shape rules of the resnet dialect --------*- C++ -*-===//
//
// Each op's inferReturnTypes holds its shape rule and every check that rule
// needs, with a precise message. It runs when IR is parsed without result
// types, when a builder infers them, and in verification (through
// InferTypeOpInterface), so one function is the single source of truth.
//
//===----------------------------------------------------------------------===//
#include "Resnet/IR/ResnetOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::resnet;

namespace {

/// "[1, 2, 3]", the way the messages print shapes and attribute lists.
std::string list(ArrayRef<int64_t> values) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(values, os);
  os << ']';
  return text;
}

/// Reports shape errors of one op. During parsing and verification the
/// location is known; builders may infer without one, then nothing prints.
class ShapeErrors {
public:
  ShapeErrors(std::optional<Location> loc, StringRef opName)
      : loc(loc), opName(opName) {}

  template <typename... Args> LogicalResult fail(Args &&...args) const {
    return emitOptionalError(loc, "'resnet.", opName, "' op ",
                             std::forward<Args>(args)...);
  }

  /// The operand as a ranked f32 tensor of `rank` (any rank if negative).
  FailureOr<RankedTensorType> tensor(Value value, StringRef what,
                                     int64_t rank = -1,
                                     StringRef layout = "") const {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape())
      return fail(what, " must be a statically shaped tensor, got ",
                  value.getType());
    if (!type.getElementType().isF32())
      return fail(what, " must be a tensor of f32, got ", value.getType());
    if (rank >= 0 && type.getRank() != rank) {
      if (layout.empty())
        return fail(what, " must have rank ", rank, ", got rank ",
                    type.getRank());
      return fail(what, " must be ", rank, "-D (", layout, "), got rank ",
                  type.getRank());
    }
    return type;
  }

  LogicalResult vector(ArrayRef<int64_t> values, StringRef what, size_t size,
                       int64_t minimum, StringRef meaning = "") const {
    if (values.size() != size)
      return fail(what, " must have ", size, " elements", meaning, ", got ",
                  list(values));
    for (int64_t v : values)
      if (v < minimum)
        return fail(what,
                    minimum == 0 ? " must be non-negative, got "
                                 : " must be positive, got ",
                    list(values));
    return success();
  }

private:
  std::optional<Location> loc;
  StringRef opName;
};

constexpr StringLiteral kPaddingMeaning = " [top, left, bottom, right]";

/// The output extent of a sliding window along one spatial dimension, with
/// PyTorch's ceil_mode rule: the last window must start inside the input or
/// the leading padding.
int64_t windowExtent(int64_t size, int64_t padBefore, int64_t padAfter,
                     int64_t kernel, int64_t stride, int64_t dilation,
                     bool ceilMode) {
  int64_t span = size + padBefore + padAfter - dilation * (kernel - 1) - 1;
  if (span < 0)
    return 0;
  int64_t out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + padBefore)
    --out;
  return out;
}

/// Output height and width of a window op over `input`, or failure if the
/// (dilated) window does not fit the padded input.
FailureOr<std::pair<int64_t, int64_t>>
windowOutput(const ShapeErrors &errors, RankedTensorType input,
             ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
             ArrayRef<int64_t> padding, ArrayRef<int64_t> dilation,
             bool ceilMode) {
  int64_t h = input.getDimSize(2), w = input.getDimSize(3);
  int64_t oh = windowExtent(h, padding[0], padding[2], kernel[0], stride[0],
                            dilation[0], ceilMode);
  int64_t ow = windowExtent(w, padding[1], padding[3], kernel[1], stride[1],
                            dilation[1], ceilMode);
  if (oh < 1 || ow < 1)
    return errors.fail("window ", kernel[0], "x", kernel[1], " (dilation ",
                       list(dilation), ") does not fit the padded input ",
                       h + padding[0] + padding[2], "x",
                       w + padding[1] + padding[3]);
  return std::make_pair(oh, ow);
}

Type f32Tensor(ArrayRef<int64_t> shape, MLIRContext *context) {
  return RankedTensorType::get(shape, Float32Type::get(context));
}

/// Per-channel operand of a normalization: a vector of `channels` values.
LogicalResult channelVector(const ShapeErrors &errors, Value value,
                            StringRef what, int64_t channels) {
  FailureOr<RankedTensorType> type = errors.tensor(value, what, 1);
  if (failed(type))
    return failure();
  if (type->getDimSize(0) != channels)
    return errors.fail(what, " must have ", channels,
                       " elements (one per channel), got ",
                       type->getDimSize(0));
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError("parameter name must not be empty");
  return success();
}

//===----------------------------------------------------------------------===//
// Conv2dOp
//===----------------------------------------------------------------------===//

/// The shape rule of a convolution, shared by conv2d and fused_conv2d.
static FailureOr<Type>
inferConvolution(const ShapeErrors &errors, MLIRContext *context,
                 Value inputValue, Value weightValue, Value bias,
                 ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                 ArrayRef<int64_t> dilation, int64_t groups) {
  auto input = errors.tensor(inputValue, "input", 4, "NxCxHxW");
  if (failed(input))
    return failure();
  auto weight = errors.tensor(weightValue, "weight", 4, "Ox(C/groups)xKHxKW");
  if (failed(weight))
    return failure();
  if (failed(errors.vector(stride, "stride", 2, 1)) ||
      failed(errors.vector(padding, "padding", 4, 0, kPaddingMeaning)) ||
      failed(errors.vector(dilation, "dilation", 2, 1)))
    return failure();

  if (groups < 1)
    return errors.fail("groups must be positive, got ", groups);
  int64_t channels = input->getDimSize(1);
  int64_t outChannels = weight->getDimSize(0);
  int64_t perGroup = weight->getDimSize(1);
  if (perGroup * groups != channels)
    return errors.fail(
        "input has ", channels, " channels but the weight expects ", perGroup,
        " per group x ", groups, " groups = ", perGroup * groups);
  if (outChannels % groups != 0)
    return errors.fail("output channels (", outChannels,
                       ") must be divisible by groups (", groups, ")");
  if (bias) {
    auto biasType = errors.tensor(bias, "bias", 1);
    if (failed(biasType))
      return failure();
    if (biasType->getDimSize(0) != outChannels)
      return errors.fail("bias must have ", outChannels,
                         " elements (the output channels), got ",
                         biasType->getDimSize(0));
  }
  SmallVector<int64_t, 2> kernel = {weight->getDimSize(2),
                                    weight->getDimSize(3)};
  if (kernel[0] < 1 || kernel[1] < 1)
    return errors.fail("kernel must not be empty, got ", list(kernel));
  auto hw = windowOutput(errors, *input, kernel, stride, padding, dilation,
                         /*ceilMode=*/false);
  if (failed(hw))
    return failure();
  return f32Tensor({input->getDimSize(0), outChannels, hw->first, hw->second},
                   context);
}

LogicalResult Conv2dOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  FailureOr<Type> type = inferConvolution(
      ShapeErrors(loc, "conv2d"), context, adaptor.getInput(),
      adaptor.getWeight(), adaptor.getBias(), adaptor.getStride(),
      adaptor.getPadding(), adaptor.getDilation(), adaptor.getGroups());
  if (failed(type))
    return failure();
  results.push_back(*type);
  return success();
}

LogicalResult FusedConv2dOp::inferReturnTypes(MLIRContext *context,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "fused_conv2d");
  FailureOr<Type> type = inferConvolution(
      errors, context, adaptor.getInput(), adaptor.getWeight(),
      adaptor.getBias(), adaptor.getStride(), adaptor.getPadding(),
      adaptor.getDilation(), adaptor.getGroups());
  if (failed(type))
    return failure();
  if (Value residual = adaptor.getResidual())
    if (residual.getType() != *type)
      return errors.fail("residual must have the result's type ", *type,
                         ", got ", residual.getType());
  results.push_back(*type);
  return success();
}

LogicalResult
FoldBatchNormOp::inferReturnTypes(MLIRContext *context,
                                  std::optional<Location> loc, Adaptor adaptor,
                                  SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "fold_batch_norm");
  auto weight =
      errors.tensor(adaptor.getWeight(), "weight", 4, "Ox(C/groups)xKHxKW");
  if (failed(weight))
    return failure();
  int64_t outChannels = weight->getDimSize(0);
  for (auto [value, what] :
       {std::make_pair(adaptor.getGamma(), "gamma"),
        std::make_pair(adaptor.getBeta(), "beta"),
        std::make_pair(adaptor.getRunningMean(), "running_mean"),
        std::make_pair(adaptor.getRunningVar(), "running_var"),
        std::make_pair(adaptor.getBias(), "bias")}) {
    if (value && failed(channelVector(errors, value, what, outChannels)))
      return failure();
  }
  double epsilon = adaptor.getEpsilon().convertToDouble();
  if (!(epsilon > 0.0))
    return errors.fail("epsilon must be positive, got ", epsilon);
  results.append({*weight, f32Tensor({outChannels}, context)});
  return success();
}

//===----------------------------------------------------------------------===//
// Batch normalization
//===----------------------------------------------------------------------===//

static FailureOr<RankedTensorType>
verifyBatchNormOperands(const ShapeErrors &errors, Value input,
                        ArrayRef<std::pair<Value, StringRef>> perChannel,
                        double epsilon) {
  auto type = errors.tensor(input, "input", 4, "NxCxHxW");
  if (failed(type))
    return failure();
  for (auto [value, what] : perChannel)
    if (failed(channelVector(errors, value, what, type->getDimSize(1))))
      return failure();
  if (!(epsilon > 0.0))
    return errors.fail("epsilon must be positive, got ", epsilon);
  return type;
}

LogicalResult BatchNormOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "batch_norm");
  auto type =
      verifyBatchNormOperands(errors, adaptor.getInput(),
                              {{adaptor.getWeight(), "weight"},
                               {adaptor.getBias(), "bias"},
                               {adaptor.getRunningMean(), "running_mean"},
                               {adaptor.getRunningVar(), "running_var"}},
                              adaptor.getEpsilon().convertToDouble());
  if (failed(type))
    return failure();
  results.push_back(*type);
  return success();
}

LogicalResult
BatchNormTrainOp::inferReturnTypes(MLIRContext *context,
                                   std::optional<Location> loc, Adaptor adaptor,
                                   SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "batch_norm_train");
  auto type = verifyBatchNormOperands(
      errors, adaptor.getInput(),
      {{adaptor.getWeight(), "weight"}, {adaptor.getBias(), "bias"}},
      adaptor.getEpsilon().convertToDouble());
  if (failed(type))
    return failure();
  double momentum = adaptor.getMomentum().convertToDouble();
  if (!(momentum >= 0.0 && momentum <= 1.0))
    return errors.fail("momentum must be in [0, 1], got ", momentum);
  if (Value residual = adaptor.getResidual())
    if (residual.getType() != *type)
      return errors.fail("residual must have the result's type ", *type,
                         ", got ", residual.getType());
  Type stats = f32Tensor({type->getDimSize(1)}, context);
  results.append({*type, stats, stats});
  return success();
}

//===----------------------------------------------------------------------===//
// Elementwise and data movement
//===----------------------------------------------------------------------===//

LogicalResult ReluOp::inferReturnTypes(MLIRContext *context,
                                       std::optional<Location> loc,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  auto type = ShapeErrors(loc, "relu").tensor(adaptor.getInput(), "input");
  if (failed(type))
    return failure();
  results.push_back(*type);
  return success();
}

LogicalResult AddOp::inferReturnTypes(MLIRContext *context,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "add");
  auto lhs = errors.tensor(adaptor.getLhs(), "lhs");
  auto rhs = errors.tensor(adaptor.getRhs(), "rhs");
  if (failed(lhs) || failed(rhs))
    return failure();
  if (lhs->getShape() != rhs->getShape())
    return errors.fail("operands must have the same shape (no broadcast), "
                       "got ",
                       list(lhs->getShape()), " and ", list(rhs->getShape()));
  results.push_back(*lhs);
  return success();
}

LogicalResult PadOp::inferReturnTypes(MLIRContext *context,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "pad");
  if (!adaptor.getLowAttr() || !adaptor.getHighAttr())
    return errors.fail("requires attributes 'low' and 'high'");
  auto input = errors.tensor(adaptor.getInput(), "input");
  if (failed(input))
    return failure();
  size_t rank = input->getRank();
  if (failed(errors.vector(adaptor.getLow(), "low", rank, 0,
                           " (one per dimension)")) ||
      failed(errors.vector(adaptor.getHigh(), "high", rank, 0,
                           " (one per dimension)")))
    return failure();
  SmallVector<int64_t> shape(input->getShape());
  for (size_t i = 0; i < rank; ++i)
    shape[i] += adaptor.getLow()[i] + adaptor.getHigh()[i];
  results.push_back(f32Tensor(shape, context));
  return success();
}

LogicalResult FlattenOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "flatten");
  auto input = errors.tensor(adaptor.getInput(), "input");
  if (failed(input))
    return failure();
  int64_t axis = adaptor.getAxis();
  if (axis < 0 || axis > input->getRank())
    return errors.fail("axis must be in [0, ", input->getRank(), "], got ",
                       axis);
  int64_t outer = 1, inner = 1;
  for (auto [i, size] : llvm::enumerate(input->getShape()))
    (static_cast<int64_t>(i) < axis ? outer : inner) *= size;
  results.push_back(f32Tensor({outer, inner}, context));
  return success();
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// Checks the window attributes of a pooling op and computes its output.
static LogicalResult inferPool(const ShapeErrors &errors, MLIRContext *context,
                               Value inputValue, DenseI64ArrayAttr kernel,
                               DenseI64ArrayAttr stride,
                               ArrayRef<int64_t> padding,
                               ArrayRef<int64_t> dilation, bool ceilMode,
                               SmallVectorImpl<Type> &results) {
  if (!kernel || !stride)
    return errors.fail("requires attributes 'kernel' and 'stride'");
  auto input = errors.tensor(inputValue, "input", 4, "NxCxHxW");
  if (failed(input))
    return failure();
  if (failed(errors.vector(kernel, "kernel", 2, 1)) ||
      failed(errors.vector(stride, "stride", 2, 1)) ||
      failed(errors.vector(padding, "padding", 4, 0, kPaddingMeaning)) ||
      failed(errors.vector(dilation, "dilation", 2, 1)))
    return failure();
  for (int i = 0; i < 4; ++i) {
    int64_t effective = dilation[i % 2] * (kernel[i % 2] - 1) + 1;
    if (padding[i] > effective / 2)
      return errors.fail("padding ", list(padding),
                         " must be at most half the effective kernel (",
                         effective, ") on each side");
  }
  auto hw =
      windowOutput(errors, *input, kernel, stride, padding, dilation, ceilMode);
  if (failed(hw))
    return failure();
  results.push_back(f32Tensor(
      {input->getDimSize(0), input->getDimSize(1), hw->first, hw->second},
      context));
  return success();
}

LogicalResult MaxPool2dOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  return inferPool(ShapeErrors(loc, "max_pool2d"), context, adaptor.getInput(),
                   adaptor.getKernelAttr(), adaptor.getStrideAttr(),
                   adaptor.getPadding(), adaptor.getDilation(),
                   adaptor.getCeilMode(), results);
}

LogicalResult AvgPool2dOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  return inferPool(ShapeErrors(loc, "avg_pool2d"), context, adaptor.getInput(),
                   adaptor.getKernelAttr(), adaptor.getStrideAttr(),
                   adaptor.getPadding(), {1, 1}, adaptor.getCeilMode(),
                   results);
}

LogicalResult
GlobalAvgPoolOp::inferReturnTypes(MLIRContext *context,
                                  std::optional<Location> loc, Adaptor adaptor,
                                  SmallVectorImpl<Type> &results) {
  auto input = ShapeErrors(loc, "global_avg_pool")
                   .tensor(adaptor.getInput(), "input", 4, "NxCxHxW");
  if (failed(input))
    return failure();
  results.push_back(
      f32Tensor({input->getDimSize(0), input->getDimSize(1), 1, 1}, context));
  return success();
}

//===----------------------------------------------------------------------===//
// Classifier and loss
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "linear");
  auto input = errors.tensor(adaptor.getInput(), "input", 2, "NxK");
  if (failed(input))
    return failure();
  auto weight = errors.tensor(adaptor.getWeight(), "weight", 2, "MxK");
  if (failed(weight))
    return failure();
  int64_t features = input->getDimSize(1), outFeatures = weight->getDimSize(0);
  if (weight->getDimSize(1) != features)
    return errors.fail("input has ", features,
                       " features but the weight expects ",
                       weight->getDimSize(1));
  if (Value bias = adaptor.getBias()) {
    auto biasType = errors.tensor(bias, "bias", 1);
    if (failed(biasType))
      return failure();
    if (biasType->getDimSize(0) != outFeatures)
      return errors.fail("bias must have ", outFeatures,
                         " elements (the output features), got ",
                         biasType->getDimSize(0));
  }
  results.push_back(f32Tensor({input->getDimSize(0), outFeatures}, context));
  return success();
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "softmax");
  auto input = errors.tensor(adaptor.getInput(), "input");
  if (failed(input))
    return failure();
  int64_t rank = input->getRank(), axis = adaptor.getAxis();
  if (rank < 1 || axis < -rank || axis >= rank)
    return errors.fail("axis ", axis, " is out of range for rank ", rank);
  results.push_back(*input);
  return success();
}

LogicalResult SoftmaxCrossEntropyOp::inferReturnTypes(
    MLIRContext *context, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &results) {
  ShapeErrors errors(loc, "softmax_cross_entropy");
  auto logits = errors.tensor(adaptor.getLogits(), "logits", 2, "NxC");
  if (failed(logits))
    return failure();
  auto labels = dyn_cast<RankedTensorType>(adaptor.getLabels().getType());
  if (!labels || !labels.getElementType().isInteger(32) ||
      labels.getRank() != 1)
    return errors.fail("labels must be a 1-D tensor of i32 class indices, "
                       "got ",
                       adaptor.getLabels().getType());
  if (labels.getDimSize(0) != logits->getDimSize(0))
    return errors.fail("labels must have one entry per batch row (",
                       logits->getDimSize(0), "), got ", labels.getDimSize(0));
  results.push_back(f32Tensor({}, context));
  return success();
}

//===----------------------------------------------------------------------===//
// Training ops: their result types are given; each verifier re-derives the
// forward op's shape rule and checks that the gradient fits it.
//===----------------------------------------------------------------------===//

static ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

/// `a` and `b` have one shape, or an error naming both.
static LogicalResult sameShape(Operation *op, Value a, StringRef aName, Value b,
                               StringRef bName) {
  if (shapeOf(a) == shapeOf(b))
    return success();
  return op->emitOpError() << aName << " must have the shape of " << bName
                           << " " << list(shapeOf(b)) << ", got "
                           << list(shapeOf(a));
}

/// The forward result type (one) a shape rule infers must be `expected`'s.
static LogicalResult forwardMatches(Operation *op, FailureOr<Type> inferred,
                                    Value expected, StringRef what) {
  if (failed(inferred))
    return failure();
  auto type = cast<RankedTensorType>(*inferred);
  if (type.getShape() == shapeOf(expected))
    return success();
  return op->emitOpError() << what << " must have the forward result's shape "
                           << list(type.getShape()) << ", got "
                           << list(shapeOf(expected));
}

LogicalResult BatchNormGradOp::verify() {
  ShapeErrors errors(getLoc(), "batch_norm_grad");
  for (Value stat : {getWeight(), getMean(), getVar()})
    if (failed(channelVector(errors, stat, "weight, mean and var",
                             shapeOf(getInput())[1])))
      return failure();
  if (failed(sameShape(*this, getDy(), "dy", getInput(), "the input")) ||
      failed(
          sameShape(*this, getDinput(), "dinput", getInput(), "the input")) ||
      failed(sameShape(*this, getDweight(), "dweight", getWeight(),
                       "the weight")) ||
      failed(sameShape(*this, getDbias(), "dbias", getWeight(), "the weight")))
    return failure();
  if (getMask() &&
      failed(sameShape(*this, getMask(), "mask", getInput(), "the input")))
    return failure();
  return success();
}

LogicalResult RunningStatsUpdateOp::verify() {
  for (Value v : {getRunningVar(), getBatchMean(), getBatchVar(), getNewMean(),
                  getNewVar()})
    if (failed(sameShape(*this, v, "every statistic", getRunningMean(),
                         "running_mean")))
      return failure();
  if (getCount() < 2)
    return emitOpError("count must be at least 2 (the unbiased variance "
                       "divides by count - 1), got ")
           << getCount();
  return success();
}

static FailureOr<Type> forwardConv(Operation *op, Value input, Value weight,
                                   ArrayRef<int64_t> stride,
                                   ArrayRef<int64_t> padding,
                                   ArrayRef<int64_t> dilation, int64_t groups) {
  ShapeErrors errors(op->getLoc(), op->getName().stripDialect());
  return inferConvolution(errors, op->getContext(), input, weight, Value(),
                          stride, padding, dilation, groups);
}

LogicalResult Conv2dGradInputOp::verify() {
  if (getMask() &&
      failed(sameShape(*this, getMask(), "mask", getDinput(), "dinput")))
    return failure();
  return forwardMatches(*this,
                        forwardConv(*this, getDinput(), getWeight(),
                                    getStride(), getPadding(), getDilation(),
                                    getGroups()),
                        getDy(), "dy");
}

LogicalResult Conv2dGradWeightOp::verify() {
  return forwardMatches(*this,
                        forwardConv(*this, getInput(), getDweight(),
                                    getStride(), getPadding(), getDilation(),
                                    getGroups()),
                        getDy(), "dy");
}

LogicalResult ReluGradOp::verify() {
  if (failed(sameShape(*this, getOutput(), "output", getDy(), "dy")))
    return failure();
  return sameShape(*this, getDinput(), "dinput", getDy(), "dy");
}

LogicalResult MaxPool2dGradOp::verify() {
  if (failed(sameShape(*this, getDinput(), "dinput", getInput(), "the input")))
    return failure();
  SmallVector<Type> results;
  if (failed(inferPool(ShapeErrors(getLoc(), "max_pool2d_grad"), getContext(),
                       getInput(), getKernelAttr(), getStrideAttr(),
                       getPadding(), getDilation(), getCeilMode(), results)))
    return failure();
  return forwardMatches(*this, results.front(), getDy(), "dy");
}

LogicalResult AvgPool2dGradOp::verify() {
  SmallVector<Type> results;
  if (failed(inferPool(ShapeErrors(getLoc(), "avg_pool2d_grad"), getContext(),
                       getDinput(), getKernelAttr(), getStrideAttr(),
                       getPadding(), {1, 1}, getCeilMode(), results)))
    return failure();
  return forwardMatches(*this, results.front(), getDy(), "dy");
}

LogicalResult GlobalAvgPoolGradOp::verify() {
  ArrayRef<int64_t> dy = shapeOf(getDy()), dx = shapeOf(getDinput());
  if (dy.size() != 4 || dx.size() != 4 || dy[0] != dx[0] || dy[1] != dx[1] ||
      dy[2] != 1 || dy[3] != 1)
    return emitOpError("dy must be NxCx1x1 and dinput NxCxHxW, got ")
           << list(dy) << " and " << list(dx);
  return success();
}

LogicalResult LinearGradInputOp::verify() {
  ArrayRef<int64_t> dy = shapeOf(getDy()), w = shapeOf(getWeight()),
                    dx = shapeOf(getDinput());
  if (dy.size() != 2 || w.size() != 2 || dx.size() != 2 || dy[1] != w[0] ||
      dx[0] != dy[0] || dx[1] != w[1])
    return emitOpError("expects dy NxM, weight MxK and dinput NxK, got ")
           << list(dy) << ", " << list(w) << " and " << list(dx);
  return success();
}

LogicalResult LinearGradWeightOp::verify() {
  ArrayRef<int64_t> dy = shapeOf(getDy()), x = shapeOf(getInput()),
                    dw = shapeOf(getDweight());
  if (dy.size() != 2 || x.size() != 2 || dw.size() != 2 || dy[0] != x[0] ||
      dw[0] != dy[1] || dw[1] != x[1])
    return emitOpError("expects dy NxM, input NxK and dweight MxK, got ")
           << list(dy) << ", " << list(x) << " and " << list(dw);
  return success();
}

LogicalResult BiasGradOp::verify() {
  ArrayRef<int64_t> dy = shapeOf(getDy()), db = shapeOf(getDbias());
  if (dy.size() < 2 || db.size() != 1 || db[0] != dy[1])
    return emitOpError("expects dy of rank 2 or more and dbias of its "
                       "dimension 1, got ")
           << list(dy) << " and " << list(db);
  return success();
}

LogicalResult SoftmaxCrossEntropyGradOp::verify() {
  SmallVector<Type> loss;
  if (failed(SoftmaxCrossEntropyOp::inferReturnTypes(
          getContext(), getLoc(), SoftmaxCrossEntropyOp::Adaptor(getOperands()),
          loss)))
    return failure();
  return sameShape(*this, getDlogits(), "dlogits", getLogits(), "the logits");
}

LogicalResult PadGradOp::verify() {
  ArrayRef<int64_t> dy = shapeOf(getDy()), dx = shapeOf(getDinput());
  if (getLow().size() != dy.size() || getHigh().size() != dy.size() ||
      dx.size() != dy.size())
    return emitOpError("low, high and dinput must match dy's rank ")
           << dy.size();
  for (size_t i = 0; i < dy.size(); ++i)
    if (getLow()[i] < 0 || getHigh()[i] < 0 ||
        dx[i] + getLow()[i] + getHigh()[i] != dy[i])
      return emitOpError("dinput ")
             << list(dx) << " padded by low " << list(getLow()) << " and high "
             << list(getHigh()) << " must give dy " << list(dy);
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto in = cast<RankedTensorType>(getInput().getType());
  auto out = cast<RankedTensorType>(getOutput().getType());
  if (in.getNumElements() != out.getNumElements())
    return emitOpError("cannot reshape ")
           << in.getNumElements() << " elements to " << list(out.getShape());
  return success();
}

LogicalResult SgdUpdateOp::verify() {
  for (Value v :
       {getGrad(), getMomentumBuffer(), getNewParam(), getNewMomentumBuffer()})
    if (failed(sameShape(*this, v, "grad, buffers and results", getParam(),
                         "the parameter")))
      return failure();
  if (cast<RankedTensorType>(getLr().getType()).getRank() != 0)
    return emitOpError("lr must be a 0-D tensor");
  if (getMomentum().convertToDouble() < 0 ||
      getWeightDecay().convertToDouble() < 0)
    return emitOpError("momentum and weight_decay must be non-negative");
  if (getNesterov() && getMomentum().convertToDouble() <= 0)
    return emitOpError("nesterov needs a positive momentum (as PyTorch)");
  return success();
}

#define GET_OP_CLASSES
#include "Resnet/IR/ResnetOps.cpp.inc"
