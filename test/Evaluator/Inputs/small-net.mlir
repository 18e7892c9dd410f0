// A small residual network with every op of an inference ResNet (@forward),
// and a training-style head with batch statistics, average pooling, channel
// padding, softmax and the loss (@loss). small_net.py holds its weights and
// its numpy twin.
func.func @forward(%x: tensor<2x4x9x9xf32>) -> tensor<2x5xf32> {
  // Grouped, strided, padded stem: 2x8x5x5.
  %w1 = resnet.param "conv1.weight" : tensor<8x2x3x3xf32>
  %c1 = resnet.conv2d %x, %w1 {groups = 2 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x9x9xf32>, tensor<8x2x3x3xf32>
  %g1 = resnet.param "bn1.weight" : tensor<8xf32>
  %b1 = resnet.param "bn1.bias" : tensor<8xf32>
  %m1 = resnet.param "bn1.running_mean" : tensor<8xf32>
  %v1 = resnet.param "bn1.running_var" : tensor<8xf32>
  %n1 = resnet.batch_norm %c1, %g1, %b1, %m1, %v1 : tensor<2x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  %r1 = resnet.relu %n1 : tensor<2x8x5x5xf32>
  // A residual block: conv (with bias, asymmetric padding) + bn + add.
  %w2 = resnet.param "conv2.weight" : tensor<8x8x3x2xf32>
  %cb2 = resnet.param "conv2.bias" : tensor<8xf32>
  %c2 = resnet.conv2d %r1, %w2, %cb2 {padding = array<i64: 1, 1, 1, 0>} : tensor<2x8x5x5xf32>, tensor<8x8x3x2xf32>, tensor<8xf32>
  %g2 = resnet.param "bn2.weight" : tensor<8xf32>
  %b2 = resnet.param "bn2.bias" : tensor<8xf32>
  %m2 = resnet.param "bn2.running_mean" : tensor<8xf32>
  %v2 = resnet.param "bn2.running_var" : tensor<8xf32>
  %n2 = resnet.batch_norm %c2, %g2, %b2, %m2, %v2 {epsilon = 1.0e-3 : f64} : tensor<2x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  %a = resnet.add %n2, %r1 : tensor<2x8x5x5xf32>, tensor<2x8x5x5xf32>
  %r2 = resnet.relu %a : tensor<2x8x5x5xf32>
  // Pooling and the classifier: 2x8x3x3, 2x8x1x1, 2x8, 2x5.
  %mp = resnet.max_pool2d %r2 {kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<2x8x5x5xf32>
  %gp = resnet.global_avg_pool %mp : tensor<2x8x3x3xf32>
  %f = resnet.flatten %gp : tensor<2x8x1x1xf32>
  %fw = resnet.param "fc.weight" : tensor<5x8xf32>
  %fb = resnet.param "fc.bias" : tensor<5xf32>
  %y = resnet.linear %f, %fw, %fb : tensor<2x8xf32>, tensor<5x8xf32>, tensor<5xf32>
  return %y : tensor<2x5xf32>
}

func.func @loss(%x: tensor<2x4x9x9xf32>, %labels: tensor<2xi32>) -> (tensor<2x5xf32>, tensor<f32>) {
  %w1 = resnet.param "conv1.weight" : tensor<8x2x3x3xf32>
  %c1 = resnet.conv2d %x, %w1 {groups = 2 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : tensor<2x4x9x9xf32>, tensor<8x2x3x3xf32>
  %g1 = resnet.param "bn1.weight" : tensor<8xf32>
  %b1 = resnet.param "bn1.bias" : tensor<8xf32>
  %n:3 = resnet.batch_norm_train %c1, %g1, %b1 : tensor<2x8x5x5xf32>, tensor<8xf32>, tensor<8xf32>
  %r = resnet.relu %n#0 : tensor<2x8x5x5xf32>
  // Ceil mode: windows at 0, 2, 4; the last holds one row and column.
  %ap = resnet.avg_pool2d %r {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, ceil_mode = true, count_include_pad = false} : tensor<2x8x5x5xf32>
  %p = resnet.pad %ap {low = array<i64: 0, 2, 0, 0>, high = array<i64: 0, 2, 0, 0>} : tensor<2x8x3x3xf32>
  %gp = resnet.global_avg_pool %p : tensor<2x12x3x3xf32>
  %f = resnet.flatten %gp : tensor<2x12x1x1xf32>
  %hw = resnet.param "head.weight" : tensor<5x12xf32>
  %l = resnet.linear %f, %hw : tensor<2x12xf32>, tensor<5x12xf32>
  %s = resnet.softmax %l {axis = -1 : i64} : tensor<2x5xf32>
  %loss = resnet.softmax_cross_entropy %l, %labels : tensor<2x5xf32>, tensor<2xi32>
  return %s, %loss : tensor<2x5xf32>, tensor<f32>
}
