"""fastloss's row losses (KL divergence, categorical hinge, cosine similarity) against Keras 3.

Same mapping as test_keras_catalog.py (read its docstring): Loss objects with ``reduction`` "none", "sum",
"sum_over_batch_size" and "mean_with_sample_weight"; Keras always gets weights and masks broadcast to the row
shape, fastloss the same weights at a prefix shape where the case says so; masks ride on y_pred through
``set_keras_mask``; class weights become Keras sample weights through ``class_weight_to_sample_weights``.

These losses reduce a whole row of K values (rows = ``y_pred.shape[:-1]``), as Keras's do (``axis=-1``). Keras 3
computes in float32 whatever the input dtype, so comparisons use ``rtol=2e-6`` plus an ``atol`` from the float32
rounding of the terms each loss adds (``_atol``). ε: Keras uses float32(1e-7) always; fastloss uses 1e-7 in the
compute dtype, a relative difference of 1.2e-8, below the tolerance.

Cosine similarity and tiny vectors: fastloss follows Keras's ops path, ``x·min(1/sqrt(Σ x²), 1/ε)``. On the numpy
backend the tensors are NumPy arrays, so ``keras.utils.normalize`` takes its NumPy branch, ``x / ||x||`` with a zero
norm replaced by 1. Both give 0 for a zero vector and agree for every vector whose norm is above ε (about 1e-7);
they differ only for vectors with ``0 < ||x|| < ε`` (fastloss: the inverse norm is capped at 1/ε, so such a vector
is *not* scaled to unit length). The inputs here keep every nonzero vector's norm far above ε.
"""

import os
import zlib

import numpy as np
import pytest

assert os.environ.get("KERAS_BACKEND") == "numpy", "tests/conformance/conftest.py sets KERAS_BACKEND first"

keras = pytest.importorskip("keras")

import fastloss  # noqa: E402
from keras.src.backend.common.masking import set_keras_mask  # noqa: E402
from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:keras.*")

EPS32 = float(np.finfo(np.float32).eps)
RTOL = 2e-6
REDUCTIONS = ("none", "sum", "sum_over_batch_size", "mean_with_sample_weight")

KERAS_CLASS = {
    "kl_divergence": keras.losses.KLDivergence,
    "categorical_hinge": keras.losses.CategoricalHinge,
    "cosine_similarity": keras.losses.CosineSimilarity,
}
KERAS_FUNCTION = {
    "kl_divergence": keras.losses.kl_divergence,
    "categorical_hinge": keras.losses.categorical_hinge,
    "cosine_similarity": keras.losses.cosine_similarity,
}

LOSS_CONFIGS = [
    ("kl_divergence", {}),
    ("kl_divergence", {"_targets": "one_hot"}),
    ("categorical_hinge", {}),
    ("categorical_hinge", {"_targets": "one_hot"}),
    ("cosine_similarity", {}),
    ("cosine_similarity", {"axis": -1, "_targets": "with_zero_rows"}),
]


def _config_id(v):
    if isinstance(v, str):
        return v
    return ",".join(f"{k.lstrip('_')}={x}" for k, x in v.items()) or "default"


