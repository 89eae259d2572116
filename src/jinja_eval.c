/* jinja_eval.c — renders a parsed template: scopes, expressions, statements, calls, attribute access.
 *
 * Scoping follows jinja2: a for-loop body (fresh each iteration), a macro body, a block-set body and a
 * with-block get their own scope; if-blocks do not. Assignments go to the innermost scope, so a `set` inside
 * a loop never leaks out (templates use namespace() for that). A name is looked up through the scope chain,
 * then the render context, then the globals. Macros see the template's top level, not their caller.
 *
 * Attribute access is the sandbox's: `obj.name` tries the Python attribute (methods of str/dict/list; the
 * mutating ones are "unsafe" undefined values) then the item; `obj[key]` tries the item then the attribute.
 * Missing things are Undefined values that print as "" but fail on any further access, like jinja2's.
 *
 * Bounds: total evaluation steps, evaluator recursion (C stack), macro depth, output and string sizes, and
 * container nesting depth. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jinja_internal.h"
#include "util.h"

enum { ST_OK = 0, ST_BREAK, ST_CONTINUE, ST_ERR };
enum { MAX_REC = 2500, MAX_NESTING = 256 };
enum { CMP_EQ = 1, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOTIN };

/* ---------------------------------------------------------------- errors */

static bool vfail(jctx *C, const char *fmt, va_list ap) {
    if (C->failed) return false;
    C->failed = true;
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    jsb_printf(&C->err, "jinja: line %d: %s", C->line, msg);
    return false;
}

bool jfail(jctx *C, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(C, fmt, ap);
    va_end(ap);
    return false;
}

bool jfail_undef(jctx *C, jv u) {
    if (u.u.obj) return jfail(C, "%.*s", (int)JS(u)->len, JS(u)->s);
    return jfail(C, "%s", "value is undefined");
}

bool jcheck_str(jctx *C, sb_t *b) {
    if (!b->over) return true;
    C->hard = true;
    return jfail(C, "output exceeds the limit of %zu bytes", C->max_output);
}

/* A freshly made value (owned by *out) is too deeply nested: release it and fail. */
static bool check_nesting(jctx *C, jv *out) {
    if (jv_depth(*out) <= MAX_NESTING) return true;
    jv_decref(*out);
    C->hard = true;
    return jfail(C, "values nested deeper than %d levels", MAX_NESTING);
}

/* ---------------------------------------------------------------- scopes */

static void scope_init(jscope *s, jscope *parent) {
    memset(s, 0, sizeof *s);
    s->parent = parent;
}

static void scope_clear(jscope *s) {
    for (int i = 0; i < s->n; i++) jv_decref(s->vals[i]);
    free(s->names);
    free(s->vals);
    s->names = NULL;
    s->vals = NULL;
    s->n = s->cap = 0;
}

static jv *scope_find_local(jscope *s, const char *name) {
    for (int i = s->n - 1; i >= 0; i--)
        if (strcmp(s->names[i], name) == 0) return &s->vals[i];
    return NULL;
}

/* steals v */
static void scope_set(jscope *s, const char *name, jv v) {
    jv *slot = scope_find_local(s, name);
    if (slot) {
        jv_decref(*slot);
        *slot = v;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->names = realloc(s->names, (size_t)s->cap * sizeof *s->names);
        s->vals = realloc(s->vals, (size_t)s->cap * sizeof *s->vals);
        if (!s->names || !s->vals) abort();
    }
    s->names[s->n] = name;
    s->vals[s->n] = v;
    s->n++;
}

static jv lookup(jctx *C, jscope *s, const char *name, size_t len) {
    for (; s; s = s->parent) {
        jv *v = scope_find_local(s, name);
        if (v) { jv_incref(*v); return *v; }
    }
    if (C->vars) {
        jv *v = jd_get_str(C->vars, name, len);
        if (v) { jv_incref(*v); return *v; }
    }
    int g = jinja_global_id(name);
    if (g >= 0) return jv_func_new(FN_BUILTIN, g, jv_undef(), jinja_global_name(g));
    return jv_undef_msg("'%s' is undefined", name);
}

jv jnamespace_new(jctx *C) {
    jv ns = jinja_dict();
    ns.type = JINJA_NAMESPACE;
    if (C->nns == C->capns) {
        C->capns = C->capns ? C->capns * 2 : 16;
        C->namespaces = realloc(C->namespaces, C->capns * sizeof(jv));
        if (!C->namespaces) abort();
    }
    jv_incref(ns);
    C->namespaces[C->nns++] = ns;
    return ns;
}

/* ------------------------------------------------------- attribute access */

static jv no_attr(jv obj, const char *name) {
    sb_t b;
    jsb_init(&b, 0);
    jsb_putc(&b, '\'');
    py_object_type_repr(obj, &b);
    jsb_puts(&b, "' has no attribute ");
    jv k = jv_strn(name, strlen(name));
    py_repr(k, &b);
    jv_decref(k);
    jv u = jv_str_take(&b);
    u.type = JINJA_UNDEFINED;
    return u;
}

static jv no_element(jv obj, jv key) {
    sb_t b;
    jsb_init(&b, 0);
    py_object_type_repr(obj, &b);
    jsb_puts(&b, " has no element ");
    py_repr(key, &b);
    jv u = jv_str_take(&b);
    u.type = JINJA_UNDEFINED;
    return u;
}

/* The Python attribute only (a method, or a loop field), or JV_MISSING. */
static bool python_attr(jctx *C, jv obj, const char *name, jv *out) {
    out->type = JV_MISSING;
    if (obj.type == JINJA_LOOP) {
        jloop *l = JLOOP(obj);
        size_t n = JL(l->items)->n, i = l->index0;
        if (!strcmp(name, "index")) *out = jinja_int((int64_t)i + 1);
        else if (!strcmp(name, "index0")) *out = jinja_int((int64_t)i);
        else if (!strcmp(name, "revindex")) *out = jinja_int((int64_t)(n - i));
        else if (!strcmp(name, "revindex0")) *out = jinja_int((int64_t)(n - i - 1));
        else if (!strcmp(name, "first")) *out = jinja_bool(i == 0);
        else if (!strcmp(name, "last")) *out = jinja_bool(i + 1 == n);
        else if (!strcmp(name, "length")) *out = jinja_int((int64_t)n);
        else if (!strcmp(name, "depth")) *out = jinja_int(1);
        else if (!strcmp(name, "depth0")) *out = jinja_int(0);
        else if (!strcmp(name, "previtem")) {
            if (i == 0) *out = jv_undef_msg("there is no previous item");
            else { *out = JL(l->items)->v[i - 1]; jv_incref(*out); }
        } else if (!strcmp(name, "nextitem")) {
            if (i + 1 >= n) *out = jv_undef_msg("there is no next item");
            else { *out = JL(l->items)->v[i + 1]; jv_incref(*out); }
        } else if (!strcmp(name, "cycle") || !strcmp(name, "changed")) {
            jv_incref(obj);
            *out = jv_func_new(FN_LOOP_METHOD, name[0] == 'c' && name[1] == 'y' ? 0 : 1, obj, name);
        }
        return true;
    }
    if (name[0] == '_' && name[1] == '_') { /* dunders exist on every Python object: the sandbox refuses them */
        *out = jv_undef_msg("access to attribute '%s' of '%s' object is unsafe.", name, py_type_name(obj));
        return true;
    }
    bool unsafe = false;
    int id = jinja_method_id(obj, name, &unsafe);
    if (unsafe) *out = jv_undef_msg("access to attribute '%s' of '%s' object is unsafe.", name, py_type_name(obj));
    else if (id >= 0) {
        jv_incref(obj);
        *out = jv_func_new(FN_METHOD, id, obj, name);
    }
    (void)C;
    return true;
}

