"""The front door: coerce and check the caller's arrays, pick a kernel, turn its totals into the answer.

Everything a kernel needs is made C-contiguous and native-endian here, without ever writing to the caller's
arrays (a copy is made only when the layout or dtype requires one). Shape rules live here; value rules
(labels, probability ranges) are checked by the kernel on the values it reads anyway, and its error codes are
turned into messages below. Divisors live in _reductions, not here.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping

import numpy as np

from . import _kernels
from ._reductions import REDUCTIONS, Totals, canonical_reduction, check_zero_division, scalar_result
from ._arrays import _float_dtype, _to_numpy
from .class_weight import class_weight_table

# Inputs with fewer elements run on one thread. A loss called once per training step finds the OpenMP workers
# asleep, and with libgomp's default wait policy the first parallel region after an idle pause costs ~6-8 ms
# (PERFORMANCE.md; benchmarks/threads.py measures it). Serial crossentropies take ~1.5-4 ns per element on one
# core, so a second thread pays for that wake-up only from ~2M elements on; back to back (workers awake) two
# threads would already win from ~8K elements, which this threshold gives up below 2M for the idle case.
PARALLEL_MIN_ELEMENTS = 1 << 21
# Elements per reduction block. Blocks, not threads, fix the summation order, so results do not depend on
# the thread count; tests shrink this to run many blocks on small arrays.
BLOCK_ELEMENTS = 1 << 14

_forked_child = False


def _mark_forked_child():
    # libgomp's thread pool does not survive fork(); a child that entered a parallel region could hang.
    global _forked_child
    _forked_child = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked_child)


# ----------------------------------------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------------------------------------

def resolve_threads(n_threads) -> int:
    """None: the OpenMP default now (OMP_NUM_THREADS, threadpoolctl); -1: all cores; k > 0: k; -k: cores + 1 - k."""
    if n_threads is None:
        threads = _kernels.max_threads()
    else:
        if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
            raise TypeError(f"n_threads: expected None or an integer, got {n_threads!r}")
        n_threads = int(n_threads)
        if n_threads == 0:
            raise ValueError(
                "n_threads: 0 is not a thread count; use None (OpenMP default), -1 (all cores) or a positive number"
            )
        if n_threads > 0:
            threads = n_threads
        else:
            cores = _kernels.num_procs() if _kernels.openmp_enabled() else (os.cpu_count() or 1)
            threads = cores + 1 + n_threads
    if _forked_child or not _kernels.openmp_enabled():
        return 1
    return max(1, threads)


# ----------------------------------------------------------------------------------------------------------
# Coercion
# ----------------------------------------------------------------------------------------------------------

def _read(x, name: str) -> np.ndarray:
    """_to_numpy, without its checks for the common case of a NumPy array of numbers."""
    if type(x) is np.ndarray and x.dtype.kind in "biuf":
        return x
    return _to_numpy(x, name)


def _as_labels(y_true, rows_shape, name="y_true") -> np.ndarray:
    labels = _to_numpy(y_true, name)
    if labels.shape != rows_shape and labels.shape == rows_shape + (1,):
        labels = labels[..., 0]
    if labels.shape != rows_shape:
        raise ValueError(
            f"{name}: labels of shape {labels.shape} do not match the rows of y_pred: expected {rows_shape} "
            f"or {rows_shape + (1,)} (y_pred's shape without its class axis)"
        )
    kind, size = labels.dtype.kind, labels.dtype.itemsize
    if kind == "f":
        dtype = np.float32 if size <= 4 else np.float64
    elif labels.dtype == np.int32:
        dtype = np.int32
    else:
        if kind == "u" and size == 8 and labels.size and labels.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: label {labels.max()} is out of range")
        dtype = np.int64
    return np.ascontiguousarray(labels.reshape(-1), dtype=dtype)


def _match_dense_target(y_true: np.ndarray, y_pred: np.ndarray, pred_shape_given) -> np.ndarray:
    """Keras's one shape fix: ranks differing by exactly 1 where the longer array's last axis is 1."""
    if y_true.shape == y_pred.shape:
        return y_true
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1 and y_true.shape[:-1] == y_pred.shape:
        return y_true[..., 0]
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1 and y_pred.shape[:-1] == y_true.shape:
        return y_true[..., None]
    raise ValueError(f"y_true: shape {y_true.shape} does not match y_pred shape {pred_shape_given}")


def _prefix_broadcast(x: np.ndarray, rows_shape, name: str):
    """(flat array, rows per entry) for an array whose shape leads the row shape; never expanded to row size."""
    shape = x.shape
    if shape == rows_shape[: len(shape)]:  # the common case, without the search below
        return x if len(shape) == 1 else x.reshape(-1), math.prod(rows_shape[len(shape):])
    while shape and shape != rows_shape[: len(shape)] and shape[-1] == 1:
        shape = shape[:-1]  # (N, 1) on rows (N, T) is per-sample, as Keras users write it
    if len(shape) > len(rows_shape) or shape != rows_shape[: len(shape)]:
        prefixes = ", ".join(str(rows_shape[:i]) for i in range(len(rows_shape) + 1))
        raise ValueError(
            f"{name}: shape {x.shape} does not lead the row shape {rows_shape} "
            f"(y_pred's shape without its last axis); allowed shapes are {prefixes}"
        )
    inner = math.prod(rows_shape[len(shape):])
    return x.reshape(shape).reshape(-1), inner


def _sample_weight(sample_weight, rows_shape, n_rows, count_nonzero=True, keep_float32=False):
    """(weights or None, rows per entry, E, E0); E0 is None unless count_nonzero (only keras_legacy reads it).

    Weights are float64, or with keep_float32 float32 weights as given: the loss kernels widen them chunk by chunk,
    which saves a float64 copy as large as the weights (e.g. 67 MB and ~8 ms for per-pixel weights of a
    (32, 512, 512) batch)."""
    if sample_weight is None:
        return None, 1, n_rows, n_rows
    sw = _read(sample_weight, "sample_weight")
    flat, inner = _prefix_broadcast(sw, rows_shape, "sample_weight")
    # astype converts in one pass (ascontiguousarray with a dtype takes ~50% longer on small arrays).
    if flat.dtype == np.float64 or (keep_float32 and flat.dtype == np.float32):
        flat = np.ascontiguousarray(flat)
    else:
        flat = flat.astype(np.float64, order="C")
    return flat, inner, flat.size, int(np.count_nonzero(flat)) if count_nonzero else None


def _mask(mask, rows_shape):
    if mask is None:
        return None, 1
    m = _read(mask, "mask")
    flat, inner = _prefix_broadcast(m, rows_shape, "mask")
    if flat.dtype == np.bool_:
        flat = np.ascontiguousarray(flat).view(np.uint8)
    else:
        flat = (flat != 0).view(np.uint8)
    return flat, inner


# ----------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------

def _clip_bounds_in(dtype):
    # Keras clips in the working dtype: in float32, 1 - 1e-7 rounds to 1 - 2**-23, which is why a saturated
    # float32 prediction costs 15.94 and not 16.12.
    eps = 1e-7
    return float(dtype(eps)), float(dtype(1.0) - dtype(eps))


_CLIP_BOUNDS = {dtype: _clip_bounds_in(dtype) for dtype in (np.float32, np.float64)}


_PARAM_INDEX = {name: i for i, name in enumerate(_kernels.PARAM_FIELDS)}

# The per-call work of a small input is mostly Python; these caches keep a 1e3-element call within a few µs.
_CANONICAL_REDUCTION = {name: canonical_reduction(name) for name in REDUCTIONS}
_NEEDS_NONZERO_ENTRIES = ("keras_legacy", "totals")  # the reductions that read E0
_FLOAT_DTYPES = {np.dtype(np.float32): np.float32, np.dtype(np.float64): np.float64}
_params_cache: dict = {}


def kernel_params(options: Mapping[str, float] | None = None, **defaults) -> np.ndarray:
    """The kernel's `params` array (order: _kernels.PARAM_FIELDS); unnamed fields are 0, `options` win."""
    params = np.zeros(len(_PARAM_INDEX))
    for source in (defaults, options or {}):
        for name, value in source.items():
            try:
                params[_PARAM_INDEX[name]] = value
            except KeyError:
                raise TypeError(f"kernel parameter {name!r} is not one of {tuple(_PARAM_INDEX)}") from None
    return params


