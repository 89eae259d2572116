/* router.c — see router.h. The request is parsed once (jansson); every piece of message text is reached
 * through a list of references to its JSON strings, so hints are stripped and findings redacted in place
 * on a copy that goes upstream while the original stays for the local model. */
#include "router.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "breaker.h"
#include "policy.h"
#include "upstream.h"

struct router {
    route_config *cfg;
    breaker *br;           /* one per upstream */
    audit_log *audit;
    atomic_long next_id;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

router *router_new(route_config *cfg, char *err, size_t errlen) {
    pthread_once(&curl_once, curl_init);
    router *r = calloc(1, sizeof *r);
    if (!r || !(r->br = calloc((size_t)(cfg->n_up ? cfg->n_up : 1), sizeof *r->br))) {
        free(r);
        route_config_free(cfg);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = cfg;
    for (int i = 0; i < cfg->n_up; i++) breaker_init(&r->br[i], cfg->breaker_failures, cfg->breaker_cooldown_s);
    char path[4096];
    if (cfg->audit_path) snprintf(path, sizeof path, "%s", cfg->audit_path);
    else audit_default_path(path, sizeof path);
    if (!router_set_audit(r, path, err, errlen)) { router_free(r); return NULL; }
    return r;
}

void router_free(router *r) {
    if (!r) return;
    for (int i = 0; i < r->cfg->n_up; i++) breaker_destroy(&r->br[i]);
    free(r->br);
    audit_close(r->audit);
    route_config_free(r->cfg);
    free(r);
}

const route_config *router_config(const router *r) { return r->cfg; }

void router_set_local_context(router *r, int n_ctx) {
    if (r->cfg->local_context <= 0) r->cfg->local_context = n_ctx;
}

bool router_set_audit(router *r, const char *path, char *err, size_t errlen) {
    audit_close(r->audit);
    r->audit = NULL;
    if (!path || !*path || !strcmp(path, "off") || !strcmp(path, "none")) return true;
    char full[4096];
    const char *home = getenv("HOME");
    if (path[0] == '~' && path[1] == '/' && home) snprintf(full, sizeof full, "%s%s", home, path + 1);
    else snprintf(full, sizeof full, "%s", path);
    r->audit = audit_open(full, err, errlen);
    return r->audit != NULL;
}

/* ------------------------------------------------------------ message text */

typedef struct {
    json_t *str;     /* a JSON string holding message text */
    bool user;       /* from a user message (hints are read there) */
} text_ref;

typedef struct {
    text_ref *v;
    size_t n, cap;
    json_t *last_user; /* the last user message's text (first text part) */
} text_refs;

static bool ref_add(text_refs *t, json_t *s, bool user) {
    if (!json_is_string(s)) return true;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        text_ref *v = realloc(t->v, cap * sizeof *v);
        if (!v) return false;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = (text_ref){s, user};
    return true;
}

/* Every text of the conversation: string contents, text parts of array contents, tool-call arguments. */
static bool collect(json_t *messages, text_refs *t) {
    size_t i;
    json_t *m;
    t->last_user = NULL;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        bool user = role && !strcmp(role, "user");
        json_t *c = json_object_get(m, "content");
        if (json_is_string(c)) {
            if (!ref_add(t, c, user)) return false;
            if (user) t->last_user = c;
        } else if (json_is_array(c)) {
            size_t k;
            json_t *part;
            bool first = true;
            json_array_foreach(c, k, part) {
                json_t *txt = json_object_get(part, "text");
                if (!ref_add(t, txt, user)) return false;
                if (user && first && json_is_string(txt)) { t->last_user = txt; first = false; }
            }
        }
        size_t k;
        json_t *tc;
        json_array_foreach(json_object_get(m, "tool_calls"), k, tc)
            if (!ref_add(t, json_object_get(json_object_get(tc, "function"), "arguments"), false)) return false;
    }
    return true;
}

static bool name_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Finds hearth:local / hearth:cloud[:NAME] markers in s, removes them (and one space), reports the first.
 * Returns the new string (malloc'ed) or NULL when there is no marker. */
static char *strip_markers(const char *s, route_hint *hint, char *name, size_t name_cap) {
    if (!strstr(s, "hearth:")) return NULL;
    size_t n = strlen(s), o = 0;
    char *out = malloc(n + 1);
    if (!out) return NULL;
    bool found = false;
    for (size_t i = 0; i < n;) {
        route_hint h = HINT_NONE;
        size_t k = 0;
        bool boundary = i == 0 || !name_char((unsigned char)s[i - 1]);
        if (boundary && !strncmp(s + i, "hearth:local", 12) && !name_char((unsigned char)s[i + 12])) { h = HINT_LOCAL; k = 12; }
        else if (boundary && !strncmp(s + i, "hearth:cloud", 12) && (!name_char((unsigned char)s[i + 12]) || s[i + 12] == ':')) {
            h = HINT_CLOUD;
            k = 12;
            if (s[i + 12] == ':' && name_char((unsigned char)s[i + 13])) {
                size_t a = i + 13, b = a;
                while (b < n && name_char((unsigned char)s[b])) b++;
                if (!found) snprintf(name, name_cap, "%.*s", (int)(b - a), s + a);
                k = b - i;
            }
        }
        if (h == HINT_NONE) { out[o++] = s[i++]; continue; }
        if (!found) { *hint = h; found = true; }
        /* brackets around the marker go with it: "[hearth:local]" */
        if (o && (out[o - 1] == '[' || out[o - 1] == '(') && (s[i + k] == ']' || s[i + k] == ')')) { o--; k++; }
        i += k;
        if (s[i] == ' ') i++;
        else if (o && out[o - 1] == ' ') o--;
    }
    out[o] = 0;
    return out;
}

/* ------------------------------------------------------------ request handling */

typedef struct {
    const router_io *io;
    guard_restorer *rs;
    char *sent;          /* the answer so far (restored), for a local continuation */
    size_t sent_len, sent_cap;
    bool stopped;        /* on_text returned false */
    bool started;        /* some answer text went to the client */
    size_t local_bytes;
} req_state;

static bool deliver(void *user, const char *t, size_t n) {
    req_state *st = user;
    if (!n) return true;
    if (st->sent_len + n + 1 > st->sent_cap && st->sent_len + n < (8u << 20)) {
        size_t cap = (st->sent_len + n + 1) * 2;
        char *nb = realloc(st->sent, cap);
        if (nb) { st->sent = nb; st->sent_cap = cap; }
    }
    if (st->sent_len + n + 1 <= st->sent_cap) {
        memcpy(st->sent + st->sent_len, t, n);
        st->sent_len += n;
        st->sent[st->sent_len] = 0;
    }
    st->started = true;
    if (!st->io->on_text(st->io->user, t, n)) { st->stopped = true; return false; }
    return true;
}

static bool from_upstream(void *user, const char *t, size_t n) {
    req_state *st = user;
    return guard_restorer_feed(st->rs, t, n, deliver, st);
}

static bool from_local(void *user, const char *t, size_t n) {
    req_state *st = user;
    st->local_bytes += n;
    if (!n) return true;
    st->started = true;
    if (!st->io->on_text(st->io->user, t, n)) { st->stopped = true; return false; }
    return true;
}

static void iso_time(char *buf, size_t cap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, cap - k, ".%03ldZ", ts.tv_nsec / 1000000);
}

static json_t *findings_json(const guard_counts *c) {
    json_t *o = json_object();
    for (int k = 0; k < GUARD_N_KINDS; k++)
        if (c->n[k]) json_object_set_new(o, guard_kind_name(k), json_integer(c->n[k]));
    return o;
}

static void finish(router *r, router_result *res, long id, double t0, const char *status, const route_upstream *up) {
    json_t *h = json_object();
    json_object_set_new(h, "route", json_string(res->route));
    json_object_set_new(h, "rule", json_string(res->rule));
    json_object_set_new(h, "reason", json_string(res->reason));
    if (res->failover[0]) json_object_set_new(h, "failover", json_string(res->failover));
    json_t *f = findings_json(&res->findings);
    if (json_object_size(f)) {
        json_object_set(h, "sensitive", f);
        json_object_set_new(h, "action", json_string(res->action));
    }
    res->hearth_json = json_dumps(h, JSON_COMPACT);
    if (r->audit) {
        char ts[40];
        iso_time(ts, sizeof ts);
        json_t *a = json_pack("{s:s, s:I, s:I}", "ts", ts, "pid", (json_int_t)getpid(), "seq", (json_int_t)id);
        json_object_update(a, h);
        json_object_set(a, "sensitive", f);
        json_object_set_new(a, "action", json_string(res->action));
        json_object_set_new(a, "prompt_tokens", json_integer(res->prompt_tokens > 0 ? res->prompt_tokens : 0));
        json_object_set_new(a, "completion_tokens", json_integer(res->completion_tokens > 0 ? res->completion_tokens : 0));
        json_object_set_new(a, "estimated", json_boolean(res->tokens_estimated));
        json_object_set_new(a, "status", json_string(status));
        if (res->error[0]) json_object_set_new(a, "error", json_string(res->error));
        if (up) json_object_set_new(a, "price", json_pack("{s:f, s:f}", "input", up->price_in, "output", up->price_out));
        json_object_set_new(a, "ms", json_integer((json_int_t)((breaker_now() - t0) * 1000)));
        char *line = json_dumps(a, JSON_COMPACT);
        if (line) audit_write(r->audit, line);
        free(line);
        json_decref(a);
    }
    json_decref(f);
    json_decref(h);
}

static int fail_req(router *r, router_result *res, long id, double t0, int http, const char *status, const char *msg) {
    res->http_status = http;
    if (http != 500) snprintf(res->route, sizeof res->route, "%s", http == 403 ? "blocked" : "none");
    snprintf(res->error, sizeof res->error, "%s", msg);
    finish(r, res, id, t0, status, NULL);
    return -1;
}

static void counts_text(const guard_counts *c, char *buf, size_t cap) {
    buf[0] = 0;
    for (int k = 0; k < GUARD_N_KINDS; k++)
        if (c->n[k]) {
            size_t l = strlen(buf);
            snprintf(buf + l, cap - l, "%s%s x%u", l ? ", " : "", guard_kind_name(k), c->n[k]);
        }
}

static int run_local(router *r, const router_io *io, req_state *st, const char *local_json, const char *prefix,
                     router_result *res, long id, double t0, long est_prompt) {
    router_local_result lr = {.prompt_tokens = -1, .completion_tokens = -1};
    st->local_bytes = 0;
    int rc = io->run_local ? io->run_local(io->user, local_json, prefix, from_local, st, &lr) : -1;
    snprintf(res->route, sizeof res->route, "local");
    if (lr.finish_reason[0]) snprintf(res->finish_reason, sizeof res->finish_reason, "%s", lr.finish_reason);
    res->prompt_tokens = lr.prompt_tokens >= 0 ? lr.prompt_tokens : est_prompt;
    long gen = lr.completion_tokens >= 0 ? lr.completion_tokens : route_estimate_tokens(st->local_bytes);
    res->completion_tokens = (prefix ? route_estimate_tokens(strlen(prefix)) : 0) + gen;
    res->tokens_estimated = lr.prompt_tokens < 0 || lr.completion_tokens < 0 || prefix;
    if (rc < 0 && !st->stopped) {
        char msg[200];
        snprintf(msg, sizeof msg, "the local model could not answer (status %d)%s", rc,
                 res->failover[0] ? " after the upstream failed" : "");
        return fail_req(r, res, id, t0, 500, "error", msg);
    }
    finish(r, res, id, t0, st->stopped ? "aborted" : "ok", NULL);
    return 0;
}

int router_handle_chat(router *r, const char *request_json, size_t len, const router_io *io, router_result *res) {
    memset(res, 0, sizeof *res);
    res->http_status = 200;
    snprintf(res->action, sizeof res->action, "none");
    snprintf(res->route, sizeof res->route, "local");
    double t0 = breaker_now();
    long id = atomic_fetch_add(&r->next_id, 1) + 1;
    const route_config *cfg = r->cfg;
    json_error_t je;
    json_t *req = json_loadb(request_json, len, 0, &je);
    json_t *messages = json_object_get(req, "messages");
    if (!json_is_object(req) || !json_is_array(messages) || !json_array_size(messages)) {
        bool obj = json_is_object(req);
        json_decref(req);
        char msg[256];
        snprintf(msg, sizeof msg, "the request must be a JSON object with a non-empty \"messages\" array%s%.160s",
                 obj ? "" : ": ", obj ? "" : je.text);
        snprintf(res->rule, sizeof res->rule, "invalid");
        return fail_req(r, res, id, t0, 400, "error", msg);
    }
    text_refs refs = {0};
    req_state st = {.io = io};
    char *local_json = NULL, *cloud_body = NULL;
    guard_map *map = NULL;
    int ret = -1;
    if (!collect(messages, &refs)) { ret = fail_req(r, res, id, t0, 500, "error", "out of memory"); goto out; }

    /* 1. hints: model name, then markers in user messages (stripped in any case) */
    route_request rq = {.hint = HINT_NONE, .hint_upstream = -1, .max_tokens = -1};
    char hint_name[64] = "";
    const char *model = json_string_value(json_object_get(req, "model"));
    if (model && !strncmp(model, "hearth:", 7)) {
        if (!strcmp(model, "hearth:local")) rq.hint = HINT_LOCAL;
        else if (!strcmp(model, "hearth:cloud")) rq.hint = HINT_CLOUD;
        else if (!strncmp(model, "hearth:cloud:", 13)) { rq.hint = HINT_CLOUD; snprintf(hint_name, sizeof hint_name, "%s", model + 13); }
        if (rq.hint != HINT_NONE) { rq.hint_source = "model"; json_object_del(req, "model"); model = NULL; }
    }
    for (size_t i = 0; i < refs.n; i++) {
        if (!refs.v[i].user) continue;
        route_hint h = HINT_NONE;
        char nm[64] = "";
        char *stripped = strip_markers(json_string_value(refs.v[i].str), &h, nm, sizeof nm);
        if (!stripped) continue;
        if (rq.hint == HINT_NONE && h != HINT_NONE) { rq.hint = h; rq.hint_source = "marker"; snprintf(hint_name, sizeof hint_name, "%s", nm); }
        json_string_set(refs.v[i].str, stripped);
        free(stripped);
    }
    if (hint_name[0]) {
        rq.hint_upstream = route_config_upstream(cfg, hint_name);
        if (rq.hint_upstream < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "hearth:cloud:%s names no upstream in the route file", hint_name);
            snprintf(res->rule, sizeof res->rule, "hint:%s", rq.hint_source);
            ret = fail_req(r, res, id, t0, 400, "error", msg);
            goto out;
        }
    }
    json_t *mt = json_object_get(req, "max_completion_tokens");
    if (!json_is_integer(mt)) mt = json_object_get(req, "max_tokens");
    if (json_is_integer(mt)) rq.max_tokens = (long)json_integer_value(mt);
    rq.model = model ? model : "";

