"""What this build is and what a call would do now: version, OpenMP, threads, compiler, flags."""

from __future__ import annotations

import platform
import sys

import numpy as np

from . import _engine, _kernels
from ._version import __version__


def config() -> dict:
    return {
        "version": __version__,
        "openmp": _kernels.openmp_enabled(),
        "isa": _kernels.isa(),
        "threads": _engine.resolve_threads(None),
        "cores": _kernels.num_procs() if _kernels.openmp_enabled() else 1,
        "serial_below_elements": _engine.PARALLEL_MIN_ELEMENTS,
        "block_elements": _engine.BLOCK_ELEMENTS,
        "compiler": _kernels.compiler(),
        "flags": _kernels.build_flags(),
        "kernels": _kernels.__file__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def show_config(file=None) -> None:
    """Print config() one ``key: value`` per line."""
    file = sys.stdout if file is None else file
    for key, value in config().items():
        print(f"{key}: {value}", file=file)
