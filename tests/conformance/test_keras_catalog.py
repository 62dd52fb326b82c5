"""fastloss's Keras catalog losses against Keras 3: the elementwise ones (MAPE, MSLE, Huber, log-cosh, Poisson,
hinge, squared hinge) and the row losses (KL divergence, categorical hinge, cosine similarity).

Same mapping as test_keras_core.py (read its docstring; the code is tests/keras_reference.py): Loss objects with
``reduction`` "none", "sum", "sum_over_batch_size" and "mean_with_sample_weight"; Keras always gets weights and
masks broadcast to the row shape, fastloss the same weights at a prefix shape where the case says so; masks ride on
y_pred through ``set_keras_mask``; class weights become Keras sample weights through
``class_weight_to_sample_weights``.

The elementwise losses average K values per row (a 1-D y_pred is N rows of one value); the row losses reduce a
whole row of K values (rows = ``y_pred.shape[:-1]``, a 1-D y_pred is one row), as Keras's do (``axis=-1``).

Keras 3 computes in float32 whatever the input dtype, so comparisons use ``rtol=2e-6`` plus an ``atol`` from the
float32 rounding of the terms each loss adds (``_atol``). ε: Keras uses float32(1e-7) always; fastloss uses
1e-7 in the compute dtype, a relative difference of 1.2e-8, below the tolerance.

Keras's hinge rule (``convert_binary_labels_to_hinge``) looks at the whole y_true array: a mask does not change
y_true, so a non-0/1 value in an excluded row turns the 2y - 1 conversion off for every row
(``test_hinge_rule_sees_masked_rows``).

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

from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights  # noqa: E402
from keras_reference import (  # noqa: E402
    EPS32,
    KERAS_FUNCTION,
    REDUCTIONS,
    RTOL,
    check_loss_object,
    config_id,
    fastloss_value,
    keras_loss,
    loss_object_matrix,
    loss_params,
)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:keras.*")

ELEMENTWISE_CONFIGS = [
    ("mean_absolute_percentage_error", {}),
    ("mean_squared_logarithmic_error", {}),
    ("huber", {}),
    ("huber", {"delta": 0.5}),
    ("huber", {"delta": 2.5}),
    ("log_cosh", {}),
    ("poisson", {}),
    ("hinge", {}),
    ("hinge", {"_targets": "pm1"}),
    ("hinge", {"_targets": "mixed"}),
    ("squared_hinge", {}),
    ("squared_hinge", {"_targets": "real"}),
]
ROW_CONFIGS = [
    ("kl_divergence", {}),
    ("kl_divergence", {"_targets": "one_hot"}),
    ("categorical_hinge", {}),
    ("categorical_hinge", {"_targets": "one_hot"}),
    ("cosine_similarity", {}),
    ("cosine_similarity", {"axis": -1, "_targets": "with_zero_rows"}),
]
ROW_LOSSES = ("kl_divergence", "categorical_hinge", "cosine_similarity")
LOSS_CONFIGS = ELEMENTWISE_CONFIGS + ROW_CONFIGS


# ---------------------------------------------------------------------------------------------------------------
# Data and tolerances
# ---------------------------------------------------------------------------------------------------------------


def make_inputs(loss, params, rows, K, dtype, rng, *, integer_targets=False):
    """(y_true, y_pred). ``integer_targets``: y_true whose classes (argmax, or rounding for K == 1) are 0..3."""
    make = _row_inputs if loss in ROW_LOSSES else _elementwise_inputs
    y, p = make(loss, params, tuple(rows), K, rng, integer_targets)
    return y.astype(dtype), p.astype(dtype)


def _elementwise_inputs(loss, params, rows, K, rng, integer_targets):
    shape = rows + (K,)
    if loss == "mean_absolute_percentage_error":
        # |y| >= 0.5 here (the zero target has its own test): the value stays a well-conditioned ratio
        y = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
        p = rng.normal(0.0, 2.0, shape)
    elif loss == "mean_squared_logarithmic_error":
        y = rng.normal(1.0, 2.0, shape)  # about 30% negative: floored at ε on both sides
        p = rng.normal(1.0, 2.0, shape)
    elif loss == "huber":
        y = rng.normal(0.0, 2.0, shape)
        p = y + rng.normal(0.0, 1.5 * params.get("delta", 1.0) + 0.5, shape)
    elif loss == "log_cosh":
        y = rng.normal(0.0, 2.0, shape)
        p = rng.normal(0.0, 3.0, shape)
        p[rng.random(shape) < 0.1] = 40.0  # |x| large: x - log 2 without overflow
    elif loss == "poisson":
        y = rng.integers(0, 6, shape).astype(np.float64)
        p = rng.uniform(0.0, 5.0, shape)
        p[rng.random(shape) < 0.1] = 0.0  # -y·log(ε)
    else:  # hinge, squared_hinge
        targets = params.get("_targets", "binary01")
        if targets == "binary01":
            y = rng.integers(0, 2, shape).astype(np.float64)
        elif targets == "pm1":
            y = rng.choice([-1.0, 1.0], shape)
        elif targets == "mixed":
            y = rng.choice([-1.0, 0.0, 1.0], shape)
        else:
            y = rng.normal(0.0, 1.5, shape)
        p = rng.normal(0.0, 1.5, shape)
    if integer_targets:
        if K == 1:
            hi = 2 if loss in ("hinge", "squared_hinge") else 4
            y = rng.integers(0, hi, shape).astype(np.float64)
            if loss == "mean_absolute_percentage_error":
                y = y + 1.0  # classes 1..4, away from the zero target
            if loss == "huber":
                p = y + rng.normal(0.0, 1.5, shape)
        elif loss in ("hinge", "squared_hinge"):
            y = np.eye(K)[rng.integers(0, K, rows)]  # one-hot 0/1: converted to ±1
    return y, p


def _row_inputs(loss, params, rows, K, rng, integer_targets):
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
    return y, p


def _atol(loss, params, y, p, weight_scale=1.0):
    """float32 rounding of the terms the loss adds: the absolute error Keras's float32 arithmetic may make."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    K = p.shape[-1]
    m = float(np.max(np.abs(y), initial=0.0)) + float(np.max(np.abs(p), initial=0.0))
    if loss == "kl_divergence":
        scale = K * (1.0 + abs(np.log(1e-7)))  # ỹ <= 1, |log(ỹ/p̃)| <= -log ε
    elif loss == "categorical_hinge":
        scale = K * (1.0 + m) ** 2
    elif loss == "cosine_similarity":  # unit vectors
        scale = 2.0 * K
    elif loss == "mean_absolute_percentage_error":
        scale = 100.0 * float(np.max((np.abs(y) + np.abs(p)) / np.maximum(np.abs(y), 1e-7), initial=0.0))
    elif loss == "mean_squared_logarithmic_error":
        scale = (1.0 + np.log1p(max(m, 0.0))) ** 2
    elif loss == "huber":
        scale = (1.0 + m) ** 2 * max(1.0, params.get("delta", 1.0))
    elif loss == "log_cosh":
        scale = 1.0 + m
    elif loss == "poisson":
        scale = 1.0 + m * (1.0 + abs(np.log(1e-7)))
    elif loss == "hinge":
        scale = (1.0 + m) ** 2
    else:  # squared_hinge
        scale = (1.0 + m) ** 4
    return 8 * EPS32 * scale * max(1.0, weight_scale)


