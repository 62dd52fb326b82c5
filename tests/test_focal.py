"""The focal losses and the generalized crossentropy against the NumPy oracle.

- binary_focal_crossentropy: elementwise (a 1-D y_pred is N rows of one value), mean over the last axis of
  ``(1 - p_t)^γ·bce`` (times ``α·y_s + (1 - α)(1 - y_s)`` with apply_class_balancing; α a number or one per
  column).
- categorical_focal_crossentropy: a row loss over K classes (a 1-D y_pred is one row),
  ``Σ_k α_k·(1 - q_k)^γ·(-y_s,k·log q_k)`` with q the renormalised (or softmax) probabilities, clipped.
- categorical_generalized_cross_entropy: one integer label per row, ``(1 - p_y^q)/q``.

Sections: a deterministic matrix against the oracle (configurations x row shapes x dtypes x weightings, every
reduction, tiny blocks and thread counts 1/2/3); bit-identical results across thread counts and ISA levels;
values derived by hand; per-pixel class weights against the explicit weight map; bad inputs.

Tolerances: both sides compute in float64 from the same input values, and every term is >= 0 (α >= 0 here), so
results agree to a few ulp: rtol 1e-12. The binary focal crossentropy of float32 probabilities takes BCE's float-lane
log for hard targets (two float ulps a term, test_float32_lanes.py), so its totals agree to 2^-22.
"""

from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest

import fastloss
from fastloss import oracle

ALL_REDUCTIONS = list(fastloss.REDUCTIONS) + [None]
EPS64 = 1e-7
EPS32 = float(np.float32(1e-7))
HI32 = float(np.float32(1) - np.float32(1e-7))
NEW_LOSSES = ["binary_focal_crossentropy", "categorical_focal_crossentropy", "categorical_generalized_cross_entropy"]

# (loss, options); alpha="columns" stands for an array of one alpha per column, drawn with the data
CONFIGS = [
    ("binary_focal_crossentropy", {}),
    ("binary_focal_crossentropy", {"apply_class_balancing": True}),
    ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": "columns", "gamma": 0.5,
                                   "label_smoothing": 0.2}),
    ("binary_focal_crossentropy", {"alpha": "columns", "gamma": 0.0}),  # alpha unused without balancing
    ("binary_focal_crossentropy", {"from_logits": True}),
    ("binary_focal_crossentropy", {"from_logits": True, "apply_class_balancing": True, "alpha": 0.6, "gamma": 3.0,
                                   "label_smoothing": 0.1}),
    ("categorical_focal_crossentropy", {}),
    ("categorical_focal_crossentropy", {"alpha": "columns", "gamma": 1.0, "label_smoothing": 0.1}),
    ("categorical_focal_crossentropy", {"from_logits": True}),
    ("categorical_focal_crossentropy", {"from_logits": True, "alpha": "columns", "gamma": 0.0,
                                        "label_smoothing": 0.3}),
    ("categorical_generalized_cross_entropy", {}),
    ("categorical_generalized_cross_entropy", {"q": 0.2}),
    ("categorical_generalized_cross_entropy", {"q": 0.95}),
]


def config_id(loss, options):
    short = {"binary_focal_crossentropy": "bfce", "categorical_focal_crossentropy": "cfce",
             "categorical_generalized_cross_entropy": "gce"}[loss]
    return short + "[" + ",".join(f"{k}={v}" for k, v in options.items()) + "]"


def sprinkle(rng, values, specials, fraction=0.15):
    pick = rng.random(values.shape) < fraction
    values[pick] = rng.choice(np.asarray(specials, dtype=np.float64), size=int(pick.sum()))
    return values


