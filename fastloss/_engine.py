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
import time
from collections.abc import Mapping

import numpy as np

from . import _kernels
from ._reductions import (REDUCTIONS, Totals, canonical_reduction, check_zero_division, scalar_result,
                          scalar_result_of_totals)
from ._arrays import _float_dtype, _to_numpy
from ._buffers import fresh_array
from .class_weight import class_weight_table

# The thread rule (thread_count; benchmarks/threads.py measures what it rests on, on the 2-vCPU KVM VM).
# Inputs of PARALLEL_MIN_ELEMENTS or more run on the default thread count. A loss called once per training step
# finds the OpenMP workers asleep (libgomp's default wait policy: a worker spins ~7.5 ms after a region, then
# sleeps on a futex), and the first parallel region after the process slept costs 4-8 ms more than the work
# (--wake: the woken worker often queues on the caller's CPU, behind the caller's own barrier spin). Serial
# crossentropies take ~1.5-4 ns per element, so that wake-up can pay only from millions of elements on (on the
# shared VM, --wake still shows 2^21-2^22 losing to one thread, 2^23 winning).
PARALLEL_MIN_ELEMENTS = 1 << 21
# Below that, n_threads=None still uses the default thread count while the workers of the last parallel call
# spin. Up to 1 ms after a parallel call returned, a 2-thread call costs what it costs back to back: 0.52-0.55x
# the serial time from 2^17 to 2^20 elements (BCE logits float64 2^17: 239 µs back to back, 241 at 300 µs, 248
# at 1 ms, against 461-467 µs serial); at 3 ms it still wins but sometimes pays a slice (~8 ms), at 10 ms the
# gain is gone, at 50 ms the wake-up costs 2-6 ms. WARM_WINDOW_S stays below the shortest spin libgomp expects
# on any CPU (its 3 ms estimate for 300000 PAUSEs, "5 times shorter" at worst). Two warm threads win from two
# blocks (2^15 elements) on, even on MSE (12 against 15 µs); one block always runs serially. A parallel call
# (2^21 elements or more, an explicit n_threads there, or a warm call) opens the window.
WARM_MIN_ELEMENTS = 1 << 15
WARM_WINDOW_S = 0.5e-3
# A run of serial calls says nothing about the workers: after a sleep the first parallel call still pays the
# wake-up (--wake: 4-8 ms, also after 20 ms of serial calls). So a run of back-to-back calls (each from
# WARM_MIN_ELEMENTS on, each starting within the window of the last one's return) wakes the pool only once its
# serial calls have taken WAKE_UP_BUDGET_S, about what one wake-up costs (rent-or-buy: a run pays at most about
# twice what the best choice in hindsight would). The wake-up call is seldom prompt itself, so the call after it
# runs on the default threads too; if neither opened the window (the other core is busy), the run saves up
# again. A loss called a few times per training step never gets there; a loop evaluating batches back to back
# gets there after a few ms, then keeps the window open with its 2-thread calls.
WAKE_UP_BUDGET_S = 8e-3
# A parallel call opens the window only if its calling thread, done with its own blocks, waited less than
# PROMPT_WAIT_S for the workers and no worker ran on its CPU (_kernels.last_parallel_region): the wait is 1-30 µs
# when they ran alongside it (with runs of blocks, 2^21 to 1e7 elements: a median of 1-20 µs, at most 50-430 µs),
# 4-13 ms when one had to wait for a core (on the shared VM, a worker woken after a sleep lands on the caller's
# CPU when the other core is busy, and keeps spinning there), and a warm call would wait as long.
PROMPT_WAIT_S = 0.5e-3
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

def _warm_window(environ) -> float:
    """WARM_WINDOW_S, or 0 where libgomp's workers do not spin after a region (OMP_WAIT_POLICY=passive, or a
    GOMP_SPINCOUNT below libgomp's default of 300000)."""
    if environ.get("OMP_WAIT_POLICY", "").strip().lower() == "passive":
        return 0.0
    spin = environ.get("GOMP_SPINCOUNT", "").strip().lower()
    if spin and spin not in ("infinite", "infinity"):
        units = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}
        try:
            count = float(spin[:-1]) * units[spin[-1]] if spin[-1] in units else float(spin)
        except ValueError:
            return 0.0
        if count < 300000:
            return 0.0
    return WARM_WINDOW_S


