/* gguf_write.c — GGUF v3 writer (contract in gguf_write.h).
 *
 * Key/value pairs are serialized into one growing byte buffer as they are declared (they are written
 * verbatim by gguf_w_begin); the tensor table keeps names, shapes and data offsets. Offsets are assigned at
 * declaration, so sizes are known before anything is written and the data can stream straight to the file. */
#include "gguf_write.h"

#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "types.h"
#include "util.h"

#define DEFAULT_ALIGNMENT 32

typedef struct {
    char *name;
    uint32_t type;
    int n_dims;
    int64_t ne[4];
    uint64_t nbytes, offset; /* offset relative to the data section */
} wtensor;

struct gguf_writer {
    uint8_t *kv;             /* serialized key/value pairs */
    size_t kv_len, kv_cap;
    char **keys;
    size_t n_keys;
    wtensor *tensors;
    int n_tensors, cap_tensors;
    uint64_t alignment;
    uint64_t data_bytes;     /* data section size including padding */
    /* streaming state */
    bool begun;
    int cur;                 /* tensor being written */
    uint64_t cur_written;    /* bytes of tensor `cur` written so far */
};

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

gguf_writer *gguf_writer_new(void) {
    gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = DEFAULT_ALIGNMENT;
    return w;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    free(w->kv);
    for (size_t i = 0; i < w->n_keys; i++) free(w->keys[i]);
    free(w->keys);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w);
}

/* ------------------------------------------------------------------------------------ serialization */

static int put(gguf_writer *w, const void *p, size_t n) {
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) cap *= 2;
        uint8_t *nb = realloc(w->kv, cap);
        if (!nb) return hearth_fail(HEARTH_ERR_NOMEM, "gguf write: out of memory");
        w->kv = nb;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return 0;
}

/* GGUF is little-endian; so are all hosts hearth targets, which the reader also assumes for tensor data. */
static int put_u32(gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static int put_u64(gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static int put_str(gguf_writer *w, const char *s) {
    size_t n = strlen(s);
    int rc = put_u64(w, n);
    return rc ? rc : put(w, s, n);
}

/* Start a pair: check the key is new, remember it, write it and the value type. */
static int begin_kv(gguf_writer *w, const char *key, enum gguf_vtype type) {
    if (w->begun) return hearth_fail(HEARTH_ERR_ARG, "gguf write: key '%s' declared after the header was written", key);
    if (!*key) return hearth_fail(HEARTH_ERR_ARG, "gguf write: empty key");
    for (size_t i = 0; i < w->n_keys; i++)
        if (!strcmp(w->keys[i], key)) return hearth_fail(HEARTH_ERR_ARG, "gguf write: duplicate key '%s'", key);
    char **nk = realloc(w->keys, sizeof(char *) * (w->n_keys + 1));
    if (!nk) return hearth_fail(HEARTH_ERR_NOMEM, "gguf write: out of memory");
    w->keys = nk;
    if (!(w->keys[w->n_keys] = strdup(key))) return hearth_fail(HEARTH_ERR_NOMEM, "gguf write: out of memory");
    w->n_keys++;
    int rc = put_str(w, key);
    return rc ? rc : put_u32(w, (uint32_t)type);
}

static int scalar(gguf_writer *w, const char *key, enum gguf_vtype type, const void *v, size_t size) {
    int rc = begin_kv(w, key, type);
    return rc ? rc : put(w, v, size);
}

int gguf_w_u32(gguf_writer *w, const char *key, uint32_t v) {
    if (!strcmp(key, "general.alignment")) {
        if (v == 0 || (v & (v - 1)) || w->n_tensors)
            return hearth_fail(HEARTH_ERR_ARG, "gguf write: general.alignment must be a power of two set before tensors");
        w->alignment = v;
    }
    return scalar(w, key, GGUF_U32, &v, 4);
}
int gguf_w_i32(gguf_writer *w, const char *key, int32_t v) { return scalar(w, key, GGUF_I32, &v, 4); }
int gguf_w_u64(gguf_writer *w, const char *key, uint64_t v) { return scalar(w, key, GGUF_U64, &v, 8); }
int gguf_w_f32(gguf_writer *w, const char *key, float v) { return scalar(w, key, GGUF_F32, &v, 4); }
int gguf_w_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return scalar(w, key, GGUF_BOOL, &b, 1);
}
int gguf_w_str(gguf_writer *w, const char *key, const char *v) {
    int rc = begin_kv(w, key, GGUF_STRING);
    return rc ? rc : put_str(w, v);
}

static int array(gguf_writer *w, const char *key, enum gguf_vtype et, const void *v, size_t n, size_t esize) {
    int rc = begin_kv(w, key, GGUF_ARRAY);
    if (!rc) rc = put_u32(w, (uint32_t)et);
    if (!rc) rc = put_u64(w, n);
    if (!rc && n) rc = put(w, v, n * esize);
    return rc;
}
int gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, size_t n) { return array(w, key, GGUF_I32, v, n, 4); }
int gguf_w_arr_u32(gguf_writer *w, const char *key, const uint32_t *v, size_t n) { return array(w, key, GGUF_U32, v, n, 4); }
int gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, size_t n) { return array(w, key, GGUF_F32, v, n, 4); }
int gguf_w_arr_bool(gguf_writer *w, const char *key, const bool *v, size_t n) {
    int rc = begin_kv(w, key, GGUF_ARRAY);
    if (!rc) rc = put_u32(w, GGUF_BOOL);
    if (!rc) rc = put_u64(w, n);
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t b = v[i] ? 1 : 0;
        rc = put(w, &b, 1);
    }
    return rc;
}
int gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *v, size_t n) {
    int rc = begin_kv(w, key, GGUF_ARRAY);
    if (!rc) rc = put_u32(w, GGUF_STRING);
    if (!rc) rc = put_u64(w, n);
    for (size_t i = 0; i < n && !rc; i++) rc = put_str(w, v[i]);
    return rc;
}

