/* test_text_stream.c — hearth_text_stream: complete UTF-8 only, stop strings held back while they may still
 * appear and cut when they do (also across pieces and after NUL bytes), everything released at the end. */
#include <stdint.h>

#include "hearth.h"
#include "testutil.h"

/* Push each piece; concatenate what comes out (with '|' between non-empty outputs); return the last rc. */
static int run(const char *const *stop, int n_stop, const char *const *pieces, int n, bool final, char *got) {
    hearth_text_stream *ts = hearth_text_stream_new(stop, n_stop);
    CHECK(ts != NULL);
    got[0] = 0;
    int rc = 0;
    const char *out;
    size_t len;
    for (int i = 0; i <= n; i++) {
        if (i == n && !final) break;
        const char *p = i < n ? pieces[i] : NULL;
        rc = hearth_text_stream_push(ts, p, p ? strlen(p) : 0, i == n, &out, &len);
        if (len) {
            if (got[0]) strcat(got, "|");
            strncat(got, out, len);
        }
    }
    hearth_text_stream_free(ts);
    return rc;
}

int main(void) {
    char got[256];
    /* "é" = C3 A9 split over two pieces: nothing until it is complete */
    const char *p1[] = {"a\xC3", "\xA9", "b"};
    CHECK_EQ_INT(run(NULL, 0, p1, 3, true, got), 0);
    CHECK(!strcmp(got, "a|\xC3\xA9|b"), "%s", got);
    /* "€" = E2 82 AC split 1+1+1 */
    const char *p2[] = {"\xE2", "\x82", "\xAC!"};
    run(NULL, 0, p2, 3, false, got);
    CHECK(!strcmp(got, "\xE2\x82\xAC!"), "%s", got);
    /* an invalid lead byte followed by ASCII is passed through, not held forever */
    const char *p3[] = {"\xE2", "x"};
    run(NULL, 0, p3, 2, false, got);
    CHECK(!strcmp(got, "\xE2x"), "%s", got);
    /* a stop string across pieces: the prefix is held back, then cut */
    const char *stop[] = {"END", "", NULL};
    const char *p4[] = {"hello E", "N", "D tail"};
    CHECK_EQ_INT(run(stop, 3, p4, 3, true, got), 1);
    CHECK(!strcmp(got, "hello "), "%s", got);
    /* a held-back prefix that does not become the stop string is released */
    const char *p5[] = {"x E", "Nd"};
    CHECK_EQ_INT(run(stop, 1, p5, 2, true, got), 0);
    CHECK(!strcmp(got, "x |ENd"), "%s", got);
    /* held back until final */
    const char *p6[] = {"abc EN"};
    CHECK_EQ_INT(run(stop, 1, p6, 1, false, got), 0);
    CHECK(!strcmp(got, "abc "), "%s", got);
    CHECK_EQ_INT(run(stop, 1, p6, 1, true, got), 0);
    CHECK(!strcmp(got, "abc |EN"), "%s", got);
    /* the earliest of several stop strings wins */
    const char *stops2[] = {"zz", "b"};
    const char *p7[] = {"aabzz"};
    CHECK_EQ_INT(run(stops2, 2, p7, 1, true, got), 1);
    CHECK(!strcmp(got, "aa"), "%s", got);
    /* after a stop nothing more comes */
    hearth_text_stream *ts = hearth_text_stream_new(stops2, 2);
    const char *out;
    size_t len;
    CHECK_EQ_INT(hearth_text_stream_push(ts, "xb", 2, false, &out, &len), 1);
    CHECK(len == 1 && out[0] == 'x');
    CHECK_EQ_INT(hearth_text_stream_push(ts, "more", 4, true, &out, &len), 1);
    CHECK_EQ_INT(len, 0);
    hearth_text_stream_free(ts);
    /* a stop string after a NUL byte is still found */
    ts = hearth_text_stream_new(stops2, 2);
    CHECK_EQ_INT(hearth_text_stream_push(ts, "a\0b", 3, false, &out, &len), 1);
    CHECK(len == 2 && out[0] == 'a' && out[1] == 0);
    hearth_text_stream_free(ts);
    TEST_SUMMARY("text_stream");
}
