// RUN: resnet-opt %s | resnet-opt | FileCheck %s
// RUN: resnet-opt %s --mlir-print-op-generic | resnet-opt | FileCheck %s

// Every op of the dialect prints and parses back to itself, in the custom
// and in the generic form, and its result type is inferred when unspelled.

// CHECK-LABEL: func.func @conv_bn
func.func @conv_bn(%x: tensor<2x3x9x11xf32>) -> tensor<2x8x5x6xf32> {
  // CHECK: %[[W:.*]] = resnet.param "conv1.weight" : tensor<8x3x3x3xf32>
  %w = resnet.param "conv1.weight" : tensor<8x3x3x3xf32>
  // CHECK: %[[B:.*]] = resnet.param "conv1.bias" : tensor<8xf32>
  %b = resnet.param "conv1.bias" : tensor<8xf32>
  // CHECK: %[[C:.*]] = resnet.conv2d %{{.*}}, %[[W]], %[[B]] {padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<2x3x9x11xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>
  %c = resnet.conv2d %x, %w, %b {stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x9x11xf32>, tensor<8x3x3x3xf32>, tensor<8xf32>
  %g = resnet.param "bn1.weight" : tensor<8xf32>
  %be = resnet.param "bn1.bias" : tensor<8xf32>
  %m = resnet.param "bn1.running_mean" : tensor<8xf32>
  %v = resnet.param "bn1.running_var" : tensor<8xf32>
  // CHECK: resnet.batch_norm %[[C]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 1.000000e-03 : f64} : tensor<2x8x5x6xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  %n = resnet.batch_norm %c, %g, %be, %m, %v {epsilon = 1.0e-3 : f64} : tensor<2x8x5x6xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  return %n : tensor<2x8x5x6xf32>
}

// CHECK-LABEL: func.func @grouped_dilated
func.func @grouped_dilated(%x: tensor<1x8x10x10xf32>, %w: tensor<16x2x3x3xf32>) -> tensor<1x16x3x8xf32> {
  // Attributes equal to their defaults (padding 0) are elided.
  // CHECK: resnet.conv2d %{{.*}}, %{{.*}} {dilation = array<i64: 2, 1>, groups = 4 : i64, stride = array<i64: 2, 1>} : tensor<1x8x10x10xf32>, tensor<16x2x3x3xf32>
  %y = resnet.conv2d %x, %w {dilation = array<i64: 2, 1>, groups = 4 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 1>} : tensor<1x8x10x10xf32>, tensor<16x2x3x3xf32>
  return %y : tensor<1x16x3x8xf32>
}

// CHECK-LABEL: func.func @train_bn
func.func @train_bn(%x: tensor<4x8x5x5xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> (tensor<4x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>) {
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = resnet.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}} {momentum = 2.000000e-01 : f64} : tensor<4x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>
  %y:3 = resnet.batch_norm_train %x, %g, %b {momentum = 0.2 : f64} : tensor<4x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>
  // CHECK: resnet.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}} residual %{{.*}} {relu} : tensor<4x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>, tensor<4x8x5x5xf32>
  %e:3 = resnet.batch_norm_train %x, %g, %b residual %x {relu} : tensor<4x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>, tensor<4x8x5x5xf32>
  return %y#0, %y#1, %y#2 : tensor<4x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>
}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%x: tensor<1x4x6x6xf32>, %y: tensor<1x4x6x6xf32>) -> tensor<1x8x6x6xf32> {
  // CHECK: %[[A:.*]] = resnet.add %{{.*}}, %{{.*}} : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
  %a = resnet.add %x, %y : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
  // CHECK: %[[R:.*]] = resnet.relu %[[A]] : tensor<1x4x6x6xf32>
  %r = resnet.relu %a : tensor<1x4x6x6xf32>
  // CHECK: resnet.pad %[[R]] {high = array<i64: 0, 2, 0, 0>, low = array<i64: 0, 2, 0, 0>} : tensor<1x4x6x6xf32>
  %p = resnet.pad %r {low = array<i64: 0, 2, 0, 0>, high = array<i64: 0, 2, 0, 0>} : tensor<1x4x6x6xf32>
  return %p : tensor<1x8x6x6xf32>
}

// CHECK-LABEL: func.func @pools
func.func @pools(%x: tensor<1x4x112x112xf32>) -> (tensor<1x4x56x56xf32>, tensor<1x4x56x56xf32>, tensor<1x4x1x1xf32>) {
  // CHECK: resnet.max_pool2d %{{.*}} {kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<1x4x112x112xf32>
  %m = resnet.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : tensor<1x4x112x112xf32>
  // CHECK: resnet.avg_pool2d %{{.*}} {ceil_mode = true, count_include_pad = false, kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<1x4x112x112xf32>
  %a = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true, count_include_pad = false} : tensor<1x4x112x112xf32>
  // CHECK: resnet.global_avg_pool %{{.*}} : tensor<1x4x56x56xf32>
  %g = resnet.global_avg_pool %m : tensor<1x4x56x56xf32>
  return %m, %a, %g : tensor<1x4x56x56xf32>, tensor<1x4x56x56xf32>, tensor<1x4x1x1xf32>
}

// CHECK-LABEL: func.func @classifier
func.func @classifier(%x: tensor<3x16x1x1xf32>, %labels: tensor<3xi32>) -> (tensor<3x10xf32>, tensor<f32>) {
  // CHECK: %[[F:.*]] = resnet.flatten %{{.*}} : tensor<3x16x1x1xf32>
  %f = resnet.flatten %x : tensor<3x16x1x1xf32>
  %w = resnet.param "fc.weight" : tensor<10x16xf32>
  %b = resnet.param "fc.bias" : tensor<10xf32>
  // CHECK: %[[L:.*]] = resnet.linear %[[F]], %{{.*}}, %{{.*}} : tensor<3x16xf32>, tensor<10x16xf32>, tensor<10xf32>
  %l = resnet.linear %f, %w, %b : tensor<3x16xf32>, tensor<10x16xf32>, tensor<10xf32>
  // CHECK: resnet.linear %[[F]], %{{.*}} : tensor<3x16xf32>, tensor<10x16xf32>
  %nobias = resnet.linear %f, %w : tensor<3x16xf32>, tensor<10x16xf32>
  // CHECK: resnet.softmax %[[L]] {axis = -1 : i64} : tensor<3x10xf32>
  %s = resnet.softmax %l {axis = -1 : i64} : tensor<3x10xf32>
  // CHECK: resnet.softmax_cross_entropy %[[L]], %{{.*}} : tensor<3x10xf32>, tensor<3xi32>
  %loss = resnet.softmax_cross_entropy %l, %labels : tensor<3x10xf32>, tensor<3xi32>
  return %s, %loss : tensor<3x10xf32>, tensor<f32>
}
