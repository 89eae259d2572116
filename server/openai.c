/* openai.c — the OpenAI API: GET /v1/models[/ID], POST /v1/chat/completions, POST /v1/completions.
 *
 * Request fields follow OpenAI's reference; what hearth cannot do yet is refused with a 400 that says so
 * (legacy functions, logit_bias, n > 1, echo, suffix, image or audio parts) rather than silently ignored.
 * response_format, tools and tool_choice are tools.c's: chat answers carry message.tool_calls (finish_reason
 * "tool_calls"); streams send each call as two deltas once it is complete — {index, id, type, function:
 * {name, arguments: ""}} then {index, function: {arguments}} — as OpenAI's clients reassemble them. Unset sampling fields take the engine's defaults (hearth_sampler_default_params),
 * not OpenAI's: small local models do better with them. llama.cpp-style extensions top_k, min_p and
 * repeat_penalty are accepted. Streams are server-sent events ending with "data: [DONE]"; an error after the
 * stream started is sent as an event carrying an OpenAI error object. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

#define FINGERPRINT "hearth-" HEARTH_VERSION

/* ------------------------------------------------------------------------------------------- models */

static json_t *model_object(srv_model *m) {
    return json_pack("{s:o,s:s,s:I,s:s}", "id", json_text(sched_name(m), strlen(sched_name(m))), "object", "model",
                     "created", (json_int_t)time(NULL), "owned_by", "hearth");
}

int openai_models(request *r) {
    server *s = req_server(r);
    json_t *data = json_array();
    for (int i = 0; i < server_n_models(s); i++) json_array_append_new(data, model_object(server_model(s, i)));
    return respond_json(r, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

int openai_model(request *r, const char *id) {
    srv_model *m = server_find_model(req_server(r), id);
    if (!m) return respond_error(r, 404, "model", "model_not_found", "the model '%s' does not exist", id);
    return respond_json(r, 200, model_object(m));
}

/* -------------------------------------------------------------------------------------- shared parts */

/* The model a request names (the first served model when it names none); NULL after answering. */
static srv_model *request_model(request *r, json_t *body) {
    json_t *v = json_object_get(body, "model");
    if (!v || json_is_null(v)) return server_model(req_server(r), 0);
    if (!json_is_string(v)) return respond_error(r, 400, "model", "invalid_type", "'model' must be a string"), NULL;
    srv_model *m = server_find_model(req_server(r), json_string_value(v));
    if (!m) respond_error(r, 404, "model", "model_not_found", "the model '%s' does not exist", json_string_value(v));
    return m;
}

/* Fields hearth does not support yet: a clear 400 rather than a silently different answer. */
static bool refuse_unsupported(request *r, json_t *b, bool chat) {
    json_t *v;
    if (!chat && (v = json_object_get(b, "tools")) && json_is_array(v) && json_array_size(v) > 0)
        return respond_error(r, 400, "tools", "not_supported", "tools need /v1/chat/completions"), true;
    if ((v = json_object_get(b, "functions")) && json_is_array(v) && json_array_size(v) > 0)
        return respond_error(r, 400, "functions", "not_supported", "the legacy 'functions' are not supported: use 'tools'"), true;
    if ((v = json_object_get(b, "logit_bias")) && json_is_object(v) && json_object_size(v) > 0)
        return respond_error(r, 400, "logit_bias", "not_supported", "logit_bias is not supported yet"), true;
    return false;
}

/* Sampling, length and stop fields; -1 after answering. */
static int parse_common(request *r, json_t *b, srv_model *m, job_params *p, hearth_sampler_params *sp) {
    *sp = hearth_sampler_default_params();
    sp->seed = random_u64();
    double d;
    long long i;
    int rc;
    if ((rc = param_number(r, b, "temperature", 0, 2, &d)) < 0) return -1;
    if (rc) sp->temperature = (float)d;
    if ((rc = param_number(r, b, "top_p", 0, 1, &d)) < 0) return -1;
    if (rc) sp->top_p = (float)d;
    if ((rc = param_number(r, b, "min_p", 0, 1, &d)) < 0) return -1;
    if (rc) sp->min_p = (float)d;
    if ((rc = param_int(r, b, "top_k", 0, hearth_model_n_vocab(sched_hearth_model(m)), &i)) < 0) return -1;
    if (rc) sp->top_k = (int)i;
    if ((rc = param_number(r, b, "presence_penalty", -2, 2, &d)) < 0) return -1;
    if (rc) sp->presence_penalty = (float)d;
    if ((rc = param_number(r, b, "frequency_penalty", -2, 2, &d)) < 0) return -1;
    if (rc) sp->frequency_penalty = (float)d;
    if ((rc = param_number(r, b, "repeat_penalty", 0, 10, &d)) < 0) return -1;
    if (rc) sp->repeat_penalty = (float)d;
    if ((rc = param_int(r, b, "seed", INT64_MIN, INT64_MAX, &i)) < 0) return -1;
    if (rc) sp->seed = (uint64_t)i;
    json_t *nv = json_object_get(b, "n");
    if (nv && !json_is_null(nv) && !(json_is_integer(nv) && json_integer_value(nv) == 1))
        return respond_error(r, 400, "n", "not_supported", "only n=1 is supported (one choice per request)"), -1;
    if ((rc = param_int(r, b, "max_tokens", 1, 1 << 30, &i)) < 0) return -1;
    if (rc) p->max_tokens = (int)i;
    if ((rc = param_int(r, b, "max_completion_tokens", 1, 1 << 30, &i)) < 0) return -1;
    if (rc) p->max_tokens = (int)i;
    if (param_stop(r, b, "stop", p) < 0) return -1;
    return 0;
}

typedef struct {
    char id[64];
    json_t *model;      /* the name, as a JSON string */
    json_int_t created;
    bool chat;
    bool include_usage;
    bool logprobs;
    bool started;
    int text_offset;    /* completions' logprobs.text_offset */
    const hearth_model *hm;
    hearth_tool_parser *tp; /* tools: the output's calls */
    hearth_tool_format tool_format;
    int n_calls;
} oa_state;

static const char *finish_reason(job_finish f) { return f == JOB_FINISH_LENGTH ? "length" : "stop"; }

/* With tools: "tool_calls" when the model ended its turn after calling. */
static const char *finish_reason_calls(job_finish f, int n_calls) {
    return n_calls && f == JOB_FINISH_STOP ? "tool_calls" : finish_reason(f);
}

static json_t *usage_json(const job_output *o) {
    return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", o->n_prompt, "completion_tokens", o->n_generated,
                     "total_tokens", o->n_prompt + o->n_generated, "prompt_tokens_details", "cached_tokens", o->n_cached);
}

static json_t *token_bytes(const char *s, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer((unsigned char)s[i]));
    return a;
}

