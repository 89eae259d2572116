/* sampler.c — choosing the next token from logits.
 *
 * Order (as llama.cpp users expect): repetition / presence / frequency penalties over the last
 * repeat_last_n accepted tokens → greedy if temperature <= 0 → top-k → softmax(logits / temperature) →
 * top-p → min-p → draw with a seeded xoshiro256** generator. Same seed + same logits ⇒ same token.
 * Only the best candidates are sorted (a bounded heap), so a 262k vocabulary costs O(V log k) per step.
 *
 * Grammar (grammar.h): after the penalties the grammar's mask removes every token that would leave the
 * grammar, before greedy or random choice, so both obey it. A sparse mask (structure, keys, literals) is
 * turned into a candidate list and only those tokens are looked at; a dense one (free text inside a string)
 * sets the others to -inf. A lazy grammar waits, unconstrained, until a trigger word or token appears. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "grammar.h"
#include "hearth.h"
#include "util.h"

typedef struct {
    int32_t id;
    float logit;
    float p;
} candidate;

struct hearth_sampler {
    hearth_sampler_params params;
    int n_vocab;
    uint64_t rng[4];
    int32_t *recent;   /* ring of the last repeat_last_n accepted tokens */
    int n_recent, recent_pos;
    candidate *cand;   /* scratch, n_vocab */
    float *logits;     /* scratch, n_vocab */
    const hearth_model *model;
    /* grammar */
    grammar *gram;
    gmatch *gm;
    hearth_grammar_state gstate;
    bool lazy;         /* waits for a trigger after each reset */
    char **trig_words;
    int n_trig_words;
    int32_t *trig_tokens;
    int n_trig_tokens;
    char *tail;        /* while waiting: the output's last bytes that may begin a trigger word (words span tokens) */
    size_t tail_len, tail_cap;
};

hearth_sampler_params hearth_sampler_default_params(void) {
    hearth_sampler_params p = {
        .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
        .repeat_last_n = 64, .presence_penalty = 0.0f, .frequency_penalty = 0.0f, .seed = 0,
    };
    return p;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4]) {
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

static void grammar_restart(hearth_sampler *smp) {
    smp->tail_len = 0;
    if (!smp->gm) { smp->gstate = HEARTH_GRAMMAR_NONE; return; }
    gmatch_reset(smp->gm);
    smp->gstate = smp->lazy ? HEARTH_GRAMMAR_WAITING : HEARTH_GRAMMAR_ACTIVE;
}

void hearth_sampler_reset(hearth_sampler *smp) {
    uint64_t x = smp->params.seed;
    for (int i = 0; i < 4; i++) smp->rng[i] = splitmix64(&x);
    smp->n_recent = smp->recent_pos = 0;
    grammar_restart(smp);
}

hearth_sampler *hearth_sampler_new(const hearth_model *model, const hearth_sampler_params *params) {
    hearth_sampler *smp = calloc(1, sizeof *smp);
    if (!smp) { hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); return NULL; }
    smp->params = params ? *params : hearth_sampler_default_params();
    if (smp->params.repeat_last_n <= 0) smp->params.repeat_last_n = 64;
    smp->n_vocab = hearth_model_n_vocab(model);
    smp->model = model;
    smp->recent = malloc(sizeof(int32_t) * (size_t)smp->params.repeat_last_n);
    smp->cand = malloc(sizeof(candidate) * (size_t)smp->n_vocab);
    smp->logits = malloc(sizeof(float) * (size_t)smp->n_vocab);
    if (!smp->recent || !smp->cand || !smp->logits || smp->n_vocab <= 0) {
        hearth_sampler_free(smp);
        hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        return NULL;
    }
    hearth_sampler_reset(smp);
    return smp;
}

static void free_grammar(hearth_sampler *smp) {
    gmatch_free(smp->gm);
    grammar_free(smp->gram);
    for (int i = 0; i < smp->n_trig_words; i++) free(smp->trig_words[i]);
    free(smp->trig_words);
    free(smp->trig_tokens);
    smp->gm = NULL;
    smp->gram = NULL;
    smp->trig_words = NULL;
    smp->trig_tokens = NULL;
    smp->n_trig_words = smp->n_trig_tokens = 0;
    smp->lazy = false;
    smp->gstate = HEARTH_GRAMMAR_NONE;
}

