// @forward returns pooled features: there is no linear head to replace.
func.func @forward(%x: tensor<2x3x4x4xf32>) -> tensor<2x3xf32> {
  %p = resnet.global_avg_pool %x : tensor<2x3x4x4xf32>
  %f = resnet.flatten %p : tensor<2x3x1x1xf32>
  return %f : tensor<2x3xf32>
}
