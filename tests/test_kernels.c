/* test_kernels.c — every SIMD kernel implementation against the portable one (kernels.h).
 *
 * The kernels promise bit-identical results: the integer dot products are exact, and the float operations
 * that follow are the same, in the same order, in every ISA (no fused multiply-adds). So the tolerance is
 * zero: for each weight type, several shapes (odd row counts, rows not a multiple of 4, columns that leave a
 * partial 512-element chunk, 1..70 tokens) and every ISA this CPU runs, matmul's output must equal the
 * portable output bit for bit, and so must the intermediate products (quantized activations, packed weights).
 * Also checked on the portable path: agreement with a double-precision product of the dequantized weights
 * within the bound the 8-bit activation rounding allows; independence from the batch size and thread count;
 * NaN/inf activations give non-finite outputs, not garbage. HEARTH_TEST_ISA=name restricts to one ISA. */
#include <stdint.h>

#include "kernels.h"
#include "matmul.h"
#include "quant.h"
#include "testutil.h"
#include "threadpool.h"
#include "types.h"
#include "util.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float grand(void) { /* roughly Gaussian: sum of uniforms */
    return (float)(urand() + urand() + urand() + urand() - 2.0);
}

typedef struct {
    uint32_t type;
    int64_t rows, cols;
    uint64_t row_bytes;
    uint8_t *w;
    float *wf; /* dequantized */
} weights;

static void make_weights(weights *W, uint32_t type, int64_t rows, int64_t cols) {
    const type_traits *tt = type_get(type);
    W->type = type, W->rows = rows, W->cols = cols;
    W->row_bytes = type_row_bytes(tt, (uint64_t)cols);
    W->w = malloc(W->row_bytes * (size_t)rows + 64);
    W->wf = malloc(sizeof(float) * (size_t)(rows * cols));
    float *src = malloc(sizeof(float) * (size_t)cols);
    for (int64_t r = 0; r < rows; r++) {
        const float scale = (float)(0.02 + urand()) * (r % 7 == 3 ? 30.0f : 1.0f); /* rows of very different scale */
        const float shift = r % 5 == 1 ? 0.5f * scale : 0.0f;                        /* and some off-center rows */
        for (int64_t c = 0; c < cols; c++) src[c] = grand() * scale + shift;
        if (r % 11 == 4) for (int64_t c = 0; c < cols; c += 7) src[c] = 0; /* sparse-ish */
        CHECK(quantize_row(type, src, W->w + (uint64_t)r * W->row_bytes, cols), "quantize %s", tt->name);
        dequantize_row(type, W->w + (uint64_t)r * W->row_bytes, W->wf + r * cols, cols);
    }
    free(src);
}

static void free_weights(weights *W) { free(W->w), free(W->wf); }

static float *make_acts(int64_t cols, int n_tok) {
    float *x = malloc(sizeof(float) * (size_t)(cols * n_tok));
    for (int64_t i = 0; i < cols * n_tok; i++) {
        x[i] = grand();
        if (urand() < 0.01) x[i] *= 40.0f;           /* outliers, as real activations have */
        if (urand() < 0.02) x[i] = 0.0f;
    }
    if (cols >= 64) for (int64_t i = 32; i < 64; i++) x[i] = 0.0f; /* an all-zero block */
    return x;
}

static bool same_bits(const float *a, const float *b, size_t n, size_t *where) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0 && !(a[i] != a[i] && b[i] != b[i])) { *where = i; return false; }
    return true;
}

static const kernel_ops *isas[8];
static int n_isas;

