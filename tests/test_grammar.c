/* test_grammar.c — constrained output.
 *
 *   test_grammar                 unit tests: every GBNF construct and error, UTF-8 across tokens, end of
 *                                generation, token references, the token mask against a token-by-token check
 *                                (fixture vocabularies and the real 262k Gemma 4 vocabulary), the sampler
 *                                (greedy and random, lazy triggers), JSON Schema conversions (accepted and
 *                                rejected documents, errors).
 *   test_grammar --property DIR  the property test: ~120 seeded random JSON Schemas, outputs sampled from
 *                                random-weight fixture models (where only the grammar makes them valid),
 *                                written to DIR as pairs for tests/grammar.test.sh to validate with
 *                                python3-jsonschema. Prints how many outputs completed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "grammar.h"
#include "hearth.h"
#include "testutil.h"
#include "tokenizer.h"
#include "util.h"

/* ------------------------------------------------------------------------------- byte-level helpers */

/* 1: the whole text matches; 0: a proper prefix of a match; -1: rejected; -2: the grammar did not compile. */
static int match_root(const char *gbnf, const char *root, const char *text, size_t len) {
    grammar *g;
    if (grammar_compile(&g, gbnf, root, NULL) < 0) return -2;
    gmatch *m = gmatch_new(g, NULL);
    int r = gmatch_accept_bytes(m, text, len) < 0 ? -1 : gmatch_can_end(m) ? 1 : 0;
    gmatch_free(m);
    grammar_free(g);
    return r;
}

static int match(const char *gbnf, const char *text) { return match_root(gbnf, NULL, text, strlen(text)); }

#define ACCEPTS(g, s) CHECK(match(g, s) == 1, "%s should accept '%s' (got %d: %s)", g, s, match(g, s), hearth_last_error())
#define PREFIX(g, s) CHECK(match(g, s) == 0, "'%s' should be an incomplete prefix under %s (got %d)", s, g, match(g, s))
#define REJECTS(g, s) CHECK(match(g, s) == -1, "%s should reject '%s' (got %d)", g, s, match(g, s))

/* The grammar must not compile, and the message must contain `want`. */
static void compile_error(const char *gbnf, const char *want) {
    grammar *g = NULL;
    int rc = grammar_compile(&g, gbnf, NULL, NULL);
    CHECK(rc < 0, "should not compile: %s", gbnf);
    CHECK(rc >= 0 || strstr(hearth_last_error(), want), "error for %s: '%s' lacks '%s'", gbnf, hearth_last_error(), want);
    grammar_free(g);
}

