//===- GradCheckTest.cpp - Training kernels against finite differences ----===//
//
// Every backward kernel, instantiated in Float(64) and JIT-compiled, is
// compared with central differences of the Float(64) forward algorithm it
// differentiates: loss = sum(forward(inputs) * R), whose gradient is the
// backward kernel with dy = R. Where differences say nothing (ties of a max
// pool) or there is nothing to differentiate (batch statistics, running
// statistics, SGD, the loss itself), direct loops written here are the
// reference. Last, each kind is scheduled for the host in Float(32) and
// compared with the unscheduled Float(64) result, and compiled for CUDA.
//
//===----------------------------------------------------------------------===//
#include "schedules/Kernels.h"
#include "schedules/algorithms/Algorithms.h"
#include "schedules/cpu/CpuSchedules.h"
#include "schedules/cuda/CudaSchedules.h"

#include "Halide.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>

using namespace resnetc;
using Halide::Buffer;
using Halide::Type;

namespace {

using Buf = Buffer<double>;

std::vector<int> halideSizes(const Shape &shape) {
  return std::vector<int>(shape.rbegin(), shape.rend());
}

Buf randomBuffer(const Shape &shape, std::mt19937 &rng, double lo = -1,
                 double hi = 1) {
  Buf b(halideSizes(shape));
  std::uniform_real_distribution<double> dist(lo, hi);
  for (size_t i = 0; i < b.number_of_elements(); ++i)
    b.data()[i] = dist(rng);
  return b;
}

/// A buffer of the same sizes with every element converted to T.
template <typename T, typename U> Buffer<T> converted(const Buffer<U> &b) {
  std::vector<int> sizes;
  for (int d = 0; d < b.dimensions(); ++d)
    sizes.push_back(b.dim(d).extent());
  Buffer<T> c(sizes);
  for (size_t e = 0; e < c.number_of_elements(); ++e)
    c.data()[e] = T(b.data()[e]);
  return c;
}

Buf copyOf(const Buf &b) {
  Buf c = b.copy();
  return c;
}

enum class Schedule { None, Cpu, Cuda };

/// A kernel's algorithm compiled by the JIT, optionally with its CPU or
/// CUDA schedule.
class Jit {
public:
  Jit(const KernelSpec &spec, Type type = Halide::Float(64),
      Schedule schedule = Schedule::None,
      Halide::Target host = Halide::get_host_target())
      : spec(spec), type(type) {
    funcs = algorithms::defineKernel(spec, type);
    if (schedule == Schedule::Cpu)
      schedules::scheduleCpu(funcs, spec,
                             schedules::defaultCpuSchedule(spec, host));
    if (schedule == Schedule::Cuda) {
      host = host.with_feature(Halide::Target::CUDA);
      schedules::scheduleCuda(funcs, spec,
                              schedules::defaultCudaSchedule(spec));
    }
    algorithms::constrainOutputs(funcs, spec);
    pipeline = Halide::Pipeline(funcs.outputs);
    pipeline.compile_jit(host);
  }

  /// Runs on `inputs` into `outputs` (fresh buffers when empty).
  std::vector<Buffer<>> run(const std::vector<Buffer<>> &inputs,
                            std::vector<Buffer<>> outputs = {}) {
    EXPECT_EQ(inputs.size(), funcs.inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i)
      funcs.inputs[i].set(inputs[i]);
    if (outputs.empty())
      for (const Shape &shape : spec.outputs)
        outputs.push_back(Buffer<>(type, halideSizes(shape)));
    Halide::Realization r(outputs);
    pipeline.realize(r);
    for (Buffer<> &b : outputs)
      b.copy_to_host();
    return outputs;
  }

