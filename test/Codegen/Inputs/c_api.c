/* Uses a model compiled as "net" through its C header alone: runs it on
 * raw float32 images, writes raw float32 logits, and exercises the errors.
 * Usage: c_api WEIGHTS IMAGES.bin LOGITS.bin [BAD_WEIGHTS] */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>

/* Linked with -Wl,--wrap=malloc,... : counts every allocation the model
 * makes, its runtime and libstdc++ copy included. */
static long allocations;
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_aligned_alloc(size_t, size_t);
int __real_posix_memalign(void **, size_t, size_t);
void *__wrap_malloc(size_t n) { ++allocations; return __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { ++allocations; return __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { ++allocations; return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { ++allocations; return __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { ++allocations; return __real_posix_memalign(p, a, n); }

static float images[NET_INPUT_SIZE], logits[NET_OUTPUT_SIZE];

int main(int argc, char **argv) {
  net_model *m = NULL;
  if (argc > 4) { /* A file that cannot serve as these weights. */
    int rc = net_create(&m, argv[4]);
    printf("create with %s: rc=%d error=%s\n", argv[4], rc,
           m ? net_last_error(m) : "(no handle)");
    net_destroy(m);
    return rc == 0; /* exit 0 when it fails, as it must */
  }
  if (net_create(&m, argv[1]) != 0) {
    printf("create failed: %s\n", net_last_error(m));
    return 1;
  }
  FILE *in = fopen(argv[2], "rb");
  if (!in || fread(images, sizeof(float), NET_INPUT_SIZE, in) !=
                 NET_INPUT_SIZE) {
    printf("cannot read %s\n", argv[2]);
    return 1;
  }
  fclose(in);
  /* Setting the threads restarts Halide's pool (and may allocate). */
  if (net_set_num_threads(m, 2) != 0) {
    printf("set_num_threads failed: %s\n", net_last_error(m));
    return 1;
  }
  long before = allocations;
  for (int i = 0; i < 3; ++i)
    if (net_forward(m, images, logits) != 0) {
      printf("forward failed: %s\n", net_last_error(m));
      return 1;
    }
  printf("allocations during 3 forward calls: %ld (%ld in create)\n",
         allocations - before, before);
  /* Errors are codes and messages, not crashes. */
  int rc = net_forward(m, NULL, logits);
  printf("forward(NULL) rc=%d: %s\n", rc, net_last_error(m));
  rc = net_set_num_threads(m, 0);
  printf("set_num_threads(0) rc=%d: %s\n", rc, net_last_error(m));
  FILE *out = fopen(argv[3], "wb");
  fwrite(logits, sizeof(float), NET_OUTPUT_SIZE, out);
  fclose(out);
  printf("batch %d, %d classes, arena %d bytes\n", NET_BATCH, NET_CLASSES,
         NET_ARENA_BYTES);
  net_destroy(m);
  return 0;
}
