"""Multi-label binary crossentropy: ``class_weight`` of shape (K, 2) (per-column negative/positive weights inside the
row mean) and ``pos_weight`` (PyTorch's), and ``compute_class_weight(..., multilabel=True)``.

Per element of column k, with y = y_true as given, ``y_s`` the smoothed label and p the clipped probability (or
σ(z) in the stable logit form)::

    c_k(y) = (1 - y)·w_neg[k] + y·w_pos[k]
    l = mean_k c_k(y)·-(pw[k]·y_s·log p + (1 - y_s)·log(1 - p))

The row weight stays the sample weight (times a per-row class weight only when class_weight is a dict or 1-D).
Checked against the oracle (every reduction, weights, masks, thread counts), against the explicit NumPy formula
written out here, and against plain binary_crossentropy where the weights are trivial.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import fastloss
from fastloss import oracle

ALL_REDUCTIONS = list(fastloss.REDUCTIONS) + [None]


def make_data(rows, K, dtype, from_logits, rng):
    shape = tuple(rows) + (K,)
    y = rng.integers(0, 2, shape).astype(np.float64)
    soft = rng.random(shape) < 0.2
    y[soft] = rng.random(int(soft.sum()))  # soft targets: the element weight interpolates
    if from_logits:
        p = rng.normal(0.0, 4.0, shape)
        pick = rng.random(shape) < 0.1
        p[pick] = rng.choice([0.0, 50.0, -50.0, 800.0, -800.0], int(pick.sum()))
    else:
        p = rng.random(shape)
        pick = rng.random(shape) < 0.1
        p[pick] = rng.choice([0.0, 1.0, 1e-9], int(pick.sum()))
    return y.astype(dtype), p.astype(dtype)


def make_options(kind, K, rng):
    cw = rng.uniform(0.0, 4.0, (K, 2))
    cw[0, 1] = 0.0
    pw = rng.uniform(0.0, 5.0, K)
    return {"class_weight": {"class_weight": cw},
            "pos_weight": {"pos_weight": pw},
            "pos_weight scalar": {"pos_weight": 2.5},
            "both": {"class_weight": cw, "pos_weight": pw, "label_smoothing": 0.2},
            "pos_weight + row class_weight": {"pos_weight": pw, "class_weight": {0: 0.5, 1: 2.0, 2: 1.0, 3: 0.0,
                                                                                4: 3.0}},
            }[kind]


KINDS = ["class_weight", "pos_weight", "pos_weight scalar", "both", "pos_weight + row class_weight"]
SHAPES = [((8,), 1), ((6,), 4), ((3, 4), 3), ((2, 3, 2), 5)]


def assert_same(got, want, context, rtol=1e-12):
    if isinstance(want, fastloss.Totals):
        g, w = got.as_dict(), want.as_dict()
        for name in g:
            if name in ("weighted_sum", "weight_sum"):
                assert math.isclose(g[name], w[name], rel_tol=rtol, abs_tol=1e-300), f"{context}: {name}"
            else:
                assert g[name] == w[name], f"{context}: {name} {g[name]} != {w[name]}"
    elif isinstance(want, np.ndarray):
        assert got.shape == want.shape and got.dtype == want.dtype, context
        np.testing.assert_allclose(got, want, rtol=rtol if want.dtype == np.float64 else 1e-6, atol=0,
                                   err_msg=context)
    else:
        assert type(got) is float, context
        assert math.isclose(got, want, rel_tol=rtol, abs_tol=1e-300), f"{context}: {got!r} != {want!r}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("rows, K", SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("kind", KINDS)
def test_matches_oracle(kind, rows, K, from_logits, dtype, small_blocks):
    rng = np.random.default_rng(zlib.crc32(repr((kind, rows, K, from_logits, dtype)).encode()))
    y, p = make_data(rows, K, dtype, from_logits, rng)
    options = make_options(kind, K, rng)
    sw = rng.uniform(0.0, 2.0, rows[:1])
    sw[0] = 0.0  # a zero weight
    mask = rng.random(rows) < 0.7
    weightings = [{}, {"sample_weight": sw}, {"mask": mask}, {"sample_weight": sw, "mask": mask}]
    for i, weighting in enumerate(weightings):
        kw = {**options, **weighting, "from_logits": from_logits, "n_threads": 1 + i % 3}
        for reduction in ALL_REDUCTIONS:
            want = oracle.binary_crossentropy(y, p, reduction=reduction, **kw)
            got = fastloss.binary_crossentropy(y, p, reduction=reduction, **kw)
            assert_same(got, want, f"{kind} {weighting.keys()} {reduction}")


def explicit_rows(y, p, *, w_neg, w_pos, pw, smoothing=0.0, from_logits=False, eps=1e-7):
    """The formula, written out element by element in plain Python (float64)."""
    out = []
    for y_row, p_row in zip(y.reshape(-1, y.shape[-1]), p.reshape(-1, p.shape[-1])):
        total = 0.0
        for k, (yk, pk) in enumerate(zip(y_row, p_row)):
            ys = yk * (1 - smoothing) + smoothing / 2
            if from_logits:
                log_p = -math.log1p(math.exp(-pk)) if pk >= 0 else pk - math.log1p(math.exp(pk))
                log_1mp = -pk + log_p  # log(1 - σ(z)) = log σ(z) - z
            else:
                pc = min(max(pk, eps), 1 - eps)
                log_p, log_1mp = math.log(pc), math.log(1 - pc)
            weight = (1 - yk) * w_neg[k] + yk * w_pos[k]
            total += weight * -(pw[k] * ys * log_p + (1 - ys) * log_1mp)
        out.append(total / y.shape[-1])
    return np.array(out).reshape(y.shape[:-1])


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_matches_explicit_formula(from_logits, smoothing):
    rng = np.random.default_rng(1)
    y, p = make_data((10,), 4, np.float64, from_logits, rng)
    cw = rng.uniform(0.0, 3.0, (4, 2))
    pw = rng.uniform(0.0, 3.0, 4)
    want = explicit_rows(y, p, w_neg=cw[:, 0], w_pos=cw[:, 1], pw=pw, smoothing=smoothing, from_logits=from_logits)
    for fn in (fastloss.binary_crossentropy, oracle.binary_crossentropy):
        got = fn(y, p, class_weight=cw, pos_weight=pw, label_smoothing=smoothing, from_logits=from_logits,
                 reduction="none")
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
        sw = rng.uniform(0.0, 2.0, 10)
        assert fn(y, p, class_weight=cw, pos_weight=pw, label_smoothing=smoothing, from_logits=from_logits,
                  sample_weight=sw, reduction="mean_with_sample_weight") == pytest.approx(sw @ want / sw.sum(),
                                                                                           rel=1e-12)


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_trivial_weights_give_plain_bce(from_logits):
    """Ones in the (K, 2) table and pos_weight = 1 give binary_crossentropy; a table of equal columns (c, c) scales
    it by c; y = 0 rows ignore w_pos and pos_weight."""
    rng = np.random.default_rng(2)
    y, p = make_data((20,), 3, np.float64, from_logits, rng)
    y = np.round(y)
    plain = fastloss.binary_crossentropy(y, p, from_logits=from_logits, reduction="none")
    for kw in ({"class_weight": np.ones((3, 2))}, {"pos_weight": np.ones(3)}, {"pos_weight": 1.0}):
        np.testing.assert_allclose(fastloss.binary_crossentropy(y, p, from_logits=from_logits, reduction="none", **kw),
                                   plain, rtol=1e-13, atol=1e-300)
    c = np.array([0.5, 2.0, 3.0])
    per_column = np.stack([fastloss.binary_crossentropy(y[:, k], p[:, k], from_logits=from_logits, reduction="none")
                           for k in range(3)], axis=1)
    np.testing.assert_allclose(
        fastloss.binary_crossentropy(y, p, from_logits=from_logits, reduction="none",
                                     class_weight=np.stack([c, c], axis=1)),
        np.mean(c * per_column, axis=1), rtol=1e-13, atol=1e-300)
    zeros = np.zeros_like(y)
    np.testing.assert_allclose(
        fastloss.binary_crossentropy(zeros, p, from_logits=from_logits, reduction="none",
                                     class_weight=np.array([[1.0, 9.0]] * 3), pos_weight=[7.0, 8.0, 9.0]),
        fastloss.binary_crossentropy(zeros, p, from_logits=from_logits, reduction="none"), rtol=1e-13, atol=1e-300)


def test_values_by_hand():
    # y = (1, 0), p = (0.5, 0.25); class_weight [[1, 4], [2, 1]]: c = (4, 2); pos_weight (3, 5):
    # (4·3·log 2 + 2·-log 0.75)/2
    y = np.array([[1.0, 0.0]])
    p = np.array([[0.5, 0.25]])
    want = (4 * 3 * math.log(2.0) + 2 * -math.log(0.75)) / 2
    for fn in (fastloss.binary_crossentropy, oracle.binary_crossentropy):
        got = fn(y, p, class_weight=[[1.0, 4.0], [2.0, 1.0]], pos_weight=[3.0, 5.0], reduction="sum")
        assert got == pytest.approx(want, rel=1e-14)
        # logits 0 -> 1/2 and log(1/3) -> 1/4
        z = np.array([[0.0, math.log(1 / 3)]])
        got = fn(y, z, from_logits=True, class_weight=[[1.0, 4.0], [2.0, 1.0]], pos_weight=[3.0, 5.0],
                 reduction="sum")
        assert got == pytest.approx(want, rel=1e-14)
        # soft target y = 0.25 in column 0: c = 0.75·1 + 0.25·4 = 1.75
        got = fn(np.array([[0.25]]), np.array([[0.5]]), class_weight=[[1.0, 4.0]], reduction="sum")
        assert got == pytest.approx(1.75 * math.log(2.0), rel=1e-14)
        # 1-D y_pred: N rows of one column, class_weight of shape (1, 2)
        got = fn(np.array([1.0, 0.0]), np.array([0.5, 0.5]), class_weight=[[2.0, 3.0]], reduction="none")
        np.testing.assert_allclose(got, [3 * math.log(2.0), 2 * math.log(2.0)], rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_bitwise_equal_across_threads_and_isa_levels(from_logits, dtype, assert_same_bits):
    rng = np.random.default_rng(3)
    y, p = make_data((97, 3), 6, dtype, from_logits, rng)
    kw = {**make_options("both", 6, rng), "from_logits": from_logits, "sample_weight": rng.random(97),
          "mask": rng.random((97, 3)) < 0.8}
    fn = fastloss.binary_crossentropy
    assert_same_bits(lambda n_threads: (fn(y, p, reduction="totals", n_threads=n_threads, **kw),
                                        fn(y, p, reduction="none", n_threads=n_threads, **kw)))


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------

Y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
P = np.array([[0.2, 0.7, 0.5], [0.6, 0.4, 0.1]])

BAD = [
    ("class_weight K mismatch", dict(class_weight=np.ones((2, 2))), ValueError, "class_weight"),
    ("class_weight (K, 3)", dict(class_weight=np.ones((3, 3))), ValueError, "class_weight"),
    ("class_weight NaN", dict(class_weight=[[1.0, np.nan]] * 3), ValueError, "class_weight"),
    ("class_weight 1-D y_pred K=1", dict(class_weight=np.ones((3, 2)), _one_d=True), ValueError, "class_weight"),
    ("pos_weight length", dict(pos_weight=np.ones(4)), ValueError, "pos_weight"),
    ("pos_weight 2-D", dict(pos_weight=np.ones((3, 1))), ValueError, "pos_weight"),
    ("pos_weight inf", dict(pos_weight=[1.0, np.inf, 1.0]), ValueError, "pos_weight"),
    ("pos_weight str", dict(pos_weight="2"), TypeError, "pos_weight"),
    ("probability > 1", dict(pos_weight=np.ones(3), _scale=2.0), ValueError, "y_pred"),
]


@pytest.mark.parametrize("module", [fastloss, oracle], ids=["fastloss", "oracle"])
@pytest.mark.parametrize("kw, exc_type, name", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_input(kw, exc_type, name, module):
    kw = dict(kw)
    y, p = (Y[:, 0], P[:, 0]) if kw.pop("_one_d", False) else (Y, P)
    p = p * kw.pop("_scale", 1.0)
    with pytest.raises(exc_type) as info:
        module.binary_crossentropy(y, p, **kw)
    assert name in str(info.value), str(info.value)


def test_inputs_not_modified():
    cw = np.ones((3, 2))
    pw = np.full(3, 2.0)
    y, p = Y.copy(), P.copy()
    fastloss.binary_crossentropy(y, p, class_weight=cw, pos_weight=pw)
    assert np.array_equal(y, Y) and np.array_equal(p, P)
    assert np.array_equal(cw, np.ones((3, 2))) and np.array_equal(pw, np.full(3, 2.0))


# ---------------------------------------------------------------------------------------------------------------
# compute_class_weight(multilabel=True)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["bool", "int64", "float32"])
@pytest.mark.parametrize("shape", [(40, 3), (5, 8, 4)], ids=str)
def test_compute_class_weight_multilabel(shape, dtype):
    rng = np.random.default_rng(4)
    y = (rng.random(shape) < np.linspace(0.1, 0.6, shape[-1])).astype(dtype)
    flat_y = y.reshape(-1, shape[-1])
    flat_y[0], flat_y[1] = 1, 0  # every label has both values
    flat = flat_y.astype(np.int64)
    got = fastloss.compute_class_weight(y, multilabel=True)
    assert got.shape == (shape[-1], 2) and got.dtype == np.float64
    n = flat.shape[0]
    for k in range(shape[-1]):
        positives = int(flat[:, k].sum())
        assert got[k, 0] == pytest.approx(n / (2 * (n - positives)), rel=1e-15)
        assert got[k, 1] == pytest.approx(n / (2 * positives), rel=1e-15)
        # balanced: each value of each label carries the same total weight n/2
        total = got[k, 0] * (n - positives) + got[k, 1] * positives
        assert total == pytest.approx(n, rel=1e-14)


def test_compute_class_weight_multilabel_matches_sklearn_per_label():
    utils = pytest.importorskip("sklearn.utils.class_weight")
    rng = np.random.default_rng(5)
    y = (rng.random((60, 4)) < 0.3).astype(int)
    y[0], y[1] = 1, 0
    got = fastloss.compute_class_weight(y, multilabel=True)
    for k in range(4):
        want = utils.compute_class_weight("balanced", classes=np.array([0, 1]), y=y[:, k])
        np.testing.assert_allclose(got[k], want, rtol=1e-15)


def test_compute_class_weight_multilabel_feeds_binary_crossentropy():
    rng = np.random.default_rng(6)
    y = (rng.random((30, 3)) < 0.4).astype(np.float64)
    y[0], y[1] = 1, 0
    p = rng.random((30, 3))
    cw = fastloss.compute_class_weight(y, multilabel=True)
    got = fastloss.binary_crossentropy(y, p, class_weight=cw, reduction="none")
    want = explicit_rows(y, p, w_neg=cw[:, 0], w_pos=cw[:, 1], pw=np.ones(3))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # a 1-D y: N samples of one label -> shape (1, 2), which fits a 1-D y_pred
    cw1 = fastloss.compute_class_weight(y[:, 0], multilabel=True)
    assert cw1.shape == (1, 2)
    assert np.isfinite(fastloss.binary_crossentropy(y[:, 0], p[:, 0], class_weight=cw1))


@pytest.mark.parametrize("y, kw, exc_type, match", [
    (np.array([[1, 0], [1, 1]]), {}, ValueError, r"labels \[0\] have no negative"),
    (np.array([[0, 0], [1, 0]]), {}, ValueError, r"labels \[1\] have no positive"),
    (np.array([[0, 2], [1, 0]]), {}, ValueError, "must be 0 or 1"),
    (np.array([[0.5, 1.0], [1.0, 0.0]]), {}, ValueError, "must be 0 or 1"),
    (np.array([[0, 1], [1, 0]]), {"classes": [0, 1]}, ValueError, "classes"),
    (np.zeros((0, 3)), {}, ValueError, "no labels"),
    (np.array(["a", "b"]), {}, TypeError, "y"),
], ids=["no negatives", "no positives", "value 2", "soft value", "classes given", "empty", "strings"])
def test_compute_class_weight_multilabel_errors(y, kw, exc_type, match):
    with pytest.raises(exc_type, match=match):
        fastloss.compute_class_weight(y, multilabel=True, **kw)