# ---------------------------------------------------------------------------------------------------------------
# The main matrix: loss x parameters x row shape x dtype x weighting x reduction
# ---------------------------------------------------------------------------------------------------------------



@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, params, rows, K, dtype, weighting", loss_object_matrix(LOSS_CONFIGS))
def test_matches_keras_loss_object(loss, params, rows, K, dtype, weighting, reduction):
    check_loss_object(loss, params, rows, K, dtype, weighting, reduction, make_inputs=make_inputs, atol=_atol,
                      elementwise=loss not in ROW_LOSSES)


@pytest.mark.parametrize("loss, params", LOSS_CONFIGS, ids=config_id)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_per_row_values_match_keras_function(loss, params, dtype):
    """Unweighted per-row values are Keras's functional losses (keras.losses.<name>); for the row losses a 1-D
    input (one row) too."""
    rng = np.random.default_rng(11)
    shapes = [((13,), 5), ((4, 3, 2), 3), ((6,), 1)] + ([((), 6)] if loss in ROW_LOSSES else [])
    for rows, K in shapes:
        y, p = make_inputs(loss, params, rows, K, dtype, rng)
        expected = np.asarray(KERAS_FUNCTION[loss](y, p, **loss_params(params)), dtype=np.float64)
        if loss == "cosine_similarity" and rows == ():
            # Keras quirk: normalize's NumPy branch turns a 1-D x into (1, K) (np.atleast_1d on the norm, then
            # x / expand_dims(norm, -1)), so Keras returns shape (1,) for one row; the value is the same.
            assert expected.shape == (1,)
            expected = expected.reshape(())
        actual = fastloss_value(loss, params, "none", y, p)
        assert actual.shape == expected.shape == tuple(rows)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, params, y, p))


