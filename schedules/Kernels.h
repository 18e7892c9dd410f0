//===- Kernels.h - From a KernelSpec to compiled Halide code ----*- C++ -*-===//
//
// The one entry point of schedules/: define a kernel's algorithm, apply the
// target's schedule, and compile it ahead of time to an object file whose
// function `name` (and `name_argv`) the runtime calls.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_SCHEDULES_KERNELS_H
#define RESNETC_SCHEDULES_KERNELS_H

#include "schedules/KernelSpec.h"

#include <string>

namespace resnetc {

/// A target name as `resnetc compile --target` takes it ("host",
/// "x86-64-avx2", "x86-64-avx512", "cuda") to a Halide target string.
/// Returns false (and sets `error`) for an unknown name.
bool resolveTarget(const std::string &name, std::string &halideTarget,
                   std::string &error);

/// Whether the (resolved) target runs kernels on a CUDA GPU.
bool targetHasCuda(const std::string &halideTarget);

/// Bytes of scratch memory one task of the kernel takes from the Halide
/// runtime's allocator (0 if it takes none): the runtime preallocates it.
int64_t kernelScratchBytes(const KernelSpec &spec);

/// Compiles `spec` for `halideTarget` into `objectPath` (no Halide runtime
/// inside) as the C function `name`. With `assemblyPath`, also writes its
/// assembly (for CUDA, the host code with the embedded PTX).
bool compileKernel(const KernelSpec &spec, const std::string &name,
                   const std::string &halideTarget,
                   const std::string &objectPath, std::string &error,
                   const std::string &assemblyPath = "");

/// Writes the Halide runtime for `halideTarget` (thread pool, allocator,
/// CUDA driver glue where the target has CUDA) to `objectPath`.
bool compileHalideRuntime(const std::string &halideTarget,
                          const std::string &objectPath, std::string &error);

/// The schedule the heuristic chose for `spec`, in words (for --time and
/// the tuner).
std::string describeSchedule(const KernelSpec &spec,
                             const std::string &halideTarget);

} // namespace resnetc

#endif // RESNETC_SCHEDULES_KERNELS_H
