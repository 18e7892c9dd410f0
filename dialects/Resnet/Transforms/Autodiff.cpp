//===- Autodiff.cpp - Build the training step of a model --------*- C++ -*-===//
//
// Reverse-mode differentiation of @forward, one op at a time: the forward
// ops are cloned into @train_step (batch norms in the requested form), the
// loss is appended, and the ops are walked backwards emitting each one's
// gradient ops where a gradient reaches a trainable parameter. SGD updates
// close the function.
//
//===----------------------------------------------------------------------===//
#include "Resnet/IR/ResnetOps.h"
#include "Resnet/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/GlobPattern.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_AUTODIFF
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;
using namespace mlir::resnet;

namespace {

constexpr StringLiteral kTrainStep = "train_step";
constexpr StringLiteral kNameAttr = "resnet.name";
constexpr double kBatchNormMomentum = 0.1; // torch.nn.BatchNorm2d's default

/// Builds the gradient ops of one function, in reverse op order.
class Differentiator {
public:
  Differentiator(OpBuilder &b, const llvm::DenseSet<Value> &requiresGrad)
      : b(b), requiresGrad(requiresGrad) {}

  /// Adds `g` to the gradient of `v` (when v needs one).
  void accumulate(Value v, Value g) {
    if (!requiresGrad.contains(v))
      return;
    auto [it, inserted] = grads.try_emplace(v, g);
    if (!inserted)
      it->second = b.create<AddOp>(g.getLoc(), it->second, g);
  }

  Value gradOf(Value v) const { return grads.lookup(v); }
  bool needs(Value v) const { return v && requiresGrad.contains(v); }

  /// Emits the gradients of `op`'s operands from its results' gradients.
  LogicalResult differentiate(Operation *op) {
    Value dy = op->getNumResults() ? gradOf(op->getResult(0)) : Value();
    if (!dy)
      return success(); // nothing downstream depends on a trained value
    // Ops of one input pass a gradient only when that input needs one.
    if (isa<ReluOp, PadOp, FlattenOp, MaxPool2dOp, AvgPool2dOp,
            GlobalAvgPoolOp>(op) &&
        !needs(op->getOperand(0)))
      return success();
    Location loc = op->getLoc();
    if (auto conv = dyn_cast<Conv2dOp>(op)) {
      Value x = conv.getInput(), w = conv.getWeight();
      if (needs(x))
        accumulate(x, b.create<Conv2dGradInputOp>(
                          loc, x.getType(), dy, w, Value(),
                          conv.getStrideAttr(), conv.getPaddingAttr(),
                          conv.getDilationAttr(), conv.getGroupsAttr()));
      if (needs(w))
        accumulate(w, b.create<Conv2dGradWeightOp>(
                          loc, w.getType(), x, dy, conv.getStrideAttr(),
                          conv.getPaddingAttr(), conv.getDilationAttr(),
                          conv.getGroupsAttr()));
      if (needs(conv.getBias()))
        accumulate(conv.getBias(),
                   b.create<BiasGradOp>(loc, conv.getBias().getType(), dy));
      return success();
    }
    if (auto bn = dyn_cast<BatchNormTrainOp>(op)) {
      if (bn.getResidual() || bn.getRelu())
        return bn.emitError("resnet-autodiff differentiates a batch_norm_train "
                            "without a fused epilogue (run it before "
                            "resnet-fuse-epilogue)");
      return batchNormGrad(op, dy, bn.getInput(), bn.getWeight(), bn.getBias(),
                           bn.getBatchMean(), bn.getBatchVar(),
                           bn.getEpsilonAttr(), /*training=*/true);
    }
    if (auto bn = dyn_cast<BatchNormOp>(op))
      return batchNormGrad(op, dy, bn.getInput(), bn.getWeight(), bn.getBias(),
                           bn.getRunningMean(), bn.getRunningVar(),
                           bn.getEpsilonAttr(),
                           /*training=*/false);
    if (auto relu = dyn_cast<ReluOp>(op)) {
      accumulate(relu.getInput(),
                 b.create<ReluGradOp>(loc, dy.getType(), dy, relu.getOutput()));
      return success();
    }
    if (auto add = dyn_cast<AddOp>(op)) {
      accumulate(add.getLhs(), dy);
      accumulate(add.getRhs(), dy);
      return success();
    }
    if (auto pad = dyn_cast<PadOp>(op)) {
      accumulate(pad.getInput(),
                 b.create<PadGradOp>(loc, pad.getInput().getType(), dy,
                                     pad.getLowAttr(), pad.getHighAttr()));
      return success();
    }
    if (auto flatten = dyn_cast<FlattenOp>(op)) {
      accumulate(flatten.getInput(),
                 b.create<ReshapeOp>(loc, flatten.getInput().getType(), dy));
      return success();
    }
    if (auto pool = dyn_cast<MaxPool2dOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<MaxPool2dGradOp>(
                     loc, pool.getInput().getType(), dy, pool.getInput(),
                     pool.getKernelAttr(), pool.getStrideAttr(),
                     pool.getPaddingAttr(), pool.getDilationAttr(),
                     pool.getCeilModeAttr()));
      return success();
    }
    if (auto pool = dyn_cast<AvgPool2dOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<AvgPool2dGradOp>(
                     loc, pool.getInput().getType(), dy, pool.getKernelAttr(),
                     pool.getStrideAttr(), pool.getPaddingAttr(),
                     pool.getCeilModeAttr(), pool.getCountIncludePadAttr()));
      return success();
    }
    if (auto pool = dyn_cast<GlobalAvgPoolOp>(op)) {
      accumulate(pool.getInput(), b.create<GlobalAvgPoolGradOp>(
                                      loc, pool.getInput().getType(), dy));
      return success();
    }
    if (auto linear = dyn_cast<LinearOp>(op)) {
      Value x = linear.getInput(), w = linear.getWeight();
      if (needs(x))
        accumulate(x, b.create<LinearGradInputOp>(loc, x.getType(), dy, w));
      if (needs(w))
        accumulate(w, b.create<LinearGradWeightOp>(loc, w.getType(), dy, x));
      if (needs(linear.getBias()))
        accumulate(linear.getBias(),
                   b.create<BiasGradOp>(loc, linear.getBias().getType(), dy));
      return success();
    }
    return op->emitOpError("resnet-autodiff has no gradient for this op "
                           "(differentiate before fusing or folding)");
  }

