/* quant.c — portable kernels for the block formats: dequantize, quantize, fused dot product.
 *
 * Contract (see quant.h):
 *   - dequantize_row is bit-exact with the GGUF reference (gguf-py quants.py, itself matching ggml's C
 *     dequantizers): every element is computed with the same float operations in the same order.
 *   - quantize_row follows ggml's reference, non-imatrix quantizers (quantize_row_*_ref, which is what
 *     llama-quantize runs without an importance matrix) operation for operation, so the bytes we write are
 *     the bytes llama-quantize writes for the same floats.
 *   - vec_dot_row is dequantize-then-dot fused: per block it accumulates in float, then sums the blocks.
 *     It agrees with a dequantize_row + dot to float rounding, not bit for bit.
 *   - n is a multiple of the type's block size; unknown or non-computable types give NaN results.
 *
 * Bit-exactness needs every a*b+c to be rounded twice, as numpy and the reference do: no fused multiply-add.
 * Clang contracts within expressions by default, so we switch that off; GCC does not contract in ISO C mode
 * (-std=c17, which sets __STRICT_ANSI__), and we refuse to build where it could. */
#include "quant.h"

#include <math.h>
#include <string.h>

#include "quant_blocks.h"
#include "types.h"
#include "util.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__) && defined(__FP_FAST_FMAF)
#error "build quant.c in ISO C mode (-std=c17): GNU mode lets GCC fuse multiply-adds, which breaks bit-exactness"
#endif

#define GROUP_MAX_EPS 1e-15f /* below this a group is treated as all zeros (reference constant) */

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Round to the nearest integer, ties to even, the way the reference quantizers do it: adding 1.5 * 2^23
 * makes the float adder round away the fraction and leaves the integer in the low mantissa bits. Exact for
 * |v| < 2^22; beyond that it wraps exactly as the reference does, which keeps even degenerate inputs
 * bit-identical. */
static inline int round_to_int(float v) {
    float biased = v + 12582912.0f;
    int32_t bits;
    memcpy(&bits, &biased, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

/* ---------------------------------------------------------------------------------------------------------
 * Float types
 * ------------------------------------------------------------------------------------------------------- */

static void dequant_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static void dequant_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = load_fp16(p + 2 * i);
}

static void dequant_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(load_u16le(p + 2 * i));
}

static void quant_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static void quant_f16(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) store_fp16(p + 2 * i, src[i]);
}

static void quant_bf16(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) store_u16le(p + 2 * i, f32_to_bf16(src[i]));
}

/* The float types have one-element "blocks"; the dot product still sums chunks of 32 in float so that its
 * rounding behaves like the quantized types'. */
#define FLOAT_CHUNK 32

static float dot_f32(const void *src, const float *x, int64_t n) {
    const float *w = src;
    float total = 0.0f;
    for (int64_t i = 0; i < n; i += FLOAT_CHUNK) {
        int64_t end = i + FLOAT_CHUNK < n ? i + FLOAT_CHUNK : n;
        float sum = 0.0f;
        for (int64_t j = i; j < end; j++) sum += w[j] * x[j];
        total += sum;
    }
    return total;
}

static float dot_f16(const void *src, const float *x, int64_t n) {
    const uint8_t *p = src;
    float total = 0.0f;
    for (int64_t i = 0; i < n; i += FLOAT_CHUNK) {
        int64_t end = i + FLOAT_CHUNK < n ? i + FLOAT_CHUNK : n;
        float sum = 0.0f;
        for (int64_t j = i; j < end; j++) sum += load_fp16(p + 2 * j) * x[j];
        total += sum;
    }
    return total;
}

static float dot_bf16(const void *src, const float *x, int64_t n) {
    const uint8_t *p = src;
    float total = 0.0f;
    for (int64_t i = 0; i < n; i += FLOAT_CHUNK) {
        int64_t end = i + FLOAT_CHUNK < n ? i + FLOAT_CHUNK : n;
        float sum = 0.0f;
        for (int64_t j = i; j < end; j++) sum += bf16_to_f32(load_u16le(p + 2 * j)) * x[j];
        total += sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q4_0: 32 elements, one fp16 scale. qs[j] holds element j in its low nibble and element j+16 in its high
 * nibble; the value is d * (q - 8).
 * ------------------------------------------------------------------------------------------------------- */

static void dequant_q4_0(const void *src, float *dst, int64_t nb) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SIMPLE) {
        const float d = load_fp16(b->d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)((b->qs[j] & 0xF) - 8);
            dst[j + 16] = d * (float)((b->qs[j] >> 4) - 8);
        }
    }
}

/* The scale maps the element of largest magnitude to exactly -8, so the one-sided range [-8, 7] is used in
 * full on the side where the big element lies. */
