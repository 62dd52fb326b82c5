"""Oracle of fastloss.torch: torch.nn.functional's formulas in plain float64 NumPy (no torch import).

Each function has the signature of its ``fastloss.torch`` namesake and computes it the obvious way, straight
from torch 2.13's definitions (SEMANTICS.md §5): the per-element (or per-position) loss as an array, then the
reduction with the divisor written out. Inputs are read in their dtype (float32 stays float32, float16 becomes
float32, integers float64), targets are rounded to that dtype, and everything is then computed in float64.
``reduction='none'`` returns an array in that dtype, the other reductions a Python float. A zero 'mean'
denominator gives NaN, as in torch. ``n_threads`` is accepted and ignored.
"""

from __future__ import annotations

import math

import numpy as np

from .._arrays import _to_numpy  # reading input is not the spec; the arithmetic below is

__all__ = [
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "kl_div",
    "poisson_nll_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "sigmoid_focal_loss",
]


def _dtype(x):
    return np.dtype(np.float32) if x.dtype.kind == "f" and x.dtype.itemsize <= 4 else np.dtype(np.float64)


def _read(input, target):
    """(input as float64, target as float64 after rounding to the input's dtype, the result dtype)."""
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    dtype = _dtype(x)
    return x.astype(dtype).astype(np.float64), t.astype(dtype).astype(np.float64), dtype


def _read_classes(input, target):
    """(input as float64, target as given, the result dtype, unbatched): an unbatched input (C,) and its target
    get a batch axis of one sample, so that the class axis is always axis 1."""
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    dtype = _dtype(x)
    x = x.astype(dtype).astype(np.float64)
    unbatched = x.ndim == 1
    if unbatched:
        x, t = x[None], t[None]
    return x, t, dtype, unbatched


def _ratio(numerator, denominator):
    return float(numerator) / float(denominator) if denominator != 0 else math.nan


def _reduce(loss, reduction, dtype, divisor=None):
    """'none': the array; 'sum': Σ; 'mean': Σ / divisor (default: the number of entries)."""
    if reduction == "none":
        return loss.astype(dtype)
    total = float(np.sum(loss))
    if reduction == "sum":
        return total
    assert reduction == "mean", reduction
    return _ratio(total, loss.size if divisor is None else divisor)


def _weight(weight, shape):
    return np.ones(shape) if weight is None else np.broadcast_to(_to_numpy(weight, "weight").astype(np.float64), shape)


def _softplus(t):
    """log(1 + e^t) without overflow."""
    return np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))


def _log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


# ---------------------------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# ---------------------------------------------------------------------------------------------------------


def _nll_from_log_probabilities(logp, target, weight, ignore_index, reduction, dtype, smoothing=0.0):
    """logp: (N, C, d...) float64 log-probabilities; target: (N, d...) integer class indices."""
    C = logp.shape[1]
    w = np.ones(C) if weight is None else _to_numpy(weight, "weight").astype(np.float64)
    labels = np.asarray(target).astype(np.int64)
    kept = labels != ignore_index
    if np.any((labels[kept] < 0) | (labels[kept] >= C)):
        raise ValueError(f"target: class index out of range for {C} classes")
    safe = np.where(kept, labels, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]  # log p_y, shape (N, d...)
    w_y = np.where(kept, w[safe], 0.0)
    nll = np.where(kept, -w_y * picked, 0.0)
    if smoothing > 0.0:
        w_shape = (1, C) + (1,) * (logp.ndim - 2)
        smooth = np.where(kept, -np.sum(w.reshape(w_shape) * logp, axis=1), 0.0)
        loss = (1.0 - smoothing) * nll + (smoothing / C) * smooth
    else:
        loss = nll
    return _reduce(loss, reduction, dtype, divisor=np.sum(w_y))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0, *, n_threads=None):
    """Class indices: ``l = (1 - s)·w_y·(-log p_y) + (s/C)·Σ_c w_c·(-log p_c)``, 0 where ``y == ignore_index``;
    'mean' = Σ l / Σ_{not ignored} w_y. Probabilities (target of input's shape): ``l = -Σ_c w_c·t̃_c·log p_c``,
    ``t̃ = t(1 - s) + s/C``; 'mean' = Σ l / positions. ``p = softmax`` over axis 1."""
    x, t, dtype, unbatched = _read_classes(input, target)
    logp = _log_softmax(x, axis=1)
    C = x.shape[1]
    if t.shape == x.shape:  # class probabilities
        t = t.astype(dtype).astype(np.float64)
        w = np.ones(C) if weight is None else _to_numpy(weight, "weight").astype(np.float64)
        t_smooth = t * (1.0 - label_smoothing) + label_smoothing / C
        w_shape = (1, C) + (1,) * (x.ndim - 2)
        loss = -np.sum(w.reshape(w_shape) * t_smooth * logp, axis=1)
        result = _reduce(loss, reduction, dtype)
    else:
        result = _nll_from_log_probabilities(logp, t, weight, ignore_index, reduction, dtype, label_smoothing)
    return result.reshape(()) if unbatched and reduction == "none" else result


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
             *, n_threads=None):
    """``l = -w_y·input[n, y]``, 0 where ignored; 'mean' = Σ l / Σ_{not ignored} w_y."""
    x, t, dtype, unbatched = _read_classes(input, target)
    result = _nll_from_log_probabilities(x, t, weight, ignore_index, reduction, dtype)
    return result.reshape(()) if unbatched and reduction == "none" else result


