# Parallel loops of the kernels: ssimfast's own pool (_pool.h), not OpenMP's
# fork/join. On a busy machine an OpenMP region ends only when every team
# thread has checked in, including one the OS has not scheduled yet; with the
# pool the calling thread starts at once and waits only for helpers that joined
# and are finishing an item (see _pool.h); on mean-only 2-D jobs (ssim_2d,
# ssim_2d_multi without maps or gradients) not even for those: it computes
# their items itself and returns (ssimfast_pool_run_detached, below).
#
# Thread counts keep OpenMP's conventions: n_threads comes from
# ssimfast._threads.resolve_workers (omp_get_max_threads: OMP_NUM_THREADS,
# threadpoolctl limits), and is the most participants (caller + helpers) a job
# takes; scratch is allocated for that many slots.
#
# A loop becomes a task: a nogil function over items [lo, hi) (consecutive, so
# that per-slot caches and sliding sums carry from one item to the next) with a
# scratch slot, and a struct of its arguments. Tasks are fused on pixel_t
# through a last, unused `const pixel_t*` argument, which the pool passes as
# NULL (all data pointers have one representation on the platforms built for).

cdef extern from "_pool.h" nogil:
    ctypedef void (*ssimfast_task)(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int slot,
                                   const void* tag) noexcept nogil
    ctypedef void (*ssimfast_commit)(void* ctx, Py_ssize_t item, int slot) noexcept nogil
    ctypedef void (*ssimfast_release)(void* arg) noexcept nogil
    int ssimfast_pool_init() noexcept
    void ssimfast_pool_run(ssimfast_task task, void* ctx, Py_ssize_t n, Py_ssize_t chunk,
                           int workers) noexcept
    void ssimfast_pool_run_stealing(ssimfast_task task, void* ctx, Py_ssize_t n,
                                    Py_ssize_t chunk, int workers) noexcept
    int ssimfast_pool_run_detached(ssimfast_task task, ssimfast_commit commit, void* ctx,
                                   Py_ssize_t n, Py_ssize_t chunk, int workers,
                                   ssimfast_release release, void* release_arg) noexcept
    int ssimfast_pool_defer(void* node, int schedule) noexcept
    void ssimfast_pool_unschedule() noexcept
    void* ssimfast_pool_take_deferred(int pending) noexcept
    void ssimfast_pool_released() noexcept
    void ssimfast_pool_close() noexcept
    Py_ssize_t ssimfast_pool_taken_over() noexcept
    Py_ssize_t ssimfast_pool_unreleased() noexcept
    int ssimfast_pool_orphans() noexcept
    void ssimfast_pool_delay_items(int us) noexcept
    Py_ssize_t ssimfast_pool_unref(Py_ssize_t* refs) noexcept
    void ssimfast_pool_caller_pause() noexcept
    void ssimfast_pool_delay_callers(int us) noexcept
    Py_ssize_t ssimfast_pool_stolen() noexcept
    void ssimfast_pool_delay_helpers(int us) noexcept
    int ssimfast_pool_helpers() noexcept
    int ssimfast_pool_cap() noexcept
    Py_ssize_t ssimfast_pool_helper_chunks() noexcept
    void ssimfast_pool_refuse_threads(int refuse) noexcept

if ssimfast_pool_init() != 0:
    raise ImportError("ssimfast: could not register the thread pool's fork handler")


# ---------------------------------------------------------------------------
# Jobs whose caller does not wait for late helpers (ssimfast_pool_run_detached)
# ---------------------------------------------------------------------------
# A helper still running an item when its caller returns reads the inputs and
# the arguments and writes its slot's scratch: all must outlive the call. The
# caller puts its arguments struct and scratch in one block that starts with a
# _Keep, and keeps the buffers the helpers read with Python references (taken
# with the GIL, before the nogil section). If the caller leaves last (the
# usual case) it releases them itself (_release_now). Else the block has two
# owners (_Keep.refs): the caller, which still reads the row sums after it has
# left the job, and its late helpers; the last to be done releases it
# (_release_when_done, _release_later). A late helper, without the GIL, puts
# the block on the pool's list (ssimfast_pool_defer) and, unless one is queued
# already, schedules a pending call (Py_AddPendingCall may be called from any
# thread) that takes the list with the GIL. If Python's queue of pending calls
# is full, the next kernel call (or the exit handler) takes it
# (_release_deferred). Scratch is malloc'ed per call (_scratch caches
# nothing), so a block a late helper writes is never handed to another call.

from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF

cdef extern from "Python.h":
    int Py_AddPendingCall(int (*func)(void*) noexcept, void* arg) noexcept nogil

cdef struct _Keep:
    void* next   # the pool's list of deferred releases (first: see ssimfast_pool_defer)
    void* block  # the scratch block this record is in
    void (*free_block)(void* block) noexcept nogil  # how to free it (_free_scratch)
    PyObject* kept  # an owned reference (what the helpers read), or NULL
    # Owners of the block once the caller has left the job: the caller, which
    # still reads the results, and the late helpers (one count for all).
    Py_ssize_t refs


cdef void _keep(_Keep* k, void* block, void (*free_block)(void*) noexcept nogil,
                object kept):
    """Starts the record at the head of `block`, with an owned reference to
    `kept` (None: nothing): the memoryviews helpers read, each of which holds
    its buffer, so its exporter (a NumPy array or its base)."""
    k.next = NULL
    k.block = block
    k.free_block = free_block
    k.kept = NULL
    k.refs = 2
    if kept is not None:
        Py_INCREF(kept)
        k.kept = <PyObject*> kept


