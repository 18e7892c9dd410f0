//===- EvaluatorTest.cpp - The reference evaluator, op by op --------------===//
//
// Each op against values computed independently here: small cases worked
// out by hand, and random cases against formulas written with a different
// loop structure (convolution as im2col + matmul). Errors are checked by
// their messages.
//
//===----------------------------------------------------------------------===//
#include "compiler/Evaluator/Evaluator.h"

#include "compiler/InitAll.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>

using namespace resnetc;

namespace {

using Params = std::map<std::string, HostTensor>;

HostTensor randomTensor(std::vector<int64_t> shape, std::mt19937 &rng,
                        float lo = -1.0f, float hi = 1.0f) {
  HostTensor tensor = HostTensor::zeros(std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float &value : tensor.f32)
    value = dist(rng);
  return tensor;
}

/// ||a - b|| / ||b||.
double relativeL2(const std::vector<float> &a, const std::vector<float> &b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return std::sqrt(diff / norm);
}

void expectValues(const HostTensor &actual, std::vector<int64_t> shape,
                  const std::vector<float> &expected, float tolerance = 1e-6f) {
  EXPECT_EQ(actual.shape, shape);
  ASSERT_EQ(actual.f32.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(actual.f32[i], expected[i], tolerance) << "at index " << i;
}

class EvaluatorTest : public ::testing::Test {
protected:
  EvaluatorTest() {
    registerAllDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
  }

  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "evaluator-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  /// Parses and verifies `text`.
  mlir::OwningOpRef<mlir::ModuleOp> parse(const std::string &text) {
    auto module = mlir::parseSourceString<mlir::ModuleOp>(text, context.get());
    EXPECT_TRUE(module) << text;
    if (module) {
      EXPECT_TRUE(mlir::succeeded(mlir::verify(*module))) << text;
    }
    return module;
  }

  /// Writes `params` to a safetensors file and maps it.
  std::unique_ptr<SafetensorsFile> weightsFile(const Params &params) {
    std::vector<TensorToWrite> tensors;
    for (const auto &[name, tensor] : params)
      tensors.push_back({name, DType::F32, tensor.shape, tensor.f32.data()});
    std::string path = dir + "/w" + std::to_string(files++) + ".safetensors";
    std::string error;
    EXPECT_TRUE(writeSafetensors(path, tensors, {}, error)) << error;
    auto file = SafetensorsFile::open(path, error);
    EXPECT_TRUE(file) << error;
    return file;
  }

  llvm::Expected<std::vector<HostTensor>>
  tryRun(const std::string &text, const Params &params,
         const std::vector<HostTensor> &inputs,
         llvm::StringRef function = "forward") {
    auto module = parse(text);
    auto weights = weightsFile(params);
    if (!module || !weights)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "bad test setup");
    return evaluate(*module, *weights, inputs, function);
  }

  /// The results of a run expected to succeed.
  std::vector<HostTensor> run(const std::string &text, const Params &params,
                              const std::vector<HostTensor> &inputs,
                              llvm::StringRef function = "forward") {
    auto results = tryRun(text, params, inputs, function);
    if (!results) {
      ADD_FAILURE() << llvm::toString(results.takeError());
      return {};
    }
    return std::move(*results);
  }

  /// The message of a run expected to fail.
  std::string runError(const std::string &text, const Params &params,
                       const std::vector<HostTensor> &inputs,
                       llvm::StringRef function = "forward") {
    auto results = tryRun(text, params, inputs, function);
    if (results) {
      ADD_FAILURE() << "expected an error";
      return "";
    }
    return llvm::toString(results.takeError());
  }

  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
  std::string dir;
  int files = 0;
};

const HostTensor kOneToNine =
    HostTensor::floats({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, Conv2dByHand) {
  // 1 2 3                 37 47
  // 4 5 6  (*)  1 2  =
  // 7 8 9       3 4       67 77, + bias 0.5
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32> {
      %w = resnet.param "w" : tensor<1x1x2x2xf32>
      %b = resnet.param "b" : tensor<1xf32>
      %y = resnet.conv2d %x, %w, %b : tensor<1x1x3x3xf32>, tensor<1x1x2x2xf32>, tensor<1xf32>
      return %y : tensor<1x1x2x2xf32>
    })mlir";
  Params params = {{"w", HostTensor::floats({1, 1, 2, 2}, {1, 2, 3, 4})},
                   {"b", HostTensor::floats({1}, {0.5f})}};
  auto results = run(text, params, {kOneToNine});
  ASSERT_EQ(results.size(), 1u);
  expectValues(results[0], {1, 1, 2, 2}, {37.5f, 47.5f, 67.5f, 77.5f});
}

TEST_F(EvaluatorTest, Conv2dPaddedStridedByHand) {
  // Padding 1, stride 2: windows start at rows/cols -1 and 1. The top-left
  // window sees only x[0][0] under kernel entry 4; the top-right sees 2, 3
  // under 3, 4; the bottom-left 4, 7 under 2, 4.
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x1x3x3xf32>) -> tensor<1x1x2x2xf32> {
      %w = resnet.param "w" : tensor<1x1x2x2xf32>
      %y = resnet.conv2d %x, %w {padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<1x1x3x3xf32>, tensor<1x1x2x2xf32>
      return %y : tensor<1x1x2x2xf32>
    })mlir";
  Params params = {{"w", HostTensor::floats({1, 1, 2, 2}, {1, 2, 3, 4})}};
  auto results = run(text, params, {kOneToNine});
  ASSERT_EQ(results.size(), 1u);
  expectValues(results[0], {1, 1, 2, 2}, {4, 18, 36, 77});
}

