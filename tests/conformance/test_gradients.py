"""fastloss.gradients.value_and_grad against PyTorch autograd and jax.grad (float64, rtol 1e-10).

Each framework computes the same number as fastloss: the per-row loss (torch.nn.functional where it has the
loss in Keras's form: binary_cross_entropy_with_logits, cross_entropy with probability targets or labels and
label_smoothing, mse_loss, l1_loss, huber_loss, poisson_nll_loss(log_input=False, eps=1e-7); otherwise the Keras
formula written in the framework's ops, clip included), the effective weight w_r of every row, the included
rows selected by boolean indexing, and the reduction's divisor D (a constant: it never depends on y_pred):

    sum: 1    sum_over_batch_size: V    sum_over_all_rows: R    mean_with_sample_weight: W
    sum_by_nonzero_weights: Z    keras_legacy: V·E0/E

Then the framework's autodiff gives d(Σ w·l / D)/d y_pred, compared with fastloss's one-pass gradient. The data
stay away from kinks and clip bounds (where a subgradient is a convention, see fastloss/gradients.py).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")

import torch.nn.functional as F  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from jax.scipy.special import logsumexp  # noqa: E402

from fastloss.gradients import value_and_grad  # noqa: E402

RTOL = 1e-10
LO, HI = 1e-7, 1 - 1e-7
ROWS, K = 6, 3


def _data(case, seed=0):
    rng = np.random.default_rng(seed)
    shape = (ROWS, K)
    probs = rng.uniform(0.15, 0.85, shape)
    logits = rng.normal(0.0, 2.0, shape)
    hard = rng.integers(0, 2, shape).astype(float)
    away = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape)
    options = {}
    if case in ("bce", "bce_logits"):
        y, p = hard, (logits if case == "bce_logits" else probs)
        options = dict(from_logits=case == "bce_logits", label_smoothing=0.1)
    elif case in ("cce", "cce_logits"):
        y, p = rng.dirichlet(np.ones(K), ROWS), (logits if case == "cce_logits" else probs)
        options = dict(from_logits=case == "cce_logits", label_smoothing=0.2)
    elif case in ("scce", "scce_logits"):
        y, p = rng.integers(0, K, ROWS), (logits if case == "scce_logits" else probs)
        y[2] = 1
        options = dict(from_logits=case == "scce_logits", ignore_class=1)
    elif case == "huber":
        y = logits
        p = y + rng.choice([-1.0, 1.0], shape) * rng.choice([0.2, 1.5], shape)
        options = dict(delta=0.8)
    elif case == "mape":
        y = logits + np.sign(logits) * 0.5
        p = y + away
    elif case in ("msle", "poisson"):
        y, p = probs * 3, probs[::-1] * 2
    elif case in ("hinge", "squared_hinge"):
        y = hard
        p = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 1.8, shape)
        p[np.abs(np.abs(p) - 1.0) < 0.1] = 0.5
    else:  # mse, mae, log_cosh
        y, p = logits, logits + away
    return y, p, options


NAMES = {"bce": "binary_crossentropy", "bce_logits": "binary_crossentropy", "cce": "categorical_crossentropy",
         "cce_logits": "categorical_crossentropy", "scce": "sparse_categorical_crossentropy",
         "scce_logits": "sparse_categorical_crossentropy", "mse": "mean_squared_error",
         "mae": "mean_absolute_error", "huber": "huber", "log_cosh": "log_cosh", "poisson": "poisson",
         "hinge": "hinge", "squared_hinge": "squared_hinge", "mape": "mean_absolute_percentage_error",
         "msle": "mean_squared_logarithmic_error"}


def _smoothed(y, a, classes):
    return y * (1 - a) + a / classes


# ---------------------------------------------------------------------------------------------------------------
# Per-row losses, (R, K) -> (R,)
# ---------------------------------------------------------------------------------------------------------------

def torch_rows(case, y, p, o):
    if case == "bce":
        ys, pc = _smoothed(y, o["label_smoothing"], 2), torch.clamp(p, LO, HI)
        return (-(ys * torch.log(pc) + (1 - ys) * torch.log(1 - pc))).mean(-1)
    if case == "bce_logits":
        return F.binary_cross_entropy_with_logits(p, _smoothed(y, o["label_smoothing"], 2), reduction="none").mean(-1)
    if case == "cce":
        q = torch.clamp(p / p.sum(-1, keepdim=True), LO, HI)
        return -(_smoothed(y, o["label_smoothing"], K) * torch.log(q)).sum(-1)
    if case == "cce_logits":
        return F.cross_entropy(p, y, label_smoothing=o["label_smoothing"], reduction="none")
    if case == "scce":
        q = torch.clamp(p / p.sum(-1, keepdim=True), LO, HI)
        return -torch.log(q.gather(1, y[:, None].long())[:, 0])
    if case == "scce_logits":
        return F.cross_entropy(p, y.long(), reduction="none")
    if case == "mse":
        return F.mse_loss(p, y, reduction="none").mean(-1)
    if case == "mae":
        return F.l1_loss(p, y, reduction="none").mean(-1)
    if case == "huber":
        return F.huber_loss(p, y, delta=o["delta"], reduction="none").mean(-1)
    if case == "poisson":
        return F.poisson_nll_loss(p, y, log_input=False, eps=LO, reduction="none").mean(-1)
    if case == "log_cosh":
        return torch.log(torch.cosh(p - y)).mean(-1)
    if case in ("hinge", "squared_hinge"):
        margin = torch.relu(1 - (2 * y - 1) * p)
        return (margin if case == "hinge" else margin ** 2).mean(-1)
    if case == "mape":
        return (100 * torch.abs(y - p) / torch.clamp(torch.abs(y), min=LO)).mean(-1)
    if case == "msle":
        return ((torch.log1p(torch.clamp(p, min=LO)) - torch.log1p(torch.clamp(y, min=LO))) ** 2).mean(-1)
    raise AssertionError(case)


def jax_rows(case, y, p, o):
    if case == "bce":
        ys, pc = _smoothed(y, o["label_smoothing"], 2), jnp.clip(p, LO, HI)
        return (-(ys * jnp.log(pc) + (1 - ys) * jnp.log(1 - pc))).mean(-1)
    if case == "bce_logits":
        ys = _smoothed(y, o["label_smoothing"], 2)
        return (jnp.maximum(p, 0) - p * ys + jnp.log1p(jnp.exp(-jnp.abs(p)))).mean(-1)
    if case == "cce":
        q = jnp.clip(p / p.sum(-1, keepdims=True), LO, HI)
        return -(_smoothed(y, o["label_smoothing"], K) * jnp.log(q)).sum(-1)
    if case == "cce_logits":
        return -(_smoothed(y, o["label_smoothing"], K) * jax.nn.log_softmax(p, axis=-1)).sum(-1)
    if case == "scce":
        q = jnp.clip(p / p.sum(-1, keepdims=True), LO, HI)
        return -jnp.log(jnp.take_along_axis(q, y[:, None], axis=1)[:, 0])
    if case == "scce_logits":
        return logsumexp(p, axis=-1) - jnp.take_along_axis(p, y[:, None], axis=1)[:, 0]
    if case == "mse":
        return ((y - p) ** 2).mean(-1)
    if case == "mae":
        return jnp.abs(y - p).mean(-1)
    if case == "huber":
        e, d = jnp.abs(p - y), o["delta"]
        return jnp.where(e <= d, 0.5 * e ** 2, d * e - 0.5 * d ** 2).mean(-1)
    if case == "poisson":
        return (p - y * jnp.log(p + LO)).mean(-1)
    if case == "log_cosh":
        return jnp.log(jnp.cosh(p - y)).mean(-1)
    if case in ("hinge", "squared_hinge"):
        margin = jnp.maximum(1 - (2 * y - 1) * p, 0)
        return (margin if case == "hinge" else margin ** 2).mean(-1)
    if case == "mape":
        return (100 * jnp.abs(y - p) / jnp.maximum(jnp.abs(y), LO)).mean(-1)
    if case == "msle":
        return ((jnp.log1p(jnp.maximum(p, LO)) - jnp.log1p(jnp.maximum(y, LO))) ** 2).mean(-1)
    raise AssertionError(case)


# ---------------------------------------------------------------------------------------------------------------
# Weights, included rows and the divisor, from the options (constants for autodiff)
# ---------------------------------------------------------------------------------------------------------------

def _weighting(case, y, options, reduction):
    sample_weight = np.array([0.5, 0.0, 2.0, 1.5, 1.0, 3.0])
    mask = np.array([True, True, False, True, True, True])
    fastloss_options = dict(options, sample_weight=sample_weight, mask=mask, reduction=reduction)
    weights = sample_weight.copy()
    included = mask.copy()
    class_weight = None
    if case not in ("mse", "mae", "huber", "log_cosh", "poisson", "mape", "msle", "hinge", "squared_hinge"):
        class_weight = np.array([1.0, 2.5, 0.5])
        fastloss_options["class_weight"] = class_weight
        labels = y if y.ndim == 1 else np.argmax(y, axis=1)
        weights = weights * class_weight[labels]
    if "ignore_class" in options:
        included &= y != options["ignore_class"]
    kept = weights[included]
    V, W, Z, R = included.sum(), kept.sum(), np.count_nonzero(kept), len(weights)
    E, E0 = len(weights), np.count_nonzero(weights)
    divisor = {"sum": 1.0, "sum_over_batch_size": V, "sum_over_all_rows": R, "mean_with_sample_weight": W,
               "sum_by_nonzero_weights": Z, "keras_legacy": V * E0 / E}[reduction]
    return fastloss_options, weights, included, float(divisor)


REDUCTIONS = ("sum", "sum_over_batch_size", "sum_over_all_rows", "mean_with_sample_weight",
              "sum_by_nonzero_weights", "keras_legacy")


def _assert_grad_close(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * float(np.max(np.abs(expected))))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(NAMES))
def test_against_torch_autograd(case, reduction):
    y, p, options = _data(case)
    fl_options, weights, included, divisor = _weighting(case, y, options, reduction)
    value, grad = value_and_grad(NAMES[case], y, p, **fl_options)

    p_t = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    y_t = torch.from_numpy(y if y.dtype.kind == "f" else y.astype(np.int64))
    rows = torch_rows(case, y_t, p_t, options)
    keep = torch.from_numpy(included)
    loss = (rows * torch.from_numpy(weights))[keep].sum() / divisor
    loss.backward()
    np.testing.assert_allclose(value, loss.item(), rtol=RTOL)
    _assert_grad_close(grad, p_t.grad.numpy())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(NAMES))
def test_against_jax_grad(case, reduction):
    y, p, options = _data(case)
    fl_options, weights, included, divisor = _weighting(case, y, options, reduction)
    value, grad = value_and_grad(NAMES[case], y, p, **fl_options)

    y_j = jnp.asarray(y)
    w_j, keep = jnp.asarray(weights), np.flatnonzero(included)

    def loss(x):
        return (jax_rows(case, y_j, x, options) * w_j)[keep].sum() / divisor

    expected_value, expected_grad = jax.value_and_grad(loss)(jnp.asarray(p))
    np.testing.assert_allclose(value, float(expected_value), rtol=RTOL)
    _assert_grad_close(grad, expected_grad)


@pytest.mark.parametrize("case", ["bce_logits", "cce_logits", "mse"])
def test_reduction_none_is_the_gradient_of_the_sum_of_rows(case):
    y, p, options = _data(case, seed=4)
    values, grad = value_and_grad(NAMES[case], y, p, reduction="none", **options)
    p_t = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    rows = torch_rows(case, torch.from_numpy(y), p_t, options)
    rows.sum().backward()
    np.testing.assert_allclose(values, rows.detach().numpy(), rtol=RTOL)
    _assert_grad_close(grad, p_t.grad.numpy())
