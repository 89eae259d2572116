/* tokenize_bench.c — tokenizer throughput on mixed and pathological inputs (about 1 MB each).
 * Build and run from the repository root (after `make`):
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc -Itests bench/tokenize_bench.c build/libhearth.a -lm -o build/tokenize_bench
 *   ./build/tokenize_bench [vocab-name ...]      (default: all of ../shared/data/vocab) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"
#include "unicode.h"
#include "util.h"

#if defined(__has_include)
#if !__has_include("../src/gguf.c")
#include "../tests/tok_gguf_standin.c" /* until src/gguf.c exists on this branch */
#endif
#endif

#define MB (1u << 20)

static char *fill(const char *unit, size_t *len) {
    size_t ul = strlen(unit);
    char *s = malloc(MB + ul);
    size_t n = 0;
    while (n < MB) { memcpy(s + n, unit, ul); n += ul; }
    *len = n;
    return s;
}

int main(int argc, char **argv) {
    static const char *const all[] = { "gemma-4", "llama-bpe", "llama-spm", "phi-3", "qwen2", "qwen35", "gpt-2" };
    const char *const *names = argc > 1 ? (const char *const *)argv + 1 : all;
    int n_names = argc > 1 ? argc - 1 : (int)(sizeof all / sizeof all[0]);
    const char *shared = getenv("HEARTH_SHARED") ? getenv("HEARTH_SHARED") : "../shared";

    struct { const char *name; char *text; size_t len; } in[8];
    int n_in = 0;
    size_t ml = 0;
    char *mixed = NULL;
    FILE *fp = fopen("tests/data/tokenizer/mixed.inp", "rb");
    if (fp) {
        mixed = malloc(MB + 100000);
        size_t r = fread(mixed, 1, 100000, fp);
        fclose(fp);
        for (ml = r; ml < MB && r; ml += r) memcpy(mixed + ml, mixed, r);
        in[n_in].name = "mixed";
        in[n_in].text = mixed;
        in[n_in].len = ml;
        n_in++;
    }
    in[n_in].name = "english";
    in[n_in].text = fill("The quick brown fox jumps over the lazy dog. ", &in[n_in].len); n_in++;
    in[n_in].name = "chinese";
    in[n_in].text = fill("\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xe3\x80\x82", &in[n_in].len); n_in++;
    in[n_in].name = "aaaa";
    in[n_in].text = fill("a", &in[n_in].len); n_in++;
    in[n_in].name = "spaces";
    in[n_in].text = fill(" ", &in[n_in].len); n_in++;
    in[n_in].name = "newlines";
    in[n_in].text = fill("\n", &in[n_in].len); n_in++;
    in[n_in].name = "digits";
    in[n_in].text = fill("1234567890", &in[n_in].len); n_in++;
    in[n_in].name = "bytes";
    in[n_in].text = fill("\xff\xfe\x80", &in[n_in].len); n_in++;

    printf("%-10s %8s", "vocab", "load ms");
    for (int k = 0; k < n_in; k++) printf(" %9s", in[k].name);
    printf("   (MB/s)\n");
    for (int i = 0; i < n_names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-%s.gguf", shared, names[i]);
        gguf_file f;
        if (gguf_open(&f, path)) { fprintf(stderr, "%s: %s\n", path, hearth_last_error()); continue; }
        tokenizer *t;
        double t0 = now_seconds();
        int rc = tokenizer_load_gguf(&t, &f);
        double t1 = now_seconds();
        gguf_close(&f);
        if (rc) { fprintf(stderr, "%s: %s\n", names[i], hearth_last_error()); continue; }
        printf("%-10s %8.1f", names[i], (t1 - t0) * 1e3);
        for (int k = 0; k < n_in; k++) {
            double best = 1e9;
            for (int rep = 0; rep < 3; rep++) {
                double a = now_seconds();
                int cnt = tokenizer_encode(t, in[k].text, in[k].len, false, false, NULL, 0);
                double b = now_seconds();
                if (cnt < 0) { fprintf(stderr, "encode failed: %s\n", hearth_last_error()); break; }
                if (b - a < best) best = b - a;
            }
            printf(" %9.1f", in[k].len / 1e6 / best);
        }
        printf("\n");
        fflush(stdout);
        tokenizer_free(t);
    }
    for (int k = 0; k < n_in; k++) free(in[k].text);
    return 0;
}
