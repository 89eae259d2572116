/* kernels_avx512.c — AVX-512 (F, BW, DQ, VL) + VNNI kernels; bit-identical to kernels_portable.c (kernels.h).
 * Built with AVX-512 flags (Makefile) and only called after kernels.c has checked the CPU.
 *
 * Integer dot products: vpdpbusd multiplies unsigned bytes by signed bytes, so weights are packed as their
 * unsigned codes (bias = center) and each accumulator starts at -center * sum(q), which makes the lane sums
 * exactly those of the signed weights. The packed layout gives one lane per block, so 8 vpdpbusd finish 16
 * blocks and the float work is 3-4 operations per 16 blocks. The kernel runs 4 rows x 2 tokens per step
 * (8 integer and 8 float accumulators, 4 weight registers) over a 4-row x 4-token tile. Float weights:
 * converted exactly to f32, separate vmulps + vaddps (no fused multiply-add, so results stay identical). */
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

/* ---------------------------------------------------------------------------------------------------------
 * Transpose: 16 blocks x 8 dwords (two blocks per register, in element order) -> 8 registers, one per dword
 * position k, lane l = block l. Three rounds of two-source permutes; each round halves the run length.
 * ------------------------------------------------------------------------------------------------------- */

static const int32_t tr_idx[6][16] = {
    /* round 1: rows 4p..4p+3 of two registers (2 rows each) -> [col c][row 0..3], c = 0..3 or 4..7 */
    {0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27},
    {4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31},
    /* round 2: two [col][4 rows] registers -> [col cc][rows 0..7], cc = first or second column pair */
    {0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23},
    {8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31},
    /* round 3: two [col][8 rows] registers -> one column of 16 rows */
    {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
    {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
};

INLINE void transpose(const __m512i z[8], __m512i out[8]) {
    const __m512i i0 = _mm512_loadu_si512(tr_idx[0]), i1 = _mm512_loadu_si512(tr_idx[1]);
    const __m512i i2 = _mm512_loadu_si512(tr_idx[2]), i3 = _mm512_loadu_si512(tr_idx[3]);
    const __m512i i4 = _mm512_loadu_si512(tr_idx[4]), i5 = _mm512_loadu_si512(tr_idx[5]);
    __m512i a[4][2], b[2][2][2];
    #pragma GCC unroll 8
    for (int p = 0; p < 4; p++) {
        a[p][0] = _mm512_permutex2var_epi32(z[2 * p], i0, z[2 * p + 1]);
        a[p][1] = _mm512_permutex2var_epi32(z[2 * p], i1, z[2 * p + 1]);
    }
    #pragma GCC unroll 8
    for (int q = 0; q < 2; q++)
        #pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            b[q][h][0] = _mm512_permutex2var_epi32(a[2 * q][h], i2, a[2 * q + 1][h]);
            b[q][h][1] = _mm512_permutex2var_epi32(a[2 * q][h], i3, a[2 * q + 1][h]);
        }
    #pragma GCC unroll 8
    for (int h = 0; h < 2; h++)
        #pragma GCC unroll 8
        for (int g = 0; g < 2; g++) {
            out[4 * h + 2 * g] = _mm512_permutex2var_epi32(b[0][h][g], i4, b[1][h][g]);
            out[4 * h + 2 * g + 1] = _mm512_permutex2var_epi32(b[0][h][g], i5, b[1][h][g]);
        }
}

INLINE void transpose_store(const __m512i z[8], void *dst) {
    __m512i t[8];
    transpose(z, t);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) _mm512_store_si512((__m512i *)dst + k, t[k]);
}

/* The float sum a[i] += a[i+8], += a[i+4], += a[i+2], a[0] + a[1] (kernels.h's reduce16). */
INLINE float reduce16_ps(__m512 v) {
    __m256 r8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(r8), _mm256_extractf128_ps(r8, 1));
    __m128 r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
    return _mm_cvtss_f32(_mm_add_ss(r2, _mm_shuffle_ps(r2, r2, 1)));
}

/* ---------------------------------------------------------------------------------------------------------
 * Activations
 * ------------------------------------------------------------------------------------------------------- */

static void quantize_act(const float *x, int64_t cols, act_chunk *out) {
    const int64_t nblk = cols / KBLK;
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    for (int64_t c = 0; c * KLANES < nblk; c++) {
        act_chunk *o = &out[c];
        __m512i nat[8];
        for (int l = 0; l < KLANES; l++) {
            const int64_t b = c * KLANES + l;
            __m128i q_lo = _mm_setzero_si128(), q_hi = _mm_setzero_si128();
            float d = 0.0f, s_lo = 0.0f, s_hi = 0.0f;
            int32_t n_lo = 0, n_hi = 0;
            if (b < nblk) {
                const __m512 x0 = _mm512_loadu_ps(x + b * KBLK), x1 = _mm512_loadu_ps(x + b * KBLK + 16);
                const uint32_t amax_bits = (uint32_t)_mm512_reduce_max_epu32(_mm512_max_epu32(
                    _mm512_and_si512(_mm512_castps_si512(x0), absmask), _mm512_and_si512(_mm512_castps_si512(x1), absmask)));
                float amax;
                memcpy(&amax, &amax_bits, 4);
                if (amax_bits >= 0x7f800000u) {
                    d = amax;
                } else if (amax >= 1e-30f) {
                    d = amax / 127.0f;
                    const __m512 id = _mm512_set1_ps(127.0f / amax);
                    const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, id));
                    const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, id));
                    n_lo = _mm512_reduce_add_epi32(i0);
                    n_hi = _mm512_reduce_add_epi32(i1);
                    q_lo = _mm512_cvtepi32_epi8(i0);
                    q_hi = _mm512_cvtepi32_epi8(i1);
                }
                s_lo = reduce16_ps(x0);
                s_hi = reduce16_ps(x1);
            }
            const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(q_lo), q_hi, 1);
            if (l % 2) nat[l / 2] = _mm512_inserti64x4(nat[l / 2], q, 1);
            else nat[l / 2] = _mm512_zextsi256_si512(q);
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
 * Packing the common types. Each packer fills a whole panel_chunk (zeros included) with the unsigned codes in
 * the [k][lane][4] layout: Q4_0, Q4_K and Q5_K gather dword positions straight from the block bytes, Q6_K
 * and Q8_0 unpack two blocks per register in element order and go through transpose_store. Scales follow the
 * portable unpackers exactly (products of a half-precision scale and a small integer are exact in float, so
 * only the min's subtraction rounds).
 * ------------------------------------------------------------------------------------------------------- */

/* One unpacked chunk still in registers: panel_chunk's fields before they are stored. The unpackers fill it;
 * pack_row stores it, and gemv_q (decode) feeds it straight to vpdpbusd without the round trip to memory. */
typedef struct {
    __m512i q[8];
    __m512 d, d_hi, m, m_hi;
} chunk_regs;

INLINE void store_chunk(const chunk_regs *u, panel_chunk *p) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) _mm512_store_si512(p->q[k], u->q[k]);
    _mm512_store_ps(p->d, u->d);
    _mm512_store_ps(p->d_hi, u->d_hi);
    _mm512_store_ps(p->m, u->m);
    _mm512_store_ps(p->m_hi, u->m_hi);
}

