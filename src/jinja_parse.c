/* jinja_parse.c — tokens to AST, with jinja2's grammar and precedence:
 *   condexpr: or ('if' or ('else' condexpr)?)*         (a missing else yields undefined)
 *   or / and / not, compare (== != < <= > >= in, not in; chained), + -, ~, * / // %, ** (left assoc),
 *   unary - +, then primary with postfix (.attr [subscript] (call)), then filters `|f(args)`, tests
 *   `is [not] t(args)` and calls, which therefore bind tighter than every binary operator.
 * Statements: for (targets, `if` filter, else), if/elif/else, set (incl. block set and ns.attr), macro,
 * call blocks, filter blocks, with, break/continue (loopcontrols), generation (transformers' tag).
 * Anything else (extends, include, import, block, ...) is rejected with the tag's name and line.
 * Nesting is bounded so hostile templates cannot exhaust the C stack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jinja_internal.h"
#include "util.h"

enum { MAX_PARSE_DEPTH = 400 }; /* AST depth: nesting plus operator chain lengths */

typedef struct {
    const jtok *t;
    long n, pos;
    jarena *a;
    int depth;
    int loop_depth;
    jnode *macro; /* innermost macro being parsed (to note varargs/kwargs/caller use) */
    bool failed;
} parser;

typedef struct {
    jnode **v;
    int n, cap;
} nodevec;

static void nv_push(nodevec *v, jnode *x) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->v = realloc(v->v, (size_t)v->cap * sizeof *v->v);
        if (!v->v) abort();
    }
    v->v[v->n++] = x;
}

static jnode **nv_finish(parser *P, nodevec *v) {
    jnode **out = NULL;
    if (v->n) {
        out = arena_alloc(P->a, (size_t)v->n * sizeof *out);
        memcpy(out, v->v, (size_t)v->n * sizeof *out);
    }
    free(v->v);
    v->v = NULL;
    return out;
}

static const jtok *cur(parser *P) { return &P->t[P->pos]; }
static const jtok *peek(parser *P, int k) { return &P->t[P->pos + k < P->n ? P->pos + k : P->n - 1]; }
static void adv(parser *P) { if (P->pos < P->n - 1) P->pos++; }

static void describe(const jtok *t, char *buf, size_t n) {
    static const char *opnames[] = {"", "+", "-", "/", "//", "*", "%", "**", "~", "[", "]", "(", ")", "{", "}",
                                    "==", "!=", ">", ">=", "<", "<=", "=", ".", ":", "|", ",", ";"};
    switch (t->type) {
    case T_EOF: snprintf(buf, n, "end of template"); break;
    case T_DATA: snprintf(buf, n, "template data"); break;
    case T_BLOCK_BEGIN: snprintf(buf, n, "begin of statement block"); break;
    case T_BLOCK_END: snprintf(buf, n, "end of statement block"); break;
    case T_VAR_BEGIN: snprintf(buf, n, "begin of print statement"); break;
    case T_VAR_END: snprintf(buf, n, "end of print statement"); break;
    case T_NAME: snprintf(buf, n, "%.40s", t->s); break;
    case T_STRING: snprintf(buf, n, "string"); break;
    case T_INT: snprintf(buf, n, "integer"); break;
    case T_FLOAT: snprintf(buf, n, "float"); break;
    case T_OP: snprintf(buf, n, "%s", opnames[t->op]); break;
    }
}

static jnode *fail_at(parser *P, int line, const char *fmt, const char *arg) {
    if (!P->failed) {
        char msg[200];
        snprintf(msg, sizeof msg, fmt, arg);
        hearth_fail(HEARTH_ERR_FORMAT, "jinja: line %d: %s", line, msg);
    }
    P->failed = true;
    return NULL;
}

static jnode *fail_unexpected(parser *P) {
    char d[64];
    describe(cur(P), d, sizeof d);
    return fail_at(P, cur(P)->line, "unexpected '%s'", d);
}

static bool is_op(parser *P, int op) { return cur(P)->type == T_OP && cur(P)->op == op; }
static bool is_name(parser *P, const char *name) { return cur(P)->type == T_NAME && strcmp(cur(P)->s, name) == 0; }

static bool skip_op(parser *P, int op) {
    if (!is_op(P, op)) return false;
    adv(P);
    return true;
}

static bool skip_name(parser *P, const char *name) {
    if (!is_name(P, name)) return false;
    adv(P);
    return true;
}

static bool expect_op(parser *P, int op, const char *what) {
    if (skip_op(P, op)) return true;
    char d[64], msg[160];
    describe(cur(P), d, sizeof d);
    snprintf(msg, sizeof msg, "expected token '%s', got '%s'", what, d);
    fail_at(P, cur(P)->line, "%s", msg);
    return false;
}

static bool expect_type(parser *P, jtok_type type, const char *what) {
    if (cur(P)->type == type) { adv(P); return true; }
    char d[64], msg[160];
    describe(cur(P), d, sizeof d);
    snprintf(msg, sizeof msg, "expected token '%s', got '%s'", what, d);
    fail_at(P, cur(P)->line, "%s", msg);
    return false;
}

