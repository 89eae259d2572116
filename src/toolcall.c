/* toolcall.c — tool calls (hearth.h, "tool calls"): the formats models write them in, a streaming parser that
 * separates them from the content, and grammars that let a model write only valid calls.
 *
 * Contract
 *   - Formats, picked from the chat template's text (hearth_tool_format_detect):
 *       HERMES  <tool_call>{"name": N, "arguments": {...}}</tool_call>, any number, text around them (Qwen 2.5
 *               and 3, Hermes, SmolLM3; the fallback for unknown templates);
 *       LLAMA3  {"name": N, "parameters": {...}}, optionally after <|python_tag|> (Llama 3.1-3.3);
 *       GEMMA4  <|tool_call>call:N{key:value,...}<tool_call|>, values as the template's format_argument
 *               writes them: strings as raw text between <|"|> quotes, bare keys, [a,b], true/false, numbers,
 *               None/null; a trailing <|tool_response> (where the model expects the result) is dropped.
 *   - The parser reads text as generated with control tokens shown as their text (markers often are control
 *     tokens). It is strict about structure and lenient about spacing: a call is a complete marker-delimited
 *     block (a missing closing marker is forgiven once the call's value is complete); anything that does not
 *     parse (cut short by max_tokens, malformed) stays content, byte for byte. Arguments come back as compact
 *     JSON (numbers in their shortest exact form). Whitespace between content and calls is dropped.
 *     Streaming holds back only what may still become a call: text from a possible opening marker on (for
 *     LLAMA3, <|python_tag|> or a '{' that opens an object with keys).
 *   - Grammars (hearth_tool_grammar_build): a call of a declared function, its arguments following the
 *     function's "parameters" schema (hearth_json_schema_to_gbnf's subset, in the format's value syntax; no
 *     parameters: {}); several calls unless `single` (LLAMA3: always one). Markers that are control tokens of
 *     the model's vocabulary are token references, others literal text. REQUIRED constrains from the first
 *     token and an unsupported schema is an error; AUTO gives a lazy grammar triggered by the opening marker
 *     (as a token when it is a control token, else as a word) and lets a function whose schema is not
 *     supported take any JSON object.
 *   - Several schemas share one grammar: each one's rules get a prefix (t0-, t1-, ...), rewriting the names
 *     of a GBNF text outside literals, classes, token references, repetition counts and comments.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "hearth.h"
#include "json_schema.h"
#include "tokenizer.h"
#include "util.h"

/* ---------------------------------------------------------------------------------------- text buffers */

typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} tbuf;

static void tb_put(tbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) { b->oom = true; return; }
        b->s = ns;
        b->cap = cap;
    }
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void tb_puts(tbuf *b, const char *s) { tb_put(b, s, strlen(s)); }

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *tmp = malloc((size_t)n + 1);
    if (!tmp) { b->oom = true; return; }
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tb_put(b, tmp, (size_t)n);
    free(tmp);
}

/* A GBNF string literal of these bytes. */
static void tb_gbnf_literal(tbuf *b, const char *s, size_t n) {
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { tb_put(b, "\\", 1); tb_put(b, (const char *)&c, 1); }
        else if (c == '\n') tb_puts(b, "\\n");
        else if (c == '\r') tb_puts(b, "\\r");
        else if (c == '\t') tb_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7F) tb_printf(b, "\\x%02X", c);
        else tb_put(b, (const char *)&c, 1);
    }
    tb_put(b, "\"", 1);
}

/* A JSON string literal (quotes included). */
static void tb_json_string(tbuf *b, const char *s, size_t n) {
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') tb_puts(b, "\\\"");
        else if (c == '\\') tb_puts(b, "\\\\");
        else if (c == '\n') tb_puts(b, "\\n");
        else if (c == '\r') tb_puts(b, "\\r");
        else if (c == '\t') tb_puts(b, "\\t");
        else if (c == '\b') tb_puts(b, "\\b");
        else if (c == '\f') tb_puts(b, "\\f");
        else if (c < 0x20 || c == 0x7F) tb_printf(b, "\\u%04x", c);
        else tb_put(b, (const char *)&c, 1);
    }
    tb_put(b, "\"", 1);
}