/* The half-precision scales of 16 consecutive blocks (`size` bytes apart, the scale first in each block), as
 * floats in one register: a gather of the dwords that start at each scale, truncated to their low (little-
 * endian first) 16 bits. The dword stays inside its block. */
INLINE __m512 block_scales(const uint8_t *d0, size_t size) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)size));
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(idx, d0, 1)));
}

/* Q4_0: dword i (0-3) of a block's 16 bytes holds elements 4i..4i+3 (low nibbles) and 16+4i.. (high), so a
 * 16 x 4 dword transpose of the chunk's 16 blocks gives dword positions k = i and k = i + 4 at once. */
static const int32_t q40_gather[4][16] = {
    /* round 1, from (blocks 0-3, blocks 4-7) or (8-11, 12-15), one block per 128-bit lane:
     * lane 8i'+b = dword i (i = i' or 2 + i') of block b */
    {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29},
    {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31},
    /* round 2: dword i of blocks 0-7 and of blocks 8-15 */
    {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
    {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31},
};

INLINE void unpack_q4_0(const uint8_t *row, int64_t c, chunk_regs *u) {
    const block_q4_0 *b = (const block_q4_0 *)row + c * KLANES;
    __m512i z[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)b[4 * q].qs));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)b[4 * q + 1].qs), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)b[4 * q + 2].qs), 2);
        z[q] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)b[4 * q + 3].qs), 3);
    }
    const __m512i g0 = _mm512_loadu_si512(q40_gather[0]), g1 = _mm512_loadu_si512(q40_gather[1]);
    const __m512i g2 = _mm512_loadu_si512(q40_gather[2]), g3 = _mm512_loadu_si512(q40_gather[3]);
    const __m512i pl[2] = {_mm512_permutex2var_epi32(z[0], g0, z[1]), _mm512_permutex2var_epi32(z[0], g1, z[1])};
    const __m512i ph[2] = {_mm512_permutex2var_epi32(z[2], g0, z[3]), _mm512_permutex2var_epi32(z[2], g1, z[3])};
    const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        const __m512i v = _mm512_permutex2var_epi32(pl[i / 2], i % 2 ? g3 : g2, ph[i / 2]);
        u->q[i] = _mm512_and_si512(v, m4);
        u->q[i + 4] = _mm512_and_si512(_mm512_srli_epi32(v, 4), m4);
    }
    u->d = block_scales(b[0].d, sizeof *b);
    u->m = u->d_hi = u->m_hi = _mm512_setzero_ps();
}

INLINE void unpack_q8_0(const uint8_t *row, int64_t c, chunk_regs *u) {
    const block_q8_0 *b = (const block_q8_0 *)row + c * KLANES;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m512i z[8];
    #pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
        const __m256i a = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b[2 * j].qs), flip);
        const __m256i e = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b[2 * j + 1].qs), flip);
        z[j] = _mm512_inserti64x4(_mm512_castsi256_si512(a), e, 1);
    }
    transpose(z, u->q);
    u->d = block_scales(b[0].d, sizeof *b);
    u->m = u->d_hi = u->m_hi = _mm512_setzero_ps();
}

/* Q4_K / Q5_K scales and mins of a chunk's two super-blocks, 6 bits each packed in 12 bytes (k4_scale_min):
 * with u0, u1, u2 the three little-endian words, scales 0-3 = u0 & 63 (per byte), mins 0-3 = u1 & 63,
 * scales 4-7 = (u2 & 15) | (u0 >> 6) << 4, mins 4-7 = (u2 >> 4 & 15) | (u1 >> 6) << 4. */
