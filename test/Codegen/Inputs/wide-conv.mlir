// One convolution whose padded input band (512 channels x 3 rows x 202
// columns, 1.2 MB) is far over a kernel's 16 KB of stack.
func.func @forward(%x: tensor<1x512x8x200xf32>) -> tensor<1x4xf32> {
  %w = resnet.param "conv.weight" : tensor<8x512x3x3xf32>
  %b = resnet.param "conv.bias" : tensor<8xf32>
  %c = resnet.conv2d %x, %w, %b {padding = array<i64: 1, 1, 1, 1>} : tensor<1x512x8x200xf32>, tensor<8x512x3x3xf32>, tensor<8xf32>
  %p = resnet.global_avg_pool %c : tensor<1x8x8x200xf32>
  %f = resnet.flatten %p : tensor<1x8x1x1xf32>
  %fw = resnet.param "fc.weight" : tensor<4x8xf32>
  %l = resnet.linear %f, %fw : tensor<1x8xf32>, tensor<4x8xf32>
  return %l : tensor<1x4xf32>
}
