"""scikit-learn's metrics with scikit-learn's signatures, defaults, errors and numbers, on fastloss's engine.

``fastloss.sklearn.log_loss(y_true, y_proba, ...)`` returns what ``sklearn.metrics.log_loss`` returns
(scikit-learn 1.9.1; SEMANTICS.md §6), in one fused pass over the data and without scikit-learn installed.
Every weighted value is scikit-learn's ``np.average``: ``Σ w·l / Σ w`` (fastloss's "mean_with_sample_weight",
computed by ``fastloss._reductions``). Labels of any sortable kind (integers, strings, booleans) are mapped to
columns through their sorted unique values, as ``LabelBinarizer`` does.

Functions: ``log_loss``, ``hinge_loss``, ``brier_score_loss``, ``mean_squared_error``, ``mean_absolute_error``,
``accuracy_score``. Each takes one keyword scikit-learn does not have, ``n_threads`` (fastloss's usual meaning:
None = the OpenMP default, -1 = all cores); the result does not depend on it.

Numbers: float64 inputs give scikit-learn's values to ~1e-15 relative (the sums are blocked, not NumPy's pairwise
ones). float32 inputs: fastloss computes each row in double from the float32 values (clip bounds, ``1 - p`` and
the clip itself in float32, as scikit-learn does), where scikit-learn runs the whole computation in float32;
the results agree to float32 precision (~1e-6 relative).

Where this module deliberately differs from scikit-learn 1.9.1
---------------------------------------------------------------

=================================  ============================================  =================================
situation                          scikit-learn 1.9.1                            fastloss.sklearn
=================================  ============================================  =================================
``n_threads=`` keyword             absent                                        added; results do not depend on it
float32 ``y_proba`` / ``y_pred``   whole computation in float32                  each row in double from the
                                                                                 float32 values (clip bounds and
                                                                                 ``1 - p`` in float32, as
                                                                                 scikit-learn); agree to ~1e-6 rel.
float16 ``y_proba``                clip and ``1 - p`` in float16                 float16's eps; ``1 - p`` in float32
log_loss / brier: a row of         UserWarning "The y_prob values do not sum     no warning; same value (rows are
``y_proba`` not summing to 1       to one"                                       never renormalised)
log_loss / brier: ``labels=``      ``labels`` fit a LabelBinarizer that the      ValueError: ``labels=`` applies
with a 2-D indicator ``y_true``    indicator then bypasses                       to label vectors only
log_loss / brier: 1-D ``y_proba``  ``y_proba`` expanded to ``[1-p, p]`` and      ValueError: an indicator needs a
with a 2-column indicator          compared column-wise                          2-D y_proba of its width
``y_true``
hinge_loss, binary because         LabelBinarizer fit on ``y_true`` alone        ValueError: ``y_true`` holds
``labels=`` has ≤ 2 classes, but   (``labels`` unused; a third class makes the   classes outside ``labels``
``y_true`` holds other classes     *first* class +1)
hinge_loss: 2-D ``sample_weight``  TypeError from ``np.average``                 ValueError, as the other functions
error messages, and which error    scikit-learn's wording; its order of checks   same exception types, messages
comes first when several inputs                                                  name the argument; value checks
are bad                                                                          run last (in the kernel's pass)
=================================  ============================================  =================================

Same as scikit-learn, though surprising: ``hinge_loss`` raises ZeroDivisionError for weights summing to 0 and
returns NaN for a NaN weight (it checks nothing); the other functions raise ValueError for all-zero or non-finite
weights and ZeroDivisionError for weights summing to 0. ``log_loss(y_pred=...)`` works with a FutureWarning, and
``eps=`` no longer exists (removed in 1.5).

Invalid parameter values (``normalize=1``, an unknown ``multioutput``, ...) raise this module's
``InvalidParameterError``, which is, like scikit-learn's, both a ValueError and a TypeError. Inputs are never
modified. Row-level value checks (probabilities in [0, 1], finite values, integral labels)
run inside the kernel's single pass; the message is then built by scanning the offending array again.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from . import _engine
from ._arrays import _to_numpy

__all__ = [
    "log_loss",
    "hinge_loss",
    "brier_score_loss",
    "mean_squared_error",
    "mean_absolute_error",
    "accuracy_score",
    "InvalidParameterError",
]

_MULTIOUTPUT = ("raw_values", "uniform_average")
# Integers above this lose their identity as float64; such labels are compared through codes instead.
_EXACT_FLOAT_INTEGERS = 2**53


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or value (scikit-learn raises its own class of the same two bases)."""


