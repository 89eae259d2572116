/* kernels_neon.c — AArch64 NEON kernels; bit-identical to kernels_portable.c (kernels.h).
 * Compiled twice: as itself (baseline ARMv8 NEON: vmull_s8 + pairwise adds) and, through kernels_dotprod.c
 * with HEARTH_DOTPROD and -march=armv8.2-a+dotprod, with sdot. kernels.c picks the dotprod build only where
 * AT_HWCAP reports it. Weights are packed signed (bias 0), so sdot needs no correction; a 16-lane chunk row
 * is four 128-bit registers, and the kernel works on 2 rows x 2 tokens with the float accumulators of the
 * panel in memory. No fused multiply-adds (kernels.h); GCC does not contract in ISO C mode, clang is told. */
#include <stddef.h>

#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "quant_blocks.h"
#include "types.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define INLINE static inline __attribute__((always_inline))

#ifdef HEARTH_DOTPROD
#define OPS_NAME "dotprod"
#define ENTRY kernels_dotprod
#else
#define OPS_NAME "neon"
#define ENTRY kernels_neon
#endif

/* reduce16 of 4 registers holding lanes 0-3, 4-7, 8-11, 12-15. */
INLINE float reduce16_4(float32x4_t a0, float32x4_t a1, float32x4_t a2, float32x4_t a3) {
    const float32x4_t r4 = vaddq_f32(vaddq_f32(a0, a2), vaddq_f32(a1, a3));
    const float32x2_t r2 = vadd_f32(vget_low_f32(r4), vget_high_f32(r4));
    return vget_lane_f32(r2, 0) + vget_lane_f32(r2, 1);
}

/* ---------------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------------- */

static void quantize_act(const float *x, int64_t cols, act_chunk *out) {
    const int64_t nblk = cols / KBLK;
    const uint32x4_t absmask = vdupq_n_u32(0x7fffffffu);
    for (int64_t c = 0; c * KLANES < nblk; c++) {
        act_chunk *o = &out[c];
        int8_t nat[KLANES][KBLK];
        memset(nat, 0, sizeof nat);
        for (int l = 0; l < KLANES; l++) {
            const int64_t b = c * KLANES + l;
            float d = 0.0f, s_lo = 0.0f, s_hi = 0.0f;
            int32_t n_lo = 0, n_hi = 0;
            if (b < nblk) {
                float32x4_t v[8];
                uint32x4_t m = vdupq_n_u32(0);
                for (int i = 0; i < 8; i++) {
                    v[i] = vld1q_f32(x + b * KBLK + 4 * i);
                    m = vmaxq_u32(m, vandq_u32(vreinterpretq_u32_f32(v[i]), absmask));
                }
                const uint32_t amax_bits = vmaxvq_u32(m);
                float amax;
                memcpy(&amax, &amax_bits, 4);
                if (amax_bits >= 0x7f800000u) {
                    d = amax;
                } else if (amax >= 1e-30f) {
                    d = amax / 127.0f;
                    const float32x4_t id = vdupq_n_f32(127.0f / amax);
                    int32x4_t q[8];
                    for (int i = 0; i < 8; i++) q[i] = vcvtnq_s32_f32(vmulq_f32(v[i], id)); /* nearest, ties even */
                    n_lo = vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
                    n_hi = vaddvq_s32(vaddq_s32(vaddq_s32(q[4], q[5]), vaddq_s32(q[6], q[7])));
                    for (int i = 0; i < 4; i++) {
                        const int16x8_t h = vcombine_s16(vmovn_s32(q[2 * i]), vmovn_s32(q[2 * i + 1]));
                        vst1_s8(nat[l] + 8 * i, vmovn_s16(h));
                    }
                }
                s_lo = reduce16_4(v[0], v[1], v[2], v[3]);
                s_hi = reduce16_4(v[4], v[5], v[6], v[7]);
            }
            o->d[l] = d;
            o->s_lo[l] = s_lo;
            o->s_hi[l] = s_hi;
            o->s[l] = s_lo + s_hi;
            o->n_lo[l] = n_lo;
            o->n_hi[l] = n_hi;
        }
        for (int k = 0; k < 8; k++)
            for (int l = 0; l < KLANES; l++) memcpy(o->q[k][l], nat[l] + 4 * k, 4);
    }
}

static void pack_row(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride) {
    portable_pack_row(type, row, cols, out, stride, 0);
}

