//===- Evaluator.cpp - Reference evaluator, resnet dialect ------*- C++ -*-===//
//
// One kernel function per op, each a plain nested loop over the output as
// the op's description defines it; sums are formed in double and rounded to
// f32 once. The interpreter walks a function's single block, keeps each
// value until its last use, and frees it then.
//
//===----------------------------------------------------------------------===//
#include "compiler/Evaluator/Evaluator.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

using namespace mlir;
using namespace mlir::resnet;
using llvm::Error;
using llvm::Expected;

namespace resnetc {

int64_t HostTensor::numElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

HostTensor HostTensor::zeros(std::vector<int64_t> shape) {
  HostTensor tensor;
  tensor.shape = std::move(shape);
  tensor.f32.assign(tensor.numElements(), 0.0f);
  return tensor;
}

HostTensor HostTensor::floats(std::vector<int64_t> shape,
                              std::vector<float> values) {
  HostTensor tensor;
  tensor.shape = std::move(shape);
  tensor.f32 = std::move(values);
  return tensor;
}

HostTensor HostTensor::ints(std::vector<int64_t> shape,
                            std::vector<int32_t> values) {
  HostTensor tensor;
  tensor.shape = std::move(shape);
  tensor.i32 = std::move(values);
  tensor.isInt = true;
  return tensor;
}

} // namespace resnetc

using resnetc::HostTensor;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// "[1, 2, 3]".
std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(shape, os);
  os << ']';
  return text;
}

/// "file.mlir:3:7" for a file location, MLIR's printed form otherwise.
std::string formatLocation(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    os << file.getFilename().getValue() << ':' << file.getLine() << ':'
       << file.getColumn();
  else
    os << loc;
  return text;
}

std::vector<int64_t> shapeOf(Type type) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(type).getShape();
  return std::vector<int64_t>(shape.begin(), shape.end());
}

/// Sizes and row-major indexing of an NxCxHxW tensor.
struct Dims4 {
  int64_t n, c, h, w;
  explicit Dims4(ArrayRef<int64_t> shape)
      : n(shape[0]), c(shape[1]), h(shape[2]), w(shape[3]) {}
  int64_t index(int64_t in, int64_t ic, int64_t ih, int64_t iw) const {
    return ((in * c + ic) * h + ih) * w + iw;
  }
};

/// The output positions o in [first, second) of a sliding window whose input
/// index `o * stride + offset` lies inside [0, size).
std::pair<int64_t, int64_t> inBounds(int64_t outSize, int64_t stride,
                                     int64_t offset, int64_t size) {
  int64_t lo = 0, hi = outSize;
  while (lo < hi && lo * stride + offset < 0)
    ++lo;
  while (hi > lo && (hi - 1) * stride + offset >= size)
    --hi;
  return {lo, hi};
}

/// Row-major strides of `shape`.
std::vector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

/// Stride, padding [top, left, bottom, right], dilation of a convolution or
/// pooling window.
struct Window {
  ArrayRef<int64_t> stride, padding, dilation;
};