# ----------------------------------------------------------------------------------------------------------
# Reading arguments
# ----------------------------------------------------------------------------------------------------------

def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name}: expected a bool, got {value!r}")


def _float_array(x, name, max_ndim=2) -> np.ndarray:
    """A real-valued array of at least one sample and at most ``max_ndim`` axes (never a copy of a float array)."""
    try:
        arr = _to_numpy(x, name)
    except TypeError:
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected numbers ({exc})") from None
    if arr.ndim == 0 or arr.ndim > max_ndim:
        raise ValueError(f"{name}: expected an array with 1 to {max_ndim} axes, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: found an array with 0 samples (shape {arr.shape}); at least 1 is required")
    return arr


def _as_2d(arr: np.ndarray) -> np.ndarray:
    return arr[:, None] if arr.ndim == 1 else arr


def _label_array(y, name) -> np.ndarray:
    """Labels as an array (any dtype), with a column vector squeezed to 1-D."""
    if type(y).__module__.split(".")[0] == "torch":
        y = _to_numpy(y, name)
    arr = np.asarray(y)
    if (arr.dtype.kind in "US" and arr.ndim == 1 and isinstance(y, (list, tuple))
            and not all(isinstance(v, str) for v in y)):
        # NumPy turns [0, "a"] into strings; scikit-learn refuses the mix
        raise ValueError(f"{name}: mix of label input types (string and number)")
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name}: expected labels of shape (n_samples,) or an indicator matrix, got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: found an array with 0 samples; at least 1 is required")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return arr


def _check_label_values(y, name):
    """scikit-learn's type_of_target rules for a label vector: no NaN, no non-integral floats."""
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"Input {name} contains NaN or infinity.")
        if np.any(y != np.floor(y)):
            raise ValueError(f"{name}: unknown label type: continuous values such as {y[y != np.floor(y)][:3]}")
    elif y.dtype.kind == "O":
        if any(v is None for v in y.ravel()):
            raise ValueError(f"{name}: unknown label type: the labels contain None")


def _label_vector(y_true, name="y_true") -> np.ndarray:
    y = _label_array(y_true, name)
    if y.ndim != 1:
        raise ValueError(f"{name}: expected a 1d array of labels, got an array of shape {y.shape}")
    _check_label_values(y, name)
    return y


def _sorted_classes(values, name) -> np.ndarray:
    try:
        return np.unique(np.asarray(values))
    except TypeError:
        raise ValueError(f"{name}: mix of label input types (string and number)") from None


def _is_string_kind(arr) -> bool:
    return arr.dtype.kind in "OUS"


def _encode(y, classes, what) -> np.ndarray:
    """Column index of each label in the sorted ``classes``; ValueError naming the labels not among them."""
    if _is_string_kind(y) != _is_string_kind(classes) and y.size and classes.size:
        raise ValueError(f"y_true contains values {set(np.unique(y).tolist())} not belonging to {what} "
                         f"{classes.tolist()} (mix of string and number labels)")
    index = np.searchsorted(classes, y)
    np.minimum(index, classes.size - 1, out=index)
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(f"y_true contains values {set(np.unique(y[unknown]).tolist())} not belonging to {what} "
                         f"{classes.tolist()}")
    return index.astype(np.int64, copy=False)


def _column_indices_if_already(y, classes):
    """y itself when its classes are exactly 0..k-1 integers (the common case: no search needed), else None."""
    if y.dtype.kind in "iu" and classes[0] == 0 and classes[-1] == classes.size - 1:
        return y.astype(np.int64, copy=False)
    return None


def _check_lengths(*pairs):
    lengths = [int(arr.shape[0]) for arr in pairs if arr is not None]
    if len(set(lengths)) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}")


