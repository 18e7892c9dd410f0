//===- ReshapeHead.cpp - Replace a classifier's final layer ---------------===//
//
// The surgery behind `resnetc reshape-head`: new types in the IR, new head
// values in the weights, every other tensor copied byte for byte.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/ReshapeHead.h"
#include "compiler/Frontend/Random.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

using namespace mlir;
using namespace mlir::resnet;

namespace resnetc {
namespace {

/// What findHead locates: the ops whose types change.
struct HeadOps {
  func::FuncOp forward;
  LinearOp linear;
  ParamOp weight;
  ParamOp bias; // null without a bias
  /// The ops between the linear layer and the return, in order.
  SmallVector<SoftmaxOp> after;
};

/// The parameter op feeding `value`, used by the head alone.
FailureOr<ParamOp> headParam(ModuleOp module, LinearOp linear, Value value,
                             StringRef role) {
  auto param = value.getDefiningOp<ParamOp>();
  if (!param || param.getPrepared())
    return linear.emitError("the classifier head's ")
           << role << " is not read by a resnet.param op";
  if (!param->hasOneUse())
    return param.emitError("parameter '")
           << param.getName() << "' is used outside the classifier head";
  bool sharedName = false;
  module.walk([&](ParamOp other) {
    if (other != param && other.getName() == param.getName())
      sharedName = true;
  });
  if (sharedName)
    return param.emitError("parameter '")
           << param.getName() << "' is used outside the classifier head";
  return param;
}

FailureOr<HeadOps> findHead(ModuleOp module) {
  HeadOps head;
  head.forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!head.forward || head.forward.isExternal())
    return module.emitError("no linear head: the module has no @forward");
  auto ret =
      cast<func::ReturnOp>(head.forward.getBody().front().getTerminator());
  if (ret.getNumOperands() != 1)
    return ret.emitError("no linear head: @forward returns ")
           << ret.getNumOperands() << " values, expected the logits alone";
  Value value = ret.getOperand(0);
  SmallVector<SoftmaxOp> after;
  while (auto softmax = value.getDefiningOp<SoftmaxOp>()) {
    after.push_back(softmax);
    value = softmax.getInput();
  }
  head.linear = value.getDefiningOp<LinearOp>();
  if (!head.linear) {
    InFlightDiagnostic diag =
        ret.emitError("no linear head: @forward returns ");
    if (Operation *def = value.getDefiningOp())
      diag << "the result of '" << def->getName() << "'";
    else
      diag << "an argument";
    diag << ", not that of a resnet.linear";
    return diag;
  }
  head.after.assign(after.rbegin(), after.rend());
  FailureOr<ParamOp> weight =
      headParam(module, head.linear, head.linear.getWeight(), "weight");
  if (failed(weight))
    return failure();
  head.weight = *weight;
  if (Value bias = head.linear.getBias()) {
    FailureOr<ParamOp> param = headParam(module, head.linear, bias, "bias");
    if (failed(param))
      return failure();
    head.bias = *param;
  }
  return head;
}

ClassifierHead describe(HeadOps ops) {
  ClassifierHead head;
  auto shape = cast<RankedTensorType>(ops.weight.getType()).getShape();
  head.weightName = ops.weight.getName().str();
  if (ops.bias)
    head.biasName = ops.bias.getName().str();
  head.classes = shape[0];
  head.features = shape[1];
  return head;
}

/// `type` with its dimension `dim` set to `size`.
RankedTensorType withDim(Type type, unsigned dim, int64_t size) {
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(ranked.getShape());
  shape[dim] = size;
  return ranked.clone(shape);
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// The tensors of `file` in the order its header names them (the reader
/// keeps data order), so that a rewritten file reads like the original.
std::vector<const TensorView *> headerOrder(const SafetensorsFile &file) {
  std::vector<const TensorView *> order;
  llvm::StringMap<bool> placed;
  std::ifstream in(file.path(), std::ios::binary);
  uint64_t length = 0;
  if (in.read(reinterpret_cast<char *>(&length), sizeof(length))) {
    // The file has been validated already: the length is sane.
    std::string text(length, '\0');
    if (in.read(text.data(), length)) {
      auto header = nlohmann::ordered_json::parse(text, nullptr,
                                                  /*allow_exceptions=*/false);
      if (header.is_object())
        for (const auto &item : header.items())
          if (const TensorView *view = file.find(item.key())) {
            order.push_back(view);
            placed[view->name] = true;
          }
    }
  }
  for (const TensorView &view : file.tensors())
    if (!placed.count(view.name))
      order.push_back(&view);
  return order;
}

} // namespace

FailureOr<ClassifierHead> findClassifierHead(ModuleOp module) {
  FailureOr<HeadOps> ops = findHead(module);
  if (failed(ops))
    return failure();
  return describe(*ops);
}

FailureOr<ClassifierHead> reshapeHead(ModuleOp module, int64_t classes) {
  FailureOr<HeadOps> ops = findHead(module);
  if (failed(ops))
    return failure();
  if (classes < 1)
    return ops->linear.emitError("the number of classes must be positive, "
                                 "got ")
           << classes;
  ClassifierHead old = describe(*ops);

  Value weight = ops->weight.getResult();
  weight.setType(withDim(weight.getType(), 0, classes));
  if (ops->bias) {
    Value bias = ops->bias.getResult();
    bias.setType(withDim(bias.getType(), 0, classes));
  }
  Value logits = ops->linear.getOutput();
  logits.setType(withDim(logits.getType(), 1, classes));
  for (SoftmaxOp softmax : ops->after)
    softmax.getOutput().setType(softmax.getInput().getType());

  func::FuncOp forward = ops->forward;
  Operation *ret = forward.getBody().front().getTerminator();
  forward.setType(FunctionType::get(module.getContext(),
                                    forward.getArgumentTypes(),
                                    ret->getOperandTypes()));
  return old;
}

llvm::Error writeReshapedWeights(const ClassifierHead &oldHead,
                                 int64_t classes, uint64_t seed,
                                 const std::string &inPath,
                                 const std::string &outPath) {
  if (classes < 1)
    return llvm::createStringError(
        "the number of classes must be positive, got " +
        std::to_string(classes));
  std::string error;
  auto in = SafetensorsFile::open(inPath, error);
  if (!in)
    return llvm::createStringError(error);

  // The head as the model has it: a file that disagrees belongs to
  // another model.
  auto check = [&](const std::string &name,
                   std::vector<int64_t> shape) -> llvm::Error {
    const TensorView *view = in->find(name);
    if (!view)
      return llvm::createStringError("'" + inPath + "' has no tensor '" +
                                     name + "' (the classifier head)");
    if (view->dtype != DType::F32 || view->shape != shape)
      return llvm::createStringError(
          "'" + name + "' in '" + inPath + "' is " + dtypeName(view->dtype) +
          " " + shapeText(view->shape) + ", but the model's is F32 " +
          shapeText(shape));
    return llvm::Error::success();
  };
  if (llvm::Error e =
          check(oldHead.weightName, {oldHead.classes, oldHead.features}))
    return e;
  if (!oldHead.biasName.empty())
    if (llvm::Error e = check(oldHead.biasName, {oldHead.classes}))
      return e;

  // torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) on the
  // weight is uniform in +-1/sqrt(fan_in), and so is the bias.
  Random random(seed);
  double bound = 1.0 / std::sqrt(static_cast<double>(oldHead.features));
  std::vector<float> weight(classes * oldHead.features), bias(classes);
  for (float &v : weight)
    v = static_cast<float>(random.uniform(-bound, bound));
  for (float &v : bias)
    v = static_cast<float>(random.uniform(-bound, bound));

  std::vector<TensorToWrite> tensors;
  for (const TensorView *entry : headerOrder(*in)) {
    const TensorView &view = *entry;
    if (view.name == oldHead.weightName)
      tensors.push_back({view.name, DType::F32,
                         {classes, oldHead.features}, weight.data()});
    else if (view.name == oldHead.biasName)
      tensors.push_back({view.name, DType::F32, {classes}, bias.data()});
    else
      tensors.push_back({view.name, view.dtype, view.shape, view.data});
  }
  if (!writeSafetensors(outPath, tensors, in->metadata(), error))
    return llvm::createStringError(error);
  return llvm::Error::success();
}

} // namespace resnetc
