/* run_route.c — `hearth run --route ROUTES.yaml ...`: one CLI request through the router's policy.
 *
 * The prompt becomes an OpenAI-shaped request and goes to router_handle_chat: cloud answers stream to
 * stdout as they arrive; local answers go through the normal generation path (the model is loaded only
 * when the request is answered here). A cloud stream that breaks is continued by the local model. One
 * stderr line says where the answer came from (--quiet silences it). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../router/router.h"
#include "cli.h"
#include "run_route.h"

static volatile sig_atomic_t stop_requested;
static hearth_session *volatile running;

static void on_sigint(int sig) {
    (void)sig;
    stop_requested = 1;
    if (running) hearth_session_cancel(running);
}

typedef struct {
    const run_route_opts *o;
    int local_status;     /* the local path's hearth_status, 0 if fine */
    bool printed;
} run_state;

static bool print_text(void *user, const char *text, size_t len) {
    run_state *st = user;
    if (stop_requested) return false;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    st->printed = true;
    return true;
}

typedef struct {
    router_emit_fn emit;
    void *ctx;
} emit_to;

static bool emit_piece(void *user, const char *text, size_t len) {
    emit_to *e = user;
    return !stop_requested && e->emit(e->ctx, text, len);
}

/* The local model answers request_json's messages; a prefix (a broken cloud answer) is continued. */
static int run_local(void *user, const char *request_json, const char *prefix, router_emit_fn emit, void *emit_ctx,
                     router_local_result *res) {
    run_state *st = user;
    const run_route_opts *o = st->o;
    if (!o->model_path) {
        cli_error("no local model: give MODEL or install models/default.gguf");
        return st->local_status = HEARTH_ERR_IO;
    }
    json_t *req = json_loads(request_json, 0, NULL);
    json_t *msgs = json_object_get(req, "messages");
    size_t n = json_array_size(msgs);
    hearth_chat_message *cm = calloc(n ? n : 1, sizeof *cm);
    hearth_model *model = NULL;
    hearth_session *s = NULL;
    hearth_sampler *smp = NULL;
    int32_t *prompt = NULL, *full = NULL;
    int n_prompt = 0, rc = HEARTH_ERR_NOMEM;
    if (!req || !cm) goto done;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        cm[i].role = json_string_value(json_object_get(m, "role"));
        cm[i].content = json_string_value(json_object_get(m, "content"));
        if (!cm[i].role) cm[i].role = "user";
        if (!cm[i].content) cm[i].content = "";
    }
    if (!(model = cli_load_model(o->model_path, false))) { rc = HEARTH_ERR_IO; goto done; }
    rc = hearth_chat_tokenize(model, NULL, cm, n, true, o->special, &prompt, &n_prompt);
    if (rc < 0) { cli_error("%s", hearth_last_error()); goto done; }
    if (prefix && *prefix) {
        /* the answer so far, as plain text after the generation prompt: the model picks up mid-answer */
        size_t pl = strlen(prefix);
        int k = hearth_tokenize(model, prefix, pl, false, false, NULL, 0);
        full = k >= 0 ? malloc(sizeof(int32_t) * (size_t)(n_prompt + k)) : NULL;
        if (!full) { rc = k < 0 ? k : HEARTH_ERR_NOMEM; goto done; }
        memcpy(full, prompt, sizeof(int32_t) * (size_t)n_prompt);
        hearth_tokenize(model, prefix, pl, false, false, full + n_prompt, k);
        free(prompt);
        prompt = full;
        full = NULL;
        n_prompt += k;
    }
    if (!(s = cli_new_session(model, &o->common))) { rc = HEARTH_ERR_NOMEM; goto done; }
    if (o->sampler.temperature > 0 && !(smp = hearth_sampler_new(model, &o->sampler))) { rc = HEARTH_ERR_NOMEM; goto done; }
    emit_to e = {emit, emit_ctx};
    hearth_generate_params gp = {.max_tokens = o->n_predict, .stop = o->stops, .n_stop = o->n_stops, .sampler = smp,
                                 .on_text = emit_piece, .user = &e};
    hearth_generate_stats gs;
    running = s;
    rc = hearth_generate(s, prompt, n_prompt, &gp, &gs);
    running = NULL;
    if (rc < 0) { cli_error("%s", hearth_last_error()); goto done; }
    res->prompt_tokens = gs.n_prompt;
    res->completion_tokens = gs.n_generated;
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s", gs.finish == HEARTH_FINISH_LENGTH ? "length" : "stop");
    rc = gs.finish == HEARTH_FINISH_CANCELLED ? HEARTH_ERR_CANCELLED : 0;