/* The intermediate products of one ISA against the portable ones. */
static void check_pieces(const kernel_ops *k, const weights *W, const float *x) {
    const int64_t nch = (W->cols + KCHUNK - 1) / KCHUNK;
    act_chunk *a0 = aligned_alloc(64, sizeof(act_chunk) * (size_t)nch), *a1 = aligned_alloc(64, sizeof(act_chunk) * (size_t)nch);
    kernels_portable.quantize_act(x, W->cols, a0);
    k->quantize_act(x, W->cols, a1);
    CHECK(!memcmp(a0, a1, sizeof(act_chunk) * (size_t)nch), "%s: quantized activations differ (cols %lld)", k->name,
          (long long)W->cols);
    panel_chunk *p0 = aligned_alloc(64, sizeof(panel_chunk) * (size_t)nch), *p1 = aligned_alloc(64, sizeof(panel_chunk) * (size_t)nch);
    const int64_t r = W->rows - 1;
    kernels_portable.pack_row(W->type, W->w + (uint64_t)r * W->row_bytes, W->cols, p0, 1);
    k->pack_row(W->type, W->w + (uint64_t)r * W->row_bytes, W->cols, p1, 1);
    bool ok = true;
    const uint8_t bias = (uint8_t)(p1[0].q[0][0][0] - p0[0].q[0][0][0]); /* 0 (signed) or the center */
    for (int64_t c = 0; c < nch && ok; c++) {
        for (int i = 0; i < 512; i++) ok &= (uint8_t)((&p1[c].q[0][0][0])[i] - (&p0[c].q[0][0][0])[i]) == bias;
        ok &= !memcmp(p0[c].d, p1[c].d, sizeof p0[c].d * 4);
    }
    CHECK(ok, "%s: packed %s row differs from the portable packing (cols %lld)", k->name, type_get(W->type)->name,
          (long long)W->cols);
    free(a0), free(a1), free(p0), free(p1);
}

static void run(const kernel_ops *k, threadpool *pool, const weights *W, const float *x, int n_tok, float *y) {
    kernels_use(k->name);
    for (int64_t i = 0; i < W->rows * n_tok; i++) y[i] = -12345.0f;
    matmul(pool, W->w, W->type, W->rows, W->cols, W->row_bytes, x, W->cols, n_tok, y, W->rows);
}

static void test_shape(threadpool *pool2, threadpool *pool1, uint32_t type, int64_t rows, int64_t cols, int n_tok) {
    const char *tn = type_get(type)->name;
    weights W;
    make_weights(&W, type, rows, cols);
    float *x = make_acts(cols, n_tok);
    const size_t ny = (size_t)(rows * n_tok);
    float *ref = malloc(sizeof(float) * ny), *y = malloc(sizeof(float) * ny);
    run(&kernels_portable, pool2, &W, x, n_tok, ref);

    /* the portable definition against exact arithmetic */
    const bool quantized = qtype_get(type) != NULL;
    int bad = 0;
    for (int t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < rows; r++) {
            const float *wr = W.wf + r * cols, *xt = x + t * cols;
            double exact = 0, mag = 0, bound = 0;
            for (int64_t c = 0; c < cols; c++) exact += (double)wr[c] * xt[c], mag += fabs((double)wr[c] * xt[c]);
            if (quantized) /* activation rounding: |dx| <= max|x|/254 per block, met by |w - min| <= |w| + max|w| */
                for (int64_t b = 0; b < cols; b += 32) {
                    double amax = 0, wmax = 0, wsum = 0;
                    for (int i = 0; i < 32; i++) {
                        amax = fmax(amax, fabs(xt[b + i]));
                        wmax = fmax(wmax, fabs(wr[b + i]));
                        wsum += fabs(wr[b + i]);
                    }
                    bound += amax / 254.0 * (wsum + 32 * wmax);
                }
            bound += 1e-5 * mag + 1e-30;
            const double got = ref[t * rows + r];
            if (!(fabs(got - exact) <= bound) && bad++ < 3)
                fprintf(stderr, "  %s %lldx%lld: y[%d][%lld] = %.9g, exact %.9g, bound %.3g\n", tn, (long long)rows,
                        (long long)cols, t, (long long)r, got, exact, bound);
        }
    CHECK(bad == 0, "portable %s %lldx%lld n_tok %d: %d outputs outside the rounding bound", tn, (long long)rows,
          (long long)cols, n_tok, bad);

    /* batch and thread independence of the portable path */
    if (n_tok > 1) {
        float *one = malloc(sizeof(float) * (size_t)rows);
        bool same = true;
        kernels_use("portable");
        for (int t = 0; t < n_tok; t++) {
            matmul(pool1, W.w, type, rows, cols, W.row_bytes, x + t * cols, cols, 1, one, rows);
            size_t at;
            same &= same_bits(one, ref + t * rows, (size_t)rows, &at);
        }
        CHECK(same, "portable %s: token-by-token on 1 thread differs from the batch on 2", tn);
        free(one);
    }

    for (int i = 0; i < n_isas; i++) {
        if (isas[i] == &kernels_portable) continue;
        if (quantized) check_pieces(isas[i], &W, x);
        run(isas[i], pool2, &W, x, n_tok, y);
        size_t at = 0;
        CHECK(same_bits(ref, y, ny, &at), "%s %s %lldx%lld n_tok %d: y[%zu] = %.9g, portable %.9g", isas[i]->name, tn,
              (long long)rows, (long long)cols, n_tok, at, y[at], ref[at]);
        if (n_tok > 1) { /* and token by token on one thread */
            float *one = malloc(sizeof(float) * (size_t)rows);
            bool same = true;
            for (int t = 0; t < n_tok && same; t++) {
                matmul(pool1, W.w, type, rows, cols, W.row_bytes, x + t * cols, cols, 1, one, rows);
                same &= same_bits(one, ref + t * rows, (size_t)rows, &at);
            }
            CHECK(same, "%s %s: token-by-token differs from the portable batch", isas[i]->name, tn);
            free(one);
        }
    }
    free(ref), free(y), free(x);
    free_weights(&W);
}

