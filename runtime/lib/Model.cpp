//===- Model.cpp - The engine that runs a compiled model --------*- C++ -*-===//
//
// Everything a compiled model does at run time besides its kernels: map the
// weights, check each parameter's name and shape, allocate the prepared
// weights and the arena once, and call the kernels in the planned order.
//
//===----------------------------------------------------------------------===//
#include "resnetc/runtime/Plan.h"
#include "resnetc/runtime/Safetensors.h"

#include "HalideRuntime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {
/// Kernel scratch allocations the preallocated slots could not serve.
long scratchFallbacks();
} // namespace

struct rn_model {
  const rn_plan *plan = nullptr;
  std::unique_ptr<resnetc::SafetensorsFile> weights;
  void *prepared = nullptr;
  void *arena = nullptr;
  /// Training: every parameter copied into writable memory, since steps
  /// update them in place; paramData[i] is parameter i's values.
  void *state = nullptr;
  std::vector<void *> paramData;
  float lr = 0;
  int64_t steps = 0;
  /// @init's prepared weights predate the last training step.
  bool initStale = false;
  /// RESNETC_PROFILE set: seconds and calls per kernel name, printed to
  /// stderr when the model is destroyed.
  bool profile = false;
  std::map<std::string, std::pair<double, long>> profiled;
  std::vector<halide_buffer_t> buffers;
  std::vector<halide_dimension_t> dims;
  /// Per call, the buffer pointers its kernel takes.
  std::vector<std::vector<void *>> initArgs, forwardArgs, trainArgs;
  std::string error;
  bool ready = false;

  ~rn_model() {
    if (profile)
      printProfile();
    std::free(prepared);
    std::free(arena);
    std::free(state);
  }

  void printProfile() const {
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (const auto &[name, entry] : profiled) {
      rows.emplace_back(entry.first, name);
      total += entry.first;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "resnetc profile of %s: %.1f ms in kernels\n",
                 plan->name, total * 1e3);
    if (long missed = scratchFallbacks())
      std::fprintf(stderr, "  (%ld kernel scratch allocations missed the "
                           "preallocated slots and went to the heap)\n",
                   missed);
    for (const auto &[seconds, name] : rows)
      std::fprintf(stderr, "  %9.2f ms %5ld calls %5.1f%%  %s\n", seconds * 1e3,
                   profiled.at(name).second,
                   total > 0 ? 100 * seconds / total : 0.0, name.c_str());
  }

  int fail(std::string message) {
    error = std::move(message);
    return 1;
  }
};

namespace {

/// Scratch memory for Halide's own allocations inside kernels (the
/// zero-padded input bands of convolutions): fixed slots carved out of
/// blocks allocated at create time and handed out without locks, so that
/// running a model never calls the system allocator. A model whose plan
/// needs larger slots than any block has adds a block of its own; blocks
/// live as long as the process, since kernels of other models may hold
/// their slots.
class ScratchPool {
public:
  /// Slots in one block: more than the tasks that run at once.
  static constexpr int kSlots = 64;

  /// Makes sure slots of `bytes` exist and routes halide_malloc here.
  static bool reserve(int64_t bytes) {
    ScratchPool &p = pool();
    std::lock_guard<std::mutex> lock(p.growing);
    size_t slot = std::max<size_t>(4096, (size_t(bytes) + 127) / 128 * 128);
    int count = p.count.load(std::memory_order_acquire);
    for (int b = 0; b < count; ++b)
      if (p.blocks[b].slotBytes >= slot)
        return true;
    if (count == kMaxBlocks)
      return false;
    Block &block = p.blocks[count];
    block.memory =
        static_cast<uint8_t *>(std::aligned_alloc(128, slot * kSlots));
    if (!block.memory)
      return false;
    block.slotBytes = slot;
    p.count.store(count + 1, std::memory_order_release);
    if (count == 0) {
      halide_set_custom_malloc(&ScratchPool::take);
      halide_set_custom_free(&ScratchPool::give);
    }
    return true;
  }

  /// Requests the pool could not serve (a bug if N_forward makes one).
  static long fallbacks() { return pool().missed.load(); }

private:
  static constexpr int kMaxBlocks = 8;
  struct Block {
    uint8_t *memory = nullptr;
    size_t slotBytes = 0;
    std::atomic<bool> used[kSlots] = {};
  };

  static ScratchPool &pool() {
    static ScratchPool instance;
    return instance;
  }