    /* 2. features and the guard */
    size_t total = 0;
    guard_list found = {0};
    for (size_t i = 0; i < refs.n; i++) {
        const char *s = json_string_value(refs.v[i].str);
        size_t l = json_string_length(refs.v[i].str);
        total += l + 16;
        size_t before = found.n;
        if (guard_scan(&cfg->guard, s, l, &found) < 0) { guard_list_free(&found); ret = fail_req(r, res, id, t0, 500, "error", "out of memory"); goto out; }
        for (size_t k = before; k < found.n; k++) res->findings.n[found.v[k].kind]++;
    }
    rq.sensitive = found.n > 0;
    guard_list_free(&found);
    rq.prompt_tokens = route_estimate_tokens(total);
    if (refs.last_user) {
        rq.task = json_string_value(refs.last_user);
        rq.task_len = json_string_length(refs.last_user);
        rq.code_lines = route_code_lines(rq.task, rq.task_len);
    }

    /* 3. decide */
    route_decision d;
    route_decide(cfg, &rq, &d);
    snprintf(res->rule, sizeof res->rule, "%s", d.rule);
    snprintf(res->reason, sizeof res->reason, "%s", d.reason);
    local_json = json_dumps(req, JSON_COMPACT);
    if (!local_json) { ret = fail_req(r, res, id, t0, 500, "error", "out of memory"); goto out; }
    int up = -1;
    if (d.target.kind != TARGET_LOCAL && rq.sensitive) {
        char what[200];
        counts_text(&res->findings, what, sizeof what);
        snprintf(res->action, sizeof res->action, "%s", sensitive_action_name(d.on_sensitive));
        if (d.on_sensitive == SENSITIVE_BLOCK) {
            char msg[256];
            snprintf(msg, sizeof msg, "blocked by the privacy guard: the request contains %s and this route sends it to "
                                      "the cloud (on_sensitive: block)", what);
            ret = fail_req(r, res, id, t0, 403, "blocked", msg);
            goto out;
        }
        if (d.on_sensitive == SENSITIVE_LOCAL) {
            size_t l = strlen(res->reason);
            snprintf(res->reason + l, sizeof res->reason - l, "; kept local: %s", what);
            d.target = (route_target){TARGET_LOCAL, -1};
        }
    }
    if (d.target.kind == TARGET_UPSTREAM) up = d.target.upstream;
    else if (d.target.kind == TARGET_CLOUD) up = 0;
    const route_upstream *u = NULL;
    if (up >= 0) {
        /* a generic "cloud" takes the first upstream whose breaker lets calls through */
        double now = breaker_now();
        int pick = -1;
        if (d.target.kind == TARGET_UPSTREAM) pick = breaker_allow(&r->br[up], now) ? up : -1;
        else
            for (int i = 0; i < cfg->n_up && pick < 0; i++)
                if (breaker_allow(&r->br[i], now)) pick = i;
        if (pick < 0) {
            snprintf(res->failover, sizeof res->failover, "cloud:%s: circuit breaker open", cfg->up[up].name);
            up = -1;
        } else {
            up = pick;
            u = &cfg->up[up];
        }
    }