def make_data(loss, options, rows, K, dtype, rng):
    """(y_true, y_pred, options with alpha drawn): hard and soft targets, boundary predictions."""
    shape = tuple(rows) + (K,)
    logits = options.get("from_logits", False)
    if logits:
        p = sprinkle(rng, rng.normal(0.0, 4.0, shape), [0.0, 50.0, -50.0, 1e3, -1e3, 17.0])
    elif loss == "binary_focal_crossentropy":
        p = sprinkle(rng, rng.random(shape), [0.0, 1.0, 1e-9, 0.5, 1 - 1e-9])
    else:
        p = sprinkle(rng, rng.random(shape), [0.0, 1.0, 1e-9])
        flat = p.reshape(-1, K)
        flat[flat.sum(axis=1) == 0, 0] = 1.0
        if loss == "categorical_generalized_cross_entropy":
            flat /= flat.sum(axis=1, keepdims=True)
    if loss == "binary_focal_crossentropy":
        y = sprinkle(rng, rng.integers(0, 2, shape).astype(np.float64), [0.25, 0.5, 0.9])  # soft targets too
    elif loss == "categorical_focal_crossentropy":
        y = np.eye(K)[rng.integers(0, K, tuple(rows))]
        soft = rng.random(tuple(rows)) < 0.3
        y[soft] = 0.6 * y[soft] + 0.4 / K
    else:
        y = rng.integers(0, K, tuple(rows))
    if options.get("alpha") == "columns":
        alpha = rng.uniform(0.0, 1.0, K)
        alpha[0] = 0.0
        options = {**options, "alpha": alpha}
    y = y.astype(dtype) if loss != "categorical_generalized_cross_entropy" else y
    return y, p.astype(dtype), options


def one_d_is_column(loss):
    return loss == "binary_focal_crossentropy"


def class_of_rows(loss, y):
    y = np.asarray(y)
    if loss == "categorical_generalized_cross_entropy":
        return y
    return np.round(y[..., 0]) if y.shape[-1] == 1 else np.argmax(y, axis=-1)


WEIGHTINGS = ["plain", "sample_weight", "sample_weight_prefix", "scalar_weight", "mask", "mask_and_weight_prefix",
              "class_weight_dict", "class_weight_array_and_mask"]


def make_weighting(weighting, rows, K, rng):
    kw = {}
    if weighting in ("sample_weight", "sample_weight_prefix", "mask_and_weight_prefix"):
        shape = tuple(rows) if weighting == "sample_weight" else tuple(rows[:1])
        sw = rng.uniform(0.1, 3.0, shape)
        sw[rng.random(shape) < 0.3] = 0.0  # zero weights
        kw["sample_weight"] = sw
    if weighting == "scalar_weight":
        kw["sample_weight"] = 2.5
    if weighting in ("mask", "mask_and_weight_prefix", "class_weight_array_and_mask"):
        shape = tuple(rows[: max(1, len(rows) - 1)])
        kw["mask"] = rng.random(shape) < 0.7
    n_classes = max(K, 2)
    if weighting == "class_weight_dict":
        kw["class_weight"] = {c: float(v) for c, v in enumerate(rng.uniform(0.0, 3.0, n_classes))}
        kw["class_weight"][0] = 0.0
    if weighting == "class_weight_array_and_mask":
        kw["class_weight"] = rng.uniform(0.0, 3.0, n_classes)
    return kw


def assert_same(got, want, context, rtol=1e-12):
    if isinstance(want, fastloss.Totals):
        assert isinstance(got, fastloss.Totals), context
        g, w = got.as_dict(), want.as_dict()
        for name in g:
            if name in ("weighted_sum", "weight_sum"):
                assert math.isclose(g[name], w[name], rel_tol=rtol, abs_tol=1e-300) or (
                    math.isnan(g[name]) and math.isnan(w[name])), f"{context}: {name} {g[name]!r} != {w[name]!r}"
            else:
                assert g[name] == w[name], f"{context}: {name} {g[name]} != {w[name]}"
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype == want.dtype, context
        np.testing.assert_allclose(got, want, rtol=rtol if want.dtype == np.float64 else 1e-6, atol=0,
                                   equal_nan=True, err_msg=context)
    else:
        assert type(got) is float, context
        assert math.isclose(got, want, rel_tol=rtol, abs_tol=1e-300) or (math.isnan(got) and math.isnan(want)), (
            f"{context}: {got!r} != {want!r}")


def oracle_rtol(loss, p, kw):
    if loss == "binary_focal_crossentropy" and p.dtype == np.float32 and not kw.get("from_logits", False):
        return 2.0**-22
    return 1e-12


def check_against_oracle(loss, y, p, kw, context):
    for reduction in ALL_REDUCTIONS:
        want = getattr(oracle, loss)(y, p, reduction=reduction, **kw)
        got = getattr(fastloss, loss)(y, p, reduction=reduction, **kw)
        assert_same(got, want, f"{context} reduction={reduction}", rtol=oracle_rtol(loss, p, kw))


SHAPES = [((7,), 1), ((9,), 3), ((4, 3), 4), ((2, 3, 2), 3), ((5,), 2)]


