/*
 * jinja_internal.h — shared internals of the Jinja engine (jinja_value.c, jinja_lex.c, jinja_parse.c,
 * jinja_eval.c, jinja_builtins.c). Not part of any public API.
 *
 * Values: `jv` is jinja_value. Heap kinds start with a 32-bit reference count; a negative count marks an
 * immortal object (constants owned by a parsed template), which makes templates shareable across threads.
 * Ownership: functions returning jv return a new reference; jv arguments are borrowed unless the name or
 * comment says "steal".
 */
#ifndef HEARTH_JINJA_INTERNAL_H
#define HEARTH_JINJA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jinja.h"

typedef jinja_value jv;

enum { JVF_MARKUP = 1 }; /* a markupsafe.Markup string (from |safe / |escape) */

typedef struct {
    int32_t rc;
} jobj;

typedef struct {
    int32_t rc;
    size_t len;
    char s[]; /* NUL-terminated; may contain NUL bytes before len */
} jstr;

/* What Python object a jlist stands for. Plain lists and tuples are what they say. The rest are the lazy
 * objects jinja2's filters and dict methods return, kept because templates observe them: iterators
 * (generators from map/select/..., reversed()) are always truthy, have no len(), are consumed by iteration
 * and raise their errors only when iterated; views (dict.items()...) and range() are re-iterable but not
 * JSON serializable and print differently. */
typedef enum { JK_PLAIN = 0, JK_GENERATOR, JK_REVERSED, JK_DICT_ITEMS, JK_DICT_KEYS, JK_DICT_VALUES, JK_RANGE } jlist_kind;

typedef struct {
    int32_t rc;
    bool tuple;
    uint8_t kind;   /* jlist_kind */
    uint32_t depth; /* nesting depth (1 + deepest child), bounded by the evaluator */
    size_t n, cap;
    jv *v;
    size_t pos;     /* iterators: items before pos were consumed */
    jv err;         /* iterators: the error raised when iterated (a string), or undefined */
    int64_t range[3]; /* JK_RANGE: start, stop, step (for repr) */
} jlist;

static inline bool jl_is_iterator(const jlist *l) { return l->kind == JK_GENERATOR || l->kind == JK_REVERSED; }

typedef struct {
    int32_t rc;
    uint32_t depth;
    size_t n, cap;
    jv *k, *v;
    uint32_t *idx; /* open-addressing index (slot = entry+1, 0 = empty) once n > 8; NULL before */
    size_t idx_cap;
} jdict;

struct jnode;
struct jscope;

typedef enum { FN_BUILTIN, FN_METHOD, FN_MACRO, FN_CALLER, FN_LOOP_METHOD } jfunc_kind;

typedef struct jfunc {
    int32_t rc;
    jfunc_kind kind;
    int id;                   /* builtin / method id */
    jv self;                  /* receiver of a bound method (owned) */
    const struct jnode *node; /* macro or call block */
    struct jscope *scope;     /* caller: the scope of the call block while it runs (NULL after) */
    const char *name;
} jfunc;

typedef struct {
    int32_t rc;
    jv items;      /* list being iterated (owned) */
    size_t index0; /* current position */
    jv last_changed;
    bool has_changed;
} jloop;

/* ---- string builder with a size limit (exceeding it sets `over` and stops growing) */
typedef struct {
    char *p;
    size_t n, cap, limit;
    bool over;
} sb_t;

void jsb_init(sb_t *b, size_t limit);
void jsb_put(sb_t *b, const char *s, size_t n);
void jsb_puts(sb_t *b, const char *s);
void jsb_putc(sb_t *b, char c);
void jsb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jsb_free(sb_t *b);
char *jsb_take(sb_t *b, size_t *len); /* returns the buffer (NUL-terminated), resets b */

/* ---- values */
static inline jv jv_undef(void) { jv v = {.type = JINJA_UNDEFINED}; return v; }
jv jv_undef_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
jv jv_str_take(sb_t *b); /* string from a builder (resets it) */
jv jv_strn(const char *s, size_t n);
jv jv_list_n(size_t cap);
jv jv_tuple2(jv a, jv b); /* steals a and b */
jv jv_func_new(jfunc_kind kind, int id, jv self /*stolen*/, const char *name);
void jv_incref(jv v);
void jv_decref(jv v);
void jv_make_immortal(jv v); /* recursively: constants of a template */

