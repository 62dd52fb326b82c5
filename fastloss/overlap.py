"""Overlap losses (Dice, Tversky): one value per sample (or per batch) from sums over the overlap axes.

Keras 3.15.1's formulas, with ``I = Σ y·p`` over the overlap axes and ``ε = 1e-7`` (in the input dtype):

* ``dice``:    ``1 - (2I + s) / (Σy + Σp + d)``
* ``tversky``: ``1 - (I + s) / (I + α·Σ y(1-p) + β·Σ (1-y)p + d)``. **In Keras 3.15.1, α multiplies the missed
  positives (false negatives) and β the false positives**, contrary to Keras's docstring; fastloss follows the
  installed Keras (the numbers), not the docstring. ``alpha=beta=0.5`` is *not* exactly ``dice`` (ε is added
  once to a denominator half as large).

``s = smooth`` (default 0) and ``d = s if s > 0 else ε``: with the default ``smooth=0`` the values are Keras's, and
an empty target with an empty prediction gives loss 1 (score 0/ε = 0); any ``smooth > 0`` replaces ε, so that
empty/empty gives exactly loss 0 (score s/s = 1).

Values: a negative prediction raises ValueError, and so does a target outside [0, 1] (Keras computes both
silently; they have no overlap meaning). Predictions above 1 are accepted, as in Keras. NaN propagates.

``axis`` (Keras's meaning):

* ``axis=None`` (default): ONE value for the whole batch, from sums over every position. ``mask`` (a leading prefix
  of y_pred's shape without its last axis, or of (N,) for a 1-D y_pred) removes positions from the sums. The batch
  value L is then reduced as Keras reduces a scalar loss with sample weights: every entry of ``sample_weight``
  carries L, so ``"sum"`` gives ``L·Σw``, ``"sum_over_batch_size"`` ``L·mean(w)``, ``"mean_with_sample_weight"``
  ``L`` and ``"none"`` ``L·w`` (an array of sample_weight's shape); without ``sample_weight`` there is one entry of
  weight 1 (every scalar reduction gives L, ``"none"`` a 0-d array). ``sample_weight`` must be a leading prefix of
  y_pred's shape (trailing axes of size 1 beyond it are dropped). With a mask, an entry all of whose positions are
  masked is excluded too. (Keras's own mask cannot change its already-summed scalar; fastloss's does.)
* ``axis`` = an integer or a tuple of axes (e.g. ``(1, 2, 3)`` for (N, H, W, C)): those axes are moved last and
  flattened, so every combination of the *other* axes is one row; the row shape is y_pred's shape without the
  overlap axes, in order (``(N,)`` above; ``axis=(1, 2)`` gives per-sample, per-channel values of shape (N, C)).
  ``sample_weight`` and ``mask`` are leading prefixes of that row shape, and every reduction of fastloss applies
  (Keras's default ``"sum_over_batch_size"`` is ``Σ w·l / rows``).

There is no ``class_weight``: a class of an overlap row is not defined.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._arrays import _float_dtype, _to_numpy
from ._engine import evaluate
from ._options import check_nonnegative
from ._reductions import DEFAULT_ZERO_DIVISION, canonical_reduction

__all__ = ["dice", "tversky"]  # LOSSES joins fastloss.LOSSES through fastloss.losses


# ---------------------------------------------------------------------------------------------------------
# The overlap axes (shared with fastloss.metrics and the oracle; the scalar option checks are in _options)
# ---------------------------------------------------------------------------------------------------------

def check_overlap_axis(axis, ndim):
    """None, or the sorted tuple of distinct non-negative axes of a ``ndim``-D array."""
    if axis is None:
        return None
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if len(axes) == 0:
        raise ValueError("axis: expected None, an integer or a non-empty tuple of integers, got ()")
    result = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
            raise TypeError(f"axis: expected None, an integer or a tuple of integers, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis: {a} is out of range for y_pred with {ndim} dimensions")
        result.append(a % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"axis: repeated axis in {axis!r}")
    return tuple(sorted(result))


def _same_shape_arrays(y_true, y_pred):
    yp = _to_numpy(y_pred, "y_pred")
    yt = _to_numpy(y_true, "y_true")
    if yp.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true: shape {yt.shape} does not match y_pred shape {yp.shape}")
    return yt, yp


def overlap_rows(y_true, y_pred, axes):
    """(y_true, y_pred) with the overlap axes moved last and flattened into one: shape (row shape..., K)."""
    rest = [a for a in range(y_pred.ndim) if a not in axes]
    row_shape = tuple(y_pred.shape[a] for a in rest)
    K = math.prod(y_pred.shape[a] for a in axes)

    def rows(x):
        return np.moveaxis(x, axes, range(-len(axes), 0)).reshape(row_shape + (K,))

    return rows(y_true), rows(y_pred)


def _leading_prefix(a, shape, name):
    """``a`` at a leading prefix of ``shape``; trailing axes of size 1 beyond the prefix are dropped."""
    given = a.shape
    while a.ndim and a.shape != tuple(shape[: a.ndim]) and a.shape[-1] == 1:
        a = a.reshape(a.shape[:-1])
    if a.ndim > len(shape) or a.shape != tuple(shape[: a.ndim]):
        raise ValueError(f"{name}: shape {given} is not a leading prefix of y_pred's shape {tuple(shape)}")
    return a


def _entry_mask(mask, weight_shape, positions_shape):
    """The mask of the weight entries: an entry is included when any of its positions is included."""
    if mask is None:
        return None
    m = _leading_prefix(_to_numpy(mask, "mask") != 0, positions_shape, "mask")
    if m.ndim >= len(weight_shape):
        return np.any(m, axis=tuple(range(len(weight_shape), m.ndim)))
    return np.broadcast_to(m.reshape(m.shape + (1,) * (len(weight_shape) - m.ndim)), weight_shape)


def _target_error(y_true, mask, thresholded):
    """The ValueError for an overlap target outside its domain, naming the first bad included row and its values.

    Slow path, only after the kernel reported E_INVALID_TARGET; ``y_true`` is the (rows..., K) array the kernel read.
    """
    y = np.asarray(y_true, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    bad_values = ~((y == 0) | (y == 1)) if thresholded else (y < 0) | (y > 1)
    bad_rows = np.any(bad_values, axis=-1)
    if mask is not None:
        m = _leading_prefix(_to_numpy(mask, "mask") != 0, bad_rows.shape, "mask")
        bad_rows &= np.broadcast_to(m.reshape(m.shape + (1,) * (bad_rows.ndim - m.ndim)), bad_rows.shape)
    row = tuple(int(i) for i in np.argwhere(bad_rows)[0])
    values = y[row][bad_values[row]][:3].tolist()
    rule = "targets 0 or 1 (thresholded predictions)" if thresholded else "targets in [0, 1]"
    return ValueError(f"y_true: overlap values need {rule}, but row {row} holds {values}")


def overlap_evaluate(kernel, y_true, y_pred, *, thresholded=False, mask=None, **kwargs):
    """``evaluate`` for the overlap kernels, with a message naming the bad target values when there are some."""
    try:
        return evaluate(kernel, y_true, y_pred, sparse=False, probabilities=False, mask=mask, **kwargs)
    except ValueError as exc:
        if not str(exc).startswith("y_true: row"):
            raise
        raise _target_error(y_true, mask, thresholded) from None


def batch_sum(y_true, y_pred, *, y=0.0, p=0.0, yp=0.0, threshold=None, sample_weight=None, mask=None,
              n_threads=None):
    """Σ over the included positions of the whole batch of ``(y·y_coef + p̃·p_coef + y·p̃·yp_coef)·w``, one engine pass.

    A 1-D y_pred is N positions; otherwise rows are y_pred's shape without its last axis (mask and sample_weight
    are prefixes of them). ``threshold``: None for soft sums, else p̃ = [p >= threshold].
    """
    options = {"alpha": y, "beta": p, "gamma": yp}
    if threshold is not None:
        options.update(flags=1, threshold=threshold)
    return overlap_evaluate("overlap_sum", y_true, y_pred, thresholded=threshold is not None, elementwise=True,
                            options=options, sample_weight=sample_weight, mask=mask, reduction="sum",
                            n_threads=n_threads)


def spread_batch_value(value, dtype, weight_shape, *, sample_weight=None, entry_mask=None,
                       reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION):
    """Reduce one batch value carried by every weight entry (Keras's scalar loss times sample_weight)."""
    holder = np.zeros(tuple(weight_shape) + (1,), dtype=dtype)  # one row per weight entry; never read
    return evaluate("overlap_constant", holder, holder, sparse=False, elementwise=False, probabilities=False,
                    delta=value, sample_weight=sample_weight, mask=entry_mask, reduction=reduction,
                    zero_division=zero_division)


def _overlap_loss(kernel, y_true, y_pred, options, axis, sample_weight, mask, reduction, zero_division,
                  n_threads, batch_value):
    canonical_reduction(reduction)
    yt, yp = _same_shape_arrays(y_true, y_pred)
    axes = check_overlap_axis(axis, yp.ndim)
    if axes is not None:
        yt, yp = overlap_rows(yt, yp, axes)
        return overlap_evaluate(kernel, yt, yp, elementwise=False, options=options, sample_weight=sample_weight,
                                mask=mask, reduction=reduction, zero_division=zero_division, n_threads=n_threads)
    positions = yp.shape[:-1] if yp.ndim > 1 else yp.shape
    value = batch_value(yt, yp, mask, n_threads)
    if sample_weight is None:
        weights, weight_shape = None, ()
    else:
        weights = _leading_prefix(_to_numpy(sample_weight, "sample_weight"), yp.shape, "sample_weight")
        weight_shape = weights.shape
    entries = _entry_mask(mask, weight_shape, positions)
    return spread_batch_value(value, _float_dtype(yp), weight_shape, sample_weight=weights, entry_mask=entries,
                              reduction=reduction, zero_division=zero_division)


def dice(y_true, y_pred, *, axis=None, smooth=0.0, sample_weight=None, mask=None,
         reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's Dice loss, ``1 - (2·Σy·p + smooth) / (Σy + Σp + (smooth or 1e-7))`` over ``axis``.

    See the module docstring for ``axis`` (None: one batch value), ``smooth`` and the weighting rules.
    """
    smooth = check_nonnegative(smooth, "smooth")
    options = {"smooth": smooth}

    def batch_value(yt, yp, mask, n_threads):
        intersection = batch_sum(yt, yp, yp=1.0, mask=mask, n_threads=n_threads)
        total = batch_sum(yt, yp, y=1.0, p=1.0, mask=mask, n_threads=n_threads)
        guard = smooth if smooth > 0 else float(_float_dtype(yp)(1e-7))
        return 1.0 - (2.0 * intersection + smooth) / (total + guard)

    return _overlap_loss("dice", y_true, y_pred, options, axis, sample_weight, mask, reduction, zero_division,
                         n_threads, batch_value)


def tversky(y_true, y_pred, *, alpha=0.5, beta=0.5, axis=None, smooth=0.0, sample_weight=None, mask=None,
            reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras 3.15.1's Tversky loss, ``1 - (I + s) / (I + α·Σy(1-p) + β·Σ(1-y)p + (s or 1e-7))``.

    ``alpha`` weighs the missed positives (false negatives) and ``beta`` the false positives, as the installed
    Keras 3.15.1 computes (its docstring says the opposite; a later Keras swaps them). Both are finite and >= 0.
    See the module docstring for ``axis``, ``smooth`` and the weighting rules.
    """
    alpha = check_nonnegative(alpha, "alpha")
    beta = check_nonnegative(beta, "beta")
    smooth = check_nonnegative(smooth, "smooth")
    options = {"alpha": alpha, "beta": beta, "smooth": smooth}

    def batch_value(yt, yp, mask, n_threads):
        intersection = batch_sum(yt, yp, yp=1.0, mask=mask, n_threads=n_threads)
        # α·y(1 - p) + β·(1 - y)p = α·y + β·p - (α + β)·y·p, element by element
        penalties = batch_sum(yt, yp, y=alpha, p=beta, yp=-(alpha + beta), mask=mask, n_threads=n_threads)
        guard = smooth if smooth > 0 else float(_float_dtype(yp)(1e-7))
        return 1.0 - (intersection + smooth) / (intersection + penalties + guard)

    return _overlap_loss("tversky", y_true, y_pred, options, axis, sample_weight, mask, reduction, zero_division,
                         n_threads, batch_value)


LOSSES = {"dice": dice, "tversky": tversky}
