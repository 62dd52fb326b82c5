"""pytest configuration for the benchmarks (pytest-benchmark).

Files here are named ``bench_*.py`` so that ``pytest tests`` (and a bare ``pytest``, whose testpaths is ``tests``)
never runs them; the hook below makes ``pytest benchmarks`` collect them.

Like the tests, the benchmarks must time the installed build, not the checkout: with
``--import-mode=importlib`` (set in pyproject.toml) and the ``pytest`` script, the checkout is not on sys.path.
``FASTLOSS_ALLOW_SOURCE_TREE=1`` allows an in-place build (``python setup.py build_ext --inplace``).
"""

import math
import os
import time
from pathlib import Path

import pytest

CHECKOUT_PACKAGE = Path(__file__).resolve().parents[1] / "fastloss"


def pytest_collect_file(file_path, parent):
    # Files named on the command line are collected by pytest's own hook whatever their name; only add the
    # bench_*.py files that pytest finds while walking a directory.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_configure(config):
    if not config.pluginmanager.hasplugin("benchmark"):
        raise pytest.UsageError(
            "the benchmarks need pytest-benchmark: pip install '.[test]' (or pip install pytest-benchmark)"
        )
    try:
        import fastloss
        import fastloss._kernels  # noqa: F401  (the compiled module)
    except Exception as exc:
        raise pytest.UsageError(
            f"cannot import fastloss and its compiled module ({exc!r}). Install it (pip install '.[test]'), or "
            "for an in-place build run FASTLOSS_ALLOW_SOURCE_TREE=1 python -m pytest benchmarks from the checkout."
        ) from None

    location = Path(fastloss.__file__).resolve().parent
    if location == CHECKOUT_PACKAGE and os.environ.get("FASTLOSS_ALLOW_SOURCE_TREE") != "1":
        raise pytest.UsageError(
            f"fastloss was imported from the checkout ({location}), not from the installed build. "
            "Install it (pip install '.[test]') and run the `pytest` script, not `python -m pytest`; "
            "for an in-place build set FASTLOSS_ALLOW_SOURCE_TREE=1."
        )


# The timed rounds of a pedantic benchmark (a few rounds of a long call) follow warm-up calls made back to back
# for at least this long, as the other benchmarks' rounds follow pytest-benchmark's calibration loop. Thread pools,
# JIT and CPU caches are then in the state that back-to-back calls keep them in, for every contestant alike:
# fastloss's thread rule, for one, wakes its workers for calls below 2^21 elements only after 8 ms of back-to-back
# one-thread calls (_engine.WAKE_UP_BUDGET_S), so that one warm-up call left a 1e6-element call's rounds mostly on
# one thread (README, "Threads").
WARMUP_S = 0.03


@pytest.fixture
def warmup_rounds():
    """warmup_rounds(run) -> the warm-up rounds that fill WARMUP_S (at least 1, at most 100), from one call of
    run (itself a warm-up call)."""

    def rounds(run):
        start = time.perf_counter()
        run()
        once = time.perf_counter() - start
        return max(1, min(100, math.ceil(WARMUP_S / max(once, 1e-9))))

    return rounds
