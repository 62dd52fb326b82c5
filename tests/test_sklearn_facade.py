"""fastloss.sklearn against its oracle (fastloss.oracle.sklearn), plus its own errors and invariances.

Cases (tests/sklearn_cases.py): every façade function × float32/float64 × sample weights (none, positive, with
zeros, with negative entries) × label kinds (integers, strings, booleans) × binary/multiclass/indicator shapes, on
data that hits the clip bounds (probabilities exactly 0 and 1). Both sides compute in float64 from the same input values (the steps
scikit-learn takes in the input dtype, ``1 - p`` and the clip bounds, are taken in it on both sides), so they agree
to summation order: 1e-12 relative. The thread test runs the block driver on tiny blocks and wants the same bits
for 1 and 3 threads. Agreement with scikit-learn itself is tests/conformance/test_sklearn_facade.py's job.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fastloss import oracle
from fastloss import sklearn as fsk
from sklearn_cases import CASES, WEIGHTS, case

RTOL = 1e-12
DTYPES = [np.float64, np.float32]


def _call(module, function, args, kwargs, **extra):
    return getattr(module, function)(*args, **kwargs, **extra)


@pytest.mark.parametrize("weight_kind", WEIGHTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("function, variant", CASES, ids=[f"{f}-{v}" for f, v in CASES])
def test_matches_oracle(function, variant, dtype, weight_kind):
    args, kwargs = case(function, variant, dtype, weight_kind)
    expected = _call(oracle.sklearn, function, args, kwargs)
    actual = _call(fsk, function, args, kwargs)
    if isinstance(kwargs.get("multioutput"), str):
        assert isinstance(actual, np.ndarray) and actual.shape == (3,)
        np.testing.assert_allclose(actual, expected, rtol=RTOL if dtype == np.float64 else 1e-7)
    else:
        assert isinstance(actual, float)
        assert actual == pytest.approx(expected, rel=RTOL, abs=1e-14)


@pytest.mark.parametrize("function, variant", CASES, ids=[f"{f}-{v}" for f, v in CASES])
def test_same_bits_for_any_thread_count(function, variant, small_blocks):
    args, kwargs = case(function, variant, np.float64, "with_negatives", seed=5)
    reference = np.asarray(_call(fsk, function, args, kwargs, n_threads=1))
    for n_threads in (3, -1):
        assert np.asarray(_call(fsk, function, args, kwargs, n_threads=n_threads)).tobytes() == reference.tobytes()


@pytest.mark.parametrize("function, variant", CASES, ids=[f"{f}-{v}" for f, v in CASES])
def test_inputs_are_not_modified(function, variant):
    args, kwargs = case(function, variant, np.float32, "with_zeros", seed=2)
    before = [np.array(a, copy=True) for a in args] + [np.array(kwargs.get("sample_weight"), copy=True)]
    _call(fsk, function, args, kwargs)
    after = list(args) + [np.array(kwargs.get("sample_weight"))]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(np.asarray(a), b)


# ---------------------------------------------------------------------------------------------------------------
# Exact values (derived by hand from scikit-learn's formulas)
# ---------------------------------------------------------------------------------------------------------------


def test_log_loss_clip_bounds_follow_the_dtype():
    # A zero probability for the true class costs -log(eps): 36.04 in float64, 15.94 in float32. P(positive) = 1
    # for a negative sample is the same: 1 - p = 0 is clipped up to eps.
    for dtype, eps in ((np.float64, 2.0**-52), (np.float32, 2.0**-23)):
        value = fsk.log_loss([1, 0], np.array([0.0, 1.0], dtype=dtype))
        assert value == pytest.approx(-np.log(eps), rel=1e-15)
        # and a perfect prediction costs -log(1 - eps) ≈ eps, not 0
        assert fsk.log_loss([1, 0], np.array([1.0, 0.0], dtype=dtype)) == pytest.approx(-np.log1p(-eps), rel=1e-9)


def test_log_loss_does_not_renormalise_rows():
    p = np.array([[0.2, 0.2], [0.3, 0.3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = fsk.log_loss([0, 1], p)
    assert value == pytest.approx(-(np.log(0.2) + np.log(0.3)) / 2, rel=1e-15)


def test_brier_binary_is_half_the_two_column_sum():
    # y = [1, 0], p = [0.9, 0.4]: ((0.1)² + (0.4)²)/2 = 0.085 with the default ½.
    assert fsk.brier_score_loss([1, 0], [0.9, 0.4]) == pytest.approx(0.085, rel=1e-14)
    assert fsk.brier_score_loss([1, 0], [0.9, 0.4], scale_by_half=False) == pytest.approx(0.17, rel=1e-14)


def test_hinge_values_by_hand():
    # binary: y = [-1, +1], d = [0.5, 0.25]: (1.5 + 0.75) / 2
    assert fsk.hinge_loss([3, 7], [0.5, 0.25]) == pytest.approx(1.125, rel=1e-15)
    # Crammer–Singer: row 0 margin 2 - 1 = 1 -> 0; row 1 margin 0 - 3 -> 4
    d = np.array([[2.0, 1.0, -1.0], [0.0, 3.0, 1.0]])
    assert fsk.hinge_loss([0, 0], d, labels=[0, 1, 2]) == pytest.approx(2.0, rel=1e-15)


def test_deprecated_y_pred_keyword():
    with pytest.warns(FutureWarning, match="y_proba"):
        value = fsk.log_loss([0, 1], y_pred=[0.25, 0.5])
    assert value == fsk.log_loss([0, 1], [0.25, 0.5])
    with pytest.raises(ValueError, match="both"):
        fsk.log_loss([0, 1], [0.25, 0.5], y_pred=[0.25, 0.5])


def test_works_without_scikit_learn_installed():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import fastloss.sklearn as s, fastloss.oracle.sklearn as o\n"
        "assert abs(s.log_loss(['a', 'b'], [0.25, 0.5]) - o.log_loss(['a', 'b'], [0.25, 0.5])) < 1e-15\n"
    )
    import fastloss

    root = str(__import__("pathlib").Path(fastloss.__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------------------------
# Errors: scikit-learn's exception types (conformance checks them against scikit-learn itself)
# ---------------------------------------------------------------------------------------------------------------

P2 = [[0.3, 0.7], [0.2, 0.8]]
ERRORS = [
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}, ValueError, "at least one non-zero"),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, -1]}, ZeroDivisionError, "sum to zero"),
    ("log_loss", ([1, 1], [0.3, 0.6]), {}, ValueError, "only one label"),
    ("log_loss", ([1, 1], [0.3, 0.6]), {"labels": [1]}, ValueError, "at least two labels"),
    ("log_loss", ([0, 1], [0.3, 1.5]), {}, ValueError, "greater than 1"),
    ("log_loss", ([0, 1], [0.3, -0.5]), {}, ValueError, "lower than 0"),
    ("log_loss", ([0, 1], [0.3, np.nan]), {}, ValueError, "NaN"),
    ("log_loss", ([0, 1, 2], [[0.3, 0.7]] * 3), {}, ValueError, "different number of classes"),
    ("log_loss", ([0, 1], P2), {"labels": [0, 1, 2]}, ValueError, "number of classes in labels"),
    ("log_loss", ([0, 3], P2), {"labels": [0, 1]}, ValueError, "not belonging"),
    ("log_loss", ([0, 1, 1], [0.3, 0.6]), {}, ValueError, "inconsistent numbers of samples"),
    ("log_loss", ([0.5, 1.5], P2), {}, ValueError, "label type"),
    ("log_loss", ([0, "a"], [0.3, 0.6]), {}, ValueError, "mix"),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"normalize": 1}, ValueError, "normalize"),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [[1], [2]]}, ValueError, "sample_weight"),
    ("log_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, np.nan]}, ValueError, "NaN"),
    ("log_loss", (np.array([[0, 2], [1, 1]]), P2), {}, ValueError, "indicator"),
    # documented differences (the module's table): scikit-learn accepts these
    ("log_loss", (np.array([[1, 0], [0, 1]]), [0.3, 0.6]), {}, ValueError, "indicator matrix"),
    ("brier_score_loss", (np.array([[1, 0], [0, 1]]), P2), {"labels": [0, 1]}, ValueError, "vector of labels"),
    ("hinge_loss", ([0, 1, 2], [0.3, 0.1, 0.2]), {"labels": [0, 1]}, ValueError, "not belonging"),
    ("hinge_loss", ([5, 6], [0.3, 0.1]), {"labels": [0, 1]}, ValueError, "not belonging"),
    ("hinge_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}, ZeroDivisionError, "sum to zero"),
    ("hinge_loss", ([0, 1], [0.3, np.inf]), {}, ValueError, "infinity"),
    ("hinge_loss", ([0, 1], P2), {}, ValueError, "1d array"),
    ("hinge_loss", ([0, 1, 2], [0.3, 0.1, 0.3]), {}, ValueError, "cannot be 1d"),
    ("hinge_loss", ([0, 1, 2], [[0.3, 0.1]] * 3), {}, ValueError, "include all labels"),
    ("hinge_loss", ([0, 1, 2], [[0.3, 0.1]] * 3), {"labels": [0, 1, 2]}, ValueError, "not consistent"),
    ("hinge_loss", ([0, 1, 5], [[0.3, 0.1, 1.0]] * 3), {"labels": [0, 1, 2]}, ValueError, "not belonging"),
    ("hinge_loss", ([0, 1, 2], [[0.3, 0.1, 1.0]] * 3), {"sample_weight": [0, 0, 0]}, ZeroDivisionError, "zero"),
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}, ValueError, "non-zero"),
    ("brier_score_loss", (["a", "b"], [0.3, 0.6]), {}, ValueError, "pos_label"),
    ("brier_score_loss", ([0, 1, 2], [0.3, 0.6, 0.1]), {}, ValueError, "binary"),
    ("brier_score_loss", ([0, 1], [0.3, 1.6]), {}, ValueError, "greater than 1"),
    ("brier_score_loss", ([0, 1], [0.3, 0.6]), {"scale_by_half": "yes"}, ValueError, "scale_by_half"),
    ("brier_score_loss", ([1, 1, 1], [[0.7, 0.2, 0.1]] * 3), {}, ValueError, "only one label"),
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"sample_weight": [0, 0]}, ValueError, "non-zero"),
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"sample_weight": [1, -1]}, ZeroDivisionError, "sum to zero"),
    ("mean_squared_error", ([0, 1], [0.3, np.nan]), {}, ValueError, "NaN"),
    ("mean_absolute_error", ([0, np.inf], [0.3, 0.6]), {}, ValueError, "infinity"),
    ("mean_squared_error", ([[0, 1]] * 2, [[0.3, 0.6, 1.0]] * 2), {}, ValueError, "number of output"),
    ("mean_squared_error", ([0, 1], [0.3, 0.6]), {"multioutput": [1.0]}, ValueError, "multi-output"),
    ("mean_squared_error", ([[0, 1]] * 2, P2), {"multioutput": [1, 3, 4]}, ValueError, "equally many"),
    ("mean_squared_error", ([[0, 1]] * 2, P2), {"multioutput": [1, -1]}, ZeroDivisionError, "sum to zero"),
    ("mean_absolute_error", ([[0, 1]] * 2, P2), {"multioutput": "variance_weighted"}, ValueError, "multioutput"),
    ("mean_squared_error", (np.ones((2, 2, 2)), np.ones((2, 2, 2))), {}, ValueError, "axes"),
    ("mean_squared_error", ([], []), {}, ValueError, "0 samples"),
    ("mean_squared_error", (["a"], [1.0]), {}, ValueError, "y_true"),
    ("accuracy_score", (["a", "b"], [1, 2]), {}, ValueError, "Mix"),
    ("accuracy_score", ([0.5, 1.0], [0.5, 1.0]), {}, ValueError, "continuous"),
    ("accuracy_score", ([1, 2], [1, 2]), {"sample_weight": [0, 0], "normalize": False}, ValueError, "non-zero"),
    ("accuracy_score", ([1, 2], [1, 2]), {"sample_weight": [1, -1]}, ZeroDivisionError, "sum to zero"),
    ("accuracy_score", (np.array([[0, 1], [1, 1]]), [0, 1]), {}, ValueError, "mix"),
    ("accuracy_score", (np.array([[0, 2], [1, 1]]), np.ones((2, 2))), {}, ValueError, "multioutput"),
    ("accuracy_score", (np.array([[0, 1], [1, 1]]), np.ones((2, 3))), {}, ValueError, "different numbers"),
    ("accuracy_score", ([1, np.nan], [1, 2]), {}, ValueError, "NaN"),
]


@pytest.mark.parametrize("function, args, kwargs, error, words", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors(function, args, kwargs, error, words):
    with pytest.raises(error, match=f"(?i){words}"):
        _call(fsk, function, args, kwargs)
