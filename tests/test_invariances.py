"""Invariances that hold whatever the implementation: they test the kernel without trusting the oracle.

- ones weights = no weights; scaling weights by c leaves the weighted mean unchanged;
- integer weights = repeated rows; a mask = deleting the masked rows;
- totals of chunks (Totals addition, Accumulator.update, Accumulator.merge) = totals of the whole;
- NaN, inf, out-of-range probabilities and padding labels in excluded rows change nothing (bitwise);
- results are bitwise identical for every n_threads, block schedule and repeated call;
- float32 inputs are accumulated in double: 10^7 float32 values give the float64 result to 1e-6.
"""

from __future__ import annotations

import math
import multiprocessing
import os

import numpy as np
import pytest

import fastloss
from oracle_cases import LOSS_NAMES

SCALAR_REDUCTIONS = [r for r in fastloss.REDUCTIONS if r not in ("none", "totals")]
# Reductions that do not involve R, E or E0 (the fixed counts that deletion or repetition changes).
ROW_FREE_REDUCTIONS = ["sum", "sum_over_batch_size", "mean", "mean_with_sample_weight", "weighted_mean",
                       "sum_by_nonzero_weights"]
RTOL = 1e-12


def close(a, b, rtol=RTOL, atol=1e-12):
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol) or (math.isnan(a) and math.isnan(b))


def all_results(fn, y, p, **kw):
    """Every reduction of one call configuration: {reduction: value}."""
    return {r: fn(y, p, reduction=r, **kw) for r in fastloss.REDUCTIONS}


def assert_results_close(got, want, reductions=None, rtol=RTOL, context=""):
    for r in reductions or SCALAR_REDUCTIONS:
        assert close(got[r], want[r], rtol), f"{context} {r}: {got[r]!r} != {want[r]!r}"


def assert_totals_fields(got, want, fields, rtol=RTOL, context=""):
    g, w = got.as_dict(), want.as_dict()
    for f in fields:
        if f not in ("weighted_sum", "weight_sum"):  # counts are exact
            assert g[f] == w[f], f"{context} Totals.{f}: {g[f]} != {w[f]}"
        else:
            assert close(g[f], w[f], rtol), f"{context} Totals.{f}: {g[f]!r} != {w[f]!r}"


def assert_bitwise_equal(a, b, context=""):
    """Two all_results dicts are identical: floats ==, Totals ==, 'none' arrays equal bit for bit."""
    for r in a:
        x, y = a[r], b[r]
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, context
            assert x.tobytes() == y.tobytes(), f"{context} {r}: 'none' outputs differ bitwise"
        elif isinstance(x, float) and math.isnan(x):
            assert math.isnan(y), f"{context} {r}: {x!r} vs {y!r}"
        else:
            assert x == y, f"{context} {r}: {x!r} != {y!r}"


def expand(arr, rows):
    arr = np.asarray(arr)
    return np.broadcast_to(arr.reshape(arr.shape + (1,) * (len(rows) - arr.ndim)), rows)


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [(40,), (9, 5), (3, 4, 5)], ids=str)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_ones_weights_equal_no_weights(loss, rows, loss_data):
    fn = getattr(fastloss, loss)
    K = 3
    y, p, params = loss_data(loss, rows, K, seed=1)
    rng = np.random.default_rng(2)
    for mask in (None, rng.random(rows) < 0.6, rng.random(rows[:1]) < 0.6):
        base = all_results(fn, y, p, mask=mask, **params)
        variants = {
            "sample_weight=1.0": dict(sample_weight=1.0),
            "sample_weight=1": dict(sample_weight=1),
            "sample_weight=ones(N)": dict(sample_weight=np.ones(rows[:1])),
            "sample_weight=ones(rows)": dict(sample_weight=np.ones(rows)),
            "sample_weight=ones(N,1)": dict(sample_weight=np.ones(rows[:1] + (1,))),
            "class_weight=ones(K)": dict(class_weight=np.ones(K)),
            "class_weight={c: 1}": dict(class_weight={c: 1.0 for c in range(K)}),
            "both": dict(sample_weight=np.ones(rows[:1]), class_weight=np.ones(K + 2)),
        }
        for label, kw in variants.items():
            got = all_results(fn, y, p, mask=mask, **params, **kw)
            context = f"{loss} rows={rows} {label} mask={'none' if mask is None else mask.shape}"
            assert_results_close(got, base, context=context)
            np.testing.assert_allclose(got["none"], base["none"], rtol=RTOL, atol=0, err_msg=context)
            assert got["none"].dtype == base["none"].dtype
            assert_totals_fields(got["totals"], base["totals"],
                                 ["weighted_sum", "weight_sum", "count", "nonzero_rows", "rows"], context=context)


