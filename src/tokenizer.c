/* tokenizer.c — SentencePiece-style BPE by scores ("llama"), BPE with merges over UTF-8 characters
 * ("gemma4") and byte-level BPE with regex-equivalent pre-tokenizers ("gpt2"). See tokenizer.h.
 *
 * Algorithms
 *   - Special tokens: a byte trie over the texts of control / user-defined tokens; the text is cut at the
 *     leftmost-longest eligible match.
 *   - BPE (gemma4, gpt2): symbols carry token ids in a doubly linked list; a binary heap holds candidate
 *     merges keyed by (merge rank, left position); stale entries are recognised by re-checking the ids of the
 *     pair. Merge ranks live in an open-addressing table keyed by the id pair.
 *   - SPM: the same queue, keyed by (piece score descending, left position), merging two neighbours when
 *     their concatenated text is a piece; leftovers fall back to <0xXX> byte tokens.
 *   - Pre-tokenizers: each regex of tokenizer.ggml.pre is hand-translated into an ordered set of
 *     alternatives over code point classes (unicode.h), trying them in regex order at each position. */
#include "tokenizer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode.h"
#include "util.h"

enum tok_kind { KIND_SPM, KIND_BPE_SPM, KIND_BPE_BYTES };

#define TOK_MAX_ENTRIES (1u << 29) /* tokens or merges: far above any real vocabulary */
enum tok_pre { PRE_NONE, PRE_DEFAULT, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2, PRE_QWEN35 };

/* per-token flags */
enum {
    TF_CONTROL = 1,   /* rendered only when special; matched in text only with parse_special */
    TF_USER = 2,      /* user-defined: matched in text always */
    TF_EOG = 4,       /* ends generation */
    TF_SEGMENT = 8,   /* may result from segmenting ordinary text */
    TF_RSTRIP = 16,   /* whitespace after this token in the text is dropped (Phi-3's added tokens) */
};

struct merge_ent {
    uint32_t a, b;    /* a == UINT32_MAX: empty slot */
    uint32_t rank;
    int32_t id;
};

struct map_ent {
    uint32_t id1;            /* id + 1; 0: empty slot */
    uint32_t tag;            /* high half of the text's hash */
};

struct trie_node {
    int32_t child, sibling, token;
    uint8_t byte;
};

struct tokenizer {
    enum tok_kind kind;
    enum tok_pre pre;
    bool ignore_merges, nfc, add_bos, add_eos, add_space_prefix;
    int32_t n_vocab;
    char *text;              /* all token texts */
    uint32_t *text_off;      /* [n_vocab + 1] */
    float *scores;
    uint8_t *type, *flags;
    struct map_ent *map;     /* text -> id */
    uint32_t map_mask;
    struct merge_ent *merges;
    uint32_t merge_mask;
    uint32_t n_merges;
    int32_t byte_tok[256];       /* <0xXX> tokens */
    int32_t bytechar_tok[256];   /* gpt2: the token of the single byte-level character for each byte */
    uint8_t bytechar_utf8[256][2];
    uint8_t bytechar_len[256];
    int32_t ascii_tok[128];      /* single ASCII character tokens (segmentable) */
    uint32_t max_token_len;
    /* SentencePiece-style text is cut before each U+2581 run unless the character before it is a "joiner": one
     * that some token has right before a U+2581. No merge can cross such a cut, so the result is unchanged. */
    uint32_t *joiners;
    size_t n_joiners;
    struct trie_node *trie;
    uint32_t n_trie;
    int32_t trie_root[256];
    char *piece;
    uint32_t *piece_off;     /* [n_vocab + 1] */
    int32_t bos, eos, eot, eom, unk, pad;
};

/* ------------------------------------------------------------------------------------------ hashing */

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0x2545F4914F6CDD1Dull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)s[i] << (8 * i);
    return mix64(h ^ v);
}

/* n <= 2^30 (tokenizer_create bounds the vocabulary and the merges) */
static uint32_t pow2_at_least(uint64_t n) {
    uint32_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

static int32_t map_find_h(const tokenizer *t, const uint8_t *s, size_t n, uint64_t h) {
    uint32_t i = (uint32_t)h & t->map_mask, tag = (uint32_t)(h >> 32);
    for (;;) {
        struct map_ent e = t->map[i];
        if (!e.id1) return -1;
        if (e.tag == tag) {
            uint32_t id = e.id1 - 1, off = t->text_off[id];
            if (t->text_off[id + 1] - off == n && memcmp(t->text + off, s, n) == 0) return (int32_t)id;
        }
        i = (i + 1) & t->map_mask;
    }
}

static int32_t map_find(const tokenizer *t, const uint8_t *s, size_t n) {
    return map_find_h(t, s, n, hash_bytes(s, n));
}

/* a token that ordinary text may be segmented into, or -1 */
static int32_t seg_find(const tokenizer *t, const uint8_t *s, size_t n) {
    int32_t id = map_find(t, s, n);
    return id >= 0 && (t->flags[id] & TF_SEGMENT) ? id : -1;
}

static uint32_t pair_hash(uint32_t a, uint32_t b) { return (uint32_t)mix64(((uint64_t)a << 32) | b); }

static const struct merge_ent *merge_find(const tokenizer *t, int32_t a, int32_t b) {
    uint32_t i = pair_hash((uint32_t)a, (uint32_t)b) & t->merge_mask;
    for (;;) {
        const struct merge_ent *m = &t->merges[i];
        if (m->a == UINT32_MAX) return NULL;
        if (m->a == (uint32_t)a && m->b == (uint32_t)b) return m;
        i = (i + 1) & t->merge_mask;
    }
}

/* ------------------------------------------------------------------------------------ encode state */

struct hent {
    uint64_t key;            /* smallest first */
    int32_t l, r;
    int32_t lid, rid;        /* BPE: ids of the pair; SPM: lid = total byte length */
    int32_t nid;             /* resulting token */
};

typedef struct {
    int32_t *out;
    int max;
    size_t n;
    /* symbols */
    int32_t *sym, *prev, *next;
    uint32_t *sstart, *slen;
    size_t sym_cap;
    /* merge queue */
    struct hent *heap;
    size_t heap_n, heap_cap;
    /* byte buffers */
    uint8_t *buf;
    size_t buf_cap;
    uint8_t *wbuf;
    size_t wbuf_cap;
    /* pre-tokenizer: code points, flags, byte offsets ([n + 1]), word ends */
    uint32_t *cp, *off, *bounds, *bounds2;
    uint8_t *fl;
    size_t cp_cap, bounds_cap, bounds2_cap;
} enc;

static void enc_free(enc *e) {
    free(e->sym); free(e->prev); free(e->next); free(e->sstart); free(e->slen);
    free(e->heap); free(e->buf); free(e->wbuf);
    free(e->cp); free(e->off); free(e->fl); free(e->bounds); free(e->bounds2);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory (%zu elements)", need);
    *p = np;
    *cap = c;
    return 0;
}

static int sym_reserve(enc *e, size_t n) {
    if (n <= e->sym_cap) return 0;
    size_t c = e->sym_cap ? e->sym_cap : 64;
    while (c < n) c *= 2;
    int32_t *a = realloc(e->sym, c * sizeof *a);
    if (a) e->sym = a;
    int32_t *b = realloc(e->prev, c * sizeof *b);
    if (b) e->prev = b;
    int32_t *d = realloc(e->next, c * sizeof *d);
    if (d) e->next = d;
    uint32_t *f = realloc(e->sstart, c * sizeof *f);
    if (f) e->sstart = f;
    uint32_t *g = realloc(e->slen, c * sizeof *g);
    if (g) e->slen = g;
    if (!a || !b || !d || !f || !g) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    e->sym_cap = c;
    return 0;
}

static void emit(enc *e, int32_t id) {
    if (e->n < (size_t)e->max) e->out[e->n] = id;
    e->n++;
}

static int heap_push(enc *e, struct hent h) {
    if (e->heap_n == e->heap_cap && grow((void **)&e->heap, &e->heap_cap, e->heap_n + 1, sizeof h)) return -1;
    size_t i = e->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (e->heap[p].key <= h.key) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = h;
    return 0;
}

static struct hent heap_pop(enc *e) {
    struct hent top = e->heap[0];
    struct hent last = e->heap[--e->heap_n];
    size_t n = e->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && e->heap[c + 1].key < e->heap[c].key) c++;
        if (last.key <= e->heap[c].key) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n) e->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------------------------------- BPE */

