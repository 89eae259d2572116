/* jinja_builtins.c — jinja2's filters and tests, the Python str/dict/list methods the sandbox allows, and the
 * globals (range, namespace, dict, raise_exception, strftime_now). Each follows the Python implementation
 * it mirrors (jinja2/filters.py, jinja2/tests.py, CPython's str methods), including the quirks templates
 * rely on: `tojson` is transformers' json.dumps(ensure_ascii=False, ...), `items` of undefined is empty,
 * `map`/`selectattr` use item-first lookups, `title` is jinja's regex version while str.title() is Python's.
 * Names jinja2 has but this engine lacks fail with "unsupported filter 'x'" when evaluated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja_internal.h"

/* ------------------------------------------------------------ name tables */

enum {
    F_ABS, F_ATTR, F_BATCH, F_CAPITALIZE, F_CENTER, F_COUNT, F_D, F_DEFAULT, F_DICTSORT, F_E, F_ESCAPE,
    F_FIRST, F_FLOAT, F_FORCEESCAPE, F_FORMAT, F_INDENT, F_INT, F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST,
    F_LOWER, F_MAP, F_MAX, F_MIN, F_REJECT, F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT,
    F_SELECTATTR, F_SORT, F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_UNIQUE, F_UPPER, F_WORDCOUNT,
    F_IMPLEMENTED,
    /* jinja2 filters not implemented here */
    F_FILESIZEFORMAT = F_IMPLEMENTED, F_GROUPBY, F_PPRINT, F_RANDOM, F_SLICE, F_STRIPTAGS, F_TRUNCATE,
    F_URLENCODE, F_URLIZE, F_WORDWRAP, F_XMLATTR, F_COUNT_ALL
};

static const char *const FILTERS[F_COUNT_ALL] = {
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
    "first", "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list",
    "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select",
    "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    "filesizeformat", "groupby", "pprint", "random", "slice", "striptags", "truncate", "urlencode", "urlize",
    "wordwrap", "xmlattr",
};

enum {
    TS_BOOLEAN, TS_CALLABLE, TS_DEFINED, TS_DIVISIBLEBY, TS_EQ, TS_EQUALTO, TS_ESCAPED, TS_EVEN, TS_FALSE, TS_FILTER,
    TS_FLOAT, TS_GE, TS_GREATERTHAN, TS_GT, TS_IN, TS_INTEGER, TS_ITERABLE, TS_LE, TS_LESSTHAN, TS_LOWER, TS_LT,
    TS_MAPPING, TS_NE, TS_NONE, TS_NUMBER, TS_ODD, TS_SAMEAS, TS_SEQUENCE, TS_STRING, TS_TEST, TS_TRUE, TS_UNDEFINED,
    TS_UPPER, TS_OP_EQ, TS_OP_NE, TS_OP_LT, TS_OP_LE, TS_OP_GT, TS_OP_GE, TS_COUNT_ALL
};

static const char *const TESTS[TS_COUNT_ALL] = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter",
    "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower", "lt",
    "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined",
    "upper", "==", "!=", "<", "<=", ">", ">=",
};

static int find_name(const char *const *table, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(table[i], name)) return i;
    return -1;
}

int jinja_filter_id(const char *name) { return find_name(FILTERS, F_COUNT_ALL, name); }
int jinja_test_id(const char *name) { return find_name(TESTS, TS_COUNT_ALL, name); }

enum { G_RANGE, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME, G_CYCLER, G_JOINER, G_LIPSUM, G_COUNT };
static const char *const GLOBALS[G_COUNT] = {"range", "namespace", "dict", "raise_exception", "strftime_now",
                                             "cycler", "joiner", "lipsum"};

int jinja_global_id(const char *name) { return find_name(GLOBALS, G_COUNT, name); }
const char *jinja_global_name(int id) { return GLOBALS[id]; }

/* Methods: str, dict, list. Ids are offsets into one table; `unsafe` marks what ImmutableSandboxedEnvironment
 * refuses (mutation). */
enum {
    M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT, M_SPLITLINES, M_STARTSWITH, M_ENDSWITH, M_UPPER, M_LOWER,
    M_TITLE, M_CAPITALIZE, M_SWAPCASE, M_CASEFOLD, M_REPLACE, M_FIND, M_RFIND, M_INDEX_S, M_RINDEX, M_COUNT_S,
    M_JOIN, M_FORMAT, M_CENTER, M_LJUST, M_RJUST, M_ZFILL, M_ISDIGIT, M_ISALPHA, M_ISALNUM, M_ISSPACE,
    M_ISUPPER, M_ISLOWER, M_ISTITLE, M_ISNUMERIC, M_ISDECIMAL, M_PARTITION, M_RPARTITION,
    M_STR_END,
    M_GET = M_STR_END, M_ITEMS, M_KEYS, M_VALUES, M_DCOPY,
    M_DICT_END,
    M_LINDEX = M_DICT_END, M_LCOUNT, M_LCOPY,
    M_LIST_END,
};

static const char *const STR_METHODS[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "swapcase", "casefold", "replace", "find", "rfind", "index", "rindex", "count",
    "join", "format", "center", "ljust", "rjust", "zfill", "isdigit", "isalpha", "isalnum", "isspace",
    "isupper", "islower", "istitle", "isnumeric", "isdecimal", "partition", "rpartition",
};
static const char *const STR_OTHER[] = {"encode", "expandtabs", "format_map", "isascii", "isidentifier",
                                        "isprintable", "maketrans", "removeprefix", "removesuffix", "translate", NULL};
