"""The Keras catalog losses against the NumPy oracle: the elementwise ones (MAPE, MSLE, Huber, log-cosh, Poisson,
hinge, squared hinge) and the row losses (KL divergence, categorical hinge, cosine similarity).

All take the common keywords and compute in float64 whatever the input dtype; ``ε = dtype(1e-7)`` in the compute
dtype (float32: 1.0000000116860974e-07).

Elementwise losses: a 1-D y_pred is N rows of one value; per-row value = mean over the last axis; they take the
keywords of mean_squared_error. Hinge and squared hinge use Keras's batch rule: ``y' = 2y - 1`` when every value of
the whole y_true array is 0 or 1, else ``y' = y``.

Row losses: functions of a whole row of K values, like categorical_crossentropy: the rows are ``y_pred.shape[:-1]``
and a 1-D y_pred is ONE row of K values (the row shape is ``()``). The class of a row, for class_weight, is the
argmax of the y_true row (first maximum) for K > 1 and round-half-to-even(y_true) for K == 1.

- kl_divergence:     ``ỹ = clip(y, ε, 1)``, ``p̃ = clip(p, ε, 1)``, ``l = Σ_k ỹ·log(ỹ / p̃)``
- categorical_hinge: ``l = max(max_k (1 - y)·p - Σ_k y·p + 1, 0)``
- cosine_similarity: ``x̂ = x·min(1/sqrt(Σ_k x²), 1/ε)``, ``l = -Σ_k ŷ·p̂`` (only ``axis`` = the last axis)

Sections: hypothesis cases against the oracle (every reduction, weights of every prefix rank, class weights,
masks, thread counts 1/2/3 on the block driver); a deterministic weight x mask matrix; NaN in included / excluded
rows; a table of values derived by hand; bad inputs; bit-identical results across thread counts and ISA levels.

Tolerances: both sides compute in float64, so per-row values agree to a few ulp of the row's terms. Poisson, KL and
categorical-hinge terms have both signs, so a sum can cancel; the absolute tolerance is therefore scaled by the
size of the terms (``term_scale``), not by the result.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastloss
from fastloss import oracle
from oracle_cases import (
    EPS32,
    EPS64,
    Case,
    add_weighting,
    check_weight_mask_matrix,
    draw_weighting,
    eps_of,
    row_shapes,
    sprinkle,
    weight_bound,
)
from oracle_cases import check_against_oracle as check_each_reduction

CATALOG = [
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "poisson",
    "hinge",
    "squared_hinge",
]
ROW_LOSSES = ["kl_divergence", "categorical_hinge", "cosine_similarity"]
ALL_LOSSES = CATALOG + ROW_LOSSES
LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------------------------
# Case construction: elementwise losses
# ---------------------------------------------------------------------------------------------------------------


HINGE_TARGETS = ("binary01", "pm1", "mixed", "real")


def make_elementwise_targets(loss, rng, shape, *, hinge_target="binary01", class_weighted_column=False):
    """y_true in the loss's domain. ``class_weighted_column``: K == 1 with class_weight, so round(y) must be a class
    in 0..4 (halves round to even: 0.5 -> 0, 2.5 -> 2)."""
    if class_weighted_column:
        if loss in ("hinge", "squared_hinge"):
            return rng.integers(0, 2 if hinge_target == "binary01" else 3, shape).astype(np.float64)
        return np.abs(rng.integers(0, 4, shape) + rng.choice([0.0, 0.25, -0.25, 0.5], shape))
    if loss in ("hinge", "squared_hinge"):
        if hinge_target == "binary01":
            return rng.integers(0, 2, shape).astype(np.float64)
        if hinge_target == "pm1":
            return rng.choice([-1.0, 1.0], shape)
        if hinge_target == "mixed":
            return rng.choice([-1.0, 0.0, 1.0], shape)
        return sprinkle(rng, rng.normal(0.0, 1.5, shape), [0.0, 1.0, -1.0])
    if loss == "poisson":
        return sprinkle(rng, rng.integers(0, 6, shape) + 0.0, [0.0, 0.5, 2.25, 30.0])
    if loss == "mean_squared_logarithmic_error":
        return sprinkle(rng, rng.normal(1.0, 3.0, shape), [0.0, -1.0, 1e-8, 1e3, -1e3, 5e-8])
    return sprinkle(rng, rng.normal(0.0, 3.0, shape), [0.0, 1e3, -1e3, 1e-8])


def make_elementwise_predictions(loss, rng, y, delta):
    shape = y.shape
    if loss == "poisson":
        return sprinkle(rng, rng.uniform(0.0, 5.0, shape), [0.0, 1e-8, 1e3, 0.5])
    if loss == "huber":
        e = sprinkle(rng, rng.normal(0.0, 2.0, shape), [delta, -delta, 0.0, 1e3, -1e3], fraction=0.3)
        return y + e
    if loss == "log_cosh":
        return sprinkle(rng, rng.normal(0.0, 3.0, shape), [0.0, 1e4, -1e4, 1e-9, 30.0, -30.0, 400.0])
    if loss == "mean_squared_logarithmic_error":
        return sprinkle(rng, rng.normal(1.0, 3.0, shape), [0.0, -1.0, 1e-8, 1e3, -1e3])
    return sprinkle(rng, rng.normal(0.0, 3.0, shape), [0.0, 1e3, -1e3, 0.5, 1.0, -1.0])


def build_elementwise_case(
    loss,
    dtype,
    rows,
    K,
    seed,
    *,
    delta=1.0,
    hinge_target="binary01",
    y_true_dtype="same",
    squeeze_y_true=False,
    one_d=False,  # K == 1: y_pred (and y_true) 1-D of shape (N,)
    **weighting,  # the keywords of oracle_cases.add_weighting
):
    rng = np.random.default_rng(seed)
    rows = tuple(rows)
    shape = rows + (K,)
    kwargs = {}
    if loss == "huber":
        kwargs["delta"] = delta
    cw_column = weighting.get("cw", "none") != "none" and K == 1
    y = make_elementwise_targets(loss, rng, shape, hinge_target=hinge_target, class_weighted_column=cw_column)
    p = make_elementwise_predictions(loss, rng, y, delta)
    n_classes = 5 if cw_column else K

    p = p.astype(dtype)
    y = y.astype(dtype if y_true_dtype == "same" else y_true_dtype)
    if K == 1 and one_d and len(rows) == 1:
        y, p = y.reshape(rows), p.reshape(rows)
    elif K == 1 and squeeze_y_true:
        y = y.reshape(rows)
    return Case(loss, y, p, add_weighting(kwargs, rng, rows, n_classes, **weighting), dtype)


# ---------------------------------------------------------------------------------------------------------------
# Case construction: row losses
# ---------------------------------------------------------------------------------------------------------------


TARGET_KINDS = ("natural", "one_hot", "wild")


def make_row_targets(loss, rng, shape, *, target_kind="natural", class_weighted_column=False):
    """y_true in the loss's domain. ``class_weighted_column``: K == 1 with class_weight, so round(y) must be a class
    in 0..4 (halves round to even: 0.5 -> 0, 2.5 -> 2). With K > 1 the argmax is always in 0..K-1."""
    rows, K = shape[:-1], shape[-1]
    if class_weighted_column:
        return np.abs(rng.integers(0, 4, shape) + rng.choice([0.0, 0.25, -0.25, 0.5], shape))
    if target_kind == "one_hot":
        return np.eye(K)[rng.integers(0, K, rows)] if K > 1 else rng.integers(0, 2, shape).astype(np.float64)
    if target_kind == "wild":  # outside the usual domain: negatives, > 1, zeros, large values
        return sprinkle(rng, rng.normal(0.0, 2.0, shape), [0.0, 1.0, -1.0, 1e3, 1e-9, 2.0])
    if loss == "kl_divergence":  # distributions with exact zeros and ones mixed in
        d = rng.random(shape)
        d = sprinkle(rng, d, [0.0, 1.0, 1e-9])
        s = d.sum(axis=-1, keepdims=True)
        return np.where(s > 0, d / np.where(s > 0, s, 1.0), d)
    if loss == "categorical_hinge":
        return sprinkle(rng, rng.random(shape), [0.0, 1.0, 0.5])
    # cosine_similarity: real vectors, some all-zero rows, some tiny ones
    y = rng.normal(0.0, 2.0, shape)
    if y.size:
        flat = y.reshape(-1, K)
        flat[rng.random(flat.shape[0]) < 0.15] = 0.0
        flat[rng.random(flat.shape[0]) < 0.1] *= 1e-9
    return sprinkle(rng, y, [0.0, 1e3, -1e3])


def make_row_predictions(loss, rng, shape):
    K = shape[-1]
    if loss == "kl_divergence":
        p = rng.random(shape)
        return sprinkle(rng, p, [0.0, 1.0, 1e-9, 1.5, -0.5, 5e-8])  # out of [ε, 1]: clipped
    if loss == "categorical_hinge":
        return sprinkle(rng, rng.normal(0.0, 2.0, shape), [0.0, 1.0, -1.0, 3.0, 1e3])
    p = rng.normal(0.0, 2.0, shape)
    if p.size:
        flat = p.reshape(-1, K)
        flat[rng.random(flat.shape[0]) < 0.15] = 0.0
        flat[rng.random(flat.shape[0]) < 0.1] *= 1e-9
    return sprinkle(rng, p, [0.0, 1e3, -1e3, 1e-30])


def build_row_case(
    loss,
    dtype,
    rows,
    K,
    seed,
    *,
    target_kind="natural",
    y_true_dtype="same",
    single_row=False,  # y_pred (and y_true) 1-D of shape (K,): one row, row shape ()
    squeeze_y_true=False,  # K == 1: y_true without its trailing axis of size 1
    axis=None,  # cosine_similarity only: None (not passed), -1 or ndim - 1
    **weighting,  # the keywords of oracle_cases.add_weighting
):
    rng = np.random.default_rng(seed)
    rows = () if single_row else tuple(rows)
    shape = rows + (K,)
    kwargs = {}
    cw_column = weighting.get("cw", "none") != "none" and K == 1
    y = make_row_targets(loss, rng, shape, target_kind=target_kind, class_weighted_column=cw_column)
    p = make_row_predictions(loss, rng, shape)
    n_classes = 5 if cw_column else K

    p = p.astype(dtype)
    y = y.astype(dtype if y_true_dtype == "same" else y_true_dtype)
    if K == 1 and squeeze_y_true and len(rows) >= 1:
        y = y.reshape(rows)
    if axis is not None and loss == "cosine_similarity":
        kwargs["axis"] = -1 if axis == -1 else p.ndim - 1
    return Case(loss, y, p, add_weighting(kwargs, rng, rows, n_classes, **weighting), dtype)


def build_case(loss, dtype, rows, K, seed, **options):
    """A case of either family; ``options`` are the family builder's keywords."""
    build = build_row_case if loss in ROW_LOSSES else build_elementwise_case
    return build(loss, dtype, rows, K, seed, **options)


