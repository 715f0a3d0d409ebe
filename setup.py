"""Build the compiled SSIM kernels.

Environment variables (all optional):

SSIMFAST_NATIVE=1     build only for the CPU of this machine (-march=native). The
                      result may not run on other machines.
                      Default: a portable build. On x86-64 (gcc, clang) the kernels
                      are compiled three times, for the baseline, AVX2 and AVX-512,
                      and ssimfast picks the fastest the CPU runs at import
                      (ssimfast/_extension.py); all three compute the same bits.
SSIMFAST_OPENMP=0     build without OpenMP (serial kernels);
SSIMFAST_OPENMP=1     fail the build if the compiler has no working OpenMP.
                      Default: use OpenMP if a test program compiles, links and runs.
CFLAGS, LDFLAGS       added to every compile and link (setuptools), and to the
                      probes; .ci/sanitize builds with -fsanitize=address,undefined.
"""
import os
import platform
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        #pragma omp parallel
        printf("nthreads=%d\\n", omp_get_num_threads());
        return 0;
    }
    """
)


# The x86-64 variants of the kernels a portable build adds, and the instructions
# each may use; _extension.py loads one only where the CPU reports all of them
# (ssimfast_cpu_has_* in _openmp.pxd). AVX-512 is the x86-64-v4 set.
X86_VARIANTS = {
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512cd", "-mavx512vl",
               "-mavx512bw", "-mavx512dq"],
}


def _env_flag(name, default):
    value = os.environ.get(name, default).strip().lower()
    if value not in ("0", "1", "auto", "false", "true", ""):
        raise SystemExit(f"{name} must be 0, 1 or auto, got {value!r}")
    return {"false": "0", "true": "1", "": default}.get(value, value)


def _openmp_flags(compiler):
    """(compile, link) flags for OpenMP with this compiler."""
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin" and "openmp" in os.environ.get("CPPFLAGS", ""):
        # Apple clang: the user already put -Xpreprocessor -fopenmp in CPPFLAGS.
        return [], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


def _compiles(compiler, source, compile_args, link_args=(), run=False):
    """Compile (and link and run, if asked) `source`; return its output or None."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(source)
        try:
            objects = compiler.compile([path], output_dir=tmp, extra_postargs=compile_args)
            if not run:
                return ""
            exe = os.path.join(tmp, "probe")
            # setuptools adds LDFLAGS to extension links but not to executables;
            # flags that need link support (-fsanitize=...) would fail the probe.
            link_args = list(link_args) + os.environ.get("LDFLAGS", "").split()
            compiler.link_executable(objects, exe, extra_postargs=link_args)
            env = dict(os.environ, OMP_NUM_THREADS="2")
            return subprocess.check_output([exe], env=env, text=True)
        except Exception:  # any compile, link or run failure means "not supported"
            return None


def _warn_box(lines):
    width = max(len(line) for line in lines)
    bar = "*" * (width + 4)
    print("\n".join([bar] + [f"* {line.ljust(width)} *" for line in lines] + [bar]))


class BuildExt(build_ext):
    """build_ext that probes the compiler once for OpenMP and -march=native."""

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            compile_args = ["/O2", "/fp:precise"]
        else:
            # No FMA contraction: identical images must give exactly 1.0 (see
            # _ssim_row), and native and portable builds give the same bits.
            compile_args = ["-O3", "-ffp-contract=off"]
            # gcc would split the loop that writes a ring row of float64 input
            # (_product_row) into memcpy calls plus a loop: two passes over the
            # input instead of one (about 10% of a float64 call).
            if _compiles(self.compiler, "int main(void){return 0;}\n",
                         ["-Werror", "-fno-tree-loop-distribute-patterns"]) is not None:
                compile_args.append("-fno-tree-loop-distribute-patterns")
        link_args = []
        macros = []

        native = _env_flag("SSIMFAST_NATIVE", "0") == "1"
        if native:
            if (self.compiler.compiler_type == "msvc" or _compiles(
                    self.compiler, "int main(void){return 0;}\n", ["-march=native"]) is None):
                raise SystemExit("ssimfast: SSIMFAST_NATIVE=1 but the compiler rejects -march=native")
            compile_args.append("-march=native")
            macros.append(("SSIMFAST_NATIVE", "1"))
        # A native build already uses every instruction this CPU has; otherwise,
        # on x86-64 with gcc or clang, add the variants the compiler can build.
        variants = []
        if (not native and self.compiler.compiler_type != "msvc"
                and platform.machine().lower() in ("x86_64", "amd64")):
            variants = [name for name, flags in X86_VARIANTS.items()
                        if _compiles(self.compiler, "int main(void){return 0;}\n", flags) is not None]
        self.extensions = [e for e in self.extensions
                           if e.name in ("ssimfast._ssim_cy", "ssimfast._codec_cy")
                           or e.name[len("ssimfast._ssim_"):] in variants]
        print("ssimfast: building kernels for " + ("this CPU" if native else
              ", ".join(["the baseline"] + variants)))

        want = _env_flag("SSIMFAST_OPENMP", "auto")
        if want != "0":
            omp_compile, omp_link = _openmp_flags(self.compiler)
            out = _compiles(self.compiler, OPENMP_PROBE, omp_compile, omp_link, run=True)
            if out is not None and out.count("nthreads=") == 2:
                compile_args += omp_compile
                link_args += omp_link
                print("ssimfast: building with OpenMP (" + " ".join(omp_compile) + ")")
            elif want == "1":
                raise SystemExit("ssimfast: SSIMFAST_OPENMP=1 but the compiler has no working OpenMP")
            else:
                _warn_box([
                    "WARNING: this compiler has no working OpenMP support.",
                    "ssimfast builds serial kernels: correct, but one core per call.",
                    "Install an OpenMP runtime (gcc: libgomp; clang: libomp) and rebuild",
                    "to score with all cores; set SSIMFAST_OPENMP=1 to make this fatal.",
                ])

        for ext in self.extensions:
            variant = ext.name[len("ssimfast._ssim_"):]
            if variant in X86_VARIANTS:
                ext.extra_compile_args = X86_VARIANTS[variant] + list(ext.extra_compile_args)
                ext.define_macros = [("SSIMFAST_TARGET", f'"{variant}"')] + list(ext.define_macros)
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args)
            ext.extra_link_args = link_args + list(ext.extra_link_args)
            ext.define_macros = macros + list(ext.define_macros)
        if self.parallel is None:  # the variants compile side by side
            self.parallel = os.cpu_count() or 1
        super().build_extensions()


# The same kernels (the .pxi files of _ssim_cy.pyx) as several modules: the baseline, and the x86
# variants (built only where BuildExt says so). -ffp-contract=off applies to all,
# so they compute the same bits.
extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in ["ssimfast._ssim_cy"] + [f"ssimfast._ssim_{v}" for v in X86_VARIANTS]
]
# PSNR/MSE and FFmpeg's SSIM: one small module, the same flags, no variants.
extensions.append(Extension("ssimfast._codec_cy", ["ssimfast/_codec_cy.pyx"],
                            include_dirs=[np.get_include()],
                            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]))

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
