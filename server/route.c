/* route.c — `hearth serve --route`: /v1/chat/completions and /api/chat through the hybrid router
 * (router/router.h). The router decides local or cloud, guards secrets, relays cloud streams and fails over;
 * this file is the glue: it turns the HTTP request into the router's OpenAI-shaped request, answers locally
 * with this server's scheduler (a broken cloud answer is continued from where it stopped), and writes the
 * answer in the request's API shape with an x-hearth-route header and a "hearth" object (the last chunk
 * when streaming).
 *
 * Streaming: the router runs in a worker thread and appends formatted chunks to a buffer; the HTTP side
 * sends the headers once the first text (or the end) is there — so a failover before the first byte is
 * reported in the header too — and a libmicrohttpd content reader drains the buffer. The two sides share
 * the state under a mutex and a reference count; a client that goes away makes the next piece of text
 * stop the router (and with it the upstream call or the local job). */
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../router/router.h"
#include "server.h"

typedef struct {
    router *rt;
    server *srv;
    request *req;          /* whole answers only: the router runs in the handler's thread */
    api_kind api;
    bool stream, include_usage;
    char *body;            /* the router's request (OpenAI shape) */
    char model[128];       /* the name answers carry */
    char id[64];
    json_int_t created;
    double t0, next_check;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    strbuf out;            /* streaming: formatted bytes not yet read; whole: the answer text */
    size_t pos;
    char route[96];
    bool role_sent, text_started, finished, gone;
    int refs, rc;
    router_result res;
} rchat;

static void rchat_unref(rchat *c) {
    pthread_mutex_lock(&c->mu);
    int left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left) return;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    router_result_free(&c->res);
    sb_free(&c->out);
    free(c->body);
    free(c);
}

/* ---------------------------------------------------------------------------------- formatting */

static json_t *oa_chunk(rchat *c, json_t *delta, const char *finish) {
    json_t *choice = json_pack("{s:i,s:o,s:n}", "index", 0, "delta", delta, "logprobs");
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    return json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", c->id, "object", "chat.completion.chunk", "created", c->created,
                     "model", c->model, "choices", choice);
}

static void put_event(rchat *c, json_t *obj) {
    if (c->api == API_OPENAI) {
        sb_puts(&c->out, "data: ");
        sb_json(&c->out, obj);
        sb_puts(&c->out, "\n\n");
    } else {
        sb_json(&c->out, obj);
        sb_puts(&c->out, "\n");
    }
}

static json_t *ol_line(rchat *c, const char *text, size_t n) {
    char now[64];
    rfc3339_now(now, sizeof now);
    return json_pack("{s:s,s:s,s:{s:s,s:o}}", "model", c->model, "created_at", now, "message", "role", "assistant",
                     "content", json_text(text, n));
}

static json_t *hearth_obj(rchat *c) {
    json_t *h = c->res.hearth_json ? json_loads(c->res.hearth_json, 0, NULL) : NULL;
    return h ? h : json_pack("{s:s}", "route", c->route);
}

