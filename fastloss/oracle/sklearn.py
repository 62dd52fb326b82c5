"""Oracle of fastloss.sklearn: sklearn.metrics's formulas in plain float64 NumPy (no sklearn import).

Each function has the signature of its ``fastloss.sklearn`` twin and follows scikit-learn 1.9.1's own recipe
step by step (SEMANTICS.md §6): labels become one-hot columns through their sorted unique values
(LabelBinarizer), a 1-D probability vector becomes the columns ``[1 - p, p]``, probabilities are clipped to
``[eps, 1 - eps]`` with ``eps = np.finfo(dtype).eps``, and every weighted value is ``np.average``. Arithmetic is
float64; only what scikit-learn does in the input dtype *before* the loss is computed is done in that dtype
(float32, or float32 for float16 input, as fastloss computes): ``1 - p`` and the clip bounds. The input
checks here are the few the values need; fastloss.sklearn owns the full error behaviour.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "log_loss",
    "hinge_loss",
    "brier_score_loss",
    "mean_squared_error",
    "mean_absolute_error",
    "accuracy_score",
]


def _compute_dtype(arr):
    return np.float32 if arr.dtype.kind == "f" and arr.dtype.itemsize <= 4 else np.float64


def _labels(y):
    y = np.asarray(y)
    return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y


def _weighted_mean(values, sample_weight, normalize=True):
    """np.average, and scikit-learn's refusal of all-zero sample weights."""
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if not np.any(sample_weight):
            raise ValueError("Sample weights must contain at least one non-zero number.")
    if not normalize:
        return float(np.sum(values) if sample_weight is None else np.dot(values, sample_weight))
    return float(np.average(values, weights=sample_weight))


def _probability_columns(y_proba):
    """(float64 (n, k) probabilities, compute dtype): a 1-D or one-column y_proba is [1 - p, p], with 1 - p in
    the compute dtype."""
    p = np.asarray(y_proba)
    dtype = _compute_dtype(p)
    p = p.astype(dtype)
    if p.ndim == 1:
        p = p[:, None]
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    if np.any(np.isnan(p)) or p.max() > 1 or p.min() < 0:
        raise ValueError("y_proba: probabilities must lie in [0, 1]")
    return p.astype(np.float64), dtype


def _one_hot(y_true, n_columns, labels):
    """Indicator columns of y_true: an indicator matrix as it is, else one column per sorted class."""
    y = _labels(y_true)
    if y.ndim == 2:
        return y.astype(np.float64)
    classes = np.unique(np.asarray(labels) if labels is not None else y)
    if classes.size != n_columns:
        raise ValueError(f"{classes.size} classes for {n_columns} columns of y_proba")
    if not np.all(np.isin(y, classes)):
        raise ValueError("y_true holds labels outside the classes")
    return (y[:, None] == classes[None, :]).astype(np.float64)


def log_loss(y_true, y_proba, *, normalize=True, sample_weight=None, labels=None, n_threads=None):
    """l_i = -Σ_c Y_ic·log clip(P_ic, eps, 1 - eps), eps = finfo(y_proba's float dtype).eps; np.average."""
    p, dtype = _probability_columns(y_proba)
    source = np.asarray(y_proba).dtype
    eps = np.finfo(source if source.kind == "f" else np.float64).eps
    lo, hi = float(eps), float(dtype(1) - dtype(eps))
    Y = _one_hot(y_true, p.shape[1], labels)
    logs = np.log(np.clip(p, lo, hi))
    losses = -np.sum(np.where(Y == 0, 0.0, Y * logs), axis=1)
    return _weighted_mean(losses, sample_weight, normalize)


def brier_score_loss(y_true, y_proba, *, sample_weight=None, pos_label=None, labels=None, scale_by_half="auto",
                     n_threads=None):
    """Σ_c (P_ic - Y_ic)², np.average, times ½ when scale_by_half ('auto': at most 2 columns)."""
    p, _ = _probability_columns(y_proba)
    binary = np.asarray(y_proba).ndim == 1 or np.asarray(y_proba).shape[1] == 1
    if binary:
        y = _labels(y_true)
        classes = np.unique(y)
        if pos_label is None:
            if classes.dtype.kind not in "OUS" and any(
                np.array_equal(classes, c) for c in ([0, 1], [-1, 1], [0], [-1], [1])
            ):
                pos_label = 1
            elif classes.dtype.kind not in "OUS":
                pos_label = classes[-1]
            else:
                raise ValueError("pos_label is needed for string labels")
        positive = (y == pos_label).astype(np.float64)
        Y = np.stack([1 - positive, positive], axis=1)
    else:
        Y = _one_hot(y_true, p.shape[1], labels)
    score = _weighted_mean(np.sum((Y - p) ** 2, axis=1), sample_weight)
    if scale_by_half == "auto":
        scale_by_half = p.shape[1] < 3
    return score * 0.5 if scale_by_half else score


def hinge_loss(y_true, pred_decision, *, labels=None, sample_weight=None, n_threads=None):
    """Binary: margin y·d with y = ±1 (the greater class of y_true +1; one class: all -1). Multiclass
    (> 2 classes): margin d_y - max_{j≠y} d_j. np.average of max(0, 1 - margin)."""
    y = _labels(y_true)
    d = np.asarray(pred_decision).astype(_compute_dtype(np.asarray(pred_decision))).astype(np.float64)
    classes = np.unique(np.asarray(labels) if labels is not None else y)
    if classes.size > 2:
        column = np.searchsorted(classes, y)
        rows = np.arange(y.shape[0])
        others = d.copy()
        others[rows, column] = -np.inf
        margin = d[rows, column] - others.max(axis=1)
    else:
        present = np.unique(y)
        sign = np.where(y == present[-1], 1.0, -1.0) if present.size == 2 else -np.ones(y.shape[0])
        margin = sign * d.reshape(-1)
    return float(np.average(np.maximum(1 - margin, 0.0), weights=sample_weight))


def _regression(errors, sample_weight, multioutput):
    if sample_weight is not None and not np.any(sample_weight):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    per_output = np.average(errors, axis=0, weights=sample_weight)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return per_output
    return float(np.average(per_output, weights=None if isinstance(multioutput, str) else multioutput))


def _regression_arrays(y_true, y_pred):
    t, p = np.asarray(y_true), np.asarray(y_pred)
    t = t.astype(_compute_dtype(t)).astype(np.float64)
    p = p.astype(_compute_dtype(p)).astype(np.float64)
    return (t[:, None] if t.ndim == 1 else t), (p[:, None] if p.ndim == 1 else p)


def mean_squared_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", n_threads=None):
    """E_j = Σ_i w_i·(y_ij - p_ij)² / Σ w; 'raw_values' E, 'uniform_average' mean(E), array a: Σ a·E / Σ a."""
    t, p = _regression_arrays(y_true, y_pred)
    return _regression((t - p) ** 2, sample_weight, multioutput)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", n_threads=None):
    """As mean_squared_error with |y - p|."""
    t, p = _regression_arrays(y_true, y_pred)
    return _regression(np.abs(t - p), sample_weight, multioutput)


def accuracy_score(y_true, y_pred, *, normalize=True, sample_weight=None, n_threads=None):
    """1 per sample whose label (or whole indicator row) matches exactly; np.average, or the weighted count."""
    t, p = _labels(y_true), _labels(y_pred)
    correct = np.all(t == p, axis=1) if t.ndim == 2 else (t == p)
    return _weighted_mean(correct.astype(np.float64), sample_weight, normalize)