/* Compact JSON with reals in their shortest exact spelling (jansson's own writes 17 digits). */
static void tb_json(tbuf *b, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        tb_put(b, "{", 1);
        const char *key;
        json_t *val;
        bool first = true;
        json_object_foreach((json_t *)v, key, val) {
            if (!first) tb_put(b, ",", 1);
            first = false;
            tb_json_string(b, key, strlen(key));
            tb_put(b, ":", 1);
            tb_json(b, val);
        }
        tb_put(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        tb_put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) tb_put(b, ",", 1);
            tb_json(b, json_array_get(v, i));
        }
        tb_put(b, "]", 1);
        break;
    case JSON_STRING: tb_json_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: tb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d)) { tb_puts(b, "null"); break; }
        char tmp[40];
        for (int p = 1; p <= 17; p++) {
            snprintf(tmp, sizeof tmp, "%.*g", p, d);
            if (strtod(tmp, NULL) == d) break;
        }
        tb_puts(b, tmp);
        break;
    }
    case JSON_TRUE: tb_puts(b, "true"); break;
    case JSON_FALSE: tb_puts(b, "false"); break;
    case JSON_NULL: tb_puts(b, "null"); break;
    }
}

/* ---------------------------------------------------------------------------------------------- formats */

/* The marker texts of each format (NULL: none). */
typedef struct {
    const char *open, *close;
    const char *tag;     /* LLAMA3: <|python_tag|> before a call */
    const char *quote;   /* GEMMA4: string quotes */
    const char *resp;    /* GEMMA4: written after the calls, where the result is expected */
} markers;

static const markers FORMAT_MARKERS[] = {
    [HEARTH_TOOL_FORMAT_HERMES] = {"<tool_call>", "</tool_call>", NULL, NULL, NULL},
    [HEARTH_TOOL_FORMAT_LLAMA3] = {NULL, NULL, "<|python_tag|>", NULL, NULL},
    [HEARTH_TOOL_FORMAT_GEMMA4] = {"<|tool_call>", "<tool_call|>", NULL, "<|\"|>", "<|tool_response>"},
};

static bool valid_format(hearth_tool_format f) { return f >= HEARTH_TOOL_FORMAT_HERMES && f <= HEARTH_TOOL_FORMAT_GEMMA4; }

hearth_tool_format hearth_tool_format_detect(const char *tmpl) {
    if (!tmpl) return HEARTH_TOOL_FORMAT_HERMES;
    if (strstr(tmpl, "<|tool_call>")) return HEARTH_TOOL_FORMAT_GEMMA4;
    if (strstr(tmpl, "<tool_call>")) return HEARTH_TOOL_FORMAT_HERMES;
    /* Llama 3.x: a JSON object with "name" and "parameters", in ipython turns */
    if (strstr(tmpl, "<|python_tag|>") || (strstr(tmpl, "<|start_header_id|>") && strstr(tmpl, "\"parameters\"")))
        return HEARTH_TOOL_FORMAT_LLAMA3;
    return HEARTH_TOOL_FORMAT_HERMES;
}

const char *hearth_tool_format_name(hearth_tool_format f) {
    switch (f) {
    case HEARTH_TOOL_FORMAT_HERMES: return "hermes";
    case HEARTH_TOOL_FORMAT_LLAMA3: return "llama3";
    case HEARTH_TOOL_FORMAT_GEMMA4: return "gemma4";
    }
    return "?";
}

/* ---------------------------------------------------------------------------------------------- parsing */

enum { P_NOT = -1, P_MORE = 0, P_CALL = 1 };

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && is_ws(s[i])) i++;
    return i;
}

/* s[i..n) against a marker: P_CALL if it starts with it (*end after it), P_MORE if it is a proper prefix of
 * it, P_NOT otherwise. */
static int expect(const char *s, size_t n, size_t i, const char *marker, size_t *end) {
    size_t ml = strlen(marker), have = n - i < ml ? n - i : ml;
    if (memcmp(s + i, marker, have)) return P_NOT;
    if (have < ml) return P_MORE;
    *end = i + ml;
    return P_CALL;
}

/* The extent of a JSON object or array at s[i] by its brackets and strings (jansson checks it afterwards):
 * P_CALL with *end, P_MORE if it is not closed yet, P_NOT if it is not one. */
static int json_extent(const char *s, size_t n, size_t i, size_t *end) {
    if (i >= n) return P_MORE;
    if (s[i] != '{' && s[i] != '[') return P_NOT;
    int depth = 0;
    bool in_str = false;
    for (; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > 512) return P_NOT;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) { *end = i + 1; return P_CALL; }
        }
    }
    return P_MORE;
}

typedef struct {
    char *name;
    json_t *args;
} raw_call;

/* A call object {"name": N, "arguments"|"parameters": {...} or a string holding one}; false if it is not.
 * Without markers around it (need_args) the arguments must be there: {"name": "Bob"} is not a call. */
