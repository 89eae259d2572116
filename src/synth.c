/* synth.c — plans and writes synthetic models (contract in synth.h).
 *
 * The plan follows what llama.cpp's converter writes for each architecture (tensor names, shapes, metadata
 * keys; conversion/gemma.py, llama.py, qwen.py) and how llama-quantize then picks each tensor's type for a
 * file type (src/llama-quant.cpp): for the K mixes, output / tied embeddings get Q6_K, some attn_v and
 * ffn_down layers more bits, rows that are not a multiple of the type's block fall back (Q4_K -> Q5_0,
 * Q5_K -> Q5_1, Q6_K -> Q8_0, Q3_K -> Q4_0, then F16), 1-D tensors stay F32 and per_layer_model_proj keeps
 * the converter's BF16 (its default for bf16 checkpoints). Only facts of those layouts are used; no code is taken from them.
 *
 * Weights: approximately Gaussian (sum of four uniforms), seeded per row from (seed, tensor, row) so the
 * file does not depend on the thread count; standard deviation 1/sqrt(fan-in) so activations stay O(1);
 * norm weights 1 + small noise. Rows are generated and quantized in parallel batches and streamed out. */
#include "synth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_write.h"
#include "quant.h"
#include "synth_quant.h"
#include "threadpool.h"
#include "types.h"
#include "util.h"

#define SYNTH_VERSION 1

/* ------------------------------------------------------------------------------------ layer geometry */

static bool layer_sliding(const synth_config *c, int il) {
    return c->sliding_window > 0 && c->swa_period > 0 && il % c->swa_period != c->swa_period - 1;
}
static bool is_gemma4(const synth_config *c) { return !strcmp(c->arch, "gemma4"); }
static bool is_gemma(const synth_config *c) { return !strncmp(c->arch, "gemma", 5); }
static int layer_head_dim(const synth_config *c, int il) {
    return !layer_sliding(c, il) && c->head_dim_full ? c->head_dim_full : c->head_dim;
}
static int layer_kv_heads(const synth_config *c, int il) {
    return !layer_sliding(c, il) && c->n_kv_head_full ? c->n_kv_head_full : c->n_kv_head;
}
static bool layer_has_kv(const synth_config *c, int il) { return il < c->n_layer - c->n_shared_kv; }
/* Every layer has K (and V unless K = V): the shared-KV layers of the Gemma 4 E checkpoints carry K/V
 * projections too, which inference never reads (601 tensors in a converted E2B, 720 in E4B). */
static bool layer_has_v(const synth_config *c, int il) { return !(c->k_eq_v && !layer_sliding(c, il)); }
static int layer_ff(const synth_config *c, int il) {
    return c->double_wide_ffn && !layer_has_kv(c, il) ? 2 * c->n_ff : c->n_ff;
}

/* ---------------------------------------------------------------------------------- tensor type choice */

enum category { CAT_1D, CAT_TOKEN_EMBD, CAT_OUTPUT, CAT_ATTN_V, CAT_ATTN_OUT, CAT_FFN_DOWN, CAT_KEEP_BF16, CAT_OTHER };

typedef struct {
    const synth_config *c;
    const synth_ftype *ft;
    int n_attn_v, i_attn_v, i_ffn_down;
} qstate;

static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }
static bool is_float_type(uint32_t t) { return t == T_F32 || t == T_F16 || t == T_BF16; }
static int block_of(uint32_t t) { return type_get(t)->block_size; }

static uint32_t fallback(uint32_t t, int64_t cols) {
    if (cols % block_of(t) == 0) return t;
    switch (t) {
    case T_Q4_K: t = T_Q5_0; break;
    case T_Q5_K: t = T_Q5_1; break;
    case T_Q6_K: t = T_Q8_0; break;
    case T_Q3_K: t = T_Q4_0; break;
    default: break;
    }
    return cols % block_of(t) == 0 ? t : T_F16;
}