# ---------------------------------------------------------------------------------------------------------
# Binary crossentropy
# ---------------------------------------------------------------------------------------------------------


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean", *,
                         n_threads=None):
    """``l = -w·[y·max(log p, -100) + (1 - y)·max(log(1 - p), -100)]``; p, y must lie in [0, 1];
    'mean' = Σ l / numel."""
    p, y, dtype = _read(input, target)
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("input: all elements must lie in [0, 1]")
    if not np.all((y >= 0) & (y <= 1)):
        raise ValueError("target: all elements must lie in [0, 1]")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_q = np.maximum(np.log1p(-p), -100.0)
    loss = _weight(weight, p.shape) * -(y * log_p + (1.0 - y) * log_q)
    return _reduce(loss, reduction, dtype)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None, *, n_threads=None):
    """``l = -w·[pw·y·log σ(z) + (1 - y)·log(1 - σ(z))]`` with log σ(z) = -softplus(-z), log(1 - σ(z)) =
    -softplus(z); pw broadcasts to the input (usually one per class of the last axis); 'mean' = Σ l / numel."""
    z, y, dtype = _read(input, target)
    pw = 1.0  # pos_weight is read in the input's dtype, like the target
    if pos_weight is not None:
        pw = np.broadcast_to(_to_numpy(pos_weight, "pos_weight").astype(dtype).astype(np.float64), z.shape)
    loss = _weight(weight, z.shape) * (pw * y * _softplus(-z) + (1.0 - y) * _softplus(z))
    return _reduce(loss, reduction, dtype)


# ---------------------------------------------------------------------------------------------------------
# Regression losses
# ---------------------------------------------------------------------------------------------------------


def _broadcast(x, t):
    shape = np.broadcast_shapes(x.shape, t.shape)
    return np.broadcast_to(x, shape), np.broadcast_to(t, shape)