/* Non-finite activations must give non-finite outputs on every ISA (never silently finite garbage). */
static void test_nonfinite(threadpool *pool, uint32_t type) {
    const int64_t rows = 5, cols = 512;
    weights W;
    make_weights(&W, type, rows, cols);
    float *x = make_acts(cols, 2);
    x[100] = INFINITY;
    x[cols + 7] = NAN;
    float y[10];
    for (int i = 0; i < n_isas; i++) {
        run(isas[i], pool, &W, x, 2, y);
        bool ok = true;
        for (int j = 0; j < 10; j++) ok &= !isfinite(y[j]);
        CHECK(ok, "%s %s: non-finite activations gave finite outputs", isas[i]->name, type_get(type)->name);
        run(isas[i], pool, &W, x, 1, y); /* one token: the decode path (gemv_q where the ISA has it) */
        ok = true;
        for (int j = 0; j < 5; j++) ok &= !isfinite(y[j]);
        CHECK(ok, "%s %s: non-finite activations gave finite outputs for one token", isas[i]->name, type_get(type)->name);
    }
    free(x);
    free_weights(&W);
}

/* The inline half-precision conversion against the out-of-line one, for every bit pattern. */
static void test_fp16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float a = fp16_to_f32((uint16_t)h), b = fp16_to_f32_slow((uint16_t)h);
        bad += memcmp(&a, &b, 4) != 0;
    }
    CHECK(bad == 0, "fp16_to_f32 differs from fp16_to_f32_slow for %d values", bad);
}

/* axpy_f (attention's value sum): elementwise, so every ISA must match the portable one bit for bit. */
static void test_axpy(void) {
    static const uint32_t types[] = {T_F32, T_F16, T_BF16};
    for (size_t ti = 0; ti < 3; ti++)
        for (int n = 1; n <= 300; n += 37) {
            const type_traits *tt = type_get(types[ti]);
            float *src = malloc(sizeof(float) * (size_t)n), *ref = malloc(sizeof(float) * (size_t)n);
            float *acc = malloc(sizeof(float) * (size_t)n);
            uint8_t *v = malloc(type_row_bytes(tt, (uint64_t)n));
            for (int i = 0; i < n; i++) src[i] = grand(), ref[i] = grand();
            quantize_row(types[ti], src, v, n);
            memcpy(acc, ref, sizeof(float) * (size_t)n);
            kernels_portable.axpy_f(types[ti], v, 0.37f, ref, n);
            for (int k = 0; k < n_isas; k++) {
                float *a = malloc(sizeof(float) * (size_t)n);
                memcpy(a, acc, sizeof(float) * (size_t)n);
                isas[k]->axpy_f(types[ti], v, 0.37f, a, n);
                CHECK(!memcmp(a, ref, sizeof(float) * (size_t)n), "%s axpy_f %s n %d differs", isas[k]->name, tt->name, n);
                free(a);
            }
            free(src), free(ref), free(acc), free(v);
        }
}

