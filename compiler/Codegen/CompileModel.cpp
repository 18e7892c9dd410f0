//===- CompileModel.cpp - From a ModelPlan to a library -------------------===//
//
// Kernels compile in child processes (Halide's compiler is heavy and the
// machine's cores are few: one process per core). The library is then put
// together with the system's C compiler and binutils:
//   N_plan.c      the plan's tables and the C API   (cc)
//   N_all.o       plan + kernels + Halide runtime + resnetc runtime +
//                 libstdc++, prelinked (ld -r) and with every symbol but
//                 the API made local, so a C program links it alone
//   libN.a        N_all.o                           (ar)
//   libN.so       N_all.o, exporting the API only   (cc -shared)
//
//===----------------------------------------------------------------------===//
#include "compiler/Codegen/CompileModel.h"

#include "schedules/Kernels.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <sys/wait.h>
#include <unistd.h>

using namespace llvm;

namespace resnetc {
namespace {

std::string pathJoin(const Twine &a, const Twine &b) {
  SmallString<256> path;
  sys::path::append(path, a, b);
  return std::string(path);
}

Error writeFile(const std::string &path, const std::string &text) {
  return writeToOutput(path, [&](raw_ostream &os) {
    os << text;
    return Error::success();
  });
}

/// Runs `program` with `args`, capturing its output for the error message.
Error runTool(StringRef program, ArrayRef<std::string> args,
              const std::string &logPath) {
  auto path = sys::findProgramByName(program);
  if (!path)
    return createStringError("cannot find '" + program + "' on PATH");
  SmallVector<StringRef> argv = {*path};
  for (const std::string &a : args)
    argv.push_back(a);
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string message;
  int rc =
      sys::ExecuteAndWait(*path, argv, std::nullopt, redirects, 0, 0, &message);
  if (rc == 0)
    return Error::success();
  std::string log;
  if (auto buffer = MemoryBuffer::getFile(logPath))
    log = (*buffer)->getBuffer().str();
  std::string command = llvm::join(argv, " ");
  return createStringError(
      program + " failed (" +
      (message.empty() ? "exit " + std::to_string(rc) : message) +
      "): " + command + "\n" + log);
}

/// A phase timer reporting to options.onPhase.
class Phase {
public:
  Phase(const CompileOptions &options, std::string name)
      : options(options), name(std::move(name)),
        start(std::chrono::steady_clock::now()) {}
  ~Phase() {
    if (options.onPhase)
      options.onPhase(name, std::chrono::duration<double>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  }

private:
  const CompileOptions &options;
  std::string name;
  std::chrono::steady_clock::time_point start;
};

struct Job {
  std::string name;
  std::function<bool(std::string &)> work;
  std::string errorPath;
};

/// Runs `jobs` in at most `parallel` child processes; a child reports
/// failure by its exit status and its message in a file.
Error runInProcesses(std::vector<Job> &jobs, int parallel) {
  std::map<pid_t, size_t> running;
  std::string firstError;
  auto reap = [&]() {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR)
        return;
      // No children to wait for: nothing can finish any more.
      if (firstError.empty())
        firstError = std::string("waitpid failed: ") + std::strerror(errno);
      running.clear();
      return;
    }
    auto it = running.find(pid);
    if (it == running.end())
      return;
    size_t index = it->second;
    running.erase(it);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      return;
    if (!firstError.empty())
      return;
    auto buffer = MemoryBuffer::getFile(jobs[index].errorPath);
    firstError = buffer ? (*buffer)->getBuffer().str()
                        : "compiling " + jobs[index].name + " crashed";
  };
  for (size_t i = 0; i < jobs.size() && firstError.empty(); ++i) {
    while (int(running.size()) >= parallel)
      reap();
    llvm::outs().flush();
    llvm::errs().flush();
    pid_t pid = fork();
    if (pid < 0)
      return createStringError("fork failed");
    if (pid == 0) {
      std::string error;
      bool ok = jobs[i].work(error);
      if (!ok) {
        std::error_code ec;
        raw_fd_ostream os(jobs[i].errorPath, ec);
        os << error;
      }
      _exit(ok ? 0 : 1);
    }
    running[pid] = i;
  }
  while (!running.empty())
    reap();
  if (!firstError.empty())
    return createStringError(firstError);
  return Error::success();
}

/// Compiled objects kept across runs: DIR/<hash>.o, the hash of what the
/// object is (a kernel's signature, or the runtime), the target and the
/// compiler build. Best effort: a cache that cannot be read or written is
/// the same as none. Entries appear by atomic rename, so concurrent
/// compiles share it safely.
class KernelCache {
public:
  explicit KernelCache(const CompileOptions &options)
      : options(options),
        enabled(!options.cacheDir.empty() && !options.kernelsOnly) {}

