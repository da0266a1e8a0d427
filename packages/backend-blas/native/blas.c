/*
 * @mtl/backend-blas: the N-API addon. It runs OpenBLAS's cblas_sgemm (and the im2col / col2im
 * copies around it for convolutions) on Float32Arrays that the JS side takes as views of the wasm
 * heap, in place: no copy in or out. Every length is checked against the shape before BLAS runs,
 * so a view taken before a wasm memory growth (detached, length 0) is an error, never a wild write.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <stdbool.h>

#include "conv_direct.h"

/* OpenBLAS extensions (declared in its cblas.h; repeated for BLAS headers that lack them). */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, "MTL_BLAS", "N-API call failed: " #call);                              \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static int get_f32(napi_env env, napi_value value, float **data, size_t *length, const char *name) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) goto bad;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok) goto bad;
  if (type != napi_float32_array) goto bad;
  *data = (float *)raw;
  return 1;
bad : {
  char message[128];
  snprintf(message, sizeof message, "%s must be a Float32Array", name);
  napi_throw_type_error(env, "MTL_BLAS", message);
  return 0;
}
}

static int get_i64(napi_env env, napi_value value, int64_t *out, const char *name) {
  if (napi_get_value_int64(env, value, out) != napi_ok || *out < 0) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a non-negative integer", name);
    napi_throw_type_error(env, "MTL_BLAS", message);
    return 0;
  }
  return 1;
}

static int need(napi_env env, size_t have, int64_t want, const char *name) {
  if ((int64_t)have >= want) return 1;
  char message[200];
  snprintf(message, sizeof message,
           "%s has %zu elements, the product needs %lld (a heap view taken before the wasm memory grew?)", name,
           have, (long long)want);
  napi_throw_range_error(env, "MTL_BLAS", message);
  return 0;
}

/*
 * sgemm(transA, transB, m, n, k, a, strideA, b, strideB, c, strideC, batch, beta)
 * Row-major C[i] = op(A[i]) op(B[i]) (+ beta C[i]) for i < batch, op(A) m x k, op(B) k x n.
 * A stride of 0 broadcasts that operand over the batch.
 */
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 12) {
    napi_throw_type_error(env, "MTL_BLAS", "sgemm expects 12 or 13 arguments");
    return NULL;
  }
  bool transA, transB;
  CHECK(napi_get_value_bool(env, argv[0], &transA));
  CHECK(napi_get_value_bool(env, argv[1], &transB));
  int64_t m, n, k, strideA, strideB, strideC, batch;
  float *a, *b, *c;
  size_t lenA, lenB, lenC;
  double beta = 0;
  if (!get_i64(env, argv[2], &m, "m") || !get_i64(env, argv[3], &n, "n") || !get_i64(env, argv[4], &k, "k")) return NULL;
  if (!get_f32(env, argv[5], &a, &lenA, "a") || !get_i64(env, argv[6], &strideA, "strideA")) return NULL;
  if (!get_f32(env, argv[7], &b, &lenB, "b") || !get_i64(env, argv[8], &strideB, "strideB")) return NULL;
  if (!get_f32(env, argv[9], &c, &lenC, "c") || !get_i64(env, argv[10], &strideC, "strideC")) return NULL;
  if (!get_i64(env, argv[11], &batch, "batch")) return NULL;
  if (argc > 12) CHECK(napi_get_value_double(env, argv[12], &beta));
  if (batch == 0 || m == 0 || n == 0) return NULL;
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, "MTL_BLAS", "matrix dimensions must fit in 32 bits");
    return NULL;
  }
  if (!need(env, lenA, strideA * (batch - 1) + m * k, "a") || !need(env, lenB, strideB * (batch - 1) + k * n, "b") ||
      !need(env, lenC, strideC * (batch - 1) + m * n, "c"))
    return NULL;
  if (k == 0) {
    /* An empty sum: BLAS would reject lda = 0; the product is zero (plus beta C). */
    for (int64_t i = 0; i < batch; i++) {
      float *ci = c + i * strideC;
      for (int64_t j = 0; j < m * n; j++) ci[j] = beta == 0 ? 0.0f : (float)beta * ci[j];
    }
    return NULL;
  }
  const int lda = transA ? (int)m : (int)k;
  const int ldb = transB ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, a + i * strideA, lda, b + i * strideB, ldb, (float)beta, c + i * strideC, (int)n);
  }
  return NULL;
}

