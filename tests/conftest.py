"""Shared test configuration: an installed-build guard, a report header, hypothesis profiles, engine hooks.

The suite must exercise the *installed* build of fastloss, not the source checkout: a checkout has no compiled
module unless someone built it in place, and a stale in-place build hides packaging bugs (a wheel without the
Python package, a missing template). ``pyproject.toml`` runs pytest with ``--import-mode=importlib`` so the
checkout is not put on ``sys.path``; this guard fails loudly if fastloss still comes from the checkout.

Developers with an in-place build (``python setup.py build_ext --inplace``) opt in with
``FASTLOSS_ALLOW_SOURCE_TREE=1`` and run ``python -m pytest`` (``-m`` puts the current directory on
``sys.path``) or set ``PYTHONPATH=.``; the compiled module must still import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGE = (REPO_ROOT / "fastloss").resolve()
ALLOW_SOURCE_TREE = os.environ.get("FASTLOSS_ALLOW_SOURCE_TREE") == "1"

# Test modules import shared helpers (oracle_cases.py) by name; --import-mode=importlib does not put tests/ on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _package_dirs(module) -> list[Path]:
    # A directory without __init__.py imports as a namespace package: __file__ is None, __path__ is set.
    if getattr(module, "__file__", None):
        return [Path(module.__file__).resolve().parent]
    return [Path(p).resolve() for p in getattr(module, "__path__", [])]


def _check_build():
    """(fastloss or None, from_source_tree, problem or None)."""
    try:
        import fastloss
    except Exception as exc:  # ImportError, or a broken build raising something else at import
        return None, False, (
            f"cannot import fastloss ({exc!r}). Install the package (pip install .) and run pytest, or, for an "
            "in-place build, run FASTLOSS_ALLOW_SOURCE_TREE=1 python -m pytest from the checkout."
        )
    dirs = _package_dirs(fastloss)
    if getattr(fastloss, "__file__", None) is None:
        return None, False, (
            f"fastloss was imported as a namespace package from {[str(d) for d in dirs]} (no __init__.py): "
            "this is not a build of fastloss."
        )
    from_source = SOURCE_PACKAGE in dirs
    if from_source and not ALLOW_SOURCE_TREE:
        return fastloss, True, (
            f"fastloss was imported from the source checkout ({fastloss.__file__}), not from an installed build. "
            "Install it (pip install .) and run pytest with the checkout off sys.path (pyproject.toml sets "
            "--import-mode=importlib; do not use `python -m pytest` or PYTHONPATH=.), or set "
            "FASTLOSS_ALLOW_SOURCE_TREE=1 to test an in-place build on purpose."
        )
    try:
        import fastloss._kernels  # noqa: F401  (the compiled module; an installed build must have it too)
    except Exception as exc:
        where = "the source checkout (in-place build)" if from_source else "the installed package"
        return fastloss, from_source, (
            f"fastloss was imported from {where} at {fastloss.__file__}, but its compiled module "
            f"fastloss._kernels does not import ({exc!r}). Build it (python setup.py build_ext --inplace, or "
            "pip install .)."
        )
    return fastloss, from_source, None


fastloss, FROM_SOURCE_TREE, GUARD_PROBLEM = _check_build()


def pytest_configure(config):
    # Exiting here (not at import) gives a one-line "Exit: ..." and return code 2 instead of a traceback.
    if GUARD_PROBLEM is not None:
        pytest.exit("fastloss test guard: " + GUARD_PROBLEM, returncode=2)
    config.addinivalue_line(
        "markers", "large: allocates ~10^7-element inputs (a few hundred MB); part of the normal suite"
    )


def pytest_report_header(config):
    where = " (source tree, FASTLOSS_ALLOW_SOURCE_TREE=1)" if FROM_SOURCE_TREE else ""
    lines = [f"fastloss: {fastloss.__file__}{where}"]
    try:
        cfg = fastloss.config()
    except Exception as exc:  # the header must never hide the test results
        lines.append(f"fastloss.config() failed: {exc!r}")
    else:
        lines.append(
            "fastloss version={} openmp={} threads={}".format(
                cfg.get("version", getattr(fastloss, "__version__", "?")), cfg.get("openmp"), cfg.get("threads")
            )
        )
    return lines


# Hypothesis profiles. "ci" (chosen when the CI environment variable is set) is reproducible and bounded;
# "dev" explores more and remembers failures in .hypothesis/. HYPOTHESIS_PROFILE overrides either.
# No deadline: the first call into an OpenMP region pays for thread start-up, which is not a test failure.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def _set_engine_hooks(monkeypatch, block_elements: int) -> None:
    engine = fastloss._engine
    # raising=True (the default): if a hook is renamed, the tests that rely on it fail instead of silently
    # testing the serial path.
    monkeypatch.setattr(engine, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(engine, "BLOCK_ELEMENTS", block_elements)


@pytest.fixture
def small_blocks(monkeypatch):
    """Run the parallel block driver on tiny inputs: no serial threshold, 7 elements per block."""
    _set_engine_hooks(monkeypatch, 7)
    return 7


ISA_LEVELS = ("baseline", "x86-64-v3", "x86-64-v4")


def _each_isa_level():
    """Selects each x86-64 level this CPU runs in turn and yields its name; the best level is restored after."""
    from fastloss import _kernels

    try:
        for level in ISA_LEVELS:
            try:
                _kernels.select_isa(level)
            except ValueError:  # this CPU does not run it
                continue
            yield level
    finally:
        _kernels.select_isa(None)


@pytest.fixture
def each_isa_level():
    """``for level in each_isa_level(): ...`` runs the body at every level this CPU runs (baseline included)."""
    return _each_isa_level


@pytest.fixture
def assert_same_bits(small_blocks):
    """A check that ``run(n_threads)`` -> (Totals, per-row array) gives the same bits for every thread count and at
    every x86-64 level this CPU runs (the baseline included); the best level is restored afterwards."""

    def check(run):
        ref_totals, ref_rows = run(1)
        for n_threads in (2, 3, 4, -1, None):
            totals, rows = run(n_threads)
            assert totals == ref_totals, f"n_threads={n_threads}"
            assert rows.tobytes() == ref_rows.tobytes(), f"n_threads={n_threads}"
        levels = []
        for level in _each_isa_level():
            levels.append(level)
            totals, rows = run(2)
            assert totals == ref_totals, level
            assert rows.tobytes() == ref_rows.tobytes(), level
        assert "baseline" in levels

    return check


@pytest.fixture(params=[7, 16], ids=lambda b: f"block{b}")
def small_block_sizes(request, monkeypatch):
    """Like ``small_blocks``, for each of two block sizes (one that divides common row lengths, one that doesn't)."""
    _set_engine_hooks(monkeypatch, request.param)
    return request.param


# ---------------------------------------------------------------------------------------------------------------
# Data for the invariance, input and class-weight tests. (Test modules cannot import each other under
# --import-mode=importlib, so shared builders are handed out as fixtures.)
# ---------------------------------------------------------------------------------------------------------------

LOSS_NAMES = (
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
)


def make_loss_data(loss, rows, K=3, dtype="float64", seed=0, from_logits=False):
    """(y_true, y_pred, loss_params) in the loss's domain, with boundary values mixed in.

    Dense targets are hard (0/1, one-hot) so that class labels (argmax over K > 1) lie in 0..K-1.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = tuple(rows)
    shape = rows + (K,)
    params = {}
    if loss in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"):
        params["from_logits"] = from_logits
        if from_logits:
            p = rng.normal(0.0, 4.0, shape)
            specials = [0.0, 50.0, -50.0, 1e3, -1e3]
        else:
            p = rng.random(shape)
            specials = [0.0, 1.0, 0.5, 1e-8]
        pick = rng.random(shape) < 0.1
        p[pick] = rng.choice(specials, int(pick.sum()))
        if loss != "binary_crossentropy" and not from_logits and p.size:
            flat = p.reshape(-1, K)
            flat[flat.sum(axis=1) == 0, 0] = 1.0
    else:
        p = rng.normal(0.0, 3.0, shape)
    if loss == "binary_crossentropy":
        y = rng.integers(0, 2, shape).astype(np.float64)
    elif loss == "categorical_crossentropy":
        y = np.eye(K)[rng.integers(0, K, rows)]
    elif loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, K, rows)
    else:
        y = rng.normal(0.0, 3.0, shape)  # with K > 1, argmax lies in 0..K-1
    p = p.astype(dtype)
    if loss != "sparse_categorical_crossentropy":
        y = y.astype(dtype)
    return y, p, params


@pytest.fixture(scope="session")
def loss_data():
    """The builder ``make_loss_data(loss, rows, K=3, dtype="float64", seed=0, from_logits=False)``."""
    return make_loss_data