static void quant_q4_0(const float *src, void *dst, int64_t nb) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += QK_SIMPLE) {
        float amax = 0.0f, max = 0.0f; /* first element of largest |x| wins, with its sign */
        for (int j = 0; j < QK_SIMPLE; j++) {
            if (amax < fabsf(src[j])) { amax = fabsf(src[j]); max = src[j]; }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(b->d, d);
        for (int j = 0; j < 16; j++) {
            /* +8.5 then truncation: round-half-up into the unsigned range */
            int lo = clamp_int((int)(src[j] * id + 8.5f), 0, 15);
            int hi = clamp_int((int)(src[j + 16] * id + 8.5f), 0, 15);
            b->qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static float dot_q4_0(const void *src, const float *x, int64_t nb) {
    const block_q4_0 *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SIMPLE) {
        float sum = 0.0f;
        for (int j = 0; j < 16; j++) {
            sum += (float)((b->qs[j] & 0xF) - 8) * x[j];
            sum += (float)((b->qs[j] >> 4) - 8) * x[j + 16];
        }
        total += load_fp16(b->d) * sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q4_1: as Q4_0 but unsigned quants with an fp16 minimum: value = d * q + m.
 * ------------------------------------------------------------------------------------------------------- */

static void dequant_q4_1(const void *src, float *dst, int64_t nb) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SIMPLE) {
        const float d = load_fp16(b->d), m = load_fp16(b->m);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)(b->qs[j] & 0xF) + m;
            dst[j + 16] = d * (float)(b->qs[j] >> 4) + m;
        }
    }
}

static void quant_q4_1(const float *src, void *dst, int64_t nb) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += QK_SIMPLE) {
        float min = src[0], max = src[0];
        for (int j = 1; j < QK_SIMPLE; j++) {
            if (src[j] < min) min = src[j];
            if (src[j] > max) max = src[j];
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(b->d, d);
        store_fp16(b->m, min);
        for (int j = 0; j < 16; j++) {
            int lo = clamp_int((int)((src[j] - min) * id + 0.5f), 0, 15);
            int hi = clamp_int((int)((src[j + 16] - min) * id + 0.5f), 0, 15);
            b->qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static float dot_q4_1(const void *src, const float *x, int64_t nb) {
    const block_q4_1 *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SIMPLE) {
        float sum_qx = 0.0f, sum_x = 0.0f;
        for (int j = 0; j < 16; j++) {
            sum_qx += (float)(b->qs[j] & 0xF) * x[j];
            sum_qx += (float)(b->qs[j] >> 4) * x[j + 16];
            sum_x += x[j] + x[j + 16];
        }
        total += load_fp16(b->d) * sum_qx + load_fp16(b->m) * sum_x;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q5_0: Q4_0's nibbles plus a fifth bit per element: bit j of the little-endian u32 qh belongs to element j.
 * value = d * (q - 16).
 * ------------------------------------------------------------------------------------------------------- */

static inline int q5_get(const uint8_t *qs, uint32_t qh, int j) {
    int low = j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4;
    return low | (int)((qh >> j) & 1) << 4;
}

static void dequant_q5_0(const void *src, float *dst, int64_t nb) {
    const block_q5_0 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SIMPLE) {
        const float d = load_fp16(b->d);
        const uint32_t qh = load_u32le(b->qh);
        for (int j = 0; j < QK_SIMPLE; j++) dst[j] = d * (float)(q5_get(b->qs, qh, j) - 16);
    }
}

static void quant_q5_0(const float *src, void *dst, int64_t nb) {
    block_q5_0 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += QK_SIMPLE) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_SIMPLE; j++) {
            if (amax < fabsf(src[j])) { amax = fabsf(src[j]); max = src[j]; }
        }
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(b->d, d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = clamp_int((int)(src[j] * id + 16.5f), 0, 31);
            int hi = clamp_int((int)(src[j + 16] * id + 16.5f), 0, 31);
            b->qs[j] = (uint8_t)((lo & 0xF) | (hi & 0xF) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        store_u32le(b->qh, qh);
    }
}

static float dot_q5_0(const void *src, const float *x, int64_t nb) {
    const block_q5_0 *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SIMPLE) {
        const uint32_t qh = load_u32le(b->qh);
        float sum = 0.0f;
        for (int j = 0; j < QK_SIMPLE; j++) sum += (float)(q5_get(b->qs, qh, j) - 16) * x[j];
        total += load_fp16(b->d) * sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q5_1: Q5_0's layout with unsigned quants and an fp16 minimum: value = d * q + m.
 * ------------------------------------------------------------------------------------------------------- */

static void dequant_q5_1(const void *src, float *dst, int64_t nb) {
    const block_q5_1 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SIMPLE) {
        const float d = load_fp16(b->d), m = load_fp16(b->m);
        const uint32_t qh = load_u32le(b->qh);
        for (int j = 0; j < QK_SIMPLE; j++) dst[j] = d * (float)q5_get(b->qs, qh, j) + m;
    }
}

static void quant_q5_1(const float *src, void *dst, int64_t nb) {
    block_q5_1 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += QK_SIMPLE) {
        float min = src[0], max = src[0];
        for (int j = 1; j < QK_SIMPLE; j++) {
            if (src[j] < min) min = src[j];
            if (src[j] > max) max = src[j];
        }
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(b->d, d);
        store_fp16(b->m, min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int lo = clamp_int((int)((src[j] - min) * id + 0.5f), 0, 31);
            int hi = clamp_int((int)((src[j + 16] - min) * id + 0.5f), 0, 31);
            b->qs[j] = (uint8_t)((lo & 0xF) | (hi & 0xF) << 4);
            qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
        }
        store_u32le(b->qh, qh);
    }
}

static float dot_q5_1(const void *src, const float *x, int64_t nb) {
    const block_q5_1 *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SIMPLE) {
        const uint32_t qh = load_u32le(b->qh);
        float sum_qx = 0.0f, sum_x = 0.0f;
        for (int j = 0; j < QK_SIMPLE; j++) {
            sum_qx += (float)q5_get(b->qs, qh, j) * x[j];
            sum_x += x[j];
        }
        total += load_fp16(b->d) * sum_qx + load_fp16(b->m) * sum_x;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q8_0: 32 signed bytes and an fp16 scale: value = d * q.
 * ------------------------------------------------------------------------------------------------------- */

static void dequant_q8_0(const void *src, float *dst, int64_t nb) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SIMPLE) {
        const float d = load_fp16(b->d);
        for (int j = 0; j < QK_SIMPLE; j++) dst[j] = (float)b->qs[j] * d;
    }
}

