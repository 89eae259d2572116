/* ollama.c — the Ollama API: POST /api/chat, POST /api/generate, GET /api/tags, POST /api/show, GET /api/ps,
 * GET /api/version.
 *
 * Streams are NDJSON (one object per line), the default; "stream": false gives one object. Errors are
 * {"error": "message"} with the HTTP status, as Ollama's clients expect. Sampling comes from "options"
 * (temperature, top_k, top_p, min_p, num_predict, stop, seed, repeat_penalty, repeat_last_n,
 * presence_penalty, frequency_penalty); num_ctx and the runner options are ignored: the context is the
 * server's --ctx. A request with no messages (or an empty prompt) is Ollama's "load the model" call and is
 * answered with done_reason "load". "format" ("json" or a JSON schema) and "tools" are tools.c's: calls come
 * back as message.tool_calls [{function: {name, arguments}}] (streamed in a line of their own once complete).
 * Unsupported features (images, suffix, template) get 400. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "server.h"

/* ---------------------------------------------------------------------------------------- model info */

static void file_time(const char *path, char *out, size_t cap) {
    struct stat st;
    struct tm tm;
    time_t t = stat(path, &st) == 0 ? st.st_mtime : 0;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_int_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (json_int_t)st.st_size : 0;
}

/* Not a content hash (hashing gigabytes per listing is not worth it): identifies path, size and time. */
static void pseudo_digest(const char *path, char *out) {
    struct stat st;
    memset(&st, 0, sizeof st);
    stat(path, &st);
    for (int round = 0; round < 4; round++) {
        uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)round;
        for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
        h = (h ^ (uint64_t)st.st_size) * 0x100000001b3ull;
        h = (h ^ (uint64_t)st.st_mtime) * 0x100000001b3ull;
        sprintf(out + round * 16, "%016llx", (unsigned long long)h);
    }
}

/* The tensor type holding most parameters ("Q4_K", "F16", ...). */
static const char *main_type(const hearth_model *m) {
    static const char *const names[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
                                        "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ4_NL", "IQ4_XS"};
    enum { N = sizeof names / sizeof names[0] };
    double count[N] = {0};
    const char *name, *type;
    int64_t ne[4];
    int nd;
    for (int i = 0; hearth_model_tensor(m, i, &name, &type, ne, &nd); i++)
        for (int t = 0; t < N; t++)
            if (!strcasecmp(type, names[t])) { count[t] += (double)ne[0] * (double)ne[1] * (double)ne[2] * (double)ne[3]; break; }
    int best = 0;
    for (int t = 1; t < N; t++) if (count[t] > count[best]) best = t;
    return count[best] > 0 ? names[best] : "unknown";
}

static json_t *details_json(srv_model *m) {
    const hearth_model_info *info = sched_info(m);
    char size[32];
    double n = (double)info->n_params;
    if (n >= 1e9) snprintf(size, sizeof size, "%.1fB", n / 1e9);
    else if (n >= 1e6) snprintf(size, sizeof size, "%.1fM", n / 1e6);
    else snprintf(size, sizeof size, "%.0fK", n / 1e3);
    return json_pack("{s:s,s:s,s:o,s:[o],s:s,s:s}", "parent_model", "", "format", "gguf", "family",
                     json_text(info->arch, strlen(info->arch)), "families", json_text(info->arch, strlen(info->arch)),
                     "parameter_size", size, "quantization_level", main_type(sched_hearth_model(m)));
}

static json_t *model_entry(srv_model *m, bool running) {
    char modified[64], digest[65];
    file_time(sched_path(m), modified, sizeof modified);
    pseudo_digest(sched_path(m), digest);
    json_t *name = json_string(sched_name(m));
    json_t *e = json_pack("{s:O,s:o,s:s,s:I,s:s,s:o}", "name", name, "model", name, "modified_at", modified, "size",
                          file_size(sched_path(m)), "digest", digest, "details", details_json(m));
    if (running) {
        json_object_del(e, "modified_at");
        json_object_set_new(e, "expires_at", json_string("2999-12-31T23:59:59Z")); /* loaded for the server's life */
        json_object_set_new(e, "size_vram", json_integer(0));
        json_object_set_new(e, "context_length", json_integer(sched_n_ctx(m)));
    }
    return e;
}

