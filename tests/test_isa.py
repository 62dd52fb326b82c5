"""The SIMD loops are compiled for several x86-64 levels and chosen at import; every level gives the same bits.

A wheel runs on any x86-64 CPU, so the baseline (SSE2) loops are what an old machine gets. These tests run
every loss through each level this CPU supports and require bit-identical totals and per-row outputs.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss
from fastloss import _kernels

LEVELS = ("baseline", "x86-64-v3", "x86-64-v4")  # also tests/conftest.py ISA_LEVELS, which each_isa_level walks


def _workloads():
    rng = np.random.default_rng(7)
    n, t, k = 301, 3, 6
    probs = rng.random((n, t, k))
    probs[0, 0, :2] = (0.0, 1.0)  # clip bounds
    targets = (rng.random((n, t, k)) > 0.5).astype(float)
    logits = rng.normal(scale=8, size=(n, t, k))
    onehot = np.eye(k)[rng.integers(0, k, (n, t))]
    dist = probs / probs.sum(-1, keepdims=True)
    labels = rng.integers(0, k, (n, t))
    weights = rng.random(n)
    mask = rng.random((n, t)) > 0.2
    common = dict(sample_weight=weights, mask=mask)
    # Class weights: K == 1 targets rounded half to even (2.5 and 1.5 are class 2), argmax of one-hot rows.
    binary = rng.choice([0.0, 0.5, 1.0, 1.5, 2.5, -0.5], (n, t, 1))
    class_weight = dict(class_weight=np.array([0.5, 2.0, 0.0, 1.5, 3.0, 1.0]), **common)
    return {
        "bce_class_weight": lambda dt, red, n: fastloss.binary_crossentropy(
            binary.astype(dt), probs[..., :1].astype(dt), reduction=red, n_threads=n, **class_weight),
        "cce_class_weight": lambda dt, red, n: fastloss.categorical_crossentropy(onehot.astype(dt), dist.astype(dt),
                                                                              reduction=red, n_threads=n,
                                                                              **class_weight),
        "bce": lambda dt, red, n: fastloss.binary_crossentropy(targets.astype(dt), probs.astype(dt), label_smoothing=0.1,
                                                            reduction=red, n_threads=n, **common),
        "bce_hard": lambda dt, red, n: fastloss.binary_crossentropy(targets.astype(dt), probs.astype(dt),
                                                                 reduction=red, n_threads=n, **common),
        "bce_logits": lambda dt, red, n: fastloss.binary_crossentropy(targets.astype(dt), logits.astype(dt),
                                                                   from_logits=True, reduction=red, n_threads=n, **common),
        "cce": lambda dt, red, n: fastloss.categorical_crossentropy(onehot.astype(dt), dist.astype(dt), reduction=red, n_threads=n,
                                                                 **common),
        "cce_logits": lambda dt, red, n: fastloss.categorical_crossentropy(onehot.astype(dt), logits.astype(dt),
                                                                        from_logits=True, label_smoothing=0.2,
                                                                        reduction=red, n_threads=n, **common),
        "scce_logits": lambda dt, red, n: fastloss.sparse_categorical_crossentropy(labels, logits.astype(dt),
                                                                                from_logits=True, reduction=red, n_threads=n,
                                                                                **common),
        "mse": lambda dt, red, n: fastloss.mean_squared_error(targets.astype(dt), logits.astype(dt), reduction=red, n_threads=n,
                                                           **common),
        "mae": lambda dt, red, n: fastloss.mean_absolute_error(targets.astype(dt), logits.astype(dt), reduction=red, n_threads=n,
                                                            **common),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_workloads()))
def test_every_isa_level_gives_the_same_bits(name, dtype, assert_same_bits):
    run = _workloads()[name]
    assert_same_bits(lambda n_threads: (run(dtype, "totals", n_threads), run(dtype, "none", n_threads)))


def test_unknown_level_is_refused_by_name():
    with pytest.raises(ValueError, match="isa: unknown level 'sse9'"):
        _kernels.select_isa("sse9")
    assert _kernels.isa() in LEVELS


def test_environment_variable_forces_the_baseline_at_import():
    code = "import fastloss; print(fastloss.config()['isa'])"
    env = dict(os.environ, FASTLOSS_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(fastloss.__file__)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "baseline"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_hard_label_shortcut_gives_the_bits_of_the_two_log_formula(dtype):
    # A chunk whose targets are all 0/1 takes one log per element; one soft target in a masked row sends the
    # same chunk through the two-log formula. Included rows must not see the difference.
    rng = np.random.default_rng(3)
    y = (rng.random((500, 4)) > 0.5).astype(dtype)
    p = rng.random((500, 4)).astype(dtype)
    p[:3] = (0.0, 1.0, 0.5, 1e-12)  # both clip bounds
    mask = np.ones(500, dtype=bool)
    mask[17] = False
    soft = y.copy()
    soft[17] = 0.5
    hard_rows = fastloss.binary_crossentropy(y, p, mask=mask, reduction="none")
    soft_rows = fastloss.binary_crossentropy(soft, p, mask=mask, reduction="none")
    assert hard_rows.tobytes() == soft_rows.tobytes()
    assert fastloss.binary_crossentropy(y, p, mask=mask, reduction="totals") == \
        fastloss.binary_crossentropy(soft, p, mask=mask, reduction="totals")
    reference = fastloss.oracle.binary_crossentropy(y, p, mask=mask, reduction="none")
    np.testing.assert_allclose(hard_rows, reference, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_full_chunks_give_the_same_bits_at_every_level(dtype, each_isa_level):
    # The workloads above run in blocks of 7 elements; here the engine's own blocks hold full chunks of rows, so the
    # per-row loops (row means of short rows, mask and sample-weight runs, labels, class weights) run as whole
    # vectors.
    rng = np.random.default_rng(8)
    n, t = 1500, 9
    mask = rng.random((n, t)) > 0.3
    weights = rng.random(n)
    weights[:50] = 0.0
    cases = {
        "bce class_weight K=1": (rng.choice([0.0, 0.5, 1.0, 1.5, 2.5, -0.5], (n, t, 1)), rng.random((n, t, 1)),
                                 dict(class_weight=np.array([0.5, 2.0, 0.0]), sample_weight=weights, mask=mask)),
        "bce class_weight K=1, table of 6": (
            rng.choice([0.0, 1.0, 2.5, 3.5, 4.6, -0.5], (n, t, 1)), rng.random((n, t, 1)),
            dict(class_weight=np.array([0.5, 2.0, 0.0, 1.5, 3.0, 1.0]), mask=mask[:, 0])),
        "bce class_weight K=4": (np.eye(4)[rng.integers(0, 4, (n, t))], rng.random((n, t, 4)),
                                 dict(class_weight={0: 0.5, 1: 2.0, 2: 0.0, 3: 1.5}, sample_weight=weights,
                                      mask=mask[:, 0])),
        "bce sample_weight runs, mask": (rng.random((n, t, 4)).round(), rng.random((n, t, 4)),
                                         dict(sample_weight=weights, mask=mask)),
        "bce K=3, mask": (rng.random((n, t, 3)).round(), rng.random((n, t, 3)), dict(mask=mask)),
        "bce K=7, sample_weight per row": (rng.random((n, t, 7)).round(), rng.random((n, t, 7)),
                                           dict(sample_weight=rng.random((n, t)))),
    }
    for name, (y, p, kw) in cases.items():
        y, p = y.astype(dtype), p.astype(dtype)
        reference = None
        for level in each_isa_level():
            got = (fastloss.binary_crossentropy(y, p, reduction="totals", **kw),
                   fastloss.binary_crossentropy(y, p, reduction="none", **kw).tobytes())
            reference = reference or got
            assert got == reference, f"{name} at {level}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_stream_sum_is_the_sum_at_every_level_and_thread_count(dtype, each_isa_level):
    # The benchmarks' roofline reads its buffer through the dispatched level; its value must still be the sum.
    rng = np.random.default_rng(9)
    x = rng.uniform(-1.0, 1.0, 3 * (1 << 14) + 37).astype(dtype)  # whole blocks, a partial one, a lane tail
    want = float(np.sum(x.astype(np.float64)))
    levels = []
    for level in each_isa_level():
        levels.append(level)
        for threads in (1, 2):
            assert _kernels.stream_sum(x, threads) == pytest.approx(want, rel=1e-12, abs=1e-9), (level, threads)
        assert _kernels.stream_sum(x[:0], 1) == 0.0
    assert "baseline" in levels


# The benchmarks' floors: (kernel, term in float64, float32 tolerance, specials). exp floor: Σ exp(-|x|) with the
# losses' exp, float lanes for float32 (< 1 float ulp a term); exp(0) = 1 from either zero, float32's 2^-150 range
# ends in 0.
FLOOR_PROBES = {
    "exp_sum": (lambda a: np.exp(-a), 1e-7, (0.0, -0.0, -120.0)),
}


@pytest.mark.parametrize("probe", list(FLOOR_PROBES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_floor_probe_is_the_sum_of_its_terms_at_every_level_and_thread_count(probe, dtype, each_isa_level):
    term, float32_rel, specials = FLOOR_PROBES[probe]
    kernel = getattr(_kernels, probe)
    rng = np.random.default_rng(10)
    x = rng.normal(0.0, 4.0, 3 * (1 << 14) + 37).astype(dtype)
    x[:len(specials)] = specials
    want = float(np.sum(term(np.abs(x.astype(np.float64)))))
    rel = float32_rel if dtype == np.float32 else 1e-13
    results = set()
    for level in each_isa_level():
        for threads in (1, 2):
            got = kernel(x, threads)
            assert got == pytest.approx(want, rel=rel), (level, threads)
            results.add(got)
        assert kernel(x[:0], 1) == 0.0
    assert len(results) == 1  # fixed blocks and lanes: the same bits at every level and thread count


def _rows_of_eight_to_fifteen(K, dtype):
    """name -> (call(reduction), reference(reduction)): the losses whose chunks sum rows of K terms with FL_ROW_SUMS
    (eight rows at a time at x86-64-v4 when 8 <= K < 16), on 1001 rows: several chunks, parts and a last group of
    fewer than eight rows."""
    rng = np.random.default_rng(K)
    n = 1001
    p = rng.dirichlet(np.ones(K), n)
    p[1, :] = 0.0
    p[1, 3] = 1.0  # an exact one-hot row: clip bounds and zeros
    p[2, : K // 2] = -0.0  # -0.0 passes the range check and is summed as it is
    p[5, -1] = 1e-300 if dtype == np.float64 else 1e-30
    logits = rng.normal(scale=6, size=(n, K))
    logits[3] = 0.0
    labels = rng.integers(0, K, n)
    onehot = np.eye(K)[labels]
    soft = rng.dirichlet(np.ones(K), n)
    mask = rng.random(n) > 0.1
    class_weight = rng.random(K) + 0.5
    p, logits, onehot, soft = (a.astype(dtype) for a in (p, logits, onehot, soft))
    cases = {
        "cce probabilities, smoothing": lambda m, red: m.categorical_crossentropy(
            onehot, p, label_smoothing=0.1, mask=mask, reduction=red),
        "cce probabilities, soft targets": lambda m, red: m.categorical_crossentropy(soft, p, reduction=red),
        "cce logits, smoothing": lambda m, red: m.categorical_crossentropy(
            onehot, logits, from_logits=True, label_smoothing=0.2, reduction=red),
        "sparse cce logits, class_weight": lambda m, red: m.sparse_categorical_crossentropy(
            labels, logits, from_logits=True, class_weight=class_weight, mask=mask, reduction=red),
        "categorical focal, probabilities": lambda m, red: m.categorical_focal_crossentropy(
            onehot, p, reduction=red),
        "categorical focal, logits": lambda m, red: m.categorical_focal_crossentropy(
            onehot, logits, from_logits=True, reduction=red),
    }
    return cases


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("K", [8, 9, 10, 12, 15, 16])
def test_rows_of_eight_to_fifteen_classes_give_the_same_bits_at_every_level(K, dtype, each_isa_level):
    for name, run in _rows_of_eight_to_fifteen(K, dtype).items():
        reference = None
        for level in each_isa_level():
            got = (run(fastloss, "totals"), run(fastloss, "none").tobytes())
            reference = reference or got
            assert got == reference, f"{name} at {level}"
        rows = run(fastloss, "none")
        expected = run(fastloss.oracle, "none")
        # (float64 rows of confident predictions lose ~1e-23 to cancellation: hence the small atol)
        np.testing.assert_allclose(rows, expected, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-15,
                                   err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("K", [8, 10, 15])
def test_row_maxima_of_special_logits_give_the_same_bits_at_every_level(K, dtype, each_isa_level):
    # x86-64-v4 takes the maxima of rows of 8 to 15 logits eight rows at a time, in another order of comparisons:
    # rows with NaN (of either sign, anywhere), infinities and signed zeros must still give the same bits.
    rng = np.random.default_rng(K)
    z = rng.normal(0.0, 2.0, (67, K))
    for r in range(0, 64, 3):
        z[r, r % K] = np.nan
    z[1] = -0.0
    z[2] = 0.0
    z[2, 3] = -0.0
    z[4, 2] = np.inf
    z[5] = -np.inf
    z[7, 1] = -np.nan
    z[8, K - 1] = np.inf
    z[8, 0] = -np.inf
    z = z.astype(dtype)
    labels = rng.integers(0, K, len(z))
    onehot = np.eye(K, dtype=dtype)[labels]
    calls = {
        "sparse cce logits": lambda red: fastloss.sparse_categorical_crossentropy(
            labels, z, from_logits=True, reduction=red),
        "cce logits": lambda red: fastloss.categorical_crossentropy(onehot, z, from_logits=True, reduction=red),
    }
    for name, run in calls.items():
        reference = None
        for level in each_isa_level():
            got = (repr(run("totals")), run("none").tobytes())
            reference = reference or got
            assert got == reference, f"{name} at {level}"
        assert np.isnan(run("none")[::3][:22]).all()  # a NaN logit makes its row NaN
