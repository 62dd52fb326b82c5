"""fastloss against scikit-learn (float64, to 1e-12): weighted means and the "balanced" class weights.

scikit-learn's ``sample_weight`` is an ``np.average`` weight, ``Σ w·l / Σ w`` (SEMANTICS §6): fastloss's
reduction "mean_with_sample_weight". Without weights it is the plain mean, fastloss's default. For 2-D
targets, ``multioutput="uniform_average"`` averages the per-column weighted means, which is the weighted mean
of fastloss's per-row values (the mean over the last axis).
"""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

import fastloss  # noqa: E402
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight  # noqa: E402
from sklearn_cases import weights as sample_weights  # noqa: E402

RTOL = 1e-12

REGRESSION = [
    ("mean_squared_error", mean_squared_error),
    ("mean_absolute_error", mean_absolute_error),
]


@pytest.mark.parametrize("weights", ["none", "positive", "with_zeros", "integer"])
@pytest.mark.parametrize("shape", [(50,), (50, 1), (30, 4)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name, sk_fn", REGRESSION, ids=[n for n, _ in REGRESSION])
def test_regression_matches_sklearn(name, sk_fn, shape, weights):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    y = rng.normal(0.0, 3.0, shape)
    p = rng.normal(0.0, 3.0, shape)
    w = sample_weights(rng, shape[0], weights)
    expected = sk_fn(y, p, sample_weight=w)
    reduction = "mean_with_sample_weight" if w is not None else "sum_over_batch_size"
    actual = fastloss.LOSSES[name](y, p, sample_weight=w, reduction=reduction)
    assert isinstance(actual, float)
    assert actual == pytest.approx(float(expected), rel=RTOL, abs=1e-15)
    if w is not None:
        # and the default reduction (S / N) is not scikit-learn's weighted mean when the weights are not all 1
        unweighted_divisor = fastloss.LOSSES[name](y, p, sample_weight=w)
        assert unweighted_divisor == pytest.approx(float(expected) * w.sum() / shape[0], rel=RTOL)


@pytest.mark.parametrize("name, sk_fn", REGRESSION, ids=[n for n, _ in REGRESSION])
def test_regression_masked_rows_are_zero_weights_for_sklearn(name, sk_fn):
    """A fastloss mask equals scikit-learn with the masked rows' weights set to 0 (finite data)."""
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    w = rng.uniform(0.5, 2.0, 40)
    m = rng.random(40) < 0.6
    expected = sk_fn(y, p, sample_weight=w * m)
    actual = fastloss.LOSSES[name](y, p, sample_weight=w, mask=m, reduction="mean_with_sample_weight")
    assert actual == pytest.approx(float(expected), rel=RTOL)


def test_log_loss_matches_sparse_crossentropy_where_conventions_coincide():
    """sklearn's log_loss clips at finfo(float64).eps and does not renormalise; fastloss clips at 1e-7 and
    renormalises. On normalised rows with every probability >= 1e-7 the two are the same quantity."""
    rng = np.random.default_rng(9)
    K = 4
    p = rng.uniform(1e-3, 1.0, (60, K))
    p /= p.sum(axis=1, keepdims=True)
    y = rng.integers(0, K, 60)
    w = rng.uniform(0.0, 2.0, 60)
    expected = log_loss(y, p, sample_weight=w, labels=np.arange(K))
    actual = fastloss.sparse_categorical_crossentropy(y, p, sample_weight=w, reduction="mean_with_sample_weight")
    assert actual == pytest.approx(expected, rel=RTOL)
    expected_sum = log_loss(y, p, sample_weight=w, labels=np.arange(K), normalize=False)
    assert fastloss.sparse_categorical_crossentropy(y, p, sample_weight=w, reduction="sum") == pytest.approx(
        expected_sum, rel=RTOL
    )


@pytest.mark.parametrize(
    "labels",
    [
        [1, 1, 1, 1, 0, 0],
        [0, 1, 2, 2, 2, 2, 2, 3],
        [0, 2, 5, 5, 5, 2],  # classes 1, 3, 4 absent: fastloss's table holds 1.0 there
        [3, 3, 3],
        "random",
    ],
    ids=["sklearn-doc-example", "contiguous", "gaps", "single-class", "random"],
)
def test_compute_class_weight_balanced_matches_sklearn(labels):
    if labels == "random":
        labels = np.random.default_rng(2).integers(0, 7, 500)
    y = np.asarray(labels)
    classes = np.unique(y)
    expected = compute_class_weight("balanced", classes=classes, y=y)
    table = fastloss.compute_class_weight(y)
    assert table.dtype == np.float64
    assert len(table) == classes.max() + 1
    np.testing.assert_allclose(table[classes], expected, rtol=RTOL)
    absent = np.setdiff1d(np.arange(len(table)), classes)
    np.testing.assert_array_equal(table[absent], 1.0)
    # explicit classes= (all of y's labels, in any order) gives the same table
    np.testing.assert_allclose(fastloss.compute_class_weight(y, classes=classes[::-1]), table, rtol=0)


def test_compute_class_weight_counts_every_entry_of_a_label_map():
    """fastloss counts every entry of an (N, H, W) label map as one sample: sklearn on the flattened labels."""
    y = np.random.default_rng(6).integers(0, 5, (4, 8, 8))
    classes = np.unique(y)
    expected = compute_class_weight("balanced", classes=classes, y=y.ravel())
    np.testing.assert_allclose(fastloss.compute_class_weight(y)[classes], expected, rtol=RTOL)
