"""fastloss.keras against the real Keras 3 (numpy backend): every loss class and function, the metric functions,
configs, signatures and the class-weight rule.

How a case is compared:

* Loss objects: Keras's class and fastloss.keras's class, built with the same arguments, called on the same
  arrays. float32 inputs run at both sides' default dtype (floatx, float32); float64 inputs run with
  ``dtype="float64"`` on both sides, so Keras's own float32 rounding stays out of the comparison (its dividing
  reductions still return float32: ``rtol`` covers that).
* Masks ride on y_pred through ``set_keras_mask`` for Keras (what ``Loss.__call__`` reads) and go to ``mask=``
  for fastloss. Weights and masks of a prefix shape ((N,) on rows (N, T)) reach Keras broadcast to the row
  shape, the correct way to call Keras; fastloss gets them at the prefix shape (a documented difference: Keras
  broadcasts (N,) against the last axis).
* Every Keras reduction, including ``"mean"`` and ``None``, for every case.
* Tolerance: ``rtol`` 4e-6 and an ``atol`` of a few float32 ulps of the reduction of |terms| (``_atol``): Keras
  accumulates in float32, fastloss in double.

The deliberate differences listed in fastloss.keras's docstring are pinned at the end of this file.
"""

import inspect
import os
import zlib

import numpy as np
import pytest

assert os.environ.get("KERAS_BACKEND") == "numpy", "tests/conformance/conftest.py sets KERAS_BACKEND first"

keras = pytest.importorskip("keras")

from keras.src.backend.common.masking import set_keras_mask  # noqa: E402
from keras.src.losses.loss import reduce_weighted_values  # noqa: E402
from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights  # noqa: E402

from fastloss.keras import losses as fk  # noqa: E402
from fastloss.keras import metrics as fm  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:keras.*", "ignore::SyntaxWarning")

EPS32 = float(np.finfo(np.float32).eps)
RTOL = 4e-6
KERAS_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


# ---------------------------------------------------------------------------------------------------------------
# Cases: class name, constructor arguments, the data they need
# ---------------------------------------------------------------------------------------------------------------

CASES = [
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "mape"),
    ("MeanSquaredLogarithmicError", {}, "msle"),
    ("CosineSimilarity", {}, "regression"),
    ("Huber", {}, "regression"),
    ("Huber", {"delta": 0.5}, "regression"),
    ("LogCosh", {}, "regression"),
    ("Hinge", {}, "binary01"),
    ("Hinge", {}, "pm1"),
    ("SquaredHinge", {}, "binary01"),
    ("CategoricalHinge", {}, "onehot_scores"),
    ("KLDivergence", {}, "distributions"),
    ("Poisson", {}, "poisson"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
    ("BinaryFocalCrossentropy", {}, "binary"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5,
                                 "label_smoothing": 0.1}, "binary"),
    ("BinaryFocalCrossentropy", {"from_logits": True}, "binary_logits"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "categorical_logits"),
    ("CategoricalFocalCrossentropy", {}, "categorical"),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 1.0, "from_logits": True}, "categorical_logits"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": -1}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 0}, "sparse"),
    ("CategoricalGeneralizedCrossEntropy", {}, "sparse_distribution"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.8}, "sparse_distribution"),
    ("Dice", {}, "overlap"),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, "overlap"),
]
SPARSE_KINDS = ("sparse", "sparse_logits", "sparse_distribution")
MULTICLASS_KINDS = ("categorical", "categorical_logits", "distributions", "onehot_scores") + SPARSE_KINDS


def _case_id(case):
    name, params, kind = case
    args = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{name}({args})[{kind}]"