/* gemm_pv (attention's weighted values for many rows, each over its own key range) against axpy_f key by
 * key on the portable kernels, bit for bit, for every ISA that has it. */
static void test_gemm_pv(void) {
    static const uint32_t types[] = {T_F32, T_F16, T_BF16};
    static const struct { int n_keys, n, n_tok; } shapes[] = {{1, 16, 1}, {7, 64, 3}, {40, 256, 16}, {33, 100, 5}, {9, 512, 6}};
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int nk = shapes[si].n_keys, n = shapes[si].n, nt = shapes[si].n_tok;
            const type_traits *tt = type_get(types[ti]);
            const uint64_t rb = type_row_bytes(tt, (uint64_t)n);
            uint8_t *v = malloc(rb * (size_t)nk);
            float *src = malloc(sizeof(float) * (size_t)n), *p = malloc(sizeof(float) * (size_t)(nt * nk));
            float *ref = malloc(sizeof(float) * (size_t)(nt * n)), *got = malloc(sizeof(float) * (size_t)(nt * n));
            float *init = malloc(sizeof(float) * (size_t)(nt * n));
            int lo[16], hi[16];
            for (int k = 0; k < nk; k++) {
                for (int i = 0; i < n; i++) src[i] = grand();
                quantize_row(types[ti], src, v + (uint64_t)k * rb, n);
            }
            for (int i = 0; i < nt * nk; i++) p[i] = grand();
            for (int i = 0; i < nt * n; i++) init[i] = grand();
            for (int t = 0; t < nt; t++) { /* causal-like and windowed ranges, one empty */
                lo[t] = t % 3 == 2 ? t % nk : 0;
                hi[t] = t == 1 ? lo[t] : nk - (nt - 1 - t) % nk;
                if (hi[t] < lo[t]) hi[t] = lo[t];
            }
            memcpy(ref, init, sizeof(float) * (size_t)(nt * n));
            for (int t = 0; t < nt; t++)
                for (int k = lo[t]; k < hi[t]; k++)
                    kernels_portable.axpy_f(types[ti], v + (uint64_t)k * rb, p[t * nk + k], ref + t * n, n);
            for (int k = 0; k < n_isas; k++) {
                if (!isas[k]->gemm_pv) continue;
                memcpy(got, init, sizeof(float) * (size_t)(nt * n));
                isas[k]->gemm_pv(types[ti], v, rb, nk, n, p, nk, lo, hi, nt, got, n);
                CHECK(!memcmp(got, ref, sizeof(float) * (size_t)(nt * n)), "%s gemm_pv %s keys %d n %d rows %d differs",
                      isas[k]->name, tt->name, nk, n, nt);
            }
            free(v), free(src), free(p), free(ref), free(got), free(init);
        }
}

/* softcap and glu: every ISA bit-identical to the portable loop; the portable loop within a few ulp of
 * libm (the reference computes tanh and exp exactly rounded); infinities and huge inputs saturate. */
