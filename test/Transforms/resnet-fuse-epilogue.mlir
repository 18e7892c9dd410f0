// RUN: resnet-opt %s -resnet-fuse-epilogue -split-input-file | FileCheck %s

// The basic block's tail: conv + bias -> add(., identity) -> relu is one op.
// CHECK-LABEL: func.func @conv_add_relu
// CHECK-SAME: (%[[X:.*]]: tensor<1x4x8x8xf32>, %[[W:.*]]: tensor<4x4x3x3xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK-NEXT: %[[Y:.*]] = resnet.fused_conv2d %[[X]], %[[W]] bias %[[B]] residual %[[X]] {padding = array<i64: 1, 1, 1, 1>, relu}
// CHECK-NEXT: return %[[Y]]
func.func @conv_add_relu(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %c = resnet.conv2d %x, %w, %b {padding = array<i64: 1, 1, 1, 1>} : tensor<1x4x8x8xf32>, tensor<4x4x3x3xf32>, tensor<4xf32>
  %a = resnet.add %x, %c : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
  %r = resnet.relu %a : tensor<1x4x8x8xf32>
  return %r : tensor<1x4x8x8xf32>
}

// -----

// conv -> relu, and conv -> add without relu.
// CHECK-LABEL: func.func @partial_chains
// CHECK: %[[R:.*]] = resnet.fused_conv2d %{{.*}}, %{{.*}} bias %{{.*}} {relu}
// CHECK: %[[A:.*]] = resnet.fused_conv2d %[[R]], %{{.*}} residual %[[R]] :
// CHECK-NOT: resnet.add
// CHECK-NOT: resnet.relu
// CHECK: return %[[A]]
func.func @partial_chains(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x1x1xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %c = resnet.conv2d %x, %w, %b : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>, tensor<4xf32>
  %r = resnet.relu %c : tensor<1x4x8x8xf32>
  %c2 = resnet.conv2d %r, %w : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>
  %a = resnet.add %c2, %r : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
  return %a : tensor<1x4x8x8xf32>
}

// -----

// A ReLU before the add is the conv's epilogue; the add after it stays.
// CHECK-LABEL: func.func @relu_before_add
// CHECK: %[[R:.*]] = resnet.fused_conv2d %[[X:.*]], %{{.*}} {relu}
// CHECK: %[[A:.*]] = resnet.add %[[R]], %[[X]]
// CHECK: return %[[A]]
func.func @relu_before_add(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x1x1xf32>) -> tensor<1x4x8x8xf32> {
  %c = resnet.conv2d %x, %w : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>
  %r = resnet.relu %c : tensor<1x4x8x8xf32>
  %a = resnet.add %r, %x : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
  return %a : tensor<1x4x8x8xf32>
}

// -----

// The conv's result has a second user: nothing fuses into it.
// CHECK-LABEL: func.func @second_user
// CHECK: %[[C:.*]] = resnet.fused_conv2d %{{.*}}, %{{.*}} :
// CHECK: %[[A:.*]] = resnet.add %[[C]], %{{.*}}
// CHECK: %[[R:.*]] = resnet.relu %[[A]]
// CHECK: return %[[R]], %[[C]]
func.func @second_user(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x1x1xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %c = resnet.conv2d %x, %w : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>
  %a = resnet.add %c, %x : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
  %r = resnet.relu %a : tensor<1x4x8x8xf32>
  return %r, %c : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}

// -----

// The add's result has a second user: the add fuses, the relu does not.
// CHECK-LABEL: func.func @add_second_user
// CHECK: %[[A:.*]] = resnet.fused_conv2d %{{.*}}, %{{.*}} residual %{{.*}} :
// CHECK: %[[R:.*]] = resnet.relu %[[A]]
// CHECK: return %[[R]], %[[A]]
func.func @add_second_user(%x: tensor<1x4x8x8xf32>, %w: tensor<4x4x1x1xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) {
  %c = resnet.conv2d %x, %w : tensor<1x4x8x8xf32>, tensor<4x4x1x1xf32>
  %a = resnet.add %c, %x : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
  %r = resnet.relu %a : tensor<1x4x8x8xf32>
  return %r, %a : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
}

// -----

// An add of two values no convolution produced stays as it is.
// CHECK-LABEL: func.func @add_of_non_convs
// CHECK: %[[A:.*]] = resnet.add
// CHECK: resnet.relu %[[A]]
// CHECK-NOT: fused_conv2d
func.func @add_of_non_convs(%x: tensor<1x4x8x8xf32>, %y: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
  %a = resnet.add %x, %y : tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>
  %r = resnet.relu %a : tensor<1x4x8x8xf32>
  return %r : tensor<1x4x8x8xf32>
}