  static void *take(void *, size_t bytes) {
    ScratchPool &p = pool();
    int count = p.count.load(std::memory_order_acquire);
    for (int b = 0; b < count; ++b) {
      Block &block = p.blocks[b];
      if (bytes > block.slotBytes)
        continue;
      for (int i = 0; i < kSlots; ++i)
        if (!block.used[i].exchange(true, std::memory_order_acquire))
          return block.memory + i * block.slotBytes;
    }
    p.missed.fetch_add(1);
    return std::aligned_alloc(128, (bytes + 127) / 128 * 128);
  }

  static void give(void *, void *ptr) {
    ScratchPool &p = pool();
    auto *at = static_cast<uint8_t *>(ptr);
    int count = p.count.load(std::memory_order_acquire);
    for (int b = 0; b < count; ++b) {
      Block &block = p.blocks[b];
      if (at >= block.memory && at < block.memory + block.slotBytes * kSlots) {
        block.used[(at - block.memory) / block.slotBytes].store(
            false, std::memory_order_release);
        return;
      }
    }
    std::free(ptr);
  }

  std::mutex growing;
  std::atomic<int> count{0};
  std::atomic<long> missed{0};
  Block blocks[kMaxBlocks];
};

long scratchFallbacks() { return ScratchPool::fallbacks(); }

void *allocate(int64_t bytes) {
  size_t size = static_cast<size_t>((bytes + 63) / 64 * 64);
  return std::aligned_alloc(64, size ? size : 64);
}

/// Fills halide_buffer_t's for every planned tensor (host pointers of the
/// input are set per call).
int describeBuffers(rn_model &m) {
  const rn_plan &plan = *m.plan;
  m.buffers.assign(plan.num_buffers, halide_buffer_t{});
  m.dims.assign(static_cast<size_t>(plan.num_buffers) * RN_MAX_RANK,
                halide_dimension_t{});
  bool training = plan.num_train_calls > 0;
  std::vector<int64_t> paramBytes(plan.num_params, 4);
  int64_t stateBytes = 0;
  for (int32_t i = 0; i < plan.num_params; ++i) {
    for (int32_t d = 0; d < plan.params[i].rank; ++d)
      paramBytes[i] *= plan.params[i].shape[d];
    stateBytes += (paramBytes[i] + 63) / 64 * 64;
  }
  if (training && !(m.state = allocate(stateBytes)))
    return m.fail("cannot allocate " + std::to_string(stateBytes) +
                  " bytes for the trained parameters");
  m.paramData.assign(plan.num_params, nullptr);
  int64_t stateOffset = 0;
  for (int32_t i = 0; i < plan.num_params; ++i) {
    const rn_param &p = plan.params[i];
    void *copy = nullptr;
    if (training) {
      copy = static_cast<uint8_t *>(m.state) + stateOffset;
      stateOffset += (paramBytes[i] + 63) / 64 * 64;
    }
    if (p.flags & RN_PARAM_OPTIMIZER_STATE) {
      if (!copy)
        return m.fail(std::string("optimizer state '") + p.name +
                      "' in a plan without training");
      std::memset(copy, 0, static_cast<size_t>(paramBytes[i]));
      m.paramData[i] = copy;
      continue;
    }
    std::string error;
    const float *values = m.weights->getF32(
        p.name, std::vector<int64_t>(p.shape, p.shape + p.rank), error);
    if (!values)
      return m.fail(error);
    if (copy)
      std::memcpy(copy, values, static_cast<size_t>(paramBytes[i]));
    // Inference kernels only read parameters; Halide's type is not const.
    m.paramData[i] = copy ? copy : const_cast<float *>(values);
  }
  for (int32_t b = 0; b < plan.num_buffers; ++b) {
    const rn_buffer &desc = plan.buffers[b];
    halide_buffer_t &buf = m.buffers[b];
    halide_dimension_t *dim = &m.dims[static_cast<size_t>(b) * RN_MAX_RANK];
    int32_t stride = 1;
    for (int32_t d = 0; d < desc.rank; ++d) {
      int32_t extent = static_cast<int32_t>(desc.shape[desc.rank - 1 - d]);
      dim[d] = halide_dimension_t(0, extent, stride);
      stride *= extent;
    }
    buf.type = halide_type_t(halide_type_float, 32, 1);
    buf.dimensions = desc.rank;
    buf.dim = dim;
    switch (desc.storage) {
    case RN_ARENA:
      buf.host = static_cast<uint8_t *>(m.arena) + desc.offset;
      break;
    case RN_PREPARED:
      buf.host = static_cast<uint8_t *>(m.prepared) + desc.offset;
      break;
    case RN_WEIGHT:
      buf.host = static_cast<uint8_t *>(m.paramData[desc.offset]);
      break;
    case RN_LABELS:
      buf.type = halide_type_t(halide_type_int, 32, 1);
      break;
    case RN_LR:
      buf.host = reinterpret_cast<uint8_t *>(&m.lr);
      break;
    case RN_INPUT:
      break;
    }
  }
  return 0;
}

std::vector<std::vector<void *>> argumentsOf(rn_model &m, const rn_call *calls,
                                             int32_t count) {
  std::vector<std::vector<void *>> all(count);
  for (int32_t i = 0; i < count; ++i)
    for (int32_t a = 0; a < calls[i].num_args; ++a)
      all[i].push_back(&m.buffers[calls[i].args[a]]);
  return all;
}

int64_t bytesOf(const halide_buffer_t &buf) {
  int64_t n = 4;
  for (int d = 0; d < buf.dimensions; ++d)
    n *= buf.dim[d].extent;
  return n;
}

int run(rn_model &m, const rn_call *calls, int32_t count,
        std::vector<std::vector<void *>> &args) {
  for (int32_t i = 0; i < count; ++i) {
    const rn_call &call = calls[i];
    if (!call.fn) {
      auto *from = static_cast<halide_buffer_t *>(args[i][0]);
      auto *to = static_cast<halide_buffer_t *>(args[i][1]);
      std::memcpy(to->host, from->host, static_cast<size_t>(bytesOf(*to)));
      continue;
    }
    auto started = m.profile ? std::chrono::steady_clock::now()
                             : std::chrono::steady_clock::time_point();
    if (int status = call.fn(args[i].data()))
      return m.fail(std::string("kernel ") + call.kernel +
                    " failed with Halide error " + std::to_string(status));
    if (m.profile) {
      auto &entry = m.profiled[call.kernel];
      entry.first += std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - started)
                         .count();
      ++entry.second;
    }
  }
  return 0;
}

