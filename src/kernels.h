/* kernels.h — the contract between matmul.c (and attention in forward.c) and the per-ISA kernel files:
 * kernels_portable.c (the reference), kernels_avx2.c, kernels_avx512.c, kernels_neon.c and kernels_dotprod.c
 * (the same source built with sdot). kernels.c picks one at run time. Internal to libhearth.
 *
 * Quantized weights (Q4_0 .. Q6_K): the activations are quantized once per matmul call to 8-bit blocks of 32
 * (act_chunk), each weight row is unpacked ("packed") into 8-bit integer weights of the same block geometry
 * (panel_chunk), and every ISA computes, for each block b, the exact integer dot product S_b = sum w*q. Only
 * then does float arithmetic begin, and it is the same sequence of float operations in every ISA:
 *
 *   for each chunk c of 16 blocks, for each lane l (block b = 16c + l), acc[l] starting at +0:
 *     32-element scales:  acc[l] = acc[l] + ((float)S_b * wd[l]) * xd[l]
 *     16-element scales:  acc[l] = acc[l] + ((float)S_lo * wd[l] + (float)S_hi * wd_hi[l]) * xd[l]
 *     types with a min:   acc[l] = acc[l] + wm[l] * xs[l]                      (32-element)
 *                         acc[l] = (acc[l] + wm[l] * xs_lo[l]) + wm_hi[l] * xs_hi[l]   (16-element)
 *   y = reduce16(acc)     (a[i] += a[i+8]; a[i] += a[i+4]; a[i] += a[i+2]; y = a[0] + a[1])
 *
 * with no fused multiply-adds, so every ISA gives bit-identical results, for any n_tok and any thread count.
 * Integer weights are centered (code - center, e.g. q - 8 for 4-bit codes) and a min, where the type has one,
 * is folded into wm and multiplied by the exact float sum of the activations (xs): the activation rounding
 * then only meets small centered integers. (llama.cpp rounds activations the same way per 32 for Q4_0/Q8_0,
 * per 256 for the K types, and uses the rounded block sums for mins.)
 *
 * Float weights (F32, F16, BF16) use float activations: acc[l] = acc[l] + w[16g+l] * x[16g+l] over groups g of
 * 16 elements (missing tail elements count as 0 * 0), then reduce16 — again no fused multiply-add.
 *
 * Every kernel_ops implementation must match kernels_portable.c bit for bit; tests/test_kernels.c checks it. */
#ifndef HEARTH_KERNELS_H
#define HEARTH_KERNELS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define KBLK 32                     /* elements per block */
#define KLANES 16                   /* blocks per chunk = float lanes of the accumulator */
#define KCHUNK (KBLK * KLANES)      /* elements per chunk */

/* One chunk of one token's quantized activations. q[k][l][i] is element 4k+i of block l: the layout puts the
 * 4 bytes that one 32-bit lane of a dot-product instruction consumes next to the same bytes of the other
 * blocks, so 8 instructions accumulate a whole block in one lane. */
typedef struct {
    int8_t q[8][KLANES][4];
    float d[KLANES];                        /* x ~ d * q; 0 for an all-zero (or padding) block */
    float s[KLANES], s_lo[KLANES], s_hi[KLANES]; /* exact float sums of the block and its halves */
    int32_t n_lo[KLANES], n_hi[KLANES];     /* sums of q over each half (for integer re-centering) */
} __attribute__((aligned(64))) act_chunk;

/* One chunk of one packed weight row: the block's integer weights in act_chunk's layout and its scales.
 * q holds w + bias, where bias is the ISA's choice (0: signed weights; center: the type's unsigned codes). */
typedef struct {
    uint8_t q[8][KLANES][4];
    float d[KLANES], d_hi[KLANES];          /* scale of the block (or of its first half), of its second half */
    float m[KLANES], m_hi[KLANES];          /* min terms (see above), 0 where the type has none */
} __attribute__((aligned(64))) panel_chunk;

/* How a quantized type maps onto the packed form. */
typedef struct {
    bool ok;       /* has an integer path */
    bool gran16;   /* scales per 16 elements (Q2_K, Q3_K, Q6_K) */
    bool has_min;  /* has a min term (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) */
    int center;    /* code - center = signed weight; a power of two */
    int center_log2;
} qtype_desc;

const qtype_desc *qtype_get(uint32_t type); /* NULL when the type has no integer path */

#define KROWS 4 /* rows per packed panel: panel_chunk panel[nchunks][KROWS] */
#define KTOK 4  /* most tokens one gemm_q call handles */

