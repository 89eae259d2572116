/* test_sampler.c — the sampler's filters and penalties on hand-made logits whose answers are known:
 * greedy, top-k, top-p, min-p, temperature (empirical frequencies against the softmax), repetition /
 * presence / frequency penalties, and seed determinism. */
#include <stdint.h>

#include "hearth.h"
#include "testutil.h"

static hearth_model *model;
static int nv;

static int32_t sample_once(hearth_sampler_params p, const float *logits) {
    hearth_sampler *s = hearth_sampler_new(model, &p);
    int32_t t = hearth_sampler_sample(s, logits);
    hearth_sampler_free(s);
    return t;
}

int main(void) {
    hearth_model_params mp = {.vocab_only = true};
    model = hearth_model_load("tests/fixtures/models/gemma4-plain.f32.gguf", &mp);
    CHECK(model != NULL, "%s", hearth_last_error());
    if (!model) TEST_SUMMARY("sampler");
    nv = hearth_model_n_vocab(model);
    float *logits = malloc(sizeof(float) * (size_t)nv);
    for (int i = 0; i < nv; i++) logits[i] = -10.0f;
    /* a known head: token 7 > 3 > 11 > 5 */
    logits[7] = 4.0f; logits[3] = 3.0f; logits[11] = 2.0f; logits[5] = 1.0f;

    hearth_sampler_params p = hearth_sampler_default_params();
    p.temperature = 0;
    CHECK_EQ_INT(sample_once(p, logits), 7);

    /* top-k = 2: only 7 and 3 ever come out */
    p = hearth_sampler_default_params();
    p.top_k = 2; p.top_p = 1; p.min_p = 0; p.temperature = 1;
    hearth_sampler *s = hearth_sampler_new(model, &p);
    int counts[4] = {0}, other = 0;
    for (int i = 0; i < 4000; i++) {
        int32_t t = hearth_sampler_sample(s, logits);
        if (t == 7) counts[0]++; else if (t == 3) counts[1]++; else other++;
    }
    hearth_sampler_free(s);
    CHECK_EQ_INT(other, 0);
    /* p(7)/p(3) = e^1 under the softmax of the two survivors: 0.731 */
    double f7 = counts[0] / 4000.0;
    CHECK(fabs(f7 - 0.7311) < 0.03, "top-k frequencies: p(7) = %.3f, expected 0.731", f7);

    /* top-p: softmax over {4,3,2,1,-10...}: p(7) = 0.6439, p(3) = 0.2369; top_p 0.8 keeps exactly 7 and 3 */
    p = hearth_sampler_default_params();
    p.top_k = 0; p.top_p = 0.8f; p.min_p = 0; p.temperature = 1;
    s = hearth_sampler_new(model, &p);
    other = 0;
    for (int i = 0; i < 2000; i++) { int32_t t = hearth_sampler_sample(s, logits); other += t != 7 && t != 3; }
    hearth_sampler_free(s);
    CHECK_EQ_INT(other, 0);

    /* min-p 0.3: 3 has p = 0.368 of the top's, 11 has 0.135: only 7 and 3 */
    p = hearth_sampler_default_params();
    p.top_k = 0; p.top_p = 1; p.min_p = 0.3f; p.temperature = 1;
    s = hearth_sampler_new(model, &p);
    int saw3 = 0;
    other = 0;
    for (int i = 0; i < 2000; i++) { int32_t t = hearth_sampler_sample(s, logits); other += t != 7 && t != 3; saw3 += t == 3; }
    hearth_sampler_free(s);
    CHECK_EQ_INT(other, 0);
    CHECK(saw3 > 300, "min-p kept token 3 only %d times", saw3);

    /* temperature: with everything allowed, low temperature concentrates on the top token */
    p = hearth_sampler_default_params();
    p.top_k = 0; p.top_p = 1; p.min_p = 0; p.temperature = 0.1f;
    s = hearth_sampler_new(model, &p);
    int top = 0;
    for (int i = 0; i < 1000; i++) top += hearth_sampler_sample(s, logits) == 7;
    hearth_sampler_free(s);
    CHECK(top > 990, "temperature 0.1: top token %d/1000", top);

    /* same seed, same sequence; another seed, another sequence */
    p = hearth_sampler_default_params();
    p.top_k = 0; p.top_p = 1; p.min_p = 0; p.temperature = 2; p.seed = 42;
    int32_t a[64], b[64], c[64];
    hearth_sampler *s1 = hearth_sampler_new(model, &p), *s2 = hearth_sampler_new(model, &p);
    p.seed = 43;
    hearth_sampler *s3 = hearth_sampler_new(model, &p);
    for (int i = 0; i < 64; i++) { a[i] = hearth_sampler_sample(s1, logits); b[i] = hearth_sampler_sample(s2, logits); c[i] = hearth_sampler_sample(s3, logits); }
    CHECK(!memcmp(a, b, sizeof a), "same seed gave different tokens");
    CHECK(memcmp(a, c, sizeof a) != 0, "different seeds gave the same 64 tokens");
    hearth_sampler_reset(s1);
    for (int i = 0; i < 64; i++) b[i] = hearth_sampler_sample(s1, logits);
    CHECK(!memcmp(a, b, sizeof a), "reset does not restart the sequence");
    hearth_sampler_free(s1); hearth_sampler_free(s2); hearth_sampler_free(s3);

    /* repetition penalty 10 on the accepted token 7 (logit 4 -> 0.4): greedy now picks 3 */
    p = hearth_sampler_default_params();
    p.temperature = 0; p.repeat_penalty = 10;
    s = hearth_sampler_new(model, &p);
    hearth_sampler_accept(s, 7);
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), 3);
    hearth_sampler_free(s);
    /* presence 0.5 is not enough (4 - 0.5 > 3); frequency 0.6 after two 7s is (4 - 1.2 < 3) */
    p = hearth_sampler_default_params();
    p.temperature = 0; p.presence_penalty = 0.5f;
    s = hearth_sampler_new(model, &p);
    hearth_sampler_accept(s, 7);
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), 7);
    hearth_sampler_free(s);
    p.presence_penalty = 0; p.frequency_penalty = 0.6f;
    s = hearth_sampler_new(model, &p);
    hearth_sampler_accept(s, 7);
    hearth_sampler_accept(s, 7);
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), 3);
    hearth_sampler_free(s);
    /* the penalty window: after repeat_last_n other tokens, 7 is forgiven */
    p = hearth_sampler_default_params();
    p.temperature = 0; p.repeat_penalty = 10; p.repeat_last_n = 4;
    s = hearth_sampler_new(model, &p);
    hearth_sampler_accept(s, 7);
    for (int i = 0; i < 4; i++) hearth_sampler_accept(s, 100 + i);
    CHECK_EQ_INT(hearth_sampler_sample(s, logits), 7);
    hearth_sampler_free(s);

    free(logits);
    hearth_model_free(model);
    TEST_SUMMARY("sampler");
}