static bool call_from_json(json_t *obj, bool need_args, raw_call *out) {
    json_t *name = json_object_get(obj, "name");
    if (!json_is_string(name) || !json_string_length(name)) return false;
    json_t *args = json_object_get(obj, "arguments");
    if (!args) args = json_object_get(obj, "parameters");
    if (!args && need_args) return false;
    json_t *parsed = NULL;
    if (json_is_string(args)) {
        parsed = json_loadb(json_string_value(args), json_string_length(args), JSON_ALLOW_NUL, NULL);
        if (!json_is_object(parsed)) { json_decref(parsed); return false; }
        args = parsed;
    } else if (!args || json_is_null(args)) {
        args = parsed = json_object();
    } else if (!json_is_object(args)) {
        return false;
    } else {
        json_incref(args);
        parsed = args;
    }
    out->name = strdup(json_string_value(name));
    out->args = parsed;
    if (!out->name) { json_decref(parsed); return false; }
    return true;
}

/* A JSON call object at s[i]; *end after it. */
static int json_call_at(const char *s, size_t n, size_t i, bool final, bool need_args, size_t *end, raw_call *out) {
    size_t e;
    int r = json_extent(s, n, i, &e);
    if (r == P_MORE) return final ? P_NOT : P_MORE;
    if (r == P_NOT || s[i] != '{') return P_NOT;
    json_t *obj = json_loadb(s + i, e - i, JSON_ALLOW_NUL, NULL); /* "\u0000" is valid JSON */
    bool ok = json_is_object(obj) && call_from_json(obj, need_args, out);
    json_decref(obj);
    if (!ok) return P_NOT;
    *end = e;
    return P_CALL;
}

/* After a call's value: the closing marker (forgiven when missing). */
static int close_marker(const char *s, size_t n, size_t i, const char *close, bool final, size_t *end) {
    size_t j = skip_ws(s, n, i), e;
    int r = j < n ? expect(s, n, j, close, &e) : P_MORE;
    if (r == P_CALL) { *end = e; return P_CALL; }
    if (r == P_MORE && !final) return P_MORE;
    *end = i; /* no closing marker: the call ends with its value */
    return P_CALL;
}

static int hermes_call(const char *s, size_t n, size_t i, bool final, size_t *end, raw_call *out) {
    const markers *mk = &FORMAT_MARKERS[HEARTH_TOOL_FORMAT_HERMES];
    size_t j;
    int r = expect(s, n, i, mk->open, &j);
    if (r != P_CALL) return r == P_MORE && !final ? P_MORE : P_NOT;
    j = skip_ws(s, n, j);
    if (j == n) return final ? P_NOT : P_MORE;
    size_t e;
    r = json_call_at(s, n, j, final, false, &e, out);
    if (r != P_CALL) return r;
    r = close_marker(s, n, e, mk->close, final, end);
    if (r != P_CALL) { free(out->name); json_decref(out->args); }
    return r;
}

static int llama3_call(const char *s, size_t n, size_t i, bool final, size_t *end, raw_call *out) {
    const markers *mk = &FORMAT_MARKERS[HEARTH_TOOL_FORMAT_LLAMA3];
    size_t j = i;
    if (s[i] == '<') {
        int r = expect(s, n, i, mk->tag, &j);
        if (r != P_CALL) return r == P_MORE && !final ? P_MORE : P_NOT;
        j = skip_ws(s, n, j);
        if (j == n) return final ? P_NOT : P_MORE;
    }
    return json_call_at(s, n, j, final, true, end, out);
}

/* ---- Gemma 4 values */

typedef struct {
    const char *s;
    size_t n;
    const char *quote;
    size_t qlen;
} gctx;

