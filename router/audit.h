/* audit.h — the router's append-only JSONL log of routing decisions, and its summary (hearth stats).
 *
 * Contract
 *   - One JSON object per line, written with a single write() on an O_APPEND descriptor, so concurrent
 *     requests (and processes) never interleave lines. The log holds decisions, detector names and
 *     counts, token counts and timings — never prompt text, answers or the values the guard found.
 *   - audit_summarise reads any such log, skipping lines it cannot parse (and counting them).
 */
#ifndef HEARTH_ROUTER_AUDIT_H
#define HEARTH_ROUTER_AUDIT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct audit_log audit_log;

/* Opens (creating directories as needed) for appending; NULL with a message in err. */
audit_log *audit_open(const char *path, char *err, size_t errlen);
void audit_close(audit_log *a);
/* Appends one line (a JSON object without its newline). Returns false on a write error. */
bool audit_write(audit_log *a, const char *json);

/* Default log path: $HEARTH_ROUTER_LOG, else $XDG_STATE_HOME/hearth/router.jsonl, else
 * ~/.local/state/hearth/router.jsonl. */
void audit_default_path(char *out, size_t cap);

typedef struct {
    long requests, local, cloud, failovers, blocked, errors, bad_lines;
    long sensitive;                     /* requests where the guard found something */
    long redacted, kept_local;          /* ... and what was done about it */
    long local_in, local_out, cloud_in, cloud_out; /* tokens */
    double cloud_cost;                  /* USD actually spent (prices in the log lines) */
    char first_ts[40], last_ts[40];
} audit_summary;

/* Prices in USD per million tokens: `cloud_in/out` price what local requests would have cost in the
 * cloud; `local_in/out` what running them locally costs (electricity; often 0). */
typedef struct {
    double cloud_in, cloud_out, local_in, local_out;
} audit_prices;

bool audit_summarise(FILE *f, audit_summary *s);
/* Money saved by the local requests at these prices. */
double audit_saved(const audit_summary *s, const audit_prices *p);

#endif
