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
 * ssimfast_pool_run_stealing(...): the same, for tasks that cost no more run
 *   one item at a time: a participant takes its chunk's items one by one, and
 *   the caller, once no chunk is left, takes the back half of what a helper has
 *   not started (again and again) instead of waiting for it. The caller then
 *   waits at most for the item a helper is running.
 *
 * One pool per process (per kernel module): at most cores - 1 helpers whatever
 * the number of Python threads calling, created lazily, sleeping on a condition
 * variable when there is no open job (no busy-waiting). Several jobs may be open
 * at once (calls from several Python threads); a helper serves any of them. A
 * caller runs its task alone (no mutex, nobody woken, nobody waited for) when
 * other threads' calls are already running on cores - 1 or more cores, or when
 * a job is open and no helper is asleep (another call has them all).
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

/* A participant's chunk in a job that allows stealing: items [lo, hi) not
   yet started. The holder takes them one at a time from the front; the
   caller, once no chunk is left, takes the back half (again and again) of a
   helper's, so that it does not wait for a helper the OS has preempted with
   most of its chunk still to do. A mutex per record: taken once per item,
   uncontended but for a steal. */
typedef struct {
    sf_mutex lock;
    Py_ssize_t lo, hi;
} sf_claim;

/* Most participants whose chunks can be stolen from (more run without). */
#define SF_STEAL_SLOTS 64

typedef struct sf_job {
    ssimfast_task task;
    void *ctx;
    Py_ssize_t n, chunk;
    volatile Py_ssize_t next;  /* first item of the next chunk (atomic) */
    sf_claim *claims;          /* per slot, or NULL: no stealing */
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
    volatile Py_ssize_t stolen;         /* items the callers stole (atomic): for tests */
    volatile Py_ssize_t callers;        /* threads inside ssimfast_pool_run* (atomic) */
} sf_pool;

/* For tests: microseconds a helper sleeps after taking a chunk of a job that
   allows stealing (as if the OS had preempted it), so that the caller steals. */
static volatile int sf_pool_helper_delay_us = 0;

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

static void sf_sleep_us(int us) {
#ifdef _WIN32
    Sleep((DWORD)(us / 1000));
#else
    usleep((useconds_t)us);
#endif
}

/* Runs the items left in `c`, one at a time from the front. */
static void sf_run_claim(sf_job *job, sf_claim *c, int slot) {
    Py_ssize_t i;
    for (;;) {
        sf_lock(&c->lock);
        i = c->lo;
        if (i < c->hi)
            c->lo = i + 1;
        sf_unlock(&c->lock);
        if (i >= c->hi)
            return;
        job->task(job->ctx, i, i + 1, slot, NULL);
    }
}

/* Runs chunks of `job` until none is left; returns how many it ran. */
static Py_ssize_t sf_work(sf_job *job, int slot) {
    Py_ssize_t lo, hi, done = 0;
    sf_claim *c = job->claims != NULL && slot < SF_STEAL_SLOTS ? &job->claims[slot] : NULL;
    for (;; done++) {
        lo = sf_fetch_add(&job->next, job->chunk);
        if (lo >= job->n)
            return done;
        hi = lo + job->chunk < job->n ? lo + job->chunk : job->n;
        if (c == NULL) {
            job->task(job->ctx, lo, hi, slot, NULL);
            continue;
        }
        sf_lock(&c->lock);
        c->lo = lo;
        c->hi = hi;
        sf_unlock(&c->lock);
        if (slot > 0 && sf_pool_helper_delay_us > 0)
            sf_sleep_us(sf_pool_helper_delay_us);
        sf_run_claim(job, c, slot);
    }
}

/* The caller, when no chunk is left: takes the back half of what each
   helper has not started, until nothing is left to take. */
