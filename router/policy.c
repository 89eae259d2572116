/* policy.c — see policy.h. */
#include "policy.h"

#include <stdio.h>
#include <string.h>

long route_estimate_tokens(size_t bytes) { return (long)((bytes + 3) / 4); }

static int low(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static bool alnum(int c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool route_glob(const char *p, const char *s) {
    if (!*p) return !*s;
    if (*p == '*') {
        for (const char *t = s;; t++) {
            if (route_glob(p + 1, t)) return true;
            if (!*t) return false;
        }
    }
    return *s && (*p == '?' || low((unsigned char)*p) == low((unsigned char)*s)) && route_glob(p + 1, s + 1);
}

/* Case-insensitive: does `word` occur in text at the start of a word? */
static bool has_word(const char *t, size_t n, const char *word) {
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++) {
        if (i && alnum((unsigned char)t[i - 1]) && alnum((unsigned char)word[0])) continue;
        size_t j = 0;
        while (j < k && low((unsigned char)t[i + j]) == low((unsigned char)word[j])) j++;
        if (j == k) return true;
    }
    return false;
}

long route_code_lines(const char *t, size_t n) {
    long fenced = 0, looks = 0;
    bool in = false, any_fence = false;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && t[e] != '\n') e++;
        size_t a = i;
        while (a < e && (t[a] == ' ' || t[a] == '\t')) a++;
        if (e - a >= 3 && !strncmp(t + a, "```", 3)) { in = !in; any_fence = true; }
        else if (in) fenced++;
        else {
            size_t z = e;
            while (z > a && (t[z - 1] == ' ' || t[z - 1] == '\r')) z--;
            char last = z > a ? t[z - 1] : 0;
            if (z > a && (last == ';' || last == '{' || last == '}' || t[i] == '\t' || (e - i >= 4 && !strncmp(t + i, "    ", 4))))
                looks++;
        }
        i = e + 1;
    }
    return any_fence ? fenced : looks;
}

/* Built-in auto vocabulary: words at the start of a word, so "prove" does not match "improve". */
static const char *const cloud_words[] = {
    "system design", "architecture", "architect ", "design a ", "design an ", "design the ", "scalab", "distributed",
    "microservice", "trade-off", "tradeoff", "migration plan", "threat model", "capacity plan", "step by step",
    "step-by-step", "prove ", "proof", "reason through", "think through", "multi-step", "in depth", "in-depth",
    "comprehensive", "deep dive", "roadmap", "high availability", "fault toleran", "consistency model",
    "entire codebase", "whole codebase", "compare and contrast", "evaluate the options", "long-term strategy",
    "formal verification", "research plan"};
static const char *const local_words[] = {
    "regex", "regular expression", "json", "typescript type", "typescript interface", "interfaces for", "types for",
    "dockerfile", "docker-compose", "docker compose", "yaml", "yml", "log line", "logs", "parse this log",
    "parse the log", "stack trace", "traceback", "this error", "error message", "the error", "sql query",
    "one-liner", "bash command", "shell command", "cron", "gitignore", "commit message", "makefile", "csv",
    "rename", "format this", "convert this", "unit test for", "docstring"};

static void append(char *buf, size_t cap, const char *fmt, const char *s) {
    size_t l = strlen(buf);
    if (l + 1 < cap) snprintf(buf + l, cap - l, fmt, s);
}

static void trimmed(char *dst, size_t cap, const char *w) {
    snprintf(dst, cap, "%s", w);
    size_t l = strlen(dst);
    while (l && dst[l - 1] == ' ') dst[--l] = 0;
}

static route_target_kind auto_classify(const route_config *c, const route_request *rq, char *why, size_t cap) {
    long need = rq->prompt_tokens + (rq->max_tokens > 0 ? rq->max_tokens : 256);
    if (c->local_context > 0 && need > c->local_context) {
        snprintf(why, cap, "auto: ~%ld tokens with the answer exceed the local context (%d)", need, c->local_context);
        return TARGET_CLOUD;
    }
    int cloud = 0, local = 0;
    char cw[128] = "", lw[128] = "", w[48];
    const char *t = rq->task ? rq->task : "";
    size_t n = rq->task ? rq->task_len : 0;
    for (size_t i = 0; i < sizeof cloud_words / sizeof *cloud_words; i++)
        if (has_word(t, n, cloud_words[i])) { cloud += 2; trimmed(w, sizeof w, cloud_words[i]); append(cw, sizeof cw, *cw ? ", %s" : "%s", w); }
    for (int i = 0; i < c->n_auto_cloud_words; i++)
        if (has_word(t, n, c->auto_cloud_words[i])) { cloud += 2; append(cw, sizeof cw, *cw ? ", %s" : "%s", c->auto_cloud_words[i]); }
    for (size_t i = 0; i < sizeof local_words / sizeof *local_words; i++)
        if (has_word(t, n, local_words[i])) { local += 2; append(lw, sizeof lw, *lw ? ", %s" : "%s", local_words[i]); }
    for (int i = 0; i < c->n_auto_local_words; i++)
        if (has_word(t, n, c->auto_local_words[i])) { local += 2; append(lw, sizeof lw, *lw ? ", %s" : "%s", c->auto_local_words[i]); }
    bool long_prompt = rq->prompt_tokens >= c->auto_long_prompt_tokens;
    bool big_code = rq->code_lines >= c->auto_code_lines;
    if (long_prompt) cloud += 3;
    if (big_code) cloud += 2;
    bool to_cloud = cloud > local;
    char sizes[96] = "";
    if (long_prompt) snprintf(sizes, sizeof sizes, "; long prompt (~%ld tokens)", rq->prompt_tokens);
    if (big_code) snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "; %ld lines of code", rq->code_lines);
    if (to_cloud)
        snprintf(why, cap, "auto: big task%s%s%s%s", *cw ? " (" : "", cw, *cw ? ")" : "", sizes);
    else if (local)
        snprintf(why, cap, "auto: chore (%s)%s", lw, sizes);
    else
        snprintf(why, cap, "auto: no big-task signal, local first%s", sizes);
    return to_cloud ? TARGET_CLOUD : TARGET_LOCAL;
}