/* The end of a stream (called with the lock held). */
static void put_end(rchat *c) {
    const char *fr = c->res.finish_reason[0] ? c->res.finish_reason : "stop";
    if (c->rc < 0) { /* the answer had begun: an error event ends it */
        if (c->api == API_OPENAI) {
            put_event(c, json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", c->res.error, "type", "server_error", "param", "code"));
            sb_puts(&c->out, "data: [DONE]\n\n");
        } else put_event(c, json_pack("{s:s}", "error", c->res.error));
        return;
    }
    if (c->api == API_OPENAI) {
        if (!c->role_sent) put_event(c, oa_chunk(c, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL));
        json_t *last = oa_chunk(c, json_object(), fr);
        json_object_set_new(last, "hearth", hearth_obj(c));
        put_event(c, last);
        if (c->include_usage) {
            json_t *u = json_pack("{s:s,s:s,s:I,s:s,s:[],s:{s:I,s:I,s:I}}", "id", c->id, "object", "chat.completion.chunk",
                                  "created", c->created, "model", c->model, "choices", "usage", "prompt_tokens",
                                  (json_int_t)c->res.prompt_tokens, "completion_tokens", (json_int_t)c->res.completion_tokens,
                                  "total_tokens", (json_int_t)(c->res.prompt_tokens + c->res.completion_tokens));
            put_event(c, u);
        }
        sb_puts(&c->out, "data: [DONE]\n\n");
    } else {
        json_t *last = ol_line(c, "", 0);
        json_object_set_new(last, "done", json_true());
        json_object_set_new(last, "done_reason", json_string(fr));
        json_object_set_new(last, "total_duration", json_integer((json_int_t)((mono_now() - c->t0) * 1e9)));
        json_object_set_new(last, "prompt_eval_count", json_integer(c->res.prompt_tokens));
        json_object_set_new(last, "eval_count", json_integer(c->res.completion_tokens));
        json_object_set_new(last, "hearth", hearth_obj(c));
        put_event(c, last);
    }
}

/* ---------------------------------------------------------------------------------- router callbacks */

static void on_route(void *user, const char *route, const char *rule) {
    (void)rule;
    rchat *c = user;
    pthread_mutex_lock(&c->mu);
    snprintf(c->route, sizeof c->route, "%s", route);
    pthread_mutex_unlock(&c->mu);
}

/* Whole answers: is the client still there? (checked at most every 100 ms, from the handler's thread) */
static bool still_there(rchat *c) {
    if (c->stream) return !c->gone;
    double now = mono_now();
    if (now < c->next_check) return true;
    c->next_check = now + 0.1;
    return !req_client_gone(c->req);
}

static bool on_text(void *user, const char *text, size_t n) {
    rchat *c = user;
    pthread_mutex_lock(&c->mu);
    bool ok = c->stream ? !c->gone : true;
    if (ok && c->stream) {
        if (c->api == API_OPENAI) {
            if (!c->role_sent) put_event(c, oa_chunk(c, json_pack("{s:s,s:s}", "role", "assistant", "content", ""), NULL));
            c->role_sent = true;
            put_event(c, oa_chunk(c, json_pack("{s:o}", "content", json_text(text, n)), NULL));
        } else {
            json_t *line = ol_line(c, text, n);
            json_object_set_new(line, "done", json_false());
            put_event(c, line);
        }
    } else if (ok) sb_put(&c->out, text, n);
    c->text_started = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return ok && (c->stream || still_there(c));
}

/* "stop": a string or a list of strings. */
static void read_stops(json_t *v, job_params *p) {
    if (json_is_string(v)) { p->stop[p->n_stop++] = strdup(json_string_value(v)); return; }
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
        if (json_is_string(s) && p->n_stop < SERVER_MAX_STOP) p->stop[p->n_stop++] = strdup(json_string_value(s));
}

static float num_or(json_t *o, const char *k, float def, float lo, float hi) {
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v)) return def;
    double d = json_number_value(v);
    return (float)(d < lo ? lo : d > hi ? hi : d);
}

