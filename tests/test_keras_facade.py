"""fastloss.keras without Keras: reduction names, dtypes, configs, get(), class weights, shapes, errors.

The numbers against the real Keras are in tests/conformance/test_keras_facade.py; here expected values are
computed by hand in NumPy from the rules in fastloss.keras's docstring.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss.keras import losses as fk
from fastloss.keras import metrics as fm

KERAS_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)
ALL_CLASSES = [getattr(fk, name) for name in fk.__all__ if isinstance(getattr(fk, name), type)
               and issubclass(getattr(fk, name), fk.Loss) and name != "Loss"]


def _regression(rows, K, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=rows + (K,)), rng.normal(size=rows + (K,))


# ---------------------------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS)
def test_keras_reduction_names(reduction):
    y, p = _regression((6, 2), 3)
    sw = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0])
    mask = np.ones((6, 2), dtype=bool)
    mask[1, 1] = mask[4, 0] = False
    rows = np.mean((y - p) ** 2, axis=-1)
    w = np.broadcast_to(sw[:, None], rows.shape) * mask
    expected = {
        "sum": np.sum(w * rows),
        "sum_over_batch_size": np.sum(w * rows) / mask.sum(),
        "mean": np.sum(w * rows) / mask.sum(),
        "mean_with_sample_weight": np.sum(w * rows) / np.sum(w),
    }.get(reduction, w * rows)
    actual = fk.MeanSquaredError(reduction=reduction, dtype="float64")(y, p, sample_weight=sw, mask=mask)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["sum_over_all_rows", "weighted_mean", "keras_legacy", "totals", "auto",
                                       "SUM", 0, True])
def test_other_reductions_are_refused(reduction):
    with pytest.raises(ValueError, match="reduction"):
        fk.MeanSquaredError(reduction=reduction)


def test_all_masked_and_all_zero_weights_give_zero():
    y, p = _regression((4,), 2)
    for reduction in ("sum", "sum_over_batch_size", "mean_with_sample_weight"):
        assert fk.MeanSquaredError(reduction=reduction)(y, p, mask=np.zeros(4, bool)) == 0.0
        assert fk.MeanSquaredError(reduction=reduction)(y, p, sample_weight=np.zeros(4)) == 0.0


# ---------------------------------------------------------------------------------------------------------------
# dtype
# ---------------------------------------------------------------------------------------------------------------

class _Policy:
    compute_dtype = "float64"


@pytest.mark.parametrize("dtype, name", [(None, "float32"), ("float32", "float32"), ("float64", "float64"),
                                         (np.float64, "float64"), (np.dtype("float32"), "float32"),
                                         (_Policy(), "float64")])
def test_dtype_is_the_compute_dtype(dtype, name):
    loss = fk.BinaryCrossentropy(dtype=dtype)
    assert loss.dtype == name
    out = loss(np.array([[0.0, 1.0]]), np.array([[0.3, 0.6]]))
    assert type(out) is np.dtype(name).type
    rows = fk.BinaryCrossentropy(dtype=dtype, reduction=None)(np.array([[0.0, 1.0]]), np.array([[0.3, 0.6]]))
    assert rows.dtype == np.dtype(name) and rows.shape == (1,)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "mixed_float16", "int32", "nonsense"])
def test_unsupported_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match="dtype"):
        fk.MeanSquaredError(dtype=dtype)
    with pytest.raises(ValueError, match="dtype"):
        fk.mean_squared_error(np.zeros(3), np.zeros(3), dtype=dtype)


def test_clipping_happens_in_the_compute_dtype():
    """y = 0, p = 1: -log(1 - clip(1)); float32's 1 - 1e-7 rounds to 1 - 2**-23 (Keras's default 15.942)."""
    y, p = np.array([[0.0]]), np.array([[1.0]])  # float64 data
    np.testing.assert_allclose(fk.binary_crossentropy(y, p), [23 * np.log(2)], rtol=1e-7)
    # in float64, 1 - (1 - 1e-7) is 1e-7 to 3e-11 relative
    np.testing.assert_allclose(fk.binary_crossentropy(y, p, dtype="float64"), [-np.log(1e-7)], rtol=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# Configs, names, get()
# ---------------------------------------------------------------------------------------------------------------

NON_DEFAULT = {
    "CosineSimilarity": {"axis": 1},
    "Huber": {"delta": 0.3},
    "BinaryCrossentropy": {"from_logits": True, "label_smoothing": 0.1, "axis": 0},
    "BinaryFocalCrossentropy": {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.0},
    "CategoricalCrossentropy": {"label_smoothing": 0.2},
    "CategoricalFocalCrossentropy": {"alpha": 0.1, "gamma": 3.0, "from_logits": True},
    "SparseCategoricalCrossentropy": {"ignore_class": 255, "axis": 1},
    "Dice": {"axis": (1, 2)},
    "Tversky": {"alpha": 0.2, "beta": 0.8, "axis": (1,)},
    "CategoricalGeneralizedCrossEntropy": {"q": 0.7},
}


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trips(cls):
    params = NON_DEFAULT.get(cls.__name__, {})
    loss = cls(reduction=None, name="custom", dtype="float64", **params)
    config = loss.get_config()
    assert config["name"] == "custom" and config["reduction"] is None and config["dtype"] == "float64"
    for key, value in params.items():
        assert config[key] == value
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    assert "dtype" not in cls().get_config()  # as Keras, unless one was given


def test_name_none_is_the_snake_case_class_name():
    assert fk.KLDivergence(name=None).name == "kl_divergence"
    assert fk.CategoricalGeneralizedCrossEntropy(name="").name == "categorical_generalized_cross_entropy"


def test_get():
    assert fk.get(None) is None
    assert fk.get("mse") is fk.mean_squared_error is fk.MSE
    assert fk.get("kld") is fk.kl_divergence
    assert isinstance(fk.get("Huber"), fk.Huber)
    assert isinstance(fk.get(fk.Poisson), fk.Poisson)
    loss = fk.get({"class_name": "Huber", "config": {"delta": 2.0, "reduction": "sum"}})
    assert isinstance(loss, fk.Huber) and loss.delta == 2.0 and loss.reduction == "sum"
    assert fk.get(len) is len
    with pytest.raises(ValueError, match="identifier"):
        fk.get("no_such_loss")
    with pytest.raises(ValueError, match="identifier"):
        fk.get("CategoricalGeneralizedCrossEntropy")  # not in Keras's lookup table either
    with pytest.raises(ValueError, match="identifier"):
        fk.get({"class_name": "mse", "config": {}})


@pytest.mark.parametrize("q", [0, 1, -0.5, 1.5, True, "0.5"])
def test_generalized_crossentropy_q_range(q):
    with pytest.raises(ValueError, match="q"):
        fk.CategoricalGeneralizedCrossEntropy(q=q)


# ---------------------------------------------------------------------------------------------------------------
# Shapes: Keras's rank rule, one value for the batch, axes
# ---------------------------------------------------------------------------------------------------------------

def test_rank_fix_matches_keras_rule():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=8), rng.normal(size=(8, 1))
    rows = (y - p[:, 0]) ** 2
    np.testing.assert_allclose(fk.mean_squared_error(y, p, dtype="float64"), rows, rtol=1e-12)
    np.testing.assert_allclose(fk.mean_squared_error(y[:, None], p[:, 0], dtype="float64"), rows, rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        fk.mean_squared_error(np.zeros((8, 2)), np.zeros((8, 3)))


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS)
def test_one_dimensional_inputs_are_one_value_weighted_by_every_entry(reduction):
    """Keras: a 1-D y_pred of a last-axis loss is one value l; weights and mask multiply it entry by entry."""
    rng = np.random.default_rng(2)
    y, p = rng.normal(size=7), rng.normal(size=7)
    w = rng.uniform(0, 2, 7)
    m = rng.random(7) < 0.6
    m[0] = True
    value = np.mean((y - p) ** 2)
    loss = fk.MeanSquaredError(reduction=reduction, dtype="float64")
    assert loss(y, p).shape == () and np.isclose(loss(y, p), value, rtol=1e-12)
    expected = {
        "sum": value * np.sum(w * m),
        "sum_over_batch_size": value * np.sum(w * m) / m.sum(),
        "mean": value * np.sum(w * m) / m.sum(),
        "mean_with_sample_weight": value,
    }.get(reduction, value * w * m)
    np.testing.assert_allclose(loss(y, p, sample_weight=w, mask=m), expected, rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -2, (0, 2)])
def test_axis_moves_the_reduced_axes_last(axis):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (3, 4, 5)).astype(np.float64)
    p = rng.uniform(0.05, 0.95, (3, 4, 5))
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(fk.binary_crossentropy(y, p, axis=axis, dtype="float64"), bce.mean(axis=axis),
                               rtol=1e-12)


@pytest.mark.parametrize("axis, error", [(True, TypeError), (3, ValueError), (-4, ValueError), (1.0, TypeError),
                                         ((0, 0), ValueError), ((), ValueError)])
def test_bad_axis(axis, error):
    y = np.zeros((2, 3, 4))
    with pytest.raises(error, match="axis"):
        fk.binary_crossentropy(y, y + 0.5, axis=axis)


def test_categorical_axis_is_one_integer():
    y = np.eye(3)[[0, 1]]
    with pytest.raises(TypeError, match="axis"):
        fk.categorical_crossentropy(y, y, axis=(0, 1))


# ---------------------------------------------------------------------------------------------------------------
# Class weights
# ---------------------------------------------------------------------------------------------------------------

def test_class_weight_to_sample_weight_rule():
    cw = {0: 0.5, 2: 4.0, -1: 3.0}
    np.testing.assert_array_equal(fk.class_weight_to_sample_weight([0, 1, 2, 2, 5], cw), [0.5, 1, 4, 4, 1])
    np.testing.assert_array_equal(fk.class_weight_to_sample_weight([[0.2], [1.6], [-0.7]], cw), [0.5, 4, 3])
    onehot = np.array([[0.1, 0.2, 0.7], [0.9, 0.05, 0.05], [0.2, 0.5, 0.3]])
    np.testing.assert_array_equal(fk.class_weight_to_sample_weight(onehot, cw), [4, 0.5, 1])
    np.testing.assert_array_equal(fk.class_weight_to_sample_weight([1, 0], {1.0: 2.0}), [2, 1])


@pytest.mark.parametrize("y, cw, error, words", [
    ([0, 1], [1.0, 2.0], TypeError, "dict"),
    ([0, 1], {0.5: 1.0}, ValueError, "integer classes"),
    ([0, 1], {"a": 1.0}, ValueError, "integer classes"),
    ([0, 1], {0: "heavy"}, TypeError, "numbers"),
    ([0.0, np.nan], {0: 1.0}, ValueError, "NaN"),
    (np.zeros((2, 3, 4)), {0: 1.0}, ValueError, "per position"),
    (3, {0: 1.0}, ValueError, "scalar"),
])
def test_class_weight_helper_errors(y, cw, error, words):
    with pytest.raises(error, match=words):
        fk.class_weight_to_sample_weight(y, cw)


def test_class_weight_on_a_call_weighs_each_row_by_its_class():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 4, (5, 6))
    p = rng.dirichlet(np.ones(4), (5, 6))
    cw = {0: 0.5, 3: 2.0}
    row_weights = np.vectorize(lambda c: cw.get(int(c), 1.0))(labels)
    for reduction in KERAS_REDUCTIONS:
        loss = fk.SparseCategoricalCrossentropy(reduction=reduction, dtype="float64")
        np.testing.assert_allclose(loss(labels, p, class_weight=cw), loss(labels, p, sample_weight=row_weights),
                                   rtol=1e-12)


def test_class_weight_with_an_ignored_class_outside_the_classes():
    labels = np.array([0, 255, 1, 2, 255])
    p = np.full((5, 3), 1 / 3)
    loss = fk.SparseCategoricalCrossentropy(ignore_class=255, reduction="sum", dtype="float64")
    np.testing.assert_allclose(loss(labels, p, class_weight={1: 3.0}), np.log(3) * (1 + 3 + 1), rtol=1e-12)


def test_class_weight_and_sample_weight_together_are_refused():
    with pytest.raises(ValueError, match="class_weight and sample_weight"):
        fk.MeanSquaredError()(np.zeros((2, 2)), np.zeros((2, 2)), sample_weight=[1, 1], class_weight={0: 1.0})


# ---------------------------------------------------------------------------------------------------------------
# Inputs, threads, independence from Keras
# ---------------------------------------------------------------------------------------------------------------

def test_callers_arrays_are_not_modified():
    rng = np.random.default_rng(5)
    y = np.moveaxis(np.eye(4)[rng.integers(0, 4, (3, 5))], -1, 1)
    p = rng.uniform(0.1, 1.0, y.shape)
    sw, m = rng.uniform(size=3), np.array([True, False, True])
    copies = [a.copy() for a in (y, p, sw, m)]
    fk.CategoricalCrossentropy(axis=1, label_smoothing=0.1)(y, p, sample_weight=sw, mask=m)
    for before, after in zip(copies, (y, p, sw, m)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS)
def test_results_do_not_depend_on_threads(small_blocks, reduction):
    rng = np.random.default_rng(6)
    y, p = rng.normal(size=(40, 7, 3)).astype(np.float32), rng.normal(size=(40, 7, 3)).astype(np.float32)
    sw, m = rng.uniform(size=40), rng.random((40, 7)) < 0.8
    loss = fk.Huber(delta=0.7, reduction=reduction)
    one = np.asarray(loss(y, p, sample_weight=sw, mask=m, n_threads=1))
    for n_threads in (2, 3):
        assert np.asarray(loss(y, p, sample_weight=sw, mask=m, n_threads=n_threads)).tobytes() == one.tobytes()


def test_aliases_and_module_contents():
    assert fk.mae is fk.MAE is fk.mean_absolute_error
    assert fk.bce is fk.binary_crossentropy and fk.kld is fk.kl_divergence
    assert fm.mean_squared_error is fk.mean_squared_error
    for name in fk.__all__ + fm.__all__:
        assert hasattr(fk, name) or hasattr(fm, name)


def test_importing_the_facade_does_not_import_keras():
    code = "import sys, fastloss.keras; assert 'keras' not in sys.modules, 'keras imported'"
    # Run next to the fastloss under test (installed or in-place), not in the checkout, whose fastloss/ has no build.
    root = Path(fastloss.__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr


def test_missing_core_function_is_a_clear_error(monkeypatch):
    monkeypatch.delitem(fastloss.LOSSES, "poisson")
    with pytest.raises(NotImplementedError, match="poisson"):
        fk.Poisson()(np.ones((2, 2)), np.ones((2, 2)))


# ---------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------

def test_sparse_top_k_from_sorted_ids():
    ids = np.array([[3, 1, 0, 2], [0, 2, 3, 1], [2, 2, 1, 0]])
    labels = np.array([1, 1, 2])
    np.testing.assert_array_equal(fm.sparse_top_k_categorical_accuracy(labels, ids, k=2, from_sorted_ids=True),
                                  [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(fm.sparse_top_k_categorical_accuracy(labels[:, None], ids, k=4,
                                                                       from_sorted_ids=True), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_top_k_needs_a_positive_k(k):
    with pytest.raises(ValueError, match="k"):
        fm.sparse_top_k_categorical_accuracy([0], [[0.2, 0.8]], k=k)


def test_sparse_metric_label_shape_error():
    with pytest.raises(ValueError, match="y_true"):
        fm.sparse_categorical_accuracy(np.zeros((3, 2)), np.zeros((3, 4)))


def test_call_is_the_unweighted_per_sample_loss():
    y, p = _regression((4, 3), 2)
    loss = fk.LogCosh(reduction="sum")
    np.testing.assert_array_equal(loss.call(y, p), fk.log_cosh(y, p))
    assert loss.call(y, p).shape == (4, 3)


@pytest.mark.parametrize("kw, words", [
    ({"sample_weight": np.ones((4, 3, 2))}, "sample_weight"),
    ({"sample_weight": np.ones(3)}, "sample_weight"),
    ({"mask": np.ones((4, 2), bool)}, "mask"),
    ({"sample_weight": [[1.0, "a"]]}, "sample_weight"),
])
def test_bad_weight_and_mask_shapes(kw, words):
    y, p = _regression((4, 3), 2)
    with pytest.raises((ValueError, TypeError), match=words):
        fk.MeanSquaredError()(y, p, **kw)


def test_bad_mask_on_a_batch_scalar_loss():
    y, p = _regression((), 5)
    with pytest.raises(ValueError, match="mask"):
        fk.MeanSquaredError()(y, p, sample_weight=np.ones(5), mask=np.ones(3, bool))
