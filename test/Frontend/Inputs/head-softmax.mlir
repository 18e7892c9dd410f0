// A classifier whose head is not named fc and is followed by a softmax.
func.func @forward(%x: tensor<2x3x4x4xf32>) -> tensor<2x5xf32> {
  %w = resnet.param "stem.weight" : tensor<6x3x1x1xf32>
  %c = resnet.conv2d %x, %w : tensor<2x3x4x4xf32>, tensor<6x3x1x1xf32>
  %p = resnet.global_avg_pool %c : tensor<2x6x4x4xf32>
  %f = resnet.flatten %p : tensor<2x6x1x1xf32>
  %hw = resnet.param "classifier.weight" : tensor<5x6xf32>
  %hb = resnet.param "classifier.bias" : tensor<5xf32>
  %l = resnet.linear %f, %hw, %hb : tensor<2x6xf32>, tensor<5x6xf32>, tensor<5xf32>
  %s = resnet.softmax %l : tensor<2x5xf32>
  return %s : tensor<2x5xf32>
}