def _sample_weight(sample_weight, n, *, validate=True):
    """A float64 weight vector of length n, or None. ``validate``: scikit-learn's _check_sample_weight (finite,
    not all zero); hinge_loss passes its weights straight to np.average and only checks the length."""
    if sample_weight is None:
        return None
    sw = _to_numpy(sample_weight, "sample_weight")
    if sw.ndim == 0:
        raise InvalidParameterError(f"sample_weight: expected an array-like or None, got {sample_weight!r}")
    if sw.ndim != 1:
        raise ValueError(f"sample_weight: expected a 1D array of length {n}, got shape {sw.shape}")
    _check_lengths(np.empty(n), sw)
    sw = sw.astype(np.float64, copy=False)
    if validate:
        if not np.all(np.isfinite(sw)):
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if not np.any(sw):
            raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


def _deprecated_y_pred(y_proba, y_pred):
    if isinstance(y_pred, str) and y_pred == "deprecated":
        if y_proba is None:
            raise ValueError("y_proba: missing (pass the predicted probabilities)")
        return y_proba
    if y_proba is not None:
        raise ValueError("Cannot use both `y_pred` and `y_proba`. `y_pred` is deprecated, use `y_proba` instead.")
    warnings.warn(
        "`y_pred` was renamed to `y_proba` in version 1.9 and will be removed in 1.11. Use `y_proba` instead.",
        FutureWarning,
        stacklevel=3,
    )
    return y_pred


# ----------------------------------------------------------------------------------------------------------
# Messages for the values the kernels reject (slow path: only runs after a kernel reported an error)
# ----------------------------------------------------------------------------------------------------------

