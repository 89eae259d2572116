/* kernels.c — which kernel implementation runs: the best one this CPU supports (cpuid on x86, AT_HWCAP on
 * aarch64), chosen once, or the one HEARTH_ISA names. Also the table of how each quantized type maps onto the
 * packed integer form (kernels.h). */
#include "kernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

/* center: the middle of the code range (weights become code - center); a min, where present, absorbs the
 * difference (kernels_portable.c's unpackers). */
static const qtype_desc qtypes[T_COUNT] = {
    [T_Q4_0] = {true, false, false, 8, 3},    [T_Q4_1] = {true, false, true, 8, 3},
    [T_Q5_0] = {true, false, false, 16, 4},   [T_Q5_1] = {true, false, true, 16, 4},
    [T_Q8_0] = {true, false, false, 128, 7},  [T_Q2_K] = {true, true, true, 2, 1},
    [T_Q3_K] = {true, true, false, 4, 2},     [T_Q4_K] = {true, false, true, 8, 3},
    [T_Q5_K] = {true, false, true, 16, 4},    [T_Q6_K] = {true, true, false, 32, 5},
};

const qtype_desc *qtype_get(uint32_t type) { return type < T_COUNT && qtypes[type].ok ? &qtypes[type] : NULL; }

#if defined(__x86_64__) || defined(__i386__)
static bool cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static bool cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni") && cpu_has_avx2();
}
#endif

/* Every implementation compiled in and runnable here, in order of preference (worst first). */
int kernels_supported(const kernel_ops **out) {
    int n = 0;
    out[n++] = &kernels_portable;
#if defined(__x86_64__) || defined(__i386__)
    if (kernels_avx2() && cpu_has_avx2()) out[n++] = kernels_avx2();
    if (kernels_avx512() && cpu_has_avx512()) out[n++] = kernels_avx512();
#elif defined(__aarch64__)
    if (kernels_neon()) out[n++] = kernels_neon();
#if defined(__linux__)
    if (kernels_dotprod() && (getauxval(AT_HWCAP) & HWCAP_ASIMDDP)) out[n++] = kernels_dotprod();
#endif
#endif
    return n;
}

static const kernel_ops *active;
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static const kernel_ops *find(const char *name) {
    const kernel_ops *all[8];
    int n = kernels_supported(all);
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

static void choose(void) {
    const kernel_ops *all[8];
    int n = kernels_supported(all);
    active = all[n - 1];
    const char *want = getenv("HEARTH_ISA");
    if (want && *want) {
        const kernel_ops *k = find(want);
        if (k) active = k;
        else fprintf(stderr, "hearth: HEARTH_ISA=%s is not available on this CPU; using %s\n", want, active->name);
    }
}

const kernel_ops *kernels_active(void) {
    pthread_once(&active_once, choose);
    return active;
}

bool kernels_use(const char *name) {
    pthread_once(&active_once, choose);
    const kernel_ops *k = find(name);
    if (k) active = k;
    return k != NULL;
}

/* Architectures' entry points that are not compiled here. */
#if !defined(__x86_64__) && !defined(__i386__)
const kernel_ops *kernels_avx2(void) { return NULL; }
const kernel_ops *kernels_avx512(void) { return NULL; }
#endif
#if !defined(__aarch64__)
const kernel_ops *kernels_neon(void) { return NULL; }
const kernel_ops *kernels_dotprod(void) { return NULL; }
#endif
