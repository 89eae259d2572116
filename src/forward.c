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

/* y = x / sqrt(mean(x²) + eps) * w   (w NULL: no scale). In place allowed. */
static void rms_norm(float *y, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float inv = (float)(1.0 / sqrt(ss / n + eps));
    if (w) for (int i = 0; i < n; i++) y[i] = x[i] * inv * w[i];
    else for (int i = 0; i < n; i++) y[i] = x[i] * inv;
}

/* 0.5 x (1 + tanh(u)) written as x / (1 + exp(-2u)): the same function, one expf instead of tanhf (several
 * times slower), and no cancellation in 1 + tanh(u) for negative u. */
static inline float gelu_tanh(float x) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return x / (1.0f + expf(-2.0f * k * (x + 0.044715f * x * x * x)));
}

static inline float silu(float x) { return x / (1.0f + expf(-x)); }

/* Rotate one head in place. angle_i = pos * pos_scale * inv_freq_i, computed in float32 as the reference
 * does, so positions far into the context round the same way. */
static void rope(float *v, int n_rot, int pos, const layer_desc *ly, enum rope_style style) {
    int half = n_rot / 2;
    float p = (float)pos * ly->rope_pos_scale;
    for (int i = 0; i < half; i++) {
        float inv_freq = 1.0f / powf(ly->rope_base, (float)(2 * i) / (float)n_rot);
        if (ly->rope_freq_factors) inv_freq /= ly->rope_freq_factors[i];
        float a = p * inv_freq;
        float c = cosf(a), s = sinf(a);
        int i0 = style == ROPE_NEOX ? i : 2 * i;
        int i1 = style == ROPE_NEOX ? i + half : 2 * i + 1;
        float x0 = v[i0], x1 = v[i1];
        v[i0] = x0 * c - x1 * s;
        v[i1] = x1 * c + x0 * s;
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

/* ------------------------------------------------------------------------------------------ attention */

typedef struct {
    forward_ctx *fc;
    const layer_desc *ly;
    int il;
} attn_job;

/* Scores of context length, per thread (pool workers live as long as the pool). */
static _Thread_local float *tls_scores;
static _Thread_local size_t tls_scores_cap;

/* One (token, head): causal (and windowed) softmax attention over the cached keys. The scores q.k of all
 * visible positions come from the matrix kernel (the cached keys are the rows of a matrix, F32 or F16), then
 * an exact softmax, then the values' weighted sum with the kernel's axpy. */
static void attn_task(void *arg, int task) {
    const attn_job *j = arg;
    const layer_desc *ly = j->ly;
    const kernel_ops *kops = kernels_active();
    int t = task / ly->n_head, h = task % ly->n_head;
    const kv_cache *kv = j->fc->row_kv[t];
    int hd = ly->head_dim, kvh = h / (ly->n_head / ly->n_kv_head);
    int pos = j->fc->row_pos[t];
    int lo = ly->sliding ? pos - ly->window + 1 : 0;
    if (lo < 0) lo = 0;
    const float *q = j->fc->q + (size_t)t * ly->n_head * hd + (size_t)h * hd;
    float *out = j->fc->att + (size_t)t * ly->n_head * hd + (size_t)h * hd;
    const kv_layer *c = &kv->layers[ly->kv_source];
    if (kv->storage == KV_Q8_0) { /* no float kernel reads Q8_0 rows: dequantize each and stream the softmax */
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
        return;
    }
    const uint32_t type = kv->storage == KV_F32 ? T_F32 : T_F16;
    const size_t elt = kv->storage == KV_F32 ? sizeof(float) : sizeof(uint16_t);
    const uint64_t row_bytes = (uint64_t)c->dim * elt;
    const uint8_t *kbase = (const uint8_t *)c->k + (size_t)kvh * hd * elt, *vbase = (const uint8_t *)c->v + (size_t)kvh * hd * elt;
    const int n = pos - lo + 1;
    if ((size_t)n > tls_scores_cap) {
        free(tls_scores);
        tls_scores_cap = ((size_t)n + 1023) & ~(size_t)1023;
        tls_scores = malloc(sizeof(float) * tls_scores_cap);
        if (!tls_scores) { tls_scores_cap = 0; for (int i = 0; i < hd; i++) out[i] = NAN; return; }
    }
    float *sc = tls_scores;
    /* q.k, four cached rows at a time; a ring buffer's positions are contiguous rows up to its end */
    for (int p = lo; p <= pos;) {
        const int row = c->ring ? p % c->cap : p;
        int run = pos - p + 1;
        if (c->ring && run > c->cap - row) run = c->cap - row;
        for (int i = 0; i < run; i += KROWS) {
            const int nr = run - i < KROWS ? run - i : KROWS;
            kops->gemm_f(type, kbase + (uint64_t)(row + i) * row_bytes, row_bytes, nr, hd, q, 0, 1, sc + (p - lo) + i, 0);
        }
        p += run;
    }
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        sc[i] *= ly->attn_scale;
        if (sc[i] > mx) mx = sc[i];
    }
    float sum = 0;
    for (int i = 0; i < n; i++) sum += (sc[i] = expf(sc[i] - mx));
    float acc[hd];
    for (int i = 0; i < hd; i++) acc[i] = 0;
    for (int p = lo; p <= pos; p++) {
        const int row = c->ring ? p % c->cap : p;
        kops->axpy_f(type, vbase + (uint64_t)row * row_bytes, sc[p - lo], acc, hd);
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++) out[i] = acc[i] * inv;
}

/* ---------------------------------------------------------------------------------------------- layer */

static void layer_forward(forward_ctx *fc, int il, int n) {
    const model_desc *m = fc->m;
    const layer_desc *ly = &m->layers[il];
    const int d = m->n_embd, hd = ly->head_dim;
    const int q_dim = ly->n_head * hd, kv_dim = ly->n_kv_head * hd;
    const float eps = m->norm_eps;

    /* attention block */
    for (int t = 0; t < n; t++) rms_norm(fc->h + (size_t)t * d, fc->x + (size_t)t * d, ly->attn_norm, d, eps);
    mat(fc, &ly->wq, fc->h, d, n, fc->q, q_dim);
    for (int t = 0; t < n; t++)
        for (int h = 0; h < ly->n_head; h++) {
            float *qh = fc->q + (size_t)t * q_dim + (size_t)h * hd;
            if (ly->q_norm) rms_norm(qh, qh, ly->q_norm, hd, eps);
            rope(qh, ly->n_rot, fc->row_pos[t], ly, m->rope_style);
        }
    if (ly->owns_kv) {
        mat(fc, &ly->wk, fc->h, d, n, fc->k, kv_dim);
        if (ly->v_from_k) memcpy(fc->v, fc->k, sizeof(float) * (size_t)n * kv_dim);
        else mat(fc, &ly->wv, fc->h, d, n, fc->v, kv_dim);
        for (int t = 0; t < n; t++) {
            kv_cache *kv = fc->row_kv[t];
            kv_layer *c = &kv->layers[il];
            for (int h = 0; h < ly->n_kv_head; h++) {
                float *kh = fc->k + (size_t)t * kv_dim + (size_t)h * hd;
                float *vh = fc->v + (size_t)t * kv_dim + (size_t)h * hd;
                if (ly->k_norm) rms_norm(kh, kh, ly->k_norm, hd, eps);
                rope(kh, ly->n_rot, fc->row_pos[t], ly, m->rope_style);
                if (ly->v_norm) rms_norm(vh, vh, NULL, hd, eps);
            }
            int pos = fc->row_pos[t], row = c->ring ? pos % c->cap : pos;
            kv_store(kv, c->k, row, kv_dim, fc->k + (size_t)t * kv_dim);
            kv_store(kv, c->v, row, kv_dim, fc->v + (size_t)t * kv_dim);
        }
    }
    attn_job aj = {fc, ly, il};
    pool_for(fc->pool, n * ly->n_head, attn_task, &aj);
    mat(fc, &ly->wo, fc->att, q_dim, n, fc->h, d);
    for (int t = 0; t < n; t++) {
        float *a = fc->h + (size_t)t * d, *x = fc->x + (size_t)t * d;
        if (ly->post_attn_norm) rms_norm(a, a, ly->post_attn_norm, d, eps);
        for (int i = 0; i < d; i++) x[i] += a[i];
    }

    /* feed-forward block: down(act(gate(h)) * up(h)) */
    for (int t = 0; t < n; t++) rms_norm(fc->h + (size_t)t * d, fc->x + (size_t)t * d, ly->ffn_norm, d, eps);
    const int ff = ly->n_ff;
    mat(fc, &ly->w_gate, fc->h, d, n, fc->ff_gate, ff);
    mat(fc, &ly->w_up, fc->h, d, n, fc->ff_up, ff);
    for (size_t i = 0; i < (size_t)n * ff; i++) {
        float g = fc->ff_gate[i];
        fc->ff_gate[i] = (m->act == ACT_GELU_TANH ? gelu_tanh(g) : silu(g)) * fc->ff_up[i];
    }
    mat(fc, &ly->w_down, fc->ff_gate, ff, n, fc->h, d);
    for (int t = 0; t < n; t++) {
        float *f = fc->h + (size_t)t * d, *x = fc->x + (size_t)t * d;
        if (ly->post_ffn_norm) rms_norm(f, f, ly->post_ffn_norm, d, eps);
        for (int i = 0; i < d; i++) x[i] += f[i];
    }

    /* Gemma 4 per-layer input: x += Norm(Proj(gelu(Gate(x)) * ple[layer])) */
    if (m->ple_dim) {
        const int P = m->ple_dim, LP = m->n_layer * P;
        mat(fc, &ly->ple_gate, fc->x, d, n, fc->ple_gate, P);
        for (int t = 0; t < n; t++) {
            float *g = fc->ple_gate + (size_t)t * P;
            const float *pl = fc->ple + (size_t)t * LP + (size_t)il * P;
            for (int i = 0; i < P; i++) g[i] = gelu_tanh(g[i]) * pl[i];
        }
        mat(fc, &ly->ple_proj, fc->ple_gate, P, n, fc->h, d);
        for (int t = 0; t < n; t++) {
            float *p = fc->h + (size_t)t * d, *x = fc->x + (size_t)t * d;
            rms_norm(p, p, ly->ple_post_norm, d, eps);
            for (int i = 0; i < d; i++) x[i] += p[i];
        }
    }
    if (ly->output_scale != 1.0f)
        for (size_t i = 0; i < (size_t)n * d; i++) fc->x[i] *= ly->output_scale;
}

/* ----------------------------------------------------------------------------------------- per batch */

static void embed(forward_ctx *fc, const int32_t *tokens, int n) {
    const model_desc *m = fc->m;
    const int d = m->n_embd;
    for (int t = 0; t < n; t++) {
        float *x = fc->x + (size_t)t * d;
        dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (uint64_t)tokens[t] * m->tok_embd.row_bytes,
                       x, d);
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
        dequantize_row(m->ple_embd.type, (const uint8_t *)m->ple_embd.data + (uint64_t)tokens[t] * m->ple_embd.row_bytes,
                       pt, LP);
        float *c = fc->ple + (size_t)t * LP;
        for (int l = 0; l < m->n_layer; l++) {
            float *cl = c + (size_t)l * P;
            for (int i = 0; i < P; i++) cl[i] *= proj_scale;
            rms_norm(cl, cl, m->ple_proj_norm, P, m->norm_eps);
            for (int i = 0; i < P; i++) cl[i] = (cl[i] + pt[(size_t)l * P + i] * tok_scale) * mix;
        }
    }
}

