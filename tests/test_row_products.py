"""BCE rows from one log per row: the product form is as exact as the element-by-element sum.

fl_kernels.h sums a row's logs as the log of a product (hard targets on probabilities: -log Π q, rows of 2 to 8
elements; float64 logits: log1p(Π (1 + e^-|z|) - 1), rows of 2 to 32 elements), carrying each product next to its complement so that a
small row loss keeps its digits. These tests compare rows with 40-digit references across the regimes where a
product could lose digits (confident rows whose loss is ~1e-15, wrong rows at the clip bound, long rows, logits
whose tails underflow), and check that a row's bits do not depend on the rows next to it.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import fastloss
from fastloss import _engine

mpmath.mp.dps = 40
ROW_RTOL = 1e-14          # a row of K <= 32 elements: ~3 roundings a step, against an exact reference
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
        # float32 rows come back rounded to float32; the total keeps the product's precision.
        row_rtol = ROW_RTOL if dtype == np.float64 else 2.0**-24
        np.testing.assert_allclose(got_rows, want, rtol=row_rtol, atol=0)
        assert got_total == pytest.approx(math.fsum(want), rel=ROW_RTOL)
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