static int bpe_try(const tokenizer *t, enc *e, int32_t l, int32_t r) {
    const struct merge_ent *m = merge_find(t, e->sym[l], e->sym[r]);
    if (!m) return 0;
    struct hent h = { ((uint64_t)m->rank << 32) | (uint32_t)l, l, r, e->sym[l], e->sym[r], m->id };
    return heap_push(e, h);
}

/* Merges the n symbols in e->sym (token ids, all >= 0) and emits the result. */
static int bpe_run(const tokenizer *t, enc *e, size_t n) {
    if (n == 0) return 0;
    if (n == 1) { emit(e, e->sym[0]); return 0; }
    if (n > INT32_MAX) return hearth_fail(HEARTH_ERR_ARG, "tokenizer: word too long");
    int32_t *sym = e->sym, *prev = e->prev, *next = e->next;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    e->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (bpe_try(t, e, (int32_t)i, (int32_t)i + 1)) return HEARTH_ERR_NOMEM;
    while (e->heap_n) {
        struct hent h = heap_pop(e);
        if (sym[h.l] != h.lid || next[h.l] != h.r || sym[h.r] != h.rid) continue;
        sym[h.l] = h.nid;
        sym[h.r] = -1;
        int32_t nr = next[h.r];
        next[h.l] = nr;
        if (nr >= 0) prev[nr] = h.l;
        if (prev[h.l] >= 0 && bpe_try(t, e, prev[h.l], h.l)) return HEARTH_ERR_NOMEM;
        if (nr >= 0 && bpe_try(t, e, h.l, nr)) return HEARTH_ERR_NOMEM;
    }
    for (int32_t i = 0; i >= 0; i = next[i]) emit(e, sym[i]);
    return 0;
}

/* ------------------------------------------------------------------------------------------- SPM */

static uint32_t score_key(float f) { /* larger score -> smaller key */
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

static int spm_try(const tokenizer *t, enc *e, const uint8_t *s, int32_t l, int32_t r) {
    uint32_t len = e->slen[l] + e->slen[r];
    if (len > t->max_token_len) return 0;
    int32_t id = seg_find(t, s + e->sstart[l], len);
    if (id < 0) return 0;
    struct hent h = { ((uint64_t)score_key(t->scores[id]) << 32) | (uint32_t)l, l, r, (int32_t)len, 0, id };
    return heap_push(e, h);
}

static void emit_bytes(const tokenizer *t, enc *e, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_tok[s[i]];
        if (id < 0) id = t->unk;
        if (id >= 0) emit(e, id);
    }
}

/* Segments s[0..n) (spaces already escaped) by piece scores. */
static int spm_run(const tokenizer *t, enc *e, const uint8_t *s, size_t n) {
    if (n > INT32_MAX) return hearth_fail(HEARTH_ERR_ARG, "tokenizer: text fragment too long");
    if (sym_reserve(e, n)) return HEARTH_ERR_NOMEM;
    size_t ns = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_decode(s + i, n - i, &cp);
        e->sstart[ns] = (uint32_t)i;
        e->slen[ns] = (uint32_t)l;
        ns++;
        i += (size_t)l;
    }
    for (size_t i = 0; i < ns; i++) {
        e->prev[i] = (int32_t)i - 1;
        e->next[i] = i + 1 < ns ? (int32_t)i + 1 : -1;
    }
    e->heap_n = 0;
    for (size_t i = 0; i + 1 < ns; i++)
        if (spm_try(t, e, s, (int32_t)i, (int32_t)i + 1)) return HEARTH_ERR_NOMEM;
    while (e->heap_n) {
        struct hent h = heap_pop(e);
        if (!e->slen[h.l] || !e->slen[h.r] || e->next[h.l] != h.r ||
            e->slen[h.l] + e->slen[h.r] != (uint32_t)h.lid)
            continue;
        e->slen[h.l] += e->slen[h.r];
        e->slen[h.r] = 0;
        int32_t nr = e->next[h.r];
        e->next[h.l] = nr;
        if (nr >= 0) e->prev[nr] = h.l;
        if (e->prev[h.l] >= 0 && spm_try(t, e, s, e->prev[h.l], h.l)) return HEARTH_ERR_NOMEM;
        if (nr >= 0 && spm_try(t, e, s, h.l, nr)) return HEARTH_ERR_NOMEM;
    }
    for (int32_t i = 0; ns && i >= 0; i = e->next[i]) {
        const uint8_t *p = s + e->sstart[i];
        int32_t id = seg_find(t, p, e->slen[i]);
        if (id >= 0) emit(e, id);
        else emit_bytes(t, e, p, e->slen[i]);
    }
    return 0;
}

/* Copies s with ' ' replaced by U+2581 (and an optional leading one) into e->buf; returns the length. */
static int escape_spaces(enc *e, const uint8_t *s, size_t n, bool prefix, size_t *out_n) {
    if (n > (SIZE_MAX - 3) / 3) return hearth_fail(HEARTH_ERR_ARG, "tokenizer: text too long");
    if (grow((void **)&e->buf, &e->buf_cap, 3 * n + 3, 1)) return HEARTH_ERR_NOMEM;
    uint8_t *d = e->buf;
    if (prefix) { d[0] = 0xE2; d[1] = 0x96; d[2] = 0x81; d += 3; }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') { d[0] = 0xE2; d[1] = 0x96; d[2] = 0x81; d += 3; }
        else *d++ = s[i];
    }
    *out_n = (size_t)(d - e->buf);
    return 0;
}