  /// The first result, as doubles.
  Buf first(const std::vector<Buffer<>> &inputs) {
    return Buf(run(inputs)[0]);
  }

private:
  KernelSpec spec;
  Type type;
  algorithms::KernelFuncs funcs;
  Halide::Pipeline pipeline;
};

double dot(const Buf &a, const Buf &b) {
  EXPECT_EQ(a.number_of_elements(), b.number_of_elements());
  double sum = 0;
  for (size_t i = 0; i < a.number_of_elements(); ++i)
    sum += a.data()[i] * b.data()[i];
  return sum;
}

Buf relu(const Buf &b) {
  Buf r = b.copy();
  for (size_t i = 0; i < r.number_of_elements(); ++i)
    r.data()[i] = std::max(r.data()[i], 0.0);
  return r;
}

/// Compares `grad` with central differences of `loss` in each element of
/// `param` (perturbed in place; `loss` reads it).
void expectGradient(Buf param, const std::function<double()> &loss,
                    const Buf &grad, const std::string &what) {
  ASSERT_EQ(param.number_of_elements(), grad.number_of_elements()) << what;
  const double h = 1e-5;
  double worst = 0;
  size_t worstAt = 0;
  double worstFd = 0;
  for (size_t i = 0; i < param.number_of_elements(); ++i) {
    double &p = param.data()[i];
    double saved = p;
    p = saved + h;
    double up = loss();
    p = saved - h;
    double down = loss();
    p = saved;
    double fd = (up - down) / (2 * h);
    double err = std::abs(fd - grad.data()[i]) / (1 + std::abs(fd));
    if (err > worst) {
      worst = err;
      worstAt = i;
      worstFd = fd;
    }
  }
  EXPECT_LT(worst, 1e-6) << what << ": element " << worstAt << " has "
                         << grad.data()[worstAt] << ", differences say "
                         << worstFd;
}

void expectNear(const Buf &got, const Buf &want, double tol,
                const std::string &what) {
  ASSERT_EQ(got.number_of_elements(), want.number_of_elements()) << what;
  for (size_t i = 0; i < got.number_of_elements(); ++i)
    ASSERT_NEAR(got.data()[i], want.data()[i],
                tol * (1 + std::abs(want.data()[i])))
        << what << " at element " << i;
}

//===----------------------------------------------------------------------===//
// Specs
//===----------------------------------------------------------------------===//

int64_t windowOut(int64_t in, int64_t k, int64_t s, int64_t lo, int64_t hi,
                  int64_t d, bool ceil) {
  int64_t span = in + lo + hi - d * (k - 1) - 1;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  // PyTorch: the last window must start inside the input or left padding.
  if (ceil && (out - 1) * s >= in + lo)
    --out;
  return out;
}

struct ConvCase {
  Shape x;
  int64_t outChannels, kh, kw;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
  bool relu;
  std::string name;
};

KernelSpec forwardConv(const ConvCase &c, bool bias = false) {
  KernelSpec s;
  s.kind = KernelKind::FusedConv;
  s.stride = c.stride;
  s.padding = c.padding;
  s.dilation = c.dilation;
  s.groups = c.groups;
  s.hasBias = bias;
  Shape w = {c.outChannels, c.x[1] / c.groups, c.kh, c.kw};
  int64_t oh = windowOut(c.x[2], c.kh, c.stride[0], c.padding[0],
                         c.padding[2], c.dilation[0], false);
  int64_t ow = windowOut(c.x[3], c.kw, c.stride[1], c.padding[1],
                         c.padding[3], c.dilation[1], false);
  s.inputs = {c.x, w};
  if (bias)
    s.inputs.push_back({c.outChannels});
  s.outputs = {{c.x[0], c.outChannels, oh, ow}};
  return s;
}

/// A convolution by direct loops over every tap, padding and all: the
/// oracle the kernels' forward pass (and with it, through the finite
/// differences, their gradients) answers to.
Buf convReference(const KernelSpec &s, const Buf &x, const Buf &w) {
  const Shape &out = s.outputs[0];
  Buf y(halideSizes(out));
  int perGroup = w.dim(2).extent();
  int outPerGroup = int(out[1] / s.groups);
  for (int n = 0; n < out[0]; ++n)
    for (int o = 0; o < out[1]; ++o)
      for (int oy = 0; oy < out[2]; ++oy)
        for (int ox = 0; ox < out[3]; ++ox) {
          double sum = 0;
          for (int ci = 0; ci < perGroup; ++ci)
            for (int ky = 0; ky < w.dim(1).extent(); ++ky)
              for (int kx = 0; kx < w.dim(0).extent(); ++kx) {
                int64_t iy =
                    oy * s.stride[0] + ky * s.dilation[0] - s.padding[0];
                int64_t ix =
                    ox * s.stride[1] + kx * s.dilation[1] - s.padding[1];
                if (iy < 0 || iy >= x.dim(1).extent() || ix < 0 ||
                    ix >= x.dim(0).extent())
                  continue;
                int c = (o / outPerGroup) * perGroup + ci;
                sum += w(kx, ky, ci, o) * x(int(ix), int(iy), c, n);
              }
          y(ox, oy, o, n) = sum;
        }
  return y;
}

/// The largest difference between two buffers of one shape, relative to
/// the largest magnitude in `want`.
double relativeError(const Buf &want, const Buf &got) {
  double largest = 0, err = 0;
  for (size_t e = 0; e < want.number_of_elements(); ++e) {
    largest = std::max(largest, std::abs(want.data()[e]));
    err = std::max(err, std::abs(want.data()[e] - got.data()[e]));
  }
  return largest > 0 ? err / largest : err;
}

KernelSpec derived(const KernelSpec &base, KernelKind kind,
                   std::vector<Shape> inputs, std::vector<Shape> outputs) {
  KernelSpec s = base;
  s.kind = kind;
  s.inputs = std::move(inputs);
  s.outputs = std::move(outputs);
  return s;
}

struct PoolCase {
  Shape x;
  std::vector<int64_t> window, stride, padding, dilation;
  bool ceil, countIncludePad;
  std::string name;
};

KernelSpec forwardPool(const PoolCase &c, KernelKind kind) {
  KernelSpec s;
  s.kind = kind;
  s.window = c.window;
  s.stride = c.stride;
  s.padding = c.padding;
  s.dilation = c.dilation;
  s.ceilMode = c.ceil;
  s.countIncludePad = c.countIncludePad;
  int64_t oh = windowOut(c.x[2], c.window[0], c.stride[0], c.padding[0],
                         c.padding[2], c.dilation[0], c.ceil);
  int64_t ow = windowOut(c.x[3], c.window[1], c.stride[1], c.padding[1],
                         c.padding[3], c.dilation[1], c.ceil);
  s.inputs = {c.x};
  s.outputs = {{c.x[0], c.x[1], oh, ow}};
  return s;
}

//===----------------------------------------------------------------------===//
// Batch norm
//===----------------------------------------------------------------------===//

/// Batch statistics and the normalized output, by direct loops.
void batchNormReference(const Buf &x, const Buf &gamma, const Buf &beta,
                        double eps, Buf &y, Buf &mean, Buf &var) {
  int w = x.dim(0).extent(), h = x.dim(1).extent(), c = x.dim(2).extent(),
      n = x.dim(3).extent();
  double count = double(w) * h * n;
  for (int ch = 0; ch < c; ++ch) {
    double sum = 0, squares = 0;
    for (int b = 0; b < n; ++b)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j)
          sum += x(j, i, ch, b);
    mean(ch) = sum / count;
    for (int b = 0; b < n; ++b)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j)
          squares += (x(j, i, ch, b) - mean(ch)) * (x(j, i, ch, b) - mean(ch));
    var(ch) = squares / count;
    for (int b = 0; b < n; ++b)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j)
          y(j, i, ch, b) = (x(j, i, ch, b) - mean(ch)) /
                               std::sqrt(var(ch) + eps) * gamma(ch) +
                           beta(ch);
  }
}

TEST(GradCheck, BatchNormTrainForward) {
  std::mt19937 rng(1);
  Shape shape = {3, 4, 5, 6};
  KernelSpec spec;
  spec.kind = KernelKind::BatchNormTrain;
  spec.epsilon = 1e-3;
  spec.inputs = {shape, {4}, {4}};
  spec.outputs = {shape, {4}, {4}};
  Buf x = randomBuffer(shape, rng, -2, 3), gamma = randomBuffer({4}, rng),
      beta = randomBuffer({4}, rng);
  std::vector<Buffer<>> out = Jit(spec).run({x, gamma, beta});
  Buf y(halideSizes(shape)), mean(4), var(4);
  batchNormReference(x, gamma, beta, spec.epsilon, y, mean, var);
  expectNear(Buf(out[0]), y, 1e-12, "y");
  expectNear(Buf(out[1]), mean, 1e-12, "mean");
  expectNear(Buf(out[2]), var, 1e-12, "var");
}

/// With a block's epilogue fused in (resnet-fuse-epilogue): relu(y +
/// residual), and the statistics still those of x.
TEST(GradCheck, BatchNormTrainEpilogue) {
  std::mt19937 rng(2);
  Shape shape = {3, 4, 5, 6};
  KernelSpec spec;
  spec.kind = KernelKind::BatchNormTrain;
  spec.hasResidual = true;
  spec.relu = true;
  spec.inputs = {shape, {4}, {4}, shape};
  spec.outputs = {shape, {4}, {4}};
  Buf x = randomBuffer(shape, rng, -2, 3), gamma = randomBuffer({4}, rng),
      beta = randomBuffer({4}, rng), residual = randomBuffer(shape, rng);
  std::vector<Buffer<>> out = Jit(spec).run({x, gamma, beta, residual});
  Buf y(halideSizes(shape)), mean(4), var(4);
  batchNormReference(x, gamma, beta, spec.epsilon, y, mean, var);
  for (size_t e = 0; e < y.number_of_elements(); ++e)
    y.data()[e] = std::max(0.0, y.data()[e] + residual.data()[e]);
  expectNear(Buf(out[0]), y, 1e-12, "y");
  expectNear(Buf(out[1]), mean, 1e-12, "mean");
  expectNear(Buf(out[2]), var, 1e-12, "var");
}

