/*===- Plan.h - A compiled model as data, and the engine that runs it -----===*
 *
 * `resnetc compile` writes a model as a table in this format (a plain C
 * file), and the runtime executes it: load weights by name, run @init's
 * kernels once, then @forward's kernels in order over one preallocated
 * arena. C, so that generated code and users' programs can include it.
 *
 *===----------------------------------------------------------------------===*/
#ifndef RESNETC_RUNTIME_PLAN_H
#define RESNETC_RUNTIME_PLAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RN_MAX_RANK 6
#define RN_MAX_ARGS 12

/** A compiled Halide kernel, called with halide_buffer_t pointers. */
typedef int (*rn_kernel_fn)(void **args);

/** Where a tensor lives. */
enum rn_storage {
  RN_ARENA = 0,    /**< the forward arena, at `offset` bytes */
  RN_PREPARED = 1, /**< the prepared weights made by @init, at `offset` */
  RN_WEIGHT = 2,   /**< the weights file: parameter number `offset` */
  RN_INPUT = 3,    /**< the caller's images */
  RN_LABELS = 4,   /**< the caller's int32 labels (training) */
  RN_LR = 5        /**< the step's learning rate, 0-D (training) */
};

/** rn_param flags. */
enum rn_param_flags {
  /** Not in the weights file: starts at zero, never saved (SGD momentum). */
  RN_PARAM_OPTIMIZER_STATE = 1
};

typedef struct rn_buffer {
  int32_t storage;
  int64_t offset;
  int32_t rank;
  int64_t shape[RN_MAX_RANK]; /**< row-major: NCHW, NCHW16c, ... */
} rn_buffer;

/** A parameter read from the weights file by its state_dict name. */
typedef struct rn_param {
  const char *name;
  int32_t rank;
  int64_t shape[RN_MAX_RANK];
  int32_t flags;
} rn_param;

/** One kernel call: `fn(args)`, each arg a buffer number (inputs, then
 * outputs). With `fn` NULL, a copy of buffer args[0] into args[1] (a
 * reshape). */
typedef struct rn_call {
  rn_kernel_fn fn;
  const char *kernel;
  int32_t num_args;
  int32_t args[RN_MAX_ARGS];
} rn_call;

typedef struct rn_plan {
  const char *name;
  int32_t num_params;
  const rn_param *params;
  int32_t num_buffers;
  const rn_buffer *buffers;
  int32_t num_init_calls;
  const rn_call *init_calls;
  int32_t num_forward_calls;
  const rn_call *forward_calls;
  int64_t prepared_bytes;
  int64_t arena_bytes;
  /** The most scratch memory one kernel task asks Halide's allocator for. */
  int64_t scratch_bytes;
  int32_t input_buffer;
  int32_t output_buffer;
  /** Training (a model compiled with --train; otherwise all zero): the
   * calls of one step, which update parameters in place, and the buffers
   * of its images, labels, learning rate and loss. With `batch_stats`, the
   * step updates running statistics (num_batches_tracked counts steps). */
  int32_t num_train_calls;
  const rn_call *train_calls;
  int32_t train_input_buffer;
  int32_t labels_buffer;
  int32_t lr_buffer;
  int32_t loss_buffer;
  int32_t batch_stats;
} rn_plan;

typedef struct rn_model rn_model;

/** Loads `weights_path` (safetensors) and runs @init. On failure returns
 * non-zero; *model is then a handle whose rn_model_last_error says why
 * (or NULL if even that could not be allocated) and must be destroyed. */
int rn_model_create(const rn_plan *plan, rn_model **model,
                    const char *weights_path);
/** Runs @forward: images and logits as the plan's input and output shapes.
 * Allocates nothing: the arena, the prepared weights and the kernels'
 * scratch memory all come from create. */
int rn_model_forward(rn_model *model, const float *images, float *logits);
/** Halide's thread pool is shared by every model in the process: this sets
 * the threads of all of them, restarting the pool (call it while no model
 * is running) and running one forward pass to start the threads. */
int rn_model_set_num_threads(rn_model *model, int threads);
/** One training step (plans with train calls only): forward, loss,
 * backward and SGD update of the trainable parameters, in place. *loss is
 * the step's loss. Labels must lie in [0, classes). */
int rn_model_train_step(rn_model *model, const float *images,
                        const int32_t *labels, float lr, float *loss);
/** Writes every tensor of the weights file, with the current values of
 * the trained ones, to `path` (safetensors, atomically). */
int rn_model_save(rn_model *model, const char *path);
const char *rn_model_last_error(rn_model *model);
void rn_model_destroy(rn_model *model);

#ifdef __cplusplus
}
#endif

#endif /* RESNETC_RUNTIME_PLAN_H */
