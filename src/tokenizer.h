/* tokenizer.h — exact text <-> token conversion for the vocabularies GGUF files carry.
 *
 * Contract
 *   - Models (tokenizer.ggml.model):
 *       "llama"  SentencePiece BPE by piece scores (Llama 2, Mistral, Phi-3, Gemma 3): spaces become U+2581,
 *                a space is put in front of every text fragment (at the start and after each special token)
 *                when add_space_prefix (default true), characters with no piece fall back to <0xXX> byte
 *                tokens (or <unk>).
 *       "gemma4" BPE with merges over UTF-8 characters, spaces as U+2581, <0xXX> byte fallback, no
 *                pre-tokenizer splitting (as the Hugging Face tokenizer does).
 *       "gpt2"   byte-level BPE with merges after the pre-tokenizer that tokenizer.ggml.pre names:
 *                llama-bpe / llama3 (Llama 3), qwen2 (Qwen 2.5 / 3; NFC-normalized first, as their Hugging
 *                Face tokenizer does), qwen35, gpt-2, default (and aliases of these). Unknown names fail.
 *     Results equal the models' Hugging Face tokenizers token for token: tests/test_tokenizer.c checks the
 *     llama.cpp vocabulary test files plus generated corpora (references from transformers.js ports of the
 *     Hugging Face tokenizers, and from llama.cpp for SentencePiece vocabularies).
 *   - Special tokens: CONTROL (and UNKNOWN) tokens are recognised in text only when parse_special is true;
 *     otherwise their text is tokenized as ordinary text (so user input can never forge them). USER_DEFINED
 *     tokens are always recognised, as Hugging Face does for non-special added tokens. Matching is
 *     leftmost-longest. Tokens that end generation (see tokenizer_is_eog) and fill-in-the-middle tokens are
 *     treated as CONTROL. Gemma 4's added tokens (newline / tab / U+2581 runs, HTML tags, <unusedN>), typed
 *     NORMAL in GGUF files, are matched like user-defined ones; Phi-3's added tokens (general.architecture
 *     "phi3") swallow the whitespace after them, as their Hugging Face definitions say (rstrip).
 *   - Any byte string is accepted; invalid UTF-8 bytes become byte tokens (byte-level and byte-fallback
 *     vocabularies), so tokenizer_decode(tokenizer_encode(x)) == x for every x without special-token text,
 *     except where the model normalizes: NFC for qwen2, and a literal U+2581 comes back as a space in
 *     SentencePiece-style vocabularies.
 *   - A tokenizer is immutable after creation; any number of threads may use it at once. Encoding n bytes
 *     takes O(n log n) time and O(n) memory (merge queues over linked symbols, hash maps for vocabulary and
 *     merges); SentencePiece-style text is cut into words at U+2581 where no merge can cross, which leaves
 *     the result unchanged. tokenizer_load_gguf takes ~0.1-0.2 s for a 262k-token, 515k-merge vocabulary.
 *   - Errors: functions return a negative hearth_status with a message in hearth_last_error().
 */
#ifndef HEARTH_TOKENIZER_H
#define HEARTH_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct tokenizer tokenizer;

/* Token types as stored in tokenizer.ggml.token_type. */
enum tok_type {
    TOK_TYPE_UNDEFINED = 0, TOK_TYPE_NORMAL = 1, TOK_TYPE_UNKNOWN = 2, TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4, TOK_TYPE_UNUSED = 5, TOK_TYPE_BYTE = 6,
};

/* A byte string (not NUL-terminated). */
typedef struct {
    const char *s;
    size_t n;
} tok_str;

/* Everything a tokenizer is built from, as plain arrays (the GGUF loader fills this in). */
typedef struct {
    const char *model;          /* "llama", "gemma4", "gpt2" */
    const char *pre;            /* tokenizer.ggml.pre or NULL */
    const char *arch;           /* general.architecture or NULL (model-specific rules: "phi3") */
    uint32_t n_tokens;
    const tok_str *tokens;      /* [n_tokens] */
    const float *scores;        /* [n_tokens] or NULL (all 0) */
    const int32_t *types;       /* [n_tokens] enum tok_type, or NULL (all NORMAL) */
    uint32_t n_merges;
    const tok_str *merges;      /* [n_merges] "left right", rank = index */
    /* Special ids: -1 = absent (a model default may apply); out-of-range ids are ignored. */
    int32_t bos_id, eos_id, eot_id, eom_id, unk_id, pad_id;
    /* -1 = not set (model default), 0 = false, 1 = true */
    int add_bos, add_eos, add_space_prefix;
} tokenizer_params;

