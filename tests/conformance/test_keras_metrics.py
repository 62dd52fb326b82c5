"""fastloss's metrics (and their oracle) against Keras 3's metric functions and classes.

* Functions (``keras.metrics.binary_accuracy`` ...): per-row values = fastloss ``reduction="none"``.
* Classes (``keras.metrics.BinaryAccuracy`` ...) with ``sample_weight`` and a Keras mask on y_pred: their result
  ``Σ w·v / Σ w`` = fastloss's default ``"mean_with_sample_weight"`` (the mask becomes fastloss's ``mask``).
* Top-k with tied scores (Keras's numpy ``in_top_k`` counts a tie with the k-th score as a hit).
* ``keras.metrics.MeanIoU(num_classes=2)`` on hard predictions = the mean of fastloss.iou of each class.
* ``keras.metrics.BinaryIoU(target_class_ids=[1], threshold=t)`` with sample weights = ``fastloss.iou(axis=None,
  threshold=t)``; Keras adds ε twice (``tp / (d + ε) / (1 + ε)``), a relative 1e-7 at most here.
"""

import os

import numpy as np
import pytest

assert os.environ.get("KERAS_BACKEND") == "numpy", "tests/conformance/conftest.py sets KERAS_BACKEND first"

keras = pytest.importorskip("keras")

import fastloss  # noqa: E402
from fastloss import oracle  # noqa: E402
from keras.src.backend.common.masking import set_keras_mask  # noqa: E402

RTOL = 2e-6


def scores(rng, shape):
    return rng.integers(0, 5, shape) / 4.0  # a coarse grid: many ties, values equal to the threshold


def classification(seed, rows, K=5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, rows)
    return labels, np.eye(K)[labels], scores(rng, rows + (K,))


WEIGHTS = [None, "positive", "with_zeros"]


def weights_for(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    if kind is None:
        return None
    w = rng.random(n) + 0.1
    if kind == "with_zeros":
        w[::3] = 0.0
    return w


CATEGORICAL = [
    ("categorical_accuracy", keras.metrics.categorical_accuracy, keras.metrics.CategoricalAccuracy, False, {}),
    ("sparse_categorical_accuracy", keras.metrics.sparse_categorical_accuracy,
     keras.metrics.SparseCategoricalAccuracy, True, {}),
    ("top_k_categorical_accuracy", keras.metrics.top_k_categorical_accuracy,
     keras.metrics.TopKCategoricalAccuracy, False, {"k": 2}),
    ("sparse_top_k_categorical_accuracy", keras.metrics.sparse_top_k_categorical_accuracy,
     keras.metrics.SparseTopKCategoricalAccuracy, True, {"k": 3}),
    ("top_k_categorical_accuracy", keras.metrics.top_k_categorical_accuracy,
     keras.metrics.TopKCategoricalAccuracy, False, {"k": 1}),
]


@pytest.mark.parametrize("name, function, cls, sparse, options", CATEGORICAL)
def test_categorical_functions(name, function, cls, sparse, options):
    labels, one_hot, p = classification(1, (40,))
    y = labels if sparse else one_hot
    want = function(y, p, **options)
    got = getattr(fastloss, name)(y, p, reduction="none", **options)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(getattr(oracle, name)(y, p, reduction="none", **options), want)


@pytest.mark.parametrize("name, function, cls, sparse, options", CATEGORICAL)
@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("masked", [False, True])
def test_categorical_classes(name, function, cls, sparse, options, weights, masked):
    labels, one_hot, p = classification(2, (30,))
    y = labels if sparse else one_hot
    sw = weights_for(weights, 30)
    mask = np.random.default_rng(5).random(30) < 0.7 if masked else None
    metric = cls(**options)
    keras_p = p.copy()
    if masked:
        set_keras_mask(keras_p, mask)
    metric.update_state(y, keras_p, sample_weight=sw)
    want = float(metric.result())
    got = getattr(fastloss, name)(y, p, sample_weight=sw, mask=mask, **options)
    assert got == pytest.approx(want, rel=RTOL)
    assert getattr(oracle, name)(y, p, sample_weight=sw, mask=mask, **options) == pytest.approx(want, rel=RTOL)


@pytest.mark.parametrize("threshold", [0.5, 0.25, 0.0])
@pytest.mark.parametrize("shape", [(40,), (20, 3), (8, 3, 4)])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_binary_accuracy(threshold, shape, weights):
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, shape).astype(np.float64)
    p = scores(rng, shape)
    # Keras's function gives one value per element; fastloss's row value is their mean over the last axis
    np.testing.assert_allclose(
        fastloss.binary_accuracy(y, p, threshold=threshold, reduction="none").reshape(-1),
        np.mean(np.asarray(keras.metrics.binary_accuracy(y, p, threshold=threshold), dtype=np.float64).reshape(
            -1, shape[-1] if len(shape) > 1 else 1), axis=-1), rtol=1e-15)
    sw = weights_for(weights, shape[0])
    metric = keras.metrics.BinaryAccuracy(threshold=threshold)
    metric.update_state(y, p, sample_weight=sw)
    want = float(metric.result())
    assert fastloss.binary_accuracy(y, p, threshold=threshold, sample_weight=sw) == pytest.approx(want, rel=RTOL)
    assert oracle.binary_accuracy(y, p, threshold=threshold, sample_weight=sw) == pytest.approx(want, rel=RTOL)


