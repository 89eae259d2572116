/* test_synth.c — the GGUF writer and synthetic models.
 *
 *   1. gguf_write: every metadata type and a few tensors written, read back with the reader field by field;
 *      misuse (duplicate key/tensor, bad row length, short or long tensor data) fails with a message.
 *   2. Plans of the real shapes, without writing the weights: parameter counts against the published ones
 *      (within 1%), tensor counts against real converted files, Q4_K_M sizes against real llama-quantize
 *      output (qwen3-4b 2,491,323,904 and gemma3-1b 799,525,120 bytes of tensors, as llama.cpp reports
 *      them), and the layer-dependent shapes and types (Gemma 4 full vs sliding layers, double-wide FFN,
 *      K = V on 31B full layers, per-layer inputs, fallbacks of rows that are not a multiple of 256).
 *   3. The fast K-quantizers: blocks decode (reference dequantizer) close to the input.
 *   4. `tiny` written for real: read back (metadata, shapes, weight statistics), independent of the thread
 *      count, loaded by hearth and evaluated (finite logits).
 * Runs in a few seconds; files go to a temporary directory that is removed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "hearth.h"
#include "quant.h"
#include "synth.h"
#include "synth_quant.h"
#include "testutil.h"
#include "types.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

static char tmpdir[256];

static void path_in_tmp(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

/* ------------------------------------------------------------------------------------------ 1. writer */

