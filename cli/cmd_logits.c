/* cmd_logits.c — `hearth logits MODEL --prompt-ids IDS --out FILE`: evaluate the ids as one sequence and
 * write float32 little-endian logits for every position, [n_tokens][n_vocab]. Outside checks depend on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_logits(int argc, char **argv) {
    common_opts o = {0};
    const char *ids_arg = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        int c = cli_common_opt(&o, argc, argv, &i);
        if (c < 0) return EXIT_USAGE;
        if (c) continue;
        if (!strcmp(argv[i], "--prompt-ids")) { if (!(ids_arg = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) { if (!(out_path = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: hearth logits MODEL --prompt-ids IDS --out FILE [--threads N] [--ctx N] [--kv-type T]\n\n"
                   "Evaluates the comma-separated token ids as one sequence and writes the logits of every\n"
                   "position to FILE as float32 little-endian, [n_tokens][n_vocab].\n");
            return EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) { cli_error("logits: unknown option '%s'", argv[i]); return EXIT_USAGE; }
        else if (!o.model) o.model = argv[i];
        else { cli_error("logits: unexpected argument '%s'", argv[i]); return EXIT_USAGE; }
    }
    if (!o.model || !ids_arg || !out_path) {
        cli_error("usage: hearth logits MODEL --prompt-ids IDS --out FILE");
        return EXIT_USAGE;
    }
    int n;
    int32_t *ids = cli_parse_ids(ids_arg, &n);
    if (!ids) return EXIT_USAGE;
    hearth_model *model = cli_load_model(o.model, false);
    if (!model) { free(ids); return EXIT_MODEL; }
    int rc = EXIT_FAIL;
    hearth_session *s = cli_new_session(model, &o);
    float *logits = NULL;
    if (s) {
        int nv = hearth_model_n_vocab(model);
        logits = malloc(sizeof(float) * (size_t)n * nv);
        int st = logits ? hearth_session_eval(s, ids, n, logits) : HEARTH_ERR_NOMEM;
        if (st < 0) {
            cli_error("%s", hearth_last_error());
            rc = cli_status_exit(st);
        } else {
            FILE *fp = fopen(out_path, "wb");
            if (!fp || fwrite(logits, sizeof(float), (size_t)n * nv, fp) != (size_t)n * nv || fclose(fp) != 0)
                cli_error("cannot write %s", out_path);
            else rc = EXIT_OK;
        }
    }
    free(logits);
    free(ids);
    hearth_session_free(s);
    hearth_model_free(model);
    return rc;
}