/* The local answer: this server's first model (or the one the request names), through its scheduler. */
static int run_local(void *user, const char *request_json, const char *prefix, router_emit_fn emit, void *emit_ctx,
                     router_local_result *res) {
    rchat *c = user;
    json_t *b = json_loads(request_json, 0, NULL);
    json_t *msgs = json_object_get(b, "messages");
    srv_model *m = server_find_model(c->srv, json_string_value(json_object_get(b, "model")));
    if (!m) m = server_model(c->srv, 0);
    hearth_model *hm = sched_hearth_model(m);
    size_t n = json_array_size(msgs), k = 0;
    hearth_chat_message *cm = calloc(n + 1, sizeof *cm);
    char **owned = calloc(n + 1, sizeof *owned);
    job_params p = {.n_logprobs = -1};
    int rc = HEARTH_ERR_NOMEM;
    if (!b || !cm || !owned) goto done;
    if (json_is_string(json_object_get(b, "system"))) cm[k++] = (hearth_chat_message){"system", json_string_value(json_object_get(b, "system"))};
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        const char *role = json_string_value(json_object_get(msg, "role"));
        json_t *content = json_object_get(msg, "content");
        const char *text = "";
        if (json_is_string(content)) text = json_string_value(content);
        else if (json_is_array(content)) { /* text parts, joined */
            strbuf sb = {0};
            sb_put(&sb, "", 0);
            size_t x;
            json_t *part;
            json_array_foreach(content, x, part) {
                const char *t = json_string_value(json_object_get(part, "text"));
                if (!t) continue;
                if (sb.len) sb_puts(&sb, "\n");
                sb_puts(&sb, t);
            }
            text = owned[k] = sb.s;
        }
        if (role && !strcmp(role, "developer")) role = "system";
        cm[k++] = (hearth_chat_message){role ? role : "user", text ? text : ""};
    }
    if ((rc = hearth_chat_tokenize(hm, sched_template(m), cm, k, true, false, &p.prompt, &p.n_prompt)) < 0) goto done;
    if (prefix && *prefix) { /* continue the answer a failed upstream began */
        size_t pl = strlen(prefix);
        int extra = hearth_tokenize(hm, prefix, pl, false, false, NULL, 0);
        int32_t *np = extra >= 0 ? realloc(p.prompt, sizeof(int32_t) * (size_t)(p.n_prompt + extra)) : NULL;
        if (!np) { rc = extra < 0 ? extra : HEARTH_ERR_NOMEM; goto done; }
        p.prompt = np;
        hearth_tokenize(hm, prefix, pl, false, false, p.prompt + p.n_prompt, extra);
        p.n_prompt += extra;
    }
    if (p.n_prompt >= sched_n_ctx(m)) { rc = HEARTH_ERR_CONTEXT; goto done; }
    hearth_sampler_params sp = hearth_sampler_default_params();
    sp.seed = random_u64();
    sp.temperature = num_or(b, "temperature", sp.temperature, 0, 2);
    sp.top_p = num_or(b, "top_p", sp.top_p, 0, 1);
    sp.min_p = num_or(b, "min_p", sp.min_p, 0, 1);
    sp.top_k = (int)num_or(b, "top_k", (float)sp.top_k, 0, 1e6f);
    sp.presence_penalty = num_or(b, "presence_penalty", sp.presence_penalty, -2, 2);
    sp.frequency_penalty = num_or(b, "frequency_penalty", sp.frequency_penalty, -2, 2);
    sp.repeat_penalty = num_or(b, "repeat_penalty", sp.repeat_penalty, 0, 10);
    if (json_is_integer(json_object_get(b, "seed"))) sp.seed = (uint64_t)json_integer_value(json_object_get(b, "seed"));
    json_t *mt = json_object_get(b, "max_completion_tokens");
    if (!json_is_integer(mt)) mt = json_object_get(b, "max_tokens");
    if (json_is_integer(mt) && json_integer_value(mt) > 0) p.max_tokens = (int)(json_integer_value(mt) > 1 << 30 ? 1 << 30 : json_integer_value(mt));
    read_stops(json_object_get(b, "stop"), &p);
    if (!(p.sampler = hearth_sampler_new(hm, &sp))) { rc = HEARTH_ERR_ARG; goto done; }
    hearth_sampler_accept_prompt(p.sampler, p.prompt, p.n_prompt);
    job *j;
    int status = sched_submit(m, &p, &j); /* takes p's resources */
    memset(&p, 0, sizeof p);
    if (status) { rc = HEARTH_ERR_NOMEM; goto done; }
    rc = 0;
    for (;;) {
        job_output o;
        bool fresh = job_take(j, 0.1, &o);
        bool stop = false;
        if (fresh && o.text_len && !emit(emit_ctx, o.text, o.text_len)) stop = true;
        if (!fresh) {
            pthread_mutex_lock(&c->mu);
            stop = c->gone;
            pthread_mutex_unlock(&c->mu);
            if (!c->stream && !still_there(c)) stop = true;
        }
        if (fresh && o.done) {
            res->prompt_tokens = o.n_prompt;
            res->completion_tokens = o.n_generated;
            snprintf(res->finish_reason, sizeof res->finish_reason, "%s", o.finish == JOB_FINISH_LENGTH ? "length" : "stop");
            if (o.finish == JOB_FINISH_ERROR) rc = HEARTH_ERR_NOMEM;
            job_output_free(&o);
            break;
        }
        job_output_free(&o);
        if (stop) { job_cancel(j); break; }
    }
    job_release(j);
