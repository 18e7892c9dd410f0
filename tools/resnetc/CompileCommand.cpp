//===- CompileCommand.cpp - resnetc compile ---------------------*- C++ -*-===//
//
// Runs the inference pipeline on a model. MLIR's pass-manager options
// (--mlir-print-ir-after-all, --mlir-timing, ...) work here as in
// resnet-opt.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "Resnet/Transforms/Passes.h"
#include "compiler/InitAll.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
enum class Emit { Mlir, Kernels, Lib };
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
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  mlir::registerAsmPrinterCLOptions();
  if (!parseCommandLine(argc, argv,
                        "Compiles a resnet-dialect model: runs the inference "
                        "pipeline (fold batch norms, fuse epilogues, hoist "
                        "weight preparation into @init, plan memory).\n"))
    return 1;
  if (emit != Emit::Mlir)
    return reportError("--emit=kernels and --emit=lib need Halide code "
                       "generation, which this build does not have yet; "
                       "use --emit=mlir");

  std::string modelName =
      name.empty() ? sys::path::stem(input).str() : std::string(name);

  mlir::DefaultTimingManager timing;
  mlir::applyDefaultTimingManagerCLOptions(timing);
  mlir::TimingScope root = timing.getRootScope();
  mlir::TimingScope parseTimer = root.nest("Parse");

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  std::string errorMessage;
  auto file = mlir::openInputFile(input, &errorMessage);
  if (!file)
    return reportError(errorMessage);
  auto sourceMgr = std::make_shared<SourceMgr>();
  sourceMgr->AddNewSourceBuffer(std::move(file), SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(*sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return reportError("cannot parse '" + input + "'");
  parseTimer.stop();

  mlir::PassManager pm(&context);
  pm.enableTiming(root);
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return reportError("invalid pass manager options");
  mlir::resnet::buildInferencePipeline(pm, {});
  if (failed(pm.run(*module)))
    return reportError("the inference pipeline failed on '" + input + "'");

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
