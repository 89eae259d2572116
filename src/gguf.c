/* gguf.c — GGUF v2/v3 reader (contract in gguf.h).
 *
 * The whole file is parsed and validated up front; afterwards nothing can fail and every pointer handed out
 * lies inside the buffer. How hostile input is kept harmless:
 *   - All reads go through a cursor that checks the remaining byte count before forming any pointer, and all
 *     size arithmetic on file values uses the checked helpers of util.h.
 *   - Counts from the file are never trusted for allocation: the kv and tensor arrays grow as entries are
 *     actually parsed, and a string array is walked (validated) before its index is allocated, so heap use
 *     stays proportional to bytes really present in the file.
 *   - Duplicate and overlap checks sort instead of comparing all pairs, so no input makes them quadratic.
 * Every failure leaves a one-line "gguf: ..." message and a zeroed gguf_file (fd -1). */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "types.h"
#include "util.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32
#define SHOWN_NAME_MAX 64 /* longest name quoted in an error message */

typedef unsigned long long ull; /* for printf */

/* Bytes per element of the fixed-size value types; 0 for STRING and ARRAY (variable size). */
static const uint8_t vtype_size[GGUF_F64 + 1] = {
    [GGUF_U8] = 1,  [GGUF_I8] = 1,  [GGUF_U16] = 2,  [GGUF_I16] = 2, [GGUF_U32] = 4, [GGUF_I32] = 4,
    [GGUF_F32] = 4, [GGUF_BOOL] = 1, [GGUF_U64] = 8, [GGUF_I64] = 8, [GGUF_F64] = 8,
};

static const char *vtype_name(uint32_t t) {
    static const char *names[GGUF_F64 + 1] = {"u8",  "i8",   "u16",    "i16",   "u32", "i32", "f32",
                                              "bool", "string", "array", "u64", "i64", "f64"};
    return t <= GGUF_F64 ? names[t] : "unknown";
}

static bool vtype_known(uint32_t t) { return t <= GGUF_F64; }

/* ------------------------------------------------------------------------------------------ the cursor */

