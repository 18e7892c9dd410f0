//===- ResnetOps.td - Operations of the resnet dialect -----*- tablegen -*-===//
//
// Every op infers its result types (InferTypeOpAdaptor), so IR can be written
// without result types; the shape rules and their error messages live in
// ResnetOps.cpp, shared by parsing, building and verification.
//
//===----------------------------------------------------------------------===//
#ifndef RESNET_OPS
#define RESNET_OPS

include "Resnet/IR/ResnetDialect.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Resnet_Tensor : StaticShapeTensorOf<[F32]>;
def Resnet_LabelTensor : StaticShapeTensorOf<[I32]>;

/// InferTypeOpAdaptor, except that the adaptor sees every attribute: the
/// custom parser infers result types before the op exists, while inherent
/// attributes still sit in the attribute dictionary and default values are
/// not yet filled in.
def Resnet_InferTypeWithDefaults : TraitList<[
  DeclareOpInterfaceMethods<InferTypeOpInterface>,
  NativeOpTrait<"InferTypeOpAdaptor", [], [{
    static ::llvm::LogicalResult
    inferReturnTypes(::mlir::MLIRContext *context,
                     std::optional<::mlir::Location> location, Adaptor adaptor,
                     ::llvm::SmallVectorImpl<::mlir::Type> &inferredReturnTypes);
  }], [{
    ::llvm::LogicalResult $cppClass::inferReturnTypes(
        ::mlir::MLIRContext *context, std::optional<::mlir::Location> location,
        ::mlir::ValueRange operands, ::mlir::DictionaryAttr attributes,
        ::mlir::OpaqueProperties properties, ::mlir::RegionRange regions,
        ::llvm::SmallVectorImpl<::mlir::Type> &inferredReturnTypes) {
      $cppClass::Properties filled;
      if (properties)
        filled = *properties.as<$cppClass::Properties *>();
      if (attributes &&
          ::mlir::failed($cppClass::setPropertiesFromAttr(
              filled, attributes, [&] {
                return ::mlir::emitError(
                    location.value_or(::mlir::UnknownLoc::get(context)));
              })))
        return ::mlir::failure();
      $cppClass::populateDefaultProperties(
          ::mlir::OperationName($cppClass::getOperationName(), context), filled);
      $cppClass::Adaptor adaptor(operands, attributes, filled, regions);
      return $cppClass::inferReturnTypes(context, location, adaptor,
                                         inferredReturnTypes);
    }
  }]>
]>;

/// An op without attributes whose result types follow from its operands.
class Resnet_ShapeOp<string mnemonic, list<Trait> traits = []>
    : Resnet_Op<mnemonic, !listconcat([Pure, InferTypeOpAdaptor], traits)>;
/// An op whose result types follow from its operands and attributes.
class Resnet_AttrShapeOp<string mnemonic, list<Trait> traits = []>
    : Resnet_Op<mnemonic,
                !listconcat([Pure, Resnet_InferTypeWithDefaults], traits)>;

