"""fastloss against torch.nn.functional (float64, to 1e-12) where the two conventions compute the same thing.

* ``cross_entropy(logits, labels, weight=w)``: ``'mean'`` divides by the sum of the selected class weights
  (SEMANTICS §5), fastloss's sparse crossentropy with ``class_weight=w`` and "mean_with_sample_weight";
  ``ignore_index`` is ``ignore_class``. The class axis is 1 in torch and last in fastloss.
* ``cross_entropy`` with probability targets or ``label_smoothing`` (no weights): fastloss's categorical
  crossentropy from logits; torch's ``'mean'`` is the mean over positions, fastloss's default.
* ``binary_cross_entropy_with_logits``: elementwise; fastloss's per-row value is the mean over the last axis,
  so torch's ``reduction='none'`` is averaged over the last axis; torch's ``'mean'`` (over every element) is
  fastloss's "sum_over_all_rows" (S / R), also with ``weight=`` (pre-weighted, not in the divisor).
* ``mse_loss`` / ``l1_loss`` with ``weight=``: ``Σ w·e / Σ w``, fastloss's "mean_with_sample_weight".
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastloss  # noqa: E402
import torch.nn.functional as F  # noqa: E402

RTOL = 1e-12


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _val(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def assert_rows_close(actual, expected, z):
    """rtol 1e-12, plus the float64 conditioning of a per-row loss from logits: logsumexp(z) - z_y (and the
    log-sigmoid form) cancel terms of size |z|, so either side may be off by about eps64 * max|z| of the row
    (measured against mpmath: fastloss 0.83x, torch 0.53x that). Sums of rows are compared with rtol alone."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    atol = 4 * np.finfo(np.float64).eps * (1.0 + np.max(np.abs(z), axis=-1))
    bad = np.abs(actual - expected) > RTOL * np.abs(expected) + atol
    assert not bad.any(), f"rows {np.argwhere(bad)[:5].tolist()}: {actual[bad][:5]} != {expected[bad][:5]}"


def _classes_last_to_1(x):
    """(N, d..., K) -> (N, K, d...), torch's layout."""
    return np.moveaxis(x, -1, 1)


# ---------------------------------------------------------------------------------------------------------------
# cross_entropy with class indices
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [(64,), (6, 5), (3, 4, 5)], ids=lambda r: "x".join(map(str, r)))
@pytest.mark.parametrize("ignore", [None, -100, 2], ids=["no-ignore", "ignore-padding", "ignore-class-2"])
@pytest.mark.parametrize("weighted", [True, False], ids=["class-weight", "no-weight"])
def test_cross_entropy_matches_torch(rows, ignore, weighted):
    rng = np.random.default_rng(len(rows) * 10 + (ignore or 0) % 7)
    K = 5
    z = rng.normal(0.0, 4.0, rows + (K,))
    z.reshape(-1)[rng.random(z.size) < 0.02] = 60.0  # large logits: both sides use a stable log-softmax
    y = rng.integers(0, K, rows)
    if ignore is not None:
        y[rng.random(rows) < 0.25] = ignore
    w = rng.uniform(0.1, 3.0, K) if weighted else None
    if weighted:
        w[3] = 0.0  # a zero class weight

    kw = dict(from_logits=True)
    if w is not None:
        kw["class_weight"] = w
    if ignore is not None:
        kw["ignore_class"] = ignore
    torch_kw = dict(weight=T(w) if w is not None else None, ignore_index=ignore if ignore is not None else -100)
    zt, yt = T(_classes_last_to_1(z)), T(y)

    mean_ref = float(F.cross_entropy(zt, yt, reduction="mean", **torch_kw))
    assert fastloss.sparse_categorical_crossentropy(
        y, z, reduction="mean_with_sample_weight", **kw
    ) == pytest.approx(mean_ref, rel=RTOL)
    sum_ref = float(F.cross_entropy(zt, yt, reduction="sum", **torch_kw))
    assert fastloss.sparse_categorical_crossentropy(y, z, reduction="sum", **kw) == pytest.approx(sum_ref, rel=RTOL)
    none_ref = _val(F.cross_entropy(zt, yt, reduction="none", **torch_kw))
    assert_rows_close(fastloss.sparse_categorical_crossentropy(y, z, reduction="none", **kw), none_ref, z)
    # nll_loss on log-probabilities is the same quantity
    logp = torch.log_softmax(zt, dim=1)
    assert float(F.nll_loss(logp, yt, reduction="mean", **torch_kw)) == pytest.approx(mean_ref, rel=RTOL)


