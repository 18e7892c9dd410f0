/* classify: runs a compiled ResNet on one image and prints the top 5.
 *
 *   classify WEIGHTS.safetensors [IMAGE.npy]
 *
 * IMAGE is float32 NCHW (1x3xHxW, normalized as torchvision does); without
 * one, a synthetic image is used. */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float images[NET_INPUT_SIZE];
static float logits[NET_OUTPUT_SIZE];

/* Reads a float32, C-order .npy of exactly `count` elements. */
static int read_npy(const char *path, float *out, size_t count) {
  FILE *f = fopen(path, "rb");
  unsigned char magic[10];
  if (!f || fread(magic, 1, 10, f) != 10 || memcmp(magic, "\x93NUMPY", 6)) {
    fprintf(stderr, "classify: %s is not a .npy file\n", path);
    return 1;
  }
  size_t header = magic[6] == 1 ? (size_t)(magic[8] | magic[9] << 8) : 0;
  char *text = calloc(header + 1, 1);
  if (magic[6] != 1 || fread(text, 1, header, f) != header ||
      !strstr(text, "'<f4'") || strstr(text, "True")) {
    fprintf(stderr, "classify: %s must be a version 1 float32 C-order .npy\n",
            path);
    return 1;
  }
  free(text);
  size_t got = fread(out, sizeof(float), count, f);
  fclose(f);
  if (got != count) {
    fprintf(stderr, "classify: %s holds %zu floats, expected %zu\n", path, got,
            count);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s WEIGHTS.safetensors [IMAGE.npy]\n", argv[0]);
    return 2;
  }
  if (argc > 2) {
    if (read_npy(argv[2], images, NET_INPUT_SIZE))
      return 1;
  } else {
    for (int i = 0; i < NET_INPUT_SIZE; ++i) /* a smooth synthetic image */
      images[i] = sinf(0.01f * (float)i);
  }

  net_model *model = NULL;
  if (net_create(&model, argv[1]) != 0) {
    fprintf(stderr, "classify: %s\n", net_last_error(model));
    net_destroy(model);
    return 1;
  }
  if (net_forward(model, images, logits) != 0) {
    fprintf(stderr, "classify: %s\n", net_last_error(model));
    net_destroy(model);
    return 1;
  }
  net_destroy(model);

  /* Softmax over the classes of the first image, then the top 5. */
  float best = logits[0], sum = 0.0f;
  for (int c = 1; c < NET_CLASSES; ++c)
    best = logits[c] > best ? logits[c] : best;
  for (int c = 0; c < NET_CLASSES; ++c)
    sum += expf(logits[c] - best);
  int taken[NET_CLASSES];
  memset(taken, 0, sizeof(taken));
  printf("top 5 of %d classes:\n", NET_CLASSES);
  for (int k = 0; k < 5 && k < NET_CLASSES; ++k) {
    int arg = -1;
    for (int c = 0; c < NET_CLASSES; ++c)
      if (!taken[c] && (arg < 0 || logits[c] > logits[arg]))
        arg = c;
    taken[arg] = 1;
    printf("  class %4d  p=%.4f  logit=%.4f\n", arg,
           expf(logits[arg] - best) / sum, logits[arg]);
  }
  return 0;
}
