"""The overlap losses (dice, tversky) against the oracle, exact values, thread independence and bad input.

Rules under test (fastloss/overlap.py docstring): with ``I = Σ y·p`` over the overlap axes,
``dice = 1 - (2I + s)/(Σy + Σp + d)``, ``tversky = 1 - (I + s)/(I + α·Σy(1-p) + β·Σ(1-y)p + d)`` (α on the missed
positives, as Keras 3.15.1 computes), ``d = s if s > 0 else ε``. ``axis`` = a tuple: one row per combination of the
other axes; ``axis=None``: one batch value L, and every sample_weight entry carries L.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import oracle

LOSSES = ["dice", "tversky"]
SCALAR_REDUCTIONS = ["sum", "sum_over_batch_size", "mean", "sum_over_all_rows", "mean_with_sample_weight",
                     "weighted_mean", "sum_by_nonzero_weights", "keras_legacy"]
COUNT_FIELDS = ("count", "nonzero_rows", "rows", "weight_entries", "nonzero_weight_entries")
EPS64 = 1e-7


def make_data(shape, dtype, seed, soft=True):
    """Binary targets (a few soft ones) and predictions in [0, 1] with exact zeros and ones; sample 0 is empty."""
    rng = np.random.default_rng(seed)
    y = (rng.random(shape) < 0.4).astype(np.float64)
    if soft:
        pick = rng.random(shape) < 0.2
        y[pick] = rng.random(int(pick.sum()))
    p = rng.random(shape)
    p[rng.random(shape) < 0.15] = 0.0
    p[rng.random(shape) < 0.1] = 1.0
    p[rng.random(shape) < 0.05] = 1.7  # above 1: accepted, as in Keras
    y[0] = 0.0
    p[0] = 0.0
    return y.astype(dtype), p.astype(dtype)


def tolerance(dtype):
    return dict(rtol=1e-6, atol=1e-7) if np.dtype(dtype) == np.float32 else dict(rtol=1e-12, atol=1e-13)


def assert_matches(got, want, dtype, reduction):
    tol = tolerance(dtype)
    if reduction == "totals":
        for name in COUNT_FIELDS:
            assert getattr(got, name) == getattr(want, name), name
        np.testing.assert_allclose([got.weighted_sum, got.weight_sum], [want.weighted_sum, want.weight_sum], **tol)
    elif reduction in ("none", None):
        assert isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, **tol)
    else:
        assert isinstance(got, float)
        np.testing.assert_allclose(got, want, **tol)


LOSS_OPTIONS = [
    ("dice", {}),
    ("dice", {"smooth": 1.0}),
    ("tversky", {}),
    ("tversky", {"alpha": 0.7, "beta": 0.3}),
    ("tversky", {"alpha": 0.0, "beta": 2.0, "smooth": 0.5}),
]
# (axis, sample_weight kind, mask kind) on (N=5, H=3, W=4, C=2) inputs
LAYOUTS = [
    (None, None, None),
    (None, "sample", None),
    (None, "sample", "sample"),
    (None, "pixel", "pixel_mask"),
    (None, "scalar", None),
    ((1, 2, 3), None, None),
    ((1, 2, 3), "sample", "sample"),
    ((1, 2), "sample", None),  # rows (N, C): per-sample, per-channel
    ((1, 2), "sample_channel", "sample"),
    (-1, "pixel", "pixel_mask"),  # rows (N, H, W)
    ((3, 1), "sample", None),  # axes in any order
]


def weights_and_mask(kind, mask_kind, rng):
    weights = {
        None: None,
        "sample": np.array([0.0, 2.0, 0.5, 1.0, 3.0]),
        "pixel": rng.random((5, 3)) * (rng.random((5, 3)) < 0.8),
        "scalar": 2.5,
        "sample_channel": rng.random((5, 2)),
    }[kind]
    mask = {
        None: None,
        "sample": np.array([True, True, False, True, True]),
        "pixel_mask": rng.random((5, 3)) < 0.7,
    }[mask_kind]
    return weights, mask


@pytest.mark.parametrize("loss, options", LOSS_OPTIONS)
@pytest.mark.parametrize("axis, weight_kind, mask_kind", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_against_oracle_every_reduction(loss, options, axis, weight_kind, mask_kind, dtype, small_blocks):
    rng = np.random.default_rng(3)
    y, p = make_data((5, 3, 4, 2), dtype, seed=hash((loss, str(axis), weight_kind)) % 1000)
    sample_weight, mask = weights_and_mask(weight_kind, mask_kind, rng)
    y_before, p_before = y.copy(), p.copy()
    for reduction in SCALAR_REDUCTIONS + ["none", None, "totals"]:
        kwargs = dict(options, axis=axis, sample_weight=sample_weight, mask=mask, reduction=reduction)
        got = getattr(fastloss, loss)(y, p, n_threads=1, **kwargs)  # many small blocks; threads: test below
        want = getattr(oracle, loss)(y, p, **kwargs)
        assert_matches(got, want, dtype, reduction)
    assert np.array_equal(y, y_before) and np.array_equal(p, p_before)  # caller's arrays untouched


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("axis", [None, (1, 2), 1])
def test_thread_counts_and_blocks_give_the_same_bits(loss, axis, assert_same_bits):
    y, p = make_data((40, 6, 5), np.float64, seed=7)
    w = np.random.default_rng(1).random(40)

    def run(n_threads):
        totals = getattr(fastloss, loss)(y, p, axis=axis, sample_weight=w, reduction="totals", n_threads=n_threads)
        rows = getattr(fastloss, loss)(y, p, axis=axis, sample_weight=w, reduction="none", n_threads=n_threads)
        return totals, rows

    assert_same_bits(run)


@pytest.mark.parametrize("loss", LOSSES)
def test_one_d_inputs(loss):
    y, p = make_data((12,), np.float64, seed=2)
    y[0] = 1.0
    for axis in (None, 0, -1, (0,)):
        got = getattr(fastloss, loss)(y, p, axis=axis)
        assert got == pytest.approx(getattr(oracle, loss)(y, p, axis=axis), rel=1e-12)
    # axis 0 of a 1-D array is the whole array: the same single value as axis=None
    assert getattr(fastloss, loss)(y, p, axis=0) == pytest.approx(getattr(fastloss, loss)(y, p), rel=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# The SIMD row loop (fl_kernels.h): lanes, a tail of K mod 8 elements, rows longer than a block, K = 1 rows
# ---------------------------------------------------------------------------------------------------------------

ROW_LOOP_CASES = [  # (name, options): the losses, and the metrics whose rows share the sums
    ("dice", {}),
    ("tversky", {"alpha": 0.7, "beta": 0.3}),
    ("iou", {"threshold": 0.5}),
    ("dice_coefficient", {"threshold": None}),
]


def binary_targets(y):
    return (y >= 0.5).astype(y.dtype)


@pytest.mark.parametrize("name, options", ROW_LOOP_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("K", [3, 8, 37, 20483])
def test_row_loop_against_the_oracle_and_the_same_bits_everywhere(name, options, dtype, K, assert_same_bits):
    y, p = make_data((5, K), dtype, seed=K)
    if "threshold" in options and options["threshold"] is not None:
        y = binary_targets(y)
    w = np.array([1.0, 0.5, 0.0, 2.0, 1.0])
    fn = getattr(fastloss, name)

    def run(n_threads):
        return (fn(y, p, axis=1, sample_weight=w, reduction="totals", n_threads=n_threads, **options),
                fn(y, p, axis=1, sample_weight=w, reduction="none", n_threads=n_threads, **options))

    assert_same_bits(run)
    got = fn(y, p, axis=1, reduction="none", **options)
    assert_matches(got, getattr(oracle, name)(y, p, axis=1, reduction="none", **options), dtype, "none")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_batch_sums_over_one_element_rows(dtype, assert_same_bits):
    # axis=None over (N, H, W, 1): the whole-batch sums read N·H·W rows of one element, chunk by chunk.
    y, p = make_data((7, 33, 29, 1), dtype, seed=4)
    mask = np.random.default_rng(5).random((7, 33, 29)) < 0.9
    p[~mask] = -1.0  # excluded positions are never read
    for name in ("dice", "tversky"):
        fn = getattr(fastloss, name)
        assert_same_bits(lambda n_threads: (fn(y, p, mask=mask, reduction="totals", n_threads=n_threads),
                                            np.atleast_1d(fn(y, p, mask=mask, reduction="none",
                                                             n_threads=n_threads))))
        assert_matches(fn(y, p, mask=mask), getattr(oracle, name)(y, p, mask=mask), dtype, "sum")
    with pytest.raises(ValueError, match="non-negative"):
        fastloss.dice(y, p)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("where", [5, 20480, 20482])  # in the lanes, in the last lanes, in the tail
def test_first_bad_row_of_long_rows(loss, where):
    y, p = make_data((4, 20483), np.float64, seed=1)
    y[2, where] = 1.5   # a target outside [0, 1] late in row 2
    p[3, 0] = -0.25     # a negative prediction early in row 3
    fn = getattr(fastloss, loss)
    with pytest.raises(ValueError, match=r"y_true: .* row \(2,\) holds \[1.5\]"):
        fn(y, p, axis=1)
    with pytest.raises(ValueError, match="non-negative"):
        fn(y, p, axis=1, mask=[True, True, False, True])
    got = fn(y, p, axis=1, mask=[True, True, False, False], reduction="none")
    want = getattr(oracle, loss)(y, p, axis=1, mask=[True, True, False, False], reduction="none")
    assert_matches(got, want, np.float64, "none")


# ---------------------------------------------------------------------------------------------------------------
# Values derived by hand
# ---------------------------------------------------------------------------------------------------------------

# Keras's docstring example: two samples of 2x2x1
KERAS_Y = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
KERAS_P = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])


def test_dice_per_sample_hand_values():
    # sample 0: I = 1, Σy = 2, Σp = 2; sample 1: I = 0.4, Σy = 2, Σp = 1.3
    want = [1 - 2.0 / (4.0 + EPS64), 1 - 0.8 / (3.3 + EPS64)]
    got = fastloss.dice(KERAS_Y, KERAS_P, axis=(1, 2, 3), reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert fastloss.dice(KERAS_Y, KERAS_P, axis=(1, 2, 3)) == pytest.approx(sum(want) / 2, rel=1e-14)


def test_dice_batch_value_and_sample_weights_scale_it():
    # whole batch: I = 1.4, Σy = 4, Σp = 3.3
    L = 1 - 2.8 / (7.3 + EPS64)
    w = np.array([2.0, 0.5])
    assert fastloss.dice(KERAS_Y, KERAS_P) == pytest.approx(L, rel=1e-14)
    assert fastloss.dice(KERAS_Y, KERAS_P, reduction="sum") == pytest.approx(L, rel=1e-14)  # one entry, weight 1
    assert fastloss.dice(KERAS_Y, KERAS_P, sample_weight=w, reduction="sum") == pytest.approx(2.5 * L, rel=1e-14)
    assert fastloss.dice(KERAS_Y, KERAS_P, sample_weight=w) == pytest.approx(1.25 * L, rel=1e-14)
    assert fastloss.dice(KERAS_Y, KERAS_P, sample_weight=w,
                         reduction="mean_with_sample_weight") == pytest.approx(L, rel=1e-14)
    np.testing.assert_allclose(fastloss.dice(KERAS_Y, KERAS_P, sample_weight=w, reduction="none"), w * L,
                               rtol=1e-14)
    none = fastloss.dice(KERAS_Y, KERAS_P, reduction="none")
    assert none.shape == () and float(none) == pytest.approx(L, rel=1e-14)
    # the mask removes sample 1's positions from the sums and sample 1 from the weight entries
    L0 = 1 - 2.0 / (4.0 + EPS64)
    got = fastloss.dice(KERAS_Y, KERAS_P, sample_weight=w, mask=[True, False], reduction="sum")
    assert got == pytest.approx(2.0 * L0, rel=1e-14)


def test_tversky_alpha_weighs_the_missed_positives():
    # sample 1: I = 0.4, missed Σy(1-p) = 0.6 + 1 = 1.6, spurious Σ(1-y)p = 0.9
    got = fastloss.tversky(KERAS_Y, KERAS_P, alpha=0.7, beta=0.3, axis=(1, 2, 3), reduction="none")
    assert got[1] == pytest.approx(1 - 0.4 / (0.4 + 0.7 * 1.6 + 0.3 * 0.9 + EPS64), rel=1e-14)
    swapped = 1 - 0.4 / (0.4 + 0.3 * 1.6 + 0.7 * 0.9 + EPS64)
    assert abs(got[1] - swapped) > 1e-3
    # alpha = beta = 0.5 is not exactly dice: ε is added to a denominator half as large
    t = fastloss.tversky(KERAS_Y, KERAS_P, axis=(1, 2, 3), reduction="none")
    assert t[1] == pytest.approx(1 - 0.4 / (0.4 + 0.5 * 2.5 + EPS64), rel=1e-14)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("axis", [None, (1,)])
def test_empty_target_and_prediction(loss, axis):
    y = np.zeros((3, 4))
    fn = getattr(fastloss, loss)
    assert fn(y, y, axis=axis) == 1.0  # Keras: 0 / ε = 0, loss 1
    assert fn(y, y, axis=axis, smooth=1.0) == 0.0  # smooth replaces ε: s / s = 1, loss exactly 0
    assert fn(y, y, axis=axis, smooth=1e-3) == 0.0


def test_smooth_enters_numerator_and_denominator():
    y = np.array([[1.0, 0.0, 1.0]])
    p = np.array([[0.5, 0.5, 0.0]])
    assert fastloss.dice(y, p, smooth=2.0) == pytest.approx(1 - (1.0 + 2.0) / (3.0 + 2.0), rel=1e-15)
    assert fastloss.tversky(y, p, alpha=0.25, beta=0.75, smooth=2.0) == pytest.approx(
        1 - (0.5 + 2.0) / (0.5 + 0.25 * 1.5 + 0.75 * 0.5 + 2.0), rel=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("axis", [None, (1,)])
def test_negative_prediction_is_an_error(loss, axis):
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.5, 0.5], [-0.1, 0.5]])
    with pytest.raises(ValueError, match="non-negative"):
        getattr(fastloss, loss)(y, p, axis=axis)
    with pytest.raises(ValueError, match="y_pred"):
        getattr(oracle, loss)(y, p, axis=axis)
    # an excluded row is never read
    assert getattr(fastloss, loss)(y, p, axis=axis, mask=[True, False]) == pytest.approx(
        getattr(oracle, loss)(y, p, axis=axis, mask=[True, False]), rel=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bad", [1.5, -0.5])
def test_target_outside_unit_interval_is_an_error(loss, bad):
    y = np.array([[1.0, bad]])
    p = np.array([[0.5, 0.5]])
    for fn in (getattr(fastloss, loss), getattr(oracle, loss)):
        with pytest.raises(ValueError, match="y_true"):
            fn(y, p, axis=(1,))
    # the first *included* bad row is named (row 0 is masked)
    with pytest.raises(ValueError, match=rf"y_true: .*\[0, 1\].* row \(1,\) holds \[{bad}\]"):
        getattr(fastloss, loss)(np.vstack([y, y]), np.vstack([p, p]), axis=(1,), mask=[False, True])
    with pytest.raises(ValueError, match=rf"row \(1, 0\) holds \[{bad}\]"):  # axis=None: rows of the batch
        getattr(fastloss, loss)(np.stack([y * 0, y]), np.stack([p, p]))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("axis, error, match", [
    (3, ValueError, "axis: 3 is out of range"),
    (-4, ValueError, "out of range"),
    ((1, 1), ValueError, "repeated"),
    ((), ValueError, "non-empty"),
    ("1", TypeError, "axis"),
    (1.0, TypeError, "axis"),
    (True, TypeError, "axis"),
])
def test_bad_axis(loss, axis, error, match):
    y, p = make_data((2, 3, 4), np.float64, seed=0)
    for fn in (getattr(fastloss, loss), getattr(oracle, loss)):
        with pytest.raises(error, match=match):
            fn(y, p, axis=axis)


@pytest.mark.parametrize("name, value, error", [
    ("smooth", -1.0, ValueError), ("smooth", float("nan"), ValueError), ("smooth", "1", TypeError),
    ("smooth", True, TypeError), ("alpha", float("inf"), ValueError), ("beta", -0.1, ValueError),
    ("alpha", None, TypeError),
])
def test_bad_options(name, value, error):
    y, p = make_data((2, 3), np.float64, seed=0)
    fn = fastloss.dice if name == "smooth" else fastloss.tversky
    with pytest.raises(error, match=name):
        fn(y, p, **{name: value})


@pytest.mark.parametrize("loss", LOSSES)
def test_bad_shapes(loss):
    y, p = make_data((4, 3, 2), np.float64, seed=0)
    fn = getattr(fastloss, loss)
    with pytest.raises(ValueError, match="y_true"):
        fn(y[:, :2], p)
    with pytest.raises(ValueError, match="sample_weight"):
        fn(y, p, sample_weight=np.ones(3))  # axis=None: a leading prefix of y_pred's shape
    with pytest.raises(ValueError, match="sample_weight"):
        fn(y, p, axis=(1, 2), sample_weight=np.ones((4, 3)))  # rows are (4,)
    with pytest.raises(ValueError, match="mask"):
        fn(y, p, mask=np.ones(5, bool))
    with pytest.raises(ValueError, match="reduction"):
        fn(y, p, reduction="average")
    with pytest.raises(ValueError, match="y_pred"):
        fn(1.0, 0.5)


def test_registries():
    assert fastloss.LOSSES["dice"] is fastloss.dice and fastloss.LOSSES["tversky"] is fastloss.tversky
    assert oracle.LOSSES["dice"] is oracle.dice and oracle.LOSSES["tversky"] is oracle.tversky
    assert {"dice", "tversky"} <= set(fastloss.__all__)
