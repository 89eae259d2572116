/* grammar.c — GBNF grammars compiled to byte-level pushdown automata; token masks from a vocabulary trie.
 * See grammar.h for the contract. Layout of this file:
 *   1. building: the parser writes rules of alternatives of symbols (byte-set terminals, rule references,
 *      token references); character classes become UTF-8 byte-sequence rules, groups and repetitions helper
 *      rules; then nullable / productive / left-recursion analysis, flattening and byte classes.
 *   2. the vocabulary trie (gvocab).
 *   3. matching (gmatch): hash-consed stacks, states as interned stack sets, lazily computed transitions,
 *      the mask walk and its cache, masks shared past a repetition's horizon, rebased (context-free) walks.
 *
 * Stacks. A position is an index into the flat element array (each alternative's symbols, then END). A stack
 * is a chain of nodes (position, parent): the top node's position is a terminal still to match, the nodes
 * below are return positions (the element after a rule reference). A reference in tail position pushes no
 * return node (tail calls), so right recursion and loops (x*) do not grow the stack. Node 0 is the empty
 * stack: as a member of a state it means "the root rule is complete", as a parent it is the bottom. Nodes are
 * interned, so equal stacks are equal ids and a state is a sorted array of ids. */
#include "grammar.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "tokenizer.h"
#include "util.h"

#define MAX_ELEMENTS (1u << 22)   /* a grammar larger than this is refused (repetition bounds blow up) */
#define MAX_REPEAT 100000         /* largest m or n in {m,n} */

/* ===================================================================================== 1. building */

enum { S_TERM = 1, S_REF, S_TOKEN, S_NTOKEN, S_END };

typedef struct {
    uint8_t kind;
    uint32_t arg; /* byte-set index, rule index or token id */
} sym;

typedef struct {
    sym *s;
    size_t n, cap;
} symvec;

typedef struct {
    char *name;       /* NULL for helper rules */
    int owner;        /* helper rules: the user rule they were made for (for messages) */
    bool defined;
    bool loop;        /* helper of an open repetition (x*, x+, x{m,}) */
    int chain, chain_idx; /* helper j of a bounded repetition's chain (see append_repeat), else -1 */
    int line, col;    /* where first used (undefined-rule messages) */
    symvec *alts;
    size_t n_alts, cap_alts;
} brule;

typedef struct {
    uint64_t w[4];
} byteset;

typedef struct {
    const char *src, *p;
    brule *rules;
    size_t n_rules, cap_rules;
    byteset *sets;
    size_t n_sets, cap_sets;
    int32_t single[256];  /* set index of the one-byte sets made so far, -1 none */
    int cur_rule;         /* the user rule being parsed */
    int any_rule;         /* the helper rule of `.`, -1 until used */
    int n_chains;
    size_t n_elements;    /* symbols so far, to refuse runaway grammars early */
    const struct tokenizer *tok;
    bool crossed_newline; /* the last skip_space went over a newline */
    bool rule_ended;      /* a sequence stopped at the next rule's `name ::=` */
    int err;
} builder;

struct grammar {
    uint8_t *kind;        /* [n_el] S_TERM, S_REF, S_TOKEN, S_NTOKEN, S_END */
    uint32_t *arg;        /* [n_el] */
    uint32_t n_el;
    uint32_t *alt_off;    /* rule r's alternatives: alt_start[alt_off[r] .. alt_off[r+1]) */
    uint32_t *alt_start;
    uint32_t n_rules, root;
    uint8_t cls[256];     /* byte -> byte class */
    int nc;               /* number of classes */
    uint64_t (*setcls)[4];/* per byte set: the classes it contains */
    uint32_t n_sets;
    /* bounded repetition chains: rule of index j (1-based) of chain c is chain_rules[chain_off[c] + j - 1];
     * usable[c]: each item reads at least one byte (so a token of n bytes advances at most n items) */
    uint32_t n_chains;
    uint32_t *chain_off, *chain_rules;
    bool *chain_usable;
};

static void line_col(const builder *b, const char *at, int *line, int *col) {
    int l = 1, c = 1;
    for (const char *q = b->src; q < at && *q; q++) {
        if (*q == '\n') { l++; c = 1; } else c++;
    }
    *line = l;
    *col = c;
}

static int syntax_error(builder *b, const char *at, const char *what) {
    if (b->err) return b->err;
    int l, c;
    line_col(b, at, &l, &c);
    b->err = hearth_fail(HEARTH_ERR_FORMAT, "grammar: line %d, column %d: %s", l, c, what);
    return b->err;
}

static const char *rule_display_name(const builder *b, int r) {
    while (r >= 0 && !b->rules[r].name) r = b->rules[r].owner;
    return r >= 0 ? b->rules[r].name : "?";
}

static int nomem(builder *b) {
    if (!b->err) b->err = hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    return b->err;
}

static int symvec_push(builder *b, symvec *v, sym s) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        sym *ns = realloc(v->s, cap * sizeof *ns);
        if (!ns) return nomem(b);
        v->s = ns;
        v->cap = cap;
    }
    v->s[v->n++] = s;
    if (++b->n_elements > MAX_ELEMENTS) {
        if (!b->err) b->err = hearth_fail(HEARTH_ERR_FORMAT, "grammar: too large (more than %u elements: "
                                          "lower the repetition bounds)", MAX_ELEMENTS);
        return b->err;
    }
    return 0;
}

static int new_rule(builder *b, const char *name, size_t len) {
    if (b->n_rules == b->cap_rules) {
        size_t cap = b->cap_rules ? b->cap_rules * 2 : 64;
        brule *nr = realloc(b->rules, cap * sizeof *nr);
        if (!nr) return nomem(b);
        b->rules = nr;
        b->cap_rules = cap;
    }
    brule *r = &b->rules[b->n_rules];
    memset(r, 0, sizeof *r);
    r->owner = b->cur_rule;
    r->chain = r->chain_idx = -1;
    if (name) {
        r->name = malloc(len + 1);
        if (!r->name) return nomem(b);
        memcpy(r->name, name, len);
        r->name[len] = 0;
        r->owner = -1;
    }
    return (int)b->n_rules++;
}

static int find_or_add_rule(builder *b, const char *name, size_t len) {
    for (size_t i = 0; i < b->n_rules; i++)
        if (b->rules[i].name && strlen(b->rules[i].name) == len && !memcmp(b->rules[i].name, name, len))
            return (int)i;
    return new_rule(b, name, len);
}

/* A new empty alternative of rule r (returned pointer valid until the rule gets another alternative). */
static symvec *new_alt(builder *b, int r) {
    brule *ru = &b->rules[r];
    if (ru->n_alts == ru->cap_alts) {
        size_t cap = ru->cap_alts ? ru->cap_alts * 2 : 2;
        symvec *na = realloc(ru->alts, cap * sizeof *na);
        if (!na) { nomem(b); return NULL; }
        ru->alts = na;
        ru->cap_alts = cap;
    }
    symvec *v = &ru->alts[ru->n_alts++];
    memset(v, 0, sizeof *v);
    return v;
}

static uint32_t add_set(builder *b, const byteset *s) {
    /* one-byte sets (literals) are by far the most common: find them in O(1) */
    int single = -1, count = 0;
    for (int w = 0; w < 4; w++) count += __builtin_popcountll(s->w[w]);
    if (count == 1)
        for (int c = 0; c < 256; c++)
            if (s->w[c >> 6] >> (c & 63) & 1) single = c;
    if (single >= 0 && b->single[single] >= 0) return (uint32_t)b->single[single];
    if (single < 0)
        for (size_t i = 0; i < b->n_sets; i++)
            if (!memcmp(&b->sets[i], s, sizeof *s)) return (uint32_t)i;
    if (b->n_sets == b->cap_sets) {
        size_t cap = b->cap_sets ? b->cap_sets * 2 : 64;
        byteset *ns = realloc(b->sets, cap * sizeof *ns);
        if (!ns) { nomem(b); return 0; }
        b->sets = ns;
        b->cap_sets = cap;
    }
    b->sets[b->n_sets] = *s;
    if (single >= 0) b->single[single] = (int32_t)b->n_sets;
    return (uint32_t)b->n_sets++;
}

static sym byte_range_sym(builder *b, int lo, int hi) {
    byteset s = {{0}};
    for (int c = lo; c <= hi; c++) s.w[c >> 6] |= 1ull << (c & 63);
    return (sym){S_TERM, add_set(b, &s)};
}

/* ---- code points and UTF-8 */

typedef struct {
    uint32_t lo, hi;
} cprange;

typedef struct {
    cprange *r;
    size_t n, cap;
} cpset;

static int cpset_add(builder *b, cpset *s, uint32_t lo, uint32_t hi) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        cprange *nr = realloc(s->r, cap * sizeof *nr);
        if (!nr) return nomem(b);
        s->r = nr;
        s->cap = cap;
    }
    s->r[s->n++] = (cprange){lo, hi};
    return 0;
}

static int cmp_range(const void *a, const void *b) {
    const cprange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort, merge, optionally complement within U+0000..U+10FFFF, and remove the surrogates. */
static int cpset_normalize(builder *b, cpset *s, bool negate) {
    qsort(s->r, s->n, sizeof *s->r, cmp_range);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (k && s->r[i].lo <= s->r[k - 1].hi + 1) {
            if (s->r[i].hi > s->r[k - 1].hi) s->r[k - 1].hi = s->r[i].hi;
        } else s->r[k++] = s->r[i];
    }
    s->n = k;
    if (negate) {
        cpset c = {0};
        uint32_t next = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (s->r[i].lo > next && cpset_add(b, &c, next, s->r[i].lo - 1) < 0) { free(c.r); return b->err; }
            next = s->r[i].hi + 1;
        }
        if (next <= 0x10FFFF && cpset_add(b, &c, next, 0x10FFFF) < 0) { free(c.r); return b->err; }
        free(s->r);
        *s = c;
    }
    /* cut out U+D800..U+DFFF */
    cpset o = {0};
    for (size_t i = 0; i < s->n; i++) {
        uint32_t lo = s->r[i].lo, hi = s->r[i].hi > 0x10FFFF ? 0x10FFFF : s->r[i].hi;
        if (lo > hi) continue;
        if (hi < 0xD800 || lo > 0xDFFF) { if (cpset_add(b, &o, lo, hi) < 0) break; continue; }
        if (lo < 0xD800 && cpset_add(b, &o, lo, 0xD7FF) < 0) break;
        if (hi > 0xDFFF && cpset_add(b, &o, 0xE000, hi) < 0) break;
    }
    free(s->r);
    *s = o;
    return b->err;
}

