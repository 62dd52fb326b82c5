"""Fused value and gradient: the reduced loss and d loss / d y_pred from one pass over the data.

``value_and_grad(loss_name, y_true, y_pred, **options)`` takes the options of the loss of that name
(``fastloss.losses``) and returns ``(value, grad)``: ``value`` is what the loss returns with those options (to
rounding: the row math is the loss kernel's, the sum may take another order), ``grad`` has y_pred's shape and
dtype and holds d value / d y_pred (d / d logits with ``from_logits=True``). float32 inputs: crossentropies from
logits take their exps (and BCE its sigmoid and log1p) on float lanes, the same functions as the loss kernels
(README, "Precision"), everything else in double; one exception to "to rounding": binary and categorical
crossentropy on float32 probabilities take their logs in double here and on float lanes in the loss, so there
the two values agree to about 1e-7 relative.

The gradient of a reduction S / D (``fastloss._reductions.Totals.divisor`` gives D) is
``grad_r = w_r · ∂l_r/∂y_pred_r / D``. What is differentiated, precisely:

* exactly what the loss computes, clips included: where a clip is active (a probability outside
  [1e-7, 1 - 1e-7] after Keras's renormalisation p/Σp; MSLE's floor at 1e-7), the derivative is 0; at the clip
  bound itself the value passes through (as torch.clamp's gradient does);
* at a kink the subgradient 0 is taken: mean_absolute_error and MAPE at e = 0, hinge and squared_hinge at
  margin 0;
* D is a constant (it depends on weights and the mask, never on y_pred). With ``zero_division`` the value of a
  zero divisor is a constant, so the gradient is 0 for a number, NaN everywhere for ``"nan"``, and ``"raise"``
  raises;
* excluded rows (mask False, ``ignore_class``) get gradient 0, and NaN in them does not leak;
* ``reduction="none"`` returns the per-row weighted losses (as the loss does) and the gradient of their sum;
  ``"totals"`` has no gradient and is rejected.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import NamedTuple

import numpy as np

from . import _kernels, losses
from . import _engine
from ._buffers import fresh_array
from ._engine import _CLIP_BOUNDS, _included_rows, _raise_kernel_error, kernel_params, prepare, resolve_threads
from ._options import check_delta, check_label_smoothing
from ._reductions import Totals, canonical_reduction, check_zero_division, divide

__all__ = ["value_and_grad", "GRADIENT_LOSSES"]


class _Spec(NamedTuple):
    kernel: str            # the gradient kernel (probabilities, or the only one)
    logits_kernel: str | None
    sparse: bool
    elementwise: bool
    smoothing_classes: int | None = None  # label smoothing towards 1/2 (BCE) or 1/K (CCE: None)
    target_transform: object = None
    options: tuple = ()    # the loss's own keywords value_and_grad differentiates (besides _COMMON_OPTIONS)


_SPECS = {
    "binary_crossentropy": _Spec("bce_probabilities", "bce_logits", False, True, smoothing_classes=2,
                                 options=("from_logits", "label_smoothing")),
    "categorical_crossentropy": _Spec("cce_probabilities", "cce_logits", False, False,
                                      options=("from_logits", "label_smoothing")),
    "sparse_categorical_crossentropy": _Spec("scce_probabilities", "scce_logits", True, False,
                                             options=("from_logits", "ignore_class")),
    "mean_squared_error": _Spec("squared_error", None, False, True),
    "mean_absolute_error": _Spec("absolute_error", None, False, True),
    "mean_absolute_percentage_error": _Spec("absolute_percentage_error", None, False, True),
    "mean_squared_logarithmic_error": _Spec("squared_logarithmic_error", None, False, True),
    "huber": _Spec("huber", None, False, True, options=("delta",)),
    "log_cosh": _Spec("log_cosh", None, False, True),
    "poisson": _Spec("poisson", None, False, True),
    "hinge": _Spec("hinge", None, False, True, target_transform=losses._hinge_targets),
    "squared_hinge": _Spec("squared_hinge", None, False, True, target_transform=losses._hinge_targets),
}
GRADIENT_LOSSES = tuple(_SPECS)
_COMMON_OPTIONS = ("sample_weight", "class_weight", "mask", "reduction", "zero_division", "n_threads")


@functools.cache
def _signature(loss_name):
    return inspect.signature(losses.LOSSES[loss_name])   # built once: ~10 µs a call otherwise


def _options_of(loss_name, y_true, y_pred, options):
    """The loss's own signature checks the keywords: a keyword the loss does not take is a TypeError."""
    signature = _signature(loss_name)
    try:
        bound = signature.bind(y_true, y_pred, **options)
    except TypeError as exc:
        raise TypeError(f"value_and_grad({loss_name!r}): {exc}") from None
    unsupported = sorted(set(options) - set(_COMMON_OPTIONS) - set(_SPECS[loss_name].options))
    if unsupported:
        # The loss takes them, but their derivative is not implemented: refuse rather than ignore them.
        raise ValueError(f"value_and_grad({loss_name!r}): {', '.join(unsupported)} not supported yet; supported "
                         f"options are {', '.join(_COMMON_OPTIONS + _SPECS[loss_name].options)}")
    class_weight = options.get("class_weight")
    if class_weight is not None and not isinstance(class_weight, dict) and np.ndim(class_weight) != 1:
        raise ValueError("class_weight: value_and_grad takes a dict or a 1-D array (one weight per class); "
                         f"got shape {np.shape(class_weight)}")
    bound.apply_defaults()
    return bound.arguments


