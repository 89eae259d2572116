/* synth.h — synthetic models: real architectures' exact shapes and metadata, random weights.
 *
 * A synth_config describes one published model (hidden size, layers, heads, KV heads, head sizes, FFN sizes,
 * vocabulary, sliding-window layout, shared-KV layers, per-layer inputs, RoPE, soft-cap), with the source
 * of every number (bench/MODELS.md has the table). synth_plan_make() turns a config and a file type
 * ("Q4_K_M", ...) into the list of tensors that llama.cpp's converter plus llama-quantize would produce for
 * the real model — names, shapes, types — and synth_write() writes that file with seeded random weights,
 * streaming (never holding a tensor in memory), quantizing row by row on a thread pool.
 *
 * Internal to libhearth; front ends use hearth_synth() (hearth.h). */
#ifndef HEARTH_SYNTH_H
#define HEARTH_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

enum synth_tok { SYNTH_TOK_GEMMA4, SYNTH_TOK_GEMMA3, SYNTH_TOK_LLAMA3, SYNTH_TOK_QWEN2 };
enum synth_rope_scaling { SYNTH_ROPE_NONE, SYNTH_ROPE_LINEAR, SYNTH_ROPE_LLAMA3 };

typedef struct {
    const char *name;          /* "gemma4-e2b" */
    const char *display;       /* general.name */
    const char *basename, *size_label;
    const char *arch;          /* "llama", "qwen3", "gemma3", "gemma4" */
    int n_layer, n_embd, n_ff, n_head, n_kv_head, head_dim;
    int n_kv_head_full, head_dim_full; /* Gemma 4 full-attention layers; 0: as the others */
    int n_vocab, n_ctx;
    float rope_base, rope_base_swa, norm_eps, final_softcap;
    enum synth_rope_scaling rope_scaling;
    float rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_ctx;
    float rope_partial_full;   /* Gemma 4: fraction of the full layers' head that rotates */
    int sliding_window;        /* 0: no sliding-window layers */
    int swa_period;            /* layer i is full attention when i % period == period - 1 */
    int n_shared_kv;           /* trailing layers that reuse earlier layers' KV (Gemma 4 E models) */
    int ple_dim;               /* per-layer input size (Gemma 4 E models); 0: none */
    bool double_wide_ffn;      /* shared-KV layers have 2 * n_ff */
    bool k_eq_v;               /* full layers have no V projection (V = K) */
    bool tied;                 /* output = token embeddings */
    bool write_head_dim;       /* the converter writes attention.key_length (config has head_dim) */
    enum synth_tok tok;
    uint64_t ref_params;       /* published parameter count of these tensors, 0 when not known exactly */
    int ref_tensors;           /* tensor count of the real GGUF, 0 when not known */
    const char *source;        /* where the numbers come from */
} synth_config;

extern const synth_config synth_configs[];
extern const int synth_n_configs;
const synth_config *synth_find(const char *name);

/* File types: name, general.file_type, the default tensor type. */
typedef struct {
    const char *name;
    uint32_t file_type;
    uint32_t base_type;
} synth_ftype;
const synth_ftype *synth_find_ftype(const char *name); /* case-insensitive; NULL if unknown */
extern const char *const synth_ftype_names;           /* "F32, F16, ..." for messages */

enum synth_init { INIT_GAUSS, INIT_NORM, INIT_CONST, INIT_VALUES };

typedef struct {
    char name[64];
    uint32_t type;
    int n_dims;
    int64_t ne[4];
    enum synth_init init;
    float scale;               /* GAUSS: standard deviation; NORM: noise around 1; CONST: the value */
    const float *values;       /* INIT_VALUES: ne[0] floats (rope_freqs), owned by the plan */
} synth_tensor;

typedef struct {
    const synth_config *cfg;
    const synth_ftype *ftype;
    synth_tensor *t;
    int n;
    float *rope_freqs;
    uint64_t n_params, n_bytes;
} synth_plan;

int synth_plan_make(synth_plan *p, const synth_config *c, const synth_ftype *ft);
void synth_plan_free(synth_plan *p);

typedef struct {
    uint64_t seed;
    int n_ctx;                 /* context_length written; 0: the model's */
    int n_threads;
    bool exact_quant;          /* reference quantizers (slow for K types) instead of quantize_row_fast */
    void (*on_progress)(void *ud, uint64_t done, uint64_t total);
    void *ud;
} synth_write_params;

/* Write the plan's file to `path` (via path.tmp, renamed on success). Returns 0 or a negative status;
 * *file_bytes receives the size written. */
int synth_write(const synth_plan *p, const char *path, const synth_write_params *wp, uint64_t *file_bytes);
/* The size the file would have (header with vocabulary + data), without writing it. */
int synth_file_bytes(const synth_plan *p, const synth_write_params *wp, uint64_t *file_bytes);

#endif