static int list_models(request *r, bool running) {
    server *s = req_server(r);
    json_t *arr = json_array();
    for (int i = 0; i < server_n_models(s); i++) json_array_append_new(arr, model_entry(server_model(s, i), running));
    return respond_json(r, 200, json_pack("{s:o}", "models", arr));
}

int ollama_tags(request *r) { return list_models(r, false); }
int ollama_ps(request *r) { return list_models(r, true); }

int ollama_version(request *r) { return respond_json(r, 200, json_pack("{s:s}", "version", HEARTH_VERSION)); }

/* The model a request names in "model" (or "name", older clients); the first one when it names none. */
static srv_model *request_model(request *r, json_t *b) {
    json_t *v = json_object_get(b, "model");
    if (!v || json_is_null(v)) v = json_object_get(b, "name");
    if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v))) return server_model(req_server(r), 0);
    if (!json_is_string(v)) return respond_error(r, 400, "model", NULL, "'model' must be a string"), NULL;
    srv_model *m = server_find_model(req_server(r), json_string_value(v));
    if (!m) respond_error(r, 404, "model", NULL, "model '%s' not found", json_string_value(v));
    return m;
}

int ollama_show(request *r) {
    srv_model *m = request_model(r, req_body(r));
    if (!m) return MHD_YES;
    const hearth_model_info *info = sched_info(m);
    hearth_model *hm = sched_hearth_model(m);
    const char *tmpl = sched_template(m) ? sched_template(m) : hearth_model_meta_str(hm, "tokenizer.chat_template"); /* cached at start */
    char key[128], modified[64];
    file_time(sched_path(m), modified, sizeof modified);
    json_t *mi = json_pack("{s:o,s:o,s:I,s:o}", "general.architecture", json_text(info->arch, strlen(info->arch)),
                           "general.name", json_text(info->name, strlen(info->name)), "general.parameter_count",
                           (json_int_t)info->n_params, "tokenizer.ggml.model", json_text(info->tokenizer, strlen(info->tokenizer)));
    const struct { const char *suffix; int v; } dims[] = {{"context_length", info->n_ctx_train}, {"embedding_length", info->n_embd},
                                                          {"block_count", info->n_layer}, {"attention.head_count", info->n_head}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", info->arch, dims[i].suffix);
        char *k = utf8_sanitize(key, strlen(key), NULL);
        json_object_set_new(mi, k, json_integer(dims[i].v));
        free(k);
    }
    strbuf mf = {0};
    sb_printf(&mf, "# served by hearth %s\nFROM %s\n", HEARTH_VERSION, sched_path(m));
    json_t *resp = json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:[s],s:s}", "license", "", "modelfile", json_text(mf.s, mf.len),
                             "parameters", "", "template", json_text(tmpl ? tmpl : "", tmpl ? strlen(tmpl) : 0),
                             "details", details_json(m), "model_info", mi, "capabilities", "completion", "modified_at",
                             modified);
    sb_free(&mf);
    /* Ollama's clients look for "tools" before sending them: a template that uses them */
    if (resp && tmpl && strstr(tmpl, "tools")) json_array_append_new(json_object_get(resp, "capabilities"), json_string("tools"));
    return respond_json(r, 200, resp);
}

/* ---------------------------------------------------------------------------------------- generation */