# ---------------------------------------------------------------------------------------------------------------
# class_weight: Keras 3's data-adapter rule (argmax of y_true for K > 1, rounding for K == 1)
# ---------------------------------------------------------------------------------------------------------------

CW_DICT = {0: 0.5, 1: 2.0, 2: 0.0, 3: 1.25, 4: 0.75}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("K", [1, 4])
@pytest.mark.parametrize("loss, params", ELEMENTWISE_CONFIGS[:8] + ROW_CONFIGS[::2], ids=config_id)
def test_class_weight_matches_keras_data_adapter(loss, params, K, reduction, dtype):
    rng = np.random.default_rng(zlib.crc32(repr((loss, params, K, dtype)).encode()))
    y, p = make_inputs(loss, params, (30,), K, dtype, rng, integer_targets=True)
    keras_sw = class_weight_to_sample_weights(y, CW_DICT)
    assert keras_sw.shape == (30,)
    expected = keras_loss(loss, params, reduction, y, p, sample_weight=keras_sw)
    actual = fastloss_value(loss, params, reduction, y, p, class_weight=CW_DICT)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, params, y, p, 2.0))


# ---------------------------------------------------------------------------------------------------------------
# Boundary values, Keras's float32 arithmetic on both sides
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mape_zero_targets(reduction):
    """y = 0: 100·|p| / max(0, ε) = 100·|p| / float32(1e-7), about 1e9·|p|; relative agreement only."""
    rng = np.random.default_rng(2)
    y = rng.uniform(0.5, 2.0, (20, 3)).astype(np.float32)
    y[rng.random(y.shape) < 0.3] = 0.0
    p = rng.normal(0.0, 2.0, y.shape).astype(np.float32)
    sw = rng.uniform(0.0, 2.0, 20)
    expected = keras_loss("mean_absolute_percentage_error", {}, reduction, y, p, sample_weight=sw)
    actual = fastloss_value("mean_absolute_percentage_error", {}, reduction, y, p, sample_weight=sw)
    assert np.max(expected) > 1e8
    np.testing.assert_allclose(actual, expected, rtol=RTOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_cosh_large_and_zero(dtype):
    x = np.array([[0.0], [1e4], [-1e4], [40.0], [-40.0], [1e-3]], dtype=dtype)
    y = np.zeros_like(x)
    expected = np.asarray(keras.losses.log_cosh(y, x), dtype=np.float64)
    actual = fastloss_value("log_cosh", {}, "none", y, x)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-7)
    np.testing.assert_allclose(actual[:3], [0.0, 1e4 - np.log(2), 1e4 - np.log(2)], rtol=1e-7)