/* ------------------------------------------------------------------------------------------- tensors */

int gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne) {
    if (w->begun) return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' declared after the header was written", name);
    const type_traits *tt = type_get(type);
    if (!tt) return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' has unknown type %u", name, type);
    if (n_dims < 1 || n_dims > 4) return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' has %d dims", name, n_dims);
    if (!*name) return hearth_fail(HEARTH_ERR_ARG, "gguf write: empty tensor name");
    for (int i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) return hearth_fail(HEARTH_ERR_ARG, "gguf write: duplicate tensor '%s'", name);
    wtensor t = {.type = type, .n_dims = n_dims, .ne = {1, 1, 1, 1}};
    uint64_t n_rows = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] <= 0) return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' has dimension %d = %lld", name, d, (long long)ne[d]);
        t.ne[d] = ne[d];
        if (d > 0 && checked_mul_u64(n_rows, (uint64_t)ne[d], &n_rows))
            return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' is too large", name);
    }
    if (t.ne[0] % tt->block_size)
        return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' row of %lld is not a multiple of %s's block of %d",
                           name, (long long)t.ne[0], tt->name, tt->block_size);
    if (checked_mul_u64(type_row_bytes(tt, (uint64_t)t.ne[0]), n_rows, &t.nbytes))
        return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' is too large", name);
    if (w->n_tensors == w->cap_tensors) {
        int cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *nt = realloc(w->tensors, sizeof(wtensor) * (size_t)cap);
        if (!nt) return hearth_fail(HEARTH_ERR_NOMEM, "gguf write: out of memory");
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    if (!(t.name = strdup(name))) return hearth_fail(HEARTH_ERR_NOMEM, "gguf write: out of memory");
    t.offset = w->data_bytes;
    w->data_bytes = align_up(t.offset + t.nbytes, w->alignment);
    w->tensors[w->n_tensors] = t;
    return w->n_tensors++;
}

uint64_t gguf_w_tensor_bytes(const gguf_writer *w, int i) {
    return i >= 0 && i < w->n_tensors ? w->tensors[i].nbytes : 0;
}
int gguf_w_n_tensors(const gguf_writer *w) { return w->n_tensors; }

uint64_t gguf_w_header_bytes(const gguf_writer *w) {
    uint64_t n = 4 + 4 + 8 + 8 + w->kv_len;
    for (int i = 0; i < w->n_tensors; i++)
        n += 8 + strlen(w->tensors[i].name) + 4 + 8 * (uint64_t)w->tensors[i].n_dims + 4 + 8;
    return align_up(n, w->alignment);
}

