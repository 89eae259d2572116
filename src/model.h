/* model.h — the model description: every architecture hearth runs, as data.
 *
 * One transformer forward (forward.c) serves every architecture. What differs between Llama 3, Qwen 3,
 * Gemma 3 and Gemma 4 — norm placement, RoPE variant, sliding windows, KV sharing, per-layer embeddings,
 * soft-capping, activation — is captured here by model_load_desc() from the GGUF metadata, once, and the
 * forward pass only reads these fields. Weights point into the file mapping (never copied); small 1-D
 * tensors stored in other types than F32 are converted once into `owned` buffers.
 */
#ifndef HEARTH_MODEL_H
#define HEARTH_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"

enum arch { ARCH_LLAMA, ARCH_QWEN3, ARCH_GEMMA3, ARCH_GEMMA4 };
enum activation { ACT_SILU, ACT_GELU_TANH };
/* RoPE pairing: NORM rotates adjacent pairs (2i, 2i+1) — llama.cpp's converter permutes Llama's Q/K rows
 * so this matches HF's rotate_half; NEOX rotates (i, i + n_rot/2) as HF does directly. */
enum rope_style { ROPE_NORM, ROPE_NEOX };

/* A weight matrix: `rows` rows of `cols` elements of `type` (GGUF ne0 = cols, ne1 = rows), row-major. */
typedef struct {
    const void *data;
    uint32_t type;
    int64_t cols, rows;
    uint64_t row_bytes;
    bool gathered;  /* only single rows are ever read (model_row) */
} matrix;

typedef struct {
    /* attention geometry */
    bool sliding;            /* attends to the last `window` positions only */
    int window;
    int n_head, n_kv_head, head_dim;
    float attn_scale;        /* multiplies q·k */
    /* RoPE: angle_i = pos * pos_scale * base^(-2i/n_rot) / freq_factors[i], i < n_rot/2 */
    int n_rot;
    float rope_base, rope_pos_scale;
    const float *rope_freq_factors; /* NULL: all 1 */
    /* KV: a layer either owns a cache slot or reads another layer's (Gemma 4 shared-KV layers) */
    int kv_source;           /* layer whose cached K/V this layer attends over (itself when it owns K/V) */
    bool owns_kv;
    bool v_from_k;           /* no V projection: V = K before K's norm and RoPE (Gemma 4 "K = V") */
    bool v_norm;             /* scale-free RMS norm of V per head (Gemma 4) */
    /* FFN */
    int n_ff;
    /* weights (NULL / .data == NULL when absent) */
    matrix wq, wk, wv, wo, w_gate, w_up, w_down;
    matrix ple_gate, ple_proj; /* Gemma 4 per-layer input gate [d -> P] and projection [P -> d] */
    const float *attn_norm, *q_norm, *k_norm, *post_attn_norm, *ffn_norm, *post_ffn_norm, *ple_post_norm;
    float output_scale;      /* Gemma 4 layer_output_scale; 1 elsewhere */
} layer_desc;

typedef struct {
    enum arch arch;
    const char *arch_name;
    int n_layer, n_embd, n_vocab, n_ctx_train;
    int n_head;              /* query heads (same on every layer) */
    float norm_eps;
    float embd_scale;        /* token embeddings are multiplied by this (Gemma: sqrt(d)) */
    float final_softcap;     /* 0: off */
    enum activation act;
    enum rope_style rope_style;
    int ple_dim;             /* Gemma 4 per-layer embedding size P; 0: none */
    matrix tok_embd, output, ple_embd, ple_model_proj;
    const float *output_norm, *ple_proj_norm;
    layer_desc *layers;
    int max_head_dim, max_kv_dim, max_q_dim, max_ff;
    void **owned;            /* converted small tensors, freed with the description */
    int n_owned;
    int fd;                  /* the file, for model_row (-1: memory-backed) */
    const uint8_t *file_base;
} model_desc;

/* Build the description from a loaded GGUF. Checks every tensor's presence, type and shape against the
 * metadata; returns 0 or a negative hearth_status with a message naming what is wrong. */
int model_load_desc(model_desc *m, const gguf_file *f);
void model_free_desc(model_desc *m);

/* Row `row` of a matrix. For tables that are only gathered from (token and per-layer embeddings not tied
 * to the output) the row is read from the file into buf (row_bytes), so the table's pages are never mapped
 * into the process: the kernel maps a whole page-cache folio (often hundreds of KB) around each faulted row,
 * and a 512-token prompt would add hundreds of MB to the resident set. Otherwise a pointer into the mapping. */
const void *model_row(const model_desc *m, const matrix *t, int64_t row, void *buf);

/* The supported architectures, for error messages: "llama, qwen3, gemma3, gemma4". */
extern const char *const model_supported_archs;

#endif
