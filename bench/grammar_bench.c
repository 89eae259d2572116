/* grammar_bench.c — the cost of constrained sampling per token on a real vocabulary (default: Gemma 4's
 * 262 144 tokens, vocab-only file). Built on demand: `make bench`, then
 *     build/bench/grammar_bench [VOCAB.gguf] [REPEATS]
 *
 * Each case replays a realistic document, tokenized as the model would write it, through the sampler:
 * every step samples from random logits (default sampling parameters: the mask, the softmax and the draw
 * all count) and then accepts the document's next token, so the grammar walks the document's path. The
 * same steps without a grammar are the baseline. "cold" is a new sampler (nothing cached: the first
 * request with a schema), "warm" the same sampler reset and run again (the DFA and masks it built are
 * kept). Last, the matrix-vector product of the output projection alone (262 144 x 1536 in Q4_0 — Gemma
 * 4 E2B's, the smallest model with this vocabulary) gives a floor for a decode step on this machine, to
 * put the overhead in proportion: decode tok/s with a grammar >= floor / (floor + overhead).
 *
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other work on a shared machine does not
 * inflate them; the projection runs on one thread, so its floor is per core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grammar.h"
#include "hearth.h"
#include "matmul.h"
#include "threadpool.h"
#include "types.h"
#include "util.h"

typedef struct {
    const char *name;
    const char *schema; /* NULL: --json (any JSON value) */
    const char *doc;
} bench_case;

static const bench_case cases[] = {
    {"json-schema: order", "{\"type\":\"object\",\"properties\":{"
        "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
        "\"customer\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"email\":{\"type\":\"string\",\"format\":\"email\"},"
        "\"vip\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"email\"]},"
        "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"sku\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}-[0-9]{4}$\"},"
        "\"qty\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},\"price\":{\"type\":\"number\",\"minimum\":0}},\"required\":[\"sku\",\"qty\",\"price\"]},\"minItems\":1},"
        "\"status\":{\"enum\":[\"pending\",\"paid\",\"shipped\"]},"
        "\"note\":{\"type\":\"string\"},\"created\":{\"type\":\"string\",\"format\":\"date-time\"}},"
        "\"required\":[\"id\",\"customer\",\"items\",\"status\",\"created\"]}",
     "{\"id\": \"3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b\", \"customer\": {\"name\": \"Zoë Müller-Schmidt\", \"email\": "
     "\"zoe.mueller@example.de\", \"vip\": true}, \"items\": [{\"sku\": \"ABC-1234\", \"qty\": 2, \"price\": 19.99}, "
     "{\"sku\": \"XYZ-0042\", \"qty\": 1, \"price\": 249.5}], \"status\": \"paid\", \"note\": \"Please deliver after 6 pm; "
     "the doorbell is broken, call +49 170 1234567 instead. Gift wrap the second item — it's a birthday present "
     "for my sister, who turns 30 next week!\", \"created\": \"2024-11-05T14:23:07Z\"}"},
    {"--json: nested document", NULL,
     "{\n  \"model\": \"gemma-4\",\n  \"results\": [\n    {\"query\": \"capital of France\", \"answer\": \"Paris\", \"confidence\": 0.97},\n"
     "    {\"query\": \"largest planet\", \"answer\": \"Jupiter\", \"confidence\": 0.99, \"sources\": [\"NASA\", \"ESA\"]},\n"
     "    {\"query\": \"日本の首都\", \"answer\": \"東京\", \"confidence\": 0.95}\n  ],\n  \"summary\": \"All three questions were "
     "answered from general knowledge; no tool calls were needed. The Japanese question was answered in Japanese.\",\n"
     "  \"tokens\": 1234,\n  \"cached\": false,\n  \"error\": null\n}"},
    {"json-schema: maxLength 400", "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\",\"maxLength\":80},"
        "\"summary\":{\"type\":\"string\",\"minLength\":10,\"maxLength\":400}},\"required\":[\"title\",\"summary\"]}",
     "{\"title\": \"Quarterly report\", \"summary\": \"Revenue grew 12% year over year, driven by subscriptions in Europe and "
     "Asia; costs stayed flat. The board approved the new data centre in Frankfurt, which opens next spring.\"}"},
    {"json-schema: tool call args", "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"},"
        "\"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]},\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":14}},"
        "\"required\":[\"location\",\"unit\"],\"additionalProperties\":false}",
     "{\"location\": \"San Francisco, CA\", \"unit\": \"celsius\", \"days\": 5}"},
};

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17;
    return (float)(rs >> 40) / (float)(1u << 24);
}

