/* server.h — `hearth serve`: a local HTTP server speaking the OpenAI and Ollama APIs over libhearth.
 *
 * Contract
 *   - A front end: uses only the public API (hearth.h), like the CLI. libmicrohttpd serves HTTP (one thread
 *     per connection, so handlers may block); jansson parses and writes JSON.
 *   - Each served model has --parallel sessions ("slots", each its own KV cache) owned by one scheduler
 *     thread (sched.c). Requests are jobs: an HTTP thread validates and tokenizes, submits the job and waits
 *     for its output; the scheduler admits queued jobs into idle slots (the slot whose history shares the
 *     longest prefix with the prompt, so a shared system prompt or earlier chat turns are not recomputed),
 *     prefills prompts in chunks between decoding steps, and decodes every generating slot in one
 *     hearth_sessions_step per step (continuous batching: jobs join and leave the running batch freely).
 *   - Limits answer with an API-shaped error, never a crash: body over SERVER_MAX_BODY (413), malformed JSON
 *     or bad parameters (400), prompt longer than the context (400, naming both numbers), unknown model
 *     (404), wrong method (405), queue full (429), missing or wrong API key (401).
 *   - A client that disconnects cancels its job (checked while the job is queued, prefilling or decoding).
 *   - Thread safety: hearth_model values are shared read-only; each session is touched only by its model's
 *     scheduler thread; a job's output is handed from scheduler to HTTP thread under the job's mutex.
 */
#ifndef HEARTH_SERVER_H
#define HEARTH_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hearth.h"

struct router; /* router/router.h: the hybrid router, when --route is given */

#define SERVER_MAX_BODY ((size_t)8 << 20) /* request bodies above this get 413 */
#define SERVER_MAX_STOP 16                /* stop strings per request */
#define SERVER_MAX_TOP_LOGPROBS 20

/* ------------------------------------------------------------------------------ configuration (cmd_serve) */

typedef struct {
    hearth_model *model; /* loaded by the caller; the server does not free it */
    const char *name;    /* the name clients use (file basename without .gguf) */
    const char *path;    /* the file */
    const char *chat_template; /* --chat-template: the template's text, used instead of the file's; NULL: the file's */
} server_model_spec;

typedef struct {
    const char *host;    /* address to bind; "127.0.0.1" by default */
    int port;            /* 0: any free port (printed) */
    const char *api_key; /* NULL: no authentication */
    int n_parallel;      /* slots per model */
    int max_queue;       /* jobs waiting for a slot, per model, beyond which requests get 429 */
    hearth_session_params session; /* n_ctx, n_threads, n_batch, kv_type of every slot */
    bool quiet;          /* no per-request log lines */
    struct router *router; /* --route: chat requests go through the hybrid router (route.c); NULL: all local */
} server_config;

/* Serve until SIGINT or SIGTERM. Prints "hearth serve: listening on http://HOST:PORT" on stderr once
 * ready. Returns 0 after a clean shutdown, non-zero if the server could not start. */
int server_run(const server_config *cfg, const server_model_spec *models, int n_models);

/* ------------------------------------------------------------------------------------ jobs (sched.c) */

typedef struct srv_model srv_model;
typedef struct job job;

/* What a request asks for; the job takes ownership of prompt, stop strings and sampler. */
typedef struct {
    int32_t *prompt;     /* malloc'ed */
    int n_prompt;
    int max_tokens;      /* <= 0: until the model ends its turn or the context is full */
    char *stop[SERVER_MAX_STOP];
    int n_stop;
    hearth_sampler *sampler;
    int n_logprobs;      /* -1: no logprobs; 0: the chosen token's; k: and the k most likely */
    bool special_text;   /* control tokens' text is output too (tool-call markers often are control tokens) */
} job_params;

/* One generated token's log-probabilities (when asked for). */
typedef struct {
    int32_t token;
    float logprob;
    int n_top;
    int32_t top_token[SERVER_MAX_TOP_LOGPROBS];
    float top_logprob[SERVER_MAX_TOP_LOGPROBS];
} job_logprob;

typedef enum { JOB_FINISH_STOP, JOB_FINISH_LENGTH, JOB_FINISH_CANCELLED, JOB_FINISH_ERROR } job_finish;

/* Output taken from a job since the last take. `text` is valid UTF-8 (malloc'ed, may be empty). */
typedef struct {
    char *text;
    size_t text_len;
    job_logprob *logprobs; /* malloc'ed, n_logprobs entries */
    int n_logprobs;
    bool done;           /* no more output will come; the fields below are final */
    job_finish finish;
    int error_status;    /* for JOB_FINISH_ERROR: the HTTP status */
    char error[256];
    int n_prompt, n_cached, n_generated;
    double queued_s, prompt_s, generate_s, total_s; /* waiting for a slot, prefill, decoding, all */
    int32_t *tokens;     /* when done: the generated token ids (malloc'ed), n_generated of them */
} job_output;

