//===- Passes.td - The graph passes of resnetc -------------*- tablegen -*-===//
#ifndef RESNET_TRANSFORMS_PASSES
#define RESNET_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def FoldBatchNorm : Pass<"resnet-fold-batchnorm", "mlir::ModuleOp"> {
  let summary = "Fold inference batch norms into the preceding convolutions";
  let description = [{
    `batch_norm(conv2d(x, W[, b]), gamma, beta, mean, var)` becomes
    `conv2d(x, W', b')` where `W', b' = fold_batch_norm(W, gamma, beta,
    mean, var[, b])`: `W' = W * gamma / sqrt(var + eps)` per output channel
    and `b' = (b - mean) * gamma / sqrt(var + eps) + beta`. Parameter values
    live outside the IR, so the folding stays in the IR as a weight
    preparation op for `resnet-hoist-weight-prep` to move into `@init`.
    It does not fire on `batch_norm_train`, nor on a convolution whose
    result has another user (that user needs the unnormalized value).
  }];
}

def FuseEpilogue : Pass<"resnet-fuse-epilogue", "mlir::ModuleOp"> {
  let summary = "Fuse bias, residual add and ReLU into convolution kernels";
  let description = [{
    Rewrites every `conv2d` into a `fused_conv2d`, absorbing the chain that
    follows it where each link is the only user of the one before:
    `conv2d (+ bias) -> add(., other) -> relu`, `conv2d -> add`, and
    `conv2d -> relu`. The add's other operand becomes the `residual`
    operand. A ReLU before the add stays where it is, and nothing is fused
    into a convolution whose result has a second user.

    Likewise `batch_norm_train -> add(., other) -> relu` (and its shorter
    chains) becomes one `batch_norm_train` with `residual` and `relu`: in
    a training step the convolution's result also feeds the batch norm's
    gradient, so the epilogue goes to the batch norm instead.
  }];
}

def HoistWeightPrep : Pass<"resnet-hoist-weight-prep", "mlir::ModuleOp"> {
  let summary = "Move parameter-only computations from @forward into @init";
  let description = [{
    Every op of `@forward` whose operands derive from `resnet.param` values
    alone (batch-norm folding, later layout changes) moves into a function
    `@init() -> (...)` that runs once when weights are loaded. `@init`
    returns each prepared value under a name (result attribute
    `resnet.name`), and `@forward` reads it with `resnet.param NAME
    {prepared}`. One compiled model then serves every checkpoint of its
    architecture.
  }];
}

def PlanMemory : Pass<"resnet-plan-memory", "mlir::ModuleOp"> {
  let summary = "Assign every intermediate tensor an offset in one arena";
  let description = [{
    A static, liveness-based memory plan for every function but `@init`
    (which runs once at load time and whose results are stored with the
    weights). Ops are numbered in their (single) block; each result of an
    op other than `resnet.param` is a buffer of numel times the element's
    bytes, rounded up to `alignment`, alive over the closed interval from
    its defining op to its last user (the function's return counts as a
    user). Function arguments belong to the caller and get no offset.

    Placement is greedy by size (TFLite's strategy): largest buffers first,
    ties in definition order, each at the start of the smallest gap that
    fits between the placed buffers alive at the same time, else above the
    highest of them. So buffers alive together never overlap, and an op
    never writes its result over its own operands.

    Each op gets `resnet.arena_offsets` (one byte offset per result), and
    the function `resnet.arena_size` (bytes of the arena, 0 without
    buffers) and `resnet.arena_peak` (the most aligned bytes alive at one
    op, the least any plan needs). A function with more than one block is
    an error.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of every offset">,
  ];
}

def Autodiff : Pass<"resnet-autodiff", "mlir::ModuleOp"> {
  let summary = "Build @train_step: forward, loss, backward and SGD update";
  let description = [{
    From `@forward(images) -> logits`, builds

    ```mlir
    func.func @train_step(%images, %labels: tensor<Nxi32>, %lr: tensor<f32>)
        -> (tensor<f32> {resnet.loss}, tensor<...> {resnet.name = "fc.weight"},
            ...)
    ```

    which computes the forward pass in training form, the mean softmax
    cross-entropy of the logits against the labels (torch.nn.
    CrossEntropyLoss), the gradients of the trainable parameters, and one
    torch.optim.SGD step on each. Trainable parameters are those whose
    names match one of the `trainable` globs (all parameters when none is
    given; running statistics are buffers, never trained); they are read
    as `resnet.param NAME {updated}` and their new values are returned
    under their names, with the SGD momentum buffers (`NAME.momentum_buffer`,
    `{updated, optimizer_state}`). Each update is placed right after the
    last op that reads the old value, so the runtime can write it in place.

    With `bn=train` every batch norm normalizes with batch statistics and
    returns its updated running statistics (momentum 0.1, unbiased
    variance), as `model.train()`; with `bn=frozen` they keep running
    statistics, as `eval()`-mode batch norms.

    Gradients are built only where they reach a trainable parameter: a
    frozen prefix of the network gets no backward ops at all. A ReLU's
    gradient is folded into the batch-norm gradient before it and into
    the input gradient of a convolution it feeds, where that is the only
    use.
  }];
  let options = [
    ListOption<"trainable", "trainable", "std::string",
               "Globs of trainable parameter names (default: all)">,
    Option<"bnMode", "bn", "std::string", /*default=*/"\"train\"",
           "train (batch statistics) or frozen (running statistics)">,
    Option<"momentum", "momentum", "double", /*default=*/"0.0",
           "SGD momentum">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0",
           "SGD weight decay (L2, added to the gradient)">,
    Option<"nesterov", "nesterov", "bool", /*default=*/"false",
           "Nesterov momentum">,
  ];
}

#endif // RESNET_TRANSFORMS_PASSES
