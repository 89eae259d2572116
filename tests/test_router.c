/* test_router.c — the router end to end, in process, against tests/router/fake_upstream.py on loopback.
 *
 *   - route files: the minimal form, the full example of docs/router.md, errors with line numbers
 *   - policy: hints (model and marker, stripped), rules, auto (chores local, big tasks cloud, context)
 *   - the corpus (tests/router/corpus.jsonl): detector recall and false-positive rate, printed; then every
 *     prompt through the router with on_sensitive local and redact: no planted value may reach the fake
 *     upstream, and redacted answers come back with the values restored (streamed, split placeholders)
 *   - fault injection: down, 500, slow, stall, truncated, malformed, error-in-stream: every request is
 *     answered locally (a broken stream is continued, not restarted); the circuit breaker opens and probes
 *   - block, audit log content (no values), API key handling.
 * Bounded: the fake upstream exits on its own after a few minutes; slow modes use 1-second timeouts. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../router/audit.h"
#include "../router/breaker.h"
#include "../router/config.h"
#include "../router/guard.h"
#include "../router/policy.h"
#include "../router/router.h"
#include "testutil.h"

static char tmpdir[256], fake_log[300];
static int port;
static pid_t fake_pid;

/* ------------------------------------------------------------ helpers */

typedef struct {
    char *text;
    size_t len, cap;
    char route[96], rule[96];
    int n_route_calls;
    char prefix[4096];
    bool got_prefix;
    int local_calls;
    const char *local_answer;
} answer;

static bool on_text(void *user, const char *t, size_t n) {
    answer *a = user;
    if (a->len + n + 1 > a->cap) {
        a->cap = (a->len + n + 1) * 2;
        a->text = realloc(a->text, a->cap);
    }
    memcpy(a->text + a->len, t, n);
    a->len += n;
    a->text[a->len] = 0;
    return true;
}

static void on_route(void *user, const char *route, const char *rule) {
    answer *a = user;
    snprintf(a->route, sizeof a->route, "%s", route);
    snprintf(a->rule, sizeof a->rule, "%s", rule);
    a->n_route_calls++;
}

static int fake_local(void *user, const char *request_json, const char *prefix, router_emit_fn emit, void *ctx,
                      router_local_result *res) {
    answer *a = user;
    (void)request_json;
    a->local_calls++;
    if (prefix) { snprintf(a->prefix, sizeof a->prefix, "%s", prefix); a->got_prefix = true; }
    const char *t = a->local_answer ? a->local_answer : " [local answer]";
    emit(ctx, t, strlen(t));
    res->prompt_tokens = 7;
    res->completion_tokens = 3;
    snprintf(res->finish_reason, sizeof res->finish_reason, "stop");
    return 0;
}

static int ask(router *r, const char *req, answer *a, router_result *res) {
    memset(a, 0, sizeof *a);
    router_io io = {.on_route = on_route, .on_text = on_text, .run_local = fake_local, .user = a};
    return router_handle_chat(r, req, strlen(req), &io, res);
}

static char *chat_json(const char *model, const char *prompt) {
    json_t *o = json_pack("{s:s, s:[{s:s, s:s}]}", "model", model, "messages", "role", "user", "content", prompt);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static router *make_router(const char *yaml_fmt, const char *audit) {
    char yaml[8192], err[512];
    snprintf(yaml, sizeof yaml, yaml_fmt, port, port, port, port);
    route_config *c = route_config_parse(yaml, strlen(yaml), "test.yaml", err, sizeof err);
    CHECK(c != NULL, "%s", err);
    if (!c) return NULL;
    router *r = router_new(c, err, sizeof err);
    CHECK(r != NULL, "%s", err);
    if (r && !router_set_audit(r, audit, err, sizeof err)) CHECK(false, "%s", err);
    return r;
}

static size_t file_size(const char *p) {
    struct stat st;
    return stat(p, &st) ? 0 : (size_t)st.st_size;
}

/* Message text of every request the fake upstream received after byte offset `from` of its log. */
static char *upstream_text_since(size_t from) {
    size_t n;
    char *raw = tu_read_file(fake_log, &n);
    if (!raw) return strdup("");
    size_t cap = n + 1, o = 0;
    char *out = malloc(cap * 2 + 1);
    out[0] = 0;
    char *save, *line = strtok_r(raw + (from < n ? from : n), "\n", &save);
    for (; line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *body = json_object_get(j, "body");
        /* raw line too: catches values outside message contents */
        size_t l = strlen(line);
        if (o + l + 2 < cap * 2) { memcpy(out + o, line, l); o += l; out[o++] = '\n'; }
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(body, "messages"), i, m) {
            const char *c = json_string_value(json_object_get(m, "content"));
            if (c && o + strlen(c) + 2 < cap * 2) { memcpy(out + o, c, strlen(c)); o += strlen(c); out[o++] = '\n'; }
        }
        json_decref(j);
    }
    out[o] = 0;
    free(raw);
    return out;
}

