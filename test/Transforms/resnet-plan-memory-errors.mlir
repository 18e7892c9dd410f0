// RUN: resnet-opt %s -resnet-plan-memory -split-input-file -verify-diagnostics

// Liveness is numbered over one block; a function with control flow is
// refused rather than planned wrongly.
// expected-error @+1 {{resnet-plan-memory expects a single-block function}}
func.func @two_blocks(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = resnet.relu %x : tensor<4xf32>
  return %r : tensor<4xf32>
^bb1(%y: tensor<4xf32>):
  return %y : tensor<4xf32>
}