static uint32_t pick_type(qstate *qs, enum category cat, int64_t cols) {
    const uint32_t base = qs->ft->base_type;
    const char *ft = qs->ft->name;
    if (cat == CAT_1D) return T_F32;
    if (is_float_type(base)) return base; /* the converter's own output */
    if (cat == CAT_KEEP_BF16) return T_BF16; /* llama-quantize keeps it; the converter wrote BF16 (bf16 checkpoint) */
    uint32_t t = base;
    if (cat == CAT_OUTPUT || (qs->c->tied && cat == CAT_TOKEN_EMBD)) {
        if (cols % block_of(base)) t = T_Q8_0;
        else if (base != T_Q8_0) t = T_Q6_K;
    } else if (cat == CAT_ATTN_V) {
        if (!strcmp(ft, "Q3_K_M")) t = qs->i_attn_v < 2 ? T_Q5_K : T_Q4_K;
        else if ((!strcmp(ft, "Q4_K_M") || !strcmp(ft, "Q5_K_M")) && use_more_bits(qs->i_attn_v, qs->n_attn_v)) t = T_Q6_K;
        qs->i_attn_v++;
    } else if (cat == CAT_FFN_DOWN) {
        const int i = qs->i_ffn_down, n = qs->c->n_layer;
        if (!strcmp(ft, "Q3_K_M")) t = i < n / 16 ? T_Q5_K : T_Q4_K;
        else if ((!strcmp(ft, "Q4_K_M") || !strcmp(ft, "Q5_K_M")) && use_more_bits(i, n)) t = T_Q6_K;
        qs->i_ffn_down++;
    } else if (cat == CAT_ATTN_OUT) {
        if (!strcmp(ft, "Q3_K_M")) t = T_Q4_K;
    }
    return fallback(t, cols);
}

/* -------------------------------------------------------------------------------------------- the plan */

typedef struct {
    synth_plan *p;
    qstate qs;
    int cap;
    int rc;
} planner;