def make_data(kind, rows, K, dtype, rng):
    """(y_true, y_pred) for a kind of loss, in the domain where Keras's float32 arithmetic is well-conditioned."""
    rows = tuple(rows)
    shape = rows + (K,)
    if kind == "regression":
        y, p = rng.normal(0.0, 2.0, shape), rng.normal(0.0, 2.0, shape)
    elif kind == "mape":
        y = rng.uniform(0.5, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
        p = rng.normal(0.0, 2.0, shape)
    elif kind == "msle":
        y, p = rng.normal(1.0, 2.0, shape), rng.normal(1.0, 2.0, shape)
    elif kind == "poisson":
        y, p = rng.integers(0, 6, shape).astype(np.float64), rng.uniform(0.05, 5.0, shape)
    elif kind in ("binary01", "pm1"):
        y = rng.integers(0, 2, shape).astype(np.float64)
        y = 2 * y - 1 if kind == "pm1" else y
        p = rng.normal(0.0, 1.5, shape)
    elif kind in ("binary", "binary_logits"):
        y = rng.integers(0, 2, shape).astype(np.float64)
        soft = rng.random(shape) < 0.25
        y[soft] = rng.random(int(soft.sum()))
        p = rng.uniform(-3.0, 3.0, shape) if kind == "binary_logits" else rng.uniform(0.01, 0.99, shape)
    elif kind in ("categorical", "categorical_logits", "onehot_scores", "distributions"):
        y = np.eye(K)[rng.integers(0, K, rows)]
        if kind in ("categorical", "distributions"):
            soft = rng.random(rows) < 0.3
            if soft.any():
                y[soft] = rng.dirichlet(np.ones(K), int(soft.sum()))
        if kind == "categorical_logits":
            p = rng.uniform(-4.0, 4.0, shape)
        elif kind == "onehot_scores":
            p = rng.normal(0.0, 2.0, shape)
        elif kind == "distributions":
            p = rng.dirichlet(np.ones(K), rows) if rows else rng.dirichlet(np.ones(K))
        else:
            p = rng.uniform(0.02, 1.0, shape) * rng.uniform(0.05, 1.0, rows + (1,))
    elif kind in SPARSE_KINDS:
        y = rng.integers(0, K, rows)
        if kind == "sparse_logits":
            y[rng.random(rows) < 0.3] = -1
            p = rng.uniform(-4.0, 4.0, shape)
        elif kind == "sparse_distribution":
            p = rng.dirichlet(np.ones(K), rows) if rows else rng.dirichlet(np.ones(K))
        else:
            p = rng.uniform(0.02, 1.0, shape)
    elif kind == "overlap":
        y = (rng.random(shape) < 0.4).astype(np.float64)
        p = rng.uniform(0.0, 1.0, shape)
    else:
        raise AssertionError(kind)
    p = p.astype(dtype)
    return (y if kind in SPARSE_KINDS else y.astype(dtype)), p


def _atol(terms, reduction, count, weight_sum):
    """A few float32 ulps of the same reduction applied to |terms| (the weighted per-row values)."""
    a = np.abs(np.asarray(terms, dtype=np.float64))
    if reduction in ("none", None):
        return 16 * EPS32 * (1.0 + float(np.max(a, initial=0.0)))
    total = a.sum()
    if reduction in ("sum_over_batch_size", "mean"):
        total /= max(count, 1)
    elif reduction == "mean_with_sample_weight":
        total /= weight_sum if weight_sum else 1.0
    return 16 * EPS32 * (1.0 + total)


def keras_call(name, params, reduction, y, p, dtype, *, sample_weight=None, mask=None):
    p = np.array(p, copy=True)  # a fresh object for Keras's id-keyed mask table
    if mask is not None:
        set_keras_mask(p, np.asarray(mask, dtype=bool))
    kw = {"dtype": "float64"} if dtype == "float64" else {}
    obj = getattr(keras.losses, name)(reduction=reduction, **params, **kw)
    return np.asarray(obj(y, p, sample_weight=sample_weight), dtype=np.float64)


def fastloss_call(name, params, reduction, y, p, dtype, **kw):
    ctor = {"dtype": "float64"} if dtype == "float64" else {}
    obj = getattr(fk, name)(reduction=reduction, **params, **ctor)
    out = obj(y, p, **kw)
    if reduction in ("none", None):
        assert isinstance(out, np.ndarray) and out.dtype == np.dtype(dtype)
    else:
        assert isinstance(out, np.dtype(dtype).type)
    return np.asarray(out, dtype=np.float64)


def _overlap_axis(rows):
    # Dice/Tversky: per-sample values over every axis but the first (Keras's default axis=None is tested apart)
    return tuple(range(1, len(rows) + 1))


# ---------------------------------------------------------------------------------------------------------------
# The matrix: class x shape x dtype x weighting, every Keras reduction
# ---------------------------------------------------------------------------------------------------------------

SHAPES = [((7,), 4), ((5, 6), 3), ((9,), 1)]
WEIGHTINGS = ["plain", "sample_weight", "sample_weight_prefix", "mask", "mask_prefix", "mask_and_weight_prefix"]


def _matrix():
    out = []
    for case in CASES:
        for rows, K in SHAPES:
            if K == 1 and case[2] in MULTICLASS_KINDS:
                continue
            if len(rows) > 1 and case[2] == "overlap":
                continue  # per-sample Dice/Tversky reduce every axis but the first: rows are (N,)
            for weighting in WEIGHTINGS:
                if weighting.endswith("_prefix") and len(rows) == 1:
                    continue
                for dtype in ("float32", "float64"):
                    out.append(pytest.param(case, rows, K, dtype, weighting,
                                            id=f"{_case_id(case)}-{'x'.join(map(str, rows))}x{K}-{dtype}-{weighting}"))
    return out


def _weights_and_mask(weighting, rows, rng):
    """(fastloss keyword arguments, Keras sample_weight, Keras mask)."""
    N = rows[0]
    kw, sw_keras, mask_keras = {}, None, None
    if "weight" in weighting:
        shape = (N,) if weighting.endswith("_prefix") else rows
        sw = rng.uniform(0.1, 3.0, shape)
        sw[rng.random(shape) < 0.3] = 0.0
        kw["sample_weight"] = sw
        sw_keras = np.broadcast_to(sw.reshape(sw.shape + (1,) * (len(rows) - sw.ndim)), rows).copy()
    if "mask" in weighting:
        shape = (N,) if weighting.endswith("_prefix") else rows
        m = rng.random(shape) < 0.7
        m.flat[0] = True
        kw["mask"] = m
        mask_keras = np.broadcast_to(m.reshape(m.shape + (1,) * (len(rows) - m.ndim)), rows).copy()
    return kw, sw_keras, mask_keras


@pytest.mark.parametrize("case, rows, K, dtype, weighting", _matrix())
def test_loss_class_matches_keras(case, rows, K, dtype, weighting):
    name, params, kind = case
    rng = np.random.default_rng(zlib.crc32(repr((case, rows, K, dtype, weighting)).encode()))
    y, p = make_data(kind, rows, K, dtype, rng)
    if kind == "overlap":
        # per-sample Dice/Tversky on (N, ..., K): axis over everything but the batch axis
        params = dict(params, axis=_overlap_axis(rows))
    kw, sw_keras, mask_keras = _weights_and_mask(weighting, rows, rng)
    terms = keras_call(name, params, "none", y, p, dtype, sample_weight=sw_keras, mask=mask_keras)
    count = int(mask_keras.sum()) if mask_keras is not None else terms.size
    weights = np.ones(terms.shape) if sw_keras is None else sw_keras
    weight_sum = float(np.sum(weights * (1 if mask_keras is None else mask_keras)))
    for reduction in KERAS_REDUCTIONS:
        expected = keras_call(name, params, reduction, y, p, dtype, sample_weight=sw_keras, mask=mask_keras)
        actual = fastloss_call(name, params, reduction, y, p, dtype, **kw)
        assert actual.shape == expected.shape, reduction
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=_atol(terms, reduction, count, weight_sum),
                                   err_msg=f"reduction={reduction!r}")


