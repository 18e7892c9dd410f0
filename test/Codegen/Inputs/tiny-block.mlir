// A residual block with a batch norm and a classifier: small enough to
// compile in seconds, with every kind of op a ResNet trains through.
func.func @forward(%x: tensor<2x3x8x8xf32>) -> tensor<2x5xf32> {
  %w1 = resnet.param "conv1.weight" : tensor<4x3x3x3xf32>
  %c1 = resnet.conv2d %x, %w1 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x8x8xf32>, tensor<4x3x3x3xf32>
  %g = resnet.param "bn1.weight" : tensor<4xf32>
  %b = resnet.param "bn1.bias" : tensor<4xf32>
  %m = resnet.param "bn1.running_mean" : tensor<4xf32>
  %v = resnet.param "bn1.running_var" : tensor<4xf32>
  %n1 = resnet.batch_norm %c1, %g, %b, %m, %v : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  %r1 = resnet.relu %n1 : tensor<2x4x8x8xf32>
  %w2 = resnet.param "conv2.weight" : tensor<4x4x3x3xf32>
  %c2 = resnet.conv2d %r1, %w2 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x4x8x8xf32>, tensor<4x4x3x3xf32>
  %s = resnet.add %c2, %r1 : tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>
  %r2 = resnet.relu %s : tensor<2x4x8x8xf32>
  %p = resnet.global_avg_pool %r2 : tensor<2x4x8x8xf32>
  %f = resnet.flatten %p : tensor<2x4x1x1xf32>
  %fw = resnet.param "fc.weight" : tensor<5x4xf32>
  %fb = resnet.param "fc.bias" : tensor<5xf32>
  %y = resnet.linear %f, %fw, %fb : tensor<2x4xf32>, tensor<5x4xf32>, tensor<5xf32>
  return %y : tensor<2x5xf32>
}
