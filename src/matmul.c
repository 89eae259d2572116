/* matmul.c — matrix products through the active kernel implementation (kernels.h).
 *
 * One job may hold several matrices of the same input (Q, K, V; gate and up): the activations are quantized
 * once and one pool pass computes them all. Quantized weights: the caller's thread quantizes every token's
 * activations once (spread over the pool when there are many tokens); then the rows, in whole 4-row panels,
 * are handed out as tasks. Many tokens: a few equal tasks per thread; a task packs each panel once per block
 * of tokens and runs the register-blocked kernel on it, so each weight row is read from memory once per block
 * of up to 64 tokens and prefill is bound by arithmetic, not bandwidth. One to three tokens: one long task
 * per thread, then small ones, and (where the ISA has it) weights unpacked in registers without packing.
 * Float weights skip the packing. Types without a kernel fall back to dequantize + dot. Results do not
 * depend on the thread count or on how tokens are batched. */
#include "matmul.h"

#include <stdbool.h>
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

/* One matrix of a job, with where its rows go and which of the job's tasks are its. */
typedef struct {
    const uint8_t *w;
    uint32_t type;
    int64_t rows;
    uint64_t row_bytes;
    float *y;
    int64_t y_stride;
    int64_t panel0; /* its first panel in the job's panel sequence (not aligned) */
} mm_part;

typedef struct {
    const kernel_ops *k;
    int64_t cols;
    const float *x;
    int64_t x_stride;
    int n_tok;
    /* tasks cut the job's panels (of KROWS rows; the parts' panels one after another, or, when aligned,
     * those of one part) into n_big tasks of `big` panels, then tasks of `small` panels up to `panels` */
    int64_t panels, big, small;
    int n_big;
    int token_block_q, token_block_f; /* multiples of KTOK */
    act_chunk *act;        /* quantized activations, when a part needs them */
    int64_t nch;
    mm_part part[MATMUL_MAX_PARTS];
    int n_parts;
    bool aligned;          /* every part has the same rows: task i covers the same rows of each, then `after` */
    matmul_epilogue after;
    void *after_arg;
} matmul_job;

static bool is_float(uint32_t type) { return type == T_F32 || type == T_F16 || type == T_BF16; }

static void quantize_task(void *arg, int t) {
    const matmul_job *j = arg;
    j->k->quantize_act(j->x + t * j->x_stride, j->cols, j->act + t * j->nch);
}

static void quant_rows(const matmul_job *j, const mm_part *p, int64_t r0, int64_t r1) {
    /* one token: each packed panel would be used once, so a kernel that can unpack in registers does it per row */
    if (j->n_tok == 1 && j->k->gemv_q && j->k->gemv_q(p->type, p->w + (uint64_t)r0 * p->row_bytes, p->row_bytes, r1 - r0,
                                                       j->cols, j->act, p->y + r0))
        return;
    panel_chunk *panel = scratch_get(&tls_panel, sizeof(panel_chunk) * (size_t)(j->nch * KROWS));
    if (!panel) return; /* out of memory: leave y as it was */
    for (int t0 = 0; t0 < j->n_tok; t0 += j->token_block_q) {
        const int t1 = t0 + j->token_block_q < j->n_tok ? t0 + j->token_block_q : j->n_tok;
        for (int64_t r = r0; r < r1; r += KROWS) {
            const int nrows = r1 - r < KROWS ? (int)(r1 - r) : KROWS;
            if (nrows < KROWS) memset(panel, 0, sizeof(panel_chunk) * (size_t)(j->nch * KROWS));
            for (int i = 0; i < nrows; i++)
                j->k->pack_row(p->type, p->w + (uint64_t)(r + i) * p->row_bytes, j->cols, panel + i, KROWS);
            if (r + KROWS < r1) { /* the next panel's rows come in while this one is multiplied */
                const char *next = (const char *)p->w + (uint64_t)(r + KROWS) * p->row_bytes;
                const int64_t n_next = (int64_t)p->row_bytes * (r1 - r - KROWS < KROWS ? r1 - r - KROWS : KROWS);
                for (int64_t b = 0; b < n_next; b += 64) __builtin_prefetch(next + b, 0, 3);
            }
            for (int t = t0; t < t1; t += KTOK) {
                const int nt = t1 - t < KTOK ? t1 - t : KTOK;
                j->k->gemm_q(p->type, panel, j->nch, j->act + t * j->nch, j->nch, nt, nrows, p->y + t * p->y_stride + r,
                             p->y_stride);
            }
        }
    }
}

static void float_rows(const matmul_job *j, const mm_part *p, int64_t r0, int64_t r1) {
    for (int t0 = 0; t0 < j->n_tok; t0 += j->token_block_f) {
        const int t1 = t0 + j->token_block_f < j->n_tok ? t0 + j->token_block_f : j->n_tok;
        for (int64_t r = r0; r < r1; r += KROWS) {
            const int nrows = r1 - r < KROWS ? (int)(r1 - r) : KROWS;
            for (int t = t0; t < t1; t += KTOK) {
                const int nt = t1 - t < KTOK ? t1 - t : KTOK;
                j->k->gemm_f(p->type, p->w + (uint64_t)r * p->row_bytes, p->row_bytes, nrows, j->cols,
                             j->x + t * j->x_stride, j->x_stride, nt, p->y + t * p->y_stride + r, p->y_stride);
            }
        }
    }
}

/* Fallback for computable types without a kernel: dequantize each row once, dot it with every token. */
static void fallback_rows(const matmul_job *j, const mm_part *p, int64_t r0, int64_t r1) {
    float *row = scratch_get(&tls_panel, sizeof(float) * (size_t)j->cols);
    if (!row) return;
    for (int64_t r = r0; r < r1; r++) {
        dequantize_row(p->type, p->w + (uint64_t)r * p->row_bytes, row, j->cols);
        for (int t = 0; t < j->n_tok; t++)
            p->y[t * p->y_stride + r] = vec_dot_row(T_F32, row, j->x + t * j->x_stride, j->cols);
    }
}

