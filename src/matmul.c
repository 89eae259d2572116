/* matmul.c — matrix products through the active kernel implementation (kernels.h).
 *
 * Quantized weights: the caller's thread quantizes every token's activations once (spread over the pool when
 * there are many tokens); then the rows are cut into equal chunks of whole 4-row panels, handed out by the
 * pool. A task packs each panel of its chunk once per block of tokens and runs the register-blocked kernel on
 * it for 4 tokens at a time, so each weight row is read from memory once per block of up to 64 tokens and
 * prefill is bound by arithmetic, not bandwidth. Float weights skip the packing. Types without a kernel fall
 * back to dequantize + dot. Results do not depend on the thread count or on how tokens are batched. */
#include "matmul.h"

#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"
#include "types.h"

enum { TASKS_PER_THREAD = 8, TOKEN_BLOCK_BYTES = 768 * 1024, MAX_TOKEN_BLOCK = 64 };

/* Per-thread scratch that grows and is kept for the thread's lifetime (pool workers live as long as the pool). */
typedef struct {
    void *p;
    size_t cap;
} scratch;

static void *scratch_get(scratch *s, size_t bytes) {
    if (bytes > s->cap) {
        free(s->p);
        s->cap = (bytes + 65535) & ~(size_t)65535;
        s->p = aligned_alloc(64, s->cap);
        if (!s->p) s->cap = 0;
    }
    return s->p;
}

static _Thread_local scratch tls_act, tls_panel;

typedef struct {
    const kernel_ops *k;
    const uint8_t *w;
    uint32_t type;
    int64_t rows, cols;
    uint64_t row_bytes;
    const float *x;
    int64_t x_stride;
    int n_tok;
    float *y;
    int64_t y_stride;
    int64_t rows_per_task; /* a multiple of KROWS */
    int token_block;       /* a multiple of KTOK */
    /* quantized path */
    act_chunk *act;
    int64_t nch;
} matmul_job;

static void quantize_task(void *arg, int t) {
    const matmul_job *j = arg;
    j->k->quantize_act(j->x + t * j->x_stride, j->cols, j->act + t * j->nch);
}

static void quant_task(void *arg, int task) {
    const matmul_job *j = arg;
    const int64_t r0 = task * j->rows_per_task;
    const int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    /* one token: each packed panel would be used once, so a kernel that can unpack in registers does it per row */
    if (j->n_tok == 1 && j->k->gemv_q && j->k->gemv_q(j->type, j->w + (uint64_t)r0 * j->row_bytes, j->cols, j->act, j->y + r0)) {
        for (int64_t r = r0 + 1; r < r1; r++) j->k->gemv_q(j->type, j->w + (uint64_t)r * j->row_bytes, j->cols, j->act, j->y + r);
        return;
    }
    panel_chunk *panel = scratch_get(&tls_panel, sizeof(panel_chunk) * (size_t)(j->nch * KROWS));
    if (!panel) return; /* out of memory: leave y as it was */
    for (int t0 = 0; t0 < j->n_tok; t0 += j->token_block) {
        const int t1 = t0 + j->token_block < j->n_tok ? t0 + j->token_block : j->n_tok;
        for (int64_t r = r0; r < r1; r += KROWS) {
            const int nrows = r1 - r < KROWS ? (int)(r1 - r) : KROWS;
            if (nrows < KROWS) memset(panel, 0, sizeof(panel_chunk) * (size_t)(j->nch * KROWS));
            for (int i = 0; i < nrows; i++)
                j->k->pack_row(j->type, j->w + (uint64_t)(r + i) * j->row_bytes, j->cols, panel + i, KROWS);
            for (int t = t0; t < t1; t += KTOK) {
                const int nt = t1 - t < KTOK ? t1 - t : KTOK;
                j->k->gemm_q(j->type, panel, j->nch, j->act + t * j->nch, j->nch, nt, nrows, j->y + t * j->y_stride + r,
                             j->y_stride);
            }
        }
    }
}