static void add(planner *pl, const char *name, enum category cat, int n_dims, int64_t ne0, int64_t ne1,
                enum synth_init init, float scale) {
    if (pl->rc) return;
    synth_plan *p = pl->p;
    if (p->n == pl->cap) {
        int cap = pl->cap ? pl->cap * 2 : 256;
        synth_tensor *nt = realloc(p->t, sizeof(synth_tensor) * (size_t)cap);
        if (!nt) { pl->rc = hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory"); return; }
        p->t = nt;
        pl->cap = cap;
    }
    synth_tensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = n_dims > 1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    t->type = pick_type(&pl->qs, n_dims == 1 ? CAT_1D : cat, ne0);
    t->init = init;
    t->scale = scale;
    const type_traits *tt = type_get(t->type);
    p->n_params += (uint64_t)(t->ne[0] * t->ne[1]);
    p->n_bytes += type_row_bytes(tt, (uint64_t)t->ne[0]) * (uint64_t)t->ne[1];
}

static void add_blk(planner *pl, int il, const char *suffix, enum category cat, int n_dims, int64_t ne0, int64_t ne1,
                    enum synth_init init, float scale) {
    char name[64];
    snprintf(name, sizeof name, "blk.%d.%s", il, suffix);
    add(pl, name, cat, n_dims, ne0, ne1, init, scale);
}

static float inv_sqrt(int64_t n) { return (float)(1.0 / sqrt((double)n)); }

#define NORM_NOISE 0.05f

/* RoPE frequency divisors the converter writes: Llama 3 "llama3" scaling, or Gemma 4's "proportional" RoPE
 * (full layers rotate only rope_partial_full of each head; the other pairs get divisor 1e30, no rotation). */
static int make_rope_freqs(const synth_config *c, float **out, int *n) {
    *out = NULL;
    *n = 0;
    if (c->rope_scaling == SYNTH_ROPE_LLAMA3) {
        const int dim = c->head_dim, half = dim / 2;
        float *f = malloc(sizeof(float) * (size_t)half);
        if (!f) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
        const double lo_wavelen = c->rope_orig_ctx / c->rope_low_freq, hi_wavelen = c->rope_orig_ctx / c->rope_high_freq;
        for (int i = 0; i < half; i++) {
            const float freq = 1.0f / powf(c->rope_base, (float)(2 * i) / (float)dim);
            const double wavelen = 2 * M_PI / freq;
            if (wavelen < hi_wavelen) f[i] = 1.0f;
            else if (wavelen > lo_wavelen) f[i] = c->rope_factor;
            else {
                const double smooth = (c->rope_orig_ctx / wavelen - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
                f[i] = (float)(1.0 / ((1 - smooth) / c->rope_factor + smooth));
            }
        }
        *out = f;
        *n = half;
    } else if (is_gemma4(c)) {
        const int half = c->head_dim_full / 2, rot = (int)(c->head_dim_full * c->rope_partial_full / 2);
        float *f = malloc(sizeof(float) * (size_t)half);
        if (!f) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
        for (int i = 0; i < half; i++) f[i] = i < rot ? 1.0f : 1e30f;
        *out = f;
        *n = half;
    }
    return 0;
}

int synth_plan_make(synth_plan *p, const synth_config *c, const synth_ftype *ft) {
    memset(p, 0, sizeof *p);
    p->cfg = c;
    p->ftype = ft;
    planner pl = {.p = p, .qs = {.c = c, .ft = ft}};
    for (int il = 0; il < c->n_layer; il++) pl.qs.n_attn_v += layer_has_v(c, il);
    const int64_t d = c->n_embd, V = c->n_vocab;
    const bool g4 = is_gemma4(c), gemma = is_gemma(c), qk_norm = strcmp(c->arch, "llama") != 0;
    int n_rope = 0;
    int rc = make_rope_freqs(c, &p->rope_freqs, &n_rope);
    if (rc) return rc;

    add(&pl, "token_embd.weight", CAT_TOKEN_EMBD, 2, d, V, INIT_GAUSS, inv_sqrt(d));
    if (c->ple_dim) {
        const int64_t lp = (int64_t)c->n_layer * c->ple_dim;
        add(&pl, "per_layer_token_embd.weight", CAT_TOKEN_EMBD, 2, lp, V, INIT_GAUSS, inv_sqrt(c->ple_dim));
        add(&pl, "per_layer_model_proj.weight", CAT_KEEP_BF16, 2, d, lp, INIT_GAUSS, inv_sqrt(d));
        add(&pl, "per_layer_proj_norm.weight", CAT_1D, 1, c->ple_dim, 1, INIT_NORM, NORM_NOISE);
    }
    if (p->rope_freqs) {
        add(&pl, "rope_freqs.weight", CAT_1D, 1, n_rope, 1, INIT_VALUES, 0);
        if (!pl.rc) p->t[p->n - 1].values = p->rope_freqs;
    }
    for (int il = 0; il < c->n_layer; il++) {
        const int hd = layer_head_dim(c, il), q_dim = c->n_head * hd, kv_dim = layer_kv_heads(c, il) * hd;
        const int ff = layer_ff(c, il);
        add_blk(&pl, il, "attn_norm.weight", CAT_1D, 1, d, 1, INIT_NORM, NORM_NOISE);
        add_blk(&pl, il, "attn_q.weight", CAT_OTHER, 2, d, q_dim, INIT_GAUSS, inv_sqrt(d));
        add_blk(&pl, il, "attn_k.weight", CAT_OTHER, 2, d, kv_dim, INIT_GAUSS, inv_sqrt(d));
        if (layer_has_v(c, il)) add_blk(&pl, il, "attn_v.weight", CAT_ATTN_V, 2, d, kv_dim, INIT_GAUSS, inv_sqrt(d));
        add_blk(&pl, il, "attn_output.weight", CAT_ATTN_OUT, 2, q_dim, d, INIT_GAUSS, inv_sqrt(q_dim));
        if (qk_norm) {
            add_blk(&pl, il, "attn_q_norm.weight", CAT_1D, 1, hd, 1, INIT_NORM, NORM_NOISE);
            add_blk(&pl, il, "attn_k_norm.weight", CAT_1D, 1, hd, 1, INIT_NORM, NORM_NOISE);
        }
        if (gemma) add_blk(&pl, il, "post_attention_norm.weight", CAT_1D, 1, d, 1, INIT_NORM, NORM_NOISE);
        add_blk(&pl, il, "ffn_norm.weight", CAT_1D, 1, d, 1, INIT_NORM, NORM_NOISE);
        add_blk(&pl, il, "ffn_gate.weight", CAT_OTHER, 2, d, ff, INIT_GAUSS, inv_sqrt(d));
        add_blk(&pl, il, "ffn_up.weight", CAT_OTHER, 2, d, ff, INIT_GAUSS, inv_sqrt(d));
        add_blk(&pl, il, "ffn_down.weight", CAT_FFN_DOWN, 2, ff, d, INIT_GAUSS, inv_sqrt(ff));
        if (gemma) add_blk(&pl, il, "post_ffw_norm.weight", CAT_1D, 1, d, 1, INIT_NORM, NORM_NOISE);
        if (c->ple_dim) {
            add_blk(&pl, il, "inp_gate.weight", CAT_OTHER, 2, d, c->ple_dim, INIT_GAUSS, inv_sqrt(d));
            add_blk(&pl, il, "proj.weight", CAT_OTHER, 2, c->ple_dim, d, INIT_GAUSS, inv_sqrt(c->ple_dim));
            add_blk(&pl, il, "post_norm.weight", CAT_1D, 1, d, 1, INIT_NORM, NORM_NOISE);
        }
        if (g4) add_blk(&pl, il, "layer_output_scale.weight", CAT_1D, 1, 1, 1, INIT_CONST, 1.0f);
    }
    add(&pl, "output_norm.weight", CAT_1D, 1, d, 1, INIT_NORM, NORM_NOISE);
    if (!c->tied) add(&pl, "output.weight", CAT_OUTPUT, 2, d, V, INIT_GAUSS, inv_sqrt(d));
    if (pl.rc) synth_plan_free(p);
    return pl.rc;
}

void synth_plan_free(synth_plan *p) {
    free(p->t);
    free(p->rope_freqs);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------------------------------------ vocabulary */

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

typedef struct {
    char **text;
    float *score;
    int32_t *type;
    int n;
    char *pool;
    size_t pool_len, pool_cap;
} vocab;

static int vocab_set(vocab *v, int id, const char *text, int type, float score) {
    size_t len = strlen(text) + 1;
    if (v->pool_len + len > v->pool_cap) return hearth_fail(HEARTH_ERR_NOMEM, "synth: vocabulary pool overflow");
    memcpy(v->pool + v->pool_len, text, len);
    v->text[id] = (char *)(uintptr_t)v->pool_len; /* offsets until the pool stops moving */
    v->pool_len += len;
    v->type[id] = type;
    v->score[id] = score;
    return 0;
}

/* GPT-2's byte-level BPE alphabet: printable bytes stand for themselves, the others map to U+0100 upward. */
static void gpt2_byte_char(int b, char out[4]) {
    static int map[256];
    static bool init;
    if (!init) {
        int n = 0;
        for (int i = 0; i < 256; i++) {
            bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
            map[i] = printable ? i : 256 + n++;
        }
        init = true;
    }
    int cp = map[b];
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 0x3F)); out[2] = 0; }
}

