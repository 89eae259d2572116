/* model.c — reads GGUF metadata and tensors into the model description (model.h).
 *
 * Everything architecture-specific lives here, as choices of data: which norms exist, how heads and RoPE are
 * laid out per layer, which layer's KV cache a layer reads. Every tensor is checked for presence, type and
 * shape before the forward pass may touch it, so a hostile file fails here with a message, not later with
 * an out-of-bounds read. */
#include "model.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "types.h"
#include "util.h"

const char *const model_supported_archs = "llama, qwen3, gemma3, gemma4";

/* Generous upper bounds that no real model reaches; they keep hostile metadata from sizing huge buffers. */
enum { MAX_LAYERS = 1024, MAX_DIM = 1 << 17, MAX_HEADS = 1024, MAX_HEAD_DIM = 4096 };

typedef struct {
    const gguf_file *f;
    model_desc *m;
    const char *arch;
    char key[256];
} loader;

static const char *akey(loader *ld, const char *suffix) {
    snprintf(ld->key, sizeof ld->key, "%s.%s", ld->arch, suffix);
    return ld->key;
}

/* A u32 hyperparameter. Present-but-wrong types are errors; absent ones take `def` unless required. */
static int get_u32(loader *ld, const char *suffix, uint32_t def, bool required, uint32_t *out) {
    const char *key = akey(ld, suffix);
    int rc = gguf_get_u32(ld->f, key, out);
    if (rc < 0) return rc;
    if (rc == 0) {
        if (required) return hearth_fail(HEARTH_ERR_FORMAT, "model: missing metadata key '%s'", key);
        *out = def;
    }
    return 0;
}

static int get_f32(loader *ld, const char *suffix, float def, float *out) {
    int rc = gguf_get_f32(ld->f, akey(ld, suffix), out);
    if (rc < 0) return rc;
    if (rc == 0) *out = def;
    return 0;
}

/* A per-layer integer that may be stored as one scalar or as an array of n_layer values. */
static int get_per_layer(loader *ld, const char *suffix, uint32_t def, bool required, int n_layer, int *out) {
    const gguf_kv *kv = gguf_find_kv(ld->f, akey(ld, suffix));
    if (kv && kv->type == GGUF_ARRAY) {
        if (kv->arr_n != (uint64_t)n_layer)
            return hearth_fail(HEARTH_ERR_FORMAT, "model: '%s' has %llu entries for %d layers", ld->key,
                               (unsigned long long)kv->arr_n, n_layer);
        for (int i = 0; i < n_layer; i++) {
            int64_t v;
            if (!gguf_arr_i64(kv, (uint64_t)i, &v) || v < 0 || v > MAX_DIM)
                return hearth_fail(HEARTH_ERR_FORMAT, "model: '%s'[%d] is not a valid size", ld->key, i);
            out[i] = (int)v;
        }
        return 0;
    }
    uint32_t v;
    int rc = get_u32(ld, suffix, def, required, &v);
    if (rc < 0) return rc;
    if (v > MAX_DIM) return hearth_fail(HEARTH_ERR_FORMAT, "model: '%s' = %u is out of range", ld->key, v);
    for (int i = 0; i < n_layer; i++) out[i] = (int)v;
    return 0;
}

/* Find a tensor that hearth can compute with. *t = NULL (and 0) when it is absent and optional. */
static int find_computable(loader *ld, const char *name, bool required, const gguf_tensor **t,
                           const type_traits **tt) {
    *t = gguf_find_tensor(ld->f, name);
    if (!*t) return required ? hearth_fail(HEARTH_ERR_FORMAT, "model: missing tensor '%s'", name) : 0;
    *tt = type_get((*t)->type);
    if (!*tt || !(*tt)->computable)
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "model: tensor '%s' has type %s, which hearth cannot compute",
                           name, *tt ? (*tt)->name : "unknown");
    return 0;
}

