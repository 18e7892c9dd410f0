//===- FrontendTest.cpp - ResNet definitions against torchvision ----------===//
//
// Parameter counts are torchvision's published figures (sum of numel over
// model.parameters(), 1000 classes); buffers (running statistics) are not
// parameters. Initial weights are checked against the distributions
// torchvision draws from.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/ResNetBuilder.h"

#include "Resnet/IR/ResnetOps.h"
#include "compiler/InitAll.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringSet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

using namespace resnetc;

namespace {

class FrontendTest : public ::testing::Test {
protected:
  FrontendTest() {
    registerAllDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
  }

  mlir::OwningOpRef<mlir::ModuleOp> build(const std::string &arch,
                                          std::optional<int64_t> image = {}) {
    ModelConfig config;
    config.arch = arch;
    config.height = image;
    auto module = buildResNet(*context, config);
    EXPECT_TRUE(static_cast<bool>(module)) << llvm::toString(module.takeError());
    if (!module)
      return {};
    EXPECT_TRUE(mlir::succeeded(mlir::verify(**module)));
    return std::move(*module);
  }

  /// Sum of numel over learned parameters (not running statistics).
  static int64_t countParameters(mlir::ModuleOp module) {
    llvm::StringSet<> seen;
    int64_t total = 0;
    module.walk([&](mlir::resnet::ParamOp param) {
      llvm::StringRef name = param.getName();
      if (!seen.insert(name).second || name.ends_with(".running_mean") ||
          name.ends_with(".running_var"))
        return;
      total += mlir::cast<mlir::RankedTensorType>(param.getType())
                   .getNumElements();
    });
    return total;
  }

  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
};

struct Expected {
  const char *arch;
  int64_t parameters;
};

TEST_F(FrontendTest, ParameterCountsMatchTorchvision) {
  // torchvision 0.14's documented num_params.
  const Expected torchvision[] = {
      {"resnet18", 11689512},          {"resnet34", 21797672},
      {"resnet50", 25557032},          {"resnet101", 44549160},
      {"resnet152", 60192808},         {"resnext50_32x4d", 25028904},
      {"resnext101_32x8d", 88791336},  {"wide_resnet50_2", 68883240},
      {"wide_resnet101_2", 126886696},
  };
  for (const Expected &e : torchvision) {
    // The count does not depend on the image size; a small one builds fast.
    auto module = build(e.arch, 64);
    ASSERT_TRUE(module) << e.arch;
    EXPECT_EQ(countParameters(*module), e.parameters) << e.arch;
  }
}

TEST_F(FrontendTest, CifarResNet20ParameterCount) {
  // Option A shortcuts have no parameters. By hand: stem 3*16*9 + 2*16;
  // stage 1: 6 convs 16*16*9 + 6 BN 2*16; stage 2: 16*32*9 + 5 * 32*32*9
  // + 6 * 2*32; stage 3 alike with 64; fc 64*10 + 10.
  int64_t stem = 3 * 16 * 9 + 2 * 16;
  int64_t stage1 = 6 * 16 * 16 * 9 + 6 * 2 * 16;
  int64_t stage2 = 16 * 32 * 9 + 5 * 32 * 32 * 9 + 6 * 2 * 32;
  int64_t stage3 = 32 * 64 * 9 + 5 * 64 * 64 * 9 + 6 * 2 * 64;
  int64_t fc = 64 * 10 + 10;
  int64_t expected = stem + stage1 + stage2 + stage3 + fc;
  EXPECT_EQ(expected, 269722); // the paper's "0.27M"
  auto module = build("resnet20");
  ASSERT_TRUE(module);
  EXPECT_EQ(countParameters(*module), expected);
}

TEST_F(FrontendTest, UnknownArchitectureIsAnError) {
  ModelConfig config;
  config.arch = "resnet19";
  auto module = buildResNet(*context, config);
  ASSERT_FALSE(static_cast<bool>(module));
  std::string message = llvm::toString(module.takeError());
  EXPECT_NE(message.find("unknown architecture 'resnet19'"), std::string::npos)
      << message;
}

/// Mean and (population) standard deviation of a tensor's values.
std::pair<double, double> moments(const float *data, int64_t n) {
  double sum = 0, sumSq = 0;
  for (int64_t i = 0; i < n; ++i) {
    sum += data[i];
    sumSq += static_cast<double>(data[i]) * data[i];
  }
  double mean = sum / n;
  return {mean, std::sqrt(sumSq / n - mean * mean)};
}

class InitialWeightsTest : public FrontendTest {
protected:
  std::string write(const std::string &arch, uint64_t seed) {
    auto module = build(arch);
    std::string path = ::testing::TempDir() + "/init-" + arch + "-" +
                       std::to_string(seed) + ".safetensors";
    llvm::Error error = writeInitialWeights(*module, seed, path);
    EXPECT_FALSE(static_cast<bool>(error)) << llvm::toString(std::move(error));
    paths.push_back(path);
    return path;
  }
  ~InitialWeightsTest() override {
    for (const std::string &p : paths)
      std::remove(p.c_str());
  }
  std::vector<std::string> paths;
};

TEST_F(InitialWeightsTest, FollowsTorchvisionDistributions) {
  std::string error;
  auto file = SafetensorsFile::open(write("resnet18", 1), error);
  ASSERT_TRUE(file) << error;

  // Convolutions: kaiming_normal_(mode="fan_out"), std sqrt(2 / fan_out).
  for (auto [name, out, k] :
       {std::make_tuple("conv1.weight", 64, 7),
        std::make_tuple("layer3.1.conv2.weight", 256, 3)}) {
    const TensorView *t = file->find(name);
    ASSERT_NE(t, nullptr) << name;
    int64_t n = t->numElements();
    auto [mean, std] = moments(static_cast<const float *>(t->data), n);
    double expectedStd = std::sqrt(2.0 / (out * k * k));
    // The sample std is within 5% and the mean within 5 standard errors.
    EXPECT_NEAR(std, expectedStd, 0.05 * expectedStd) << name;
    EXPECT_LT(std::fabs(mean), 5 * expectedStd / std::sqrt(n)) << name;
  }

  // Batch norm: weight 1, bias 0, running mean 0, running var 1, counter 0.
  for (auto [suffix, value] : {std::make_pair(".weight", 1.0f),
                               std::make_pair(".bias", 0.0f),
                               std::make_pair(".running_mean", 0.0f),
                               std::make_pair(".running_var", 1.0f)}) {
    const float *data =
        file->getF32(std::string("layer2.0.bn1") + suffix, {128}, error);
    ASSERT_NE(data, nullptr) << error;
    for (int i = 0; i < 128; ++i)
      ASSERT_EQ(data[i], value) << suffix;
  }
  const TensorView *counter = file->find("layer2.0.bn1.num_batches_tracked");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->dtype, DType::I64);
  EXPECT_TRUE(counter->shape.empty());
  EXPECT_EQ(*static_cast<const int64_t *>(counter->data), 0);