/* A planted value leaked if it, or (for long values) its middle, appears. */
static bool leaked(const char *hay, const char *v) {
    if (strstr(hay, v)) return true;
    size_t l = strlen(v);
    if (l >= 16) {
        char mid[16];
        memcpy(mid, v + l / 2 - 5, 10);
        mid[10] = 0;
        if (strstr(hay, mid)) return true;
    }
    return false;
}

static void start_fake(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hearth_router_test.%d", (int)getpid());
    mkdir(tmpdir, 0700);
    snprintf(fake_log, sizeof fake_log, "%s/upstream.jsonl", tmpdir);
    char port_file[300];
    snprintf(port_file, sizeof port_file, "%s/port", tmpdir);
    fake_pid = fork();
    if (fake_pid == 0) {
        execlp("python3", "python3", "tests/router/fake_upstream.py", "--port-file", port_file, "--log", fake_log,
               "--slow", "4", "--lifetime", "240", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !port; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) { if (fscanf(f, "%d", &port) != 1) port = 0; fclose(f); }
        if (!port) usleep(50000);
    }
}

static void stop_fake(void) {
    if (fake_pid > 0) { kill(fake_pid, SIGTERM); waitpid(fake_pid, NULL, 0); }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) {}
}

/* ------------------------------------------------------------ route files */

static const char minimal_yaml[] =
    "upstreams:\n"
    "  - name: cloud\n"
    "    base_url: http://127.0.0.1:%d/echo/v1   # any OpenAI-compatible endpoint\n"
    "    model: big-model\n"
    "    api_key_env: CLOUD_API_KEY\n"
    "route:\n"
    "  default: cloud         # where a request goes when no rule matches: local, cloud or auto\n"
    "  on_sensitive: local    # a request with secrets or personal data: local, redact or block\n";

static void test_config(void) {
    char err[512];
    char yaml[2048];
    snprintf(yaml, sizeof yaml, minimal_yaml, 1);
    route_config *c = route_config_parse(yaml, strlen(yaml), "min.yaml", err, sizeof err);
    CHECK(c && c->n_up == 1 && c->def.kind == TARGET_CLOUD && c->on_sensitive == SENSITIVE_LOCAL, "%s", err);
    CHECK(c && !strcmp(c->up[0].api_key_env, "CLOUD_API_KEY") && !strcmp(c->up[0].model, "big-model"));
    route_config_free(c);

    /* the documented full example parses */
    size_t n;
    char *doc = tu_read_file("docs/router.md", &n);
    CHECK(doc != NULL, "docs/router.md");
    const char *a = doc ? strstr(doc, "```yaml\n# full example") : NULL;
    CHECK(a != NULL, "docs/router.md has the full example");
    if (a) {
        a += 8;
        const char *e = strstr(a, "```");
        c = route_config_parse(a, (size_t)(e - a), "docs/router.md", err, sizeof err);
        CHECK(c && c->n_up == 2 && c->n_rules >= 4, "%s", c ? "counts" : err);
        route_config_free(c);
    }
    free(doc);

    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"upstreams:\n  - name: c\n    base_url: http://h/v1\n    model: m\n    api_key: sk-123\n", "test.yaml:5:5: keys never go in the route file"},
        {"route:\n  default: clowd\n", "test.yaml:2:12: route.default must be local, cloud, auto or an upstream's name, got 'clowd'"},
        {"route:\n  on_sensitive: maybe\n", "test.yaml:2:17: route.on_sensitive must be local, redact or block"},
        {"upstreams:\n  - name: c\n    base_url: ftp://h\n    model: m\n", "test.yaml:2:5: base_url must start with http:// or https://"},
        {"route:\n  default: local\n  rulez: []\n", "test.yaml:3:3: unknown key 'rulez' in route"},
        {"route:\n  rules:\n    - name: r\n      when: {model: x}\n", "test.yaml:3:7: rule r needs 'to'"},
        {"route:\n  rules:\n    - to: local\n      when:\n        min_prompt_tokens: lots\n", "test.yaml:5:28: min_prompt_tokens must be a number"},
        {"upstreams:\n  - name: c\n    base_url: http://h/v1\n    model: m\n    timeouts: {idle: -3}\n", "test.yaml:5:22: timeouts.idle must be a positive duration"},
        {"privacy:\n  detectors:\n    emails: off\n", "test.yaml:3:5: unknown detector 'emails'"},
        {"route:\n  default: [local\n", "test.yaml:3:1: did not find expected"},
        {"upstreams:\n  - {name: a, base_url: 'http://h', model: m}\n  - {name: a, base_url: 'http://h', model: m}\n", "test.yaml:3:5: two upstreams are named 'a'"},
        {"route:\n  default: cloud\n", "route.default is cloud but no upstreams are defined"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        c = route_config_parse(bad[i].yaml, strlen(bad[i].yaml), "test.yaml", err, sizeof err);
        CHECK(!c && strstr(err, bad[i].want), "bad file %zu: got '%s', want '%s'", i, err, bad[i].want);
        route_config_free(c);
    }
    c = route_config_load("/nonexistent/routes.yaml", err, sizeof err);
    CHECK(!c && strstr(err, "No such file"), "%s", err);
}