def _matrix():
    out = []
    for loss, options in CONFIGS:
        for rows, K in SHAPES:
            if loss != "binary_focal_crossentropy" and K == 1:
                continue
            for dtype in ("float32", "float64"):
                out.append(pytest.param(loss, options, rows, K, dtype,
                                        id=f"{config_id(loss, options)}-{'x'.join(map(str, rows))}-K{K}-{dtype}"))
    return out


@pytest.mark.parametrize("loss, options, rows, K, dtype", _matrix())
def test_matches_oracle(loss, options, rows, K, dtype, small_blocks):
    rng = np.random.default_rng(zlib.crc32(repr((loss, options, rows, K, dtype)).encode()))
    y, p, options = make_data(loss, options, rows, K, dtype, rng)
    for i, weighting in enumerate(WEIGHTINGS):
        kw = {**options, **make_weighting(weighting, rows, K, rng), "n_threads": 1 + i % 3,
              "zero_division": ("nan", 0.0, -1.5)[i % 3]}
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # saturated logits and zero probabilities warn nowhere
            check_against_oracle(loss, y, p, kw, f"{weighting} {kw}")


@pytest.mark.parametrize("loss, options", [(loss, opt) for loss, opt in CONFIGS if loss != NEW_LOSSES[2]],
                         ids=[config_id(*c) for c in CONFIGS if c[0] != NEW_LOSSES[2]])
def test_one_d_y_pred(loss, options):
    """binary focal: a 1-D y_pred is N rows of one value (as (N, 1)); categorical focal: one row of K values."""
    rng = np.random.default_rng(3)
    y, p, options = make_data(loss, options, (6,), 1 if one_d_is_column(loss) else 4, np.float64, rng)
    y1, p1 = (y[:, 0], p[:, 0]) if one_d_is_column(loss) else (y[0], p[0])
    fn = getattr(fastloss, loss)
    rows = fn(y1, p1, reduction="none", **options)
    if one_d_is_column(loss):
        assert rows.shape == (6,)
        assert rows.tobytes() == fn(y, p, reduction="none", **options).tobytes()
    else:
        assert rows.shape == ()
        assert rows.tobytes() == fn(y[:1], p[:1], reduction="none", **options)[0].tobytes()
    for reduction in ALL_REDUCTIONS:
        assert_same(fn(y1, p1, reduction=reduction, **options),
                    getattr(oracle, loss)(y1, p1, reduction=reduction, **options), f"1-D {reduction}")


def test_gce_labels_with_trailing_axis_and_float_labels():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, (5, 4))
    p = rng.dirichlet(np.ones(3), (5, 4))
    fn = fastloss.categorical_generalized_cross_entropy
    ref = fn(labels, p, reduction="none")
    assert ref.shape == (5, 4)
    assert fn(labels[..., None], p, reduction="none").tobytes() == ref.tobytes()
    assert fn(labels.astype(np.float32), p, reduction="none").tobytes() == ref.tobytes()
    assert fn(labels.astype(np.int32), p, reduction="none").tobytes() == ref.tobytes()


# ---------------------------------------------------------------------------------------------------------------
# Bit-identical results across thread counts and ISA levels
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss, options", CONFIGS, ids=[config_id(*c) for c in CONFIGS])
def test_bitwise_equal_across_threads_and_isa_levels(loss, options, dtype, assert_same_bits):
    rng = np.random.default_rng(8)
    rows = (151, 3)
    y, p, options = make_data(loss, options, rows, 5, dtype, rng)
    kw = {**options, **make_weighting("mask_and_weight_prefix", rows, 5, rng)}
    fn = getattr(fastloss, loss)
    assert_same_bits(lambda n_threads: (fn(y, p, reduction="totals", n_threads=n_threads, **kw),
                                        fn(y, p, reduction="none", n_threads=n_threads, **kw)))


# The exponent takes one of two paths (fl_kernels.h, fl_focal_power): x·x·…·x for gamma = 0, 1, …, 4, exp(γ·log x)
# otherwise (5.0 included).
GAMMAS = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 0.5, 2.5]