static int utf8_encode(uint32_t cp, uint8_t *out) {
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { out[0] = (uint8_t)(0xC0 | cp >> 6); out[1] = (uint8_t)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12); out[1] = (uint8_t)(0x80 | (cp >> 6 & 63));
        out[2] = (uint8_t)(0x80 | (cp & 63));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18); out[1] = (uint8_t)(0x80 | (cp >> 12 & 63));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 63)); out[3] = (uint8_t)(0x80 | (cp & 63));
    return 4;
}

/* Appends to rule r one alternative per UTF-8 byte-range sequence covering [lo, hi] (same encoded length,
 * surrogate-free). The range is split until every byte position ranges independently: then the sequences
 * [lo0..hi0][lo1..hi1]... match exactly the range. */
static int utf8_range_alts(builder *b, int r, uint32_t lo, uint32_t hi) {
    static const uint32_t len_max[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    for (int k = 0; k < 3; k++) /* split at the encoded-length boundaries */
        if (lo <= len_max[k] && hi > len_max[k]) {
            if (utf8_range_alts(b, r, lo, len_max[k]) < 0) return b->err;
            return utf8_range_alts(b, r, len_max[k] + 1, hi);
        }
    uint8_t a[4], z[4];
    int n = utf8_encode(lo, a);
    utf8_encode(hi, z);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1; /* the low i continuation bytes */
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                if (utf8_range_alts(b, r, lo, lo | m) < 0) return b->err;
                return utf8_range_alts(b, r, (lo | m) + 1, hi);
            }
            if ((hi & m) != m) {
                if (utf8_range_alts(b, r, lo, (hi & ~m) - 1) < 0) return b->err;
                return utf8_range_alts(b, r, hi & ~m, hi);
            }
        }
    }
    symvec *v = new_alt(b, r);
    if (!v) return b->err;
    for (int i = 0; i < n; i++) {
        sym s = byte_range_sym(b, a[i], z[i]);
        if (b->err || symvec_push(b, &b->rules[r].alts[b->rules[r].n_alts - 1], s) < 0) return b->err;
    }
    return 0;
}

/* The symbol for a normalized code-point set: one terminal if it is all ASCII, else a helper rule. */
static int cpset_sym(builder *b, const cpset *s, sym *out) {
    bool ascii = true;
    for (size_t i = 0; i < s->n; i++) ascii &= s->r[i].hi < 0x80;
    if (ascii) {
        byteset bs = {{0}};
        for (size_t i = 0; i < s->n; i++)
            for (uint32_t c = s->r[i].lo; c <= s->r[i].hi; c++) bs.w[c >> 6] |= 1ull << (c & 63);
        *out = (sym){S_TERM, add_set(b, &bs)};
        return b->err;
    }
    int r = new_rule(b, NULL, 0);
    if (r < 0) return b->err;
    /* all ASCII ranges in one terminal (one stack instead of many), multibyte ranges as sequences */
    byteset bs = {{0}};
    bool any_ascii = false;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t lo = s->r[i].lo, hi = s->r[i].hi;
        for (uint32_t c = lo; c <= hi && c < 0x80; c++) { bs.w[c >> 6] |= 1ull << (c & 63); any_ascii = true; }
        if (hi >= 0x80 && utf8_range_alts(b, r, lo < 0x80 ? 0x80 : lo, hi) < 0) return b->err;
    }
    if (any_ascii) {
        symvec *v = new_alt(b, r);
        sym t = {S_TERM, add_set(b, &bs)};
        if (!v || b->err || symvec_push(b, v, t) < 0) return b->err;
    }
    *out = (sym){S_REF, (uint32_t)r};
    return 0;
}

/* ---- the parser */

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Skip blanks and comments; newlines too when `newlines`. */
static void skip_space(builder *b, bool newlines) {
    b->crossed_newline = false;
    for (;;) {
        char c = *b->p;
        if (newlines && (c == '\n' || c == '\r')) { b->p++; b->crossed_newline = true; }
        else if (c == ' ' || c == '\t') b->p++;
        else if (c == '#') { while (*b->p && *b->p != '\n' && *b->p != '\r') b->p++; }
        else return;
    }
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One character of a literal or class, escapes decoded, UTF-8 decoded. */
static int parse_char(builder *b, uint32_t *cp) {
    const char *at = b->p;
    unsigned char c = (unsigned char)*b->p;
    if (!c) return syntax_error(b, at, "unexpected end of grammar");
    if (c == '\\') {
        char e = b->p[1];
        int digits = 0;
        switch (e) {
        case 'n': *cp = '\n'; break;
        case 'r': *cp = '\r'; break;
        case 't': *cp = '\t'; break;
        case 'f': *cp = '\f'; break;
        case 'v': *cp = '\v'; break;
        case '0': *cp = 0; break;
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/': case '.':
            *cp = (uint32_t)e;
            break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default: return syntax_error(b, at, "unknown escape (use \\n \\r \\t \\\\ \\\" \\[ \\] \\- \\xHH \\uHHHH \\UHHHHHHHH)");
        }
        b->p += 2;
        if (digits) {
            uint32_t v = 0;
            for (int i = 0; i < digits; i++) {
                int h = hexval(b->p[i]);
                if (h < 0) return syntax_error(b, at, "bad hexadecimal escape");
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF) return syntax_error(b, at, "code point beyond U+10FFFF");
            b->p += digits;
            *cp = v;
        }
        return 0;
    }
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!n) return syntax_error(b, at, "invalid UTF-8 in grammar");
    uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < n; i++) {
        unsigned char d = (unsigned char)b->p[i];
        if ((d & 0xC0) != 0x80) return syntax_error(b, at, "invalid UTF-8 in grammar");
        v = v << 6 | (d & 63);
    }
    b->p += n;
    *cp = v;
    return 0;
}

static int parse_alternates(builder *b, int r, bool nested);

/* Wrap the symbols [from, v->n) of v into a new helper rule so a postfix operator applies to them. */
static int wrap_item(builder *b, int r, size_t alt, size_t from, sym *out) {
    symvec *v = &b->rules[r].alts[alt];
    if (v->n - from == 1) { *out = v->s[from]; v->n--; b->n_elements--; return 0; }
    int h = new_rule(b, NULL, 0);
    if (h < 0) return b->err;
    v = &b->rules[r].alts[alt]; /* rules may have moved */
    symvec *hv = new_alt(b, h);
    if (!hv) return b->err;
    for (size_t i = from; i < v->n; i++)
        if (symvec_push(b, &b->rules[h].alts[0], v->s[i]) < 0) return b->err;
    b->n_elements -= v->n - from;
    v->n = from;
    *out = (sym){S_REF, (uint32_t)h};
    return 0;
}

/* Appends x{min,max} (max < 0: unbounded) to alternative `alt` of rule r.
 *   optional part, bounded: O_1 ::= x | (empty);  O_k ::= x O_{k-1} | (empty)   (nested: one choice per step)
 *   optional part, open:    R ::= x R | (empty)
 *   mandatory part: min copies of x inline, or beyond INLINE_MIN a chain M_1 ::= x tail;  M_j ::= x M_{j-1}
 * The helper rules of a chain are numbered (chain, index): a matcher may treat O_j and O_k (or M_j and M_k)
 * alike for its masks when j and k both exceed the longest token (no token can tell them apart). */
#define INLINE_MIN 8

static int chain_rule(builder *b, sym x, int next, int chain, int idx, bool optional) {
    int h = new_rule(b, NULL, 0);
    if (h < 0) return b->err;
    b->rules[h].chain = chain;
    b->rules[h].chain_idx = idx;
    symvec *v = new_alt(b, h);
    if (!v || symvec_push(b, v, x) < 0) return b->err;
    if (next >= 0 && symvec_push(b, &b->rules[h].alts[0], (sym){S_REF, (uint32_t)next}) < 0) return b->err;
    if (optional && !new_alt(b, h)) return b->err;
    return h;
}

static int append_repeat(builder *b, int r, size_t alt, sym x, long min, long max, const char *at) {
    if (min > MAX_REPEAT || max > MAX_REPEAT) return syntax_error(b, at, "repetition bound too large");
    if (max >= 0 && max < min) return syntax_error(b, at, "repetition {m,n} with n < m");
    int tail = -1;
    if (max < 0) { /* R ::= x R | (empty) */
        tail = new_rule(b, NULL, 0);
        if (tail < 0) return b->err;
        b->rules[tail].loop = true;
        symvec *v = new_alt(b, tail);
        if (!v || symvec_push(b, v, x) < 0 || symvec_push(b, &b->rules[tail].alts[0], (sym){S_REF, (uint32_t)tail}) < 0 ||
            !new_alt(b, tail))
            return b->err;
    } else if (max > min) {
        int chain = b->n_chains++;
        for (long k = 1; k <= max - min; k++)
            if ((tail = chain_rule(b, x, tail, chain, (int)k, true)) < 0) return b->err;
    }
    if (min > INLINE_MIN) {
        int chain = b->n_chains++, prev = tail;
        for (long j = 1; j <= min; j++)
            if ((prev = chain_rule(b, x, prev, chain, (int)j, false)) < 0) return b->err;
        return symvec_push(b, &b->rules[r].alts[alt], (sym){S_REF, (uint32_t)prev});
    }
    for (long i = 0; i < min; i++)
        if (symvec_push(b, &b->rules[r].alts[alt], x) < 0) return b->err;
    if (tail >= 0) return symvec_push(b, &b->rules[r].alts[alt], (sym){S_REF, (uint32_t)tail});
    return 0;
}

static int parse_long(builder *b, long *out) {
    if (*b->p < '0' || *b->p > '9') return -1;
    long v = 0;
    while (*b->p >= '0' && *b->p <= '9') {
        if (v <= MAX_REPEAT) v = v * 10 + (*b->p - '0');
        b->p++;
    }
    *out = v;
    return 0;
}