static jnode *mk(parser *P, jnode_kind kind, int line) {
    jnode *x = arena_alloc(P->a, sizeof *x);
    x->kind = kind;
    x->line = line;
    return x;
}

static jnode *mk_const(parser *P, jv v, int line) {
    jv_make_immortal(v);
    if (v.type == JINJA_STRING) arena_own(P->a, v.u.obj);
    jnode *x = mk(P, N_CONST, line);
    x->value = v;
    return x;
}

static bool enter(parser *P) {
    if (++P->depth > MAX_PARSE_DEPTH) {
        fail_at(P, cur(P)->line, "%s", "template nesting too deep");
        return false;
    }
    return true;
}

static jnode *parse_expression(parser *P, bool with_condexpr);
static jnode *parse_tuple(parser *P, bool simplified, bool with_condexpr, const char *extra_end, bool explicit_parens);
static jnode *parse_unary(parser *P, bool with_filter);
static jnode *parse_primary(parser *P);
static jnode *parse_postfix(parser *P, jnode *node);
static jnode *parse_filter_expr(parser *P, jnode *node);
static jnode *parse_filter(parser *P, jnode *node, bool start_inline);

/* ( args, name=value, ... ) into kids[0..nargs) + kids[nargs..] with kwnames */
static bool parse_call_args(parser *P, jnode *x) {
    nodevec pos = {0}, kw = {0};
    const char **names = NULL;
    int nnames = 0;
    bool ok = expect_op(P, OP_LPAREN, "(");
    bool require_comma = false;
    while (ok && !is_op(P, OP_RPAREN)) {
        if (require_comma) {
            if (!expect_op(P, OP_COMMA, ",")) { ok = false; break; }
            if (is_op(P, OP_RPAREN)) break;
        }
        if (is_op(P, OP_MUL) || is_op(P, OP_POW)) {
            fail_at(P, cur(P)->line, "%s", "unsupported: *args / **kwargs in calls");
            ok = false;
            break;
        }
        if (cur(P)->type == T_NAME && peek(P, 1)->type == T_OP && peek(P, 1)->op == OP_ASSIGN) {
            const char *key = cur(P)->s;
            adv(P);
            adv(P);
            jnode *v = parse_expression(P, true);
            if (!v) { ok = false; break; }
            names = realloc(names, (size_t)(nnames + 1) * sizeof *names);
            if (!names) abort();
            names[nnames++] = key;
            nv_push(&kw, v);
        } else {
            if (kw.n) { fail_at(P, cur(P)->line, "%s", "positional argument follows keyword argument"); ok = false; break; }
            jnode *v = parse_expression(P, true);
            if (!v) { ok = false; break; }
            nv_push(&pos, v);
        }
        require_comma = true;
    }
    if (ok) ok = expect_op(P, OP_RPAREN, ")");
    x->nargs = pos.n;
    x->nkw = kw.n;
    for (int i = 0; i < kw.n; i++) nv_push(&pos, kw.v[i]);
    free(kw.v);
    x->nkids = pos.n;
    x->kids = nv_finish(P, &pos);
    if (nnames) {
        x->kwnames = arena_alloc(P->a, (size_t)nnames * sizeof *x->kwnames);
        memcpy(x->kwnames, names, (size_t)nnames * sizeof *names);
    }
    free(names);
    return ok;
}

static jnode *parse_condexpr(parser *P) {
    int line = cur(P)->line;
    jnode *expr1 = parse_expression(P, false);
    while (expr1 && skip_name(P, "if")) {
        jnode *expr2 = parse_expression(P, false), *expr3 = NULL;
        if (!expr2) return NULL;
        if (skip_name(P, "else")) {
            expr3 = parse_condexpr(P);
            if (!expr3) return NULL;
        }
        jnode *x = mk(P, N_CONDEXPR, line);
        x->a = expr2; /* test */
        x->b = expr1; /* then */
        x->c = expr3; /* else (may be NULL) */
        expr1 = x;
        line = cur(P)->line;
    }
    return expr1;
}

static jnode *parse_not(parser *P);

static jnode *parse_math2(parser *P);
static jnode *parse_concat(parser *P) {
    int line = cur(P)->line;
    jnode *first = parse_math2(P);
    if (!first || !is_op(P, OP_TILDE)) return first;
    nodevec args = {0};
    nv_push(&args, first);
    while (skip_op(P, OP_TILDE)) {
        jnode *x = parse_math2(P);
        if (!x) { free(args.v); return NULL; }
        nv_push(&args, x);
    }
    jnode *c = mk(P, N_CONCAT, line);
    c->nkids = args.n;
    c->kids = nv_finish(P, &args);
    return c;
}

static jnode *binop(parser *P, int op, jnode *l, jnode *r, int line) {
    jnode *x = mk(P, N_BINOP, line);
    x->op = op;
    x->a = l;
    x->b = r;
    return x;
}

static jnode *parse_pow(parser *P) {
    int line = cur(P)->line;
    jnode *left = parse_unary(P, true);
    int chain = 0;
    while (left && is_op(P, OP_POW)) {
        adv(P);
        jnode *right = enter(P) ? (chain++, parse_unary(P, true)) : NULL;
        if (!right) { P->depth -= chain; return NULL; }
        left = binop(P, OP_POW, left, right, line);
        line = cur(P)->line;
    }
    P->depth -= chain;
    return left;
}

