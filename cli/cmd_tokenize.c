/* cmd_tokenize.c — `hearth tokenize MODEL [--ids|--pieces|--count] < FILE`: the model's tokenizer on stdin.
 * Only the vocabulary is loaded (vocab-only GGUF files work). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
    const char *model_arg = NULL, *mode = "ids";
    bool special = false, bos = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--ids")) mode = "ids";
        else if (!strcmp(a, "--pieces")) mode = "pieces";
        else if (!strcmp(a, "--count")) mode = "count";
        else if (!strcmp(a, "--special")) special = true;
        else if (!strcmp(a, "--no-bos")) bos = false;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: hearth tokenize MODEL [--ids|--pieces|--count] [--special] [--no-bos] < FILE\n\n"
                   "Tokenizes stdin with MODEL's tokenizer. --ids (default): ids, space-separated; --pieces: one\n"
                   "token per line as id and quoted piece; --count: the number of tokens. --special: the text of\n"
                   "control tokens becomes those tokens. --no-bos: no BOS even if the model adds one.\n");
            return EXIT_OK;
        } else if (a[0] == '-' && a[1]) { cli_error("tokenize: unknown option '%s'", a); return EXIT_USAGE; }
        else if (!model_arg) model_arg = a;
        else { cli_error("tokenize: unexpected argument '%s'", a); return EXIT_USAGE; }
    }
    if (!model_arg) { cli_error("usage: hearth tokenize MODEL [--ids|--pieces|--count] < FILE"); return EXIT_USAGE; }
    size_t cap = 1 << 16, len = 0, n;
    char *text = malloc(cap);
    while (text && (n = fread(text + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) { char *t = realloc(text, cap *= 2); if (!t) { free(text); text = NULL; } else text = t; }
    }
    if (!text) { cli_error("out of memory"); return EXIT_FAIL; }
    hearth_model *m = cli_load_model(model_arg, true);
    if (!m) { free(text); return EXIT_MODEL; }
    int rc = EXIT_OK;
    int count = hearth_tokenize(m, text, len, bos, special, NULL, 0);
    int32_t *ids = count > 0 ? malloc(sizeof(int32_t) * (size_t)count) : NULL;
    if (count < 0 || (count > 0 && !ids)) { cli_error("%s", hearth_last_error()); rc = EXIT_FAIL; goto done; }
    if (count > 0) hearth_tokenize(m, text, len, bos, special, ids, count);
    if (!strcmp(mode, "count")) printf("%d\n", count);
    else if (!strcmp(mode, "ids")) {
        for (int i = 0; i < count; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    } else {
        char piece[512];
        for (int i = 0; i < count; i++) {
            int pl = hearth_token_to_piece(m, ids[i], true, piece, sizeof piece);
            printf("%6d  \"", ids[i]);
            for (int j = 0; j < pl && pl <= (int)sizeof piece; j++) {
                unsigned char c = (unsigned char)piece[j];
                if (c == '"' || c == '\\') printf("\\%c", c);
                else if (c == '\n') printf("\\n");
                else if (c == '\t') printf("\\t");
                else if (c < 0x20) printf("\\x%02x", c);
                else putchar(c);
            }
            printf("\"\n");
        }
    }
done:
    free(ids);
    free(text);
    hearth_model_free(m);
    return rc;
}
