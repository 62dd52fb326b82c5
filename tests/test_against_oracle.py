"""The compiled kernel against the NumPy float64 oracle, over every loss, dtype, weighting, mask and reduction.

Cases are drawn by hypothesis: the discrete choices (loss, dtype, row shape, K, parameters, which weights, which
mask, thread count) are drawn directly and the array values come from a NumPy generator seeded by hypothesis, with
each loss's boundary values mixed in (probabilities 0 and 1, logits ±50 and ±1e3, exact zero weights).

Tolerances: both sides compute in float64 whatever the input dtype (CONTRACT: "All math is done in float64"), so
they agree to about 1e-13; the test holds float64 to rel 1e-12 (abs 1e-12 for values near 0) and float32 inputs
to the contract's 1e-6.
"""

from __future__ import annotations

import math
import warnings
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastloss
import oracle_cases
from fastloss import oracle
from oracle_cases import (
    LOSS_NAMES,
    SCALAR_REDUCTIONS,
    Case,
    add_weighting,
    assert_same_result,
    check_weight_mask_matrix,
    draw_weighting,
    row_shapes,
)

# Function-scoped fixtures (the engine hooks) are re-used across examples on purpose: they only set constants.
hooks_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# About a quarter of the entries get a boundary value (probabilities 0 and 1, logits ±50, ...).
sprinkle = partial(oracle_cases.sprinkle, fraction=0.25)


def tolerances(dtype):
    return (1e-12, 1e-12) if np.dtype(dtype) == np.float64 else (1e-6, 1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Case construction
# ---------------------------------------------------------------------------------------------------------------


def make_probabilities(rng, shape, positive_rows):
    p = sprinkle(rng, rng.random(shape), [0.0, 1.0, 1e-8, 1 - 1e-8, 0.5, 1e-7, 1 - 1e-7])
    if positive_rows and p.size:
        # crossentropies normalise each row by its sum; an all-zero row would be 0/0 (NaN), not what we test here
        flat = p.reshape(-1, shape[-1])
        flat[flat.sum(axis=1) == 0, -1] = 1.0
    return p


def make_logits(rng, shape):
    return sprinkle(rng, rng.normal(0.0, 4.0, shape), [0.0, 50.0, -50.0, 1e3, -1e3, 1e-3])


def build_case(
    loss,
    dtype,
    rows,
    K,
    seed,
    *,
    from_logits=False,
    label_smoothing=0.0,
    target="hard",  # BCE: hard/soft; CCE: hard (one-hot)/soft
    label_dtype="int64",  # SCCE
    label_trailing_one=False,  # SCCE: labels of shape rows + (1,)
    ignore_class=None,  # SCCE: None, "in_range" or "minus_one"
    y_true_dtype="same",
    squeeze_y_true=False,  # dense, K == 1: y_true of the row shape (Keras's rank rule)
    **weighting,  # the keywords of oracle_cases.add_weighting
):
    rng = np.random.default_rng(seed)
    rows = tuple(rows)
    shape = rows + (K,)
    kwargs = {}
    n_classes = K

    if loss in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"):
        kwargs["from_logits"] = from_logits
        p = make_logits(rng, shape) if from_logits else make_probabilities(rng, shape, loss != "binary_crossentropy")
    else:
        p = sprinkle(rng, rng.normal(0.0, 3.0, shape), [0.0, 1e3, -1e3, 0.5])

    if loss == "binary_crossentropy":
        kwargs["label_smoothing"] = label_smoothing
        y = rng.integers(0, 2, shape).astype(np.float64) if target == "hard" else rng.random(shape)
        if K == 1:
            n_classes = 2  # class = round(y) in {0, 1}
    elif loss == "categorical_crossentropy":
        kwargs["label_smoothing"] = label_smoothing
        if target == "hard":
            y = np.eye(K)[rng.integers(0, K, rows)]
        else:
            y = rng.random(shape)
            y /= np.where(y.sum(axis=-1, keepdims=True) == 0, 1.0, y.sum(axis=-1, keepdims=True))
        if K == 1:
            n_classes = 2  # K == 1: class = round(y), and a one-hot (or normalised) y is 1
    elif loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, K, rows)
        if ignore_class == "in_range":
            kwargs["ignore_class"] = int(rng.integers(0, K))
        elif ignore_class == "minus_one":
            kwargs["ignore_class"] = -1
            y = np.where(rng.random(rows) < 0.3, -1, y)
        if label_dtype == "bool":
            y = (y == 1) if K >= 2 else (y != 0)
        else:
            y = y.astype(label_dtype)
        if label_trailing_one:
            y = y.reshape(rows + (1,))
    else:  # MSE / MAE
        if weighting.get("cw", "none") != "none" and K == 1:
            # class = round-half-to-even(y): keep it in 0..4 (0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4)
            y = rng.integers(0, 4, shape) + rng.choice([0.0, 0.25, -0.25, 0.5], shape)
            y = np.abs(y)
            n_classes = 5
        else:
            y = sprinkle(rng, rng.normal(0.0, 3.0, shape), [0.0, 1e3, -1e3])

    p = p.astype(dtype)
    if loss != "sparse_categorical_crossentropy":
        ydt = dtype if y_true_dtype == "same" else y_true_dtype
        y = y.astype(ydt)
        if squeeze_y_true and K == 1:
            y = y.reshape(rows)

    return Case(loss, y, p, add_weighting(kwargs, rng, rows, n_classes, **weighting), dtype)