/* Conv geometry shared by im2col and col2im (NHWC, rows of the column matrix = output pixels). */
typedef struct {
  int64_t batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, dilH, dilW, top, left;
} Geometry;

static int get_geometry(napi_env env, napi_value *argv, Geometry *g) {
  int64_t *fields[] = {&g->batch, &g->inH, &g->inW, &g->inC, &g->outH, &g->outW, &g->kH,
                       &g->kW, &g->strideH, &g->strideW, &g->dilH, &g->dilW, &g->top, &g->left};
  for (int i = 0; i < 14; i++) {
    if (napi_get_value_int64(env, argv[i], fields[i]) != napi_ok) {
      napi_throw_type_error(env, "MTL_BLAS", "conv geometry must be integers");
      return 0;
    }
  }
  return 1;
}

/*
 * im2col(x, cols, ...geometry): cols[p, (kh, kw, ci)] = x[b, ih, iw, ci] for output pixel
 * p = (b, oh, ow), 0 where the receptive field leaves the image (padding).
 */
static napi_value Im2col(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *cols;
  size_t lenX, lenCols;
  Geometry g;
  if (argc < 16 || !get_f32(env, argv[0], &x, &lenX, "x") || !get_f32(env, argv[1], &cols, &lenCols, "cols") ||
      !get_geometry(env, argv + 2, &g))
    return NULL;
  const int64_t field = g.kH * g.kW * g.inC;
  if (!need(env, lenX, g.batch * g.inH * g.inW * g.inC, "x") ||
      !need(env, lenCols, g.batch * g.outH * g.outW * field, "cols"))
    return NULL;
  float *out = cols;
  const int64_t run = g.kW * g.inC; /* one filter row: contiguous in x when undilated and inside */
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oh = 0; oh < g.outH; oh++)
      for (int64_t ow = 0; ow < g.outW; ow++)
        for (int64_t kh = 0; kh < g.kH; kh++) {
          const int64_t ih = oh * g.strideH + kh * g.dilH - g.top;
          const int64_t iw0 = ow * g.strideW - g.left;
          if (ih < 0 || ih >= g.inH) {
            memset(out, 0, sizeof(float) * run);
            out += run;
            continue;
          }
          const float *line = x + (b * g.inH + ih) * g.inW * g.inC;
          if (g.dilW == 1 && iw0 >= 0 && iw0 + g.kW <= g.inW) {
            memcpy(out, line + iw0 * g.inC, sizeof(float) * run);
            out += run;
            continue;
          }
          for (int64_t kw = 0; kw < g.kW; kw++, out += g.inC) {
            const int64_t iw = iw0 + kw * g.dilW;
            if (iw < 0 || iw >= g.inW) memset(out, 0, sizeof(float) * g.inC);
            else memcpy(out, line + iw * g.inC, sizeof(float) * g.inC);
          }
        }
  return NULL;
}

/*
 * Adds the rows [p0, p1) of a column matrix (row p - p0 of `cols` = output pixel p) back onto the
 * input pixels of their receptive fields: col2im restricted to those output pixels.
 */
