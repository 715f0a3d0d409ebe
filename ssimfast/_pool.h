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
 *   waits at most for the item a helper is running (run_detached: not even).
 *
 * ssimfast_pool_run_detached(task, commit, ctx, n, chunk, workers, release, arg):
 *   ssimfast_pool_run_stealing for tasks whose helpers write nothing the caller
 *   reads but each item's result, published by commit(ctx, item, slot) (under
 *   the item's claim lock, by the one participant that still owns the item).
 *   The caller, once nothing is left to run or steal, computes itself the items
 *   helpers are still running (they then do not publish theirs) and returns
 *   without waiting for those helpers: a call ends when the work is done, not
 *   when every helper has checked in. Returns 1 if no helper was left in the
 *   job (the caller frees ctx and what it points to), else 0: the last helper
 *   to leave calls release(arg), without the GIL, to free them (see "Lifetime").
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
#include <stdlib.h>
#include <string.h>

/* `tag` is always NULL: it lets Cython specialise tasks on a pixel type. */
typedef void (*ssimfast_task)(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int slot, const void *tag);
/* Publishes the result of `item`, computed by `slot` (ssimfast_pool_run_detached). */
typedef void (*ssimfast_commit)(void *ctx, Py_ssize_t item, int slot);
/* Frees what a job abandoned to its helpers uses, once the last has left. */
typedef void (*ssimfast_release)(void *arg);

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
    Py_ssize_t running;  /* the item the holder is computing, or -1 (also: taken over) */
} sf_claim;

/* Most participants whose chunks can be stolen from (more run without). */
#define SF_STEAL_SLOTS 64

/* Lifetime of a job (on the heap, owned by the pool), under the pool's mutex:
 *  - A helper touches a job only between joining it (active++, which needs the
 *    job in the open jobs' list) and leaving it (active--); the caller, from
 *    creating it until it leaves (sets `left`, or finds active == 0).
 *  - The caller unlinks the job (open = 0) before it leaves: no helper joins a
 *    job once its caller may be gone, and the list never holds a freed job.
 *  - Whoever leaves last frees it, exactly once: the caller if it finds
 *    active == 0 (after waiting for it, or because nobody is left); else the
 *    helper whose active-- reaches 0 with `left` set (set only while
 *    active > 0, so that helper exists). It calls release(release_arg) first,
 *    then counts the orphan off (ssimfast_pool_close waits for none).
 *  - A helper still running when its caller left touches only the job, ctx
 *    and what ctx points to (which release frees): it publishes nothing, as
 *    the caller took its item over (running = -1 under the claim lock, after
 *    sf_steal emptied every claim; a chunk is taken under its claim's lock,
 *    so that the caller sees it), and there is no item left for it to take.
 */
typedef struct sf_job {
    ssimfast_task task;
    ssimfast_commit commit;    /* NULL: the task publishes its results itself */
    ssimfast_release release;  /* NULL: the caller always waits for its helpers */
    void *ctx, *release_arg;
    Py_ssize_t n, chunk;
    volatile Py_ssize_t next;  /* first item of the next chunk (atomic) */
    int nclaims;               /* claims[] per slot up to nclaims; 0: no stealing */
    int slots, max_slots;      /* slots handed out; under the pool's mutex */
    int active;                /* helpers inside the job; under the mutex */
    int open;                  /* still taking helpers; under the mutex */
    int left;                  /* the caller has returned; under the mutex */
    sf_cond done;              /* the caller waits here for active == 0 */
    struct sf_job *prev, *next_job;  /* the open jobs' list */
    sf_claim claims[1];        /* nclaims of them (allocated with the job) */
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
    volatile Py_ssize_t taken_over;     /* items callers computed for a running helper */
    volatile Py_ssize_t unreleased;     /* abandoned jobs not yet released (atomic): tests */
    int orphans;        /* jobs whose caller left before their helpers; under the mutex */
    int closing;        /* ssimfast_pool_close ran: callers wait for their helpers */
    sf_cond no_orphans; /* ssimfast_pool_close waits here for orphans == 0 */
    void *deferred;     /* releases to finish with the GIL (ssimfast_pool_defer); mutex */
    int drain_scheduled; /* a pending call will take `deferred`; under the mutex */
} sf_pool;

/* For tests: microseconds a helper sleeps after taking a chunk of a job that
   allows stealing (as if the OS had preempted it), so that the caller steals. */
static volatile int sf_pool_helper_delay_us = 0;

/* For tests: microseconds a helper sleeps after it starts an item of a job
   whose caller does not wait (as if preempted while computing it). */
static volatile int sf_pool_item_delay_us = 0;

