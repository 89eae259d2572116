/* upstream.h — one chat completion from an OpenAI-compatible endpoint (POST {base_url}/chat/completions)
 * over libcurl, streamed: each piece of answer text is handed on as its SSE event arrives.
 *
 * Contract
 *   - TLS verification is always on; redirects are not followed (a key must not travel to another host);
 *     only http and https. Timeouts: connect, total, and idle (no byte for idle seconds, also before the
 *     first byte).
 *   - The API key comes from the environment variable the upstream names, read at call time; it is put
 *     only in the Authorization header and wiped from memory after the call. Error texts never contain it
 *     (upstream error bodies are passed through the guard before they are kept).
 *   - An endpoint that ignores "stream": true and answers with one JSON body works too.
 *   - Every outcome is classified (upstream_status) so the router can fail over and feed the breaker;
 *     UPSTREAM_ABORTED means the sink asked to stop (the client went away): not the upstream's fault.
 *   - curl_global_init must have been called (router_new does).
 */
#ifndef HEARTH_ROUTER_UPSTREAM_H
#define HEARTH_ROUTER_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef enum {
    UPSTREAM_OK,
    UPSTREAM_UNREACHABLE, /* DNS, refused connection, TLS failure */
    UPSTREAM_TIMEOUT,
    UPSTREAM_HTTP_ERROR,  /* status >= 400, or an error object in the stream */
    UPSTREAM_MALFORMED,   /* not SSE / JSON we understand */
    UPSTREAM_TRUNCATED,   /* the stream ended before [DONE] or a finish_reason */
    UPSTREAM_NO_KEY,      /* api_key_env is not set */
    UPSTREAM_ABORTED,     /* the sink returned false */
} upstream_status;

typedef struct {
    upstream_status status;
    long http_code;
    char error[256];          /* one line, when status != OK */
    long prompt_tokens, completion_tokens; /* -1: the upstream did not say */
    char finish_reason[32];
    size_t text_bytes;        /* answer bytes handed to the sink */
} upstream_result;

typedef bool (*upstream_text_fn)(void *user, const char *text, size_t len);

/* body: the complete request JSON (model, messages, "stream": true ...). */
void upstream_chat(const route_upstream *u, const char *body, upstream_text_fn on_text, void *user, upstream_result *res);
const char *upstream_status_name(upstream_status s);

#endif
