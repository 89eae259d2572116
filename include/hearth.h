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
hearth_model *hearth_session_model(const hearth_session *s);
/* Tokens evaluated so far (the KV cache's history). */
const int32_t *hearth_session_history(const hearth_session *s, int *n);

/* Appends `n` tokens and runs the forward pass. If logits_all is not NULL it receives [n][n_vocab] floats
 * (one row per appended token); the last token's logits are always kept (hearth_session_logits).
 * Returns HEARTH_ERR_CONTEXT when the sequence would not fit, without changing the session. */
int hearth_session_eval(hearth_session *s, const int32_t *tokens, int n, float *logits_all);
const float *hearth_session_logits(const hearth_session *s);
/* One decoding step for several sessions of the same model at once: session i appends tokens[i]. The
 * weights are read once for all of them (continuous batching: what makes N streams cost far less than N
 * times one). Each session's logits are then available as after hearth_session_eval. All or nothing: on
 * error no session changes. */
int hearth_sessions_step(hearth_session *const *sessions, const int32_t *tokens, int n);
/* Forget everything from position `pos` on (0 clears), so a shared prefix is never recomputed. */
int hearth_session_truncate(hearth_session *s, int pos);
/* Cooperative cancellation, safe to call from a signal handler or another thread: the evaluation in
 * progress (or the next one) returns HEARTH_ERR_CANCELLED, which consumes the request. */
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

/* Render the conversation with the model's template (or template_override) and tokenize the result for
 * generation. Control tokens come only from the template's own text: message contents are tokenized as
 * plain text (a user cannot forge <start_of_turn> and the like) unless parse_special_content. BOS is added
 * if the model wants it and the template did not write it. *tokens is malloc'ed. */
int hearth_chat_tokenize(const hearth_model *model, const char *template_override, const hearth_chat_message *msgs,
                         size_t n_msgs, bool add_generation_prompt, bool parse_special_content, int32_t **tokens,
                         int *n_tokens);

/* The same with messages (and optional tools) as JSON in OpenAI's shape; every message content is protected,
 * and so is every string of the tools and of tool calls' arguments that holds control-token text (found by
 * rendering again with those strings masked). */
int hearth_chat_tokenize_json(const hearth_model *model, const char *template_override, const char *messages_json,
                              const char *tools_json, bool add_generation_prompt, int32_t **tokens, int *n_tokens);

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
/* A token was generated (sampled or forced): it enters the penalty window and advances the grammar, if any. */
void hearth_sampler_accept(hearth_sampler *smp, int32_t token);
/* Prompt tokens: they enter the penalty window only (a grammar constrains the output, not the prompt). */
void hearth_sampler_accept_prompt(hearth_sampler *smp, const int32_t *tokens, int n);
/* Back to the start: seed, penalty window, and the grammar (a lazy one waits for its trigger again). */
void hearth_sampler_reset(hearth_sampler *smp);

/* ----------------------------------------------------------- text stream */

/* Turns generated token pieces into text that is safe to show as it comes: only complete UTF-8 (a character
 * may span tokens; invalid bytes pass through) and nothing that could still become a stop string. What
 * hearth_generate does for on_text, for front ends that drive sessions step by step (hearth_sessions_step). */
typedef struct hearth_text_stream hearth_text_stream;

/* The stop strings are copied (NULL or empty ones are ignored). NULL on failure. */
hearth_text_stream *hearth_text_stream_new(const char *const *stop, int n_stop);
void hearth_text_stream_free(hearth_text_stream *ts);
/* Append `len` bytes (a token's piece); `final`: nothing more will come, so everything held back is released.
 * On return *out points at *out_len bytes that may be shown now (valid until the next call; often 0 bytes).
 * Returns 1 once a stop string has appeared (*out is the text before it; every later call gives nothing),
 * 0 otherwise, negative on error. */
