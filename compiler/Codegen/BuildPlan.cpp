//===- BuildPlan.cpp - From a compiled module to a ModelPlan --------------===//
#include "compiler/Codegen/BuildPlan.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Plan.h"
#include "schedules/Kernels.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <map>
#include <tuple>

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
    spec.hasResidual = static_cast<bool>(bn.getResidual());
    spec.relu = bn.getRelu();
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
  PlanBuilder(ModelPlan &plan, bool blockedLayouts)
      : plan(plan), blockedLayouts(blockedLayouts) {}

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
    chooseLayouts(forward.getBody().front());
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
        buffers[result] =
            addBuffer(PlanBuffer::Arena, offset, layoutShapeOf(result));
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
    chooseTrainLayouts(body);
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
              addBuffer(PlanBuffer::Arena, offset, layoutShapeOf(result));
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
    PlanCall call;
    for (Value v : op->getOperands()) {
      FailureOr<int> buffer = bufferOf(v, op);
      if (failed(buffer))
        return failure();
      call.args.push_back(*buffer);
    }
    for (Value v : op->getResults())
      call.args.push_back(buffers[v]);
    applyLayouts(op, *spec, call);
    bool flat = isPointwiseConv(*spec);
    if (flat)
      flattenPointwiseConv(*spec);
    call.kernel = addKernel(*spec);
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

  int addKernel(const KernelSpec &spec) {
    auto [it, inserted] =
        kernelIndex.try_emplace(spec.key(), int(plan.kernels.size()));
    if (inserted)
      plan.kernels.push_back(spec);
    plan.scratchBytes = std::max(plan.scratchBytes, kernelScratchBytes(spec));
    return it->second;
  }

  //===--------------------------------------------------------------------===//
  // Channel-blocked activations (NCHW16c)
  //===--------------------------------------------------------------------===//

  /// Convolutions that can write a channel-blocked result: no groups, whole
  /// blocks of output channels, and weights that stay fixed while the
  /// function runs (@init relays them once; a weight the step updates
  /// would be read stale).
  static bool convWritesBlocked(Operation *op) {
    if (!isa<FusedConv2dOp, Conv2dOp>(op))
      return false;
    Shape out = shapeOf(op->getResult(0));
    int64_t groups = isa<FusedConv2dOp>(op)
                         ? cast<FusedConv2dOp>(op).getGroups()
                         : cast<Conv2dOp>(op).getGroups();
    return groups == 1 && out[1] % kChannelBlock == 0 && hasFixedWeights(op);
  }

  /// Whether a convolution's weights are a parameter the function does not
  /// update, which @init can relay once.
  static bool hasFixedWeights(Operation *conv) {
    auto param = conv->getOperand(1).getDefiningOp<ParamOp>();
    return param && !param.getUpdated();
  }

  bool readsBlocked(OpOperand &use) const {
    Operation *user = use.getOwner();
    if (isa<GlobalAvgPoolOp>(user))
      return true;
    if (isa<MaxPool2dOp>(user))
      return blocked.contains(user->getResult(0));
    if (!isa<FusedConv2dOp, Conv2dOp>(user) ||
        !blocked.contains(user->getResult(0)))
      return false;
    if (use.getOperandNumber() == 0)
      return true;
    auto fused = dyn_cast<FusedConv2dOp>(user);
    return fused && fused.getResidual() == use.get();
  }

  /// The values of `body` kept channel-blocked: results of convolutions
  /// and max pools whose every reader takes that layout (convolutions with
  /// blocked results, max pools, global pooling), a max pool's input and a
  /// convolution's residual in the layout of the result.
  void chooseLayouts(Block &body) {
    blocked.clear();
    if (!blockedLayouts)
      return;
    for (Operation &op : body) {
      if (op.getNumResults() != 1)
        continue;
      Value result = op.getResult(0);
      Shape shape = shapeOf(result);
      if (shape.size() == 4 && shape[1] % kChannelBlock == 0 &&
          (convWritesBlocked(&op) || isa<MaxPool2dOp>(op)))
        blocked.insert(result);
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (Operation &op : body) {
        if (op.getNumResults() != 1 || !blocked.contains(op.getResult(0)))
          continue;
        Value result = op.getResult(0);
        bool keep = llvm::all_of(result.getUses(), [&](OpOperand &use) {
          return readsBlocked(use);
        });
        if (isa<MaxPool2dOp>(op) && !blocked.contains(op.getOperand(0)))
          keep = false;
        if (auto fused = dyn_cast<FusedConv2dOp>(op))
          if (fused.getResidual() && !blocked.contains(fused.getResidual()))
            keep = false;
        if (!keep) {
          blocked.erase(result);
          changed = true;
        }
      }
    }
  }

  /// How an op's kernels take channel-blocked activations: the operands
  /// and results in `tied` share one layout, those in `free` may have
  /// either; false where its kernel takes none blocked.
  static bool layoutRule(Operation *op, SmallVectorImpl<Value> &tied,
                         SmallVectorImpl<Value> &free) {
    auto add = [](SmallVectorImpl<Value> &to, Value v) {
      if (v)
        to.push_back(v);
    };
    if (isa<FusedConv2dOp, Conv2dOp>(op)) {
      // The GEMM kernel: any input layout, a residual in the result's.
      int64_t groups = isa<FusedConv2dOp>(op)
                           ? cast<FusedConv2dOp>(op).getGroups()
                           : cast<Conv2dOp>(op).getGroups();
      if (groups != 1 || shapeOf(op->getResult(0))[1] % kChannelBlock != 0)
        return false;
      free.push_back(op->getOperand(0));
      tied.push_back(op->getResult(0));
      if (auto fused = dyn_cast<FusedConv2dOp>(op))
        add(tied, fused.getResidual());
      return true;
    }
    if (auto bn = dyn_cast<BatchNormTrainOp>(op)) {
      tied.append({bn.getInput(), bn.getOutput()});
      add(tied, bn.getResidual());
      return true;
    }
    if (auto grad = dyn_cast<BatchNormGradOp>(op)) {
      tied.append({grad.getDy(), grad.getInput(), grad->getResult(0)});
      add(tied, grad.getMask());
      return true;
    }
    if (auto grad = dyn_cast<Conv2dGradInputOp>(op)) {
      FailureOr<KernelSpec> spec = specFor(op);
      if (failed(spec) ||
          !(gradInputIsConvolution(*spec) || gradInputAsGemm(*spec)))
        return false;
      free.push_back(grad.getDy());
      tied.push_back(grad.getResult());
      add(tied, grad.getMask());
      return true;
    }
    if (isa<Conv2dGradWeightOp, GlobalAvgPoolOp>(op)) {
      free.append(op->operand_begin(), op->operand_end());
      return true;
    }
    if (isa<GlobalAvgPoolGradOp>(op)) {
      free.push_back(op->getResult(0));
      return true;
    }
    if (isa<AddOp, ReluGradOp, MaxPool2dOp, MaxPool2dGradOp>(op)) {
      tied.append(op->operand_begin(), op->operand_end());
      tied.push_back(op->getResult(0));
      return true;
    }
    return false;
  }

  /// The activations of a training step kept channel-blocked: every one
  /// with whole blocks of channels whose kernels all take it so, with the
  /// values its kernels tie to it (layoutRule). The images stay NCHW.
  void chooseTrainLayouts(Block &body) {
    blocked.clear();
    if (!blockedLayouts)
      return;
    // Union-find over the tied values; a class is blocked unless one of
    // its values cannot be.
    llvm::DenseMap<Value, Value> parent;
    std::function<Value(Value)> find = [&](Value v) -> Value {
      auto it = parent.find(v);
      if (it == parent.end() || it->second == v)
        return v;
      Value root = find(it->second);
      parent[v] = root;
      return root;
    };
    llvm::DenseSet<Value> candidates, nchw;
    for (BlockArgument arg : body.getArguments())
      nchw.insert(arg);
    for (Operation &op : body) {
      SmallVector<Value> tied, free;
      bool rule = layoutRule(&op, tied, free);
      llvm::DenseSet<Value> either(tied.begin(), tied.end());
      either.insert(free.begin(), free.end());
      for (Value v : op.getOperands())
        if (!either.contains(v))
          nchw.insert(v);
      for (Value v : op.getResults()) {
        Shape shape = shapeOf(v);
        if (rule && either.contains(v) && shape.size() == 4 &&
            shape[1] % kChannelBlock == 0)
          candidates.insert(v);
        else
          nchw.insert(v);
      }
      for (size_t i = 1; i < tied.size(); ++i) {
        Value a = find(tied[0]), b = find(tied[i]);
        if (a != b)
          parent[b] = a;
      }
    }
    llvm::DenseSet<Value> rejected;
    for (Value v : nchw)
      rejected.insert(find(v));
    for (Value v : candidates)
      if (!rejected.contains(find(v)))
        blocked.insert(v);
  }

  Shape layoutShapeOf(Value value) const {
    return blocked.contains(value) ? blockedShape(shapeOf(value))
                                   : shapeOf(value);
  }

  /// Gives the spec of `op` the layouts of its operands and results, and a
  /// blocked convolution its relaid weights.
  void applyLayouts(Operation *op, KernelSpec &spec, PlanCall &call) {
    for (auto [i, v] : llvm::enumerate(op->getOperands()))
      if (blocked.contains(v))
        spec.inputs[i] = blockedShape(spec.inputs[i]);
    for (auto [i, v] : llvm::enumerate(op->getResults()))
      if (blocked.contains(v))
        spec.outputs[i] = blockedShape(spec.outputs[i]);
    // On the CPU, the input gradient of a stride-1 convolution is itself a
    // convolution (gradInputAsConvolution), run by the GEMM kernel.
    if (spec.kind == KernelKind::ConvGradInput) {
      spec.gemm = blockedLayouts && gradInputIsConvolution(spec);
      return;
    }
    if (spec.kind != KernelKind::FusedConv || !blockedLayouts ||
        spec.groups != 1 ||
        (!isBlocked(spec.outputs[0]) &&
         spec.outputs[0][1] % kChannelBlock != 0))
      return;
    // Every ungrouped convolution with whole blocks of output channels runs
    // as a GEMM along them, whatever its layouts: an NCHW result is stored
    // transposed from the blocked tile. Fixed weights are relaid by @init;
    // weights the step updates, by the kernel on every call.
    spec.gemm = true;
    if (!hasFixedWeights(op))
      return;
    bool blockedInput = isBlocked(spec.inputs[0]);
    Shape oihw = spec.inputs[1];
    spec.inputs[1] = blockedWeightShape(oihw, blockedInput);
    call.args[1] = blockedWeights(call.args[1], oihw, blockedInput);
  }

  /// Prepared storage holding `weights` (OIHW) in the blocked layout,
  /// relaid by a call @init makes after its own.
  int blockedWeights(int weights, const Shape &oihw, bool blockedInput) {
    // (The same storage may have several buffers: one per function.)
    const PlanBuffer &source = plan.buffers[weights];
    auto key = std::make_tuple(int(source.storage), source.offset,
                               blockedInput);
    auto it = relaid.find(key);
    if (it != relaid.end())
      return it->second;
    KernelSpec spec;
    spec.kind = KernelKind::BlockWeights;
    spec.inputs = {oihw};
    spec.outputs = {blockedWeightShape(oihw, blockedInput)};
    int out = addBuffer(PlanBuffer::Prepared, plan.preparedBytes,
                        spec.outputs[0]);
    plan.preparedBytes += (numElements(oihw) * 4 + 63) / 64 * 64;
    plan.initCalls.push_back({addKernel(spec), {weights, out}});
    relaid[key] = out;
    return out;
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

  static Shape oneRow(const Shape &s) {
    Shape row = {s[0], s[1], 1, s[2] * s[3]};
    if (isBlocked(s))
      row.push_back(s[4]);
    return row;
  }

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
  bool blockedLayouts;
  /// The values of the function being read that are channel-blocked.
  llvm::DenseSet<Value> blocked;
  /// Blocked weights by (source storage, offset, blocked input).
  std::map<std::tuple<int, int64_t, bool>, int> relaid;
  llvm::DenseMap<Value, int> buffers;
  llvm::StringMap<int> prepared;
  llvm::StringMap<int> paramIndex;
  llvm::StringMap<int> kernelIndex;
};

} // namespace

LogicalResult buildPlan(ModuleOp module, const std::string &name,
                        ModelPlan &plan, bool blockedLayouts) {
  plan = ModelPlan();
  plan.name = name;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return module.emitError("the module has no func.func @forward");
  PlanBuilder builder(plan, blockedLayouts);
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
