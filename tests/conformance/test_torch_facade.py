"""fastloss.torch and its oracle against the real torch.nn.functional (torch 2.13).

Every façade function is called with torch's own arguments (same positions and keywords), once on NumPy arrays
(fastloss.torch and fastloss.oracle.torch) and once on tensors (torch). float64: ~1e-10 relative, plus the
float64 conditioning of a loss from logits (about eps·|input| per element, where torch's expression and ours
cancel differently). float32: torch computes in float32, fastloss in double from the same float32 values, so
they agree to ~1e-6 relative. torchvision is not installed: its sigmoid_focal_loss is transcribed below in
torch operations, line for line from torchvision/ops/focal_loss.py.
"""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

import fastloss.oracle.torch as oracle  # noqa: E402
import fastloss.torch as FT  # noqa: E402
from torch_cases import kl_div_case, poisson_case, signed_case  # noqa: E402


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    # torchvision/ops/focal_loss.py (pytorch/vision 148ddaaa5d27abc8300dbb4e689d1aea31892930)
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "none":
        pass
    elif reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


TORCH = {name: getattr(F, name) for name in FT.__all__ if name != "sigmoid_focal_loss"}
TORCH["sigmoid_focal_loss"] = torchvision_sigmoid_focal_loss


def _tensor(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value).reshape(value.shape))  # keeps 0-d arrays 0-d
    return value


def _logits(rng, shape, dtype, scale=3.0, extremes=(40.0, -40.0, 1e3)):
    z = rng.normal(0.0, scale, shape)
    pick = rng.random(shape) < 0.05
    z[pick] = rng.choice(extremes, int(pick.sum()))
    return z.astype(dtype)


def _weights(rng, n, dtype, zero=1):
    w = rng.uniform(0.2, 3.0, n)
    w[zero % n] = 0.0
    return w.astype(dtype)


def _ce(shape, *, weighted, ignore=None, smoothing=0.0, probabilities=False):
    def build(rng, dtype):
        C = shape[1] if len(shape) > 1 else shape[0]
        x = _logits(rng, shape, dtype)
        kw = {"label_smoothing": smoothing}
        if weighted:
            kw["weight"] = _weights(rng, C, dtype)
        if probabilities:
            positions = tuple(s for i, s in enumerate(shape) if i != (1 if len(shape) > 1 else 0))
            t = np.moveaxis(rng.dirichlet(np.ones(C), positions), -1, 1 if len(shape) > 1 else 0).astype(dtype)
            return "cross_entropy", (x, t), kw
        y = np.asarray(rng.integers(0, C, shape[:1] + shape[2:] if len(shape) > 1 else ()))
        if ignore is not None:
            y[rng.random(y.shape) < 0.3] = ignore
            kw["ignore_index"] = ignore
        return "cross_entropy", (x, y), kw
    return build


def _nll(shape, ignore):
    def build(rng, dtype):
        z = torch.from_numpy(_logits(rng, shape, np.float64))
        logp = torch.log_softmax(z, dim=1).numpy().astype(dtype)
        y = rng.integers(0, shape[1], shape[:1] + shape[2:])
        y[rng.random(y.shape) < 0.3] = ignore
        return "nll_loss", (logp, y), {"weight": _weights(rng, shape[1], dtype), "ignore_index": ignore}
    return build


def _bce(shape, weight_shape):
    def build(rng, dtype):
        p = rng.random(shape)
        pick = rng.random(shape) < 0.15
        p[pick] = rng.choice([0.0, 1.0, 1e-50, 1 - 1e-12], int(pick.sum()))  # the -100 clamp and near it
        y = rng.integers(0, 2, shape).astype(np.float64)
        y[rng.random(shape) < 0.2] = 0.25
        kw = {} if weight_shape is None else {"weight": rng.uniform(0, 2, weight_shape).astype(dtype)}
        return "binary_cross_entropy", (p.astype(dtype), y.astype(dtype)), kw
    return build


def _bce_logits(shape, weight_shape, pos_weight_shape):
    def build(rng, dtype):
        z = _logits(rng, shape, dtype, scale=5.0, extremes=(60.0, -60.0, 1e3, -1e3))
        y = rng.integers(0, 2, shape).astype(np.float64)
        y[rng.random(shape) < 0.2] = 0.6
        kw = {} if weight_shape is None else {"weight": rng.uniform(0, 2, weight_shape).astype(dtype)}
        if pos_weight_shape is not None:
            kw["pos_weight"] = rng.uniform(0, 4, pos_weight_shape).astype(dtype)
        return "binary_cross_entropy_with_logits", (z, y.astype(dtype)), kw
    return build