# ---------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------


def check_against_oracle(case):
    oracle_cases.check_against_oracle(case, tolerances=lambda c: tolerances(c.dtype), row_shape=expected_row_shape)


def expected_row_shape(case):
    p = np.asarray(case.y_pred)
    if p.ndim == 1 and case.loss in ("binary_crossentropy", "mean_squared_error", "mean_absolute_error"):
        return p.shape
    return p.shape[:-1]


# ---------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------


@st.composite
def cases(draw, loss):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows = draw(row_shapes(empty_one_in=8))  # empty inputs (R = 0) in any position
    K = draw(st.sampled_from([1, 2, 5]))
    opts = {}
    if loss in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"):
        opts["from_logits"] = draw(st.booleans())
    if loss in ("binary_crossentropy", "categorical_crossentropy"):
        opts["label_smoothing"] = draw(st.sampled_from([0.0, 0.1]))
        opts["target"] = draw(st.sampled_from(["hard", "soft"]))
    if loss == "sparse_categorical_crossentropy":
        opts["label_dtype"] = draw(st.sampled_from(["int64", "int32", "uint8", "float64", "float32", "bool"]))
        opts["label_trailing_one"] = draw(st.booleans())
        opts["ignore_class"] = draw(st.sampled_from([None, None, "in_range", "minus_one"]))
        if opts["ignore_class"] == "minus_one" and opts["label_dtype"] in ("uint8", "bool"):
            opts["label_dtype"] = "int64"
    else:
        opts["y_true_dtype"] = draw(st.sampled_from(["same", "float64"]))
        opts["squeeze_y_true"] = K == 1 and draw(st.booleans())

    opts.update(draw_weighting(draw, len(rows), mask_scalars=(True, False, np.bool_(True), 1),
                               mask_dtypes=("bool", "bool", "int8", "uint8")))
    seed = draw(st.integers(0, 2**32 - 1))
    return build_case(loss, dtype, rows, K, seed, **opts)


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSS_NAMES)
@hooks_ok
@given(data=st.data())
def test_matches_oracle_parallel_blocks(loss, data, small_blocks):
    """Every reduction, with the block driver forced onto tiny inputs (7 elements per block)."""
    case = data.draw(cases(loss), label="case")
    check_against_oracle(case)


@pytest.mark.parametrize("loss", LOSS_NAMES)
@settings(max_examples=25)
@given(data=st.data())
def test_matches_oracle_default_engine(loss, data):
    """The same with the default serial threshold and block size (small inputs run serially)."""
    case = data.draw(cases(loss), label="case")
    check_against_oracle(case)


