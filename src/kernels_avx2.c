/* kernels_avx2.c — AVX2 (+FMA CPUs, F16C) kernels; bit-identical to kernels_portable.c (kernels.h).
 * Built with AVX2 flags (Makefile) and only called after kernels.c has checked the CPU.
 *
 * Without VNNI, a 32-bit lane's 4-byte dot product is vpmaddubsw (unsigned x signed bytes -> pairs of 16-bit
 * sums) then vpmaddwd with ones. The pair sums saturate at 32767, so this takes the unsigned codes only where
 * they are below 64 (2 * 63 * 127 fits); Q8_0 keeps signed weights and uses |w| * sign(x, w) instead. A
 * 16-lane chunk row is two registers, so the kernel works on 2 rows x 2 tokens at a time and keeps the float
 * accumulators of the whole 4-row panel in memory. Float weights: exact conversion, vmulps + vaddps. */
#include <stddef.h>

#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "quant_blocks.h"
#include "types.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* kernels.h promises separately rounded multiplies and adds (FMA is enabled here) */
#endif

#define INLINE static inline __attribute__((always_inline))

/* 8 x 8 dwords: r[i] = row i -> out[k] = column k (unpack 32, unpack 64, swap 128-bit halves). */
INLINE void transpose8(const __m256i r[8], __m256i out[8]) {
    __m256i t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        out[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
        out[i + 4] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
    }
}

/* 16 blocks in element order (one register each) -> the [k][lane][4] layout. */
INLINE void transpose_store(const __m256i blk[16], void *dst) {
    __m256i *out = dst, lo[8], hi[8];
    transpose8(blk, lo);
    transpose8(blk + 8, hi);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        _mm256_store_si256(&out[2 * k], lo[k]);
        _mm256_store_si256(&out[2 * k + 1], hi[k]);
    }
}

/* reduce16 of the lanes a[0..7] (lo) and a[8..15] (hi). */
INLINE float reduce16_2(__m256 lo, __m256 hi) {
    __m256 r8 = _mm256_add_ps(lo, hi);
    __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(r8), _mm256_extractf128_ps(r8, 1));
    __m128 r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
    return _mm_cvtss_f32(_mm_add_ss(r2, _mm_shuffle_ps(r2, r2, 1)));
}

INLINE int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

INLINE uint32_t hmax_epu32(__m256i v) {
    __m128i s = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_max_epu32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_max_epu32(s, _mm_shuffle_epi32(s, 0xb1));
    return (uint32_t)_mm_cvtsi128_si32(s);
}

/* ---------------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------------- */

static void quantize_act(const float *x, int64_t cols, act_chunk *out) {
    const int64_t nblk = cols / KBLK;
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7); /* undo the packs' 128-bit interleave */
    for (int64_t c = 0; c * KLANES < nblk; c++) {
        act_chunk *o = &out[c];
        __m256i nat[16];
        for (int l = 0; l < KLANES; l++) {
            const int64_t b = c * KLANES + l;
            __m256i q = _mm256_setzero_si256();
            float d = 0.0f, s_lo = 0.0f, s_hi = 0.0f;
            int32_t n_lo = 0, n_hi = 0;
            if (b < nblk) {
                __m256 v[4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(x + b * KBLK + 8 * i);
                const __m256i m01 = _mm256_max_epu32(_mm256_and_si256(_mm256_castps_si256(v[0]), absmask),
                                                     _mm256_and_si256(_mm256_castps_si256(v[1]), absmask));
                const __m256i m23 = _mm256_max_epu32(_mm256_and_si256(_mm256_castps_si256(v[2]), absmask),
                                                     _mm256_and_si256(_mm256_castps_si256(v[3]), absmask));
                const uint32_t amax_bits = hmax_epu32(_mm256_max_epu32(m01, m23));
                float amax;
                memcpy(&amax, &amax_bits, 4);
                if (amax_bits >= 0x7f800000u) {
                    d = amax;
                } else if (amax >= 1e-30f) {
                    d = amax / 127.0f;
                    const __m256 id = _mm256_set1_ps(127.0f / amax);
                    __m256i i[4];
#pragma GCC unroll 4
                    for (int k = 0; k < 4; k++) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], id));
                    n_lo = hsum_epi32(_mm256_add_epi32(i[0], i[1]));
                    n_hi = hsum_epi32(_mm256_add_epi32(i[2], i[3]));
                    const __m256i w01 = _mm256_packs_epi32(i[0], i[1]), w23 = _mm256_packs_epi32(i[2], i[3]);
                    q = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(w01, w23), order);
                }
                s_lo = reduce16_2(v[0], v[1]);
                s_hi = reduce16_2(v[2], v[3]);
            }
            nat[l] = q;
            o->d[l] = d;
            o->s_lo[l] = s_lo;
            o->s_hi[l] = s_hi;
            o->s[l] = s_lo + s_hi;
            o->n_lo[l] = n_lo;
            o->n_hi[l] = n_hi;
        }
        transpose_store(nat, o->q);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Packing: one register of codes per block in element order, then transpose_store. Codes are unsigned
 * (bias = center) except Q8_0, which stays signed (bias 0) for the |w| * sign(x, w) product.
 * ------------------------------------------------------------------------------------------------------- */

