/* forward.h — the transformer forward pass on the CPU, and its KV cache.
 *
 * forward_batch() appends up to n_batch tokens at positions pos0.. and computes their logits. It is one
 * function for every architecture: the differences are fields of model_desc (model.h).
 *
 * KV cache: one slot per layer that owns K/V. Full-attention layers keep n_ctx positions; sliding-window
 * layers keep a ring of window + n_batch - 1 positions (every key a query of the current batch can see);
 * shared-KV layers own nothing and read their source layer's slot. Entries are F32 or F16. */
#ifndef HEARTH_FORWARD_H
#define HEARTH_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "threadpool.h"

enum kv_storage { KV_F32, KV_F16, KV_Q8_0 };
enum { ATT_BLOCK = 16 }; /* most query rows one attention task handles */

typedef struct {
    int cap;        /* positions held (0: the layer owns no cache) */
    bool ring;      /* position p lives in row p % cap */
    int dim;        /* n_kv_head * head_dim */
    void *k, *v;    /* [cap][dim] */
} kv_layer;

typedef struct {
    int n_ctx;
    enum kv_storage storage;
    kv_layer *layers;
} kv_cache;

typedef struct {
    const model_desc *m;
    kv_cache kv;
    threadpool *pool;
    int n_batch;
    /* scratch for one batch */
    float *x, *h, *q, *k, *v, *att, *ff_gate, *ff_up, *ple, *ple_tok, *ple_gate, *logits_tmp;
    /* per batch row: its position and the KV cache it belongs to (rows may come from different
     * sequences: continuous batching evaluates one step of many sessions in one pass over the weights) */
    int *row_pos;
    kv_cache **row_kv;
    /* RoPE: each layer's inverse frequencies, [n_layer][max_rot/2] */
    int max_rot;
    float *rope_inv_freq;
    /* attention is computed per block of rows (one sequence, consecutive positions): block b is rows
     * att_blk[b] .. att_blk[b + 1] - 1 */
    int *att_blk, n_att_blk;
    int kv_layers_end;  /* layers from here on store no K/V (1 + the last layer that does) */
    void *row_buf; /* one row of a gathered table (model_row) */
} forward_ctx;

int forward_init(forward_ctx *fc, const model_desc *m, int n_ctx, int n_batch, enum kv_storage storage,
                 threadpool *pool);
void forward_free(forward_ctx *fc);

/* Evaluate tokens[0..n) (n <= n_batch, ids already validated) at positions pos0..pos0+n-1, with every
 * earlier position already in the cache. If all_logits, logits receives [n][n_vocab]; otherwise only the
 * last token's [n_vocab], or nothing when logits is NULL (the K/V of the tokens are all that is kept). */
void forward_batch(forward_ctx *fc, const int32_t *tokens, int n, int pos0, float *logits, bool all_logits);

/* The same for rows whose positions and caches are set in fc->row_pos / fc->row_kv (n <= n_batch). Rows
 * of one sequence must be in position order, with every earlier position already cached. */
void forward_rows(forward_ctx *fc, const int32_t *tokens, int n, float *logits, bool all_logits);

#endif
