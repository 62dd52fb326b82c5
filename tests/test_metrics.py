"""The metrics (accuracies, top-k, iou, dice_coefficient) against the oracle, exact values, threads, bad input.

Rules under test (fastloss/metrics.py docstring): Keras 3 metric functions per row, default reduction
"mean_with_sample_weight" (Keras's metric classes); top-k ties are hits (Keras numpy ``in_top_k``: the target score
>= the k-th largest); ``k`` in 1..K; iou / dice_coefficient thresholded with ``p >= threshold`` or soft, per row
with ``axis`` or one batch value with ``axis=None`` (sample_weight inside the sums), ``empty_score`` for empty/empty.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import oracle

REDUCTIONS = ["sum", "sum_over_batch_size", "sum_over_all_rows", "mean_with_sample_weight",
              "sum_by_nonzero_weights", "keras_legacy", "none", None, "totals"]
COUNT_FIELDS = ("count", "nonzero_rows", "rows", "weight_entries", "nonzero_weight_entries")


def assert_matches(got, want, reduction):
    if reduction == "totals":
        for name in COUNT_FIELDS:
            assert getattr(got, name) == getattr(want, name), name
        np.testing.assert_allclose([got.weighted_sum, got.weight_sum], [want.weighted_sum, want.weight_sum],
                                   rtol=1e-12)
    elif reduction in ("none", None):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    else:
        assert isinstance(got, float)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def classification_data(rows, K, dtype, seed):
    """Scores with many ties (values on a coarse grid) and one-hot targets."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, rows + (K,)) / 4.0
    labels = rng.integers(0, K, rows)
    return np.eye(K)[labels].astype(dtype), labels, scores.astype(dtype)


WEIGHTINGS = [
    dict(),
    dict(sample_weight=np.array([0.0, 1.0, 2.5, 0.5, 1.0, 3.0])),
    dict(sample_weight=np.array([0.0, 1.0, 2.5, 0.5, 1.0, 3.0]), mask=np.array([1, 1, 0, 1, 1, 1])),
    dict(mask=np.array([1, 0, 1, 1, 0, 1], bool), class_weight={0: 1.0, 1: 2.0, 2: 0.0, 3: 0.5, 4: 1.0}),
    dict(sample_weight=2.0),
]


