/* cmd_serve.c — `hearth serve [MODEL...]`: options, model loading and naming; the server is server/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../router/router.h"
#include "../server/server.h"
#include "cli.h"

static const char serve_help[] =
    "usage: hearth serve [MODEL...] [options]\n"
    "\n"
    "Serves MODELs (paths, or names in $HEARTH_MODELS, the Hugging Face cache or ollama's store; the default\n"
    "model when none is given) over HTTP with the OpenAI API (/v1/chat/completions, /v1/completions,\n"
    "/v1/models) and the Ollama API (/api/chat, /api/generate, /api/tags, /api/show, /api/ps, /api/version),\n"
    "plus GET / (health) and GET /metrics (Prometheus). Clients name a model by its file name without .gguf\n"
    "(or the name it was given on the command line, or its general.name).\n"
    "\n"
    "options:\n"
    "  --host ADDR              address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N                 port (default 8080; 0 picks a free one, printed at start)\n"
    "  --api-key KEY            require 'Authorization: Bearer KEY' on every request\n"
    "                           (default: $HEARTH_API_KEY if set)\n"
    "  --parallel N             requests decoded together per model (default 4); each has its own KV cache\n"
    "  --queue N                requests that may wait for a slot (default 64); beyond that: 429\n"
    "  -c, --ctx N              context per request (default: min(model's, 4096))\n"
    "  -t, --threads N          threads (default: physical cores)\n"
    "  -b, --batch N            prompt tokens per forward batch (default 512)\n"
    "  --kv-type f32|f16|auto   KV cache type\n"
    "  --chat-template FILE     a Jinja chat template for every model, used instead of the one in its file\n"
    "                           (also what picks the tool-call format: see docs/serve.md)\n"
    "  -q, --quiet              no per-request log lines\n"
    "  --route FILE             hybrid router (docs/router.md): chat requests go to the local models or to\n"
    "                           OpenAI-compatible upstreams by the file's rules; secrets stay local; an upstream\n"
    "                           that fails is answered locally. Answers carry x-hearth-route and a \"hearth\" field\n"
    "  --audit FILE             with --route: the audit log to append to ('off': none)\n"
    "\n"
    "Stop with Ctrl-C (or SIGTERM): running requests end with an error, connections close.\n";

/* A whole text file (malloc'ed), or NULL with a message. */
static char *read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { cli_error("cannot open '%s'", path); return NULL; }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 16384;
            char *nb = cap <= (4u << 20) ? realloc(buf, cap) : NULL;
            if (!nb) { cli_error("'%s' is too large for a chat template", path); free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        size_t k = fread(buf + n, 1, 4096, f);
        n += k;
        if (k < 4096) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) { cli_error("cannot read '%s'", path); free(buf); return NULL; }
    buf[n] = 0;
    if (strlen(buf) != n) { cli_error("'%s' is not a text file", path); free(buf); return NULL; }
    return buf;
}

/* The name clients use: the argument itself when it was a name, else the file name without .gguf. */
static char *model_name(const char *arg, const char *path) {
    struct stat st;
    const char *base = arg;
    if (stat(arg, &st) == 0) {
        base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    }
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf")) n -= 5;
    char *name = malloc(n + 1);
    if (name) { memcpy(name, base, n); name[n] = 0; }
    return name;
}