/* Chat: {"content":[{token, logprob, bytes, top_logprobs:[...]}]}. */
static json_t *chat_logprobs(const hearth_model *hm, const job_logprob *lp, int n) {
    json_t *content = json_array();
    char piece[512];
    for (int i = 0; i < n; i++) {
        size_t len = token_text(hm, lp[i].token, piece, sizeof piece);
        json_t *top = json_array();
        for (int k = 0; k < lp[i].n_top; k++) {
            char tp[512];
            size_t tl = token_text(hm, lp[i].top_token[k], tp, sizeof tp);
            json_array_append_new(top, json_pack("{s:o,s:o,s:o}", "token", json_text(tp, tl), "logprob",
                                                 json_num(lp[i].top_logprob[k]), "bytes", token_bytes(tp, tl)));
        }
        json_array_append_new(content, json_pack("{s:o,s:o,s:o,s:o}", "token", json_text(piece, len), "logprob",
                                                 json_num(lp[i].logprob), "bytes", token_bytes(piece, len),
                                                 "top_logprobs", top));
    }
    return json_pack("{s:o}", "content", content);
}

/* Completions: {"tokens","token_logprobs","top_logprobs":[{token: logprob}],"text_offset"}. */
static json_t *completion_logprobs(const hearth_model *hm, const job_logprob *lp, int n, int *offset) {
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    char piece[512];
    for (int i = 0; i < n; i++) {
        size_t len = token_text(hm, lp[i].token, piece, sizeof piece);
        json_array_append_new(tokens, json_text(piece, len));
        json_array_append_new(lps, json_num(lp[i].logprob));
        json_array_append_new(offs, json_integer(*offset));
        *offset += (int)len;
        json_t *top = json_object();
        for (int k = 0; k < lp[i].n_top; k++) {
            char tp[512];
            size_t tl = token_text(hm, lp[i].top_token[k], tp, sizeof tp);
            char *key = utf8_sanitize(tp, tl, NULL);
            json_object_set_new(top, key, json_num(lp[i].top_logprob[k]));
            free(key);
        }
        json_array_append_new(tops, top);
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops, "text_offset", offs);
}

