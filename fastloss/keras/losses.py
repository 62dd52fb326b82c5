"""Keras 3's ``keras.losses``: the same classes, functions, names, defaults and numbers, computed by fastloss.

Classes are called as Keras's are, ``loss(y_true, y_pred, sample_weight=None, mask=None)``, where ``mask``
stands in for the ``_keras_mask`` Keras reads from ``y_pred``; functions return the per-sample values (NumPy
arrays). Every deliberate difference from Keras is listed in the table of ``fastloss.keras``'s docstring.
"""

from __future__ import annotations

import inspect
import numbers
import re
from collections.abc import Mapping

import numpy as np

import fastloss
from fastloss._arrays import _to_numpy

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "Huber",
    "LogCosh",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "KLDivergence",
    "Poisson",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "SparseCategoricalCrossentropy",
    "Dice",
    "Tversky",
    "CategoricalGeneralizedCrossEntropy",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "cosine_similarity",
    "huber",
    "log_cosh",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "kl_divergence",
    "poisson",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
    "dice",
    "tversky",
    "categorical_generalized_cross_entropy",
    "mse",
    "MSE",
    "mae",
    "MAE",
    "mape",
    "MAPE",
    "msle",
    "MSLE",
    "bce",
    "BCE",
    "kld",
    "KLD",
    "class_weight_to_sample_weight",
    "get",
    "REDUCTIONS",
]

# Keras 3.15.1 ``keras.src.losses.loss.standardize_reduction``: exactly these, no others.
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

# Keras's floatx. fastloss never reads ~/.keras/keras.json: dtype=None is always float32, as in a fresh Keras.
FLOATX = np.float32


# ----------------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------------

def _check_reduction(reduction):
    if not (reduction is None or (isinstance(reduction, str) and reduction in REDUCTIONS)):
        raise ValueError(
            f"reduction: unknown value {reduction!r}; Keras 3 allows "
            f"{', '.join(map(repr, REDUCTIONS))} (fastloss's other conventions are in fastloss.REDUCTIONS)"
        )
    return "none" if reduction is None else reduction


def _compute_dtype(dtype):
    """The dtype the inputs are cast to: None is Keras's floatx (float32); a DTypePolicy gives its compute dtype."""
    if dtype is None:
        return FLOATX
    given = dtype
    dtype = getattr(dtype, "compute_dtype", dtype)  # keras.DTypePolicy, without importing keras
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved == np.float32:
        return np.float32
    if resolved == np.float64:
        return np.float64
    raise ValueError(
        f"dtype: fastloss computes in 'float32' or 'float64' (None means Keras's floatx, float32), got {given!r}"
    )


def _check_axis(axis, ndim, *, allow_tuple):
    """Keras's ``axis`` as a tuple of non-negative axes of an ndim-D y_pred."""
    axes = axis if allow_tuple and isinstance(axis, (tuple, list)) else (axis,)
    if not axes:
        raise ValueError("axis: an empty tuple names no axis")
    out = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
            expected = "an integer or a tuple of integers" if allow_tuple else "an integer"
            raise TypeError(f"axis: expected {expected}, got {axis!r}")
        if not -ndim <= int(a) < ndim:
            raise ValueError(f"axis: {axis!r} is out of range for y_pred with {ndim} axes")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axis: {axis!r} repeats an axis")
    return tuple(out)


def _move_axes_last(x, axes):
    """x with ``axes`` moved to the end and merged into one (a view when possible)."""
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, rest + list(axes))
    if len(axes) == 1:
        return moved
    return moved.reshape(moved.shape[: len(rest)] + (-1,))


def _same_rank(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank``: only ranks differing by one with a size-1 last axis change."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        else:
            y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[:, None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _core(name):
    # Looked up at call time: a loss written in another part of fastloss is found once it is built in.
    try:
        return fastloss.LOSSES[name]
    except KeyError:
        raise NotImplementedError(f"fastloss.{name} is not part of this build of fastloss") from None


# ----------------------------------------------------------------------------------------------------------
# Class weights (Keras 3's data-adapter rule: classes missing from the dict weigh 1)
# ----------------------------------------------------------------------------------------------------------

def _check_class_weight(class_weight):
    if not isinstance(class_weight, Mapping):
        raise TypeError(
            "class_weight: expected a dict {class: weight} as Keras's Model.fit takes, "
            f"got {type(class_weight).__name__}"
        )
    checked = {}
    for key, value in class_weight.items():
        integral = isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_))
        if not integral and not (isinstance(key, numbers.Real) and float(key).is_integer()):
            raise ValueError(f"class_weight: keys must be integer classes, got {key!r}")
        try:
            weight = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"class_weight: weights must be numbers, got {value!r} for class {key!r}") from None
        checked[int(key)] = weight
    return checked