INLINE void k45_scales(const block_q4_K *b0, const block_q4_K *b1, float center, chunk_regs *u) {
    /* The first 16 bytes of each super-block (d, dmin, the 12 scale bytes s[0..11] at 4..15), one per 128-bit
     * lane; all in vector registers (scalar extraction and moves into vectors cost more than the rest of the
     * chunk). Per lane, byte k of the result is scale k (k < 8) or min k - 8, built from
     *   A: s[k] & 63 (k < 4), s[k+4] & 15 (4..7), s[k-4] & 63 (8..11), s[k-4] >> 4 (12..15)
     *   B: the two high bits, (s[k-4] >> 6) << 4 (4..7) and (s[k-8] >> 6) << 4 (12..15). */
    const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)b0)),
                                                _mm_loadu_si128((const __m128i *)b1), 1);
    const __m256i ia = _mm256_broadcastsi128_si256(_mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m256i ib = _mm256_broadcastsi128_si256(_mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
    const __m256i m_lo = _mm256_broadcastsi128_si256(_mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    const __m256i m_hi = _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    const __m256i A = _mm256_shuffle_epi8(raw, ia), B = _mm256_shuffle_epi8(raw, ib);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(A, m_lo), _mm256_and_si256(_mm256_srli_epi16(A, 4), m_hi));
    const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(B, 6), _mm256_set1_epi8(3)), 4);
    /* qwords (scales 0, mins 0, scales 1, mins 1) -> (scales 0, scales 1, mins 0, mins 1) */
    const __m256i sm = _mm256_permute4x64_epi64(_mm256_or_si256(lo, hi), 0xD8);
    /* d0, dmin0, d1, dmin1 as floats, spread to the 8 lanes of each super-block */
    const __m128 dd = _mm_cvtph_ps(_mm_unpacklo_epi32(_mm256_castsi256_si128(raw), _mm256_extracti128_si256(raw, 1)));
    const __m512 d4 = _mm512_castps128_ps512(dd);
    const __m512 d = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2), d4);
    const __m512 dmin = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3), d4);
    const __m512 dl = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(sm))));
    const __m512 ml = _mm512_mul_ps(dmin, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(sm, 1))));
    u->d = dl;
    u->m = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(center), dl), ml);
    u->d_hi = u->m_hi = _mm512_setzero_ps();
}

/* Q4_K skips the generic transpose: its 4-bit codes are already grouped by dword position k (group g of a
 * super-block holds dword k of blocks 2g and 2g+1 as low and high nibbles), so two rounds of permutes gather
 * dword k of all 16 blocks (each dword twice, for the two nibbles), and a masked shift picks the nibble. */
static const int32_t q4k_gather[6][16] = {
    /* round 1: from (A of super-block 0, A of super-block 1), A = groups 0,1 (or B = groups 2,3):
     * lane 4k'+j = dword k' (+4 for the second table) of group j%2 of super-block j/2 */
    {0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27},
    {4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31},
    /* round 2, per k' = 0..3: lane l = block l (super-block l/8, group (l%8)/2) from (X, Y) */
    {0, 0, 1, 1, 16, 16, 17, 17, 2, 2, 3, 3, 18, 18, 19, 19},
    {4, 4, 5, 5, 20, 20, 21, 21, 6, 6, 7, 7, 22, 22, 23, 23},
    {8, 8, 9, 9, 24, 24, 25, 25, 10, 10, 11, 11, 26, 26, 27, 27},
    {12, 12, 13, 13, 28, 28, 29, 29, 14, 14, 15, 15, 30, 30, 31, 31},
};

/* high_x16: the odd lanes (high nibbles) are masked in place instead of shifted down, one operation per
 * register fewer; their codes, and so their vpdpbusd sums, come out exactly 16 times too large (a block's
 * sum is at most 32 x 240 x 128 in magnitude), and decode (gemv_q_t) shifts the sums back once per chunk.
 * The panel packer needs true codes (gemm_q). */
INLINE void unpack_q4_K_nibbles(const uint8_t *row, int64_t c, chunk_regs *u, const bool high_x16) {
    const block_q4_K *b = (const block_q4_K *)row + 2 * c;
    const __m512i a0 = _mm512_loadu_si512(b[0].qs), b0 = _mm512_loadu_si512(b[0].qs + 64);
    const __m512i a1 = _mm512_loadu_si512(b[1].qs), b1 = _mm512_loadu_si512(b[1].qs + 64);
    const __m512i i0 = _mm512_loadu_si512(q4k_gather[0]), i1 = _mm512_loadu_si512(q4k_gather[1]);
    const __m512i x[2] = {_mm512_permutex2var_epi32(a0, i0, a1), _mm512_permutex2var_epi32(a0, i1, a1)};
    const __m512i y[2] = {_mm512_permutex2var_epi32(b0, i0, b1), _mm512_permutex2var_epi32(b0, i1, b1)};
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i nib = _mm512_mask_set1_epi32(m4, (__mmask16)0xAAAA, (int)0xF0F0F0F0u); /* odd lanes: high */
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        const __m512i v = _mm512_permutex2var_epi32(x[k / 4], _mm512_loadu_si512(q4k_gather[2 + k % 4]), y[k / 4]);
        /* odd lanes are the odd blocks: the high nibbles */
        u->q[k] = high_x16 ? _mm512_and_si512(v, nib)
                           : _mm512_and_si512(_mm512_mask_srli_epi32(v, (__mmask16)0xAAAA, v, 4), m4);
    }
    k45_scales(&b[0], &b[1], 8.0f, u);
}

INLINE void unpack_q4_K(const uint8_t *row, int64_t c, chunk_regs *u) { unpack_q4_K_nibbles(row, c, u, false); }

/* Q5_K: Q4_K's gather for the low 4 bits; the fifth bit of element 4k+i of block j is bit j of qh[4k+i], so
 * dword k of qh (one per super-block, broadcast to its 8 lanes) shifted right by j brings it to bit 0 of
 * each byte. */
