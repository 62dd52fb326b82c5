"""The public metrics: the same engine and reductions as the losses (see fastloss.losses).

Every metric computes Keras 3's metric *function* per row and, by default, reduces as Keras's metric *classes*
report (``MeanMetricWrapper``: ``Σ w·v / Σ w``), i.e. ``reduction="mean_with_sample_weight"``; every other
fastloss reduction is available. ``mask`` excludes rows exactly like a zero weight in that default (Keras folds its
mask into the weights). An all-zero weight or an all-masked batch gives ``zero_division`` (0.0, Keras's
``divide_no_nan``).

Accuracies (Keras 3.15.1 metric functions):

* ``binary_accuracy``: mean over the last axis of ``[y == (p > threshold)]`` (strictly greater; a target that is
  not exactly 0 or 1 never matches, as in Keras). A 1-D y_pred holds one prediction per sample.
* ``categorical_accuracy``: ``[argmax y == argmax p]`` (np.argmax: first maximum; a NaN counts as the maximum).
* ``sparse_categorical_accuracy``: ``[label == argmax p]``. Labels must be integer classes in ``0..K-1``:
  fastloss raises ValueError where Keras silently counts a miss (a deliberate difference).
* ``top_k_categorical_accuracy`` / ``sparse_top_k_categorical_accuracy``: ``[p[label] >= k-th largest p]``, Keras's
  ``in_top_k`` on the numpy backend: a score tied with the k-th largest is a hit (ties are generous), a NaN score
  ranks above every number, and a NaN target score is a miss. ``label`` is argmax of y_true for the dense one.
  ``k`` must be an integer in ``1..K`` (ValueError naming k; Keras returns 1 for every row when k >= K).

Segmentation overlap metrics (no Keras function; ``keras.metrics.BinaryIoU(target_class_ids=[1])`` is the batch-level
thresholded IoU):

* ``iou``: ``TP / (TP + FP + FN) = I / (Σy + Σp̃ - I)``; ``dice_coefficient``: ``2TP / (2TP + FP + FN) = 2I /
  (Σy + Σp̃)``, with ``I = Σ y·p̃``. ``threshold=0.5`` (default): ``p̃ = [p >= threshold]`` (BinaryIoU's rule, >=)
  and targets must be 0 or 1; ``threshold=None``: soft, ``p̃ = p`` (p >= 0, targets in [0, 1]). No ε: when the
  target and the prediction are both empty (``Σy + Σp̃ = 0``) the score is ``empty_score`` (default 1.0: nothing to
  find, nothing found; Keras's BinaryIoU reports 0.0 for such a class).
* ``axis`` as in fastloss.dice: a tuple of axes gives one value per remaining row (e.g. ``(1, 2, 3)``: per sample),
  reduced with the sample weights; ``axis=None`` (default) gives ONE value for the batch, in which
  ``sample_weight`` (a leading prefix of y_pred's shape without its last axis, or (N,) for 1-D) weighs every
  position in the sums (as BinaryIoU's weighted confusion matrix) and ``mask`` removes positions. Every scalar
  reduction of that single value is the value; ``"none"`` gives it as a 0-d array.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._arrays import _float_dtype
from ._engine import evaluate
from ._reductions import DEFAULT_ZERO_DIVISION, canonical_reduction
from ._options import _real, check_threshold
from .overlap import (_same_shape_arrays, batch_sum, check_overlap_axis, overlap_evaluate, overlap_rows,
                      spread_batch_value)

__all__ = [
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "iou",
    "dice_coefficient",
    "METRICS",
]

METRIC_REDUCTION = "mean_with_sample_weight"


def check_k(k, n_classes) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k: expected a positive integer, got {k!r}")
    k = int(k)
    if not 1 <= k <= n_classes:
        raise ValueError(f"k: expected 1 <= k <= {n_classes} (the number of classes in y_pred), got {k}")
    return k


def check_empty_score(value) -> float:
    """Any real number (NaN too: "undefined" for an empty row is a legitimate choice)."""
    return _real(value, "empty_score", "a number")


def _classes(y_pred):
    shape = np.shape(y_pred)
    if len(shape) == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    return shape[-1]


def binary_accuracy(y_true, y_pred, *, threshold=0.5, sample_weight=None, class_weight=None, mask=None,
                    reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's binary accuracy: mean over the last axis of ``[y_true == (y_pred > threshold)]``."""
    return evaluate("binary_accuracy", y_true, y_pred, sparse=False, elementwise=True, probabilities=False,
                    options={"threshold": check_threshold(threshold)}, sample_weight=sample_weight,
                    class_weight=class_weight, mask=mask, reduction=reduction, zero_division=zero_division,
                    n_threads=n_threads)


