/* test_jinja.c — the Jinja engine and chat rendering against Python jinja2.
 *   1. every template in ../shared/data/templates × every conversation in tests/fixtures/templates renders
 *      byte-identically to the outputs make_expected.py wrote with Python (or fails where Python raised,
 *      with the same message for raise_exception);
 *   2. language unit cases (tests/fixtures/templates/unit_cases.json, expectations also from Python);
 *   3. C-side checks: error messages name the construct and line, hostile templates stay bounded,
 *      built-in fallback templates, the value API. */
#include <jansson.h>
#include <time.h>

#include "chat.h"
#include "hearth.h"
#include "jinja.h"
#include "testutil.h"

#define FIX "tests/fixtures/templates/"

static int64_t fixed_now(const char *iso) {
    struct tm tm = {0};
    if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* First differing byte, for failure messages. */
static void show_diff(const char *what, const char *got, size_t glen, const char *want, size_t wlen) {
    size_t i = 0;
    while (i < glen && i < wlen && got[i] == want[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "  %s: first difference at byte %zu (got %zu bytes, want %zu)\n", what, i, glen, wlen);
    fprintf(stderr, "  got:  [%.*s]\n", (int)((glen - from) < 120 ? glen - from : 120), got + from);
    fprintf(stderr, "  want: [%.*s]\n", (int)((wlen - from) < 120 ? wlen - from : 120), want + from);
}

typedef struct {
    char name[128];
    int pass, fail;
} tstat;

static void fixture_tests(int64_t now) {
    json_error_t jerr;
    json_t *manifest = json_load_file(FIX "manifest.json", 0, &jerr);
    CHECK(manifest != NULL, "manifest.json: %s", jerr.text);
    if (!manifest) return;
    json_t *cases = json_object_get(manifest, "cases");
    tstat stats[64];
    int nstats = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *tfile = json_string_value(json_object_get(c, "template"));
        const char *conv = json_string_value(json_object_get(c, "conversation"));
        char path[1024];
        snprintf(path, sizeof path, "%s/data/templates/%s", tu_shared_dir(), tfile);
        char *source = tu_read_file(path, NULL);
        CHECK(source != NULL, "cannot read %s", path);
        if (!source) continue;
        snprintf(path, sizeof path, FIX "conversations/%s.json", conv);
        json_t *cj = json_load_file(path, 0, &jerr);
        CHECK(cj != NULL, "%s: %s", path, jerr.text);
        if (!cj) { free(source); continue; }
        char *messages = json_dumps(json_object_get(cj, "messages"), JSON_COMPACT);
        json_t *tj = json_object_get(cj, "tools");
        char *tools = tj && !json_is_null(tj) ? json_dumps(tj, JSON_COMPACT) : NULL;
        json_t *kj = json_object_get(cj, "kwargs");
        char *extra = kj ? json_dumps(kj, JSON_COMPACT) : NULL;
        chat_request req = {
            .messages_json = messages,
            .tools_json = tools,
            .extra_json = extra,
            .add_generation_prompt = json_is_true(json_object_get(c, "add_generation_prompt")),
            .bos_token = json_string_value(json_object_get(c, "bos_token")),
            .eos_token = json_string_value(json_object_get(c, "eos_token")),
            .now = now,
        };
        size_t len = 0;
        char *out = chat_render(source, NULL, &req, &len);
        const char *exp_rel = json_string_value(json_object_get(c, "expected"));
        bool ok;
        if (exp_rel) {
            snprintf(path, sizeof path, FIX "%s", exp_rel);
            size_t wlen = 0;
            char *want = tu_read_file(path, &wlen);
            ok = out && want && len == wlen && memcmp(out, want, len) == 0;
            if (!ok) {
                fprintf(stderr, "FAIL %s × %s (agp=%d): %s\n", tfile, conv, req.add_generation_prompt,
                        out ? "output differs" : hearth_last_error());
                if (out && want) show_diff("render", out, len, want, wlen);
            }
            free(want);
        } else {
            const char *etype = json_string_value(json_object_get(c, "error_type"));
            const char *emsg = json_string_value(json_object_get(c, "error"));
            ok = out == NULL;
            /* raise_exception's message must come through unchanged */
            if (ok && !strcmp(etype, "TemplateError")) ok = ends_with(hearth_last_error(), emsg);
            if (!ok)
                fprintf(stderr, "FAIL %s × %s (agp=%d): Python raised %s: %s; got %s\n", tfile, conv,
                        req.add_generation_prompt, etype, emsg, out ? "output" : hearth_last_error());
        }
        CHECK(ok, "%s × %s", tfile, conv);
        int k = 0;
        while (k < nstats && strcmp(stats[k].name, tfile)) k++;
        if (k == nstats && nstats < 64) {
            snprintf(stats[nstats].name, sizeof stats[nstats].name, "%s", tfile);
            stats[nstats].pass = stats[nstats].fail = 0;
            nstats++;
        }
        if (k < nstats) { if (ok) stats[k].pass++; else stats[k].fail++; }
        free(out);
        free(messages);
        free(tools);
        free(extra);
        json_decref(cj);
        free(source);
    }
    for (int k = 0; k < nstats; k++)
        printf("  %-48s %3d/%d byte-identical\n", stats[k].name, stats[k].pass, stats[k].pass + stats[k].fail);
    json_decref(manifest);
}

/* ------------------------------------------------------------ unit cases */

static jinja_value to_value(json_t *j) {
    switch (json_typeof(j)) {
    case JSON_NULL: return jinja_none();
    case JSON_TRUE: return jinja_bool(true);
    case JSON_FALSE: return jinja_bool(false);
    case JSON_INTEGER: return jinja_int(json_integer_value(j));
    case JSON_REAL: return jinja_float(json_real_value(j));
    case JSON_STRING: return jinja_string(json_string_value(j), json_string_length(j));
    case JSON_ARRAY: {
        jinja_value l = jinja_list();
        size_t i;
        json_t *x;
        json_array_foreach(j, i, x) jinja_list_append(l, to_value(x));
        return l;
    }
    case JSON_OBJECT: {
        jinja_value d = jinja_dict();
        const char *k;
        json_t *x;
        json_object_foreach(j, k, x) jinja_dict_set(d, k, to_value(x));
        return d;
    }
    }
    return jinja_none();
}

static void unit_tests(int64_t now) {
    json_error_t jerr;
    json_t *cases = json_load_file(FIX "unit_expected.json", 0, &jerr);
    CHECK(cases != NULL, "unit_expected.json: %s", jerr.text);
    if (!cases) return;
    int pass = 0, total = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *src = json_string_value(json_object_get(c, "template"));
        json_t *vars = json_object_get(c, "vars");
        jinja_value v = vars ? to_value(vars) : jinja_dict();
        jinja_options opts = {.now = now};
        size_t len = 0;
        char *out = NULL;
        jinja_template *t = jinja_parse(src, strlen(src));
        if (t) out = jinja_render(t, v, &opts, &len);
        json_t *want = json_object_get(c, "expected");
        bool ok;
        if (want) {
            size_t wlen = json_string_length(want);
            ok = out && len == wlen && memcmp(out, json_string_value(want), len) == 0;
            if (!ok) {
                fprintf(stderr, "FAIL unit '%s': %s\n", name, out ? "output differs" : hearth_last_error());
                if (out) show_diff(name, out, len, json_string_value(want), wlen);
            }
        } else {
            ok = out == NULL;
            const char *etype = json_string_value(json_object_get(c, "error_type"));
            const char *emsg = json_string_value(json_object_get(c, "error"));
            if (ok && etype && !strcmp(etype, "TemplateError")) ok = ends_with(hearth_last_error(), emsg);
            if (!ok) fprintf(stderr, "FAIL unit '%s': Python raised %s: %s; got %s\n", name, etype, emsg, out ? out : hearth_last_error());
        }
        CHECK(ok, "unit case %s", name);
        pass += ok;
        total++;
        free(out);
        jinja_free(t);
        jinja_unref(v);
    }
    printf("  %-48s %3d/%d match Python\n", "language unit cases", pass, total);
    json_decref(cases);
}

