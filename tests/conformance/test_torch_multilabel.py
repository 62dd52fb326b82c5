"""fastloss's multi-label binary crossentropy against torch.nn.functional (float64, to 1e-12).

* ``binary_cross_entropy_with_logits(z, y, pos_weight=pw)``: ``pw`` broadcasts along the last (label) axis, as
  fastloss's ``pos_weight`` of shape (K,). fastloss's per-row value is the mean over the last axis, so torch's
  ``reduction='none'`` is averaged over it; torch's ``'mean'`` (over every element) is fastloss's
  "sum_over_batch_size" without a mask (and "sum_over_all_rows", S / R, with per-sample ``weight=``, which is not
  in torch's divisor); torch's ``'sum'`` is K times fastloss's "sum".
* fastloss's ``class_weight`` of shape (K, 2) is torch's elementwise ``weight=`` built from the targets,
  ``(1 - y)·w_neg + y·w_pos``; a table of equal columns is ``multilabel_soft_margin_loss(weight=)``.
* On probabilities torch's ``binary_cross_entropy`` has no ``pos_weight`` and clamps the log at -100 instead of
  clipping p, so the probability form is checked against the explicit NumPy formula instead.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastloss  # noqa: E402
import torch.nn.functional as F  # noqa: E402

RTOL = 1e-12


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def _val(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def make(rows, K, seed, soft=False):
    rng = np.random.default_rng(seed)
    shape = tuple(rows) + (K,)
    z = rng.normal(0.0, 3.0, shape)
    z[rng.random(shape) < 0.05] = 40.0
    z[rng.random(shape) < 0.05] = -40.0
    y = rng.integers(0, 2, shape).astype(np.float64)
    if soft:
        y = np.where(rng.random(shape) < 0.3, rng.random(shape), y)
    return rng, y, z


def assert_close(actual, expected, z=None):
    """rtol 1e-12; per-row values from logits may also differ by a few eps64 times the logit size (the
    log-sigmoid forms cancel terms of size |z| differently)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    atol = 0.0 if z is None else 8 * np.finfo(np.float64).eps * (1.0 + np.max(np.abs(z)))
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=atol)


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
@pytest.mark.parametrize("rows, K", [((40,), 5), ((6, 7), 3), ((3, 4, 2), 4), ((30,), 1)],
                         ids=lambda v: str(v))
def test_pos_weight_matches_torch(rows, K, soft):
    rng, y, z = make(rows, K, seed=len(rows) * 10 + K, soft=soft)
    pw = rng.uniform(0.1, 5.0, K)
    fl = fastloss.binary_crossentropy
    expected_elements = _val(F.binary_cross_entropy_with_logits(T(z), T(y), pos_weight=T(pw), reduction="none"))
    assert_close(fl(y, z, from_logits=True, pos_weight=pw, reduction="none"), expected_elements.mean(axis=-1), z)
    mean = _val(F.binary_cross_entropy_with_logits(T(z), T(y), pos_weight=T(pw)))
    assert_close(fl(y, z, from_logits=True, pos_weight=pw), mean)
    total = _val(F.binary_cross_entropy_with_logits(T(z), T(y), pos_weight=T(pw), reduction="sum"))
    assert_close(K * fl(y, z, from_logits=True, pos_weight=pw, reduction="sum"), total)


@pytest.mark.parametrize("rows, K", [((25,), 4), ((5, 6), 3)], ids=lambda v: str(v))
def test_pos_weight_with_sample_weight_matches_torch_weight(rows, K):
    """torch's weight= of shape (N, 1, ..., 1) is fastloss's sample_weight (N,); 'mean' divides by every element."""
    rng, y, z = make(rows, K, seed=7)
    pw = rng.uniform(0.1, 5.0, K)
    sw = rng.uniform(0.0, 2.0, rows[0])
    sw[:3] = 0.0
    torch_weight = sw.reshape((rows[0],) + (1,) * len(rows))
    fl = fastloss.binary_crossentropy
    for reduction, fl_reduction, scale in (("mean", "sum_over_all_rows", 1), ("sum", "sum", K)):
        expected = _val(F.binary_cross_entropy_with_logits(T(z), T(y), weight=T(torch_weight), pos_weight=T(pw),
                                                           reduction=reduction))
        assert_close(scale * fl(y, z, from_logits=True, pos_weight=pw, sample_weight=sw, reduction=fl_reduction),
                     expected)