# ---------------------------------------------------------------------------------------------------------------
# Functions: per-sample values
# ---------------------------------------------------------------------------------------------------------------

FUNCTION_OF_CLASS = {
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "CosineSimilarity": "cosine_similarity",
    "Huber": "huber",
    "LogCosh": "log_cosh",
    "Hinge": "hinge",
    "SquaredHinge": "squared_hinge",
    "CategoricalHinge": "categorical_hinge",
    "KLDivergence": "kl_divergence",
    "Poisson": "poisson",
    "BinaryCrossentropy": "binary_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "CategoricalGeneralizedCrossEntropy": "categorical_generalized_cross_entropy",
    "Dice": "dice",
    "Tversky": "tversky",
}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_function_matches_keras(case):
    """Keras's function at its float32 default and the same function on float32 data; shapes (N,), (N, T), 1-D."""
    name, params, kind = case
    fn = FUNCTION_OF_CLASS[name]
    if name == "CategoricalGeneralizedCrossEntropy":
        params = {"q": params.get("q", 0.5)}  # q has no default in the function
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    shapes = [((11,), 5), ((3, 4, 2), 3), ((), 6)]
    if kind not in MULTICLASS_KINDS:
        shapes.append(((8,), 1))
    for rows, K in shapes:
        if not rows and (kind in SPARSE_KINDS or name == "CosineSimilarity"):
            continue  # Keras needs a batch axis for sparse labels; 1-D cosine: see test_cosine_similarity_1d
        y, p = make_data(kind, rows, K, "float32", rng)
        expected = np.asarray(getattr(keras.losses, fn)(y, p, **params), dtype=np.float64)
        actual = getattr(fk, fn)(y, p, **params)
        assert isinstance(actual, np.ndarray) and actual.dtype == np.float32
        assert actual.shape == expected.shape, (rows, K)
        atol = 32 * EPS32 * (1 + float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=atol)