static void test_writer(void) {
    char path[512];
    path_in_tmp(path, sizeof path, "w.gguf");
    gguf_writer *w = gguf_writer_new();
    CHECK(w != NULL);
    int32_t i32s[3] = {-1, 0, 7};
    uint32_t u32s[2] = {5, 4000000000u};
    float f32s[2] = {0.5f, -2.0f};
    bool bools[3] = {true, false, true};
    const char *strs[3] = {"a", "", "gamma"};
    CHECK_EQ_INT(gguf_w_str(w, "general.architecture", "test"), 0);
    CHECK_EQ_INT(gguf_w_u32(w, "k.u32", 42), 0);
    CHECK_EQ_INT(gguf_w_i32(w, "k.i32", -42), 0);
    CHECK_EQ_INT(gguf_w_u64(w, "k.u64", 1ull << 40), 0);
    CHECK_EQ_INT(gguf_w_f32(w, "k.f32", 1.25f), 0);
    CHECK_EQ_INT(gguf_w_bool(w, "k.bool", true), 0);
    CHECK_EQ_INT(gguf_w_arr_i32(w, "k.ai32", i32s, 3), 0);
    CHECK_EQ_INT(gguf_w_arr_u32(w, "k.au32", u32s, 2), 0);
    CHECK_EQ_INT(gguf_w_arr_f32(w, "k.af32", f32s, 2), 0);
    CHECK_EQ_INT(gguf_w_arr_bool(w, "k.abool", bools, 3), 0);
    CHECK_EQ_INT(gguf_w_arr_str(w, "k.astr", strs, 3), 0);
    CHECK_EQ_INT(gguf_w_arr_str(w, "k.empty", NULL, 0), 0);
    CHECK(gguf_w_u32(w, "k.u32", 1) < 0, "duplicate key accepted");
    CHECK(strstr(hearth_last_error(), "duplicate") != NULL, "%s", hearth_last_error());
    int64_t ne_a[2] = {64, 3}, ne_b[1] = {5}, ne_bad[2] = {48, 2}, ne_c[2] = {256, 2};
    CHECK_EQ_INT(gguf_w_tensor(w, "a", T_Q8_0, 2, ne_a), 0);
    CHECK_EQ_INT(gguf_w_tensor(w, "b", T_F32, 1, ne_b), 1);
    CHECK(gguf_w_tensor(w, "a", T_F32, 1, ne_b) < 0, "duplicate tensor accepted");
    CHECK(gguf_w_tensor(w, "bad", T_Q4_K, 2, ne_bad) < 0, "row of 48 accepted for Q4_K");
    CHECK_EQ_INT(gguf_w_tensor(w, "c", T_Q4_K, 2, ne_c), 2);
    CHECK_EQ_INT(gguf_w_tensor_bytes(w, 0), 3 * 2 * 34);
    CHECK_EQ_INT(gguf_w_tensor_bytes(w, 2), 2 * 144);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) { gguf_writer_free(w); return; }
    CHECK_EQ_INT(gguf_w_begin(w, fp), 0);
    CHECK(gguf_w_str(w, "late", "x") < 0, "key after the header accepted");
    /* tensor a: Q8_0 rows quantized from known values, written in two pieces */
    float rows[3][64];
    uint8_t qa[3 * 68];
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 64; i++) rows[r][i] = (float)(r * 64 + i) / 100.0f - 1.0f;
    for (int r = 0; r < 3; r++) quantize_row(T_Q8_0, rows[r], qa + r * 68, 64);
    CHECK_EQ_INT(gguf_w_write(w, fp, qa, 100), 0);
    CHECK_EQ_INT(gguf_w_write(w, fp, qa + 100, sizeof qa - 100), 0);
    CHECK(gguf_w_write(w, fp, qa, 1) < 0, "write past a tensor's end accepted");
    CHECK_EQ_INT(gguf_w_end_tensor(w, fp), 0);
    float fb[5] = {1, 2, 3, 4, 5};
    CHECK_EQ_INT(gguf_w_write(w, fp, fb, 8), 0);
    CHECK(gguf_w_end_tensor(w, fp) < 0, "short tensor accepted");
    CHECK_EQ_INT(gguf_w_write(w, fp, fb + 2, 12), 0);
    CHECK_EQ_INT(gguf_w_end_tensor(w, fp), 0);
    CHECK(gguf_w_finish(w, fp) < 0, "finish with a tensor missing accepted");
    uint8_t qc[2 * 144] = {0};
    CHECK_EQ_INT(gguf_w_write(w, fp, qc, sizeof qc), 0);
    CHECK_EQ_INT(gguf_w_end_tensor(w, fp), 0);
    CHECK_EQ_INT(gguf_w_finish(w, fp), 0);
    const uint64_t expect_size = gguf_w_file_bytes(w);
    fclose(fp);
    gguf_writer_free(w);

    gguf_file f;
    int rc = gguf_open(&f, path);
    CHECK_EQ_INT(rc, 0);
    if (rc) { fprintf(stderr, "%s\n", hearth_last_error()); return; }
    CHECK_EQ_INT(f.size, expect_size);
    CHECK_EQ_INT(f.version, 3);
    CHECK_EQ_INT(f.n_tensors, 3);
    uint32_t u;
    int64_t i64;
    float fl;
    bool bo;
    gguf_str s;
    CHECK(gguf_get_u32(&f, "k.u32", &u) == 1 && u == 42);
    CHECK(gguf_get_i64(&f, "k.i32", &i64) == 1 && i64 == -42);
    CHECK(gguf_get_i64(&f, "k.u64", &i64) == 1 && i64 == (1ll << 40));
    CHECK(gguf_get_f32(&f, "k.f32", &fl) == 1 && fl == 1.25f);
    CHECK(gguf_get_bool(&f, "k.bool", &bo) == 1 && bo);
    CHECK(gguf_get_str(&f, "general.architecture", &s) == 1 && gguf_str_eq(s, "test"));
    const gguf_kv *kv = gguf_find_kv(&f, "k.ai32");
    CHECK(kv && kv->type == GGUF_ARRAY && kv->arr_n == 3 && gguf_arr_i64(kv, 0, &i64) && i64 == -1 &&
          gguf_arr_i64(kv, 2, &i64) && i64 == 7);
    kv = gguf_find_kv(&f, "k.au32");
    CHECK(kv && kv->arr_n == 2 && gguf_arr_i64(kv, 1, &i64) && i64 == 4000000000ll);
    double d;
    kv = gguf_find_kv(&f, "k.af32");
    CHECK(kv && kv->arr_n == 2 && gguf_arr_f64(kv, 1, &d) && d == -2.0);
    kv = gguf_find_kv(&f, "k.abool");
    CHECK(kv && kv->arr_n == 3 && gguf_arr_i64(kv, 1, &i64) && i64 == 0 && gguf_arr_i64(kv, 2, &i64) && i64 == 1);
    kv = gguf_find_kv(&f, "k.astr");
    CHECK(kv && kv->arr_type == GGUF_STRING && kv->arr_n == 3 && gguf_str_eq(kv->strs[2], "gamma") &&
          kv->strs[1].n == 0);
    kv = gguf_find_kv(&f, "k.empty");
    CHECK(kv && kv->arr_n == 0);
    const gguf_tensor *ta = gguf_find_tensor(&f, "a"), *tb = gguf_find_tensor(&f, "b"), *tc = gguf_find_tensor(&f, "c");
    CHECK(ta && ta->type == T_Q8_0 && ta->ne[0] == 64 && ta->ne[1] == 3 && ta->n_dims == 2);
    CHECK(tb && tb->type == T_F32 && tb->ne[0] == 5 && tb->n_dims == 1);
    CHECK(tc && tc->type == T_Q4_K && tc->ne[0] == 256);
    if (ta) CHECK(memcmp(ta->data, qa, sizeof qa) == 0, "tensor a's bytes differ");
    if (tb) CHECK(memcmp(tb->data, fb, sizeof fb) == 0, "tensor b's bytes differ");
    if (ta) CHECK((uintptr_t)((const uint8_t *)ta->data - f.data) % 32 == 0 && tb->offset % 32 == 0 && tc->offset % 32 == 0);
    gguf_close(&f);
}

