/* util.h — error reporting and small helpers shared by every engine module.
 * Errors: a failing function calls hearth_fail(code, fmt, ...) which records a one-line message in a
 * thread-local buffer (read back by hearth_last_error()) and returns `code` so it can be returned directly. */
#ifndef HEARTH_UTIL_H
#define HEARTH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "hearth.h"

int hearth_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hearth_clear_error(void);

/* Checked arithmetic for sizes read from files: return 0 and store the result, or return -1 on overflow. */
static inline int checked_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
static inline int checked_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

/* IEEE half and bfloat16 conversions (exact). fp16_to_f32 is inline for normal numbers (the common case:
 * rebias the exponent with one add) and calls fp16_to_f32_slow for zeros, subnormals, infinities and NaN. */
float fp16_to_f32_slow(uint16_t h);
static inline float fp16_to_f32(uint16_t h) {
    const uint32_t e = h & 0x7c00u;
    if (e == 0 || e == 0x7c00u) return fp16_to_f32_slow(h);
    /* exponent bias 15 -> 127: shift exponent and mantissa into place and add 112 to the exponent */
    union { uint32_t u; float f; } v = { .u = ((uint32_t)(h & 0x8000u) << 16) | ((((uint32_t)h & 0x7fffu) << 13) + 0x38000000u) };
    return v.f;
}
uint16_t f32_to_fp16(float f);
static inline float bf16_to_f32(uint16_t b) {
    union { uint32_t u; float f; } v = { .u = (uint32_t)b << 16 };
    return v.f;
}
uint16_t f32_to_bf16(float f);

/* Monotonic time in seconds. */
double now_seconds(void);

#endif