int cmd_serve(int argc, char **argv) {
    common_opts o = {0};
    server_config cfg = {.host = "127.0.0.1", .port = 8080, .n_parallel = 4, .max_queue = 64};
    const char *model_args[64];
    const char *route_file = NULL, *audit = NULL, *template_file = NULL;
    int n_args = 0;
    for (int i = 1; i < argc; i++) {
        int c = cli_common_opt(&o, argc, argv, &i);
        if (c < 0) return EXIT_USAGE;
        if (c) continue;
        const char *a = argv[i], *v;
        int *target = NULL, lo = 1, hi = 1 << 20;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(serve_help, stdout); return EXIT_OK; }
        else if (!strcmp(a, "--host")) { if (!(cfg.host = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--api-key")) { if (!(cfg.api_key = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--route")) { if (!(route_file = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--audit")) { if (!(audit = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--chat-template")) { if (!(template_file = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--port")) { target = &cfg.port; lo = 0; hi = 65535; }
        else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) { target = &cfg.n_parallel; hi = 256; }
        else if (!strcmp(a, "--queue")) { target = &cfg.max_queue; lo = 0; }
        else if (a[0] == '-' && a[1]) { cli_error("serve: unknown option '%s' (see hearth serve --help)", a); return EXIT_USAGE; }
        else if (n_args < 64) model_args[n_args++] = a;
        else { cli_error("serve: at most 64 models"); return EXIT_USAGE; }
        if (target) {
            if (!(v = cli_value(argc, argv, &i))) return EXIT_USAGE;
            if (!cli_parse_int(v, target) || *target < lo || *target > hi) {
                cli_error("%s needs an integer from %d to %d, got '%s'", a, lo, hi, v);
                return EXIT_USAGE;
            }
        }
    }
    if (!cfg.api_key) {
        const char *env = getenv("HEARTH_API_KEY");
        if (env && *env) cfg.api_key = env;
    }
    if (cfg.api_key && !*cfg.api_key) { cli_error("--api-key is empty"); return EXIT_USAGE; }
    cfg.quiet = o.quiet;
    cfg.session = (hearth_session_params){.n_ctx = o.n_ctx, .n_threads = o.n_threads, .kv_type = o.kv_type,
                                          .n_batch = o.n_batch};

    if (audit && !route_file) { cli_error("--audit needs --route"); return EXIT_USAGE; }
    char *chat_template = NULL;
    if (template_file && !(chat_template = read_text_file(template_file))) return EXIT_USAGE;
    router *rt = NULL;
    if (route_file) { /* before any thread starts: the router initialises libcurl */
        char err[512];
        route_config *rc = route_config_load(route_file, err, sizeof err);
        if (!rc) { cli_error("%s", err); free(chat_template); return EXIT_USAGE; }
        int n_up = rc->n_up;
        if (!(rt = router_new(rc, err, sizeof err)) || (audit && !router_set_audit(rt, audit, err, sizeof err))) {
            cli_error("%s", err);
            router_free(rt);
            free(chat_template);
            return EXIT_FAIL;
        }
        cfg.router = rt;
        if (!o.quiet) fprintf(stderr, "hearth serve: routing chat requests with %s (%d upstream%s)\n", route_file, n_up, n_up == 1 ? "" : "s");
    }

    char default_path[4096];
    if (n_args == 0) {
        if (!cli_default_model(default_path, sizeof default_path)) {
            cli_error("no model given and no default model (models/default.gguf) found");
            router_free(rt);
            free(chat_template);
            return EXIT_MODEL;
        }
        model_args[n_args++] = default_path;
    }
    server_model_spec specs[64];
    char *names[64] = {0}, *paths[64] = {0};
    int n = 0, rc = EXIT_MODEL;
    for (; n < n_args; n++) {
        char path[4096];
        if (!cli_resolve_model(model_args[n], path, sizeof path)) {
            cli_error("model '%s' not found", model_args[n]);
            goto done;
        }
        paths[n] = strdup(path);
        names[n] = model_name(model_args[n], path);
        specs[n] = (server_model_spec){.model = cli_load_model(path, false), .name = names[n], .path = paths[n],
                                       .chat_template = chat_template};
        if (!specs[n].model || !names[n] || !paths[n]) { if (specs[n].model) n++; goto done; }
        for (int k = 0; k < n; k++)
            if (!strcmp(names[k], names[n])) {
                cli_error("two models are named '%s'; serve files with different names", names[n]);
                n++;
                goto done;
            }
    }
    if (chat_template) { /* a template that does not even render a greeting is a mistake to report now */
        hearth_chat_message hi = {"user", "Hello"};
        char *out = NULL;
        if (hearth_chat_render(specs[0].model, chat_template, &hi, 1, true, &out) < 0) {
            cli_error("--chat-template %s: %s", template_file, hearth_last_error());
            rc = EXIT_USAGE;
            goto done;
        }
        free(out);
    }
    rc = server_run(&cfg, specs, n) == 0 ? EXIT_OK : EXIT_FAIL;
done:
    for (int k = 0; k < n; k++) {
        hearth_model_free(specs[k].model);
        free(names[k]);
        free(paths[k]);
    }
    if (n < n_args) { free(names[n]); free(paths[n]); }
    router_free(rt);
    free(chat_template);
    return rc;
}