def _sequential_mean(values):
    acc = 0.0
    for v in values:
        acc += v
    return acc / len(values)


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_binary_focal_vector_loop_and_row_function_give_the_same_bits(gamma, from_logits):
    """Rows of up to 2048 elements go through the SIMD loop, longer rows through the row function; both use the same
    element function. With K = 1 a row is one element (the loop's value), and a row of K = 3000 (the row function's)
    is the mean of those elements summed in order: bit for bit, on every gamma path, for hard targets (one log per
    element) and soft ones, with class balancing and with label smoothing."""
    rng = np.random.default_rng(int(10 * gamma) + 100 * from_logits)
    K = 3000
    hard = (rng.random(K) < 0.3).astype(np.float64)
    soft = hard.copy()
    soft[::7] = 0.35
    if from_logits:
        p = sprinkle(rng, rng.normal(0.0, 4.0, K), [0.0, 40.0, -40.0, 17.0])
    else:
        p = sprinkle(rng, rng.random(K), [0.0, 1.0, 1e-9, 1 - 1e-9, 0.5])
    for y, options in [(hard, {}), (soft, {}), (hard, {"apply_class_balancing": True, "alpha": 0.3}),
                       (hard, {"label_smoothing": 0.1})]:
        kw = dict(gamma=gamma, from_logits=from_logits, reduction="none", **options)
        elements = fastloss.binary_focal_crossentropy(y[:, None], p[:, None], **kw)
        row = fastloss.binary_focal_crossentropy(y[None, :], p[None, :], **kw)
        assert row.tobytes() == np.float64(_sequential_mean(elements.tolist())).tobytes(), options


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_categorical_focal_chunks_and_row_function_give_the_same_bits(gamma, from_logits):
    """Short rows (K <= 256) are computed a chunk of rows at a time, longer rows by the row function. Columns with
    target 0 and probability 0 (logit -inf) add +0 to the terms and to the sum, so a row of 16 classes padded to
    264 (both multiples of the 8 summation lanes, so the lanes hold the same terms) has the same bits on both paths."""
    rng = np.random.default_rng(int(10 * gamma) + 100 * from_logits)
    rows, K, padded = 50, 16, 264
    y = np.eye(K)[rng.integers(0, K, rows)]
    y[::3] = 0.7 * y[::3] + 0.3 / K
    if from_logits:
        p = rng.normal(0.0, 3.0, (rows, K))
        pad = -np.inf
    else:
        p = rng.dirichlet(np.ones(K), rows) * rng.uniform(0.5, 1.0, (rows, 1))  # rows not normalised
        pad = 0.0
    y_wide = np.zeros((rows, padded))
    y_wide[:, :K] = y
    p_wide = np.full((rows, padded), pad)
    p_wide[:, :K] = p
    for alpha in (0.25, 1.5):
        kw = dict(gamma=gamma, alpha=alpha, from_logits=from_logits, reduction="none")
        short = fastloss.categorical_focal_crossentropy(y, p, **kw)
        wide = fastloss.categorical_focal_crossentropy(y_wide, p_wide, **kw)
        assert short.tobytes() == wide.tobytes(), alpha
        np.testing.assert_allclose(short, oracle.categorical_focal_crossentropy(y, p, **kw), rtol=1e-12, atol=0)


def test_categorical_focal_chunk_with_an_excluded_bad_row_is_redone_with_the_same_bits():
    """A probability outside [0, 1] in an excluded row sends its chunk through the row function: included rows keep
    their bits."""
    rng = np.random.default_rng(21)
    y = np.eye(5)[rng.integers(0, 5, 400)]
    p = rng.dirichlet(np.ones(5), 400)
    mask = np.ones(400, bool)
    mask[123] = False
    for gamma in (2.0, 2.5):
        kw = dict(gamma=gamma, alpha=np.array([0.1, 0.2, 0.3, 0.4, 0.5]), mask=mask)
        clean = fastloss.categorical_focal_crossentropy(y, p, reduction="none", **kw)
        p_bad = p.copy()
        p_bad[123] = 2.0
        assert fastloss.categorical_focal_crossentropy(y, p_bad, reduction="none", **kw).tobytes() == clean.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_every_gamma_path_matches_the_oracle(gamma, dtype):
    rng = np.random.default_rng(int(10 * gamma))
    for loss, options in [("binary_focal_crossentropy", {}), ("binary_focal_crossentropy", {"from_logits": True}),
                          ("binary_focal_crossentropy", {"apply_class_balancing": True, "label_smoothing": 0.2}),
                          ("categorical_focal_crossentropy", {}),
                          ("categorical_focal_crossentropy", {"from_logits": True, "label_smoothing": 0.1})]:
        y, p, options = make_data(loss, {**options, "gamma": gamma}, (40, 3), 6, dtype, rng)
        check_against_oracle(loss, y, p, options, f"{loss} {options}")