  /// The cached object for `what`, or "".
  std::string lookup(const std::string &what) const {
    if (!enabled)
      return "";
    std::string path = pathOf(what);
    return sys::fs::exists(path) ? path : "";
  }

  /// Copies `object` into the cache (in a child process: no shared state).
  void store(const std::string &what, const std::string &object) const {
    if (!enabled || sys::fs::create_directories(options.cacheDir))
      return;
    std::string path = pathOf(what);
    std::string temporary = path + ".tmp." + std::to_string(::getpid());
    if (sys::fs::copy_file(object, temporary) ||
        sys::fs::rename(temporary, path))
      sys::fs::remove(temporary);
  }

private:
  std::string pathOf(const std::string &what) const {
    std::string key =
        what + "\n" + options.halideTarget + "\n" + options.compilerId;
    return pathJoin(options.cacheDir,
                    utohexstr(xxh3_64bits(key), /*LowerCase=*/true) + ".o");
  }

  const CompileOptions &options;
  bool enabled;
};

} // namespace

Error compileModel(const ModelPlan &plan, const CompileOptions &options) {
  const std::string &n = plan.name;
  if (std::error_code ec = sys::fs::create_directories(options.outputDir))
    return createStringError("cannot create '" + options.outputDir +
                             "': " + ec.message());
  // createUniqueDirectory puts a relative prefix under the system temporary
  // directory, not the current one: make it absolute first.
  SmallString<256> prefix(pathJoin(options.outputDir, "." + n + "-build"));
  SmallString<256> work;
  if (std::error_code ec = sys::fs::make_absolute(prefix))
    return createStringError("cannot create a work directory in '" +
                             options.outputDir + "': " + ec.message());
  if (std::error_code ec = sys::fs::createUniqueDirectory(prefix, work))
    return createStringError("cannot create a work directory in '" +
                             options.outputDir + "': " + ec.message());
  std::string workDir(work);
  auto cleanup = llvm::make_scope_exit(
      [&] { sys::fs::remove_directories(workDir, /*IgnoreErrors=*/true); });

  // 1. Kernels and the Halide runtime, in parallel.
  std::vector<std::string> objects;
  {
    Phase phase(options,
                "kernels (" + std::to_string(plan.kernels.size()) + " unique)");
    std::vector<Job> jobs;
    KernelCache cache(options);
    for (size_t i = 0; i < plan.kernels.size(); ++i) {
      std::string name = plan.kernelName(int(i));
      const KernelSpec &spec = plan.kernels[i];
      std::string cached = cache.lookup(spec.key());
      if (!cached.empty()) {
        objects.push_back(cached);
        continue;
      }
      std::string object = pathJoin(workDir, name + ".o");
      std::string assembly =
          options.kernelsOnly ? pathJoin(workDir, name + ".s") : "";
      objects.push_back(object);
      jobs.push_back({name + " (" + spec.key() + ")",
                      [&, spec, name, object, assembly](std::string &error) {
                        if (!compileKernel(spec, name, options.halideTarget,
                                           object, error, assembly))
                          return false;
                        cache.store(spec.key(), object);
                        return true;
                      },
                      pathJoin(workDir, name + ".err")});
    }
    if (!options.kernelsOnly) {
      std::string runtime = cache.lookup("halide runtime");
      if (runtime.empty()) {
        runtime = pathJoin(workDir, "halide_runtime.o");
        jobs.push_back(
            {"the Halide runtime",
             [&, runtime](std::string &error) {
               if (!compileHalideRuntime(options.halideTarget, runtime, error))
                 return false;
               cache.store("halide runtime", runtime);
               return true;
             },
             pathJoin(workDir, "halide_runtime.err")});
      }
      objects.push_back(runtime);
    }
    if (Error error = runInProcesses(jobs, std::max(1, options.jobs)))
      return error;
  }

  if (options.kernelsOnly) {
    Phase phase(options, "write kernels");
    for (size_t i = 0; i < plan.kernels.size(); ++i)
      for (const char *ext : {".o", ".s"}) {
        std::string file = plan.kernelName(int(i)) + ext;
        if (std::error_code ec = sys::fs::rename(
                pathJoin(workDir, file), pathJoin(options.outputDir, file)))
          return createStringError("cannot write '" +
                                   pathJoin(options.outputDir, file) +
                                   "': " + ec.message());
      }
    return Error::success();
  }

  // 2. The plan and the API, in C.
  std::string log = pathJoin(workDir, "tool.log");
  std::string header = pathJoin(workDir, n + ".h");
  std::string source = pathJoin(workDir, n + "_plan.c");
  std::string planObject = pathJoin(workDir, n + "_plan.o");
  {
    Phase phase(options, "plan and C API");
    if (Error error = writeFile(header, emitHeader(plan)))
      return error;
    if (Error error = writeFile(source, emitPlanSource(plan)))
      return error;
    if (Error error =
            runTool("cc",
                    {"-std=c99", "-O2", "-fPIC", "-c", source, "-I", workDir,
                     "-I", options.runtimeIncludeDir, "-o", planObject},
                    log))
      return error;
    objects.insert(objects.begin(), planObject);
  }

  // 3. One self-contained object, then the two libraries.
  std::string all = pathJoin(workDir, n + "_all.o");
  std::string archive = pathJoin(workDir, "lib" + n + ".a");
  std::string shared = pathJoin(workDir, "lib" + n + ".so");
  {
    Phase phase(options, "link");
    std::string runtimeLib =
        pathJoin(options.runtimeLibDir, "libResnetcRuntime.a");
    if (!sys::fs::exists(runtimeLib))
      return createStringError("cannot find resnetc's runtime at '" +
                               runtimeLib + "'");
    // libstdc++ and libgcc_eh go in too, made local below: the runtime is
    // C++, the library's users need not be.
    std::vector<std::string> args = {"-r", "-nostdlib", "-o", all};
    args.insert(args.end(), objects.begin(), objects.end());
    args.insert(args.end(),
                {"-Wl,--whole-archive", runtimeLib, "-Wl,--no-whole-archive",
                 "-Wl,-lstdc++", "-Wl,-lgcc_eh", "-Wl,-lgcc"});
    if (Error error = runTool("c++", args, log))
      return error;
    std::vector<std::string> keep;
    std::vector<std::string> api = {"create",      "forward", "set_num_threads",
                                    "last_error",  "destroy", "input_shape",
                                    "output_shape"};
    if (plan.hasTraining())
      api.insert(api.end(), {"train_step", "save"});
    for (const std::string &fn : api)
      keep.push_back("--keep-global-symbol=" + n + "_" + fn);
    keep.push_back(all);
    if (Error error = runTool("objcopy", keep, log))
      return error;
    if (Error error = runTool("ar", {"rcs", archive, all}, log))
      return error;
    if (Error error = runTool(
            "cc", {"-shared", "-o", shared, all, "-lpthread", "-ldl", "-lm"},
            log))
      return error;
  }

  // 4. Move the results into place, the header last: a header always
  // describes the libraries beside it.
  for (const std::string &file : {archive, shared, header}) {
    std::string target = pathJoin(options.outputDir, sys::path::filename(file));
    if (std::error_code ec = sys::fs::rename(file, target))
      return createStringError("cannot write '" + target +
                               "': " + ec.message());
  }
  return Error::success();
}

} // namespace resnetc
