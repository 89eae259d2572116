/* types.h — the tensor element types of GGUF files (ggml's numbering, which is the file format's) and
 * their block geometry. A row of n elements of type t occupies n / block_size * type_size bytes. */
#ifndef HEARTH_TYPES_H
#define HEARTH_TYPES_H

#include <stdbool.h>
#include <stdint.h>

enum tensor_type {
    T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q8_1 = 9,
    T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_Q8_K = 15,
    T_IQ2_XXS = 16, T_IQ2_XS = 17, T_IQ3_XXS = 18, T_IQ1_S = 19, T_IQ4_NL = 20, T_IQ3_S = 21, T_IQ2_S = 22,
    T_IQ4_XS = 23, T_I8 = 24, T_I16 = 25, T_I32 = 26, T_I64 = 27, T_F64 = 28, T_IQ1_M = 29, T_BF16 = 30,
    T_TQ1_0 = 34, T_TQ2_0 = 35, T_MXFP4 = 39, T_NVFP4 = 40, T_Q1_0 = 41, T_Q2_0 = 42,
    T_COUNT = 43
};

typedef struct {
    const char *name;
    int block_size;   /* elements per block */
    int type_size;    /* bytes per block */
    bool computable;  /* hearth can dequantize / multiply it */
} type_traits;

/* NULL for ids that are not a known type. */
const type_traits *type_get(uint32_t type);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
static inline uint64_t type_row_bytes(const type_traits *tt, uint64_t n) {
    return n / (uint64_t)tt->block_size * (uint64_t)tt->type_size;
}

#endif
