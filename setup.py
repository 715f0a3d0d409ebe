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

Builds carry no debug information (-g0 after Python's own -g), which would
make the modules several times larger; a -g flag in CFLAGS keeps it, to debug.
The .pyx files are translated to C in build_ext, only for the modules being
built and in parallel; the sdist ships no generated C.
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
            # No debug information unless the user asked for it in CFLAGS.
            if not any(f.startswith("-g") for f in os.environ.get("CFLAGS", "").split()):
                compile_args.append("-g0")
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
                           if e.name not in VARIANT_MODULES or VARIANT_MODULES[e.name] in variants]
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
            variant = VARIANT_MODULES.get(ext.name)
            if variant is not None:
                ext.extra_compile_args = X86_VARIANTS[variant] + list(ext.extra_compile_args)
                ext.define_macros = [("SSIMFAST_TARGET", f'"{variant}"')] + list(ext.define_macros)
            ext.extra_compile_args = compile_args + list(ext.extra_compile_args)
            ext.extra_link_args = link_args + list(ext.extra_link_args)
            ext.define_macros = macros + list(ext.define_macros)
        if self.parallel is None:  # the variants compile side by side
            self.parallel = os.cpu_count() or 1
        self._cythonize()
        super().build_extensions()

    def _cythonize(self):
        """Translate the .pyx sources of the modules being built to C.

        Here rather than at the top of setup.py: only the modules this build
        compiles are translated, in parallel processes (Linux: fork), and the
        sdist lists the .pyx sources, not generated C. The extension objects are
        kept (setuptools has annotated them); only their sources change.
        """
        nthreads = self.parallel if sys.platform.startswith("linux") else 0
        translated = cythonize(self.extensions, nthreads=nthreads, force=self.force,
                               compiler_directives=CYTHON_DIRECTIVES)
        for ext, new in zip(self.extensions, translated):
            assert ext.name == new.name
            ext.sources = new.sources


CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
}

# The same kernels (_kernels.pxi) as several modules: the x86 variants are built
# only where BuildExt says so. -ffp-contract=off applies to all, so they compute
# the same bits.
VARIANT_MODULES = {f"ssimfast._ssim_{v}": v for v in X86_VARIANTS}


def _module(name):
    """The extension `name` (ssimfast/<stem>.pyx), compiled with the kernels' flags."""
    return Extension(name, [name.replace(".", "/") + ".pyx"], include_dirs=[np.get_include()],
                     define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])


# Every compiled module, one line each. The variants are left out by BuildExt
# where the compiler or platform cannot build them.
extensions = [
    _module("ssimfast._ssim_cy"),
    *[_module(name) for name in VARIANT_MODULES],
    _module("ssimfast._codec_cy"),  # PSNR/MSE and FFmpeg's SSIM: no variants
]

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