/* ------------------------------------------------------------------------------------------- 2. plans */

typedef struct {
    int n;
    char names[1024][64];
    char types[1024][8];
    int64_t ne[1024][2];
    int n_dims[1024];
} plan_log;

static void log_tensor(void *user, const char *name, const char *type, int n_dims, const int64_t ne[4], uint64_t nb) {
    (void)nb;
    plan_log *pl = user;
    if (pl->n >= 1024) return;
    snprintf(pl->names[pl->n], 64, "%s", name);
    snprintf(pl->types[pl->n], 8, "%s", type);
    pl->ne[pl->n][0] = ne[0];
    pl->ne[pl->n][1] = ne[1];
    pl->n_dims[pl->n] = n_dims;
    pl->n++;
}

static int find(const plan_log *pl, const char *name) {
    for (int i = 0; i < pl->n; i++)
        if (!strcmp(pl->names[i], name)) return i;
    return -1;
}

/* The tensor exists with this shape (ne1 = 0: 1-D) and, if type is not NULL, this type. */
static void expect(const plan_log *pl, const char *model, const char *name, int64_t ne0, int64_t ne1, const char *type) {
    int i = find(pl, name);
    CHECK(i >= 0, "%s: no tensor %s", model, name);
    if (i < 0) return;
    CHECK(pl->ne[i][0] == ne0 && (ne1 ? pl->ne[i][1] == ne1 : pl->n_dims[i] == 1), "%s: %s is [%lld, %lld]", model,
          name, (long long)pl->ne[i][0], (long long)pl->ne[i][1]);
    if (type) CHECK(!strcmp(pl->types[i], type), "%s: %s is %s, expected %s", model, name, pl->types[i], type);
}

static plan_log *plan(const char *model, const char *type, hearth_synth_info *info) {
    static plan_log pl;
    memset(&pl, 0, sizeof pl);
    hearth_synth_params sp = {.type = type, .on_tensor = log_tensor, .user = &pl};
    int rc = hearth_synth(model, NULL, &sp, info);
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "%s: %s\n", model, hearth_last_error());
    CHECK_EQ_INT(pl.n, info->n_tensors);
    return &pl;
}