/// relu?(conv2d(input, weight) + bias + residual) of result shape `outShape`,
/// with `bias` and `residual` optional: the one convolution routine of
/// conv2d and fused_conv2d. Each output plane is accumulated in double.
HostTensor convolve(const HostTensor &input, const HostTensor &weight,
                    const HostTensor *bias, const HostTensor *residual,
                    const Window &window, int64_t groups, bool relu,
                    std::vector<int64_t> outShape) {
  HostTensor output = HostTensor::zeros(std::move(outShape));
  Dims4 in(input.shape), wt(weight.shape), out(output.shape);
  int64_t inPerGroup = wt.c, outPerGroup = wt.n / groups;
  std::vector<double> plane(out.h * out.w);
  for (int64_t n = 0; n < out.n; ++n) {
    for (int64_t oc = 0; oc < out.c; ++oc) {
      int64_t group = oc / outPerGroup;
      std::fill(plane.begin(), plane.end(), 0.0);
      for (int64_t icg = 0; icg < inPerGroup; ++icg) {
        int64_t ic = group * inPerGroup + icg;
        for (int64_t kh = 0; kh < wt.h; ++kh) {
          // Input row of output row oh: oh * stride + rowOffset.
          int64_t rowOffset = kh * window.dilation[0] - window.padding[0];
          auto [ohBegin, ohEnd] =
              inBounds(out.h, window.stride[0], rowOffset, in.h);
          for (int64_t kw = 0; kw < wt.w; ++kw) {
            int64_t colOffset = kw * window.dilation[1] - window.padding[1];
            auto [owBegin, owEnd] =
                inBounds(out.w, window.stride[1], colOffset, in.w);
            double w = weight.f32[wt.index(oc, icg, kh, kw)];
            for (int64_t oh = ohBegin; oh < ohEnd; ++oh) {
              int64_t ih = oh * window.stride[0] + rowOffset;
              const float *inRow = &input.f32[in.index(n, ic, ih, 0)];
              double *outRow = &plane[oh * out.w];
              for (int64_t ow = owBegin; ow < owEnd; ++ow)
                outRow[ow] += w * inRow[ow * window.stride[1] + colOffset];
            }
          }
        }
      }
      for (int64_t oh = 0; oh < out.h; ++oh) {
        for (int64_t ow = 0; ow < out.w; ++ow) {
          int64_t at = out.index(n, oc, oh, ow);
          double value = plane[oh * out.w + ow];
          if (bias)
            value += bias->f32[oc];
          if (residual)
            value += residual->f32[at];
          if (relu && value < 0.0)
            value = 0.0;
          output.f32[at] = static_cast<float>(value);
        }
      }
    }
  }
  return output;
}

/// y = (x - mean) / sqrt(var + epsilon) * weight + bias, per channel.
HostTensor normalize(const HostTensor &input, const HostTensor &weight,
                     const HostTensor &bias, ArrayRef<double> mean,
                     ArrayRef<double> var, double epsilon) {
  HostTensor output = HostTensor::zeros(input.shape);
  Dims4 d(input.shape);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c)
      for (int64_t h = 0; h < d.h; ++h)
        for (int64_t w = 0; w < d.w; ++w) {
          int64_t at = d.index(n, c, h, w);
          double x = input.f32[at];
          output.f32[at] = static_cast<float>(
              (x - mean[c]) / std::sqrt(var[c] + epsilon) * weight.f32[c] +
              bias.f32[c]);
        }
  return output;
}

std::vector<double> toDouble(const HostTensor &tensor) {
  return std::vector<double>(tensor.f32.begin(), tensor.f32.end());
}

/// Mean and biased variance of each channel over N, H and W (two passes).
std::pair<std::vector<double>, std::vector<double>>
channelStatistics(const HostTensor &input) {
  Dims4 d(input.shape);
  double count = static_cast<double>(d.n * d.h * d.w);
  std::vector<double> mean(d.c, 0.0), var(d.c, 0.0);
  for (int64_t c = 0; c < d.c; ++c) {
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t h = 0; h < d.h; ++h)
        for (int64_t w = 0; w < d.w; ++w)
          mean[c] += input.f32[d.index(n, c, h, w)];
    mean[c] /= count;
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t h = 0; h < d.h; ++h)
        for (int64_t w = 0; w < d.w; ++w) {
          double centered = input.f32[d.index(n, c, h, w)] - mean[c];
          var[c] += centered * centered;
        }
    var[c] /= count;
  }
  return {mean, var};
}

HostTensor relu(const HostTensor &input) {
  HostTensor output = HostTensor::zeros(input.shape);
  for (size_t i = 0; i < input.f32.size(); ++i)
    output.f32[i] = input.f32[i] < 0.0f ? 0.0f : input.f32[i]; // keeps NaN
  return output;
}

HostTensor add(const HostTensor &lhs, const HostTensor &rhs) {
  HostTensor output = HostTensor::zeros(lhs.shape);
  for (size_t i = 0; i < lhs.f32.size(); ++i)
    output.f32[i] = lhs.f32[i] + rhs.f32[i];
  return output;
}

