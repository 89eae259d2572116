/* config.c — route file parsing with libyaml's document API (nodes keep their line and column, so every
 * error points at the offending line). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

typedef struct {
    yaml_document_t *doc;
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
} ctx;

static void fail(ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(ctx *c, const yaml_node_t *n, const char *fmt, ...) {
    if (c->failed) return;
    c->failed = true;
    int k = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file, n ? n->start_mark.line + 1 : 1,
                     n ? n->start_mark.column + 1 : 1);
    if (k < 0 || (size_t)k >= c->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

static const char *scalar(ctx *c, yaml_node_t *n, const char *what) {
    if (!n || n->type != YAML_SCALAR_NODE) { fail(c, n, "%s must be a single value", what); return NULL; }
    return (const char *)n->data.scalar.value;
}

static char *dup_scalar(ctx *c, yaml_node_t *n, const char *what) {
    const char *s = scalar(c, n, what);
    char *d = s ? strdup(s) : NULL;
    if (s && !d) fail(c, n, "out of memory");
    return d;
}

static bool get_num(ctx *c, yaml_node_t *n, const char *what, double lo, double hi, double *out) {
    const char *s = scalar(c, n, what);
    if (!s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < lo || v > hi || (*end && strcmp(end, " "))) {
        fail(c, n, "%s must be a number from %g to %g, got '%s'", what, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

static bool get_long(ctx *c, yaml_node_t *n, const char *what, long *out) {
    double v;
    if (!get_num(c, n, what, 0, 1e12, &v)) return false;
    if (v != (double)(long)v) { fail(c, n, "%s must be a whole number", what); return false; }
    *out = (long)v;
    return true;
}

/* Seconds: 30, 2.5, "30s", "500ms", "2m". */
static bool get_duration(ctx *c, yaml_node_t *n, const char *what, double *out) {
    const char *s = scalar(c, n, what);
    if (!s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mul = !strcmp(end, "") || !strcmp(end, "s") ? 1 : !strcmp(end, "ms") ? 0.001 : !strcmp(end, "m") ? 60 : -1;
    if (end == s || errno || mul < 0 || v <= 0 || v * mul > 86400) {
        fail(c, n, "%s must be a positive duration in seconds (30, 2.5, 500ms, 2m), got '%s'", what, s);
        return false;
    }
    *out = v * mul;
    return true;
}

static bool get_bool(ctx *c, yaml_node_t *n, const char *what, bool *out) {
    const char *s = scalar(c, n, what);
    if (!s) return false;
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) { *out = true; return true; }
        if (!strcasecmp(s, no[i])) { *out = false; return true; }
    }
    fail(c, n, "%s must be true or false, got '%s'", what, s);
    return false;
}

/* A list of strings; a single scalar is a list of one. */
static bool get_strings(ctx *c, yaml_node_t *n, const char *what, char ***out, int *count) {
    if (n && n->type == YAML_SCALAR_NODE) {
        *out = calloc(1, sizeof(char *));
        if (!*out || !((*out)[0] = dup_scalar(c, n, what))) return false;
        *count = 1;
        return true;
    }
    if (!n || n->type != YAML_SEQUENCE_NODE) { fail(c, n, "%s must be a list", what); return false; }
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    *out = calloc(k ? k : 1, sizeof(char *));
    if (!*out) { fail(c, n, "out of memory"); return false; }
    *count = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        char *s = dup_scalar(c, yaml_document_get_node(c->doc, *it), what);
        if (!s) return false;
        (*out)[(*count)++] = s;
    }
    return true;
}

typedef struct {
    const char *key;
    yaml_node_t *k, *v;
} kv;

/* Iterate a mapping: for (kv e; next_kv(...);) */
static bool mapping(ctx *c, yaml_node_t *n, const char *what) {
    if (n && n->type == YAML_MAPPING_NODE) return true;
    fail(c, n, "%s must be a mapping (key: value lines)", what);
    return false;
}

#define FOR_KV(c, n, e)                                                                                          \
    for (yaml_node_pair_t *p_ = (n)->data.mapping.pairs.start; !(c)->failed && p_ < (n)->data.mapping.pairs.top; p_++) \
        for (kv e = {NULL, yaml_document_get_node((c)->doc, p_->key), yaml_document_get_node((c)->doc, p_->value)};   \
             !e.key && (e.key = scalar(c, e.k, "a key")); )