INLINE __m256i nibbles(__m128i v) { /* [v & 15 | v >> 4 & 15] */
    return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1),
                            _mm256_set1_epi8(0x0F));
}

static void pack_q4_0(const uint8_t *row, int64_t c, panel_chunk *p) {
    const block_q4_0 *b = (const block_q4_0 *)row + c * KLANES;
    __m256i z[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        z[j] = nibbles(_mm_loadu_si128((const __m128i *)b[j].qs));
        p->d[j] = _cvtsh_ss(load_u16le(b[j].d));
    }
    transpose_store(z, p->q);
    memset(p->m, 0, sizeof p->m);
}

static void pack_q8_0(const uint8_t *row, int64_t c, panel_chunk *p) {
    const block_q8_0 *b = (const block_q8_0 *)row + c * KLANES;
    __m256i z[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        z[j] = _mm256_loadu_si256((const __m256i *)b[j].qs);
        p->d[j] = _cvtsh_ss(load_u16le(b[j].d));
    }
    transpose_store(z, p->q);
    memset(p->m, 0, sizeof p->m);
}

INLINE void k45_scales(const block_q4_K *b, float center, float *d, float *m) {
    const uint32_t u0 = load_u32le(b->scales), u1 = load_u32le(b->scales + 4), u2 = load_u32le(b->scales + 8);
    const uint64_t sc = (uint64_t)(u0 & 0x3f3f3f3fu) | (uint64_t)((u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4) << 32;
    const uint64_t mn = (uint64_t)(u1 & 0x3f3f3f3fu) | (uint64_t)(((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4) << 32;
    const __m256 dl = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(load_u16le(b->d))),
                                    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc))));
    const __m256 ml = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(load_u16le(b->dmin))),
                                    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mn))));
    _mm256_storeu_ps(d, dl);
    _mm256_storeu_ps(m, _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(center), dl), ml));
}

static void pack_q4_K(const uint8_t *row, int64_t c, panel_chunk *p) {
    const block_q4_K *b = (const block_q4_K *)row + 2 * c;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i z[16];
#pragma GCC unroll 2
    for (int s = 0; s < 2; s++) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(b[s].qs + 32 * g));
            z[8 * s + 2 * g] = _mm256_and_si256(v, m4);
            z[8 * s + 2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
        k45_scales(&b[s], 8.0f, p->d + 8 * s, p->m + 8 * s);
    }
    transpose_store(z, p->q);
}