# libgomp reads its environment once, when it loads: so does this.
_warm_window_s = _warm_window(os.environ)
_last_parallel_return = -math.inf  # time.perf_counter() when the last prompt parallel call returned
_run_serial_s = 0.0  # what the serial calls of the current back-to-back run took
_last_return = -math.inf  # when the last call of WARM_MIN_ELEMENTS or more returned
_call_started = None  # when the n_threads=None call in progress started (None: none, or below WARM_MIN_ELEMENTS)
_follow_up = False  # the last call woke the pool for a run: the next one of the run is parallel too


def thread_count(elements: int, n_threads, since_parallel_s: float) -> int:
    """The threads of a kernel call over `elements` (the thread rule by PARALLEL_MIN_ELEMENTS).

    From PARALLEL_MIN_ELEMENTS on: n_threads, resolved. Below: one thread, except that n_threads=None uses the
    default count from WARM_MIN_ELEMENTS on when the last parallel call returned `since_parallel_s` seconds ago,
    less than the warm window (its workers still spin), and the default count does not exceed the cores (libgomp
    throttles the spin of oversubscribed workers).
    """
    if elements >= PARALLEL_MIN_ELEMENTS:
        return resolve_threads(n_threads)
    if n_threads is None and elements >= WARM_MIN_ELEMENTS and since_parallel_s < _warm_window_s:
        threads = resolve_threads(None)
        if threads <= _kernels.num_procs():
            return threads
    return 1


def kernel_threads(elements: int, n_threads) -> int:
    """The n_threads argument of a kernel call of more than one block (one block never runs in parallel).

    The caller calls kernel_returned(threads) when the kernel has returned.
    """
    global _call_started, _run_serial_s, _follow_up
    if elements < WARM_MIN_ELEMENTS and elements < PARALLEL_MIN_ELEMENTS:
        return 1  # no clock read
    now = time.perf_counter()
    threads = thread_count(elements, n_threads, now - _last_parallel_return)
    if n_threads is not None:
        return threads  # not part of a run: an explicit count keeps its meaning
    _call_started = now
    if threads == 1 and elements < PARALLEL_MIN_ELEMENTS:
        # the run rule (WAKE_UP_BUDGET_S): thread_count(..., 0.0) is the default count where workers may spin
        if now - _last_return >= _warm_window_s:
            _run_serial_s, _follow_up = 0.0, False  # a pause: a new run
        elif _follow_up:
            _follow_up = False
            return thread_count(elements, None, 0.0)
        elif _run_serial_s >= WAKE_UP_BUDGET_S:
            _run_serial_s = 0.0
            threads = thread_count(elements, None, 0.0)
            _follow_up = threads > 1
    return threads


def kernel_returned(threads: int):
    """Books a kernel call that kernel_threads() gave `threads`: a parallel call may open the warm window
    (parallel_call_returned); a serial one adds its time to the current run of calls."""
    global _call_started, _run_serial_s, _last_return
    if threads > 1:
        parallel_call_returned()
    if _call_started is not None:
        now = time.perf_counter()
        if threads == 1:
            _run_serial_s += now - _call_started
        _last_return = now
        _call_started = None


def parallel_call_returned():
    """Opens the warm window, unless the call waited for a late worker or shared a CPU with one (the next would)."""
    global _last_parallel_return
    wait, shared_cpu = _kernels.last_parallel_region()
    if wait < PROMPT_WAIT_S and not shared_cpu:
        _last_parallel_return = time.perf_counter()


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
    labels = _read(y_true, name)
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
    return np.ascontiguousarray(labels.ravel(), dtype=dtype)


# (rows_shape, K) of a y_pred shape: the last axis holds a row's K values, except that a 1-D y_pred of an
# element-wise loss is N rows of one value. The kernel module owns the rule: its direct calls apply it to buffers.
_row_layout = _kernels.row_layout


def _match_dense_target(y_true: np.ndarray, pred_shape, pred_shape_given) -> np.ndarray:
    """Keras's one shape fix: ranks differing by exactly 1 where the longer array's last axis is 1."""
    if y_true.shape == pred_shape:
        return y_true
    if y_true.ndim == len(pred_shape) + 1 and y_true.shape[-1] == 1 and y_true.shape[:-1] == pred_shape:
        return y_true[..., 0]
    if len(pred_shape) == y_true.ndim + 1 and pred_shape[-1] == 1 and pred_shape[:-1] == y_true.shape:
        return y_true[..., None]
    raise ValueError(f"y_true: shape {y_true.shape} does not match y_pred shape {pred_shape_given}")