typedef struct {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos; /* invariant: pos <= size */
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

/* Take n bytes, or return false (cursor unchanged) when fewer remain. */
static bool take(cursor *c, uint64_t n, const uint8_t **out) {
    if (n > remaining(c)) return false;
    *out = c->base + c->pos;
    c->pos += n;
    return true;
}

/* The file is little-endian whatever the host is. */
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static bool take_u32(cursor *c, uint32_t *v) {
    const uint8_t *p;
    if (!take(c, 4, &p)) return false;
    *v = le32(p);
    return true;
}

static bool take_u64(cursor *c, uint64_t *v) {
    const uint8_t *p;
    if (!take(c, 8, &p)) return false;
    *v = le64(p);
    return true;
}

/* ------------------------------------------------------------------------------------------ the parser */

typedef struct {
    cursor c;
    gguf_file *f;
    char where[160]; /* what is being read, for error messages: "metadata key #3 ('general.name')" */
} parser;

static void set_where(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_where(parser *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->where, sizeof p->where, fmt, ap);
    va_end(ap);
}

static int truncated(const parser *p) {
    return hearth_fail(HEARTH_ERR_FORMAT, "gguf: truncated while reading %s (offset %llu, file size %llu)",
                       p->where, (ull)p->c.pos, (ull)p->c.size);
}

static int out_of_memory(const parser *p) {
    return hearth_fail(HEARTH_ERR_NOMEM, "gguf: out of memory while reading %s", p->where);
}

static int read_u32(parser *p, uint32_t *v) { return take_u32(&p->c, v) ? 0 : truncated(p); }
static int read_u64(parser *p, uint64_t *v) { return take_u64(&p->c, v) ? 0 : truncated(p); }

static int read_str(parser *p, gguf_str *s) {
    uint64_t n;
    const uint8_t *bytes;
    if (read_u64(p, &n) < 0) return HEARTH_ERR_FORMAT;
    if (!take(&p->c, n, &bytes))
        return hearth_fail(HEARTH_ERR_FORMAT,
                           "gguf: %s: string length %llu extends past end of file (offset %llu, file size %llu)",
                           p->where, (ull)n, (ull)p->c.pos, (ull)p->c.size);
    s->s = (const char *)bytes;
    s->n = n;
    return 0;
}

/* Grow a heap array by doubling when it is full. Returns the (possibly moved) array, or NULL on failure
 * (the old array is still valid and owned by the caller). */
static void *grow(void *arr, uint64_t *cap, size_t elem) {
    uint64_t new_cap = *cap ? *cap * 2 : 16;
    if (new_cap > SIZE_MAX / elem) return NULL;
    void *grown = realloc(arr, (size_t)(new_cap * elem));
    if (grown) *cap = new_cap;
    return grown;
}

static int read_array(parser *p, gguf_kv *kv) {
    uint32_t elem_type;
    uint64_t n;
    if (read_u32(p, &elem_type) < 0 || read_u64(p, &n) < 0) return HEARTH_ERR_FORMAT;
    if (!vtype_known(elem_type))
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: unknown array element type %u", p->where, elem_type);
    if (elem_type == GGUF_ARRAY)
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "gguf: %s: nested arrays are not supported", p->where);
    kv->arr_type = (enum gguf_vtype)elem_type;
    kv->arr_n = n;
    kv->data = p->c.base + p->c.pos;

    /* Fixed-size elements: the whole array must fit in what is left of the file. */
    if (elem_type != GGUF_STRING) {
        uint64_t bytes;
        const uint8_t *unused;
        if (checked_mul_u64(n, vtype_size[elem_type], &bytes) < 0 || !take(&p->c, bytes, &unused))
            return hearth_fail(HEARTH_ERR_FORMAT,
                               "gguf: %s: array of %llu %s elements extends past end of file (offset %llu, "
                               "file size %llu)",
                               p->where, (ull)n, vtype_name(elem_type), (ull)p->c.pos, (ull)p->c.size);
        return 0;
    }

    /* Strings: each needs at least its 8-byte length, which bounds n before anything is allocated. Then walk
     * the lengths once to validate them, and only then allocate the index and fill it. */
    if (n > remaining(&p->c) / 8)
        return hearth_fail(HEARTH_ERR_FORMAT,
                           "gguf: %s: array of %llu strings extends past end of file (offset %llu, file size %llu)",
                           p->where, (ull)n, (ull)p->c.pos, (ull)p->c.size);
    cursor probe = p->c;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        const uint8_t *unused;
        if (!take_u64(&probe, &len) || !take(&probe, len, &unused))
            return hearth_fail(HEARTH_ERR_FORMAT,
                               "gguf: %s: string #%llu of the array extends past end of file (offset %llu, "
                               "file size %llu)",
                               p->where, (ull)i, (ull)probe.pos, (ull)probe.size);
    }
    if (n == 0) return 0;
    if (n > SIZE_MAX / sizeof *kv->strs) return out_of_memory(p);
    kv->strs = malloc((size_t)n * sizeof *kv->strs);
    if (!kv->strs) return out_of_memory(p);
    for (uint64_t i = 0; i < n; i++)
        if (read_str(p, &kv->strs[i]) < 0) return HEARTH_ERR_FORMAT; /* cannot happen: validated above */
    return 0;
}

static int read_value(parser *p, gguf_kv *kv) {
    uint32_t type;
    if (read_u32(p, &type) < 0) return HEARTH_ERR_FORMAT;
    if (!vtype_known(type))
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: unknown value type %u", p->where, type);
    kv->type = (enum gguf_vtype)type;
    kv->data = p->c.base + p->c.pos; /* for strings: their length prefix */
    if (type == GGUF_ARRAY) return read_array(p, kv);
    if (type == GGUF_STRING) {
        gguf_str s;
        if (read_str(p, &s) < 0) return HEARTH_ERR_FORMAT;
        kv->strs = malloc(sizeof *kv->strs);
        if (!kv->strs) return out_of_memory(p);
        kv->strs[0] = s;
        return 0;
    }
    const uint8_t *unused;
    return take(&p->c, vtype_size[type], &unused) ? 0 : truncated(p);
}