static void pack_q5_K(const uint8_t *row, int64_t c, panel_chunk *p) {
    const block_q5_K *b = (const block_q5_K *)row + 2 * c;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256i z[16];
#pragma GCC unroll 2
    for (int s = 0; s < 2; s++) {
        const __m256i qh = _mm256_loadu_si256((const __m256i *)b[s].qh);
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(b[s].qs + 32 * g));
            const __m256i h0 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), one);
            const __m256i h1 = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g + 1)), one);
            z[8 * s + 2 * g] = _mm256_or_si256(_mm256_and_si256(v, m4), _mm256_slli_epi16(h0, 4));
            z[8 * s + 2 * g + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), _mm256_slli_epi16(h1, 4));
        }
        k45_scales((const block_q4_K *)&b[s], 16.0f, p->d + 8 * s, p->m + 8 * s);
    }
    transpose_store(z, p->q);
}

static void pack_q6_K(const uint8_t *row, int64_t c, panel_chunk *p) {
    const block_q6_K *b = (const block_q6_K *)row + 2 * c;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    __m256i z[16];
#pragma GCC unroll 2
    for (int s = 0; s < 2; s++) {
        const float dd = _cvtsh_ss(load_u16le(b[s].d));
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b[s].qh + 32 * h));
#pragma GCC unroll 2
            for (int sl = 0; sl < 2; sl++) {
                const __m256i ql = _mm256_loadu_si256((const __m256i *)(b[s].ql + 64 * h + 32 * sl));
#pragma GCC unroll 2
                for (int half = 0; half < 2; half++) {
                    /* block 4h + 2half + sl: nibble `half` of ql[64h + 32sl + l], bits 2(2half + sl) of qh[32h + l] */
                    const __m256i low = _mm256_and_si256(half ? _mm256_srli_epi16(ql, 4) : ql, m4);
                    const __m256i high = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * (2 * half + sl))), m2);
                    z[8 * s + 4 * h + 2 * half + sl] = _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
                }
            }
        }
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            p->d[8 * s + j] = dd * (float)b[s].scales[2 * j];
            p->d_hi[8 * s + j] = dd * (float)b[s].scales[2 * j + 1];
        }
    }
    transpose_store(z, p->q);
    memset(p->m, 0, sizeof p->m);
    memset(p->m_hi, 0, sizeof p->m_hi);
}

