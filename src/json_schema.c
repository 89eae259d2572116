/* json_schema.c — JSON Schema to GBNF (hearth_json_schema_to_gbnf), and the grammar of any JSON value.
 *
 * Contract
 *   - Every text the grammar admits is a JSON document valid against the schema ("valid by construction").
 *     Where a keyword cannot be expressed exactly the grammar admits a subset of the valid documents, never
 *     more: additionalProperties absent means no extra keys; extra keys (additionalProperties true or a
 *     schema) use no escapes and never spell a declared key; properties come in declared order; numbers have
 *     at most 16 integer and 16 fraction digits (exponents up to 99, and none under bounds); fractional
 *     number bounds are rounded inward; strings under a pattern use one spelling per character (no \u
 *     escapes), have at most 64 characters before the match when the pattern is not anchored with ^, negated regex classes (\D \W \S [^\d]) stay within printable ASCII, and date excludes
 *     February 29. oneOf is compiled as anyOf: the branches of a schema should not overlap (a value that
 *     matches two branches is invalid under oneOf).
 *   - Anything else is an error (HEARTH_ERR_UNSUPPORTED or HEARTH_ERR_FORMAT) naming the keyword and its
 *     JSON-pointer path: unknown keywords, keywords of the wrong type, unsatisfiable bounds, remote $refs.
 *   - Whitespace between tokens is `ws`: nothing, one space, or a newline and up to 20 spaces or tabs.
 *   - The Gemma dialect (json_schema.h) writes the same values in Gemma 4's tool-call argument syntax: no
 *     whitespace, strings as raw text between <|"|> quotes (never containing one), bare object keys.
 *   - Rule names come from the schema's paths (root, root-name, def-Node, ...); each distinct $ref target is
 *     one rule, so recursive schemas become recursive rules.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth.h"
#include "json_schema.h"
#include "util.h"

/* ------------------------------------------------------------------------------------- text buffers */

typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) { b->oom = true; return; }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { sb_putn(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { b->oom = true; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)n);
    free(big);
}

static char *sb_take(sbuf *b) {
    char *s = b->s ? b->s : strdup("");
    b->s = NULL;
    b->n = b->cap = 0;
    return s;
}

/* A GBNF string literal for these bytes. */
static void sb_literal(sbuf *b, const char *s, size_t n) {
    sb_putn(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { sb_putn(b, "\\", 1); sb_putn(b, (const char *)&c, 1); }
        else if (c == '\n') sb_puts(b, "\\n");
        else if (c == '\r') sb_puts(b, "\\r");
        else if (c == '\t') sb_puts(b, "\\t");
        else if (c < 0x20 || c == 0x7F) sb_printf(b, "\\x%02X", c);
        else sb_putn(b, (const char *)&c, 1);
    }
    sb_putn(b, "\"", 1);
}

/* ----------------------------------------------------------------------------- primitive rules */

/* Each primitive once, in dependency order; `deps` are bits of other primitives it needs. */
enum {
    P_WS, P_HEX, P_CHAR, P_STRING, P_INT, P_FRAC, P_NUMBER, P_BOOL, P_NULL, P_VALUE, P_OBJECT, P_ARRAY,
    P_KCHAR, P_DATE, P_TIME, P_DATETIME, P_UUID, P_EMAIL, P_IPV4,
    /* the Gemma dialect only (json_schema.h): the <|"|> quote, string text, bare keys */
    P_GQUOTE, P_GTEXT, P_GLT, P_GLTOPEN, P_GKEY, P_COUNT
};

static const struct {
    const char *name, *body;
    unsigned deps;
} prims[P_COUNT] = {
    [P_WS] = {"ws", "| \" \" | \"\\n\" [ \\t]{0,20}", 0},
    [P_HEX] = {"hex", "[0-9a-fA-F]", 0},
    /* one character of a JSON string: raw, or an escape (\u escapes of surrogates excluded, so that a
     * character count is a code point count) */
    [P_CHAR] = {"json-char", "[^\"\\\\\\x00-\\x1F\\x7F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-CefEF] hex hex hex | [dD] [0-7] hex hex ) )",
                1u << P_HEX},
    [P_STRING] = {"json-string", "\"\\\"\" json-char* \"\\\"\"", 1u << P_CHAR},
    [P_INT] = {"json-int", "\"-\"? ( \"0\" | [1-9] [0-9]{0,15} )", 0},
    [P_FRAC] = {"json-frac", "[0-9]{0,15} [1-9]", 0},
    [P_NUMBER] = {"json-number", "json-int ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?", 1u << P_INT},
    [P_BOOL] = {"json-boolean", "\"true\" | \"false\"", 0},
    [P_NULL] = {"json-null", "\"null\"", 0},
    [P_VALUE] = {"json-value", "json-object | json-array | json-string | json-number | json-boolean | json-null",
                 1u << P_OBJECT | 1u << P_ARRAY | 1u << P_STRING | 1u << P_NUMBER | 1u << P_BOOL | 1u << P_NULL},
    [P_OBJECT] = {"json-object", "\"{\" ws ( json-string ws \":\" ws json-value ws ( \",\" ws json-string ws \":\" ws json-value ws )* )? \"}\"",
                  1u << P_WS | 1u << P_STRING | 1u << P_VALUE},
    [P_ARRAY] = {"json-array", "\"[\" ws ( json-value ws ( \",\" ws json-value ws )* )? \"]\"", 1u << P_WS | 1u << P_VALUE},
    /* characters of extra object keys: no escapes, so a key is spelled one way only */
    [P_KCHAR] = {"json-kchar", "[^\"\\\\\\x00-\\x1F\\x7F]", 0},
    [P_DATE] = {"json-date",
                "[1-9] [0-9]{3} \"-\" ( ( \"0\" [13578] | \"1\" [02] ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] ) | "
                "( \"0\" [469] | \"11\" ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"30\" ) | "
                "\"02-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] ) )", 0},
    [P_TIME] = {"json-time",
                "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,6} )? "
                "( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )", 0},
    [P_DATETIME] = {"json-date-time", "json-date \"T\" json-time", 1u << P_DATE | 1u << P_TIME},
    [P_UUID] = {"json-uuid", "hex{8} \"-\" hex{4} \"-\" hex{4} \"-\" hex{4} \"-\" hex{12}", 1u << P_HEX},
    [P_EMAIL] = {"json-email",
                 "[a-zA-Z0-9_%+-]{1,32} ( \".\" [a-zA-Z0-9_%+-]{1,32} ){0,3} \"@\" [a-zA-Z0-9] [a-zA-Z0-9-]{0,30} "
                 "( \".\" [a-zA-Z0-9] [a-zA-Z0-9-]{0,30} ){0,3} \".\" [a-zA-Z]{2,12}", 0},
    [P_IPV4] = {"json-ipv4", "json-octet \".\" json-octet \".\" json-octet \".\" json-octet", 0},
    [P_GQUOTE] = {"gemma-quote", NULL, 0}, /* the dialect's quote (conv.gquote) */
    /* text that never contains <|"|>: the states of matching it (after <, <|, <|", <|"|) written out; a run
     * of them either returns to the start with a character that breaks the match, or is left open right
     * before the closing quote */
    [P_GTEXT] = {"gemma-text", "( [^<\\x00] | \"<\" gemma-lt )* ( \"<\" gemma-lt-open )?", 1u << P_GLT | 1u << P_GLTOPEN},
    [P_GLT] = {"gemma-lt", "( \"<\" | \"|<\" | \"|\\\"<\" | \"|\\\"|<\" )* ( [^<|\\x00] | \"|\" [^<\"\\x00] | \"|\\\"\" [^<|\\x00] | \"|\\\"|\" [^<>\\x00] )", 0},
    [P_GLTOPEN] = {"gemma-lt-open", "( \"<\" | \"|<\" | \"|\\\"<\" | \"|\\\"|<\" )* ( \"|\" ( \"\\\"\" \"|\"? )? )?", 0},
    [P_GKEY] = {"gemma-key", "json-kchar+", 1u << P_KCHAR},
};

/* The Gemma dialect's bodies where they differ: no whitespace between tokens, strings as raw text between
 * <|"|> quotes (no escapes), bare object keys. */
static const char *const gemma_bodies[P_COUNT] = {
    [P_WS] = "\"\"",
    [P_CHAR] = "[^<\\x00]",
    [P_STRING] = "gemma-quote gemma-text gemma-quote",
    [P_OBJECT] = "\"{\" ( gemma-key \":\" json-value ( \",\" gemma-key \":\" json-value )* )? \"}\"",
    [P_KCHAR] = "[^:,{}\\[\\]<\\x00-\\x20\\x7F]",
};
static const unsigned gemma_deps[P_COUNT] = {
    [P_CHAR] = 0,
    [P_STRING] = 1u << P_GQUOTE | 1u << P_GTEXT,
    [P_OBJECT] = 1u << P_GKEY | 1u << P_VALUE,
};

static const char any_json_gbnf[] =
    "# any JSON value (hearth_json_gbnf)\n"
    "root ::= json-value ws\n"
    "json-value ::= json-object | json-array | json-string | json-number | json-boolean | json-null\n"
    "json-object ::= \"{\" ws ( json-string ws \":\" ws json-value ws ( \",\" ws json-string ws \":\" ws json-value ws )* )? \"}\"\n"
    "json-array ::= \"[\" ws ( json-value ws ( \",\" ws json-value ws )* )? \"]\"\n"
    "json-string ::= \"\\\"\" json-char* \"\\\"\"\n"
    "json-char ::= [^\"\\\\\\x00-\\x1F\\x7F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-CefEF] hex hex hex | [dD] [0-7] hex hex ) )\n"
    "hex ::= [0-9a-fA-F]\n"
    "json-number ::= json-int ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?\n"
    "json-int ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n"
    "json-boolean ::= \"true\" | \"false\"\n"
    "json-null ::= \"null\"\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