def _lookup(labels, class_weight):
    """class_weight[label] for each integer label, 1.0 for a label the dict does not list."""
    classes, inverse = np.unique(labels, return_inverse=True)
    table = np.array([class_weight.get(int(c), 1.0) for c in classes], dtype=np.float64)
    return table[inverse].reshape(labels.shape)


def _rounded_labels(values, name):
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: holds NaN or inf, which is not a class for class_weight")
    return np.round(values).astype(np.int64)


def class_weight_to_sample_weight(y_true, class_weight):
    """Per-sample weights from ``class_weight``, exactly as Keras 3's ``Model.fit`` makes them.

    Keras 3 (``data_adapter_utils.class_weight_to_sample_weights``) reads one class per sample: the argmax of
    the last axis when ``y_true`` has rank >= 2 and a last axis longer than 1, the value itself otherwise
    (rank 1, or a last axis of size 1), rounded to an integer. A class missing from the dict weighs 1.0 (the
    core ``fastloss`` raises instead). Returns a float64 array of shape ``(N,)``.

    Keras's rule has one class per *sample*: labels of shape ``(N, T)`` are read as one-hot rows and
    argmax'ed over ``T``, as Keras does. For per-timestep or per-pixel class weights, pass ``class_weight=``
    to the loss call instead, which weighs each row by its own class.
    """
    class_weight = _check_class_weight(class_weight)
    y = _to_numpy(y_true, "y_true")
    if y.ndim == 0:
        raise ValueError("y_true: expected one label (or one target row) per sample, got a scalar")
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[..., 0]
    if y.ndim > 1:
        raise ValueError(
            f"y_true: shape {np.shape(y_true)} gives one class per position, not per sample (Keras's data adapter "
            "fails here too); pass class_weight= to the loss call for per-position class weights"
        )
    return _lookup(_rounded_labels(y, "y_true"), class_weight)


def _class_weight_for_rows(class_weight, y_true, y_pred, sparse):
    """(class_weight table for the engine, or None; per-row sample weights, or None)."""
    if not sparse and y_pred.shape[-1] == 1:
        # K == 1: the class is the rounded target, which may be negative (hinge's ±1 targets)
        return None, _lookup(_rounded_labels(y_true[..., 0], "y_true"), class_weight)
    # Every included row's class lies in 0..K-1 (the engine rejects other sparse labels; excluded rows, such as
    # ignore_class ones, are never looked up), so a table over 0..K-1 with 1.0 for missing classes is the rule.
    table = np.ones(max(y_pred.shape[-1], max(class_weight, default=-1) + 1))
    for key, weight in class_weight.items():
        if key >= 0:
            table[key] = weight
    return table, None


# ----------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------

class _Spec:
    """How one Keras loss reaches fastloss: the core function, whether labels are sparse, which axis rule."""

    def __init__(self, core, *, sparse=False, axis=None):
        self.core = core
        self.sparse = sparse
        self.axis = axis  # None: no axis argument; "int": one class axis; "tuple": int or tuple; "overlap"