private:
  LogicalResult batchNormGrad(Operation *op, Value dy, Value x, Value gamma,
                              Value beta, Value mean, Value var,
                              FloatAttr epsilon, bool training) {
    if (!needs(x) && !needs(gamma) && !needs(beta))
      return success();
    auto grad = b.create<BatchNormGradOp>(
        op->getLoc(), TypeRange{x.getType(), gamma.getType(), gamma.getType()},
        dy, x, gamma, mean, var, Value(), epsilon,
        training ? b.getUnitAttr() : UnitAttr());
    accumulate(x, grad.getDinput());
    accumulate(gamma, grad.getDweight());
    accumulate(beta, grad.getDbias());
    return success();
  }

  OpBuilder &b;
  const llvm::DenseSet<Value> &requiresGrad;
  llvm::DenseMap<Value, Value> grads;
};

/// Folds relu_grad into the gradient op that consumes or produces it, when
/// nothing else sees the unmasked value: `batch_norm_grad(relu_grad(dy, y))`
/// becomes `batch_norm_grad(dy, mask y)`, and
/// `relu_grad(conv2d_grad_input(...), y)` becomes `conv2d_grad_input(...,
/// mask y)`.
void foldReluGrads(func::FuncOp func) {
  SmallVector<ReluGradOp> reluGrads;
  func.walk([&](ReluGradOp op) { reluGrads.push_back(op); });
  for (ReluGradOp relu : reluGrads) {
    Value masked = relu.getDinput();
    if (auto conv = relu.getDy().getDefiningOp<Conv2dGradInputOp>()) {
      if (conv->hasOneUse() && !conv.getMask()) {
        conv.getMaskMutable().assign(relu.getOutput());
        masked.replaceAllUsesWith(conv.getDinput());
        relu.erase();
        continue;
      }
    }
    if (!masked.hasOneUse())
      continue;
    auto bn = dyn_cast<BatchNormGradOp>(*masked.getUsers().begin());
    if (!bn || bn.getDy() != masked || bn.getMask())
      continue;
    // The mask must exist where the batch-norm gradient is computed.
    if (!relu.getOutput().getParentBlock() ||
        bn->isBeforeInBlock(relu.getOutput().getDefiningOp()))
      continue;
    bn.getDyMutable().assign(relu.getDy());
    bn.getMaskMutable().assign(relu.getOutput());
    relu.erase();
  }
}

struct AutodiffPass : resnet::impl::AutodiffBase<AutodiffPass> {
  using AutodiffBase::AutodiffBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

