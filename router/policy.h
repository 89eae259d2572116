/* policy.h — where a request goes: explicit hints, then the route file's rules in order, then the
 * default; `auto` (as the default or a rule's target) classifies the task itself.
 *
 * Contract
 *   - Pure: a function of the configuration and the request's features. No I/O, no upstream health
 *     (the router handles breakers and failover after the decision).
 *   - Every decision names the rule that made it and a one-line human-readable reason.
 *   - auto: chores (regex, JSON to types, Dockerfile, YAML, log parsing, explaining an error, small code)
 *     stay local; long or architectural requests (system design, trade-offs, deep multi-step reasoning,
 *     prompts over auto.long_prompt_tokens, lots of code) and anything that does not fit the local
 *     context go to the cloud. Ties stay local.
 */
#ifndef HEARTH_ROUTER_POLICY_H
#define HEARTH_ROUTER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef enum { HINT_NONE, HINT_LOCAL, HINT_CLOUD } route_hint;

typedef struct {
    const char *model;        /* model name the client asked for (NULL: none) */
    const char *task;         /* the last user message: what keywords look at */
    size_t task_len;
    long prompt_tokens;       /* whole conversation, estimated or counted */
    long max_tokens;          /* completion budget asked for; <= 0: unknown */
    long code_lines;          /* see route_code_lines */
    route_hint hint;
    int hint_upstream;        /* HINT_CLOUD with a named upstream, else -1 */
    const char *hint_source;  /* "model" or "marker" */
    bool sensitive;           /* the guard found something (rules may match on it) */
} route_request;

typedef struct {
    route_target target;      /* LOCAL, CLOUD (any healthy upstream) or UPSTREAM; never AUTO */
    char rule[96];            /* "hint:model", "hint:marker", a rule's name, "default" */
    char reason[256];
    sensitive_action on_sensitive;
} route_decision;

void route_decide(const route_config *c, const route_request *rq, route_decision *d);

/* Tokens of text when no tokenizer is at hand (about 4 bytes a token, rounded up). */
long route_estimate_tokens(size_t bytes);
/* Lines of code: lines inside ``` fences; without fences, lines that look like code (ending in ';', '{',
 * '}' or indented by 4 spaces / a tab). */
long route_code_lines(const char *text, size_t len);
/* Glob match with '*' and '?', case-insensitive. */
bool route_glob(const char *pattern, const char *s);

#endif
