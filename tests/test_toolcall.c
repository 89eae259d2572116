/* test_toolcall.c — tool calls (src/toolcall.c):
 *   - the parser on hand-written model outputs of each format (Hermes/Qwen, Llama 3, Gemma 4): calls, the
 *     content around them, calls cut short or malformed (they stay content, byte for byte), and the same
 *     results when the text arrives one byte at a time or in random pieces;
 *   - format detection on the real templates in ../shared/data/templates;
 *   - the grammars: they accept the calls a template would write for the declared tools and refuse other
 *     names, wrong argument types, missing required arguments; the Gemma dialect of JSON Schema;
 *   - random-weight fixture models sampled under REQUIRED / named grammars write calls that parse; a lazy
 *     grammar waits for its trigger.
 * Argument validity against the schemas with an independent validator is tests/tools.test.sh's part. */
#include <jansson.h>
#include <stdint.h>

#include "grammar.h"
#include "hearth.h"
#include "json_schema.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------------------- parser */

typedef struct {
    const char *name, *args; /* args: JSON, compared as values */
} want_call;

static bool same_json(const char *a, const char *b) {
    json_t *x = json_loads(a, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL), *y = json_loads(b, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool eq = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

/* Feed text in pieces of `step` bytes (0: random pieces with seed), collecting content and calls. */
static void stream_parse(hearth_tool_format f, const char *text, size_t step, unsigned seed, char **content,
                         hearth_tool_call *calls, int *n_calls, int cap) {
    hearth_tool_parser *tp = hearth_tool_parser_new(f);
    size_t n = strlen(text), at = 0, clen = 0;
    char *c = malloc(n + 1);
    *n_calls = 0;
    while (1) {
        size_t k = step ? step : (size_t)(rand_r(&seed) % 7);
        if (k > n - at) k = n - at;
        bool final = at + k == n;
        const char *out;
        size_t out_len;
        const hearth_tool_call *tc;
        int ntc;
        int rc = hearth_tool_parser_push(tp, text + at, k, final, &out, &out_len, &tc, &ntc);
        CHECK(rc == 0);
        memcpy(c + clen, out, out_len);
        clen += out_len;
        for (int i = 0; i < ntc && *n_calls < cap; i++) {
            calls[*n_calls].name = strdup(tc[i].name);
            calls[*n_calls].arguments = strdup(tc[i].arguments);
            (*n_calls)++;
        }
        at += k;
        if (final) break;
    }
    c[clen] = 0;
    *content = c;
    hearth_tool_parser_free(tp);
}

static void parse_case(hearth_tool_format f, const char *text, const char *want_content, const want_call *want, int n_want) {
    char *content;
    hearth_tool_call *calls;
    int n;
    int rc = hearth_tool_calls_parse(f, text, strlen(text), &content, &calls, &n);
    CHECK(rc == 0, "%s", hearth_last_error());
    if (rc) return;
    CHECK(!strcmp(content, want_content), "%s: content '%s', want '%s' (text: %s)", hearth_tool_format_name(f), content,
          want_content, text);
    CHECK(n == n_want, "%s: %d calls, want %d (text: %s)", hearth_tool_format_name(f), n, n_want, text);
    for (int i = 0; i < n && i < n_want; i++) {
        CHECK(!strcmp(calls[i].name, want[i].name), "name '%s', want '%s'", calls[i].name, want[i].name);
        CHECK(same_json(calls[i].arguments, want[i].args), "arguments %s, want %s", calls[i].arguments, want[i].args);
        json_t *a = json_loads(calls[i].arguments, JSON_ALLOW_NUL, NULL);
        CHECK(json_is_object(a), "arguments are a JSON object: %s", calls[i].arguments);
        json_decref(a);
    }
    /* streamed: byte by byte, and in random pieces, the same */
    for (unsigned mode = 0; mode < 4; mode++) {
        char *sc;
        hearth_tool_call sv[8];
        int sn;
        stream_parse(f, text, mode == 0 ? 1 : mode == 1 ? 3 : 0, mode * 77u, &sc, sv, &sn, 8);
        CHECK(!strcmp(sc, content), "streamed (mode %u) content '%s' vs '%s'", mode, sc, content);
        CHECK(sn == n, "streamed (mode %u) %d calls vs %d", mode, sn, n);
        for (int i = 0; i < sn; i++) {
            if (i < n) CHECK(!strcmp(sv[i].name, calls[i].name) && !strcmp(sv[i].arguments, calls[i].arguments));
            free(sv[i].name);
            free(sv[i].arguments);
        }
        free(sc);
    }
    hearth_tool_calls_free(calls, n);
    free(content);
}

static void test_hermes(void) {
    hearth_tool_format H = HEARTH_TOOL_FORMAT_HERMES;
    want_call w1[] = {{"get_weather", "{\"city\":\"Paris\",\"days\":3}"}};
    parse_case(H, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>", "", w1, 1);
    parse_case(H, "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>",
               "Let me check.", w1, 1);
    /* arguments first, as a string (OpenAI style), no closing marker at the end */
    parse_case(H, "<tool_call>{\"arguments\": \"{\\\"city\\\": \\\"Paris\\\", \\\"days\\\": 3}\", \"name\": \"get_weather\"}", "", w1, 1);
    want_call w2[] = {{"a", "{}"}, {"b_2", "{\"x\":[1,2.5,{\"y\":null}],\"s\":\"é \\\"q\\\" </tool_call>\"}"}};
    parse_case(H,
               "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b_2\", \"arguments\": "
               "{\"x\": [1, 2.5, {\"y\": null}], \"s\": \"é \\\"q\\\" </tool_call>\"}}\n</tool_call>",
               "", w2, 2);
    want_call wnul[] = {{"n", "{\"s\":\"a\\u0000b\",\"big\":1e+20}"}};
    parse_case(H, "<tool_call>{\"name\": \"n\", \"arguments\": {\"s\": \"a\\u0000b\", \"big\": 1e20}}</tool_call>", "", wnul, 1);
    want_call w3[] = {{"a", "{}"}};
    parse_case(H, "<tool_call>{\"name\": \"a\"}</tool_call> and then some text", "and then some text", w3, 1);
    /* not calls: they stay content as written */
    parse_case(H, "<tool_call>\n{\"name\": \"get_weather\", \"argu", "<tool_call>\n{\"name\": \"get_weather\", \"argu", NULL, 0);
    parse_case(H, "<tool_call>{\"name\": get_weather}</tool_call>", "<tool_call>{\"name\": get_weather}</tool_call>", NULL, 0);
    parse_case(H, "<tool_call>{\"arguments\": {}}</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>", NULL, 0);
    parse_case(H, "a < b, <b>bold</b> <tool_ <tool_call", "a < b, <b>bold</b> <tool_ <tool_call", NULL, 0);
    parse_case(H, "  just text\n\n", "  just text\n\n", NULL, 0);
    parse_case(H, "", "", NULL, 0);
}

static void test_llama3(void) {
    hearth_tool_format L = HEARTH_TOOL_FORMAT_LLAMA3;
    want_call w1[] = {{"get_weather", "{\"city\":\"Paris\"}"}};
    parse_case(L, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", w1, 1);
    parse_case(L, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", w1, 1);
    parse_case(L, "Sure:\n{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "Sure:", w1, 1);
    want_call w2[] = {{"a", "{\"n\":1}"}, {"b", "{}"}};
    parse_case(L, "{\"name\": \"a\", \"parameters\": {\"n\": 1}}; {\"name\": \"b\", \"arguments\": {}}", "", w2, 2);
    /* JSON that is not a call, braces in text, a call cut short */
    parse_case(L, "{\"name\": \"Bob\", \"age\": 3}", "{\"name\": \"Bob\", \"age\": 3}", NULL, 0);
    parse_case(L, "use {x} or {} or { \"k\" }", "use {x} or {} or { \"k\" }", NULL, 0);
    parse_case(L, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pa", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Pa", NULL, 0);
}

static void test_gemma4(void) {
    hearth_tool_format G = HEARTH_TOOL_FORMAT_GEMMA4;
    want_call w1[] = {{"get_weather", "{\"city\":\"Paris\",\"days\":3}"}};
    parse_case(G, "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:3}<tool_call|>", "", w1, 1);
    parse_case(G, "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:3}<tool_call|><|tool_response>", "", w1, 1);
    parse_case(G, "I will look.<|tool_call>call:get_weather{days:3,city:<|\"|>Paris<|\"|>}<tool_call|>", "I will look.", w1, 1);
    want_call w2[] = {{"f.x-1", "{\"a\":{\"b\":[1,2.5,\"x\",-3e-05]},\"c\":true,\"d\":null,\"e\":false,\"g\":null}"},
                      {"h", "{\"s\":\"a, b: {c} \\\"d\\\" [e]\\n<tool_call|> ok\",\"t\":\"\"}"}};
    parse_case(G,
               "<|tool_call>call:f.x-1{a:{b:[1,2.5,<|\"|>x<|\"|>,-3e-05]},c:true,d:None,e:False,g:null}<tool_call|>"
               "<|tool_call>call:h{s:<|\"|>a, b: {c} \"d\" [e]\n<tool_call|> ok<|\"|>,t:<|\"|><|\"|>}<tool_call|>",
               "", w2, 2);
    want_call w3[] = {{"f", "{\"k\":\"v\",\"mode\":\"fast\"}"}};
    parse_case(G, "<|tool_call>call:f{<|\"|>k<|\"|>:<|\"|>v<|\"|>,mode:fast}<tool_call|>", "", w3, 1); /* quoted key, bare word */
    want_call wbig[] = {{"f", "{\"n\":1e+20,\"m\":-12}"}};
    parse_case(G, "<|tool_call>call:f{n:99999999999999999999,m:-12}<tool_call|>", "", wbig, 1); /* past long long: a real */
    want_call w4[] = {{"f", "{}"}};
    parse_case(G, "<|tool_call>call:f{}", "", w4, 1); /* closing marker missing at the end */
    /* cut short or malformed: content as written */
    parse_case(G, "<|tool_call>call:f{a:<|\"|>xx", "<|tool_call>call:f{a:<|\"|>xx", NULL, 0);
    parse_case(G, "<|tool_call>call:{a:1}<tool_call|>", "<|tool_call>call:{a:1}<tool_call|>", NULL, 0);
    parse_case(G, "<|tool_call>cal f{}<tool_call|>", "<|tool_call>cal f{}<tool_call|>", NULL, 0);
    parse_case(G, "<|tool_call>call:f{a:1 b:2}<tool_call|>", "<|tool_call>call:f{a:1 b:2}<tool_call|>", NULL, 0);
    parse_case(G, "x <|turn> <|tool", "x <|turn> <|tool", NULL, 0);
}

/* Mutated outputs (bytes replaced, inserted, dropped, the text cut): the parser never fails, streamed
 * parsing agrees with one-shot parsing, and without calls the content is the text, byte for byte. */
static void test_parser_fuzz(void) {
    static const char *seeds[][2] = {
        {"h", "Hi <tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": [1, \"}\"]}}\n</tool_call> <tool_call>{\"name\":\"b\"}</tool_call>"},
        {"l", "ok {\"name\": \"a\", \"parameters\": {\"k\": {\"n\": null}}}; <|python_tag|>{\"name\": \"b\", \"arguments\": {}}"},
        {"g", "<|tool_call>call:a{s:<|\"|>x,y<|\"|>,n:[1,{b:true}]}<tool_call|><|tool_response> t <|tool_call>call:b{}<tool_call|>"},
    };
    unsigned seed = 12345;
    int n_cases = 0, n_with_calls = 0;
    for (int round = 0; round < 600; round++) {
        int which = round % 3;
        hearth_tool_format f = which == 0 ? HEARTH_TOOL_FORMAT_HERMES : which == 1 ? HEARTH_TOOL_FORMAT_LLAMA3 : HEARTH_TOOL_FORMAT_GEMMA4;
        char text[512];
        snprintf(text, sizeof text, "%s", seeds[which][1]);
        size_t n = strlen(text);
        int edits = 1 + rand_r(&seed) % 3;
        for (int e = 0; e < edits && n > 1; e++) {
            size_t at = (size_t)rand_r(&seed) % n;
            const char alphabet[] = "<>|\"{}[]:,; \n\\ab0";
            char c = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
            switch (rand_r(&seed) % 4) {
            case 0: text[at] = c; break;
            case 1: if (n + 1 < sizeof text) { memmove(text + at + 1, text + at, n - at + 1); text[at] = c; n++; } break;
            case 2: memmove(text + at, text + at + 1, n - at); n--; break;
            default: if (rand_r(&seed) % 3 == 0) { text[at] = 0; n = at; } break;
            }
        }
        char *content;
        hearth_tool_call *calls;
        int nc;
        CHECK(hearth_tool_calls_parse(f, text, n, &content, &calls, &nc) == 0);
        if (nc == 0) CHECK(!strcmp(content, text), "no calls: the content is the text: '%s' vs '%s'", content, text);
        char *sc;
        hearth_tool_call sv[16];
        int sn;
        stream_parse(f, text, 0, (unsigned)round, &sc, sv, &sn, 16);
        bool same = !strcmp(sc, content) && sn == nc;
        for (int i = 0; i < sn; i++) {
            if (same && i < nc) same = !strcmp(sv[i].name, calls[i].name) && !strcmp(sv[i].arguments, calls[i].arguments);
            free(sv[i].name);
            free(sv[i].arguments);
        }
        CHECK(same, "%s: streamed and one-shot parses differ for: %s", hearth_tool_format_name(f), text);
        n_cases++;
        n_with_calls += nc > 0;
        free(sc);
        free(content);
        hearth_tool_calls_free(calls, nc);
    }
    CHECK(n_with_calls > n_cases / 4 && n_with_calls < n_cases, "%d of %d mutated texts still had calls", n_with_calls, n_cases);
}

static void test_detect(void) {
    const struct { const char *file; hearth_tool_format f; } cases[] = {
        {"google-gemma-4-31B-it.jinja", HEARTH_TOOL_FORMAT_GEMMA4},
        {"google-gemma-4-31B-it-interleaved.jinja", HEARTH_TOOL_FORMAT_GEMMA4},
        {"Qwen-Qwen3-0.6B.jinja", HEARTH_TOOL_FORMAT_HERMES},
        {"Qwen-Qwen2.5-7B-Instruct.jinja", HEARTH_TOOL_FORMAT_HERMES},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", HEARTH_TOOL_FORMAT_LLAMA3},
        {"meta-llama-Llama-3.2-3B-Instruct.jinja", HEARTH_TOOL_FORMAT_LLAMA3},
        {"meta-llama-Llama-3.3-70B-Instruct.jinja", HEARTH_TOOL_FORMAT_LLAMA3},
        {"google-gemma-2-2b-it.jinja", HEARTH_TOOL_FORMAT_HERMES}, /* no tool format: the fallback */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/data/templates/%s", tu_shared_dir(), cases[i].file);
        char *t = tu_read_file(path, NULL);
        CHECK(t != NULL, "%s", path);
        if (!t) continue;
        hearth_tool_format f = hearth_tool_format_detect(t);
        CHECK(f == cases[i].f, "%s: %s", cases[i].file, hearth_tool_format_name(f));
        free(t);
    }
    CHECK(hearth_tool_format_detect(NULL) == HEARTH_TOOL_FORMAT_HERMES);
}

/* ---------------------------------------------------------------------------------------------- grammars */

static const char TOOLS[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":12},"
    "\"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]},\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7}},"
    "\"required\":[\"city\",\"days\"]}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"ping\"}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"search\",\"parameters\":{\"type\":\"object\",\"properties\":"
    "{\"q\":{\"type\":\"string\",\"pattern\":\"^[a-z]{1,8}$\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
    "\"maxLength\":4},\"maxItems\":3},\"opts\":{\"type\":\"object\",\"properties\":{\"exact\":{\"type\":\"boolean\"}},"
    "\"required\":[\"exact\"]},\"score\":{\"type\":[\"number\",\"null\"]}},\"required\":[\"q\"]}}}]";

/* Whether the grammar (without a vocabulary) accepts the whole text. */
static bool accepts(const char *gbnf, const char *text) {
    grammar *g;
    if (grammar_compile(&g, gbnf, "root", NULL) < 0) return false;
    gmatch *m = gmatch_new(g, NULL);
    bool ok = gmatch_accept_bytes(m, text, strlen(text)) == 0 && gmatch_can_end(m);
    gmatch_free(m);
    grammar_free(g);
    return ok;
}

static void grammar_cases(hearth_tool_format f, const char *const *good, int n_good, const char *const *bad, int n_bad) {
    hearth_tool_spec spec = {.format = f, .tools_json = TOOLS, .choice = HEARTH_TOOL_CHOICE_REQUIRED};
    hearth_tool_grammar g;
    int rc = hearth_tool_grammar_build(NULL, &spec, &g);
    CHECK(rc == 0, "%s: %s", hearth_tool_format_name(f), hearth_last_error());
    if (rc) return;
    CHECK(!g.lazy && g.n_words == 0);
    grammar *cg;
    CHECK(grammar_compile(&cg, g.gbnf, "root", NULL) == 0, "%s grammar compiles: %s\n%s", hearth_tool_format_name(f),
          hearth_last_error(), g.gbnf);
    grammar_free(cg);
    for (int i = 0; i < n_good; i++) {
        CHECK(accepts(g.gbnf, good[i]), "%s grammar accepts %s", hearth_tool_format_name(f), good[i]);
        /* and the parser reads it back as calls only */
        char *content;
        hearth_tool_call *calls;
        int n;
        hearth_tool_calls_parse(f, good[i], strlen(good[i]), &content, &calls, &n);
        CHECK(n >= 1 && !content[0], "%s parses %s (%d calls, content '%s')", hearth_tool_format_name(f), good[i], n, content);
        hearth_tool_calls_free(calls, n);
        free(content);
    }
    for (int i = 0; i < n_bad; i++) CHECK(!accepts(g.gbnf, bad[i]), "%s grammar refuses %s", hearth_tool_format_name(f), bad[i]);
    hearth_tool_grammar_free(&g);

    /* one call only; a named function only */
    spec.single = true;
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) == 0);
    if (f != HEARTH_TOOL_FORMAT_LLAMA3) {
        char two[1024];
        snprintf(two, sizeof two, "%s%s%s", good[0], f == HEARTH_TOOL_FORMAT_HERMES ? "\n" : "", good[0]);
        CHECK(!accepts(g.gbnf, two), "single: two calls refused");
        spec.single = false;
        hearth_tool_grammar_free(&g);
        CHECK(hearth_tool_grammar_build(NULL, &spec, &g) == 0);
        CHECK(accepts(g.gbnf, two), "%s: two calls accepted: %s", hearth_tool_format_name(f), two);
    }
    hearth_tool_grammar_free(&g);
    spec.name = "ping";
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) == 0);
    CHECK(!accepts(g.gbnf, good[0]), "named: another function refused");
    hearth_tool_grammar_free(&g);
    spec.name = "nope";
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) < 0 && strstr(hearth_last_error(), "nope"));
}

static void test_grammars(void) {
    const char *hermes_good[] = {
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3}}\n</tool_call>",
        "<tool_call>{\"name\":\"ping\",\"arguments\":{}}</tool_call>",
        "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"cats\", \"tags\": [\"a\", \"bb\"], \"opts\": {\"exact\": true}, \"score\": null}}\n</tool_call>",
    };
    const char *hermes_bad[] = {
        "<tool_call>{\"name\":\"pong\",\"arguments\":{}}</tool_call>",
        "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}</tool_call>",            /* days required */
        "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"days\":9}}</tool_call>",  /* maximum */
        "<tool_call>{\"name\":\"search\",\"arguments\":{\"q\":\"Cats\"}}</tool_call>",                    /* pattern */
        "<tool_call>{\"name\":\"ping\",\"arguments\":{\"x\":1}}</tool_call>",                             /* no parameters */
        "Sure! <tool_call>{\"name\":\"ping\",\"arguments\":{}}</tool_call>",                              /* REQUIRED: calls only */
    };
    grammar_cases(HEARTH_TOOL_FORMAT_HERMES, hermes_good, 3, hermes_bad, 6);

    const char *llama_good[] = {
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 7}}",
        "<|python_tag|>{\"name\": \"ping\", \"parameters\": {}}",
    };
    const char *llama_bad[] = {
        "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 7}}",
        "{\"name\": \"ping\", \"parameters\": {}}; {\"name\": \"ping\", \"parameters\": {}}",
    };
    grammar_cases(HEARTH_TOOL_FORMAT_LLAMA3, llama_good, 2, llama_bad, 2);

    const char *gemma_good[] = {
        "<|tool_call>call:get_weather{city:<|\"|>Par|is \"x\"<|\"|>,unit:<|\"|>fahrenheit<|\"|>,days:1}<tool_call|>",
        "<|tool_call>call:ping{}<tool_call|><|tool_response>",
        "<|tool_call>call:search{q:<|\"|>cats<|\"|>,tags:[<|\"|>a<|\"|>,<|\"|><|\"|>],opts:{exact:false},score:-2.5}<tool_call|>",
    };
    const char *gemma_bad[] = {
        "<|tool_call>call:get_weather{city:\"Paris\",days:1}<tool_call|>",                         /* JSON quotes */
        "<|tool_call>call:get_weather{\"city\":<|\"|>Paris<|\"|>,days:1}<tool_call|>",             /* JSON key */
        "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>, days:1}<tool_call|>",                /* no spaces */
        "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,unit:<|\"|>kelvin<|\"|>,days:1}<tool_call|>",
        "<|tool_call>call:search{q:<|\"|>cats<|\"|>,opts:{}}<tool_call|>",
    };
    grammar_cases(HEARTH_TOOL_FORMAT_GEMMA4, gemma_good, 3, gemma_bad, 5);

    /* unsupported schemas: an error naming the tool for REQUIRED, any object for AUTO */
    const char *odd = "[{\"type\":\"function\",\"function\":{\"name\":\"odd\",\"parameters\":{\"type\":\"object\",\"properties\":"
                      "{\"u\":{\"type\":\"string\",\"format\":\"uri\"}}}}}]";
    hearth_tool_spec spec = {.format = HEARTH_TOOL_FORMAT_HERMES, .tools_json = odd, .choice = HEARTH_TOOL_CHOICE_REQUIRED};
    hearth_tool_grammar g;
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) < 0 &&
              !strcmp(hearth_last_error(), "tool 'odd': parameters: json schema: unsupported format 'uri' at #/properties/u "
                                           "(supported: date, time, date-time, uuid, email, ipv4)"),
          "%s", hearth_last_error());
    spec.choice = HEARTH_TOOL_CHOICE_AUTO;
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) == 0, "%s", hearth_last_error());
    CHECK(g.lazy && g.n_words == 1 && !strcmp(g.words[0], "<tool_call>") && g.n_tokens == 0);
    CHECK(accepts(g.gbnf, "<tool_call>{\"name\": \"odd\", \"arguments\": {\"anything\": [1]}}</tool_call>"));
    hearth_tool_grammar_free(&g);
    spec.format = HEARTH_TOOL_FORMAT_LLAMA3;
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) == 0);
    CHECK(g.n_words == 2 && !strcmp(g.words[0], "{\"name\"") && !strcmp(g.words[1], "<|python_tag|>"));
    hearth_tool_grammar_free(&g);
    spec.tools_json = "[{\"type\":\"function\",\"function\":{}}]";
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) < 0);
    spec.tools_json = "[{\"function\":{\"name\":\"a\"}},{\"function\":{\"name\":\"a\"}}]";
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) < 0 && strstr(hearth_last_error(), "two tools"));
    spec.tools_json = "[]";
    CHECK(hearth_tool_grammar_build(NULL, &spec, &g) < 0);
}