static void col2im_rows(const float *cols, float *dx, const Geometry *gp, int64_t p0, int64_t p1) {
  const Geometry g = *gp;
  const float *in = cols;
  for (int64_t p = p0; p < p1; p++) {
    const int64_t b = p / (g.outH * g.outW), oh = (p / g.outW) % g.outH, ow = p % g.outW;
    for (int64_t kh = 0; kh < g.kH; kh++) {
      const int64_t ih = oh * g.strideH + kh * g.dilH - g.top;
      const int64_t iw0 = ow * g.strideW - g.left;
      if (ih < 0 || ih >= g.inH) {
        in += g.kW * g.inC;
        continue;
      }
      float *line = dx + (b * g.inH + ih) * g.inW * g.inC;
      if (g.dilW == 1 && iw0 >= 0 && iw0 + g.kW <= g.inW) {
        /* one filter row lands on a contiguous run of dx */
        float *dst = line + iw0 * g.inC;
        const int64_t run = g.kW * g.inC;
        for (int64_t i = 0; i < run; i++) dst[i] += in[i];
        in += run;
        continue;
      }
      for (int64_t kw = 0; kw < g.kW; kw++, in += g.inC) {
        const int64_t iw = iw0 + kw * g.dilW;
        if (iw < 0 || iw >= g.inW) continue;
        float *dst = line + iw * g.inC;
        for (int64_t ci = 0; ci < g.inC; ci++) dst[ci] += in[ci];
      }
    }
  }
}

/* col2im(cols, dx, ...geometry): the adjoint of im2col; dx is zeroed here, then accumulated. */
static napi_value Col2im(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *cols, *dx;
  size_t lenCols, lenDx;
  Geometry g;
  if (argc < 16 || !get_f32(env, argv[0], &cols, &lenCols, "cols") || !get_f32(env, argv[1], &dx, &lenDx, "dx") ||
      !get_geometry(env, argv + 2, &g))
    return NULL;
  const int64_t field = g.kH * g.kW * g.inC;
  const int64_t size = g.batch * g.inH * g.inW * g.inC;
  if (!need(env, lenDx, size, "dx") || !need(env, lenCols, g.batch * g.outH * g.outW * field, "cols")) return NULL;
  memset(dx, 0, sizeof(float) * size);
  col2im_rows(cols, dx, &g, 0, g.batch * g.outH * g.outW);
  return NULL;
}

/*
 * convBackpropInput(dy, filter, dx, ...geometry, outC): dx = col2im(dy [P, CO] x filterᵀ), formed
 * a block of output pixels at a time: each block's column rows (about 1 MiB) are added into dx
 * while they are still in cache, instead of writing the whole [P, KH*KW*CI] matrix to memory and
 * reading it back (LeNet's second layer: 37 MB each way).
 */
static napi_value ConvBackpropInput(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *dy, *filter, *dx;
  size_t lenDy, lenFilter, lenDx;
  Geometry g;
  int64_t outC;
  if (argc < 18 || !get_f32(env, argv[0], &dy, &lenDy, "dy") || !get_f32(env, argv[1], &filter, &lenFilter, "filter") ||
      !get_f32(env, argv[2], &dx, &lenDx, "dx") || !get_geometry(env, argv + 3, &g) || !get_i64(env, argv[17], &outC, "outC"))
    return NULL;
  const int64_t field = g.kH * g.kW * g.inC;
  const int64_t pixels = g.batch * g.outH * g.outW;
  const int64_t size = g.batch * g.inH * g.inW * g.inC;
  if (!need(env, lenDy, pixels * outC, "dy") || !need(env, lenFilter, field * outC, "filter") || !need(env, lenDx, size, "dx")) return NULL;
  if (field > INT32_MAX || outC > INT32_MAX) {
    napi_throw_range_error(env, "MTL_BLAS", "matrix dimensions must fit in 32 bits");
    return NULL;
  }
  memset(dx, 0, sizeof(float) * size);
  if (pixels == 0 || field == 0) return NULL;
  int64_t block = (1 << 18) / field; /* rows of about 1 MiB */
  if (block < 64) block = 64;
  if (block > pixels) block = pixels;
  float *cols = malloc(sizeof(float) * block * field);
  if (!cols) {
    napi_throw_error(env, "MTL_BLAS", "out of memory");
    return NULL;
  }
  for (int64_t p0 = 0; p0 < pixels; p0 += block) {
    const int64_t rows = p0 + block <= pixels ? block : pixels - p0;
    if (outC == 0) memset(cols, 0, sizeof(float) * rows * field);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)field, (int)outC, 1.0f, dy + p0 * outC, (int)outC, filter,
                  (int)outC, 0.0f, cols, (int)field);
    col2im_rows(cols, dx, &g, p0, p0 + rows);
  }
  free(cols);
  return NULL;
}