/// Convolution as im2col + matmul, per image and group: a loop structure
/// unlike the evaluator's (which walks kernel taps over output planes).
std::vector<float> im2colConv(const HostTensor &x, const HostTensor &w,
                              const std::vector<float> &bias,
                              std::array<int64_t, 2> stride,
                              std::array<int64_t, 4> pad,
                              std::array<int64_t, 2> dil, int64_t groups,
                              int64_t oh, int64_t ow) {
  int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  int64_t o = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  int64_t og = o / groups, rows = cg * kh * kw, cols = oh * ow;
  std::vector<float> out(n * o * cols, 0.0f);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < groups; ++g) {
      // columns[r][p]: input under kernel tap r = (ci, i, j) at output p.
      std::vector<double> columns(rows * cols, 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        int64_t ci = r / (kh * kw), i = (r / kw) % kh, j = r % kw;
        for (int64_t p = 0; p < cols; ++p) {
          int64_t y = (p / ow) * stride[0] - pad[0] + i * dil[0];
          int64_t xcol = (p % ow) * stride[1] - pad[1] + j * dil[1];
          if (y >= 0 && y < h && xcol >= 0 && xcol < wd)
            columns[r * cols + p] =
                x.f32[((b * c + g * cg + ci) * h + y) * wd + xcol];
        }
      }
      for (int64_t m = 0; m < og; ++m) {
        int64_t oc = g * og + m;
        for (int64_t p = 0; p < cols; ++p) {
          double sum = bias.empty() ? 0.0 : bias[oc];
          for (int64_t r = 0; r < rows; ++r)
            sum += double(w.f32[oc * rows + r]) * columns[r * cols + p];
          out[(b * o + oc) * cols + p] = static_cast<float>(sum);
        }
      }
    }
  return out;
}

TEST_F(EvaluatorTest, Conv2dGroupedDilatedStridedMatchesIm2col) {
  // 2x6x11x10 input, 3 groups of 2 -> 3 channels each, 3x2 kernel,
  // stride [2, 3], dilation [2, 1], asymmetric padding [1, 2, 0, 1]:
  // height (11 + 1 - 4 - 1) / 2 + 1 = 4, width (10 + 3 - 1 - 1) / 3 + 1 = 4.
  const char *text = R"mlir(
    func.func @forward(%x: tensor<2x6x11x10xf32>) -> tensor<2x9x4x4xf32> {
      %w = resnet.param "w" : tensor<9x2x3x2xf32>
      %b = resnet.param "b" : tensor<9xf32>
      %y = resnet.conv2d %x, %w, %b {stride = array<i64: 2, 3>, padding = array<i64: 1, 2, 0, 1>, dilation = array<i64: 2, 1>, groups = 3 : i64} : tensor<2x6x11x10xf32>, tensor<9x2x3x2xf32>, tensor<9xf32>
      return %y : tensor<2x9x4x4xf32>
    })mlir";
  std::mt19937 rng(1);
  HostTensor x = randomTensor({2, 6, 11, 10}, rng);
  Params params = {{"w", randomTensor({9, 2, 3, 2}, rng)},
                   {"b", randomTensor({9}, rng)}};
  auto results = run(text, params, {x});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].shape, (std::vector<int64_t>{2, 9, 4, 4}));
  std::vector<float> expected = im2colConv(
      x, params["w"], params["b"].f32, {2, 3}, {1, 2, 0, 1}, {2, 1}, 3, 4, 4);
  EXPECT_LT(relativeL2(results[0].f32, expected), 1e-6);
}