int tokenizer_create(tokenizer **out, const tokenizer_params *p);
/* Builds the tokenizer from a GGUF file's tokenizer.ggml.* metadata. The tokenizer copies what it needs:
 * the file may be closed afterwards. */
int tokenizer_load_gguf(tokenizer **out, const gguf_file *f);
void tokenizer_free(tokenizer *t);

/* Tokenizes len bytes of text. add_bos: add the special tokens the model asks for (BOS when
 * tokenizer.ggml.add_bos_token or the model default says so; EOS when add_eos_token). parse_special: turn
 * the text of control tokens into those tokens (for template output only, never for user input).
 * Returns the number of tokens; if it exceeds max, only the first max are written (out may be NULL when max
 * is 0). Negative on error. */
int tokenizer_encode(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                     int32_t *out, int max);

/* tokenizer_encode with parse_special, except that no control token is matched where its text overlaps one
 * of the byte ranges protect[i] = {begin, end} (message contents inside a rendered chat template). */
int tokenizer_encode_protected(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
                               const size_t (*protect)[2], size_t n_protect, int32_t *out, int max);

/* The bytes token id stands for: byte tokens give their byte, U+2581 gives a space (SentencePiece-style
 * vocabularies), byte-level tokens are mapped back to bytes. Control, unknown and unused tokens give their
 * text only if special (else nothing). Returns the length, or the needed length if larger than cap (nothing
 * written then); HEARTH_ERR_ARG for an id out of range. */
int tokenizer_token_to_piece(const tokenizer *t, int32_t id, bool special, char *buf, int cap);
/* The same bytes without copying (valid while t lives); NULL for an id out of range. Control tokens
 * give their text. */
const char *tokenizer_piece(const tokenizer *t, int32_t id, size_t *len);

/* Detokenizes: the concatenation of the pieces, control tokens skipped unless special, and the space that
 * add_space_prefix put in front of the text removed from the first piece. Returns the length (snprintf
 * convention: the needed length if larger than cap, with cap-1 bytes and a NUL written when cap > 0). */
size_t tokenizer_decode(const tokenizer *t, const int32_t *ids, size_t n, bool special, char *buf, size_t cap);

int32_t tokenizer_n_vocab(const tokenizer *t);
int32_t tokenizer_bos(const tokenizer *t);       /* -1 if none */
int32_t tokenizer_eos(const tokenizer *t);       /* -1 if none */
int32_t tokenizer_eot(const tokenizer *t);       /* end of turn (<|eot_id|>, <end_of_turn>, ...), -1 if none */
int32_t tokenizer_unk(const tokenizer *t);
int32_t tokenizer_pad(const tokenizer *t);
bool tokenizer_add_bos(const tokenizer *t);      /* whether tokenizer_encode(add_bos=true) adds BOS */
/* End of generation: EOS, EOT, EOM and tokens such as <end_of_turn>, <|eot_id|>, <|im_end|>, <|end|>,
 * <|endoftext|>, <turn|>, <eos>, <|tool_response>. */
bool tokenizer_is_eog(const tokenizer *t, int32_t id);
bool tokenizer_is_control(const tokenizer *t, int32_t id); /* rendered only when special */
enum tok_type tokenizer_token_type(const tokenizer *t, int32_t id);
/* The raw vocabulary text of a token (as stored in the file), NULL for an id out of range. */
const char *tokenizer_token_text(const tokenizer *t, int32_t id, size_t *len);
/* The id whose vocabulary text is exactly s[0..n), or -1. */
int32_t tokenizer_find(const tokenizer *t, const char *s, size_t n);

#endif