@pytest.mark.parametrize("gamma", GAMMAS)
def test_targets_outside_the_unit_interval_follow_pow(gamma):
    """Targets are not checked (nor are they in Keras): outside [0, 1], 1 - p_t can be negative, and the factor is
    pow's: NaN for a non-integer gamma, ±|1 - p_t|^gamma for an integer one."""
    y = np.array([[2.0], [-1.0], [1.5], [0.0], [3.0]])
    p = np.array([[0.9], [0.8], [0.99], [0.5], [0.2]])
    for kw in ({}, {"apply_class_balancing": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's pow warns about negative bases
            want = oracle.binary_focal_crossentropy(y, p, gamma=gamma, reduction="none", **kw)
        got = fastloss.binary_focal_crossentropy(y, p, gamma=gamma, reduction="none", **kw)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, equal_nan=True)
        assert np.isnan(got).any() == (gamma != int(gamma))


# ---------------------------------------------------------------------------------------------------------------
# Values derived by hand
# ---------------------------------------------------------------------------------------------------------------


def _bce(y, p, lo=EPS64, hi=1 - EPS64):
    p = min(max(p, lo), hi)
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


EXACT = [
    # Keras's docstring example: focal [0.330, 0.206]; y = 0 and p = 0.6: p_t = 0.4, (0.6)^2·(-log 0.4) = 0.36·0.916
    ("bfce keras example", "binary_focal_crossentropy", {}, [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]],
     [(0.36 * -math.log(0.4) + 0.36 * -math.log(0.4)) / 2, (0.16 * -math.log(0.6) + 0.36 * -math.log(0.4)) / 2]),
    # gamma = 0: plain BCE; balancing with alpha = 0.25: y = 1 -> 0.25, y = 0 -> 0.75
    ("bfce gamma 0 balanced", "binary_focal_crossentropy", {"gamma": 0.0, "apply_class_balancing": True},
     [[1.0], [0.0]], [[0.8], [0.8]], [0.25 * -math.log(0.8), 0.75 * -math.log(0.2)]),
    # per-column alpha (0.1, 0.9), y = (1, 1), p = (0.5, 0.5): (0.5)^2·log 2·(0.1 + 0.9)/2
    ("bfce alpha columns", "binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": [0.1, 0.9]},
     [[1.0, 1.0]], [[0.5, 0.5]], [0.25 * math.log(2.0) * (0.1 + 0.9) / 2]),
    # p = 1, y = 0: bce = -log(1 - hi) (hi = 1 - 1e-7 in float64), p_t = 0 unclipped: factor 1;
    # p = 1, y = 1: p_t = 1 unclipped, so the factor (1 - 1)^2 = 0 zeroes the loss exactly
    ("bfce saturated", "binary_focal_crossentropy", {}, [[0.0], [1.0]], [[1.0], [1.0]],
     [-math.log(1 - (1 - EPS64)), 0.0]),
    # label smoothing 0.5: y_s = 1/2 for every y: p_t = 1/2, (1/2)^2·log 2
    ("bfce smoothing", "binary_focal_crossentropy", {"label_smoothing": 0.5}, [[1.0], [0.0]], [[0.5], [0.5]],
     [0.25 * math.log(2.0), 0.25 * math.log(2.0)]),
    # logits 0 -> p = 1/2; logit 40 -> p = 1 - 4e-18 = 1.0 in float64: for y = 0 the clipped crossentropy
    # -log(1 - hi) = 16.118, with factor 1 (Keras's sigmoid-then-clip, not the exact log-sigmoid 40)
    ("bfce logits", "binary_focal_crossentropy", {"from_logits": True}, [[1.0], [0.0]], [[0.0], [40.0]],
     [0.25 * math.log(2.0), -math.log(1 - (1 - EPS64))]),
    # Keras's docstring example: [2.634e-04, 6.759e-01]
    ("cfce keras example", "categorical_focal_crossentropy", {}, [[0, 1, 0], [0, 0, 1]],
     [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]], [0.25 * 0.01 * -math.log(0.9), 0.25 * 0.95 ** 2 * -math.log(0.05)]),
    # rows renormalised: (0.2, 0.6) -> (1/4, 3/4); gamma 0, alpha 1: plain CCE
    ("cfce renormalised", "categorical_focal_crossentropy", {"gamma": 0.0, "alpha": 1.0}, [[0, 1]], [[0.2, 0.6]],
     [-math.log(0.75)]),
    # per-class alpha (2, 0.5), soft target (1/2, 1/2), q = (1/2, 1/2), gamma 1:
    # 2·(1/2)·(1/2)·log 2 + 0.5·(1/2)·(1/2)·log 2
    ("cfce alpha classes", "categorical_focal_crossentropy", {"alpha": [2.0, 0.5], "gamma": 1.0}, [[0.5, 0.5]],
     [[0.5, 0.5]], [2.5 * 0.25 * math.log(2.0)]),
    # logits (0, 0, log 2): softmax (1/4, 1/4, 1/2), true class 2: 0.25·(1/2)^2·log 2
    ("cfce logits", "categorical_focal_crossentropy", {"from_logits": True}, [[0, 0, 1]], [[0.0, 0.0, math.log(2)]],
     [0.25 * 0.25 * math.log(2.0)]),
    # logits far apart: softmax probability e^-100 is clipped to eps, as in Keras: 0.25·(1 - eps)^2·(-log eps)
    ("cfce logits clipped", "categorical_focal_crossentropy", {"from_logits": True}, [[1, 0]], [[0.0, 100.0]],
     [0.25 * (1 - EPS64) ** 2 * -math.log(EPS64)]),
    # Keras's docstring data, q = 0.5: (1 - sqrt p_y)/0.5
    ("gce keras example", "categorical_generalized_cross_entropy", {}, [0, 1, 0, 1],
     [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]],
     [2 * (1 - math.sqrt(0.7)), 2 * (1 - math.sqrt(0.8)), 2 * (1 - math.sqrt(0.6)), 2 * (1 - math.sqrt(0.6))]),
    # no clipping: p_y = 0 -> 1/q, p_y = 1 -> 0
    ("gce bounds", "categorical_generalized_cross_entropy", {"q": 0.25}, [0, 1], [[0.0, 1.0], [0.0, 1.0]],
     [4.0, 0.0]),
]


