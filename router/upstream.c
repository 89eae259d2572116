/* upstream.c — see upstream.h. The SSE parser works on whatever byte chunks curl delivers: lines are
 * assembled across chunks, events end at a blank line, and each "data:" payload is one JSON chunk. */
#include "upstream.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "guard.h"

#define MAX_LINE (4u << 20)  /* one SSE line (a JSON chunk) */
#define MAX_BODY (16u << 20) /* a non-streamed body or an error body */

typedef struct {
    upstream_text_fn on_text;
    void *user;
    upstream_result *res;
    long http_code;
    bool is_sse, is_json, done, failed, aborted, idle_expired;
    double idle_s, last_byte; /* our own idle clock: curl's low-speed check averages over seconds */
    char *line;            /* SSE: the current line; JSON/error: the whole body */
    size_t len, cap;
    char *data;            /* SSE: the current event's data lines */
    size_t dlen, dcap;
} call;

static bool grow(char **b, size_t *cap, size_t need, size_t limit) {
    if (need <= *cap) return true;
    if (need > limit) return false;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    char *nb = realloc(*b, nc);
    if (!nb) return false;
    *b = nb;
    *cap = nc;
    return true;
}

/* A one-line error text with secrets and personal data masked. */
static void set_error(upstream_result *res, upstream_status st, const char *fmt, const char *detail) {
    res->status = st;
    char raw[512];
    snprintf(raw, sizeof raw, fmt, detail ? detail : "");
    for (char *p = raw; *p; p++) if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    guard_list l = {0};
    size_t o = 0, pos = 0, n = strlen(raw);
    if (guard_scan(NULL, raw, n, &l) >= 0) {
        for (size_t i = 0; i < l.n && o + 16 < sizeof res->error; i++) {
            size_t keep = l.v[i].start - pos;
            if (o + keep + 16 >= sizeof res->error) keep = sizeof res->error - o - 17;
            memcpy(res->error + o, raw + pos, keep);
            o += keep;
            o += (size_t)snprintf(res->error + o, sizeof res->error - o, "<%s>", guard_kind_label(l.v[i].kind));
            pos = l.v[i].start + l.v[i].len;
        }
    }
    guard_list_free(&l);
    snprintf(res->error + o, sizeof res->error - o, "%s", raw + (pos < n ? pos : n));
}

static const char *error_message(json_t *root) {
    json_t *e = json_object_get(root, "error");
    if (json_is_string(e)) return json_string_value(e);
    const char *m = json_string_value(json_object_get(e, "message"));
    return m ? m : e ? "error object without a message" : NULL;
}

/* One JSON chunk (streamed) or body (not streamed). Returns false to abort the transfer. */
static bool handle_json(call *c, const char *s, size_t n, bool whole) {
    json_error_t je;
    json_t *root = json_loadb(s, n, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        set_error(c->res, UPSTREAM_MALFORMED, "malformed JSON from upstream: %s", je.text);
        c->failed = true;
        return false;
    }
    const char *em = error_message(root);
    if (em) {
        set_error(c->res, UPSTREAM_HTTP_ERROR, "upstream error: %s", em);
        c->failed = true;
        json_decref(root);
        return false;
    }
    json_t *usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        json_t *pt = json_object_get(usage, "prompt_tokens"), *ct = json_object_get(usage, "completion_tokens");
        if (json_is_integer(pt)) c->res->prompt_tokens = (long)json_integer_value(pt);
        if (json_is_integer(ct)) c->res->completion_tokens = (long)json_integer_value(ct);
    }
    json_t *choices = json_object_get(root, "choices");
    json_t *ch0 = json_array_get(choices, 0);
    bool ok = true;
    if (json_is_object(ch0)) {
        json_t *msg = json_object_get(ch0, whole ? "message" : "delta");
        const char *text = json_string_value(json_object_get(msg, "content"));
        if (text && *text) {
            size_t tl = strlen(text);
            c->res->text_bytes += tl;
            if (!c->on_text(c->user, text, tl)) { c->aborted = true; ok = false; }
        }
        const char *fr = json_string_value(json_object_get(ch0, "finish_reason"));
        if (fr) snprintf(c->res->finish_reason, sizeof c->res->finish_reason, "%s", fr);
    } else if (whole || (!json_is_array(choices) && !json_is_object(usage))) {
        set_error(c->res, UPSTREAM_MALFORMED, "upstream chunk has no choices%s", "");
        c->failed = true;
        ok = false;
    }
    json_decref(root);
    return ok;
}