bool jgetattr(jctx *C, jv obj, const char *name, size_t n, jv *out) {
    if (obj.type == JINJA_UNDEFINED) return jfail_undef(C, obj);
    python_attr(C, obj, name, out);
    if (out->type != JV_MISSING) return true;
    if (obj.type == JINJA_DICT || obj.type == JINJA_NAMESPACE) {
        jv *v = jd_get_str(JD(obj), name, n);
        if (v) { *out = *v; jv_incref(*out); return true; }
    }
    *out = no_attr(obj, name);
    return true;
}

static int64_t as_index(jv k) { return k.type == JINJA_BOOL ? (int64_t)k.u.b : k.u.i; }

bool jgetitem(jctx *C, jv obj, jv key, jv *out) {
    if (obj.type == JINJA_UNDEFINED) return jfail_undef(C, obj);
    switch (obj.type) {
    case JINJA_DICT: {
        jv *v = jd_get(JD(obj), key);
        if (v) { *out = *v; jv_incref(*out); return true; }
        break;
    }
    case JINJA_LIST:
    case JINJA_STRING:
        if (obj.type == JINJA_LIST && JL(obj)->kind != JK_PLAIN && JL(obj)->kind != JK_RANGE) break; /* not subscriptable */
        if (key.type == JINJA_INT || key.type == JINJA_BOOL) {
            int64_t i = as_index(key);
            if (obj.type == JINJA_LIST) {
                int64_t n = (int64_t)JL(obj)->n;
                if (i < 0) i += n;
                if (i >= 0 && i < n) { *out = JL(obj)->v[i]; jv_incref(*out); return true; }
            } else {
                const char *s = JS(obj)->s;
                size_t len = JS(obj)->len;
                int64_t n = (int64_t)utf8_len(s, len);
                if (i < 0) i += n;
                if (i >= 0 && i < n) {
                    size_t a = utf8_offset(s, len, (size_t)i), b = a;
                    utf8_next(s, len, &b);
                    *out = jv_strn(s + a, b - a);
                    return true;
                }
            }
        }
        break;
    default:
        break;
    }
    if (key.type == JINJA_STRING) { /* fall back to the attribute */
        python_attr(C, obj, JS(key)->s, out);
        if (out->type != JV_MISSING) return true;
        if (obj.type == JINJA_NAMESPACE) {
            jv *v = jd_get(JD(obj), key);
            if (v) { *out = *v; jv_incref(*out); return true; }
        }
        *out = no_attr(obj, JS(key)->s);
        return true;
    }
    *out = no_element(obj, key);
    return true;
}

/* Python slice semantics on list/tuple/str (indices by code point). */
static bool slice_value(jctx *C, jv obj, jv start, jv stop, jv step, jv *out) {
    int64_t st = 1;
    jv parts[3] = {start, stop, step};
    for (int i = 0; i < 3; i++)
        if (parts[i].type != JINJA_NONE && parts[i].type != JINJA_INT && parts[i].type != JINJA_BOOL) {
            if (parts[i].type == JINJA_UNDEFINED) return jfail_undef(C, parts[i]);
            return jfail(C, "slice indices must be integers or None");
        }
    if (step.type != JINJA_NONE) st = as_index(step);
    if (st == 0) return jfail(C, "slice step cannot be zero");
    if (obj.type == JINJA_UNDEFINED) return jfail_undef(C, obj);
    if (obj.type == JINJA_DICT) return jfail(C, "unhashable type: 'slice'");
    if ((obj.type != JINJA_LIST && obj.type != JINJA_STRING) ||
        (obj.type == JINJA_LIST && JL(obj)->kind != JK_PLAIN && JL(obj)->kind != JK_RANGE))
        return jfail(C, "'%s' object is not subscriptable", py_type_name(obj));
    int64_t n = obj.type == JINJA_LIST ? (int64_t)JL(obj)->n : (int64_t)utf8_len(JS(obj)->s, JS(obj)->len);
    int64_t lo, hi;
    if (st > 0) {
        lo = start.type == JINJA_NONE ? 0 : as_index(start);
        hi = stop.type == JINJA_NONE ? n : as_index(stop);
        if (lo < 0) { lo += n; if (lo < 0) lo = 0; } else if (lo > n) lo = n;
        if (hi < 0) { hi += n; if (hi < 0) hi = 0; } else if (hi > n) hi = n;
    } else {
        lo = start.type == JINJA_NONE ? n - 1 : as_index(start);
        hi = stop.type == JINJA_NONE ? -1 : as_index(stop);
        if (start.type != JINJA_NONE) { if (lo < 0) { lo += n; if (lo < 0) lo = -1; } else if (lo >= n) lo = n - 1; }
        if (stop.type != JINJA_NONE) { if (hi < 0) { hi += n; if (hi < 0) hi = -1; } else if (hi >= n) hi = n - 1; }
    }
    if (obj.type == JINJA_LIST) {
        jv r = jv_list_n(0);
        JL(r)->tuple = JL(obj)->tuple;
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
            jv_incref(JL(obj)->v[i]);
            jl_push(JL(r), JL(obj)->v[i]);
        }
        if (JL(obj)->kind == JK_RANGE) { /* a slice of a range is a range */
            const int64_t *rg = JL(obj)->range;
            JL(r)->kind = JK_RANGE;
            JL(r)->range[0] = rg[0] + lo * rg[2];
            JL(r)->range[1] = rg[0] + hi * rg[2];
            JL(r)->range[2] = rg[2] * st;
        }
        *out = r;
        return true;
    }
    const char *s = JS(obj)->s;
    size_t len = JS(obj)->len;
    sb_t b;
    jsb_init(&b, 0);
    if (st == 1) {
        if (lo < hi) {
            size_t a = utf8_offset(s, len, (size_t)lo), e = a + utf8_offset(s + a, len - a, (size_t)(hi - lo));
            jsb_put(&b, s + a, e - a);
        }
    } else { /* general step: index the code points once */
        size_t *offs = malloc(((size_t)n + 1) * sizeof(size_t));
        if (!offs) abort();
        size_t p = 0;
        for (int64_t i = 0; i < n; i++) { offs[i] = p; utf8_next(s, len, &p); }
        offs[n] = len;
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) jsb_put(&b, s + offs[i], offs[i + 1] - offs[i]);
        free(offs);
    }
    *out = jv_str_take(&b);
    return true;
}