static void unknown(ctx *c, kv *e, const char *section, const char *known) {
    fail(c, e->k, "unknown key '%s' in %s (known: %s)", e->key, section, known);
}

static bool parse_target(ctx *c, route_config *cfg, yaml_node_t *n, const char *what, route_target *t, bool allow_auto) {
    const char *s = scalar(c, n, what);
    if (!s) return false;
    if (!strcmp(s, "local")) *t = (route_target){TARGET_LOCAL, -1};
    else if (!strcmp(s, "cloud")) *t = (route_target){TARGET_CLOUD, -1};
    else if (!strcmp(s, "auto") && allow_auto) *t = (route_target){TARGET_AUTO, -1};
    else {
        const char *name = !strncmp(s, "cloud:", 6) ? s + 6 : s;
        int u = route_config_upstream(cfg, name);
        if (u < 0) {
            fail(c, n, "%s must be local, cloud%s or an upstream's name, got '%s'", what, allow_auto ? ", auto" : "", s);
            return false;
        }
        *t = (route_target){TARGET_UPSTREAM, u};
    }
    return true;
}

static bool parse_action(ctx *c, yaml_node_t *n, const char *what, int *out) {
    const char *s = scalar(c, n, what);
    if (!s) return false;
    if (!strcmp(s, "local")) *out = SENSITIVE_LOCAL;
    else if (!strcmp(s, "redact")) *out = SENSITIVE_REDACT;
    else if (!strcmp(s, "block")) *out = SENSITIVE_BLOCK;
    else { fail(c, n, "%s must be local, redact or block, got '%s'", what, s); return false; }
    return true;
}

static void parse_price(ctx *c, yaml_node_t *n, double *in, double *out) {
    if (!mapping(c, n, "price")) return;
    FOR_KV(c, n, e) {
        if (!strcmp(e.key, "input")) get_num(c, e.v, "price.input", 0, 1e6, in);
        else if (!strcmp(e.key, "output")) get_num(c, e.v, "price.output", 0, 1e6, out);
        else unknown(c, &e, "price", "input, output (USD per million tokens)");
    }
}

static void parse_upstream(ctx *c, yaml_node_t *n, route_upstream *u) {
    *u = (route_upstream){.connect_timeout_s = 5, .total_timeout_s = 300, .idle_timeout_s = 60, .stream_usage = true,
                          .line = (int)n->start_mark.line + 1};
    if (!mapping(c, n, "an upstream")) return;
    FOR_KV(c, n, e) {
        if (!strcmp(e.key, "name")) u->name = dup_scalar(c, e.v, "name");
        else if (!strcmp(e.key, "base_url")) u->base_url = dup_scalar(c, e.v, "base_url");
        else if (!strcmp(e.key, "model")) u->model = dup_scalar(c, e.v, "model");
        else if (!strcmp(e.key, "api_key_env")) u->api_key_env = dup_scalar(c, e.v, "api_key_env");
        else if (!strcmp(e.key, "api_key") || !strcmp(e.key, "key") || !strcmp(e.key, "token"))
            fail(c, e.k, "keys never go in the route file: put it in an environment variable and name that "
                         "variable with api_key_env");
        else if (!strcmp(e.key, "stream_usage")) get_bool(c, e.v, "stream_usage", &u->stream_usage);
        else if (!strcmp(e.key, "price")) parse_price(c, e.v, &u->price_in, &u->price_out);
        else if (!strcmp(e.key, "timeouts")) {
            if (!mapping(c, e.v, "timeouts")) return;
            FOR_KV(c, e.v, t) {
                if (!strcmp(t.key, "connect")) get_duration(c, t.v, "timeouts.connect", &u->connect_timeout_s);
                else if (!strcmp(t.key, "total")) get_duration(c, t.v, "timeouts.total", &u->total_timeout_s);
                else if (!strcmp(t.key, "idle")) get_duration(c, t.v, "timeouts.idle", &u->idle_timeout_s);
                else unknown(c, &t, "timeouts", "connect, total, idle");
            }
        } else unknown(c, &e, "an upstream", "name, base_url, model, api_key_env, timeouts, price, stream_usage");
    }
    if (c->failed) return;
    if (!u->name || !u->base_url || !u->model) {
        fail(c, n, "an upstream needs name, base_url and model");
        return;
    }
    if (!strcmp(u->name, "local") || !strcmp(u->name, "auto") || strchr(u->name, ':'))
        fail(c, n, "upstream name '%s' is reserved or has a ':'", u->name);
    else if (strncmp(u->base_url, "http://", 7) && strncmp(u->base_url, "https://", 8))
        fail(c, n, "base_url must start with http:// or https://, got '%s'", u->base_url);
    else if (strchr(u->base_url, '@'))
        fail(c, n, "base_url must not carry credentials (use api_key_env)");
    /* keep the URL without a trailing slash: paths are appended */
    size_t l = u->base_url ? strlen(u->base_url) : 0;
    while (l && u->base_url[l - 1] == '/') u->base_url[--l] = 0;
}

