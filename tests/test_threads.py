"""The thread rule of fastloss/_engine.py: which calls run on more than one thread (pure logic, no timing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastloss
from fastloss import _engine

WINDOW = 0.5e-3


@pytest.fixture
def two_cores(monkeypatch):
    """An OpenMP build on 2 cores whose default is 2 threads, libgomp's default wait policy, a 1 ms window."""
    monkeypatch.setattr(_engine._kernels, "openmp_enabled", lambda: True)
    monkeypatch.setattr(_engine._kernels, "max_threads", lambda: 2)
    monkeypatch.setattr(_engine._kernels, "num_procs", lambda: 2)
    monkeypatch.setattr(_engine, "_forked_child", False)
    monkeypatch.setattr(_engine, "_warm_window_s", WINDOW)


BIG = _engine.PARALLEL_MIN_ELEMENTS
WARM = _engine.WARM_MIN_ELEMENTS


@pytest.mark.parametrize(
    "elements, n_threads, since, want",
    [
        # idle workers (50 ms, never): one thread below PARALLEL_MIN_ELEMENTS, the default from it on
        (100_000, None, 0.05, 1),
        (100_000, None, math.inf, 1),
        (BIG - 1, None, math.inf, 1),
        (BIG, None, math.inf, 2),
        (BIG, None, 0.0, 2),
        # spinning workers: the default count from WARM_MIN_ELEMENTS on
        (100_000, None, 0.0, 2),
        (100_000, None, WINDOW / 2, 2),
        (WARM, None, 0.0, 2),
        (BIG - 1, None, 0.0, 2),
        (WARM - 1, None, 0.0, 1),
        (1000, None, 0.0, 1),
        (100_000, None, WINDOW, 1),  # the window is open, not closed
        # an explicit n_threads keeps its meaning: 1 thread below PARALLEL_MIN_ELEMENTS, that count from it on
        (100_000, 1, 0.0, 1),
        (100_000, 2, 0.0, 1),
        (100_000, -1, 0.0, 1),
        (BIG, 3, math.inf, 3),
        (BIG, 1, 0.0, 1),
        (BIG, -1, math.inf, 2),
    ],
)
def test_thread_count(two_cores, elements, n_threads, since, want):
    assert _engine.thread_count(elements, n_threads, since) == want


def test_thread_count_in_a_forked_child(two_cores, monkeypatch):
    monkeypatch.setattr(_engine, "_forked_child", True)
    assert _engine.thread_count(100_000, None, 0.0) == 1
    assert _engine.thread_count(BIG, None, math.inf) == 1
    assert _engine.thread_count(BIG, 2, math.inf) == 1


def test_no_warm_rule_without_spinning_workers(two_cores, monkeypatch):
    monkeypatch.setattr(_engine, "_warm_window_s", 0.0)  # OMP_WAIT_POLICY=passive
    assert _engine.thread_count(100_000, None, 0.0) == 1
    assert _engine.thread_count(BIG, None, 0.0) == 2


def test_no_warm_rule_when_oversubscribed(two_cores, monkeypatch):
    # libgomp throttles the spin of workers that outnumber the cores (to ~1000 PAUSEs)
    monkeypatch.setattr(_engine._kernels, "max_threads", lambda: 4)
    assert _engine.thread_count(100_000, None, 0.0) == 1
    assert _engine.thread_count(BIG, None, math.inf) == 4


@pytest.mark.parametrize(
    "environ, warm",
    [
        ({}, True),
        ({"OMP_WAIT_POLICY": "active"}, True),
        ({"OMP_WAIT_POLICY": "passive"}, False),
        ({"OMP_WAIT_POLICY": " PASSIVE "}, False),
        ({"GOMP_SPINCOUNT": "300000"}, True),
        ({"GOMP_SPINCOUNT": "1M"}, True),
        ({"GOMP_SPINCOUNT": "infinite"}, True),
        ({"GOMP_SPINCOUNT": "0"}, False),
        ({"GOMP_SPINCOUNT": "10k"}, False),
        ({"GOMP_SPINCOUNT": "lots"}, False),
        ({"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": "1M"}, False),
    ],
)
def test_warm_window_from_the_environment(environ, warm):
    assert _engine._warm_window(environ) == (_engine.WARM_WINDOW_S if warm else 0.0)


def test_one_block_runs_serially(two_cores, monkeypatch):
    # a single block never enters a parallel region, so it never opens the window either
    opened = []
    monkeypatch.setattr(_engine, "parallel_call_returned", lambda: opened.append(True))
    monkeypatch.setattr(_engine, "_last_parallel_return", math.inf)  # always warm
    y = np.zeros((1, 40_000))
    fastloss.categorical_crossentropy(y, y + 0.5)
    fastloss.value_and_grad("categorical_crossentropy", y, y + 0.5)
    assert opened == []


