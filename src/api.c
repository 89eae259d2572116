/* api.c — the public model and session API (hearth.h) over the engine modules. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "forward.h"
#include "grammar.h"
#include "gguf.h"
#include "hearth.h"
#include "model.h"
#include "engine.h"
#include "threadpool.h"
#include "types.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------- models */

hearth_model *hearth_model_load(const char *path, const hearth_model_params *params) {
    hearth_clear_error();
    hearth_model *model = calloc(1, sizeof *model);
    if (!model) { hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); return NULL; }
    pthread_mutex_init(&model->meta_lock, NULL);
    if (gguf_open(&model->file, path) < 0) {
        /* prefix the file name so the one-line error says which file */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", hearth_last_error());
        hearth_fail(HEARTH_ERR_FORMAT, "%s: %s", path, msg);
        free(model);
        return NULL;
    }
    model->vocab_only = params && params->vocab_only;
    if (!model->vocab_only && model_load_desc(&model->desc, &model->file) < 0) goto fail;
    if (engine_model_attach_tokenizer(model) < 0) goto fail;
    if (params && params->mlock && mlock(model->file.base, model->file.size) != 0) {
        hearth_fail(HEARTH_ERR_IO, "mlock failed (raise the memlock limit, ulimit -l)");
        goto fail;
    }
    return model;
fail:
    hearth_model_free(model);
    return NULL;
}

void hearth_model_free(hearth_model *model) {
    if (!model) return;
    gvocab_free(model->gvocab);
    engine_model_detach_tokenizer(model);
    model_free_desc(&model->desc);
    gguf_close(&model->file);
    for (int i = 0; i < model->n_meta; i++) { free(model->meta[i].key); free(model->meta[i].value); }
    pthread_mutex_destroy(&model->meta_lock);
    free(model);
}

const char *hearth_model_meta_str(const hearth_model *model, const char *key) {
    gguf_str s;
    if (gguf_get_str(&model->file, key, &s) != 1) return NULL;
    /* metadata strings are not NUL-terminated in the file: keep one terminated copy per key asked for */
    hearth_model *mm = (hearth_model *)model;
    pthread_mutex_lock(&mm->meta_lock); /* the model is shared by threads; this cache is its only mutable part */
    const char *found = NULL;
    for (int i = 0; i < mm->n_meta && !found; i++)
        if (strcmp(mm->meta[i].key, key) == 0) found = mm->meta[i].value;
    if (!found && mm->n_meta < (int)(sizeof mm->meta / sizeof mm->meta[0])) {
        char *k = strdup(key), *v = malloc(s.n + 1);
        if (k && v) {
            memcpy(v, s.s, s.n);
            v[s.n] = 0;
            mm->meta[mm->n_meta].key = k;
            mm->meta[mm->n_meta].value = v;
            mm->n_meta++;
            found = v;
        } else {
            free(k);
            free(v);
        }
    }
    pthread_mutex_unlock(&mm->meta_lock);
    return found;
}

void hearth_model_get_info(const hearth_model *model, hearth_model_info *out) {
    memset(out, 0, sizeof *out);
    const gguf_file *f = &model->file;
    out->arch = hearth_model_meta_str(model, "general.architecture");
    if (!out->arch) out->arch = "";
    out->name = hearth_model_meta_str(model, "general.name");
    if (!out->name) out->name = "";
    out->tokenizer = hearth_model_meta_str(model, "tokenizer.ggml.model");
    if (!out->tokenizer) out->tokenizer = "";
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        out->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        out->n_bytes += t->nbytes;
    }
    out->n_layer = model->desc.n_layer;
    out->n_embd = model->desc.n_embd;
    out->n_head = model->desc.n_head;
    out->n_vocab = hearth_model_n_vocab(model);
    out->n_ctx_train = model->desc.n_ctx_train;
    out->has_chat_template = gguf_find_kv(f, "tokenizer.chat_template") != NULL;
}

int hearth_model_n_vocab(const hearth_model *model) {
    if (model->desc.n_vocab) return model->desc.n_vocab;
    return engine_tokenizer_n_vocab(model);
}

