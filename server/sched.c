/* sched.c — one served model: its slots (sessions) and the scheduler thread that owns them.
 *
 * Contract (see server.h for the whole picture)
 *   - Only the scheduler thread touches the sessions. HTTP threads submit jobs (under the model's mutex) and
 *     read output (under the job's mutex); the scheduler never blocks on a client.
 *   - Each iteration: drop cancelled jobs; admit queued jobs (FIFO) into idle slots, each into the idle slot
 *     whose history shares the longest prefix with its prompt (ties: least recently used, so a recent
 *     conversation's cache survives longest); prefill — at most PREFILL_CHUNK prompt tokens per iteration
 *     while other slots are generating, so running streams never stall for a whole long prompt (4x that
 *     when none is); then sample one token for every generating slot and decode them all with one
 *     hearth_sessions_step.
 *   - Capacity: --parallel running plus --queue waiting; a job beyond that is refused (429) at submission.
 *   - A slot keeps its KV cache after its job ends (also when cancelled): the next job with the same prefix
 *     (the next turn of that chat) starts where it left off.
 *   - Text goes through a hearth_text_stream per job (complete UTF-8, stop strings held back and cut).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

enum { PREFILL_CHUNK = 256, RATE_WINDOW = 10, RATE_BUCKETS = 16 };

struct job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;                 /* under mu */
    atomic_bool cancel;
    job *next;                /* queue link, under the model's mutex */
    /* the scheduler's (after submit) */
    job_params p;
    hearth_text_stream *ts;
    int pos;                  /* prompt tokens in the slot's cache */
    int n_cached;
    int n_generated;
    int32_t *gen;             /* generated ids */
    double t_submit, t_admit, t_prefilled, t_end;
    /* output, under mu */
    strbuf text;
    job_logprob *lp;
    int n_lp, cap_lp, lp_taken;
    bool done, done_taken;
    job_finish finish;
    int error_status;
    char error[256];
};

typedef enum { SLOT_IDLE, SLOT_PREFILL, SLOT_GEN } slot_state;

typedef struct {
    hearth_session *s;
    slot_state state;
    job *job;
    uint64_t last_used;
} slot;

struct srv_model {
    hearth_model *model;
    hearth_model_info info;
    char *name, *path;
    char *chat_template;      /* --chat-template, or NULL */
    hearth_tool_format tool_format;
    int n_ctx, n_vocab;
    slot *slots;
    int n_slots;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *q_head, *q_tail;     /* waiting for a slot */
    int n_queued, max_queue;
    bool stopping;
    uint64_t use_clock;
    /* statistics, under mu */
    int n_active;
    uint64_t requests, prompt_tokens, cached_tokens, generated_tokens, cancelled;
    struct { int64_t sec; uint32_t n; } rate[RATE_BUCKETS];
    /* the scheduler's scratch */
    hearth_session **batch;
    int32_t *batch_tok;
    slot **batch_slot;
    uint32_t sampled;         /* tokens sampled in this iteration */
};

double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------------------------------- jobs */

void job_params_free(job_params *p) {
    free(p->prompt);
    for (int i = 0; i < p->n_stop; i++) free(p->stop[i]);
    hearth_sampler_free(p->sampler);
    memset(p, 0, sizeof *p);
}

static void job_free(job *j) {
    job_params_free(&j->p);
    hearth_text_stream_free(j->ts);
    free(j->gen);
    sb_free(&j->text);
    free(j->lp);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void job_release(job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left == 0) job_free(j);
}

void job_cancel(job *j) { atomic_store(&j->cancel, true); }

static void job_wake(job *j) { pthread_cond_broadcast(&j->cv); }

/* The scheduler's side: text released by the stream. */
static void job_emit(job *j, const char *text, size_t n, const job_logprob *lp) {
    if (!n && !lp) return;
    pthread_mutex_lock(&j->mu);
    if (n) sb_put(&j->text, text, n);
    if (lp) {
        if (j->n_lp == j->cap_lp) {
            int cap = j->cap_lp ? j->cap_lp * 2 : 16;
            job_logprob *nl = realloc(j->lp, sizeof *nl * (size_t)cap);
            if (nl) { j->lp = nl; j->cap_lp = cap; }
        }
        if (j->n_lp < j->cap_lp) j->lp[j->n_lp++] = *lp;
    }
    job_wake(j);
    pthread_mutex_unlock(&j->mu);
}

