/* gguf_write.h — GGUF v3 writer that streams tensor data to a FILE.
 *
 * Contract
 *   - Metadata and the tensor table are collected in memory first (they are small: a 262k-token vocabulary
 *     is a few MB); tensor data never is. Declare every key/value pair and every tensor (name, type, shape),
 *     then gguf_w_begin() writes the header, and the data of each tensor is streamed in declaration order
 *     with gguf_w_write() — any number of calls per tensor — each tensor closed by gguf_w_end_tensor(),
 *     which pads to the alignment. gguf_w_finish() checks that every tensor was written completely.
 *   - Offsets follow the format: every tensor's data starts at a multiple of the alignment (32, or
 *     "general.alignment" when that u32 key is declared before gguf_w_begin) from the data section start.
 *   - Every function returns 0 or a negative hearth_status with a one-line message in hearth_last_error()
 *     (duplicate key or tensor name, unknown type, a row length that is not a multiple of the type's block
 *     size, a write past the current tensor's size, an I/O error). The writer stays valid for freeing.
 *   - Keys and strings are copied; callers may free theirs right after the call.
 */
#ifndef HEARTH_GGUF_WRITE_H
#define HEARTH_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void); /* NULL when out of memory */
void gguf_writer_free(gguf_writer *w);

/* Scalars. */
int gguf_w_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_w_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_w_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_w_f32(gguf_writer *w, const char *key, float v);
int gguf_w_bool(gguf_writer *w, const char *key, bool v);
int gguf_w_str(gguf_writer *w, const char *key, const char *v);
/* Arrays (n elements; n may be 0). */
int gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, size_t n);
int gguf_w_arr_u32(gguf_writer *w, const char *key, const uint32_t *v, size_t n);
int gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, size_t n);
int gguf_w_arr_bool(gguf_writer *w, const char *key, const bool *v, size_t n);
int gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *v, size_t n);

/* Declare a tensor: ne[0] is the row length. Returns its index (>= 0) or a negative status. */
int gguf_w_tensor(gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne);
/* Bytes of tensor i's data (without padding). */
uint64_t gguf_w_tensor_bytes(const gguf_writer *w, int i);
int gguf_w_n_tensors(const gguf_writer *w);

/* Sizes as they will be written: the header (magic through the padding before the data section), the data
 * section (tensors with their padding) and their sum, the file size. Valid once everything is declared. */
uint64_t gguf_w_header_bytes(const gguf_writer *w);
uint64_t gguf_w_file_bytes(const gguf_writer *w);

/* Streaming. */
int gguf_w_begin(gguf_writer *w, FILE *fp);
int gguf_w_write(gguf_writer *w, FILE *fp, const void *data, size_t n);
int gguf_w_end_tensor(gguf_writer *w, FILE *fp);
int gguf_w_finish(gguf_writer *w, FILE *fp); /* also flushes fp */

#endif