def Resnet_PairAttr : DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">;
def Resnet_PaddingAttr : DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def Resnet_ParamOp : Resnet_Op<"param", [Pure]> {
  let summary = "a named parameter whose value lives outside the IR";
  let description = [{
    The value of a learned parameter or buffer, looked up by name in a
    safetensors file when the model is loaded. The name is the torchvision
    state_dict key.

    ```mlir
    %w = resnet.param "layer1.0.conv1.weight" : tensor<64x64x3x3xf32>
    ```

    With `prepared`, the value is not read from the weights file but
    produced once by `@init`, which returns it under that name (see
    `resnet-hoist-weight-prep`).

    With `updated`, a training step changes the value (a trained parameter,
    a running statistic): the function returns the new value under the
    same name (result attribute `resnet.name`), and nothing computed from
    it may move into `@init`. With `optimizer_state` as well, the value is
    not in the weights file at all (SGD's momentum buffer): it starts at
    zero and is never saved.
  }];
  let arguments = (ins StrAttr:$name, UnitAttr:$prepared, UnitAttr:$updated,
                   UnitAttr:$optimizer_state);
  let results = (outs Resnet_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Convolution and normalization
//===----------------------------------------------------------------------===//

def Resnet_Conv2dOp : Resnet_AttrShapeOp<"conv2d"> {
  let summary = "2-D convolution (cross-correlation), as torch.nn.Conv2d";
  let description = [{
    `input` is NxCxHxW, `weight` is Ox(C/groups)xKHxKW, the optional `bias`
    is O. `padding` is [top, left, bottom, right] (ONNX's order) of zeros;
    `stride` and `dilation` are [h, w].

    ```mlir
    %y = resnet.conv2d %x, %w {padding = array<i64: 3, 3, 3, 3>,
                               stride = array<i64: 2, 2>}
        : tensor<1x3x224x224xf32>, tensor<64x3x7x7xf32>
    ```
  }];
  let arguments = (ins Resnet_Tensor:$input, Resnet_Tensor:$weight,
                   Optional<Resnet_Tensor>:$bias,
                   Resnet_PairAttr:$stride,
                   Resnet_PaddingAttr:$padding,
                   Resnet_PairAttr:$dilation,
                   DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type(operands)
  }];
}

def Resnet_BatchNormOp : Resnet_AttrShapeOp<"batch_norm"> {
  let summary = "batch normalization with running statistics (inference)";
  let description = [{
    `y = (x - running_mean) / sqrt(running_var + epsilon) * weight + bias`,
    per channel (dimension 1), as torch.nn.BatchNorm2d in eval mode.
  }];
  let arguments = (ins Resnet_Tensor:$input, Resnet_Tensor:$weight,
                   Resnet_Tensor:$bias, Resnet_Tensor:$running_mean,
                   Resnet_Tensor:$running_var,
                   DefaultValuedAttr<F64Attr, "1e-5">:$epsilon);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict
    `:` type(operands)
  }];
}

def Resnet_BatchNormTrainOp : Resnet_AttrShapeOp<"batch_norm_train"> {
  let summary = "batch normalization with batch statistics (training)";
  let description = [{
    Normalizes with the mean and the biased variance of the batch, over
    dimensions 0, 2 and 3, as torch.nn.BatchNorm2d in train mode, and also
    yields those statistics (`batch_var` is biased). `momentum` is the
    factor with which the caller updates the running statistics, as PyTorch
    does: `running = (1 - momentum) * running + momentum * batch`, with the
    unbiased variance for `running_var`.

    Like `fused_conv2d`, it may carry the epilogue of a ResNet block
    (`resnet-fuse-epilogue` puts it there in a training step):
    `output = relu?(normalized + residual?)`, where `residual` has the
    output's type. The statistics are those of `input` alone.
  }];
  let arguments = (ins Resnet_Tensor:$input, Resnet_Tensor:$weight,
                   Resnet_Tensor:$bias, Optional<Resnet_Tensor>:$residual,
                   DefaultValuedAttr<F64Attr, "1e-5">:$epsilon,
                   DefaultValuedAttr<F64Attr, "0.1">:$momentum,
                   UnitAttr:$relu);
  let results = (outs Resnet_Tensor:$output, Resnet_Tensor:$batch_mean,
                 Resnet_Tensor:$batch_var);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias (`residual` $residual^)? attr-dict `:`
    type(operands)
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise and data movement
//===----------------------------------------------------------------------===//

def Resnet_ReluOp : Resnet_ShapeOp<"relu"> {
  let summary = "max(x, 0)";
  let arguments = (ins Resnet_Tensor:$input);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Resnet_AddOp : Resnet_ShapeOp<"add", [Commutative]> {
  let summary = "elementwise sum of two tensors of one shape (no broadcast)";
  let arguments = (ins Resnet_Tensor:$lhs, Resnet_Tensor:$rhs);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type(operands)";
}

def Resnet_PadOp : Resnet_AttrShapeOp<"pad"> {
  let summary = "pads with zeros, `low[i]` before and `high[i]` after dim i";
  let description = [{
    Used by the CIFAR ResNets' parameter-free shortcut (option A of He et
    al. 2016), which pads the channels of a subsampled input with zeros.
  }];
  let arguments = (ins Resnet_Tensor:$input, DenseI64ArrayAttr:$low,
                   DenseI64ArrayAttr:$high);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Resnet_FlattenOp : Resnet_AttrShapeOp<"flatten"> {
  let summary = "reshapes to 2-D: dims before `axis`, dims from `axis` on";
  let description = [{
    As ONNX Flatten; with the default axis 1 it is torch.flatten(x, 1).
  }];
  let arguments = (ins Resnet_Tensor:$input,
                   DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

def Resnet_MaxPool2dOp : Resnet_AttrShapeOp<"max_pool2d"> {
  let summary = "2-D max pooling, as torch.nn.MaxPool2d";
  let description = [{
    `padding` is [top, left, bottom, right] of -infinity, at most half the
    effective kernel on each side, as PyTorch requires.
  }];
  let arguments = (ins Resnet_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride,
                   Resnet_PaddingAttr:$padding,
                   Resnet_PairAttr:$dilation,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Resnet_AvgPool2dOp : Resnet_AttrShapeOp<"avg_pool2d"> {
  let summary = "2-D average pooling, as torch.nn.AvgPool2d";
  let description = [{
    `padding` is [top, left, bottom, right] of zeros; `count_include_pad`
    says whether padded elements count in the divisor (PyTorch's default).
  }];
  let arguments = (ins Resnet_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride,
                   Resnet_PaddingAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<BoolAttr, "true">:$count_include_pad);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Resnet_GlobalAvgPoolOp : Resnet_ShapeOp<"global_avg_pool"> {
  let summary = "mean over H and W: NxCxHxW to NxCx1x1";
  let description = [{ torch.nn.AdaptiveAvgPool2d((1, 1)). }];
  let arguments = (ins Resnet_Tensor:$input);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Classifier and loss
//===----------------------------------------------------------------------===//

def Resnet_LinearOp : Resnet_ShapeOp<"linear"> {
  let summary = "y = x * weight^T + bias, as torch.nn.Linear";
  let description = [{ `input` is NxK, `weight` MxK, the optional `bias` M. }];
  let arguments = (ins Resnet_Tensor:$input, Resnet_Tensor:$weight,
                   Optional<Resnet_Tensor>:$bias);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type(operands)
  }];
}

def Resnet_SoftmaxOp : Resnet_AttrShapeOp<"softmax"> {
  let summary = "softmax along `axis` (negative counts from the end)";
  let arguments = (ins Resnet_Tensor:$input,
                   DefaultValuedAttr<I64Attr, "1">:$axis);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Resnet_SoftmaxCrossEntropyOp : Resnet_ShapeOp<"softmax_cross_entropy"> {
  let summary = "mean over the batch of -log softmax(logits)[label]";
  let description = [{
    torch.nn.CrossEntropyLoss() on NxC logits and N int32 class indices;
    the result is a 0-D tensor.
  }];
  let arguments = (ins Resnet_Tensor:$logits, Resnet_LabelTensor:$labels);
  let results = (outs StaticShapeTensorOf<[F32]>:$loss);
  let assemblyFormat = "$logits `,` $labels attr-dict `:` type(operands)";
}

//===----------------------------------------------------------------------===//
// Weight preparation and fused kernels (produced by the graph passes)
//===----------------------------------------------------------------------===//

def Resnet_FoldBatchNormOp : Resnet_AttrShapeOp<"fold_batch_norm"> {
  let summary = "folds an inference batch norm into a convolution's weights";
  let description = [{
    With `s = gamma / sqrt(running_var + epsilon)` per output channel:
    `folded_weight = weight * s` (scaling each output channel) and
    `folded_bias = (bias - running_mean) * s + beta`, with `bias` zero when
    absent. It depends on parameters only, so `resnet-hoist-weight-prep`
    moves it into `@init`.
  }];
  let arguments = (ins Resnet_Tensor:$weight, Resnet_Tensor:$gamma,
                   Resnet_Tensor:$beta, Resnet_Tensor:$running_mean,
                   Resnet_Tensor:$running_var, Optional<Resnet_Tensor>:$bias,
                   DefaultValuedAttr<F64Attr, "1e-5">:$epsilon);
  let results = (outs Resnet_Tensor:$folded_weight,
                 Resnet_Tensor:$folded_bias);
  let assemblyFormat = [{
    $weight `,` $gamma `,` $beta `,` $running_mean `,` $running_var
    (`bias` $bias^)? attr-dict `:` type(operands)
  }];
}

def Resnet_FusedConv2dOp : Resnet_AttrShapeOp<"fused_conv2d",
                                              [AttrSizedOperandSegments]> {
  let summary = "convolution with its epilogue: + bias, + residual, relu";
  let description = [{
    `relu?(conv2d(input, weight) + bias + residual)`: one kernel for a
    convolution, its (folded batch-norm) bias, the residual add of a ResNet
    block and the ReLU after it. Attributes as `resnet.conv2d`; `residual`
    has the shape of the result.
  }];
  let arguments = (ins Resnet_Tensor:$input, Resnet_Tensor:$weight,
                   Optional<Resnet_Tensor>:$bias,
                   Optional<Resnet_Tensor>:$residual,
                   Resnet_PairAttr:$stride,
                   Resnet_PaddingAttr:$padding,
                   Resnet_PairAttr:$dilation,
                   DefaultValuedAttr<I64Attr, "1">:$groups,
                   UnitAttr:$relu);
  let results = (outs Resnet_Tensor:$output);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? (`residual` $residual^)? attr-dict
    `:` type(operands)
  }];
}

//===----------------------------------------------------------------------===//
// Training: the ops resnet-autodiff builds the backward graph and the
// optimizer update from. Their result types are spelled out (several are
// not determined by the operands, e.g. the input size of a strided
// convolution's gradient); each verifier checks what they must satisfy.
//===----------------------------------------------------------------------===//

class Resnet_GradOp<string mnemonic, list<Trait> traits = []>
    : Resnet_Op<mnemonic, !listconcat([Pure], traits)> {
  let hasVerifier = 1;
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
}

def Resnet_BatchNormGradOp : Resnet_GradOp<"batch_norm_grad"> {
  let summary = "gradients of a batch norm: input, weight (gamma), bias";
  let description = [{
    With `training`, `mean` and `var` are the batch's statistics (from
    `batch_norm_train`, biased variance), and the input gradient includes
    their dependence on the input; otherwise they are the running
    statistics of an inference batch norm. With `mask` (the output of the
    ReLU that follows the batch norm), `dy` counts only where mask > 0.
  }];
  let arguments = (ins Resnet_Tensor:$dy, Resnet_Tensor:$input,
                   Resnet_Tensor:$weight, Resnet_Tensor:$mean,
                   Resnet_Tensor:$var, Optional<Resnet_Tensor>:$mask,
                   DefaultValuedAttr<F64Attr, "1e-5">:$epsilon,
                   UnitAttr:$training);
  let results = (outs Resnet_Tensor:$dinput, Resnet_Tensor:$dweight,
                 Resnet_Tensor:$dbias);
}

def Resnet_RunningStatsUpdateOp : Resnet_GradOp<"running_stats_update"> {
  let summary = "PyTorch's update of a batch norm's running statistics";
  let description = [{
    `mean' = (1 - momentum) * mean + momentum * batch_mean` and
    `var' = (1 - momentum) * var + momentum * batch_var * count / (count - 1)`
    (the unbiased batch variance; `count` elements per channel).
  }];
  let arguments = (ins Resnet_Tensor:$running_mean, Resnet_Tensor:$running_var,
                   Resnet_Tensor:$batch_mean, Resnet_Tensor:$batch_var,
                   F64Attr:$momentum, I64Attr:$count);
  let results = (outs Resnet_Tensor:$new_mean, Resnet_Tensor:$new_var);
}

def Resnet_Conv2dGradInputOp : Resnet_GradOp<"conv2d_grad_input"> {
  let summary = "gradient of a convolution with respect to its input";
  let description = [{
    The transposed convolution of `dy` with the forward `weight`, to the
    forward input's shape (the result type). Attributes as `conv2d`. With
    `mask` (the forward input, when a ReLU produced it), the gradient is
    zero where mask <= 0: the ReLU's gradient, fused.
  }];
  let arguments = (ins Resnet_Tensor:$dy, Resnet_Tensor:$weight,
                   Optional<Resnet_Tensor>:$mask,
                   Resnet_PairAttr:$stride, Resnet_PaddingAttr:$padding,
                   Resnet_PairAttr:$dilation,
                   DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_Conv2dGradWeightOp : Resnet_GradOp<"conv2d_grad_weight"> {
  let summary = "gradient of a convolution with respect to its weight";
  let arguments = (ins Resnet_Tensor:$input, Resnet_Tensor:$dy,
                   Resnet_PairAttr:$stride, Resnet_PaddingAttr:$padding,
                   Resnet_PairAttr:$dilation,
                   DefaultValuedAttr<I64Attr, "1">:$groups);
  let results = (outs Resnet_Tensor:$dweight);
}

def Resnet_ReluGradOp : Resnet_GradOp<"relu_grad"> {
  let summary = "dy where the ReLU's output y is positive, else 0";
  let arguments = (ins Resnet_Tensor:$dy, Resnet_Tensor:$output);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_MaxPool2dGradOp : Resnet_GradOp<"max_pool2d_grad"> {
  let summary = "gradient of max pooling, to each window's first maximum";
  let description = [{
    As PyTorch: each output's gradient goes to the first in-bounds element
    of its window (rows, then columns) that holds the window's maximum.
  }];
  let arguments = (ins Resnet_Tensor:$dy, Resnet_Tensor:$input,
                   DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$stride,
                   Resnet_PaddingAttr:$padding, Resnet_PairAttr:$dilation,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_AvgPool2dGradOp : Resnet_GradOp<"avg_pool2d_grad"> {
  let summary = "gradient of average pooling (to the result type's shape)";
  let arguments = (ins Resnet_Tensor:$dy, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, Resnet_PaddingAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<BoolAttr, "true">:$count_include_pad);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_GlobalAvgPoolGradOp : Resnet_GradOp<"global_avg_pool_grad"> {
  let summary = "spreads NxCx1x1 gradients evenly over NxCxHxW";
  let arguments = (ins Resnet_Tensor:$dy);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_LinearGradInputOp : Resnet_GradOp<"linear_grad_input"> {
  let summary = "dx = dy * weight (NxM times MxK)";
  let arguments = (ins Resnet_Tensor:$dy, Resnet_Tensor:$weight);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_LinearGradWeightOp : Resnet_GradOp<"linear_grad_weight"> {
  let summary = "dW = dy^T * x (MxN times NxK)";
  let arguments = (ins Resnet_Tensor:$dy, Resnet_Tensor:$input);
  let results = (outs Resnet_Tensor:$dweight);
}

def Resnet_BiasGradOp : Resnet_GradOp<"bias_grad"> {
  let summary = "sum of dy over every dimension but 1 (a bias's gradient)";
  let arguments = (ins Resnet_Tensor:$dy);
  let results = (outs Resnet_Tensor:$dbias);
}

def Resnet_SoftmaxCrossEntropyGradOp
    : Resnet_GradOp<"softmax_cross_entropy_grad"> {
  let summary = "(softmax(logits) - onehot(labels)) / N";
  let arguments = (ins Resnet_Tensor:$logits, Resnet_LabelTensor:$labels);
  let results = (outs Resnet_Tensor:$dlogits);
}

def Resnet_PadGradOp : Resnet_GradOp<"pad_grad"> {
  let summary = "the part of dy that pad's input became (drops the borders)";
  let arguments = (ins Resnet_Tensor:$dy, DenseI64ArrayAttr:$low,
                   DenseI64ArrayAttr:$high);
  let results = (outs Resnet_Tensor:$dinput);
}

def Resnet_ReshapeOp : Resnet_GradOp<"reshape"> {
  let summary = "the same elements in another static shape (row-major)";
  let arguments = (ins Resnet_Tensor:$input);
  let results = (outs Resnet_Tensor:$output);
}

def Resnet_SgdUpdateOp : Resnet_GradOp<"sgd_update"> {
  let summary = "one step of torch.optim.SGD (dampening 0) on a parameter";
  let description = [{
    `d = grad + weight_decay * param`; `buf' = momentum * buf + d`;
    `d = nesterov ? d + momentum * buf' : buf'`; `param' = param - lr * d`.
    `lr` is a 0-D tensor (the step's learning rate); the momentum buffer
    starts at zero, which makes the first step PyTorch's `buf = d`.
  }];
  let arguments = (ins Resnet_Tensor:$param, Resnet_Tensor:$grad,
                   Resnet_Tensor:$momentum_buffer, Resnet_Tensor:$lr,
                   DefaultValuedAttr<F64Attr, "0.0">:$momentum,
                   DefaultValuedAttr<F64Attr, "0.0">:$weight_decay,
                   UnitAttr:$nesterov);
  let results = (outs Resnet_Tensor:$new_param,
                 Resnet_Tensor:$new_momentum_buffer);
}

#endif // RESNET_OPS