INLINE void unpack_q5_K(const uint8_t *row, int64_t c, chunk_regs *u) {
    const block_q5_K *b = (const block_q5_K *)row + 2 * c;
    const __m512i a0 = _mm512_loadu_si512(b[0].qs), b0 = _mm512_loadu_si512(b[0].qs + 64);
    const __m512i a1 = _mm512_loadu_si512(b[1].qs), b1 = _mm512_loadu_si512(b[1].qs + 64);
    const __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)b[0].qh)),
                                          _mm256_loadu_si256((const __m256i *)b[1].qh), 1);
    const __m512i i0 = _mm512_loadu_si512(q4k_gather[0]), i1 = _mm512_loadu_si512(q4k_gather[1]);
    const __m512i x[2] = {_mm512_permutex2var_epi32(a0, i0, a1), _mm512_permutex2var_epi32(a0, i1, a1)};
    const __m512i y[2] = {_mm512_permutex2var_epi32(b0, i0, b1), _mm512_permutex2var_epi32(b0, i1, b1)};
    const __m512i m4 = _mm512_set1_epi8(0x0F), one = _mm512_set1_epi8(1);
    const __m512i jshift = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
        const __m512i v = _mm512_permutex2var_epi32(x[k / 4], _mm512_loadu_si512(q4k_gather[2 + k % 4]), y[k / 4]);
        const __m512i low = _mm512_and_si512(_mm512_mask_srli_epi32(v, (__mmask16)0xAAAA, v, 4), m4);
        const __m512i h = _mm512_permutexvar_epi32(_mm512_setr_epi32(k, k, k, k, k, k, k, k, 8 + k, 8 + k, 8 + k, 8 + k,
                                                                     8 + k, 8 + k, 8 + k, 8 + k), qh);
        const __m512i high = _mm512_and_si512(_mm512_srlv_epi32(h, jshift), one);
        u->q[k] = _mm512_or_si512(low, _mm512_slli_epi32(high, 4));
    }
    k45_scales((const block_q4_K *)&b[0], (const block_q4_K *)&b[1], 16.0f, u);
}

INLINE void unpack_q6_K(const uint8_t *row, int64_t c, chunk_regs *u) {
    const block_q6_K *b = (const block_q6_K *)row + 2 * c;
    const __m512i bits45 = _mm512_set1_epi8(0x30);
    /* qh's bit pair p (0, 2, 4, 6) moved to bits 4-5 of its byte: left by 4 - p or right by p - 4 (16-bit
     * shifts; what crosses from the neighbouring byte lands outside bits 4-5 and is masked off) */
    const __m512i up = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);   /* pairs 0, 2 */
    const __m512i down = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1); /* pairs 4, 6 */
    __m512i z[8];
    __m128i sc[2];
    #pragma GCC unroll 8
    for (int s = 0; s < 2; s++) {
        #pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            const __m512i ql = _mm512_loadu_si512(b[s].ql + 64 * h);
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b[s].qh + 32 * h));
            const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
            #pragma GCC unroll 8
            for (int half = 0; half < 2; half++) {
                /* blocks 4h+2half (+0, +1): nibble `half` of ql (low 4 bits), bit pair 2*half (+0, +1) of qh
                 * (bits 4-5): (low & 0x0F) | high in one ternary-logic operation */
                const __m512i low = half ? _mm512_srli_epi16(ql, 4) : ql;
                const __m512i high = _mm512_and_si512(half ? _mm512_srlv_epi16(qh2, down) : _mm512_sllv_epi16(qh2, up), bits45);
                z[4 * s + 2 * h + half] = _mm512_ternarylogic_epi32(low, high, _mm512_set1_epi8(0x0F), 0xEC);
            }
        }
        /* 16 signed scales -> even (first halves) in bytes 0-7, odd in 8-15 */
        sc[s] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)b[s].scales),
                                 _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
    }
    transpose(z, u->q);
    const __m512 dd = _mm512_insertf32x8(_mm512_set1_ps(_cvtsh_ss(load_u16le(b[0].d))),
                                         _mm256_set1_ps(_cvtsh_ss(load_u16le(b[1].d))), 1);
    const __m512 even = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_unpacklo_epi64(sc[0], sc[1])));
    const __m512 odd = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_unpackhi_epi64(sc[0], sc[1])));
    u->d = _mm512_mul_ps(dd, even);
    u->d_hi = _mm512_mul_ps(dd, odd);
    u->m = u->m_hi = _mm512_setzero_ps();
}

#define PACK_FROM_UNPACK(T)                                                                                      \
    static void pack_##T(const uint8_t *row, int64_t c, panel_chunk *p) {                                        \
        chunk_regs u;                                                                                            \
        unpack_##T(row, c, &u);                                                                                  \
        store_chunk(&u, p);                                                                                      \
    }
PACK_FROM_UNPACK(q4_0)
PACK_FROM_UNPACK(q8_0)
PACK_FROM_UNPACK(q4_K)
PACK_FROM_UNPACK(q5_K)
PACK_FROM_UNPACK(q6_K)

typedef void (*pack_fn)(const uint8_t *, int64_t, panel_chunk *);

static pack_fn fast_packer(uint32_t type) {
    switch (type) {
    case T_Q4_0: return pack_q4_0;
    case T_Q8_0: return pack_q8_0;
    case T_Q4_K: return pack_q4_K;
    case T_Q5_K: return pack_q5_K;
    case T_Q6_K: return pack_q6_K;
    default: return NULL;
    }
}

/* Bytes of KCHUNK weights of a fast type (16 blocks or 2 super-blocks): type_row_bytes(type_get(type), KCHUNK),
 * but a constant where the type is, so gemv_q_t's prefetch loop unrolls (through the type table, long rows
 * ran 1-10 % slower in three alternating kernels_bench pairs). */
INLINE int chunk_bytes_of(uint32_t type) {
    switch (type) {
    case T_Q4_0: return KLANES * (int)sizeof(block_q4_0);
    case T_Q8_0: return KLANES * (int)sizeof(block_q8_0);
    case T_Q4_K: return 2 * (int)sizeof(block_q4_K);
    case T_Q5_K: return 2 * (int)sizeof(block_q5_K);
    default: return 2 * (int)sizeof(block_q6_K);
    }
}

/* The largest chunk of any fast type. */
#define TAIL_BYTES (KLANES * sizeof(block_q8_0))