@pytest.mark.parametrize("case_id, loss, kwargs, y, p, expected", EXACT, ids=[row[0] for row in EXACT])
def test_values_derived_by_hand(case_id, loss, kwargs, y, p, expected):
    y = np.asarray(y) if loss == NEW_LOSSES[2] else np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    want = np.asarray(expected)
    for fn in (getattr(fastloss, loss), getattr(oracle, loss)):
        for n_threads in (1, 3):
            got = fn(y, p, reduction="none", n_threads=n_threads, **kwargs)
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, err_msg=f"{fn.__module__}.{loss}")
        w = np.array([2.0, 0.0, 1.0, 1.0][: len(want)])
        assert fn(y, p, sample_weight=w, reduction="sum", **kwargs) == pytest.approx(float(w @ want), rel=1e-13)


def test_float32_clip_bounds():
    """float32: p = 1, y = 0 costs -log(1 - float32(1 - 1e-7)) = 15.942, and p = 0, y = 1 costs -log(float32(1e-7))."""
    y = np.array([[0.0], [1.0]], np.float32)
    p = np.array([[1.0], [0.0]], np.float32)
    got = fastloss.binary_focal_crossentropy(y, p, reduction="none")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [-math.log(1 - HI32), -math.log(EPS32)], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# Per-pixel class weights: the explicit weight map gives the same totals
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss, from_logits", [("categorical_focal_crossentropy", False),
                                                ("categorical_focal_crossentropy", True),
                                                ("categorical_generalized_cross_entropy", False)])