class BatchNormGrad : public ::testing::TestWithParam<std::tuple<bool, bool>> {
};

TEST_P(BatchNormGrad, MatchesDifferences) {
  auto [training, masked] = GetParam();
  std::mt19937 rng(2 + 2 * training + masked);
  Shape shape = {2, 3, 4, 5};
  Shape ch = {3};
  Buf x = randomBuffer(shape, rng, -1, 2), gamma = randomBuffer(ch, rng),
      beta = randomBuffer(ch, rng), runMean = randomBuffer(ch, rng),
      runVar = randomBuffer(ch, rng, 0.5, 1.5), r = randomBuffer(shape, rng);
  KernelSpec forward;
  forward.epsilon = 1e-3;
  forward.outputs = {shape};
  if (training) {
    forward.kind = KernelKind::BatchNormTrain;
    forward.inputs = {shape, ch, ch};
    forward.outputs = {shape, ch, ch};
  } else {
    forward.kind = KernelKind::BatchNorm;
    forward.inputs = {shape, ch, ch, ch, ch};
  }
  Jit fwd(forward);
  auto fwdInputs = [&]() -> std::vector<Buffer<>> {
    if (training)
      return {x, gamma, beta};
    return {x, gamma, beta, runMean, runVar};
  };
  std::vector<Buffer<>> base = fwd.run(fwdInputs());
  Buf mean = training ? Buf(base[1]) : runMean;
  Buf var = training ? Buf(base[2]) : runVar;
  Buf mask = relu(Buf(base[0]));
  auto loss = [&] {
    Buf y = Buf(fwd.run(fwdInputs())[0]);
    return dot(masked ? relu(y) : y, r);
  };

  KernelSpec spec = derived(forward, KernelKind::BatchNormGrad,
                            {shape, shape, ch, ch, ch}, {shape, ch, ch});
  spec.training = training;
  spec.relu = masked;
  if (masked)
    spec.inputs.push_back(shape);
  std::vector<Buffer<>> gradInputs = {r, x, gamma, copyOf(mean),
                                      copyOf(var)};
  if (masked)
    gradInputs.push_back(mask);
  std::vector<Buffer<>> grads = Jit(spec).run(gradInputs);
  expectGradient(x, loss, Buf(grads[0]), "dx");
  expectGradient(gamma, loss, Buf(grads[1]), "dgamma");
  expectGradient(beta, loss, Buf(grads[2]), "dbeta");
}

INSTANTIATE_TEST_SUITE_P(
    Modes, BatchNormGrad,
    ::testing::Combine(::testing::Bool(), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<bool, bool>> &info) {
      return std::string(std::get<0>(info.param) ? "Batch" : "Frozen") +
             (std::get<1>(info.param) ? "Relu" : "");
    });

TEST(GradCheck, RunningStatsInPlace) {
  std::mt19937 rng(7);
  KernelSpec spec;
  spec.kind = KernelKind::RunningStats;
  spec.momentum = 0.1;
  spec.count = 50;
  spec.inputs = {{5}, {5}, {5}, {5}};
  spec.outputs = {{5}, {5}};
  Buf rm = randomBuffer({5}, rng), rv = randomBuffer({5}, rng, 0.5, 2),
      bm = randomBuffer({5}, rng), bv = randomBuffer({5}, rng, 0.5, 2);
  Buf wantMean(5), wantVar(5);
  for (int c = 0; c < 5; ++c) {
    wantMean(c) = 0.9 * rm(c) + 0.1 * bm(c);
    wantVar(c) = 0.9 * rv(c) + 0.1 * bv(c) * 50.0 / 49.0;
  }
  // The runtime updates the running statistics in place.
  Jit(spec).run({rm, rv, bm, bv}, {rm, rv});
  expectNear(rm, wantMean, 1e-14, "running_mean");
  expectNear(rv, wantVar, 1e-14, "running_var");
}

//===----------------------------------------------------------------------===//
// Convolution
//===----------------------------------------------------------------------===//

class ConvGrad : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGrad, MatchesDifferences) {
  const ConvCase &c = GetParam();
  std::mt19937 rng(11);
  KernelSpec forward = forwardConv(c);
  const Shape &wShape = forward.inputs[1], &yShape = forward.outputs[0];
  // With `relu`, the convolution reads relu(pre) and dx is masked by it.
  Buf pre = randomBuffer(c.x, rng), w = randomBuffer(wShape, rng),
      r = randomBuffer(yShape, rng);
  Buf x = c.relu ? relu(pre) : pre;
  Jit fwd(forward);
  EXPECT_LE(relativeError(convReference(forward, x, w), Buf(fwd.first({x, w}))),
            1e-12)
      << "forward";
  auto loss = [&] {
    return dot(fwd.first({c.relu ? relu(pre) : pre, w}), r);
  };

  KernelSpec gradInput =
      derived(forward, KernelKind::ConvGradInput, {yShape, wShape}, {c.x});
  gradInput.relu = c.relu;
  std::vector<Buffer<>> inputs = {r, w};
  if (c.relu) {
    gradInput.inputs.push_back(c.x);
    inputs.push_back(x);
  }
  expectGradient(pre, loss, Jit(gradInput).first(inputs), "dx");

  KernelSpec gradWeight =
      derived(forward, KernelKind::ConvGradWeight, {c.x, yShape}, {wShape});
  expectGradient(w, loss, Jit(gradWeight).first({x, r}), "dweight");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvGrad,
    ::testing::Values(
        ConvCase{{2, 3, 6, 7}, 4, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, "Pad1"},
        ConvCase{{1, 3, 7, 7}, 2, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1,
                 true, "Stride2Relu"},
        // Stride 2 without padding on 8 columns: the last input column and
        // row fall in no window.
        ConvCase{{1, 2, 8, 8}, 3, 3, 3, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1,
                 false, "Uncovered"},
        ConvCase{{1, 2, 6, 7}, 3, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1,
                 false, "Pointwise2"},
        ConvCase{{2, 2, 5, 5}, 3, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1,
                 true, "PointwiseRelu"},
        ConvCase{{1, 2, 8, 9}, 2, 3, 2, {1, 2}, {1, 0, 2, 1}, {2, 2}, 1,
                 false, "DilatedAsymmetric"},
        ConvCase{{1, 4, 5, 6}, 6, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 2,
                 true, "Grouped"},
        ConvCase{{1, 4, 6, 6}, 4, 3, 3, {2, 1}, {1, 2, 0, 1}, {1, 2}, 4,
                 false, "Depthwise"},
        // Taps that only meet padding (liveTaps): a 3x3 kernel on 1x1 maps
        // has only its centre; stride 2 from 2x2 to 1x1 leaves taps 1-2;
        // on one row, only the middle row of taps.
        ConvCase{{3, 2, 1, 1}, 4, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 true, "DeadTaps1x1"},
        ConvCase{{2, 2, 2, 2}, 3, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, "DeadTapsStride2"},
        ConvCase{{2, 2, 1, 5}, 3, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, "DeadTapRows"},
        ConvCase{{2, 4, 1, 1}, 4, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 2,
                 false, "DeadTapsGrouped"}),
    [](const ::testing::TestParamInfo<ConvCase> &info) {
      return info.param.name;
    });

