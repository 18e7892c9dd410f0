//===- Algorithms.h - Halide algorithms of resnetc's kernels ----*- C++ -*-===//
//
// What each kernel computes, as pure Halide Funcs, apart from how
// (schedules/cpu, schedules/cuda). Activations are NCHW; a Halide Func
// indexes them innermost first: (x, y, c, n). Matrices [N, K] are (k, n).
// Channel-blocked activations (NCHW16c, KernelSpec.h) are indexed
// (lane, x, y, c, n): lane the channel within block c.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_SCHEDULES_ALGORITHMS_H
#define RESNETC_SCHEDULES_ALGORITHMS_H

#include "schedules/KernelSpec.h"

#include "Halide.h"

#include <vector>

namespace resnetc {
namespace algorithms {

/// A per-channel sum over (x, y, n) of an activation, in two stages so a
/// schedule can vectorize along its contiguous dimension: of an NCHW one,
/// `partial(x, c)` sums each column over y and n and `total(c)` the
/// columns; of a channel-blocked one, `partial(lane, block, n)` sums each
/// image's pixels and `total(c)` the images. Tuple-valued where one pass
/// computes several sums.
struct ChannelSum {
  Halide::Func partial, total;
};

/// The Funcs of a kernel that a schedule refers to, and its arguments in
/// the order the compiled function takes them (inputs, then the outputs).
struct KernelFuncs {
  /// The first (often only) result.
  Halide::Func output;
  /// Every result Func in result order, `output` first. A Tuple-valued Func
  /// stands for as many consecutive results as it has elements: kernels
  /// whose results alias their inputs (in-place updates) compute them all
  /// in one Tuple, so that each element is read before any is written.
  std::vector<Halide::Func> outputs;
  /// The reduction stage where there is one (convolution, linear, pools).
  Halide::Func reduction;
  /// The padded input of a convolution or pool, when it pads.
  Halide::Func padded;
  /// A second reduction stage (softmax's running maximum, the per-channel
  /// partial sums of a batch statistic).
  Halide::Func auxiliary;
  /// Batch statistics and bias gradients, in definition order.
  std::vector<ChannelSum> channelSums;
  /// An operand copied into another layout first (a weight gradient's dy,
  /// channels innermost).
  Halide::Func staged;
  /// The reduction domain of `reduction`.
  Halide::RDom rdom;
  /// The blocks a weight gradient's partial sums (`auxiliary`) are added
  /// over, where it has more than one.
  Halide::RDom blocks;
  std::vector<Halide::ImageParam> inputs;
  Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"};
  /// The channel within a block, for channel-blocked results.
  Halide::Var lane{"lane"};
};

/// An ImageParam of `shape` (row-major) with its extents fixed, so the
/// generated code is specialized to the exact shape.
Halide::ImageParam shapedInput(const Shape &shape, const std::string &name,
                               Halide::Type type = Halide::Float(32));

/// Declares the output's extents and dense layout to Halide.
void constrainOutput(Halide::Func output, const Shape &shape);

/// Declares every result of `funcs.outputs` (Tuple elements in order) to
/// have the shape of the matching entry of `spec.outputs`.
void constrainOutputs(const KernelFuncs &funcs, const KernelSpec &spec);

/// The kernel's algorithm with `type` as its element type (labels stay
/// int32). Float(64) instantiations serve the gradient checks.
KernelFuncs defineKernel(const KernelSpec &spec,
                         Halide::Type type = Halide::Float(32));

/// The input channels of one block of its staged weights (a schedule's
/// channel tile divides it).
int64_t gradInputChannelBlock(const KernelSpec &spec);

/// Images per reduction block of a convolution's weight gradient: its
/// partial sums over each block add up to the result.
int64_t gradWeightBlockImages(const KernelSpec &spec);

} // namespace algorithms
} // namespace resnetc

#endif // RESNETC_SCHEDULES_ALGORITHMS_H