static void test_constructs(void) {
    /* literals and escapes */
    ACCEPTS("root ::= \"abc\"", "abc");
    PREFIX("root ::= \"abc\"", "ab");
    REJECTS("root ::= \"abc\"", "abd");
    REJECTS("root ::= \"abc\"", "abcd");
    ACCEPTS("root ::= \"a\\nb\\tc\\\\d\\\"e\\re\"", "a\nb\tc\\d\"e\re");
    ACCEPTS("root ::= \"\\x41\\u00e9\\U0001F600\"", "A\xc3\xa9\xf0\x9f\x98\x80");
    ACCEPTS("root ::= \"h\xc3\xa9llo \xe6\x97\xa5\"", "h\xc3\xa9llo \xe6\x97\xa5");
    ACCEPTS("root ::= \"\" \"x\" \"\"", "x");
    ACCEPTS("root ::= \"[a]\" \"\\[\\]\"", "[a][]");
    /* classes */
    ACCEPTS("root ::= [a-z0-9]+", "abc123");
    REJECTS("root ::= [a-z0-9]+", "abC");
    ACCEPTS("root ::= [^a-z]+", "ABC \xe6\x97\xa5\xf0\x9f\x98\x80");
    REJECTS("root ::= [^a-z]+", "Ab");
    ACCEPTS("root ::= [\\]\\-\\^\\\\]+", "]-^\\");
    ACCEPTS("root ::= [-a]+ [a-]+", "-aa-");
    ACCEPTS("root ::= [\\x00-\\x1F]", "\x01");
    ACCEPTS("root ::= [\\u3041-\\u309F]+", "\xe3\x81\xb2\xe3\x82\x89"); /* hiragana */
    REJECTS("root ::= [\\u3041-\\u309F]+", "\xe3\x82\xab");             /* katakana */
    ACCEPTS("root ::= [\xe3\x81\x81-\xe3\x82\x9f]+", "\xe3\x81\xb2");   /* the same class written as UTF-8 */
    ACCEPTS("root ::= [^\"\\\\]*", "plain \xc3\xa9 text");
    REJECTS("root ::= [^\"\\\\]*", "a\"b");
    ACCEPTS("root ::= [\\U0001F600-\\U0001F64F]", "\xf0\x9f\x98\x80");
    REJECTS("root ::= [\\U0001F600-\\U0001F64F]", "\xf0\x9f\x99\x90");
    ACCEPTS("root ::= [\\u0080-\\U0010FFFF]+", "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
    /* `.`: any character, whole UTF-8 characters only, never a surrogate or a stray byte */
    ACCEPTS("root ::= .+", "a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\n");
    REJECTS("root ::= .", "\xed\xa0\x80");  /* U+D800 encoded */
    REJECTS("root ::= .", "\xff");
    REJECTS("root ::= .", "\xc0\xaf");      /* overlong */
    REJECTS("root ::= .", "\x80");
    PREFIX("root ::= .", "\xe6\x97");       /* a character split between tokens */
    ACCEPTS("root ::= . \"x\"", "\xe6\x97\xa5x");
    /* sequences, alternatives, groups, empty alternatives */
    ACCEPTS("root ::= \"a\" (\"b\" | \"c\") \"d\"", "acd");
    REJECTS("root ::= \"a\" (\"b\" | \"c\") \"d\"", "aed");
    ACCEPTS("root ::= | \"x\"", "");
    ACCEPTS("root ::= \"x\" | ", "");
    ACCEPTS("root ::= \"a\" ( | \"b\" ) \"c\"", "ac");
    ACCEPTS("root ::= \"a\" ( | \"b\" ) \"c\"", "abc");
    ACCEPTS("root ::= ((((\"a\"))))", "a");
    ACCEPTS("root ::= ()", "");
    /* repetition */
    const char *rep[][3] = {
        {"root ::= \"x\"*", "", "1"}, {"root ::= \"x\"*", "xxxxxxxx", "1"}, {"root ::= \"x\"+", "", "0"},
        {"root ::= \"x\"+", "xx", "1"}, {"root ::= \"x\"?", "", "1"}, {"root ::= \"x\"?", "xx", "-1"},
        {"root ::= \"ab\"{3}", "abab", "0"}, {"root ::= \"ab\"{3}", "ababab", "1"}, {"root ::= \"ab\"{3}", "abababa", "-1"},
        {"root ::= \"x\"{2,}", "x", "0"}, {"root ::= \"x\"{2,}", "xxxxx", "1"}, {"root ::= \"x\"{2,4}", "xxxx", "1"},
        {"root ::= \"x\"{2,4}", "xxxxx", "-1"}, {"root ::= \"x\"{,2}", "", "1"}, {"root ::= \"x\"{,2}", "xxx", "-1"},
        {"root ::= \"x\"{0}", "", "1"}, {"root ::= \"x\"{0}", "x", "-1"}, {"root ::= \"x\"{ 1 , 2 }", "xx", "1"},
        {"root ::= ([a-c] \"-\"){2,3}", "a-b-c-", "1"}, {"root ::= ([a-c] \"-\"){2,3}", "a-b-c-a-", "-1"},
        {"root ::= (\"a\" | \"bc\")* \"d\"", "abcabcd", "1"}, {"root ::= [0-9]{1,3} (\",\" [0-9]{3})*", "1,000,000", "1"},
        {"root ::= [0-9]{1,3} (\",\" [0-9]{3})*", "1,00", "0"}, {"root ::= (\"a\"?){3}", "aa", "1"},
        {"root ::= (\"a\" | \"\"){2,5}", "aaaaa", "1"},
    };
    for (size_t i = 0; i < sizeof rep / sizeof rep[0]; i++) {
        int got = match(rep[i][0], rep[i][1]), want = atoi(rep[i][2]);
        CHECK(got == want, "%s on '%s': %d, want %d", rep[i][0], rep[i][1], got, want);
    }
    /* rules, names, comments, newlines */
    const char *multi =
        "# a comment line\n"
        "root ::= greeting \" \" Name_2   # trailing comment\n"
        "\n"
        "greeting ::= \"hi\" |\n"
        "    \"hello\"\n"
        "    | \"hey\"\n"
        "Name_2 ::= (\n"
        "    [A-Z]   # first letter\n"
        "    [a-z]*\n"
        ")\n";
    ACCEPTS(multi, "hello Bob");
    ACCEPTS(multi, "hey Al");
    REJECTS(multi, "yo Bob");
    ACCEPTS("root ::= a\r\na ::= \"x\"\r\n", "x");
    ACCEPTS("root ::= x |\nx ::= \"x\"", ""); /* an empty last alternative before the next rule */
    CHECK(match_root("start ::= \"s\"\nroot ::= \"r\"", "start", "s", 1) == 1, "another start rule");
    /* recursion (right and nested) */
    const char *paren = "root ::= \"(\" root \")\" | \"x\"";
    char deep[2100];
    for (int i = 0; i < 1000; i++) { deep[i] = '('; deep[1001 + i] = ')'; }
    deep[1000] = 'x';
    deep[2001] = 0;
    CHECK(match(paren, deep) == 1, "1000-deep nesting");
    deep[2000] = 0;
    CHECK(match(paren, deep) == 0, "one ) short");
    char nested[1000] = "root ::= ";
    for (int i = 0; i < 200; i++) strcat(nested, "(");
    strcat(nested, "\"z\"");
    for (int i = 0; i < 200; i++) strcat(nested, ")");
    ACCEPTS(nested, "z");
    ACCEPTS("root ::= list\nlist ::= item (\",\" list)?\nitem ::= [a-z]+", "a,bc,d");
    /* ambiguity: several parses alive at once */
    ACCEPTS("root ::= (\"a\" | \"ab\") (\"bc\" | \"c\")", "abc");
    ACCEPTS("root ::= [a-z]* \"ing\"", "singing");
    PREFIX("root ::= [a-z]* \"ing\"", "singin");
}

static void test_errors(void) {
    compile_error("root ::= root \"a\" | \"b\"", "rule 'root' is left-recursive");
    compile_error("root ::= expr\nexpr ::= term \"+\" expr | term\nterm ::= expr2 \"*\"\nexpr2 ::= opt term\nopt ::= \"-\"?", "left-recursive");
    compile_error("root ::= a\na ::= b? a \"x\"\nb ::= \"b\"", "rule 'a' is left-recursive");
    compile_error("root ::= (\"a\"?)*", "repetition");
    compile_error("root ::= ( | \"x\")+", "repetition");
    compile_error("root ::= missing", "rule 'missing' is used but not defined");
    compile_error("root ::= \"a\"\nroot ::= \"b\"", "defined twice");
    compile_error("start ::= \"a\"", "no rule named 'root'");
    compile_error("root ::= \"abc", "unterminated string");
    compile_error("root ::= [abc", "unterminated character class");
    compile_error("root ::= \"\\q\"", "unknown escape");
    compile_error("root ::= []", "empty character class");
    compile_error("root ::= * \"a\"", "repetition operator without");
    compile_error("root ::= \"a\"{3,2}", "n < m");
    compile_error("root ::= \"a\"{1000000}", "too large");
    compile_error("root ::= (\"a\"", "missing )");
    compile_error("root ::= \"a\")", "unmatched )");
    compile_error("root ::= [z-a]", "out of order");
    compile_error("root ::= \"a\" b ::= \"b\"", "new line");
    compile_error("root ::= <[5]>", "need a vocabulary");
    compile_error("root ::= \"\\xZZ\"", "hexadecimal");
    compile_error("root ::= [^\\x00-\\U0010FFFF]", "can never match");
    compile_error("::= \"a\"", "expected a rule name");
    compile_error("root \"a\"", "expected ::=");
    compile_error("root ::= \"\xff\"", "invalid UTF-8");
}

/* --------------------------------------------------------------------------------- vocabulary level */

static int32_t piece_token(const hearth_model *m, const char *piece, size_t len) {
    char buf[64];
    for (int32_t t = 0; t < hearth_model_n_vocab(m); t++) {
        int n = hearth_token_to_piece(m, t, false, buf, sizeof buf);
        if (n == (int)len && !memcmp(buf, piece, len)) return t;
    }
    return -1;
}

static bool bit(const gmask *mk, int32_t t) { return gmask_has(mk, t); }

/* The mask of the current state equals the token-by-token answer (the slow path) for every token. */
static bool mask_matches_slow_path(gmatch *gm, int n_vocab, int *count_out) {
    gmask mk;
    int count = gmatch_mask(gm, &mk);
    bool *copy = malloc((size_t)n_vocab);
    for (int32_t t = 0; t < n_vocab; t++) copy[t] = bit(&mk, t);
    if (mk.ids) /* a sparse mask lists its tokens in increasing order */
        for (int i = 1; i < count; i++) if (mk.ids[i] <= mk.ids[i - 1]) { fprintf(stderr, "  ids not increasing\n"); return false; }
    int bad = 0, n = 0;
    for (int32_t t = 0; t < n_vocab; t++) {
        bool slow = gmatch_token_allowed(gm, t);
        n += copy[t];
        if (slow != copy[t] && bad++ < 5) fprintf(stderr, "  token %d: mask %d, slow path %d\n", t, copy[t], slow);
    }
    free(copy);
    if (count_out) *count_out = count;
    return bad == 0 && n == count;
}

static uint64_t rng_state = 0x12345678;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Random walks through a grammar with a model's vocabulary: at every step the mask is checked against the
 * slow path, then a random allowed token is accepted. */
static long random_walks_limited(hearth_model *m, const char *gbnf, int walks, int steps, bool check_all, uint32_t max_states) {
    grammar *g;
    CHECK(grammar_compile(&g, gbnf, NULL, m->tok) == 0, "%s", hearth_last_error());
    const gvocab *v = gvocab_for_model(m);
    gmatch *gm = gmatch_new(g, v);
    if (max_states) gmatch_set_limits(gm, max_states, max_states * 4, NULL);
    int nv = hearth_model_n_vocab(m);
    int32_t *allowed = malloc(sizeof(int32_t) * (size_t)nv);
    for (int w = 0; w < walks; w++) {
        gmatch_reset(gm);
        for (int s = 0; s < steps; s++) {
            if (check_all || s % 8 == 0) CHECK(mask_matches_slow_path(gm, nv, NULL), "walk %d step %d", w, s);
            gmask mk;
            int count = gmatch_mask(gm, &mk);
            int n = 0;
            for (int32_t t = 0; t < nv; t++)
                if (bit(&mk, t)) allowed[n++] = t;
            CHECK(n == count && n > 0, "walk %d step %d: %d allowed, count %d", w, s, n, count);
            if (n == 0) break;
            int32_t t = allowed[rnd() % (uint32_t)n];
            if (hearth_token_is_eog(m, t)) { CHECK(gmatch_can_end(gm), "EOG allowed only when complete"); break; }
            CHECK(gmatch_accept_token(gm, t) == 0, "%s", hearth_last_error());
        }
    }
    free(allowed);
    long compactions = 0;
    gmatch_set_limits(gm, 0, 0, &compactions);
    gmatch_free(gm);
    grammar_free(g);
    return compactions;
}

static void random_walks(hearth_model *m, const char *gbnf, int walks, int steps, bool check_all) {
    random_walks_limited(m, gbnf, walks, steps, check_all, 0);
}

static void test_vocab(void) {
    hearth_model *m = hearth_model_load("tests/fixtures/models/gemma4-full.f32.gguf", &(hearth_model_params){.vocab_only = true});
    CHECK(m != NULL, "%s", hearth_last_error());
    if (!m) return;
    const gvocab *v = gvocab_for_model(m);
    CHECK(v && v == gvocab_for_model(m), "the trie is built once per model");
    int32_t eos = hearth_token_eos(m);

    /* UTF-8 across tokens: "é" is two byte tokens in this vocabulary */
    int32_t c3 = piece_token(m, "\xc3", 1), a9 = piece_token(m, "\xa9", 1), e = piece_token(m, "e", 1);
    CHECK(c3 >= 0 && a9 >= 0 && e >= 0, "byte tokens");
    grammar *g;
    CHECK(grammar_compile(&g, "root ::= [\\u00e0-\\u00ff]+ \"!\"", NULL, m->tok) == 0, "%s", hearth_last_error());
    gmatch *gm = gmatch_new(g, v);
    gmask bits;
    gmatch_mask(gm, &bits);
    CHECK(bit(&bits, c3) && !bit(&bits, a9) && !bit(&bits, e) && !bit(&bits, eos), "start: lead byte only");
    CHECK(gmatch_accept_token(gm, c3) == 0, "accept the lead byte");
    gmatch_mask(gm, &bits);
    CHECK(bit(&bits, a9) && !bit(&bits, c3) && !bit(&bits, eos), "then its continuation byte");
    CHECK(gmatch_accept_token(gm, e) < 0, "a character cut short is refused");
    CHECK(gmatch_accept_token(gm, a9) == 0, "continuation accepted");
    CHECK(!gmatch_can_end(gm), "not complete before !");
    gmatch_mask(gm, &bits);
    CHECK(!bit(&bits, eos), "no end of generation before the grammar is complete");
    CHECK(gmatch_accept_bytes(gm, "!", 1) == 0, "!");
    gmatch_mask(gm, &bits);
    CHECK(gmatch_must_end(gm) && bit(&bits, eos), "complete: end of generation allowed");
    int count = 0;
    for (int32_t t = 0; t < hearth_model_n_vocab(m); t++) count += bit(&bits, t);
    CHECK(count == 1, "only the end is left (%d tokens allowed)", count);
    gmatch_free(gm);
    grammar_free(g);

    /* token references */
    char gb[200];
    snprintf(gb, sizeof gb, "root ::= \"a\" <[%d]> \"b\" !<[%d]> (<eos>)?", c3, e);
    CHECK(grammar_compile(&g, gb, NULL, m->tok) == 0, "%s", hearth_last_error());
    gm = gmatch_new(g, v);
    CHECK(gmatch_accept_bytes(gm, "a", 1) == 0, "a");
    gmatch_mask(gm, &bits);
    CHECK(bit(&bits, c3) && !bit(&bits, a9), "<[id]>: that token only");
    CHECK(gmatch_accept_token(gm, c3) == 0 && gmatch_accept_bytes(gm, "b", 1) == 0, "token then b");
    gmatch_mask(gm, &bits);
    CHECK(!bit(&bits, e) && bit(&bits, a9) && !bit(&bits, eos), "!<[id]>: any token but that one (and not the end)");
    CHECK(gmatch_accept_token(gm, a9) == 0, "negated token accepted");
    CHECK(gmatch_can_end(gm), "complete");
    CHECK(gmatch_accept_token(gm, eos) == 0, "<eos> by text");
    gmatch_free(gm);
    grammar_free(g);
    CHECK(grammar_compile(&g, "root ::= <nonexistent-token>", NULL, m->tok) < 0, "unknown token text refused");
    CHECK(strstr(hearth_last_error(), "single token") != NULL, "%s", hearth_last_error());
    snprintf(gb, sizeof gb, "root ::= <[%d]>", hearth_model_n_vocab(m));
    CHECK(grammar_compile(&g, gb, NULL, m->tok) < 0, "token id out of range refused");

    /* the mask equals the token-by-token answer along random walks */
    random_walks(m, hearth_json_gbnf(), 6, 60, true);
    random_walks(m, "root ::= ([a-z]+ \" \"){1,5} \"\\n\" .{0,20} [\\u00e0-\\u00ff]+", 6, 40, true);
    random_walks(m, "root ::= (\"ab\" | \"abc\" | [a-c]{2,3})+ \"!\"", 6, 30, true);
    /* bounded repetitions longer than the longest token (masks shared past the horizon), nested contexts */
    char *gbnf = NULL;
    CHECK(hearth_json_schema_to_gbnf("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"minLength\":12,"
                                     "\"maxLength\":40},\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":30},"
                                     "\"maxItems\":12},\"n\":{\"type\":\"integer\",\"minimum\":-5000,\"maximum\":70000}},"
                                     "\"required\":[\"s\",\"a\",\"n\"]}", &gbnf) == 0, "%s", hearth_last_error());
    random_walks(m, gbnf, 8, 120, true);
    /* tiny table bounds: the tables start over from the current state many times; masks stay right */
    long compactions = random_walks_limited(m, gbnf, 4, 150, true, 40);
    CHECK(compactions > 5, "compactions: %ld", compactions);
    compactions = random_walks_limited(m, hearth_json_gbnf(), 4, 150, true, 40);
    CHECK(compactions > 5, "compactions: %ld", compactions);
    free(gbnf);
    hearth_model_free(m);
}