static void part_rows(const matmul_job *j, const mm_part *p, int64_t r0, int64_t r1) {
    if (r1 > p->rows) r1 = p->rows;
    if (r0 >= r1) return;
    if (is_float(p->type)) float_rows(j, p, r0, r1);
    else if (j->act && qtype_get(p->type)) quant_rows(j, p, r0, r1);
    else fallback_rows(j, p, r0, r1);
}

static void matmul_task(void *arg, int task) {
    const matmul_job *j = arg;
    int64_t p0 = task < j->n_big ? task * j->big : j->n_big * j->big + (task - j->n_big) * j->small;
    int64_t p1 = p0 + (task < j->n_big ? j->big : j->small);
    if (p1 > j->panels) p1 = j->panels;
    if (j->aligned) {
        for (int i = 0; i < j->n_parts; i++) part_rows(j, &j->part[i], p0 * KROWS, p1 * KROWS);
        if (j->after) j->after(j->after_arg, p0 * KROWS, p1 * KROWS < j->part[0].rows ? p1 * KROWS : j->part[0].rows, j->n_tok);
        return;
    }
    for (int i = 0; i < j->n_parts; i++) {
        const mm_part *p = &j->part[i];
        const int64_t q0 = p0 > p->panel0 ? p0 - p->panel0 : 0, q1 = p1 - p->panel0;
        if (q1 > 0) part_rows(j, p, q0 * KROWS, q1 * KROWS);
    }
}

static int token_block(size_t bytes_per_token) {
    size_t tb = TOKEN_BLOCK_BYTES / (bytes_per_token ? bytes_per_token : 1);
    if (tb > MAX_TOKEN_BLOCK) tb = MAX_TOKEN_BLOCK;
    tb &= ~(size_t)(KTOK - 1);
    return tb < KTOK ? KTOK : (int)tb;
}

void matmul_multi(threadpool *pool, const matmul_target *mats, int n_mats, int64_t cols, const float *x,
                  int64_t x_stride, int n_tok, matmul_epilogue after, void *after_arg) {
    if (n_tok <= 0 || n_mats <= 0 || n_mats > MATMUL_MAX_PARTS) return;
    matmul_job j = {.k = kernels_active(), .cols = cols, .x = x, .x_stride = x_stride, .n_tok = n_tok,
                    .n_parts = n_mats, .aligned = true, .after = after, .after_arg = after_arg};
    int64_t panels = 0;
    bool any_quant = false;
    for (int i = 0; i < n_mats; i++) {
        const matmul_target *m = &mats[i];
        j.part[i] = (mm_part){(const uint8_t *)m->w, m->type, m->rows, m->row_bytes, m->y, m->y_stride, panels};
        if (m->rows != mats[0].rows) j.aligned = false;
        panels += (m->rows + KROWS - 1) / KROWS;
        if (!is_float(m->type) && qtype_get(m->type) && cols % KBLK == 0) any_quant = true;
    }
    if (panels <= 0) return;
    j.panels = j.aligned ? (mats[0].rows + KROWS - 1) / KROWS : panels;
    /* Many tokens: equal tasks, a few per thread, so a thread that was descheduled does not hold up the
     * rest. One to three tokens (decode) are bound by memory, and each task starts a new stream the hardware
     * prefetcher has to pick up again: one long task per thread over most of the rows, then small ones to
     * even out the end. */
    const int n_threads = pool_size(pool);
    if (n_threads <= 1) {
        j.n_big = 1, j.big = j.panels, j.small = 1;
    } else if (n_tok < KTOK) {
        j.n_big = n_threads;
        j.big = j.panels * 85 / 100 / n_threads; /* 85 %: best of 50-100 % measured on E2B decode */
        const int64_t rest = j.panels - j.big * n_threads;
        j.small = (rest + 2 * n_threads - 1) / (2 * n_threads);
        if (j.small < 1) j.small = 1;
    } else {
        int64_t want = (int64_t)n_threads * TASKS_PER_THREAD;
        if (want > j.panels) want = j.panels;
        j.n_big = 0, j.big = 0, j.small = (j.panels + want - 1) / want;
    }
    const int n_tasks = j.n_big + (int)((j.panels - j.n_big * j.big + j.small - 1) / j.small);
    if (!j.aligned && after) return; /* not offered: an epilogue needs the rows of every part together */
    j.token_block_f = token_block(sizeof(float) * (size_t)cols);
    if (any_quant) {
        j.nch = (cols + KCHUNK - 1) / KCHUNK;
        j.act = scratch_get(&tls_act, sizeof(act_chunk) * (size_t)(j.nch * n_tok));
        if (!j.act) return;
        if (n_tok >= 4) pool_for(pool, n_tok, quantize_task, &j);
        else for (int t = 0; t < n_tok; t++) quantize_task(&j, t);
        j.token_block_q = token_block(sizeof(act_chunk) * (size_t)j.nch);
    }
    pool_for(pool, n_tasks, matmul_task, &j);
}

void matmul(threadpool *pool, const void *w, uint32_t type, int64_t rows, int64_t cols, uint64_t row_bytes,
            const float *x, int64_t x_stride, int n_tok, float *y, int64_t y_stride) {
    if (rows <= 0) return;
    const matmul_target t = {w, type, rows, row_bytes, y, y_stride};
    matmul_multi(pool, &t, 1, cols, x, x_stride, n_tok, NULL, NULL);
}