cdef int _release_now(void* arg) noexcept:
    """Drops the reference and frees the block. With the GIL (a pending call,
    or the caller itself). Returns 0 (a pending call's success)."""
    cdef _Keep* k = <_Keep*> arg
    cdef PyObject* o = k.kept
    k.kept = NULL
    k.free_block(k.block)
    Py_XDECREF(o)
    return 0


cdef int _release_list(void* node) noexcept:
    """Releases a list of _Keep records (through `next`). With the GIL."""
    cdef void* after
    while node != NULL:
        after = (<_Keep*> node).next
        _release_now(node)
        ssimfast_pool_released()
        node = after
    return 0


cdef int _release_pending(void* arg) noexcept:
    """The pending call: releases what late helpers left on the pool's list."""
    return _release_list(ssimfast_pool_take_deferred(1))


cdef bint _defer_releases = False  # tests: schedule no pending call


cdef void _release_later(void* arg) noexcept nogil:
    """The last late helper of an abandoned job (no GIL): release `arg` soon,
    unless its caller still reads the block (then the caller releases it)."""
    if ssimfast_pool_unref(&(<_Keep*> arg).refs) > 0:
        return
    if ssimfast_pool_defer(arg, not _defer_releases):
        if Py_AddPendingCall(_release_pending, NULL) != 0:
            ssimfast_pool_unschedule()  # (the queue is full: the next kernel call)


cdef void _release_when_done(_Keep* k, bint mine):
    """The caller, done with its block (with the GIL): releases it if the job
    was its own to the end (mine), or if the late helpers have already left
    it (they leave it to the caller while it still reads the results)."""
    if mine:
        _release_now(k)
    elif ssimfast_pool_unref(&k.refs) == 0:
        _release_now(k)
        ssimfast_pool_released()


cdef int _release_deferred() except -1:
    """Releases what late helpers left on the pool's list. With the GIL."""
    _release_list(ssimfast_pool_take_deferred(0))
    return 0


def _pool_at_exit():
    # Before the interpreter goes: no helper may call _release_later after it.
    with nogil:
        ssimfast_pool_close()
    _release_deferred()


import atexit as _atexit
_atexit.register(_pool_at_exit)

cdef enum:
    # Work below which a call runs on the calling thread alone: waking a helper
    # costs a few microseconds, about what this many pixels take. (64x64 stays
    # serial.)
    PARALLEL_PIXELS = 32768
    # Chunks per participant: small enough that a helper the OS preempts holds
    # up little, large enough that claiming costs nothing.
    CHUNKS_PER_WORKER = 8


cdef inline int _workers_for(int n_threads, double pixels) noexcept nogil:
    """Participants worth waking for `pixels` of work (at most n_threads)."""
    cdef double most = pixels / PARALLEL_PIXELS
    if most < 1.0:
        return 1
    if most < n_threads:
        return <int> most
    return max(1, n_threads)


cdef inline Py_ssize_t _chunk(Py_ssize_t n, int workers, Py_ssize_t least) noexcept nogil:
    """Items per chunk: about CHUNKS_PER_WORKER chunks each, at least `least`."""
    cdef Py_ssize_t c = n // (workers * <Py_ssize_t> CHUNKS_PER_WORKER)
    return max(c, least, 1)


def pool_helpers():
    """Helper threads the kernels' pool has started in this process."""
    return ssimfast_pool_helpers()


def pool_cap():
    """Most helper threads the pool starts: usable cores - 1."""
    return ssimfast_pool_cap()


def pool_helper_chunks():
    """Chunks of work the pool's helpers have run in this process (for tests:
    how much of the work did not fall to the calling threads)."""
    return ssimfast_pool_helper_chunks()


def pool_stolen():
    """Items the calling threads took from helpers' chunks in this process (for
    tests: how often a caller did not wait for a late helper)."""
    return ssimfast_pool_stolen()


def _pool_delay_helpers(int microseconds):
    """Tests: helpers sleep this long after taking a chunk of a job that allows
    stealing, as if the OS had preempted them (0: no delay)."""
    ssimfast_pool_delay_helpers(max(0, microseconds))


def pool_taken_over():
    """Items the calling threads computed for a helper still running them, and
    returned without waiting for it (for tests)."""
    return ssimfast_pool_taken_over()


def pool_orphans():
    """Jobs whose caller has returned while helpers still run (for tests)."""
    return ssimfast_pool_orphans()


def pool_unreleased():
    """Abandoned jobs whose memory and references are not released yet (for
    tests; a pending call or the next kernel call releases them)."""
    return ssimfast_pool_unreleased()


def _pool_delay_items(int microseconds):
    """Tests: helpers sleep this long after starting an item of a job whose
    caller does not wait for them (mean-only ssim_2d), before computing it,
    as if the OS had preempted them there (0: no delay)."""
    ssimfast_pool_delay_items(max(0, microseconds))


def _pool_delay_callers(int microseconds):
    """Tests: a caller that returned from a job before its late helpers pauses
    this long before it reads the job's results (0: no pause)."""
    ssimfast_pool_delay_callers(max(0, microseconds))


def _pool_defer_releases(bint defer):
    """Tests: late helpers leave their releases on the pool's list and schedule
    no pending call (as when Python's queue of pending calls is full): the
    next kernel call releases them."""
    global _defer_releases
    _defer_releases = defer


def _pool_release_deferred():
    """Tests: release what late helpers left on the pool's list now."""
    _release_deferred()


def _pool_refuse_threads(bint refuse):
    """Tests: make creating a helper thread fail, as when the system has no
    threads left (the calling thread then does all the work)."""
    ssimfast_pool_refuse_threads(refuse)
