/* test_tokenizer.c — tokenizers against the llama.cpp vocabulary test files (made with the models' Hugging
 * Face tokenizers), extra references for a mixed corpus (tests/data/tokenizer, made with transformers.js
 * ports of the Hugging Face tokenizers, see scripts/tok_refs.js), special tokens, EOG, pieces and
 * decode(encode(x)) == x on generated text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "tokenizer.h"
#include "unicode.h"
#include "util.h"

/* Until src/gguf.c exists on this branch, link a test-only reader of the same API. */
#if defined(__has_include)
#if !__has_include("../src/gguf.c")
#include "tok_gguf_standin.c"
#endif
#endif

static tokenizer *load_vocab(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-%s.gguf", tu_shared_dir(), name);
    gguf_file f;
    if (gguf_open(&f, path) != 0) {
        fprintf(stderr, "cannot open %s: %s\n", path, hearth_last_error());
        return NULL;
    }
    tokenizer *t = NULL;
    int rc = tokenizer_load_gguf(&t, &f);
    gguf_close(&f);
    if (rc) fprintf(stderr, "tokenizer_load_gguf(%s): %s\n", name, hearth_last_error());
    return t;
}

static int encode_all(const tokenizer *t, const char *s, size_t n, bool bos, bool special, int32_t **out) {
    int cnt = tokenizer_encode(t, s, n, bos, special, NULL, 0);
    if (cnt < 0) { *out = NULL; return cnt; }
    *out = malloc(((size_t)cnt + 1) * sizeof **out);
    int cnt2 = tokenizer_encode(t, s, n, bos, special, *out, cnt);
    if (cnt2 != cnt) { free(*out); *out = NULL; return -1000; }
    return cnt;
}

static char *decode_all(const tokenizer *t, const int32_t *ids, size_t n, bool special, size_t *len) {
    size_t need = tokenizer_decode(t, ids, n, special, NULL, 0);
    char *buf = malloc(need + 1);
    size_t got = tokenizer_decode(t, ids, n, special, buf, need + 1);
    if (got != need) { free(buf); return NULL; }
    *len = need;
    return buf;
}

static void print_ids(const char *what, const int32_t *ids, int n) {
    fprintf(stderr, "  %s:", what);
    for (int i = 0; i < n && i < 64; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "%s\n", n > 64 ? " ..." : "");
}

/* Checks that decode(encode(s)) == s (or NFC(s) when nfc). Returns true on success. */
static bool roundtrip(const tokenizer *t, const char *s, size_t n, bool nfc) {
    int32_t *ids;
    int cnt = encode_all(t, s, n, true, false, &ids);
    if (cnt < 0) return false;
    size_t dl;
    char *d = decode_all(t, ids, (size_t)cnt, false, &dl);
    const char *want = s;
    size_t wl = n;
    uint8_t *norm = NULL;
    if (nfc) {
        bool same;
        norm = unicode_nfc((const uint8_t *)s, n, &wl, &same);
        if (same) wl = n;
        else want = (const char *)norm;
    }
    bool ok = d && dl == wl && memcmp(d, want, wl) == 0;
    free(norm);
    free(d);
    free(ids);
    return ok;
}

/* ------------------------------------------------------------------ the llama.cpp vocabulary test files */

/* Splits .inp at "\n__ggml_vocab_test__\n" (the rest after the last separator is the last test, as is) and
 * .out into lines (a final newline ends the last line); each .out line is whitespace-trimmed and holds
 * space-separated ids. Returns the number of passing tests; *total gets the number of tests. */
