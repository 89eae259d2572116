/* jinja_lex.c — the Jinja tokenizer, following jinja2's lexer rule for rule with trim_blocks=True,
 * lstrip_blocks=True and keep_trailing_newline=False:
 *   - line endings are normalized to \n and one trailing newline of the source is dropped;
 *   - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` strip all after it;
 *   - lstrip_blocks: spaces/tabs between a line start and `{%` or `{#` are removed (`{%+` keeps them);
 *   - trim_blocks: one newline right after `%}` or `#}` is removed (`+%}` keeps it); never after `}}`;
 *   - `{% raw %}...{% endraw %}` is data; comments vanish;
 *   - inside a tag, an end marker only counts when brackets are balanced ({{ {'a': {}} }} works).
 * Whitespace means Python's str.isspace(), as jinja2's regular expressions use it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_internal.h"
#include "util.h"

typedef struct {
    const char *s;
    size_t n, pos;
    int line;
    bool line_starting; /* the previous match ended with a newline (jinja2's lstrip rule needs it) */
    jarena *a;
    jtok *toks;
    long ntok, cap;
} lexer;

static int lex_fail(lexer *L, const char *msg) { return hearth_fail(HEARTH_ERR_FORMAT, "jinja: line %d: %s", L->line, msg); }

static jtok *push(lexer *L, jtok_type type) {
    if (L->ntok == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 256;
        L->toks = realloc(L->toks, (size_t)L->cap * sizeof(jtok));
        if (!L->toks) abort();
    }
    jtok *t = &L->toks[L->ntok++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->line = L->line;
    return t;
}

static void count_lines(lexer *L, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n') L->line++;
}

/* Length of the Python whitespace character at s[i], 0 if none. */
static size_t space_at(const char *s, size_t n, size_t i) {
    if (i >= n) return 0;
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) return py_isspace(c) ? 1 : 0;
    size_t j = i;
    uint32_t cp = utf8_next(s, n, &j);
    return py_isspace(cp) ? j - i : 0;
}

static size_t skip_space(const char *s, size_t n, size_t i) {
    size_t k;
    while ((k = space_at(s, n, i)) > 0) i += k;
    return i;
}

/* Length of text after removing trailing Python whitespace (str.rstrip()). */
static size_t rstrip_len(const char *s, size_t n) {
    size_t end = n;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && ((unsigned char)s[start] & 0xc0) == 0x80) start--;
        size_t j = start;
        uint32_t cp = utf8_next(s, end, &j);
        if (j != end || !py_isspace(cp)) break;
        end = start;
    }
    return end;
}

/* Emit the data before a tag, applying the strip rules. sign: '-', '+' or 0; is_var: the tag is {{. */
static void emit_data(lexer *L, const char *text, size_t n, char sign, bool is_var) {
    size_t keep = n;
    if (sign == '-') keep = rstrip_len(text, n);
    else if (sign != '+' && !is_var) {
        size_t l_pos = n;
        while (l_pos > 0 && text[l_pos - 1] != '\n') l_pos--;
        if (l_pos > 0 || L->line_starting) {
            bool only_blank = true;
            for (size_t i = l_pos; i < n; i++)
                if (text[i] != ' ' && text[i] != '\t') { only_blank = false; break; }
            if (only_blank) keep = l_pos;
        }
    }
    if (keep) {
        jtok *t = push(L, T_DATA);
        t->s = arena_strndup(L->a, text, keep);
        t->n = keep;
    }
    count_lines(L, text, n);
}

/* Match a closing marker ("%}", "}}", "#}") at pos with jinja2's alternatives:
 *   +MARK (keep everything) | -MARK\s* (strip all after) | MARK\n? (trim_blocks, only for %} and #}).
 * Returns the end position of the match or 0. */
static size_t match_end(lexer *L, size_t pos, const char *mark, bool trim) {
    const char *s = L->s;
    size_t n = L->n;
    if (pos + 3 <= n && (s[pos] == '+' || s[pos] == '-') && memcmp(s + pos + 1, mark, 2) == 0) {
        if (s[pos] == '+' && !trim) return 0; /* `+}}` is not an end marker */
        size_t e = pos + 3;
        if (s[pos] == '-') e = skip_space(s, n, e);
        return e;
    }
    if (pos + 2 <= n && memcmp(s + pos, mark, 2) == 0) {
        size_t e = pos + 2;
        if (trim && e < n && s[e] == '\n') e++;
        return e;
    }
    return 0;
}

