"""Compiled SSIM kernels, built for x86-64 CPUs with AVX2 and FMA. FMA
contraction stays off, so the results are bit-identical to the baseline build.
The source is _kernels.pxi and _multiscale.pxi."""
include "_parallel.pxi"
include "_kernels.pxi"
include "_multiscale.pxi"
include "_png.pxi"
include "_masked.pxi"