static bool is_joiner(const tokenizer *t, uint32_t cp) {
    size_t lo = 0, hi = t->n_joiners;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->joiners[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->n_joiners && t->joiners[lo] == cp;
}

/* End of the word that starts at s[0] (see tokenizer.joiners): the next U+2581 run start after a character
 * that is not a joiner, or n. */
static size_t spm_word_end(const tokenizer *t, const uint8_t *s, size_t n) {
    uint32_t prev = UNICODE_INVALID;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = s[i] < 0x80 ? (cp = s[i], 1) : utf8_decode(s + i, n - i, &cp);
        if (cp == 0x2581 && i > 0 && prev != 0x2581 && !is_joiner(t, prev)) return i;
        prev = cp;
        i += (size_t)l;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------- gemma4 */

static int gemma4_word(const tokenizer *t, enc *e, const uint8_t *s, size_t n);

static int gemma4_fragment(const tokenizer *t, enc *e, const uint8_t *text, size_t len) {
    size_t n;
    int rc = escape_spaces(e, text, len, false, &n);
    if (rc) return rc;
    const uint8_t *buf = e->buf;
    for (size_t w = 0; w < n;) {
        size_t we = w + spm_word_end(t, buf + w, n - w);
        rc = gemma4_word(t, e, buf + w, we - w);
        if (rc) return rc;
        w = we;
    }
    return 0;
}

static int gemma4_word(const tokenizer *t, enc *e, const uint8_t *s, size_t n) {
    if (sym_reserve(e, n)) return HEARTH_ERR_NOMEM;
    size_t ns = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_decode(s + i, n - i, &cp);
        int32_t id = s[i] < 0x80 ? t->ascii_tok[s[i]] : seg_find(t, s + i, (size_t)l);
        if (id >= 0) {
            e->sym[ns++] = id;
        } else { /* byte fallback: all bytes as <0xXX>, else <unk> */
            bool all = true;
            for (int k = 0; k < l; k++) all = all && t->byte_tok[s[i + k]] >= 0;
            if (all) {
                for (int k = 0; k < l; k++) e->sym[ns++] = t->byte_tok[s[i + k]];
            } else if (t->unk >= 0) {
                e->sym[ns++] = t->unk;
            }
        }
        i += (size_t)l;
    }
    return bpe_run(t, e, ns);
}

/* ---------------------------------------------------------------------------------- pre-tokenizers */

static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 's|'t|'re|'ve|'m|'ll|'d (optionally case-insensitive): match length or 0 */
static size_t match_contraction(const uint32_t *cp, size_t i, size_t n, bool icase) {
    if (cp[i] != '\'' || i + 1 >= n) return 0;
    uint32_t c1 = cp[i + 1], c2 = i + 2 < n ? cp[i + 2] : 0;
    if (icase) { c1 = ascii_lower(c1); c2 = ascii_lower(c2); }
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

static size_t run_end(const uint8_t *fl, size_t i, size_t n, unsigned mask) {
    while (i < n && (fl[i] & mask)) i++;
    return i;
}

static size_t run_end_not(const uint8_t *fl, size_t i, size_t n, unsigned mask) {
    while (i < n && !(fl[i] & mask)) i++;
    return i;
}

/* \s+(?!\S)|\s+ at a whitespace position */
static size_t match_ws_tail(const uint8_t *fl, size_t i, size_t n) {
    size_t e = run_end(fl, i, n, UF_WS);
    if (e == n || e - i < 2) return e - i;
    return e - i - 1;
}

/* Llama 3 / Qwen 2 / Qwen 3.5:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?LET+|\p{N}{1,D}| ?[^\s\p{L}\p{N}X]+[\r\n]*|\s*[\r\n]+|
 *   \s+(?!\S)|\s+
 * with LET = \p{L} (and \p{M} for Qwen 3.5, where X = \p{M}). */
static size_t match_llama3(const uint32_t *cp, const uint8_t *fl, size_t i, size_t n, size_t digits,
                           unsigned let, unsigned excl) {
    size_t k = match_contraction(cp, i, n, true);
    if (k) return k;
    unsigned f = fl[i];
    if (!(f & (UF_NL | UF_L | UF_N)) && i + 1 < n && (fl[i + 1] & let)) return run_end(fl, i + 1, n, let) - i;
    if (f & let) return run_end(fl, i, n, let) - i;
    if (f & UF_N) {
        size_t j = i + 1;
        while (j < n && j - i < digits && (fl[j] & UF_N)) j++;
        return j - i;
    }
    k = (cp[i] == ' ' && i + 1 < n && !(fl[i + 1] & excl)) ? i + 1 : i;
    if (!(fl[k] & excl)) {
        size_t j = run_end_not(fl, k + 1, n, excl);
        return run_end(fl, j, n, UF_NL) - i;
    }
    /* whitespace */
    size_t e = run_end(fl, i, n, UF_WS);
    for (size_t j = e; j > i; j--)
        if (fl[j - 1] & UF_NL) return j - i;
    if (e == i) return 1; /* not reached: every class is covered above */
    return match_ws_tail(fl, i, n);
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t match_gpt2(const uint32_t *cp, const uint8_t *fl, size_t i, size_t n) {
    size_t k = match_contraction(cp, i, n, false);
    if (k) return k;
    bool sp = cp[i] == ' ' && i + 1 < n;
    if (sp && (fl[i + 1] & UF_L)) return run_end(fl, i + 1, n, UF_L) - i;
    if (fl[i] & UF_L) return run_end(fl, i, n, UF_L) - i;
    if (sp && (fl[i + 1] & UF_N)) return run_end(fl, i + 1, n, UF_N) - i;
    if (fl[i] & UF_N) return run_end(fl, i, n, UF_N) - i;
    const unsigned excl = UF_WS | UF_L | UF_N;
    if (sp && !(fl[i + 1] & excl)) return run_end_not(fl, i + 1, n, excl) - i;
    if (!(fl[i] & excl)) return run_end_not(fl, i, n, excl) - i;
    return match_ws_tail(fl, i, n);
}

static bool is_default_punct(uint32_t c, uint8_t f) { /* [\p{P}\$\+<=>\^~\|] */
    return (f & UF_P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' ||
           c == '|';
}

static int push_bound(enc *e, uint32_t **b, size_t *nb, size_t *cap, size_t v) {
    if (*nb == *cap && grow((void **)b, cap, *nb + 1, sizeof **b)) return -1;
    (void)e;
    (*b)[(*nb)++] = (uint32_t)v;
    return 0;
}

/* The "default" pre-tokenizer: the regexes [\p{P}\$\+<=>\^~\|]+, the GPT-2 one, \p{N}+ and
 * [0-9][0-9][0-9] applied in turn, each splitting every piece of the previous one into matches and gaps. */
static int split_default(enc *e, size_t n, size_t *out_nb) {
    const uint32_t *cp = e->cp;
    const uint8_t *fl = e->fl;
    size_t nb = 0, nb2 = 0;
    if (push_bound(e, &e->bounds, &nb, &e->bounds_cap, n)) return HEARTH_ERR_NOMEM;
    for (int pass = 0; pass < 4; pass++) {
        nb2 = 0;
        size_t a = 0;
        for (size_t bi = 0; bi < nb; bi++) {
            size_t b = e->bounds[bi];
            size_t i = a;
            while (i < b) {
                size_t ms, me; /* next match [ms, me) at or after i, or ms = b */
                if (pass == 1) {
                    ms = i;
                    me = i + match_gpt2(cp, fl, i, b);
                } else {
                    ms = i;
                    me = b;
                    for (; ms < b; ms++) {
                        if (pass == 0 && is_default_punct(cp[ms], fl[ms])) {
                            me = ms + 1;
                            while (me < b && is_default_punct(cp[me], fl[me])) me++;
                            break;
                        }
                        if (pass == 2 && (fl[ms] & UF_N)) { me = run_end(fl, ms, b, UF_N); break; }
                        if (pass == 3 && ms + 3 <= b && cp[ms] - '0' < 10 && cp[ms + 1] - '0' < 10 &&
                            cp[ms + 2] - '0' < 10) {
                            me = ms + 3;
                            break;
                        }
                    }
                }
                if (ms > i && push_bound(e, &e->bounds2, &nb2, &e->bounds2_cap, ms)) return HEARTH_ERR_NOMEM;
                if (ms < b && push_bound(e, &e->bounds2, &nb2, &e->bounds2_cap, me)) return HEARTH_ERR_NOMEM;
                i = ms < b ? me : b;
            }
            a = b;
        }
        uint32_t *tmp = e->bounds;
        size_t tcap = e->bounds_cap;
        e->bounds = e->bounds2;
        e->bounds_cap = e->bounds2_cap;
        e->bounds2 = tmp;
        e->bounds2_cap = tcap;
        nb = nb2;
    }
    *out_nb = nb;
    return 0;
}

/* Splits text[0..len) into words per t->pre; word ends (code point indices) in e->bounds. */
static int pretokenize(const tokenizer *t, enc *e, const uint8_t *s, size_t len, size_t *out_nb) {
    if (len >= UINT32_MAX) return hearth_fail(HEARTH_ERR_ARG, "tokenizer: text fragment too long");
    if (grow((void **)&e->cp, &e->cp_cap, len + 1, sizeof *e->cp)) return HEARTH_ERR_NOMEM;
    size_t cap2 = e->cp_cap;
    { /* off and fl follow cp's capacity */
        uint32_t *o = realloc(e->off, cap2 * sizeof *o);
        if (!o) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
        e->off = o;
        uint8_t *f = realloc(e->fl, cap2);
        if (!f) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
        e->fl = f;
    }
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int l;
        if (s[i] < 0x80) { c = s[i]; l = 1; }
        else l = utf8_decode(s + i, len - i, &c);
        e->cp[n] = c;
        e->fl[n] = (uint8_t)unicode_flags(c);
        e->off[n] = (uint32_t)i;
        n++;
        i += (size_t)l;
    }
    e->off[n] = (uint32_t)len;
    size_t nb = 0;
    if (t->pre == PRE_DEFAULT) {
        int rc = split_default(e, n, &nb);
        if (rc) return rc;
        *out_nb = nb;
        return 0;
    }
    for (size_t i = 0; i < n;) {
        size_t k;
        switch (t->pre) {
        case PRE_GPT2: k = match_gpt2(e->cp, e->fl, i, n); break;
        case PRE_LLAMA3: k = match_llama3(e->cp, e->fl, i, n, 3, UF_L, UF_WS | UF_L | UF_N); break;
        case PRE_QWEN2: k = match_llama3(e->cp, e->fl, i, n, 1, UF_L, UF_WS | UF_L | UF_N); break;
        case PRE_QWEN35:
            k = match_llama3(e->cp, e->fl, i, n, 1, UF_L | UF_M, UF_WS | UF_L | UF_N | UF_M);
            break;
        default: k = n - i; break;
        }
        i += k;
        if (push_bound(e, &e->bounds, &nb, &e->bounds_cap, i)) return HEARTH_ERR_NOMEM;
    }
    *out_nb = nb;
    return 0;
}

static int bytes_fragment(const tokenizer *t, enc *e, const uint8_t *text, size_t len) {
    uint8_t *norm = NULL;
    if (t->nfc) {
        size_t nl;
        bool same;
        norm = unicode_nfc(text, len, &nl, &same);
        if (!same) {
            if (!norm) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
            text = norm;
            len = nl;
        }
    }
    size_t nb = 0;
    int rc = pretokenize(t, e, text, len, &nb);
    size_t a = 0;
    for (size_t bi = 0; !rc && bi < nb; bi++) {
        size_t b = e->bounds[bi];
        size_t s0 = e->off[a], s1 = e->off[b], wl = s1 - s0;
        const uint8_t *w = text + s0;
        a = b;
        if (t->ignore_merges) { /* a word that is a token as a whole is that token */
            if (grow((void **)&e->wbuf, &e->wbuf_cap, 2 * wl, 1)) { rc = HEARTH_ERR_NOMEM; break; }
            size_t k = 0;
            for (size_t i = 0; i < wl; i++) {
                memcpy(e->wbuf + k, t->bytechar_utf8[w[i]], t->bytechar_len[w[i]]);
                k += t->bytechar_len[w[i]];
            }
            int32_t id = seg_find(t, e->wbuf, k);
            if (id >= 0) { emit(e, id); continue; }
        }
        if (sym_reserve(e, wl)) { rc = HEARTH_ERR_NOMEM; break; }
        size_t ns = 0;
        for (size_t i = 0; i < wl; i++) {
            int32_t id = t->bytechar_tok[w[i]];
            if (id < 0) id = t->unk;
            if (id >= 0) e->sym[ns++] = id;
        }
        rc = bpe_run(t, e, ns);
    }
    free(norm);
    return rc;
}

/* --------------------------------------------------------------------------------------- encoding */

static int32_t match_special(const tokenizer *t, const uint8_t *s, size_t n, bool parse_special, size_t *mlen) {
    int32_t node = t->trie_root[s[0]];
    int32_t best = -1;
    size_t i = 1;
    while (node >= 0) {
        const struct trie_node *nd = &t->trie[node];
        if (nd->token >= 0) {
            uint8_t f = t->flags[nd->token];
            if (parse_special ? (f & (TF_CONTROL | TF_USER)) != 0 : (f & TF_USER) && !(f & TF_CONTROL)) {
                best = nd->token;
                *mlen = i;
            }
        }
        if (i == n) break;
        int32_t c = nd->child;
        while (c >= 0 && t->trie[c].byte != s[i]) c = t->trie[c].sibling;
        node = c;
        i++;
    }
    return best;
}

static int encode_fragment(const tokenizer *t, enc *e, const uint8_t *s, size_t n) {
    if (n == 0) return 0;
    switch (t->kind) {
    case KIND_SPM: {
        size_t m;
        int rc = escape_spaces(e, s, n, t->add_space_prefix, &m);
        for (size_t w = 0; !rc && w < m;) {
            size_t we = w + spm_word_end(t, e->buf + w, m - w);
            rc = spm_run(t, e, e->buf + w, we - w);
            w = we;
        }
        return rc;
    }
    case KIND_BPE_SPM: return gemma4_fragment(t, e, s, n);
    case KIND_BPE_BYTES: return bytes_fragment(t, e, s, n);
    }
    return 0;
}

int tokenizer_encode(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                     int32_t *out, int max) {
    return tokenizer_encode_protected(t, text, len, add_bos, parse_special, NULL, 0, out, max);
}

/* Whether [i, i + n) overlaps one of the sorted, disjoint byte ranges. */
static bool overlaps(const size_t (*ranges)[2], size_t n_ranges, size_t i, size_t n) {
    for (size_t r = 0; r < n_ranges; r++)
        if (i < ranges[r][1] && i + n > ranges[r][0]) return true;
    return false;
}

int tokenizer_encode_protected(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                               const size_t (*protect)[2], size_t n_protect, int32_t *out, int max) {
    if (!t || (!text && len) || max < 0 || (max > 0 && !out))
        return hearth_fail(HEARTH_ERR_ARG, "tokenizer_encode: invalid argument");
    enc e;
    memset(&e, 0, sizeof e);
    e.out = out;
    e.max = max;
    if (add_bos && t->add_bos && t->bos >= 0) emit(&e, t->bos);
    const uint8_t *s = (const uint8_t *)text;
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < len && !rc;) {
        size_t ml = 0;
        int32_t tok = t->trie_root[s[i]] >= 0 ? match_special(t, s + i, len - i, parse_special, &ml) : -1;
        /* inside protected text (message contents) control tokens stay text; user-defined ones still match */
        if (tok >= 0 && n_protect && (t->flags[tok] & TF_CONTROL) && overlaps(protect, n_protect, i, ml)) {
            tok = match_special(t, s + i, len - i, false, &ml);
        }
        if (tok < 0) { i++; continue; }
        rc = encode_fragment(t, &e, s + start, i - start);
        emit(&e, tok);
        i += ml;
        if (t->flags[tok] & TF_RSTRIP)
            while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        start = i;
    }
    if (!rc && start < len) rc = encode_fragment(t, &e, s + start, len - start);
    if (!rc && add_bos && t->add_eos && t->eos >= 0) emit(&e, t->eos);
    enc_free(&e);
    if (rc) return rc;
    if (e.n > INT_MAX) return hearth_fail(HEARTH_ERR_ARG, "tokenizer: too many tokens (%zu)", e.n);
    return (int)e.n;
}

/* --------------------------------------------------------------------------------------- decoding */

static bool valid_id(const tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab; }

const char *tokenizer_piece(const tokenizer *t, int32_t id, size_t *len) {
    if (!valid_id(t, id)) { *len = 0; return NULL; }
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece + t->piece_off[id];
}

int tokenizer_token_to_piece(const tokenizer *t, int32_t id, bool special, char *buf, int cap) {
    if (!valid_id(t, id)) return hearth_fail(HEARTH_ERR_ARG, "tokenizer: token id %d out of range", id);
    if (!special && (t->flags[id] & TF_CONTROL)) return 0;
    size_t n;
    const char *p = tokenizer_piece(t, id, &n);
    if (cap < 0 || n > (size_t)cap) return (int)n;
    memcpy(buf, p, n);
    return (int)n;
}

size_t tokenizer_decode(const tokenizer *t, const int32_t *ids, size_t n, bool special, char *buf, size_t cap) {
    size_t total = 0;
    bool strip = t->kind == KIND_SPM && t->add_space_prefix;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (!valid_id(t, id)) continue;
        bool ctl = (t->flags[id] & TF_CONTROL) != 0;
        if (ctl && !special) continue;
        size_t pl;
        const char *p = tokenizer_piece(t, id, &pl);
        if (strip && !ctl) { /* the space add_space_prefix put in front of the first text fragment */
            if (total == 0 && pl && p[0] == ' ') { p++; pl--; }
            strip = false;
        }
        if (total < cap) memcpy(buf + total, p, total + pl < cap ? pl : cap - total);
        total += pl;
    }
    if (cap) buf[total < cap ? total : cap - 1] = 0;
    return total;
}

/* -------------------------------------------------------------------------------------- accessors */

int32_t tokenizer_n_vocab(const tokenizer *t) { return t->n_vocab; }
int32_t tokenizer_bos(const tokenizer *t) { return t->bos; }
int32_t tokenizer_eos(const tokenizer *t) { return t->eos; }
int32_t tokenizer_eot(const tokenizer *t) { return t->eot; }
int32_t tokenizer_unk(const tokenizer *t) { return t->unk; }
int32_t tokenizer_pad(const tokenizer *t) { return t->pad; }
bool tokenizer_add_bos(const tokenizer *t) { return t->add_bos && t->bos >= 0; }
bool tokenizer_is_eog(const tokenizer *t, int32_t id) { return valid_id(t, id) && (t->flags[id] & TF_EOG); }
bool tokenizer_is_control(const tokenizer *t, int32_t id) {
    return valid_id(t, id) && (t->flags[id] & TF_CONTROL);
}
enum tok_type tokenizer_token_type(const tokenizer *t, int32_t id) {
    return valid_id(t, id) ? (enum tok_type)t->type[id] : TOK_TYPE_UNDEFINED;
}
const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *len) {
    if (!valid_id(t, id)) { *len = 0; return NULL; }
    *len = t->text_off[id + 1] - t->text_off[id];
    return t->text + t->text_off[id];
}
int32_t tokenizer_find(const tokenizer *t, const char *s, size_t n) {
    return n ? map_find(t, (const uint8_t *)s, n) : -1;
}