enum { SOFTCAP_CHUNK = 16384 };
typedef struct {
    float *v;
    size_t n;
    float cap;
} softcap_job;

static void softcap_task(void *arg, int i) {
    const softcap_job *j = arg;
    const size_t a = (size_t)i * SOFTCAP_CHUNK, b = a + SOFTCAP_CHUNK < j->n ? a + SOFTCAP_CHUNK : j->n;
    for (size_t k = a; k < b; k++) j->v[k] = j->cap * tanhf(j->v[k] / j->cap);
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
    embed(fc, tokens, n);
    for (int il = 0; il < m->n_layer; il++) layer_forward(fc, il, n);

    int first = all_logits ? 0 : n - 1, n_out = n - first;
    for (int t = first; t < n; t++)
        rms_norm(fc->h + (size_t)(t - first) * d, fc->x + (size_t)t * d, m->output_norm, d, m->norm_eps);
    mat(fc, &m->output, fc->h, d, n_out, logits, m->n_vocab);
    if (m->final_softcap > 0) { /* a tanh per logit (a vocabulary of 262144 costs milliseconds): on the pool */
        softcap_job sj = {logits, (size_t)n_out * m->n_vocab, m->final_softcap};
        pool_for(fc->pool, (int)((sj.n + SOFTCAP_CHUNK - 1) / SOFTCAP_CHUNK), softcap_task, &sj);
    }
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
    if (LP) {
        fc->ple = malloc(sizeof(float) * B * LP);
        fc->ple_tok = malloc(sizeof(float) * LP);
        fc->ple_gate = malloc(sizeof(float) * B * m->ple_dim);
    }
    if (!fc->x || !fc->h || !fc->q || !fc->k || !fc->v || !fc->att || !fc->ff_gate || !fc->ff_up || !fc->row_pos ||
        !fc->row_kv ||
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
    free(fc->row_pos);
    free(fc->row_kv);
    memset(fc, 0, sizeof *fc);
}