static void test_big_vocab(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-gemma-4.gguf", tu_shared_dir());
    hearth_model *m = hearth_model_load(path, &(hearth_model_params){.vocab_only = true});
    if (!m) { fprintf(stderr, "test_grammar: %s not found, 262k-vocabulary checks skipped\n", path); return; }
    CHECK(hearth_model_n_vocab(m) == 262144, "gemma 4 vocabulary");
    /* a real document tokenized as the model would write it: every token allowed, then the end */
    const char *doc = "{\"name\": \"Zo\xc3\xab\", \"tags\": [\"a\", \"b\\n\"], \"n\": -12.5e3, \"ok\": true, \"x\": null}";
    int32_t toks[256];
    int nt = hearth_tokenize(m, doc, strlen(doc), false, false, toks, 256);
    grammar *g;
    CHECK(grammar_compile(&g, hearth_json_gbnf(), NULL, m->tok) == 0, "%s", hearth_last_error());
    gmatch *gm = gmatch_new(g, gvocab_for_model(m));
    for (int i = 0; i < nt; i++) {
        gmask bits;
        gmatch_mask(gm, &bits);
        CHECK(bit(&bits, toks[i]), "token %d (%d) of the document allowed", i, toks[i]);
        CHECK(gmatch_accept_token(gm, toks[i]) == 0, "%s", hearth_last_error());
    }
    gmask bits;
    gmatch_mask(gm, &bits);
    CHECK(bit(&bits, hearth_token_eos(m)), "end allowed after the document");
    gmatch_free(gm);
    grammar_free(g);
    /* the mask against the slow path on the full vocabulary, a few states */
    random_walks(m, hearth_json_gbnf(), 2, 24, false);
    char *gbnf = NULL;
    CHECK(hearth_json_schema_to_gbnf("{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":60,\"maxLength\":130}}", &gbnf) == 0,
          "%s", hearth_last_error());
    random_walks(m, gbnf, 1, 40, false);
    free(gbnf);
    hearth_model_free(m);
}