const char *hearth_json_gbnf(void) { return any_json_gbnf; }

/* -------------------------------------------------------------------------------------- converter */

typedef struct {
    char *name;
    char *body; /* NULL while being generated (recursion) */
} crule;

typedef struct {
    char *ref;
    int rule;
} refmemo;

typedef struct {
    json_t *doc;
    crule *rules;
    size_t n_rules, cap_rules;
    refmemo *refs;
    size_t n_refs, cap_refs;
    unsigned prims;  /* primitives used */
    bool octet;      /* json-octet used (ipv4) */
    int depth;       /* nesting of schema generation (refuses absurd depth) */
    int err;
    bool gemma;      /* the Gemma tool-call dialect (json_schema.h) */
    const char *gquote;
} conv;

static const char *prim_body(const conv *c, int p) {
    if (p == P_GQUOTE) return c->gquote;
    return c->gemma && gemma_bodies[p] ? gemma_bodies[p] : prims[p].body;
}

static unsigned prim_deps(const conv *c, int p) { return c->gemma && gemma_bodies[p] ? gemma_deps[p] : prims[p].deps; }

static int cfail(conv *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cfail(conv *c, int code, const char *fmt, ...) {
    if (c->err) return c->err;
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->err = hearth_fail(code, "json schema: %s", msg);
    return c->err;
}

static const char *use(conv *c, int prim) {
    c->prims |= 1u << prim;
    return prims[prim].name;
}

/* The GBNF of a string's opening or closing quote. */
static const char *quote(conv *c) { return c->gemma ? use(c, P_GQUOTE) : "\"\\\"\""; }

/* A fresh rule name from a hint (characters outside [a-zA-Z0-9-] become '-'), unique. Returns the index. */
static int add_rule(conv *c, const char *hint) {
    char base[96];
    size_t k = 0;
    for (const char *p = hint; *p && k < sizeof base - 12; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!ok) ch = '-';
        if (ch == '-' && (k == 0 || base[k - 1] == '-')) continue;
        base[k++] = ch;
    }
    while (k > 0 && base[k - 1] == '-') k--;
    if (k == 0) base[k++] = 'r';
    base[k] = 0;
    char name[112];
    snprintf(name, sizeof name, "%s", base);
    for (int n = 2;; n++) {
        bool taken = false;
        for (size_t i = 0; i < c->n_rules && !taken; i++) taken = !strcmp(c->rules[i].name, name);
        for (int p = 0; p < P_COUNT && !taken; p++) taken = !strcmp(prims[p].name, name);
        taken |= !strcmp(name, "json-octet");
        if (!taken) break;
        snprintf(name, sizeof name, "%s-%d", base, n);
    }
    if (c->n_rules == c->cap_rules) {
        size_t cap = c->cap_rules ? c->cap_rules * 2 : 32;
        crule *nr = realloc(c->rules, cap * sizeof *nr);
        if (!nr) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
        c->rules = nr;
        c->cap_rules = cap;
    }
    c->rules[c->n_rules].name = strdup(name);
    c->rules[c->n_rules].body = NULL;
    if (!c->rules[c->n_rules].name) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    return (int)c->n_rules++;
}

static void set_body(conv *c, int r, sbuf *body) {
    if (body->oom) { cfail(c, HEARTH_ERR_NOMEM, "out of memory"); return; }
    c->rules[r].body = sb_take(body);
}

/* Define a rule with this body; returns its name (owned by c). */
static const char *def_rule(conv *c, const char *hint, sbuf *body) {
    int r = add_rule(c, hint);
    if (r < 0) { free(body->s); body->s = NULL; return "?"; }
    set_body(c, r, body);
    return c->rules[r].name;
}

/* ---- paths */

/* path + "/" + key as a JSON pointer ('~' and '/' escaped), cut to cap */
static void path_join(char *out, size_t cap, const char *path, const char *key) {
    size_t k = 0;
    for (const char *p = path; *p && k + 1 < cap; p++) out[k++] = *p;
    if (k + 1 < cap) out[k++] = '/';
    for (const char *p = key; *p && k + 2 < cap; p++) {
        if (*p == '~' || *p == '/') { out[k++] = '~'; out[k++] = *p == '~' ? '0' : '1'; }
        else out[k++] = *p;
    }
    out[k] = 0;
}

static void path_index(char *out, size_t cap, const char *path, const char *key, size_t i) {
    snprintf(out, cap, "%s/%s/%zu", path, key, i);
}

/* ---- JSON values as canonical text (for enum and const) */

static void json_text(sbuf *b, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        sb_putn(b, "{", 1);
        const char *key;
        json_t *val;
        bool first = true;
        json_object_foreach((json_t *)v, key, val) {
            if (!first) sb_putn(b, ",", 1);
            first = false;
            json_t *k = json_string(key);
            if (k) json_text(b, k);
            json_decref(k);
            sb_putn(b, ":", 1);
            json_text(b, val);
        }
        sb_putn(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        sb_putn(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) sb_putn(b, ",", 1);
            json_text(b, json_array_get(v, i));
        }
        sb_putn(b, "]", 1);
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        sb_putn(b, "\"", 1);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch == '"') sb_puts(b, "\\\"");
            else if (ch == '\\') sb_puts(b, "\\\\");
            else if (ch == '\n') sb_puts(b, "\\n");
            else if (ch == '\r') sb_puts(b, "\\r");
            else if (ch == '\t') sb_puts(b, "\\t");
            else if (ch == '\b') sb_puts(b, "\\b");
            else if (ch == '\f') sb_puts(b, "\\f");
            else if (ch < 0x20 || ch == 0x7F) sb_printf(b, "\\u%04x", ch);
            else sb_putn(b, (const char *)&ch, 1);
        }
        sb_putn(b, "\"", 1);
        break;
    }
    case JSON_INTEGER: sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: {
        /* the shortest text that reads back as the same double */
        double d = json_real_value(v);
        char tmp[40];
        for (int p = 1; p <= 17; p++) {
            snprintf(tmp, sizeof tmp, "%.*g", p, d);
            if (strtod(tmp, NULL) == d) break;
        }
        sb_puts(b, tmp);
        break;
    }
    case JSON_TRUE: sb_puts(b, "true"); break;
    case JSON_FALSE: sb_puts(b, "false"); break;
    case JSON_NULL: sb_puts(b, "null"); break;
    }
}

/* The Gemma dialect's spelling of a value (enum and const), as a GBNF expression: strings between quote
 * rules, bare keys. */
static void gemma_value(conv *c, sbuf *b, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *q = use(c, P_GQUOTE);
        sb_printf(b, "%s ", q);
        if (json_string_length(v)) { sb_literal(b, json_string_value(v), json_string_length(v)); sb_puts(b, " "); }
        sb_puts(b, q);
        break;
    }
    case JSON_OBJECT: {
        sb_puts(b, "\"{\"");
        const char *key;
        json_t *val;
        bool first = true;
        json_object_foreach((json_t *)v, key, val) {
            sb_puts(b, first ? " " : " \",\" ");
            first = false;
            sbuf k = {0};
            sb_printf(&k, "%s:", key);
            sb_literal(b, k.s ? k.s : ":", k.s ? k.n : 1);
            free(k.s);
            sb_puts(b, " ");
            gemma_value(c, b, val);
        }
        sb_puts(b, " \"}\"");
        break;
    }
    case JSON_ARRAY:
        sb_puts(b, "\"[\"");
        for (size_t i = 0; i < json_array_size(v); i++) {
            sb_puts(b, i ? " \",\" " : " ");
            gemma_value(c, b, json_array_get(v, i));
        }
        sb_puts(b, " \"]\"");
        break;
    default: {
        sbuf t = {0};
        json_text(&t, v);
        sb_literal(b, t.s ? t.s : "null", t.s ? t.n : 4);
        free(t.s);
    }
    }
}

/* ---- keyword classification */

static const char *const annotations[] = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly",
    "writeOnly", "$defs", "definitions", "contentMediaType", "contentEncoding", "$anchor", NULL,
};
static const char *const kw_string[] = {"minLength", "maxLength", "pattern", "format", NULL};
static const char *const kw_number[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", NULL};
static const char *const kw_object[] = {"properties", "required", "additionalProperties", "unevaluatedProperties", NULL};
static const char *const kw_array[] = {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", NULL};
static const char *const kw_other[] = {"type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", NULL};

static bool in_list(const char *const *list, const char *k) {
    for (; *list; list++)
        if (!strcmp(*list, k)) return true;
    return false;
}

static bool has_any(const json_t *s, const char *const *list) {
    for (; *list; list++)
        if (json_object_get(s, *list)) return true;
    return false;
}

/* Refuse keywords this converter does not know, naming them (a constraint silently dropped would let the
 * model write invalid documents). */
static int check_keywords(conv *c, const json_t *s, const char *path) {
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)s, key, val) {
        if (in_list(annotations, key) || in_list(kw_string, key) || in_list(kw_number, key) ||
            in_list(kw_object, key) || in_list(kw_array, key) || in_list(kw_other, key))
            continue;
        return cfail(c, HEARTH_ERR_UNSUPPORTED, "unsupported keyword '%s' at %s", key, path);
    }
    return 0;
}

static int get_count(conv *c, const json_t *s, const char *key, const char *path, long *out) {
    json_t *v = json_object_get(s, key);
    if (!v) return 0;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d) || d > 100000)
        return cfail(c, HEARTH_ERR_FORMAT, "'%s' at %s must be a non-negative integer (at most 100000)", key, path);
    *out = (long)d;
    return 1;
}