static const char *const DICT_METHODS[] = {"get", "items", "keys", "values", "copy"};
static const char *const DICT_UNSAFE[] = {"pop", "popitem", "setdefault", "update", "clear", "fromkeys", NULL};
static const char *const LIST_METHODS[] = {"index", "count", "copy"};
static const char *const LIST_UNSAFE[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear", NULL};

static bool in_list(const char *const *l, const char *name) {
    for (; *l; l++)
        if (!strcmp(*l, name)) return true;
    return false;
}

int jinja_method_id(jv self, const char *name, bool *unsafe) {
    *unsafe = false;
    int i;
    switch (self.type) {
    case JINJA_STRING:
        if ((i = find_name(STR_METHODS, M_STR_END, name)) >= 0) return i;
        if (in_list(STR_OTHER, name)) return 1000; /* exists in Python, not here: fails when called */
        return -1;
    case JINJA_DICT:
        if ((i = find_name(DICT_METHODS, M_DICT_END - M_STR_END, name)) >= 0) return M_STR_END + i;
        *unsafe = in_list(DICT_UNSAFE, name);
        return -1;
    case JINJA_LIST:
        if (JL(self)->kind == JK_RANGE) { /* range has index() and count() */
            i = find_name(LIST_METHODS, M_LIST_END - M_DICT_END, name);
            return i >= 0 && i != M_LCOPY - M_DICT_END ? M_DICT_END + i : -1;
        }
        if (JL(self)->kind != JK_PLAIN) return -1; /* generators and views: no methods templates use */
        if ((i = find_name(LIST_METHODS, M_LIST_END - M_DICT_END, name)) >= 0 && !(JL(self)->tuple && i == M_LCOPY - M_DICT_END))
            return M_DICT_END + i;
        *unsafe = !JL(self)->tuple && in_list(LIST_UNSAFE, name);
        return -1;
    default:
        return -1;
    }
}

/* ---------------------------------------------------------------- helpers */

static bool missing(jv v) { return v.type == JV_MISSING; }

/* jinja2's map/select/items/batch/unique are generator functions: the result is a lazy generator, always
 * truthy, and any error surfaces only when it is iterated. Computed eagerly here; a failure is kept in the
 * generator and raised on iteration. Resource-bound failures are never deferred. */
static bool as_generator(jctx *C, bool ok, jv *out) {
    if (ok) {
        JL(*out)->kind = JK_GENERATOR;
        return true;
    }
    if (C->hard) return false;
    const char *m = C->err.p ? C->err.p : "";
    if (!strncmp(m, "jinja: line ", 12)) { /* keep the message; the line is where it gets iterated */
        const char *c = strchr(m + 12, ':');
        if (c) m = c + 2;
    }
    jv g = jv_list_n(0);
    JL(g)->kind = JK_GENERATOR;
    JL(g)->err = jv_strn(m, strlen(m));
    jsb_free(&C->err);
    jsb_init(&C->err, 0);
    C->failed = false;
    *out = g;
    return true;
}

static jv empty_generator(void) {
    jv g = jv_list_n(0);
    JL(g)->kind = JK_GENERATOR;
    return g;
}

static jv str_of(jv v) { /* soft_str: strings stay as they are (Markup included) */
    if (v.type == JINJA_STRING) { jv_incref(v); return v; }
    sb_t b;
    jsb_init(&b, 0);
    py_str(v, &b);
    return jv_str_take(&b);
}

static bool need_str(jctx *C, jv v, const char *what) {
    if (v.type == JINJA_STRING) return true;
    if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
    return jfail(C, "%s must be str, not %s", what, py_type_name(v));
}

static bool need_int(jctx *C, jv v, const char *what, int64_t *out) {
    if (v.type == JINJA_INT || v.type == JINJA_BOOL) { *out = v.type == JINJA_INT ? v.u.i : v.u.b; return true; }
    if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
    return jfail(C, "'%s' object cannot be interpreted as an integer (%s)", py_type_name(v), what);
}

static size_t py_len_of(jv v, bool *ok) {
    *ok = true;
    switch (v.type) {
    case JINJA_STRING: return utf8_len(JS(v)->s, JS(v)->len);
    case JINJA_LIST: if (jl_is_iterator(JL(v))) { *ok = false; return 0; } return JL(v)->n;
    case JINJA_DICT: return JD(v)->n;
    case JINJA_UNDEFINED: return 0;
    case JINJA_LOOP: return JL(JLOOP(v)->items)->n;
    default: *ok = false; return 0;
    }
}

static jv str_copy_flags(sb_t *b, jv like) {
    jv r = jv_str_take(b);
    r.flags = like.flags & JVF_MARKUP;
    return r;
}

/* is code point c among the code points of set (UTF-8) */
static bool cp_in(uint32_t c, const char *set, size_t n) {
    size_t i = 0;
    while (i < n)
        if (utf8_next(set, n, &i) == c) return true;
    return false;
}

/* str.strip family: which 1 = left, 2 = right, 3 = both; chars NULL = whitespace */
static void strip_range(const char *s, size_t n, const char *chars, size_t nchars, int which, size_t *a, size_t *b) {
    size_t lo = 0, hi = n;
    if (which & 1) {
        while (lo < hi) {
            size_t j = lo;
            uint32_t c = utf8_next(s, hi, &j);
            if (chars ? !cp_in(c, chars, nchars) : !py_isspace(c)) break;
            lo = j;
        }
    }
    if (which & 2) {
        while (hi > lo) {
            size_t start = hi - 1;
            while (start > lo && ((unsigned char)s[start] & 0xc0) == 0x80) start--;
            size_t j = start;
            uint32_t c = utf8_next(s, hi, &j);
            if (j != hi || (chars ? !cp_in(c, chars, nchars) : !py_isspace(c))) break;
            hi = start;
        }
    }
    *a = lo;
    *b = hi;
}

static jv case_map(jv s, int mode /* 0 lower, 1 upper, 2 swapcase */) {
    sb_t b;
    jsb_init(&b, 0);
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0;
    while (i < n) {
        size_t a = i;
        uint32_t c = utf8_next(p, n, &i);
        uint32_t m = mode == 0 ? py_lower(c) : mode == 1 ? py_upper(c) : (py_lower(c) != c ? py_lower(c) : py_upper(c));
        if (mode == 1 && c == 0xdf) { jsb_puts(&b, "SS"); continue; }
        if (m == c) jsb_put(&b, p + a, i - a);
        else utf8_put(&b, m);
    }
    return str_copy_flags(&b, s);
}

static bool is_cased(uint32_t c) { return py_lower(c) != c || py_upper(c) != c || c == 0xdf; }

/* Python's str.title(): uppercase after an uncased character, lowercase after a cased one. */
static jv py_title(jv s) {
    sb_t b;
    jsb_init(&b, 0);
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0;
    bool prev_cased = false;
    while (i < n) {
        uint32_t c = utf8_next(p, n, &i);
        utf8_put(&b, prev_cased ? py_lower(c) : py_upper(c));
        prev_cased = is_cased(c);
    }
    return str_copy_flags(&b, s);
}

/* str.capitalize(): first character upper, the rest lower. */
static jv py_capitalize(jv s) {
    sb_t b;
    jsb_init(&b, 0);
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0;
    bool first = true;
    while (i < n) {
        uint32_t c = utf8_next(p, n, &i);
        utf8_put(&b, first ? py_upper(c) : py_lower(c));
        first = false;
    }
    return str_copy_flags(&b, s);
}

/* jinja's |title: words split by [-\s({\[<]+; each word's first char upper, rest lower. */
static jv jinja_title(jv s) {
    sb_t b;
    jsb_init(&b, 0);
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0;
    bool at_start = true;
    while (i < n) {
        uint32_t c = utf8_next(p, n, &i);
        bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
        if (sep) { utf8_put(&b, c); at_start = true; continue; }
        utf8_put(&b, at_start ? py_upper(c) : py_lower(c));
        at_start = false;
    }
    return str_copy_flags(&b, s);
}

static bool str_replace(jctx *C, jv s, jv old, jv new, int64_t count, jv *out) {
    sb_t b;
    jsb_init(&b, C->max_output);
    const char *p = JS(s)->s, *o = JS(old)->s;
    size_t n = JS(s)->len, on = JS(old)->len, i = 0;
    if (on == 0) { /* inserts `new` around every character */
        while (i <= n && !b.over) {
            if (count < 0 || count-- > 0) jsb_put(&b, JS(new)->s, JS(new)->len);
            else { jsb_put(&b, p + i, n - i); break; }
            if (i == n) break;
            size_t a = i;
            utf8_next(p, n, &i);
            jsb_put(&b, p + a, i - a);
        }
        if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
        *out = jv_str_take(&b);
        return true;
    }
    while (i < n && !b.over) {
        const char *hit = count != 0 ? memmem(p + i, n - i, o, on) : NULL;
        if (!hit) break;
        size_t h = (size_t)(hit - p);
        jsb_put(&b, p + i, h - i);
        jsb_put(&b, JS(new)->s, JS(new)->len);
        i = h + on;
        if (count > 0) count--;
    }
    jsb_put(&b, p + i, n - i);
    if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
    *out = jv_str_take(&b);
    return true;
}

/* str.split / rsplit */
static jv str_split(jv s, jv sep, int64_t maxsplit, bool right) {
    jv out = jv_list_n(0);
    const char *p = JS(s)->s;
    size_t n = JS(s)->len;
    if (sep.type != JINJA_STRING) { /* whitespace runs; leading/trailing whitespace ignored */
        if (!right) {
            size_t i = 0;
            while (i < n) {
                size_t j = i;
                while (j < n) { size_t k = j; if (!py_isspace(utf8_next(p, n, &k))) break; j = k; }
                i = j;
                if (i >= n) break;
                if (maxsplit == 0) { /* the remainder keeps its trailing whitespace */
                    jl_push(JL(out), jv_strn(p + i, n - i));
                    break;
                }
                size_t start = i;
                while (i < n) { size_t k = i; if (py_isspace(utf8_next(p, n, &k))) break; i = k; }
                jl_push(JL(out), jv_strn(p + start, i - start));
                if (maxsplit > 0) maxsplit--;
            }
        } else {
            jv rev = jv_list_n(0);
            size_t i = n;
            while (i > 0) {
                size_t a, b2;
                strip_range(p, i, NULL, 0, 2, &a, &b2);
                i = b2;
                if (i == 0) break;
                if (maxsplit == 0) { /* the remainder keeps its leading whitespace */
                    jl_push(JL(rev), jv_strn(p, i));
                    break;
                }
                size_t end = i;
                while (i > 0) {
                    size_t st = i - 1;
                    while (st > 0 && ((unsigned char)p[st] & 0xc0) == 0x80) st--;
                    size_t k = st;
                    if (py_isspace(utf8_next(p, i, &k))) break;
                    i = st;
                }
                jl_push(JL(rev), jv_strn(p + i, end - i));
                if (maxsplit > 0) maxsplit--;
            }
            for (size_t k = JL(rev)->n; k > 0; k--) { jv_incref(JL(rev)->v[k - 1]); jl_push(JL(out), JL(rev)->v[k - 1]); }
            jv_decref(rev);
        }
        return out;
    }
    const char *d = JS(sep)->s;
    size_t dn = JS(sep)->len;
    if (!right) {
        size_t i = 0;
        for (;;) {
            const char *hit = maxsplit != 0 ? memmem(p + i, n - i, d, dn) : NULL;
            if (!hit) { jl_push(JL(out), jv_strn(p + i, n - i)); break; }
            jl_push(JL(out), jv_strn(p + i, (size_t)(hit - p) - i));
            i = (size_t)(hit - p) + dn;
            if (maxsplit > 0) maxsplit--;
        }
        return out;
    }
    jv rev = jv_list_n(0);
    size_t end = n;
    for (;;) {
        const char *hit = NULL;
        if (maxsplit != 0 && end >= dn)
            for (size_t k = end - dn + 1; k-- > 0;)
                if (memcmp(p + k, d, dn) == 0) { hit = p + k; break; }
        if (!hit) { jl_push(JL(rev), jv_strn(p, end)); break; }
        size_t h = (size_t)(hit - p);
        jl_push(JL(rev), jv_strn(p + h + dn, end - h - dn));
        end = h;
        if (maxsplit > 0) maxsplit--;
    }
    for (size_t k = JL(rev)->n; k > 0; k--) { jv_incref(JL(rev)->v[k - 1]); jl_push(JL(out), JL(rev)->v[k - 1]); }
    jv_decref(rev);
    return out;
}

/* str.splitlines(keepends) */
static jv str_splitlines(jv s, bool keepends) {
    jv out = jv_list_n(0);
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0, start = 0;
    while (i < n) {
        size_t a = i;
        uint32_t c = utf8_next(p, n, &i);
        bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d || c == 0x1e ||
                   c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!brk) continue;
        size_t e = i;
        if (c == '\r' && i < n && p[i] == '\n') { i++; e = i; }
        jl_push(JL(out), jv_strn(p + start, (keepends ? e : a) - start));
        start = i;
    }
    if (start < n) jl_push(JL(out), jv_strn(p + start, n - start));
    return out;
}

/* code-point index of a byte offset */
static int64_t cp_index(const char *s, size_t off) { return (int64_t)utf8_len(s, off); }

static jv pad(jv s, int64_t width, const char *fill, size_t fn, int where /* 0 center, 1 ljust, 2 rjust */) {
    int64_t len = (int64_t)utf8_len(JS(s)->s, JS(s)->len);
    if (width <= len) { jv_incref(s); return s; }
    int64_t marg = width - len, left;
    if (where == 0) left = marg / 2 + (marg & width & 1);
    else if (where == 1) left = 0;
    else left = marg;
    sb_t b;
    jsb_init(&b, 0);
    for (int64_t i = 0; i < left; i++) jsb_put(&b, fill, fn);
    jsb_put(&b, JS(s)->s, JS(s)->len);
    for (int64_t i = 0; i < marg - left; i++) jsb_put(&b, fill, fn);
    return str_copy_flags(&b, s);
}

static bool predicate_all(jv s, int kind) {
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0;
    if (n == 0) return false;
    bool any_cased = false;
    while (i < n) {
        uint32_t c = utf8_next(p, n, &i);
        switch (kind) {
        case M_ISDIGIT: case M_ISNUMERIC: case M_ISDECIMAL: if (!py_isdigit(c)) return false; break;
        case M_ISALPHA: if (!py_isalpha(c)) return false; break;
        case M_ISALNUM: if (!py_isalpha(c) && !py_isdigit(c)) return false; break;
        case M_ISSPACE: if (!py_isspace(c)) return false; break;
        case M_ISUPPER: if (py_iscased_lower(c) && py_upper(c) != c) return false; if (py_iscased_upper(c)) any_cased = true; break;
        case M_ISLOWER: if (py_iscased_upper(c)) return false; if (py_iscased_lower(c)) any_cased = true; break;
        }
    }
    if (kind == M_ISUPPER || kind == M_ISLOWER) return any_cased;
    return true;
}

static bool str_istitle(jv s) {
    const char *p = JS(s)->s;
    size_t n = JS(s)->len, i = 0;
    bool prev_cased = false, cased = false;
    while (i < n) {
        uint32_t c = utf8_next(p, n, &i);
        if (py_iscased_upper(c)) { if (prev_cased) return false; prev_cased = cased = true; }
        else if (py_iscased_lower(c)) { if (!prev_cased) return false; prev_cased = cased = true; }
        else prev_cased = false;
    }
    return cased;
}

/* str.format(*args, **kwargs): {} {0} {name} with optional !s/!r; format specs are not supported. */
static bool str_format(jctx *C, jv fmt, const jargs *a, jv *out) {
    sb_t b;
    jsb_init(&b, C->max_output);
    const char *p = JS(fmt)->s;
    size_t n = JS(fmt)->len, i = 0;
    int auto_idx = 0;
    while (i < n) {
        char c = p[i];
        if (c == '{' && i + 1 < n && p[i + 1] == '{') { jsb_putc(&b, '{'); i += 2; continue; }
        if (c == '}' && i + 1 < n && p[i + 1] == '}') { jsb_putc(&b, '}'); i += 2; continue; }
        if (c == '}') { jsb_free(&b); return jfail(C, "Single '}' encountered in format string"); }
        if (c != '{') { jsb_putc(&b, c); i++; continue; }
        size_t j = i + 1;
        while (j < n && p[j] != '}') j++;
        if (j >= n) { jsb_free(&b); return jfail(C, "Single '{' encountered in format string"); }
        char field[128];
        size_t fl = j - i - 1 < sizeof field - 1 ? j - i - 1 : sizeof field - 1;
        memcpy(field, p + i + 1, fl);
        field[fl] = 0;
        char conv = 's';
        char *bang = strchr(field, '!');
        if (strchr(field, ':')) { jsb_free(&b); return jfail(C, "unsupported: format specs in str.format()"); }
        if (bang) { conv = bang[1]; *bang = 0; }
        jv v = {.type = JV_MISSING};
        if (!field[0]) { if (auto_idx < a->npos) v = a->pos[auto_idx]; auto_idx++; }
        else if (field[0] >= '0' && field[0] <= '9') { int k = atoi(field); if (k < a->npos) v = a->pos[k]; }
        else for (int k = 0; k < a->nkw; k++) if (!strcmp(a->kwn[k], field)) v = a->kwv[k];
        if (missing(v)) { jsb_free(&b); return jfail(C, "Replacement index %s out of range for positional args tuple", field[0] ? field : "0"); }
        if (conv == 'r') py_repr(v, &b);
        else py_str(v, &b);
        i = j + 1;
    }
    if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
    *out = jv_str_take(&b);
    return true;
}

/* printf-style `fmt % values` (Python's str.__mod__): %(name)s mappings, flags -+ 0#, width, precision, *,
 * and the conversions s r a d i u o x X e E f F g G c %. */
