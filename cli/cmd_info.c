/* cmd_info.c — `hearth info MODEL`: architecture, parameters, tensor types, context, vocabulary, template. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool tensors = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hearth info MODEL [--tensors]\n\nPrints the model's architecture, parameter count, tensor types,\n"
                   "training context length, vocabulary and whether it carries a chat template.\n");
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--tensors")) tensors = true;
        else if (argv[i][0] == '-') { cli_error("info: unknown option '%s'", argv[i]); return EXIT_USAGE; }
        else path = argv[i];
    }
    if (!path) { cli_error("usage: hearth info MODEL"); return EXIT_USAGE; }
    hearth_model *m = cli_load_model(path, false);
    if (!m) return EXIT_MODEL;
    hearth_model_info info;
    hearth_model_get_info(m, &info);
    printf("file:          %s\n", path);
    printf("architecture:  %s\n", info.arch);
    if (*info.name) printf("name:          %s\n", info.name);
    printf("parameters:    %llu (%.2f M)\n", (unsigned long long)info.n_params, info.n_params / 1e6);
    printf("tensor bytes:  %llu (%.2f MiB)\n", (unsigned long long)info.n_bytes, info.n_bytes / 1048576.0);
    printf("layers:        %d\nembedding:     %d\nheads:         %d\n", info.n_layer, info.n_embd, info.n_head);
    printf("context:       %d\n", info.n_ctx_train);
    printf("vocabulary:    %d (%s)\n", info.n_vocab, *info.tokenizer ? info.tokenizer : "no tokenizer");
    printf("chat template: %s\n", info.has_chat_template ? "yes" : "no");
    /* tensor type histogram */
    struct { const char *type; int count; unsigned long long elems; } hist[32];
    int n_hist = 0;
    const char *name, *type;
    int64_t ne[4];
    int nd;
    for (int i = 0; hearth_model_tensor(m, i, &name, &type, ne, &nd); i++) {
        unsigned long long el = (unsigned long long)(ne[0] * ne[1] * ne[2] * ne[3]);
        if (tensors) printf("  %-40s %-6s [%lld, %lld, %lld, %lld]\n", name, type, (long long)ne[0], (long long)ne[1],
                            (long long)ne[2], (long long)ne[3]);
        int j = 0;
        while (j < n_hist && strcmp(hist[j].type, type)) j++;
        if (j == n_hist && n_hist < 32) { hist[n_hist].type = type; hist[n_hist].count = 0; hist[n_hist].elems = 0; n_hist++; }
        if (j < n_hist) { hist[j].count++; hist[j].elems += el; }
    }
    printf("tensor types: ");
    for (int j = 0; j < n_hist; j++) printf(" %s×%d (%.1f%%)", hist[j].type, hist[j].count,
                                            info.n_params ? 100.0 * hist[j].elems / info.n_params : 0.0);
    printf("\n");
    hearth_model_free(m);
    return EXIT_OK;
}