/* The Gemma dialect of the schema converter on its own. */
static void test_gemma_dialect(void) {
    const struct { const char *schema, *text; bool ok; } cases[] = {
        {"{\"type\":\"string\"}", "<|\"|>a <b> <| <|\" <|\"| << <|\"|", true}, /* open prefixes of the quote at the end */
        {"{\"type\":\"string\"}", "<|\"|>a<|\"|>b<|\"|>", false},
        {"{\"type\":\"string\",\"maxLength\":3}", "<|\"|>abc<|\"|>", true},
        {"{\"type\":\"string\",\"maxLength\":3}", "<|\"|>abcd<|\"|>", false},
        {"{\"type\":\"string\",\"pattern\":\"^a\\\"b$\"}", "<|\"|>a\"b<|\"|>", true},
        {"{\"const\":{\"k\":[1,\"v\",null]}}", "{k:[1,<|\"|>v<|\"|>,null]}", true},
        {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", "{a_b:1,c:2}", true},
        {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}", "{a:<|\"|>x<|\"|>}", false},
        {"{\"type\":\"array\",\"items\":{\"type\":\"boolean\"}}", "[true,false]", true},
        {"{\"type\":\"array\",\"items\":{\"type\":\"boolean\"}}", "[true, false]", false},
        {"{\"type\":\"string\",\"format\":\"date\"}", "<|\"|>2024-02-28<|\"|>", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* the string cases: close the text with a quote where it was left open */
        char text[256];
        snprintf(text, sizeof text, "%s%s", cases[i].text, i == 0 ? "<|\"|>" : "");
        json_schema_dialect d = {.gemma = true};
        char *gbnf;
        int rc = json_schema_gbnf(cases[i].schema, &d, &gbnf);
        CHECK(rc == 0, "%s: %s", cases[i].schema, hearth_last_error());
        if (rc) continue;
        CHECK(accepts(gbnf, text) == cases[i].ok, "gemma %s %s %s\n%s", cases[i].schema, cases[i].ok ? "accepts" : "refuses", text, gbnf);
        free(gbnf);
    }
    /* the JSON dialect is unchanged by it */
    char *a, *b;
    CHECK(json_schema_gbnf("{\"type\":\"object\",\"properties\":{\"x\":{\"enum\":[\"a\",1]}}}", NULL, &a) == 0);
    CHECK(hearth_json_schema_to_gbnf("{\"type\":\"object\",\"properties\":{\"x\":{\"enum\":[\"a\",1]}}}", &b) == 0);
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
}

/* ------------------------------------------------------------------------------- sampling with models */

typedef struct {
    char buf[8192];
    size_t n;
    const hearth_model *m;
} collected;

static void collect_token(void *user, int32_t tok) {
    collected *c = user;
    if (hearth_token_is_eog(c->m, tok)) return; /* the end, not text */
    char piece[256];
    int n = hearth_token_to_piece(c->m, tok, true, piece, sizeof piece);
    if (n > 0 && n <= (int)sizeof piece && c->n + (size_t)n < sizeof c->buf) {
        memcpy(c->buf + c->n, piece, (size_t)n);
        c->n += (size_t)n;
        c->buf[c->n] = 0;
    }
}

static void test_sampling(void) {
    const struct { const char *model; hearth_tool_format f; } runs[] = {
        {"tests/fixtures/models/qwen3.f32.gguf", HEARTH_TOOL_FORMAT_HERMES},
        {"tests/fixtures/models/llama.f32.gguf", HEARTH_TOOL_FORMAT_LLAMA3},
        {"tests/fixtures/models/gemma4-q.f32.gguf", HEARTH_TOOL_FORMAT_GEMMA4},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        hearth_model *m = hearth_model_load(runs[r].model, NULL);
        CHECK(m != NULL, "%s", hearth_last_error());
        if (!m) continue;
        hearth_session *s = hearth_session_new(m, &(hearth_session_params){.n_ctx = 2048, .n_threads = 1});
        int complete = 0, total = 0;
        for (int k = 0; k < 6; k++) {
            hearth_sampler_params sp = hearth_sampler_default_params();
            sp.temperature = k % 2 ? 1.0f : 0.7f;
            sp.top_k = 0;
            sp.top_p = 1;
            sp.min_p = 0;
            sp.seed = 1000 + (uint64_t)k;
            hearth_sampler *smp = hearth_sampler_new(m, &sp);
            hearth_tool_spec spec = {.format = runs[r].f, .tools_json = TOOLS, .choice = HEARTH_TOOL_CHOICE_REQUIRED,
                                     .name = k >= 4 ? "search" : NULL, .single = k == 1};
            int rc = hearth_sampler_set_tools(smp, m, &spec);
            CHECK(rc == 0, "%s: %s", hearth_tool_format_name(runs[r].f), hearth_last_error());
            collected c = {.m = m};
            int32_t prompt[3] = {1, 20 + k, 40};
            hearth_generate_params gp = {.max_tokens = 1500, .sampler = smp, .on_token = collect_token, .user = &c};
            hearth_generate_stats st;
            rc = hearth_generate(s, prompt, 3, &gp, &st);
            CHECK(rc == 0);
            total++;
            if (st.finish != HEARTH_FINISH_EOG) { hearth_sampler_free(smp); continue; } /* cut by the budget */
            complete++;
            char *content;
            hearth_tool_call *calls;
            int n;
            hearth_tool_calls_parse(runs[r].f, c.buf, c.n, &content, &calls, &n);
            CHECK(n >= 1 && !content[0], "%s: %d calls, content '%s' from: %s", hearth_tool_format_name(runs[r].f), n, content, c.buf);
            if (spec.single || runs[r].f == HEARTH_TOOL_FORMAT_LLAMA3) CHECK(n == 1);
            for (int i = 0; i < n; i++) {
                bool known = !strcmp(calls[i].name, "get_weather") || !strcmp(calls[i].name, "ping") || !strcmp(calls[i].name, "search");
                CHECK(known, "name '%s'", calls[i].name);
                if (spec.name) CHECK(!strcmp(calls[i].name, spec.name));
                json_t *a = json_loads(calls[i].arguments, 0, NULL);
                CHECK(json_is_object(a), "%s", calls[i].arguments);
                if (!strcmp(calls[i].name, "get_weather")) {
                    json_int_t days = json_integer_value(json_object_get(a, "days"));
                    CHECK(days >= 1 && days <= 7 && json_is_string(json_object_get(a, "city")), "%s", calls[i].arguments);
                }
                if (!strcmp(calls[i].name, "search")) CHECK(json_is_string(json_object_get(a, "q")), "%s", calls[i].arguments);
                json_decref(a);
            }
            hearth_tool_calls_free(calls, n);
            free(content);
            hearth_sampler_free(smp);
        }
        CHECK(complete >= total / 2, "%s: %d of %d generations complete", hearth_tool_format_name(runs[r].f), complete, total);
        printf("  %s on %s: %d/%d calls complete\n", hearth_tool_format_name(runs[r].f), runs[r].model, complete, total);

        /* AUTO: a lazy grammar waits for the opening marker, then constrains */
        hearth_sampler *smp = hearth_sampler_new(m, NULL);
        hearth_tool_spec spec = {.format = runs[r].f, .tools_json = TOOLS, .choice = HEARTH_TOOL_CHOICE_AUTO};
        CHECK(hearth_sampler_set_tools(smp, m, &spec) == 0, "%s", hearth_last_error());
        CHECK(hearth_sampler_grammar_state(smp) == HEARTH_GRAMMAR_WAITING);
        const char *call = runs[r].f == HEARTH_TOOL_FORMAT_HERMES ? "Well. <tool_call>{\"name\": \"ping\", \"arguments\": {}}</tool_call>"
                           : runs[r].f == HEARTH_TOOL_FORMAT_LLAMA3 ? "Well. {\"name\": \"ping\", \"parameters\": {}}"
                                                                     : "Well. <|tool_call>call:ping{}<tool_call|>";
        int32_t ids[512];
        int n = hearth_tokenize(m, call, strlen(call), false, false, ids, 512);
        hearth_grammar_state seen_waiting_after = HEARTH_GRAMMAR_NONE;
        for (int i = 0; i < n; i++) {
            hearth_sampler_accept(smp, ids[i]);
            if (i == 1) seen_waiting_after = hearth_sampler_grammar_state(smp);
        }
        CHECK(seen_waiting_after == HEARTH_GRAMMAR_WAITING);
        hearth_grammar_state end = hearth_sampler_grammar_state(smp);
        CHECK(end == HEARTH_GRAMMAR_COMPLETE || end == HEARTH_GRAMMAR_DONE, "%s: lazy grammar state %d after a call",
              hearth_tool_format_name(runs[r].f), (int)end);
        hearth_sampler_free(smp);
        hearth_session_free(s);
        hearth_model_free(m);
    }
}

/* The real Gemma 4 vocabulary: its markers are tokens (user-defined, so text), <|tool_response> is an
 * end-of-generation control token (the grammar leaves it to end the turn). */
static void test_real_vocab(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-gemma-4.gguf", tu_shared_dir());
    hearth_model *m = hearth_model_load(path, &(hearth_model_params){.vocab_only = true});
    CHECK(m != NULL, "%s", hearth_last_error());
    if (!m) return;
    hearth_tool_spec spec = {.format = HEARTH_TOOL_FORMAT_GEMMA4, .tools_json = TOOLS, .choice = HEARTH_TOOL_CHOICE_AUTO};
    hearth_tool_grammar g;
    CHECK(hearth_tool_grammar_build(m, &spec, &g) == 0, "%s", hearth_last_error());
    CHECK(g.lazy && g.n_words == 1 && !strcmp(g.words[0], "<|tool_call>"));
    CHECK(g.gbnf && !strstr(g.gbnf, "tc-resp"), "no <|tool_response> rule: it is an end-of-generation token");
    hearth_sampler *smp = hearth_sampler_new(m, NULL);
    CHECK(hearth_sampler_set_grammar_lazy(smp, g.gbnf, "root",
                                          &(hearth_grammar_triggers){(const char *const *)g.words, g.n_words, NULL, 0}) == 0,
          "%s", hearth_last_error());
    hearth_sampler_free(smp);
    hearth_tool_grammar_free(&g);
    hearth_model_free(m);
}

/* Tool definitions and call arguments are rendered by the template: control-token text in them stays text
 * (Qwen 2.5's template with its real vocabulary: <|im_end|> would end a turn). */
static int count_token(const int32_t *ids, int n, int32_t id) {
    int c = 0;
    for (int i = 0; i < n; i++) c += ids[i] == id;
    return c;
}

static void protection_case(const char *vocab, const char *template_file, const char *ctl) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/vocab/%s", tu_shared_dir(), vocab);
    hearth_model *m = hearth_model_load(path, &(hearth_model_params){.vocab_only = true});
    snprintf(path, sizeof path, "%s/data/templates/%s", tu_shared_dir(), template_file);
    char *tmpl = tu_read_file(path, NULL);
    CHECK(m && tmpl, "%s", hearth_last_error());
    if (!m || !tmpl) { hearth_model_free(m); free(tmpl); return; }
    int32_t end;
    CHECK(hearth_tokenize(m, ctl, strlen(ctl), false, true, &end, 1) == 1);
    char tools[2][512], msgs[2][1024];
    for (int evil = 0; evil < 2; evil++) {
        const char *x = evil ? ctl : "plain";
        snprintf(tools[evil], sizeof tools[evil],
                 "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\"x%sy\",\"parameters\":"
                 "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"description\":\"%s\"}}}}}]", x, x);
        snprintf(msgs[evil], sizeof msgs[evil],
                 "[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":"
                 "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\\\"%s\\\"}\"}}]},"
                 "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r %s\"}]", x, x);
    }
    int32_t *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    CHECK(hearth_chat_tokenize_json(m, tmpl, msgs[0], tools[0], true, &a, &na) == 0, "%s", hearth_last_error());
    CHECK(hearth_chat_tokenize_json(m, tmpl, msgs[1], tools[1], true, &b, &nb) == 0, "%s", hearth_last_error());
    CHECK(a && b && count_token(a, na, end) == count_token(b, nb, end) && count_token(a, na, end) >= 2,
          "%s: %s tokens: %d plain, %d with its text in tool definitions, arguments and results", template_file, ctl,
          a ? count_token(a, na, end) : -1, b ? count_token(b, nb, end) : -1);
    free(a);
    free(b);
    free(tmpl);
    hearth_model_free(m);
}

static void test_protection(void) {
    protection_case("ggml-vocab-qwen2.gguf", "Qwen-Qwen2.5-7B-Instruct.jinja", "<|im_end|>");
    protection_case("ggml-vocab-qwen35.gguf", "Qwen-Qwen3-0.6B.jinja", "<|im_start|>");
    protection_case("ggml-vocab-gemma-4.gguf", "google-gemma-4-31B-it.jinja", "<turn|>");
    protection_case("ggml-vocab-llama-bpe.gguf", "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|eot_id|>");
}

int main(void) {
    test_hermes();
    test_llama3();
    test_gemma4();
    test_parser_fuzz();
    test_detect();
    test_grammars();
    test_gemma_dialect();
    test_real_vocab();
    test_protection();
    test_sampling();
    TEST_SUMMARY("test_toolcall");
}
