"""Compiled SSIM kernels, built for the baseline of the target architecture
(or for the building CPU with -march=native). The source is _kernels.pxi and
_multiscale.pxi."""
include "_parallel.pxi"
include "_kernels.pxi"
include "_multiscale.pxi"
include "_png.pxi"
include "_masked.pxi"
