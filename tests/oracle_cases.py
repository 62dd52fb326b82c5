"""Shared scaffolding of the tests that compare fastloss with its NumPy oracle case by case.

test_against_oracle.py (the core losses) and test_catalog.py (the elementwise and row catalog losses) build their
own y_true / y_pred; everything else lives here once: the ``Case`` record, boundary values (``sprinkle``), the
common weighting keywords (sample_weight, class_weight, mask, zero_division, n_threads), the hypothesis draws of
those keywords, the result comparison and the weight x mask matrix.

Test modules import this module by name: tests/conftest.py puts the tests directory on ``sys.path`` (pytest runs
with ``--import-mode=importlib``, which does not). It is not a test module, so pytest does not collect it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import strategies as st

import fastloss
from fastloss import oracle

LOSS_NAMES = (
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
)
# Every accepted spelling, including None (= "none") and the aliases.
ALL_REDUCTIONS = list(fastloss.REDUCTIONS) + [None]
SCALAR_REDUCTIONS = [r for r in fastloss.REDUCTIONS if r not in ("none", "totals")]
COUNT_FIELDS = ("count", "nonzero_rows", "rows", "weight_entries", "nonzero_weight_entries")
FLOAT_FIELDS = ("weighted_sum", "weight_sum")
EPS64 = 1e-7
EPS32 = float(np.float32(1e-7))  # 1.0000000116860974e-07


def compute_dtype(dtype):
    return np.dtype(np.float32) if np.dtype(dtype) in (np.float32, np.float16) else np.dtype(np.float64)


def eps_of(dtype):
    """The clip ε in the compute dtype of ``dtype`` (float32 or float64 inputs)."""
    return EPS32 if np.dtype(dtype) == np.float32 else EPS64


# ---------------------------------------------------------------------------------------------------------------
# Case construction
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    loss: str
    y_true: object
    y_pred: object
    kwargs: dict = field(default_factory=dict)  # loss parameters and common arguments except reduction
    dtype: object = np.float64  # the y_pred dtype

    def call(self, fn, reduction, **extra):
        return fn(self.y_true, self.y_pred, reduction=reduction, **{**self.kwargs, **extra})

    def __repr__(self):  # hypothesis prints this on failure
        def show(v):
            if isinstance(v, np.ndarray):
                return f"np.array({v.tolist()!r}, dtype=np.{v.dtype})"
            return repr(v)

        kw = ", ".join(f"{k}={show(v)}" for k, v in self.kwargs.items())
        return f"fastloss.{self.loss}({show(self.y_true)}, {show(self.y_pred)}, {kw})"


def sprinkle(rng, values, specials, fraction=0.2):
    """Replace about ``fraction`` of the entries with boundary values (in place; returns ``values``)."""
    if values.size:
        pick = rng.random(values.shape) < fraction
        values[pick] = rng.choice(np.asarray(specials, dtype=np.float64), size=int(pick.sum()))
    return values


def prefix_shape(rows, rank, trailing_one):
    shape = tuple(rows[:rank])
    return shape + (1,) if trailing_one else shape


def add_weighting(
    kwargs,
    rng,
    rows,
    n_classes,
    *,
    sw="none",  # none / scalar / array
    sw_rank=1,
    sw_trailing_one=False,
    sw_scalar=1.0,
    sw_dtype="float64",
    cw="none",  # none / dict / array
    mask="none",  # none / scalar / array
    mask_rank=1,
    mask_trailing_one=False,
    mask_scalar=True,
    mask_dtype="bool",
    zero_division=0.0,
    n_threads=None,
):
    """Add the common keywords to ``kwargs``: weights and masks at a prefix of ``rows`` (a trailing 1 only where
    there is a row axis), class weights for ``n_classes`` classes, zero_division and n_threads."""
    if sw == "scalar":
        kwargs["sample_weight"] = sw_scalar
    elif sw == "array":
        s = prefix_shape(rows, sw_rank, sw_trailing_one and len(rows) > 0)
        w = sprinkle(rng, rng.uniform(0.0, 3.0, s), [0.0, 1.0, 2.0])
        if np.dtype(sw_dtype).kind in "iu":
            w = np.round(w)
        kwargs["sample_weight"] = np.asarray(w).astype(sw_dtype)

    if cw != "none":
        weights = sprinkle(rng, rng.uniform(0.0, 3.0, n_classes + 1), [0.0, 1.0])
        if cw == "dict":
            # all classes, plus one class that never occurs (allowed)
            kwargs["class_weight"] = {c: float(weights[c]) for c in range(n_classes + 1)}
        else:
            kwargs["class_weight"] = weights[: n_classes + int(rng.integers(0, 2))]

    if mask == "scalar":
        kwargs["mask"] = mask_scalar
    elif mask == "array":
        s = prefix_shape(rows, mask_rank, mask_trailing_one and len(rows) > 0)
        kwargs["mask"] = np.asarray(rng.random(s) < 0.7).astype(mask_dtype)

    kwargs["zero_division"] = zero_division
    kwargs["n_threads"] = n_threads
    return kwargs


def weight_bound(case):
    """max(1, |sample_weight|) times max(1, |class_weight|): how much the weights can scale one row's error."""
    w = 1.0
    sw = case.kwargs.get("sample_weight")
    if sw is not None and np.size(sw):
        w = max(w, float(np.max(np.abs(np.asarray(sw, dtype=np.float64)))))
    cw = case.kwargs.get("class_weight")
    if cw is not None:
        values = list(cw.values()) if isinstance(cw, dict) else list(np.asarray(cw))
        w *= max([1.0] + [abs(float(v)) for v in values])
    return w