TEST_F(EvaluatorTest, FusedConv2dEqualsComposedOps) {
  // relu(conv + bias + residual) as one op and as conv2d, add, relu.
  const char *text = R"mlir(
    func.func @fused(%x: tensor<1x4x7x7xf32>, %r: tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32> {
      %w = resnet.param "w" : tensor<6x2x3x3xf32>
      %b = resnet.param "b" : tensor<6xf32>
      %y = resnet.fused_conv2d %x, %w bias %b residual %r {padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, groups = 2 : i64, relu} : tensor<1x4x7x7xf32>, tensor<6x2x3x3xf32>, tensor<6xf32>, tensor<1x6x4x4xf32>
      return %y : tensor<1x6x4x4xf32>
    }
    func.func @composed(%x: tensor<1x4x7x7xf32>, %r: tensor<1x6x4x4xf32>) -> tensor<1x6x4x4xf32> {
      %w = resnet.param "w" : tensor<6x2x3x3xf32>
      %b = resnet.param "b" : tensor<6xf32>
      %c = resnet.conv2d %x, %w, %b {padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>, groups = 2 : i64} : tensor<1x4x7x7xf32>, tensor<6x2x3x3xf32>, tensor<6xf32>
      %a = resnet.add %c, %r : tensor<1x6x4x4xf32>, tensor<1x6x4x4xf32>
      %y = resnet.relu %a : tensor<1x6x4x4xf32>
      return %y : tensor<1x6x4x4xf32>
    }
    func.func @plain_fused(%x: tensor<1x4x7x7xf32>) -> tensor<1x6x5x5xf32> {
      %w = resnet.param "w" : tensor<6x2x3x3xf32>
      %y = resnet.fused_conv2d %x, %w {groups = 2 : i64} : tensor<1x4x7x7xf32>, tensor<6x2x3x3xf32>
      return %y : tensor<1x6x5x5xf32>
    }
    func.func @plain(%x: tensor<1x4x7x7xf32>) -> tensor<1x6x5x5xf32> {
      %w = resnet.param "w" : tensor<6x2x3x3xf32>
      %y = resnet.conv2d %x, %w {groups = 2 : i64} : tensor<1x4x7x7xf32>, tensor<6x2x3x3xf32>
      return %y : tensor<1x6x5x5xf32>
    })mlir";
  std::mt19937 rng(2);
  HostTensor x = randomTensor({1, 4, 7, 7}, rng);
  HostTensor residual = randomTensor({1, 6, 4, 4}, rng);
  Params params = {{"w", randomTensor({6, 2, 3, 3}, rng)},
                   {"b", randomTensor({6}, rng)}};
  auto fused = run(text, params, {x, residual}, "fused");
  auto composed = run(text, params, {x, residual}, "composed");
  ASSERT_EQ(fused.size(), 1u);
  ASSERT_EQ(composed.size(), 1u);
  expectValues(fused[0], {1, 6, 4, 4}, composed[0].f32, 1e-6f);
  int negatives = 0;
  for (float v : fused[0].f32)
    negatives += v < 0.0f;
  EXPECT_EQ(negatives, 0);

  auto plainFused = run(text, params, {x}, "plain_fused");
  auto plain = run(text, params, {x}, "plain");
  ASSERT_EQ(plain.size(), 1u);
  ASSERT_EQ(plainFused.size(), 1u);
  EXPECT_EQ(plainFused[0].f32, plain[0].f32);
  EXPECT_LT(*std::min_element(plain[0].f32.begin(), plain[0].f32.end()), 0.0f);
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, BatchNormMatchesFormula) {
  const char *text = R"mlir(
    func.func @forward(%x: tensor<2x3x4x5xf32>) -> tensor<2x3x4x5xf32> {
      %g = resnet.param "g" : tensor<3xf32>
      %b = resnet.param "b" : tensor<3xf32>
      %m = resnet.param "m" : tensor<3xf32>
      %v = resnet.param "v" : tensor<3xf32>
      %y = resnet.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-3 : f64} : tensor<2x3x4x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
      return %y : tensor<2x3x4x5xf32>
    })mlir";
  std::mt19937 rng(3);
  HostTensor x = randomTensor({2, 3, 4, 5}, rng);
  Params params = {{"g", randomTensor({3}, rng)},
                   {"b", randomTensor({3}, rng)},
                   {"m", randomTensor({3}, rng)},
                   {"v", randomTensor({3}, rng, 0.1f, 2.0f)}};
  auto results = run(text, params, {x});
  ASSERT_EQ(results.size(), 1u);
  std::vector<float> expected(x.f32.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    size_t c = (i / 20) % 3;
    expected[i] = (x.f32[i] - params["m"].f32[c]) /
                      std::sqrt(params["v"].f32[c] + 1e-3) *
                      params["g"].f32[c] +
                  params["b"].f32[c];
  }
  expectValues(results[0], {2, 3, 4, 5}, expected, 1e-5f);
}