int hearth_text_stream_push(hearth_text_stream *ts, const char *bytes, size_t len, bool final, const char **out,
                            size_t *out_len);

/* A malloc'ed, NUL-terminated copy of s[0..n) that is valid UTF-8: every byte that starts no valid sequence
 * (overlong forms, surrogates, past U+10FFFF, truncated) becomes U+FFFD. NULL when out of memory. */
char *hearth_utf8_sanitize(const char *s, size_t n, size_t *out_len);

/* ------------------------------------------- constrained output: grammars and JSON schemas */
/*
 * A sampler with a grammar chooses only tokens that keep the output a prefix of a text the grammar accepts,
 * and end-of-generation tokens only where the whole text is accepted, so the output is valid by
 * construction (unless generation stops early: max_tokens, a stop string, the context). This holds for
 * greedy sampling (temperature <= 0) as well. hearth_generate advances the grammar through
 * hearth_sampler_accept; callers driving their own loop must call hearth_sampler_accept with every token.
 *
 * Grammars are GBNF, as llama.cpp users write them: `name ::= ...` rules, | alternatives, ( ) groups,
 * * + ? {m} {m,} {m,n} repetition, "literals", [classes] and [^negated] ones with \n \t \xHH \uHHHH escapes,
 * `.` for any character, # comments, `root` as the start, and <[id]> / <token-text> / !<...> token
 * references. Left recursion is an error (the message names the rule). Setting a grammar replaces the
 * previous one; gbnf = NULL removes it. Errors return a negative status with the reason in
 * hearth_last_error() and leave the sampler as it was.
 */
int hearth_sampler_set_grammar(hearth_sampler *smp, const char *gbnf, const char *root /* NULL: "root" */);
/* The output is a JSON document valid against this JSON Schema (see hearth_json_schema_to_gbnf). */
int hearth_sampler_set_json_schema(hearth_sampler *smp, const char *schema_json);
/* The output is any JSON value (hearth_json_gbnf()). */
int hearth_sampler_set_json(hearth_sampler *smp);

/* A lazy grammar applies only from a trigger on (tool calls inside free text): until then the sampler is
 * unconstrained. A trigger word activates it where the word appears in the output, and the grammar must
 * match from the start of the word (e.g. root ::= "<tool_call>" json "</tool_call>"); a trigger token
 * activates it after that token (which may be a control token that writes no text). */
typedef struct {
    const char *const *words;
    int n_words;
    const int32_t *tokens;
    int n_tokens;
} hearth_grammar_triggers;
int hearth_sampler_set_grammar_lazy(hearth_sampler *smp, const char *gbnf, const char *root,
                                    const hearth_grammar_triggers *triggers);

typedef enum {
    HEARTH_GRAMMAR_NONE = 0,   /* no grammar */
    HEARTH_GRAMMAR_WAITING,    /* lazy grammar, not triggered yet */
    HEARTH_GRAMMAR_ACTIVE,     /* inside the grammar: the output so far is an incomplete text */
    HEARTH_GRAMMAR_COMPLETE,   /* the output is a complete text (it may still go on, or end) */
    HEARTH_GRAMMAR_DONE,       /* complete, and nothing can follow but the end of generation */
    HEARTH_GRAMMAR_FAILED,     /* an accepted token did not fit, or no token of the vocabulary can go on (the
                                * sampler then returned the end-of-sequence token); no longer constrains */
} hearth_grammar_state;
hearth_grammar_state hearth_sampler_grammar_state(const hearth_sampler *smp);
/* Back to the grammar's start (a lazy grammar waits for its trigger again), nothing else reset.
 * hearth_generate does this at its start: a grammar describes each generation's output. */
void hearth_sampler_reset_grammar(hearth_sampler *smp);