bool hearth_model_tensor(const hearth_model *model, int i, const char **name, const char **type_name,
                         int64_t ne[4], int *n_dims) {
    if (i < 0 || (uint64_t)i >= model->file.n_tensors) return false;
    const gguf_tensor *t = &model->file.tensors[i];
    /* tensor names are not NUL-terminated in the mapping; hand out a per-thread copy */
    static _Thread_local char namebuf[256];
    snprintf(namebuf, sizeof namebuf, "%.*s", (int)(t->name.n < 255 ? t->name.n : 255), t->name.s);
    *name = namebuf;
    const type_traits *tt = type_get(t->type);
    *type_name = tt ? tt->name : "?";
    for (int d = 0; d < 4; d++) ne[d] = t->ne[d];
    *n_dims = (int)t->n_dims;
    return true;
}

/* ----------------------------------------------------------------------------------------- sessions */

struct hearth_session {
    hearth_model *model;
    threadpool *pool;
    forward_ctx fc;
    int n_ctx;
    int32_t *history;
    int n_past;
    float *logits;       /* last token's logits */
    int step_rows;       /* rows fc.logits_tmp holds (hearth_sessions_step) */
    volatile int cancel;
};

hearth_session *hearth_session_new(hearth_model *model, const hearth_session_params *params) {
    hearth_clear_error();
    if (model->vocab_only) {
        hearth_fail(HEARTH_ERR_ARG, "model was loaded vocab-only");
        return NULL;
    }
    hearth_session_params p = {0};
    if (params) p = *params;
    const model_desc *m = &model->desc;
    if (p.n_ctx <= 0) p.n_ctx = m->n_ctx_train > 0 && m->n_ctx_train < 4096 ? m->n_ctx_train : 4096;
    if (p.n_ctx > (1 << 24)) { hearth_fail(HEARTH_ERR_ARG, "context %d is too large", p.n_ctx); return NULL; }
    if (p.n_threads <= 0) p.n_threads = cpu_physical_cores();
    if (p.n_threads > 512) p.n_threads = 512;
    if (p.n_batch <= 0) p.n_batch = 512;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    enum kv_storage storage;
    switch (p.kv_type) {
    case HEARTH_KV_F32: storage = KV_F32; break;
    case HEARTH_KV_F16: storage = KV_F16; break;
    case HEARTH_KV_Q8_0: storage = KV_Q8_0; break;
    default: storage = m->layers[0].wq.type == T_F32 ? KV_F32 : KV_F16; break;
    }
    hearth_session *s = calloc(1, sizeof *s);
    if (!s) { hearth_fail(HEARTH_ERR_NOMEM, "out of memory"); return NULL; }
    s->model = model;
    s->n_ctx = p.n_ctx;
    s->pool = pool_new(p.n_threads);
    s->history = malloc(sizeof(int32_t) * (size_t)p.n_ctx);
    s->logits = calloc((size_t)m->n_vocab, sizeof(float));
    if (!s->pool || !s->history || !s->logits) {
        hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        hearth_session_free(s);
        return NULL;
    }
    if (forward_init(&s->fc, m, p.n_ctx, p.n_batch, storage, s->pool) < 0) {
        hearth_session_free(s);
        return NULL;
    }
    return s;
}

void hearth_session_free(hearth_session *s) {
    if (!s) return;
    if (s->fc.m) forward_free(&s->fc);
    pool_free(s->pool);
    free(s->history);
    free(s->logits);
    free(s);
}

int hearth_session_n_ctx(const hearth_session *s) { return s->n_ctx; }
hearth_model *hearth_session_model(const hearth_session *s) { return s->model; }

const int32_t *hearth_session_history(const hearth_session *s, int *n) {
    *n = s->n_past;
    return s->history;
}