/* ------------------------------------------------------------------------------------------ build */

void tokenizer_free(tokenizer *t) {
    if (!t) return;
    free(t->text); free(t->text_off); free(t->scores); free(t->type); free(t->flags); free(t->map);
    free(t->merges); free(t->trie); free(t->piece); free(t->piece_off); free(t->joiners);
    free(t);
}

static int32_t find_name(const tokenizer *t, const char *s) {
    return map_find(t, (const uint8_t *)s, strlen(s));
}

/* Tokens that end generation (besides the EOS / EOT / EOM ids), by text. */
static const char *const eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>",
    "<|tool_response>", NULL,
};
/* Candidates for the end-of-turn token when tokenizer.ggml.eot_token_id is absent. */
static const char *const eot_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<turn|>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "<end_of_utterance>", NULL,
};
/* Fill-in-the-middle tokens: control tokens; the pad / repo / file-separator ones also end generation. */
static const char *const fim_names[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<SUF>", "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", NULL,
};
static const char *const fim_eog_names[] = {
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|repo_name|>", "<|fim_repo|>", "<fim-repo>", "<|file_sep|>", NULL,
};

static int build_map(tokenizer *t) {
    uint32_t cap = pow2_at_least((uint64_t)t->n_vocab * 2);
    t->map = calloc(cap, sizeof *t->map);
    if (!t->map) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    t->map_mask = cap - 1;
    /* in batches: hash a batch's texts and prefetch their slots, then insert in id order, so that the cache
     * misses of the (4 MB for 262k tokens) map overlap instead of queueing */
    enum { B = 64 };
    uint64_t hb[B];
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (id % B == 0)
            for (int32_t k = id; k < id + B && k < t->n_vocab; k++) {
                size_t n;
                const char *s = tokenizer_token_text(t, k, &n);
                hb[k - id] = hash_bytes((const uint8_t *)s, n);
                __builtin_prefetch(&t->map[(uint32_t)hb[k - id] & t->map_mask], 1);
            }
        size_t n;
        const char *s = tokenizer_token_text(t, id, &n);
        if (!n) continue;
        uint64_t h = hb[id % B];
        uint32_t i = (uint32_t)h & t->map_mask, tag = (uint32_t)(h >> 32);
        for (;;) {
            struct map_ent e = t->map[i];
            if (!e.id1) { t->map[i] = (struct map_ent){ (uint32_t)id + 1, tag }; break; }
            size_t on;
            const char *os = tokenizer_token_text(t, (int32_t)e.id1 - 1, &on);
            if (e.tag == tag && on == n && memcmp(os, s, n) == 0) {
                /* duplicate text: a segmentable token wins over one that is not, else the first */
                if (!(t->flags[e.id1 - 1] & TF_SEGMENT) && (t->flags[id] & TF_SEGMENT)) t->map[i].id1 = (uint32_t)id + 1;
                break;
            }
            i = (i + 1) & t->map_mask;
        }
    }
    return 0;
}

