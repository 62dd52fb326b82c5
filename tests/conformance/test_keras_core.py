"""fastloss's five core losses against Keras 3 (numpy backend), as Keras itself computes them.

How each fastloss quantity maps to Keras 3 (Keras 3.15 `keras/src/losses/loss.py`: Loss.__call__, reduce_weighted_values):

* reduction "none"                    <-> ``keras.losses.<Class>(reduction="none")``: per-row ``l * sw``
* reduction "sum_over_batch_size"     <-> Keras's default reduction (with a mask: divided by the valid count)
* reduction "sum"                     <-> ``reduction="sum"``
* reduction "mean_with_sample_weight" <-> ``reduction="mean_with_sample_weight"``. Keras divides by the sum of
  the weight array *as given* (§3.5), which is fastloss's W only when the weights have the row shape; so Keras
  is always given weights (and masks) broadcast to the row shape, the correct way to call it. fastloss gets
  the same weights at their prefix shape ((N,) on rows (N, T)), which it reads as per-sample weights.
* masks: Keras reads ``y_pred._keras_mask``. A NumPy array cannot carry that attribute, so the mask is attached
  with ``keras.src.backend.common.masking.set_keras_mask``, which Keras falls back to for such arrays (a table
  keyed by ``id``; ``Loss.__call__`` reads it with ``get_keras_mask``), before any conversion.
* class_weight: ``keras.src.trainers.data_adapters.data_adapter_utils.class_weight_to_sample_weights``, the
  rule ``Model.fit`` uses (§3.7), turns the labels into per-sample weights.

Keras 3 computes in float32 whatever the input dtype (§3.5), so the tolerance is float32's: ``rtol=2e-6`` plus
an ``atol`` from the float32 rounding of the inputs' scale (``_atol``). fastloss keeps float64 inputs in
float64; the comparison then measures Keras's float32 error.

Deliberate differences, each pinned by a test below rather than avoided silently:

* ``from_logits=True`` binary crossentropy: the numpy backend computes ``sigmoid(z)`` in float32, clips it
  to [1e-7, 1 - 1e-7] and takes logs. Its error grows like ``eps32 * exp(|z|)`` (0.15 absolute at |z| = 15)
  and the value saturates at -log(1e-7) = 16.118 for |z| >~ 16. fastloss uses an exact log-sigmoid. So: tight
  comparison for |z| <= 3, the float32 error bound for 3 < |z| < 15, and the saturation itself for |z| >= 17.
* Probability clipping: fastloss clips in the compute dtype (contract), Keras always in float32. For float32
  inputs the two agree, including probabilities of exactly 0 and 1; for float64 inputs with p = 1 they differ
  (16.118 against 15.942), pinned in ``test_float64_clip_bound_differs_from_keras_float32``.
"""

import os

import numpy as np
import pytest

assert os.environ.get("KERAS_BACKEND") == "numpy", "tests/conformance/conftest.py sets KERAS_BACKEND first"

keras = pytest.importorskip("keras")

import fastloss  # noqa: E402
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
)

# Keras's own arithmetic warns on its way to a correct result (0/0 in rows it then zeroes, exp overflow
# before clipping, divide_no_nan's division by zero); those warnings are not fastloss's.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:keras.*")

def test_keras_is_keras3_on_numpy_backend():
    assert int(keras.__version__.split(".")[0]) >= 3
    assert keras.backend.backend() == "numpy"
    assert keras.backend.floatx() == "float32"
    assert keras.backend.epsilon() == pytest.approx(1e-7)


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------

LOGIT_TIGHT = 3.0  # |z| bound of the tight logit comparisons (see the module docstring)