/* The byte order in which GPT-2 lists its alphabet (printable ranges first), so ids resemble the real ones. */
static int gpt2_byte_at(int i) {
    static int order[256];
    static bool init;
    if (!init) {
        int n = 0;
        for (int b = 0; b < 256; b++)
            if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) order[n++] = b;
        for (int b = 0; b < 256; b++)
            if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) order[n++] = b;
        init = true;
    }
    return order[i];
}

typedef struct {
    const char *model, *pre;
    int32_t bos, eos, unk, pad;
    bool add_bos, has_scores, has_merges, add_space_prefix_false;
} vocab_meta;

static void vocab_free(vocab *v) {
    free(v->text);
    free(v->score);
    free(v->type);
    free(v->pool);
    memset(v, 0, sizeof *v);
}

static int vocab_build(vocab *v, const synth_config *c, vocab_meta *vm) {
    memset(v, 0, sizeof *v);
    memset(vm, 0, sizeof *vm);
    const int n = c->n_vocab;
    v->n = n;
    v->text = calloc((size_t)n, sizeof(char *));
    v->score = calloc((size_t)n, sizeof(float));
    v->type = calloc((size_t)n, sizeof(int32_t));
    v->pool_cap = (size_t)n * 32 + 4096;
    v->pool = malloc(v->pool_cap);
    if (!v->text || !v->score || !v->type || !v->pool) { vocab_free(v); return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory"); }
    char buf[64];
    int rc = 0, id = 0;
    if (c->tok == SYNTH_TOK_GEMMA4 || c->tok == SYNTH_TOK_GEMMA3) {
        const bool g4 = c->tok == SYNTH_TOK_GEMMA4;
        const float sc = g4 ? -1000.0f : 0.0f;
        rc |= vocab_set(v, id++, "<pad>", TT_CONTROL, sc);
        rc |= vocab_set(v, id++, "<eos>", TT_CONTROL, sc);
        rc |= vocab_set(v, id++, "<bos>", TT_CONTROL, sc);
        rc |= vocab_set(v, id++, "<unk>", TT_UNKNOWN, sc);
        for (int b = 0; b < 256; b++) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            rc |= vocab_set(v, id++, buf, TT_BYTE, sc);
        }
        rc |= vocab_set(v, id++, g4 ? "<|turn>" : "<start_of_turn>", TT_CONTROL, sc);
        rc |= vocab_set(v, id++, g4 ? "<turn|>" : "<end_of_turn>", TT_CONTROL, sc);
        rc |= vocab_set(v, id++, "\xe2\x96\x81", TT_NORMAL, g4 ? sc : -1.0f); /* "▁", SentencePiece's space */
        for (int k = 0; id < n; k++, id++) {
            snprintf(buf, sizeof buf, "<unused%d>", k);
            rc |= vocab_set(v, id, buf, TT_NORMAL, g4 ? sc : -2.0f - (float)k);
        }
        *vm = (vocab_meta){.model = g4 ? "gemma4" : "llama", .pre = g4 ? NULL : "default", .bos = 2, .eos = 1,
                           .unk = 3, .pad = 0, .add_bos = true, .has_scores = true, .has_merges = g4,
                           .add_space_prefix_false = true};
    } else {
        const bool llama = c->tok == SYNTH_TOK_LLAMA3;
        const int first_special = llama ? 128000 : 151643;
        const int n_named = llama ? 256 : 26; /* Llama 3: 256 special ids; Qwen: 151643..151668 */
        for (int b = 0; b < 256; b++) {
            gpt2_byte_char(gpt2_byte_at(b), buf);
            rc |= vocab_set(v, id++, buf, TT_NORMAL, 0);
        }
        for (int k = 0; id < first_special && id < n; k++, id++) {
            snprintf(buf, sizeof buf, "<unused%d>", k);
            rc |= vocab_set(v, id, buf, TT_NORMAL, 0);
        }
        static const char *const llama_sp[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                                               "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                                               "<|reserved_special_token_2|>", "<|start_header_id|>",
                                               "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"};
        static const char *const qwen_sp[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        const char *const *named = llama ? llama_sp : qwen_sp;
        const int n_listed = llama ? 11 : 3;
        for (int k = 0; k < n_named && id < n; k++, id++) {
            if (k < n_listed) rc |= vocab_set(v, id, named[k], TT_CONTROL, 0);
            else {
                snprintf(buf, sizeof buf, llama ? "<|reserved_special_token_%d|>" : "<|extra_%d|>", llama ? k - 8 : k);
                rc |= vocab_set(v, id, buf, TT_CONTROL, 0);
            }
        }
        for (; id < n; id++) {
            snprintf(buf, sizeof buf, "[PAD%d]", id);
            rc |= vocab_set(v, id, buf, TT_UNUSED, 0);
        }
        *vm = (vocab_meta){.model = "gpt2", .pre = llama ? "llama-bpe" : "qwen2",
                           .bos = llama ? 128000 : 151643, .eos = llama ? 128009 : 151645, .unk = -1,
                           .pad = llama ? -1 : 151643, .add_bos = llama, .has_merges = true};
    }
    if (rc) { vocab_free(v); return rc; }
    for (int i = 0; i < n; i++) v->text[i] = v->pool + (uintptr_t)v->text[i];
    return 0;
}

/* ---------------------------------------------------------------------------------------- the header */

/* Several writer calls were OR-ed together: report the last failure's message (copied first: hearth_fail
 * formats into the same per-thread buffer hearth_last_error() returns). */
static int rethrow(const char *who) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", hearth_last_error());
    return hearth_fail(HEARTH_ERR_ARG, "%s: %s", who, msg);
}

