"""Direct calls: the kernel module reads an input that needs no coercion itself (_kernels.direct_call_totals).

evaluate offers every call to it first; it takes plain NumPy arrays that the general path would pass through
unchanged, asks the engine's thread rule for the threads of a call of more than one block, and returns None for
everything else. Its results must be the general path's bits, for every loss and reduction, at every size and
thread count, and everything it declines (a conversion, a broadcast, a bad value to report) must still reach the
general path, which owns those rules and messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss
from fastloss import _engine, _kernels
from oracle_cases import SCALAR_REDUCTIONS

ROWS, K = (6, 5), 4
LABELS = ("sparse_categorical_crossentropy", "categorical_generalized_cross_entropy")  # y_true: one label per row
# Losses whose calls carry kernel options or a rule over all targets (hinge's): they never take the small path.
GENERAL_ONLY = ("hinge", "squared_hinge", "binary_focal_crossentropy", "categorical_focal_crossentropy",
                "categorical_generalized_cross_entropy")


@pytest.fixture
def small_calls(monkeypatch):
    """Counts the direct calls that returned totals (the others fell through to the general path)."""
    taken = []
    direct_call_totals = _kernels.direct_call_totals

    def counting(*args):
        totals = direct_call_totals(*args)
        taken.append(totals is not None and totals[0] is not None)
        return totals

    monkeypatch.setattr(_kernels, "direct_call_totals", counting)
    return taken


def general_path(monkeypatch):
    monkeypatch.setattr(_kernels, "direct_call_totals", lambda *args: None)


def inputs(loss, dtype, rng, rows=ROWS, k=K):
    y_pred = rng.uniform(0.05, 0.95, rows + (k,)).astype(dtype)
    if loss in LABELS:
        y_true = rng.integers(0, k, rows)
    elif loss in ("categorical_crossentropy", "kl_divergence", "categorical_hinge", "categorical_focal_crossentropy"):
        y_true = np.eye(k, dtype=dtype)[rng.integers(0, k, rows)]
    else:
        y_true = (rng.random(rows + (k,)) < 0.4).astype(dtype)
    return y_true, y_pred


def weightings(rng, dtype, rows=ROWS):
    """The weightings a small call reads as given: none, weights by sample or by row (float32 or float64),
    bool masks by sample or by row, and both."""
    sw_rows = rng.uniform(0.0, 2.0, rows)
    sw_rows[0, 1] = 0.0
    mask_rows = rng.random(rows) < 0.7
    return {
        "none": {},
        "sw by sample": dict(sample_weight=sw_rows[:, 0].copy()),
        "sw by row": dict(sample_weight=sw_rows),
        "float32 sw by row": dict(sample_weight=sw_rows.astype(np.float32)),
        "mask by sample": dict(mask=mask_rows[:, 0].copy()),
        "mask by row": dict(mask=mask_rows),
        "sw and mask": dict(sample_weight=sw_rows.astype(dtype), mask=mask_rows),
        "all masked": dict(sample_weight=sw_rows, mask=np.zeros(rows, dtype=bool)),
    }


def same(got, want):
    return got == want or (math.isnan(got) and math.isnan(want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", list(fastloss.LOSSES))
def test_small_calls_give_the_bits_of_the_general_path(loss, dtype, small_calls, monkeypatch):
    rng = np.random.default_rng(7)
    fn = fastloss.LOSSES[loss]
    y_true, y_pred = inputs(loss, dtype, rng)
    extra = [{}]
    if loss in ("binary_crossentropy", "categorical_crossentropy"):
        extra += [dict(label_smoothing=0.1), dict(from_logits=True), dict(from_logits=True, label_smoothing=0.2)]
    if loss == "sparse_categorical_crossentropy":
        extra += [dict(ignore_class=2), dict(from_logits=True), dict(from_logits=True, ignore_class=0)]
    if loss == "huber":
        extra += [dict(delta=0.3)]
    calls = [(name, {**weighting, **options}, reduction, zero_division)
             for name, weighting in weightings(rng, dtype).items() for options in extra
             for reduction in SCALAR_REDUCTIONS for zero_division in (0.0, "nan")]
    got = [fn(y_true, y_pred, reduction=r, zero_division=z, **kw) for _, kw, r, z in calls]
    taken = list(small_calls)
    general_path(monkeypatch)
    want = [fn(y_true, y_pred, reduction=r, zero_division=z, **kw) for _, kw, r, z in calls]
    for (name, kw, r, z), g, w in zip(calls, got, want):
        assert same(g, w), f"{loss} {np.dtype(dtype)} {name} {kw} {r} zero_division={z}: {g!r} != {w!r}"
    if loss in GENERAL_ONLY:
        assert not any(taken)
    elif loss in ("dice", "tversky"):
        assert any(taken)  # their batch value is spread over the weight entries by a call of its own
    else:
        # zero_division="nan" goes the general way; every other call here is small and needs no coercion
        assert sum(taken) == sum(z == 0.0 for _, _, _, z in calls), f"{loss}: {sum(taken)} small calls"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_dimensional_predictions_and_single_rows(dtype, small_calls, monkeypatch):
    """A 1-D y_pred is N rows of one value for an element-wise loss and one row of N classes otherwise."""
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, 12).astype(dtype)
    y = (rng.random(12) < 0.5).astype(dtype)
    sw = rng.uniform(0.5, 2.0, 12)
    calls = [(fastloss.mean_squared_error, y, p, dict(sample_weight=sw)),
             (fastloss.binary_crossentropy, y, p, dict(mask=sw > 1.0)),
             (fastloss.categorical_crossentropy, np.eye(12, dtype=dtype)[3], p / p.sum(), {}),
             (fastloss.sparse_categorical_crossentropy, np.array(3), p / p.sum(), {}),
             (fastloss.mean_absolute_error, y[:1], p[:1], {})]
    got = [fn(a, b, reduction="mean_with_sample_weight", **kw) for fn, a, b, kw in calls]
    assert all(small_calls)
    general_path(monkeypatch)
    want = [fn(a, b, reduction="mean_with_sample_weight", **kw) for fn, a, b, kw in calls]
    assert got == want


def declined():
    """Inputs that need the general path: (what, y_true, y_pred, keywords of small_call_totals)."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, (6, 4))
    y = (rng.random((6, 4)) < 0.5).astype(np.float64)
    labels = rng.integers(0, 4, 6)

    class Subclass(np.ndarray):
        pass

    return [
        ("lists", y.tolist(), p.tolist(), {}),
        ("strided y_pred", y, np.repeat(p, 2, axis=1)[:, ::2], {}),
        ("Fortran order", y, np.asfortranarray(p), {}),
        ("big-endian", y, p.astype(">f8"), {}),
        ("float16", y.astype(np.float16), p.astype(np.float16), {}),
        ("mixed dtypes", y.astype(np.float32), p, {}),
        ("integer targets", y.astype(np.int64), p, {}),
        ("masked array", y, np.ma.masked_array(p), {}),
        ("subclass", y, p.view(Subclass), {}),
        ("targets of another rank", y[..., None], p, {}),
        ("scalar prediction", np.array(1.0), np.array(0.5), {}),
        ("empty rows", y[:0], p[:0], {}),
        ("no classes", y[:, :0], p[:, :0], {}),
        ("weights (N, 1)", y, p, dict(sample_weight=np.ones((6, 1)))),
        ("scalar weight", y, p, dict(sample_weight=np.float64(2.0))),
        ("0-d weight array", y, p, dict(sample_weight=np.array(2.0))),
        ("integer weights", y, p, dict(sample_weight=np.ones(6, dtype=np.int64))),
        ("weights of the wrong length", y, p, dict(sample_weight=np.ones(5))),
        ("weights as long as the elements", y, p, dict(sample_weight=np.ones((6, 4)))),
        ("strided weights", y, p, dict(sample_weight=np.ones(12)[::2])),
        ("uint8 mask", y, p, dict(mask=np.array([1, 2, 0, 1, 1, 1], dtype=np.uint8))),
        ("float mask", y, p, dict(mask=np.ones(6))),
        ("list mask", y, p, dict(mask=[True] * 6)),
        ("probability above 1 (the general path reports it)", y, np.where(p > 0.9, 1.5, p), {}),
        ("sparse: float labels", labels.astype(np.float64), p, dict(kernel="scce_probabilities")),
        ("sparse: labels (N, 1)", labels[:, None], p, dict(kernel="scce_probabilities")),
        ("sparse: uint8 labels", labels.astype(np.uint8), p, dict(kernel="scce_probabilities")),
        ("sparse: label out of range", np.where(labels == 0, 4, labels), p, dict(kernel="scce_probabilities")),
        ("sparse: numpy ignore_class", labels, p, dict(kernel="scce_probabilities", ignore=np.int64(1))),
        ("sparse: huge ignore_class", labels, p, dict(kernel="scce_probabilities", ignore=1 << 70)),
    ]