/* ------------------------------------------------------------ policy */

static const char policy_yaml[] =
    "upstreams:\n"
    "  - {name: big, base_url: 'http://127.0.0.1:%d/ok/v1', model: big-model}\n"
    "  - {name: other, base_url: 'http://127.0.0.1:%d/ok/v1', model: other-model}\n"
    "local: {context: 2048}\n"
    "route:\n"
    "  default: auto\n"
    "  rules:\n"
    "    - name: gpt-names\n"
    "      when: {model: ['gpt-4*', 'o?']}\n"
    "      to: other\n"
    "    - name: incident\n"
    "      when: {keywords: [postmortem]}\n"
    "      to: cloud\n"
    "    - name: big-code\n"
    "      when: {min_code_lines: 50}\n"
    "      to: big\n";

static void decide(const route_config *c, const char *model, const char *task, long tokens, route_decision *d) {
    route_request rq = {.model = model, .task = task, .task_len = strlen(task), .hint_upstream = -1,
                        .prompt_tokens = tokens ? tokens : route_estimate_tokens(strlen(task)),
                        .code_lines = route_code_lines(task, strlen(task)), .max_tokens = -1};
    route_decide(c, &rq, d);
}

static void test_policy(void) {
    char err[256], yaml[2048];
    snprintf(yaml, sizeof yaml, policy_yaml, 1, 1);
    route_config *c = route_config_parse(yaml, strlen(yaml), "p.yaml", err, sizeof err);
    CHECK(c != NULL, "%s", err);
    if (!c) return;
    route_decision d;
    static const struct {
        const char *task;
        route_target_kind want;
    } autos[] = {
        {"Write a regex that matches ISO dates", TARGET_LOCAL},
        {"Convert this JSON to TypeScript interfaces: {\"a\": 1}", TARGET_LOCAL},
        {"Write a Dockerfile for a Flask app", TARGET_LOCAL},
        {"Explain this error: KeyError: 'id' in line 3", TARGET_LOCAL},
        {"Parse this log line and extract the status code: 127.0.0.1 - GET / 200", TARGET_LOCAL},
        {"Fix the indentation in this YAML file", TARGET_LOCAL},
        {"hi, what's up?", TARGET_LOCAL},
        {"Design a distributed, highly available system architecture for a global payments platform", TARGET_CLOUD},
        {"Walk me through the trade-offs of event sourcing vs CRUD for our migration plan, step by step", TARGET_CLOUD},
        {"Prove that the algorithm terminates and reason through each invariant in depth", TARGET_CLOUD},
    };
    for (size_t i = 0; i < sizeof autos / sizeof *autos; i++) {
        decide(c, "", autos[i].task, 0, &d);
        CHECK(d.target.kind == autos[i].want && !strcmp(d.rule, "default") && !strncmp(d.reason, "auto:", 5),
              "auto '%s' -> %s (%s)", autos[i].task, route_target_name(c, d.target), d.reason);
    }
    decide(c, "", "summarise this", 5000, &d); /* does not fit 2048 */
    CHECK(d.target.kind == TARGET_CLOUD && strstr(d.reason, "exceed the local context"), "%s", d.reason);
    decide(c, "gpt-4o-mini", "write a regex", 0, &d);
    CHECK(d.target.kind == TARGET_UPSTREAM && d.target.upstream == 1 && !strcmp(d.rule, "gpt-names"), "%s", d.reason);
    decide(c, "o1", "x", 0, &d);
    CHECK(!strcmp(d.rule, "gpt-names"));
    decide(c, "o12", "x", 0, &d);
    CHECK(!strcmp(d.rule, "default"), "glob o? must not match o12");
    decide(c, "", "Draft the POSTMORTEM for yesterday", 0, &d);
    CHECK(d.target.kind == TARGET_CLOUD && !strcmp(d.rule, "incident") && strstr(d.reason, "line 11"), "%s", d.reason);
    char code[4096] = "Review this:\n```c\n";
    for (int i = 0; i < 60; i++) strcat(code, "x++;\n");
    strcat(code, "```\n");
    decide(c, "", code, 0, &d);
    CHECK(d.target.kind == TARGET_UPSTREAM && !strcmp(d.rule, "big-code") && strstr(d.reason, "60 code lines"), "%s", d.reason);
    route_request rq = {.model = "", .task = "write a regex", .task_len = 13, .hint = HINT_CLOUD, .hint_upstream = -1, .hint_source = "marker"};
    route_decide(c, &rq, &d);
    CHECK(d.target.kind == TARGET_CLOUD && !strcmp(d.rule, "hint:marker"));
    CHECK(route_glob("gpt-*", "GPT-4o") && !route_glob("gpt-*", "claude"));
    CHECK_EQ_INT(route_code_lines("a\n```\nx\ny\n```\nb", 15), 2);
    route_config_free(c);
}