@pytest.mark.parametrize("mask_rank", [1, 2])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_mask_equals_deleting_rows(loss, mask_rank, loss_data):
    fn = getattr(fastloss, loss)
    rows, K = (12, 5), 3
    y, p, params = loss_data(loss, rows, K, seed=3)
    rng = np.random.default_rng(4)
    mask = rng.random(rows[:mask_rank]) < 0.6
    row_mask = expand(mask, rows)
    sw = rng.uniform(0.0, 2.0, rows[:1])
    sw[[0, 3]] = 0.0
    cw = rng.uniform(0.5, 2.0, K)
    for kw_label, kw, kept_kw in (
        ("no weights", {}, {}),
        ("sample_weight (N,)", dict(sample_weight=sw), dict(sample_weight=expand(sw, rows)[row_mask])),
        ("class_weight", dict(class_weight=cw), dict(class_weight=cw)),
    ):
        context = f"{loss} mask{mask.shape} {kw_label}"
        masked = all_results(fn, y, p, mask=mask, **params, **kw)
        kept = all_results(fn, y[row_mask], p[row_mask], **params, **kept_kw)
        assert_results_close(masked, kept, ROW_FREE_REDUCTIONS, context=context)
        assert_totals_fields(masked["totals"], kept["totals"],
                             ["weighted_sum", "weight_sum", "count", "nonzero_rows"], context=context)
        np.testing.assert_allclose(masked["none"][row_mask], kept["none"], rtol=RTOL, atol=0, err_msg=context)
        assert not np.any(masked["none"][~row_mask]), f"{context}: 'none' must be 0 on excluded rows"
        # R counts every row, masked or not
        assert masked["totals"].rows == math.prod(rows)
        assert masked["totals"].count == int(row_mask.sum())


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_scaling_weights_leaves_weighted_mean_unchanged(loss, loss_data):
    fn = getattr(fastloss, loss)
    rows, K = (30, 2), 4
    y, p, params = loss_data(loss, rows, K, seed=5)
    rng = np.random.default_rng(6)
    sw = rng.uniform(0.0, 3.0, rows)
    sw[rng.random(rows) < 0.2] = 0.0
    mask = rng.random(rows[:1]) < 0.8
    for weights in (dict(sample_weight=sw), dict(sample_weight=sw[:, 0], class_weight=rng.uniform(0.1, 2, K))):
        base = all_results(fn, y, p, mask=mask, **params, **weights)
        for c in (0.5, 3.0, 1e3, 1e-3):
            scaled = {**weights, "sample_weight": weights["sample_weight"] * c}
            got = all_results(fn, y, p, mask=mask, **params, **scaled)
            context = f"{loss} c={c} {sorted(weights)}"
            for r in ("mean_with_sample_weight", "weighted_mean"):
                assert close(got[r], base[r]), f"{context} {r}: {got[r]!r} != {base[r]!r}"
            # S scales by c while V, E and E0 do not change (c != 0)
            for r in ("sum", "sum_over_batch_size", "keras_legacy"):
                assert close(got[r], c * base[r], 1e-11), f"{context} {r}: {got[r]!r} != {c} * {base[r]!r}"
            assert got["totals"].nonzero_rows == base["totals"].nonzero_rows


@pytest.mark.parametrize("rows", [(25,), (25, 3)], ids=str)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_integer_weights_equal_repeated_rows(loss, rows, loss_data):
    fn = getattr(fastloss, loss)
    K = 3
    y, p, params = loss_data(loss, rows, K, seed=7)
    rng = np.random.default_rng(8)
    reps = rng.integers(0, 4, rows[0])
    reps[:2] = [0, 3]
    weighted = all_results(fn, y, p, sample_weight=reps, **params)
    repeated = all_results(fn, np.repeat(y, reps, axis=0), np.repeat(p, reps, axis=0), **params)
    for r in ("sum", "mean_with_sample_weight", "weighted_mean"):
        assert close(weighted[r], repeated[r]), f"{loss} {r}: {weighted[r]!r} != {repeated[r]!r}"
    # the weighted mean of the repeated data is the plain mean of the repeated rows
    assert close(repeated["sum_over_batch_size"], weighted["mean_with_sample_weight"])
    assert weighted["totals"].weight_sum == reps.sum() * math.prod(rows[1:])
    assert repeated["totals"].count == reps.sum() * math.prod(rows[1:])


def split_points(n, k, rng):
    """k chunks along axis 0, uneven, possibly empty."""
    cuts = np.sort(rng.integers(0, n + 1, k - 1))
    return [0, *cuts.tolist(), n]


