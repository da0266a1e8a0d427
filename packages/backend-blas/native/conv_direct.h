/* Direct NHWC convolutions (conv_direct.c): dilation 1, any stride and padding. */
#ifndef MTL_CONV_DIRECT_H
#define MTL_CONV_DIRECT_H
#include <stdint.h>

#define CONV_MAX_THREADS 16

typedef struct {
  int64_t batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, top, left;
} ConvShape;

/* Whether these kernels take this shape (at most 32 input and 32 output channels, strides >= 1). */
int conv_direct_supported(const ConvShape *s);
/* 0 when out of memory.
 * out [batch, outH, outW, outC] from x [batch, inH, inW, inC] and w [kH, kW, inC, outC]. */
int conv_direct_forward(const ConvShape *s, const float *x, const float *w, float *out, int threads);
/* dw [kH, kW, inC, outC] from x and dy [batch, outH, outW, outC]; 0 when out of memory. */
int conv_direct_filter_grad(const ConvShape *s, const float *x, const float *dy, float *dw, int threads);
/* dx [batch, inH, inW, inC] from dy and w; 0 when out of memory. */
int conv_direct_input_grad(const ConvShape *s, const float *dy, const float *w, float *dx, int threads);
#endif