# The full matrix on rows of rank 3, deterministic: every weighting × every mask prefix × every reduction.
MATRIX_WEIGHTS = {
    "no weights": dict(),
    "scalar weight": dict(sw="scalar", sw_scalar=2.5),
    "sample_weight (N,)": dict(sw="array", sw_rank=1),
    "sample_weight (N,1)": dict(sw="array", sw_rank=1, sw_trailing_one=True),
    "sample_weight (N,T)": dict(sw="array", sw_rank=2),
    "sample_weight (N,T,1)": dict(sw="array", sw_rank=2, sw_trailing_one=True),
    "sample_weight (N,T,H)": dict(sw="array", sw_rank=3),
    "class_weight dict": dict(cw="dict"),
    "class_weight array": dict(cw="array"),
    "both": dict(sw="array", sw_rank=1, cw="dict"),
    "both, full-rank sample_weight": dict(sw="array", sw_rank=3, cw="array"),
}
MATRIX_MASKS = {
    "no mask": dict(),
    "mask (N,)": dict(mask="array", mask_rank=1),
    "mask (N,1)": dict(mask="array", mask_rank=1, mask_trailing_one=True),
    "mask (N,T)": dict(mask="array", mask_rank=2),
    "mask (N,T,H)": dict(mask="array", mask_rank=3),
    "mask True": dict(mask="scalar", mask_scalar=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_weight_mask_matrix(loss, dtype, small_blocks):
    def make_case(i, options):
        extra = {}
        if "entropy" in loss:
            extra["from_logits"] = bool(i % 2)
        if loss in ("binary_crossentropy", "categorical_crossentropy"):
            extra["label_smoothing"] = 0.1 if i % 3 == 0 else 0.0
            extra["target"] = "soft" if i % 4 == 1 else "hard"
        return build_case(loss, dtype, (4, 3, 2), 3, seed=i, n_threads=1 + i % 3, zero_division="nan",
                          **options, **extra)

    check_weight_mask_matrix(make_case, check_against_oracle, weights=MATRIX_WEIGHTS, masks=MATRIX_MASKS)


# Deterministic edge cases, so that every run covers them whatever hypothesis draws.
EDGE_ROWS = [(0,), (1,), (0, 3), (3, 0), (1, 1, 1), (2, 0, 2)]
EDGE_OPTIONS = [
    dict(),
    dict(sw="scalar", sw_scalar=2.0),
    dict(sw="array", sw_rank=1),
    dict(sw="array", sw_rank=1, sw_trailing_one=True),
    dict(cw="dict"),
    dict(cw="array", sw="array", sw_rank=1),
    dict(mask="array", mask_rank=1),
    dict(mask="scalar", mask_scalar=False),
    dict(mask="array", mask_rank=1, sw="array", sw_rank=1, cw="array"),
]
ZERO_DIVISIONS = [0.0, "nan", "raise", 7.25]


@pytest.mark.parametrize("rows", EDGE_ROWS, ids=str)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_edge_shapes(loss, rows, small_blocks):
    """R = 0 and R = 1 with every kind of weight and mask, both dtypes, K in {1, 2, 5}."""
    for i, opts in enumerate(EDGE_OPTIONS):
        for K in (1, 2, 5):
            for dtype in (np.float32, np.float64):
                extra = {"from_logits": bool(i % 2)} if "entropy" in loss else {}
                zd = ZERO_DIVISIONS[(i + K) % len(ZERO_DIVISIONS)]
                case = build_case(loss, dtype, rows, K, seed=i, zero_division=zd, n_threads=2, **opts, **extra)
                check_against_oracle(case)


# ---------------------------------------------------------------------------------------------------------------
# Zero denominators: all weights zero, all rows masked, every label ignored, no rows.
# Hand-derived: with every weight 0, S = W = Z = E0 = 0 while V, R > 0; with every row excluded,
# S = W = Z = V = 0 while R > 0; with no rows every total is 0. "sum" never divides.
# ---------------------------------------------------------------------------------------------------------------


def zero_denominator_reductions(situation):
    if situation == "zero_weights":
        return {"mean_with_sample_weight", "weighted_mean", "sum_by_nonzero_weights", "keras_legacy"}
    if situation == "all_excluded":
        return set(SCALAR_REDUCTIONS) - {"sum", "sum_over_all_rows"}
    return set(SCALAR_REDUCTIONS) - {"sum"}  # no rows


def zero_denominator_cases(loss, dtype):
    rows = (3, 2)
    K = 1 if loss in ("binary_crossentropy", "mean_squared_error", "mean_absolute_error") else 3
    base = dict(from_logits=True) if "entropy" in loss else {}
    built = []
    # built with class weights so that dense labels are in range for class_weight below (MSE, K == 1: 0..4)
    case = build_case(loss, dtype, rows, K, seed=1, cw="array", **base)
    del case.kwargs["class_weight"]
    built.append(("zero_weights", "sample_weight=zeros((3,))", {"sample_weight": np.zeros(3)}))
    built.append(("zero_weights", "sample_weight=zeros((3,2))", {"sample_weight": np.zeros(rows)}))
    built.append(("zero_weights", "sample_weight=0.0", {"sample_weight": 0.0}))
    built.append(("zero_weights", "class_weight zeros", {"class_weight": np.zeros(5)}))
    built.append(("all_excluded", "mask=False", {"mask": False}))
    built.append(("all_excluded", "mask=zeros((3,2))", {"mask": np.zeros(rows, dtype=bool)}))
    built.append(("all_excluded", "mask=zeros((3,)) + weights",
                  {"mask": np.zeros(3, bool), "sample_weight": np.ones(3)}))
    out = [(situation, label, Case(loss, case.y_true, case.y_pred, {**case.kwargs, **kw}, dtype))
           for situation, label, kw in built]
    if loss == "sparse_categorical_crossentropy":
        out.append(("all_excluded", "ignore_class on every row",
                    Case(loss, np.ones(rows, dtype=np.int64), case.y_pred, {**case.kwargs, "ignore_class": 1}, dtype)))
    out.append(("no_rows", "rows (0, 2)", build_case(loss, dtype, (0, 2), K, seed=1, **base)))
    return out


def call_without_warnings(fn, *args, **kwargs):
    """Call, turning any warning into an error: the zero-division and error paths must be silent."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_zero_division_policies(loss, dtype):
    fn = getattr(fastloss, loss)
    for situation, label, case in zero_denominator_cases(loss, dtype):
        zero_red = zero_denominator_reductions(situation)
        for reduction in SCALAR_REDUCTIONS:
            context = f"{loss} {label} reduction={reduction}"
            for policy, expected in (("nan", math.nan), (0.0, 0.0), (-3.5, -3.5), (2, 2.0)):
                got = call_without_warnings(case.call, fn, reduction, zero_division=policy)
                want = case.call(getattr(oracle, loss), reduction, zero_division=policy)
                assert_same_result(got, want, *tolerances(dtype), context)
                if reduction in zero_red:
                    assert type(got) is float and (got == expected or (math.isnan(got) and math.isnan(expected))), (
                        f"{context} zero_division={policy!r}: got {got!r}, expected {expected!r}"
                    )
                else:
                    assert got == 0.0, f"{context}: S = 0 over a non-zero denominator, got {got!r}"
            if reduction in zero_red:
                with pytest.raises(ValueError, match=r"zero"):
                    call_without_warnings(case.call, fn, reduction, zero_division="raise")
            else:
                # a non-zero denominator (or "sum"): the policy is not used, the value is 0 (S = 0)
                assert call_without_warnings(case.call, fn, reduction, zero_division="raise") == 0.0, context
        # "none" and "totals" never divide
        totals = call_without_warnings(case.call, fn, "totals", zero_division="raise")
        assert_same_result(totals, case.call(getattr(oracle, loss), "totals"), *tolerances(dtype), label)
        none = call_without_warnings(case.call, fn, "none", zero_division="raise")
        assert not np.any(none), f"{label}: 'none' must be 0 on excluded or zero-weight rows, got {none!r}"


# ---------------------------------------------------------------------------------------------------------------
# NaN in an included row is not an error (CONTRACT: "NaN is not an error; it propagates"): that row's loss is NaN,
# and so is every sum over it; the counts are unaffected. (A C fmin/fmax clip would silently map NaN to a bound.)
# ---------------------------------------------------------------------------------------------------------------


# Combinations that exist: regression losses have no logits, and a NaN sparse label is an error (test_errors).
NAN_CASES = [(loss, from_logits, where) for loss in LOSS_NAMES for from_logits in (False, True)
             for where in ("y_pred target entry", "y_pred other entry", "y_true")
             if (not from_logits or "entropy" in loss)
             and not (where == "y_true" and loss == "sparse_categorical_crossentropy")]


@pytest.mark.parametrize("loss, from_logits, where", NAN_CASES)
def test_nan_in_included_rows_propagates(loss, from_logits, where, small_blocks):
    rows, K = (6, 2), 3
    case = build_case(loss, np.float64, rows, K, seed=3, from_logits=from_logits, n_threads=2,
                      sw="array", sw_rank=1, zero_division="nan")
    if "entropy" not in loss:
        case.kwargs.pop("from_logits", None)
    y, p = np.array(case.y_true, dtype=float if loss != "sparse_categorical_crossentropy" else None), case.y_pred.copy()
    labels = (np.asarray(case.y_true) if loss == "sparse_categorical_crossentropy"
              else np.argmax(np.asarray(case.y_true), axis=-1))
    bad = (2, 1)
    if where == "y_true":
        y[bad + (0,)] = np.nan
    else:
        k = int(labels[bad])
        p[bad + ((k if where == "y_pred target entry" else (k + 1) % K),)] = np.nan
    case.kwargs["sample_weight"] = np.ones(rows[0])
    fn = getattr(fastloss, loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        none = fn(y, p, reduction="none", **case.kwargs)
        totals = fn(y, p, reduction="totals", **case.kwargs)
        scalars = {r: fn(y, p, reduction=r, **case.kwargs) for r in SCALAR_REDUCTIONS}
    assert np.isnan(none[bad]), none
    finite = np.ones(rows, bool)
    finite[bad] = False
    assert np.all(np.isfinite(none[finite])), none
    assert math.isnan(totals.weighted_sum) and totals.count == math.prod(rows) and totals.rows == math.prod(rows)
    assert all(math.isnan(v) for v in scalars.values()), scalars
    want = Case(loss, y, p, case.kwargs, np.float64)
    check_against_oracle(want)
