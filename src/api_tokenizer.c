/* api_tokenizer.c — tokenizer part of the public API (placeholder until the tokenizer lands). */
#include "engine.h"

int engine_model_attach_tokenizer(hearth_model *model) { (void)model; return 0; }
void engine_model_detach_tokenizer(hearth_model *model) { (void)model; }
int engine_tokenizer_n_vocab(const hearth_model *model) { (void)model; return 0; }