done:
    job_params_free(&p);
    for (size_t x = 0; owned && x <= n; x++) free(owned[x]);
    free(owned);
    free(cm);
    json_decref(b);
    return rc;
}

static void route_now(rchat *c) {
    router_io io = {.on_route = on_route, .on_text = on_text, .run_local = run_local, .user = c};
    c->rc = router_handle_chat(c->rt, c->body, strlen(c->body), &io, &c->res);
}

static void *worker(void *arg) {
    rchat *c = arg;
    route_now(c);
    pthread_mutex_lock(&c->mu);
    if (c->text_started) put_end(c);
    c->finished = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    rchat_unref(c);
    return NULL;
}

/* ---------------------------------------------------------------------------------- HTTP side */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    rchat *c = cls;
    pthread_mutex_lock(&c->mu);
    while (c->pos == c->out.len && !c->finished) pthread_cond_wait(&c->cv, &c->mu);
    if (c->pos == c->out.len) {
        pthread_mutex_unlock(&c->mu);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = c->out.len - c->pos < max ? c->out.len - c->pos : max;
    memcpy(buf, c->out.s + c->pos, n);
    c->pos += n;
    if (c->pos == c->out.len) c->pos = c->out.len = 0;
    pthread_mutex_unlock(&c->mu);
    return (ssize_t)n;
}

static void reader_done(void *cls) {
    rchat *c = cls;
    pthread_mutex_lock(&c->mu);
    c->gone = true; /* finished or the client left: either way nobody reads any more */
    pthread_mutex_unlock(&c->mu);
    rchat_unref(c);
}