static int parse_token_ref(builder *b, sym *out, bool negated) {
    const char *at = b->p;
    b->p++; /* '<' */
    int32_t id = -1;
    if (!b->tok) return syntax_error(b, at, "token references (<...>) need a vocabulary");
    if (*b->p == '[') {
        b->p++;
        long v;
        if (parse_long(b, &v) < 0 || *b->p != ']' || b->p[1] != '>') return syntax_error(b, at, "expected <[token id]>");
        b->p += 2;
        if (v >= tokenizer_n_vocab(b->tok)) return syntax_error(b, at, "token id out of range");
        id = (int32_t)v;
    } else {
        /* <text>: the token whose text is exactly "<text>" */
        const char *end = strchr(b->p, '>');
        const char *nl = strpbrk(b->p, "\n\r");
        if (!end || (nl && nl < end)) return syntax_error(b, at, "unterminated token reference <...>");
        end++;
        id = tokenizer_find(b->tok, at, (size_t)(end - at));
        if (id < 0) return syntax_error(b, at, "not the text of a single token of this vocabulary");
        b->p = end;
    }
    *out = (sym){negated ? S_NTOKEN : S_TOKEN, (uint32_t)id};
    return 0;
}

static int parse_sequence(builder *b, int r, bool nested) {
    symvec *v0 = new_alt(b, r);
    if (!v0) return b->err;
    size_t alt = b->rules[r].n_alts - 1;
    size_t item_start = (size_t)-1; /* where the last item's symbols begin (postfix operators apply to it) */
    for (bool first = true;; first = false) {
        if (!first || nested) skip_space(b, nested); /* else the caller just skipped (crossed_newline is its) */
        const char *at = b->p;
        char c = *b->p;
        #define CUR (&b->rules[r].alts[alt])
        if (c == '"') {
            b->p++;
            item_start = CUR->n;
            while (*b->p != '"') {
                if (!*b->p || *b->p == '\n') return syntax_error(b, at, "unterminated string literal");
                uint32_t cp;
                if (parse_char(b, &cp) < 0) return b->err;
                uint8_t u[4];
                int n = utf8_encode(cp, u);
                for (int i = 0; i < n; i++) {
                    sym s = byte_range_sym(b, u[i], u[i]);
                    if (b->err || symvec_push(b, CUR, s) < 0) return b->err;
                }
            }
            b->p++;
            if (CUR->n == item_start) item_start = (size_t)-1; /* "" is nothing: no item */
        } else if (c == '[') {
            b->p++;
            bool neg = *b->p == '^';
            if (neg) b->p++;
            cpset s = {0};
            while (*b->p != ']') {
                if (!*b->p) { free(s.r); return syntax_error(b, at, "unterminated character class"); }
                uint32_t lo, hi;
                if (parse_char(b, &lo) < 0) { free(s.r); return b->err; }
                hi = lo;
                if (b->p[0] == '-' && b->p[1] && b->p[1] != ']') {
                    b->p++;
                    if (parse_char(b, &hi) < 0) { free(s.r); return b->err; }
                    if (hi < lo) { free(s.r); return syntax_error(b, at, "character range out of order"); }
                }
                if (cpset_add(b, &s, lo, hi) < 0) { free(s.r); return b->err; }
            }
            b->p++;
            if (!s.n && !neg) { free(s.r); return syntax_error(b, at, "empty character class"); }
            sym x;
            if (cpset_normalize(b, &s, neg) < 0 || cpset_sym(b, &s, &x) < 0) { free(s.r); return b->err; }
            free(s.r);
            item_start = CUR->n;
            if (symvec_push(b, CUR, x) < 0) return b->err;
        } else if (c == '.') {
            b->p++;
            if (b->any_rule < 0) {
                cpset s = {0};
                sym x;
                if (cpset_add(b, &s, 0, 0x10FFFF) < 0 || cpset_normalize(b, &s, false) < 0 || cpset_sym(b, &s, &x) < 0) {
                    free(s.r);
                    return b->err;
                }
                free(s.r);
                b->any_rule = (int)x.arg;
            }
            item_start = CUR->n;
            if (symvec_push(b, CUR, (sym){S_REF, (uint32_t)b->any_rule}) < 0) return b->err;
        } else if (c == '(') {
            b->p++;
            int h = new_rule(b, NULL, 0);
            if (h < 0) return b->err;
            skip_space(b, true);
            if (parse_alternates(b, h, true) < 0) return b->err;
            skip_space(b, true);
            if (*b->p != ')') return syntax_error(b, at, "missing ) for this (");
            b->p++;
            item_start = CUR->n;
            if (symvec_push(b, CUR, (sym){S_REF, (uint32_t)h}) < 0) return b->err;
        } else if (c == '<' || (c == '!' && b->p[1] == '<')) {
            bool neg = c == '!';
            if (neg) b->p++;
            sym x;
            if (parse_token_ref(b, &x, neg) < 0) return b->err;
            item_start = CUR->n;
            if (symvec_push(b, CUR, x) < 0) return b->err;
        } else if (is_name_char(c)) {
            const char *name = b->p;
            while (is_name_char(*b->p)) b->p++;
            size_t len = (size_t)(b->p - name);
            /* `name ::=` here means the previous rule ended without a newline */
            const char *q = b->p;
            while (*q == ' ' || *q == '\t') q++;
            if (!strncmp(q, "::=", 3)) {
                /* "a ::= x |" then a new rule on the next line: the last alternative is empty */
                if (first && b->crossed_newline) { b->p = name; b->rule_ended = true; return 0; }
                return syntax_error(b, name, "a new rule must start on a new line");
            }
            int ref = find_or_add_rule(b, name, len);
            if (ref < 0) return b->err;
            if (!b->rules[ref].defined && !b->rules[ref].line) line_col(b, name, &b->rules[ref].line, &b->rules[ref].col);
            item_start = CUR->n;
            if (symvec_push(b, CUR, (sym){S_REF, (uint32_t)ref}) < 0) return b->err;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (item_start == (size_t)-1) return syntax_error(b, at, "repetition operator without anything to repeat");
            long min = 0, max = -1;
            b->p++;
            if (c == '+') min = 1;
            else if (c == '?') max = 1;
            else if (c == '{') {
                skip_space(b, false);
                bool has_min = parse_long(b, &min) == 0;
                if (!has_min) min = 0;
                skip_space(b, false);
                if (*b->p == ',') {
                    b->p++;
                    skip_space(b, false);
                    if (parse_long(b, &max) < 0) max = -1;
                } else if (has_min) max = min;
                else return syntax_error(b, at, "expected {m}, {m,}, {m,n} or {,n}");
                skip_space(b, false);
                if (*b->p != '}') return syntax_error(b, at, "expected } after repetition bounds");
                b->p++;
            }
            sym x;
            if (wrap_item(b, r, alt, item_start, &x) < 0) return b->err;
            if (append_repeat(b, r, alt, x, min, max, at) < 0) return b->err;
            item_start = (size_t)-1; /* x** is an error, as in llama.cpp */
        } else return 0; /* end of the sequence: | ) newline or end */
        #undef CUR
    }
}

static int parse_alternates(builder *b, int r, bool nested) {
    for (;;) {
        if (parse_sequence(b, r, nested) < 0) return b->err;
        skip_space(b, nested);
        if (*b->p == '|') { b->p++; skip_space(b, true); continue; }
        if (!nested) {
            /* a rule may go on with `|` at the start of the next line */
            const char *save = b->p;
            skip_space(b, true);
            if (*b->p == '|') { b->p++; skip_space(b, true); continue; }
            b->p = save;
        }
        return 0;
    }
}

static int parse_grammar(builder *b) {
    skip_space(b, true);
    while (*b->p) {
        const char *at = b->p;
        if (!is_name_char(*b->p)) return syntax_error(b, at, "expected a rule name");
        while (is_name_char(*b->p)) b->p++;
        int r = find_or_add_rule(b, at, (size_t)(b->p - at));
        if (r < 0) return b->err;
        if (b->rules[r].defined) {
            char msg[160];
            snprintf(msg, sizeof msg, "rule '%.100s' is defined twice", b->rules[r].name);
            return syntax_error(b, at, msg);
        }
        b->rules[r].defined = true;
        b->cur_rule = r;
        b->rule_ended = false;
        skip_space(b, false);
        if (strncmp(b->p, "::=", 3) != 0) return syntax_error(b, b->p, "expected ::=");
        b->p += 3;
        skip_space(b, true);
        if (parse_alternates(b, r, false) < 0) return b->err;
        skip_space(b, false);
        if (*b->p && *b->p != '\n' && *b->p != '\r' && !b->rule_ended) {
            if (*b->p == ')') return syntax_error(b, b->p, "unmatched )");
            return syntax_error(b, b->p, "unexpected character");
        }
        skip_space(b, true);
    }
    return 0;
}

/* ---- analysis */

static bool sym_nullable(const sym *s, const bool *nullable) { return s->kind == S_REF && nullable[s->arg]; }

static bool sym_productive(const builder *b, const sym *s, const bool *productive) {
    if (s->kind == S_REF) return productive[s->arg];
    if (s->kind == S_TERM) {
        const byteset *bs = &b->sets[s->arg];
        return (bs->w[0] | bs->w[1] | bs->w[2] | bs->w[3]) != 0;
    }
    return true;
}

/* Left recursion: DFS over "A can start with B" edges. Returns the rule where a cycle closes, or -1. */
static int left_dfs(const builder *b, const bool *nullable, uint8_t *color, int *path, int depth, int r, int *cycle_len) {
    color[r] = 1;
    path[depth] = r;
    const brule *ru = &b->rules[r];
    for (size_t a = 0; a < ru->n_alts; a++) {
        const symvec *v = &ru->alts[a];
        for (size_t i = 0; i < v->n; i++) {
            const sym *s = &v->s[i];
            if (s->kind == S_REF) {
                int t = (int)s->arg;
                if (color[t] == 1) { *cycle_len = depth + 1; path[depth + 1] = t; return t; }
                if (color[t] == 0) {
                    int c = left_dfs(b, nullable, color, path, depth + 1, t, cycle_len);
                    if (c >= 0) return c;
                }
            }
            if (!sym_nullable(s, nullable)) break;
        }
    }
    color[r] = 2;
    return -1;
}