def _check_finite(arr, name):
    values = np.asarray(arr, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError(f"Input {name} contains NaN.")
    if np.isinf(values).any():
        raise ValueError(f"Input {name} contains infinity or a value too large for dtype('float64').")


def _check_probabilities(arr, name):
    _check_finite(arr, name)
    if arr.max() > 1:
        raise ValueError(f"{name} contains values greater than 1: {arr.max()}")
    if arr.min() < 0:
        raise ValueError(f"{name} contains values lower than 0: {arr.min()}")


def _check_indicator(arr, name):
    bad = arr[(arr != 0) & (arr != 1)]
    if bad.size:
        raise ValueError(f"{name}: a label indicator matrix holds only 0 and 1, found {bad[:3].tolist()} "
                         "(multiclass-multioutput targets are not supported)")


def _check_classes(arr, name):
    """accuracy_score's labels after encoding: finite integral values (1-D) or 0/1 (indicator rows)."""
    _check_finite(arr, name)
    if arr.ndim == 2 and arr.shape[1] > 1:
        bad = arr[(arr != 0) & (arr != 1)]
        if bad.size:
            raise ValueError(f"{name}: multiclass-multioutput is not supported (found {bad[:3].tolist()} in a "
                             "label indicator matrix)")
    elif np.any(arr != np.floor(arr)):
        raise ValueError(f"{name}: continuous is not supported")


def _totals(kernel, y_true, y_pred, *, sparse, sample_weight, n_threads, options=None, columns=None,
            explain=()):
    """The engine's totals for one kernel; on a kernel error, ``explain`` (check, array, name) triples find the
    offending input and raise scikit-learn's error for it."""
    try:
        return _engine.evaluate(
            kernel, y_true, y_pred, sparse=sparse, elementwise=False, probabilities=False, options=options,
            columns=columns, sample_weight=sample_weight, reduction="totals", n_threads=n_threads,
        )
    except ValueError:
        for check, arr, name in explain:
            check(arr, name)
        raise


def _average(totals, normalize=True) -> float:
    """np.average's value (Σw·l / Σw) or, with normalize=False, Σw·l; a zero weight sum raises as NumPy does."""
    if not normalize:
        return totals.result("sum")
    if totals.weight_sum == 0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return totals.result("mean_with_sample_weight")


def _clip_options(dtype):
    """scikit-learn's clip bounds: eps = np.finfo(dtype).eps and 1 - eps, both in the prediction's dtype."""
    dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    eps = np.finfo(dtype).eps
    return {"lo": float(eps), "hi": float(dtype.type(1) - eps)}


# ----------------------------------------------------------------------------------------------------------
# Probabilistic targets: label vectors -> columns (LabelBinarizer), or an indicator matrix
# ----------------------------------------------------------------------------------------------------------

def _multiclass_targets(y_true, n_columns, labels):
    """(kind, targets) for y_proba of ``n_columns`` columns (1-D y_proba counts as 2): kind "labels" gives the
    column index of each sample, kind "rows" an indicator matrix (n_samples, n_columns)."""
    y = _label_array(y_true, "y_true")
    if y.ndim == 2:
        if labels is not None:
            raise ValueError("labels: only supported when y_true is a vector of labels, not an indicator matrix")
        if y.shape[1] != n_columns:
            raise ValueError(f"y_true and y_prob contain different number of classes: {y.shape[1]} vs "
                             f"{n_columns}. Classes found in y_true: {list(range(y.shape[1]))}")
        return "rows", y
    _check_label_values(y, "y_true")
    if labels is not None:
        given = np.asarray(labels)
        classes = _sorted_classes(given, "labels")
        if given.shape != classes.shape or np.any(given != classes):
            warnings.warn(
                f"Labels passed were {labels}. But this function assumes labels are ordered lexicographically. "
                f"Pass the ordered labels={classes.tolist()} and ensure that the columns of y_prob correspond "
                "to this ordering.",
                UserWarning,
                stacklevel=4,
            )
        codes = _encode(y, classes, "the passed labels")
    else:
        classes = _sorted_classes(y, "y_true")
        codes = _column_indices_if_already(y, classes)
    if classes.size == 1:
        if labels is None:
            raise ValueError(f"y_true contains only one label ({classes[0]}). Please provide the list of all "
                             "expected class labels explicitly through the labels argument.")
        raise ValueError(f"The labels array needs to contain at least two labels, got {classes}.")
    if classes.size != n_columns:
        if labels is None:
            raise ValueError(f"y_true and y_prob contain different number of classes: {classes.size} vs "
                             f"{n_columns}. Please provide the true labels explicitly through the labels "
                             f"argument. Classes found in y_true: {classes}")
        raise ValueError(f"The number of classes in labels is different from that in y_prob. Classes found in "
                         f"labels: {classes}")
    if codes is None:
        codes = _encode(y, classes, "the classes of y_true")
    return "labels", codes


def _probabilistic_totals(name, y_true, proba, labels, sample_weight, n_threads, options=None):
    """Totals of the ``name`` kernels (log_loss, brier) on validated probabilities."""
    n = proba.shape[0]
    rows = _as_2d(proba)
    binary_column = rows.shape[1] == 1
    kind, targets = _multiclass_targets(y_true, 2 if binary_column else rows.shape[1], labels)
    _check_lengths(proba, targets)
    weights = _sample_weight(sample_weight, n)
    dtype = _engine._float_dtype(rows)
    explain = [(_check_probabilities, rows, "y_prob")]
    if kind == "rows":
        if binary_column:
            raise ValueError(f"y_true: an indicator matrix of shape {targets.shape} needs a 2-D y_proba with "
                             f"{targets.shape[1]} columns, got shape {proba.shape}")
        explain.append((_check_indicator, targets, "y_true"))
        return _totals(f"sklearn_{name}_rows", targets, rows, sparse=False, sample_weight=weights,
                       n_threads=n_threads, options=options, explain=explain)
    if binary_column:
        # P(positive) only: one row of one value, y = 1 for the second class.
        y = targets.astype(dtype)[:, None]
        return _totals(f"sklearn_{name}_rows", y, rows, sparse=False, sample_weight=weights,
                       n_threads=n_threads, options=options, explain=explain)
    return _totals(f"sklearn_{name}_labels", targets, rows, sparse=True, sample_weight=weights,
                   n_threads=n_threads, options=options, explain=explain)


# ----------------------------------------------------------------------------------------------------------
# The metrics
# ----------------------------------------------------------------------------------------------------------

def log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None, y_pred="deprecated",
             n_threads=None) -> float:
    """Log loss (cross-entropy) of predicted probabilities, as ``sklearn.metrics.log_loss`` 1.9.

    Per sample ``l = -Σ_c Y_c·log clip(P_c, eps, 1 - eps)`` with ``eps = np.finfo(y_proba.dtype).eps``; rows are
    not renormalised. ``y_true``: labels of any sortable kind (columns of ``y_proba`` follow their sorted unique
    values, or those of ``labels``) or a 0/1 indicator matrix. A 1-D ``y_proba`` is P(second class).
    Returns ``Σ w·l / Σ w`` (``normalize=True``) or ``Σ w·l``. ``y_pred=`` is the deprecated name of
    ``y_proba`` (FutureWarning). Differences from scikit-learn: the module docstring's table.
    """
    y_proba = _deprecated_y_pred(y_proba, y_pred)
    _check_bool(normalize, "normalize")
    proba = _float_array(y_proba, "y_proba")
    totals = _probabilistic_totals("log_loss", y_true, proba, labels, sample_weight, n_threads,
                                   options=_clip_options(proba.dtype))
    return _average(totals, normalize)


