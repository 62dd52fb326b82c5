"""fastloss.torch: ``torch.nn.functional``'s losses with torch's names, argument order, defaults and numbers.

Drop-in for the loss functions of ``torch.nn.functional`` (torch 2.13 semantics, SEMANTICS.md §5) plus
torchvision's ``sigmoid_focal_loss``, computed by fastloss's fused kernels. Arguments are NumPy arrays (or
anything ``np.asarray`` reads) or CPU torch tensors, which are read in place without a copy where the layout
allows; torch does not need to be installed. ``(input, target)`` come first, as in torch, and every argument
keeps torch's position (the legacy ``size_average``/``reduce`` slots included).

Returns: a Python float for ``reduction='mean'``/``'sum'`` (and ``'batchmean'``), and for ``'none'`` a NumPy
array with the shape torch returns, in the input's float dtype (float16 becomes float32; integers float64).

How torch's reductions map onto fastloss's totals (``fastloss/_reductions.py`` owns the formulas)
-------------------------------------------------------------------------------------------------

==========================================  ====================================================================
torch                                       fastloss
==========================================  ====================================================================
``cross_entropy``/``nll_loss``, class       one row per position (class axis 1 moved last), ``weight`` as the
indices, ``'mean'``                         class weight, ``ignore_index`` as ``ignore_class`` (those rows are
                                            excluded): ``"mean_with_sample_weight"`` = Σ w_y·l / Σ w_y
``cross_entropy`` with ``label_smoothing``  kernel ``torch_ce_smoothed`` weights every class by its own weight
and class indices, ``'mean'``               (S); a label-only pass gives W = Σ w_y; ``"mean_with_sample_weight"``
                                            of the combined totals
``cross_entropy``, probability targets      one row per position: ``"sum_over_batch_size"`` (positions)
elementwise losses (``binary_cross_*``,     one row per element (K = 1), element-shaped ``weight`` as the row's
``smooth_l1``, ``huber``, ``kl_div``, ...)  sample weight: ``"sum_over_all_rows"`` = Σ w·l / numel
``binary_cross_entropy_with_logits`` with   one row of two per element, target (y, pw) against input (z, z), so
``pos_weight``                              that pw may vary along any axis: ``"sum_over_all_rows"``
``mse_loss``/``l1_loss`` with ``weight``    ``"mean_with_sample_weight"`` = Σ w·e / Σ w
``kl_div(reduction='batchmean')``           one row per sample (N rows of numel/N elements, summed):
                                            ``"sum_over_all_rows"`` = Σ / N
``multilabel_soft_margin_loss``             one row per sample (the classes of the last axis averaged in the
                                            row): ``"sum_over_all_rows"``
==========================================  ====================================================================

Every ``'mean'`` with a zero denominator (an empty batch, every target ignored, every selected class weight
zero) is NaN, as in torch. ``ignore_index`` may be a valid class (0..C-1): its positions are ignored, as torch
does. An ``ignore_index`` that is neither a valid class nor present is simply never matched.

Where fastloss.torch deliberately differs from torch
----------------------------------------------------

==============================================  =================================================================
torch                                           fastloss.torch
==============================================  =================================================================
returns tensors, differentiable (autograd)      returns a Python float or a NumPy array; no autograd, no gradient
result dtype = input dtype (float32 sums in     reductions accumulate in double and return a Python float (more
float32)                                        accurate than a float32 torch sum: agreement ~1e-6 relative);
                                                ``'none'`` arrays keep the input's float dtype
integer inputs raise ("not implemented for       integer and bool inputs are computed in float64
'Long'")
class-index targets: int64 or uint8 only        any integer dtype (int32 too); bool and float raise TypeError
``size_average=``/``reduce=`` (deprecated)      TypeError pointing to ``reduction``
errors are RuntimeError/IndexError              ValueError/TypeError naming the argument (``input``, ``target``,
                                                ``weight``, ...) and the position of the bad value
``label_smoothing < 0`` is silently ignored     ValueError: ``label_smoothing`` must lie in [0, 1]
``weight`` with NaN in cross_entropy/nll_loss   ValueError (``weight: contains NaN``)
``soft_margin_loss``: log1p(exp(-y·x))          a softplus that does not overflow: finite where torch gives inf
overflows to inf (float32: -y·x > 88)           (-y·x > 88 in float32, > 709 in float64)
float32 element math in float32                 element math in double, then rounded for ``'none'`` (results agree
                                                to ~1e-6 relative; saturated cases can differ in absolute terms by
                                                ~1e-7, e.g. sigmoid_focal_loss where torch's float32 p_t is 1)
``multilabel_soft_margin_loss`` with an         the per-sample sum of ``'none'`` is taken over elements already
element-wise ``weight``, ``'none'``             rounded to the input dtype (float32: ~1e-7 relative)
``kl_div(reduction='mean')`` warns              no warning: 'mean' is the documented Σ / numel
==============================================  =================================================================

NaN in an ignored position (``ignore_index``) does not reach the result, in torch and here alike.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ._arrays import _to_numpy
from ._engine import evaluate
from ._options import check_label_smoothing
from ._reductions import Totals

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

_REDUCTIONS = ("none", "mean", "sum")
# torch's 'mean' is a different fastloss convention per loss family; the divisors themselves live in
# fastloss/_reductions.py.
_PER_ELEMENT = "sum_over_all_rows"  # Σ w·l / numel: the weight is not in the divisor
_WEIGHTED_MEAN = "mean_with_sample_weight"  # Σ w·l / Σ w
_PER_POSITION = "sum_over_batch_size"  # Σ l / positions

_TORCH_FLAGS = {"log_target": 1, "log_input": 1, "full": 2}  # bits of the kernels' `flags` (rows_torch.pxi)


# ----------------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------------

def _check_legacy(size_average, reduce):
    if size_average is not None or reduce is not None:
        raise TypeError(
            "size_average and reduce are deprecated in torch and not supported by fastloss.torch; "
            "pass reduction='mean', 'sum' or 'none' instead"
        )


def _check_reduction(reduction, allowed=_REDUCTIONS) -> str:
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"reduction: {reduction!r} is not a valid value; expected one of {', '.join(map(repr, allowed))}"
        )
    return reduction


def _engine_reduction(reduction: str, mean: str) -> str:
    return mean if reduction == "mean" else reduction


def _real(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    return float(value)


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


_ENGINE_NAMES = (
    ("pass from_logits=True if y_pred holds logits", "use binary_cross_entropy_with_logits for logits"),
    ("y_pred", "input"),
    ("y_true", "target"),
    ("class_weight", "weight"),
    ("sample_weight", "weight"),
)


class _TorchNames:
    """Re-raise the engine's ValueError/TypeError with torch's argument names (input, target, weight)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind in (ValueError, TypeError) and exc is not None:
            message = str(exc)
            for engine_name, torch_name in _ENGINE_NAMES:
                message = message.replace(engine_name, torch_name)
            if message != str(exc):
                raise kind(message) from None
        return False


