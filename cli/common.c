/* common.c — option parsing and model loading shared by the CLI commands. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "cli.h"

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hearth: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool cli_parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX) return false;
    *out = (int)v;
    return true;
}

bool cli_parse_float(const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

int32_t *cli_parse_ids(const char *s, int *n) {
    size_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    if (!ids) return NULL;
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            cli_error("--prompt-ids: '%s' is not a comma-separated list of token ids", s);
            free(ids);
            return NULL;
        }
        ids[(*n)++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) {
        cli_error("--prompt-ids: no token ids given");
        free(ids);
        return NULL;
    }
    return ids;
}

/* --mlock applies to every model the command loads */
static bool want_mlock;

int cli_common_opt(common_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--mlock")) { want_mlock = true; return 1; }
    int *target = NULL;
    if (!strcmp(a, "--threads") || !strcmp(a, "-t")) target = &o->n_threads;
    else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) target = &o->n_ctx;
    else if (!strcmp(a, "--batch") || !strcmp(a, "-b")) target = &o->n_batch;
    else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { o->quiet = true; return 1; }
    else if (!strcmp(a, "--kv-type")) {
        if (!(v = cli_value(argc, argv, i))) return -1;
        if (!strcmp(v, "f32")) o->kv_type = HEARTH_KV_F32;
        else if (!strcmp(v, "f16")) o->kv_type = HEARTH_KV_F16;
        else if (!strcmp(v, "q8_0")) o->kv_type = HEARTH_KV_Q8_0;
        else if (!strcmp(v, "auto")) o->kv_type = HEARTH_KV_AUTO;
        else { cli_error("--kv-type must be f32, f16, q8_0 or auto"); return -1; }
        return 1;
    } else return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
    if (!cli_parse_int(v, target) || *target <= 0) {
        cli_error("%s needs a positive integer, got '%s'", a, v);
        return -1;
    }
    return 1;
}

int cli_status_exit(int status) {
    switch (status) {
    case HEARTH_ERR_CONTEXT: return EXIT_CONTEXT;
    case HEARTH_ERR_CANCELLED: return EXIT_INTERRUPTED;
    case HEARTH_ERR_ARG: return EXIT_USAGE;
    default: return EXIT_FAIL;
    }
}

hearth_model *cli_load_model(const char *arg, bool vocab_only) {
    hearth_model_params mp = {.vocab_only = vocab_only, .mlock = want_mlock && !vocab_only};
    char path[4096];
    if (!cli_resolve_model(arg, path, sizeof path)) {
        cli_error("model '%s' not found (not a file, nor a name in $HEARTH_MODELS, ~/.cache/hearth/models, "
                  "the Hugging Face cache or ollama's store)", arg);
        return NULL;
    }
    hearth_model *m = hearth_model_load(path, &mp);
    if (!m) cli_error("%s", hearth_last_error());
    return m;
}

hearth_session *cli_new_session(hearth_model *model, const common_opts *o) {
    hearth_session_params sp = {.n_ctx = o->n_ctx, .n_threads = o->n_threads, .kv_type = o->kv_type,
                                .n_batch = o->n_batch};
    hearth_session *s = hearth_session_new(model, &sp);
    if (!s) cli_error("%s", hearth_last_error());
    return s;
}

int mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(buf, 0755); *p = '/'; }
    return mkdir(buf, 0755) == 0 || access(buf, F_OK) == 0 ? 0 : -1;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool float_value(int argc, char **argv, int *i, float *out) {
    const char *v = cli_value(argc, argv, i);
    if (!v || !cli_parse_float(v, out)) { cli_error("%s needs a number", argv[*i - (v ? 1 : 0)]); return false; }
    return true;
}

static bool int_value(int argc, char **argv, int *i, int *out) {
    const char *v = cli_value(argc, argv, i);
    if (!v || !cli_parse_int(v, out)) { cli_error("%s needs an integer", argv[*i - (v ? 1 : 0)]); return false; }
    return true;
}

int cli_sampling_opt(hearth_sampler_params *sp, int *n_predict, int *seed, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    bool ok;
    if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) ok = int_value(argc, argv, i, n_predict);
    else if (!strcmp(a, "--temp") || !strcmp(a, "--temperature")) ok = float_value(argc, argv, i, &sp->temperature);
    else if (!strcmp(a, "--top-k")) ok = int_value(argc, argv, i, &sp->top_k);
    else if (!strcmp(a, "--top-p")) ok = float_value(argc, argv, i, &sp->top_p);
    else if (!strcmp(a, "--min-p")) ok = float_value(argc, argv, i, &sp->min_p);
    else if (!strcmp(a, "--repeat-penalty")) ok = float_value(argc, argv, i, &sp->repeat_penalty);
    else if (!strcmp(a, "--repeat-last-n")) ok = int_value(argc, argv, i, &sp->repeat_last_n);
    else if (!strcmp(a, "--presence-penalty")) ok = float_value(argc, argv, i, &sp->presence_penalty);
    else if (!strcmp(a, "--frequency-penalty")) ok = float_value(argc, argv, i, &sp->frequency_penalty);
    else if (!strcmp(a, "--seed")) ok = int_value(argc, argv, i, seed);
    else return 0;
    return ok ? 1 : -1;
}
