//===- PipelineTest.cpp - The inference pipeline keeps the numbers --------===//
//
// The reference evaluator runs each model before and after
// resnet-inference-pipeline, on random weights with non-trivial batch-norm
// statistics and random inputs; the outputs must agree to 1e-5 relative L2.
//
//===----------------------------------------------------------------------===//
#include "compiler/Evaluator/Evaluator.h"
#include "compiler/Frontend/ResNetBuilder.h"
#include "compiler/InitAll.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringSet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>

using namespace resnetc;

namespace {

/// Random values for every raw parameter, by role: convolutions scaled to
/// keep activations O(1), batch-norm statistics far from the identity.
std::string writeRandomWeights(mlir::ModuleOp module, const std::string &path,
                               unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto uniform = [&](float lo, float hi) {
    return std::uniform_real_distribution<float>(lo, hi)(rng);
  };
  std::vector<std::vector<float>> storage;
  std::vector<TensorToWrite> tensors;
  llvm::StringSet<> seen;
  module.walk([&](mlir::resnet::ParamOp param) {
    llvm::StringRef name = param.getName();
    if (param.getPrepared() || !seen.insert(name).second)
      return;
    auto type = mlir::cast<mlir::RankedTensorType>(param.getType());
    std::vector<float> values(type.getNumElements());
    int64_t fanIn = type.getRank() > 1 ? type.getNumElements() / type.getDimSize(0) : 1;
    for (float &v : values) {
      if (name.ends_with(".running_var"))
        v = uniform(0.3f, 2.0f);
      else if (name.ends_with(".running_mean") || name.ends_with(".bias"))
        v = 0.3f * normal(rng);
      else if (type.getRank() == 1)
        v = uniform(0.5f, 1.5f); // batch-norm gamma
      else
        v = normal(rng) * std::sqrt(1.0f / fanIn);
    }
    storage.push_back(std::move(values));
    tensors.push_back({name.str(), DType::F32,
                       std::vector<int64_t>(type.getShape().begin(),
                                            type.getShape().end()),
                       storage.back().data()});
  });
  std::string error;
  EXPECT_TRUE(writeSafetensors(path, tensors, {}, error)) << error;
  return path;
}

double relativeL2(const std::vector<float> &expected,
                  const std::vector<float> &actual) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff += std::pow(double(expected[i]) - actual[i], 2);
    norm += std::pow(double(expected[i]), 2);
  }
  return std::sqrt(diff / norm);
}

struct Case {
  const char *arch;
  int64_t batch;
  int64_t image;
};

/// How gtest names a case in its output.
void PrintTo(const Case &c, std::ostream *os) {
  *os << c.arch << " batch " << c.batch << " " << c.image << "x" << c.image;
}

class PipelineTest : public ::testing::TestWithParam<Case> {};

TEST_P(PipelineTest, KeepsTheNumbers) {
  const Case &c = GetParam();
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  registerAllPasses();
  mlir::MLIRContext context(registry);
  ModelConfig config;
  config.arch = c.arch;
  config.batch = c.batch;
  config.height = c.image;
  auto module = buildResNet(context, config);
  ASSERT_TRUE(static_cast<bool>(module)) << llvm::toString(module.takeError());

  std::string path = ::testing::TempDir() + "/pipeline-" + c.arch +
                     ".safetensors";
  writeRandomWeights(**module, path, /*seed=*/42);
  std::string error;
  auto weights = SafetensorsFile::open(path, error);
  ASSERT_TRUE(weights) << error;

  HostTensor images;
  images.shape = {c.batch, 3, c.image, c.image};
  images.f32.resize(c.batch * 3 * c.image * c.image);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float &v : images.f32)
    v = normal(rng);

  auto before = evaluate(**module, *weights, {images});
  ASSERT_TRUE(static_cast<bool>(before)) << llvm::toString(before.takeError());

  mlir::PassManager pm(&context);
  ASSERT_TRUE(mlir::succeeded(
      mlir::parsePassPipeline("resnet-inference-pipeline", pm)));
  ASSERT_TRUE(mlir::succeeded(pm.run(**module)));
  // The pipeline did its work: no batch norm is left to evaluate.
  int batchNorms = 0;
  (*module)->walk([&](mlir::resnet::BatchNormOp) { ++batchNorms; });
  EXPECT_EQ(batchNorms, 0);

  auto after = evaluate(**module, *weights, {images});
  ASSERT_TRUE(static_cast<bool>(after)) << llvm::toString(after.takeError());
  ASSERT_EQ(before->size(), 1u);
  ASSERT_EQ(after->size(), 1u);
  ASSERT_EQ((*before)[0].shape, (*after)[0].shape);
  double error2 = relativeL2((*before)[0].f32, (*after)[0].f32);
  std::cout << c.arch << " batch " << c.batch << " " << c.image << "x"
            << c.image << ": relative L2 error after the pipeline "
            << error2 << "\n";
  EXPECT_LT(error2, 1e-5);
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Models, PipelineTest,
    ::testing::Values(Case{"resnet18", 2, 32}, Case{"resnet50", 1, 32},
                      Case{"resnext50_32x4d", 1, 32}, Case{"resnet20", 3, 32}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return std::string(info.param.arch);
    });

} // namespace