/* A value at s[*i]: P_CALL with *out, P_MORE (the text ends inside it), P_NOT. */
static int gemma_value(const gctx *g, size_t *i, json_t **out, int depth) {
    const char *s = g->s;
    size_t n = g->n, j = skip_ws(s, n, *i);
    if (depth > 64) return P_NOT;
    if (j >= n) return P_MORE;
    char c = s[j];
    if (c == '{' || c == '[') {
        bool obj = c == '{';
        json_t *v = obj ? json_object() : json_array();
        j++;
        for (bool first = true;; first = false) {
            j = skip_ws(s, n, j);
            if (j >= n) { json_decref(v); return P_MORE; }
            if (s[j] == (obj ? '}' : ']')) { j++; break; }
            if (!first) {
                if (s[j] != ',') { json_decref(v); return P_NOT; }
                j = skip_ws(s, n, j + 1);
                if (j >= n) { json_decref(v); return P_MORE; }
            }
            char *key = NULL;
            if (obj) {
                size_t ke, k0, k1;
                int r = expect(s, n, j, g->quote, &ke);
                if (r == P_MORE) { json_decref(v); return P_MORE; }
                if (r == P_CALL) { /* a quoted key */
                    const char *q = memmem(s + ke, n - ke, g->quote, g->qlen);
                    if (!q) { json_decref(v); return P_MORE; }
                    k0 = ke;
                    k1 = (size_t)(q - s);
                    j = k1 + g->qlen;
                } else { /* bare: up to ':' */
                    k0 = j;
                    while (j < n && s[j] != ':' && !strchr(",{}[]<\"", s[j]) && !is_ws(s[j])) j++;
                    k1 = j;
                }
                j = skip_ws(s, n, j);
                if (j >= n) { json_decref(v); return P_MORE; }
                if (s[j] != ':') { json_decref(v); return P_NOT; }
                j++;
                key = strndup(s + k0, k1 - k0);
                if (!key) { json_decref(v); return P_NOT; }
            }
            json_t *item;
            int r = gemma_value(g, &j, &item, depth + 1);
            if (r != P_CALL) { free(key); json_decref(v); return r; }
            int rc = obj ? json_object_set_new(v, key, item) : json_array_append_new(v, item);
            free(key);
            if (rc < 0) { json_decref(v); return P_NOT; }
        }
        *out = v;
        *i = j;
        return P_CALL;
    }
    size_t qe;
    int r = expect(s, n, j, g->quote, &qe);
    if (r == P_MORE) return P_MORE;
    if (r == P_CALL) {
        const char *q = memmem(s + qe, n - qe, g->quote, g->qlen);
        if (!q) return P_MORE;
        json_t *str = json_stringn(s + qe, (size_t)(q - s) - qe); /* NULL: not UTF-8 */
        if (!str) return P_NOT;
        *out = str;
        *i = (size_t)(q - s) + g->qlen;
        return P_CALL;
    }
    /* a bare word: up to a delimiter; at the end of the text it may still go on */
    size_t k = j;
    while (k < n && !strchr(",}]", s[k]) && !is_ws(s[k]) && s[k] != '<') k++;
    if (k == n) return P_MORE;
    if (k == j) return P_NOT;
    size_t len = k - j;
    const char *w = s + j;
    json_t *v = NULL;
    if ((len == 4 && (!memcmp(w, "true", 4) || !memcmp(w, "True", 4)))) v = json_true();
    else if (len == 5 && (!memcmp(w, "false", 5) || !memcmp(w, "False", 5))) v = json_false();
    else if ((len == 4 && (!memcmp(w, "null", 4) || !memcmp(w, "None", 4)))) v = json_null();
    else {
        char num[64];
        if (len < sizeof num) {
            memcpy(num, w, len);
            num[len] = 0;
            char *e;
            bool integral = strspn(num, "-+0123456789") == len;
            if (integral) {
                errno = 0;
                long long x = strtoll(num, &e, 10);
                if (!*e && e != num && errno != ERANGE) v = json_integer(x);
            }
            if (!v) {
                double d = strtod(num, &e);
                if (!*e && e != num && isfinite(d) && strspn(num, "-+0123456789.eE") == len) v = json_real(d);
            }
        }
        if (!v) v = json_stringn(w, len); /* an unquoted word (an enum value, say): a string */
        if (!v) return P_NOT;
    }
    *out = v;
    *i = k;
    return P_CALL;
}

static int gemma_call(const char *s, size_t n, size_t i, bool final, size_t *end, raw_call *out) {
    const markers *mk = &FORMAT_MARKERS[HEARTH_TOOL_FORMAT_GEMMA4];
    size_t j;
    int r = expect(s, n, i, mk->open, &j);
    if (r == P_CALL) r = expect(s, n, j, "call:", &j);
    if (r != P_CALL) return r == P_MORE && !final ? P_MORE : P_NOT;
    size_t name0 = j;
    while (j < n && s[j] != '{') {
        char c = s[j];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok) return P_NOT;
        j++;
    }
    if (j == n) return final ? P_NOT : P_MORE;
    if (j == name0) return P_NOT;
    size_t name1 = j;
    gctx g = {s, n, mk->quote, strlen(mk->quote)};
    json_t *args;
    r = gemma_value(&g, &j, &args, 0);
    if (r == P_MORE) return final ? P_NOT : P_MORE;
    if (r != P_CALL) return P_NOT;
    if (!json_is_object(args)) { json_decref(args); return P_NOT; }
    r = close_marker(s, n, j, mk->close, final, end);
    if (r != P_CALL) { json_decref(args); return r; }
    out->name = strndup(s + name0, name1 - name0);
    if (!out->name) { json_decref(args); return P_NOT; }
    out->args = args;
    return P_CALL;
}