/* Items of an iterable as a list: list/tuple items, dict keys, string characters; undefined is empty. */
bool jiterate(jctx *C, jv v, jv *list_out) {
    switch (v.type) {
    case JINJA_LIST: {
        jlist *src = JL(v);
        if (src->kind == JK_PLAIN && !src->tuple) {
            jv_incref(v);
            *list_out = v;
            return true;
        }
        if (jl_is_iterator(src) && src->err.type == JINJA_STRING) /* the generator's deferred error */
            return jfail(C, "%s", JS(src->err)->s);
        size_t from = jl_is_iterator(src) ? src->pos : 0;
        jv l = jv_list_n(src->n - from);
        for (size_t i = from; i < src->n; i++) { jv_incref(src->v[i]); jl_push(JL(l), src->v[i]); }
        if (jl_is_iterator(src)) src->pos = src->n; /* iterating consumes an iterator */
        *list_out = l;
        return true;
    }
    case JINJA_DICT: {
        jv l = jv_list_n(JD(v)->n);
        for (size_t i = 0; i < JD(v)->n; i++) { jv_incref(JD(v)->k[i]); jl_push(JL(l), JD(v)->k[i]); }
        *list_out = l;
        return true;
    }
    case JINJA_STRING: {
        jv l = jv_list_n(0);
        const char *s = JS(v)->s;
        size_t n = JS(v)->len, i = 0;
        while (i < n) {
            size_t a = i;
            utf8_next(s, n, &i);
            jl_push(JL(l), jv_strn(s + a, i - a));
        }
        *list_out = l;
        return true;
    }
    case JINJA_UNDEFINED:
        *list_out = jv_list_n(0);
        return true;
    default:
        return jfail(C, "'%s' object is not iterable", py_type_name(v));
    }
}

/* -------------------------------------------------------------- arithmetic */

static bool arith_undef(jctx *C, jv a, jv b) {
    if (a.type == JINJA_UNDEFINED) return jfail_undef(C, a);
    return jfail_undef(C, b);
}

static bool unsupported_op(jctx *C, const char *op, jv a, jv b) {
    if (a.type == JINJA_UNDEFINED || b.type == JINJA_UNDEFINED) return arith_undef(C, a, b);
    return jfail(C, "unsupported operand type(s) for %s: '%s' and '%s'", op, py_type_name(a), py_type_name(b));
}

static double fnum(jv v) { return v.type == JINJA_FLOAT ? v.u.f : v.type == JINJA_INT ? (double)v.u.i : (double)v.u.b; }
static int64_t inum(jv v) { return v.type == JINJA_INT ? v.u.i : (int64_t)v.u.b; }

static void markup_escape(const char *s, size_t n, sb_t *b) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': jsb_puts(b, "&amp;"); break;
        case '<': jsb_puts(b, "&lt;"); break;
        case '>': jsb_puts(b, "&gt;"); break;
        case '"': jsb_puts(b, "&#34;"); break;
        case '\'': jsb_puts(b, "&#39;"); break;
        default: jsb_putc(b, s[i]);
        }
    }
}

static bool repeat_seq(jctx *C, jv seq, int64_t times, jv *out) {
    if (times < 0) times = 0;
    if (seq.type == JINJA_STRING) {
        sb_t b;
        jsb_init(&b, C->max_output);
        for (int64_t i = 0; i < times && !b.over; i++) jsb_put(&b, JS(seq)->s, JS(seq)->len);
        if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
        *out = jv_str_take(&b);
        out->flags = seq.flags;
        return true;
    }
    size_t n = JL(seq)->n;
    if (n && (uint64_t)times > (C->max_output / 8) / n) return jfail(C, "sequence repetition too large");
    jv r = jv_list_n(n * (size_t)times);
    JL(r)->tuple = JL(seq)->tuple;
    for (int64_t t = 0; t < times; t++)
        for (size_t i = 0; i < n; i++) { jv_incref(JL(seq)->v[i]); jl_push(JL(r), JL(seq)->v[i]); }
    *out = r;
    return true;
}