typedef struct {
    double total, worst;
    int n;
} timing;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One pass over the document: sample from random logits, accept the document's token. */
static void run_pass(hearth_sampler *smp, const hearth_model *m, const int32_t *toks, int nt, float *const *logits,
                     timing *t, int *violations) {
    hearth_sampler_reset(smp);
    for (int i = 0; i <= nt; i++) {
        double a = cpu_now();
        int32_t s = hearth_sampler_sample(smp, logits[i % 4]);
        int32_t next = i < nt ? toks[i] : hearth_token_eos(m);
        if (i < nt) hearth_sampler_accept(smp, next);
        double dt = cpu_now() - a;
        t->total += dt;
        t->n++;
        if (dt > t->worst) t->worst = dt;
        (void)s;
    }
    if (violations && hearth_sampler_grammar_state(smp) != HEARTH_GRAMMAR_COMPLETE &&
        hearth_sampler_grammar_state(smp) != HEARTH_GRAMMAR_DONE)
        (*violations)++;
}

/* The grammar's own work per token (mask + accept), through the matcher; cold = a new matcher. */
static void grammar_only(const hearth_model *m, const char *gbnf, const int32_t *toks, int nt, int repeats,
                         double *cold_us, double *warm_us, double *worst_us, long *walks, long *hits) {
    grammar *g;
    grammar_compile(&g, gbnf, NULL, NULL);
    const gvocab *v = gvocab_for_model(m);
    double cold = 0, warm = 0, worst = 0;
    *walks = *hits = 0;
    for (int r = 0; r < repeats; r++) {
        gmatch *gm = gmatch_new(g, v);
        for (int pass = 0; pass < 2; pass++) {
            gmatch_reset(gm);
            for (int i = 0; i <= nt; i++) {
                gmask bits;
                double a = cpu_now();
                gmatch_mask(gm, &bits);
                if (i < nt) gmatch_accept_token(gm, toks[i]);
                double dt = cpu_now() - a;
                if (pass == 0) cold += dt; else warm += dt;
                if (dt > worst) worst = dt;
            }
        }
        long w, h;
        gmatch_stats(gm, &w, &h, NULL);
        *walks += w;
        *hits += h;
        gmatch_free(gm);
    }
    grammar_free(g);
    *cold_us = cold / repeats / (nt + 1) * 1e6;
    *warm_us = warm / repeats / (nt + 1) * 1e6;
    *worst_us = worst * 1e6;
}

