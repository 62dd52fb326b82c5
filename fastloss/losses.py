"""The public losses. Keras 3 names, argument order and per-row values; every weighting convention by name.

Each function returns, depending on ``reduction``: a Python float, the per-row weighted losses
(``"none"``: an array of y_pred's shape without its last axis, excluded rows 0), or ``fastloss.Totals``
(``"totals"``). See ``fastloss.REDUCTIONS`` and README for the conventions.

Common keyword arguments:
    sample_weight: None, a scalar, or an array whose shape leads the row shape ((N,) weights every timestep /
        pixel of sample i; (N, T) per timestep). Never expanded to row size.
    class_weight: dict {class: weight} or 1-D array indexed by class; multiplied with sample_weight.
    mask: bool-like, same shape rule as sample_weight; False excludes a row (it is skipped, not multiplied).
    reduction: "sum_over_batch_size" (Keras 3 default) or any name in fastloss.REDUCTIONS.
    zero_division: value when the reduction's denominator is 0: 0.0 (default, Keras 3), "nan", or "raise".
    n_threads: None (OpenMP default now), -1 (all cores), or a positive count. Results do not depend on it.
"""

from __future__ import annotations

import numpy as np

from ._engine import evaluate
from ._options import (check_delta, check_flag, check_focal_alpha, check_gamma, check_label_smoothing, check_last_axis,
                       check_q, is_multilabel_class_weight, multilabel_columns, prediction_columns)
from ._reductions import DEFAULT_ZERO_DIVISION

__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "poisson",
    "hinge",
    "squared_hinge",
    "kl_divergence",
    "categorical_hinge",
    "cosine_similarity",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "LOSSES",
]


