"""float32 sample weights reach the kernels as they are (no float64 copy of the weights); every path must give the
bits of the same weights passed as float64: the vector chunks (one weight per row, or runs of rows per weight),
the chunk redone row by row, the row loop of kernels without a vector loop, the sparse chunks, class weights and
the Keras 2.2 non-zero count."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

REDUCTIONS = ["sum_over_batch_size", "mean_with_sample_weight", "keras_legacy", "sum", "none"]


def same_bits(call, weights32):
    got = call(weights32)
    want = call(weights32.astype(np.float64))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert np.asarray(got).dtype == np.asarray(want).dtype


def workloads(dtype):
    rng = np.random.default_rng(11)
    b, t, k = 700, 3, 5
    probs = rng.uniform(0.01, 0.99, size=(b, t, k)).astype(dtype)
    targets = (rng.random((b, t, k)) < 0.4).astype(dtype)
    logits = rng.normal(0, 3, size=(b, t, k)).astype(dtype)
    labels = rng.integers(0, k, size=(b, t))
    dist = (probs / probs.sum(-1, keepdims=True)).astype(dtype)
    mask = rng.random((b, t)) < 0.8
    bad_in_masked_row = probs.copy()
    bad_in_masked_row[np.argmin(mask[:, 0]), 0, 0] = 1.5   # outside [0, 1] in an excluded row: redone row by row
    return {
        "bce": lambda w, red: fastloss.binary_crossentropy(targets, probs, sample_weight=w, reduction=red),
        "bce, one element per row": lambda w, red: fastloss.binary_crossentropy(
            targets[..., :1], probs[..., :1], sample_weight=w, reduction=red),
        "bce masked": lambda w, red: fastloss.binary_crossentropy(targets, probs, sample_weight=w, mask=mask,
                                                                  reduction=red),
        "bce bad value in a masked row": lambda w, red: fastloss.binary_crossentropy(
            targets, bad_in_masked_row, sample_weight=w, mask=mask, reduction=red),
        "bce logits": lambda w, red: fastloss.binary_crossentropy(targets, logits, from_logits=True,
                                                                  sample_weight=w, reduction=red),
        "cce": lambda w, red: fastloss.categorical_crossentropy(np.eye(k, dtype=dtype)[labels], dist,
                                                               sample_weight=w, reduction=red),
        "kl (row loop)": lambda w, red: fastloss.kl_divergence(dist, dist[::-1], sample_weight=w, reduction=red),
        "sparse logits": lambda w, red: fastloss.sparse_categorical_crossentropy(labels, logits, from_logits=True,
                                                                                 sample_weight=w, mask=mask,
                                                                                 reduction=red),
        "sparse probabilities, class weights": lambda w, red: fastloss.sparse_categorical_crossentropy(
            labels, dist, sample_weight=w, class_weight={i: 0.5 + i for i in range(k)}, reduction=red),
        "mse": lambda w, red: fastloss.mean_squared_error(probs, dist, sample_weight=w, mask=mask, reduction=red),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_shape", ["per sample (B,)", "per step (B, T)"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_weights_give_the_bits_of_float64_weights(dtype, weight_shape, reduction):
    rng = np.random.default_rng(3)
    shape = (700,) if weight_shape == "per sample (B,)" else (700, 3)
    weights = rng.uniform(0.0, 2.0, size=shape).astype(np.float32)
    weights[rng.random(shape) < 0.1] = 0.0
    for name, call in workloads(dtype).items():
        same_bits(lambda w: call(w, reduction), weights)


def test_float32_weights_are_not_modified_and_other_types_still_convert():
    probs = np.random.default_rng(1).uniform(0.01, 0.99, size=(50, 4)).astype(np.float32)
    targets = (probs > 0.5).astype(np.float32)
    weights = np.linspace(0.0, 2.0, 50, dtype=np.float32)
    before = weights.copy()
    got = fastloss.binary_crossentropy(targets, probs, sample_weight=weights)
    np.testing.assert_array_equal(weights, before)
    for other in (weights.astype(np.float16), (weights * 10).astype(np.int32), weights[::-1].copy()[::-1]):
        want = fastloss.binary_crossentropy(targets, probs, sample_weight=other.astype(np.float64))
        assert fastloss.binary_crossentropy(targets, probs, sample_weight=other) == want
    assert got == fastloss.binary_crossentropy(targets, probs, sample_weight=before.astype(np.float64))