static void parse_rule(ctx *c, route_config *cfg, yaml_node_t *n, route_rule *r) {
    *r = (route_rule){.line = (int)n->start_mark.line + 1, .min_prompt_tokens = -1, .max_prompt_tokens = -1,
                      .min_code_lines = -1, .max_code_lines = -1, .exceeds_local_context = -1, .sensitive = -1,
                      .on_sensitive = -1, .to = {TARGET_AUTO, -1}};
    if (!mapping(c, n, "a rule")) return;
    bool has_to = false;
    FOR_KV(c, n, e) {
        if (!strcmp(e.key, "name")) r->name = dup_scalar(c, e.v, "name");
        else if (!strcmp(e.key, "to")) has_to = parse_target(c, cfg, e.v, "to", &r->to, true);
        else if (!strcmp(e.key, "on_sensitive")) parse_action(c, e.v, "on_sensitive", &r->on_sensitive);
        else if (!strcmp(e.key, "when")) {
            if (!mapping(c, e.v, "when")) return;
            FOR_KV(c, e.v, w) {
                bool b;
                if (!strcmp(w.key, "model")) get_strings(c, w.v, "model", &r->models, &r->n_models);
                else if (!strcmp(w.key, "keywords")) get_strings(c, w.v, "keywords", &r->keywords, &r->n_keywords);
                else if (!strcmp(w.key, "min_prompt_tokens")) get_long(c, w.v, w.key, &r->min_prompt_tokens);
                else if (!strcmp(w.key, "max_prompt_tokens")) get_long(c, w.v, w.key, &r->max_prompt_tokens);
                else if (!strcmp(w.key, "min_code_lines")) get_long(c, w.v, w.key, &r->min_code_lines);
                else if (!strcmp(w.key, "max_code_lines")) get_long(c, w.v, w.key, &r->max_code_lines);
                else if (!strcmp(w.key, "exceeds_local_context")) { if (get_bool(c, w.v, w.key, &b)) r->exceeds_local_context = b; }
                else if (!strcmp(w.key, "sensitive")) { if (get_bool(c, w.v, w.key, &b)) r->sensitive = b; }
                else unknown(c, &w, "when", "model, keywords, min_prompt_tokens, max_prompt_tokens, min_code_lines, "
                                            "max_code_lines, exceeds_local_context, sensitive");
            }
        } else unknown(c, &e, "a rule", "name, when, to, on_sensitive");
    }
    if (c->failed) return;
    if (!has_to) fail(c, n, "rule %s needs 'to' (local, cloud, auto or an upstream's name)", r->name ? r->name : "");
    if (!r->name) {
        char buf[32];
        snprintf(buf, sizeof buf, "rule@%d", r->line);
        r->name = strdup(buf);
    }
}

static void parse_route(ctx *c, route_config *cfg, yaml_node_t *n) {
    if (!mapping(c, n, "route")) return;
    FOR_KV(c, n, e) {
        if (!strcmp(e.key, "default")) parse_target(c, cfg, e.v, "route.default", &cfg->def, true);
        else if (!strcmp(e.key, "on_sensitive")) {
            int a;
            if (parse_action(c, e.v, "route.on_sensitive", &a)) cfg->on_sensitive = (sensitive_action)a;
        } else if (!strcmp(e.key, "rules")) {
            if (e.v->type != YAML_SEQUENCE_NODE) { fail(c, e.v, "route.rules must be a list"); return; }
            size_t k = (size_t)(e.v->data.sequence.items.top - e.v->data.sequence.items.start);
            cfg->rules = calloc(k ? k : 1, sizeof *cfg->rules);
            if (!cfg->rules) { fail(c, e.v, "out of memory"); return; }
            for (yaml_node_item_t *it = e.v->data.sequence.items.start; !c->failed && it < e.v->data.sequence.items.top; it++)
                parse_rule(c, cfg, yaml_document_get_node(c->doc, *it), &cfg->rules[cfg->n_rules++]);
        } else unknown(c, &e, "route", "default, on_sensitive, rules");
    }
}

