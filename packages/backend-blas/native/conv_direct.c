/*
 * Direct NHWC convolutions for few channels: the forward pass and both gradients without an
 * im2col matrix. im2col + sgemm is the right tool when a convolution has many channels; with the
 * 1-20 channels of LeNet-sized models the product is [P, 25] x [25, 10]-shaped, which BLAS runs at a
 * fraction of its speed (packing costs as much as the arithmetic) while the im2col matrix itself
 * (26 MB for LeNet's first layer at batch 256) is written and read once more from memory. Here each
 * output pixel's receptive field is read straight from the input (it stays in cache), and the
 * innermost loops run over a contiguous channel axis, which the compiler vectorises (axpy form: no
 * float reduction, so no reassociation is needed; results differ from tfjs's order of summation only
 * by float rounding).
 *
 * Work is split over the batch between `threads` POSIX threads (each writes its own images, or its
 * own partial filter gradient that is summed at the end in a fixed order: deterministic).
 */
#include "conv_direct.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Compiled twice where the toolchain allows it: for AVX2 + FMA CPUs and for any x86-64, chosen at load. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT
#endif

typedef float v8 __attribute__((vector_size(32)));

/* Output pixels computed together: 4 pixels x up to 4 vectors of 8 channels = 16 independent sums. */
#define PX 4
#define MAX_V 4 /* channels handled here: up to 32 on the vectorised axis (more go to im2col + BLAS) */

static inline int64_t in_offset(const ConvShape *s, int64_t b, int64_t ih, int64_t iw) {
  return ((b * s->inH + ih) * s->inW + iw) * s->inC;
}
static inline int64_t out_offset(const ConvShape *s, int64_t b, int64_t oh, int64_t ow) {
  return ((b * s->outH + oh) * s->outW + ow) * s->outC;
}

/*
 * Every range function gets read-only inputs `a`, `b` (already padded where noted), an output, a
 * batch range, and `zeros`: a zero row standing in for pixels outside the image (padding) and for
 * the unused slots of a last, partial block of pixels.
 */
typedef struct {
  const ConvShape *s;
  const float *a, *b, *zeros;
  float *out;
  int64_t b0, b1;
} Job;

/* Zeroes the first NV vectors of each of the PX pixels' sums. */
static inline __attribute__((always_inline)) void zero_block(v8 acc[PX][MAX_V], const int NV) {
  for (int q = 0; q < PX; q++)
    for (int v = 0; v < NV; v++) acc[q][v] = (v8){0};
}

/*
 * The input rows (all channels of one pixel) that filter tap (kh, kw) reads for output pixels
 * ow .. ow + PX - 1 of row oh (input row `ih`); the zero row where a pixel falls in the padding or
 * past the last of the `np` pixels of the block.
 */
static inline __attribute__((always_inline)) void input_rows(const Job *j, int64_t b, int64_t ih, int64_t ow, int64_t kw, int np,
                                                               const float *xr[PX]) {
  const ConvShape *s = j->s;
  for (int q = 0; q < PX; q++) {
    const int64_t iw = (ow + q) * s->strideW + kw - s->left;
    xr[q] = q < np && iw >= 0 && iw < s->inW ? j->a + in_offset(s, b, ih, iw) : j->zeros;
  }
}

/*
 * out[b, oh, ow, :] = sum over (kh, kw, ci) of x[b, ih, iw, ci] * w[kh, kw, ci, :]; `wp` is w with the
 * output channels padded to NV vectors of 8 (zeros), 32-byte aligned.
 */
static inline __attribute__((always_inline)) void forward_block(const Job *j, const int NV) {
  const ConvShape *s = j->s;
  const int64_t CI = s->inC, CO = s->outC;
  const v8 *wp = (const v8 *)j->b;
  for (int64_t b = j->b0; b < j->b1; b++)
    for (int64_t oh = 0; oh < s->outH; oh++)
      for (int64_t ow = 0; ow < s->outW; ow += PX) {
        const int np = s->outW - ow < PX ? (int)(s->outW - ow) : PX;
        v8 acc[PX][MAX_V];
        zero_block(acc, NV);
        for (int64_t kh = 0; kh < s->kH; kh++) {
          const int64_t ih = oh * s->strideH + kh - s->top;
          if (ih < 0 || ih >= s->inH) continue;
          for (int64_t kw = 0; kw < s->kW; kw++) {
            const float *xr[PX];
            input_rows(j, b, ih, ow, kw, np, xr);
            const v8 *wk = wp + (kh * s->kW + kw) * CI * NV;
            for (int64_t ci = 0; ci < CI; ci++) {
              const v8 *wr = wk + ci * NV;
              for (int q = 0; q < PX; q++) {
                const float xv = xr[q][ci];
                for (int v = 0; v < NV; v++) acc[q][v] += xv * wr[v];
              }
            }
          }
        }
        for (int q = 0; q < np; q++) memcpy(j->out + out_offset(s, b, oh, ow + q), &acc[q][0], (size_t)CO * sizeof(float));
      }
}