bool jinja_percent(jctx *C, jv fmt, jv values, jv *out) {
    const char *f = JS(fmt)->s;
    size_t n = JS(fmt)->len;
    bool is_tuple = values.type == JINJA_LIST && JL(values)->tuple;
    bool is_map = values.type == JINJA_DICT;
    size_t nargs = is_tuple ? JL(values)->n : 1, argi = 0;
    sb_t b;
    jsb_init(&b, C->max_output);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        if (f[i] != '%') { jsb_putc(&b, f[i]); continue; }
        if (++i >= n) { ok = jfail(C, "incomplete format"); break; }
        jv arg = {.type = JV_MISSING};
        if (f[i] == '(') {
            size_t j = i + 1;
            int depth = 1;
            while (j < n && depth) { if (f[j] == '(') depth++; else if (f[j] == ')') depth--; j++; }
            if (depth) { ok = jfail(C, "incomplete format key"); break; }
            if (!is_map) { ok = jfail(C, "format requires a mapping"); break; }
            jv *v = jd_get_str(JD(values), f + i + 1, j - i - 2);
            if (!v) { ok = jfail(C, "KeyError: '%.*s'", (int)(j - i - 2), f + i + 1); break; }
            arg = *v;
            i = j;
        }
        char flags[8];
        int nf = 0;
        while (i < n && strchr("-+ #0", f[i]) && nf < 7) flags[nf++] = f[i++];
        flags[nf] = 0;
        int64_t width = -1, prec = -1;
        for (int part = 0; part < 2; part++) {
            if (part == 1) { if (i < n && f[i] == '.') { i++; prec = 0; } else break; }
            int64_t *dst = part ? &prec : &width;
            if (i < n && f[i] == '*') {
                if (!is_tuple || argi >= nargs) { ok = jfail(C, "not enough arguments for format string"); break; }
                jv w = JL(values)->v[argi++];
                if (w.type != JINJA_INT) { ok = jfail(C, "* wants int"); break; }
                *dst = w.u.i;
                i++;
            } else {
                if (i < n && f[i] >= '0' && f[i] <= '9') *dst = 0;
                while (i < n && f[i] >= '0' && f[i] <= '9') { *dst = *dst * 10 + (f[i] - '0'); if (*dst > 100000) break; i++; }
            }
        }
        if (!ok) break;
        if (width > 100000 || prec > 1000) { ok = jfail(C, "format width or precision too large"); break; }
        while (i < n && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L')) i++;
        if (i >= n) { ok = jfail(C, "incomplete format"); break; }
        char conv = f[i];
        if (conv == '%') { jsb_putc(&b, '%'); continue; }
        if (missing(arg)) {
            if (is_tuple) {
                if (argi >= nargs) { ok = jfail(C, "not enough arguments for format string"); break; }
                arg = JL(values)->v[argi++];
            } else {
                if (argi >= 1) { ok = jfail(C, "not enough arguments for format string"); break; }
                arg = values;
                argi++;
            }
        }
        bool left = strchr(flags, '-') != NULL, zero = strchr(flags, '0') != NULL && !left;
        sb_t piece;
        jsb_init(&piece, 0);
        bool numeric = false;
        switch (conv) {
        case 's': case 'r': case 'a': {
            if (conv == 's') py_str(arg, &piece); else py_repr(arg, &piece);
            if (prec >= 0) piece.n = utf8_offset(piece.p ? piece.p : "", piece.n, (size_t)prec);
            break;
        }
        case 'c':
            if (arg.type == JINJA_STRING && utf8_len(JS(arg)->s, JS(arg)->len) == 1) jsb_put(&piece, JS(arg)->s, JS(arg)->len);
            else if (arg.type == JINJA_INT && arg.u.i >= 0 && arg.u.i <= 0x10ffff) utf8_put(&piece, (uint32_t)arg.u.i);
            else ok = jfail(C, "%%c requires int or char");
            break;
        case 'd': case 'i': case 'u': case 'o': case 'x': case 'X': {
            numeric = true;
            int64_t v;
            if (arg.type == JINJA_INT || arg.type == JINJA_BOOL) v = arg.type == JINJA_INT ? arg.u.i : arg.u.b;
            else if (arg.type == JINJA_FLOAT && (conv == 'd' || conv == 'i' || conv == 'u') && isfinite(arg.u.f) && fabs(arg.u.f) < 9e18)
                v = (int64_t)arg.u.f;
            else {
                ok = jfail(C, "%%%c format: %s is required, not %s", conv, conv == 'd' || conv == 'i' || conv == 'u' ? "a real number" : "an integer", py_type_name(arg));
                break;
            }
            char spec[32], tmp[96];
            const char *cv = conv == 'o' ? "llo" : conv == 'x' ? "llx" : conv == 'X' ? "llX" : "lld";
            uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
            snprintf(spec, sizeof spec, "%%%s%s", (conv == 'o' || conv == 'x' || conv == 'X') && strchr(flags, '#') ? "#" : "", cv);
            if (prec >= 0) snprintf(spec, sizeof spec, "%%%s.%d%s", (conv == 'o' || conv == 'x' || conv == 'X') && strchr(flags, '#') ? "#" : "", (int)prec, cv);
            if (conv == 'd' || conv == 'i' || conv == 'u') snprintf(tmp, sizeof tmp, spec, (long long)mag);
            else snprintf(tmp, sizeof tmp, spec, (unsigned long long)mag);
            if (conv == 'o' && strchr(flags, '#')) { /* Python writes 0o17, C writes 017 */
                memmove(tmp + 2, tmp + 1, strlen(tmp));
                tmp[1] = 'o';
            }
            if (v < 0) jsb_putc(&piece, '-');
            else if (strchr(flags, '+')) jsb_putc(&piece, '+');
            else if (strchr(flags, ' ')) jsb_putc(&piece, ' ');
            jsb_puts(&piece, tmp);
            break;
        }
        case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': {
            numeric = true;
            double v;
            if (arg.type == JINJA_FLOAT) v = arg.u.f;
            else if (arg.type == JINJA_INT || arg.type == JINJA_BOOL) v = arg.type == JINJA_INT ? (double)arg.u.i : arg.u.b;
            else { ok = jfail(C, "must be real number, not %s", py_type_name(arg)); break; }
            char spec[32], tmp[1400];
            snprintf(spec, sizeof spec, "%%%s%s%s.%d%c", strchr(flags, '+') ? "+" : "", strchr(flags, ' ') ? " " : "",
                     strchr(flags, '#') ? "#" : "", (int)(prec < 0 ? 6 : prec), conv);
            snprintf(tmp, sizeof tmp, spec, v);
            jsb_puts(&piece, tmp);
            break;
        }
        default:
            ok = jfail(C, "unsupported format character '%c' (0x%x)", conv, (unsigned char)conv);
        }
        if (ok) {
            int64_t len = (int64_t)utf8_len(piece.p ? piece.p : "", piece.n);
            if (width > len && !left && zero && numeric) { /* zero padding goes after the sign */
                size_t sign = piece.n && strchr("+- ", piece.p[0]) ? 1 : 0;
                jsb_put(&b, piece.p, sign);
                for (int64_t k = len; k < width; k++) jsb_putc(&b, '0');
                jsb_put(&b, piece.p + sign, piece.n - sign);
            } else {
                if (!left) for (int64_t k = len; k < width; k++) jsb_putc(&b, ' ');
                jsb_put(&b, piece.p ? piece.p : "", piece.n);
                if (left) for (int64_t k = len; k < width; k++) jsb_putc(&b, ' ');
            }
        }
        jsb_free(&piece);
    }
    if (ok && !is_map && argi < nargs)
        ok = jfail(C, "not all arguments converted during string formatting");
    if (ok && !jcheck_str(C, &b)) ok = false;
    if (!ok) { jsb_free(&b); return false; }
    *out = jv_str_take(&b);
    return true;
}

/* ---------------------------------------------------------------- methods */

