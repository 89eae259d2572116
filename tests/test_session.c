/* test_session.c — session mechanics against a fresh computation of the same thing: prefix reuse and
 * truncation (also across the sliding-window ring buffer), multi-session steps (continuous batching),
 * generation stop conditions. Uses the reference fixtures' models (gemma4-full: sliding + shared KV + PLE). */
#include <stdint.h>

#include "hearth.h"
#include "testutil.h"

static const char *MODEL = "tests/fixtures/models/gemma4-full.f32.gguf";

static int argmax(const float *l, int n) {
    int b = 0;
    for (int i = 1; i < n; i++) if (l[i] > l[b]) b = i;
    return b;
}

static float max_diff(const float *a, const float *b, int n) {
    float d = 0;
    for (int i = 0; i < n; i++) if (fabsf(a[i] - b[i]) > d) d = fabsf(a[i] - b[i]);
    return d;
}

int main(void) {
    hearth_model *m = hearth_model_load(MODEL, NULL);
    CHECK(m != NULL, "%s", hearth_last_error());
    if (!m) TEST_SUMMARY("session");
    const int nv = hearth_model_n_vocab(m);
    hearth_session_params sp = {.n_ctx = 128, .n_threads = 2, .n_batch = 16};
    int32_t seq[60];
    for (int i = 0; i < 60; i++) seq[i] = 3 + (i * 37) % (nv - 3);

    /* reference: the whole sequence in one session */
    hearth_session *ref = hearth_session_new(m, &sp);
    float *ref_logits = malloc(sizeof(float) * 60 * (size_t)nv);
    CHECK_EQ_INT(hearth_session_eval(ref, seq, 60, ref_logits), 0);

    /* truncate back (within and beyond the 8-token window) and re-evaluate: same logits */
    hearth_session *s = hearth_session_new(m, &sp);
    CHECK_EQ_INT(hearth_session_eval(s, seq, 50, NULL), 0);
    int cut_points[] = {48, 45, 30, 5};
    for (size_t c = 0; c < sizeof cut_points / sizeof cut_points[0]; c++) {
        CHECK_EQ_INT(hearth_session_truncate(s, cut_points[c]), 0);
        int n_hist;
        hearth_session_history(s, &n_hist);
        CHECK(n_hist == cut_points[c] || n_hist == 0, "history %d after truncating to %d", n_hist, cut_points[c]);
        CHECK_EQ_INT(hearth_session_eval(s, seq + n_hist, 60 - n_hist, NULL), 0);
        float d = max_diff(hearth_session_logits(s), ref_logits + 59 * (size_t)nv, nv);
        CHECK(d < 1e-4f, "truncate to %d: logits differ by %g", cut_points[c], d);
        CHECK_EQ_INT(hearth_session_truncate(s, 50), 0);
        hearth_session_history(s, &n_hist);
        if (n_hist != 50) { hearth_session_truncate(s, 0); hearth_session_eval(s, seq, 50, NULL); }
    }

    /* generation reuses the common prefix */
    hearth_session_truncate(s, 0);
    hearth_generate_params gp = {.max_tokens = 4};
    hearth_generate_stats st;
    CHECK_EQ_INT(hearth_generate(s, seq, 40, &gp, &st), 0);
    CHECK_EQ_INT(st.n_prompt_reused, 0);
    CHECK_EQ_INT(st.n_generated, 4);
    CHECK(st.finish == HEARTH_FINISH_LENGTH);
    CHECK_EQ_INT(hearth_generate(s, seq, 50, &gp, &st), 0);
    CHECK_EQ_INT(st.n_prompt_reused, 40);

    /* several sessions stepped together give what each gives alone */
    enum { NS = 3 };
    hearth_session *ss[NS], *solo[NS];
    int32_t toks[NS];
    for (int i = 0; i < NS; i++) {
        ss[i] = hearth_session_new(m, &sp);
        solo[i] = hearth_session_new(m, &sp);
        CHECK_EQ_INT(hearth_session_eval(ss[i], seq + i * 7, 10 + i * 5, NULL), 0);
        CHECK_EQ_INT(hearth_session_eval(solo[i], seq + i * 7, 10 + i * 5, NULL), 0);
    }
    for (int step = 0; step < 12; step++) {
        for (int i = 0; i < NS; i++) toks[i] = argmax(hearth_session_logits(ss[i]), nv);
        CHECK_EQ_INT(hearth_sessions_step(ss, toks, NS), 0);
        for (int i = 0; i < NS; i++) {
            int32_t t = argmax(hearth_session_logits(solo[i]), nv);
            CHECK_EQ_INT(t, toks[i]);
            CHECK_EQ_INT(hearth_session_eval(solo[i], &t, 1, NULL), 0);
            float d = max_diff(hearth_session_logits(ss[i]), hearth_session_logits(solo[i]), nv);
            CHECK(d < 1e-5f, "session %d step %d: batched logits differ by %g", i, step, d);
        }
    }
    hearth_session *dup[2] = {ss[0], ss[0]};
    CHECK_EQ_INT(hearth_sessions_step(dup, toks, 2), HEARTH_ERR_ARG);
    for (int i = 0; i < NS; i++) { hearth_session_free(ss[i]); hearth_session_free(solo[i]); }

    /* cancellation is consumed by the evaluation it interrupts */
    hearth_session_cancel(s);
    CHECK_EQ_INT(hearth_session_eval(s, seq, 1, NULL), HEARTH_ERR_CANCELLED);
    CHECK_EQ_INT(hearth_session_truncate(s, 0), 0);
    CHECK_EQ_INT(hearth_session_eval(s, seq, 1, NULL), 0);

    free(ref_logits);
    hearth_session_free(ref);
    hearth_session_free(s);
    hearth_model_free(m);
    TEST_SUMMARY("session");
}
