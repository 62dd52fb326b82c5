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


# ---------------------------------------------------------------------------------------------------------------
# Full-size blocks: the vector blocks compute the per-row weights of a chunk of rows at a time (fl_kernels.h's
# chunk_weights); a chunk holding a probability outside [0, 1] is redone by the row-by-row loop. Garbage probabilities
# in excluded rows send every chunk down that loop, so the two can be compared on the same rows.
# ---------------------------------------------------------------------------------------------------------------

def _full_size_case(K, dtype, mask_kind, seed):
    """(N, T) rows over several blocks and chunks (T = 9 runs straddle chunk ends). Included rows have classes 0 and
    2 only; excluded rows hold anything, class 1 (absent from the dict) and unreadable targets included."""
    rng = np.random.default_rng(seed)
    N, T = 2000, 9
    mask = rng.random((N, T) if mask_kind == "(N,T)" else (N,)) < 0.7
    included = expand(mask, (N, T))
    if K == 1:
        y = rng.choice([0.0, -0.5, 0.49, 0.5, 2.0, 1.5, 2.5], (N, T, 1))
        garbage = rng.choice([1.0, 0.7, 3.0, -1.0, np.nan, np.inf, -np.inf, 1e300, 2.0**51 + 2, 2.0**52 + 1,
                              -(2.0**52), -0.51], (N, T, 1))
        labels = np.round(np.where(included[..., None], y, garbage)[..., 0])
    else:
        cls = rng.choice([0, 2], (N, T))
        cls = np.where(included, cls, rng.integers(0, K + 2, (N, T)))
        y = np.eye(K + 2)[cls][..., :K]  # classes K, K + 1: all-zero rows, whose argmax is 0
        garbage = np.where(rng.random((N, T, 1)) < 0.1, np.nan, y)
        labels = np.argmax(np.where(included[..., None], y, garbage), axis=-1).astype(np.float64)
    with np.errstate(over="ignore"):  # 1e300 is inf in float32: garbage either way
        y = np.where(included[..., None], y, garbage).astype(dtype)
    p = rng.uniform(0.05, 0.95, (N, T, K)).astype(dtype)
    sw = rng.uniform(0.5, 2.0, N)
    sw[rng.random(N) < 0.1] = 0.0
    return y, p, sw, mask, included, labels


def _expected_e0(labels, sw_rows, table):
    valid = (labels >= 0) & (labels < table.size)
    cw = np.where(valid, table[np.where(valid, labels, 0).astype(np.int64)], np.nan)
    return int(np.count_nonzero(~np.isnan(cw) & (sw_rows * cw != 0)))


@pytest.mark.parametrize("mask_kind", ["(N,T)", "(N,)"])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_full_size_chunks_match_the_row_by_row_loop(K, dtype, mask_kind):
    y, p, sw, mask, included, labels = _full_size_case(K, dtype, mask_kind, seed=21)
    fn = fastloss.binary_crossentropy
    table = np.array([0.5, np.nan, 0.0, np.nan, np.nan, 1.0])  # the dict as the kernel reads it
    for cw in ({0: 0.5, 2: 0.0, 5: 1.0}, np.array([0.5, 7.0, 0.0])):
        t = table if isinstance(cw, dict) else cw
        kw = dict(class_weight=cw, sample_weight=sw, mask=mask)
        p_bad = p.copy()
        p_bad[~included] = 2.0  # excluded rows: every chunk goes row by row
        for n_threads in (1, 2):
            fast = fn(y, p, reduction="totals", n_threads=n_threads, **kw)
            slow = fn(y, p_bad, reduction="totals", n_threads=n_threads, **kw)
            context = f"{K=} {mask_kind} class_weight {type(cw).__name__} {n_threads=}"
            for f in ("count", "nonzero_rows", "nonzero_weight_entries", "rows", "weight_entries"):
                assert getattr(fast, f) == getattr(slow, f), f"{context} {f}"
            assert close(fast.weighted_sum, slow.weighted_sum) and close(fast.weight_sum, slow.weight_sum), context
            assert fast.count == int(included.sum())
            assert fast.nonzero_weight_entries == _expected_e0(labels, sw[:, None], t), context
            assert fn(y, p, reduction="none", n_threads=n_threads, **kw).tobytes() == \
                fn(y, p_bad, reduction="none", n_threads=n_threads, **kw).tobytes(), context
        # the explicit weight map takes the same vector path: the same bits (E0 differs by definition: the map's
        # entries of unreadable excluded rows are not zero)
        valid = (labels >= 0) & (labels < t.size)
        weight_map = sw[:, None] * np.where(valid, t[np.where(valid, labels, 0).astype(np.int64)], 0.0)
        by_map = fn(y, p, sample_weight=np.where(included, weight_map, 1.0), mask=mask, reduction="totals")
        fast = fn(y, p, reduction="totals", **kw)
        for f in ("weighted_sum", "weight_sum", "count", "nonzero_rows"):
            assert getattr(by_map, f) == getattr(fast, f), f"{K=} {mask_kind} {f}"


@pytest.mark.parametrize("K", [1, 4])
def test_full_size_chunks_report_the_first_failing_row(K):
    """Class 3 has no entry in a table of 3 weights; class 1 none in a dict without it. A probability outside [0, 1]
    in an included row fails too; whichever included row fails first is reported, garbage in excluded rows never."""
    y, p, sw, mask, included, _ = _full_size_case(K, np.float64, "(N,T)", seed=22)
    fn = fastloss.binary_crossentropy
    cw = np.array([0.5, 7.0, 0.0])
    # Two included rows in one chunk of the second block, after garbage in excluded rows.
    first = 4100 // K
    early, late = (tuple(int(i) for i in np.unravel_index(r, included.shape))
                   for r in np.argwhere(included.reshape(-1)[first:]).reshape(-1)[:2] + first)

    def with_class(at, c):
        y_c = y.copy()
        if K == 1:
            y_c[at] = c
        else:
            y_c[at] = np.eye(K)[c]
        return y_c

    def p_outside(at):
        p_c = p.copy()
        p_c[at] = 1.5
        return p_c

    kw = dict(sample_weight=sw, mask=mask)
    probability = r"y_pred: probabilities .* row \({}, {}\)"
    label = r"class_weight: label 3 at row \({}, {}\)"
    with pytest.raises(ValueError, match=probability.format(*early)):
        fn(with_class(late, 3), p_outside(early), class_weight=cw, **kw)
    with pytest.raises(ValueError, match=label.format(*early)):
        fn(with_class(early, 3), p_outside(late), class_weight=cw, **kw)
    with pytest.raises(ValueError, match=r"class_weight: classes \[1\] occur in y_true but are missing"):
        fn(with_class(early, 1), p_outside(late), class_weight={0: 0.5, 2: 0.0, 3: 1.0}, **kw)
    with pytest.raises(ValueError, match=probability.format(*early)):
        fn(with_class(late, 1), p_outside(early), class_weight={0: 0.5, 2: 0.0, 3: 1.0}, **kw)
