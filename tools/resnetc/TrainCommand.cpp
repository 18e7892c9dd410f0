//===- TrainCommand.cpp - resnetc train -------------------------*- C++ -*-===//
//
// Trains a model compiled with `resnetc compile --train`: loads DIR/libN.so
// with dlopen, feeds N_train_step batches of .npy images as torch's
// DataLoader would (in order unless --shuffle, the last partial batch
// dropped), reports progress and validation accuracy, and saves the
// weights with N_save once, at the end.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "compiler/Frontend/Random.h"
#include "resnetc/runtime/Npy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <numeric>
#include <vector>

using namespace llvm;

namespace {

/// The C API of a model compiled with --train, looked up by name.
struct TrainApi : resnetc::ModelLibrary {
  int (*trainStep)(void *, const float *, const int32_t *, float,
                   float *) = nullptr;
  int (*save)(void *, const char *) = nullptr;
};

/// The compiled shapes: images NxCxHxW, logits NxCLASSES.
struct ModelShapes {
  int64_t batch = 0, channels = 0, height = 0, width = 0, classes = 0;

  int64_t imageSize() const { return channels * height * width; }
};

/// Reads the shapes from the symbols N_input_shape and N_output_shape, or,
/// for a library without them, from the macros of DIR/N.h.
Expected<ModelShapes> readShapes(void *handle, StringRef dir,
                                 const std::string &name) {
  ModelShapes shapes;
  auto *in = static_cast<const int32_t *>(
      dlsym(handle, (name + "_input_shape").c_str()));
  auto *out = static_cast<const int32_t *>(
      dlsym(handle, (name + "_output_shape").c_str()));
  if (in && out) {
    shapes = {in[0], in[1], in[2], in[3], out[1]};
  } else {
    SmallString<256> headerPath(dir);
    sys::path::append(headerPath, name + ".h");
    auto header = MemoryBuffer::getFile(headerPath);
    if (!header)
      return createStringError("cannot read '" + headerPath + "'");
    auto macro = [&](StringRef suffix) -> int64_t {
      std::string key =
          "#define " + StringRef(name).upper() + "_" + suffix.str() + " ";
      StringRef text = (*header)->getBuffer();
      size_t at = text.find(key);
      int64_t value = -1;
      if (at != StringRef::npos)
        (void)text.substr(at + key.size())
            .split('\n')
            .first.trim()
            .getAsInteger(10, value);
      return value;
    };
    shapes = {macro("BATCH"), macro("CHANNELS"), macro("HEIGHT"),
              macro("WIDTH"), macro("CLASSES")};
  }
  if (shapes.batch < 1 || shapes.channels < 1 || shapes.height < 1 ||
      shapes.width < 1 || shapes.classes < 1)
    return createStringError("cannot read the shapes of model '" + name +
                             "' in '" + dir + "'");
  return shapes;
}

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// A data set: images as float32 Nx(C*H*W), labels as int32 checked to lie
/// in [0, classes).
struct DataSet {
  std::vector<float> images;
  std::vector<int32_t> labels;
  int64_t size = 0;
};

Expected<DataSet> readDataSet(const std::string &imagesPath,
                              const std::string &labelsPath,
                              const ModelShapes &shapes) {
  DataSet data;
  resnetc::NpyArray images, labels;
  std::string error;
  if (!resnetc::readNpy(imagesPath, images, error))
    return createStringError(error);
  std::vector<int64_t> want = {shapes.channels, shapes.height, shapes.width};
  if (images.dtype != resnetc::DType::F32 || images.shape.size() != 4 ||
      !std::equal(want.begin(), want.end(), images.shape.begin() + 1))
    return createStringError(
        "'" + imagesPath + "' must be a float32 array of shape [N, " +
        std::to_string(want[0]) + ", " + std::to_string(want[1]) + ", " +
        std::to_string(want[2]) + "], got " + resnetc::dtypeName(images.dtype) +
        " " + shapeText(images.shape));
  data.size = images.shape[0];

  if (!resnetc::readNpy(labelsPath, labels, error))
    return createStringError(error);
  bool isI64 = labels.dtype == resnetc::DType::I64;
  if ((!isI64 && labels.dtype != resnetc::DType::I32) ||
      labels.shape.size() != 1)
    return createStringError(
        "'" + labelsPath + "' must be a 1-D int64 or int32 array, got " +
        resnetc::dtypeName(labels.dtype) + " " + shapeText(labels.shape));
  if (labels.shape[0] != data.size)
    return createStringError("'" + labelsPath + "' holds " +
                             std::to_string(labels.shape[0]) + " labels but '" +
                             imagesPath + "' holds " +
                             std::to_string(data.size) + " images");
  data.labels.resize(data.size);
  for (int64_t i = 0; i < data.size; ++i) {
    int64_t label;
    if (isI64)
      std::memcpy(&label, labels.bytes.data() + i * 8, 8);
    else
      label = labels.i32()[i];
    if (label < 0 || label >= shapes.classes)
      return createStringError(
          "'" + labelsPath + "': label " + std::to_string(label) +
          " at index " + std::to_string(i) +
          " is out of range; the model "
          "has " +
          std::to_string(shapes.classes) + " classes (0.." +
          std::to_string(shapes.classes - 1) + ")");
    data.labels[i] = static_cast<int32_t>(label);
  }
  data.images.assign(images.f32(), images.f32() + images.numElements());
  return data;
}

/// "1:05" or "1:02:05".
std::string clockText(double seconds) {
  long total = std::lround(std::max(0.0, seconds));
  char text[32];
  if (total >= 3600)
    snprintf(text, sizeof(text), "%ld:%02ld:%02ld", total / 3600,
             total / 60 % 60, total % 60);
  else
    snprintf(text, sizeof(text), "%ld:%02ld", total / 60, total % 60);
  return text;
}

/// The per-step progress bar on stderr: redrawn in place on a terminal,
/// otherwise one line about every tenth of an epoch.
class Progress {
public:
  Progress(int64_t epochs, int64_t steps, int64_t batch)
      : epochs(epochs), steps(steps), batch(batch),
        tty(sys::Process::StandardErrIsDisplayed()),
        every(std::max<int64_t>(1, steps / 10)) {}