/* JSON Schema -> GBNF. Supported: type (string, number, integer, boolean, null, object, array, and arrays of
 * these), properties, required, additionalProperties (false, true, a schema; absent = false, so the model
 * writes only the declared keys), enum, const, minLength/maxLength, minimum/maximum/exclusiveMinimum/
 * exclusiveMaximum (integers exactly; numbers: integer bounds are exact, fractional ones rounded inward),
 * items, prefixItems, minItems/maxItems, $ref to local definitions ($defs, definitions, any #/ pointer;
 * recursion allowed), anyOf, oneOf (as anyOf: a value may match several branches), allOf of objects,
 * format (date, time, date-time, uuid, email, ipv4) and pattern (a regex subset: literals, classes, ., \d \w
 * \s, groups, |, * + ? {m,n}, ^ $). Annotations (title, description, default, examples, $schema, $id,
 * $comment, deprecated, readOnly, writeOnly) are ignored; any other keyword is an error naming it and its
 * path. Properties come in the order they are declared. Whitespace between tokens is bounded (one space,
 * or a newline and up to 20 spaces of indentation) so a model cannot loop on it. *gbnf_out is malloc'ed. */
int hearth_json_schema_to_gbnf(const char *schema_json, char **gbnf_out);
/* The GBNF of any JSON value (static text). */
const char *hearth_json_gbnf(void);

/* ------------------------------------------------------------ tool calls */
/*
 * Tools are declared as in OpenAI's API: a JSON array of {"type": "function", "function": {"name",
 * "description", "parameters": a JSON Schema}}. The chat template shows them to the model (tools_json of
 * hearth_chat_render_json / hearth_chat_tokenize_json); the model answers with calls in its family's format.
 */
typedef enum {
    HEARTH_TOOL_FORMAT_HERMES = 0, /* <tool_call>{"name": N, "arguments": {...}}</tool_call>: Qwen 2.5/3, Hermes
                                    * (and the fallback for templates that show no known format) */
    HEARTH_TOOL_FORMAT_LLAMA3,     /* {"name": N, "parameters": {...}}, optionally after <|python_tag|>: Llama 3.x */
    HEARTH_TOOL_FORMAT_GEMMA4,     /* <|tool_call>call:N{key:<|"|>text<|"|>,n:1}<tool_call|>: Gemma 4 */
} hearth_tool_format;

/* The format a chat template's text uses (by the markers it writes); HERMES when none is recognised. */
hearth_tool_format hearth_tool_format_detect(const char *template_source);
const char *hearth_tool_format_name(hearth_tool_format format); /* "hermes", "llama3", "gemma4" */

/* A parsed call: the function's name and its arguments as a compact JSON object (both malloc'ed). */
typedef struct {
    char *name;
    char *arguments;
} hearth_tool_call;

/* Separates generated text into content and calls, as it streams. The text must show control tokens as
 * their text (hearth_token_to_piece with special = true): markers often are control tokens. Only what may
 * still become a call is held back; a call that does not parse (cut short, malformed) is content, as
 * written; whitespace between content and calls is dropped. */
typedef struct hearth_tool_parser hearth_tool_parser;
hearth_tool_parser *hearth_tool_parser_new(hearth_tool_format format);
void hearth_tool_parser_free(hearth_tool_parser *tp);
/* Append `len` bytes; `final`: nothing more will come (what was held back is settled). On return
 * *content (*content_len bytes) is the content that may be shown now and *calls (*n_calls) the calls this text
 * completed, both valid until the next call on tp. Returns 0 or a negative status. */
int hearth_tool_parser_push(hearth_tool_parser *tp, const char *text, size_t len, bool final, const char **content,
                            size_t *content_len, const hearth_tool_call **calls, int *n_calls);
/* The whole output at once: *content (malloc'ed) and *calls (free with hearth_tool_calls_free). */
int hearth_tool_calls_parse(hearth_tool_format format, const char *text, size_t len, char **content,
                            hearth_tool_call **calls, int *n_calls);
void hearth_tool_calls_free(hearth_tool_call *calls, int n_calls);