def _run(kernel, target, input, *, reduction, mean, **kwargs):
    """One engine call with torch's conventions: NaN for a zero 'mean' denominator."""
    with _TorchNames():
        return evaluate(kernel, target, input, reduction=_engine_reduction(reduction, mean), zero_division="nan",
                        **kwargs)


# ----------------------------------------------------------------------------------------------------------
# Elementwise losses: one row per element
# ----------------------------------------------------------------------------------------------------------

_WARN, _SILENT = "warn", "silent"  # how a loss broadcasts target against input, as torch does for it


def _same_shape(x: np.ndarray, t: np.ndarray, *, broadcast):
    """torch's shape rule per loss: mse/l1/smooth_l1/huber broadcast with torch's warning (_WARN), kl_div,
    poisson_nll, hinge_embedding, soft_margin and multilabel_soft_margin broadcast silently (_SILENT), the binary
    crossentropies need equal shapes (None)."""
    if x.shape == t.shape:
        return x, t
    if broadcast is None:
        raise ValueError(f"target: shape {t.shape} must be the same as input shape {x.shape}")
    try:
        shape = np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(f"target: shape {t.shape} does not broadcast with input shape {x.shape}") from None
    if broadcast == _WARN:
        warnings.warn(
            f"Using a target size ({t.shape}) that is different to the input size ({x.shape}). This will likely "
            "lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=4,
        )
    return np.broadcast_to(x, shape), np.broadcast_to(t, shape)


