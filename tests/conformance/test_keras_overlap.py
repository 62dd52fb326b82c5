"""fastloss.dice / fastloss.tversky (and their oracle) against keras.losses.Dice / Tversky and their functions.

Keras 3 computes in float32 whatever the input dtype, so the comparisons use float64 inputs on our side and
``rtol=2e-6``. Cases: ``axis=None`` (one batch value; Keras multiplies its scalar by the sample weights, then
reduces) and per-sample ``axis=(1, 2, 3)`` / per-sample-and-channel ``axis=(1, 2)`` with weights of the loss's
shape; every Keras reduction; Tversky with α ≠ β (α on the missed positives in 3.15.1).
"""

import os

import numpy as np
import pytest

assert os.environ.get("KERAS_BACKEND") == "numpy", "tests/conformance/conftest.py sets KERAS_BACKEND first"

keras = pytest.importorskip("keras")

import fastloss  # noqa: E402
from fastloss import oracle  # noqa: E402

RTOL = 2e-6
REDUCTIONS = ("none", "sum", "sum_over_batch_size", "mean_with_sample_weight")


def data(seed, shape=(4, 3, 5, 2)):
    rng = np.random.default_rng(seed)
    y = (rng.random(shape) < 0.4).astype(np.float64)
    soft = rng.random(shape) < 0.2
    y[soft] = rng.random(int(soft.sum()))
    p = rng.random(shape)
    p[rng.random(shape) < 0.1] = 0.0
    return y, p


def keras_loss(name, options, axis, reduction):
    if name == "dice":
        return keras.losses.Dice(axis=axis, reduction=reduction)
    return keras.losses.Tversky(axis=axis, reduction=reduction, **options)


CASES = [
    ("dice", {}),
    ("tversky", {}),
    ("tversky", {"alpha": 0.7, "beta": 0.3}),
    ("tversky", {"alpha": 0.1, "beta": 1.5}),
]


def close(got, want):
    want = np.asarray(want, dtype=np.float64)
    assert np.shape(got) == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("name, options", CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "per_sample", "with_zeros"])
def test_axis_none_batch_value(name, options, reduction, weights):
    y, p = data(1)
    sw = {"none": None, "per_sample": np.array([0.5, 1.0, 2.0, 1.5]),
          "with_zeros": np.array([0.0, 1.0, 0.0, 3.0])}[weights]
    want = keras_loss(name, options, None, reduction)(y, p, sample_weight=sw)
    got = getattr(fastloss, name)(y, p, sample_weight=sw, reduction=reduction, **options)
    close(got, want)
    close(getattr(oracle, name)(y, p, sample_weight=sw, reduction=reduction, **options), want)


@pytest.mark.parametrize("name, options", CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("axis, weight_shape", [((1, 2, 3), (4,)), ((1, 2), (4, 2)), ((1, 2, 3), None)])
def test_per_sample_axis(name, options, reduction, axis, weight_shape):
    y, p = data(2)
    sw = None if weight_shape is None else np.random.default_rng(3).random(weight_shape)
    if sw is not None:
        sw.flat[0] = 0.0
    want = keras_loss(name, options, axis, reduction)(y, p, sample_weight=sw)
    got = getattr(fastloss, name)(y, p, axis=axis, sample_weight=sw, reduction=reduction, **options)
    close(got, want)
    close(getattr(oracle, name)(y, p, axis=axis, sample_weight=sw, reduction=reduction, **options), want)


@pytest.mark.parametrize("name, options", CASES)
@pytest.mark.parametrize("axis", [None, (1, 2, 3), (1, 2), 3])
def test_functions(name, options, axis):
    y, p = data(4)
    y[0] = 0.0
    p[0] = 0.0  # an empty sample: Keras's 0/ε gives loss 1
    fn = keras.losses.dice if name == "dice" else keras.losses.tversky
    want = fn(y, p, axis=axis, **options)
    got = getattr(fastloss, name)(y, p, axis=axis, reduction="none", **options)
    close(got, want)


def test_tversky_alpha_is_on_the_false_negatives_in_this_keras():
    y = np.array([[1.0, 1.0, 0.0, 0.0]])
    p = np.array([[0.9, 0.0, 0.0, 0.0]])  # one missed positive, no false positive
    want = keras.losses.tversky(y, p, alpha=1.0, beta=0.0, axis=(1,))
    assert float(want[0]) > 0.5  # α charges the miss
    close(fastloss.tversky(y, p, alpha=1.0, beta=0.0, axis=(1,), reduction="none"), want)