def small_call(y_true, y_pred, kernel="bce_probabilities", sample_weight=None, mask=None, ignore=None,
               threads_for=None):
    def no_rule(elements, n_threads):
        raise AssertionError("a call of one block asked the thread rule")
    return _kernels.direct_call_totals(_kernels.KERNEL_INDEX[kernel], y_true, y_pred, sample_weight, mask, ignore,
                                       True, 0.0, 2, 0.0, False, 1 << 14, threads_for or no_rule, None)


@pytest.mark.parametrize("what, y_true, y_pred, keywords", declined(), ids=[row[0] for row in declined()])
def test_inputs_that_need_the_general_path_are_declined(what, y_true, y_pred, keywords):
    totals = small_call(y_true, y_pred, **keywords)
    if what.startswith(("probability above 1", "sparse: label out of range")):
        assert totals == (None,) * 7 + (1,)  # the kernel ran, on one thread, and found the error
    else:
        assert totals is None


def test_the_clean_inputs_of_the_declined_table_are_taken():
    """The table above declines for its stated reason only: the same call on clean inputs is taken."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, (6, 4))
    y = (rng.random((6, 4)) < 0.5).astype(np.float64)
    labels = rng.integers(0, 4, 6)
    for totals in (small_call(y, p), small_call(y, p, sample_weight=np.ones(6), mask=np.ones(6, dtype=bool)),
                   small_call(labels, p, kernel="scce_probabilities", ignore=1),
                   small_call(labels.astype(np.int32), p, kernel="scce_probabilities")):
        assert totals is not None and totals[0] is not None and totals[7] == 1


@pytest.mark.parametrize("what, y_true, y_pred, keywords", declined(), ids=[row[0] for row in declined()])
def test_declined_inputs_get_the_general_paths_answer(what, y_true, y_pred, keywords, small_calls, monkeypatch):
    """The public call behind each declined input takes the general path too (evaluate passes what the direct call
    above passed), with the same value or the same exception as with small calls switched off."""
    kernel = keywords.get("kernel", "bce_probabilities")
    fn, options = ((fastloss.sparse_categorical_crossentropy, dict(ignore_class=keywords.get("ignore")))
                   if kernel.startswith("scce") else (fastloss.binary_crossentropy, {}))
    weighting = {name: keywords[name] for name in ("sample_weight", "mask") if name in keywords}

    def outcome():
        try:
            return fn(y_true, y_pred, **weighting, **options)
        except Exception as exc:  # the outcome to compare, whatever it is
            return type(exc), str(exc)

    got = outcome()
    assert small_calls and not any(small_calls), f"{what}: {small_calls}"
    general_path(monkeypatch)
    want = outcome()
    assert got == want or (isinstance(got, float) and same(got, want))


def test_direct_calls_take_their_threads_from_the_thread_rule(monkeypatch):
    """A call of more than one block asks kernel_threads (elements, n_threads) once and books the count it got with
    kernel_returned; a call of one block asks nothing and runs on one thread."""
    asked, booked = [], []
    kernel_threads, kernel_returned = _engine.kernel_threads, _engine.kernel_returned

    def asking(elements, n_threads):
        asked.append((elements, n_threads))
        return kernel_threads(elements, n_threads)

    def booking(threads):
        booked.append(threads)
        return kernel_returned(threads)

    monkeypatch.setattr(_engine, "kernel_threads", asking)
    monkeypatch.setattr(_engine, "kernel_returned", booking)
    monkeypatch.setattr(_engine, "PARALLEL_MIN_ELEMENTS", 0)  # every call of two blocks or more: n_threads
    y, p = np.zeros(3 * (1 << 14) + 5), np.full(3 * (1 << 14) + 5, 0.5)
    fastloss.binary_crossentropy(y[:1000], p[:1000], n_threads=2)
    assert asked == [] and booked == [1]
    fastloss.binary_crossentropy(y, p, n_threads=2)
    fastloss.binary_crossentropy(y, p, n_threads=1)
    assert asked == [(y.size, 2), (y.size, 1)]
    expected = 2 if _kernels.openmp_enabled() else 1
    assert booked == [1, expected, 1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, options", [("binary_crossentropy", {}), ("binary_crossentropy", dict(from_logits=True)),
                                           ("categorical_crossentropy", dict(label_smoothing=0.1)),
                                           ("sparse_categorical_crossentropy", {}),
                                           ("mean_squared_error", {})])
def test_direct_calls_of_many_blocks_give_the_bits_of_the_general_path(loss, options, dtype, small_calls,
                                                                       monkeypatch):
    """Several blocks, on one thread and on several, with weights and a mask: the direct path's totals, E0 included
    (keras_legacy reads it), are the general path's bits, and the direct path took every call."""
    monkeypatch.setattr(_engine, "PARALLEL_MIN_ELEMENTS", 0)  # n_threads=2 and None run on 2 threads here
    threads = []
    kernel_returned = _engine.kernel_returned
    monkeypatch.setattr(_engine, "kernel_returned", lambda t: threads.append(t) or kernel_returned(t))
    rng = np.random.default_rng(11)
    rows, k = (600, 7), 10  # 42000 elements: three blocks of 2^14 elements at K = 10
    y_true, y_pred = inputs(loss, dtype, rng, rows, k)
    sw = rng.uniform(0.0, 2.0, rows)
    sw[rng.random(rows) < 0.1] = 0.0
    mask = rng.random(rows) < 0.8
    calls = [(kw, r, threads) for kw in ({}, dict(sample_weight=sw, mask=mask), dict(sample_weight=sw[:, 0].copy()))
             for r in SCALAR_REDUCTIONS for threads in (1, 2, None)]
    fn = fastloss.LOSSES[loss]
    got = [fn(y_true, y_pred, reduction=r, n_threads=t, **kw, **options) for kw, r, t in calls]
    assert len(small_calls) == len(calls) and all(small_calls)
    if _kernels.openmp_enabled() and _kernels.max_threads() > 1:
        assert threads == [1 if t == 1 else (2 if t == 2 else _kernels.max_threads()) for _, _, t in calls]
    general_path(monkeypatch)
    want = [fn(y_true, y_pred, reduction=r, n_threads=t, **kw, **options) for kw, r, t in calls]
    for (kw, r, t), g, w in zip(calls, got, want):
        assert same(g, w), f"{loss} {sorted(kw)} {r} n_threads={t}: {g!r} != {w!r}"


