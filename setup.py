"""Build of fastloss._kernels: renders the Tempita template, probes OpenMP, picks portable flags.

FASTLOSS_OPENMP=0 forces a serial build (identical results: the reduction order is fixed by blocks,
not by threads). FASTLOSS_CFLAGS adds flags (for local experiments only; wheels use the defaults).
"""

import os
import shlex
import sys
import tempfile
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
TEMPLATE = HERE / "src" / "_kernels.pyx.tp"
RENDERED = HERE / "src" / "_kernels.pyx"

# Portable: no -march=native, no -ffast-math (IEEE NaN/inf behaviour is part of our contract); the AVX2 and
# AVX-512 loops are compiled per function and chosen at import (src/fl_kernels.h).
# -fno-math-errno only stops libm from setting errno, which lets GCC inline/vectorise math calls;
# -ffp-contract=off forbids FMA contraction, so every ISA level rounds the same operations (same bits);
# -fopenmp-simd honours `#pragma omp simd` also in a build without OpenMP threads.
BASE_FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", "-fopenmp-simd"]


def kernel_parts():
    """(part names, their KERNELS entries): src/kernels_<part>.py lists a part's kernels, src/rows_<part>.pxi
    holds their row functions. One file pair per concern keeps the shared template small."""
    parts, entries = [], []
    for path in sorted((HERE / "src").glob("kernels_*.py")):
        namespace = {}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        parts.append(path.stem[len("kernels_"):])
        entries.extend(namespace["KERNELS"])
    return parts, entries


def render_template():
    from Cython import Tempita

    parts, entries = kernel_parts()
    text = Tempita.sub(TEMPLATE.read_text(), PARTS=parts, PART_KERNELS=entries)
    _write_if_changed(RENDERED, text)
    # A part may template its own file (src/rows_<part>.pxi.tp -> .pxi), with the same names in scope.
    for path in sorted((HERE / "src").glob("*.pxi.tp")):
        _write_if_changed(path.with_suffix(""), Tempita.sub(path.read_text(), PARTS=parts, PART_KERNELS=entries))


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _compiles_with_openmp(compiler) -> bool:
    """Compile and link a tiny OpenMP program with the compiler setuptools will use."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(
            "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\n"
            "return omp_get_max_threads() > 0 ? 0 : 1;}\n"
        )
        try:
            objs = compiler.compile([str(src)], output_dir=tmp, extra_postargs=["-fopenmp"])
            compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=["-fopenmp"])
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def build_extensions(self):
        want_openmp = os.environ.get("FASTLOSS_OPENMP", "1") != "0"
        openmp = want_openmp and _compiles_with_openmp(self.compiler)
        cflags = list(BASE_FLAGS) + shlex.split(os.environ.get("FASTLOSS_CFLAGS", ""))
        ldflags = []
        if openmp:
            cflags.append("-fopenmp")
            ldflags.append("-fopenmp")
        compiler_name = " ".join(getattr(self.compiler, "compiler_so", ["unknown"])[:1])
        for ext in self.extensions:
            ext.extra_compile_args = cflags
            ext.extra_link_args = ldflags
            ext.define_macros = [
                ("FASTLOSS_BUILD_FLAGS", '"' + " ".join(cflags) + '"'),
                ("FASTLOSS_COMPILER", '"' + compiler_name + '"'),
            ]
        print(
            f"fastloss build: openmp={'on' if openmp else 'off'}"
            f"{'' if want_openmp else ' (FASTLOSS_OPENMP=0)'} compiler={compiler_name} flags={' '.join(cflags)}",
            file=sys.stderr,
        )
        super().build_extensions()


def extensions():
    from Cython.Build import cythonize

    render_template()
    # The parts' .pxi files and the headers are textual includes: list them so an edit triggers a rebuild.
    depends = [str(p.relative_to(HERE)) for p in sorted((HERE / "src").glob("*.pxi"))]
    depends += [str(p.relative_to(HERE)) for p in sorted((HERE / "src").glob("*.h"))]
    ext = Extension("fastloss._kernels", [str(RENDERED.relative_to(HERE))], include_dirs=["src"], depends=depends)
    return cythonize(
        [ext],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