/* Bind a 2-D weight [rows][cols]. Absent optional weights leave m->data NULL. */
static int bind_matrix(loader *ld, matrix *mx, const char *name, int64_t cols, int64_t rows, bool required) {
    memset(mx, 0, sizeof *mx);
    const gguf_tensor *t;
    const type_traits *tt;
    int rc = find_computable(ld, name, required, &t, &tt);
    if (rc < 0 || !t) return rc;
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1)
        return hearth_fail(HEARTH_ERR_FORMAT, "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                           name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                           (long long)t->ne[3], (long long)cols, (long long)rows);
    mx->data = t->data;
    mx->type = t->type;
    mx->cols = cols;
    mx->rows = rows;
    mx->row_bytes = type_row_bytes(tt, (uint64_t)cols);
    return 0;
}

/* Bind a 1-D float vector of n elements; converted to F32 (owned) when stored otherwise. */
static int bind_vector(loader *ld, const float **out, const char *name, int64_t n, bool required) {
    *out = NULL;
    const gguf_tensor *t;
    const type_traits *tt;
    int rc = find_computable(ld, name, required, &t, &tt);
    if (rc < 0 || !t) return rc;
    if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
        return hearth_fail(HEARTH_ERR_FORMAT, "model: tensor '%s' has %lld elements, expected %lld", name,
                           (long long)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]), (long long)n);
    if (t->type == T_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return 0;
    }
    model_desc *m = ld->m;
    void **owned = realloc(m->owned, sizeof(void *) * (size_t)(m->n_owned + 1));
    if (!owned) return hearth_fail(HEARTH_ERR_NOMEM, "model: out of memory");
    m->owned = owned;
    float *buf = malloc(sizeof(float) * (size_t)n);
    if (!buf) return hearth_fail(HEARTH_ERR_NOMEM, "model: out of memory");
    m->owned[m->n_owned++] = buf;
    dequantize_row(t->type, t->data, buf, n);
    *out = buf;
    return 0;
}

static const char *tname(char *buf, size_t cap, int layer, const char *suffix) {
    snprintf(buf, cap, "blk.%d.%s", layer, suffix);
    return buf;
}

/* Which layers use sliding-window attention. Gemma 4 stores a bool per layer; Gemma 3 files from
 * llama.cpp's converter store none and mean "every 6th layer is global" (a period may also be stored). */
static int load_sliding_pattern(loader *ld, bool *sliding, int n_layer, uint32_t window) {
    for (int i = 0; i < n_layer; i++) sliding[i] = false;
    if (window == 0) return 0;
    const gguf_kv *kv = gguf_find_kv(ld->f, akey(ld, "attention.sliding_window_pattern"));
    if (kv && kv->type == GGUF_ARRAY) {
        if (kv->arr_n != (uint64_t)n_layer)
            return hearth_fail(HEARTH_ERR_FORMAT, "model: sliding_window_pattern has %llu entries for %d layers",
                               (unsigned long long)kv->arr_n, n_layer);
        for (int i = 0; i < n_layer; i++) {
            int64_t v;
            if (!gguf_arr_i64(kv, (uint64_t)i, &v))
                return hearth_fail(HEARTH_ERR_FORMAT, "model: sliding_window_pattern[%d] is not a boolean", i);
            sliding[i] = v != 0;
        }
        return 0;
    }
    uint32_t period = 6;
    if (kv) {
        int rc = get_u32(ld, "attention.sliding_window_pattern", 6, false, &period);
        if (rc < 0) return rc;
    }
    for (int i = 0; i < n_layer; i++) sliding[i] = period > 1 && (uint32_t)i % period < period - 1;
    return 0;
}

const void *model_row(const model_desc *m, const matrix *t, int64_t row, void *buf) {
    const uint8_t *p = (const uint8_t *)t->data + (uint64_t)row * t->row_bytes;
    if (!t->gathered || m->fd < 0 || !m->file_base) return p;
    uint64_t done = 0;
    const off_t at = (off_t)(p - m->file_base);
    while (done < t->row_bytes) {
        const ssize_t r = pread(m->fd, (uint8_t *)buf + done, t->row_bytes - done, at + (off_t)done);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return p; /* cannot read (a file changed under us): the mapping behaves as it would have */
        }
        done += (uint64_t)r;
    }
    return buf;
}

