/* threadpool.c — persistent workers; a generation counter announces each job, an atomic counter hands out
 * task indices, and workers spin for a while before waiting on a condition variable. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation;
    atomic_int next_task;
    atomic_int workers_done;
    atomic_bool stop;
    /* the current job */
    pool_task_fn fn;
    void *arg;
    int n_tasks;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static void run_tasks(threadpool *p) {
    int i;
    while ((i = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed)) < p->n_tasks) p->fn(p->arg, i);
}

static void *worker_main(void *vp) {
    threadpool *p = vp;
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen) {
            if (++spins < 20000) { cpu_relax(); continue; }
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = gen;
        if (atomic_load(&p->stop)) break;
        run_tasks(p);
        atomic_fetch_add_explicit(&p->workers_done, 1, memory_order_release);
    }
    return NULL;
}

threadpool *pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!p->threads) { free(p); return NULL; }
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            p->n_threads = i; /* run with what we got */
            break;
        }
    }
    return p;
}

void pool_free(threadpool *p) {
    if (!p) return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int pool_size(const threadpool *p) { return p ? p->n_threads : 1; }

void pool_for(threadpool *p, int n, pool_task_fn fn, void *arg) {
    if (n <= 0) return;
    if (!p || p->n_threads == 1 || n == 1) {
        for (int i = 0; i < n; i++) fn(arg, i);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->workers_done, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p);
    while (atomic_load_explicit(&p->workers_done, memory_order_acquire) < p->n_threads - 1) cpu_relax();
}

int cpu_physical_cores(void) {
    /* count distinct (physical id, core id) pairs in /proc/cpuinfo */
    FILE *fp = fopen("/proc/cpuinfo", "r");
    int n_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_online < 1) n_online = 1;
    if (!fp) return n_online;
    char line[256];
    int phys = 0, seen = 0;
    long pairs[1024];
    while (fgets(line, sizeof line, fp)) {
        int v;
        if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
        else if (sscanf(line, "core id : %d", &v) == 1) {
            long key = (long)phys * 65536 + v;
            int dup = 0;
            for (int i = 0; i < seen; i++) if (pairs[i] == key) { dup = 1; break; }
            if (!dup && seen < 1024) pairs[seen++] = key;
        }
    }
    fclose(fp);
    return seen > 0 && seen <= n_online ? seen : n_online;
}