TEST_F(EvaluatorTest, BatchNormTrainUsesBatchStatistics) {
  const char *text = R"mlir(
    func.func @forward(%x: tensor<3x2x2x3xf32>) -> (tensor<3x2x2x3xf32>, tensor<2xf32>, tensor<2xf32>) {
      %g = resnet.param "g" : tensor<2xf32>
      %b = resnet.param "b" : tensor<2xf32>
      %y:3 = resnet.batch_norm_train %x, %g, %b : tensor<3x2x2x3xf32>, tensor<2xf32>, tensor<2xf32>
      return %y#0, %y#1, %y#2 : tensor<3x2x2x3xf32>, tensor<2xf32>, tensor<2xf32>
    })mlir";
  std::mt19937 rng(4);
  HostTensor x = randomTensor({3, 2, 2, 3}, rng, -2.0f, 3.0f);
  Params params = {{"g", HostTensor::floats({2}, {2.0f, 0.5f})},
                   {"b", HostTensor::floats({2}, {1.0f, -1.0f})}};
  auto results = run(text, params, {x});
  ASSERT_EQ(results.size(), 3u);
  // Statistics as E[x] and E[x^2] - E[x]^2 over the 3 * 2 * 3 = 18 values
  // of each channel (the biased variance).
  std::vector<float> mean(2), var(2), expected(x.f32.size());
  for (int c = 0; c < 2; ++c) {
    double sum = 0.0, squares = 0.0;
    for (size_t i = 0; i < x.f32.size(); ++i)
      if (int((i / 6) % 2) == c) {
        sum += x.f32[i];
        squares += double(x.f32[i]) * x.f32[i];
      }
    mean[c] = sum / 18;
    var[c] = squares / 18 - (sum / 18) * (sum / 18);
  }
  for (size_t i = 0; i < x.f32.size(); ++i) {
    int c = (i / 6) % 2;
    expected[i] =
        (x.f32[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * params["g"].f32[c] +
        params["b"].f32[c];
  }
  expectValues(results[0], {3, 2, 2, 3}, expected, 1e-5f);
  expectValues(results[1], {2}, mean, 1e-6f);
  expectValues(results[2], {2}, var, 1e-5f);
}

/// conv -> batch_norm, and fold_batch_norm -> conv, on the same weights;
/// also with the fold hoisted into @init as prepared parameters.
const char *kFoldModule = R"mlir(
    func.func @unfolded(%x: tensor<2x3x6x6xf32>) -> tensor<2x4x6x6xf32> {
      %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
      %cb = resnet.param "conv.bias" : tensor<4xf32>
      %g = resnet.param "bn.weight" : tensor<4xf32>
      %b = resnet.param "bn.bias" : tensor<4xf32>
      %m = resnet.param "bn.running_mean" : tensor<4xf32>
      %v = resnet.param "bn.running_var" : tensor<4xf32>
      %c = resnet.conv2d %x, %w, %cb {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x6x6xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
      %y = resnet.batch_norm %c, %g, %b, %m, %v : tensor<2x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
      return %y : tensor<2x4x6x6xf32>
    }
    func.func @folded(%x: tensor<2x3x6x6xf32>) -> tensor<2x4x6x6xf32> {
      %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
      %cb = resnet.param "conv.bias" : tensor<4xf32>
      %g = resnet.param "bn.weight" : tensor<4xf32>
      %b = resnet.param "bn.bias" : tensor<4xf32>
      %m = resnet.param "bn.running_mean" : tensor<4xf32>
      %v = resnet.param "bn.running_var" : tensor<4xf32>
      %fw, %fb = resnet.fold_batch_norm %w, %g, %b, %m, %v bias %cb : tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
      %y = resnet.conv2d %x, %fw, %fb {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x6x6xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
      return %y : tensor<2x4x6x6xf32>
    }
    func.func @init() -> (tensor<4x3x3x3xf32> {resnet.name = "w.folded"}, tensor<4xf32> {resnet.name = "b.folded"}) {
      %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
      %cb = resnet.param "conv.bias" : tensor<4xf32>
      %g = resnet.param "bn.weight" : tensor<4xf32>
      %b = resnet.param "bn.bias" : tensor<4xf32>
      %m = resnet.param "bn.running_mean" : tensor<4xf32>
      %v = resnet.param "bn.running_var" : tensor<4xf32>
      %fw, %fb = resnet.fold_batch_norm %w, %g, %b, %m, %v bias %cb : tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
      return %fw, %fb : tensor<4x3x3x3xf32>, tensor<4xf32>
    }
    func.func @forward(%x: tensor<2x3x6x6xf32>) -> tensor<2x4x6x6xf32> {
      %fw = resnet.param "w.folded" {prepared} : tensor<4x3x3x3xf32>
      %fb = resnet.param "b.folded" {prepared} : tensor<4xf32>
      %y = resnet.conv2d %x, %fw, %fb {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x6x6xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
      return %y : tensor<2x4x6x6xf32>
    })mlir";

TEST_F(EvaluatorTest, FoldBatchNormPreservesConvBatchNorm) {
  std::mt19937 rng(5);
  HostTensor x = randomTensor({2, 3, 6, 6}, rng);
  Params params = {{"conv.weight", randomTensor({4, 3, 3, 3}, rng)},
                   {"conv.bias", randomTensor({4}, rng)},
                   {"bn.weight", randomTensor({4}, rng, 0.5f, 2.0f)},
                   {"bn.bias", randomTensor({4}, rng)},
                   {"bn.running_mean", randomTensor({4}, rng)},
                   {"bn.running_var", randomTensor({4}, rng, 0.2f, 3.0f)}};
  auto unfolded = run(kFoldModule, params, {x}, "unfolded");
  auto folded = run(kFoldModule, params, {x}, "folded");
  auto prepared = run(kFoldModule, params, {x}, "forward");
  ASSERT_EQ(unfolded.size(), 1u);
  ASSERT_EQ(folded.size(), 1u);
  ASSERT_EQ(prepared.size(), 1u);
  EXPECT_LT(relativeL2(folded[0].f32, unfolded[0].f32), 1e-6);
  EXPECT_EQ(prepared[0].f32, folded[0].f32);

  // The folded values themselves, from @init, against the formula.
  auto init = run(kFoldModule, params, {}, "init");
  ASSERT_EQ(init.size(), 2u);
  for (int o = 0; o < 4; ++o) {
    double s = params["bn.weight"].f32[o] /
               std::sqrt(params["bn.running_var"].f32[o] + 1e-5);
    EXPECT_NEAR(
        init[1].f32[o],
        (params["conv.bias"].f32[o] - params["bn.running_mean"].f32[o]) * s +
            params["bn.bias"].f32[o],
        1e-6);
    for (int i = 0; i < 27; ++i)
      EXPECT_NEAR(init[0].f32[o * 27 + i],
                  params["conv.weight"].f32[o * 27 + i] * s, 1e-6);
  }
}

//===----------------------------------------------------------------------===//
// Elementwise and data movement
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, ReluAddPadFlatten) {
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x2x1x2xf32>, %y: tensor<1x2x1x2xf32>) -> (tensor<1x2x1x2xf32>, tensor<1x4x1x3xf32>, tensor<2x2xf32>) {
      %a = resnet.add %x, %y : tensor<1x2x1x2xf32>, tensor<1x2x1x2xf32>
      %r = resnet.relu %a : tensor<1x2x1x2xf32>
      %p = resnet.pad %r {low = array<i64: 0, 1, 0, 1>, high = array<i64: 0, 1, 0, 0>} : tensor<1x2x1x2xf32>
      %f = resnet.flatten %a {axis = 2 : i64} : tensor<1x2x1x2xf32>
      return %r, %p, %f : tensor<1x2x1x2xf32>, tensor<1x4x1x3xf32>, tensor<2x2xf32>
    })mlir";
  HostTensor x = HostTensor::floats({1, 2, 1, 2}, {1, -2, 3, -4});
  HostTensor y = HostTensor::floats({1, 2, 1, 2}, {0.5f, 1, -4, 5});
  auto results = run(text, {}, {x, y});
  ASSERT_EQ(results.size(), 3u);
  expectValues(results[0], {1, 2, 1, 2}, {1.5f, 0, 0, 1});
  // Channels [0, c0, c1, 0], each row [0, v0, v1].
  expectValues(results[1], {1, 4, 1, 3},
               {0, 0, 0, 0, 1.5f, 0, 0, 0, 1, 0, 0, 0});
  // ONNX flatten at axis 2: 1*2 rows of 1*2.
  expectValues(results[2], {2, 2}, {1.5f, -1, -1, 1});
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, MaxPoolPaddingIsMinusInfinity) {
  // -x for x = 1..9, kernel 2, stride 1, padding 1: 4x4 windows; on
  // negative inputs, zero padding would win, -infinity does not.
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x1x3x3xf32>) -> tensor<1x1x4x4xf32> {
      %y = resnet.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>} : tensor<1x1x3x3xf32>
      return %y : tensor<1x1x4x4xf32>
    })mlir";
  HostTensor x = kOneToNine;
  for (float &v : x.f32)
    v = -v;
  auto results = run(text, {}, {x});
  ASSERT_EQ(results.size(), 1u);
  expectValues(
      results[0], {1, 1, 4, 4},
      {-1, -1, -2, -3, -1, -1, -2, -3, -4, -4, -5, -6, -7, -7, -8, -9});
}

