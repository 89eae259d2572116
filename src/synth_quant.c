/* synth_quant.c — one-pass K-type quantizers for synthetic weights (contract in synth_quant.h).
 *
 * Each super-block of 256 gets per-sub-block scales from the sub-block's extremes, the super-block scale(s)
 * from the largest of those, and every element the nearest level under the stored (fp16-rounded, 6/8-bit)
 * scales. Element orders and bit packing are those documented with the dequantizers in quant.c and the block
 * layouts in quant_blocks.h. */
#include "synth_quant.h"

#include <math.h>
#include <string.h>

#include "quant.h"
#include "quant_blocks.h"
#include "types.h"

/* Round to nearest (even) for |v| < 2^22 — all levels here are far smaller — without a libm call. */
static inline int iround(float v) { return (int)((v + 12582912.0f) - 12582912.0f); }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Store v as fp16 and return the value actually stored. */
static inline float put_fp16(uint8_t *p, float v) {
    store_fp16(p, v);
    return load_fp16(p);
}

/* ------------------------------------------------------------------------- Q4_K and Q5_K (asymmetric) */

/* Scales, mins and levels (0..nmax) of one super-block; nmax is 15 (Q4_K) or 31 (Q5_K). */
static void fit_k4(const float *x, int nmax, uint8_t d_out[2], uint8_t dmin_out[2], uint8_t scales[12],
                   uint8_t *L) {
    float sc[8], mn[8], max_sc = 0, max_mn = 0;
    for (int j = 0; j < 8; j++) {
        float lo = x[32 * j], hi = x[32 * j];
        for (int i = 1; i < 32; i++) {
            float v = x[32 * j + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (lo > 0) lo = 0; /* the format subtracts a non-negative minimum */
        sc[j] = (hi - lo) / (float)nmax;
        mn[j] = -lo;
        if (sc[j] > max_sc) max_sc = sc[j];
        if (mn[j] > max_mn) max_mn = mn[j];
    }
    const float d = put_fp16(d_out, max_sc / 63.0f), dmin = put_fp16(dmin_out, max_mn / 63.0f);
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        /* the scale is rounded up so that the sub-block's range fits the levels */
        const int ls = d > 0 ? clampi((int)ceilf(sc[j] / d), 0, 63) : 0;
        const int lm = dmin > 0 ? clampi(iround(mn[j] / dmin), 0, 63) : 0;
        if (j < 4) {
            scales[j] = (uint8_t)ls;
            scales[j + 4] = (uint8_t)lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
        const float dl = d * (float)ls, ml = dmin * (float)lm, inv = dl > 0 ? 1.0f / dl : 0.0f;
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)clampi(iround((x[32 * j + i] + ml) * inv), 0, nmax);
    }
}

static void quant_q4_K_fast(const float *x, block_q4_K *y, int64_t nb) {
    uint8_t L[QK_SUPER];
    for (int64_t b = 0; b < nb; b++, x += QK_SUPER, y++) {
        fit_k4(x, 15, y->d, y->dmin, y->scales, L);
        /* element 64*p + 32*half + l is nibble `half` of qs[32*p + l] */
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) y->qs[32 * p + l] = (uint8_t)(L[64 * p + l] | L[64 * p + 32 + l] << 4);
    }
}

static void quant_q5_K_fast(const float *x, block_q5_K *y, int64_t nb) {
    uint8_t L[QK_SUPER];
    for (int64_t b = 0; b < nb; b++, x += QK_SUPER, y++) {
        fit_k4(x, 31, y->d, y->dmin, y->scales, L);
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++)
                y->qs[32 * p + l] = (uint8_t)((L[64 * p + l] & 0xF) | (L[64 * p + 32 + l] & 0xF) << 4);
        /* the fifth bit of element e is bit e/32 of qh[e%32] */
        for (int l = 0; l < 32; l++) {
            unsigned bits = 0;
            for (int j = 0; j < 8; j++) bits |= (unsigned)(L[32 * j + l] >> 4) << j;
            y->qh[l] = (uint8_t)bits;
        }
    }
}

/* ----------------------------------------------------------------------------- Q6_K and Q3_K (symmetric) */

/* Signed sub-block scales of 16 elements: the largest magnitude maps to level qmax (31 for Q6_K, 4 for Q3_K)
 * and levels are clipped to [qlo, qhi] ([-32, 31], [-4, 3]); integer scales 0..lmax relative to the fp16
 * super-block scale. Returns the levels in L and the integer scales in ls. */