static void job_end(job *j, job_finish finish, int status, const char *msg) {
    pthread_mutex_lock(&j->mu);
    j->t_end = mono_now();
    j->done = true;
    j->finish = finish;
    j->error_status = status;
    if (msg) snprintf(j->error, sizeof j->error, "%s", msg);
    job_wake(j);
    pthread_mutex_unlock(&j->mu);
}

bool job_take(job *j, double timeout_s, job_output *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&j->mu);
    if (timeout_s > 0 && !j->text.len && j->n_lp == j->lp_taken && !(j->done && !j->done_taken)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double t = until.tv_sec + until.tv_nsec * 1e-9 + timeout_s;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        while (!j->text.len && j->n_lp == j->lp_taken && !j->done)
            if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT) break;
    }
    bool fresh = j->text.len || j->n_lp > j->lp_taken || (j->done && !j->done_taken);
    out->text = utf8_sanitize(j->text.s ? j->text.s : "", j->text.len, &out->text_len);
    j->text.len = 0;
    if (j->n_lp > j->lp_taken) {
        out->n_logprobs = j->n_lp - j->lp_taken;
        out->logprobs = malloc(sizeof(job_logprob) * (size_t)out->n_logprobs);
        if (out->logprobs) memcpy(out->logprobs, j->lp + j->lp_taken, sizeof(job_logprob) * (size_t)out->n_logprobs);
        else out->n_logprobs = 0;
        j->lp_taken = j->n_lp;
    }
    if (j->done) {
        j->done_taken = true;
        out->done = true;
        out->finish = j->finish;
        out->error_status = j->error_status;
        snprintf(out->error, sizeof out->error, "%s", j->error);
        out->n_prompt = j->p.n_prompt;
        out->n_cached = j->n_cached;
        out->n_generated = j->n_generated;
        double admit = j->t_admit ? j->t_admit : j->t_end;
        double prefilled = j->t_prefilled ? j->t_prefilled : j->t_end;
        out->queued_s = admit - j->t_submit;
        out->prompt_s = prefilled - admit;
        out->generate_s = j->t_end - prefilled;
        out->total_s = j->t_end - j->t_submit;
        out->tokens = malloc(sizeof(int32_t) * (size_t)(j->n_generated ? j->n_generated : 1));
        if (out->tokens && j->n_generated) memcpy(out->tokens, j->gen, sizeof(int32_t) * (size_t)j->n_generated);
    }
    pthread_mutex_unlock(&j->mu);
    return fresh;
}

