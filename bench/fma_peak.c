/* The machine's FP32 FMA peak, measured: THREADS threads each run 16
 * independent chains of vector FMAs (AVX-512 when compiled with it, else
 * AVX2) and the best of 5 runs is printed in GFLOP/s. bench/inference.sh
 * builds and runs it to put resnetc's per-convolution GFLOP/s next to it.
 *
 * usage: fma_peak [THREADS] */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif

enum { kChains = 16 };
static const long kIterations = 20000000;
static float sink[64];

#define CHAINS(X)                                                             \
  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)  \
      X(14) X(15)

static void *work(void *arg) {
  (void)arg;
  /* Sixteen named accumulators, so that they live in registers. */
#define DECLARE(i) vec a##i = SET1(1.0f + 1e-3f * (float)(i));
  CHAINS(DECLARE)
  vec m = SET1(0.999999f), c = SET1(1e-7f);
  for (long it = 0; it < kIterations; ++it) {
#define STEP(i) a##i = FMA(a##i, m, c);
    CHAINS(STEP)
  }
  vec s = a0;
#define SUM(i) s = ADD(s, a##i);
  CHAINS(SUM)
  float out[LANES];
  STORE(out, s);
  sink[0] += out[0]; /* keep the chains alive */
  return NULL;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 256) {
    fprintf(stderr, "fma_peak: THREADS must be 1..256\n");
    return 1;
  }
  pthread_t *ids = malloc(sizeof(pthread_t) * (size_t)threads);
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    double start = now();
    for (int t = 0; t < threads; ++t)
      pthread_create(&ids[t], NULL, work, NULL);
    for (int t = 0; t < threads; ++t)
      pthread_join(ids[t], NULL);
    double seconds = now() - start;
    double flops = 2.0 * LANES * kChains * (double)kIterations * threads;
    if (flops / seconds > best)
      best = flops / seconds;
  }
  free(ids);
  printf("%.1f\n", best / 1e9);
  return 0;
}
