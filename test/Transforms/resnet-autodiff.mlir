// RUN: resnet-opt %s -resnet-autodiff="momentum=0.9 weight-decay=1e-4" | FileCheck %s --check-prefix=TRAIN
// RUN: resnet-opt %s -resnet-autodiff="trainable=fc.* bn=frozen" | FileCheck %s --check-prefix=FC
// RUN: resnet-opt %s -resnet-autodiff="trainable=bn1.* bn=frozen nesterov=1 momentum=0.5" | FileCheck %s --check-prefix=BN
// RUN: not resnet-opt %s -resnet-autodiff="trainable=layer9.*" 2>&1 | FileCheck %s --check-prefix=NOMATCH
// RUN: not resnet-opt %s -resnet-autodiff="bn=eval" 2>&1 | FileCheck %s --check-prefix=BADBN
// RUN: not resnet-opt %s -resnet-autodiff="nesterov=1" 2>&1 | FileCheck %s --check-prefix=NESTEROV

// A residual block: conv1 -> bn1 -> relu -> conv2 (+ identity) -> relu ->
// global pool -> fc.
func.func @forward(%x: tensor<2x3x8x8xf32>) -> tensor<2x5xf32> {
  %w1 = resnet.param "conv1.weight" : tensor<4x3x3x3xf32>
  %c1 = resnet.conv2d %x, %w1 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  %g = resnet.param "bn1.weight" : tensor<4xf32>
  %b = resnet.param "bn1.bias" : tensor<4xf32>
  %m = resnet.param "bn1.running_mean" : tensor<4xf32>
  %v = resnet.param "bn1.running_var" : tensor<4xf32>
  %n1 = resnet.batch_norm %c1, %g, %b, %m, %v : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %r1 = resnet.relu %n1 : tensor<2x4x8x8xf32>
  %w2 = resnet.param "conv2.weight" : tensor<4x4x3x3xf32>
  %c2 = resnet.conv2d %r1, %w2 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x4x8x8xf32>, tensor<4x4x3x3xf32>
  %s = resnet.add %c2, %r1 : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
  %r2 = resnet.relu %s : tensor<2x4x8x8xf32>
  %p = resnet.global_avg_pool %r2 : tensor<2x4x8x8xf32>
  %f = resnet.flatten %p : tensor<2x4x1x1xf32>
  %fw = resnet.param "fc.weight" : tensor<5x4xf32>
  %fb = resnet.param "fc.bias" : tensor<5xf32>
  %y = resnet.linear %f, %fw, %fb : tensor<2x4xf32>, tensor<5x4xf32>, tensor<5xf32>
  return %y : tensor<2x5xf32>
}

// Everything trainable, batch norm in training form: the step returns the
// loss, the new running statistics, and each parameter with its momentum
// buffer; the images get no gradient.
// TRAIN-LABEL: func.func @forward
// TRAIN: resnet.batch_norm %
// TRAIN-LABEL: func.func @train_step
// TRAIN-SAME: (%[[X:.*]]: tensor<2x3x8x8xf32>, %[[L:.*]]: tensor<2xi32>, %[[LR:.*]]: tensor<f32>)
// TRAIN-SAME: tensor<f32> {resnet.loss}
// TRAIN-SAME: {resnet.name = "bn1.running_mean"}
// TRAIN-SAME: {resnet.name = "bn1.running_var"}
// TRAIN-SAME: {resnet.name = "conv1.weight"}
// TRAIN-SAME: {resnet.name = "conv1.weight.momentum_buffer"}
// TRAIN-DAG: %[[W1:.*]] = resnet.param "conv1.weight" {updated}
// TRAIN-DAG: %[[BUF1:.*]] = resnet.param "conv1.weight.momentum_buffer" {optimizer_state, updated}
// TRAIN: %[[C1:.*]] = resnet.conv2d %[[X]], %[[W1]]
// TRAIN-DAG: %[[M:.*]] = resnet.param "bn1.running_mean" {updated}
// TRAIN-DAG: %[[V:.*]] = resnet.param "bn1.running_var" {updated}
// TRAIN: %[[Y1:.*]], %[[BM:.*]], %[[BV:.*]] = resnet.batch_norm_train %[[C1]]
// TRAIN: %[[NM:.*]], %[[NV:.*]] = resnet.running_stats_update %[[M]], %[[V]], %[[BM]], %[[BV]] {count = 128 : i64, momentum = 1.000000e-01 : f64}
// TRAIN: %[[R1:.*]] = resnet.relu %[[Y1]]
// TRAIN: %[[LOSS:.*]] = resnet.softmax_cross_entropy %[[LOGITS:.*]], %[[L]]
// TRAIN: resnet.softmax_cross_entropy_grad %[[LOGITS]], %[[L]]
// The gradient reaching r1 sums the identity's and conv2's; relu's mask
// folds into the batch-norm gradient.
// TRAIN: %[[DR2:.*]] = resnet.relu_grad
// TRAIN: %[[DC2IN:.*]] = resnet.conv2d_grad_input %[[DR2]], %{{.*}} {padding = array<i64: 1, 1, 1, 1>}
// TRAIN: %[[DR1:.*]] = resnet.add %[[DR2]], %[[DC2IN]]
// TRAIN: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = resnet.batch_norm_grad %[[DR1]], %[[C1]], %{{.*}}, %[[BM]], %[[BV]], %[[R1]] {training}
// TRAIN: %[[DW1:.*]] = resnet.conv2d_grad_weight %[[X]], %[[DX]]
// TRAIN-NOT: resnet.conv2d_grad_input
// TRAIN: %[[NW1:.*]], %[[NB1:.*]] = resnet.sgd_update %[[W1]], %[[DW1]], %[[BUF1]], %[[LR]] {momentum = 9.000000e-01 : f64, weight_decay = 1.000000e-04 : f64}
// TRAIN: return %[[LOSS]], %[[NM]], %[[NV]], %[[NW1]], %[[NB1]]

// Only fc trains and batch norms keep running statistics: no gradient
// goes below fc, nothing updates the statistics.
// FC-LABEL: func.func @train_step
// FC-SAME: -> (tensor<f32> {resnet.loss}, tensor<5x4xf32> {resnet.name = "fc.weight"}, tensor<5x4xf32> {resnet.name = "fc.weight.momentum_buffer"}, tensor<5xf32> {resnet.name = "fc.bias"}, tensor<5xf32> {resnet.name = "fc.bias.momentum_buffer"})
// FC: resnet.param "conv1.weight" :
// FC: resnet.batch_norm %
// FC-NOT: resnet.batch_norm_train
// FC: resnet.linear_grad_weight
// FC: resnet.sgd_update
// FC-NOT: resnet.linear_grad_input
// FC-NOT: resnet.conv2d_grad
// FC-NOT: resnet.running_stats_update
// FC-NOT: resnet.relu_grad
// FC: return

// Frozen batch norm with trainable weight and bias: its gradient uses the
// running statistics; conv1 is frozen, so the gradient stops there.
// BN-LABEL: func.func @train_step
// BN-DAG: %[[M:.*]] = resnet.param "bn1.running_mean" :
// BN-DAG: %[[V:.*]] = resnet.param "bn1.running_var" :
// BN: resnet.batch_norm_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[M]], %[[V]], %{{.*}} :
// BN-NOT: resnet.conv2d_grad_weight %arg0
// BN: resnet.sgd_update {{.*}}nesterov
// BN-NOT: resnet.conv2d_grad_weight %arg0

// NOMATCH: no parameter matches the trainable patterns
// BADBN: bn must be 'train' or 'frozen', got 'eval'
// NESTEROV: nesterov needs a positive momentum
