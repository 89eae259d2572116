/* cmd_bench.c — `hearth bench MODEL [-p 512] [-n 128] [-r 5] [-t N] [--ctx N] [--json]` and
 * `hearth bench --synthetic NAME [--type T]`: how fast a model runs here.
 *
 * Definitions (as llama-bench's, so the numbers compare):
 *   pp   prompt processing: p random token ids evaluated in one call from an empty session; tok/s = p / time.
 *   tg   generation: n tokens decoded one at a time from an empty context (each the argmax of the previous
 *        logits, the first one random); tok/s = n / time.
 *   Each is repeated -r times; median, min and max are reported.
 *   ttft     load start -> first generated token (load, session, a prompt of --warmup tokens, default p, argmax),
 *            measured once, cold; it is also the warm-up before the timed runs.
 *   load_s   hearth_model_load (the file is mapped; pages are read when first touched, during the first pp).
 *   peak RSS getrusage ru_maxrss (and VmHWM from /proc/self/status) at the end; RssAnon / RssFile at the end.
 *   cpu_s_per_token  user+system CPU seconds over the tg runs / tokens generated.
 *   joules_per_token from /sys/class/powercap/intel-rapl:0/energy_uj over the tg runs when readable.
 *   bandwidth        bytes of weights read per token (hearth_model_decode_bytes) * tg tok/s.
 * --json prints one JSON object (keys pp_tok_s, tg_tok_s, peak_rss_bytes, load_s, cpu_s_per_token, ... are
 * read by outside scripts — keep their names). --synthetic writes the model once into a cache directory
 * ($HEARTH_CACHE, else $XDG_CACHE_HOME/hearth, else ~/.cache/hearth), in a child process so its buffers do
 * not count in the benchmark's peak RSS. Uses only the public API. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    common_opts o;
    int n_prompt, n_gen, reps;
    int n_warmup;            /* tokens of the cold first prompt (time to first token, warm-up); -1: n_prompt */
    bool json;
    const char *synthetic, *type;
    uint64_t seed;
} bench_opts;

/* ------------------------------------------------------------------------------------------- helpers */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct { double median, min, max; } stats;

static stats stats_of(const double *v, int n) {
    stats s = {0, 0, 0};
    if (n <= 0) return s;
    double *t = malloc(sizeof(double) * (size_t)n);
    if (!t) return s;
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    s.min = t[0];
    s.max = t[n - 1];
    s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    free(t);
    return s;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* First line of a file starting with `key` (e.g. "model name"), the text after its ':'; "" if none. */
static void read_field(const char *path, const char *key, char *out, size_t cap) {
    out[0] = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) return;
    char line[4096];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, key, kl) != 0) continue;
        char *c = strchr(line, ':');
        if (!c) continue;
        c++;
        while (*c == ' ' || *c == '\t') c++;
        size_t n = strcspn(c, "\n");
        if (n >= cap) n = cap - 1;
        memcpy(out, c, n);
        out[n] = 0;
        break;
    }
    fclose(fp);
}

static bool read_u64_file(const char *path, uint64_t *v) {
    FILE *fp = fopen(path, "r");
    if (!fp) return false;
    unsigned long long x;
    bool ok = fscanf(fp, "%llu", &x) == 1;
    fclose(fp);
    if (ok) *v = x;
    return ok;
}

#define RAPL "/sys/class/powercap/intel-rapl:0/"

typedef struct {
    char cpu[256], flags[512], kernel[256];
    int physical_cores, logical_cpus;
    uint64_t mem_total;
} machine_info;