//===----------------------------------------------------------------------===//
// Pointwise, pooling, linear
//===----------------------------------------------------------------------===//

TEST(GradCheck, ReluGrad) {
  std::mt19937 rng(13);
  Shape shape = {2, 3, 4, 5};
  Buf x = randomBuffer(shape, rng), r = randomBuffer(shape, rng);
  KernelSpec forward;
  forward.kind = KernelKind::Relu;
  forward.inputs = forward.outputs = {shape};
  Jit fwd(forward);
  KernelSpec spec = derived(forward, KernelKind::ReluGrad, {shape, shape},
                            {shape});
  Buf dx = Jit(spec).first({r, fwd.first({x})});
  expectGradient(x, [&] { return dot(fwd.first({x}), r); }, dx, "dx");
}

/// PyTorch's CPU max_pool2d backward, written out: each window's gradient
/// to its first maximum (or NaN) among in-bounds elements.
Buf maxPoolGradReference(const KernelSpec &s, const Buf &x, const Buf &dy) {
  Buf dx(x.dim(0).extent(), x.dim(1).extent(), x.dim(2).extent(),
         x.dim(3).extent());
  dx.fill(0);
  int w = x.dim(0).extent(), h = x.dim(1).extent();
  for (int n = 0; n < dy.dim(3).extent(); ++n)
    for (int c = 0; c < dy.dim(2).extent(); ++c)
      for (int oy = 0; oy < dy.dim(1).extent(); ++oy)
        for (int ox = 0; ox < dy.dim(0).extent(); ++ox) {
          int64_t y0 = oy * s.stride[0] - s.padding[0];
          int64_t x0 = ox * s.stride[1] - s.padding[1];
          int64_t y1 = std::min<int64_t>(
              y0 + (s.window[0] - 1) * s.dilation[0] + 1, h);
          int64_t x1 = std::min<int64_t>(
              x0 + (s.window[1] - 1) * s.dilation[1] + 1, w);
          while (y0 < 0)
            y0 += s.dilation[0];
          while (x0 < 0)
            x0 += s.dilation[1];
          int64_t best = y0 * w + x0;
          double largest = -INFINITY;
          for (int64_t iy = y0; iy < y1; iy += s.dilation[0])
            for (int64_t ix = x0; ix < x1; ix += s.dilation[1]) {
              double v = x(ix, iy, c, n);
              if (v > largest || std::isnan(v)) {
                largest = v;
                best = iy * w + ix;
              }
            }
          dx(best % w, best / w, c, n) += dy(ox, oy, c, n);
        }
  return dx;
}

class PoolGrad : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolGrad, MaxMatchesDifferencesAndTies) {
  const PoolCase &c = GetParam();
  std::mt19937 rng(17);
  KernelSpec forward = forwardPool(c, KernelKind::MaxPool);
  const Shape &yShape = forward.outputs[0];
  Buf x = randomBuffer(c.x, rng), r = randomBuffer(yShape, rng);
  Jit fwd(forward);
  KernelSpec spec =
      derived(forward, KernelKind::MaxPoolGrad, {yShape, c.x}, {c.x});
  Jit grad(spec);
  Buf dx = grad.first({r, x});
  expectGradient(x, [&] { return dot(fwd.first({x}), r); }, dx, "dx");
  expectNear(dx, maxPoolGradReference(spec, x, r), 1e-14, "random");
  // Ties, where differences say nothing: all zeros, then few levels.
  Buf zeros = x.copy();
  zeros.fill(0);
  expectNear(grad.first({r, zeros}), maxPoolGradReference(spec, zeros, r),
             1e-14, "zeros");
  Buf levels = x.copy();
  for (size_t i = 0; i < levels.number_of_elements(); ++i)
    levels.data()[i] = double(int(rng() % 3)) - 1;
  expectNear(grad.first({r, levels}), maxPoolGradReference(spec, levels, r),
             1e-14, "levels");
}

TEST_P(PoolGrad, AvgMatchesDifferences) {
  const PoolCase &c = GetParam();
  std::mt19937 rng(19);
  KernelSpec forward = forwardPool(c, KernelKind::AvgPool);
  const Shape &yShape = forward.outputs[0];
  Buf x = randomBuffer(c.x, rng), r = randomBuffer(yShape, rng);
  Jit fwd(forward);
  KernelSpec spec = derived(forward, KernelKind::AvgPoolGrad, {yShape}, {c.x});
  expectGradient(x, [&] { return dot(fwd.first({x}), r); },
                 Jit(spec).first({r}), "dx");
}