def loss_params(params):
    """The keyword arguments of the loss (``_targets`` only chooses the test data)."""
    return {k: v for k, v in params.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------------------------------
# Data and tolerances
# ---------------------------------------------------------------------------------------------------------------


def make_inputs(loss, params, rows, K, dtype, rng, *, integer_targets=False):
    """(y_true, y_pred). ``integer_targets``: y_true whose classes (argmax, or rounding for K == 1) are 0..3."""
    rows = tuple(rows)
    shape = rows + (K,)
    targets = params.get("_targets", "natural")
    if loss == "kl_divergence":
        y = rng.dirichlet(np.ones(K), rows) if K > 1 else rng.random(shape)
        y[rng.random(shape) < 0.15] = 0.0  # ỹ = ε
        p = rng.dirichlet(np.ones(K), rows) if K > 1 else rng.random(shape)
        p[rng.random(shape) < 0.1] = 0.0  # p̃ = ε: ỹ·log(ỹ/ε)
        p[rng.random(shape) < 0.05] = 1.0
    elif loss == "categorical_hinge":
        y = rng.random(shape)
        p = rng.normal(0.0, 2.0, shape)
    else:  # cosine_similarity
        y = rng.normal(0.0, 2.0, shape)
        p = rng.normal(0.0, 2.0, shape)
        if targets == "with_zero_rows":  # an all-zero vector gives 0 on both sides; never a norm in (0, ε)
            y.reshape(-1, K)[rng.random(y.size // K) < 0.2] = 0.0
            p.reshape(-1, K)[rng.random(p.size // K) < 0.2] = 0.0
    if targets == "one_hot" and K > 1:
        y = np.eye(K)[rng.integers(0, K, rows)]
    if integer_targets:
        if K == 1:
            y = rng.integers(0, 4, shape).astype(np.float64)
        else:
            y = np.eye(K)[rng.integers(0, K, rows)] * rng.uniform(0.5, 1.0, rows + (1,))
    return y.astype(dtype), p.astype(dtype)


def _atol(loss, y, p, weight_scale=1.0):
    """float32 rounding of the terms the loss adds: the absolute error Keras's float32 arithmetic may make."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    K = p.shape[-1]
    m = float(np.max(np.abs(y), initial=0.0)) + float(np.max(np.abs(p), initial=0.0))
    if loss == "kl_divergence":
        scale = K * (1.0 + abs(np.log(1e-7)))  # ỹ <= 1, |log(ỹ/p̃)| <= -log ε
    elif loss == "categorical_hinge":
        scale = K * (1.0 + m) ** 2
    else:  # cosine_similarity: unit vectors
        scale = 2.0 * K
    return 8 * EPS32 * scale * max(1.0, weight_scale)


def keras_loss(loss, params, reduction, y, p, *, sample_weight=None, mask=None):
    p = np.array(p, copy=True)  # a fresh object for the id-keyed mask table
    if mask is not None:
        set_keras_mask(p, np.asarray(mask, dtype=bool))
    obj = KERAS_CLASS[loss](reduction=reduction, **loss_params(params))
    return np.asarray(obj(y, p, sample_weight=sample_weight), dtype=np.float64)


def fastloss_value(loss, params, reduction, y, p, **kw):
    out = fastloss.LOSSES[loss](y, p, reduction=reduction, **loss_params(params), **kw)
    return np.asarray(out, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------------
# The main matrix: loss x parameters x row shape x dtype x weighting x reduction
# ---------------------------------------------------------------------------------------------------------------

SHAPES = [((7,), 4), ((5, 6), 3), ((9,), 1)]
WEIGHTINGS = ["plain", "sample_weight", "sample_weight_prefix", "mask", "mask_prefix", "mask_and_weight_prefix"]


def _matrix():
    out = []
    for loss, params in LOSS_CONFIGS:
        for rows, K in SHAPES:
            for weighting in WEIGHTINGS:
                if weighting.endswith("_prefix") and len(rows) == 1:
                    continue
                for dtype in ("float32", "float64"):
                    out.append(pytest.param(
                        loss, params, rows, K, dtype, weighting,
                        id=f"{loss}[{_config_id(params)}]-rows{'x'.join(map(str, rows))}-K{K}-{dtype}-{weighting}",
                    ))
    return out


def _weights_and_mask(weighting, rows, rng):
    """(fastloss kwargs, keras sample_weight, keras mask)"""
    N = rows[0]
    kw, sw_k, m_k = {}, None, None
    if "weight" in weighting:
        shape = (N,) if weighting.endswith("_prefix") else rows
        sw = rng.uniform(0.1, 3.0, shape)
        sw[rng.random(shape) < 0.3] = 0.0
        kw["sample_weight"] = sw
        sw_k = np.broadcast_to(sw.reshape(sw.shape + (1,) * (len(rows) - sw.ndim)), rows).copy()
    if "mask" in weighting:
        shape = (N,) if weighting.endswith("_prefix") else rows
        m = rng.random(shape) < 0.7
        m.flat[0] = True
        kw["mask"] = m
        m_k = np.broadcast_to(m.reshape(m.shape + (1,) * (len(rows) - m.ndim)), rows).copy()
    return kw, sw_k, m_k


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, params, rows, K, dtype, weighting", _matrix())
def test_matches_keras_loss_object(loss, params, rows, K, dtype, weighting, reduction):
    rng = np.random.default_rng(zlib.crc32(repr((loss, params, rows, K, dtype, weighting)).encode()))
    y, p = make_inputs(loss, params, rows, K, dtype, rng)
    kw, sw_k, m_k = _weights_and_mask(weighting, rows, rng)
    expected = keras_loss(loss, params, reduction, y, p, sample_weight=sw_k, mask=m_k)
    actual = fastloss_value(loss, params, reduction, y, p, **kw)
    if reduction == "none":
        assert actual.shape == tuple(rows)
    weight_scale = float(np.max(sw_k)) if sw_k is not None else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, y, p, weight_scale))


@pytest.mark.parametrize("loss, params", LOSS_CONFIGS, ids=_config_id)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_per_row_values_match_keras_function(loss, params, dtype):
    """Unweighted per-row values are Keras's functional losses (keras.losses.<name>), a 1-D input (one row) too."""
    rng = np.random.default_rng(11)
    for rows, K in [((13,), 5), ((4, 3, 2), 3), ((6,), 1), ((), 6)]:
        y, p = make_inputs(loss, params, rows, K, dtype, rng)
        expected = np.asarray(KERAS_FUNCTION[loss](y, p, **loss_params(params)), dtype=np.float64)
        if loss == "cosine_similarity" and rows == ():
            # Keras quirk: normalize's NumPy branch turns a 1-D x into (1, K) (np.atleast_1d on the norm, then
            # x / expand_dims(norm, -1)), so Keras returns shape (1,) for one row; the value is the same.
            assert expected.shape == (1,)
            expected = expected.reshape(())
        actual = fastloss_value(loss, params, "none", y, p)
        assert actual.shape == expected.shape == tuple(rows)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, y, p))


# ---------------------------------------------------------------------------------------------------------------
# class_weight: Keras 3's data-adapter rule (argmax of y_true for K > 1, rounding for K == 1)
# ---------------------------------------------------------------------------------------------------------------

CW_DICT = {0: 0.5, 1: 2.0, 2: 0.0, 3: 1.25, 4: 0.75}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("K", [1, 4])
@pytest.mark.parametrize("loss, params", LOSS_CONFIGS[::2], ids=_config_id)
def test_class_weight_matches_keras_data_adapter(loss, params, K, reduction, dtype):
    rng = np.random.default_rng(zlib.crc32(repr((loss, params, K, dtype)).encode()))
    y, p = make_inputs(loss, params, (30,), K, dtype, rng, integer_targets=True)
    keras_sw = class_weight_to_sample_weights(y, CW_DICT)
    assert keras_sw.shape == (30,)
    expected = keras_loss(loss, params, reduction, y, p, sample_weight=keras_sw)
    actual = fastloss_value(loss, params, reduction, y, p, class_weight=CW_DICT)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, y, p, 2.0))


# ---------------------------------------------------------------------------------------------------------------
# Boundary values
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cosine_special_vectors(dtype):
    """Parallel -> -1, opposite -> +1, orthogonal -> 0, a zero vector on either side -> 0 (Keras's NumPy branch
    divides by a norm of 1 there, fastloss multiplies by 1/ε: both give 0)."""
    y = np.array([[3.0, 4.0], [1.0, -1.0], [1.0, 0.0], [0.0, 0.0], [2.0, 3.0], [0.0, 0.0]], dtype=dtype)
    p = np.array([[6.0, 8.0], [-5.0, 5.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]], dtype=dtype)
    expected = np.asarray(keras.losses.cosine_similarity(y, p), dtype=np.float64)
    actual = fastloss_value("cosine_similarity", {}, "none", y, p)
    np.testing.assert_allclose(expected, [-1.0, 1.0, 0.0, 0.0, 0.0, 0.0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kl_zero_and_clipped_values(dtype):
    """p = 0 -> ỹ·log(ỹ/ε); y and p outside [0, 1] are clipped to [ε, 1], not rejected."""
    y = np.array([[1.0, 0.0], [0.5, 0.5], [2.0, -1.0], [0.25, 0.75]], dtype=dtype)
    p = np.array([[0.0, 1.0], [0.25, 0.75], [4.0, 0.5], [0.25, 0.75]], dtype=dtype)
    expected = np.asarray(keras.losses.kl_divergence(y, p), dtype=np.float64)
    actual = fastloss_value("kl_divergence", {}, "none", y, p)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(actual[0], -np.log(1e-7), rtol=1e-6)
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(fastloss_value("kl_divergence", {}, reduction, y, p),
                                   keras_loss("kl_divergence", {}, reduction, y, p), rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_categorical_hinge_hand_values(dtype):
    """Confident correct one-hot -> 0; wrong -> 1.25; soft target -> 2.5; negative scores -> 2 (hand-derived in
    tests/test_catalog_rows.py)."""
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], dtype=dtype)
    p = np.array([[0.0, 2.0, 0.5], [0.25, 0.5, 0.25], [1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]], dtype=dtype)
    expected = np.asarray(keras.losses.categorical_hinge(y, p), dtype=np.float64)
    np.testing.assert_allclose(expected, [0.0, 1.25, 2.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(fastloss_value("categorical_hinge", {}, "none", y, p), expected, rtol=RTOL)