/* The last, partial chunk c of a row of a fast type, copied into a zeroed full chunk (TAIL_BYTES). */
INLINE void tail_copy(uint32_t type, const uint8_t *row, int64_t cols, int64_t c, uint8_t *tmp) {
    const uint64_t chunk_bytes = (uint64_t)chunk_bytes_of(type), row_bytes = type_row_bytes(type_get(type), (uint64_t)cols);
    memset(tmp, 0, TAIL_BYTES);
    memcpy(tmp, row + c * chunk_bytes, row_bytes - c * chunk_bytes);
}

/* The last, partial chunk c of a row of a fast type: unpack a zero-padded copy, then give the padding blocks
 * what the portable packer gives them (weight 0, scales 0). */
static void pack_tail(pack_fn fast, uint32_t type, const uint8_t *row, int64_t cols, int64_t c, panel_chunk *p) {
    const int nblk = (int)((cols - c * KCHUNK) / KBLK), bias = qtype_get(type)->center;
    uint8_t tmp[TAIL_BYTES];
    tail_copy(type, row, cols, c, tmp);
    fast(tmp, 0, p);
    for (int l = nblk; l < KLANES; l++) {
        for (int k = 0; k < 8; k++) memset(p->q[k][l], bias, 4);
        p->d[l] = p->d_hi[l] = p->m[l] = p->m_hi[l] = 0.0f;
    }
}

static void pack_row(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride) {
    const pack_fn fast = fast_packer(type);
    if (!fast) {
        portable_pack_row(type, row, cols, out, stride, qtype_get(type)->center);
        return;
    }
    for (int64_t c = 0; c * KCHUNK < cols; c++) {
        if (cols - c * KCHUNK >= KCHUNK) fast(row, c, &out[c * stride]);
        else pack_tail(fast, type, row, cols, c, &out[c * stride]);
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Integer product: KROWS rows x T tokens per call, chunk by chunk.
 * ------------------------------------------------------------------------------------------------------- */

/* One chunk of R rows x NT tokens (tokens t0..t0+NT-1) folded into acc. */
INLINE void gemm_q_chunk(const panel_chunk *p, const act_chunk *const *a, const int NT, const bool g16,
                         const bool has_min, const int cshift, __m512 acc[KROWS][KTOK], const int t0) {
    __m512 part[KROWS][2]; /* 16-element types: the first halves' products */
    for (int half = 0; half < (g16 ? 2 : 1); half++) {
        __m512i s[KROWS][2];
#pragma GCC unroll 2
        for (int t = 0; t < NT; t++) {
            /* start at -center * sum(q): the sums of unsigned codes become sums of signed weights */
            __m512i n = g16 ? _mm512_load_si512(half ? a[t0 + t]->n_hi : a[t0 + t]->n_lo)
                            : _mm512_add_epi32(_mm512_load_si512(a[t0 + t]->n_lo), _mm512_load_si512(a[t0 + t]->n_hi));
            n = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(n, (unsigned)cshift));
#pragma GCC unroll 4
            for (int r = 0; r < KROWS; r++) s[r][t] = n;
        }
        const int k0 = g16 ? 4 * half : 0, k1 = g16 ? k0 + 4 : 8;
#pragma GCC unroll 8
        for (int k = k0; k < k1; k++) {
            __m512i w[KROWS];
#pragma GCC unroll 4
            for (int r = 0; r < KROWS; r++) w[r] = _mm512_load_si512(p[r].q[k]);
#pragma GCC unroll 2
            for (int t = 0; t < NT; t++) {
                const __m512i xv = _mm512_load_si512(a[t0 + t]->q[k]);
#pragma GCC unroll 4
                for (int r = 0; r < KROWS; r++) s[r][t] = _mm512_dpbusd_epi32(s[r][t], w[r], xv);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < KROWS; r++) {
            const __m512 d = _mm512_load_ps(g16 && half ? p[r].d_hi : p[r].d);
#pragma GCC unroll 2
            for (int t = 0; t < NT; t++) {
                const act_chunk *at = a[t0 + t];
                const __m512 prod = _mm512_mul_ps(_mm512_cvtepi32_ps(s[r][t]), d);
                if (g16 && !half) {
                    part[r][t] = prod;
                    continue;
                }
                const __m512 sum = g16 ? _mm512_add_ps(part[r][t], prod) : prod;
                __m512 ac = _mm512_add_ps(acc[r][t0 + t], _mm512_mul_ps(sum, _mm512_load_ps(at->d)));
                if (has_min) {
                    if (g16) {
                        ac = _mm512_add_ps(ac, _mm512_mul_ps(_mm512_load_ps(p[r].m), _mm512_load_ps(at->s_lo)));
                        ac = _mm512_add_ps(ac, _mm512_mul_ps(_mm512_load_ps(p[r].m_hi), _mm512_load_ps(at->s_hi)));
                    } else {
                        ac = _mm512_add_ps(ac, _mm512_mul_ps(_mm512_load_ps(p[r].m), _mm512_load_ps(at->s)));
                    }
                }
                acc[r][t0 + t] = ac;
            }
        }
    }
}

/* KROWS rows x T (1-4) tokens, chunk by chunk: each chunk of the panel is read once for all T tokens, their
 * sums taken two tokens at a time (gemm_q_chunk), so each lane's sum runs over the chunks in order. */
INLINE void gemm_q_sweep(const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, const int T,
                         const bool g16, const bool has_min, const int cshift, int nrows, float *y, int64_t ys) {
    __m512 acc[KROWS][KTOK];
#pragma GCC unroll 4
    for (int r = 0; r < KROWS; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t c = 0; c < nch; c++) {
        const panel_chunk *p = panel + c * KROWS;
        const act_chunk *a[KTOK];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) a[t] = act + t * as + c;
        if (T >= 2) gemm_q_chunk(p, a, 2, g16, has_min, cshift, acc, 0);
        if (T == 4) gemm_q_chunk(p, a, 2, g16, has_min, cshift, acc, 2);
        if (T == 1 || T == 3) gemm_q_chunk(p, a, 1, g16, has_min, cshift, acc, T - 1);
    }
    for (int r = 0; r < nrows; r++)
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) y[t * ys + r] = reduce16_ps(acc[r][t]);
}

