"""fastloss against the NumPy oracle, one pytest-benchmark group per workload.

    pip install ".[test]"
    pytest benchmarks --benchmark-only                     # 1e3 and 1e5 elements
    FASTLOSS_BENCH_LARGE=1 pytest benchmarks --benchmark-only   # adds 1e7 elements
    pytest benchmarks --benchmark-disable                  # smoke test: every call once, no timing

Each group ``"{workload} {dtype} n={n:_}"`` holds three contestants: fastloss with ``n_threads=1``, fastloss with
the default thread count (``n_threads=None``: OpenMP's default at call time, so ``OMP_NUM_THREADS`` applies),
and ``fastloss.oracle`` (plain float64 NumPy, the reference the tests hold the kernel to). ``n`` counts the
elements of ``y_pred``. Inputs are built once per case, outside the timed region; calls are timed back to back.
Nothing here asserts a time. Each result is checked against the oracle's value (outside the timed region), so a
fast wrong answer fails instead of being reported.

``extra_info`` of every benchmark records the thread setting, the machine's usable cores, the input bytes
(for bandwidth: bytes / time) and the versions, so saved runs (``--benchmark-autosave``) can be compared with
``--benchmark-compare``.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import fastloss
from fastloss import oracle

SIZES = [1_000, 100_000]
if os.environ.get("FASTLOSS_BENCH_LARGE", "") not in ("", "0"):
    SIZES.append(10_000_000)
DTYPES = ["float32", "float64"]

# From this many elements on, use benchmark.pedantic with a bounded number of rounds.
PEDANTIC_FROM = 1_000_000
PEDANTIC_ROUNDS = {"oracle": 3}  # per contestant; others get DEFAULT_PEDANTIC_ROUNDS
DEFAULT_PEDANTIC_ROUNDS = 10

# Agreement with the oracle required of the fastloss results (a sanity check, not the accuracy tests).
RTOL = {"float32": 1e-4, "float64": 1e-8}


@dataclass
class Case:
    workload: str
    loss: str  # name in fastloss.LOSSES / fastloss.oracle
    dtype: str
    n: int
    args: tuple
    kwargs: dict = field(default_factory=dict)
    expected: float = float("nan")

    @property
    def input_bytes(self) -> int:
        arrays = list(self.args) + [v for v in self.kwargs.values() if isinstance(v, np.ndarray)]
        return int(sum(a.nbytes for a in arrays))

    @property
    def shape(self) -> tuple:
        return tuple(self.args[1].shape)


# ---------------------------------------------------------------------------------------------------------------
# Workloads. Each builder gets (n, dtype, rng) and returns a Case; n is divisible by every row width used here.


def _bce_probs_weighted(n, dtype, rng):
    rows = n // 8
    y_true = rng.integers(0, 2, size=(rows, 8)).astype(dtype)
    y_pred = rng.uniform(1e-4, 1 - 1e-4, size=(rows, 8)).astype(dtype)
    sample_weight = rng.uniform(0.5, 2.0, size=rows).astype(dtype)
    return Case(
        "binary_crossentropy(probs, sample_weight) (B,8)",
        "binary_crossentropy",
        dtype,
        n,
        (y_true, y_pred),
        {"sample_weight": sample_weight},
    )


def _bce_logits(n, dtype, rng):
    rows = n // 8
    y_true = rng.integers(0, 2, size=(rows, 8)).astype(dtype)
    y_pred = rng.normal(0.0, 3.0, size=(rows, 8)).astype(dtype)
    return Case(
        "binary_crossentropy(logits) (B,8)",
        "binary_crossentropy",
        dtype,
        n,
        (y_true, y_pred),
        {"from_logits": True},
    )


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cce_probs(n, dtype, rng):
    k = 10
    rows = n // k
    labels = rng.integers(0, k, size=rows)
    y_true = np.eye(k, dtype=dtype)[labels]
    y_pred = _softmax(rng.normal(0.0, 2.0, size=(rows, k))).astype(dtype)
    return Case(
        "categorical_crossentropy(probs, one-hot) (B,10)",
        "categorical_crossentropy",
        dtype,
        n,
        (y_true, y_pred),
    )


def _scce_logits_class_weight(n, dtype, rng):
    k = 100
    rows = n // k
    y_true = rng.integers(0, k, size=rows)  # int64 labels
    y_pred = rng.normal(0.0, 2.0, size=(rows, k)).astype(dtype)
    class_weight = rng.uniform(0.5, 2.0, size=k)  # float64, indexed by class
    return Case(
        "sparse_categorical_crossentropy(logits, class_weight) (B,100)",
        "sparse_categorical_crossentropy",
        dtype,
        n,
        (y_true, y_pred),
        {"from_logits": True, "class_weight": class_weight},
    )


def _mse_mask_weighted(n, dtype, rng):
    t, f = 10, 4  # sequences: rows (B, T), 4 values per row
    b = n // (t * f)
    y_true = rng.normal(size=(b, t, f)).astype(dtype)
    y_pred = rng.normal(size=(b, t, f)).astype(dtype)
    mask = rng.random((b, t)) < 0.8  # selects rows (timesteps)
    sample_weight = rng.uniform(0.5, 2.0, size=b).astype(dtype)  # one weight per sequence
    return Case(
        "mean_squared_error(mask, sample_weight) (B,10,4)",
        "mean_squared_error",
        dtype,
        n,
        (y_true, y_pred),
        {"mask": mask, "sample_weight": sample_weight},
    )


def _mae(n, dtype, rng):
    y_true = rng.normal(size=n).astype(dtype)  # 1-D: n rows of one value
    y_pred = rng.normal(size=n).astype(dtype)
    return Case("mean_absolute_error (N,)", "mean_absolute_error", dtype, n, (y_true, y_pred))


WORKLOADS: dict[str, Callable] = {
    "bce_probs_sw": _bce_probs_weighted,
    "bce_logits": _bce_logits,
    "cce_probs": _cce_probs,
    "scce_logits_cw": _scce_logits_class_weight,
    "mse_mask_sw": _mse_mask_weighted,
    "mae": _mae,
}

CONTESTANTS = {
    # id: (callable namespace, n_threads keyword or None for "not passed")
    "fastloss-1thread": (fastloss, 1),
    "fastloss-default": (fastloss, None),
    "oracle": (oracle, None),
}


# ---------------------------------------------------------------------------------------------------------------
# Fixtures. The case fixture is module-scoped and parametrized, so pytest builds each case once, runs the three
# contestants on it, and drops it before building the next (at most one 1e7 case in memory at a time).


@pytest.fixture(
    scope="module",
    params=[(w, d, n) for w in WORKLOADS for d in DTYPES for n in SIZES],
    ids=lambda p: f"{p[0]}-{p[1]}-n{p[2]:_}",
)
def case(request):
    workload, dtype, n = request.param
    rng = np.random.default_rng(12345)
    c = WORKLOADS[workload](n, dtype, rng)
    c.expected = getattr(oracle, c.loss)(*c.args, **c.kwargs)
    return c


@pytest.fixture(scope="session")
def versions():
    try:
        cfg = fastloss.config()
    except Exception as exc:  # recorded, never fatal for a benchmark
        cfg = {"error": repr(exc)}
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {
        "fastloss": getattr(fastloss, "__version__", cfg.get("version")),
        "fastloss_config": {k: (v if isinstance(v, (str, int, float, bool, type(None))) else repr(v))
                            for k, v in cfg.items()},
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "usable_cores": cores,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("contestant", list(CONTESTANTS))
def test_loss(benchmark, case, contestant, versions):
    namespace, n_threads = CONTESTANTS[contestant]
    fn = getattr(namespace, case.loss)
    kwargs = dict(case.kwargs)
    if namespace is fastloss:
        kwargs["n_threads"] = n_threads

    benchmark.group = f"{case.workload} {case.dtype} n={case.n:_}"
    benchmark.name = contestant
    benchmark.extra_info.update(
        contestant=contestant,
        n_threads="default (None)" if namespace is fastloss and n_threads is None else n_threads,
        shape=str(case.shape),
        input_bytes=case.input_bytes,
        **versions,
    )

    if case.n >= PEDANTIC_FROM:
        rounds = PEDANTIC_ROUNDS.get(contestant, DEFAULT_PEDANTIC_ROUNDS)
        result = benchmark.pedantic(fn, args=case.args, kwargs=kwargs, rounds=rounds, iterations=1, warmup_rounds=1)
    else:
        result = benchmark(fn, *case.args, **kwargs)

    # Outside the timed region: the benchmark measured a correct computation.
    assert isinstance(result, float)
    np.testing.assert_allclose(result, case.expected, rtol=RTOL[case.dtype], err_msg=contestant)