/*
 * Pool geometry (NHWC; windows clipped to the image, so padding never wins a maximum):
 * batch, inH, inW, channels, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft.
 */
typedef struct {
  int64_t batch, inH, inW, c, outH, outW, fH, fW, sH, sW, top, left;
} PoolGeometry;

static int get_pool_geometry(napi_env env, napi_value *argv, PoolGeometry *g) {
  int64_t *fields[] = {&g->batch, &g->inH, &g->inW, &g->c, &g->outH, &g->outW, &g->fH, &g->fW, &g->sH, &g->sW, &g->top, &g->left};
  for (int i = 0; i < 12; i++) {
    if (napi_get_value_int64(env, argv[i], fields[i]) != napi_ok) {
      napi_throw_type_error(env, "MTL_BLAS", "pool geometry must be integers");
      return 0;
    }
  }
  if (g->batch < 0 || g->inH < 0 || g->inW < 0 || g->c < 0 || g->outH < 0 || g->outW < 0 || g->fH < 1 || g->fW < 1 || g->sH < 1 ||
      g->sW < 1) {
    napi_throw_range_error(env, "MTL_BLAS", "pool geometry out of range");
    return 0;
  }
  return 1;
}

/* The rows [h0, h1) and columns [w0, w1) of a window that lie inside the image. */
static void pool_window(const PoolGeometry *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1) {
  const int64_t hs = oh * g->sH - g->top, ws = ow * g->sW - g->left;
  *h0 = hs < 0 ? 0 : hs;
  *h1 = hs + g->fH > g->inH ? g->inH : hs + g->fH;
  *w0 = ws < 0 ? 0 : ws;
  *w1 = ws + g->fW > g->inW ? g->inW : ws + g->fW;
}

/*
 * One window's first maximum in scan order (rows, then columns), for every channel at once: a
 * strictly greater value replaces the best so far, so ties keep the first and NaN never wins.
 * best = -Infinity and where = -1 when the window holds only -Infinity and NaN (or lies in the
 * padding). where is the input pixel, (b * inH + ih) * inW + iw: below 2^31, since the wasm heap
 * (4 GiB) holds fewer floats. isgreater is `>` without the invalid-operation signal on NaN, which
 * is what lets the compiler turn the selects into vector blends over the channels (with `>` it
 * keeps a branch per entry: 8x slower on random data).
 */
static void window_argmax(const PoolGeometry *g, const float *restrict x, int64_t b, int64_t oh, int64_t ow, float *restrict best,
                          int32_t *restrict where) {
  const int64_t c = g->c;
  int64_t h0, h1, w0, w1;
  pool_window(g, oh, ow, &h0, &h1, &w0, &w1);
  for (int64_t ch = 0; ch < c; ch++) {
    best[ch] = -INFINITY;
    where[ch] = -1;
  }
  for (int64_t ih = h0; ih < h1; ih++)
    for (int64_t iw = w0; iw < w1; iw++) {
      const int32_t pixel = (int32_t)((b * g->inH + ih) * g->inW + iw);
      const float *restrict px = x + (int64_t)pixel * c;
      for (int64_t ch = 0; ch < c; ch++) {
        const float v = px[ch];
        const int greater = isgreater(v, best[ch]);
        best[ch] = greater ? v : best[ch];
        where[ch] = greater ? pixel : where[ch];
      }
    }
}

/*
 * MaxPoolGrad when the windows tile the input exactly and there are at most 32 channels (LeNet's
 * 2x2 pools): per window, the first maximum of each channel (as window_argmax, the position as the
 * window's cell) in local arrays the compiler keeps in registers, then the whole window written:
 * the gradient at that cell, 0 elsewhere (`+ 0.0f` turns -0 into +0, as 0 + (-0) on the general
 * path). ~30% faster than the general loop there.
 */
