/* kernels_bench.c — speed of matmul per weight type, shape and ISA, and of the thread pool's pool_for.
 * Built on demand: `make bench`, then ./build/bench/kernels_bench [options]:
 *   --isa a,b      ISAs to run (default: all this CPU supports)
 *   --types a,b    weight types (default Q4_0,Q4_K,Q5_K,Q6_K,Q8_0,F16,BF16,F32)
 *   --tok a,b      token counts (default 1,64,512)
 *   --shapes RxC,..  rows x cols (default 1536x1536,6144x1536,1536x6144,262144x1536)
 *   --threads N    (default: physical cores)     --reps N   timed runs per case, median reported (default 5)
 *   --baselines 0  skip the pool_for and memory-read baselines
 * n_tok = 1 reports GB/s of weight bytes read (decode is bound by memory); larger n_tok reports GFLOP/s
 * (2 * rows * cols * n_tok per call). The "cpu" column divides the same work by the process's CPU time per
 * thread instead of wall time: on a machine shared with other jobs it estimates the idle-machine speed
 * (it counts spinning as work, so it never flatters). Also prints a memory-read baseline and pool_for latency. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kernels.h"
#include "matmul.h"
#include "quant.h"
#include "threadpool.h"
#include "types.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void) { /* CPU time of the whole process: what we actually got of the machine */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- memory bandwidth baseline: every thread sums its share of a large buffer ---- */
typedef struct { const uint64_t *p; size_t n; int parts; uint64_t sink[64]; } membw_job;
static void membw_task(void *arg, int i) {
    membw_job *j = arg;
    size_t per = j->n / (size_t)j->parts;
    const uint64_t *p = j->p + per * (size_t)i;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t k = 0; k < per; k += 4) s0 += p[k], s1 += p[k + 1], s2 += p[k + 2], s3 += p[k + 3];
    j->sink[i % 64] = s0 + s1 + s2 + s3;
}

static void bench_memory(threadpool *pool, int reps) {
    const size_t bytes = (size_t)1 << 30;
    uint64_t *buf = malloc(bytes);
    memset(buf, 1, bytes);
    membw_job j = {buf, bytes / 8, pool_size(pool), {0}};
    double t[32];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        pool_for(pool, j.parts, membw_task, &j);
        t[r] = now() - t0;
    }
    printf("memory read, %d threads: %.1f GB/s (median of %d)\n", pool_size(pool), bytes / median(t, reps) / 1e9, reps);
    free(buf);
}

/* ---- pool_for latency ---- */
static void empty_task(void *arg, int i) { (void)arg, (void)i; }

static void bench_pool(threadpool *pool) {
    for (int n_tasks = 2; n_tasks <= 16; n_tasks *= 8) {
        double t[7];
        const int calls = 200000;
        for (int r = 0; r < 7; r++) {
            double t0 = now();
            for (int c = 0; c < calls; c++) pool_for(pool, n_tasks, empty_task, NULL);
            t[r] = (now() - t0) / calls;
        }
        printf("pool_for(%2d empty tasks), %d threads: %.0f ns per call (median of 7 x %d)\n", n_tasks,
               pool_size(pool), median(t, 7) * 1e9, calls);
    }
}

/* ---- matmul ---- */
static uint8_t *make_weights(uint32_t type, int64_t rows, int64_t cols, uint64_t *row_bytes) {
    const type_traits *tt = type_get(type);
    *row_bytes = type_row_bytes(tt, (uint64_t)cols);
    /* 2 MB aligned and advised as huge pages, as the engine's weights are (the file mapping) */
    const size_t bytes = (*row_bytes * (size_t)rows + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    uint8_t *w = aligned_alloc(2u << 20, bytes);
    if (!w) return NULL;
    madvise(w, bytes, MADV_HUGEPAGE);
    /* 16 distinct quantized rows of Gaussian-ish data, repeated (the values do not change the speed) */
    const int64_t distinct = rows < 16 ? rows : 16;
    float *src = malloc(sizeof(float) * (size_t)cols);
    uint64_t s = 12345;
    for (int64_t r = 0; r < distinct; r++) {
        for (int64_t c = 0; c < cols; c++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            src[c] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
        }
        quantize_row(type, src, w + (uint64_t)r * *row_bytes, cols);
    }
    for (int64_t r = distinct; r < rows; r++) memcpy(w + (uint64_t)r * *row_bytes, w + (uint64_t)(r % distinct) * *row_bytes, *row_bytes);
    free(src);
    return w;
}

static int split(const char *s, char out[][32], int cap) {
    int n = 0;
    while (s && *s && n < cap) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        snprintf(out[n++], 32, "%.*s", (int)len, s);
        s = e ? e + 1 : NULL;
    }
    return n;
}

