/* test_quant.c — the block formats against the GGUF reference.
 *   - type geometry: every type id of gguf-py's GGML_QUANT_SIZES is known to types.c with the same sizes;
 *   - dequantize_row: bit-exact (memcmp of floats) with gguf-py on random valid blocks, for every type;
 *   - quantize_row: byte-exact with gguf-py (F32..Q8_0) and with ggml's reference K quantizers (Q2_K..Q6_K);
 *   - K-quant round-trip error on Gaussian data within explicit bounds, ordered by bit width;
 *   - vec_dot_row agrees with dequantize_row + a double-precision dot.
 * Fixtures come from tests/fixtures/quant/make_fixtures.py (see its header for the file format). */
#include <stdint.h>

#include "quant.h"
#include "testutil.h"
#include "types.h"

#define FIXTURE_DIR "tests/fixtures/quant/"

static const uint32_t dequant_types[] = {T_F32,  T_F16,  T_BF16, T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1,
                                         T_Q8_0, T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K};
#define N_TYPES (sizeof dequant_types / sizeof dequant_types[0])

/* ---- fixtures ---------------------------------------------------------------------------------------- */

typedef struct {
    uint32_t type, n, nbytes;
    const uint8_t *bytes;
    float *values; /* copied out so they are float-aligned */
    char *file;
} fixture;

