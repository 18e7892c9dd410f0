//===- InitialWeights.cpp - torchvision's parameter initialization --------===//
//
// A parameter's initializer follows from the op that consumes it and the
// operand it fills, not from its name, so any module in the dialect (built
// here, imported, or written by hand) can be given fresh weights.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/ResNetBuilder.h"
#include "compiler/Frontend/Random.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Safetensors.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::resnet;

namespace resnetc {
namespace {

enum class Init { KaimingNormalFanOut, UniformFanIn, Ones, Zeros };

struct Rule {
  Init init;
  int64_t fanIn = 0;
};

/// How torchvision initializes the parameter feeding `use`, or failure.
FailureOr<Rule> ruleFor(OpOperand &use) {
  Operation *user = use.getOwner();
  unsigned index = use.getOperandNumber();
  auto dims = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  };
  if (auto conv = dyn_cast<Conv2dOp>(user)) {
    if (index == 1)
      return Rule{Init::KaimingNormalFanOut};
    ArrayRef<int64_t> w = dims(conv.getWeight());
    return Rule{Init::UniformFanIn, w[1] * w[2] * w[3]};
  }
  if (isa<BatchNormOp, BatchNormTrainOp>(user))
    return Rule{index == 1 || index == 4 ? Init::Ones : Init::Zeros};
  if (auto linear = dyn_cast<LinearOp>(user))
    // nn.Linear: kaiming_uniform_(a=sqrt(5)) gives the weight the same
    // bound 1/sqrt(fan_in) as the bias.
    return Rule{Init::UniformFanIn, dims(linear.getWeight())[1]};
  return failure();
}

} // namespace

llvm::Error writeInitialWeights(ModuleOp module, uint64_t seed,
                                const std::string &path) {
  Random random(seed);
  std::vector<std::vector<float>> storage;
  std::vector<int64_t> zeroCounter(1, 0);
  std::vector<TensorToWrite> tensors;
  llvm::StringSet<> seen;

  WalkResult walk = module.walk([&](ParamOp param) -> WalkResult {
    StringRef name = param.getName();
    if (!seen.insert(name).second)
      return WalkResult::advance();
    if (param->use_empty())
      return param.emitError("parameter '") << name << "' has no user",
             WalkResult::interrupt();
    FailureOr<Rule> rule = ruleFor(*param->use_begin());
    if (failed(rule))
      return param.emitError("no initializer known for parameter '")
                 << name << "' used by "
                 << param->use_begin()->getOwner()->getName(),
             WalkResult::interrupt();

    auto type = cast<RankedTensorType>(param.getType());
    std::vector<float> values(type.getNumElements());
    ArrayRef<int64_t> shape = type.getShape();
    switch (rule->init) {
    case Init::KaimingNormalFanOut: {
      // kaiming_normal_(mode="fan_out", nonlinearity="relu").
      double fanOut = static_cast<double>(type.getNumElements()) / shape[1];
      double std = std::sqrt(2.0 / fanOut);
      for (float &v : values)
        v = static_cast<float>(std * random.normal());
      break;
    }
    case Init::UniformFanIn: {
      double bound = 1.0 / std::sqrt(static_cast<double>(rule->fanIn));
      for (float &v : values)
        v = static_cast<float>(random.uniform(-bound, bound));
      break;
    }
    case Init::Ones:
      std::fill(values.begin(), values.end(), 1.0f);
      break;
    case Init::Zeros:
      break;
    }
    storage.push_back(std::move(values));
    tensors.push_back({name.str(), DType::F32,
                       std::vector<int64_t>(shape.begin(), shape.end()),
                       storage.back().data()});
    // torchvision's BatchNorm2d also holds this counter, in int64.
    if (name.consume_back(".running_var"))
      tensors.push_back({(name + ".num_batches_tracked").str(), DType::I64,
                         {}, zeroCounter.data()});
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return llvm::createStringError("cannot initialize the weights");

  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (auto arch = module->getAttrOfType<StringAttr>("resnet.arch"))
    metadata["resnetc.arch"] = arch.str();
  std::string error;
  if (!writeSafetensors(path, tensors, metadata, error))
    return llvm::createStringError(error);
  return llvm::Error::success();
}

} // namespace resnetc
