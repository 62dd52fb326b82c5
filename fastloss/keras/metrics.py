"""Keras 3's ``keras.metrics`` functions: per-sample values with Keras's names, signatures and shapes.

The accuracy functions return Keras's per-position 0/1 values (binary_accuracy: one per element, as Keras;
the categorical ones: one per row); the loss-named functions are ``fastloss.keras.losses``'s. ``dtype`` (the
dtype inputs are cast to before thresholds and argmax are taken; None is Keras's floatx, float32) and
``n_threads`` are fastloss's keyword-only extras.
"""

from __future__ import annotations

import numbers

import numpy as np

import fastloss
from fastloss._arrays import _to_numpy

from .losses import (  # noqa: F401  (Keras exports these names from keras.metrics too)
    _compute_dtype,
    _same_rank,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)

__all__ = [
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


def _core(name):
    # Looked up at call time: the metrics are written in another part of fastloss.
    try:
        return fastloss.METRICS[name]
    except KeyError:
        raise NotImplementedError(f"fastloss.{name} is not part of this build of fastloss") from None


def _prediction(y_pred, dtype):
    y_pred = _to_numpy(y_pred, "y_pred")
    if y_pred.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    return y_pred.astype(_compute_dtype(dtype), copy=False)


def _check_k(k, y_pred):
    """k, at most the number of classes: Keras's in_top_k counts every row as a hit when k >= K."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    return min(int(k), y_pred.shape[-1])


def _labels_per_row(y_true, y_pred, name="y_true"):
    """Keras's sparse label shapes: y_pred's shape without its last axis, or that plus a trailing 1."""
    labels = _to_numpy(y_true, name)
    rows = y_pred.shape[:-1]
    if labels.shape == rows + (1,):
        labels = labels[..., 0]
    if labels.shape != rows:
        raise ValueError(f"{name}: labels of shape {np.shape(y_true)} do not match y_pred shape {y_pred.shape}")
    return labels


def binary_accuracy(y_true, y_pred, threshold=0.5, *, dtype=None, n_threads=None):
    """Keras's ``binary_accuracy``: 1.0 where ``y_true == (y_pred > threshold)``, per element (Keras does not
    average the last axis here; its ``BinaryAccuracy`` metric averages everything)."""
    y_pred = _prediction(y_pred, dtype)
    y_true = _to_numpy(y_true, "y_true").astype(y_pred.dtype, copy=False)
    y_true, y_pred = _same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: shape {y_true.shape} does not match y_pred shape {y_pred.shape}")
    # Keras compares with the threshold converted to the compute dtype: p = 0.3 is not above 0.3 in float32
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, (bool, np.bool_)):
        threshold = float(y_pred.dtype.type(threshold))
    # every element is one row of one value, so the per-row accuracy is Keras's per-element match
    out = _core("binary_accuracy")(y_true[..., None], y_pred[..., None], threshold=threshold, reduction="none",
                                   n_threads=n_threads)
    return np.asarray(out, dtype=y_pred.dtype)


def categorical_accuracy(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``categorical_accuracy``: 1.0 where argmax(y_true) == argmax(y_pred) over the last axis."""
    y_pred = _prediction(y_pred, dtype)
    y_true = _to_numpy(y_true, "y_true").astype(y_pred.dtype, copy=False)
    out = _core("categorical_accuracy")(y_true, y_pred, reduction="none", n_threads=n_threads)
    return np.asarray(out, dtype=y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``sparse_categorical_accuracy``: 1.0 where the integer label is argmax(y_pred)."""
    y_pred = _prediction(y_pred, dtype)
    labels = _labels_per_row(y_true, y_pred)
    out = _core("sparse_categorical_accuracy")(labels, y_pred, reduction="none", n_threads=n_threads)
    return np.asarray(out, dtype=y_pred.dtype)


def top_k_categorical_accuracy(y_true, y_pred, k=5, *, dtype=None, n_threads=None):
    """Keras's ``top_k_categorical_accuracy``: 1.0 where argmax(y_true) is among the k largest predictions."""
    y_pred = _prediction(y_pred, dtype)
    y_true = _to_numpy(y_true, "y_true").astype(y_pred.dtype, copy=False)
    out = _core("top_k_categorical_accuracy")(y_true, y_pred, k=_check_k(k, y_pred), reduction="none",
                                              n_threads=n_threads)
    return np.asarray(out, dtype=y_pred.dtype)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False, *, dtype=None, n_threads=None):
    """Keras's ``sparse_top_k_categorical_accuracy``: 1.0 where the integer label is among the k largest
    predictions; with ``from_sorted_ids=True``, y_pred holds class ids sorted by score and the label must be
    among its first k columns."""
    y_pred = _to_numpy(y_pred, "y_pred")
    if y_pred.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    k = _check_k(k, y_pred)
    if from_sorted_ids:
        labels = _labels_per_row(y_true, y_pred)
        return np.any(y_pred[..., :k] == labels[..., None], axis=-1).astype(_compute_dtype(dtype))
    y_pred = y_pred.astype(_compute_dtype(dtype), copy=False)
    labels = _labels_per_row(y_true, y_pred)
    out = _core("sparse_top_k_categorical_accuracy")(labels, y_pred, k=k, reduction="none", n_threads=n_threads)
    return np.asarray(out, dtype=y_pred.dtype)
