//===- BuildPlan.cpp - From a compiled module to a ModelPlan --------------===//
#include "compiler/Codegen/BuildPlan.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Plan.h"
#include "schedules/Kernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace mlir::resnet;

namespace resnetc {
namespace {

Shape shapeOf(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return Shape(type.getShape().begin(), type.getShape().end());
}

std::vector<int64_t> vec(ArrayRef<int64_t> values) {
  return std::vector<int64_t>(values.begin(), values.end());
}

/// The kernel an op needs, or failure if there is none.
FailureOr<KernelSpec> specFor(Operation *op) {
  KernelSpec spec;
  for (Value v : op->getOperands())
    spec.inputs.push_back(shapeOf(v));
  for (Value v : op->getResults())
    spec.outputs.push_back(shapeOf(v));
  // Attributes shared by an op and its gradient.
  auto convWindow = [&](auto conv) {
    spec.stride = vec(conv.getStride());
    spec.padding = vec(conv.getPadding());
    spec.dilation = vec(conv.getDilation());
    spec.groups = conv.getGroups();
  };
  auto convAttrs = [&](auto conv) {
    spec.kind = KernelKind::FusedConv;
    convWindow(conv);
    spec.hasBias = static_cast<bool>(conv.getBias());
  };
  auto maxPoolAttrs = [&](auto pool) {
    spec.window = vec(pool.getKernel());
    spec.stride = vec(pool.getStride());
    spec.padding = vec(pool.getPadding());
    spec.dilation = vec(pool.getDilation());
    spec.ceilMode = pool.getCeilMode();
  };
  auto avgPoolAttrs = [&](auto pool) {
    spec.window = vec(pool.getKernel());
    spec.stride = vec(pool.getStride());
    spec.padding = vec(pool.getPadding());
    spec.ceilMode = pool.getCeilMode();
    spec.countIncludePad = pool.getCountIncludePad();
  };
  if (auto conv = dyn_cast<FusedConv2dOp>(op)) {
    convAttrs(conv);
    spec.hasResidual = static_cast<bool>(conv.getResidual());
    spec.relu = conv.getRelu();
  } else if (auto conv = dyn_cast<Conv2dOp>(op)) {
    convAttrs(conv);
  } else if (auto pool = dyn_cast<MaxPool2dOp>(op)) {
    spec.kind = KernelKind::MaxPool;
    maxPoolAttrs(pool);
  } else if (auto pool = dyn_cast<AvgPool2dOp>(op)) {
    spec.kind = KernelKind::AvgPool;
    avgPoolAttrs(pool);
  } else if (isa<GlobalAvgPoolOp>(op)) {
    spec.kind = KernelKind::GlobalAvgPool;
  } else if (auto linear = dyn_cast<LinearOp>(op)) {
    spec.kind = KernelKind::Linear;
    spec.hasBias = static_cast<bool>(linear.getBias());
  } else if (auto softmax = dyn_cast<SoftmaxOp>(op)) {
    spec.kind = KernelKind::Softmax;
    spec.axis = softmax.getAxis();
  } else if (auto fold = dyn_cast<FoldBatchNormOp>(op)) {
    spec.kind = KernelKind::FoldBatchNorm;
    spec.hasBias = static_cast<bool>(fold.getBias());
    spec.epsilon = fold.getEpsilon().convertToDouble();
  } else if (auto pad = dyn_cast<PadOp>(op)) {
    spec.kind = KernelKind::Pad;
    spec.low = vec(pad.getLow());
    spec.high = vec(pad.getHigh());
  } else if (isa<AddOp>(op)) {
    spec.kind = KernelKind::Add;
  } else if (isa<ReluOp>(op)) {
    spec.kind = KernelKind::Relu;
  } else if (auto bn = dyn_cast<BatchNormOp>(op)) {
    spec.kind = KernelKind::BatchNorm;
    spec.epsilon = bn.getEpsilon().convertToDouble();
  } else if (auto bn = dyn_cast<BatchNormTrainOp>(op)) {
    spec.kind = KernelKind::BatchNormTrain;
    spec.epsilon = bn.getEpsilon().convertToDouble();
  } else if (auto grad = dyn_cast<BatchNormGradOp>(op)) {
    spec.kind = KernelKind::BatchNormGrad;
    spec.epsilon = grad.getEpsilon().convertToDouble();
    spec.training = grad.getTraining();
    spec.relu = static_cast<bool>(grad.getMask());
  } else if (auto stats = dyn_cast<RunningStatsUpdateOp>(op)) {
    spec.kind = KernelKind::RunningStats;
    spec.momentum = stats.getMomentum().convertToDouble();
    spec.count = stats.getCount();
  } else if (auto grad = dyn_cast<Conv2dGradInputOp>(op)) {
    spec.kind = KernelKind::ConvGradInput;
    convWindow(grad);
    spec.relu = static_cast<bool>(grad.getMask());
  } else if (auto grad = dyn_cast<Conv2dGradWeightOp>(op)) {
    spec.kind = KernelKind::ConvGradWeight;
    convWindow(grad);
  } else if (isa<ReluGradOp>(op)) {
    spec.kind = KernelKind::ReluGrad;
  } else if (auto grad = dyn_cast<MaxPool2dGradOp>(op)) {
    spec.kind = KernelKind::MaxPoolGrad;
    maxPoolAttrs(grad);
  } else if (auto grad = dyn_cast<AvgPool2dGradOp>(op)) {
    spec.kind = KernelKind::AvgPoolGrad;
    avgPoolAttrs(grad);
  } else if (isa<GlobalAvgPoolGradOp>(op)) {
    spec.kind = KernelKind::GlobalAvgPoolGrad;
  } else if (isa<LinearGradInputOp>(op)) {
    spec.kind = KernelKind::LinearGradInput;
  } else if (isa<LinearGradWeightOp>(op)) {
    spec.kind = KernelKind::LinearGradWeight;
  } else if (isa<BiasGradOp>(op)) {
    spec.kind = KernelKind::BiasGrad;
  } else if (isa<SoftmaxCrossEntropyOp>(op)) {
    spec.kind = KernelKind::CrossEntropy;
  } else if (isa<SoftmaxCrossEntropyGradOp>(op)) {
    spec.kind = KernelKind::CrossEntropyGrad;
  } else if (auto grad = dyn_cast<PadGradOp>(op)) {
    spec.kind = KernelKind::PadGrad;
    spec.low = vec(grad.getLow());
    spec.high = vec(grad.getHigh());
  } else if (auto sgd = dyn_cast<SgdUpdateOp>(op)) {
    spec.kind = KernelKind::SgdUpdate;
    spec.momentum = sgd.getMomentum().convertToDouble();
    spec.weightDecay = sgd.getWeightDecay().convertToDouble();
    spec.nesterov = sgd.getNesterov();
  } else {
    return failure();
  }
  return spec;
}

class PlanBuilder {
public:
  PlanBuilder(ModelPlan &plan) : plan(plan) {}

