"""fastloss's focal losses and generalized crossentropy against Keras 3 (BinaryFocalCrossentropy,
CategoricalFocalCrossentropy, CategoricalGeneralizedCrossEntropy).

Same mapping as test_keras_catalog.py: Keras Loss objects with ``reduction`` "none", "sum", "sum_over_batch_size"
and "mean_with_sample_weight"; Keras gets weights and masks broadcast to the row shape, fastloss the same weights
at a prefix shape where the case says so; masks ride on y_pred through ``set_keras_mask``; class weights become
Keras sample weights through ``class_weight_to_sample_weights``.

Keras 3 computes in float32 whatever the input dtype, so comparisons use ``rtol=2e-6`` plus an ``atol`` from the
float32 rounding of the terms (about 8 ulp of the largest term, ``_atol``). Two float32 effects are kept out of
the float64 cases, where fastloss computes the exact value:

* the upper clip bound: Keras clips at float32(1 - 1e-7) = 1 - 1.19e-7, fastloss at 1 - 1e-7 in float64, so a
  float64 prediction of exactly 1 costs 15.94 in Keras and 16.12 in fastloss (test_saturation_float32 checks
  that both agree when the input is float32);
* Keras's float32 sigmoid: 1 - σ(z) loses its relative precision for z above a few units, so the float64 logits
  stay within |z| <= 3; saturated logits (|z| >= 20, where both sides clip) are checked in float32.
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
    REDUCTIONS,
    RTOL,
    check_loss_object,
    config_id,
    fastloss_value,
    keras_loss,
    loss_object_matrix,
)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:keras.*", "ignore::SyntaxWarning")

# alpha="columns": one alpha per column of the last axis (Keras broadcasts an array alpha along it)
CONFIGS = [
    ("binary_focal_crossentropy", {}),
    ("binary_focal_crossentropy", {"apply_class_balancing": True}),
    ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": 0.7, "gamma": 0.5, "label_smoothing": 0.2}),
    ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": "columns", "gamma": 3.0}),
    ("binary_focal_crossentropy", {"from_logits": True}),
    ("binary_focal_crossentropy", {"from_logits": True, "apply_class_balancing": True, "label_smoothing": 0.1}),
    ("categorical_focal_crossentropy", {}),
    ("categorical_focal_crossentropy", {"alpha": 0.5, "gamma": 0.0, "label_smoothing": 0.1}),
    ("categorical_focal_crossentropy", {"alpha": "columns", "gamma": 1.5}),
    ("categorical_focal_crossentropy", {"from_logits": True}),
    ("categorical_focal_crossentropy", {"from_logits": True, "alpha": "columns", "label_smoothing": 0.2}),
    ("categorical_generalized_cross_entropy", {}),
    ("categorical_generalized_cross_entropy", {"q": 0.1}),
    ("categorical_generalized_cross_entropy", {"q": 0.9}),
]


def make_inputs(loss, options, rows, K, dtype, rng):
    """(y_true, y_pred, options with alpha drawn), kept away from the float32 effects of the module docstring."""
    shape = tuple(rows) + (K,)
    if options.get("from_logits"):
        p = np.clip(rng.normal(0.0, 1.5, shape), -3.0, 3.0)
    elif loss == "categorical_generalized_cross_entropy":
        p = rng.dirichlet(np.ones(K), tuple(rows))
    else:
        p = rng.uniform(0.0, 0.999, shape)
        p[rng.random(shape) < 0.1] = 0.0  # clipped at the lower bound: the same ε on both sides
    if loss == "binary_focal_crossentropy":
        y = rng.integers(0, 2, shape).astype(np.float64)
        soft = rng.random(shape) < 0.2
        y[soft] = rng.random(int(soft.sum()))
    elif loss == "categorical_focal_crossentropy":
        y = np.eye(K)[rng.integers(0, K, tuple(rows))]
        soft = rng.random(tuple(rows)) < 0.3
        y[soft] = 0.7 * y[soft] + 0.3 / K
    else:
        y = rng.integers(0, K, tuple(rows))
    if options.get("alpha") == "columns":
        hi = 1.0 if loss == "binary_focal_crossentropy" else 3.0
        options = {**options, "alpha": rng.uniform(0.0, hi, K)}
    y = y if loss == "categorical_generalized_cross_entropy" else y.astype(dtype)
    return y, p.astype(dtype), options


def _atol(options, weight_scale=1.0, loss=None):
    """8 float32 ulp of the largest term: -log(ε) = 16.1 for a clipped crossentropy, times α and the weights;
    the generalized crossentropy's terms are at most 1/q."""
    if loss == "categorical_generalized_cross_entropy":
        term = 1.0 / options.get("q", 0.5)
    else:
        alpha = np.max(np.atleast_1d(options.get("alpha", 1.0)))
        term = 16.2 * max(1.0, float(alpha))
    return 8 * EPS32 * term * max(1.0, weight_scale)