bool jinja_method(jctx *C, jv self, int id, const jargs *a, jv *out) {
    jv p[4];
    if (id == 1000) return jfail(C, "unsupported: this str method");
    if (self.type == JINJA_STRING && id < M_STR_END) {
        const char *s = JS(self)->s;
        size_t n = JS(self)->len;
        const char *name = STR_METHODS[id];
        switch (id) {
        case M_STRIP:
        case M_LSTRIP:
        case M_RSTRIP: {
            static const char *const ps[] = {"chars"};
            if (!jbind(C, name, a, ps, 1, p)) return false;
            const char *chars = NULL;
            size_t nc = 0;
            if (!missing(p[0]) && p[0].type != JINJA_NONE) {
                if (!need_str(C, p[0], "strip arg")) return false;
                chars = JS(p[0])->s;
                nc = JS(p[0])->len;
            }
            size_t lo, hi;
            strip_range(s, n, chars, nc, id == M_STRIP ? 3 : id == M_LSTRIP ? 1 : 2, &lo, &hi);
            *out = jv_strn(s + lo, hi - lo);
            out->flags = self.flags;
            return true;
        }
        case M_SPLIT:
        case M_RSPLIT: {
            static const char *const ps[] = {"sep", "maxsplit"};
            if (!jbind(C, name, a, ps, 2, p)) return false;
            int64_t maxsplit = -1;
            jv sep = missing(p[0]) ? jinja_none() : p[0];
            if (sep.type != JINJA_NONE && !need_str(C, sep, "separator")) return false;
            if (sep.type == JINJA_STRING && JS(sep)->len == 0) return jfail(C, "empty separator");
            if (!missing(p[1]) && !need_int(C, p[1], "maxsplit", &maxsplit)) return false;
            *out = str_split(self, sep, maxsplit, id == M_RSPLIT);
            return true;
        }
        case M_SPLITLINES: {
            static const char *const ps[] = {"keepends"};
            if (!jbind(C, name, a, ps, 1, p)) return false;
            *out = str_splitlines(self, !missing(p[0]) && py_truthy(p[0]));
            return true;
        }
        case M_STARTSWITH:
        case M_ENDSWITH: {
            static const char *const ps[] = {"prefix", "start", "end"};
            if (!jbind(C, name, a, ps, 3, p)) return false;
            if (!missing(p[1]) || !missing(p[2])) return jfail(C, "unsupported: start/end arguments of %s()", name);
            if (missing(p[0])) return jfail(C, "%s() takes at least 1 argument (0 given)", name);
            jv list = p[0];
            size_t cnt = list.type == JINJA_LIST && JL(list)->tuple ? JL(list)->n : 1;
            bool r = false;
            for (size_t k = 0; k < cnt && !r; k++) {
                jv x = list.type == JINJA_LIST && JL(list)->tuple ? JL(list)->v[k] : list;
                if (x.type != JINJA_STRING)
                    return jfail(C, "%s first arg must be str or a tuple of str, not %s", name, py_type_name(x));
                size_t xn = JS(x)->len;
                if (xn <= n) r = memcmp(id == M_STARTSWITH ? s : s + n - xn, JS(x)->s, xn) == 0;
            }
            *out = jinja_bool(r);
            return true;
        }
        case M_UPPER: case M_LOWER: case M_SWAPCASE: case M_CASEFOLD:
        case M_TITLE: case M_CAPITALIZE:
            if (!jbind(C, name, a, NULL, 0, p)) return false;
            if (id == M_TITLE) *out = py_title(self);
            else if (id == M_CAPITALIZE) *out = py_capitalize(self);
            else *out = case_map(self, id == M_UPPER ? 1 : id == M_SWAPCASE ? 2 : 0);
            return true;
        case M_REPLACE: {
            static const char *const ps[] = {"old", "new", "count"};
            if (!jbind(C, name, a, ps, 3, p)) return false;
            if (missing(p[0]) || missing(p[1])) return jfail(C, "replace expected at least 2 arguments");
            if (!need_str(C, p[0], "replace() argument 1") || !need_str(C, p[1], "replace() argument 2")) return false;
            int64_t count = -1;
            if (!missing(p[2]) && !need_int(C, p[2], "count", &count)) return false;
            return str_replace(C, self, p[0], p[1], count, out);
        }
        case M_FIND: case M_RFIND: case M_INDEX_S: case M_RINDEX: case M_COUNT_S: {
            static const char *const ps[] = {"sub", "start", "end"};
            if (!jbind(C, name, a, ps, 3, p)) return false;
            if (missing(p[0])) return jfail(C, "%s() takes at least 1 argument (0 given)", name);
            if (!missing(p[1]) || !missing(p[2])) return jfail(C, "unsupported: start/end arguments of %s()", name);
            if (!need_str(C, p[0], "substring")) return false;
            const char *sub = JS(p[0])->s;
            size_t sn = JS(p[0])->len;
            if (id == M_COUNT_S) {
                int64_t cnt = 0;
                if (sn == 0) cnt = (int64_t)utf8_len(s, n) + 1;
                else for (size_t i = 0; i + sn <= n;) {
                    const char *h = memmem(s + i, n - i, sub, sn);
                    if (!h) break;
                    cnt++;
                    i = (size_t)(h - s) + sn;
                }
                *out = jinja_int(cnt);
                return true;
            }
            int64_t idx = -1;
            if (id == M_FIND || id == M_INDEX_S) {
                const char *h = sn ? memmem(s, n, sub, sn) : s;
                if (h) idx = cp_index(s, (size_t)(h - s));
            } else if (sn <= n) {
                for (size_t k = n - sn + 1; k-- > 0;)
                    if (memcmp(s + k, sub, sn) == 0) { idx = cp_index(s, k); break; }
            }
            if (idx < 0 && (id == M_INDEX_S || id == M_RINDEX)) return jfail(C, "substring not found");
            *out = jinja_int(idx);
            return true;
        }
        case M_JOIN: {
            static const char *const ps[] = {"iterable"};
            if (!jbind(C, name, a, ps, 1, p)) return false;
            if (missing(p[0])) return jfail(C, "join() takes exactly one argument (0 given)");
            jv items;
            if (!jiterate(C, p[0], &items)) return false;
            sb_t b;
            jsb_init(&b, C->max_output);
            for (size_t k = 0; k < JL(items)->n; k++) {
                jv x = JL(items)->v[k];
                if (x.type != JINJA_STRING) {
                    jfail(C, "sequence item %zu: expected str instance, %s found", k, py_type_name(x));
                    jsb_free(&b);
                    jv_decref(items);
                    return false;
                }
                if (k) jsb_put(&b, s, n);
                jsb_put(&b, JS(x)->s, JS(x)->len);
            }
            jv_decref(items);
            if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
            *out = jv_str_take(&b);
            return true;
        }
        case M_FORMAT:
            return str_format(C, self, a, out);
        case M_CENTER: case M_LJUST: case M_RJUST: {
            static const char *const ps[] = {"width", "fillchar"};
            if (!jbind(C, name, a, ps, 2, p)) return false;
            int64_t w;
            if (missing(p[0])) return jfail(C, "%s() takes at least 1 argument", name);
            if (!need_int(C, p[0], "width", &w)) return false;
            if (w > (int64_t)C->max_output) return jfail(C, "output exceeds the limit of %zu bytes", C->max_output);
            const char *fill = " ";
            size_t fn = 1;
            if (!missing(p[1])) {
                if (!need_str(C, p[1], "fillchar")) return false;
                if (utf8_len(JS(p[1])->s, JS(p[1])->len) != 1) return jfail(C, "The fill character must be exactly one character long");
                fill = JS(p[1])->s;
                fn = JS(p[1])->len;
            }
            *out = pad(self, w, fill, fn, id == M_CENTER ? 0 : id == M_LJUST ? 1 : 2);
            return true;
        }
        case M_ZFILL: {
            static const char *const ps[] = {"width"};
            if (!jbind(C, name, a, ps, 1, p)) return false;
            int64_t w;
            if (missing(p[0]) || !need_int(C, p[0], "width", &w)) return missing(p[0]) ? jfail(C, "zfill() takes exactly one argument") : false;
            if (w > (int64_t)C->max_output) return jfail(C, "output exceeds the limit of %zu bytes", C->max_output);
            int64_t len = (int64_t)utf8_len(s, n);
            sb_t b;
            jsb_init(&b, 0);
            size_t start = 0;
            if (n && (s[0] == '+' || s[0] == '-')) { jsb_putc(&b, s[0]); start = 1; }
            for (int64_t k = len; k < w; k++) jsb_putc(&b, '0');
            jsb_put(&b, s + start, n - start);
            *out = jv_str_take(&b);
            return true;
        }
        case M_ISDIGIT: case M_ISALPHA: case M_ISALNUM: case M_ISSPACE: case M_ISUPPER: case M_ISLOWER:
        case M_ISNUMERIC: case M_ISDECIMAL:
            if (!jbind(C, name, a, NULL, 0, p)) return false;
            *out = jinja_bool(predicate_all(self, id));
            return true;
        case M_ISTITLE:
            if (!jbind(C, name, a, NULL, 0, p)) return false;
            *out = jinja_bool(str_istitle(self));
            return true;
        case M_PARTITION: case M_RPARTITION: {
            static const char *const ps[] = {"sep"};
            if (!jbind(C, name, a, ps, 1, p)) return false;
            if (missing(p[0]) || !need_str(C, p[0], "separator")) return missing(p[0]) ? jfail(C, "%s() takes exactly one argument", name) : false;
            size_t sn = JS(p[0])->len;
            if (!sn) return jfail(C, "empty separator");
            const char *h = NULL;
            if (id == M_PARTITION) h = memmem(s, n, JS(p[0])->s, sn);
            else if (sn <= n)
                for (size_t k = n - sn + 1; k-- > 0;)
                    if (memcmp(s + k, JS(p[0])->s, sn) == 0) { h = s + k; break; }
            jv t = jv_list_n(3);
            JL(t)->tuple = true;
            if (!h) {
                if (id == M_PARTITION) { jl_push(JL(t), jv_strn(s, n)); jl_push(JL(t), jv_strn("", 0)); jl_push(JL(t), jv_strn("", 0)); }
                else { jl_push(JL(t), jv_strn("", 0)); jl_push(JL(t), jv_strn("", 0)); jl_push(JL(t), jv_strn(s, n)); }
            } else {
                size_t at = (size_t)(h - s);
                jl_push(JL(t), jv_strn(s, at));
                jl_push(JL(t), jv_strn(s + at, sn));
                jl_push(JL(t), jv_strn(s + at + sn, n - at - sn));
            }
            *out = t;
            return true;
        }
        }
    }
    if (self.type == JINJA_DICT && id >= M_STR_END && id < M_DICT_END) {
        jdict *d = JD(self);
        switch (id) {
        case M_GET: {
            static const char *const ps[] = {"key", "default"};
            if (!jbind(C, "get", a, ps, 2, p)) return false;
            if (missing(p[0])) return jfail(C, "get expected at least 1 argument, got 0");
            jv *v = jd_get(d, p[0]);
            *out = v ? *v : missing(p[1]) ? jinja_none() : p[1];
            jv_incref(*out);
            return true;
        }
        case M_ITEMS: case M_KEYS: case M_VALUES: {
            if (!jbind(C, DICT_METHODS[id - M_STR_END], a, NULL, 0, p)) return false;
            jv l = jv_list_n(d->n);
            JL(l)->kind = id == M_ITEMS ? JK_DICT_ITEMS : id == M_KEYS ? JK_DICT_KEYS : JK_DICT_VALUES;
            for (size_t k = 0; k < d->n; k++) {
                jv_incref(d->k[k]);
                jv_incref(d->v[k]);
                if (id == M_ITEMS) jl_push(JL(l), jv_tuple2(d->k[k], d->v[k]));
                else if (id == M_KEYS) { jl_push(JL(l), d->k[k]); jv_decref(d->v[k]); }
                else { jl_push(JL(l), d->v[k]); jv_decref(d->k[k]); }
            }
            *out = l;
            return true;
        }
        case M_DCOPY: {
            if (!jbind(C, "copy", a, NULL, 0, p)) return false;
            jv c = jinja_dict();
            for (size_t k = 0; k < d->n; k++) {
                jv_incref(d->k[k]);
                jv_incref(d->v[k]);
                jd_set(JD(c), d->k[k], d->v[k]);
            }
            *out = c;
            return true;
        }
        }
    }
    if (self.type == JINJA_LIST && id >= M_DICT_END && id < M_LIST_END) {
        jlist *l = JL(self);
        if (id == M_LCOPY) {
            if (!jbind(C, "copy", a, NULL, 0, p)) return false;
            jv c = jv_list_n(l->n);
            for (size_t k = 0; k < l->n; k++) { jv_incref(l->v[k]); jl_push(JL(c), l->v[k]); }
            *out = c;
            return true;
        }
        static const char *const ps[] = {"value"};
        if (!jbind(C, id == M_LINDEX ? "index" : "count", a, ps, 1, p)) return false;
        if (missing(p[0])) return jfail(C, "expected 1 argument, got 0");
        int64_t cnt = 0;
        for (size_t k = 0; k < l->n; k++) {
            if (!py_eq(l->v[k], p[0])) continue;
            if (id == M_LINDEX) { *out = jinja_int((int64_t)k); return true; }
            cnt++;
        }
        if (id == M_LINDEX) {
            sb_t b;
            jsb_init(&b, 0);
            py_repr(p[0], &b);
            jfail(C, "%s is not in %s", b.p ? b.p : "", l->tuple ? "tuple" : "list");
            jsb_free(&b);
            return false;
        }
        *out = jinja_int(cnt);
        return true;
    }
    return jfail(C, "internal error: bad method");
}

/* ------------------------------------------------------------------ tests */

static bool call_test_by_name(jctx *C, jv name, jv val, const jargs *a, bool *out) {
    if (!need_str(C, name, "test name")) return false;
    int id = jinja_test_id(JS(name)->s);
    return jinja_test(C, id, JS(name)->s, val, a, out);
}

/* v % m == want (Python numbers: bool is int, floats use fmod with Python's sign rule) */
static bool num_mod(jctx *C, jv v, jv m, int want, bool *out) {
    if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
    if (m.type == JINJA_UNDEFINED) return jfail_undef(C, m);
    if (!jv_is_num(v) || !jv_is_num(m))
        return jfail(C, "unsupported operand type(s) for %%: '%s' and '%s'", py_type_name(v), py_type_name(m));
    if (v.type == JINJA_FLOAT || m.type == JINJA_FLOAT) {
        double x = v.type == JINJA_FLOAT ? v.u.f : (double)(v.type == JINJA_INT ? v.u.i : v.u.b);
        double y = m.type == JINJA_FLOAT ? m.u.f : (double)(m.type == JINJA_INT ? m.u.i : m.u.b);
        if (y == 0) return jfail(C, "float modulo");
        double r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        *out = r == want;
        return true;
    }
    int64_t x = v.type == JINJA_INT ? v.u.i : v.u.b, y = m.type == JINJA_INT ? m.u.i : m.u.b;
    if (y == 0) return jfail(C, "integer modulo by zero");
    int64_t r = y == -1 ? 0 : x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    *out = r == want;
    return true;
}

