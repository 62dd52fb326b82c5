"""The oracle of the foundation losses and of the Keras catalog's elementwise and row losses (see __init__)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .._reductions import Totals, canonical_reduction, check_zero_division, divide
from .._arrays import _to_numpy  # reading input is not the spec; the arithmetic below is
from .._options import check_delta, check_label_smoothing, check_last_axis
from ..class_weight import class_key, weight_value

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
    "LOSSES",
]

EPSILON = 1e-7  # keras.backend.epsilon()


# ---------------------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------------------


def _compute_dtype(y_pred):
    """float16 and float32 compute in float32 (the clip bounds of float32); everything else in float64."""
    if y_pred.dtype.kind == "f" and y_pred.dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _clip_bounds(dtype):
    """Keras's probability clip bounds, rounded to the compute dtype, returned as Python floats (float64).

    float32: lo = 1.0000000116860974e-07, hi = 0.99999988079071044921875; float64: lo = 1e-7, hi = 0.9999999.
    """
    lo = dtype.type(EPSILON)
    hi = dtype.type(1 - EPSILON)
    return float(lo), float(hi)


def _prediction_rows(y_pred, one_d_is_column):
    """y_pred as (rows..., K). A 1-D y_pred is (N, 1) for elementwise losses and one row for categorical ones."""
    if y_pred.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one dimension (the last axis is a row), got a scalar")
    if y_pred.ndim == 1 and one_d_is_column:
        y_pred = y_pred.reshape(y_pred.shape[0], 1)
    if y_pred.shape[-1] == 0:
        raise ValueError(f"y_pred: the last (class) axis has size 0 (shape {y_pred.shape})")
    return y_pred


def _dense_targets(y_true, y_pred, y_pred_rows, dtype):
    """Dense y_true with the shape of y_pred_rows, converted to the compute dtype, then to float64.

    Keras's one shape rule (squeeze_or_expand_to_same_rank), applied against y_pred as read in rows (a 1-D
    y_pred of an elementwise loss is already (N, 1)): when the ranks differ by exactly one and the longer array's
    last axis has size 1, that axis is dropped from (or added to) y_true. y_pred always fixes the rows.
    """
    y = y_true
    target_shape = y_pred_rows.shape
    if y.ndim == len(target_shape) + 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    elif len(target_shape) == y.ndim + 1 and target_shape[-1] == 1:
        y = y.reshape(y.shape + (1,))
    if y.shape != target_shape:
        raise ValueError(f"y_true: shape {y_true.shape} does not match y_pred shape {y_pred.shape}")
    return y.astype(dtype).astype(np.float64)


def _sparse_targets(y_true, rows, y_pred):
    """Sparse labels, one per row: y_true has the row shape, or the row shape plus a trailing axis of size 1."""
    if y_true.shape == rows:
        return y_true
    if y_true.shape == rows + (1,):
        return y_true.reshape(rows)
    raise ValueError(
        f"y_true: sparse labels of shape {y_true.shape} do not match y_pred shape {y_pred.shape}; "
        f"expected {rows} or {rows + (1,)}"
    )


def _is_prefix(shape, rows):
    return len(shape) <= len(rows) and tuple(rows[: len(shape)]) == tuple(shape)


def _prefix_of_rows(a, rows, name):
    """mask / sample_weight at a leading prefix of the row shape: () for all rows, (N,), (N, T), ...

    Trailing axes of size 1 that go beyond the prefix are squeezed: (N, 1) on rows (N, T) means (N,).
    """
    given_shape = a.shape
    while not _is_prefix(a.shape, rows) and a.ndim > 0 and a.shape[-1] == 1:
        a = a.reshape(a.shape[:-1])
    if not _is_prefix(a.shape, rows):
        raise ValueError(
            f"{name}: shape {given_shape} is not a leading prefix of the row shape {rows} "
            f"(the shape of y_pred without its last axis)"
        )
    return a


def _broadcast_to_rows(a, rows):
    """A prefix-shaped array repeated over the remaining row axes: row r of sample i gets a[i]."""
    return np.broadcast_to(a.reshape(a.shape + (1,) * (len(rows) - a.ndim)), rows)


def _read_rows(y_true, y_pred, *, sparse, one_d_is_column):
    """The inputs read as rows: (dtype, pred, targets, class_labels).

    dtype is the compute dtype; pred is y_pred as (rows..., K); targets are the dense targets (rows..., K) in the
    compute dtype then float64, or the sparse labels (rows...) as given; class_labels are the rows' classes for
    class_weight, float64, taken from y_true as given.
    """
    y_pred = _to_numpy(y_pred, "y_pred")
    y_true = _to_numpy(y_true, "y_true")
    dtype = _compute_dtype(y_pred)
    pred = _prediction_rows(y_pred, one_d_is_column=one_d_is_column)
    rows = pred.shape[:-1]
    if sparse:
        targets = _sparse_targets(y_true, rows, y_pred)
        class_labels = targets.astype(np.float64)
    else:
        targets = _dense_targets(y_true, y_pred, pred, dtype)
        class_labels = _dense_class_labels(targets)
    return dtype, pred, targets, class_labels


def _unmasked_rows(mask, rows):
    """The rows a mask (prefix of the row shape, nonzero = include) keeps; all rows without a mask."""
    included = np.ones(rows, dtype=bool)
    if mask is not None:
        m = _prefix_of_rows(_to_numpy(mask, "mask"), rows, "mask")
        included = included & _broadcast_to_rows(m != 0, rows)
    return included


def _sample_weight_of_rows(sample_weight, rows):
    """(sw, per-row sample weight): sw is sample_weight at its prefix shape (None without one)."""
    if sample_weight is None:
        return None, np.ones(rows)
    sw = _prefix_of_rows(_to_numpy(sample_weight, "sample_weight").astype(np.float64), rows, "sample_weight")
    return sw, _broadcast_to_rows(sw, rows)


# ---------------------------------------------------------------------------------------------------------
# Labels and class weights
# ---------------------------------------------------------------------------------------------------------


def _check_sparse_labels(labels, n_classes):
    """Labels of included rows must be integers in [0, K): integer or bool dtype, or integral floats."""
    if labels.size == 0:
        return
    in_range = (labels >= 0) & (labels < n_classes)  # False for NaN and inf too
    if not np.all(in_range):
        bad = labels[~in_range][0].item()
        raise ValueError(
            f"y_true: label {bad!r} is out of range for y_pred with {n_classes} classes (expected 0 <= label < {n_classes})"
        )
    if labels.dtype.kind == "f":
        integral = labels == np.floor(labels)
        if not np.all(integral):
            bad = labels[~integral][0].item()
            raise ValueError(f"y_true: label {bad!r} is not an integer")


def _dense_class_labels(y):
    """The class of each dense row, for class weights (Keras's data adapter), as float64.

    K > 1: argmax over the last axis (first maximum). K == 1: the value rounded half to even.
    """
    if y.shape[-1] == 1:
        return np.round(y[..., 0])
    return np.argmax(y, axis=-1).astype(np.float64)


def _format_classes(values):
    return [int(v) if math.isfinite(v) and float(v).is_integer() else float(v) for v in values]


def _class_weight_of_rows(class_labels, class_weight, included):
    """Build the class-weight map and look every row up in it.

    Returns (cw, readable), both row-shaped: readable is False where the row's label is not a class of the map
    (missing from a dict, outside an array, NaN, non-integral); cw is 0 there. Such labels are allowed only in
    excluded rows; in an included row they raise ValueError naming the classes.
    """
    cw = np.zeros(class_labels.shape)
    if isinstance(class_weight, Mapping):
        table = {class_key(k): weight_value(v) for k, v in class_weight.items()}
        readable = np.isin(class_labels, list(table))  # NaN and non-integral labels are never keys
        missing = np.unique(class_labels[included & ~readable])
        if missing.size:
            raise ValueError(
                f"class_weight: the classes {_format_classes(missing)} exist in the data but not in class_weight"
            )
        for key, value in table.items():
            cw[class_labels == key] = value
        return cw, readable

    table = _to_numpy(class_weight, "class_weight").astype(np.float64)
    if table.ndim != 1 or table.size == 0:
        raise ValueError(
            f"class_weight: expected a dict or a non-empty 1-D array indexed by class, got shape {table.shape}"
        )
    if np.any(np.isnan(table)):
        raise ValueError("class_weight: contains NaN")
    readable = (class_labels >= 0) & (class_labels < table.size) & (class_labels == np.floor(class_labels))
    bad = np.unique(class_labels[included & ~readable])
    if bad.size:
        raise ValueError(
            f"class_weight: the classes {_format_classes(bad)} are outside the class_weight array of length {table.size}"
        )
    cw[readable] = table[class_labels[readable].astype(np.int64)]
    return cw, readable


def _effective_weights(sw, sample_weight_of_rows, class_labels, class_weight, included):
    """(weights, legacy_weight_array): w_r = sample_weight_r · class_weight[label_r], and the weight array Keras
    2.2 would see. Rows whose label class_weight cannot read (allowed only in excluded rows) get weight 0."""
    rows = sample_weight_of_rows.shape
    if class_weight is not None:
        cw, readable = _class_weight_of_rows(class_labels, class_weight, included)
        with np.errstate(invalid="ignore", over="ignore"):
            weights = np.where(readable, sample_weight_of_rows * cw, 0.0)
        return weights, weights
    if sw is not None:
        return sample_weight_of_rows, sw  # a scalar sample_weight is a 0-d array: E = 1, E0 = int(sw != 0)
    return sample_weight_of_rows, np.ones(rows)


# ---------------------------------------------------------------------------------------------------------
# Per-row losses. Arguments are float64 arrays of the included rows only: y and p of shape (V, K), labels (V,).
# ---------------------------------------------------------------------------------------------------------


def _check_probabilities(p):
    outside = (p < 0) | (p > 1)  # NaN is not outside: it propagates
    if np.any(outside):
        raise ValueError(
            f"y_pred: probabilities must lie in [0, 1], found {p[outside][0].item()!r} in an included row "
            "(pass from_logits=True for logits)"
        )


def _logsumexp(z):
    """log Σ_k exp(z_k) over the last axis, shifted by the row maximum so that exp never overflows."""
    m = np.max(z, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))[..., 0]


def _bce_rows(y, p, lo, hi, alpha, from_logits):
    y_s = y * (1 - alpha) + alpha / 2
    if from_logits:
        z = p
        return np.mean(np.maximum(z, 0) - z * y_s + np.log1p(np.exp(-np.abs(z))), axis=-1)
    p_c = np.clip(p, lo, hi)
    return np.mean(-(y_s * np.log(p_c) + (1 - y_s) * np.log(1 - p_c)), axis=-1)


def _cce_rows(y, p, lo, hi, alpha, from_logits):
    K = p.shape[-1]
    y_s = y * (1 - alpha) + alpha / K
    if from_logits:
        z = p
        return np.sum(y_s * (_logsumexp(z)[:, None] - z), axis=-1)  # = -Σ_k y_s·(z_k - logsumexp(z))
    q = p / np.sum(p, axis=-1, keepdims=True)
    q_c = np.clip(q, lo, hi)
    return -np.sum(y_s * np.log(q_c), axis=-1)


def _scce_rows(labels, p, lo, hi, from_logits):
    rows = np.arange(p.shape[0])
    if from_logits:
        z = p
        return _logsumexp(z) - z[rows, labels]
    return -np.log(np.clip(p[rows, labels] / np.sum(p, axis=-1), lo, hi))


def _squared_error_rows(y, p):
    return np.mean((y - p) ** 2, axis=-1)


def _absolute_error_rows(y, p):
    return np.mean(np.abs(y - p), axis=-1)


def _absolute_percentage_error_rows(y, p, eps):
    return np.mean(100.0 * np.abs(y - p) / np.maximum(np.abs(y), eps), axis=-1)


def _squared_logarithmic_error_rows(y, p, eps):
    # np.maximum, not np.fmax: a NaN propagates instead of becoming eps
    return np.mean((np.log1p(np.maximum(p, eps)) - np.log1p(np.maximum(y, eps))) ** 2, axis=-1)


def _huber_rows(y, p, delta):
    e = p - y
    a = np.abs(e)
    quadratic = 0.5 * e**2
    linear = delta * a - 0.5 * delta**2
    return np.mean(np.where(a <= delta, quadratic, linear), axis=-1)  # NaN: a <= delta is False, linear is NaN


def _softplus(t):
    """log(1 + exp(t)) without overflow: max(t, 0) + log1p(exp(-|t|))."""
    return np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))


def _log_cosh_rows(y, p):
    x = p - y
    return np.mean(x + _softplus(-2.0 * x) - math.log(2.0), axis=-1)  # log(cosh x) = x + log(1 + e^-2x) - log 2


def _poisson_rows(y, p, eps):
    return np.mean(p - y * np.log(p + eps), axis=-1)


def _hinge_targets(target, included):
    """Keras's batch rule (``convert_binary_labels_to_hinge``), read over the included rows: if every target of
    every included row is 0 or 1, the labels become ``2y - 1`` in {-1, 1}; otherwise they are used as given (a
    mixed {0, 1, -1} array keeps its 0s). NaN is neither 0 nor 1. Keras reads the whole batch, masked positions
    too; fastloss does not, so that an excluded row (padding -1, NaN) never changes the result."""
    kept = target[included]
    if np.all((kept == 0) | (kept == 1)):
        return 2.0 * target - 1.0
    return target


def _hinge_rows(y, p):
    return np.mean(np.maximum(1.0 - y * p, 0.0), axis=-1)


def _squared_hinge_rows(y, p):
    return np.mean(np.maximum(1.0 - y * p, 0.0) ** 2, axis=-1)


def _kl_divergence_rows(y, p, eps):
    y_c = np.clip(y, eps, 1.0)
    p_c = np.clip(p, eps, 1.0)
    return np.sum(y_c * np.log(y_c / p_c), axis=-1)


def _categorical_hinge_rows(y, p):
    pos = np.sum(y * p, axis=-1)
    neg = np.max((1.0 - y) * p, axis=-1)  # np.max propagates NaN
    return np.maximum(neg - pos + 1.0, 0.0)


def _l2_normalize(x, eps):
    """Keras's ``ops.nn.normalize``: ``x · min(1/sqrt(Σ_k x²), 1/ε)``. A zero vector gives 1/ε·0 = 0."""
    inv_norm = 1.0 / np.sqrt(np.sum(x * x, axis=-1, keepdims=True))  # inf for a zero vector
    return x * np.minimum(inv_norm, 1.0 / eps)  # np.minimum: a NaN norm propagates


def _cosine_similarity_rows(y, p, eps):
    return -np.sum(_l2_normalize(y, eps) * _l2_normalize(p, eps), axis=-1)


# ---------------------------------------------------------------------------------------------------------
# Reductions, each computed directly from the arrays
# ---------------------------------------------------------------------------------------------------------


def _keras_legacy(losses, included, weight_array, zero_division):
    """Keras 2.2 ``weighted_masked_objective`` (SEMANTICS.md §1.2), step by step.

    ``losses`` is row-shaped (the score ``s``), ``included`` the row-shaped mask ``m``, ``weight_array`` the
    ``weights`` Keras receives: the sample_weight array at its prefix shape (0-d for a scalar), the row-shaped
    effective weights when class_weight is given, or ones of the row shape. Closed form: ``S·E / (V·E0)``.
    """
    name = "keras_legacy"
    # 1. s = fn(y_true, y_pred); excluded rows are set to 0 by selection, never by multiplying.
    s = np.where(included, losses, 0.0)
    # 2. s <- s·m / mean(m), the mean over the whole batch's mask. No included row: Keras's 0/0.
    mean_m = np.mean(included) if included.size else 0.0
    if mean_m == 0:
        return divide(0.0, 0.0, zero_division, name)
    s = s / mean_m
    # 3a. mean of s over the trailing axes the weight array lacks (per-sample weights average over T).
    s = np.mean(s, axis=tuple(range(weight_array.ndim, s.ndim)))
    # 3b. s <- s·w. A weight entry none of whose rows is included is not used (its s is 0 and its weight may be
    #     NaN or inf, which must not leak); select it away instead of multiplying.
    entry_included = np.any(included, axis=tuple(range(weight_array.ndim, included.ndim)))
    s = np.where(entry_included, s * np.where(entry_included, weight_array, 0.0), 0.0)
    # 3c. s <- s / mean(w != 0), the share of non-zero weight entries, masked or not. All zero: Keras's 0/0.
    nonzero_share = np.mean(weight_array != 0)
    if nonzero_share == 0:
        return divide(0.0, 0.0, zero_division, name)
    s = s / nonzero_share
    # 4. the mean over the entries of the weight array.
    return float(np.mean(s))


def _reduce(losses, included, weights, legacy_weight_array, dtype, reduction, zero_division):
    """Turn row-shaped losses and effective weights into the requested reduction.

    losses: row-shaped float64, l_r in included rows (0 elsewhere, never computed); weights: row-shaped
    effective weights w_r; legacy_weight_array: the weight array Keras 2.2 would see (E = its size, E0 = its
    non-zero entries, mask ignored).
    """
    l = losses[included]
    w = weights[included]
    weighted = w * l

    if reduction == "none":
        out = np.zeros(included.shape)
        out[included] = weighted
        return out.astype(dtype)

    S = np.sum(weighted)  # Σ w·l over included rows
    V = int(np.count_nonzero(included))  # included rows
    R = included.size  # all rows
    W = np.sum(w)  # Σ w over included rows
    Z = int(np.count_nonzero(w))  # included rows with w != 0 (NaN counts as non-zero)

    if reduction == "totals":
        return Totals(
            weighted_sum=float(S),
            weight_sum=float(W),
            count=V,
            nonzero_rows=Z,
            rows=R,
            weight_entries=int(legacy_weight_array.size),
            nonzero_weight_entries=int(np.count_nonzero(legacy_weight_array)),
        )
    if reduction == "sum":
        return float(S)
    if reduction == "sum_over_batch_size":
        return divide(S, V, zero_division, reduction)
    if reduction == "sum_over_all_rows":
        return divide(S, R, zero_division, reduction)
    if reduction == "mean_with_sample_weight":
        return divide(S, W, zero_division, reduction)
    if reduction == "sum_by_nonzero_weights":
        return divide(S, Z, zero_division, reduction)
    if reduction == "keras_legacy":
        return _keras_legacy(losses, included, legacy_weight_array, zero_division)
    raise AssertionError(reduction)  # canonical_reduction admits nothing else


# ---------------------------------------------------------------------------------------------------------
# The shared driver
# ---------------------------------------------------------------------------------------------------------

# Losses computed value by value and averaged over the last axis; a 1-D y_pred is N rows of one value.
ELEMENTWISE_KINDS = ("mse", "mae", "mape", "msle", "huber", "log_cosh", "poisson", "hinge", "squared_hinge")
# Losses of a whole row of K values (not a mean of per-value terms); a 1-D y_pred is one row, like "cce".
ROW_KINDS = ("kl_divergence", "categorical_hinge", "cosine_similarity")


def _evaluate(
    y_true,
    y_pred,
    *,
    kind,  # "bce", "cce", "scce", an elementwise kind (ELEMENTWISE_KINDS) or a row kind (ROW_KINDS)
    from_logits=False,
    label_smoothing=0.0,
    ignore_class=None,
    delta=1.0,
    axis=-1,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
):
    reduction = canonical_reduction(reduction)
    zero_division = check_zero_division(zero_division)
    sparse = kind == "scce"
    probabilities = kind in ("bce", "cce", "scce") and not from_logits
    alpha = check_label_smoothing(label_smoothing)
    if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)):
        raise TypeError(f"ignore_class: expected None or an integer class, got {ignore_class!r}")
    if kind == "huber":
        delta = check_delta(delta)

    # Rows.
    if kind == "cosine_similarity":
        y_pred = _to_numpy(y_pred, "y_pred")
        if y_pred.ndim > 0:
            check_last_axis(axis, y_pred.ndim)
    dtype, pred, target, class_labels = _read_rows(
        y_true, y_pred, sparse=sparse, one_d_is_column=kind == "bce" or kind in ELEMENTWISE_KINDS
    )
    labels = target if sparse else None  # class_labels come from y_true as given (before hinge's 2y - 1)
    rows, K = pred.shape[:-1], pred.shape[-1]
    lo, hi = _clip_bounds(dtype)
    eps = lo  # keras.backend.epsilon() in the compute dtype, as a float64

    # Included rows: mask (nonzero = include) AND label != ignore_class.
    included = _unmasked_rows(mask, rows)
    if ignore_class is not None:
        included = included & (labels != ignore_class)
    if kind in ("hinge", "squared_hinge"):
        target = _hinge_targets(target, included)

    # Effective weights, row-shaped, and the weight array Keras 2.2 would see.
    sw, sample_weight_of_rows = _sample_weight_of_rows(sample_weight, rows)
    if sparse:
        _check_sparse_labels(labels[included], K)  # before the class weights look the labels up
    weights, legacy_weight_array = _effective_weights(sw, sample_weight_of_rows, class_labels, class_weight, included)

    # Per-row losses of the included rows only, in float64.
    p = pred[included].astype(np.float64)
    if probabilities:
        _check_probabilities(p)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "bce":
            l = _bce_rows(target[included], p, lo, hi, alpha, from_logits)
        elif kind == "cce":
            l = _cce_rows(target[included], p, lo, hi, alpha, from_logits)
        elif kind == "scce":
            l = _scce_rows(labels[included].astype(np.int64), p, lo, hi, from_logits)
        elif kind == "mse":
            l = _squared_error_rows(target[included], p)
        elif kind == "mae":
            l = _absolute_error_rows(target[included], p)
        elif kind == "mape":
            l = _absolute_percentage_error_rows(target[included], p, eps)
        elif kind == "msle":
            l = _squared_logarithmic_error_rows(target[included], p, eps)
        elif kind == "huber":
            l = _huber_rows(target[included], p, delta)
        elif kind == "log_cosh":
            l = _log_cosh_rows(target[included], p)
        elif kind == "poisson":
            l = _poisson_rows(target[included], p, eps)
        elif kind == "hinge":
            l = _hinge_rows(target[included], p)
        elif kind == "kl_divergence":
            l = _kl_divergence_rows(target[included], p, eps)
        elif kind == "categorical_hinge":
            l = _categorical_hinge_rows(target[included], p)
        elif kind == "cosine_similarity":
            l = _cosine_similarity_rows(target[included], p, eps)
        else:
            assert kind == "squared_hinge", kind
            l = _squared_hinge_rows(target[included], p)
    losses = np.zeros(rows)
    losses[included] = l

    with np.errstate(invalid="ignore", over="ignore"):
        return _reduce(losses, included, weights, legacy_weight_array, dtype, reduction, zero_division)