# ---------------------------------------------------------------------------------------------------------------
# The main matrix: configuration x row shape x dtype x weighting x reduction
# ---------------------------------------------------------------------------------------------------------------

SHAPES = [((11,), 3), ((4, 5), 4), ((9,), 2)]
WEIGHTINGS = ["plain", "sample_weight", "sample_weight_prefix", "mask", "mask_and_weight_prefix"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, options, rows, K, dtype, weighting",
                         loss_object_matrix(CONFIGS, shapes=SHAPES, weightings=WEIGHTINGS))
def test_matches_keras_loss_object(loss, options, rows, K, dtype, weighting, reduction):
    check_loss_object(loss, options, rows, K, dtype, weighting, reduction, make_inputs=make_inputs,
                      atol=lambda loss, options, y, p, weight_scale: _atol(options, weight_scale, loss),
                      elementwise=False)


@pytest.mark.parametrize("loss, options", CONFIGS, ids=config_id)
def test_per_row_values_match_keras_function(loss, options):
    """Unweighted per-row values are Keras's functional losses (keras.losses.<name>)."""
    rng = np.random.default_rng(11)
    y, p, options = make_inputs(loss, options, (3, 4, 2), 5, "float32", rng)
    function = getattr(keras.losses, loss)
    if loss == "categorical_generalized_cross_entropy":
        expected = function(y, p, q=options.get("q", 0.5))
    else:
        expected = function(y, p, **options)
    actual = fastloss_value(loss, options, "none", y, p)
    assert actual.shape == (3, 4, 2)
    np.testing.assert_allclose(actual, np.asarray(expected, dtype=np.float64), rtol=RTOL, atol=_atol(options, 1.0,
                                                                                                     loss))


# ---------------------------------------------------------------------------------------------------------------
# class_weight: Keras 3's data-adapter rule (argmax of a one-hot y_true, the integer label for sparse ones)
# ---------------------------------------------------------------------------------------------------------------

CW_DICT = {0: 0.5, 1: 2.0, 2: 0.0, 3: 1.25}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, options", [c for c in CONFIGS if c[0] != "binary_focal_crossentropy"],
                         ids=config_id)
def test_class_weight_matches_keras_data_adapter(loss, options, reduction):
    rng = np.random.default_rng(zlib.crc32(repr((loss, options)).encode()))
    y, p, options = make_inputs(loss, options, (30,), 4, "float32", rng)
    keras_sw = class_weight_to_sample_weights(y, CW_DICT)
    assert keras_sw.shape == (30,)
    expected = keras_loss(loss, options, reduction, y, p, sample_weight=keras_sw)
    actual = fastloss_value(loss, options, reduction, y, p, class_weight=CW_DICT)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(options, 2.0, loss))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_focal_class_weight_one_column(reduction):
    """K == 1 binary targets: the data adapter reads the rounded label."""
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, (25, 1)).astype(np.float32)
    p = rng.uniform(0.0, 0.999, (25, 1)).astype(np.float32)
    cw = {0: 0.25, 1: 3.0}
    options = {"apply_class_balancing": True}
    expected = keras_loss("binary_focal_crossentropy", options, reduction, y, p,
                          sample_weight=class_weight_to_sample_weights(y, cw))
    actual = fastloss_value("binary_focal_crossentropy", options, reduction, y, p, class_weight=cw)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(options, 3.0))