def test_top_k_ties_count_as_hits():
    p = np.array([[0.5, 0.5, 0.5, 0.1], [0.3, 0.2, 0.2, 0.2], [0.9, 0.5, 0.5, 0.1]])
    labels = np.array([2, 3, 2])
    for k in (1, 2, 3):
        want = keras.metrics.sparse_top_k_categorical_accuracy(labels, p, k=k)
        np.testing.assert_array_equal(fastloss.sparse_top_k_categorical_accuracy(labels, p, k=k, reduction="none"),
                                      want)
    assert float(keras.metrics.sparse_top_k_categorical_accuracy(labels[:1], p[:1], k=1)[0]) == 1.0


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.75])
@pytest.mark.parametrize("shape", [(60,), (10, 6), (4, 5, 3)])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_iou_is_binary_iou_of_the_positive_class(threshold, shape, weights):
    rng = np.random.default_rng(7)
    y = (rng.random(shape) < 0.4).astype(np.float64)
    p = scores(rng, shape)
    sw = weights_for(weights, shape[0], seed=1)
    metric = keras.metrics.BinaryIoU(target_class_ids=[1], threshold=threshold, dtype="float32")
    # BinaryIoU takes weights broadcastable to y_true (it flattens both); fastloss takes them at a prefix shape
    metric.update_state(y, p, sample_weight=None if sw is None else np.broadcast_to(
        sw.reshape(sw.shape + (1,) * (len(shape) - 1)), shape))
    want = float(metric.result())
    assert fastloss.iou(y, p, threshold=threshold, sample_weight=sw) == pytest.approx(want, rel=RTOL)
    assert oracle.iou(y, p, threshold=threshold, sample_weight=sw) == pytest.approx(want, rel=RTOL)


@pytest.mark.parametrize("axis", [None, (1, 2)])
def test_soft_dice_coefficient_is_one_minus_keras_dice(axis):
    rng = np.random.default_rng(8)
    y = (rng.random((5, 4, 3)) < 0.5).astype(np.float64)
    p = rng.random((5, 4, 3))
    want = 1.0 - np.asarray(keras.losses.dice(y, p, axis=axis), dtype=np.float64)  # ε: relative 1e-7 here
    got = fastloss.dice_coefficient(y, p, threshold=None, axis=axis, reduction="none")
    np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_mean_iou_of_two_classes_is_the_mean_of_each_class_iou(weights):
    rng = np.random.default_rng(9)
    y = (rng.random((12, 5)) < 0.4).astype(np.float64)
    predicted = (rng.random((12, 5)) < 0.5).astype(np.float64)  # hard predictions: class 0 is their complement
    sw = weights_for(weights, 12, seed=2)
    metric = keras.metrics.MeanIoU(num_classes=2, dtype="float32")
    metric.update_state(y, predicted, sample_weight=None if sw is None else np.broadcast_to(sw[:, None], y.shape))
    want = float(metric.result())
    got = (fastloss.iou(y, predicted, sample_weight=sw) + fastloss.iou(1 - y, 1 - predicted, sample_weight=sw)) / 2
    assert got == pytest.approx(want, rel=RTOL)
