"""Oracle of the overlap losses (Dice, Tversky), the metrics (accuracies, top-k, IoU, Dice coefficient), total_loss.

The same recipe as fastloss.oracle.core (rows, included rows, per-row values, effective weights, ``_reduce``), with
these per-row values, computed in float64 from the included rows only (``I = Σ y·p`` over the row):

* dice:    ``1 - (2I + s) / (Σy + Σp + d)``; tversky: ``1 - (I + s) / (I + α·Σy(1-p) + β·Σ(1-y)p + d)``, with
  ``s = smooth`` and ``d = s if s > 0 else ε`` (ε = dtype(1e-7)). Soft overlap values: ``p < 0`` and targets
  outside [0, 1] raise ValueError.
* iou: ``I / (Σy + Σp̃ - I)``; dice_coefficient: ``2I / (Σy + Σp̃)``; ``empty_score`` when the denominator is 0.
  Thresholded: ``p̃ = p >= threshold`` and targets in {0, 1}; soft (threshold None): ``p̃ = p``.
* binary_accuracy: ``mean_k [y == (p > threshold)]``; categorical_accuracy: ``[argmax y == argmax p]``;
  sparse_categorical_accuracy: ``[label == argmax p]``; top-k: Keras's numpy ``in_top_k`` written out: sort the
  row descending (``np.argsort(p)[::-1]``), keep the first k values, hit iff ``p[label] >=`` any of them.

``axis`` of the overlap functions: a tuple moves those axes last and flattens them (rows = the other axes);
``None`` sums over every included position of the batch. Loss with axis=None: every sample_weight entry carries the
batch value L (Keras's scalar loss times sample_weight); an entry is included when any of its positions is. Metric
with axis=None: sample_weight multiplies each position inside the sums, and the single value is one entry of
weight 1.

``total_loss``: ``Σ_k loss_weight_k · L_k`` with each ``L_k`` from this oracle's function of the same name.
"""

from __future__ import annotations

import numpy as np

from .._arrays import _to_numpy
from .._reductions import canonical_reduction, check_zero_division
from .._options import check_nonnegative, check_threshold
from ..overlap import _same_shape_arrays, check_overlap_axis, overlap_rows
from ..metrics import check_empty_score, check_k, METRIC_REDUCTION
from .core import (
    _broadcast_to_rows,
    _clip_bounds,
    _compute_dtype,
    _dense_targets,
    _evaluate_rows,
    _prediction_rows,
    _prefix_of_rows,
    _reduce,
    _sample_weight_of_rows,
    _unmasked_rows,
)

__all__ = [
    "dice",
    "tversky",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "iou",
    "dice_coefficient",
    "total_loss",
    "METRICS",
]


# ---------------------------------------------------------------------------------------------------------
# The row recipe, for any per-row function
# ---------------------------------------------------------------------------------------------------------

def _rows(row_values, y_true, y_pred, *, sparse=False, one_d_is_column=False, sample_weight=None,
          class_weight=None, mask=None, reduction="sum_over_batch_size", zero_division=0.0):
    """``row_values(target_or_labels, p, eps)`` on the included rows (float64 arrays), then ``_reduce``."""
    return _evaluate_rows(y_true, y_pred, lambda targets, p, lo, hi: row_values(targets, p, lo), sparse=sparse,
                          one_d_is_column=one_d_is_column, probabilities=False, sample_weight=sample_weight,
                          class_weight=class_weight, mask=mask, reduction=reduction, zero_division=zero_division)


# ---------------------------------------------------------------------------------------------------------
# Overlap values
# ---------------------------------------------------------------------------------------------------------

def _check_overlap_values(y, p, thresholded):
    if thresholded:
        bad = ~((y == 0) | (y == 1))
        if np.any(bad):
            raise ValueError(f"y_true: thresholded overlap needs targets 0 or 1, found {y[bad][0]!r}")
        return
    outside = (y < 0) | (y > 1)
    if np.any(outside):
        raise ValueError(f"y_true: overlap targets must lie in [0, 1], found {y[outside][0]!r}")
    if np.any(p < 0):
        raise ValueError(f"y_pred: overlap predictions must be >= 0, found {p[p < 0][0]!r}")


def _dice_value(I, total_y, total_p, smooth, eps):
    return 1.0 - (2.0 * I + smooth) / (total_y + total_p + (smooth if smooth > 0 else eps))


def _tversky_value(I, missed, spurious, alpha, beta, smooth, eps):
    return 1.0 - (I + smooth) / (I + alpha * missed + beta * spurious + (smooth if smooth > 0 else eps))


def _score_value(kind, I, total_y, total_p, empty_score):
    denominator = total_y + total_p - I if kind == "iou" else total_y + total_p
    numerator = I if kind == "iou" else 2.0 * I
    return np.where(denominator == 0, empty_score, numerator / np.where(denominator == 0, 1.0, denominator))