bool jinja_test(jctx *C, int id, const char *name, jv v, const jargs *a, bool *out) {
    jv p[2];
    static const char *const one[] = {"other"};
    if (id < 0) return jfail(C, "No test named '%s'.", name);
    switch (id) {
    case TS_DEFINED: case TS_UNDEFINED: case TS_NONE: case TS_BOOLEAN: case TS_FALSE: case TS_TRUE: case TS_INTEGER:
    case TS_FLOAT: case TS_NUMBER: case TS_STRING: case TS_MAPPING: case TS_ITERABLE: case TS_SEQUENCE:
    case TS_CALLABLE: case TS_ESCAPED: case TS_EVEN: case TS_ODD: case TS_LOWER: case TS_UPPER: case TS_FILTER: case TS_TEST:
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        break;
    default:
        if (!jbind(C, name, a, one, 1, p)) return false;
        if (missing(p[0])) return jfail(C, "%s() missing 1 required positional argument", name);
    }
    switch (id) {
    case TS_DEFINED: *out = v.type != JINJA_UNDEFINED; return true;
    case TS_UNDEFINED: *out = v.type == JINJA_UNDEFINED; return true;
    case TS_NONE: *out = v.type == JINJA_NONE; return true;
    case TS_BOOLEAN: *out = v.type == JINJA_BOOL; return true;
    case TS_FALSE: *out = v.type == JINJA_BOOL && !v.u.b; return true;
    case TS_TRUE: *out = v.type == JINJA_BOOL && v.u.b; return true;
    case TS_INTEGER: *out = v.type == JINJA_INT; return true;
    case TS_FLOAT: *out = v.type == JINJA_FLOAT; return true;
    case TS_NUMBER: *out = jv_is_num(v); return true;
    case TS_STRING: *out = v.type == JINJA_STRING; return true;
    case TS_MAPPING: *out = v.type == JINJA_DICT; return true;
    case TS_ITERABLE:
        *out = v.type == JINJA_STRING || v.type == JINJA_LIST || v.type == JINJA_DICT || v.type == JINJA_UNDEFINED ||
               v.type == JINJA_LOOP;
        return true;
    case TS_SEQUENCE: /* len() and __getitem__: not iterators, not dict views */
        *out = v.type == JINJA_STRING || v.type == JINJA_DICT || v.type == JINJA_UNDEFINED ||
               (v.type == JINJA_LIST && (JL(v)->kind == JK_PLAIN || JL(v)->kind == JK_RANGE));
        return true;
    case TS_CALLABLE:
        *out = v.type == JINJA_CALLABLE || v.type == JINJA_UNDEFINED || v.type == JINJA_LOOP;
        return true;
    case TS_ESCAPED: *out = v.type == JINJA_STRING && (v.flags & JVF_MARKUP); return true;
    case TS_EVEN: return num_mod(C, v, jinja_int(2), 0, out);
    case TS_ODD: return num_mod(C, v, jinja_int(2), 1, out);
    case TS_DIVISIBLEBY: return num_mod(C, v, p[0], 0, out);
    case TS_LOWER:
    case TS_UPPER: {
        jv s = str_of(v);
        *out = predicate_all(s, id == TS_LOWER ? M_ISLOWER : M_ISUPPER);
        jv_decref(s);
        return true;
    }
    case TS_FILTER: *out = v.type == JINJA_STRING && jinja_filter_id(JS(v)->s) >= 0; return true;
    case TS_TEST: *out = v.type == JINJA_STRING && jinja_test_id(JS(v)->s) >= 0; return true;
    case TS_SAMEAS:
        if (v.type != p[0].type) *out = false;
        else if (v.type == JINJA_NONE || v.type == JINJA_UNDEFINED) *out = v.type == JINJA_NONE || v.u.obj == p[0].u.obj;
        else if (v.type == JINJA_BOOL) *out = v.u.b == p[0].u.b;
        else if (v.type == JINJA_INT) *out = v.u.i == p[0].u.i && v.u.i >= -5 && v.u.i <= 256; /* CPython's small ints */
        else if (v.type == JINJA_FLOAT) *out = false;
        else *out = v.u.obj == p[0].u.obj;
        return true;
    case TS_IN: {
        switch (p[0].type) {
        case JINJA_STRING:
            if (v.type != JINJA_STRING) return jfail(C, "'in <string>' requires string as left operand, not %s", py_type_name(v));
            *out = memmem(JS(p[0])->s, JS(p[0])->len, JS(v)->s, JS(v)->len) != NULL || JS(v)->len == 0;
            return true;
        case JINJA_LIST:
            *out = false;
            for (size_t k = 0; k < JL(p[0])->n; k++)
                if (py_eq(JL(p[0])->v[k], v)) { *out = true; break; }
            return true;
        case JINJA_DICT: *out = jd_get(JD(p[0]), v) != NULL; return true;
        case JINJA_UNDEFINED: *out = false; return true;
        default: return jfail(C, "argument of type '%s' is not iterable", py_type_name(p[0]));
        }
    }
    case TS_EQ: case TS_EQUALTO: case TS_OP_EQ: *out = py_eq(v, p[0]); return true;
    case TS_NE: case TS_OP_NE: *out = !py_eq(v, p[0]); return true;
    default: {
        int c;
        sb_t err;
        jsb_init(&err, 0);
        if (py_cmp(v, p[0], &c, &err)) {
            jfail(C, "%s", err.p ? err.p : "not comparable");
            jsb_free(&err);
            return false;
        }
        jsb_free(&err);
        if (id == TS_LT || id == TS_LESSTHAN || id == TS_OP_LT) *out = c < 0;
        else if (id == TS_LE || id == TS_OP_LE) *out = c <= 0;
        else if (id == TS_GT || id == TS_GREATERTHAN || id == TS_OP_GT) *out = c > 0;
        else *out = c >= 0;
        return true;
    }
    }
}

/* ---------------------------------------------------------------- filters */

/* make_attrgetter: "a.b.0" looked up item-first (environment.getitem) part by part. */
static bool attr_get(jctx *C, jv item, jv attribute, jv dflt, jv *out) {
    jv cur = item;
    jv_incref(cur);
    if (attribute.type != JINJA_STRING) {
        bool ok = jgetitem(C, cur, attribute, out);
        jv_decref(cur);
        return ok;
    }
    const char *s = JS(attribute)->s;
    size_t n = JS(attribute)->len, i = 0;
    for (;;) {
        size_t j = i;
        while (j < n && s[j] != '.') j++;
        jv key;
        bool digits = j > i;
        for (size_t k = i; k < j; k++)
            if (s[k] < '0' || s[k] > '9') digits = false;
        if (digits && j - i < 18) key = jinja_int(strtoll(s + i, NULL, 10));
        else key = jv_strn(s + i, j - i);
        jv next;
        bool ok = jgetitem(C, cur, key, &next);
        jv_decref(key);
        jv_decref(cur);
        if (!ok) return false;
        cur = next;
        if (!missing(dflt) && dflt.type != JINJA_NONE && cur.type == JINJA_UNDEFINED) {
            jv_decref(cur);
            cur = dflt;
            jv_incref(cur);
        }
        if (j >= n) break;
        i = j + 1;
    }
    *out = cur;
    return true;
}

/* Sort key helper: lowercase strings unless case_sensitive. */
static jv sort_key(jv v, bool case_sensitive) {
    if (!case_sensitive && v.type == JINJA_STRING) return case_map(v, 0);
    jv_incref(v);
    return v;
}

typedef struct {
    jv key, val;
} kv;

/* Stable merge sort of (key, val) pairs by key; -1 (with an error recorded) when keys are not comparable. */
static int sort_kv(jctx *C, kv *a, size_t n, bool reverse) {
    if (n < 2) return 0;
    kv *tmp = malloc(n * sizeof *tmp);
    if (!tmp) abort();
    int rc = 0;
    sb_t err;
    jsb_init(&err, 0);
    for (size_t width = 1; width < n && !rc; width *= 2) {
        for (size_t lo = 0; lo < n && !rc; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int c;
                if (py_cmp(a[j].key, a[i].key, &c, &err)) { rc = -1; break; }
                /* take from the right only when strictly before (stability); reverse keeps stability too */
                bool right_first = reverse ? c > 0 : c < 0;
                tmp[k++] = right_first ? a[j++] : a[i++];
            }
            if (rc) break;
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
            memcpy(a + lo, tmp + lo, (hi - lo) * sizeof *a);
        }
    }
    if (rc) jfail(C, "%s", err.p ? err.p : "not comparable");
    jsb_free(&err);
    free(tmp);
    return rc;
}

static bool do_sort(jctx *C, jv items /* list */, bool reverse, bool case_sensitive, jv attribute, jv *out) {
    size_t n = JL(items)->n;
    kv *a = malloc((n ? n : 1) * sizeof *a);
    if (!a) abort();
    bool ok = true;
    size_t made = 0;
    for (; made < n; made++) {
        jv v = JL(items)->v[made], k;
        if (!missing(attribute) && attribute.type != JINJA_NONE) {
            jv raw;
            if (!attr_get(C, v, attribute, jv_undef(), &raw)) { ok = false; break; }
            k = sort_key(raw, case_sensitive);
            jv_decref(raw);
        } else k = sort_key(v, case_sensitive);
        a[made].key = k;
        a[made].val = v;
    }
    if (ok && sort_kv(C, a, n, reverse)) ok = false;
    if (ok) {
        jv r = jv_list_n(n);
        for (size_t i = 0; i < n; i++) { jv_incref(a[i].val); jl_push(JL(r), a[i].val); }
        *out = r;
    }
    for (size_t i = 0; i < made; i++) jv_decref(a[i].key);
    free(a);
    return ok;
}

static bool parse_py_int(const char *s, size_t n, int base, int64_t *out) {
    size_t lo, hi;
    strip_range(s, n, NULL, 0, 3, &lo, &hi);
    if (lo == hi) return false;
    bool neg = false;
    if (s[lo] == '+' || s[lo] == '-') { neg = s[lo] == '-'; lo++; }
    if (hi - lo > 2 && s[lo] == '0') {
        char k = (char)(s[lo + 1] | 0x20);
        int pb = k == 'x' ? 16 : k == 'o' ? 8 : k == 'b' ? 2 : 0;
        if (pb && (base == pb || base == 0)) { base = pb; lo += 2; if (s[lo] == '_') lo++; }
    }
    if (base == 0) base = 10;
    if (lo == hi) return false;
    uint64_t v = 0;
    bool prev_digit = false;
    for (size_t i = lo; i < hi; i++) {
        char c = s[i];
        if (c == '_') { if (!prev_digit || i + 1 == hi) return false; prev_digit = false; continue; }
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
        if (d >= base) return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
        v = v * (uint64_t)base + (uint64_t)d;
        prev_digit = true;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool parse_py_float(const char *s, size_t n, double *out) {
    size_t lo, hi;
    strip_range(s, n, NULL, 0, 3, &lo, &hi);
    if (lo == hi || hi - lo > 300) return false;
    char buf[320];
    size_t m = 0;
    for (size_t i = lo; i < hi; i++) {
        char c = s[i];
        if (c == '_') {
            bool ok = i > lo && i + 1 < hi && s[i - 1] >= '0' && s[i - 1] <= '9' && s[i + 1] >= '0' && s[i + 1] <= '9';
            if (!ok) return false;
            continue;
        }
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' ||
              strchr("infatyINFATY", c)))
            return false;
        buf[m++] = c;
    }
    buf[m] = 0;
    const char *t = buf + (buf[0] == '+' || buf[0] == '-');
    if ((t[0] | 0x20) == 'i' || (t[0] | 0x20) == 'n') {
        if (strcasecmp(t, "inf") && strcasecmp(t, "infinity") && strcasecmp(t, "nan")) return false;
    } else if (strchr(t, 'x') || strchr(t, 'X')) return false;
    char *end;
    *out = strtod(buf, &end);
    return *end == 0;
}

/* Python round(x, ndigits) for floats: correctly rounded, ties to even on the exact binary value. */
static double py_round(double x, int64_t nd) {
    if (!isfinite(x)) return x;
    if (nd > 300) return x;
    if (nd >= 0) {
        char buf[400];
        snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
        return strtod(buf, NULL);
    }
    double p = pow(10.0, (double)-nd);
    double y = x / p, r = nearbyint(y);
    return r * p;
}

static bool call_filter_by_name(jctx *C, jv name, jv val, const jargs *a, jv *out) {
    if (!need_str(C, name, "filter name")) return false;
    return jinja_filter(C, jinja_filter_id(JS(name)->s), JS(name)->s, val, a, out);
}