/* ------------------------------------------------------------------------------------------ sampler */

static void test_sampler(void) {
    hearth_model *m = hearth_model_load("tests/fixtures/models/gemma4-full.f32.gguf", &(hearth_model_params){.vocab_only = true});
    if (!m) return;
    int nv = hearth_model_n_vocab(m);
    float *logits = calloc((size_t)nv, sizeof(float));
    int32_t x = piece_token(m, "x", 1), y = piece_token(m, "y", 1), eos = hearth_token_eos(m);
    CHECK(x >= 0 && y >= 0, "tokens x, y");

    /* greedy: the best token is not allowed, the best allowed one is chosen */
    hearth_sampler_params sp = hearth_sampler_default_params();
    sp.temperature = 0;
    hearth_sampler *s = hearth_sampler_new(m, &sp);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_NONE, "no grammar");
    CHECK(hearth_sampler_set_grammar(s, "root ::= \"y\"+", NULL) == 0, "%s", hearth_last_error());
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_ACTIVE, "active");
    logits[x] = 10;
    logits[y] = 1;
    logits[eos] = 20;
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), y);
    hearth_sampler_accept(s, y);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_COMPLETE, "complete after y");
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), eos);
    /* a bad grammar leaves the sampler as it was */
    CHECK(hearth_sampler_set_grammar(s, "root ::= root", NULL) < 0, "left recursion refused");
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_COMPLETE, "old grammar kept");
    /* prompt tokens do not move the grammar */
    hearth_sampler_reset(s);
    int32_t prompt[3] = {x, x, x};
    hearth_sampler_accept_prompt(s, prompt, 3);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_ACTIVE, "prompt does not advance the grammar");
    /* a forced token that does not fit */
    hearth_sampler_accept(s, x);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_FAILED, "failed after a token outside the grammar");
    CHECK(hearth_sampler_set_grammar(s, NULL, NULL) == 0 && hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_NONE, "removed");
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), eos);
    hearth_sampler_free(s);

    /* random sampling obeys the grammar whatever the logits */
    sp = hearth_sampler_default_params();
    sp.temperature = 1.5f;
    sp.top_k = 0;
    sp.top_p = 1;
    sp.min_p = 0;
    sp.seed = 7;
    s = hearth_sampler_new(m, &sp);
    CHECK(hearth_sampler_set_json(s) == 0, "%s", hearth_last_error());
    char text[4096];
    size_t len = 0;
    for (int i = 0; i < 2000 && hearth_sampler_grammar_state(s) != HEARTH_GRAMMAR_DONE; i++) {
        for (int t = 0; t < nv; t++) logits[t] = (float)(rnd() % 1000) / 100.0f;
        int32_t t = hearth_sampler_sample(s, logits);
        if (hearth_token_is_eog(m, t)) break;
        hearth_sampler_accept(s, t);
        char piece[64];
        int n = hearth_token_to_piece(m, t, false, piece, sizeof piece);
        if (n > 0 && len + (size_t)n < sizeof text) { memcpy(text + len, piece, (size_t)n); len += (size_t)n; }
    }
    CHECK(hearth_sampler_grammar_state(s) >= HEARTH_GRAMMAR_COMPLETE && hearth_sampler_grammar_state(s) <= HEARTH_GRAMMAR_DONE,
          "random logits give complete JSON (state %d)", hearth_sampler_grammar_state(s));
    CHECK(match(hearth_json_gbnf(), (text[len] = 0, text)) == 1, "the text is JSON: %s", text);
    hearth_sampler_free(s);

    /* lazy: free text until the trigger word, then the grammar from the word on */
    sp.temperature = 0;
    s = hearth_sampler_new(m, &sp);
    const char *words[] = {"xy"};
    hearth_grammar_triggers trig = {.words = words, .n_words = 1};
    CHECK(hearth_sampler_set_grammar_lazy(s, "root ::= \"xyy\" \"x\"*", NULL, &trig) == 0, "%s", hearth_last_error());
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_WAITING, "waiting");
    memset(logits, 0, sizeof(float) * (size_t)nv);
    logits[eos] = 5;
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), eos); /* unconstrained while waiting */
    hearth_sampler_accept(s, y);
    hearth_sampler_accept(s, x);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_WAITING, "no trigger yet");
    hearth_sampler_accept(s, y); /* "x" "y": the trigger spans two tokens */
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_ACTIVE, "triggered (%d)", hearth_sampler_grammar_state(s));
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), y); /* "xy" so far: must go on with y */
    hearth_sampler_reset(s);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_WAITING, "reset waits again");
    hearth_sampler_free(s);
    /* lazy by token */
    s = hearth_sampler_new(m, &sp);
    hearth_grammar_triggers trig2 = {.tokens = &x, .n_tokens = 1};
    CHECK(hearth_sampler_set_grammar_lazy(s, "root ::= \"y\"", NULL, &trig2) == 0, "%s", hearth_last_error());
    hearth_sampler_accept(s, y);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_WAITING, "waiting");
    hearth_sampler_accept(s, x);
    CHECK(hearth_sampler_grammar_state(s) == HEARTH_GRAMMAR_ACTIVE, "triggered by the token");
    logits[y] = 0;
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), y);
    hearth_sampler_free(s);
    free(logits);
    hearth_model_free(m);
}