/* The request in OpenAI's shape: an Ollama body keeps model and messages; its options become fields. */
static json_t *openai_shape(json_t *b, api_kind api) {
    if (api == API_OPENAI) return json_incref(b);
    json_t *o = json_pack("{s:O}", "messages", json_object_get(b, "messages"));
    if (json_is_string(json_object_get(b, "model"))) json_object_set(o, "model", json_object_get(b, "model"));
    json_t *opt = json_object_get(b, "options");
    static const char *const same[] = {"temperature", "top_p", "top_k", "min_p", "seed", "stop", "presence_penalty",
                                       "frequency_penalty", "repeat_penalty"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (json_object_get(opt, same[i])) json_object_set(o, same[i], json_object_get(opt, same[i]));
    json_t *np = json_object_get(opt, "num_predict");
    if (json_is_integer(np) && json_integer_value(np) > 0) json_object_set(o, "max_tokens", np);
    return o;
}

int route_chat(request *r, api_kind api) {
    json_t *b = req_body(r);
    json_t *tools = json_object_get(b, "tools");
    if (json_is_array(tools) && json_array_size(tools) > 0)
        return respond_error(r, 400, "tools", "not_supported", "tools are not supported through the router yet");
    /* structured output would hold for local answers only: refused rather than silently uneven */
    json_t *rf = json_object_get(b, "response_format"), *fmt = json_object_get(b, "format");
    const char *rft = json_string_value(json_object_get(rf, "type"));
    if ((rf && !json_is_null(rf) && !(rft && !strcmp(rft, "text"))) ||
        (fmt && !json_is_null(fmt) && !(json_is_string(fmt) && !json_string_length(fmt))))
        return respond_error(r, 400, api == API_OPENAI ? "response_format" : "format", "not_supported",
                             "structured output is not supported through the router yet");
    rchat *c = calloc(1, sizeof *c);
    if (!c) return respond_error(r, 500, NULL, NULL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->refs = 1;
    c->rt = server_router(req_server(r));
    c->srv = req_server(r);
    c->req = r;
    c->api = api;
    c->t0 = mono_now();
    c->created = (json_int_t)time(NULL);
    random_id(c->id, sizeof c->id, "chatcmpl");
    snprintf(c->route, sizeof c->route, "local");
    json_t *stream = json_object_get(b, "stream");
    c->stream = api == API_OLLAMA ? !json_is_false(stream) : json_is_true(stream); /* Ollama streams by default */
    c->include_usage = json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage"));
    const char *model = json_string_value(json_object_get(b, "model"));
    snprintf(c->model, sizeof c->model, "%s", model && *model ? model : sched_name(server_model(c->srv, 0)));
    json_t *shaped = openai_shape(b, api);
    c->body = shaped ? json_dumps(shaped, JSON_COMPACT) : NULL;
    json_decref(shaped);
    if (!c->body) { rchat_unref(c); return respond_error(r, 500, NULL, NULL, "out of memory"); }

    if (!c->stream) {
        route_now(c);
        int rc;
        req_add_header(r, "x-hearth-route", c->res.route);
        if (c->rc < 0) {
            rc = respond_error(r, c->res.http_status, NULL, c->res.http_status == 403 ? "sensitive_data" : NULL, "%s", c->res.error);
        } else if (api == API_OPENAI) {
            json_t *msg = json_pack("{s:s,s:o,s:n}", "role", "assistant", "content", json_text(c->out.s ? c->out.s : "", c->out.len), "refusal");
            json_t *choice = json_pack("{s:i,s:o,s:n,s:s}", "index", 0, "message", msg, "logprobs", "finish_reason",
                                       c->res.finish_reason[0] ? c->res.finish_reason : "stop");
            json_t *resp = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:{s:I,s:I,s:I},s:o}", "id", c->id, "object", "chat.completion",
                                     "created", c->created, "model", c->model, "choices", choice, "usage", "prompt_tokens",
                                     (json_int_t)c->res.prompt_tokens, "completion_tokens", (json_int_t)c->res.completion_tokens,
                                     "total_tokens", (json_int_t)(c->res.prompt_tokens + c->res.completion_tokens), "hearth",
                                     hearth_obj(c));
            rc = respond_json(r, 200, resp);
        } else {
            json_t *resp = ol_line(c, c->out.s ? c->out.s : "", c->out.len);
            json_object_set_new(resp, "done", json_true());
            json_object_set_new(resp, "done_reason", json_string(c->res.finish_reason[0] ? c->res.finish_reason : "stop"));
            json_object_set_new(resp, "total_duration", json_integer((json_int_t)((mono_now() - c->t0) * 1e9)));
            json_object_set_new(resp, "prompt_eval_count", json_integer(c->res.prompt_tokens));
            json_object_set_new(resp, "eval_count", json_integer(c->res.completion_tokens));
            json_object_set_new(resp, "hearth", hearth_obj(c));
            rc = respond_json(r, 200, resp);
        }
        rchat_unref(c);
        return rc;
    }

    /* streaming: the router works in its own thread; headers go out with the first text */
    c->refs = 2;
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, worker, c)) {
        pthread_attr_destroy(&at);
        c->refs = 1;
        rchat_unref(c);
        return respond_error(r, 500, NULL, NULL, "cannot start a thread");
    }
    pthread_attr_destroy(&at);
    pthread_mutex_lock(&c->mu);
    while (!c->text_started && !c->finished) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (!c->text_started && !c->finished && req_client_gone(r)) {
            c->gone = true; /* the router stops at its next piece of text */
            pthread_mutex_unlock(&c->mu);
            rchat_unref(c);
            return MHD_NO;
        }
    }
    bool failed = c->finished && !c->text_started && c->rc < 0;
    char route[96];
    snprintf(route, sizeof route, "%s", c->finished ? c->res.route : c->route);
    pthread_mutex_unlock(&c->mu);
    req_add_header(r, "x-hearth-route", route);
    if (failed) {
        int rc = respond_error(r, c->res.http_status, NULL, c->res.http_status == 403 ? "sensitive_data" : NULL, "%s", c->res.error);
        rchat_unref(c);
        return rc;
    }
    if (c->finished && !c->text_started) { /* an empty answer: still a well-formed stream */
        pthread_mutex_lock(&c->mu);
        put_end(c);
        pthread_mutex_unlock(&c->mu);
    }
    return respond_callback(r, 200, api == API_OPENAI ? "text/event-stream" : "application/x-ndjson", reader, c, reader_done);
}