/* ---- integer ranges as digit grammars */

/* The largest magnitude of a bounded integer range: 15 digits, exact as a double (bounds are compared as
 * doubles); unbounded integers (json-int) have up to 16 digits. */
#define INT_CAP 999999999999999LL

static int ndigits(long long v) {
    int n = 1;
    while (v >= 10) { v /= 10; n++; }
    return n;
}

/* Numbers of exactly n digits (as strings x..y, same length) — digit by digit. */
static void same_len(sbuf *b, const char *x, const char *y, int n) {
    if (n == 0) return;
    if (!strncmp(x, y, (size_t)n)) { sb_putn(b, "\"", 1); sb_putn(b, x, (size_t)n); sb_putn(b, "\"", 1); return; }
    if (x[0] == y[0]) {
        sb_printf(b, "\"%c\" ", x[0]);
        same_len(b, x + 1, y + 1, n - 1);
        return;
    }
    bool x_rest_zero = true, y_rest_nine = true;
    for (int i = 1; i < n; i++) { x_rest_zero &= x[i] == '0'; y_rest_nine &= y[i] == '9'; }
    int lo_mid = x[0] - '0' + (x_rest_zero ? 0 : 1), hi_mid = y[0] - '0' - (y_rest_nine ? 0 : 1);
    sb_puts(b, "( ");
    bool first = true;
    if (!x_rest_zero) {
        char nines[20];
        memset(nines, '9', sizeof nines);
        sb_printf(b, "\"%c\" ", x[0]);
        same_len(b, x + 1, nines, n - 1);
        first = false;
    }
    if (lo_mid <= hi_mid) {
        if (!first) sb_puts(b, " | ");
        if (lo_mid == hi_mid) sb_printf(b, "\"%d\"", lo_mid);
        else sb_printf(b, "[%d-%d]", lo_mid, hi_mid);
        if (n > 1) sb_printf(b, " [0-9]{%d}", n - 1);
        first = false;
    }
    if (!y_rest_nine) {
        char zeros[20];
        memset(zeros, '0', sizeof zeros);
        if (!first) sb_puts(b, " | ");
        sb_printf(b, "\"%c\" ", y[0]);
        same_len(b, zeros, y + 1, n - 1);
    }
    sb_puts(b, " )");
}

/* Non-negative integers lo..hi (0 <= lo <= hi <= INT_CAP), no leading zeros. */
static void nonneg_range(sbuf *b, long long lo, long long hi) {
    int dl = ndigits(lo), dh = ndigits(hi);
    if (dl < dh) sb_puts(b, "( ");
    for (int d = dl; d <= dh; d++) {
        long long a = d == dl ? lo : 1, z = d == dh ? hi : 9;
        if (d > dl) for (int i = 1; i < d; i++) a *= 10;          /* 10^(d-1) */
        if (d < dh) { z = 9; for (int i = 1; i < d; i++) z = z * 10 + 9; } /* 10^d - 1 */
        char xs[24], ys[24];
        snprintf(xs, sizeof xs, "%lld", a);
        snprintf(ys, sizeof ys, "%lld", z);
        if (d > dl) sb_puts(b, " | ");
        same_len(b, xs, ys, d);
    }
    if (dl < dh) sb_puts(b, " )");
}

/* Integers lo..hi (within +-INT_CAP, lo <= hi). */
static void int_range(sbuf *b, long long lo, long long hi) {
    bool neg = lo < 0, pos = hi >= 0;
    if (neg && pos) sb_puts(b, "( ");
    if (neg) {
        sb_puts(b, "\"-\" ");
        nonneg_range(b, hi < 0 ? -hi : 1, -lo);
    }
    if (neg && pos) sb_puts(b, " | ");
    if (pos) nonneg_range(b, lo > 0 ? lo : 0, hi);
    if (neg && pos) sb_puts(b, " )");
}

/* Bounds of a number keyword pair as doubles (+-inf when absent); draft-4 boolean exclusives too. */
static int number_bounds(conv *c, const json_t *s, const char *path, double *lo, bool *lo_x, double *hi, bool *hi_x) {
    *lo = -INFINITY; *hi = INFINITY; *lo_x = *hi_x = false;
    const char *names[4] = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"};
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(s, names[i]);
        if (!v) continue;
        if (json_is_boolean(v) && (i == 1 || i == 3)) { /* draft 4: modifies minimum / maximum */
            if (json_is_true(v)) *(i == 1 ? lo_x : hi_x) = true;
            continue;
        }
        if (!json_is_number(v)) return cfail(c, HEARTH_ERR_FORMAT, "'%s' at %s must be a number", names[i], path);
        double d = json_number_value(v);
        if (i < 2) { if (d > *lo || (d == *lo && i == 1)) { *lo = d; *lo_x = i == 1 || (*lo_x && d == *lo); } }
        else if (d < *hi || (d == *hi && i == 3)) { *hi = d; *hi_x = i == 3 || (*hi_x && d == *hi); }
    }
    return 0;
}

static int integer_expr(conv *c, const json_t *s, const char *path, sbuf *b) {
    double lo, hi;
    bool lo_x, hi_x;
    if (number_bounds(c, s, path, &lo, &lo_x, &hi, &hi_x) < 0) return c->err;
    if (isinf(lo) && isinf(hi)) { sb_puts(b, use(c, P_INT)); return 0; }
    double L = lo_x ? floor(lo) + 1 : ceil(lo), H = hi_x ? ceil(hi) - 1 : floor(hi);
    if (L > (double)INT_CAP || H < -(double)INT_CAP)
        return cfail(c, HEARTH_ERR_UNSUPPORTED, "integer bounds at %s beyond 15 digits", path);
    if (L < -(double)INT_CAP) L = -(double)INT_CAP;
    if (H > (double)INT_CAP) H = (double)INT_CAP;
    if (L > H) return cfail(c, HEARTH_ERR_FORMAT, "no integer satisfies the bounds at %s", path);
    int_range(b, (long long)L, (long long)H);
    return 0;
}

static int number_expr(conv *c, const json_t *s, const char *path, sbuf *b) {
    double lo, hi;
    bool lo_x, hi_x;
    if (number_bounds(c, s, path, &lo, &lo_x, &hi, &hi_x) < 0) return c->err;
    if (isinf(lo) && isinf(hi)) { sb_puts(b, use(c, P_NUMBER)); return 0; }
    /* integers in range, then k.f (f > 0) with k, k+1 inside the range, then -k.f likewise; rounding the
     * bounds inward keeps every written value valid */
    double L = lo_x ? floor(lo) + 1 : ceil(lo), H = hi_x ? ceil(hi) - 1 : floor(hi);
    double cap = (double)INT_CAP;
    double pk_lo = fmax(0, ceil(lo)), pk_hi = fmin(floor(hi) - 1, cap);
    double nk_lo = fmax(0, ceil(-hi)), nk_hi = fmin(floor(-lo) - 1, cap);
    L = fmax(L, -cap);
    H = fmin(H, cap);
    int parts = 0;
    sb_puts(b, "( ");
    if (L <= H) { int_range(b, (long long)L, (long long)H); parts++; }
    if (pk_lo <= pk_hi) {
        if (parts++) sb_puts(b, " | ");
        nonneg_range(b, (long long)pk_lo, (long long)pk_hi);
        sb_printf(b, " \".\" %s", use(c, P_FRAC));
    }
    if (nk_lo <= nk_hi) {
        if (parts++) sb_puts(b, " | ");
        sb_puts(b, "\"-\" ");
        nonneg_range(b, (long long)nk_lo, (long long)nk_hi);
        sb_printf(b, " \".\" %s", use(c, P_FRAC));
    }
    sb_puts(b, " )");
    if (!parts) return cfail(c, HEARTH_ERR_FORMAT, "no number satisfies the bounds at %s", path);
    return 0;
}

/* ---- regular expressions (pattern) -> GBNF over JSON string text */

typedef struct {
    uint32_t lo, hi;
} rrange;

typedef struct {
    rrange r[64];
    int n;
    bool neg;
    bool ascii_only; /* a negated class with \d \w \s: keep its complement within printable ASCII */
} rclass;

typedef struct {
    const char *p, *start;
    conv *c;
    const char *path;
} rx;

static int rx_fail(rx *r, const char *what) {
    return cfail(r->c, HEARTH_ERR_UNSUPPORTED, "pattern at %s: %s at offset %d", r->path, what, (int)(r->p - r->start));
}

static void cls_add(rclass *k, uint32_t lo, uint32_t hi) {
    if (k->n < 64) k->r[k->n++] = (rrange){lo, hi};
}

static void cls_add_escape(rclass *k, char e, bool *negated_escape) {
    *negated_escape = false;
    switch (e) {
    case 'd': cls_add(k, '0', '9'); break;
    case 'w': cls_add(k, 'a', 'z'); cls_add(k, 'A', 'Z'); cls_add(k, '0', '9'); cls_add(k, '_', '_'); break;
    case 's': cls_add(k, ' ', ' '); cls_add(k, '\t', '\r'); break;
    default: break;
    }
}

static uint32_t utf8_next(const char **p) {
    const unsigned char *s = (const unsigned char *)*p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (n > 1) {
        c &= (1u << (7 - n)) - 1;
        for (int i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80) { n = 1; c = s[0]; break; }
            c = c << 6 | (s[i] & 63);
        }
    }
    *p += n;
    return c;
}

static int hexv(char ch) {
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* One escaped literal character after '\'; returns 1 and the code point, 0 for a class escape (d w s D W S,
 * in *cls_esc), negative on error. */
