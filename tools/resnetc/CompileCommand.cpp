//===- CompileCommand.cpp - resnetc compile ---------------------*- C++ -*-===//
//
// Runs the inference pipeline on a model. MLIR's pass-manager options
// (--mlir-print-ir-after-all, --mlir-timing, ...) work here as in
// resnet-opt.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "Resnet/Transforms/Passes.h"
#include "compiler/Codegen/BuildPlan.h"
#include "compiler/Codegen/CompileModel.h"
#include "compiler/InitAll.h"
#include "schedules/Kernels.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <thread>

using namespace llvm;
using namespace resnetc;

namespace {
enum class Emit { Mlir, Kernels, Lib };

/// $RESNETC_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/resnetc or
/// ~/.cache/resnetc, as other compilers' caches (ccache, Mesa) do.
std::string kernelCacheDir() {
  if (const char *dir = std::getenv("RESNETC_CACHE_DIR"))
    return dir;
  SmallString<256> path;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    path = xdg;
  else if (const char *home = std::getenv("HOME"); home && *home)
    sys::path::append(path, home, ".cache");
  else
    return "";
  sys::path::append(path, "resnetc", "kernels");
  return std::string(path);
}
} // namespace

int resnetc::runCompile(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.mlir>"), cl::cat(cat));
  cl::opt<std::string> outputDir("o", cl::desc("Output directory"),
                                 cl::value_desc("dir"), cl::Required,
                                 cl::cat(cat));
  cl::opt<std::string> name("name",
                            cl::desc("Name of the compiled model (default: "
                                     "the input file's stem)"),
                            cl::cat(cat));
  cl::opt<Emit> emit(
      "emit", cl::desc("What to emit"), cl::init(Emit::Lib),
      cl::values(clEnumValN(Emit::Mlir, "mlir",
                            "DIR/N.mlir after the inference pipeline"),
                 clEnumValN(Emit::Kernels, "kernels", "Halide kernels"),
                 clEnumValN(Emit::Lib, "lib", "DIR/N.h, libN.a, libN.so")),
      cl::cat(cat));
  cl::opt<std::string> target(
      "target",
      cl::desc("host (what this machine has), x86-64-avx2, x86-64-avx512, "
               "cuda, or a Halide target string"),
      cl::init("host"), cl::cat(cat));
  cl::opt<bool> time("time", cl::desc("Print the time of each phase"),
                     cl::cat(cat));
  cl::opt<int> jobs("j",
                    cl::desc("Kernels compiled in parallel (default: cores)"),
                    cl::init(0), cl::cat(cat));
  cl::opt<bool> train("train",
                      cl::desc("Also compile a training step (N_train_step, "
                               "N_save)"),
                      cl::cat(cat));
  cl::list<std::string> trainable(
      "trainable",
      cl::desc("Globs of the parameters to train, comma-separated (torchvision "
               "names, e.g. 'layer4.*,fc.*'; default: all)"),
      cl::CommaSeparated, cl::cat(cat));
  cl::opt<std::string> bn(
      "bn",
      cl::desc("Batch norms while training: train (batch statistics, "
               "running statistics updated: model.train()) or frozen "
               "(running statistics: eval())"),
      cl::init("train"), cl::cat(cat));
  cl::opt<std::string> optimizer("optimizer",
                                 cl::desc("Optimizer (sgd: torch.optim.SGD)"),
                                 cl::init("sgd"), cl::cat(cat));
  cl::opt<double> momentum("momentum", cl::desc("SGD momentum (default 0)"),
                           cl::init(0.0), cl::cat(cat));
  cl::opt<double> weightDecay("weight-decay",
                              cl::desc("SGD weight decay (default 0)"),
                              cl::init(0.0), cl::cat(cat));
  cl::opt<bool> nesterov("nesterov", cl::desc("Nesterov momentum"),
                         cl::cat(cat));
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  mlir::registerAsmPrinterCLOptions();
  if (!parseCommandLine(argc, argv,
                        "Compiles a resnet-dialect model: runs the inference "
                        "pipeline (fold batch norms, fuse epilogues, hoist "
                        "weight preparation into @init, plan memory).\n"))
    return 1;
  bool training = train;
  if (!training &&
      (!trainable.empty() || bn.getNumOccurrences() ||
       optimizer.getNumOccurrences() || momentum.getNumOccurrences() ||
       weightDecay.getNumOccurrences() || nesterov))
    return reportError("--trainable, --bn, --optimizer, --momentum, "
                       "--weight-decay and --nesterov need --train");
  if (optimizer != "sgd")
    return reportError("unknown --optimizer '" + optimizer +
                       "' (resnetc has sgd)");
  if (bn != "train" && bn != "frozen")
    return reportError("--bn must be train or frozen, got '" + bn + "'");
  std::string halideTarget, targetError;
  if (!resolveTarget(target, halideTarget, targetError))
    return reportError(targetError);
  if (emit == Emit::Lib && targetHasCuda(halideTarget))
    return reportError("--target " + target +
                       ": running kernels on a GPU is not supported yet "
                       "(the runtime moves no data to the device); use "
                       "--emit=kernels to see the generated PTX");
  std::string modelName =
      name.empty() ? sys::path::stem(input).str() : std::string(name);
  // The name prefixes C symbols, except with --emit=mlir (a file name).
  bool isIdentifier =
      !modelName.empty() && (isAlpha(modelName[0]) || modelName[0] == '_') &&
      llvm::all_of(modelName, [](char c) { return isAlnum(c) || c == '_'; });
  if (emit != Emit::Mlir && !isIdentifier)
    return reportError("the model name '" + modelName +
                       "' is not a C identifier; pass --name");

  auto started = std::chrono::steady_clock::now();
  auto report = [&](const std::string &phase, double seconds) {
    if (time)
      llvm::errs() << llvm::format("  %-28s %8.2f s\n", phase.c_str(), seconds);
  };
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
        .count();
  };

  mlir::DefaultTimingManager timing;
  mlir::applyDefaultTimingManagerCLOptions(timing);
  mlir::TimingScope root = timing.getRootScope();
  mlir::TimingScope parseTimer = root.nest("Parse");

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  // Kernels compile in forked processes: no MLIR threads around then.
  context.disableMultithreading();
  ModelFile file;
  if (!loadModelFile(input, context, file))
    return 1;
  mlir::OwningOpRef<mlir::ModuleOp> &module = file.module;
  parseTimer.stop();

  mlir::PassManager pm(&context);
  pm.enableTiming(root);
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return reportError("invalid pass manager options");
  if (training) {
    std::vector<std::string> globs(trainable.begin(), trainable.end());
    mlir::resnet::AutodiffOptions autodiff;
    autodiff.trainable = globs;
    autodiff.bnMode = bn;
    autodiff.momentum = momentum;
    autodiff.weightDecay = weightDecay;
    autodiff.nesterov = nesterov;
    pm.addPass(mlir::resnet::createAutodiff(autodiff));
  }
  mlir::resnet::buildInferencePipeline(pm, {});
  if (failed(pm.run(*module)))
    return reportError("the inference pipeline failed on '" + input + "'");
  report("parse and graph passes", since(started));

  if (emit != Emit::Mlir) {
    auto planStart = std::chrono::steady_clock::now();
    ModelPlan plan;
    if (failed(buildPlan(*module, modelName, plan,
                         /*blockedLayouts=*/!targetHasCuda(halideTarget))))
      return reportError("cannot generate code for '" + input + "'");
    report("plan", since(planStart));
    CompileOptions options;
    options.outputDir = outputDir;
    options.halideTarget = halideTarget;
    options.kernelsOnly = emit == Emit::Kernels;
    options.jobs = jobs > 0 ? int(jobs)
                            : std::max(1u, std::thread::hardware_concurrency());
    // The runtime sits beside the driver: DIR/bin/resnetc, DIR/lib,
    // DIR/include, in the build tree as in an installation.
    std::string exe = sys::fs::getMainExecutable(
        argv[0], reinterpret_cast<void *>(&resnetc::runCompile));
    SmallString<256> prefix =
        sys::path::parent_path(sys::path::parent_path(exe));
    options.runtimeLibDir = (prefix + "/lib").str();
    options.runtimeIncludeDir = (prefix + "/include").str();
    options.onPhase = report;
    options.cacheDir = kernelCacheDir();
    sys::fs::file_status exeStatus;
    if (!sys::fs::status(exe, exeStatus))
      options.compilerId =
          exe + " " +
          std::to_string(
              exeStatus.getLastModificationTime().time_since_epoch().count()) +
          " " + std::to_string(exeStatus.getSize());
    else
      options.cacheDir.clear(); // no identity, no cache
    if (Error error = compileModel(plan, options))
      return reportError(std::move(error));
    report("total", since(started));
    return 0;
  }

  mlir::TimingScope outputTimer = root.nest("Output");
  if (std::error_code ec = sys::fs::create_directories(outputDir))
    return reportError("cannot create '" + outputDir + "': " + ec.message());
  SmallString<256> path(outputDir);
  sys::path::append(path, modelName + ".mlir");
  if (Error error = writeToOutput(path, [&](raw_ostream &os) {
        module->print(os);
        return Error::success();
      }))
    return reportError("cannot write '" + path +
                       "': " + toString(std::move(error)));
  return 0;
}