static void test_plans(void) {
    /* every known model: published parameter count (where known) within 1%, tensor count as converted */
    const char *name;
    for (int i = 0; (name = hearth_synth_name(i, NULL)); i++) {
        hearth_synth_info info;
        plan(name, "Q4_K_M", &info);
        if (info.ref_params) {
            double rel = fabs((double)info.n_params - (double)info.ref_params) / (double)info.ref_params;
            CHECK(rel < 0.01, "%s: %llu parameters, published %llu", name, (unsigned long long)info.n_params,
                  (unsigned long long)info.ref_params);
        }
        if (info.ref_tensors) CHECK(info.n_tensors == info.ref_tensors, "%s: %d tensors, real %d", name, info.n_tensors, info.ref_tensors);
        CHECK(info.file_bytes > info.n_bytes, "%s", name);
    }
    CHECK(hearth_synth_name(0, NULL) && !strcmp(hearth_synth_name(0, NULL), "tiny"));
    int n_models = 0;
    while (hearth_synth_name(n_models, NULL)) n_models++;
    CHECK(n_models >= 9);

    /* sizes of real llama-quantize Q4_K_M files, tensor data only, as llama.cpp reports them */
    hearth_synth_info info;
    plan("qwen3-4b", "Q4_K_M", &info);
    CHECK_EQ_INT(info.n_bytes, 2491323904ull);
    plan("gemma3-1b", "Q4_K_M", &info);
    CHECK_EQ_INT(info.n_bytes, 799525120ull);

    /* Gemma 4 E2B: 35 layers, 4 sliding : 1 full, head 256 / 512, 1 KV head, PLE 256, 20 shared-KV layers
     * with double-wide FFN, tied embeddings */
    plan_log *pl = plan("gemma4-e2b", "Q4_K_M", &info);
    CHECK(info.n_params > 4600000000ull && info.n_params < 4700000000ull, "%llu", (unsigned long long)info.n_params);
    expect(pl, "e2b", "token_embd.weight", 1536, 262144, "Q6_K");
    expect(pl, "e2b", "per_layer_token_embd.weight", 35 * 256, 262144, "Q6_K");
    expect(pl, "e2b", "per_layer_model_proj.weight", 1536, 35 * 256, "BF16");
    expect(pl, "e2b", "per_layer_proj_norm.weight", 256, 0, "F32");
    expect(pl, "e2b", "rope_freqs.weight", 256, 0, "F32");
    expect(pl, "e2b", "blk.0.attn_q.weight", 1536, 8 * 256, "Q4_K");
    expect(pl, "e2b", "blk.0.attn_k.weight", 1536, 256, "Q4_K");
    expect(pl, "e2b", "blk.0.attn_v.weight", 1536, 256, "Q6_K"); /* first eighth: more bits */
    expect(pl, "e2b", "blk.4.attn_q.weight", 1536, 8 * 512, NULL);
    expect(pl, "e2b", "blk.4.attn_k.weight", 1536, 512, NULL);
    expect(pl, "e2b", "blk.4.attn_output.weight", 8 * 512, 1536, "Q4_K");
    expect(pl, "e2b", "blk.4.attn_q_norm.weight", 512, 0, "F32");
    expect(pl, "e2b", "blk.14.ffn_gate.weight", 1536, 6144, NULL);
    expect(pl, "e2b", "blk.15.ffn_gate.weight", 1536, 12288, NULL);
    expect(pl, "e2b", "blk.15.ffn_down.weight", 12288, 1536, NULL);
    expect(pl, "e2b", "blk.34.attn_k.weight", 1536, 512, NULL); /* shared-KV layers still carry K/V */
    expect(pl, "e2b", "blk.34.inp_gate.weight", 1536, 256, "Q4_K");
    expect(pl, "e2b", "blk.34.proj.weight", 256, 1536, "Q4_K");
    expect(pl, "e2b", "blk.34.layer_output_scale.weight", 1, 0, "F32");
    CHECK(find(pl, "output.weight") < 0, "e2b has tied embeddings");

    /* Gemma 4 31B: K = V on full layers (no attn_v), 4 KV heads of 512 there, 16 of 256 on sliding ones */
    pl = plan("gemma4-31b", "Q4_K_M", &info);
    expect(pl, "31b", "blk.0.attn_v.weight", 5376, 16 * 256, NULL);
    expect(pl, "31b", "blk.5.attn_k.weight", 5376, 4 * 512, NULL);
    CHECK(find(pl, "blk.5.attn_v.weight") < 0, "31b full layers have no V");
    expect(pl, "31b", "blk.5.attn_q.weight", 5376, 32 * 512, NULL);
    CHECK(find(pl, "per_layer_token_embd.weight") < 0);

    /* Gemma 3 1B: rows of 1152 are not a multiple of 256, so Q4_K falls back to Q5_0 and Q6_K to Q8_0 */
    pl = plan("gemma3-1b", "Q4_K_M", &info);
    expect(pl, "g3", "token_embd.weight", 1152, 262144, "Q8_0");
    expect(pl, "g3", "blk.0.attn_q.weight", 1152, 1024, "Q5_0");
    expect(pl, "g3", "blk.0.attn_output.weight", 1024, 1152, "Q4_K");
    expect(pl, "g3", "blk.0.ffn_down.weight", 6912, 1152, "Q6_K");
    expect(pl, "g3", "blk.0.post_ffw_norm.weight", 1152, 0, "F32");

    /* Llama 3.1 8B: untied (output Q6_K, token_embd Q4_K), rope_freqs for the llama3 scaling */
    pl = plan("llama3.1-8b", "Q4_K_M", &info);
    expect(pl, "l8", "output.weight", 4096, 128256, "Q6_K");
    expect(pl, "l8", "token_embd.weight", 4096, 128256, "Q4_K");
    expect(pl, "l8", "rope_freqs.weight", 64, 0, "F32");
    expect(pl, "l8", "blk.31.ffn_down.weight", 14336, 4096, "Q6_K");
    expect(pl, "l8", "blk.10.ffn_down.weight", 14336, 4096, "Q4_K");
    CHECK(find(pl, "blk.0.attn_q_norm.weight") < 0, "llama has no QK norm");

    /* other file types */
    pl = plan("llama3.2-1b", "Q4_0", &info);
    expect(pl, "l1 Q4_0", "token_embd.weight", 2048, 128256, "Q6_K");
    expect(pl, "l1 Q4_0", "blk.0.attn_q.weight", 2048, 2048, "Q4_0");
    pl = plan("llama3.2-1b", "Q8_0", &info);
    expect(pl, "l1 Q8_0", "token_embd.weight", 2048, 128256, "Q8_0");
    pl = plan("llama3.2-1b", "F16", &info);
    expect(pl, "l1 F16", "blk.0.ffn_up.weight", 2048, 8192, "F16");
    expect(pl, "l1 F16", "blk.0.ffn_norm.weight", 2048, 0, "F32");
    pl = plan("qwen3-4b", "Q3_K_M", &info);
    expect(pl, "q Q3_K_M", "blk.0.attn_v.weight", 2560, 1024, "Q5_K");
    expect(pl, "q Q3_K_M", "blk.2.attn_v.weight", 2560, 1024, "Q4_K");
    expect(pl, "q Q3_K_M", "blk.0.attn_output.weight", 4096, 2560, "Q4_K");
    expect(pl, "q Q3_K_M", "blk.5.ffn_up.weight", 2560, 9728, "Q3_K");
    pl = plan("qwen3-4b", "Q5_K_M", &info);
    expect(pl, "q Q5_K_M", "blk.5.ffn_up.weight", 2560, 9728, "Q5_K");
    pl = plan("qwen3-4b", "BF16", &info);
    expect(pl, "q BF16", "token_embd.weight", 2560, 151936, "BF16");

    hearth_synth_params bad = {.type = "Q7_X"};
    CHECK(hearth_synth("tiny", NULL, &bad, &info) == HEARTH_ERR_ARG);
    CHECK(hearth_synth("no-such-model", NULL, NULL, &info) == HEARTH_ERR_ARG);
    CHECK(strstr(hearth_last_error(), "gemma4-e2b") != NULL, "the error lists the known models");
}

