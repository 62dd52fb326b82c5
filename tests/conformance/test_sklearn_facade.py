"""fastloss.sklearn and its oracle against scikit-learn itself (sklearn.metrics, 1.9.x).

Values: float64 inputs agree to 1e-10 relative (in practice ~1e-15: only the summation order differs). float32
inputs: scikit-learn computes in float32 (log, squares, sums), fastloss in double from the float32 values, with
the same float32 clip bounds and ``1 - p``; the two agree to float32 precision: RTOL32 = 1e-6 (the largest
difference seen on these cases is 3.5e-7, in a float32 per-output mean of 64 squares summed by NumPy).
Errors: every bad input of the table raises the same exception type in both (scikit-learn's
InvalidParameterError is a ValueError), and a FutureWarning for the deprecated ``log_loss(y_pred=...)``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

import sklearn.metrics as skm  # noqa: E402

from fastloss import oracle  # noqa: E402
from fastloss import sklearn as fsk  # noqa: E402
from sklearn_cases import CASES, WEIGHTS, case  # noqa: E402

RTOL64 = 1e-10
RTOL32 = 1e-6


def _call(module, function, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scikit-learn: float32 rows "do not sum to one"
        return getattr(module, function)(*args, **kwargs)


@pytest.mark.parametrize("weight_kind", WEIGHTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("function, variant", CASES, ids=[f"{f}-{v}" for f, v in CASES])
def test_values_match_sklearn(function, variant, dtype, weight_kind):
    args, kwargs = case(function, variant, dtype, weight_kind)
    expected = _call(skm, function, args, kwargs)
    rtol = RTOL64 if dtype == np.float64 else RTOL32
    modules = [fsk, oracle.sklearn]
    for module in modules:
        actual = _call(module, function, args, kwargs)
        if isinstance(kwargs.get("multioutput"), str):
            if module is fsk:
                assert actual.dtype == expected.dtype
            np.testing.assert_allclose(actual, expected, rtol=rtol, err_msg=module.__name__)
        else:
            assert actual == pytest.approx(float(expected), rel=rtol, abs=1e-14), module.__name__


@pytest.mark.parametrize("dtype, expected", [(np.float64, 36.04365338911715), (np.float32, 15.942385152878742)])
def test_saturated_log_loss_matches_sklearn(dtype, expected):
    """SEMANTICS §6: a zero probability for the true class costs 36.04 (float64) or 15.94 (float32)."""
    args = ([1, 0], np.array([0.0, 1.0], dtype=dtype))
    assert skm.log_loss(*args) == pytest.approx(expected, rel=1e-7)
    assert fsk.log_loss(*args) == pytest.approx(skm.log_loss(*args), rel=1e-7)


def test_deprecated_y_pred_warns_like_sklearn():
    for module in (skm, fsk):
        with pytest.warns(FutureWarning):
            value = module.log_loss([0, 1], y_pred=[0.25, 0.5])
        assert value == pytest.approx(skm.log_loss([0, 1], [0.25, 0.5]), rel=RTOL64)


P2 = [[0.3, 0.7], [0.2, 0.8]]
ERRORS = [
    # log_loss
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}),  # all-zero weights: ValueError
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, -1]}),  # weights summing to 0: ZeroDivisionError
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, np.nan]}),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [[1], [2]]}),
    ("log_loss", ([1, 1], [0.3, 0.6]), {}),  # a single class without labels=
    ("log_loss", ([1, 1], [0.3, 0.6]), {"labels": [1]}),
    ("log_loss", ([0, 1], [0.3, np.nan]), {}),
    ("log_loss", ([0, 1], [0.3, 1.5]), {}),
    ("log_loss", ([0, 1], [0.3, -0.5]), {}),
    ("log_loss", ([0, 1, 2], [[0.3, 0.7]] * 3), {}),  # columns do not match the classes
    ("log_loss", ([0, 1], P2), {"labels": [0, 1, 2]}),
    ("log_loss", ([0, 3], P2), {"labels": [0, 1]}),  # a class outside labels=
    ("log_loss", ([0, 1, 1], [0.3, 0.6]), {}),
    ("log_loss", ([0.5, 1.5], P2), {}),
    ("log_loss", ([0, "a"], [0.3, 0.6]), {}),
    ("log_loss", ([0, np.nan], [0.3, 0.6]), {}),
    ("log_loss", ([0, 1], np.full((2, 2, 1), 0.5)), {}),
    ("log_loss", ([], []), {}),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"normalize": 1}),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"y_pred": [0.3, 0.6]}),  # both names
    ("log_loss", (np.array([[0, 2], [1, 1]]), P2), {}),
    # hinge_loss
    ("hinge_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}),  # ZeroDivisionError, as np.average
    ("hinge_loss", ([0, 1], [0.3, np.nan]), {}),
    ("hinge_loss", ([0, 1], [0.3, np.inf]), {}),
    ("hinge_loss", ([0, 1], P2), {}),
    ("hinge_loss", ([0, 1, 2], [0.3, 0.1, 0.3]), {}),
    ("hinge_loss", ([0, 1, 2], [[0.3, 0.1]] * 3), {}),
    ("hinge_loss", ([0, 1, 2], [[0.3, 0.1]] * 3), {"labels": [0, 1, 2]}),
    ("hinge_loss", ([0, 1, 5], [[0.3, 0.1, 1.0]] * 3), {"labels": [0, 1, 2]}),
    ("hinge_loss", ([0, 1, 2], [[0.3, 0.1, 1.0]] * 3), {"sample_weight": [0, 0, 0]}),
    ("hinge_loss", ([0, 1, 2], [0.3, 0.1]), {}),
    ("hinge_loss", ([0.5, 1.5], [0.3, 0.1]), {}),
    ("hinge_loss", ([[0, 1], [1, 0]], [0.3, 0.1]), {}),
    ("hinge_loss", ([0, 1], [0.3, 0.1]), {"labels": [0, 1, 2]}),
    # brier_score_loss
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}),
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, -1]}),
    ("brier_score_loss", (["a", "b"], [0.3, 0.6]), {}),
    ("brier_score_loss", ([0, 1, 2], [0.3, 0.6, 0.1]), {}),
    ("brier_score_loss", ([0.5, 1], [0.3, 0.6]), {}),
    ("brier_score_loss", ([0, 1], [0.3, np.nan]), {}),
    ("brier_score_loss", ([0, 1], [0.3, 1.6]), {}),
    ("brier_score_loss", ([0, np.nan], [0.3, 0.6]), {}),
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"scale_by_half": "yes"}),
    ("brier_score_loss", ([1, 1, 1], [[0.7, 0.2, 0.1]] * 3), {}),
    ("brier_score_loss", ([0, 1, 2], [[0.7, 0.2, 0.1]] * 3), {"sample_weight": [0, 0, 0]}),
    ("brier_score_loss", ([0, 1, 2], [[0.7, 0.2], [0.4, 0.6], [0.5, 0.5]]), {}),
    # mean_squared_error / mean_absolute_error
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}),
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, -1]}),
    ("mean_absolute_error", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0], "multioutput": "raw_values"}),
    ("mean_squared_error", ([0, 1], [0.3, np.nan]), {}),
    ("mean_absolute_error", ([0, np.inf], [0.3, 0.1]), {}),
    ("mean_squared_error", ([[0, 1]] * 2, [[0.3, 0.6, 1.0]] * 2), {}),
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"multioutput": [1]}),
    ("mean_squared_error", ([[0, 1]] * 2, P2), {"multioutput": [1, 3, 4]}),
    ("mean_absolute_error", ([[0, 1]] * 2, P2), {"multioutput": [1, -1]}),
    ("mean_squared_error", ([[0, 1]] * 2, P2), {"multioutput": [2, np.nan]}),
    ("mean_squared_error", ([[0, 1]] * 2, P2), {"multioutput": "variance_weighted"}),
    ("mean_absolute_error", ([0, 1], [0.3, 0.6]), {"multioutput": "foo"}),
    ("mean_squared_error", (np.ones((2, 2, 2)), np.ones((2, 2, 2))), {}),
    ("mean_squared_error", ([], []), {}),
    ("mean_squared_error", (["a"], [1.0]), {}),
    ("mean_squared_error", ([0, 1, 2], [0.3, 0.6]), {}),
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, 2, 3]}),
    # accuracy_score
    ("accuracy_score", (["a", "b", "c"], [1, 2, 3]), {}),
    ("accuracy_score", ([0.5, 1], [0.5, 1]), {}),
    ("accuracy_score", ([1, 2], [1, 2]), {"sample_weight": [0, 0]}),
    ("accuracy_score", ([1, 2], [1, 2]), {"sample_weight": [1, -1]}),
    ("accuracy_score", ([1, 2], [1, 2]), {"sample_weight": [0, 0], "normalize": False}),
    ("accuracy_score", (np.array([[0, 1], [1, 1]]), [0, 1]), {}),
    ("accuracy_score", (np.array([[0, 2], [1, 1]]), np.ones((2, 2))), {}),
    ("accuracy_score", (np.array([[0, 1], [1, 1]]), np.ones((2, 3))), {}),
    ("accuracy_score", ([1, 2], [1]), {}),
    ("accuracy_score", ([], []), {}),
    ("accuracy_score", ([1, np.nan], [1, 2]), {}),
    ("accuracy_score", ([None, 1], [1, 2]), {}),
    ("accuracy_score", (np.ones((2, 2, 2)), np.ones((2, 2, 2))), {}),
    ("accuracy_score", ([1, 2], [1, 2]), {"normalize": 1}),
]


def _raised(function, args, kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 (the type is what is compared)
        return exc
    return None


def _kind(exc):
    """The built-in exception classes the error is an instance of (scikit-learn's InvalidParameterError is both a
    ValueError and a TypeError; so is fastloss.sklearn's)."""
    return {cls for cls in type(exc).__mro__ if cls.__module__ == "builtins"}


@pytest.mark.parametrize("function, args, kwargs", ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_match_sklearn(function, args, kwargs):
    expected = _raised(getattr(skm, function), args, kwargs)
    assert expected is not None, "scikit-learn accepted this input: the table is out of date"
    actual = _raised(getattr(fsk, function), args, kwargs)
    assert actual is not None, f"fastloss accepted what scikit-learn rejects with {expected!r}"
    assert _kind(actual) == _kind(expected), (actual, expected)


# Inputs scikit-learn accepts that the façade answers the same way (edge cases of the label rules).
EDGE_CASES = [
    ("hinge_loss", ([1, 1], [0.3, 0.6]), {}),  # one class: all -1
    ("hinge_loss", ([1, 1], [0.3, 0.6]), {"labels": [0, 1]}),
    ("hinge_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [np.nan, 1]}),  # NaN, as np.average
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"pos_label": 7}),  # pos_label absent: every sample negative
    ("brier_score_loss", ([3, 3], [0.3, 0.6]), {}),  # one class that is not 0/1: it is the positive one
    ("brier_score_loss", ([0, 0], [0.3, 0.6]), {}),
    ("brier_score_loss", ([True, False], [0.3, 0.6]), {}),
    ("brier_score_loss", ([0, 1], np.array([True, False])), {}),
    ("brier_score_loss", ([0, 1], [[0.7, 0.3], [0.4, 0.6]]), {"pos_label": 0}),  # ignored for 2-D y_proba
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"labels": [0, 1, 2]}),  # ignored for 1-D y_proba
    ("log_loss", ([0, 1], [0, 1]), {}),  # integer probabilities
    ("log_loss", ([True, False], [0.3, 0.6]), {}),
    ("log_loss", (np.array([[0], [1]]), P2), {}),  # column vector of labels
    ("log_loss", (np.array([["b"], ["a"]]), [0.2, 0.7]), {}),  # column of strings
    ("log_loss", (["b", "a"], P2), {"labels": ["b", "a"]}),  # unsorted labels: columns still sorted (warning)
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, -1], "normalize": False}),
    ("accuracy_score", (np.array([2**60, 2**60 + 1]), np.array([2**60 + 1, 2**60 + 1])), {}),
    ("accuracy_score", ([True, False], [1, 0]), {}),
    ("accuracy_score", ([[1], [2]], [1, 2]), {}),
    ("accuracy_score", ([1.0, 2.0], [1, 2]), {}),
    ("mean_squared_error", ([[0, 1], [1, 1]], [[0.3, 0.6], [1, 2]]), {"multioutput": [2, -1]}),
    ("mean_squared_error", ([0, 1], [1, 3]), {}),
]


@pytest.mark.parametrize("function, args, kwargs", EDGE_CASES,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(EDGE_CASES)])
def test_edge_cases_match_sklearn(function, args, kwargs):
    expected = _call(skm, function, args, kwargs)
    actual = _call(fsk, function, args, kwargs)
    np.testing.assert_allclose(actual, expected, rtol=RTOL64, equal_nan=True)