static inline jstr *JS(jv v) { return (jstr *)v.u.obj; }
static inline jlist *JL(jv v) { return (jlist *)v.u.obj; }
static inline jdict *JD(jv v) { return (jdict *)v.u.obj; }
static inline jfunc *JF(jv v) { return (jfunc *)v.u.obj; }
static inline jloop *JLOOP(jv v) { return (jloop *)v.u.obj; }
static inline bool jv_is_str(jv v) { return v.type == JINJA_STRING; }
static inline bool jv_is_num(jv v) { return v.type == JINJA_BOOL || v.type == JINJA_INT || v.type == JINJA_FLOAT; }

void jl_push(jlist *l, jv v); /* steals v */
uint32_t jv_depth(jv v);      /* container nesting depth: 0 for scalars */
/* dict: get returns a borrowed pointer or NULL; set steals key and value (replaces in place). */
jv *jd_get(const jdict *d, jv key);
jv *jd_get_str(const jdict *d, const char *key, size_t n);
void jd_set(jdict *d, jv key, jv val);

/* ---- Python semantics */
const char *py_type_name(jv v);           /* 'str', 'int', 'NoneType', ... */
void py_object_type_repr(jv v, sb_t *b);  /* jinja's object_type_repr: "dict object", "None" */
void py_str(jv v, sb_t *b);               /* str(v) */
void py_repr(jv v, sb_t *b);              /* repr(v) */
void py_float_repr(double d, char out[32]);
bool py_truthy(jv v);
bool py_eq(jv a, jv b);
/* Ordering for <, sorted(): 0 ok (*cmp set), -1 on TypeError (message in err). */
int py_cmp(jv a, jv b, int *cmp, sb_t *err);
uint64_t py_hash(jv v);
/* json.dumps(v, ensure_ascii=, indent= (the indent string; NULL: None), separators= (NULL: defaults),
 * sort_keys=). -1 with the TypeError's message in err. */
int py_json(jv v, sb_t *out, const char *indent, const char *item_sep, const char *key_sep, bool sort_keys,
            bool ensure_ascii, sb_t *err);

/* ---- UTF-8 text as Python sees it (sequences of code points) */
uint32_t utf8_next(const char *s, size_t n, size_t *i); /* decodes at *i, advances; bad bytes decode as themselves */
size_t utf8_len(const char *s, size_t n);                /* code points */
size_t utf8_offset(const char *s, size_t n, size_t cp);  /* byte offset of code point cp (n if past the end) */
void utf8_put(sb_t *b, uint32_t cp);
bool py_isspace(uint32_t cp);
uint32_t py_upper(uint32_t cp);
uint32_t py_lower(uint32_t cp);
bool py_isalpha(uint32_t cp);
bool py_isdigit(uint32_t cp);
bool py_iscased_upper(uint32_t cp);
bool py_iscased_lower(uint32_t cp);

/* ---- lexer */
typedef enum {
    T_EOF,
    T_DATA,
    T_BLOCK_BEGIN,
    T_BLOCK_END,
    T_VAR_BEGIN,
    T_VAR_END,
    T_NAME,
    T_STRING,
    T_INT,
    T_FLOAT,
    T_OP,
} jtok_type;

enum { /* operators */
    OP_ADD = 1, OP_SUB, OP_DIV, OP_FLOORDIV, OP_MUL, OP_MOD, OP_POW, OP_TILDE, OP_LBRACKET, OP_RBRACKET,
    OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE, OP_EQ, OP_NE, OP_GT, OP_GTEQ, OP_LT, OP_LTEQ, OP_ASSIGN,
    OP_DOT, OP_COLON, OP_PIPE, OP_COMMA, OP_SEMICOLON,
};

typedef struct {
    jtok_type type;
    int op;
    int line;
    const char *s; /* DATA / NAME / STRING text (arena) */
    size_t n;
    int64_t i;
    double f;
} jtok;

typedef struct jarena jarena;
void *arena_alloc(jarena *a, size_t n);
char *arena_strndup(jarena *a, const char *s, size_t n);

/* Tokenize; returns the token count (last is T_EOF) or -1 with hearth_fail() called. */
long jinja_lex(const char *src, size_t len, jarena *a, jtok **out);

/* ---- AST */
typedef enum {
    /* expressions */
    N_CONST, N_NAME, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_BINOP, N_AND, N_OR, N_NOT,
    N_NEG, N_POS, N_CONCAT, N_COMPARE, N_CONDEXPR, N_LIST, N_TUPLE, N_DICT,
    /* statements */
    S_DATA, S_OUTPUT, S_FOR, S_IF, S_SET, S_SET_NS, S_SET_BLOCK, S_MACRO, S_CALLBLOCK, S_FILTERBLOCK, S_WITH,
    S_BREAK, S_CONTINUE, S_BODY,
} jnode_kind;

