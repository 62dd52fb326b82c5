"""fastloss against the NumPy oracle and every installed peer, one pytest-benchmark group per workload.

    pip install ".[bench]"                                  # the peers: torch (CPU), jax, numba, scikit-learn
    python benchmarks/report.py                             # run everything, write benchmarks/results/latest.*
    pytest benchmarks --benchmark-only                      # the suite alone: 1e3 and 1e5 elements + fixed shapes
    FASTLOSS_BENCH_LARGE=1 pytest benchmarks --benchmark-only   # adds 1e7 elements
    pytest benchmarks --benchmark-disable                   # smoke test: every call once, no timing

Each group ``"{workload} {dtype} {size}"`` holds these contestants (a contestant whose library is not installed is
skipped on its own, the others still run):

- ``oracle``: ``fastloss.oracle``, plain float64 NumPy, the reference every other result is checked against;
- ``fastloss-1thread`` and ``fastloss-default`` (``n_threads=None``: OpenMP's default at call time, so
  ``OMP_NUM_THREADS`` applies), through the public API, validation included;
- ``torch``, ``jax``, ``numba``, ``sklearn``: the peers, written in ``peers.py`` the idiomatic fast way, each
  computing the same number (same weighting, same divisor); torch and numba run on the default thread count;
- ``roofline``: ``fastloss._kernels.stream_sum`` over a buffer of the same number of bytes as the workload's
  inputs, on the default thread count: what merely reading those bytes costs on this machine, in this run, so best
  peer / roofline bounds the speed-up of any loss that reads its inputs once;
- ``exp-floor`` (the workloads from logits, whose losses need an exp per element): ``fastloss._kernels.exp_sum``,
  Σ exp(-|z|) over the workload's logits with fastloss's own exp (float lanes for float32) on the default thread
  count: what those exps cost with no other loss math. No loss with this exp can take less time, so best peer /
  exp floor bounds its speed-up.

Sizes: sized workloads have ``n`` elements of ``y_pred`` (1e3, 1e5, and 1e7 with ``FASTLOSS_BENCH_LARGE=1``);
sparse categorical crossentropy and segmentation run on fixed shapes. Inputs are built once per case, outside the
timed region (as are torch tensors, JAX device arrays, JIT compilation and numba compilation); calls are timed
back to back, so thread pools are awake. Nothing here asserts a time.

Every result is checked outside the timed region against the oracle's value: fastloss and the oracle to
``RTOL``; a peer must be within 1e-2 (anything further is a wrong convention and fails the test), and
``extra_info["accurate"]`` says whether it is within ``PEER_RTOL`` (float32 peers accumulate in float32); only
accurate peers count as "best peer" in ``report.py``.

``extra_info`` of every benchmark records the contestant, workload, dtype, shape, element count, the bytes the
workload reads (``bytes_read``), the thread count, the peer's relative error, and the versions, so saved runs
(``--benchmark-autosave``) can be compared with ``--benchmark-compare`` and ``report.py`` can build its table.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest

import fastloss
import fastloss._kernels
from fastloss import oracle


def _load_peers():
    # benchmarks/ is not a package and --import-mode=importlib keeps it off sys.path: load peers.py by path.
    name = "fastloss_bench_peers"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("peers.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


peers = _load_peers()

SIZES = [1_000, 100_000]
if os.environ.get("FASTLOSS_BENCH_LARGE", "") not in ("", "0"):
    SIZES.append(10_000_000)
DTYPES = ["float32", "float64"]
QUICK = os.environ.get("FASTLOSS_BENCH_QUICK", "") not in ("", "0")

# From this many elements on, use benchmark.pedantic with a bounded number of rounds.
PEDANTIC_FROM = 1_000_000
SLOW_CONTESTANTS = ("oracle", "sklearn")  # seconds per call at 1e7: few rounds, no warm-up (conftest.WARMUP_S)
PEDANTIC_ROUNDS = 3 if QUICK else 10
SLOW_PEDANTIC_ROUNDS = 1 if QUICK else 3

# Agreement with the oracle required of fastloss (a sanity check, not the accuracy tests).
RTOL = {"float32": 1e-4, "float64": 1e-8}
# A peer within PEER_RTOL is "accurate" (may be the best peer); beyond WRONG_RTOL it computes something else.
PEER_RTOL = {"float32": 1e-4, "float64": 1e-8}
WRONG_RTOL = 1e-2


def _default_threads() -> int:
    try:
        return int(fastloss.config()["threads"])
    except Exception:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1


THREADS = _default_threads()


@dataclass
class Case:
    workload: str  # key in WORKLOADS
    label: str  # what is computed, for humans
    loss: str  # name in fastloss.LOSSES / fastloss.oracle
    dtype: str
    size: object  # int n (sized workloads) or the fixed shape
    args: tuple
    kwargs: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # named inputs and parameters, for the peers
    expected: Optional[float] = None  # the oracle's value, computed once

    @property
    def shape(self) -> tuple:
        return tuple(self.args[1].shape)

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def size_text(self) -> str:
        if isinstance(self.size, tuple):
            return "×".join(str(s) for s in self.size)
        return f"n={self.size:_}"

    @property
    def input_bytes(self) -> int:
        arrays = list(self.args) + [v for v in self.kwargs.values() if isinstance(v, np.ndarray)]
        return int(sum(a.nbytes for a in arrays))

    def reference(self) -> float:
        if self.expected is None:
            self.expected = getattr(oracle, self.loss)(*self.args, **self.kwargs)
        return self.expected


# ---------------------------------------------------------------------------------------------------------------
# Workloads. Each builder gets (size, dtype, rng) and returns a Case; size is the element count n (divisible by
# every row width used) or the fixed shape of y_pred. Probabilities stay inside [1e-4, 1 - 1e-4], so no clip bound
# is reached and every peer's own guard agrees with Keras's clip.


def _bce_probs_weighted(n, dtype, rng):
    rows = n // 8
    y_true = rng.integers(0, 2, size=(rows, 8)).astype(dtype)
    y_pred = rng.uniform(1e-4, 1 - 1e-4, size=(rows, 8)).astype(dtype)
    sample_weight = rng.uniform(0.5, 2.0, size=rows).astype(dtype)
    kwargs = {"sample_weight": sample_weight, "reduction": "mean_with_sample_weight"}
    return Case("bce_probs_sw", "BCE probs, sample_weight, Σwl/Σw (B,8)", "binary_crossentropy", dtype, n,
                (y_true, y_pred), kwargs, dict(y_true=y_true, y_pred=y_pred, sample_weight=sample_weight))


def _bce_logits(n, dtype, rng):
    rows = n // 8
    y_true = rng.integers(0, 2, size=(rows, 8)).astype(dtype)
    y_pred = rng.normal(0.0, 3.0, size=(rows, 8)).astype(dtype)
    return Case("bce_logits", "BCE logits, mean (B,8)", "binary_crossentropy", dtype, n,
                (y_true, y_pred), {"from_logits": True}, dict(y_true=y_true, y_pred=y_pred))


def _scce_logits_class_weight(shape, dtype, rng):
    rows, k = shape
    labels = rng.integers(0, k, size=rows)  # int64 labels
    y_pred = rng.normal(0.0, 2.0, size=(rows, k)).astype(dtype)
    class_weight = rng.uniform(0.5, 2.0, size=k)  # float64, indexed by class
    kwargs = {"from_logits": True, "class_weight": class_weight, "reduction": "mean_with_sample_weight"}
    return Case("scce_logits_cw", "sparse CCE logits, class_weight, Σwl/Σw", "sparse_categorical_crossentropy",
                dtype, shape, (labels, y_pred), kwargs, dict(labels=labels, y_pred=y_pred, class_weight=class_weight))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cce_probs_smoothed(n, dtype, rng):
    k = 10
    rows = n // k
    labels = rng.integers(0, k, size=rows)
    y_true = np.eye(k, dtype=dtype)[labels]
    y_pred = np.clip(_softmax(rng.normal(0.0, 2.0, size=(rows, k))), 1e-4, 1.0).astype(dtype)
    return Case("cce_probs_ls", "CCE probs, one-hot, label_smoothing=0.1 (B,10)", "categorical_crossentropy", dtype,
                n, (y_true, y_pred), {"label_smoothing": 0.1},
                dict(y_true=y_true, y_pred=y_pred, label_smoothing=0.1))


def _mse_mask_weighted(n, dtype, rng):
    t, f = 10, 4  # sequences: rows (B, T), 4 values per row
    b = n // (t * f)
    y_true = rng.normal(size=(b, t, f)).astype(dtype)
    y_pred = rng.normal(size=(b, t, f)).astype(dtype)
    mask = rng.random((b, t)) < 0.8  # selects rows (timesteps)
    sample_weight = rng.uniform(0.5, 2.0, size=b).astype(dtype)  # one weight per sequence
    kwargs = {"mask": mask, "sample_weight": sample_weight, "reduction": "mean_with_sample_weight"}
    return Case("mse_mask_sw", "MSE, mask, sample_weight, Σwl/Σw (B,10,4)", "mean_squared_error", dtype, n,
                (y_true, y_pred), kwargs, dict(y_true=y_true, y_pred=y_pred, mask=mask, sample_weight=sample_weight))


def _mae(n, dtype, rng):
    y_true = rng.normal(size=n).astype(dtype)  # 1-D: n rows of one value
    y_pred = rng.normal(size=n).astype(dtype)
    return Case("mae", "MAE, mean (N,)", "mean_absolute_error", dtype, n, (y_true, y_pred), {},
                dict(y_true=y_true, y_pred=y_pred))


def _segmentation(shape, dtype, rng):
    y_true = (rng.random(shape) < 0.3).astype(dtype)  # binary masks, K == 1
    y_pred = rng.uniform(1e-4, 1 - 1e-4, size=shape).astype(dtype)
    return y_true, y_pred


def _seg_bce_pixel_weights(shape, dtype, rng):
    y_true, y_pred = _segmentation(shape, dtype, rng)
    pixel_weight = rng.uniform(0.5, 2.0, size=shape[:-1]).astype(dtype)  # (B, H, W): one weight per pixel
    return Case("seg_bce_pw", "segmentation BCE, per-pixel weights, mean", "binary_crossentropy", dtype, shape,
                (y_true, y_pred), {"sample_weight": pixel_weight},
                dict(y_true=y_true, y_pred=y_pred, sample_weight=pixel_weight))


def _seg_bce_class_weights(shape, dtype, rng):
    y_true, y_pred = _segmentation(shape, dtype, rng)
    class_weight = {0: 0.25, 1: 3.0}  # per-pixel class weights: the class of a K == 1 row is its rounded target
    return Case("seg_bce_cw", "segmentation BCE, per-pixel class_weight, mean", "binary_crossentropy", dtype, shape,
                (y_true, y_pred), {"class_weight": class_weight},
                dict(y_true=y_true, y_pred=y_pred, class_weight=class_weight))


def _seg_focal(shape, dtype, rng):
    y_true, y_pred = _segmentation(shape, dtype, rng)
    return Case("seg_focal", "segmentation binary focal crossentropy (γ=2), mean", "binary_focal_crossentropy", dtype,
                shape, (y_true, y_pred), {"gamma": 2.0}, dict(y_true=y_true, y_pred=y_pred, gamma=2.0))


def _seg_dice(shape, dtype, rng):
    y_true, y_pred = _segmentation(shape, dtype, rng)
    axes = tuple(range(1, len(shape)))
    return Case("seg_dice", "segmentation Dice, axis=(1,2,3), mean over samples", "dice", dtype, shape,
                (y_true, y_pred), {"axis": axes}, dict(y_true=y_true, y_pred=y_pred))


def _keras_legacy(n, dtype, rng):
    t, k = 10, 10  # sequence tagging: (N, T) steps, 10 classes, softmax probabilities
    b = n // (t * k)
    labels = rng.integers(0, k, size=(b, t))
    y_pred = np.clip(_softmax(rng.normal(0.0, 2.0, size=(b, t, k))), 1e-4, 1.0).astype(dtype)
    mask = rng.random((b, t)) < 0.8
    temporal_weight = rng.uniform(0.5, 2.0, size=(b, t))
    temporal_weight[rng.random((b, t)) < 0.1] = 0.0  # some zero weights: E0 < E
    temporal_weight = temporal_weight.astype(dtype)
    kwargs = {"mask": mask, "sample_weight": temporal_weight, "reduction": "keras_legacy"}
    return Case("keras_legacy", "sparse CCE probs, temporal weights, mask, keras_legacy (N,10,10)",
                "sparse_categorical_crossentropy", dtype, n, (labels, y_pred), kwargs,
                dict(labels=labels, y_pred=y_pred, mask=mask, sample_weight=temporal_weight))


SEGMENTATION = [(32, 512, 512, 1)]

# key: (builder, sizes or fixed shapes)
WORKLOADS: dict[str, tuple[Callable, list]] = {
    "bce_probs_sw": (_bce_probs_weighted, SIZES),
    "bce_logits": (_bce_logits, SIZES),
    "scce_logits_cw": (_scce_logits_class_weight, [(100_000, 10), (10_000, 1_000), (256, 32_000)]),
    "cce_probs_ls": (_cce_probs_smoothed, SIZES),
    "mse_mask_sw": (_mse_mask_weighted, SIZES),
    "mae": (_mae, SIZES),
    "seg_bce_pw": (_seg_bce_pixel_weights, SEGMENTATION),
    "seg_bce_cw": (_seg_bce_class_weights, SEGMENTATION),
    # fastloss.binary_focal_crossentropy and fastloss.dice come from the loss catalog: their cases are skipped (with
    # the reason) by a build without them.
    "seg_focal": (_seg_focal, SEGMENTATION),
    "seg_dice": (_seg_dice, SEGMENTATION),
    "keras_legacy": (_keras_legacy, SIZES),
}

# The oracle runs first in each case: its value is the reference the others are checked against.
CONTESTANTS = ["oracle", "fastloss-1thread", "fastloss-default", "torch", "jax", "numba", "sklearn", "roofline",
               "exp-floor"]
# The floors: contestant -> (the _kernels probe over the workload's logits, the workloads it applies to, why not).
FLOORS = {
    "exp-floor": ("exp_sum", lambda case: case.kwargs.get("from_logits", False),
                  "only the workloads from logits need an exp per element"),
}


def _size_id(size):
    return "x".join(map(str, size)) if isinstance(size, tuple) else f"n{size:_}"


# ---------------------------------------------------------------------------------------------------------------
# Fixtures. The case fixture is module-scoped and parametrized, so pytest builds each case once, runs every
# contestant on it, and drops it before building the next (at most one large case in memory at a time).


@pytest.fixture(
    scope="module",
    params=[(w, d, s) for w, (_, sizes) in WORKLOADS.items() for d in DTYPES for s in sizes],
    ids=lambda p: f"{p[0]}-{p[1]}-{_size_id(p[2])}",
)
def case(request):
    workload, dtype, size = request.param
    rng = np.random.default_rng(12345)
    built = WORKLOADS[workload][0](size, dtype, rng)
    missing = [where for where, module in (("fastloss", fastloss), ("fastloss.oracle", oracle))
               if not hasattr(module, built.loss)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} has no {built.loss} in this build")
    return built


def _dist_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


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
        "peers": {name: _dist_version(dist) for name, dist in
                  [("torch", "torch"), ("jax", "jax"), ("jaxlib", "jaxlib"), ("numba", "numba"),
                   ("sklearn", "scikit-learn")]},
    }


# ---------------------------------------------------------------------------------------------------------------


def _callable(case, contestant):
    """The timed call (zero arguments) of a contestant on a case, or None when it has no such workload."""
    if contestant == "oracle":
        fn = getattr(oracle, case.loss)
        return lambda: fn(*case.args, **case.kwargs)
    if contestant.startswith("fastloss-"):
        fn = getattr(fastloss, case.loss)
        kwargs = dict(case.kwargs, n_threads=1 if contestant == "fastloss-1thread" else None)
        return lambda: fn(*case.args, **kwargs)
    if contestant == "roofline":
        stream_sum = getattr(fastloss._kernels, "stream_sum", None)
        if stream_sum is None:
            pytest.skip("this build of fastloss has no _kernels.stream_sum (rebuild it)")
        buf = np.ones(case.input_bytes // np.dtype(case.dtype).itemsize, dtype=case.dtype)
        return lambda: stream_sum(buf, THREADS)
    if contestant in FLOORS:
        probe, applies, why_not = FLOORS[contestant]
        if not applies(case):
            pytest.skip(f"{contestant}: {why_not}")
        kernel = getattr(fastloss._kernels, probe, None)
        if kernel is None:
            pytest.skip(f"this build of fastloss has no _kernels.{probe} (rebuild it)")
        logits = np.ascontiguousarray(case.args[1]).reshape(-1)
        return lambda: kernel(logits, THREADS)
    pytest.importorskip(peers.PEER_MODULES[contestant])
    return peers.FACTORIES[contestant](case, THREADS)


@pytest.mark.parametrize("contestant", CONTESTANTS)
def test_loss(benchmark, case, contestant, versions, warmup_rounds):
    run = _callable(case, contestant)
    if run is None:
        pytest.skip(f"{contestant} cannot express this workload's convention")

    benchmark.group = f"{case.label} {case.dtype} {case.size_text}"
    benchmark.name = contestant
    benchmark.extra_info.update(
        contestant=contestant,
        workload=case.workload,
        label=case.label,
        dtype=case.dtype,
        size=case.size_text,
        shape=str(case.shape),
        n=case.n,
        bytes_read=case.input_bytes,
        input_bytes=case.input_bytes,
        threads=1 if contestant == "fastloss-1thread" else THREADS,
        n_threads="default (None)" if contestant == "fastloss-default" else (1 if contestant == "fastloss-1thread" else None),
        **versions,
    )

    if case.n >= PEDANTIC_FROM:
        slow = contestant in SLOW_CONTESTANTS
        result = benchmark.pedantic(run, rounds=SLOW_PEDANTIC_ROUNDS if slow else PEDANTIC_ROUNDS, iterations=1,
                                    warmup_rounds=0 if slow else warmup_rounds(run))
    else:
        result = benchmark(run)

    # Outside the timed region: the benchmark measured a correct computation.
    if contestant == "roofline":
        assert result == case.input_bytes // np.dtype(case.dtype).itemsize
        return
    if contestant in FLOORS:
        tails = np.exp(-np.abs(case.args[1].astype(np.float64)))
        want = float(np.sum(tails if contestant == "exp-floor" else np.log1p(tails)))
        np.testing.assert_allclose(result, want, rtol=RTOL[case.dtype], err_msg=contestant)
        return
    value = float(result)
    expected = case.reference() if contestant != "oracle" else case.expected
    if expected is None:  # the oracle contestant: its value is the reference
        case.expected = expected = value
    rel_err = abs(value - expected) / abs(expected) if expected else abs(value - expected)
    benchmark.extra_info["rel_err"] = rel_err
    if contestant in peers.FACTORIES:
        benchmark.extra_info["accurate"] = bool(rel_err <= PEER_RTOL[case.dtype])
        assert math.isfinite(value) and rel_err <= WRONG_RTOL, (
            f"{contestant} computes {value!r}, the oracle {expected!r}: not the same quantity"
        )
    else:
        assert isinstance(result, float)
        np.testing.assert_allclose(value, expected, rtol=RTOL[case.dtype], err_msg=contestant)