static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* (\d+_)*\d+ — digits with single underscores between them. */
static size_t scan_digits(const char *s, size_t n, size_t i) {
    if (i >= n || !is_digit(s[i])) return 0;
    size_t j = i;
    while (j < n && is_digit(s[j])) {
        j++;
        if (j + 1 < n && s[j] == '_' && is_digit(s[j + 1])) j++;
    }
    return j - i;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string literal body decoded as Python's .encode("ascii", "backslashreplace").decode("unicode-escape"). */
static int decode_string(lexer *L, const char *s, size_t n, jtok *t) {
    sb_t b;
    jsb_init(&b, 0);
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c != '\\') { jsb_putc(&b, c); i++; continue; }
        if (i + 1 >= n) { jsb_putc(&b, '\\'); i++; continue; }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '\n': break;
        case '\\': jsb_putc(&b, '\\'); break;
        case '\'': jsb_putc(&b, '\''); break;
        case '"': jsb_putc(&b, '"'); break;
        case 'a': jsb_putc(&b, '\a'); break;
        case 'b': jsb_putc(&b, '\b'); break;
        case 'f': jsb_putc(&b, '\f'); break;
        case 'n': jsb_putc(&b, '\n'); break;
        case 'r': jsb_putc(&b, '\r'); break;
        case 't': jsb_putc(&b, '\t'); break;
        case 'v': jsb_putc(&b, '\v'); break;
        case 'x':
        case 'u':
        case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = i + (size_t)k < n ? hexval(s[i + (size_t)k]) : -1;
                if (h < 0) { jsb_free(&b); return lex_fail(L, "invalid \\x, \\u or \\U escape in string literal"); }
                cp = cp * 16 + (uint32_t)h;
            }
            if (cp > 0x10ffff) { jsb_free(&b); return lex_fail(L, "illegal Unicode character in string literal"); }
            i += (size_t)digits;
            utf8_put(&b, cp);
            break;
        }
        case 'N':
            jsb_free(&b);
            return lex_fail(L, "unsupported \\N{...} escape in string literal");
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++) cp = cp * 8 + (uint32_t)(s[i++] - '0');
                utf8_put(&b, cp);
            } else if ((unsigned char)e >= 0x80) {
                /* backslashreplace turned the character into \xNN / \uNNNN / \UNNNNNNNN, which the
                 * preceding backslash then escapes: the result is that text, literally. */
                size_t j = i - 1;
                uint32_t cp = utf8_next(s, n, &j);
                i = j;
                jsb_putc(&b, '\\');
                if (cp < 0x100) jsb_printf(&b, "x%02x", cp);
                else if (cp < 0x10000) jsb_printf(&b, "u%04x", cp);
                else jsb_printf(&b, "U%08x", cp);
            } else {
                jsb_putc(&b, '\\');
                jsb_putc(&b, e);
            }
        }
    }
    t->n = b.n;
    t->s = arena_strndup(L->a, b.p ? b.p : "", b.n);
    jsb_free(&b);
    return 0;
}

static const struct { const char *s; int op; } OPS[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {">=", OP_GTEQ}, {"<=", OP_LTEQ},
    {"+", OP_ADD}, {"-", OP_SUB}, {"/", OP_DIV}, {"*", OP_MUL}, {"%", OP_MOD}, {"~", OP_TILDE},
    {"[", OP_LBRACKET}, {"]", OP_RBRACKET}, {"(", OP_LPAREN}, {")", OP_RPAREN}, {"{", OP_LBRACE},
    {"}", OP_RBRACE}, {">", OP_GT}, {"<", OP_LT}, {"=", OP_ASSIGN}, {".", OP_DOT}, {":", OP_COLON},
    {"|", OP_PIPE}, {",", OP_COMMA}, {";", OP_SEMICOLON},
};