typedef struct {
    const char *name;
    /* Quantize one token: cols floats (a multiple of 32) into ceil(cols/512) chunks (tail blocks zeroed). */
    void (*quantize_act)(const float *x, int64_t cols, act_chunk *out);
    /* Pack one row of `type` into ceil(cols/512) chunks out[0], out[stride], ... (tail blocks zeroed). */
    void (*pack_row)(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride);
    /* y[t*y_stride + r] for r < nrows (<= KROWS; the panel always has KROWS rows) and t < n_tok (<= KTOK);
     * act[t * act_stride + c] is chunk c of token t. */
    void (*gemm_q)(uint32_t type, const panel_chunk *panel, int64_t nch, const act_chunk *act, int64_t act_stride,
                   int n_tok, int nrows, float *y, int64_t y_stride);
    /* Float weights: rows r < nrows (<= KROWS) of w (row_bytes apart) times n_tok (<= KTOK) tokens of x. */
    void (*gemm_f)(uint32_t type, const uint8_t *w, uint64_t row_bytes, int nrows, int64_t cols, const float *x,
                   int64_t x_stride, int n_tok, float *y, int64_t y_stride);
    /* acc[i] = acc[i] + a * v[i] for i < n, v of type F32, F16 or BF16 (attention's weighted sum of values). */
    void (*axpy_f)(uint32_t type, const uint8_t *v, float a, float *acc, int64_t n);
    /* Optional (NULL where absent), for one token: y[r] = row r of w . act for r < nrows, bit-identical to
     * pack_row + gemm_q with n_tok 1, without materializing panels. Returns false, writing nothing, for a
     * type it does not handle. */
    bool (*gemv_q)(uint32_t type, const uint8_t *w, uint64_t row_bytes, int64_t nrows, int64_t cols,
                   const act_chunk *act, float *y);
    /* Optional (NULL: the caller loops over axpy_f). Attention's weighted sum of values for many query rows:
     * out[t][i] = out[t][i] + p[t][k] * v[k][i] for i < n, t < n_tok, over the keys k of [lo[t], hi[t])
     * (rows of v, row_bytes apart, F32/F16/BF16; 0 <= lo, hi <= n_keys) in increasing k: the same operations,
     * in the same order, as axpy_f key by key. p[t][k] is p[t * p_stride + k], out[t] is out + t * out_stride. */
    void (*gemm_pv)(uint32_t type, const uint8_t *v, uint64_t row_bytes, int n_keys, int64_t n, const float *p,
                    int64_t p_stride, const int *lo, const int *hi, int n_tok, float *out, int64_t out_stride);
    /* Elementwise, with kexp() below (every ISA bit-identical to the portable loop):
     * v[i] = cap * tanh(v[i] / cap), tanh(t) = 1 - 2 / (exp(2t) + 1)  (final logit soft-cap) */
    void (*softcap)(float *v, int64_t n, float cap);
    /* g[i] = act(g[i]) * u[i], act GELU-tanh x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))) or SiLU
     * x / (1 + exp(-x)) (gated feed-forward, Gemma 4's per-layer input gate). GELU-tanh 0.5 x (1 + tanh(u))
     * is written as x / (1 + exp(-2u)): the same function, one exp instead of a tanh, and no cancellation in
     * 1 + tanh(u) for negative u. */
    void (*glu)(float *g, const float *u, int64_t n, bool gelu);
} kernel_ops;

/* The implementations; NULL where not compiled for this architecture. */
extern const kernel_ops kernels_portable;
const kernel_ops *kernels_avx2(void);
const kernel_ops *kernels_avx512(void);
const kernel_ops *kernels_neon(void);
const kernel_ops *kernels_dotprod(void);

/* Selection. The first call picks the best the CPU supports, or HEARTH_ISA=portable|avx2|avx512|neon|dotprod
 * (an unsupported or unknown name falls back to the best with a warning on stderr). */
const kernel_ops *kernels_active(void);
/* Every implementation this CPU can run, best last; returns the count (at most 8). */
int kernels_supported(const kernel_ops **out);
/* Force one (for tests and benchmarks); returns false if this CPU cannot run it. */
bool kernels_use(const char *name);

/* exp(x) for the elementwise kernels: x clamped to [-87, 88], x = n ln2 + r (n rounded to nearest through
 * the 1.5 * 2^23 trick, ln2 split in two so n ln2 is exact), exp(r) by its degree-7 Taylor polynomial in
 * Horner form, times 2^n from the exponent bits. Separate multiplies and adds only (no FMA), so a SIMD lane
 * computes exactly what this does; about 2 ulp from the true value. */
static inline float kexp(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}
#define KGELU_C (-1.5957691216057308f) /* -2 sqrt(2/pi) */
void portable_softcap(float *v, int64_t n, float cap);
void portable_glu(float *g, const float *u, int64_t n, bool gelu);

/* Portable pieces the SIMD files reuse for the less common types. */
void portable_pack_row(uint32_t type, const uint8_t *row, int64_t cols, panel_chunk *out, int64_t stride, int bias);
/* Chunk c of that row only. */
void portable_pack_chunk(uint32_t type, const uint8_t *row, int64_t cols, int64_t c, panel_chunk *out, int bias);
/* Unpack one chunk (blocks blk0 .. blk0+nblk-1, blk0 a multiple of 16) into codes in element order and the
 * block scales; returns false for types without an integer path. */
bool portable_unpack_chunk(uint32_t type, const uint8_t *row, int64_t blk0, int nblk, uint8_t codes[KLANES][KBLK],
                           float d[KLANES], float d_hi[KLANES], float m[KLANES], float m_hi[KLANES]);

/* Float reduction in the order every ISA uses. */
static inline float reduce16(const float a[KLANES]) {
    float r8[8], r4[4], r2[2];
    for (int i = 0; i < 8; i++) r8[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) r4[i] = r8[i] + r8[i + 4];
    for (int i = 0; i < 2; i++) r2[i] = r4[i] + r4[i + 2];
    return r2[0] + r2[1];
}

#endif