def _batch_positions(y_true, y_pred, mask, sample_weight):
    """(y, p, w) of the included positions of the whole batch, float64 (y in the compute dtype first)."""
    dtype = _compute_dtype(y_pred)
    pred = _prediction_rows(y_pred, one_d_is_column=True)
    rows = pred.shape[:-1]
    target = _dense_targets(y_true, y_pred, pred, dtype)
    included = _unmasked_rows(mask, rows)
    _, w = _sample_weight_of_rows(sample_weight, rows)
    K = pred.shape[-1]
    return (target[included].reshape(-1), pred[included].astype(np.float64).reshape(-1),
            np.repeat(w[included], K), dtype, rows)


def _spread(value, y_pred, sample_weight, mask, dtype, reduction, zero_division):
    """Every weight entry carries ``value``; ``_reduce`` over the entries (see the module docstring)."""
    reduction = canonical_reduction(reduction)
    zero_division = check_zero_division(zero_division)
    if sample_weight is None:
        sw = np.ones(())
        legacy = np.ones(())
    else:
        sw = _prefix_of_rows(_to_numpy(sample_weight, "sample_weight").astype(np.float64), y_pred.shape,
                             "sample_weight")
        legacy = sw
    included = np.ones(sw.shape, dtype=bool)
    if mask is not None:
        positions = y_pred.shape[:-1] if y_pred.ndim > 1 else y_pred.shape
        m = _prefix_of_rows(_to_numpy(mask, "mask"), positions, "mask") != 0
        if m.ndim >= sw.ndim:
            included = np.any(m, axis=tuple(range(sw.ndim, m.ndim)))
        else:
            included = _broadcast_to_rows(m, sw.shape)
    losses = np.full(sw.shape, float(value))
    with np.errstate(invalid="ignore", over="ignore"):
        return _reduce(losses, included, sw, legacy, dtype, reduction, zero_division)