/// Zeros, `low[d]` before and `high[d]` after each dimension d.
HostTensor pad(const HostTensor &input, ArrayRef<int64_t> low,
               std::vector<int64_t> outShape) {
  HostTensor output = HostTensor::zeros(std::move(outShape));
  std::vector<int64_t> inStrides = stridesOf(input.shape);
  std::vector<int64_t> outStrides = stridesOf(output.shape);
  for (int64_t i = 0; i < input.numElements(); ++i) {
    int64_t rest = i, at = 0;
    for (size_t d = 0; d < input.shape.size(); ++d) {
      at += (rest / inStrides[d] + low[d]) * outStrides[d];
      rest %= inStrides[d];
    }
    output.f32[at] = input.f32[i];
  }
  return output;
}

/// Max over each window; padding counts as -infinity and NaN propagates, as
/// in PyTorch.
HostTensor maxPool(const HostTensor &input, ArrayRef<int64_t> kernel,
                   const Window &window, std::vector<int64_t> outShape) {
  HostTensor output = HostTensor::zeros(std::move(outShape));
  Dims4 in(input.shape), out(output.shape);
  for (int64_t n = 0; n < out.n; ++n)
    for (int64_t c = 0; c < out.c; ++c)
      for (int64_t oh = 0; oh < out.h; ++oh)
        for (int64_t ow = 0; ow < out.w; ++ow) {
          float max = -std::numeric_limits<float>::infinity();
          for (int64_t kh = 0; kh < kernel[0]; ++kh) {
            int64_t ih = oh * window.stride[0] - window.padding[0] +
                         kh * window.dilation[0];
            if (ih < 0 || ih >= in.h)
              continue;
            for (int64_t kw = 0; kw < kernel[1]; ++kw) {
              int64_t iw = ow * window.stride[1] - window.padding[1] +
                           kw * window.dilation[1];
              if (iw < 0 || iw >= in.w)
                continue;
              float value = input.f32[in.index(n, c, ih, iw)];
              if (value > max || std::isnan(value))
                max = value;
            }
          }
          output.f32[out.index(n, c, oh, ow)] = max;
        }
  return output;
}

/// Mean over each window, with PyTorch's divisor: with count_include_pad,
/// the window clipped to the padded input (it may reach past it in ceil
/// mode); without, the number of elements inside the input.
HostTensor avgPool(const HostTensor &input, ArrayRef<int64_t> kernel,
                   const Window &window, bool countIncludePad,
                   std::vector<int64_t> outShape) {
  HostTensor output = HostTensor::zeros(std::move(outShape));
  Dims4 in(input.shape), out(output.shape);
  ArrayRef<int64_t> padding = window.padding;
  for (int64_t n = 0; n < out.n; ++n)
    for (int64_t c = 0; c < out.c; ++c)
      for (int64_t oh = 0; oh < out.h; ++oh)
        for (int64_t ow = 0; ow < out.w; ++ow) {
          // The window [h0, h1) x [w0, w1) in unpadded coordinates, clipped
          // to the padded input [-top, h + bottom) x [-left, w + right).
          int64_t h0 = oh * window.stride[0] - padding[0];
          int64_t w0 = ow * window.stride[1] - padding[1];
          int64_t h1 = std::min(h0 + kernel[0], in.h + padding[2]);
          int64_t w1 = std::min(w0 + kernel[1], in.w + padding[3]);
          int64_t paddedCount = (h1 - h0) * (w1 - w0);
          h0 = std::max<int64_t>(h0, 0);
          w0 = std::max<int64_t>(w0, 0);
          h1 = std::min(h1, in.h);
          w1 = std::min(w1, in.w);
          double sum = 0.0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw)
              sum += input.f32[in.index(n, c, ih, iw)];
          int64_t count = countIncludePad ? paddedCount : (h1 - h0) * (w1 - w0);
          output.f32[out.index(n, c, oh, ow)] =
              static_cast<float>(sum / static_cast<double>(count));
        }
  return output;
}

