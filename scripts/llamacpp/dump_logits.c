/* dump_logits.c — reference runner for comparisons: evaluates token ids with llama.cpp (linked as a library,
 * not part of hearth) and writes all-position logits as float32, then decodes greedily through its KV cache.
 * Build: see scripts/llamacpp/build.sh.  usage: dump_logits MODEL IDS OUT [N_GREEDY] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *ud) { (void)level; (void)text; (void)ud; }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s MODEL IDS OUT [N_GREEDY]\n", argv[0]); return 2; }
    int n_greedy = argc > 4 ? atoi(argv[4]) : 0;
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "llama.cpp could not load %s\n", argv[1]); return 1; }
    int32_t ids[4096], n = 0;
    for (char *p = argv[2]; *p && n < 4096;) { ids[n++] = (int32_t)strtol(p, &p, 10); if (*p == ',') p++; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 512; cp.n_batch = 512; cp.n_ubatch = 512; cp.n_threads = 2; cp.n_threads_batch = 2;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "llama.cpp could not create a context\n"); return 1; }
    int nv = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        b.token[i] = ids[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1;
    }
    b.n_tokens = n;
    if (llama_decode(ctx, b)) { fprintf(stderr, "decode failed\n"); return 1; }
    FILE *fp = fopen(argv[3], "wb");
    for (int i = 0; i < n; i++) fwrite(llama_get_logits_ith(ctx, i), sizeof(float), (size_t)nv, fp);
    fclose(fp);
    int pos = n;
    float *last = llama_get_logits_ith(ctx, n - 1);
    for (int g = 0; g < n_greedy; g++) {
        int best = 0;
        for (int j = 1; j < nv; j++) if (last[j] > last[best]) best = j;
        printf("%s%d", g ? "," : "", best);
        if (best == llama_vocab_eos(llama_model_get_vocab(model))) break;
        struct llama_batch one = llama_batch_init(1, 0, 1);
        one.token[0] = best; one.pos[0] = pos++; one.n_seq_id[0] = 1; one.seq_id[0][0] = 0; one.logits[0] = 1;
        one.n_tokens = 1;
        if (llama_decode(ctx, one)) { fprintf(stderr, "decode failed\n"); return 1; }
        last = llama_get_logits_ith(ctx, 0);
        llama_batch_free(one);
    }
    if (n_greedy) printf("\n");
    llama_batch_free(b);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