/* Generation end to end: greedy generation (no temperature) with a grammar through hearth_generate. */
static bool collect(void *user, const char *text, size_t len) {
    char *buf = user;
    size_t have = strlen(buf);
    if (have + len < 4096) { memcpy(buf + have, text, len); buf[have + len] = 0; }
    return true;
}

static void test_generate(void) {
    hearth_model *m = hearth_model_load("tests/fixtures/models/gemma4-full.f32.gguf", NULL);
    if (!m) return;
    hearth_session *s = hearth_session_new(m, &(hearth_session_params){.n_ctx = 512, .n_threads = 1});
    hearth_sampler_params sp = hearth_sampler_default_params();
    sp.temperature = 0;
    hearth_sampler *smp = hearth_sampler_new(m, &sp);
    CHECK(hearth_sampler_set_grammar(smp, "root ::= \"answer: \" (\"yes\" | \"no\") \".\"", NULL) == 0, "%s", hearth_last_error());
    int32_t prompt[4] = {2, 100, 200, 300};
    char out[4096] = "";
    hearth_generate_params gp = {.max_tokens = 50, .sampler = smp, .on_text = collect, .user = out};
    hearth_generate_stats st;
    CHECK_EQ_INT(hearth_generate(s, prompt, 4, &gp, &st), 0);
    CHECK(!strcmp(out, "answer: yes.") || !strcmp(out, "answer: no."), "greedy output '%s'", out);
    CHECK(st.finish == HEARTH_FINISH_EOG, "ended by the grammar (finish %d)", st.finish);
    /* the same sampler again (a chat's next turn): the grammar starts over */
    char out2[4096] = "";
    int32_t prompt2[5] = {2, 100, 200, 300, 400};
    gp.user = out2;
    CHECK_EQ_INT(hearth_generate(s, prompt2, 5, &gp, &st), 0);
    CHECK(!strcmp(out2, "answer: yes.") || !strcmp(out2, "answer: no."), "second generation '%s'", out2);
    hearth_sampler_free(smp);
    hearth_session_free(s);
    hearth_model_free(m);
}

/* ---------------------------------------------------------------------------------- JSON Schema */

