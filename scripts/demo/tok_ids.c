/* tok_ids.c — hearth's token ids for texts, to compare with the demo's Python tokenizer (bpe.py).
 *
 * usage: tok_ids FILE.gguf [--special] < texts
 *   texts: NUL-separated on stdin; prints one line per text, the ids comma-separated. --special parses the
 *   texts of control tokens (as for chat-template output). FILE may be vocabulary-only (no tensors).
 * build: cc -std=c17 -O2 -Isrc -Iinclude scripts/demo/tok_ids.c build/libhearth.a -lm -pthread -o build/tok_ids */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "hearth.h"
#include "tokenizer.h"

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: tok_ids FILE.gguf [--special] < texts\n"); return 2; }
    bool special = argc > 2 && !strcmp(argv[2], "--special");
    gguf_file f;
    tokenizer *t;
    if (gguf_open(&f, argv[1]) < 0 || tokenizer_load_gguf(&t, &f) < 0) {
        fprintf(stderr, "tok_ids: %s\n", hearth_last_error());
        return 1;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    int c;
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    for (;;) {
        c = getchar();
        if (c == EOF || c == 0) {
            if (c == EOF && n == 0) break;
            int k = tokenizer_encode(t, buf, n, false, special, ids, (int)cap);
            if (k < 0) { fprintf(stderr, "tok_ids: %s\n", hearth_last_error()); return 1; }
            for (int i = 0; i < k; i++) printf(i ? ",%d" : "%d", ids[i]);
            printf("\n");
            n = 0;
            if (c == EOF) break;
            continue;
        }
        if (n + 1 >= cap) { fprintf(stderr, "tok_ids: text too long\n"); return 1; }
        buf[n++] = (char)c;
    }
    tokenizer_free(t);
    gguf_close(&f);
    free(buf);
    free(ids);
    return 0;
}