def _is_leading_prefix(shape, full) -> bool:
    return len(shape) <= len(full) and tuple(full[: len(shape)]) == tuple(shape)


def _element_weight(weight, shape, *, exact: bool):
    """torch's element weight (broadcast from the trailing axes) as the engine's per-row sample weight.

    A weight constant along the trailing axes ((N,), (N, 1), a scalar) is passed as a leading prefix, never
    expanded; any other broadcastable shape ((C,), (1, C), ...) is expanded to the element shape.
    """
    if weight is None:
        return None
    w = _to_numpy(weight, "weight")
    if exact and w.shape != tuple(shape):
        raise ValueError(f"weight: shape {w.shape} must be the same as input shape {tuple(shape)}")
    try:
        np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"weight: shape {w.shape} does not broadcast to input shape {tuple(shape)}") from None
    padded = w.reshape((1,) * (len(shape) - w.ndim) + w.shape)
    lead = padded.shape
    while lead and lead[-1] == 1 and not _is_leading_prefix(lead, shape):
        lead = lead[:-1]
    if _is_leading_prefix(lead, shape):
        return padded.reshape(lead)
    return np.broadcast_to(padded, shape)


def _elements(x: np.ndarray) -> np.ndarray:
    """The input as rows of one element: shape (..., 1), a view."""
    return x[..., None]


def _elementwise(kernel, input, target, *, weight, reduction, broadcast=None, exact_weight=False,
                 weighted_mean=False, options=None, columns=None, n_threads=None):
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    x, t = _same_shape(x, t, broadcast=broadcast)
    sample_weight = _element_weight(weight, x.shape, exact=exact_weight)
    mean = _WEIGHTED_MEAN if (weighted_mean and sample_weight is not None) else _PER_ELEMENT
    return _run(kernel, _elements(t), _elements(x), sparse=False, elementwise=False, probabilities=False,
                options=options, columns=columns, sample_weight=sample_weight, reduction=reduction, mean=mean,
                n_threads=n_threads)


# ----------------------------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# ----------------------------------------------------------------------------------------------------------

def _classes_last(x: np.ndarray, name: str = "input") -> np.ndarray:
    """(N, C, d1, ...) -> (N, d1, ..., C) (a view; the engine copies it to rows when it is not contiguous);
    an unbatched (C,) input is one position."""
    if x.ndim == 0:
        raise ValueError(f"{name}: expected (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if x.ndim == 1:
        return x
    return np.moveaxis(x, 1, -1)


def _index_shape(x: np.ndarray):
    return () if x.ndim == 1 else x.shape[:1] + x.shape[2:]


def _class_weight(weight, n_classes: int):
    if weight is None:
        return None
    w = _to_numpy(weight, "weight")
    if w.shape != (n_classes,):
        raise ValueError(
            f"weight: expected one weight per class, shape ({n_classes},) for input with {n_classes} classes "
            f"on axis 1, got shape {w.shape}"
        )
    if np.isnan(w).any():
        raise ValueError("weight: contains NaN")
    return np.ascontiguousarray(w, dtype=np.float64)


def _check_ignore_index(ignore_index) -> int:
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index: expected an integer, got {ignore_index!r}")
    return int(ignore_index)


def _target_kind(x: np.ndarray, t: np.ndarray, *, probabilities_allowed: bool) -> str:
    """torch's shape rule: a target of input's shape holds class probabilities, one of input's shape without the
    class axis (1) holds class indices."""
    index_shape = _index_shape(x)
    if t.shape == index_shape:
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"target: class indices (shape {t.shape}) must be integers, got dtype {t.dtype}"
                + ("; a target of input's shape holds class probabilities" if probabilities_allowed else "")
            )
        return "indices"
    if t.shape == x.shape and probabilities_allowed:
        if t.dtype.kind != "f":
            raise TypeError(
                f"target: class probabilities (a target of input's shape {x.shape}) must be floating point, got "
                f"dtype {t.dtype}; class indices have shape {index_shape}"
            )
        return "probabilities"
    expected = f"class indices of shape {index_shape}"
    if probabilities_allowed:
        expected += f" or class probabilities of input's shape {x.shape}"
    else:
        expected += " (nll_loss takes no probability targets)"
    raise ValueError(f"target: shape {t.shape} does not fit input shape {x.shape}; expected {expected}")


