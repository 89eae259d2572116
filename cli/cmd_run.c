/* cmd_run.c — `hearth run [MODEL] [PROMPT...]`: one answer, streamed to stdout.
 *
 * Text path: the prompt words, then (when stdin is not a terminal) a blank line and stdin's content, form
 * the user turn, rendered with the model's chat template (--raw: no template). Output streams token by
 * token as valid UTF-8; timings go to stderr (--quiet silences them). Ctrl-C stops generation cleanly.
 * Id path (kept stable for outside checks): --prompt-ids 2,17,5 ... --print-ids decodes and prints ids. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "run_route.h"

static hearth_session *volatile running;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    if (running) hearth_session_cancel(running);
}

static const char run_help[] =
    "usage: hearth run [MODEL] [PROMPT...] [options]\n"
    "\n"
    "Generates an answer to PROMPT with MODEL (a path, or a name in $HEARTH_MODELS, the Hugging Face cache or\n"
    "ollama's store; the embedded default model when omitted). When stdin is not a terminal its content is\n"
    "appended to the prompt after a blank line:  cat payload.json | hearth run model.gguf \"write TS types\"\n"
    "\n"
    "options:\n"
    "  -n, --max-tokens N       stop after N generated tokens (default: until the model ends its turn)\n"
    "  --system TEXT            system prompt\n"
    "  --raw                    no chat template: the prompt is given to the model as is\n"
    "  --special                let the prompt text contain control tokens (unsafe with untrusted input)\n"
    "  --temp T                 temperature (default 0.8; 0 = greedy)\n"
    "  --top-k K, --top-p P, --min-p P       sampling filters (defaults 40, 0.95, 0.05)\n"
    "  --repeat-penalty R, --repeat-last-n N, --presence-penalty P, --frequency-penalty F\n"
    "  --seed S                 random seed (same seed + same input = same output)\n"
    "  --stop TEXT              stop when TEXT appears (repeatable)\n"
    "  --json                   the answer is a JSON value (constrained sampling: valid by construction)\n"
    "  --json-schema FILE       the answer is JSON valid against the JSON Schema in FILE\n"
    "  --grammar FILE           the answer matches the GBNF grammar in FILE (start rule: root)\n"
    "  -c, --ctx N              context length (default: min(model's, 4096))\n"
    "  -t, --threads N          threads (default: physical cores)\n"
    "  --kv-type f32|f16|q8_0|auto   KV cache type (auto: f32 for F32 files, f16 otherwise)\n"
    "  --mlock                  keep the model's weights locked in memory\n"
    "  -q, --quiet              no timings on stderr\n"
    "  --prompt-ids IDS         evaluate these token ids instead of text (comma-separated)\n"
    "  --print-ids              print generated token ids (comma-separated) instead of text\n"
    "  --route FILE             route the request with a route file (docs/router.md): local model or an\n"
    "                           OpenAI-compatible upstream; secrets stay local; outages fall back to local\n"
    "  --route-model NAME       the model name the route rules see (hearth:local, hearth:cloud[:NAME] force one)\n"
    "  --audit FILE             with --route: the audit log to append to ('off': none)\n"
    "\n"
    "After a run, one stderr line: prompt tokens and tok/s, generated tokens and tok/s, time to first token\n"
    "(with --route: where the answer came from, the rule and why).\n";

typedef struct {
    bool print_ids;
    int n_printed;
} out_state;

static bool print_text(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

static void print_id(void *user, int32_t tok) {
    out_state *o = user;
    printf("%s%d", o->n_printed++ ? "," : "", tok);
    fflush(stdout);
}

static char *read_stdin(void) {
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); return NULL; }
            buf = nb;
        }
    }
    buf[len] = 0;
    return buf;
}

/* The user turn: prompt words, then stdin's content (when not a terminal) after a blank line. */
static char *prompt_text(const char *const *words, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(words[i]) + 1;
    char *input = isatty(STDIN_FILENO) ? NULL : read_stdin();
    size_t in_len = input ? strlen(input) : 0;
    char *text = malloc(len + in_len + 2);
    if (!text) { free(input); return NULL; }
    text[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) strcat(text, " ");
        strcat(text, words[i]);
    }
    if (in_len) {
        if (text[0]) strcat(text, "\n\n");
        strcat(text, input);
    }
    free(input);
    return text;
}

static char *read_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            else buf = nb;
        }
    }
    fclose(fp);
    if (buf) buf[len] = 0;
    return buf;
}