TEST_F(EvaluatorTest, MaxPoolDilatedCeilMode) {
  // 1x1x5x5 arange, kernel 2 with dilation 2 (taps 0 and 2), stride 3:
  // floor mode fits one window, ceil mode a second one starting at 3,
  // inside the input, whose second tap (5) falls outside it.
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x1x5x5xf32>) -> (tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>) {
      %c = resnet.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 3, 3>, dilation = array<i64: 2, 2>, ceil_mode = true} : tensor<1x1x5x5xf32>
      %f = resnet.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 3, 3>, dilation = array<i64: 2, 2>} : tensor<1x1x5x5xf32>
      return %c, %f : tensor<1x1x2x2xf32>, tensor<1x1x1x1xf32>
    })mlir";
  HostTensor x = HostTensor::zeros({1, 1, 5, 5});
  for (int i = 0; i < 25; ++i)
    x.f32[i] = float(i);
  auto results = run(text, {}, {x});
  ASSERT_EQ(results.size(), 2u);
  // (0,0): max of x[{0,2}][{0,2}] = 12; (0,1): x[{0,2}][3] = 13;
  // (1,0): x[3][{0,2}] = 17; (1,1): x[3][3] = 18.
  expectValues(results[0], {1, 1, 2, 2}, {12, 13, 17, 18});
  expectValues(results[1], {1, 1, 1, 1}, {12});
}

