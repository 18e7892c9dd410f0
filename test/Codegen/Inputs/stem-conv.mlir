// A ResNet stem alone: its 3-channel NCHW image is copied zero-padded and
// channel-planar, in rows rounded up to whole vectors, into scratch memory
// that no other kernel of the model needs more of.
func.func @forward(%x: tensor<1x3x224x224xf32>) -> tensor<1x4xf32> {
  %w = resnet.param "conv.weight" : tensor<64x3x7x7xf32>
  %c = resnet.conv2d %x, %w {padding = array<i64: 3, 3, 3, 3>, stride = array<i64: 2, 2>} : tensor<1x3x224x224xf32>, tensor<64x3x7x7xf32>
  %r = resnet.relu %c : tensor<1x64x112x112xf32>
  %g = resnet.global_avg_pool %r : tensor<1x64x112x112xf32>
  %f = resnet.flatten %g : tensor<1x64x1x1xf32>
  %fw = resnet.param "fc.weight" : tensor<4x64xf32>
  %y = resnet.linear %f, %fw : tensor<1x64xf32>, tensor<4x64xf32>
  return %y : tensor<1x4xf32>
}