HostTensor globalAvgPool(const HostTensor &input) {
  Dims4 in(input.shape);
  HostTensor output = HostTensor::zeros({in.n, in.c, 1, 1});
  for (int64_t n = 0; n < in.n; ++n)
    for (int64_t c = 0; c < in.c; ++c) {
      double sum = 0.0;
      for (int64_t h = 0; h < in.h; ++h)
        for (int64_t w = 0; w < in.w; ++w)
          sum += input.f32[in.index(n, c, h, w)];
      output.f32[n * in.c + c] =
          static_cast<float>(sum / static_cast<double>(in.h * in.w));
    }
  return output;
}

/// y[n, m] = sum_k x[n, k] * weight[m, k] + bias[m].
HostTensor linear(const HostTensor &input, const HostTensor &weight,
                  const HostTensor *bias) {
  int64_t batch = input.shape[0], features = input.shape[1];
  int64_t outFeatures = weight.shape[0];
  HostTensor output = HostTensor::zeros({batch, outFeatures});
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < outFeatures; ++m) {
      double sum = bias ? bias->f32[m] : 0.0;
      for (int64_t k = 0; k < features; ++k)
        sum += static_cast<double>(input.f32[n * features + k]) *
               weight.f32[m * features + k];
      output.f32[n * outFeatures + m] = static_cast<float>(sum);
    }
  return output;
}

/// exp(x - max) / sum(exp(x - max)) along `axis` (already non-negative).
HostTensor softmax(const HostTensor &input, int64_t axis) {
  HostTensor output = HostTensor::zeros(input.shape);
  int64_t outer = 1, size = input.shape[axis], inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= input.shape[d];
  for (size_t d = axis + 1; d < input.shape.size(); ++d)
    inner *= input.shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return (o * size + k) * inner + i; };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < size; ++k)
        max = std::max<double>(max, input.f32[at(k)]);
      double sum = 0.0;
      for (int64_t k = 0; k < size; ++k)
        sum += std::exp(input.f32[at(k)] - max);
      for (int64_t k = 0; k < size; ++k)
        output.f32[at(k)] =
            static_cast<float>(std::exp(input.f32[at(k)] - max) / sum);
    }
  return output;
}

/// Mean over the batch of logsumexp(logits[n]) - logits[n, labels[n]].
Expected<HostTensor> softmaxCrossEntropy(const HostTensor &logits,
                                         const HostTensor &labels) {
  int64_t batch = logits.shape[0], classes = logits.shape[1];
  double total = 0.0;
  for (int64_t n = 0; n < batch; ++n) {
    int64_t label = labels.i32[n];
    if (label < 0 || label >= classes)
      return fail("label " + llvm::Twine(label) + " at batch index " +
                  llvm::Twine(n) + " is out of range [0, " +
                  llvm::Twine(classes) + ")");
    const float *row = &logits.f32[n * classes];
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t k = 0; k < classes; ++k)
      max = std::max<double>(max, row[k]);
    double sum = 0.0;
    for (int64_t k = 0; k < classes; ++k)
      sum += std::exp(row[k] - max);
    total += max + std::log(sum) - row[label];
  }
  return HostTensor::floats({}, {static_cast<float>(total / batch)});
}

/// With s = gamma / sqrt(var + epsilon): weight * s per output channel, and
/// (bias - mean) * s + beta (bias zero when absent).
std::pair<HostTensor, HostTensor>
foldBatchNorm(const HostTensor &weight, const HostTensor &gamma,
              const HostTensor &beta, const HostTensor &mean,
              const HostTensor &var, const HostTensor *bias, double epsilon) {
  int64_t outChannels = weight.shape[0];
  int64_t perChannel = weight.numElements() / outChannels;
  HostTensor foldedWeight = HostTensor::zeros(weight.shape);
  HostTensor foldedBias = HostTensor::zeros({outChannels});
  for (int64_t o = 0; o < outChannels; ++o) {
    double scale = gamma.f32[o] / std::sqrt(var.f32[o] + epsilon);
    for (int64_t i = 0; i < perChannel; ++i)
      foldedWeight.f32[o * perChannel + i] =
          static_cast<float>(weight.f32[o * perChannel + i] * scale);
    double b = bias ? bias->f32[o] : 0.0;
    foldedBias.f32[o] =
        static_cast<float>((b - mean.f32[o]) * scale + beta.f32[o]);
  }
  return {std::move(foldedWeight), std::move(foldedBias)};
}