def test_cross_entropy_class_weight_dict_equals_array():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(30, 3))
    y = rng.integers(0, 3, 30)
    w = np.array([0.2, 1.0, 4.0])
    ref = float(F.cross_entropy(T(z), T(y), weight=T(w)))
    for cw in (w, {0: 0.2, 1: 1.0, 2: 4.0}):
        got = fastloss.sparse_categorical_crossentropy(
            y, z, from_logits=True, class_weight=cw, reduction="mean_with_sample_weight"
        )
        assert got == pytest.approx(ref, rel=RTOL)


def test_cross_entropy_all_ignored_is_nan_with_zero_division_nan():
    """torch gives NaN when every target is ignored; fastloss's zero_division="nan" is that convention."""
    z = np.random.default_rng(0).normal(size=(4, 3))
    y = np.full(4, -100)
    ref = float(F.cross_entropy(T(z), T(y), ignore_index=-100))
    got = fastloss.sparse_categorical_crossentropy(
        y, z, from_logits=True, ignore_class=-100, reduction="mean_with_sample_weight", zero_division="nan"
    )
    assert np.isnan(ref) and np.isnan(got)


# ---------------------------------------------------------------------------------------------------------------
# cross_entropy with probability targets and label smoothing (no class weights)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("rows", [(40,), (5, 6)], ids=lambda r: "x".join(map(str, r)))
def test_cross_entropy_probability_targets_and_smoothing(rows, smoothing):
    rng = np.random.default_rng(int(smoothing * 10) + len(rows))
    K = 4
    z = rng.normal(0.0, 3.0, rows + (K,))
    labels = rng.integers(0, K, rows)
    onehot = np.eye(K)[labels]
    soft = rng.dirichlet(np.ones(K), rows)
    zt = T(_classes_last_to_1(z))
    for target_np, target_t in ((onehot, T(labels)), (soft, T(_classes_last_to_1(soft)))):
        ref_none = _val(F.cross_entropy(zt, target_t, reduction="none", label_smoothing=smoothing))
        got_none = fastloss.categorical_crossentropy(
            target_np, z, from_logits=True, label_smoothing=smoothing, reduction="none"
        )
        assert_rows_close(got_none, ref_none, z)
        ref_mean = float(F.cross_entropy(zt, target_t, label_smoothing=smoothing))
        got_mean = fastloss.categorical_crossentropy(target_np, z, from_logits=True, label_smoothing=smoothing)
        assert got_mean == pytest.approx(ref_mean, rel=RTOL)