def _index_loss(kernel, x, t, *, weight, ignore_index, reduction, n_threads, smoothing=0.0):
    logits = np.ascontiguousarray(_classes_last(x))
    n_classes = logits.shape[-1]
    w = _class_weight(weight, n_classes)
    if logits.ndim == 1:  # unbatched: one position
        logits, t = logits[None, :], t.reshape(1)
    common = dict(sparse=True, elementwise=False, probabilities=False, ignore_class=ignore_index,
                  n_threads=n_threads)
    if smoothing == 0.0:
        result = _run(kernel, t, logits, class_weight=w, reduction=reduction, mean=_WEIGHTED_MEAN, **common)
    else:
        # Smoothing weights every class by its own weight, so the weights live in the kernel; the 'mean' divisor
        # Σ w_y of the selected (not ignored) positions comes from a second pass that reads only the labels.
        options = {"smooth": smoothing}
        engine_reduction = "totals" if reduction == "mean" else reduction
        with _TorchNames():
            result = evaluate("torch_ce_smoothed", t, logits, options=options, columns=w,
                              reduction=engine_reduction, zero_division="nan", **common)
            if reduction == "mean":
                totals = result
                if w is not None:
                    label_weights = evaluate("torch_label_weight", t, logits, class_weight=w, reduction="totals",
                                             zero_division="nan", **common)
                    totals = Totals(totals.weighted_sum, label_weights.weight_sum, totals.count,
                                    label_weights.nonzero_rows, totals.rows, label_weights.weight_entries,
                                    label_weights.nonzero_weight_entries)
                result = totals.result(_WEIGHTED_MEAN, "nan")
    if reduction == "none" and x.ndim == 1:
        return result.reshape(())
    return result


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0, *, n_threads=None):
    """torch.nn.functional.cross_entropy: log-softmax over the class axis 1, then the negative log-likelihood.

    ``input``: logits of shape (C,), (N, C) or (N, C, d1, ...). ``target``: class indices of shape (), (N,) or
    (N, d1, ...) (integers; ``ignore_index`` marks positions to skip), or class probabilities of input's shape
    (floats; ``ignore_index`` must stay -100). ``weight``: one weight per class, shape (C,).

    Class indices: per position ``l = (1 - s)·w_y·(-log p_y) + (s/C)·Σ_c w_c·(-log p_c)`` (``s`` =
    ``label_smoothing``), 0 where ignored; ``'mean'`` = Σ l / Σ w_y over positions not ignored (NaN if that is 0).
    Probabilities: ``l = -Σ_c w_c·t̃_c·log p_c`` with ``t̃ = t·(1 - s) + s/C``; ``'mean'`` = Σ l / positions.
    ``reduction='none'`` returns target's index shape (N, d1, ...). ``n_threads``: fastloss's thread count
    (results do not depend on it).
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    smoothing = check_label_smoothing(label_smoothing)
    ignore_index = _check_ignore_index(ignore_index)
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    kind = _target_kind(_classes_last_check(x), t, probabilities_allowed=True)
    if kind == "indices":
        kernel = "scce_logits" if smoothing == 0.0 else "torch_ce_smoothed"
        return _index_loss(kernel, x, t, weight=weight, ignore_index=ignore_index, reduction=reduction,
                           n_threads=n_threads, smoothing=smoothing)
    if ignore_index != -100:
        raise ValueError(
            f"ignore_index: not supported with class-probability targets (got {ignore_index}); "
            "leave it at -100 or pass class indices"
        )
    logits = _classes_last(x)
    targets = _classes_last(t, "target")
    w = _class_weight(weight, logits.shape[-1])
    kernel = "cce_logits" if w is None else "torch_ce_soft_weighted"
    result = _run(kernel, targets, logits, sparse=False, elementwise=False, probabilities=False,
                  smoothing=smoothing, smoothing_classes=logits.shape[-1], columns=w, reduction=reduction,
                  mean=_PER_POSITION, n_threads=n_threads)
    return result


def _classes_last_check(x: np.ndarray) -> np.ndarray:
    if x.ndim == 0:
        raise ValueError("input: expected (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if x.shape[1 if x.ndim > 1 else 0] == 0:
        raise ValueError(f"input: the class axis has size 0 (shape {x.shape})")
    return x


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
             *, n_threads=None):
    """torch.nn.functional.nll_loss: ``l = -w_y·input[n, y]`` on log-probabilities (not checked), class axis 1.

    ``target``: class indices of shape (), (N,) or (N, d1, ...); ``'mean'`` = Σ l / Σ w_y over positions not
    ignored (NaN if 0). See ``cross_entropy`` for the shapes.
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    ignore_index = _check_ignore_index(ignore_index)
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    _target_kind(_classes_last_check(x), t, probabilities_allowed=False)
    return _index_loss("torch_nll", x, t, weight=weight, ignore_index=ignore_index, reduction=reduction,
                       n_threads=n_threads)