/* select / reject / selectattr / rejectattr */
static bool select_eager(jctx *C, jv val, const jargs *a, bool attr_mode, bool want, jv *out) {
    jv items;
    if (!jiterate(C, val, &items)) return false;
    int off = attr_mode ? 1 : 0;
    if (attr_mode && a->npos < 1) { jv_decref(items); return jfail(C, "Missing parameter for attribute name"); }
    jargs rest = {a->pos + off + 1, a->npos - off - 1, a->kwn, a->kwv, a->nkw};
    bool has_test = a->npos > off;
    jv r = jv_list_n(0);
    bool ok = true;
    for (size_t i = 0; ok && i < JL(items)->n; i++) {
        jv item = JL(items)->v[i], probe = item;
        jv_incref(probe);
        if (attr_mode) {
            jv_decref(probe);
            if (!attr_get(C, item, a->pos[0], jv_undef(), &probe)) { ok = false; break; }
        }
        bool t;
        if (has_test) ok = call_test_by_name(C, a->pos[off], probe, &rest, &t);
        else t = py_truthy(probe);
        jv_decref(probe);
        if (ok && t == want) { jv_incref(item); jl_push(JL(r), item); }
    }
    jv_decref(items);
    if (!ok) { jv_decref(r); return false; }
    *out = r;
    return true;
}

static bool select_filter(jctx *C, jv val, const jargs *a, bool attr_mode, bool want, jv *out) {
    if (!py_truthy(val)) { *out = empty_generator(); return true; } /* `if value:` guards the generator */
    return as_generator(C, select_eager(C, val, a, attr_mode, want, out), out);
}

static bool filter_minmax(jctx *C, jv val, const jargs *a, bool is_max, jv *out) {
    jv p[2];
    static const char *const ps[] = {"case_sensitive", "attribute"};
    if (!jbind(C, is_max ? "max" : "min", a, ps, 2, p)) return false;
    jv items;
    if (!jiterate(C, val, &items)) return false;
    bool cs = !missing(p[0]) && py_truthy(p[0]);
    jv best = {.type = JV_MISSING}, best_key = jv_undef();
    bool ok = true;
    for (size_t i = 0; ok && i < JL(items)->n; i++) {
        jv item = JL(items)->v[i], raw;
        if (!missing(p[1]) && p[1].type != JINJA_NONE) { if (!attr_get(C, item, p[1], jv_undef(), &raw)) { ok = false; break; } }
        else { raw = item; jv_incref(raw); }
        jv k = sort_key(raw, cs);
        jv_decref(raw);
        if (missing(best)) { best = item; best_key = k; continue; }
        int c;
        sb_t err;
        jsb_init(&err, 0);
        if (py_cmp(k, best_key, &c, &err)) { jfail(C, "%s", err.p ? err.p : ""); ok = false; }
        jsb_free(&err);
        if (ok && (is_max ? c > 0 : c < 0)) { jv_decref(best_key); best = item; best_key = k; }
        else jv_decref(k);
    }
    if (ok) {
        if (missing(best)) *out = jv_undef_msg("No aggregated item, sequence was empty.");
        else { *out = best; jv_incref(best); }
    }
    jv_decref(best_key);
    jv_decref(items);
    return ok;
}