//===----------------------------------------------------------------------===//
// Interpreter
//===----------------------------------------------------------------------===//

/// Interprets one function: a map from SSA values to their tensors, filled
/// op by op, each value dropped after its last use.
class Interpreter {
public:
  Interpreter(const resnetc::SafetensorsFile &weights,
              const llvm::StringMap<HostTensor> *prepared)
      : weights(weights), prepared(prepared) {}

  Expected<std::vector<HostTensor>> run(func::FuncOp func,
                                        ArrayRef<HostTensor> inputs);

private:
  Error checkInputs(func::FuncOp func, ArrayRef<HostTensor> inputs);
  Error execute(Operation *op);
  Expected<HostTensor> loadParam(ParamOp op);

  const HostTensor &get(Value value) {
    auto found = values.find(value);
    assert(found != values.end() && "a value read after it was freed");
    return found->second;
  }
  const HostTensor *getOptional(Value value) {
    return value ? &get(value) : nullptr;
  }
  void set(Value value, HostTensor tensor) {
    values[value] = std::move(tensor);
  }

  const resnetc::SafetensorsFile &weights;
  const llvm::StringMap<HostTensor> *prepared;
  llvm::DenseMap<Value, HostTensor> values;
};

Error Interpreter::checkInputs(func::FuncOp func, ArrayRef<HostTensor> inputs) {
  auto argTypes = func.getArgumentTypes();
  if (argTypes.size() != inputs.size())
    return fail("@" + func.getSymName() + " takes " +
                llvm::Twine(argTypes.size()) + " inputs, got " +
                llvm::Twine(inputs.size()));
  for (auto [index, type, input] : llvm::enumerate(argTypes, inputs)) {
    std::string what =
        ("input " + llvm::Twine(index) + " of @" + func.getSymName()).str();
    auto tensorType = dyn_cast<RankedTensorType>(type);
    if (!tensorType || !tensorType.hasStaticShape())
      return fail(what + " has unsupported type (not a static tensor)");
    bool wantsInt = tensorType.getElementType().isInteger(32);
    if (!wantsInt && !tensorType.getElementType().isF32())
      return fail(what + " has unsupported element type (not f32 or i32)");
    if (input.isInt != wantsInt)
      return fail(what + " must be " + (wantsInt ? "i32" : "f32") + ", got " +
                  (input.isInt ? "i32" : "f32"));
    if (ArrayRef<int64_t>(input.shape) != tensorType.getShape())
      return fail(what + " must have shape " +
                  formatShape(tensorType.getShape()) + ", got " +
                  formatShape(input.shape));
    size_t held = input.isInt ? input.i32.size() : input.f32.size();
    if (static_cast<int64_t>(held) != input.numElements())
      return fail(what + " holds " + llvm::Twine(held) +
                  " values, but its shape " + formatShape(input.shape) +
                  " needs " + llvm::Twine(input.numElements()));
  }
  return Error::success();
}

Expected<HostTensor> Interpreter::loadParam(ParamOp op) {
  std::string name = op.getName().str();
  std::vector<int64_t> shape = shapeOf(op.getType());
  if (op.getPrepared()) {
    if (!prepared)
      return fail("prepared parameter '" + name +
                  "' needs an @init function, and the module has none");
    auto found = prepared->find(name);
    if (found == prepared->end())
      return fail("@init returns no value named '" + name +
                  "' (prepared parameter)");
    if (found->second.shape != shape)
      return fail("prepared parameter '" + name + "' has shape " +
                  formatShape(found->second.shape) + " from @init, but " +
                  formatShape(shape) + " in the model");
    return found->second;
  }
  const resnetc::TensorView *tensor = weights.find(name);
  if (!tensor)
    return fail("weights file '" + weights.path() + "' has no tensor '" + name +
                "'");
  if (tensor->shape != shape)
    return fail("parameter '" + name + "' has shape " +
                formatShape(tensor->shape) + " in weights file '" +
                weights.path() + "', but the model expects " +
                formatShape(shape));
  std::string error;
  const float *data = weights.getF32(name, shape, error);
  if (!data)
    return fail("parameter '" + name + "': " + error);
  int64_t count = tensor->numElements();
  return HostTensor::floats(shape, std::vector<float>(data, data + count));
}