def brier_score_loss(y_true, y_proba, *, sample_weight=None, pos_label=None, labels=None, scale_by_half="auto",
                     n_threads=None) -> float:
    """Brier score, as ``sklearn.metrics.brier_score_loss`` 1.9.

    Per sample ``Σ_c (P_c - Y_c)²`` (no clipping), averaged with the weights; times ½ when ``scale_by_half``
    (``"auto"``: when ``y_proba`` is 1-D or has at most 2 columns). A 1-D (or one-column) ``y_proba`` is
    P(``pos_label``); ``pos_label=None`` means 1 when ``y_true``'s classes lie in {0, 1} or {-1, 1}, else the
    greatest class (strings need an explicit ``pos_label``). A 2-D ``y_proba`` follows the sorted classes of
    ``y_true`` or ``labels``, as ``log_loss``.
    """
    if not (isinstance(scale_by_half, (bool, np.bool_)) or (isinstance(scale_by_half, str)
                                                             and scale_by_half == "auto")):
        raise InvalidParameterError(f"scale_by_half: expected True, False or 'auto', got {scale_by_half!r}")
    if pos_label is not None and not isinstance(pos_label, (numbers.Real, str, bool, np.bool_)):
        raise InvalidParameterError(f"pos_label: expected a number, a string, a bool or None, got {pos_label!r}")
    proba = _float_array(y_proba, "y_proba")
    binary = proba.ndim == 1 or proba.shape[1] == 1
    if binary:
        totals = _binary_brier_totals(y_true, proba, sample_weight, pos_label, n_threads)
    else:
        totals = _probabilistic_totals("brier", y_true, proba, labels, sample_weight, n_threads)
    score = _average(totals)
    if scale_by_half == "auto":
        scale_by_half = binary or proba.shape[1] < 3
    return score * 0.5 if scale_by_half else score


def _binary_brier_totals(y_true, proba, sample_weight, pos_label, n_threads):
    y = _label_array(y_true, "y_true")
    if y.ndim != 1:
        raise ValueError(f"y_true: expected a 1d array of labels for a 1-D y_proba, got shape {y.shape}")
    _check_label_values(y, "y_true")
    _check_lengths(proba, y)
    weights = _sample_weight(sample_weight, proba.shape[0])
    classes = _sorted_classes(y, "y_true")
    if classes.size > 2:
        raise ValueError("The type of the target inferred from y_true is multiclass but should be binary "
                         "according to the shape of y_prob.")
    if pos_label is None:
        numeric = not _is_string_kind(classes)
        if numeric and any(np.array_equal(classes, c) for c in ([0, 1], [-1, 1], [0], [-1], [1])):
            pos_label = 1
        elif numeric:
            pos_label = classes[-1]
        else:
            raise ValueError(f"y_true takes value in {set(classes.tolist())} and pos_label is not specified: "
                             "either make y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly.")
    rows = _as_2d(proba)
    positive = (y == pos_label).astype(_engine._float_dtype(rows))[:, None]
    return _totals("sklearn_brier_rows", positive, rows, sparse=False, sample_weight=weights,
                   n_threads=n_threads, explain=[(_check_probabilities, rows, "y_prob")])