def _regression(name, shape, weighted=False, **extra):
    def build(rng, dtype):
        x = rng.normal(0, 2, shape).astype(dtype)
        t = rng.normal(0, 2, shape).astype(dtype)
        kw = dict(extra)
        if weighted:
            w = rng.uniform(0, 2, shape)
            w[rng.random(shape) < 0.3] = 0.0
            kw["weight"] = w.astype(dtype)
        return name, (x, t), kw
    return build


def _multilabel(shape, weight_shape):
    def build(rng, dtype):
        z = _logits(rng, shape, dtype)
        y = rng.integers(0, 2, shape).astype(dtype)
        kw = {} if weight_shape is None else {"weight": rng.uniform(0, 2, weight_shape).astype(dtype)}
        return "multilabel_soft_margin_loss", (z, y), kw
    return build


def _focal(shape, alpha, gamma):
    def build(rng, dtype):
        z = _logits(rng, shape, dtype, extremes=(30.0, -30.0))
        y = rng.integers(0, 2, shape).astype(dtype)
        return "sigmoid_focal_loss", (z, y), {"alpha": alpha, "gamma": gamma}
    return build


CASES = {
    "ce(N,C)": _ce((40, 5), weighted=False),
    "ce-weight-ignore(N,C,d1,d2)": _ce((4, 5, 3, 2), weighted=True, ignore=-100),
    "ce-ignore-valid-class": _ce((30, 4), weighted=True, ignore=1),
    "ce-smoothing": _ce((30, 4), weighted=False, ignore=-100, smoothing=0.2),
    "ce-smoothing-weight(N,C,d)": _ce((6, 4, 5), weighted=True, ignore=-100, smoothing=0.3),
    "ce-unbatched": _ce((6,), weighted=True, smoothing=0.1),
    "ce-probabilities": _ce((20, 4), weighted=False, probabilities=True),
    "ce-probabilities-weight-smoothing(N,C,d)": _ce((5, 4, 3), weighted=True, smoothing=0.25, probabilities=True),
    "nll(N,C,d)": _nll((6, 4, 5), ignore=-100),
    "nll-ignore-valid-class": _nll((20, 3), ignore=0),
    "bce": _bce((30, 3), None),
    "bce-weight(C,)": _bce((10, 4), (4,)),
    "bce-weight-elements(N,T,C)": _bce((3, 4, 2), (3, 4, 2)),
    "bce-logits": _bce_logits((30, 3), None, None),
    "bce-logits-weight(N,1)-pos_weight": _bce_logits((12, 4), (12, 1), (4,)),
    "bce-logits-weight-elements-pos_weight(N,T,C)": _bce_logits((3, 4, 5), (3, 4, 5), (5,)),
    "bce-logits-pos_weight-elements(N,T,C)": _bce_logits((3, 4, 5), None, (3, 4, 5)),
    "mse": _regression("mse_loss", (20, 3)),
    "mse-weight": _regression("mse_loss", (5, 4, 2), weighted=True),
    "l1-weight": _regression("l1_loss", (10, 3), weighted=True),
    "smooth_l1": _regression("smooth_l1_loss", (20, 3), beta=1.5),
    "smooth_l1-beta0": _regression("smooth_l1_loss", (20, 3), beta=0.0),
    "huber": _regression("huber_loss", (20, 3), delta=0.8),
    "huber-weight": _regression("huber_loss", (6, 5), weighted=True, delta=2.0),
    "kl_div": kl_div_case((10, 4), False),
    "kl_div-log_target(N,T,C)": kl_div_case((3, 4, 5), True),
    "poisson": poisson_case((20, 3), True, False),
    "poisson-full": poisson_case((20, 3), True, True),
    "poisson-no-log-full": poisson_case((10, 4), False, True),
    "hinge_embedding": signed_case("hinge_embedding_loss", (20, 3), margin=0.7),
    "soft_margin": signed_case("soft_margin_loss", (4, 5, 2)),
    "multilabel": _multilabel((12, 5), None),
    "multilabel-weight(N,T,C)": _multilabel((3, 4, 5), (5,)),
    "multilabel-sample-weight": _multilabel((6, 4), (6, 1)),
    "multilabel-element-weight(N,T,C)": _multilabel((3, 4, 5), (3, 4, 5)),
    "focal": _focal((20, 3), 0.25, 2),
    "focal-no-alpha-gamma0": _focal((20, 3), -1.0, 0.0),
    "focal-gamma1.5": _focal((4, 3, 2), 0.6, 1.5),
}


def _torch_value(name, args, kwargs, reduction):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning
        out = TORCH[name](*map(_tensor, args), reduction=reduction, **{k: _tensor(v) for k, v in kwargs.items()})
    return out.detach().numpy()