Error Interpreter::execute(Operation *operation) {
  auto resultShape = [&]() {
    return shapeOf(operation->getResult(0).getType());
  };
  return llvm::TypeSwitch<Operation *, Error>(operation)
      .Case([&](ParamOp param) -> Error {
        Expected<HostTensor> value = loadParam(param);
        if (!value)
          return value.takeError();
        set(param.getResult(), std::move(*value));
        return Error::success();
      })
      .Case([&](Conv2dOp conv) -> Error {
        Window window{conv.getStride(), conv.getPadding(), conv.getDilation()};
        set(conv.getResult(),
            convolve(get(conv.getInput()), get(conv.getWeight()),
                     getOptional(conv.getBias()), /*residual=*/nullptr, window,
                     conv.getGroups(), /*relu=*/false, resultShape()));
        return Error::success();
      })
      .Case([&](FusedConv2dOp conv) -> Error {
        Window window{conv.getStride(), conv.getPadding(), conv.getDilation()};
        set(conv.getResult(),
            convolve(get(conv.getInput()), get(conv.getWeight()),
                     getOptional(conv.getBias()),
                     getOptional(conv.getResidual()), window, conv.getGroups(),
                     conv.getRelu(), resultShape()));
        return Error::success();
      })
      .Case([&](BatchNormOp bn) -> Error {
        set(bn.getResult(),
            normalize(get(bn.getInput()), get(bn.getWeight()),
                      get(bn.getBias()), toDouble(get(bn.getRunningMean())),
                      toDouble(get(bn.getRunningVar())),
                      bn.getEpsilon().convertToDouble()));
        return Error::success();
      })
      .Case([&](BatchNormTrainOp bn) -> Error {
        const HostTensor &input = get(bn.getInput());
        auto [mean, var] = channelStatistics(input);
        HostTensor output =
            normalize(input, get(bn.getWeight()), get(bn.getBias()), mean, var,
                      bn.getEpsilon().convertToDouble());
        if (bn.getResidual())
          output = add(output, get(bn.getResidual()));
        if (bn.getRelu())
          output = relu(output);
        set(bn.getOutput(), std::move(output));
        int64_t channels = static_cast<int64_t>(mean.size());
        set(bn.getBatchMean(),
            HostTensor::floats({channels},
                               std::vector<float>(mean.begin(), mean.end())));
        set(bn.getBatchVar(),
            HostTensor::floats({channels},
                               std::vector<float>(var.begin(), var.end())));
        return Error::success();
      })
      .Case([&](FoldBatchNormOp fold) -> Error {
        auto [weight, bias] = foldBatchNorm(
            get(fold.getWeight()), get(fold.getGamma()), get(fold.getBeta()),
            get(fold.getRunningMean()), get(fold.getRunningVar()),
            getOptional(fold.getBias()), fold.getEpsilon().convertToDouble());
        set(fold.getFoldedWeight(), std::move(weight));
        set(fold.getFoldedBias(), std::move(bias));
        return Error::success();
      })
      .Case([&](ReluOp op) -> Error {
        set(op.getResult(), relu(get(op.getInput())));
        return Error::success();
      })
      .Case([&](AddOp op) -> Error {
        set(op.getResult(), add(get(op.getLhs()), get(op.getRhs())));
        return Error::success();
      })
      .Case([&](PadOp op) -> Error {
        set(op.getResult(),
            pad(get(op.getInput()), op.getLow(), resultShape()));
        return Error::success();
      })
      .Case([&](FlattenOp op) -> Error {
        HostTensor output = get(op.getInput());
        output.shape = resultShape();
        set(op.getResult(), std::move(output));
        return Error::success();
      })
      .Case([&](MaxPool2dOp op) -> Error {
        Window window{op.getStride(), op.getPadding(), op.getDilation()};
        set(op.getResult(),
            maxPool(get(op.getInput()), op.getKernel(), window, resultShape()));
        return Error::success();
      })
      .Case([&](AvgPool2dOp op) -> Error {
        Window window{op.getStride(), op.getPadding(), /*dilation=*/{}};
        set(op.getResult(), avgPool(get(op.getInput()), op.getKernel(), window,
                                    op.getCountIncludePad(), resultShape()));
        return Error::success();
      })
      .Case([&](GlobalAvgPoolOp op) -> Error {
        set(op.getResult(), globalAvgPool(get(op.getInput())));
        return Error::success();
      })
      .Case([&](LinearOp op) -> Error {
        set(op.getResult(), linear(get(op.getInput()), get(op.getWeight()),
                                   getOptional(op.getBias())));
        return Error::success();
      })
      .Case([&](SoftmaxOp op) -> Error {
        const HostTensor &input = get(op.getInput());
        int64_t axis = static_cast<int64_t>(op.getAxis());
        if (axis < 0)
          axis += static_cast<int64_t>(input.shape.size());
        set(op.getResult(), softmax(input, axis));
        return Error::success();
      })
      .Case([&](SoftmaxCrossEntropyOp op) -> Error {
        Expected<HostTensor> loss =
            softmaxCrossEntropy(get(op.getLogits()), get(op.getLabels()));
        if (!loss)
          return loss.takeError();
        set(op.getResult(), std::move(*loss));
        return Error::success();
      })
      .Default([&](Operation *op) -> Error {
        return fail("the evaluator does not support '" +
                    op->getName().getStringRef() + "' (at " +
                    formatLocation(op->getLoc()) + ")");
      });
}