static json_t *chunk_base(oa_state *st) {
    return json_pack("{s:s,s:s,s:I,s:O,s:s}", "id", st->id, "object", st->chat ? "chat.completion.chunk" : "text_completion",
                     "created", st->created, "model", st->model, "system_fingerprint", FINGERPRINT);
}

static void sse(strbuf *out, json_t *obj) {
    sb_puts(out, "data: ");
    sb_json(out, obj);
    sb_puts(out, "\n\n");
}

/* One choice of a chunk; delta (chat) or text (completions). */
static void send_choice(oa_state *st, strbuf *out, json_t *delta_or_text, json_t *logprobs, const char *finish) {
    json_t *c = chunk_base(st);
    json_t *choice = json_pack("{s:i}", "index", 0);
    json_object_set_new(choice, st->chat ? "delta" : "text", delta_or_text);
    json_object_set_new(choice, "logprobs", logprobs ? logprobs : json_null());
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(c, "choices", json_pack("[o]", choice));
    if (st->include_usage) json_object_set_new(c, "usage", json_null());
    sse(out, c);
}

/* A chunk with tool-call deltas. */
static void send_calls(oa_state *st, strbuf *out, const hearth_tool_call *calls, int n) {
    for (int i = 0; i < n; i++) {
        char id[64];
        tool_call_id(id, sizeof id);
        int index = st->n_calls++;
        send_choice(st, out, json_pack("{s:[{s:i,s:s,s:s,s:{s:o,s:s}}]}", "tool_calls", "index", index, "id", id, "type", "function",
                                       "function", "name", json_text(calls[i].name, strlen(calls[i].name)), "arguments", ""),
                    NULL, NULL);
        send_choice(st, out, json_pack("{s:[{s:i,s:{s:o}}]}", "tool_calls", "index", index, "function", "arguments",
                                       json_text(calls[i].arguments, strlen(calls[i].arguments))),
                    NULL, NULL);
    }
}

static void oa_format(void *state, const job_output *o, strbuf *out) {
    oa_state *st = state;
    if (st->chat && !st->started) send_choice(st, out, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL, NULL);
    st->started = true;
    if (st->tp) { /* content and calls apart */
        bool final = o->done && (o->finish == JOB_FINISH_STOP || o->finish == JOB_FINISH_LENGTH);
        const char *text = "";
        size_t len = 0;
        const hearth_tool_call *calls = NULL;
        int n = 0;
        if (hearth_tool_parser_push(st->tp, o->text, o->text_len, final, &text, &len, &calls, &n) < 0) len = 0, n = 0;
        json_t *lp = st->logprobs && o->n_logprobs ? chat_logprobs(st->hm, o->logprobs, o->n_logprobs) : NULL;
        if (len || lp) send_choice(st, out, json_pack("{s:o}", "content", json_text(text, len)), lp, NULL);
        send_calls(st, out, calls, n);
    } else if (o->text_len || o->n_logprobs) {
        json_t *lp = NULL;
        if (st->logprobs && o->n_logprobs)
            lp = st->chat ? chat_logprobs(st->hm, o->logprobs, o->n_logprobs)
                          : completion_logprobs(st->hm, o->logprobs, o->n_logprobs, &st->text_offset);
        json_t *text = json_stringn(o->text, o->text_len);
        send_choice(st, out, st->chat ? json_pack("{s:o}", "content", text) : text, lp, NULL);
    }
    if (!o->done) return;
    if (o->finish == JOB_FINISH_ERROR) {
        sse(out, json_pack("{s:{s:o,s:s,s:n,s:n}}", "error", "message", json_text(o->error, strlen(o->error)), "type",
                           o->error_status >= 500 ? "server_error" : "invalid_request_error", "param", "code"));
    } else if (o->finish != JOB_FINISH_CANCELLED) {
        send_choice(st, out, st->chat ? json_object() : json_string(""), NULL, finish_reason_calls(o->finish, st->n_calls));
        if (st->include_usage) {
            json_t *c = chunk_base(st);
            json_object_set_new(c, "choices", json_array());
            json_object_set_new(c, "usage", usage_json(o));
            sse(out, c);
        }
    }
    sb_puts(out, "data: [DONE]\n\n");
}

static void oa_free(void *state) {
    oa_state *st = state;
    hearth_tool_parser_free(st->tp);
    json_decref(st->model);
    free(st);
}