# ----------------------------------------------------------------------------------------------------------
# Binary crossentropy
# ----------------------------------------------------------------------------------------------------------

def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean", *,
                         n_threads=None):
    """torch.nn.functional.binary_cross_entropy on probabilities, elementwise:
    ``l = -w·[y·max(log p, -100) + (1 - y)·max(log(1 - p), -100)]`` (p = 0 or 1 costs exactly 100).

    ``input`` and ``target`` must have the same shape, with values in [0, 1] (ValueError otherwise, NaN
    included); ``weight`` broadcasts to it. ``'mean'`` = Σ w·l / numel (the weight is not in the divisor).
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    return _elementwise("torch_bce", input, target, weight=weight, reduction=reduction, n_threads=n_threads)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None, *, n_threads=None):
    """torch.nn.functional.binary_cross_entropy_with_logits, elementwise and overflow-free:
    ``l = w·[(1 - y)·z + (1 + (pw - 1)·y)·softplus(-z)]`` = ``-w·[pw·y·log σ(z) + (1 - y)·log(1 - σ(z))]``.

    ``weight`` and ``pos_weight`` broadcast to the input (``pos_weight`` is usually one weight per class of the
    last axis, shape (C,)); ``pos_weight`` is read in the input's dtype, as the target is. ``'mean'`` =
    Σ w·l / numel. Targets are not checked (soft targets are fine).
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    if pos_weight is None:
        return _elementwise("torch_bce_logits", input, target, weight=weight, reduction=reduction,
                            n_threads=n_threads)
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    x, t = _same_shape(x, t, broadcast=None)
    pw = _to_numpy(pos_weight, "pos_weight")
    try:
        pw = np.broadcast_to(pw, x.shape)
    except ValueError:
        raise ValueError(f"pos_weight: shape {pw.shape} does not broadcast to input shape {x.shape}") from None
    # The positive weight is a property of the element, not of a row: each element becomes a row of two, the
    # target row (y, pw) and the prediction row (z, z), so that the weight can vary along any axis.
    paired_target = np.stack(np.broadcast_arrays(t, pw), axis=-1)  # the engine reads it in input's dtype
    paired_input = np.broadcast_to(x[..., None], x.shape + (2,))
    return _run("torch_bce_logits_pos_weight", paired_target, paired_input, sparse=False, elementwise=False,
                probabilities=False, sample_weight=_element_weight(weight, x.shape, exact=False),
                reduction=reduction, mean=_PER_ELEMENT, n_threads=n_threads)


# ----------------------------------------------------------------------------------------------------------
# Regression losses
# ----------------------------------------------------------------------------------------------------------