/* The output projection's matrix-vector product (Q4_0, 262144 x 1536), timed on a quarter of its rows. */
static double lm_head_seconds(void) {
    const int64_t rows = 65536, cols = 1536;
    const uint64_t row_bytes = (uint64_t)(cols / 32) * 18;
    uint8_t *w = malloc(rows * row_bytes);
    float *x = malloc(sizeof(float) * cols), *y = malloc(sizeof(float) * rows);
    if (!w || !x || !y) return 0;
    for (int64_t i = 0; i < rows * (int64_t)row_bytes; i++) w[i] = (uint8_t)(frand() * 256);
    for (int64_t b = 0; b < rows * cols / 32; b++) { w[b * 18] = 0x00; w[b * 18 + 1] = 0x30; } /* scale 0.125 */
    for (int64_t i = 0; i < cols; i++) x[i] = frand() - 0.5f;
    threadpool *pool = pool_new(1);
    matmul(pool, w, T_Q4_0, rows, cols, row_bytes, x, cols, 1, y, rows); /* warm up */
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double a = cpu_now();
        matmul(pool, w, T_Q4_0, rows, cols, row_bytes, x, cols, 1, y, rows);
        double dt = cpu_now() - a;
        if (dt < best) best = dt;
    }
    pool_free(pool);
    free(w); free(x); free(y);
    return best * (262144.0 / (double)rows);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "../shared/data/vocab/ggml-vocab-gemma-4.gguf";
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    double t0 = now_seconds();
    hearth_model *m = hearth_model_load(path, &(hearth_model_params){.vocab_only = true});
    if (!m) { fprintf(stderr, "%s\n", hearth_last_error()); return 1; }
    double t_load = now_seconds() - t0;
    t0 = now_seconds();
    const gvocab *v = gvocab_for_model(m);
    double t_trie = now_seconds() - t0;
    int nv = hearth_model_n_vocab(m);
    printf("vocabulary %s: %d tokens (load %.0f ms); token trie %d nodes, built in %.0f ms (once per model)\n\n", path, nv,
           t_load * 1e3, gvocab_n_nodes(v), t_trie * 1e3);
    float *logits[4];
    for (int k = 0; k < 4; k++) {
        logits[k] = malloc(sizeof(float) * (size_t)nv);
        for (int i = 0; i < nv; i++) logits[k][i] = frand() * 8.0f;
    }
    hearth_sampler_params sp = hearth_sampler_default_params();
    sp.seed = 1;
    printf("%-28s %6s %10s %14s %14s %14s %12s\n", "case", "tokens", "plain", "grammar cold", "grammar warm", "overhead warm", "worst step");
    printf("%-28s %6s %10s %14s %14s %14s %12s\n", "", "", "us/tok", "us/tok", "us/tok", "us/tok", "us (cold)");
    double sum_over_warm = 0, sum_over_cold = 0;
    int n_cases = 0, violations = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bench_case *bc = &cases[c];
        int32_t toks[2048];
        int nt = hearth_tokenize(m, bc->doc, strlen(bc->doc), false, false, toks, 2048);
        timing plain = {0}, cold = {0}, warm = {0};
        hearth_sampler *s0 = hearth_sampler_new(m, &sp);
        for (int r = 0; r < repeats; r++) run_pass(s0, m, toks, nt, logits, &plain, NULL);
        hearth_sampler_free(s0);
        /* cold: compile + a new sampler each time (as a server does per request) */
        double compile = 0;
        for (int r = 0; r < repeats; r++) {
            hearth_sampler *s = hearth_sampler_new(m, &sp);
            double a = cpu_now();
            int rc = bc->schema ? hearth_sampler_set_json_schema(s, bc->schema) : hearth_sampler_set_json(s);
            compile += cpu_now() - a;
            if (rc < 0) { fprintf(stderr, "%s: %s\n", bc->name, hearth_last_error()); return 1; }
            run_pass(s, m, toks, nt, logits, &cold, &violations);
            if (r == repeats - 1) {
                for (int k = 0; k < repeats; k++) run_pass(s, m, toks, nt, logits, &warm, &violations);
            }
            hearth_sampler_free(s);
        }
        double p = plain.total / plain.n * 1e6, co = cold.total / cold.n * 1e6, wa = warm.total / warm.n * 1e6;
        printf("%-28s %6d %10.1f %14.1f %14.1f %14.1f %12.0f   (grammar compile %.2f ms)\n", bc->name, nt + 1, p, co, wa,
               wa - p, cold.worst * 1e6, compile / repeats * 1e3);
        char *gbnf = NULL;
        if (bc->schema) hearth_json_schema_to_gbnf(bc->schema, &gbnf);
        double gc, gw, gworst;
        long walks, hits;
        grammar_only(m, gbnf ? gbnf : hearth_json_gbnf(), toks, nt, repeats, &gc, &gw, &gworst, &walks, &hits);
        printf("%-28s %6s   mask+accept alone: %.1f us/tok cold, %.1f warm, worst %.0f us; %ld trie walks, %ld cached masks\n",
               "", "", gc, gw, gworst, walks, hits);
        free(gbnf);
        sum_over_warm += wa - p;
        sum_over_cold += co - p;
        n_cases++;
    }
    double lm = lm_head_seconds();
    double ow = sum_over_warm / n_cases * 1e-6, oc = sum_over_cold / n_cases * 1e-6;
    printf("\nmean grammar overhead per token: %.1f us warm, %.1f us cold%s\n", ow * 1e6, oc * 1e6,
           violations ? " (some documents did not complete: BUG)" : "");
    if (lm > 0)
        printf("output projection alone (262144 x 1536, Q4_0, one core): %.2f ms/token, a decode floor of %.0f tok/s per core\n"
               "=> constrained decode >= %.1f%% (warm) / %.1f%% (cold) of unconstrained at that floor\n",
               lm * 1e3, 1.0 / lm, 100.0 * lm / (lm + (ow > 0 ? ow : 0)), 100.0 * lm / (lm + (oc > 0 ? oc : 0)));
    for (int k = 0; k < 4; k++) free(logits[k]);
    hearth_model_free(m);
    return violations ? 1 : 0;
}
