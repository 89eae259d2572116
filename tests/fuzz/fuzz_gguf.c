/* fuzz_gguf.c — libFuzzer harness for the GGUF reader. Not part of `make`; build and run from the repo root:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=c17 -D_GNU_SOURCE \
 *       -Iinclude -Isrc -o /tmp/fuzz_gguf tests/fuzz/fuzz_gguf.c src/gguf.c src/types.c src/util.c
 *   mkdir -p /tmp/gguf-corpus && ./build/tests/test_gguf --write-seeds /tmp/gguf-corpus
 *   /tmp/fuzz_gguf -max_total_time=60 -max_len=4096 /tmp/gguf-corpus
 *
 * Every input must either load or fail with a "gguf: " message and a reset struct; a successful load hands
 * out only pointers inside the input, which the walk below touches so ASan sees any that are not. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "hearth.h"

static void walk(const gguf_file *f) {
    volatile unsigned sum = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char key[96];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.n < 95 ? kv->key.n : 95), kv->key.s);
        uint32_t u32;
        int64_t i64;
        float f32;
        bool b;
        gguf_str s;
        (void)gguf_get_u32(f, key, &u32);
        (void)gguf_get_i64(f, key, &i64);
        (void)gguf_get_f32(f, key, &f32);
        (void)gguf_get_bool(f, key, &b);
        (void)gguf_get_str(f, key, &s);
        for (uint64_t j = 0; j < kv->key.n; j++) sum += (uint8_t)kv->key.s[j];
        bool string_array = kv->type == GGUF_ARRAY && kv->arr_type == GGUF_STRING;
        uint64_t n_str = kv->type == GGUF_STRING ? 1 : string_array ? kv->arr_n : 0;
        for (uint64_t j = 0; j < n_str; j++)
            for (uint64_t c = 0; c < kv->strs[j].n; c++) sum += (uint8_t)kv->strs[j].s[c];
        if (kv->type == GGUF_ARRAY)
            for (uint64_t j = 0; j < kv->arr_n; j++) {
                int64_t v;
                double d;
                sum += gguf_arr_i64(kv, j, &v) + gguf_arr_f64(kv, j, &d);
            }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (gguf_find_tensor(f, "x") == t) sum++;
        const uint8_t *p = t->data;
        if (p < f->base || t->nbytes > f->size || (uint64_t)(p - f->base) > f->size - t->nbytes) abort();
        for (uint64_t j = 0; j < t->nbytes; j++) sum += p[j];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file f;
    int rc = gguf_open_memory(&f, data, size);
    if (rc == 0) {
        walk(&f);
    } else if (strncmp(hearth_last_error(), "gguf: ", 6) != 0 || strchr(hearth_last_error(), '\n') || f.kv ||
               f.tensors || f.base) {
        abort();
    }
    gguf_close(&f);
    return 0;
}
