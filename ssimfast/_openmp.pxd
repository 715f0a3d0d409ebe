# One place for OpenMP: the same kernels build serial when the compiler has no
# OpenMP (Cython guards prange with #ifdef _OPENMP); omp_* calls go through here.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SSIMFAST_OPENMP_ENABLED 1
    #define ssimfast_thread_id() omp_get_thread_num()
    #else
    #define ssimfast_thread_id() 0
    #define SSIMFAST_OPENMP_ENABLED 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    #ifdef SSIMFAST_NATIVE
    #define SSIMFAST_NATIVE_BUILD 1
    #else
    #define SSIMFAST_NATIVE_BUILD 0
    #endif
    """
    bint SSIMFAST_OPENMP_ENABLED
    bint SSIMFAST_NATIVE_BUILD
    int omp_get_max_threads() noexcept nogil
    int _thread_id "ssimfast_thread_id" () noexcept nogil