static int declare(gguf_writer *w, const synth_plan *p, const synth_write_params *wp) {
    const synth_config *c = p->cfg;
    char k[128];
#define AK(suffix) (snprintf(k, sizeof k, "%s.%s", c->arch, suffix), k)
    int rc = 0;
    rc |= gguf_w_str(w, "general.architecture", c->arch);
    rc |= gguf_w_str(w, "general.type", "model");
    rc |= gguf_w_str(w, "general.name", c->display);
    rc |= gguf_w_str(w, "general.basename", c->basename);
    rc |= gguf_w_str(w, "general.size_label", c->size_label);
    char desc[256];
    snprintf(desc, sizeof desc, "synthetic random weights with the shapes of %s (hearth synth %s --type %s --seed %llu); "
             "not a trained model", c->display, c->name, p->ftype->name, (unsigned long long)wp->seed);
    rc |= gguf_w_str(w, "general.description", desc);
    rc |= gguf_w_u32(w, AK("block_count"), (uint32_t)c->n_layer);
    rc |= gguf_w_u32(w, AK("context_length"), (uint32_t)(wp->n_ctx > 0 ? wp->n_ctx : c->n_ctx));
    rc |= gguf_w_u32(w, AK("embedding_length"), (uint32_t)c->n_embd);
    if (c->double_wide_ffn) {
        uint32_t *ff = malloc(sizeof(uint32_t) * (size_t)c->n_layer);
        if (!ff) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
        for (int il = 0; il < c->n_layer; il++) ff[il] = (uint32_t)layer_ff(c, il);
        rc |= gguf_w_arr_u32(w, AK("feed_forward_length"), ff, (size_t)c->n_layer);
        free(ff);
    } else {
        rc |= gguf_w_u32(w, AK("feed_forward_length"), (uint32_t)c->n_ff);
    }
    rc |= gguf_w_u32(w, AK("attention.head_count"), (uint32_t)c->n_head);
    if (c->n_kv_head_full) {
        uint32_t *kv = malloc(sizeof(uint32_t) * (size_t)c->n_layer);
        if (!kv) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
        for (int il = 0; il < c->n_layer; il++) kv[il] = (uint32_t)layer_kv_heads(c, il);
        rc |= gguf_w_arr_u32(w, AK("attention.head_count_kv"), kv, (size_t)c->n_layer);
        free(kv);
    } else {
        rc |= gguf_w_u32(w, AK("attention.head_count_kv"), (uint32_t)c->n_kv_head);
    }
    if (c->rope_scaling == SYNTH_ROPE_LINEAR) {
        rc |= gguf_w_str(w, AK("rope.scaling.type"), "linear");
        rc |= gguf_w_f32(w, AK("rope.scaling.factor"), c->rope_factor);
    }
    rc |= gguf_w_f32(w, AK("rope.freq_base"), c->rope_base);
    if (c->sliding_window) rc |= gguf_w_f32(w, AK("rope.freq_base_swa"), c->rope_base_swa);
    rc |= gguf_w_f32(w, AK("attention.layer_norm_rms_epsilon"), c->norm_eps);
    const int hd_full = c->head_dim_full ? c->head_dim_full : c->head_dim;
    if (c->write_head_dim || is_gemma4(c)) {
        rc |= gguf_w_u32(w, AK("attention.key_length"), (uint32_t)hd_full);
        rc |= gguf_w_u32(w, AK("attention.value_length"), (uint32_t)hd_full);
    }
    if (c->final_softcap > 0) rc |= gguf_w_f32(w, AK("final_logit_softcapping"), c->final_softcap);
    if (c->sliding_window) rc |= gguf_w_u32(w, AK("attention.sliding_window"), (uint32_t)c->sliding_window);
    if (is_gemma4(c)) {
        rc |= gguf_w_u32(w, AK("attention.shared_kv_layers"), (uint32_t)c->n_shared_kv);
        rc |= gguf_w_u32(w, AK("embedding_length_per_layer_input"), (uint32_t)c->ple_dim);
        bool *swa = malloc(sizeof(bool) * (size_t)c->n_layer);
        if (!swa) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
        for (int il = 0; il < c->n_layer; il++) swa[il] = layer_sliding(c, il);
        rc |= gguf_w_arr_bool(w, AK("attention.sliding_window_pattern"), swa, (size_t)c->n_layer);
        free(swa);
        rc |= gguf_w_u32(w, AK("attention.key_length_swa"), (uint32_t)c->head_dim);
        rc |= gguf_w_u32(w, AK("attention.value_length_swa"), (uint32_t)c->head_dim);
        rc |= gguf_w_u32(w, AK("rope.dimension_count"), (uint32_t)hd_full);
        rc |= gguf_w_u32(w, AK("rope.dimension_count_swa"), (uint32_t)c->head_dim);
    }
    if (!strcmp(c->arch, "llama")) {
        rc |= gguf_w_u32(w, AK("vocab_size"), (uint32_t)c->n_vocab);
        rc |= gguf_w_u32(w, AK("rope.dimension_count"), (uint32_t)c->head_dim);
    }
#undef AK
    rc |= gguf_w_u32(w, "general.quantization_version", 2);
    rc |= gguf_w_u32(w, "general.file_type", p->ftype->file_type);
    rc |= gguf_w_str(w, "hearth.synth.model", c->name);
    rc |= gguf_w_u32(w, "hearth.synth.version", SYNTH_VERSION);
    rc |= gguf_w_u64(w, "hearth.synth.seed", wp->seed);
    if (rc) return rethrow("synth");

    vocab v;
    vocab_meta vm;
    if ((rc = vocab_build(&v, c, &vm))) return rc;
    rc |= gguf_w_str(w, "tokenizer.ggml.model", vm.model);
    if (vm.pre) rc |= gguf_w_str(w, "tokenizer.ggml.pre", vm.pre);
    rc |= gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v.text, (size_t)v.n);
    if (vm.has_scores) rc |= gguf_w_arr_f32(w, "tokenizer.ggml.scores", v.score, (size_t)v.n);
    rc |= gguf_w_arr_i32(w, "tokenizer.ggml.token_type", v.type, (size_t)v.n);
    if (vm.has_merges) rc |= gguf_w_arr_str(w, "tokenizer.ggml.merges", NULL, 0);
    rc |= gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)vm.bos);
    rc |= gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)vm.eos);
    if (vm.unk >= 0) rc |= gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)vm.unk);
    if (vm.pad >= 0) rc |= gguf_w_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)vm.pad);
    rc |= gguf_w_bool(w, "tokenizer.ggml.add_bos_token", vm.add_bos);
    if (vm.add_space_prefix_false) rc |= gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", false);
    vocab_free(&v);
    if (rc) return rethrow("synth");

    for (int i = 0; i < p->n; i++) {
        const synth_tensor *t = &p->t[i];
        int r = gguf_w_tensor(w, t->name, t->type, t->n_dims, t->ne);
        if (r < 0) return r;
    }
    return 0;
}