@pytest.mark.parametrize("with_pos_weight", [False, True], ids=["class_weight", "class_weight+pos_weight"])
@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_class_weight_table_is_torch_elementwise_weight(soft, with_pos_weight):
    rng, y, z = make((8, 5), 4, seed=11, soft=soft)
    cw = rng.uniform(0.0, 3.0, (4, 2))
    pw = rng.uniform(0.5, 4.0, 4) if with_pos_weight else None
    element_weight = (1 - y) * cw[:, 0] + y * cw[:, 1]
    expected = _val(F.binary_cross_entropy_with_logits(T(z), T(y), weight=T(element_weight),
                                                       pos_weight=None if pw is None else T(pw), reduction="none"))
    actual = fastloss.binary_crossentropy(y, z, from_logits=True, class_weight=cw, pos_weight=pw, reduction="none")
    assert_close(actual, expected.mean(axis=-1), z)
    expected_mean = _val(F.binary_cross_entropy_with_logits(T(z), T(y), weight=T(element_weight),
                                                            pos_weight=None if pw is None else T(pw)))
    assert_close(fastloss.binary_crossentropy(y, z, from_logits=True, class_weight=cw, pos_weight=pw), expected_mean)


def test_equal_columns_are_multilabel_soft_margin_loss_weight():
    rng, y, z = make((50,), 6, seed=12)
    w = rng.uniform(0.0, 2.0, 6)
    expected = _val(F.multilabel_soft_margin_loss(T(z), T(y), weight=T(w)))
    actual = fastloss.binary_crossentropy(y, z, from_logits=True, class_weight=np.stack([w, w], axis=1))
    assert_close(actual, expected)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_probabilities_match_explicit_formula(smoothing):
    """-(pw·y_s·log p_c + (1 - y_s)·log(1 - p_c))·((1 - y)·w_neg + y·w_pos), p_c = clip(p, 1e-7, 1 - 1e-7),
    written out with math.log; away from the clip bounds it is also torch's binary_cross_entropy with the
    element weight (torch has no pos_weight there)."""
    rng = np.random.default_rng(13)
    y = rng.integers(0, 2, (20, 3)).astype(np.float64)
    p = rng.uniform(0.01, 0.99, (20, 3))
    p[0, :] = [0.0, 1.0, 1e-9]  # clipped
    cw = rng.uniform(0.0, 3.0, (3, 2))
    pw = rng.uniform(0.5, 4.0, 3)
    want = np.zeros(20)
    for i in range(20):
        for k in range(3):
            ys = y[i, k] * (1 - smoothing) + smoothing / 2
            pc = min(max(p[i, k], 1e-7), 1 - 1e-7)
            weight = (1 - y[i, k]) * cw[k, 0] + y[i, k] * cw[k, 1]
            want[i] += weight * -(pw[k] * ys * math.log(pc) + (1 - ys) * math.log(1 - pc)) / 3
    actual = fastloss.binary_crossentropy(y, p, class_weight=cw, pos_weight=pw, label_smoothing=smoothing,
                                          reduction="none")
    np.testing.assert_allclose(actual, want, rtol=1e-13)
    if smoothing == 0.0:
        element_weight = (1 - y) * cw[:, 0] + y * cw[:, 1]
        torch_rows = _val(F.binary_cross_entropy(T(p[1:]), T(y[1:]), weight=T(element_weight[1:]),
                                                 reduction="none")).mean(axis=-1)
        np.testing.assert_allclose(fastloss.binary_crossentropy(y[1:], p[1:], class_weight=cw, reduction="none"),
                                   torch_rows, rtol=RTOL)
