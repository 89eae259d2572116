/* tokenize_corpus.c — reference token ids from llama.cpp's tokenizer (linked as a library for comparison,
 * not part of hearth) for a vocab-test corpus (strings separated by "\n__ggml_vocab_test__\n"), one line of
 * space-separated ids per string, no special tokens added. Also prints the tokenization time.
 * Build: cc -O2 tokenize_corpus.c -I$LLAMA/include -I$LLAMA/ggml/include -L$LLAMA/build/bin -lllama -lggml
 *        -lggml-base -Wl,-rpath,$LLAMA/build/bin      usage: tokenize_corpus VOCAB.gguf CORPUS OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llama.h"

static void quiet(enum ggml_log_level level, const char *text, void *ud) { (void)level; (void)text; (void)ud; }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s VOCAB.gguf CORPUS OUT\n", argv[0]); return 2; }
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) return 1;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    FILE *fp = fopen(argv[2], "rb");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) return 1;
    buf[n] = 0;
    fclose(fp);
    FILE *out = fopen(argv[3], "w");
    const char *sep = "\n__ggml_vocab_test__\n";
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n + 16));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (char *p = buf;;) {
        char *e = strstr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int k = llama_tokenize(vocab, p, (int32_t)len, ids, (int32_t)(n + 16), false, false);
        for (int i = 0; i < k; i++) fprintf(out, i ? " %d" : "%d", ids[i]);
        fputc('\n', out);
        if (!e) break;
        p = e + strlen(sep);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fclose(out);
    printf("%.4f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    return 0;
}