/* "options" → sampling and length; -1 after answering. */
static int parse_options(request *r, json_t *b, srv_model *m, job_params *p, hearth_sampler_params *sp) {
    *sp = hearth_sampler_default_params();
    sp->seed = random_u64();
    json_t *o = json_object_get(b, "options");
    if (!o || json_is_null(o)) return 0;
    if (!json_is_object(o)) return respond_error(r, 400, "options", NULL, "'options' must be an object"), -1;
    double d;
    long long i;
    int rc;
    if ((rc = param_number(r, o, "temperature", 0, 100, &d)) < 0) return -1;
    if (rc) sp->temperature = (float)d;
    if ((rc = param_number(r, o, "top_p", 0, 1, &d)) < 0) return -1;
    if (rc) sp->top_p = (float)d;
    if ((rc = param_number(r, o, "min_p", 0, 1, &d)) < 0) return -1;
    if (rc) sp->min_p = (float)d;
    if ((rc = param_int(r, o, "top_k", -1, 1 << 30, &i)) < 0) return -1;
    int n_vocab = hearth_model_n_vocab(sched_hearth_model(m));
    if (rc) sp->top_k = i > n_vocab ? n_vocab : (int)i;
    if ((rc = param_number(r, o, "repeat_penalty", 0, 100, &d)) < 0) return -1;
    if (rc) sp->repeat_penalty = (float)d;
    if ((rc = param_int(r, o, "repeat_last_n", -1, 1 << 30, &i)) < 0) return -1;
    if (rc && i == 0) sp->repeat_penalty = 1; /* Ollama: 0 disables */
    else if (rc) sp->repeat_last_n = i < 0 || i > sched_n_ctx(m) ? sched_n_ctx(m) : (int)i;
    if ((rc = param_number(r, o, "presence_penalty", -100, 100, &d)) < 0) return -1;
    if (rc) sp->presence_penalty = (float)d;
    if ((rc = param_number(r, o, "frequency_penalty", -100, 100, &d)) < 0) return -1;
    if (rc) sp->frequency_penalty = (float)d;
    if ((rc = param_int(r, o, "seed", INT64_MIN, INT64_MAX, &i)) < 0) return -1;
    if (rc) sp->seed = (uint64_t)i;
    if ((rc = param_int(r, o, "num_predict", -2, 1 << 30, &i)) < 0) return -1;
    if (rc) p->max_tokens = i > 0 ? (int)i : 0; /* -1: no limit, -2: fill the context */
    if (param_stop(r, o, "stop", p) < 0) return -1;
    return 0;
}

static bool refuse_unsupported(request *r, json_t *b, bool chat) {
    json_t *v;
    if (!chat && (v = json_object_get(b, "tools")) && json_is_array(v) && json_array_size(v) > 0)
        return respond_error(r, 400, "tools", NULL, "tools need /api/chat"), true;
    if ((v = json_object_get(b, "images")) && json_is_array(v) && json_array_size(v) > 0)
        return respond_error(r, 400, "images", NULL, "images are not supported"), true;
    if ((v = json_object_get(b, "suffix")) && json_is_string(v) && json_string_length(v) > 0)
        return respond_error(r, 400, "suffix", NULL, "'suffix' is not supported yet"), true;
    if ((v = json_object_get(b, "template")) && json_is_string(v) && json_string_length(v) > 0)
        return respond_error(r, 400, "template", NULL, "template overrides are not supported"), true;
    return false;
}

typedef struct {
    json_t *model;
    bool chat;
    int32_t *context;     /* generate: the prompt's ids, returned with the generated ones as "context" */
    int n_context;
    hearth_tool_parser *tp; /* tools: the output's calls */
    hearth_tool_format tool_format;
} ol_state;

static void ol_free(void *state) {
    ol_state *st = state;
    hearth_tool_parser_free(st->tp);
    json_decref(st->model);
    free(st->context);
    free(st);
}

static json_t *line_base(ol_state *st) {
    char now[64];
    rfc3339_now(now, sizeof now);
    return json_pack("{s:O,s:s}", "model", st->model, "created_at", now);
}

static void set_text(ol_state *st, json_t *obj, const char *text, size_t len) {
    json_t *t = json_text(text, len);
    if (st->chat) json_object_set_new(obj, "message", json_pack("{s:s,s:o}", "role", "assistant", "content", t));
    else json_object_set_new(obj, "response", t);
}

/* The final object's fields. */
static void set_done(ol_state *st, json_t *obj, const job_output *o) {
    json_object_set_new(obj, "done", json_true());
    json_object_set_new(obj, "done_reason", json_string(o->finish == JOB_FINISH_LENGTH ? "length" : "stop"));
    if (!st->chat) {
        json_t *ctx = json_array();
        for (int i = 0; i < st->n_context; i++) json_array_append_new(ctx, json_integer(st->context[i]));
        for (int i = 0; o->tokens && i < o->n_generated; i++) json_array_append_new(ctx, json_integer(o->tokens[i]));
        json_object_set_new(obj, "context", ctx);
    }
    json_object_set_new(obj, "total_duration", json_integer((json_int_t)(o->total_s * 1e9)));
    json_object_set_new(obj, "load_duration", json_integer(0));
    json_object_set_new(obj, "prompt_eval_count", json_integer(o->n_prompt));
    json_object_set_new(obj, "prompt_eval_duration", json_integer((json_int_t)(o->prompt_s * 1e9)));
    json_object_set_new(obj, "eval_count", json_integer(o->n_generated));
    json_object_set_new(obj, "eval_duration", json_integer((json_int_t)(o->generate_s * 1e9)));
}