/* Submit and answer, streamed or whole; with tools, calls are parsed out of the output. */
static int run_job(request *r, srv_model *m, job_params *p, bool chat, bool stream, bool include_usage, bool logprobs,
                   bool tools) {
    job *j;
    int status = sched_submit(m, p, &j);
    if (status == 429)
        return respond_error(r, 429, NULL, "queue_full", "too many requests are waiting for '%s'; try again later",
                             sched_name(m));
    if (status) return respond_error(r, status, NULL, NULL, status == 503 ? "the server is shutting down" : "out of memory");
    oa_state *st = calloc(1, sizeof *st);
    if (!st) { job_cancel(j); job_release(j); return MHD_NO; }
    random_id(st->id, sizeof st->id, chat ? "chatcmpl" : "cmpl");
    st->model = json_string(sched_name(m));
    st->created = (json_int_t)time(NULL);
    st->chat = chat;
    st->include_usage = include_usage;
    st->logprobs = logprobs;
    st->hm = sched_hearth_model(m);
    st->tool_format = sched_tool_format(m);
    if (tools && !(st->tp = hearth_tool_parser_new(st->tool_format))) { job_cancel(j); job_release(j); oa_free(st); return MHD_NO; }
    if (stream) return respond_stream(r, "text/event-stream", j, (stream_fmt){oa_format, oa_free, st});

    job_output o;
    bool ok = wait_job(r, j, &o);
    job_release(j);
    if (!ok) { oa_free(st); return MHD_NO; }
    int rc;
    if (o.finish == JOB_FINISH_ERROR) {
        rc = respond_error(r, o.error_status, NULL, NULL, "%s", o.error);
    } else {
        json_t *lp = !logprobs ? json_null()
                     : chat      ? chat_logprobs(st->hm, o.logprobs, o.n_logprobs)
                                 : completion_logprobs(st->hm, o.logprobs, o.n_logprobs, &st->text_offset);
        json_t *text, *calls_json = NULL;
        const char *finish = finish_reason(o.finish);
        if (st->tp) {
            char *content = NULL;
            hearth_tool_call *calls = NULL;
            int n = 0;
            hearth_tool_calls_parse(st->tool_format, o.text, o.text_len, &content, &calls, &n);
            text = n && (!content || !*content) ? json_null() : json_text(content ? content : "", content ? strlen(content) : 0);
            if (n) calls_json = tool_calls_json(API_OPENAI, calls, n);
            finish = finish_reason_calls(o.finish, n);
            hearth_tool_calls_free(calls, n);
            free(content);
        } else {
            text = json_stringn(o.text, o.text_len);
        }
        json_t *choice = chat ? json_pack("{s:i,s:{s:s,s:o,s:n},s:o,s:s}", "index", 0, "message", "role", "assistant",
                                          "content", text, "refusal", "logprobs", lp, "finish_reason", finish)
                              : json_pack("{s:i,s:o,s:o,s:s}", "index", 0, "text", text, "logprobs", lp,
                                          "finish_reason", finish);
        if (calls_json) json_object_set_new(json_object_get(choice, "message"), "tool_calls", calls_json);
        json_t *resp = json_pack("{s:s,s:s,s:I,s:O,s:s,s:[o],s:o}", "id", st->id, "object",
                                 chat ? "chat.completion" : "text_completion", "created", st->created, "model", st->model,
                                 "system_fingerprint", FINGERPRINT, "choices", choice, "usage", usage_json(&o));
        rc = respond_json(r, 200, resp);
    }
    job_output_free(&o);
    oa_free(st);
    return rc;
}

/* ------------------------------------------------------------------------------------------------ chat */

/* A message's content as text: a string, null, or a list of text parts. NULL after answering. *owned gets
 * what must be freed. */
static const char *message_text(request *r, json_t *content, size_t idx, char **owned) {
    *owned = NULL;
    if (!content || json_is_null(content)) return "";
    if (json_is_string(content)) return json_string_value(content);
    if (!json_is_array(content))
        return respond_error(r, 400, "messages", "invalid_type", "messages[%zu].content must be a string or an array of parts", idx), NULL;
    strbuf b = {0};
    sb_put(&b, "", 0);
    size_t i;
    json_t *part;
    json_array_foreach(content, i, part) {
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *text = json_object_get(part, "text");
        if (type && !strcmp(type, "text") && json_is_string(text)) {
            if (b.len) sb_puts(&b, "\n");
            sb_puts(&b, json_string_value(text));
            continue;
        }
        sb_free(&b);
        if (type && (!strcmp(type, "image_url") || !strcmp(type, "input_audio") || !strcmp(type, "file")))
            return respond_error(r, 400, "messages", "not_supported", "messages[%zu]: '%s' parts are not supported", idx, type), NULL;
        return respond_error(r, 400, "messages", "invalid_value", "messages[%zu].content[%zu] is not a text part", idx, i), NULL;
    }
    return *owned = b.s;
}