static void pack_row(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride) {
    void (*fast)(const uint8_t *, int64_t, panel_chunk *) = NULL;
    switch (type) {
    case T_Q4_0: fast = pack_q4_0; break;
    case T_Q8_0: fast = pack_q8_0; break;
    case T_Q4_K: fast = pack_q4_K; break;
    case T_Q5_K: fast = pack_q5_K; break;
    case T_Q6_K: fast = pack_q6_K; break;
    default: break;
    }
    const int bias = type == T_Q8_0 ? 0 : qtype_get(type)->center;
    if (!fast) {
        portable_pack_row(type, row, cols, out, stride, bias);
        return;
    }
    const type_traits *tt = type_get(type);
    const uint64_t chunk_bytes = type_row_bytes(tt, KCHUNK), row_bytes = type_row_bytes(tt, (uint64_t)cols);
    for (int64_t c = 0; c * KCHUNK < cols; c++) {
        panel_chunk *p = &out[c * stride];
        const int nblk = cols - c * KCHUNK >= KCHUNK ? KLANES : (int)((cols - c * KCHUNK) / KBLK);
        if (nblk == KLANES) {
            fast(row, c, p);
        } else {
            /* the last, partial chunk: unpack a zero-padded copy, then give the padding blocks what the portable
             * packer gives them (weight 0, scales 0) */
            uint8_t tmp[KLANES * sizeof(block_q8_0)]; /* the largest chunk of any fast type */
            memset(tmp, 0, sizeof tmp);
            memcpy(tmp, row + c * chunk_bytes, row_bytes - c * chunk_bytes);
            fast(tmp, 0, p);
            for (int l = nblk; l < KLANES; l++) {
                for (int k = 0; k < 8; k++) memset(p->q[k][l], bias, 4);
                p->d[l] = p->d_hi[l] = p->m[l] = p->m_hi[l] = 0.0f;
            }
        }
        if (type != T_Q6_K) memset(p->d_hi, 0, sizeof p->d_hi), memset(p->m_hi, 0, sizeof p->m_hi);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Integer product: tiles of 2 rows x NT (1 or 2) tokens; float accumulators of the 4 x 4 panel in memory.
 * ------------------------------------------------------------------------------------------------------- */

INLINE __m256i dot4(__m256i w, __m256i x, const bool sign_trick) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i pairs = sign_trick ? _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
                                     : _mm256_maddubs_epi16(w, x);
    return _mm256_madd_epi16(pairs, ones);
}

INLINE void tile(const panel_chunk *p, const act_chunk *const *a, const int NT, const bool g16, const bool has_min,
                 const bool sign_trick, const int cshift, __m256 acc[KROWS][KTOK][2], int r0, int t0) {
    /* lanes 0-7 and 8-15 of each row x token */
    __m256 part[2][2][2] = {{{_mm256_setzero_ps()}}};
    for (int half = 0; half < (g16 ? 2 : 1); half++) {
        __m256i s[2][2][2];
#pragma GCC unroll 2
        for (int t = 0; t < NT; t++)
#pragma GCC unroll 2
            for (int v = 0; v < 2; v++) {
                __m256i n = _mm256_setzero_si256();
                if (!sign_trick) {
                    const act_chunk *at = a[t0 + t];
                    n = g16 ? _mm256_load_si256((const __m256i *)((half ? at->n_hi : at->n_lo) + 8 * v))
                            : _mm256_add_epi32(_mm256_load_si256((const __m256i *)(at->n_lo + 8 * v)),
                                               _mm256_load_si256((const __m256i *)(at->n_hi + 8 * v)));
                    n = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(n, cshift));
                }
                s[0][t][v] = s[1][t][v] = n;
            }
        const int k0 = g16 ? 4 * half : 0, k1 = g16 ? k0 + 4 : 8;
        for (int k = k0; k < k1; k++) {
            __m256i w[2][2];
#pragma GCC unroll 2
            for (int r = 0; r < 2; r++)
#pragma GCC unroll 2
                for (int v = 0; v < 2; v++) w[r][v] = _mm256_load_si256((const __m256i *)p[r0 + r].q[k] + v);
#pragma GCC unroll 2
            for (int t = 0; t < NT; t++)
#pragma GCC unroll 2
                for (int v = 0; v < 2; v++) {
                    const __m256i xv = _mm256_load_si256((const __m256i *)a[t0 + t]->q[k] + v);
#pragma GCC unroll 2
                    for (int r = 0; r < 2; r++) s[r][t][v] = _mm256_add_epi32(s[r][t][v], dot4(w[r][v], xv, sign_trick));
                }
        }
#pragma GCC unroll 2
        for (int r = 0; r < 2; r++)
#pragma GCC unroll 2
            for (int t = 0; t < NT; t++)
#pragma GCC unroll 2
                for (int v = 0; v < 2; v++) {
                    const panel_chunk *pr = &p[r0 + r];
                    const act_chunk *at = a[t0 + t];
                    const __m256 d = _mm256_load_ps((g16 && half ? pr->d_hi : pr->d) + 8 * v);
                    const __m256 prod = _mm256_mul_ps(_mm256_cvtepi32_ps(s[r][t][v]), d);
                    if (g16 && !half) {
                        part[r][t][v] = prod;
                        continue;
                    }
                    const __m256 sum = g16 ? _mm256_add_ps(part[r][t][v], prod) : prod;
                    __m256 ac = acc[r0 + r][t0 + t][v];
                    ac = _mm256_add_ps(ac, _mm256_mul_ps(sum, _mm256_load_ps(at->d + 8 * v)));
                    if (has_min) {
                        if (g16) {
                            ac = _mm256_add_ps(ac, _mm256_mul_ps(_mm256_load_ps(pr->m + 8 * v), _mm256_load_ps(at->s_lo + 8 * v)));
                            ac = _mm256_add_ps(ac, _mm256_mul_ps(_mm256_load_ps(pr->m_hi + 8 * v), _mm256_load_ps(at->s_hi + 8 * v)));
                        } else {
                            ac = _mm256_add_ps(ac, _mm256_mul_ps(_mm256_load_ps(pr->m + 8 * v), _mm256_load_ps(at->s + 8 * v)));
                        }
                    }
                    acc[r0 + r][t0 + t][v] = ac;
                }
    }
}