def _prepare(spec, kwargs, y_true, y_pred, dtype):
    """(y_true, y_pred, core keyword arguments, scalar) with Keras's shape rules applied.

    ``scalar`` is True when Keras's loss for these inputs is one value for the whole batch (a 1-D y_pred of a
    loss that reduces the last axis); fastloss then computes that value as one row.
    """
    kwargs = dict(kwargs)
    y_pred = _to_numpy(y_pred, "y_pred")
    if y_pred.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    y_pred = y_pred.astype(dtype, copy=False)
    y_true = _to_numpy(y_true, "y_true")
    axis = kwargs.pop("axis", -1)
    if spec.sparse:
        axes = _check_axis(axis, y_pred.ndim, allow_tuple=False)
        if y_true.ndim == y_pred.ndim and y_true.shape[axes[0]] == 1:
            y_true = np.squeeze(y_true, axis=axes[0])  # Keras squeezes labels of shape (N, 1) on that axis
        y_pred = _move_axes_last(y_pred, axes)
        return y_true, y_pred, kwargs, y_pred.ndim == 1  # one row: fastloss reads a 1-D y_pred as that
    y_true = y_true.astype(dtype, copy=False)
    y_true, y_pred = _same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true: shape {y_true.shape} does not match y_pred shape {y_pred.shape}")
    if spec.axis == "overlap":
        kwargs["axis"] = axis  # fastloss's dice/tversky read Keras's axis themselves (None: one batch value)
        return y_true, y_pred, kwargs, False
    if spec.axis in ("int", "tuple"):
        axes = _check_axis(axis, y_pred.ndim, allow_tuple=spec.axis == "tuple")
        y_true, y_pred = _move_axes_last(y_true, axes), _move_axes_last(y_pred, axes)
        if spec.core == "cosine_similarity":
            kwargs["axis"] = -1
    scalar = y_pred.ndim == 1
    if scalar:
        y_true, y_pred = y_true[None], y_pred[None]
    return y_true, y_pred, kwargs, scalar


def _per_row(spec, kwargs, y_true, y_pred, dtype, n_threads=None):
    """The unweighted per-sample values (what Keras's functions return), as an array of the compute dtype."""
    y_true, y_pred, kwargs, scalar = _prepare(spec, kwargs, y_true, y_pred, dtype)
    rows = np.asarray(_core(spec.core)(y_true, y_pred, **kwargs, reduction="none", n_threads=n_threads))
    return rows.reshape(()) if scalar else rows


def _scalar_loss_reduced(value, sample_weight, mask, reduction, dtype):
    """Keras's reduction of a loss that is one value for the batch: the weights and the mask broadcast onto it.

    Keras multiplies the scalar by the weight array (and the mask) and reduces *that* array, so the value
    counts once per weight entry: "sum" is value·Σw, the default value·Σw/#valid, "mean_with_sample_weight"
    the value itself.
    """
    weights = np.float64(1.0) if sample_weight is None else _to_numpy(sample_weight, "sample_weight").astype(np.float64)
    included = np.True_ if mask is None else _to_numpy(mask, "mask") != 0
    try:
        weights, included = np.broadcast_arrays(weights, included)
    except ValueError:
        raise ValueError(
            f"mask: shape {np.shape(mask)} does not broadcast with sample_weight shape {np.shape(sample_weight)}"
        ) from None
    if reduction == "none" or weights.ndim == 0:
        # Keras returns an unreduced array for "none", and for every reduction when the product is a scalar
        out = np.where(included, value * weights, 0.0).astype(dtype)
        return out if reduction == "none" else dtype(out)
    kept = weights[included]
    totals = fastloss.Totals(
        weighted_sum=float(value) * float(np.sum(kept)),
        weight_sum=float(np.sum(kept)),
        count=int(kept.size),
        nonzero_rows=int(np.count_nonzero(kept)),
        rows=int(weights.size),
        weight_entries=int(weights.size),
        nonzero_weight_entries=int(np.count_nonzero(weights)),
    )
    return dtype(totals.result(reduction, 0.0))