  LogicalResult run() {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.isExternal())
      return module.emitError("resnet-autodiff needs a func.func @forward");
    if (module.lookupSymbol(kTrainStep))
      return module.emitError("the module already has a @train_step");
    if (bnMode != "train" && bnMode != "frozen")
      return module.emitError("resnet-autodiff: bn must be 'train' or "
                              "'frozen', got '")
             << bnMode << "'";
    if (momentum < 0 || weightDecay < 0)
      return module.emitError("resnet-autodiff: momentum and weight decay "
                              "must be non-negative");
    if (nesterov && momentum <= 0)
      return module.emitError("resnet-autodiff: nesterov needs a positive "
                              "momentum (as torch.optim.SGD)");
    SmallVector<llvm::GlobPattern> globs;
    for (const std::string &text : trainable) {
      auto glob = llvm::GlobPattern::create(text);
      if (!glob)
        return module.emitError("resnet-autodiff: bad trainable pattern '")
               << text << "': " << llvm::toString(glob.takeError());
      globs.push_back(std::move(*glob));
    }
    auto fnType = forward.getFunctionType();
    if (fnType.getNumInputs() != 1 || fnType.getNumResults() != 1)
      return forward.emitError("@forward must take images and return logits");
    auto logitsType = dyn_cast<RankedTensorType>(fnType.getResult(0));
    if (!logitsType || logitsType.getRank() != 2)
      return forward.emitError("@forward must return NxC logits");
    if (!forward.getBody().hasOneBlock())
      return forward.emitError("@forward must have one block");

    MLIRContext *ctx = module.getContext();
    OpBuilder b(ctx);
    b.setInsertionPointAfter(forward);
    Location loc = forward.getLoc();
    int64_t batch = logitsType.getDimSize(0);
    Type labelsType = RankedTensorType::get({batch}, b.getI32Type());
    Type lrType = RankedTensorType::get({}, b.getF32Type());
    auto step = b.create<func::FuncOp>(
        loc, kTrainStep,
        b.getFunctionType({fnType.getInput(0), labelsType, lrType}, {}));
    Block *entry = step.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value images = entry->getArgument(0), labels = entry->getArgument(1),
          lr = entry->getArgument(2);