static int rx_escape(rx *r, uint32_t *cp, char *cls_esc) {
    char e = *r->p++;
    *cls_esc = 0;
    switch (e) {
    case 'd': case 'w': case 's': case 'D': case 'W': case 'S': *cls_esc = e; return 0;
    case 'n': *cp = '\n'; return 1;
    case 't': *cp = '\t'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'v': *cp = '\v'; return 1;
    case 'x': case 'u': {
        int nd = e == 'x' ? 2 : 4;
        uint32_t v = 0;
        for (int i = 0; i < nd; i++) {
            int h = hexv(r->p[i]);
            if (h < 0) return rx_fail(r, "bad \\x or \\u escape");
            v = v * 16 + (uint32_t)h;
        }
        r->p += nd;
        *cp = v;
        return 1;
    }
    case 0: return rx_fail(r, "trailing backslash");
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
            return rx_fail(r, "unsupported escape (word boundaries, backreferences and the like)");
        *cp = (uint32_t)(unsigned char)e;
        return 1;
    }
}

/* The GBNF for one character of a JSON string whose decoded value is in class k (Gemma: raw text, no '<'). */
static void emit_class(sbuf *b, const rclass *k, bool gemma) {
    /* the set as sorted ranges of code points; negation and ASCII restriction applied */
    uint32_t lo[140], hi[140];
    int n = 0;
    rrange s[64];
    int m = k->n;
    memcpy(s, k->r, sizeof(rrange) * (size_t)m);
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && s[j].lo < s[j - 1].lo; j--) { rrange t = s[j]; s[j] = s[j - 1]; s[j - 1] = t; }
    if (!k->neg) {
        for (int i = 0; i < m; i++) { lo[n] = s[i].lo; hi[n] = s[i].hi; n++; }
    } else {
        uint32_t next = 0, top = k->ascii_only ? 0x7E : 0x10FFFF;
        for (int i = 0; i < m; i++) {
            if (s[i].lo > next && next <= top) { lo[n] = next; hi[n] = s[i].lo - 1 < top ? s[i].lo - 1 : top; n++; }
            if (s[i].hi + 1 > next) next = s[i].hi + 1;
        }
        if (next <= top) { lo[n] = next; hi[n] = top; n++; }
    }
    /* raw characters: everything but '"', '\' and control characters */
    sbuf raw = {0};
    int nraw = 0;
    bool has_quote = false, has_bslash = false, has_nl = false, has_tab = false, has_cr = false;
    for (int i = 0; i < n; i++) {
        uint32_t a = lo[i], z = hi[i];
        if (a <= '"' && '"' <= z) has_quote = true;
        if (a <= '\\' && '\\' <= z) has_bslash = true;
        if (a <= '\n' && '\n' <= z) has_nl = true;
        if (a <= '\t' && '\t' <= z) has_tab = true;
        if (a <= '\r' && '\r' <= z) has_cr = true;
        /* cut the excluded characters out of [a, z] */
        uint32_t cuts[][2] = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x7F}};
        if (gemma) { /* raw: only NUL and '<' (which could begin a quote) are left out */
            cuts[0][1] = 0;
            cuts[1][0] = cuts[1][1] = cuts[2][0] = cuts[2][1] = cuts[3][0] = cuts[3][1] = '<';
        }
        uint32_t pieces_lo[8], pieces_hi[8];
        int np = 1;
        pieces_lo[0] = a;
        pieces_hi[0] = z;
        for (int cI = 0; cI < 4; cI++) {
            int nn = 0;
            uint32_t tl[8], th[8];
            for (int p = 0; p < np; p++) {
                uint32_t pl = pieces_lo[p], ph = pieces_hi[p];
                if (ph < cuts[cI][0] || pl > cuts[cI][1]) { tl[nn] = pl; th[nn] = ph; nn++; continue; }
                if (pl < cuts[cI][0]) { tl[nn] = pl; th[nn] = cuts[cI][0] - 1; nn++; }
                if (ph > cuts[cI][1]) { tl[nn] = cuts[cI][1] + 1; th[nn] = ph; nn++; }
            }
            np = nn;
            memcpy(pieces_lo, tl, sizeof(uint32_t) * (size_t)nn);
            memcpy(pieces_hi, th, sizeof(uint32_t) * (size_t)nn);
        }
        for (int p = 0; p < np; p++) {
            uint32_t pl = pieces_lo[p], ph = pieces_hi[p];
            if (pl >= 0xD800 && ph <= 0xDFFF) continue;
            if (ph > 0x10FFFF) ph = 0x10FFFF;
            if (pl > ph) continue;
            if (pl == ph) sb_printf(&raw, "\\U%08X", pl);
            else sb_printf(&raw, "\\U%08X-\\U%08X", pl, ph);
            nraw++;
        }
    }
    int alts = 0;
    sb_puts(b, "( ");
    if (nraw) { sb_printf(b, "[%s]", raw.s); alts++; }
    free(raw.s);
    if (gemma) has_quote = has_bslash = has_nl = has_tab = has_cr = false;
    const char *esc[5] = {has_quote ? "\"\\\\\\\"\"" : NULL, has_bslash ? "\"\\\\\\\\\"" : NULL, has_nl ? "\"\\\\n\"" : NULL,
                          has_tab ? "\"\\\\t\"" : NULL, has_cr ? "\"\\\\r\"" : NULL};
    for (int i = 0; i < 5; i++)
        if (esc[i]) { if (alts++) sb_puts(b, " | "); sb_puts(b, esc[i]); }
    if (!alts) sb_puts(b, "[^\\x00-\\U0010FFFF]"); /* nothing: an empty class */
    sb_puts(b, " )");
}

static int rx_alternation(rx *r, sbuf *b, bool top);

/* A single atom into b; returns 0, 1 if it was an anchor (no text), negative on error. */
static int rx_atom(rx *r, sbuf *b) {
    char ch = *r->p;
    if (ch == '(') {
        r->p++;
        if (*r->p == '?') {
            if (r->p[1] == ':') r->p += 2;
            else return rx_fail(r, "unsupported group kind (lookaround or named group)");
        }
        sb_puts(b, "( ");
        if (rx_alternation(r, b, false) < 0) return r->c->err;
        if (*r->p != ')') return rx_fail(r, "missing )");
        r->p++;
        sb_puts(b, " )");
        return 0;
    }
    rclass k = {.n = 0};
    if (ch == '[') {
        r->p++;
        if (*r->p == '^') { k.neg = true; r->p++; }
        bool first = true;
        while (*r->p && (*r->p != ']' || first)) {
            first = false;
            uint32_t lo;
            if (*r->p == '\\') {
                r->p++;
                char ce;
                int e = rx_escape(r, &lo, &ce);
                if (e < 0) return r->c->err;
                if (e == 0) {
                    if (ce == 'D' || ce == 'W' || ce == 'S') return rx_fail(r, "\\D \\W \\S inside a class");
                    bool dummy;
                    cls_add_escape(&k, ce, &dummy);
                    k.ascii_only = true;
                    continue;
                }
            } else lo = utf8_next(&r->p);
            uint32_t hi = lo;
            if (r->p[0] == '-' && r->p[1] && r->p[1] != ']') {
                r->p++;
                if (*r->p == '\\') {
                    r->p++;
                    char ce;
                    int e = rx_escape(r, &hi, &ce);
                    if (e < 0) return r->c->err;
                    if (e == 0) return rx_fail(r, "class escape as a range end");
                } else hi = utf8_next(&r->p);
                if (hi < lo) return rx_fail(r, "range out of order");
            }
            cls_add(&k, lo, hi);
        }
        if (*r->p != ']') return rx_fail(r, "missing ]");
        r->p++;
        if (k.neg && k.ascii_only) { /* keep within printable ASCII */ }
        emit_class(b, &k, r->c->gemma);
        return 0;
    }
    if (ch == '.') { /* any character but a newline (Python's re, as validators use) */
        r->p++;
        k.neg = true;
        cls_add(&k, '\n', '\n');
        cls_add(&k, 0, 0x1F); /* also no other control characters (a subset is fine) */
        emit_class(b, &k, r->c->gemma);
        return 0;
    }
    if (ch == '\\') {
        r->p++;
        uint32_t cp;
        char ce;
        int e = rx_escape(r, &cp, &ce);
        if (e < 0) return r->c->err;
        if (e == 0) {
            bool dummy;
            cls_add_escape(&k, (char)(ce | 0x20), &dummy);
            if (ce == 'D' || ce == 'W' || ce == 'S') { k.neg = true; k.ascii_only = true; cls_add(&k, 0, 0x1F); }
        } else cls_add(&k, cp, cp);
        emit_class(b, &k, r->c->gemma);
        return 0;
    }
    if (ch == '^' || ch == '$') return rx_fail(r, "anchors are supported only at the start (^) and end ($)");
    if (ch == '*' || ch == '+' || ch == '?' || ch == '{') return rx_fail(r, "quantifier without anything to repeat");
    if (ch == ')' || ch == '|' || !ch) return rx_fail(r, "empty group");
    uint32_t cp = utf8_next(&r->p);
    cls_add(&k, cp, cp);
    emit_class(b, &k, r->c->gemma);
    return 0;
}