void hearth_sampler_free(hearth_sampler *smp) {
    if (!smp) return;
    free_grammar(smp);
    free(smp->tail);
    free(smp->recent);
    free(smp->cand);
    free(smp->logits);
    free(smp);
}

static void remember(hearth_sampler *smp, int32_t token) {
    int cap = smp->params.repeat_last_n;
    smp->recent[smp->recent_pos] = token;
    smp->recent_pos = (smp->recent_pos + 1) % cap;
    if (smp->n_recent < cap) smp->n_recent++;
}

static void update_gstate(hearth_sampler *smp) {
    smp->gstate = gmatch_must_end(smp->gm) ? HEARTH_GRAMMAR_DONE
                  : gmatch_can_end(smp->gm) ? HEARTH_GRAMMAR_COMPLETE : HEARTH_GRAMMAR_ACTIVE;
}

/* A waiting lazy grammar looks for its triggers in the output. */
static void watch_triggers(hearth_sampler *smp, int32_t token) {
    for (int i = 0; i < smp->n_trig_tokens; i++)
        if (smp->trig_tokens[i] == token) {
            smp->gstate = HEARTH_GRAMMAR_ACTIVE;
            update_gstate(smp);
            return;
        }
    char piece[512];
    int n = hearth_token_to_piece(smp->model, token, false, piece, sizeof piece);
    if (n <= 0 || n > (int)sizeof piece) return;
    if (smp->tail_len + (size_t)n + 1 > smp->tail_cap) {
        size_t cap = (smp->tail_len + (size_t)n + 1) * 2;
        char *t = realloc(smp->tail, cap);
        if (!t) return;
        smp->tail = t;
        smp->tail_cap = cap;
    }
    memcpy(smp->tail + smp->tail_len, piece, (size_t)n);
    smp->tail_len += (size_t)n;
    /* the earliest trigger that is complete now; the grammar reads from its first byte */
    size_t best = (size_t)-1;
    for (int i = 0; i < smp->n_trig_words; i++) {
        size_t wl = strlen(smp->trig_words[i]);
        if (!wl || wl > smp->tail_len) continue;
        for (size_t at = 0; at + wl <= smp->tail_len; at++)
            if (!memcmp(smp->tail + at, smp->trig_words[i], wl)) { if (at < best) best = at; break; }
    }
    if (best == (size_t)-1) {
        /* keep only what could still be the start of a trigger */
        size_t keep = 0;
        for (int i = 0; i < smp->n_trig_words; i++) {
            size_t wl = strlen(smp->trig_words[i]);
            if (wl > keep + 1) keep = wl - 1;
        }
        if (smp->tail_len > keep) {
            memmove(smp->tail, smp->tail + smp->tail_len - keep, keep);
            smp->tail_len = keep;
        }
        return;
    }
    smp->gstate = HEARTH_GRAMMAR_ACTIVE;
    if (gmatch_accept_bytes(smp->gm, smp->tail + best, smp->tail_len - best) < 0) smp->gstate = HEARTH_GRAMMAR_FAILED;
    else update_gstate(smp);
    smp->tail_len = 0;
}

void hearth_sampler_accept(hearth_sampler *smp, int32_t token) {
    remember(smp, token);
    switch (smp->gstate) {
    case HEARTH_GRAMMAR_WAITING: watch_triggers(smp, token); break;
    case HEARTH_GRAMMAR_ACTIVE:
    case HEARTH_GRAMMAR_COMPLETE:
    case HEARTH_GRAMMAR_DONE:
        if (gmatch_accept_token(smp->gm, token) < 0) smp->gstate = HEARTH_GRAMMAR_FAILED;
        else update_gstate(smp);
        break;
    default: break;
    }
}

void hearth_sampler_accept_prompt(hearth_sampler *smp, const int32_t *tokens, int n) {
    for (int i = 0; i < n; i++) remember(smp, tokens[i]);
}

hearth_grammar_state hearth_sampler_grammar_state(const hearth_sampler *smp) { return smp->gstate; }

void hearth_sampler_reset_grammar(hearth_sampler *smp) { grammar_restart(smp); }

