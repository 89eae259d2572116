/* generate.c — the decode loop shared by `hearth run`, `hearth chat` and the server.
 *
 * Prompt: the longest common prefix with the session's history stays in the KV cache; only the rest is
 * evaluated. Output: token pieces go through a hearth_text_stream (text_stream.c), which hands them out only
 * as complete UTF-8 (a character may span tokens) and only once they cannot be the beginning of a stop
 * string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hearth.h"
#include "unicode.h"
#include "util.h"

/* Hand bytes to the callback as valid UTF-8: a model can emit byte tokens that form no character (the text
 * stream passes such bytes through rather than holding them forever), and those become U+FFFD rather than
 * reaching a terminal or a JSON response as invalid text. */
static bool on_text_valid(const hearth_generate_params *p, const char *s, size_t n) {
    size_t start = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int l = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (cp != UNICODE_INVALID) { i += (size_t)l; continue; }
        if (i > start && !p->on_text(p->user, s + start, i - start)) return false;
        if (!p->on_text(p->user, "\xEF\xBF\xBD", 3)) return false;
        start = ++i;
    }
    return i == start || p->on_text(p->user, s + start, i - start);
}

/* Hands text the stream released to on_text; false once generation must stop (stop string or callback). */
static bool deliver(const hearth_generate_params *p, int rc, const char *text, size_t n, hearth_finish *finish) {
    if (n > 0 && p->on_text && !on_text_valid(p, text, n)) {
        *finish = HEARTH_FINISH_CALLBACK;
        return false;
    }
    if (rc == 1) {
        *finish = HEARTH_FINISH_STOP;
        return false;
    }
    return true;
}

int hearth_generate(hearth_session *s, const int32_t *prompt, int n_prompt, const hearth_generate_params *params,
                    hearth_generate_stats *stats) {
    hearth_generate_params defaults = {0};
    const hearth_generate_params *p = params ? params : &defaults;
    hearth_generate_stats st = {.n_prompt = n_prompt};
    hearth_clear_error();
    if (n_prompt <= 0) return hearth_fail(HEARTH_ERR_ARG, "empty prompt");
    double t0 = now_seconds();

    /* reuse the common prefix; always evaluate at least the last prompt token to get its logits */
    int n_hist;
    const int32_t *hist = hearth_session_history(s, &n_hist);
    int common = 0;
    while (common < n_hist && common < n_prompt - 1 && hist[common] == prompt[common]) common++;
    int rc = hearth_session_truncate(s, common);
    if (rc < 0) return rc;
    hearth_session_history(s, &common); /* truncation may have restarted the sequence */
    st.n_prompt_reused = common;
    if (n_prompt - common > hearth_session_n_ctx(s) - common)
        return hearth_fail(HEARTH_ERR_CONTEXT, "the prompt has %d tokens; the context holds %d (use a larger --ctx)",
                           n_prompt, hearth_session_n_ctx(s));
    rc = hearth_session_eval(s, prompt + common, n_prompt - common, NULL);
    if (rc == HEARTH_ERR_CANCELLED) {
        st.finish = HEARTH_FINISH_CANCELLED;
        if (stats) *stats = st;
        return 0;
    }
    if (rc < 0) return rc;
    st.prompt_s = now_seconds() - t0;
    if (p->sampler) {
        hearth_sampler_accept_prompt(p->sampler, prompt, n_prompt);
        hearth_sampler_reset_grammar(p->sampler); /* the grammar is about this output */
    }

    hearth_text_stream *ts = hearth_text_stream_new(p->stop, p->n_stop);
    if (!ts) return HEARTH_ERR_NOMEM;
    hearth_finish finish = HEARTH_FINISH_LENGTH;
    bool stopped = false; /* a stop string appeared or on_text said stop */
    const char *text;
    size_t text_len;
    const hearth_model *model = hearth_session_model(s);
    const int n_vocab = hearth_model_n_vocab(model);
    double t_first = 0;
    char piece[256];
    for (;;) {
        if (p->max_tokens > 0 && st.n_generated >= p->max_tokens) { finish = HEARTH_FINISH_LENGTH; break; }
        const float *logits = hearth_session_logits(s);
        int32_t tok;
        if (p->sampler) tok = hearth_sampler_sample(p->sampler, logits);
        else {
            tok = 0;
            for (int i = 1; i < n_vocab; i++) if (logits[i] > logits[tok]) tok = i;
        }
        if (st.n_generated == 0) t_first = now_seconds();
        st.n_generated++;
        if (p->on_token) p->on_token(p->user, tok);
        if (hearth_token_is_eog(model, tok)) { finish = HEARTH_FINISH_EOG; break; }
        if (p->sampler) hearth_sampler_accept(p->sampler, tok);
        int n = hearth_token_to_piece(model, tok, false, piece, sizeof piece);
        char *big = NULL; /* a piece longer than the buffer: fetch it whole */
        if (n > (int)sizeof piece && (big = malloc((size_t)n)) != NULL)
            n = hearth_token_to_piece(model, tok, false, big, n);
        else if (n > (int)sizeof piece)
            n = 0;
        int pushed = hearth_text_stream_push(ts, big ? big : piece, n > 0 ? (size_t)n : 0, false, &text, &text_len);
        free(big);
        if (pushed < 0) { rc = pushed; break; }
        if (!deliver(p, pushed, text, text_len, &finish)) { stopped = true; break; }
        if (p->max_tokens > 0 && st.n_generated >= p->max_tokens) { finish = HEARTH_FINISH_LENGTH; break; }
        int n_hist_now;
        hearth_session_history(s, &n_hist_now);
        if (n_hist_now >= hearth_session_n_ctx(s)) { finish = HEARTH_FINISH_LENGTH; break; }
        rc = hearth_session_eval(s, &tok, 1, NULL);
        if (rc == HEARTH_ERR_CANCELLED) { finish = HEARTH_FINISH_CANCELLED; rc = 0; break; }
        if (rc < 0) break;
    }
    if (rc == 0 && !stopped) {
        int pushed = hearth_text_stream_push(ts, NULL, 0, true, &text, &text_len);
        if (pushed < 0) rc = pushed;
        else deliver(p, pushed, text, text_len, &finish);
    }
    hearth_text_stream_free(ts);
    st.generate_s = st.n_generated ? now_seconds() - t_first : 0;
    st.first_token_s = st.n_generated ? t_first - t0 : 0;
    st.finish = finish;
    if (stats) *stats = st;
    return rc < 0 ? rc : 0;
}
