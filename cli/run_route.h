/* run_route.h — hearth run's --route path (run_route.c). */
#ifndef HEARTH_CLI_RUN_ROUTE_H
#define HEARTH_CLI_RUN_ROUTE_H

#include "cli.h"

typedef struct {
    const char *route_file;
    const char *audit;          /* NULL: the route file's or the default audit log */
    const char *model_path;     /* the local model, NULL when none is available */
    const char *model_name;     /* "model" of the request (rules match on it; hearth:cloud etc. are hints) */
    const char *system_prompt, *text;
    common_opts common;
    hearth_sampler_params sampler;
    int n_predict;
    const char *const *stops;
    int n_stops;
    bool special;
} run_route_opts;

/* Answers o->text through the router; returns an exit code. */
int run_routed(const run_route_opts *o);

#endif
