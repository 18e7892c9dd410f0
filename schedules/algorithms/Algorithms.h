//===- Algorithms.h - Halide algorithms of resnetc's kernels ----*- C++ -*-===//
//
// What each kernel computes, as pure Halide Funcs, apart from how
// (schedules/cpu, schedules/cuda). Activations are NCHW; a Halide Func
// indexes them innermost first: (x, y, c, n). Matrices [N, K] are (k, n).
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_SCHEDULES_ALGORITHMS_H
#define RESNETC_SCHEDULES_ALGORITHMS_H

#include "schedules/KernelSpec.h"

#include "Halide.h"

#include <vector>

namespace resnetc {
namespace algorithms {

/// The Funcs of a kernel that a schedule refers to, and its arguments in
/// the order the compiled function takes them (inputs, then the output).
struct KernelFuncs {
  Halide::Func output;
  /// The reduction stage where there is one (convolution, linear, pools).
  Halide::Func reduction;
  /// The padded input of a convolution or pool, when it pads.
  Halide::Func padded;
  /// The second result of a two-result kernel (fold_batch_norm's bias).
  Halide::Func secondOutput;
  /// A second reduction stage (softmax's running maximum).
  Halide::Func auxiliary;
  /// The reduction domain of `reduction`.
  Halide::RDom rdom;
  std::vector<Halide::ImageParam> inputs;
  Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"};
};

/// An ImageParam of `shape` (row-major) with its extents fixed, so the
/// generated code is specialized to the exact shape.
Halide::ImageParam shapedInput(const Shape &shape, const std::string &name);

/// Declares the output's extents and dense layout to Halide.
void constrainOutput(Halide::Func output, const Shape &shape);

KernelFuncs defineKernel(const KernelSpec &spec);

} // namespace algorithms
} // namespace resnetc

#endif // RESNETC_SCHEDULES_ALGORITHMS_H