def _evaluate(spec, kwargs, y_true, y_pred, *, dtype, sample_weight, mask, class_weight, reduction, n_threads):
    """Loss.__call__: Keras's shape rules, then the core loss with the Keras reduction."""
    reduction = _check_reduction(reduction)
    if class_weight is not None:
        if sample_weight is not None:
            raise ValueError(
                "class_weight: Keras 3 cannot use class_weight and sample_weight at the same time; multiply them "
                "into sample_weight (or use the core fastloss functions, which multiply the two)"
            )
        class_weight = _check_class_weight(class_weight)
    labels_given = y_true
    y_true, y_pred, kwargs, scalar = _prepare(spec, kwargs, y_true, y_pred, dtype)
    if scalar:
        if class_weight is not None:
            sample_weight = class_weight_to_sample_weight(labels_given, class_weight)
        value = np.asarray(_core(spec.core)(y_true, y_pred, **kwargs, reduction="none", n_threads=n_threads))
        value = value.reshape(())
        return _scalar_loss_reduced(value, sample_weight, mask, reduction, dtype)
    extra = {}
    if spec.axis == "overlap":
        # Dice/Tversky rows have no class: Model.fit's per-sample weights, as Keras
        if class_weight is not None:
            sample_weight = class_weight_to_sample_weight(labels_given, class_weight)
        if kwargs["axis"] is None and (sample_weight is None or np.ndim(sample_weight) == 0):
            if mask is not None:
                # Keras spreads the batch value over the mask's entries as over weights (Σ m·w·L for "sum")
                weight = 1.0 if sample_weight is None else sample_weight
                sample_weight = np.broadcast_to(_to_numpy(weight, "sample_weight"), np.shape(mask))
            elif sample_weight is not None:
                # Keras: the batch value times a scalar weight is a scalar, which no reduction changes
                value = _core(spec.core)(y_true, y_pred, **kwargs, reduction="none", n_threads=n_threads)
                value = np.asarray(np.asarray(value, dtype=np.float64) * float(sample_weight), dtype=dtype)
                return value if reduction == "none" else dtype(value)
    elif class_weight is not None:
        extra["class_weight"], sample_weight = _class_weight_for_rows(class_weight, y_true, y_pred, spec.sparse)
    out = _core(spec.core)(y_true, y_pred, **kwargs, **extra, sample_weight=sample_weight, mask=mask,
                           reduction=reduction, zero_division=0.0, n_threads=n_threads)
    if reduction == "none":
        return np.asarray(out, dtype=dtype)
    return dtype(out)


# ----------------------------------------------------------------------------------------------------------
# Classes
# ----------------------------------------------------------------------------------------------------------

