"""Thread counts: the `workers` argument, with OpenMP's conventions.

The kernels run their parallel loops on their own pool (_pool.h, _parallel.pxi):
the calling thread and up to workers - 1 helpers that join while there is work.
The count still follows OpenMP (OMP_NUM_THREADS, threadpoolctl limits), which
the kernels link for that.
"""
import operator
import os

from ssimfast._extension import kernels


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers):
    """Most threads (the caller and the pool's helpers) a call uses for `workers`.

    None means OpenMP's default: every core, or OMP_NUM_THREADS, or a
    threadpoolctl limit. Negative numbers count back from that default
    (-1 all, -2 all but one), as scikit-learn's n_jobs. Always 1 without OpenMP.
    More threads than usable CPUs are never faster here, and asking OpenMP for
    thousands can abort the process, so positive values are capped at the CPU count.
    """
    if workers is None:
        return max(1, kernels.max_threads())
    if isinstance(workers, bool):
        raise TypeError(f"workers must be an integer or None, got {workers!r}")
    try:
        workers = operator.index(workers)
    except TypeError:
        raise TypeError(f"workers must be an integer or None, got {workers!r}") from None
    if workers == 0:
        raise ValueError(
            "workers=0 is invalid: pass a positive number of threads, "
            "-1 for all cores, or None for OpenMP's default"
        )
    if not kernels.openmp_enabled():
        return 1
    if workers < 0:
        return max(1, kernels.max_threads() + workers + 1)
    return min(workers, _usable_cpus())
