//===- Commands.h - resnetc's subcommands -----------------------*- C++ -*-===//
//
// Each subcommand parses its own options: they are declared inside its run
// function, so `resnetc SUB --help` lists that subcommand's options only.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_TOOLS_RESNETC_COMMANDS_H
#define RESNETC_TOOLS_RESNETC_COMMANDS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"

#include <initializer_list>
#include <memory>
#include <string>

#include <cstdint>
#include <optional>

namespace resnetc {

/// The options of every subcommand, shown by its --help.
llvm::cl::OptionCategory &commandCategory();

/// Parses argv (argv[0] is "resnetc SUB") showing only the subcommand's
/// options in --help. Returns false on a parse error (already reported).
bool parseCommandLine(int argc, char **argv, llvm::StringRef overview);

/// Prints "resnetc: error: MESSAGE" and returns 1.
int reportError(const llvm::Twine &message);
int reportError(llvm::Error error);

/// Parses "224" or "224x160" (height x width); false if malformed.
bool parseImageSize(llvm::StringRef text, std::optional<int64_t> &height,
                    std::optional<int64_t> &width);

/// A model read from a file, with the diagnostic handler that points
/// errors at its lines; keep it alive while passes run on the module.
struct ModelFile {
  std::shared_ptr<llvm::SourceMgr> sourceMgr;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> diagnostics;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

/// Parses the MLIR file `path` into `model`; on failure reports the error
/// (resnetc: error: ...) and returns false.
bool loadModelFile(const std::string &path, mlir::MLIRContext &context,
                   ModelFile &model);

/// Checks that each of `paths` (skipping "" and "-") lies in a writable
/// directory; otherwise reports which and returns false.
bool checkWritable(std::initializer_list<std::string> paths);

/// The model name N of the one libN.so in `dir` (the output of resnetc
/// compile), or an error naming what was found.
llvm::Expected<std::string> findModelName(llvm::StringRef dir);

/// The inference C API of a compiled model N, bound from DIR/libN.so.
struct ModelLibrary {
  std::string name, path;
  void *handle = nullptr;
  int (*create)(void **, const char *) = nullptr;
  int (*forward)(void *, const float *, float *) = nullptr;
  int (*setNumThreads)(void *, int) = nullptr;
  const char *(*lastError)(void *) = nullptr;
  void (*destroy)(void *) = nullptr;

  /// The library's symbol N_<suffix>, or null.
  void *symbol(const std::string &suffix) const;

  /// N_create with `weights`, then N_set_num_threads when `threads` > 0;
  /// on failure the model is destroyed and the error is N_last_error's.
  llvm::Expected<void *> createModel(const std::string &weights,
                                     int threads) const;
};

/// dlopens DIR/libN.so (N: `name`, or the one model in DIR) and binds its
/// inference API; an error names what is missing.
llvm::Expected<ModelLibrary> loadModelLibrary(llvm::StringRef dir,
                                              llvm::StringRef name);

int runNew(int argc, char **argv);
int runEval(int argc, char **argv);
int runCompile(int argc, char **argv);
int runRun(int argc, char **argv);
int runImport(int argc, char **argv);
int runReshapeHead(int argc, char **argv);
int runTrain(int argc, char **argv);

} // namespace resnetc

#endif // RESNETC_TOOLS_RESNETC_COMMANDS_H
