/* The kernels' thread pool: a call never waits for a thread that has not started.
 *
 * OpenMP's fork/join makes the calling thread wait at the end of each parallel
 * region for every team thread, including one the OS has not scheduled yet; on a
 * busy machine each call then pays scheduling delays of milliseconds. Here the
 * calling thread starts on the work at once; helper threads join a job only if
 * they get a core while it is open, and the caller waits only for helpers that
 * joined and are finishing a chunk.
 *
 * ssimfast_pool_run(task, ctx, n, chunk, workers):
 *   runs task(ctx, lo, hi, slot) over [0, n) in chunks of `chunk` consecutive
 *   items, claimed with an atomic fetch-add, by the caller (slot 0) and at most
 *   workers - 1 helpers (slots 1 .. workers - 1, one per participant, for
 *   per-worker scratch). Which participant takes which chunk varies from call to
 *   call: tasks must give the same bits whoever computes a chunk.
 *
 * One pool per process (per kernel module): at most cores - 1 helpers whatever
 * the number of Python threads calling, created lazily, sleeping on a condition
 * variable when there is no open job (no busy-waiting). Several jobs may be open
 * at once (calls from several Python threads); a helper serves any of them.
 * After fork() the child starts with an empty pool (its helpers did not survive).
 * If a helper thread cannot be created the caller simply does more of the work
 * itself: the result is the same, only slower.
 */
#ifndef SSIMFAST_POOL_H
#define SSIMFAST_POOL_H

#include <stddef.h>
#include <string.h>

/* `tag` is always NULL: it lets Cython specialise tasks on a pixel type. */
typedef void (*ssimfast_task)(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int slot, const void *tag);

#ifdef _WIN32
#include <windows.h>
#include <process.h>
typedef CRITICAL_SECTION sf_mutex;
typedef CONDITION_VARIABLE sf_cond;
#define sf_mutex_init(m) InitializeCriticalSection(m)
#define sf_lock(m) EnterCriticalSection(m)
#define sf_unlock(m) LeaveCriticalSection(m)
#define sf_cond_init(c) InitializeConditionVariable(c)
#define sf_cond_wait(c, m) SleepConditionVariableCS(c, m, INFINITE)
#define sf_cond_signal(c) WakeConditionVariable(c)
#define sf_cond_broadcast(c) WakeAllConditionVariable(c)
static Py_ssize_t sf_fetch_add(volatile Py_ssize_t *p, Py_ssize_t v) {
#ifdef _WIN64
    return (Py_ssize_t)InterlockedExchangeAdd64((volatile LONG64 *)p, (LONG64)v);
#else
    return (Py_ssize_t)InterlockedExchangeAdd((volatile LONG *)p, (LONG)v);
#endif
}
#define sf_load(p) (*(p))
#else
#include <pthread.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif
typedef pthread_mutex_t sf_mutex;
typedef pthread_cond_t sf_cond;
#define sf_mutex_init(m) pthread_mutex_init(m, NULL)
#define sf_lock(m) pthread_mutex_lock(m)
#define sf_unlock(m) pthread_mutex_unlock(m)
#define sf_cond_init(c) pthread_cond_init(c, NULL)
#define sf_cond_wait(c, m) pthread_cond_wait(c, m)
#define sf_cond_signal(c) pthread_cond_signal(c)
#define sf_cond_broadcast(c) pthread_cond_broadcast(c)
#define sf_fetch_add(p, v) __atomic_fetch_add(p, v, __ATOMIC_RELAXED)
#define sf_load(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#endif

typedef struct sf_job {
    ssimfast_task task;
    void *ctx;
    Py_ssize_t n, chunk;
    volatile Py_ssize_t next;  /* first item of the next chunk (atomic) */
    int slots, max_slots;      /* slots handed out; under the pool's mutex */
    int active;                /* helpers inside the job; under the mutex */
    int open;                  /* still taking helpers; under the mutex */
    sf_cond done;              /* the caller waits here for active == 0 */
    struct sf_job *prev, *next_job;  /* the open jobs' list */
} sf_job;

static struct {
    int ready;
    sf_mutex lock;
    sf_cond wake;       /* idle helpers sleep here */
    sf_job *jobs;       /* open jobs, oldest first */
    int helpers;        /* helper threads started */
    int idle;           /* helpers waiting on `wake` */
    int cap;            /* most helpers the pool starts: cores - 1 */
    int failed;         /* a helper could not be created: start no more */
    volatile Py_ssize_t helper_chunks;  /* chunks run by helpers (atomic): for tests */
} sf_pool;

/* For tests: set to make every thread creation fail (the caller then does the
   whole job). */
static int sf_pool_no_threads = 0;

static int sf_cores(void) {
#ifdef _WIN32
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n > 0 ? (int)n : 1;
#else
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
#endif
}

/* Runs chunks of `job` until none is left; returns how many it ran. */
static Py_ssize_t sf_work(sf_job *job, int slot) {
    Py_ssize_t lo, hi, done = 0;
    for (;; done++) {
        lo = sf_fetch_add(&job->next, job->chunk);
        if (lo >= job->n)
            return done;
        hi = lo + job->chunk < job->n ? lo + job->chunk : job->n;
        job->task(job->ctx, lo, hi, slot, NULL);
    }
}

/* An open job with work and a free slot, or NULL. Under the mutex. */
static sf_job *sf_find(void) {
    sf_job *job;
    for (job = sf_pool.jobs; job != NULL; job = job->next_job) {
        if (job->slots < job->max_slots && sf_load(&job->next) < job->n)
            return job;
    }
    return NULL;
}