uint64_t gguf_w_file_bytes(const gguf_writer *w) { return gguf_w_header_bytes(w) + w->data_bytes; }

/* --------------------------------------------------------------------------------------------- output */

static int out(FILE *fp, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, fp) != n) return hearth_fail(HEARTH_ERR_IO, "gguf write: write failed (disk full?)");
    return 0;
}

static int pad(FILE *fp, uint64_t n) {
    static const uint8_t zeros[64];
    while (n) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        int rc = out(fp, zeros, k);
        if (rc) return rc;
        n -= k;
    }
    return 0;
}

int gguf_w_begin(gguf_writer *w, FILE *fp) {
    if (w->begun) return hearth_fail(HEARTH_ERR_ARG, "gguf write: header already written");
    uint32_t magic_version[2] = {0x46554747u /* "GGUF" */, 3};
    uint64_t counts[2] = {(uint64_t)w->n_tensors, (uint64_t)w->n_keys};
    int rc = out(fp, magic_version, 8);
    if (!rc) rc = out(fp, counts, 16);
    if (!rc) rc = out(fp, w->kv, w->kv_len);
    uint64_t n = 24 + w->kv_len;
    for (int i = 0; i < w->n_tensors && !rc; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims;
        uint64_t ne[4];
        for (int d = 0; d < t->n_dims; d++) ne[d] = (uint64_t)t->ne[d];
        rc = out(fp, &len, 8);
        if (!rc) rc = out(fp, t->name, len);
        if (!rc) rc = out(fp, &nd, 4);
        if (!rc) rc = out(fp, ne, 8 * (size_t)nd);
        if (!rc) rc = out(fp, &t->type, 4);
        if (!rc) rc = out(fp, &t->offset, 8);
        n += 8 + len + 4 + 8 * (uint64_t)nd + 4 + 8;
    }
    if (!rc) rc = pad(fp, align_up(n, w->alignment) - n);
    if (rc) return rc;
    w->begun = true;
    w->cur = 0;
    w->cur_written = 0;
    return 0;
}

int gguf_w_write(gguf_writer *w, FILE *fp, const void *data, size_t n) {
    if (!w->begun) return hearth_fail(HEARTH_ERR_ARG, "gguf write: data before the header");
    if (w->cur >= w->n_tensors) return hearth_fail(HEARTH_ERR_ARG, "gguf write: data past the last tensor");
    const wtensor *t = &w->tensors[w->cur];
    if (n > t->nbytes - w->cur_written)
        return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' gets more than its %llu bytes", t->name,
                           (unsigned long long)t->nbytes);
    int rc = out(fp, data, n);
    if (!rc) w->cur_written += n;
    return rc;
}

int gguf_w_end_tensor(gguf_writer *w, FILE *fp) {
    if (!w->begun || w->cur >= w->n_tensors) return hearth_fail(HEARTH_ERR_ARG, "gguf write: no tensor to end");
    const wtensor *t = &w->tensors[w->cur];
    if (w->cur_written != t->nbytes)
        return hearth_fail(HEARTH_ERR_ARG, "gguf write: tensor '%s' got %llu of its %llu bytes", t->name,
                           (unsigned long long)w->cur_written, (unsigned long long)t->nbytes);
    uint64_t end = w->cur + 1 < w->n_tensors ? w->tensors[w->cur + 1].offset : w->data_bytes;
    int rc = pad(fp, end - (t->offset + t->nbytes));
    if (rc) return rc;
    w->cur++;
    w->cur_written = 0;
    return 0;
}

int gguf_w_finish(gguf_writer *w, FILE *fp) {
    if (!w->begun) return hearth_fail(HEARTH_ERR_ARG, "gguf write: header never written");
    if (w->cur != w->n_tensors)
        return hearth_fail(HEARTH_ERR_ARG, "gguf write: only %d of %d tensors written", w->cur, w->n_tensors);
    if (fflush(fp) != 0) return hearth_fail(HEARTH_ERR_IO, "gguf write: flush failed (disk full?)");
    return 0;
}