static uint32_t type_by_name(const char *name) {
    for (uint32_t t = 0; t < T_COUNT; t++)
        if (type_get(t) && !strcmp(type_get(t)->name, name)) return t;
    return UINT32_MAX;
}

int main(int argc, char **argv) {
    const char *isa_arg = NULL, *type_arg = "Q4_0,Q4_K,Q5_K,Q6_K,Q8_0,F16,BF16,F32", *tok_arg = "1,64,512";
    const char *shape_arg = "1536x1536,6144x1536,1536x6144,262144x1536";
    int threads = cpu_physical_cores(), reps = 5, baselines = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--isa")) isa_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--types")) type_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--tok")) tok_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--shapes")) shape_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--baselines")) baselines = atoi(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (reps < 1) reps = 1;
    if (reps > 31) reps = 31;
    threadpool *pool = pool_new(threads);
    if (baselines) {
        bench_pool(pool);
        bench_memory(pool, reps);
    }

    char isas[8][32], types[16][32], toks[8][32], shapes[8][32];
    int n_isa = 0;
    if (isa_arg) n_isa = split(isa_arg, isas, 8);
    else {
        const kernel_ops *all[8];
        int n = kernels_supported(all);
        for (int i = 0; i < n; i++) snprintf(isas[n_isa++], 32, "%s", all[i]->name);
    }
    int n_type = split(type_arg, types, 16), n_tok = split(tok_arg, toks, 8), n_shape = split(shape_arg, shapes, 8);

    printf("%-9s %-5s %15s %5s %10s %15s %s\n", "isa", "type", "rows x cols", "n_tok", "ms", "speed", "(per CPU time)");
    for (int si = 0; si < n_shape; si++) {
        long long rows = 0, cols = 0;
        if (sscanf(shapes[si], "%lldx%lld", &rows, &cols) != 2) continue;
        for (int ti = 0; ti < n_type; ti++) {
            uint32_t type = type_by_name(types[ti]);
            if (type == UINT32_MAX) { fprintf(stderr, "unknown type %s\n", types[ti]); continue; }
            uint64_t row_bytes;
            uint8_t *w = make_weights(type, rows, cols, &row_bytes);
            if (!w) { fprintf(stderr, "out of memory for %s %lldx%lld\n", types[ti], rows, cols); continue; }
            for (int ki = 0; ki < n_tok; ki++) {
                int nt = atoi(toks[ki]);
                float *x = malloc(sizeof(float) * (size_t)(cols * nt)), *y = malloc(sizeof(float) * (size_t)(rows * nt));
                for (long long i = 0; i < cols * nt; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
                const double flop = 2.0 * (double)rows * (double)cols * nt;
                for (int ii = 0; ii < n_isa; ii++) {
                    if (!kernels_use(isas[ii])) { fprintf(stderr, "ISA %s not available\n", isas[ii]); continue; }
                    /* enough calls per timed run for ~0.2 s, at least one */
                    double t0 = now();
                    matmul(pool, w, type, rows, cols, row_bytes, x, cols, nt, y, rows);
                    double once = now() - t0;
                    int calls = once > 0.2 ? 1 : (int)(0.2 / (once + 1e-9)) + 1;
                    if (nt >= 64 && calls > 3 && once > 0.05) calls = 3;
                    double t[32], tc[32];
                    for (int r = 0; r < reps; r++) {
                        t0 = now();
                        const double c0 = cpu_now();
                        for (int c = 0; c < calls; c++) matmul(pool, w, type, rows, cols, row_bytes, x, cols, nt, y, rows);
                        t[r] = (now() - t0) / calls;
                        tc[r] = (cpu_now() - c0) / calls / pool_size(pool);
                    }
                    const double sec = median(t, reps), csec = median(tc, reps);
                    const double work = nt == 1 ? (double)row_bytes * rows : flop;
                    printf("%-9s %-5s %7lldx%-7lld %5d %10.3f %7.1f %-7s (cpu %7.1f)\n", isas[ii], types[ti], rows, cols, nt,
                           sec * 1e3, work / sec / 1e9, nt == 1 ? "GB/s" : "GFLOP/s", work / csec / 1e9);
                    fflush(stdout);
                }
                free(x), free(y);
            }
            free(w);
        }
    }
    pool_free(pool);
    return 0;
}
