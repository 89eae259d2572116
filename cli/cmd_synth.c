/* cmd_synth.c — `hearth synth NAME OUT.gguf [--type T] [--seed N] [--ctx N] [--threads N] [--dry-run]`:
 * write a random-weight model with the exact tensor names, shapes and metadata of a real one, so speed can be
 * measured without downloading it. --dry-run prints the tensor table and sizes and writes nothing;
 * --list names the known models. Progress goes to stderr; the summary (and the table) to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    bool print_tensors;
    bool progress;
    int last_pct;
    double t0;
    struct { char type[16]; int count; uint64_t bytes; } mix[16];
    int n_mix;
} synth_ui;

static void on_tensor(void *user, const char *name, const char *type, int n_dims, const int64_t ne[4], uint64_t n_bytes) {
    synth_ui *ui = user;
    if (ui->print_tensors) {
        char shape[96];
        int k = snprintf(shape, sizeof shape, "[%lld", (long long)ne[0]);
        for (int d = 1; d < n_dims; d++) k += snprintf(shape + k, sizeof shape - (size_t)k, ", %lld", (long long)ne[d]);
        snprintf(shape + k, sizeof shape - (size_t)k, "]");
        printf("  %-40s %-6s %-20s %12llu\n", name, type, shape, (unsigned long long)n_bytes);
    }
    int j = 0;
    while (j < ui->n_mix && strcmp(ui->mix[j].type, type)) j++;
    if (j == ui->n_mix && ui->n_mix < 16) {
        snprintf(ui->mix[j].type, sizeof ui->mix[j].type, "%s", type);
        ui->n_mix++;
    }
    if (j < ui->n_mix) { ui->mix[j].count++; ui->mix[j].bytes += n_bytes; }
}

static void on_progress(void *user, uint64_t done, uint64_t total) {
    synth_ui *ui = user;
    if (!ui->progress || total < (64u << 20)) return; /* small files are done before anyone looks */
    const bool tty = isatty(2);
    int pct = (int)(100.0 * (double)done / (double)total);
    if (tty ? pct == ui->last_pct : pct / 10 == ui->last_pct / 10) return;
    ui->last_pct = pct;
    double dt = cli_now() - ui->t0;
    fprintf(stderr, "%ssynth: %.2f / %.2f GB  %3d%%  %.0f MB/s%s", tty ? "\r" : "", done / 1e9, total / 1e9, pct,
            dt > 0 ? done / 1e6 / dt : 0.0, tty ? " " : "\n");
    fflush(stderr);
}

int cmd_synth(int argc, char **argv) {
    const char *name = NULL, *out = NULL;
    hearth_synth_params sp = {.type = "Q4_K_M"};
    bool dry_run = false, list = false, quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--type")) { if (!(sp.type = cli_value(argc, argv, &i))) return EXIT_USAGE; }
        else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i))) return EXIT_USAGE;
            char *end;
            sp.seed = strtoull(v, &end, 10);
            if (*end || !*v) { cli_error("--seed needs a non-negative integer"); return EXIT_USAGE; }
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(v, &sp.n_ctx) || sp.n_ctx <= 0) {
                cli_error("--ctx needs a positive integer"); return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(v, &sp.n_threads) || sp.n_threads <= 0) {
                cli_error("--threads needs a positive integer"); return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--dry-run")) dry_run = true;
        else if (!strcmp(a, "--exact-quant")) sp.exact_quant = true;
        else if (!strcmp(a, "--list")) list = true;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) quiet = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: hearth synth NAME OUT.gguf [--type T] [--seed N] [--ctx N] [--threads N] [--exact-quant]\n"
                   "       hearth synth NAME --dry-run [--type T]\n"
                   "       hearth synth --list\n\n"
                   "Writes a model with random weights and the exact tensor names, shapes and metadata of a real\n"
                   "model (as llama.cpp's converter and llama-quantize lay it out), to measure speed without it.\n"
                   "  --type T       F32, F16, BF16, Q8_0, Q4_0, Q4_K_M (default), Q5_K_M, Q6_K, Q3_K_M\n"
                   "  --seed N       random seed (default 0); the file does not depend on --threads\n"
                   "  --ctx N        context length written to the file (default: the real model's)\n"
                   "  --exact-quant  reference K-quantizers (slow) instead of the fast one-pass fit\n"
                   "  --dry-run      print every tensor (name, type, shape, bytes) and the totals; write nothing\n");
            return EXIT_OK;
        } else if (a[0] == '-' && a[1]) { cli_error("synth: unknown option '%s'", a); return EXIT_USAGE; }
        else if (!name) name = a;
        else if (!out) out = a;
        else { cli_error("synth: unexpected argument '%s'", a); return EXIT_USAGE; }
    }
    if (list) {
        const char *src, *n;
        for (int i = 0; (n = hearth_synth_name(i, &src)); i++) printf("%-14s %s\n", n, src);
        return EXIT_OK;
    }
    if (!name || (!out && !dry_run)) { cli_error("usage: hearth synth NAME OUT.gguf (or --dry-run, --list)"); return EXIT_USAGE; }
    synth_ui ui = {.print_tensors = dry_run, .progress = !quiet && !dry_run, .last_pct = -1, .t0 = cli_now()};
    sp.on_tensor = on_tensor;
    sp.on_progress = on_progress;
    sp.user = &ui;
    hearth_synth_info info;
    int rc = hearth_synth(name, dry_run ? NULL : out, &sp, &info);
    if (ui.progress && ui.last_pct >= 0 && isatty(2)) fputc('\n', stderr);
    if (rc < 0) { cli_error("%s", hearth_last_error()); return rc == HEARTH_ERR_ARG ? EXIT_USAGE : EXIT_FAIL; }
    double dt = cli_now() - ui.t0;
    printf("model:        %s (%s), type %s, seed %llu\n", name, info.arch, sp.type, (unsigned long long)sp.seed);
    printf("tensors:      %d", info.n_tensors);
    if (info.ref_tensors) printf(" (real model's GGUF: %d)", info.ref_tensors);
    printf("\nparameters:   %llu (%.3f B)", (unsigned long long)info.n_params, info.n_params / 1e9);
    if (info.ref_params)
        printf(" (published: %llu, %+.2f%%)", (unsigned long long)info.ref_params,
               100.0 * ((double)info.n_params - (double)info.ref_params) / (double)info.ref_params);
    printf("\ntensor bytes: %llu (%.3f GB, %.2f bits/weight)\n", (unsigned long long)info.n_bytes, info.n_bytes / 1e9,
           info.n_params ? 8.0 * (double)info.n_bytes / (double)info.n_params : 0.0);
    printf("file bytes:   %llu (%.3f GB)\n", (unsigned long long)info.file_bytes, info.file_bytes / 1e9);
    printf("type mix:    ");
    for (int j = 0; j < ui.n_mix; j++)
        printf(" %s×%d (%.1f%%)", ui.mix[j].type, ui.mix[j].count, info.n_bytes ? 100.0 * ui.mix[j].bytes / info.n_bytes : 0.0);
    printf("\n");
    if (!dry_run) printf("wrote %s in %.1f s (%.0f MB/s)\n", out, dt, dt > 0 ? info.file_bytes / 1e6 / dt : 0.0);
    return EXIT_OK;
}