static bool binop(jctx *C, int op, jv a, jv b, jv *out) {
    bool num = jv_is_num(a) && jv_is_num(b);
    bool flt = num && (a.type == JINJA_FLOAT || b.type == JINJA_FLOAT);
    switch (op) {
    case OP_ADD:
        if (num) {
            if (flt) { *out = jinja_float(fnum(a) + fnum(b)); return true; }
            int64_t r;
            if (__builtin_add_overflow(inum(a), inum(b), &r)) return jfail(C, "integer overflow");
            *out = jinja_int(r);
            return true;
        }
        if (a.type == JINJA_STRING && b.type == JINJA_STRING) {
            sb_t s;
            jsb_init(&s, C->max_output);
            bool markup = (a.flags | b.flags) & JVF_MARKUP;
            /* Markup + str escapes the plain side, as markupsafe does */
            if (markup && !(a.flags & JVF_MARKUP)) markup_escape(JS(a)->s, JS(a)->len, &s);
            else jsb_put(&s, JS(a)->s, JS(a)->len);
            if (markup && !(b.flags & JVF_MARKUP)) markup_escape(JS(b)->s, JS(b)->len, &s);
            else jsb_put(&s, JS(b)->s, JS(b)->len);
            if (!jcheck_str(C, &s)) { jsb_free(&s); return false; }
            *out = jv_str_take(&s);
            if (markup) out->flags = JVF_MARKUP;
            return true;
        }
        if (a.type == JINJA_LIST && b.type == JINJA_LIST && JL(a)->tuple == JL(b)->tuple && JL(a)->kind == JK_PLAIN &&
            JL(b)->kind == JK_PLAIN) {
            jv r = jv_list_n(JL(a)->n + JL(b)->n);
            JL(r)->tuple = JL(a)->tuple;
            for (size_t i = 0; i < JL(a)->n; i++) { jv_incref(JL(a)->v[i]); jl_push(JL(r), JL(a)->v[i]); }
            for (size_t i = 0; i < JL(b)->n; i++) { jv_incref(JL(b)->v[i]); jl_push(JL(r), JL(b)->v[i]); }
            *out = r;
            return true;
        }
        if (a.type == JINJA_UNDEFINED || b.type == JINJA_UNDEFINED) return arith_undef(C, a, b);
        if (a.type == JINJA_STRING || (a.type == JINJA_LIST && JL(a)->kind == JK_PLAIN))
            return jfail(C, "can only concatenate %s (not \"%s\") to %s", py_type_name(a), py_type_name(b), py_type_name(a));
        return unsupported_op(C, "+", a, b);
    case OP_SUB:
        if (!num) return unsupported_op(C, "-", a, b);
        if (flt) { *out = jinja_float(fnum(a) - fnum(b)); return true; }
        {
            int64_t r;
            if (__builtin_sub_overflow(inum(a), inum(b), &r)) return jfail(C, "integer overflow");
            *out = jinja_int(r);
        }
        return true;
    case OP_MUL:
        if (num) {
            if (flt) { *out = jinja_float(fnum(a) * fnum(b)); return true; }
            int64_t r;
            if (__builtin_mul_overflow(inum(a), inum(b), &r)) return jfail(C, "integer overflow");
            *out = jinja_int(r);
            return true;
        }
        if ((a.type == JINJA_STRING || (a.type == JINJA_LIST && JL(a)->kind == JK_PLAIN)) && (b.type == JINJA_INT || b.type == JINJA_BOOL))
            return repeat_seq(C, a, inum(b), out);
        if ((b.type == JINJA_STRING || (b.type == JINJA_LIST && JL(b)->kind == JK_PLAIN)) && (a.type == JINJA_INT || a.type == JINJA_BOOL))
            return repeat_seq(C, b, inum(a), out);
        return unsupported_op(C, "*", a, b);
    case OP_DIV:
        if (!num) return unsupported_op(C, "/", a, b);
        if (fnum(b) == 0) return jfail(C, flt ? "float division by zero" : "division by zero");
        *out = jinja_float(fnum(a) / fnum(b));
        return true;
    case OP_FLOORDIV:
    case OP_MOD:
        if (!num) {
            if (op == OP_MOD && a.type == JINJA_STRING) return jinja_percent(C, a, b, out);
            return unsupported_op(C, op == OP_MOD ? "%" : "//", a, b);
        }
        if (fnum(b) == 0) {
            if (op == OP_MOD) return jfail(C, flt ? "float modulo" : "integer modulo by zero");
            return jfail(C, flt ? "float floor division by zero" : "integer division or modulo by zero");
        }
        if (flt) {
            double x = fnum(a), y = fnum(b), m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            if (op == OP_MOD) *out = jinja_float(m == 0 ? copysign(0.0, y) : m);
            else *out = jinja_float(floor((x - m) / y + 0.5) == (x - m) / y ? (x - m) / y : floor(x / y));
            return true;
        }
        {
            int64_t x = inum(a), y = inum(b);
            if (x == INT64_MIN && y == -1) return jfail(C, "integer overflow");
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) { q--; m += y; }
            *out = jinja_int(op == OP_MOD ? m : q);
        }
        return true;
    case OP_POW:
        if (!num) return unsupported_op(C, "** or pow()", a, b);
        if (!flt && inum(b) >= 0) {
            int64_t base = inum(a), e = inum(b), r = 1;
            while (e > 0) {
                if ((e & 1) && __builtin_mul_overflow(r, base, &r)) return jfail(C, "integer overflow");
                e >>= 1;
                if (e && __builtin_mul_overflow(base, base, &base)) return jfail(C, "integer overflow");
            }
            *out = jinja_int(r);
            return true;
        }
        if (fnum(a) == 0 && fnum(b) < 0) return jfail(C, "0.0 cannot be raised to a negative power");
        *out = jinja_float(pow(fnum(a), fnum(b)));
        return true;
    }
    return jfail(C, "unknown operator");
}

static bool contains(jctx *C, jv container, jv item, bool *out) {
    switch (container.type) {
    case JINJA_STRING:
        if (item.type != JINJA_STRING) {
            if (item.type == JINJA_UNDEFINED) return jfail_undef(C, item);
            return jfail(C, "'in <string>' requires string as left operand, not %s", py_type_name(item));
        }
        *out = JS(item)->len == 0 || memmem(JS(container)->s, JS(container)->len, JS(item)->s, JS(item)->len) != NULL;
        return true;
    case JINJA_LIST: {
        jlist *l = JL(container);
        bool iter = jl_is_iterator(l);
        if (iter && l->err.type == JINJA_STRING) return jfail(C, "%s", JS(l->err)->s);
        *out = false;
        size_t i = iter ? l->pos : 0;
        for (; i < l->n; i++)
            if (py_eq(l->v[i], item)) { *out = true; i++; break; }
        if (iter) l->pos = i; /* `in` consumes an iterator up to the match */
        return true;
    }
    case JINJA_DICT:
        if ((item.type == JINJA_LIST && !JL(item)->tuple && !jl_is_iterator(JL(item)) && JL(item)->kind != JK_RANGE) ||
            item.type == JINJA_DICT)
            return jfail(C, "unhashable type: '%s'", py_type_name(item));
        *out = jd_get(JD(container), item) != NULL;
        return true;
    case JINJA_UNDEFINED:
        *out = false;
        return true;
    default:
        return jfail(C, "argument of type '%s' is not iterable", py_type_name(container));
    }
}

static bool compare(jctx *C, int op, jv a, jv b, bool *out) {
    switch (op) {
    case CMP_EQ: *out = py_eq(a, b); return true;
    case CMP_NE: *out = !py_eq(a, b); return true;
    case CMP_IN: return contains(C, b, a, out);
    case CMP_NOTIN:
        if (!contains(C, b, a, out)) return false;
        *out = !*out;
        return true;
    default: {
        int c;
        sb_t err;
        jsb_init(&err, 0);
        if (py_cmp(a, b, &c, &err)) {
            if (a.type == JINJA_UNDEFINED || b.type == JINJA_UNDEFINED) { jsb_free(&err); return arith_undef(C, a, b); }
            static const char *names[] = {"", "", "", "<", "<=", ">", ">="};
            jfail(C, "'%s' not supported between instances of '%s' and '%s'", names[op], py_type_name(a), py_type_name(b));
            jsb_free(&err);
            return false;
        }
        jsb_free(&err);
        *out = op == CMP_LT ? c < 0 : op == CMP_LE ? c <= 0 : op == CMP_GT ? c > 0 : c >= 0;
        return true;
    }
    }
}

/* ------------------------------------------------------------- evaluation */

static bool eval(jctx *C, const jnode *x, jscope *s, jv *out);
static int exec_body(jctx *C, const jnode *body, jscope *s, sb_t *out);