static int analyze_and_flatten(builder *b, const char *root_name, grammar *g) {
    size_t nr = b->n_rules;
    for (size_t r = 0; r < nr; r++)
        if (b->rules[r].name && !b->rules[r].defined)
            return hearth_fail(HEARTH_ERR_FORMAT, "grammar: line %d, column %d: rule '%s' is used but not defined",
                               b->rules[r].line, b->rules[r].col, b->rules[r].name);
    int root = -1;
    for (size_t r = 0; r < nr; r++)
        if (b->rules[r].name && !strcmp(b->rules[r].name, root_name)) root = (int)r;
    if (root < 0) return hearth_fail(HEARTH_ERR_FORMAT, "grammar: no rule named '%s' (the start rule)", root_name);

    bool *nullable = calloc(nr, 1), *productive = calloc(nr, 1);
    uint8_t *color = calloc(nr, 1);
    int *path = malloc(sizeof(int) * (nr + 2));
    int rc = 0;
    if (!nullable || !productive || !color || !path) { rc = hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); goto out; }
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < nr; r++) {
            const brule *ru = &b->rules[r];
            for (size_t a = 0; a < ru->n_alts; a++) {
                bool nul = true, prod = true;
                for (size_t i = 0; i < ru->alts[a].n; i++) {
                    const sym *s = &ru->alts[a].s[i];
                    nul &= sym_nullable(s, nullable);
                    prod &= sym_productive(b, s, productive);
                }
                if (nul && !nullable[r]) nullable[r] = changed = true;
                if (prod && !productive[r]) productive[r] = changed = true;
            }
        }
    }
    for (size_t r = 0; r < nr; r++) {
        if (color[r]) continue;
        int len = 0;
        int c = left_dfs(b, nullable, color, path, 0, (int)r, &len);
        if (c < 0) continue;
        int start = 0;
        while (path[start] != c) start++;
        for (int i = start; i < len; i++)
            if (b->rules[path[i]].loop) {
                rc = hearth_fail(HEARTH_ERR_FORMAT, "grammar: rule '%s': a repetition (*, + or {m,}) of something that "
                                 "can match nothing would loop forever", rule_display_name(b, path[i]));
                goto out;
            }
        char chain[400];
        size_t off = 0;
        const char *prev = NULL;
        for (int i = start; i <= len && off < sizeof chain - 1; i++) {
            const char *nm = rule_display_name(b, path[i]);
            if (prev && !strcmp(prev, nm) && i < len) continue;
            off += (size_t)snprintf(chain + off, sizeof chain - off, "%s%s", prev ? " -> " : "", nm);
            prev = nm;
        }
        rc = hearth_fail(HEARTH_ERR_FORMAT, "grammar: rule '%s' is left-recursive (%s): rewrite it with repetition, "
                         "e.g. a ::= b (\"+\" b)*", rule_display_name(b, c), chain);
        goto out;
    }
    if (!productive[root]) {
        rc = hearth_fail(HEARTH_ERR_FORMAT, "grammar: rule '%s' can never match anything", root_name);
        goto out;
    }

    /* flatten the productive alternatives */
    size_t n_el = 0, n_alts = 0;
    for (size_t r = 0; r < nr; r++)
        for (size_t a = 0; a < b->rules[r].n_alts; a++) { n_el += b->rules[r].alts[a].n + 1; n_alts++; }
    g->kind = malloc(n_el + 1);
    g->arg = malloc(sizeof(uint32_t) * (n_el + 1));
    g->alt_off = malloc(sizeof(uint32_t) * (nr + 1));
    g->alt_start = malloc(sizeof(uint32_t) * (n_alts + 1));
    if (!g->kind || !g->arg || !g->alt_off || !g->alt_start) { rc = hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); goto out; }
    uint32_t e = 0, k = 0;
    for (size_t r = 0; r < nr; r++) {
        g->alt_off[r] = k;
        const brule *ru = &b->rules[r];
        for (size_t a = 0; a < ru->n_alts; a++) {
            const symvec *v = &ru->alts[a];
            bool prod = true;
            for (size_t i = 0; i < v->n; i++) prod &= sym_productive(b, &v->s[i], productive);
            if (!prod) continue;
            g->alt_start[k++] = e;
            for (size_t i = 0; i < v->n; i++) { g->kind[e] = v->s[i].kind; g->arg[e++] = v->s[i].arg; }
            g->kind[e] = S_END;
            g->arg[e++] = 0;
        }
    }
    g->alt_off[nr] = k;
    g->n_el = e;
    g->n_rules = (uint32_t)nr;
    g->root = (uint32_t)root;

    /* byte classes: bytes no terminal tells apart share a class (refine the partition set by set) */
    memset(g->cls, 0, sizeof g->cls);
    int nc = 1;
    for (size_t s = 0; s < b->n_sets; s++) {
        int remap[256];
        for (int i = 0; i < 256; i++) remap[i] = -1;
        int next = nc;
        for (int c = 0; c < 256; c++)
            if (b->sets[s].w[c >> 6] >> (c & 63) & 1) {
                int old = g->cls[c];
                if (remap[old] < 0) remap[old] = next++;
                g->cls[c] = (uint8_t)remap[old];
            }
        nc = next;
        /* renumber densely (classes emptied by the split disappear) */
        int dense[512];
        for (int i = 0; i < 512; i++) dense[i] = -1;
        int m = 0;
        for (int c = 0; c < 256; c++) {
            if (dense[g->cls[c]] < 0) dense[g->cls[c]] = m++;
            g->cls[c] = (uint8_t)dense[g->cls[c]];
        }
        nc = m;
    }
    g->nc = nc;
    g->n_sets = (uint32_t)b->n_sets;
    g->setcls = calloc(b->n_sets ? b->n_sets : 1, sizeof *g->setcls);
    if (!g->setcls) { rc = hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); goto out; }
    for (size_t s = 0; s < b->n_sets; s++)
        for (int c = 0; c < 256; c++)
            if (b->sets[s].w[c >> 6] >> (c & 63) & 1) g->setcls[s][g->cls[c] >> 6] |= 1ull << (g->cls[c] & 63);

    /* chains (for the matcher's mask sharing); any token reference disables them (a token item reads no byte) */
    bool token_refs = false;
    for (uint32_t i = 0; i < g->n_el; i++) token_refs |= g->kind[i] == S_TOKEN || g->kind[i] == S_NTOKEN;
    g->n_chains = (uint32_t)b->n_chains;
    g->chain_off = calloc((size_t)b->n_chains + 1, sizeof(uint32_t));
    g->chain_usable = calloc((size_t)b->n_chains + 1, 1);
    size_t n_chain_rules = 0;
    for (size_t r = 0; r < nr; r++)
        if (b->rules[r].chain >= 0) { g->chain_off[b->rules[r].chain + 1]++; n_chain_rules++; }
    g->chain_rules = malloc(sizeof(uint32_t) * (n_chain_rules + 1));
    if (!g->chain_off || !g->chain_usable || !g->chain_rules) { rc = hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); goto out; }
    for (int c = 0; c < b->n_chains; c++) g->chain_off[c + 1] += g->chain_off[c];
    for (size_t r = 0; r < nr; r++) {
        const brule *ru = &b->rules[r];
        if (ru->chain < 0) continue;
        g->chain_rules[g->chain_off[ru->chain] + (uint32_t)ru->chain_idx - 1] = (uint32_t)r;
        const sym *x = &ru->alts[0].s[0];
        g->chain_usable[ru->chain] = !token_refs && !sym_nullable(x, nullable) && productive[r];
    }
out:
    free(nullable);
    free(productive);
    free(color);
    free(path);
    return rc;
}

static void builder_free(builder *b) {
    for (size_t r = 0; r < b->n_rules; r++) {
        for (size_t a = 0; a < b->rules[r].n_alts; a++) free(b->rules[r].alts[a].s);
        free(b->rules[r].alts);
        free(b->rules[r].name);
    }
    free(b->rules);
    free(b->sets);
}

int grammar_compile(grammar **out, const char *gbnf, const char *root, const struct tokenizer *tok) {
    *out = NULL;
    if (!gbnf) return hearth_fail(HEARTH_ERR_ARG, "grammar: no grammar text");
    builder b = {.src = gbnf, .p = gbnf, .cur_rule = -1, .any_rule = -1, .tok = tok};
    for (int i = 0; i < 256; i++) b.single[i] = -1;
    grammar *g = calloc(1, sizeof *g);
    int rc = g ? parse_grammar(&b) : hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    if (rc == 0) rc = analyze_and_flatten(&b, root && *root ? root : "root", g);
    builder_free(&b);
    if (rc < 0) { grammar_free(g); return rc; }
    *out = g;
    return 0;
}

void grammar_free(grammar *g) {
    if (!g) return;
    free(g->kind);
    free(g->arg);
    free(g->alt_off);
    free(g->alt_start);
    free(g->setcls);
    free(g->chain_off);
    free(g->chain_rules);
    free(g->chain_usable);
    free(g);
}

void grammar_stats(const grammar *g, int *n_rules, int *n_elements, int *n_classes) {
    if (n_rules) *n_rules = (int)g->n_rules;
    if (n_elements) *n_elements = (int)g->n_el;
    if (n_classes) *n_classes = g->nc;
}

/* ============================================================================ 2. the vocabulary trie */

/* Nodes in preorder: node i has the byte that leads to it, its depth, skip[i] = the first node after its
 * subtree, and the tokens whose piece ends exactly there: tok_ids[tok_off[i] .. tok_off[i+1]). Node 0 is the
 * root (the empty prefix). */
struct gvocab {
    int32_t n_vocab;
    uint32_t n_nodes;
    uint8_t *byte;
    uint16_t *depth;
    uint32_t *skip;
    uint32_t *tok_off;
    int32_t *tok_ids;
    int max_depth;
    int32_t *eog;          /* end-of-generation tokens */
    int n_eog;
    const struct tokenizer *tok;
};

typedef struct {
    const char *s;
    uint32_t n;
    int32_t id;
} piece_ref;

