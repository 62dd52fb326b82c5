"""fastloss's Keras catalog losses (MAPE, MSLE, Huber, log-cosh, Poisson, hinge, squared hinge) against Keras 3.

Same mapping as test_keras_core.py (read its docstring): Loss objects with ``reduction`` "none", "sum",
"sum_over_batch_size" and "mean_with_sample_weight"; Keras always gets weights and masks broadcast to the row
shape, fastloss the same weights at a prefix shape where the case says so; masks ride on y_pred through
``set_keras_mask``; class weights become Keras sample weights through ``class_weight_to_sample_weights``.

Keras 3 computes in float32 whatever the input dtype, so comparisons use ``rtol=2e-6`` plus an ``atol`` from the
float32 rounding of the terms each loss adds (``_atol``). ε: Keras uses float32(1e-7) always; fastloss uses
1e-7 in the compute dtype, a relative difference of 1.2e-8, below the tolerance.

Keras's hinge rule (``convert_binary_labels_to_hinge``) looks at the whole y_true array: a mask does not change
y_true, so a non-0/1 value in an excluded row turns the 2y - 1 conversion off for every row
(``test_hinge_rule_sees_masked_rows``).
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
    "mean_absolute_percentage_error": keras.losses.MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": keras.losses.MeanSquaredLogarithmicError,
    "huber": keras.losses.Huber,
    "log_cosh": keras.losses.LogCosh,
    "poisson": keras.losses.Poisson,
    "hinge": keras.losses.Hinge,
    "squared_hinge": keras.losses.SquaredHinge,
}
KERAS_FUNCTION = {
    "mean_absolute_percentage_error": keras.losses.mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": keras.losses.mean_squared_logarithmic_error,
    "huber": keras.losses.huber,
    "log_cosh": keras.losses.log_cosh,
    "poisson": keras.losses.poisson,
    "hinge": keras.losses.hinge,
    "squared_hinge": keras.losses.squared_hinge,
}

LOSS_CONFIGS = [
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
    shape = tuple(rows) + (K,)
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
            y = np.eye(K)[rng.integers(0, K, tuple(rows))]  # one-hot 0/1: converted to ±1
    return y.astype(dtype), p.astype(dtype)


def _atol(loss, params, y, p, weight_scale=1.0):
    """float32 rounding of the terms the loss adds: the absolute error Keras's float32 arithmetic may make."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    m = float(np.max(np.abs(y), initial=0.0)) + float(np.max(np.abs(p), initial=0.0))
    if loss == "mean_absolute_percentage_error":
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
    if K == 1 and rng.random() < 0.5:
        y_f, p_f = y[..., 0], p[..., 0]  # 1-D: N rows of one value; Keras sees (N, 1)
    else:
        y_f, p_f = y, p
    kw, sw_k, m_k = _weights_and_mask(weighting, rows, rng)
    expected = keras_loss(loss, params, reduction, y, p, sample_weight=sw_k, mask=m_k)
    actual = fastloss_value(loss, params, reduction, y_f, p_f, **kw)
    if reduction == "none":
        assert actual.shape == tuple(rows)
    weight_scale = float(np.max(sw_k)) if sw_k is not None else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, params, y, p, weight_scale))


@pytest.mark.parametrize("loss, params", LOSS_CONFIGS, ids=_config_id)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_per_row_values_match_keras_function(loss, params, dtype):
    """Unweighted per-row values are Keras's functional losses (keras.losses.<name>)."""
    rng = np.random.default_rng(11)
    for rows, K in [((13,), 5), ((4, 3, 2), 3), ((6,), 1)]:
        y, p = make_inputs(loss, params, rows, K, dtype, rng)
        expected = np.asarray(KERAS_FUNCTION[loss](y, p, **loss_params(params)), dtype=np.float64)
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
@pytest.mark.parametrize("loss, params", LOSS_CONFIGS[:8], ids=_config_id)
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