# ---------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------


def term_scale(case):
    """An upper bound on |w|·(size of the terms of one row's loss), times the row count: what a few ulp of float64
    error per term can add up to in any reduction (all weights are >= 0, so means never amplify it)."""
    y = np.asarray(case.y_true, dtype=np.float64)
    p = np.asarray(case.y_pred, dtype=np.float64)
    if p.size == 0:
        return 1.0
    y = np.broadcast_to(y.reshape(y.shape + (1,) * (p.ndim - y.ndim)), p.shape) if y.ndim < p.ndim else y
    with np.errstate(all="ignore"):
        if case.loss in ROW_LOSSES:
            per_row, rows = row_term_bound(case.loss, y, p), p.size // p.shape[-1]
        else:
            per_row, rows = elementwise_term_bound(case, y, p), p.size // (p.shape[-1] if p.ndim > 1 else 1)
    return per_row * weight_bound(case) * max(rows, 1)


def elementwise_term_bound(case, y, p):
    """The largest term of the per-value losses (a row averages them)."""
    terms = np.abs(y) + np.abs(p) + 1.0
    if case.loss == "poisson":
        terms = terms * (1.0 + np.abs(np.log(np.abs(p) + 1e-7)))
    if case.loss == "mean_absolute_percentage_error":
        terms = 100.0 * terms / np.maximum(np.abs(y), 1e-7)
    if case.loss in ("huber", "squared_hinge", "hinge"):
        terms = terms * terms * (1.0 + case.kwargs.get("delta", 1.0))
    return float(np.max(terms[np.isfinite(terms)], initial=1.0))