/* Tokens inside {% ... %} or {{ ... }} up to and including the end marker. */
static int lex_tag(lexer *L, bool is_block) {
    const char *s = L->s;
    size_t n = L->n;
    char stack[256];
    int depth = 0;
    for (;;) {
        size_t pos = L->pos;
        if (pos >= n) return lex_fail(L, is_block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
        if (depth == 0) {
            size_t e = match_end(L, pos, is_block ? "%}" : "}}", is_block);
            if (e) {
                push(L, is_block ? T_BLOCK_END : T_VAR_END);
                count_lines(L, s + pos, e - pos);
                L->line_starting = s[e - 1] == '\n';
                L->pos = e;
                return 0;
            }
        }
        size_t w = skip_space(s, n, pos);
        if (w > pos) { count_lines(L, s + pos, w - pos); L->pos = w; continue; }
        char c = s[pos];
        /* float: (?<!\.)digits((\.digits)?e[+-]?digits|\.digits) ; integer: 0b/0o/0x or digits */
        if (is_digit(c)) {
            size_t d = scan_digits(s, n, pos), end = pos + d;
            bool is_float = false;
            if (pos == 0 || s[pos - 1] != '.') {
                size_t j = end;
                if (j + 1 < n && s[j] == '.' && scan_digits(s, n, j + 1)) { j += 1 + scan_digits(s, n, j + 1); is_float = true; }
                if (j < n && (s[j] == 'e' || s[j] == 'E')) {
                    size_t k = j + 1;
                    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
                    size_t ed = scan_digits(s, n, k);
                    if (ed) { j = k + ed; is_float = true; }
                }
                if (is_float) end = j;
            }
            char buf[128];
            size_t m = 0;
            if (is_float) {
                for (size_t k = pos; k < end && m < sizeof buf - 1; k++)
                    if (s[k] != '_') buf[m++] = s[k];
                buf[m] = 0;
                jtok *t = push(L, T_FLOAT);
                t->f = strtod(buf, NULL);
                L->pos = end;
                continue;
            }
            int base = 10;
            size_t start = pos;
            if (c == '0' && pos + 1 < n && s[pos + 1] && strchr("bBoOxX", s[pos + 1])) {
                char k = (char)(s[pos + 1] | 0x20);
                base = k == 'b' ? 2 : k == 'o' ? 8 : 16;
                start = pos + 2;
                end = start;
                while (end < n && (s[end] == '_' || hexval(s[end]) >= 0) && hexval(s[end]) < base) end++;
                if (end == start) return lex_fail(L, "invalid integer literal");
            } else if (c == '0') {
                /* jinja2: 0(_?0)* — a leading zero can only be followed by zeros */
                end = pos + 1;
                while (end < n && (s[end] == '0' || (s[end] == '_' && end + 1 < n && s[end + 1] == '0'))) end++;
            }
            for (size_t k = start; k < end && m < sizeof buf - 1; k++)
                if (s[k] != '_') buf[m++] = s[k];
            buf[m] = 0;
            errno = 0;
            char *ep;
            unsigned long long v = strtoull(buf, &ep, base);
            if (errno || v > (unsigned long long)INT64_MAX) return lex_fail(L, "integer literal too large");
            jtok *t = push(L, T_INT);
            t->i = (int64_t)v;
            L->pos = end;
            continue;
        }
        if (is_name_start(c)) {
            size_t j = pos;
            while (j < n && is_name_char(s[j])) j++;
            jtok *t = push(L, T_NAME);
            t->s = arena_strndup(L->a, s + pos, j - pos);
            t->n = j - pos;
            L->pos = j;
            continue;
        }
        if (c == '\'' || c == '"') {
            size_t j = pos + 1;
            while (j < n && s[j] != c) j += s[j] == '\\' ? 2 : 1;
            if (j >= n) return lex_fail(L, "unexpected end of string literal");
            jtok *t = push(L, T_STRING);
            if (decode_string(L, s + pos + 1, j - pos - 1, t)) return -1;
            count_lines(L, s + pos, j + 1 - pos);
            L->pos = j + 1;
            continue;
        }
        int op = 0;
        size_t oplen = 0;
        for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++) {
            size_t m = strlen(OPS[k].s);
            if (pos + m <= n && memcmp(s + pos, OPS[k].s, m) == 0) { op = OPS[k].op; oplen = m; break; }
        }
        if (!op) {
            char msg[64];
            snprintf(msg, sizeof msg, "unexpected char '%c'", c);
            return lex_fail(L, msg);
        }
        if (op == OP_LBRACE || op == OP_LPAREN || op == OP_LBRACKET) {
            if (depth == (int)sizeof stack) return lex_fail(L, "brackets nested too deeply");
            stack[depth++] = op == OP_LBRACE ? '}' : op == OP_LPAREN ? ')' : ']';
        } else if (op == OP_RBRACE || op == OP_RPAREN || op == OP_RBRACKET) {
            char want = op == OP_RBRACE ? '}' : op == OP_RPAREN ? ')' : ']';
            char msg[64];
            if (!depth) { snprintf(msg, sizeof msg, "unexpected '%c'", want); return lex_fail(L, msg); }
            if (stack[depth - 1] != want) {
                snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", want, stack[depth - 1]);
                return lex_fail(L, msg);
            }
            depth--;
        }
        jtok *t = push(L, T_OP);
        t->op = op;
        L->pos = pos + oplen;
    }
}