static void parse_privacy(ctx *c, route_config *cfg, yaml_node_t *n) {
    if (!mapping(c, n, "privacy")) return;
    FOR_KV(c, n, e) {
        if (!strcmp(e.key, "detectors")) {
            if (!mapping(c, e.v, "privacy.detectors")) return;
            FOR_KV(c, e.v, d) {
                int k = guard_kind_from_name(d.key);
                bool on;
                if (k < 0) {
                    char known[512] = "";
                    for (int i = 0; i < GUARD_N_KINDS; i++)
                        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", guard_kind_name(i));
                    fail(c, d.k, "unknown detector '%s' (known: %s)", d.key, known);
                } else if (get_bool(c, d.v, d.key, &on)) cfg->guard.disabled[k] = !on;
            }
        } else unknown(c, &e, "privacy", "detectors");
    }
}

static void parse_local(ctx *c, route_config *cfg, yaml_node_t *n) {
    if (!mapping(c, n, "local")) return;
    FOR_KV(c, n, e) {
        long v;
        if (!strcmp(e.key, "context")) { if (get_long(c, e.v, "local.context", &v)) cfg->local_context = (int)(v > 1 << 24 ? 1 << 24 : v); }
        else if (!strcmp(e.key, "price")) parse_price(c, e.v, &cfg->local_price_in, &cfg->local_price_out);
        else unknown(c, &e, "local", "context, price");
    }
}

static void parse_auto(ctx *c, route_config *cfg, yaml_node_t *n) {
    if (!mapping(c, n, "auto")) return;
    FOR_KV(c, n, e) {
        if (!strcmp(e.key, "long_prompt_tokens")) get_long(c, e.v, e.key, &cfg->auto_long_prompt_tokens);
        else if (!strcmp(e.key, "code_lines")) get_long(c, e.v, e.key, &cfg->auto_code_lines);
        else if (!strcmp(e.key, "cloud_keywords")) get_strings(c, e.v, e.key, &cfg->auto_cloud_words, &cfg->n_auto_cloud_words);
        else if (!strcmp(e.key, "local_keywords")) get_strings(c, e.v, e.key, &cfg->auto_local_words, &cfg->n_auto_local_words);
        else unknown(c, &e, "auto", "long_prompt_tokens, code_lines, cloud_keywords, local_keywords");
    }
}

