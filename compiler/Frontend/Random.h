//===- Random.h - The seeded generator of initial weights -------*- C++ -*-===//
//
// Shared by `resnetc new --weights-out` and `resnetc reshape-head`, so that
// every weight resnetc draws depends on the seed alone.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_FRONTEND_RANDOM_H
#define RESNETC_COMPILER_FRONTEND_RANDOM_H

#include <cmath>
#include <cstdint>
#include <random>

namespace resnetc {

/// A seeded generator whose values do not depend on the C++ library:
/// std::normal_distribution's algorithm is implementation-defined.
class Random {
public:
  explicit Random(uint64_t seed) : engine(seed) {}

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) {
    return low + (high - low) * uniform();
  }
  /// Standard normal by the Box-Muller transform.
  double normal() {
    double u1 = 1.0 - uniform(); // (0, 1]: log stays finite
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

private:
  std::mt19937_64 engine;
};

} // namespace resnetc

#endif // RESNETC_COMPILER_FRONTEND_RANDOM_H