static void sf_steal(sf_job *job, int slots) {
    sf_claim *mine = &job->claims[0], *c;
    Py_ssize_t mid, hi;
    int s;
    if (slots > SF_STEAL_SLOTS)
        slots = SF_STEAL_SLOTS;
    for (s = 1; s < slots; s++) {
        c = &job->claims[s];
        for (;;) {
            sf_lock(&c->lock);
            hi = c->hi;
            mid = c->lo + (hi - c->lo) / 2;  /* the holder keeps the front half */
            if (mid < hi)
                c->hi = mid;
            sf_unlock(&c->lock);
            if (mid >= hi)
                break;
            sf_fetch_add(&sf_pool.stolen, hi - mid);
            sf_lock(&mine->lock);
            mine->lo = mid;
            mine->hi = hi;
            sf_unlock(&mine->lock);
            sf_run_claim(job, mine, 0);
        }
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
    sf_pool.callers = 0;  /* the parent's callers are not in this process */
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

/* A pool with an open job and no sleeping helper: another Python thread's
   call has every helper. Read without the mutex: a stale answer only makes a
   call serial, or take the mutex for nothing. */
static int sf_busy(void) {
    return sf_load(&sf_pool.jobs) != NULL && sf_load(&sf_pool.idle) == 0;
}

static void sf_run(ssimfast_task task, void *ctx, Py_ssize_t n, Py_ssize_t chunk, int workers,
                   int steal) {
    sf_job job;
    sf_claim claims[SF_STEAL_SLOTS];
    int want, i, nclaims = 0;
    Py_ssize_t others;
    if (n <= 0)
        return;
    if (chunk < 1)
        chunk = 1;
    if (workers > (n + chunk - 1) / chunk)
        workers = (int)((n + chunk - 1) / chunk);
    /* Other Python threads' calls already running on cap (cores - 1) or more
       cores: a helper would only take turns with them. */
    others = sf_fetch_add(&sf_pool.callers, 1);
    if (workers <= 1 || !sf_pool.ready || sf_pool.cap < 1 || others >= sf_pool.cap ||
        sf_busy()) {
        /* Nothing to share, or nobody to share it with: the caller works
           alone, with no lock taken and nobody woken or waited for. */
        task(ctx, 0, n, 0, NULL);
        sf_fetch_add(&sf_pool.callers, -1);
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
    if (steal) {
        nclaims = workers < SF_STEAL_SLOTS ? workers : SF_STEAL_SLOTS;
        for (i = 0; i < nclaims; i++) {
            sf_mutex_init(&claims[i].lock);
            claims[i].lo = claims[i].hi = 0;
        }
        job.claims = claims;
    }
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
    job.open = 0;  /* no helper joins from here on: job.slots is final */
    if (job.prev != NULL)
        job.prev->next_job = job.next_job;
    else
        sf_pool.jobs = job.next_job;
    if (job.next_job != NULL)
        job.next_job->prev = job.prev;
    if (steal && job.active > 0) {
        sf_unlock(&sf_pool.lock);
        sf_steal(&job, job.slots);
        sf_lock(&sf_pool.lock);
    }
    while (job.active > 0)
        sf_cond_wait(&job.done, &sf_pool.lock);
    sf_unlock(&sf_pool.lock);
    sf_fetch_add(&sf_pool.callers, -1);
#ifndef _WIN32
    pthread_cond_destroy(&job.done);
    for (i = 0; i < nclaims; i++)
        pthread_mutex_destroy(&claims[i].lock);
#else
    for (i = 0; i < nclaims; i++)
        DeleteCriticalSection(&claims[i].lock);
#endif
}

/* Runs task over [0, n) (see the top of this file). */
static void ssimfast_pool_run(ssimfast_task task, void *ctx, Py_ssize_t n, Py_ssize_t chunk,
                              int workers) {
    sf_run(task, ctx, n, chunk, workers, 0);
}

/* ssimfast_pool_run for tasks that cost no more run one item at a time than
   a chunk at once (their per-slot caches carry over from item to item):
   chunks are handed out item by item, and the caller steals the back half of
   a helper's unstarted items instead of waiting for it (sf_steal). */
static void ssimfast_pool_run_stealing(ssimfast_task task, void *ctx, Py_ssize_t n,
                                       Py_ssize_t chunk, int workers) {
    sf_run(task, ctx, n, chunk, workers, 1);
}

static int ssimfast_pool_helpers(void) { return sf_pool.helpers; }
static int ssimfast_pool_cap(void) { return sf_pool.cap; }
static Py_ssize_t ssimfast_pool_helper_chunks(void) { return sf_load(&sf_pool.helper_chunks); }
static Py_ssize_t ssimfast_pool_stolen(void) { return sf_load(&sf_pool.stolen); }

/* Tests: helpers sleep `us` microseconds after taking a chunk of a stealing job. */
static void ssimfast_pool_delay_helpers(int us) { sf_pool_helper_delay_us = us; }

/* Tests: refuse (or allow again) to create helper threads. */
static void ssimfast_pool_refuse_threads(int refuse) {
    sf_lock(&sf_pool.lock);
    sf_pool_no_threads = refuse;
    sf_pool.failed = 0;
    sf_unlock(&sf_pool.lock);
}

#endif