#ifdef _WIN32
static unsigned __stdcall sf_helper(void *arg)
#else
static void *sf_helper(void *arg)
#endif
{
    sf_job *job;
    int slot;
    (void)arg;
    sf_lock(&sf_pool.lock);
    for (;;) {
        job = sf_find();
        if (job == NULL) {
            sf_pool.idle++;
            sf_cond_wait(&sf_pool.wake, &sf_pool.lock);
            sf_pool.idle--;
            continue;
        }
        slot = job->slots++;
        job->active++;
        sf_unlock(&sf_pool.lock);
        sf_fetch_add(&sf_pool.helper_chunks, sf_work(job, slot));
        sf_lock(&sf_pool.lock);
        if (--job->active == 0 && !job->open)
            sf_cond_signal(&job->done);
    }
#ifndef __GNUC__
    return 0;  /* not reached */
#endif
}

static int sf_start_helper(void) {
    if (sf_pool_no_threads)
        return -1;
#ifdef _WIN32
    uintptr_t h = _beginthreadex(NULL, 0, sf_helper, NULL, 0, NULL);
    if (h == 0)
        return -1;
    CloseHandle((HANDLE)h);
    return 0;
#else
    pthread_t t;
    pthread_attr_t attr;
    int err;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&t, &attr, sf_helper, NULL);
    pthread_attr_destroy(&attr);
    return err == 0 ? 0 : -1;
#endif
}

static void sf_pool_reset(void) {
    /* Also the fork child's handler: the helpers are gone, and the parent's
       open jobs belong to threads that do not exist here. */
    sf_mutex_init(&sf_pool.lock);
    sf_cond_init(&sf_pool.wake);
    sf_pool.jobs = NULL;
    sf_pool.helpers = 0;
    sf_pool.idle = 0;
    sf_pool.failed = 0;
}

#ifndef _WIN32
static void sf_before_fork(void) { sf_lock(&sf_pool.lock); }
static void sf_after_fork_parent(void) { sf_unlock(&sf_pool.lock); }
#endif

/* Once, with the GIL held (module import), so no other thread races it. */
static int ssimfast_pool_init(void) {
    if (sf_pool.ready)
        return 0;
    sf_pool_reset();
    sf_pool.cap = sf_cores() - 1;
#ifndef _WIN32
    if (pthread_atfork(sf_before_fork, sf_after_fork_parent, sf_pool_reset) != 0)
        return -1;
#endif
    sf_pool.ready = 1;
    return 0;
}

static void ssimfast_pool_run(ssimfast_task task, void *ctx, Py_ssize_t n, Py_ssize_t chunk,
                              int workers) {
    sf_job job;
    int want, i;
    if (n <= 0)
        return;
    if (chunk < 1)
        chunk = 1;
    if (workers > (n + chunk - 1) / chunk)
        workers = (int)((n + chunk - 1) / chunk);
    if (workers <= 1 || !sf_pool.ready || sf_pool.cap < 1) {
        task(ctx, 0, n, 0, NULL);  /* nothing to share: no locks, nobody woken */
        return;
    }
    memset(&job, 0, sizeof(job));
    job.task = task;
    job.ctx = ctx;
    job.n = n;
    job.chunk = chunk;
    job.slots = 1;  /* slot 0 is the caller's */
    job.max_slots = workers;
    job.open = 1;
    sf_cond_init(&job.done);

    sf_lock(&sf_pool.lock);
    job.next_job = sf_pool.jobs;  /* newest first: helpers take fresh jobs */
    if (sf_pool.jobs != NULL)
        sf_pool.jobs->prev = &job;
    sf_pool.jobs = &job;
    want = workers - 1;
    /* Wake sleeping helpers first; start new ones (up to the cap) only for what
       the sleeping ones cannot cover. */
    for (i = 0; i < want && i < sf_pool.idle; i++)
        sf_cond_signal(&sf_pool.wake);
    while (want > sf_pool.idle && sf_pool.helpers < sf_pool.cap && !sf_pool.failed) {
        if (sf_start_helper() != 0) {
            sf_pool.failed = 1;
            break;
        }
        sf_pool.helpers++;
        want--;
    }
    sf_unlock(&sf_pool.lock);

    sf_work(&job, 0);

    sf_lock(&sf_pool.lock);
    job.open = 0;
    if (job.prev != NULL)
        job.prev->next_job = job.next_job;
    else
        sf_pool.jobs = job.next_job;
    if (job.next_job != NULL)
        job.next_job->prev = job.prev;
    while (job.active > 0)
        sf_cond_wait(&job.done, &sf_pool.lock);
    sf_unlock(&sf_pool.lock);
#ifndef _WIN32
    pthread_cond_destroy(&job.done);
#endif
}

static int ssimfast_pool_helpers(void) { return sf_pool.helpers; }
static int ssimfast_pool_cap(void) { return sf_pool.cap; }
static Py_ssize_t ssimfast_pool_helper_chunks(void) { return sf_load(&sf_pool.helper_chunks); }

/* Tests: refuse (or allow again) to create helper threads. */
static void ssimfast_pool_refuse_threads(int refuse) {
    sf_lock(&sf_pool.lock);
    sf_pool_no_threads = refuse;
    sf_pool.failed = 0;
    sf_unlock(&sf_pool.lock);
}

#endif
