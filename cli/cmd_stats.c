/* cmd_stats.c — `hearth stats`: what the router did, from its audit log: local vs cloud requests and
 * tokens, failovers, what the privacy guard caught, money spent in the cloud and saved by answering
 * locally at the given per-token prices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../router/audit.h"
#include "../router/config.h"
#include "cli.h"

static const char stats_help[] =
    "usage: hearth stats [--log FILE] [--route ROUTES.yaml [--compare NAME]] [--prices IN,OUT] [--json]\n"
    "\n"
    "Summarises the router's audit log (default: $HEARTH_ROUTER_LOG, else ~/.local/state/hearth/router.jsonl):\n"
    "local and cloud requests and tokens, failovers, blocked requests, what the privacy guard found, what the\n"
    "cloud cost and what answering locally saved.\n"
    "\n"
    "  --log FILE          the audit log to read\n"
    "  --route FILE        take prices from a route file: the cloud price is its first upstream's (or\n"
    "                      --compare NAME's), the local price its local.price; its audit.path is the log\n"
    "  --prices IN,OUT     cloud price in USD per million input and output tokens (overrides --route)\n"
    "  --json              one JSON object instead of text\n";

static void tok(char *buf, size_t cap, long n) {
    if (n >= 1000000) snprintf(buf, cap, "%.1fM", n / 1e6);
    else if (n >= 10000) snprintf(buf, cap, "%.1fk", n / 1e3);
    else snprintf(buf, cap, "%ld", n);
}

int cmd_stats(int argc, char **argv) {
    const char *log = NULL, *route = NULL, *prices = NULL, *compare = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(stats_help, stdout); return EXIT_OK; }
        else if (!strcmp(a, "--log")) { if (!(log = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--route")) { if (!(route = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--prices")) { if (!(prices = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--compare")) { if (!(compare = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--json")) json = true;
        else { cli_error("stats: unknown argument '%s' (see hearth stats --help)", a); return EXIT_USAGE; }
    }
    audit_prices p = {0};
    char path[4096] = "", price_src[160] = "no prices given (--route or --prices)";
    if (route) {
        char err[512];
        route_config *c = route_config_load(route, err, sizeof err);
        if (!c) { cli_error("%s", err); return EXIT_USAGE; }
        int u = compare ? route_config_upstream(c, compare) : c->n_up ? 0 : -1;
        if (compare && u < 0) { cli_error("--compare: no upstream named '%s' in %s", compare, route); route_config_free(c); return EXIT_USAGE; }
        if (u >= 0) {
            p.cloud_in = c->up[u].price_in;
            p.cloud_out = c->up[u].price_out;
            snprintf(price_src, sizeof price_src, "upstream %s's price in %s", c->up[u].name, route);
        }
        p.local_in = c->local_price_in;
        p.local_out = c->local_price_out;
        if (c->audit_path && strcmp(c->audit_path, "off")) {
            const char *home = getenv("HOME");
            if (c->audit_path[0] == '~' && home) snprintf(path, sizeof path, "%s%s", home, c->audit_path + 1);
            else snprintf(path, sizeof path, "%s", c->audit_path);
        }
        route_config_free(c);
    } else if (compare) { cli_error("--compare needs --route"); return EXIT_USAGE; }
    if (prices) {
        char *end;
        p.cloud_in = strtod(prices, &end);
        if (*end != ',' || p.cloud_in < 0) { cli_error("--prices wants IN,OUT in USD per million tokens, e.g. 2.5,10"); return EXIT_USAGE; }
        const char *o = end + 1;
        p.cloud_out = strtod(o, &end);
        if (end == o || *end || p.cloud_out < 0) { cli_error("--prices wants IN,OUT in USD per million tokens, e.g. 2.5,10"); return EXIT_USAGE; }
        snprintf(price_src, sizeof price_src, "--prices");
    }
    if (log) snprintf(path, sizeof path, "%s", log);
    else if (!path[0]) audit_default_path(path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) { cli_error("cannot read the audit log %s (hearth serve --route / hearth run --route write it)", path); return EXIT_FAIL; }
    audit_summary s;
    bool ok = audit_summarise(f, &s);
    fclose(f);
    if (!ok) { cli_error("error reading %s", path); return EXIT_FAIL; }
    double saved = audit_saved(&s, &p);
    if (json) {
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I}, s:{s:I, s:I}, s:f, s:f, "
                              "s:{s:f, s:f, s:f, s:f}, s:I}",
                              "log", path, "requests", (json_int_t)s.requests, "local", (json_int_t)s.local, "cloud",
                              (json_int_t)s.cloud, "failovers", (json_int_t)s.failovers, "blocked", (json_int_t)s.blocked,
                              "errors", (json_int_t)s.errors, "sensitive", (json_int_t)s.sensitive, "redacted",
                              (json_int_t)s.redacted, "kept_local", (json_int_t)s.kept_local, "local_tokens", "input",
                              (json_int_t)s.local_in, "output", (json_int_t)s.local_out, "cloud_tokens", "input",
                              (json_int_t)s.cloud_in, "output", (json_int_t)s.cloud_out, "cloud_cost_usd", s.cloud_cost,
                              "saved_usd", saved, "prices", "cloud_input", p.cloud_in, "cloud_output", p.cloud_out,
                              "local_input", p.local_in, "local_output", p.local_out, "bad_lines", (json_int_t)s.bad_lines);
        char *out = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        if (out) puts(out);
        free(out);
        json_decref(o);
        return out ? EXIT_OK : EXIT_FAIL;
    }
    char a[32], b[32], c[32], d[32];
    tok(a, sizeof a, s.local_in); tok(b, sizeof b, s.local_out); tok(c, sizeof c, s.cloud_in); tok(d, sizeof d, s.cloud_out);
    long answered = s.local + s.cloud;
    printf("router audit log %s\n", path);
    if (s.first_ts[0]) printf("  %s .. %s\n", s.first_ts, s.last_ts);
    printf("  requests   %ld (%ld answered locally = %.0f%%, %ld in the cloud)\n", s.requests, s.local,
           answered ? 100.0 * s.local / answered : 0.0, s.cloud);
    printf("  local      %s prompt + %s generated tokens\n", a, b);
    printf("  cloud      %s prompt + %s generated tokens, cost $%.4f\n", c, d, s.cloud_cost);
    printf("  failovers  %ld (upstream down, slow or failing: answered locally)\n", s.failovers);
    printf("  privacy    %ld requests with secrets or personal data: %ld kept local, %ld redacted, %ld blocked\n",
           s.sensitive, s.kept_local, s.redacted, s.blocked);
    if (s.errors) printf("  errors     %ld\n", s.errors);
    if (s.bad_lines) printf("  skipped    %ld unreadable lines\n", s.bad_lines);
    printf("  saved      $%.4f (local tokens at $%g in / $%g out per million, %s; local cost $%g / $%g)\n", saved, p.cloud_in,
           p.cloud_out, price_src, p.local_in, p.local_out);
    return EXIT_OK;
}
