# Fused types shared by the kernels.
from libc.stdint cimport uint8_t, uint16_t, int16_t, int32_t, int64_t

# The dtypes the kernels read directly; the Python layer converts any other
# dtype (bool, int8, uint32, uint64, float16, non-native byte order) first.
ctypedef fused pixel_t:
    uint8_t
    uint16_t
    int16_t
    int32_t
    int64_t
    float
    double

cdef extern from *:
    # A double pointer the compiler may assume does not alias any other
    # pointer argument: without it gcc refuses to vectorise loops that write
    # four accumulators while reading uint8 rows (char types alias anything).
    ctypedef double* double_rp "double * __restrict__"
    ctypedef float* float_rp "float * __restrict__"
    ctypedef int16_t* int16_rp "int16_t * __restrict__"
    ctypedef int32_t* int32_rp "int32_t * __restrict__"
    ctypedef const double* const_double_rp "const double * __restrict__"
