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