/* A model with its slots and scheduler thread. NULL on failure (message in hearth_last_error()). */
srv_model *sched_start(hearth_model *model, const char *name, const char *path, const char *chat_template,
                       const hearth_session_params *sp, int n_slots, int max_queue);
/* Fails every queued and running job with 503 and stops the thread. */
void sched_stop(srv_model *m);
void sched_free(srv_model *m);

hearth_model *sched_hearth_model(const srv_model *m);
const char *sched_name(const srv_model *m);
const char *sched_path(const srv_model *m);
int sched_n_ctx(const srv_model *m);
int sched_n_slots(const srv_model *m);
/* Read at start (hearth_model_get_info walks every tensor and is not for each request). */
const hearth_model_info *sched_info(const srv_model *m);
/* The chat template given with --chat-template (NULL: the model file's, or its family's built-in one) and
 * the tool-call format of the template in use (hearth_tool_format_detect). */
const char *sched_template(const srv_model *m);
hearth_tool_format sched_tool_format(const srv_model *m);

/* Queue a job (taking params' resources). 0, or the HTTP status to answer: 429 (queue full), 503 (stopping),
 * 500 (out of memory). *out gets a job reference the caller must release. */
int sched_submit(srv_model *m, job_params *params, job **out);
/* Wait up to timeout_s for output; moves what is new into *out (free with job_output_free). Returns true if
 * something new came (text, logprobs or the end). */
bool job_take(job *j, double timeout_s, job_output *out);
void job_output_free(job_output *o);
/* Ask the scheduler to stop the job (client went away); harmless once it is done. */
void job_cancel(job *j);
void job_release(job *j);

/* Gauges and counters for /metrics. */
typedef struct {
    int queued, active, slots;
    uint64_t requests, prompt_tokens, cached_tokens, generated_tokens, cancelled;
    double tokens_per_s; /* generated, over the last 10 seconds */
} sched_stats;
void sched_get_stats(srv_model *m, sched_stats *out);

/* ------------------------------------------------------------------------------- HTTP side (server.c) */

typedef struct request request;
typedef struct server server;

typedef enum { API_OPENAI, API_OLLAMA } api_kind;

/* The parsed JSON body (NULL when empty); the server keeps ownership. */
json_t *req_body(request *r);
server *req_server(request *r);
/* Responses. Each returns the MHD result to hand back; respond_json steals `obj`. */
int respond_json(request *r, int status, json_t *obj);
int respond_text(request *r, int status, const char *content_type, const char *text);
/* An error in the request's API shape: OpenAI {"error":{"message","type","param","code"}} or Ollama
 * {"error":"message"}. param and code may be NULL. */
