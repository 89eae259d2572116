/* cmd_run.c — `hearth run MODEL ...`: generate from a prompt. The id path (--prompt-ids ... --print-ids)
 * decodes through the KV cache one token at a time and prints the generated ids; outside checks depend on it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static hearth_session *volatile running;
static void on_sigint(int sig) {
    (void)sig;
    if (running) hearth_session_cancel(running);
}

int cmd_run(int argc, char **argv) {
    common_opts o = {0};
    const char *ids_arg = NULL;
    int n_predict = 256;
    bool print_ids = false;
    hearth_sampler_params sp = hearth_sampler_default_params();
    for (int i = 1; i < argc; i++) {
        int c = cli_common_opt(&o, argc, argv, &i);
        if (c < 0) return EXIT_USAGE;
        if (c) continue;
        const char *a = argv[i], *v;
        if (!strcmp(a, "--prompt-ids")) { if (!(ids_arg = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--print-ids")) print_ids = true;
        else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(v, &n_predict) || n_predict < 0) {
                cli_error("-n needs a non-negative integer"); return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--temp") || !strcmp(a, "--temperature")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(v, &sp.temperature)) {
                cli_error("--temp needs a number"); return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: hearth run MODEL --prompt-ids IDS [-n N] [--temp T] [--print-ids] [--threads N] [--ctx N]\n");
            return EXIT_OK;
        } else if (a[0] == '-' && a[1]) { cli_error("run: unknown option '%s'", a); return EXIT_USAGE; }
        else if (!o.model) o.model = a;
        else { cli_error("run: unexpected argument '%s'", a); return EXIT_USAGE; }
    }
    if (!o.model || !ids_arg) { cli_error("usage: hearth run MODEL --prompt-ids IDS"); return EXIT_USAGE; }
    int n_prompt;
    int32_t *prompt = cli_parse_ids(ids_arg, &n_prompt);
    if (!prompt) return EXIT_USAGE;
    hearth_model *model = cli_load_model(o.model, false);
    if (!model) { free(prompt); return EXIT_MODEL; }
    hearth_session *s = cli_new_session(model, &o);
    hearth_sampler *smp = s ? hearth_sampler_new(model, &sp) : NULL;
    int rc = EXIT_FAIL;
    if (!s || !smp) goto done;
    running = s;
    signal(SIGINT, on_sigint);
    int st = hearth_session_eval(s, prompt, n_prompt, NULL);
    for (int i = 0; i < n_prompt; i++) hearth_sampler_accept(smp, prompt[i]);
    int n_gen = 0;
    while (st == 0 && n_gen < n_predict) {
        int32_t tok = hearth_sampler_sample(smp, hearth_session_logits(s));
        if (hearth_token_is_eog(model, tok)) {
            if (print_ids) printf("%s%d", n_gen ? "," : "", tok);
            n_gen++;
            break;
        }
        hearth_sampler_accept(smp, tok);
        if (print_ids) { printf("%s%d", n_gen ? "," : "", tok); fflush(stdout); }
        n_gen++;
        if (n_gen == n_predict) break;
        st = hearth_session_eval(s, &tok, 1, NULL);
    }
    if (print_ids) printf("\n");
    if (st < 0) { cli_error("%s", hearth_last_error()); rc = cli_status_exit(st); }
    else rc = EXIT_OK;
done:
    running = NULL;
    hearth_sampler_free(smp);
    hearth_session_free(s);
    hearth_model_free(model);
    free(prompt);
    return rc;
}