static uint32_t le32(const char *p) {
    const uint8_t *u = (const uint8_t *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

static bool load_fixture(const char *kind, uint32_t type, fixture *f) {
    char path[256];
    snprintf(path, sizeof path, FIXTURE_DIR "%s_%s.bin", kind, type_get(type)->name);
    size_t size = 0;
    memset(f, 0, sizeof *f);
    f->file = tu_read_file(path, &size);
    if (!f->file) { fprintf(stderr, "missing fixture %s\n", path); return false; }
    if (size < 16 || memcmp(f->file, "HQF1", 4) != 0) { fprintf(stderr, "bad fixture %s\n", path); return false; }
    f->type = le32(f->file + 4);
    f->n = le32(f->file + 8);
    f->nbytes = le32(f->file + 12);
    if (size != 16 + (size_t)f->nbytes + 4 * (size_t)f->n || f->type != type) {
        fprintf(stderr, "inconsistent fixture %s\n", path);
        return false;
    }
    f->bytes = (const uint8_t *)f->file + 16;
    f->values = malloc(4 * (size_t)f->n + 1);
    memcpy(f->values, f->file + 16 + f->nbytes, 4 * (size_t)f->n);
    return true;
}

static void free_fixture(fixture *f) {
    free(f->file);
    free(f->values);
}

/* ---- deterministic Gaussian data --------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double rng_uniform(void) { /* splitmix64 -> (0, 1) */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_gauss(void) { /* Box-Muller */
    return (float)(sqrt(-2.0 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform()));
}

/* ---- tests ------------------------------------------------------------------------------------------- */

static void test_type_sizes(void) {
    char *txt = tu_read_file(FIXTURE_DIR "type_sizes.txt", NULL);
    CHECK(txt != NULL, "missing type_sizes.txt");
    if (!txt) return;
    int lines = 0;
    for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned id;
        char name[32];
        int bs, ts;
        if (sscanf(line, "%u %31s %d %d", &id, name, &bs, &ts) != 4) continue;
        lines++;
        const type_traits *tt = type_get(id);
        CHECK(tt != NULL, "type id %u (%s) unknown to types.c", id, name);
        if (!tt) continue;
        CHECK(strcmp(tt->name, name) == 0, "type %u: name %s, reference %s", id, tt->name, name);
        CHECK(tt->block_size == bs && tt->type_size == ts, "type %s: geometry %d/%d, reference %d/%d", name,
              tt->block_size, tt->type_size, bs, ts);
    }
    CHECK(lines >= 32, "only %d types in type_sizes.txt", lines);
    free(txt);
}

static void test_dequantize_exact(void) {
    for (size_t t = 0; t < N_TYPES; t++) {
        uint32_t type = dequant_types[t];
        const char *name = type_get(type)->name;
        fixture f;
        bool ok = load_fixture("deq", type, &f);
        CHECK(ok, "deq fixture for %s", name);
        if (!ok) { free_fixture(&f); continue; }
        CHECK_EQ_INT(type_row_bytes(type_get(type), f.n), f.nbytes);

        float *out = malloc(4 * (size_t)f.n);
        dequantize_row(type, f.bytes, out, f.n);
        int bad = -1;
        for (uint32_t i = 0; i < f.n && bad < 0; i++) {
            if (memcmp(&out[i], &f.values[i], 4) != 0) bad = (int)i;
        }
        CHECK(bad < 0, "%s: element %d is %.9g, reference %.9g", name, bad, bad < 0 ? 0.0 : (double)out[bad],
              bad < 0 ? 0.0 : (double)f.values[bad]);

        /* blocks have alignment 1: the same bytes at an odd address give the same floats */
        uint8_t *odd = malloc(f.nbytes + 1);
        memcpy(odd + 1, f.bytes, f.nbytes);
        float *out2 = malloc(4 * (size_t)f.n);
        dequantize_row(type, odd + 1, out2, f.n);
        CHECK(memcmp(out, out2, 4 * (size_t)f.n) == 0, "%s: unaligned source differs", name);
        free(odd);
        free(out2);
        free(out);
        free_fixture(&f);
    }
}

static void test_quantize_exact(void) {
    for (size_t t = 0; t < N_TYPES; t++) {
        uint32_t type = dequant_types[t];
        const char *name = type_get(type)->name;
        fixture f;
        bool ok = load_fixture("quant", type, &f);
        CHECK(ok, "quant fixture for %s", name);
        if (!ok) { free_fixture(&f); continue; }

        uint8_t *out = calloc(1, f.nbytes);
        CHECK(quantize_row(type, f.values, out, f.n), "%s has no quantizer", name);
        int bad = -1;
        for (uint32_t i = 0; i < f.nbytes && bad < 0; i++) {
            if (out[i] != f.bytes[i]) bad = (int)i;
        }
        int bsz = type_get(type)->type_size;
        CHECK(bad < 0, "%s: byte %d (block %d, offset %d) is 0x%02x, reference 0x%02x", name, bad,
              bad / bsz, bad % bsz, bad < 0 ? 0 : out[bad], bad < 0 ? 0 : f.bytes[bad]);
        free(out);
        free_fixture(&f);
    }
}

/* Relative RMS error of a quantize/dequantize round trip: rms(x - x') / rms(x). */
static double roundtrip_error(uint32_t type, const float *x, int64_t n) {
    uint8_t *q = malloc(type_row_bytes(type_get(type), (uint64_t)n));
    float *y = malloc(sizeof(float) * (size_t)n);
    quantize_row(type, x, q, n);
    dequantize_row(type, q, y, n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        err += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        ref += (double)x[i] * x[i];
    }
    free(q);
    free(y);
    return sqrt(err / ref);
}

static void test_roundtrip_error(void) {
    enum { N = 64 * 256 };
    static float x[N];
    for (int i = 0; i < N; i++) x[i] = rng_gauss();

    /* bounds: ggml's own reference quantizers give these relative RMS errors on N(0,1) data (another
     * sample of 16384): Q8_0 0.0054, Q6_K 0.0177, Q5_K 0.0362, Q5_1 0.0380, Q5_0 0.0430, Q4_K 0.0719,
     * Q4_1 0.0786, Q4_0 0.0861, Q3_K 0.1505, Q2_K 0.2959; ours are bit-identical quantizers, so the bounds
     * only allow ~15% for the different sample. */
    static const struct { uint32_t type; double bound; } cases[] = {
        {T_F32, 0.0},     {T_F16, 4e-4},    {T_BF16, 3e-3},   {T_Q8_0, 0.0062}, {T_Q6_K, 0.0205},
        {T_Q5_K, 0.042},  {T_Q5_1, 0.044},  {T_Q5_0, 0.049},  {T_Q4_K, 0.082},  {T_Q4_1, 0.090},
        {T_Q4_0, 0.099},  {T_Q3_K, 0.175},  {T_Q2_K, 0.34},
    };
    double err[T_COUNT] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t type = cases[i].type;
        err[type] = roundtrip_error(type, x, N);
        CHECK(err[type] <= cases[i].bound, "%s error %.5f above %.5f", type_get(type)->name, err[type], cases[i].bound);
    }
    /* more bits, less error */
    CHECK(err[T_Q6_K] < err[T_Q5_K] && err[T_Q5_K] < err[T_Q4_K] && err[T_Q4_K] < err[T_Q3_K] &&
          err[T_Q3_K] < err[T_Q2_K], "K-quant errors not ordered by bit width");
    CHECK(err[T_Q8_0] < err[T_Q5_0] && err[T_Q5_0] < err[T_Q4_0], "Q8_0 < Q5_0 < Q4_0 violated");
    CHECK(err[T_Q5_1] < err[T_Q4_1], "Q5_1 < Q4_1 violated");
    CHECK(err[T_Q8_0] < err[T_Q6_K], "Q8_0 < Q6_K violated");
}