/* A sequence of quantified atoms, up to | ) or the end. */
static int rx_sequence(rx *r, sbuf *b, bool top, bool *anchored_start, bool *anchored_end) {
    *anchored_start = *anchored_end = false;
    if (top && *r->p == '^') { r->p++; *anchored_start = true; }
    int n = 0;
    sb_puts(b, "( ");
    for (;;) {
        char ch = *r->p;
        if (!ch || ch == '|' || ch == ')') break;
        if (top && ch == '$' && (r->p[1] == 0 || r->p[1] == '|')) { r->p++; *anchored_end = true; break; }
        if (n++) sb_puts(b, " ");
        if (rx_atom(r, b) < 0) return r->c->err;
        ch = *r->p;
        if (ch == '*' || ch == '+' || ch == '?') { sb_putn(b, &ch, 1); r->p++; }
        else if (ch == '{') {
            const char *q = r->p + 1;
            long m = -1, x = -1;
            char *end;
            if (*q >= '0' && *q <= '9') { m = strtol(q, &end, 10); q = end; }
            if (*q == ',') {
                q++;
                if (*q >= '0' && *q <= '9') { x = strtol(q, &end, 10); q = end; }
            } else x = m;
            if (*q != '}' || m < 0 || m > 10000 || x > 10000 || (x >= 0 && x < m)) return rx_fail(r, "bad {m,n}");
            r->p = q + 1;
            if (x < 0) sb_printf(b, "{%ld,}", m);
            else sb_printf(b, "{%ld,%ld}", m, x);
        }
        if (*r->p == '?' && (r->p[-1] == '*' || r->p[-1] == '+' || r->p[-1] == '?' || r->p[-1] == '}')) r->p++; /* lazy */
        if (*r->p == '*' || *r->p == '+' || (*r->p == '{' && r->p[-1] == '}')) return rx_fail(r, "nested quantifier");
    }
    sb_puts(b, " )");
    return 0;
}

/* Alternatives; at the top, each alternative unanchored at a side gets "anything" there (search semantics). */
static int rx_alternation(rx *r, sbuf *b, bool top) {
    int n = 0;
    sb_puts(b, "( ");
    for (;;) {
        if (n++) sb_puts(b, " | ");
        bool as, ae;
        sbuf seq = {0};
        if (rx_sequence(r, &seq, top, &as, &ae) < 0) { free(seq.s); return r->c->err; }
        /* bounded before the match, so that a model that never writes the match is forced to */
        if (top && !as) sb_printf(b, "%s{0,64} ", use(r->c, P_CHAR));
        sb_puts(b, seq.s ? seq.s : "");
        if (top && !ae) sb_printf(b, " %s*", use(r->c, P_CHAR));
        free(seq.s);
        if (*r->p != '|') break;
        r->p++;
    }
    sb_puts(b, " )");
    if (top && *r->p) return rx_fail(r, *r->p == ')' ? "unmatched )" : "unexpected character");
    return 0;
}

/* ---- schemas */

static int gen_value(conv *c, json_t *s, const char *path, const char *hint, sbuf *b);

static int resolve_ref(conv *c, const char *ref, const char *path, json_t **out) {
    if (ref[0] != '#') return cfail(c, HEARTH_ERR_UNSUPPORTED, "only local $ref (#/...) are supported, not '%s' at %s", ref, path);
    json_t *cur = c->doc;
    const char *p = ref + 1;
    while (*p == '/') {
        p++;
        char tok[256];
        size_t k = 0;
        while (*p && *p != '/' && k < sizeof tok - 1) {
            if (p[0] == '~' && p[1] == '1') { tok[k++] = '/'; p += 2; }
            else if (p[0] == '~' && p[1] == '0') { tok[k++] = '~'; p += 2; }
            else if (p[0] == '%' && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) { tok[k++] = (char)(hexv(p[1]) * 16 + hexv(p[2])); p += 3; }
            else tok[k++] = *p++;
        }
        tok[k] = 0;
        if (json_is_object(cur)) cur = json_object_get(cur, tok);
        else if (json_is_array(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            cur = *end || i < 0 ? NULL : json_array_get(cur, (size_t)i);
        } else cur = NULL;
        if (!cur) return cfail(c, HEARTH_ERR_FORMAT, "$ref '%s' at %s points to nothing", ref, path);
    }
    if (*p) return cfail(c, HEARTH_ERR_UNSUPPORTED, "$ref '%s' at %s: only JSON pointers (#/...) are supported", ref, path);
    *out = cur;
    return 0;
}

/* The rule name of a $ref target (generated once; recursion finds the name before the body exists). */
static int gen_ref(conv *c, const char *ref, const char *path, sbuf *b) {
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].ref, ref)) { sb_puts(b, c->rules[c->refs[i].rule].name); return 0; }
    json_t *target;
    if (resolve_ref(c, ref, path, &target) < 0) return c->err;
    const char *slash = strrchr(ref, '/');
    char hint[96];
    snprintf(hint, sizeof hint, "%s%s", !strcmp(ref, "#") ? "root" : "def-", !strcmp(ref, "#") ? "" : slash ? slash + 1 : ref);
    int r = add_rule(c, hint);
    if (r < 0) return c->err;
    if (c->n_refs == c->cap_refs) {
        size_t cap = c->cap_refs ? c->cap_refs * 2 : 16;
        refmemo *nr = realloc(c->refs, cap * sizeof *nr);
        if (!nr) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
        c->refs = nr;
        c->cap_refs = cap;
    }
    c->refs[c->n_refs].ref = strdup(ref);
    c->refs[c->n_refs].rule = r;
    if (!c->refs[c->n_refs].ref) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    c->n_refs++;
    sbuf body = {0};
    if (gen_value(c, target, ref, c->rules[r].name, &body) < 0) { free(body.s); return c->err; }
    set_body(c, r, &body);
    sb_puts(b, c->rules[r].name);
    return 0;
}

/* Follow $refs to the schema they name (for allOf merging). */
static json_t *deref(conv *c, json_t *s, const char *path) {
    for (int i = 0; i < 32 && json_is_object(s); i++) {
        json_t *ref = json_object_get(s, "$ref");
        if (!json_is_string(ref)) return s;
        json_t *t;
        if (resolve_ref(c, json_string_value(ref), path, &t) < 0) return NULL;
        s = t;
    }
    return s;
}

/* The strings that are not one of the keys (extra keys must never repeat a declared key): a trie of the
 * keys, each node offering its children's characters, any other character (then anything), or the end
 * where the prefix is not itself a key. */
typedef struct ktrie {
    uint32_t cp;
    bool end;
    struct ktrie *kids;
    int n_kids;
} ktrie;

static void ktrie_free(ktrie *t) {
    for (int i = 0; i < t->n_kids; i++) ktrie_free(&t->kids[i]);
    free(t->kids);
}

static int ktrie_add(ktrie *t, const char *s) {
    while (*s) {
        uint32_t cp = utf8_next(&s);
        int i = 0;
        while (i < t->n_kids && t->kids[i].cp != cp) i++;
        if (i == t->n_kids) {
            ktrie *nk = realloc(t->kids, sizeof *nk * (size_t)(t->n_kids + 1));
            if (!nk) return -1;
            t->kids = nk;
            memset(&t->kids[t->n_kids], 0, sizeof *nk);
            t->kids[t->n_kids++].cp = cp;
        }
        t = &t->kids[i];
    }
    t->end = true;
    return 0;
}

static void ktrie_expr(conv *c, const ktrie *t, sbuf *b) {
    const char *kc = use(c, P_KCHAR);
    sb_puts(b, "( ");
    for (int i = 0; i < t->n_kids; i++) {
        sb_printf(b, "[\\U%08X] ", t->kids[i].cp);
        ktrie_expr(c, &t->kids[i], b);
        sb_puts(b, " | ");
    }
    sb_puts(b, c->gemma ? "[^:,{}\\[\\]<\\x00-\\x20\\x7F" : "[^\"\\\\\\x00-\\x1F\\x7F");
    for (int i = 0; i < t->n_kids; i++) sb_printf(b, "\\U%08X", t->kids[i].cp);
    sb_printf(b, "] %s*", kc);
    if (!t->end) sb_puts(b, " | ");
    sb_puts(b, " )");
}

typedef struct {
    const char *key;
    json_t *schema;
    bool required;
} prop;