def hinge_loss(y_true, pred_decision, *, labels=None, sample_weight=None, n_threads=None) -> float:
    """Average hinge loss, as ``sklearn.metrics.hinge_loss`` 1.9.

    Binary (at most 2 classes in ``labels``, or in ``y_true`` without it): ``y_true`` becomes ±1 (its greater
    class +1; a single class is all -1, as LabelBinarizer does), margin ``y·d`` for a 1-D ``pred_decision``.
    Multiclass: Crammer–Singer margin ``d_y - max_{j≠y} d_j`` with columns in the sorted order of the classes.
    Value ``Σ w·max(0, 1 - margin) / Σ w``; weights summing to 0 raise ZeroDivisionError, as np.average does.
    """
    y = _label_vector(y_true)
    decision = _float_array(pred_decision, "pred_decision")
    _check_lengths(y, decision)
    weights = _sample_weight(sample_weight, y.shape[0], validate=False)
    classes = _sorted_classes(labels if labels is not None else y, "labels" if labels is not None else "y_true")
    explain = [(_check_finite, decision, "pred_decision")]
    if classes.size > 2:
        if decision.ndim == 1:
            raise ValueError(
                "The shape of pred_decision cannot be 1d array with a multiclass target. pred_decision shape "
                f"must be (n_samples, n_classes), that is ({y.shape[0]}, {classes.size}). Got: {decision.shape}")
        if decision.shape[1] != classes.size:
            if labels is None:
                raise ValueError("Please include all labels in y_true or pass labels as third argument")
            raise ValueError(
                "The shape of pred_decision is not consistent with the number of classes. With a multiclass "
                f"target, pred_decision shape must be (n_samples, n_classes), that is ({y.shape[0]}, "
                f"{classes.size}). Got: {decision.shape}")
        codes = _encode(y, classes, "the labels")
        totals = _totals("sklearn_multiclass_hinge", codes, decision, sparse=True, sample_weight=weights,
                         n_threads=n_threads, explain=explain)
        return _average(totals)
    if decision.ndim == 2 and decision.shape[1] != 1:
        raise ValueError(f"pred_decision: y should be a 1d array, got an array of shape {decision.shape} instead.")
    present = _sorted_classes(y, "y_true")
    if labels is not None:
        _encode(present, classes, "the labels")
    rows = _as_2d(decision)
    dtype = _engine._float_dtype(rows)
    # LabelBinarizer(neg_label=-1) fit on y_true: its greater class is +1; a single class is all -1.
    signs = np.where(y == present[-1], 1, -1) if present.size == 2 else np.full(y.shape[0], -1)
    totals = _totals("sklearn_binary_hinge", signs.astype(dtype)[:, None], rows, sparse=False,
                     sample_weight=weights, n_threads=n_threads, explain=explain)
    return _average(totals)


def _regression(kernel, y_true, y_pred, sample_weight, multioutput, n_threads):
    if not (isinstance(multioutput, str) and multioutput in _MULTIOUTPUT):
        if isinstance(multioutput, str) or multioutput is None:
            raise InvalidParameterError(f"multioutput: expected one of {_MULTIOUTPUT} or an array of output "
                                        f"weights, got {multioutput!r}")
    truth = _float_array(y_true, "y_true")
    pred = _float_array(y_pred, "y_pred")
    _check_lengths(truth, pred)
    truth, pred = _as_2d(truth), _as_2d(pred)
    if truth.shape[1] != pred.shape[1]:
        raise ValueError(f"y_true and y_pred have different number of output ({truth.shape[1]}!={pred.shape[1]})")
    n_outputs = truth.shape[1]
    output_weights = None
    if not isinstance(multioutput, str):
        output_weights = _float_array(multioutput, "multioutput").astype(np.float64, copy=False)
        _check_finite(output_weights, "multioutput")
        if n_outputs == 1:
            raise ValueError("Custom weights are useful only in multi-output cases.")
        if output_weights.shape != (n_outputs,):
            raise ValueError(f"There must be equally many custom weights ({output_weights.shape[0]}) as outputs "
                             f"({n_outputs}).")
    weights = _sample_weight(sample_weight, truth.shape[0])
    explain = [(_check_finite, truth, "y_true"), (_check_finite, pred, "y_pred")]

    def totals_of(t, p, columns=None):
        return _totals(kernel, t, p, sparse=False, sample_weight=weights, n_threads=n_threads, columns=columns,
                       explain=explain)

    if isinstance(multioutput, str) and multioutput == "raw_values":
        # One pass per output over contiguous columns: a C-ordered (n, k > 1) array is transposed once into
        # Fortran order (its columns are then contiguous (n, 1) views the engine reads without copying).
        truth_f, pred_f = np.asfortranarray(truth), np.asfortranarray(pred)
        errors = [_average(totals_of(truth_f[:, j:j + 1], pred_f[:, j:j + 1])) for j in range(n_outputs)]
        return np.asarray(errors, dtype=_result_dtype(y_true, y_pred, sample_weight))
    if output_weights is None:
        return _average(totals_of(truth, pred))  # per-row mean over the outputs = mean of the per-output means
    total = output_weights.sum()
    if total == 0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    # Σ_j a_j·E_j / Σ a = Σ_i w_i·(Σ_j c_j·e_ij) / Σ w with c = a / Σ a: one pass with per-column factors.
    return _average(totals_of(truth, pred, columns=output_weights / total))