int openai_chat(request *r) {
    if (server_router(req_server(r))) return route_chat(r, API_OPENAI);
    json_t *b = req_body(r);
    srv_model *m = request_model(r, b);
    if (!m || refuse_unsupported(r, b, true)) return MHD_YES;
    job_params p = {.n_logprobs = -1};
    req_constraint con = {0};
    hearth_sampler_params sp;
    bool stream = false, include_usage = false, logprobs = false;
    long long top = 0;
    json_t *norm = NULL;
    char *msgs_json = NULL;
    if (parse_common(r, b, m, &p, &sp) < 0 || param_bool(r, b, "stream", &stream) < 0 ||
        param_bool(r, b, "logprobs", &logprobs) < 0 ||
        param_int(r, b, "top_logprobs", 0, SERVER_MAX_TOP_LOGPROBS, &top) < 0 ||
        read_tools(r, b, API_OPENAI, &con) < 0 || read_response_format(r, b, &con) < 0)
        goto done;
    json_t *so = json_object_get(b, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) { respond_error(r, 400, "stream_options", "invalid_type", "'stream_options' must be an object"); goto done; }
        if (param_bool(r, so, "include_usage", &include_usage) < 0) goto done;
    }
    if (logprobs) p.n_logprobs = (int)top;
    else if (top) { respond_error(r, 400, "top_logprobs", "invalid_value", "'top_logprobs' needs 'logprobs': true"); goto done; }

    json_t *msgs = json_object_get(b, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        respond_error(r, 400, "messages", "invalid_value", "'messages' must be a non-empty array");
        goto done;
    }
    /* the conversation in the template's shape: text contents, tool calls, tool results */
    norm = json_array();
    json_t *sys = json_object_get(b, "system"); /* a top-level system prompt, as some clients send */
    if (json_is_string(sys)) json_array_append_new(norm, json_pack("{s:s,s:O}", "role", "system", "content", sys));
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        if (!json_is_object(msg) || !role) {
            respond_error(r, 400, "messages", "invalid_value", "messages[%zu] needs a 'role' string", i);
            goto done;
        }
        if (!strcmp(role, "developer")) role = "system"; /* OpenAI's newer name for it */
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "tool")) {
            respond_error(r, 400, "messages", "invalid_value", "messages[%zu]: unknown role '%s'", i, role);
            goto done;
        }
        char *owned;
        const char *text = message_text(r, json_object_get(msg, "content"), i, &owned);
        if (!text) goto done;
        json_t *nm = json_pack("{s:s,s:s}", "role", role, "content", text);
        free(owned);
        json_array_append_new(norm, nm);
        json_t *calls = json_object_get(msg, "tool_calls"), *id = json_object_get(msg, "tool_call_id"), *name = json_object_get(msg, "name");
        if (calls && !json_is_null(calls) && strcmp(role, "assistant")) {
            respond_error(r, 400, "messages", "invalid_value", "messages[%zu]: only assistant messages carry tool_calls", i);
            goto done;
        }
        if (calls && !json_is_null(calls) && copy_tool_calls(r, API_OPENAI, calls, i, nm) < 0) goto done;
        if (json_is_string(id)) json_object_set(nm, "tool_call_id", id);
        if (json_is_string(name)) json_object_set(nm, "name", name);
    }
    msgs_json = json_dumps(norm, JSON_COMPACT);
    if (!msgs_json) { respond_error(r, 500, NULL, NULL, "out of memory"); goto done; }
    if (hearth_chat_tokenize_json(sched_hearth_model(m), sched_template(m), msgs_json, con.tools_json, true, &p.prompt,
                                  &p.n_prompt) < 0) {
        respond_error(r, 400, "messages", "template_error", "cannot build the prompt: %s", hearth_last_error());
        goto done;
    }
    if (finish_params(r, m, &p, &sp) < 0 || apply_constraint(r, m, &con, &p) < 0) goto done;
    bool tools = constraint_tools(&con);
    json_decref(norm);
    free(msgs_json);
    constraint_free(&con);
    return run_job(r, m, &p, true, stream, include_usage, logprobs, tools);