static void test_elementwise(void) {
    enum { N = 4099 };
    static float x[N], u[N], ref[N], got[N];
    uint64_t s = 0x1234567;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const float r = (float)((s >> 40) & 0xFFFFFF) / 16777216.0f; /* [0, 1) */
        x[i] = i < 8 ? (float[]){0.0f, -0.0f, 1e-30f, -1e-30f, 200.0f, -200.0f, INFINITY, -INFINITY}[i]
                     : (r - 0.5f) * (i % 3 == 0 ? 120.0f : 12.0f);
        u[i] = 1.0f + r;
    }
    double worst_cap = 0, worst_gelu = 0, worst_silu = 0;
    memcpy(ref, x, sizeof x);
    kernels_portable.softcap(ref, N, 30.0f);
    for (int i = 0; i < N; i++) {
        const double want = 30.0 * tanh((double)x[i] / 30.0);
        const double err = fabs(ref[i] - want);
        if (err > worst_cap) worst_cap = err;
    }
    CHECK(worst_cap < 1e-5, "softcap: max abs error %.3g against tanh (cap 30; 3 ulp of 30 = 1.1e-5)", worst_cap);
    for (int gelu = 0; gelu < 2; gelu++) {
        memcpy(got, x, sizeof x);
        kernels_portable.glu(got, u, N, gelu);
        for (int i = 8; i < N; i++) {
            /* the exponent's argument in float as the kernel forms it (its rounding is the formula's, not kexp's) */
            const float xf = x[i], arg = gelu ? KGELU_C * (xf + 0.044715f * (xf * xf * xf)) : -xf;
            const double a = (double)xf / (1 + exp((double)arg));
            const double err = fabs(got[i] - a * u[i]) / (fabs(a * u[i]) + 1e-30);
            double *w = gelu ? &worst_gelu : &worst_silu;
            if (err > *w && fabs(a) > 1e-30) *w = err;
        }
    }
    CHECK(worst_gelu < 2e-6 && worst_silu < 2e-6, "glu: max rel error gelu %.3g silu %.3g", worst_gelu, worst_silu);
    for (int k = 0; k < n_isas; k++) {
        memcpy(got, x, sizeof x);
        isas[k]->softcap(got, N, 30.0f);
        CHECK(!memcmp(got, ref, sizeof got), "%s softcap differs from portable", isas[k]->name);
        for (int gelu = 0; gelu < 2; gelu++) {
            float a[N], b[N];
            memcpy(a, x, sizeof x), memcpy(b, x, sizeof x);
            kernels_portable.glu(a, u, N, gelu);
            isas[k]->glu(b, u, N, gelu);
            CHECK(!memcmp(a, b, sizeof a), "%s glu (%s) differs from portable", isas[k]->name, gelu ? "gelu" : "silu");
        }
    }
}

int main(void) {
    test_fp16();
    n_isas = kernels_supported(isas);
    const char *only = getenv("HEARTH_TEST_ISA");
    printf("test_kernels: ISAs:");
    for (int i = 0; i < n_isas; i++) printf(" %s", isas[i]->name);
    printf("\n");
    if (only && *only) {
        int n = 0;
        for (int i = 0; i < n_isas; i++)
            if (!strcmp(isas[i]->name, only) || isas[i] == &kernels_portable) isas[n++] = isas[i];
        CHECK(n == 2 || !strcmp(only, "portable"), "HEARTH_TEST_ISA=%s is not supported here", only);
        n_isas = n;
    }
    test_axpy();
    test_elementwise();
    test_gemm_pv();
    threadpool *pool2 = pool_new(2), *pool1 = pool_new(1);
    static const uint32_t qtypes32[] = {T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0};
    static const uint32_t qtypesK[] = {T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K};
    static const uint32_t ftypes[] = {T_F32, T_F16, T_BF16};
    static const struct { int64_t rows, cols; int n_tok; } s32[] = {
        {1, 32, 1}, {3, 96, 2}, {5, 544, 3}, {17, 1056, 5}, {64, 512, 4}, {9, 2048, 70}, {5, 4640, 7}},
      sK[] = {{1, 256, 1}, {3, 768, 2}, {6, 512, 5}, {17, 2304, 3}, {64, 1024, 4}, {7, 1280, 70}, {6, 4608, 7}},
      sF[] = {{1, 1, 1}, {3, 15, 2}, {5, 37, 3}, {17, 1000, 5}, {64, 512, 4}, {9, 300, 70}};
    for (size_t ti = 0; ti < 5; ti++)
        for (size_t s = 0; s < sizeof s32 / sizeof s32[0]; s++) test_shape(pool2, pool1, qtypes32[ti], s32[s].rows, s32[s].cols, s32[s].n_tok);
    for (size_t ti = 0; ti < 5; ti++)
        for (size_t s = 0; s < sizeof sK / sizeof sK[0]; s++) test_shape(pool2, pool1, qtypesK[ti], sK[s].rows, sK[s].cols, sK[s].n_tok);
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t s = 0; s < sizeof sF / sizeof sF[0]; s++) test_shape(pool2, pool1, ftypes[ti], sF[s].rows, sF[s].cols, sF[s].n_tok);
    test_nonfinite(pool2, T_Q4_K);
    test_nonfinite(pool2, T_Q6_K);
    test_nonfinite(pool2, T_Q8_0);
    test_nonfinite(pool2, T_F16);
    pool_free(pool2);
    pool_free(pool1);
    TEST_SUMMARY("test_kernels");
}