def _params(options, lo, hi, keep, offset, delta) -> np.ndarray:
    """kernel_params for the engine's own fields, cached (read-only) when no kernel options are given."""
    if options:
        return kernel_params(options, lo=lo, hi=hi, keep=keep, offset=offset, delta=delta)
    key = (lo, hi, keep, offset, delta)
    params = _params_cache.get(key)
    if params is None:
        params = kernel_params(None, lo=lo, hi=hi, keep=keep, offset=offset, delta=delta)
        params.flags.writeable = False
        if len(_params_cache) < 256:
            _params_cache[key] = params
    return params


def prepare(y_true, y_pred, *, sparse, elementwise, ignore_class, sample_weight, mask, class_weight,
            count_nonzero_entries=True, float32_weights=False):
    """Coerce and check the arrays of a kernel call (evaluate and value_and_grad share it).

    float32_weights: float32 sample weights stay float32 (the loss drivers take them; the gradient drivers take
    float64 only).

    Returns (yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K, sw, sw_inner, weight_entries,
    nonzero_entries, mask_arr, mask_inner, cw): C-contiguous (R, K) rows (or R labels), the compute dtype, the
    shapes, and the weighting buffers the drivers take.
    """
    y_pred_arr = _read(y_pred, "y_pred")
    if y_pred_arr.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    dtype = _FLOAT_DTYPES.get(y_pred_arr.dtype) or _float_dtype(y_pred_arr)
    pred_shape_given = y_pred_arr.shape
    if elementwise and y_pred_arr.ndim == 1:
        y_pred_arr = y_pred_arr[:, None]
    rows_shape = y_pred_arr.shape[:-1]
    K = y_pred_arr.shape[-1]
    if K == 0:
        raise ValueError(f"y_pred: the last (class) axis has size 0 (shape {y_pred_arr.shape})")
    n_rows = math.prod(rows_shape)
    yp = np.ascontiguousarray(y_pred_arr, dtype=dtype).reshape(n_rows, K)

    if sparse:
        yt = _as_labels(y_true, rows_shape)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)
        ):
            raise TypeError(f"ignore_class: expected None or an integer class, got {ignore_class!r}")
    else:
        yt = _match_dense_target(_read(y_true, "y_true"), y_pred_arr, pred_shape_given)
        yt = np.ascontiguousarray(yt, dtype=dtype).reshape(n_rows, K)

    sw, sw_inner, weight_entries, nonzero_entries = _sample_weight(sample_weight, rows_shape, n_rows,
                                                                   count_nonzero_entries, float32_weights)
    mask_arr, mask_inner = _mask(mask, rows_shape)
    cw = class_weight_table(class_weight)
    if cw is not None:
        weight_entries = n_rows  # the effective weight array is per row

    return (yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K, sw, sw_inner, weight_entries, nonzero_entries,
            mask_arr, mask_inner, cw)