static jnode *parse_math2(parser *P) {
    int line = cur(P)->line;
    jnode *left = parse_pow(P);
    int chain = 0;
    while (left && (is_op(P, OP_MUL) || is_op(P, OP_DIV) || is_op(P, OP_FLOORDIV) || is_op(P, OP_MOD))) {
        int op = cur(P)->op;
        adv(P);
        jnode *right = enter(P) ? (chain++, parse_pow(P)) : NULL;
        if (!right) { P->depth -= chain; return NULL; }
        left = binop(P, op, left, right, line);
        line = cur(P)->line;
    }
    P->depth -= chain;
    return left;
}

static jnode *parse_math1(parser *P) {
    int line = cur(P)->line;
    jnode *left = parse_concat(P);
    int chain = 0;
    while (left && (is_op(P, OP_ADD) || is_op(P, OP_SUB))) {
        int op = cur(P)->op;
        adv(P);
        jnode *right = enter(P) ? (chain++, parse_concat(P)) : NULL;
        if (!right) { P->depth -= chain; return NULL; }
        left = binop(P, op, left, right, line);
        line = cur(P)->line;
    }
    P->depth -= chain;
    return left;
}

enum { CMP_EQ = 1, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_IN, CMP_NOTIN };

static jnode *parse_compare(parser *P) {
    int line = cur(P)->line;
    jnode *expr = parse_math1(P);
    if (!expr) return NULL;
    nodevec operands = {0};
    int ops[64], nops = 0;
    for (;;) {
        int op = 0;
        if (cur(P)->type == T_OP) {
            switch (cur(P)->op) {
            case OP_EQ: op = CMP_EQ; break;
            case OP_NE: op = CMP_NE; break;
            case OP_LT: op = CMP_LT; break;
            case OP_LTEQ: op = CMP_LE; break;
            case OP_GT: op = CMP_GT; break;
            case OP_GTEQ: op = CMP_GE; break;
            }
            if (op) adv(P);
        } else if (is_name(P, "in")) {
            op = CMP_IN;
            adv(P);
        } else if (is_name(P, "not") && peek(P, 1)->type == T_NAME && strcmp(peek(P, 1)->s, "in") == 0) {
            op = CMP_NOTIN;
            adv(P);
            adv(P);
        }
        if (!op) break;
        if (nops == 64) { free(operands.v); return fail_at(P, line, "%s", "comparison chain too long"); }
        jnode *r = parse_math1(P);
        if (!r) { free(operands.v); return NULL; }
        ops[nops++] = op;
        nv_push(&operands, r);
    }
    if (!nops) return expr;
    jnode *x = mk(P, N_COMPARE, line);
    x->a = expr;
    x->nkids = operands.n;
    x->kids = nv_finish(P, &operands);
    x->ops = arena_alloc(P->a, (size_t)nops * sizeof(int));
    memcpy(x->ops, ops, (size_t)nops * sizeof(int));
    return x;
}

static jnode *parse_not(parser *P) {
    if (is_name(P, "not")) {
        int line = cur(P)->line;
        adv(P);
        if (!enter(P)) return NULL;
        jnode *e = parse_not(P);
        P->depth--;
        if (!e) return NULL;
        jnode *x = mk(P, N_NOT, line);
        x->a = e;
        return x;
    }
    return parse_compare(P);
}

static jnode *parse_and(parser *P) {
    int line = cur(P)->line;
    jnode *left = parse_not(P);
    int chain = 0;
    while (left && skip_name(P, "and")) {
        jnode *right = enter(P) ? (chain++, parse_not(P)) : NULL;
        if (!right) { P->depth -= chain; return NULL; }
        jnode *x = mk(P, N_AND, line);
        x->a = left;
        x->b = right;
        left = x;
        line = cur(P)->line;
    }
    P->depth -= chain;
    return left;
}

static jnode *parse_or(parser *P) {
    int line = cur(P)->line;
    jnode *left = parse_and(P);
    int chain = 0;
    while (left && skip_name(P, "or")) {
        jnode *right = enter(P) ? (chain++, parse_and(P)) : NULL;
        if (!right) { P->depth -= chain; return NULL; }
        jnode *x = mk(P, N_OR, line);
        x->a = left;
        x->b = right;
        left = x;
        line = cur(P)->line;
    }
    P->depth -= chain;
    return left;
}

static jnode *parse_expression(parser *P, bool with_condexpr) {
    if (!enter(P)) return NULL;
    jnode *x = with_condexpr ? parse_condexpr(P) : parse_or(P);
    P->depth--;
    return x;
}

static jnode *parse_unary(parser *P, bool with_filter) {
    int line = cur(P)->line;
    jnode *node;
    if (!enter(P)) return NULL;
    if (is_op(P, OP_SUB) || is_op(P, OP_ADD)) {
        bool neg = cur(P)->op == OP_SUB;
        adv(P);
        jnode *e = parse_unary(P, false);
        if (!e) { P->depth--; return NULL; }
        node = mk(P, neg ? N_NEG : N_POS, line);
        node->a = e;
    } else {
        node = parse_primary(P);
    }
    if (node) node = parse_postfix(P, node);
    if (node && with_filter) node = parse_filter_expr(P, node);
    P->depth--;
    return node;
}

