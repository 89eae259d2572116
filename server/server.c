/* server.c — the HTTP side: libmicrohttpd daemon, routing, authentication, request bodies, responses
 * (whole JSON, or streamed from a job), client-disconnect detection, logging and shutdown.
 *
 * libmicrohttpd runs one thread per connection, so a handler may block while its job runs. Every request
 * gets its answer (or error) decided as early as possible: authentication, route, method and a declared
 * Content-Length over the limit are checked on the headers, before any body is read. A client that goes
 * away is noticed by peeking at its socket while waiting (a closed peer reads as EOF), and by libmicrohttpd
 * failing to write a stream; either cancels the job. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../router/router.h"
#include "server.h"

struct server {
    const server_config *cfg;
    srv_model **models;
    int n_models;
    struct MHD_Daemon *daemon;
    atomic_int in_flight; /* requests begun and not completed */
};

typedef struct {
    const char *path;
    const char *method;
    int (*fn)(request *r);
    bool prefix; /* path is a prefix: "/v1/models/" + id */
} route;

struct request {
    server *srv;
    struct MHD_Connection *conn;
    api_kind api;
    const route *route;
    char method[16];
    char path[200];
    strbuf body;
    size_t received;
    bool too_big;
    json_t *json;
    int status;      /* the status answered; 0 until then */
    bool client_gone;
    double t0;
    char *hdr_name[4], *hdr_value[4]; /* req_add_header */
    int n_hdr;
};

json_t *req_body(request *r) { return r->json; }
server *req_server(request *r) { return r->srv; }
struct router *server_router(server *s) { return s->cfg->router; }

void req_add_header(request *r, const char *name, const char *value) {
    if (r->n_hdr == 4) return;
    r->hdr_name[r->n_hdr] = strdup(name);
    r->hdr_value[r->n_hdr] = strdup(value);
    if (r->hdr_name[r->n_hdr] && r->hdr_value[r->n_hdr]) r->n_hdr++;
    else { free(r->hdr_name[r->n_hdr]); free(r->hdr_value[r->n_hdr]); }
}

srv_model *server_model(server *s, int i) { return i >= 0 && i < s->n_models ? s->models[i] : NULL; }
int server_n_models(server *s) { return s->n_models; }

srv_model *server_find_model(server *s, const char *name) {
    if (!name) return NULL;
    size_t n = strlen(name);
    /* Ollama clients add a tag; ":latest" names the one version we have */
    if (n > 7 && !strcmp(name + n - 7, ":latest")) n -= 7;
    for (int i = 0; i < s->n_models; i++) {
        const char *mn = sched_name(s->models[i]);
        if (strlen(mn) == n && !strncmp(mn, name, n)) return s->models[i];
    }
    for (int i = 0; i < s->n_models; i++) { /* general.name */
        const char *gn = sched_info(s->models[i])->name;
        if (gn[0] && strlen(gn) == n && !strncmp(gn, name, n)) return s->models[i];
    }
    return NULL;
}

/* -------------------------------------------------------------------------------------------- responses */

static int queue(request *r, int status, struct MHD_Response *resp, const char *content_type) {
    if (!resp) return MHD_NO;
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405 && r->route) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->route->method);
    for (int i = 0; i < r->n_hdr; i++) MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES) r->status = status;
    return rc;
}

static int respond_bytes(request *r, int status, const char *content_type, char *data, size_t len) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) free(data);
    return queue(r, status, resp, content_type);
}

int respond_json(request *r, int status, json_t *obj) {
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(obj);
    if (!s) return respond_text(r, 500, "text/plain", "internal error: cannot encode the response");
    return respond_bytes(r, status, "application/json", s, strlen(s));
}

int respond_text(request *r, int status, const char *content_type, const char *text) {
    char *s = strdup(text);
    if (!s) return MHD_NO;
    return respond_bytes(r, status, content_type, s, strlen(s));
}

