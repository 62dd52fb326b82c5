"""Oracle of the catalog losses added after the foundation: binary and categorical focal crossentropy, the
generalized crossentropy, and binary_crossentropy's multi-label weights ((K, 2) class_weight, pos_weight).

Same recipe as ``core`` (rows, included rows, per-row loss in float64, effective weight, reduction): each loss
passes its per-row loss to ``core._evaluate_rows``, and ``core._reduce`` computes every reduction. ``binary_crossentropy`` here extends
core's: without the multi-label options it *is* core's function.
"""

from __future__ import annotations

import numpy as np

from .._options import (check_flag, check_focal_alpha, check_gamma, check_label_smoothing, check_last_axis, check_q,
                        is_multilabel_class_weight, multilabel_columns, prediction_columns)
from . import core
from .core import _evaluate_rows

__all__ = [
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
]


def _sigmoid(z):
    """σ(z) = 1/(1 + e^-z), written per sign so that exp never overflows."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# Public functions: the same signatures as fastloss's
# ---------------------------------------------------------------------------------------------------------


def binary_focal_crossentropy(y_true, y_pred, *, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1, sample_weight=None,
                              class_weight=None, mask=None, reduction="sum_over_batch_size", zero_division=0.0,
                              n_threads=None):
    """Keras's binary focal crossentropy, one value per row (mean over the last axis).

    ``y_s = y·(1 - s) + s/2`` (s = label_smoothing); ``p = σ(z)`` for logits, else y_pred;
    ``bce = -(y_s·log p_c + (1 - y_s)·log(1 - p_c))`` with ``p_c = clip(p, lo, hi)``;
    ``p_t = y_s·p + (1 - y_s)·(1 - p)`` (unclipped p); ``f = (1 - p_t)^γ·bce``; with apply_class_balancing
    ``f *= α·y_s + (1 - α)·(1 - y_s)``, α a number or one per column; ``l = mean_k f``.
    """
    apply_class_balancing = check_flag(apply_class_balancing, "apply_class_balancing")
    check_last_axis(axis, np.ndim(y_pred))
    a, a_columns = check_focal_alpha(alpha, prediction_columns(y_pred, True), unit_interval=True)
    alpha = a if a_columns is None else a_columns  # broadcasts along the last axis
    gamma = check_gamma(gamma)
    smoothing = check_label_smoothing(label_smoothing)

    def rows(y, p, lo, hi):
        y_s = y * (1 - smoothing) + smoothing / 2
        if from_logits:
            p = _sigmoid(p)
        p_c = np.clip(p, lo, hi)
        bce = -(y_s * np.log(p_c) + (1 - y_s) * np.log(1 - p_c))
        p_t = y_s * p + (1 - y_s) * (1 - p)
        f = np.power(1 - p_t, gamma) * bce
        if apply_class_balancing:
            f = (y_s * alpha + (1 - y_s) * (1 - alpha)) * f
        return np.mean(f, axis=-1)

    return _evaluate_rows(y_true, y_pred, rows, sparse=False, one_d_is_column=True, probabilities=not from_logits,
                          sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                          zero_division=zero_division)


def categorical_focal_crossentropy(y_true, y_pred, *, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1, sample_weight=None, class_weight=None, mask=None,
                                   reduction="sum_over_batch_size", zero_division=0.0, n_threads=None):
    """Keras's categorical focal crossentropy over the K classes of the last axis (a 1-D y_pred is one row).

    ``y_s = y·(1 - s) + s/K``; ``q = clip(p / Σ_k p, lo, hi)``, or ``clip(softmax(z), lo, hi)`` for logits;
    ``l = Σ_k α_k·(1 - q_k)^γ·(-y_s,k·log q_k)``, α a number or one per class.
    """
    check_last_axis(axis, np.ndim(y_pred))
    a, a_columns = check_focal_alpha(alpha, prediction_columns(y_pred, False), unit_interval=False)
    alpha = a if a_columns is None else a_columns
    gamma = check_gamma(gamma)
    smoothing = check_label_smoothing(label_smoothing)

    def rows(y, p, lo, hi):
        K = p.shape[-1]
        y_s = y * (1 - smoothing) + smoothing / K
        if from_logits:
            p = _softmax(p)
        q = np.clip(p / np.sum(p, axis=-1, keepdims=True), lo, hi)
        return np.sum(alpha * np.power(1 - q, gamma) * (-y_s * np.log(q)), axis=-1)

    return _evaluate_rows(y_true, y_pred, rows, sparse=False, one_d_is_column=False, probabilities=not from_logits,
                          sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                          zero_division=zero_division)


def categorical_generalized_cross_entropy(y_true, y_pred, *, q=0.5, sample_weight=None, class_weight=None,
                                          mask=None, reduction="sum_over_batch_size", zero_division=0.0,
                                          n_threads=None):
    """Keras's generalized crossentropy, one integer label ``y`` per row: ``l = (1 - p_y^q) / q``, ``0 < q < 1``.

    p_y is used as it is (no clip, no renormalisation). Labels: integers in [0, K) in included rows; y_pred:
    probabilities in [0, 1] (ValueError otherwise).
    """
    q = check_q(q)

    def rows(labels, p, lo, hi):
        one_hot = np.eye(p.shape[-1])[labels]
        p_y = np.sum(p * one_hot, axis=-1)  # as Keras reads it: a NaN anywhere in the row gives NaN
        return (1 - np.power(p_y, q)) / q

    return _evaluate_rows(y_true, y_pred, rows, sparse=True, one_d_is_column=False, probabilities=True,
                          sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                          zero_division=zero_division)


def binary_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, pos_weight=None,
                        sample_weight=None, class_weight=None, mask=None, reduction="sum_over_batch_size",
                        zero_division=0.0, n_threads=None):
    """core's binary_crossentropy, plus the multi-label weights of column k (K columns; 1-D y_pred: K = 1).

    ``class_weight`` of shape (K, 2): element weight ``c = (1 - y)·w_neg[k] + y·w_pos[k]`` with y = y_true as
    given (before smoothing); ``pos_weight`` pw[k] (number or (K,)): the element loss is
    ``-(pw·y_s·log p_c + (1 - y_s)·log(1 - p_c))`` for probabilities and
    ``-(pw·y_s·log σ(z) + (1 - y_s)·log(1 - σ(z)))`` for logits, computed as
    ``pw·y_s·softplus(-z) + (1 - y_s)·softplus(z)``; ``l = mean_k c·element``. The row weight is the sample
    weight (times a per-row class weight when class_weight is a dict or a 1-D array).
    """
    multilabel = is_multilabel_class_weight(class_weight)
    if not multilabel and pos_weight is None:
        return core.binary_crossentropy(
            y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, sample_weight=sample_weight,
            class_weight=class_weight, mask=mask, reduction=reduction, zero_division=zero_division)
    n_columns = prediction_columns(y_pred, True)
    table = None if n_columns is None else multilabel_columns(class_weight if multilabel else None, pos_weight,
                                                              n_columns)
    smoothing = check_label_smoothing(label_smoothing)

    def softplus(t):
        return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))

    def rows(y, p, lo, hi):
        w_neg, w_pos, pw = table[:, 0], table[:, 1], table[:, 2]
        c = (1 - y) * w_neg + y * w_pos
        y_s = y * (1 - smoothing) + smoothing / 2
        if from_logits:
            element = pw * y_s * softplus(-p) + (1 - y_s) * softplus(p)
        else:
            p_c = np.clip(p, lo, hi)
            element = -(pw * y_s * np.log(p_c) + (1 - y_s) * np.log(1 - p_c))
        return np.mean(c * element, axis=-1)

    return _evaluate_rows(y_true, y_pred, rows, sparse=False, one_d_is_column=True, probabilities=not from_logits,
                          sample_weight=sample_weight, class_weight=None if multilabel else class_weight, mask=mask,
                          reduction=reduction, zero_division=zero_division)


LOSSES = {
    "binary_crossentropy": binary_crossentropy,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "categorical_generalized_cross_entropy": categorical_generalized_cross_entropy,
}

for _f in (binary_focal_crossentropy, categorical_focal_crossentropy, categorical_generalized_cross_entropy,
           binary_crossentropy):
    if _f.__doc__:  # None under python -OO
        _f.__doc__ += core._COMMON_DOC
del _f