def test_per_pixel_class_weights_equal_explicit_weight_map(loss, from_logits):
    rng = np.random.default_rng(5)
    N, H, W, C = 3, 4, 5, 4
    labels = rng.integers(0, C, (N, H, W))
    if from_logits:
        p = rng.normal(0.0, 2.0, (N, H, W, C))
    else:
        p = rng.dirichlet(np.ones(C), (N, H, W))
    y = labels if loss == NEW_LOSSES[2] else np.eye(C)[labels]  # sparse (N, H, W) / one-hot (N, H, W, C)
    options = {"from_logits": True} if from_logits else {}
    fn = getattr(fastloss, loss)
    cw = np.array([0.5, 2.0, 0.0, 1.25])
    sw = rng.uniform(0.0, 2.0, N)
    sw[0] = 0.0
    mask = rng.random((N, H)) < 0.7
    for kw, weight_map in (({}, cw[labels]),
                           ({"sample_weight": sw}, sw[:, None, None] * cw[labels]),
                           ({"sample_weight": sw, "mask": mask}, sw[:, None, None] * cw[labels])):
        for class_weight in (cw, {c: float(v) for c, v in enumerate(cw)}):
            map_kw = {**options, **{k: v for k, v in kw.items() if k != "sample_weight"}, "sample_weight": weight_map}
            for reduction in fastloss.REDUCTIONS:
                got = fn(y, p, class_weight=class_weight, reduction=reduction, **options, **kw)
                want = fn(y, p, reduction=reduction, **map_kw)
                if reduction == "totals":
                    for name in ("weighted_sum", "weight_sum", "count", "nonzero_rows", "rows"):
                        assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-12), (kw, name)
                elif reduction == "none":
                    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
                elif reduction != "keras_legacy":  # E and E0 count weight entries, which differ by design
                    assert got == pytest.approx(want, rel=1e-12), (kw, reduction)


@pytest.mark.parametrize("loss, options", CONFIGS[::2], ids=[config_id(*c) for c in CONFIGS[::2]])
def test_nan_in_excluded_rows_changes_nothing(loss, options, small_blocks):
    """Excluded rows are skipped, not multiplied by 0: NaN and inf there leave every bit of the result alone; NaN
    in an included prediction makes that row NaN (the generalized crossentropy too, wherever the NaN is: Keras
    reads p_y as Σ_k p_k·onehot_k)."""
    rng = np.random.default_rng(9)
    y, p, options = make_data(loss, options, (6, 2), 3, np.float64, rng)
    mask = np.ones((6, 2), bool)
    mask[4, 1] = False
    fn = getattr(fastloss, loss)
    clean = fn(y, p, mask=mask, reduction="none", n_threads=2, **options)
    clean_totals = fn(y, p, mask=mask, reduction="totals", n_threads=2, **options)
    p = p.copy()
    p[4, 1] = [np.nan, np.inf, -np.inf]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fn(y, p, mask=mask, reduction="none", n_threads=2, **options).tobytes() == clean.tobytes()
        assert fn(y, p, mask=mask, reduction="totals", n_threads=2, **options) == clean_totals
    p[2, 0, 1] = np.nan
    rows = fn(y, p, mask=mask, reduction="none", **options)
    assert np.isnan(rows[2, 0]) and np.isfinite(np.delete(rows.reshape(-1), [4, 9])).all()


# ---------------------------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------------------------

Y2 = np.array([[0.0, 1.0], [1.0, 0.0]])
P2 = np.array([[0.3, 0.7], [0.6, 0.4]])
L2 = np.array([1, 0])