def make_inputs(loss, params, rows, K, dtype, rng, *, extremes=False):
    """(y_true, y_pred) for one loss. Probabilities stay away from the clip bounds unless ``extremes``."""
    shape = tuple(rows) + (K,)
    logits = params.get("from_logits", False)
    if loss in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"):
        if logits:
            scale = LOGIT_TIGHT if loss == "binary_crossentropy" else 6.0
            p = rng.uniform(-scale, scale, shape)
        elif loss == "binary_crossentropy":
            p = rng.uniform(0.01, 0.99, shape)
        else:
            # unnormalised rows (Keras and fastloss divide by the row sum), row sums from ~0.02 to ~K, every
            # value in [0, 1] (the contract rejects probabilities outside it; see test_probabilities_above_one)
            p = rng.uniform(0.02, 1.0, shape) * rng.uniform(0.05, 1.0, tuple(rows) + (1,))
        if extremes:
            assert not logits
            flat = p.reshape(-1, K)
            pick = rng.random(flat.shape) < 0.3
            flat[pick] = rng.choice([0.0, 1.0], int(pick.sum()))
            if loss != "binary_crossentropy":
                # no all-zero row (0/0 is not a distribution), and some exactly one-hot predictions
                flat[flat.sum(axis=1) == 0, 0] = 1.0
                onehot = rng.random(flat.shape[0]) < 0.3
                flat[onehot] = np.eye(K)[rng.integers(0, K, int(onehot.sum()))]
    else:
        p = rng.normal(0.0, 2.0, shape)

    if loss == "binary_crossentropy":
        y = rng.integers(0, 2, shape).astype(np.float64)
        soft = rng.random(shape) < 0.25
        y[soft] = rng.random(int(soft.sum()))
    elif loss == "categorical_crossentropy":
        y = np.eye(K)[rng.integers(0, K, tuple(rows))]
        soft = rng.random(tuple(rows)) < 0.25  # some soft target distributions
        if soft.any():
            y[soft] = rng.dirichlet(np.ones(K), int(soft.sum()))
    elif loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, K, tuple(rows))
        ignore = params.get("ignore_class")
        if ignore is not None:
            y[rng.random(tuple(rows)) < 0.3] = ignore
    else:
        y = rng.normal(0.0, 2.0, shape)
    p = p.astype(dtype)
    if loss != "sparse_categorical_crossentropy":
        y = y.astype(dtype)
    return y, p


def _atol(loss, params, y, p, weight_scale=1.0):
    """float32 rounding of the inputs' scale: the absolute error Keras's float32 arithmetic may make."""
    if params.get("from_logits"):
        scale = 1.0 + float(np.max(np.abs(p), initial=0.0))
    elif loss == "mean_squared_error":
        scale = max(1.0, float(np.max(np.abs(y), initial=0)), float(np.max(np.abs(p), initial=0))) ** 2
    elif loss == "mean_absolute_error":
        scale = max(1.0, float(np.max(np.abs(y), initial=0)), float(np.max(np.abs(p), initial=0)))
    else:
        scale = 1.0
    return 8 * EPS32 * scale * max(1.0, weight_scale)


# ---------------------------------------------------------------------------------------------------------------
# The main matrix: loss x parameters x row shape x dtype x weighting x reduction
# ---------------------------------------------------------------------------------------------------------------

LOSS_CONFIGS = [
    ("binary_crossentropy", {}),
    ("binary_crossentropy", {"label_smoothing": 0.1}),
    ("binary_crossentropy", {"from_logits": True}),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.2}),
    ("categorical_crossentropy", {}),
    ("categorical_crossentropy", {"from_logits": True}),
    ("categorical_crossentropy", {"label_smoothing": 0.2}),
    ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("sparse_categorical_crossentropy", {}),
    ("sparse_categorical_crossentropy", {"from_logits": True}),
    ("sparse_categorical_crossentropy", {"ignore_class": 0}),  # a real class
    ("sparse_categorical_crossentropy", {"from_logits": True, "ignore_class": -1}),  # a padding label
    ("mean_squared_error", {}),
    ("mean_absolute_error", {}),
]

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "loss, params, rows, K, dtype, weighting",
    # a single class: Keras warns (CCE), and the loss is identically 0
    loss_object_matrix(LOSS_CONFIGS, accepts=lambda loss, K: K > 1 or "categorical" not in loss),
)
def test_matches_keras_loss_object(loss, params, rows, K, dtype, weighting, reduction):
    check_loss_object(loss, params, rows, K, dtype, weighting, reduction, make_inputs=make_inputs, atol=_atol,
                      elementwise=True)


@pytest.mark.parametrize("loss, params", LOSS_CONFIGS, ids=config_id)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_per_row_values_match_keras_function(loss, params, dtype):
    """fastloss's unweighted per-row values are Keras's functional losses (keras.losses.<name>)."""
    rng = np.random.default_rng(11)
    for rows, K in [((13,), 5), ((4, 3, 2), 3)]:
        y, p = make_inputs(loss, params, rows, K, dtype, rng)
        fn_params = dict(params)
        mask = None
        if "ignore_class" in fn_params:
            # the functional form zeroes the ignored rows (the Loss object also masks them)
            mask = y != fn_params["ignore_class"]
        expected = np.asarray(KERAS_FUNCTION[loss](y, p, **fn_params), dtype=np.float64)
        actual = fastloss_value(loss, params, "none", y, p)
        assert actual.shape == expected.shape == tuple(rows)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, params, y, p))
        if mask is not None:
            assert np.all(actual[~mask] == 0) and np.all(expected[~mask] == 0)