/* ------------------------------------------------------------ breaker */

static void test_breaker(void) {
    breaker b;
    breaker_init(&b, 2, 10);
    CHECK(breaker_allow(&b, 0));
    breaker_record(&b, false, 0);
    CHECK(breaker_allow(&b, 1) && breaker_get(&b, 1) == BREAKER_CLOSED);
    breaker_record(&b, false, 1);
    CHECK(breaker_get(&b, 1) == BREAKER_OPEN && !breaker_allow(&b, 5));
    CHECK(breaker_allow(&b, 11) && breaker_get(&b, 11) == BREAKER_HALF_OPEN); /* the probe */
    CHECK(!breaker_allow(&b, 11.5), "one probe at a time");
    breaker_record(&b, false, 12);
    CHECK(breaker_get(&b, 12) == BREAKER_OPEN && !breaker_allow(&b, 21) && breaker_allow(&b, 22.5));
    breaker_record(&b, true, 23);
    CHECK(breaker_get(&b, 23) == BREAKER_CLOSED && breaker_allow(&b, 23));
    breaker_record(&b, false, 24);
    breaker_record(&b, true, 24);
    breaker_record(&b, false, 25);
    CHECK(breaker_get(&b, 25) == BREAKER_CLOSED, "failures must be consecutive");
    breaker_destroy(&b);
}

/* ------------------------------------------------------------ corpus: recall and false positives */

typedef struct {
    char *prompt;
    char *kinds[8], *values[8];
    int n;
} sample;

static sample *load_corpus(const char *path, int *count) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    sample *v = NULL;
    int n = 0, cap = 0;
    char *line = NULL;
    size_t lc = 0;
    while (getline(&line, &lc, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        if (n == cap) v = realloc(v, sizeof *v * (size_t)(cap = cap ? cap * 2 : 256));
        sample *s = &v[n++];
        memset(s, 0, sizeof *s);
        s->prompt = strdup(json_string_value(json_object_get(o, "prompt")));
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(o, "planted"), i, p) {
            if (s->n == 8) break;
            s->kinds[s->n] = strdup(json_string_value(json_object_get(p, "kind")));
            s->values[s->n++] = strdup(json_string_value(json_object_get(p, "value")));
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    *count = n;
    return v;
}

static void free_corpus(sample *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].prompt);
        for (int k = 0; k < v[i].n; k++) { free(v[i].kinds[k]); free(v[i].values[k]); }
    }
    free(v);
}

/* held_out: the set the detectors were not tuned on: report, and fail only on a large regression */
static void test_corpus_detection(const char *name, sample *v, int n, bool held_out) {
    int planted[GUARD_N_KINDS] = {0}, found[GUARD_N_KINDS] = {0};
    int total = 0, hit = 0, neg = 0, neg_flagged = 0, extra = 0, findings = 0;
    const char *tag = held_out ? "  held-out (reported, not a failure): " : "  ";
    for (int i = 0; i < n; i++) {
        guard_list l = {0};
        guard_scan(NULL, v[i].prompt, strlen(v[i].prompt), &l);
        findings += (int)l.n;
        if (!v[i].n) {
            neg++;
            if (l.n) {
                neg_flagged++;
                fprintf(stderr, "%sfalse positive: %s \"%.*s\" in: %.80s\n", tag, guard_kind_name(l.v[0].kind), (int)l.v[0].len,
                        v[i].prompt + l.v[0].start, v[i].prompt);
            }
        }
        for (int k = 0; k < v[i].n; k++) {
            int kind = guard_kind_from_name(v[i].kinds[k]);
            const char *at = strstr(v[i].prompt, v[i].values[k]);
            size_t off = at ? (size_t)(at - v[i].prompt) : 0, len = strlen(v[i].values[k]);
            bool ok = false;
            for (size_t f = 0; at && f < l.n; f++) ok |= l.v[f].start <= off && l.v[f].start + l.v[f].len >= off + len;
            planted[kind]++;
            total++;
            if (ok) { found[kind]++; hit++; }
            else fprintf(stderr, "%smissed %s: %.60s in: %.100s\n", tag, v[i].kinds[k], v[i].values[k], v[i].prompt);
        }
        /* findings that cover no planted value */
        for (size_t f = 0; f < l.n && v[i].n; f++) {
            bool covers = false;
            for (int k = 0; k < v[i].n; k++) /* any occurrence of a planted value, or a piece of one */
                covers |= memmem(v[i].values[k], strlen(v[i].values[k]), v[i].prompt + l.v[f].start, l.v[f].len) != NULL ||
                          memmem(v[i].prompt + l.v[f].start, l.v[f].len, v[i].values[k], strlen(v[i].values[k])) != NULL;
            if (!covers) {
                extra++;
                fprintf(stderr, "%sextra finding: %s \"%.*s\"\n", tag, guard_kind_name(l.v[f].kind), (int)l.v[f].len, v[i].prompt + l.v[f].start);
            }
        }
        guard_list_free(&l);
    }
    printf("guard %s: %d prompts, %d planted values, %d look-alike prompts\n", name, n, total, neg);
    printf("  recall by kind:");
    for (int k = 0; k < GUARD_N_KINDS; k++) printf(" %s %d/%d%s", guard_kind_name(k), found[k], planted[k], k + 1 < GUARD_N_KINDS ? "," : "\n");
    printf("  recall %.1f%% (%d/%d); look-alike prompts flagged %.1f%% (%d/%d); findings on no planted value %d of %d\n",
           100.0 * hit / (total ? total : 1), hit, total, 100.0 * neg_flagged / (neg ? neg : 1), neg_flagged, neg, extra, findings);
    if (held_out) {
        CHECK(hit * 10 >= total * 9, "held-out recall below 90%%");
        CHECK(neg_flagged * 10 <= neg, "held-out false-positive rate above 10%%");
        return;
    }
    for (int k = 0; k < GUARD_N_KINDS; k++) CHECK(planted[k] >= 10, "kind %s has only %d samples", guard_kind_name(k), planted[k]);
    CHECK(total >= 200);
    CHECK(hit == total, "recall must be 100%% on the corpus");
    CHECK(neg_flagged * 100 <= neg * 2, "false-positive rate above 2%%");
}