/* Merges are resolved in batches: hash every text of a batch and prefetch its map slot first, so that the
 * cache misses of the (large) vocabulary map overlap instead of queueing. */
static int build_merges(tokenizer *t, const tokenizer_params *p) {
    uint32_t cap = pow2_at_least((uint64_t)p->n_merges * 2);
    t->merges = malloc((size_t)cap * sizeof *t->merges);
    if (!t->merges) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    for (uint32_t i = 0; i < cap; i++) t->merges[i].a = UINT32_MAX;
    t->merge_mask = cap - 1;
    enum { B = 64 };
    struct { const uint8_t *s; size_t sp, n, coff; uint64_t ha, hb, hc; int32_t a, b, c; } q[B];
    uint8_t *cat = NULL; /* the concatenations of a batch */
    size_t cat_cap = 0;
    for (uint32_t r0 = 0; r0 < p->n_merges; r0 += B) {
        uint32_t nb = p->n_merges - r0 < B ? p->n_merges - r0 : B;
        size_t need = 0;
        for (uint32_t k = 0; k < nb; k++) need += p->merges[r0 + k].n;
        if (grow((void **)&cat, &cat_cap, need + 1, 1)) { free(cat); return HEARTH_ERR_NOMEM; }
        size_t co = 0;
        for (uint32_t k = 0; k < nb; k++) {
            const uint8_t *s = (const uint8_t *)p->merges[r0 + k].s;
            size_t n = p->merges[r0 + k].n, sp = 1;
            while (sp < n && s[sp] != ' ') sp++;
            q[k].s = s;
            q[k].n = n;
            q[k].sp = sp;
            if (n < 3 || sp >= n - 1) { q[k].n = 0; continue; } /* malformed: ignored */
            memcpy(cat + co, s, sp);
            memcpy(cat + co + sp, s + sp + 1, n - sp - 1);
            q[k].coff = co;
            co += n - 1;
            q[k].ha = hash_bytes(s, sp);
            q[k].hb = hash_bytes(s + sp + 1, n - sp - 1);
            q[k].hc = hash_bytes(cat + q[k].coff, n - 1);
            __builtin_prefetch(&t->map[(uint32_t)q[k].ha & t->map_mask]);
            __builtin_prefetch(&t->map[(uint32_t)q[k].hb & t->map_mask]);
            __builtin_prefetch(&t->map[(uint32_t)q[k].hc & t->map_mask]);
        }
        for (uint32_t k = 0; k < nb; k++) {
            if (!q[k].n) continue;
            size_t n = q[k].n, sp = q[k].sp;
            q[k].a = map_find_h(t, q[k].s, sp, q[k].ha);
            q[k].b = map_find_h(t, q[k].s + sp + 1, n - sp - 1, q[k].hb);
            q[k].c = map_find_h(t, cat + q[k].coff, n - 1, q[k].hc);
            if (q[k].a >= 0 && q[k].b >= 0)
                __builtin_prefetch(&t->merges[pair_hash((uint32_t)q[k].a, (uint32_t)q[k].b) & t->merge_mask]);
        }
        for (uint32_t k = 0; k < nb; k++) {
            int32_t a = q[k].a, b = q[k].b, c = q[k].c;
            if (!q[k].n || a < 0 || b < 0 || c < 0) continue; /* text outside the vocabulary: unusable */
            uint32_t i = pair_hash((uint32_t)a, (uint32_t)b) & t->merge_mask;
            while (t->merges[i].a != UINT32_MAX && !(t->merges[i].a == (uint32_t)a && t->merges[i].b == (uint32_t)b))
                i = (i + 1) & t->merge_mask;
            if (t->merges[i].a != UINT32_MAX) continue; /* duplicate pair: the first rank stands */
            t->merges[i] = (struct merge_ent){ (uint32_t)a, (uint32_t)b, r0 + k, c };
            t->n_merges++;
        }
    }
    free(cat);
    return 0;
}