# ---------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------


def assert_same_result(got, want, rtol, atol, context=""):
    """fastloss result vs oracle result, for any reduction: Totals field by field, arrays with their shape and
    dtype, scalars as Python floats; NaN matches NaN."""
    if isinstance(want, fastloss.Totals):
        assert isinstance(got, fastloss.Totals), f"{context}: expected Totals, got {type(got)}"
        g, w = got.as_dict(), want.as_dict()
        for name in COUNT_FIELDS:
            assert g[name] == w[name], f"{context}: Totals.{name} {g[name]} != oracle {w[name]}"
        for name in FLOAT_FIELDS:
            assert math.isclose(g[name], w[name], rel_tol=rtol, abs_tol=atol) or (
                math.isnan(g[name]) and math.isnan(w[name])
            ), f"{context}: Totals.{name} {g[name]!r} != oracle {w[name]!r}"
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{context}: expected an ndarray, got {type(got)}"
        assert got.shape == want.shape, f"{context}: shape {got.shape} != oracle {want.shape}"
        assert got.dtype == want.dtype, f"{context}: dtype {got.dtype} != oracle {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=context)
    else:
        assert type(got) is float, f"{context}: scalar reductions return a Python float, got {type(got)}"
        assert math.isclose(got, want, rel_tol=rtol, abs_tol=atol) or (math.isnan(got) and math.isnan(want)), (
            f"{context}: {got!r} != oracle {want!r}"
        )


def check_against_oracle(case, *, tolerances, row_shape, reductions=ALL_REDUCTIONS):
    """Every reduction of ``case`` against the oracle. ``tolerances(case)`` -> (rtol, atol); ``row_shape(case)``
    -> the shape of the "none" result."""
    rtol, atol = tolerances(case)
    for reduction in reductions:
        context = f"{case!r} reduction={reduction!r}"
        try:
            want = case.call(getattr(oracle, case.loss), reduction)
        except ValueError:
            # only a zero denominator with zero_division="raise" may raise on a valid case
            assert case.kwargs.get("zero_division") == "raise", context
            with pytest.raises(ValueError, match="zero"):
                case.call(getattr(fastloss, case.loss), reduction)
            continue
        got = case.call(getattr(fastloss, case.loss), reduction)
        assert_same_result(got, want, rtol, atol, context)
        if reduction in ("none", None):
            assert got.shape == row_shape(case), context
            assert got.dtype == compute_dtype(case.dtype), context