# ---------------------------------------------------------------------------------------------------------------
# Clipping: probabilities of exactly 0 and 1
# ---------------------------------------------------------------------------------------------------------------

PROB_CONFIGS = [
    ("binary_crossentropy", {}),
    ("binary_crossentropy", {"label_smoothing": 0.1}),
    ("categorical_crossentropy", {}),
    ("categorical_crossentropy", {"label_smoothing": 0.1}),
    ("sparse_categorical_crossentropy", {}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, params", PROB_CONFIGS, ids=config_id)
def test_extreme_probabilities_float32(loss, params, reduction):
    rng = np.random.default_rng(5)
    for rows, K in [((40,), 3), ((6, 5), 4), ((30,), 1)]:
        if K == 1 and loss != "binary_crossentropy":
            continue
        y, p = make_inputs(loss, params, rows, K, "float32", rng, extremes=True)
        assert np.any(p == 0) and np.any(p == 1)
        sw = rng.uniform(0.0, 2.0, rows)
        sw[rng.random(rows) < 0.2] = 0.0
        expected = keras_loss(loss, params, reduction, y, p, sample_weight=sw)
        actual = fastloss_value(loss, params, reduction, y, p, sample_weight=sw)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, params, y, p, 2.0))


def test_probabilities_above_one_documented_difference():
    """Keras renormalises any positive row, values above 1 included; fastloss's contract rejects probabilities
    outside [0, 1] with a ValueError naming y_pred."""
    y = np.array([[0.0, 1.0, 0.0]])
    p = np.array([[2.0, 6.0, 2.0]])
    keras_value = float(np.asarray(keras.losses.categorical_crossentropy(y, p))[0])
    assert keras_value == pytest.approx(-np.log(0.6), rel=RTOL)
    assert fastloss.categorical_crossentropy(y, p / 10.0, reduction="none")[0] == pytest.approx(-np.log(0.6))
    with pytest.raises(ValueError, match="y_pred"):
        fastloss.categorical_crossentropy(y, p)


def test_clip_bounds_float32_exact_values():
    """BCE(y=0, p=1) = -log(1 - float32(1 - 1e-7)) = 15.942 and BCE(y=1, p=0) = -log(float32(1e-7)) = 16.118."""
    y = np.array([[0.0], [1.0]], dtype=np.float32)
    p = np.array([[1.0], [0.0]], dtype=np.float32)
    expected = np.asarray(keras.losses.binary_crossentropy(y, p), dtype=np.float64)
    actual = fastloss.binary_crossentropy(y, p, reduction="none").astype(np.float64)
    np.testing.assert_allclose(expected, [15.942385, 16.118095], rtol=1e-6)
    np.testing.assert_allclose(actual, expected, rtol=RTOL)


def test_float64_clip_bound_differs_from_keras_float32():
    """Deliberate difference (contract: clip bounds in the compute dtype; Keras always clips in float32)."""
    y = np.array([[0.0]])
    p = np.array([[1.0]])
    keras_value = float(np.asarray(keras.losses.binary_crossentropy(y, p))[0])
    ours64 = float(fastloss.binary_crossentropy(y, p, reduction="none")[0])
    ours32 = float(fastloss.binary_crossentropy(y.astype(np.float32), p.astype(np.float32), reduction="none")[0])
    assert keras_value == pytest.approx(-np.log(1 - np.float32(1 - 1e-7)), rel=1e-6)  # 15.942
    assert ours32 == pytest.approx(keras_value, rel=RTOL)
    assert ours64 == pytest.approx(-np.log(1 - 0.9999999), rel=1e-12)  # 16.118, float64 bound
    assert abs(ours64 - keras_value) > 0.1


# ---------------------------------------------------------------------------------------------------------------
# Logit binary crossentropy beyond the tight range (numpy backend: float32 sigmoid, then clip)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_logits_moderate_range_within_keras_float32_error(dtype):
    """3 < |z| < 15: Keras's error is at most about eps32 * exp(|z|) per element (measured: 0.73x that)."""
    rng = np.random.default_rng(21)
    z = rng.uniform(3.0, 15.0, (200, 3)) * rng.choice([-1.0, 1.0], (200, 3))
    z = z.astype(dtype)
    y = rng.integers(0, 2, z.shape).astype(dtype)
    expected = np.asarray(keras.losses.binary_crossentropy(y, z, from_logits=True), dtype=np.float64)
    actual = fastloss.binary_crossentropy(y, z, from_logits=True, reduction="none").astype(np.float64)
    bound = np.mean(2 * EPS32 * (1 + np.exp(np.abs(z.astype(np.float64)))), axis=-1) + RTOL * np.abs(actual)
    assert np.all(np.abs(actual - expected) <= bound)
    # and fastloss itself is the exact value (float64 log-sigmoid)
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    exact = np.mean(np.maximum(z64, 0) - z64 * y64 + np.log1p(np.exp(-np.abs(z64))), axis=-1)
    np.testing.assert_allclose(actual, exact, rtol=1e-6 if dtype == "float32" else 1e-12)