def test_only_parallel_calls_open_the_window(two_cores, monkeypatch):
    opened = []
    monkeypatch.setattr(_engine, "parallel_call_returned", lambda: opened.append(True))
    monkeypatch.setattr(_engine, "_last_parallel_return", -math.inf)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(12_500, 8)).astype(np.float64)
    p = rng.uniform(0.01, 0.99, size=(12_500, 8))
    fastloss.binary_crossentropy(y, p)  # 1e5 elements, workers idle: serial
    fastloss.binary_crossentropy(y, p, n_threads=2)  # explicit: serial below PARALLEL_MIN_ELEMENTS
    fastloss.value_and_grad("binary_crossentropy", y, p)
    assert opened == []
    monkeypatch.setattr(_engine, "PARALLEL_MIN_ELEMENTS", 50_000)
    fastloss.binary_crossentropy(y, p)
    fastloss.value_and_grad("binary_crossentropy", y, p)
    assert opened == [True, True]


@pytest.mark.parametrize("from_logits", [False, True])
def test_warm_calls_give_the_serial_bits(two_cores, monkeypatch, from_logits):
    # a window that is always open: every call from WARM_MIN_ELEMENTS on takes the warm rule
    monkeypatch.setattr(_engine, "_last_parallel_return", math.inf)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=(12_500, 8)).astype(np.float32)
    p = rng.uniform(0.01, 0.99, size=(12_500, 8)).astype(np.float32)
    sw = rng.uniform(0.5, 2.0, size=12_500)
    kw = dict(from_logits=from_logits, sample_weight=sw)
    assert _engine.kernel_threads(100_000, None) == 2
    for reduction in ("sum_over_batch_size", "none"):
        got = fastloss.binary_crossentropy(y, p, reduction=reduction, **kw)
        want = fastloss.binary_crossentropy(y, p, reduction=reduction, n_threads=1, **kw)
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()
    got = fastloss.value_and_grad("binary_crossentropy", y, p, **kw)
    want = fastloss.value_and_grad("binary_crossentropy", y, p, n_threads=1, **kw)
    assert got[0] == want[0] and got[1].tobytes() == want[1].tobytes()


def test_only_prompt_parallel_calls_open_the_window(monkeypatch):
    # a call whose thread waited for a late worker (one that had to wait for a core) leaves the window shut
    monkeypatch.setattr(_engine, "_last_parallel_return", -math.inf)
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: (0.008, False))
    _engine.parallel_call_returned()
    assert _engine._last_parallel_return == -math.inf
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: (2e-6, True))  # took turns on one core
    _engine.parallel_call_returned()
    assert _engine._last_parallel_return == -math.inf
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: (2e-6, False))
    _engine.parallel_call_returned()
    assert _engine._last_parallel_return > -math.inf


def test_last_parallel_region_is_measured():
    if not (_engine._kernels.openmp_enabled() and _engine._kernels.num_procs() > 1):
        pytest.skip("needs an OpenMP build on more than one core")
    y = np.zeros((4 * _engine.BLOCK_ELEMENTS, 1))
    fastloss.mean_squared_error(y, y + 1.0, n_threads=1)
    before = _engine._kernels.last_parallel_region()
    fastloss.binary_crossentropy(y, y + 0.5, n_threads=2)  # below PARALLEL_MIN_ELEMENTS: serial, not measured
    assert _engine._kernels.last_parallel_region() == before
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_engine, "PARALLEL_MIN_ELEMENTS", 0)
        fastloss.binary_crossentropy(y, y + 0.5, n_threads=2)
        first = _engine._kernels.last_parallel_region()
        fastloss.value_and_grad("binary_crossentropy", y, y + 0.5, n_threads=2)
        second = _engine._kernels.last_parallel_region()
    for wait, shared_cpu in (first, second):
        assert 0.0 <= wait < 60.0 and shared_cpu in (True, False)


class FakeClock:
    """time.perf_counter for _engine, moved by hand (in binary fractions of a second: sums stay exact)."""

    def __init__(self):
        self.now = 1024.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(two_cores, monkeypatch):
    """A fake clock and a fresh thread state: no parallel call yet, no run of serial calls."""
    fake = FakeClock()
    monkeypatch.setattr(_engine, "time", fake)
    monkeypatch.setattr(_engine, "_last_parallel_return", -math.inf)
    monkeypatch.setattr(_engine, "_run_serial_s", 0.0)
    monkeypatch.setattr(_engine, "_last_return", -math.inf)
    monkeypatch.setattr(_engine, "_call_started", None)
    monkeypatch.setattr(_engine, "_follow_up", False)
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: (2e-6, False))  # prompt
    return fake


MS = 2.0**-10  # about a millisecond
BUDGET_CALLS = math.ceil(_engine.WAKE_UP_BUDGET_S / MS)  # serial calls of MS that spend the wake-up budget


def _call(clock, elements=100_000, n_threads=None, takes=MS, pause=2.0**-14):
    """One kernel call as _engine.evaluate makes it: the pause since the last call, the threads, the kernel."""
    clock.now += pause
    threads = _engine.kernel_threads(elements, n_threads)
    clock.now += takes if threads == 1 else takes / 2
    _engine.kernel_returned(threads)
    return threads


