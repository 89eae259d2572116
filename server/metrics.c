/* metrics.c — counters for /metrics, in Prometheus' text exposition format (version 0.0.4).
 * Request counts are kept here by endpoint label (a fixed set: the route table's paths, or "other", so a
 * scanner cannot grow the table) and status; token counts and gauges come from each model's scheduler. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

enum { MAX_SERIES = 512 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
typedef struct {
    const char *endpoint; /* a static string (route table) */
    int status;
    uint64_t n;
} series_t;
static series_t series[MAX_SERIES];
static int n_series;

void metrics_request(const char *endpoint, int status) {
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < n_series && !(series[i].status == status && !strcmp(series[i].endpoint, endpoint))) i++;
    if (i == n_series && n_series < MAX_SERIES) series[n_series++] = (series_t){endpoint, status, 0};
    if (i < n_series) series[i].n++;
    pthread_mutex_unlock(&mu);
}

/* A label value with \, " and newlines escaped. */
static void label(strbuf *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') { sb_put(b, "\\", 1); sb_put(b, v, 1); }
        else if (*v == '\n') sb_puts(b, "\\n");
        else sb_put(b, v, 1);
    }
}

static void header(strbuf *b, const char *name, const char *type, const char *help) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *metrics_render(server *s) {
    strbuf b = {0};
    header(&b, "hearth_requests_total", "counter", "HTTP requests answered, by endpoint and status (499: client went away).");
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_series; i++) {
        sb_puts(&b, "hearth_requests_total{endpoint=\"");
        label(&b, series[i].endpoint);
        sb_printf(&b, "\",status=\"%d\"} %llu\n", series[i].status, (unsigned long long)series[i].n);
    }
    pthread_mutex_unlock(&mu);

    int n = server_n_models(s);
    sched_stats *st = calloc((size_t)(n ? n : 1), sizeof *st);
    if (!st) { sb_free(&b); return NULL; }
    for (int i = 0; i < n; i++) sched_get_stats(server_model(s, i), &st[i]);
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"hearth_jobs_total", "counter", "Generation requests accepted into the queue."},
        {"hearth_jobs_cancelled_total", "counter", "Generations cancelled because the client went away."},
        {"hearth_prompt_tokens_total", "counter", "Prompt tokens of admitted requests."},
        {"hearth_prompt_tokens_cached_total", "counter", "Prompt tokens found in a slot's KV cache (not recomputed)."},
        {"hearth_generated_tokens_total", "counter", "Tokens generated."},
        {"hearth_tokens_per_second", "gauge", "Tokens generated per second over the last 10 seconds."},
        {"hearth_queue_depth", "gauge", "Requests waiting for a slot."},
        {"hearth_slots_active", "gauge", "Slots running a request."},
        {"hearth_slots_total", "gauge", "Slots (sessions decoded together)."},
    };
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        header(&b, fams[f].name, fams[f].type, fams[f].help);
        for (int i = 0; i < n; i++) {
            sb_printf(&b, "%s{model=\"", fams[f].name);
            label(&b, sched_name(server_model(s, i)));
            sb_puts(&b, "\"} ");
            const sched_stats *x = &st[i];
            switch (f) {
            case 0: sb_printf(&b, "%llu\n", (unsigned long long)x->requests); break;
            case 1: sb_printf(&b, "%llu\n", (unsigned long long)x->cancelled); break;
            case 2: sb_printf(&b, "%llu\n", (unsigned long long)x->prompt_tokens); break;
            case 3: sb_printf(&b, "%llu\n", (unsigned long long)x->cached_tokens); break;
            case 4: sb_printf(&b, "%llu\n", (unsigned long long)x->generated_tokens); break;
            case 5: sb_printf(&b, "%.1f\n", x->tokens_per_s); break;
            case 6: sb_printf(&b, "%d\n", x->queued); break;
            case 7: sb_printf(&b, "%d\n", x->active); break;
            default: sb_printf(&b, "%d\n", x->slots); break;
            }
        }
    }
    free(st);
    return b.s;
}
