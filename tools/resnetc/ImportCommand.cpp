//===- ImportCommand.cpp - resnetc import -----------------------*- C++ -*-===//
#include "Commands.h"

#include "compiler/Frontend/OnnxImporter.h"
#include "compiler/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

int resnetc::runImport(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  cl::opt<std::string> input(cl::Positional, cl::Required,
                             cl::desc("<model.onnx>"), cl::cat(cat));
  cl::opt<std::string> output(
      "o", cl::desc("Output MLIR file ('-' for stdout)"),
      cl::value_desc("file"), cl::init("-"), cl::cat(cat));
  cl::opt<std::string> weightsOut(
      "weights-out",
      cl::desc("Write the model's parameters (safetensors, F32, named by the "
               "ONNX initializers)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<int64_t> classes(
      "classes", cl::desc("Check that the model has this many classes"),
      cl::init(0), cl::cat(cat));
  cl::opt<int64_t> batch(
      "batch", cl::desc("Batch size (pins a dynamic batch dimension)"),
      cl::init(0), cl::cat(cat));
  cl::opt<std::string> image(
      "image", cl::desc("Image size H or HxW (pins dynamic image dimensions)"),
      cl::value_desc("H[xW]"), cl::cat(cat));
  if (!parseCommandLine(argc, argv,
                        "Imports an ONNX ResNet (as torch.onnx.export writes "
                        "it) as resnet-dialect MLIR.\n"))
    return 1;

  OnnxImportOptions options;
  if (classes.getNumOccurrences())
    options.classes = classes;
  if (batch.getNumOccurrences())
    options.batch = batch;
  if (!image.empty() && !parseImageSize(image, options.height, options.width))
    return reportError("--image expects H or HxW, got '" + image + "'");
  for (const std::optional<int64_t> &size :
       {options.classes, options.batch, options.height, options.width})
    if (size && *size < 1)
      return reportError("--classes, --batch and --image must be positive");

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto model = importOnnx(context, input, options);
  if (!model)
    return reportError(model.takeError());

  // Both outputs or neither: check first that both directories are
  // writable; each file is written atomically, and if the MLIR still cannot
  // be written the weights just written are removed.
  if (!checkWritable({output, weightsOut}))
    return 1;
  if (!weightsOut.empty())
    if (Error error = writeImportedWeights(*model, weightsOut))
      return reportError(std::move(error));
  if (Error error = writeToOutput(output, [&](raw_ostream &os) {
        model->module->print(os);
        return Error::success();
      })) {
    if (!weightsOut.empty())
      sys::fs::remove(weightsOut);
    return reportError("cannot write '" + output +
                       "': " + toString(std::move(error)));
  }
  return 0;
}