int model_load_desc(model_desc *m, const gguf_file *f) {
    memset(m, 0, sizeof *m);
    loader ld = {.f = f, .m = m};
    gguf_str arch_s;
    if (gguf_get_str(f, "general.architecture", &arch_s) != 1)
        return hearth_fail(HEARTH_ERR_FORMAT, "model: missing 'general.architecture'");
    static const struct { const char *name; enum arch arch; } archs[] = {
        {"llama", ARCH_LLAMA}, {"qwen3", ARCH_QWEN3}, {"gemma3", ARCH_GEMMA3}, {"gemma4", ARCH_GEMMA4}};
    int found = -1;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (gguf_str_eq(arch_s, archs[i].name)) found = (int)i;
    if (found < 0)
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "unsupported architecture '%.*s' (supported: %s)",
                           (int)(arch_s.n > 64 ? 64 : arch_s.n), arch_s.s, model_supported_archs);
    m->arch = archs[found].arch;
    m->arch_name = ld.arch = archs[found].name;
    const bool gemma = m->arch == ARCH_GEMMA3 || m->arch == ARCH_GEMMA4;

    uint32_t n_layer, n_embd, n_ctx, n_head, window, n_shared, ple_dim;
    int rc;
    if ((rc = get_u32(&ld, "block_count", 0, true, &n_layer)) < 0) return rc;
    if ((rc = get_u32(&ld, "embedding_length", 0, true, &n_embd)) < 0) return rc;
    if ((rc = get_u32(&ld, "context_length", 4096, false, &n_ctx)) < 0) return rc;
    if ((rc = get_u32(&ld, "attention.head_count", 0, true, &n_head)) < 0) return rc;
    if ((rc = get_u32(&ld, "attention.sliding_window", 0, false, &window)) < 0) return rc;
    if ((rc = get_u32(&ld, "attention.shared_kv_layers", 0, false, &n_shared)) < 0) return rc;
    if ((rc = get_u32(&ld, "embedding_length_per_layer_input", 0, false, &ple_dim)) < 0) return rc;
    if (n_layer == 0 || n_layer > MAX_LAYERS || n_embd == 0 || n_embd > MAX_DIM || n_head == 0 ||
        n_head > MAX_HEADS || n_shared >= n_layer || ple_dim > MAX_DIM || window > (1u << 24) || n_ctx > (1u << 30))
        return hearth_fail(HEARTH_ERR_FORMAT, "model: implausible hyperparameters (layers %u, embd %u, heads %u, "
                           "shared %u)", n_layer, n_embd, n_head, n_shared);
    if (m->arch != ARCH_GEMMA4 && (n_shared || ple_dim))
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "model: KV sharing / per-layer inputs are only known for gemma4");
    m->n_layer = (int)n_layer;
    m->n_embd = (int)n_embd;
    m->n_head = (int)n_head;
    m->n_ctx_train = (int)n_ctx;
    m->ple_dim = (int)ple_dim;
    if ((rc = get_f32(&ld, "attention.layer_norm_rms_epsilon", 1e-6f, &m->norm_eps)) < 0) return rc;
    if ((rc = get_f32(&ld, "final_logit_softcapping", 0.0f, &m->final_softcap)) < 0) return rc;
    if (!(m->norm_eps >= 0 && m->norm_eps < 1) || !(m->final_softcap >= 0 && isfinite(m->final_softcap)))
        return hearth_fail(HEARTH_ERR_FORMAT, "model: implausible norm epsilon or soft-cap");
    m->act = gemma ? ACT_GELU_TANH : ACT_SILU;
    m->rope_style = m->arch == ARCH_LLAMA ? ROPE_NORM : ROPE_NEOX;
    m->embd_scale = gemma ? sqrtf((float)n_embd) : 1.0f;

    /* MoE Gemma 4 (26B-A4B) has routed experts; not computed yet — say so rather than compute wrongly. */
    if (gguf_find_tensor(f, "blk.0.ffn_gate_inp.weight") || gguf_find_tensor(f, "blk.0.ffn_gate_exps.weight"))
        return hearth_fail(HEARTH_ERR_UNSUPPORTED, "model: mixture-of-experts layers are not supported yet");

    /* token embeddings decide the vocabulary size */
    const gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    if (!te) return hearth_fail(HEARTH_ERR_FORMAT, "model: missing tensor 'token_embd.weight'");
    if (te->ne[1] <= 0 || te->ne[1] > (1 << 24))
        return hearth_fail(HEARTH_ERR_FORMAT, "model: implausible vocabulary size %lld", (long long)te->ne[1]);
    m->n_vocab = (int)te->ne[1];
    if ((rc = bind_matrix(&ld, &m->tok_embd, "token_embd.weight", n_embd, m->n_vocab, true)) < 0) return rc;
    if ((rc = bind_matrix(&ld, &m->output, "output.weight", n_embd, m->n_vocab, false)) < 0) return rc;
    if (!m->output.data) m->output = m->tok_embd; /* tied */
    if ((rc = bind_vector(&ld, &m->output_norm, "output_norm.weight", n_embd, true)) < 0) return rc;

    int L = m->n_layer;
    m->layers = calloc((size_t)L, sizeof(layer_desc));
    int *n_kv_head = calloc((size_t)L, sizeof(int)), *n_ff = calloc((size_t)L, sizeof(int));
    bool *sliding = calloc((size_t)L, sizeof(bool));
    if (!m->layers || !n_kv_head || !n_ff || !sliding) {
        free(n_kv_head); free(n_ff); free(sliding);
        return hearth_fail(HEARTH_ERR_NOMEM, "model: out of memory");
    }
    rc = get_per_layer(&ld, "attention.head_count_kv", n_head, false, L, n_kv_head);
    if (rc == 0) rc = get_per_layer(&ld, "feed_forward_length", 0, true, L, n_ff);
    if (rc == 0) rc = load_sliding_pattern(&ld, sliding, L, window);

    uint32_t head_dim = 0, head_dim_swa = 0, n_rot = 0, n_rot_swa = 0;
    float rope_base = 10000.0f, rope_base_swa = 10000.0f, rope_scale = 1.0f, attn_scale_kv = 0.0f;
    if (rc == 0) rc = get_u32(&ld, "attention.key_length", n_embd / n_head, false, &head_dim);
    if (rc == 0) rc = get_u32(&ld, "attention.key_length_swa", head_dim, false, &head_dim_swa);
    if (rc == 0) {
        uint32_t vlen, vlen_swa;
        rc = get_u32(&ld, "attention.value_length", head_dim, false, &vlen);
        if (rc == 0) rc = get_u32(&ld, "attention.value_length_swa", head_dim_swa, false, &vlen_swa);
        if (rc == 0 && (vlen != head_dim || vlen_swa != head_dim_swa))
            rc = hearth_fail(HEARTH_ERR_UNSUPPORTED, "model: value length differing from key length");
    }
    if (rc == 0) rc = get_u32(&ld, "rope.dimension_count", head_dim, false, &n_rot);
    if (rc == 0) rc = get_u32(&ld, "rope.dimension_count_swa", head_dim_swa, false, &n_rot_swa);
    if (rc == 0) rc = get_f32(&ld, "rope.freq_base", 10000.0f, &rope_base);
    if (rc == 0) rc = get_f32(&ld, "rope.freq_base_swa", gemma ? 10000.0f : rope_base, &rope_base_swa);
    if (rc == 0) rc = get_f32(&ld, "attention.scale", 0.0f, &attn_scale_kv);
    if (rc == 0) {
        gguf_str st;
        if (gguf_get_str(f, akey(&ld, "rope.scaling.type"), &st) == 1 && gguf_str_eq(st, "linear")) {
            float factor = 1.0f;
            rc = get_f32(&ld, "rope.scaling.factor", 1.0f, &factor);
            if (rc == 0 && !(factor > 0 && isfinite(factor)))
                rc = hearth_fail(HEARTH_ERR_FORMAT, "model: invalid rope.scaling.factor");
            rope_scale = 1.0f / factor;
        }
    }
    if (rc == 0 && (head_dim == 0 || head_dim > MAX_HEAD_DIM || head_dim_swa == 0 || head_dim_swa > MAX_HEAD_DIM ||
                    n_rot > head_dim || n_rot % 2 || n_rot_swa > head_dim_swa || n_rot_swa % 2 ||
                    !(rope_base > 0) || !(rope_base_swa > 0)))
        rc = hearth_fail(HEARTH_ERR_FORMAT, "model: implausible head or RoPE dimensions");

    const float *rope_freqs = NULL;
    if (rc == 0 && gguf_find_tensor(f, "rope_freqs.weight")) {
        /* per-pair frequency divisors: Llama 3.1 scaling; Gemma 4 "proportional" RoPE on full layers */
        rc = bind_vector(&ld, &rope_freqs, "rope_freqs.weight", n_rot / 2, true);
    }

    int first_shared = L - (int)n_shared;
    char nb[128];
    for (int il = 0; il < L && rc == 0; il++) {
        layer_desc *ly = &m->layers[il];
        ly->sliding = sliding[il];
        ly->window = ly->sliding ? (int)window : 0;
        ly->n_head = (int)n_head;
        ly->n_kv_head = n_kv_head[il];
        ly->n_ff = n_ff[il];
        bool swa_dims = m->arch == ARCH_GEMMA4 && ly->sliding;
        ly->head_dim = (int)(swa_dims ? head_dim_swa : head_dim);
        ly->n_rot = (int)(swa_dims ? n_rot_swa : n_rot);
        ly->rope_base = ly->sliding && gemma ? rope_base_swa : rope_base;
        ly->rope_pos_scale = ly->sliding && gemma ? 1.0f : rope_scale;
        /* Gemma 4 writes rope_freqs for its full layers only; Llama uses it on every layer */
        ly->rope_freq_factors = (m->arch == ARCH_GEMMA4 && ly->sliding) ? NULL : rope_freqs;
        if (ly->n_kv_head <= 0 || ly->n_head % ly->n_kv_head || ly->n_ff <= 0) {
            rc = hearth_fail(HEARTH_ERR_FORMAT, "model: layer %d: invalid KV head count %d or FFN size %d", il,
                             ly->n_kv_head, ly->n_ff);
            break;
        }
        if (ly->rope_freq_factors && ly->n_rot != (int)n_rot) {
            rc = hearth_fail(HEARTH_ERR_FORMAT, "model: rope_freqs does not match layer %d's rotary dims", il);
            break;
        }
        if (attn_scale_kv > 0) ly->attn_scale = attn_scale_kv;
        else if (m->arch == ARCH_GEMMA4) ly->attn_scale = 1.0f;
        else if (m->arch == ARCH_GEMMA3 && L == 62) /* Gemma 3 27B: query_pre_attn_scalar = d / heads */
            ly->attn_scale = 1.0f / sqrtf((float)n_embd / (float)n_head);
        else ly->attn_scale = 1.0f / sqrtf((float)ly->head_dim);

        /* KV sharing: a shared layer attends over the cache of the last non-shared layer of its type */
        ly->owns_kv = il < first_shared;
        ly->kv_source = il;
        if (!ly->owns_kv) {
            ly->kv_source = -1;
            for (int j = first_shared - 1; j >= 0; j--)
                if (m->layers[j].sliding == ly->sliding) { ly->kv_source = j; break; }
            if (ly->kv_source < 0) {
                rc = hearth_fail(HEARTH_ERR_FORMAT, "model: shared-KV layer %d has no earlier %s layer to read",
                                 il, ly->sliding ? "sliding" : "full");
                break;
            }
            const layer_desc *src = &m->layers[ly->kv_source];
            if (src->head_dim != ly->head_dim || src->n_kv_head != ly->n_kv_head) {
                rc = hearth_fail(HEARTH_ERR_FORMAT, "model: shared-KV layer %d differs in shape from layer %d", il,
                                 ly->kv_source);
                break;
            }
        }

        int q_dim = ly->n_head * ly->head_dim, kv_dim = ly->n_kv_head * ly->head_dim;
        if ((rc = bind_vector(&ld, &ly->attn_norm, tname(nb, sizeof nb, il, "attn_norm.weight"), n_embd, true))) break;
        if ((rc = bind_matrix(&ld, &ly->wq, tname(nb, sizeof nb, il, "attn_q.weight"), n_embd, q_dim, true))) break;
        if ((rc = bind_matrix(&ld, &ly->wo, tname(nb, sizeof nb, il, "attn_output.weight"), q_dim, n_embd, true))) break;
        if (ly->owns_kv) {
            if ((rc = bind_matrix(&ld, &ly->wk, tname(nb, sizeof nb, il, "attn_k.weight"), n_embd, kv_dim, true))) break;
            if ((rc = bind_matrix(&ld, &ly->wv, tname(nb, sizeof nb, il, "attn_v.weight"), n_embd, kv_dim,
                                  m->arch != ARCH_GEMMA4))) break;
            ly->v_from_k = ly->wv.data == NULL;
        }
        bool qk_norm = m->arch != ARCH_LLAMA;
        if ((rc = bind_vector(&ld, &ly->q_norm, tname(nb, sizeof nb, il, "attn_q_norm.weight"), ly->head_dim,
                              qk_norm))) break;
        if (ly->owns_kv && (rc = bind_vector(&ld, &ly->k_norm, tname(nb, sizeof nb, il, "attn_k_norm.weight"),
                                             ly->head_dim, qk_norm))) break;
        ly->v_norm = m->arch == ARCH_GEMMA4;
        if ((rc = bind_vector(&ld, &ly->post_attn_norm, tname(nb, sizeof nb, il, "post_attention_norm.weight"),
                              n_embd, gemma))) break;
        if ((rc = bind_vector(&ld, &ly->ffn_norm, tname(nb, sizeof nb, il, "ffn_norm.weight"), n_embd, true))) break;
        if ((rc = bind_vector(&ld, &ly->post_ffn_norm, tname(nb, sizeof nb, il, "post_ffw_norm.weight"), n_embd,
                              gemma))) break;
        if ((rc = bind_matrix(&ld, &ly->w_gate, tname(nb, sizeof nb, il, "ffn_gate.weight"), n_embd, ly->n_ff, true))) break;
        if ((rc = bind_matrix(&ld, &ly->w_up, tname(nb, sizeof nb, il, "ffn_up.weight"), n_embd, ly->n_ff, true))) break;
        if ((rc = bind_matrix(&ld, &ly->w_down, tname(nb, sizeof nb, il, "ffn_down.weight"), ly->n_ff, n_embd, true))) break;
        if (m->ple_dim) {
            if ((rc = bind_matrix(&ld, &ly->ple_gate, tname(nb, sizeof nb, il, "inp_gate.weight"), n_embd,
                                  m->ple_dim, true))) break;
            if ((rc = bind_matrix(&ld, &ly->ple_proj, tname(nb, sizeof nb, il, "proj.weight"), m->ple_dim, n_embd,
                                  true))) break;
            if ((rc = bind_vector(&ld, &ly->ple_post_norm, tname(nb, sizeof nb, il, "post_norm.weight"), n_embd,
                                  true))) break;
        }
        ly->output_scale = 1.0f;
        const float *los = NULL;
        if ((rc = bind_vector(&ld, &los, tname(nb, sizeof nb, il, "layer_output_scale.weight"), 1, false))) break;
        if (los) ly->output_scale = los[0];

        if (ly->head_dim > m->max_head_dim) m->max_head_dim = ly->head_dim;
        if (kv_dim > m->max_kv_dim) m->max_kv_dim = kv_dim;
        if (q_dim > m->max_q_dim) m->max_q_dim = q_dim;
        if (ly->n_ff > m->max_ff) m->max_ff = ly->n_ff;
    }
    free(n_kv_head);
    free(n_ff);
    free(sliding);

    if (rc == 0 && m->ple_dim) {
        int64_t lp = (int64_t)L * m->ple_dim;
        rc = bind_matrix(&ld, &m->ple_embd, "per_layer_token_embd.weight", lp, m->n_vocab, true);
        if (rc == 0) rc = bind_matrix(&ld, &m->ple_model_proj, "per_layer_model_proj.weight", n_embd, lp, true);
        if (rc == 0) rc = bind_vector(&ld, &m->ple_proj_norm, "per_layer_proj_norm.weight", m->ple_dim, true);
    }
    if (rc < 0) {
        model_free_desc(m);
        return rc;
    }
    m->fd = f->fd;
    m->file_base = f->base;
    m->ple_embd.gathered = true;
    if (m->tok_embd.data != m->output.data) m->tok_embd.gathered = true;
    return 0;
}

void model_free_desc(model_desc *m) {
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    memset(m, 0, sizeof *m);
}