static void max_pool_grad_tiles(const PoolGeometry *g, const float *restrict x, const float *restrict dy, float *restrict dx) {
  const int64_t c = g->c;
  const float *grad = dy;
  for (int64_t b = 0; b < g->batch; b++)
    for (int64_t oh = 0; oh < g->outH; oh++)
      for (int64_t ow = 0; ow < g->outW; ow++, grad += c) {
        float best[32];
        int32_t where[32];
        for (int64_t ch = 0; ch < c; ch++) {
          best[ch] = -INFINITY;
          where[ch] = -1;
        }
        for (int64_t kh = 0; kh < g->fH; kh++)
          for (int64_t kw = 0; kw < g->fW; kw++) {
            const int32_t cell = (int32_t)(kh * g->fW + kw);
            const float *restrict px = x + ((b * g->inH + oh * g->fH + kh) * g->inW + ow * g->fW + kw) * c;
            for (int64_t ch = 0; ch < c; ch++) {
              const float v = px[ch];
              const int greater = isgreater(v, best[ch]);
              best[ch] = greater ? v : best[ch];
              where[ch] = greater ? cell : where[ch];
            }
          }
        for (int64_t kh = 0; kh < g->fH; kh++)
          for (int64_t kw = 0; kw < g->fW; kw++) {
            const int32_t cell = (int32_t)(kh * g->fW + kw);
            float *restrict dst = dx + ((b * g->inH + oh * g->fH + kh) * g->inW + ow * g->fW + kw) * c;
            for (int64_t ch = 0; ch < c; ch++) {
              /* the gradient's bits under an all-ones / all-zeros mask: a select the compiler
                 vectorises (a float ?: stays a branch under the default -ftrapping-math) */
              uint32_t bits;
              float v;
              memcpy(&bits, grad + ch, sizeof bits);
              bits &= -(uint32_t)(where[ch] == cell);
              memcpy(&v, &bits, sizeof v);
              dst[ch] = v + 0.0f;
            }
          }
      }
}

/*
 * maxPoolGrad(x, dy, dx, ...poolGeometry): dx = 0, then each output gradient is added to the input
 * entry that was its window's maximum (see window_argmax). Overlapping windows add up, in output
 * order. When the windows tile the input exactly (stride = filter, no padding, nothing left over,
 * LeNet's 2x2 pools) every input entry belongs to one window: each window is written whole, no
 * zeroing pass and no scattered adds (max_pool_grad_tiles for up to 32 channels, the loop below
 * for more); `+ 0.0f` turns a -0 gradient into +0 as 0 + (-0) does on the general path.
 */
static napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *dy, *dx;
  size_t lenX, lenDy, lenDx;
  PoolGeometry g;
  if (argc < 15 || !get_f32(env, argv[0], &x, &lenX, "x") || !get_f32(env, argv[1], &dy, &lenDy, "dy") ||
      !get_f32(env, argv[2], &dx, &lenDx, "dx") || !get_pool_geometry(env, argv + 3, &g))
    return NULL;
  const int64_t size = g.batch * g.inH * g.inW * g.c;
  if (!need(env, lenX, size, "x") || !need(env, lenDx, size, "dx") || !need(env, lenDy, g.batch * g.outH * g.outW * g.c, "dy")) return NULL;
  const int tiles = g.sH == g.fH && g.sW == g.fW && g.top == 0 && g.left == 0 && g.outH * g.fH == g.inH && g.outW * g.fW == g.inW;
  if (tiles && g.c <= 32) {
    max_pool_grad_tiles(&g, x, dy, dx);
    return NULL;
  }
  if (!tiles) memset(dx, 0, sizeof(float) * size);
  if (size == 0 || g.c == 0) return NULL;
  const int64_t c = g.c;
  float *best = malloc(sizeof(float) * c);
  int32_t *where = malloc(sizeof(int32_t) * c);
  if (!best || !where) {
    free(best);
    free(where);
    napi_throw_error(env, "MTL_BLAS", "out of memory");
    return NULL;
  }
  const float *grad = dy;
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oh = 0; oh < g.outH; oh++)
      for (int64_t ow = 0; ow < g.outW; ow++, grad += c) {
        window_argmax(&g, x, b, oh, ow, best, where);
        if (tiles) {
          for (int64_t ih = oh * g.fH; ih < (oh + 1) * g.fH; ih++)
            for (int64_t iw = ow * g.fW; iw < (ow + 1) * g.fW; iw++) {
              const int32_t pixel = (int32_t)((b * g.inH + ih) * g.inW + iw);
              float *restrict dst = dx + (int64_t)pixel * c;
              const float *restrict src = grad;
              const int32_t *restrict at = where;
              for (int64_t ch = 0; ch < c; ch++) {
                /* the gradient's bits under an all-ones / all-zeros mask: a select the compiler
                   vectorises (a float ?: stays a branch under the default -ftrapping-math) */
                uint32_t bits;
                float v;
                memcpy(&bits, src + ch, sizeof bits);
                bits &= -(uint32_t)(at[ch] == pixel);
                memcpy(&v, &bits, sizeof v);
                dst[ch] = v + 0.0f;
              }
            }
        } else {
          for (int64_t ch = 0; ch < c; ch++)
            if (where[ch] >= 0) dx[(int64_t)where[ch] * c + ch] += grad[ch];
        }
      }
  free(best);
  free(where);
  return NULL;
}