/* ---- the streaming parser */

struct hearth_tool_parser {
    hearth_tool_format f;
    tbuf buf;             /* text not consumed yet starts at pos */
    size_t pos;
    tbuf out;             /* this push's content */
    tbuf held;            /* whitespace not shown yet (dropped if a call follows) */
    bool after_call;      /* drop whitespace that follows a call */
    hearth_tool_call *calls;
    int n_calls, cap_calls;
    int total_calls;
    bool done;
};

hearth_tool_parser *hearth_tool_parser_new(hearth_tool_format f) {
    if (!valid_format(f)) { hearth_fail(HEARTH_ERR_ARG, "tool calls: unknown format %d", (int)f); return NULL; }
    hearth_tool_parser *tp = calloc(1, sizeof *tp);
    if (!tp) { hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); return NULL; }
    tp->f = f;
    return tp;
}

static void clear_calls(hearth_tool_parser *tp) {
    for (int i = 0; i < tp->n_calls; i++) { free(tp->calls[i].name); free(tp->calls[i].arguments); }
    tp->n_calls = 0;
}

void hearth_tool_parser_free(hearth_tool_parser *tp) {
    if (!tp) return;
    clear_calls(tp);
    free(tp->calls);
    free(tp->buf.s);
    free(tp->out.s);
    free(tp->held.s);
    free(tp);
}

/* Content: shown, except whitespace at its end, held until something else follows. */
static void emit(hearth_tool_parser *tp, const char *s, size_t n) {
    if (tp->after_call) {
        while (n && is_ws(*s)) { s++; n--; }
        if (!n) return;
        tp->after_call = false;
    }
    size_t k = n;
    while (k && is_ws(s[k - 1])) k--;
    if (k) {
        tb_put(&tp->out, tp->held.s ? tp->held.s : "", tp->held.n);
        tp->held.n = 0;
        tb_put(&tp->out, s, k);
    }
    tb_put(&tp->held, s + k, n - k);
}

/* The first position from i where a call may begin (n if none). */
static size_t candidate(const hearth_tool_parser *tp, const char *s, size_t n, size_t i) {
    const markers *mk = &FORMAT_MARKERS[tp->f];
    size_t e;
    for (; i < n; i++) {
        if (s[i] == '<') {
            const char *m = tp->f == HEARTH_TOOL_FORMAT_LLAMA3 ? mk->tag : mk->open;
            if (expect(s, n, i, m, &e) != P_NOT) return i;
        } else if (s[i] == '{' && tp->f == HEARTH_TOOL_FORMAT_LLAMA3) {
            size_t j = skip_ws(s, n, i + 1);
            if (j == n || s[j] == '"') return i; /* an object with keys: it may be a call */
        }
    }
    return n;
}

static int add_call(hearth_tool_parser *tp, raw_call *rc) {
    if (tp->n_calls == tp->cap_calls) {
        int cap = tp->cap_calls ? tp->cap_calls * 2 : 4;
        hearth_tool_call *nc = realloc(tp->calls, sizeof *nc * (size_t)cap);
        if (!nc) return -1;
        tp->calls = nc;
        tp->cap_calls = cap;
    }
    tbuf a = {0};
    tb_json(&a, rc->args);
    json_decref(rc->args);
    if (a.oom || !a.s) { free(a.s); free(rc->name); return -1; }
    tp->calls[tp->n_calls++] = (hearth_tool_call){rc->name, a.s};
    tp->total_calls++;
    return 0;
}