static int build_trie(tokenizer *t) {
    for (int i = 0; i < 256; i++) t->trie_root[i] = -1;
    size_t cap = 0;
    t->n_trie = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!(t->flags[id] & (TF_CONTROL | TF_USER)) || t->type[id] == TOK_TYPE_UNUSED) continue;
        size_t n;
        const uint8_t *s = (const uint8_t *)tokenizer_token_text(t, id, &n);
        if (!n) continue;
        int32_t node = -1; /* parent of the next byte; -1: the root */
        for (size_t i = 0; i < n; i++) {
            int32_t c = node < 0 ? t->trie_root[s[0]] : t->trie[node].child;
            while (c >= 0 && t->trie[c].byte != s[i]) c = t->trie[c].sibling;
            if (c < 0) {
                if (grow((void **)&t->trie, &cap, t->n_trie + 1, sizeof *t->trie)) return HEARTH_ERR_NOMEM;
                c = (int32_t)t->n_trie++;
                if (node < 0) {
                    t->trie[c] = (struct trie_node){ -1, -1, -1, s[i] };
                    t->trie_root[s[0]] = c;
                } else { /* prepend to the parent's child list */
                    t->trie[c] = (struct trie_node){ -1, t->trie[node].child, -1, s[i] };
                    t->trie[node].child = c;
                }
            }
            node = c;
        }
        if (t->trie[node].token < 0) t->trie[node].token = id;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int build_joiners(tokenizer *t) {
    size_t cap = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!(t->flags[id] & TF_SEGMENT)) continue;
        size_t n;
        const uint8_t *s = (const uint8_t *)tokenizer_token_text(t, id, &n);
        /* only a U+2581 after the first byte can follow another character (most tokens have none); an
         * inline scan, as a library call per token costs more than the scan */
        size_t i3 = 1;
        while (i3 + 3 <= n && !(s[i3] == 0xE2 && s[i3 + 1] == 0x96 && s[i3 + 2] == 0x81)) i3++;
        if (i3 + 3 > n) continue;
        uint32_t prev = 0x2581;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            int l = utf8_decode(s + i, n - i, &cp);
            if (cp == 0x2581 && prev != 0x2581) {
                if (grow((void **)&t->joiners, &cap, t->n_joiners + 1, sizeof *t->joiners)) return HEARTH_ERR_NOMEM;
                t->joiners[t->n_joiners++] = prev;
            }
            prev = cp;
            i += (size_t)l;
        }
    }
    if (t->n_joiners) qsort(t->joiners, t->n_joiners, sizeof *t->joiners, cmp_u32);
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* <0xXX> -> XX, or -1 */
static int byte_token_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int h = hexval(s[3]), l = hexval(s[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

static int build_pieces(tokenizer *t) {
    size_t total = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) total += t->text_off[id + 1] - t->text_off[id];
    /* decoded pieces are never longer than the text (U+2581 -> ' ', byte-level chars -> 1 byte) */
    t->piece = malloc(total + 1);
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    if (!t->piece || !t->piece_off) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    size_t o = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        t->piece_off[id] = (uint32_t)o;
        size_t n;
        const char *s = tokenizer_token_text(t, id, &n);
        uint8_t ty = t->type[id];
        int bv;
        if ((t->flags[id] & TF_CONTROL) || ty == TOK_TYPE_USER_DEFINED || ty == TOK_TYPE_UNUSED) {
            memcpy(t->piece + o, s, n);
            o += n;
        } else if (ty == TOK_TYPE_BYTE && (bv = byte_token_value(s, n)) >= 0) {
            t->piece[o++] = (char)bv;
        } else if (t->kind == KIND_BPE_BYTES) {
            for (size_t i = 0; i < n;) {
                uint32_t cp;
                int l = utf8_decode((const uint8_t *)s + i, n - i, &cp);
                int b = cp == UNICODE_INVALID ? -1 : unicode_cp_to_byte(cp);
                if (b >= 0) t->piece[o++] = (char)b;
                else { memcpy(t->piece + o, s + i, (size_t)l); o += (size_t)l; }
                i += (size_t)l;
            }
        } else {
            for (size_t i = 0; i < n;) { /* U+2581 (E2 96 81) -> ' ', the rest as it is */
                const char *e = memchr(s + i, 0xE2, n - i);
                size_t run = e ? (size_t)(e - (s + i)) : n - i;
                memcpy(t->piece + o, s + i, run);
                o += run, i += run;
                if (i == n) break;
                if (i + 3 <= n && (uint8_t)s[i + 1] == 0x96 && (uint8_t)s[i + 2] == 0x81) { t->piece[o++] = ' '; i += 3; }
                else t->piece[o++] = s[i++];
            }
        }
    }
    t->piece_off[t->n_vocab] = (uint32_t)o;
    return 0;
}