/* Compile and attach (replacing any grammar) — all or nothing. */
static int attach_grammar(hearth_sampler *smp, const char *gbnf, const char *root, const hearth_grammar_triggers *trig) {
    hearth_clear_error();
    if (!gbnf) { free_grammar(smp); return 0; }
    const gvocab *v = gvocab_for_model(smp->model);
    if (!v) return HEARTH_ERR_UNSUPPORTED;
    grammar *g;
    int rc = grammar_compile(&g, gbnf, root, smp->model->tok);
    if (rc < 0) return rc;
    gmatch *gm = gmatch_new(g, v);
    if (!gm) {
        grammar_free(g);
        return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    }
    free_grammar(smp);
    smp->gram = g;
    smp->gm = gm;
    if (trig) {
        smp->lazy = true;
        if (trig->n_words > 0) smp->trig_words = calloc((size_t)trig->n_words, sizeof(char *));
        if (trig->n_tokens > 0) smp->trig_tokens = malloc(sizeof(int32_t) * (size_t)trig->n_tokens);
        if ((trig->n_words > 0 && !smp->trig_words) || (trig->n_tokens > 0 && !smp->trig_tokens)) {
            free_grammar(smp);
            return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < trig->n_words; i++)
            if (trig->words[i] && (smp->trig_words[smp->n_trig_words] = strdup(trig->words[i]))) smp->n_trig_words++;
        for (int i = 0; i < trig->n_tokens; i++) smp->trig_tokens[smp->n_trig_tokens++] = trig->tokens[i];
    }
    grammar_restart(smp);
    return 0;
}

int hearth_sampler_set_grammar(hearth_sampler *smp, const char *gbnf, const char *root) {
    return attach_grammar(smp, gbnf, root, NULL);
}

int hearth_sampler_set_grammar_lazy(hearth_sampler *smp, const char *gbnf, const char *root,
                                    const hearth_grammar_triggers *triggers) {
    static const hearth_grammar_triggers none = {0};
    return attach_grammar(smp, gbnf, root, triggers ? triggers : &none);
}

int hearth_sampler_set_json(hearth_sampler *smp) { return attach_grammar(smp, hearth_json_gbnf(), "root", NULL); }

int hearth_sampler_set_json_schema(hearth_sampler *smp, const char *schema_json) {
    char *gbnf;
    int rc = hearth_json_schema_to_gbnf(schema_json, &gbnf);
    if (rc < 0) return rc;
    rc = attach_grammar(smp, gbnf, "root", NULL);
    free(gbnf);
    return rc;
}

static void apply_penalties(hearth_sampler *smp, float *logits) {
    const hearth_sampler_params *p = &smp->params;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return;
    for (int i = 0; i < smp->n_recent; i++) {
        int32_t tok = smp->recent[i];
        if (tok < 0 || tok >= smp->n_vocab) continue;
        /* count each distinct token once, at its first occurrence in the ring */
        int count = 0, first = 1;
        for (int j = 0; j < smp->n_recent; j++)
            if (smp->recent[j] == tok) { if (j < i) { first = 0; break; } count++; }
        if (!first) continue;
        float *l = &logits[tok];
        if (p->repeat_penalty != 1.0f) *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)count * p->frequency_penalty + p->presence_penalty;
    }
}

/* Keep the k largest logits in cand[0..k), sorted descending (a min-heap while scanning). The scan covers
 * ids[0..n) when ids is not NULL, else every token 0..n). NaN and -inf (masked) never enter. */
static int select_top(const float *logits, const int32_t *ids, int n_ids, int k, candidate *cand) {
    if (k > n_ids) k = n_ids;
    int n = 0;
    for (int j = 0; j < n_ids; j++) {
        int32_t id = ids ? ids[j] : j;
        float l = logits[id];
        if (!(l > -INFINITY)) continue; /* NaN or masked */
        if (n < k) {
            int i = n++;
            while (i > 0 && cand[(i - 1) / 2].logit > l) { cand[i] = cand[(i - 1) / 2]; i = (i - 1) / 2; }
            cand[i] = (candidate){id, l, 0};
        } else if (l > cand[0].logit) {
            int i = 0;
            for (;;) {
                int c = 2 * i + 1;
                if (c >= n) break;
                if (c + 1 < n && cand[c + 1].logit < cand[c].logit) c++;
                if (cand[c].logit >= l) break;
                cand[i] = cand[c];
                i = c;
            }
            cand[i] = (candidate){id, l, 0};
        }
    }
    /* heap-sort the survivors descending */
    for (int end = n - 1; end > 0; end--) {
        candidate top = cand[0];
        candidate last = cand[end];
        int i = 0;
        for (;;) {
            int c = 2 * i + 1;
            if (c >= end) break;
            if (c + 1 < end && cand[c + 1].logit < cand[c].logit) c++;
            if (cand[c].logit >= last.logit) break;
            cand[i] = cand[c];
            i = c;
        }
        cand[i] = last;
        cand[end] = top;
    }
    return n;
}