typedef struct jnode {
    jnode_kind kind;
    int op;   /* binop / compare operator, filter / test id */
    int line;
    const char *name; /* NAME, GETATTR attribute, FILTER / TEST / macro name, SET_NS attribute */
    size_t name_len;
    jv value;         /* CONST; S_DATA text */
    struct jnode *a, *b, *c, *d;
    struct jnode **kids; /* args / items / body statements / compare operands / dict keys+values */
    int nkids;
    const char **kwnames; /* keyword arguments: names; values are kids[nargs..] */
    int nkw;
    int nargs;       /* positional arguments among kids */
    int *ops;        /* N_COMPARE operators, one per operand after the first */
    bool uses_varargs, uses_kwargs, uses_caller; /* S_MACRO */
} jnode;

/* Parse tokens into a body node; NULL with hearth_fail() called. */
jnode *jinja_parse_tokens(const jtok *toks, long ntok, jarena *a);

struct jarena {
    struct jarena_block *head;
    void **owned; /* malloc'ed objects (template constants) freed with the arena */
    size_t nowned, capowned;
};
void arena_own(jarena *a, void *p);
void arena_free(jarena *a);

struct jinja_template {
    jarena arena;
    jnode *root;
};

/* ---- evaluation context (jinja_eval.c), shared with the builtins (jinja_builtins.c) */
typedef struct jscope {
    struct jscope *parent;
    int n, cap;
    const char **names;
    jv *vals;
} jscope;

typedef struct {
    jdict *vars;     /* the render context */
    jscope *root;    /* template-level assignments */
    int line;        /* line of the node being evaluated, for errors */
    bool failed;
    bool hard;       /* the failure is a resource bound: never deferred into a lazy generator */
    sb_t err;
    uint64_t steps, max_steps;
    int depth, max_depth; /* macro calls */
    int rec;              /* C recursion of the evaluator */
    size_t max_output;
    int64_t now;
    jv block_input;       /* value fed to the innermost filter of a filter block / block set */
    jv *namespaces;       /* every namespace made while rendering: emptied at the end (breaks cycles) */
    size_t nns, capns;
} jctx;

#define JV_MISSING 0xff /* type tag of an argument that was not passed */

typedef struct {
    jv *pos;
    int npos;
    const char *const *kwn;
    jv *kwv;
    int nkw;
} jargs;

/* Record the first error ("jinja: line N: ...") and return false. */
bool jfail(jctx *C, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fail with an undefined value's message (jinja2's UndefinedError). */
bool jfail_undef(jctx *C, jv u);
/* Bind call arguments to named parameters (Python signature rules); out[i].type == JV_MISSING when absent.
 * Borrowed references. */
bool jbind(jctx *C, const char *fname, const jargs *a, const char *const *params, int nparams, jv *out);
bool jcall(jctx *C, jv fn, const jargs *a, jv *out);
bool jgetattr(jctx *C, jv obj, const char *name, size_t n, jv *out);
bool jgetitem(jctx *C, jv obj, jv key, jv *out);
bool jiterate(jctx *C, jv v, jv *list_out); /* list of the items for `for`, |list, ...: new reference */
jv jnamespace_new(jctx *C);
bool jcheck_str(jctx *C, sb_t *b); /* fails when a string being built exceeds the output limit */

/* builtins (jinja_builtins.c) */
bool jinja_filter(jctx *C, int id, const char *name, jv val, const jargs *a, jv *out);
bool jinja_test(jctx *C, int id, const char *name, jv val, const jargs *a, bool *out);
bool jinja_method(jctx *C, jv self, int id, const jargs *a, jv *out);
int jinja_method_id(jv self, const char *name, bool *unsafe); /* -1 when obj has no such method */
bool jinja_global(jctx *C, int id, const jargs *a, jv *out);
bool jinja_percent(jctx *C, jv fmt, jv values, jv *out); /* Python's str % values */
int jinja_global_id(const char *name);
const char *jinja_global_name(int id);

/* Filter and test ids resolved at parse time; unknown names resolve to -1 and fail when evaluated. */
int jinja_filter_id(const char *name);
int jinja_test_id(const char *name);

#endif
