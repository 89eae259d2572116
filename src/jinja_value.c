/* jinja_value.c — values of the Jinja engine and the Python semantics they follow: reference counting,
 * ordered dicts, str()/repr() (floats as the shortest round-trip repr), ==, ordering, hashing, json.dumps,
 * and UTF-8 helpers that let strings behave as Python sequences of code points. Also the string builder
 * and the arena used for templates. Allocation failure aborts: every size here is bounded by the render
 * limits, so running out of memory is not something a template can cause. */
#include "jinja_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { fputs("jinja: out of memory\n", stderr); abort(); }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) { fputs("jinja: out of memory\n", stderr); abort(); }
    return p;
}

/* ------------------------------------------------------------------ arena */

struct jarena_block {
    struct jarena_block *next;
    size_t used, cap;
    max_align_t data[];
};

void *arena_alloc(jarena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    struct jarena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = xmalloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(jarena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void arena_own(jarena *a, void *p) {
    if (a->nowned == a->capowned) {
        a->capowned = a->capowned ? a->capowned * 2 : 64;
        a->owned = xrealloc(a->owned, a->capowned * sizeof(void *));
    }
    a->owned[a->nowned++] = p;
}

void arena_free(jarena *a) {
    for (size_t i = 0; i < a->nowned; i++) free(a->owned[i]);
    free(a->owned);
    a->owned = NULL;
    a->nowned = a->capowned = 0;
    struct jarena_block *b = a->head;
    while (b) {
        struct jarena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---------------------------------------------------------- string builder */

void jsb_init(sb_t *b, size_t limit) {
    memset(b, 0, sizeof *b);
    b->limit = limit ? limit : (size_t)1 << 40;
}

static bool sb_grow(sb_t *b, size_t extra) {
    if (b->over) return false;
    if (extra > b->limit || b->n > b->limit - extra) { b->over = true; return false; }
    if (b->n + extra + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + extra + 1) cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return true;
}

void jsb_put(sb_t *b, const char *s, size_t n) {
    if (!n || !sb_grow(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void jsb_puts(sb_t *b, const char *s) { jsb_put(b, s, strlen(s)); }

void jsb_putc(sb_t *b, char c) { jsb_put(b, &c, 1); }

void jsb_printf(sb_t *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { jsb_put(b, tmp, (size_t)n); return; }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    jsb_put(b, big, (size_t)n);
    free(big);
}

void jsb_free(sb_t *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

char *jsb_take(sb_t *b, size_t *len) {
    char *p = b->p ? b->p : xmalloc(1);
    if (!b->p) p[0] = 0;
    if (len) *len = b->n;
    b->p = NULL;
    b->n = b->cap = 0;
    b->over = false;
    return p;
}

/* ------------------------------------------------------------------ values */

static jstr *jstr_alloc(size_t n) {
    jstr *s = xmalloc(sizeof *s + n + 1);
    s->rc = 1;
    s->len = n;
    s->s[n] = 0;
    return s;
}

jv jv_strn(const char *s, size_t n) {
    jstr *js = jstr_alloc(n);
    if (n) memcpy(js->s, s, n);
    jv v = {.type = JINJA_STRING};
    v.u.obj = js;
    return v;
}

jv jv_str_take(sb_t *b) {
    jv v = jv_strn(b->p ? b->p : "", b->n);
    jsb_free(b);
    return v;
}

jv jv_undef_msg(const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
    jv v = jv_strn(tmp, (size_t)n);
    v.type = JINJA_UNDEFINED;
    return v;
}

jv jv_list_n(size_t cap) {
    jlist *l = xmalloc(sizeof *l);
    l->rc = 1;
    l->tuple = false;
    l->kind = JK_PLAIN;
    l->depth = 1;
    l->n = 0;
    l->pos = 0;
    l->err = jv_undef();
    l->cap = cap;
    l->v = cap ? xmalloc(cap * sizeof(jv)) : NULL;
    jv v = {.type = JINJA_LIST};
    v.u.obj = l;
    return v;
}

jv jv_tuple2(jv a, jv b) {
    jv t = jv_list_n(2);
    JL(t)->tuple = true;
    jl_push(JL(t), a);
    jl_push(JL(t), b);
    return t;
}

jv jv_func_new(jfunc_kind kind, int id, jv self, const char *name) {
    jfunc *f = xmalloc(sizeof *f);
    memset(f, 0, sizeof *f);
    f->rc = 1;
    f->kind = kind;
    f->id = id;
    f->self = self;
    f->name = name;
    jv v = {.type = JINJA_CALLABLE};
    v.u.obj = f;
    return v;
}

static bool has_obj(jv v) {
    switch (v.type) {
    case JINJA_UNDEFINED:
    case JINJA_STRING:
    case JINJA_LIST:
    case JINJA_DICT:
    case JINJA_NAMESPACE:
    case JINJA_CALLABLE:
    case JINJA_LOOP:
        return v.u.obj != NULL;
    default:
        return false;
    }
}

void jv_incref(jv v) {
    if (!has_obj(v)) return;
    jobj *o = v.u.obj;
    if (o->rc >= 0) o->rc++;
}

static void jd_free(jdict *d) {
    for (size_t i = 0; i < d->n; i++) {
        jv_decref(d->k[i]);
        jv_decref(d->v[i]);
    }
    free(d->k);
    free(d->v);
    free(d->idx);
    free(d);
}

void jv_decref(jv v) {
    if (!has_obj(v)) return;
    jobj *o = v.u.obj;
    if (o->rc < 0 || --o->rc > 0) return;
    switch (v.type) {
    case JINJA_LIST: {
        jlist *l = JL(v);
        for (size_t i = 0; i < l->n; i++) jv_decref(l->v[i]);
        jv_decref(l->err);
        free(l->v);
        free(l);
        break;
    }
    case JINJA_DICT:
    case JINJA_NAMESPACE:
        jd_free(JD(v));
        break;
    case JINJA_CALLABLE:
        jv_decref(JF(v)->self);
        free(v.u.obj);
        break;
    case JINJA_LOOP:
        jv_decref(JLOOP(v)->items);
        jv_decref(JLOOP(v)->last_changed);
        free(v.u.obj);
        break;
    default:
        free(v.u.obj);
    }
}

void jv_make_immortal(jv v) {
    if (!has_obj(v)) return;
    ((jobj *)v.u.obj)->rc = -1;
    if (v.type == JINJA_LIST)
        for (size_t i = 0; i < JL(v)->n; i++) jv_make_immortal(JL(v)->v[i]);
    if (v.type == JINJA_DICT)
        for (size_t i = 0; i < JD(v)->n; i++) { jv_make_immortal(JD(v)->k[i]); jv_make_immortal(JD(v)->v[i]); }
}

uint32_t jv_depth(jv v) {
    switch (v.type) {
    case JINJA_LIST: return JL(v)->depth;
    case JINJA_DICT: return JD(v)->depth;
    case JINJA_CALLABLE: return jv_depth(JF(v)->self) + 1;
    case JINJA_LOOP: return jv_depth(JLOOP(v)->items) + 1;
    default: return 0;
    }
}

void jl_push(jlist *l, jv v) {
    uint32_t d = jv_depth(v) + 1;
    if (d > l->depth) l->depth = d;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = xrealloc(l->v, l->cap * sizeof(jv));
    }
    l->v[l->n++] = v;
}

/* ---- dict: entries in insertion order; a hash index once it grows past a handful of keys */

static void jd_index_insert(jdict *d, size_t entry) {
    size_t mask = d->idx_cap - 1, h = (size_t)py_hash(d->k[entry]) & mask;
    while (d->idx[h]) h = (h + 1) & mask;
    d->idx[h] = (uint32_t)(entry + 1);
}

static void jd_reindex(jdict *d) {
    free(d->idx);
    d->idx_cap = 16;
    while (d->idx_cap < d->n * 2 + 2) d->idx_cap *= 2;
    d->idx = xmalloc(d->idx_cap * sizeof(uint32_t));
    memset(d->idx, 0, d->idx_cap * sizeof(uint32_t));
    for (size_t i = 0; i < d->n; i++) jd_index_insert(d, i);
}

jv *jd_get(const jdict *d, jv key) {
    if (!d->idx) {
        for (size_t i = 0; i < d->n; i++)
            if (py_eq(d->k[i], key)) return &d->v[i];
        return NULL;
    }
    size_t mask = d->idx_cap - 1, h = (size_t)py_hash(key) & mask;
    while (d->idx[h]) {
        size_t e = d->idx[h] - 1;
        if (py_eq(d->k[e], key)) return &d->v[e];
        h = (h + 1) & mask;
    }
    return NULL;
}

jv *jd_get_str(const jdict *d, const char *key, size_t n) {
    if (!d->idx) {
        for (size_t i = 0; i < d->n; i++) {
            jv k = d->k[i];
            if (k.type == JINJA_STRING && JS(k)->len == n && memcmp(JS(k)->s, key, n) == 0) return &d->v[i];
        }
        return NULL;
    }
    jstr *tmp = jstr_alloc(n);
    memcpy(tmp->s, key, n);
    jv k = {.type = JINJA_STRING};
    k.u.obj = tmp;
    jv *r = jd_get(d, k);
    free(tmp);
    return r;
}

void jd_set(jdict *d, jv key, jv val) {
    uint32_t depth = jv_depth(val) + 1;
    if (depth > d->depth) d->depth = depth;
    jv *slot = jd_get(d, key);
    if (slot) {
        jv_decref(key);
        jv_decref(*slot);
        *slot = val;
        return;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 4;
        d->k = xrealloc(d->k, d->cap * sizeof(jv));
        d->v = xrealloc(d->v, d->cap * sizeof(jv));
    }
    d->k[d->n] = key;
    d->v[d->n] = val;
    d->n++;
    if (d->idx && d->idx_cap >= d->n * 2 + 2) jd_index_insert(d, d->n - 1);
    else if (d->n > 8) jd_reindex(d);
}

/* ---------------------------------------------------------------- public */

jinja_value jinja_none(void) { jv v = {.type = JINJA_NONE}; return v; }
jinja_value jinja_bool(bool b) { jv v = {.type = JINJA_BOOL}; v.u.b = b; return v; }
jinja_value jinja_int(int64_t i) { jv v = {.type = JINJA_INT}; v.u.i = i; return v; }
jinja_value jinja_float(double f) { jv v = {.type = JINJA_FLOAT}; v.u.f = f; return v; }
jinja_value jinja_string(const char *s, size_t n) { return jv_strn(s, n); }
jinja_value jinja_cstring(const char *s) { return jv_strn(s, strlen(s)); }
jinja_value jinja_list(void) { return jv_list_n(0); }

jinja_value jinja_dict(void) {
    jdict *d = xmalloc(sizeof *d);
    memset(d, 0, sizeof *d);
    d->rc = 1;
    d->depth = 1;
    jv v = {.type = JINJA_DICT};
    v.u.obj = d;
    return v;
}

void jinja_list_append(jinja_value list, jinja_value item) {
    if (list.type != JINJA_LIST) { jv_decref(item); return; }
    jl_push(JL(list), item);
}

void jinja_dict_set(jinja_value dict, const char *key, jinja_value value) {
    if (dict.type != JINJA_DICT) { jv_decref(value); return; }
    jd_set(JD(dict), jinja_cstring(key), value);
}

jinja_value jinja_ref(jinja_value v) { jv_incref(v); return v; }
void jinja_unref(jinja_value v) { jv_decref(v); }

/* ---------------------------------------------------------------- UTF-8 */

uint32_t utf8_next(const char *s, size_t n, size_t *i) {
    const unsigned char *p = (const unsigned char *)s;
    size_t k = *i;
    uint32_t c = p[k];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len <= 1 || k + (size_t)len > n) { *i = k + 1; return c; }
    uint32_t cp = c & (0x7f >> len);
    for (int j = 1; j < len; j++) {
        if ((p[k + j] & 0xc0) != 0x80) { *i = k + 1; return c; }
        cp = (cp << 6) | (p[k + j] & 0x3f);
    }
    *i = k + (size_t)len;
    return cp;
}

size_t utf8_len(const char *s, size_t n) {
    size_t i = 0, c = 0;
    while (i < n) { utf8_next(s, n, &i); c++; }
    return c;
}

size_t utf8_offset(const char *s, size_t n, size_t cp) {
    size_t i = 0;
    while (cp > 0 && i < n) { utf8_next(s, n, &i); cp--; }
    return i;
}

void utf8_put(sb_t *b, uint32_t cp) {
    char t[4];
    if (cp < 0x80) { t[0] = (char)cp; jsb_put(b, t, 1); }
    else if (cp < 0x800) { t[0] = (char)(0xc0 | (cp >> 6)); t[1] = (char)(0x80 | (cp & 0x3f)); jsb_put(b, t, 2); }
    else if (cp < 0x10000) {
        t[0] = (char)(0xe0 | (cp >> 12)); t[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); t[2] = (char)(0x80 | (cp & 0x3f));
        jsb_put(b, t, 3);
    } else {
        t[0] = (char)(0xf0 | (cp >> 18)); t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); t[3] = (char)(0x80 | (cp & 0x3f));
        jsb_put(b, t, 4);
    }
}

/* str.isspace(): what Python's str.strip()/split() and the `\s` of the jinja lexer treat as whitespace. */
bool py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

/* Case mapping: ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (one-to-one mappings only). */
uint32_t py_lower(uint32_t c) {
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if ((c >= 0xc0 && c <= 0xde && c != 0xd7)) return c + 32;
    if (c >= 0x100 && c <= 0x17f) {
        if (c == 0x130) return 'i';
        if (c == 0x178) return 0xff;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return (c & 1) ? c + 1 : c;
        if (c == 0x138 || c == 0x149 || c == 0x17f) return c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3ab && c != 0x3a2) return c + 32;
    if (c == 0x386) return 0x3ac;
    if (c >= 0x388 && c <= 0x38a) return c + 37;
    if (c == 0x38c) return 0x3cc;
    if (c == 0x38e || c == 0x38f) return c + 63;
    if (c >= 0x410 && c <= 0x42f) return c + 32;
    if (c >= 0x400 && c <= 0x40f) return c + 80;
    if (c >= 0x460 && c <= 0x4ff && !(c >= 0x482 && c <= 0x489) && c != 0x4c0 && !(c >= 0x4c1 && c <= 0x4ce))
        return (c & 1) ? c : c + 1;
    return c;
}

uint32_t py_upper(uint32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
    if (c == 0xb5) return 0x39c;
    if (c == 0xff) return 0x178;
    if (c >= 0xe0 && c <= 0xfe && c != 0xf7) return c - 32;
    if (c >= 0x100 && c <= 0x17f) {
        if (c == 0x131) return 'I';
        if (c == 0x17f) return 'S';
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return (c & 1) ? c : c - 1;
        if (c == 0x138 || c == 0x149 || c == 0x130 || c == 0x178) return c;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3b1 && c <= 0x3cb && c != 0x3c2) return c - 32;
    if (c == 0x3c2) return 0x3a3;
    if (c == 0x3ac) return 0x386;
    if (c >= 0x3ad && c <= 0x3af) return c - 37;
    if (c == 0x3cc) return 0x38c;
    if (c == 0x3cd || c == 0x3ce) return c - 63;
    if (c >= 0x430 && c <= 0x44f) return c - 32;
    if (c >= 0x450 && c <= 0x45f) return c - 80;
    if (c >= 0x460 && c <= 0x4ff && !(c >= 0x482 && c <= 0x489) && c != 0x4c0 && !(c >= 0x4c1 && c <= 0x4ce))
        return (c & 1) ? c - 1 : c;
    return c;
}

bool py_iscased_upper(uint32_t c) { return py_lower(c) != c; }
bool py_iscased_lower(uint32_t c) { return py_upper(c) != c || c == 0xdf; }

bool py_isalpha(uint32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (py_lower(c) != c || py_upper(c) != c || c == 0xdf || c == 0xaa || c == 0xba) return true;
    return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3040 && c <= 0x30ff) || (c >= 0xac00 && c <= 0xd7a3) ||
           (c >= 0x5d0 && c <= 0x5ea) || (c >= 0x620 && c <= 0x64a);
}

bool py_isdigit(uint32_t c) { return c >= '0' && c <= '9'; }

/* ------------------------------------------------------ Python semantics */

const char *py_type_name(jv v) {
    switch (v.type) {
    case JINJA_UNDEFINED: return "Undefined";
    case JINJA_NONE: return "NoneType";
    case JINJA_BOOL: return "bool";
    case JINJA_INT: return "int";
    case JINJA_FLOAT: return "float";
    case JINJA_STRING: return (v.flags & JVF_MARKUP) ? "Markup" : "str";
    case JINJA_LIST:
        switch (JL(v)->kind) {
        case JK_GENERATOR: return "generator";
        case JK_REVERSED: return "list_reverseiterator";
        case JK_DICT_ITEMS: return "dict_items";
        case JK_DICT_KEYS: return "dict_keys";
        case JK_DICT_VALUES: return "dict_values";
        case JK_RANGE: return "range";
        }
        return JL(v)->tuple ? "tuple" : "list";
    case JINJA_DICT: return "dict";
    case JINJA_NAMESPACE: return "Namespace";
    case JINJA_CALLABLE: return JF(v)->kind == FN_MACRO || JF(v)->kind == FN_CALLER ? "Macro"
                                : JF(v)->kind == FN_BUILTIN ? "function" : "builtin_function_or_method";
    case JINJA_LOOP: return "LoopContext";
    }
    return "object";
}

void py_object_type_repr(jv v, sb_t *b) {
    if (v.type == JINJA_NONE) { jsb_puts(b, "None"); return; }
    switch (v.type) {
    case JINJA_UNDEFINED: jsb_puts(b, "jinja2.runtime.Undefined object"); return;
    case JINJA_NAMESPACE: jsb_puts(b, "jinja2.utils.Namespace object"); return;
    case JINJA_LOOP: jsb_puts(b, "jinja2.runtime.LoopContext object"); return;
    case JINJA_STRING:
        if (v.flags & JVF_MARKUP) { jsb_puts(b, "markupsafe.Markup object"); return; }
        break;
    case JINJA_CALLABLE:
        if (JF(v)->kind == FN_MACRO || JF(v)->kind == FN_CALLER) { jsb_puts(b, "jinja2.runtime.Macro object"); return; }
        break;
    default:
        break;
    }
    jsb_puts(b, py_type_name(v));
    jsb_puts(b, " object");
}

void py_float_repr(double d, char out[32]) {
    if (isnan(d)) { strcpy(out, "nan"); return; }
    if (isinf(d)) { strcpy(out, d < 0 ? "-inf" : "inf"); return; }
    if (d == 0) { strcpy(out, signbit(d) ? "-0.0" : "0.0"); return; }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX: collect digits and the decimal exponent */
    char digits[24];
    int nd = 0, neg = 0;
    const char *p = tmp;
    if (*p == '-') { neg = 1; p++; }
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int e = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int decpt = e + 1; /* value = 0.DIGITS x 10^decpt */
    char *o = out;
    if (neg) *o++ = '-';
    if (decpt > -4 && decpt <= 16) { /* Python's repr switches to exponent notation outside this range */
        if (decpt <= 0) {
            *o++ = '0'; *o++ = '.';
            for (int i = 0; i < -decpt; i++) *o++ = '0';
            for (int i = 0; i < nd; i++) *o++ = digits[i];
        } else if (decpt >= nd) {
            for (int i = 0; i < nd; i++) *o++ = digits[i];
            for (int i = nd; i < decpt; i++) *o++ = '0';
            *o++ = '.'; *o++ = '0';
        } else {
            for (int i = 0; i < nd; i++) { if (i == decpt) *o++ = '.'; *o++ = digits[i]; }
        }
        *o = 0;
    } else {
        *o++ = digits[0];
        if (nd > 1) { *o++ = '.'; for (int i = 1; i < nd; i++) *o++ = digits[i]; }
        snprintf(o, 13, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
    }
}

/* str.isprintable() for repr(): C0/C1 controls, separators other than space, format characters, private use
 * and surrogates are escaped. (Unassigned code points are not known here and print as themselves.) */
static bool py_isprintable(uint32_t c) {
    if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c == 0xad) return false;
    if (c == 0x1680 || (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
        (c >= 0x205f && c <= 0x206f) || c == 0x3000 || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb))
        return false;
    if ((c >= 0xd800 && c <= 0xf8ff) || (c >= 0xf0000) || c == 0x61c || c == 0x180e) return false;
    return true;
}

static void repr_str(const char *s, size_t n, sb_t *b) {
    bool has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    jsb_putc(b, q);
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        uint32_t c = utf8_next(s, n, &i);
        if (c == (uint32_t)q || c == '\\') { jsb_putc(b, '\\'); jsb_putc(b, (char)c); }
        else if (c == '\n') jsb_puts(b, "\\n");
        else if (c == '\r') jsb_puts(b, "\\r");
        else if (c == '\t') jsb_puts(b, "\\t");
        else if (!py_isprintable(c)) {
            if (c < 0x100) jsb_printf(b, "\\x%02x", c);
            else if (c < 0x10000) jsb_printf(b, "\\u%04x", c);
            else jsb_printf(b, "\\U%08x", c);
        } else jsb_put(b, s + start, i - start);
    }
    jsb_putc(b, q);
}

enum { MAX_VALUE_DEPTH = 400 };

static void py_repr_d(jv v, sb_t *b, int depth);

static void py_str_d(jv v, sb_t *b, int depth) {
    char num[40];
    switch (v.type) {
    case JINJA_UNDEFINED: return;
    case JINJA_NONE: jsb_puts(b, "None"); return;
    case JINJA_BOOL: jsb_puts(b, v.u.b ? "True" : "False"); return;
    case JINJA_INT: snprintf(num, sizeof num, "%lld", (long long)v.u.i); jsb_puts(b, num); return;
    case JINJA_FLOAT: py_float_repr(v.u.f, num); jsb_puts(b, num); return;
    case JINJA_STRING: jsb_put(b, JS(v)->s, JS(v)->len); return;
    default: py_repr_d(v, b, depth); return;
    }
}

static void py_repr_d(jv v, sb_t *b, int depth) {
    if (depth > MAX_VALUE_DEPTH) { jsb_puts(b, "..."); return; }
    switch (v.type) {
    case JINJA_STRING:
        if (v.flags & JVF_MARKUP) jsb_puts(b, "Markup(");
        repr_str(JS(v)->s, JS(v)->len, b);
        if (v.flags & JVF_MARKUP) jsb_putc(b, ')');
        return;
    case JINJA_UNDEFINED: jsb_puts(b, "Undefined"); return;
    case JINJA_LIST: {
        jlist *l = JL(v);
        if (jl_is_iterator(l)) { jsb_printf(b, "<%s object>", py_type_name(v)); return; }
        if (l->kind == JK_RANGE) {
            if (l->range[2] == 1) jsb_printf(b, "range(%lld, %lld)", (long long)l->range[0], (long long)l->range[1]);
            else jsb_printf(b, "range(%lld, %lld, %lld)", (long long)l->range[0], (long long)l->range[1], (long long)l->range[2]);
            return;
        }
        if (l->kind != JK_PLAIN) { /* dict views print as dict_items([...]) */
            jsb_puts(b, py_type_name(v));
            jsb_putc(b, '(');
        }
        jsb_putc(b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jsb_puts(b, ", ");
            py_repr_d(l->v[i], b, depth + 1);
        }
        if (l->tuple && l->n == 1) jsb_putc(b, ',');
        jsb_putc(b, l->tuple ? ')' : ']');
        if (l->kind != JK_PLAIN) jsb_putc(b, ')');
        return;
    }
    case JINJA_DICT:
    case JINJA_NAMESPACE: {
        jdict *d = JD(v);
        if (v.type == JINJA_NAMESPACE) jsb_puts(b, "<Namespace ");
        jsb_putc(b, '{');
        for (size_t i = 0; i < d->n; i++) {
            if (i) jsb_puts(b, ", ");
            py_repr_d(d->k[i], b, depth + 1);
            jsb_puts(b, ": ");
            py_repr_d(d->v[i], b, depth + 1);
        }
        jsb_putc(b, '}');
        if (v.type == JINJA_NAMESPACE) jsb_putc(b, '>');
        return;
    }
    case JINJA_CALLABLE:
        if (JF(v)->kind == FN_MACRO || JF(v)->kind == FN_CALLER) jsb_printf(b, "<Macro '%s'>", JF(v)->name);
        else jsb_printf(b, "<built-in method %s>", JF(v)->name ? JF(v)->name : "?");
        return;
    case JINJA_LOOP:
        jsb_printf(b, "<LoopContext %zu/%zu>", JLOOP(v)->index0 + 1, JL(JLOOP(v)->items)->n);
        return;
    default:
        py_str_d(v, b, depth);
    }
}

void py_str(jv v, sb_t *b) { py_str_d(v, b, 0); }
void py_repr(jv v, sb_t *b) { py_repr_d(v, b, 0); }

bool py_truthy(jv v) {
    switch (v.type) {
    case JINJA_UNDEFINED:
    case JINJA_NONE: return false;
    case JINJA_BOOL: return v.u.b;
    case JINJA_INT: return v.u.i != 0;
    case JINJA_FLOAT: return v.u.f != 0;
    case JINJA_STRING: return JS(v)->len != 0;
    case JINJA_LIST: return jl_is_iterator(JL(v)) || JL(v)->n != 0;
    case JINJA_DICT: return JD(v)->n != 0;
    default: return true;
    }
}

static double num_f(jv v) { return v.type == JINJA_FLOAT ? v.u.f : v.type == JINJA_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t num_i(jv v) { return v.type == JINJA_INT ? v.u.i : (int64_t)v.u.b; }

static bool py_eq_d(jv a, jv b, int depth) {
    if (depth > MAX_VALUE_DEPTH) return false;
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.type == JINJA_FLOAT || b.type == JINJA_FLOAT) return num_f(a) == num_f(b);
        return num_i(a) == num_i(b);
    }
    if (a.type != b.type) return false;
    switch (a.type) {
    case JINJA_UNDEFINED:
    case JINJA_NONE: return true;
    case JINJA_STRING: return JS(a)->len == JS(b)->len && memcmp(JS(a)->s, JS(b)->s, JS(a)->len) == 0;
    case JINJA_LIST: {
        jlist *x = JL(a), *y = JL(b);
        if (x == y) return true;
        if (x->kind != y->kind || (x->kind != JK_PLAIN && x->kind != JK_RANGE)) return false;
        if (x->tuple != y->tuple || x->n != y->n) return false;
        for (size_t i = 0; i < x->n; i++)
            if (!py_eq_d(x->v[i], y->v[i], depth + 1)) return false;
        return true;
    }
    case JINJA_DICT: {
        jdict *x = JD(a), *y = JD(b);
        if (x->n != y->n) return false;
        for (size_t i = 0; i < x->n; i++) {
            jv *o = jd_get(y, x->k[i]);
            if (!o || !py_eq_d(x->v[i], *o, depth + 1)) return false;
        }
        return true;
    }
    case JINJA_CALLABLE: {
        jfunc *f = JF(a), *g = JF(b);
        if (f == g) return true;
        return f->kind == FN_METHOD && g->kind == FN_METHOD && f->id == g->id && f->self.u.obj == g->self.u.obj;
    }
    default: return a.u.obj == b.u.obj;
    }
}

bool py_eq(jv a, jv b) { return py_eq_d(a, b, 0); }

static int py_cmp_d(jv a, jv b, int *cmp, sb_t *err, int depth) {
    if (depth > MAX_VALUE_DEPTH) { jsb_puts(err, "maximum recursion depth exceeded in comparison"); return -1; }
    if (jv_is_num(a) && jv_is_num(b)) {
        if (a.type == JINJA_FLOAT || b.type == JINJA_FLOAT) {
            double x = num_f(a), y = num_f(b);
            *cmp = x < y ? -1 : x > y ? 1 : 0;
        } else {
            int64_t x = num_i(a), y = num_i(b);
            *cmp = x < y ? -1 : x > y ? 1 : 0;
        }
        return 0;
    }
    if (a.type == JINJA_STRING && b.type == JINJA_STRING) {
        size_t n = JS(a)->len < JS(b)->len ? JS(a)->len : JS(b)->len;
        int c = memcmp(JS(a)->s, JS(b)->s, n); /* UTF-8 byte order is code point order */
        *cmp = c < 0 ? -1 : c > 0 ? 1 : JS(a)->len < JS(b)->len ? -1 : JS(a)->len > JS(b)->len ? 1 : 0;
        return 0;
    }
    if (a.type == JINJA_LIST && b.type == JINJA_LIST && JL(a)->tuple == JL(b)->tuple && JL(a)->kind == JK_PLAIN &&
        JL(b)->kind == JK_PLAIN) {
        jlist *x = JL(a), *y = JL(b);
        for (size_t i = 0; i < x->n && i < y->n; i++) {
            if (py_eq_d(x->v[i], y->v[i], depth + 1)) continue;
            return py_cmp_d(x->v[i], y->v[i], cmp, err, depth + 1);
        }
        *cmp = x->n < y->n ? -1 : x->n > y->n ? 1 : 0;
        return 0;
    }
    jsb_printf(err, "'<' not supported between instances of '%s' and '%s'", py_type_name(a), py_type_name(b));
    return -1;
}

int py_cmp(jv a, jv b, int *cmp, sb_t *err) { return py_cmp_d(a, b, cmp, err, 0); }

uint64_t py_hash(jv v) {
    switch (v.type) {
    case JINJA_BOOL: return v.u.b;
    case JINJA_INT: return (uint64_t)v.u.i;
    case JINJA_FLOAT:
        if (v.u.f == floor(v.u.f) && fabs(v.u.f) < 9e18) return (uint64_t)(int64_t)v.u.f; /* 1.0 == 1 */
        { uint64_t u; memcpy(&u, &v.u.f, 8); return u * 0x9e3779b97f4a7c15ull; }
    case JINJA_STRING: {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < JS(v)->len; i++) h = (h ^ (unsigned char)JS(v)->s[i]) * 1099511628211ull;
        return h;
    }
    case JINJA_LIST: {
        uint64_t h = 0x345678;
        for (size_t i = 0; i < JL(v)->n && i < 64; i++) h = (h ^ py_hash(JL(v)->v[i])) * 1000003;
        return h;
    }
    case JINJA_NONE: return 0x9e3779b9;
    default: return (uint64_t)(uintptr_t)v.u.obj;
    }
}

/* ------------------------------------------------------------- json.dumps */

static void json_str(const char *s, size_t n, sb_t *b, bool ensure_ascii) {
    jsb_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[16];
        if (c >= 0x80 && ensure_ascii) {
            size_t j = i;
            uint32_t cp = utf8_next(s, n, &j);
            jsb_put(b, s + run, i - run);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(u, sizeof u, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else snprintf(u, sizeof u, "\\u%04x", cp);
            jsb_puts(b, u);
            run = j;
            i = j - 1;
            continue;
        }
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) { snprintf(u, sizeof u, "\\u%04x", c); esc = u; }
        }
        if (esc) {
            jsb_put(b, s + run, i - run);
            jsb_puts(b, esc);
            run = i + 1;
        }
    }
    jsb_put(b, s + run, n - run);
    jsb_putc(b, '"');
}