/// One forward pass on zeros, so that what the first real call would
/// otherwise set up (Halide's thread pool) exists before it.
int warmUp(rn_model &m) {
  halide_buffer_t &input = m.buffers[m.plan->input_buffer];
  std::vector<uint8_t> zeros(static_cast<size_t>(bytesOf(input)), 0);
  input.host = zeros.data();
  int status =
      run(m, m.plan->forward_calls, m.plan->num_forward_calls, m.forwardArgs);
  input.host = nullptr;
  return status;
}

} // namespace

extern "C" int rn_model_create(const rn_plan *plan, rn_model **model,
                               const char *weights_path) {
  if (!model)
    return 1;
  *model = new (std::nothrow) rn_model;
  if (!*model)
    return 1;
  rn_model &m = **model;
  m.plan = plan;
  if (!weights_path)
    return m.fail("no weights path given");
  std::string error;
  m.weights = resnetc::SafetensorsFile::open(weights_path, error);
  if (!m.weights)
    return m.fail(error);
  if (!ScratchPool::reserve(plan->scratch_bytes))
    return m.fail("cannot allocate " + std::to_string(plan->scratch_bytes) +
                  "-byte scratch slots for the kernels");
  m.prepared = allocate(plan->prepared_bytes);
  m.arena = allocate(plan->arena_bytes);
  if (!m.prepared || !m.arena)
    return m.fail("cannot allocate " +
                  std::to_string(plan->prepared_bytes + plan->arena_bytes) +
                  " bytes for the prepared weights and the arena");
  if (describeBuffers(m))
    return 1;
  m.initArgs = argumentsOf(m, plan->init_calls, plan->num_init_calls);
  m.forwardArgs = argumentsOf(m, plan->forward_calls, plan->num_forward_calls);
  m.trainArgs = argumentsOf(m, plan->train_calls, plan->num_train_calls);
  if (run(m, plan->init_calls, plan->num_init_calls, m.initArgs))
    return 1;
  if (warmUp(m))
    return 1;
  // Profiling starts after loading and warming up.
  const char *profile = std::getenv("RESNETC_PROFILE");
  m.profile = profile && *profile && std::strcmp(profile, "0") != 0;
  m.ready = true;
  return 0;
}