def _snake_case(name):
    # Keras's naming.to_snake_case: KLDivergence -> kl_divergence (Keras then adds _1, _2... to repeated names)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base of the Keras loss classes: ``reduction``, ``name``, ``dtype``, ``__call__``, ``call``, configs.

    ``dtype``: the compute dtype, None (Keras's floatx, float32), "float32" or "float64"; inputs are cast to it,
    so probability clipping happens at its 1 - 1e-7, as in Keras. fastloss still accumulates in double.
    """

    _spec: _Spec
    # constructor parameters that Keras's get_config reports (besides name and reduction)
    _keras_config = ()
    # constructor parameters that Keras's get_config drops; fastloss reports them so from_config round-trips
    _extra_config = ()

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        _check_reduction(reduction)
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = reduction
        self._given_dtype = dtype
        self._compute = _compute_dtype(dtype)

    @property
    def dtype(self):
        return np.dtype(self._compute).name

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # the loss's own parameters: the constructor's, less what every Keras loss takes
        cls._parameters = tuple(p for p in inspect.signature(cls.__init__).parameters
                                if p not in ("self", "reduction", "name", "dtype"))

    @property
    def _fn_kwargs(self):
        return {p: getattr(self, p) for p in self._parameters}

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None, *, class_weight=None, n_threads=None):
        """The reduced loss (a NumPy scalar of the compute dtype), or the weighted per-sample array for "none".

        ``mask``: True where a position counts, with a shape leading y_pred's shape without its last axis
        (Keras's ``_keras_mask``); the default reduction then divides by the number of valid positions.
        ``sample_weight``: a scalar or an array whose shape leads that row shape ((N,) weighs every position
        of sample i). ``class_weight``: a dict {class: weight} applied per row by the row's class, missing
        classes weighing 1 (Keras's Model.fit rule); not together with sample_weight, as in Keras.
        """
        return _evaluate(self._spec, self._fn_kwargs, y_true, y_pred, dtype=self._compute,
                         sample_weight=sample_weight, mask=mask, class_weight=class_weight,
                         reduction=self.reduction, n_threads=n_threads)

    def call(self, y_true, y_pred):
        """The unweighted, unreduced per-sample losses, as Keras's ``Loss.call``."""
        return _per_row(self._spec, self._fn_kwargs, y_true, y_pred, self._compute)

    def get_config(self):
        config = {"name": self.name, "reduction": self.reduction}
        config.update({key: getattr(self, key) for key in self._keras_config + self._extra_config})
        if self._given_dtype is not None:
            config["dtype"] = self._given_dtype
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<fastloss.keras.losses.{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class MeanSquaredError(Loss):
    """Keras's ``MeanSquaredError``: mean of (y_true - y_pred)² over the last axis."""

    _spec = _Spec("mean_squared_error")

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(Loss):
    """Keras's ``MeanAbsoluteError``: mean of |y_true - y_pred| over the last axis."""

    _spec = _Spec("mean_absolute_error")

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(Loss):
    """Keras's ``MeanAbsolutePercentageError``: 100·mean |y - p| / max(|y|, 1e-7)."""

    _spec = _Spec("mean_absolute_percentage_error")

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanSquaredLogarithmicError(Loss):
    """Keras's ``MeanSquaredLogarithmicError``: mean of (log1p(max(p, ε)) - log1p(max(y, ε)))²."""

    _spec = _Spec("mean_squared_logarithmic_error")

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(Loss):
    """Keras's ``CosineSimilarity``: -Σ ŷ·p̂ over ``axis`` (an integer or a tuple of axes)."""

    _spec = _Spec("cosine_similarity", axis="tuple")
    _extra_config = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis


class Huber(Loss):
    """Keras's ``Huber``: ½e² where |e| <= delta, else delta·|e| - ½delta², mean over the last axis."""

    _spec = _Spec("huber")
    _extra_config = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = delta


class LogCosh(Loss):
    """Keras's ``LogCosh``: mean of log(cosh(y_pred - y_true)) over the last axis."""

    _spec = _Spec("log_cosh")

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Hinge(Loss):
    """Keras's ``Hinge``: mean of max(1 - y'·p, 0); y' = 2y - 1 when every (included) target is 0 or 1."""

    _spec = _Spec("hinge")

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(Loss):
    """Keras's ``SquaredHinge``: mean of max(1 - y'·p, 0)², hinge's target rule."""

    _spec = _Spec("squared_hinge")

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(Loss):
    """Keras's ``CategoricalHinge``: max(max((1 - y)·p) - Σ y·p + 1, 0)."""

    _spec = _Spec("categorical_hinge")

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class KLDivergence(Loss):
    """Keras's ``KLDivergence``: Σ ỹ·log(ỹ/p̃), both clipped to [1e-7, 1]."""

    _spec = _Spec("kl_divergence")

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Poisson(Loss):
    """Keras's ``Poisson``: mean of p - y·log(p + 1e-7)."""

    _spec = _Spec("poisson")

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(Loss):
    """Keras's ``BinaryCrossentropy``: mean over ``axis`` (an integer or a tuple) of the clipped BCE."""

    _spec = _Spec("binary_crossentropy", axis="tuple")
    _keras_config = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class BinaryFocalCrossentropy(Loss):
    """Keras's ``BinaryFocalCrossentropy``: (1 - p_t)^gamma · BCE, times alpha-balancing if asked, mean over axis."""

    _spec = _Spec("binary_focal_crossentropy", axis="tuple")
    _keras_config = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(Loss):
    """Keras's ``CategoricalCrossentropy`` over the class ``axis`` (rows renormalised, clipped)."""

    _spec = _Spec("categorical_crossentropy", axis="int")
    _keras_config = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(Loss):
    """Keras's ``CategoricalFocalCrossentropy``: Σ alpha·(1 - q)^gamma·(-y log q) over the class axis."""

    _spec = _Spec("categorical_focal_crossentropy", axis="int")
    _keras_config = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(Loss):
    """Keras's ``SparseCategoricalCrossentropy``: integer labels; ``ignore_class`` rows are masked out."""

    _spec = _Spec("sparse_categorical_crossentropy", sparse=True, axis="int")
    _keras_config = ("from_logits", "ignore_class")
    _extra_config = ("axis",)

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


class Dice(Loss):
    """Keras's ``Dice``: 1 - 2Σyp/(Σy + Σp + ε) over ``axis`` (None: the whole batch gives one value)."""

    _spec = _Spec("dice", axis="overlap")
    _keras_config = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = axis


class Tversky(Loss):
    """Keras's ``Tversky``: 1 - I/(I + alpha·Σy(1-p) + beta·Σ(1-y)p + ε) over ``axis`` (Keras 3.15.1's roles)."""

    _spec = _Spec("tversky", axis="overlap")
    _keras_config = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis


class CategoricalGeneralizedCrossEntropy(Loss):
    """Keras's ``CategoricalGeneralizedCrossEntropy``: (1 - p_y^q)/q for integer labels, 0 < q < 1."""

    _spec = _Spec("categorical_generalized_cross_entropy", sparse=True)
    _keras_config = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy",
                 dtype=None):
        if isinstance(q, (bool, np.bool_)) or not isinstance(q, numbers.Real) or not 0 < q < 1:
            raise ValueError(f"q: must be in the interval (0, 1), got {q!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.q = q


# ----------------------------------------------------------------------------------------------------------
# Functions: per-sample values, Keras's signatures (dtype and n_threads are fastloss's keyword-only extras)
# ----------------------------------------------------------------------------------------------------------

def _function(cls, y_true, y_pred, kwargs, dtype, n_threads):
    return _per_row(cls._spec, kwargs, y_true, y_pred, _compute_dtype(dtype), n_threads)


def mean_squared_error(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``mean_squared_error``: per-sample mean of (y_true - y_pred)² over the last axis."""
    return _function(MeanSquaredError, y_true, y_pred, {}, dtype, n_threads)


def mean_absolute_error(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``mean_absolute_error``: per-sample mean of |y_true - y_pred| over the last axis."""
    return _function(MeanAbsoluteError, y_true, y_pred, {}, dtype, n_threads)


def mean_absolute_percentage_error(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``mean_absolute_percentage_error``: per-sample 100·mean |y - p| / max(|y|, 1e-7)."""
    return _function(MeanAbsolutePercentageError, y_true, y_pred, {}, dtype, n_threads)


def mean_squared_logarithmic_error(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``mean_squared_logarithmic_error``: per-sample mean of (log1p(max(p, ε)) - log1p(max(y, ε)))²."""
    return _function(MeanSquaredLogarithmicError, y_true, y_pred, {}, dtype, n_threads)


def cosine_similarity(y_true, y_pred, axis=-1, *, dtype=None, n_threads=None):
    """Keras's ``cosine_similarity``: -Σ ŷ·p̂ over ``axis``."""
    return _function(CosineSimilarity, y_true, y_pred, {"axis": axis}, dtype, n_threads)


def huber(y_true, y_pred, delta=1.0, *, dtype=None, n_threads=None):
    """Keras's ``huber``: per-sample mean of the Huber loss with threshold ``delta``."""
    return _function(Huber, y_true, y_pred, {"delta": delta}, dtype, n_threads)


def log_cosh(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``log_cosh``: per-sample mean of log(cosh(y_pred - y_true))."""
    return _function(LogCosh, y_true, y_pred, {}, dtype, n_threads)


def hinge(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``hinge``: per-sample mean of max(1 - y'·p, 0) (0/1 targets become ±1 when all are 0/1)."""
    return _function(Hinge, y_true, y_pred, {}, dtype, n_threads)


def squared_hinge(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``squared_hinge``: per-sample mean of max(1 - y'·p, 0)²."""
    return _function(SquaredHinge, y_true, y_pred, {}, dtype, n_threads)


def categorical_hinge(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``categorical_hinge``: max(max((1 - y)·p) - Σ y·p + 1, 0) per sample."""
    return _function(CategoricalHinge, y_true, y_pred, {}, dtype, n_threads)


def kl_divergence(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``kl_divergence``: Σ ỹ·log(ỹ/p̃) per sample."""
    return _function(KLDivergence, y_true, y_pred, {}, dtype, n_threads)


def poisson(y_true, y_pred, *, dtype=None, n_threads=None):
    """Keras's ``poisson``: per-sample mean of p - y·log(p + 1e-7)."""
    return _function(Poisson, y_true, y_pred, {}, dtype, n_threads)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1, *, dtype=None,
                        n_threads=None):
    """Keras's ``binary_crossentropy``: per-sample mean over ``axis`` of the (clipped) binary crossentropy."""
    return _function(BinaryCrossentropy, y_true, y_pred,
                     {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis}, dtype, n_threads)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                              label_smoothing=0.0, axis=-1, *, dtype=None, n_threads=None):
    """Keras's ``binary_focal_crossentropy``: per-sample mean over ``axis`` of the focal binary crossentropy."""
    return _function(BinaryFocalCrossentropy, y_true, y_pred,
                     {"apply_class_balancing": apply_class_balancing, "alpha": alpha, "gamma": gamma,
                      "from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis},
                     dtype, n_threads)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1, *, dtype=None,
                             n_threads=None):
    """Keras's ``categorical_crossentropy`` over the class ``axis``, per sample."""
    return _function(CategoricalCrossentropy, y_true, y_pred,
                     {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis}, dtype, n_threads)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1, *, dtype=None, n_threads=None):
    """Keras's ``categorical_focal_crossentropy`` over the class ``axis``, per sample."""
    return _function(CategoricalFocalCrossentropy, y_true, y_pred,
                     {"alpha": alpha, "gamma": gamma, "from_logits": from_logits,
                      "label_smoothing": label_smoothing, "axis": axis}, dtype, n_threads)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1, *, dtype=None,
                                    n_threads=None):
    """Keras's ``sparse_categorical_crossentropy``: integer labels, 0 at ``ignore_class`` positions."""
    return _function(SparseCategoricalCrossentropy, y_true, y_pred,
                     {"from_logits": from_logits, "ignore_class": ignore_class, "axis": axis}, dtype, n_threads)


def dice(y_true, y_pred, axis=None, *, dtype=None, n_threads=None):
    """Keras's ``dice``: 1 - 2Σyp/(Σy + Σp + ε) over ``axis`` (None: one value for the whole batch)."""
    return _function(Dice, y_true, y_pred, {"axis": axis}, dtype, n_threads)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None, *, dtype=None, n_threads=None):
    """Keras's ``tversky`` over ``axis`` (None: one value for the whole batch)."""
    return _function(Tversky, y_true, y_pred, {"alpha": alpha, "beta": beta, "axis": axis}, dtype, n_threads)


def categorical_generalized_cross_entropy(y_true, y_pred, q, *, dtype=None, n_threads=None):
    """Keras's ``categorical_generalized_cross_entropy``: (1 - p_y^q)/q per sample, integer labels."""
    return _function(CategoricalGeneralizedCrossEntropy, y_true, y_pred, {"q": q}, dtype, n_threads)


# Keras's string aliases (keras.losses.get("mse") etc.), here also as module attributes.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
bce = BCE = binary_crossentropy
kld = KLD = kl_divergence

_CLASSES = [MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
            BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
            SparseCategoricalCrossentropy, Dice, Tversky, CategoricalGeneralizedCrossEntropy]
_FUNCTIONS = [mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, hinge, squared_hinge,
              categorical_hinge, kl_divergence, poisson, binary_crossentropy, binary_focal_crossentropy,
              categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy, dice,
              tversky]
# Keras's keras.losses.get table (categorical_generalized_cross_entropy is not in it, as in Keras)
_BY_NAME = {obj.__name__: obj for obj in _CLASSES if obj is not CategoricalGeneralizedCrossEntropy}
_BY_NAME.update({fn.__name__: fn for fn in _FUNCTIONS})
_BY_NAME.update({"bce": bce, "BCE": BCE, "kld": kld, "KLD": KLD, "mae": mae, "MAE": MAE, "mse": mse, "MSE": MSE,
                 "mape": mape, "MAPE": MAPE, "msle": msle, "MSLE": MSLE})


def get(identifier):
    """``keras.losses.get``: a name (class, function or alias), a ``{"class_name", "config"}`` dict, a class
    (instantiated with its defaults) or a callable. None gives None."""
    if identifier is None:
        return None
    if isinstance(identifier, Mapping):
        name = identifier.get("class_name")
        cls = _BY_NAME.get(name) if isinstance(name, str) else None
        if not (isinstance(cls, type) and issubclass(cls, Loss)):
            raise ValueError(f"identifier: {name!r} is not a fastloss.keras loss class")
        return cls.from_config(dict(identifier.get("config", {})))
    obj = _BY_NAME.get(identifier) if isinstance(identifier, str) else identifier
    if isinstance(obj, type) and issubclass(obj, Loss):
        return obj()
    if callable(obj):
        return obj
    raise ValueError(f"identifier: cannot interpret {identifier!r} as a loss")