static void quant_q8_0(const float *src, void *dst, int64_t nb) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < nb; i++, b++, src += QK_SIMPLE) {
        float amax = 0.0f;
        for (int j = 0; j < QK_SIMPLE; j++) amax = fabsf(src[j]) > amax ? fabsf(src[j]) : amax;
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(b->d, d);
        for (int j = 0; j < QK_SIMPLE; j++) b->qs[j] = (int8_t)roundf(src[j] * id); /* ties away from zero */
    }
}

static float dot_q8_0(const void *src, const float *x, int64_t nb) {
    const block_q8_0 *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SIMPLE) {
        float sum = 0.0f;
        for (int j = 0; j < QK_SIMPLE; j++) sum += (float)b->qs[j] * x[j];
        total += load_fp16(b->d) * sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Shared fitting routines of the K quantizers. Each reproduces the reference's arithmetic exactly
 * (operation order included), because the chosen scales decide every byte of the output.
 * ------------------------------------------------------------------------------------------------------- */

/* Asymmetric fit x[i] ~ scale * L[i] - neg_min with L in [0, nmax], minimizing the w-weighted squared error
 * (or absolute error with use_mad). Starts from the min/max range, then tries nstep+1 stretched grids
 * (nmax + rmin + rdelta*k levels over the range) and solves the 2x2 least-squares problem for scale and
 * min on each, keeping the best. The minimum is never positive: a block of positive values uses min 0.
 * Returns the scale, stores -min (>= 0) in *neg_min. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                           uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_int(round_to_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += w[i] * diff;
    }
    for (int step = 0; step <= nstep; step++) {
        iscale = (rmin + rdelta * (float)step + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(round_to_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        float det = sum_w * sum_l2 - sum_l * sum_l;
        if (det > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if (this_min > 0) { /* a positive min is not representable: refit the scale alone */
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                err += w[i] * diff;
            }
            if (err < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

/* Symmetric fit x[i] ~ scale * (L[i] - nmax) with L[i] - nmax in [-nmax, nmax-1], weighting each element by
 * x^2 (big elements matter most). The element of largest magnitude anchors the grid at -nmax; 18 slightly
 * stretched/shrunk grids are tried and the one with the best weighted least-squares fit is kept. (The
 * reference's make_qx_quants with rmse_type 1 and no importance weights.) */
static float fit_scale_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(round_to_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sum_lx += w * x[i] * (float)l;
        sum_l2 += w * (float)l * (float)l;
    }
    float scale = sum_l2 != 0 ? sum_lx / sum_l2 : 0.0f;
    float best = scale * sum_lx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)step) / max;
        sum_lx = sum_l2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(round_to_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sum_lx += w * x[i] * (float)l;
            sum_l2 += w * (float)l * (float)l;
        }
        if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clamp_int(round_to_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sum_lx / sum_l2;
            best = scale * sum_lx;
        }
    }
    return scale;
}