/*
 * dwp[kh, kw, ci, :] += x[b, ih, iw, ci] * dy[b, oh, ow, :] over the range's pixels; dwp has the
 * output channels padded to NV vectors (the caller zeroes it and strips the padding).
 */
static inline __attribute__((always_inline)) void filter_grad_block(const Job *j, const int NV) {
  const ConvShape *s = j->s;
  const int64_t CI = s->inC, CO = s->outC;
  v8 *dwp = (v8 *)j->out;
  for (int64_t b = j->b0; b < j->b1; b++)
    for (int64_t oh = 0; oh < s->outH; oh++)
      for (int64_t ow = 0; ow < s->outW; ow += PX) {
        const int np = s->outW - ow < PX ? (int)(s->outW - ow) : PX;
        v8 g[PX][MAX_V];
        for (int q = 0; q < PX; q++) {
          for (int v = 0; v < NV; v++) g[q][v] = (v8){0};
          if (q < np) memcpy(&g[q][0], j->b + out_offset(s, b, oh, ow + q), (size_t)CO * sizeof(float));
        }
        for (int64_t kh = 0; kh < s->kH; kh++) {
          const int64_t ih = oh * s->strideH + kh - s->top;
          if (ih < 0 || ih >= s->inH) continue;
          for (int64_t kw = 0; kw < s->kW; kw++) {
            const float *xr[PX];
            input_rows(j, b, ih, ow, kw, np, xr);
            v8 *dk = dwp + (kh * s->kW + kw) * CI * NV;
            for (int64_t ci = 0; ci < CI; ci++) {
              v8 *dr = dk + ci * NV;
              for (int v = 0; v < NV; v++) {
                v8 sum = dr[v];
                for (int q = 0; q < PX; q++) sum += xr[q][ci] * g[q][v];
                dr[v] = sum;
              }
            }
          }
        }
      }
}

/*
 * dx[b, ih, iw, :] = sum over the (kh, kw, co) whose output pixel reads (ih, iw) of
 * dy[b, oh, ow, co] * w[kh, kw, :, co], gathered per input pixel (each dx row written once, by the
 * thread owning image b); `wt` is w as [kh, kw, co, ci] with ci padded to NV vectors.
 */
static inline __attribute__((always_inline)) void input_grad_block(const Job *j, const int NV) {
  const ConvShape *s = j->s;
  const int64_t CI = s->inC, CO = s->outC;
  const v8 *wt = (const v8 *)j->b;
  for (int64_t b = j->b0; b < j->b1; b++)
    for (int64_t ih = 0; ih < s->inH; ih++)
      for (int64_t iw = 0; iw < s->inW; iw += PX) {
        const int np = s->inW - iw < PX ? (int)(s->inW - iw) : PX;
        v8 acc[PX][MAX_V];
        zero_block(acc, NV);
        for (int64_t kh = 0; kh < s->kH; kh++) {
          const int64_t ohs = ih + s->top - kh;
          if (ohs < 0 || ohs % s->strideH) continue;
          const int64_t oh = ohs / s->strideH;
          if (oh >= s->outH) continue;
          for (int64_t kw = 0; kw < s->kW; kw++) {
            const float *gr[PX];
            int any = 0;
            for (int q = 0; q < PX; q++) {
              const int64_t ows = iw + q + s->left - kw;
              const int ok = q < np && ows >= 0 && ows % s->strideW == 0 && ows / s->strideW < s->outW;
              gr[q] = ok ? j->a + out_offset(s, b, oh, ows / s->strideW) : j->zeros;
              any |= ok;
            }
            if (!any) continue;
            const v8 *wk = wt + (kh * s->kW + kw) * CO * NV;
            for (int64_t co = 0; co < CO; co++) {
              const v8 *wr = wk + co * NV;
              for (int q = 0; q < PX; q++) {
                const float gv = gr[q][co];
                for (int v = 0; v < NV; v++) acc[q][v] += gv * wr[v];
              }
            }
          }
        }
        for (int q = 0; q < np; q++) memcpy(j->out + in_offset(s, b, ih, iw + q), &acc[q][0], (size_t)CI * sizeof(float));
      }
}

/* One specialisation per vector count, so the blocks' loops unroll and their sums stay in registers. */
#define SPECIALISE(name)                                                                           \
  HOT static void name##_range(const Job *j, int nv) {                                             \
    switch (nv) {                                                                                  \
      case 1: name##_block(j, 1); break;                                                           \
      case 2: name##_block(j, 2); break;                                                           \
      case 3: name##_block(j, 3); break;                                                           \
      default: name##_block(j, 4); break;                                                          \
    }                                                                                              \
  }
SPECIALISE(forward)
SPECIALISE(filter_grad)
SPECIALISE(input_grad)

typedef void (*RangeFn)(const Job *, int);

typedef struct {
  RangeFn fn;
  Job job;
  int nv;
} Task;

static void *run_task(void *arg) {
  Task *t = (Task *)arg;
  t->fn(&t->job, t->nv);
  return NULL;
}

/*
 * Runs fn over the batch split into `threads` contiguous ranges; outs[i] is range i's output (the
 * shared output for the forward and the input gradient, a private buffer for the filter gradient).
 * Range 0 runs on the caller; a range whose thread cannot start runs there too (same result).
 */