  LogicalResult addInit(func::FuncOp init) {
    for (Operation &op : init.getBody().front()) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        if (failed(addParam(param)))
          return failure();
        continue;
      }
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
          auto name = init.getResultAttrOfType<StringAttr>(i, "resnet.name");
          if (!name)
            return init.emitError("@init result ")
                   << i << " has no resnet.name";
          FailureOr<int> buffer = bufferOf(value, ret);
          if (failed(buffer))
            return failure();
          prepared[name.getValue()] = *buffer;
        }
        continue;
      }
      // Every value @init computes is kept: prepared storage, no reuse.
      for (Value result : op.getResults()) {
        buffers[result] = addBuffer(PlanBuffer::Prepared, plan.preparedBytes,
                                    shapeOf(result));
        plan.preparedBytes += (bytes(result) + 63) / 64 * 64;
      }
      if (failed(addCall(&op, plan.initCalls)))
        return failure();
    }
    return success();
  }

  LogicalResult addForward(func::FuncOp forward) {
    if (forward.getNumArguments() != 1 || forward.getNumResults() != 1 ||
        shapeOf(forward.getArgument(0)).size() != 4 ||
        cast<RankedTensorType>(forward.getResultTypes()[0]).getRank() != 2)
      return forward.emitError("@forward must take NCHW images and return "
                               "NxC logits, one tensor each");
    auto arena = forward->getAttrOfType<IntegerAttr>("resnet.arena_size");
    if (!arena)
      return forward.emitError("@forward has no memory plan "
                               "(run resnet-plan-memory)");
    plan.arenaBytes = arena.getInt();
    Value images = forward.getArgument(0);
    plan.inputBuffer = addBuffer(PlanBuffer::Input, 0, shapeOf(images));
    buffers[images] = plan.inputBuffer;
    for (Operation &op : forward.getBody().front()) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        if (failed(addParam(param)))
          return failure();
        continue;
      }
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        FailureOr<int> output = bufferOf(ret.getOperand(0), ret);
        if (failed(output))
          return failure();
        plan.outputBuffer = *output;
        continue;
      }
      auto offsets =
          op.getAttrOfType<DenseI64ArrayAttr>("resnet.arena_offsets");
      if (!offsets || offsets.size() != int64_t(op.getNumResults()))
        return op.emitError("no arena offsets (run resnet-plan-memory)");
      for (auto [result, offset] :
           llvm::zip(op.getResults(), offsets.asArrayRef()))
        buffers[result] = addBuffer(PlanBuffer::Arena, offset, shapeOf(result));
      if (isa<FlattenOp>(op)) {
        FailureOr<int> from = bufferOf(op.getOperand(0), &op);
        if (failed(from))
          return failure();
        plan.forwardCalls.push_back({-1, {*from, buffers[op.getResult(0)]}});
        continue;
      }
      if (failed(addCall(&op, plan.forwardCalls)))
        return failure();
    }
    return success();
  }

  /// @train_step(images, labels, lr) -> (loss, updates...): its calls
  /// write each update into the storage of the parameter it replaces.
  LogicalResult addTrainStep(func::FuncOp step) {
    auto type = step.getFunctionType();
    if (type.getNumInputs() != 3 || type.getNumResults() < 1 ||
        !step.getResultAttr(0, "resnet.loss"))
      return step.emitError("@train_step must take images, labels and the "
                            "learning rate and return the loss first");
    auto arena = step->getAttrOfType<IntegerAttr>("resnet.arena_size");
    if (!arena)
      return step.emitError("@train_step has no memory plan "
                            "(run resnet-plan-memory)");
    plan.arenaBytes = std::max(plan.arenaBytes, arena.getInt());
    Block &body = step.getBody().front();
    plan.trainInputBuffer =
        addBuffer(PlanBuffer::Input, 0, shapeOf(body.getArgument(0)));
    plan.labelsBuffer =
        addBuffer(PlanBuffer::Labels, 0, shapeOf(body.getArgument(1)));
    plan.lrBuffer = addBuffer(PlanBuffer::Lr, 0, shapeOf(body.getArgument(2)));
    for (int i = 0; i < 3; ++i)
      buffers[body.getArgument(i)] = plan.trainInputBuffer + i;
    // Updated values, by the parameter they replace.
    llvm::DenseMap<Value, StringRef> updateOf;
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    for (unsigned i = 1; i < ret.getNumOperands(); ++i) {
      auto name = step.getResultAttrOfType<StringAttr>(i, "resnet.name");
      if (!name)
        return step.emitError("@train_step result ")
               << i << " has no resnet.name";
      updateOf[ret.getOperand(i)] = name.getValue();
    }
    for (Operation &op : body) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        if (param.getUpdated())
          plan.batchStats |= param.getName().ends_with(".running_mean");
        if (failed(addParam(param)))
          return failure();
        continue;
      }
      if (&op == ret.getOperation()) {
        FailureOr<int> loss = bufferOf(ret.getOperand(0), ret);
        if (failed(loss))
          return failure();
        plan.lossBuffer = *loss;
        continue;
      }
      auto offsets =
          op.getAttrOfType<DenseI64ArrayAttr>("resnet.arena_offsets");
      if (!offsets || offsets.size() != int64_t(op.getNumResults()))
        return op.emitError("no arena offsets (run resnet-plan-memory)");
      for (auto [result, offset] :
           llvm::zip(op.getResults(), offsets.asArrayRef())) {
        if (offset >= 0) {
          buffers[result] =
              addBuffer(PlanBuffer::Arena, offset, shapeOf(result));
          continue;
        }
        auto update = updateOf.find(result);
        auto index = update == updateOf.end() ? paramIndex.end()
                                              : paramIndex.find(update->second);
        if (index == paramIndex.end())
          return op.emitError("a result without arena storage must update "
                              "a parameter that the step reads");
        buffers[result] =
            addBuffer(PlanBuffer::Weight, index->second, shapeOf(result));
      }
      if (isa<FlattenOp, ReshapeOp>(op)) {
        FailureOr<int> from = bufferOf(op.getOperand(0), &op);
        if (failed(from))
          return failure();
        plan.trainCalls.push_back({-1, {*from, buffers[op.getResult(0)]}});
        continue;
      }
      if (failed(addCall(&op, plan.trainCalls)))
        return failure();
    }
    return success();
  }