def test_bce_logits_keras_saturates_beyond_16_documented_difference():
    """|z| >= 17: Keras (numpy backend) saturates at the clip values, -log(1 - float32(1 - 1e-7)) = 15.942 when
    the target is 0 and -log(float32(1e-7)) = 16.118 when it is 1; fastloss gives the exact loss, about |z|."""
    z = np.array([[17.0], [-17.0], [40.0], [-100.0]], dtype=np.float32)
    y = np.array([[0.0], [1.0], [0.0], [1.0]], dtype=np.float32)
    keras_value = np.asarray(keras.losses.binary_crossentropy(y, z, from_logits=True), dtype=np.float64)
    ours = fastloss.binary_crossentropy(y, z, from_logits=True, reduction="none").astype(np.float64)
    np.testing.assert_allclose(keras_value, [15.942385, 16.118095, 15.942385, 16.118095], rtol=1e-6)
    np.testing.assert_allclose(ours, [17.0, 17.0, 40.0, 100.0], rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# Edge cases where Keras 3 uses divide_no_nan (fastloss's default zero_division=0.0)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size", "mean_with_sample_weight"])
@pytest.mark.parametrize("case", ["all_weights_zero", "all_masked", "all_ignored"])
def test_zero_denominators_match_keras(case, reduction):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, (6,))
    z = rng.normal(size=(6, 3))
    params = {"from_logits": True}
    kw, sw, mask = {}, None, None
    if case == "all_weights_zero":
        sw = np.zeros(6)
        kw["sample_weight"] = sw
    elif case == "all_masked":
        mask = np.zeros(6, dtype=bool)
        kw["mask"] = mask
    else:
        params["ignore_class"] = 1
        y[:] = 1
    expected = keras_loss("sparse_categorical_crossentropy", params, reduction, y, z, sample_weight=sw, mask=mask)
    actual = fastloss_value("sparse_categorical_crossentropy", params, reduction, y, z, **kw)
    assert float(expected) == 0.0
    assert float(actual) == 0.0


# ---------------------------------------------------------------------------------------------------------------
# Keras's weight-shape pitfalls (SEMANTICS §3.5), pinned
# ---------------------------------------------------------------------------------------------------------------


def test_n1_weights_on_timestep_rows():
    """(N, 1) weights on rows (N, T): Keras broadcasts them per sample for "sum" and its default, but its
    "mean_with_sample_weight" divides by the sum of the (N, 1) array, T times too little: T x the weighted mean.
    fastloss reads (N, 1) as per-sample weights and gives the true weighted mean."""
    rng = np.random.default_rng(8)
    N, T, K = 6, 4, 3
    y = rng.normal(size=(N, T, K)).astype(np.float32)
    p = rng.normal(size=(N, T, K)).astype(np.float32)
    w = rng.uniform(0, 2, (N, 1))
    w[1] = 0
    atol = _atol("mean_absolute_error", {}, y, p, 2.0)
    for reduction in ("sum", "sum_over_batch_size", "none"):
        np.testing.assert_allclose(
            fastloss_value("mean_absolute_error", {}, reduction, y, p, sample_weight=w),
            keras_loss("mean_absolute_error", {}, reduction, y, p, sample_weight=w),
            rtol=RTOL,
            atol=atol,
        )
    ours = fastloss_value("mean_absolute_error", {}, "mean_with_sample_weight", y, p, sample_weight=w)
    theirs = keras_loss("mean_absolute_error", {}, "mean_with_sample_weight", y, p, sample_weight=w)
    np.testing.assert_allclose(theirs, T * ours, rtol=RTOL)


# ---------------------------------------------------------------------------------------------------------------
# class_weight: Keras 3's data-adapter rule (Model.fit)
# ---------------------------------------------------------------------------------------------------------------