static const char leak_yaml[] =
    "upstreams:\n"
    "  - {name: cloud, base_url: 'http://127.0.0.1:%d/echo/v1', model: big-model}\n"
    "route:\n"
    "  default: cloud\n"
    "  on_sensitive: %s\n";

static void test_corpus_routing(sample *v, int n, const char *action) {
    char fmt[1024];
    snprintf(fmt, sizeof fmt, leak_yaml, port, action);
    char audit[300];
    snprintf(audit, sizeof audit, "%s/audit-%s.jsonl", tmpdir, action);
    /* make_router formats with %d ports; this fmt has none left */
    char err[512];
    route_config *c = route_config_parse(fmt, strlen(fmt), "leak.yaml", err, sizeof err);
    CHECK(c != NULL, "%s", err);
    if (!c) return;
    router *r = router_new(c, err, sizeof err);
    if (!r || !router_set_audit(r, audit, err, sizeof err)) { CHECK(false, "%s", err); router_free(r); return; }
    size_t from = file_size(fake_log);
    int local = 0, cloud = 0, restored = 0, positives = 0, neg_cloud = 0, neg = 0;
    for (int i = 0; i < n; i++) {
        char *req = chat_json("", v[i].prompt);
        answer a;
        router_result res;
        int rc = ask(r, req, &a, &res);
        CHECK(rc == 0 && res.http_status == 200, "%s: rc %d %s", action, rc, res.error);
        if (v[i].n) {
            positives++;
            if (!strcmp(res.route, "local")) local++;
            else {
                cloud++;
                /* echo: the answer is "ECHO: " + the prompt as sent; restored it must equal the original */
                bool same = a.text && !strncmp(a.text, "ECHO: ", 6) && !strcmp(a.text + 6, v[i].prompt);
                restored += same;
                if (!same) fprintf(stderr, "  not restored: %.200s\n", a.text ? a.text : "(none)");
            }
        } else {
            neg++;
            neg_cloud += !strncmp(res.route, "cloud:", 6);
        }
        router_result_free(&res);
        free(a.text);
        free(req);
    }
    char *sent = upstream_text_since(from);
    int leaks = 0, planted = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < v[i].n; k++) {
            planted++;
            if (leaked(sent, v[i].values[k])) { leaks++; fprintf(stderr, "  LEAK (%s): %s\n", action, v[i].values[k]); }
        }
    size_t an;
    char *log = tu_read_file(audit, &an);
    int audit_leaks = 0, lines = 0;
    for (int i = 0; log && i < n; i++)
        for (int k = 0; k < v[i].n; k++) audit_leaks += leaked(log, v[i].values[k]);
    for (size_t i = 0; log && i < an; i++) lines += log[i] == '\n';
    printf("on_sensitive %s: %d planted values, %d reached the upstream; %d/%d sensitive prompts local, %d cloud "
           "(%d answers restored); %d/%d look-alike prompts went to the cloud\n",
           action, planted, leaks, local, positives, cloud, restored, neg_cloud, neg);
    CHECK(leaks == 0, "%d planted values reached the upstream under %s", leaks, action);
    CHECK(audit_leaks == 0 && lines == n, "audit: %d leaks, %d lines for %d requests", audit_leaks, lines, n);
    if (!strcmp(action, "local")) CHECK(local == positives);
    else CHECK(cloud == positives && restored == positives, "redact: %d cloud, %d restored of %d", cloud, restored, positives);
    free(log);
    free(sent);
    router_free(r);
}

