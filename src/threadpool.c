/* threadpool.c — persistent workers. Each job is announced by a new generation in the high half of a 64-bit
 * ticket whose low half is the next task index; threads (the caller included) claim tasks by compare-and-swap
 * on the ticket, so a task runs only while its job is current, and the caller waits for tasks completed, not
 * for every worker to show up: a worker the OS has descheduled (or that is asleep) costs nothing, the
 * others take its share. Workers spin for a while before waiting on a condition variable, and the caller
 * takes the mutex to signal only when some worker is actually asleep, so back-to-back jobs (decode) cost a
 * few cache-line transfers, not a system call. */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SPIN_LIMIT = 20000 }; /* pause instructions (a few hundred microseconds) before sleeping */

struct threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t ticket; /* generation << 32 | next task index */
    uint32_t generation;     /* the caller's copy */
    atomic_int tasks_done;
    atomic_int sleepers; /* workers waiting (or about to wait) on cv */
    atomic_bool stop;
    /* the current job: written before its generation is published, read before a task is claimed */
    _Atomic(pool_task_fn) fn;
    _Atomic(void *) arg;
    atomic_int n_tasks;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Claim and run tasks of job `gen` until none is left (or the job is over). A claim succeeds only while the
 * ticket still belongs to gen, so fn, arg and n_tasks read before it were that job's. */
static void run_tasks(threadpool *p, uint32_t gen) {
    uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != gen) return;
        const pool_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&p->arg, memory_order_relaxed);
        const uint32_t i = (uint32_t)t, n = (uint32_t)atomic_load_explicit(&p->n_tasks, memory_order_relaxed);
        if (i >= n) return;
        if (atomic_compare_exchange_weak_explicit(&p->ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
            fn(arg, (int)i);
            atomic_fetch_add_explicit(&p->tasks_done, 1, memory_order_release);
            t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        }
    }
}

static void *worker_main(void *vp) {
    threadpool *p = vp;
    uint32_t seen = 0;
    for (;;) {
        uint32_t gen;
        int spins = 0;
        while ((gen = (uint32_t)(atomic_load_explicit(&p->ticket, memory_order_acquire) >> 32)) == seen) {
            if (++spins < SPIN_LIMIT) { cpu_relax(); continue; }
            /* Announce the sleep before the final check (both sequentially consistent): either the caller
             * sees sleepers > 0 and signals, or this check sees the new generation. */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((uint32_t)(atomic_load(&p->ticket) >> 32) == seen) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        seen = gen;
        if (atomic_load(&p->stop)) break;
        run_tasks(p, gen);
    }
    return NULL;
}

/* Publish a new job (or the stop request) and wake sleepers. */
static uint32_t publish(threadpool *p) {
    const uint32_t gen = ++p->generation;
    atomic_store(&p->ticket, (uint64_t)gen << 32); /* sequentially consistent: pairs with the sleepers check */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return gen;
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
    publish(p);
    pthread_mutex_lock(&p->mu); /* a worker between its last check and the wait holds the mutex */
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
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&p->n_tasks, n, memory_order_relaxed);
    atomic_store_explicit(&p->tasks_done, 0, memory_order_relaxed);
    const uint32_t gen = publish(p);
    run_tasks(p, gen);
    while (atomic_load_explicit(&p->tasks_done, memory_order_acquire) < n) cpu_relax();
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
