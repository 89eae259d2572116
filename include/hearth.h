/*
 * hearth.h — the public API of libhearth, a local-first LLM engine.
 *
 * Contract
 *   - Every function that can fail returns a negative hearth_status (int results) or NULL (pointers) and
 *     leaves a one-line, human-readable reason in hearth_last_error() (per thread). Nothing aborts the
 *     process on bad input: hostile model files, unknown architectures, over-long prompts are errors.
 *   - A hearth_model is immutable after loading and may be shared by any number of sessions and threads.
 *     Weights stay in the read-only file mapping; nothing is copied to the heap.
 *   - A hearth_session is one token sequence (its KV cache, its scratch, its thread pool). One thread at a
 *     time per session.
 *   - Front ends (CLI, server, router) use only this header.
 */
#ifndef HEARTH_H
#define HEARTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEARTH_VERSION "0.1.0"

typedef enum {
    HEARTH_OK = 0,
    HEARTH_ERR_IO = -1,          /* cannot open / read / map a file */
    HEARTH_ERR_FORMAT = -2,      /* malformed, truncated or hostile file or input */
    HEARTH_ERR_UNSUPPORTED = -3, /* valid but not supported (architecture, tensor type, template construct) */
    HEARTH_ERR_NOMEM = -4,
    HEARTH_ERR_ARG = -5,         /* invalid argument (bad token id, bad parameter) */
    HEARTH_ERR_CONTEXT = -6,     /* the sequence does not fit the context */
    HEARTH_ERR_CANCELLED = -7,
} hearth_status;

/* The calling thread's last error message ("" if none). */
const char *hearth_last_error(void);

/* ---------------------------------------------------------------- models */

typedef struct hearth_model hearth_model;

typedef struct {
    bool vocab_only; /* load tokenizer and metadata only: no tensors are required */
    bool mlock;      /* lock the mapped weights in memory */
} hearth_model_params;

hearth_model *hearth_model_load(const char *path, const hearth_model_params *params /* NULL: defaults */);
void hearth_model_free(hearth_model *model);

typedef struct {
    const char *arch;        /* general.architecture */
    const char *name;        /* general.name or "" */
    uint64_t n_params;       /* elements in all tensors */
    uint64_t n_bytes;        /* bytes of all tensor data */
    int n_layer, n_embd, n_head, n_vocab;
    int n_ctx_train;
    bool has_chat_template;
    const char *tokenizer;   /* tokenizer.ggml.model or "" */
} hearth_model_info;

void hearth_model_get_info(const hearth_model *model, hearth_model_info *out);
int hearth_model_n_vocab(const hearth_model *model);
/* String-valued metadata by key, or NULL (e.g. "tokenizer.chat_template"). Valid while the model lives. */
const char *hearth_model_meta_str(const hearth_model *model, const char *key);
/* Tensor table: name, ggml type name, dims. Returns false past the end. */
bool hearth_model_tensor(const hearth_model *model, int i, const char **name, const char **type_name,
                         int64_t ne[4], int *n_dims);

/* -------------------------------------------------------------- sessions */

typedef struct hearth_session hearth_session;

typedef enum { HEARTH_KV_AUTO = 0, HEARTH_KV_F32, HEARTH_KV_F16, HEARTH_KV_Q8_0 } hearth_kv_type;

typedef struct {
    int n_ctx;               /* 0: min(model's training context, 4096) */
    int n_threads;           /* 0: physical cores */
    hearth_kv_type kv_type;  /* AUTO: F32 for F32/F16/BF16 weights, F16 otherwise */
    int n_batch;             /* prompt tokens per forward batch; 0: 512 */
} hearth_session_params;

hearth_session *hearth_session_new(hearth_model *model, const hearth_session_params *params /* NULL ok */);
void hearth_session_free(hearth_session *s);

int hearth_session_n_ctx(const hearth_session *s);
/* Tokens evaluated so far (the KV cache's history). */
const int32_t *hearth_session_history(const hearth_session *s, int *n);

/* Appends `n` tokens and runs the forward pass. If logits_all is not NULL it receives [n][n_vocab] floats
 * (one row per appended token); the last token's logits are always kept (hearth_session_logits).
 * Returns HEARTH_ERR_CONTEXT when the sequence would not fit, without changing the session. */
int hearth_session_eval(hearth_session *s, const int32_t *tokens, int n, float *logits_all);
const float *hearth_session_logits(const hearth_session *s);
/* Forget everything from position `pos` on (0 clears), so a shared prefix is never recomputed. */
int hearth_session_truncate(hearth_session *s, int pos);
/* Cooperative cancellation, safe to call from a signal handler or another thread. */
void hearth_session_cancel(hearth_session *s);

/* ------------------------------------------------------------- tokenizer */

