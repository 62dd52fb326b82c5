"""float32 inputs on float lanes: the accuracy the contract promises (~1e-6 relative to a float64 reference).

The crossentropies of float32 inputs compute their logs and exps on float lanes (fl_vmath.h: twice the lanes of
double, fewer operations) and everything else in double: the linear part of BCE from logits, sums, the log of a
log-sum-exp. These tests put each float-lane path through the inputs where float math is weakest (probabilities at
the clip bounds and next to 1, logits whose exp underflows, rows so confident that the loss is tiny) and compare
the totals, computed in double, with the float64 oracle on the same float32 values.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import oracle

ELEMENT_RTOL = 2.0**-22   # two float ulps for one element (one log or one exp plus log1p)
# A float-lane value below float's normal range (the softplus tail e^-|z| of a logit |z| > 87) is a subnormal float:
# accurate to float's absolute resolution, 2^-149 ~ 1.4e-45, not relatively. Such an element is at most ~1e-38.
SUBNORMAL_ATOL = 2.0**-149
CONTRACT_RTOL = 1e-6


def decades(low_exponent, high_exponent, per_decade, rng):
    """Values spread log-uniformly over [10**low, 10**high), as float32."""
    return (10.0 ** rng.uniform(low_exponent, high_exponent, per_decade * (high_exponent - low_exponent))).astype(
        np.float32)


def totals(fn, *args, **kwargs):
    return fn(*args, reduction="sum", **kwargs)


@pytest.mark.parametrize("target", [0.0, 1.0])
@pytest.mark.parametrize("side", ["small p", "p next to 1"])
def test_bce_probabilities_hard_targets_every_decade(target, side):
    rng = np.random.default_rng(7)
    for exponent in range(-9, 0):  # below 1e-7 the clip bound applies
        small = decades(exponent, exponent + 1, 500, rng)
        p = small if side == "small p" else (np.float32(1.0) - small).astype(np.float32)
        y = np.full_like(p, target)
        got = totals(fastloss.binary_crossentropy, y, p)
        want = totals(oracle.binary_crossentropy, y, p)
        assert got == pytest.approx(want, rel=ELEMENT_RTOL), (target, side, exponent)


@pytest.mark.parametrize("options", [{"gamma": 2.0}, {"gamma": 0.5, "apply_class_balancing": True}], ids=str)
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_binary_focal_probabilities_hard_targets_every_decade(target, options):
    """The focal factor (1 - p_t)^γ is double; the log is BCE's float-lane log, so each term keeps its two ulps."""
    rng = np.random.default_rng(9)
    for exponent in range(-9, 0):
        small = decades(exponent, exponent + 1, 500, rng)
        for p in (small, (np.float32(1.0) - small).astype(np.float32)):
            y = np.full_like(p, target)
            got = totals(fastloss.binary_focal_crossentropy, y, p, **options)
            want = totals(oracle.binary_focal_crossentropy, y, p, **options)
            assert got == pytest.approx(want, rel=ELEMENT_RTOL, abs=1e-300), (target, exponent)


def test_bce_probabilities_clip_bounds_one_element_at_a_time():
    for y, p in [(0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0), (1.0, 1e-7), (0.0, 1 - 2.0**-23), (1.0, 0.5),
                 (0.0, 0.5), (0.0, 0.49999997), (1.0, 0.50000006)]:
        y32, p32 = np.array([y], np.float32), np.array([p], np.float32)
        got = fastloss.binary_crossentropy(y32, p32, reduction="sum")
        want = oracle.binary_crossentropy(y32, p32, reduction="sum")
        assert got == pytest.approx(want, rel=ELEMENT_RTOL, abs=1e-300), (y, p)


def test_bce_probabilities_soft_targets_and_smoothing_stay_in_double():
    rng = np.random.default_rng(3)
    p = rng.random((1000, 8)).astype(np.float32)
    y = rng.random((1000, 8)).astype(np.float32)
    hard = (rng.random((1000, 8)) < 0.5).astype(np.float32)
    for yy, kw in [(y, {}), (hard, {"label_smoothing": 0.1})]:
        got = fastloss.binary_crossentropy(yy, p, reduction="sum", **kw)
        want = oracle.binary_crossentropy(yy, p, reduction="sum", **kw)
        assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("target", [0.0, 1.0, 0.3])
def test_bce_logits_every_magnitude(target):
    rng = np.random.default_rng(11)
    for exponent in range(-8, 3):  # |z| from 1e-8 to 1e3: the softplus tail from ln 2 down to underflow
        magnitude = decades(exponent, exponent + 1, 400, rng)
        for sign in (1.0, -1.0):
            z = (sign * magnitude).astype(np.float32)
            y = np.full_like(z, target)
            got = totals(fastloss.binary_crossentropy, y, z, from_logits=True)
            want = totals(oracle.binary_crossentropy, y, z, from_logits=True)
            assert got == pytest.approx(want, rel=ELEMENT_RTOL, abs=z.size * SUBNORMAL_ATOL), (target, sign, exponent)