static bool step(jctx *C, const jnode *x) {
    C->line = x->line;
    if (++C->steps > C->max_steps) C->hard = true;
    if (C->steps > C->max_steps) return jfail(C, "template exceeded %llu evaluation steps", (unsigned long long)C->max_steps);
    return true;
}

static void free_vals(jv *v, int n) {
    for (int i = 0; i < n; i++) jv_decref(v[i]);
}

/* Evaluate call arguments kids[first..] of x; kwnames come from x. */
static bool eval_args(jctx *C, const jnode *x, int first, jscope *s, jv *vals, jargs *a) {
    int n = x->nkids - first;
    for (int i = 0; i < n; i++) {
        if (!eval(C, x->kids[first + i], s, &vals[i])) { free_vals(vals, i); return false; }
    }
    int npos = x->nargs - first;
    if (npos < 0) npos = 0;
    a->pos = vals;
    a->npos = npos;
    a->kwn = x->kwnames;
    a->kwv = vals + npos;
    a->nkw = x->nkw;
    return true;
}

bool jbind(jctx *C, const char *fname, const jargs *a, const char *const *params, int nparams, jv *out) {
    for (int i = 0; i < nparams; i++) out[i].type = JV_MISSING;
    if (a->npos > nparams)
        return jfail(C, "%s() takes at most %d argument%s (%d given)", fname, nparams, nparams == 1 ? "" : "s", a->npos);
    for (int i = 0; i < a->npos; i++) out[i] = a->pos[i];
    for (int k = 0; k < a->nkw; k++) {
        int i = 0;
        while (i < nparams && strcmp(params[i], a->kwn[k]) != 0) i++;
        if (i == nparams) return jfail(C, "%s() got an unexpected keyword argument '%s'", fname, a->kwn[k]);
        if (out[i].type != JV_MISSING) return jfail(C, "%s() got multiple values for argument '%s'", fname, a->kwn[k]);
        out[i] = a->kwv[k];
    }
    return true;
}

static bool call_body(jctx *C, const jnode *def, jscope *parent, const jargs *a, jv caller, jv *out) {
    const char *name = def->kind == S_MACRO ? def->name : "caller";
    if (C->depth >= C->max_depth) { C->hard = true; return jfail(C, "macro calls nested deeper than %d", C->max_depth); }
    jscope sc;
    scope_init(&sc, parent);
    bool ok = true;
    int nparams = def->nargs;
    if (a->npos > nparams && !def->uses_varargs)
        ok = jfail(C, "macro '%s' takes not more than %d argument(s)", name, nparams);
    jv bound[64];
    if (ok && nparams > 64) ok = jfail(C, "macro '%s' has too many parameters", name);
    for (int i = 0; ok && i < nparams; i++) bound[i].type = JV_MISSING;
    for (int i = 0; ok && i < a->npos && i < nparams; i++) bound[i] = a->pos[i];
    jv kwargs = jinja_dict();
    for (int k = 0; ok && k < a->nkw; k++) {
        int i = 0;
        while (i < nparams && strcmp(def->kids[i]->name, a->kwn[k]) != 0) i++;
        if (i < nparams) {
            if (bound[i].type != JV_MISSING) ok = jfail(C, "macro '%s' got multiple values for argument '%s'", name, a->kwn[k]);
            else bound[i] = a->kwv[k];
        } else if (def->uses_kwargs) {
            jv_incref(a->kwv[k]);
            jd_set(JD(kwargs), jinja_cstring(a->kwn[k]), a->kwv[k]);
        } else ok = jfail(C, "macro '%s' takes no keyword argument '%s'", name, a->kwn[k]);
    }
    /* parameters in order: defaults are evaluated in the macro's scope and may use earlier parameters */
    for (int i = 0; ok && i < nparams; i++) {
        const jnode *p = def->kids[i];
        jv v;
        if (bound[i].type != JV_MISSING) { v = bound[i]; jv_incref(v); }
        else if (p->a) { if (!eval(C, p->a, &sc, &v)) { ok = false; break; } }
        else v = jv_undef_msg("parameter '%s' was not provided", p->name);
        scope_set(&sc, p->name, v);
    }
    if (ok && def->uses_varargs) {
        jv va = jv_list_n(0);
        JL(va)->tuple = true;
        for (int i = nparams; i < a->npos; i++) { jv_incref(a->pos[i]); jl_push(JL(va), a->pos[i]); }
        scope_set(&sc, "varargs", va);
    }
    if (ok && def->uses_kwargs) { scope_set(&sc, "kwargs", kwargs); kwargs = jv_undef(); }
    if (ok && def->uses_caller && caller.type == JINJA_CALLABLE) { jv_incref(caller); scope_set(&sc, "caller", caller); }
    else if (ok && def->uses_caller) scope_set(&sc, "caller", jv_undef_msg("No caller defined"));
    jv_decref(kwargs);
    if (ok) {
        sb_t body;
        jsb_init(&body, C->max_output);
        C->depth++;
        int st = exec_body(C, def->b, &sc, &body);
        C->depth--;
        if (st == ST_ERR) { jsb_free(&body); ok = false; }
        else *out = jv_str_take(&body);
    }
    scope_clear(&sc);
    return ok;
}

bool jcall(jctx *C, jv fn, const jargs *a, jv *out) {
    if (fn.type == JINJA_UNDEFINED) return jfail_undef(C, fn);
    if (fn.type != JINJA_CALLABLE) return jfail(C, "'%s' object is not callable", py_type_name(fn));
    jfunc *f = JF(fn);
    switch (f->kind) {
    case FN_BUILTIN: return jinja_global(C, f->id, a, out);
    case FN_METHOD: return jinja_method(C, f->self, f->id, a, out);
    case FN_MACRO: {
        jv caller = jv_undef();
        jargs b = *a;
        /* a call block passes caller= as the last keyword */
        if (b.nkw && !strcmp(b.kwn[b.nkw - 1], "caller") && f->node->uses_caller) {
            caller = b.kwv[b.nkw - 1];
            b.nkw--;
        }
        return call_body(C, f->node, C->root, &b, caller, out);
    }
    case FN_CALLER:
        if (!f->scope) return jfail(C, "caller() used after its call block ended");
        return call_body(C, f->node, f->scope, a, jv_undef(), out);
    case FN_LOOP_METHOD: {
        jloop *l = JLOOP(f->self);
        if (f->id == 0) { /* cycle */
            if (a->npos == 0) return jfail(C, "no items for cycling given");
            *out = a->pos[l->index0 % (size_t)a->npos];
            jv_incref(*out);
            return true;
        }
        jv t = jv_list_n((size_t)a->npos); /* changed(*values) */
        for (int i = 0; i < a->npos; i++) { jv_incref(a->pos[i]); jl_push(JL(t), a->pos[i]); }
        bool changed = !l->has_changed || !py_eq(t, l->last_changed);
        jv_decref(l->last_changed);
        l->last_changed = t;
        l->has_changed = true;
        *out = jinja_bool(changed);
        return true;
    }
    }
    return jfail(C, "not callable");
}

