/* router.h — the hybrid router: local first, the cloud for the hard requests, secrets never leave,
 * outages are non-events. This is the one entry point front ends call (hearth serve's /v1/chat/completions
 * and /api/chat handlers when --route is given, hearth run --route).
 *
 * Contract
 *   - router_handle_chat takes one chat request in OpenAI's shape ({"model", "messages", ...}; Ollama's
 *     /api/chat body has the same messages) and answers it through the front end's callbacks:
 *       1. explicit hints are read and stripped: model "hearth:local", "hearth:cloud", "hearth:cloud:NAME",
 *          or the same words as a marker in a user message;
 *       2. the privacy guard scans every message (and tool-call arguments);
 *       3. the policy (policy.h) picks local or an upstream; a request with findings that would leave the
 *          machine gets the rule's on_sensitive action: local (answered here), redact (placeholders out,
 *          values restored in the answer) or block (HTTP 403, nothing sent);
 *       4. cloud answers stream through on_text as they arrive; an upstream that is down, slow, broken or
 *          returns errors is skipped: the request is answered by run_local (if the cloud answer had begun,
 *          run_local continues it), and the upstream's circuit breaker counts the failure;
 *       5. one audit line is appended (audit.h).
 *   - Thread-safe: any number of concurrent router_handle_chat calls on one router.
 *   - Nothing the guard found is ever logged, and API keys appear only in upstream Authorization headers.
 */
#ifndef HEARTH_ROUTER_ROUTER_H
#define HEARTH_ROUTER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "guard.h"

typedef struct router router;

/* Takes ownership of cfg (also on failure). Opens the audit log: the file's audit.path, else
 * audit_default_path(); "off" disables it. Calls curl_global_init: create routers before starting threads. */
router *router_new(route_config *cfg, char *err, size_t errlen);
void router_free(router *r);
const route_config *router_config(const router *r);
/* The local model's context in tokens, used when the route file leaves local.context out. Call before
 * handling requests. */
void router_set_local_context(router *r, int n_ctx);
/* Override the audit log (NULL or "off": none). */
bool router_set_audit(router *r, const char *path, char *err, size_t errlen);

typedef bool (*router_emit_fn)(void *ctx, const char *text, size_t len);

typedef struct {
    long prompt_tokens, completion_tokens; /* -1: unknown */
    char finish_reason[24];                /* "stop", "length" */
} router_local_result;

typedef struct {
    /* The route is decided: "local" or "cloud:NAME", and the rule that chose it. Called before any text;
     * called again with "local" if the upstream fails before its first byte of answer (a front end that
     * has already sent its headers reports the final route in the body instead). May be NULL. */
    void (*on_route)(void *user, const char *route, const char *rule);
    /* Answer text in order, placeholders already restored. Return false to stop (the client went away). */
    bool (*on_text)(void *user, const char *text, size_t len);
    /* Answer on the local model. request_json: the client's request with hints stripped (never redacted:
     * it stays here). assistant_prefix: NULL, or the part of the answer a failed upstream already sent:
     * continue it (render the conversation, append the prefix, generate) instead of starting over.
     * Pass the new text to emit(emit_ctx, ...). Returns 0 or a negative hearth_status. */
    int (*run_local)(void *user, const char *request_json, const char *assistant_prefix, router_emit_fn emit,
                     void *emit_ctx, router_local_result *res);
    void *user;
} router_io;

typedef struct {
    int http_status;            /* 200; 400 bad request; 403 blocked by the privacy guard; 500 local failure */
    char error[256];            /* when http_status != 200: one line, safe to show */
    char route[96];             /* "local" or "cloud:NAME": where the answer came from */
    char rule[96];              /* "hint:model", "hint:marker", a rule's name, "default" */
    char reason[256];
    char failover[300];         /* "" or "cloud:NAME: timeout: ..." when the answer fell back to local */
    char action[8];             /* what the guard's findings caused: "none", "local", "redact", "block" */
    guard_counts findings;
    long prompt_tokens, completion_tokens;
    bool tokens_estimated;
    char finish_reason[24];
    char *hearth_json;          /* {"route":..,"rule":..,"reason":..,...} for the response body (malloc'ed) */
} router_result;

/* Always fills res (free it with router_result_free). Returns 0 when the request was answered (or the
 * client stopped reading), -1 otherwise (see res->http_status and res->error). */
int router_handle_chat(router *r, const char *request_json, size_t len, const router_io *io, router_result *res);
void router_result_free(router_result *res);

#endif