/// x = arange(25) as 5x5, kernel 2, stride 2, padding 1: windows cover rows
/// {-1,0}, {1,2}, {3,4} (and the same columns). Ceil mode would add a
/// window at 6, which starts past the input and left padding: dropped, so
/// the output is 3x3 in both modes.
const char *kAvgPoolModule = R"mlir(
    func.func @forward(%x: tensor<1x1x5x5xf32>) -> (tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>) {
      %a = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : tensor<1x1x5x5xf32>
      %b = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, count_include_pad = false} : tensor<1x1x5x5xf32>
      %c = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, ceil_mode = true} : tensor<1x1x5x5xf32>
      return %a, %b, %c : tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>
    })mlir";

TEST_F(EvaluatorTest, AvgPoolCountIncludePadByHand) {
  HostTensor x = HostTensor::zeros({1, 1, 5, 5});
  for (int i = 0; i < 25; ++i)
    x.f32[i] = float(i);
  auto results = run(kAvgPoolModule, {}, {x});
  ASSERT_EQ(results.size(), 3u);
  // Sums: corner 0; edges 1+2, 3+4, 5+10, 15+20; interior 6+7+11+12 ...
  // Divided by 4 with the padding, by the in-bounds count without.
  std::vector<float> included = {0, 0.75f, 1.75f, 3.75f, 9, 11, 8.75f, 19, 21};
  std::vector<float> excluded = {0, 1.5f, 3.5f, 7.5f, 9, 11, 17.5f, 19, 21};
  expectValues(results[0], {1, 1, 3, 3}, included);
  expectValues(results[1], {1, 1, 3, 3}, excluded);
  expectValues(results[2], {1, 1, 3, 3}, included);
}

TEST_F(EvaluatorTest, AvgPoolCeilModeClipsToPaddedInput) {
  // x = arange(16) as 4x4, kernel 3, stride 2, padding 1, ceil mode: 3x3
  // windows starting at -1, 1, 3. The last, [3, 6), reaches past the padded
  // input [-1, 5): with count_include_pad it counts 2 rows/cols, not 3.
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x1x4x4xf32>) -> (tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>) {
      %a = resnet.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, ceil_mode = true} : tensor<1x1x4x4xf32>
      %b = resnet.avg_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, ceil_mode = true, count_include_pad = false} : tensor<1x1x4x4xf32>
      return %a, %b : tensor<1x1x3x3xf32>, tensor<1x1x3x3xf32>
    })mlir";
  HostTensor x = HostTensor::zeros({1, 1, 4, 4});
  for (int i = 0; i < 16; ++i)
    x.f32[i] = float(i);
  auto results = run(text, {}, {x});
  ASSERT_EQ(results.size(), 2u);
  // In-bounds rows (and cols): {0,1}, {1,2,3}, {3}; padded extents 3, 3, 2.
  // Window sums 4*|C|*sum(R) + |R|*sum(C): 10 24 10 / 51 90 33 / 25 42 15.
  expectValues(results[0], {1, 1, 3, 3},
               {10.0f / 9, 24.0f / 9, 10.0f / 6, 51.0f / 9, 10, 33.0f / 6,
                25.0f / 6, 42.0f / 6, 15.0f / 4});
  expectValues(results[1], {1, 1, 3, 3},
               {10.0f / 4, 24.0f / 6, 10.0f / 2, 51.0f / 6, 10, 33.0f / 3,
                25.0f / 2, 42.0f / 3, 15});
}

