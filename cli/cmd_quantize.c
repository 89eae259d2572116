/* cmd_quantize.c — `hearth quantize IN OUT TYPE`: rewrite a GGUF with its weight matrices in TYPE.
 *
 * Every metadata entry is copied as it is (general.file_type, when present, is set to the llama.cpp
 * "mostly TYPE" number for the common types); 2-D tensors whose rows are a multiple of TYPE's block become
 * TYPE (quantize_row, the reference quantizers, so the file loads in llama.cpp too); other tensors (norms,
 * scales, RoPE factors, rows that do not divide into blocks) stay as they are. Data is aligned as the input
 * says (general.alignment, default 32). Unlike the other commands this one works below the public API,
 * with the GGUF reader and the quantizers (src/gguf.h, src/quant.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "quant.h"
#include "types.h"

static size_t scalar_size(enum gguf_vtype t) {
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

static bool put(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }
static bool put_u32(FILE *f, uint32_t v) { return put(f, &v, 4); }   /* little-endian hosts only */
static bool put_u64(FILE *f, uint64_t v) { return put(f, &v, 8); }
static bool put_str(FILE *f, gguf_str s) { return put_u64(f, s.n) && put(f, s.s, s.n); }

/* llama.cpp's LLAMA_FTYPE_MOSTLY_* for general.file_type */
static int file_type_of(uint32_t t) {
    switch (t) {
    case T_F32: return 0; case T_F16: return 1; case T_Q4_0: return 2; case T_Q8_0: return 7;
    case T_Q5_0: return 8; case T_Q4_K: return 15; case T_Q5_K: return 17; case T_Q6_K: return 18;
    default: return -1;
    }
}

static bool write_kv(FILE *f, const gguf_kv *kv, uint32_t target) {
    if (!put_str(f, kv->key) || !put_u32(f, kv->type)) return false;
    if (gguf_str_eq(kv->key, "general.file_type") && kv->type == GGUF_U32 && file_type_of(target) >= 0)
        return put_u32(f, (uint32_t)file_type_of(target));
    if (kv->type == GGUF_STRING) return put_str(f, kv->strs[0]);
    if (kv->type != GGUF_ARRAY) return put(f, kv->data, scalar_size(kv->type));
    if (!put_u32(f, kv->arr_type) || !put_u64(f, kv->arr_n)) return false;
    if (kv->arr_type == GGUF_STRING) {
        for (uint64_t i = 0; i < kv->arr_n; i++)
            if (!put_str(f, kv->strs[i])) return false;
        return true;
    }
    return put(f, kv->data, scalar_size(kv->arr_type) * kv->arr_n);
}

static bool pad_to(FILE *f, uint64_t *pos, uint64_t align) {
    static const char zeros[64];
    while (*pos % align) {
        uint64_t n = align - *pos % align;
        if (n > sizeof zeros) n = sizeof zeros;
        if (!put(f, zeros, n)) return false;
        *pos += n;
    }
    return true;
}