BAD = [
    ("bfce gamma<0", lambda m: m.binary_focal_crossentropy(Y2, P2, gamma=-0.5), ValueError, "gamma"),
    ("bfce gamma nan", lambda m: m.binary_focal_crossentropy(Y2, P2, gamma=float("nan")), ValueError, "gamma"),
    ("bfce gamma str", lambda m: m.binary_focal_crossentropy(Y2, P2, gamma="2"), TypeError, "gamma"),
    ("bfce alpha length", lambda m: m.binary_focal_crossentropy(Y2, P2, alpha=[0.1, 0.2, 0.3]), ValueError, "alpha"),
    ("bfce alpha 2-D", lambda m: m.binary_focal_crossentropy(Y2, P2, alpha=np.ones((2, 2)) / 2), ValueError,
     "alpha"),
    ("bfce alpha > 1", lambda m: m.binary_focal_crossentropy(Y2, P2, alpha=1.5), ValueError, "alpha"),
    ("bfce alpha column < 0", lambda m: m.binary_focal_crossentropy(Y2, P2, alpha=[0.5, -0.1]), ValueError, "alpha"),
    ("bfce alpha bool", lambda m: m.binary_focal_crossentropy(Y2, P2, alpha=True), TypeError, "alpha"),
    ("bfce 1-D alpha length", lambda m: m.binary_focal_crossentropy(Y2[:, 0], P2[:, 0], alpha=[0.1, 0.2]),
     ValueError, "alpha"),
    ("bfce balancing str", lambda m: m.binary_focal_crossentropy(Y2, P2, apply_class_balancing="yes"), TypeError,
     "apply_class_balancing"),
    ("bfce axis 0", lambda m: m.binary_focal_crossentropy(Y2, P2, axis=0), ValueError, "axis"),
    ("bfce smoothing", lambda m: m.binary_focal_crossentropy(Y2, P2, label_smoothing=2.0), ValueError,
     "label_smoothing"),
    ("bfce probability > 1", lambda m: m.binary_focal_crossentropy(Y2, P2 * 2), ValueError, "y_pred"),
    ("cfce gamma<0", lambda m: m.categorical_focal_crossentropy(Y2, P2, gamma=-1), ValueError, "gamma"),
    ("cfce alpha length", lambda m: m.categorical_focal_crossentropy(Y2, P2, alpha=[1.0, 2.0, 3.0]), ValueError,
     "alpha"),
    ("cfce alpha inf", lambda m: m.categorical_focal_crossentropy(Y2, P2, alpha=[1.0, np.inf]), ValueError,
     "alpha"),
    ("cfce axis -2", lambda m: m.categorical_focal_crossentropy(Y2, P2, axis=-2), ValueError, "axis"),
    ("cfce probability < 0", lambda m: m.categorical_focal_crossentropy(Y2, -P2), ValueError, "y_pred"),
    ("cfce shapes", lambda m: m.categorical_focal_crossentropy(Y2, np.ones((2, 3)) / 3), ValueError, "y_true"),
    ("gce q=0", lambda m: m.categorical_generalized_cross_entropy(L2, P2, q=0.0), ValueError, "q"),
    ("gce q=1", lambda m: m.categorical_generalized_cross_entropy(L2, P2, q=1.0), ValueError, "q"),
    ("gce q=-0.5", lambda m: m.categorical_generalized_cross_entropy(L2, P2, q=-0.5), ValueError, "q"),
    ("gce q str", lambda m: m.categorical_generalized_cross_entropy(L2, P2, q="0.5"), TypeError, "q"),
    ("gce label range", lambda m: m.categorical_generalized_cross_entropy(np.array([2, 0]), P2), ValueError, "y_true"),
    ("gce label fraction", lambda m: m.categorical_generalized_cross_entropy(np.array([0.5, 0]), P2), ValueError,
     "y_true"),
    ("gce probability > 1", lambda m: m.categorical_generalized_cross_entropy(L2, P2 + 1), ValueError, "y_pred"),
]


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
@pytest.mark.parametrize("make_call, exc_type, name", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_input(make_call, exc_type, name, module):
    with pytest.raises(exc_type) as info:
        make_call(module)
    assert name in str(info.value), str(info.value)


def test_inputs_not_modified_and_registered():
    rng = np.random.default_rng(6)
    for loss, options in CONFIGS:
        y, p, options = make_data(loss, options, (5, 2), 3, np.float64, rng)
        y0, p0 = y.copy(), p.copy()
        want = getattr(fastloss, loss)(y, p, **options)
        assert np.array_equal(y, y0) and np.array_equal(p, p0, equal_nan=True)
        y.flags.writeable = False  # read-only inputs are read, never copied to be written
        p.flags.writeable = False
        assert getattr(fastloss, loss)(y, p, **options) == want
    for loss in NEW_LOSSES:
        assert fastloss.LOSSES[loss] is getattr(fastloss, loss) and loss in fastloss.losses.__all__
        assert oracle.LOSSES[loss] is getattr(oracle, loss) and loss in oracle.__all__


@pytest.mark.parametrize("loss, options", CONFIGS[::3], ids=[config_id(*c) for c in CONFIGS[::3]])
def test_accumulator_adds_batches(loss, options):
    rng = np.random.default_rng(7)
    y, p, options = make_data(loss, options, (12,), 3, np.float64, rng)
    sw = rng.uniform(0.0, 2.0, 12)
    acc = fastloss.Accumulator(loss, **options)
    for part in (slice(0, 5), slice(5, 12)):
        acc.update(y[part], p[part], sample_weight=sw[part])
    want = getattr(oracle, loss)(y, p, sample_weight=sw, reduction="mean_with_sample_weight", **options)
    assert acc.result("mean_with_sample_weight") == pytest.approx(want, rel=1e-12)