static bool str_eq(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static bool str_in(const char *s, const char *const *list) {
    for (; *list; list++)
        if (str_eq(s, *list)) return true;
    return false;
}

static int set_pre(tokenizer *t, const char *pre) {
    static const char *const llama3[] = { "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "midm-2.0",
                                          "lfm2", NULL };
    static const char *const llama3_merging[] = { "dbrx", "smaug-bpe", NULL };
    static const char *const gpt2[] = { "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
                                        "jina-v2-de", "a.x-4.0", "mellum", "exaone4", NULL };
    static const char *const qwen2[] = { "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", NULL };
    if (!pre || !*pre || str_eq(pre, "default")) { t->pre = PRE_DEFAULT; return 0; }
    if (str_in(pre, llama3)) { t->pre = PRE_LLAMA3; t->ignore_merges = true; return 0; }
    if (str_in(pre, llama3_merging)) { t->pre = PRE_LLAMA3; return 0; }
    if (str_in(pre, gpt2)) { t->pre = PRE_GPT2; return 0; }
    if (str_in(pre, qwen2)) {
        t->pre = PRE_QWEN2;
        t->nfc = str_eq(pre, "qwen2");
        return 0;
    }
    if (str_eq(pre, "qwen35")) { t->pre = PRE_QWEN35; return 0; }
    return hearth_fail(HEARTH_ERR_UNSUPPORTED, "tokenizer: unsupported pre-tokenizer '%s'", pre);
}

int tokenizer_create(tokenizer **out, const tokenizer_params *p) {
    *out = NULL;
    if (!p || !p->model || !p->tokens || p->n_tokens == 0 || (p->n_merges && !p->merges))
        return hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: no vocabulary");
    if (p->n_tokens > TOK_MAX_ENTRIES || p->n_merges > TOK_MAX_ENTRIES)
        return hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: %u tokens / %u merges: too many", p->n_tokens, p->n_merges);
    tokenizer *t = calloc(1, sizeof *t);
    if (!t) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    int rc = 0;
    t->n_vocab = (int32_t)p->n_tokens;
    if (str_eq(p->model, "llama")) {
        t->kind = KIND_SPM;
        t->pre = PRE_NONE;
    } else if (str_eq(p->model, "gemma4")) {
        t->kind = KIND_BPE_SPM;
        t->pre = PRE_NONE;
    } else if (str_eq(p->model, "gpt2")) {
        t->kind = KIND_BPE_BYTES;
        if ((rc = set_pre(t, p->pre))) goto fail;
    } else {
        rc = hearth_fail(HEARTH_ERR_UNSUPPORTED, "tokenizer: unsupported tokenizer model '%s'", p->model);
        goto fail;
    }
    /* A BPE vocabulary without merges is valid (character / byte level only): e.g. synthetic models. */

    /* texts, scores, types */
    uint64_t total = 0;
    for (uint32_t i = 0; i < p->n_tokens; i++) {
        if (!p->tokens[i].s && p->tokens[i].n) { rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: bad token"); goto fail; }
        total += p->tokens[i].n;
    }
    if (total >= UINT32_MAX) { rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: vocabulary too large"); goto fail; }
    t->text = malloc(total + 1);
    t->text_off = malloc(((size_t)p->n_tokens + 1) * sizeof *t->text_off);
    t->scores = calloc(p->n_tokens, sizeof *t->scores);
    t->type = malloc(p->n_tokens);
    t->flags = calloc(p->n_tokens, 1);
    if (!t->text || !t->text_off || !t->scores || !t->type || !t->flags) {
        rc = hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
        goto fail;
    }
    size_t o = 0;
    for (uint32_t i = 0; i < p->n_tokens; i++) {
        t->text_off[i] = (uint32_t)o;
        if (p->tokens[i].n) memcpy(t->text + o, p->tokens[i].s, p->tokens[i].n);
        o += p->tokens[i].n;
        if (o - t->text_off[i] > t->max_token_len) t->max_token_len = (uint32_t)(o - t->text_off[i]);
        if (p->scores) t->scores[i] = p->scores[i];
        int32_t ty = p->types ? p->types[i] : TOK_TYPE_NORMAL;
        t->type[i] = (uint8_t)(ty >= 0 && ty <= TOK_TYPE_BYTE ? ty : TOK_TYPE_UNDEFINED);
    }
    t->text_off[p->n_tokens] = (uint32_t)o;

    /* special ids and flags */
    int32_t n = t->n_vocab;
#define ID_OR(v, d) ((v) >= 0 && (v) < n ? (v) : ((d) >= 0 && (d) < n ? (d) : -1))
    bool spm = t->kind == KIND_SPM;
    t->bos = ID_OR(p->bos_id, spm ? 1 : -1);
    t->eos = ID_OR(p->eos_id, spm ? 2 : -1);
    t->unk = ID_OR(p->unk_id, spm ? 0 : -1);
    t->eot = ID_OR(p->eot_id, -1);
    t->eom = ID_OR(p->eom_id, -1);
    t->pad = ID_OR(p->pad_id, -1);
#undef ID_OR
    if (spm) {
        t->add_bos = p->add_bos != 0; /* default true */
        t->add_eos = p->add_eos == 1;
        t->add_space_prefix = p->add_space_prefix != 0;
    } else if (t->kind == KIND_BPE_SPM) {
        t->add_bos = true; /* Gemma 4 always starts with <bos> */
        t->add_eos = p->add_eos == 1;
    } else {
        t->add_bos = p->add_bos == -1 ? t->pre == PRE_LLAMA3 && t->ignore_merges : p->add_bos == 1;
        t->add_eos = p->add_eos == 1;
    }
    for (int32_t id = 0; id < n; id++) {
        switch (t->type[id]) {
        case TOK_TYPE_CONTROL:
        case TOK_TYPE_UNKNOWN:
        case TOK_TYPE_UNUSED: t->flags[id] = TF_CONTROL; break;
        case TOK_TYPE_USER_DEFINED: t->flags[id] = TF_USER | TF_SEGMENT; break;
        case TOK_TYPE_BYTE: t->flags[id] = 0; break;
        default: t->flags[id] = TF_SEGMENT; break;
        }
    }
    /* Only Google's Gemma vocabulary has these unmarked added tokens: recognise it by its [multimodal] token,
     * so another gemma4-style vocabulary (hearth's own default model's) keeps plain BPE for tab runs. */
    bool gemma_vocab = false;
    for (int32_t id = 0; id < n && !gemma_vocab && t->kind == KIND_BPE_SPM; id++) {
        size_t len;
        const char *s = tokenizer_token_text(t, id, &len);
        gemma_vocab = len == 12 && !memcmp(s, "[multimodal]", 12);
    }
    if (t->kind == KIND_BPE_SPM && gemma_vocab) {
        /* Gemma's Hugging Face tokenizer has non-special added tokens that the GGUF types as NORMAL: everything
         * between the control tokens and the first byte token (<unusedN>, [multimodal], runs of 1-31 newlines,
         * of 2-31 U+2581, HTML tags) and the runs of 1-31 tabs. Added tokens are cut out of the raw text
         * before anything else, so they are matched like user-defined tokens (and rendered as normal ones). */
        int32_t first_byte = n;
        for (int32_t id = 0; id < n; id++)
            if (t->type[id] == TOK_TYPE_BYTE) { first_byte = id; break; }
        for (int32_t id = 0; id < n; id++) {
            if (t->type[id] != TOK_TYPE_NORMAL) continue;
            size_t len;
            const char *s = tokenizer_token_text(t, id, &len);
            size_t tabs = 0;
            while (tabs < len && s[tabs] == '\t') tabs++;
            if (id < first_byte || (len && tabs == len)) t->flags[id] |= TF_USER;
        }
    }
    if ((rc = build_map(t))) goto fail;
    if (spm && str_eq(p->arch, "phi3")) {
        /* Phi-3's Hugging Face tokenizer strips the whitespace after its added tokens, except these */
        for (int32_t id = 0; id < n; id++)
            if (t->type[id] == TOK_TYPE_CONTROL || t->type[id] == TOK_TYPE_USER_DEFINED ||
                t->type[id] == TOK_TYPE_UNKNOWN)
                t->flags[id] |= TF_RSTRIP;
        static const char *const keep[] = { "<unk>", "<s>", "<|endoftext|>" };
        for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
            int32_t id = find_name(t, keep[k]);
            if (id >= 0) t->flags[id] &= (uint8_t)~TF_RSTRIP;
        }
    }
    for (const char *const *nm = eot_names; t->eot < 0 && *nm; nm++) t->eot = find_name(t, *nm);
    for (int l = 0; l < 3; l++) {
        for (const char *const *nm = l == 0 ? fim_names : l == 1 ? fim_eog_names : eog_names; *nm; nm++) {
            int32_t id = find_name(t, *nm);
            if (id >= 0) t->flags[id] = (uint8_t)((t->flags[id] & ~(TF_USER | TF_SEGMENT)) | TF_CONTROL | (l ? TF_EOG : 0));
        }
    }
    /* gpt-oss: <|end|> separates messages when <|return|> and <|call|> end generation */
    int32_t end_id = find_name(t, "<|end|>");
    if (end_id >= 0 && find_name(t, "<|return|>") >= 0 && find_name(t, "<|call|>") >= 0)
        t->flags[end_id] &= (uint8_t)~TF_EOG;
    if (t->eos >= 0) t->flags[t->eos] |= TF_EOG;
    if (t->eot >= 0) t->flags[t->eot] |= TF_EOG;
    if (t->eom >= 0) t->flags[t->eom] |= TF_EOG;
    if (t->kind != KIND_SPM && (rc = build_merges(t, p))) goto fail;
    if (t->kind != KIND_SPM && t->n_merges == 0 && p->n_merges > 0) {
        rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: none of the %u merges is usable", p->n_merges);
        goto fail;
    }

    /* byte tokens, byte-level characters, ASCII characters */
    for (int i = 0; i < 256; i++) t->byte_tok[i] = t->bytechar_tok[i] = -1;
    for (int32_t id = 0; id < n; id++) {
        size_t len;
        const char *s = tokenizer_token_text(t, id, &len);
        int bv = byte_token_value(s, len);
        if (bv >= 0 && (t->type[id] == TOK_TYPE_BYTE || (!p->types && t->kind != KIND_BPE_BYTES)) &&
            t->byte_tok[bv] < 0)
            t->byte_tok[bv] = id;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t u[4];
        int l = utf8_encode(unicode_byte_to_cp((uint8_t)b), u);
        memcpy(t->bytechar_utf8[b], u, 2);
        t->bytechar_len[b] = (uint8_t)l;
        if (t->kind == KIND_BPE_BYTES) t->bytechar_tok[b] = seg_find(t, u, (size_t)l);
    }
    for (int c = 0; c < 128; c++) {
        uint8_t ch = (uint8_t)c;
        t->ascii_tok[c] = seg_find(t, &ch, 1);
    }
    if (t->kind != KIND_BPE_BYTES && (rc = build_joiners(t))) goto fail;
    if ((rc = build_trie(t))) goto fail;
    if ((rc = build_pieces(t))) goto fail;
    *out = t;
    return 0;
fail:
    tokenizer_free(t);
    return rc;
}

/* ----------------------------------------------------------------------------------- GGUF loading */

/* Special ids and flags: a value of the wrong type or out of range counts as absent. */
static int get_id(const gguf_file *f, const char *key, int32_t *out) {
    uint32_t v;
    int rc = gguf_get_u32(f, key, &v);
    if (rc < 0) hearth_clear_error();
    *out = rc == 1 && v <= INT32_MAX ? (int32_t)v : -1;
    return 0;
}

static int get_flag(const gguf_file *f, const char *key, int *out) {
    bool v;
    int rc = gguf_get_bool(f, key, &v);
    if (rc < 0) hearth_clear_error();
    *out = rc == 1 ? (int)v : -1;
    return 0;
}

static int str_array(const gguf_file *f, const char *key, bool required, tok_str **out, uint32_t *n) {
    *out = NULL;
    *n = 0;
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return required ? hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: missing %s", key) : 0;
    if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING || kv->arr_n >= INT32_MAX)
        return hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: %s is not an array of strings", key);
    tok_str *a = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *a);
    if (!a) return hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory");
    for (uint64_t i = 0; i < kv->arr_n; i++) a[i] = (tok_str){ kv->strs[i].s, (size_t)kv->strs[i].n };
    *out = a;
    *n = (uint32_t)kv->arr_n;
    return 0;
}

