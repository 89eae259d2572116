/* text_stream.c — generated token pieces → text that is safe to show as it comes (hearth_text_stream in
 * hearth.h). Used by hearth_generate and by front ends that drive sessions step by step (the server).
 *
 * Bytes are held back while they end in an incomplete UTF-8 character (a character may span tokens; invalid
 * bytes are passed through rather than held forever) or while they could be the beginning of a stop string.
 * A complete stop string ends the stream: the text before it is released, the rest is dropped. Stop strings
 * are matched as bytes (memmem), so a piece containing a NUL byte cannot hide one. */
#include <stdlib.h>
#include <string.h>

#include "hearth.h"
#include "unicode.h"
#include "util.h"

struct hearth_text_stream {
    char *buf;        /* bytes not yet released, preceded by `emitted` bytes handed out by the last call */
    size_t len, cap, emitted;
    char **stop;      /* copies of the non-empty stop strings */
    int n_stop;
    bool stopped;
};

hearth_text_stream *hearth_text_stream_new(const char *const *stop, int n_stop) {
    hearth_clear_error();
    hearth_text_stream *ts = calloc(1, sizeof *ts);
    if (!ts || (n_stop > 0 && !(ts->stop = calloc((size_t)n_stop, sizeof(char *))))) goto nomem;
    for (int i = 0; i < n_stop; i++) {
        if (!stop || !stop[i] || !*stop[i]) continue;
        if (!(ts->stop[ts->n_stop] = strdup(stop[i]))) goto nomem;
        ts->n_stop++;
    }
    return ts;
nomem:
    hearth_text_stream_free(ts);
    hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    return NULL;
}

void hearth_text_stream_free(hearth_text_stream *ts) {
    if (!ts) return;
    for (int i = 0; i < ts->n_stop; i++) free(ts->stop[i]);
    free(ts->stop);
    free(ts->buf);
    free(ts);
}

/* Length of the longest prefix of buf[0..len) that ends on a UTF-8 character boundary. */
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

int hearth_text_stream_push(hearth_text_stream *ts, const char *bytes, size_t n, bool final, const char **out,
                            size_t *out_len) {
    /* forget what the previous call handed out */
    if (ts->emitted) {
        memmove(ts->buf, ts->buf + ts->emitted, ts->len - ts->emitted);
        ts->len -= ts->emitted;
        ts->emitted = 0;
    }
    *out = ts->buf;
    *out_len = 0;
    if (ts->stopped) return 1;
    if (ts->len + n + 1 > ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 256;
        while (cap < ts->len + n + 1) cap *= 2;
        char *b = realloc(ts->buf, cap);
        if (!b) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        ts->buf = b;
        ts->cap = cap;
        *out = b;
    }
    if (n) memcpy(ts->buf + ts->len, bytes, n);
    ts->len += n;

    /* a complete stop string ends the stream; the text before the earliest one is released */
    size_t cut = (size_t)-1;
    for (int i = 0; i < ts->n_stop; i++) {
        const char *at = memmem(ts->buf, ts->len, ts->stop[i], strlen(ts->stop[i]));
        if (at && (size_t)(at - ts->buf) < cut) cut = (size_t)(at - ts->buf);
    }
    if (cut != (size_t)-1) {
        ts->stopped = true;
        ts->len = ts->emitted = *out_len = cut;
        return 1;
    }
    size_t safe = final ? ts->len : utf8_complete(ts->buf, ts->len);
    if (!final) /* hold back the longest tail that could begin a stop string */
        for (int i = 0; i < ts->n_stop; i++) {
            size_t sl = strlen(ts->stop[i]);
            for (size_t k = sl - 1 < ts->len ? sl - 1 : ts->len; k > 0; k--)
                if (!memcmp(ts->buf + ts->len - k, ts->stop[i], k)) {
                    if (ts->len - k < safe) safe = ts->len - k;
                    break;
                }
        }
    ts->emitted = *out_len = safe;
    return 0;
}

char *hearth_utf8_sanitize(const char *s, size_t n, size_t *out_len) {
    char *out = malloc(n * 3 + 1); /* each invalid byte may become the 3 bytes of U+FFFD */
    if (!out) return NULL;
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (cp == UNICODE_INVALID) { memcpy(out + len, "\xEF\xBF\xBD", 3); len += 3; }
        else { memcpy(out + len, s + i, (size_t)l); len += (size_t)l; }
        i += (size_t)l;
    }
    out[len] = 0;
    if (out_len) *out_len = len;
    return out;
}
