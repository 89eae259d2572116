/* audit.c — see audit.h. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct audit_log {
    int fd;
};

static void mkdirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(buf, 0700); *p = '/'; }
}

audit_log *audit_open(const char *path, char *err, size_t errlen) {
    mkdirs(path);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, errlen, "audit log %s: %s", path, strerror(errno)); return NULL; }
    audit_log *a = malloc(sizeof *a);
    if (!a) { close(fd); snprintf(err, errlen, "out of memory"); return NULL; }
    a->fd = fd;
    return a;
}

void audit_close(audit_log *a) {
    if (!a) return;
    close(a->fd);
    free(a);
}

bool audit_write(audit_log *a, const char *json) {
    size_t n = strlen(json);
    char *line = malloc(n + 2);
    if (!line) return false;
    memcpy(line, json, n);
    line[n] = '\n';
    ssize_t w;
    do w = write(a->fd, line, n + 1); while (w < 0 && errno == EINTR);
    free(line);
    return w == (ssize_t)(n + 1);
}

void audit_default_path(char *out, size_t cap) {
    const char *p = getenv("HEARTH_ROUTER_LOG"), *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
    if (p && *p) snprintf(out, cap, "%s", p);
    else if (x && *x) snprintf(out, cap, "%s/hearth/router.jsonl", x);
    else snprintf(out, cap, "%s/.local/state/hearth/router.jsonl", h && *h ? h : ".");
}

static long num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

bool audit_summarise(FILE *f, audit_summary *s) {
    memset(s, 0, sizeof *s);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (n == 1 && line[0] == '\n') continue;
        json_t *o = json_loadb(line, (size_t)n, 0, NULL);
        const char *route = json_string_value(json_object_get(o, "route"));
        if (!json_is_object(o) || !route) { s->bad_lines++; json_decref(o); continue; }
        const char *status = json_string_value(json_object_get(o, "status"));
        const char *action = json_string_value(json_object_get(o, "action"));
        s->requests++;
        const char *ts = json_string_value(json_object_get(o, "ts"));
        if (ts) {
            if (!s->first_ts[0]) snprintf(s->first_ts, sizeof s->first_ts, "%.39s", ts);
            snprintf(s->last_ts, sizeof s->last_ts, "%.39s", ts);
        }
        if (status && !strcmp(status, "blocked")) s->blocked++;
        else if (status && strcmp(status, "ok")) s->errors++;
        if (json_is_string(json_object_get(o, "failover"))) s->failovers++;
        if (json_object_size(json_object_get(o, "sensitive")) > 0) {
            s->sensitive++;
            if (action && !strcmp(action, "redact")) s->redacted++;
            else if (action && !strcmp(action, "local")) s->kept_local++;
        }
        long in = num(o, "prompt_tokens"), out = num(o, "completion_tokens");
        if (!strcmp(route, "local")) { s->local++; s->local_in += in; s->local_out += out; }
        else if (!strncmp(route, "cloud", 5)) {
            s->cloud++;
            s->cloud_in += in;
            s->cloud_out += out;
            json_t *pr = json_object_get(o, "price");
            s->cloud_cost += (in * json_number_value(json_object_get(pr, "input")) +
                              out * json_number_value(json_object_get(pr, "output"))) / 1e6;
        }
        json_decref(o);
    }
    free(line);
    return !ferror(f);
}

double audit_saved(const audit_summary *s, const audit_prices *p) {
    return ((double)s->local_in * (p->cloud_in - p->local_in) + (double)s->local_out * (p->cloud_out - p->local_out)) / 1e6;
}