int tokenizer_load_gguf(tokenizer **out, const gguf_file *f) {
    *out = NULL;
    tokenizer_params p;
    memset(&p, 0, sizeof p);
    tok_str *tokens = NULL, *merges = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    char *model = NULL, *pre = NULL, *arch = NULL;
    int rc;
    gguf_str gs;

    rc = gguf_get_str(f, "tokenizer.ggml.model", &gs);
    if (rc == 0) rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: missing tokenizer.ggml.model");
    if (rc < 0) goto done;
    if (!(model = strndup(gs.s, (size_t)gs.n))) { rc = hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory"); goto done; }
    rc = gguf_get_str(f, "tokenizer.ggml.pre", &gs);
    if (rc < 0) goto done;
    if (rc == 1 && !(pre = strndup(gs.s, (size_t)gs.n))) { rc = hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory"); goto done; }
    rc = gguf_get_str(f, "general.architecture", &gs);
    if (rc < 0) goto done;
    if (rc == 1 && !(arch = strndup(gs.s, (size_t)gs.n))) { rc = hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory"); goto done; }

    if ((rc = str_array(f, "tokenizer.ggml.tokens", true, &tokens, &p.n_tokens))) goto done;
    if ((rc = str_array(f, "tokenizer.ggml.merges", false, &merges, &p.n_merges))) goto done;

    const gguf_kv *kv = gguf_find_kv(f, "tokenizer.ggml.scores");
    if (kv) {
        if (kv->type != GGUF_ARRAY || kv->arr_n < p.n_tokens) {
            rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: tokenizer.ggml.scores has the wrong type or length");
            goto done;
        }
        if (!(scores = malloc(p.n_tokens * sizeof *scores))) { rc = hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory"); goto done; }
        if (!gguf_arr_to_f32(kv, p.n_tokens, scores)) { rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: bad scores"); goto done; }
    }
    kv = gguf_find_kv(f, "tokenizer.ggml.token_type");
    if (kv) {
        if (kv->type != GGUF_ARRAY || kv->arr_n < p.n_tokens) {
            rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: tokenizer.ggml.token_type has the wrong type or length");
            goto done;
        }
        if (!(types = malloc(p.n_tokens * sizeof *types))) { rc = hearth_fail(HEARTH_ERR_NOMEM, "tokenizer: out of memory"); goto done; }
        if (!gguf_arr_to_i32(kv, p.n_tokens, types)) { rc = hearth_fail(HEARTH_ERR_FORMAT, "tokenizer: bad token types"); goto done; }
        for (uint32_t i = 0; i < p.n_tokens; i++)
            if (types[i] < 0 || types[i] > TOK_TYPE_BYTE) types[i] = TOK_TYPE_UNDEFINED;
    }
    if ((rc = get_id(f, "tokenizer.ggml.bos_token_id", &p.bos_id)) ||
        (rc = get_id(f, "tokenizer.ggml.eos_token_id", &p.eos_id)) ||
        (rc = get_id(f, "tokenizer.ggml.eot_token_id", &p.eot_id)) ||
        (rc = get_id(f, "tokenizer.ggml.eom_token_id", &p.eom_id)) ||
        (rc = get_id(f, "tokenizer.ggml.unknown_token_id", &p.unk_id)) ||
        (rc = get_id(f, "tokenizer.ggml.padding_token_id", &p.pad_id)) ||
        (rc = get_flag(f, "tokenizer.ggml.add_bos_token", &p.add_bos)) ||
        (rc = get_flag(f, "tokenizer.ggml.add_eos_token", &p.add_eos)) ||
        (rc = get_flag(f, "tokenizer.ggml.add_space_prefix", &p.add_space_prefix)))
        goto done;
    p.model = model;
    p.pre = pre;
    p.arch = arch;
    p.tokens = tokens;
    p.merges = merges;
    p.scores = scores;
    p.types = types;
    rc = tokenizer_create(out, &p);
done:
    free(tokens); free(merges); free(scores); free(types); free(model); free(pre); free(arch);
    return rc;
}
