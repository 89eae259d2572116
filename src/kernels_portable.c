/* kernels_portable.c — the reference kernels in plain C: the definition every SIMD file matches bit for bit
 * (see kernels.h for the arithmetic), and the fallback on CPUs without a SIMD path.
 * It also holds the unpackers of every block format into integer codes, which the SIMD files reuse for the
 * types they do not unpack themselves. Element orders are those documented in quant.c. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant_blocks.h"
#include "types.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* kernels.h promises separately rounded multiplies and adds */
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__) && defined(__FP_FAST_FMAF)
#error "build in ISO C mode (-std=c17): GNU mode lets GCC fuse multiply-adds"
#endif

/* ---------------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------------- */

/* Quantize one block of 32: d = max|x| / 127, q = round-to-nearest-even(x * (127 / max|x|)). max|x| is taken
 * on the bit patterns so a NaN wins (then d is NaN and every product with this block is NaN); an infinite
 * block gets d = inf and q = 0 (NaN results too); a block below 1e-30 counts as zero. */
static void quant_block(const float *x, act_chunk *o, int l) {
    uint32_t amax_bits = 0;
    for (int i = 0; i < KBLK; i++) {
        uint32_t b;
        memcpy(&b, &x[i], 4);
        b &= 0x7fffffffu;
        if (b > amax_bits) amax_bits = b;
    }
    float amax;
    memcpy(&amax, &amax_bits, 4);
    int8_t q[KBLK];
    float d = 0.0f;
    if (amax_bits >= 0x7f800000u) {
        d = amax;
        memset(q, 0, sizeof q);
    } else if (amax < 1e-30f) {
        memset(q, 0, sizeof q);
    } else {
        d = amax / 127.0f;
        const float id = 127.0f / amax;
        for (int i = 0; i < KBLK; i++) q[i] = (int8_t)lrintf(x[i] * id);
    }
    int32_t n_lo = 0, n_hi = 0;
    for (int i = 0; i < 16; i++) n_lo += q[i], n_hi += q[i + 16];
    for (int k = 0; k < 8; k++) memcpy(o->q[k][l], q + 4 * k, 4);
    o->d[l] = d;
    o->s_lo[l] = reduce16(x);
    o->s_hi[l] = reduce16(x + 16);
    o->s[l] = o->s_lo[l] + o->s_hi[l];
    o->n_lo[l] = n_lo;
    o->n_hi[l] = n_hi;
}

