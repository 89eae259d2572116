/* quant.h — block formats of the quantized tensor types: dequantization (bit-exact with the GGUF reference,
 * llama.cpp's gguf-py quants.py) and reference quantization (for `hearth synth` / `hearth quantize`).
 * A kernel knows tensor types and float arrays, never models. n is always a multiple of the type's block size. */
#ifndef HEARTH_QUANT_H
#define HEARTH_QUANT_H

#include <stdbool.h>
#include <stdint.h>

/* Dequantize n elements of `type` (any type with computable=true in types.h) into dst. */
void dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Quantize n floats into `type`. Returns false when the type has no quantizer. For the K types and
 * Q4_0..Q8_0 this follows the reference (non-imatrix) algorithms, so files we write load anywhere. */
bool quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* Dot product of n elements of a `type` row with the floats x, dequantizing on the fly: products are
 * accumulated in float per block (per 32 elements for the float types) and the block sums added in float.
 * Equals dequantize_row + dot up to float rounding (not bit for bit). NaN for types without a kernel. */
float vec_dot_row(uint32_t type, const void *row, const float *x, int64_t n);

#endif
