/* threadpool.h — a persistent pool of worker threads for the forward pass.
 * pool_for(pool, n, fn, arg) runs fn(arg, i) for every i in [0, n) on the pool's threads and the caller,
 * and returns when all are done. Decode makes thousands of such calls a second, so workers spin briefly
 * before sleeping. One caller at a time per pool. */
#ifndef HEARTH_THREADPOOL_H
#define HEARTH_THREADPOOL_H

typedef struct threadpool threadpool;
typedef void (*pool_task_fn)(void *arg, int i);

threadpool *pool_new(int n_threads); /* n_threads counts the caller; 1 means no extra threads */
void pool_free(threadpool *pool);
int pool_size(const threadpool *pool);
void pool_for(threadpool *pool, int n, pool_task_fn fn, void *arg);

/* Physical cores of this machine (falls back to online CPUs). */
int cpu_physical_cores(void);

#endif