/*
 * maxPool(x, y, ...poolGeometry): MaxPool for windows that tile the input exactly (stride = filter,
 * no padding, nothing left over) and at most 32 channels, the shapes the JS side sends here: each
 * window's maximum by the same rule as window_argmax (NaN never wins, -Infinity when the window holds
 * no number, ties keep the first), as tfjs's cpu backend computes it. ~1.8x XNNPACK's time on
 * LeNet's first pooling layer, with the per-window maxima in registers.
 */
static napi_value MaxPool(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *y;
  size_t lenX, lenY;
  PoolGeometry g;
  if (argc < 14 || !get_f32(env, argv[0], &x, &lenX, "x") || !get_f32(env, argv[1], &y, &lenY, "y") || !get_pool_geometry(env, argv + 2, &g))
    return NULL;
  if (!(g.sH == g.fH && g.sW == g.fW && g.top == 0 && g.left == 0 && g.outH * g.fH == g.inH && g.outW * g.fW == g.inW && g.c <= 32)) {
    napi_throw_range_error(env, "MTL_BLAS", "maxPool takes windows that tile the input, with at most 32 channels");
    return NULL;
  }
  if (!need(env, lenX, g.batch * g.inH * g.inW * g.c, "x") || !need(env, lenY, g.batch * g.outH * g.outW * g.c, "y")) return NULL;
  const int64_t c = g.c;
  float *restrict out = y;
  for (int64_t b = 0; b < g.batch; b++)
    for (int64_t oh = 0; oh < g.outH; oh++)
      for (int64_t ow = 0; ow < g.outW; ow++, out += c) {
        float best[32];
        for (int64_t ch = 0; ch < c; ch++) best[ch] = -INFINITY;
        for (int64_t kh = 0; kh < g.fH; kh++)
          for (int64_t kw = 0; kw < g.fW; kw++) {
            const float *restrict px = x + ((b * g.inH + oh * g.fH + kh) * g.inW + ow * g.fW + kw) * c;
            for (int64_t ch = 0; ch < c; ch++) best[ch] = isgreater(px[ch], best[ch]) ? px[ch] : best[ch];
          }
        for (int64_t ch = 0; ch < c; ch++) out[ch] = best[ch];
      }
  return NULL;
}

/*
 * sumMiddle(x, out, outer, mid, inner): out[o, i] = sum over m of x[o, m, i] (x viewed as
 * [outer, mid, inner]): a sum over a contiguous block of axes, without transposing first. Rows of
 * `inner` entries are added in order into float32 partial sums of up to 64 rows, flushed into
 * float64 totals: the error stays that of a few float32 additions however long mid is.
 * Sums over several rows are processed `lanes` entries at a time (a multiple of `inner` of at
 * least 64) so that the inner loop is long and contiguous even for a few channels.
 */
