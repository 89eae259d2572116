/* tokenize_corpus.c — hearth's side of bench/tokenizer-vs-llamacpp.sh: tokenizes every string of a
 * vocab-test corpus (strings separated by "\n__ggml_vocab_test__\n") on one thread, no special tokens, and
 * prints the seconds spent tokenizing (vocabulary load excluded, as on the llama.cpp side).
 * Build: cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude bench/tokenize_corpus.c build/libhearth.a -lm -pthread */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hearth.h"

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s VOCAB.gguf CORPUS\n", argv[0]); return 2; }
    hearth_model_params mp = {.vocab_only = true};
    hearth_model *m = hearth_model_load(argv[1], &mp);
    if (!m) { fprintf(stderr, "%s\n", hearth_last_error()); return 1; }
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) return 1;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) return 1;
    buf[n] = 0;
    fclose(fp);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n + 16));
    const char *sep = "\n__ggml_vocab_test__\n";
    long total = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (char *p = buf;;) {
        char *e = strstr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        total += hearth_tokenize(m, p, len, false, false, ids, (int)(n + 16));
        if (!e) break;
        p = e + strlen(sep);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.4f %ld\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9, total);
    hearth_model_free(m);
    return 0;
}