static int run_vocab_file(const char *name, const tokenizer *t, bool nfc, int *total) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-%s.gguf.inp", tu_shared_dir(), name);
    size_t inp_n = 0, out_n = 0;
    char *inp = tu_read_file(path, &inp_n);
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-%s.gguf.out", tu_shared_dir(), name);
    char *outf = tu_read_file(path, &out_n);
    *total = 0;
    CHECK(inp && outf, "cannot read test files of %s", name);
    if (!inp || !outf) { free(inp); free(outf); return 0; }

    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sep_n = strlen(sep);
    /* test inputs */
    size_t cap = 16, n_inp = 0;
    const char **is = malloc(cap * sizeof *is);
    size_t *il = malloc(cap * sizeof *il);
    for (size_t pos = 0; pos < inp_n;) {
        const char *next = strstr(inp + pos, sep);
        size_t end = next ? (size_t)(next - inp) : inp_n;
        if (n_inp == cap) { cap *= 2; is = realloc(is, cap * sizeof *is); il = realloc(il, cap * sizeof *il); }
        is[n_inp] = inp + pos;
        il[n_inp] = end - pos;
        n_inp++;
        if (!next) break;
        pos = end + sep_n;
    }
    /* expected lines */
    size_t n_out = 0;
    char **ol = malloc((out_n + 2) * sizeof *ol);
    for (size_t pos = 0; pos < out_n;) {
        char *nl = memchr(outf + pos, '\n', out_n - pos);
        size_t end = nl ? (size_t)(nl - outf) : out_n;
        outf[end] = 0;
        ol[n_out++] = outf + pos;
        pos = end + 1;
    }
    CHECK(n_inp == n_out, "%s: %zu inputs, %zu expected lines", name, n_inp, n_out);
    int pass = 0;
    size_t nt = n_inp < n_out ? n_inp : n_out;
    for (size_t k = 0; k < nt; k++) {
        int32_t want[4096];
        int nw = 0;
        for (char *p = ol[k]; *p;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p) { p++; continue; }
            if (nw < 4096) want[nw++] = (int32_t)v;
            p = e;
        }
        int32_t *got;
        int ng = encode_all(t, is[k], il[k], false, false, &got);
        bool ok = ng == nw && got && memcmp(got, want, (size_t)nw * sizeof *want) == 0;
        CHECK(ok, "%s: test %zu '%.*s'", name, k, (int)(il[k] < 60 ? il[k] : 60), is[k]);
        if (!ok && got) { print_ids("want", want, nw); print_ids("got ", got, ng); }
        bool rt = roundtrip(t, is[k], il[k], nfc);
        CHECK(rt, "%s: decode(encode(test %zu)) differs", name, k);
        if (ok && rt) pass++;
        free(got);
    }
    *total = (int)nt;
    free(is); free(il); free(ol); free(inp); free(outf);
    return pass;
}

static const struct {
    const char *name;
    bool nfc;
} k_vocabs[] = {
    { "gemma-4", false }, { "llama-bpe", false }, { "llama-spm", false }, { "phi-3", false },
    { "qwen2", true },    { "qwen35", false },    { "gpt-2", false },
};
#define N_VOCABS (sizeof k_vocabs / sizeof k_vocabs[0])

static tokenizer *g_tok[N_VOCABS];

static tokenizer *tok_by_name(const char *name) {
    for (size_t i = 0; i < N_VOCABS; i++)
        if (strcmp(k_vocabs[i].name, name) == 0) return g_tok[i];
    return NULL;
}

static void test_vocab_files(void) {
    for (size_t i = 0; i < N_VOCABS; i++) {
        double t0 = now_seconds();
        g_tok[i] = load_vocab(k_vocabs[i].name);
        double t1 = now_seconds();
        CHECK(g_tok[i] != NULL, "load %s", k_vocabs[i].name);
        if (!g_tok[i]) continue;
        int total;
        int pass = run_vocab_file(k_vocabs[i].name, g_tok[i], k_vocabs[i].nfc, &total);
        printf("  vocab %-10s %3d/%3d tests pass (load %.0f ms)\n", k_vocabs[i].name, pass, total, (t1 - t0) * 1e3);
    }
}

int main(void) {
    test_vocab_files();
    for (size_t i = 0; i < N_VOCABS; i++) tokenizer_free(g_tok[i]);
    (void)tok_by_name;
    TEST_SUMMARY("test_tokenizer");
}
