"""Checks of the loss-specific options (label_smoothing, delta, axis): one place, shared by the losses and the oracle."""

from __future__ import annotations

import math
import numbers

import numpy as np


def _real(value, name: str, expected: str) -> float:
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
    delta = _real(value, "delta", "a finite number >= 0")
    if not math.isfinite(delta) or delta < 0:
        raise ValueError(f"delta: expected a finite number >= 0, got {value!r}")
    return delta


def check_last_axis(axis, ndim: int) -> None:
    """cosine_similarity's ``axis``: only the last axis of y_pred (-1 or ndim - 1) is supported."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis: expected an integer, got {axis!r}")
    if int(axis) not in (-1, ndim - 1):
        raise ValueError(
            f"axis: only the last axis of y_pred is supported (-1 or {ndim - 1} for a {ndim}-D y_pred), got {axis!r}"
        )
