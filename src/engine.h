/* engine.h — what the public API's implementation files share: the model object. Front ends never see it. */
#ifndef HEARTH_ENGINE_H
#define HEARTH_ENGINE_H

#include <pthread.h>
#include <stdbool.h>

#include "gguf.h"
#include "hearth.h"
#include "model.h"

struct tokenizer;
struct gvocab;

struct hearth_model {
    gguf_file file;
    model_desc desc;          /* empty when vocab_only */
    bool vocab_only;
    struct tokenizer *tok;    /* NULL when the file has no vocabulary */
    struct gvocab *gvocab;    /* token trie for grammars, built on first use (grammar.c) */
    struct { char *key, *value; } meta[32]; /* NUL-terminated copies of string metadata handed out */
    int n_meta;
    pthread_mutex_t meta_lock;
};

/* Tokenizer glue (api_tokenizer.c): build model->tok from the file's metadata, if it has a vocabulary. */
int engine_model_attach_tokenizer(hearth_model *model);
void engine_model_detach_tokenizer(hearth_model *model);
int engine_tokenizer_n_vocab(const hearth_model *model);

#endif