def _fine_rows(a, inner, finer):
    """Entries of a prefix-broadcast array repeated to the finer of two broadcasts (inner divides inner)."""
    return a if inner == finer else np.repeat(a, inner // finer)


def _totals_before_the_pass(n_rows, sw, sw_inner, mask_arr, mask_inner, weight_entries, nonzero_entries):
    """V, W, Z from the mask and sample weights alone (valid without class weights or ignore_class)."""
    if sw is None:
        sw, sw_inner = np.ones(1), n_rows
    if mask_arr is None:
        mask_arr, mask_inner = np.ones(1, dtype=np.uint8), n_rows
    finer = min(sw_inner, mask_inner)
    weights = _fine_rows(sw, sw_inner, finer)
    included = _fine_rows(mask_arr, mask_inner, finer).astype(bool)
    kept = weights[included]
    return Totals(0.0, float(np.sum(kept)) * finer, int(np.count_nonzero(included)) * finer,
                  int(np.count_nonzero(kept)) * finer, n_rows, weight_entries, nonzero_entries)


def _gradient_out(out, shape, dtype, inputs):
    """The caller's gradient array, checked: the kernel writes it through as (rows, K)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a NumPy array, got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out: expected shape {shape} and dtype {np.dtype(dtype).name} (the gradient's), got "
                         f"shape {out.shape} and dtype {out.dtype.name}")
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("out: expected a C-contiguous, writeable array")
    if any(isinstance(a, np.ndarray) and np.may_share_memory(out, a) for a in inputs):
        raise ValueError("out: must not share memory with y_true or y_pred")
    return out


def value_and_grad(loss_name, y_true, y_pred, *, out=None, **options):
    """(value, d value / d y_pred) of ``fastloss.<loss_name>(y_true, y_pred, **options)``, from one pass.

    ``loss_name``: one of ``GRADIENT_LOSSES`` (Keras names). ``options``: the loss's keywords (sample_weight,
    class_weight, mask, reduction, zero_division, n_threads, and from_logits / label_smoothing / ignore_class /
    delta where the loss takes them). Returns a float (or the per-row array for ``reduction="none"``) and a
    NumPy array of y_pred's shape and float dtype; see the module docstring for what is differentiated.

    ``out``: optional array the gradient is written into and returned as ``grad`` (C-contiguous, writeable, of
    y_pred's shape and of the gradient's dtype, i.e. y_pred's float dtype, float64 for other inputs; sharing no
    memory with the inputs). Reusing one across calls saves the allocation and the first-touch page faults of a
    fresh array (about a quarter of a millisecond per MB on Linux). If the call raises, its contents are
    unspecified. Without ``out``, a gradient of 4 MiB or more reuses the memory of an earlier output of the same
    size that nothing refers to any more (``fastloss._buffers``; at most two stay allocated between calls).
    """
    if loss_name not in _SPECS:
        raise ValueError(
            f"loss_name: value_and_grad does not support {loss_name!r}; supported losses are "
            f"{', '.join(map(repr, GRADIENT_LOSSES))}"
        )
    spec = _SPECS[loss_name]
    args = _options_of(loss_name, y_true, y_pred, options)
    reduction = canonical_reduction(args["reduction"])
    if reduction == "totals":
        raise ValueError("reduction: 'totals' has no gradient; value_and_grad needs 'none' or a scalar reduction")
    zero_division = check_zero_division(args["zero_division"])
    if args["n_threads"] is not None:
        resolve_threads(args["n_threads"])  # checked before the arrays; resolved by kernel_threads
    from_logits = bool(args.get("from_logits", False))
    kernel_name = "grad_" + (spec.logits_kernel if from_logits else spec.kernel)
    smoothing = check_label_smoothing(args.get("label_smoothing", 0.0))
    delta = check_delta(args["delta"]) if "delta" in args else 0.0
    ignore_class = args.get("ignore_class")

    (yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K, sw, sw_inner, weight_entries, nonzero_entries,
     mask_arr, mask_inner, cw) = prepare(y_true, y_pred, sparse=spec.sparse, elementwise=spec.elementwise,
                                         ignore_class=ignore_class, sample_weight=args["sample_weight"],
                                         mask=args["mask"], class_weight=args["class_weight"])

    # The divisor is known before the pass unless class weights or ignore_class change V, W, Z (sum's and
    # sum_over_all_rows' divisors never depend on them); _reductions owns every divisor.
    if reduction == "none":
        before = 1.0
    elif reduction in ("sum", "sum_over_all_rows") or (cw is None and (not spec.sparse or ignore_class is None)):
        before = _totals_before_the_pass(n_rows, sw, sw_inner, mask_arr, mask_inner, weight_entries,
                                         nonzero_entries).divisor(reduction)
    else:
        before = None
    scale = 1.0 if before is None or before == 0 else 1.0 / before

    rows_out = fresh_array((n_rows if reduction == "none" else 0,), dtype)
    if out is None:
        grad = fresh_array((n_rows, K), dtype)  # reuses the memory of a large gradient nothing refers to
    else:
        grad = _gradient_out(out, pred_shape_given, dtype, (y_true, y_pred, yt, yp)).reshape(n_rows, K)
    block_rows = max(1, _engine.BLOCK_ELEMENTS // K)  # read at call time: the tests shrink them
    lo, hi = _CLIP_BOUNDS[dtype]
    kernel = getattr(_kernels, kernel_name)
    if spec.sparse:
        ignore = None if ignore_class is None else int(ignore_class)
        params = kernel_params(None, lo=lo, hi=hi, keep=1.0, offset=0.0, delta=delta)
        kernel_args = (yt, yp, grad, rows_out, sw, sw_inner, cw, mask_arr, mask_inner, ignore, params, None, scale,
                       block_rows)
    else:
        if spec.target_transform is not None:
            keep, offset = spec.target_transform(yt, _included_rows(mask_arr, mask_inner, n_rows))
        else:
            keep, offset = _kernels.smoothed_target(smoothing, spec.smoothing_classes or 0, K)
        params = kernel_params(None, lo=lo, hi=hi, keep=keep, offset=offset, delta=delta)
        kernel_args = (yt, yp, grad, rows_out, sw, sw_inner, cw, mask_arr, mask_inner, params, None, scale,
                       block_rows)
    threads = 1 if n_rows <= block_rows else _engine.kernel_threads(n_rows * K, args["n_threads"])
    try:
        result = kernel(*kernel_args, threads)
    finally:
        _engine.kernel_returned(threads)
    S, W, V, Z, cw_nonzero, error, error_row = result
    if error:
        _raise_kernel_error(error, error_row, yt, yp, rows_shape, spec.sparse, args["class_weight"], cw,
                            mask_arr, mask_inner, ignore_class)
    if cw is not None:
        nonzero_entries = cw_nonzero
    totals = Totals(S, W, V, Z, n_rows, weight_entries, nonzero_entries)
    grad = grad.reshape(pred_shape_given) if out is None else out
    if reduction == "none":
        return rows_out.reshape(rows_shape), grad
    value = totals.result(reduction, zero_division)  # raises for a zero divisor under "raise"
    divisor = totals.divisor(reduction) if before is None else before
    if divisor == 0:
        # The value is the constant zero_division: gradient 0, or NaN for "nan".
        grad.fill(math.nan if zero_division == "nan" else 0.0)
    elif before is None:
        grad *= dtype(divide(1.0, divisor, zero_division, reduction))
    return value, grad