/* Degenerate rows must not produce NaN or garbage: zeros stay zeros, a constant stays close. */
static void test_degenerate_rows(void) {
    enum { N = 512 };
    static float zeros[N], constant[N], y[N];
    static uint8_t q[N * 4];
    for (int i = 0; i < N; i++) constant[i] = 0.75f;
    for (size_t t = 0; t < N_TYPES; t++) {
        uint32_t type = dequant_types[t];
        const char *name = type_get(type)->name;
        quantize_row(type, zeros, q, N);
        dequantize_row(type, q, y, N);
        bool all_zero = true;
        for (int i = 0; i < N; i++) all_zero &= y[i] == 0.0f;
        CHECK(all_zero, "%s: zeros do not round-trip", name);

        quantize_row(type, constant, q, N);
        dequantize_row(type, q, y, N);
        double worst = 0;
        for (int i = 0; i < N; i++) worst = fmax(worst, fabs((double)y[i] - 0.75));
        CHECK(worst < 0.75 * 0.02, "%s: constant 0.75 comes back off by %g", name, worst);
    }
}

static void test_unsupported_types(void) {
    float x[256] = {0}, y[256];
    uint8_t q[1024];
    static const uint32_t no_quantizer[] = {T_Q8_1, T_Q8_K, T_IQ2_XXS, T_IQ4_NL, T_TQ1_0, T_MXFP4, T_I32, 99};
    for (size_t i = 0; i < sizeof no_quantizer / sizeof no_quantizer[0]; i++) {
        CHECK(!quantize_row(no_quantizer[i], x, q, 256), "type %u claims a quantizer", no_quantizer[i]);
    }
    memset(q, 0, sizeof q);
    CHECK(isnan(vec_dot_row(T_IQ2_XXS, q, x, 256)), "dot of a type without kernel is not NaN");
    CHECK(isnan(vec_dot_row(1000, q, x, 256)), "dot of an unknown type is not NaN");
    dequantize_row(T_Q8_K, q, y, 256);
    CHECK(isnan(y[0]) && isnan(y[255]), "dequantizing a type without kernel does not give NaN");
    /* every type types.c calls computable has all three kernels */
    for (uint32_t type = 0; type < T_COUNT; type++) {
        const type_traits *tt = type_get(type);
        if (!tt || !tt->computable) continue;
        bool listed = false;
        for (size_t t = 0; t < N_TYPES; t++) listed |= dequant_types[t] == type;
        CHECK(listed, "computable type %s is not tested", tt->name);
        CHECK(!isnan(vec_dot_row(type, q, x, 256)), "computable type %s has no dot kernel", tt->name);
    }
}

/* |fused - exact| <= 1e-6 * sum |w_i x_i|: float accumulation error relative to the magnitude of the terms. */
static void check_dot(uint32_t type, const void *row, const float *x, int64_t n, const char *what) {
    float *w = malloc(sizeof(float) * (size_t)n);
    dequantize_row(type, row, w, n);
    double exact = 0, magnitude = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)w[i] * x[i];
        magnitude += fabs((double)w[i] * x[i]);
    }
    double fused = vec_dot_row(type, row, x, n);
    double rel = magnitude > 0 ? fabs(fused - exact) / magnitude : fabs(fused - exact);
    CHECK(rel <= 1e-6, "%s %s: fused %.9g, exact %.9g (rel %.3g)", type_get(type)->name, what, fused, exact, rel);
    free(w);
}

static void test_vec_dot(void) {
    enum { N = 4 * 256 };
    static float w[N], x[N];
    static uint8_t q[N * 4];
    for (size_t t = 0; t < N_TYPES; t++) {
        uint32_t type = dequant_types[t];
        for (int trial = 0; trial < 4; trial++) {
            for (int i = 0; i < N; i++) {
                w[i] = rng_gauss() * (trial == 3 ? 1000.0f : 1.0f);
                x[i] = rng_gauss() + (trial == 2 ? 3.0f : 0.0f); /* trial 2: biased x exercises the min terms */
            }
            quantize_row(type, w, q, N);
            check_dot(type, q, x, N, "quantized gaussian");
        }
        /* the random blocks of the dequantization fixtures (negative scales, every bit pattern); the float
         * types' fixtures hold NaN/Inf patterns, so use their quantization fixtures instead */
        fixture f;
        bool is_float = type == T_F32 || type == T_F16 || type == T_BF16;
        if (load_fixture(is_float ? "quant" : "deq", type, &f)) {
            float *xs = malloc(sizeof(float) * f.n);
            for (uint32_t i = 0; i < f.n; i++) xs[i] = rng_gauss();
            /* the float types' first 32 inputs are overflow/NaN probes: start after them */
            uint32_t skip = is_float ? 32 : 0;
            check_dot(type, f.bytes + (size_t)skip * (f.nbytes / f.n), xs, f.n - skip, "fixture blocks");
            free(xs);
        }
        free_fixture(&f);
    }
}

int main(void) {
    test_type_sizes();
    test_dequantize_exact();
    test_quantize_exact();
    test_roundtrip_error();
    test_degenerate_rows();
    test_unsupported_types();
    test_vec_dot();
    TEST_SUMMARY("test_quant");
}
