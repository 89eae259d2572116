/* testutil.h — a minimal test harness. Each test binary uses CHECK* and ends with TEST_SUMMARY(), which
 * prints "<name>: N passed, M failed" and returns non-zero on failure. Fixture paths are relative to the
 * repository root (tests run from there); HEARTH_SHARED points at ../shared (data nobody in this project wrote). */
#ifndef HEARTH_TESTUTIL_H
#define HEARTH_TESTUTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_pass, tu_fail;

/* Prints CHECK's optional message (a separate function so an empty message is not a zero-length format). */
static inline void tu_print_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tu_print_msg(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                                   \
        if (cond) {                                                                                        \
            tu_pass++;                                                                                     \
        } else {                                                                                           \
            tu_fail++;                                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                               \
            tu_print_msg(" " __VA_ARGS__);                                                             \
            fputc('\n', stderr);                                                                           \
        }                                                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b) CHECK((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))

#define TEST_SUMMARY(name)                                                                                 \
    do {                                                                                                   \
        printf("%s: %d passed, %d failed\n", name, tu_pass, tu_fail);                                      \
        return tu_fail ? 1 : 0;                                                                            \
    } while (0)

/* Directory of shared reference data (../shared relative to the repository root unless overridden). */
static inline const char *tu_shared_dir(void) {
    const char *s = getenv("HEARTH_SHARED");
    return s && *s ? s : "../shared";
}

/* Read a whole file; returns malloc'ed buffer (NUL-terminated) and its size, or NULL. */
static inline char *tu_read_file(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) { free(buf); buf = NULL; }
    fclose(fp);
    if (buf) { buf[n] = 0; if (size) *size = (size_t)n; }
    return buf;
}

#endif