def _weighted_mean_loss(e, weight, reduction, dtype):
    """mse_loss / l1_loss: without weight 'mean' = Σ e / numel; with weight 'mean' = Σ w·e / Σ w."""
    if weight is None:
        return _reduce(e, reduction, dtype)
    w = _weight(weight, e.shape)
    return _reduce(w * e, reduction, dtype, divisor=np.sum(w))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, n_threads=None):
    """``e = (x - t)²``; 'mean' = Σ e / numel, or Σ w·e / Σ w with ``weight``."""
    x, t, dtype = _read(input, target)
    x, t = _broadcast(x, t)
    return _weighted_mean_loss((x - t) ** 2, weight, reduction, dtype)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, n_threads=None):
    """``e = |x - t|``; 'mean' = Σ e / numel, or Σ w·e / Σ w with ``weight``."""
    x, t, dtype = _read(input, target)
    x, t = _broadcast(x, t)
    return _weighted_mean_loss(np.abs(x - t), weight, reduction, dtype)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0, *, n_threads=None):
    """``a = |x - t|``: ``½a²/β`` if a < β else ``a - ½β`` (β = 0: L1); 'mean' = Σ / numel."""
    x, t, dtype = _read(input, target)
    x, t = _broadcast(x, t)
    a = np.abs(x - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(a < beta, 0.5 * a * a / beta if beta > 0 else 0.0, a - 0.5 * beta)
    return _reduce(loss, reduction, dtype)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None, *, n_threads=None):
    """``a = |x - t|``: ``½a²`` if a < δ else ``δ(a - ½δ)``, times ``weight``; 'mean' = Σ / numel (the weight is
    not in the divisor)."""
    x, t, dtype = _read(input, target)
    x, t = _broadcast(x, t)
    a = np.abs(x - t)
    loss = _weight(weight, a.shape) * np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))
    return _reduce(loss, reduction, dtype)


# ---------------------------------------------------------------------------------------------------------
# Other losses
# ---------------------------------------------------------------------------------------------------------


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False, *, n_threads=None):
    """``xlogy(t, t) - t·x`` (xlogy(0, ·) = 0; t < 0 gives NaN) or ``e^t(t - x)`` with log_target;
    'mean' = Σ / numel, 'batchmean' = Σ / x.shape[0] (Σ for a 0-d input)."""
    x, t, dtype = _read(input, target)
    with np.errstate(invalid="ignore", divide="ignore"):
        if log_target:
            loss = np.exp(t) * (t - x)
        else:
            xlogy = np.where(t == 0, 0.0, t * np.log(np.where(t == 0, 1.0, t)))
            loss = xlogy - t * x
    if reduction == "batchmean":
        total = float(np.sum(loss))
        return total if x.ndim == 0 else _ratio(total, x.shape[0])
    return _reduce(loss, reduction, dtype)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean", *, n_threads=None):
    """``e^x - t·x`` (log_input) or ``x - t·log(x + eps)``; full: ``+ t·log t - t + ½log(2πt)`` where t > 1."""
    x, t, dtype = _read(input, target)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
        if full:
            stirling = t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t)
            loss = loss + np.where(t > 1, stirling, 0.0)
    return _reduce(loss, reduction, dtype)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean", *,
                         n_threads=None):
    """``x`` where y = 1, ``max(0, margin - x)`` where y = -1, both terms for any other y."""
    x, y, dtype = _read(input, target)
    hinge = np.maximum(margin - x, 0.0)  # np.maximum propagates NaN, like torch's clamp_min
    loss = np.where(y != 1, hinge, 0.0) + np.where(y != -1, x, 0.0)
    return _reduce(loss, reduction, dtype)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean", *, n_threads=None):
    """``log(1 + e^(-y·x))``, as an overflow-free softplus."""
    x, y, dtype = _read(input, target)
    return _reduce(_softplus(-y * x), reduction, dtype)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean", *,
                                n_threads=None):
    """Per sample: ``(1/C)·Σ_c w·(-(y·log σ(x) + (1 - y)·log σ(-x)))`` over the last axis; 'mean' over samples."""
    x, y, dtype = _read(input, target)
    loss = _weight(weight, x.shape) * (y * _softplus(-x) + (1.0 - y) * _softplus(x))
    return _reduce(np.mean(loss, axis=-1), reduction, dtype)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none", *, n_threads=None):
    """torchvision: ``ce·(1 - p_t)^γ``, p = σ(x), p_t = p·y + (1 - p)(1 - y), ce = logits BCE; if α >= 0, times
    ``α·y + (1 - α)(1 - y)``."""
    x, y, dtype = _read(inputs, targets)
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-x))
    ce = y * _softplus(-x) + (1.0 - y) * _softplus(x)
    p_t = p * y + (1.0 - p) * (1.0 - y)
    loss = ce * (1.0 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * y + (1.0 - alpha) * (1.0 - y))
    return _reduce(loss, reduction, dtype)
