//===- Kernels.cpp - From a KernelSpec to compiled Halide code ------------===//
#include "schedules/Kernels.h"

#include "schedules/algorithms/Algorithms.h"
#include "schedules/cpu/CpuSchedules.h"
#include "schedules/cuda/CudaSchedules.h"

#include "Halide.h"

using namespace Halide;

namespace resnetc {

bool resolveTarget(const std::string &name, std::string &halideTarget,
                   std::string &error) {
  std::string base;
  if (name == "host") {
    halideTarget = get_host_target().to_string();
    return true;
  }
  if (name == "x86-64-avx2")
    base = "x86-64-linux-avx-avx2-f16c-fma-sse41";
  else if (name == "x86-64-avx512")
    base = "x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41";
  else if (name == "cuda")
    base = "x86-64-linux-avx-avx2-f16c-fma-sse41-cuda-cuda_capability_70";
  else if (Target::validate_target_string(name))
    base = name; // any Halide target string
  else {
    error = "unknown target '" + name +
            "' (host, x86-64-avx2, x86-64-avx512, cuda, or a Halide target "
            "string)";
    return false;
  }
  // What the runtime and the library's link can serve: 64-bit x86 Linux,
  // with CUDA as the only GPU API.
  Target target(base);
  bool otherGpu = target.has_gpu_feature() && !target.has_feature(Target::CUDA);
  if (target.arch != Target::X86 || target.bits != 64 ||
      target.os != Target::Linux || otherGpu) {
    error = "unsupported target '" + name +
            "': resnetc generates code for 64-bit x86 Linux, optionally "
            "with CUDA";
    return false;
  }
  halideTarget = base;
  return true;
}

bool targetHasCuda(const std::string &halideTarget) {
  return Target(halideTarget).has_feature(Target::CUDA);
}

namespace {

/// The compiled pipeline's arguments: the kernel's inputs in operand order.
std::vector<Argument> argumentsOf(const algorithms::KernelFuncs &k) {
  std::vector<Argument> args;
  for (const ImageParam &p : k.inputs)
    args.push_back(p);
  return args;
}

Pipeline buildPipeline(const KernelSpec &spec, const Target &target,
                       std::vector<Argument> &args) {
  algorithms::KernelFuncs k = algorithms::defineKernel(spec);
  if (target.has_gpu_feature())
    schedules::scheduleCuda(k, spec, schedules::defaultCudaSchedule(spec));
  else
    schedules::scheduleCpu(k, spec,
                           schedules::defaultCpuSchedule(spec, target));
  algorithms::constrainOutputs(k, spec);
  args = argumentsOf(k);
  return Pipeline(k.outputs);
}

} // namespace

bool compileKernel(const KernelSpec &spec, const std::string &name,
                   const std::string &halideTarget,
                   const std::string &objectPath, std::string &error,
                   const std::string &assemblyPath) {
  try {
    Target target =
        Target(halideTarget).with_feature(Target::NoRuntime);
    std::vector<Argument> args;
    Pipeline pipeline = buildPipeline(spec, target, args);
    std::map<OutputFileType, std::string> outputs = {
        {OutputFileType::object, objectPath}};
    if (!assemblyPath.empty())
      outputs[OutputFileType::assembly] = assemblyPath;
    pipeline.compile_to(outputs, args, name, target);
    return true;
  } catch (const Halide::Error &e) {
    error = "Halide failed on " + spec.key() + ": " + e.what();
    return false;
  }
}

bool compileHalideRuntime(const std::string &halideTarget,
                          const std::string &objectPath, std::string &error) {
  try {
    compile_standalone_runtime(objectPath, Target(halideTarget));
    return true;
  } catch (const Halide::Error &e) {
    error = std::string("Halide runtime: ") + e.what();
    return false;
  }
}

int64_t kernelScratchBytes(const KernelSpec &spec) {
  return schedules::taskScratchBytes(spec);
}

std::string describeSchedule(const KernelSpec &spec,
                             const std::string &halideTarget) {
  Target target(halideTarget);
  if (target.has_gpu_feature())
    return "cuda";
  return schedules::defaultCpuSchedule(spec, target).describe();
}

} // namespace resnetc
