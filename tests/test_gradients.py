"""fastloss.gradients.value_and_grad: the value is the loss's, the gradient is the derivative of the oracle's loss.

The gradient is checked against 4th-order central differences of ``fastloss.oracle`` (float64) at points away
from kinks and clip bounds, for every reduction and weighting; the value against ``fastloss``'s loss.
"""

import math

import numpy as np
import pytest

import fastloss
from fastloss import oracle
from fastloss.gradients import GRADIENT_LOSSES, value_and_grad

ROWS, K = 4, 3
SCALAR_REDUCTIONS = ("sum", "sum_over_batch_size", "sum_over_all_rows", "mean_with_sample_weight",
                     "sum_by_nonzero_weights", "keras_legacy")


def _case(loss, seed=0, dtype=np.float64, rows=ROWS):
    """(y_true, y_pred, options) away from kinks (|e|, hinge margins, huber's delta) and clip bounds."""
    rng = np.random.default_rng(seed)
    shape = (rows, K)
    probs = rng.uniform(0.15, 0.85, shape)
    logits = rng.normal(0.0, 2.0, shape)
    hard = rng.integers(0, 2, shape).astype(float)
    soft = rng.dirichlet(np.ones(K), rows)
    away = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape)  # |e| in [0.3, 1.5]
    name, _, variant = loss.partition(":")
    options = {}
    if name == "binary_crossentropy":
        y, p = hard, (logits if variant == "logits" else probs)
        options = dict(from_logits=variant == "logits", label_smoothing=0.1)
    elif name == "categorical_crossentropy":
        y, p = soft, (logits if variant == "logits" else probs)
        options = dict(from_logits=variant == "logits", label_smoothing=0.2)
    elif name == "sparse_categorical_crossentropy":
        y = rng.integers(0, K, rows)
        p = logits if variant == "logits" else probs
        options = dict(from_logits=variant == "logits")
        if variant == "ignore":
            y[1] = 2
            options["ignore_class"] = 2
    elif name in ("mean_squared_error", "mean_absolute_error", "log_cosh"):
        y = logits
        p = y + away
    elif name == "huber":
        y = logits
        p = y + rng.choice([-1.0, 1.0], shape) * rng.choice([0.2, 1.5], shape)  # both sides of delta = 0.8
        options = dict(delta=0.8)
    elif name == "mean_absolute_percentage_error":
        y = logits + np.sign(logits) * 0.5
        p = y + away
    elif name == "mean_squared_logarithmic_error":
        y, p = probs * 3, probs[::-1] * 2
    elif name == "poisson":
        y, p = probs * 4, probs[::-1] * 3
    elif name in ("hinge", "squared_hinge"):
        y = hard
        p = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.8, shape)
        p[np.abs(np.abs(p) - 1.0) < 0.1] = 0.5  # margin 1 - y'p away from 0
    else:
        raise AssertionError(loss)
    return y.astype(dtype) if y.dtype.kind == "f" else y, p.astype(dtype), options


CASES = ["binary_crossentropy", "binary_crossentropy:logits", "categorical_crossentropy",
         "categorical_crossentropy:logits", "sparse_categorical_crossentropy",
         "sparse_categorical_crossentropy:logits", "sparse_categorical_crossentropy:ignore", "mean_squared_error",
         "mean_absolute_error", "huber", "log_cosh", "poisson", "hinge", "squared_hinge",
         "mean_absolute_percentage_error", "mean_squared_logarithmic_error"]


def _weighting(kind, rows=ROWS):
    if kind == "plain":
        return {}
    weights = {"sample_weight": np.array([0.5, 0.0, 2.0, 1.5])[:rows],
               "mask": np.array([True, True, False, True])[:rows]}
    if kind == "class_weight":
        weights["class_weight"] = {0: 1.0, 1: 2.5, 2: 0.5}
    return weights