/* For tests: microseconds a caller that left its job to late helpers pauses
   before it reads the job's results (ssimfast_pool_caller_pause). */
static volatile int sf_pool_caller_delay_us = 0;

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

/* Runs items [lo, hi) by `slot` alone: at once, or one by one, each
   published as soon as computed (a slot's scratch holds one item's result). */
static void sf_run_items(ssimfast_task task, ssimfast_commit commit, void *ctx, Py_ssize_t lo,
                         Py_ssize_t hi, int slot) {
    Py_ssize_t i;
    if (commit == NULL) {
        task(ctx, lo, hi, slot, NULL);
        return;
    }
    for (i = lo; i < hi; i++) {
        task(ctx, i, i + 1, slot, NULL);
        commit(ctx, i, slot);
    }
}

/* Runs the items left in `c`, one at a time from the front. */
static void sf_run_claim(sf_job *job, sf_claim *c, int slot) {
    Py_ssize_t i;
    int mine;
    for (;;) {
        sf_lock(&c->lock);
        i = c->lo;
        mine = i < c->hi;
        if (mine) {
            c->lo = i + 1;
            c->running = i;
        }
        sf_unlock(&c->lock);
        if (!mine)
            return;
        if (slot > 0 && job->release != NULL && sf_pool_item_delay_us > 0)
            sf_sleep_us(sf_pool_item_delay_us);
        job->task(job->ctx, i, i + 1, slot, NULL);
        sf_lock(&c->lock);
        if (c->running == i && job->commit != NULL)
            job->commit(job->ctx, i, slot);  /* not taken over: the result is this one */
        c->running = -1;
        sf_unlock(&c->lock);
    }
}

