/* Exercises the training C API of a compiled model "net": errors come back
 * as codes and messages, a step changes what N_forward computes (the
 * prepared weights follow the parameters), and N_save writes a checkpoint
 * that a fresh model reproduces bit for bit. */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static float images[NET_INPUT_SIZE];
static float before[NET_OUTPUT_SIZE], after[NET_OUTPUT_SIZE],
    reloaded[NET_OUTPUT_SIZE];

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: train_api WEIGHTS SAVE_PATH BAD_SAVE_PATH\n");
    return 2;
  }
  for (int i = 0; i < NET_INPUT_SIZE; ++i)
    images[i] = (float)sin(0.37 * i);
  int32_t labels[NET_BATCH];
  for (int i = 0; i < NET_BATCH; ++i)
    labels[i] = i % NET_CLASSES;
  net_model *m = NULL;
  if (net_create(&m, argv[1])) {
    printf("create: %s\n", net_last_error(m));
    return 1;
  }
  float loss = -1;
  int32_t bad[NET_BATCH];
  memcpy(bad, labels, sizeof(bad));
  bad[1] = NET_CLASSES + 2;
  int rc = net_train_step(m, images, bad, 0.1f, &loss);
  printf("bad label rc=%d: %s\n", rc, net_last_error(m));
  bad[1] = -1;
  rc = net_train_step(m, images, bad, 0.1f, &loss);
  printf("negative label rc=%d: %s\n", rc, net_last_error(m));
  rc = net_train_step(m, images, labels, 0.1f, NULL);
  printf("NULL loss rc=%d: %s\n", rc, net_last_error(m));

  net_forward(m, images, before);
  float first = 0;
  for (int step = 0; step < 3; ++step) {
    if (net_train_step(m, images, labels, 0.1f, &loss)) {
      printf("step: %s\n", net_last_error(m));
      return 1;
    }
    if (step == 0)
      first = loss;
  }
  printf("loss finite: %d, decreased: %d\n", isfinite(loss) != 0,
         loss < first);
  net_forward(m, images, after);
  int changed = 0;
  for (int i = 0; i < NET_OUTPUT_SIZE; ++i)
    changed |= before[i] != after[i];
  printf("forward changed after training: %d\n", changed);

  rc = net_save(m, argv[3]);
  printf("bad save rc=%d\n", rc);
  fprintf(stderr, "%s\n", net_last_error(m));
  if (net_save(m, argv[2])) {
    printf("save: %s\n", net_last_error(m));
    return 1;
  }
  net_model *fresh = NULL;
  if (net_create(&fresh, argv[2])) {
    printf("reload: %s\n", net_last_error(fresh));
    return 1;
  }
  net_forward(fresh, images, reloaded);
  printf("reloaded forward identical: %d\n",
         memcmp(after, reloaded, sizeof(after)) == 0);
  /* A NaN in the images reaches the loss (ReLU keeps NaN, as torch's). */
  images[5] = NAN;
  rc = net_train_step(fresh, images, labels, 0.1f, &loss);
  printf("NaN image: rc=%d, loss is NaN: %d\n", rc, isnan(loss) != 0);
  net_destroy(fresh);
  net_destroy(m);
  return 0;
}