/* {% raw %} at pos (after "{%" and its sign)? Returns the end of the opening tag or 0. */
static size_t match_raw_begin(lexer *L, size_t pos) {
    const char *s = L->s;
    size_t n = L->n, i = skip_space(s, n, pos);
    if (i + 3 > n || memcmp(s + i, "raw", 3) != 0) return 0;
    i = skip_space(s, n, i + 3);
    if (i + 3 <= n && s[i] == '-' && memcmp(s + i + 1, "%}", 2) == 0) return skip_space(s, n, i + 3);
    if (i + 2 <= n && memcmp(s + i, "%}", 2) == 0) return i + 2;
    return 0;
}

static int lex_raw(lexer *L) {
    const char *s = L->s;
    size_t n = L->n;
    for (size_t i = L->pos; i + 1 < n; i++) {
        if (s[i] != '{' || s[i + 1] != '%') continue;
        size_t j = i + 2;
        char sign = 0;
        if (j < n && (s[j] == '-' || s[j] == '+')) sign = s[j++];
        j = skip_space(s, n, j);
        if (j + 6 > n || memcmp(s + j, "endraw", 6) != 0) continue;
        j = skip_space(s, n, j + 6);
        size_t e = match_end(L, j, "%}", true);
        if (!e) continue;
        emit_data(L, s + L->pos, i - L->pos, sign, false);
        count_lines(L, s + i, e - i);
        L->line_starting = s[e - 1] == '\n';
        L->pos = e;
        return 0;
    }
    return lex_fail(L, "missing end of raw directive");
}

long jinja_lex(const char *src, size_t len, jarena *a, jtok **out) {
    /* newline normalization and keep_trailing_newline=False */
    char *s = malloc(len + 1);
    if (!s) abort();
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else s[n++] = src[i];
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = 0;

    lexer L = {.s = s, .n = n, .line = 1, .line_starting = true, .a = a};
    int rc = 0;
    while (L.pos < n && rc == 0) {
        size_t i = L.pos;
        while (i + 1 < n && !(s[i] == '{' && (s[i + 1] == '%' || s[i + 1] == '{' || s[i + 1] == '#'))) i++;
        if (i + 1 >= n) {
            emit_data(&L, s + L.pos, n - L.pos, 0, true);
            L.pos = n;
            break;
        }
        char kind = s[i + 1];
        size_t after = i + 2;
        char sign = 0;
        if (after < n && (s[after] == '-' || s[after] == '+')) sign = s[after++];
        if (kind == '%') {
            size_t raw_end = match_raw_begin(&L, after);
            if (raw_end) {
                emit_data(&L, s + L.pos, i - L.pos, sign, false);
                count_lines(&L, s + i, raw_end - i);
                L.line_starting = s[raw_end - 1] == '\n';
                L.pos = raw_end;
                rc = lex_raw(&L);
                continue;
            }
        }
        emit_data(&L, s + L.pos, i - L.pos, sign, kind == '{');
        L.line_starting = false;
        L.pos = after;
        if (kind == '#') {
            size_t j = after, e = 0;
            for (; j < n; j++)
                if ((e = match_end(&L, j, "#}", true)) != 0) break;
            if (!e) { rc = lex_fail(&L, "missing end of comment tag"); break; }
            count_lines(&L, s + after, e - after);
            L.line_starting = s[e - 1] == '\n';
            L.pos = e;
        } else {
            push(&L, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN);
            rc = lex_tag(&L, kind == '%');
        }
    }
    free(s);
    if (rc) { free(L.toks); return -1; }
    push(&L, T_EOF);
    /* token text lives in the arena; the array itself is copied there too so the caller frees one thing */
    jtok *toks = arena_alloc(a, (size_t)L.ntok * sizeof(jtok));
    memcpy(toks, L.toks, (size_t)L.ntok * sizeof(jtok));
    free(L.toks);
    *out = toks;
    return L.ntok;
}