def row_term_bound(loss, y, p):
    """The sum of the sizes of one row's terms."""
    K = p.shape[-1]
    if loss == "kl_divergence":
        return K * (1.0 + abs(math.log(1e-7)))  # ỹ <= 1, |log(ỹ/p̃)| <= -log ε
    if loss == "categorical_hinge":
        t = (1.0 + np.abs(y)) * (1.0 + np.abs(p))
        return K * (1.0 + float(np.max(t[np.isfinite(t)], initial=1.0)))
    return 2.0 * K  # cosine: normalised vectors, |x̂_k| <= 1


def tolerances(case):
    rtol = 1e-12 if np.dtype(case.dtype) == np.float64 else 1e-6
    return rtol, 1e-12 + 1e-14 * term_scale(case)


def expected_row_shape(case):
    p = np.asarray(case.y_pred)
    if p.ndim == 1 and case.loss not in ROW_LOSSES:
        return p.shape  # elementwise: N rows of one value
    return p.shape[:-1]  # a 1-D y_pred of a row loss is one row: shape ()


def check_against_oracle(case):
    check_each_reduction(case, tolerances=tolerances, row_shape=expected_row_shape)


# ---------------------------------------------------------------------------------------------------------------
# Hypothesis
# ---------------------------------------------------------------------------------------------------------------


@st.composite
def elementwise_cases(draw, loss):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows = draw(row_shapes())
    K = draw(st.sampled_from([1, 2, 5]))
    opts = {}
    if loss == "huber":
        opts["delta"] = draw(st.sampled_from([1.0, 0.5, 2.5, 0.0, 1e-3, 3]))
    if loss in ("hinge", "squared_hinge"):
        opts["hinge_target"] = draw(st.sampled_from(HINGE_TARGETS))
    opts["y_true_dtype"] = draw(st.sampled_from(["same", "float64"]))
    opts["squeeze_y_true"] = K == 1 and draw(st.booleans())
    opts["one_d"] = K == 1 and len(rows) == 1 and draw(st.booleans())
    opts.update(draw_weighting(draw, len(rows)))
    seed = draw(st.integers(0, 2**32 - 1))
    return build_elementwise_case(loss, dtype, rows, K, seed, **opts)


@st.composite
def row_cases(draw, loss):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows = draw(row_shapes())
    K = draw(st.sampled_from([1, 2, 3, 5]))
    opts = {}
    opts["single_row"] = draw(st.integers(0, 7)) == 0
    opts["target_kind"] = draw(st.sampled_from(["natural", "natural", "one_hot", "wild"]))
    opts["y_true_dtype"] = draw(st.sampled_from(["same", "float64"]))
    opts["squeeze_y_true"] = K == 1 and draw(st.booleans())
    if loss == "cosine_similarity":
        opts["axis"] = draw(st.sampled_from([None, -1, "last"]))
    opts.update(draw_weighting(draw, 0 if opts["single_row"] else len(rows)))
    seed = draw(st.integers(0, 2**32 - 1))
    return build_row_case(loss, dtype, rows, K, seed, **opts)


def cases(loss):
    return row_cases(loss) if loss in ROW_LOSSES else elementwise_cases(loss)


@pytest.mark.parametrize("loss", ALL_LOSSES)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_matches_oracle_parallel_blocks(loss, data, small_blocks):
    """Every reduction, with the block driver forced onto tiny inputs (7 elements per block)."""
    check_against_oracle(data.draw(cases(loss), label="case"))


@pytest.mark.parametrize("loss", ALL_LOSSES)
@settings(max_examples=10)
@given(data=st.data())
def test_matches_oracle_default_engine(loss, data):
    check_against_oracle(data.draw(cases(loss), label="case"))


# Deterministic: every weight prefix rank x every mask prefix rank on rows of rank 3, both dtypes.
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_weight_mask_matrix(loss, dtype, small_blocks):
    def make_case(i, options):
        common = dict(seed=i, n_threads=1 + i % 3, zero_division="nan", **options)
        if loss in ROW_LOSSES:
            return build_row_case(loss, dtype, (4, 3, 2), (1, 3, 4)[i % 3], target_kind=TARGET_KINDS[i % 3], **common)
        extra = {}
        if loss == "huber":
            extra["delta"] = (1.0, 0.5, 2.0)[i % 3]
        if loss in ("hinge", "squared_hinge"):
            extra["hinge_target"] = HINGE_TARGETS[i % 4]
        return build_elementwise_case(loss, dtype, (4, 3, 2), (1, 3)[i % 2], **common, **extra)

    check_weight_mask_matrix(make_case, check_against_oracle)


