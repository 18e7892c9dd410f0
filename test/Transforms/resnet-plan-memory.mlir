// RUN: resnet-opt %s -resnet-plan-memory -split-input-file | FileCheck %s

// Offsets below are derived by hand. Op indices count every op of the body
// (params and the return included); a buffer lives over [def, last use] and
// takes its bytes rounded up to 64. Placement: largest first (ties in
// definition order), each at the smallest gap among the placed buffers it
// is alive with, else above the highest of them.

// A chain: c can take a's slot because a dies where b is defined.
// a=[0,1] b=[1,2] c=[2,3] d=[3,4], 64 B each (16 f32).
// a@0; b alive with a -> 64; c alive with b only -> gap [0,64) -> 0;
// d alive with c only -> gap [64,...) above c -> 64. Peak at op 1: a+b.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: attributes {resnet.arena_peak = 128 : i64, resnet.arena_size = 128 : i64}
func.func @chain(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  // CHECK: %[[A:.*]] = resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 0>}
  %a = resnet.relu %x : tensor<1x4x2x2xf32>
  // CHECK: %[[B:.*]] = resnet.relu %[[A]] {resnet.arena_offsets = array<i64: 64>}
  %b = resnet.relu %a : tensor<1x4x2x2xf32>
  // CHECK: %[[C:.*]] = resnet.relu %[[B]] {resnet.arena_offsets = array<i64: 0>}
  %c = resnet.relu %b : tensor<1x4x2x2xf32>
  // CHECK: resnet.relu %[[C]] {resnet.arena_offsets = array<i64: 64>}
  %d = resnet.relu %c : tensor<1x4x2x2xf32>
  return %d : tensor<1x4x2x2xf32>
}

// -----

// A 3-element tensor (12 B) takes a whole 64-byte slot.
// a=[0,1]@0, b=[1,2] alive with a -> 64; arena 2 * 64.
// CHECK-LABEL: func.func @alignment
// CHECK-SAME: attributes {resnet.arena_peak = 128 : i64, resnet.arena_size = 128 : i64}
func.func @alignment(%x: tensor<3xf32>) -> tensor<3xf32> {
  // CHECK: resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 0>}
  %a = resnet.relu %x : tensor<3xf32>
  // CHECK: resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 64>}
  %b = resnet.relu %a : tensor<3xf32>
  return %b : tensor<3xf32>
}

// -----

// A residual keeps its slot across the chain: unlike @chain, c cannot
// reuse a's slot, and the add lands in b's.
// a=[0,3] b=[1,2] c=[2,3] d=[3,4], 64 B each.
// a@0; b alive with a -> 64; c alive with a and b -> 128;
// d alive with a@0 and c@128 (not b) -> gap [64,128) -> 64.
// Peak at op 2: a+b+c.
// CHECK-LABEL: func.func @residual
// CHECK-SAME: attributes {resnet.arena_peak = 192 : i64, resnet.arena_size = 192 : i64}
func.func @residual(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  // CHECK: %[[A:.*]] = resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 0>}
  %a = resnet.relu %x : tensor<1x4x2x2xf32>
  // CHECK: %[[B:.*]] = resnet.relu %[[A]] {resnet.arena_offsets = array<i64: 64>}
  %b = resnet.relu %a : tensor<1x4x2x2xf32>
  // CHECK: %[[C:.*]] = resnet.relu %[[B]] {resnet.arena_offsets = array<i64: 128>}
  %c = resnet.relu %b : tensor<1x4x2x2xf32>
  // CHECK: resnet.add %[[C]], %[[A]] {resnet.arena_offsets = array<i64: 64>}
  %d = resnet.add %c, %a : tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>
  return %d : tensor<1x4x2x2xf32>
}

// -----