int hearth_tool_parser_push(hearth_tool_parser *tp, const char *text, size_t len, bool final, const char **content,
                            size_t *content_len, const hearth_tool_call **calls, int *n_calls) {
    tp->out.n = 0;
    if (tp->out.s) tp->out.s[0] = 0;
    clear_calls(tp);
    if (tp->done) len = 0;
    tb_put(&tp->buf, text ? text : "", len);
    const char *s = tp->buf.s ? tp->buf.s : "";
    size_t n = tp->buf.n;
    while (tp->pos < n) {
        if (tp->after_call) { /* what may follow a call: LLAMA3's ';' between calls, GEMMA4's <|tool_response> */
            size_t j = skip_ws(s, n, tp->pos), e;
            if (j == n && !final) break;
            if (j < n && tp->f == HEARTH_TOOL_FORMAT_LLAMA3 && s[j] == ';') { tp->pos = j + 1; continue; }
            if (j < n && tp->f == HEARTH_TOOL_FORMAT_GEMMA4) {
                int r = expect(s, n, j, FORMAT_MARKERS[tp->f].resp, &e);
                if (r == P_CALL) { tp->pos = e; continue; }
                if (r == P_MORE && !final) break;
            }
        }
        size_t c = candidate(tp, s, n, tp->pos);
        if (c > tp->pos) emit(tp, s + tp->pos, c - tp->pos);
        tp->pos = c;
        if (c == n) break;
        raw_call rc = {0};
        size_t end = c;
        int r = tp->f == HEARTH_TOOL_FORMAT_HERMES   ? hermes_call(s, n, c, final, &end, &rc)
                : tp->f == HEARTH_TOOL_FORMAT_LLAMA3 ? llama3_call(s, n, c, final, &end, &rc)
                                                     : gemma_call(s, n, c, final, &end, &rc);
        if (r == P_MORE) break;
        if (r == P_CALL) {
            if (add_call(tp, &rc) < 0) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
            tp->held.n = 0;
            tp->after_call = true;
            tp->pos = end;
            continue;
        }
        emit(tp, s + c, 1); /* not a call: its first byte is content, look again after it */
        tp->pos = c + 1;
    }
    if (final) {
        if (tp->pos < n) emit(tp, s + tp->pos, n - tp->pos);
        tp->pos = n;
        if (!tp->total_calls) tb_put(&tp->out, tp->held.s ? tp->held.s : "", tp->held.n);
        tp->held.n = 0;
        tp->done = true;
    }
    /* drop what is consumed */
    if (tp->pos > 4096 && tp->pos > tp->buf.n / 2) {
        memmove(tp->buf.s, tp->buf.s + tp->pos, tp->buf.n - tp->pos);
        tp->buf.n -= tp->pos;
        tp->buf.s[tp->buf.n] = 0;
        tp->pos = 0;
    }
    if (tp->buf.oom || tp->out.oom || tp->held.oom) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    *content = tp->out.s ? tp->out.s : "";
    *content_len = tp->out.n;
    *calls = tp->calls;
    *n_calls = tp->n_calls;
    return 0;
}

int hearth_tool_calls_parse(hearth_tool_format f, const char *text, size_t len, char **content, hearth_tool_call **calls,
                            int *n_calls) {
    *content = NULL;
    *calls = NULL;
    *n_calls = 0;
    hearth_tool_parser *tp = hearth_tool_parser_new(f);
    if (!tp) return hearth_last_error()[0] ? HEARTH_ERR_ARG : HEARTH_ERR_NOMEM;
    const char *c;
    size_t cl;
    const hearth_tool_call *tc;
    int n;
    int rc = hearth_tool_parser_push(tp, text, len, true, &c, &cl, &tc, &n);
    if (rc == 0) {
        *content = strndup(c, cl);
        /* the calls move to the caller */
        *calls = tp->calls;
        *n_calls = n;
        tp->calls = NULL;
        tp->n_calls = tp->cap_calls = 0;
        if (!*content) rc = hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    }
    hearth_tool_parser_free(tp);
    if (rc < 0) {
        hearth_tool_calls_free(*calls, *n_calls);
        free(*content);
        *content = NULL;
        *calls = NULL;
        *n_calls = 0;
    }
    return rc;
}

void hearth_tool_calls_free(hearth_tool_call *calls, int n_calls) {
    for (int i = 0; calls && i < n_calls; i++) { free(calls[i].name); free(calls[i].arguments); }
    free(calls);
}

/* --------------------------------------------------------------------------------------------- grammars */

/* Prefix every rule name of a GBNF text (definitions and references). */
static void gbnf_prefixed(tbuf *out, const char *g, const char *prefix) {
    const char *p = g;
    while (*p) {
        char c = *p;
        if (c == '#') { /* comment */
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            tb_put(out, p, n);
            p += n;
        } else if (c == '"' || c == '[' || c == '<' || c == '{') { /* literal, class, token reference, count */
            char close = c == '"' ? '"' : c == '[' ? ']' : c == '<' ? '>' : '}';
            const char *q = p + 1;
            while (*q && *q != close) {
                if (*q == '\\' && q[1] && c != '<' && c != '{') q++;
                q++;
            }
            if (*q) q++;
            tb_put(out, p, (size_t)(q - p));
            p = q;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
            const char *q = p;
            while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_' || *q == '-') q++;
            tb_puts(out, prefix);
            tb_put(out, p, (size_t)(q - p));
            p = q;
        } else {
            tb_put(out, p, 1);
            p++;
        }
    }
}

