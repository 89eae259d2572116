/* sampler.c — choosing the next token from logits.
 *
 * Order (as llama.cpp users expect): repetition / presence / frequency penalties over the last
 * repeat_last_n accepted tokens → greedy if temperature <= 0 → top-k → softmax(logits / temperature) →
 * top-p → min-p → draw with a seeded xoshiro256** generator. Same seed + same logits ⇒ same token.
 * Only the best candidates are sorted (a bounded heap), so a 262k vocabulary costs O(V log k) per step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
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

void hearth_sampler_reset(hearth_sampler *smp) {
    uint64_t x = smp->params.seed;
    for (int i = 0; i < 4; i++) smp->rng[i] = splitmix64(&x);
    smp->n_recent = smp->recent_pos = 0;
}

hearth_sampler *hearth_sampler_new(const hearth_model *model, const hearth_sampler_params *params) {
    hearth_sampler *smp = calloc(1, sizeof *smp);
    if (!smp) { hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); return NULL; }
    smp->params = params ? *params : hearth_sampler_default_params();
    if (smp->params.repeat_last_n <= 0) smp->params.repeat_last_n = 64;
    smp->n_vocab = hearth_model_n_vocab(model);
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

void hearth_sampler_free(hearth_sampler *smp) {
    if (!smp) return;
    free(smp->recent);
    free(smp->cand);
    free(smp->logits);
    free(smp);
}

void hearth_sampler_accept(hearth_sampler *smp, int32_t token) {
    int cap = smp->params.repeat_last_n;
    smp->recent[smp->recent_pos] = token;
    smp->recent_pos = (smp->recent_pos + 1) % cap;
    if (smp->n_recent < cap) smp->n_recent++;
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

/* Keep the k largest logits in cand[0..k), sorted descending (a min-heap while scanning). */
static int select_top(const float *logits, int n_vocab, int k, candidate *cand) {
    if (k > n_vocab) k = n_vocab;
    int n = 0;
    for (int id = 0; id < n_vocab; id++) {
        float l = logits[id];
        if (l != l) continue; /* NaN never wins */
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

int32_t hearth_sampler_sample(hearth_sampler *smp, const float *logits_in) {
    const hearth_sampler_params *p = &smp->params;
    float *logits = smp->logits;
    memcpy(logits, logits_in, sizeof(float) * (size_t)smp->n_vocab);
    apply_penalties(smp, logits);

    if (p->temperature <= 0.0f) {
        int32_t best = 0;
        for (int i = 1; i < smp->n_vocab; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    /* candidates: the top-k; with top-p alone, enough of the head to cover top_p (grown until it does);
     * with neither, everything */
    int k = p->top_k > 0 ? p->top_k : p->top_p < 1.0f ? 256 : smp->n_vocab;
    int n;
    for (;;) {
        n = select_top(logits, smp->n_vocab, k, smp->cand);
        if (n == 0) return 0;
        if (p->top_k > 0 || p->top_p >= 1.0f || k >= smp->n_vocab) break;
        double maxl = smp->cand[0].logit, total = 0, head = 0;
        for (int i = 0; i < smp->n_vocab; i++) total += exp((logits[i] - maxl) / p->temperature);
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