# ---------------------------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits / binary_cross_entropy
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighting", ["none", "sample_weight", "sample_weight_and_mask"])
@pytest.mark.parametrize("shape", [(50, 1), (20, 6), (4, 5, 3)], ids=lambda s: "x".join(map(str, s)))
def test_bce_with_logits_matches_torch(shape, weighting):
    rng = np.random.default_rng(shape[-1] * 7 + len(weighting))
    z = rng.normal(0.0, 4.0, shape)
    z.reshape(-1)[rng.random(z.size) < 0.05] = rng.choice([50.0, -50.0, 1e3, -1e3])  # exact on both sides
    y = rng.integers(0, 2, shape).astype(np.float64)
    y.reshape(-1)[rng.random(y.size) < 0.2] = 0.3  # soft targets
    rows = shape[:-1]
    kw, tw = {}, np.ones(rows)
    if weighting != "none":
        sw = rng.uniform(0.0, 2.0, rows[:1])
        sw[0] = 0.0
        kw["sample_weight"] = sw
        tw = tw * sw.reshape(sw.shape + (1,) * (len(rows) - 1))
    if weighting == "sample_weight_and_mask":
        m = rng.random(rows) < 0.7
        kw["mask"] = m
        tw = tw * m  # torch: the pre-weighted loss with masked entries weighted 0
    weight_t = T(np.broadcast_to(tw[..., None], shape).copy())
    zt, yt = T(z), T(y)

    per_elem = _val(F.binary_cross_entropy_with_logits(zt, yt, weight=weight_t, reduction="none"))
    assert_rows_close(
        fastloss.binary_crossentropy(y, z, from_logits=True, reduction="none", **kw), per_elem.mean(axis=-1), z
    )
    # torch 'mean' = mean over every element = fastloss S / R (rows, mask ignored)
    ref_mean = float(F.binary_cross_entropy_with_logits(zt, yt, weight=weight_t, reduction="mean"))
    got = fastloss.binary_crossentropy(y, z, from_logits=True, reduction="sum_over_all_rows", **kw)
    assert got == pytest.approx(ref_mean, rel=RTOL)
    # torch 'sum' sums the K entries of a row; fastloss sums the per-row means
    ref_sum = float(F.binary_cross_entropy_with_logits(zt, yt, weight=weight_t, reduction="sum"))
    got = fastloss.binary_crossentropy(y, z, from_logits=True, reduction="sum", **kw)
    assert got == pytest.approx(ref_sum / shape[-1], rel=RTOL)
    if weighting == "none":
        # without weights or mask, fastloss's default (S / V) is torch's 'mean' too
        assert fastloss.binary_crossentropy(y, z, from_logits=True) == pytest.approx(ref_mean, rel=RTOL)


def test_bce_probabilities_matches_torch_inside_the_clip_range():
    """torch clamps log at -100, fastloss clips p to [1e-7, 1 - 1e-7]: the same where p lies inside."""
    rng = np.random.default_rng(12)
    p = rng.uniform(1e-6, 1 - 1e-6, (30, 4))
    y = rng.integers(0, 2, (30, 4)).astype(np.float64)
    ref = _val(F.binary_cross_entropy(T(p), T(y), reduction="none")).mean(axis=-1)
    np.testing.assert_allclose(fastloss.binary_crossentropy(y, p, reduction="none"), ref, rtol=RTOL)


# ---------------------------------------------------------------------------------------------------------------
# mse_loss / l1_loss with weight=
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(60, 1), (25, 3)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name, fn", [("mean_squared_error", F.mse_loss), ("mean_absolute_error", F.l1_loss)],
                         ids=["mse_loss", "l1_loss"])
def test_regression_with_weight_matches_torch(name, fn, shape):
    rng = np.random.default_rng(shape[0])
    y, p = rng.normal(0.0, 3.0, shape), rng.normal(0.0, 3.0, shape)
    w = rng.uniform(0.0, 2.0, shape[0])
    w[rng.random(shape[0]) < 0.2] = 0.0
    wt = T(np.broadcast_to(w[:, None], shape).copy())
    ref = float(fn(T(p), T(y), weight=wt))  # torch's order: (input, target)
    assert fastloss.LOSSES[name](y, p, sample_weight=w, reduction="mean_with_sample_weight") == pytest.approx(
        ref, rel=RTOL
    )
    # unweighted: torch 'mean' over elements = fastloss's default
    assert fastloss.LOSSES[name](y, p) == pytest.approx(float(fn(T(p), T(y))), rel=RTOL)
    ref_sum = float(fn(T(p), T(y), weight=wt, reduction="sum"))
    assert fastloss.LOSSES[name](y, p, sample_weight=w, reduction="sum") == pytest.approx(
        ref_sum / shape[-1], rel=RTOL
    )


def test_torch_tensors_are_accepted_as_inputs():
    """The contract accepts CPU tensors: the same numbers as from the NumPy arrays."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(10, 3))
    y = rng.integers(0, 3, 10)
    w = np.array([1.0, 2.0, 0.5])
    a = fastloss.sparse_categorical_crossentropy(T(y), T(z), from_logits=True, class_weight=T(w).numpy(),
                                                 reduction="mean_with_sample_weight")
    b = float(F.cross_entropy(T(z), T(y), weight=T(w)))
    assert a == pytest.approx(b, rel=RTOL)