/* -------------------------------------------------------------------------------- 3. fast quantizers */

static void test_fast_quant(void) {
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t q[N * 2];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (s >> 11) / 9007199254740992.0;
        x[i] = (float)(0.05 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    x[7] = 0.4f; /* an outlier */
    const struct { uint32_t type; double max_rel_rms; int bits; } cases[] = {
        {T_Q3_K, 0.25, 3}, {T_Q4_K, 0.11, 4}, {T_Q5_K, 0.055, 5}, {T_Q6_K, 0.03, 6}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK(quantize_row_fast(cases[c].type, x, q, N));
        dequantize_row(cases[c].type, q, y, N);
        double se = 0, sx = 0, worst = 0;
        for (int i = 0; i < N; i++) {
            se += (double)(y[i] - x[i]) * (y[i] - x[i]);
            sx += (double)x[i] * x[i];
        }
        /* no element is off by more than about one level of its 16-element sub-block */
        for (int b = 0; b < N; b += 16) {
            float lo = x[b], hi = x[b];
            for (int i = b; i < b + 16; i++) { lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]); }
            float amax = fmaxf(fabsf(lo), fabsf(hi));
            for (int i = b; i < b + 16; i++) {
                double err = fabs(y[i] - x[i]) / (2.0 * amax / ((1 << cases[c].bits) - 1));
                if (err > worst) worst = err;
            }
        }
        double rel = sqrt(se / sx);
        CHECK(rel < cases[c].max_rel_rms, "%s: relative rms error %.4f", type_get(cases[c].type)->name, rel);
        CHECK(worst < 1.5, "%s: an element is %.2f levels off", type_get(cases[c].type)->name, worst);
    }
    /* all-zero and constant rows decode exactly */
    static float z[256], k[256];
    for (int i = 0; i < 256; i++) k[i] = -0.25f;
    const uint32_t ktypes[] = {T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K};
    for (size_t t = 0; t < 4; t++) {
        quantize_row_fast(ktypes[t], z, q, 256);
        dequantize_row(ktypes[t], q, y, 256);
        bool zero = true;
        for (int i = 0; i < 256; i++) zero &= y[i] == 0.0f;
        CHECK(zero, "%s: zeros do not decode to zeros", type_get(ktypes[t])->name);
        quantize_row_fast(ktypes[t], k, q, 256);
        dequantize_row(ktypes[t], q, y, 256);
        float worst = 0;
        for (int i = 0; i < 256; i++) worst = fmaxf(worst, fabsf(y[i] - k[i]));
        CHECK(worst < 0.02f, "%s: a constant row is off by %g", type_get(ktypes[t])->name, worst);
    }
}

