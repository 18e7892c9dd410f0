//===- EvalCommand.cpp - resnetc eval ---------------------------*- C++ -*-===//
//
// Runs a model with the reference evaluator: .npy inputs in, .npy outputs
// out. Outputs are written only once everything else has succeeded.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "compiler/Evaluator/Evaluator.h"
#include "compiler/InitAll.h"
#include "resnetc/runtime/Npy.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"

using namespace llvm;

namespace {

/// Reads an f32 or i32 .npy file as a HostTensor.
Expected<resnetc::HostTensor> readInput(const std::string &path) {
  resnetc::NpyArray array;
  std::string error;
  if (!resnetc::readNpy(path, array, error))
    return createStringError(inconvertibleErrorCode(), error);
  resnetc::HostTensor tensor;
  tensor.shape = array.shape;
  int64_t count = array.numElements();
  if (array.dtype == resnetc::DType::F32) {
    tensor.f32.assign(array.f32(), array.f32() + count);
  } else if (array.dtype == resnetc::DType::I32) {
    tensor.isInt = true;
    tensor.i32.assign(array.i32(), array.i32() + count);
  } else {
    return createStringError(
        inconvertibleErrorCode(),
        path + ": dtype " + resnetc::dtypeName(array.dtype) +
            " is not supported; inputs must be float32 or int32 (convert "
            "with .astype(np.float32) or .astype(np.int32))");
  }
  return tensor;
}

} // namespace

int resnetc::runEval(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  cl::opt<std::string> model(cl::Positional, cl::Required,
                             cl::desc("<model.mlir>"), cl::cat(cat));
  cl::opt<std::string> weightsPath(
      "weights", cl::desc("Weights of the model's parameters (safetensors)"),
      cl::value_desc("file"), cl::Required, cl::cat(cat));
  cl::list<std::string> inputs(
      "input", cl::desc("An input of the function, in order (.npy)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::list<std::string> outputs(
      "output",
      cl::desc("Where to write each result of the function, in order (.npy)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> function("function", cl::desc("The function to run"),
                                cl::value_desc("name"), cl::init("forward"),
                                cl::cat(cat));
  if (!parseCommandLine(argc, argv,
                        "Runs a resnet-dialect model with the reference "
                        "evaluator, the numerical oracle of resnetc.\n"))
    return 1;

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  ModelFile file;
  if (!loadModelFile(model, context, file))
    return 1;
  mlir::OwningOpRef<mlir::ModuleOp> &module = file.module;
  if (failed(mlir::verify(*module)))
    return reportError("'" + model + "' does not verify");

  auto func = module->lookupSymbol<mlir::func::FuncOp>(function);
  if (!func)
    return reportError("'" + model + "' has no function @" + function);
  if (outputs.size() != func.getNumResults())
    return reportError("@" + function + " has " + Twine(func.getNumResults()) +
                       " results, but " + Twine(outputs.size()) +
                       " --output files were given");

  std::string error;
  std::unique_ptr<SafetensorsFile> weights =
      SafetensorsFile::open(weightsPath, error);
  if (!weights)
    return reportError(error);

  std::vector<HostTensor> values;
  for (const std::string &path : inputs) {
    Expected<HostTensor> input = readInput(path);
    if (!input)
      return reportError(input.takeError());
    values.push_back(std::move(*input));
  }

  Expected<std::vector<HostTensor>> results =
      evaluate(*module, *weights, values, function);
  if (!results)
    return reportError(results.takeError());

  // All or nothing: if one output cannot be written, remove those written.
  for (auto [index, path] : llvm::enumerate(outputs)) {
    const HostTensor &result = (*results)[index];
    const void *data = result.isInt
                           ? static_cast<const void *>(result.i32.data())
                           : result.f32.data();
    if (!writeNpy(path, result.isInt ? DType::I32 : DType::F32, result.shape,
                  data, error)) {
      for (size_t written = 0; written < index; ++written)
        sys::fs::remove(outputs[written]);
      return reportError(error);
    }
  }
  return 0;
}
