// Two branches: one that the plan keeps channel-blocked (NCHW16c) from
// the stem to the global pool (a padded stem reading NCHW images, a max
// pool, a residual block, a pointwise and a strided convolution), and one
// that stays NCHW (8 channels, not whole blocks of 16, then a grouped
// convolution, then a residual block on the grouped one's NCHW result).
// Odd image sizes exercise the tails of the tiles.
func.func @forward(%x: tensor<2x3x13x11xf32>) -> tensor<2x5xf32> {
  %w0 = resnet.param "w0" : tensor<32x3x3x3xf32>
  %b0 = resnet.param "b0" : tensor<32xf32>
  %c0 = resnet.conv2d %x, %w0, %b0 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x13x11xf32>, tensor<32x3x3x3xf32>, tensor<32xf32>
  %a = resnet.relu %c0 : tensor<2x32x13x11xf32>
  %p = resnet.max_pool2d %a {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : tensor<2x32x13x11xf32>
  %w1 = resnet.param "w1" : tensor<32x32x3x3xf32>
  %c1 = resnet.conv2d %p, %w1 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x32x7x6xf32>, tensor<32x32x3x3xf32>
  %r1 = resnet.relu %c1 : tensor<2x32x7x6xf32>
  %w2 = resnet.param "w2" : tensor<32x32x3x3xf32>
  %c2 = resnet.conv2d %r1, %w2 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x32x7x6xf32>, tensor<32x32x3x3xf32>
  %s2 = resnet.add %c2, %p : tensor<2x32x7x6xf32>, tensor<2x32x7x6xf32>
  %r2 = resnet.relu %s2 : tensor<2x32x7x6xf32>
  %w3 = resnet.param "w3" : tensor<64x32x1x1xf32>
  %c3 = resnet.conv2d %r2, %w3 : tensor<2x32x7x6xf32>, tensor<64x32x1x1xf32>
  %r3 = resnet.relu %c3 : tensor<2x64x7x6xf32>
  %w4 = resnet.param "w4" : tensor<48x64x3x3xf32>
  %c4 = resnet.conv2d %r3, %w4 {padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<2x64x7x6xf32>, tensor<48x64x3x3xf32>
  %r4 = resnet.relu %c4 : tensor<2x48x4x3xf32>
  %g1 = resnet.global_avg_pool %r4 : tensor<2x48x4x3xf32>
  %f1 = resnet.flatten %g1 : tensor<2x48x1x1xf32>
  %fw1 = resnet.param "fc1.weight" : tensor<5x48xf32>
  %y1 = resnet.linear %f1, %fw1 : tensor<2x48xf32>, tensor<5x48xf32>
  %w5 = resnet.param "w5" : tensor<8x3x3x3xf32>
  %c5 = resnet.conv2d %x, %w5 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x3x13x11xf32>, tensor<8x3x3x3xf32>
  %r5 = resnet.relu %c5 : tensor<2x8x13x11xf32>
  %w6 = resnet.param "w6" : tensor<16x4x3x3xf32>
  %c6 = resnet.conv2d %r5, %w6 {groups = 2 : i64} : tensor<2x8x13x11xf32>, tensor<16x4x3x3xf32>
  %w7 = resnet.param "w7" : tensor<16x16x3x3xf32>
  %c7 = resnet.conv2d %c6, %w7 {padding = array<i64: 1, 1, 1, 1>} : tensor<2x16x11x9xf32>, tensor<16x16x3x3xf32>
  %s7 = resnet.add %c7, %c6 : tensor<2x16x11x9xf32>, tensor<2x16x11x9xf32>
  %r7 = resnet.relu %s7 : tensor<2x16x11x9xf32>
  %g2 = resnet.global_avg_pool %r7 : tensor<2x16x11x9xf32>
  %f2 = resnet.flatten %g2 : tensor<2x16x1x1xf32>
  %fw2 = resnet.param "fc2.weight" : tensor<5x16xf32>
  %y2 = resnet.linear %f2, %fw2 : tensor<2x16xf32>, tensor<5x16xf32>
  %y = resnet.add %y1, %y2 : tensor<2x5xf32>, tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}