INSTANTIATE_TEST_SUITE_P(
    Windows, PoolGrad,
    ::testing::Values(
        PoolCase{{2, 2, 7, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false,
                 true, "ResNetStem"},
        PoolCase{{1, 2, 5, 5}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true,
                 true, "Ceil"},
        PoolCase{{1, 2, 6, 7}, {3, 2}, {2, 3}, {1, 1, 1, 1}, {1, 1}, true,
                 false, "CeilPadExcluded"},
        PoolCase{{1, 1, 6, 6}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, false,
                 false, "OverlapExcluded"}),
    [](const ::testing::TestParamInfo<PoolCase> &info) {
      return info.param.name;
    });

TEST(GradCheck, MaxPoolGradDilated) {
  // Dilation and an all-padding start: the first in-bounds element is one
  // dilation step in.
  std::mt19937 rng(23);
  PoolCase c{{1, 2, 7, 8}, {3, 2}, {2, 2}, {1, 1, 1, 1}, {2, 2}, true,
             true, "Dilated"};
  KernelSpec forward = forwardPool(c, KernelKind::MaxPool);
  const Shape &yShape = forward.outputs[0];
  Buf x = randomBuffer(c.x, rng), r = randomBuffer(yShape, rng);
  KernelSpec spec =
      derived(forward, KernelKind::MaxPoolGrad, {yShape, c.x}, {c.x});
  Jit grad(spec), fwd(forward);
  Buf dx = grad.first({r, x});
  expectGradient(x, [&] { return dot(fwd.first({x}), r); }, dx, "dx");
  Buf zeros = x.copy();
  zeros.fill(0);
  expectNear(grad.first({r, zeros}), maxPoolGradReference(spec, zeros, r),
             1e-14, "zeros");
}

TEST(GradCheck, GlobalAvgPoolGrad) {
  std::mt19937 rng(29);
  Shape shape = {2, 3, 4, 5}, pooled = {2, 3, 1, 1};
  Buf x = randomBuffer(shape, rng), r = randomBuffer(pooled, rng);
  KernelSpec forward;
  forward.kind = KernelKind::GlobalAvgPool;
  forward.inputs = {shape};
  forward.outputs = {pooled};
  Jit fwd(forward);
  KernelSpec spec =
      derived(forward, KernelKind::GlobalAvgPoolGrad, {pooled}, {shape});
  expectGradient(x, [&] { return dot(fwd.first({x}), r); },
                 Jit(spec).first({r}), "dx");
}

TEST(GradCheck, LinearAndBias) {
  std::mt19937 rng(31);
  Shape xShape = {3, 5}, wShape = {4, 5}, yShape = {3, 4};
  Buf x = randomBuffer(xShape, rng), w = randomBuffer(wShape, rng),
      b = randomBuffer({4}, rng), r = randomBuffer(yShape, rng);
  KernelSpec forward;
  forward.kind = KernelKind::Linear;
  forward.hasBias = true;
  forward.inputs = {xShape, wShape, {4}};
  forward.outputs = {yShape};
  Jit fwd(forward);
  auto loss = [&] { return dot(fwd.first({x, w, b}), r); };
  KernelSpec gradInput = derived(forward, KernelKind::LinearGradInput,
                                 {yShape, wShape}, {xShape});
  KernelSpec gradWeight = derived(forward, KernelKind::LinearGradWeight,
                                  {yShape, xShape}, {wShape});
  KernelSpec gradBias = derived(forward, KernelKind::BiasGrad, {yShape}, {{4}});
  expectGradient(x, loss, Jit(gradInput).first({r, w}), "dx");
  expectGradient(w, loss, Jit(gradWeight).first({r, x}), "dweight");
  expectGradient(b, loss, Jit(gradBias).first({r}), "dbias");
}

TEST(GradCheck, ConvBiasGrad) {
  std::mt19937 rng(37);
  ConvCase c{{2, 2, 5, 6}, 3, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, false,
             "Bias"};
  KernelSpec forward = forwardConv(c, /*bias=*/true);
  const Shape &yShape = forward.outputs[0];
  Buf x = randomBuffer(c.x, rng), w = randomBuffer(forward.inputs[1], rng),
      b = randomBuffer({3}, rng), r = randomBuffer(yShape, rng);
  Jit fwd(forward);
  KernelSpec spec = derived(forward, KernelKind::BiasGrad, {yShape}, {{3}});
  expectGradient(b, [&] { return dot(fwd.first({x, w, b}), r); },
                 Jit(spec).first({r}), "dbias");
}

TEST(GradCheck, PadGrad) {
  std::mt19937 rng(41);
  Shape shape = {1, 2, 3, 4}, padded = {1, 3, 6, 5};
  KernelSpec forward;
  forward.kind = KernelKind::Pad;
  forward.low = {0, 1, 2, 0};
  forward.high = {0, 0, 1, 1};
  forward.inputs = {shape};
  forward.outputs = {padded};
  Buf x = randomBuffer(shape, rng), r = randomBuffer(padded, rng);
  Jit fwd(forward);
  KernelSpec spec = derived(forward, KernelKind::PadGrad, {padded}, {shape});
  expectGradient(x, [&] { return dot(fwd.first({x}), r); },
                 Jit(spec).first({r}), "dx");
}

//===----------------------------------------------------------------------===//
// Loss and optimizer
//===----------------------------------------------------------------------===//

TEST(GradCheck, CrossEntropy) {
  std::mt19937 rng(43);
  Shape logitsShape = {4, 6};
  // Large logits: the max subtraction must keep exp finite.
  Buf logits = randomBuffer(logitsShape, rng, -300, 300);
  Buffer<int32_t> labels(4);
  for (int n = 0; n < 4; ++n)
    labels(n) = int32_t(rng() % 6);
  KernelSpec forward;
  forward.kind = KernelKind::CrossEntropy;
  forward.inputs = {logitsShape, {4}};
  forward.outputs = {{}};
  Jit fwd(forward);
  double want = 0;
  for (int n = 0; n < 4; ++n) {
    double largest = -INFINITY, total = 0;
    for (int c = 0; c < 6; ++c)
      largest = std::max(largest, logits(c, n));
    for (int c = 0; c < 6; ++c)
      total += std::exp(logits(c, n) - largest);
    want += std::log(total) + largest - logits(labels(n), n);
  }
  Buf loss = fwd.first({logits, labels});
  EXPECT_NEAR(loss(), want / 4, 1e-12 * std::abs(want));

  // Differences on moderate logits, where the softmax is not saturated.
  Buf moderate = randomBuffer(logitsShape, rng, -2, 2);
  KernelSpec spec = derived(forward, KernelKind::CrossEntropyGrad,
                            {logitsShape, {4}}, {logitsShape});
  expectGradient(moderate, [&] { return fwd.first({moderate, labels})(); },
                 Jit(spec).first({moderate, labels}), "dlogits");
}

struct SgdCase {
  double momentum, weightDecay;
  bool nesterov;
  std::string name;
};

class Sgd : public ::testing::TestWithParam<SgdCase> {};

TEST_P(Sgd, MatchesTorchOptimSgdInPlace) {
  const SgdCase &c = GetParam();
  std::mt19937 rng(47);
  Shape shape = {3, 2, 3, 3};
  KernelSpec spec;
  spec.kind = KernelKind::SgdUpdate;
  spec.momentum = c.momentum;
  spec.weightDecay = c.weightDecay;
  spec.nesterov = c.nesterov;
  spec.inputs = {shape, shape, shape, {}};
  spec.outputs = {shape, shape};
  Jit sgd(spec);
  Buf param = randomBuffer(shape, rng), buffer(halideSizes(shape));
  buffer.fill(0);
  Buf want = param.copy(), wantBuffer = buffer.copy();
  Buf lr = Buf::make_scalar();
  for (int step = 0; step < 4; ++step) {
    lr() = 0.1 / (step + 1);
    Buf grad = randomBuffer(shape, rng);
    // torch.optim.SGD (dampening 0), element by element.
    for (size_t i = 0; i < want.number_of_elements(); ++i) {
      double d = grad.data()[i] + c.weightDecay * want.data()[i];
      double &b = wantBuffer.data()[i];
      b = step == 0 ? d : c.momentum * b + d;
      if (c.momentum != 0)
        d = c.nesterov ? d + c.momentum * b : b;
      want.data()[i] -= lr() * d;
    }
    sgd.run({param, grad, buffer, lr}, {param, buffer});
  }
  expectNear(param, want, 1e-14, "param");
  if (c.momentum != 0)
    expectNear(buffer, wantBuffer, 1e-14, "momentum_buffer");
}

INSTANTIATE_TEST_SUITE_P(Options, Sgd,
                         ::testing::Values(SgdCase{0.9, 1e-4, false, "Momentum"},
                                           SgdCase{0.9, 5e-3, true, "Nesterov"},
                                           SgdCase{0, 0, false, "Plain"},
                                           SgdCase{0, 1e-2, false, "Decay"}),
                         [](const ::testing::TestParamInfo<SgdCase> &info) {
                           return info.param.name;
                         });

//===----------------------------------------------------------------------===//
// Schedules
//===----------------------------------------------------------------------===//

/// Specs of every training kind at sizes where the schedules' vectors,
/// tiles and tails all occur.
std::vector<KernelSpec> scheduledSpecs() {
  std::vector<KernelSpec> specs;
  Shape act = {2, 16, 20, 20}, ch = {16};
  KernelSpec bn;
  bn.kind = KernelKind::BatchNormTrain;
  bn.inputs = {act, ch, ch};
  bn.outputs = {act, ch, ch};
  specs.push_back(bn);
  KernelSpec epilogue = bn;
  epilogue.inputs.push_back(act);
  epilogue.hasResidual = true;
  epilogue.relu = true;
  specs.push_back(epilogue);
  for (bool training : {false, true}) {
    KernelSpec g = derived(bn, KernelKind::BatchNormGrad,
                           {act, act, ch, ch, ch}, {act, ch, ch});
    g.training = training;
    g.relu = training;
    if (g.relu)
      g.inputs.push_back(act);
    specs.push_back(g);
  }
  KernelSpec stats = derived(bn, KernelKind::RunningStats, {ch, ch, ch, ch},
                             {ch, ch});
  stats.momentum = 0.1;
  stats.count = 800;
  specs.push_back(stats);
  for (const ConvCase &c :
       {ConvCase{act, 32, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, ""},
        ConvCase{act, 32, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, false, ""},
        ConvCase{act, 32, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, false, ""},
        ConvCase{act, 32, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, false, ""},
        ConvCase{{2, 3, 23, 23}, 8, 7, 7, {2, 2}, {3, 3, 3, 3}, {1, 1}, 1,
                 false, ""},
        ConvCase{act, 16, 3, 3, {1, 1}, {2, 2, 2, 2}, {2, 2}, 4, true, ""},
        // Large enough images that the weight gradient sums blocks.
        ConvCase{{2, 4, 48, 48}, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""},
        // Taps that only meet padding (ResNet-18's layer4 at 32x32).
        ConvCase{{5, 32, 1, 1}, 32, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 true, ""},
        ConvCase{{5, 16, 2, 2}, 32, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""}}) {
    KernelSpec f = forwardConv(c);
    KernelSpec gi = derived(f, KernelKind::ConvGradInput,
                            {f.outputs[0], f.inputs[1]}, {c.x});
    if (c.relu) {
      gi.relu = true;
      gi.inputs.push_back(c.x);
    }
    specs.push_back(gi);
    specs.push_back(derived(f, KernelKind::ConvGradWeight,
                            {c.x, f.outputs[0]}, {f.inputs[1]}));
  }
  specs.push_back(derived(bn, KernelKind::ReluGrad, {act, act}, {act}));
  for (const PoolCase &c :
       {PoolCase{act, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false, true, ""},
        PoolCase{act, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true, false,
                 ""}}) {
    KernelSpec mp = forwardPool(c, KernelKind::MaxPool);
    specs.push_back(derived(mp, KernelKind::MaxPoolGrad, {mp.outputs[0], c.x},
                            {c.x}));
    KernelSpec ap = forwardPool(c, KernelKind::AvgPool);
    specs.push_back(
        derived(ap, KernelKind::AvgPoolGrad, {ap.outputs[0]}, {c.x}));
  }
  specs.push_back(derived(bn, KernelKind::GlobalAvgPoolGrad, {{2, 16, 1, 1}},
                          {act}));
  specs.push_back(derived(bn, KernelKind::LinearGradInput,
                          {{4, 10}, {10, 35}}, {{4, 35}}));
  specs.push_back(derived(bn, KernelKind::LinearGradWeight,
                          {{4, 10}, {4, 35}}, {{10, 35}}));
  specs.push_back(derived(bn, KernelKind::BiasGrad, {act}, {ch}));
  specs.push_back(derived(bn, KernelKind::BiasGrad, {{4, 35}}, {{35}}));
  specs.push_back(
      derived(bn, KernelKind::CrossEntropy, {{4, 10}, {4}}, {{}}));
  specs.push_back(
      derived(bn, KernelKind::CrossEntropyGrad, {{4, 10}, {4}}, {{4, 10}}));
  KernelSpec pad = derived(bn, KernelKind::PadGrad, {{2, 16, 23, 22}}, {act});
  pad.low = {0, 0, 2, 1};
  pad.high = {0, 0, 1, 1};
  specs.push_back(pad);
  for (const Shape &shape : {Shape{32, 16, 3, 3}, Shape{35}, Shape{10, 35}}) {
    KernelSpec s = derived(bn, KernelKind::SgdUpdate,
                           {shape, shape, shape, {}}, {shape, shape});
    s.momentum = 0.9;
    s.weightDecay = 1e-4;
    s.nesterov = shape.size() == 1;
    specs.push_back(s);
  }
  return specs;
}

/// Random operands a kernel accepts: positive variances, valid labels.
std::vector<Buf> operandsFor(const KernelSpec &spec, std::mt19937 &rng,
                             Buffer<int32_t> &labels) {
  std::vector<Buf> inputs;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    bool positive = (spec.kind == KernelKind::BatchNormGrad && i == 4) ||
                    (spec.kind == KernelKind::RunningStats && i % 2 == 1);
    inputs.push_back(randomBuffer(spec.inputs[i], rng, positive ? 0.5 : -1,
                                  positive ? 1.5 : 1));
  }
  bool crossEntropy = spec.kind == KernelKind::CrossEntropy ||
                      spec.kind == KernelKind::CrossEntropyGrad;
  if (crossEntropy) {
    labels = Buffer<int32_t>(int(spec.inputs[1][0]));
    for (int n = 0; n < labels.dim(0).extent(); ++n)
      labels(n) = int32_t(rng() % spec.inputs[0][1]);
  }
  return inputs;
}