@pytest.mark.parametrize("k", [1, 2, 3, 7])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_totals_of_chunks_equal_totals_of_whole(loss, k, loss_data):
    fn = getattr(fastloss, loss)
    rows, K = (37, 4), 3
    y, p, params = loss_data(loss, rows, K, seed=9 + k)
    rng = np.random.default_rng(10 + k)
    sw_n = rng.uniform(0, 2, rows[:1])
    sw_n[rng.random(rows[0]) < 0.2] = 0.0
    sw_full = rng.uniform(0, 2, rows)
    mask = rng.random(rows) < 0.7
    cw = rng.uniform(0, 2, K)
    cw[0] = 0.0
    configs = {
        "no weights": {},
        "sample_weight (N,)": dict(sample_weight=sw_n),
        "sample_weight (N,T) + mask": dict(sample_weight=sw_full, mask=mask),
        "class_weight + sample_weight + mask (N,)": dict(sample_weight=sw_n, class_weight=cw, mask=mask[:, 0]),
        "class_weight dict": dict(class_weight={c: float(cw[c]) for c in range(K)}),
    }
    cuts = split_points(rows[0], k, rng)
    for label, kw in configs.items():
        context = f"{loss} k={k} {label}"
        whole = fn(y, p, reduction="totals", **params, **kw)

        def chunk_kw(a, b):
            # per-row arguments are cut like the rows; class weights are indexed by class, not by row
            return {name: (v[a:b] if name in ("sample_weight", "mask") else v) for name, v in kw.items()}

        parts = [fn(y[a:b], p[a:b], reduction="totals", **params, **chunk_kw(a, b)) for a, b in zip(cuts, cuts[1:])]
        total = parts[0]
        for t in parts[1:]:
            total = total + t
        assert sum(parts) == total  # sum() starts from 0 (Totals.__radd__)
        assert_totals_fields(total, whole, list(whole.as_dict()), context=context)

        acc = fastloss.Accumulator(loss, **params)
        for a, b in zip(cuts, cuts[1:]):
            assert acc.update(y[a:b], p[a:b], **chunk_kw(a, b)) is acc
        assert_totals_fields(acc.totals, whole, list(whole.as_dict()), context=context + " Accumulator")
        for r in SCALAR_REDUCTIONS:
            for zd in (0.0, "nan"):
                want = fn(y, p, reduction=r, zero_division=zd, **params, **kw)
                got = acc.result(r, zero_division=zd)
                assert type(got) is float and close(got, want), f"{context} Accumulator.result({r!r})"
        # the default result is sum_over_batch_size
        assert close(acc.result(), whole.result("sum_over_batch_size"))

        # merge: two accumulators (one given the loss function itself), or an accumulator and a Totals
        mid = len(cuts) // 2
        first = fastloss.Accumulator(getattr(fastloss, loss), **params)
        second = fastloss.Accumulator(loss, **params)
        for a, b in zip(cuts[:mid + 1], cuts[1:mid + 1]):
            first.update(y[a:b], p[a:b], **chunk_kw(a, b))
        for a, b in zip(cuts[mid:], cuts[mid + 1:]):
            second.update(y[a:b], p[a:b], **chunk_kw(a, b))
        assert first.merge(second) is first
        assert_totals_fields(first.totals, whole, list(whole.as_dict()), context=context + " merge")
        merged = fastloss.Accumulator(loss, **params).merge(whole)
        assert merged.totals == whole
        assert acc.reset() is acc and acc.totals == fastloss.Totals()


@pytest.mark.parametrize("loss, mask_kind", [(loss, kind) for loss in LOSS_NAMES for kind in ("mask (N,T)", "mask (N,)")]
                         + [("sparse_categorical_crossentropy", "ignore_class")])  # ignore_class: sparse CCE only
