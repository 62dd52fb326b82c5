"""Checks of the loss-specific options (label_smoothing, delta, axis, smooth, threshold, the focal and generalized
crossentropy options, multi-label weights): one place, shared by the losses, the metrics and the oracle."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from ._arrays import _to_numpy


def _real(value, name: str, expected: str) -> float:
    if type(value) is float:
        return value  # the common case, without the numbers.Real check (~0.5 µs, much of a small call)
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {expected}, got {value!r}")
    return float(value)


def check_label_smoothing(value) -> float:
    smoothing = _real(value, "label_smoothing", "a number in [0, 1]")
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"label_smoothing: expected a number in [0, 1], got {value!r}")
    return smoothing


def check_delta(value) -> float:
    """Huber's threshold: a finite number >= 0."""
    return check_nonnegative(value, "delta")


def check_last_axis(axis, ndim: int) -> None:
    """cosine_similarity's ``axis``: only the last axis of y_pred (-1 or ndim - 1) is supported."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis: expected an integer, got {axis!r}")
    if int(axis) not in (-1, ndim - 1):
        raise ValueError(
            f"axis: only the last axis of y_pred is supported (-1 or {ndim - 1} for a {ndim}-D y_pred), got {axis!r}"
        )


def check_nonnegative(value, name) -> float:
    """A finite number >= 0 (smooth, alpha, beta)."""
    number = _real(value, name, "a finite number >= 0")
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return number


def check_threshold(value, name="threshold") -> float:
    number = _real(value, name, "a number")
    if math.isnan(number):
        raise ValueError(f"{name}: expected a number, got NaN")
    return number


def check_flag(value, name: str) -> bool:
    """A boolean option (apply_class_balancing): True or False, never a truthy string or number."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def check_gamma(value) -> float:
    """The focusing parameter of the focal losses: a finite number >= 0."""
    gamma = _real(value, "gamma", "a finite number >= 0")
    if not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma: expected a finite number >= 0, got {value!r}")
    return gamma


def check_q(value) -> float:
    """categorical_generalized_cross_entropy's q: 0 < q < 1, as Keras requires."""
    q = _real(value, "q", "a number in the open interval (0, 1)")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q: expected a number in the open interval (0, 1), got {value!r}")
    return q


def prediction_columns(y_pred, one_d_is_column: bool):
    """K, the length of y_pred's last axis (1 for a 1-D y_pred read as N rows of one value); None for a scalar
    (the engine reports that one)."""
    arr = _to_numpy(y_pred, "y_pred")
    if arr.ndim == 0:
        return None
    return 1 if (arr.ndim == 1 and one_d_is_column) else int(arr.shape[-1])


def check_focal_alpha(alpha, n_columns, *, unit_interval: bool):
    """(scalar alpha, per-column alpha or None). alpha is a number or an array of shape (K,), one per column.

    ``unit_interval``: binary focal's α weighs positives and 1 - α negatives, so it must lie in [0, 1].
    """
    expected = "a number in [0, 1]" if unit_interval else "a finite number"
    if np.ndim(alpha) == 0 and not isinstance(alpha, np.ndarray):
        a = _real(alpha, "alpha", f"{expected} or an array of shape (K,)")
        values, scalar = np.array([a]), a
    else:
        values = _to_numpy(alpha, "alpha").astype(np.float64)
        if values.ndim == 0:
            values, scalar = values.reshape(1), float(values)
        elif values.ndim != 1 or (n_columns is not None and values.shape[0] != n_columns):
            raise ValueError(
                f"alpha: expected a number or an array of shape ({n_columns},), one value per column of y_pred's "
                f"last axis, got shape {values.shape}"
            )
        else:
            scalar = None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"alpha: expected {expected}, got {values[~np.isfinite(values)][0]!r}")
    if unit_interval and not np.all((values >= 0) & (values <= 1)):
        raise ValueError(f"alpha: expected values in [0, 1], got {values[(values < 0) | (values > 1)][0]!r}")
    if scalar is not None:
        return float(scalar), None
    return 0.0, np.ascontiguousarray(values)


def is_multilabel_class_weight(class_weight) -> bool:
    """A 2-D class_weight (K, 2) holds per-column (negative, positive) weights; dicts and 1-D arrays are per row."""
    return class_weight is not None and not isinstance(class_weight, Mapping) and np.ndim(class_weight) == 2


def multilabel_columns(class_weight, pos_weight, n_columns):
    """The (K, 3) table (negative weight, positive weight, pos_weight) of the multi-label BCE kernels.

    class_weight: None or an array of shape (K, 2); pos_weight: None, a number, or an array of shape (K,) or (1,).
    Absent parts are 1.
    """
    K = n_columns
    table = np.ones((K, 3))
    if class_weight is not None:
        cw = _to_numpy(class_weight, "class_weight").astype(np.float64)
        if cw.shape != (K, 2):
            raise ValueError(
                f"class_weight: a 2-D class_weight holds (negative, positive) weights per column of y_pred and must "
                f"have shape ({K}, 2) for a y_pred whose last axis has {K} columns; got shape {cw.shape}"
            )
        if not np.all(np.isfinite(cw)):
            raise ValueError("class_weight: the (negative, positive) weights must be finite (found NaN or inf)")
        table[:, :2] = cw
    if pos_weight is not None:
        pw = _to_numpy(pos_weight, "pos_weight").astype(np.float64)
        if pw.ndim > 1 or (pw.ndim == 1 and pw.shape[0] not in (1, K)):
            raise ValueError(
                f"pos_weight: expected a number or an array of shape ({K},), one weight per column of y_pred's "
                f"last axis, got shape {pw.shape}"
            )
        if not np.all(np.isfinite(pw)):
            raise ValueError("pos_weight: the weights must be finite (found NaN or inf)")
        table[:, 2] = pw
    return table
