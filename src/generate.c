/* generate.c — the decode loop shared by `hearth run`, `hearth chat` and the server.
 *
 * Prompt: the longest common prefix with the session's history stays in the KV cache; only the rest is
 * evaluated. Output: token pieces are accumulated as bytes and handed out only as complete UTF-8 (a
 * character may span tokens) and only once they cannot be the beginning of a stop string. */
#include <stdlib.h>
#include <string.h>

#include "hearth.h"
#include "util.h"

typedef struct {
    char *buf;          /* bytes generated but not yet emitted */
    size_t len, cap;
    const hearth_generate_params *p;
    bool stopped;       /* a stop string was found or the callback said stop */
    hearth_finish finish;
} text_out;

static int push(text_out *o, const char *s, size_t n) {
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->cap ? o->cap * 2 : 256);
        while (cap < o->len + n + 1) cap *= 2;
        char *b = realloc(o->buf, cap);
        if (!b) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = 0;
    return 0;
}

/* Length of the longest prefix of buf[0..len) that ends on a UTF-8 character boundary (invalid bytes are
 * passed through rather than held forever). */
static size_t utf8_complete(const char *buf, size_t len) {
    size_t i = len, back = 0;
    while (i > 0 && back < 4) {
        unsigned char c = (unsigned char)buf[i - 1];
        if ((c & 0xC0) != 0x80) { /* a lead or ASCII byte */
            size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
            return back + 1 >= need ? len : i - 1;
        }
        i--;
        back++;
    }
    return len;
}

static void emit(text_out *o, size_t n) {
    if (n == 0 || o->stopped) return;
    if (o->p->on_text && !o->p->on_text(o->p->user, o->buf, n)) {
        o->stopped = true;
        o->finish = HEARTH_FINISH_CALLBACK;
    }
    memmove(o->buf, o->buf + n, o->len - n);
    o->len -= n;
    o->buf[o->len] = 0;
}

/* Emit what is safe; `final`: no more text will come. */
static void flush(text_out *o, bool final) {
    const hearth_generate_params *p = o->p;
    /* a complete stop string ends generation; text before it is emitted */
    size_t cut = (size_t)-1;
    for (int i = 0; i < p->n_stop; i++) {
        if (!p->stop[i] || !*p->stop[i]) continue;
        char *at = strstr(o->buf, p->stop[i]);
        if (at && (size_t)(at - o->buf) < cut) cut = (size_t)(at - o->buf);
    }
    if (cut != (size_t)-1) {
        emit(o, cut);
        if (!o->stopped) { o->stopped = true; o->finish = HEARTH_FINISH_STOP; }
        o->len = 0;
        return;
    }
    size_t safe = final ? o->len : utf8_complete(o->buf, o->len);
    if (!final) /* hold back a tail that could begin a stop string */
        for (int i = 0; i < p->n_stop; i++) {
            const char *st = p->stop[i];
            if (!st || !*st) continue;
            size_t sl = strlen(st);
            for (size_t k = sl - 1 < o->len ? sl - 1 : o->len; k > 0; k--)
                if (!memcmp(o->buf + o->len - k, st, k)) {
                    if (o->len - k < safe) safe = o->len - k;
                    break;
                }
        }
    emit(o, safe);
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

    text_out out = {.p = p, .finish = HEARTH_FINISH_LENGTH};
    const hearth_model *model = hearth_session_model(s);
    const int n_vocab = hearth_model_n_vocab(model);
    double t_first = 0;
    char piece[256];
    for (;;) {
        if (p->max_tokens > 0 && st.n_generated >= p->max_tokens) { out.finish = HEARTH_FINISH_LENGTH; break; }
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
        if (hearth_token_is_eog(model, tok)) { out.finish = HEARTH_FINISH_EOG; break; }
        if (p->sampler) hearth_sampler_accept(p->sampler, tok);
        int n = hearth_token_to_piece(model, tok, false, piece, sizeof piece);
        if (n > 0 && (rc = push(&out, piece, (size_t)n)) < 0) break;
        flush(&out, false);
        if (out.stopped) break;
        if (p->max_tokens > 0 && st.n_generated >= p->max_tokens) { out.finish = HEARTH_FINISH_LENGTH; break; }
        int n_hist_now;
        hearth_session_history(s, &n_hist_now);
        if (n_hist_now >= hearth_session_n_ctx(s)) { out.finish = HEARTH_FINISH_LENGTH; break; }
        rc = hearth_session_eval(s, &tok, 1, NULL);
        if (rc == HEARTH_ERR_CANCELLED) { out.finish = HEARTH_FINISH_CANCELLED; rc = 0; break; }
        if (rc < 0) break;
    }
    if (rc == 0 && !out.stopped) flush(&out, true);
    free(out.buf);
    st.generate_s = st.n_generated ? now_seconds() - t_first : 0;
    st.first_token_s = st.n_generated ? t_first - t0 : 0;
    st.finish = out.finish;
    if (stats) *stats = st;
    return rc < 0 ? rc : 0;
}
