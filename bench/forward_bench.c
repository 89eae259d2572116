/* forward_bench.c — whole-model speed through the public API: prompt processing (one batch of P tokens) and
 * decoding (N single-token evals), median of R runs, in tokens per second. Built on demand (`make bench`):
 *   ./build/bench/forward_bench MODEL.gguf [-p P (64)] [-n N (16)] [-t THREADS] [-r R (3)]
 * The prompt is token ids 1..P (speed does not depend on the ids). HEARTH_ISA picks the kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hearth.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: forward_bench MODEL [-p P] [-n N] [-t T] [-r R]\n"); return 2; }
    int P = 64, N = 16, T = 0, R = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-p")) P = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-n")) N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) R = atoi(argv[i + 1]);
    }
    if (R < 1) R = 1;
    if (R > 15) R = 15;
    hearth_model *m = hearth_model_load(argv[1], NULL);
    if (!m) { fprintf(stderr, "load: %s\n", hearth_last_error()); return 1; }
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)P);
    for (int i = 0; i < P; i++) prompt[i] = 1 + i;
    double pp[16], tg[16];
    for (int r = 0; r < R; r++) {
        hearth_session_params sp = {.n_threads = T, .n_ctx = P + N + 8, .n_batch = P};
        hearth_session *s = hearth_session_new(m, &sp);
        if (!s) { fprintf(stderr, "session: %s\n", hearth_last_error()); return 1; }
        double t0 = now();
        if (hearth_session_eval(s, prompt, P, NULL) != 0) { fprintf(stderr, "eval: %s\n", hearth_last_error()); return 1; }
        pp[r] = P / (now() - t0);
        t0 = now();
        for (int i = 0; i < N; i++) {
            int32_t tok = 1 + i;
            if (hearth_session_eval(s, &tok, 1, NULL) != 0) { fprintf(stderr, "eval: %s\n", hearth_last_error()); return 1; }
        }
        tg[r] = N / (now() - t0);
        hearth_session_free(s);
    }
    qsort(pp, (size_t)R, sizeof(double), cmp);
    qsort(tg, (size_t)R, sizeof(double), cmp);
    printf("%s: prompt %d tokens %.1f tok/s, decode %d tokens %.1f tok/s (median of %d, threads %d)\n", argv[1], P,
           pp[R / 2], N, tg[R / 2], R, T);
    hearth_model_free(m);
    free(prompt);
    return 0;
}