static bool eval_call(jctx *C, const jnode *x, jscope *s, jv *out, jv extra_caller) {
    jv fn;
    if (!eval(C, x->a, s, &fn)) return false;
    int n = x->nkids;
    jv *vals = malloc((size_t)(n + 1) * sizeof(jv));
    const char **kwn = NULL;
    if (!vals) abort();
    jargs a;
    bool ok = eval_args(C, x, 0, s, vals, &a);
    if (ok && extra_caller.type == JINJA_CALLABLE) {
        kwn = malloc((size_t)(x->nkw + 1) * sizeof *kwn);
        if (!kwn) abort();
        for (int i = 0; i < x->nkw; i++) kwn[i] = x->kwnames[i];
        kwn[x->nkw] = "caller";
        vals[n] = extra_caller;
        a.kwn = kwn;
        a.nkw++;
    }
    if (ok) {
        C->line = x->line;
        ok = jcall(C, fn, &a, out);
        free_vals(vals, n);
    }
    free(kwn);
    free(vals);
    jv_decref(fn);
    return ok && check_nesting(C, out);
}

static bool eval_filter(jctx *C, const jnode *x, jscope *s, jv *out) {
    jv val;
    if (x->a) {
        if (!eval(C, x->a, s, &val)) return false;
    } else {
        val = C->block_input;
        jv_incref(val);
    }
    jv stackvals[8], *vals = x->nkids <= 8 ? stackvals : malloc((size_t)x->nkids * sizeof(jv));
    if (!vals) abort();
    jargs a;
    bool ok = eval_args(C, x, 0, s, vals, &a);
    if (ok) {
        C->line = x->line;
        ok = jinja_filter(C, x->op, x->name, val, &a, out);
        free_vals(vals, x->nkids);
    }
    if (vals != stackvals) free(vals);
    jv_decref(val);
    return ok && check_nesting(C, out);
}

static bool eval_test(jctx *C, const jnode *x, jscope *s, bool *out) {
    jv val;
    if (!eval(C, x->a, s, &val)) return false;
    jv stackvals[4], *vals = x->nkids <= 4 ? stackvals : malloc((size_t)x->nkids * sizeof(jv));
    if (!vals) abort();
    jargs a;
    bool ok = eval_args(C, x, 0, s, vals, &a);
    if (ok) {
        C->line = x->line;
        ok = jinja_test(C, x->op, x->name, val, &a, out);
        free_vals(vals, x->nkids);
    }
    if (vals != stackvals) free(vals);
    jv_decref(val);
    return ok;
}

static bool eval_inner(jctx *C, const jnode *x, jscope *s, jv *out) {
    switch (x->kind) {
    case N_CONST:
        *out = x->value;
        return true;
    case N_NAME:
        *out = lookup(C, s, x->name, x->name_len);
        return true;
    case N_GETATTR: {
        jv obj;
        if (!eval(C, x->a, s, &obj)) return false;
        C->line = x->line;
        bool ok = jgetattr(C, obj, x->name, x->name_len, out);
        jv_decref(obj);
        return ok;
    }
    case N_GETITEM: {
        jv obj;
        if (!eval(C, x->a, s, &obj)) return false;
        bool ok;
        if (x->b->kind == N_SLICE) {
            const jnode *sl = x->b;
            jv parts[3] = {jinja_none(), jinja_none(), jinja_none()};
            const jnode *pn[3] = {sl->a, sl->b, sl->c};
            ok = true;
            for (int i = 0; i < 3 && ok; i++)
                if (pn[i]) ok = eval(C, pn[i], s, &parts[i]);
            C->line = x->line;
            if (ok) ok = slice_value(C, obj, parts[0], parts[1], parts[2], out);
            free_vals(parts, 3);
        } else {
            jv key;
            ok = eval(C, x->b, s, &key);
            C->line = x->line;
            if (ok) {
                ok = jgetitem(C, obj, key, out);
                jv_decref(key);
            }
        }
        jv_decref(obj);
        return ok;
    }
    case N_SLICE:
        return jfail(C, "unsupported: slice outside of a subscript");
    case N_CALL:
        return eval_call(C, x, s, out, jv_undef());
    case N_FILTER:
        return eval_filter(C, x, s, out);
    case N_TEST: {
        bool r;
        if (!eval_test(C, x, s, &r)) return false;
        *out = jinja_bool(r);
        return true;
    }
    case N_BINOP: {
        jv a, b;
        if (!eval(C, x->a, s, &a)) return false;
        if (!eval(C, x->b, s, &b)) { jv_decref(a); return false; }
        C->line = x->line;
        bool ok = binop(C, x->op, a, b, out);
        jv_decref(a);
        jv_decref(b);
        return ok;
    }
    case N_AND:
    case N_OR: {
        jv a;
        if (!eval(C, x->a, s, &a)) return false;
        if (py_truthy(a) == (x->kind == N_OR)) { *out = a; return true; }
        jv_decref(a);
        return eval(C, x->b, s, out);
    }
    case N_NOT: {
        if (x->a->kind == N_TEST) {
            bool r;
            if (!eval_test(C, x->a, s, &r)) return false;
            *out = jinja_bool(!r);
            return true;
        }
        jv a;
        if (!eval(C, x->a, s, &a)) return false;
        *out = jinja_bool(!py_truthy(a));
        jv_decref(a);
        return true;
    }
    case N_NEG:
    case N_POS: {
        jv a;
        if (!eval(C, x->a, s, &a)) return false;
        C->line = x->line;
        bool ok = true;
        if (a.type == JINJA_FLOAT) *out = jinja_float(x->kind == N_NEG ? -a.u.f : a.u.f);
        else if (a.type == JINJA_INT || a.type == JINJA_BOOL) {
            int64_t v = inum(a);
            if (x->kind == N_NEG && v == INT64_MIN) ok = jfail(C, "integer overflow");
            else *out = jinja_int(x->kind == N_NEG ? -v : v);
        } else if (a.type == JINJA_UNDEFINED) ok = jfail_undef(C, a);
        else ok = jfail(C, "bad operand type for unary %c: '%s'", x->kind == N_NEG ? '-' : '+', py_type_name(a));
        jv_decref(a);
        return ok;
    }
    case N_CONCAT: {
        sb_t b;
        jsb_init(&b, C->max_output);
        for (int i = 0; i < x->nkids; i++) {
            jv v;
            if (!eval(C, x->kids[i], s, &v)) { jsb_free(&b); return false; }
            py_str(v, &b);
            jv_decref(v);
            if (!jcheck_str(C, &b)) { jsb_free(&b); return false; }
        }
        *out = jv_str_take(&b);
        return true;
    }
    case N_COMPARE: {
        jv left;
        if (!eval(C, x->a, s, &left)) return false;
        for (int i = 0; i < x->nkids; i++) {
            jv right;
            if (!eval(C, x->kids[i], s, &right)) { jv_decref(left); return false; }
            bool r;
            C->line = x->line;
            bool ok = compare(C, x->ops[i], left, right, &r);
            jv_decref(left);
            left = right;
            if (!ok) { jv_decref(left); return false; }
            if (!r) { jv_decref(left); *out = jinja_bool(false); return true; }
        }
        jv_decref(left);
        *out = jinja_bool(true);
        return true;
    }
    case N_CONDEXPR: {
        jv t;
        if (!eval(C, x->a, s, &t)) return false;
        bool truth = py_truthy(t);
        jv_decref(t);
        if (truth) return eval(C, x->b, s, out);
        if (x->c) return eval(C, x->c, s, out);
        *out = jv_undef_msg("the inline if-expression on line %d evaluated to false and no else section was defined.", x->line);
        return true;
    }
    case N_LIST:
    case N_TUPLE: {
        jv l = jv_list_n((size_t)x->nkids);
        JL(l)->tuple = x->kind == N_TUPLE;
        for (int i = 0; i < x->nkids; i++) {
            jv v;
            if (!eval(C, x->kids[i], s, &v)) { jv_decref(l); return false; }
            jl_push(JL(l), v);
        }
        *out = l;
        return check_nesting(C, out);
    }
    case N_DICT: {
        jv d = jinja_dict();
        for (int i = 0; i + 1 < x->nkids; i += 2) {
            jv k, v;
            if (!eval(C, x->kids[i], s, &k)) { jv_decref(d); return false; }
            if (k.type == JINJA_LIST && !JL(k)->tuple) { jv_decref(k); jv_decref(d); return jfail(C, "unhashable type: 'list'"); }
            if (k.type == JINJA_DICT) { jv_decref(k); jv_decref(d); return jfail(C, "unhashable type: 'dict'"); }
            if (!eval(C, x->kids[i + 1], s, &v)) { jv_decref(k); jv_decref(d); return false; }
            jd_set(JD(d), k, v);
        }
        *out = d;
        return check_nesting(C, out);
    }
    default:
        return jfail(C, "internal error: statement in expression");
    }
}