@pytest.mark.parametrize("fn", ["binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
                                "categorical_focal_crossentropy", "cosine_similarity"])
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_function_axis_matches_keras(fn, axis):
    """A class axis other than the last: fastloss moves it last, Keras reduces over it in place. (Keras's
    numpy-backend cosine_similarity reads axis=0 as -1, ``axis or -1`` in its normalize: compared moved.)"""
    if fn == "cosine_similarity" and axis == 0:
        fn_keras = lambda y, p, axis: keras.losses.cosine_similarity(np.moveaxis(y, 0, -1), np.moveaxis(p, 0, -1))
    else:
        fn_keras = getattr(keras.losses, fn)
    rng = np.random.default_rng(zlib.crc32(f"{fn}{axis}".encode()))
    shape = (4, 5, 3)
    rows = tuple(d for i, d in enumerate(shape) if i != axis % 3)
    if fn.startswith("binary"):
        y, p = rng.integers(0, 2, shape).astype(np.float32), rng.uniform(0.01, 0.99, shape).astype(np.float32)
    else:
        y = np.moveaxis(np.eye(shape[axis])[rng.integers(0, shape[axis], rows)], -1, axis).astype(np.float32)
        p = rng.uniform(0.05, 1.0, shape).astype(np.float32)
    expected = np.asarray(fn_keras(y, p, axis=axis), dtype=np.float64)
    actual = getattr(fk, fn)(y, p, axis=axis)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=32 * EPS32)


@pytest.mark.parametrize("axis", [1, 0])
def test_sparse_axis_is_keras_on_the_moved_axis(axis):
    """Keras's numpy backend rejects a class axis other than the last for SCCE; fastloss gives the values Keras
    gives with that axis moved last."""
    rng = np.random.default_rng(axis)
    p = rng.uniform(0.05, 1.0, (6, 4, 5)).astype(np.float32)
    labels_shape = tuple(d for i, d in enumerate(p.shape) if i != axis)
    y = rng.integers(0, p.shape[axis], labels_shape)
    for reduction in ("none", "sum_over_batch_size"):
        expected = keras.losses.SparseCategoricalCrossentropy(reduction=reduction)(y, np.moveaxis(p, axis, -1))
        actual = fk.SparseCategoricalCrossentropy(axis=axis, reduction=reduction)(y, p)
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=32 * EPS32)


def test_cosine_similarity_1d():
    """Keras's numpy backend returns shape (1,) for 1-D inputs (np.atleast_1d in its normalize); fastloss a
    scalar, as Keras's other backends."""
    rng = np.random.default_rng(3)
    y, p = rng.normal(size=6).astype(np.float32), rng.normal(size=6).astype(np.float32)
    expected = np.asarray(keras.losses.cosine_similarity(y, p))
    assert expected.shape == (1,)
    actual = fk.cosine_similarity(y, p)
    assert actual.shape == ()
    np.testing.assert_allclose(actual, expected[0], rtol=RTOL)


@pytest.mark.parametrize("alias", ["mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "bce", "BCE",
                                   "kld", "KLD"])
def test_aliases_are_keras_aliases(alias):
    assert fk.get(alias).__name__ == keras.losses.get(alias).__name__
    assert getattr(fk, alias) is fk.get(alias)


# ---------------------------------------------------------------------------------------------------------------
# One value for the whole batch: 1-D losses reducing the last axis, Dice/Tversky with axis=None
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, params, kind", [
    ("MeanSquaredError", {}, "regression"),
    ("BinaryCrossentropy", {}, "binary"),
    ("Hinge", {}, "binary01"),
    ("Dice", {}, "overlap"),
    ("Tversky", {"alpha": 0.7, "beta": 0.3}, "overlap"),
])
@pytest.mark.parametrize("weighting", ["plain", "sample_weight", "mask", "mask_and_weight", "scalar_weight"])
def test_batch_scalar_loss_matches_keras(name, params, kind, weighting):
    """Keras multiplies the scalar loss by the weights (and mask) and reduces that array."""
    rng = np.random.default_rng(zlib.crc32(f"{name}{weighting}".encode()))
    if kind == "overlap":
        y, p = make_data(kind, (6, 5), 2, "float32", rng)
    else:
        y, p = make_data(kind, (), 9, "float32", rng)  # 1-D y_true and y_pred: Keras's loss is one value
    N = y.shape[0]
    sw = rng.uniform(0.0, 2.0, N) if "weight" in weighting else None
    if weighting == "scalar_weight":
        sw = 1.7
    m = rng.random(N) < 0.6 if "mask" in weighting else None
    for reduction in KERAS_REDUCTIONS:
        actual = fastloss_call(name, params, reduction, y, p, "float32", sample_weight=sw, mask=m)
        if kind == "overlap" and m is not None:
            # Dice/Tversky: fastloss leaves masked positions out of the batch sums (Keras's mask can only scale
            # the summed value), then reduces as Keras does: Keras's own reduction of the value of the unmasked
            # samples, with Keras's weights and mask
            value = getattr(keras.losses, name.lower())(y[m], p[m], **params)
            expected = np.asarray(reduce_weighted_values(value, sample_weight=sw, mask=m, reduction=reduction),
                                  dtype=np.float64)
        else:
            expected = keras_call(name, params, reduction, y, p, "float32", sample_weight=sw, mask=m)
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-6, err_msg=repr(reduction))