int hearth_session_eval(hearth_session *s, const int32_t *tokens, int n, float *logits_all) {
    hearth_clear_error();
    const int n_vocab = s->model->desc.n_vocab;
    if (n <= 0) return hearth_fail(HEARTH_ERR_ARG, "nothing to evaluate");
    if (n > s->n_ctx - s->n_past)
        return hearth_fail(HEARTH_ERR_CONTEXT, "%d tokens do not fit the context of %d (%d already used); "
                           "use a larger --ctx or a shorter prompt", n, s->n_ctx, s->n_past);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return hearth_fail(HEARTH_ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[i], n_vocab - 1);
    for (int done = 0; done < n;) {
        if (s->cancel) { s->cancel = 0; return hearth_fail(HEARTH_ERR_CANCELLED, "cancelled"); }
        int chunk = n - done < s->fc.n_batch ? n - done : s->fc.n_batch;
        bool last = done + chunk == n;
        /* without logits_all only the last chunk's last token needs logits */
        float *out = logits_all ? logits_all + (size_t)done * n_vocab : last ? s->logits : NULL;
        forward_batch(&s->fc, tokens + done, chunk, s->n_past, out, logits_all != NULL);
        memcpy(s->history + s->n_past, tokens + done, sizeof(int32_t) * (size_t)chunk);
        s->n_past += chunk;
        done += chunk;
        if (last && logits_all) memcpy(s->logits, out + (size_t)(chunk - 1) * n_vocab, sizeof(float) * (size_t)n_vocab);
    }
    return 0;
}

const float *hearth_session_logits(const hearth_session *s) { return s->logits; }

int hearth_sessions_step(hearth_session *const *sessions, const int32_t *tokens, int n) {
    hearth_clear_error();
    if (n <= 0) return hearth_fail(HEARTH_ERR_ARG, "nothing to evaluate");
    hearth_session *lead = sessions[0];
    const model_desc *m = &lead->model->desc;
    for (int i = 0; i < n; i++) {
        const hearth_session *s = sessions[i];
        if (s->model != lead->model) return hearth_fail(HEARTH_ERR_ARG, "sessions of different models");
        if (s->n_past >= s->n_ctx) return hearth_fail(HEARTH_ERR_CONTEXT, "session %d's context is full", i);
        if (tokens[i] < 0 || tokens[i] >= m->n_vocab)
            return hearth_fail(HEARTH_ERR_ARG, "token id %d is outside the vocabulary", tokens[i]);
        for (int j = 0; j < i; j++)
            if (sessions[j] == s) return hearth_fail(HEARTH_ERR_ARG, "a session appears twice in one step");
    }
    forward_ctx *fc = &lead->fc;
    /* logits scratch for the rows of one step only (n_batch rows of a 262k vocabulary would be 512 MiB) */
    int rows = n < fc->n_batch ? n : fc->n_batch;
    if (lead->step_rows < rows) {
        float *l = realloc(fc->logits_tmp, sizeof(float) * (size_t)rows * m->n_vocab);
        if (!l) return hearth_fail(HEARTH_ERR_NOMEM, "out of memory");
        fc->logits_tmp = l;
        lead->step_rows = rows;
    }
    for (int done = 0; done < n;) {
        int chunk = n - done < fc->n_batch ? n - done : fc->n_batch;
        for (int r = 0; r < chunk; r++) {
            hearth_session *s = sessions[done + r];
            fc->row_pos[r] = s->n_past;
            fc->row_kv[r] = &s->fc.kv;
        }
        forward_rows(fc, tokens + done, chunk, fc->logits_tmp, true);
        for (int r = 0; r < chunk; r++) {
            hearth_session *s = sessions[done + r];
            memcpy(s->logits, fc->logits_tmp + (size_t)r * m->n_vocab, sizeof(float) * (size_t)m->n_vocab);
            s->history[s->n_past++] = tokens[done + r];
        }
        done += chunk;
    }
    return 0;
}

int hearth_session_truncate(hearth_session *s, int pos) {
    if (pos < 0 || pos > s->n_past) return hearth_fail(HEARTH_ERR_ARG, "cannot truncate to %d of %d", pos, s->n_past);
    /* A ring-buffered sliding layer still holds the keys the next query needs, (pos - window, pos), only if
     * no later position has overwritten them; otherwise the sequence restarts (history becomes empty and
     * the caller re-evaluates). */
    for (int il = 0; il < s->model->desc.n_layer; il++) {
        const kv_layer *c = &s->fc.kv.layers[il];
        int oldest = pos - s->model->desc.layers[il].window + 1;
        if (c->ring && pos > 0 && (s->n_past - 1) - (oldest < 0 ? 0 : oldest) >= c->cap) {
            s->n_past = 0;
            return 0;
        }
    }
    s->n_past = pos;
    return 0;
}

void hearth_session_cancel(hearth_session *s) { s->cancel = 1; }