private:
  LogicalResult addParam(ParamOp param) {
    if (param.getPrepared()) {
      auto it = prepared.find(param.getName());
      if (it == prepared.end())
        return param.emitError("@init does not return prepared value '")
               << param.getName() << "'";
      buffers[param.getResult()] = it->second;
      return success();
    }
    auto [it, inserted] =
        paramIndex.try_emplace(param.getName(), int(plan.params.size()));
    if (inserted)
      plan.params.push_back(
          {param.getName().str(), shapeOf(param), param.getOptimizerState()});
    else if (plan.params[it->second].shape != shapeOf(param))
      return param.emitError("parameter '")
             << param.getName() << "' is used with two shapes";
    buffers[param.getResult()] =
        addBuffer(PlanBuffer::Weight, it->second, shapeOf(param));
    return success();
  }

  LogicalResult addCall(Operation *op, std::vector<PlanCall> &calls) {
    SmallVector<Value> tensors(op->getOperands());
    tensors.append(op->result_begin(), op->result_end());
    for (Value v : tensors)
      if (failed(checkLimits(v, op)))
        return failure();
    FailureOr<KernelSpec> spec = specFor(op);
    if (failed(spec))
      return op->emitError("resnetc has no kernel for '")
             << op->getName() << "'";
    bool flat = isPointwiseConv(*spec);
    if (flat)
      flattenPointwiseConv(*spec);
    auto [it, inserted] =
        kernelIndex.try_emplace(spec->key(), int(plan.kernels.size()));
    if (inserted)
      plan.kernels.push_back(*spec);
    plan.scratchBytes = std::max(plan.scratchBytes, kernelScratchBytes(*spec));
    PlanCall call;
    call.kernel = it->second;
    for (Value v : op->getOperands()) {
      FailureOr<int> buffer = bufferOf(v, op);
      if (failed(buffer))
        return failure();
      call.args.push_back(*buffer);
    }
    for (Value v : op->getResults())
      call.args.push_back(buffers[v]);
    if (flat) {
      // The kernel sees its activations (input, residual, output) as
      // images of one row: views of the same storage.
      const KernelSpec &k = plan.kernels[call.kernel];
      call.args[0] = viewOf(call.args[0], k.inputs[0]);
      if (k.hasResidual)
        call.args[k.hasBias ? 3 : 2] =
            viewOf(call.args[k.hasBias ? 3 : 2], k.inputs[k.hasBias ? 3 : 2]);
      call.args.back() = viewOf(call.args.back(), k.outputs[0]);
    }
    if (call.args.size() > RN_MAX_ARGS)
      return op->emitError("a kernel takes at most ")
             << RN_MAX_ARGS << " tensors, this op " << call.args.size();
    calls.push_back(call);
    return success();
  }

  /// A 1x1 convolution with unit stride and no padding is the same
  /// computation on an NxCx1x(H*W) image, whose one long row vectorizes
  /// without the lanes a narrow row (7 or 14 wide) leaves idle.
  static bool isPointwiseConv(const KernelSpec &spec) {
    if (spec.kind != KernelKind::FusedConv)
      return false;
    const Shape &w = spec.inputs[1];
    for (int64_t v : spec.padding)
      if (v != 0)
        return false;
    return w[2] == 1 && w[3] == 1 && spec.stride == std::vector<int64_t>{1, 1};
  }

  static Shape oneRow(const Shape &s) { return {s[0], s[1], 1, s[2] * s[3]}; }

  static void flattenPointwiseConv(KernelSpec &spec) {
    spec.inputs[0] = oneRow(spec.inputs[0]);
    if (spec.hasResidual)
      spec.inputs[spec.hasBias ? 3 : 2] =
          oneRow(spec.inputs[spec.hasBias ? 3 : 2]);
    spec.outputs[0] = oneRow(spec.outputs[0]);
  }

  /// A buffer for the same storage as `buffer`, seen with `shape`.
  int viewOf(int buffer, const Shape &shape) {
    PlanBuffer view = plan.buffers[buffer];
    view.shape = shape;
    plan.buffers.push_back(view);
    return int(plan.buffers.size()) - 1;
  }

  /// The buffer holding `value`, which `user` reads.
  FailureOr<int> bufferOf(Value value, Operation *user) {
    auto it = buffers.find(value);
    if (it == buffers.end())
      return user->emitError("an operand has no storage in the plan (only "
                             "@forward's argument, parameters and op "
                             "results have)");
    return it->second;
  }

  int addBuffer(PlanBuffer::Storage storage, int64_t offset, Shape shape) {
    plan.buffers.push_back({storage, offset, std::move(shape)});
    return int(plan.buffers.size()) - 1;
  }

  /// Halide buffers hold at most RN_MAX_RANK dimensions of int32 extents.
  static LogicalResult checkLimits(Value value, Operation *at) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() > RN_MAX_RANK)
      return at->emitError("tensors of rank ")
             << type.getRank() << " are not supported (at most " << RN_MAX_RANK
             << ")";
    if (type.getNumElements() >= (int64_t(1) << 31))
      return at->emitError("a tensor of ")
             << type.getNumElements()
             << " elements is too large for a Halide buffer (2^31)";
    return success();
  }

  static int64_t bytes(Value v) {
    return cast<RankedTensorType>(v.getType()).getNumElements() * 4;
  }

  ModelPlan &plan;
  llvm::DenseMap<Value, int> buffers;
  llvm::StringMap<int> prepared;
  llvm::StringMap<int> paramIndex;
  llvm::StringMap<int> kernelIndex;
};

} // namespace

LogicalResult buildPlan(ModuleOp module, const std::string &name,
                        ModelPlan &plan) {
  plan = ModelPlan();
  plan.name = name;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError("the module has no func.func @forward");
  PlanBuilder builder(plan);
  if (auto init = module.lookupSymbol<func::FuncOp>("init"))
    if (failed(builder.addInit(init)))
      return failure();
  if (failed(builder.addForward(forward)))
    return failure();
  if (auto step = module.lookupSymbol<func::FuncOp>("train_step"))
    return builder.addTrainStep(step);
  return success();
}

} // namespace resnetc
