/* quant_blocks.h — byte layouts of the quantized block formats, shared by the portable kernels (quant.c) and
 * any future SIMD variants. Internal to libhearth.
 *
 * Every field is a byte array, so a block has alignment 1 and may sit at any address of a file mapping, and
 * multi-byte fields are read as little-endian (the GGUF byte order) whatever the host. Names of the fields
 * follow the GGUF specification: d = fp16 scale, dmin/m = fp16 minimum, qs = low quant bits, qh = high bits.
 * Element order inside each block is documented next to its dequantizer in quant.c. */
#ifndef HEARTH_QUANT_BLOCKS_H
#define HEARTH_QUANT_BLOCKS_H

#include <stdint.h>

#include "util.h"

#define QK_SIMPLE 32  /* elements per block of Q4_0 .. Q8_0 */
#define QK_SUPER 256  /* elements per super-block of the K types */

typedef struct { uint8_t d[2]; uint8_t qs[16]; } block_q4_0;                            /* x = d*(q-8)      */
typedef struct { uint8_t d[2]; uint8_t m[2]; uint8_t qs[16]; } block_q4_1;              /* x = d*q + m      */
typedef struct { uint8_t d[2]; uint8_t qh[4]; uint8_t qs[16]; } block_q5_0;             /* x = d*(q-16)     */
typedef struct { uint8_t d[2]; uint8_t m[2]; uint8_t qh[4]; uint8_t qs[16]; } block_q5_1; /* x = d*q + m    */
typedef struct { uint8_t d[2]; int8_t qs[32]; } block_q8_0;                             /* x = d*q          */

/* 16 sub-blocks of 16; each scale byte holds a 4-bit scale (low) and 4-bit min (high). x = d*sc*q - dmin*m */
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint8_t d[2]; uint8_t dmin[2]; } block_q2_K;
/* 16 sub-blocks of 16 with signed 6-bit scales; 2 low bits in qs, the third bit in hmask. x = d*sc*(q-4) */
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint8_t d[2]; } block_q3_K;
/* 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes. x = d*sc*q - dmin*m */
typedef struct { uint8_t d[2]; uint8_t dmin[2]; uint8_t scales[12]; uint8_t qs[128]; } block_q4_K;
/* as Q4_K plus a fifth bit per element in qh. */
typedef struct { uint8_t d[2]; uint8_t dmin[2]; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_K;
/* 16 sub-blocks of 16 with signed 8-bit scales; 4 low bits in ql, 2 high bits in qh. x = d*sc*(q-32) */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint8_t d[2]; } block_q6_K;

_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 block size");
_Static_assert(sizeof(block_q4_1) == 20, "Q4_1 block size");
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block size");
_Static_assert(sizeof(block_q5_1) == 24, "Q5_1 block size");
_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block size");
_Static_assert(sizeof(block_q2_K) == 84, "Q2_K block size");
_Static_assert(sizeof(block_q3_K) == 110, "Q3_K block size");
_Static_assert(sizeof(block_q4_K) == 144, "Q4_K block size");
_Static_assert(sizeof(block_q5_K) == 176, "Q5_K block size");
_Static_assert(sizeof(block_q6_K) == 210, "Q6_K block size");

static inline uint16_t load_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void store_u16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void store_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline float load_fp16(const uint8_t *p) { return fp16_to_f32(load_u16le(p)); }
static inline void store_fp16(uint8_t *p, float f) { store_u16le(p, f32_to_fp16(f)); }

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block. Bytes 0-3 hold scales 0-3 in their
 * low 6 bits, bytes 4-7 mins 0-3; scales/mins 4-7 keep their low nibbles in bytes 8-11 and their top two bits
 * in the spare top bits of bytes 0-3 (scales) and 4-7 (mins). */
static inline void k4_scale_min(const uint8_t *packed, int j, int *scale, int *min) {
    if (j < 4) {
        *scale = packed[j] & 63;
        *min = packed[j + 4] & 63;
    } else {
        *scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
        *min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

/* The signed 6-bit scale of sub-block j (0..15) of a Q3_K block: low nibbles in bytes 0-7 (j < 8 in the low
 * half, j >= 8 in the high half), top two bits in bytes 8-11 (byte 8 + j%4, bit pair j/4). */
static inline int q3k_scale(const uint8_t *packed, int j) {
    int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

#endif