/* ---------------------------------------------------------------------------------------------------------
 * Integer product
 * ------------------------------------------------------------------------------------------------------- */

INLINE int32x4_t dot4(int32x4_t acc, int8x16_t w, int8x16_t x) {
#ifdef HEARTH_DOTPROD
    return vdotq_s32(acc, w, x);
#else
    /* |w| <= 128, |x| <= 127: a pair of products fits in 16 bits */
    const int16x8_t pairs = vpaddq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vmull_high_s8(w, x));
    return vpadalq_s16(acc, pairs);
#endif
}

typedef struct { float32x4_t v[4]; } lanes16;

INLINE void tile(const panel_chunk *p, const act_chunk *const *a, const int NT, const bool g16, const bool has_min,
                 lanes16 acc[KROWS][KTOK], int r0, int t0) {
    float32x4_t part[2][2][4];
    for (int half = 0; half < (g16 ? 2 : 1); half++) {
        int32x4_t s[2][2][4];
        for (int r = 0; r < 2; r++)
            for (int t = 0; t < NT; t++)
                for (int v = 0; v < 4; v++) s[r][t][v] = vdupq_n_s32(0);
        const int k0 = g16 ? 4 * half : 0, k1 = g16 ? k0 + 4 : 8;
        for (int k = k0; k < k1; k++) {
            int8x16_t w[2][4];
            for (int r = 0; r < 2; r++)
                for (int v = 0; v < 4; v++) w[r][v] = vreinterpretq_s8_u8(vld1q_u8(p[r0 + r].q[k][4 * v]));
            for (int t = 0; t < NT; t++)
                for (int v = 0; v < 4; v++) {
                    const int8x16_t xv = vld1q_s8(a[t0 + t]->q[k][4 * v]);
                    for (int r = 0; r < 2; r++) s[r][t][v] = dot4(s[r][t][v], w[r][v], xv);
                }
        }
        for (int r = 0; r < 2; r++)
            for (int t = 0; t < NT; t++)
                for (int v = 0; v < 4; v++) {
                    const panel_chunk *pr = &p[r0 + r];
                    const act_chunk *at = a[t0 + t];
                    const float32x4_t d = vld1q_f32((g16 && half ? pr->d_hi : pr->d) + 4 * v);
                    const float32x4_t prod = vmulq_f32(vcvtq_f32_s32(s[r][t][v]), d);
                    if (g16 && !half) {
                        part[r][t][v] = prod;
                        continue;
                    }
                    const float32x4_t sum = g16 ? vaddq_f32(part[r][t][v], prod) : prod;
                    float32x4_t ac = acc[r0 + r][t0 + t].v[v];
                    ac = vaddq_f32(ac, vmulq_f32(sum, vld1q_f32(at->d + 4 * v)));
                    if (has_min) {
                        if (g16) {
                            ac = vaddq_f32(ac, vmulq_f32(vld1q_f32(pr->m + 4 * v), vld1q_f32(at->s_lo + 4 * v)));
                            ac = vaddq_f32(ac, vmulq_f32(vld1q_f32(pr->m_hi + 4 * v), vld1q_f32(at->s_hi + 4 * v)));
                        } else {
                            ac = vaddq_f32(ac, vmulq_f32(vld1q_f32(pr->m + 4 * v), vld1q_f32(at->s + 4 * v)));
                        }
                    }
                    acc[r0 + r][t0 + t].v[v] = ac;
                }
    }
}

INLINE void gemm_q_t(const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, int n_tok,
                     const bool g16, const bool has_min, int nrows, float *y, int64_t ys) {
    lanes16 acc[KROWS][KTOK];
    for (int r = 0; r < KROWS; r++)
        for (int t = 0; t < KTOK; t++)
            for (int v = 0; v < 4; v++) acc[r][t].v[v] = vdupq_n_f32(0.0f);
    for (int64_t c = 0; c < nch; c++) {
        const panel_chunk *p = panel + c * KROWS;
        const act_chunk *a[KTOK];
        for (int t = 0; t < n_tok; t++) a[t] = act + t * as + c;
        for (int r0 = 0; r0 < nrows; r0 += 2) {
            int t0 = 0;
            for (; t0 + 2 <= n_tok; t0 += 2) tile(p, a, 2, g16, has_min, acc, r0, t0);
            if (t0 < n_tok) tile(p, a, 1, g16, has_min, acc, r0, t0);
        }
    }
    for (int r = 0; r < nrows; r++)
        for (int t = 0; t < n_tok; t++) {
            const float32x4_t *v = acc[r][t].v;
            y[t * ys + r] = reduce16_4(v[0], v[1], v[2], v[3]);
        }
}