done:
    if (rc < 0) st->local_status = rc;
    hearth_sampler_free(smp);
    hearth_session_free(s);
    hearth_model_free(model);
    free(prompt);
    free(full);
    free(cm);
    json_decref(req);
    return rc == HEARTH_ERR_CANCELLED ? 0 : rc;
}

int run_routed(const run_route_opts *o) {
    char err[512];
    route_config *cfg = route_config_load(o->route_file, err, sizeof err);
    if (!cfg) { cli_error("%s", err); return EXIT_USAGE; }
    router *r = router_new(cfg, err, sizeof err);
    if (!r) { cli_error("%s", err); return EXIT_FAIL; }
    if (o->audit && !router_set_audit(r, o->audit, err, sizeof err)) { cli_error("%s", err); router_free(r); return EXIT_FAIL; }
    /* the local context the policy compares against: --ctx, else what a session would get */
    int n_ctx = o->common.n_ctx;
    if (!n_ctx && o->model_path) {
        hearth_model_params mp = {.vocab_only = true};
        hearth_model *m = hearth_model_load(o->model_path, &mp);
        if (m) {
            hearth_model_info info;
            hearth_model_get_info(m, &info);
            n_ctx = info.n_ctx_train > 0 && info.n_ctx_train < 4096 ? info.n_ctx_train : 4096;
            hearth_model_free(m);
        }
    }
    router_set_local_context(r, n_ctx ? n_ctx : 4096);

    json_t *msgs = json_array();
    if (o->system_prompt) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", o->system_prompt));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", o->text));
    json_t *req = json_pack("{s:o}", "messages", msgs);
    if (o->model_name) json_object_set_new(req, "model", json_string(o->model_name));
    if (o->n_predict > 0) json_object_set_new(req, "max_tokens", json_integer(o->n_predict));
    json_object_set_new(req, "temperature", json_real(o->sampler.temperature));
    if (o->sampler.top_p < 1) json_object_set_new(req, "top_p", json_real(o->sampler.top_p));
    if (o->n_stops) {
        json_t *st = json_array();
        for (int i = 0; i < o->n_stops; i++) json_array_append_new(st, json_string(o->stops[i]));
        json_object_set_new(req, "stop", st);
    }
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);

    run_state st = {.o = o};
    router_io io = {.on_text = print_text, .run_local = run_local, .user = &st};
    router_result res;
    signal(SIGINT, on_sigint);
    int rc = body ? router_handle_chat(r, body, strlen(body), &io, &res) : -1;
    signal(SIGINT, SIG_DFL);
    if (st.printed) printf("\n");
    fflush(stdout);
    int exit_code = EXIT_OK;
    if (!body) exit_code = EXIT_FAIL;
    else if (rc < 0) {
        if (!st.local_status || res.http_status != 500) cli_error("%s", res.error);
        exit_code = st.local_status ? cli_status_exit(st.local_status) : res.http_status == 400 ? EXIT_USAGE : EXIT_FAIL;
    } else if (stop_requested) exit_code = EXIT_INTERRUPTED;
    if (body && !o->common.quiet) {
        bool color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
        fprintf(stderr, "%sroute %s | rule %s | %s%s%s | %ld prompt + %ld generated tok%s%s\n", color ? "\033[2m" : "",
                res.route, res.rule, res.reason, res.failover[0] ? " | failover: " : "", res.failover, res.prompt_tokens,
                res.completion_tokens, res.tokens_estimated ? " (estimated)" : "", color ? "\033[0m" : "");
    }
    if (body) router_result_free(&res);
    free(body);
    router_free(r);
    return exit_code;
}