void expectScheduledMatch(Schedule schedule) {
  std::mt19937 rng(53);
  for (const KernelSpec &spec : scheduledSpecs()) {
    SCOPED_TRACE(spec.key());
    Buffer<int32_t> labels;
    std::vector<Buf> operands = operandsFor(spec, rng, labels);
    std::vector<Buffer<>> wide, narrow;
    for (size_t i = 0; i < operands.size(); ++i) {
      bool isLabels = labels.defined() && i == 1;
      wide.push_back(isLabels ? Buffer<>(labels) : Buffer<>(operands[i]));
      narrow.push_back(isLabels ? Buffer<>(labels)
                                : Buffer<>(converted<float>(operands[i])));
    }
    std::vector<Buffer<>> want = Jit(spec).run(wide);
    std::vector<Buffer<>> got;
    try {
      got = Jit(spec, Halide::Float(32), schedule).run(narrow);
    } catch (const Halide::Error &e) {
      ADD_FAILURE() << "schedule: " << e.what();
      continue;
    }
    ASSERT_EQ(got.size(), want.size());
    for (size_t r = 0; r < got.size(); ++r) {
      Buf w(want[r]);
      Buffer<float> g(got[r]);
      double largest = 0, err = 0;
      for (size_t e = 0; e < w.number_of_elements(); ++e) {
        largest = std::max(largest, std::abs(w.data()[e]));
        err = std::max(err, std::abs(w.data()[e] - double(g.data()[e])));
      }
      EXPECT_LE(err, 1e-5 * std::max(largest, 1e-30)) << "result " << r;
    }
  }
}