typedef enum {
    HEARTH_TOOL_CHOICE_AUTO = 0, /* text or calls: a lazy grammar that starts at the format's opening marker */
    HEARTH_TOOL_CHOICE_REQUIRED, /* calls only, constrained from the first token */
} hearth_tool_choice;

typedef struct {
    hearth_tool_format format;
    const char *tools_json;   /* the tools array */
    hearth_tool_choice choice;
    const char *name;         /* not NULL: a call of this function only (implies REQUIRED) */
    bool single;              /* at most one call (always so for LLAMA3) */
} hearth_tool_spec;

/* A grammar admitting only calls of the declared functions in the format, each one's arguments valid for
 * its "parameters" schema (see hearth_json_schema_to_gbnf; none: no arguments). Markers that are control
 * tokens of the model's vocabulary become token references. With REQUIRED (or a name) an unsupported schema
 * is an error naming the tool; with AUTO that function's arguments are any JSON object. For AUTO, `lazy` is
 * set and the trigger words/tokens are those for hearth_sampler_set_grammar_lazy. */
typedef struct {
    char *gbnf;               /* start rule "root" */
    bool lazy;
    char *words[4];
    int n_words;
    int32_t tokens[4];
    int n_tokens;
} hearth_tool_grammar;
int hearth_tool_grammar_build(const hearth_model *model, const hearth_tool_spec *spec, hearth_tool_grammar *out);
void hearth_tool_grammar_free(hearth_tool_grammar *g);
/* Build it and set it on the sampler (lazily for AUTO). */
int hearth_sampler_set_tools(hearth_sampler *smp, const hearth_model *model, const hearth_tool_spec *spec);

/* ------------------------------------------------------------ generation */

typedef enum {
    HEARTH_FINISH_EOG = 0,    /* the model ended its turn */
    HEARTH_FINISH_LENGTH,     /* max_tokens reached */
    HEARTH_FINISH_STOP,       /* a stop string appeared (it is not emitted) */
    HEARTH_FINISH_CALLBACK,   /* on_text returned false */
    HEARTH_FINISH_CANCELLED,  /* hearth_session_cancel */
} hearth_finish;

typedef struct {
    int max_tokens;                 /* <= 0: until end of generation or the context is full */
    const char *const *stop;        /* stop strings (may be NULL) */
    int n_stop;
    hearth_sampler *sampler;        /* NULL: greedy */
    /* Called with each piece of text as soon as it is complete UTF-8 and cannot be the start of a stop
     * string. Return false to stop. */
    bool (*on_text)(void *user, const char *text, size_t len);
    /* Called with every generated token id (before its text), may be NULL. */
    void (*on_token)(void *user, int32_t token);
    void *user;
} hearth_generate_params;

typedef struct {
    int n_prompt;          /* prompt tokens given */
    int n_prompt_reused;   /* of which were already in the KV cache (common prefix) */
    int n_generated;
    double prompt_s;       /* time evaluating the new prompt tokens */
    double generate_s;     /* time from the first to the last generated token */
    double first_token_s;  /* from the call to the first generated token */
    hearth_finish finish;
} hearth_generate_stats;

/* Generate a continuation of `prompt`. The session's KV cache is reused for the longest common prefix of
 * its history and the prompt (earlier chat turns, a shared system prompt), so only new tokens are
 * evaluated. A grammar on the sampler constrains this call's output from its first token. Returns 0 (see stats->finish) or a negative status (HEARTH_ERR_CONTEXT if the prompt does not
 * fit; generation that reaches the end of the context stops with HEARTH_FINISH_LENGTH). */
int hearth_generate(hearth_session *s, const int32_t *prompt, int n_prompt, const hearth_generate_params *params,
                    hearth_generate_stats *stats);

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

/* The kernels in use, chosen at run time for this CPU (HEARTH_ISA forces one): "avx512", "avx2", "neon",
 * "dotprod" or "portable". */
const char *hearth_build_isa(void);

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_H */