/* An object: props in order, then (if extra != NULL) extra keys whose values follow extra. */
static int object_expr(conv *c, prop *props, size_t n, json_t *extra, const char *path, const char *hint, sbuf *b) {
    const char *ws = use(c, P_WS);
    /* kv_i rules */
    char **kv = calloc(n + 1, sizeof(char *));
    if (!kv) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char sub[512], h[160], pp[512];
        path_join(pp, sizeof pp, path, "properties");
        path_join(sub, sizeof sub, pp, props[i].key);
        snprintf(h, sizeof h, "%s-%s", hint, props[i].key);
        sbuf val = {0}, body = {0};
        if (gen_value(c, props[i].schema, sub, h, &val) < 0) { free(val.s); rc = c->err; break; }
        sbuf key = {0};
        json_t *ks = json_string(props[i].key);
        if (ks && c->gemma) sb_puts(&key, props[i].key); /* bare */
        else if (ks) json_text(&key, ks);
        json_decref(ks);
        sb_literal(&body, key.s ? key.s : "", key.n);
        sb_printf(&body, " %s \":\" %s %s %s", ws, ws, val.s ? val.s : "", ws);
        free(key.s);
        free(val.s);
        char kh[176];
        snprintf(kh, sizeof kh, "%s-kv", h);
        kv[i] = strdup(def_rule(c, kh, &body));
        if (!kv[i]) rc = cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    }
    const char *extra_kv = NULL;
    char *extra_name = NULL;
    if (!rc && extra) {
        ktrie t = {0};
        for (size_t i = 0; i < n; i++)
            if (ktrie_add(&t, props[i].key) < 0) rc = cfail(c, HEARTH_ERR_NOMEM, "out of memory");
        sbuf body = {0}, val = {0};
        char sub[512], h[160];
        path_join(sub, sizeof sub, path, "additionalProperties");
        snprintf(h, sizeof h, "%s-extra", hint);
        if (!rc && gen_value(c, extra, sub, h, &val) < 0) rc = c->err;
        if (!rc) {
            const char *q = c->gemma ? "" : quote(c); /* Gemma: bare keys */
            sb_printf(&body, "%s ", q);
            ktrie_expr(c, &t, &body);
            sb_printf(&body, " %s %s \":\" %s %s %s", q, ws, ws, val.s ? val.s : "", ws);
            snprintf(h, sizeof h, "%s-extra-kv", hint);
            extra_name = strdup(def_rule(c, h, &body));
            extra_kv = extra_name;
            if (!extra_name) rc = cfail(c, HEARTH_ERR_NOMEM, "out of memory");
        } else free(body.s);
        free(val.s);
        ktrie_free(&t);
    }
    if (!rc) {
        /* rest_i: members i.. after at least one was written (each starts with ","); first_i: none written yet.
         * Built from the end so each refers to the next by name. */
        char *rest_next = NULL, *first_next = NULL;
        {
            sbuf r = {0}, f = {0};
            if (extra_kv) {
                sb_printf(&r, "( \",\" %s %s )*", ws, extra_kv);
                sb_printf(&f, "( %s ( \",\" %s %s )* )?", extra_kv, ws, extra_kv);
            }
            char h[160];
            snprintf(h, sizeof h, "%s-rest", hint);
            rest_next = strdup(r.s ? def_rule(c, h, &r) : "");
            snprintf(h, sizeof h, "%s-first", hint);
            first_next = strdup(f.s ? def_rule(c, h, &f) : "");
            if (!r.s) free(r.s);
        }
        for (size_t i = n; i-- > 0 && !c->err;) {
            sbuf r = {0}, f = {0};
            if (props[i].required) {
                sb_printf(&r, "\",\" %s %s %s", ws, kv[i], rest_next);
                sb_printf(&f, "%s %s", kv[i], rest_next);
            } else {
                sb_printf(&r, "( \",\" %s %s )? %s", ws, kv[i], rest_next);
                if (first_next[0]) sb_printf(&f, "%s %s | %s", kv[i], rest_next, first_next);
                else sb_printf(&f, "( %s %s )?", kv[i], rest_next);
            }
            char h[200];
            snprintf(h, sizeof h, "%s-rest-%zu", hint, i);
            char *nr = strdup(def_rule(c, h, &r));
            snprintf(h, sizeof h, "%s-first-%zu", hint, i);
            char *nf = strdup(def_rule(c, h, &f));
            free(rest_next);
            free(first_next);
            rest_next = nr;
            first_next = nf;
            if (!nr || !nf) { rc = cfail(c, HEARTH_ERR_NOMEM, "out of memory"); break; }
        }
        if (!rc) sb_printf(b, "\"{\" %s %s \"}\"", ws, first_next ? first_next : "");
        free(rest_next);
        free(first_next);
    }
    for (size_t i = 0; i < n; i++) free(kv[i]);
    free(kv);
    free(extra_name);
    return rc ? rc : c->err;
}

/* additionalProperties / unevaluatedProperties: NULL (no extra keys) or the schema extra values follow. */
static int extra_schema(conv *c, json_t *s, const char *path, json_t **extra) {
    *extra = NULL;
    json_t *ap = json_object_get(s, "additionalProperties");
    json_t *up = json_object_get(s, "unevaluatedProperties");
    if (up && !json_is_false(up))
        return cfail(c, HEARTH_ERR_UNSUPPORTED, "unevaluatedProperties other than false at %s", path);
    if (!ap || json_is_false(ap)) return 0;
    if (json_is_true(ap) || json_is_object(ap)) { *extra = ap; return 0; }
    return cfail(c, HEARTH_ERR_FORMAT, "additionalProperties at %s must be a boolean or a schema", path);
}

static int collect_props(conv *c, json_t *s, const char *path, prop **out, size_t *n_out) {
    json_t *props = json_object_get(s, "properties");
    json_t *req = json_object_get(s, "required");
    if (props && !json_is_object(props)) return cfail(c, HEARTH_ERR_FORMAT, "'properties' at %s must be an object", path);
    if (req && !json_is_array(req)) return cfail(c, HEARTH_ERR_FORMAT, "'required' at %s must be an array", path);
    size_t n = json_object_size(props) + json_array_size(req);
    prop *p = calloc(n + 1, sizeof *p);
    if (!p) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(props, key, val) p[k++] = (prop){key, val, false};
    for (size_t i = 0; i < json_array_size(req); i++) {
        json_t *r = json_array_get(req, i);
        if (!json_is_string(r)) { free(p); return cfail(c, HEARTH_ERR_FORMAT, "'required' at %s must list strings", path); }
        size_t j = 0;
        while (j < k && strcmp(p[j].key, json_string_value(r))) j++;
        if (j == k) p[k++] = (prop){json_string_value(r), NULL, true}; /* required but not described: any value */
        p[j].required = true;
    }
    *out = p;
    *n_out = k;
    return 0;
}

static json_t *any_schema(void) {
    static json_t *t;
    if (!t) t = json_true(); /* a singleton in jansson */
    return t;
}

static int gen_object(conv *c, json_t *s, const char *path, const char *hint, sbuf *b) {
    prop *p;
    size_t n;
    json_t *extra;
    if (extra_schema(c, s, path, &extra) < 0 || collect_props(c, s, path, &p, &n) < 0) return c->err;
    for (size_t i = 0; i < n; i++)
        if (!p[i].schema) p[i].schema = any_schema();
    int rc = object_expr(c, p, n, extra, path, hint, b);
    free(p);
    return rc;
}

/* allOf whose members are objects: one object with every member's properties and required keys. A key
 * declared by several members must have the same schema in each; a member with additionalProperties false
 * forbids the keys it does not declare. */
static int gen_allof_objects(conv *c, json_t *s, json_t *all, const char *path, const char *hint, sbuf *b) {
    size_t nm = json_array_size(all);
    json_t **mem = calloc(nm + 1, sizeof *mem);
    if (!mem) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nm; i++) {
        char sub[512];
        path_index(sub, sizeof sub, path, "allOf", i);
        json_t *m = deref(c, json_array_get(all, i), sub);
        if (!m) { free(mem); return c->err; }
        if (!json_is_object(m)) { free(mem); return cfail(c, HEARTH_ERR_UNSUPPORTED, "allOf member at %s is not a schema object", sub); }
        const char *key;
        json_t *val;
        json_object_foreach(m, key, val) {
            if (in_list(annotations, key) || in_list(kw_object, key) || !strcmp(key, "$ref")) continue;
            if (!strcmp(key, "type") && json_is_string(val) && !strcmp(json_string_value(val), "object")) continue;
            free(mem);
            return cfail(c, HEARTH_ERR_UNSUPPORTED, "allOf is supported for object schemas only ('%s' at %s)", key, sub);
        }
        mem[k++] = m;
    }
    /* the schema's own object keywords count as one more member */
    if (has_any(s, kw_object)) mem[k++] = s;
    prop *all_p = NULL;
    size_t n_all = 0;
    int rc = 0;
    json_t *extra = any_schema();
    bool extra_forbidden = false;
    for (size_t i = 0; i < k && !rc; i++) {
        prop *p;
        size_t n;
        json_t *ex;
        if (extra_schema(c, mem[i], path, &ex) < 0 || collect_props(c, mem[i], path, &p, &n) < 0) { rc = c->err; break; }
        json_t *ap = json_object_get(mem[i], "additionalProperties"), *up = json_object_get(mem[i], "unevaluatedProperties");
        if ((ap && json_is_false(ap)) || (up && json_is_false(up))) extra_forbidden = true;
        else if (ap && json_is_object(ap)) { rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "allOf with an additionalProperties schema at %s", path); free(p); break; }
        prop *np = realloc(all_p, sizeof *np * (n_all + n + 1));
        if (!np) { free(p); rc = cfail(c, HEARTH_ERR_NOMEM, "out of memory"); break; }
        all_p = np;
        for (size_t j = 0; j < n; j++) {
            size_t e = 0;
            while (e < n_all && strcmp(all_p[e].key, p[j].key)) e++;
            if (e == n_all) { all_p[n_all++] = p[j]; continue; }
            all_p[e].required |= p[j].required;
            if (p[j].schema && all_p[e].schema && !json_equal(p[j].schema, all_p[e].schema)) {
                rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "allOf members at %s give property '%s' different schemas", path, p[j].key);
                break;
            }
            if (!all_p[e].schema) all_p[e].schema = p[j].schema;
        }
        free(p);
    }
    /* keys a strict member does not declare are not allowed */
    for (size_t i = 0; i < k && !rc; i++) {
        json_t *ap = json_object_get(mem[i], "additionalProperties"), *up = json_object_get(mem[i], "unevaluatedProperties");
        if (!((ap && json_is_false(ap)) || (up && json_is_false(up)))) continue;
        json_t *props = json_object_get(mem[i], "properties");
        size_t w = 0;
        for (size_t j = 0; j < n_all; j++) {
            bool declared = json_object_get(props, all_p[j].key) != NULL;
            if (!declared && all_p[j].required) {
                rc = cfail(c, HEARTH_ERR_FORMAT, "allOf at %s requires '%s', which another member forbids", path, all_p[j].key);
                break;
            }
            if (declared) all_p[w++] = all_p[j];
        }
        n_all = w;
    }
    if (!rc) {
        for (size_t i = 0; i < n_all; i++)
            if (!all_p[i].schema) all_p[i].schema = any_schema();
        (void)extra;
        rc = object_expr(c, all_p, n_all, NULL, path, hint, b); /* no extra keys (as when absent) */
    }
    (void)extra_forbidden;
    free(all_p);
    free(mem);
    return rc;
}