/* KROWS rows x T tokens. A panel that stays in L1 (up to 8 chunks, 24 KB) is swept once per two tokens,
 * everything in registers (8 integer and 8 float accumulators, the 4 rows' weights and a token's
 * activations fit the 32 registers; four tokens at once would spill); a longer one is swept once for all T
 * tokens, so that it is read once. Either way the same result. */
INLINE void gemm_q_t(const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, const int T,
                     const bool g16, const bool has_min, const int cshift, int nrows, float *y, int64_t ys) {
    if (nch > 8) {
        gemm_q_sweep(panel, nch, act, as, T, g16, has_min, cshift, nrows, y, ys);
        return;
    }
    if (T >= 2) gemm_q_sweep(panel, nch, act, as, 2, g16, has_min, cshift, nrows, y, ys);
    if (T == 4) gemm_q_sweep(panel, nch, act + 2 * as, as, 2, g16, has_min, cshift, nrows, y + 2 * ys, ys);
    if (T == 1 || T == 3)
        gemm_q_sweep(panel, nch, act + (T - 1) * as, as, 1, g16, has_min, cshift, nrows, y + (T - 1) * ys, ys);
}

#define GEMM_Q_CASES(G16, MIN)                                                                                    \
    switch (n_tok) {                                                                                              \
    case 1: gemm_q_t(panel, nch, act, as, 1, G16, MIN, cs, nrows, y, ys); break;                                 \
    case 2: gemm_q_t(panel, nch, act, as, 2, G16, MIN, cs, nrows, y, ys); break;                                 \
    case 3: gemm_q_t(panel, nch, act, as, 3, G16, MIN, cs, nrows, y, ys); break;                                 \
    default: gemm_q_t(panel, nch, act, as, 4, G16, MIN, cs, nrows, y, ys); break;                                \
    }

static void gemm_q(uint32_t type, const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t as, int n_tok,
                   int nrows, float *y, int64_t ys) {
    const qtype_desc *qt = qtype_get(type);
    const int cs = qt->center_log2;
    if (qt->gran16) {
        if (qt->has_min) GEMM_Q_CASES(true, true) else GEMM_Q_CASES(true, false)
    } else {
        if (qt->has_min) GEMM_Q_CASES(false, true) else GEMM_Q_CASES(false, false)
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Decode (one token): one row at a time, each chunk unpacked into registers and consumed at once. With a
 * single token, a packed panel is used once, so writing it out and reading it back (pack_row + gemm_q) costs
 * more than the product itself. The integer sums are split over two chains and Q4_K's high nibbles are
 * summed 16 times too large and shifted back (integers, exact, so neither changes a bit of the result); the
 * float fold is gemm_q_chunk's for one row and one token, operation for operation.
 * ------------------------------------------------------------------------------------------------------- */

INLINE void unpack_fast(const uint32_t type, const uint8_t *row, int64_t c, chunk_regs *u) {
    switch (type) {
    case T_Q4_0: unpack_q4_0(row, c, u); break;
    case T_Q8_0: unpack_q8_0(row, c, u); break;
    case T_Q4_K: unpack_q4_K_nibbles(row, c, u, true); break; /* odd lanes x16 */
    case T_Q5_K: unpack_q5_K(row, c, u); break;
    default: unpack_q6_K(row, c, u); break;
    }
}

/* Long rows (8192 columns and more): their activations (14+ KB) barely fit L1 beside the weight stream,
 * and reading them again from L2 for every row starved the stream (Llama 3.1 8B's 14336-column down
 * projection ran at two thirds of the short rows' bandwidth). Prefetching the weights GEMV_NTA_AHEAD chunks
 * ahead with the non-temporal hint brings them in as the first to be evicted, so the activations stay:
 * measured +8-15 % on 8B decode, +2 % on E2B (distances 1, 2, 4, 8, 16 and thresholds 2048, 8192 tried). */
enum { GEMV_NTA_AHEAD = 8, GEMV_NTA_COLS = 8192 };
INLINE float gemv_q_t(const uint32_t type, const bool g16, const bool has_min, const int cs, const uint8_t *row,
                      int64_t cols, const act_chunk *act) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t c = 0; c * KCHUNK < cols; c++) {
        chunk_regs u;
        if (cols - c * KCHUNK >= KCHUNK) {
            if (cols >= GEMV_NTA_COLS) { /* (past the row's end: the next row's, harmless) */
                const int cb = chunk_bytes_of(type);
                const char *next = (const char *)row + (c + GEMV_NTA_AHEAD) * cb;
                for (int l = 0; l < cb; l += 64) _mm_prefetch(next + l, _MM_HINT_NTA);
            }
            unpack_fast(type, row, c, &u);
        } else {
            /* the last, partial chunk: unpack a zero-padded copy. Padding lanes come out with scales 0 (and
             * any codes); the activations' padding is all zero, so they add exactly what the panel's do */
            _Alignas(64) uint8_t tmp[TAIL_BYTES];
            tail_copy(type, row, cols, c, tmp);
            unpack_fast(type, tmp, 0, &u);
        }
        const act_chunk *a = act + c;
        __m512 part = _mm512_setzero_ps();
        for (int half = 0; half < (g16 ? 2 : 1); half++) {
            /* -center * sum(q), as gemm_q starts from */
            __m512i n = g16 ? _mm512_load_si512(half ? a->n_hi : a->n_lo)
                            : _mm512_add_epi32(_mm512_load_si512(a->n_lo), _mm512_load_si512(a->n_hi));
            const __m512i center_sum = _mm512_slli_epi32(n, (unsigned)cs);
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
            const int k0 = g16 ? 4 * half : 0, k1 = g16 ? k0 + 4 : 8;
#pragma GCC unroll 8
            for (int k = k0; k < k1; k += 2) {
                s0 = _mm512_dpbusd_epi32(s0, u.q[k], _mm512_load_si512(a->q[k]));
                s1 = _mm512_dpbusd_epi32(s1, u.q[k + 1], _mm512_load_si512(a->q[k + 1]));
            }
            __m512i isum = _mm512_add_epi32(s0, s1);
            if (type == T_Q4_K) isum = _mm512_mask_srai_epi32(isum, (__mmask16)0xAAAA, isum, 4); /* high_x16 */
            isum = _mm512_sub_epi32(isum, center_sum);
            const __m512 prod = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), g16 && half ? u.d_hi : u.d);
            if (g16 && !half) {
                part = prod;
                continue;
            }
            const __m512 sum = g16 ? _mm512_add_ps(part, prod) : prod;
            acc = _mm512_add_ps(acc, _mm512_mul_ps(sum, _mm512_load_ps(a->d)));
            if (has_min) {
                if (g16) {
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(u.m, _mm512_load_ps(a->s_lo)));
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(u.m_hi, _mm512_load_ps(a->s_hi)));
                } else {
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(u.m, _mm512_load_ps(a->s)));
                }
            }
        }
    }
    return reduce16_ps(acc);
}