static const char *openai_error_type(int status) {
    switch (status) {
    case 401: return "invalid_request_error"; /* what OpenAI answers for a bad key (code invalid_api_key) */
    case 429: return "rate_limit_exceeded";
    case 501: return "not_supported_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

/* The error object of an API (shared with streams, which send it as an event). */
static json_t *error_json(api_kind api, int status, const char *param, const char *code, const char *msg) {
    if (api == API_OLLAMA) return json_pack("{s:s}", "error", msg);
    return json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message", msg, "type", openai_error_type(status), "param",
                     param, "code", code);
}

int respond_error(request *r, int status, const char *param, const char *code, const char *fmt, ...) {
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    char *msg = utf8_sanitize(raw, strlen(raw), NULL);
    json_t *e = error_json(r->api, status, param, code, msg);
    free(msg);
    return respond_json(r, status, e);
}

/* Has the client closed its end? (A closed peer reads as EOF; pipelined bytes are left in place.) */
static bool peer_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    char b;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool req_client_gone(request *r) {
    if (!r->client_gone && peer_gone(r->conn)) r->client_gone = true;
    return r->client_gone;
}

enum { WAIT_SLICE_MS = 100 }; /* how often a waiting handler looks at its client */
#define DRAIN_LIMIT ((size_t)64 << 20) /* an over-long body is read (and dropped) up to this, then cut off */

bool wait_job(request *r, job *j, job_output *out) {
    strbuf text = {0};
    job_logprob *lps = NULL;
    int n_lps = 0;
    sb_put(&text, "", 0);
    double next_check = mono_now() + WAIT_SLICE_MS / 1000.0;
    for (;;) {
        job_output o;
        bool fresh = job_take(j, WAIT_SLICE_MS / 1000.0, &o);
        bool check = mono_now() >= next_check; /* also while output flows: nobody reads it yet */
        if (check) next_check = mono_now() + WAIT_SLICE_MS / 1000.0;
        if (fresh) {
            sb_put(&text, o.text, o.text_len);
            if (o.n_logprobs) {
                job_logprob *nl = realloc(lps, sizeof *nl * (size_t)(n_lps + o.n_logprobs));
                if (nl) {
                    memcpy(nl + n_lps, o.logprobs, sizeof *nl * (size_t)o.n_logprobs);
                    lps = nl;
                    n_lps += o.n_logprobs;
                }
            }
            if (o.done) {
                free(o.text);
                free(o.logprobs);
                *out = o;
                out->text = text.s;
                out->text_len = text.len;
                out->logprobs = lps;
                out->n_logprobs = n_lps;
                return true;
            }
        }
        if (check && peer_gone(r->conn)) {
            job_cancel(j);
            job_output_free(&o);
            sb_free(&text);
            free(lps);
            r->client_gone = true;
            return false;
        }
        job_output_free(&o);
    }
}

typedef struct {
    struct MHD_Connection *conn;
    job *job;
    stream_fmt fmt;
    strbuf out;
    size_t pos;
    bool finished;
} stream_ctx;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_ctx *sc = cls;
    while (sc->pos == sc->out.len) {
        if (sc->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        sc->out.len = sc->pos = 0;
        job_output o;
        if (job_take(sc->job, WAIT_SLICE_MS / 1000.0, &o)) {
            sc->fmt.format(sc->fmt.state, &o, &sc->out);
            sc->finished = o.done;
        } else if (peer_gone(sc->conn)) {
            job_output_free(&o);
            job_cancel(sc->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        job_output_free(&o);
    }
    size_t n = sc->out.len - sc->pos < max ? sc->out.len - sc->pos : max;
    memcpy(buf, sc->out.s + sc->pos, n);
    sc->pos += n;
    return (ssize_t)n;
}

/* The response is gone (finished, or the client went away): a job still running is cancelled. */
static void stream_free(void *cls) {
    stream_ctx *sc = cls;
    job_cancel(sc->job);
    job_release(sc->job);
    if (sc->fmt.free_state) sc->fmt.free_state(sc->fmt.state);
    sb_free(&sc->out);
    free(sc);
}

int respond_stream(request *r, const char *content_type, job *j, stream_fmt fmt) {
    stream_ctx *sc = calloc(1, sizeof *sc);
    if (!sc) {
        job_cancel(j);
        job_release(j);
        if (fmt.free_state) fmt.free_state(fmt.state);
        return MHD_NO;
    }
    sc->conn = r->conn;
    sc->job = j;
    sc->fmt = fmt;
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, sc, stream_free);
    if (!resp) { stream_free(sc); return MHD_NO; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return queue(r, 200, resp, content_type);
}

int respond_callback(request *r, int status, const char *content_type, ssize_t (*reader)(void *, uint64_t, char *, size_t),
                     void *cls, void (*free_cls)(void *)) {
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader, cls, free_cls);
    if (!resp) { free_cls(cls); return MHD_NO; }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return queue(r, status, resp, content_type);
}

/* ------------------------------------------------------------------------------------------- routing */

static int h_root(request *r) { return respond_text(r, 200, "text/plain; charset=utf-8", "hearth is running"); }

static int h_metrics(request *r) {
    char *t = metrics_render(r->srv);
    if (!t) return respond_error(r, 500, NULL, NULL, "out of memory");
    return respond_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", t, strlen(t));
}

static int h_model(request *r) { return openai_model(r, r->path + strlen("/v1/models/")); }

static int h_unsupported(request *r) {
    return respond_error(r, 501, NULL, "not_supported", "%s is not supported by hearth", r->path);
}

static const route routes[] = {
    {"/", "GET", h_root, false},
    {"/metrics", "GET", h_metrics, false},
    {"/v1/models", "GET", openai_models, false},
    {"/v1/models/", "GET", h_model, true},
    {"/v1/chat/completions", "POST", openai_chat, false},
    {"/v1/completions", "POST", openai_completions, false},
    {"/v1/embeddings", "POST", h_unsupported, false},
    {"/api/chat", "POST", ollama_chat, false},
    {"/api/generate", "POST", ollama_generate, false},
    {"/api/tags", "GET", ollama_tags, false},
    {"/api/show", "POST", ollama_show, false},
    {"/api/ps", "GET", ollama_ps, false},
    {"/api/version", "GET", ollama_version, false},
    {"/api/embed", "POST", h_unsupported, false},
    {"/api/embeddings", "POST", h_unsupported, false},
    {"/api/pull", "POST", h_unsupported, false},
    {"/api/push", "POST", h_unsupported, false},
    {"/api/create", "POST", h_unsupported, false},
    {"/api/copy", "POST", h_unsupported, false},
    {"/api/delete", "DELETE", h_unsupported, false},
};

/* Clients configured without the /v1 of the base URL ask for these. */
static const char *const v1_aliases[] = {"/models", "/chat/completions", "/completions"};

static const route *find_route(const char *path, const char *method, bool *path_known) {
    char buf[64];
    for (size_t i = 0; i < sizeof v1_aliases / sizeof v1_aliases[0]; i++)
        if (!strcmp(path, v1_aliases[i])) {
            snprintf(buf, sizeof buf, "/v1%s", v1_aliases[i]);
            path = buf;
        }
    *path_known = false;
    const route *hit = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const route *rt = &routes[i];
        bool match = rt->prefix ? !strncmp(path, rt->path, strlen(rt->path)) && path[strlen(rt->path)]
                                : !strcmp(path, rt->path);
        if (!match) continue;
        *path_known = true;
        hit = rt;
        if (!strcmp(method, rt->method) || (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"))) return rt;
    }
    return hit; /* the path's route, for the Allow header of a 405 */
}

static bool authorized(request *r) {
    const char *key = r->srv->cfg->api_key;
    if (!key) return true;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return false;
    h += 7;
    while (*h == ' ') h++;
    size_t hl = strlen(h), kl = strlen(key);
    unsigned char diff = hl != kl;
    for (size_t i = 0; i < hl; i++) diff |= (unsigned char)(h[i] ^ key[i % kl]); /* constant time */
    return diff == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    server *s = cls;
    request *r = *con_cls;
    if (!r) { /* headers are in: decide everything that does not need the body */
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&s->in_flight, 1);
        r->srv = s;
        r->conn = conn;
        r->t0 = mono_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        r->api = !strncmp(url, "/api/", 5) ? API_OLLAMA : API_OPENAI;
        bool known;
        r->route = find_route(r->path, r->method, &known);
        if (!authorized(r))
            return respond_error(r, 401, NULL, "invalid_api_key", "missing or wrong API key: send the header 'Authorization: Bearer KEY'");
        if (!known) return respond_error(r, 404, NULL, "not_found", "no such endpoint: %s %s", r->method, r->path);
        if (strcmp(r->method, r->route->method) && !(!strcmp(r->method, "HEAD") && !strcmp(r->route->method, "GET")))
            return respond_error(r, 405, NULL, "method_not_allowed", "%s %s: use %s", r->method, r->path, r->route->method);
        /* A body over the limit: answered now when the client waits for "100 Continue" or the body is huge
         * (the connection is then closed); otherwise read and dropped, so the client is not cut off while
         * sending and reliably sees the 413. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
        unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
        if (declared > SERVER_MAX_BODY && (declared > DRAIN_LIMIT || (expect && !strcasecmp(expect, "100-continue"))))
            return respond_error(r, 413, NULL, "request_too_large", "the request body has %llu bytes; the limit is %zu",
                                 declared, SERVER_MAX_BODY);
        return MHD_YES;
    }
    if (*upload_data_size) { /* a piece of the body */
        r->received += *upload_data_size;
        if (!r->too_big && r->received > SERVER_MAX_BODY) {
            r->too_big = true;
            sb_free(&r->body);
        }
        if (r->received > DRAIN_LIMIT) return MHD_NO; /* not worth reading on: close */
        if (!r->too_big) sb_put(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return respond_error(r, 413, NULL, "request_too_large", "the request body is larger than the limit of %zu bytes",
                             SERVER_MAX_BODY);
    if (strcmp(r->route->method, "POST")) {
        /* GET and the like: a body, if any, means nothing */
    } else if (r->body.len) {
        json_error_t err;
        r->json = json_loadb(r->body.s, r->body.len, 0, &err);
        if (!r->json)
            return respond_error(r, 400, NULL, "invalid_json", "malformed JSON body: %s (line %d, column %d)", err.text,
                                 err.line, err.column);
        if (!json_is_object(r->json)) return respond_error(r, 400, NULL, "invalid_json", "the body must be a JSON object");
    } else {
        return respond_error(r, 400, NULL, "invalid_json", "the request needs a JSON body");
    }
    r->route->fn(r);
    /* answered, or not (out of memory, client gone): then the connection is closed */
    return r->status && !r->client_gone ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)conn;
    server *s = cls;
    request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    /* 499: the client closed the connection before the answer was complete (nginx's convention) */
    int status = r->status;
    if (r->client_gone || !status || (status < 300 && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)) status = 499;
    metrics_request(r->route ? r->route->path : "other", status);
    if (!s->cfg->quiet)
        fprintf(stderr, "hearth serve: %s %s %d %.3fs\n", r->method, r->path, status, mono_now() - r->t0);
    sb_free(&r->body);
    json_decref(r->json);
    for (int i = 0; i < r->n_hdr; i++) { free(r->hdr_name[i]); free(r->hdr_value[i]); }
    free(r);
    atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    server *s = cls;
    if (s->cfg->quiet) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* what a handler that found its client gone causes; that request is logged with status 499 */
    if (strstr(msg, "Application reported internal error")) return;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    fprintf(stderr, "hearth serve: http: %s\n", msg);
}

/* ---------------------------------------------------------------------------------------------- run */

int server_run(const server_config *cfg, const server_model_spec *specs, int n_specs) {
    server s = {.cfg = cfg};
    int rc = 1;
    MHD_socket listener = MHD_INVALID_SOCKET;
    struct addrinfo *ai = NULL;
    /* signals are taken by sigwait in this thread; every thread started from here inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    s.models = calloc((size_t)n_specs, sizeof *s.models);
    if (!s.models) goto done;
    for (int i = 0; i < n_specs; i++) {
        /* metadata strings are cached on first use: ask now, before threads share the model */
        hearth_model_meta_str(specs[i].model, "tokenizer.chat_template");
        s.models[i] = sched_start(specs[i].model, specs[i].name, specs[i].path, specs[i].chat_template, &cfg->session, cfg->n_parallel,
                                  cfg->max_queue);
        if (!s.models[i]) {
            fprintf(stderr, "hearth: error: %s: %s\n", specs[i].name, hearth_last_error());
            goto done;
        }
        s.n_models++;
    }
    /* the router compares prompts against what a local slot holds */
    if (cfg->router) router_set_local_context(cfg->router, sched_n_ctx(s.models[0]));

    char host[256];
    snprintf(host, sizeof host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "hearth: error: cannot resolve --host %s: %s\n", host, gai_strerror(gai));
        goto done;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s.daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, &s,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s,
                                MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                                MHD_OPTION_END);
    if (!s.daemon) {
        fprintf(stderr, "hearth: error: cannot listen on %s port %d: %s\n", host, cfg->port,
                errno ? strerror(errno) : "libmicrohttpd could not start");
        goto done;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
    int bound = di ? di->port : cfg->port;
    bool v6 = ai->ai_family == AF_INET6;
    fprintf(stderr, "hearth serve: %d model%s (", s.n_models, s.n_models == 1 ? "" : "s");
    for (int i = 0; i < s.n_models; i++) fprintf(stderr, "%s%s", i ? ", " : "", sched_name(s.models[i]));
    fprintf(stderr, "), %d slot%s each, context %d%s\n", cfg->n_parallel, cfg->n_parallel == 1 ? "" : "s",
            sched_n_ctx(s.models[0]), cfg->api_key ? ", API key required" : "");
    fprintf(stderr, "hearth serve: listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "", bound);
    fflush(stderr);

    int sig = 0;
    sigwait(&sigs, &sig);
    if (!cfg->quiet) fprintf(stderr, "hearth serve: %s, shutting down\n", sig == SIGINT ? "interrupted" : "terminated");
    rc = 0;
done:
    /* No new connections; end the jobs (waiting handlers answer 503, streams send an error event); give
     * those answers a moment to go out; then close every connection. */
    listener = s.daemon ? MHD_quiesce_daemon(s.daemon) : MHD_INVALID_SOCKET;
    for (int i = 0; i < s.n_models; i++) sched_stop(s.models[i]);
    for (int waited = 0; s.daemon && atomic_load(&s.in_flight) > 0 && waited < 3000; waited += 10) usleep(10000);
    if (s.daemon) MHD_stop_daemon(s.daemon);
    if (listener != MHD_INVALID_SOCKET) close(listener);
    for (int i = 0; i < s.n_models; i++) sched_free(s.models[i]);
    free(s.models);
    if (ai) freeaddrinfo(ai);
    pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
    return rc;
}
