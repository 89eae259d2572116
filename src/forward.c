/* forward.c — one transformer forward for every architecture (see model.h for what varies).
 *
 * Per batch of n tokens (rows of the activations x[n][d]):
 *   x = E[tok] * embd_scale                           (+ Gemma 4 per-layer inputs, "PLE")
 *   per layer:  x += PostNorm(Attn(Norm(x)))          (post norms only where the model has them)
 *               x += PostNorm(FFN(Norm(x)))
 *               x += PostNorm(Proj(act(Gate(x)) * ple[layer]))   (PLE models)
 *               x *= output_scale
 *   logits = Norm(x) · Eoutᵀ, optionally soft-capped
 * All math is float32 as in the reference, except inside matmul.c: products with quantized weights round
 * the activations to 8 bits per block of 32 (as llama.cpp does; see kernels.h). */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "matmul.h"
#include "quant.h"
#include "types.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------- helpers */

static void mat(forward_ctx *fc, const matrix *w, const float *x, int64_t x_stride, int n, float *y,
                int64_t y_stride) {
    matmul(fc->pool, w->data, w->type, w->rows, w->cols, w->row_bytes, x, x_stride, n, y, y_stride);
}

static matmul_target target(const matrix *w, float *y, int64_t y_stride) {
    return (matmul_target){w->data, w->type, w->rows, w->row_bytes, y, y_stride};
}

/* Matrices of the same input in one pass (matmul.h); `after` runs on each task's rows when they share rows. */
static void mats(forward_ctx *fc, const matmul_target *t, int n_mats, int64_t cols, const float *x, int64_t x_stride,
                 int n, matmul_epilogue after, void *arg) {
    matmul_multi(fc->pool, t, n_mats, cols, x, x_stride, n, after, arg);
}