static bool end_event(call *c) {
    if (!c->dlen) return true;
    bool ok = true;
    if (c->dlen == 6 && !memcmp(c->data, "[DONE]", 6)) c->done = true;
    else ok = handle_json(c, c->data, c->dlen, false);
    c->dlen = 0;
    return ok;
}

static bool sse_line(call *c, char *l, size_t n) {
    if (n && l[n - 1] == '\r') n--;
    if (n == 0) return end_event(c);
    if (l[0] == ':') return true; /* comment / keep-alive */
    if (n >= 5 && !memcmp(l, "data:", 5)) {
        size_t a = 5 + (n > 5 && l[5] == ' ');
        if (!grow(&c->data, &c->dcap, c->dlen + (n - a) + 2, MAX_LINE)) {
            set_error(c->res, UPSTREAM_MALFORMED, "SSE event too large%s", "");
            c->failed = true;
            return false;
        }
        if (c->dlen) c->data[c->dlen++] = '\n';
        memcpy(c->data + c->dlen, l + a, n - a);
        c->dlen += n - a;
    }
    return true; /* event:, id:, retry: carry nothing we need */
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Called by curl about once a second even when nothing arrives: enforces the idle timeout. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    call *c = ud;
    if (now_s() - c->last_byte > c->idle_s) { c->idle_expired = true; return 1; }
    return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    call *c = ud;
    size_t n = size * nmemb;
    c->last_byte = now_s();
    if (c->http_code >= 400 || !c->is_sse) { /* keep the whole body: an error or a plain JSON answer */
        size_t want = c->len + n + 1;
        if (want > MAX_BODY) want = MAX_BODY;
        if (c->len + 1 < MAX_BODY && grow(&c->line, &c->cap, want, MAX_BODY)) {
            size_t k = want - 1 - c->len;
            memcpy(c->line + c->len, p, k);
            c->len += k;
            c->line[c->len] = 0;
        }
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (!grow(&c->line, &c->cap, c->len + 2, MAX_LINE)) {
                set_error(c->res, UPSTREAM_MALFORMED, "SSE line too long%s", "");
                c->failed = true;
                return 0;
            }
            c->line[c->len++] = p[i];
            continue;
        }
        bool ok = sse_line(c, c->line, c->len);
        c->len = 0;
        if (!ok) return 0;
        if (c->done) return 0; /* stop at [DONE]: an upstream that keeps the connection open costs nothing */
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
    call *c = ud;
    size_t n = size * nmemb;
    c->last_byte = now_s();
    if (n > 5 && !strncmp(p, "HTTP/", 5)) {
        const char *sp = memchr(p, ' ', n);
        c->http_code = sp ? strtol(sp + 1, NULL, 10) : 0;
        c->is_sse = c->is_json = false;
        c->len = 0;
    } else if (n > 13 && !strncasecmp(p, "content-type:", 13)) {
        char v[128];
        size_t k = n - 13 < sizeof v - 1 ? n - 13 : sizeof v - 1;
        memcpy(v, p + 13, k);
        v[k] = 0;
        c->is_sse = strcasestr(v, "text/event-stream") != NULL;
        c->is_json = strcasestr(v, "json") != NULL;
    }
    return n;
}

