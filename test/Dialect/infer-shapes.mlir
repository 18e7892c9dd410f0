// RUN: resnet-opt %s --mlir-print-op-generic | FileCheck %s

// Result types inferred from operands and attributes, read off the generic
// form, which spells every type. Each case pins one shape rule.

// CHECK-LABEL: sym_name = "conv"
func.func @conv(%x: tensor<3x6x97x113xf32>, %w7: tensor<12x6x7x7xf32>,
                %wg: tensor<12x2x3x3xf32>) {
  // 7x7 stride 2 pad 3: floor((97 + 6 - 7) / 2) + 1 = 49, (113 + 6 - 7) / 2 + 1 = 57.
  // CHECK: "resnet.conv2d"{{.*}} -> tensor<3x12x49x57xf32>
  %0 = resnet.conv2d %x, %w7 {stride = array<i64: 2, 2>, padding = array<i64: 3, 3, 3, 3>} : tensor<3x6x97x113xf32>, tensor<12x6x7x7xf32>
  // Grouped, asymmetric padding, dilation 2: 97 + 0 + 1 - 5 + 1 = 94, 113 + 2 + 0 - 5 + 1 = 111.
  // CHECK: "resnet.conv2d"{{.*}} -> tensor<3x12x94x111xf32>
  %1 = resnet.conv2d %x, %wg {groups = 3 : i64, padding = array<i64: 0, 2, 1, 0>, dilation = array<i64: 2, 2>} : tensor<3x6x97x113xf32>, tensor<12x2x3x3xf32>
  return
}

// CHECK-LABEL: sym_name = "pools"
func.func @pools(%x: tensor<1x2x7x7xf32>) {
  // Floor mode: (7 + 0 - 2) / 2 + 1 = 3; ceil mode: ceil(5 / 2) + 1 = 4.
  // CHECK: "resnet.max_pool2d"{{.*}} -> tensor<1x2x3x3xf32>
  %0 = resnet.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<1x2x7x7xf32>
  // CHECK: "resnet.max_pool2d"{{.*}} -> tensor<1x2x4x4xf32>
  %1 = resnet.max_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true} : tensor<1x2x7x7xf32>
  // CHECK: "resnet.global_avg_pool"{{.*}} -> tensor<1x2x1x1xf32>
  %3 = resnet.global_avg_pool %x : tensor<1x2x7x7xf32>
  return
}

// CHECK-LABEL: sym_name = "ceil_drop"
func.func @ceil_drop(%x: tensor<1x2x5x5xf32>) {
  // Ceil mode drops a last window that would start in the trailing padding:
  // span 5 + 2 - 2 = 5, ceil(5 / 2) + 1 = 4, but window 3 starts at 6 >= 5 + 1.
  // CHECK: "resnet.avg_pool2d"{{.*}} -> tensor<1x2x3x3xf32>
  %0 = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, ceil_mode = true} : tensor<1x2x5x5xf32>
  // Without padding nothing is dropped: ceil((5 - 2) / 2) + 1 = 3 vs floor 2.
  // CHECK: "resnet.avg_pool2d"{{.*}} -> tensor<1x2x3x3xf32>
  %1 = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true} : tensor<1x2x5x5xf32>
  // CHECK: "resnet.avg_pool2d"{{.*}} -> tensor<1x2x2x2xf32>
  %2 = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>} : tensor<1x2x5x5xf32>
  return
}

// CHECK-LABEL: sym_name = "rest"
func.func @rest(%x: tensor<2x4x3x5xf32>, %l: tensor<2xi32>) {
  // CHECK: "resnet.flatten"{{.*}} -> tensor<2x60xf32>
  %0 = resnet.flatten %x : tensor<2x4x3x5xf32>
  // CHECK: "resnet.flatten"{{.*}} -> tensor<24x5xf32>
  %1 = resnet.flatten %x {axis = 3 : i64} : tensor<2x4x3x5xf32>
  // CHECK: "resnet.pad"{{.*}} -> tensor<2x10x3x5xf32>
  %2 = resnet.pad %x {low = array<i64: 0, 3, 0, 0>, high = array<i64: 0, 3, 0, 0>} : tensor<2x4x3x5xf32>
  %w = resnet.param "fc.weight" : tensor<7x60xf32>
  // CHECK: "resnet.linear"{{.*}} -> tensor<2x7xf32>
  %3 = resnet.linear %0, %w : tensor<2x60xf32>, tensor<7x60xf32>
  // CHECK: "resnet.softmax_cross_entropy"{{.*}} -> tensor<f32>
  %4 = resnet.softmax_cross_entropy %3, %l : tensor<2x7xf32>, tensor<2xi32>
  // CHECK: "resnet.batch_norm_train"{{.*}} -> (tensor<2x4x3x5xf32>, tensor<4xf32>, tensor<4xf32>)
  %g = resnet.param "bn.weight" : tensor<4xf32>
  %5:3 = resnet.batch_norm_train %x, %g, %g : tensor<2x4x3x5xf32>, tensor<4xf32>, tensor<4xf32>
  return
}