void job_output_free(job_output *o) {
    free(o->text);
    free(o->logprobs);
    free(o->tokens);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------------------------------- models */

hearth_model *sched_hearth_model(const srv_model *m) { return m->model; }
const char *sched_name(const srv_model *m) { return m->name; }
const char *sched_path(const srv_model *m) { return m->path; }
int sched_n_ctx(const srv_model *m) { return m->n_ctx; }
int sched_n_slots(const srv_model *m) { return m->n_slots; }
const hearth_model_info *sched_info(const srv_model *m) { return &m->info; }
const char *sched_template(const srv_model *m) { return m->chat_template; }
hearth_tool_format sched_tool_format(const srv_model *m) { return m->tool_format; }

int sched_submit(srv_model *m, job_params *params, job **out) {
    *out = NULL;
    job *j = calloc(1, sizeof *j);
    if (!j) { job_params_free(params); return 500; }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->p = *params;
    memset(params, 0, sizeof *params);
    j->refs = 2; /* the caller's and the scheduler's */
    j->t_submit = mono_now();
    j->ts = hearth_text_stream_new((const char *const *)j->p.stop, j->p.n_stop);
    int cap = j->p.max_tokens > 0 && j->p.max_tokens < m->n_ctx ? j->p.max_tokens : m->n_ctx;
    j->gen = malloc(sizeof(int32_t) * (size_t)(cap + 1));
    if (!j->ts || !j->gen) { job_free(j); return 500; }
    pthread_mutex_lock(&m->mu);
    /* room: the idle slots plus max_queue waiting (every job passes through the queue) */
    int status = m->stopping ? 503 : m->n_queued >= m->max_queue + (m->n_slots - m->n_active) ? 429 : 0;
    if (!status) {
        if (m->q_tail) m->q_tail->next = j;
        else m->q_head = j;
        m->q_tail = j;
        m->n_queued++;
        m->requests++;
        pthread_cond_signal(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
    if (status) { job_free(j); return status; }
    *out = j;
    return 0;
}

/* Longest common prefix of a slot's history and a prompt, leaving at least the prompt's last token to
 * evaluate (its logits start generation). */
static int common_prefix(const slot *sl, const job *j) {
    int n;
    const int32_t *h = hearth_session_history(sl->s, &n);
    int c = 0;
    while (c < n && c < j->p.n_prompt - 1 && h[c] == j->p.prompt[c]) c++;
    return c;
}

/* Under m->mu: move queued jobs into idle slots; cancelled queued jobs end here. */
static void admit(srv_model *m) {
    for (job **pp = &m->q_head; *pp;) {
        job *j = *pp;
        if (atomic_load(&j->cancel)) {
            *pp = j->next;
            m->n_queued--;
            m->cancelled++;
            job_end(j, JOB_FINISH_CANCELLED, 0, NULL);
            job_release(j);
            continue;
        }
        slot *best = NULL;
        int best_c = -1;
        for (int i = 0; i < m->n_slots; i++) {
            slot *sl = &m->slots[i];
            if (sl->state != SLOT_IDLE) continue;
            int c = common_prefix(sl, j);
            if (c > best_c || (c == best_c && sl->last_used < best->last_used)) { best = sl; best_c = c; }
        }
        if (!best) break; /* FIFO: nobody overtakes the head of the queue */
        *pp = j->next;
        m->n_queued--;
        j->next = NULL;
        hearth_session_truncate(best->s, best_c);
        hearth_session_history(best->s, &j->pos); /* truncation may restart the sequence */
        j->n_cached = j->pos;
        j->t_admit = mono_now();
        best->job = j;
        best->state = SLOT_PREFILL;
        m->n_active++;
        m->prompt_tokens += (uint64_t)j->p.n_prompt;
        m->cached_tokens += (uint64_t)j->n_cached;
    }
    if (!m->q_head) m->q_tail = NULL;
    else for (m->q_tail = m->q_head; m->q_tail->next;) m->q_tail = m->q_tail->next;
}

/* A slot's job is over: release held-back text (unless cut by a stop string), publish, free the slot. */
static void finish_slot(srv_model *m, slot *sl, job_finish finish, int status, const char *msg) {
    job *j = sl->job;
    if (finish == JOB_FINISH_STOP || finish == JOB_FINISH_LENGTH) {
        const char *text;
        size_t n;
        if (hearth_text_stream_push(j->ts, NULL, 0, true, &text, &n) >= 0) job_emit(j, text, n, NULL);
    }
    job_end(j, finish, status, msg);
    job_release(j);
    pthread_mutex_lock(&m->mu);
    m->n_active--;
    if (finish == JOB_FINISH_CANCELLED) m->cancelled++;
    pthread_mutex_unlock(&m->mu);
    sl->job = NULL;
    sl->state = SLOT_IDLE;
    sl->last_used = ++m->use_clock;
}

static void compute_logprobs(const float *logits, int n_vocab, int32_t tok, int k, job_logprob *out) {
    float mx = -INFINITY;
    for (int i = 0; i < n_vocab; i++) if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)(logits[i] - mx));
    float lse = mx + (float)log(sum);
    out->token = tok;
    out->logprob = logits[tok] - lse;
    if (k > SERVER_MAX_TOP_LOGPROBS) k = SERVER_MAX_TOP_LOGPROBS;
    int n = 0;
    for (int i = 0; i < n_vocab && k > 0; i++) { /* insertion into the sorted top k */
        float v = logits[i];
        if (n == k && !(v > out->top_logprob[n - 1])) continue;
        int at = n < k ? n++ : n - 1;
        while (at > 0 && v > out->top_logprob[at - 1]) {
            out->top_logprob[at] = out->top_logprob[at - 1];
            out->top_token[at] = out->top_token[at - 1];
            at--;
        }
        out->top_logprob[at] = v;
        out->top_token[at] = i;
    }
    for (int i = 0; i < n; i++) out->top_logprob[i] -= lse;
    out->n_top = n;
}

/* Sample the next token of a generating slot; false if its job ended. */
static bool sample_slot(srv_model *m, slot *sl, int32_t *next) {
    job *j = sl->job;
    const float *logits = hearth_session_logits(sl->s);
    int32_t tok = hearth_sampler_sample(j->p.sampler, logits);
    if (tok < 0 || tok >= m->n_vocab) {
        finish_slot(m, sl, JOB_FINISH_ERROR, 500, hearth_last_error());
        return false;
    }
    j->gen[j->n_generated++] = tok;
    m->sampled++;
    job_logprob lp, *lpp = NULL;
    bool eog = hearth_token_is_eog(m->model, tok);
    if (j->p.n_logprobs >= 0 && !eog) {
        compute_logprobs(logits, m->n_vocab, tok, j->p.n_logprobs, &lp);
        lpp = &lp;
    }
    if (eog) { finish_slot(m, sl, JOB_FINISH_STOP, 0, NULL); return false; }
    hearth_sampler_accept(j->p.sampler, tok);
    char piece[512];
    int n = hearth_token_to_piece(m->model, tok, j->p.special_text, piece, sizeof piece);
    const char *text;
    size_t len;
    int rc = hearth_text_stream_push(j->ts, piece, n > 0 && n <= (int)sizeof piece ? (size_t)n : 0, false, &text, &len);
    job_emit(j, text, rc >= 0 ? len : 0, lpp);
    if (rc < 0) { finish_slot(m, sl, JOB_FINISH_ERROR, 500, hearth_last_error()); return false; }
    if (rc == 1) { finish_slot(m, sl, JOB_FINISH_STOP, 0, NULL); return false; }
    int n_past;
    hearth_session_history(sl->s, &n_past);
    if ((j->p.max_tokens > 0 && j->n_generated >= j->p.max_tokens) || n_past >= m->n_ctx) {
        finish_slot(m, sl, JOB_FINISH_LENGTH, 0, NULL);
        return false;
    }
    *next = tok;
    return true;
}

/* One scheduler iteration over the active slots. */
static void step(srv_model *m) {
    for (int i = 0; i < m->n_slots; i++) {
        slot *sl = &m->slots[i];
        if (sl->state != SLOT_IDLE && atomic_load(&sl->job->cancel)) finish_slot(m, sl, JOB_FINISH_CANCELLED, 0, NULL);
    }
    bool generating = false;
    for (int i = 0; i < m->n_slots; i++) generating |= m->slots[i].state == SLOT_GEN;

    /* prefill, oldest job first; in chunks, so cancellation and newcomers are looked at in between, and
     * smaller ones while others are generating (their next token waits for this) */
    int budget = generating ? PREFILL_CHUNK : 4 * PREFILL_CHUNK;
    for (int pass = 0; pass < m->n_slots && budget > 0; pass++) {
        slot *sl = NULL;
        for (int i = 0; i < m->n_slots; i++)
            if (m->slots[i].state == SLOT_PREFILL && (!sl || m->slots[i].job->t_admit < sl->job->t_admit) &&
                m->slots[i].job->pos < m->slots[i].job->p.n_prompt)
                sl = &m->slots[i];
        if (!sl) break;
        job *j = sl->job;
        int n = j->p.n_prompt - j->pos < budget ? j->p.n_prompt - j->pos : budget;
        int rc = hearth_session_eval(sl->s, j->p.prompt + j->pos, n, NULL);
        if (rc < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "evaluating the prompt failed: %s", hearth_last_error());
            hearth_session_truncate(sl->s, 0);
            finish_slot(m, sl, JOB_FINISH_ERROR, rc == HEARTH_ERR_CONTEXT ? 400 : 500, msg);
            continue;
        }
        j->pos += n;
        budget -= n;
        if (j->pos == j->p.n_prompt) {
            j->t_prefilled = mono_now();
            sl->state = SLOT_GEN;
        }
    }

    /* sample every generating slot, then decode all of them at once */
    int k = 0;
    for (int i = 0; i < m->n_slots; i++) {
        slot *sl = &m->slots[i];
        if (sl->state != SLOT_GEN) continue;
        int32_t tok;
        if (!sample_slot(m, sl, &tok)) continue;
        m->batch[k] = sl->s;
        m->batch_tok[k] = tok;
        m->batch_slot[k] = sl;
        k++;
    }
    if (k > 0) {
        int rc = hearth_sessions_step(m->batch, m->batch_tok, k);
        if (rc < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "decoding failed: %s", hearth_last_error());
            for (int i = 0; i < k; i++) {
                hearth_session_truncate(m->batch_slot[i]->s, 0);
                finish_slot(m, m->batch_slot[i], JOB_FINISH_ERROR, 500, msg);
            }
        }
    }
}