def test_a_kernel_error_in_a_direct_call_of_many_blocks_is_booked_and_reported(monkeypatch):
    booked = []
    kernel_returned = _engine.kernel_returned
    monkeypatch.setattr(_engine, "kernel_returned", lambda threads: booked.append(threads) or kernel_returned(threads))
    monkeypatch.setattr(_engine, "PARALLEL_MIN_ELEMENTS", 0)
    p = np.full((6000, 10), 0.1)
    p[4321, 7] = 1.5
    y = np.eye(10)[np.arange(6000) % 10]
    with pytest.raises(ValueError, match=r"y_pred: probabilities must lie in \[0, 1\], but row \(4321,\)"):
        fastloss.categorical_crossentropy(y, p, n_threads=2)
    expected = 2 if _kernels.openmp_enabled() else 1
    assert booked == [expected, expected]  # the direct attempt, then the general path's call


def test_smoothed_target_is_what_keras_smooths_towards():
    assert _kernels.smoothed_target(0.1, 2, 10) == (0.9, 0.05)  # binary: towards 1/2
    assert _kernels.smoothed_target(0.1, 0, 10) == (0.9, 0.1 / 10)  # categorical: towards 1/K
    assert _kernels.smoothed_target(0.0, 0, 3) == (1.0, 0.0)