/* ------------------------------------------------------------ failover */

static const char faults_yaml[] =
    "upstreams:\n"
    "  - name: cloud\n"
    "    base_url: http://127.0.0.1:%d/MODE/v1\n"
    "    model: big-model\n"
    "    timeouts: {connect: 1, total: 10, idle: 1}\n"
    "route: {default: cloud}\n"
    "breaker: {failures: 100, cooldown: 1}\n";

static void test_faults(void) {
    static const struct {
        const char *mode;
        bool fails, partial;
        const char *status;
    } modes[] = {
        {"ok", false, false, NULL},         {"json", false, false, NULL},
        {"err500", true, false, "http_error"}, {"slow", true, false, "timeout"},
        {"stall", true, true, "timeout"},   {"truncated", true, true, "truncated"},
        {"malformed", true, true, "malformed"}, {"errstream", true, true, "http_error"},
        {"auth", true, false, "http_error"}, {"DOWN", true, false, "unreachable"},
    };
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        char yaml[1024], err[256];
        snprintf(yaml, sizeof yaml, faults_yaml, !strcmp(modes[i].mode, "DOWN") ? 9 : port);
        char *m = strstr(yaml, "MODE");
        char fixed[1100];
        snprintf(fixed, sizeof fixed, "%.*s%s%s", (int)(m - yaml), yaml, modes[i].mode, m + 4);
        route_config *c = route_config_parse(fixed, strlen(fixed), "faults.yaml", err, sizeof err);
        router *r = c ? router_new(c, err, sizeof err) : NULL;
        if (r) router_set_audit(r, "off", err, sizeof err);
        CHECK(r != NULL, "%s", err);
        if (!r) continue;
        char *req = chat_json("", "say hello");
        answer a;
        router_result res;
        double t0 = breaker_now();
        int rc = ask(r, req, &a, &res);
        double dt = breaker_now() - t0;
        CHECK(rc == 0 && a.text && a.len > 0, "%s: not answered (rc %d, %s)", modes[i].mode, rc, res.error);
        CHECK(dt < 5, "%s: took %.1f s", modes[i].mode, dt);
        if (modes[i].fails) {
            CHECK(!strcmp(res.route, "local") && a.local_calls == 1 && strstr(res.failover, modes[i].status),
                  "%s: route %s, failover '%s'", modes[i].mode, res.route, res.failover);
            CHECK(strstr(res.hearth_json, "\"failover\""), "%s: %s", modes[i].mode, res.hearth_json);
            if (modes[i].partial) {
                /* the cloud had begun: the local model continues the same answer */
                CHECK(a.got_prefix && !strcmp(a.prefix, "Hello from"), "%s: prefix '%s'", modes[i].mode, a.prefix);
                CHECK(a.text && !strcmp(a.text, "Hello from [local answer]"), "%s: text '%s'", modes[i].mode, a.text);
            } else {
                CHECK(!a.got_prefix && a.text && !strcmp(a.text, " [local answer]"), "%s: '%s'", modes[i].mode, a.text);
                CHECK(!strcmp(a.route, "local") && a.n_route_calls == 2, "%s: header route %s", modes[i].mode, a.route);
            }
        } else {
            CHECK(!strcmp(res.route, "cloud:cloud") && a.local_calls == 0 && a.text && !strcmp(a.text, "Hello from the cloud."),
                  "%s: %s '%s'", modes[i].mode, res.route, a.text ? a.text : "");
            CHECK(!strcmp(a.route, "cloud:cloud") && strstr(res.hearth_json, "\"route\":\"cloud:cloud\""), "%s", res.hearth_json);
        }
        router_result_free(&res);
        free(a.text);
        free(req);
        router_free(r);
    }
}

static int upstream_requests(void) {
    size_t n;
    char *raw = tu_read_file(fake_log, &n);
    int k = 0;
    for (size_t i = 0; raw && i < n; i++) k += raw[i] == '\n';
    free(raw);
    return k;
}

