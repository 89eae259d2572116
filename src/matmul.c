/* matmul.c — portable matrix products. Rows are split into chunks handed out by the pool; within a chunk
 * each row is dequantized once into a per-call scratch row and dotted with every token's activations. */
#include "matmul.h"

#include <stdlib.h>

#include "quant.h"
#include "types.h"

enum { ROWS_PER_TASK = 16, MAX_COLS_STACK = 16384 };

typedef struct {
    const uint8_t *w;
    uint32_t type;
    int64_t rows, cols;
    uint64_t row_bytes;
    const float *x;
    int64_t x_stride;
    int n_tok;
    float *y;
    int64_t y_stride;
} matmul_job;

static float dot_f32(const float *a, const float *b, int64_t n) {
    /* 8 independent partial sums: vectorizable and a stable summation order */
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

static void matmul_task(void *arg, int task) {
    const matmul_job *j = arg;
    int64_t r0 = (int64_t)task * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK;
    if (r1 > j->rows) r1 = j->rows;
    float stack_row[j->type == T_F32 ? 1 : (j->cols <= MAX_COLS_STACK ? j->cols : 1)];
    float *row = stack_row;
    float *heap_row = NULL;
    if (j->type != T_F32 && j->cols > MAX_COLS_STACK) row = heap_row = malloc(sizeof(float) * (size_t)j->cols);
    for (int64_t r = r0; r < r1; r++) {
        const void *src = j->w + (uint64_t)r * j->row_bytes;
        const float *wrow;
        if (j->type == T_F32) {
            wrow = src;
        } else {
            dequantize_row(j->type, src, row, j->cols);
            wrow = row;
        }
        for (int t = 0; t < j->n_tok; t++) j->y[t * j->y_stride + r] = dot_f32(wrow, j->x + t * j->x_stride, j->cols);
    }
    free(heap_row);
}

void matmul(threadpool *pool, const void *w, uint32_t type, int64_t rows, int64_t cols, uint64_t row_bytes,
            const float *x, int64_t x_stride, int n_tok, float *y, int64_t y_stride) {
    matmul_job j = {w, type, rows, cols, row_bytes, x, x_stride, n_tok, y, y_stride};
    int n_tasks = (int)((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK);
    pool_for(pool, n_tasks, matmul_task, &j);
}
