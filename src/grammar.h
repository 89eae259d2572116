/* grammar.h — constrained decoding: GBNF grammars, compiled to byte-level pushdown automata, matched against
 * a model's vocabulary through a token trie.
 *
 * Contract
 *   - grammar_compile reads GBNF as llama.cpp users write it: rules `name ::= ...` (names of letters, digits,
 *     '-' and '_'), alternatives |, sequences, groups ( ), repetition * + ? {m} {m,} {m,n} {,n}, string
 *     literals "..." and character classes [...] / [^...] with ranges and the escapes \n \r \t \\ \" \' \[ \]
 *     \- \^ \/ \xHH \uHHHH \UHHHHHHHH, `.` (any character), comments from # to the end of the line, and
 *     token references <[id]>, <text> (a token whose text is exactly that), !<[id]>, !<text> (any one token
 *     but that). A newline ends a rule except inside ( ) or after/before a |. Terminals are Unicode code points
 *     (\xHH is U+00HH): they are compiled to UTF-8 byte sequences, so a character may span tokens; the
 *     surrogates U+D800..U+DFFF never match (output is always valid UTF-8).
 *   - Errors (HEARTH_ERR_FORMAT with a one-line message naming the line and column, or the rule): syntax
 *     errors, a rule defined twice, a rule used but not defined, no start rule, left recursion (a rule that
 *     can reach itself before reading a character, named in the message; also an open repetition of
 *     something that can match nothing), a grammar that can match nothing at all, a grammar too large.
 *   - A compiled grammar is immutable: any number of matchers and threads may share it.
 *   - A gvocab is a vocabulary's token trie (every non-control token's piece, as the bytes generation emits),
 *     built once per model (gvocab_for_model caches it in the model) and immutable afterwards.
 *   - A gmatch is one parse in progress (one per stream; one thread at a time). Its state is the set of
 *     grammar stacks after the bytes accepted so far, interned as a state of a lazily built DFA over bytes:
 *     every (state, byte class) transition is computed once and then costs a table lookup. The token mask
 *     of a state is a walk of the trie in preorder that follows the DFA and skips whole subtrees at the first
 *     byte with no transition; masks are cached per state (the state inside a JSON string repeats every
 *     token), and states that differ only in how far a bounded repetition has to go beyond the longest token
 *     share one (x{0,400}: the last ~50 counts differ, the first ~350 are one mask). A state whose stacks
 *     share a context (all stacks inside one JSON string, say) is walked rebased on it: that walk depends on
 *     the stacks above the context only, so every string of the document shares it, and only the few trie
 *     nodes where it leaves the context (tokens with a closing quote) are walked on against the real one. End-of-generation tokens are allowed exactly when the root rule is complete.
 */
#ifndef HEARTH_GRAMMAR_H
#define HEARTH_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hearth.h"

struct tokenizer;

typedef struct grammar grammar;
typedef struct gvocab gvocab;
typedef struct gmatch gmatch;

/* Compiles GBNF text; root: the start rule's name (NULL: "root"). Token references (<...>) need the
 * tokenizer they refer to (NULL: they are an error). */
int grammar_compile(grammar **out, const char *gbnf, const char *root, const struct tokenizer *tok);
void grammar_free(grammar *g);
/* Sizes, for tests and statistics: rules (with the helper rules groups and repetitions make), elements,
 * byte classes. */
void grammar_stats(const grammar *g, int *n_rules, int *n_elements, int *n_classes);

/* The trie of a tokenizer's pieces. */
int gvocab_build(gvocab **out, const struct tokenizer *tok);
void gvocab_free(gvocab *v);
/* The model's trie, built on first use (thread-safe) and freed with the model; NULL (with an error) when
 * the model has no vocabulary. */
const gvocab *gvocab_for_model(const hearth_model *model);
int gvocab_n_nodes(const gvocab *v);

/* A matcher over g; v may be NULL for byte-level use only (no masks, no tokens). */
gmatch *gmatch_new(const grammar *g, const gvocab *v);
void gmatch_free(gmatch *m);
void gmatch_reset(gmatch *m);
/* Advance by bytes / by a token. HEARTH_ERR_ARG (state unchanged) if they leave the grammar. */
int gmatch_accept_bytes(gmatch *m, const char *s, size_t n);
int gmatch_accept_token(gmatch *m, int32_t token);
/* Whether the bytes so far leave the grammar acceptable as a whole (the root rule is complete)... */
bool gmatch_can_end(const gmatch *m);
/* ... and whether nothing but the end can follow. */
bool gmatch_must_end(const gmatch *m);
/* Whether this token may come next (the slow path of one token, for tests). */
bool gmatch_token_allowed(gmatch *m, int32_t token);
/* The tokens allowed next: their count, and either their ids in increasing order (a sparse mask: ids set,
 * bits NULL) or a bitset of n_vocab bits (bits set, ids NULL). Valid until the next call on m. */
typedef struct {
    int count;
    const int32_t *ids;
    const uint64_t *bits;
} gmask;
/* Returns the count (0: none, the grammar cannot go on with this vocabulary), or a negative status. */
int gmatch_mask(gmatch *m, gmask *out);
bool gmask_has(const gmask *mask, int32_t token);
/* Tests: lower the bounds past which the tables start over from the current state (0: keep), and read
 * how often that happened. */
void gmatch_set_limits(gmatch *m, uint32_t max_states, uint32_t max_nodes, long *compactions);
/* Counters since creation: masks computed by a trie walk, masks served from the cache, DFA states. */
void gmatch_stats(const gmatch *m, long *walks, long *cache_hits, int *n_states);

#endif