static void machine_describe(machine_info *mi) {
    memset(mi, 0, sizeof *mi);
    read_field("/proc/cpuinfo", "model name", mi->cpu, sizeof mi->cpu);
    if (!mi->cpu[0]) snprintf(mi->cpu, sizeof mi->cpu, "unknown");
    char buf[8192];
    read_field("/proc/cpuinfo", "cpu cores", buf, sizeof buf);
    mi->physical_cores = atoi(buf);
    mi->logical_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (mi->physical_cores <= 0) mi->physical_cores = mi->logical_cpus;
    /* the SIMD-relevant subset of the CPU's flags */
    read_field("/proc/cpuinfo", "flags", buf, sizeof buf);
    if (!buf[0]) read_field("/proc/cpuinfo", "Features", buf, sizeof buf);
    static const char *const wanted[] = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                         "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "asimd", "asimddp",
                                         "sve", "i8mm", "bf16"};
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        char pat[32];
        snprintf(pat, sizeof pat, " %s ", wanted[i]);
        char padded[8200];
        snprintf(padded, sizeof padded, " %s ", buf);
        if (strstr(padded, pat)) {
            if (mi->flags[0]) strncat(mi->flags, " ", sizeof mi->flags - strlen(mi->flags) - 1);
            strncat(mi->flags, wanted[i], sizeof mi->flags - strlen(mi->flags) - 1);
        }
    }
    read_field("/proc/meminfo", "MemTotal", buf, sizeof buf);
    mi->mem_total = (uint64_t)strtoull(buf, NULL, 10) * 1024;
    struct utsname u;
    if (uname(&u) == 0) snprintf(mi->kernel, sizeof mi->kernel, "%s %s %s", u.sysname, u.release, u.machine);
}

/* A kB field of /proc/self/status (VmHWM, RssAnon, RssFile) in bytes; 0 when unreadable. */
static uint64_t status_bytes(const char *field) {
    char buf[128] = "";
    read_field("/proc/self/status", field, buf, sizeof buf);
    return (uint64_t)strtoull(buf, NULL, 10) * 1024;
}

/* A byte count for the JSON: null when it could not be read (0). */
static void json_bytes(FILE *o, const char *key, uint64_t v) {
    if (v) fprintf(o, ", \"%s\": %llu", key, (unsigned long long)v);
    else fprintf(o, ", \"%s\": null", key);
}

/* The 1-minute load average: other processes competing for the cores make every number here worse. */
static double loadavg1(void) {
    double v = -1;
    FILE *fp = fopen("/proc/loadavg", "r");
    if (fp) {
        if (fscanf(fp, "%lf", &v) != 1) v = -1;
        fclose(fp);
    }
    return v;
}

static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

/* ------------------------------------------------------------------------------------ synthetic cache */

static int cache_path(char *out, size_t cap, const char *name, const char *type, uint64_t seed) {
    const char *env = getenv("HEARTH_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[3072];
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/hearth", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/hearth", home);
    else snprintf(dir, sizeof dir, "/tmp/hearth-cache");
    char sub[3200];
    snprintf(sub, sizeof sub, "%s/synth", dir);
    mkdir(dir, 0755); /* parents of a user-given HEARTH_CACHE must exist */
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) { cli_error("cannot create cache directory %s", sub); return -1; }
    snprintf(out, cap, "%s/%s.%s.seed%llu.gguf", sub, name, type, (unsigned long long)seed);
    return 0;
}

static void synth_progress(void *user, uint64_t done, uint64_t total) {
    int *last = user;
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
    if (pct / 5 == *last / 5) return;
    *last = pct;
    fprintf(stderr, "\rbench: synthesizing %.2f / %.2f GB (%d%%) ", done / 1e9, total / 1e9, pct);
    fflush(stderr);
}