done:
    json_decref(norm);
    free(msgs_json);
    constraint_free(&con);
    job_params_free(&p);
    return MHD_YES;
}

/* ----------------------------------------------------------------------------------------- completions */

/* Token ids given directly: validated against the vocabulary. */
static bool ids_prompt(request *r, srv_model *m, json_t *arr, job_params *p) {
    int n_vocab = hearth_model_n_vocab(sched_hearth_model(m));
    size_t n = json_array_size(arr);
    p->prompt = malloc(sizeof(int32_t) * (n ? n : 1));
    if (!p->prompt) return respond_error(r, 500, NULL, NULL, "out of memory"), false;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab)
            return respond_error(r, 400, "prompt", "invalid_value", "prompt[%zu] is not a token id (0..%d)", i, n_vocab - 1), false;
        p->prompt[i] = (int32_t)json_integer_value(v);
    }
    p->n_prompt = (int)n;
    return true;
}

int openai_completions(request *r) {
    json_t *b = req_body(r);
    srv_model *m = request_model(r, b);
    if (!m || refuse_unsupported(r, b, false)) return MHD_YES;
    job_params p = {.n_logprobs = -1};
    req_constraint con = {0};
    hearth_sampler_params sp;
    bool stream = false, include_usage = false, echo = false;
    long long lp = -1, best_of = 1;
    if (parse_common(r, b, m, &p, &sp) < 0 || param_bool(r, b, "stream", &stream) < 0 ||
        param_bool(r, b, "echo", &echo) < 0 || param_int(r, b, "logprobs", 0, SERVER_MAX_TOP_LOGPROBS, &lp) < 0 ||
        param_int(r, b, "best_of", 1, 1, &best_of) < 0 || read_response_format(r, b, &con) < 0)
        goto done;
    if (echo) { respond_error(r, 400, "echo", "not_supported", "'echo' is not supported yet"); goto done; }
    json_t *suffix = json_object_get(b, "suffix");
    if (suffix && !json_is_null(suffix)) { respond_error(r, 400, "suffix", "not_supported", "'suffix' is not supported yet"); goto done; }
    json_t *so = json_object_get(b, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) { respond_error(r, 400, "stream_options", "invalid_type", "'stream_options' must be an object"); goto done; }
        if (param_bool(r, so, "include_usage", &include_usage) < 0) goto done;
    }
    p.n_logprobs = (int)lp;

    json_t *prompt = json_object_get(b, "prompt");
    if (json_is_array(prompt) && json_array_size(prompt) == 1 &&
        (json_is_string(json_array_get(prompt, 0)) || json_is_array(json_array_get(prompt, 0))))
        prompt = json_array_get(prompt, 0); /* a batch of one */
    if (json_is_string(prompt)) {
        hearth_model *hm = sched_hearth_model(m);
        const char *text = json_string_value(prompt);
        size_t len = json_string_length(prompt);
        int n = hearth_tokenize(hm, text, len, true, false, NULL, 0);
        if (n < 0) { respond_error(r, 400, "prompt", "invalid_value", "%s", hearth_last_error()); goto done; }
        p.prompt = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
        if (!p.prompt) { respond_error(r, 500, NULL, NULL, "out of memory"); goto done; }
        p.n_prompt = hearth_tokenize(hm, text, len, true, false, p.prompt, n);
    } else if (json_is_array(prompt) && json_array_size(prompt) > 0 && json_is_integer(json_array_get(prompt, 0))) {
        if (!ids_prompt(r, m, prompt, &p)) goto done;
    } else if (json_is_array(prompt) && json_array_size(prompt) > 1) {
        respond_error(r, 400, "prompt", "not_supported", "one prompt per request (n=1 only)");
        goto done;
    } else {
        respond_error(r, 400, "prompt", "invalid_value", "'prompt' must be a string or an array of token ids");
        goto done;
    }
    if (finish_params(r, m, &p, &sp) < 0 || apply_constraint(r, m, &con, &p) < 0) goto done;
    constraint_free(&con);
    return run_job(r, m, &p, false, stream, include_usage, lp >= 0, false);
done:
    constraint_free(&con);
    job_params_free(&p);
    return MHD_YES;
}