  // nn.Linear: weight and bias uniform in +-1/sqrt(fan_in).
  double bound = 1.0 / std::sqrt(512.0);
  const float *weight = file->getF32("fc.weight", {1000, 512}, error);
  ASSERT_NE(weight, nullptr) << error;
  float low = 1, high = -1;
  for (int64_t i = 0; i < 1000 * 512; ++i) {
    low = std::min(low, weight[i]);
    high = std::max(high, weight[i]);
  }
  EXPECT_GE(low, -bound);
  EXPECT_LE(high, bound);
  EXPECT_LT(low, -0.99 * bound);
  EXPECT_GT(high, 0.99 * bound);
  auto [mean, std] = moments(weight, 1000 * 512);
  EXPECT_NEAR(std, bound / std::sqrt(3.0), 0.01 * bound); // uniform's std
  const float *bias = file->getF32("fc.bias", {1000}, error);
  ASSERT_NE(bias, nullptr) << error;
  for (int i = 0; i < 1000; ++i)
    ASSERT_LE(std::fabs(bias[i]), bound);
}

TEST_F(InitialWeightsTest, KeysAreTheStateDict) {
  std::string error;
  auto file = SafetensorsFile::open(write("resnet50", 3), error);
  ASSERT_TRUE(file) << error;
  auto module = build("resnet50");
  llvm::StringSet<> params;
  module->walk([&](mlir::resnet::ParamOp p) { params.insert(p.getName()); });
  size_t counters = 0;
  for (const TensorView &t : file->tensors()) {
    if (llvm::StringRef(t.name).ends_with(".num_batches_tracked")) {
      ++counters;
      continue;
    }
    EXPECT_TRUE(params.contains(t.name)) << t.name;
  }
  // Every parameter is there, and one counter per batch norm (53).
  EXPECT_EQ(file->tensors().size() - counters, params.size());
  EXPECT_EQ(counters, 53u);
  // torchvision's resnet50 state_dict has 320 entries.
  EXPECT_EQ(file->tensors().size(), 320u);
}

TEST_F(InitialWeightsTest, ReproducibleFromTheSeed) {
  std::string error;
  auto a = SafetensorsFile::open(write("resnet20", 5), error);
  ASSERT_TRUE(a) << error;
  auto module = build("resnet20");
  std::string again = ::testing::TempDir() + "/init-again.safetensors";
  paths.push_back(again);
  ASSERT_FALSE(static_cast<bool>(writeInitialWeights(*module, 5, again)));
  auto b = SafetensorsFile::open(again, error);
  ASSERT_TRUE(b) << error;
  auto c = SafetensorsFile::open(write("resnet20", 6), error);
  ASSERT_TRUE(c) << error;
  const TensorView *ta = a->find("layer1.0.conv1.weight");
  const TensorView *tb = b->find("layer1.0.conv1.weight");
  const TensorView *tc = c->find("layer1.0.conv1.weight");
  ASSERT_TRUE(ta && tb && tc);
  EXPECT_EQ(std::memcmp(ta->data, tb->data, ta->nbytes), 0);
  EXPECT_NE(std::memcmp(ta->data, tc->data, ta->nbytes), 0);
}

} // namespace