// -----

// The projection shortcut: add(conv3(..), downsample(..)) -> relu. The main
// path absorbs the add and the relu; the shortcut conv becomes its residual.
// CHECK-LABEL: func.func @projection
// CHECK-DAG: %[[S:.*]] = resnet.fused_conv2d %[[X:.*]], %{{.*}} bias %{{.*}} {stride = array<i64: 2, 2>}
// CHECK-DAG: %[[M:.*]] = resnet.fused_conv2d %{{.*}}, %{{.*}} bias %{{.*}} residual %[[S]] {relu}
// CHECK: return %[[M]]
func.func @projection(%x: tensor<1x4x8x8xf32>, %h: tensor<1x8x4x4xf32>, %w: tensor<8x8x1x1xf32>, %wd: tensor<8x4x1x1xf32>, %b: tensor<8xf32>) -> tensor<1x8x4x4xf32> {
  %main = resnet.conv2d %h, %w, %b : tensor<1x8x4x4xf32>, tensor<8x8x1x1xf32>, tensor<8xf32>
  %short = resnet.conv2d %x, %wd, %b {stride = array<i64: 2, 2>} : tensor<1x4x8x8xf32>, tensor<8x4x1x1xf32>, tensor<8xf32>
  %a = resnet.add %main, %short : tensor<1x8x4x4xf32>, tensor<1x8x4x4xf32>
  %r = resnet.relu %a : tensor<1x8x4x4xf32>
  return %r : tensor<1x8x4x4xf32>
}

// -----

// In a training step: batch_norm_train -> add(., residual) -> relu becomes
// one batch_norm_train with the epilogue. It goes after the residual's
// definition (here the downsample branch, computed after it, as torchvision
// orders a block), and the running-statistics update that reads its
// statistics in between moves after it.
// CHECK-LABEL: func.func @batch_norm_train_block
// CHECK-SAME: (%[[C:.*]]: tensor<2x4x8x8xf32>, %[[X:.*]]: tensor<2x4x8x8xf32>, %[[V:.*]]: tensor<4xf32>)
// CHECK-NEXT: %[[D:.*]], %{{.*}}, %{{.*}} = resnet.batch_norm_train %[[X]], %[[V]], %[[V]] :
// CHECK-NEXT: %[[F:.*]], %[[M:.*]], %[[VAR:.*]] = resnet.batch_norm_train %[[C]], %[[V]], %[[V]] residual %[[D]] {relu}
// CHECK-NEXT: %[[S:.*]], %{{.*}} = resnet.running_stats_update %[[V]], %[[V]], %[[M]], %[[VAR]]
// CHECK-NEXT: return %[[F]], %[[S]]
func.func @batch_norm_train_block(%c: tensor<2x4x8x8xf32>, %x: tensor<2x4x8x8xf32>, %v: tensor<4xf32>) -> (tensor<2x4x8x8xf32>, tensor<4xf32>) {
  %y:3 = resnet.batch_norm_train %c, %v, %v : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>
  %s:2 = "resnet.running_stats_update"(%v, %v, %y#1, %y#2) {momentum = 1.000000e-01 : f64, count = 128 : i64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  %d:3 = resnet.batch_norm_train %x, %v, %v : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>
  %a = resnet.add %y#0, %d#0 : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
  %r = resnet.relu %a : tensor<2x4x8x8xf32>
  return %r, %s#0 : tensor<2x4x8x8xf32>, tensor<4xf32>
}

// -----

// batch_norm_train -> relu; and a batch norm whose output has a second
// user (the relu's mask below reads the relu, not it) keeps its chain.
// CHECK-LABEL: func.func @batch_norm_train_relu
// CHECK: %[[F:[^,]*]], {{.*}} = resnet.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}} {relu}
// CHECK: %[[G:[^,]*]], {{.*}} = resnet.batch_norm_train %[[F]], %{{.*}}, %{{.*}} :
// CHECK: %[[R:.*]] = resnet.relu %[[G]]
// CHECK: return %[[F]], %[[R]], %[[G]] :
func.func @batch_norm_train_relu(%x: tensor<2x4x8x8xf32>, %v: tensor<4xf32>) -> (tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) {
  %y:3 = resnet.batch_norm_train %x, %v, %v : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>
  %r = resnet.relu %y#0 : tensor<2x4x8x8xf32>
  %z:3 = resnet.batch_norm_train %r, %v, %v : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>
  %q = resnet.relu %z#0 : tensor<2x4x8x8xf32>
  return %r, %q, %z#0 : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
}
