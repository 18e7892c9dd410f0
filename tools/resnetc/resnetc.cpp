//===- resnetc.cpp - The resnetc driver -------------------------*- C++ -*-===//
//
// `resnetc SUBCOMMAND [options]`, in the style of Toy's toyc: each stage of
// the compiler reachable from one tool.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include <dlfcn.h>
#include <type_traits>

#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

#ifndef RESNETC_VERSION
#define RESNETC_VERSION "unknown"
#endif

using namespace resnetc;

namespace {

struct Subcommand {
  llvm::StringLiteral name;
  llvm::StringLiteral summary;
  int (*run)(int, char **);
};

const Subcommand kSubcommands[] = {
    {"new", "build a ResNet definition as resnet-dialect MLIR (+ weights)",
     runNew},
    {"import", "import an ONNX ResNet as resnet-dialect MLIR (+ weights)",
     runImport},
    {"eval", "run a model with the reference evaluator (.npy in, .npy out)",
     runEval},
    {"compile", "compile a model to a library and a C header", runCompile},
    {"run", "run a compiled model on .npy images; --bench to time it", runRun},
    {"reshape-head", "give a model's classifier a new number of classes",
     runReshapeHead},
    {"train", "train a model compiled with --train on .npy images", runTrain},
};

void printUsage(llvm::raw_ostream &os) {
  os << "OVERVIEW: resnetc " RESNETC_VERSION
        " - a compile-time graph compiler for ResNet models\n\n"
        "USAGE: resnetc SUBCOMMAND [options]\n\nSUBCOMMANDS:\n";
  for (const Subcommand &sub : kSubcommands)
    os << "  " << llvm::left_justify(sub.name, 14) << sub.summary << "\n";
  os << "\nRun 'resnetc SUBCOMMAND --help' for the options of one, and "
        "'resnetc --version' for the version.\n";
}

} // namespace

llvm::cl::OptionCategory &resnetc::commandCategory() {
  static llvm::cl::OptionCategory category("resnetc options");
  return category;
}

bool resnetc::parseCommandLine(int argc, char **argv,
                               llvm::StringRef overview) {
  llvm::cl::HideUnrelatedOptions(commandCategory());
  return llvm::cl::ParseCommandLineOptions(argc, argv, overview, &llvm::errs());
}

int resnetc::reportError(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "resnetc") << message << "\n";
  return 1;
}

int resnetc::reportError(llvm::Error error) {
  return reportError(llvm::toString(std::move(error)));
}

bool resnetc::parseImageSize(llvm::StringRef text,
                             std::optional<int64_t> &height,
                             std::optional<int64_t> &width) {
  auto [h, w] = text.split('x');
  int64_t value;
  if (h.getAsInteger(10, value))
    return false;
  height = value;
  if (w.empty())
    return true;
  if (w.getAsInteger(10, value))
    return false;
  width = value;
  return true;
}

bool resnetc::loadModelFile(const std::string &path, mlir::MLIRContext &context,
                            ModelFile &model) {
  std::string errorMessage;
  auto file = mlir::openInputFile(path, &errorMessage);
  if (!file) {
    reportError(errorMessage);
    return false;
  }
  model.sourceMgr = std::make_shared<llvm::SourceMgr>();
  model.sourceMgr->AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  model.diagnostics = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      *model.sourceMgr, &context);
  model.module =
      mlir::parseSourceFile<mlir::ModuleOp>(model.sourceMgr, &context);
  if (!model.module) {
    reportError("cannot parse '" + path + "'");
    return false;
  }
  return true;
}

bool resnetc::checkWritable(std::initializer_list<std::string> paths) {
  for (const std::string &path : paths) {
    if (path.empty() || path == "-")
      continue;
    llvm::SmallString<256> dir(path);
    llvm::sys::path::remove_filename(dir);
    if (dir.empty())
      dir = ".";
    if (llvm::sys::fs::access(dir, llvm::sys::fs::AccessMode::Write)) {
      reportError("cannot write '" + path + "': its directory '" + dir +
                  "' does not exist or is not writable");
      return false;
    }
  }
  return true;
}

llvm::Expected<std::string> resnetc::findModelName(llvm::StringRef dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::StringRef file = llvm::sys::path::filename(it->path());
    if (file.consume_front("lib") && file.consume_back(".so"))
      names.push_back(file.str());
  }
  if (ec)
    return llvm::createStringError("cannot read '" + dir +
                                   "': " + ec.message());
  if (names.size() != 1)
    return llvm::createStringError(
        "expected one compiled model (libN.so) in '" + dir + "', found " +
        std::to_string(names.size()) + "; pass --name");
  return names.front();
}

void *resnetc::ModelLibrary::symbol(const std::string &suffix) const {
  return dlsym(handle, (name + "_" + suffix).c_str());
}

llvm::Expected<void *>
resnetc::ModelLibrary::createModel(const std::string &weights,
                                   int threads) const {
  void *model = nullptr;
  std::string message;
  if (create(&model, weights.c_str()))
    message = model ? lastError(model) : "out of memory";
  else if (threads > 0 && setNumThreads(model, threads))
    message = lastError(model);
  else
    return model;
  if (model)
    destroy(model);
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<resnetc::ModelLibrary>
resnetc::loadModelLibrary(llvm::StringRef dir, llvm::StringRef name) {
  ModelLibrary lib;
  lib.name = name.str();
  if (lib.name.empty()) {
    auto found = findModelName(dir);
    if (!found)
      return found.takeError();
    lib.name = *found;
  }
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "lib" + lib.name + ".so");
  lib.path = std::string(path);
  lib.handle = dlopen(lib.path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib.handle)
    return llvm::createStringError("cannot load '" + lib.path +
                                   "': " + dlerror());
  auto bind = [&](auto &fn, const char *suffix) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        lib.symbol(suffix));
    return fn != nullptr;
  };
  if (!bind(lib.create, "create") || !bind(lib.forward, "forward") ||
      !bind(lib.setNumThreads, "set_num_threads") ||
      !bind(lib.lastError, "last_error") || !bind(lib.destroy, "destroy"))
    return llvm::createStringError(
        "'" + lib.path + "' lacks the C API of model '" + lib.name + "'");
  return lib;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  if (argc < 2) {
    printUsage(llvm::errs());
    return 1;
  }
  llvm::StringRef first = argv[1];
  if (first == "--help" || first == "-help" || first == "-h") {
    printUsage(llvm::outs());
    return 0;
  }
  if (first == "--version" || first == "-version") {
    llvm::outs() << "resnetc " RESNETC_VERSION "\n";
    return 0;
  }
  for (const Subcommand &sub : kSubcommands) {
    if (first != sub.name)
      continue;
    std::string program = ("resnetc " + sub.name).str();
    argv[1] = program.data();
    return sub.run(argc - 1, argv + 1);
  }
  reportError("unknown subcommand '" + first + "'");
  printUsage(llvm::errs());
  return 1;
}