static void note_name(parser *P, const char *name) {
    if (!P->macro) return;
    if (strcmp(name, "varargs") == 0) P->macro->uses_varargs = true;
    else if (strcmp(name, "kwargs") == 0) P->macro->uses_kwargs = true;
    else if (strcmp(name, "caller") == 0) P->macro->uses_caller = true;
}

static jnode *parse_list_or_dict(parser *P, bool dict) {
    int line = cur(P)->line;
    adv(P);
    nodevec items = {0};
    int close = dict ? OP_RBRACE : OP_RBRACKET;
    while (!is_op(P, close)) {
        if (items.n && !expect_op(P, OP_COMMA, ",")) { free(items.v); return NULL; }
        if (is_op(P, close)) break;
        jnode *k = parse_expression(P, true);
        if (!k) { free(items.v); return NULL; }
        nv_push(&items, k);
        if (dict) {
            if (!expect_op(P, OP_COLON, ":")) { free(items.v); return NULL; }
            jnode *v = parse_expression(P, true);
            if (!v) { free(items.v); return NULL; }
            nv_push(&items, v);
        }
    }
    if (!expect_op(P, close, dict ? "}" : "]")) { free(items.v); return NULL; }
    jnode *x = mk(P, dict ? N_DICT : N_LIST, line);
    x->nkids = items.n;
    x->kids = nv_finish(P, &items);
    return x;
}

static jnode *parse_primary(parser *P) {
    const jtok *t = cur(P);
    int line = t->line;
    switch (t->type) {
    case T_NAME: {
        const char *s = t->s;
        adv(P);
        if (!strcmp(s, "true") || !strcmp(s, "True")) return mk_const(P, jinja_bool(true), line);
        if (!strcmp(s, "false") || !strcmp(s, "False")) return mk_const(P, jinja_bool(false), line);
        if (!strcmp(s, "none") || !strcmp(s, "None")) return mk_const(P, jinja_none(), line);
        jnode *x = mk(P, N_NAME, line);
        x->name = s;
        x->name_len = t->n;
        note_name(P, s);
        return x;
    }
    case T_STRING: {
        sb_t b;
        jsb_init(&b, 0);
        while (cur(P)->type == T_STRING) { /* adjacent literals concatenate */
            jsb_put(&b, cur(P)->s, cur(P)->n);
            adv(P);
        }
        return mk_const(P, jv_str_take(&b), line);
    }
    case T_INT: adv(P); return mk_const(P, jinja_int(t->i), line);
    case T_FLOAT: adv(P); return mk_const(P, jinja_float(t->f), line);
    case T_OP:
        if (t->op == OP_LPAREN) {
            adv(P);
            jnode *x = parse_tuple(P, false, true, NULL, true);
            if (!x || !expect_op(P, OP_RPAREN, ")")) return NULL;
            return x;
        }
        if (t->op == OP_LBRACKET) return parse_list_or_dict(P, false);
        if (t->op == OP_LBRACE) return parse_list_or_dict(P, true);
        break;
    default:
        break;
    }
    return fail_unexpected(P);
}

static bool is_tuple_end(parser *P, const char *extra_end) {
    const jtok *t = cur(P);
    if (t->type == T_VAR_END || t->type == T_BLOCK_END || t->type == T_EOF) return true;
    if (t->type == T_OP && t->op == OP_RPAREN) return true;
    return extra_end && t->type == T_NAME && strcmp(t->s, extra_end) == 0;
}

static jnode *parse_tuple(parser *P, bool simplified, bool with_condexpr, const char *extra_end, bool explicit_parens) {
    int line = cur(P)->line;
    nodevec args = {0};
    bool is_tuple = false;
    for (;;) {
        if (args.n && !expect_op(P, OP_COMMA, ",")) { free(args.v); return NULL; }
        if (is_tuple_end(P, extra_end)) break;
        jnode *x;
        if (simplified) {
            if (!enter(P)) { free(args.v); return NULL; }
            x = parse_primary(P);
            P->depth--;
        } else x = parse_expression(P, with_condexpr);
        if (!x) { free(args.v); return NULL; }
        nv_push(&args, x);
        if (is_op(P, OP_COMMA)) is_tuple = true;
        else break;
    }
    if (!is_tuple) {
        if (args.n) {
            jnode *x = args.v[0];
            free(args.v);
            return x;
        }
        if (!explicit_parens) {
            free(args.v);
            char d[64];
            describe(cur(P), d, sizeof d);
            return fail_at(P, cur(P)->line, "expected an expression, got '%s'", d);
        }
    }
    jnode *t = mk(P, N_TUPLE, line);
    t->nkids = args.n;
    t->kids = nv_finish(P, &args);
    return t;
}