/* ------------------------------------------------------------------------------------- 4. tiny, written */

static void test_tiny(const char *type) {
    char p1[512], p2[512];
    path_in_tmp(p1, sizeof p1, "tiny1.gguf");
    path_in_tmp(p2, sizeof p2, "tiny2.gguf");
    hearth_synth_info info;
    hearth_synth_params sp = {.type = type, .seed = 7, .n_threads = 1, .n_ctx = 1024};
    CHECK_EQ_INT(hearth_synth("tiny", p1, &sp, &info), 0);
    sp.n_threads = 3;
    CHECK_EQ_INT(hearth_synth("tiny", p2, &sp, NULL), 0);
    size_t n1 = 0, n2 = 0;
    char *b1 = tu_read_file(p1, &n1), *b2 = tu_read_file(p2, &n2);
    CHECK(b1 && b2 && n1 == n2 && n1 == info.file_bytes && memcmp(b1, b2, n1) == 0,
          "%s: the file depends on the thread count", type);
    CHECK(info.file_bytes < 8u << 20, "tiny is %llu bytes", (unsigned long long)info.file_bytes);
    free(b1);
    free(b2);
    sp.seed = 8;
    CHECK_EQ_INT(hearth_synth("tiny", p2, &sp, NULL), 0);
    b1 = tu_read_file(p1, &n1);
    b2 = tu_read_file(p2, &n2);
    CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) != 0, "%s: the seed changes nothing", type);
    free(b1);
    free(b2);

    gguf_file f;
    CHECK_EQ_INT(gguf_open(&f, p1), 0);
    CHECK_EQ_INT(f.n_tensors, (uint64_t)info.n_tensors);
    gguf_str s;
    uint32_t u;
    CHECK(gguf_get_str(&f, "general.architecture", &s) == 1 && gguf_str_eq(s, "gemma4"));
    CHECK(gguf_get_u32(&f, "gemma4.context_length", &u) == 1 && u == 1024);
    CHECK(gguf_get_u32(&f, "gemma4.attention.shared_kv_layers", &u) == 1 && u == 4);
    CHECK(gguf_get_u32(&f, "gemma4.embedding_length_per_layer_input", &u) == 1 && u == 32);
    const gguf_kv *kv = gguf_find_kv(&f, "gemma4.attention.sliding_window_pattern");
    int64_t v;
    CHECK(kv && kv->arr_n == 8 && gguf_arr_i64(kv, 2, &v) && v == 1 && gguf_arr_i64(kv, 3, &v) && v == 0);
    kv = gguf_find_kv(&f, "gemma4.feed_forward_length");
    CHECK(kv && kv->arr_n == 8 && gguf_arr_i64(kv, 3, &v) && v == 256 && gguf_arr_i64(kv, 4, &v) && v == 512);
    kv = gguf_find_kv(&f, "tokenizer.ggml.tokens");
    CHECK(kv && kv->arr_n == 512 && gguf_str_eq(kv->strs[2], "<bos>") && gguf_str_eq(kv->strs[4 + 0x41], "<0x41>"));
    /* weights: norms about 1, matrices about N(0, 1/fan_in), rope_freqs exact */
    const gguf_tensor *t = gguf_find_tensor(&f, "blk.1.ffn_up.weight");
    if (t) {
        int64_t n = t->ne[0] * t->ne[1];
        float *w = malloc(sizeof(float) * (size_t)n);
        const type_traits *tt = type_get(t->type);
        for (int64_t r = 0; r < t->ne[1]; r++)
            dequantize_row(t->type, (const uint8_t *)t->data + r * type_row_bytes(tt, (uint64_t)t->ne[0]), w + r * t->ne[0], t->ne[0]);
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < n; i++) { sum += w[i]; sq += (double)w[i] * w[i]; }
        double mean = sum / n, sd = sqrt(sq / n - mean * mean), want = 1 / sqrt((double)t->ne[0]);
        CHECK(fabs(mean) < 0.1 * want && fabs(sd / want - 1) < 0.1, "%s: mean %g sd %g (want %g)", type, mean, sd, want);
        free(w);
    } else CHECK(0, "no blk.1.ffn_up.weight");
    t = gguf_find_tensor(&f, "blk.0.attn_norm.weight");
    if (t) {
        const float *w = t->data;
        double sum = 0;
        for (int i = 0; i < 128; i++) sum += w[i];
        CHECK(t->type == T_F32 && fabs(sum / 128 - 1) < 0.05, "norm mean %g", sum / 128);
    } else CHECK(0, "no blk.0.attn_norm.weight");
    t = gguf_find_tensor(&f, "rope_freqs.weight");
    CHECK(t && t->ne[0] == 32 && ((const float *)t->data)[7] == 1.0f && ((const float *)t->data)[8] == 1e30f);
    gguf_close(&f);

    /* hearth loads and runs it */
    hearth_model *m = hearth_model_load(p1, NULL);
    CHECK(m != NULL, "%s", hearth_last_error());
    if (!m) return;
    CHECK_EQ_INT(hearth_model_n_vocab(m), 512);
    CHECK(hearth_model_decode_bytes(m) > 0 && hearth_model_decode_bytes(m) < info.n_bytes);
    hearth_session_params sp2 = {.n_ctx = 128, .n_threads = 2};
    hearth_session *sess = hearth_session_new(m, &sp2);
    CHECK(sess != NULL);
    if (sess) {
        int32_t ids[100];
        for (int i = 0; i < 100; i++) ids[i] = (i * 37 + 2) % 512; /* longer than the sliding window of 64 */
        CHECK_EQ_INT(hearth_session_eval(sess, ids, 100, NULL), 0);
        const float *lg = hearth_session_logits(sess);
        bool finite = true, varied = false;
        for (int i = 0; i < 512; i++) { finite &= isfinite(lg[i]); varied |= lg[i] != lg[0]; }
        CHECK(finite && varied, "%s: logits not finite or constant", type);
        for (int i = 0; i < 4; i++) CHECK_EQ_INT(hearth_session_eval(sess, &ids[i], 1, NULL), 0);
        hearth_session_free(sess);
    }
    hearth_model_free(m);
    remove(p1);
    remove(p2);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hearth-test-synth-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_writer();
    test_plans();
    test_fast_quant();
    test_tiny("Q8_0");
    test_tiny("Q4_K_M");
    test_tiny("F32");
    char p[512];
    path_in_tmp(p, sizeof p, "w.gguf");
    remove(p);
    rmdir(tmpdir);
    TEST_SUMMARY("test_synth");
}
