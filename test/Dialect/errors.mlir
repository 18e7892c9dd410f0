// RUN: resnet-opt %s -split-input-file -verify-diagnostics

// Each case proves one verifier message.

// expected-error @+1 {{parameter name must not be empty}}
%w = resnet.param "" : tensor<4xf32>

// -----

// expected-error @+1 {{must be statically shaped tensor of 32-bit float values}}
%w = resnet.param "conv.weight" : tensor<4xi32>

// -----

func.func @conv_input_rank(%x: tensor<3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{input must be 4-D (NxCxHxW), got rank 3}}
  %y = resnet.conv2d %x, %w : tensor<3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_weight_rank(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3xf32>) {
  // expected-error @+1 {{weight must be 4-D (Ox(C/groups)xKHxKW), got rank 3}}
  %y = resnet.conv2d %x, %w : tensor<1x3x8x8xf32>, tensor<4x3x3xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x4x3x3xf32>) {
  // expected-error @+1 {{input has 3 channels but the weight expects 4 per group x 1 groups = 4}}
  %y = resnet.conv2d %x, %w : tensor<1x3x8x8xf32>, tensor<4x4x3x3xf32>
  return
}

// -----

func.func @conv_groups_channels(%x: tensor<1x64x8x8xf32>, %w: tensor<64x4x3x3xf32>) {
  // expected-error @+1 {{input has 64 channels but the weight expects 4 per group x 8 groups = 32}}
  %y = resnet.conv2d %x, %w {groups = 8 : i64} : tensor<1x64x8x8xf32>, tensor<64x4x3x3xf32>
  return
}

// -----

func.func @conv_groups_out(%x: tensor<1x8x8x8xf32>, %w: tensor<6x2x3x3xf32>) {
  // expected-error @+1 {{output channels (6) must be divisible by groups (4)}}
  %y = resnet.conv2d %x, %w {groups = 4 : i64} : tensor<1x8x8x8xf32>, tensor<6x2x3x3xf32>
  return
}

// -----

func.func @conv_groups_zero(%x: tensor<1x8x8x8xf32>, %w: tensor<8x8x3x3xf32>) {
  // expected-error @+1 {{groups must be positive, got 0}}
  %y = resnet.conv2d %x, %w {groups = 0 : i64} : tensor<1x8x8x8xf32>, tensor<8x8x3x3xf32>
  return
}

// -----