TEST_F(EvaluatorTest, AvgPoolAsymmetricPaddingCeilMode) {
  // x = [1, 2, 3, 4, 5] as 1x1x1x5, kernel 1x3, stride 2, padding left 1,
  // right 0, ceil mode: windows [-1, 2), [1, 4), [3, 6); the padded input is
  // [-1, 5), so the last window counts 2 elements (4 + 5) with the padding
  // included, and the first 3 (pad, 1, 2).
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x1x1x5xf32>) -> tensor<1x1x1x3xf32> {
      %a = resnet.avg_pool2d %x {kernel = array<i64: 1, 3>, stride = array<i64: 1, 2>, padding = array<i64: 0, 1, 0, 0>, ceil_mode = true} : tensor<1x1x1x5xf32>
      return %a : tensor<1x1x1x3xf32>
    })mlir";
  auto results =
      run(text, {}, {HostTensor::floats({1, 1, 1, 5}, {1, 2, 3, 4, 5})});
  ASSERT_EQ(results.size(), 1u);
  expectValues(results[0], {1, 1, 1, 3}, {1, 3, 4.5f});
}

//===----------------------------------------------------------------------===//
// Classifier and loss
//===----------------------------------------------------------------------===//

TEST_F(EvaluatorTest, GlobalAvgPoolAndLinear) {
  const char *text = R"mlir(
    func.func @forward(%x: tensor<1x2x2x2xf32>) -> (tensor<1x3xf32>, tensor<1x3xf32>) {
      %p = resnet.global_avg_pool %x : tensor<1x2x2x2xf32>
      %f = resnet.flatten %p : tensor<1x2x1x1xf32>
      %w = resnet.param "fc.weight" : tensor<3x2xf32>
      %b = resnet.param "fc.bias" : tensor<3xf32>
      %y = resnet.linear %f, %w, %b : tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>
      %z = resnet.linear %f, %w : tensor<1x2xf32>, tensor<3x2xf32>
      return %y, %z : tensor<1x3xf32>, tensor<1x3xf32>
    })mlir";
  // Channel means 2.5 and -1; W = [[1, 0], [0, 1], [1, 2]].
  HostTensor x = HostTensor::floats({1, 2, 2, 2}, {1, 2, 3, 4, -1, -1, 0, -2});
  Params params = {
      {"fc.weight", HostTensor::floats({3, 2}, {1, 0, 0, 1, 1, 2})},
      {"fc.bias", HostTensor::floats({3}, {0.5f, -1, 0})}};
  auto results = run(text, params, {x});
  ASSERT_EQ(results.size(), 2u);
  expectValues(results[0], {1, 3}, {3, -2, 0.5f});
  expectValues(results[1], {1, 3}, {2.5f, -1, 0.5f});
}

TEST_F(EvaluatorTest, SoftmaxAlongNegativeAxis) {
  // Axis -1 of 2x3x4: 6 rows of 4.
  const char *text = R"mlir(
    func.func @forward(%x: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
      %y = resnet.softmax %x {axis = -1 : i64} : tensor<2x3x4xf32>
      return %y : tensor<2x3x4xf32>
    })mlir";
  std::mt19937 rng(6);
  HostTensor x = randomTensor({2, 3, 4}, rng, -3.0f, 3.0f);
  x.f32[0] = 1000.0f; // stable: no overflow
  auto results = run(text, {}, {x});
  ASSERT_EQ(results.size(), 1u);
  const HostTensor &y = results[0];
  for (int row = 0; row < 6; ++row) {
    double sum = 0.0, expSum = 0.0;
    for (int k = 0; k < 4; ++k) {
      sum += y.f32[row * 4 + k];
      expSum += std::exp(double(x.f32[row * 4 + k]));
    }
    EXPECT_NEAR(sum, 1.0, 1e-6);
    for (int k = 0; k < 4; ++k) {
      if (row == 0)
        EXPECT_EQ(y.f32[k], k == 0 ? 1.0f : 0.0f);
      else
        EXPECT_NEAR(y.f32[row * 4 + k],
                    std::exp(double(x.f32[row * 4 + k])) / expSum, 1e-6);
    }
  }
}

const char *kLossModule = R"mlir(
    func.func @forward(%x: tensor<2x3xf32>, %labels: tensor<2xi32>) -> tensor<f32> {
      %l = resnet.softmax_cross_entropy %x, %labels : tensor<2x3xf32>, tensor<2xi32>
      return %l : tensor<f32>
    })mlir";

