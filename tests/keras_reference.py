"""Shared pieces of the Keras conformance modules (tests/conformance/test_keras_*.py).

How a fastloss quantity maps to Keras 3 is explained in test_keras_core.py's docstring; this module owns the code
of that mapping once: the Keras Loss classes and functions of every loss, calling a Loss object the way Model.fit
does (the mask riding on y_pred), the weighting matrix (weights and masks, at the full row shape for Keras and
at a prefix shape for fastloss where the case says so) and the loss-object comparison over that matrix.

Import it only after ``pytest.importorskip("keras")``: it imports Keras, whose backend tests/conformance/conftest.py
sets first. Test modules import it by name (tests/conftest.py puts the tests directory on ``sys.path``).
"""

import zlib

import keras
import numpy as np
import pytest
from keras.src.backend.common.masking import set_keras_mask

import fastloss

EPS32 = float(np.finfo(np.float32).eps)
RTOL = 2e-6
REDUCTIONS = ("none", "sum", "sum_over_batch_size", "mean_with_sample_weight")

KERAS_CLASS = {
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "mean_squared_error": keras.losses.MeanSquaredError,
    "mean_absolute_error": keras.losses.MeanAbsoluteError,
    "mean_absolute_percentage_error": keras.losses.MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": keras.losses.MeanSquaredLogarithmicError,
    "huber": keras.losses.Huber,
    "log_cosh": keras.losses.LogCosh,
    "poisson": keras.losses.Poisson,
    "hinge": keras.losses.Hinge,
    "squared_hinge": keras.losses.SquaredHinge,
    "kl_divergence": keras.losses.KLDivergence,
    "categorical_hinge": keras.losses.CategoricalHinge,
    "cosine_similarity": keras.losses.CosineSimilarity,
    "binary_focal_crossentropy": keras.losses.BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": keras.losses.CategoricalFocalCrossentropy,
    "categorical_generalized_cross_entropy": keras.losses.CategoricalGeneralizedCrossEntropy,
}
KERAS_FUNCTION = {name: getattr(keras.losses, name) for name in KERAS_CLASS}


def config_id(v):
    """A test id for a loss name or a parameter dict (``_``-prefixed test-data choices without the ``_``)."""
    if isinstance(v, str):
        return v
    return ",".join(f"{k.lstrip('_')}={x}" for k, x in v.items()) or "default"


def loss_params(params):
    """The keyword arguments of the loss (``_``-prefixed entries only choose the test data)."""
    return {k: v for k, v in params.items() if not k.startswith("_")}


def keras_loss(loss, params, reduction, y, p, *, sample_weight=None, mask=None):
    """Keras's Loss object called as Model.fit calls it: the mask rides on y_pred."""
    p = np.array(p, copy=True)  # a fresh object, so the id-keyed mask table cannot see a stale entry
    if mask is not None:
        set_keras_mask(p, np.asarray(mask, dtype=bool))
    obj = KERAS_CLASS[loss](reduction=reduction, **loss_params(params))
    return np.asarray(obj(y, p, sample_weight=sample_weight), dtype=np.float64)


def fastloss_value(loss, params, reduction, y, p, **kw):
    out = fastloss.LOSSES[loss](y, p, reduction=reduction, **loss_params(params), **kw)
    return np.asarray(out, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------------
# The loss-object matrix: loss x parameters x row shape x dtype x weighting x reduction
# ---------------------------------------------------------------------------------------------------------------

# (rows, K): per-sample rows (N,) and per-timestep rows (N, T); K = 1 only where Keras accepts it.
SHAPES = [((7,), 4), ((5, 6), 3), ((9,), 1)]
# How weights and masks are given. "*_prefix": fastloss gets (N,) on rows (N, T), Keras the same broadcast.
WEIGHTINGS = ["plain", "sample_weight", "sample_weight_prefix", "mask", "mask_prefix", "mask_and_weight_prefix"]


def loss_object_matrix(loss_configs, *, accepts=lambda loss, K: True, shapes=SHAPES, weightings=WEIGHTINGS):
    """pytest params (loss, params, rows, K, dtype, weighting) for every config where ``accepts(loss, K)``."""
    out = []
    for loss, params in loss_configs:
        for rows, K in shapes:
            if not accepts(loss, K):
                continue
            for weighting in weightings:
                if weighting.endswith("_prefix") and len(rows) == 1:
                    continue  # a prefix of rows (N,) is (N,): the same as the full-shape case
                for dtype in ("float32", "float64"):
                    out.append(pytest.param(
                        loss, params, rows, K, dtype, weighting,
                        id=f"{loss}[{config_id(params)}]-rows{'x'.join(map(str, rows))}-K{K}-{dtype}-{weighting}",
                    ))
    return out


def weights_and_mask(weighting, rows, rng):
    """(fastloss kwargs, keras sample_weight, keras mask)"""
    N = rows[0]
    kw, sw_k, m_k = {}, None, None
    if "weight" in weighting:
        shape = (N,) if weighting.endswith("_prefix") else rows
        sw = rng.uniform(0.1, 3.0, shape)
        sw[rng.random(shape) < 0.3] = 0.0  # zero weights
        kw["sample_weight"] = sw
        sw_k = np.broadcast_to(sw.reshape(sw.shape + (1,) * (len(rows) - sw.ndim)), rows).copy()
    if "mask" in weighting:
        shape = (N,) if weighting.endswith("_prefix") else rows
        m = rng.random(shape) < 0.7
        m.flat[0] = True  # at least one included row
        kw["mask"] = m
        m_k = np.broadcast_to(m.reshape(m.shape + (1,) * (len(rows) - m.ndim)), rows).copy()
    return kw, sw_k, m_k


def check_loss_object(loss, params, rows, K, dtype, weighting, reduction, *, make_inputs, atol, elementwise):
    """One matrix entry: fastloss against the Keras Loss object, inputs from ``make_inputs(loss, params, rows, K,
    dtype, rng)``, tolerance ``RTOL`` plus ``atol(loss, params, y, p, weight_scale)``. ``elementwise``: with K == 1,
    fastloss gets a 1-D y_pred half of the time (N rows of one value; Keras sees the same data as (N, 1)).
    ``make_inputs`` returns (y, p), or (y, p, params) where loss arguments are drawn with the data (an array alpha)."""
    rng = np.random.default_rng(zlib.crc32(repr((loss, params, rows, K, dtype, weighting)).encode()))
    y, p, *drawn = make_inputs(loss, params, rows, K, dtype, rng)
    if drawn:
        (params,) = drawn
    if elementwise and K == 1 and rng.random() < 0.5:
        y_f, p_f = y[..., 0], p[..., 0]
    else:
        y_f, p_f = y, p
    kw, sw_k, m_k = weights_and_mask(weighting, rows, rng)
    expected = keras_loss(loss, params, reduction, y, p, sample_weight=sw_k, mask=m_k)
    actual = fastloss_value(loss, params, reduction, y_f, p_f, **kw)
    if reduction == "none":
        assert actual.shape == tuple(rows)
    weight_scale = float(np.max(sw_k)) if sw_k is not None else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=atol(loss, params, y, p, weight_scale))
