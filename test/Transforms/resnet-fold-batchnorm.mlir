// RUN: resnet-opt %s -resnet-fold-batchnorm -split-input-file | FileCheck %s

// conv2d -> batch_norm becomes conv2d on folded weights and bias; the BN's
// epsilon travels with the fold.
// CHECK-LABEL: func.func @fires
// CHECK-SAME: (%[[X:.*]]: tensor<1x3x8x8xf32>)
func.func @fires(%x: tensor<1x3x8x8xf32>) -> tensor<1x4x8x8xf32> {
  // CHECK-DAG: %[[W:.*]] = resnet.param "conv.weight"
  // CHECK-DAG: %[[G:.*]] = resnet.param "bn.weight"
  // CHECK-DAG: %[[B:.*]] = resnet.param "bn.bias"
  // CHECK-DAG: %[[M:.*]] = resnet.param "bn.running_mean"
  // CHECK-DAG: %[[V:.*]] = resnet.param "bn.running_var"
  // CHECK: %[[FW:.*]], %[[FB:.*]] = resnet.fold_batch_norm %[[W]], %[[G]], %[[B]], %[[M]], %[[V]] {epsilon = 1.000000e-03 : f64}
  // CHECK: %[[Y:.*]] = resnet.conv2d %[[X]], %[[FW]], %[[FB]] {padding = array<i64: 1, 1, 1, 1>}
  // CHECK-NOT: resnet.batch_norm
  // CHECK: return %[[Y]]
  %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
  %c = resnet.conv2d %x, %w {padding = array<i64: 1, 1, 1, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  %g = resnet.param "bn.weight" : tensor<4xf32>
  %b = resnet.param "bn.bias" : tensor<4xf32>
  %m = resnet.param "bn.running_mean" : tensor<4xf32>
  %v = resnet.param "bn.running_var" : tensor<4xf32>
  %y = resnet.batch_norm %c, %g, %b, %m, %v {epsilon = 1.0e-3 : f64} : tensor<1x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return %y : tensor<1x4x8x8xf32>
}

// -----

// A convolution bias folds too: b' = (b - mean) * s + beta.
// CHECK-LABEL: func.func @conv_bias
// CHECK: %[[CB:.*]] = resnet.param "conv.bias"
// CHECK: resnet.fold_batch_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} bias %[[CB]] :
// CHECK-NOT: resnet.batch_norm
func.func @conv_bias(%x: tensor<1x3x8x8xf32>, %p: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
  %cb = resnet.param "conv.bias" : tensor<4xf32>
  %c = resnet.conv2d %x, %w, %cb : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
  %y = resnet.batch_norm %c, %p, %p, %p, %p : tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return %y : tensor<1x4x6x6xf32>
}

// -----

// Batch norm in training form normalizes with batch statistics: no fold.
// CHECK-LABEL: func.func @training_form
// CHECK-NOT: fold_batch_norm
// CHECK: resnet.batch_norm_train
func.func @training_form(%x: tensor<2x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %p: tensor<4xf32>) -> tensor<2x4x6x6xf32> {
  %c = resnet.conv2d %x, %w : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  %y:3 = resnet.batch_norm_train %c, %p, %p : tensor<2x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>
  return %y#0 : tensor<2x4x6x6xf32>
}

// -----

// The convolution's raw result has a second user: folding would lose it.
// CHECK-LABEL: func.func @second_user
// CHECK-NOT: fold_batch_norm
// CHECK: %[[C:.*]] = resnet.conv2d
// CHECK: resnet.batch_norm %[[C]]
// CHECK: resnet.relu %[[C]]
func.func @second_user(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %p: tensor<4xf32>) -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>) {
  %c = resnet.conv2d %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  %y = resnet.batch_norm %c, %p, %p, %p, %p : tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %r = resnet.relu %c : tensor<1x4x6x6xf32>
  return %y, %r : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
}

// -----

// A batch norm that does not follow a convolution stays.
// CHECK-LABEL: func.func @not_after_conv
// CHECK-NOT: fold_batch_norm
// CHECK: resnet.batch_norm
func.func @not_after_conv(%x: tensor<1x4x6x6xf32>, %p: tensor<4xf32>) -> tensor<1x4x6x6xf32> {
  %r = resnet.relu %x : tensor<1x4x6x6xf32>
  %y = resnet.batch_norm %r, %p, %p, %p, %p : tensor<1x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return %y : tensor<1x4x6x6xf32>
}