/* [a], [a:b:c], [a, b] */
static jnode *parse_subscribed(parser *P) {
    int line = cur(P)->line;
    jnode *args[3] = {NULL, NULL, NULL};
    if (is_op(P, OP_COLON)) {
        adv(P);
    } else {
        jnode *node = parse_expression(P, true);
        if (!node) return NULL;
        if (!is_op(P, OP_COLON)) return node;
        adv(P);
        args[0] = node;
    }
    if (!is_op(P, OP_COLON) && !is_op(P, OP_RBRACKET) && !is_op(P, OP_COMMA)) {
        if (!(args[1] = parse_expression(P, true))) return NULL;
    }
    if (is_op(P, OP_COLON)) {
        adv(P);
        if (!is_op(P, OP_RBRACKET) && !is_op(P, OP_COMMA))
            if (!(args[2] = parse_expression(P, true))) return NULL;
    }
    jnode *s = mk(P, N_SLICE, line);
    s->a = args[0];
    s->b = args[1];
    s->c = args[2];
    return s;
}

static jnode *parse_postfix(parser *P, jnode *node) {
    int chain = 0;
    while (node) {
        if (!enter(P)) { node = NULL; break; }
        chain++;
        int line = cur(P)->line;
        if (is_op(P, OP_DOT)) {
            adv(P);
            const jtok *t = cur(P);
            if (t->type == T_NAME) {
                adv(P);
                jnode *x = mk(P, N_GETATTR, line);
                x->a = node;
                x->name = t->s;
                x->name_len = t->n;
                node = x;
            } else if (t->type == T_INT) {
                adv(P);
                jnode *x = mk(P, N_GETITEM, line);
                x->a = node;
                x->b = mk_const(P, jinja_int(t->i), line);
                node = x;
            } else return fail_at(P, t->line, "%s", "expected name or number");
        } else if (is_op(P, OP_LBRACKET)) {
            adv(P);
            nodevec args = {0};
            while (!is_op(P, OP_RBRACKET)) {
                if (args.n && !expect_op(P, OP_COMMA, ",")) { free(args.v); return NULL; }
                jnode *x = parse_subscribed(P);
                if (!x) { free(args.v); return NULL; }
                nv_push(&args, x);
            }
            if (!expect_op(P, OP_RBRACKET, "]")) { free(args.v); return NULL; }
            jnode *x = mk(P, N_GETITEM, line);
            x->a = node;
            if (args.n == 1) {
                x->b = args.v[0];
                free(args.v);
            } else {
                jnode *t = mk(P, N_TUPLE, line);
                t->nkids = args.n;
                t->kids = nv_finish(P, &args);
                x->b = t;
            }
            node = x;
        } else if (is_op(P, OP_LPAREN)) {
            jnode *x = mk(P, N_CALL, line);
            x->a = node;
            if (!parse_call_args(P, x)) return NULL;
            node = x;
        } else break;
    }
    P->depth -= chain;
    return node;
}

static jnode *parse_filter(parser *P, jnode *node, bool start_inline) {
    int chain = 0;
    for (;;) {
        if (!is_op(P, OP_PIPE) && !start_inline) break;
        if (!enter(P)) { P->depth -= chain; return NULL; }
        chain++;
        if (!start_inline) adv(P);
        const jtok *t = cur(P);
        if (t->type != T_NAME) return fail_unexpected(P);
        adv(P);
        sb_t name;
        jsb_init(&name, 0);
        jsb_put(&name, t->s, t->n);
        while (is_op(P, OP_DOT)) {
            adv(P);
            if (cur(P)->type != T_NAME) { jsb_free(&name); return fail_unexpected(P); }
            jsb_putc(&name, '.');
            jsb_put(&name, cur(P)->s, cur(P)->n);
            adv(P);
        }
        jnode *x = mk(P, N_FILTER, t->line);
        x->a = node;
        x->name = arena_strndup(P->a, name.p, name.n);
        x->op = jinja_filter_id(x->name);
        jsb_free(&name);
        if (is_op(P, OP_LPAREN) && !parse_call_args(P, x)) { P->depth -= chain; return NULL; }
        node = x;
        start_inline = false;
    }
    P->depth -= chain;
    return node;
}

static jnode *parse_test(parser *P, jnode *node) {
    int line = cur(P)->line;
    adv(P); /* is */
    bool negated = skip_name(P, "not");
    if (cur(P)->type != T_NAME) return fail_unexpected(P);
    sb_t name;
    jsb_init(&name, 0);
    jsb_put(&name, cur(P)->s, cur(P)->n);
    adv(P);
    while (is_op(P, OP_DOT)) {
        adv(P);
        if (cur(P)->type != T_NAME) { jsb_free(&name); return fail_unexpected(P); }
        jsb_putc(&name, '.');
        jsb_put(&name, cur(P)->s, cur(P)->n);
        adv(P);
    }
    jnode *x = mk(P, N_TEST, line);
    x->a = node;
    x->name = arena_strndup(P->a, name.p, name.n);
    x->op = jinja_test_id(x->name);
    jsb_free(&name);
    const jtok *t = cur(P);
    if (t->type == T_OP && t->op == OP_LPAREN) {
        if (!parse_call_args(P, x)) return NULL;
    } else if ((t->type == T_NAME || t->type == T_STRING || t->type == T_INT || t->type == T_FLOAT ||
                (t->type == T_OP && (t->op == OP_LPAREN || t->op == OP_LBRACKET || t->op == OP_LBRACE))) &&
               !(t->type == T_NAME && (!strcmp(t->s, "else") || !strcmp(t->s, "or") || !strcmp(t->s, "and")))) {
        if (t->type == T_NAME && !strcmp(t->s, "is")) return fail_at(P, t->line, "%s", "You cannot chain multiple tests with is");
        jnode *arg = parse_primary(P);
        if (arg) arg = parse_postfix(P, arg);
        if (!arg) return NULL;
        x->kids = arena_alloc(P->a, sizeof *x->kids);
        x->kids[0] = arg;
        x->nkids = x->nargs = 1;
    }
    if (negated) {
        jnode *n = mk(P, N_NOT, line);
        n->a = x;
        return n;
    }
    return x;
}