@pytest.mark.parametrize("delta", [0.0, 0.5, 1.0, 3.0])
def test_huber_at_the_delta_boundary(delta):
    """|e| exactly δ, just below and just above: both branches meet at ½δ²."""
    e = np.array([0.0, delta, -delta, delta * 0.999, delta * 1.001, 5.0, -7.0], dtype=np.float32)
    y = np.linspace(-1, 1, e.size).astype(np.float32)
    p = (y + e).astype(np.float32)
    y, p = y[:, None], p[:, None]
    for reduction in REDUCTIONS:
        expected = keras_loss("huber", {"delta": delta}, reduction, y, p)
        actual = fastloss_value("huber", {"delta": delta}, reduction, y, p)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol("huber", {"delta": delta}, y, p))


def test_poisson_zero_prediction():
    """p = 0: 0 - y·log(ε) = 16.118·y."""
    y = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    p = np.zeros_like(y)
    expected = np.asarray(keras.losses.poisson(y, p), dtype=np.float64)
    actual = fastloss_value("poisson", {}, "none", y, p)
    np.testing.assert_allclose(expected, [0.0, 16.118095, 48.354286], rtol=1e-6)
    np.testing.assert_allclose(actual, expected, rtol=RTOL)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_hinge_batch_rule(loss):
    """{0, 1} -> 2y - 1; {-1, 1} as given; a mixed {0, 1, -1} batch keeps its 0s."""
    p = np.array([[0.5], [0.5], [0.5]], dtype=np.float32)
    for y in ([[0.0], [1.0], [1.0]], [[-1.0], [1.0], [1.0]], [[0.0], [1.0], [-1.0]]):
        y = np.asarray(y, dtype=np.float32)
        for reduction in REDUCTIONS:
            np.testing.assert_allclose(fastloss_value(loss, {}, reduction, y, p),
                                       keras_loss(loss, {}, reduction, y, p), rtol=RTOL)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_hinge_rule_masked_rows_deliberate_difference(loss):
    """Keras applies the 0/1 rule to the whole y_true, masked positions too; fastloss reads included rows only, so
    that an excluded row never changes the result (README: Losses). Included rows hold 0/1, the excluded row -1
    (padding): Keras does not convert (row 0 = max(1 - 0, 0) = 1), fastloss does (row 0 = 1.5; squared 2.25).
    With the padding row set to a 0/1 value, both convert and agree."""
    y = np.array([[0.0], [1.0], [-1.0]], dtype=np.float32)
    p = np.full((3, 1), 0.5, dtype=np.float32)
    mask = np.array([True, True, False])
    keras_rows = keras_loss(loss, {}, "none", y, p, mask=mask)
    np.testing.assert_allclose(keras_rows, [1.0, 0.5 if loss == "hinge" else 0.25, 0.0], rtol=1e-7)
    np.testing.assert_allclose(fastloss_value(loss, {}, "none", y, p, mask=mask),
                               [1.5 if loss == "hinge" else 2.25, 0.5 if loss == "hinge" else 0.25, 0.0], rtol=1e-7)
    y[2] = 1.0
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(fastloss_value(loss, {}, reduction, y, p, mask=mask),
                                   keras_loss(loss, {}, reduction, y, p, mask=mask), rtol=RTOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_msle_negative_values_floored(dtype):
    y = np.array([[-5.0, 0.0, 3.0], [1e-9, -1.0, 2.0]], dtype=dtype)
    p = np.array([[0.0, -2.0, 1.0], [-3.0, 1e-9, 2.0]], dtype=dtype)
    expected = np.asarray(keras.losses.mean_squared_logarithmic_error(y, p), dtype=np.float64)
    actual = fastloss_value("mean_squared_logarithmic_error", {}, "none", y, p)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(actual, [np.log(2) ** 2 / 3, 0.0], rtol=1e-6, atol=1e-12)


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
    tests/test_catalog.py)."""
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]], dtype=dtype)
    p = np.array([[0.0, 2.0, 0.5], [0.25, 0.5, 0.25], [1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]], dtype=dtype)
    expected = np.asarray(keras.losses.categorical_hinge(y, p), dtype=np.float64)
    np.testing.assert_allclose(expected, [0.0, 1.25, 2.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(fastloss_value("categorical_hinge", {}, "none", y, p), expected, rtol=RTOL)
