/* api_tokenizer.c — tokenizer part of the public API (placeholder until the tokenizer lands). */
#include "engine.h"

int engine_model_attach_tokenizer(hearth_model *model) { (void)model; return 0; }
void engine_model_detach_tokenizer(hearth_model *model) { (void)model; }
int engine_tokenizer_n_vocab(const hearth_model *model) { (void)model; return 0; }

static int32_t meta_id(const hearth_model *model, const char *key) {
    uint32_t v;
    return gguf_get_u32(&model->file, key, &v) == 1 ? (int32_t)v : -1;
}
int32_t hearth_token_bos(const hearth_model *model) { return meta_id(model, "tokenizer.ggml.bos_token_id"); }
int32_t hearth_token_eos(const hearth_model *model) { return meta_id(model, "tokenizer.ggml.eos_token_id"); }
bool hearth_token_is_eog(const hearth_model *model, int32_t token) {
    return token >= 0 && (token == hearth_token_eos(model) || token == meta_id(model, "tokenizer.ggml.eot_token_id"));
}