def test_garbage_in_excluded_rows_changes_nothing(loss, mask_kind, loss_data, small_blocks):
    fn = getattr(fastloss, loss)
    rows, K = (16, 6), 4
    rng = np.random.default_rng(11)
    sw = rng.uniform(0.5, 2.0, rows[:1])
    for from_logits in (False, True) if "entropy" in loss else (False,):
        y, p, params = loss_data(loss, rows, K, seed=12, from_logits=from_logits)
        if mask_kind == "ignore_class":
            params = {**params, "ignore_class": -1}
            row_mask = rng.random(rows) < 0.6
            y = y.copy()
            y[~row_mask] = -1
            mask_kw = {}
        else:
            mask = rng.random(rows if mask_kind == "mask (N,T)" else rows[:1]) < 0.6
            row_mask = expand(mask, rows)
            mask_kw = dict(mask=mask)
        clean = all_results(fn, y, p, sample_weight=sw, n_threads=2, **params, **mask_kw)
        for garbage in (np.nan, np.inf, -np.inf, 2.0, -1.0, 1e300):
            p_bad = p.copy()
            p_bad[~row_mask] = garbage
            if loss == "sparse_categorical_crossentropy":
                y_variants = {"labels": y}
                if mask_kind != "ignore_class":
                    y_variants = {}
                    for pad in (-1, K, 10**6):
                        y_bad = y.copy()
                        y_bad[~row_mask] = pad
                        y_variants[f"label padding {pad}"] = y_bad
                    y_f = y.astype(np.float64)
                    y_f[~row_mask] = garbage if not np.isfinite(garbage) else 0.5
                    y_variants[f"float labels padded with {y_f[~row_mask][:1]}"] = y_f
            else:
                y_bad = y.copy()
                y_bad[~row_mask] = garbage
                y_variants = {f"y_true padded with {garbage}": y_bad}
            for label, y_bad in y_variants.items():
                got = all_results(fn, y_bad, p_bad, sample_weight=sw, n_threads=2, **params, **mask_kw)
                assert_bitwise_equal(got, clean, f"{loss} {mask_kind} y_pred padded with {garbage}, {label}")


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_garbage_in_excluded_rows_with_class_weight(loss, loss_data):
    """With class weights, E0 counts rows regardless of the mask (a padding label counts as weight 0), so only
    the totals that run over included rows are compared."""
    fn = getattr(fastloss, loss)
    rows, K = (20, 3), 4
    y, p, params = loss_data(loss, rows, K, seed=13)
    rng = np.random.default_rng(14)
    mask = rng.random(rows) < 0.5
    cw = {c: 0.5 + c for c in range(K)}
    clean = fn(y, p, mask=mask, class_weight=cw, reduction="totals", **params)
    y_bad, p_bad = y.copy(), p.copy()
    p_bad[~mask] = np.nan
    y_bad[~mask] = -1 if loss == "sparse_categorical_crossentropy" else np.nan
    got = fn(y_bad, p_bad, mask=mask, class_weight=cw, reduction="totals", **params)
    for f in ("weighted_sum", "weight_sum", "count", "nonzero_rows", "rows", "weight_entries"):
        assert getattr(got, f) == getattr(clean, f), f


# ---------------------------------------------------------------------------------------------------------------
# Determinism: the partial totals of fixed-size blocks are combined in block order, so neither the thread count
# nor the schedule changes a single bit.
# ---------------------------------------------------------------------------------------------------------------

THREAD_SETTINGS = [1, 2, 3, -1, -2, None]


def big_case(loss, loss_data, n_elements):
    K = 8
    T = 5
    N = max(1, n_elements // (K * T))
    y, p, params = loss_data(loss, (N, T), K, seed=15, from_logits=loss.startswith("binary"))
    rng = np.random.default_rng(16)
    kw = dict(sample_weight=rng.uniform(0, 2, N), mask=rng.random((N, T)) < 0.9,
              class_weight=rng.uniform(0.5, 1.5, K))
    return y, p, {**params, **kw}


def check_thread_invariance(loss, y, p, kw):
    fn = getattr(fastloss, loss)
    reference = all_results(fn, y, p, n_threads=1, **kw)
    for n_threads in THREAD_SETTINGS:
        for repeat in range(2):
            got = all_results(fn, y, p, n_threads=n_threads, **kw)
            assert_bitwise_equal(got, reference, f"{loss} n_threads={n_threads} call {repeat}")


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_bitwise_identical_across_threads_default_blocks(loss, loss_data):
    engine = fastloss._engine
    # big enough to take the parallel path with several default-size blocks
    n = min(max(300_000, 2 * engine.PARALLEL_MIN_ELEMENTS, 8 * engine.BLOCK_ELEMENTS), 4_000_000)
    y, p, kw = big_case(loss, loss_data, n)
    assert p.size > engine.PARALLEL_MIN_ELEMENTS
    check_thread_invariance(loss, y, p, kw)


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_bitwise_identical_across_threads_small_blocks(loss, loss_data, small_block_sizes):
    y, p, kw = big_case(loss, loss_data, 4000)
    check_thread_invariance(loss, y, p, kw)
    # and the block size does not change which rows are included, only the summation order
    fn = getattr(fastloss, loss)
    np.testing.assert_array_equal(fn(y, p, reduction="none", **kw), fn(y, p, reduction="none", n_threads=3, **kw))


def _loss_in_child(loss, y, p, kw):
    fn = getattr(fastloss, loss)
    return fn(y, p, reduction="totals", **kw), fn(y, p, reduction="none", n_threads=2, **kw)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_after_parallel_work(loss_data):
    """A child forked after the parent ran OpenMP regions must not hang (libgomp's pool does not survive fork)
    and must give the same bits."""
    loss = "categorical_crossentropy"
    engine = fastloss._engine
    y, p, kw = big_case(loss, loss_data, max(300_000, 2 * engine.PARALLEL_MIN_ELEMENTS))
    fn = getattr(fastloss, loss)
    want = fn(y, p, reduction="totals", **kw), fn(y, p, reduction="none", n_threads=2, **kw)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_loss_in_child, (loss, y, p, kw)).get(timeout=120)
    assert got[0] == want[0]
    assert got[1].tobytes() == want[1].tobytes()