/* Make sure the synthetic model is in the cache; synthesize it in a child process when missing. */
static int ensure_synthetic(const bench_opts *bo, char *path, size_t cap) {
    if (cache_path(path, cap, bo->synthetic, bo->type, bo->seed) < 0) return EXIT_FAIL;
    struct stat st;
    if (stat(path, &st) == 0) return EXIT_OK;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { cli_error("fork failed"); return EXIT_FAIL; }
    if (pid == 0) {
        int last = -5;
        hearth_synth_params sp = {.type = bo->type, .seed = bo->seed, .n_threads = bo->o.n_threads,
                                  .on_progress = bo->json ? NULL : synth_progress, .user = &last};
        int rc = hearth_synth(bo->synthetic, path, &sp, NULL);
        if (!bo->json) fputc('\n', stderr);
        if (rc < 0) cli_error("%s", hearth_last_error());
        fflush(stderr);
        _exit(rc < 0 ? (rc == HEARTH_ERR_ARG ? EXIT_USAGE : EXIT_FAIL) : EXIT_OK);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) { cli_error("synthesis failed"); return EXIT_FAIL; }
    return WEXITSTATUS(status);
}

/* ---------------------------------------------------------------------------------------------- bench */

static int32_t argmax(const float *v, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

int cmd_bench(int argc, char **argv) {
    bench_opts bo = {.n_prompt = 512, .n_gen = 128, .reps = 5, .n_warmup = -1, .type = "Q4_K_M"};
    for (int i = 1; i < argc; i++) {
        int c = cli_common_opt(&bo.o, argc, argv, &i);
        if (c < 0) return EXIT_USAGE;
        if (c) continue;
        const char *a = argv[i], *v;
        int *target = NULL;
        if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) target = &bo.n_prompt;
        else if (!strcmp(a, "-n") || !strcmp(a, "--gen")) target = &bo.n_gen;
        else if (!strcmp(a, "-r") || !strcmp(a, "--reps")) target = &bo.reps;
        else if (!strcmp(a, "--warmup")) target = &bo.n_warmup;
        else if (!strcmp(a, "--json")) { bo.json = true; continue; }
        else if (!strcmp(a, "--synthetic")) { if (!(bo.synthetic = cli_value(argc, argv, &i))) return EXIT_USAGE; continue; }
        else if (!strcmp(a, "--type")) { if (!(bo.type = cli_value(argc, argv, &i))) return EXIT_USAGE; continue; }
        else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i))) return EXIT_USAGE;
            bo.seed = strtoull(v, NULL, 10);
            continue;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: hearth bench MODEL [-p 512] [-n 128] [-r 5] [-t N] [--ctx N] [--batch N] [--warmup N] [--json]\n"
                   "       hearth bench --synthetic NAME [--type Q4_K_M] [--seed N] [...]\n\n"
                   "Measures prompt processing (pp: p random tokens from an empty session) and generation\n"
                   "(tg: n tokens one at a time from an empty context), each repeated r times (median, min,\n"
                   "max), time to first token, load time, peak RSS, CPU seconds and energy per generated\n"
                   "token, and the weight bandwidth of generation. --synthetic NAME benchmarks a random-weight\n"
                   "model with a real model's shapes (see `hearth synth --list`), cached after the first run.\n"
                   "--json prints one JSON object.\n");
            return EXIT_OK;
        } else if (a[0] == '-' && a[1]) { cli_error("bench: unknown option '%s'", a); return EXIT_USAGE; }
        else if (!bo.o.model) { bo.o.model = a; continue; }
        else { cli_error("bench: unexpected argument '%s'", a); return EXIT_USAGE; }
        if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(v, target) || *target < 0 ||
            (target == &bo.reps && *target == 0)) {
            cli_error("%s needs a %s integer", a, target == &bo.reps ? "positive" : "non-negative");
            return EXIT_USAGE;
        }
    }
    if (!bo.o.model == !bo.synthetic) { cli_error("usage: hearth bench MODEL | --synthetic NAME (see --help)"); return EXIT_USAGE; }
    if (bo.n_prompt == 0 && bo.n_gen == 0) { cli_error("bench: nothing to measure (-p 0 -n 0)"); return EXIT_USAGE; }
    if (bo.n_warmup < 0) bo.n_warmup = bo.n_prompt;
    if (bo.n_warmup == 0) bo.n_warmup = 1;
    char synth_path[4096];
    if (bo.synthetic) {
        int rc = ensure_synthetic(&bo, synth_path, sizeof synth_path);
        if (rc != EXIT_OK) return rc;
        bo.o.model = synth_path;
    }
    if (bo.o.n_ctx <= 0) {
        int need = bo.n_prompt > bo.n_gen ? bo.n_prompt : bo.n_gen;
        bo.o.n_ctx = (bo.n_warmup > need ? bo.n_warmup : need) + 1;
    }

    /* ---- load and first token (cold) */
    const double load_avg_start = loadavg1();
    const double t_start = cli_now();
    hearth_model *model = cli_load_model(bo.o.model, false);
    if (!model) return EXIT_MODEL;
    const double load_s = cli_now() - t_start;
    hearth_session *s = cli_new_session(model, &bo.o);
    if (!s) { hearth_model_free(model); return EXIT_FAIL; }
    const double session_s = cli_now() - t_start - load_s;
    const int n_vocab = hearth_model_n_vocab(model);
    const int n_tok = bo.n_prompt > bo.n_warmup ? bo.n_prompt : bo.n_warmup;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)n_tok);
    double *pp = calloc((size_t)bo.reps, sizeof(double)), *tg = calloc((size_t)bo.reps, sizeof(double));
    if (!tokens || !pp || !tg) { cli_error("out of memory"); return EXIT_FAIL; }
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < n_tok; i++) {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
        tokens[i] = (int32_t)(rng % (uint64_t)n_vocab);
    }
    int st = hearth_session_eval(s, tokens, bo.n_warmup, NULL);
    int32_t first = st == 0 ? argmax(hearth_session_logits(s), n_vocab) : 0;
    const double ttft_s = cli_now() - t_start;

    /* ---- prompt processing */
    for (int r = 0; r < bo.reps && st == 0 && bo.n_prompt > 0; r++) {
        hearth_session_truncate(s, 0);
        double t = cli_now();
        st = hearth_session_eval(s, tokens, bo.n_prompt, NULL);
        pp[r] = bo.n_prompt / (cli_now() - t);
    }
    /* ---- generation */
    uint64_t e0 = 0, e1 = 0, e_max = 0;
    const bool have_energy = read_u64_file(RAPL "energy_uj", &e0);
    const double cpu0 = cpu_seconds();
    for (int r = 0; r < bo.reps && st == 0 && bo.n_gen > 0; r++) {
        hearth_session_truncate(s, 0);
        int32_t tok = first;
        double t = cli_now();
        for (int i = 0; i < bo.n_gen && st == 0; i++) {
            st = hearth_session_eval(s, &tok, 1, NULL);
            tok = argmax(hearth_session_logits(s), n_vocab);
        }
        tg[r] = bo.n_gen / (cli_now() - t);
    }
    const double cpu_tg = cpu_seconds() - cpu0;
    const bool energy_ok = have_energy && read_u64_file(RAPL "energy_uj", &e1);
    if (energy_ok && e1 < e0 && read_u64_file(RAPL "max_energy_range_uj", &e_max)) e1 += e_max;
    if (st < 0) {
        cli_error("%s", hearth_last_error());
        hearth_session_free(s);
        hearth_model_free(model);
        return cli_status_exit(st);
    }

    /* ---- report */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const uint64_t peak_rss = (uint64_t)ru.ru_maxrss * 1024, hwm = status_bytes("VmHWM");
    /* at the end the weights are still mapped: the split of the resident set between process memory (anon)
     * and mapped file pages, which stay in the page cache and are shared, not the process's own */
    const uint64_t rss_anon = status_bytes("RssAnon"), rss_file = status_bytes("RssFile");
    const int n_gen_total = bo.reps * bo.n_gen;
    const double cpu_per_tok = n_gen_total ? cpu_tg / n_gen_total : 0;
    const double j_per_tok = energy_ok && n_gen_total ? (double)(e1 - e0) * 1e-6 / n_gen_total : -1;
    const stats pps = stats_of(pp, bo.n_prompt > 0 ? bo.reps : 0), tgs = stats_of(tg, bo.n_gen > 0 ? bo.reps : 0);
    const uint64_t decode_bytes = hearth_model_decode_bytes(model);
    const double bw = decode_bytes * tgs.median / 1e9;
    hearth_model_info info;
    hearth_model_get_info(model, &info);
    machine_info mi;
    machine_describe(&mi);
    const double load_avg_end = loadavg1();
    /* weight type mix by elements, as `hearth info` prints it */
    char mix[512] = "";
    {
        struct { const char *type; double elems; } h[32];
        int nh = 0;
        const char *name, *type;
        int64_t ne[4];
        int nd;
        for (int i = 0; hearth_model_tensor(model, i, &name, &type, ne, &nd); i++) {
            int j = 0;
            while (j < nh && strcmp(h[j].type, type)) j++;
            if (j == nh && nh < 32) { h[nh].type = type; h[nh].elems = 0; nh++; }
            if (j < nh) h[j].elems += (double)ne[0] * ne[1] * ne[2] * ne[3];
        }
        for (int j = 0; j < nh; j++) {
            char part[64];
            snprintf(part, sizeof part, "%s%s %.1f%%", j ? ", " : "", h[j].type, info.n_params ? 100.0 * h[j].elems / info.n_params : 0.0);
            strncat(mix, part, sizeof mix - strlen(mix) - 1);
        }
    }
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    struct stat fst;
    const uint64_t file_bytes = stat(bo.o.model, &fst) == 0 ? (uint64_t)fst.st_size : 0;
    const int n_threads = bo.o.n_threads > 0 ? bo.o.n_threads : mi.physical_cores;

    if (bo.json) {
        FILE *o = stdout;
        fprintf(o, "{\"hearth_version\": \"%s\", \"date\": \"%s\", \"model\": ", HEARTH_VERSION, date);
        json_str(o, bo.o.model);
        fprintf(o, ", \"model_name\": ");
        json_str(o, info.name);
        fprintf(o, ", \"synthetic\": ");
        if (bo.synthetic) json_str(o, bo.synthetic); else fprintf(o, "null");
        fprintf(o, ", \"synthetic_type\": ");
        if (bo.synthetic) json_str(o, bo.type); else fprintf(o, "null");
        fprintf(o, ", \"arch\": ");
        json_str(o, info.arch);
        fprintf(o, ", \"type_mix\": ");
        json_str(o, mix);
        fprintf(o, ", \"n_params\": %llu, \"model_bytes\": %llu, \"file_bytes\": %llu",
                (unsigned long long)info.n_params, (unsigned long long)info.n_bytes, (unsigned long long)file_bytes);
        fprintf(o, ", \"n_threads\": %d, \"n_ctx\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, \"n_warmup\": %d",
                n_threads, hearth_session_n_ctx(s), bo.n_prompt, bo.n_gen, bo.reps, bo.n_warmup);
        fprintf(o, ", \"pp_tok_s\": %.4f, \"pp_tok_s_min\": %.4f, \"pp_tok_s_max\": %.4f, \"pp_tok_s_all\": [",
                pps.median, pps.min, pps.max);
        for (int r = 0; r < bo.reps && bo.n_prompt > 0; r++) fprintf(o, "%s%.4f", r ? ", " : "", pp[r]);
        fprintf(o, "], \"tg_tok_s\": %.4f, \"tg_tok_s_min\": %.4f, \"tg_tok_s_max\": %.4f, \"tg_tok_s_all\": [",
                tgs.median, tgs.min, tgs.max);
        for (int r = 0; r < bo.reps && bo.n_gen > 0; r++) fprintf(o, "%s%.4f", r ? ", " : "", tg[r]);
        fprintf(o, "], \"ttft_s\": %.6f, \"load_s\": %.6f, \"session_s\": %.6f", ttft_s, load_s, session_s);
        fprintf(o, ", \"peak_rss_bytes\": %llu, \"vm_hwm_bytes\": %llu", (unsigned long long)peak_rss,
                (unsigned long long)hwm);
        json_bytes(o, "rss_anon_bytes", rss_anon);
        json_bytes(o, "rss_file_bytes", rss_file);
        fprintf(o, ", \"cpu_s_per_token\": %.6f", cpu_per_tok);
        if (j_per_tok >= 0) fprintf(o, ", \"joules_per_token\": %.6f, \"energy\": \"rapl\"", j_per_tok);
        else fprintf(o, ", \"joules_per_token\": null, \"energy\": \"unavailable: %s is not readable\"", RAPL "energy_uj");
        fprintf(o, ", \"decode_bytes_per_token\": %llu, \"tg_bandwidth_gb_s\": %.4f", (unsigned long long)decode_bytes, bw);
        fprintf(o, ", \"machine\": {\"cpu\": ");
        json_str(o, mi.cpu);
        fprintf(o, ", \"physical_cores\": %d, \"logical_cpus\": %d, \"cpu_flags\": ", mi.physical_cores, mi.logical_cpus);
        json_str(o, mi.flags);
        fprintf(o, ", \"build_isa\": ");
        json_str(o, hearth_build_isa());
        fprintf(o, ", \"mem_total_bytes\": %llu, \"kernel\": ", (unsigned long long)mi.mem_total);
        json_str(o, mi.kernel);
        fprintf(o, ", \"loadavg_1m_start\": %.2f, \"loadavg_1m_end\": %.2f}}\n", load_avg_start, load_avg_end);
    } else {
        printf("model:      %s\n", bo.o.model);
        printf("            %s, %s, %.3f B params, %.2f GB of weights (%s)\n", info.arch, *info.name ? info.name : "-",
               info.n_params / 1e9, info.n_bytes / 1e9, mix);
        printf("machine:    %s, %d cores / %d CPUs, %.1f GiB; CPU: %s; build: %s\n", mi.cpu, mi.physical_cores,
               mi.logical_cpus, mi.mem_total / 1073741824.0, mi.flags, hearth_build_isa());
        printf("settings:   %d threads, context %d, %d reps; load average %.2f at start, %.2f at end%s\n\n", n_threads,
               hearth_session_n_ctx(s), bo.reps, load_avg_start, load_avg_end,
               load_avg_end > mi.logical_cpus * 0.5 + n_threads ? " (busy machine: numbers are low)" : "");
        printf("%-10s %12s %12s %12s\n", "test", "median", "min", "max");
        if (bo.n_prompt > 0) printf("pp%-8d %8.2f t/s %8.2f t/s %8.2f t/s\n", bo.n_prompt, pps.median, pps.min, pps.max);
        if (bo.n_gen > 0) printf("tg%-8d %8.2f t/s %8.2f t/s %8.2f t/s\n", bo.n_gen, tgs.median, tgs.min, tgs.max);
        printf("\nload:       %.3f s (file mapped; pages are read by the first prompt)\n", load_s);
        printf("first token: %.3f s after load start (prompt of %d tokens, cold)\n", ttft_s, bo.n_warmup);
        printf("peak RSS:   %.1f MB (VmHWM %.1f MB); at the end %.1f MB process memory + %.1f MB mapped file\n",
               peak_rss / 1e6, hwm / 1e6, rss_anon / 1e6, rss_file / 1e6);
        if (bo.n_gen > 0) {
            printf("CPU time:   %.4f s per generated token\n", cpu_per_tok);
            if (j_per_tok >= 0) printf("energy:     %.4f J per generated token (RAPL package 0)\n", j_per_tok);
            else printf("energy:     unavailable (%senergy_uj is not readable)\n", RAPL);
            printf("bandwidth:  %.2f GB/s in generation (%.3f GB of weights read per token)\n", bw, decode_bytes / 1e9);
        }
    }
    free(tokens);
    free(pp);
    free(tg);
    hearth_session_free(s);
    hearth_model_free(model);
    return EXIT_OK;
}
