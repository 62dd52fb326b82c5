"""BCE and CCE rows from one or two logs per row: the product form is as exact as the element-by-element sum.

fl_kernels.h sums a row's logs as the log of a product: BCE with hard targets on probabilities, -log Π q (rows of 2
to 8 elements); BCE on float64 logits, log1p(Π (1 + e^-|z|) - 1) (rows of 2 to 32 elements), and unweighted rows
from logits of any length and either dtype over 32 consecutive elements. Each product is carried next to its
complement so that a small row loss keeps its digits (float32 probabilities go without it: their results need ~1e-6,
the product keeps ~1e-9). CCE on probabilities with targets of 0 and 1 (label smoothing or not), rows of up to 32
classes, takes -(keep·log Π_{y=1} q + offset·log Π q). These tests compare rows with 40-digit references across the
regimes where a product could lose digits (confident rows whose loss is ~1e-15, wrong rows at the clip bound, long
rows, logits whose tails underflow), and check that a row's bits do not depend on the rows next to it.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import fastloss
from fastloss import _engine, oracle

mpmath.mp.dps = 40
ROW_RTOL = 1e-14          # a row of K <= 32 elements: ~3 roundings a step, against an exact reference
# float32 BCE products without complements: a product of factors >= 1 - 2^-23 is within K ulps of 1, its -log >= K·2^-23
FLOAT32_PRODUCT_RTOL = 1e-9
PROBABILITY_PRODUCT_MAX_K = 8
LENGTHS = [2, 3, 4, 5, 8, 9, 13, 32]   # both sides of each loss's product range, and both vector loops


def exact_bce_probability_rows(y, p, dtype):
    lo, hi = (mpmath.mpf(float(b)) for b in _engine._CLIP_BOUNDS[dtype])
    rows = []
    for yr, pr in zip(y, p):
        total = mpmath.mpf(0)
        for yk, pk in zip(yr, pr):
            pc = min(max(mpmath.mpf(float(pk)), lo), hi)
            total -= mpmath.log(pc) if yk == 1 else mpmath.log(1 - pc)
        rows.append(float(total / len(yr)))
    return np.array(rows)


def exact_bce_logit_rows(y, z):
    rows = []
    for yr, zr in zip(y, z):
        total = mpmath.mpf(0)
        for yk, zk in zip(yr, zr):
            zk = mpmath.mpf(float(zk))
            total += max(zk, 0) - zk * mpmath.mpf(float(yk)) + mpmath.log1p(mpmath.exp(-abs(zk)))
        rows.append(float(total / len(yr)))
    return np.array(rows)


def probability_regimes(rows, K, dtype, rng):
    """Hard targets with probabilities of the true class spread from 1e-9 (clipped) to 1 - 1e-16."""
    y = rng.integers(0, 2, size=(rows, K)).astype(dtype)
    confidence = 10.0 ** -rng.uniform(0.0, 16.0, size=(rows, K))        # 1 - q, from 1 down to 1e-16
    wrongness = 10.0 ** -rng.uniform(0.0, 9.0, size=(rows, K))          # q, from 1 down to 1e-9
    regime = rng.integers(0, 3, size=(rows, 1))                         # per row: confident, wrong, mixed
    q = np.where(regime == 0, 1.0 - confidence, np.where(regime == 1, wrongness, rng.random((rows, K))))
    p = np.where(y == 1, q, 1.0 - q).astype(dtype)
    return y, p


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", LENGTHS)
def test_hard_target_rows_match_an_exact_reference(K, dtype):
    rng = np.random.default_rng(K)
    y, p = probability_regimes(120, K, dtype, rng)
    want = exact_bce_probability_rows(y, p, dtype)
    got_rows = fastloss.binary_crossentropy(y, p, reduction="none")
    got_total = fastloss.binary_crossentropy(y, p, reduction="sum")   # a double sum of the double rows
    if K <= PROBABILITY_PRODUCT_MAX_K:
        # float32 products go without their complements (FL_PRODUCT_COMPLEMENT_f32): ~1e-9 of a confident row's
        # -log, then its rounding to float32; the total keeps the products' precision.
        row_rtol = ROW_RTOL if dtype == np.float64 else 2.0**-24 + FLOAT32_PRODUCT_RTOL
        total_rtol = ROW_RTOL if dtype == np.float64 else FLOAT32_PRODUCT_RTOL
        np.testing.assert_allclose(got_rows, want, rtol=row_rtol, atol=0)
        assert got_total == pytest.approx(math.fsum(want), rel=total_rtol)
    elif dtype == np.float64:
        # Element by element, -log(1 - p) for a tiny p inherits the rounding of 1 - p: 1.1e-16 absolute an element.
        np.testing.assert_allclose(got_rows, want, rtol=ROW_RTOL, atol=2.0**-53)
        assert got_total == pytest.approx(math.fsum(want), rel=ROW_RTOL, abs=2.0**-53 * len(y))
    else:
        # float32 elements take their logs on float lanes: two float ulps (tests/test_float32_lanes.py).
        np.testing.assert_allclose(got_rows, want, rtol=2.0**-22 + 2.0**-24, atol=0)
        assert got_total == pytest.approx(math.fsum(want), rel=2.0**-22)


@pytest.mark.parametrize("K", LENGTHS)
@pytest.mark.parametrize("targets", ["hard", "soft"])
def test_float64_logit_rows_match_an_exact_reference(K, targets):
    rng = np.random.default_rng(100 + K)
    sign = rng.choice([-1.0, 1.0], size=(100, K))
    z = sign * 10.0 ** rng.uniform(-8.0, 2.85, size=(100, K))          # |z| up to ~700: tails down to 1e-304
    y = rng.integers(0, 2, size=(100, K)).astype(float) if targets == "hard" else rng.random((100, K))
    confident = rng.random(100) < 0.3                                   # rows whose loss is tiny: z agrees with y
    y[confident] = (z[confident] > 0).astype(float)
    got = fastloss.binary_crossentropy(y, z, from_logits=True, reduction="none")
    np.testing.assert_allclose(got, exact_bce_logit_rows(y, z), rtol=ROW_RTOL, atol=0)


# Unweighted rows from logits (every row included) take their total from per-lane products over consecutive elements,
# wherever the rows end (fl_kernels.h's FL_BCE_LOGITS_TOTALS): 32 factors a product, groups of 1024 elements, chunks
# of 2048 and blocks of 16384, each with a tail here. float32 takes its exps on float lanes (< 1.2e-7 each).
TOTAL_SHAPES = [(5001,), (5001, 1), (1301, 3), (2501, 8), (397, 33)]
TOTAL_RTOL = {np.float32: 2.0**-22, np.float64: 1e-13}


def logit_regimes(shape, targets, rng, dtype=np.float64):
    sign = rng.choice([-1.0, 1.0], size=shape)
    if targets == "confident":   # every element right by 20-35 logits: linear parts 0, the total ~1e-9·n from tails
        z = sign * rng.uniform(20.0, 35.0, size=shape)
        return (z > 0).astype(dtype), z.astype(dtype)
    z = sign * 10.0 ** rng.uniform(-8.0, 2.85, size=shape)             # |z| up to ~700: tails down to 1e-304
    y = rng.integers(0, 2, size=shape).astype(float) if targets == "hard" else rng.random(shape)
    confident = rng.random(shape) < 0.3                                 # elements whose loss is tiny
    y[confident] = (z[confident] > 0).astype(float)
    return y.astype(dtype), z.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("targets", ["hard", "soft", "confident"])
@pytest.mark.parametrize("shape", TOTAL_SHAPES, ids=str)
def test_unweighted_logit_totals_match_an_exact_reference(shape, targets, smoothing, dtype):
    rng = np.random.default_rng(len(shape) * 1000 + shape[-1])
    y, z = logit_regimes(shape, targets, rng, dtype)
    rows_y, rows_z = y.reshape(len(y), -1).astype(float), z.reshape(len(z), -1).astype(float)
    exact_rows = exact_bce_logit_rows(rows_y * (1.0 - smoothing) + smoothing / 2, rows_z)
    for reduction, divisor in (("sum", 1), ("sum_over_batch_size", len(exact_rows))):
        got = fastloss.binary_crossentropy(y, z, from_logits=True, label_smoothing=smoothing, reduction=reduction)
        assert got == pytest.approx(math.fsum(exact_rows) / divisor, rel=TOTAL_RTOL[dtype], abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unweighted_logit_totals_depend_on_neither_threads_nor_isa_level(dtype, each_isa_level):
    rng = np.random.default_rng(12)
    y, z = logit_regimes((6001, 8), "soft", rng, dtype)    # 48008 elements: three blocks and a tail
    results = set()
    for level in each_isa_level():
        for n_threads in (1, 2, 3):
            results.add(fastloss.binary_crossentropy(y, z, from_logits=True, n_threads=n_threads))
    assert len(results) == 1
    want = oracle.binary_crossentropy(y, z, from_logits=True)
    assert results.pop() == pytest.approx(want, rel=TOTAL_RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", [0, 1023, 2047, 5000])
def test_a_nan_logit_reaches_the_unweighted_total(where, dtype):
    y, z = logit_regimes((5001,), "hard", np.random.default_rng(3), dtype)
    z[where] = np.nan
    assert math.isnan(fastloss.binary_crossentropy(y, z, from_logits=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_gives_the_same_bits_alone_and_between_soft_rows(dtype):
    # A chunk with a soft target anywhere finishes row by row (the scalar row function); an all-hard chunk takes
    # the vector loop. Either way a hard row is the product form, bit for bit.
    rng = np.random.default_rng(5)
    y, p = probability_regimes(300, 8, dtype, rng)
    y[::7, 3] = 0.25
    together = fastloss.binary_crossentropy(y, p, reduction="none")
    alone = np.array([fastloss.binary_crossentropy(y[i:i + 1], p[i:i + 1], reduction="none")[0]
                      for i in range(len(y))])
    assert np.array_equal(together, alone)
    soft_rows = np.arange(0, 300, 7)
    element_sum = np.mean([[fastloss.binary_crossentropy(y[i, k:k + 1], p[i, k:k + 1]) for k in range(8)]
                           for i in soft_rows], axis=1)
    np.testing.assert_allclose(together[soft_rows], element_sum, rtol=1e-15 if dtype == np.float64 else 2.0**-24)


def test_rows_longer_than_the_product_range_keep_the_element_sum():
    # Hard-target rows of more than 8 elements keep the element-by-element sum.
    rng = np.random.default_rng(9)
    y, p = probability_regimes(50, 9, np.float64, rng)
    # Element by element, -log(1 - p) for a tiny p inherits the rounding of 1 - p: an absolute 1.1e-16 per element.
    np.testing.assert_allclose(fastloss.binary_crossentropy(y, p, reduction="none"),
                               exact_bce_probability_rows(y, p, np.float64), rtol=ROW_RTOL, atol=2.0**-53)


# CCE on probabilities: hard rows (every target 0 or 1) of up to 32 classes take two logs of products.
CCE_PRODUCT_MAX_K = 32
CCE_LENGTHS = [1, 2, 3, 7, 8, 9, 10, 16, 31, 32, 33]   # both sides of the product range and of its 4-lane blocks


def dyadic_rows(rows, K, dtype, rng):
    """Probability rows that sum to exactly 1 in either dtype, so that p / Σp is p itself and the reference needs no
    rounding of the kernel's to match: multiples of 2^-24 (float32) or 2^-52 (float64). Per row one regime:
    confident (the rest holds 2^-bits each, so the top class is clipped to hi or sits just below it), wrong (the
    target's class holds the least: clipped to lo in float32), or spread at random."""
    bits = 24 if dtype == np.float32 else 52
    scale = 2 ** bits
    out = np.empty((rows, K))
    for r in range(rows):
        regime = r % 3
        if regime == 0:
            ints = np.ones(K, dtype=object)
            ints[rng.integers(0, K)] = scale - (K - 1)
        elif regime == 1:
            ints = np.array([int(i) for i in rng.integers(1, scale // (4 * K), size=K)], dtype=object)
            ints[0] = 1
            ints[-1] += scale - sum(ints)
        else:
            cuts = sorted(int(c) * (scale // 2 ** 30) for c in rng.integers(1, 2 ** 30, size=K - 1))
            edges = [0] + cuts + [scale]
            ints = np.array([edges[i + 1] - edges[i] for i in range(K)], dtype=object)
        out[r] = [int(i) / scale for i in ints]
    assert np.all(out.sum(axis=1) == 1.0)
    return out.astype(dtype)


def exact_cce_probability_rows(y, p, dtype, smoothing):
    lo, hi = (mpmath.mpf(float(b)) for b in _engine._CLIP_BOUNDS[dtype])
    keep, offset = (mpmath.mpf(v) for v in fastloss._kernels.smoothed_target(smoothing, 0, p.shape[-1]))
    rows = []
    for yr, pr in zip(y, p):
        total = mpmath.mpf(0)
        for yk, pk in zip(yr, pr):
            q = min(max(mpmath.mpf(float(pk)), lo), hi)   # Σp == 1 exactly: q is the clipped p
            total -= (mpmath.mpf(float(yk)) * keep + offset) * mpmath.log(q)
        rows.append(float(total))
    return np.array(rows)


def hard_targets(rows, K, rng, p):
    """One-hot rows on the most (confident rows) or least (wrong rows) likely class, multi-hot and empty rows."""
    y = np.zeros((rows, K))
    y[np.arange(rows), np.where(np.arange(rows) % 2 == 0, np.argmax(p, axis=1), np.argmin(p, axis=1))] = 1.0
    y[1::5] = rng.integers(0, 2, size=(len(y[1::5]), K))
    y[4::11] = 0.0
    return y


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", CCE_LENGTHS)
def test_cce_hard_rows_match_an_exact_reference(K, dtype, smoothing):
    rng = np.random.default_rng(200 + K)
    p = dyadic_rows(90, K, dtype, rng)
    y = hard_targets(90, K, rng, p).astype(dtype)
    want = exact_cce_probability_rows(y, p, dtype, smoothing)
    got_rows = fastloss.categorical_crossentropy(y, p, label_smoothing=smoothing, reduction="none")
    got_total = fastloss.categorical_crossentropy(y, p, label_smoothing=smoothing, reduction="sum")
    if K <= CCE_PRODUCT_MAX_K or dtype == np.float64:
        # float32 rows come back rounded to float32; the total keeps the products' precision. float64 rows of
        # more than 32 classes add K double logs of the same sign: as exact.
        np.testing.assert_allclose(got_rows, want, rtol=ROW_RTOL if dtype == np.float64 else 2.0**-24, atol=0)
        assert got_total == pytest.approx(math.fsum(want), rel=ROW_RTOL)
    else:
        # float32 elements take their logs on float lanes: two float ulps (tests/test_float32_lanes.py).
        np.testing.assert_allclose(got_rows, want, rtol=2.0**-22 + 2.0**-24, atol=0)
        assert got_total == pytest.approx(math.fsum(want), rel=2.0**-22)


def _force_row_functions(y, p):
    """The same rows behind one more, masked out, whose probability lies outside [0, 1]: its chunk is then redone row
    by row (the per-row functions), since only an included row may raise."""
    bad_p = np.concatenate([p, np.full((1, p.shape[1]), 1.5, p.dtype)])
    bad_y = np.concatenate([y, np.zeros((1, y.shape[1]), y.dtype)])
    mask = np.ones(len(bad_p), bool)
    mask[-1] = False
    return bad_y, bad_p, mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [5, 10, 33])
def test_cce_row_gives_the_same_bits_alone_between_soft_rows_and_row_by_row(K, dtype, each_isa_level):
    # A chunk with soft targets computes the element sums of those rows only; a row function chooses by its own
    # targets too. So every row gets the same bits in a chunk of hard rows, among soft rows, alone, or row by row,
    # at every instruction set level.
    rng = np.random.default_rng(K)
    p = rng.random((400, K)).astype(dtype)
    y = hard_targets(400, K, rng, p)
    soft = np.arange(0, 400, 7)
    y[soft, rng.integers(0, K, len(soft))] = 0.25
    y = y.astype(dtype)
    hard = np.setdiff1d(np.arange(400), soft)
    for _level in each_isa_level():
        for smoothing in (0.0, 0.1):
            kw = dict(label_smoothing=smoothing, reduction="none")
            together = fastloss.categorical_crossentropy(y, p, **kw)
            hard_only = fastloss.categorical_crossentropy(y[hard], p[hard], **kw)
            alone = np.array([fastloss.categorical_crossentropy(y[i:i + 1], p[i:i + 1], **kw)[0] for i in range(0, 400, 3)])
            by_row_y, by_row_p, mask = _force_row_functions(y, p)
            by_row = fastloss.categorical_crossentropy(by_row_y, by_row_p, mask=mask, **kw)[:-1]
            assert together.tobytes() == by_row.tobytes()
            assert together[hard].tobytes() == hard_only.tobytes()
            assert together[::3].tobytes() == alone.tobytes()
            # The soft rows keep the per-element sum.
            np.testing.assert_allclose(together[soft], oracle.categorical_crossentropy(y[soft], p[soft], **kw),
                                       rtol=1e-13 if dtype == np.float64 else 2.0**-22)