static void test_breaker_live(void) {
    static const char yaml[] =
        "upstreams:\n"
        "  - {name: flaky, base_url: 'http://127.0.0.1:%d/err500/v1', model: m, timeouts: {idle: 1}}\n"
        "route: {default: cloud}\n"
        "breaker: {failures: 2, cooldown: 1}\n"
        "audit: {path: 'off'}\n";
    router *r = make_router(yaml, "off");
    if (!r) return;
    char *req = chat_json("", "hello");
    answer a;
    router_result res;
    int before = upstream_requests();
    for (int i = 0; i < 2; i++) {
        ask(r, req, &a, &res);
        CHECK(strstr(res.failover, "http_error"), "%s", res.failover);
        router_result_free(&res);
        free(a.text);
    }
    CHECK_EQ_INT(upstream_requests() - before, 2);
    ask(r, req, &a, &res);
    CHECK(strstr(res.failover, "circuit breaker open") && a.local_calls == 1 && a.n_route_calls == 1, "%s", res.failover);
    CHECK_EQ_INT(upstream_requests() - before, 2); /* not called while open */
    router_result_free(&res);
    free(a.text);
    usleep(1100000);
    ask(r, req, &a, &res); /* half-open: one probe goes out, fails, opens again */
    CHECK_EQ_INT(upstream_requests() - before, 3);
    router_result_free(&res);
    free(a.text);
    ask(r, req, &a, &res);
    CHECK(strstr(res.failover, "circuit breaker open"), "%s", res.failover);
    CHECK_EQ_INT(upstream_requests() - before, 3);
    router_result_free(&res);
    free(a.text);
    free(req);
    router_free(r);
}

/* ------------------------------------------------------------ hints, block, keys, audit, stats */

