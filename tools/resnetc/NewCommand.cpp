//===- NewCommand.cpp - resnetc new -----------------------------*- C++ -*-===//
#include "Commands.h"

#include "compiler/Frontend/ResNetBuilder.h"
#include "compiler/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

int resnetc::runNew(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  // cl::desc keeps a reference: the text must outlive the options.
  std::string archHelp = "<arch>: " + join(knownArchitectures(), ", ");
  cl::opt<std::string> arch(cl::Positional, cl::Required, cl::desc(archHelp),
                            cl::cat(cat));
  cl::opt<std::string> output("o", cl::desc("Output MLIR file ('-' for stdout)"),
                              cl::value_desc("file"), cl::init("-"),
                              cl::cat(cat));
  cl::opt<int64_t> classes(
      "classes",
      cl::desc("Number of classes (default 1000; 10 for CIFAR ResNets)"),
      cl::init(0), cl::cat(cat));
  cl::opt<int64_t> batch("batch", cl::desc("Batch size fixed in the model"),
                         cl::init(1), cl::cat(cat));
  cl::opt<std::string> image(
      "image",
      cl::desc("Image size H or HxW (default 224; 32 for CIFAR ResNets)"),
      cl::value_desc("H[xW]"), cl::cat(cat));
  cl::opt<std::string> weightsOut(
      "weights-out",
      cl::desc("Write torchvision-initialized weights (safetensors)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<uint64_t> seed("seed", cl::desc("Seed of the weight initialization"),
                         cl::init(0), cl::cat(cat));
  if (!parseCommandLine(argc, argv,
                        "Builds a ResNet as resnet-dialect MLIR, with "
                        "torchvision's structure and parameter names.\n"))
    return 1;

  ModelConfig config;
  config.arch = arch;
  if (classes.getNumOccurrences())
    config.classes = classes;
  config.batch = batch;
  if (!image.empty() && !parseImageSize(image, config.height, config.width))
    return reportError("--image expects H or HxW, got '" + image + "'");

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = buildResNet(context, config);
  if (!module)
    return reportError(module.takeError());
  if (failed(mlir::verify(**module)))
    return reportError("internal error: the built module does not verify");

  // Both outputs or neither: check that both can be written first.
  if (!checkWritable({output, weightsOut}))
    return 1;
  if (!weightsOut.empty())
    if (Error error = writeInitialWeights(**module, seed, weightsOut))
      return reportError(std::move(error));
  if (Error error = writeToOutput(output, [&](raw_ostream &os) {
        (*module)->print(os);
        return Error::success();
      }))
    return reportError("cannot write '" + output +
                       "': " + toString(std::move(error)));
  return 0;
}