/* A marker as a grammar element: a token reference when the vocabulary has it as a control token (text
 * pieces cannot spell those), else its text. *token gets the control token's id or -1. */
static void marker_expr(const hearth_model *model, const char *text, tbuf *out, int32_t *token) {
    int32_t id = model && model->tok ? tokenizer_find(model->tok, text, strlen(text)) : -1;
    if (id >= 0 && tokenizer_is_control(model->tok, id)) {
        tb_printf(out, "<[%d]>", (int)id);
        if (token) *token = id;
        return;
    }
    if (token) *token = -1;
    tb_gbnf_literal(out, text, strlen(text));
}

void hearth_tool_grammar_free(hearth_tool_grammar *g) {
    if (!g) return;
    free(g->gbnf);
    for (int i = 0; i < g->n_words; i++) free(g->words[i]);
    memset(g, 0, sizeof *g);
}

static const char ANY_OBJECT[] = "{\"type\":\"object\",\"additionalProperties\":true}";

int hearth_tool_grammar_build(const hearth_model *model, const hearth_tool_spec *spec, hearth_tool_grammar *out) {
    hearth_clear_error();
    memset(out, 0, sizeof *out);
    if (!spec || !valid_format(spec->format) || !spec->tools_json)
        return hearth_fail(HEARTH_ERR_ARG, "tool calls: a format and a tools array are required");
    hearth_tool_format f = spec->format;
    bool lazy = spec->choice == HEARTH_TOOL_CHOICE_AUTO && !spec->name;
    json_error_t je;
    json_t *tools = json_loads(spec->tools_json, 0, &je);
    if (!json_is_array(tools) || !json_array_size(tools)) {
        json_decref(tools);
        return hearth_fail(HEARTH_ERR_FORMAT, "tool calls: tools must be a non-empty JSON array");
    }
    const markers *mk = &FORMAT_MARKERS[f];
    tbuf g = {0}, calls = {0};
    int rc = 0, n_fn = 0;
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        json_t *type = json_object_get(tool, "type");
        json_t *name = json_object_get(fn, "name");
        if (!json_is_object(tool) || (type && !(json_is_string(type) && !strcmp(json_string_value(type), "function"))) ||
            !json_is_object(fn) || !json_is_string(name) || !json_string_length(name)) {
            rc = hearth_fail(HEARTH_ERR_FORMAT, "tool calls: tools[%zu] is not {\"type\": \"function\", \"function\": {\"name\": ...}}", i);
            break;
        }
        const char *nm = json_string_value(name);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(nm, json_string_value(json_object_get(json_object_get(json_array_get(tools, k), "function"), "name")))) {
                rc = hearth_fail(HEARTH_ERR_FORMAT, "tool calls: two tools are named '%s'", nm);
                break;
            }
        if (rc) break;
        if (spec->name && strcmp(spec->name, nm)) continue;
        json_t *params = json_object_get(fn, "parameters");
        char *schema = params && !json_is_null(params) ? json_dumps(params, JSON_COMPACT) : strdup("{\"type\":\"object\"}");
        json_schema_dialect d = {.gemma = f == HEARTH_TOOL_FORMAT_GEMMA4};
        tbuf q = {0};
        if (d.gemma) {
            marker_expr(model, mk->quote, &q, NULL);
            d.gemma_quote = q.s;
        }
        char *args = NULL;
        int r = schema ? json_schema_gbnf(schema, &d, &args) : hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        if (r < 0 && !lazy) {
            char msg[512]; /* hearth_last_error()'s buffer is where hearth_fail writes */
            snprintf(msg, sizeof msg, "%s", hearth_last_error());
            rc = hearth_fail(r, "tool '%s': parameters: %s", nm, msg);
        } else if (r < 0) { /* auto: a function whose schema is not supported takes any object */
            r = json_schema_gbnf(ANY_OBJECT, &d, &args);
            if (r < 0) rc = r;
        }
        free(schema);
        free(q.s);
        if (rc) { free(args); break; }
        char prefix[32];
        snprintf(prefix, sizeof prefix, "t%d-", n_fn);
        gbnf_prefixed(&g, args, prefix);
        free(args);
        /* the call of this function */
        tb_printf(&g, "tc-f%d ::= ", n_fn);
        tbuf lit = {0};
        if (f == HEARTH_TOOL_FORMAT_GEMMA4) {
            tb_printf(&lit, "call:%s", nm);
            tb_gbnf_literal(&g, lit.s, lit.n);
            tb_printf(&g, " t%d-root\n", n_fn);
        } else {
            tb_json_string(&lit, nm, strlen(nm));
            tb_puts(&g, "\"{\" tc-ws \"\\\"name\\\"\" tc-ws \":\" tc-ws ");
            tb_gbnf_literal(&g, lit.s, lit.n);
            tb_printf(&g, " tc-ws \",\" tc-ws \"\\\"%s\\\"\" tc-ws \":\" tc-ws t%d-root \"}\"\n",
                      f == HEARTH_TOOL_FORMAT_LLAMA3 ? "parameters" : "arguments", n_fn);
        }
        free(lit.s);
        tb_printf(&calls, "%stc-f%d", n_fn ? " | " : "", n_fn);
        n_fn++;
    }
    if (!rc && !n_fn) rc = hearth_fail(HEARTH_ERR_ARG, "tool calls: no tool is named '%s'", spec->name ? spec->name : "");
    if (rc) {
        json_decref(tools);
        free(g.s);
        free(calls.s);
        return rc;
    }
    tb_printf(&g, "tc-call ::= %s\n", calls.s);
    tb_puts(&g, "tc-ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n");
    bool single = spec->single || f == HEARTH_TOOL_FORMAT_LLAMA3;
    int32_t open_tok = -1, tag_tok = -1;
    switch (f) {
    case HEARTH_TOOL_FORMAT_HERMES:
    case HEARTH_TOOL_FORMAT_GEMMA4: {
        tb_puts(&g, "tc-open ::= ");
        marker_expr(model, mk->open, &g, &open_tok);
        tb_puts(&g, "\ntc-close ::= ");
        marker_expr(model, mk->close, &g, NULL);
        if (f == HEARTH_TOOL_FORMAT_HERMES) tb_puts(&g, "\ntc-body ::= tc-ws tc-call tc-ws tc-close\ntc-more ::= tc-ws tc-open tc-body\n");
        else tb_puts(&g, "\ntc-body ::= tc-call tc-close\ntc-more ::= tc-open tc-body\n");
        /* after a lazy grammar's trigger token the grammar starts behind the token */
        tb_printf(&g, "root ::= %stc-body%s", lazy && open_tok >= 0 ? "" : "tc-open ", single ? "" : " tc-more*");
        if (f == HEARTH_TOOL_FORMAT_GEMMA4) {
            int32_t resp = model && model->tok ? tokenizer_find(model->tok, mk->resp, strlen(mk->resp)) : -1;
            if (resp < 0 || !tokenizer_is_eog(model->tok, resp)) { /* an end-of-generation token ends it anyway */
                tb_puts(&g, " tc-resp?\ntc-resp ::= ");
                marker_expr(model, mk->resp, &g, NULL);
            }
        }
        tb_puts(&g, "\n");
        break;
    }
    case HEARTH_TOOL_FORMAT_LLAMA3:
        tb_puts(&g, "tc-tag ::= ");
        marker_expr(model, mk->tag, &g, &tag_tok);
        tb_puts(&g, "\nroot ::= tc-tag? tc-ws tc-call\n");
        break;
    }
    if (lazy) {
        out->lazy = true;
        if (f == HEARTH_TOOL_FORMAT_LLAMA3) {
            out->words[out->n_words++] = strdup("{\"name\"");
            if (tag_tok >= 0) out->tokens[out->n_tokens++] = tag_tok;
            else out->words[out->n_words++] = strdup(mk->tag);
        } else if (open_tok >= 0) {
            out->tokens[out->n_tokens++] = open_tok;
        } else {
            out->words[out->n_words++] = strdup(mk->open);
        }
        for (int k = 0; k < out->n_words; k++)
            if (!out->words[k]) g.oom = true;
    }
    json_decref(tools);
    free(calls.s);
    if (g.oom) {
        free(g.s);
        hearth_tool_grammar_free(out);
        return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    }
    out->gbnf = g.s;
    return 0;
}

int hearth_sampler_set_tools(hearth_sampler *smp, const hearth_model *model, const hearth_tool_spec *spec) {
    hearth_tool_grammar g;
    int rc = hearth_tool_grammar_build(model, spec, &g);
    if (rc < 0) return rc;
    if (g.lazy) {
        hearth_grammar_triggers t = {(const char *const *)g.words, g.n_words, g.tokens, g.n_tokens};
        rc = hearth_sampler_set_grammar_lazy(smp, g.gbnf, "root", &t);
    } else {
        rc = hearth_sampler_set_grammar(smp, g.gbnf, "root");
    }
    hearth_tool_grammar_free(&g);
    return rc;
}