static jnode *parse_filter_expr(parser *P, jnode *node) {
    int chain = 0;
    while (node) {
        if (!enter(P)) { node = NULL; break; }
        chain++;
        if (is_op(P, OP_PIPE)) node = parse_filter(P, node, false);
        else if (is_name(P, "is")) node = parse_test(P, node);
        else if (is_op(P, OP_LPAREN)) {
            jnode *x = mk(P, N_CALL, cur(P)->line);
            x->a = node;
            if (!parse_call_args(P, x)) { node = NULL; break; }
            node = x;
        } else break;
    }
    P->depth -= chain;
    return node;
}

/* ------------------------------------------------------------ statements */

static jnode *subparse(parser *P, const char *const *end_tokens);

/* ':'? %} body, stopping at one of end_tokens (left as current token, or consumed when drop_needle). */
static jnode *parse_statements(parser *P, const char *const *end_tokens, bool drop_needle) {
    skip_op(P, OP_COLON);
    if (!expect_type(P, T_BLOCK_END, "end of statement block")) return NULL;
    jnode *body = subparse(P, end_tokens);
    if (!body) return NULL;
    if (cur(P)->type == T_EOF) return fail_at(P, cur(P)->line, "unexpected end of template, expected '%s'", end_tokens[0]);
    if (drop_needle) adv(P);
    return body;
}

/* An assignment target: a name or a (possibly nested) tuple of names. */
static bool check_target(parser *P, jnode *t) {
    if (t->kind == N_NAME) return true;
    if (t->kind == N_TUPLE) {
        for (int i = 0; i < t->nkids; i++)
            if (!check_target(P, t->kids[i])) return false;
        return true;
    }
    fail_at(P, t->line, "%s", "can't assign to this expression");
    return false;
}

static jnode *parse_name_only(parser *P) {
    if (cur(P)->type != T_NAME) return fail_unexpected(P);
    jnode *x = mk(P, N_NAME, cur(P)->line);
    x->name = cur(P)->s;
    x->name_len = cur(P)->n;
    adv(P);
    return x;
}

static jnode *parse_signature(parser *P, jnode *node) {
    nodevec args = {0}, defaults = {0};
    if (!expect_op(P, OP_LPAREN, "(")) return NULL;
    while (!is_op(P, OP_RPAREN)) {
        if (args.n && !expect_op(P, OP_COMMA, ",")) goto fail;
        jnode *arg = parse_name_only(P);
        if (!arg) goto fail;
        if (skip_op(P, OP_ASSIGN)) {
            jnode *d = parse_expression(P, true);
            if (!d) goto fail;
            arg->a = d;
            nv_push(&defaults, d);
        } else if (defaults.n) {
            fail_at(P, arg->line, "%s", "non-default argument follows default argument");
            goto fail;
        }
        nv_push(&args, arg);
    }
    adv(P);
    free(defaults.v);
    node->nargs = args.n;
    node->kids = nv_finish(P, &args);
    node->nkids = node->nargs;
    return node;
fail:
    free(args.v);
    free(defaults.v);
    return NULL;
}

static jnode *parse_for(parser *P, int line) {
    jnode *x = mk(P, S_FOR, line);
    jnode *target = parse_tuple(P, true, false, "in", false);
    if (!target || !check_target(P, target)) return NULL;
    if (!skip_name(P, "in")) return fail_at(P, cur(P)->line, "%s", "expected 'in'");
    jnode *iter = parse_tuple(P, false, false, "recursive", false);
    if (!iter) return NULL;
    jnode *test = NULL;
    if (skip_name(P, "if")) {
        test = parse_expression(P, true);
        if (!test) return NULL;
    }
    if (is_name(P, "recursive")) return fail_at(P, cur(P)->line, "%s", "unsupported: recursive for loops");
    P->loop_depth++;
    static const char *const ends[] = {"endfor", "else", NULL};
    jnode *body = parse_statements(P, ends, false);
    P->loop_depth--;
    if (!body) return NULL;
    jnode *else_ = NULL;
    if (skip_name(P, "else")) {
        static const char *const ends2[] = {"endfor", NULL};
        else_ = parse_statements(P, ends2, true);
        if (!else_) return NULL;
    } else adv(P); /* endfor */
    x->a = target;
    x->b = iter;
    x->c = test;
    x->d = body;
    x->kids = arena_alloc(P->a, sizeof *x->kids);
    x->kids[0] = else_;
    return x;
}