static int cmp_piece(const void *a, const void *b) {
    const piece_ref *x = a, *y = b;
    uint32_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

#define GV_MAX_PIECE 4096 /* longer pieces are left out of the trie (never allowed under a grammar) */

int gvocab_build(gvocab **out, const struct tokenizer *tok) {
    *out = NULL;
    int32_t nv = tokenizer_n_vocab(tok);
    gvocab *v = calloc(1, sizeof *v);
    piece_ref *pr = malloc(sizeof *pr * (size_t)(nv > 0 ? nv : 1));
    if (!v || !pr) { free(v); free(pr); return hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); }
    v->n_vocab = nv;
    v->tok = tok;
    size_t np = 0, total = 1;
    int n_eog = 0;
    for (int32_t i = 0; i < nv; i++) {
        if (tokenizer_is_eog(tok, i)) n_eog++;
        if (tokenizer_is_control(tok, i)) continue; /* they write nothing: never part of grammar text */
        size_t len;
        const char *p = tokenizer_piece(tok, i, &len);
        if (!p || !len || len > GV_MAX_PIECE) continue;
        pr[np++] = (piece_ref){p, (uint32_t)len, i};
        total += len;
    }
    qsort(pr, np, sizeof *pr, cmp_piece);
    v->eog = malloc(sizeof(int32_t) * (size_t)(n_eog ? n_eog : 1));
    v->byte = malloc(total);
    v->depth = malloc(sizeof(uint16_t) * total);
    v->skip = malloc(sizeof(uint32_t) * total);
    v->tok_off = calloc(total + 1, sizeof(uint32_t));
    v->tok_ids = malloc(sizeof(int32_t) * (np ? np : 1));
    uint32_t *stack = malloc(sizeof(uint32_t) * (GV_MAX_PIECE + 2));
    if (!v->eog || !v->byte || !v->depth || !v->skip || !v->tok_off || !v->tok_ids || !stack) {
        free(pr); free(stack); gvocab_free(v);
        return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < nv; i++)
        if (tokenizer_is_eog(tok, i)) v->eog[v->n_eog++] = i;
    uint32_t n = 1;
    v->byte[0] = 0;
    v->depth[0] = 0;
    const char *prev = "";
    uint32_t prev_n = 0;
    /* pieces in sorted order share their common prefix with the previous one: add only the rest */
    for (size_t k = 0; k < np; k++) {
        uint32_t lcp = 0;
        while (lcp < pr[k].n && lcp < prev_n && pr[k].s[lcp] == prev[lcp]) lcp++;
        for (uint32_t j = lcp; j < pr[k].n; j++) {
            v->byte[n] = (uint8_t)pr[k].s[j];
            v->depth[n] = (uint16_t)(j + 1);
            n++;
        }
        if ((int)pr[k].n > v->max_depth) v->max_depth = (int)pr[k].n;
        v->tok_ids[k] = pr[k].id;
        v->tok_off[n - 1 + 1]++; /* counts per node, made cumulative below (the node is n - 1) */
        prev = pr[k].s;
        prev_n = pr[k].n;
    }
    v->n_nodes = n;
    for (uint32_t i = 0; i < n; i++) v->tok_off[i + 1] += v->tok_off[i];
    /* skip pointers: a node's subtree ends at the next node that is not deeper */
    int sp = 0;
    for (uint32_t i = 0; i < n; i++) {
        while (sp > 0 && v->depth[stack[sp - 1]] >= v->depth[i]) v->skip[stack[--sp]] = i;
        stack[sp++] = i;
    }
    while (sp > 0) v->skip[stack[--sp]] = n;
    free(stack);
    free(pr);
    *out = v;
    return 0;
}

void gvocab_free(gvocab *v) {
    if (!v) return;
    free(v->byte); free(v->depth); free(v->skip); free(v->tok_off); free(v->tok_ids); free(v->eog);
    free(v);
}

int gvocab_n_nodes(const gvocab *v) { return (int)v->n_nodes; }

static pthread_mutex_t gvocab_lock = PTHREAD_MUTEX_INITIALIZER;

const gvocab *gvocab_for_model(const hearth_model *model) {
    if (!model->tok) { hearth_fail(HEARTH_ERR_UNSUPPORTED, "this model file has no vocabulary"); return NULL; }
    pthread_mutex_lock(&gvocab_lock);
    hearth_model *m = (hearth_model *)model; /* a lazily built cache: the model stays logically immutable */
    if (!m->gvocab && gvocab_build(&m->gvocab, m->tok) < 0) m->gvocab = NULL;
    const gvocab *v = m->gvocab;
    pthread_mutex_unlock(&gvocab_lock);
    return v;
}

/* ================================================================================== 3. matching */

#define T_UNKNOWN (-2)
#define T_DEAD (-1)
#define NODE_EMPTY 0u
#define MASK_BUDGET (48u << 20)  /* bytes of cached masks per matcher; past it the cache starts over */
#define MAX_STATES 200000        /* past this many states (or nodes) the tables start over from the current state */
#define MAX_NODES 2000000

struct gmatch {
    const grammar *g;
    const gvocab *v;
    /* stack nodes: (pos, parent), interned */
    uint32_t *npos, *npar, *ndepth; /* ndepth: length of the stack that ends at the node */
    uint32_t n_nodes, cap_nodes;
    uint32_t *nhash;             /* open addressing: node ids, UINT32_MAX = empty */
    uint32_t nhash_cap;
    /* states: sorted node-id sets, interned */
    uint32_t *spool;             /* node ids of all states, back to back */
    size_t spool_n, spool_cap;
    size_t *soff;                /* state s: spool[soff[s] .. soff[s+1]) */
    int32_t *smask;              /* state -> cached mask (index into masks) or -1 */
    int32_t *scanon;             /* state -> the state whose mask it shares (chains past the horizon), -1: not known */
    int32_t *scut;               /* rebased state -> its context-free walk (index into cuts) or -1 */
    uint8_t *sflags;             /* SF_ACCEPT: contains the empty stack; SF_TOKENS: has token-reference tops */
    int32_t *trans;              /* [n_states][nc]: T_UNKNOWN, T_DEAD or a state */
    uint32_t n_states, cap_states;
    int32_t *shash;
    uint32_t shash_cap;
    /* scratch of one transition */
    uint32_t *work;              /* (pos, parent) pairs to expand */
    size_t work_n, work_cap;
    uint32_t *outv;              /* node ids of the new state */
    size_t out_n, out_cap;
    uint64_t *vkey;              /* visited (pos, parent) pairs, stamped by generation */
    uint32_t *vgen;
    uint32_t vcap, vcount, gen;
    /* the parse */
    int32_t initial, cur;
    bool failed;                 /* an allocation failed: masks allow nothing */
    /* masks: sparse ones as sorted token lists, dense ones as bitsets */
    struct cached_mask { int32_t count; int32_t *ids; uint64_t *bits; } *masks;
    size_t n_masks, cap_masks, mask_bytes;
    struct cut_walk { int32_t mask; uint32_t *pops; size_t n_pops; } *cuts;
    size_t n_cuts, cap_cuts;
    uint32_t *pops;              /* scratch: trie nodes where a rebased walk popped its base */
    size_t n_pops, cap_pops;
    uint64_t *scratch;           /* the walk's bitset */
    size_t mask_words;
    int32_t *walk_st;            /* state per trie depth */
    uint32_t *canon_pos;         /* position -> the same position in the chain rule at the horizon (NULL: none) */
    uint32_t max_states, max_nodes; /* bounds before compaction (MAX_STATES, MAX_NODES; lower in tests) */
    long walks, hits, compactions;
};

enum { SF_ACCEPT = 1, SF_TOKENS = 2 };

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static bool grow(void **p, size_t elem, size_t need, size_t *cap) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np) return false;
    *p = np;
    *cap = c;
    return true;
}

static void node_rehash(gmatch *m, uint32_t cap) {
    free(m->nhash);
    m->nhash = malloc(sizeof(uint32_t) * cap);
    if (!m->nhash) { m->failed = true; m->nhash_cap = 0; return; }
    memset(m->nhash, 0xFF, sizeof(uint32_t) * cap);
    m->nhash_cap = cap;
    for (uint32_t id = 1; id < m->n_nodes; id++) {
        uint32_t h = (uint32_t)mix64((uint64_t)m->npos[id] << 32 | m->npar[id]) & (cap - 1);
        while (m->nhash[h] != UINT32_MAX) h = (h + 1) & (cap - 1);
        m->nhash[h] = id;
    }
}

static uint32_t node_intern(gmatch *m, uint32_t pos, uint32_t par) {
    if ((m->n_nodes + 1) * 2 > m->nhash_cap) node_rehash(m, m->nhash_cap ? m->nhash_cap * 2 : 1024);
    if (m->failed) return NODE_EMPTY;
    uint32_t h = (uint32_t)mix64((uint64_t)pos << 32 | par) & (m->nhash_cap - 1);
    for (;;) {
        uint32_t id = m->nhash[h];
        if (id == UINT32_MAX) break;
        if (m->npos[id] == pos && m->npar[id] == par) return id;
        h = (h + 1) & (m->nhash_cap - 1);
    }
    if (m->n_nodes == m->cap_nodes) {
        size_t cap = m->cap_nodes, cap2 = m->cap_nodes, cap3 = m->cap_nodes;
        if (!grow((void **)&m->npos, sizeof(uint32_t), m->n_nodes + 1, &cap) ||
            !grow((void **)&m->npar, sizeof(uint32_t), m->n_nodes + 1, &cap2) ||
            !grow((void **)&m->ndepth, sizeof(uint32_t), m->n_nodes + 1, &cap3)) { m->failed = true; return NODE_EMPTY; }
        m->cap_nodes = (uint32_t)cap;
    }
    uint32_t id = m->n_nodes++;
    m->npos[id] = pos;
    m->npar[id] = par;
    m->ndepth[id] = m->ndepth[par] + 1;
    m->nhash[h] = id;
    return id;
}

static bool visited(gmatch *m, uint32_t pos, uint32_t par) {
    uint64_t key = (uint64_t)pos << 32 | par;
    if ((m->vcount + 1) * 2 > m->vcap) {
        uint32_t ncap = m->vcap ? m->vcap * 2 : 256;
        uint64_t *nk = malloc(sizeof(uint64_t) * ncap);
        uint32_t *ng = calloc(ncap, sizeof(uint32_t));
        if (!nk || !ng) { free(nk); free(ng); m->failed = true; return true; }
        for (uint32_t i = 0; i < m->vcap; i++)
            if (m->vgen[i] == m->gen) {
                uint32_t h = (uint32_t)mix64(m->vkey[i]) & (ncap - 1);
                while (ng[h] == m->gen) h = (h + 1) & (ncap - 1);
                ng[h] = m->gen;
                nk[h] = m->vkey[i];
            }
        free(m->vkey);
        free(m->vgen);
        m->vkey = nk;
        m->vgen = ng;
        m->vcap = ncap;
    }
    uint32_t h = (uint32_t)mix64(key) & (m->vcap - 1);
    while (m->vgen[h] == m->gen) {
        if (m->vkey[h] == key) return true;
        h = (h + 1) & (m->vcap - 1);
    }
    m->vgen[h] = m->gen;
    m->vkey[h] = key;
    m->vcount++;
    return false;
}