/* Symmetric fit for Q3_K: start from the grid anchored at the largest element, then up to 5 rounds of
 * coordinate descent, moving single quants to the level that improves the x^2-weighted least-squares fit.
 * L[i] - nmax in [-nmax, nmax-1]. (The reference's make_q3_quants with do_rmse.) */
static float fit_scale_q3(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(round_to_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sum_lx += w * x[i] * (float)l;
        sum_l2 += w * (float)l * (float)l;
    }
    for (int round = 0; round < 5; round++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sum_lx - w * x[i] * (float)L[i]; /* the sums without element i */
            if (slx > 0) {
                float sl2 = sum_l2 - w * (float)L[i] * (float)L[i];
                int new_l = clamp_int(round_to_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * (float)new_l;
                    sl2 += w * (float)new_l * (float)new_l;
                    /* better iff slx^2/sl2 > sum_lx^2/sum_l2, cross-multiplied */
                    if (sl2 > 0 && slx * slx * sum_l2 > sum_lx * sum_lx * sl2) {
                        L[i] = (int8_t)new_l;
                        sum_lx = slx;
                        sum_l2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
}

/* Pack 2-bit quants of a 256-element super-block: byte 32*h + l holds elements 128*h + 32*s + l in bit pair s. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < 2; h++) {
        for (int l = 0; l < 32; l++) {
            const uint8_t *q = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(q[0] | q[32] << 2 | q[64] << 4 | q[96] << 6);
        }
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Q2_K: element e = 128*h + 32*s + l sits in bit pair s of qs[32*h + l]; sub-block e/16 has the scale byte
 * scales[e/16] (low nibble: scale, high nibble: min). value = (d * sc) * q - (dmin * m).
 * ------------------------------------------------------------------------------------------------------- */

static inline int q2k_quant(const block_q2_K *b, int e) {
    return (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

static void dequant_q2_K(const void *src, float *dst, int64_t nb) {
    const block_q2_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SUPER) {
        const float d = load_fp16(b->d), dmin = load_fp16(b->dmin);
        for (int sb = 0; sb < 16; sb++) {
            const float dl = d * (float)(b->scales[sb] & 0xF);
            const float ml = dmin * (float)(b->scales[sb] >> 4);
            for (int e = 16 * sb; e < 16 * sb + 16; e++) dst[e] = dl * (float)q2k_quant(b, e) - ml;
        }
    }
}

static void quantize_block_q2_K(const float *x, block_q2_K *y) {
    uint8_t L[QK_SUPER], Laux[16];
    float weights[16], mins[16], scales[16];
    float max_scale = 0, max_min = 0;
    for (int sb = 0; sb < 16; sb++) {
        for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * sb + l]);
        scales[sb] = fit_scale_min(16, 3, x + 16 * sb, weights, L + 16 * sb, &mins[sb], Laux, -0.5f, 0.1f, 15, true);
        if (scales[sb] > max_scale) max_scale = scales[sb];
        if (mins[sb] > max_min) max_min = mins[sb];
    }
    /* 4-bit sub-block scales and mins relative to the largest of each; stored with unsigned wrap-around
     * like the reference (they are non-negative in practice) */
    if (max_scale > 0) {
        const float iscale = 15.0f / max_scale;
        for (int sb = 0; sb < 16; sb++) y->scales[sb] = (uint8_t)round_to_int(iscale * scales[sb]);
        store_fp16(y->d, max_scale / 15.0f);
    } else {
        memset(y->scales, 0, sizeof y->scales);
        store_fp16(y->d, 0.0f);
    }
    if (max_min > 0) {
        const float iscale = 15.0f / max_min;
        for (int sb = 0; sb < 16; sb++) y->scales[sb] |= (uint8_t)((unsigned)round_to_int(iscale * mins[sb]) << 4);
        store_fp16(y->dmin, max_min / 15.0f);
    } else {
        store_fp16(y->dmin, 0.0f);
    }
    /* requantize against the scales as stored (fp16 and 4-bit rounded); sub-blocks with a zero scale keep
     * the levels of the first fit */
    const float d_all = load_fp16(y->d), dmin_all = load_fp16(y->dmin);
    for (int sb = 0; sb < 16; sb++) {
        const float d = d_all * (float)(y->scales[sb] & 0xF);
        if (d == 0) continue;
        const float dm = dmin_all * (float)(y->scales[sb] >> 4);
        for (int l = 0; l < 16; l++) L[16 * sb + l] = (uint8_t)clamp_int(round_to_int((x[16 * sb + l] + dm) / d), 0, 3);
    }
    pack_2bit(L, y->qs);
}

static void quant_q2_K(const float *src, void *dst, int64_t nb) {
    block_q2_K *b = dst;
    for (int64_t i = 0; i < nb; i++) quantize_block_q2_K(src + i * QK_SUPER, b + i);
}

static float dot_q2_K(const void *src, const float *x, int64_t nb) {
    const block_q2_K *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SUPER) {
        const float d = load_fp16(b->d), dmin = load_fp16(b->dmin);
        float block_sum = 0.0f;
        for (int sb = 0; sb < 16; sb++) {
            float sum_qx = 0.0f, sum_x = 0.0f;
            for (int e = 16 * sb; e < 16 * sb + 16; e++) {
                sum_qx += (float)q2k_quant(b, e) * x[e];
                sum_x += x[e];
            }
            block_sum += d * (float)(b->scales[sb] & 0xF) * sum_qx - dmin * (float)(b->scales[sb] >> 4) * sum_x;
        }
        total += block_sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q3_K: element e = 128*h + 32*s + l has its low two bits in bit pair s of qs[32*h + l] and its third bit
 * in bit e/32 of hmask[e%32] — a set bit means no offset, a clear one subtracts 4. Sub-block e/16 has the
 * signed 6-bit scale q3k_scale(scales, e/16). value = (d * sc) * q with q in [-4, 3].
 * ------------------------------------------------------------------------------------------------------- */

static inline int q3k_quant(const block_q3_K *b, int e) {
    int low = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    int high_set = (b->hmask[e % 32] >> (e / 32)) & 1;
    return low - (high_set ? 0 : 4);
}

static void dequant_q3_K(const void *src, float *dst, int64_t nb) {
    const block_q3_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SUPER) {
        const float d = load_fp16(b->d);
        for (int sb = 0; sb < 16; sb++) {
            const float dl = d * (float)q3k_scale(b->scales, sb);
            for (int e = 16 * sb; e < 16 * sb + 16; e++) dst[e] = dl * (float)q3k_quant(b, e);
        }
    }
}

static void quantize_block_q3_K(const float *x, block_q3_K *y) {
    int8_t L[QK_SUPER];
    float scales[16];
    float max_scale = 0, amax = 0; /* the sub-block scale of largest magnitude, with its sign */
    for (int sb = 0; sb < 16; sb++) {
        scales[sb] = fit_scale_q3(16, 4, x + 16 * sb, L + 16 * sb);
        if (fabsf(scales[sb]) > amax) { amax = fabsf(scales[sb]); max_scale = scales[sb]; }
    }
    memset(y->scales, 0, sizeof y->scales);
    if (max_scale != 0) {
        /* the largest scale maps to -32, the end of the signed 6-bit range with one more step */
        const float iscale = -32.0f / max_scale;
        for (int sb = 0; sb < 16; sb++) {
            int l = clamp_int(round_to_int(iscale * scales[sb]), -32, 31) + 32;
            if (sb < 8) y->scales[sb] = (uint8_t)(l & 0xF);
            else y->scales[sb - 8] |= (uint8_t)((l & 0xF) << 4);
            y->scales[8 + sb % 4] |= (uint8_t)((l >> 4) << (2 * (sb / 4)));
        }
        store_fp16(y->d, 1 / iscale);
    } else {
        store_fp16(y->d, 0.0f);
    }
    const float d_all = load_fp16(y->d);
    for (int sb = 0; sb < 16; sb++) {
        const float d = d_all * (float)q3k_scale(y->scales, sb);
        if (d == 0) continue;
        for (int l = 0; l < 16; l++) L[16 * sb + l] = (int8_t)(clamp_int(round_to_int(x[16 * sb + l] / d), -4, 3) + 4);
    }
    /* split the 3-bit levels (0..7) into the high bit (hmask) and two low bits (qs) */
    uint8_t low[QK_SUPER];
    memset(y->hmask, 0, sizeof y->hmask);
    for (int e = 0; e < QK_SUPER; e++) {
        int q = L[e];
        if (q > 3) {
            y->hmask[e % 32] |= (uint8_t)(1u << (e / 32));
            q -= 4;
        }
        low[e] = (uint8_t)q;
    }
    pack_2bit(low, y->qs);
}

static void quant_q3_K(const float *src, void *dst, int64_t nb) {
    block_q3_K *b = dst;
    for (int64_t i = 0; i < nb; i++) quantize_block_q3_K(src + i * QK_SUPER, b + i);
}

static float dot_q3_K(const void *src, const float *x, int64_t nb) {
    const block_q3_K *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SUPER) {
        const float d = load_fp16(b->d);
        float block_sum = 0.0f;
        for (int sb = 0; sb < 16; sb++) {
            float sum_qx = 0.0f;
            for (int e = 16 * sb; e < 16 * sb + 16; e++) sum_qx += (float)q3k_quant(b, e) * x[e];
            block_sum += d * (float)q3k_scale(b->scales, sb) * sum_qx;
        }
        total += block_sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q4_K: 8 sub-blocks of 32. Element e = 64*p + 32*half + l is the low (half 0) or high (half 1) nibble of
 * qs[32*p + l]; sub-block e/32 has 6-bit scale and min (k4_scale_min). value = (d * sc) * q - (dmin * m).
 * ------------------------------------------------------------------------------------------------------- */

static inline int q4k_quant(const uint8_t *qs, int e) {
    uint8_t byte = qs[32 * (e / 64) + e % 32];
    return (e % 64) < 32 ? byte & 0xF : byte >> 4;
}

static void dequant_q4_K(const void *src, float *dst, int64_t nb) {
    const block_q4_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SUPER) {
        const float d = load_fp16(b->d), dmin = load_fp16(b->dmin);
        for (int sb = 0; sb < 8; sb++) {
            int sc, m;
            k4_scale_min(b->scales, sb, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            for (int e = 32 * sb; e < 32 * sb + 32; e++) dst[e] = dl * (float)q4k_quant(b->qs, e) - ml;
        }
    }
}

/* Shared by Q4_K and Q5_K (nmax 15 or 31): per-sub-block asymmetric fits weighted by |x| plus the sub-block
 * RMS, 6-bit scales and mins relative to the largest of each, then requantization against the stored
 * scales. Fills d, dmin, scales and the levels L (0..nmax). */
static void quantize_k4_scales(const float *x, int nmax, float rmin, float rdelta, int nstep, uint8_t *d_out,
                               uint8_t *dmin_out, uint8_t *packed, uint8_t *L) {
    uint8_t Laux[32];
    float weights[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int sb = 0; sb < 8; sb++) {
        const float *xs = x + 32 * sb;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xs[l]);
        scales[sb] = fit_scale_min(32, nmax, xs, weights, L + 32 * sb, &mins[sb], Laux, rmin, rdelta, nstep, false);
        if (scales[sb] > max_scale) max_scale = scales[sb];
        if (mins[sb] > max_min) max_min = mins[sb];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int sb = 0; sb < 8; sb++) {
        /* narrowed to a byte before clamping, as the reference does */
        uint8_t ls = (uint8_t)round_to_int(inv_scale * scales[sb]);
        uint8_t lm = (uint8_t)round_to_int(inv_min * mins[sb]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (sb < 4) {
            packed[sb] = ls;
            packed[sb + 4] = lm;
        } else {
            packed[sb + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
            packed[sb - 4] |= (uint8_t)((ls >> 4) << 6);
            packed[sb] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    store_fp16(d_out, max_scale / 63.0f);
    store_fp16(dmin_out, max_min / 63.0f);
    const float d_all = load_fp16(d_out), dmin_all = load_fp16(dmin_out);
    for (int sb = 0; sb < 8; sb++) {
        int sc, m;
        k4_scale_min(packed, sb, &sc, &m);
        const float d = d_all * (float)sc;
        if (d == 0) continue;
        const float dm = dmin_all * (float)m;
        for (int l = 0; l < 32; l++) {
            L[32 * sb + l] = (uint8_t)clamp_int(round_to_int((x[32 * sb + l] + dm) / d), 0, nmax);
        }
    }
}

static void quantize_block_q4_K(const float *x, block_q4_K *y) {
    uint8_t L[QK_SUPER];
    quantize_k4_scales(x, 15, -1.0f, 0.1f, 20, y->d, y->dmin, y->scales, L);
    for (int p = 0; p < 4; p++) {
        for (int l = 0; l < 32; l++) y->qs[32 * p + l] = (uint8_t)(L[64 * p + l] | L[64 * p + 32 + l] << 4);
    }
}

static void quant_q4_K(const float *src, void *dst, int64_t nb) {
    block_q4_K *b = dst;
    for (int64_t i = 0; i < nb; i++) quantize_block_q4_K(src + i * QK_SUPER, b + i);
}

static float dot_q4_K(const void *src, const float *x, int64_t nb) {
    const block_q4_K *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SUPER) {
        const float d = load_fp16(b->d), dmin = load_fp16(b->dmin);
        float block_sum = 0.0f;
        for (int sb = 0; sb < 8; sb++) {
            int sc, m;
            k4_scale_min(b->scales, sb, &sc, &m);
            float sum_qx = 0.0f, sum_x = 0.0f;
            for (int e = 32 * sb; e < 32 * sb + 32; e++) {
                sum_qx += (float)q4k_quant(b->qs, e) * x[e];
                sum_x += x[e];
            }
            block_sum += d * (float)sc * sum_qx - dmin * (float)m * sum_x;
        }
        total += block_sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q5_K: Q4_K plus a fifth bit: element e has it in bit e/32 of qh[e%32].
 * ------------------------------------------------------------------------------------------------------- */

static inline int q5k_quant(const block_q5_K *b, int e) {
    return q4k_quant(b->qs, e) | ((b->qh[e % 32] >> (e / 32)) & 1) << 4;
}

static void dequant_q5_K(const void *src, float *dst, int64_t nb) {
    const block_q5_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SUPER) {
        const float d = load_fp16(b->d), dmin = load_fp16(b->dmin);
        for (int sb = 0; sb < 8; sb++) {
            int sc, m;
            k4_scale_min(b->scales, sb, &sc, &m);
            const float dl = d * (float)sc, ml = dmin * (float)m;
            for (int e = 32 * sb; e < 32 * sb + 32; e++) dst[e] = dl * (float)q5k_quant(b, e) - ml;
        }
    }
}

static void quantize_block_q5_K(const float *x, block_q5_K *y) {
    uint8_t L[QK_SUPER];
    quantize_k4_scales(x, 31, -0.5f, 0.1f, 15, y->d, y->dmin, y->scales, L);
    memset(y->qh, 0, sizeof y->qh);
    for (int e = 0; e < QK_SUPER; e++) {
        if (L[e] > 15) y->qh[e % 32] |= (uint8_t)(1u << (e / 32));
    }
    for (int p = 0; p < 4; p++) {
        for (int l = 0; l < 32; l++) {
            y->qs[32 * p + l] = (uint8_t)((L[64 * p + l] & 0xF) | (L[64 * p + 32 + l] & 0xF) << 4);
        }
    }
}

static void quant_q5_K(const float *src, void *dst, int64_t nb) {
    block_q5_K *b = dst;
    for (int64_t i = 0; i < nb; i++) quantize_block_q5_K(src + i * QK_SUPER, b + i);
}

static float dot_q5_K(const void *src, const float *x, int64_t nb) {
    const block_q5_K *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SUPER) {
        const float d = load_fp16(b->d), dmin = load_fp16(b->dmin);
        float block_sum = 0.0f;
        for (int sb = 0; sb < 8; sb++) {
            int sc, m;
            k4_scale_min(b->scales, sb, &sc, &m);
            float sum_qx = 0.0f, sum_x = 0.0f;
            for (int e = 32 * sb; e < 32 * sb + 32; e++) {
                sum_qx += (float)q5k_quant(b, e) * x[e];
                sum_x += x[e];
            }
            block_sum += d * (float)sc * sum_qx - dmin * (float)m * sum_x;
        }
        total += block_sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Q6_K: element e = 128*h + 64*half + 32*s + l (s, half in {0,1}) has its low nibble in ql[64*h + 32*s + l]
 * (low nibble for half 0, high for half 1) and its top two bits in bit pair (2*half + s) of qh[32*h + l].
 * Sub-block e/16 has the signed 8-bit scale scales[e/16]. value = (d * sc) * (q - 32).
 * ------------------------------------------------------------------------------------------------------- */

static inline int q6k_quant(const block_q6_K *b, int e) {
    const int h = e / 128, r = e % 128;
    const uint8_t lbyte = b->ql[64 * h + r % 64];
    const int low = r < 64 ? lbyte & 0xF : lbyte >> 4;
    const int high = (b->qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
    return (low | high << 4) - 32;
}

static void dequant_q6_K(const void *src, float *dst, int64_t nb) {
    const block_q6_K *b = src;
    for (int64_t i = 0; i < nb; i++, b++, dst += QK_SUPER) {
        const float d = load_fp16(b->d);
        for (int sb = 0; sb < 16; sb++) {
            const float dl = d * (float)b->scales[sb];
            for (int e = 16 * sb; e < 16 * sb + 16; e++) dst[e] = dl * (float)q6k_quant(b, e);
        }
    }
}

static void quantize_block_q6_K(const float *x, block_q6_K *y) {
    int8_t L[QK_SUPER];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int sb = 0; sb < 16; sb++) {
        scales[sb] = fit_scale_symmetric(16, 32, x + 16 * sb, L + 16 * sb);
        if (fabsf(scales[sb]) > max_abs_scale) { max_abs_scale = fabsf(scales[sb]); max_scale = scales[sb]; }
    }
    if (max_abs_scale < GROUP_MAX_EPS) { /* all (near) zero: an all-zero block */
        memset(y, 0, sizeof *y);
        return;
    }
    const float iscale = -128.0f / max_scale;
    store_fp16(y->d, 1 / iscale);
    for (int sb = 0; sb < 16; sb++) {
        int l = round_to_int(iscale * scales[sb]);
        y->scales[sb] = (int8_t)(l < 127 ? l : 127);
    }
    const float d_all = load_fp16(y->d);
    for (int sb = 0; sb < 16; sb++) {
        const float d = d_all * (float)y->scales[sb];
        if (d == 0) continue;
        for (int l = 0; l < 16; l++) {
            L[16 * sb + l] = (int8_t)(clamp_int(round_to_int(x[16 * sb + l] / d), -32, 31) + 32);
        }
    }
    for (int h = 0; h < 2; h++) {
        const int8_t *q = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            y->ql[64 * h + l] = (uint8_t)((q[l] & 0xF) | (q[l + 64] & 0xF) << 4);
            y->ql[64 * h + l + 32] = (uint8_t)((q[l + 32] & 0xF) | (q[l + 96] & 0xF) << 4);
            y->qh[32 * h + l] =
                (uint8_t)(q[l] >> 4 | (q[l + 32] >> 4) << 2 | (q[l + 64] >> 4) << 4 | (q[l + 96] >> 4) << 6);
        }
    }
}

static void quant_q6_K(const float *src, void *dst, int64_t nb) {
    block_q6_K *b = dst;
    for (int64_t i = 0; i < nb; i++) quantize_block_q6_K(src + i * QK_SUPER, b + i);
}

static float dot_q6_K(const void *src, const float *x, int64_t nb) {
    const block_q6_K *b = src;
    float total = 0.0f;
    for (int64_t i = 0; i < nb; i++, b++, x += QK_SUPER) {
        const float d = load_fp16(b->d);
        float block_sum = 0.0f;
        for (int sb = 0; sb < 16; sb++) {
            float sum_qx = 0.0f;
            for (int e = 16 * sb; e < 16 * sb + 16; e++) sum_qx += (float)q6k_quant(b, e) * x[e];
            block_sum += d * (float)b->scales[sb] * sum_qx;
        }
        total += block_sum;
    }
    return total;
}

/* ---------------------------------------------------------------------------------------------------------
 * Dispatch. The kernels take a count of blocks; a SIMD variant replaces one entry at a time.
 * ------------------------------------------------------------------------------------------------------- */

typedef struct {
    void (*dequantize)(const void *src, float *dst, int64_t nblocks);
    void (*quantize)(const float *src, void *dst, int64_t nblocks);
    float (*dot)(const void *src, const float *x, int64_t nblocks);
} quant_kernels;

static const quant_kernels kernels[T_COUNT] = {
    [T_F32] = {dequant_f32, quant_f32, dot_f32},     [T_F16] = {dequant_f16, quant_f16, dot_f16},
    [T_BF16] = {dequant_bf16, quant_bf16, dot_bf16}, [T_Q4_0] = {dequant_q4_0, quant_q4_0, dot_q4_0},
    [T_Q4_1] = {dequant_q4_1, quant_q4_1, dot_q4_1}, [T_Q5_0] = {dequant_q5_0, quant_q5_0, dot_q5_0},
    [T_Q5_1] = {dequant_q5_1, quant_q5_1, dot_q5_1}, [T_Q8_0] = {dequant_q8_0, quant_q8_0, dot_q8_0},
    [T_Q2_K] = {dequant_q2_K, quant_q2_K, dot_q2_K}, [T_Q3_K] = {dequant_q3_K, quant_q3_K, dot_q3_K},
    [T_Q4_K] = {dequant_q4_K, quant_q4_K, dot_q4_K}, [T_Q5_K] = {dequant_q5_K, quant_q5_K, dot_q5_K},
    [T_Q6_K] = {dequant_q6_K, quant_q6_K, dot_q6_K},
};

static const quant_kernels *kernels_for(uint32_t type, int64_t n, int64_t *nblocks) {
    const type_traits *tt = type_get(type);
    if (!tt || n < 0) return NULL;
    *nblocks = n / tt->block_size;
    return &kernels[type];
}

void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    int64_t nb = 0;
    const quant_kernels *k = kernels_for(type, n, &nb);
    if (!k || !k->dequantize) { /* misuse: make it visible rather than leave garbage */
        for (int64_t i = 0; i < n; i++) dst[i] = NAN;
        return;
    }
    k->dequantize(src, dst, nb);
}

bool quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    int64_t nb = 0;
    const quant_kernels *k = kernels_for(type, n, &nb);
    if (!k || !k->quantize) return false;
    k->quantize(src, dst, nb);
    return true;
}

float vec_dot_row(uint32_t type, const void *row, const float *x, int64_t n) {
    int64_t nb = 0;
    const quant_kernels *k = kernels_for(type, n, &nb);
    if (!k || !k->dot) return NAN;
    return k->dot(row, x, nb);
}
