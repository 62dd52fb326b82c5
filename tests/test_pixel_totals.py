"""BCE and binary focal crossentropy on probabilities over pixels: rows of one element with hard targets take their
totals in one loop.

fl_kernels.h's hard_totals computes each pixel's loss (BCE, or focal with γ = 2) straight into the reduction's lanes,
weighted by its own sample weight, its class's weight or 1, without the row buffer and the separate target, factor,
weight and reduction passes. The same call with an all-True mask takes those general passes, with the same additions
in the same lanes: the two must give the same bits for every loss, weighting, dtype, reduction, thread count and ISA
level. BCE pixels without weights of their own (none, or class weights) take the logs of per-class products instead
(FL_PIXEL_PRODUCT_TOTALS): not the general passes' bits, but a value closer to the exact one than float32's float-lane
logs, with bits that still depend on neither the thread count nor the ISA level. A chunk the loop refuses (a soft
target, a probability outside [0, 1], a pixel whose class has no weight, a focal γ other than 2) hands the rest of its
block to the general passes, which decide what to do with it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastloss
from fastloss import oracle

SHAPE = (3, 67, 101, 1)   # 20301 pixels: several chunks of 2048 and a tail, one or several blocks
WEIGHTINGS = ["none", "pixel float32", "pixel float64", "class {0, 1}", "class {0, 1, 2}"]
REDUCTIONS = ["sum_over_batch_size", "mean_with_sample_weight", "sum", "keras_legacy"]
LOSSES = [
    ("binary_crossentropy", {}),
    ("binary_focal_crossentropy", {"gamma": 2.0}),
    ("binary_focal_crossentropy", {"gamma": 2.0, "apply_class_balancing": True}),
    ("binary_focal_crossentropy", {"gamma": 2.0, "apply_class_balancing": True, "alpha": np.array([0.4])}),
    ("binary_focal_crossentropy", {"gamma": 3.0}),   # refused: the general passes
]
LOSS_IDS = [f"{loss}{options}" for loss, options in LOSSES]


def pixels(dtype, rng, shape=SHAPE):
    y_true = (rng.random(shape) < 0.3).astype(dtype)
    y_pred = rng.uniform(0.0, 1.0, size=shape).astype(dtype)
    y_pred.flat[::97] = 0.0    # clipped at both ends
    y_pred.flat[5::89] = 1.0
    return y_true, y_pred


def weighting_options(weighting, rng, shape=SHAPE):
    if weighting == "none":
        return {}
    if weighting.startswith("pixel"):
        weights = rng.uniform(0.5, 2.0, size=shape[:-1]).astype(weighting.split()[1])
        weights.flat[::13] = 0.0   # zero weights count apart from the others (Σw, non-zero rows)
        return {"sample_weight": weights}
    if weighting == "class {0, 1}":
        return {"class_weight": {0: 0.25, 1: 3.0}}
    return {"class_weight": {0: 0.0, 1: 3.0, 2: 7.0}}


def all_pixels(shape=SHAPE):
    return np.ones(shape[:-1], dtype=bool)


def fused_and_general(loss, y_true, y_pred, **options):
    """The call as given (the pixel loop where it applies) and with an all-True mask (the general passes)."""
    fn = getattr(fastloss, loss)
    return fn(y_true, y_pred, **options), fn(y_true, y_pred, mask=all_pixels(), **options)


def error_messages(loss, y_true, y_pred, **options):
    """What the call as given and the call with an all-True mask raise (each must raise a ValueError)."""
    fn, messages = getattr(fastloss, loss), []
    for mask in (None, all_pixels()):
        with pytest.raises(ValueError) as raised:
            fn(y_true, y_pred, mask=mask, **options)
        messages.append(str(raised.value))
    return messages


def oracle_rtol(dtype):
    # float32 probabilities take their logs on float lanes (test_float32_lanes.py); the terms are all >= 0
    return 2.0**-22 if dtype == np.float32 else 1e-12


def takes_products(loss, weighting):
    return loss == "binary_crossentropy" and not weighting.startswith("pixel")


# The products' logs are double math for float32 too; float32 products go without their complement (~1e-10 for a
# product of 32 factors near 1).
PRODUCTS_RTOL = {np.float32: 1e-9, np.float64: 1e-13}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, loss_options", LOSSES, ids=LOSS_IDS)
def test_pixel_totals_give_the_general_passes_bits(loss, loss_options, dtype, weighting, reduction, each_isa_level):
    rng = np.random.default_rng(7)
    y_true, y_pred = pixels(dtype, rng)
    options = {**loss_options, **weighting_options(weighting, rng)}
    expected = getattr(oracle, loss)(y_true, y_pred, reduction=reduction, **options)
    products = takes_products(loss, weighting)
    results = set()
    for level in each_isa_level():
        for n_threads in (1, 2):
            fused, general = fused_and_general(loss, y_true, y_pred, reduction=reduction, n_threads=n_threads,
                                               **options)
            results.add(fused)
            if products:
                np.testing.assert_allclose(fused, expected, rtol=PRODUCTS_RTOL[dtype])
                np.testing.assert_allclose(general, expected, rtol=oracle_rtol(dtype))
            else:
                assert fused == general, (level, n_threads)
                np.testing.assert_allclose(fused, expected, rtol=oracle_rtol(dtype))
    assert len(results) == 1, results


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, loss_options", LOSSES[:3], ids=LOSS_IDS[:3])
def test_a_soft_target_hands_the_rest_of_the_block_to_the_general_passes(loss, loss_options, dtype, weighting):
    rng = np.random.default_rng(8)
    y_true, y_pred = pixels(dtype, rng)
    y_true.flat[[5000, 12345]] = 0.3   # soft targets in the middle of the map, in two chunks
    options = {**loss_options, **weighting_options(weighting, rng)}
    expected = getattr(oracle, loss)(y_true, y_pred, **options)
    results = set()
    for n_threads in (1, 2):
        fused, general = fused_and_general(loss, y_true, y_pred, n_threads=n_threads, **options)
        results.add(fused)
        if not takes_products(loss, weighting):
            assert fused == general
        np.testing.assert_allclose(fused, expected, rtol=oracle_rtol(dtype))
    assert len(results) == 1, results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, loss_options", LOSSES[:2], ids=LOSS_IDS[:2])
def test_label_smoothing_of_pixels_matches_the_oracle(loss, loss_options, dtype):
    rng = np.random.default_rng(9)
    y_true, y_pred = pixels(dtype, rng)
    got = getattr(fastloss, loss)(y_true, y_pred, label_smoothing=0.1, **loss_options)
    expected = getattr(oracle, loss)(y_true, y_pred, label_smoothing=0.1, **loss_options)
    # smoothed targets are soft: their BCE terms are double math in float32 too (test_float32_lanes.py)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, loss_options", LOSSES[:2], ids=LOSS_IDS[:2])
def test_a_probability_outside_the_unit_interval_is_reported_at_its_pixel(loss, loss_options, dtype, weighting):
    rng = np.random.default_rng(10)
    y_true, y_pred = pixels(dtype, rng)
    y_pred.flat[15000] = 1.5
    options = {**loss_options, **weighting_options(weighting, rng)}
    fused, general = error_messages(loss, y_true, y_pred, **options)
    assert fused == general
    assert "y_pred" in fused


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_pixel_whose_class_has_no_weight_is_reported(dtype):
    rng = np.random.default_rng(11)
    y_true, y_pred = pixels(dtype, rng)
    fused, general = error_messages("binary_crossentropy", y_true, y_pred, class_weight={1: 2.0})
    assert fused == general
    assert "class_weight" in fused


@pytest.mark.parametrize("weighting", ["none", "class {0, 1}"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_confident_pixels_keep_their_digits(dtype, weighting):
    """Products of factors near 1, whose -log is small: float64 carries each product's complement and gets this map's
    value to the last digit, float32 goes without it and stays within PRODUCTS_RTOL. The reference takes -log1p(-p)
    for the negatives: the oracle's -log(1 - p), like the element loops', is ~1e-13 off here."""
    rng = np.random.default_rng(12)
    y_true = (rng.random(SHAPE) < 0.3).astype(dtype)
    margin = rng.uniform(2e-7, 2e-6, size=SHAPE)
    y_pred = np.where(y_true == 1, 1 - margin, margin).astype(dtype)
    options = weighting_options(weighting, rng)
    got = fastloss.binary_crossentropy(y_true, y_pred, **options)
    y, p = y_true.astype(np.float64).ravel(), y_pred.astype(np.float64).ravel()
    losses = np.where(y == 1, -np.log(p), -np.log1p(-p))
    weights = np.where(y == 1, 3.0, 0.25) if options else np.ones_like(y)
    exact = math.fsum(weights * losses) / y.size
    np.testing.assert_allclose(got, exact, rtol={np.float32: 1e-9, np.float64: 1e-15}[dtype])


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_nan_probability_reaches_the_result(dtype, weighting):
    rng = np.random.default_rng(13)
    y_true, y_pred = pixels(dtype, rng)
    y_true.flat[777], y_pred.flat[777] = 0.0, np.nan   # class 0, whose weight is 0 in "class {0, 1, 2}"
    fused, general = fused_and_general("binary_crossentropy", y_true, y_pred, **weighting_options(weighting, rng))
    assert np.isnan(fused) and np.isnan(general)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_class_without_pixels_needs_no_weight(dtype):
    rng = np.random.default_rng(14)
    y_true, y_pred = pixels(dtype, rng)
    y_true[...] = 1.0
    fused, general = fused_and_general("binary_crossentropy", y_true, y_pred, class_weight={1: 2.0})
    expected = oracle.binary_crossentropy(y_true, y_pred, class_weight={1: 2.0})
    np.testing.assert_allclose(fused, expected, rtol=PRODUCTS_RTOL[dtype])
    np.testing.assert_allclose(general, expected, rtol=oracle_rtol(dtype))
