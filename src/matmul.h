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

/* Several matrices of `cols` columns applied to the same activations in one pass over the pool (the
 * activations are quantized once; one synchronisation instead of one per matrix). When every matrix has the
 * same rows, a task computes the same rows [r0, r1) of each and then calls after(arg, r0, r1, n_tok), so
 * an elementwise step on those rows (an activation, a soft-cap) runs in parallel while they are in cache;
 * `after` must be NULL otherwise. */
#define MATMUL_MAX_PARTS 4
typedef struct {
    const void *w;
    uint32_t type;
    int64_t rows;
    uint64_t row_bytes;
    float *y;
    int64_t y_stride;
} matmul_target;
typedef void (*matmul_epilogue)(void *arg, int64_t r0, int64_t r1, int n_tok);
void matmul_multi(threadpool *pool, const matmul_target *mats, int n_mats, int64_t cols, const float *x,
                  int64_t x_stride, int n_tok, matmul_epilogue after, void *after_arg);

#endif