def _evaluate_rows(y_true, y_pred, row_loss, *, sparse, one_d_is_column, probabilities, sample_weight=None,
                   class_weight=None, mask=None, reduction="sum_over_batch_size", zero_division=0.0):
    """The same recipe as ``_evaluate`` with the per-row loss passed in (the catalog losses and the metrics).

    ``row_loss(targets, p, lo, hi)`` gets the included rows only: targets (V, K) float64 (dense, y_true as
    given in the compute dtype) or (V,) int64 labels (sparse), p (V, K) float64; it returns the V row losses."""
    reduction = canonical_reduction(reduction)
    zero_division = check_zero_division(zero_division)

    # Rows, included rows, effective weights and the weight array Keras 2.2 would see.
    dtype, pred, targets, class_labels = _read_rows(y_true, y_pred, sparse=sparse, one_d_is_column=one_d_is_column)
    rows, K = pred.shape[:-1], pred.shape[-1]
    lo, hi = _clip_bounds(dtype)
    included = _unmasked_rows(mask, rows)
    sw, sample_weight_of_rows = _sample_weight_of_rows(sample_weight, rows)
    if sparse:
        _check_sparse_labels(targets[included], K)
    weights, legacy_weight_array = _effective_weights(sw, sample_weight_of_rows, class_labels, class_weight, included)

    # Per-row losses of the included rows, in float64.
    p = pred[included].astype(np.float64)
    if probabilities:
        _check_probabilities(p)
    kept = targets[included].astype(np.int64) if sparse else targets[included]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        losses = np.zeros(rows)
        losses[included] = row_loss(kept, p, lo, hi)
        return _reduce(losses, included, weights, legacy_weight_array, dtype, reduction, zero_division)