/* --------------------------------------------------------------- C-only */

static char *render_str(const char *src, size_t *len) {
    jinja_template *t = jinja_parse(src, strlen(src));
    if (!t) return NULL;
    jinja_options o = {.max_output = 1 << 20, .max_steps = 2000000};
    char *out = jinja_render(t, jinja_none(), &o, len);
    jinja_free(t);
    return out;
}

static void expect_error(const char *src, const char *needle) {
    char *out = render_str(src, NULL);
    CHECK(out == NULL && strstr(hearth_last_error(), needle) != NULL, "template [%.60s]: want error containing '%s', got %s",
          src, needle, out ? out : hearth_last_error());
    free(out);
}

static void error_tests(void) {
    /* unsupported and unknown constructs name themselves and their line */
    expect_error("a\nb\n{{ x | wordwrap }}", "jinja: line 3: unsupported filter 'wordwrap'");
    expect_error("{{ x | nosuchfilter }}", "No filter named 'nosuchfilter'");
    expect_error("\n{% include 'x.j2' %}", "jinja: line 2: unsupported tag 'include'");
    expect_error("{% for x in y %}", "unexpected end of template");
    expect_error("{{ 1 +  }}", "jinja: line 1:");
    expect_error("{% if x %}{% endfor %}", "unexpected tag 'endfor'");
    expect_error("{{ 'abc }}", "unexpected end of string literal");
    expect_error("{# open comment", "missing end of comment tag");
    expect_error("{% break %}", "'break' outside of a loop");
    expect_error("line1\n{{ raise_exception('boom: ' ~ 42) }}", "jinja: line 2: boom: 42");
    expect_error("{{ [].append(1) }}", "access to attribute 'append' of 'list' object is unsafe.");
    expect_error("{{ {}.update({}) }}", "unsafe");
    expect_error("{{ x.y.z }}", "'x' is undefined");
    expect_error("{{ {'a': 1}.b.c }}", "'dict object' has no attribute 'b'");
    expect_error("{{ 'a' + 1 }}", "can only concatenate str (not \"int\") to str");
    expect_error("{{ 1 / 0 }}", "division by zero");
    expect_error("{% set x = 1 %}{% set x.y = 2 %}", "Cannot assign attribute on non-namespace object");
    expect_error("{{ none | tojson }}{{ x | tojson }}", "Object of type Undefined is not JSON serializable");
    /* hostile templates are bounded, never crash or hang */
    expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "jinja: line 1:");
    expect_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "evaluation steps");
    expect_error("{{ range(1000000) | length }}", "Range too big");
    expect_error("{{ 'x' * 100000000 }}", "exceeds the limit");
    expect_error("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "exceeds the limit");
    expect_error("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}", "nested deeper");
    {
        /* deep nesting in the source is a parse error, not a stack overflow */
        {
            size_t n = 20000;
            char *src = malloc(n * 2 + 16);
            size_t k = 0;
            memcpy(src + k, "{{ ", 3); k += 3;
            for (size_t i = 0; i < n / 2; i++) src[k++] = '(';
            src[k++] = '1';
            for (size_t i = 0; i < n / 2; i++) src[k++] = ')';
            memcpy(src + k, " }}", 4);
            char *out = render_str(src, NULL);
            CHECK(out == NULL, "deeply nested parentheses must fail cleanly");
            free(out);
            k = 0;
            for (size_t i = 0; i < 3000; i++) { memcpy(src + k, "{% if 1 %}", 10); k += 10; }
            src[k] = 0;
            out = render_str(src, NULL);
            CHECK(out == NULL && strstr(hearth_last_error(), "nesting too deep"), "deep if nesting: %s", hearth_last_error());
            free(out);
            free(src);
        }
    }
    {
        /* long operator chains are bounded like nesting */
        size_t n = 5000;
        char *src = malloc(n * 4 + 16);
        size_t k = 0;
        memcpy(src + k, "{{ 1", 4); k += 4;
        for (size_t i = 0; i < n; i++) { memcpy(src + k, " + 1", 4); k += 4; }
        memcpy(src + k, " }}", 4);
        char *out = render_str(src, NULL);
        CHECK(out == NULL && strstr(hearth_last_error(), "nesting too deep"), "long chain: %s", out ? out : hearth_last_error());
        free(out);
        free(src);
    }
    /* namespace cycles are broken at the end of a render (no leak, no crash) */
    char *out = render_str("{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns.me | length }}", NULL);
    CHECK(out && !strcmp(out, "1"), "%s", out ? out : hearth_last_error());
    free(out);
}