SMALL_LOSSES = {
    "binary_crossentropy": [{}, dict(from_logits=True), dict(label_smoothing=0.3)],
    "categorical_crossentropy": [{}, dict(from_logits=True, label_smoothing=0.1)],
    "sparse_categorical_crossentropy": [{}, dict(from_logits=True), dict(ignore_class=1)],
    "mean_squared_error": [{}],
    "mean_absolute_error": [{}],
}


@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_random_shapes_and_weightings_give_the_bits_of_the_general_path(data):
    """Row shapes of 1-3 axes, 1-12 classes, weights and masks cut at any axis, both dtypes, every scalar reduction."""
    loss = data.draw(st.sampled_from(sorted(SMALL_LOSSES)), label="loss")
    options = data.draw(st.sampled_from(SMALL_LOSSES[loss]), label="options")
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    rows = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="rows"))
    k = data.draw(st.integers(1, 12), label="K")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    y_true, y_pred = inputs(loss, dtype, rng, rows, k)
    if options.get("from_logits"):
        y_pred = rng.normal(0.0, 3.0, y_pred.shape).astype(dtype)
    kw = dict(options)
    cut = data.draw(st.integers(0, len(rows)), label="weight axes")
    if cut:
        kw["sample_weight"] = rng.uniform(0.0, 2.0, rows[:cut]).astype(data.draw(
            st.sampled_from([np.float32, np.float64]), label="weight dtype"))
    cut = data.draw(st.integers(0, len(rows)), label="mask axes")
    if cut:
        kw["mask"] = rng.random(rows[:cut]) < 0.7
    fn = fastloss.LOSSES[loss]
    direct_call_totals = _kernels.direct_call_totals
    taken = []
    try:
        _kernels.direct_call_totals = lambda *args: taken.append(direct_call_totals(*args)) or taken[-1]
        got = [fn(y_true, y_pred, reduction=r, **kw) for r in SCALAR_REDUCTIONS]
        _kernels.direct_call_totals = lambda *args: None
        want = [fn(y_true, y_pred, reduction=r, **kw) for r in SCALAR_REDUCTIONS]
    finally:
        _kernels.direct_call_totals = direct_call_totals
    assert all(same(g, w) for g, w in zip(got, want)), (got, want)
    assert len(taken) == len(SCALAR_REDUCTIONS) and all(t is not None for t in taken)