/* Rows [0, nrows) of w, one after another: one row's chunks unpacked in registers and dotted with the
 * token's chunks, so the weights stream once from memory and the activations stay in L1. */
INLINE void gemv_rows(const uint32_t type, const bool g16, const bool has_min, const int cs, const uint8_t *w,
                      uint64_t row_bytes, int64_t nrows, int64_t cols, const act_chunk *act, float *y) {
    for (int64_t r = 0; r < nrows; r++) y[r] = gemv_q_t(type, g16, has_min, cs, w + (uint64_t)r * row_bytes, cols, act);
}

static bool gemv_q(uint32_t type, const uint8_t *w, uint64_t row_bytes, int64_t nrows, int64_t cols,
                   const act_chunk *act, float *y) {
    const qtype_desc *qt = qtype_get(type);
    const int cs = qt ? qt->center_log2 : 0;
    switch (type) {
    case T_Q4_0: gemv_rows(T_Q4_0, false, false, cs, w, row_bytes, nrows, cols, act, y); return true;
    case T_Q8_0: gemv_rows(T_Q8_0, false, false, cs, w, row_bytes, nrows, cols, act, y); return true;
    case T_Q4_K: gemv_rows(T_Q4_K, false, true, cs, w, row_bytes, nrows, cols, act, y); return true;
    case T_Q5_K: gemv_rows(T_Q5_K, false, true, cs, w, row_bytes, nrows, cols, act, y); return true;
    case T_Q6_K: gemv_rows(T_Q6_K, true, false, cs, w, row_bytes, nrows, cols, act, y); return true;
    default: return false;
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Float weights
 * ------------------------------------------------------------------------------------------------------- */

INLINE __m512 load_w16(uint32_t type, const uint8_t *w, int64_t i, __mmask16 m) {
    if (type == T_F32) return _mm512_maskz_loadu_ps(m, w + 4 * i);
    const __m256i h = _mm256_maskz_loadu_epi16(m, w + 2 * i);
    if (type == T_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); /* BF16: the top half of an f32 */
}

/* 4 rows x T (1 or 2) tokens over all columns; the tail group is masked (missing elements load as 0 and add
 * 0 * 0). Kept to 8 accumulators so GCC holds them in registers. */
INLINE void gemm_f_tile(uint32_t type, const uint8_t *const *wr, int64_t cols, const float *x, int64_t xs, const int T,
                        __m512 out[KROWS][2]) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int64_t i = 0; i < cols; i += KLANES) {
        const __mmask16 m = cols - i >= KLANES ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - i)) - 1);
        const __m512 w0 = load_w16(type, wr[0], i, m), w1 = load_w16(type, wr[1], i, m);
        const __m512 w2 = load_w16(type, wr[2], i, m), w3 = load_w16(type, wr[3], i, m);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, x + i);
        a0 = _mm512_add_ps(a0, _mm512_mul_ps(w0, x0));
        a1 = _mm512_add_ps(a1, _mm512_mul_ps(w1, x0));
        a2 = _mm512_add_ps(a2, _mm512_mul_ps(w2, x0));
        a3 = _mm512_add_ps(a3, _mm512_mul_ps(w3, x0));
        if (T == 2) {
            const __m512 x1 = _mm512_maskz_loadu_ps(m, x + xs + i);
            b0 = _mm512_add_ps(b0, _mm512_mul_ps(w0, x1));
            b1 = _mm512_add_ps(b1, _mm512_mul_ps(w1, x1));
            b2 = _mm512_add_ps(b2, _mm512_mul_ps(w2, x1));
            b3 = _mm512_add_ps(b3, _mm512_mul_ps(w3, x1));
        }
    }
    out[0][0] = a0, out[1][0] = a1, out[2][0] = a2, out[3][0] = a3;
    out[0][1] = b0, out[1][1] = b1, out[2][1] = b2, out[3][1] = b3;
}

