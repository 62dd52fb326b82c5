"""The catalog losses (MAPE, MSLE, Huber, log-cosh, Poisson, hinge, squared hinge) against the NumPy oracle.

All seven are elementwise (a 1-D y_pred is N rows of one value; per-row value = mean over the last axis), take the
common keywords of mean_squared_error, and compute in float64 whatever the input dtype; ``ε = dtype(1e-7)`` in the
compute dtype (float32: 1.0000000116860974e-07). Hinge and squared hinge use Keras's batch rule: ``y' = 2y - 1``
when every value of the whole y_true array is 0 or 1, else ``y' = y``.

Sections: hypothesis cases against the oracle (every reduction, weights of every prefix rank, class weights,
masks, thread counts 1/2/3 on the block driver); a deterministic weight x mask matrix; a table of values derived
by hand; bad inputs; bit-identical results across thread counts and ISA levels.

Tolerances: both sides compute in float64, so per-row values agree to a few ulp. Poisson's per-row values have
both signs, so a sum can cancel; the absolute tolerance is therefore scaled by the size of the terms
(``term_scale``), not by the result.
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
LOG2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------------------------
# Case construction
# ---------------------------------------------------------------------------------------------------------------


HINGE_TARGETS = ("binary01", "pm1", "mixed", "real")


def make_targets(loss, rng, shape, *, hinge_target="binary01", class_weighted_column=False):
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


def make_predictions(loss, rng, y, delta):
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


def build_case(
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
    y = make_targets(loss, rng, shape, hinge_target=hinge_target, class_weighted_column=cw_column)
    p = make_predictions(loss, rng, y, delta)
    n_classes = 5 if cw_column else K

    p = p.astype(dtype)
    y = y.astype(dtype if y_true_dtype == "same" else y_true_dtype)
    if K == 1 and one_d and len(rows) == 1:
        y, p = y.reshape(rows), p.reshape(rows)
    elif K == 1 and squeeze_y_true:
        y = y.reshape(rows)
    return Case(loss, y, p, add_weighting(kwargs, rng, rows, n_classes, **weighting), dtype)



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
        terms = np.abs(y) + np.abs(p) + 1.0
        if case.loss == "poisson":
            terms = terms * (1.0 + np.abs(np.log(np.abs(p) + 1e-7)))
        if case.loss == "mean_absolute_percentage_error":
            terms = 100.0 * terms / np.maximum(np.abs(y), 1e-7)
        if case.loss in ("huber", "squared_hinge", "hinge"):
            terms = terms * terms * (1.0 + case.kwargs.get("delta", 1.0))
    finite = terms[np.isfinite(terms)]
    rows = p.size // (p.shape[-1] if p.ndim > 1 else 1)
    return (float(np.max(finite, initial=1.0))) * weight_bound(case) * max(rows, 1)


def tolerances(case):
    rtol = 1e-12 if np.dtype(case.dtype) == np.float64 else 1e-6
    return rtol, 1e-12 + 1e-14 * term_scale(case)


def expected_row_shape(case):
    p = np.asarray(case.y_pred)
    return p.shape if p.ndim == 1 else p.shape[:-1]


def check_against_oracle(case):
    check_each_reduction(case, tolerances=tolerances, row_shape=expected_row_shape)


# ---------------------------------------------------------------------------------------------------------------
# Hypothesis
# ---------------------------------------------------------------------------------------------------------------


@st.composite
def cases(draw, loss):
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
    return build_case(loss, dtype, rows, K, seed, **opts)


@pytest.mark.parametrize("loss", CATALOG)
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_matches_oracle_parallel_blocks(loss, data, small_blocks):
    """Every reduction, with the block driver forced onto tiny inputs (7 elements per block)."""
    check_against_oracle(data.draw(cases(loss), label="case"))


@pytest.mark.parametrize("loss", CATALOG)
@settings(max_examples=10)
@given(data=st.data())
def test_matches_oracle_default_engine(loss, data):
    check_against_oracle(data.draw(cases(loss), label="case"))


# Deterministic: every weight prefix rank x every mask prefix rank on rows of rank 3, both dtypes.
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", CATALOG)
def test_weight_mask_matrix(loss, dtype, small_blocks):
    def make_case(i, options):
        extra = {}
        if loss == "huber":
            extra["delta"] = (1.0, 0.5, 2.0)[i % 3]
        if loss in ("hinge", "squared_hinge"):
            extra["hinge_target"] = HINGE_TARGETS[i % 4]
        return build_case(loss, dtype, (4, 3, 2), (1, 3)[i % 2], seed=i, n_threads=1 + i % 3, zero_division="nan",
                          **options, **extra)

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


# ---------------------------------------------------------------------------------------------------------------
# Values derived by hand ("none" per-row values; K values per row are averaged)
# ---------------------------------------------------------------------------------------------------------------


# (id, loss, kwargs, y_true, y_pred, expected rows as a function of eps)
EXACT = [
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case_id, loss, kwargs, y, p, expected", EXACT, ids=[row[0] for row in EXACT])
def test_values_derived_by_hand(case_id, loss, kwargs, y, p, expected, dtype):
    y = np.asarray(y, dtype=dtype)
    p = np.asarray(p, dtype=dtype)
    want = np.asarray(expected(eps_of(dtype)), dtype=np.float64)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid warnings (log_cosh at 1e4)
        for fn in (getattr(fastloss, loss), getattr(oracle, loss)):
            for n_threads in (1, 3):
                got = fn(y, p, reduction="none", n_threads=n_threads, **kwargs)
                assert got.dtype == dtype and got.shape == want.shape
                np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=1e-15,
                                           err_msg=f"{fn.__module__}.{loss}")
            # a 1-D input of K == 1 data is the same rows
            if p.shape[-1] == 1:
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


# ---------------------------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------------------------

Y3 = np.zeros((3, 2))
P3 = np.ones((3, 2))

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


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
@pytest.mark.parametrize("loss", CATALOG)
def test_bad_shapes(loss, module):
    fn = getattr(module, loss)
    with pytest.raises(ValueError) as info:
        fn(np.zeros((3, 2)), np.zeros((3, 4)))
    message = str(info.value).replace(" ", "")
    assert "y_true" in str(info.value) and "(3,2)" in message and "(3,4)" in message, str(info.value)
    with pytest.raises(ValueError, match="^y_pred"):
        fn(np.float64(1.0), np.float64(1.0))
    with pytest.raises(ValueError, match="^sample_weight"):
        fn(np.zeros((3, 2, 4)), np.zeros((3, 2, 4)), sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="^mask"):
        fn(np.zeros((3, 2, 4)), np.zeros((3, 2, 4)), mask=np.ones(4, bool))
    with pytest.raises(TypeError, match="^y_pred"):
        fn(np.zeros(3), np.zeros(3, complex))
    if module is fastloss:
        with pytest.raises(ValueError, match="^n_threads"):
            fn(np.zeros(3), np.zeros(3), n_threads=0)


@pytest.mark.parametrize("loss", CATALOG)
def test_in_losses_dicts_and_accumulator(loss):
    assert fastloss.LOSSES[loss] is getattr(fastloss, loss)
    assert oracle.LOSSES[loss] is getattr(oracle, loss)
    case = build_case(loss, np.float64, (5, 2), 3, seed=2, sw="array", mask="array", delta=0.7)
    kw = {k: v for k, v in case.kwargs.items() if k in ("delta",)}
    call = {k: v for k, v in case.kwargs.items() if k in ("sample_weight", "mask")}
    acc = fastloss.Accumulator(loss, **kw).update(case.y_true, case.y_pred, **call)
    assert acc.result("sum") == pytest.approx(
        getattr(oracle, loss)(case.y_true, case.y_pred, reduction="sum", **kw, **call), rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Bit-identical results across thread counts and ISA levels
# ---------------------------------------------------------------------------------------------------------------


def _workload(loss, dtype):
    case = build_case(loss, dtype, (301, 3), 6, seed=7, delta=0.8, hinge_target="binary01",
                      sw="array", sw_rank=1, mask="array", mask_rank=2)
    kw = {k: v for k, v in case.kwargs.items() if k not in ("n_threads", "zero_division")}
    return case.y_true, case.y_pred, kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", CATALOG)
def test_bitwise_equal_across_threads_and_isa_levels(loss, dtype, assert_same_bits):
    y, p, kw = _workload(loss, dtype)
    fn = getattr(fastloss, loss)
    assert_same_bits(lambda n_threads: (fn(y, p, reduction="totals", n_threads=n_threads, **kw),
                                        fn(y, p, reduction="none", n_threads=n_threads, **kw)))