static bool rule_matches(const route_config *c, const route_rule *r, const route_request *rq, char *why, size_t cap) {
    char what[160] = "";
    if (r->n_models) {
        int i = 0;
        while (i < r->n_models && !(rq->model && route_glob(r->models[i], rq->model))) i++;
        if (i == r->n_models) return false;
        append(what, sizeof what, "model %s", rq->model);
    }
    if (r->n_keywords) {
        int i = 0;
        while (i < r->n_keywords && !(rq->task && has_word(rq->task, rq->task_len, r->keywords[i]))) i++;
        if (i == r->n_keywords) return false;
        append(what, sizeof what, *what ? ", keyword '%s'" : "keyword '%s'", r->keywords[i]);
    }
    if (r->min_prompt_tokens >= 0 && rq->prompt_tokens < r->min_prompt_tokens) return false;
    if (r->max_prompt_tokens >= 0 && rq->prompt_tokens > r->max_prompt_tokens) return false;
    if (r->min_code_lines >= 0 && rq->code_lines < r->min_code_lines) return false;
    if (r->max_code_lines >= 0 && rq->code_lines > r->max_code_lines) return false;
    if (r->exceeds_local_context >= 0) {
        long need = rq->prompt_tokens + (rq->max_tokens > 0 ? rq->max_tokens : 256);
        bool exceeds = c->local_context > 0 && need > c->local_context;
        if (exceeds != (r->exceeds_local_context == 1)) return false;
    }
    if (r->sensitive >= 0 && rq->sensitive != (r->sensitive == 1)) return false;
    if (r->min_prompt_tokens >= 0 || r->max_prompt_tokens >= 0) {
        char num[48];
        snprintf(num, sizeof num, "~%ld prompt tokens", rq->prompt_tokens);
        append(what, sizeof what, *what ? ", %s" : "%s", num);
    }
    if (r->min_code_lines >= 0 || r->max_code_lines >= 0) {
        char num[48];
        snprintf(num, sizeof num, "%ld code lines", rq->code_lines);
        append(what, sizeof what, *what ? ", %s" : "%s", num);
    }
    snprintf(why, cap, "rule '%s' (line %d)%s%s", r->name, r->line, *what ? ": " : "", what);
    return true;
}

void route_decide(const route_config *c, const route_request *rq, route_decision *d) {
    memset(d, 0, sizeof *d);
    d->on_sensitive = c->on_sensitive;
    route_target t = c->def;
    if (rq->hint != HINT_NONE) {
        snprintf(d->rule, sizeof d->rule, "hint:%s", rq->hint_source ? rq->hint_source : "marker");
        if (rq->hint == HINT_LOCAL) t = (route_target){TARGET_LOCAL, -1};
        else if (rq->hint_upstream >= 0) t = (route_target){TARGET_UPSTREAM, rq->hint_upstream};
        else t = (route_target){TARGET_CLOUD, -1};
        snprintf(d->reason, sizeof d->reason, "the request asked for hearth:%s%s%s", rq->hint == HINT_LOCAL ? "local" : "cloud",
                 t.kind == TARGET_UPSTREAM ? ":" : "", t.kind == TARGET_UPSTREAM ? c->up[t.upstream].name : "");
    } else {
        int i = 0;
        for (; i < c->n_rules; i++)
            if (rule_matches(c, &c->rules[i], rq, d->reason, sizeof d->reason)) break;
        if (i < c->n_rules) {
            snprintf(d->rule, sizeof d->rule, "%s", c->rules[i].name);
            t = c->rules[i].to;
            if (c->rules[i].on_sensitive >= 0) d->on_sensitive = (sensitive_action)c->rules[i].on_sensitive;
        } else {
            snprintf(d->rule, sizeof d->rule, "default");
            snprintf(d->reason, sizeof d->reason, "no rule matched; route.default is %s", route_target_name(c, c->def));
        }
        if (t.kind == TARGET_AUTO) {
            char why[200];
            t.kind = auto_classify(c, rq, why, sizeof why);
            snprintf(d->reason, sizeof d->reason, "%s", why);
        }
    }
    if ((t.kind == TARGET_CLOUD || t.kind == TARGET_UPSTREAM) && c->n_up == 0) {
        t = (route_target){TARGET_LOCAL, -1};
        append(d->reason, sizeof d->reason, "%s", "; no upstreams configured");
    }
    d->target = t;
}