int synth_file_bytes(const synth_plan *p, const synth_write_params *wp, uint64_t *file_bytes) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
    int rc = declare(w, p, wp);
    if (!rc) *file_bytes = gguf_w_file_bytes(w);
    gguf_writer_free(w);
    return rc;
}

/* ------------------------------------------------------------------------------------------- the data */

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n values of about N(offset, scale²): the sum of four 16-bit uniforms (wyrand stream), centered, scaled. */
static void gauss_row(uint64_t state, float *out, int64_t n, float scale, float offset) {
    const float k = scale / 37837.2265f; /* 65536 / sqrt(3): the sum's standard deviation */
    for (int64_t i = 0; i < n; i++) {
        state += 0xa0761d6478bd642full;
        const unsigned __int128 t = (unsigned __int128)state * (state ^ 0xe7037ed1a0b428dbull);
        const uint64_t r = (uint64_t)(t >> 64) ^ (uint64_t)t;
        const int s = (int)(r & 0xFFFF) + (int)((r >> 16) & 0xFFFF) + (int)((r >> 32) & 0xFFFF) + (int)(r >> 48);
        out[i] = offset + k * ((float)s - 131070.0f);
    }
}

static void fill_row(const synth_tensor *t, uint64_t tseed, int64_t row, float *out) {
    const int64_t n = t->ne[0];
    const uint64_t state = mix64(tseed ^ mix64((uint64_t)row + 0x632BE59BD9B4E019ull));
    switch (t->init) {
    case INIT_GAUSS: gauss_row(state, out, n, t->scale, 0.0f); break;
    case INIT_NORM: gauss_row(state, out, n, t->scale, 1.0f); break;
    case INIT_CONST: for (int64_t i = 0; i < n; i++) out[i] = t->scale; break;
    case INIT_VALUES: memcpy(out, t->values, sizeof(float) * (size_t)n); break;
    }
}