/* A key or tensor name fit for a one-line message: at most SHOWN_NAME_MAX bytes (then "..."), control bytes
 * as '?'. Returned by value so it can be used inline as a printf argument. */
typedef struct {
    char s[SHOWN_NAME_MAX + 4];
} shown_name;

static shown_name shown(gguf_str name) {
    shown_name out;
    size_t n = name.n > SHOWN_NAME_MAX ? SHOWN_NAME_MAX : (size_t)name.n;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name.s[i];
        out.s[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    strcpy(out.s + n, name.n > SHOWN_NAME_MAX ? "..." : "");
    return out;
}

static int read_metadata(parser *p, uint64_t n_kv) {
    gguf_file *f = p->f;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (f->n_kv == cap) {
            gguf_kv *grown = grow(f->kv, &cap, sizeof *grown);
            if (!grown) return out_of_memory(p);
            f->kv = grown;
        }
        gguf_kv *kv = &f->kv[f->n_kv++]; /* counted at once so that cleanup frees what it may own */
        memset(kv, 0, sizeof *kv);
        set_where(p, "metadata key #%llu", (ull)i);
        if (read_str(p, &kv->key) < 0) return HEARTH_ERR_FORMAT;
        set_where(p, "metadata key #%llu ('%s')", (ull)i, shown(kv->key).s);
        int rc = read_value(p, kv);
        if (rc < 0) return rc;
    }
    return 0;
}

static int read_tensor_info(parser *p, uint64_t i, gguf_tensor *t) {
    set_where(p, "tensor #%llu", (ull)i);
    if (read_str(p, &t->name) < 0) return HEARTH_ERR_FORMAT;
    set_where(p, "tensor #%llu ('%s')", (ull)i, shown(t->name).s);
    if (read_u32(p, &t->n_dims) < 0) return HEARTH_ERR_FORMAT;
    if (t->n_dims > GGUF_MAX_DIMS)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: %u dimensions (at most %d)", p->where, t->n_dims,
                           GGUF_MAX_DIMS);
    uint64_t n_elements = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if ((uint32_t)d < t->n_dims && read_u64(p, &ne) < 0) return HEARTH_ERR_FORMAT;
        if (ne == 0 || ne > INT64_MAX)
            return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: ne[%d] = %lld is not positive", p->where, d,
                               (long long)ne);
        if (checked_mul_u64(n_elements, ne, &n_elements) < 0 || n_elements > INT64_MAX)
            return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: element count overflows int64", p->where);
        t->ne[d] = (int64_t)ne;
    }
    if (read_u32(p, &t->type) < 0 || read_u64(p, &t->offset) < 0) return HEARTH_ERR_FORMAT;
    const type_traits *tt = type_get(t->type);
    if (!tt) return hearth_fail(HEARTH_ERR_UNSUPPORTED, "gguf: %s: unknown tensor type %u", p->where, t->type);
    if (t->ne[0] % tt->block_size != 0)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: row length %lld is not a multiple of the %s block size %d",
                           p->where, (long long)t->ne[0], tt->name, tt->block_size);
    /* not type_row_bytes(): its multiplication is unchecked. rows cannot overflow (bounded by n_elements). */
    uint64_t rows = (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]), row_bytes;
    if (checked_mul_u64((uint64_t)t->ne[0] / (uint64_t)tt->block_size, (uint64_t)tt->type_size, &row_bytes) < 0 ||
        checked_mul_u64(row_bytes, rows, &t->nbytes) < 0)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: %s: data size overflows", p->where);
    return 0;
}

static int read_tensor_table(parser *p, uint64_t n_tensors) {
    gguf_file *f = p->f;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (f->n_tensors == cap) {
            gguf_tensor *grown = grow(f->tensors, &cap, sizeof *grown);
            if (!grown) return out_of_memory(p);
            f->tensors = grown;
        }
        gguf_tensor *t = &f->tensors[f->n_tensors++];
        memset(t, 0, sizeof *t);
        int rc = read_tensor_info(p, i, t);
        if (rc < 0) return rc;
    }
    return 0;
}

