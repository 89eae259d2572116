/* util.c — small helpers for the server: growable strings, UTF-8 repair, JSON values, ids, times, and the
 * request-parameter readers both APIs share (each answers a 400 naming the parameter when it is wrong). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server.h"

/* ------------------------------------------------------------------------------------------- strbuf */

void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) abort(); /* allocation of a few KiB failing: nothing sensible is left to do */
        b->s = ns;
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { sb_put(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    free(big);
}

void sb_free(strbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* -------------------------------------------------------------------------------------------- UTF-8 */

/* Invalid UTF-8 (model byte tokens that form no character, odd request bytes) becomes U+FFFD: JSON must be
 * valid UTF-8. The library does the work; this keeps the server's name for it. */
char *utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    char *clean = hearth_utf8_sanitize(s, n, out_len);
    if (!clean) { fprintf(stderr, "hearth serve: out of memory\n"); abort(); }
    return clean;
}

json_t *json_text(const char *s, size_t n) {
    size_t len;
    char *clean = utf8_sanitize(s, n, &len);
    json_t *v = json_stringn(clean, len);
    free(clean);
    return v ? v : json_string("");
}

json_t *json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

void sb_json(strbuf *b, json_t *obj) {
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    sb_puts(b, s ? s : "null");
    free(s);
    json_decref(obj);
}

/* ------------------------------------------------------------------------------------ ids and times */

uint64_t random_u64(void) {
    uint64_t v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
    }
    return v;
}

void random_id(char *out, size_t cap, const char *prefix) {
    uint64_t a = random_u64(), b = random_u64();
    snprintf(out, cap, "%s-%016llx%08llx", prefix, (unsigned long long)a, (unsigned long long)(b & 0xffffffffu));
}

void rfc3339_now(char *out, size_t cap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%09ldZ", date, ts.tv_nsec);
}

size_t token_text(const hearth_model *model, int32_t token, char *buf, size_t cap) {
    int n = hearth_token_to_piece(model, token, true, buf, (int)cap);
    if (n < 0 || (size_t)n >= cap) n = 0;
    buf[n] = 0;
    return (size_t)n;
}

/* ------------------------------------------------------------------------------- request parameters */

int param_number(request *r, json_t *obj, const char *key, double lo, double hi, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return respond_error(r, 400, key, "invalid_type", "'%s' must be a number", key), -1;
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return respond_error(r, 400, key, "invalid_value", "'%s' must be between %g and %g, got %g", key, lo, hi, d), -1;
    *out = d;
    return 1;
}

int param_int(request *r, json_t *obj, const char *key, long long lo, long long hi, long long *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    long long x;
    if (json_is_integer(v)) x = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 9e15)
        x = (long long)json_real_value(v);
    else return respond_error(r, 400, key, "invalid_type", "'%s' must be an integer", key), -1;
    if (x < lo || x > hi)
        return respond_error(r, 400, key, "invalid_value", "'%s' must be between %lld and %lld, got %lld", key, lo, hi, x), -1;
    *out = x;
    return 1;
}

int param_bool(request *r, json_t *obj, const char *key, bool *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return respond_error(r, 400, key, "invalid_type", "'%s' must be true or false", key), -1;
    *out = json_is_true(v);
    return 1;
}

int param_stop(request *r, json_t *obj, const char *key, job_params *p) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) > 0) p->stop[p->n_stop++] = strdup(json_string_value(v));
        return 1;
    }
    if (!json_is_array(v)) return respond_error(r, 400, key, "invalid_type", "'%s' must be a string or an array of strings", key), -1;
    if (json_array_size(v) > SERVER_MAX_STOP)
        return respond_error(r, 400, key, "invalid_value", "at most %d stop strings", SERVER_MAX_STOP), -1;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) return respond_error(r, 400, key, "invalid_type", "'%s' must be a string or an array of strings", key), -1;
        if (json_string_length(e) > 0) p->stop[p->n_stop++] = strdup(json_string_value(e));
    }
    return 1;
}

int finish_params(request *r, srv_model *m, job_params *p, const hearth_sampler_params *sp) {
    int n_ctx = sched_n_ctx(m);
    if (p->n_prompt <= 0) return respond_error(r, 400, NULL, "empty_prompt", "the prompt is empty"), -1;
    if (p->n_prompt >= n_ctx)
        return respond_error(r, 400, NULL, "context_length_exceeded",
                             "the prompt has %d tokens but the context holds %d%s (start the server with a larger --ctx)",
                             p->n_prompt, n_ctx, p->n_prompt == n_ctx ? ", leaving no room for an answer" : ""), -1;
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i]) return respond_error(r, 500, NULL, NULL, "out of memory"), -1;
    p->sampler = hearth_sampler_new(sched_hearth_model(m), sp);
    if (!p->sampler) return respond_error(r, 400, NULL, NULL, "%s", hearth_last_error()), -1;
    hearth_sampler_accept_prompt(p->sampler, p->prompt, p->n_prompt);
    return 0;
}