static void ndjson(strbuf *out, json_t *obj) {
    sb_json(out, obj);
    sb_puts(out, "\n");
}

static void ol_format(void *state, const job_output *o, strbuf *out) {
    ol_state *st = state;
    if (st->tp) { /* content and calls apart */
        bool final = o->done && (o->finish == JOB_FINISH_STOP || o->finish == JOB_FINISH_LENGTH);
        const char *text = "";
        size_t len = 0;
        const hearth_tool_call *calls = NULL;
        int n = 0;
        if (hearth_tool_parser_push(st->tp, o->text, o->text_len, final, &text, &len, &calls, &n) < 0) len = 0, n = 0;
        if (len || n) {
            json_t *line = line_base(st);
            set_text(st, line, text, len);
            if (n) json_object_set_new(json_object_get(line, "message"), "tool_calls", tool_calls_json(API_OLLAMA, calls, n));
            json_object_set_new(line, "done", json_false());
            ndjson(out, line);
        }
    } else if (o->text_len) {
        json_t *line = line_base(st);
        set_text(st, line, o->text, o->text_len);
        json_object_set_new(line, "done", json_false());
        ndjson(out, line);
    }
    if (!o->done || o->finish == JOB_FINISH_CANCELLED) return;
    if (o->finish == JOB_FINISH_ERROR) {
        ndjson(out, json_pack("{s:o}", "error", json_text(o->error, strlen(o->error))));
        return;
    }
    json_t *line = line_base(st);
    set_text(st, line, "", 0);
    set_done(st, line, o);
    ndjson(out, line);
}

static int run_job(request *r, srv_model *m, job_params *p, bool chat, bool stream, bool tools) {
    ol_state *st = calloc(1, sizeof *st);
    if (!st) { job_params_free(p); return respond_error(r, 500, NULL, NULL, "out of memory"); }
    st->model = json_string(sched_name(m));
    st->chat = chat;
    st->tool_format = sched_tool_format(m);
    if (tools && !(st->tp = hearth_tool_parser_new(st->tool_format))) {
        ol_free(st);
        job_params_free(p);
        return respond_error(r, 500, NULL, NULL, "out of memory");
    }
    if (!chat && (st->context = malloc(sizeof(int32_t) * (size_t)p->n_prompt))) {
        memcpy(st->context, p->prompt, sizeof(int32_t) * (size_t)p->n_prompt);
        st->n_context = p->n_prompt;
    }
    job *j;
    int status = sched_submit(m, p, &j);
    if (status) {
        ol_free(st);
        if (status == 429) return respond_error(r, 429, NULL, NULL, "server busy: too many requests waiting for '%s'", sched_name(m));
        return respond_error(r, status, NULL, NULL, status == 503 ? "the server is shutting down" : "out of memory");
    }
    if (stream) return respond_stream(r, "application/x-ndjson", j, (stream_fmt){ol_format, ol_free, st});
    job_output o;
    bool ok = wait_job(r, j, &o);
    job_release(j);
    int rc = MHD_NO;
    if (ok && o.finish == JOB_FINISH_ERROR) rc = respond_error(r, o.error_status, NULL, NULL, "%s", o.error);
    else if (ok) {
        json_t *resp = line_base(st);
        if (st->tp) {
            char *content = NULL;
            hearth_tool_call *calls = NULL;
            int n = 0;
            hearth_tool_calls_parse(st->tool_format, o.text, o.text_len, &content, &calls, &n);
            set_text(st, resp, content ? content : "", content ? strlen(content) : 0);
            if (n) json_object_set_new(json_object_get(resp, "message"), "tool_calls", tool_calls_json(API_OLLAMA, calls, n));
            hearth_tool_calls_free(calls, n);
            free(content);
        } else {
            set_text(st, resp, o.text, o.text_len);
        }
        set_done(st, resp, &o);
        rc = respond_json(r, 200, resp);
    }
    if (ok) job_output_free(&o);
    ol_free(st);
    return rc;
}