static int read_alignment(gguf_file *f) {
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find_kv(f, "general.alignment");
    if (!kv) return 0;
    if (kv->type != GGUF_U32)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: general.alignment has type %s (expected u32)",
                           vtype_name(kv->type));
    uint32_t a = le32(kv->data);
    if (a == 0 || (a & (a - 1)) != 0)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: general.alignment %u is not a nonzero power of two", a);
    f->alignment = a;
    return 0;
}

/* ------------------------------------------------------------------------ whole-file consistency checks */

static int compare_str(gguf_str a, gguf_str b) {
    uint64_t n = a.n < b.n ? a.n : b.n;
    int r = n ? memcmp(a.s, b.s, (size_t)n) : 0;
    if (r) return r;
    return (a.n > b.n) - (a.n < b.n);
}

static int by_key(const void *a, const void *b) {
    return compare_str((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}
static int by_name(const void *a, const void *b) {
    return compare_str((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}
static int by_offset(const void *a, const void *b) {
    uint64_t x = (*(const gguf_tensor *const *)a)->offset, y = (*(const gguf_tensor *const *)b)->offset;
    return (x > y) - (x < y);
}

static int check_unique_keys(const gguf_file *f) {
    if (f->n_kv < 2) return 0;
    const gguf_kv **sorted = malloc((size_t)f->n_kv * sizeof *sorted); /* n_kv entries already exist */
    if (!sorted) return hearth_fail(HEARTH_ERR_NOMEM, "gguf: out of memory checking metadata keys");
    for (uint64_t i = 0; i < f->n_kv; i++) sorted[i] = &f->kv[i];
    qsort(sorted, (size_t)f->n_kv, sizeof *sorted, by_key);
    int rc = 0;
    for (uint64_t i = 1; i < f->n_kv && rc == 0; i++)
        if (compare_str(sorted[i - 1]->key, sorted[i]->key) == 0)
            rc = hearth_fail(HEARTH_ERR_FORMAT, "gguf: duplicate metadata key '%s'", shown(sorted[i]->key).s);
    free(sorted);
    return rc;
}

/* Tensor names are unique and no two tensors' bytes overlap. */
static int check_tensor_layout(const gguf_file *f) {
    if (f->n_tensors < 2) return 0;
    const gguf_tensor **sorted = malloc((size_t)f->n_tensors * sizeof *sorted);
    if (!sorted) return hearth_fail(HEARTH_ERR_NOMEM, "gguf: out of memory checking the tensor table");
    for (uint64_t i = 0; i < f->n_tensors; i++) sorted[i] = &f->tensors[i];
    int rc = 0;
    qsort(sorted, (size_t)f->n_tensors, sizeof *sorted, by_name);
    for (uint64_t i = 1; i < f->n_tensors && rc == 0; i++)
        if (compare_str(sorted[i - 1]->name, sorted[i]->name) == 0)
            rc = hearth_fail(HEARTH_ERR_FORMAT, "gguf: duplicate tensor name '%s'", shown(sorted[i]->name).s);
    qsort(sorted, (size_t)f->n_tensors, sizeof *sorted, by_offset);
    for (uint64_t i = 1; i < f->n_tensors && rc == 0; i++) {
        const gguf_tensor *a = sorted[i - 1], *b = sorted[i];
        if (a->offset + a->nbytes > b->offset) /* no overflow: both lie inside the file */
            rc = hearth_fail(HEARTH_ERR_FORMAT,
                             "gguf: tensors '%s' (offset %llu, %llu bytes) and '%s' (offset %llu) overlap",
                             shown(a->name).s, (ull)a->offset, (ull)a->nbytes, shown(b->name).s, (ull)b->offset);
    }
    free(sorted);
    return rc;
}

/* Place every tensor in the data section that starts at the aligned offset after the tensor table. */
static int place_tensors(gguf_file *f, uint64_t table_end) {
    uint64_t pad = (f->alignment - table_end % f->alignment) % f->alignment, data_start;
    if (checked_add_u64(table_end, pad, &data_start) < 0)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: data section offset overflows");
    /* With no tensors the file may end before the aligned offset; data then points at the end. */
    f->data = f->base + (data_start <= f->size ? data_start : f->size);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t start, end;
        if (t->offset % f->alignment != 0)
            return hearth_fail(HEARTH_ERR_FORMAT,
                               "gguf: tensor '%s' offset %llu is not a multiple of the alignment %llu",
                               shown(t->name).s, (ull)t->offset, (ull)f->alignment);
        if (checked_add_u64(data_start, t->offset, &start) < 0 || checked_add_u64(start, t->nbytes, &end) < 0 ||
            end > f->size)
            return hearth_fail(HEARTH_ERR_FORMAT,
                               "gguf: tensor '%s' data (offset %llu, %llu bytes) extends past end of file "
                               "(size %llu)",
                               shown(t->name).s, (ull)t->offset, (ull)t->nbytes, (ull)f->size);
        t->data = f->base + start;
    }
    return check_tensor_layout(f);
}

static int parse(gguf_file *f) {
    parser p = {.c = {.base = f->base, .size = f->size, .pos = 0}, .f = f};
    const uint8_t *magic;
    uint64_t n_kv, n_tensors;

    set_where(&p, "the header");
    if (!take(&p.c, 4, &magic) || memcmp(magic, GGUF_MAGIC, 4) != 0)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: not a GGUF file (bad magic)");
    if (read_u32(&p, &f->version) < 0) return HEARTH_ERR_FORMAT;
    if (f->version == 0x02000000u || f->version == 0x03000000u)
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "gguf: big-endian GGUF files are not supported");
    if (f->version != 2 && f->version != 3)
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "gguf: unsupported version %u (expected 2 or 3)", f->version);
    if (read_u64(&p, &n_tensors) < 0 || read_u64(&p, &n_kv) < 0) return HEARTH_ERR_FORMAT;

    /* Cheap sanity bounds: a kv takes at least 13 bytes (key length, type, 1-byte value), a tensor at least
     * 24 (name length, n_dims, type, offset). Parsing checks precisely; this only gives a clearer message. */
    if (n_kv > remaining(&p.c) / 13)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: n_kv %llu is impossible in a file of %llu bytes", (ull)n_kv,
                           (ull)f->size);
    if (n_tensors > remaining(&p.c) / 24)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: n_tensors %llu is impossible in a file of %llu bytes",
                           (ull)n_tensors, (ull)f->size);

    int rc;
    if ((rc = read_metadata(&p, n_kv)) < 0) return rc;
    if ((rc = check_unique_keys(f)) < 0) return rc;
    if ((rc = read_alignment(f)) < 0) return rc;
    if ((rc = read_tensor_table(&p, n_tensors)) < 0) return rc;
    return place_tensors(f, p.c.pos);
}