# ---------------------------------------------------------------------------------------------------------------
# Hypothesis draws
# ---------------------------------------------------------------------------------------------------------------


@st.composite
def row_shapes(draw, empty_one_in=10):
    """Row shapes of rank 1..3; about one in ``empty_one_in`` has a 0 in some position (R = 0)."""
    rank = draw(st.integers(1, 3))
    hi = {1: 9, 2: 5, 3: 3}[rank]
    dims = draw(st.lists(st.integers(1, hi), min_size=rank, max_size=rank))
    if draw(st.integers(0, empty_one_in - 1)) == 0:
        dims[draw(st.integers(0, rank - 1))] = 0
    return tuple(dims)


def draw_weighting(draw, n_rank, *, mask_scalars=(True, False, 1), mask_dtypes=("bool", "int8")):
    """Keyword options of ``add_weighting`` for rows of rank ``n_rank`` (0: one row, only 0-d weights)."""
    opts = {}
    opts["sw"] = draw(st.sampled_from(["none", "scalar", "array", "array"]))
    if opts["sw"] == "scalar":
        opts["sw_scalar"] = draw(st.sampled_from([1.0, 2.5, 0.0, 3]))
    elif opts["sw"] == "array":
        opts["sw_rank"] = draw(st.integers(min(1, n_rank), n_rank))
        opts["sw_trailing_one"] = draw(st.booleans())
        opts["sw_dtype"] = draw(st.sampled_from(["float64", "float32", "int64"]))
    opts["cw"] = draw(st.sampled_from(["none", "none", "dict", "array"]))
    opts["mask"] = draw(st.sampled_from(["none", "array", "array", "scalar"]))
    if opts["mask"] == "scalar":
        opts["mask_scalar"] = draw(st.sampled_from(list(mask_scalars)))
    elif opts["mask"] == "array":
        opts["mask_rank"] = draw(st.integers(min(1, n_rank), n_rank))
        opts["mask_trailing_one"] = draw(st.booleans())
        opts["mask_dtype"] = draw(st.sampled_from(list(mask_dtypes)))
    opts["zero_division"] = draw(st.sampled_from([0.0, "nan", "raise", -1.5]))
    opts["n_threads"] = draw(st.sampled_from([1, 2, 3]))
    return opts


# ---------------------------------------------------------------------------------------------------------------
# Deterministic weight x mask matrix (rows of rank 3)
# ---------------------------------------------------------------------------------------------------------------

MATRIX_WEIGHTS = {
    "no weights": dict(),
    "scalar weight": dict(sw="scalar", sw_scalar=2.5),
    "sample_weight (N,)": dict(sw="array", sw_rank=1),
    "sample_weight (N,1)": dict(sw="array", sw_rank=1, sw_trailing_one=True),
    "sample_weight (N,T)": dict(sw="array", sw_rank=2),
    "sample_weight (N,T,H)": dict(sw="array", sw_rank=3),
    "class_weight dict": dict(cw="dict"),
    "class_weight array + sample_weight (N,)": dict(sw="array", sw_rank=1, cw="array"),
}
MATRIX_MASKS = {
    "no mask": dict(),
    "mask scalar False": dict(mask="scalar", mask_scalar=False),
    "mask (N,)": dict(mask="array", mask_rank=1),
    "mask (N,T)": dict(mask="array", mask_rank=2),
    "mask (N,T,H)": dict(mask="array", mask_rank=3),
}


def check_weight_mask_matrix(make_case, check, weights=MATRIX_WEIGHTS, masks=MATRIX_MASKS):
    """``check(make_case(i, options))`` for every weighting x mask pair, i = 1, 2, ... (a seed and a selector for
    the other choices); a failure names the pair."""
    pairs = itertools.product(weights.items(), masks.items())
    for i, ((w_label, w_opts), (m_label, m_opts)) in enumerate(pairs, start=1):
        case = make_case(i, {**w_opts, **m_opts})
        try:
            check(case)
        except AssertionError as exc:
            raise AssertionError(f"{w_label}, {m_label}: {case!r}\n{exc}") from None