def _element_scale(x, shape):
    """|input| reduced to the shape of a 'none' output (positions of cross_entropy, samples of multilabel)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    if a.shape == tuple(shape):
        return a
    for axis in (1, -1, 0):
        if a.ndim and np.max(a, axis=axis % a.ndim).shape == tuple(shape):
            return np.max(a, axis=axis % a.ndim)
    return np.full(shape, np.max(a, initial=0.0))


def _check(got, ref, dtype, reduction, x, weight_scale):
    """rtol, plus per element the conditioning of a loss from logits: torch's expression and ours cancel terms of
    size |input| differently, so either may be off by a few eps·|input| (in the dtype torch computes in)."""
    float32 = np.dtype(dtype) == np.float32
    rtol = 1e-6 if float32 else 1e-10
    eps = np.finfo(np.float32 if float32 else np.float64).eps
    ref = np.asarray(ref)
    if reduction == "none":
        assert isinstance(got, np.ndarray) and got.shape == ref.shape and got.dtype == ref.dtype
        atol = 8 * eps * (1.0 + _element_scale(x, ref.shape)) * weight_scale
        bad = np.abs(got - ref) > rtol * np.abs(ref) + atol
        bad &= ~(np.isnan(got) & np.isnan(ref))
        assert not bad.any(), f"{got[bad][:5]} != {ref[bad][:5]}"
    else:
        assert isinstance(got, float)
        per_element = 8 * eps * (1.0 + np.abs(np.asarray(x, dtype=np.float64))) * weight_scale
        if reduction == "sum":
            atol = float(np.sum(per_element))
        else:  # a mean of per-element errors; 10x for a class-weighted divisor smaller than the count
            atol = 10 * float(np.mean(per_element)) if per_element.size else 0.0
        np.testing.assert_allclose(got, float(ref), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_facade_and_oracle_match_torch(case, dtype):
    rng = np.random.default_rng(sum(map(ord, case)))
    name, args, kwargs = CASES[case](rng, np.dtype(dtype))
    weights = [np.max(np.abs(v)) for v in kwargs.values() if isinstance(v, np.ndarray) and v.size]
    weight_scale = max([1.0] + [float(w) for w in weights])
    for reduction in ("mean", "sum", "none") + (("batchmean",) if name == "kl_div" else ()):
        ref = _torch_value(name, args, kwargs, reduction)
        _check(getattr(FT, name)(*args, reduction=reduction, **kwargs), ref, dtype, reduction, args[0], weight_scale)
        _check(getattr(oracle, name)(*args, reduction=reduction, **kwargs), ref, dtype, reduction, args[0],
               weight_scale)


def test_default_arguments_are_torchs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3))
    y = rng.integers(0, 3, 8)
    t = rng.random((8, 3))
    assert FT.cross_entropy(x, y) == pytest.approx(float(F.cross_entropy(_tensor(x), _tensor(y))), rel=1e-12)
    assert FT.huber_loss(x, t) == pytest.approx(float(F.huber_loss(_tensor(x), _tensor(t))), rel=1e-12)
    assert FT.poisson_nll_loss(x, t) == pytest.approx(float(F.poisson_nll_loss(_tensor(x), _tensor(t))), rel=1e-12)
    focal = FT.sigmoid_focal_loss(x, (t > 0.5).astype(float))
    np.testing.assert_allclose(
        focal, torchvision_sigmoid_focal_loss(_tensor(x), _tensor((t > 0.5).astype(float))).numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_and_empty_batches(weighted, smoothing):
    x = np.random.default_rng(0).normal(size=(4, 3))
    w = np.array([1.0, 2.0, 3.0]) if weighted else None
    kw = dict(weight=w, label_smoothing=smoothing)
    tkw = dict(weight=_tensor(w), label_smoothing=smoothing)
    for xs, ys in ((x, np.full(4, -100)), (np.zeros((0, 3)), np.zeros(0, dtype=np.int64))):
        for reduction in ("mean", "sum"):
            ref = float(F.cross_entropy(_tensor(xs), _tensor(ys), reduction=reduction, **tkw))
            for fn in (FT.cross_entropy, oracle.cross_entropy):
                got = fn(xs, ys, reduction=reduction, **kw)
                assert (np.isnan(ref) and np.isnan(got)) or got == ref, (fn, reduction, got, ref)


def test_every_selected_class_weight_zero_is_nan():
    x = np.random.default_rng(2).normal(size=(3, 3))
    y = np.array([1, 1, 1])
    w = np.array([1.0, 0.0, 2.0])
    ref = float(F.cross_entropy(_tensor(x), _tensor(y), weight=_tensor(w)))
    assert np.isnan(ref) and np.isnan(FT.cross_entropy(x, y, weight=w))
    assert np.isnan(oracle.cross_entropy(x, y, weight=w))


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
                                  "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "soft_margin_loss"])
def test_empty_elementwise_batches(name):
    empty = np.zeros((0, 3))
    for reduction in ("mean", "sum"):
        ref = float(_torch_value(name, (empty, empty), {}, reduction))
        got = getattr(FT, name)(empty, empty, reduction=reduction)
        assert (np.isnan(ref) and np.isnan(got)) or got == ref


DEGENERATE = [
    ("0-d pos_weight and weight", "binary_cross_entropy_with_logits", (np.array(0.3), np.array(1.0)),
     {"pos_weight": np.array(2.0), "weight": np.array(3.0)}),
    ("empty pos_weight path", "binary_cross_entropy_with_logits", (np.zeros((0, 3)), np.zeros((0, 3))),
     {"pos_weight": np.ones(3)}),
    ("no classes pos_weight", "binary_cross_entropy_with_logits", (np.zeros((2, 0)), np.zeros((2, 0))),
     {"pos_weight": np.ones(0)}),
    ("kl batchmean (N, 0)", "kl_div", (np.zeros((3, 0)), np.zeros((3, 0))), {}),
    ("kl batchmean (0, C)", "kl_div", (np.zeros((0, 2)), np.zeros((0, 2))), {}),
    ("kl batchmean 0-d", "kl_div", (np.array(0.3), np.array(0.5)), {}),
    ("multilabel empty", "multilabel_soft_margin_loss", (np.zeros((0, 3)), np.zeros((0, 3))), {}),
    ("ce no positions (N, C, 0)", "cross_entropy", (np.zeros((2, 3, 0)), np.zeros((2, 0), dtype=np.int64)), {}),
    ("ce unbatched probabilities", "cross_entropy", (np.array([0.5, -1.0, 2.0]), np.array([0.2, 0.3, 0.5])), {}),
]


@pytest.mark.parametrize("name, args, kwargs", [d[1:] for d in DEGENERATE], ids=[d[0] for d in DEGENERATE])
def test_degenerate_shapes(name, args, kwargs):
    for reduction in ("mean", "sum", "none") + (("batchmean",) if name == "kl_div" else ()):
        ref = _torch_value(name, args, kwargs, reduction)
        got = getattr(FT, name)(*args, reduction=reduction, **kwargs)
        assert np.shape(got) == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-12, equal_nan=True)


def test_weighted_mse_and_l1_all_zero_weights_are_nan_like_torch():
    x, t, w = np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2))
    for name in ("mse_loss", "l1_loss"):
        ref = float(_torch_value(name, (x, t), {"weight": w}, "mean"))
        assert np.isnan(ref) and np.isnan(getattr(FT, name)(x, t, weight=w))


def test_bce_extremes():
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-300, 1 - 1e-16])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    ref = F.binary_cross_entropy(_tensor(p), _tensor(y), reduction="none").numpy()
    np.testing.assert_array_equal(FT.binary_cross_entropy(p, y, reduction="none"), ref)  # exactly 100 and 0


def test_soft_margin_overflow_is_a_documented_difference():
    """torch's log1p(exp(-y·x)) overflows to inf; fastloss's softplus returns the finite value -y·x."""
    x, y = np.array([-800.0]), np.array([1.0])
    assert np.isinf(float(F.soft_margin_loss(_tensor(x), _tensor(y))))
    assert FT.soft_margin_loss(x, y) == 800.0


@pytest.mark.parametrize("name, warns", [("mse_loss", True), ("l1_loss", True), ("smooth_l1_loss", True),
                                         ("huber_loss", True), ("kl_div", False), ("poisson_nll_loss", False),
                                         ("hinge_embedding_loss", False), ("soft_margin_loss", False),
                                         ("multilabel_soft_margin_loss", False)])
def test_target_broadcasting_as_torch(name, warns):
    rng = np.random.default_rng(6)
    x, t = rng.uniform(0.1, 2, (5, 3)), rng.uniform(0.1, 2, 3)
    for reduction in ("none", "mean", "sum"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = getattr(FT, name)(x, t, reduction=reduction)
        assert any("target size" in str(w.message) for w in caught) == warns
        ref = _torch_value(name, (x, t), {}, reduction)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        np.testing.assert_allclose(getattr(oracle, name)(x, t, reduction=reduction), ref, rtol=1e-12)


def test_torch_tensors_are_accepted():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=(6, 4, 3))).requires_grad_(True)
    y = torch.from_numpy(rng.integers(0, 4, (6, 3)))
    w = torch.from_numpy(rng.uniform(size=4))
    ref = F.cross_entropy(x, y, weight=w, label_smoothing=0.1).item()
    assert FT.cross_entropy(x, y, weight=w, label_smoothing=0.1) == pytest.approx(ref, rel=1e-12)
    p = torch.rand(5, 2, dtype=torch.float32)
    t = (torch.rand(5, 2) > 0.5).float()
    got = FT.binary_cross_entropy(p, t, reduction="none")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, F.binary_cross_entropy(p, t, reduction="none").numpy(), rtol=2e-6)
