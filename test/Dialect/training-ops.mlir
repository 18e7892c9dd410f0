// RUN: resnet-opt %s | resnet-opt | FileCheck %s
// RUN: resnet-opt %s --mlir-print-op-generic | resnet-opt | FileCheck %s

// The training ops (built by resnet-autodiff) print and parse back to
// themselves, in the custom and in the generic form.

// CHECK-LABEL: func.func @grads
func.func @grads(%x: tensor<2x4x9x9xf32>, %dy: tensor<2x8x5x5xf32>, %dl: tensor<2x10xf32>, %labels: tensor<2xi32>, %lr: tensor<f32>, %dy4: tensor<2x4x5x5xf32>) {
  // CHECK: resnet.param "conv.weight" {updated} : tensor<8x2x3x3xf32>
  %w = resnet.param "conv.weight" {updated} : tensor<8x2x3x3xf32>
  // CHECK: resnet.param "conv.weight.momentum_buffer" {optimizer_state, updated}
  %buf = resnet.param "conv.weight.momentum_buffer" {updated, optimizer_state} : tensor<8x2x3x3xf32>
  // CHECK: resnet.conv2d_grad_input %{{.*}}, %{{.*}}, %{{.*}} {groups = 2 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<2x8x5x5xf32>, tensor<8x2x3x3xf32>, tensor<2x4x9x9xf32>) -> tensor<2x4x9x9xf32>
  %dx = resnet.conv2d_grad_input %dy, %w, %x {groups = 2 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<2x8x5x5xf32>, tensor<8x2x3x3xf32>, tensor<2x4x9x9xf32>) -> tensor<2x4x9x9xf32>
  // CHECK: resnet.conv2d_grad_weight
  %dw = resnet.conv2d_grad_weight %x, %dy {groups = 2 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<2x4x9x9xf32>, tensor<2x8x5x5xf32>) -> tensor<8x2x3x3xf32>
  // CHECK: resnet.sgd_update {{.*}} {momentum = 9.000000e-01 : f64, nesterov, weight_decay = 1.000000e-04 : f64}
  %nw, %nb = resnet.sgd_update %w, %dw, %buf, %lr {momentum = 0.9 : f64, weight_decay = 1.0e-4 : f64, nesterov} : (tensor<8x2x3x3xf32>, tensor<8x2x3x3xf32>, tensor<8x2x3x3xf32>, tensor<f32>) -> (tensor<8x2x3x3xf32>, tensor<8x2x3x3xf32>)
  %g = resnet.param "bn.weight" : tensor<4xf32>
  %m = resnet.param "bn.running_mean" : tensor<4xf32>
  %v = resnet.param "bn.running_var" : tensor<4xf32>
  // CHECK: resnet.batch_norm_grad {{.*}} {training}
  %bx, %bg, %bb = resnet.batch_norm_grad %x, %x, %g, %m, %v, %x {training} : (tensor<2x4x9x9xf32>, tensor<2x4x9x9xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x4x9x9xf32>) -> (tensor<2x4x9x9xf32>, tensor<4xf32>, tensor<4xf32>)
  // CHECK: resnet.running_stats_update {{.*}} {count = 162 : i64, momentum = 1.000000e-01 : f64}
  %nm, %nv = resnet.running_stats_update %m, %v, %bg, %bb {count = 162 : i64, momentum = 0.1 : f64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  // CHECK: resnet.relu_grad
  %r = resnet.relu_grad %x, %x : (tensor<2x4x9x9xf32>, tensor<2x4x9x9xf32>) -> tensor<2x4x9x9xf32>
  // CHECK: resnet.max_pool2d_grad {{.*}} {ceil_mode = true, kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>}
  %mp = resnet.max_pool2d_grad %dy4, %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, ceil_mode = true} : (tensor<2x4x5x5xf32>, tensor<2x4x9x9xf32>) -> tensor<2x4x9x9xf32>
  // CHECK: resnet.avg_pool2d_grad
  %ap = resnet.avg_pool2d_grad %dy {kernel = array<i64: 1, 1>, stride = array<i64: 2, 2>} : (tensor<2x8x5x5xf32>) -> tensor<2x8x9x9xf32>
  %nm8 = resnet.param "x" : tensor<8xf32>
  // CHECK: resnet.reshape
  %nm4 = resnet.reshape %nm8 : (tensor<8xf32>) -> tensor<2x4x1x1xf32>
  // CHECK: resnet.global_avg_pool_grad
  %gp = resnet.global_avg_pool_grad %nm4 : (tensor<2x4x1x1xf32>) -> tensor<2x4x9x9xf32>
  // CHECK: resnet.softmax_cross_entropy_grad
  %dlog = resnet.softmax_cross_entropy_grad %dl, %labels : (tensor<2x10xf32>, tensor<2xi32>) -> tensor<2x10xf32>
  %fw = resnet.param "fc.weight" : tensor<10x6xf32>
  // CHECK: resnet.linear_grad_input
  %lx = resnet.linear_grad_input %dlog, %fw : (tensor<2x10xf32>, tensor<10x6xf32>) -> tensor<2x6xf32>
  // CHECK: resnet.linear_grad_weight
  %lw = resnet.linear_grad_weight %dlog, %lx : (tensor<2x10xf32>, tensor<2x6xf32>) -> tensor<10x6xf32>
  // CHECK: resnet.bias_grad
  %lb = resnet.bias_grad %dlog : (tensor<2x10xf32>) -> tensor<10xf32>
  // CHECK: resnet.pad_grad {{.*}} {high = array<i64: 0, 1, 0, 0>, low = array<i64: 0, 1, 0, 0>}
  %pg = resnet.pad_grad %x {low = array<i64: 0, 1, 0, 0>, high = array<i64: 0, 1, 0, 0>} : (tensor<2x4x9x9xf32>) -> tensor<2x2x9x9xf32>
  return
}