typedef struct {
    const synth_tensor *t;
    uint64_t tseed, row_bytes;
    int64_t row0, n_rows;   /* this batch */
    int n_tasks;
    uint8_t *out;
    float **scratch;
    bool exact;
    volatile int failed;
} gen_job;

static void gen_task(void *arg, int i) {
    gen_job *j = arg;
    const int64_t per = (j->n_rows + j->n_tasks - 1) / j->n_tasks;
    const int64_t r0 = (int64_t)i * per, r1 = r0 + per < j->n_rows ? r0 + per : j->n_rows;
    for (int64_t r = r0; r < r1; r++) {
        fill_row(j->t, j->tseed, j->row0 + r, j->scratch[i]);
        void *dst = j->out + (size_t)r * j->row_bytes;
        bool ok = j->exact ? quantize_row(j->t->type, j->scratch[i], dst, j->t->ne[0])
                           : quantize_row_fast(j->t->type, j->scratch[i], dst, j->t->ne[0]);
        if (!ok) j->failed = 1;
    }
}

enum { BATCH_BYTES = 16 << 20, MAX_TASKS = 64 };

/* A background thread that streams finished batches to the file while the pool fills the next one. It holds
 * at most one buffer at a time: posting waits until the previous batch is written. */
typedef struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gguf_writer *w;
    FILE *fp;
    const uint8_t *buf;
    size_t len;
    bool end_tensor, busy, quit;
    int rc;
    char msg[512];
} bg_writer;

static void *bg_main(void *arg) {
    bg_writer *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->busy && !b->quit) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->busy) break;
        const uint8_t *buf = b->buf;
        const size_t len = b->len;
        const bool end = b->end_tensor, failed = b->rc != 0;
        pthread_mutex_unlock(&b->mu);
        int rc = 0;
        if (!failed) {
            rc = gguf_w_write(b->w, b->fp, buf, len);
            if (!rc && end) rc = gguf_w_end_tensor(b->w, b->fp);
        }
        pthread_mutex_lock(&b->mu);
        if (rc) {
            b->rc = rc;
            snprintf(b->msg, sizeof b->msg, "%s", hearth_last_error()); /* errors are per thread */
        }
        b->busy = false;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Hand a batch to the writer (after it finished the previous one); returns the writer's error so far. */
static int bg_post(bg_writer *b, const uint8_t *buf, size_t len, bool end_tensor) {
    pthread_mutex_lock(&b->mu);
    while (b->busy) pthread_cond_wait(&b->cv, &b->mu);
    b->buf = buf;
    b->len = len;
    b->end_tensor = end_tensor;
    b->busy = true;
    int rc = b->rc;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* Wait for the last batch, stop the thread, and return its error (re-raised on this thread). */
static int bg_finish(bg_writer *b) {
    pthread_mutex_lock(&b->mu);
    while (b->busy) pthread_cond_wait(&b->cv, &b->mu);
    b->quit = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->th, NULL);
    return b->rc ? hearth_fail(b->rc, "%s", b->msg) : 0;
}