def evaluate(
    kernel_name: str,
    y_true,
    y_pred,
    *,
    sparse: bool,
    elementwise: bool,
    probabilities: bool,
    smoothing: float = 0.0,
    smoothing_classes: int | None = None,
    target_transform=None,
    delta: float = 0.0,
    options: Mapping[str, float] | None = None,
    columns=None,
    ignore_class=None,
    sample_weight=None,
    class_weight=None,
    mask=None,
    reduction="sum_over_batch_size",
    zero_division=0.0,
    n_threads=None,
):
    canonical = _CANONICAL_REDUCTION.get(reduction) if type(reduction) is str else None
    reduction = canonical if canonical is not None else canonical_reduction(reduction)
    if type(zero_division) is not float:
        zero_division = check_zero_division(zero_division)
    # None is resolved once the size is known: a small input runs on one thread without asking OpenMP.
    threads = None if n_threads is None else resolve_threads(n_threads)

    (yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K, sw, sw_inner, weight_entries, nonzero_entries,
     mask_arr, mask_inner, cw) = prepare(y_true, y_pred, sparse=sparse, elementwise=elementwise,
                                         ignore_class=ignore_class, sample_weight=sample_weight, mask=mask,
                                         class_weight=class_weight, float32_weights=True,
                                         count_nonzero_entries=reduction in _NEEDS_NONZERO_ENTRIES)

    out = np.empty(n_rows, dtype=dtype) if reduction == "none" else None
    block_rows = max(1, BLOCK_ELEMENTS // K)
    if n_rows * K < PARALLEL_MIN_ELEMENTS:
        threads = 1
    elif threads is None:
        threads = resolve_threads(None)
    lo, hi = _CLIP_BOUNDS[dtype]
    kernel = getattr(_kernels, kernel_name)
    if columns is not None:
        columns = np.ascontiguousarray(columns, dtype=np.float64).reshape(-1)
    if sparse:
        ignore = None if ignore_class is None else int(ignore_class)
        params = _params(options, lo, hi, 1.0, 0.0, delta)
        result = kernel(yt, yp, out, sw, sw_inner, cw, mask_arr, mask_inner, ignore, params, columns,
                        block_rows, threads)
    else:
        # Targets enter the element math as y * keep + offset: label smoothing, or hinge's {0, 1} -> {-1, 1}.
        if target_transform is not None:
            keep, offset = target_transform(yt, _included_rows(mask_arr, mask_inner, n_rows))
        else:
            keep, offset = 1.0 - smoothing, smoothing / (smoothing_classes or K)
        params = _params(options, lo, hi, keep, offset, delta)
        result = kernel(yt, yp, out, sw, sw_inner, cw, mask_arr, mask_inner, params, columns, block_rows, threads)
    S, W, V, Z, cw_nonzero, error, error_row = result
    if error:
        _raise_kernel_error(error, error_row, yt, yp, rows_shape, sparse, class_weight, cw, mask_arr,
                            mask_inner, ignore_class)
    if cw is not None:
        nonzero_entries = cw_nonzero
    if reduction == "none":
        return out.reshape(rows_shape)
    if reduction == "totals":
        return Totals(S, W, V, Z, n_rows, weight_entries, nonzero_entries)
    return scalar_result(reduction, zero_division, S, W, V, Z, n_rows, weight_entries, nonzero_entries)


def _included_rows(mask_arr, mask_inner, n_rows):
    """A boolean per row (None when every row is included); for the rare rules that look at all targets."""
    if mask_arr is None:
        return None
    return np.repeat(mask_arr.astype(bool), mask_inner)[:n_rows]


# ----------------------------------------------------------------------------------------------------------
# Kernel error codes -> messages (slow path: only runs when something is wrong)
# ----------------------------------------------------------------------------------------------------------

def _row_index(row, rows_shape):
    return tuple(int(i) for i in np.unravel_index(row, rows_shape)) if rows_shape else ()


def _dense_labels(yt: np.ndarray) -> np.ndarray:
    """The class of each dense target row, as the kernel reads it (float, so NaN and negatives survive)."""
    if yt.shape[1] == 1:
        return np.round(yt[:, 0].astype(np.float64))
    return np.argmax(yt, axis=1).astype(np.float64)


def _raise_kernel_error(code, row, yt, yp, rows_shape, sparse, class_weight, cw, mask_arr, mask_inner, ignore_class):
    where = _row_index(row, rows_shape)
    K = yp.shape[1]
    if code == _kernels.ERR_PROBABILITY:
        values = yp[row]
        bad = values[~((values >= 0) & (values <= 1))]  # NaN too (kernels that refuse it report it)
        raise ValueError(
            f"y_pred: probabilities must lie in [0, 1], but row {where} holds {bad[:3].tolist()}; "
            "pass from_logits=True if y_pred holds logits"
        )
    if code == _kernels.ERR_NEGATIVE_PREDICTION:
        values = yp[row]
        raise ValueError(f"y_pred: this loss needs non-negative predictions, but row {where} holds "
                         f"{values[values < 0][:3].tolist()}")
    if code == _kernels.ERR_INVALID_TARGET:
        values = yt[row] if not sparse else yt[row: row + 1]
        raise ValueError(f"y_true: row {where} holds {np.asarray(values)[:3].tolist()}, which this loss does not "
                         "accept as a target (see its docstring)")
    if code == _kernels.ERR_LABEL_NOT_INTEGRAL:
        raise ValueError(f"y_true: label {yt[row].item()!r} at row {where} is not an integer class")
    if code == _kernels.ERR_LABEL_RANGE:
        raise ValueError(
            f"y_true: label {yt[row].item()!r} at row {where} is out of range for y_pred with {K} classes "
            f"(valid labels are 0..{K - 1})"
        )
    label = float(yt[row]) if sparse else float(_dense_labels(yt[row: row + 1])[0])
    if not sparse and not (label >= 0):
        raise ValueError(f"y_true: value {label!r} at row {where} is not a valid class for class_weight")
    if isinstance(class_weight, Mapping):
        present = yt if sparse else _dense_labels(yt)
        included = np.ones(present.shape[0], dtype=bool)
        if mask_arr is not None:
            included &= np.repeat(mask_arr.astype(bool), mask_inner)[: present.shape[0]]
        if sparse and ignore_class is not None:
            included &= present != ignore_class
        present = np.unique(present[included])
        present = present[(present >= 0) & np.isfinite(present)].astype(np.int64)
        known = {int(k) for k in class_weight}
        missing = sorted(int(c) for c in present if int(c) not in known)
        raise ValueError(
            f"class_weight: classes {missing} occur in y_true but are missing from the class_weight dict "
            f"(its keys are {sorted(known)})"
        )
    raise ValueError(
        f"class_weight: label {int(label)} at row {where} has no entry in a class_weight array of length {cw.size}"
    )