static bool eval(jctx *C, const jnode *x, jscope *s, jv *out) {
    if (!step(C, x)) return false;
    if (++C->rec > MAX_REC) { C->rec--; C->hard = true; return jfail(C, "template recursion too deep"); }
    bool ok = eval_inner(C, x, s, out);
    C->rec--;
    return ok;
}

/* ------------------------------------------------------------- statements */

/* Bind an assignment target (name or nested tuple of names); steals v. */
static bool assign(jctx *C, const jnode *target, jv v, jscope *s) {
    if (target->kind == N_NAME) {
        scope_set(s, target->name, v);
        return true;
    }
    jv items;
    if (v.type == JINJA_UNDEFINED) { bool r = jfail_undef(C, v); jv_decref(v); return r; }
    if (!jiterate(C, v, &items)) { jv_decref(v); return false; }
    jv_decref(v);
    size_t n = JL(items)->n, want = (size_t)target->nkids;
    bool ok = true;
    if (n < want) ok = jfail(C, "not enough values to unpack (expected %zu, got %zu)", want, n);
    else if (n > want) ok = jfail(C, "too many values to unpack (expected %zu)", want);
    for (size_t i = 0; ok && i < want; i++) {
        jv_incref(JL(items)->v[i]);
        ok = assign(C, target->kids[i], JL(items)->v[i], s);
    }
    jv_decref(items);
    return ok;
}

static int exec_for(jctx *C, const jnode *x, jscope *s, sb_t *out) {
    jv iterable, items;
    if (!eval(C, x->b, s, &iterable)) return ST_ERR;
    C->line = x->line;
    bool ok = jiterate(C, iterable, &items);
    jv_decref(iterable);
    if (!ok) return ST_ERR;
    if (x->c) { /* `for x in y if cond`: filter first, so loop.length/last count only kept items */
        jv kept = jv_list_n(0);
        for (size_t i = 0; i < JL(items)->n; i++) {
            jscope fs;
            scope_init(&fs, s);
            jv_incref(JL(items)->v[i]);
            jv cond;
            ok = assign(C, x->a, JL(items)->v[i], &fs) && eval(C, x->c, &fs, &cond);
            scope_clear(&fs);
            if (!ok) { jv_decref(kept); jv_decref(items); return ST_ERR; }
            if (py_truthy(cond)) { jv_incref(JL(items)->v[i]); jl_push(JL(kept), JL(items)->v[i]); }
            jv_decref(cond);
        }
        jv_decref(items);
        items = kept;
    }
    size_t n = JL(items)->n;
    int st = ST_OK;
    if (n == 0) {
        jv_decref(items);
        if (x->kids[0]) {
            jscope es;
            scope_init(&es, s);
            st = exec_body(C, x->kids[0], &es, out);
            scope_clear(&es);
        }
        return st == ST_ERR ? ST_ERR : ST_OK;
    }
    jloop *lp = calloc(1, sizeof *lp);
    if (!lp) abort();
    lp->rc = 1;
    lp->items = items;
    lp->last_changed = jv_undef();
    jv loopv = {.type = JINJA_LOOP};
    loopv.u.obj = lp;
    for (size_t i = 0; i < n; i++) {
        if (!step(C, x)) { st = ST_ERR; break; } /* empty bodies must still cost something */
        lp->index0 = i;
        jscope ls;
        scope_init(&ls, s);
        jv_incref(loopv);
        scope_set(&ls, "loop", loopv);
        jv_incref(JL(items)->v[i]);
        C->line = x->line;
        st = assign(C, x->a, JL(items)->v[i], &ls) ? exec_body(C, x->d, &ls, out) : ST_ERR;
        scope_clear(&ls);
        if (st == ST_ERR) break;
        if (st == ST_BREAK) { st = ST_OK; break; }
        st = ST_OK;
    }
    jv_decref(loopv);
    return st;
}