static jnode *parse_if(parser *P, int line) {
    jnode *result = mk(P, S_IF, line), *node = result;
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const ends2[] = {"endif", NULL};
    for (;;) {
        node->a = parse_tuple(P, false, false, NULL, false);
        if (!node->a) return NULL;
        node->b = parse_statements(P, ends, false);
        if (!node->b) return NULL;
        if (skip_name(P, "elif")) {
            jnode *next = mk(P, S_IF, cur(P)->line);
            node->c = next;
            node = next;
            continue;
        }
        if (skip_name(P, "else")) {
            node->c = parse_statements(P, ends2, true);
            if (!node->c) return NULL;
        } else adv(P); /* endif */
        break;
    }
    return result;
}

static jnode *parse_set(parser *P, int line) {
    if (cur(P)->type == T_NAME && peek(P, 1)->type == T_OP && peek(P, 1)->op == OP_DOT) {
        jnode *x = mk(P, S_SET_NS, line);
        x->a = parse_name_only(P);
        adv(P);
        if (cur(P)->type != T_NAME) return fail_unexpected(P);
        x->name = cur(P)->s;
        x->name_len = cur(P)->n;
        adv(P);
        if (!expect_op(P, OP_ASSIGN, "=")) return NULL;
        x->b = parse_tuple(P, false, true, NULL, false);
        return x->b ? x : NULL;
    }
    jnode *target = parse_tuple(P, true, false, NULL, false);
    if (!target || !check_target(P, target)) return NULL;
    if (skip_op(P, OP_ASSIGN)) {
        jnode *x = mk(P, S_SET, line);
        x->a = target;
        x->b = parse_tuple(P, false, true, NULL, false);
        return x->b ? x : NULL;
    }
    if (target->kind != N_NAME) return fail_at(P, line, "%s", "block set needs a single name");
    jnode *x = mk(P, S_SET_BLOCK, line);
    x->a = target;
    if (is_op(P, OP_PIPE)) {
        x->c = parse_filter(P, NULL, false);
        if (!x->c) return NULL;
    }
    static const char *const ends[] = {"endset", NULL};
    x->b = parse_statements(P, ends, true);
    return x->b ? x : NULL;
}

static jnode *parse_macro(parser *P, int line) {
    jnode *x = mk(P, S_MACRO, line);
    if (cur(P)->type != T_NAME) return fail_unexpected(P);
    x->name = cur(P)->s;
    x->name_len = cur(P)->n;
    adv(P);
    if (!parse_signature(P, x)) return NULL;
    jnode *outer = P->macro;
    int loops = P->loop_depth;
    P->macro = x;
    P->loop_depth = 0; /* break/continue cannot cross a macro */
    static const char *const ends[] = {"endmacro", NULL};
    x->b = parse_statements(P, ends, true);
    P->macro = outer;
    P->loop_depth = loops;
    return x->b ? x : NULL;
}

static jnode *parse_call_block(parser *P, int line) {
    jnode *x = mk(P, S_CALLBLOCK, line);
    if (is_op(P, OP_LPAREN)) {
        if (!parse_signature(P, x)) return NULL;
    }
    jnode *call = parse_expression(P, true);
    if (!call) return NULL;
    if (call->kind != N_CALL) return fail_at(P, line, "%s", "expected call");
    x->a = call;
    x->name = "caller";
    jnode *outer = P->macro;
    int loops = P->loop_depth;
    P->macro = x;
    P->loop_depth = 0;
    static const char *const ends[] = {"endcall", NULL};
    x->b = parse_statements(P, ends, true);
    P->macro = outer;
    P->loop_depth = loops;
    return x->b ? x : NULL;
}

static jnode *parse_filter_block(parser *P, int line) {
    jnode *x = mk(P, S_FILTERBLOCK, line);
    x->a = parse_filter(P, NULL, true);
    if (!x->a) return NULL;
    static const char *const ends[] = {"endfilter", NULL};
    x->b = parse_statements(P, ends, true);
    return x->b ? x : NULL;
}

static jnode *parse_with(parser *P, int line) {
    jnode *x = mk(P, S_WITH, line);
    nodevec targets = {0};
    while (cur(P)->type != T_BLOCK_END) {
        if (targets.n && !expect_op(P, OP_COMMA, ",")) { free(targets.v); return NULL; }
        jnode *t = parse_name_only(P);
        if (!t || !expect_op(P, OP_ASSIGN, "=")) { free(targets.v); return NULL; }
        t->a = parse_expression(P, true);
        if (!t->a) { free(targets.v); return NULL; }
        nv_push(&targets, t);
    }
    x->nkids = targets.n;
    x->kids = nv_finish(P, &targets);
    static const char *const ends[] = {"endwith", NULL};
    x->b = parse_statements(P, ends, true);
    return x->b ? x : NULL;
}