bool jinja_filter(jctx *C, int id, const char *name, jv v, const jargs *a, jv *out) {
    jv p[5];
    if (id < 0) return jfail(C, "No filter named '%s'.", name);
    if (id >= F_IMPLEMENTED) return jfail(C, "unsupported filter '%s'", name);
    switch (id) {
    case F_ABS:
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        if (v.type == JINJA_FLOAT) *out = jinja_float(fabs(v.u.f));
        else if (v.type == JINJA_INT) {
            if (v.u.i == INT64_MIN) return jfail(C, "integer overflow");
            *out = jinja_int(v.u.i < 0 ? -v.u.i : v.u.i);
        } else if (v.type == JINJA_BOOL) *out = jinja_int(v.u.b);
        else if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
        else return jfail(C, "bad operand type for abs(): '%s'", py_type_name(v));
        return true;
    case F_ATTR: {
        static const char *const ps[] = {"name"};
        if (!jbind(C, name, a, ps, 1, p)) return false;
        if (missing(p[0])) return jfail(C, "attr() missing 1 required positional argument: 'name'");
        jv nm = str_of(p[0]);
        if (v.type == JINJA_UNDEFINED) { jv_decref(nm); return jfail_undef(C, v); }
        jv r;
        bool ok = jgetattr(C, v, JS(nm)->s, JS(nm)->len, &r);
        if (ok && v.type == JINJA_DICT && r.type != JINJA_CALLABLE && r.type != JINJA_UNDEFINED) {
            /* attr() looks at attributes only, never at dict keys */
            jv_decref(r);
            r = jv_undef_msg("'dict object' has no attribute '%s'", JS(nm)->s);
        }
        jv_decref(nm);
        if (ok) *out = r;
        return ok;
    }
    case F_BATCH: {
        static const char *const ps[] = {"linecount", "fill_with"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        int64_t cnt;
        if (missing(p[0])) return jfail(C, "batch() missing 1 required positional argument: 'linecount'");
        if (!need_int(C, p[0], "linecount", &cnt)) return false;
        if (cnt <= 0) return jfail(C, "batch size must be positive");
        jv items;
        if (!jiterate(C, v, &items)) return as_generator(C, false, out);
        jv r = jv_list_n(0), row = jv_list_n(0);
        for (size_t i = 0; i < JL(items)->n; i++) {
            jv_incref(JL(items)->v[i]);
            jl_push(JL(row), JL(items)->v[i]);
            if ((int64_t)JL(row)->n == cnt) { jl_push(JL(r), row); row = jv_list_n(0); }
        }
        if (JL(row)->n) {
            if (!missing(p[1]) && p[1].type != JINJA_NONE)
                while ((int64_t)JL(row)->n < cnt) { jv_incref(p[1]); jl_push(JL(row), p[1]); }
            jl_push(JL(r), row);
        } else jv_decref(row);
        jv_decref(items);
        *out = r;
        return as_generator(C, true, out);
    }
    case F_CAPITALIZE: case F_LOWER: case F_UPPER: case F_TITLE: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        jv s = str_of(v);
        if (id == F_CAPITALIZE) *out = py_capitalize(s);
        else if (id == F_TITLE) *out = jinja_title(s);
        else *out = case_map(s, id == F_UPPER ? 1 : 0);
        jv_decref(s);
        return true;
    }
    case F_CENTER: {
        static const char *const ps[] = {"width"};
        if (!jbind(C, name, a, ps, 1, p)) return false;
        int64_t w = 80;
        if (!missing(p[0]) && !need_int(C, p[0], "width", &w)) return false;
        if (w > (int64_t)C->max_output) return jfail(C, "output exceeds the limit of %zu bytes", C->max_output);
        jv s = str_of(v);
        *out = pad(s, w, " ", 1, 0);
        jv_decref(s);
        return true;
    }
    case F_COUNT: case F_LENGTH: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        bool ok;
        size_t n = py_len_of(v, &ok);
        if (!ok) return jfail(C, "object of type '%s' has no len()", py_type_name(v));
        *out = jinja_int((int64_t)n);
        return true;
    }
    case F_D: case F_DEFAULT: {
        static const char *const ps[] = {"default_value", "boolean"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        bool boolean = !missing(p[1]) && py_truthy(p[1]);
        if (v.type == JINJA_UNDEFINED || (boolean && !py_truthy(v))) {
            *out = missing(p[0]) ? jv_strn("", 0) : p[0];
            if (!missing(p[0])) jv_incref(*out);
        } else { *out = v; jv_incref(v); }
        return true;
    }
    case F_DICTSORT: {
        static const char *const ps[] = {"case_sensitive", "by", "reverse"};
        if (!jbind(C, name, a, ps, 3, p)) return false;
        if (v.type != JINJA_DICT) {
            if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
            return jfail(C, "'%s' object has no attribute 'items'", py_type_name(v));
        }
        bool cs = !missing(p[0]) && py_truthy(p[0]);
        int pos = 0;
        if (!missing(p[1])) {
            if (p[1].type == JINJA_STRING && !strcmp(JS(p[1])->s, "value")) pos = 1;
            else if (!(p[1].type == JINJA_STRING && !strcmp(JS(p[1])->s, "key")))
                return jfail(C, "You can only sort by either \"key\" or \"value\"");
        }
        jdict *d = JD(v);
        kv *arr = malloc((d->n ? d->n : 1) * sizeof *arr);
        if (!arr) abort();
        for (size_t i = 0; i < d->n; i++) {
            arr[i].key = sort_key(pos ? d->v[i] : d->k[i], cs);
            jv_incref(d->k[i]);
            jv_incref(d->v[i]);
            arr[i].val = jv_tuple2(d->k[i], d->v[i]);
        }
        bool ok = sort_kv(C, arr, d->n, !missing(p[2]) && py_truthy(p[2])) == 0;
        jv r = jv_list_n(d->n);
        for (size_t i = 0; i < d->n; i++) {
            jv_decref(arr[i].key);
            jl_push(JL(r), arr[i].val);
        }
        free(arr);
        if (!ok) { jv_decref(r); return false; }
        *out = r;
        return true;
    }
    case F_E: case F_ESCAPE: case F_FORCEESCAPE: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        if (id != F_FORCEESCAPE && v.type == JINJA_STRING && (v.flags & JVF_MARKUP)) { *out = v; jv_incref(v); return true; }
        jv s = str_of(v);
        sb_t b;
        jsb_init(&b, C->max_output);
        for (size_t i = 0; i < JS(s)->len; i++) {
            char c = JS(s)->s[i];
            switch (c) {
            case '&': jsb_puts(&b, "&amp;"); break;
            case '<': jsb_puts(&b, "&lt;"); break;
            case '>': jsb_puts(&b, "&gt;"); break;
            case '"': jsb_puts(&b, "&#34;"); break;
            case '\'': jsb_puts(&b, "&#39;"); break;
            default: jsb_putc(&b, c);
            }
        }
        jv_decref(s);
        if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
        *out = jv_str_take(&b);
        out->flags = JVF_MARKUP;
        return true;
    }
    case F_FIRST: case F_LAST: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        if (v.type == JINJA_LIST && jl_is_iterator(JL(v))) {
            jlist *l = JL(v);
            if (id == F_LAST) return jfail(C, "'%s' object is not reversible", py_type_name(v));
            if (l->err.type == JINJA_STRING) return jfail(C, "%s", JS(l->err)->s);
            if (l->pos >= l->n) *out = jv_undef_msg("No first item, sequence was empty.");
            else { *out = l->v[l->pos++]; jv_incref(*out); } /* next() consumes one item */
            return true;
        }
        jv items;
        if (!jiterate(C, v, &items)) return false;
        size_t n = JL(items)->n;
        if (!n) *out = jv_undef_msg(id == F_FIRST ? "No first item, sequence was empty." : "No last item, sequence was empty.");
        else { *out = JL(items)->v[id == F_FIRST ? 0 : n - 1]; jv_incref(*out); }
        jv_decref(items);
        return true;
    }
    case F_FLOAT: {
        static const char *const ps[] = {"default"};
        if (!jbind(C, name, a, ps, 1, p)) return false;
        if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v); /* float(Undefined) raises */
        double f;
        if (v.type == JINJA_FLOAT) f = v.u.f;
        else if (v.type == JINJA_INT) f = (double)v.u.i;
        else if (v.type == JINJA_BOOL) f = v.u.b;
        else if (v.type == JINJA_STRING && parse_py_float(JS(v)->s, JS(v)->len, &f)) {}
        else {
            if (missing(p[0])) *out = jinja_float(0.0);
            else { *out = p[0]; jv_incref(*out); }
            return true;
        }
        *out = jinja_float(f);
        return true;
    }
    case F_FORMAT: { /* soft_str(value) % (kwargs or args) */
        jv s = str_of(v), values;
        if (a->nkw) {
            values = jinja_dict();
            for (int k = 0; k < a->nkw; k++) { jv_incref(a->kwv[k]); jd_set(JD(values), jinja_cstring(a->kwn[k]), a->kwv[k]); }
        } else {
            values = jv_list_n((size_t)a->npos);
            JL(values)->tuple = true;
            for (int k = 0; k < a->npos; k++) { jv_incref(a->pos[k]); jl_push(JL(values), a->pos[k]); }
        }
        bool ok = jinja_percent(C, s, values, out);
        jv_decref(values);
        jv_decref(s);
        return ok;
    }
    case F_INDENT: {
        static const char *const ps[] = {"width", "first", "blank"};
        if (!jbind(C, name, a, ps, 3, p)) return false;
        if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
        if (v.type != JINJA_STRING) /* jinja2 does `s += "\n"` */
            return jfail(C, "unsupported operand type(s) for +=: '%s' and 'str'", py_type_name(v));
        jv s = str_of(v);
        sb_t ind;
        jsb_init(&ind, 0);
        if (!missing(p[0]) && p[0].type == JINJA_STRING) jsb_put(&ind, JS(p[0])->s, JS(p[0])->len);
        else {
            int64_t w = 4;
            if (!missing(p[0]) && !need_int(C, p[0], "width", &w)) { jv_decref(s); jsb_free(&ind); return false; }
            for (int64_t i = 0; i < w && i < 4096; i++) jsb_putc(&ind, ' ');
        }
        bool first = !missing(p[1]) && py_truthy(p[1]), blank = !missing(p[2]) && py_truthy(p[2]);
        sb_t tmp;
        jsb_init(&tmp, 0);
        jsb_put(&tmp, JS(s)->s, JS(s)->len);
        jsb_putc(&tmp, '\n');
        jv withnl = jv_str_take(&tmp);
        jv lines = str_splitlines(withnl, false);
        jv_decref(withnl);
        sb_t b;
        jsb_init(&b, C->max_output);
        if (first) jsb_put(&b, ind.p ? ind.p : "", ind.n);
        for (size_t i = 0; i < JL(lines)->n; i++) {
            jv line = JL(lines)->v[i];
            if (i) {
                jsb_putc(&b, '\n');
                if (blank || JS(line)->len) jsb_put(&b, ind.p ? ind.p : "", ind.n);
            }
            jsb_put(&b, JS(line)->s, JS(line)->len);
        }
        jv_decref(lines);
        jsb_free(&ind);
        jv_decref(s);
        if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
        *out = jv_str_take(&b);
        return true;
    }
    case F_INT: {
        static const char *const ps[] = {"default", "base"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        int64_t base = 10, r;
        if (!missing(p[1]) && !need_int(C, p[1], "base", &base)) return false;
        if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v); /* int(Undefined) raises */
        if (v.type == JINJA_INT || v.type == JINJA_BOOL) { *out = jinja_int(v.type == JINJA_INT ? v.u.i : v.u.b); return true; }
        double f;
        if (v.type == JINJA_FLOAT || (v.type == JINJA_STRING && !parse_py_int(JS(v)->s, JS(v)->len, (int)base, &r) &&
                                      parse_py_float(JS(v)->s, JS(v)->len, &f))) {
            if (v.type == JINJA_FLOAT) f = v.u.f;
            if (isnan(f)) {
                if (v.type == JINJA_FLOAT) return jfail(C, "cannot convert float NaN to integer");
            } else if (isinf(f) || fabs(f) >= 9.2e18) return jfail(C, "cannot convert float infinity to integer");
            else { *out = jinja_int((int64_t)f); return true; }
        } else if (v.type == JINJA_STRING && parse_py_int(JS(v)->s, JS(v)->len, (int)base, &r)) {
            *out = jinja_int(r);
            return true;
        }
        if (missing(p[0])) *out = jinja_int(0);
        else { *out = p[0]; jv_incref(*out); }
        return true;
    }
    case F_ITEMS: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        if (v.type == JINJA_UNDEFINED) { *out = empty_generator(); return true; }
        if (v.type != JINJA_DICT) return as_generator(C, jfail(C, "Can only get item pairs from a mapping."), out);
        jdict *d = JD(v);
        jv l = jv_list_n(d->n);
        for (size_t k = 0; k < d->n; k++) {
            jv_incref(d->k[k]);
            jv_incref(d->v[k]);
            jl_push(JL(l), jv_tuple2(d->k[k], d->v[k]));
        }
        *out = l;
        return as_generator(C, true, out);
    }
    case F_JOIN: {
        static const char *const ps[] = {"d", "attribute"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        jv items;
        if (!jiterate(C, v, &items)) return false;
        jv sep = missing(p[0]) ? jv_strn("", 0) : str_of(p[0]);
        sb_t b;
        jsb_init(&b, C->max_output);
        bool ok = true;
        for (size_t i = 0; i < JL(items)->n && ok; i++) {
            if (i) jsb_put(&b, JS(sep)->s, JS(sep)->len);
            jv x = JL(items)->v[i];
            if (!missing(p[1]) && p[1].type != JINJA_NONE) {
                jv y;
                if (!attr_get(C, x, p[1], jv_undef(), &y)) { ok = false; break; }
                py_str(y, &b);
                jv_decref(y);
            } else py_str(x, &b);
            if (b.over) ok = jcheck_str(C, &b);
        }
        jv_decref(sep);
        jv_decref(items);
        if (!ok) { jsb_free(&b); return false; }
        *out = jv_str_take(&b);
        return true;
    }
    case F_LIST:
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        if (!jiterate(C, v, out)) return false;
        if (out->u.obj == v.u.obj) { /* a fresh list, never the same object */
            jv c = jv_list_n(JL(v)->n);
            for (size_t k = 0; k < JL(v)->n; k++) { jv_incref(JL(v)->v[k]); jl_push(JL(c), JL(v)->v[k]); }
            jv_decref(*out);
            *out = c;
        }
        return true;
    case F_MAP: {
        if (!py_truthy(v)) { *out = empty_generator(); return true; }
        jv items;
        if (!jiterate(C, v, &items)) return as_generator(C, false, out);
        jv r = jv_list_n(JL(items)->n);
        bool ok = true;
        if (a->npos == 0) {
            jv attribute = {.type = JV_MISSING}, dflt = {.type = JV_MISSING};
            for (int k = 0; k < a->nkw; k++) {
                if (!strcmp(a->kwn[k], "attribute")) attribute = a->kwv[k];
                else if (!strcmp(a->kwn[k], "default")) dflt = a->kwv[k];
                else if (!missing(attribute) || strcmp(a->kwn[k], "attribute")) { ok = jfail(C, "Unexpected keyword argument '%s'", a->kwn[k]); break; }
            }
            if (ok && missing(attribute)) ok = jfail(C, "map requires a filter argument");
            for (size_t i = 0; ok && i < JL(items)->n; i++) {
                jv y;
                if (!(ok = attr_get(C, JL(items)->v[i], attribute, dflt, &y))) break;
                jl_push(JL(r), y);
            }
        } else {
            jargs rest = {a->pos + 1, a->npos - 1, a->kwn, a->kwv, a->nkw};
            for (size_t i = 0; ok && i < JL(items)->n; i++) {
                jv y;
                if (!(ok = call_filter_by_name(C, a->pos[0], JL(items)->v[i], &rest, &y))) break;
                jl_push(JL(r), y);
            }
        }
        jv_decref(items);
        if (!ok) { jv_decref(r); return as_generator(C, false, out); }
        *out = r;
        return as_generator(C, true, out);
    }
    case F_MAX: case F_MIN:
        return filter_minmax(C, v, a, id == F_MAX, out);
    case F_REJECT: return select_filter(C, v, a, false, false, out);
    case F_SELECT: return select_filter(C, v, a, false, true, out);
    case F_REJECTATTR: return select_filter(C, v, a, true, false, out);
    case F_SELECTATTR: return select_filter(C, v, a, true, true, out);
    case F_REPLACE: {
        static const char *const ps[] = {"old", "new", "count"};
        if (!jbind(C, name, a, ps, 3, p)) return false;
        if (missing(p[0]) || missing(p[1])) return jfail(C, "replace() missing required arguments 'old' and 'new'");
        int64_t count = -1;
        if (!missing(p[2]) && p[2].type != JINJA_NONE && !need_int(C, p[2], "count", &count)) return false;
        jv s = str_of(v), o = str_of(p[0]), nw = str_of(p[1]);
        bool ok = str_replace(C, s, o, nw, count, out);
        jv_decref(s);
        jv_decref(o);
        jv_decref(nw);
        return ok;
    }
    case F_REVERSE: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        if (v.type == JINJA_STRING) {
            const char *q = JS(v)->s;
            size_t n = JS(v)->len, i = n;
            sb_t b;
            jsb_init(&b, 0);
            while (i > 0) {
                size_t st = i - 1;
                while (st > 0 && ((unsigned char)q[st] & 0xc0) == 0x80) st--;
                jsb_put(&b, q + st, i - st);
                i = st;
            }
            *out = jv_str_take(&b);
            return true;
        }
        /* reversed(value) when it can (an iterator), else list(value) reversed (a list: generators) */
        bool iterator_in = v.type == JINJA_LIST && jl_is_iterator(JL(v));
        jv items;
        if (!jiterate(C, v, &items)) return false;
        jv r = jv_list_n(JL(items)->n);
        for (size_t k = JL(items)->n; k > 0; k--) { jv_incref(JL(items)->v[k - 1]); jl_push(JL(r), JL(items)->v[k - 1]); }
        jv_decref(items);
        if (!iterator_in) JL(r)->kind = JK_REVERSED;
        *out = r;
        return true;
    }
    case F_ROUND: {
        static const char *const ps[] = {"precision", "method"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        int64_t prec = 0;
        if (!missing(p[0]) && !need_int(C, p[0], "precision", &prec)) return false;
        const char *method = "common";
        if (!missing(p[1])) {
            if (p[1].type != JINJA_STRING) return jfail(C, "method must be common, ceil or floor");
            method = JS(p[1])->s;
        }
        if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
            return jfail(C, "method must be common, ceil or floor");
        if (v.type == JINJA_UNDEFINED) return jfail_undef(C, v);
        if (!jv_is_num(v)) return jfail(C, "type %s doesn't define __round__ method", py_type_name(v));
        if (!strcmp(method, "common")) {
            if (v.type != JINJA_FLOAT) {
                int64_t x = v.type == JINJA_INT ? v.u.i : v.u.b;
                if (prec >= 0) { *out = jinja_int(x); return true; }
                *out = jinja_int((int64_t)py_round((double)x, prec));
                return true;
            }
            *out = jinja_float(py_round(v.u.f, prec));
            return true;
        }
        double x = v.type == JINJA_FLOAT ? v.u.f : (double)(v.type == JINJA_INT ? v.u.i : v.u.b);
        double m = pow(10.0, (double)prec);
        *out = jinja_float((method[0] == 'c' ? ceil(x * m) : floor(x * m)) / m);
        return true;
    }
    case F_SAFE: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        *out = str_of(v);
        out->flags = JVF_MARKUP;
        return true;
    }
    case F_SORT: {
        static const char *const ps[] = {"reverse", "case_sensitive", "attribute"};
        if (!jbind(C, name, a, ps, 3, p)) return false;
        jv items;
        if (!jiterate(C, v, &items)) return false;
        bool ok = do_sort(C, items, !missing(p[0]) && py_truthy(p[0]), !missing(p[1]) && py_truthy(p[1]), p[2], out);
        jv_decref(items);
        return ok;
    }
    case F_STRING:
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        *out = str_of(v);
        return true;
    case F_SUM: {
        static const char *const ps[] = {"attribute", "start"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        jv items;
        if (!jiterate(C, v, &items)) return false;
        jv acc = missing(p[1]) ? jinja_int(0) : p[1];
        jv_incref(acc);
        bool ok = true;
        for (size_t i = 0; ok && i < JL(items)->n; i++) {
            jv x = JL(items)->v[i];
            if (!missing(p[0]) && p[0].type != JINJA_NONE) { if (!(ok = attr_get(C, x, p[0], jv_undef(), &x))) break; }
            else jv_incref(x);
            if (jv_is_num(acc) && jv_is_num(x)) {
                bool fl = acc.type == JINJA_FLOAT || x.type == JINJA_FLOAT;
                if (fl) acc = jinja_float((acc.type == JINJA_FLOAT ? acc.u.f : (double)(acc.type == JINJA_INT ? acc.u.i : acc.u.b)) +
                                          (x.type == JINJA_FLOAT ? x.u.f : (double)(x.type == JINJA_INT ? x.u.i : x.u.b)));
                else {
                    int64_t r;
                    if (__builtin_add_overflow(acc.type == JINJA_INT ? acc.u.i : acc.u.b, x.type == JINJA_INT ? x.u.i : x.u.b, &r))
                        ok = jfail(C, "integer overflow");
                    acc = jinja_int(r);
                }
            } else ok = jfail(C, "unsupported operand type(s) for +: '%s' and '%s'", py_type_name(acc), py_type_name(x));
            jv_decref(x);
        }
        jv_decref(items);
        if (!ok) { jv_decref(acc); return false; }
        *out = acc;
        return true;
    }
    case F_TOJSON: {
        static const char *const ps[] = {"ensure_ascii", "indent", "separators", "sort_keys"};
        if (!jbind(C, name, a, ps, 4, p)) return false;
        bool ensure_ascii = !missing(p[0]) && py_truthy(p[0]), sort_keys = !missing(p[3]) && py_truthy(p[3]);
        sb_t ind;
        jsb_init(&ind, 0);
        const char *indent = NULL;
        if (!missing(p[1]) && p[1].type != JINJA_NONE) {
            if (p[1].type == JINJA_STRING) jsb_put(&ind, JS(p[1])->s, JS(p[1])->len);
            else {
                int64_t w;
                if (!need_int(C, p[1], "indent", &w)) return false;
                for (int64_t i = 0; i < w && i < 1024; i++) jsb_putc(&ind, ' ');
            }
            jsb_putc(&ind, 0); /* make p non-NULL even for "" */
            indent = ind.p;
        }
        const char *item_sep = NULL, *key_sep = NULL;
        if (!missing(p[2]) && p[2].type != JINJA_NONE) {
            jv s = p[2];
            if (s.type != JINJA_LIST || JL(s)->n != 2 || JL(s)->v[0].type != JINJA_STRING || JL(s)->v[1].type != JINJA_STRING) {
                jsb_free(&ind);
                return jfail(C, "separators must be a pair of strings");
            }
            item_sep = JS(JL(s)->v[0])->s;
            key_sep = JS(JL(s)->v[1])->s;
        }
        sb_t b, err;
        jsb_init(&b, C->max_output);
        jsb_init(&err, 0);
        int rc = py_json(v, &b, indent, item_sep, key_sep, sort_keys, ensure_ascii, &err);
        jsb_free(&ind);
        if (rc) {
            if (v.type == JINJA_UNDEFINED) jfail(C, "Object of type Undefined is not JSON serializable");
            else jfail(C, "%s", err.p ? err.p : "not JSON serializable");
            jsb_free(&err);
            jsb_free(&b);
            return false;
        }
        jsb_free(&err);
        if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
        *out = jv_str_take(&b);
        return true;
    }
    case F_TRIM: {
        static const char *const ps[] = {"chars"};
        if (!jbind(C, name, a, ps, 1, p)) return false;
        jv s = str_of(v);
        const char *chars = NULL;
        size_t nc = 0;
        if (!missing(p[0]) && p[0].type != JINJA_NONE) {
            if (!need_str(C, p[0], "strip arg")) { jv_decref(s); return false; }
            chars = JS(p[0])->s;
            nc = JS(p[0])->len;
        }
        size_t lo, hi;
        strip_range(JS(s)->s, JS(s)->len, chars, nc, 3, &lo, &hi);
        *out = jv_strn(JS(s)->s + lo, hi - lo);
        out->flags = s.flags;
        jv_decref(s);
        return true;
    }
    case F_UNIQUE: {
        static const char *const ps[] = {"case_sensitive", "attribute"};
        if (!jbind(C, name, a, ps, 2, p)) return false;
        jv items;
        if (!jiterate(C, v, &items)) return as_generator(C, false, out);
        bool cs = !missing(p[0]) && py_truthy(p[0]);
        jv seen = jv_list_n(0), r = jv_list_n(0);
        bool ok = true;
        for (size_t i = 0; ok && i < JL(items)->n; i++) {
            jv x = JL(items)->v[i], raw;
            if (!missing(p[1]) && p[1].type != JINJA_NONE) { if (!(ok = attr_get(C, x, p[1], jv_undef(), &raw))) break; }
            else { raw = x; jv_incref(raw); }
            jv k = sort_key(raw, cs);
            jv_decref(raw);
            bool dup = false;
            for (size_t j = 0; j < JL(seen)->n && !dup; j++) dup = py_eq(JL(seen)->v[j], k);
            if (dup) { jv_decref(k); continue; }
            jl_push(JL(seen), k);
            jv_incref(x);
            jl_push(JL(r), x);
        }
        jv_decref(seen);
        jv_decref(items);
        if (!ok) { jv_decref(r); return as_generator(C, false, out); }
        *out = r;
        return as_generator(C, true, out);
    }
    case F_WORDCOUNT: {
        if (!jbind(C, name, a, NULL, 0, p)) return false;
        jv s = str_of(v);
        const char *q = JS(s)->s;
        size_t n = JS(s)->len, i = 0;
        int64_t cnt = 0;
        bool in = false;
        while (i < n) {
            uint32_t c = utf8_next(q, n, &i);
            bool w = py_isalpha(c) || py_isdigit(c) || c == '_';
            if (w && !in) cnt++;
            in = w;
        }
        jv_decref(s);
        *out = jinja_int(cnt);
        return true;
    }
    }
    return jfail(C, "unsupported filter '%s'", name);
}