def test_bce_logits_specials():
    z = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 88.0, 104.0, 200.0], np.float32)
    for target in (0.0, 1.0):
        y = np.full_like(z, target)
        got = fastloss.binary_crossentropy(y[:, None], z[:, None], from_logits=True, reduction="none")
        want = oracle.binary_crossentropy(y[:, None].astype(np.float64), z[:, None].astype(np.float64),
                                          from_logits=True, reduction="none")
        # float32 outputs: also rounded to float32, so the tails of 104 and 200 (~1e-45, ~1e-87) come out as 0
        np.testing.assert_allclose(got, want, rtol=ELEMENT_RTOL, atol=SUBNORMAL_ATOL, equal_nan=True)


@pytest.mark.parametrize("K", [1, 3, 8, 10])
def test_bce_logits_hard_chunks_give_the_bits_of_mixed_chunks(K, each_isa_level):
    """A chunk whose targets are all 0 or 1 runs the element on float lanes only; one soft target sends its chunk
    through the general element, which takes the same float-lane value for each hard target. So a row's bits do
    not depend on the other targets of its chunk."""
    rng = np.random.default_rng(K)
    rows = 40000 // K
    z = np.concatenate([rng.normal(0.0, 4.0, rows * K - 6),
                        [np.inf, -np.inf, 0.0, -0.0, 90.0, -95.0]]).astype(np.float32).reshape(rows, K)
    hard = (rng.random((rows, K)) < 0.5).astype(np.float32)
    mixed = hard.copy()
    soft_rows = np.arange(0, rows, 97)  # at least one row in every chunk of 2048 elements
    mixed[soft_rows, 0] = 0.25
    kept = np.setdiff1d(np.arange(rows), soft_rows)
    for level in each_isa_level():
        got = fastloss.binary_crossentropy(hard, z, from_logits=True, reduction="none", n_threads=1)
        other = fastloss.binary_crossentropy(mixed, z, from_logits=True, reduction="none", n_threads=1)
        assert np.array_equal(got[kept], other[kept], equal_nan=True), level
        want = oracle.binary_crossentropy(hard.astype(np.float64), z.astype(np.float64), from_logits=True,
                                          reduction="none")
        np.testing.assert_allclose(got, want, rtol=ELEMENT_RTOL, atol=SUBNORMAL_ATOL, equal_nan=True)


@pytest.mark.parametrize("K", [10, 1000, 32000])
@pytest.mark.parametrize("margin", [0.0, 5.0, 15.0, 30.0])
def test_sparse_crossentropy_logits_confident_rows(K, margin):
    """The true class ahead of every other by `margin`: at 15 the loss is ~K·3e-7, at 30 it is ~K·1e-13; the
    log-sum-exp terms come from float exps, the sum and its log are double."""
    rng = np.random.default_rng(K)
    rows = max(2, 20000 // K)
    z = rng.normal(0.0, 1.0, (rows, K)).astype(np.float32)
    labels = rng.integers(0, K, rows)
    z[np.arange(rows), labels] = z.max(axis=1) + np.float32(margin)
    got = fastloss.sparse_categorical_crossentropy(labels, z, from_logits=True, reduction="sum")
    want = oracle.sparse_categorical_crossentropy(labels, z, from_logits=True, reduction="sum")
    # Rounding z - m to float moves a term exp(z - m) by ~6e-8·|z - m| relative; the oracle's own double sum
    # 1 + Σ exp(...) carries ~1e-16 absolutely, hence the absolute floor.
    assert got == pytest.approx(want, rel=CONTRACT_RTOL, abs=rows * 1e-15)


@pytest.mark.parametrize("K", [10, 1000])
def test_categorical_crossentropy_logits_float32_matches_float64_reference(K):
    rng = np.random.default_rng(5)
    rows = 20000 // K
    z = (rng.normal(0.0, 4.0, (rows, K))).astype(np.float32)
    y = np.eye(K, dtype=np.float32)[rng.integers(0, K, rows)]
    for kw in ({}, {"label_smoothing": 0.1}):
        got = fastloss.categorical_crossentropy(y, z, from_logits=True, reduction="sum", **kw)
        want = oracle.categorical_crossentropy(y, z, from_logits=True, reduction="sum", **kw)
        assert got == pytest.approx(want, rel=CONTRACT_RTOL)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_categorical_crossentropy_probabilities_near_one_and_tiny(smoothing):
    """The renormalised probability is rounded to float for the log: its rounding goes into the log's correction
    term, so a true-class probability next to 1 (loss ~1e-7) keeps its digits."""
    rng = np.random.default_rng(9)
    K = 10
    for exponent in range(-8, 0):
        rest = decades(exponent, exponent + 1, 200, rng).astype(np.float64)
        p = np.empty((rest.size, K))
        p[:, 1:] = (rest / (K - 1))[:, None]
        p[:, 0] = 1.0 - rest
        p = p.astype(np.float32)
        for label in (0, 1):  # the confident class, or a tiny one
            y = np.zeros_like(p)
            y[:, label] = 1.0
            got = fastloss.categorical_crossentropy(y, p, label_smoothing=smoothing, reduction="sum")
            want = oracle.categorical_crossentropy(y, p, label_smoothing=smoothing, reduction="sum")
            assert got == pytest.approx(want, rel=ELEMENT_RTOL), (exponent, label)