static napi_value SumMiddle(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *x, *out;
  size_t lenX, lenOut;
  int64_t outer, mid, inner;
  if (argc < 5 || !get_f32(env, argv[0], &x, &lenX, "x") || !get_f32(env, argv[1], &out, &lenOut, "out") ||
      !get_i64(env, argv[2], &outer, "outer") || !get_i64(env, argv[3], &mid, "mid") || !get_i64(env, argv[4], &inner, "inner"))
    return NULL;
  if (!need(env, lenX, outer * mid * inner, "x") || !need(env, lenOut, outer * inner, "out")) return NULL;
  if (outer == 0 || inner == 0) return NULL;
  /* rows per group: lanes = group * inner entries summed side by side */
  const int64_t group = inner >= 64 ? 1 : (64 + inner - 1) / inner;
  const int64_t lanes = group * inner;
  float *partial = malloc(sizeof(float) * lanes);
  double *total = malloc(sizeof(double) * lanes);
  if (!partial || !total) {
    free(partial);
    free(total);
    napi_throw_error(env, "MTL_BLAS", "out of memory");
    return NULL;
  }
  const int64_t groups = mid / group;
  for (int64_t o = 0; o < outer; o++) {
    const float *block = x + o * mid * inner;
    for (int64_t j = 0; j < lanes; j++) total[j] = 0;
    for (int64_t g0 = 0; g0 < groups; g0 += 64) {
      const int64_t g1 = g0 + 64 < groups ? g0 + 64 : groups;
      for (int64_t j = 0; j < lanes; j++) partial[j] = 0;
      for (int64_t gi = g0; gi < g1; gi++) {
        const float *row = block + gi * lanes;
        for (int64_t j = 0; j < lanes; j++) partial[j] += row[j];
      }
      for (int64_t j = 0; j < lanes; j++) total[j] += partial[j];
    }
    /* the rows left over after whole groups go straight into the totals of the first row's lanes */
    for (int64_t m = groups * group; m < mid; m++)
      for (int64_t i = 0; i < inner; i++) total[i] += block[m * inner + i];
    float *dst = out + o * inner;
    for (int64_t i = 0; i < inner; i++) {
      double s = 0;
      for (int64_t r = 0; r < group; r++) s += total[r * inner + i];
      dst[i] = (float)s;
    }
  }
  free(partial);
  free(total);
  return NULL;
}

/*
 * addTiled(big, small, out, smallSize): out[i] = big[i] + small[i mod smallSize], a bias added
 * along the trailing axes (float32 addition is commutative, so this serves small + big too).
 */
static napi_value AddTiled(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *big, *small, *out;
  size_t lenBig, lenSmall, lenOut;
  int64_t n;
  if (argc < 4 || !get_f32(env, argv[0], &big, &lenBig, "big") || !get_f32(env, argv[1], &small, &lenSmall, "small") ||
      !get_f32(env, argv[2], &out, &lenOut, "out") || !get_i64(env, argv[3], &n, "smallSize"))
    return NULL;
  if (n == 0 || lenBig % (size_t)n != 0) {
    napi_throw_range_error(env, "MTL_BLAS", "addTiled: big's length must be a multiple of smallSize");
    return NULL;
  }
  if (!need(env, lenSmall, n, "small") || !need(env, lenOut, (int64_t)lenBig, "out")) return NULL;
  const int64_t rows = (int64_t)lenBig / n;
  for (int64_t r = 0; r < rows; r++) {
    const float *a = big + r * n;
    float *o = out + r * n;
    for (int64_t i = 0; i < n; i++) o[i] = a[i] + small[i];
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t threads;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_int32(env, argv[0], &threads));
  if (threads < 1) {
    napi_throw_range_error(env, "MTL_BLAS", "threads must be at least 1");
    return NULL;
  }
  openblas_set_num_threads(threads);
  return NULL;
}

static napi_value GetThreads(napi_env env, napi_callback_info info) {
  napi_value result;
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &result));
  return result;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  napi_value result;
  const char *config = openblas_get_config();
  CHECK(napi_create_string_utf8(env, config ? config : "OpenBLAS", NAPI_AUTO_LENGTH, &result));
  return result;
}