/* Under m->mu: count generated tokens, also per second for the tokens/s gauge. */
static void count_tokens(srv_model *m, uint32_t n) {
    m->generated_tokens += n;
    int64_t sec = (int64_t)mono_now();
    int b = (int)(sec % RATE_BUCKETS);
    if (m->rate[b].sec != sec) { m->rate[b].sec = sec; m->rate[b].n = 0; }
    m->rate[b].n += n;
}

static void *sched_main(void *arg) {
    srv_model *m = arg;
    for (;;) {
        pthread_mutex_lock(&m->mu);
        for (;;) {
            admit(m);
            if (m->stopping || m->n_active > 0) break;
            pthread_cond_wait(&m->cv, &m->mu);
        }
        bool stopping = m->stopping;
        pthread_mutex_unlock(&m->mu);
        if (stopping) break;
        m->sampled = 0;
        step(m);
        pthread_mutex_lock(&m->mu);
        count_tokens(m, m->sampled);
        pthread_mutex_unlock(&m->mu);
    }
    /* shutting down: every job ends */
    for (int i = 0; i < m->n_slots; i++)
        if (m->slots[i].state != SLOT_IDLE) finish_slot(m, &m->slots[i], JOB_FINISH_ERROR, 503, "the server is shutting down");
    pthread_mutex_lock(&m->mu);
    while (m->q_head) {
        job *j = m->q_head;
        m->q_head = j->next;
        m->n_queued--;
        job_end(j, JOB_FINISH_ERROR, 503, "the server is shutting down");
        job_release(j);
    }
    m->q_tail = NULL;
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

srv_model *sched_start(hearth_model *model, const char *name, const char *path, const char *chat_template,
                       const hearth_session_params *sp, int n_slots, int max_queue) {
    srv_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->model = model;
    hearth_model_get_info(model, &m->info);
    m->name = strdup(name);
    m->path = strdup(path);
    if (chat_template && !(m->chat_template = strdup(chat_template))) goto fail;
    m->tool_format = hearth_tool_format_detect(chat_template ? chat_template : hearth_model_meta_str(model, "tokenizer.chat_template"));
    m->n_vocab = hearth_model_n_vocab(model);
    m->n_slots = n_slots;
    m->max_queue = max_queue;
    m->slots = calloc((size_t)n_slots, sizeof(slot));
    m->batch = calloc((size_t)n_slots, sizeof(hearth_session *));
    m->batch_tok = calloc((size_t)n_slots, sizeof(int32_t));
    m->batch_slot = calloc((size_t)n_slots, sizeof(slot *));
    if (!m->name || !m->path || !m->slots || !m->batch || !m->batch_tok || !m->batch_slot) goto fail;
    for (int i = 0; i < n_slots; i++) {
        if (!(m->slots[i].s = hearth_session_new(model, sp))) goto fail;
        m->slots[i].last_used = 0;
    }
    m->n_ctx = hearth_session_n_ctx(m->slots[0].s);
    if (pthread_create(&m->thread, NULL, sched_main, m) != 0) goto fail;
    m->started = true;
    return m;
fail:
    sched_free(m);
    return NULL;
}

void sched_stop(srv_model *m) {
    if (!m || !m->started) return;
    pthread_mutex_lock(&m->mu);
    m->stopping = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    m->started = false;
}

void sched_free(srv_model *m) {
    if (!m) return;
    sched_stop(m);
    for (int i = 0; m->slots && i < m->n_slots; i++) hearth_session_free(m->slots[i].s);
    free(m->slots);
    free(m->batch);
    free(m->batch_tok);
    free(m->batch_slot);
    free(m->name);
    free(m->path);
    free(m->chat_template);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

void sched_get_stats(srv_model *m, sched_stats *out) {
    pthread_mutex_lock(&m->mu);
    out->queued = m->n_queued;
    out->active = m->n_active;
    out->slots = m->n_slots;
    out->requests = m->requests;
    out->prompt_tokens = m->prompt_tokens;
    out->cached_tokens = m->cached_tokens;
    out->generated_tokens = m->generated_tokens;
    out->cancelled = m->cancelled;
    /* the last RATE_WINDOW complete seconds */
    int64_t now = (int64_t)mono_now();
    uint64_t n = 0;
    for (int b = 0; b < RATE_BUCKETS; b++)
        if (m->rate[b].sec < now && m->rate[b].sec >= now - RATE_WINDOW) n += m->rate[b].n;
    out->tokens_per_s = (double)n / RATE_WINDOW;
    pthread_mutex_unlock(&m->mu);
}
