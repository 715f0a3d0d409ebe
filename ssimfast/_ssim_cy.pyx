"""Compiled SSIM kernels, built for the baseline of the target architecture
(or for the building CPU with -march=native). The source: the .pxi files listed
in _module.pxi."""
include "_module.pxi"
include "_parallel.pxi"
include "_rows.pxi"
include "_filters.pxi"
include "_ssim2d.pxi"
include "_ssim3d.pxi"
include "_ssimnd.pxi"
include "_multiscale.pxi"
include "_masked.pxi"