// Params get no offsets (they live with the weights) but count as ops;
// an @init function is left alone, and a function without buffers has an
// empty arena.
// y=[1,2] (64 B) @0; r=[2,3] alive with y -> 64.
// CHECK-LABEL: func.func @params
// CHECK-SAME: attributes {resnet.arena_peak = 128 : i64, resnet.arena_size = 128 : i64}
func.func @params(%x: tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> {
  // CHECK: %[[W:.*]] = resnet.param "conv.weight" : tensor<4x4x1x1xf32>
  %w = resnet.param "conv.weight" : tensor<4x4x1x1xf32>
  // CHECK: %[[Y:.*]] = resnet.conv2d %{{.*}}, %[[W]] {resnet.arena_offsets = array<i64: 0>}
  %y = resnet.conv2d %x, %w : tensor<1x4x2x2xf32>, tensor<4x4x1x1xf32>
  // CHECK: resnet.relu %[[Y]] {resnet.arena_offsets = array<i64: 64>}
  %r = resnet.relu %y : tensor<1x4x2x2xf32>
  return %r : tensor<1x4x2x2xf32>
}

// CHECK-LABEL: func.func @init()
// CHECK-NOT: resnet.arena
// CHECK: return
func.func @init() -> tensor<4xf32> {
  %w = resnet.param "w" : tensor<4xf32>
  %r = resnet.relu %w : tensor<4xf32>
  return %r : tensor<4xf32>
}

// CHECK-LABEL: func.func @no_buffers
// CHECK-SAME: attributes {resnet.arena_peak = 0 : i64, resnet.arena_size = 0 : i64}
// CHECK: resnet.param "w" : tensor<4xf32>
func.func @no_buffers() -> tensor<4xf32> {
  %w = resnet.param "w" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// A returned value keeps its slot to the end: a has no user but the return,
// so it lives over [0,3], and b cannot take its slot.
// a=[0,3] b=[1,2] c=[2,3], 64 B each: a@0; b alive with a -> 64;
// c alive with a and b -> 128.
// CHECK-LABEL: func.func @returned
// CHECK-SAME: attributes {resnet.arena_peak = 192 : i64, resnet.arena_size = 192 : i64}
func.func @returned(%x: tensor<1x4x2x2xf32>) -> (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) {
  // CHECK: resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 0>}
  %a = resnet.relu %x : tensor<1x4x2x2xf32>
  // CHECK: resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 64>}
  %b = resnet.relu %x : tensor<1x4x2x2xf32>
  // CHECK: resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 128>}
  %c = resnet.relu %b : tensor<1x4x2x2xf32>
  return %a, %c : tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>
}

// -----

// Largest first, and one offset per result: the 256-byte output of
// batch_norm_train goes to 0 though the 64-byte relu before it is defined
// first. r=[0,2] (4 f32 -> 64 B); y#0=[1,2] (64 f32, 256 B), y#1 and
// y#2=[1,2] (4 f32 -> 64 B each).
// y#0@0; r alive with y#0 -> 256; y#1 alive with y#0 and r -> 320;
// y#2 alive with y#0, r, y#1 -> 384. Peak at op 1: everything.
// CHECK-LABEL: func.func @largest_first
// CHECK-SAME: attributes {resnet.arena_peak = 448 : i64, resnet.arena_size = 448 : i64}
func.func @largest_first(%s: tensor<4xf32>, %x: tensor<1x4x4x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xf32>, tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>) {
  // CHECK: resnet.relu %{{.*}} {resnet.arena_offsets = array<i64: 256>}
  %r = resnet.relu %s : tensor<4xf32>
  // CHECK: resnet.batch_norm_train %{{.*}}, %{{.*}}, %{{.*}} {resnet.arena_offsets = array<i64: 0, 320, 384>}
  %y:3 = resnet.batch_norm_train %x, %g, %b : tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>
  return %r, %y#0, %y#1, %y#2 : tensor<4xf32>, tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>
}

// -----

// Best fit, not first fit: e is alive with b@128 and d@256 only, leaving
// gaps [0,128) and [192,256); it takes the smaller one.
// ops: 0 v, 1 w (params); a=[2,5] (2x4x4 f32, 128 B); b=[3,6], c=[4,5],
// d=[5,6], e=[6,7] (64 B each).
// a@0; b alive with a -> 128; c alive with a, b -> 192;
// d alive with a, b, c -> 256; e alive with b, d -> 192 (first fit: 0).
// Peak at op 5: a+b+c+d = 128+3*64.
// CHECK-LABEL: func.func @best_fit
// CHECK-SAME: attributes {resnet.arena_peak = 320 : i64, resnet.arena_size = 320 : i64}
func.func @best_fit(%x: tensor<1x1x4x4xf32>) -> tensor<1x1x4x4xf32> {
  %v = resnet.param "v" : tensor<2x1x1x1xf32>
  %w = resnet.param "w" : tensor<1x2x1x1xf32>
  // CHECK: %[[A:.*]] = resnet.conv2d %{{.*}}, %{{.*}} {resnet.arena_offsets = array<i64: 0>}
  %a = resnet.conv2d %x, %v : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>
  // CHECK: %[[B:.*]] = resnet.conv2d %[[A]], %{{.*}} {resnet.arena_offsets = array<i64: 128>}
  %b = resnet.conv2d %a, %w : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>
  // CHECK: %[[C:.*]] = resnet.relu %[[B]] {resnet.arena_offsets = array<i64: 192>}
  %c = resnet.relu %b : tensor<1x1x4x4xf32>
  // CHECK: %[[D:.*]] = resnet.fused_conv2d %[[A]], %{{.*}} residual %[[C]] {resnet.arena_offsets = array<i64: 256>}
  %d = resnet.fused_conv2d %a, %w residual %c : tensor<1x2x4x4xf32>, tensor<1x2x1x1xf32>, tensor<1x1x4x4xf32>
  // CHECK: resnet.add %[[B]], %[[D]] {resnet.arena_offsets = array<i64: 192>}
  %e = resnet.add %b, %d : tensor<1x1x4x4xf32>, tensor<1x1x4x4xf32>
  return %e : tensor<1x1x4x4xf32>
}