typedef struct {
    sb_t *out, *err;
    const char *indent; /* NULL: no indentation (indent=None) */
    const char *item_sep, *key_sep;
    bool sort_keys, ensure_ascii;
} json_ctx;

static void json_newline(json_ctx *c, int level) {
    jsb_putc(c->out, '\n');
    for (int i = 0; i < level; i++) jsb_puts(c->out, c->indent);
}

static int json_value(json_ctx *c, jv v, int level) {
    char num[40];
    if (level > MAX_VALUE_DEPTH) { jsb_puts(c->err, "maximum recursion depth exceeded while encoding a JSON object"); return -1; }
    switch (v.type) {
    case JINJA_NONE: jsb_puts(c->out, "null"); return 0;
    case JINJA_BOOL: jsb_puts(c->out, v.u.b ? "true" : "false"); return 0;
    case JINJA_INT: snprintf(num, sizeof num, "%lld", (long long)v.u.i); jsb_puts(c->out, num); return 0;
    case JINJA_FLOAT:
        if (isnan(v.u.f)) jsb_puts(c->out, "NaN");
        else if (isinf(v.u.f)) jsb_puts(c->out, v.u.f < 0 ? "-Infinity" : "Infinity");
        else { py_float_repr(v.u.f, num); jsb_puts(c->out, num); }
        return 0;
    case JINJA_STRING: json_str(JS(v)->s, JS(v)->len, c->out, c->ensure_ascii); return 0;
    case JINJA_LIST: {
        jlist *l = JL(v);
        if (l->kind != JK_PLAIN) {
            jsb_printf(c->err, "Object of type %s is not JSON serializable", py_type_name(v));
            return -1;
        }
        if (!l->n) { jsb_puts(c->out, "[]"); return 0; }
        jsb_putc(c->out, '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) jsb_puts(c->out, c->item_sep);
            if (c->indent) json_newline(c, level + 1);
            if (json_value(c, l->v[i], level + 1)) return -1;
        }
        if (c->indent) json_newline(c, level);
        jsb_putc(c->out, ']');
        return 0;
    }
    case JINJA_DICT: {
        jdict *d = JD(v);
        if (!d->n) { jsb_puts(c->out, "{}"); return 0; }
        size_t *order = xmalloc(d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++) order[i] = i;
        if (c->sort_keys) { /* insertion sort keeps it stable and simple; dicts here are small */
            for (size_t i = 1; i < d->n; i++) {
                size_t k = order[i], j = i;
                while (j > 0) {
                    int cmp;
                    if (py_cmp(d->k[order[j - 1]], d->k[k], &cmp, c->err)) { free(order); return -1; }
                    if (cmp <= 0) break;
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = k;
            }
        }
        jsb_putc(c->out, '{');
        for (size_t i = 0; i < d->n; i++) {
            jv k = d->k[order[i]];
            if (i) jsb_puts(c->out, c->item_sep);
            if (c->indent) json_newline(c, level + 1);
            if (k.type == JINJA_STRING) json_str(JS(k)->s, JS(k)->len, c->out, c->ensure_ascii);
            else if (k.type == JINJA_NONE || k.type == JINJA_BOOL || k.type == JINJA_INT || k.type == JINJA_FLOAT) {
                sb_t t;
                jsb_init(&t, 0);
                if (k.type == JINJA_NONE) jsb_puts(&t, "null");
                else if (k.type == JINJA_BOOL) jsb_puts(&t, k.u.b ? "true" : "false");
                else json_value(&(json_ctx){.out = &t, .err = c->err}, k, level + 1);
                json_str(t.p ? t.p : "", t.n, c->out, false);
                jsb_free(&t);
            } else {
                jsb_printf(c->err, "keys must be str, int, float, bool or None, not %s", py_type_name(k));
                free(order);
                return -1;
            }
            jsb_puts(c->out, c->key_sep);
            if (json_value(c, d->v[order[i]], level + 1)) { free(order); return -1; }
        }
        free(order);
        if (c->indent) json_newline(c, level);
        jsb_putc(c->out, '}');
        return 0;
    }
    default:
        jsb_printf(c->err, "Object of type %s is not JSON serializable", py_type_name(v));
        return -1;
    }
}

int py_json(jv v, sb_t *out, const char *indent, const char *item_sep, const char *key_sep, bool sort_keys,
            bool ensure_ascii, sb_t *err) {
    json_ctx c = {out, err, indent, item_sep, key_sep, sort_keys, ensure_ascii};
    if (!c.item_sep) c.item_sep = indent ? "," : ", ";
    if (!c.key_sep) c.key_sep = ": ";
    return json_value(&c, v, 0);
}