static void parse_root(ctx *c, route_config *cfg, yaml_node_t *root) {
    if (!root) { fail(c, NULL, "the file is empty"); return; }
    if (!mapping(c, root, "the route file")) return;
    /* upstreams first: route targets refer to them by name */
    FOR_KV(c, root, e) {
        if (strcmp(e.key, "upstreams")) continue;
        if (e.v->type != YAML_SEQUENCE_NODE) { fail(c, e.v, "upstreams must be a list"); return; }
        size_t k = (size_t)(e.v->data.sequence.items.top - e.v->data.sequence.items.start);
        cfg->up = calloc(k ? k : 1, sizeof *cfg->up);
        if (!cfg->up) { fail(c, e.v, "out of memory"); return; }
        for (yaml_node_item_t *it = e.v->data.sequence.items.start; !c->failed && it < e.v->data.sequence.items.top; it++) {
            yaml_node_t *un = yaml_document_get_node(c->doc, *it);
            parse_upstream(c, un, &cfg->up[cfg->n_up]);
            if (!c->failed && route_config_upstream(cfg, cfg->up[cfg->n_up].name) >= 0)
                fail(c, un, "two upstreams are named '%s'", cfg->up[cfg->n_up].name);
            cfg->n_up++;
        }
    }
    FOR_KV(c, root, e) {
        if (!strcmp(e.key, "upstreams")) continue;
        if (!strcmp(e.key, "route")) parse_route(c, cfg, e.v);
        else if (!strcmp(e.key, "privacy")) parse_privacy(c, cfg, e.v);
        else if (!strcmp(e.key, "local")) parse_local(c, cfg, e.v);
        else if (!strcmp(e.key, "auto")) parse_auto(c, cfg, e.v);
        else if (!strcmp(e.key, "breaker")) {
            if (!mapping(c, e.v, "breaker")) return;
            FOR_KV(c, e.v, b) {
                long v;
                if (!strcmp(b.key, "failures")) { if (get_long(c, b.v, "breaker.failures", &v)) cfg->breaker_failures = v < 1 ? 1 : (int)(v > 1000 ? 1000 : v); }
                else if (!strcmp(b.key, "cooldown")) get_duration(c, b.v, "breaker.cooldown", &cfg->breaker_cooldown_s);
                else unknown(c, &b, "breaker", "failures, cooldown");
            }
        } else if (!strcmp(e.key, "audit")) {
            if (!mapping(c, e.v, "audit")) return;
            FOR_KV(c, e.v, a) {
                if (!strcmp(a.key, "path")) { free(cfg->audit_path); cfg->audit_path = dup_scalar(c, a.v, "audit.path"); }
                else unknown(c, &a, "audit", "path");
            }
        } else unknown(c, &e, "the route file", "upstreams, route, privacy, local, auto, breaker, audit");
    }
    if (c->failed) return;
    /* rules and auto may name the cloud without upstreams (they then answer locally); a cloud default cannot */
    if (cfg->n_up == 0 && cfg->def.kind == TARGET_CLOUD)
        fail(c, root, "route.default is cloud but no upstreams are defined");
}

route_config *route_config_parse(const char *text, size_t len, const char *name, char *err, size_t errlen) {
    route_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) { snprintf(err, errlen, "%s: out of memory", name); return NULL; }
    cfg->def = (route_target){TARGET_AUTO, -1};
    cfg->on_sensitive = SENSITIVE_LOCAL;
    cfg->breaker_failures = 3;
    cfg->breaker_cooldown_s = 30;
    cfg->auto_long_prompt_tokens = 3000;
    cfg->auto_code_lines = 400;
    cfg->path = strdup(name);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) { snprintf(err, errlen, "%s: out of memory", name); route_config_free(cfg); return NULL; }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", name, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                 parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        route_config_free(cfg);
        return NULL;
    }
    ctx c = {&doc, name, err, errlen, false};
    parse_root(&c, cfg, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (c.failed) { route_config_free(cfg); return NULL; }
    return cfg;
}

route_config *route_config_load(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            if (cap > (16u << 20)) { free(buf); buf = NULL; break; }
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) { snprintf(err, errlen, "%s: cannot read (too large or out of memory)", path); return NULL; }
    route_config *c = route_config_parse(buf, len, path, err, errlen);
    free(buf);
    return c;
}

static void free_strings(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void route_config_free(route_config *c) {
    if (!c) return;
    for (int i = 0; i < c->n_up; i++) {
        free(c->up[i].name); free(c->up[i].base_url); free(c->up[i].model); free(c->up[i].api_key_env);
    }
    free(c->up);
    for (int i = 0; i < c->n_rules; i++) {
        free(c->rules[i].name);
        free_strings(c->rules[i].models, c->rules[i].n_models);
        free_strings(c->rules[i].keywords, c->rules[i].n_keywords);
    }
    free(c->rules);
    free_strings(c->auto_cloud_words, c->n_auto_cloud_words);
    free_strings(c->auto_local_words, c->n_auto_local_words);
    free(c->audit_path);
    free(c->path);
    free(c);
}

int route_config_upstream(const route_config *c, const char *name) {
    for (int i = 0; i < c->n_up; i++)
        if (c->up[i].name && !strcmp(c->up[i].name, name)) return i;
    return -1;
}

const char *route_target_name(const route_config *c, route_target t) {
    switch (t.kind) {
    case TARGET_LOCAL: return "local";
    case TARGET_CLOUD: return "cloud";
    case TARGET_AUTO: return "auto";
    case TARGET_UPSTREAM: return t.upstream >= 0 && t.upstream < c->n_up ? c->up[t.upstream].name : "?";
    }
    return "?";
}

const char *sensitive_action_name(sensitive_action a) {
    return a == SENSITIVE_LOCAL ? "local" : a == SENSITIVE_REDACT ? "redact" : "block";
}
