//===- ReshapeHeadCommand.cpp - resnetc reshape-head ------------*- C++ -*-===//
//
// Gives a model's classifier a new number of classes for fine-tuning: the
// model and its weights are written anew, every backbone weight unchanged
// and the head initialized as torch.nn.Linear does.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "compiler/Frontend/ReshapeHead.h"
#include "compiler/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/raw_ostream.h"

using namespace llvm;

int resnetc::runReshapeHead(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  cl::opt<std::string> model(cl::Positional, cl::Required,
                             cl::desc("<model.mlir>"), cl::cat(cat));
  cl::opt<int64_t> classes("classes", cl::Required,
                           cl::desc("Number of classes of the new head"),
                           cl::cat(cat));
  cl::opt<std::string> output("o", cl::Required,
                              cl::desc("Output MLIR file ('-' for stdout)"),
                              cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> weights(
      "weights", cl::Required,
      cl::desc("The model's weights (safetensors)"), cl::value_desc("file"),
      cl::cat(cat));
  cl::opt<std::string> weightsOut(
      "weights-out", cl::Required,
      cl::desc("The new weights: the backbone's unchanged, a fresh head"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<uint64_t> seed("seed", cl::desc("Seed of the new head's values"),
                         cl::init(0), cl::cat(cat));
  if (!parseCommandLine(argc, argv,
                        "Replaces a model's final linear layer by one with "
                        "--classes outputs, initialized as torch.nn.Linear "
                        "does; every other weight is kept.\n"))
    return 1;
  if (classes < 1)
    return reportError("--classes must be positive, got " +
                       Twine(int64_t(classes)));

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  ModelFile file;
  if (!loadModelFile(model, context, file))
    return 1;
  if (failed(mlir::verify(*file.module)))
    return reportError("'" + model + "' does not verify");
  mlir::FailureOr<ClassifierHead> head = reshapeHead(*file.module, classes);
  if (failed(head))
    return reportError("cannot replace the head of '" + model + "'");
  if (failed(mlir::verify(*file.module)))
    return reportError("internal error: the reshaped model does not verify");

  // Both outputs or neither: check both first, then write the weights
  // (which also checks the input weights) before the model.
  if (!checkWritable({output, weightsOut}))
    return 1;
  if (Error error =
          writeReshapedWeights(*head, classes, seed, weights, weightsOut))
    return reportError(std::move(error));
  if (Error error = writeToOutput(output, [&](raw_ostream &os) {
        file.module->print(os);
        return Error::success();
      }))
    return reportError("cannot write '" + output +
                       "': " + toString(std::move(error)));
  return 0;
}