# ---------------------------------------------------------------------------------------------------------
# Public functions: the same signatures as fastloss's
# ---------------------------------------------------------------------------------------------------------

_COMMON_DOC = """
    Common options: ``sample_weight`` (None, a scalar, or an array whose shape is a leading prefix of the row
    shape), ``class_weight`` (dict {class: weight} or 1-D array indexed by class), ``mask`` (prefix of the row
    shape, nonzero = include), ``reduction`` (see the module docstring), ``zero_division`` ("nan", "raise" or a
    number) and ``n_threads`` (accepted and ignored). Row weight: ``w_r = sample_weight_r · class_weight[label_r]``.
"""


def binary_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    label_smoothing=0.0,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Keras's binary crossentropy, one value per row (mean over the last axis).

    ``y_s = y·(1 - α) + α/2`` with ``α = label_smoothing``.
    Probabilities: ``p_c = clip(p, lo, hi)``, ``l = mean_k -(y_s·log(p_c) + (1 - y_s)·log(1 - p_c))``.
    Logits: ``l = mean_k (max(z, 0) - z·y_s + log1p(exp(-|z|)))``.
    Class of a row (for class_weight): argmax of y_true if K > 1, round-half-to-even(y_true) if K == 1.
    """
    return _evaluate(
        y_true, y_pred, kind="bce", from_logits=from_logits, label_smoothing=label_smoothing,
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division,
    )


def categorical_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    label_smoothing=0.0,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Keras's categorical crossentropy over the K classes of the last axis.

    ``y_s = y·(1 - α) + α/K``.
    Probabilities (rows renormalised, then clipped): ``q = p / Σ_k p``, ``l = -Σ_k y_s·log(clip(q, lo, hi))``.
    Logits: ``l = -Σ_k y_s·(z_k - logsumexp(z))``.
    Class of a row (for class_weight): argmax of y_true (first maximum).
    """
    return _evaluate(
        y_true, y_pred, kind="cce", from_logits=from_logits, label_smoothing=label_smoothing,
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division,
    )