# ---------------------------------------------------------------------------------------------------------------
# Class weights: Keras 3's data-adapter rule
# ---------------------------------------------------------------------------------------------------------------

CLASS_WEIGHT = {0: 0.5, 1: 2.0, 3: 1.25}  # class 2 (and -1) missing: weight 1


@pytest.mark.parametrize("labels", ["sparse", "sparse_column", "onehot", "binary_column", "pm1", "soft"])
def test_class_weight_helper_is_keras_data_adapter(labels):
    rng = np.random.default_rng(zlib.crc32(labels.encode()))
    if labels == "sparse":
        y = rng.integers(0, 5, 40)
    elif labels == "sparse_column":
        y = rng.integers(0, 5, (40, 1)).astype(np.float32)
    elif labels == "onehot":
        y = np.eye(4)[rng.integers(0, 4, 40)]
    elif labels == "binary_column":
        y = rng.integers(0, 2, (40, 1)).astype(np.float64)
    elif labels == "pm1":
        y = rng.choice([-1.0, 1.0], 40)
    else:
        y = rng.dirichlet(np.ones(4), 40)
    expected = class_weight_to_sample_weights(y, {**CLASS_WEIGHT, -1: 3.0})
    actual = fk.class_weight_to_sample_weight(y, {**CLASS_WEIGHT, -1: 3.0})
    np.testing.assert_allclose(actual, expected, rtol=1e-7)
    if labels not in ("binary_column", "pm1"):
        assert 1.0 in expected  # class 2, missing from the dict, occurred


@pytest.mark.parametrize("name, params, kind, K", [
    ("SparseCategoricalCrossentropy", {}, "sparse", 4),
    ("CategoricalCrossentropy", {}, "categorical", 4),
    ("BinaryCrossentropy", {}, "binary", 1),
    ("Hinge", {}, "pm1", 1),
    ("MeanSquaredError", {}, "regression", 4),
])
@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS)
def test_loss_class_weight_is_keras_fit_rule(name, params, kind, K, reduction):
    """loss(class_weight=cw) == Keras's loss with the sample weights Model.fit makes from cw."""
    rng = np.random.default_rng(zlib.crc32(f"{name}{reduction}".encode()))
    y, p = make_data(kind, (30,), K, "float32", rng)
    if kind == "binary":
        y = np.round(y)
    cw = {**CLASS_WEIGHT, -1: 3.0}
    keras_sw = class_weight_to_sample_weights(y, cw)
    expected = keras_call(name, params, reduction, y, p, "float32", sample_weight=keras_sw)
    actual = fastloss_call(name, params, reduction, y, p, "float32", class_weight=cw)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# Signatures, names, configs
# ---------------------------------------------------------------------------------------------------------------

CLASS_NAMES = sorted({name for name, _, _ in CASES})
FASTLOSS_EXTRAS = ("dtype", "n_threads")  # keyword-only extras of the functions


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_class_signature_and_defaults_are_keras(name):
    ours = inspect.signature(getattr(fk, name))
    theirs = inspect.signature(getattr(keras.losses, name))
    assert [(p.name, p.default) for p in ours.parameters.values()] == \
           [(p.name, p.default) for p in theirs.parameters.values()]
    obj, ref = getattr(fk, name)(), getattr(keras.losses, name)()
    assert obj.name == ref.name and obj.reduction == ref.reduction and obj.dtype == ref.dtype


@pytest.mark.parametrize("name", sorted(FUNCTION_OF_CLASS.values()))
def test_function_signature_is_keras(name):
    ours = [(p.name, p.default) for p in inspect.signature(getattr(fk, name)).parameters.values()
            if p.name not in FASTLOSS_EXTRAS]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(keras.losses, name)).parameters.values()]
    assert ours == theirs


