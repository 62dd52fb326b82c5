"""fastloss._buffers: a large gradient reuses the memory of an earlier one only once nothing refers to it.

SPARE_MIN_BYTES is lowered so that the small cases of test_gradients.py take the spare path. The reused memory is
first filled with NaN, so a gradient entry the kernel failed to write would show.
"""

import threading

import numpy as np
import pytest

import fastloss
from fastloss import _buffers
from fastloss.gradients import value_and_grad

from test_gradients import CASES, _case, _loss_name, _weighting


@pytest.fixture(autouse=True)
def spare_for_every_size(monkeypatch):
    monkeypatch.setattr(_buffers, "SPARE_MIN_BYTES", 1)
    monkeypatch.setattr(_buffers, "_spares", {})


def _address(a):
    return a.__array_interface__["data"][0]


def _fresh(loss, y, p, **options):
    """The gradient written into a new array of its own (out=): what a reused buffer must hold too."""
    out = np.empty(p.shape, dtype=p.dtype)
    value, grad = value_and_grad(loss, y, p, out=out, **options)
    return value, grad.copy()


WEIGHTINGS = [(case, weighting) for case in CASES for weighting in ("plain", "sample_weight_and_mask", "class_weight")
              if weighting != "class_weight" or case.startswith(("binary", "categorical", "sparse"))]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "none"])
@pytest.mark.parametrize("case, weighting", WEIGHTINGS)
def test_a_dropped_gradient_is_reused_and_every_entry_rewritten(case, weighting, reduction):
    y, p, options = _case(case)
    options.update(_weighting(weighting), reduction=reduction)
    loss = _loss_name(case)
    first = value_and_grad(loss, y, p, **options)[1]
    address = _address(first)
    first[...] = np.nan  # what the next gradient must not show anywhere
    del first
    want_value, want_grad = _fresh(loss, y, p[::-1].copy(), **options)
    value, grad = value_and_grad(loss, y, p[::-1].copy(), **options)
    assert _address(grad) == address
    np.testing.assert_array_equal(grad, want_grad)
    np.testing.assert_array_equal(value, want_value)


def test_a_live_gradient_is_never_reused():
    y, p, options = _case("binary_crossentropy:logits")
    first = value_and_grad("binary_crossentropy", y, p, **options)[1]
    kept = first.copy()
    second = value_and_grad("binary_crossentropy", y, -p, **options)[1]
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, kept)


def test_a_derived_view_keeps_the_memory_in_use():
    y, p, options = _case("mean_squared_error")
    view = value_and_grad("mean_squared_error", y, p, **options)[1].reshape(-1)[1::2]
    kept = view.copy()
    second = value_and_grad("mean_squared_error", y, 2 * p, **options)[1]
    assert not np.shares_memory(view, second)
    np.testing.assert_array_equal(view, kept)


def test_a_loop_that_holds_the_last_gradient_alternates_two_buffers():
    y, p, options = _case("categorical_crossentropy:logits")
    grad = value_and_grad("categorical_crossentropy", y, p, **options)[1]
    addresses = [_address(grad)]
    for step in range(1, 5):
        grad = value_and_grad("categorical_crossentropy", y, p + step, **options)[1]
        addresses.append(_address(grad))
        np.testing.assert_array_equal(grad, _fresh("categorical_crossentropy", y, p + step, **options)[1])
    assert addresses[0] != addresses[1]
    assert addresses[2:] == [addresses[0], addresses[1], addresses[0]]


def test_another_size_or_dtype_gets_memory_of_its_own():
    y, p, options = _case("mean_absolute_error", rows=6)
    first = value_and_grad("mean_absolute_error", y, p, **options)[1]
    address = _address(first)
    del first
    smaller = value_and_grad("mean_absolute_error", y[:4], p[:4], **options)[1]
    assert _address(smaller) != address
    np.testing.assert_array_equal(smaller, _fresh("mean_absolute_error", y[:4], p[:4], **options)[1])
    del smaller
    as_float32 = value_and_grad("mean_absolute_error", y.astype(np.float32), p.astype(np.float32), **options)[1]
    assert as_float32.dtype == np.float32 and as_float32.flags.c_contiguous and as_float32.flags.writeable


def test_small_gradients_are_plain_arrays(monkeypatch):
    monkeypatch.setattr(_buffers, "SPARE_MIN_BYTES", 1 << 22)
    y, p, options = _case("huber")
    grad = value_and_grad("huber", y, p, **options)[1]
    owner = grad if grad.base is None else grad.base  # a reshape of the array np.empty made
    assert isinstance(owner, np.ndarray) and owner.flags.owndata
    assert _buffers._spares == {}


def test_arrays_start_on_a_cache_line_and_are_ordinary_views():
    a = _buffers.fresh_array((3, 5), np.float64)
    assert _address(a) % _buffers.ALIGNMENT == 0
    assert a.shape == (3, 5) and a.dtype == np.float64 and a.flags.writeable and a.flags.c_contiguous


def test_threads_never_share_a_live_gradient():
    """Each thread holds its last gradient while computing the next: no two live gradients share memory."""
    cases = [_case("binary_crossentropy:logits", seed=s) for s in range(4)]
    want = [_fresh("binary_crossentropy", y, p, **o)[1] for y, p, o in cases]
    failures = []

    def work(i):
        y, p, options = cases[i]
        held = None
        for _ in range(200):
            grad = value_and_grad("binary_crossentropy", y, p, **options)[1]
            if held is not None and np.shares_memory(held, grad):
                failures.append("shared")
            if not np.array_equal(grad, want[i]):
                failures.append("value")
            held = grad

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_per_row_values_of_a_loss_are_reused_too():
    y, p, options = _case("mean_squared_error", rows=6)
    want = fastloss.mean_squared_error(y, 2 * p, reduction="none").copy()
    first = fastloss.mean_squared_error(y, p, reduction="none")
    address = _address(first)
    first[...] = np.nan
    del first
    again = fastloss.mean_squared_error(y, 2 * p, reduction="none")
    assert _address(again) == address
    np.testing.assert_array_equal(again, want)


def test_a_loop_that_holds_its_last_values_and_gradient_reuses_both():
    y, p, options = _case("binary_crossentropy")
    options["reduction"] = "none"
    steps = [np.clip(p + 0.01 * step, 0.0, 1.0) for step in range(4)]
    wants = [_fresh("binary_crossentropy", y, shifted, **options) for shifted in steps]
    _buffers._spares.clear()
    seen = []
    for shifted, (want_values, want_grad) in zip(steps, wants):
        values, grad = value_and_grad("binary_crossentropy", y, shifted, **options)
        seen.append((_address(values), _address(grad)))
        np.testing.assert_array_equal(values, want_values)
        np.testing.assert_array_equal(grad, want_grad)
    assert seen[2:] == [seen[0], seen[1]]
