//===- Commands.h - resnetc's subcommands -----------------------*- C++ -*-===//
//
// Each subcommand parses its own options: they are declared inside its run
// function, so `resnetc SUB --help` lists that subcommand's options only.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_TOOLS_RESNETC_COMMANDS_H
#define RESNETC_TOOLS_RESNETC_COMMANDS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

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

int runNew(int argc, char **argv);
int runEval(int argc, char **argv);
int runCompile(int argc, char **argv);
int runRun(int argc, char **argv);
int runImport(int argc, char **argv);

} // namespace resnetc

#endif // RESNETC_TOOLS_RESNETC_COMMANDS_H