int cmd_quantize(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: hearth quantize IN.gguf OUT.gguf TYPE\n\nWrites OUT with the weight matrices of IN in TYPE "
               "(Q8_0, Q6_K, Q5_K, Q4_K, Q5_0, Q4_0, F16, ...);\nnorms and other vectors stay as they are.\n");
        return EXIT_OK;
    }
    if (argc != 4) { cli_error("usage: hearth quantize IN.gguf OUT.gguf TYPE"); return EXIT_USAGE; }
    uint32_t target = T_COUNT;
    for (uint32_t t = 0; t < T_COUNT; t++) {
        const type_traits *tt = type_get(t);
        if (tt && !strcmp(tt->name, argv[3])) target = t;
    }
    float probe[256] = {0};
    unsigned char probe_out[1024];
    if (target == T_COUNT || !quantize_row(target, probe, probe_out, type_get(target)->block_size)) {
        cli_error("quantize: unknown or unsupported type '%s'", argv[3]);
        return EXIT_USAGE;
    }
    const type_traits *tq = type_get(target);
    gguf_file in;
    if (gguf_open(&in, argv[1]) < 0) { cli_error("%s", hearth_last_error()); return EXIT_MODEL; }
    FILE *f = fopen(argv[2], "wb");
    if (!f) { cli_error("quantize: cannot write '%s'", argv[2]); gguf_close(&in); return EXIT_FAIL; }

    uint32_t *types = malloc(sizeof(uint32_t) * (in.n_tensors ? in.n_tensors : 1));
    uint64_t *sizes = malloc(sizeof(uint64_t) * (in.n_tensors ? in.n_tensors : 1));
    float *row = NULL;
    void *qrow = NULL;
    int64_t row_cap = 0;
    bool ok = types && sizes;
    uint64_t n_quant = 0, bytes_in = 0, bytes_out = 0;
    for (uint64_t i = 0; ok && i < in.n_tensors; i++) {
        const gguf_tensor *t = &in.tensors[i];
        const type_traits *ts = type_get(t->type);
        bool q = t->n_dims == 2 && ts && ts->computable && (t->type == T_F32 || t->type == T_F16 || t->type == T_BF16) &&
                 t->ne[0] % tq->block_size == 0;
        types[i] = q ? target : t->type;
        sizes[i] = q ? type_row_bytes(tq, (uint64_t)t->ne[0]) * (uint64_t)t->ne[1] : t->nbytes;
        if (q) n_quant++;
        if (t->ne[0] > row_cap) row_cap = t->ne[0];
        bytes_in += t->nbytes;
        bytes_out += sizes[i];
    }
    row = malloc(sizeof(float) * (size_t)(row_cap ? row_cap : 1));
    qrow = malloc(sizeof(float) * (size_t)(row_cap ? row_cap : 1) + 1024);
    ok = ok && row && qrow;

    /* header, metadata, tensor infos */
    ok = ok && put(f, "GGUF", 4) && put_u32(f, 3) && put_u64(f, in.n_tensors) && put_u64(f, in.n_kv);
    for (uint64_t i = 0; ok && i < in.n_kv; i++) ok = write_kv(f, &in.kv[i], target);
    uint64_t off = 0, align = in.alignment ? in.alignment : 32;
    for (uint64_t i = 0; ok && i < in.n_tensors; i++) {
        const gguf_tensor *t = &in.tensors[i];
        ok = put_str(f, t->name) && put_u32(f, t->n_dims);
        for (uint32_t d = 0; ok && d < t->n_dims; d++) ok = put_u64(f, (uint64_t)t->ne[d]);
        ok = ok && put_u32(f, types[i]) && put_u64(f, off);
        off += sizes[i];
        off += (align - off % align) % align;
    }
    long hdr = ftell(f);
    uint64_t pos = hdr < 0 ? 0 : (uint64_t)hdr;
    ok = ok && hdr >= 0 && pad_to(f, &pos, align);

    /* data */
    for (uint64_t i = 0; ok && i < in.n_tensors; i++) {
        const gguf_tensor *t = &in.tensors[i];
        if (types[i] == t->type) {
            ok = put(f, t->data, t->nbytes);
        } else {
            const type_traits *ts = type_get(t->type);
            uint64_t in_row = type_row_bytes(ts, (uint64_t)t->ne[0]), out_row = type_row_bytes(tq, (uint64_t)t->ne[0]);
            for (int64_t r = 0; ok && r < t->ne[1]; r++) {
                dequantize_row(t->type, (const uint8_t *)t->data + (uint64_t)r * in_row, row, t->ne[0]);
                ok = quantize_row(target, row, qrow, t->ne[0]) && put(f, qrow, out_row);
            }
        }
        pos += sizes[i];
        ok = ok && pad_to(f, &pos, align);
    }
    if (fclose(f) != 0) ok = false;
    uint64_t n_tensors = in.n_tensors;
    free(types); free(sizes); free(row); free(qrow);
    gguf_close(&in);
    if (!ok) { cli_error("quantize: failed writing '%s'", argv[2]); remove(argv[2]); return EXIT_FAIL; }
    fprintf(stderr, "hearth: quantize: %llu of %llu tensors to %s, %.2f MiB -> %.2f MiB\n", (unsigned long long)n_quant,
            (unsigned long long)n_tensors, tq->name, bytes_in / 1048576.0, bytes_out / 1048576.0);
    return EXIT_OK;
}