def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, n_threads=None):
    """torch.nn.functional.mse_loss: ``(input - target)²`` elementwise (target broadcasts, with torch's warning).

    ``'mean'`` = mean over elements; with ``weight`` (input's shape) ``Σ w·e² / Σ w`` (NaN when Σ w = 0).
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    return _elementwise("squared_error", input, target, weight=weight, reduction=reduction, broadcast=_WARN,
                        exact_weight=True, weighted_mean=True, n_threads=n_threads)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, n_threads=None):
    """torch.nn.functional.l1_loss: ``|input - target|`` elementwise (target broadcasts, with torch's warning).

    ``'mean'`` = mean over elements; with ``weight`` (input's shape) ``Σ w·|e| / Σ w`` (NaN when Σ w = 0).
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    return _elementwise("absolute_error", input, target, weight=weight, reduction=reduction, broadcast=_WARN,
                        exact_weight=True, weighted_mean=True, n_threads=n_threads)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0, *, n_threads=None):
    """torch.nn.functional.smooth_l1_loss: with a = |input - target|, ``½a²/β`` if a < β, else ``a - ½β``.

    ``beta`` >= 0 (ValueError otherwise); ``beta=0`` is the L1 loss. ``'mean'`` = mean over elements.
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    beta = _real(beta, "beta")
    if not beta >= 0:
        raise ValueError(f"beta: smooth_l1_loss does not support negative values for beta, got {beta!r}")
    return _elementwise("torch_smooth_l1", input, target, weight=None, reduction=reduction, broadcast=_WARN,
                        options={"beta": beta}, n_threads=n_threads)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None, *, n_threads=None):
    """torch.nn.functional.huber_loss: with a = |input - target|, ``½a²`` if a < δ, else ``δ·(a - ½δ)``.

    ``delta`` > 0 (ValueError otherwise). ``weight`` (input's shape) multiplies the elements; ``'mean'`` stays
    the mean over elements, ``Σ w·h / numel`` (unlike mse_loss/l1_loss, the weight is not in the divisor).
    """
    reduction = _check_reduction(reduction)
    delta = _real(delta, "delta")
    if not delta > 0:
        raise ValueError(f"delta: huber_loss does not support non-positive values for delta, got {delta!r}")
    return _elementwise("torch_huber", input, target, weight=weight, reduction=reduction, broadcast=_WARN,
                        exact_weight=True, options={"delta": delta}, n_threads=n_threads)


# ----------------------------------------------------------------------------------------------------------
# Other losses
# ----------------------------------------------------------------------------------------------------------

def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False, *, n_threads=None):
    """torch.nn.functional.kl_div on a log-input: pointwise ``xlogy(t, t) - t·input`` (0 where t = 0, NaN where
    t < 0), or ``e^t·(t - input)`` with ``log_target=True``.

    ``'mean'`` = Σ / numel; ``'batchmean'`` = Σ / input.shape[0] (the KL divergence per sample; Σ for a 0-d
    input); ``'sum'``; ``'none'``. ``target`` must have input's shape.
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    options = {"flags": _TORCH_FLAGS["log_target"] if _check_bool(log_target, "log_target") else 0}
    if reduction != "batchmean":
        return _elementwise("torch_kl_div", input, target, weight=None, reduction=reduction, broadcast=_SILENT,
                            options=options, n_threads=n_threads)
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    x, t = _same_shape(x, t, broadcast=_SILENT)
    if x.ndim == 0 or x.size == 0:
        # torch: a 0-d input is not divided; an (N, 0) input sums to 0 over N samples.
        total = _elementwise("torch_kl_div", x, t, weight=None, reduction="sum", options=options,
                             n_threads=n_threads)
        samples = x.shape[0] if x.ndim else 1
        return Totals(weighted_sum=total, count=samples, rows=samples).result(_PER_ELEMENT, "nan")
    # One row per sample, its elements summed in the row: S / N.
    rows = x.reshape(x.shape[0], -1)
    return _run("torch_kl_div", t.reshape(rows.shape), rows, sparse=False, elementwise=False, probabilities=False,
                options=options, reduction="mean", mean=_PER_ELEMENT, n_threads=n_threads)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean", *, n_threads=None):
    """torch.nn.functional.poisson_nll_loss: ``e^x - t·x`` (``log_input=True``) or ``x - t·log(x + eps)``;
    ``full=True`` adds Stirling's ``t·log t - t + ½·log(2πt)`` where t > 1. ``'mean'`` = mean over elements.
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    flags = (_TORCH_FLAGS["log_input"] if _check_bool(log_input, "log_input") else 0)
    flags |= _TORCH_FLAGS["full"] if _check_bool(full, "full") else 0
    options = {"flags": flags, "eps": _real(eps, "eps")}
    return _elementwise("torch_poisson_nll", input, target, weight=None, reduction=reduction, broadcast=_SILENT,
                        options=options, n_threads=n_threads)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean", *,
                         n_threads=None):
    """torch.nn.functional.hinge_embedding_loss: ``x`` where y = 1, ``max(0, margin - x)`` where y = -1, and the
    sum of both for any other target value (as torch). ``'mean'`` = mean over elements."""
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    return _elementwise("torch_hinge_embedding", input, target, weight=None, reduction=reduction,
                        broadcast=_SILENT, options={"margin": _real(margin, "margin")}, n_threads=n_threads)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean", *, n_threads=None):
    """torch.nn.functional.soft_margin_loss: ``log(1 + e^(-y·x))`` elementwise, computed without overflow.
    ``'mean'`` = mean over elements."""
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    return _elementwise("torch_soft_margin", input, target, weight=None, reduction=reduction, broadcast=_SILENT,
                        n_threads=n_threads)


def _multilabel_weight(weight, shape):
    """multilabel_soft_margin_loss's ``weight`` as ("class", per-class columns), ("sample", per-sample weight),
    ("element", the weight at input's shape) or (None, None)."""
    if weight is None:
        return None, None
    w = _to_numpy(weight, "weight")
    try:
        np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"weight: shape {w.shape} does not broadcast to input shape {tuple(shape)}") from None
    padded = w.reshape((1,) * (len(shape) - w.ndim) + w.shape)
    if all(n == 1 for n in padded.shape[:-1]):
        return "class", np.ascontiguousarray(np.broadcast_to(padded.reshape(-1), shape[-1:]), dtype=np.float64)
    if padded.shape[-1] == 1:
        return "sample", _element_weight(padded[..., 0], shape[:-1], exact=False)
    return "element", np.broadcast_to(padded, shape)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean", *,
                                n_threads=None):
    """torch.nn.functional.multilabel_soft_margin_loss: per sample, the mean over the C classes of the last axis
    of ``w·(-(y·log σ(x) + (1 - y)·log σ(-x)))``. ``'none'`` has input's shape without its last axis;
    ``'mean'`` = mean over samples. ``weight`` broadcasts to the input: per class (C,), per sample (N, ..., 1),
    or per element.
    """
    _check_legacy(size_average, reduce)
    reduction = _check_reduction(reduction)
    x = _to_numpy(input, "input")
    t = _to_numpy(target, "target")
    x, t = _same_shape(x, t, broadcast=_SILENT)
    if x.ndim == 0:
        x, t = x.reshape(1), t.reshape(1)
    kind, w = _multilabel_weight(weight, x.shape)
    if kind != "element":
        return _run("torch_multilabel_soft_margin", t, x, sparse=False, elementwise=False, probabilities=False,
                    columns=w if kind == "class" else None, sample_weight=w if kind == "sample" else None,
                    reduction=reduction, mean=_PER_ELEMENT, n_threads=n_threads)
    # An element-wise weight is a per-row weight of rows of one element. The per-element loss is the logits BCE;
    # a sample's value is Σ_c w·l / C, so 'mean' over samples is Σ w·l / numel, 'sum' weighs each element w / C,
    # and 'none' sums each sample's C weighted elements.
    C = x.shape[-1]
    common = dict(sparse=False, elementwise=False, probabilities=False, n_threads=n_threads)
    if reduction == "mean":
        return _run("torch_bce_logits", _elements(t), _elements(x), sample_weight=w, reduction="mean",
                    mean=_PER_ELEMENT, **common)
    per_element = _run("torch_bce_logits", _elements(t), _elements(x), sample_weight=w / C, reduction=reduction,
                       mean=_PER_ELEMENT, **common)
    if reduction == "sum":
        return per_element
    return np.sum(per_element, axis=-1, dtype=np.float64).astype(per_element.dtype)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none", *, n_threads=None):
    """torchvision.ops.sigmoid_focal_loss: ``ce·(1 - p_t)^γ`` with ``p = σ(x)``, ``p_t = p·y + (1 - p)(1 - y)`` and
    ``ce`` the logits BCE; if ``alpha >= 0`` times ``α·y + (1 - α)(1 - y)``. Default reduction ``'none'``;
    ``'mean'`` = mean over elements.
    """
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction: invalid value {reduction!r}; supported reduction modes: 'none', 'mean', 'sum'"
        )
    options = {"alpha": _real(alpha, "alpha"), "gamma": _real(gamma, "gamma")}
    return _elementwise("torch_sigmoid_focal", inputs, targets, weight=None, reduction=reduction, options=options,
                        n_threads=n_threads)