static void test_requests(void) {
    static const char yaml[] =
        "upstreams:\n"
        "  - {name: cloud, base_url: 'http://127.0.0.1:%d/echo/v1', model: big-model}\n"
        "  - {name: keyed, base_url: 'http://127.0.0.1:%d/auth/v1', model: k, api_key_env: HEARTH_TEST_KEY,\n"
        "     price: {input: 3, output: 15}}\n"
        "route:\n"
        "  default: auto\n"
        "  on_sensitive: local\n"
        "  rules:\n"
        "    - name: strict\n"
        "      when: {keywords: [payroll]}\n"
        "      to: cloud\n"
        "      on_sensitive: block\n"
        "    - name: scrub\n"
        "      when: {keywords: [scrub]}\n"
        "      to: cloud\n"
        "      on_sensitive: redact\n";
    char audit[300];
    snprintf(audit, sizeof audit, "%s/audit-requests.jsonl", tmpdir);
    router *r = make_router(yaml, audit);
    if (!r) return;
    answer a;
    router_result res;
    size_t from = file_size(fake_log);

    /* hint as model name: forced cloud for a chore; the hint never reaches the upstream */
    char *req = chat_json("hearth:cloud", "write a regex for dates");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "cloud:cloud") && !strcmp(res.rule, "hint:model"), "%s %s", res.route, res.rule);
    router_result_free(&res); free(a.text); free(req);
    /* marker in the prompt: stripped before sending */
    req = chat_json("", "[hearth:cloud] write a regex for dates");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "cloud:cloud") && !strcmp(res.rule, "hint:marker"), "%s %s", res.route, res.rule);
    CHECK(a.text && !strcmp(a.text, "ECHO: write a regex for dates"), "marker not stripped: %s", a.text);
    router_result_free(&res); free(a.text); free(req);
    req = chat_json("gpt-4o", "Design a distributed system architecture please hearth:local");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "local") && !strcmp(res.rule, "hint:marker"), "%s %s", res.route, res.rule);
    router_result_free(&res); free(a.text); free(req);
    req = chat_json("hearth:cloud:nope", "x");
    CHECK(ask(r, req, &a, &res) < 0 && res.http_status == 400 && strstr(res.error, "nope"), "%s", res.error);
    router_result_free(&res); free(a.text); free(req);
    /* auto */
    req = chat_json("", "Design a distributed system architecture with trade-offs for a global bank");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "cloud:cloud") && strstr(res.reason, "auto: big task"), "%s", res.reason);
    router_result_free(&res); free(a.text); free(req);
    req = chat_json("", "Write a Dockerfile for a Go service");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "local") && strstr(res.reason, "auto: chore (dockerfile)"), "%s", res.reason);
    router_result_free(&res); free(a.text); free(req);

    /* sensitive: default local; rule block (403, nothing sent); rule redact */
    req = chat_json("", "Design the architecture, contact me at maria.garcia@mailbox.org");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "local") && strstr(res.reason, "kept local: email x1") && !strcmp(res.action, "local"), "%s", res.reason);
    CHECK(strstr(res.hearth_json, "\"sensitive\":{\"email\":1}"), "%s", res.hearth_json);
    router_result_free(&res); free(a.text); free(req);
    req = chat_json("", "payroll for SSN 536-22-8170");
    CHECK(ask(r, req, &a, &res) < 0 && res.http_status == 403 && strstr(res.error, "ssn x1") && !strstr(res.error, "8170"), "%s", res.error);
    CHECK(a.local_calls == 0 && !a.text);
    router_result_free(&res); free(a.text); free(req);
    req = chat_json("", "scrub: mail maria.garcia@mailbox.org and maria.garcia@mailbox.org, key AKIA2E0A8F3B244C9986");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "cloud:cloud") && !strcmp(res.action, "redact"), "%s %s", res.route, res.action);
    CHECK(a.text && !strcmp(a.text, "ECHO: scrub: mail maria.garcia@mailbox.org and maria.garcia@mailbox.org, key AKIA2E0A8F3B244C9986"), "%s", a.text);
    router_result_free(&res); free(a.text); free(req);
    char *sent = upstream_text_since(from);
    CHECK(strstr(sent, "scrub: mail <EMAIL_1> and <EMAIL_1>, key <SECRET_1>"), "upstream saw: %.300s", sent);
    CHECK(!strstr(sent, "hearth:") && !strstr(sent, "mailbox.org") && !strstr(sent, "8170"), "%.500s", sent);
    free(sent);

    /* content parts and tool-call arguments are scanned too */
    const char *parts = "{\"model\":\"hearth:cloud\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]},"
                        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"1\",\"type\":\"function\",\"function\":"
                        "{\"name\":\"f\",\"arguments\":\"{\\\"to\\\": \\\"olga.ivanova@proton.me\\\"}\"}}]},"
                        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}]}";
    ask(r, parts, &a, &res);
    CHECK(!strcmp(res.route, "local") && res.findings.n[GUARD_EMAIL] == 1, "%s", res.route);
    router_result_free(&res); free(a.text);
    CHECK(ask(r, "{\"messages\": 3}", &a, &res) < 0 && res.http_status == 400);
    router_result_free(&res); free(a.text);
    CHECK(ask(r, "not json", &a, &res) < 0 && res.http_status == 400 && strstr(res.error, "messages"), "%s", res.error);
    router_result_free(&res); free(a.text);

    /* API key from the environment: missing -> failover; present -> accepted; never logged */
    unsetenv("HEARTH_TEST_KEY");
    req = chat_json("hearth:cloud:keyed", "hello");
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "local") && strstr(res.failover, "HEARTH_TEST_KEY") && strstr(res.failover, "not set"), "%s", res.failover);
    router_result_free(&res); free(a.text);
    setenv("HEARTH_TEST_KEY", "test-key-123", 1);
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "cloud:keyed") && a.text && !strcmp(a.text, "Hello from the cloud."), "%s %s", res.route, res.failover);
    router_result_free(&res); free(a.text);
    setenv("HEARTH_TEST_KEY", "wrong-key-456", 1);
    ask(r, req, &a, &res);
    CHECK(!strcmp(res.route, "local") && strstr(res.failover, "HTTP 401"), "%s", res.failover);
    router_result_free(&res); free(a.text); free(req);
    router_free(r);

    size_t n;
    char *log = tu_read_file(audit, &n);
    CHECK(log && !strstr(log, "test-key-123") && !strstr(log, "wrong-key-456") && !strstr(log, "mailbox.org") &&
          !strstr(log, "8170") && !strstr(log, "AKIA2E0A8F3B244C9986") && !strstr(log, "proton.me"), "audit log leaks");
    CHECK(log && strstr(log, "\"status\":\"blocked\"") && strstr(log, "\"sensitive\":{\"aws_key\":1,\"email\":2}") &&
          strstr(log, "\"action\":\"redact\""), "audit content");
    /* the summary of this log */
    FILE *f = fopen(audit, "r");
    audit_summary s;
    CHECK(f && audit_summarise(f, &s));
    if (f) fclose(f);
    CHECK(s.requests == 15 && s.blocked == 1 && s.errors == 3 && s.bad_lines == 0 && s.cloud >= 4 && s.local >= 5,
          "summary: %ld requests %ld blocked %ld errors %ld cloud %ld local", s.requests, s.blocked, s.errors, s.cloud, s.local);
    CHECK(s.cloud_cost > 0, "keyed upstream has a price");
    audit_prices p = {.cloud_in = 1e6, .cloud_out = 0};
    CHECK(audit_saved(&s, &p) == (double)s.local_in);
    free(log);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    test_config();
    test_policy();
    test_breaker();
    int n = 0;
    sample *corpus = load_corpus("tests/router/corpus.jsonl", &n);
    CHECK(corpus && n >= 300, "corpus");
    if (corpus) test_corpus_detection("corpus", corpus, n, false);
    int nh = 0;
    sample *held = load_corpus("tests/router/heldout.jsonl", &nh);
    CHECK(held && nh >= 60, "held-out set");
    if (held) test_corpus_detection("held-out set", held, nh, true);
    free_corpus(held, nh);
    start_fake();
    CHECK(port > 0, "the fake upstream did not start");
    if (port > 0) {
        if (corpus) {
            test_corpus_routing(corpus, n, "local");
            test_corpus_routing(corpus, n, "redact");
        }
        test_faults();
        test_breaker_live();
        test_requests();
    }
    stop_fake();
    free_corpus(corpus, n);
    TEST_SUMMARY("test_router");
}