/* The first end-of-generation token: what a grammar that cannot go on ends with. */
static int32_t end_token(const hearth_sampler *smp) {
    int32_t eos = hearth_token_eos(smp->model);
    if (eos >= 0) return eos;
    for (int32_t i = 0; i < smp->n_vocab; i++)
        if (hearth_token_is_eog(smp->model, i)) return i;
    return 0;
}

/* Apply the grammar's mask: returns the number of candidates; *ids is the candidate list (NULL: every token,
 * the masked ones at -inf). */
static int apply_grammar(hearth_sampler *smp, float *logits, const int32_t **ids) {
    *ids = NULL;
    gmask mk;
    int count = gmatch_mask(smp->gm, &mk);
    if (count <= 0) return 0;
    if (mk.ids) { /* sparse: only these are looked at */
        *ids = mk.ids;
        return count;
    }
    size_t words = ((size_t)smp->n_vocab + 63) / 64;
    for (size_t w = 0; w < words; w++) {
        if (mk.bits[w] == ~0ull) continue;
        for (uint64_t b = ~mk.bits[w]; b; b &= b - 1) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(b);
            if (i < (size_t)smp->n_vocab) logits[i] = -INFINITY;
        }
    }
    return smp->n_vocab;
}

int32_t hearth_sampler_sample(hearth_sampler *smp, const float *logits_in) {
    const hearth_sampler_params *p = &smp->params;
    float *logits = smp->logits;
    memcpy(logits, logits_in, sizeof(float) * (size_t)smp->n_vocab);
    apply_penalties(smp, logits);

    const int32_t *ids = NULL;
    int n_ids = smp->n_vocab;
    bool constrained = smp->gstate >= HEARTH_GRAMMAR_ACTIVE && smp->gstate <= HEARTH_GRAMMAR_DONE;
    if (constrained) {
        n_ids = apply_grammar(smp, logits, &ids);
        if (n_ids == 0) { smp->gstate = HEARTH_GRAMMAR_FAILED; return end_token(smp); }
    }

    if (p->temperature <= 0.0f) {
        int32_t best = -1;
        for (int j = 0; j < n_ids; j++) {
            int32_t i = ids ? ids[j] : j;
            if (logits[i] > -INFINITY && (best < 0 || logits[i] > logits[best])) best = i;
        }
        if (best >= 0) return best;
        /* every candidate is -inf or NaN: the first allowed one */
        if (constrained) return ids ? ids[0] : end_token(smp);
        return 0;
    }
    /* candidates: the top-k; with top-p alone, enough of the head to cover top_p (grown until it does);
     * with neither, everything */
    int k = p->top_k > 0 ? p->top_k : p->top_p < 1.0f ? 256 : n_ids;
    int n;
    for (;;) {
        n = select_top(logits, ids, n_ids, k, smp->cand);
        if (n == 0) return constrained && ids ? ids[0] : constrained ? end_token(smp) : 0;
        if (p->top_k > 0 || p->top_p >= 1.0f || k >= n_ids) break;
        double maxl = smp->cand[0].logit, total = 0, head = 0;
        for (int j = 0; j < n_ids; j++) {
            float l = logits[ids ? ids[j] : j];
            if (l > -INFINITY) total += exp((l - maxl) / p->temperature);
        }
        for (int i = 0; i < n; i++) head += exp((smp->cand[i].logit - maxl) / p->temperature);
        if (head / total >= p->top_p) break;
        k *= 4;
    }
    candidate *c = smp->cand;
    double maxl = c[0].logit, sum = 0;
    for (int i = 0; i < n; i++) { c[i].p = (float)exp((c[i].logit - maxl) / p->temperature); sum += c[i].p; }
    for (int i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
    if (p->top_p < 1.0f) {
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) { cum += c[i].p; if (cum >= p->top_p) { keep = i + 1; break; } }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        float floor_p = c[0].p * p->min_p;
        int keep = 1;
        while (keep < n && c[keep].p >= floor_p) keep++;
        n = keep;
    }
    double total = 0;
    for (int i = 0; i < n; i++) total += c[i].p;
    double r = rng_uniform(smp->rng) * total, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += c[i].p;
        if (r < acc) return c[i].id;
    }
    return c[n - 1].id;
}