int synth_write(const synth_plan *p, const char *path, const synth_write_params *wp, uint64_t *file_bytes) {
    int rc = 0;
    gguf_writer *w = gguf_writer_new();
    threadpool *pool = NULL;
    FILE *fp = NULL;
    uint8_t *out[2] = {NULL, NULL};
    float *scratch_mem = NULL;
    float *scratch[MAX_TASKS];
    char *tmp = NULL;
    bg_writer bg = {.rc = 0};
    bool bg_running = false;
    if (!w) return hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory");
    if ((rc = declare(w, p, wp))) goto done;
    const uint64_t total = gguf_w_file_bytes(w);

    int n_threads = wp->n_threads > 0 ? wp->n_threads : cpu_physical_cores();
    const int n_tasks = n_threads * 4 < MAX_TASKS ? n_threads * 4 : MAX_TASKS;
    int64_t max_cols = 1;
    for (int i = 0; i < p->n; i++) if (p->t[i].ne[0] > max_cols) max_cols = p->t[i].ne[0];
    const size_t out_cap = BATCH_BYTES + 4 * (size_t)max_cols * sizeof(float); /* at least one row of anything */
    pool = pool_new(n_threads);
    out[0] = malloc(out_cap);
    out[1] = malloc(out_cap);
    scratch_mem = malloc(sizeof(float) * (size_t)max_cols * (size_t)n_tasks);
    size_t plen = strlen(path);
    tmp = malloc(plen + 5);
    if (!pool || !out[0] || !out[1] || !scratch_mem || !tmp) { rc = hearth_fail(HEARTH_ERR_NOMEM, "synth: out of memory"); goto done; }
    for (int i = 0; i < n_tasks; i++) scratch[i] = scratch_mem + (size_t)i * (size_t)max_cols;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    if (!(fp = fopen(tmp, "wb"))) { rc = hearth_fail(HEARTH_ERR_IO, "synth: cannot create %s", tmp); goto done; }
    setvbuf(fp, NULL, _IOFBF, 1 << 22);
    if ((rc = gguf_w_begin(w, fp))) goto done;
    bg.w = w;
    bg.fp = fp;
    pthread_mutex_init(&bg.mu, NULL);
    pthread_cond_init(&bg.cv, NULL);
    if (pthread_create(&bg.th, NULL, bg_main, &bg) != 0) {
        rc = hearth_fail(HEARTH_ERR_NOMEM, "synth: cannot start the writer thread");
        goto done;
    }
    bg_running = true;
    uint64_t done_bytes = gguf_w_header_bytes(w);
    int cur = 0;
    for (int ti = 0; ti < p->n && !rc; ti++) {
        const synth_tensor *t = &p->t[ti];
        const uint64_t row_bytes = type_row_bytes(type_get(t->type), (uint64_t)t->ne[0]);
        const int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        int64_t batch = (int64_t)(BATCH_BYTES / row_bytes);
        if (batch < 1) batch = 1;
        gen_job job = {.t = t, .tseed = mix64(wp->seed * 0x9E3779B97F4A7C15ull + (uint64_t)ti + 1),
                       .row_bytes = row_bytes, .scratch = scratch, .exact = wp->exact_quant};
        for (int64_t r = 0; r < rows && !rc; r += batch) {
            job.out = out[cur];
            job.row0 = r;
            job.n_rows = rows - r < batch ? rows - r : batch;
            /* small batches are not worth waking the pool */
            job.n_tasks = job.n_rows * t->ne[0] < 65536 ? 1 : job.n_rows < n_tasks ? (int)job.n_rows : n_tasks;
            if (job.n_tasks == 1) gen_task(&job, 0);
            else pool_for(pool, job.n_tasks, gen_task, &job);
            if (job.failed) { rc = hearth_fail(HEARTH_ERR_UNSUPPORTED, "synth: cannot quantize to %s", type_get(t->type)->name); break; }
            const bool last = r + job.n_rows >= rows;
            if ((rc = bg_post(&bg, out[cur], (size_t)(job.n_rows * (int64_t)row_bytes), last))) break;
            cur ^= 1;
            done_bytes += (uint64_t)job.n_rows * row_bytes;
            if (wp->on_progress) wp->on_progress(wp->ud, done_bytes, total);
        }
    }
    bg_running = false;
    {
        int brc = bg_finish(&bg);
        if (!rc) rc = brc;
    }
    if (!rc) rc = gguf_w_finish(w, fp);
    if (fclose(fp) != 0 && !rc) rc = hearth_fail(HEARTH_ERR_IO, "synth: cannot write %s (disk full?)", tmp);
    fp = NULL;
    if (!rc && rename(tmp, path) != 0) rc = hearth_fail(HEARTH_ERR_IO, "synth: cannot rename %s to %s", tmp, path);
    if (!rc && file_bytes) *file_bytes = total;
done:
    if (bg_running) bg_finish(&bg);
    if (bg.w) {
        pthread_mutex_destroy(&bg.mu);
        pthread_cond_destroy(&bg.cv);
    }
    if (fp) fclose(fp);
    if (rc && tmp) remove(tmp);
    free(tmp);
    free(out[0]);
    free(out[1]);
    free(scratch_mem);
    pool_free(pool);
    gguf_writer_free(w);
    return rc;
}
