// RUN: resnet-opt %s -resnet-hoist-weight-prep -split-input-file | FileCheck %s

// The fold of a batch norm reads parameters only: it moves into @init,
// which returns the prepared values by name; @forward reads them back as
// prepared parameters. The parameters only the fold read leave @forward.
// CHECK-LABEL: func.func @init()
// CHECK-SAME: -> (tensor<4x3x3x3xf32> {resnet.name = "conv.weight.fold_batch_norm.0"}, tensor<4xf32> {resnet.name = "conv.weight.fold_batch_norm.1"})
// CHECK-DAG: %[[W:.*]] = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
// CHECK-DAG: %[[G:.*]] = resnet.param "bn.weight" : tensor<4xf32>
// CHECK: %[[FW:.*]], %[[FB:.*]] = resnet.fold_batch_norm %[[W]], %[[G]], %[[G]], %[[G]], %[[G]]
// CHECK: return %[[FW]], %[[FB]]
// CHECK-LABEL: func.func @forward
// CHECK-NOT: resnet.param "conv.weight" :
// CHECK-NOT: resnet.param "bn.weight"
// CHECK-NOT: fold_batch_norm
// CHECK-DAG: %[[PW:.*]] = resnet.param "conv.weight.fold_batch_norm.0" {prepared} : tensor<4x3x3x3xf32>
// CHECK-DAG: %[[PB:.*]] = resnet.param "conv.weight.fold_batch_norm.1" {prepared} : tensor<4xf32>
// CHECK: resnet.conv2d %{{.*}}, %[[PW]], %[[PB]]
// Parameters used directly stay in @forward.
// CHECK: resnet.param "fc.weight" : tensor<2x4xf32>
func.func @forward(%x: tensor<1x3x8x8xf32>) -> tensor<1x2xf32> {
  %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
  %g = resnet.param "bn.weight" : tensor<4xf32>
  %fw, %fb = resnet.fold_batch_norm %w, %g, %g, %g, %g : tensor<4x3x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %c = resnet.conv2d %x, %fw, %fb : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>
  %p = resnet.global_avg_pool %c : tensor<1x4x6x6xf32>
  %f = resnet.flatten %p : tensor<1x4x1x1xf32>
  %lw = resnet.param "fc.weight" : tensor<2x4xf32>
  %l = resnet.linear %f, %lw : tensor<1x4xf32>, tensor<2x4xf32>
  return %l : tensor<1x2xf32>
}

// -----

// Nothing to hoist: @forward is unchanged and @init is empty.
// CHECK-LABEL: func.func @init() {
// CHECK-NEXT: return
// CHECK-LABEL: func.func @forward
// CHECK-NEXT: resnet.param "conv.weight" : tensor<4x3x3x3xf32>
// CHECK-NEXT: resnet.conv2d
func.func @forward(%x: tensor<1x3x8x8xf32>) -> tensor<1x4x6x6xf32> {
  %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
  %c = resnet.conv2d %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  return %c : tensor<1x4x6x6xf32>
}

// -----

// An op mixing a parameter with an activation is not weight preparation.
// CHECK-LABEL: func.func @forward
// CHECK: %[[W:.*]] = resnet.param "w" : tensor<1x4x6x6xf32>
// CHECK: resnet.add %{{.*}}, %[[W]]
func.func @forward(%x: tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32> {
  %w = resnet.param "w" : tensor<1x4x6x6xf32>
  %a = resnet.add %x, %w : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf32>
  return %a : tensor<1x4x6x6xf32>
}

// -----

// A chain of preparations moves whole; only its final value is returned,
// and an existing @init keeps its results and names.
// CHECK-LABEL: func.func @init()
// CHECK-SAME: -> (tensor<2xf32> {resnet.name = "old"}, tensor<2xf32> {resnet.name = "a.add"})
// CHECK: %[[A:.*]] = resnet.param "a"
// CHECK: %[[R:.*]] = resnet.relu %[[A]]
// CHECK: %[[S:.*]] = resnet.add %[[R]], %[[A]]
// CHECK: return %{{.*}}, %[[S]]
// CHECK-LABEL: func.func @forward
// CHECK: resnet.param "a.add" {prepared}
func.func @init() -> (tensor<2xf32> {resnet.name = "old"}) {
  %o = resnet.param "o" : tensor<2xf32>
  return %o : tensor<2xf32>
}
func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %a = resnet.param "a" : tensor<2xf32>
  %r = resnet.relu %a : tensor<2xf32>
  %s = resnet.add %r, %a : tensor<2xf32>, tensor<2xf32>
  %w = resnet.param "fc.weight" : tensor<2x2xf32>
  %l = resnet.linear %x, %w, %s : tensor<1x2xf32>, tensor<2x2xf32>, tensor<2xf32>
  return %l : tensor<1x2xf32>
}