static void quantize_act(const float *x, int64_t cols, act_chunk *out) {
    const int64_t nblk = cols / KBLK;
    for (int64_t c = 0; c * KLANES < nblk; c++) {
        act_chunk *o = &out[c];
        memset(o, 0, sizeof *o);
        for (int l = 0; l < KLANES && c * KLANES + l < nblk; l++) quant_block(x + (c * KLANES + l) * KBLK, o, l);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Weights: unpack a chunk's blocks into codes (element order) and scales. value = d * (code - center) + m
 * per block of 32, or per half block with d_hi, m_hi for the 16-element-scale types.
 * ------------------------------------------------------------------------------------------------------- */

static void unpack_q4_0(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *m) {
    const block_q4_0 *b = (const block_q4_0 *)row + blk0;
    for (int j = 0; j < nblk; j++, b++) {
        for (int i = 0; i < 16; i++) codes[j][i] = b->qs[i] & 0xF, codes[j][i + 16] = b->qs[i] >> 4;
        d[j] = load_fp16(b->d);
        m[j] = 0.0f;
    }
}

static void unpack_q4_1(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *m) {
    const block_q4_1 *b = (const block_q4_1 *)row + blk0;
    for (int j = 0; j < nblk; j++, b++) {
        for (int i = 0; i < 16; i++) codes[j][i] = b->qs[i] & 0xF, codes[j][i + 16] = b->qs[i] >> 4;
        d[j] = load_fp16(b->d);
        m[j] = load_fp16(b->m) + 8.0f * d[j]; /* d*q + m = d*(q-8) + (m + 8d) */
    }
}

static void unpack_q5_0(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *m) {
    const block_q5_0 *b = (const block_q5_0 *)row + blk0;
    for (int j = 0; j < nblk; j++, b++) {
        const uint32_t qh = load_u32le(b->qh);
        for (int i = 0; i < 16; i++) {
            codes[j][i] = (uint8_t)((b->qs[i] & 0xF) | ((qh >> i) & 1) << 4);
            codes[j][i + 16] = (uint8_t)((b->qs[i] >> 4) | ((qh >> (i + 16)) & 1) << 4);
        }
        d[j] = load_fp16(b->d);
        m[j] = 0.0f;
    }
}

static void unpack_q5_1(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *m) {
    const block_q5_1 *b = (const block_q5_1 *)row + blk0;
    for (int j = 0; j < nblk; j++, b++) {
        const uint32_t qh = load_u32le(b->qh);
        for (int i = 0; i < 16; i++) {
            codes[j][i] = (uint8_t)((b->qs[i] & 0xF) | ((qh >> i) & 1) << 4);
            codes[j][i + 16] = (uint8_t)((b->qs[i] >> 4) | ((qh >> (i + 16)) & 1) << 4);
        }
        d[j] = load_fp16(b->d);
        m[j] = load_fp16(b->m) + 16.0f * d[j];
    }
}

static void unpack_q8_0(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *m) {
    const block_q8_0 *b = (const block_q8_0 *)row + blk0;
    for (int j = 0; j < nblk; j++, b++) {
        for (int i = 0; i < KBLK; i++) codes[j][i] = (uint8_t)(b->qs[i] + 128);
        d[j] = load_fp16(b->d);
        m[j] = 0.0f;
    }
}

/* K types: blk0 and nblk are multiples of 8 (one super-block = 8 blocks of 32). */

static void unpack_q2_K(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *dh,
                        float *m, float *mh) {
    const block_q2_K *b = (const block_q2_K *)row + blk0 / 8;
    for (int s = 0; s < nblk / 8; s++, b++) {
        const float dd = load_fp16(b->d), dmin = load_fp16(b->dmin);
        for (int e = 0; e < QK_SUPER; e++)
            codes[8 * s + e / 32][e % 32] = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        for (int sb = 0; sb < 16; sb++) {
            const float dl = dd * (float)(b->scales[sb] & 0xF), ml = dmin * (float)(b->scales[sb] >> 4);
            const float mm = 2.0f * dl - ml; /* dl*q - ml = dl*(q-2) + (2dl - ml) */
            if (sb % 2 == 0) d[8 * s + sb / 2] = dl, m[8 * s + sb / 2] = mm;
            else dh[8 * s + sb / 2] = dl, mh[8 * s + sb / 2] = mm;
        }
    }
}

static void unpack_q3_K(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *dh,
                        float *m, float *mh) {
    const block_q3_K *b = (const block_q3_K *)row + blk0 / 8;
    for (int s = 0; s < nblk / 8; s++, b++) {
        const float dd = load_fp16(b->d);
        for (int e = 0; e < QK_SUPER; e++) {
            int low = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            int high = (b->hmask[e % 32] >> (e / 32)) & 1;
            codes[8 * s + e / 32][e % 32] = (uint8_t)(low | high << 2);
        }
        for (int sb = 0; sb < 16; sb++) {
            const float dl = dd * (float)q3k_scale(b->scales, sb);
            if (sb % 2 == 0) d[8 * s + sb / 2] = dl, m[8 * s + sb / 2] = 0.0f;
            else dh[8 * s + sb / 2] = dl, mh[8 * s + sb / 2] = 0.0f;
        }
    }
}

static void unpack_q45_K(uint32_t type, const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d,
                         float *m) {
    const bool five = type == T_Q5_K;
    const size_t bsize = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    for (int s = 0; s < nblk / 8; s++) {
        const uint8_t *blk = row + (size_t)(blk0 / 8 + s) * bsize;
        /* Q4_K and Q5_K share d, dmin, scales; Q5_K then has qh[32] before qs */
        const block_q4_K *b4 = (const block_q4_K *)blk;
        const uint8_t *qs = five ? ((const block_q5_K *)blk)->qs : b4->qs;
        const uint8_t *qh = five ? ((const block_q5_K *)blk)->qh : NULL;
        const float dd = load_fp16(b4->d), dmin = load_fp16(b4->dmin);
        for (int e = 0; e < QK_SUPER; e++) {
            const uint8_t byte = qs[32 * (e / 64) + e % 32];
            int q = (e % 64) < 32 ? byte & 0xF : byte >> 4;
            if (five) q |= ((qh[e % 32] >> (e / 32)) & 1) << 4;
            codes[8 * s + e / 32][e % 32] = (uint8_t)q;
        }
        for (int sb = 0; sb < 8; sb++) {
            int sc, mn;
            k4_scale_min(b4->scales, sb, &sc, &mn);
            const float dl = dd * (float)sc, ml = dmin * (float)mn;
            d[8 * s + sb] = dl;
            m[8 * s + sb] = (five ? 16.0f : 8.0f) * dl - ml;
        }
    }
}

static void unpack_q6_K(const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[][KBLK], float *d, float *dh,
                        float *m, float *mh) {
    const block_q6_K *b = (const block_q6_K *)row + blk0 / 8;
    for (int s = 0; s < nblk / 8; s++, b++) {
        const float dd = load_fp16(b->d);
        for (int e = 0; e < QK_SUPER; e++) {
            const int h = e / 128, r = e % 128;
            const uint8_t lbyte = b->ql[64 * h + r % 64];
            const int low = r < 64 ? lbyte & 0xF : lbyte >> 4;
            const int high = (b->qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
            codes[8 * s + e / 32][e % 32] = (uint8_t)(low | high << 4);
        }
        for (int sb = 0; sb < 16; sb++) {
            const float dl = dd * (float)b->scales[sb];
            if (sb % 2 == 0) d[8 * s + sb / 2] = dl, m[8 * s + sb / 2] = 0.0f;
            else dh[8 * s + sb / 2] = dl, mh[8 * s + sb / 2] = 0.0f;
        }
    }
}

bool portable_unpack_chunk(uint32_t type, const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[KLANES][KBLK],
                           float d[KLANES], float d_hi[KLANES], float m[KLANES], float m_hi[KLANES]) {
    switch (type) {
    case T_Q4_0: unpack_q4_0(row, blk0, nblk, codes, d, m); break;
    case T_Q4_1: unpack_q4_1(row, blk0, nblk, codes, d, m); break;
    case T_Q5_0: unpack_q5_0(row, blk0, nblk, codes, d, m); break;
    case T_Q5_1: unpack_q5_1(row, blk0, nblk, codes, d, m); break;
    case T_Q8_0: unpack_q8_0(row, blk0, nblk, codes, d, m); break;
    case T_Q2_K: unpack_q2_K(row, blk0, nblk, codes, d, d_hi, m, m_hi); break;
    case T_Q3_K: unpack_q3_K(row, blk0, nblk, codes, d, d_hi, m, m_hi); break;
    case T_Q4_K:
    case T_Q5_K: unpack_q45_K(type, row, blk0, nblk, codes, d, m); break;
    case T_Q6_K: unpack_q6_K(row, blk0, nblk, codes, d, d_hi, m, m_hi); break;
    default: return false;
    }
    return true;
}

void portable_pack_chunk(uint32_t type, const uint8_t *row, int64_t cols, int64_t c, panel_chunk *p, int bias) {
    const qtype_desc *qt = qtype_get(type);
    const int64_t nblk = cols / KBLK;
    const int n = nblk - c * KLANES < KLANES ? (int)(nblk - c * KLANES) : KLANES;
    uint8_t codes[KLANES][KBLK];
    memset(p, 0, sizeof *p);
    memset(codes, qt->center, sizeof codes); /* padding blocks: weight 0, scales 0 */
    portable_unpack_chunk(type, row, c * KLANES, n, codes, p->d, p->d_hi, p->m, p->m_hi);
    for (int k = 0; k < 8; k++)
        for (int l = 0; l < KLANES; l++)
            for (int i = 0; i < 4; i++) p->q[k][l][i] = (uint8_t)(codes[l][4 * k + i] - qt->center + bias);
}

void portable_pack_row(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride, int bias) {
    for (int64_t c = 0; c * KCHUNK < cols; c++) portable_pack_chunk(type, row, cols, c, &out[c * stride], bias);
}

static void pack_row(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride) {
    portable_pack_row(type, row, cols, out, stride, 0);
}

/* ---------------------------------------------------------------------------------------------------------
 * Products
 * ------------------------------------------------------------------------------------------------------- */

static void gemm_q(uint32_t type, const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t act_stride,
                   int n_tok, int nrows, float *y, int64_t y_stride) {
    const qtype_desc *qt = qtype_get(type);
    for (int r = 0; r < nrows; r++) {
        for (int t = 0; t < n_tok; t++) {
            float acc[KLANES] = {0};
            for (int64_t c = 0; c < nch; c++) {
                const panel_chunk *p = &panel[c * KROWS + r];
                const act_chunk *a = &act[t * act_stride + c];
                int32_t s_lo[KLANES] = {0}, s_hi[KLANES] = {0};
                for (int k = 0; k < 8; k++) {
                    int32_t *s = k < 4 ? s_lo : s_hi;
                    for (int l = 0; l < KLANES; l++)
                        for (int i = 0; i < 4; i++) s[l] += (int8_t)p->q[k][l][i] * a->q[k][l][i];
                }
                for (int l = 0; l < KLANES; l++) {
                    if (qt->gran16) {
                        acc[l] = acc[l] + ((float)s_lo[l] * p->d[l] + (float)s_hi[l] * p->d_hi[l]) * a->d[l];
                        if (qt->has_min) acc[l] = (acc[l] + p->m[l] * a->s_lo[l]) + p->m_hi[l] * a->s_hi[l];
                    } else {
                        acc[l] = acc[l] + ((float)(s_lo[l] + s_hi[l]) * p->d[l]) * a->d[l];
                        if (qt->has_min) acc[l] = acc[l] + p->m[l] * a->s[l];
                    }
                }
            }
            y[t * y_stride + r] = reduce16(acc);
        }
    }
}

static inline float load_weight(uint32_t type, const uint8_t *w, int64_t i) {
    switch (type) {
    case T_F32: { float f; memcpy(&f, w + 4 * i, 4); return f; }
    case T_F16: return load_fp16(w + 2 * i);
    default: return bf16_to_f32(load_u16le(w + 2 * i));
    }
}

static void gemm_f(uint32_t type, const uint8_t *w, uint64_t row_bytes, int nrows, int64_t cols, const float *x,
                   int64_t x_stride, int n_tok, float *y, int64_t y_stride) {
    for (int r = 0; r < nrows; r++) {
        const uint8_t *wr = w + (uint64_t)r * row_bytes;
        for (int t = 0; t < n_tok; t++) {
            const float *xt = x + t * x_stride;
            float acc[KLANES] = {0};
            for (int64_t g = 0; g < cols; g += KLANES)
                for (int l = 0; l < KLANES; l++) {
                    const bool in = g + l < cols;
                    const float wv = in ? load_weight(type, wr, g + l) : 0.0f, xv = in ? xt[g + l] : 0.0f;
                    acc[l] = acc[l] + wv * xv;
                }
            y[t * y_stride + r] = reduce16(acc);
        }
    }
}

static void axpy_f(uint32_t type, const uint8_t *v, float a, float *acc, int64_t n) {
    for (int64_t i = 0; i < n; i++) acc[i] = acc[i] + a * load_weight(type, v, i);
}

void portable_softcap(float *v, int64_t n, float cap) {
    for (int64_t i = 0; i < n; i++) {
        const float t = v[i] / cap;
        const float e = kexp(t + t);
        v[i] = cap * (1.0f - 2.0f / (e + 1.0f));
    }
}

void portable_glu(float *g, const float *u, int64_t n, bool gelu) {
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        const float a = gelu ? KGELU_C * (x + 0.044715f * (x * x * x)) : -x;
        g[i] = x / (1.0f + kexp(a)) * u[i];
    }
}

const kernel_ops kernels_portable = {"portable", quantize_act, pack_row, gemm_q, gemm_f, axpy_f, NULL,
                                     NULL, portable_softcap, portable_glu};
