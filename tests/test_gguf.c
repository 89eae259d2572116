/* test_gguf.c — the GGUF reader against (1) files written by a tiny writer below, checked field by field,
 * (2) the shared vocab files, checked against tests/fixtures/gguf/expected.txt (recorded by an independent
 * reader, see make_expected.py), (3) hostile input: every truncation, seeded random mutations and
 * hand-made malicious headers, all of which must fail cleanly with a "gguf: ..." message.
 *
 * `test_gguf --write-seeds DIR` writes the generated files to DIR (a seed corpus for tests/fuzz/fuzz_gguf.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "testutil.h"
#include "types.h"
#include "util.h"

/* testutil's CHECK(cond) without a message expands to fprintf(stderr, ""), which gcc flags. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

/* ------------------------------------------------------------------------------------ a tiny writer */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void put(wbuf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_le(wbuf *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) {
        uint8_t byte = (uint8_t)(v >> (8 * i));
        put(b, &byte, 1);
    }
}
static void put_u8(wbuf *b, uint8_t v) { put_le(b, v, 1); }
static void put_u16(wbuf *b, uint16_t v) { put_le(b, v, 2); }
static void put_u32(wbuf *b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(wbuf *b, uint64_t v) { put_le(b, v, 8); }
static void put_f32(wbuf *b, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(b, u);
}
static void put_f64(wbuf *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}
static void put_strn(wbuf *b, const char *s, size_t n) {
    put_u64(b, n);
    put(b, s, n);
}
static void put_str(wbuf *b, const char *s) { put_strn(b, s, strlen(s)); }
static void put_key(wbuf *b, const char *key, uint32_t type) {
    put_str(b, key);
    put_u32(b, type);
}
static void put_header(wbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}
static void pad_to(wbuf *b, size_t align) {
    while (b->n % align) put_u8(b, 0);
}
/* ------------------------------------------------------------------------------ the sample file */

typedef struct {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t offset, nbytes; /* filled in by build_sample */
} sample_tensor;

static sample_tensor sample_tensors[] = {
    {"tok_embd.weight", T_F32, 2, {8, 3, 1, 1}, 0, 0},
    {"blk.0.attn_q.weight", T_Q4_0, 2, {64, 2, 1, 1}, 0, 0},
    {"blk.0.ffn_up.weight", T_Q8_0, 3, {32, 2, 2, 1}, 0, 0},
    {"output_norm.weight", T_F16, 1, {5, 1, 1, 1}, 0, 0},
    {"blk.0.attn_k.weight", T_Q4_K, 4, {256, 1, 1, 2}, 0, 0},
};
#define N_SAMPLE_TENSORS (sizeof sample_tensors / sizeof sample_tensors[0])

static uint8_t sample_byte(size_t tensor, uint64_t j) { return (uint8_t)(tensor * 41 + j * 7 + 1); }

#define N_SAMPLE_KV 25 /* without general.alignment */

/* A file with a value of every type, arrays, and (optionally) the sample tensors. alignment 0 leaves out
 * general.alignment (default 32). Tensors are stored in reverse table order, the first one ending at EOF.
 * Returns the data section's offset. */
static size_t build_sample(wbuf *b, uint32_t version, uint32_t alignment, bool with_tensors) {
    b->n = 0;
    uint64_t n_kv = N_SAMPLE_KV + (alignment ? 1 : 0);
    put_header(b, version, with_tensors ? N_SAMPLE_TENSORS : 0, n_kv);
    put_key(b, "general.architecture", GGUF_STRING), put_str(b, "test");
    put_key(b, "t.u8", GGUF_U8), put_u8(b, 200);
    put_key(b, "t.i8", GGUF_I8), put_u8(b, (uint8_t)-100);
    put_key(b, "t.u16", GGUF_U16), put_u16(b, 60000);
    put_key(b, "t.i16", GGUF_I16), put_u16(b, (uint16_t)-30000);
    put_key(b, "t.u32", GGUF_U32), put_u32(b, 4000000000u);
    put_key(b, "t.i32", GGUF_I32), put_u32(b, (uint32_t)-2000000000);
    put_key(b, "t.f32", GGUF_F32), put_f32(b, 1.5f);
    put_key(b, "t.bool", GGUF_BOOL), put_u8(b, 1);
    put_key(b, "t.str", GGUF_STRING), put_str(b, "h\xc3\xa9llo w\xc3\xb6rld");
    put_key(b, "t.u64", GGUF_U64), put_u64(b, 0x8000000000000005ull);
    put_key(b, "t.i64", GGUF_I64), put_u64(b, (uint64_t)-(INT64_C(1) << 62));
    put_key(b, "t.f64", GGUF_F64), put_f64(b, -2.25);
    put_key(b, "t.f64_big", GGUF_F64), put_f64(b, 1e300);
    put_key(b, "t.bytes", GGUF_STRING), put_strn(b, "\xff\xfe\0z", 4); /* not UTF-8, embedded NUL */
    put_key(b, "t.empty", GGUF_STRING), put_str(b, "");
    put_key(b, "t.arr_i32", GGUF_ARRAY), put_u32(b, GGUF_I32), put_u64(b, 3);
    put_u32(b, 1), put_u32(b, (uint32_t)-2), put_u32(b, 3);
    put_key(b, "t.arr_f32", GGUF_ARRAY), put_u32(b, GGUF_F32), put_u64(b, 2), put_f32(b, 0.5f), put_f32(b, -1.25f);
    put_key(b, "t.arr_bool", GGUF_ARRAY), put_u32(b, GGUF_BOOL), put_u64(b, 3);
    put_u8(b, 1), put_u8(b, 0), put_u8(b, 1);
    put_key(b, "t.arr_u64", GGUF_ARRAY), put_u32(b, GGUF_U64), put_u64(b, 2), put_u64(b, UINT64_MAX), put_u64(b, 7);
    put_key(b, "t.arr_i8", GGUF_ARRAY), put_u32(b, GGUF_I8), put_u64(b, 2), put_u8(b, 0x80), put_u8(b, 127);
    put_key(b, "t.arr_f64", GGUF_ARRAY), put_u32(b, GGUF_F64), put_u64(b, 1), put_f64(b, 3.5);
    put_key(b, "t.arr_str", GGUF_ARRAY), put_u32(b, GGUF_STRING), put_u64(b, 4);
    put_str(b, "a"), put_str(b, ""), put_str(b, "xyz"), put_str(b, "\xc3\xa9");
    put_key(b, "t.arr_empty", GGUF_ARRAY), put_u32(b, GGUF_U16), put_u64(b, 0);
    put_key(b, "t.arr_empty_str", GGUF_ARRAY), put_u32(b, GGUF_STRING), put_u64(b, 0);
    if (alignment) put_key(b, "general.alignment", GGUF_U32), put_u32(b, alignment);
    uint64_t align = alignment ? alignment : 32;

    if (with_tensors) {
        uint64_t off = 0;
        for (size_t k = N_SAMPLE_TENSORS; k-- > 0;) {
            sample_tensor *t = &sample_tensors[k];
            const type_traits *tt = type_get(t->type);
            off = (off + align - 1) / align * align;
            t->offset = off;
            t->nbytes = type_row_bytes(tt, (uint64_t)t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
            off += t->nbytes;
        }
        for (size_t k = 0; k < N_SAMPLE_TENSORS; k++) {
            const sample_tensor *t = &sample_tensors[k];
            put_str(b, t->name);
            put_u32(b, t->n_dims);
            for (uint32_t d = 0; d < t->n_dims; d++) put_u64(b, (uint64_t)t->ne[d]);
            put_u32(b, t->type);
            put_u64(b, t->offset);
        }
    }
    if (with_tensors) pad_to(b, align);
    size_t data_start = b->n;
    if (with_tensors) {
        for (size_t k = N_SAMPLE_TENSORS; k-- > 0;) {
            const sample_tensor *t = &sample_tensors[k];
            while (b->n < data_start + t->offset) put_u8(b, 0xAA);
            for (uint64_t j = 0; j < t->nbytes; j++) put_u8(b, sample_byte(k, j));
        }
    }
    return data_start;
}

/* ------------------------------------------------------------------------------ round trip */

static bool str_is(gguf_str s, const char *bytes, size_t n) { return s.n == n && memcmp(s.s, bytes, n) == 0; }

static void check_getters(const gguf_file *f) {
    uint32_t u32 = 0;
    int64_t i64 = 0;
    float f32 = 0;
    bool b = false;
    gguf_str s = {0};

    CHECK(gguf_get_str(f, "general.architecture", &s) == 1 && gguf_str_eq(s, "test"));
    CHECK(gguf_get_u32(f, "t.u8", &u32) == 1 && u32 == 200);
    CHECK(gguf_get_u32(f, "t.u16", &u32) == 1 && u32 == 60000);
    CHECK(gguf_get_u32(f, "t.u32", &u32) == 1 && u32 == 4000000000u);
    CHECK(gguf_get_u32(f, "t.bool", &u32) == 1 && u32 == 1);
    CHECK(gguf_get_i64(f, "t.i8", &i64) == 1 && i64 == -100);
    CHECK(gguf_get_i64(f, "t.i16", &i64) == 1 && i64 == -30000);
    CHECK(gguf_get_i64(f, "t.i32", &i64) == 1 && i64 == -2000000000);
    CHECK(gguf_get_i64(f, "t.i64", &i64) == 1 && i64 == -(INT64_C(1) << 62));
    CHECK(gguf_get_i64(f, "t.u32", &i64) == 1 && i64 == 4000000000);
    CHECK(gguf_get_f32(f, "t.f32", &f32) == 1 && f32 == 1.5f);
    CHECK(gguf_get_f32(f, "t.f64", &f32) == 1 && f32 == -2.25f);
    CHECK(gguf_get_f32(f, "t.i16", &f32) == 1 && f32 == -30000.0f);
    CHECK(gguf_get_bool(f, "t.bool", &b) == 1 && b);
    CHECK(gguf_get_str(f, "t.str", &s) == 1 && gguf_str_eq(s, "h\xc3\xa9llo w\xc3\xb6rld"));
    CHECK(gguf_get_str(f, "t.bytes", &s) == 1 && str_is(s, "\xff\xfe\0z", 4));
    CHECK(gguf_get_str(f, "t.empty", &s) == 1 && s.n == 0 && gguf_str_eq(s, ""));

    /* present with an incompatible type or value: negative, with a message */
    CHECK(gguf_get_u32(f, "t.i8", &u32) == HEARTH_ERR_FORMAT && strstr(hearth_last_error(), "out of range"));
    CHECK(gguf_get_u32(f, "t.u64", &u32) == HEARTH_ERR_FORMAT && strstr(hearth_last_error(), "'t.u64'"));
    CHECK(gguf_get_i64(f, "t.u64", &i64) == HEARTH_ERR_FORMAT);
    CHECK(gguf_get_u32(f, "t.str", &u32) == HEARTH_ERR_FORMAT && strstr(hearth_last_error(), "type string"));
    CHECK(gguf_get_u32(f, "t.arr_i32", &u32) == HEARTH_ERR_FORMAT &&
          strstr(hearth_last_error(), "type array of i32"), "%s", hearth_last_error());
    CHECK(gguf_get_f32(f, "t.f64_big", &f32) == HEARTH_ERR_FORMAT);
    CHECK(gguf_get_f32(f, "t.str", &f32) == HEARTH_ERR_FORMAT);
    CHECK(gguf_get_bool(f, "t.u8", &b) == HEARTH_ERR_FORMAT);
    CHECK(gguf_get_str(f, "t.u8", &s) == HEARTH_ERR_FORMAT);
    CHECK(gguf_get_str(f, "t.arr_str", &s) == HEARTH_ERR_FORMAT);
    /* absent: 0, and the output untouched */
    u32 = 77;
    CHECK(gguf_get_u32(f, "nope", &u32) == 0 && u32 == 77);
    CHECK(gguf_get_i64(f, "nope", &i64) == 0 && gguf_get_f32(f, "nope", &f32) == 0);
    CHECK(gguf_get_bool(f, "nope", &b) == 0 && gguf_get_str(f, "nope", &s) == 0);
    CHECK(gguf_get_u32(f, "t.u8x", &u32) == 0 && gguf_get_u32(f, "t.u", &u32) == 0);
}

static void check_arrays(const gguf_file *f) {
    int64_t v = 0;
    double d = 0;
    const gguf_kv *kv = gguf_find_kv(f, "t.arr_i32");
    CHECK(kv && kv->type == GGUF_ARRAY && kv->arr_type == GGUF_I32 && kv->arr_n == 3);
    CHECK(gguf_arr_i64(kv, 0, &v) && v == 1);
    CHECK(gguf_arr_i64(kv, 1, &v) && v == -2);
    CHECK(gguf_arr_i64(kv, 2, &v) && v == 3);
    CHECK(!gguf_arr_i64(kv, 3, &v) && !gguf_arr_f64(kv, 3, &d));
    CHECK(gguf_arr_f64(kv, 1, &d) && d == -2.0);

    kv = gguf_find_kv(f, "t.arr_f32");
    CHECK(kv && kv->arr_type == GGUF_F32 && kv->arr_n == 2);
    CHECK(gguf_arr_f64(kv, 0, &d) && d == 0.5);
    CHECK(gguf_arr_f64(kv, 1, &d) && d == -1.25);
    CHECK(!gguf_arr_i64(kv, 0, &v));

    kv = gguf_find_kv(f, "t.arr_bool");
    CHECK(kv && kv->arr_type == GGUF_BOOL && kv->arr_n == 3);
    CHECK(gguf_arr_i64(kv, 0, &v) && v == 1 && gguf_arr_i64(kv, 1, &v) && v == 0);

    kv = gguf_find_kv(f, "t.arr_u64");
    CHECK(kv && kv->arr_n == 2);
    CHECK(!gguf_arr_i64(kv, 0, &v)); /* UINT64_MAX does not fit */
    CHECK(gguf_arr_f64(kv, 0, &d) && d == 18446744073709551615.0);
    CHECK(gguf_arr_i64(kv, 1, &v) && v == 7);

    /* whole arrays at once: the tight f32 / i32 loops and the converting ones */
    float fs[3] = {0};
    int32_t is[3] = {0};
    kv = gguf_find_kv(f, "t.arr_f32");
    CHECK(gguf_arr_to_f32(kv, 2, fs) && fs[0] == 0.5f && fs[1] == -1.25f);
    CHECK(!gguf_arr_to_f32(kv, 3, fs) && !gguf_arr_to_i32(kv, 1, is));
    kv = gguf_find_kv(f, "t.arr_i32");
    CHECK(gguf_arr_to_i32(kv, 3, is) && is[0] == 1 && is[1] == -2 && is[2] == 3);
    CHECK(gguf_arr_to_f32(kv, 3, fs) && fs[1] == -2.0f);
    CHECK(!gguf_arr_to_i32(kv, 4, is));
    kv = gguf_find_kv(f, "t.arr_u64");
    CHECK(gguf_arr_to_i32(kv, 2, is) && is[0] == INT32_MAX && is[1] == 7); /* clamped */
    CHECK(!gguf_arr_to_i32(gguf_find_kv(f, "t.arr_str"), 1, is) && !gguf_arr_to_f32(gguf_find_kv(f, "t.u8"), 1, fs));
    CHECK(gguf_arr_to_f32(gguf_find_kv(f, "t.arr_f32"), 0, fs) && !gguf_arr_to_i32(NULL, 0, is));
    CHECK(!gguf_arr_to_f32(gguf_find_kv(f, "t.u8"), 0, fs)); /* a scalar is no array, even for none */
    kv = gguf_find_kv(f, "t.arr_bool");
    CHECK(gguf_arr_to_i32(kv, 3, is) && is[0] == 1 && is[1] == 0);
    kv = gguf_find_kv(f, "t.arr_i8");
    CHECK(gguf_arr_to_i32(kv, 2, is) && is[0] == -128 && is[1] == 127);

    kv = gguf_find_kv(f, "t.arr_i8");
    CHECK(kv && gguf_arr_i64(kv, 0, &v) && v == -128 && gguf_arr_i64(kv, 1, &v) && v == 127);
    kv = gguf_find_kv(f, "t.arr_f64");
    CHECK(kv && gguf_arr_f64(kv, 0, &d) && d == 3.5);

    kv = gguf_find_kv(f, "t.arr_str");
    CHECK(kv && kv->arr_type == GGUF_STRING && kv->arr_n == 4 && kv->strs);
    if (kv && kv->strs && kv->arr_n == 4) {
        CHECK(gguf_str_eq(kv->strs[0], "a") && gguf_str_eq(kv->strs[1], "") && gguf_str_eq(kv->strs[2], "xyz"));
        CHECK(gguf_str_eq(kv->strs[3], "\xc3\xa9"));
    }
    CHECK(!gguf_arr_i64(kv, 0, &v) && !gguf_arr_f64(kv, 0, &d));

    kv = gguf_find_kv(f, "t.arr_empty");
    CHECK(kv && kv->arr_type == GGUF_U16 && kv->arr_n == 0 && !gguf_arr_i64(kv, 0, &v));
    kv = gguf_find_kv(f, "t.arr_empty_str");
    CHECK(kv && kv->arr_type == GGUF_STRING && kv->arr_n == 0);

    CHECK(!gguf_arr_i64(gguf_find_kv(f, "t.u8"), 0, &v)); /* a scalar is not an array */
    CHECK(!gguf_arr_i64(NULL, 0, &v) && !gguf_arr_f64(NULL, 0, &d));
}

static void check_tensors(const gguf_file *f, size_t data_start) {
    CHECK_EQ_INT(f->n_tensors, N_SAMPLE_TENSORS);
    CHECK(f->data == f->base + data_start);
    for (size_t k = 0; k < N_SAMPLE_TENSORS && k < f->n_tensors; k++) {
        const sample_tensor *want = &sample_tensors[k];
        const gguf_tensor *t = &f->tensors[k];
        CHECK(gguf_str_eq(t->name, want->name), "tensor %zu", k);
        CHECK(gguf_find_tensor(f, want->name) == t);
        CHECK_EQ_INT(t->n_dims, want->n_dims);
        for (int d = 0; d < 4; d++) CHECK_EQ_INT(t->ne[d], want->ne[d]);
        CHECK_EQ_INT(t->type, want->type);
        CHECK_EQ_INT(t->offset, want->offset);
        CHECK_EQ_INT(t->nbytes, want->nbytes);
        CHECK((const uint8_t *)t->data == f->data + t->offset);
        CHECK(((const uint8_t *)t->data - f->base) % f->alignment == 0);
        bool same = true;
        for (uint64_t j = 0; j < t->nbytes; j++) same &= ((const uint8_t *)t->data)[j] == sample_byte(k, j);
        CHECK(same, "tensor %s data", want->name);
    }
    CHECK(gguf_find_tensor(f, "missing.weight") == NULL && gguf_find_tensor(f, "tok_embd") == NULL);
}

static void test_round_trip(uint32_t version, uint32_t alignment) {
    wbuf b = {0};
    size_t data_start = build_sample(&b, version, alignment, true);
    gguf_file f;
    int rc = gguf_open_memory(&f, b.p, b.n);
    CHECK(rc == 0, "v%u align %u: %s", version, alignment, hearth_last_error());
    if (rc == 0) {
        CHECK_EQ_INT(f.version, version);
        CHECK_EQ_INT(f.n_kv, N_SAMPLE_KV + (alignment ? 1 : 0));
        CHECK_EQ_INT(f.alignment, alignment ? alignment : 32);
        CHECK(f.base == b.p && f.size == b.n && f.fd == -1 && !f.owns_map);
        CHECK(gguf_str_eq(f.kv[0].key, "general.architecture") && gguf_str_eq(f.kv[1].key, "t.u8"));
        CHECK(f.kv[1].type == GGUF_U8 && f.kv[1].data[0] == 200);
        check_getters(&f);
        check_arrays(&f);
        check_tensors(&f, data_start);
    }
    gguf_close(&f);
    CHECK(f.kv == NULL && f.tensors == NULL && f.n_kv == 0 && f.fd == -1);
    free(b.p);
}

/* A file with no tensors may end right after its metadata, before the aligned data offset. */
static void test_no_tensors(void) {
    wbuf b = {0};
    build_sample(&b, 3, 0, false);
    CHECK(b.n % 32 != 0, "the sample should end unaligned");
    gguf_file f;
    int rc = gguf_open_memory(&f, b.p, b.n);
    CHECK(rc == 0, "%s", hearth_last_error());
    CHECK(f.n_tensors == 0 && f.tensors == NULL && f.data == f.base + f.size);
    check_getters(&f);
    gguf_close(&f);
    free(b.p);
}

static void test_open_file(void) {
    wbuf b = {0};
    size_t data_start = build_sample(&b, 3, 64, true);
    char path[] = "/tmp/hearth_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, b.p, b.n) == (ssize_t)b.n);
    close(fd);

    gguf_file f;
    int rc = gguf_open(&f, path);
    CHECK(rc == 0, "%s", hearth_last_error());
    if (rc == 0) {
        CHECK(f.owns_map && f.fd >= 0 && f.size == b.n);
        check_getters(&f);
        check_tensors(&f, data_start);
    }
    gguf_close(&f);
    gguf_close(&f); /* twice is harmless */

    /* an empty file, a corrupt file, a missing file, a directory */
    CHECK(truncate(path, 0) == 0);
    CHECK(gguf_open(&f, path) == HEARTH_ERR_FORMAT && strstr(hearth_last_error(), "not a GGUF file"));
    fd = open(path, O_WRONLY);
    CHECK(write(fd, "GGUF\3\0\0\0", 8) == 8);
    close(fd);
    CHECK(gguf_open(&f, path) == HEARTH_ERR_FORMAT && strstr(hearth_last_error(), "truncated"));
    CHECK(f.fd == -1 && !f.owns_map && f.base == NULL);
    unlink(path);
    CHECK(gguf_open(&f, path) == HEARTH_ERR_IO && strstr(hearth_last_error(), strerror(ENOENT)),
          "%s", hearth_last_error());
    CHECK(gguf_open(&f, "/tmp") == HEARTH_ERR_IO && strstr(hearth_last_error(), "not a regular file"));
    CHECK(mkfifo(path, 0600) == 0); /* opening a FIFO with no writer must not block */
    CHECK(gguf_open(&f, path) == HEARTH_ERR_IO && strstr(hearth_last_error(), "not a regular file"));
    unlink(path);

    gguf_file zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    int fd0_flags = fcntl(0, F_GETFD);
    gguf_close(&zeroed); /* must not close fd 0 */
    CHECK(fcntl(0, F_GETFD) == fd0_flags);
    gguf_close(NULL);
    free(b.p);
}

/* --------------------------------------------------------------------------- the shared vocab files */

static uint64_t fnv1a64(uint64_t h, const char *s, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

/* Compare a value with the summary make_expected.py recorded for it (see its docstring). */
static bool matches_summary(const gguf_file *f, const gguf_kv *kv, const char *kind, const char *a, const char *b) {
    bool is_array = kv->type == GGUF_ARRAY;
    enum gguf_vtype t = is_array ? kv->arr_type : kv->type;
    uint64_t n = is_array ? kv->arr_n : 1;
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.n < 255 ? kv->key.n : 255), kv->key.s);

    if (strcmp(kind, "str") == 0) {
        if (t != GGUF_STRING || (n && !kv->strs)) return false;
        uint64_t total = 0, h = 0xcbf29ce484222325ull;
        for (uint64_t i = 0; i < n; i++) total += kv->strs[i].n, h = fnv1a64(h, kv->strs[i].s, kv->strs[i].n);
        return total == strtoull(a, NULL, 10) && h == strtoull(b, NULL, 16);
    }
    if (strcmp(kind, "f64") == 0) {
        double want = strtod(a, NULL);
        if (!is_array) {
            float x;
            return gguf_get_f32(f, key, &x) == 1 && x == (float)want;
        }
        double sum = 0, d;
        for (uint64_t i = 0; i < n; i++) {
            if (!gguf_arr_f64(kv, i, &d)) return false;
            sum += d;
        }
        return sum == want;
    }
    if (strcmp(kind, "int") == 0) {
        int64_t v;
        if (!is_array) return gguf_get_i64(f, key, &v) == 1 && v == strtoll(a, NULL, 10);
        uint64_t sum = 0; /* modulo 2^64, as recorded */
        for (uint64_t i = 0; i < n; i++) {
            if (!gguf_arr_i64(kv, i, &v)) return false;
            sum += (uint64_t)v;
        }
        return sum == strtoull(a, NULL, 10);
    }
    return false;
}

static void test_vocab_files(void) {
    const char *fixture = "tests/fixtures/gguf/expected.txt";
    FILE *fp = fopen(fixture, "r");
    CHECK(fp != NULL, "cannot open %s", fixture);
    if (!fp) return;
    char dir[512], path[1024], line[4096];
    snprintf(dir, sizeof dir, "%s/data/vocab", tu_shared_dir());
    if (access(dir, R_OK) != 0) {
        printf("test_gguf: %s not found, skipping the vocab files\n", dir);
        fclose(fp);
        return;
    }
    gguf_file f = {.fd = -1};
    bool open = false;
    int n_files = 0, n_keys = 0;
    while (fgets(line, sizeof line, fp)) {
        char name[256], key[256], arr_type[32], arr_n[32], kind[16], a[64], b[64];
        unsigned version, type;
        unsigned long long n_kv, n_tensors, alignment, data_offset, idx;
        if (sscanf(line, "file %255s version %u n_kv %llu n_tensors %llu alignment %llu data_offset %llu", name,
                   &version, &n_kv, &n_tensors, &alignment, &data_offset) == 6) {
            gguf_close(&f);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            int rc = gguf_open(&f, path);
            open = rc == 0;
            CHECK(open, "%s: %s", path, hearth_last_error());
            if (!open) continue;
            n_files++;
            CHECK_EQ_INT(f.version, version);
            CHECK_EQ_INT(f.n_kv, n_kv);
            CHECK_EQ_INT(f.n_tensors, n_tensors);
            CHECK_EQ_INT(f.alignment, alignment);
            CHECK_EQ_INT(f.data - f.base, data_offset < f.size ? data_offset : f.size);
            /* facts every vocab file has */
            gguf_str arch;
            CHECK(gguf_get_str(&f, "general.architecture", &arch) == 1 && arch.n > 0, "%s", name);
            const gguf_kv *tokens = gguf_find_kv(&f, "tokenizer.ggml.tokens");
            CHECK(tokens && tokens->type == GGUF_ARRAY && tokens->arr_type == GGUF_STRING && tokens->arr_n > 1000);
        } else if (open && sscanf(line, "kv %255s %llu %255s %u %31s %31s %15s %63s %63s", name, &idx, key, &type,
                                  arr_type, arr_n, kind, a, b) >= 8) {
            n_keys++;
            CHECK(idx < f.n_kv, "%s: key #%llu", name, idx);
            if (idx >= f.n_kv) continue;
            const gguf_kv *kv = &f.kv[idx];
            CHECK(gguf_str_eq(kv->key, key), "%s: key #%llu is '%.*s', expected %s", name, idx, (int)kv->key.n,
                  kv->key.s, key);
            CHECK(gguf_find_kv(&f, key) == kv);
            CHECK_EQ_INT(kv->type, type);
            if (type == GGUF_ARRAY) {
                CHECK_EQ_INT(kv->arr_type, strtoul(arr_type, NULL, 10));
                CHECK_EQ_INT(kv->arr_n, strtoull(arr_n, NULL, 10));
            }
            CHECK(matches_summary(&f, kv, kind, a, b), "%s: %s: expected %s %s %s", name, key, kind, a, b);
        }
    }
    gguf_close(&f);
    fclose(fp);
    CHECK(n_files == 7 && n_keys > 100, "%d files, %d keys", n_files, n_keys);

    /* a few facts checked by hand against the oracle */
    snprintf(path, sizeof path, "%s/ggml-vocab-llama-spm.gguf", dir);
    if (gguf_open(&f, path) == 0) {
        const gguf_kv *tokens = gguf_find_kv(&f, "tokenizer.ggml.tokens");
        CHECK(tokens && tokens->arr_n == 32000);
        if (tokens && tokens->arr_n == 32000) {
            CHECK(gguf_str_eq(tokens->strs[0], "<unk>") && gguf_str_eq(tokens->strs[1], "<s>"));
            CHECK(gguf_str_eq(tokens->strs[2], "</s>") && gguf_str_eq(tokens->strs[31999], "\xe7\xbb\x99"));
        }
        gguf_str s;
        uint32_t bos;
        double score;
        CHECK(gguf_get_str(&f, "general.architecture", &s) == 1 && gguf_str_eq(s, "llama"));
        CHECK(gguf_get_u32(&f, "tokenizer.ggml.bos_token_id", &bos) == 1 && bos == 1);
        CHECK(gguf_arr_f64(gguf_find_kv(&f, "tokenizer.ggml.scores"), 300, &score) && score == -41.0);
    } else {
        CHECK(0, "%s", hearth_last_error());
    }
    gguf_close(&f);
}

/* ------------------------------------------------------------------------------------ hostile input */

/* Open an exact-size heap copy (so a sanitizer sees any read past the end) and expect failure. */
static void expect_fail(const char *what, const wbuf *b, int code, const char *needle) {
    uint8_t *copy = malloc(b->n ? b->n : 1);
    if (b->n) memcpy(copy, b->p, b->n);
    gguf_file f;
    double t0 = now_seconds();
    int rc = gguf_open_memory(&f, copy, b->n);
    double took = now_seconds() - t0;
    const char *msg = hearth_last_error();
    CHECK(rc == code, "%s: rc %d, expected %d (%s)", what, rc, code, msg);
    CHECK(strncmp(msg, "gguf: ", 6) == 0 && strstr(msg, needle) && !strchr(msg, '\n'),
          "%s: message '%s' lacks '%s'", what, msg, needle);
    CHECK(took < 0.5, "%s: took %.3f s", what, took);
    CHECK(f.kv == NULL && f.tensors == NULL && f.base == NULL && f.fd == -1, "%s: not reset", what);
    gguf_close(&f);
    free(copy);
}

/* A file holding one kv whose type and value bytes the caller appends. */
static void one_kv(wbuf *b, const char *key, uint32_t type) {
    b->n = 0;
    put_header(b, 3, 0, 1);
    put_key(b, key, type);
}

typedef struct {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t offset;
} raw_tensor;

/* A file with these tensors (and optional extra kv) followed by data_bytes of data. */
static void tensor_file(wbuf *b, const raw_tensor *t, int n, uint64_t data_bytes) {
    b->n = 0;
    put_header(b, 3, (uint64_t)n, 0);
    for (int i = 0; i < n; i++) {
        put_str(b, t[i].name);
        put_u32(b, t[i].n_dims);
        for (uint32_t d = 0; d < t[i].n_dims; d++) put_u64(b, d < 4 ? t[i].ne[d] : 1);
        put_u32(b, t[i].type);
        put_u64(b, t[i].offset);
    }
    pad_to(b, 32);
    for (uint64_t i = 0; i < data_bytes; i++) put_u8(b, 0);
}

static void test_hostile_headers(void) {
    wbuf b = {0};
    const uint64_t huge = UINT64_C(1) << 60;

    put(&b, "GGUX\3\0\0\0", 8), put_u64(&b, 0), put_u64(&b, 0);
    expect_fail("bad magic", &b, HEARTH_ERR_FORMAT, "not a GGUF file");
    b.n = 0;
    expect_fail("empty", &b, HEARTH_ERR_FORMAT, "not a GGUF file");
    b.n = 0, put_header(&b, 1, 0, 0);
    expect_fail("version 1", &b, HEARTH_ERR_UNSUPPORTED, "unsupported version 1");
    b.n = 0, put_header(&b, 4, 0, 0);
    expect_fail("version 4", &b, HEARTH_ERR_UNSUPPORTED, "unsupported version 4");
    b.n = 0, put_header(&b, 0x03000000, 0, 0);
    expect_fail("big-endian", &b, HEARTH_ERR_UNSUPPORTED, "big-endian");
    b.n = 0, put(&b, "GGUF\3\0\0\0", 8), put_u64(&b, 0);
    expect_fail("truncated header", &b, HEARTH_ERR_FORMAT, "truncated while reading the header");

    b.n = 0, put_header(&b, 3, 0, huge);
    expect_fail("n_kv 2^60", &b, HEARTH_ERR_FORMAT, "n_kv 1152921504606846976");
    b.n = 0, put_header(&b, 3, huge, 0);
    expect_fail("n_tensors 2^60", &b, HEARTH_ERR_FORMAT, "n_tensors 1152921504606846976");
    b.n = 0, put_header(&b, 3, 0, 2), put_key(&b, "a", GGUF_STRING), put_str(&b, "0123456789"), put_u32(&b, 1);
    expect_fail("missing kv", &b, HEARTH_ERR_FORMAT, "truncated while reading metadata key #1");
    b.n = 0, put_header(&b, 3, 0, 1), put_u64(&b, UINT64_C(1) << 63), put(&b, "abcdefgh", 8);
    expect_fail("key length 2^63", &b, HEARTH_ERR_FORMAT,
                "metadata key #0: string length 9223372036854775808 extends past end of file");
    one_kv(&b, "k", GGUF_STRING), put_u64(&b, 5), put(&b, "abcd", 4);
    expect_fail("string past EOF", &b, HEARTH_ERR_FORMAT, "key #0 ('k'): string length 5");
    one_kv(&b, "k", GGUF_STRING), put_u64(&b, UINT64_MAX);
    expect_fail("string length 2^64-1", &b, HEARTH_ERR_FORMAT, "string length 18446744073709551615");
    one_kv(&b, "k", 13), put_u64(&b, 0);
    expect_fail("unknown value type", &b, HEARTH_ERR_FORMAT, "unknown value type 13");
    one_kv(&b, "k", GGUF_U64), put_u32(&b, 0);
    expect_fail("short u64", &b, HEARTH_ERR_FORMAT, "truncated while reading metadata key #0 ('k')");
    one_kv(&b, "k", GGUF_ARRAY), put_u32(&b, 99), put_u64(&b, 0);
    expect_fail("unknown element type", &b, HEARTH_ERR_FORMAT, "unknown array element type 99");
    one_kv(&b, "k", GGUF_ARRAY), put_u32(&b, GGUF_ARRAY), put_u64(&b, 1), put_u32(&b, GGUF_U8), put_u64(&b, 0);
    expect_fail("nested array", &b, HEARTH_ERR_UNSUPPORTED, "nested arrays are not supported");
    one_kv(&b, "k", GGUF_ARRAY), put_u32(&b, GGUF_STRING), put_u64(&b, UINT64_C(1) << 61), put_u64(&b, 0);
    expect_fail("string array 2^61", &b, HEARTH_ERR_FORMAT, "array of 2305843009213693952 strings");
    /* 4 * (2^62 + 1) wraps to 4 in 64 bits: only checked multiplication catches it */
    one_kv(&b, "k", GGUF_ARRAY), put_u32(&b, GGUF_U32), put_u64(&b, (UINT64_C(1) << 62) + 1), put_u32(&b, 0);
    expect_fail("u32 array wrap", &b, HEARTH_ERR_FORMAT, "array of 4611686018427387905 u32 elements");
    one_kv(&b, "k", GGUF_ARRAY), put_u32(&b, GGUF_STRING), put_u64(&b, 3);
    put_str(&b, "ok"), put_u64(&b, 1000), put_u64(&b, 0), put_u64(&b, 0);
    expect_fail("bad element length", &b, HEARTH_ERR_FORMAT, "string #1 of the array extends past end of file");

    b.n = 0, put_header(&b, 3, 0, 2), put_key(&b, "dup", GGUF_U8), put_u8(&b, 1);
    put_key(&b, "dup", GGUF_STRING), put_str(&b, "x");
    expect_fail("duplicate keys", &b, HEARTH_ERR_FORMAT, "duplicate metadata key 'dup'");
    b.n = 0, put_header(&b, 3, 0, 2), put_key(&b, "a\nb", GGUF_U8), put_u8(&b, 1);
    put_key(&b, "a\nb", GGUF_U8), put_u8(&b, 2);
    expect_fail("control bytes in a key", &b, HEARTH_ERR_FORMAT, "duplicate metadata key 'a?b'");
    char long_key[200];
    memset(long_key, 'k', sizeof long_key - 1), long_key[sizeof long_key - 1] = 0;
    one_kv(&b, long_key, 77);
    expect_fail("long key", &b, HEARTH_ERR_FORMAT, "kkkkkkkk...'): unknown value type 77");
    one_kv(&b, "general.alignment", GGUF_U32), put_u32(&b, 0);
    expect_fail("alignment 0", &b, HEARTH_ERR_FORMAT, "general.alignment 0 is not a nonzero power of two");
    one_kv(&b, "general.alignment", GGUF_U32), put_u32(&b, 48);
    expect_fail("alignment 48", &b, HEARTH_ERR_FORMAT, "48 is not a nonzero power of two");
    one_kv(&b, "general.alignment", GGUF_U64), put_u64(&b, 64);
    expect_fail("alignment u64", &b, HEARTH_ERR_FORMAT, "general.alignment has type u64");

    /* tensor tables */
    raw_tensor t[2] = {{"a", 2, {4, 2, 0, 0}, T_F32, 0}, {"b", 1, {8, 0, 0, 0}, T_F32, 32}};
    tensor_file(&b, t, 2, 64);
    gguf_file f;
    CHECK(gguf_open_memory(&f, b.p, b.n) == 0, "two tensors: %s", hearth_last_error());
    gguf_close(&f);
    tensor_file(&b, t, 2, 63);
    expect_fail("data past EOF", &b, HEARTH_ERR_FORMAT,
                "tensor 'b' data (offset 32, 32 bytes) extends past end of file (size");
    t[1].offset = 16;
    tensor_file(&b, t, 2, 64);
    expect_fail("unaligned", &b, HEARTH_ERR_FORMAT, "tensor 'b' offset 16 is not a multiple of the alignment 32");
    t[1].offset = 0;
    tensor_file(&b, t, 2, 64);
    expect_fail("overlap", &b, HEARTH_ERR_FORMAT, "overlap");
    t[1].offset = 32, t[1].name = "a";
    tensor_file(&b, t, 2, 64);
    expect_fail("duplicate names", &b, HEARTH_ERR_FORMAT, "duplicate tensor name 'a'");
    t[1].name = "b", t[1].offset = UINT64_MAX - 31; /* aligned; start + size overflows */
    tensor_file(&b, t, 2, 64);
    expect_fail("offset overflow", &b, HEARTH_ERR_FORMAT, "tensor 'b' data (offset 18446744073709551584");

    raw_tensor one = {"w", 5, {1, 1, 1, 1}, T_F32, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("5 dims", &b, HEARTH_ERR_FORMAT, "tensor #0 ('w'): 5 dimensions (at most 4)");
    one = (raw_tensor){"w", 2, {4, 0}, T_F32, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("ne 0", &b, HEARTH_ERR_FORMAT, "ne[1] = 0 is not positive");
    one = (raw_tensor){"w", 1, {UINT64_MAX}, T_F32, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("ne -1", &b, HEARTH_ERR_FORMAT, "ne[0] = -1 is not positive");
    one = (raw_tensor){"w", 2, {UINT64_C(1) << 32, UINT64_C(1) << 32}, T_F32, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("ne product 2^64", &b, HEARTH_ERR_FORMAT, "element count overflows int64");
    one = (raw_tensor){"w", 3, {UINT64_C(1) << 31, UINT64_C(1) << 31, 2}, T_F32, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("ne product 2^63", &b, HEARTH_ERR_FORMAT, "element count overflows int64");
    one = (raw_tensor){"w", 1, {UINT64_C(1) << 61}, T_F64, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("bytes 2^64", &b, HEARTH_ERR_FORMAT, "data size overflows");
    one = (raw_tensor){"w", 1, {UINT64_C(1) << 40}, T_F32, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("4 TiB tensor", &b, HEARTH_ERR_FORMAT, "extends past end of file");
    one = (raw_tensor){"w", 1, {32}, 99, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("unknown type", &b, HEARTH_ERR_UNSUPPORTED, "unknown tensor type 99");
    one = (raw_tensor){"w", 1, {32}, 4 /* the removed Q4_2 */, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("removed type", &b, HEARTH_ERR_UNSUPPORTED, "unknown tensor type 4");
    one = (raw_tensor){"w", 2, {33, 1}, T_Q4_0, 0};
    tensor_file(&b, &one, 1, 64);
    expect_fail("row length", &b, HEARTH_ERR_FORMAT, "row length 33 is not a multiple of the Q4_0 block size 32");
    one = (raw_tensor){"", 0, {0}, T_F32, 0}; /* a scalar with an empty name is fine */
    tensor_file(&b, &one, 1, 4);
    CHECK(gguf_open_memory(&f, b.p, b.n) == 0 && f.tensors[0].nbytes == 4, "%s", hearth_last_error());
    gguf_close(&f);
    free(b.p);
}

/* Every proper prefix of a valid file must fail cleanly (the sample's last tensor ends at EOF). */
static void test_truncations(bool with_tensors) {
    wbuf b = {0};
    build_sample(&b, 3, 32, with_tensors);
    int unclean = 0;
    for (size_t len = 0; len < b.n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, b.p, len);
        gguf_file f;
        int rc = gguf_open_memory(&f, len ? copy : NULL, len);
        if (rc != HEARTH_ERR_FORMAT || strncmp(hearth_last_error(), "gguf: ", 6) != 0 || f.kv || f.tensors) {
            if (unclean++ < 5) fprintf(stderr, "prefix %zu: rc %d: %s\n", len, rc, hearth_last_error());
        }
        gguf_close(&f);
        free(copy);
    }
    CHECK(unclean == 0, "%d of %zu prefixes did not fail cleanly", unclean, b.n);
    free(b.p);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Touch everything a successful open hands out; a sanitizer flags any pointer outside the buffer. */
static bool walk(const gguf_file *f) {
    unsigned sum = 0;
    bool ok = true;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char key[80];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.n < 79 ? kv->key.n : 79), kv->key.s);
        uint32_t u32;
        int64_t i64;
        float f32;
        bool bl;
        gguf_str s;
        (void)gguf_get_u32(f, key, &u32), (void)gguf_get_i64(f, key, &i64), (void)gguf_get_f32(f, key, &f32);
        (void)gguf_get_bool(f, key, &bl), (void)gguf_get_str(f, key, &s);
        ok &= kv->key.s >= (const char *)f->base && kv->key.s + kv->key.n <= (const char *)f->base + f->size;
        for (uint64_t j = 0; j < kv->key.n; j++) sum += (uint8_t)kv->key.s[j];
        bool string_array = kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING;
        uint64_t n_str = kv->type == GGUF_STRING ? 1 : string_array ? kv->arr_n : 0;
        for (uint64_t j = 0; j < n_str; j++)
            for (uint64_t c = 0; c < kv->strs[j].n; c++) sum += (uint8_t)kv->strs[j].s[c];
        if (kv->type == GGUF_ARRAY)
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                int64_t v;
                double d;
                (void)gguf_arr_i64(kv, j, &v), (void)gguf_arr_f64(kv, j, &d);
            }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const uint8_t *p = t->data;
        ok &= p >= f->base && t->nbytes <= f->size && p + t->nbytes <= f->base + f->size;
        for (uint64_t j = 0; j < t->nbytes; j++) sum += p[j];
    }
    return ok || sum == 1; /* use sum so the reads are not optimized away */
}

static void test_mutations(int iterations) {
    wbuf b = {0};
    size_t data_start = build_sample(&b, 3, 32, true);
    uint8_t *copy = malloc(b.n);
    static const uint64_t interesting[] = {0, 1, 2, 31, 32, 33, 255, 0x7fffffff, 0xffffffff, UINT64_C(1) << 32,
                                           UINT64_C(1) << 62, INT64_MAX, UINT64_MAX};
    int loaded = 0, failed = 0, unclean = 0, bad_walks = 0;
    for (int it = 0; it < iterations; it++) {
        memcpy(copy, b.p, b.n);
        int n_mut = 1 + (int)(rng() % 4);
        for (int m = 0; m < n_mut; m++) {
            /* three in four mutations hit the metadata and tensor table, where the parser looks */
            size_t limit = rng() % 4 ? data_start : b.n;
            size_t at = (size_t)(rng() % limit);
            switch (rng() % 4) {
            case 0: copy[at] = (uint8_t)rng(); break;
            case 1: copy[at] ^= (uint8_t)(1u << (rng() % 8)); break;
            case 2: copy[at] = rng() % 2 ? 0 : 0xff; break;
            default: { /* an interesting 64-bit value over a count or offset */
                uint64_t v = interesting[rng() % (sizeof interesting / sizeof interesting[0])];
                for (int k = 0; k < 8 && at + k < b.n; k++) copy[at + k] = (uint8_t)(v >> (8 * k));
            }
            }
        }
        gguf_file f;
        int rc = gguf_open_memory(&f, copy, b.n);
        if (rc == 0) {
            loaded++;
            bad_walks += !walk(&f);
        } else {
            failed++;
            if (strncmp(hearth_last_error(), "gguf: ", 6) != 0 || f.kv || f.tensors) unclean++;
        }
        gguf_close(&f);
    }
    CHECK(unclean == 0 && bad_walks == 0, "%d unclean failures, %d bad walks", unclean, bad_walks);
    CHECK(loaded > 0 && failed > 0, "loaded %d, failed %d", loaded, failed);
    printf("test_gguf: %d mutations: %d loaded, %d failed cleanly\n", iterations, loaded, failed);
    free(copy);
    free(b.p);
}

static int write_seeds(const char *dir) {
    wbuf b = {0};
    char path[1024];
    const struct { const char *name; uint32_t version, alignment; bool tensors; } seeds[] = {
        {"sample_v3.gguf", 3, 32, true}, {"sample_v2_default_align.gguf", 2, 0, true},
        {"sample_align1.gguf", 3, 1, true}, {"sample_no_tensors.gguf", 3, 0, false},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        build_sample(&b, seeds[i].version, seeds[i].alignment, seeds[i].tensors);
        snprintf(path, sizeof path, "%s/%s", dir, seeds[i].name);
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(b.p, 1, b.n, fp) != b.n) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        fclose(fp);
    }
    free(b.p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) return write_seeds(argv[2]);
    test_round_trip(3, 64);
    test_round_trip(2, 0);
    test_round_trip(3, 1);
    test_round_trip(3, 4096);
    test_no_tensors();
    test_open_file();
    test_vocab_files();
    test_hostile_headers();
    test_truncations(true);
    test_truncations(false);
    test_mutations(5000);
    TEST_SUMMARY("test_gguf");
}