def central_difference(f, x, h=1e-5):
    """4th-order central differences of a scalar function, element by element."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        values = []
        for step in (-2, -1, 1, 2):
            shifted = x.astype(np.float64).copy()
            shifted[i] += step * h
            values.append(f(shifted))
        grad[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
    return grad


def _loss_name(case):
    return case.partition(":")[0]


@pytest.mark.parametrize("weighting", ["plain", "sample_weight_and_mask", "class_weight"])
@pytest.mark.parametrize("reduction", SCALAR_REDUCTIONS + ("none",))
@pytest.mark.parametrize("case", CASES)
def test_value_and_gradient_against_oracle(case, reduction, weighting):
    name = _loss_name(case)
    y, p, options = _case(case)
    options.update(_weighting(weighting), reduction=reduction)
    value, grad = value_and_grad(name, y, p, **options)
    assert grad.shape == p.shape and grad.dtype == p.dtype

    expected_value = fastloss.LOSSES[name](y, p, **options)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-15)

    if reduction == "none":
        def f(x):
            return float(np.sum(oracle.LOSSES[name](y, x, **options)))
    else:
        def f(x):
            return oracle.LOSSES[name](y, x, **options)
    numeric = central_difference(f, p)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(grad, numeric, rtol=0, atol=1e-7 * scale)


def test_excluded_rows_get_zero_gradient_and_their_nan_does_not_leak():
    y, p, options = _case("categorical_crossentropy:logits")
    p[2] = np.nan
    value, grad = value_and_grad("categorical_crossentropy", y, p, mask=[True, True, False, True], **options)
    assert math.isfinite(value)
    assert np.all(grad[2] == 0) and np.all(np.isfinite(grad))
    labels = np.array([0, 2, 1, 1])
    p[1] = np.nan
    value, grad = value_and_grad("sparse_categorical_crossentropy", labels, p, from_logits=True, ignore_class=1,
                                 mask=[True, False, True, True])
    assert math.isfinite(value)
    assert np.all(grad[1:] == 0) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight", "sum_by_nonzero_weights",
                                       "keras_legacy"])
@pytest.mark.parametrize("class_weight", [None, [1.0, 1.0, 1.0]])
def test_zero_divisor_follows_zero_division(reduction, class_weight):
    y, p, options = _case("mean_squared_error")
    sample_weight = np.zeros(ROWS)
    common = dict(sample_weight=sample_weight, class_weight=class_weight, reduction=reduction)
    value, grad = value_and_grad("mean_squared_error", y, p, mask=np.zeros(ROWS, bool), **common)
    assert value == 0.0 and np.all(grad == 0)
    value, grad = value_and_grad("mean_squared_error", y, p, mask=np.zeros(ROWS, bool), zero_division="nan",
                                 **common)
    assert math.isnan(value) and np.all(np.isnan(grad))
    with pytest.raises(ValueError, match="zero denominator"):
        value_and_grad("mean_squared_error", y, p, mask=np.zeros(ROWS, bool), zero_division="raise", **common)
    if reduction != "sum_over_batch_size":  # all weights zero, rows included: the divisor W, Z or E0 is 0
        value, grad = value_and_grad("mean_squared_error", y, p, zero_division=3.0, **common)
        assert value == 3.0 and np.all(grad == 0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("weighting", ["plain", "class_weight"])
def test_thread_count_does_not_change_bits(case, weighting, small_blocks):
    name = _loss_name(case)
    y, p, options = _case(case, seed=3, rows=40)
    weights = {} if weighting == "plain" else {
        "sample_weight": np.linspace(0.0, 2.0, 40), "mask": np.arange(40) % 7 != 3,
        "class_weight": [1.0, 2.5, 0.5]}
    for reduction in ("mean_with_sample_weight", "none"):
        ref_value, ref_grad = value_and_grad(name, y, p, reduction=reduction, n_threads=1, **options, **weights)
        for n_threads in (2, 3):
            value, grad = value_and_grad(name, y, p, reduction=reduction, n_threads=n_threads, **options, **weights)
            assert np.asarray(value).tobytes() == np.asarray(ref_value).tobytes()
            assert grad.tobytes() == ref_grad.tobytes()


@pytest.mark.parametrize("case", CASES)
def test_float32_matches_float64(case):
    name = _loss_name(case)
    y64, p64, options = _case(case, seed=5, rows=30)
    y32 = y64.astype(np.float32) if y64.dtype.kind == "f" else y64
    p32 = p64.astype(np.float32)
    value32, grad32 = value_and_grad(name, y32, p32, **options)
    assert grad32.dtype == np.float32
    # Compare with float64 on the float32 inputs (and float32's clip bounds, which only the oracle shares).
    y_wide = y32.astype(np.float64) if y32.dtype.kind == "f" else y32
    value64, grad64 = value_and_grad(name, y_wide, p32.astype(np.float64), **options)
    np.testing.assert_allclose(value32, value64, rtol=1e-6)
    np.testing.assert_allclose(grad32, grad64, rtol=0, atol=2e-6 * float(np.max(np.abs(grad64))))


def test_one_dimensional_predictions_and_sample_weight_per_sample():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 2, 6).astype(float), rng.normal(size=6)
    value, grad = value_and_grad("binary_crossentropy", y, p, from_logits=True, sample_weight=np.arange(6.0),
                                 reduction="mean_with_sample_weight")
    assert grad.shape == (6,)
    numeric = central_difference(lambda x: oracle.binary_crossentropy(
        y, x, from_logits=True, sample_weight=np.arange(6.0), reduction="mean_with_sample_weight"), p)
    np.testing.assert_allclose(grad, numeric, atol=1e-8)
    # (N, T) rows with an (N,) weight: the weight broadcasts over timesteps.
    y3, p3 = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    sw, mask = np.array([1.0, 3.0]), np.array([[True, False, True], [True, True, False]])
    opts = dict(sample_weight=sw, mask=mask, reduction="mean_with_sample_weight")
    value, grad = value_and_grad("log_cosh", y3, p3, **opts)
    np.testing.assert_allclose(value, oracle.log_cosh(y3, p3, **opts), rtol=1e-12)
    np.testing.assert_allclose(grad, central_difference(lambda x: oracle.log_cosh(y3, x, **opts), p3), atol=1e-8)


def test_active_clip_and_kinks_have_zero_gradient():
    # BCE: p = 0 and p = 1 are clipped; CCE: after p / Σp, the first entry is below 1e-7.
    _, grad = value_and_grad("binary_crossentropy", np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    assert np.all(grad == 0)
    y = np.array([[0.0, 1.0, 0.0]])
    p = np.array([[2e-8, 0.4, 0.6]])
    _, grad = value_and_grad("categorical_crossentropy", y, p)
    numeric = central_difference(lambda x: oracle.categorical_crossentropy(y, x), p, h=1e-9)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)
    _, grad_first = value_and_grad("categorical_crossentropy", np.array([[1.0, 0.0, 0.0]]), p)
    assert np.all(grad_first == 0)  # the only target entry is clipped: the loss is constant in p
    _, grad = value_and_grad("sparse_categorical_crossentropy", np.array([0]), p)
    assert np.all(grad == 0)
    # Kinks: |e| = 0 (MAE, MAPE) and hinge margin 0 take the subgradient 0.
    _, grad = value_and_grad("mean_absolute_error", np.array([1.0, 2.0]), np.array([1.0, 3.0]), reduction="sum")
    assert grad.tolist() == [0.0, 1.0]
    _, grad = value_and_grad("hinge", np.array([1.0, 1.0]), np.array([1.0, 0.5]), reduction="sum")
    assert grad.tolist() == [0.0, -1.0]


def test_inputs_are_not_modified():
    y, p, options = _case("categorical_crossentropy")
    sw = np.array([1.0, 2.0, 0.0, 1.0])
    copies = [a.copy() for a in (y, p, sw)]
    value_and_grad("categorical_crossentropy", y, p, sample_weight=sw, reduction="mean_with_sample_weight",
                   class_weight=[1.0, 2.0, 3.0], **options)
    for a, b in zip((y, p, sw), copies):
        assert a.tobytes() == b.tobytes()


def test_errors():
    y, p, _ = _case("mean_squared_error")
    with pytest.raises(ValueError, match="supported losses are .*'binary_crossentropy'"):
        value_and_grad("kl_divergence", y, p)
    with pytest.raises(ValueError, match="'totals' has no gradient"):
        value_and_grad("mean_squared_error", y, p, reduction="totals")
    with pytest.raises(ValueError, match="reduction: unknown value"):
        value_and_grad("mean_squared_error", y, p, reduction="average")
    with pytest.raises(TypeError, match="label_smoothing"):
        value_and_grad("mean_squared_error", y, p, label_smoothing=0.1)
    with pytest.raises(ValueError, match="probabilities must lie in"):
        value_and_grad("binary_crossentropy", np.zeros((2, 2)), np.array([[0.5, 1.5], [0.2, 0.1]]))
    with pytest.raises(ValueError, match="out of range"):
        value_and_grad("sparse_categorical_crossentropy", np.array([0, 3]), np.full((2, 3), 0.3))
    with pytest.raises(ValueError, match="missing from the class_weight dict"):
        value_and_grad("categorical_crossentropy", np.eye(3), np.full((3, 3), 0.3), class_weight={0: 1.0})
    with pytest.raises(ValueError, match="class_weight: value_and_grad takes a dict or a 1-D array"):
        value_and_grad("binary_crossentropy", np.ones((2, 2)), np.full((2, 2), 0.5), class_weight=np.ones((2, 2)))
    with pytest.raises(ValueError, match="pos_weight not supported yet"):  # the loss takes it: never ignore it
        value_and_grad("binary_crossentropy", np.ones((2, 2)), np.full((2, 2), 0.5), pos_weight=2.0)
    with pytest.raises(ValueError, match="delta"):
        value_and_grad("huber", y, p, delta=-1.0)
    assert set(GRADIENT_LOSSES) <= set(fastloss.LOSSES)


@pytest.mark.parametrize("case", CASES)
def test_fast_path_gives_the_bits_of_the_row_path(case):
    # No mask, weights or per-row output: chunks of rows in SIMD. An all-True mask takes the row-by-row path.
    name = _loss_name(case)
    y, p, options = _case(case, seed=9, rows=50)
    for dtype in (np.float32, np.float64):
        yd = y.astype(dtype) if y.dtype.kind == "f" else y
        pd = p.astype(dtype)
        value, grad = value_and_grad(name, yd, pd, reduction="sum", **options)
        row_value, row_grad = value_and_grad(name, yd, pd, reduction="sum", mask=np.ones(50, bool), **options)
        assert value == row_value
        assert grad.tobytes() == row_grad.tobytes()


@pytest.mark.parametrize("case", CASES)
def test_every_instruction_set_level_gives_the_same_bits(case):
    from fastloss import _kernels

    name = _loss_name(case)
    y, p, options = _case(case, seed=11, rows=64)
    reference = None
    try:
        for level in ("baseline", "x86-64-v3", "x86-64-v4"):
            try:
                _kernels.select_isa(level)
            except ValueError:  # this CPU does not run it
                continue
            value, grad = value_and_grad(name, y, p.astype(np.float32), **options)
            if reference is None:
                reference = (value, grad.tobytes())
            assert (value, grad.tobytes()) == reference, level
    finally:
        _kernels.select_isa(None)
    assert reference is not None


@pytest.mark.parametrize("case", ["binary_crossentropy:logits", "categorical_crossentropy:logits", "mean_squared_error"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight", "none"])
def test_out_receives_the_gradient(case, reduction):
    name = _loss_name(case)
    y, p, options = _case(case, seed=4, rows=40)
    options.update(reduction=reduction)
    for dtype in (np.float32, np.float64):
        yd, pd = y.astype(dtype), p.astype(dtype)
        value, grad = value_and_grad(name, yd, pd, **options)
        out = np.full_like(pd, np.nan)
        value_out, grad_out = value_and_grad(name, yd, pd, out=out, **options)
        assert grad_out is out
        assert np.asarray(value_out).tobytes() == np.asarray(value).tobytes()
        assert out.tobytes() == grad.tobytes()
    # A zero divisor fills out (here with NaN) like a fresh gradient.
    out = np.zeros_like(p)
    _, grad = value_and_grad(name, y, p, sample_weight=np.zeros(40), reduction="mean_with_sample_weight",
                             zero_division="nan", out=out, **{k: v for k, v in options.items() if k != "reduction"})
    assert grad is out and np.all(np.isnan(out))


def test_out_is_checked():
    y, p, _ = _case("mean_squared_error")
    with pytest.raises(TypeError, match="out: expected a NumPy array"):
        value_and_grad("mean_squared_error", y, p, out=[[0.0] * K] * ROWS)
    with pytest.raises(ValueError, match="out: expected shape"):
        value_and_grad("mean_squared_error", y, p, out=np.empty((ROWS, K + 1)))
    with pytest.raises(ValueError, match="dtype float64"):
        value_and_grad("mean_squared_error", y, p, out=np.empty((ROWS, K), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        value_and_grad("mean_squared_error", y, p, out=np.empty((K, ROWS)).T)
    with pytest.raises(ValueError, match="share memory"):
        value_and_grad("mean_squared_error", y, p, out=p)
    frozen = np.empty((ROWS, K))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        value_and_grad("mean_squared_error", y, p, out=frozen)