INLINE void gemm_q_t(const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, int n_tok,
                     const bool g16, const bool has_min, const bool sign_trick, const int cshift, int nrows, float *y,
                     int64_t ys) {
    __m256 acc[KROWS][KTOK][2];
    for (int r = 0; r < KROWS; r++)
        for (int t = 0; t < KTOK; t++) acc[r][t][0] = acc[r][t][1] = _mm256_setzero_ps();
    for (int64_t c = 0; c < nch; c++) {
        const panel_chunk *p = panel + c * KROWS;
        const act_chunk *a[KTOK];
        for (int t = 0; t < n_tok; t++) a[t] = act + t * as + c;
        for (int r0 = 0; r0 < nrows; r0 += 2) {
            int t0 = 0;
            for (; t0 + 2 <= n_tok; t0 += 2) tile(p, a, 2, g16, has_min, sign_trick, cshift, acc, r0, t0);
            if (t0 < n_tok) tile(p, a, 1, g16, has_min, sign_trick, cshift, acc, r0, t0);
        }
    }
    for (int r = 0; r < nrows; r++)
        for (int t = 0; t < n_tok; t++) y[t * ys + r] = reduce16_2(acc[r][t][0], acc[r][t][1]);
}

static void gemm_q(uint32_t type, const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, int n_tok,
                   int nrows, float *y, int64_t ys) {
    const qtype_desc *qt = qtype_get(type);
    const int cs = qt->center_log2;
    if (type == T_Q8_0) gemm_q_t(panel, nch, act, as, n_tok, false, false, true, 0, nrows, y, ys);
    else if (qt->gran16 && qt->has_min) gemm_q_t(panel, nch, act, as, n_tok, true, true, false, cs, nrows, y, ys);
    else if (qt->gran16) gemm_q_t(panel, nch, act, as, n_tok, true, false, false, cs, nrows, y, ys);
    else if (qt->has_min) gemm_q_t(panel, nch, act, as, n_tok, false, true, false, cs, nrows, y, ys);
    else gemm_q_t(panel, nch, act, as, n_tok, false, false, false, cs, nrows, y, ys);
}

/* ---------------------------------------------------------------------------------------------------------
 * Float weights: 2 rows x 2 tokens at a time, 16 lanes as two registers.
 * ------------------------------------------------------------------------------------------------------- */