INLINE void gemm_f_t(uint32_t type, const uint8_t *w, uint64_t rb, int nrows, int64_t cols, const float *x, int64_t xs,
                     int n_tok, float *y, int64_t ys) {
    const uint8_t *wr[KROWS];
    for (int r = 0; r < KROWS; r++) wr[r] = w + (r < nrows ? r : 0) * rb; /* missing rows repeat row 0, unused */
    for (int t = 0; t < n_tok; t += 2) {
        __m512 acc[KROWS][2];
        const int nt = n_tok - t >= 2 ? 2 : 1;
        if (nt == 2) gemm_f_tile(type, wr, cols, x + t * xs, xs, 2, acc);
        else gemm_f_tile(type, wr, cols, x + t * xs, xs, 1, acc);
        for (int r = 0; r < nrows; r++)
            for (int u = 0; u < nt; u++) y[(t + u) * ys + r] = reduce16_ps(acc[r][u]);
    }
}

static void gemm_f(uint32_t type, const uint8_t *w, uint64_t rb, int nrows, int64_t cols, const float *x, int64_t xs,
                   int n_tok, float *y, int64_t ys) {
    if (type == T_F32) gemm_f_t(T_F32, w, rb, nrows, cols, x, xs, n_tok, y, ys);
    else if (type == T_F16) gemm_f_t(T_F16, w, rb, nrows, cols, x, xs, n_tok, y, ys);
    else gemm_f_t(T_BF16, w, rb, nrows, cols, x, xs, n_tok, y, ys);
}

static void axpy_f(uint32_t type, const uint8_t *v, float a, float *acc, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += KLANES) {
        const __mmask16 m = n - i >= KLANES ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, acc + i), _mm512_mul_ps(av, load_w16(type, v, i, m)));
        _mm512_mask_storeu_ps(acc + i, m, x);
    }
}

/* 4 query rows x 64 dimensions in 16 registers; each value row is loaded (and widened) once for the 4 rows
 * and added, key by key, to the rows whose range holds it. */
static void gemm_pv(uint32_t type, const uint8_t *v, uint64_t row_bytes, int n_keys, int64_t n, const float *p,
                    int64_t p_stride, const int *lo, const int *hi, int n_tok, float *out, int64_t out_stride) {
    (void)n_keys;
    for (int t0 = 0; t0 < n_tok; t0 += 4) {
        const int nt = n_tok - t0 < 4 ? n_tok - t0 : 4;
        int kmin = lo[t0], kmax = hi[t0];
        int l[4], h[4];
        for (int t = 0; t < 4; t++) {
            l[t] = t < nt ? lo[t0 + t] : 0, h[t] = t < nt ? hi[t0 + t] : 0;
            if (t < nt && l[t] < kmin) kmin = l[t];
            if (t < nt && h[t] > kmax) kmax = h[t];
        }
        for (int64_t i = 0; i < n; i += 4 * KLANES) {
            __mmask16 m[4];
            __m512 acc[4][4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                const int64_t left = n - i - c * KLANES;
                m[c] = left >= KLANES ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
#pragma GCC unroll 4
                for (int t = 0; t < 4; t++)
                    acc[t][c] = t < nt ? _mm512_maskz_loadu_ps(m[c], out + (t0 + t) * out_stride + i + c * KLANES)
                                       : _mm512_setzero_ps();
            }
            for (int k = kmin; k < kmax; k++) {
                const uint8_t *vk = v + (uint64_t)k * row_bytes;
                __m512 w[4];
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) w[c] = load_w16(type, vk, i + c * KLANES, m[c]);
#pragma GCC unroll 4
                for (int t = 0; t < 4; t++) {
                    if (k < l[t] || k >= h[t]) continue;
                    const __m512 pb = _mm512_set1_ps(p[(t0 + t) * p_stride + k]);
#pragma GCC unroll 4
                    for (int c = 0; c < 4; c++) acc[t][c] = _mm512_add_ps(acc[t][c], _mm512_mul_ps(pb, w[c]));
                }
            }
#pragma GCC unroll 4
            for (int t = 0; t < 4; t++)
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++)
                    if (t < nt) _mm512_mask_storeu_ps(out + (t0 + t) * out_stride + i + c * KLANES, m[c], acc[t][c]);
        }
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * Elementwise: kexp() lane by lane, the same operations in the same order as the portable loops.
 * ------------------------------------------------------------------------------------------------------- */

INLINE __m512 kexp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    const __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic), magic);
    const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693145751953125f))),
                                   _mm512_mul_ps(n, _mm512_set1_ps(1.42860682030941723e-6f)));
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.5f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.0f));
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

static void softcap(float *v, int64_t n, float cap) {
    const __m512 c = _mm512_set1_ps(cap), one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    int64_t i = 0;
    for (; i + KLANES <= n; i += KLANES) {
        const __m512 t = _mm512_div_ps(_mm512_loadu_ps(v + i), c);
        const __m512 e = kexp16(_mm512_add_ps(t, t));
        _mm512_storeu_ps(v + i, _mm512_mul_ps(c, _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)))));
    }
    portable_softcap(v + i, n - i, cap);
}

static void glu(float *g, const float *u, int64_t n, bool gelu) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + KLANES <= n; i += KLANES) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 a = gelu ? _mm512_mul_ps(_mm512_set1_ps(KGELU_C),
                                              _mm512_add_ps(x, _mm512_mul_ps(_mm512_set1_ps(0.044715f),
                                                                             _mm512_mul_ps(_mm512_mul_ps(x, x), x))))
                              : _mm512_sub_ps(_mm512_setzero_ps(), x);
        const __m512 y = _mm512_div_ps(x, _mm512_add_ps(one, kexp16(a)));
        _mm512_storeu_ps(g + i, _mm512_mul_ps(y, _mm512_loadu_ps(u + i)));
    }
    portable_glu(g + i, u + i, n - i, gelu);
}

static const kernel_ops ops = {"avx512", quantize_act, pack_row, gemm_q, gemm_f, axpy_f, gemv_q, gemm_pv, softcap, glu};
const kernel_ops *kernels_avx512(void) { return &ops; }

#endif
