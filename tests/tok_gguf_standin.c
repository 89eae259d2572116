/* tok_gguf_standin.c — a minimal, test-only implementation of the gguf.h API (metadata only; tensor infos are
 * parsed but their data is not checked). test_tokenizer.c includes it only while src/gguf.c does not exist;
 * the real reader replaces it when the branches meet. Not part of libhearth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "util.h"

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} sg_cur;

static const uint8_t *sg_take(sg_cur *c, uint64_t n) {
    if (c->bad || (uint64_t)(c->end - c->p) < n) { c->bad = true; return NULL; }
    const uint8_t *r = c->p;
    c->p += n;
    return r;
}

static uint64_t sg_u64(sg_cur *c) { uint64_t v = 0; const uint8_t *p = sg_take(c, 8); if (p) memcpy(&v, p, 8); return v; }
static uint32_t sg_u32(sg_cur *c) { uint32_t v = 0; const uint8_t *p = sg_take(c, 4); if (p) memcpy(&v, p, 4); return v; }

static gguf_str sg_str(sg_cur *c) {
    gguf_str s = { NULL, 0 };
    uint64_t n = sg_u64(c);
    const uint8_t *p = sg_take(c, n);
    if (p) { s.s = (const char *)p; s.n = n; }
    return s;
}

static size_t sg_type_size(enum gguf_vtype t) {
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

static int sg_parse(gguf_file *f) {
    sg_cur c = { f->base, f->base + f->size, false };
    const uint8_t *magic = sg_take(&c, 4);
    if (!magic || memcmp(magic, "GGUF", 4) != 0) return hearth_fail(HEARTH_ERR_FORMAT, "gguf: bad magic");
    f->version = sg_u32(&c);
    f->n_tensors = sg_u64(&c);
    f->n_kv = sg_u64(&c);
    if (c.bad || f->n_kv > f->size || f->n_tensors > f->size) return hearth_fail(HEARTH_ERR_FORMAT, "gguf: bad header");
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) return hearth_fail(HEARTH_ERR_NOMEM, "gguf: out of memory");
    f->alignment = 32;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        kv->key = sg_str(&c);
        kv->type = (enum gguf_vtype)sg_u32(&c);
        if (c.bad) break;
        if (kv->type == GGUF_STRING) {
            kv->strs = malloc(sizeof *kv->strs);
            if (!kv->strs) return hearth_fail(HEARTH_ERR_NOMEM, "gguf: out of memory");
            kv->strs[0] = sg_str(&c);
        } else if (kv->type == GGUF_ARRAY) {
            kv->arr_type = (enum gguf_vtype)sg_u32(&c);
            kv->arr_n = sg_u64(&c);
            if (c.bad || kv->arr_n > f->size) { c.bad = true; break; }
            if (kv->arr_type == GGUF_STRING) {
                kv->strs = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *kv->strs);
                if (!kv->strs) return hearth_fail(HEARTH_ERR_NOMEM, "gguf: out of memory");
                for (uint64_t k = 0; k < kv->arr_n && !c.bad; k++) kv->strs[k] = sg_str(&c);
            } else {
                size_t es = sg_type_size(kv->arr_type);
                if (!es) { c.bad = true; break; }
                kv->data = sg_take(&c, es * kv->arr_n);
            }
        } else {
            size_t es = sg_type_size(kv->type);
            if (!es) { c.bad = true; break; }
            kv->data = sg_take(&c, es);
        }
        if (gguf_str_eq(kv->key, "general.alignment") && kv->type == GGUF_U32 && kv->data) {
            uint32_t a;
            memcpy(&a, kv->data, 4);
            f->alignment = a;
        }
    }
    for (uint64_t i = 0; i < f->n_tensors && !c.bad; i++) {
        gguf_tensor *t = &f->tensors[i];
        t->name = sg_str(&c);
        t->n_dims = sg_u32(&c);
        if (t->n_dims > 4) { c.bad = true; break; }
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) t->ne[d] = (int64_t)sg_u64(&c);
        t->type = sg_u32(&c);
        t->offset = sg_u64(&c);
    }
    if (c.bad) return hearth_fail(HEARTH_ERR_FORMAT, "gguf: truncated or malformed metadata");
    uint64_t pos = (uint64_t)(c.p - f->base);
    if (f->alignment) pos = (pos + f->alignment - 1) / f->alignment * f->alignment;
    f->data = f->base + (pos < f->size ? pos : f->size);
    return 0;
}

int gguf_open_memory(gguf_file *f, const void *buf, size_t size) {
    memset(f, 0, sizeof *f);
    f->base = buf;
    f->size = size;
    f->fd = -1;
    int rc = sg_parse(f);
    if (rc) gguf_close(f);
    return rc;
}

int gguf_open(gguf_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return hearth_fail(HEARTH_ERR_IO, "gguf: cannot open '%s'", path);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        return hearth_fail(HEARTH_ERR_IO, "gguf: cannot read '%s'", path);
    }
    fclose(fp);
    int rc = gguf_open_memory(f, buf, (size_t)n);
    if (rc) { free(buf); return rc; }
    f->owns_map = true;
    return 0;
}

void gguf_close(gguf_file *f) {
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) free(f->kv[i].strs);
    free(f->kv);
    free(f->tensors);
    if (f->owns_map) free((void *)f->base);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

bool gguf_str_eq(gguf_str a, const char *b) {
    size_t n = strlen(b);
    return a.n == n && a.s && memcmp(a.s, b, n) == 0;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static bool sg_scalar_i64(enum gguf_vtype t, const uint8_t *p, int64_t *out) {
    switch (t) {
    case GGUF_U8: *out = *p; return true;
    case GGUF_I8: *out = (int8_t)*p; return true;
    case GGUF_BOOL: *out = *p != 0; return true;
    case GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return true; }
    case GGUF_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return true; }
    case GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return true; }
    case GGUF_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return true; }
    case GGUF_U64: { uint64_t v; memcpy(&v, p, 8); if (v > INT64_MAX) return false; *out = (int64_t)v; return true; }
    case GGUF_I64: { int64_t v; memcpy(&v, p, 8); *out = v; return true; }
    default: return false;
    }
}

static bool sg_scalar_f64(enum gguf_vtype t, const uint8_t *p, double *out) {
    if (t == GGUF_F32) { float v; memcpy(&v, p, 4); *out = v; return true; }
    if (t == GGUF_F64) { double v; memcpy(&v, p, 8); *out = v; return true; }
    int64_t i;
    if (!sg_scalar_i64(t, p, &i)) return false;
    *out = (double)i;
    return true;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (!kv->data || kv->type == GGUF_ARRAY || !sg_scalar_i64(kv->type, kv->data, out))
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s is not an integer", key);
    return 1;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    int64_t v;
    int rc = gguf_get_i64(f, key, &v);
    if (rc <= 0) return rc;
    if (v < 0 || v > UINT32_MAX) return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s out of range", key);
    *out = (uint32_t)v;
    return 1;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    double v;
    if (!kv->data || kv->type == GGUF_ARRAY || !sg_scalar_f64(kv->type, kv->data, &v))
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s is not a number", key);
    *out = (float)v;
    return 1;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out) {
    int64_t v;
    int rc = gguf_get_i64(f, key, &v);
    if (rc <= 0) return rc;
    *out = v != 0;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_STRING || !kv->strs) return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s is not a string", key);
    *out = kv->strs[0];
    return 1;
}

bool gguf_arr_i64(const gguf_kv *kv, uint64_t i, int64_t *out) {
    if (kv->type != GGUF_ARRAY || i >= kv->arr_n || !kv->data) return false;
    return sg_scalar_i64(kv->arr_type, kv->data + i * sg_type_size(kv->arr_type), out);
}

bool gguf_arr_f64(const gguf_kv *kv, uint64_t i, double *out) {
    if (kv->type != GGUF_ARRAY || i >= kv->arr_n || !kv->data) return false;
    return sg_scalar_f64(kv->arr_type, kv->data + i * sg_type_size(kv->arr_type), out);
}