static float fit_sym(const float *x, int qmax, int qlo, int qhi, int lmax, uint8_t d_out[2], int *ls, int8_t *L) {
    float sc[16], max_sc = 0;
    for (int j = 0; j < 16; j++) {
        float amax = 0;
        for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(x[16 * j + i]));
        sc[j] = amax / (float)qmax;
        if (sc[j] > max_sc) max_sc = sc[j];
    }
    const float d = put_fp16(d_out, max_sc / (float)lmax);
    for (int j = 0; j < 16; j++) {
        ls[j] = d > 0 ? clampi(iround(sc[j] / d), 0, lmax) : 0;
        const float dl = d * (float)ls[j], inv = dl > 0 ? 1.0f / dl : 0.0f;
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (int8_t)clampi(iround(x[16 * j + i] * inv), qlo, qhi);
    }
    return d;
}

static void quant_q6_K_fast(const float *x, block_q6_K *y, int64_t nb) {
    int8_t L[QK_SUPER];
    int ls[16];
    for (int64_t b = 0; b < nb; b++, x += QK_SUPER, y++) {
        fit_sym(x, 31, -32, 31, 127, y->d, ls, L);
        for (int j = 0; j < 16; j++) y->scales[j] = (int8_t)ls[j];
        /* element e = 128*h + 64*half + 32*s + l: low nibble in ql[64*h + 32*s + l] (nibble `half`), top
         * two bits in bit pair 2*half + s of qh[32*h + l]; stored level q + 32 */
        for (int h = 0; h < 2; h++) {
            const int8_t *Lh = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                const int q0 = Lh[l] + 32, q1 = Lh[32 + l] + 32, q2 = Lh[64 + l] + 32, q3 = Lh[96 + l] + 32;
                y->ql[64 * h + l] = (uint8_t)((q0 & 0xF) | (q2 & 0xF) << 4);
                y->ql[64 * h + 32 + l] = (uint8_t)((q1 & 0xF) | (q3 & 0xF) << 4);
                y->qh[32 * h + l] = (uint8_t)((q0 >> 4) | (q1 >> 4) << 2 | (q2 >> 4) << 4 | (q3 >> 4) << 6);
            }
        }
    }
}

static void quant_q3_K_fast(const float *x, block_q3_K *y, int64_t nb) {
    int8_t L[QK_SUPER];
    int ls[16];
    for (int64_t b = 0; b < nb; b++, x += QK_SUPER, y++) {
        fit_sym(x, 4, -4, 3, 31, y->d, ls, L);
        /* signed 6-bit scales stored + 32: low nibbles in bytes 0-7, top two bits in bytes 8-11 */
        memset(y->scales, 0, sizeof y->scales);
        for (int j = 0; j < 16; j++) {
            const int v = ls[j] + 32;
            y->scales[j % 8] |= (uint8_t)((v & 0xF) << (j < 8 ? 0 : 4));
            y->scales[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
        }
        /* level u = q + 4 in [0, 7]: two low bits in bit pair s of qs[32*h + l], the third in bit e/32 of
         * hmask[e%32] (set = no offset) */
        memset(y->hmask, 0, sizeof y->hmask);
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                unsigned low = 0, high = 0;
                for (int sh = 0; sh < 4; sh++) {
                    const unsigned u = (unsigned)(L[128 * h + 32 * sh + l] + 4);
                    low |= (u & 3) << (2 * sh);
                    high |= (u >> 2) << (4 * h + sh);
                }
                y->qs[32 * h + l] = (uint8_t)low;
                y->hmask[l] |= (uint8_t)high;
            }
    }
}

bool quantize_row_fast(uint32_t type, const float *src, void *dst, int64_t n) {
    switch (type) {
    case T_Q4_K: quant_q4_K_fast(src, dst, n / QK_SUPER); return true;
    case T_Q5_K: quant_q5_K_fast(src, dst, n / QK_SUPER); return true;
    case T_Q6_K: quant_q6_K_fast(src, dst, n / QK_SUPER); return true;
    case T_Q3_K: quant_q3_K_fast(src, dst, n / QK_SUPER); return true;
    default: return quantize_row(type, src, dst, n);
    }
}