static void begin_expand(gmatch *m) {
    m->out_n = 0;
    m->work_n = 0;
    m->vcount = 0;
    if (++m->gen == 0) { /* generations wrapped: clear the stamps */
        if (m->vgen) memset(m->vgen, 0, sizeof(uint32_t) * m->vcap);
        m->gen = 1;
    }
}

static void push_work(gmatch *m, uint32_t pos, uint32_t par) {
    if (!grow((void **)&m->work, sizeof(uint32_t) * 2, m->work_n + 1, &m->work_cap)) { m->failed = true; return; }
    m->work[2 * m->work_n] = pos;
    m->work[2 * m->work_n + 1] = par;
    m->work_n++;
}

static void push_out(gmatch *m, uint32_t node) {
    if (!grow((void **)&m->outv, sizeof(uint32_t), m->out_n + 1, &m->out_cap)) { m->failed = true; return; }
    m->outv[m->out_n++] = node;
}

/* Expand the queued (position, parent) pairs until every stack has a terminal (or token reference) on top
 * or is the empty stack. Nullable rules and completed rules are followed without reading anything; left
 * recursion was refused at compile time, so this terminates; `visited` keeps it linear. */
static void run_expand(gmatch *m) {
    const grammar *g = m->g;
    while (m->work_n > 0 && !m->failed) {
        m->work_n--;
        uint32_t pos = m->work[2 * m->work_n], par = m->work[2 * m->work_n + 1];
        if (visited(m, pos, par)) continue;
        switch (g->kind[pos]) {
        case S_END:
            if (par == NODE_EMPTY) push_out(m, NODE_EMPTY);
            else push_work(m, m->npos[par], m->npar[par]);
            break;
        case S_REF: {
            uint32_t r = g->arg[pos];
            uint32_t ret = g->kind[pos + 1] == S_END ? par : node_intern(m, pos + 1, par); /* tail call */
            for (uint32_t a = g->alt_off[r]; a < g->alt_off[r + 1]; a++) push_work(m, g->alt_start[a], ret);
            break;
        }
        default: /* S_TERM, S_TOKEN, S_NTOKEN */
            push_out(m, node_intern(m, pos, par));
        }
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void state_rehash(gmatch *m, uint32_t cap) {
    free(m->shash);
    m->shash = malloc(sizeof(int32_t) * cap);
    if (!m->shash) { m->failed = true; m->shash_cap = 0; return; }
    for (uint32_t i = 0; i < cap; i++) m->shash[i] = -1;
    m->shash_cap = cap;
    for (uint32_t s = 0; s < m->n_states; s++) {
        uint64_t h = 0x9e3779b97f4a7c15ull;
        for (size_t i = m->soff[s]; i < m->soff[s + 1]; i++) h = mix64(h ^ m->spool[i]);
        uint32_t k = (uint32_t)h & (cap - 1);
        while (m->shash[k] >= 0) k = (k + 1) & (cap - 1);
        m->shash[k] = (int32_t)s;
    }
}

/* Room for `need` states in every per-state array. */
static bool grow_states(gmatch *m, uint32_t need) {
    uint32_t cap = m->cap_states ? m->cap_states : 64;
    while (cap < need) cap *= 2;
    size_t nc = (size_t)m->g->nc;
    size_t *so = realloc(m->soff, sizeof(size_t) * (cap + 1));
    if (so) m->soff = so;
    int32_t *sm = realloc(m->smask, sizeof(int32_t) * cap);
    if (sm) m->smask = sm;
    uint8_t *sf = realloc(m->sflags, cap);
    if (sf) m->sflags = sf;
    int32_t *sc = realloc(m->scanon, sizeof(int32_t) * cap);
    if (sc) m->scanon = sc;
    int32_t *sk = realloc(m->scut, sizeof(int32_t) * cap);
    if (sk) m->scut = sk;
    int32_t *tr = realloc(m->trans, sizeof(int32_t) * nc * cap);
    if (tr) m->trans = tr;
    if (!so || !sm || !sf || !sc || !sk || !tr) { m->failed = true; return false; }
    m->cap_states = cap;
    return true;
}

/* Intern outv[0..out_n) (sorted, deduplicated here) as a state; T_DEAD if empty. */
static int32_t intern_out(gmatch *m) {
    if (m->failed) return T_DEAD;
    if (m->out_n == 0) return T_DEAD;
    qsort(m->outv, m->out_n, sizeof(uint32_t), cmp_u32);
    size_t k = 1;
    for (size_t i = 1; i < m->out_n; i++)
        if (m->outv[i] != m->outv[k - 1]) m->outv[k++] = m->outv[i];
    m->out_n = k;
    if ((m->n_states + 1) * 2 > m->shash_cap) state_rehash(m, m->shash_cap ? m->shash_cap * 2 : 256);
    if (m->failed) return T_DEAD;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < k; i++) h = mix64(h ^ m->outv[i]);
    uint32_t slot = (uint32_t)h & (m->shash_cap - 1);
    for (;;) {
        int32_t s = m->shash[slot];
        if (s < 0) break;
        if (m->soff[s + 1] - m->soff[s] == k && !memcmp(m->spool + m->soff[s], m->outv, k * sizeof(uint32_t))) return s;
        slot = (slot + 1) & (m->shash_cap - 1);
    }
    uint32_t s = m->n_states;
    if (s + 1 > m->cap_states && !grow_states(m, s + 1)) return T_DEAD;
    if (!grow((void **)&m->spool, sizeof(uint32_t), m->spool_n + k, &m->spool_cap)) { m->failed = true; return T_DEAD; }
    size_t nc = (size_t)m->g->nc;
    memcpy(m->spool + m->spool_n, m->outv, k * sizeof(uint32_t));
    m->soff[s] = m->spool_n;
    m->spool_n += k;
    m->soff[s + 1] = m->spool_n;
    m->smask[s] = -1;
    m->scanon[s] = -1;
    m->scut[s] = -1;
    uint8_t fl = 0;
    for (size_t i = 0; i < k; i++) {
        if (m->outv[i] == NODE_EMPTY) fl |= SF_ACCEPT;
        else if (m->g->kind[m->npos[m->outv[i]]] != S_TERM) fl |= SF_TOKENS;
    }
    m->sflags[s] = fl;
    for (size_t c = 0; c < nc; c++) m->trans[(size_t)s * nc + c] = T_UNKNOWN;
    m->shash[slot] = (int32_t)s;
    m->n_states++;
    return (int32_t)s;
}

/* The state after reading one byte of class c in state q. */
static int32_t compute_trans(gmatch *m, int32_t q, int c) {
    const grammar *g = m->g;
    begin_expand(m);
    for (size_t i = m->soff[q]; i < m->soff[q + 1]; i++) {
        uint32_t node = m->spool[i];
        if (node == NODE_EMPTY) continue;
        uint32_t pos = m->npos[node];
        if (g->kind[pos] == S_TERM && (g->setcls[g->arg[pos]][c >> 6] >> (c & 63) & 1))
            push_work(m, pos + 1, m->npar[node]);
    }
    run_expand(m);
    int32_t t = intern_out(m);
    if (m->failed) return T_DEAD;
    m->trans[(size_t)q * (size_t)g->nc + (size_t)c] = t;
    return t;
}

static inline int32_t step(gmatch *m, int32_t q, uint8_t byte) {
    int c = m->g->cls[byte];
    int32_t t = m->trans[(size_t)q * (size_t)m->g->nc + (size_t)c];
    return t != T_UNKNOWN ? t : compute_trans(m, q, c);
}

/* The state after token `tok` as a whole: its bytes through the DFA, united with the token-reference tops it
 * matches. T_DEAD if neither goes on. */
static int32_t advance_token(gmatch *m, int32_t q, int32_t tok, const char *piece, size_t len) {
    int32_t qb = len ? q : T_DEAD;
    for (size_t i = 0; i < len && qb >= 0; i++) qb = step(m, qb, (uint8_t)piece[i]);
    if (!(m->sflags[q] & SF_TOKENS)) return qb;
    bool is_eog = false;
    for (int i = 0; i < m->v->n_eog; i++) is_eog |= m->v->eog[i] == tok;
    begin_expand(m);
    for (size_t i = m->soff[q]; i < m->soff[q + 1]; i++) {
        uint32_t node = m->spool[i];
        if (node == NODE_EMPTY) continue;
        uint32_t pos = m->npos[node];
        uint8_t k = m->g->kind[pos];
        if ((k == S_TOKEN && m->g->arg[pos] == (uint32_t)tok) || (k == S_NTOKEN && m->g->arg[pos] != (uint32_t)tok && !is_eog))
            push_work(m, pos + 1, m->npar[node]);
    }
    run_expand(m);
    if (m->out_n == 0) return qb;
    if (qb >= 0) /* union with the byte path's state */
        for (size_t i = m->soff[qb]; i < m->soff[qb + 1]; i++) push_out(m, m->spool[i]);
    return intern_out(m);
}

static void masks_clear(gmatch *m) {
    for (size_t i = 0; i < m->n_masks; i++) { free(m->masks[i].ids); free(m->masks[i].bits); }
    for (size_t i = 0; i < m->n_cuts; i++) free(m->cuts[i].pops);
    m->n_masks = m->n_cuts = 0;
    m->mask_bytes = 0;
    for (uint32_t s = 0; s < m->n_states; s++) m->smask[s] = m->scut[s] = -1;
}

static void tables_clear(gmatch *m) {
    m->n_nodes = 1; /* node 0: the empty stack */
    m->n_states = 0;
    m->spool_n = 0;
    if (m->nhash) memset(m->nhash, 0xFF, sizeof(uint32_t) * m->nhash_cap);
    if (m->shash) for (uint32_t i = 0; i < m->shash_cap; i++) m->shash[i] = -1;
    masks_clear(m);
}

static int32_t initial_state(gmatch *m) {
    const grammar *g = m->g;
    begin_expand(m);
    for (uint32_t a = g->alt_off[g->root]; a < g->alt_off[g->root + 1]; a++) push_work(m, g->alt_start[a], NODE_EMPTY);
    run_expand(m);
    return intern_out(m);
}

/* When the tables grow past their bounds (a very long or deeply nested output), start them over with only
 * the current state: its stacks are re-interned bottom-up. */
static void maybe_compact(gmatch *m) {
    if (m->n_states < m->max_states && m->n_nodes < m->max_nodes) return;
    m->compactions++;
    size_t n = m->soff[m->cur + 1] - m->soff[m->cur];
    /* each stack as its positions, bottom last */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t node = m->spool[m->soff[m->cur] + i]; node != NODE_EMPTY; node = m->npar[node]) total++;
    uint32_t *chains = malloc(sizeof(uint32_t) * (total + n + 1));
    if (!chains) { m->failed = true; return; }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t start = k;
        for (uint32_t node = m->spool[m->soff[m->cur] + i]; node != NODE_EMPTY; node = m->npar[node]) chains[k++] = m->npos[node];
        chains[k] = (uint32_t)(k - start); /* the chain's length, after it */
        k++;
    }
    tables_clear(m);
    begin_expand(m);
    /* rebuild: walk the chains from the end (each ends with its length) */
    size_t end = k;
    while (end > 0) {
        uint32_t len = chains[end - 1];
        size_t start = end - 1 - len;
        uint32_t par = NODE_EMPTY;
        for (size_t j = end - 1; j > start; j--) par = node_intern(m, chains[j - 1], par);
        push_out(m, par);
        end = start;
    }
    free(chains);
    m->cur = intern_out(m);
    m->initial = -1; /* re-made on reset */
}