TEST(GradCheck, ScheduledFloat32MatchesFloat64) {
  expectScheduledMatch(Schedule::Cpu);
}

/// The forward convolution as the training step runs it (a GEMM along the
/// output channels, OIHW weights relaid in the kernel, NCHW in and out),
/// scheduled in float32, against direct loops in float64; among them
/// convolutions whose taps partly meet only padding.
TEST(GradCheck, GemmConvolutionMatchesDirect) {
  std::mt19937 rng(7);
  for (const ConvCase &c :
       {ConvCase{{3, 32, 1, 1}, 32, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""},
        ConvCase{{3, 16, 2, 2}, 32, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""},
        ConvCase{{2, 16, 1, 5}, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""},
        ConvCase{{2, 16, 7, 6}, 32, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""}}) {
    KernelSpec direct = forwardConv(c);
    KernelSpec gemm = direct;
    gemm.gemm = true;
    SCOPED_TRACE(gemm.key());
    Buf x = randomBuffer(c.x, rng), w = randomBuffer(direct.inputs[1], rng);
    Buf want = convReference(direct, x, w);
    Buffer<float> got(Jit(gemm, Halide::Float(32), Schedule::Cpu)
                          .run({converted<float>(x), converted<float>(w)})[0]);
    EXPECT_LE(relativeError(want, converted<double>(got)), 1e-5);
  }
}

/// The input gradient of a stride-1 convolution as the training step runs
/// it on the CPU: the forward GEMM kernel on dy with the weights transposed
/// and flipped (gradInputAsConvolution), masked by a relu or not, scheduled
/// in float32, against the direct input gradient in float64 (which
/// ConvGrad checks against finite differences).
TEST(GradCheck, GradInputAsConvolutionMatchesDirect) {
  std::mt19937 rng(9);
  for (const ConvCase &c :
       {ConvCase{{2, 32, 7, 6}, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 true, ""},
        ConvCase{{3, 16, 5, 5}, 32, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1,
                 false, ""},
        ConvCase{{2, 16, 9, 8}, 24, 3, 2, {1, 1}, {2, 0, 1, 1}, {2, 1}, 1,
                 false, ""},
        ConvCase{{3, 32, 1, 1}, 32, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 true, ""}}) {
    KernelSpec forward = forwardConv(c);
    KernelSpec direct = derived(forward, KernelKind::ConvGradInput,
                                {forward.outputs[0], forward.inputs[1]}, {c.x});
    direct.relu = c.relu;
    if (c.relu)
      direct.inputs.push_back(c.x);
    ASSERT_TRUE(gradInputIsConvolution(direct)) << direct.key();
    KernelSpec gemm = direct;
    gemm.gemm = true;
    SCOPED_TRACE(gemm.key());
    std::vector<Buf> operands;
    for (const Shape &shape : direct.inputs)
      operands.push_back(randomBuffer(shape, rng));
    std::vector<Buffer<>> wide, narrow;
    for (const Buf &b : operands) {
      wide.push_back(b);
      narrow.push_back(converted<float>(b));
    }
    Buf want(Jit(direct).first(wide));
    Buffer<float> got(
        Jit(gemm, Halide::Float(32), Schedule::Cpu).run(narrow)[0]);
    EXPECT_LE(relativeError(want, converted<double>(got)), 1e-5);
  }
}

/// NCHW [N, C, H, W] as Halide (x, y, c, n) -> NCHW16c (lane, x, y, block, n).
template <typename T> Buffer<T> toBlocked(const Buffer<T> &a) {
  int lanes = int(kChannelBlock);
  Buffer<T> b(lanes, a.dim(0).extent(), a.dim(1).extent(),
              a.dim(2).extent() / lanes, a.dim(3).extent());
  b.for_each_element([&](int l, int x, int y, int cb, int n) {
    b(l, x, y, cb, n) = a(x, y, cb * lanes + l, n);
  });
  return b;
}

template <typename T> Buffer<T> fromBlocked(const Buffer<T> &b) {
  int lanes = int(kChannelBlock);
  Buffer<T> a(b.dim(1).extent(), b.dim(2).extent(), b.dim(3).extent() * lanes,
              b.dim(4).extent());
  a.for_each_element([&](int x, int y, int c, int n) {
    a(x, y, c, n) = b(c % lanes, x, y, c / lanes, n);
  });
  return a;
}

/// A spec with the operands and results at `inputs` and `outputs` (their
/// positions) channel-blocked, as BuildPlan gives a training step's kernels.
struct BlockedCase {
  KernelSpec spec;
  std::vector<size_t> inputs, outputs;
};