static void run_split(RangeFn fn, Job base, int nv, float **outs, int threads) {
  Task tasks[CONV_MAX_THREADS];
  pthread_t ids[CONV_MAX_THREADS];
  int started[CONV_MAX_THREADS] = {0};
  const int64_t batch = base.s->batch;
  for (int i = 0; i < threads; i++) {
    tasks[i] = (Task){fn, base, nv};
    tasks[i].job.out = outs[i];
    tasks[i].job.b0 = batch * i / threads;
    tasks[i].job.b1 = batch * (i + 1) / threads;
  }
  for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, run_task, &tasks[i]) == 0;
  run_task(&tasks[0]);
  for (int i = 1; i < threads; i++) {
    if (started[i]) pthread_join(ids[i], NULL);
    else run_task(&tasks[i]);
  }
}

static int clamp_threads(int threads, int64_t batch) {
  if (threads < 1) threads = 1;
  if (threads > CONV_MAX_THREADS) threads = CONV_MAX_THREADS;
  if (batch < threads) threads = batch > 0 ? (int)batch : 1;
  return threads;
}

static int vectors(int64_t channels) { return (int)((channels + 7) / 8); }

int conv_direct_supported(const ConvShape *s) {
  return s->inC >= 1 && s->outC >= 1 && vectors(s->outC) <= MAX_V && vectors(s->inC) <= MAX_V && s->strideH >= 1 && s->strideW >= 1;
}

/* 32-byte aligned, zeroed. */
static float *aligned_zeros(size_t floats) {
  size_t bytes = (floats * sizeof(float) + 31) / 32 * 32;
  float *p = aligned_alloc(32, bytes ? bytes : 32);
  if (p) memset(p, 0, bytes ? bytes : 32);
  return p;
}

int conv_direct_forward(const ConvShape *s, const float *x, const float *w, float *out, int threads) {
  const int64_t CI = s->inC, CO = s->outC, K = s->kH * s->kW;
  const int nv = vectors(CO);
  float *wp = aligned_zeros((size_t)(K * CI * nv * 8));
  float *zeros = aligned_zeros((size_t)CI);
  if (!wp || !zeros) {
    free(wp);
    free(zeros);
    return 0;
  }
  for (int64_t r = 0; r < K * CI; r++) memcpy(wp + r * nv * 8, w + r * CO, (size_t)CO * sizeof(float));
  threads = clamp_threads(threads, s->batch);
  float *outs[CONV_MAX_THREADS];
  for (int i = 0; i < threads; i++) outs[i] = out;
  run_split(forward_range, (Job){s, x, wp, zeros, out, 0, 0}, nv, outs, threads);
  free(wp);
  free(zeros);
  return 1;
}

int conv_direct_filter_grad(const ConvShape *s, const float *x, const float *dy, float *dw, int threads) {
  const int64_t CI = s->inC, CO = s->outC, K = s->kH * s->kW, rows = K * CI;
  const int nv = vectors(CO);
  threads = clamp_threads(threads, s->batch);
  const size_t padded = (size_t)(rows * nv * 8);
  float *parts = aligned_zeros(padded * (size_t)threads);
  float *zeros = aligned_zeros((size_t)CI);
  if (!parts || !zeros) {
    free(parts);
    free(zeros);
    return 0;
  }
  float *outs[CONV_MAX_THREADS];
  for (int i = 0; i < threads; i++) outs[i] = parts + (size_t)i * padded;
  run_split(filter_grad_range, (Job){s, x, dy, zeros, parts, 0, 0}, nv, outs, threads);
  /* Sum the ranges' partial gradients in range order (deterministic) and strip the padding. */
  for (int64_t r = 0; r < rows; r++)
    for (int64_t co = 0; co < CO; co++) {
      float sum = 0.f;
      for (int i = 0; i < threads; i++) sum += outs[i][r * nv * 8 + co];
      dw[r * CO + co] = sum;
    }
  free(parts);
  free(zeros);
  return 1;
}

int conv_direct_input_grad(const ConvShape *s, const float *dy, const float *w, float *dx, int threads) {
  const int64_t CI = s->inC, CO = s->outC, K = s->kH * s->kW;
  const int nv = vectors(CI);
  float *wt = aligned_zeros((size_t)(K * CO * nv * 8));
  float *zeros = aligned_zeros((size_t)CO);
  if (!wt || !zeros) {
    free(wt);
    free(zeros);
    return 0;
  }
  for (int64_t k = 0; k < K; k++)
    for (int64_t ci = 0; ci < CI; ci++)
      for (int64_t co = 0; co < CO; co++) wt[(k * CO + co) * nv * 8 + ci] = w[(k * CI + ci) * CO + co];
  threads = clamp_threads(threads, s->batch);
  float *outs[CONV_MAX_THREADS];
  for (int i = 0; i < threads; i++) outs[i] = dx;
  run_split(input_grad_range, (Job){s, dy, wt, zeros, dx, 0, 0}, nv, outs, threads);
  free(wt);
  free(zeros);
  return 1;
}
