func.func @forward(%x: tensor<2x3x8x8xf32>) -> tensor<2x4xf32> {
  %w = resnet.param "conv.weight" : tensor<4x3x3x3xf32>
  %g = resnet.param "bn.weight" : tensor<4xf32>
  %c = resnet.conv2d %x, %w : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  %y:3 = resnet.batch_norm_train %c, %g, %g : tensor<2x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>
  %p = resnet.global_avg_pool %y#0 : tensor<2x4x6x6xf32>
  %f = resnet.flatten %p : tensor<2x4x1x1xf32>
  return %f : tensor<2x4xf32>
}
