# Parallel loops of the kernels: ssimfast's own pool (_pool.h), not OpenMP's
# fork/join. On a busy machine an OpenMP region ends only when every team
# thread has checked in, including one the OS has not scheduled yet; with the
# pool the calling thread starts at once and waits only for helpers that joined
# and are finishing a chunk (see _pool.h).
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
    int ssimfast_pool_init() noexcept
    void ssimfast_pool_run(ssimfast_task task, void* ctx, Py_ssize_t n, Py_ssize_t chunk,
                           int workers) noexcept
    void ssimfast_pool_run_stealing(ssimfast_task task, void* ctx, Py_ssize_t n,
                                    Py_ssize_t chunk, int workers) noexcept
    Py_ssize_t ssimfast_pool_stolen() noexcept
    void ssimfast_pool_delay_helpers(int us) noexcept
    int ssimfast_pool_helpers() noexcept
    int ssimfast_pool_cap() noexcept
    Py_ssize_t ssimfast_pool_helper_chunks() noexcept
    void ssimfast_pool_refuse_threads(int refuse) noexcept

if ssimfast_pool_init() != 0:
    raise ImportError("ssimfast: could not register the thread pool's fork handler")

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


def _pool_refuse_threads(bint refuse):
    """Tests: make creating a helper thread fail, as when the system has no
    threads left (the calling thread then does all the work)."""
    ssimfast_pool_refuse_threads(refuse)