def _prefix_broadcast(x: np.ndarray, rows_shape, name: str):
    """(flat array, rows per entry) for an array whose shape leads the row shape; never expanded to row size."""
    shape = x.shape
    if shape == rows_shape[: len(shape)]:  # the common case, without the search below
        return x if len(shape) == 1 else x.ravel(), math.prod(rows_shape[len(shape):])  # ravel: 0.15 µs less
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
        flat = np.ascontiguousarray(flat)  # the kernels read bool bytes (0 or 1) as uint8
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
_kernels.set_clip_bounds(_CLIP_BOUNDS[np.float32], _CLIP_BOUNDS[np.float64])


_PARAM_INDEX = {name: i for i, name in enumerate(_kernels.PARAM_FIELDS)}
_KERNEL_INDEX = _kernels.KERNEL_INDEX

# The per-call work of a small input is mostly Python; these caches keep a 1e3-element call within a few µs.
_CANONICAL_REDUCTION = {name: canonical_reduction(name) for name in REDUCTIONS}
_SCALAR_REDUCTION = {name: canonical for name, canonical in _CANONICAL_REDUCTION.items()
                     if canonical not in ("none", "totals")}
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
    pair = None if sparse else _same_shape_float_pair(y_true, y_pred, elementwise)
    if pair is not None:
        yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K = pair
    else:
        yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K = _coerce_pair(y_true, y_pred, sparse, elementwise,
                                                                              ignore_class)

    sw, sw_inner, weight_entries, nonzero_entries = _sample_weight(sample_weight, rows_shape, n_rows,
                                                                   count_nonzero_entries, float32_weights)
    mask_arr, mask_inner = _mask(mask, rows_shape)
    cw = class_weight_table(class_weight)
    if cw is not None:
        weight_entries = n_rows  # the effective weight array is per row

    return (yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K, sw, sw_inner, weight_entries, nonzero_entries,
            mask_arr, mask_inner, cw)


def _same_shape_float_pair(y_true, y_pred, elementwise):
    """_coerce_pair's result for its most common input, without its general steps: two NumPy arrays of one shape
    and one float dtype (float32 or float64, native order), which it would only reshape. None for anything else.
    (A 1e3-element MAE call: 4.8 -> 3.6 µs.)"""
    if type(y_pred) is not np.ndarray or type(y_true) is not np.ndarray:
        return None
    shape = y_pred.shape
    dtype = _FLOAT_DTYPES.get(y_pred.dtype)
    if dtype is None or not shape or not shape[-1] or y_true.shape != shape:
        return None  # _coerce_pair converts, or raises its errors
    if _FLOAT_DTYPES.get(y_true.dtype) is not dtype:
        return None
    yt, yp = np.ascontiguousarray(y_true), np.ascontiguousarray(y_pred)
    rows_shape, K = _row_layout(shape, elementwise)
    if len(shape) == 2:  # already (rows, K): a reshape costs ~0.2 µs per array
        return yt, yp, dtype, shape, rows_shape, shape[0], K
    n_rows = y_pred.size // K
    return yt.reshape(n_rows, K), yp.reshape(n_rows, K), dtype, shape, rows_shape, n_rows, K