/* Chains past the horizon: a token has at most max_depth bytes, and each item of a usable chain reads at
 * least one, so a token can tell apart only the last H = max_depth + 1 helpers of a chain. Every position in
 * helper j > H maps to the same position in helper H; states that differ only there share one mask. */
static int setup_canon(gmatch *m) {
    const grammar *g = m->g;
    uint32_t h = (uint32_t)m->v->max_depth + 1;
    if (h < 2) h = 2;
    bool any = false;
    for (uint32_t c = 0; c < g->n_chains; c++) any |= g->chain_usable[c] && g->chain_off[c + 1] - g->chain_off[c] > h;
    if (!any) return 0;
    m->canon_pos = malloc(sizeof(uint32_t) * g->n_el);
    if (!m->canon_pos) return -1;
    for (uint32_t i = 0; i < g->n_el; i++) m->canon_pos[i] = i;
    for (uint32_t c = 0; c < g->n_chains; c++) {
        uint32_t len = g->chain_off[c + 1] - g->chain_off[c];
        if (!g->chain_usable[c] || len <= h) continue;
        uint32_t rh = g->chain_rules[g->chain_off[c] + h - 1];
        for (uint32_t j = h + 1; j <= len; j++) {
            uint32_t rj = g->chain_rules[g->chain_off[c] + j - 1];
            if (g->alt_off[rj + 1] - g->alt_off[rj] != g->alt_off[rh + 1] - g->alt_off[rh]) continue;
            for (uint32_t a = 0; a < g->alt_off[rj + 1] - g->alt_off[rj]; a++) {
                uint32_t pj = g->alt_start[g->alt_off[rj] + a], ph = g->alt_start[g->alt_off[rh] + a];
                for (uint32_t o = 0;; o++) { /* same layout: x, then the next helper's reference, then END */
                    m->canon_pos[pj + o] = ph + o;
                    if (g->kind[pj + o] == S_END || g->kind[ph + o] == S_END) break;
                }
            }
        }
    }
    return 0;
}

static uint32_t canon_node(gmatch *m, uint32_t node) {
    uint32_t chain[512];
    int n = 0;
    bool changed = false;
    for (uint32_t k = node; k != NODE_EMPTY; k = m->npar[k]) {
        if (n == 512) return node; /* too deep to bother: its own mask */
        chain[n++] = k;
        changed |= m->canon_pos[m->npos[k]] != m->npos[k];
    }
    if (!changed) return node;
    uint32_t par = NODE_EMPTY;
    for (int i = n - 1; i >= 0; i--) par = node_intern(m, m->canon_pos[m->npos[chain[i]]], par);
    return par;
}

/* The state whose mask q shares (q itself unless a chain past the horizon is on one of its stacks). */
static int32_t canon_state(gmatch *m, int32_t q) {
    if (!m->canon_pos) return q;
    if (m->scanon[q] >= 0) return m->scanon[q];
    begin_expand(m);
    bool changed = false;
    for (size_t i = m->soff[q]; i < m->soff[q + 1]; i++) {
        uint32_t c = canon_node(m, m->spool[i]);
        changed |= c != m->spool[i];
        push_out(m, c);
    }
    int32_t r = changed ? intern_out(m) : q;
    if (r < 0) return q;
    m->scanon[q] = r;
    m->scanon[r] = r;
    return r;
}