/* ----------------------------------------------------------------------------------- opening and closing */

int gguf_open_memory(gguf_file *f, const void *buf, size_t size) {
    static const uint8_t empty[1];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!buf && size) return hearth_fail(HEARTH_ERR_ARG, "gguf: NULL buffer of %zu bytes", size);
    f->base = buf ? buf : empty; /* never do arithmetic on a NULL pointer */
    f->size = size;
    int rc = parse(f);
    if (rc < 0) gguf_close(f);
    return rc;
}

int gguf_open(gguf_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* O_NONBLOCK: opening a FIFO must not hang */
    if (fd < 0) return hearth_fail(HEARTH_ERR_IO, "gguf: cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return hearth_fail(HEARTH_ERR_IO, "gguf: cannot stat '%s': %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hearth_fail(HEARTH_ERR_IO, "gguf: '%s' is not a regular file", path);
    }
    if (st.st_size == 0) { /* mmap refuses empty files */
        close(fd);
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: not a GGUF file ('%s' is empty)", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return hearth_fail(HEARTH_ERR_IO, "gguf: '%s' is too large to map", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        int err = errno;
        close(fd);
        return hearth_fail(HEARTH_ERR_IO, "gguf: cannot map '%s': %s", path, strerror(err));
    }
#ifdef MADV_HUGEPAGE
    /* Pages this mapping reads from disk then come into the page cache as 2 MB folios (where the file
     * system supports large folios), which every later run maps with one entry per 2 MB: the first prompt's
     * touch of E2B Q8_0's 2 GB of weights takes ~0.01 s instead of ~0.08 s of page faults. Advice only:
     * without transparent huge pages nothing changes. */
    madvise(map, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
    f->base = map;
    f->size = (uint64_t)st.st_size;
    f->fd = fd;
    f->owns_map = true;
    int rc = parse(f);
    if (rc < 0) gguf_close(f);
    return rc;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++) free(f->kv[i].strs);
    free(f->kv);
    free(f->tensors);
    if (f->owns_map) { /* a zeroed struct has owns_map false, so fd 0 is never closed by accident */
        if (f->base) munmap((void *)f->base, (size_t)f->size);
        if (f->fd >= 0) close(f->fd);
    }
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

/* ------------------------------------------------------------------------------------------- lookups */

bool gguf_str_eq(gguf_str a, const char *b) {
    if (!b) return false;
    size_t n = strlen(b);
    return a.n == n && (n == 0 || memcmp(a.s, b, n) == 0);
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------- typed values */

/* An integer (or bool) value of any width: negative values in i, the others in u. */
typedef struct {
    bool negative;
    int64_t i;
    uint64_t u;
} int_value;

static bool decode_int(enum gguf_vtype t, const uint8_t *p, int_value *v) {
    int64_t s;
    switch (t) {
    case GGUF_BOOL: *v = (int_value){.u = p[0] != 0}; return true;
    case GGUF_U8: *v = (int_value){.u = p[0]}; return true;
    case GGUF_U16: *v = (int_value){.u = le16(p)}; return true;
    case GGUF_U32: *v = (int_value){.u = le32(p)}; return true;
    case GGUF_U64: *v = (int_value){.u = le64(p)}; return true;
    case GGUF_I8: s = (int8_t)p[0]; break;
    case GGUF_I16: s = (int16_t)le16(p); break;
    case GGUF_I32: s = (int32_t)le32(p); break;
    case GGUF_I64: s = (int64_t)le64(p); break;
    default: return false;
    }
    *v = s < 0 ? (int_value){.negative = true, .i = s} : (int_value){.u = (uint64_t)s};
    return true;
}

static bool int_to_i64(int_value v, int64_t *out) {
    if (v.negative) {
        *out = v.i;
        return true;
    }
    if (v.u > INT64_MAX) return false;
    *out = (int64_t)v.u;
    return true;
}

static bool decode_double(enum gguf_vtype t, const uint8_t *p, double *out) {
    union { uint32_t u; float f; } f32;
    union { uint64_t u; double d; } f64;
    int_value v;
    if (t == GGUF_F32) {
        f32.u = le32(p);
        *out = f32.f;
    } else if (t == GGUF_F64) {
        f64.u = le64(p);
        *out = f64.d;
    } else if (decode_int(t, p, &v)) {
        *out = v.negative ? (double)v.i : (double)v.u;
    } else {
        return false;
    }
    return true;
}

static int wrong_type(const gguf_kv *kv, const char *expected) {
    bool array = kv->type == GGUF_ARRAY;
    return hearth_fail(HEARTH_ERR_FORMAT, "gguf: key '%s' has type %s%s%s, expected %s", shown(kv->key).s,
                       vtype_name(kv->type), array ? " of " : "", array ? vtype_name(kv->arr_type) : "", expected);
}

static int out_of_range(const gguf_kv *kv, int_value v, const char *target) {
    if (v.negative)
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: key '%s' value %lld is out of range for %s",
                           shown(kv->key).s, (long long)v.i, target);
    return hearth_fail(HEARTH_ERR_FORMAT, "gguf: key '%s' value %llu is out of range for %s", shown(kv->key).s,
                       (ull)v.u, target);
}

/* Scalars only: an array's data points at its elements, which must not be read as a value. */
static bool is_scalar(const gguf_kv *kv) { return kv->type != GGUF_ARRAY && kv->type != GGUF_STRING; }

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    int_value v;
    if (!kv) return 0;
    if (!is_scalar(kv) || !decode_int(kv->type, kv->data, &v)) return wrong_type(kv, "an integer");
    if (v.negative || v.u > UINT32_MAX) return out_of_range(kv, v, "u32");
    *out = (uint32_t)v.u;
    return 1;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    int_value v;
    if (!kv) return 0;
    if (!is_scalar(kv) || !decode_int(kv->type, kv->data, &v)) return wrong_type(kv, "an integer");
    if (!int_to_i64(v, out)) return out_of_range(kv, v, "i64");
    return 1;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    double d;
    if (!kv) return 0;
    if (!is_scalar(kv) || !decode_double(kv->type, kv->data, &d)) return wrong_type(kv, "a number");
    /* f64 values beyond float's range would silently become infinities */
    if (kv->type == GGUF_F64 && isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
        return hearth_fail(HEARTH_ERR_FORMAT, "gguf: key '%s' value %g is out of range for f32",
                           shown(kv->key).s, d);
    *out = (float)d;
    return 1;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    int_value v;
    if (!kv) return 0;
    if (!is_scalar(kv) || !decode_int(kv->type, kv->data, &v)) return wrong_type(kv, "a bool");
    if (kv->type != GGUF_BOOL && (v.negative || v.u > 1)) return out_of_range(kv, v, "bool");
    *out = v.u != 0;
    return 1;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_STRING) return wrong_type(kv, "a string");
    *out = kv->strs[0];
    return 1;
}