static void builtin_template_tests(void) {
    const char *msgs = "[{\"role\":\"system\",\"content\":\"Be kind.\"},{\"role\":\"user\",\"content\":\" Hi \"},"
                       "{\"role\":\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Bye\"}]}]";
    chat_request req = {.messages_json = msgs, .add_generation_prompt = true, .bos_token = "<bos>"};
    struct { const char *family, *want; } cases[] = {
        {"chatml", "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
                   "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
        {"qwen", "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
                 "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
        {"llama3", "<bos><|start_header_id|>system<|end_header_id|>\n\nBe kind.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {"gemma", "<bos><start_of_turn>user\nBe kind.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
                  "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = chat_render(NULL, cases[i].family, &req, NULL);
        CHECK(out && !strcmp(out, cases[i].want), "built-in %s: %s", cases[i].family, out ? out : hearth_last_error());
        free(out);
    }
    char *out = chat_render(NULL, "unknown-family", &req, NULL);
    CHECK(out == NULL && strstr(hearth_last_error(), "no built-in"), "%s", hearth_last_error());
    free(out);
    /* a provided template always wins over the family fallback */
    out = chat_render("{{ messages | length }}", "gemma", &req, NULL);
    CHECK(out && !strcmp(out, "4"), "%s", out ? out : hearth_last_error());
    free(out);
    /* bad JSON is an error, not a crash */
    req.messages_json = "[{\"role\": ";
    out = chat_render(NULL, "chatml", &req, NULL);
    CHECK(out == NULL && strstr(hearth_last_error(), "invalid JSON"), "%s", hearth_last_error());
    free(out);
    /* OpenAI-shaped string arguments become objects on request */
    req.messages_json = "[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                        "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1, \\\"b\\\": [true, null]}\"}}]}]";
    req.parse_tool_arguments = true;
    out = chat_render("{% for m in messages %}{{ m.tool_calls[0].function.arguments | tojson }} {{ m.content }}{% endfor %}", NULL, &req, NULL);
    CHECK(out && !strcmp(out, "{\"a\": 1, \"b\": [true, null]} None"), "%s", out ? out : hearth_last_error());
    free(out);
}

static void value_api_tests(void) {
    jinja_value d = jinja_dict();
    jinja_value l = jinja_list();
    jinja_list_append(l, jinja_float(0.1));
    jinja_list_append(l, jinja_float(1e16));
    jinja_list_append(l, jinja_float(1.5e-5));
    jinja_list_append(l, jinja_float(-0.0));
    jinja_list_append(l, jinja_int(-7));
    jinja_list_append(l, jinja_cstring("it's"));
    jinja_list_append(l, jinja_none());
    jinja_dict_set(d, "xs", l);
    jinja_dict_set(d, "b", jinja_bool(true));
    const char *src = "{{ xs }}|{{ xs|tojson }}|{{ b }}";
    jinja_template *t = jinja_parse(src, strlen(src));
    CHECK(t != NULL, "%s", hearth_last_error());
    char *out = t ? jinja_render(t, d, NULL, NULL) : NULL;
    const char *want = "[0.1, 1e+16, 1.5e-05, -0.0, -7, \"it's\", None]|[0.1, 1e+16, 1.5e-05, -0.0, -7, \"it's\", null]|True";
    CHECK(out && !strcmp(out, want), "%s", out ? out : hearth_last_error());
    free(out);
    /* templates are reusable and renders independent */
    out = t ? jinja_render(t, d, NULL, NULL) : NULL;
    CHECK(out && !strcmp(out, want), "second render");
    free(out);
    jinja_free(t);
    jinja_unref(d);
}

int main(void) {
    /* the time make_expected.py pinned strftime_now to */
    json_t *manifest = json_load_file(FIX "manifest.json", 0, NULL);
    int64_t now = fixed_now(manifest ? json_string_value(json_object_get(manifest, "fixed_now")) : "");
    CHECK(now != 0, "fixed_now in manifest.json");
    json_decref(manifest);
    fixture_tests(now);
    unit_tests(now);
    error_tests();
    builtin_template_tests();
    value_api_tests();
    TEST_SUMMARY("test_jinja");
}