@pytest.mark.parametrize("name", ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                                  "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                                  "mean_squared_error", "hinge", "kl_divergence", "binary_focal_crossentropy"])
def test_metric_function_signature_is_keras(name):
    ours = [(p.name, p.default) for p in inspect.signature(getattr(fm, name)).parameters.values()
            if p.name not in FASTLOSS_EXTRAS]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(keras.metrics, name)).parameters.values()]
    assert ours == theirs


@pytest.mark.parametrize("reduction", list(fk.REDUCTIONS) + ["auto", "weighted_mean", "sum_over_all_rows",
                                                            "keras_legacy", "SUM", 0])
def test_reduction_names_are_the_ones_keras_accepts(reduction):
    try:
        keras.losses.MeanSquaredError(reduction=reduction)
    except ValueError:
        keras_accepts = False
    else:
        keras_accepts = True
    assert keras_accepts == (reduction in fk.REDUCTIONS)
    if keras_accepts:
        assert fk.MeanSquaredError(reduction=reduction).reduction == reduction
    else:
        with pytest.raises(ValueError, match="reduction"):
            fk.MeanSquaredError(reduction=reduction)


# parameters Keras's get_config drops (fastloss keeps them; see fastloss.keras's docstring)
CONFIG_EXTRAS = {"Huber": {"delta"}, "CosineSimilarity": {"axis"}, "SparseCategoricalCrossentropy": {"axis"}}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_config_is_keras_config(case):
    name, params, _ = case
    ours = getattr(fk, name)(reduction="sum", name="my_loss", **params).get_config()
    theirs = getattr(keras.losses, name)(reduction="sum", name="my_loss", **params).get_config()
    extras = CONFIG_EXTRAS.get(name, set())
    assert set(ours) - set(theirs) == extras
    assert {k: v for k, v in ours.items() if k not in extras} == theirs
    # Keras rebuilds the same loss from fastloss's config, and fastloss from Keras's
    rebuilt = getattr(keras.losses, name).from_config(ours)
    assert rebuilt.get_config() == theirs
    assert getattr(fk, name).from_config(theirs).get_config() == {**ours, **{k: getattr(fk, name)().get_config()[k]
                                                                           for k in extras}}


# ---------------------------------------------------------------------------------------------------------------
# Metric functions
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(12,), (6, 4), (3, 4, 5)])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_accuracy_matches_keras(shape, threshold):
    rng = np.random.default_rng(len(shape))
    y = rng.integers(0, 2, shape).astype(np.float32)
    p = rng.random(shape).astype(np.float32)
    p.flat[:3] = threshold  # exactly at the threshold: not above it
    expected = keras.metrics.binary_accuracy(y, p, threshold=threshold)
    actual = fm.binary_accuracy(y, p, threshold=threshold)
    assert actual.shape == expected.shape and actual.dtype == np.float32
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(fm.binary_accuracy(y[..., None], p, threshold=threshold),
                                  keras.metrics.binary_accuracy(y[..., None], p, threshold=threshold))