    // Forward, in training form.
    IRMapping mapping;
    mapping.map(forward.getArgument(0), images);
    SmallVector<std::pair<std::string, Value>> updates;
    DenseSet<Value> statistics; // running statistics: buffers, not trained
    Value logits;
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        logits = mapping.lookup(ret.getOperand(0));
        break;
      }
      auto bn = dyn_cast<BatchNormOp>(op);
      if (!bn) {
        b.clone(op, mapping);
        continue;
      }
      statistics.insert(mapping.lookup(bn.getRunningMean()));
      statistics.insert(mapping.lookup(bn.getRunningVar()));
      if (bnMode == "frozen") {
        b.clone(op, mapping);
        continue;
      }
      auto train = b.create<BatchNormTrainOp>(
          bn.getLoc(), mapping.lookup(bn.getInput()),
          mapping.lookup(bn.getWeight()), mapping.lookup(bn.getBias()),
          /*residual=*/Value(), bn.getEpsilonAttr(),
          b.getF64FloatAttr(kBatchNormMomentum), /*relu=*/UnitAttr());
      mapping.map(bn.getOutput(), train.getOutput());
      auto shape = cast<RankedTensorType>(bn.getInput().getType()).getShape();
      auto mean = markUpdated(mapping.lookup(bn.getRunningMean()));
      auto var = markUpdated(mapping.lookup(bn.getRunningVar()));
      if (failed(mean) || failed(var))
        return failure();
      auto stats = b.create<RunningStatsUpdateOp>(
          bn.getLoc(), TypeRange{mean->getType(), var->getType()}, *mean, *var,
          train.getBatchMean(), train.getBatchVar(),
          b.getF64FloatAttr(kBatchNormMomentum),
          b.getI64IntegerAttr(shape[0] * shape[2] * shape[3]));
      updates.emplace_back(nameOf(*mean), stats.getNewMean());
      updates.emplace_back(nameOf(*var), stats.getNewVar());
    }
    Value loss = b.create<SoftmaxCrossEntropyOp>(loc, logits, labels).getLoss();
    SmallVector<Operation *> forwardOps;
    for (Operation &op : *entry)
      forwardOps.push_back(&op);

    // Trainable parameters, and every value computed from one.
    SmallVector<ParamOp> params;
    DenseSet<Value> requiresGrad;
    for (Operation *op : forwardOps) {
      auto param = dyn_cast<ParamOp>(op);
      if (!param || param.getPrepared() || param.getUpdated() ||
          statistics.contains(param.getResult()))
        continue;
      if (!globs.empty() && llvm::none_of(globs, [&](auto &glob) {
            return glob.match(param.getName());
          }))
        continue;
      param.setUpdated(true);
      params.push_back(param);
      requiresGrad.insert(param.getResult());
    }
    if (params.empty())
      return module.emitError("resnet-autodiff: no parameter matches the "
                              "trainable patterns, nothing to train");
    for (Operation *op : forwardOps)
      if (!isa<RunningStatsUpdateOp>(op) &&
          llvm::any_of(op->getOperands(),
                       [&](Value v) { return requiresGrad.contains(v); }))
        requiresGrad.insert(op->result_begin(), op->result_end());

    // Backward.
    Differentiator diff(b, requiresGrad);
    diff.accumulate(logits, b.create<SoftmaxCrossEntropyGradOp>(
                                loc, logits.getType(), logits, labels));
    for (Operation *op : llvm::reverse(forwardOps)) {
      if (isa<ParamOp, SoftmaxCrossEntropyOp, RunningStatsUpdateOp>(op))
        continue;
      if (failed(diff.differentiate(op)))
        return failure();
    }

    // SGD.
    SmallVector<Operation *> updateOps;
    for (ParamOp param : params) {
      Value grad = diff.gradOf(param.getResult());
      if (!grad)
        return param.emitError("trainable parameter '")
               << param.getName() << "' does not affect the loss";
      // Read at the top, with the other parameters, so that nothing pins
      // the update to the end of the function.
      OpBuilder top = OpBuilder::atBlockBegin(entry);
      auto buffer =
          top.create<ParamOp>(param.getLoc(), param.getType(),
                              (param.getName() + ".momentum_buffer").str());
      buffer.setUpdated(true);
      buffer.setOptimizerState(true);
      auto sgd = b.create<SgdUpdateOp>(
          param.getLoc(), TypeRange{param.getType(), param.getType()},
          param.getResult(), grad, buffer.getResult(), lr,
          b.getF64FloatAttr(momentum), b.getF64FloatAttr(weightDecay),
          nesterov ? b.getUnitAttr() : UnitAttr());
      updates.emplace_back(param.getName().str(), sgd.getNewParam());
      updates.emplace_back(buffer.getName().str(), sgd.getNewMomentumBuffer());
    }

    SmallVector<Value> results{loss};
    SmallVector<Attribute> resultAttrs{
        b.getDictionaryAttr(b.getNamedAttr("resnet.loss", b.getUnitAttr()))};
    for (auto &[name, value] : updates) {
      results.push_back(value);
      resultAttrs.push_back(b.getDictionaryAttr(
          b.getNamedAttr(kNameAttr, b.getStringAttr(name))));
      if (!llvm::is_contained(updateOps, value.getDefiningOp()))
        updateOps.push_back(value.getDefiningOp());
    }
    b.create<func::ReturnOp>(loc, results);
    step.setFunctionType(
        b.getFunctionType({fnType.getInput(0), labelsType, lrType},
                          ValueRange(results).getTypes()));
    step.setAllResultAttrs(resultAttrs);

    foldReluGrads(step);
    for (Operation *op : updateOps)
      placeEarly(op);
    return success();
  }

  static std::string nameOf(ParamOp param) { return param.getName().str(); }

  /// Marks the running-statistics parameter defining `value` as updated.
  FailureOr<ParamOp> markUpdated(Value value) {
    auto param = value.getDefiningOp<ParamOp>();
    if (!param || param.getPrepared())
      return emitError(value.getLoc(), "resnet-autodiff: a batch norm's "
                                       "running statistics must be "
                                       "parameters from the weights file");
    param.setUpdated(true);
    return param;
  }

  /// Moves an update right after the last op that reads the old values it
  /// replaces (or defines its operands), so the old value's storage is
  /// free to take the new one and gradients die early.
  static void placeEarly(Operation *update) {
    Operation *after = nullptr;
    auto later = [&](Operation *op) {
      if (op && op != update && op->getBlock() == update->getBlock() &&
          (!after || after->isBeforeInBlock(op)))
        after = op;
    };
    for (Value operand : update->getOperands()) {
      later(operand.getDefiningOp());
      if (operand.getDefiningOp<ParamOp>())
        for (Operation *user : operand.getUsers())
          later(user);
    }
    if (after && after->isBeforeInBlock(update))
      update->moveAfter(after);
  }
};

} // namespace