def categorical_accuracy(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                         reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's categorical accuracy: ``[argmax y_true == argmax y_pred]`` over the last axis."""
    return evaluate("categorical_accuracy", y_true, y_pred, sparse=False, elementwise=False, probabilities=False,
                    sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                    zero_division=zero_division, n_threads=n_threads)


def sparse_categorical_accuracy(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                                reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's sparse categorical accuracy: ``[label == argmax y_pred]``, one integer label per row."""
    return evaluate("sparse_categorical_accuracy", y_true, y_pred, sparse=True, elementwise=False,
                    probabilities=False, sample_weight=sample_weight, class_weight=class_weight, mask=mask,
                    reduction=reduction, zero_division=zero_division, n_threads=n_threads)


def top_k_categorical_accuracy(y_true, y_pred, *, k=5, sample_weight=None, class_weight=None, mask=None,
                               reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's top-k categorical accuracy: is argmax y_true among the k highest scores (ties with the k-th count)."""
    k = check_k(k, _classes(y_pred))
    return evaluate("top_k_categorical_accuracy", y_true, y_pred, sparse=False, elementwise=False,
                    probabilities=False, options={"k": k}, sample_weight=sample_weight,
                    class_weight=class_weight, mask=mask, reduction=reduction, zero_division=zero_division,
                    n_threads=n_threads)


def sparse_top_k_categorical_accuracy(y_true, y_pred, *, k=5, sample_weight=None, class_weight=None, mask=None,
                                      reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION,
                                      n_threads=None):
    """Keras's sparse top-k categorical accuracy: is the label among the k highest scores (ties count)."""
    k = check_k(k, _classes(y_pred))
    return evaluate("sparse_top_k_categorical_accuracy", y_true, y_pred, sparse=True, elementwise=False,
                    probabilities=False, options={"k": k}, sample_weight=sample_weight,
                    class_weight=class_weight, mask=mask, reduction=reduction, zero_division=zero_division,
                    n_threads=n_threads)


def _overlap_metric(kernel, y_true, y_pred, threshold, empty_score, axis, sample_weight, mask, reduction,
                    zero_division, n_threads):
    canonical_reduction(reduction)
    thresholded = threshold is not None
    options = {"flags": 1, "threshold": check_threshold(threshold)} if thresholded else {}
    empty_score = check_empty_score(empty_score)
    yt, yp = _same_shape_arrays(y_true, y_pred)
    axes = check_overlap_axis(axis, yp.ndim)
    if axes is not None:
        yt, yp = overlap_rows(yt, yp, axes)
        return overlap_evaluate(kernel, yt, yp, thresholded=thresholded, elementwise=False, options=options,
                                delta=empty_score, sample_weight=sample_weight, mask=mask, reduction=reduction,
                                zero_division=zero_division, n_threads=n_threads)
    common = dict(threshold=options.get("threshold"), sample_weight=sample_weight, mask=mask,
                  n_threads=n_threads)
    intersection = batch_sum(yt, yp, yp=1.0, **common)
    mismatches = batch_sum(yt, yp, y=1.0, p=1.0, yp=-2.0, **common)  # FP + FN = Σy + Σp̃ - 2I
    if kernel == "iou":
        numerator, denominator = intersection, intersection + mismatches
    else:
        numerator, denominator = 2.0 * intersection, 2.0 * intersection + mismatches
    value = empty_score if denominator == 0 else numerator / denominator
    return spread_batch_value(value, _float_dtype(yp), (), reduction=reduction, zero_division=zero_division)


def iou(y_true, y_pred, *, threshold=0.5, axis=None, empty_score=1.0, sample_weight=None, mask=None,
        reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Intersection over union of the positive class, ``TP / (TP + FP + FN)``, thresholded (``p >= threshold``) or
    soft (``threshold=None``); per row with ``axis``, one batch value with ``axis=None`` (see the module docstring)."""
    return _overlap_metric("iou", y_true, y_pred, threshold, empty_score, axis, sample_weight, mask, reduction,
                           zero_division, n_threads)


def dice_coefficient(y_true, y_pred, *, threshold=0.5, axis=None, empty_score=1.0, sample_weight=None, mask=None,
                     reduction=METRIC_REDUCTION, zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Dice coefficient (F1) of the positive class, ``2TP / (2TP + FP + FN)``, thresholded or soft
    (``threshold=None``); per row with ``axis``, one batch value with ``axis=None`` (see the module docstring)."""
    return _overlap_metric("dice_coefficient", y_true, y_pred, threshold, empty_score, axis, sample_weight, mask,
                           reduction, zero_division, n_threads)


METRICS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "iou": iou,
    "dice_coefficient": dice_coefficient,
}
