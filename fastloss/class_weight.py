"""Class weights: the one place that turns a dict or an array into the per-class table the kernels read,
and that computes scikit-learn's "balanced" weights.

How a row's class is read (sparse label, argmax of a K > 1 target row, rounded K == 1 target) is applied by the
kernels; which rows a weight applies to is the caller's mask. The core rule is strict: a class that occurs in
the data but is missing from a dict is an error (Keras 3's data adapter silently uses 1.0 instead).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._arrays import _to_numpy

__all__ = ["compute_class_weight", "class_weight_table"]


def class_weight_table(class_weight):
    """A float64 table indexed by class; classes missing from a dict hold NaN, which the kernel reports."""
    if class_weight is None:
        return None
    if isinstance(class_weight, Mapping):
        keys = [class_key(key) for key in class_weight]
        table = np.full(max(keys, default=0) + 1, np.nan)
        for key, value in zip(keys, class_weight.values()):
            table[key] = weight_value(value)
        return table
    arr = _to_numpy(class_weight, "class_weight")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"class_weight: expected a dict or a non-empty 1-D array indexed by class, got shape {arr.shape}")
    table = np.ascontiguousarray(arr, dtype=np.float64)
    if np.isnan(table).any():
        raise ValueError("class_weight: contains NaN")
    return table


def class_key(key) -> int:
    """A class_weight dict key as a class: a non-negative integer (an integral float such as 1.0 is accepted)."""
    integral = isinstance(key, numbers.Integral) and not isinstance(key, bool)
    integral = integral or (isinstance(key, numbers.Real) and float(key).is_integer())
    if not integral or key < 0:
        raise ValueError(f"class_weight: keys must be non-negative integer classes, got {key!r}")
    return int(key)


def weight_value(value) -> float:
    """A class weight as a float; NaN is refused (the kernels' table uses it to mark missing classes)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"class_weight: weights must be numbers, got {value!r}") from None
    if math.isnan(v):
        raise ValueError("class_weight: contains NaN")
    return v



def _to_int_labels(y, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected integer class labels, got dtype {arr.dtype}")
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(flat)) or np.any(flat != np.floor(flat))):
        raise ValueError(f"{name}: labels must be integers")
    flat = flat.astype(np.int64)
    if flat.size and flat.min() < 0:
        raise ValueError(f"{name}: labels must be non-negative, got {flat.min()}")
    return flat


def compute_class_weight(y, *, classes=None, multilabel=False) -> np.ndarray:
    """scikit-learn's ``"balanced"`` weights ``n_samples / (n_classes · count_c)`` for labels of any rank.

    ``y`` holds integer labels of any shape (per sample, per timestep, per pixel): every entry counts as one
    sample. ``n_classes`` is the number of distinct labels in ``y``, as in scikit-learn. ``classes`` (default:
    the labels of ``y``) chooses which classes get a balanced weight; each must occur in ``y``.
    Returns a float64 array indexed by class, of length ``max(classes) + 1``; entries of classes not listed hold
    1.0, so the array can be passed straight to ``class_weight=``.

    ``multilabel=True``: ``y`` is a 0/1 indicator array of shape (..., K) (a 1-D ``y`` is N samples of one
    label, K = 1), every leading entry one sample. Returns the (K, 2) float64 table of balanced (negative,
    positive) weights of each label, ``n / (2·count(y_k == 0))`` and ``n / (2·count(y_k == 1))`` (scikit-learn's
    formula applied to each column with classes {0, 1}), for ``binary_crossentropy(class_weight=...)``. A label
    without positives or without negatives has no balanced weight: ValueError naming it. ``classes`` is not used with ``multilabel=True``.
    """
    if multilabel:
        if classes is not None:
            raise ValueError("classes: not used with multilabel=True (the classes of every label are 0 and 1)")
        return _multilabel_class_weight(y)
    labels = _to_int_labels(y, "y")
    if labels.size == 0:
        raise ValueError("y: no labels to count")
    counts = np.bincount(labels)
    present = np.flatnonzero(counts)
    chosen = present if classes is None else np.unique(_to_int_labels(classes, "classes"))
    absent = np.setdiff1d(chosen, present)
    if absent.size:
        raise ValueError(f"classes: {absent.tolist()} do not occur in y, so they have no balanced weight")
    table = np.ones(int(chosen.max()) + 1)
    table[chosen] = labels.size / (present.size * counts[chosen])
    return table


def _multilabel_class_weight(y) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"y: expected a 0/1 indicator array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError("y: expected an indicator array of shape (n_samples, n_labels), got a scalar")
    indicators = arr.reshape(-1, 1) if arr.ndim == 1 else arr.reshape(-1, arr.shape[-1])
    if indicators.shape[0] == 0 or indicators.shape[1] == 0:
        raise ValueError(f"y: no labels to count (shape {arr.shape})")
    if not np.all((indicators == 0) | (indicators == 1)):
        bad = indicators[(indicators != 0) & (indicators != 1)][0]
        raise ValueError(f"y: multilabel targets must be 0 or 1, got {bad.item()!r}")
    n = indicators.shape[0]
    positives = np.count_nonzero(indicators, axis=0)
    negatives = n - positives
    for name, counts in (("positive", positives), ("negative", negatives)):
        missing = np.flatnonzero(counts == 0)
        if missing.size:
            raise ValueError(
                f"y: labels {missing.tolist()} have no {name} sample, so they have no balanced weight "
                "(scikit-learn raises for a class missing from y too)"
            )
    return np.stack([n / (2.0 * negatives), n / (2.0 * positives)], axis=1)