/* ---------------------------------------------------------------- globals */

/* dict(...) / namespace(...) arguments: one mapping or iterable of pairs, then keywords. */
static bool fill_dict(jctx *C, jdict *d, const jargs *a, const char *fname) {
    if (a->npos > 1) return jfail(C, "%s expected at most 1 argument, got %d", fname, a->npos);
    if (a->npos == 1) {
        jv src = a->pos[0];
        if (src.type == JINJA_DICT || src.type == JINJA_NAMESPACE) {
            for (size_t i = 0; i < JD(src)->n; i++) {
                jv_incref(JD(src)->k[i]);
                jv_incref(JD(src)->v[i]);
                jd_set(d, JD(src)->k[i], JD(src)->v[i]);
            }
        } else {
            jv items;
            if (!jiterate(C, src, &items)) return false;
            for (size_t i = 0; i < JL(items)->n; i++) {
                jv pair = JL(items)->v[i];
                if (pair.type != JINJA_LIST || JL(pair)->n != 2) {
                    jv_decref(items);
                    return jfail(C, "dictionary update sequence element #%zu has the wrong length", i);
                }
                jv_incref(JL(pair)->v[0]);
                jv_incref(JL(pair)->v[1]);
                jd_set(d, JL(pair)->v[0], JL(pair)->v[1]);
            }
            jv_decref(items);
        }
    }
    for (int k = 0; k < a->nkw; k++) {
        jv_incref(a->kwv[k]);
        jd_set(d, jinja_cstring(a->kwn[k]), a->kwv[k]);
    }
    return true;
}

/* datetime.strftime on a naive local time: %f is microseconds (always 0 here), %z and %Z are empty. */
static bool do_strftime(jctx *C, jv fmt, jv *out) {
    if (!need_str(C, fmt, "strftime() argument 1")) return false;
    sb_t f;
    jsb_init(&f, 0);
    const char *s = JS(fmt)->s;
    size_t n = JS(fmt)->len;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 1 < n) {
            char c = s[i + 1];
            if (c == 'f') { jsb_puts(&f, "000000"); i++; continue; }
            if (c == 'z' || c == 'Z') { i++; continue; }
            jsb_putc(&f, '%');
            jsb_putc(&f, c);
            i++;
            continue;
        }
        jsb_putc(&f, s[i]);
    }
    time_t t = (time_t)C->now;
    struct tm tm;
    localtime_r(&t, &tm);
    size_t cap = f.n * 8 + 64;
    char *buf = malloc(cap);
    if (!buf) abort();
    size_t len = f.n ? strftime(buf, cap, f.p, &tm) : 0;
    *out = jv_strn(buf, len);
    free(buf);
    jsb_free(&f);
    return true;
}

bool jinja_global(jctx *C, int id, const jargs *a, jv *out) {
    switch (id) {
    case G_RANGE: {
        if (a->nkw) return jfail(C, "range() takes no keyword arguments");
        if (a->npos < 1 || a->npos > 3) return jfail(C, "range expected at least 1 argument, got %d", a->npos);
        int64_t v[3] = {0, 0, 1};
        for (int i = 0; i < a->npos; i++) {
            jv x = a->pos[i];
            if (x.type != JINJA_INT && x.type != JINJA_BOOL) {
                if (x.type == JINJA_UNDEFINED) return jfail_undef(C, x);
                return jfail(C, "'%s' object cannot be interpreted as an integer", py_type_name(x));
            }
            v[a->npos == 1 ? 1 : i] = x.type == JINJA_INT ? x.u.i : x.u.b;
        }
        if (v[2] == 0) return jfail(C, "range() arg 3 must not be zero");
        double count = v[2] > 0 ? ceil(((double)v[1] - (double)v[0]) / (double)v[2]) : ceil(((double)v[0] - (double)v[1]) / (double)-v[2]);
        if (count > 100000)
            return jfail(C, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        jv l = jv_list_n(count > 0 ? (size_t)count : 0);
        for (int64_t x = v[0]; v[2] > 0 ? x < v[1] : x > v[1]; x += v[2]) jl_push(JL(l), jinja_int(x));
        JL(l)->kind = JK_RANGE;
        memcpy(JL(l)->range, v, sizeof v);
        *out = l;
        return true;
    }
    case G_NAMESPACE: {
        jv ns = jnamespace_new(C);
        if (!fill_dict(C, JD(ns), a, "Namespace")) { jv_decref(ns); return false; }
        *out = ns;
        return true;
    }
    case G_DICT: {
        jv d = jinja_dict();
        if (!fill_dict(C, JD(d), a, "dict")) { jv_decref(d); return false; }
        *out = d;
        return true;
    }
    case G_RAISE: {
        jv p[1];
        static const char *const ps[] = {"message"};
        if (!jbind(C, "raise_exception", a, ps, 1, p)) return false;
        if (missing(p[0])) return jfail(C, "raise_exception() missing 1 required positional argument: 'message'");
        jv s = str_of(p[0]);
        jfail(C, "%.*s", (int)JS(s)->len, JS(s)->s);
        jv_decref(s);
        return false;
    }
    case G_STRFTIME: {
        jv p[1];
        static const char *const ps[] = {"format"};
        if (!jbind(C, "strftime_now", a, ps, 1, p)) return false;
        if (missing(p[0])) return jfail(C, "strftime_now() missing 1 required positional argument: 'format'");
        return do_strftime(C, p[0], out);
    }
    default:
        return jfail(C, "unsupported global '%s'", GLOBALS[id]);
    }
}