static void float_task(void *arg, int task) {
    const matmul_job *j = arg;
    const int64_t r0 = task * j->rows_per_task;
    const int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int t0 = 0; t0 < j->n_tok; t0 += j->token_block) {
        const int t1 = t0 + j->token_block < j->n_tok ? t0 + j->token_block : j->n_tok;
        for (int64_t r = r0; r < r1; r += KROWS) {
            const int nrows = r1 - r < KROWS ? (int)(r1 - r) : KROWS;
            for (int t = t0; t < t1; t += KTOK) {
                const int nt = t1 - t < KTOK ? t1 - t : KTOK;
                j->k->gemm_f(j->type, j->w + (uint64_t)r * j->row_bytes, j->row_bytes, nrows, j->cols,
                             j->x + t * j->x_stride, j->x_stride, nt, j->y + t * j->y_stride + r, j->y_stride);
            }
        }
    }
}

/* Fallback for computable types without a kernel: dequantize each row once, dot it with every token. */
static void fallback_task(void *arg, int task) {
    const matmul_job *j = arg;
    const int64_t r0 = task * j->rows_per_task;
    const int64_t r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    float *row = scratch_get(&tls_panel, sizeof(float) * (size_t)j->cols);
    if (!row) return;
    for (int64_t r = r0; r < r1; r++) {
        dequantize_row(j->type, j->w + (uint64_t)r * j->row_bytes, row, j->cols);
        for (int t = 0; t < j->n_tok; t++)
            j->y[t * j->y_stride + r] = vec_dot_row(T_F32, row, j->x + t * j->x_stride, j->cols);
    }
}

/* Equal chunks of whole panels, a few per thread so a thread that was descheduled does not hold up the rest. */
static int64_t split_rows(int64_t rows, int n_threads, int *n_tasks) {
    int64_t panels = (rows + KROWS - 1) / KROWS;
    int64_t want = n_threads > 1 ? (int64_t)n_threads * TASKS_PER_THREAD : 1;
    if (want > panels) want = panels;
    int64_t per = (panels + want - 1) / want;
    *n_tasks = (int)((panels + per - 1) / per);
    return per * KROWS;
}

static int token_block(size_t bytes_per_token) {
    size_t tb = TOKEN_BLOCK_BYTES / (bytes_per_token ? bytes_per_token : 1);
    if (tb > MAX_TOKEN_BLOCK) tb = MAX_TOKEN_BLOCK;
    tb &= ~(size_t)(KTOK - 1);
    return tb < KTOK ? KTOK : (int)tb;
}

void matmul(threadpool *pool, const void *w, uint32_t type, int64_t rows, int64_t cols, uint64_t row_bytes,
            const float *x, int64_t x_stride, int n_tok, float *y, int64_t y_stride) {
    if (rows <= 0 || n_tok <= 0) return;
    matmul_job j = {kernels_active(), w, type, rows, cols, row_bytes, x, x_stride, n_tok, y, y_stride, 0, 0, NULL, 0};
    int n_tasks;
    j.rows_per_task = split_rows(rows, pool_size(pool), &n_tasks);
    if (type == T_F32 || type == T_F16 || type == T_BF16) {
        j.token_block = token_block(sizeof(float) * (size_t)cols);
        pool_for(pool, n_tasks, float_task, &j);
    } else if (qtype_get(type) && cols % KBLK == 0) {
        j.nch = (cols + KCHUNK - 1) / KCHUNK;
        j.act = scratch_get(&tls_act, sizeof(act_chunk) * (size_t)(j.nch * n_tok));
        if (!j.act) return;
        if (n_tok >= 4) pool_for(pool, n_tok, quantize_task, &j);
        else for (int t = 0; t < n_tok; t++) quantize_task(&j, t);
        j.token_block = token_block(sizeof(act_chunk) * (size_t)j.nch);
        pool_for(pool, n_tasks, quant_task, &j);
    } else {
        j.rows_per_task = (rows + n_tasks - 1) / n_tasks;
        n_tasks = (int)((rows + j.rows_per_task - 1) / j.rows_per_task);
        pool_for(pool, n_tasks, fallback_task, &j);
    }
}