static void schema_case(const char *schema, const char *const *good, const char *const *bad) {
    char *gbnf = NULL;
    int rc = hearth_json_schema_to_gbnf(schema, &gbnf);
    CHECK(rc == 0, "%s: %s", schema, hearth_last_error());
    if (rc) return;
    for (; good && *good; good++)
        CHECK(match(gbnf, *good) == 1, "schema %s should accept %s (%d: %s)\n%s", schema, *good, match(gbnf, *good), hearth_last_error(), gbnf);
    for (; bad && *bad; bad++) CHECK(match(gbnf, *bad) != 1, "schema %s should reject %s", schema, *bad);
    free(gbnf);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static void schema_error(const char *schema, const char *want) {
    char *gbnf = NULL;
    int rc = hearth_json_schema_to_gbnf(schema, &gbnf);
    CHECK(rc < 0, "should fail: %s", schema);
    CHECK(rc >= 0 || strstr(hearth_last_error(), want), "%s: '%s' lacks '%s'", schema, hearth_last_error(), want);
    free(gbnf);
}

static void test_schema(void) {
    schema_case("{\"type\":\"string\"}", LIST("\"\"", "\"a b\\n\\u00e9\\\"\"", "\"\xc3\xa9\""), LIST("\"\\ud800\"", "\"a\nb\"", "3", "\"abc"));
    schema_case("{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}", LIST("\"ab\"", "\"\\n\\t\\u0041\"", "\"\xe6\x97\xa5\xe6\x9c\xac\""),
                LIST("\"a\"", "\"abcd\""));
    schema_case("{\"type\":\"integer\"}", LIST("0", "-7", "1234567890123456"), LIST("01", "1.5", "-", "12345678901234567"));
    schema_case("{\"type\":\"integer\",\"minimum\":-15,\"maximum\":1234}", LIST("-15", "-9", "0", "9", "10", "99", "100", "999", "1000", "1234"),
                LIST("-16", "1235", "2000", "-0", "00"));
    schema_case("{\"type\":\"integer\",\"exclusiveMinimum\":0,\"exclusiveMaximum\":100}", LIST("1", "50", "99"), LIST("0", "100"));
    schema_case("{\"type\":\"integer\",\"minimum\":5}", LIST("5", "6", "10", "9999999999"), LIST("4", "0", "-1"));
    schema_case("{\"type\":\"integer\",\"maximum\":-3}", LIST("-3", "-10", "-999"), LIST("-2", "0", "5"));
    schema_case("{\"type\":\"integer\",\"minimum\":2.5,\"maximum\":7.5}", LIST("3", "7"), LIST("2", "8"));
    schema_case("{\"type\":\"integer\",\"minimum\":99,\"maximum\":1001}", LIST("99", "100", "999", "1000", "1001"), LIST("98", "1002", "9"));
    schema_case("{\"type\":\"number\"}", LIST("0", "-1.5", "3e10", "2.25E-3", "0.000"), LIST("1.", ".5", "1e", "+1", "1e100"));
    schema_case("{\"type\":\"number\",\"minimum\":0,\"exclusiveMaximum\":1}", LIST("0", "0.5", "0.999"), LIST("1", "1.0", "-0.1", "1e-3"));
    schema_case("{\"type\":\"number\",\"exclusiveMinimum\":-2,\"maximum\":3}", LIST("-1.5", "-1", "0", "2.99", "3"), LIST("-2", "-2.5", "3.01", "-2.0"));
    schema_case("{\"type\":\"boolean\"}", LIST("true", "false"), LIST("null", "1"));
    schema_case("{\"type\":[\"string\",\"null\"],\"maxLength\":1}", LIST("null", "\"a\""), LIST("\"ab\"", "1"));
    schema_case("{\"enum\":[\"red\",\"green\",1,null,{\"a\":[1,2]}]}", LIST("\"red\"", "1", "null", "{\"a\":[1,2]}"), LIST("\"blue\"", "2"));
    schema_case("{\"const\":\"x\\\"y\"}", LIST("\"x\\\"y\""), LIST("\"xy\""));
    schema_case("{\"type\":\"string\",\"enum\":[\"a\",2]}", LIST("\"a\""), LIST("2"));
    schema_case("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}},\"required\":[\"b\"]}",
                LIST("{\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"}", "{ \"a\": 1, \"b\": \"x\" }", "{\n  \"a\": 1,\n  \"b\": \"x\"\n}"),
                LIST("{}", "{\"a\":1}", "{\"b\":\"x\",\"a\":1}", "{\"b\":\"x\",\"c\":1}", "{\"b\":\"x\"  }", "{\"b\":\"x\",}"));
    schema_case("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"}}}",
                LIST("{}", "{\"a\":1}", "{\"b\":2}", "{\"a\":1,\"b\":2}"), LIST("{,\"b\":2}", "{\"a\":1,}"));
    schema_case("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":\"integer\"}}",
                LIST("{\"name\":\"x\",\"age\":3}", "{\"zz\":1,\"n\":2}", "{\"nam\":1}", "{\"names\":1}"),
                LIST("{\"name\":1}", "{\"age\":\"x\"}", "{\"na\\u006de\":1}"));
    schema_case("{\"type\":\"object\",\"additionalProperties\":true}", LIST("{}", "{\"a\":[1,{\"b\":null}]}"), LIST("{\"a\"}"));
    schema_case("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":3}", LIST("[1]", "[1, 2,3]", "[ 1 ]"),
                LIST("[]", "[1,2,3,4]", "[\"a\"]"));
    schema_case("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}", LIST("[]", "[1,2,3,4,5,6]"), LIST("[,]", "[1,]"));
    schema_case("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}],\"items\":false}",
                LIST("[]", "[\"a\"]", "[\"a\",1]"), LIST("[1]", "[\"a\",1,2]"));
    schema_case("{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"type\":\"boolean\"},\"minItems\":2}",
                LIST("[\"a\",true]", "[\"a\",true,false]"), LIST("[\"a\"]", "[true,true]"));
    schema_case("{\"$defs\":{\"node\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}},\"required\":[\"v\"]}},\"$ref\":\"#/$defs/node\"}",
                LIST("{\"v\":1}", "{\"v\":1,\"kids\":[{\"v\":2,\"kids\":[{\"v\":3}]},{\"v\":4}]}"), LIST("{\"v\":1,\"kids\":[{}]}"));
    schema_case("{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#\"}}}", LIST("{}", "{\"next\":{\"next\":{}}}"), LIST("{\"next\":1}"));
    schema_case("{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\",\"maxLength\":2}]}", LIST("1", "\"ab\""), LIST("\"abc\"", "true"));
    schema_case("{\"oneOf\":[{\"type\":\"boolean\"},{\"type\":\"null\"}]}", LIST("true", "null"), LIST("1"));
    schema_case("{\"allOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]},{\"properties\":{\"b\":{\"type\":\"string\"}},\"required\":[\"b\"]}]}",
                LIST("{\"a\":1,\"b\":\"x\"}"), LIST("{\"a\":1}", "{\"b\":\"x\"}"));
    schema_case("{\"type\":\"string\",\"format\":\"date\"}", LIST("\"2024-02-28\"", "\"1999-12-31\"", "\"2023-04-30\""),
                LIST("\"2024-02-30\"", "\"2024-04-31\"", "\"2024-13-01\"", "\"24-01-01\""));
    schema_case("{\"type\":\"string\",\"format\":\"time\"}", LIST("\"12:34:56Z\"", "\"23:59:59.123+05:30\""), LIST("\"24:00:00Z\"", "\"12:00:00\""));
    schema_case("{\"type\":\"string\",\"format\":\"date-time\"}", LIST("\"2024-01-02T03:04:05Z\""), LIST("\"2024-01-02 03:04:05Z\""));
    schema_case("{\"type\":\"string\",\"format\":\"uuid\"}", LIST("\"123e4567-e89b-12d3-a456-426614174000\""), LIST("\"123e4567e89b12d3a456426614174000\""));
    schema_case("{\"type\":\"string\",\"format\":\"email\"}", LIST("\"a.b+c@example.co.uk\""), LIST("\"ab\"", "\"a@b\""));
    schema_case("{\"type\":\"string\",\"format\":\"ipv4\"}", LIST("\"192.168.0.1\"", "\"255.255.255.0\""), LIST("\"256.1.1.1\"", "\"01.1.1.1\""));
    schema_case("{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}-\\\\d{3,4}$\"}", LIST("\"AB-123\"", "\"XY-9876\""), LIST("\"AB-12\"", "\"ab-123\"", "\"AB-123x\""));
    schema_case("{\"type\":\"string\",\"pattern\":\"^(cat|dog)s?$\"}", LIST("\"cat\"", "\"dogs\""), LIST("\"cow\""));
    schema_case("{\"type\":\"string\",\"pattern\":\"ab+c\"}", LIST("\"abbc\"", "\"xxabcyy\""), LIST("\"ac\""));
    schema_case("{\"type\":\"string\",\"pattern\":\"^a.c$\"}", LIST("\"abc\"", "\"a\xc3\xa9" "c\"", "\"a\\\"c\""), LIST("\"a\\nc\""));
    schema_case("{\"type\":\"string\",\"pattern\":\"^[^a-z\\\\d]+$\"}", LIST("\"AB!\""), LIST("\"a\"", "\"1\""));
    schema_case("{\"type\":\"string\",\"pattern\":\"^\\\\w+@\\\\w+\\\\.com$\"}", LIST("\"me@site.com\""), LIST("\"me@site.org\""));
    schema_case("{\"title\":\"T\",\"description\":\"d\",\"default\":1,\"type\":\"integer\",\"examples\":[1]}", LIST("1"), LIST("\"x\""));
    schema_case("{}", LIST("1", "{\"a\":[true]}"), LIST("{"));
    schema_case("true", LIST("null"), LIST("nul"));
    schema_case("{\"properties\":{\"a\":{\"type\":\"null\"}}}", LIST("{\"a\":null}", "{}"), LIST("[]"));

    schema_error("{\"type\":\"object\",\"minProperties\":1}", "unsupported keyword 'minProperties' at #");
    schema_error("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"contentSchema\":{}}}}", "'contentSchema' at #/properties/a");
    schema_error("{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"multipleOf\":3}}", "'multipleOf' at #/items");
    schema_error("{\"type\":\"array\",\"uniqueItems\":true}", "uniqueItems at #");
    schema_error("{\"$ref\":\"#/$defs/nope\"}", "points to nothing");
    schema_error("{\"$ref\":\"http://example.com/s.json\"}", "only local $ref");
    schema_error("{\"type\":\"string\",\"format\":\"hostname\"}", "unsupported format 'hostname'");
    schema_error("{\"type\":\"string\",\"pattern\":\"^(?=a)\"}", "pattern at #");
    schema_error("{\"type\":\"string\",\"pattern\":\"a\\\\1\"}", "unsupported escape");
    schema_error("{\"type\":\"integer\",\"minimum\":5,\"maximum\":4}", "no integer");
    schema_error("{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}", "minLength > maxLength");
    schema_error("{\"type\":\"strin\"}", "unknown type 'strin'");
    schema_error("{\"type\":\"object\"", "invalid JSON");
    schema_error("false", "admits no value");
    schema_error("{\"not\":{}}", "'not'");
    schema_error("{\"if\":{},\"then\":{}}", "'if'");
}

