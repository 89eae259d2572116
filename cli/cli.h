/* cli.h — shared pieces of the hearth command-line front end. The CLI uses only the public API (hearth.h). */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "hearth.h"

/* Exit codes (documented in `hearth --help`). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_MODEL = 3, EXIT_CONTEXT = 4, EXIT_INTERRUPTED = 130 };

/* Options common to the model-running commands. */
typedef struct {
    const char *model;
    int n_threads, n_ctx, n_batch;
    hearth_kv_type kv_type;
    bool quiet;
} common_opts;

/* Parse one common option at argv[*i]; returns 1 if consumed (advancing *i), 0 if not one, -1 on error. */
int cli_common_opt(common_opts *o, int argc, char **argv, int *i);
/* The value of option argv[*i] (advancing *i), or NULL with a message when missing. */
const char *cli_value(int argc, char **argv, int *i);
/* Sampling and length options shared by run and chat (-n, --temp, --top-k, --top-p, --min-p, --repeat-penalty,
 * --repeat-last-n, --presence-penalty, --frequency-penalty, --seed): 1 consumed, 0 not one, -1 error. */
int cli_sampling_opt(hearth_sampler_params *sp, int *n_predict, int *seed, int argc, char **argv, int *i);
bool cli_parse_int(const char *s, int *out);
bool cli_parse_float(const char *s, float *out);
/* Parse "2,17,5" into a malloc'ed array. */
int32_t *cli_parse_ids(const char *s, int *n);
/* Find a model: a path, or a name in $HEARTH_MODELS, the Hugging Face cache or ollama's store. */
bool cli_resolve_model(const char *arg, char *out, size_t cap);
/* The embedded default model (models/default.gguf). */
bool cli_default_model(char *out, size_t cap);
/* Resolve a model argument (path, or a name in the model directories) and load it; prints errors. */
hearth_model *cli_load_model(const char *arg, bool vocab_only);
hearth_session *cli_new_session(hearth_model *model, const common_opts *o);
int cli_status_exit(int status);
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Monotonic wall-clock seconds. */
double cli_now(void);

/* mkdir -p; returns 0 or -1 */
int mkdir_p(const char *path);

int cmd_info(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
