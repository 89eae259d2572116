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

#define CHECK1(cond) CHECK(cond, "%s", "")

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
static bool roundtrip(const tokenizer *t, const char *s, size_t n, bool nfc, bool spm) {
    /* SentencePiece-style vocabularies write spaces as U+2581, so a literal U+2581 comes back as a space */
    if (spm && memmem(s, n, "\xE2\x96\x81", 3)) return true;
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
static int run_test_file(const char *name, const char *inp_path, const char *out_path, const tokenizer *t, bool nfc,
                         bool spm, bool special, int *total) {
    size_t inp_n = 0, out_n = 0;
    char *inp = tu_read_file(inp_path, &inp_n);
    char *outf = out_path ? tu_read_file(out_path, &out_n) : strdup("");
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
    if (!out_path) n_out = n_inp; /* round trips only */
    CHECK(n_inp == n_out, "%s: %zu inputs, %zu expected lines", name, n_inp, n_out);
    int pass = 0;
    size_t nt = n_inp < n_out ? n_inp : n_out;
    for (size_t k = 0; k < nt; k++) {
        if (!out_path) {
            bool rt = roundtrip(t, is[k], il[k], nfc, spm);
            CHECK(rt, "%s: decode(encode(test %zu)) differs", name, k);
            pass += rt;
            continue;
        }
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
        int ng = encode_all(t, is[k], il[k], false, special, &got);
        bool ok = ng == nw && got && memcmp(got, want, (size_t)nw * sizeof *want) == 0;
        CHECK(ok, "%s: test %zu '%.*s'", name, k, (int)(il[k] < 60 ? il[k] : 60), is[k]);
        if (!ok && got) { print_ids("want", want, nw); print_ids("got ", got, ng); }
        bool rt = special || roundtrip(t, is[k], il[k], nfc, spm);
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
    bool nfc, spm;
} k_vocabs[] = {
    { "gemma-4", false, true }, { "llama-bpe", false, false }, { "llama-spm", false, true }, { "phi-3", false, true },
    { "qwen2", true, false },   { "qwen35", false, false },    { "gpt-2", false, false },
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
        char inp[512], out[512];
        snprintf(inp, sizeof inp, "%s/data/vocab/ggml-vocab-%s.gguf.inp", tu_shared_dir(), k_vocabs[i].name);
        snprintf(out, sizeof out, "%s/data/vocab/ggml-vocab-%s.gguf.out", tu_shared_dir(), k_vocabs[i].name);
        int total;
        int pass = run_test_file(k_vocabs[i].name, inp, out, g_tok[i], k_vocabs[i].nfc, k_vocabs[i].spm, false, &total);
        printf("  vocab %-10s %3d/%3d tests pass (load %.0f ms)\n", k_vocabs[i].name, pass, total, (t1 - t0) * 1e3);
    }
}

/* Extra references for a generated mixed corpus (scripts/tok_corpus.py): from transformers.js ports of the
 * Hugging Face tokenizers (scripts/tok_refs.js), for the SentencePiece vocabularies from llama.cpp
 * (scripts/tok_refs_llamacpp.py). */
static void test_mixed_corpus(void) {
    for (size_t i = 0; i < N_VOCABS; i++) {
        if (!g_tok[i]) continue;
        char out[256];
        snprintf(out, sizeof out, "tests/data/tokenizer/mixed.%s.out", k_vocabs[i].name);
        int total;
        int pass = run_test_file(k_vocabs[i].name, "tests/data/tokenizer/mixed.inp", out,
                                 g_tok[i], k_vocabs[i].nfc, k_vocabs[i].spm, false, &total);
        printf("  mixed %-10s %3d/%3d tests pass\n", k_vocabs[i].name, pass, total);
    }
}

/* Chat-template-shaped text with special tokens (parse_special on), references from llama.cpp
 * (scripts/tok_chat_corpus.py, scripts/tok_refs_llamacpp.py). */
static void test_chat_corpus(void) {
    for (size_t i = 0; i < N_VOCABS; i++) {
        if (!g_tok[i]) continue;
        char out[256];
        snprintf(out, sizeof out, "tests/data/tokenizer/chat.%s.out", k_vocabs[i].name);
        int total;
        int pass = run_test_file(k_vocabs[i].name, "tests/data/tokenizer/chat.inp", out, g_tok[i], k_vocabs[i].nfc,
                                 k_vocabs[i].spm, true, &total);
        printf("  chat  %-10s %3d/%3d tests pass\n", k_vocabs[i].name, pass, total);
    }
}


static bool contains(const int32_t *ids, int n, int32_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

/* encode(text) == the given ids */
static bool encodes_to(const tokenizer *t, const char *text, bool bos, bool special, const int32_t *want, int nw) {
    int32_t *got;
    int ng = encode_all(t, text, strlen(text), bos, special, &got);
    bool ok = ng == nw && got && memcmp(got, want, (size_t)nw * sizeof *want) == 0;
    if (!ok && got) { print_ids("want", want, nw); print_ids("got ", got, ng); }
    free(got);
    return ok;
}

/* Control tokens only with parse_special; user-defined ones always; the text decodes back either way. */
static void check_special(const char *vocab, const char *text, int32_t id, bool user_defined) {
    const tokenizer *t = tok_by_name(vocab);
    if (!t) return;
    int32_t *a, *b;
    int na = encode_all(t, text, strlen(text), false, true, &a);
    int nb = encode_all(t, text, strlen(text), false, false, &b);
    CHECK(na > 0 && contains(a, na, id), "%s: '%s' with parse_special has %d", vocab, text, id);
    CHECK(nb > 0 && contains(b, nb, id) == user_defined, "%s: '%s' without parse_special: %d %s", vocab, text, id,
          user_defined ? "missing" : "present");
    size_t l1, l2;
    char *d1 = decode_all(t, a, (size_t)na, true, &l1), *d2 = decode_all(t, b, (size_t)nb, true, &l2);
    bool spm_prefix = strcmp(vocab, "phi-3") == 0 || strcmp(vocab, "llama-spm") == 0;
    if (!spm_prefix) {
        CHECK(d1 && l1 == strlen(text) && memcmp(d1, text, l1) == 0, "%s: decode(special) of '%s' is '%s'", vocab, text, d1);
        CHECK(d2 && l2 == strlen(text) && memcmp(d2, text, l2) == 0, "%s: decode of '%s' is '%s'", vocab, text, d2);
    }
    free(d1); free(d2); free(a); free(b);
}

static void test_special_tokens(void) {
    check_special("llama-bpe", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", 128009, false);
    check_special("llama-bpe", "<|start_header_id|>user<|end_header_id|>", 128006, false);
    check_special("llama-bpe", "x<|begin_of_text|>", 128000, false);
    check_special("gemma-4", "<|turn>user\nHello<turn|>\n", 105, false);
    check_special("gemma-4", "<|turn>user\nHello<turn|>\n", 106, false);
    check_special("gemma-4", "<bos>text", 2, false);
    check_special("gemma-4", "a<|channel>thought<channel|>b", 100, true);   /* user-defined */
    check_special("gemma-4", "call<|tool_call>x<tool_call|>", 48, true);
    check_special("gemma-4", "stop<|tool_response>", 50, false);             /* ends generation: control */
    check_special("gemma-4", "<unused7> and <table>", 13, true);             /* Gemma's added tokens */
    check_special("qwen2", "<|im_start|>user\nHi<|im_end|>\n", 151644, false);
    check_special("qwen2", "<|im_start|>user\nHi<|im_end|>\n", 151645, false);
    check_special("qwen2", "pad[PAD151646]pad", 151646, true);
    check_special("qwen35", "<|endoftext|>", 151643, false);
    check_special("gpt-2", "end<|endoftext|>start", 50256, false);
    check_special("phi-3", "<|user|>\nHi<|end|>", 32010, false);
    check_special("phi-3", "a</s>b", 2, true);
    check_special("llama-spm", "<s>Hi</s>", 1, false);

    /* exact sequences */
    const tokenizer *t = tok_by_name("llama-bpe");
    if (t) {
        const int32_t want[] = { 128000, 128006, 882, 128007, 271, 13347, 128009 };
        CHECK1(encodes_to(t, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", true, true, want, 7));
    }
    t = tok_by_name("gemma-4");
    if (t) { /* leftmost-longest among the added newline runs: 31 + 9 */
        char nl[41];
        memset(nl, '\n', 40);
        nl[40] = 0;
        const int32_t want[] = { 137, 115 };
        CHECK1(encodes_to(t, nl, false, false, want, 2));
        const int32_t want2[] = { 2, 105, 2364, 107, 9259, 106 };
        CHECK1(encodes_to(t, "<|turn>user\nHello<turn|>", true, true, want2, 6));
    }
    t = tok_by_name("llama-spm");
    if (t) { /* a space is prefixed to every text fragment, also after a special token */
        const int32_t want[] = { 1, 1, 15043, 2 };
        CHECK1(encodes_to(t, "<s>Hello</s>", true, true, want, 4));
        const int32_t want2[] = { 1, 15043 };
        CHECK1(encodes_to(t, "Hello", true, false, want2, 2));
    }
}

static void test_eog_and_ids(void) {
    struct { const char *vocab; int32_t bos, eos, eot; int32_t eog[4]; int32_t not_eog[2]; bool add_bos; } k[] = {
        { "llama-bpe", 128000, 128001, 128009, { 128001, 128009, -1, -1 }, { 128000, 128006 }, true },
        { "gemma-4", 2, 1, 106, { 1, 106, 50, -1 }, { 2, 105 }, true },
        { "qwen2", 151643, 151643, 151645, { 151643, 151645, -1, -1 }, { 151644, 151646 }, false },
        { "qwen35", 151643, 151643, 151645, { 151643, 151645, -1, -1 }, { 151644, 0 }, false },
        { "phi-3", 1, 32000, 32007, { 32000, 32007, -1, -1 }, { 1, 32010 }, true },
        { "llama-spm", 1, 2, -1, { 2, -1, -1, -1 }, { 1, 0 }, true },
        { "gpt-2", 50256, 50256, 50256, { 50256, -1, -1, -1 }, { 0, 198 }, false },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        const tokenizer *t = tok_by_name(k[i].vocab);
        if (!t) continue;
        CHECK(tokenizer_bos(t) == k[i].bos, "%s bos %d", k[i].vocab, tokenizer_bos(t));
        CHECK(tokenizer_eos(t) == k[i].eos, "%s eos %d", k[i].vocab, tokenizer_eos(t));
        CHECK(tokenizer_eot(t) == k[i].eot, "%s eot %d", k[i].vocab, tokenizer_eot(t));
        CHECK(tokenizer_add_bos(t) == k[i].add_bos, "%s add_bos", k[i].vocab);
        for (int j = 0; j < 4 && k[i].eog[j] >= 0; j++)
            CHECK(tokenizer_is_eog(t, k[i].eog[j]), "%s: %d should end generation", k[i].vocab, k[i].eog[j]);
        for (int j = 0; j < 2; j++)
            CHECK(!tokenizer_is_eog(t, k[i].not_eog[j]), "%s: %d should not end generation", k[i].vocab, k[i].not_eog[j]);
        CHECK1(!tokenizer_is_eog(t, -1) && !tokenizer_is_eog(t, tokenizer_n_vocab(t)));
        int32_t ids[4];
        int n = tokenizer_encode(t, "Hi", 2, true, false, ids, 4);
        CHECK(n >= 1 && (ids[0] == k[i].bos) == k[i].add_bos, "%s: BOS added: %d", k[i].vocab, ids[0]);
    }
}

static bool piece_is(const tokenizer *t, int32_t id, bool special, const char *want, size_t wl) {
    char buf[64];
    int n = tokenizer_token_to_piece(t, id, special, buf, sizeof buf);
    return n == (int)wl && memcmp(buf, want, wl) == 0;
}

static void test_pieces(void) {
    const tokenizer *t = tok_by_name("llama-spm");
    if (t) {
        CHECK1(piece_is(t, 13, false, "\n", 1));            /* <0x0A> */
        CHECK1(piece_is(t, 15043, false, " Hello", 6));     /* ▁Hello */
        CHECK1(piece_is(t, 1, false, "", 0));               /* control, not special */
        CHECK1(piece_is(t, 1, true, "<s>", 3));
        CHECK1(tokenizer_token_type(t, 1) == TOK_TYPE_CONTROL && tokenizer_token_type(t, 13) == TOK_TYPE_BYTE);
        char small[2];
        CHECK_EQ_INT(tokenizer_token_to_piece(t, 15043, false, small, 2), 6); /* needed length, nothing written */
        CHECK1(tokenizer_token_to_piece(t, -1, false, small, 2) == HEARTH_ERR_ARG);
        CHECK1(tokenizer_token_to_piece(t, 32000, false, small, 2) == HEARTH_ERR_ARG);
        CHECK1(tokenizer_find(t, "\xE2\x96\x81Hello", 8) == 15043);
    }
    t = tok_by_name("gpt-2");
    if (t) {
        CHECK1(piece_is(t, 220, false, " ", 1));
        CHECK1(piece_is(t, 198, false, "\n", 1));
        CHECK1(piece_is(t, 50256, true, "<|endoftext|>", 13));
        CHECK1(piece_is(t, 50256, false, "", 0));
    }
    t = tok_by_name("gemma-4");
    if (t) {
        CHECK1(piece_is(t, 236743, false, " ", 1));
        CHECK1(piece_is(t, 107, false, "\n", 1));
        CHECK1(piece_is(t, 140, false, "    ", 4));        /* ▁▁▁▁ */
        CHECK1(piece_is(t, 238, false, "\0", 1));           /* <0x00> */
        CHECK1(piece_is(t, 100, false, "<|channel>", 10));  /* user-defined: always rendered */
        CHECK1(piece_is(t, 106, false, "", 0));
        CHECK1(piece_is(t, 106, true, "<turn|>", 7));
    }
    t = tok_by_name("qwen2");
    if (t) { /* a token that is part of a UTF-8 sequence gives the raw bytes */
        int32_t ids[8];
        int n = tokenizer_encode(t, "\xF4\x8F\xBF\xBD", 4, false, false, ids, 8); /* U+10FFFD */
        CHECK(n >= 2, "%d", n);
        char buf[16];
        size_t o = 0;
        for (int i = 0; i < n && i < 8; i++) {
            int k = tokenizer_token_to_piece(t, ids[i], false, buf + o, (int)(sizeof buf - o));
            CHECK(k > 0 && k < 4, "piece %d has %d bytes", ids[i], k);
            if (k > 0) o += (size_t)k;
        }
        CHECK1(o == 4 && memcmp(buf, "\xF4\x8F\xBF\xBD", 4) == 0);
    }
}

static void test_api_edges(void) {
    const tokenizer *t = tok_by_name("llama-bpe");
    if (!t) return;
    const char *text = "The quick brown fox jumps over the lazy dog.";
    int32_t ids[64], few[3];
    int n = tokenizer_encode(t, text, strlen(text), false, false, ids, 64);
    CHECK(n == 10, "%d", n);
    CHECK_EQ_INT(tokenizer_encode(t, text, strlen(text), false, false, NULL, 0), n);
    few[2] = -7;
    CHECK_EQ_INT(tokenizer_encode(t, text, strlen(text), false, false, few, 2), n);
    CHECK(few[0] == ids[0] && few[1] == ids[1] && few[2] == -7, "truncated output");
    CHECK_EQ_INT(tokenizer_encode(t, "", 0, false, false, ids, 64), 0);
    CHECK_EQ_INT(tokenizer_encode(t, NULL, 0, false, false, ids, 64), 0);
    CHECK1(tokenizer_encode(t, NULL, 5, false, false, ids, 64) == HEARTH_ERR_ARG);
    CHECK1(tokenizer_encode(t, text, 3, false, false, NULL, 4) == HEARTH_ERR_ARG);
    /* decode: snprintf convention */
    char buf[8];
    size_t need = tokenizer_decode(t, ids, (size_t)n, false, buf, sizeof buf);
    CHECK1(need == strlen(text) && memcmp(buf, text, 7) == 0 && buf[7] == 0);
    /* invalid ids are skipped */
    const int32_t bad[] = { -1, ids[0], 1 << 30 };
    CHECK1(tokenizer_decode(t, bad, 3, false, buf, sizeof buf) == 3 && memcmp(buf, "The", 3) == 0);

    /* building from plain arrays: a three-token byte-level vocabulary */
    const tok_str toks[] = { { "a", 1 }, { "b", 1 }, { "ab", 2 } };
    const tok_str merges[] = { { "a b", 3 } };
    tokenizer_params p = { .model = "gpt2", .pre = "gpt-2", .n_tokens = 3, .tokens = toks, .n_merges = 1,
                           .merges = merges, .bos_id = -1, .eos_id = -1, .eot_id = -1, .eom_id = -1,
                           .unk_id = -1, .pad_id = -1, .add_bos = -1, .add_eos = -1, .add_space_prefix = -1 };
    tokenizer *tiny;
    CHECK(tokenizer_create(&tiny, &p) == 0, "%s", hearth_last_error());
    if (tiny) {
        int32_t o[8];
        int k = tokenizer_encode(tiny, "abba", 4, true, false, o, 8);
        CHECK(k == 3 && o[0] == 2 && o[1] == 1 && o[2] == 0, "%d", k);
        tokenizer_free(tiny);
    }
    p.model = "bert";
    CHECK1(tokenizer_create(&tiny, &p) == HEARTH_ERR_UNSUPPORTED && tiny == NULL);
    p.model = "gpt2";
    p.pre = "no-such-pre";
    CHECK1(tokenizer_create(&tiny, &p) == HEARTH_ERR_UNSUPPORTED && tiny == NULL);
}

static tokenizer_params tiny_params(const char *model, const char *pre, const tok_str *toks, uint32_t n,
                                    const tok_str *merges, uint32_t nm) {
    tokenizer_params p = { .model = model, .pre = pre, .n_tokens = n, .tokens = toks, .n_merges = nm,
                           .merges = merges, .bos_id = -1, .eos_id = -1, .eot_id = -1, .eom_id = -1,
                           .unk_id = -1, .pad_id = -1, .add_bos = -1, .add_eos = -1, .add_space_prefix = -1 };
    return p;
}

/* Small vocabularies built from plain arrays: the "default" pre-tokenizer, SentencePiece scores and byte
 * fallback, hostile inputs. */
static void test_tiny_vocabs(void) {
    /* default pre-tokenizer: digits are cut in threes after the GPT-2 split; gpt-2 keeps the number whole */
    const tok_str dig[] = { { "1", 1 }, { "2", 1 }, { "3", 1 }, { "4", 1 }, { "12", 2 }, { "123", 3 }, { "1234", 4 },
                            { "$", 1 }, { "$$", 2 } };
    const tok_str dig_m[] = { { "1 2", 3 }, { "12 3", 4 }, { "123 4", 5 }, { "$ $", 3 } };
    tokenizer *t;
    tokenizer_params p = tiny_params("gpt2", "default", dig, 9, dig_m, 4);
    CHECK(tokenizer_create(&t, &p) == 0, "%s", hearth_last_error());
    if (t) {
        const int32_t want[] = { 5, 3 };
        CHECK1(encodes_to(t, "1234", false, false, want, 2));
        tokenizer_free(t);
    }
    p.pre = "gpt-2";
    CHECK(tokenizer_create(&t, &p) == 0, "%s", hearth_last_error());
    if (t) {
        const int32_t want[] = { 6 };
        CHECK1(encodes_to(t, "1234", false, false, want, 1));
        tokenizer_free(t);
    }

    /* SentencePiece: highest score first, U+2581 words, <0xXX> fallback, <unk> when there is no byte token */
    const tok_str spm[] = { { "<unk>", 5 }, { "<s>", 3 }, { "</s>", 4 }, { "\xE2\x96\x81", 3 }, { "a", 1 }, { "b", 1 },
                            { "\xE2\x96\x81" "a", 4 }, { "ab", 2 }, { "\xE2\x96\x81" "ab", 5 }, { "<0x63>", 6 } };
    const float scores[] = { 0, 0, 0, -3, -4, -4, -2, -1, -0.5f, 0 };
    const int32_t types[] = { TOK_TYPE_UNKNOWN, TOK_TYPE_CONTROL, TOK_TYPE_CONTROL, 1, 1, 1, 1, 1, 1, TOK_TYPE_BYTE };
    p = tiny_params("llama", NULL, spm, 10, NULL, 0);
    p.scores = scores;
    p.types = types;
    CHECK(tokenizer_create(&t, &p) == 0, "%s", hearth_last_error());
    if (t) {
        const int32_t want[] = { 1, 8, 3, 9 };
        CHECK1(encodes_to(t, "ab c", true, false, want, 4));
        const int32_t want2[] = { 3, 0 }; /* "▁d": no piece, no byte token */
        CHECK1(encodes_to(t, "d", false, false, want2, 2));
        int32_t ids[4] = { 1, 8, 3, 9 };
        size_t dl;
        char *d = decode_all(t, ids, 4, false, &dl);
        CHECK(d && dl == 4 && memcmp(d, "ab c", 4) == 0, "'%s'", d);
        free(d);
        CHECK1(tokenizer_bos(t) == 1 && tokenizer_eos(t) == 2 && tokenizer_unk(t) == 0 && tokenizer_add_bos(t));
        tokenizer_free(t);
    }

    /* hostile or broken inputs */
    p = tiny_params("gpt2", "gpt-2", dig, 0, dig_m, 4);
    CHECK1(tokenizer_create(&t, &p) == HEARTH_ERR_FORMAT && !t);
    const tok_str bad_m[] = { { "x y", 3 }, { "1", 1 }, { " 2", 2 }, { "1 ", 2 }, { "", 0 } };
    p = tiny_params("gpt2", "gpt-2", dig, 9, bad_m, 5);
    CHECK1(tokenizer_create(&t, &p) == HEARTH_ERR_FORMAT && !t); /* no usable merge */
    /* BPE without merges is valid (character level, as Hugging Face's BPE with an empty merge list) */
    p = tiny_params("gemma4", NULL, dig, 9, NULL, 0);
    CHECK1(tokenizer_create(&t, &p) == 0 && t);
    if (t) {
        int32_t ids[4];
        CHECK1(tokenizer_encode(t, "12", 2, false, false, ids, 4) == 2);
        tokenizer_free(t);
        t = NULL;
    }
    const int32_t odd_types[] = { 99, -5, 1, 1, 1, 1, 1, 1, 1 };
    const tok_str with_empty[] = { { "", 0 }, { "2", 1 }, { "3", 1 }, { "4", 1 }, { "12", 2 }, { "123", 3 }, { "1234", 4 },
                                   { "$", 1 }, { "$$", 2 } };
    p = tiny_params("gpt2", "gpt-2", with_empty, 9, dig_m, 4);
    p.types = odd_types;
    p.bos_id = 1000; /* out of range: ignored */
    CHECK(tokenizer_create(&t, &p) == 0, "%s", hearth_last_error());
    if (t) {
        CHECK1(tokenizer_bos(t) == -1 && tokenizer_token_type(t, 0) == TOK_TYPE_UNDEFINED);
        int32_t ids[8];
        CHECK1(tokenizer_encode(t, "1x\xff", 3, true, true, ids, 8) == 0); /* nothing encodable: no bytes */
        tokenizer_free(t);
    }
}

/* ------------------------------------------------------------------ generated round trips and speed */

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rnd(uint32_t n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Random text: code points from many scripts, whitespace, digits, punctuation, emoji, combining marks,
 * apostrophes; invalid UTF-8 bytes when allow_invalid. No U+2581 when no_2581. */
static size_t gen_text(char *buf, size_t cap, bool allow_invalid, bool no_2581) {
    static const uint32_t ranges[][2] = {
        { 0x20, 0x7E }, { 0x20, 0x7E }, { 0x20, 0x7E }, { 'a', 'z' }, { '0', '9' }, { 0xA0, 0xFF },
        { 0x100, 0x17F }, { 0x300, 0x36F }, { 0x391, 0x3C9 }, { 0x400, 0x44F }, { 0x5D0, 0x5EA }, { 0x620, 0x64A },
        { 0x900, 0x97F }, { 0xE01, 0xE5B }, { 0x1100, 0x11FF }, { 0x2000, 0x206F }, { 0x2190, 0x21FF },
        { 0x2500, 0x25FF }, { 0x3000, 0x303F }, { 0x3041, 0x30FF }, { 0x4E00, 0x9FFF }, { 0xAC00, 0xD7A3 },
        { 0xFF01, 0xFF5E }, { 0x1D400, 0x1D7FF }, { 0x1F300, 0x1F64F }, { 0x1F900, 0x1F9FF }, { 0xE000, 0xE0FF },
    };
    static const char *const bits[] = { " ", "  ", "\n", "\n\n", "\t", "\r\n", "'s", "'LL", " '", "\xC2\xA0",
                                        "\xE3\x80\x80", "\xE2\x80\x8D", "\xEF\xB8\x8F", "123", "...", "<|", "|>" };
    size_t o = 0;
    size_t n = 1 + rnd(rnd(8) == 0 ? 400 : 40);
    for (size_t k = 0; k < n && o + 8 < cap; k++) {
        uint32_t r = rnd(100);
        if (r < 20) {
            const char *b = bits[rnd(sizeof bits / sizeof bits[0])];
            size_t l = strlen(b);
            if (o + l < cap) { memcpy(buf + o, b, l); o += l; }
        } else if (r < 22 && allow_invalid) {
            static const uint8_t bad[] = { 0x80, 0xBF, 0xC0, 0xC1, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0xE2, 0x96 };
            buf[o++] = (char)bad[rnd(sizeof bad)];
        } else {
            const uint32_t *rg = ranges[rnd(sizeof ranges / sizeof ranges[0])];
            uint32_t cp = rg[0] + rnd(rg[1] - rg[0] + 1);
            if (no_2581 && cp == 0x2581) cp = 0x2582;
            o += (size_t)utf8_encode(cp, (uint8_t *)buf + o);
        }
    }
    return o;
}

static void test_generated_roundtrips(void) {
    char buf[4096];
    for (size_t i = 0; i < N_VOCABS; i++) {
        const tokenizer *t = g_tok[i];
        if (!t) continue;
        int pass = 0, total = 0;
        for (int k = 0; k < 400; k++) {
            bool invalid = k % 3 == 0;
            size_t n = gen_text(buf, sizeof buf, invalid, k_vocabs[i].spm);
            /* NFC is undefined on invalid UTF-8 pieces: compare byte-exact only for valid text there */
            bool ok = roundtrip(t, buf, n, k_vocabs[i].nfc, k_vocabs[i].spm);
            CHECK(ok, "%s: generated text %d does not round-trip", k_vocabs[i].name, k);
            pass += ok;
            total++;
        }
        printf("  roundtrip %-10s %3d/%3d generated texts\n", k_vocabs[i].name, pass, total);
    }
}

static void test_speed(void) {
    /* ~1 MB of mixed text: the mixed corpus repeated */
    size_t n = 0;
    char *corpus = tu_read_file("tests/data/tokenizer/mixed.inp", &n);
    CHECK1(corpus != NULL);
    if (!corpus || !n) { free(corpus); return; }
    size_t target = 1 << 20, len = 0;
    char *text = malloc(target + n);
    while (len < target) { memcpy(text + len, corpus, n); len += n; }
    for (size_t i = 0; i < N_VOCABS; i++) {
        const tokenizer *t = g_tok[i];
        if (!t) continue;
        double t0 = now_seconds();
        int cnt = tokenizer_encode(t, text, len, false, false, NULL, 0);
        double dt = now_seconds() - t0;
        CHECK1(cnt > 0);
        CHECK(dt < 2.0, "%s: %.2f s for %zu bytes", k_vocabs[i].name, dt, len);
        printf("  speed %-10s %.2f MB in %6.1f ms (%d tokens)\n", k_vocabs[i].name, len / 1e6, dt * 1e3, cnt);
    }
    free(text);
    free(corpus);
}

int main(void) {
    test_vocab_files();
    test_mixed_corpus();
    test_chat_corpus();
    test_special_tokens();
    test_eog_and_ids();
    test_pieces();
    test_api_edges();
    test_tiny_vocabs();
    test_generated_roundtrips();
    test_speed();
    for (size_t i = 0; i < N_VOCABS; i++) tokenizer_free(g_tok[i]);
    TEST_SUMMARY("test_tokenizer");
}