/* ------------------------------------------------------------------------------- property test */

/* A seeded generator of JSON Schemas within the converter's subset, and outputs sampled from random-weight
 * models. Strings and arrays are mostly bounded and recursion is shallow, so outputs end well within the
 * token budget; the grammar is what makes them valid. */
typedef struct {
    char *s;
    size_t n, cap;
} tbuf;

static void tput(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tput(tbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static uint32_t pick(uint32_t n) { return rnd() % n; }

static void gen_regex(tbuf *b) {
    static const char *atoms[] = {"[a-z]", "[A-Z0-9]", "\\\\d", "x", "(ab|cd)", "[^a-z\\\\d]", "\\\\w", "-", "\\\\.", "[\\u00e0-\\u00ef]", "."};
    static const char *quants[] = {"", "", "", "?", "{1,3}", "{2}", "+", "*"};
    bool start = pick(3) != 0, end = pick(3) != 0;
    if (start) tput(b, "^");
    int n = 1 + (int)pick(4);
    for (int i = 0; i < n; i++) {
        const char *q = quants[pick(8)];
        if (!end && (q[0] == '+' || q[0] == '*')) q = "";
        tput(b, "%s%s", atoms[pick(11)], q);
    }
    if (end) tput(b, "$");
}

static void gen_schema(tbuf *b, int depth, bool in_defs);

static void gen_string_schema(tbuf *b) {
    int k = (int)pick(10);
    if (k < 4) { int lo = (int)pick(4); tput(b, "{\"type\":\"string\",\"minLength\":%d,\"maxLength\":%d}", lo, lo + (int)pick(16)); }
    else if (k < 5) tput(b, "{\"type\":\"string\"}");
    else if (k < 7) {
        static const char *f[] = {"date", "time", "date-time", "uuid", "email", "ipv4"};
        tput(b, "{\"type\":\"string\",\"format\":\"%s\"}", f[pick(6)]);
    } else if (k < 9) { tput(b, "{\"type\":\"string\",\"pattern\":\""); gen_regex(b); tput(b, "\"}"); }
    else tput(b, "{\"enum\":[\"red\",\"gr\\\"een\",\"bl\\u00fce\",%d,null]}", (int)pick(100) - 50);
}

static void gen_number_schema(tbuf *b) {
    bool integer = pick(2);
    const char *t = integer ? "integer" : "number";
    int k = (int)pick(5);
    int lo = (int)pick(2000) - 1000, hi = lo + (int)pick(3000);
    if (k == 0) tput(b, "{\"type\":\"%s\"}", t);
    else if (k == 1) tput(b, "{\"type\":\"%s\",\"minimum\":%d,\"maximum\":%d}", t, lo, hi);
    else if (k == 2) tput(b, "{\"type\":\"%s\",\"exclusiveMinimum\":%d,\"exclusiveMaximum\":%d}", t, lo, hi + 2);
    else if (k == 3) tput(b, "{\"type\":\"%s\",\"minimum\":%d.%d}", t, lo, (int)pick(10));
    else tput(b, "{\"type\":\"%s\",\"maximum\":%d,\"exclusiveMinimum\":%d.5}", t, hi, lo);
}

static void gen_object_schema(tbuf *b, int depth) {
    int n = 1 + (int)pick(4);
    static const char *names[] = {"id", "name", "value", "items", "Zo\\u00eb", "a b", "x\\\"y", "count", "meta"};
    tput(b, "{\"type\":\"object\",\"properties\":{");
    bool used[9] = {0};
    int req[4], nreq = 0, idx[4];
    for (int i = 0; i < n; i++) {
        int k;
        do k = (int)pick(9); while (used[k]);
        used[k] = true;
        idx[i] = k;
        tput(b, "%s\"%s\":", i ? "," : "", names[k]);
        gen_schema(b, depth + 1, false);
        if (pick(2)) req[nreq++] = i;
    }
    tput(b, "}");
    if (nreq) {
        tput(b, ",\"required\":[");
        for (int i = 0; i < nreq; i++) tput(b, "%s\"%s\"", i ? "," : "", names[idx[req[i]]]);
        tput(b, "]");
    }
    int ap = (int)pick(8);
    if (ap == 0) tput(b, ",\"additionalProperties\":false");
    else if (ap == 1) tput(b, ",\"additionalProperties\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":9}");
    else if (ap == 2 && depth >= 2) tput(b, ",\"additionalProperties\":true");
    tput(b, "}");
}

static void gen_array_schema(tbuf *b, int depth) {
    int k = (int)pick(3);
    int mn = (int)pick(3), mx = mn + (int)pick(4);
    if (k == 0) {
        tput(b, "{\"type\":\"array\",\"items\":");
        gen_schema(b, depth + 1, false);
        tput(b, ",\"minItems\":%d,\"maxItems\":%d}", mn, mx);
    } else if (k == 1) {
        tput(b, "{\"type\":\"array\",\"prefixItems\":[");
        int n = 1 + (int)pick(3);
        for (int i = 0; i < n; i++) { if (i) tput(b, ","); gen_schema(b, depth + 1, false); }
        tput(b, "],\"items\":");
        if (pick(2)) tput(b, "false");
        else gen_schema(b, depth + 1, false);
        tput(b, ",\"maxItems\":%d}", n + (int)pick(3));
    } else {
        tput(b, "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"maxItems\":%d}", mx);
    }
}

static void gen_schema(tbuf *b, int depth, bool in_defs) {
    (void)in_defs;
    int k = (int)pick(depth >= 3 ? 5 : 12);
    switch (k) {
    case 0: case 1: gen_string_schema(b); break;
    case 2: gen_number_schema(b); break;
    case 3: tput(b, pick(2) ? "{\"type\":\"boolean\"}" : "{\"type\":[\"boolean\",\"null\"]}"); break;
    case 4: tput(b, "{\"const\":{\"k\":[1,2.5,\"v\"]}}"); break;
    case 5: case 6: gen_object_schema(b, depth); break;
    case 7: case 8: gen_array_schema(b, depth); break;
    case 9:
        tput(b, "{\"%s\":[", pick(2) ? "anyOf" : "oneOf");
        gen_string_schema(b);
        tput(b, ",");
        gen_number_schema(b);
        tput(b, ",{\"type\":\"null\"}]}");
        break;
    case 10:
        tput(b, "{\"allOf\":[{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"integer\"}},\"required\":[\"p\"]},"
                "{\"type\":\"object\",\"properties\":{\"q\":");
        gen_string_schema(b);
        tput(b, "}}]}");
        break;
    default: tput(b, "{\"$ref\":\"#/$defs/%s\"}", pick(2) ? "node" : "leaf"); break;
    }
}

/* The whole schema: a root plus definitions (a recursive tree node and a leaf) that $refs may use. */
static char *gen_root_schema(void) {
    tbuf b = {0};
    tput(&b, "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$defs\":{"
             "\"leaf\":");
    gen_string_schema(&b);
    tput(&b, ",\"node\":{\"type\":\"object\",\"properties\":{\"label\":{\"type\":\"string\",\"maxLength\":8},"
             "\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"},\"maxItems\":2}},\"required\":[\"label\"],"
             "\"additionalProperties\":false}},");
    /* the root's own keywords: those of a generated schema, spliced in */
    tbuf r = {0};
    gen_schema(&r, 0, false);
    tput(&b, "%s", r.s + 1); /* without its '{' */
    free(r.s);
    return b.s;
}

static bool collect_big(void *user, const char *text, size_t len) {
    char *buf = user;
    size_t have = strlen(buf);
    if (have + len < (1 << 16)) { memcpy(buf + have, text, len); buf[have + len] = 0; }
    return true;
}

static int property_test(const char *dir) {
    mkdir(dir, 0700);
    const char *models[] = {"tests/fixtures/models/gemma4-plain.f32.gguf", "tests/fixtures/models/qwen3.f32.gguf"};
    hearth_model *ms[2];
    hearth_session *ss[2];
    for (int i = 0; i < 2; i++) {
        ms[i] = hearth_model_load(models[i], NULL);
        if (!ms[i]) { fprintf(stderr, "%s\n", hearth_last_error()); return 1; }
        ss[i] = hearth_session_new(ms[i], &(hearth_session_params){.n_ctx = 4096, .n_threads = 1});
    }
    const int n_schemas = 120, per_schema = 3, budget = 3000;
    int n_out = 0, n_complete = 0, n_length = 0, n_bad_schema = 0;
    long total_tokens = 0;
    double t0 = now_seconds();
    rng_state = 0x5eed;
    char path[1024];
    snprintf(path, sizeof path, "%s/index.tsv", dir);
    FILE *index = fopen(path, "w");
    if (!index) { perror(path); return 1; }
    for (int i = 0; i < n_schemas; i++) {
        char *schema = gen_root_schema();
        snprintf(path, sizeof path, "%s/schema_%03d.json", dir, i);
        FILE *f = fopen(path, "w");
        fputs(schema, f);
        fclose(f);
        for (int k = 0; k < per_schema; k++) {
            int mi = (i + k) % 2;
            hearth_sampler_params sp = hearth_sampler_default_params();
            sp.temperature = k == 0 ? 1.0f : k == 1 ? 0.7f : 1.5f;
            sp.top_k = k == 1 ? 40 : 0;
            sp.top_p = 1;
            sp.min_p = 0;
            sp.seed = (uint64_t)(i * 31 + k);
            hearth_sampler *smp = hearth_sampler_new(ms[mi], &sp);
            if (hearth_sampler_set_json_schema(smp, schema) < 0) {
                fprintf(stderr, "schema %d refused: %s\n%s\n", i, hearth_last_error(), schema);
                n_bad_schema++;
                hearth_sampler_free(smp);
                break;
            }
            static char out[1 << 16];
            out[0] = 0;
            int32_t prompt[3] = {2, 10 + i % 50, 60 + k};
            hearth_generate_params gp = {.max_tokens = budget, .sampler = smp, .on_text = collect_big, .user = out};
            hearth_generate_stats st;
            int rc = hearth_generate(ss[mi], prompt, 3, &gp, &st);
            hearth_grammar_state gs = hearth_sampler_grammar_state(smp);
            bool complete = rc == 0 && st.finish == HEARTH_FINISH_EOG && (gs == HEARTH_GRAMMAR_COMPLETE || gs == HEARTH_GRAMMAR_DONE);
            n_complete += complete;
            n_length += st.finish == HEARTH_FINISH_LENGTH;
            total_tokens += st.n_generated;
            snprintf(path, sizeof path, "%s/out_%03d_%d.json", dir, i, k);
            f = fopen(path, "w");
            fputs(out, f);
            fclose(f);
            fprintf(index, "schema_%03d.json\tout_%03d_%d.json\t%s\t%d\t%s\n", i, i, k, complete ? "complete" : st.finish == HEARTH_FINISH_LENGTH ? "length" : "other",
                    st.n_generated, models[mi]);
            n_out++;
            hearth_sampler_free(smp);
        }
        free(schema);
    }
    fclose(index);
    double dt = now_seconds() - t0;
    printf("grammar property test: %d schemas, %d outputs, %d complete, %d hit the %d-token budget, %d schemas refused; "
           "%ld tokens in %.1f s (%.0f tok/s)\n",
           n_schemas, n_out, n_complete, n_length, budget, n_bad_schema, total_tokens, dt, total_tokens / dt);
    for (int i = 0; i < 2; i++) { hearth_session_free(ss[i]); hearth_model_free(ms[i]); }
    return n_complete == n_out && n_bad_schema == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--property")) return property_test(argv[2]);
    test_constructs();
    test_errors();
    test_schema();
    test_vocab();
    test_sampler();
    test_generate();
    test_big_vocab();
    TEST_SUMMARY("test_grammar");
}