def _result_dtype(*arguments):
    """scikit-learn's output dtype: the widest float dtype among the arguments that are arrays, else float64."""
    floats = [a.dtype for a in arguments if hasattr(a, "dtype") and np.dtype(a.dtype).kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float64)


def mean_squared_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", n_threads=None):
    """Mean squared error, as ``sklearn.metrics.mean_squared_error`` 1.9.

    Per output ``E_j = Σ_i w_i·(y_ij - p_ij)² / Σ w``; ``multioutput``: ``'raw_values'`` (the array E),
    ``'uniform_average'`` (its mean) or an array ``a`` (``Σ a_j·E_j / Σ a``).
    """
    return _regression("sklearn_squared_error", y_true, y_pred, sample_weight, multioutput, n_threads)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average", n_threads=None):
    """Mean absolute error, as ``sklearn.metrics.mean_absolute_error`` 1.9 (``|y - p|`` in place of the square
    of ``mean_squared_error``; same ``multioutput`` and weights)."""
    return _regression("sklearn_absolute_error", y_true, y_pred, sample_weight, multioutput, n_threads)


def _label_codes(y_true, y_pred):
    """Both label vectors as float64 values that compare as the labels do: the labels themselves when float64
    holds them exactly, else their index in the sorted union (strings, objects, integers beyond 2**53)."""
    kinds = {_is_string_kind(y_true), _is_string_kind(y_pred)}
    if len(kinds) == 2:
        raise ValueError("Mix of label input types (string and number)")

    def exact(y):
        if y.dtype.kind in "bf":
            return True
        return y.dtype.kind in "iu" and (y.size == 0 or (np.abs(y.min()) <= _EXACT_FLOAT_INTEGERS
                                                          and np.abs(y.max()) <= _EXACT_FLOAT_INTEGERS))

    if exact(y_true) and exact(y_pred):
        return y_true.astype(np.float64, copy=False), y_pred.astype(np.float64, copy=False)
    for y, name in ((y_true, "y_true"), (y_pred, "y_pred")):
        _check_label_values(y, name)
    try:
        _, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    except TypeError:
        raise ValueError("Mix of label input types (string and number)") from None
    codes = codes.reshape(-1).astype(np.float64)
    return codes[: y_true.shape[0]], codes[y_true.shape[0]:]


def accuracy_score(y_true, y_pred, *, normalize=True, sample_weight=None, n_threads=None) -> float:
    """Accuracy, as ``sklearn.metrics.accuracy_score`` 1.9: the (weighted) share of samples whose label, or
    whose whole row of a multilabel indicator matrix, is predicted exactly; ``normalize=False`` gives the
    (weighted) count."""
    _check_bool(normalize, "normalize")
    truth, pred = _label_array(y_true, "y_true"), _label_array(y_pred, "y_pred")
    _check_lengths(truth, pred)
    if truth.ndim != pred.ndim:
        raise ValueError("Classification metrics can't handle a mix of multilabel-indicator and "
                         "binary/multiclass targets")
    if truth.ndim == 2:
        if truth.shape != pred.shape:
            raise ValueError(f"Multi-label binary indicator input with different numbers of labels: "
                             f"{truth.shape} and {pred.shape}")
        for y, name in ((truth, "y_true"), (pred, "y_pred")):
            if y.dtype.kind not in "biuf":
                raise ValueError(f"{name}: a label indicator matrix must hold 0 and 1, got dtype {y.dtype}")
        truth, pred = truth.astype(np.float64, copy=False), pred.astype(np.float64, copy=False)
    else:
        truth, pred = _label_codes(truth, pred)
        truth, pred = truth[:, None], pred[:, None]
    weights = _sample_weight(sample_weight, truth.shape[0])
    totals = _totals("sklearn_exact_match", truth, pred, sparse=False, sample_weight=weights, n_threads=n_threads,
                     explain=[(_check_classes, truth, "y_true"), (_check_classes, pred, "y_pred")])
    return _average(totals, normalize)