def _overlap_loss(kind, y_true, y_pred, *, alpha=0.5, beta=0.5, smooth=0.0, axis=None, sample_weight=None,
                  mask=None, reduction="sum_over_batch_size", zero_division=0.0):
    canonical_reduction(reduction)
    yt, yp = _same_shape_arrays(y_true, y_pred)
    axes = check_overlap_axis(axis, yp.ndim)

    def value(y, p, eps):
        _check_overlap_values(y, p, False)
        I = np.sum(y * p, axis=-1)
        if kind == "dice":
            return _dice_value(I, np.sum(y, axis=-1), np.sum(p, axis=-1), smooth, eps)
        return _tversky_value(I, np.sum(y * (1 - p), axis=-1), np.sum((1 - y) * p, axis=-1), alpha, beta,
                              smooth, eps)

    if axes is not None:
        yt, yp = overlap_rows(yt, yp, axes)
        return _rows(value, yt, yp, sample_weight=sample_weight, mask=mask, reduction=reduction,
                     zero_division=zero_division)
    y, p, _, dtype, _ = _batch_positions(yt, yp, mask, None)
    eps, _ = _clip_bounds(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        L = float(value(y[None, :], p[None, :], eps)[0])
    return _spread(L, yp, sample_weight, mask, dtype, reduction, zero_division)


def dice(y_true, y_pred, *, axis=None, smooth=0.0, sample_weight=None, mask=None,
         reduction="sum_over_batch_size", zero_division=0.0, n_threads=None):
    """Keras's Dice loss ``1 - (2I + s) / (Σy + Σp + (s or ε))`` (module docstring for axis and weights)."""
    return _overlap_loss("dice", y_true, y_pred, smooth=check_nonnegative(smooth, "smooth"), axis=axis,
                         sample_weight=sample_weight, mask=mask, reduction=reduction, zero_division=zero_division)


def tversky(y_true, y_pred, *, alpha=0.5, beta=0.5, axis=None, smooth=0.0, sample_weight=None, mask=None,
            reduction="sum_over_batch_size", zero_division=0.0, n_threads=None):
    """Keras 3.15.1's Tversky loss, α on Σy(1-p) (missed positives), β on Σ(1-y)p (false positives)."""
    return _overlap_loss("tversky", y_true, y_pred, alpha=check_nonnegative(alpha, "alpha"),
                         beta=check_nonnegative(beta, "beta"), smooth=check_nonnegative(smooth, "smooth"),
                         axis=axis, sample_weight=sample_weight, mask=mask, reduction=reduction,
                         zero_division=zero_division)


def _overlap_metric(kind, y_true, y_pred, *, threshold, axis, empty_score, sample_weight, mask, reduction,
                    zero_division):
    canonical_reduction(reduction)
    thresholded = threshold is not None
    if thresholded:
        threshold = check_threshold(threshold)
    empty_score = check_empty_score(empty_score)
    yt, yp = _same_shape_arrays(y_true, y_pred)
    axes = check_overlap_axis(axis, yp.ndim)

    def predicted(p):
        return (p >= threshold).astype(np.float64) if thresholded else p

    def value(y, p, eps):
        _check_overlap_values(y, p, thresholded)
        q = predicted(p)
        return _score_value(kind, np.sum(y * q, axis=-1), np.sum(y, axis=-1), np.sum(q, axis=-1), empty_score)

    if axes is not None:
        yt, yp = overlap_rows(yt, yp, axes)
        return _rows(value, yt, yp, sample_weight=sample_weight, mask=mask, reduction=reduction,
                     zero_division=zero_division)
    y, p, w, dtype, _ = _batch_positions(yt, yp, mask, sample_weight)
    _check_overlap_values(y, p, thresholded)
    q = predicted(p)
    score = float(_score_value(kind, np.sum(w * y * q), np.sum(w * y), np.sum(w * q), empty_score))
    return _spread(score, yp, None, None, dtype, reduction, zero_division)


def iou(y_true, y_pred, *, threshold=0.5, axis=None, empty_score=1.0, sample_weight=None, mask=None,
        reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """``TP / (TP + FP + FN)`` of the positive class (module docstring)."""
    return _overlap_metric("iou", y_true, y_pred, threshold=threshold, axis=axis, empty_score=empty_score,
                           sample_weight=sample_weight, mask=mask, reduction=reduction, zero_division=zero_division)


def dice_coefficient(y_true, y_pred, *, threshold=0.5, axis=None, empty_score=1.0, sample_weight=None, mask=None,
                     reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """``2TP / (2TP + FP + FN)`` of the positive class (module docstring)."""
    return _overlap_metric("dice_coefficient", y_true, y_pred, threshold=threshold, axis=axis,
                           empty_score=empty_score, sample_weight=sample_weight, mask=mask, reduction=reduction,
                           zero_division=zero_division)


# ---------------------------------------------------------------------------------------------------------
# Accuracies
# ---------------------------------------------------------------------------------------------------------

def _keras_in_top_k(labels, p, k):
    """keras.src.backend.numpy.math.in_top_k, written out."""
    order = np.argsort(p, axis=-1)[..., ::-1]
    top_values = np.take_along_axis(p, order, axis=-1)[..., :k]
    target_values = np.take_along_axis(p, labels[:, None].astype(np.int64), axis=-1)
    return np.any(target_values >= top_values, axis=-1).astype(np.float64)


def binary_accuracy(y_true, y_pred, *, threshold=0.5, sample_weight=None, class_weight=None, mask=None,
                    reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """``mean_k [y == (p > threshold)]``."""
    threshold = check_threshold(threshold)
    return _rows(lambda y, p, eps: np.mean(y == (p > threshold).astype(np.float64), axis=-1), y_true, y_pred,
                 one_d_is_column=True, sample_weight=sample_weight, class_weight=class_weight, mask=mask,
                 reduction=reduction, zero_division=zero_division)


def categorical_accuracy(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                         reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """``[argmax y == argmax p]`` (np.argmax)."""
    return _rows(lambda y, p, eps: (np.argmax(y, axis=-1) == np.argmax(p, axis=-1)).astype(np.float64), y_true,
                 y_pred, sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                 zero_division=zero_division)


def sparse_categorical_accuracy(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                                reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """``[label == argmax p]``."""
    return _rows(lambda labels, p, eps: (labels == np.argmax(p, axis=-1)).astype(np.float64), y_true, y_pred,
                 sparse=True, sample_weight=sample_weight, class_weight=class_weight, mask=mask,
                 reduction=reduction, zero_division=zero_division)


def top_k_categorical_accuracy(y_true, y_pred, *, k=5, sample_weight=None, class_weight=None, mask=None,
                               reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """Keras's in_top_k of argmax y."""
    k = check_k(k, np.shape(y_pred)[-1] if np.ndim(y_pred) else 0)
    return _rows(lambda y, p, eps: _keras_in_top_k(np.argmax(y, axis=-1), p, k), y_true, y_pred,
                 sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                 zero_division=zero_division)


def sparse_top_k_categorical_accuracy(y_true, y_pred, *, k=5, sample_weight=None, class_weight=None, mask=None,
                                      reduction=METRIC_REDUCTION, zero_division=0.0, n_threads=None):
    """Keras's in_top_k of the label."""
    k = check_k(k, np.shape(y_pred)[-1] if np.ndim(y_pred) else 0)
    return _rows(lambda labels, p, eps: _keras_in_top_k(labels, p, k), y_true, y_pred, sparse=True,
                 sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                 zero_division=zero_division)


# ---------------------------------------------------------------------------------------------------------
# Multi-output total
# ---------------------------------------------------------------------------------------------------------

def total_loss(outputs, loss_weights=None, *, sample_weight=None, reduction="sum_over_batch_size",
               zero_division=0.0, per_output=False, n_threads=None):
    """``Σ_k loss_weight_k · L_k``, each ``L_k`` from this oracle (same arguments as fastloss.multi_output)."""
    from ..multi_output import _entries  # the argument parsing is not the spec; the sum below is
    from . import LOSSES

    total, values = 0.0, {}
    for name, fn_name, y_true, y_pred, options, weight in _entries(outputs, loss_weights, sample_weight,
                                                                   reduction, zero_division):
        L = LOSSES[fn_name](y_true, y_pred, **options)
        values[name] = L
        total += weight * L
    return (total, values) if per_output else total


LOSSES = {"dice": dice, "tversky": tversky}
METRICS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "iou": iou,
    "dice_coefficient": dice_coefficient,
}
