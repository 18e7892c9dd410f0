// The head's weight is also read elsewhere: changing its shape would break
// that use.
func.func @forward(%x: tensor<2x6xf32>) -> tensor<2x5xf32> {
  %w = resnet.param "fc.weight" : tensor<5x6xf32>
  %l = resnet.linear %x, %w : tensor<2x6xf32>, tensor<5x6xf32>
  %w2 = resnet.param "fc.weight" : tensor<5x6xf32>
  %r = resnet.relu %w2 : tensor<5x6xf32>
  return %l : tensor<2x5xf32>
}
