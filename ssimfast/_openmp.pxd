# One place for OpenMP and build facts. The same kernels build serial when the
# compiler has no OpenMP (Cython guards prange with #ifdef _OPENMP); omp_* calls
# go through here.
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
    #define SSIMFAST_TARGET "native"
    #else
    #define SSIMFAST_NATIVE_BUILD 0
    #ifndef SSIMFAST_TARGET
    #define SSIMFAST_TARGET "baseline"
    #endif
    #endif
    /* Runtime CPU checks for the x86-64 variants (setup.py's X86_VARIANTS);
       gcc and clang also check that the OS saves the vector registers. */
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int ssimfast_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int ssimfast_cpu_has_avx512(void) {
        return ssimfast_cpu_has_avx2()
            && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq");
    }
    #else
    static int ssimfast_cpu_has_avx2(void) { return 0; }
    static int ssimfast_cpu_has_avx512(void) { return 0; }
    #endif
    """
    bint SSIMFAST_OPENMP_ENABLED
    bint SSIMFAST_NATIVE_BUILD
    const char* SSIMFAST_TARGET
    int ssimfast_cpu_has_avx2() noexcept nogil
    int ssimfast_cpu_has_avx512() noexcept nogil
    int omp_get_max_threads() noexcept nogil
    int _thread_id "ssimfast_thread_id" () noexcept nogil
