/* config.h — the route file (YAML, LiteLLM-like): upstreams, routing rules, privacy actions, timeouts,
 * circuit breaker, audit log and prices. docs/router.md documents the format with a full example.
 *
 * Contract
 *   - route_config_load/parse never abort: on a bad file they return NULL and write one line
 *     "FILE:LINE:COL: what is wrong" into err. Unknown keys are errors (a typo must not silently route
 *     a secret to the cloud).
 *   - API keys are never in the file: an upstream names the environment variable that holds its key
 *     (api_key_env); a literal api_key is refused. The key itself is read at request time.
 *   - The result is immutable after loading and may be shared by threads.
 */
#ifndef HEARTH_ROUTER_CONFIG_H
#define HEARTH_ROUTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "guard.h"

typedef enum { TARGET_LOCAL, TARGET_CLOUD, TARGET_AUTO, TARGET_UPSTREAM } route_target_kind;

typedef struct {
    route_target_kind kind;
    int upstream; /* TARGET_UPSTREAM: index into route_config.up */
} route_target;

typedef enum { SENSITIVE_LOCAL, SENSITIVE_REDACT, SENSITIVE_BLOCK } sensitive_action;

typedef struct {
    char *name, *base_url, *model, *api_key_env; /* api_key_env may be NULL (no Authorization header) */
    double connect_timeout_s, total_timeout_s, idle_timeout_s;
    double price_in, price_out;                 /* USD per million tokens */
    bool stream_usage;                          /* ask for usage in the stream (stream_options) */
    int line;
} route_upstream;

typedef struct {
    char *name;
    int line;
    /* conditions: every one that is set must hold */
    char **models;            /* glob patterns ('*', '?') on the requested model name; any may match */
    int n_models;
    char **keywords;          /* case-insensitive substrings of the user's text; any may match */
    int n_keywords;
    long min_prompt_tokens, max_prompt_tokens; /* estimated; -1: unset */
    long min_code_lines, max_code_lines;       /* lines inside ``` fences; -1: unset */
    int exceeds_local_context;                 /* -1 unset, 0/1 */
    int sensitive;                             /* -1 unset, 0/1: the guard found something */
    route_target to;
    int on_sensitive;         /* -1: the route's default, else a sensitive_action */
} route_rule;

typedef struct {
    route_upstream *up;
    int n_up;
    route_rule *rules;
    int n_rules;
    route_target def;
    sensitive_action on_sensitive;
    guard_config guard;
    int local_context;            /* tokens the local model holds; 0: unknown (the front end may set it) */
    double local_price_in, local_price_out;
    long auto_long_prompt_tokens; /* auto: prompts this long go to the cloud */
    long auto_code_lines;         /* auto: this much code counts as a big task */
    char **auto_cloud_words, **auto_local_words;
    int n_auto_cloud_words, n_auto_local_words;
    int breaker_failures;         /* consecutive failures that open the breaker */
    double breaker_cooldown_s;    /* open -> half-open after this long */
    char *audit_path;             /* NULL: no audit log */
    char *path;                   /* the file it came from */
} route_config;

route_config *route_config_load(const char *path, char *err, size_t errlen);
route_config *route_config_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);
void route_config_free(route_config *c);

/* Upstream by name, or -1. */
int route_config_upstream(const route_config *c, const char *name);
/* "local", "cloud", "auto" or the upstream's name. */
const char *route_target_name(const route_config *c, route_target t);
const char *sensitive_action_name(sensitive_action a);

#endif