/* Ollama's "load the model" call: nothing to generate. */
static int load_only(request *r, srv_model *m, bool chat) {
    char now[64];
    rfc3339_now(now, sizeof now);
    json_t *resp = json_pack("{s:s,s:s,s:b,s:s}", "model", sched_name(m), "created_at", now, "done", 1, "done_reason", "load");
    if (chat) json_object_set_new(resp, "message", json_pack("{s:s,s:s}", "role", "assistant", "content", ""));
    else json_object_set_new(resp, "response", json_string(""));
    return respond_json(r, 200, resp);
}

int ollama_chat(request *r) {
    json_t *b = req_body(r);
    /* with --route, every chat goes through the router; Ollama's "load the model" call (no messages) stays here */
    if (server_router(req_server(r)) && json_array_size(json_object_get(b, "messages")) > 0) return route_chat(r, API_OLLAMA);
    srv_model *m = request_model(r, b);
    if (!m || refuse_unsupported(r, b, true)) return MHD_YES;
    job_params p = {.n_logprobs = -1};
    req_constraint con = {0};
    hearth_sampler_params sp;
    bool stream = true;
    json_t *norm = NULL;
    char *msgs_json = NULL;
    if (parse_options(r, b, m, &p, &sp) < 0 || param_bool(r, b, "stream", &stream) < 0 ||
        read_tools(r, b, API_OLLAMA, &con) < 0 || read_ollama_format(r, b, &con) < 0)
        goto fail;
    json_t *msgs = json_object_get(b, "messages");
    if (msgs && !json_is_null(msgs) && !json_is_array(msgs)) {
        respond_error(r, 400, "messages", NULL, "'messages' must be an array");
        goto fail;
    }
    size_t n = json_array_size(msgs);
    if (n == 0) { job_params_free(&p); constraint_free(&con); return load_only(r, m, true); }
    /* the conversation in the template's (OpenAI's) shape */
    norm = json_array();
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        json_t *content = json_object_get(msg, "content");
        json_t *images = json_object_get(msg, "images");
        if (!role || (content && !json_is_null(content) && !json_is_string(content))) {
            respond_error(r, 400, "messages", NULL, "messages[%zu] needs a 'role' string and a 'content' string", i);
            goto fail;
        }
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")) {
            respond_error(r, 400, "messages", NULL, "messages[%zu]: unknown role '%s'", i, role);
            goto fail;
        }
        if (json_is_array(images) && json_array_size(images) > 0) {
            respond_error(r, 400, "messages", NULL, "messages[%zu]: images are not supported", i);
            goto fail;
        }
        json_t *nm = json_pack("{s:s,s:s}", "role", role, "content", json_is_string(content) ? json_string_value(content) : "");
        json_array_append_new(norm, nm);
        json_t *calls = json_object_get(msg, "tool_calls");
        if (calls && !json_is_null(calls) && copy_tool_calls(r, API_OLLAMA, calls, i, nm) < 0) goto fail;
        json_t *name = json_object_get(msg, "tool_name"); /* a tool result names its function */
        if (!json_is_string(name)) name = json_object_get(msg, "name");
        if (json_is_string(name)) json_object_set(nm, "name", name);
        json_t *id = json_object_get(msg, "tool_call_id");
        if (json_is_string(id)) json_object_set(nm, "tool_call_id", id);
    }
    msgs_json = json_dumps(norm, JSON_COMPACT);
    if (!msgs_json) { respond_error(r, 500, NULL, NULL, "out of memory"); goto fail; }
    if (hearth_chat_tokenize_json(sched_hearth_model(m), sched_template(m), msgs_json, con.tools_json, true, &p.prompt,
                                  &p.n_prompt) < 0) {
        respond_error(r, 400, "messages", NULL, "cannot build the prompt: %s", hearth_last_error());
        goto fail;
    }
    if (finish_params(r, m, &p, &sp) < 0 || apply_constraint(r, m, &con, &p) < 0) goto fail;
    bool tools = constraint_tools(&con);
    json_decref(norm);
    free(msgs_json);
    constraint_free(&con);
    return run_job(r, m, &p, true, stream, tools);