/// Every training kernel with channel-blocked operands, scheduled in
/// float32 for AVX-512 and AVX2, against the same kernel on NCHW operands
/// unscheduled in float64 (checked above against differences and direct
/// loops): the blocked layout changes where each value lives, not what it
/// is.
TEST(GradCheck, BlockedLayoutsMatchNchw) {
  std::vector<BlockedCase> cases;
  Shape act = {2, 32, 9, 7}, ch = {32};
  KernelSpec bn;
  bn.kind = KernelKind::BatchNormTrain;
  bn.inputs = {act, ch, ch, act};
  bn.outputs = {act, ch, ch};
  bn.hasResidual = true;
  bn.relu = true;
  cases.push_back({bn, {0, 3}, {0}});
  for (bool training : {false, true}) {
    KernelSpec g = derived(bn, KernelKind::BatchNormGrad,
                           {act, act, ch, ch, ch}, {act, ch, ch});
    g.training = training;
    g.relu = training;
    if (g.relu)
      g.inputs.push_back(act);
    cases.push_back(
        {g,
         training ? std::vector<size_t>{0, 1, 5} : std::vector<size_t>{0, 1},
         {0}});
  }
  cases.push_back(
      {derived(bn, KernelKind::ReluGrad, {act, act}, {act}), {0, 1}, {0}});
  cases.push_back(
      {derived(bn, KernelKind::Add, {act, act}, {act}), {0, 1}, {0}});
  cases.push_back(
      {derived(bn, KernelKind::GlobalAvgPoolGrad, {{2, 32, 1, 1}}, {act}),
       {},
       {0}});
  for (const PoolCase &c :
       {PoolCase{act, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false, true, ""},
        PoolCase{{2, 16, 8, 9}, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true,
                 true, ""}}) {
    KernelSpec mp = forwardPool(c, KernelKind::MaxPool);
    cases.push_back(
        {derived(mp, KernelKind::MaxPoolGrad, {mp.outputs[0], c.x}, {c.x}),
         {0, 1},
         {0}});
  }
  for (const ConvCase &c :
       {ConvCase{act, 16, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true, ""},
        ConvCase{act, 32, 3, 3, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, true, ""},
        ConvCase{act, 48, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, false, ""},
        ConvCase{{2, 16, 1, 1}, 32, 3, 3, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1,
                 false, ""}}) {
    KernelSpec f = forwardConv(c);
    // The forward GEMM with weights the step updates (relaid in the
    // kernel), its residual in the result's layout.
    KernelSpec gemm = f;
    gemm.gemm = true;
    gemm.hasResidual = true;
    gemm.relu = true;
    gemm.inputs.push_back(f.outputs[0]);
    cases.push_back({gemm, {0, 2}, {0}});
    cases.push_back({gemm, {2}, {0}});
    KernelSpec gi = derived(f, KernelKind::ConvGradInput,
                            {f.outputs[0], f.inputs[1]}, {c.x});
    if (c.relu) {
      gi.relu = true;
      gi.inputs.push_back(c.x);
    }
    gi.gemm = gradInputIsConvolution(gi);
    std::vector<size_t> dx = {0};
    if (c.relu)
      dx.push_back(2);
    cases.push_back({gi, dx, {0}});
    cases.push_back({gi, {0}, {}});
    dx.erase(dx.begin());
    cases.push_back({gi, dx, {0}});
    KernelSpec gw = derived(f, KernelKind::ConvGradWeight, {c.x, f.outputs[0]},
                            {f.inputs[1]});
    cases.push_back({gw, {0, 1}, {}});
    cases.push_back({gw, {1}, {}});
  }
  // The stem: NCHW images, blocked dy.
  ConvCase stem{{2, 3, 19, 17}, 16,     7, 7,     {2, 2},
                {3, 3, 3, 3},   {1, 1}, 1, false, ""};
  KernelSpec f = forwardConv(stem);
  cases.push_back({derived(f, KernelKind::ConvGradWeight,
                           {stem.x, f.outputs[0]}, {f.inputs[1]}),
                   {1},
                   {}});

  std::mt19937 rng(11);
  // The host (AVX-512 where it has it) and AVX2.
  for (Halide::Target t :
       {Halide::get_host_target(),
        Halide::Target("x86-64-linux-avx-avx2-f16c-fma-sse41")}) {
    std::string target = t.to_string();
    for (const BlockedCase &c : cases) {
      KernelSpec blocked = c.spec;
      for (size_t i : c.inputs)
        blocked.inputs[i] = blockedShape(blocked.inputs[i]);
      for (size_t i : c.outputs)
        blocked.outputs[i] = blockedShape(blocked.outputs[i]);
      SCOPED_TRACE(target + " " + blocked.key());
      std::vector<Buffer<>> wide, narrow;
      for (size_t i = 0; i < c.spec.inputs.size(); ++i) {
        bool positive = c.spec.kind == KernelKind::BatchNormGrad && i == 4;
        Buf b = randomBuffer(c.spec.inputs[i], rng, positive ? 0.5 : -1,
                             positive ? 1.5 : 1);
        wide.push_back(b);
        Buffer<float> f = converted<float>(b);
        bool isBlocked = std::count(c.inputs.begin(), c.inputs.end(), i);
        narrow.push_back(isBlocked ? toBlocked(f) : f);
      }
      std::vector<Buffer<>> want = Jit(c.spec).run(wide);
      std::vector<Buffer<>> got;
      try {
        got = Jit(blocked, Halide::Float(32), Schedule::Cpu, t).run(narrow);
      } catch (const Halide::Error &e) {
        ADD_FAILURE() << "schedule: " << e.what();
        continue;
      }
      ASSERT_EQ(got.size(), want.size());
      for (size_t r = 0; r < got.size(); ++r) {
        Buffer<float> g(got[r]);
        if (std::count(c.outputs.begin(), c.outputs.end(), r))
          g = fromBlocked(g);
        EXPECT_LE(relativeError(Buf(want[r]), converted<double>(g)), 1e-5)
            << "result " << r;
      }
    }
  }
}

/// Runs the CUDA schedules where a GPU is (RESNETC_TEST_CUDA=1).
TEST(GradCheck, CudaFloat32MatchesFloat64) {
  const char *enabled = std::getenv("RESNETC_TEST_CUDA");
  if (!enabled || std::string(enabled) != "1")
    GTEST_SKIP() << "set RESNETC_TEST_CUDA=1 on a machine with a GPU";
  expectScheduledMatch(Schedule::Cuda);
}

TEST(GradCheck, TrainingKernelsCompileForCuda) {
  std::string target, error;
  ASSERT_TRUE(resolveTarget("cuda", target, error)) << error;
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("resnetc-gradcheck-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  int index = 0;
  for (const KernelSpec &spec : scheduledSpecs()) {
    std::string name = "k" + std::to_string(index++);
    EXPECT_TRUE(compileKernel(spec, name, target,
                              (dir / (name + ".o")).string(), error))
        << error;
  }
  std::filesystem::remove_all(dir);
}

} // namespace