@pytest.mark.parametrize("metric", ["categorical_accuracy", "sparse_categorical_accuracy",
                                    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"])
@pytest.mark.parametrize("weighting", range(len(WEIGHTINGS)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows", [(6,), (6, 3)])
def test_categorical_metrics_against_oracle(metric, weighting, dtype, rows, small_blocks):
    one_hot, labels, scores = classification_data(rows, 5, dtype, seed=len(rows) + weighting)
    y = labels if metric.startswith("sparse") else one_hot
    kwargs = dict(WEIGHTINGS[weighting])
    ks = [1, 2, 5] if "top_k" in metric else [None]
    for k in ks:
        extra = {} if k is None else {"k": k}
        for reduction in REDUCTIONS:
            got = getattr(fastloss, metric)(y, scores, reduction=reduction, n_threads=1, **extra, **kwargs)
            want = getattr(oracle, metric)(y, scores, reduction=reduction, **extra, **kwargs)
            assert_matches(got, want, reduction)


@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.75, -1])
@pytest.mark.parametrize("weighting", [0, 1, 2, 4])
@pytest.mark.parametrize("shape", [(6,), (6, 4), (6, 2, 3)])
def test_binary_accuracy_against_oracle(threshold, weighting, shape, small_blocks):
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, shape).astype(np.float64)
    y[rng.random(shape) < 0.1] = 0.5  # never matches
    p = rng.integers(0, 5, shape) / 4.0  # values equal to the threshold
    for reduction in REDUCTIONS:
        kwargs = dict(WEIGHTINGS[weighting], threshold=threshold, reduction=reduction)
        got = fastloss.binary_accuracy(y, p, n_threads=1, **kwargs)
        assert_matches(got, oracle.binary_accuracy(y, p, **kwargs), reduction)


OVERLAP_LAYOUTS = [
    dict(),
    dict(threshold=None),
    dict(threshold=0.3, sample_weight=np.array([1.0, 0.0, 2.0, 0.5])),
    dict(sample_weight=np.array([1.0, 0.0, 2.0, 0.5]), mask=np.array([1, 1, 0, 1])),
    dict(axis=(1, 2)),
    dict(axis=(1, 2), threshold=None, sample_weight=np.array([1.0, 0.0, 2.0, 0.5])),
    dict(axis=(1, 2), mask=np.array([1, 1, 0, 1]), empty_score=0.0),
    dict(axis=1, sample_weight=np.array([1.0, 0.0, 2.0, 0.5]), threshold=0.6),
]


@pytest.mark.parametrize("metric", ["iou", "dice_coefficient"])
@pytest.mark.parametrize("layout", range(len(OVERLAP_LAYOUTS)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overlap_metrics_against_oracle(metric, layout, dtype, small_blocks):
    rng = np.random.default_rng(layout)
    y = (rng.random((4, 3, 5)) < 0.4).astype(dtype)
    p = rng.random((4, 3, 5)).astype(dtype)
    y[0] = 0.0
    p[0] = 0.0  # empty / empty sample
    for reduction in REDUCTIONS:
        kwargs = dict(OVERLAP_LAYOUTS[layout], reduction=reduction)
        got = getattr(fastloss, metric)(y, p, n_threads=1, **kwargs)
        assert_matches(got, getattr(oracle, metric)(y, p, **kwargs), reduction)


@pytest.mark.parametrize("metric, sparse, extra", [
    ("binary_accuracy", False, {}),
    ("categorical_accuracy", False, {}),
    ("sparse_categorical_accuracy", True, {}),
    ("top_k_categorical_accuracy", False, {"k": 2}),
    ("sparse_top_k_categorical_accuracy", True, {"k": 3}),
    ("iou", False, {"axis": (1,)}),
    ("dice_coefficient", False, {"axis": (1,), "threshold": None}),
    ("iou", False, {}),
])
def test_thread_counts_and_blocks_give_the_same_bits(metric, sparse, extra, assert_same_bits):
    one_hot, labels, scores = classification_data((50,), 6, np.float64, seed=11)
    y = labels if sparse else one_hot
    w = np.random.default_rng(2).random(50)

    def run(n_threads):
        fn = getattr(fastloss, metric)
        return (fn(y, scores, sample_weight=w, reduction="totals", n_threads=n_threads, **extra),
                fn(y, scores, sample_weight=w, reduction="none", n_threads=n_threads, **extra))

    assert_same_bits(run)


# ---------------------------------------------------------------------------------------------------------------
# Values derived by hand
# ---------------------------------------------------------------------------------------------------------------

def test_top_k_ties_are_hits():
    p = np.array([[0.5, 0.5, 0.5, 0.1], [0.9, 0.5, 0.5, 0.1], [0.3, 0.2, 0.2, 0.2]])
    labels = np.array([2, 2, 3])
    # row 0: nothing ranks above the target, k=1 hit; row 1: one score above, hit for k=2 only
    # row 2: the target ties with the 2nd largest (0.2): a hit for k=2 although three scores share it
    np.testing.assert_array_equal(fastloss.sparse_top_k_categorical_accuracy(labels, p, k=1, reduction="none"),
                                  [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(fastloss.sparse_top_k_categorical_accuracy(labels, p, k=2, reduction="none"),
                                  [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(fastloss.top_k_categorical_accuracy(np.eye(4)[labels], p, k=1, reduction="none"),
                                  [1.0, 0.0, 0.0])


def test_top_k_with_nan_scores_follows_keras_numpy():
    p = np.array([[np.nan, 0.9, 0.1], [0.5, np.nan, 0.7], [np.nan, np.nan, 0.1], [0.2, 0.4, np.nan]])
    labels = np.array([1, 2, 2, 2])
    for k in (1, 2, 3):
        got = fastloss.sparse_top_k_categorical_accuracy(labels, p, k=k, reduction="none")
        want = oracle.sparse_top_k_categorical_accuracy(labels, p, k=k, reduction="none")
        np.testing.assert_array_equal(got, want)
    # NaN ranks above every number; a NaN target is a miss
    np.testing.assert_array_equal(fastloss.sparse_top_k_categorical_accuracy(labels, p, k=2, reduction="none"),
                                  [1.0, 1.0, 0.0, 0.0])


def test_accuracies_hand_values():
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    p = np.array([[0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.5, 0.1, 0.5]])  # row 2: first maximum is 0
    w = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(fastloss.categorical_accuracy(y, p, reduction="none"), [1.0, 0.0, 0.0])
    assert fastloss.categorical_accuracy(y, p) == pytest.approx(1 / 3)
    # argmax p = [1, 2, 0]: labels [1, 0, 0] hit rows 0 and 2 (weights 1 and 3 of 6)
    assert fastloss.sparse_categorical_accuracy([1, 0, 0], p, sample_weight=w) == pytest.approx(4 / 6)
    assert fastloss.sparse_categorical_accuracy([[1], [0], [0]], p, sample_weight=w,
                                                reduction="sum") == pytest.approx(4.0)
    assert fastloss.categorical_accuracy(y, p, sample_weight=[0.0, 0.0, 0.0]) == 0.0  # divide_no_nan
    assert np.isnan(fastloss.categorical_accuracy(y, p, sample_weight=[0.0, 0.0, 0.0], zero_division="nan"))


def test_binary_accuracy_threshold_is_strict_and_targets_must_equal():
    y = np.array([[1.0, 0.0, 0.7, 1.0]])
    p = np.array([[0.5, 0.5, 0.9, 0.51]])
    # 0.5 > 0.5 is False -> predicted 0: miss for y=1, hit for y=0; y=0.7 never matches; 0.51 -> 1: hit
    np.testing.assert_array_equal(fastloss.binary_accuracy(y, p, reduction="none"), [0.5])
    assert fastloss.binary_accuracy(y, p, threshold=0.4) == 0.5  # 1, miss, miss(0.7), 1
    assert fastloss.binary_accuracy([1.0, 0.0, 1.0], [0.9, 0.2, 0.3]) == pytest.approx(2 / 3)  # 1-D: per sample


def test_iou_and_dice_coefficient_hand_values():
    y = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0]], dtype=float)
    p = np.array([[0.9, 0.5, 0.6, 0.1], [0.1, 0.2, 0.0, 0.4], [0.2, 0.0, 0.8, 0.8]])
    # thresholded (>= 0.5): row 0: TP 2, FP 1, FN 0; row 1: empty/empty; row 2: TP 1, FP 1, FN 1
    np.testing.assert_allclose(fastloss.iou(y, p, axis=1, reduction="none"), [2 / 3, 1.0, 1 / 3])
    np.testing.assert_allclose(fastloss.iou(y, p, axis=1, empty_score=0.0, reduction="none"), [2 / 3, 0.0, 1 / 3])
    np.testing.assert_allclose(fastloss.dice_coefficient(y, p, axis=1, reduction="none"), [0.8, 1.0, 0.5])
    # whole batch: TP 3, FP 2, FN 1
    assert fastloss.iou(y, p) == pytest.approx(3 / 6)
    assert fastloss.dice_coefficient(y, p) == pytest.approx(6 / 9)
    # weights inside the batch sums: row 0 counts twice -> TP 5, FP 3, FN 1
    assert fastloss.iou(y, p, sample_weight=[2.0, 1.0, 1.0]) == pytest.approx(5 / 9)
    # soft: row 0: I = 1.4, Σy = 2, Σp = 2.1
    assert fastloss.iou(y[:1], p[:1], threshold=None) == pytest.approx(1.4 / (4.1 - 1.4))
    assert fastloss.dice_coefficient(y[:1], p[:1], threshold=None) == pytest.approx(2.8 / 4.1)


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("metric, y", [("top_k_categorical_accuracy", np.eye(3)),
                                       ("sparse_top_k_categorical_accuracy", np.arange(3))])
@pytest.mark.parametrize("k, error, match", [
    (4, ValueError, "k: expected 1 <= k <= 3"), (0, ValueError, "k:"), (-1, ValueError, "k:"),
    (1.5, TypeError, "k:"), ("2", TypeError, "k:"), (True, TypeError, "k:"),
])
def test_bad_k(metric, y, k, error, match):
    p = np.random.default_rng(0).random((3, 3))
    for fn in (getattr(fastloss, metric), getattr(oracle, metric)):
        with pytest.raises(error, match=match):
            fn(y, p, k=k)


def test_default_k_needs_five_classes():
    with pytest.raises(ValueError, match="k: expected 1 <= k <= 3"):
        fastloss.top_k_categorical_accuracy(np.eye(3), np.eye(3))


@pytest.mark.parametrize("fn", [fastloss.binary_accuracy, fastloss.iou, fastloss.dice_coefficient])
@pytest.mark.parametrize("threshold, error", [("0.5", TypeError), (float("nan"), ValueError), (True, TypeError)])
def test_bad_threshold(fn, threshold, error):
    with pytest.raises(error, match="threshold"):
        fn(np.ones((2, 2)), np.ones((2, 2)), threshold=threshold)


@pytest.mark.parametrize("metric", ["sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"])
@pytest.mark.parametrize("label", [3, -1, 1.5])
def test_bad_sparse_label(metric, label):
    p = np.random.default_rng(0).random((2, 3))
    extra = {"k": 1} if "top_k" in metric else {}
    for fn in (getattr(fastloss, metric), getattr(oracle, metric)):
        with pytest.raises(ValueError, match="y_true"):
            fn(np.array([0, label]), p, **extra)


@pytest.mark.parametrize("metric", ["iou", "dice_coefficient"])
@pytest.mark.parametrize("axis", [None, 1])
def test_overlap_metric_values(metric, axis):
    for fn in (getattr(fastloss, metric), getattr(oracle, metric)):
        with pytest.raises(ValueError, match="y_true"):
            fn(np.array([[1.0, 0.5]]), np.array([[0.2, 0.9]]), axis=axis)  # thresholded: targets 0 or 1
        with pytest.raises(ValueError, match="y_pred"):
            fn(np.array([[1.0, 0.5]]), np.array([[0.2, -0.9]]), axis=axis, threshold=None)
        with pytest.raises(TypeError, match="empty_score"):
            fn(np.array([[1.0, 0.0]]), np.array([[0.2, 0.9]]), axis=axis, empty_score="1")
        with pytest.raises(ValueError, match="axis"):
            fn(np.array([[1.0, 0.0]]), np.array([[0.2, 0.9]]), axis=2)


def test_registries():
    assert set(fastloss.METRICS) == set(oracle.METRICS) == {
        "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
        "sparse_top_k_categorical_accuracy", "iou", "dice_coefficient"}
    for name, fn in fastloss.METRICS.items():
        assert getattr(fastloss, name) is fn and name in fastloss.__all__