extern "C" int rn_model_forward(rn_model *model, const float *images,
                                float *logits) {
  if (!model)
    return 1;
  rn_model &m = *model;
  if (!m.ready)
    return 1; // the error of create stands
  if (!images || !logits)
    return m.fail("images and logits must not be NULL");
  if (m.initStale) {
    // Training changed parameters that @init prepares weights from.
    if (run(m, m.plan->init_calls, m.plan->num_init_calls, m.initArgs))
      return 1;
    m.initStale = false;
  }
  halide_buffer_t &input = m.buffers[m.plan->input_buffer];
  input.host = reinterpret_cast<uint8_t *>(const_cast<float *>(images));
  if (run(m, m.plan->forward_calls, m.plan->num_forward_calls, m.forwardArgs))
    return 1;
  const halide_buffer_t &output = m.buffers[m.plan->output_buffer];
  std::memcpy(logits, output.host, static_cast<size_t>(bytesOf(output)));
  return 0;
}

extern "C" int rn_model_set_num_threads(rn_model *model, int threads) {
  if (!model)
    return 1;
  if (threads < 1)
    return model->fail("the number of threads must be positive, got " +
                       std::to_string(threads));
  if (!model->ready)
    return 1; // the error of create stands
  // Halide's pool keeps the threads it has started: restart it with the
  // new count, and start them now rather than in the next forward call.
  halide_shutdown_thread_pool();
  halide_set_num_threads(threads);
  return warmUp(*model);
}

extern "C" int rn_model_train_step(rn_model *model, const float *images,
                                   const int32_t *labels, float lr,
                                   float *loss) {
  if (!model)
    return 1;
  rn_model &m = *model;
  if (!m.ready)
    return 1; // the error of create stands
  const rn_plan &plan = *m.plan;
  if (plan.num_train_calls == 0)
    return m.fail(std::string("model '") + plan.name +
                  "' was compiled without --train");
  if (!images || !labels || !loss)
    return m.fail("images, labels and loss must not be NULL");
  const rn_buffer &logits = plan.buffers[plan.output_buffer];
  int64_t batch = logits.shape[0], classes = logits.shape[1];
  for (int64_t i = 0; i < batch; ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      return m.fail("label " + std::to_string(labels[i]) + " at index " +
                    std::to_string(i) + " is out of range [0, " +
                    std::to_string(classes) + ")");
  m.buffers[plan.train_input_buffer].host =
      reinterpret_cast<uint8_t *>(const_cast<float *>(images));
  m.buffers[plan.labels_buffer].host =
      reinterpret_cast<uint8_t *>(const_cast<int32_t *>(labels));
  m.lr = lr;
  m.initStale = true;
  if (run(m, plan.train_calls, plan.num_train_calls, m.trainArgs))
    return 1;
  *loss = *reinterpret_cast<const float *>(m.buffers[plan.loss_buffer].host);
  ++m.steps;
  return 0;
}

extern "C" int rn_model_save(rn_model *model, const char *path) {
  if (!model)
    return 1;
  rn_model &m = *model;
  if (!m.ready)
    return 1; // the error of create stands
  if (!path)
    return m.fail("no path to save to");
  const rn_plan &plan = *m.plan;
  std::map<std::string, int32_t> paramIndex;
  for (int32_t i = 0; i < plan.num_params; ++i)
    if (!(plan.params[i].flags & RN_PARAM_OPTIMIZER_STATE))
      paramIndex[plan.params[i].name] = i;
  // Every tensor of the weights file, in its order and dtype: the trained
  // values where the model has them, the file's bytes otherwise.
  std::vector<resnetc::TensorToWrite> tensors;
  std::vector<int64_t> counters;
  counters.reserve(m.weights->tensors().size());
  for (const resnetc::TensorView &t : m.weights->tensors()) {
    resnetc::TensorToWrite out{t.name, t.dtype, t.shape, t.data};
    auto it = paramIndex.find(t.name);
    if (it != paramIndex.end()) {
      out.data = m.paramData[it->second];
    } else if (plan.batch_stats && t.dtype == resnetc::DType::I64 &&
               t.numElements() == 1 && t.name.size() > 20 &&
               t.name.compare(t.name.size() - 20, 20, ".num_batches_tracked") ==
                   0) {
      // Each step counted one batch in every batch norm, as PyTorch does.
      int64_t count;
      std::memcpy(&count, t.data, sizeof(count));
      counters.push_back(count + m.steps);
      out.data = &counters.back();
    }
    tensors.push_back(out);
  }
  std::string error;
  if (!resnetc::writeSafetensors(path, tensors, m.weights->metadata(), error))
    return m.fail(error);
  return 0;
}

extern "C" const char *rn_model_last_error(rn_model *model) {
  if (!model)
    return "no model (NULL handle)";
  return model->error.c_str();
}

extern "C" void rn_model_destroy(rn_model *model) { delete model; }
