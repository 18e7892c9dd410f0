func.func @forward(%x: tensor<1x1x65536x32768xf32>) -> tensor<1x1xf32> {
  %p = resnet.global_avg_pool %x : tensor<1x1x65536x32768xf32>
  %f = resnet.flatten %p : tensor<1x1x1x1xf32>
  return %f : tensor<1x1xf32>
}
