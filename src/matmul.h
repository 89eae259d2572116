/* matmul.h — matrix products of a weight matrix (any computable tensor type) with float activations.
 * y[t][r] = sum_c W[r][c] * x[t][c]  for t < n_tok, r < rows. W is `rows` rows of `row_bytes` bytes.
 * For the quantized types (Q4_0 .. Q6_K) the activations are rounded to 8 bits per block of 32 and the
 * products are exact integer sums (kernels.h states the arithmetic); F32/F16/BF16 weights multiply the float
 * activations. Work is split over the pool by rows and each weight row is read once per block of up to 64
 * tokens. The result is bit-identical whatever the ISA (HEARTH_ISA), thread count or n_tok. */
#ifndef HEARTH_MATMUL_H
#define HEARTH_MATMUL_H

#include <stdint.h>

#include "threadpool.h"

void matmul(threadpool *pool, const void *w, uint32_t type, int64_t rows, int64_t cols, uint64_t row_bytes,
            const float *x, int64_t x_stride, int n_tok, float *y, int64_t y_stride);

#endif