/* Tokenize `len` bytes of text. add_bos: prepend BOS if the model wants one. parse_special: turn the text of
 * control tokens into those tokens (only for text the template produced, never for user input).
 * Returns the number of tokens; if it exceeds max_out, nothing beyond max_out is written and the full count
 * is still returned. Negative on error. */
int hearth_tokenize(const hearth_model *model, const char *text, size_t len, bool add_bos, bool parse_special,
                    int32_t *out, int max_out);
/* The bytes a token stands for (control tokens render as their text only if `special`). Returns the length,
 * or the needed length if larger than cap (nothing written then). */
int hearth_token_to_piece(const hearth_model *model, int32_t token, bool special, char *buf, int cap);
int32_t hearth_token_bos(const hearth_model *model); /* -1 if none */
int32_t hearth_token_eos(const hearth_model *model);
bool hearth_token_is_eog(const hearth_model *model, int32_t token); /* end of generation (EOS, EOT, ...) */

/* --------------------------------------------------------- chat templates */

typedef struct {
    const char *role;    /* "system", "user", "assistant", "tool" */
    const char *content;
} hearth_chat_message;

/* Render the model's chat template (or `template_override` when not NULL) with these messages.
 * *out is malloc'ed; the caller frees it. */
int hearth_chat_render(const hearth_model *model, const char *template_override, const hearth_chat_message *msgs,
                       size_t n_msgs, bool add_generation_prompt, char **out);
/* The same with messages (and optional tools) given as JSON arrays in OpenAI's shape. */
int hearth_chat_render_json(const hearth_model *model, const char *template_override, const char *messages_json,
                            const char *tools_json, bool add_generation_prompt, char **out);

/* --------------------------------------------------------------- sampler */

typedef struct hearth_sampler hearth_sampler;

typedef struct {
    float temperature;       /* <= 0: greedy */
    int top_k;               /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    int repeat_last_n;       /* window for the penalties; 0: 64 */
    float presence_penalty;  /* 0: off */
    float frequency_penalty; /* 0: off */
    uint64_t seed;
} hearth_sampler_params;

hearth_sampler_params hearth_sampler_default_params(void);
hearth_sampler *hearth_sampler_new(const hearth_model *model, const hearth_sampler_params *params);
void hearth_sampler_free(hearth_sampler *smp);
int32_t hearth_sampler_sample(hearth_sampler *smp, const float *logits);
void hearth_sampler_accept(hearth_sampler *smp, int32_t token);
void hearth_sampler_reset(hearth_sampler *smp);

/* =========================================================================================================
 * Tools: synthetic models and benchmark support, for `hearth synth` and `hearth bench`. Kept apart from the
 * inference API above, which does not depend on it.
 * ========================================================================================================= */

/* The i-th synthetic model (NULL past the end): "tiny", "gemma4-e2b", ... *source (if not NULL) receives
 * where its configuration comes from. */
const char *hearth_synth_name(int i, const char **source);

typedef struct {
    const char *type;        /* "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K_M" (NULL), "Q5_K_M", "Q6_K", "Q3_K_M" */
    uint64_t seed;
    int n_ctx;               /* context_length written to the file; 0: the real model's */
    int n_threads;           /* 0: physical cores */
    bool exact_quant;        /* the reference K-quantizers (slow) instead of the fast one-pass fit */
    /* optional callbacks: each planned tensor, in file order; bytes written so far */
    void (*on_tensor)(void *user, const char *name, const char *type_name, int n_dims, const int64_t ne[4],
                      uint64_t n_bytes);
    void (*on_progress)(void *user, uint64_t bytes_done, uint64_t bytes_total);
    void *user;
} hearth_synth_params;

typedef struct {
    const char *arch;        /* general.architecture */
    int n_tensors;
    uint64_t n_params;       /* elements in all tensors */
    uint64_t n_bytes;        /* bytes of all tensor data */
    uint64_t file_bytes;     /* size of the file (written or planned) */
    uint64_t ref_params;     /* the real model's published parameter count; 0: not known exactly */
    int ref_tensors;         /* tensors in the real model's GGUF; 0: not known */
} hearth_synth_info;

/* Write synthetic model `name` with random weights (exact tensor names, shapes and metadata of the real
 * model, as llama.cpp's converter and llama-quantize lay them out) to out_path. out_path NULL: plan only —
 * info is filled and on_tensor called, nothing is written. Returns 0 or a negative hearth_status. */
int hearth_synth(const char *name, const char *out_path, const hearth_synth_params *params, hearth_synth_info *info);

/* Bytes of weights one decoded token reads: every matrix the forward pass multiplies (attention, FFN,
 * per-layer-input projections, output) in full, plus one row of each embedding table. */
uint64_t hearth_model_decode_bytes(const hearth_model *model);

/* The instruction-set extensions the library was compiled for, e.g. "x86-64 SSE2" or "x86-64 AVX2 FMA F16C". */
const char *hearth_build_isa(void);

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_H */