/*
 * Direct convolutions (conv_direct.c) for few channels: convForward(x, w, out, outC, ...geometry),
 * convFilterGrad(x, dy, dw, outC, ...geometry), convInputGrad(dy, w, dx, outC, ...geometry), all
 * NHWC with undilated filters. They use as many threads as OpenBLAS does. False when the shape is
 * not one they take (the caller then uses im2col + sgemm).
 */
enum DirectKind { DIRECT_FORWARD, DIRECT_FILTER_GRAD, DIRECT_INPUT_GRAD };

static napi_value Direct(napi_env env, napi_callback_info info, enum DirectKind kind) {
  size_t argc = 18;
  napi_value argv[18];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  float *a, *b, *out;
  size_t lenA, lenB, lenOut;
  int64_t outC;
  Geometry g;
  static const char *names[3][3] = {{"x", "w", "out"}, {"x", "dy", "dw"}, {"dy", "w", "dx"}};
  if (argc < 18 || !get_f32(env, argv[0], &a, &lenA, names[kind][0]) || !get_f32(env, argv[1], &b, &lenB, names[kind][1]) ||
      !get_f32(env, argv[2], &out, &lenOut, names[kind][2]) || napi_get_value_int64(env, argv[3], &outC) != napi_ok ||
      !get_geometry(env, argv + 4, &g))
    return NULL;
  const int64_t xSize = g.batch * g.inH * g.inW * g.inC, ySize = g.batch * g.outH * g.outW * outC, wSize = g.kH * g.kW * g.inC * outC;
  const int64_t sizes[3][3] = {{xSize, wSize, ySize}, {xSize, ySize, wSize}, {ySize, wSize, xSize}};
  if (!need(env, lenA, sizes[kind][0], names[kind][0]) || !need(env, lenB, sizes[kind][1], names[kind][1]) ||
      !need(env, lenOut, sizes[kind][2], names[kind][2]))
    return NULL;
  ConvShape s = {g.batch, g.inH, g.inW, g.inC, g.outH, g.outW, outC, g.kH, g.kW, g.strideH, g.strideW, g.top, g.left};
  bool done = false;
  if (g.dilH == 1 && g.dilW == 1 && conv_direct_supported(&s)) {
    const int threads = openblas_get_num_threads();
    int ok = kind == DIRECT_FORWARD ? conv_direct_forward(&s, a, b, out, threads)
             : kind == DIRECT_FILTER_GRAD ? conv_direct_filter_grad(&s, a, b, out, threads)
                                          : conv_direct_input_grad(&s, a, b, out, threads);
    if (!ok) {
      napi_throw_error(env, "MTL_BLAS", "direct convolution: out of memory");
      return NULL;
    }
    done = true;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, done, &result));
  return result;
}

static napi_value ConvForward(napi_env env, napi_callback_info info) { return Direct(env, info, DIRECT_FORWARD); }
static napi_value ConvFilterGrad(napi_env env, napi_callback_info info) { return Direct(env, info, DIRECT_FILTER_GRAD); }
static napi_value ConvInputGrad(napi_env env, napi_callback_info info) { return Direct(env, info, DIRECT_INPUT_GRAD); }

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"im2col", NULL, Im2col, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"col2im", NULL, Col2im, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"convBackpropInput", NULL, ConvBackpropInput, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"maxPool", NULL, MaxPool, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"maxPoolGrad", NULL, MaxPoolGrad, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"sumMiddle", NULL, SumMiddle, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"addTiled", NULL, AddTiled, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"convForward", NULL, ConvForward, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"convFilterGrad", NULL, ConvFilterGrad, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"convInputGrad", NULL, ConvInputGrad, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"getThreads", NULL, GetThreads, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
      {"config", NULL, Config, NULL, NULL, NULL, (napi_property_attributes)(napi_writable | napi_enumerable | napi_configurable), NULL},
  };
  if (napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods) != napi_ok) return NULL;
  return exports;
}