static int gen_array(conv *c, json_t *s, const char *path, const char *hint, sbuf *b) {
    const char *ws = use(c, P_WS);
    json_t *items = json_object_get(s, "items"), *prefix = json_object_get(s, "prefixItems");
    json_t *addl = json_object_get(s, "additionalItems");
    json_t *u = json_object_get(s, "uniqueItems");
    if (u && !json_is_false(u)) return cfail(c, HEARTH_ERR_UNSUPPORTED, "uniqueItems at %s", path);
    json_t *rest = any_schema(); /* NULL: no items beyond the prefix */
    const char *prefix_key = "prefixItems";
    if (json_is_array(items)) { /* draft 4-2019 tuples */
        if (prefix) return cfail(c, HEARTH_ERR_FORMAT, "both prefixItems and an items array at %s", path);
        prefix = items;
        prefix_key = "items";
        rest = addl ? (json_is_false(addl) ? NULL : addl) : any_schema();
    } else if (items) {
        rest = json_is_false(items) ? NULL : items;
        if (addl) return cfail(c, HEARTH_ERR_UNSUPPORTED, "additionalItems without an items array at %s", path);
    } else if (addl) return cfail(c, HEARTH_ERR_UNSUPPORTED, "additionalItems without an items array at %s", path);
    if (prefix && !json_is_array(prefix)) return cfail(c, HEARTH_ERR_FORMAT, "'prefixItems' at %s must be an array", path);
    if (rest && !json_is_object(rest) && !json_is_boolean(rest))
        return cfail(c, HEARTH_ERR_FORMAT, "'items' at %s must be a schema", path);
    long mn = 0, mx = -1;
    if (get_count(c, s, "minItems", path, &mn) < 0 || get_count(c, s, "maxItems", path, &mx) < 0) return c->err;
    long k = (long)json_array_size(prefix);
    if (!rest && (mx < 0 || mx > k)) mx = k;
    if (mx >= 0 && mn > mx) return cfail(c, HEARTH_ERR_FORMAT, "minItems > maxItems at %s", path);
    if (mx >= 0 && k > mx) k = mx; /* prefix items past maxItems can never appear */
    /* element expressions */
    char **el = calloc((size_t)k + 2, sizeof(char *));
    if (!el) return cfail(c, HEARTH_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (long i = 0; i < k && !rc; i++) {
        char sub[512], h[160];
        path_index(sub, sizeof sub, path, prefix_key, (size_t)i);
        snprintf(h, sizeof h, "%s-%ld", hint, i);
        sbuf v = {0};
        if (gen_value(c, json_array_get(prefix, (size_t)i), sub, h, &v) < 0) rc = c->err;
        el[i] = v.s ? v.s : strdup("");
    }
    char *rest_e = NULL;
    if (!rc && rest && (mx < 0 || mx > k)) {
        char sub[512], h[160];
        path_join(sub, sizeof sub, path, "items");
        snprintf(h, sizeof h, "%s-item", hint);
        sbuf v = {0};
        if (gen_value(c, rest, sub, h, &v) < 0) rc = c->err;
        rest_e = v.s ? v.s : strdup("");
    }
    if (!rc) {
        /* item j (0-based): prefix element or the rest; min / max counts; nested optionals for the prefix */
        sbuf body = {0};
        sb_printf(&body, "\"[\" %s ", ws);
        if (mx != 0) {
            /* tail after the prefix: ("," ws rest ws){a,b} */
            sbuf tail = {0};
            if (rest_e) {
                long a = mn > k ? mn - k : 0;
                if (k == 0) { /* the first item has no comma */
                    long a0 = a > 0 ? a - 1 : 0;
                    sb_printf(&tail, "%s %s ( \",\" %s %s %s )", rest_e, ws, ws, rest_e, ws);
                    if (mx < 0) sb_printf(&tail, "{%ld,}", a0);
                    else sb_printf(&tail, "{%ld,%ld}", a0, mx - 1);
                } else {
                    sb_printf(&tail, "( \",\" %s %s %s )", ws, rest_e, ws);
                    if (mx < 0) sb_printf(&tail, "{%ld,}", a);
                    else sb_printf(&tail, "{%ld,%ld}", a, mx - k);
                }
            }
            /* build from the last prefix item backwards: p_i = sep e_i ws p_{i+1}, optional when i >= mn */
            sbuf acc = {0};
            sb_puts(&acc, tail.s ? tail.s : "");
            for (long i = k; i-- > 0;) {
                sbuf nx = {0};
                bool optional = i >= mn;
                if (optional) sb_puts(&nx, "( ");
                if (i > 0) sb_printf(&nx, "\",\" %s ", ws);
                sb_printf(&nx, "%s %s %s", el[i], ws, acc.s ? acc.s : "");
                if (optional) sb_puts(&nx, " )?");
                free(acc.s);
                acc = nx;
            }
            if (k == 0 && mn == 0 && acc.s && acc.s[0]) { /* all optional, no prefix */
                sbuf nx = {0};
                sb_printf(&nx, "( %s )?", acc.s);
                free(acc.s);
                acc = nx;
            }
            sb_puts(&body, acc.s ? acc.s : "");
            free(acc.s);
            free(tail.s);
        }
        sb_puts(&body, " \"]\"");
        char h[160];
        snprintf(h, sizeof h, "%s-array", hint);
        sb_puts(b, def_rule(c, h, &body));
    }
    for (long i = 0; i < k; i++) free(el[i]);
    free(el);
    free(rest_e);
    return rc ? rc : c->err;
}

static int gen_string(conv *c, json_t *s, const char *path, sbuf *b) {
    json_t *fmt = json_object_get(s, "format"), *pat = json_object_get(s, "pattern");
    long mn = 0, mx = -1;
    int has_min = get_count(c, s, "minLength", path, &mn), has_max = get_count(c, s, "maxLength", path, &mx);
    if (has_min < 0 || has_max < 0) return c->err;
    if (mx >= 0 && mn > mx) return cfail(c, HEARTH_ERR_FORMAT, "minLength > maxLength at %s", path);
    if (fmt) {
        if (!json_is_string(fmt)) return cfail(c, HEARTH_ERR_FORMAT, "'format' at %s must be a string", path);
        if (pat || has_min || has_max)
            return cfail(c, HEARTH_ERR_UNSUPPORTED, "format together with pattern or min/maxLength at %s", path);
        const char *f = json_string_value(fmt);
        int prim = !strcmp(f, "date") ? P_DATE : !strcmp(f, "time") ? P_TIME : !strcmp(f, "date-time") ? P_DATETIME
                   : !strcmp(f, "uuid") ? P_UUID : !strcmp(f, "email") ? P_EMAIL : !strcmp(f, "ipv4") ? P_IPV4 : -1;
        if (prim < 0) return cfail(c, HEARTH_ERR_UNSUPPORTED, "unsupported format '%s' at %s (supported: date, time, "
                                   "date-time, uuid, email, ipv4)", f, path);
        if (prim == P_IPV4) c->octet = true;
        const char *q = quote(c);
        sb_printf(b, "%s %s %s", q, use(c, prim), q);
        return 0;
    }
    if (pat) {
        if (!json_is_string(pat)) return cfail(c, HEARTH_ERR_FORMAT, "'pattern' at %s must be a string", path);
        if (has_min || has_max) return cfail(c, HEARTH_ERR_UNSUPPORTED, "pattern together with min/maxLength at %s", path);
        rx r = {.p = json_string_value(pat), .start = json_string_value(pat), .c = c, .path = path};
        sbuf e = {0};
        if (rx_alternation(&r, &e, true) < 0) { free(e.s); return c->err; }
        const char *q = quote(c);
        sb_printf(b, "%s %s %s", q, e.s ? e.s : "", q);
        free(e.s);
        return 0;
    }
    const char *ch = use(c, P_CHAR);
    if (!has_min && !has_max) { sb_puts(b, use(c, P_STRING)); return 0; }
    const char *q = quote(c);
    if (mx < 0) sb_printf(b, "%s %s{%ld,} %s", q, ch, mn, q);
    else sb_printf(b, "%s %s{%ld,%ld} %s", q, ch, mn, mx, q);
    return 0;
}

/* One type's grammar with that type's keywords. */
static int gen_type(conv *c, json_t *s, const char *type, const char *path, const char *hint, sbuf *b) {
    if (!strcmp(type, "string")) return gen_string(c, s, path, b);
    if (!strcmp(type, "integer")) return integer_expr(c, s, path, b);
    if (!strcmp(type, "number")) return number_expr(c, s, path, b);
    if (!strcmp(type, "boolean")) { sb_puts(b, use(c, P_BOOL)); return 0; }
    if (!strcmp(type, "null")) { sb_puts(b, use(c, P_NULL)); return 0; }
    if (!strcmp(type, "object")) {
        json_t *all = json_object_get(s, "allOf");
        if (all) return gen_allof_objects(c, s, all, path, hint, b);
        return gen_object(c, s, path, hint, b);
    }
    if (!strcmp(type, "array")) return gen_array(c, s, path, hint, b);
    return cfail(c, HEARTH_ERR_FORMAT, "unknown type '%s' at %s", type, path);
}

static bool value_has_type(const json_t *v, const char *type) {
    if (!strcmp(type, "string")) return json_is_string(v);
    if (!strcmp(type, "integer")) return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    if (!strcmp(type, "number")) return json_is_number(v);
    if (!strcmp(type, "boolean")) return json_is_boolean(v);
    if (!strcmp(type, "null")) return json_is_null(v);
    if (!strcmp(type, "object")) return json_is_object(v);
    if (!strcmp(type, "array")) return json_is_array(v);
    return false;
}

static bool type_allows(const json_t *types, const json_t *v) {
    if (!types) return true;
    if (json_is_string(types)) return value_has_type(v, json_string_value(types));
    for (size_t i = 0; i < json_array_size(types); i++)
        if (json_is_string(json_array_get(types, i)) && value_has_type(v, json_string_value(json_array_get(types, i))))
            return true;
    return false;
}

static int gen_value(conv *c, json_t *s, const char *path, const char *hint, sbuf *b) {
    if (c->err) return c->err;
    if (json_is_true(s)) { sb_puts(b, use(c, P_VALUE)); return 0; }
    if (json_is_false(s)) return cfail(c, HEARTH_ERR_FORMAT, "schema 'false' at %s admits no value", path);
    if (!json_is_object(s)) return cfail(c, HEARTH_ERR_FORMAT, "schema at %s must be an object or a boolean", path);
    if (++c->depth > 200) return cfail(c, HEARTH_ERR_UNSUPPORTED, "schema nested too deeply at %s", path);
    int rc = check_keywords(c, s, path);
    json_t *type = json_object_get(s, "type");
    if (!rc && type && !json_is_string(type) && !json_is_array(type))
        rc = cfail(c, HEARTH_ERR_FORMAT, "'type' at %s must be a string or an array", path);
    json_t *ref = json_object_get(s, "$ref");
    json_t *en = json_object_get(s, "enum"), *cn = json_object_get(s, "const");
    json_t *any = json_object_get(s, "anyOf"), *one = json_object_get(s, "oneOf"), *all = json_object_get(s, "allOf");
    if (rc) goto out;

    if (ref) {
        if (!json_is_string(ref)) { rc = cfail(c, HEARTH_ERR_FORMAT, "'$ref' at %s must be a string", path); goto out; }
        const char *key;
        json_t *val;
        json_object_foreach(s, key, val)
            if (strcmp(key, "$ref") && !in_list(annotations, key)) {
                rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "keyword '%s' next to $ref at %s", key, path);
                goto out;
            }
        rc = gen_ref(c, json_string_value(ref), path, b);
        goto out;
    }
    if (en || cn) {
        /* literal values; with type, only those of the type */
        const char *key;
        json_t *val;
        json_object_foreach(s, key, val)
            if (strcmp(key, "enum") && strcmp(key, "const") && strcmp(key, "type") && !in_list(annotations, key)) {
                rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "keyword '%s' together with enum/const at %s", key, path);
                goto out;
            }
        if (en && !json_is_array(en)) { rc = cfail(c, HEARTH_ERR_FORMAT, "'enum' at %s must be an array", path); goto out; }
        size_t n = en ? json_array_size(en) : 0, written = 0;
        sb_puts(b, "( ");
        for (size_t i = 0; i <= n; i++) {
            json_t *v = i < n ? json_array_get(en, i) : cn;
            if (!v || !type_allows(type, v)) continue;
            if (cn && en && !json_equal(v, cn)) continue; /* both: only the const, if listed */
            if (written++) sb_puts(b, " | ");
            if (c->gemma) {
                gemma_value(c, b, v);
            } else {
                sbuf t = {0};
                json_text(&t, v);
                sb_literal(b, t.s, t.n);
                free(t.s);
            }
            if (cn && !en) break;
        }
        sb_puts(b, " )");
        if (!written) rc = cfail(c, HEARTH_ERR_FORMAT, "no value of enum/const at %s fits the schema", path);
        goto out;
    }
    if (any || one) {
        json_t *list = any ? any : one;
        const char *kw = any ? "anyOf" : "oneOf";
        if (any && one) { rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "both anyOf and oneOf at %s", path); goto out; }
        if (!json_is_array(list) || !json_array_size(list)) { rc = cfail(c, HEARTH_ERR_FORMAT, "'%s' at %s must be a non-empty array", kw, path); goto out; }
        const char *key;
        json_t *val;
        json_object_foreach(s, key, val)
            if (strcmp(key, kw) && !in_list(annotations, key)) {
                rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "keyword '%s' next to %s at %s (put it inside each branch)", key, kw, path);
                goto out;
            }
        sb_puts(b, "( ");
        for (size_t i = 0; i < json_array_size(list); i++) {
            char sub[512], h[160];
            path_index(sub, sizeof sub, path, kw, i);
            snprintf(h, sizeof h, "%s-%zu", hint, i);
            if (i) sb_puts(b, " | ");
            if (gen_value(c, json_array_get(list, i), sub, h, b) < 0) { rc = c->err; goto out; }
        }
        sb_puts(b, " )");
        goto out;
    }
    if (all) {
        if (!json_is_array(all) || !json_array_size(all)) { rc = cfail(c, HEARTH_ERR_FORMAT, "'allOf' at %s must be a non-empty array", path); goto out; }
        /* one member and nothing else but annotations: that member */
        bool only = json_array_size(all) == 1;
        const char *key;
        json_t *val;
        json_object_foreach(s, key, val)
            if (strcmp(key, "allOf") && !in_list(annotations, key)) only = false;
        if (only) {
            char sub[512];
            path_index(sub, sizeof sub, path, "allOf", 0);
            rc = gen_value(c, json_array_get(all, 0), sub, hint, b);
            goto out;
        }
        if (type && !(json_is_string(type) && !strcmp(json_string_value(type), "object"))) {
            rc = cfail(c, HEARTH_ERR_UNSUPPORTED, "allOf is supported for objects only (at %s)", path);
            goto out;
        }
        rc = gen_allof_objects(c, s, all, path, hint, b);
        goto out;
    }
    /* types: given, or those whose keywords appear, or any JSON value */
    const char *types[8];
    size_t nt = 0;
    if (type && json_is_string(type)) types[nt++] = json_string_value(type);
    else if (type) {
        for (size_t i = 0; i < json_array_size(type) && nt < 8; i++) {
            json_t *t = json_array_get(type, i);
            if (!json_is_string(t)) { rc = cfail(c, HEARTH_ERR_FORMAT, "'type' at %s must list strings", path); goto out; }
            types[nt++] = json_string_value(t);
        }
        if (!nt) { rc = cfail(c, HEARTH_ERR_FORMAT, "empty 'type' at %s", path); goto out; }
    } else {
        if (has_any(s, kw_string)) types[nt++] = "string";
        if (has_any(s, kw_number)) types[nt++] = "number";
        if (has_any(s, kw_object)) types[nt++] = "object";
        if (has_any(s, kw_array)) types[nt++] = "array";
        if (!nt) { sb_puts(b, use(c, P_VALUE)); goto out; }
    }
    if (nt > 1) sb_puts(b, "( ");
    for (size_t i = 0; i < nt; i++) {
        if (i) sb_puts(b, " | ");
        if (gen_type(c, s, types[i], path, hint, b) < 0) { rc = c->err; goto out; }
    }
    if (nt > 1) sb_puts(b, " )");