void upstream_chat(const route_upstream *u, const char *body, upstream_text_fn on_text, void *user, upstream_result *res) {
    *res = (upstream_result){.status = UPSTREAM_OK, .prompt_tokens = -1, .completion_tokens = -1};
    call c = {.on_text = on_text, .user = user, .res = res};
    char auth[1024] = "";
    if (u->api_key_env) {
        const char *key = getenv(u->api_key_env);
        if (!key || !*key) {
            snprintf(res->error, sizeof res->error, "environment variable %s (api_key_env of upstream '%s') is not set",
                     u->api_key_env, u->name);
            res->status = UPSTREAM_NO_KEY;
            return;
        }
        if ((size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", key) >= sizeof auth) {
            snprintf(res->error, sizeof res->error, "the key in %s is too long", u->api_key_env);
            res->status = UPSTREAM_NO_KEY;
            return;
        }
    }
    char url[2048];
    snprintf(url, sizeof url, "%s/chat/completions", u->base_url);
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Accept: text/event-stream, application/json");
    if (*auth) hdr = curl_slist_append(hdr, auth);
    if (!h || !hdr) {
        set_error(res, UPSTREAM_UNREACHABLE, "cannot start an HTTP call (out of memory)%s", "");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(u->connect_timeout_s * 1000));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(u->total_timeout_s * 1000));
    /* idle: no byte for idle seconds, also before the first one (checked about once a second) */
    c.idle_s = u->idle_timeout_s;
    c.last_byte = now_s();
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "hearth-router/0.1");
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(h);
    res->http_code = c.http_code;
    if (c.aborted) { res->status = UPSTREAM_ABORTED; snprintf(res->error, sizeof res->error, "the client stopped reading"); goto out; }
    if (c.failed) goto out;
    if (c.idle_expired) {
        char what[96];
        snprintf(what, sizeof what, "no data for %g s", u->idle_timeout_s);
        set_error(res, UPSTREAM_TIMEOUT, "timed out: %s", what);
        goto out;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        set_error(res, UPSTREAM_TIMEOUT, "timed out: %s", *cerr ? cerr : curl_easy_strerror(rc));
        goto out;
    }
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && c.done)) {
        upstream_status st = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_SSL_CONNECT_ERROR ||
                                     rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_COULDNT_RESOLVE_PROXY
                                 ? UPSTREAM_UNREACHABLE
                                 : UPSTREAM_TRUNCATED;
        set_error(res, st, "%s", *cerr ? cerr : curl_easy_strerror(rc));
        goto out;
    }
    if (c.http_code >= 400 || c.http_code < 200) {
        char msg[300];
        json_t *root = c.len ? json_loadb(c.line, c.len, 0, NULL) : NULL;
        const char *em = root ? error_message(root) : NULL;
        snprintf(msg, sizeof msg, "HTTP %ld%s%.200s", c.http_code, em || c.len ? ": " : "", em ? em : c.len ? c.line : "");
        json_decref(root);
        set_error(res, UPSTREAM_HTTP_ERROR, "%s", msg);
        goto out;
    }
    if (!c.is_sse) {
        if (!c.len) { set_error(res, UPSTREAM_TRUNCATED, "empty response body%s", ""); goto out; }
        if (!handle_json(&c, c.line, c.len, true)) { if (c.aborted) res->status = UPSTREAM_ABORTED; goto out; }
        goto out;
    }
    if (c.len) sse_line(&c, c.line, c.len); /* a last line without its newline */
    if (!c.failed) end_event(&c);
    if (c.failed || c.aborted) { if (c.aborted) res->status = UPSTREAM_ABORTED; goto out; }
    if (!c.done && !res->finish_reason[0])
        set_error(res, UPSTREAM_TRUNCATED, "the stream ended before [DONE] (%s)", res->text_bytes ? "mid-answer" : "no answer");
out:
    for (struct curl_slist *sl = hdr; sl; sl = sl->next) explicit_bzero(sl->data, strlen(sl->data)); /* curl's copy of the key */
    curl_slist_free_all(hdr);
    if (h) curl_easy_cleanup(h);
    explicit_bzero(auth, sizeof auth);
    free(c.line);
    free(c.data);
}

const char *upstream_status_name(upstream_status s) {
    static const char *const names[] = {"ok", "unreachable", "timeout", "http_error", "malformed", "truncated", "no_key", "aborted"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}