def _coerce_pair(y_true, y_pred, sparse, elementwise, ignore_class):
    """(yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K) of prepare: any array-like input, checked."""
    y_pred_arr = _read(y_pred, "y_pred")
    if y_pred_arr.ndim == 0:
        raise ValueError("y_pred: expected an array with at least one axis, got a scalar")
    dtype = _FLOAT_DTYPES.get(y_pred_arr.dtype) or _float_dtype(y_pred_arr)
    pred_shape_given = y_pred_arr.shape
    rows_shape, K = _row_layout(pred_shape_given, elementwise)
    if K == 0:
        raise ValueError(f"y_pred: the last (class) axis has size 0 (shape {rows_shape + (K,)})")
    n_rows = math.prod(rows_shape)
    yp = np.ascontiguousarray(y_pred_arr, dtype=dtype).reshape(n_rows, K)

    if sparse:
        yt = _as_labels(y_true, rows_shape)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)
        ):
            raise TypeError(f"ignore_class: expected None or an integer class, got {ignore_class!r}")
    else:
        yt = _match_dense_target(_read(y_true, "y_true"), rows_shape + (K,), pred_shape_given)
        yt = np.ascontiguousarray(yt, dtype=dtype).reshape(n_rows, K)
    return yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K


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
    if (class_weight is None and target_transform is None and options is None and columns is None
            and type(zero_division) is float and (n_threads is None or type(n_threads) is int and n_threads)
            and type(reduction) is str):
        scalar = _SCALAR_REDUCTION.get(reduction)
        if scalar is not None:
            # Inputs that the coercion below would pass through unchanged are read by the kernel module itself,
            # without the ~2-5 µs of Python below; a call of more than one block gets its threads from
            # kernel_threads there, as below. None: anything else, before anything ran. Totals of None: a kernel
            # error. This general path, which owns every conversion, rule and message, then runs the call.
            try:
                totals = _kernels.direct_call_totals(
                    _KERNEL_INDEX[kernel_name], y_true, y_pred, sample_weight, mask, ignore_class, elementwise,
                    smoothing, smoothing_classes or 0, delta, scalar in _NEEDS_NONZERO_ENTRIES, BLOCK_ELEMENTS,
                    kernel_threads, n_threads)
            except BaseException:
                kernel_returned(1)  # a call that raised (MemoryError) after the rule saw it leaves no start behind
                raise
            if totals is not None:
                kernel_returned(totals[7])
                if totals[0] is not None:
                    return scalar_result_of_totals(scalar, zero_division, totals)
    canonical = _CANONICAL_REDUCTION.get(reduction) if type(reduction) is str else None
    reduction = canonical if canonical is not None else canonical_reduction(reduction)
    if type(zero_division) is not float:
        zero_division = check_zero_division(zero_division)
    # n_threads is checked first; None is resolved once the size is known (thread_count).
    if n_threads is not None:
        resolve_threads(n_threads)

    (yt, yp, dtype, pred_shape_given, rows_shape, n_rows, K, sw, sw_inner, weight_entries, nonzero_entries,
     mask_arr, mask_inner, cw) = prepare(y_true, y_pred, sparse=sparse, elementwise=elementwise,
                                         ignore_class=ignore_class, sample_weight=sample_weight, mask=mask,
                                         class_weight=class_weight, float32_weights=True,
                                         count_nonzero_entries=False)

    out = fresh_array((n_rows,), dtype) if reduction == "none" else None
    block_rows = max(1, BLOCK_ELEMENTS // K)
    lo, hi = _CLIP_BOUNDS[dtype]
    kernel = getattr(_kernels, kernel_name)
    if columns is not None:
        columns = np.ascontiguousarray(columns, dtype=np.float64).reshape(-1)
    if sparse:
        ignore = None if ignore_class is None else int(ignore_class)
        params = _params(options, lo, hi, 1.0, 0.0, delta)
        args = (yt, yp, out, sw, sw_inner, cw, mask_arr, mask_inner, ignore, params, columns, block_rows)
    else:
        # Targets enter the element math as y * keep + offset: label smoothing, or hinge's {0, 1} -> {-1, 1}.
        if target_transform is not None:
            keep, offset = target_transform(yt, _included_rows(mask_arr, mask_inner, n_rows))
        else:
            keep, offset = _kernels.smoothed_target(smoothing, smoothing_classes or 0, K)
        params = _params(options, lo, hi, keep, offset, delta)
        args = (yt, yp, out, sw, sw_inner, cw, mask_arr, mask_inner, params, columns, block_rows)
    threads = 1 if n_rows <= block_rows else kernel_threads(n_rows * K, n_threads)
    try:
        if reduction in _NEEDS_NONZERO_ENTRIES and sw is not None and cw is None:
            # E0, counted here rather than in prepare: on the kernel's threads, in one SIMD pass
            # (np.count_nonzero on a float array takes ~4x the time of reading it).
            nonzero_entries = _kernels.count_nonzero(sw, threads)
        result = kernel(*args, threads)
    finally:
        kernel_returned(threads)  # also after a raise: a call in progress never outlives its kernel
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