/* Runs chunks of `job` until none is left; returns how many it ran. */
static Py_ssize_t sf_work(sf_job *job, int slot) {
    Py_ssize_t lo, hi, done = 0;
    sf_claim *c = slot < job->nclaims ? &job->claims[slot] : NULL;
    for (;; done++) {
        /* (Taken under the claim's lock: a caller that has seen every chunk
           handed out and then this claim empty knows this slot has none.) */
        if (c != NULL)
            sf_lock(&c->lock);
        lo = sf_fetch_add(&job->next, job->chunk);
        hi = lo + job->chunk < job->n ? lo + job->chunk : job->n;
        if (c != NULL) {
            if (lo < job->n) {
                c->lo = lo;
                c->hi = hi;
            }
            sf_unlock(&c->lock);
        }
        if (lo >= job->n)
            return done;
        if (c == NULL) {
            sf_run_items(job->task, job->commit, job->ctx, lo, hi, slot);
            continue;
        }
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
    if (slots > job->nclaims)
        slots = job->nclaims;
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

static void sf_job_free(sf_job *job) {
    int i;
#ifndef _WIN32
    pthread_cond_destroy(&job->done);
    for (i = 0; i < job->nclaims; i++)
        pthread_mutex_destroy(&job->claims[i].lock);
#else
    for (i = 0; i < job->nclaims; i++)
        DeleteCriticalSection(&job->claims[i].lock);
#endif
    free(job);
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
        if (--job->active > 0)
            continue;
        if (!job->left) {
            if (!job->open)
                sf_cond_signal(&job->done);
            continue;
        }
        /* The last of an abandoned job (see "Lifetime of a job"). */
        sf_unlock(&sf_pool.lock);
        job->release(job->release_arg);
        sf_job_free(job);
        sf_lock(&sf_pool.lock);
        if (--sf_pool.orphans == 0)
            sf_cond_broadcast(&sf_pool.no_orphans);
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
    sf_cond_init(&sf_pool.no_orphans);
    /* The parent's abandoned jobs will never be released here (they leak). */
    sf_pool.unreleased -= sf_pool.orphans;
    sf_pool.orphans = 0;
    sf_pool.drain_scheduled = 0;  /* (the parent's pending calls are not queued here) */
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

/* The caller, after sf_steal: computes itself (slot 0) each item a helper is
   still running, and takes it from that helper (which will not publish it). */
static void sf_take_over(sf_job *job) {
    sf_claim *c;
    Py_ssize_t r;
    int s, slots = job->slots < job->nclaims ? job->slots : job->nclaims;
    for (s = 1; s < slots; s++) {
        c = &job->claims[s];
        sf_lock(&c->lock);
        r = c->running;
        c->running = -1;
        sf_unlock(&c->lock);
        if (r < 0)
            continue;
        job->task(job->ctx, r, r + 1, 0, NULL);
        job->commit(job->ctx, r, 0);
        sf_fetch_add(&sf_pool.taken_over, 1);
    }
}

/* Returns 1 if the caller left last (no helper in the job), 0 if it left the
   job to its helpers (only with release: see "Lifetime of a job"). */
static int sf_run(ssimfast_task task, ssimfast_commit commit, void *ctx, Py_ssize_t n,
                  Py_ssize_t chunk, int workers, int steal, ssimfast_release release,
                  void *release_arg) {
    sf_job *job;
    int want, i, nclaims = 0;
    Py_ssize_t others;
    if (n <= 0)
        return 1;
    if (chunk < 1)
        chunk = 1;
    if (workers > (n + chunk - 1) / chunk)
        workers = (int)((n + chunk - 1) / chunk);
    /* Other Python threads' calls already running on cap (cores - 1) or more
       cores: a helper would only take turns with them. */
    others = sf_fetch_add(&sf_pool.callers, 1);
    job = NULL;
    if (workers > 1 && sf_pool.ready && sf_pool.cap >= 1 && others < sf_pool.cap && !sf_busy()) {
        nclaims = !steal ? 0 : workers < SF_STEAL_SLOTS ? workers : SF_STEAL_SLOTS;
        job = (sf_job *)calloc(1, sizeof(sf_job) + (nclaims > 0 ? nclaims - 1 : 0) * sizeof(sf_claim));
    }
    if (job == NULL) {
        /* Nothing to share, nobody to share it with (or no memory): the caller
           works alone, with no lock taken and nobody woken or waited for. */
        sf_run_items(task, commit, ctx, 0, n, 0);
        sf_fetch_add(&sf_pool.callers, -1);
        return 1;
    }
    job->task = task;
    job->commit = commit;
    job->ctx = ctx;
    job->n = n;
    job->chunk = chunk;
    job->slots = 1;  /* slot 0 is the caller's */
    job->max_slots = workers;
    job->open = 1;
    job->nclaims = nclaims;
    /* Helpers not all with a claim could not be taken over: they are waited for. */
    if (commit != NULL && release != NULL && workers <= nclaims) {
        job->release = release;
        job->release_arg = release_arg;
    }
    for (i = 0; i < nclaims; i++) {
        sf_mutex_init(&job->claims[i].lock);
        job->claims[i].running = -1;
    }
    sf_cond_init(&job->done);

    sf_lock(&sf_pool.lock);
    job->next_job = sf_pool.jobs;  /* newest first: helpers take fresh jobs */
    if (sf_pool.jobs != NULL)
        sf_pool.jobs->prev = job;
    sf_pool.jobs = job;
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

    sf_work(job, 0);

    sf_lock(&sf_pool.lock);
    job->open = 0;  /* no helper joins from here on: job->slots is final */
    if (job->prev != NULL)
        job->prev->next_job = job->next_job;
    else
        sf_pool.jobs = job->next_job;
    if (job->next_job != NULL)
        job->next_job->prev = job->prev;
    if (nclaims > 0 && job->active > 0) {
        sf_unlock(&sf_pool.lock);
        sf_steal(job, job->slots);
        if (job->release != NULL)
            sf_take_over(job);
        sf_lock(&sf_pool.lock);
    }
    if (job->release != NULL && job->active > 0 && !sf_pool.closing) {
        /* Every item is done: what helpers still run is no longer needed. */
        job->left = 1;
        sf_pool.orphans++;
        sf_fetch_add(&sf_pool.unreleased, 1);
        sf_unlock(&sf_pool.lock);
        sf_fetch_add(&sf_pool.callers, -1);
        return 0;
    }
    while (job->active > 0)
        sf_cond_wait(&job->done, &sf_pool.lock);
    sf_unlock(&sf_pool.lock);
    sf_fetch_add(&sf_pool.callers, -1);
    sf_job_free(job);
    return 1;
}

/* Runs task over [0, n) (see the top of this file). */
static void ssimfast_pool_run(ssimfast_task task, void *ctx, Py_ssize_t n, Py_ssize_t chunk,
                              int workers) {
    sf_run(task, NULL, ctx, n, chunk, workers, 0, NULL, NULL);
}

/* ssimfast_pool_run for tasks that cost no more run one item at a time than
   a chunk at once (their per-slot caches carry over from item to item):
   chunks are handed out item by item, and the caller steals the back half of
   a helper's unstarted items instead of waiting for it (sf_steal). */
static void ssimfast_pool_run_stealing(ssimfast_task task, void *ctx, Py_ssize_t n,
                                       Py_ssize_t chunk, int workers) {
    sf_run(task, NULL, ctx, n, chunk, workers, 1, NULL, NULL);
}

/* ssimfast_pool_run_stealing whose caller does not wait for a helper still
   running an item (see the top of this file). The serial path commits every
   item after running them all in one task call. */
static int ssimfast_pool_run_detached(ssimfast_task task, ssimfast_commit commit, void *ctx,
                                      Py_ssize_t n, Py_ssize_t chunk, int workers,
                                      ssimfast_release release, void *release_arg) {
    return sf_run(task, commit, ctx, n, chunk, workers, 1, release, release_arg);
}

/* Called by a release function, without the GIL, to finish its work with the
   GIL: keeps `node` (whose first field is a pointer the pool uses) on a list
   for ssimfast_pool_take_deferred. Returns 1 if the caller is to schedule a
   pending call that takes the list (`schedule` and none is scheduled); if it
   cannot, it calls ssimfast_pool_unschedule. So at most one pending call of
   the pool is queued in Python at a time. */
static int ssimfast_pool_defer(void *node, int schedule) {
    int now;
    sf_lock(&sf_pool.lock);
    *(void **)node = sf_pool.deferred;
    sf_pool.deferred = node;
    now = schedule && !sf_pool.drain_scheduled;
    if (now)
        sf_pool.drain_scheduled = 1;
    sf_unlock(&sf_pool.lock);
    return now;
}

static void ssimfast_pool_unschedule(void) {
    sf_lock(&sf_pool.lock);
    sf_pool.drain_scheduled = 0;
    sf_unlock(&sf_pool.lock);
}

/* The deferred nodes (a list through their first field), now the caller's
   (with the GIL). pending: called by the scheduled pending call. */
static void *ssimfast_pool_take_deferred(int pending) {
    void *list;
    if (!pending && sf_load(&sf_pool.deferred) == NULL)
        return NULL;
    sf_lock(&sf_pool.lock);
    list = sf_pool.deferred;
    sf_pool.deferred = NULL;
    if (pending)
        sf_pool.drain_scheduled = 0;
    sf_unlock(&sf_pool.lock);
    return list;
}

/* A release function has finished (for tests: pool_unreleased). */
static void ssimfast_pool_released(void) { sf_fetch_add(&sf_pool.unreleased, -1); }

/* At exit (before the interpreter goes): from now on callers wait for their
   helpers, and this waits until no abandoned job is left, so that no helper
   calls a release function once the interpreter is gone. Without the GIL. */
static void ssimfast_pool_close(void) {
    sf_lock(&sf_pool.lock);
    sf_pool.closing = 1;
    while (sf_pool.orphans > 0)
        sf_cond_wait(&sf_pool.no_orphans, &sf_pool.lock);
    sf_unlock(&sf_pool.lock);
}

/* Drops one owner of a block shared by a caller that left its job and the
   job's late helpers; returns how many are left. 0: this one was the last,
   and it sees every other owner's writes (acquire-release). */
static Py_ssize_t ssimfast_pool_unref(volatile Py_ssize_t *refs) {
#ifdef _WIN32
#ifdef _WIN64
    return (Py_ssize_t)InterlockedDecrement64((volatile LONG64 *)refs);
#else
    return (Py_ssize_t)InterlockedDecrement((volatile LONG *)refs);
#endif
#else
    return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL);
#endif
}

/* Tests: a caller that left its job pauses here (see sf_pool_caller_delay_us). */
static void ssimfast_pool_caller_pause(void) {
    if (sf_pool_caller_delay_us > 0)
        sf_sleep_us(sf_pool_caller_delay_us);
}

static void ssimfast_pool_delay_callers(int us) { sf_pool_caller_delay_us = us; }

static int ssimfast_pool_helpers(void) { return sf_pool.helpers; }
static int ssimfast_pool_cap(void) { return sf_pool.cap; }
static Py_ssize_t ssimfast_pool_helper_chunks(void) { return sf_load(&sf_pool.helper_chunks); }
static Py_ssize_t ssimfast_pool_stolen(void) { return sf_load(&sf_pool.stolen); }
static Py_ssize_t ssimfast_pool_taken_over(void) { return sf_load(&sf_pool.taken_over); }
static Py_ssize_t ssimfast_pool_unreleased(void) { return sf_load(&sf_pool.unreleased); }
static int ssimfast_pool_orphans(void) {
    int n;
    sf_lock(&sf_pool.lock);
    n = sf_pool.orphans;
    sf_unlock(&sf_pool.lock);
    return n;
}

/* Tests: helpers sleep `us` microseconds after starting an item of a job
   whose caller does not wait for them (ssimfast_pool_run_detached). */
static void ssimfast_pool_delay_items(int us) { sf_pool_item_delay_us = us; }

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