@pytest.mark.parametrize("rows", [(15,), (3, 5)])
def test_categorical_accuracies_match_keras(rows):
    rng = np.random.default_rng(len(rows))
    K = 7
    p = rng.random(rows + (K,)).astype(np.float32)
    p.reshape(-1, K)[0, :2] = 0.99  # a tie: Keras's argmax takes the first
    labels = rng.integers(0, K, rows)
    onehot = np.eye(K, dtype=np.float32)[labels]
    checks = [
        (fm.categorical_accuracy(onehot, p), keras.metrics.categorical_accuracy(onehot, p)),
        (fm.sparse_categorical_accuracy(labels, p), keras.metrics.sparse_categorical_accuracy(labels, p)),
        (fm.sparse_categorical_accuracy(labels[..., None], p),
         keras.metrics.sparse_categorical_accuracy(labels[..., None], p)),
    ]
    for k in (1, 3, 5, 7, 9):  # k >= K: every row is a hit, as Keras's in_top_k
        checks.append((fm.top_k_categorical_accuracy(onehot, p, k=k),
                       keras.metrics.top_k_categorical_accuracy(onehot, p, k=k)))
        checks.append((fm.sparse_top_k_categorical_accuracy(labels, p, k=k),
                       keras.metrics.sparse_top_k_categorical_accuracy(labels, p, k=k)))
    ids = np.argsort(-p, axis=-1)
    checks.append((fm.sparse_top_k_categorical_accuracy(labels, ids, k=3, from_sorted_ids=True),
                   keras.metrics.sparse_top_k_categorical_accuracy(labels, ids, k=3, from_sorted_ids=True)))
    for actual, expected in checks:
        assert actual.shape == np.shape(expected) and actual.dtype == np.float32
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("name", ["mean_squared_error", "hinge", "kl_divergence", "poisson", "log_cosh",
                                  "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_loss_named_metric_functions_match_keras(name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    kind = {"hinge": "binary01", "kl_divergence": "distributions", "poisson": "poisson",
            "categorical_crossentropy": "categorical", "sparse_categorical_crossentropy": "sparse"}.get(name,
                                                                                                   "regression")
    y, p = make_data(kind, (10,), 4, "float32", rng)
    np.testing.assert_allclose(getattr(fm, name)(y, p), getattr(keras.metrics, name)(y, p), rtol=RTOL,
                               atol=32 * EPS32)


# ---------------------------------------------------------------------------------------------------------------
# Deliberate differences (fastloss.keras's docstring), each pinned against Keras
# ---------------------------------------------------------------------------------------------------------------

def test_nan_in_a_masked_position_does_not_spread():
    y = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    p = np.array([[0.2, 0.7], [np.nan, 0.5], [0.1, 0.3]], dtype=np.float32)
    mask = np.array([True, False, True])
    assert np.isnan(keras_call("BinaryCrossentropy", {}, "sum_over_batch_size", y, p, "float32", mask=mask))
    expected = keras_call("BinaryCrossentropy", {}, "sum_over_batch_size", y[mask], p[mask], "float32")
    actual = fastloss_call("BinaryCrossentropy", {}, "sum_over_batch_size", y, p, "float32", mask=mask)
    np.testing.assert_allclose(actual, expected, rtol=RTOL)


def test_per_sample_weights_on_timesteps():
    """(N,) weights on (N, T) losses: Keras fails (T != N); fastloss weighs every timestep of sample i."""
    rng = np.random.default_rng(5)
    y, p = make_data("regression", (4, 3), 2, "float32", rng)
    sw = np.array([2.0, 0.0, 1.0, 0.5])
    with pytest.raises(ValueError):
        keras.losses.MeanSquaredError()(y, p, sample_weight=sw)
    for reduction in KERAS_REDUCTIONS:
        expected = keras_call("MeanSquaredError", {}, reduction, y, p, "float32",
                              sample_weight=np.repeat(sw[:, None], 3, axis=1))
        np.testing.assert_allclose(fastloss_call("MeanSquaredError", {}, reduction, y, p, "float32",
                                                 sample_weight=sw), expected, rtol=RTOL, atol=1e-6)


def test_mean_with_sample_weight_divides_by_broadcast_weights():
    """(N, 1) weights on (N, T) losses: Keras divides by Σw as given (T x the weighted mean)."""
    rng = np.random.default_rng(6)
    y, p = make_data("regression", (4, 3), 2, "float32", rng)
    sw = rng.uniform(0.5, 2.0, (4, 1))
    keras_value = keras_call("MeanSquaredError", {}, "mean_with_sample_weight", y, p, "float32", sample_weight=sw)
    ours = fastloss_call("MeanSquaredError", {}, "mean_with_sample_weight", y, p, "float32", sample_weight=sw)
    rows = keras.losses.mean_squared_error(y, p)
    weighted_mean = np.sum(rows * sw) / (np.sum(sw) * 3)
    np.testing.assert_allclose(ours, weighted_mean, rtol=RTOL)
    np.testing.assert_allclose(keras_value, 3 * weighted_mean, rtol=RTOL)


def test_bce_logits_do_not_saturate():
    z = np.array([[20.0], [-25.0], [30.0]], dtype=np.float64)
    y = np.array([[0.0], [1.0], [0.0]])
    keras_rows = np.asarray(keras.losses.binary_crossentropy(y, z, from_logits=True), dtype=np.float64)
    # float32 sigmoid, then the clip: -log(1 - float32(1 - 1e-7)) = 15.942 for y = 0, -log(1e-7) for y = 1
    np.testing.assert_allclose(keras_rows, [15.942385, 16.118095, 15.942385], rtol=1e-6)
    np.testing.assert_allclose(fk.binary_crossentropy(y, z, from_logits=True, dtype="float64"),
                               np.logaddexp(0.0, [20.0, 25.0, 30.0]), rtol=1e-12)  # softplus(±z)


def test_hinge_rule_reads_included_rows():
    y = np.array([[0.0], [1.0], [-1.0]], dtype=np.float32)
    p = np.full((3, 1), 0.5, dtype=np.float32)
    mask = np.array([True, True, False])
    np.testing.assert_allclose(keras_call("Hinge", {}, "none", y, p, "float32", mask=mask), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(fastloss_call("Hinge", {}, "none", y, p, "float32", mask=mask), [1.5, 0.5, 0.0])


def test_probabilities_above_one_raise():
    y = np.array([[0.0, 1.0]], dtype=np.float32)
    p = np.array([[0.2, 1.5]], dtype=np.float32)
    assert np.isfinite(keras.losses.BinaryCrossentropy()(y, p))
    with pytest.raises(ValueError, match="y_pred"):
        fk.BinaryCrossentropy()(y, p)


def test_label_smoothing_on_a_leading_class_axis():
    """3.15.1 smooths by 1/(size of the last axis) even when the class axis is another one."""
    rng = np.random.default_rng(8)
    y = np.moveaxis(np.eye(5)[rng.integers(0, 5, (4, 3))], -1, 1).astype(np.float32)  # (4, 5, 3), classes on 1
    p = rng.uniform(0.05, 1.0, y.shape).astype(np.float32)
    ours = fk.categorical_crossentropy(y, p, label_smoothing=0.2, axis=1)
    right = keras.losses.categorical_crossentropy(np.moveaxis(y, 1, -1), np.moveaxis(p, 1, -1), label_smoothing=0.2)
    keras_value = keras.losses.categorical_crossentropy(y, p, label_smoothing=0.2, axis=1)
    np.testing.assert_allclose(ours, right, rtol=RTOL)
    assert not np.allclose(keras_value, right, rtol=1e-3)


def test_empty_batch_reduces_to_zero():
    y = np.zeros((0,), dtype=np.float32)
    assert np.asarray(keras.losses.MeanSquaredError(reduction="sum")(y[:, None], y[:, None])).shape == (0,)
    assert fk.MeanSquaredError(reduction="sum")(y[:, None], y[:, None]) == 0.0


def test_scalar_weight_with_mean_with_sample_weight():
    """A scalar weight c: Keras's "mean_with_sample_weight" divides by c once (Σ l); fastloss gives the mean."""
    rng = np.random.default_rng(9)
    y, p = make_data("regression", (6,), 3, "float32", rng)
    rows = np.asarray(keras.losses.mean_squared_error(y, p), dtype=np.float64)
    keras_value = keras_call("MeanSquaredError", {}, "mean_with_sample_weight", y, p, "float32", sample_weight=2.5)
    np.testing.assert_allclose(keras_value, rows.sum(), rtol=RTOL)
    np.testing.assert_allclose(fastloss_call("MeanSquaredError", {}, "mean_with_sample_weight", y, p, "float32",
                                             sample_weight=2.5), rows.mean(), rtol=RTOL)


def test_out_of_range_labels_raise():
    p = np.full((3, 4), 0.25, dtype=np.float32)
    labels = np.array([0, 5, 2])
    assert np.asarray(keras.metrics.sparse_categorical_accuracy(labels, p)).tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="y_true"):
        fm.sparse_categorical_accuracy(labels, p)
    with pytest.raises(ValueError, match="y_true"):
        fk.SparseCategoricalCrossentropy()(labels, p)


def test_functions_apply_the_rank_fix():
    """Keras's crossentropy functions refuse (N,) against (N, 1) and its hinge, poisson, kl_divergence...
    functions broadcast them to (N, N); fastloss pairs them row by row, as Keras's Loss classes do."""
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, 5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, (5, 1)).astype(np.float32)
    with pytest.raises(ValueError):
        keras.losses.binary_crossentropy(y, p)
    np.testing.assert_allclose(fk.binary_crossentropy(y, p),
                               keras.losses.binary_crossentropy(y[:, None], p), rtol=RTOL)
    by_rows = np.asarray(keras.losses.poisson(y[:, None], p), dtype=np.float64)
    broadcast = np.asarray(keras.losses.poisson(y, p), dtype=np.float64)
    assert broadcast.shape == by_rows.shape == (5,) and not np.allclose(broadcast, by_rows, rtol=1e-3)
    np.testing.assert_allclose(fk.poisson(y, p), by_rows, rtol=RTOL)
    np.testing.assert_allclose(fk.Poisson(reduction=None)(y, p), keras.losses.Poisson(reduction=None)(y, p),
                               rtol=RTOL)