static jnode *parse_statement(parser *P) {
    const jtok *t = cur(P);
    if (t->type != T_NAME) return fail_at(P, t->line, "%s", "tag name expected");
    const char *name = t->s;
    int line = t->line;
    if (!enter(P)) return NULL;
    adv(P);
    jnode *x = NULL;
    if (!strcmp(name, "for")) x = parse_for(P, line);
    else if (!strcmp(name, "if")) x = parse_if(P, line);
    else if (!strcmp(name, "set")) x = parse_set(P, line);
    else if (!strcmp(name, "macro")) x = parse_macro(P, line);
    else if (!strcmp(name, "call")) x = parse_call_block(P, line);
    else if (!strcmp(name, "filter")) x = parse_filter_block(P, line);
    else if (!strcmp(name, "with")) x = parse_with(P, line);
    else if (!strcmp(name, "generation")) {
        static const char *const ends[] = {"endgeneration", NULL};
        x = parse_statements(P, ends, true);
    } else if (!strcmp(name, "break") || !strcmp(name, "continue")) {
        if (!P->loop_depth) x = fail_at(P, line, "'%s' outside of a loop", name);
        else x = mk(P, name[0] == 'b' ? S_BREAK : S_CONTINUE, line);
    } else if (!strcmp(name, "extends") || !strcmp(name, "include") || !strcmp(name, "import") ||
               !strcmp(name, "from") || !strcmp(name, "block") || !strcmp(name, "autoescape") ||
               !strcmp(name, "do") || !strcmp(name, "trans") || !strcmp(name, "print"))
        x = fail_at(P, line, "unsupported tag '%s'", name);
    else if (!strncmp(name, "end", 3) || !strcmp(name, "else") || !strcmp(name, "elif"))
        x = fail_at(P, line, "unexpected tag '%s'", name);
    else x = fail_at(P, line, "Encountered unknown tag '%s'.", name);
    P->depth--;
    return x;
}

static bool is_end_token(parser *P, const char *const *end_tokens) {
    if (!end_tokens || cur(P)->type != T_NAME) return false;
    for (int i = 0; end_tokens[i]; i++)
        if (!strcmp(cur(P)->s, end_tokens[i])) return true;
    return false;
}

static jnode *subparse(parser *P, const char *const *end_tokens) {
    nodevec body = {0};
    int line = cur(P)->line;
    for (;;) {
        const jtok *t = cur(P);
        if (t->type == T_EOF) break;
        if (t->type == T_DATA) {
            jnode *x = mk(P, S_DATA, t->line);
            x->value = jv_strn(t->s, t->n);
            jv_make_immortal(x->value);
            arena_own(P->a, x->value.u.obj);
            nv_push(&body, x);
            adv(P);
        } else if (t->type == T_VAR_BEGIN) {
            adv(P);
            jnode *e = parse_tuple(P, false, true, NULL, false);
            if (!e || !expect_type(P, T_VAR_END, "end of print statement")) goto fail;
            jnode *x = mk(P, S_OUTPUT, t->line);
            x->a = e;
            nv_push(&body, x);
        } else if (t->type == T_BLOCK_BEGIN) {
            adv(P);
            if (is_end_token(P, end_tokens)) break;
            jnode *x = parse_statement(P);
            if (!x || !expect_type(P, T_BLOCK_END, "end of statement block")) goto fail;
            nv_push(&body, x);
        } else {
            fail_unexpected(P);
            goto fail;
        }
    }
    if (end_tokens && cur(P)->type == T_EOF) {
        fail_at(P, cur(P)->line, "unexpected end of template, expected '%s'", end_tokens[0]);
        goto fail;
    }
    jnode *b = mk(P, S_BODY, line);
    b->nkids = body.n;
    b->kids = nv_finish(P, &body);
    return b;
fail:
    free(body.v);
    return NULL;
}

/* jinja2 rejects an unknown filter or test when it compiles the template, except inside an if statement or
 * a conditional expression (a "soft" frame), where it fails only if evaluated. Loops, macros, call/filter
 * blocks, with and block sets open new frames, which are not soft. */
static bool check_names(parser *P, const jnode *x, bool soft) {
    if (!x) return true;
    if ((x->kind == N_FILTER || x->kind == N_TEST) && x->op < 0 && !soft) {
        fail_at(P, x->line, x->kind == N_FILTER ? "No filter named '%s'." : "No test named '%s'.", x->name);
        return false;
    }
    bool inner = soft;
    switch (x->kind) {
    case S_IF:
    case N_CONDEXPR: inner = true; break;
    case S_FOR:
        if (!check_names(P, x->b, soft)) return false; /* the iterable belongs to the outer frame */
        return check_names(P, x->a, false) && check_names(P, x->c, false) && check_names(P, x->d, false) &&
               check_names(P, x->kids[0], false);
    case S_MACRO:
    case S_CALLBLOCK:
    case S_FILTERBLOCK:
    case S_WITH:
    case S_SET_BLOCK:
        inner = false;
        break;
    default:
        break;
    }
    if (!check_names(P, x->a, x->kind == S_CALLBLOCK || x->kind == S_FILTERBLOCK ? soft : inner)) return false;
    if (!check_names(P, x->b, inner) || !check_names(P, x->c, inner) || !check_names(P, x->d, inner)) return false;
    for (int i = 0; i < x->nkids; i++)
        if (!check_names(P, x->kids[i], inner)) return false;
    return true;
}

jnode *jinja_parse_tokens(const jtok *toks, long ntok, jarena *a) {
    parser P = {.t = toks, .n = ntok, .a = a};
    jnode *root = subparse(&P, NULL);
    if (!root || P.failed) return NULL;
    if (!check_names(&P, root, false)) return NULL;
    return root;
}