int cmd_run(int argc, char **argv) {
    common_opts o = {0};
    const char *ids_arg = NULL, *system_prompt = NULL, *route_file = NULL, *route_model = NULL, *audit = NULL;
    const char *schema_file = NULL, *grammar_file = NULL;
    bool json = false;
    const char *stops[16];
    int n_stops = 0, n_predict = -1, seed = -1;
    bool print_ids = false, raw = false, special = false;
    hearth_sampler_params sp = hearth_sampler_default_params();
    const char *positional[256];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        int c = cli_common_opt(&o, argc, argv, &i);
        if (c < 0) return EXIT_USAGE;
        if (c) continue;
        if ((c = cli_sampling_opt(&sp, &n_predict, &seed, argc, argv, &i)) != 0) {
            if (c < 0) return EXIT_USAGE;
            continue;
        }
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "--prompt-ids")) ok = (ids_arg = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--print-ids")) print_ids = true;
        else if (!strcmp(a, "--raw")) raw = true;
        else if (!strcmp(a, "--special")) special = true;
        else if (!strcmp(a, "--system")) ok = (system_prompt = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--route")) ok = (route_file = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--route-model")) ok = (route_model = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--audit")) ok = (audit = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--json-schema")) ok = (schema_file = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--grammar")) ok = (grammar_file = cli_value(argc, argv, &i)) != NULL;
        else if (!strcmp(a, "--stop")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || n_stops == 16) { cli_error("--stop needs a value (at most 16)"); return EXIT_USAGE; }
            stops[n_stops++] = v;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(run_help, stdout); return EXIT_OK; }
        else if (a[0] == '-' && a[1] && a[1] != ' ') { cli_error("run: unknown option '%s' (see hearth run --help)", a); return EXIT_USAGE; }
        else if (n_pos < 256) positional[n_pos++] = a;
        if (!ok) return EXIT_USAGE;
    }
    if (json + (schema_file != NULL) + (grammar_file != NULL) > 1) {
        cli_error("give one of --json, --json-schema, --grammar");
        return EXIT_USAGE;
    }
    /* a constraint needs a sampler even when greedy: generation without one takes the plain argmax */
    bool constrained = json || schema_file || grammar_file;
    char *constraint_text = NULL;
    const char *constraint_file = schema_file ? schema_file : grammar_file;
    if (constraint_file && !(constraint_text = read_file(constraint_file))) {
        cli_error("cannot read %s", constraint_file);
        return EXIT_USAGE;
    }
    if (seed >= 0) sp.seed = (uint64_t)seed;
    else sp.seed = (uint64_t)getpid() ^ (uint64_t)time(NULL);

    char path[4096];
    if (route_file) {
        if (ids_arg || print_ids || raw) { cli_error("--route takes a text prompt (not --prompt-ids, --print-ids or --raw)"); return EXIT_USAGE; }
        run_route_opts ro = {.route_file = route_file, .audit = audit, .model_name = route_model, .system_prompt = system_prompt,
                             .common = o, .sampler = sp, .n_predict = n_predict, .stops = stops, .n_stops = n_stops,
                             .special = special};
        /* the local model is optional here: a cloud-routed request does not need one */
        int first = 0;
        if (n_pos > 0 && cli_resolve_model(positional[0], path, sizeof path)) { ro.model_path = path; first = 1; }
        else if (n_pos > 0 && strstr(positional[0], ".gguf")) { cli_error("model '%s' not found", positional[0]); return EXIT_MODEL; }
        else if (cli_default_model(path, sizeof path)) ro.model_path = path;
        char *text = prompt_text(positional + first, n_pos - first);
        if (!text) return EXIT_FAIL;
        if (!text[0]) { cli_error("no prompt: give PROMPT words or pipe text on stdin"); free(text); return EXIT_USAGE; }
        ro.text = text;
        int rc = run_routed(&ro);
        free(text);
        return rc;
    }
    if (route_model || audit) { cli_error("--route-model and --audit need --route"); return EXIT_USAGE; }

    /* the model: the first positional argument if it names one, else the default model */
    int first_prompt = 0;
    if (n_pos > 0 && cli_resolve_model(positional[0], path, sizeof path)) first_prompt = 1;
    else if (n_pos > 0 && (strstr(positional[0], ".gguf") || (ids_arg && n_pos == 1))) {
        cli_error("model '%s' not found", positional[0]);
        free(constraint_text);
        return EXIT_MODEL;
    } else if (!cli_default_model(path, sizeof path)) {
        cli_error("no model given and no default model (models/default.gguf) found");
        free(constraint_text);
        return EXIT_MODEL;
    }
    o.model = path;

    int32_t *prompt = NULL;
    int n_prompt = 0;
    hearth_model *model = cli_load_model(o.model, false);
    if (!model) { free(constraint_text); return EXIT_MODEL; }
    int rc = EXIT_FAIL;
    hearth_session *s = NULL;
    hearth_sampler *smp = NULL;
    if (ids_arg) {
        if (first_prompt < n_pos) { cli_error("give either --prompt-ids or a text prompt"); rc = EXIT_USAGE; goto done; }
        prompt = cli_parse_ids(ids_arg, &n_prompt);
        if (!prompt) { rc = EXIT_USAGE; goto done; }
    } else {
        char *text = prompt_text(positional + first_prompt, n_pos - first_prompt);
        if (!text) goto done;
        if (!text[0]) { cli_error("no prompt: give PROMPT words or pipe text on stdin"); free(text); rc = EXIT_USAGE; goto done; }
        int st;
        if (raw) {
            int n = hearth_tokenize(model, text, strlen(text), true, special, NULL, 0);
            prompt = n > 0 ? malloc(sizeof(int32_t) * (size_t)n) : NULL;
            st = n < 0 ? n : prompt ? hearth_tokenize(model, text, strlen(text), true, special, prompt, n) : HEARTH_ERR_NOMEM;
            n_prompt = n;
        } else {
            hearth_chat_message msgs[2];
            size_t nm = 0;
            if (system_prompt) msgs[nm++] = (hearth_chat_message){"system", system_prompt};
            msgs[nm++] = (hearth_chat_message){"user", text};
            st = hearth_chat_tokenize(model, NULL, msgs, nm, true, special, &prompt, &n_prompt);
        }
        free(text);
        if (st < 0) { cli_error("%s", hearth_last_error()); goto done; }
    }
    s = cli_new_session(model, &o);
    bool need_sampler = sp.temperature > 0 || constrained;
    smp = s && need_sampler ? hearth_sampler_new(model, &sp) : NULL;
    if (!s || (need_sampler && !smp)) goto done;
    if (constrained) {
        int st = json ? hearth_sampler_set_json(smp)
                 : schema_file ? hearth_sampler_set_json_schema(smp, constraint_text)
                               : hearth_sampler_set_grammar(smp, constraint_text, NULL);
        if (st < 0) {
            cli_error("%s%s%s", constraint_file ? constraint_file : "", constraint_file ? ": " : "", hearth_last_error());
            rc = EXIT_USAGE;
            goto done;
        }
    }
    running = s;
    signal(SIGINT, on_sigint);
    out_state os = {.print_ids = print_ids};
    hearth_generate_params gp = {.max_tokens = n_predict, .stop = stops, .n_stop = n_stops, .sampler = smp,
                                 .on_text = print_ids ? NULL : print_text, .on_token = print_ids ? print_id : NULL,
                                 .user = &os};
    hearth_generate_stats stats;
    int st = hearth_generate(s, prompt, n_prompt, &gp, &stats);
    running = NULL;
    signal(SIGINT, SIG_DFL);
    if (print_ids || stats.n_generated) printf("\n");
    fflush(stdout);
    if (st < 0) { cli_error("%s", hearth_last_error()); rc = cli_status_exit(st); goto done; }
    if (!o.quiet) {
        bool color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
        fprintf(stderr, "%sprompt %d tok (%d cached), %.1f tok/s | generated %d tok, %.1f tok/s | first token %.2f s%s%s\n",
                color ? "\033[2m" : "", stats.n_prompt, stats.n_prompt_reused,
                stats.prompt_s > 0 ? (stats.n_prompt - stats.n_prompt_reused) / stats.prompt_s : 0.0,
                stats.n_generated, stats.generate_s > 0 && stats.n_generated > 1 ? (stats.n_generated - 1) / stats.generate_s : 0.0,
                stats.first_token_s, stats.finish == HEARTH_FINISH_CANCELLED ? " | interrupted" : "",
                color ? "\033[0m" : "");
    }
    if (constrained && !o.quiet) {
        hearth_grammar_state gs = hearth_sampler_grammar_state(smp);
        if (gs == HEARTH_GRAMMAR_FAILED) fprintf(stderr, "hearth: warning: no token of this vocabulary can continue the grammar\n");
        else if (gs != HEARTH_GRAMMAR_COMPLETE && gs != HEARTH_GRAMMAR_DONE)
            fprintf(stderr, "hearth: warning: the output is incomplete (generation stopped before the grammar was complete)\n");
    }
    rc = stats.finish == HEARTH_FINISH_CANCELLED || interrupted ? EXIT_INTERRUPTED : EXIT_OK;
done:
    free(constraint_text);
    hearth_sampler_free(smp);
    hearth_session_free(s);
    hearth_model_free(model);
    free(prompt);
    return rc;
}