out:
    c->depth--;
    return rc ? rc : c->err;
}

int hearth_json_schema_to_gbnf(const char *schema_json, char **gbnf_out) {
    return json_schema_gbnf(schema_json, NULL, gbnf_out);
}

int json_schema_gbnf(const char *schema_json, const json_schema_dialect *dialect, char **gbnf_out) {
    hearth_clear_error();
    *gbnf_out = NULL;
    if (!schema_json) return hearth_fail(HEARTH_ERR_ARG, "json schema: no schema");
    json_error_t je;
    json_t *doc = json_loads(schema_json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!doc) return hearth_fail(HEARTH_ERR_FORMAT, "json schema: invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
    conv c = {.doc = doc};
    if (dialect && dialect->gemma) {
        c.gemma = true;
        c.gquote = dialect->gemma_quote ? dialect->gemma_quote : "\"<|\\\"|>\"";
    }
    sbuf root = {0};
    int r = add_rule(&c, "root");
    if (r >= 0) {
        sbuf v = {0};
        /* the root is also reachable as "#" (recursive schemas): memoize it under that name */
        if (c.n_refs == c.cap_refs) {
            c.refs = malloc(sizeof *c.refs * 4);
            c.cap_refs = c.refs ? 4 : 0;
        }
        int inner = -1;
        if (c.refs) {
            inner = add_rule(&c, "root-value");
            if (inner >= 0) {
                c.refs[0].ref = strdup("#");
                c.refs[0].rule = inner;
                c.n_refs = c.refs[0].ref ? 1 : 0;
            }
        }
        if (inner >= 0 && gen_value(&c, doc, "#", "root", &v) == 0) {
            set_body(&c, inner, &v);
            sb_printf(&root, "%s %s", c.rules[inner].name, use(&c, P_WS));
            set_body(&c, r, &root);
        }
        free(v.s);
    }
    int rc = c.err;
    if (!rc) {
        /* primitives used, with their dependencies */
        for (bool changed = true; changed;) {
            changed = false;
            for (int p = 0; p < P_COUNT; p++)
                if ((c.prims >> p & 1) && (c.prims | prim_deps(&c, p)) != c.prims) { c.prims |= prim_deps(&c, p); changed = true; }
        }
        sbuf out = {0};
        for (size_t i = 0; i < c.n_rules; i++)
            if (c.rules[i].body) sb_printf(&out, "%s ::= %s\n", c.rules[i].name, c.rules[i].body);
        for (int p = 0; p < P_COUNT; p++)
            if (c.prims >> p & 1) sb_printf(&out, "%s ::= %s\n", prims[p].name, prim_body(&c, p));
        if (c.octet) sb_puts(&out, "json-octet ::= \"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9]\n");
        if (out.oom) rc = hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        else *gbnf_out = sb_take(&out);
        free(out.s);
    }
    for (size_t i = 0; i < c.n_rules; i++) { free(c.rules[i].name); free(c.rules[i].body); }
    free(c.rules);
    for (size_t i = 0; i < c.n_refs; i++) free(c.refs[i].ref);
    free(c.refs);
    json_decref(doc);
    return rc;
}