fail:
    json_decref(norm);
    free(msgs_json);
    constraint_free(&con);
    job_params_free(&p);
    return MHD_YES;
}

int ollama_generate(request *r) {
    json_t *b = req_body(r);
    srv_model *m = request_model(r, b);
    if (!m || refuse_unsupported(r, b, false)) return MHD_YES;
    hearth_model *hm = sched_hearth_model(m);
    job_params p = {.n_logprobs = -1};
    req_constraint con = {0};
    hearth_sampler_params sp;
    bool stream = true, raw = false;
    if (parse_options(r, b, m, &p, &sp) < 0 || param_bool(r, b, "stream", &stream) < 0 ||
        param_bool(r, b, "raw", &raw) < 0 || read_ollama_format(r, b, &con) < 0)
        goto fail;
    json_t *prompt = json_object_get(b, "prompt"), *system = json_object_get(b, "system"), *context = json_object_get(b, "context");
    if ((prompt && !json_is_null(prompt) && !json_is_string(prompt)) || (system && !json_is_null(system) && !json_is_string(system))) {
        respond_error(r, 400, "prompt", NULL, "'prompt' and 'system' must be strings");
        goto fail;
    }
    if (context && !json_is_null(context) && !json_is_array(context)) {
        respond_error(r, 400, "context", NULL, "'context' must be an array of token ids");
        goto fail;
    }
    size_t n_ctx_ids = json_array_size(context);
    if (!json_string_length(prompt) && !n_ctx_ids) { job_params_free(&p); constraint_free(&con); return load_only(r, m, false); }

    int32_t *toks = NULL;
    int n = 0;
    const char *text = json_is_string(prompt) ? json_string_value(prompt) : "";
    if (raw) { /* the client formatted the prompt itself, control tokens included */
        n = hearth_tokenize(hm, text, json_string_length(prompt), n_ctx_ids == 0, true, NULL, 0);
        if (n >= 0 && (toks = malloc(sizeof(int32_t) * (size_t)(n ? n : 1))))
            n = hearth_tokenize(hm, text, json_string_length(prompt), n_ctx_ids == 0, true, toks, n);
        else if (n >= 0) n = HEARTH_ERR_NOMEM;
    } else {
        hearth_chat_message cm[2];
        size_t k = 0;
        if (json_is_string(system) && json_string_length(system)) cm[k++] = (hearth_chat_message){"system", json_string_value(system)};
        cm[k++] = (hearth_chat_message){"user", text};
        if (hearth_chat_tokenize(hm, sched_template(m), cm, k, true, false, &toks, &n) < 0) n = -1;
    }
    if (n < 0) {
        free(toks);
        respond_error(r, 400, "prompt", NULL, "cannot build the prompt: %s", hearth_last_error());
        goto fail;
    }
    /* a continuation: the earlier exchange's ids, then the new turn (without a second BOS) */
    int skip = n_ctx_ids && n > 0 && toks[0] == hearth_token_bos(hm) ? 1 : 0;
    p.n_prompt = (int)n_ctx_ids + n - skip;
    p.prompt = malloc(sizeof(int32_t) * (size_t)(p.n_prompt ? p.n_prompt : 1));
    if (!p.prompt) { free(toks); respond_error(r, 500, NULL, NULL, "out of memory"); goto fail; }
    int n_vocab = hearth_model_n_vocab(hm);
    for (size_t i = 0; i < n_ctx_ids; i++) {
        json_t *v = json_array_get(context, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab) {
            free(toks);
            respond_error(r, 400, "context", NULL, "context[%zu] is not a token id (0..%d)", i, n_vocab - 1);
            goto fail;
        }
        p.prompt[i] = (int32_t)json_integer_value(v);
    }
    if (n - skip > 0) memcpy(p.prompt + n_ctx_ids, toks + skip, sizeof(int32_t) * (size_t)(n - skip));
    free(toks);
    if (finish_params(r, m, &p, &sp) < 0 || apply_constraint(r, m, &con, &p) < 0) goto fail;
    constraint_free(&con);
    return run_job(r, m, &p, false, stream, false);
fail:
    constraint_free(&con);
    job_params_free(&p);
    return MHD_YES;
}