def sparse_categorical_crossentropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    ignore_class=None,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Keras's sparse categorical crossentropy, one integer label ``y`` per row.

    Probabilities: ``l = -log(clip(p_y / Σ_k p, lo, hi))``. Logits: ``l = logsumexp(z) - z_y``.
    Labels: integer, bool or integral float, ``0 <= y < K`` in included rows. Rows whose label equals
    ``ignore_class`` are excluded exactly as ``mask=False`` would exclude them.
    """
    return _evaluate(
        y_true, y_pred, kind="scce", from_logits=from_logits, ignore_class=ignore_class,
        sample_weight=sample_weight, class_weight=class_weight, mask=mask, reduction=reduction,
        zero_division=zero_division,
    )


def mean_squared_error(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Mean squared error per row: ``l = mean_k (y - p)²``."""
    return _evaluate(
        y_true, y_pred, kind="mse", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def mean_absolute_error(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Mean absolute error per row: ``l = mean_k |y - p|``."""
    return _evaluate(
        y_true, y_pred, kind="mae", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def mean_absolute_percentage_error(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Mean absolute percentage error per row: ``l = mean_k 100·|y - p| / max(|y|, ε)``.

    ``ε = dtype(1e-7)`` in the compute dtype. A zero target is not an error: it gives ``100·|p| / ε``.
    """
    return _evaluate(
        y_true, y_pred, kind="mape", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def mean_squared_logarithmic_error(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Mean squared logarithmic error per row: ``l = mean_k (log1p(max(p, ε)) - log1p(max(y, ε)))²``.

    Values below ``ε = dtype(1e-7)`` (negatives included) are floored at ε; NaN propagates.
    """
    return _evaluate(
        y_true, y_pred, kind="msle", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def huber(
    y_true,
    y_pred,
    *,
    delta=1.0,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Huber loss per row, with ``e = p - y``: ``h = ½e²`` if ``|e| <= δ``, else ``δ·|e| - ½δ²``;
    ``l = mean_k h``.

    ``delta`` (δ) is a finite number >= 0 (ValueError otherwise; TypeError for a non-number), used as float64.
    """
    return _evaluate(
        y_true, y_pred, kind="huber", delta=delta, sample_weight=sample_weight, class_weight=class_weight,
        mask=mask, reduction=reduction, zero_division=zero_division,
    )


def log_cosh(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """log(cosh(x)) per value, ``x = p - y``, in Keras's overflow-free form:
    ``l = mean_k (x + softplus(-2x) - log 2)`` with ``softplus(t) = max(t, 0) + log1p(exp(-|t|))``.
    """
    return _evaluate(
        y_true, y_pred, kind="log_cosh", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def poisson(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Poisson loss per row: ``l = mean_k (p - y·log(p + ε))``, ``ε = dtype(1e-7)``.

    No clipping: ``p < -ε`` gives NaN (log of a negative number), as in Keras.
    """
    return _evaluate(
        y_true, y_pred, kind="poisson", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def hinge(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Hinge loss per row: ``l = mean_k max(1 - y'·p, 0)``.

    Keras's batch rule: ``y' = 2y - 1`` if every value of the whole y_true array (excluded rows included) is 0
    or 1, else ``y' = y``. The class of a row (for class_weight) is read from y_true as given.
    """
    return _evaluate(
        y_true, y_pred, kind="hinge", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def squared_hinge(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Squared hinge loss per row: ``l = mean_k max(1 - y'·p, 0)²``, with hinge's ``y'`` (batch rule)."""
    return _evaluate(
        y_true, y_pred, kind="squared_hinge", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def kl_divergence(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Kullback-Leibler divergence over the K values of the last axis (a 1-D y_pred is one row):
    ``l = Σ_k ỹ·log(ỹ / p̃)`` with ``ỹ = clip(y, ε, 1)``, ``p̃ = clip(p, ε, 1)``, ``ε = dtype(1e-7)``.

    Nothing is renormalised and nothing is rejected: values outside [0, 1] are clipped. ``p = 0`` gives
    ``ỹ·log(ỹ / ε)``. Class of a row (for class_weight): argmax of y_true (first maximum) if K > 1, rounded y_true
    if K == 1.
    """
    return _evaluate(
        y_true, y_pred, kind="kl_divergence", sample_weight=sample_weight, class_weight=class_weight, mask=mask,
        reduction=reduction, zero_division=zero_division,
    )


def categorical_hinge(
    y_true,
    y_pred,
    *,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Categorical hinge over the K values of the last axis (a 1-D y_pred is one row):
    ``pos = Σ_k y·p``, ``neg = max_k (1 - y)·p``, ``l = max(neg - pos + 1, 0)``. NaN propagates.

    Class of a row (for class_weight): argmax of y_true (first maximum) if K > 1, rounded y_true if K == 1.
    """
    return _evaluate(
        y_true, y_pred, kind="categorical_hinge", sample_weight=sample_weight, class_weight=class_weight,
        mask=mask, reduction=reduction, zero_division=zero_division,
    )


def cosine_similarity(
    y_true,
    y_pred,
    *,
    axis=-1,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    """Negative cosine similarity over the K values of the last axis (a 1-D y_pred is one row):
    ``x̂ = x·min(1/sqrt(Σ_k x²), 1/ε)`` for x in (y, p) (Keras's ``ops.nn.normalize``; a zero vector gives 0),
    ``l = -Σ_k ŷ·p̂``, in [-1, 1]: -1 for parallel vectors, 0 for orthogonal ones or a zero vector.

    ``axis``: only the last axis is supported, -1 or ``y_pred.ndim - 1`` (ValueError naming axis otherwise;
    TypeError for a non-integer). Class of a row (for class_weight): argmax of y_true (first maximum) if K > 1,
    rounded y_true if K == 1.
    """
    return _evaluate(
        y_true, y_pred, kind="cosine_similarity", axis=axis, sample_weight=sample_weight,
        class_weight=class_weight, mask=mask, reduction=reduction, zero_division=zero_division,
    )


for _f in (binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error,
           mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, huber, log_cosh,
           poisson, hinge, squared_hinge, kl_divergence, categorical_hinge, cosine_similarity):
    if _f.__doc__:  # None under python -OO
        _f.__doc__ += _COMMON_DOC
del _f

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
}
