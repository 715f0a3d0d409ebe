# The compiled SSIM kernels. _ssim_cy.pyx (the baseline build), _ssim_avx2.pyx
# and _ssim_avx512.pyx (the same source compiled for those instruction sets, see
# setup.py) include, in this order:
#
#   _module.pxi      imports, build facts (OpenMP, target) and argument checks
#   _parallel.pxi    the parallel loops: ssimfast's thread pool (_pool.h)
#   _rows.pxi        row helpers: scratch memory, 'reflect' indices, row copies
#   _filters.pxi     filtering, the SSIM formula over rows, integer window sums
#   _ssim2d.pxi      ssim_2d and ssim_2d_batch
#   _ssim3d.pxi      ssim_3d
#   _ssimnd.pxi      filter_axis and ssim_map_nd (any number of dimensions)
#   _multiscale.pxi  ssim_cs_2d and box_downsample_2d (MS-SSIM, presets)
#   _masked.pxi      ssim_masked_2d
#
# ssimfast._extension picks one module at import by what the CPU supports.
#
# The Python layer (_ssim.py) checks shapes, dtypes and options, computes the
# filter taps and allocates the outputs; kernels do arithmetic, with the GIL
# released. Each entry point still checks that its arguments are consistent
# (O(1), see "Argument checks"): whatever it is given, a kernel raises rather
# than crashing the interpreter (.ci/fuzz calls them with fuzzed arguments).
#
# The four windowed statistics are the filtered x, y, x*x + y*y and x*y: the SSIM
# denominator needs only the sum of the two variances. Each axis is filtered in
# turn (separable), in scipy.ndimage's order for symmetric taps (see "Filtering"
# below), with 'reflect' boundaries as scipy.ndimage.
# All paths (2-D, 3-D, N-D) do the same operations in the same order, so their
# maps agree bit for bit; row sums are added in row order after the parallel
# loop, so the mean does not depend on the number of threads or on which
# thread computed which rows.

import numpy as np

from libc.stdint cimport uint8_t, int16_t, int32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from cpython.pyport cimport PY_SSIZE_T_MAX

from ssimfast._fused cimport pixel_t, double_rp, float_rp, int16_rp, int32_rp
from ssimfast._openmp cimport (
    SSIMFAST_NATIVE_BUILD,
    SSIMFAST_OPENMP_ENABLED,
    SSIMFAST_TARGET,
    ssimfast_cpu_has_avx2,
    ssimfast_cpu_has_avx512,
    omp_get_max_threads,
)


def openmp_enabled():
    """True if the kernels were compiled with OpenMP."""
    return bool(SSIMFAST_OPENMP_ENABLED)


def native_build():
    """True if the kernels were compiled for the building CPU (-march=native)."""
    return bool(SSIMFAST_NATIVE_BUILD)


def target():
    """What this module was compiled for: 'native', 'avx512', 'avx2' or 'baseline'."""
    return SSIMFAST_TARGET.decode()


def cpu_supports(target):
    """True if this CPU and OS run code compiled for `target` (a name as target() gives)."""
    if target == "avx2":
        return bool(ssimfast_cpu_has_avx2())
    if target == "avx512":
        return bool(ssimfast_cpu_has_avx512())
    return target == "baseline"


def max_threads():
    """OpenMP's default thread count (OMP_NUM_THREADS, threadpoolctl); 1 without OpenMP."""
    return omp_get_max_threads()


# ---------------------------------------------------------------------------
# Argument checks (with the GIL, before any work)
# ---------------------------------------------------------------------------

# Longest axis or filter a kernel takes. A zero-stride (broadcast) input can
# claim an axis of 2**62 pixels at no cost; beyond this, sizes of scratch in
# Py_ssize_t arithmetic could wrap around to a small allocation.
cdef Py_ssize_t MAX_EXTENT = (<Py_ssize_t> 1) << 48


cdef int _check(bint ok, str kernel, str what) except -1:
    if not ok:
        raise ValueError(f"{kernel}: {what}")
    return 0


cdef int _check_axis(Py_ssize_t n, Py_ssize_t ntaps, Py_ssize_t crop, str kernel,
                     int axis) except -1:
    """An axis of n >= 1 pixels, an odd filter, a border >= 0. A border of half
    the axis or more leaves nothing to sum (tiles of ssim_tiled can have such
    interiors); the kernels then sum over _inner(crop, n), which is empty."""
    if n > MAX_EXTENT or ntaps > MAX_EXTENT:
        raise MemoryError(f"{kernel}: axis {axis} of {n} pixels with {ntaps} taps is too "
                          "large for any machine's memory")
    # Messages are formatted only on failure: these checks run on every call.
    if n < 1:
        _check(False, kernel, f"axis {axis} is empty")
    if ntaps < 1 or ntaps % 2 == 0:
        _check(False, kernel,
               f"the filter of axis {axis} needs an odd number of taps, got {ntaps}")
    if crop < 0:
        _check(False, kernel, f"the border of axis {axis} is negative ({crop})")
    return 0


cdef inline Py_ssize_t _inner(Py_ssize_t crop, Py_ssize_t n, bint upper) noexcept:
    """The summed range [crop, n - crop) of an axis, kept within 0..n and not
    reversed (lower end if not upper, else upper end)."""
    cdef Py_ssize_t lo = min(crop, n)
    return max(lo, n - crop) if upper else lo


cdef Py_ssize_t _doubles(object n, str kernel) except -1:
    """n (a Python int: exact) as a count of doubles of scratch, or MemoryError
    if its size in bytes would not fit in a Py_ssize_t."""
    if n > (<object> PY_SSIZE_T_MAX) // 16:
        raise MemoryError(f"{kernel}: {n} doubles of scratch is more than any machine has")
    return n