def test_a_back_to_back_run_wakes_the_pool_once_it_has_paid_for_it(clock):
    calls = BUDGET_CALLS
    assert [_call(clock) for _ in range(calls)] == [1] * calls  # the budget, spent serially
    assert _call(clock) == 2  # the wake-up
    assert [_call(clock) for _ in range(5)] == [2] * 5  # the window stays open


def test_a_pause_starts_a_new_run(clock):
    calls = BUDGET_CALLS
    threads = [_call(clock) for _ in range(calls - 1)]
    threads += [_call(clock, pause=2 * WINDOW)]  # not back to back: the run so far does not count
    threads += [_call(clock) for _ in range(calls - 1)]
    assert threads == [1] * (2 * calls - 1)
    assert _call(clock) == 2


def test_a_late_wake_up_is_followed_by_one_more_parallel_call(clock, monkeypatch):
    waits = []
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: waits.pop(0))
    calls = BUDGET_CALLS
    for _ in range(calls):
        _call(clock)
    waits += [(0.008, False), (2e-6, False)]  # the wake-up waited for its worker, the next call did not
    assert [_call(clock), _call(clock)] == [2, 2]
    waits += [(2e-6, False)] * 3
    assert [_call(clock) for _ in range(3)] == [2, 2, 2]  # the window is open


def test_a_run_that_finds_the_core_busy_saves_up_again(clock, monkeypatch):
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: (0.008, False))  # always waits
    calls = BUDGET_CALLS
    for _ in range(calls):
        _call(clock)
    assert [_call(clock), _call(clock)] == [2, 2]  # the wake-up and its follow-up
    assert [_call(clock) for _ in range(calls)] == [1] * calls
    assert [_call(clock), _call(clock)] == [2, 2]


def test_a_pause_after_a_wake_up_drops_the_follow_up(clock, monkeypatch):
    monkeypatch.setattr(_engine._kernels, "last_parallel_region", lambda: (0.008, False))
    for _ in range(BUDGET_CALLS):
        _call(clock)
    assert _call(clock) == 2
    assert _call(clock, pause=2 * WINDOW) == 1


@pytest.mark.parametrize("n_threads", [1, 2, -1])
def test_an_explicit_n_threads_is_not_part_of_a_run(clock, n_threads):
    assert [_call(clock, n_threads=n_threads) for _ in range(50)] == [1] * 50
    assert _engine._run_serial_s == 0.0


def test_calls_below_warm_min_elements_are_not_part_of_a_run(clock):
    assert [_call(clock, elements=WARM - 1, takes=8 * MS) for _ in range(10)] == [1] * 10
    assert _engine._run_serial_s == 0.0
    assert _engine._last_return == -math.inf


def test_no_run_rule_without_spinning_workers(clock, monkeypatch):
    monkeypatch.setattr(_engine, "_warm_window_s", 0.0)  # OMP_WAIT_POLICY=passive: every pause is a new run
    assert [_call(clock, pause=0.0) for _ in range(50)] == [1] * 50


def test_no_run_rule_when_oversubscribed(clock, monkeypatch):
    monkeypatch.setattr(_engine._kernels, "max_threads", lambda: 4)
    assert [_call(clock) for _ in range(50)] == [1] * 50


def test_a_run_of_real_calls_gives_the_serial_bits(two_cores, monkeypatch):
    # real calls: the run's wake-up (forced by a zero budget) and the warm calls after it
    monkeypatch.setattr(_engine, "WAKE_UP_BUDGET_S", 0.0)
    monkeypatch.setattr(_engine, "_warm_window_s", 60.0)
    monkeypatch.setattr(_engine, "_last_parallel_return", -math.inf)
    monkeypatch.setattr(_engine, "_last_return", -math.inf)
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, size=20_000)
    z = rng.normal(size=(20_000, 10))
    want = fastloss.sparse_categorical_crossentropy(y, z, from_logits=True, n_threads=1)
    got = [fastloss.sparse_categorical_crossentropy(y, z, from_logits=True) for _ in range(4)]
    assert all(g == want for g in got)


@pytest.mark.parametrize("path", ["general", "direct"])
def test_a_call_that_raises_is_booked_all_the_same(path, clock, monkeypatch):
    # a kernel that raises must not leave its start behind for the next call to book as its own time
    def broken(*args):
        raise RuntimeError("kernel")

    def broken_direct(*args):
        threads_for, n_threads = args[-2:]
        threads_for(100_000, n_threads)  # the rule saw the call, then the kernel raised
        raise RuntimeError("kernel")

    if path == "general":
        monkeypatch.setattr(_engine._kernels, "direct_call_totals", lambda *args: None)
        monkeypatch.setattr(_engine._kernels, "absolute_error", broken)
    else:
        monkeypatch.setattr(_engine._kernels, "direct_call_totals", broken_direct)
    y = np.zeros(100_000)
    with pytest.raises(RuntimeError, match="kernel"):
        fastloss.mean_absolute_error(y, y)
    assert _engine._call_started is None
    assert _engine._last_return == clock.now
