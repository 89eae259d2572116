/* gguf.h — GGUF (v2, v3) reader over a read-only memory mapping.
 *
 * Contract: gguf_open / gguf_open_memory validate every count, string length, offset, size and type against
 * the file size before use. On any problem they return a negative hearth_status with a one-line message in
 * hearth_last_error() naming it (e.g. "gguf: tensor 'blk.0.attn_q.weight' data [..] extends past end of file").
 * After success every pointer below points into the mapping (little-endian, possibly unaligned for metadata)
 * and stays valid until gguf_close. Tensor data is never copied. Only small index arrays live on the heap. */
#ifndef HEARTH_GGUF_H
#define HEARTH_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
    GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
};

typedef struct {
    const char *s; /* NOT NUL-terminated; points into the mapping */
    uint64_t n;
} gguf_str;

typedef struct {
    gguf_str key;
    enum gguf_vtype type;
    enum gguf_vtype arr_type;  /* element type when type == GGUF_ARRAY */
    uint64_t arr_n;            /* element count when type == GGUF_ARRAY */
    const uint8_t *data;       /* scalar value, or first array element (fixed-size element types);
                                  for strings and string arrays, the first length prefix */
    gguf_str *strs;            /* string value (1 entry) or string-array elements (arr_n entries); heap */
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[4];             /* ne[0] is the row length (contiguous); unused dims are 1 */
    uint32_t type;             /* enum tensor_type (types.h) */
    uint64_t offset;           /* relative to the data section */
    uint64_t nbytes;
    const void *data;          /* into the mapping, aligned to the file's alignment */
} gguf_tensor;

typedef struct {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint64_t alignment;
    const uint8_t *base;       /* the mapping */
    uint64_t size;
    const uint8_t *data;       /* start of the tensor data section (base + size when a file without
                                  tensors ends before the aligned offset) */
    int fd;                    /* -1 for memory-backed files */
    bool owns_map;
} gguf_file;

/* Both return 0 or a negative hearth_status: HEARTH_ERR_FORMAT for a malformed file, HEARTH_ERR_UNSUPPORTED
 * for a version other than 2 or 3, big-endian files, unknown tensor types and nested arrays, HEARTH_ERR_IO
 * when the file cannot be opened or mapped. On failure *f is reset (gguf_close on it is a no-op).
 * gguf_open_memory does not take ownership of buf. gguf_close is safe on a zeroed struct and twice. */
int gguf_open(gguf_file *f, const char *path);
int gguf_open_memory(gguf_file *f, const void *buf, size_t size);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters. Return 1 when the key is present and converted, 0 when absent, and a negative
 * hearth_status (with message) when present with an incompatible type or an out-of-range value.
 * Integer getters accept any integer (and bool) type whose value fits. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_f32(const gguf_file *f, const char *key, float *out);   /* any float or integer type */
int gguf_get_bool(const gguf_file *f, const char *key, bool *out);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array access: element i of a numeric/bool array as int64 / double (false if not convertible or out of range). */
bool gguf_arr_i64(const gguf_kv *kv, uint64_t i, int64_t *out);
bool gguf_arr_f64(const gguf_kv *kv, uint64_t i, double *out);
/* The first n elements at once (a tight loop for the common element type): as float (f32 arrays as they are,
 * others through double), and as int32 (i32 arrays as they are, other integers clamped to int32's range).
 * False if the array is shorter or an element is not convertible. */
bool gguf_arr_to_f32(const gguf_kv *kv, uint64_t n, float *out);
bool gguf_arr_to_i32(const gguf_kv *kv, uint64_t n, int32_t *out);

/* Compare a gguf_str with a C string. */
bool gguf_str_eq(gguf_str a, const char *b);

#endif