# ---------------------------------------------------------------------------------------------------------------
# Boundary values, float32 on both sides
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"apply_class_balancing": True, "label_smoothing": 0.1}], ids=str)
def test_saturation_float32(options):
    """p exactly 0 and 1, and saturated logits: Keras clips the sigmoid's output (numpy backend), so |z| = 30
    costs -log(ε) = 16.118 or -log(1 - (1 - ε)) = 15.942 in float32, like fastloss; the focal factor uses the
    unclipped p."""
    y = np.array([[0.0, 1.0, 0.0, 1.0]], np.float32).repeat(2, axis=0)
    p = np.array([[0.0, 0.0, 1.0, 1.0], [1e-9, 0.5, 0.999999, 1.0]], np.float32)
    z = np.array([[-30.0, -30.0, 30.0, 30.0], [-100.0, 0.0, 20.0, 100.0]], np.float32)
    for from_logits, x in ((False, p), (True, z)):
        kw = {**options, "from_logits": from_logits}
        for reduction in REDUCTIONS:
            expected = keras_loss("binary_focal_crossentropy", kw, reduction, y, x)
            actual = fastloss_value("binary_focal_crossentropy", kw, reduction, y, x)
            np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(kw))
    expected = keras_loss("binary_focal_crossentropy", {"gamma": 0.0}, "none", y[:1, :], p[:1, :])
    np.testing.assert_allclose(expected, [(16.118095 + 15.942385) / 4], rtol=1e-6)  # y=0,p=0 and y=1,p=1: ~0


def test_categorical_focal_logits_far_apart_float32():
    """Keras takes the softmax and clips it: a logit 40 below the others gives q = ε, not e^-40."""
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    z = np.array([[-40.0, 0.0, 0.0], [0.0, 60.0, -60.0]], np.float32)
    for reduction in REDUCTIONS:
        expected = keras_loss("categorical_focal_crossentropy", {"from_logits": True}, reduction, y, z)
        actual = fastloss_value("categorical_focal_crossentropy", {"from_logits": True}, reduction, y, z)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol({}))
    rows = keras_loss("categorical_focal_crossentropy", {"from_logits": True}, "none", y, z)
    np.testing.assert_allclose(rows[0], 0.25 * 16.118095, rtol=1e-6)


def test_generalized_cross_entropy_bounds():
    """No clipping: p_y = 0 gives 1/q and p_y = 1 gives 0 in both."""
    y = np.array([0, 1, 2])
    p = np.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5]], np.float32)
    for q in (0.25, 0.5):
        expected = keras_loss("categorical_generalized_cross_entropy", {"q": q}, "none", y, p)
        actual = fastloss_value("categorical_generalized_cross_entropy", {"q": q}, "none", y, p)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-7)
        np.testing.assert_allclose(actual[:2], [1 / q, 0.0], rtol=1e-7)


def test_alpha_ignored_without_class_balancing():
    """Keras's BinaryFocalCrossentropy uses alpha only with apply_class_balancing=True; so does fastloss."""
    rng = np.random.default_rng(13)
    y, p, _ = make_inputs("binary_focal_crossentropy", {}, (10,), 3, "float32", rng)
    for alpha in (0.1, np.array([0.2, 0.5, 0.9])):
        expected = keras_loss("binary_focal_crossentropy", {"alpha": alpha}, "none", y, p)
        actual = fastloss_value("binary_focal_crossentropy", {"alpha": alpha}, "none", y, p)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol({}))
        np.testing.assert_array_equal(actual, fastloss_value("binary_focal_crossentropy", {}, "none", y, p))