static void gemm_q(uint32_t type, const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, int n_tok,
                   int nrows, float *y, int64_t ys) {
    const qtype_desc *qt = qtype_get(type);
    if (qt->gran16 && qt->has_min) gemm_q_t(panel, nch, act, as, n_tok, true, true, nrows, y, ys);
    else if (qt->gran16) gemm_q_t(panel, nch, act, as, n_tok, true, false, nrows, y, ys);
    else if (qt->has_min) gemm_q_t(panel, nch, act, as, n_tok, false, true, nrows, y, ys);
    else gemm_q_t(panel, nch, act, as, n_tok, false, false, nrows, y, ys);
}

/* ---------------------------------------------------------------------------------------------------------
 * Float weights: one row x one token at a time, 16 lanes in four registers.
 * ------------------------------------------------------------------------------------------------------- */

INLINE float32x4_t load_w4(uint32_t type, const uint8_t *w, int64_t i) {
    if (type == T_F32) return vld1q_f32((const float *)w + i);
    const uint16x4_t h = vld1_u16((const uint16_t *)w + i);
    if (type == T_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); /* BF16: the top half of an f32 */
}

INLINE void gemm_f_t(uint32_t type, const uint8_t *w, uint64_t rb, int nrows, int64_t cols, const float *x, int64_t xs,
                     int n_tok, float *y, int64_t ys) {
    const int esz = type == T_F32 ? 4 : 2;
    for (int r = 0; r < nrows; r++)
        for (int t = 0; t < n_tok; t++) {
            const uint8_t *wr = w + (uint64_t)r * rb;
            const float *xt = x + t * xs;
            float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
            for (int64_t i = 0; i < cols; i += KLANES) {
                const uint8_t *wp = wr;
                const float *xp = xt + i;
                int64_t off = i;
                uint8_t wt[KLANES * 4] __attribute__((aligned(16)));
                float xtmp[KLANES] __attribute__((aligned(16)));
                if (cols - i < KLANES) { /* tail: zero-padded copies, missing elements count as 0 * 0 */
                    memset(wt, 0, sizeof wt);
                    memcpy(wt, wr + (size_t)i * esz, (size_t)(cols - i) * esz);
                    memset(xtmp, 0, sizeof xtmp);
                    memcpy(xtmp, xp, sizeof(float) * (size_t)(cols - i));
                    wp = wt, off = 0, xp = xtmp;
                }
                for (int v = 0; v < 4; v++)
                    acc[v] = vaddq_f32(acc[v], vmulq_f32(load_w4(type, wp, off + 4 * v), vld1q_f32(xp + 4 * v)));
            }
            y[t * ys + r] = reduce16_4(acc[0], acc[1], acc[2], acc[3]);
        }
}

static void gemm_f(uint32_t type, const uint8_t *w, uint64_t rb, int nrows, int64_t cols, const float *x, int64_t xs,
                   int n_tok, float *y, int64_t ys) {
    if (type == T_F32) gemm_f_t(T_F32, w, rb, nrows, cols, x, xs, n_tok, y, ys);
    else if (type == T_F16) gemm_f_t(T_F16, w, rb, nrows, cols, x, xs, n_tok, y, ys);
    else gemm_f_t(T_BF16, w, rb, nrows, cols, x, xs, n_tok, y, ys);
}

static void axpy_f(uint32_t type, const uint8_t *v, float a, float *acc, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(acc + i, vaddq_f32(vld1q_f32(acc + i), vmulq_n_f32(load_w4(type, v, i), a)));
    for (; i < n; i++) {
        const float w = type == T_F32 ? ((const float *)v)[i] : type == T_F16 ? fp16_to_f32(load_u16le(v + 2 * i))
                                                                               : bf16_to_f32(load_u16le(v + 2 * i));
        acc[i] = acc[i] + a * w;
    }
}

static const kernel_ops ops = {OPS_NAME, quantize_act, pack_row, gemm_q, gemm_f, axpy_f, NULL, NULL, portable_softcap, portable_glu};
const kernel_ops *ENTRY(void) { return &ops; }

#endif