Expected<std::vector<HostTensor>>
Interpreter::run(func::FuncOp func, ArrayRef<HostTensor> inputs) {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return fail("@" + func.getSymName() +
                " must have a body of exactly one block");
  if (Error error = checkInputs(func, inputs))
    return std::move(error);

  Block &body = func.getBody().front();
  // The last op that reads each value; the value is freed after it runs.
  llvm::DenseMap<Value, Operation *> lastUse;
  for (Operation &op : body)
    for (Value operand : op.getOperands())
      lastUse[operand] = &op;
  auto release = [&](Value value, Operation *op) {
    auto found = lastUse.find(value);
    if (found == lastUse.end() || found->second == op)
      values.erase(value);
  };

  for (auto [arg, input] : llvm::zip(body.getArguments(), inputs))
    set(arg, input);
  for (BlockArgument arg : body.getArguments())
    release(arg, nullptr);

  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<HostTensor> results;
      for (Value operand : ret.getOperands())
        results.push_back(get(operand));
      values.clear();
      return results;
    }
    if (Error error = execute(&op))
      return std::move(error);
    for (Value operand : op.getOperands())
      release(operand, &op);
    for (Value result : op.getResults())
      release(result, &op);
  }
  return fail("@" + func.getSymName() + " does not end with func.return");
}

} // namespace

Expected<std::vector<HostTensor>>
resnetc::evaluate(ModuleOp module, const SafetensorsFile &weights,
                  ArrayRef<HostTensor> inputs, StringRef function) {
  auto func = module.lookupSymbol<func::FuncOp>(function);
  if (!func)
    return fail("the module has no function @" + function);

  // @init's results, by their resnet.name, feed the prepared parameters.
  std::optional<llvm::StringMap<HostTensor>> prepared;
  auto init = module.lookupSymbol<func::FuncOp>("init");
  if (init && function != "init") {
    Expected<std::vector<HostTensor>> results =
        Interpreter(weights, /*prepared=*/nullptr).run(init, {});
    if (!results)
      return fail("in @init: " + llvm::toString(results.takeError()));
    prepared.emplace();
    for (auto [index, result] : llvm::enumerate(*results)) {
      auto name = init.getResultAttrOfType<StringAttr>(index, "resnet.name");
      if (!name)
        return fail("result " + llvm::Twine(index) +
                    " of @init has no 'resnet.name' string attribute");
      (*prepared)[name.getValue()] = std::move(result);
    }
  }
  return Interpreter(weights, prepared ? &*prepared : nullptr)
      .run(func, inputs);
}