TEST_F(EvaluatorTest, SoftmaxCrossEntropyClosedForm) {
  // Rows [1, 2, 3] with label 2 and [1, 1, 1] with label 0:
  // (log(e + e^2 + e^3) - 3 + log 3) / 2.
  HostTensor x = HostTensor::floats({2, 3}, {1, 2, 3, 1, 1, 1});
  HostTensor labels = HostTensor::ints({2}, {2, 0});
  auto results = run(kLossModule, {}, {x, labels});
  ASSERT_EQ(results.size(), 1u);
  double e = std::exp(1.0);
  double expected = (std::log(e + e * e + e * e * e) - 3 + std::log(3.0)) / 2;
  expectValues(results[0], {}, {float(expected)});
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

const char *kParamModule = R"mlir(
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
      %w = resnet.param "layer1.0.conv1.weight" : tensor<2x4xf32>
      %y = resnet.linear %x, %w : tensor<1x4xf32>, tensor<2x4xf32>
      return %y : tensor<1x2xf32>
    })mlir";

TEST_F(EvaluatorTest, MissingParameter) {
  std::string error =
      runError(kParamModule, {{"other", HostTensor::zeros({1})}},
               {HostTensor::zeros({1, 4})});
  EXPECT_NE(error.find("weights file '"), std::string::npos) << error;
  EXPECT_NE(error.find(".safetensors' has no tensor 'layer1.0.conv1.weight'"),
            std::string::npos)
      << error;
}

TEST_F(EvaluatorTest, WrongParameterShape) {
  std::string error = runError(
      kParamModule, {{"layer1.0.conv1.weight", HostTensor::zeros({4, 2})}},
      {HostTensor::zeros({1, 4})});
  EXPECT_NE(error.find("parameter 'layer1.0.conv1.weight' has shape [4, 2]"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("but the model expects [2, 4]"), std::string::npos)
      << error;
}

TEST_F(EvaluatorTest, WrongInputs) {
  Params params = {{"layer1.0.conv1.weight", HostTensor::zeros({2, 4})}};
  EXPECT_EQ(runError(kParamModule, params, {HostTensor::zeros({1, 5})}),
            "input 0 of @forward must have shape [1, 4], got [1, 5]");
  EXPECT_EQ(runError(kParamModule, params, {}),
            "@forward takes 1 inputs, got 0");
  EXPECT_EQ(
      runError(kParamModule, params, {HostTensor::ints({1, 4}, {0, 0, 0, 0})}),
      "input 0 of @forward must be f32, got i32");
  EXPECT_EQ(runError(kLossModule, {},
                     {HostTensor::zeros({2, 3}), HostTensor::zeros({2})}),
            "input 1 of @forward must be i32, got f32");
  EXPECT_EQ(
      runError(kParamModule, params, {HostTensor::zeros({1, 4})}, "backward"),
      "the module has no function @backward");
}

TEST_F(EvaluatorTest, LabelOutOfRange) {
  HostTensor x = HostTensor::floats({2, 3}, {1, 2, 3, 1, 1, 1});
  EXPECT_EQ(runError(kLossModule, {}, {x, HostTensor::ints({2}, {0, 3})}),
            "label 3 at batch index 1 is out of range [0, 3)");
  EXPECT_EQ(runError(kLossModule, {}, {x, HostTensor::ints({2}, {-1, 0})}),
            "label -1 at batch index 0 is out of range [0, 3)");
}

TEST_F(EvaluatorTest, PreparedParameterErrors) {
  const char *noInit = R"mlir(
    func.func @forward() -> tensor<2xf32> {
      %p = resnet.param "p" {prepared} : tensor<2xf32>
      return %p : tensor<2xf32>
    })mlir";
  std::string error = runError(noInit, {}, {});
  EXPECT_NE(error.find("prepared parameter 'p' needs an @init function"),
            std::string::npos)
      << error;

  const char *wrongName = R"mlir(
    func.func @init() -> (tensor<2xf32> {resnet.name = "q"}) {
      %p = resnet.param "w" : tensor<2xf32>
      return %p : tensor<2xf32>
    }
    func.func @forward() -> tensor<2xf32> {
      %p = resnet.param "p" {prepared} : tensor<2xf32>
      return %p : tensor<2xf32>
    })mlir";
  EXPECT_EQ(runError(wrongName, {{"w", HostTensor::zeros({2})}}, {}),
            "@init returns no value named 'p' (prepared parameter)");
  error = runError(wrongName, {}, {});
  EXPECT_EQ(error.rfind("in @init: weights file '", 0), 0u) << error;
}

TEST_F(EvaluatorTest, UnsupportedOpNamesItsLocation) {
  const char *text = R"mlir(
    func.func private @helper(tensor<2xf32>) -> tensor<2xf32>
    func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
      %y = func.call @helper(%x) : (tensor<2xf32>) -> tensor<2xf32>
      return %y : tensor<2xf32>
    })mlir";
  std::string error = runError(text, {}, {HostTensor::zeros({2})});
  EXPECT_NE(error.find("the evaluator does not support 'func.call' (at "),
            std::string::npos)
      << error;
  EXPECT_NE(error.find(":4:"), std::string::npos) << error;
}

} // namespace