int respond_error(request *r, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Streaming: `format` turns each take into bytes (appended to `out`); called last with o->done. */
typedef struct stream_fmt stream_fmt;
typedef struct strbuf strbuf;
struct stream_fmt {
    void (*format)(void *state, const job_output *o, strbuf *out);
    void (*free_state)(void *state);
    void *state;
};
int respond_stream(request *r, const char *content_type, job *j, stream_fmt fmt);
/* Wait for a job to finish (checking that the client is still there): true with *out filled (the whole
 * output), false if the client went away (the job is cancelled; answer nothing). */
bool wait_job(request *r, job *j, job_output *out);

/* Response headers added to whatever this request answers (at most 4; name and value are copied). */
void req_add_header(request *r, const char *name, const char *value);
/* Has the client closed its connection? (Marks the request so the connection is closed afterwards.) */
bool req_client_gone(request *r);
/* A streamed answer from a libmicrohttpd content reader (its return values: bytes, or
 * MHD_CONTENT_READER_END_OF_STREAM / _END_WITH_ERROR); free_cls runs once the response is done. */
int respond_callback(request *r, int status, const char *content_type, ssize_t (*reader)(void *, uint64_t, char *, size_t),
                     void *cls, void (*free_cls)(void *));

srv_model *server_find_model(server *s, const char *name);
/* The router of --route, or NULL. */
struct router *server_router(server *s);
srv_model *server_model(server *s, int i);
int server_n_models(server *s);

/* ------------------------------------------------------------------------------- helpers (util.c) */

struct strbuf {
    char *s;
    size_t len, cap;
};
void sb_put(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);

/* `n` bytes as valid UTF-8: invalid sequences become U+FFFD. malloc'ed, NUL-terminated. */
char *utf8_sanitize(const char *s, size_t n, size_t *out_len);
/* json string from bytes that may not be valid UTF-8. */
json_t *json_text(const char *s, size_t n);
/* A finite number, or null. */
json_t *json_num(double v);
/* Append a compact JSON encoding of obj (stolen) to b. */
void sb_json(strbuf *b, json_t *obj);
/* "prefix-" + 24 random hex digits. */
void random_id(char *out, size_t cap, const char *prefix);
uint64_t random_u64(void);
/* RFC 3339 UTC time with nanoseconds, as Ollama writes it. */
void rfc3339_now(char *out, size_t cap);
double mono_now(void);

/* The piece of a token as valid UTF-8 (control tokens as their text) into buf; returns its length. */
size_t token_text(const hearth_model *model, int32_t token, char *buf, size_t cap);

/* Parameter readers shared by the APIs: each returns 0 if absent (out untouched), 1 if read, -1 after
 * answering a 400 that names the parameter. */
int param_number(request *r, json_t *obj, const char *key, double lo, double hi, double *out);
int param_int(request *r, json_t *obj, const char *key, long long lo, long long hi, long long *out);
int param_bool(request *r, json_t *obj, const char *key, bool *out);
/* stop: a string or an array of strings, into p->stop. */
int param_stop(request *r, json_t *obj, const char *key, job_params *p);
/* Fills the sampler and context checks common to both APIs: validates the prompt's length against the
 * model's context (400 naming both numbers), creates the sampler (the prompt is accepted into it, for the
 * repetition penalties). Returns 0, or -1 after answering. */
int finish_params(request *r, srv_model *m, job_params *p, const hearth_sampler_params *sp);
void job_params_free(job_params *p);

/* ------------------------------------------------------------ structured output and tools (tools.c) */

/* What a request asks of the output's shape. */
typedef struct {
    char *schema;            /* JSON Schema text (response_format, Ollama's format; any object for json_object), or NULL */
    char *tools_json;        /* the tools array (compact JSON), or NULL when there are none */
    hearth_tool_choice choice;
    bool tools_off;          /* tool_choice "none": the tools are shown, nothing is constrained or parsed */
    char *name;              /* tool_choice naming one function */
    bool single;             /* parallel_tool_calls false */
} req_constraint;
void constraint_free(req_constraint *c);
/* Tools that constrain and are parsed (there are some, and tool_choice is not "none"). */
bool constraint_tools(const req_constraint *c);
/* Readers: 0 if absent, 1 if read, -1 after answering a 400. */
int read_response_format(request *r, json_t *body, req_constraint *c);   /* OpenAI response_format */
int read_ollama_format(request *r, json_t *body, req_constraint *c);     /* Ollama format */
int read_tools(request *r, json_t *body, api_kind api, req_constraint *c); /* tools, tool_choice, parallel_tool_calls */
/* After finish_params (the sampler exists): the grammar, control tokens' text for the parser, stop strings.
 * 0, or -1 after answering. */
int apply_constraint(request *r, srv_model *m, const req_constraint *c, job_params *p);
/* A message's tool_calls into the template's shape (OpenAI's, arguments as given: the renderer parses JSON
 * strings) on out_msg; -1 after answering. */
int copy_tool_calls(request *r, api_kind api, json_t *calls, size_t idx, json_t *out_msg);
/* Calls in an answer: OpenAI [{id, type, function: {name, arguments: string}}], Ollama [{function: {name,
 * arguments: object}}]. */
json_t *tool_calls_json(api_kind api, const hearth_tool_call *calls, int n);
void tool_call_id(char *out, size_t cap);

/* ------------------------------------------------------------------------------ endpoints */

int openai_models(request *r);
int openai_model(request *r, const char *id);
int openai_chat(request *r);
int openai_completions(request *r);
int ollama_chat(request *r);
int ollama_generate(request *r);
int ollama_tags(request *r);
int ollama_show(request *r);
int ollama_ps(request *r);
int ollama_version(request *r);
/* /v1/chat/completions and /api/chat when the server routes (route.c): answers through router_handle_chat,
 * local answers from this server's models, with an x-hearth-route header and a "hearth" object in the body. */
int route_chat(request *r, api_kind api);

/* ------------------------------------------------------------------------------ metrics (metrics.c) */

/* Count a finished request by endpoint label and HTTP status. */
void metrics_request(const char *endpoint, int status);
/* The Prometheus text exposition (malloc'ed). */
char *metrics_render(server *s);

#endif