INLINE __m256 load_w8(uint32_t type, const uint8_t *w, int64_t i) {
    if (type == T_F32) return _mm256_loadu_ps((const float *)w + i);
    const __m128i h = _mm_loadu_si128((const __m128i *)(w + 2 * i));
    if (type == T_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

INLINE void gemm_f_tile(uint32_t type, const uint8_t *w, uint64_t rb, const int NR, int64_t cols, const float *x,
                        int64_t xs, const int NT, float *y, int64_t ys) {
    __m256 acc[2][2][2];
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) acc[r][t][0] = acc[r][t][1] = _mm256_setzero_ps();
    const int64_t full = cols / KLANES * KLANES;
    for (int64_t i = 0; i <= full; i += KLANES) {
        /* the tail group goes through zero-padded copies: missing elements count as 0 * 0 */
        const bool tail = i == full;
        if (tail && i == cols) break;
        uint8_t wt[2][KLANES * 4] __attribute__((aligned(32)));
        float xt[2][KLANES] __attribute__((aligned(32)));
        const int esz = type == T_F32 ? 4 : 2;
        __m256 wv[2][2];
#pragma GCC unroll 2
        for (int r = 0; r < NR; r++) {
            const uint8_t *src = w + r * rb;
            int64_t off = i;
            if (tail) {
                memset(wt[r], 0, sizeof wt[r]);
                memcpy(wt[r], src + (size_t)i * esz, (size_t)(cols - i) * esz);
                src = wt[r], off = 0;
            }
            wv[r][0] = load_w8(type, src, off);
            wv[r][1] = load_w8(type, src, off + 8);
        }
#pragma GCC unroll 2
        for (int t = 0; t < NT; t++) {
            const float *xp = x + t * xs + i;
            if (tail) {
                memset(xt[t], 0, sizeof xt[t]);
                memcpy(xt[t], xp, sizeof(float) * (size_t)(cols - i));
                xp = xt[t];
            }
#pragma GCC unroll 2
            for (int v = 0; v < 2; v++) {
                const __m256 xv = _mm256_loadu_ps(xp + 8 * v);
#pragma GCC unroll 2
                for (int r = 0; r < NR; r++) acc[r][t][v] = _mm256_add_ps(acc[r][t][v], _mm256_mul_ps(wv[r][v], xv));
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int t = 0; t < NT; t++) y[t * ys + r] = reduce16_2(acc[r][t][0], acc[r][t][1]);
}

INLINE void gemm_f_t(uint32_t type, const uint8_t *w, uint64_t rb, int nrows, int64_t cols, const float *x, int64_t xs,
                     int n_tok, float *y, int64_t ys) {
    for (int r = 0; r < nrows; r += 2) {
        const bool two_rows = r + 1 < nrows;
        for (int t = 0; t < n_tok; t += 2) {
            const bool two_toks = t + 1 < n_tok;
            const uint8_t *wr = w + (uint64_t)r * rb;
            const float *xt = x + t * xs;
            float *yt = y + t * ys + r;
            if (two_rows && two_toks) gemm_f_tile(type, wr, rb, 2, cols, xt, xs, 2, yt, ys);
            else if (two_rows) gemm_f_tile(type, wr, rb, 2, cols, xt, xs, 1, yt, ys);
            else if (two_toks) gemm_f_tile(type, wr, rb, 1, cols, xt, xs, 2, yt, ys);
            else gemm_f_tile(type, wr, rb, 1, cols, xt, xs, 1, yt, ys);
        }
    }
}

static void gemm_f(uint32_t type, const uint8_t *w, uint64_t rb, int nrows, int64_t cols, const float *x, int64_t xs,
                   int n_tok, float *y, int64_t ys) {
    if (type == T_F32) gemm_f_t(T_F32, w, rb, nrows, cols, x, xs, n_tok, y, ys);
    else if (type == T_F16) gemm_f_t(T_F16, w, rb, nrows, cols, x, xs, n_tok, y, ys);
    else gemm_f_t(T_BF16, w, rb, nrows, cols, x, xs, n_tok, y, ys);
}

static void axpy_f(uint32_t type, const uint8_t *v, float a, float *acc, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(acc + i, _mm256_add_ps(_mm256_loadu_ps(acc + i), _mm256_mul_ps(av, load_w8(type, v, i))));
    for (; i < n; i++) {
        const float w = type == T_F32 ? ((const float *)v)[i] : type == T_F16 ? _cvtsh_ss(load_u16le(v + 2 * i))
                                                                               : bf16_to_f32(load_u16le(v + 2 * i));
        acc[i] = acc[i] + a * w;
    }
}

static const kernel_ops ops = {"avx2", quantize_act, pack_row, gemm_q, gemm_f, axpy_f, NULL, NULL, portable_softcap, portable_glu};
const kernel_ops *kernels_avx2(void) { return &ops; }

#endif
