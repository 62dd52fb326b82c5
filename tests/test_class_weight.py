"""class_weight: the class of a row (sparse label; argmax of a one-hot/probability row, first maximum; round-half-
to-even of a K == 1 target) indexes the weights, on labels of any rank. Each case is compared with the explicit
per-row weight map built by hand and passed as sample_weight, which must give the same totals: the same S, W, V,
Z, and also E = R and E0 = #rows with a non-zero effective weight (CONTRACT, Totals).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import fastloss

SCALAR_REDUCTIONS = [r for r in fastloss.REDUCTIONS if r not in ("none", "totals")]


def close(a, b, rtol=1e-12):
    return math.isclose(a, b, rel_tol=rtol, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


def assert_same(fn, y, p, class_kw, map_kw, context):
    for r in fastloss.REDUCTIONS:
        got = fn(y, p, reduction=r, **class_kw)
        want = fn(y, p, reduction=r, **map_kw)
        if r == "none":
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=context)
        elif r == "totals":
            g, w = got.as_dict(), want.as_dict()
            for f in g:
                if f in ("weighted_sum", "weight_sum"):
                    assert close(g[f], w[f]), f"{context} Totals.{f}: {g[f]!r} != {w[f]!r}"
                else:
                    assert g[f] == w[f], f"{context} Totals.{f}: {g[f]} != {w[f]}"
        else:
            assert close(got, want), f"{context} {r}: {got!r} != {want!r}"


def expand(arr, rows):
    arr = np.asarray(arr)
    return np.broadcast_to(arr.reshape(arr.shape + (1,) * (len(rows) - arr.ndim)), rows)


def weight_variants(rows, rng):
    sw = rng.uniform(0.0, 2.0, rows[:1])
    sw[0] = 0.0
    mask = rng.random(rows[: min(2, len(rows))]) < 0.7
    return {
        "class_weight only": ({}, None),
        "with sample_weight (N,)": (dict(sample_weight=sw), expand(sw, rows)),
        "with scalar sample_weight": (dict(sample_weight=1.5), np.full(rows, 1.5)),
        "with sample_weight (N,) and mask": (dict(sample_weight=sw, mask=mask), expand(sw, rows)),
    }


def check_against_weight_map(fn, y, p, labels, cw_values, rows, params, context, n_classes=None):
    """class_weight (as array and as dict) == sample_weight = sw * cw[labels], for each weight/mask variant."""
    rng = np.random.default_rng(0)
    cw_values = np.asarray(cw_values, dtype=np.float64)
    cw_map = cw_values[labels]
    assert cw_map.shape == rows
    for label, (kw, sw_full) in weight_variants(rows, rng).items():
        weight_map = cw_map if sw_full is None else sw_full * cw_map
        map_kw = {**params, **{k: v for k, v in kw.items() if k != "sample_weight"}, "sample_weight": weight_map}
        for cw_label, cw in (("array", cw_values), ("dict", {c: float(v) for c, v in enumerate(cw_values)}),
                             ("dict, extra classes", {**{c: float(v) for c, v in enumerate(cw_values)}, 99: 5.0})):
            assert_same(fn, y, p, {**params, **kw, "class_weight": cw}, map_kw,
                        f"{context} class_weight {cw_label} {label}")


@pytest.mark.parametrize("rows", [(30,), (6, 7), (3, 4, 5)], ids=["(N,)", "(N,T)", "(N,H,W)"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_labels_any_rank(rows, from_logits, loss_data):
    fn = fastloss.sparse_categorical_crossentropy
    K = 4
    y, p, params = loss_data("sparse_categorical_crossentropy", rows, K, seed=1, from_logits=from_logits)
    cw = np.array([0.5, 2.0, 0.0, 1.25])  # class 2 has weight 0: E0 counts only the others
    check_against_weight_map(fn, y, p, y, cw, rows, params, f"sparse {rows}")
    # labels with a trailing size-1 axis
    check_against_weight_map(fn, y[..., None], p, y, cw, rows, params, f"sparse {rows} + (1,)")


@pytest.mark.parametrize("ignore_class", [1, -1])
def test_sparse_labels_with_ignore_class(ignore_class, loss_data):
    """Ignored rows are excluded like mask=False. E0 ignores the mask, so an ignored row with an in-range label
    still counts its class weight there; a padding label outside the table counts as weight 0."""
    fn = fastloss.sparse_categorical_crossentropy
    rows, K = (8, 6), 4
    y, p, params = loss_data("sparse_categorical_crossentropy", rows, K, seed=2)
    rng = np.random.default_rng(3)
    if ignore_class == -1:
        y = np.where(rng.random(rows) < 0.3, -1, y)
    cw = np.array([0.5, 2.0, 1.0, 3.0])
    cw_map = np.where(y >= 0, cw[np.clip(y, 0, K - 1)], 0.0)
    for r in fastloss.REDUCTIONS:
        got = fn(y, p, class_weight=cw, ignore_class=ignore_class, reduction=r, **params)
        want = fn(y, p, sample_weight=cw_map, mask=y != ignore_class, reduction=r, **params)
        if r == "none":
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        elif r == "totals":
            assert got.as_dict().keys() == want.as_dict().keys()
            for f, v in want.as_dict().items():
                assert close(getattr(got, f), v), f"ignore_class={ignore_class} Totals.{f}"
        else:
            assert close(got, want), f"ignore_class={ignore_class} {r}: {got!r} != {want!r}"


def one_hot_with_ties(rows, K, rng):
    """Soft targets whose argmax is known, including exact ties (the first maximum wins)."""
    labels = rng.integers(0, K, rows)
    y = rng.uniform(0.0, 0.3, rows + (K,))
    y[..., :] = np.where(np.arange(K) == labels[..., None], 0.9, y)
    tie = rng.random(rows) < 0.3
    later = np.minimum(labels + 1, K - 1)
    # tie the label's column with a later column: argmax stays at the label (first maximum)
    y_tied = y.copy()
    np.put_along_axis(y_tied, later[..., None], 0.9, axis=-1)
    y = np.where(tie[..., None], y_tied, y)
    assert np.array_equal(np.argmax(y, axis=-1), labels)
    return y, labels


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
                                  "mean_absolute_error"])
@pytest.mark.parametrize("rows", [(20,), (4, 5), (3, 4, 5)], ids=["(N,C)", "(N,T,C)", "(N,H,W,C)"])
def test_dense_targets_use_argmax(loss, rows, loss_data):
    fn = getattr(fastloss, loss)
    K = 5
    rng = np.random.default_rng(4)
    _, p, params = loss_data(loss, rows, K, seed=5)
    y, labels = one_hot_with_ties(rows, K, rng)
    cw = np.array([1.0, 0.25, 3.0, 0.0, 2.0])
    check_against_weight_map(fn, y, p, labels, cw, rows, params, f"{loss} soft targets {rows}")
    hard = np.eye(K)[labels]
    check_against_weight_map(fn, hard, p, labels, cw, rows, params, f"{loss} one-hot {rows}")


@pytest.mark.parametrize("squeezed", [False, True], ids=["y_true (...,1)", "y_true (...)"])
@pytest.mark.parametrize("rows", [(12,), (3, 4), (2, 3, 2)], ids=str)
def test_binary_targets_are_rounded(rows, squeezed, loss_data):
    """K == 1: the class is round-half-to-even(y_true): 0.2 -> 0, 0.5 -> 0, 0.8 -> 1, 1.0 -> 1."""
    fn = fastloss.binary_crossentropy
    rng = np.random.default_rng(6)
    y = rng.choice([0.0, 0.2, 0.5, 0.8, 1.0], rows + (1,))
    labels = np.round(y[..., 0]).astype(int)  # NumPy rounds half to even
    _, p, params = loss_data("binary_crossentropy", rows, 1, seed=7)
    yy = y[..., 0] if squeezed else y
    check_against_weight_map(fn, yy, p, labels, [0.75, 3.0], rows, params, f"bce rounded {rows}")


@pytest.mark.parametrize("loss", ["mean_squared_error", "mean_absolute_error"])
def test_regression_targets_are_rounded_half_to_even(loss, loss_data):
    fn = getattr(fastloss, loss)
    values = np.array([0.0, 0.5, 1.5, 2.5, 3.49, 3.5, 4.5, 0.51, 1.0, 2.0])
    expected = np.array([0, 0, 2, 2, 3, 4, 4, 1, 1, 2])
    assert np.array_equal(np.round(values), expected)
    y = values[:, None]
    _, p, params = loss_data(loss, (10,), 1, seed=8)
    check_against_weight_map(fn, y, p, expected, [1.0, 2.0, 3.0, 4.0, 5.0], (10,), params, f"{loss} rounded")


def test_dict_and_array_agree_on_every_reduction(loss_data):
    fn = fastloss.sparse_categorical_crossentropy
    y, p, params = loss_data("sparse_categorical_crossentropy", (5, 6), 3, seed=9)
    values = [2.0, 0.0, 0.5]
    for r in fastloss.REDUCTIONS:
        a = fn(y, p, class_weight=np.array(values), reduction=r, **params)
        d = fn(y, p, class_weight={0: 2.0, 1: 0.0, 2: 0.5}, reduction=r, **params)
        if r == "none":
            assert np.array_equal(a, d)
        else:
            assert a == d, r


def test_missing_class_allowed_in_excluded_rows(loss_data):
    """Only labels of included rows must be in the dict."""
    fn = fastloss.sparse_categorical_crossentropy
    y = np.array([0, 1, 2, 2])
    p = np.full((4, 3), 1 / 3)
    mask = np.array([True, True, False, False])
    got = fn(y, p, class_weight={0: 1.0, 1: 3.0}, mask=mask, reduction="sum")
    assert close(got, 4 * math.log(3.0))
    got = fn(y, p, class_weight={0: 1.0, 1: 3.0}, ignore_class=2, reduction="sum")
    assert close(got, 4 * math.log(3.0))


# ---------------------------------------------------------------------------------------------------------------
# compute_class_weight: scikit-learn's "balanced" weights n_samples / (n_classes * count), indexed by class.
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(50,), (6, 7), (3, 4, 5)], ids=str)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_compute_class_weight_balanced(shape, dtype):
    rng = np.random.default_rng(10)
    C = 4
    y = rng.integers(0, C, shape).astype(dtype)
    y.flat[:C] = np.arange(C)  # every class present
    counts = np.bincount(y.ravel(), minlength=C)
    expected = y.size / (C * counts.astype(np.float64))
    for classes in (None, np.arange(C), list(range(C))):
        got = fastloss.compute_class_weight(y, classes=classes)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        assert got.shape == (C,)
        np.testing.assert_allclose(got, expected, rtol=1e-15)
    # balanced weights give every class the same total weight, n / n_classes; W = n
    got = fastloss.compute_class_weight(y)
    np.testing.assert_allclose(np.bincount(y.ravel(), weights=got[y.ravel()], minlength=C), y.size / C)


def test_compute_class_weight_with_absent_labels():
    """Classes that do not occur are not counted in n_classes; present classes get n / (n_present * count)."""
    y = np.array([0, 2, 2, 5, 5, 5])
    got = fastloss.compute_class_weight(y)
    assert got.dtype == np.float64 and got.ndim == 1 and got.shape[0] >= 6
    for c, count in ((0, 1), (2, 2), (5, 3)):
        assert close(got[c], 6 / (3 * count)), c


def test_compute_class_weight_matches_sklearn():
    utils = pytest.importorskip("sklearn.utils.class_weight")
    rng = np.random.default_rng(11)
    y = rng.integers(0, 6, (7, 9))
    y.flat[:6] = np.arange(6)
    classes = np.unique(y)
    want = utils.compute_class_weight("balanced", classes=classes, y=y.ravel())
    np.testing.assert_allclose(fastloss.compute_class_weight(y, classes=classes)[classes], want, rtol=1e-15)
    np.testing.assert_allclose(fastloss.compute_class_weight(y)[classes], want, rtol=1e-15)


def test_compute_class_weight_feeds_class_weight(loss_data):
    y, p, params = loss_data("sparse_categorical_crossentropy", (40, 3), 5, seed=12)
    y.flat[:5] = np.arange(5)
    cw = fastloss.compute_class_weight(y)
    t = fastloss.sparse_categorical_crossentropy(y, p, class_weight=cw, reduction="totals", **params)
    assert close(t.weight_sum, float(y.size))  # balanced: Σ w = n


def test_e0_counts_padding_rows_as_zero():
    """E0 ignores the mask, but a row whose class has no weight (outside the array, missing from the dict, an
    ignored padding label) counts as weight 0, like a label out of range (CONTRACT, Totals)."""
    fn = fastloss.sparse_categorical_crossentropy
    p = np.full((4, 3), 1 / 3)
    y = np.array([0, 1, 2, 2])
    # dict without class 1; the class-1 row is masked: E0 = 3 (rows 0, 2, 3), V = 3
    t = fn(y, p, class_weight={0: 1.0, 2: 1.0}, mask=[True, False, True, True], reduction="totals")
    assert (t.count, t.weight_entries, t.nonzero_weight_entries) == (3, 4, 3)
    # array of length 2: class 2 is outside; masked rows: E0 = 2 (rows 0, 1)
    t = fn(y, p, class_weight=[1.0, 1.0], mask=[True, True, False, False], reduction="totals")
    assert (t.count, t.weight_entries, t.nonzero_weight_entries) == (2, 4, 2)
    # -1 padding ignored: E0 = 3; an in-range ignored class still counts its weight: E0 = 4
    t = fn(np.array([0, -1, 2, 2]), p, class_weight=[1.0, 1.0, 1.0], ignore_class=-1, reduction="totals")
    assert (t.count, t.weight_entries, t.nonzero_weight_entries) == (3, 4, 3)
    t = fn(y, p, class_weight=[1.0, 1.0, 1.0], ignore_class=1, reduction="totals")
    assert (t.count, t.weight_entries, t.nonzero_weight_entries) == (3, 4, 4)


# ---------------------------------------------------------------------------------------------------------------
# Every loss and metric that takes class_weight: per-pixel class weights on a segmentation map equal the explicit
# per-pixel weight map passed as sample_weight (dense (N, H, W, C) one-hot targets, sparse (N, H, W) labels).
# ---------------------------------------------------------------------------------------------------------------

def _takes_class_weight(fn):
    import inspect

    return "class_weight" in inspect.signature(fn).parameters


CLASS_WEIGHTED = sorted(name for name, fn in {**fastloss.LOSSES, **fastloss.METRICS}.items() if _takes_class_weight(fn))
SPARSE_LABELED = {"sparse_categorical_crossentropy", "categorical_generalized_cross_entropy",
                  "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"}


def test_class_weighted_list_is_complete():
    # The overlap losses and metrics are the only ones without class weights (a class of a whole map is undefined).
    assert {"binary_focal_crossentropy", "categorical_focal_crossentropy", "categorical_generalized_cross_entropy",
            "binary_accuracy", "sparse_top_k_categorical_accuracy", "kl_divergence"} <= set(CLASS_WEIGHTED)
    assert not {"dice", "tversky", "iou", "dice_coefficient"} & set(CLASS_WEIGHTED)


@pytest.mark.parametrize("name", CLASS_WEIGHTED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_pixel_class_weight_equals_the_weight_map(name, dtype):
    fn = {**fastloss.LOSSES, **fastloss.METRICS}[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # a fixed seed per loss
    N, H, W, C = 3, 5, 4, 5
    labels = rng.integers(0, C, (N, H, W))
    probs = rng.random((N, H, W, C)) + 0.05
    probs = (probs / probs.sum(-1, keepdims=True)).astype(dtype)
    class_weight = np.array([0.5, 2.0, 0.0, 1.25, 3.0])
    sample_weight = rng.random(N) + 0.5
    y_true = labels if name in SPARSE_LABELED else np.eye(C, dtype=dtype)[labels]
    weight_map = sample_weight[:, None, None] * class_weight[labels]  # (N, H, W): one weight per pixel
    mask = rng.random((N, H)) > 0.2
    assert_same(fn, y_true, probs, dict(class_weight=class_weight, sample_weight=sample_weight, mask=mask),
                dict(sample_weight=weight_map, mask=mask), f"{name} {np.dtype(dtype).name}")
    as_dict = {c: float(w) for c, w in enumerate(class_weight)}
    assert_same(fn, y_true, probs, dict(class_weight=as_dict), dict(sample_weight=class_weight[labels]),
                f"{name} dict {np.dtype(dtype).name}")