    /* 4. local */
    if (!u) {
        if (io->on_route) io->on_route(io->user, "local", res->rule);
        ret = run_local(r, io, &st, local_json, NULL, res, id, t0, rq.prompt_tokens);
        goto out;
    }

    /* 5. cloud: the copy that leaves, redacted when the action says so */
    map = guard_map_new();
    json_t *creq = json_deep_copy(req);
    if (!map || !creq) { json_decref(creq); ret = fail_req(r, res, id, t0, 500, "error", "out of memory"); goto out; }
    if (rq.sensitive && d.on_sensitive == SENSITIVE_REDACT) {
        text_refs crefs = {0};
        bool ok = collect(json_object_get(creq, "messages"), &crefs);
        for (size_t i = 0; ok && i < crefs.n; i++) {
            char *red = guard_redact(map, &cfg->guard, json_string_value(crefs.v[i].str), json_string_length(crefs.v[i].str), NULL, NULL);
            ok = red && json_string_set(crefs.v[i].str, red) == 0;
            free(red);
        }
        free(crefs.v);
        if (!ok) { json_decref(creq); ret = fail_req(r, res, id, t0, 500, "error", "out of memory while redacting"); goto out; }
    }
    json_object_set_new(creq, "model", json_string(u->model));
    json_object_set_new(creq, "stream", json_true());
    json_object_del(creq, "user"); /* an end-user identifier does not need to leave either */
    if (u->stream_usage) json_object_set_new(creq, "stream_options", json_pack("{s:b}", "include_usage", 1));
    else json_object_del(creq, "stream_options");
    cloud_body = json_dumps(creq, JSON_COMPACT);
    json_decref(creq);
    if (!cloud_body) { ret = fail_req(r, res, id, t0, 500, "error", "out of memory"); goto out; }
    snprintf(res->route, sizeof res->route, "cloud:%s", u->name);
    if (io->on_route) io->on_route(io->user, res->route, res->rule);
    st.rs = guard_restorer_new(map);
    if (!st.rs) { ret = fail_req(r, res, id, t0, 500, "error", "out of memory"); goto out; }
    upstream_result ur;
    upstream_chat(u, cloud_body, from_upstream, &st, &ur);
    if (ur.status == UPSTREAM_OK || ur.status == UPSTREAM_ABORTED) {
        if (ur.status == UPSTREAM_OK) {
            guard_restorer_flush(st.rs, deliver, &st);
            breaker_record(&r->br[up], true, breaker_now());
        } else breaker_record(&r->br[up], true, breaker_now()); /* it was answering: alive */
        snprintf(res->finish_reason, sizeof res->finish_reason, "%.23s", ur.finish_reason[0] ? ur.finish_reason : "stop");
        res->prompt_tokens = ur.prompt_tokens >= 0 ? ur.prompt_tokens : rq.prompt_tokens;
        res->completion_tokens = ur.completion_tokens >= 0 ? ur.completion_tokens : route_estimate_tokens(ur.text_bytes);
        res->tokens_estimated = ur.prompt_tokens < 0 || ur.completion_tokens < 0;
        finish(r, res, id, t0, ur.status == UPSTREAM_OK ? "ok" : "aborted", u);
        ret = 0;
        goto out;
    }
    /* 6. failover: the upstream failed; answer here, continuing whatever it had already sent */
    breaker_record(&r->br[up], false, breaker_now());
    if (!st.stopped) guard_restorer_flush(st.rs, deliver, &st);
    snprintf(res->failover, sizeof res->failover, "cloud:%s: %s: %s", u->name, upstream_status_name(ur.status), ur.error);
    if (st.stopped) { finish(r, res, id, t0, "aborted", u); ret = 0; goto out; }
    if (!st.started && io->on_route) io->on_route(io->user, "local", res->rule);
    ret = run_local(r, io, &st, local_json, st.started ? (st.sent ? st.sent : "") : NULL, res, id, t0, rq.prompt_tokens);
out:
    guard_restorer_free(st.rs);
    guard_map_free(map);
    free(st.sent);
    free(refs.v);
    free(local_json);
    free(cloud_body);
    json_decref(req);
    return ret;
}

void router_result_free(router_result *res) {
    free(res->hearth_json);
    res->hearth_json = NULL;
}