/* Element i of a fixed-size array, or NULL. No overflow: arr_n * size was checked against the file size. */
static const uint8_t *array_elem(const gguf_kv *kv, uint64_t i) {
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_n || !vtype_known(kv->arr_type)) return NULL;
    uint8_t size = vtype_size[kv->arr_type];
    return size ? kv->data + i * size : NULL;
}

bool gguf_arr_i64(const gguf_kv *kv, uint64_t i, int64_t *out) {
    const uint8_t *p = array_elem(kv, i);
    int_value v;
    return p && decode_int(kv->arr_type, p, &v) && int_to_i64(v, out);
}

bool gguf_arr_f64(const gguf_kv *kv, uint64_t i, double *out) {
    const uint8_t *p = array_elem(kv, i);
    return p && decode_double(kv->arr_type, p, out);
}

bool gguf_arr_to_f32(const gguf_kv *kv, uint64_t n, float *out) {
    if (!kv || kv->type != GGUF_ARRAY || (n && !array_elem(kv, n - 1))) return false;
    if (kv->arr_type == GGUF_F32) {
        for (uint64_t i = 0; i < n; i++) {
            uint32_t u = le32(kv->data + 4 * i);
            memcpy(&out[i], &u, 4);
        }
        return true;
    }
    for (uint64_t i = 0; i < n; i++) {
        double d;
        if (!gguf_arr_f64(kv, i, &d)) return false;
        out[i] = (float)d;
    }
    return true;
}

bool gguf_arr_to_i32(const gguf_kv *kv, uint64_t n, int32_t *out) {
    if (!kv || kv->type != GGUF_ARRAY || (n && !array_elem(kv, n - 1))) return false;
    if (kv->arr_type == GGUF_I32) {
        for (uint64_t i = 0; i < n; i++) out[i] = (int32_t)le32(kv->data + 4 * i);
        return true;
    }
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p = array_elem(kv, i);
        int_value v;
        if (!p || !decode_int(kv->arr_type, p, &v)) return false;
        out[i] = v.negative ? (v.i < INT32_MIN ? INT32_MIN : (int32_t)v.i) : (v.u > INT32_MAX ? INT32_MAX : (int32_t)v.u);
    }
    return true;
}