  void startEpoch() { start = std::chrono::steady_clock::now(); }

  void step(int64_t epoch, int64_t step, float loss) {
    bool last = step == steps;
    if (!tty && step % every != 0 && !last)
      return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    double perStep = seconds / step;
    double left = perStep * ((steps - step) + (epochs - epoch) * steps);
    constexpr int kWidth = 20;
    int filled = static_cast<int>(kWidth * step / steps);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::string line =
        formatv("epoch {0}/{1} [{2}] step {3}/{4}  loss {5:f4}  {6:f1} "
                "images/s  ETA {7}",
                epoch, epochs, bar, step, steps, loss,
                seconds > 0 ? step * batch / seconds : 0.0, clockText(left))
            .str();
    if (tty)
      errs() << "\r" << line << "\x1b[K" << (last ? "\n" : "");
    else
      errs() << line << "\n";
    errs().flush();
  }

private:
  int64_t epochs, steps, batch;
  bool tty;
  int64_t every;
  std::chrono::steady_clock::time_point start;
};

} // namespace

int resnetc::runTrain(int argc, char **argv) {
  cl::OptionCategory &cat = commandCategory();
  cl::opt<std::string> dir(
      cl::Positional, cl::Required,
      cl::desc("<dir> (the output of resnetc compile --train)"), cl::cat(cat));
  cl::opt<std::string> name("name",
                            cl::desc("Model name (default: the one "
                                     "libN.so in DIR)"),
                            cl::cat(cat));
  cl::opt<std::string> weights("weights", cl::Required,
                               cl::desc("Initial weights (safetensors)"),
                               cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> imagesPath(
      "images", cl::Required,
      cl::desc("Training images (.npy, float32 NxCxHxW)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> labelsPath(
      "labels", cl::Required,
      cl::desc("Training labels (.npy, int64 or int32, N)"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<int64_t> epochs("epochs", cl::desc("Passes over the training set"),
                          cl::init(1), cl::cat(cat));
  cl::opt<int64_t> batch(
      "batch",
      cl::desc("Batch size; must be the model's (default: the model's)"),
      cl::init(0), cl::cat(cat));
  cl::opt<double> lr("lr", cl::Required, cl::desc("Learning rate"),
                     cl::cat(cat));
  cl::opt<bool> shuffle("shuffle",
                        cl::desc("Shuffle the training set every epoch"),
                        cl::cat(cat));
  cl::opt<uint64_t> seed("seed", cl::desc("Seed of --shuffle"), cl::init(0),
                         cl::cat(cat));
  cl::opt<std::string> valImagesPath(
      "val-images", cl::desc("Validation images (.npy), with --val-labels"),
      cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> valLabelsPath("val-labels",
                                     cl::desc("Validation labels (.npy)"),
                                     cl::value_desc("file"), cl::cat(cat));
  cl::opt<std::string> savePath(
      "save",
      cl::desc("Write the trained weights here at the end (safetensors)"),
      cl::value_desc("file"), cl::cat(cat));
  // An LLVM library linked into resnetc registers a global --threads of its
  // own; `train` takes the name for the model's.
  cl::getRegisteredOptions().erase("threads");
  cl::opt<int> threads("threads", cl::desc("Threads (default: all cores)"),
                       cl::init(0), cl::cat(cat));
  if (!parseCommandLine(argc, argv,
                        "Trains a model compiled with resnetc compile "
                        "--train: SGD on .npy images, with a progress bar "
                        "and validation accuracy per epoch.\n"))
    return 1;

  if (epochs < 1)
    return reportError("--epochs must be positive, got " +
                       Twine(int64_t(epochs)));
  if (batch < 0)
    return reportError("--batch must be positive, got " +
                       Twine(int64_t(batch)));
  if (!std::isfinite(lr) || lr < 0)
    return reportError("--lr must be a finite, non-negative number");
  if (valImagesPath.empty() != valLabelsPath.empty())
    return reportError("--val-images and --val-labels go together");
  // Fail before training, not after it.
  if (!checkWritable({savePath}))
    return 1;

  Expected<resnetc::ModelLibrary> loaded = resnetc::loadModelLibrary(dir, name);
  if (!loaded)
    return reportError(loaded.takeError());
  TrainApi api;
  static_cast<resnetc::ModelLibrary &>(api) = *loaded;
  const std::string &modelName = api.name;
  const std::string &library = api.path;
  void *handle = api.handle;
  auto bind = [&](auto &fn, const char *suffix) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
        api.symbol(suffix));
    return fn != nullptr;
  };
  if (!bind(api.trainStep, "train_step") || !bind(api.save, "save"))
    return reportError("'" + library + "' cannot train: it lacks " + modelName +
                       "_train_step or " + modelName +
                       "_save; compile the model with resnetc compile "
                       "--train");

  Expected<ModelShapes> shapes = readShapes(handle, dir, modelName);
  if (!shapes)
    return reportError(shapes.takeError());
  int64_t modelBatch = shapes->batch;
  if (batch != 0 && batch != modelBatch)
    return reportError("--batch " + Twine(int64_t(batch)) +
                       " differs from the batch size the model was "
                       "compiled for (" +
                       Twine(modelBatch) +
                       "); rebuild it with resnetc new --batch " +
                       Twine(int64_t(batch)));

  Expected<DataSet> train = readDataSet(imagesPath, labelsPath, *shapes);
  if (!train)
    return reportError(train.takeError());
  int64_t steps = train->size / modelBatch;
  if (steps == 0)
    return reportError("'" + imagesPath + "' holds " + Twine(train->size) +
                       " images, fewer than one batch of " + Twine(modelBatch));
  std::optional<DataSet> val;
  if (!valImagesPath.empty()) {
    Expected<DataSet> read = readDataSet(valImagesPath, valLabelsPath, *shapes);
    if (!read)
      return reportError(read.takeError());
    if (read->size == 0)
      return reportError("'" + valImagesPath + "' holds no images");
    val = std::move(*read);
  }

  llvm::Expected<void *> created = api.createModel(weights, threads);
  if (!created)
    return reportError(created.takeError());
  void *model = *created;
  auto finish = [&](int rc) {
    api.destroy(model);
    return rc;
  };

  int64_t imageSize = shapes->imageSize();
  std::vector<float> images(modelBatch * imageSize);
  std::vector<int32_t> labels(modelBatch);
  std::vector<float> logits(modelBatch * shapes->classes);

  // Accuracy with N_forward, batch by batch; a final partial batch is
  // padded with zeros and its extra logits ignored.
  auto validate = [&](const DataSet &data, int64_t &correct) -> bool {
    correct = 0;
    for (int64_t first = 0; first < data.size; first += modelBatch) {
      int64_t count = std::min(modelBatch, data.size - first);
      std::fill(images.begin(), images.end(), 0.0f);
      std::copy(data.images.begin() + first * imageSize,
                data.images.begin() + (first + count) * imageSize,
                images.begin());
      if (api.forward(model, images.data(), logits.data()))
        return false;
      for (int64_t i = 0; i < count; ++i) {
        const float *row = logits.data() + i * shapes->classes;
        int64_t best = std::max_element(row, row + shapes->classes) - row;
        correct += best == data.labels[first + i];
      }
    }
    return true;
  };

  std::vector<int64_t> order(train->size);
  std::iota(order.begin(), order.end(), 0);
  Random random(seed);
  Progress progress(epochs, steps, modelBatch);
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    if (shuffle) {
      // Fisher-Yates with resnetc's own generator: the same order on
      // every platform for a given seed.
      for (int64_t i = train->size - 1; i > 0; --i) {
        auto j = static_cast<int64_t>(random.uniform() * double(i + 1));
        std::swap(order[i], order[std::min(j, i)]);
      }
    }
    progress.startEpoch();
    double lossSum = 0;
    for (int64_t step = 1; step <= steps; ++step) {
      for (int64_t i = 0; i < modelBatch; ++i) {
        int64_t index = order[(step - 1) * modelBatch + i];
        std::copy(train->images.begin() + index * imageSize,
                  train->images.begin() + (index + 1) * imageSize,
                  images.begin() + i * imageSize);
        labels[i] = train->labels[index];
      }
      float loss = 0;
      if (api.trainStep(model, images.data(), labels.data(),
                        static_cast<float>(lr), &loss))
        return finish(reportError("epoch " + Twine(epoch) + ", step " +
                                  Twine(step) + ": " + api.lastError(model)));
      if (!std::isfinite(loss))
        return finish(reportError(
            "the loss is " + Twine(std::isnan(loss) ? "NaN" : "infinite") +
            " at epoch " + Twine(epoch) + ", step " + Twine(step) + " of " +
            Twine(steps) + "; training stopped" +
            (savePath.empty() ? "" : ", nothing saved") +
            " (try a smaller --lr)"));
      lossSum += loss;
      progress.step(epoch, step, loss);
    }
    outs() << formatv("epoch {0}: loss {1:f4}", epoch, lossSum / steps);
    if (val) {
      int64_t correct;
      if (!validate(*val, correct))
        return finish(reportError("validation after epoch " + Twine(epoch) +
                                  ": " + api.lastError(model)));
      outs() << formatv(", val accuracy {0:f4} ({1}/{2})",
                        double(correct) / double(val->size), correct,
                        val->size);
    }
    outs() << "\n";
    outs().flush();
  }

  if (!savePath.empty()) {
    if (api.save(model, savePath.c_str()))
      return finish(reportError(api.lastError(model)));
    outs() << "saved " << savePath << "\n";
  }
  return finish(0);
}