static int exec_stmt(jctx *C, const jnode *x, jscope *s, sb_t *out) {
    if (!step(C, x)) return ST_ERR;
    switch (x->kind) {
    case S_DATA:
        jsb_put(out, JS(x->value)->s, JS(x->value)->len);
        return jcheck_str(C, out) ? ST_OK : ST_ERR;
    case S_OUTPUT: {
        jv v;
        if (!eval(C, x->a, s, &v)) return ST_ERR;
        py_str(v, out);
        jv_decref(v);
        return jcheck_str(C, out) ? ST_OK : ST_ERR;
    }
    case S_IF:
        for (const jnode *br = x; br;) {
            jv t;
            if (!eval(C, br->a, s, &t)) return ST_ERR;
            bool truth = py_truthy(t);
            jv_decref(t);
            if (truth) return exec_body(C, br->b, s, out);
            if (br->c && br->c->kind == S_IF) br = br->c;
            else return br->c ? exec_body(C, br->c, s, out) : ST_OK;
        }
        return ST_OK;
    case S_FOR:
        return exec_for(C, x, s, out);
    case S_SET: {
        jv v;
        if (!eval(C, x->b, s, &v)) return ST_ERR;
        C->line = x->line;
        return assign(C, x->a, v, s) ? ST_OK : ST_ERR;
    }
    case S_SET_NS: {
        jv ns = lookup(C, s, x->a->name, x->a->name_len);
        if (ns.type != JINJA_NAMESPACE) {
            jv_decref(ns);
            jfail(C, "Cannot assign attribute on non-namespace object");
            return ST_ERR;
        }
        jv v;
        if (!eval(C, x->b, s, &v)) { jv_decref(ns); return ST_ERR; }
        jd_set(JD(ns), jv_strn(x->name, x->name_len), v);
        jv_decref(ns);
        return ST_OK;
    }
    case S_SET_BLOCK:
    case S_FILTERBLOCK: {
        jscope bs;
        scope_init(&bs, s);
        sb_t body;
        jsb_init(&body, C->max_output);
        int st = exec_body(C, x->b, &bs, &body);
        scope_clear(&bs);
        if (st == ST_ERR) { jsb_free(&body); return ST_ERR; }
        jv v = jv_str_take(&body);
        const jnode *filter = x->kind == S_SET_BLOCK ? x->c : x->a;
        if (filter) {
            jv saved = C->block_input, r;
            C->block_input = v;
            bool ok = eval(C, filter, s, &r);
            C->block_input = saved;
            jv_decref(v);
            if (!ok) return ST_ERR;
            v = r;
        }
        if (x->kind == S_SET_BLOCK) {
            scope_set(s, x->a->name, v);
            return ST_OK;
        }
        py_str(v, out);
        jv_decref(v);
        return jcheck_str(C, out) ? ST_OK : ST_ERR;
    }
    case S_MACRO: {
        jv m = jv_func_new(FN_MACRO, 0, jv_undef(), x->name);
        JF(m)->node = x;
        scope_set(s, x->name, m);
        return ST_OK;
    }
    case S_CALLBLOCK: {
        jv caller = jv_func_new(FN_CALLER, 0, jv_undef(), "caller");
        JF(caller)->node = x;
        JF(caller)->scope = s;
        jv r;
        bool ok = eval_call(C, x->a, s, &r, caller);
        JF(caller)->scope = NULL; /* the scope dies with this statement */
        jv_decref(caller);
        if (!ok) return ST_ERR;
        py_str(r, out);
        jv_decref(r);
        return jcheck_str(C, out) ? ST_OK : ST_ERR;
    }
    case S_WITH: {
        jscope ws;
        scope_init(&ws, s);
        for (int i = 0; i < x->nkids; i++) {
            jv v;
            if (!eval(C, x->kids[i]->a, s, &v)) { scope_clear(&ws); return ST_ERR; }
            scope_set(&ws, x->kids[i]->name, v);
        }
        int st = exec_body(C, x->b, &ws, out);
        scope_clear(&ws);
        return st;
    }
    case S_BREAK: return ST_BREAK;
    case S_CONTINUE: return ST_CONTINUE;
    case S_BODY: return exec_body(C, x, s, out);
    default:
        jfail(C, "internal error: expression as statement");
        return ST_ERR;
    }
}

static int exec_body(jctx *C, const jnode *body, jscope *s, sb_t *out) {
    if (++C->rec > MAX_REC) { C->rec--; C->hard = true; jfail(C, "template recursion too deep"); return ST_ERR; }
    int st = ST_OK;
    for (int i = 0; i < body->nkids; i++) {
        st = exec_stmt(C, body->kids[i], s, out);
        if (st != ST_OK) break;
    }
    C->rec--;
    return st;
}

/* ------------------------------------------------------------------ API */

jinja_template *jinja_parse(const char *source, size_t len) {
    hearth_clear_error();
    jinja_template *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    jtok *toks;
    long n = jinja_lex(source, len, &t->arena, &toks);
    if (n < 0 || !(t->root = jinja_parse_tokens(toks, n, &t->arena))) {
        jinja_free(t);
        return NULL;
    }
    return t;
}

void jinja_free(jinja_template *t) {
    if (!t) return;
    arena_free(&t->arena);
    free(t);
}

char *jinja_render(const jinja_template *t, jinja_value vars, const jinja_options *opts, size_t *len) {
    hearth_clear_error();
    jinja_options o = {0};
    if (opts) o = *opts;
    jctx C;
    memset(&C, 0, sizeof C);
    C.vars = vars.type == JINJA_DICT ? JD(vars) : NULL;
    C.max_output = o.max_output ? o.max_output : (size_t)64 << 20;
    C.max_depth = o.max_depth > 0 ? o.max_depth : 200;
    C.max_steps = o.max_steps ? o.max_steps : 50000000ull;
    C.now = o.now ? o.now : (int64_t)time(NULL);
    C.block_input = jv_undef();
    jsb_init(&C.err, 0);
    jscope root;
    scope_init(&root, NULL);
    C.root = &root;
    sb_t out;
    jsb_init(&out, C.max_output);
    int st = exec_body(&C, t->root, &root, &out);
    scope_clear(&root);
    /* empty every namespace first: they are the only values that can form cycles or long chains */
    for (size_t i = 0; i < C.nns; i++) {
        jdict *d = JD(C.namespaces[i]);
        jv *keys = d->k, *vals = d->v;
        size_t n = d->n;
        d->k = d->v = NULL;
        d->n = d->cap = 0;
        free(d->idx);
        d->idx = NULL;
        for (size_t k = 0; k < n; k++) { jv_decref(keys[k]); jv_decref(vals[k]); }
        free(keys);
        free(vals);
    }
    for (size_t i = 0; i < C.nns; i++) jv_decref(C.namespaces[i]);
    free(C.namespaces);
    char *result = NULL;
    if (st == ST_ERR || C.failed) {
        hearth_fail(HEARTH_ERR_FORMAT, "%s", C.err.p ? C.err.p : "jinja: render failed");
        jsb_free(&out);
    } else {
        result = jsb_take(&out, len);
    }
    jsb_free(&C.err);
    return result;
}