func.func @conv_bias(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{bias must have 4 elements (the output channels), got 3}}
  %y = resnet.conv2d %x, %w, %b : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @conv_stride(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{stride must be positive, got [0, 1]}}
  %y = resnet.conv2d %x, %w {stride = array<i64: 0, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_stride_size(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{stride must have 2 elements, got [2]}}
  %y = resnet.conv2d %x, %w {stride = array<i64: 2>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_padding_size(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{padding must have 4 elements [top, left, bottom, right], got [1, 1]}}
  %y = resnet.conv2d %x, %w {padding = array<i64: 1, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_padding_negative(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{padding must be non-negative, got [1, -1, 1, 1]}}
  %y = resnet.conv2d %x, %w {padding = array<i64: 1, -1, 1, 1>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_dilation(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{dilation must be positive, got [1, 0]}}
  %y = resnet.conv2d %x, %w {dilation = array<i64: 1, 0>} : tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_too_small(%x: tensor<1x3x4x4xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{window 3x3 (dilation [2, 2]) does not fit the padded input 4x4}}
  %y = resnet.conv2d %x, %w {dilation = array<i64: 2, 2>} : tensor<1x3x4x4xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_element_type(%x: tensor<1x3x8x8xf16>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{input must be a tensor of f32, got 'tensor<1x3x8x8xf16>'}}
  %y = resnet.conv2d %x, %w : tensor<1x3x8x8xf16>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_dynamic(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{input must be a statically shaped tensor, got 'tensor<?x3x8x8xf32>'}}
  %y = resnet.conv2d %x, %w : tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>
  return
}

// -----

func.func @conv_result_type(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // A spelled result type must be the inferred one.
  // expected-error @+2 {{'resnet.conv2d' op inferred type(s) 'tensor<1x4x6x6xf32>' are incompatible with return type(s) of operation 'tensor<1x4x8x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %y = "resnet.conv2d"(%x, %w) : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x8x8xf32>
  return
}

// -----

func.func @bn_weight(%x: tensor<1x4x8x8xf32>, %g: tensor<3xf32>, %v: tensor<4xf32>) {
  // expected-error @+1 {{weight must have 4 elements (one per channel), got 3}}
  %y = resnet.batch_norm %x, %g, %v, %v, %v : tensor<1x4x8x8xf32>, tensor<3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @bn_var_rank(%x: tensor<1x4x8x8xf32>, %v: tensor<4xf32>, %bad: tensor<4x1xf32>) {
  // expected-error @+1 {{running_var must have rank 1, got rank 2}}
  %y = resnet.batch_norm %x, %v, %v, %v, %bad : tensor<1x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x1xf32>
  return
}

// -----

func.func @bn_epsilon(%x: tensor<1x4x8x8xf32>, %v: tensor<4xf32>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %y = resnet.batch_norm %x, %v, %v, %v, %v {epsilon = 0.0 : f64} : tensor<1x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @bn_train_momentum(%x: tensor<2x4x8x8xf32>, %v: tensor<4xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1], got 1.5}}
  %y:3 = resnet.batch_norm_train %x, %v, %v {momentum = 1.5 : f64} : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @bn_train_bias(%x: tensor<2x4x8x8xf32>, %v: tensor<4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias must have 4 elements (one per channel), got 8}}
  %y:3 = resnet.batch_norm_train %x, %v, %b : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<8xf32>
  return
}

// -----

func.func @bn_train_residual(%x: tensor<2x4x8x8xf32>, %v: tensor<4xf32>, %r: tensor<2x4x4x4xf32>) {
  // expected-error @+1 {{residual must have the result's type 'tensor<2x4x8x8xf32>', got 'tensor<2x4x4x4xf32>'}}
  %y:3 = resnet.batch_norm_train %x, %v, %v residual %r {relu} : tensor<2x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x4x4x4xf32>
  return
}

// -----

func.func @add_shapes(%x: tensor<1x4x8x8xf32>, %y: tensor<1x4x4x4xf32>) {
  // expected-error @+1 {{operands must have the same shape (no broadcast), got [1, 4, 8, 8] and [1, 4, 4, 4]}}
  %z = resnet.add %x, %y : tensor<1x4x8x8xf32>, tensor<1x4x4x4xf32>
  return
}

// -----

func.func @relu_type(%x: tensor<1x4xi32>) {
  // expected-error @+1 {{input must be a tensor of f32, got 'tensor<1x4xi32>'}}
  %z = resnet.relu %x : tensor<1x4xi32>
  return
}

// -----

func.func @pad_size(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{low must have 4 elements (one per dimension), got [0, 2]}}
  %z = resnet.pad %x {low = array<i64: 0, 2>, high = array<i64: 0, 2, 0, 0>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @pad_negative(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{high must be non-negative, got [0, -2, 0, 0]}}
  %z = resnet.pad %x {low = array<i64: 0, 2, 0, 0>, high = array<i64: 0, -2, 0, 0>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @pad_missing(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{requires attributes 'low' and 'high'}}
  %z = resnet.pad %x {low = array<i64: 0, 2, 0, 0>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @flatten_axis(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{axis must be in [0, 4], got 5}}
  %z = resnet.flatten %x {axis = 5 : i64} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @maxpool_padding(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{padding [2, 2, 2, 2] must be at most half the effective kernel (3) on each side}}
  %z = resnet.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, padding = array<i64: 2, 2, 2, 2>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @maxpool_missing_kernel(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{requires attributes 'kernel' and 'stride'}}
  %z = resnet.max_pool2d %x {stride = array<i64: 2, 2>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @maxpool_kernel(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{kernel must be positive, got [3, 0]}}
  %z = resnet.max_pool2d %x {kernel = array<i64: 3, 0>, stride = array<i64: 2, 2>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @maxpool_too_small(%x: tensor<1x4x2x2xf32>) {
  // expected-error @+1 {{window 3x3 (dilation [1, 1]) does not fit the padded input 2x2}}
  %z = resnet.max_pool2d %x {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>} : tensor<1x4x2x2xf32>
  return
}

// -----

func.func @avgpool_stride(%x: tensor<1x4x8x8xf32>) {
  // expected-error @+1 {{stride must have 2 elements, got [2, 2, 2]}}
  %z = resnet.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2, 2>} : tensor<1x4x8x8xf32>
  return
}

// -----

func.func @global_pool_rank(%x: tensor<1x4xf32>) {
  // expected-error @+1 {{input must be 4-D (NxCxHxW), got rank 2}}
  %z = resnet.global_avg_pool %x : tensor<1x4xf32>
  return
}

// -----

func.func @linear_features(%x: tensor<2x16xf32>, %w: tensor<10x32xf32>) {
  // expected-error @+1 {{input has 16 features but the weight expects 32}}
  %z = resnet.linear %x, %w : tensor<2x16xf32>, tensor<10x32xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<2x16xf32>, %w: tensor<10x16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{bias must have 10 elements (the output features), got 16}}
  %z = resnet.linear %x, %w, %b : tensor<2x16xf32>, tensor<10x16xf32>, tensor<16xf32>
  return
}

// -----

func.func @linear_rank(%x: tensor<2x16x1x1xf32>, %w: tensor<10x16xf32>) {
  // expected-error @+1 {{input must be 2-D (NxK), got rank 4}}
  %z = resnet.linear %x, %w : tensor<2x16x1x1xf32>, tensor<10x16xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<2x10xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %z = resnet.softmax %x {axis = 2 : i64} : tensor<2x10xf32>
  return
}

// -----

func.func @loss_labels_type(%x: tensor<2x10xf32>, %l: tensor<2xf32>) {
  // expected-error @+1 {{labels must be a 1-D tensor of i32 class indices, got 'tensor<2xf32>'}}
  %z = resnet.softmax_cross_entropy %x, %l : tensor<2x10xf32>, tensor<2xf32>
  return
}

// -----

func.func @loss_labels_count(%x: tensor<2x10xf32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{labels must have one entry per batch row (2), got 3}}
  %z = resnet.softmax_cross_entropy %x, %l : tensor<2x10xf32>, tensor<3xi32>
  return
}

// -----

// The gradient of a strided convolution must fit the forward shapes.
func.func @conv_grad_input(%dy: tensor<1x8x5x5xf32>, %w: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{dy must have the forward result's shape [1, 8, 4, 4], got [1, 8, 5, 5]}}
  %dx = resnet.conv2d_grad_input %dy, %w {stride = array<i64: 2, 2>} : (tensor<1x8x5x5xf32>, tensor<8x4x3x3xf32>) -> tensor<1x4x9x9xf32>
  return
}

// -----

func.func @conv_grad_weight(%x: tensor<1x4x9x9xf32>, %dy: tensor<1x8x7x7xf32>) {
  // expected-error @+1 {{input has 4 channels but the weight expects 3 per group}}
  %dw = resnet.conv2d_grad_weight %x, %dy : (tensor<1x4x9x9xf32>, tensor<1x8x7x7xf32>) -> tensor<8x3x3x3xf32>
  return
}

// -----

func.func @bn_grad(%x: tensor<1x4x3x3xf32>, %c: tensor<4xf32>, %c5: tensor<5xf32>) {
  // expected-error @+1 {{weight, mean and var must have 4 elements (one per channel), got 5}}
  %a, %b, %d = resnet.batch_norm_grad %x, %x, %c, %c5, %c : (tensor<1x4x3x3xf32>, tensor<1x4x3x3xf32>, tensor<4xf32>, tensor<5xf32>, tensor<4xf32>) -> (tensor<1x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @stats(%c: tensor<4xf32>) {
  // expected-error @+1 {{count must be at least 2}}
  %a, %b = resnet.running_stats_update %c, %c, %c, %c {momentum = 0.1 : f64, count = 1 : i64} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @sgd(%p: tensor<4xf32>, %lr: tensor<1xf32>) {
  // expected-error @+1 {{lr must be a 0-D tensor}}
  %a, %b = resnet.sgd_update %p, %p, %p, %lr : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<1xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @nesterov(%p: tensor<4xf32>, %lr: tensor<f32>) {
  // expected-error @+1 {{nesterov needs a positive momentum}}
  %a, %b = resnet.sgd_update %p, %p, %p, %lr {nesterov} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<f32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @pad_grad(%dy: tensor<1x8x3x3xf32>) {
  // expected-error @+1 {{dinput [1, 5, 3, 3] padded by low [0, 2, 0, 0] and high [0, 2, 0, 0] must give dy [1, 8, 3, 3]}}
  %dx = resnet.pad_grad %dy {low = array<i64: 0, 2, 0, 0>, high = array<i64: 0, 2, 0, 0>} : (tensor<1x8x3x3xf32>) -> tensor<1x5x3x3xf32>
  return
}

// -----

func.func @reshape(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{cannot reshape 6 elements to [7]}}
  %y = resnet.reshape %x : (tensor<2x3xf32>) -> tensor<7xf32>
  return
}

// -----

func.func @ce_grad(%l: tensor<2x10xf32>, %y: tensor<3xi32>) {
  // expected-error @+1 {{labels must have one entry per batch row (2), got 3}}
  %d = resnet.softmax_cross_entropy_grad %l, %y : (tensor<2x10xf32>, tensor<3xi32>) -> tensor<2x10xf32>
  return
}
