/* api_tokenizer.c — the tokenizer part of the public API, over tokenizer.c. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "tokenizer.h"
#include "util.h"

int engine_model_attach_tokenizer(hearth_model *model) {
    if (!gguf_find_kv(&model->file, "tokenizer.ggml.tokens")) return 0; /* no vocabulary: ids only */
    return tokenizer_load_gguf(&model->tok, &model->file);
}

void engine_model_detach_tokenizer(hearth_model *model) {
    tokenizer_free(model->tok);
    model->tok = NULL;
}

int engine_tokenizer_n_vocab(const hearth_model *model) { return model->tok ? tokenizer_n_vocab(model->tok) : 0; }

static int need_tok(const hearth_model *model) {
    return model->tok ? 0 : hearth_fail(HEARTH_ERR_UNSUPPORTED, "this model file has no vocabulary");
}

int hearth_tokenize(const hearth_model *model, const char *text, size_t len, bool add_bos, bool parse_special,
                    int32_t *out, int max_out) {
    hearth_clear_error();
    if (need_tok(model) < 0) return HEARTH_ERR_UNSUPPORTED;
    return tokenizer_encode(model->tok, text, len, add_bos, parse_special, out, max_out);
}

int hearth_token_to_piece(const hearth_model *model, int32_t token, bool special, char *buf, int cap) {
    if (need_tok(model) < 0) return HEARTH_ERR_UNSUPPORTED;
    return tokenizer_token_to_piece(model->tok, token, special, buf, cap);
}

int32_t hearth_token_bos(const hearth_model *model) { return model->tok ? tokenizer_bos(model->tok) : -1; }
int32_t hearth_token_eos(const hearth_model *model) { return model->tok ? tokenizer_eos(model->tok) : -1; }

bool hearth_token_is_eog(const hearth_model *model, int32_t token) {
    if (model->tok) return tokenizer_is_eog(model->tok, token);
    uint32_t eos;
    return gguf_get_u32(&model->file, "tokenizer.ggml.eos_token_id", &eos) == 1 && (uint32_t)token == eos;
}

/* Placeholder until the chat template engine lands: a plain "user: ..." transcript. */
int hearth_chat_tokenize(const hearth_model *model, const char *template_override, const hearth_chat_message *msgs,
                         size_t n_msgs, bool add_generation_prompt, bool parse_special_content, int32_t **tokens,
                         int *n_tokens) {
    (void)template_override; (void)add_generation_prompt; (void)parse_special_content;
    if (need_tok(model) < 0) return HEARTH_ERR_UNSUPPORTED;
    size_t len = 1;
    for (size_t i = 0; i < n_msgs; i++) len += strlen(msgs[i].role) + strlen(msgs[i].content) + 4;
    char *text = malloc(len);
    if (!text) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
    text[0] = 0;
    for (size_t i = 0; i < n_msgs; i++) { strcat(text, msgs[i].content); strcat(text, "\n"); }
    int n = tokenizer_encode(model->tok, text, strlen(text), true, false, NULL, 0);
    *tokens = n > 0 ? malloc(sizeof(int32_t) * (size_t)n) : NULL;
    if (n > 0 && *tokens) tokenizer_encode(model->tok, text, strlen(text), true, false, *tokens, n);
    free(text);
    *n_tokens = n;
    return n > 0 && *tokens ? 0 : hearth_fail(HEARTH_ERR_ARG, "empty prompt");
}