@pytest.mark.parametrize("loss", CATALOG)
def test_nan_in_included_row_propagates_and_excluded_row_is_skipped(loss, small_blocks):
    """NaN in an included row's y_pred gives that row NaN (np.maximum semantics: no fmax/fmin hiding it); inf/NaN
    in an excluded row changes nothing."""
    case = build_case(loss, np.float64, (6, 2), 3, seed=4, n_threads=2)
    p = case.y_pred.copy()
    p[2, 1, 0] = np.nan
    p[4, 0, 1] = np.inf
    mask = np.ones((6, 2), bool)
    mask[4, 0] = False
    fn = getattr(fastloss, loss)
    kw = {k: v for k, v in case.kwargs.items() if k != "zero_division"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = fn(case.y_true, p, mask=mask, reduction="none", **kw)
        total = fn(case.y_true, p, mask=mask, reduction="sum", **kw)
    assert np.isnan(rows[2, 1]) and math.isnan(total)
    finite = mask.copy()
    finite[2, 1] = False
    assert np.all(np.isfinite(rows[finite])) and rows[4, 0] == 0.0
    np.testing.assert_allclose(rows, getattr(oracle, loss)(case.y_true, p, mask=mask, reduction="none", **kw),
                               rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("where", ["y_pred", "y_true"])
@pytest.mark.parametrize("loss", ROW_LOSSES)
def test_row_loss_nan_in_included_row_propagates_and_excluded_row_is_bitwise_skipped(loss, where, small_blocks):
    """NaN in an included row gives that row NaN (np.clip / np.max / np.minimum propagate NaN: no fmax hiding it);
    NaN and inf in an excluded row change nothing, bit for bit."""
    case = build_case(loss, np.float64, (6, 2), 3, seed=4, n_threads=2, sw="array", sw_rank=2)
    kw = {k: v for k, v in case.kwargs.items() if k != "zero_division"}
    mask = np.ones((6, 2), bool)
    mask[4, 0] = False
    mask[1, 1] = False
    fn = getattr(fastloss, loss)
    kw["sample_weight"][1, 1] = np.nan  # a NaN weight of an excluded row is never used either
    clean_rows = fn(case.y_true, case.y_pred, mask=mask, reduction="none", **kw)
    clean_totals = fn(case.y_true, case.y_pred, mask=mask, reduction="totals", **kw)
    assert np.all(np.isfinite(clean_rows))

    # excluded rows: NaN and inf in both arrays: bitwise the same result
    y, p = case.y_true.copy(), case.y_pred.copy()
    y[4, 0, :] = [np.nan, np.inf, -np.inf]
    p[4, 0, :] = [np.inf, np.nan, -np.inf]
    p[1, 1, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = fn(y, p, mask=mask, reduction="none", **kw)
        totals = fn(y, p, mask=mask, reduction="totals", **kw)
    assert rows.tobytes() == clean_rows.tobytes()
    assert totals == clean_totals

    # an included row with a NaN: that row (and every sum) is NaN, the others unchanged
    (y if where == "y_true" else p)[2, 1, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = fn(y, p, mask=mask, reduction="none", **kw)
        total = fn(y, p, mask=mask, reduction="sum", **kw)
    assert np.isnan(rows[2, 1]) and math.isnan(total)
    finite = np.ones((6, 2), bool)
    finite[2, 1] = False
    assert rows[finite].tobytes() == clean_rows[finite].tobytes()
    np.testing.assert_allclose(rows, getattr(oracle, loss)(y, p, mask=mask, reduction="none", **kw),
                               rtol=1e-12, atol=1e-12, equal_nan=True)


# ---------------------------------------------------------------------------------------------------------------
# Values derived by hand ("none" per-row values; an elementwise loss averages the K values of a row)
# ---------------------------------------------------------------------------------------------------------------


# (id, loss, kwargs, y_true, y_pred, expected rows as a function of eps)
ELEMENTWISE_EXACT = [
    # Huber: h = ½e² if |e| <= δ else δ|e| - ½δ². At |e| = δ both branches are ½δ² (0.125 for δ = 0.5, 0.5
    # for δ = 1), so the value is continuous at the boundary whichever comparison the kernel uses.
    ("huber |e|=delta=0.5", "huber", {"delta": 0.5}, [[0.0], [1.0]], [[0.5], [0.5]], lambda e: [0.125, 0.125]),
    ("huber |e|=delta=1", "huber", {}, [[0.0], [-2.0]], [[1.0], [-3.0]], lambda e: [0.5, 0.5]),
    # δ = 1: e = 3 -> 3 - ½ = 2.5; e = -3 -> 2.5; e = 0.5 -> 0.125; row (3, 0.5) -> (2.5 + 0.125)/2 = 1.3125
    ("huber linear/quadratic", "huber", {}, [[0.0, 0.0], [1.0, 1.0]], [[3.0, 0.5], [-2.0, 1.0]],
     lambda e: [1.3125, 1.25]),
    # δ = 2.5: e = 1 -> ½; e = -4 -> 2.5·4 - ½·6.25 = 6.875; mean 3.6875
    ("huber delta=2.5", "huber", {"delta": 2.5}, [[0.0, 4.0]], [[1.0, 0.0]], lambda e: [3.6875]),
    # δ = 0: ½e² only at e = 0 (0), else 0·|e| - 0 = 0: identically 0
    ("huber delta=0", "huber", {"delta": 0.0}, [[0.0, 1.0]], [[5.0, -7.0]], lambda e: [0.0]),
    # delta given as an int
    ("huber delta=2 (int)", "huber", {"delta": 2}, [[0.0]], [[3.0]], lambda e: [4.0]),  # 2·3 - 2 = 4
    # log cosh: x + softplus(-2x) - log 2. x = 0: log1p(1) - log 2 = 0. |x| = 1e4: exp(2e4) would overflow, the
    # stable form gives |x| - log 2 = 9999.30685281944. x = ±1: log(cosh 1) = 0.4337808304830272.
    ("log_cosh 0", "log_cosh", {}, [[0.0], [3.5]], [[0.0], [3.5]], lambda e: [0.0, 0.0]),
    ("log_cosh ±1e4", "log_cosh", {}, [[0.0], [0.0]], [[1e4], [-1e4]], lambda e: [1e4 - LOG2, 1e4 - LOG2]),
    ("log_cosh ±1", "log_cosh", {}, [[1.0, -1.0]], [[2.0, -2.0]], lambda e: [math.log(math.cosh(1.0))]),
    # MAPE: 100·|y - p| / max(|y|, ε). y = 0, p = 2: 200/ε (2e9 in float64); y = 4, p = 3: 25; y = -2, p = 1:
    # 150; y = 1e-8 < ε, p = 0: 100·1e-8/ε (= 10 in float64)
    ("mape y=0", "mean_absolute_percentage_error", {}, [[0.0], [4.0], [-2.0]], [[2.0], [3.0], [1.0]],
     lambda e: [200.0 / e, 25.0, 150.0]),
    ("mape y<eps", "mean_absolute_percentage_error", {}, [[1e-8, 4.0]], [[0.0, 5.0]],
     lambda e: [(100.0 * 1e-8 / e + 25.0) / 2]),
    # MSLE: (log1p(max(p, ε)) - log1p(max(y, ε)))². y = 3, p = 1: (log 2 - log 4)² = (log 2)²; negatives floor at
    # ε: y = -5, p = 0 -> 0; y = 0, p = e - 1 -> (1 - log1p(ε))²
    ("msle", "mean_squared_logarithmic_error", {}, [[3.0], [-5.0], [0.0]], [[1.0], [0.0], [math.e - 1]],
     lambda e: [LOG2**2, 0.0, (1.0 - math.log1p(e)) ** 2]),
    # Poisson: p - y·log(p + ε). p = 0, y = 2: -2·log ε (32.236 in float64); y = 0, p = 3: 3; y = 1, p = 1:
    # 1 - log(1 + ε)
    ("poisson p=0", "poisson", {}, [[2.0], [0.0], [1.0]], [[0.0], [3.0], [1.0]],
     lambda e: [-2.0 * math.log(e), 3.0, 1.0 - math.log1p(e)]),
    # Hinge: all of y_true in {0, 1} -> y' = 2y - 1: y = (0, 1), p = 0.5 -> max(1 + 0.5, 0) = 1.5, 0.5
    ("hinge {0,1}", "hinge", {}, [[0.0], [1.0]], [[0.5], [0.5]], lambda e: [1.5, 0.5]),
    # y_true in {-1, 1}: used as given, the same values
    ("hinge {-1,1}", "hinge", {}, [[-1.0], [1.0]], [[0.5], [0.5]], lambda e: [1.5, 0.5]),
    # mixed {0, 1, -1}: not all 0/1, so the 0 stays 0: max(1 - 0, 0) = 1; 0.5; 1.5
    ("hinge mixed keeps 0", "hinge", {}, [[0.0], [1.0], [-1.0]], [[0.5], [0.5], [0.5]], lambda e: [1.0, 0.5, 1.5]),
    # the rule is over the whole array, not per row: row 0 is all 0/1 but row 1 holds a 2, so row 0 keeps y = 0:
    # row 0: (max(1 - 0·2, 0) + max(1 - 1·(-3), 0))/2 = (1 + 4)/2 = 2.5; row 1: (max(1 - 2·0.25, 0) + 1)/2 = 0.75
    ("hinge rule over the whole batch", "hinge", {}, [[0.0, 1.0], [2.0, 1.0]], [[2.0, -3.0], [0.25, 0.0]],
     lambda e: [2.5, 0.75]),
    # converted: y' = (-1, 1): (max(1 + 2, 0) + max(1 - 3, 0))/2 = 1.5
    ("hinge K=2", "hinge", {}, [[0.0, 1.0]], [[2.0, 3.0]], lambda e: [1.5]),
    ("squared_hinge {0,1}", "squared_hinge", {}, [[0.0], [1.0]], [[0.5], [0.5]], lambda e: [2.25, 0.25]),
    ("squared_hinge mixed", "squared_hinge", {}, [[0.0], [1.0], [-1.0]], [[0.5], [0.5], [0.5]],
     lambda e: [1.0, 0.25, 2.25]),
    # (1 + 2)² = 9 and max(1 - 3, 0)² = 0 -> 4.5
    ("squared_hinge K=2", "squared_hinge", {}, [[0.0, 1.0]], [[2.0, 3.0]], lambda e: [4.5]),
]
ROW_EXACT = [
    # cosine: -Σ ŷ·p̂. Identical vectors: -|x|²/|x|² = -1; (3, 4) normalises to (0.6, 0.8): -(0.36 + 0.64) = -1
    ("cosine identical", "cosine_similarity", {}, [[3.0, 4.0], [1.0, 2.0]], [[3.0, 4.0], [1.0, 2.0]],
     lambda e: [-1.0, -1.0]),
    # scale invariant: (1, 2) and (2, 4) are parallel -> -1; opposite vectors -> +1
    ("cosine parallel/opposite", "cosine_similarity", {}, [[1.0, 2.0], [1.0, -1.0]], [[2.0, 4.0], [-5.0, 5.0]],
     lambda e: [-1.0, 1.0]),
    # orthogonal -> 0; a zero vector on either side -> x·min(1/0, 1/ε) = 0·(1/ε) = 0
    ("cosine orthogonal/zero", "cosine_similarity", {}, [[1.0, 0.0], [0.0, 0.0], [2.0, 3.0]],
     [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], lambda e: [0.0, 0.0, 0.0]),
    # 45°: (1, 1)·(1, 0) / sqrt 2 -> -1/sqrt 2
    ("cosine 45 degrees", "cosine_similarity", {}, [[1.0, 1.0]], [[1.0, 0.0]], lambda e: [-math.sqrt(0.5)]),
    # K == 1: x̂ = sign(x) (x != 0): -sign(y)·sign(p); zero -> 0
    ("cosine K=1", "cosine_similarity", {}, [[2.0], [-3.0], [0.0]], [[0.5], [4.0], [1.0]], lambda e: [-1.0, 1.0, 0.0]),
    # axis given as the last axis (1 for a 2-D y_pred) is the same as -1
    ("cosine axis=1", "cosine_similarity", {"axis": 1}, [[1.0, 2.0]], [[2.0, 4.0]], lambda e: [-1.0]),
    # a tiny vector (norm |(3e-9, 4e-9)| = 5e-9 < ε): the inverse norm is capped at 1/ε, so ŷ = (3e-9, 4e-9)/ε
    # = (0.03, 0.04) instead of (0.6, 0.8): l = -(3e-9·0.6 + 4e-9·0.8)/ε = -5e-9/ε (about -0.05, not -1)
    ("cosine norm below eps", "cosine_similarity", {}, [[3e-9, 4e-9]], [[3.0, 4.0]], lambda e: [-5e-9 / e]),
    # KL: identical distributions -> Σ ỹ·log 1 = 0
    ("kl identical", "kl_divergence", {}, [[0.25, 0.75], [1.0, 0.0]], [[0.25, 0.75], [1.0, 0.0]],
     lambda e: [0.0, 0.0]),
    # p = 0 where y = 1: ỹ = (1, ε), p̃ = (ε, 1): 1·log(1/ε) + ε·log(ε/1) = (ε - 1)·log ε
    ("kl p=0", "kl_divergence", {}, [[1.0, 0.0]], [[0.0, 1.0]], lambda e: [(e - 1.0) * math.log(e)]),
    # y = (½, ½), p = (¼, ¾): ½·log 2 + ½·log(2/3)
    ("kl half/quarter", "kl_divergence", {}, [[0.5, 0.5]], [[0.25, 0.75]],
     lambda e: [0.5 * math.log(2.0) + 0.5 * math.log(2.0 / 3.0)]),
    # values outside [0, 1] are clipped, not rejected: y = (2, -1) -> (1, ε); p = (4, 0.5) -> (1, 0.5):
    # 1·log 1 + ε·log(2ε)
    ("kl clipped", "kl_divergence", {}, [[2.0, -1.0]], [[4.0, 0.5]], lambda e: [e * math.log(2.0 * e)]),
    # K == 1: y = 0.5, p = 0.25 -> 0.5·log 2
    ("kl K=1", "kl_divergence", {}, [[0.5], [0.0]], [[0.25], [0.0]], lambda e: [0.5 * math.log(2.0), 0.0]),
    # categorical hinge: max(max_k (1 - y)·p - Σ y·p + 1, 0).
    # correct and confident one-hot: pos = 2, neg = max(0, 0.5) = 0.5: 0.5 - 2 + 1 < 0 -> 0
    ("cat_hinge confident", "categorical_hinge", {}, [[0.0, 1.0, 0.0]], [[0.0, 2.0, 0.5]], lambda e: [0.0]),
    # one-hot, wrong: pos = 0.25, neg = max(0, 0.5, 0.25) = 0.5: 0.5 - 0.25 + 1 = 1.25
    ("cat_hinge wrong", "categorical_hinge", {}, [[1.0, 0.0, 0.0]], [[0.25, 0.5, 0.25]], lambda e: [1.25]),
    # soft target: pos = ½·1 + ½·2 = 1.5, neg = max(½·1, ½·2, 1·3) = 3: 3 - 1.5 + 1 = 2.5
    ("cat_hinge soft", "categorical_hinge", {}, [[0.5, 0.5, 0.0]], [[1.0, 2.0, 3.0]], lambda e: [2.5]),
    # negative scores: pos = -1, neg = max(0·(-1), 1·(-2)) = 0: 0 + 1 + 1 = 2
    ("cat_hinge negative", "categorical_hinge", {}, [[1.0, 0.0]], [[-1.0, -2.0]], lambda e: [2.0]),
    # K == 1: y = 1: pos = p, neg = 0·p = 0: max(1 - p, 0); y = 0: pos = 0, neg = p: max(p + 1, 0)
    ("cat_hinge K=1", "categorical_hinge", {}, [[1.0], [1.0], [0.0], [0.0]], [[0.25], [3.0], [0.5], [-4.0]],
     lambda e: [0.75, 0.0, 1.5, 0.0]),
]
EXACT = ELEMENTWISE_EXACT + ROW_EXACT


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case_id, loss, kwargs, y, p, expected", EXACT, ids=[row[0] for row in EXACT])
def test_values_derived_by_hand(case_id, loss, kwargs, y, p, expected, dtype):
    y = np.asarray(y, dtype=dtype)
    p = np.asarray(p, dtype=dtype)
    want = np.asarray(expected(eps_of(dtype)), dtype=np.float64)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / divide-by-zero / invalid warnings (log_cosh at 1e4, p = 0)
        for fn in (getattr(fastloss, loss), getattr(oracle, loss)):
            for n_threads in (1, 3):
                got = fn(y, p, reduction="none", n_threads=n_threads, **kwargs)
                assert got.dtype == dtype and got.shape == want.shape
                np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=1e-15,
                                           err_msg=f"{fn.__module__}.{loss}")
            if loss in ROW_LOSSES:
                # a 1-D y_pred is one row: row 0 alone, with row shape ()
                kw1 = {**kwargs, "axis": 0} if "axis" in kwargs else kwargs
                one = fn(y[0], p[0], reduction="none", **kw1)
                assert one.shape == () and one.dtype == dtype
                assert one.tobytes() == fn(y[:1], p[:1], reduction="none", **kwargs)[0].tobytes()
            elif p.shape[-1] == 1:
                # a 1-D input of K == 1 data is the same rows
                np.testing.assert_array_equal(fn(y[:, 0], p[:, 0], reduction="none", **kwargs),
                                              fn(y, p, reduction="none", **kwargs))
            # weights and reductions on top: S = Σ w·l with w = (2, 0, 1, ...)
            w = np.array([2.0, 0.0, 1.0][: len(want)] + [1.0] * max(0, len(want) - 3))
            S = float(np.sum(w * want))
            assert fn(y, p, sample_weight=w, reduction="sum", **kwargs) == pytest.approx(S, rel=rtol, abs=1e-15)
            assert fn(y, p, sample_weight=w, reduction="mean_with_sample_weight", **kwargs) == pytest.approx(
                S / w.sum(), rel=rtol, abs=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_mape_zero_target_exact_eps(dtype):
    """ε is taken in the compute dtype: float32 gives 100·|p| / 1.0000000116860974e-07, not / 1e-7."""
    y = np.zeros((1, 1), dtype)
    p = np.ones((1, 1), dtype)
    got = float(fastloss.mean_absolute_percentage_error(y, p, reduction="sum"))
    want = 100.0 / (EPS32 if dtype == np.float32 else EPS64)
    assert got == pytest.approx(want, rel=1e-15)
    assert got == pytest.approx(oracle.mean_absolute_percentage_error(y, p, reduction="sum"), rel=1e-15)


def test_hinge_batch_rule_reads_included_rows_only():
    """The 0/1 rule is decided on included rows, so an excluded row (here a padding -1) changes nothing. Rows 0-1
    are 0/1 and row 2 is excluded: the targets become -1, 1, so row 0 is max(1 - (-1)(0.5), 0) = 1.5 and row 1 is
    0.5. Without the mask the -1 counts and nothing is converted: 1.0, 0.5 and max(1 - (-1)(0.5), 0) = 1.5.
    (Keras reads the whole batch and gives [1.0, 0.5, 0] with the mask: a documented difference.)"""
    y = np.array([[0.0], [1.0], [-1.0]])
    p = np.full((3, 1), 0.5)
    mask = np.array([True, True, False])
    for fn in (fastloss.hinge, oracle.hinge):
        np.testing.assert_allclose(fn(y, p, mask=mask, reduction="none"), [1.5, 0.5, 0.0], rtol=1e-15)
        np.testing.assert_allclose(fn(y, p, reduction="none"), [1.0, 0.5, 1.5], rtol=1e-15)
    # and with the excluded row set to a 0/1 value the result is the same: the excluded row is irrelevant
    y[2] = 1.0
    for fn in (fastloss.hinge, oracle.hinge):
        np.testing.assert_allclose(fn(y, p, mask=mask, reduction="none"), [1.5, 0.5, 0.0], rtol=1e-15)


def test_hinge_batch_rule_block_and_thread_independent(small_blocks):
    """One value that is not 0/1, in the last block of a parallel pass, turns the conversion off everywhere."""
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, (200, 3)).astype(float)
    p = rng.normal(size=(200, 3))
    y_mixed = y.copy()
    y_mixed[199, 2] = -1.0
    for n_threads in (1, 2, 3):
        for yy in (y, y_mixed):
            np.testing.assert_allclose(fastloss.hinge(yy, p, reduction="none", n_threads=n_threads),
                                       oracle.hinge(yy, p, reduction="none"), rtol=1e-13, atol=1e-15)
    assert not np.allclose(fastloss.hinge(y, p, reduction="none")[:199],
                           fastloss.hinge(y_mixed, p, reduction="none")[:199])


def test_one_d_y_pred_is_one_row():
    """A 1-D y_pred of K values is one row (unlike the elementwise losses, which read it as K rows of one value):
    sum_over_batch_size divides by 1, class_weight reads the argmax of the whole vector."""
    y = np.array([0.0, 1.0, 0.0, 0.0])
    p = np.array([0.1, 0.6, 0.2, 0.1])
    for name in ROW_LOSSES:
        for fn in (getattr(fastloss, name), getattr(oracle, name)):
            row = float(fn(y, p, reduction="sum"))
            assert fn(y, p, reduction="sum_over_batch_size") == pytest.approx(row, rel=1e-15)
            assert fn(y, p, reduction="totals").rows == 1
            # class 1 (the argmax) has weight 3
            assert fn(y, p, class_weight=[0.0, 3.0, 0.0, 0.0], reduction="sum") == pytest.approx(3 * row, rel=1e-15)


def test_class_of_row_is_first_argmax_or_rounded():
    """K > 1: the first maximum of the y_true row (a tie (½, ½) is class 0); K == 1: y rounded half to even
    (0.5 -> 0, 1.5 -> 2, 2.5 -> 2)."""
    cw = {0: 1.0, 1: 10.0, 2: 100.0, 3: 1000.0}
    y = np.array([[0.5, 0.5, 0.0], [0.0, 0.3, 0.3], [0.0, 0.0, 1.0]])
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    y1 = np.array([[0.5], [1.5], [2.5], [0.4]])
    p1 = np.array([[0.5], [0.25], [0.75], [0.5]])
    for name in ROW_LOSSES:
        for fn in (getattr(fastloss, name), getattr(oracle, name)):
            plain = fn(y, p, reduction="none")
            np.testing.assert_allclose(fn(y, p, class_weight=cw, reduction="none"), plain * [1.0, 10.0, 100.0],
                                       rtol=1e-15)
            plain1 = fn(y1, p1, reduction="none")
            np.testing.assert_allclose(fn(y1, p1, class_weight=cw, reduction="none"),
                                       plain1 * [1.0, 100.0, 100.0, 1.0], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_kl_zero_prediction_exact_eps(dtype):
    """ε is taken in the compute dtype: float32 gives log(1/1.0000000116860974e-07), not log(1e7)."""
    y = np.array([[1.0, 0.0]], dtype)
    p = np.array([[0.0, 1.0]], dtype)
    e = eps_of(dtype)
    got = fastloss.kl_divergence(y, p, reduction="sum")
    assert got == pytest.approx((e - 1.0) * math.log(e), rel=1e-14)
    assert got == pytest.approx(oracle.kl_divergence(y, p, reduction="sum"), rel=1e-14)


# ---------------------------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------------------------

Y3 = np.zeros((3, 2))
P3 = np.ones((3, 2))
Y4 = np.zeros((3, 2, 4))


BAD = [
    ("delta negative", lambda m: m.huber(Y3, P3, delta=-1.0), ValueError),
    ("delta NaN", lambda m: m.huber(Y3, P3, delta=float("nan")), ValueError),
    ("delta inf", lambda m: m.huber(Y3, P3, delta=float("inf")), ValueError),
    ("delta string", lambda m: m.huber(Y3, P3, delta="1.0"), TypeError),
    ("delta None", lambda m: m.huber(Y3, P3, delta=None), (TypeError, ValueError)),
    ("delta list", lambda m: m.huber(Y3, P3, delta=[1.0]), (TypeError, ValueError)),
]


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
@pytest.mark.parametrize("make_call, exc_type", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_delta(make_call, exc_type, module):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc_type) as info:
            make_call(module)
    assert str(info.value).startswith("delta"), str(info.value)


BAD_AXIS = [
    ("axis=0", lambda m: m.cosine_similarity(Y3, P3, axis=0), ValueError),
    ("axis=-2", lambda m: m.cosine_similarity(Y3, P3, axis=-2), ValueError),
    ("axis=2 (out of range)", lambda m: m.cosine_similarity(Y3, P3, axis=2), ValueError),
    ("axis=1 of 3-D", lambda m: m.cosine_similarity(Y4, Y4, axis=1), ValueError),
    ("axis='x'", lambda m: m.cosine_similarity(Y3, P3, axis="x"), TypeError),
    ("axis=1.0", lambda m: m.cosine_similarity(Y3, P3, axis=1.0), TypeError),
    ("axis=None", lambda m: m.cosine_similarity(Y3, P3, axis=None), TypeError),
    ("axis=(1,)", lambda m: m.cosine_similarity(Y3, P3, axis=(1,)), TypeError),
]


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
@pytest.mark.parametrize("make_call, exc_type", [row[1:] for row in BAD_AXIS], ids=[row[0] for row in BAD_AXIS])
def test_bad_axis(make_call, exc_type, module):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc_type) as info:
            make_call(module)
    assert "axis" in str(info.value), str(info.value)


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
def test_good_axis_spellings(module):
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 3, 5))
    ref = module.cosine_similarity(y, p, reduction="none")
    for axis in (-1, 2, np.int64(2), np.int32(-1)):
        assert module.cosine_similarity(y, p, axis=axis, reduction="none").tobytes() == ref.tobytes(), axis


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_bad_shapes(loss, module):
    fn = getattr(module, loss)
    with pytest.raises(ValueError) as info:
        fn(np.zeros((3, 2)), np.zeros((3, 4)))
    message = str(info.value).replace(" ", "")
    assert "y_true" in str(info.value) and "(3,2)" in message and "(3,4)" in message, str(info.value)
    with pytest.raises(ValueError, match="^y_pred"):
        fn(np.float64(1.0), np.float64(1.0))
    with pytest.raises(ValueError, match="^sample_weight"):
        fn(Y4, Y4, sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="^mask"):
        fn(Y4, Y4, mask=np.ones(4, bool))
    if loss in ROW_LOSSES:
        with pytest.raises(ValueError, match="^y_true"):
            fn(np.zeros((4, 3)), np.zeros((3, 4)))  # same size, other shape
        with pytest.raises(ValueError, match="^sample_weight"):
            fn(np.zeros(3), np.zeros(3), sample_weight=np.ones(3))  # a 1-D y_pred is one row: weights are 0-d
    with pytest.raises(TypeError, match="^y_pred"):
        fn(np.zeros(3), np.zeros(3, complex))
    if module is fastloss:
        with pytest.raises(ValueError, match="^n_threads"):
            fn(np.zeros(3), np.zeros(3), n_threads=0)


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_in_losses_dicts_and_accumulator(loss):
    assert fastloss.LOSSES[loss] is getattr(fastloss, loss)
    assert oracle.LOSSES[loss] is getattr(oracle, loss)
    assert loss in oracle.__all__
    case = build_case(loss, np.float64, (5, 2), 3, seed=2, sw="array", mask="array",
                      **({} if loss in ROW_LOSSES else {"delta": 0.7}))
    kw = {k: v for k, v in case.kwargs.items() if k in ("delta",)}
    call = {k: v for k, v in case.kwargs.items() if k in ("sample_weight", "mask")}
    acc = fastloss.Accumulator(loss, **kw).update(case.y_true, case.y_pred, **call)
    assert acc.result("sum") == pytest.approx(
        getattr(oracle, loss)(case.y_true, case.y_pred, reduction="sum", **kw, **call), rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Bit-identical results across thread counts and ISA levels
# ---------------------------------------------------------------------------------------------------------------


def _workload(loss, dtype):
    family = {} if loss in ROW_LOSSES else dict(delta=0.8, hinge_target="binary01")
    case = build_case(loss, dtype, (301, 3), 6, seed=7, sw="array", sw_rank=1, mask="array", mask_rank=2, **family)
    kw = {k: v for k, v in case.kwargs.items() if k not in ("n_threads", "zero_division")}
    return case.y_true, case.y_pred, kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_bitwise_equal_across_threads_and_isa_levels(loss, dtype, assert_same_bits):
    y, p, kw = _workload(loss, dtype)
    fn = getattr(fastloss, loss)
    assert_same_bits(lambda n_threads: (fn(y, p, reduction="totals", n_threads=n_threads, **kw),
                                        fn(y, p, reduction="none", n_threads=n_threads, **kw)))