def binary_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, pos_weight=None,
                        sample_weight=None, class_weight=None, mask=None, reduction="sum_over_batch_size",
                        zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's binary crossentropy, mean over the last axis.

    Probabilities are clipped to [1e-7, 1 - 1e-7] in the input dtype (values outside [0, 1] raise ValueError);
    logits go through the stable ``max(z, 0) - z·y + log1p(exp(-|z|))``. Labels are smoothed towards 1/2
    (``y_s = y·(1 - label_smoothing) + label_smoothing/2``). A 1-D ``y_pred`` holds one prediction per sample.

    Multi-label weights (one per column k of y_pred's last axis, K columns; a 1-D y_pred has K = 1):

    * ``class_weight`` of shape (K, 2): (negative, positive) weights of each column. Each element's loss is
      multiplied by ``(1 - y)·w_neg[k] + y·w_pos[k]`` inside the row mean, where ``y`` is y_true as given (before
      label smoothing; linear in y, so soft targets interpolate). A dict or a 1-D array keeps its meaning: one
      weight per row, by the row's class. ``fastloss.compute_class_weight(y, multilabel=True)`` gives the
      balanced (K, 2) table.
    * ``pos_weight``: a number or an array of shape (K,), PyTorch's ``BCEWithLogitsLoss(pos_weight=)``: the
      element loss is ``-(pw[k]·y_s·log p + (1 - y_s)·log(1 - p))`` (p clipped as above for probabilities;
      for logits the stable ``pw·y_s·softplus(-z) + (1 - y_s)·softplus(z)``).

    Both are part of the row loss: they never enter a reduction's divisor (so ``"mean_with_sample_weight"``
    divides by the sample weights only, and torch's ``reduction="mean"`` is ``"sum_over_batch_size"``).
    """
    multilabel = is_multilabel_class_weight(class_weight)
    if multilabel or pos_weight is not None:
        n_columns = prediction_columns(y_pred, one_d_is_column=True)
        columns = None if n_columns is None else multilabel_columns(
            class_weight if multilabel else None, pos_weight, n_columns)
        return evaluate("bce_multilabel_logits" if from_logits else "bce_multilabel_probabilities", y_true, y_pred,
                        sparse=False, elementwise=True, probabilities=not from_logits,
                        smoothing=check_label_smoothing(label_smoothing), smoothing_classes=2, columns=columns,
                        sample_weight=sample_weight, class_weight=None if multilabel else class_weight, mask=mask,
                        reduction=reduction, zero_division=zero_division, n_threads=n_threads)
    return evaluate("bce_logits" if from_logits else "bce_probabilities", y_true, y_pred, sparse=False,
                    elementwise=True, probabilities=not from_logits,
                    smoothing=check_label_smoothing(label_smoothing), smoothing_classes=2,
                    sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                    zero_division=zero_division, n_threads=n_threads)


def categorical_crossentropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, sample_weight=None,
                             class_weight=None, mask=None, reduction="sum_over_batch_size",
                             zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's categorical crossentropy over the last axis (one-hot or soft targets).

    Probability rows are renormalised (p / Σp) and clipped, as Keras does; logits use a stable log-softmax.
    Labels are smoothed towards 1/K.
    """
    return evaluate("cce_logits" if from_logits else "cce_probabilities", y_true, y_pred, sparse=False,
                    elementwise=False, probabilities=not from_logits,
                    smoothing=check_label_smoothing(label_smoothing), smoothing_classes=None,
                    sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                    zero_division=zero_division, n_threads=n_threads)


def sparse_categorical_crossentropy(y_true, y_pred, *, from_logits=False, ignore_class=None, sample_weight=None,
                                    class_weight=None, mask=None, reduction="sum_over_batch_size",
                                    zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's sparse categorical crossentropy: one integer label per row.

    ``ignore_class`` excludes the rows carrying that label, exactly like ``mask=False`` (Keras attaches a mask
    too, so the default reduction divides by the rows left).
    """
    return evaluate("scce_logits" if from_logits else "scce_probabilities", y_true, y_pred, sparse=True,
                    elementwise=False, probabilities=not from_logits, ignore_class=ignore_class,
                    sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                    zero_division=zero_division, n_threads=n_threads)


def mean_squared_error(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                       reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Mean of (y_true - y_pred)² over the last axis. A 1-D ``y_pred`` holds one value per sample."""
    return evaluate("squared_error", y_true, y_pred, sparse=False, elementwise=True, probabilities=False,
                    sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                    zero_division=zero_division, n_threads=n_threads)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                        reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Mean of |y_true - y_pred| over the last axis. A 1-D ``y_pred`` holds one value per sample."""
    return evaluate("absolute_error", y_true, y_pred, sparse=False, elementwise=True, probabilities=False,
                    sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
                    zero_division=zero_division, n_threads=n_threads)


def _elementwise(kernel_name, y_true, y_pred, common, **kernel_options):
    return evaluate(kernel_name, y_true, y_pred, sparse=False, elementwise=True, probabilities=False,
                    **kernel_options, **common)


def mean_absolute_percentage_error(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                                   reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION,
                                   n_threads=None):
    """Keras's MAPE: mean over the last axis of 100·|y - p| / max(|y|, 1e-7) (a zero target gives a large value)."""
    return _elementwise("absolute_percentage_error", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def mean_squared_logarithmic_error(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                                   reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION,
                                   n_threads=None):
    """Keras's MSLE: mean of (log1p(max(p, 1e-7)) - log1p(max(y, 1e-7)))²; negatives are floored at 1e-7."""
    return _elementwise("squared_logarithmic_error", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def huber(y_true, y_pred, *, delta=1.0, sample_weight=None, class_weight=None, mask=None,
          reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's Huber loss: with e = p - y, ½e² where |e| <= delta, else delta·|e| - ½delta²; mean over the row."""
    return _elementwise("huber", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads), delta=check_delta(delta))


def log_cosh(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
             reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's log-cosh: mean of log(cosh(p - y)), computed as x + softplus(-2x) - log 2 (no overflow)."""
    return _elementwise("log_cosh", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def poisson(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
            reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's Poisson loss: mean of p - y·log(p + 1e-7)."""
    return _elementwise("poisson", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def _hinge_targets(y_true, included):
    """Keras's rule: targets become ±1 (2y - 1) only if every target is 0 or 1; fastloss looks at included rows."""
    targets = y_true if included is None else y_true[included]
    binary = bool(np.all((targets == 0) | (targets == 1)))
    return (2.0, -1.0) if binary else (1.0, 0.0)


def hinge(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
          reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's hinge loss: mean of max(1 - y'·p, 0), with y' = 2y - 1 when all targets are 0/1, else y' = y."""
    return _elementwise("hinge", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads), target_transform=_hinge_targets)


def squared_hinge(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                  reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's squared hinge: mean of max(1 - y'·p, 0)², with hinge's target rule."""
    return _elementwise("squared_hinge", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads), target_transform=_hinge_targets)


def _row_loss(kernel_name, y_true, y_pred, common):
    # Losses of a whole row (a 1-D y_pred is one row, as for the categorical crossentropy).
    return evaluate(kernel_name, y_true, y_pred, sparse=False, elementwise=False, probabilities=False, **common)


def kl_divergence(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                  reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's KL divergence over the last axis: Σ ỹ·log(ỹ / p̃), both sides clipped to [1e-7, 1]."""
    return _row_loss("kl_divergence", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def categorical_hinge(y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None,
                      reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's categorical hinge: max(max_k (1 - y)·p - Σ_k y·p + 1, 0)."""
    return _row_loss("categorical_hinge", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def cosine_similarity(y_true, y_pred, *, axis=-1, sample_weight=None, class_weight=None, mask=None,
                      reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's cosine similarity loss, -Σ ŷ·p̂ with x̂ = x·min(1/||x||, 1/1e-7): -1 for the same direction.

    Only the last axis is supported (``axis=-1``); move another axis last first (``np.moveaxis``).
    """
    check_last_axis(axis, np.ndim(y_pred))
    return _row_loss("cosine_similarity", y_true, y_pred, dict(
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division, n_threads=n_threads))


def binary_focal_crossentropy(y_true, y_pred, *, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1, sample_weight=None,
                              class_weight=None, mask=None, reduction="sum_over_batch_size",
                              zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's binary focal crossentropy (Lin et al. 2017), mean over the last axis.

    Per element, with ``y_s = y·(1 - label_smoothing) + label_smoothing/2`` and ``p`` the prediction
    (``p = σ(z)`` for logits)::

        bce   = -(y_s·log p_c + (1 - y_s)·log(1 - p_c)),   p_c = clip(p, 1e-7, 1 - 1e-7) in the input dtype
        p_t   = y_s·p + (1 - y_s)·(1 - p)                   (p itself, not clipped, as in Keras)
        focal = (1 - p_t)^gamma · bce
        if apply_class_balancing: focal *= alpha·y_s + (1 - alpha)·(1 - y_s)

    Defaults are Keras's: ``alpha`` (0.25) is used only with ``apply_class_balancing=True``. ``alpha`` is a number
    in [0, 1] or an array of shape (K,), one alpha per column of the last axis (Keras broadcasts a list the same
    way). ``gamma`` is a finite number >= 0 (0 gives binary_crossentropy, times the balancing weight).
    Logits: like Keras, ``p = σ(z)`` goes through the clipped formula, so a saturated logit costs -log(1e-7)
    (Keras's numpy/jax/torch backends; its TensorFlow backend may use the logits directly). Probabilities outside
    [0, 1] raise ValueError. A 1-D ``y_pred`` holds one prediction per sample (K = 1). ``axis``: only the last
    axis. Reductions, weights and masks: see the module docstring (class_weight is per row, by the row's class).
    """
    check_last_axis(axis, np.ndim(y_pred))
    balancing = check_flag(apply_class_balancing, "apply_class_balancing")
    alpha, alpha_columns = check_focal_alpha(alpha, prediction_columns(y_pred, one_d_is_column=True),
                                             unit_interval=True)
    options = {"gamma": check_gamma(gamma), "alpha": alpha, "flags": 1.0 if balancing else 0.0}
    return evaluate("binary_focal_logits" if from_logits else "binary_focal_probabilities", y_true, y_pred,
                    sparse=False, elementwise=True, probabilities=not from_logits,
                    smoothing=check_label_smoothing(label_smoothing), smoothing_classes=2, options=options,
                    columns=alpha_columns, sample_weight=sample_weight, class_weight=class_weight, mask=mask,
                    reduction=reduction, zero_division=zero_division, n_threads=n_threads)


def categorical_focal_crossentropy(y_true, y_pred, *, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1, sample_weight=None, class_weight=None, mask=None,
                                   reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION,
                                   n_threads=None):
    """Keras's categorical focal crossentropy over the K classes of the last axis (one-hot or soft targets).

    With ``y_s = y·(1 - label_smoothing) + label_smoothing/K``::

        q = clip(p / Σ_k p, 1e-7, 1 - 1e-7)        (probabilities: rows renormalised, then clipped, as Keras)
        q = clip(softmax(z), 1e-7, 1 - 1e-7)        (logits: Keras's softmax-then-clip, computed without overflow)
        l = Σ_k alpha_k·(1 - q_k)^gamma·(-y_s,k·log q_k)

    ``alpha`` (default 0.25, always applied as in Keras, so ``gamma=0`` gives 0.25 × categorical_crossentropy) is
    a finite number or an array of shape (K,), one per class. ``gamma``: a finite number >= 0. Logits follow Keras
    (softmax, then the clip): a class whose softmax probability is below 1e-7 costs -log(1e-7), not its exact
    log-softmax. A 1-D ``y_pred`` is one row. ``axis``: only the last axis. class_weight reads the argmax of the
    y_true row, so one-hot targets of any rank ((N, H, W, C) per pixel) are weighted per row.
    """
    check_last_axis(axis, np.ndim(y_pred))
    alpha, alpha_columns = check_focal_alpha(alpha, prediction_columns(y_pred, one_d_is_column=False),
                                             unit_interval=False)
    options = {"gamma": check_gamma(gamma), "alpha": alpha}
    return evaluate("categorical_focal_logits" if from_logits else "categorical_focal_probabilities", y_true,
                    y_pred, sparse=False, elementwise=False, probabilities=not from_logits,
                    smoothing=check_label_smoothing(label_smoothing), smoothing_classes=None, options=options,
                    columns=alpha_columns, sample_weight=sample_weight, class_weight=class_weight, mask=mask,
                    reduction=reduction, zero_division=zero_division, n_threads=n_threads)


def categorical_generalized_cross_entropy(y_true, y_pred, *, q=0.5, sample_weight=None, class_weight=None,
                                          mask=None, reduction="sum_over_batch_size",
                                          zero_division=DEFAULT_ZERO_DIVISION, n_threads=None):
    """Keras's CategoricalGeneralizedCrossEntropy (Zhang & Sabuncu 2018): ``l = (1 - p_y^q) / q``.

    ``y_true`` holds one integer class ``y`` per row (shape y_pred.shape[:-1], or that plus a trailing 1), e.g.
    (N,) or per pixel (N, H, W) for y_pred (N, H, W, C); ``p_y`` is y_pred's probability of that class, used as
    it is (no clipping, no renormalisation, as in Keras; a NaN anywhere in the row gives NaN, as Keras's
    Σ_k p_k·onehot_k does). ``q`` lies in the open interval (0, 1) (ValueError
    otherwise), default 0.5. Deliberate differences from Keras, which casts labels to int and one-hot encodes
    them: a non-integral label or one outside [0, K) raises ValueError (Keras truncates it, or silently uses
    p_y = 0), and probabilities outside [0, 1] raise ValueError (Keras returns NaN or a meaningless value).
    """
    return evaluate("generalized_cross_entropy", y_true, y_pred, sparse=True, elementwise=False, probabilities=True,
                    options={"q": check_q(q)}, sample_weight=sample_weight, class_weight=class_weight, mask=mask,
                    reduction=reduction, zero_division=zero_division, n_threads=n_threads)


LOSSES = {
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "huber": huber,
    "log_cosh": log_cosh,
    "poisson": poisson,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "kl_divergence": kl_divergence,
    "categorical_hinge": categorical_hinge,
    "cosine_similarity": cosine_similarity,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "categorical_generalized_cross_entropy": categorical_generalized_cross_entropy,
}

# Losses defined in their own modules join the registry (fastloss.LOSSES lists every loss by its Keras name).
from . import overlap as _overlap  # noqa: E402

LOSSES.update(_overlap.LOSSES)