/* y = x / sqrt(mean(x²) + eps) * w   (w NULL: no scale). In place allowed. */
static void rms_norm(float *y, const float *x, const float *w, int n, float eps) {
    /* the sum of squares in double (as precise as the reference's float32 mean needs, whatever n), over 8
     * independent partial sums so that it vectorizes */
    double part[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) part[k] += (double)x[i + k] * x[i + k];
    double ss = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
    for (; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    if (w) for (i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
    else for (i = 0; i < n; i++) y[i] = x[i] * inv;
}

/* The rotation of every pair of a head at one position: angle_i = pos * pos_scale * inv_freq_i, computed in
 * float32 as the reference does (so positions far into the context round the same way), once per layer
 * and token for all its heads. inv_freq comes from rope_inv_freq(). */
static void rope_angles(float *cs, float *sn, int half, int pos, const layer_desc *ly, const float *inv_freq) {
    const float p = (float)pos * ly->rope_pos_scale;
    for (int i = 0; i < half; i++) {
        const float a = p * inv_freq[i];
        cs[i] = cosf(a);
        sn[i] = sinf(a);
    }
}

static void rope_inv_freq(float *inv_freq, const layer_desc *ly) {
    for (int i = 0; i < ly->n_rot / 2; i++) {
        inv_freq[i] = 1.0f / powf(ly->rope_base, (float)(2 * i) / (float)ly->n_rot);
        if (ly->rope_freq_factors) inv_freq[i] /= ly->rope_freq_factors[i];
    }
}

/* Rotate one head in place by the angles of rope_angles(). */
static void rope(float *v, int n_rot, const float *cs, const float *sn, enum rope_style style) {
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        const int i0 = style == ROPE_NEOX ? i : 2 * i;
        const int i1 = style == ROPE_NEOX ? i + half : 2 * i + 1;
        const float x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * cs[i] - x1 * sn[i];
        v[i1] = x1 * cs[i] + x0 * sn[i];
    }
}

/* KV cache rows. F32 keeps the reference's precision; F16 halves the memory; Q8_0 (blocks of 32 int8 with
 * an F16 scale, head sizes being multiples of 32) quarters it. */
static uint64_t kv_row_bytes(enum kv_storage st, int dim) {
    return st == KV_F32 ? sizeof(float) * (uint64_t)dim : st == KV_F16 ? sizeof(uint16_t) * (uint64_t)dim
                                                                        : (uint64_t)dim / 32 * 34;
}

static inline void kv_store(const kv_cache *kv, void *base, int row, int dim, const float *src) {
    uint8_t *dst = (uint8_t *)base + (uint64_t)row * kv_row_bytes(kv->storage, dim);
    if (kv->storage == KV_F32) memcpy(dst, src, sizeof(float) * (size_t)dim);
    else if (kv->storage == KV_F16) quantize_row(T_F16, src, dst, dim);
    else quantize_row(T_Q8_0, src, dst, dim);
}

/* One head's slice [h0, h0 + hd) of a cached row, as floats (pointing into the cache when it is F32). */
static inline const float *kv_load(const kv_cache *kv, const void *base, int row, int dim, int h0, int hd,
                                   float *buf) {
    const uint8_t *r = (const uint8_t *)base + (uint64_t)row * kv_row_bytes(kv->storage, dim);
    if (kv->storage == KV_F32) return (const float *)r + h0;
    if (kv->storage == KV_F16) dequantize_row(T_F16, r + (size_t)h0 * 2, buf, hd);
    else dequantize_row(T_Q8_0, r + (size_t)h0 / 32 * 34, buf, hd);
    return buf;
}

/* q·k with 16 independent partial sums: the compiler vectorizes it without reassociating float math. */
static inline float dot16(const float *a, const float *b, int n) {
    float s[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) s[j] += a[i + j] * b[i + j];
    float t = 0;
    for (int j = 0; j < 16; j++) t += s[j];
    for (; i < n; i++) t += a[i] * b[i];
    return t;
}

/* Gated feed-forward activation gate = act(gate) * up, on the rows [r0, r1) one pool task just computed. */
typedef struct {
    float *gate;
    const float *up;
    int ff;
    enum activation act;
} glu_job;

static void glu_rows(void *arg, int64_t r0, int64_t r1, int n_tok) {
    const glu_job *j = arg;
    const kernel_ops *k = kernels_active();
    for (int t = 0; t < n_tok; t++)
        k->glu(j->gate + (size_t)t * j->ff + r0, j->up + (size_t)t * j->ff + r0, r1 - r0, j->act == ACT_GELU_TANH);
}

/* ------------------------------------------------------------------------------------------ attention */

typedef struct {
    forward_ctx *fc;
    const layer_desc *ly;
    int il;
} attn_job;

/* Per-thread scratch (pool workers live as long as the pool): scores [ATT_BLOCK][keys], outputs, a value row. */
static _Thread_local float *tls_att;
static _Thread_local size_t tls_att_cap;

static float *att_scratch(size_t n) {
    if (n > tls_att_cap) {
        free(tls_att);
        tls_att_cap = (n + 4095) & ~(size_t)4095;
        tls_att = malloc(sizeof(float) * tls_att_cap);
        if (!tls_att) tls_att_cap = 0;
    }
    return tls_att;
}

/* Q8_0 cache: no float kernel reads its rows, so dequantize each and stream the softmax (one query row). */
static void attn_row_q8(const attn_job *j, int t, int h) {
    const layer_desc *ly = j->ly;
    const kv_cache *kv = j->fc->row_kv[t];
    const kv_layer *c = &kv->layers[ly->kv_source];
    const int hd = ly->head_dim, kvh = h / (ly->n_head / ly->n_kv_head), pos = j->fc->row_pos[t];
    const int lo = ly->sliding && pos - ly->window + 1 > 0 ? pos - ly->window + 1 : 0;
    const float *q = j->fc->q + (size_t)t * ly->n_head * hd + (size_t)h * hd;
    float *out = j->fc->att + (size_t)t * ly->n_head * hd + (size_t)h * hd;
    float acc[hd], kbuf[hd], vbuf[hd];
    for (int i = 0; i < hd; i++) acc[i] = 0;
    float run_max = -INFINITY, run_sum = 0;
    for (int p = lo; p <= pos; p++) {
        int row = c->ring ? p % c->cap : p;
        const float *k = kv_load(kv, c->k, row, c->dim, kvh * hd, hd, kbuf);
        const float *v = kv_load(kv, c->v, row, c->dim, kvh * hd, hd, vbuf);
        float s = dot16(q, k, hd) * ly->attn_scale;
        if (s > run_max) {
            float corr = expf(run_max - s);
            run_sum *= corr;
            for (int i = 0; i < hd; i++) acc[i] *= corr;
            run_max = s;
        }
        float e = expf(s - run_max);
        run_sum += e;
        for (int i = 0; i < hd; i++) acc[i] += e * v[i];
    }
    for (int i = 0; i < hd; i++) out[i] = acc[i] / run_sum;
}

/* One head for one block of query rows (consecutive positions of one sequence, forward.c's att_blocks):
 * causal (and windowed) softmax attention over the cached keys. The scores q.k of every row against every
 * key any row of the block can see come from the matrix kernel (the cached keys are the rows of a matrix,
 * F32 or F16; each key row is read once per block, not once per query), then an exact softmax per row over
 * its own visible keys, then the values' weighted sums, each value row added to the rows that see it in
 * position order (so a row's result does not depend on its block). */
static void attn_task(void *arg, int task) {
    const attn_job *j = arg;
    const forward_ctx *fc = j->fc;
    const layer_desc *ly = j->ly;
    const int blk = task / ly->n_head, h = task % ly->n_head;
    const int t0 = fc->att_blk[blk], t1 = fc->att_blk[blk + 1], nt = t1 - t0;
    const kv_cache *kv = fc->row_kv[t0];
    if (kv->storage == KV_Q8_0) {
        for (int t = t0; t < t1; t++) attn_row_q8(j, t, h);
        return;
    }
    const kernel_ops *kops = kernels_active();
    const int hd = ly->head_dim, kvh = h / (ly->n_head / ly->n_kv_head), q_dim = ly->n_head * hd;
    const int pos0 = fc->row_pos[t0], pos1 = fc->row_pos[t1 - 1];
    const int lo0 = ly->sliding && pos0 - ly->window + 1 > 0 ? pos0 - ly->window + 1 : 0;
    const int n_keys = pos1 - lo0 + 1;
    const kv_layer *c = &kv->layers[ly->kv_source];
    const uint32_t type = kv->storage == KV_F32 ? T_F32 : T_F16;
    const size_t elt = kv->storage == KV_F32 ? sizeof(float) : sizeof(uint16_t);
    const uint64_t row_bytes = (uint64_t)c->dim * elt;
    const uint8_t *kbase = (const uint8_t *)c->k + (size_t)kvh * hd * elt, *vbase = (const uint8_t *)c->v + (size_t)kvh * hd * elt;
    float *sc = att_scratch((size_t)nt * n_keys + (size_t)nt * hd);
    if (!sc) {
        for (int t = t0; t < t1; t++)
            for (int i = 0; i < hd; i++) fc->att[(size_t)t * q_dim + (size_t)h * hd + i] = NAN;
        return;
    }
    float *acc = sc + (size_t)nt * n_keys;
    const float *q = fc->q + (size_t)t0 * q_dim + (size_t)h * hd;
    /* scores[t][p - lo0]: KROWS keys x up to KTOK queries per kernel call; a ring buffer's positions are
     * contiguous rows up to its end */
    for (int p = lo0; p <= pos1;) {
        const int row = c->ring ? p % c->cap : p;
        int run = pos1 - p + 1;
        if (c->ring && run > c->cap - row) run = c->cap - row;
        for (int i = 0; i < run; i += KROWS) {
            const int nr = run - i < KROWS ? run - i : KROWS;
            for (int t = 0; t < nt; t += KTOK)
                kops->gemm_f(type, kbase + (uint64_t)(row + i) * row_bytes, row_bytes, nr, hd, q + (size_t)t * q_dim,
                             q_dim, nt - t < KTOK ? nt - t : KTOK, sc + (size_t)t * n_keys + (p - lo0) + i, n_keys);
        }
        p += run;
    }
    /* each row's softmax over its visible keys [lo, pos]; the weights of the others stay out of the sums */
    int lo_t[ATT_BLOCK];
    float inv_sum[ATT_BLOCK];
    for (int t = 0; t < nt; t++) {
        const int pos = fc->row_pos[t0 + t];
        const int lo = ly->sliding && pos - ly->window + 1 > 0 ? pos - ly->window + 1 : 0;
        float *st = sc + (size_t)t * n_keys;
        float mx = -INFINITY;
        for (int p = lo; p <= pos; p++) {
            st[p - lo0] *= ly->attn_scale;
            if (st[p - lo0] > mx) mx = st[p - lo0];
        }
        float sum = 0;
        for (int p = lo; p <= pos; p++) sum += (st[p - lo0] = expf(st[p - lo0] - mx));
        lo_t[t] = lo;
        inv_sum[t] = 1.0f / sum;
        for (int i = 0; i < hd; i++) acc[(size_t)t * hd + i] = 0;
    }
    /* values: over contiguous runs of cache rows, each row's keys clipped to the run */
    for (int p = lo0; p <= pos1;) {
        const int row = c->ring ? p % c->cap : p;
        int run = pos1 - p + 1;
        if (c->ring && run > c->cap - row) run = c->cap - row;
        int klo[ATT_BLOCK], khi[ATT_BLOCK];
        for (int t = 0; t < nt; t++) { /* visible keys [lo_t, pos_t] within [p, p + run), relative to p */
            const int a = lo_t[t] > p ? lo_t[t] - p : 0, b = fc->row_pos[t0 + t] + 1 - p;
            klo[t] = a, khi[t] = b < run ? b : run;
            if (khi[t] < klo[t]) khi[t] = klo[t];
        }
        const uint8_t *v = vbase + (uint64_t)row * row_bytes;
        if (kops->gemm_pv)
            kops->gemm_pv(type, v, row_bytes, run, hd, sc + (p - lo0), n_keys, klo, khi, nt, acc, hd);
        else
            for (int t = 0; t < nt; t++)
                for (int k = klo[t]; k < khi[t]; k++)
                    kops->axpy_f(type, v + (uint64_t)k * row_bytes, sc[(size_t)t * n_keys + (p - lo0) + k],
                                 acc + (size_t)t * hd, hd);
        p += run;
    }
    for (int t = 0; t < nt; t++) {
        float *out = fc->att + (size_t)(t0 + t) * q_dim + (size_t)h * hd;
        for (int i = 0; i < hd; i++) out[i] = acc[(size_t)t * hd + i] * inv_sum[t];
    }
}

/* ---------------------------------------------------------------------------------------------- layer */

/* The per-token steps between the matrix products: each touches only its own row, so a batch spreads them
 * over the pool (one token runs them in place: a pool pass would cost more than the work). */
enum token_step { STEP_ATTN_NORM, STEP_QK_ROPE_STORE, STEP_ATTN_OUT, STEP_FFN_OUT, STEP_PLE_OUT };

typedef struct {
    forward_ctx *fc;
    const layer_desc *ly;
    int il;
    enum token_step step;
    int q_first; /* STEP_QK_ROPE_STORE: rows before it have no query (only their K/V are stored) */
} token_job;

static void token_task(void *arg, int t) {
    const token_job *j = arg;
    forward_ctx *fc = j->fc;
    const model_desc *m = fc->m;
    const layer_desc *ly = j->ly;
    const int d = m->n_embd, hd = ly->head_dim, q_dim = ly->n_head * hd, kv_dim = ly->n_kv_head * hd;
    const float eps = m->norm_eps;
    float *x = fc->x + (size_t)t * d, *h = fc->h + (size_t)t * d;
    switch (j->step) {
    case STEP_ATTN_NORM:
        rms_norm(h, x, ly->attn_norm, d, eps);
        break;
    case STEP_QK_ROPE_STORE: { /* Q/K norms, RoPE, V norm; K and V into the cache */
        const int half = ly->n_rot / 2;
        float cs[half > 0 ? half : 1], sn[half > 0 ? half : 1];
        rope_angles(cs, sn, half, fc->row_pos[t], ly, fc->rope_inv_freq + (size_t)j->il * (fc->max_rot / 2));
        for (int hh = 0; hh < ly->n_head && t >= j->q_first; hh++) {
            float *qh = fc->q + (size_t)t * q_dim + (size_t)hh * hd;
            if (ly->q_norm) rms_norm(qh, qh, ly->q_norm, hd, eps);
            rope(qh, ly->n_rot, cs, sn, m->rope_style);
        }
        if (!ly->owns_kv) break;
        float *k = fc->k + (size_t)t * kv_dim, *v = fc->v + (size_t)t * kv_dim;
        if (ly->v_from_k) memcpy(v, k, sizeof(float) * (size_t)kv_dim);
        for (int hh = 0; hh < ly->n_kv_head; hh++) {
            if (ly->k_norm) rms_norm(k + (size_t)hh * hd, k + (size_t)hh * hd, ly->k_norm, hd, eps);
            rope(k + (size_t)hh * hd, ly->n_rot, cs, sn, m->rope_style);
            if (ly->v_norm) rms_norm(v + (size_t)hh * hd, v + (size_t)hh * hd, NULL, hd, eps);
        }
        kv_cache *kv = fc->row_kv[t];
        kv_layer *c = &kv->layers[j->il];
        const int pos = fc->row_pos[t], row = c->ring ? pos % c->cap : pos;
        kv_store(kv, c->k, row, kv_dim, k);
        kv_store(kv, c->v, row, kv_dim, v);
        break;
    }
    case STEP_ATTN_OUT: /* x += PostNorm(attention); h = Norm(x) for the feed-forward block */
        if (ly->post_attn_norm) rms_norm(h, h, ly->post_attn_norm, d, eps);
        for (int i = 0; i < d; i++) x[i] += h[i];
        rms_norm(h, x, ly->ffn_norm, d, eps);
        break;
    case STEP_FFN_OUT:
        if (ly->post_ffn_norm) rms_norm(h, h, ly->post_ffn_norm, d, eps);
        for (int i = 0; i < d; i++) x[i] += h[i];
        if (!m->ple_dim && ly->output_scale != 1.0f)
            for (int i = 0; i < d; i++) x[i] *= ly->output_scale;
        break;
    case STEP_PLE_OUT:
        rms_norm(h, h, ly->ple_post_norm, d, eps);
        for (int i = 0; i < d; i++) x[i] += h[i];
        if (ly->output_scale != 1.0f)
            for (int i = 0; i < d; i++) x[i] *= ly->output_scale;
        break;
    }
}

static void token_steps_q(forward_ctx *fc, const layer_desc *ly, int il, enum token_step step, int n, int q_first) {
    token_job j = {fc, ly, il, step, q_first};
    if (n >= 2) pool_for(fc->pool, n, token_task, &j);
    else for (int t = 0; t < n; t++) token_task(&j, t);
}

static void token_steps(forward_ctx *fc, const layer_desc *ly, int il, enum token_step step, int n) {
    token_steps_q(fc, ly, il, step, n, 0);
}

/* Attention blocks for rows [t0, n): runs of up to ATT_BLOCK rows of one sequence at consecutive positions. */
static void att_blocks(forward_ctx *fc, int t0, int n) {
    fc->n_att_blk = 0;
    for (int t = t0; t < n; t++) {
        const int b0 = fc->n_att_blk ? fc->att_blk[fc->n_att_blk - 1] : -1;
        if (b0 < 0 || t - b0 >= ATT_BLOCK || fc->row_kv[t] != fc->row_kv[t - 1] || fc->row_pos[t] != fc->row_pos[t - 1] + 1)
            fc->att_blk[fc->n_att_blk++] = t;
    }
    fc->att_blk[fc->n_att_blk] = n;
}

/* Keep only the last `keep` of n rows, moved to the front: their residual stream, per-layer inputs,
 * attention outputs (att_dim wide), positions and caches. */
static void keep_last_rows(forward_ctx *fc, int n, int keep, int att_dim) {
    const model_desc *m = fc->m;
    const size_t drop = (size_t)(n - keep), d = (size_t)m->n_embd, LP = (size_t)m->n_layer * m->ple_dim;
    memmove(fc->x, fc->x + drop * d, sizeof(float) * (size_t)keep * d);
    if (LP) memmove(fc->ple, fc->ple + drop * LP, sizeof(float) * (size_t)keep * LP);
    memmove(fc->att, fc->att + drop * (size_t)att_dim, sizeof(float) * (size_t)keep * (size_t)att_dim);
    memmove(fc->row_pos, fc->row_pos + drop, sizeof(int) * (size_t)keep);
    memmove(fc->row_kv, fc->row_kv + drop, sizeof(kv_cache *) * (size_t)keep);
    att_blocks(fc, 0, keep);
}

/* PLE gate activation on the rows a task of the gate product computed: g = gelu(g) * ple[token][layer] */
typedef struct {
    float *gate;
    const float *ple;
    int P, LP, il;
} ple_gate_job;

static void ple_gate_rows(void *arg, int64_t r0, int64_t r1, int n_tok) {
    const ple_gate_job *j = arg;
    const kernel_ops *k = kernels_active();
    for (int t = 0; t < n_tok; t++)
        k->glu(j->gate + (size_t)t * j->P + r0, j->ple + (size_t)t * j->LP + (size_t)j->il * j->P + r0, r1 - r0, true);
}

/* One layer for rows [0, n); only the last `keep` rows go on (moved to the front). The others only store
 * their K and V: nothing later needs their hidden states (see forward_rows). */
static void layer_forward(forward_ctx *fc, int il, int n, int keep) {
    const model_desc *m = fc->m;
    const layer_desc *ly = &m->layers[il];
    const int d = m->n_embd, hd = ly->head_dim;
    const int q_dim = ly->n_head * hd, kv_dim = ly->n_kv_head * hd, first = n - keep;

    /* attention block: Q (and K, V where the layer owns its cache) from one pass over the pool */
    token_steps(fc, ly, il, STEP_ATTN_NORM, n);
    matmul_target qkv[3];
    int n_qkv = 0;
    if (!first) qkv[n_qkv++] = target(&ly->wq, fc->q, q_dim);
    else if (keep) /* queries for the kept rows only, K and V for all */
        mat(fc, &ly->wq, fc->h + (size_t)first * d, d, keep, fc->q + (size_t)first * q_dim, q_dim);
    if (ly->owns_kv) {
        qkv[n_qkv++] = target(&ly->wk, fc->k, kv_dim);
        if (!ly->v_from_k) qkv[n_qkv++] = target(&ly->wv, fc->v, kv_dim);
    }
    if (n_qkv) mats(fc, qkv, n_qkv, d, fc->h, d, n, NULL, NULL);
    token_steps_q(fc, ly, il, STEP_QK_ROPE_STORE, n, first);
    if (!keep) return;
    if (first) att_blocks(fc, first, n);
    attn_job aj = {fc, ly, il};
    pool_for(fc->pool, fc->n_att_blk * ly->n_head, attn_task, &aj);
    if (first) {
        keep_last_rows(fc, n, keep, q_dim);
        n = keep;
    }
    mat(fc, &ly->wo, fc->att, q_dim, n, fc->h, d);
    token_steps(fc, ly, il, STEP_ATTN_OUT, n);

    /* feed-forward block: down(act(gate(h)) * up(h)) */
    const int ff = ly->n_ff;
    const matmul_target gate_up[2] = {target(&ly->w_gate, fc->ff_gate, ff), target(&ly->w_up, fc->ff_up, ff)};
    glu_job gj = {fc->ff_gate, fc->ff_up, ff, m->act};
    mats(fc, gate_up, 2, d, fc->h, d, n, glu_rows, &gj);
    mat(fc, &ly->w_down, fc->ff_gate, ff, n, fc->h, d);
    token_steps(fc, ly, il, STEP_FFN_OUT, n);

    /* Gemma 4 per-layer input: x += Norm(Proj(gelu(Gate(x)) * ple[layer])) */
    if (m->ple_dim) {
        const int P = m->ple_dim;
        const matmul_target gate = target(&ly->ple_gate, fc->ple_gate, P);
        ple_gate_job pj = {fc->ple_gate, fc->ple, P, m->n_layer * P, il};
        mats(fc, &gate, 1, d, fc->x, d, n, ple_gate_rows, &pj);
        mat(fc, &ly->ple_proj, fc->ple_gate, P, n, fc->h, d);
        token_steps(fc, ly, il, STEP_PLE_OUT, n);
    }
}

/* ----------------------------------------------------------------------------------------- per batch */

static void embed(forward_ctx *fc, const int32_t *tokens, int n) {
    const model_desc *m = fc->m;
    const int d = m->n_embd;
    for (int t = 0; t < n; t++) {
        float *x = fc->x + (size_t)t * d;
        dequantize_row(m->tok_embd.type, model_row(m, &m->tok_embd, tokens[t], fc->row_buf), x, d);
        if (m->embd_scale != 1.0f)
            for (int i = 0; i < d; i++) x[i] *= m->embd_scale;
    }
    if (!m->ple_dim) return;
    /* per-layer inputs: ple = (Norm(x·Wproj / sqrt(d)) + E_ple[tok] * sqrt(P)) / sqrt(2), per layer */
    const int P = m->ple_dim, LP = m->n_layer * P;
    mat(fc, &m->ple_model_proj, fc->x, d, n, fc->ple, LP);
    const float proj_scale = 1.0f / sqrtf((float)d), tok_scale = sqrtf((float)P), mix = 1.0f / sqrtf(2.0f);
    for (int t = 0; t < n; t++) {
        float *pt = fc->ple_tok;
        dequantize_row(m->ple_embd.type, model_row(m, &m->ple_embd, tokens[t], fc->row_buf), pt, LP);
        float *c = fc->ple + (size_t)t * LP;
        for (int l = 0; l < m->n_layer; l++) {
            float *cl = c + (size_t)l * P;
            for (int i = 0; i < P; i++) cl[i] *= proj_scale;
            rms_norm(cl, cl, m->ple_proj_norm, P, m->norm_eps);
            for (int i = 0; i < P; i++) cl[i] = (cl[i] + pt[(size_t)l * P + i] * tok_scale) * mix;
        }
    }
}

/* Final soft-cap: logit = cap * tanh(logit / cap) on the rows a pool task of the output product just
 * computed (a tanh per logit: a vocabulary of 262144 costs milliseconds, so not on one thread). */
typedef struct {
    float *logits;
    int64_t n_vocab;
    float cap;
} softcap_job;

static void softcap_rows(void *arg, int64_t r0, int64_t r1, int n_tok) {
    const softcap_job *j = arg;
    const kernel_ops *k = kernels_active();
    for (int t = 0; t < n_tok; t++) k->softcap(j->logits + (size_t)t * j->n_vocab + r0, r1 - r0, j->cap);
}

void forward_batch(forward_ctx *fc, const int32_t *tokens, int n, int pos0, float *logits, bool all_logits) {
    for (int t = 0; t < n; t++) {
        fc->row_pos[t] = pos0 + t;
        fc->row_kv[t] = &fc->kv;
    }
    forward_rows(fc, tokens, n, logits, all_logits);
}

void forward_rows(forward_ctx *fc, const int32_t *tokens, int n, float *logits, bool all_logits) {
    const model_desc *m = fc->m;
    const int d = m->n_embd;
    /* Rows whose logits are wanted: all, the last, or none (an earlier chunk of a prompt). A row's hidden
     * state is needed only for its logits and for the K/V of the later layers that store them, so from the
     * last such layer on (its attention output on) only the output rows go on. Exact, and for Gemma 4 a
     * large saving: its shared-KV layers read earlier layers' caches, so E2B runs 15 of its 35 layers for
     * every prompt token (the 15th up to its K/V) and the other 20 for the last one only. */
    const int n_out = all_logits ? n : logits ? 1 : 0;
    att_blocks(fc, 0, n);
    embed(fc, tokens, n);
    for (int il = 0; il < m->n_layer && n; il++) {
        const int keep = il == fc->kv_layers_end - 1 ? n_out : n;
        layer_forward(fc, il, n, keep);
        n = keep;
    }
    if (!n_out) return;
    const int first = n - n_out;
    for (int t = first; t < n; t++)
        rms_norm(fc->h + (size_t)(t - first) * d, fc->x + (size_t)t * d, m->output_norm, d, m->norm_eps);
    const matmul_target out = target(&m->output, logits, m->n_vocab);
    softcap_job sj = {logits, m->n_vocab, m->final_softcap};
    mats(fc, &out, 1, d, fc->h, d, n_out, m->final_softcap > 0 ? softcap_rows : NULL, &sj);
}

/* ------------------------------------------------------------------------------------ setup, teardown */

int forward_init(forward_ctx *fc, const model_desc *m, int n_ctx, int n_batch, enum kv_storage storage,
                 threadpool *pool) {
    memset(fc, 0, sizeof *fc);
    fc->m = m;
    fc->pool = pool;
    fc->n_batch = n_batch;
    fc->kv.n_ctx = n_ctx;
    fc->kv.storage = storage;
    fc->kv.layers = calloc((size_t)m->n_layer, sizeof(kv_layer));
    if (!fc->kv.layers) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory for the KV cache");

    for (int il = 0; il < m->n_layer; il++) {
        const layer_desc *ly = &m->layers[il];
        if (!ly->owns_kv) continue;
        kv_layer *c = &fc->kv.layers[il];
        c->dim = ly->n_kv_head * ly->head_dim;
        c->cap = n_ctx;
        if (ly->sliding && ly->window + n_batch - 1 < n_ctx) {
            c->cap = ly->window + n_batch - 1;
            c->ring = true;
        }
        if (storage == KV_Q8_0 && (ly->head_dim % 32 || c->dim % 32)) {
            forward_free(fc);
            return hearth_fail(HEARTH_ERR_UNSUPPORTED, "a Q8_0 KV cache needs head sizes that are multiples of 32 "
                               "(this model has %d); use --kv-type f16", ly->head_dim);
        }
        c->k = malloc(kv_row_bytes(storage, c->dim) * (size_t)c->cap);
        c->v = malloc(kv_row_bytes(storage, c->dim) * (size_t)c->cap);
        if (!c->k || !c->v) {
            forward_free(fc);
            return hearth_fail(HEARTH_ERR_NOMEM, "out of memory for the KV cache (%d positions)", n_ctx);
        }
    }
    for (int il = 0; il < m->n_layer; il++) {
        if (m->layers[il].n_rot > fc->max_rot) fc->max_rot = m->layers[il].n_rot;
        if (m->layers[il].owns_kv) fc->kv_layers_end = il + 1;
    }
    fc->rope_inv_freq = malloc(sizeof(float) * (size_t)m->n_layer * (size_t)(fc->max_rot / 2 + 1));
    if (!fc->rope_inv_freq) {
        forward_free(fc);
        return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    }
    for (int il = 0; il < m->n_layer; il++)
        rope_inv_freq(fc->rope_inv_freq + (size_t)il * (fc->max_rot / 2), &m->layers[il]);
    fc->row_buf = malloc(m->tok_embd.row_bytes > m->ple_embd.row_bytes ? m->tok_embd.row_bytes : m->ple_embd.row_bytes);
    if (!fc->row_buf) {
        forward_free(fc);
        return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    }
    size_t B = (size_t)n_batch;
    size_t wide = (size_t)(m->max_q_dim > m->n_embd ? m->max_q_dim : m->n_embd);
    size_t LP = (size_t)m->n_layer * m->ple_dim;
    fc->x = malloc(sizeof(float) * B * m->n_embd);
    fc->h = malloc(sizeof(float) * B * wide);
    fc->q = malloc(sizeof(float) * B * m->max_q_dim);
    fc->k = malloc(sizeof(float) * B * (m->max_kv_dim ? m->max_kv_dim : 1));
    fc->v = malloc(sizeof(float) * B * (m->max_kv_dim ? m->max_kv_dim : 1));
    fc->att = malloc(sizeof(float) * B * m->max_q_dim);
    fc->ff_gate = malloc(sizeof(float) * B * m->max_ff);
    fc->ff_up = malloc(sizeof(float) * B * m->max_ff);
    fc->row_pos = malloc(sizeof(int) * B);
    fc->row_kv = malloc(sizeof(kv_cache *) * B);
    fc->att_blk = malloc(sizeof(int) * (B + 1));
    if (LP) {
        fc->ple = malloc(sizeof(float) * B * LP);
        fc->ple_tok = malloc(sizeof(float) * LP);
        fc->ple_gate = malloc(sizeof(float) * B * m->ple_dim);
    }
    if (!fc->x || !fc->h || !fc->q || !fc->k || !fc->v || !fc->att || !fc->ff_gate || !fc->ff_up || !fc->row_pos ||
        !fc->row_kv || !fc->att_blk ||
        (LP && (!fc->ple || !fc->ple_tok || !fc->ple_gate))) {
        forward_free(fc);
        return hearth_fail(HEARTH_ERR_NOMEM, "out of memory for activations (batch %d)", n_batch);
    }
    return 0;
}

void forward_free(forward_ctx *fc) {
    if (fc->kv.layers)
        for (int il = 0; il < fc->m->n_layer; il++) {
            free(fc->kv.layers[il].k);
            free(fc->kv.layers[il].v);
        }
    free(fc->kv.layers);
    free(fc->x); free(fc->h); free(fc->q); free(fc->k); free(fc->v); free(fc->att);
    free(fc->ff_gate); free(fc->ff_up); free(fc->ple); free(fc->ple_tok); free(fc->ple_gate);
    free(fc->logits_tmp);
    free(fc->rope_inv_freq);
    free(fc->row_buf);
    free(fc->row_pos);
    free(fc->row_kv);
    free(fc->att_blk);
    memset(fc, 0, sizeof *fc);
}