gmatch *gmatch_new(const grammar *g, const gvocab *v) {
    gmatch *m = calloc(1, sizeof *m);
    if (!m) { hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); return NULL; }
    m->g = g;
    m->v = v;
    m->max_states = MAX_STATES;
    m->max_nodes = MAX_NODES;
    m->cap_nodes = 1024;
    m->npos = malloc(sizeof(uint32_t) * m->cap_nodes);
    m->npar = malloc(sizeof(uint32_t) * m->cap_nodes);
    m->ndepth = malloc(sizeof(uint32_t) * m->cap_nodes);
    if (v) {
        m->mask_words = ((size_t)v->n_vocab + 63) / 64;
        m->scratch = malloc(sizeof(uint64_t) * m->mask_words);
        m->walk_st = malloc(sizeof(int32_t) * ((size_t)v->max_depth + 2));
        if (setup_canon(m) < 0) m->failed = true;
    }
    if (!m->npos || !m->npar || !m->ndepth || m->failed || (v && (!m->scratch || !m->walk_st))) {
        gmatch_free(m);
        hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->npos[0] = UINT32_MAX;
    m->npar[0] = NODE_EMPTY;
    m->ndepth[0] = 0;
    tables_clear(m);
    m->initial = initial_state(m);
    m->cur = m->initial;
    if (m->failed || m->cur < 0) {
        gmatch_free(m);
        hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return m;
}

void gmatch_free(gmatch *m) {
    if (!m) return;
    masks_clear(m);
    free(m->masks);
    free(m->npos); free(m->npar); free(m->ndepth); free(m->nhash); free(m->spool); free(m->soff); free(m->smask); free(m->sflags);
    free(m->trans); free(m->shash); free(m->work); free(m->outv); free(m->vkey); free(m->vgen); free(m->scratch);
    free(m->walk_st); free(m->scanon); free(m->scut); free(m->canon_pos); free(m->cuts); free(m->pops);
    free(m);
}

void gmatch_reset(gmatch *m) {
    if (m->initial < 0) m->initial = initial_state(m);
    m->cur = m->initial;
}

int gmatch_accept_bytes(gmatch *m, const char *s, size_t n) {
    int32_t q = m->cur;
    for (size_t i = 0; i < n && q >= 0; i++) q = step(m, q, (uint8_t)s[i]);
    if (q < 0) return hearth_fail(HEARTH_ERR_ARG, m->failed ? "grammar: out of memory" : "grammar: text does not match");
    m->cur = q;
    maybe_compact(m);
    return 0;
}

static const char *token_piece(const gmatch *m, int32_t tok, size_t *len) {
    *len = 0;
    if (tok < 0 || tok >= m->v->n_vocab) return NULL;
    if (tokenizer_is_control(m->v->tok, tok)) return ""; /* writes nothing */
    return tokenizer_piece(m->v->tok, tok, len);
}

static bool is_eog(const gmatch *m, int32_t tok) {
    for (int i = 0; i < m->v->n_eog; i++)
        if (m->v->eog[i] == tok) return true;
    return false;
}

bool gmatch_token_allowed(gmatch *m, int32_t tok) {
    if (!m->v || tok < 0 || tok >= m->v->n_vocab) return false;
    if (is_eog(m, tok) && (m->sflags[m->cur] & SF_ACCEPT)) return true;
    size_t len;
    const char *p = token_piece(m, tok, &len);
    if (!p) return false;
    return advance_token(m, m->cur, tok, p, len) >= 0;
}

int gmatch_accept_token(gmatch *m, int32_t tok) {
    if (!m->v || tok < 0 || tok >= m->v->n_vocab) return hearth_fail(HEARTH_ERR_ARG, "grammar: bad token %d", tok);
    if (is_eog(m, tok) && (m->sflags[m->cur] & SF_ACCEPT)) return 0; /* the end: the state stays */
    size_t len;
    const char *p = token_piece(m, tok, &len);
    int32_t q = p ? advance_token(m, m->cur, tok, p, len) : T_DEAD;
    if (q < 0) return hearth_fail(HEARTH_ERR_ARG, "grammar: token %d does not fit the grammar here", tok);
    m->cur = q;
    maybe_compact(m);
    return 0;
}

bool gmatch_can_end(const gmatch *m) { return (m->sflags[m->cur] & SF_ACCEPT) != 0; }

bool gmatch_must_end(const gmatch *m) {
    return m->soff[m->cur + 1] - m->soff[m->cur] == 1 && m->spool[m->soff[m->cur]] == NODE_EMPTY;
}

#define MAX_POPS 2048 /* a rebased walk that pops its base more often shares too little: cut deeper */

/* The mask walk: trie nodes [begin, end) in preorder, all below a node of depth `base` that is in state q,
 * with the DFA state per depth; a byte with no transition skips the node's whole subtree. Tokens reached
 * alive are set in bits (returns how many). With record_pops, the nodes reached in a state that contains
 * the empty stack are listed in m->pops (for a rebased walk: where it popped its base); past MAX_POPS the
 * walk stops early, unfinished. */
static int walk_range(gmatch *m, int32_t q, uint32_t begin, uint32_t end, int base, uint64_t *bits, bool record_pops) {
    const gvocab *v = m->v;
    const uint8_t *byte = v->byte, *cls = m->g->cls;
    const uint16_t *depth = v->depth;
    const uint32_t *skip = v->skip, *toff = v->tok_off;
    const int32_t *tids = v->tok_ids;
    const size_t nc = (size_t)m->g->nc;
    int32_t *st = m->walk_st;
    int count = 0;
    st[base] = q;
    uint32_t i = begin;
    while (i < end) {
        int32_t from = st[depth[i] - 1];
        size_t c = cls[byte[i]];
        int32_t to = m->trans[(size_t)from * nc + c];
        if (to == T_UNKNOWN) to = compute_trans(m, from, (int)c);
        if (to < 0) { i = skip[i]; continue; }
        st[depth[i]] = to;
        for (uint32_t k = toff[i]; k < toff[i + 1]; k++) {
            int32_t t = tids[k];
            bits[t >> 6] |= 1ull << (t & 63);
            count++;
        }
        if (record_pops && (m->sflags[to] & SF_ACCEPT)) {
            if (m->n_pops > MAX_POPS) return count; /* the caller gives this cut up: no need to finish */
            if (!grow((void **)&m->pops, sizeof(uint32_t), m->n_pops + 1, &m->cap_pops)) { m->failed = true; return count; }
            m->pops[m->n_pops++] = i;
        }
        i++;
    }
    return count;
}

static int walk(gmatch *m, int32_t q, uint64_t *bits) { return walk_range(m, q, 1, m->v->n_nodes, 0, bits, false); }

/* The context a mask may leave out: the deepest node below every stack's top (their lowest common
 * ancestor), or NODE_EMPTY when there is none worth it (a complete stack, token references). */
static uint32_t cut_point(const gmatch *m, int32_t q) {
    if (m->sflags[q] & (SF_ACCEPT | SF_TOKENS)) return NODE_EMPTY;
    uint32_t c = UINT32_MAX;
    for (size_t i = m->soff[q]; i < m->soff[q + 1]; i++) {
        uint32_t a = m->npar[m->spool[i]];
        if (c == UINT32_MAX) { c = a; continue; }
        uint32_t b = a;
        while (m->ndepth[c] > m->ndepth[b]) c = m->npar[c];
        while (m->ndepth[b] > m->ndepth[c]) b = m->npar[b];
        while (c != b) { c = m->npar[c]; b = m->npar[b]; }
        if (c == NODE_EMPTY) return NODE_EMPTY;
    }
    return c == UINT32_MAX ? NODE_EMPTY : c;
}

/* q's stacks with everything from node c down replaced by the empty stack. */
static int32_t rebase(gmatch *m, int32_t q, uint32_t c) {
    begin_expand(m);
    for (size_t i = m->soff[q]; i < m->soff[q + 1]; i++) {
        uint32_t chain[512];
        int n = 0;
        for (uint32_t k = m->spool[i]; k != c; k = m->npar[k]) {
            if (n == 512 || k == NODE_EMPTY) return T_DEAD;
            chain[n++] = m->npos[k];
        }
        uint32_t par = NODE_EMPTY;
        for (int j = n - 1; j >= 0; j--) par = node_intern(m, chain[j], par);
        push_out(m, par);
    }
    return intern_out(m);
}

/* Store the scratch bitset as q's cached mask: a sorted list when sparse, a bitset when dense. */
static int32_t cache_mask(gmatch *m, int32_t q, int count) {
    if (!grow((void **)&m->masks, sizeof *m->masks, m->n_masks + 1, &m->cap_masks)) return -1;
    struct cached_mask *e = &m->masks[m->n_masks];
    e->count = count;
    e->ids = NULL;
    e->bits = NULL;
    if ((size_t)count * 32 < (size_t)m->v->n_vocab) {
        e->ids = malloc(sizeof(int32_t) * (size_t)(count ? count : 1));
        if (!e->ids) return -1;
        int n = 0;
        for (size_t w = 0; w < m->mask_words; w++)
            for (uint64_t b = m->scratch[w]; b; b &= b - 1) e->ids[n++] = (int32_t)(w * 64 + (size_t)__builtin_ctzll(b));
        m->mask_bytes += sizeof(int32_t) * (size_t)count + 64;
    } else {
        e->bits = malloc(sizeof(uint64_t) * m->mask_words);
        if (!e->bits) return -1;
        memcpy(e->bits, m->scratch, sizeof(uint64_t) * m->mask_words);
        m->mask_bytes += sizeof(uint64_t) * m->mask_words;
    }
    if (q >= 0) m->smask[q] = (int32_t)m->n_masks;
    return (int32_t)m->n_masks++;
}

/* The mask of q through its context-free part: the walk of q rebased at c (cached: every state with the
 * same stacks above its context shares it, e.g. the inside of any JSON string of the document) gives the
 * tokens that stay above c, and the nodes where it pops c; below those, walk on from the real state the
 * pop leads to. Leaves the mask in m->scratch; returns its count, or -1 to walk plainly instead. */

static int cut_mask(gmatch *m, int32_t q, uint32_t c) {
    int32_t qc;
    for (;;) {
        qc = rebase(m, q, c);
        if (qc < 0) return -1;
        if (m->scut[qc] < 0) {
            memset(m->scratch, 0, sizeof(uint64_t) * m->mask_words);
            m->n_pops = 0;
            m->walks++;
            int n = walk_range(m, qc, 1, m->v->n_nodes, 0, m->scratch, true);
            if (m->failed || !grow((void **)&m->cuts, sizeof *m->cuts, m->n_cuts + 1, &m->cap_cuts)) return -1;
            struct cut_walk *cw = &m->cuts[m->n_cuts];
            cw->mask = -1;
            cw->pops = NULL;
            cw->n_pops = m->n_pops;
            if (m->n_pops <= MAX_POPS) {
                int32_t mi = cache_mask(m, -1, n);
                if (mi < 0) return -1;
                cw = &m->cuts[m->n_cuts];
                cw->mask = mi;
                cw->pops = malloc(sizeof(uint32_t) * (m->n_pops + 1));
                if (!cw->pops) return -1;
                if (m->n_pops) memcpy(cw->pops, m->pops, sizeof(uint32_t) * m->n_pops);
                m->mask_bytes += sizeof(uint32_t) * m->n_pops;
            }
            m->scut[qc] = (int32_t)m->n_cuts++;
        }
        if (m->cuts[m->scut[qc]].mask >= 0) break;
        c = m->npar[c]; /* too many pops: include one more frame */
        if (c == NODE_EMPTY) return -1;
    }
    const struct cut_walk *cw = &m->cuts[m->scut[qc]];
    const struct cached_mask *e = &m->masks[cw->mask];
    uint64_t *b = m->scratch;
    if (e->bits) memcpy(b, e->bits, sizeof(uint64_t) * m->mask_words);
    else {
        memset(b, 0, sizeof(uint64_t) * m->mask_words);
        for (int i = 0; i < e->count; i++) b[e->ids[i] >> 6] |= 1ull << (e->ids[i] & 63);
    }
    if (cw->n_pops) {
        /* the real state once c's frame resumes */
        begin_expand(m);
        push_work(m, m->npos[c], m->npar[c]);
        run_expand(m);
        int32_t r = intern_out(m);
        if (r < 0) return -1;
        const uint32_t *skip = m->v->skip;
        const uint16_t *depth = m->v->depth;
        for (size_t k = 0; k < cw->n_pops; k++) {
            uint32_t u = cw->pops[k];
            if (u + 1 < skip[u]) walk_range(m, r, u + 1, skip[u], depth[u], b, false);
        }
    }
    if (m->failed) return -1;
    int count = 0;
    for (size_t w = 0; w < m->mask_words; w++) count += __builtin_popcountll(b[w]);
    return count;
}

int gmatch_mask(gmatch *m, gmask *out) {
    if (!m->v) return hearth_fail(HEARTH_ERR_ARG, "grammar: no vocabulary");
    int32_t q = canon_state(m, m->cur);
    if (m->smask[q] < 0) {
        uint64_t *b = m->scratch;
        int count = -1;
        uint32_t c = cut_point(m, q);
        if (c != NODE_EMPTY) count = cut_mask(m, q, c);
        if (count < 0) {
            memset(b, 0, sizeof(uint64_t) * m->mask_words);
            m->walks++;
            count = walk(m, q, b);
        }
        if (m->sflags[q] & SF_TOKENS) { /* token references: whole tokens, only at token boundaries */
            for (size_t i = m->soff[q]; i < m->soff[q + 1]; i++) {
                uint32_t node = m->spool[i];
                if (node == NODE_EMPTY) continue;
                uint32_t pos = m->npos[node];
                uint8_t k = m->g->kind[pos];
                if (k == S_TOKEN) b[m->g->arg[pos] >> 6] |= 1ull << (m->g->arg[pos] & 63);
                else if (k == S_NTOKEN) {
                    for (size_t w = 0; w < m->mask_words; w++) b[w] = ~0ull;
                    if (m->v->n_vocab & 63) b[m->mask_words - 1] &= (1ull << (m->v->n_vocab & 63)) - 1;
                    b[m->g->arg[pos] >> 6] &= ~(1ull << (m->g->arg[pos] & 63));
                    for (int e = 0; e < m->v->n_eog; e++) b[m->v->eog[e] >> 6] &= ~(1ull << (m->v->eog[e] & 63));
                }
            }
        }
        if (m->sflags[q] & SF_ACCEPT)
            for (int e = 0; e < m->v->n_eog; e++) b[m->v->eog[e] >> 6] |= 1ull << (m->v->eog[e] & 63);
        if (m->sflags[q] & (SF_TOKENS | SF_ACCEPT)) {
            count = 0;
            for (size_t w = 0; w < m->mask_words; w++) count += __builtin_popcountll(b[w]);
        }
        if (m->mask_bytes > MASK_BUDGET) masks_clear(m); /* before storing: it would drop the new one too */
        if (m->failed || cache_mask(m, q, count) < 0) {
            m->failed = true;
            memset(out, 0, sizeof *out);
            return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        }
    } else m->hits++;
    const struct cached_mask *e = &m->masks[m->smask[q]];
    out->count = e->count;
    out->ids = e->ids;
    out->bits = e->bits;
    return e->count;
}

bool gmask_has(const gmask *mk, int32_t token) {
    if (mk->bits) return mk->bits[token >> 6] >> (token & 63) & 1;
    int lo = 0, hi = mk->count;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (mk->ids[mid] < token) lo = mid + 1;
        else hi = mid;
    }
    return lo < mk->count && mk->ids[lo] == token;
}

void gmatch_set_limits(gmatch *m, uint32_t max_states, uint32_t max_nodes, long *compactions) {
    if (max_states) m->max_states = max_states;
    if (max_nodes) m->max_nodes = max_nodes;
    if (compactions) *compactions = m->compactions;
}

void gmatch_stats(const gmatch *m, long *walks, long *cache_hits, int *n_states) {
    if (walks) *walks = m->walks;
    if (cache_hits) *cache_hits = m->hits;
    if (n_states) *n_states = (int)m->n_states;
}