def _class_weight_cases():
    """(loss, params, y, p, class_weight) for every label layout Keras's rule reads."""
    rng = np.random.default_rng(17)
    N, K = 40, 4
    cases = []
    cw_dict = {0: 0.5, 1: 2.0, 2: 0.0, 3: 1.25}  # a zero class weight too
    labels = rng.integers(0, K, N)
    # (N,) sparse labels
    cases.append(("sparse-logits", "sparse_categorical_crossentropy", {"from_logits": True},
                  labels, rng.normal(0, 3, (N, K)), cw_dict))
    cases.append(("sparse-probs", "sparse_categorical_crossentropy", {},
                  labels, rng.uniform(0.05, 1, (N, K)), cw_dict))
    cases.append(("sparse-(N,1)", "sparse_categorical_crossentropy", {"from_logits": True},
                  labels[:, None], rng.normal(0, 3, (N, K)), cw_dict))
    cases.append(("sparse-array-weights", "sparse_categorical_crossentropy", {"from_logits": True},
                  labels, rng.normal(0, 3, (N, K)), np.array([0.5, 2.0, 0.0, 1.25])))
    # (N, K) one-hot targets: argmax over the last axis
    onehot = np.eye(K)[labels]
    cases.append(("onehot-cce", "categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1},
                  onehot, rng.normal(0, 3, (N, K)), cw_dict))
    cases.append(("onehot-bce", "binary_crossentropy", {}, onehot, rng.uniform(0.05, 0.95, (N, K)), cw_dict))
    cases.append(("onehot-mse", "mean_squared_error", {}, onehot, rng.normal(0, 1, (N, K)), cw_dict))
    soft = rng.dirichlet(np.ones(K), N)  # soft targets: argmax still picks the class
    cases.append(("soft-cce", "categorical_crossentropy", {}, soft, rng.uniform(0.05, 1, (N, K)), cw_dict))
    # (N, 1) binary targets: squeeze, round half to even (0.5 -> 0)
    yb = rng.choice([0.0, 1.0, 0.2, 0.5, 0.7], (N, 1))
    cw_bin = {0: 0.3, 1: 3.0}
    cases.append(("binary-(N,1)", "binary_crossentropy", {}, yb, rng.uniform(0.05, 0.95, (N, 1)), cw_bin))
    cases.append(("binary-(N,1)-logits", "binary_crossentropy", {"from_logits": True},
                  yb, rng.uniform(-3, 3, (N, 1)), cw_bin))
    cases.append(("binary-(N,)", "binary_crossentropy", {}, yb[:, 0], rng.uniform(0.05, 0.95, (N, 1)), cw_bin))
    # (N, 1) regression targets: rounded to the nearest class, halves to even (1.5 -> 2, 2.5 -> 2)
    yr = rng.choice([0.0, 1.0, 1.5, 2.5, 3.0, 0.4], (N, 1))
    cases.append(("regression-(N,1)", "mean_absolute_error", {}, yr, rng.normal(0, 2, (N, 1)), cw_dict))
    return cases


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", _class_weight_cases(), ids=lambda c: c[0])
def test_class_weight_matches_keras_data_adapter(case, reduction, dtype):
    _, loss, params, y, p, cw = case
    p = p.astype(dtype)
    if loss != "sparse_categorical_crossentropy":
        y = y.astype(dtype)
    cw_dict = cw if isinstance(cw, dict) else {i: float(v) for i, v in enumerate(cw)}
    keras_sw = class_weight_to_sample_weights(y, cw_dict)
    assert keras_sw.shape == (len(y),)
    # Keras's y_pred for a 1-D fastloss y is the (N, 1) array; fastloss takes y of either shape
    y_k = y[:, None] if y.ndim == 1 and loss != "sparse_categorical_crossentropy" else y
    expected = keras_loss(loss, params, reduction, y_k, p, sample_weight=keras_sw)
    actual = fastloss_value(loss, params, reduction, y, p, class_weight=cw)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(loss, params, y_k, p, 3.0))


@pytest.mark.parametrize("case", _class_weight_cases(), ids=lambda c: c[0])
def test_class_weight_rows_are_keras_sample_weights(case):
    """Row by row: fastloss's effective weight (weighted / unweighted per-row loss) is Keras's sample weight."""
    _, loss, params, y, p, cw = case
    cw_dict = cw if isinstance(cw, dict) else {i: float(v) for i, v in enumerate(cw)}
    keras_sw = class_weight_to_sample_weights(y, cw_dict).astype(np.float64)
    weighted = fastloss_value(loss, params, "none", y, p, class_weight=cw)
    plain = fastloss_value(loss, params, "none", y, p)
    nz = plain != 0
    assert nz.sum() >= len(y) // 2
    np.testing.assert_allclose(weighted[nz] / plain[nz], keras_sw[nz], rtol=1e-6)
    np.testing.assert_array_equal(weighted[keras_sw == 0], 0.0)