# ---------------------------------------------------------------------------------------------------------------
# float32 inputs are accumulated in double: 10^7 values, compared with the float64 result on the same values.
# Summing 10^7 float32 terms in float32 would be off by ~1e-4 relative; in double it agrees to ~1e-12.
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.large
@pytest.mark.parametrize("loss", ["binary_crossentropy", "mean_squared_error"])
def test_float32_accumulates_in_double(loss):
    fn = getattr(fastloss, loss)
    rng = np.random.default_rng(17)
    shape = (1_250_000, 8)
    if loss == "binary_crossentropy":
        # probabilities away from the clip bounds, which differ between float32 and float64
        p32 = rng.uniform(1e-4, 1 - 1e-4, shape).astype(np.float32)
        y32 = (rng.random(shape, dtype=np.float32) < 0.5).astype(np.float32)
    else:
        p32 = rng.standard_normal(shape, dtype=np.float32)
        y32 = rng.standard_normal(shape, dtype=np.float32)
    sw = rng.uniform(0.0, 2.0, shape[0]).astype(np.float32)
    for kw in ({}, {"sample_weight": sw}):
        got = {r: fn(y32, p32, reduction=r, **kw) for r in ("sum", "sum_over_batch_size", "mean_with_sample_weight")}
        t32 = fn(y32, p32, reduction="totals", **kw)
        p64 = p32.astype(np.float64)
        want = {r: fn(y32, p64, reduction=r, **kw) for r in got}
        t64 = fn(y32, p64, reduction="totals", **kw)
        del p64
        for r in got:
            assert math.isclose(got[r], want[r], rel_tol=1e-6), f"{loss} {sorted(kw)} {r}: {got[r]!r} vs {want[r]!r}"
        for f in ("count", "nonzero_rows", "rows", "weight_entries", "nonzero_weight_entries"):
            assert getattr(t32, f) == getattr(t64, f)
        assert math.isclose(t32.weight_sum, t64.weight_sum, rel_tol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, (1 << 16) + 3, 3 * (1 << 16)])
def test_count_nonzero_is_numpys_on_any_threads(dtype, n, each_isa_level):
    # E0 (keras_legacy's count of non-zero weight entries) comes from this count: NaN counts, -0.0 does not. It
    # runs through the dispatched level, so every level this CPU runs is checked.
    rng = np.random.default_rng(n)
    x = rng.choice(np.array([0.0, -0.0, 1.5, np.nan, -2.0, np.inf]), size=n).astype(dtype)
    levels = []
    for level in each_isa_level():
        levels.append(level)
        for threads in (1, 2, 3):
            assert fastloss._kernels.count_nonzero(x, threads) == np.count_nonzero(x), (level, threads)
    assert "baseline" in levels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keras_legacy_counts_nonzero_weight_entries(dtype):
    rng = np.random.default_rng(3)
    y_pred = rng.random((50, 6, 3)).astype(dtype)
    y_true = rng.random((50, 6, 3)).astype(dtype)
    weights = rng.choice(np.array([0.0, -0.0, 0.5, 2.0]), size=(50, 6)).astype(dtype)
    totals = fastloss.mean_squared_error(y_true, y_pred, sample_weight=weights, reduction="totals")
    assert totals.nonzero_weight_entries == np.count_nonzero(weights)
    mask = rng.random((50, 6)) < 0.5  # E0 counts excluded rows too
    t = fastloss.mean_squared_error(y_true, y_pred, sample_weight=weights, mask=mask, reduction="totals")
    assert t.nonzero_weight_entries == np.count_nonzero(weights)
    legacy = fastloss.mean_squared_error(y_true, y_pred, sample_weight=weights, mask=mask, reduction="keras_legacy")
    assert legacy == (t.weighted_sum * t.weight_entries) / (t.count * t.nonzero_weight_entries)
