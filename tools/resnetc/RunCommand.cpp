//===- RunCommand.cpp - resnetc run -----------------------------*- C++ -*-===//
//
// Loads DIR/libN.so with dlopen and runs it on .npy images, as a user's
// program would through N.h; with --bench, times it.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "resnetc/runtime/Npy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <dlfcn.h>
#include <vector>

using namespace llvm;

namespace {} // namespace

int resnetc::runRun(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  cl::opt<std::string> dir(cl::Positional, cl::Required,
                           cl::desc("<dir> (the output of resnetc compile)"),
                           cl::cat(cat));
  cl::opt<std::string> name("name",
                            cl::desc("Model name (default: the one "
                                     "libN.so in DIR)"),
                            cl::cat(cat));
  cl::opt<std::string> weights("weights", cl::Required,
                               cl::desc("Weights (safetensors)"),
                               cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> input("input",
                             cl::desc("Images (.npy, float32 NCHW; "
                                      "default zeros)"),
                             cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> output("output", cl::desc("Logits (.npy)"),
                              cl::value_desc("file"), cl::cat(cat));
  // An LLVM library linked into resnetc registers a global --threads of its
  // own; `run` has no use for it and takes the name for the model's.
  cl::getRegisteredOptions().erase("threads");
  cl::opt<int> threads("threads", cl::desc("Threads (default: all cores)"),
                       cl::init(0), cl::cat(cat));
  cl::opt<int> bench("bench",
                     cl::desc("Time N runs after a warm-up; print median, "
                              "min and max latency"),
                     cl::init(0), cl::cat(cat));
  if (!parseCommandLine(argc, argv, "Runs a compiled model.\n"))
    return 1;

  Expected<resnetc::ModelLibrary> loaded = resnetc::loadModelLibrary(dir, name);
  if (!loaded)
    return reportError(loaded.takeError());
  const resnetc::ModelLibrary &api = *loaded;
  const std::string &modelName = api.name;
  llvm::Expected<void *> created = api.createModel(weights, threads);
  if (!created)
    return reportError(created.takeError());
  void *model = *created;
  auto finish = [&](int rc) {
    api.destroy(model);
    return rc;
  };

  // The shapes come from the library's own header macros, which a dlopen
  // cannot see: read them from N.h.
  SmallString<256> headerPath(dir);
  sys::path::append(headerPath, modelName + ".h");
  auto headerText = MemoryBuffer::getFile(headerPath);
  if (!headerText)
    return finish(reportError("cannot read '" + headerPath + "'"));
  auto macro = [&](StringRef suffix) -> int64_t {
    std::string key =
        "#define " + StringRef(modelName).upper() + "_" + suffix.str() + " ";
    StringRef text = (*headerText)->getBuffer();
    size_t at = text.find(key);
    int64_t value = -1;
    if (at != StringRef::npos)
      text.substr(at + key.size())
          .split('\n')
          .first.trim()
          .getAsInteger(10, value);
    return value;
  };
  std::vector<int64_t> inShape = {macro("BATCH"), macro("CHANNELS"),
                                  macro("HEIGHT"), macro("WIDTH")};
  std::vector<int64_t> outShape = {macro("BATCH"), macro("CLASSES")};
  int64_t inSize = macro("INPUT_SIZE"), outSize = macro("OUTPUT_SIZE");
  bool shapesRead = inSize > 0 && outSize > 0;
  for (int64_t d : inShape)
    shapesRead &= d > 0;
  shapesRead &= outShape[1] > 0;
  if (!shapesRead)
    return finish(
        reportError("cannot read the shapes in '" + headerPath + "'"));

  std::vector<float> images(inSize, 0.0f), logits(outSize, 0.0f);
  if (!input.empty()) {
    resnetc::NpyArray array;
    std::string error;
    if (!resnetc::readNpy(input, array, error))
      return finish(reportError(error));
    if (array.dtype != resnetc::DType::F32 || array.shape != inShape) {
      std::string want;
      for (int64_t d : inShape)
        want += (want.empty() ? "" : ", ") + std::to_string(d);
      return finish(reportError("'" + input +
                                "' must be a float32 array of "
                                "shape [" +
                                want + "]"));
    }
    std::copy(array.f32(), array.f32() + inSize, images.begin());
  }

  if (api.forward(model, images.data(), logits.data()))
    return finish(reportError(api.lastError(model)));
  if (bench > 0) {
    std::vector<double> ms;
    for (int i = 0; i < bench; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (api.forward(model, images.data(), logits.data()))
        return finish(reportError(api.lastError(model)));
      ms.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    }
    std::sort(ms.begin(), ms.end());
    outs() << format("%s: median %.3f ms, min %.3f ms, max %.3f ms over %d "
                     "runs\n",
                     modelName.c_str(), ms[ms.size() / 2], ms.front(),
                     ms.back(), int(bench));
  }
  if (!output.empty()) {
    std::string error;
    if (!resnetc::writeNpy(output, resnetc::DType::F32, outShape, logits.data(),
                           error))
      return finish(reportError(error));
  }
  return finish(0);
}
