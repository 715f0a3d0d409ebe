"""Compiled SSIM kernels, built for x86-64 CPUs with AVX2 and FMA. FMA
contraction stays off, so the results are bit-identical to the baseline build.
The source: the
.pxi files listed in _module.pxi."""
include "_module.pxi"
include "_parallel.pxi"
include "_rows.pxi"
include "_filters.pxi"
include "_ssim2d.pxi"
include "_ssim3d.pxi"
include "_ssimnd.pxi"
include "_multiscale.pxi"
include "_masked.pxi"
