"""A table of exact values, each derived by hand (the derivation is in the comment next to it).

The clip bounds follow CONTRACT.md: lo = dtype(1e-7), hi = dtype(1 - 1e-7), computed in the compute dtype and
then used as float64 (float32: hi = 1 - 2**-23, lo = 1.0000000116860974e-07; float64: lo = 1e-7,
hi = 0.9999999 whose complement 1 - hi is 9.999999994736442e-08, not 1e-7).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastloss

bce = fastloss.binary_crossentropy
cce = fastloss.categorical_crossentropy
scce = fastloss.sparse_categorical_crossentropy
mse = fastloss.mean_squared_error
mae = fastloss.mean_absolute_error

RTOL = 1e-13
# float32 inputs whose element math runs on float lanes (crossentropies' logs and exps, fl_vmath.h) carry float
# precision in each row value: two float ulps.
F32_RTOL = 2.0**-22
LN2 = math.log(2.0)

# ---------------------------------------------------------------------------------------------------------------
# SEMANTICS.md §7: N = 4 sequences of T = 2 steps, per-step losses l = |y_pred| with y_true = 0,
# l = [[1,3],[2,5],[4,6],[7,9]], per-sample weights w = [2,0,1,1], mask m = [[1,1],[1,0],[1,1],[1,0]].
# S = Σ w·m·l = 2·(1+3) + 0·2 + 1·(4+6) + 1·7 = 25;  V = Σ m = 6;  W = Σ w·m = 2·2 + 0·1 + 1·2 + 1·1 = 7;
# Z = included rows with w ≠ 0 = 2 + 0 + 2 + 1 = 5;  R = N·T = 8;  E = w.size = 4;  E0 = nnz(w) = 3.
# ---------------------------------------------------------------------------------------------------------------

L7 = np.array([[1.0, 3.0], [2.0, 5.0], [4.0, 6.0], [7.0, 9.0]])
Y7 = np.zeros((4, 2, 1))
P7 = L7[..., None]  # (4, 2, 1): rows (4, 2), K = 1, so l = |p| per row
W7 = np.array([2.0, 0.0, 1.0, 1.0])
M7 = np.array([[1, 1], [1, 0], [1, 1], [1, 0]], dtype=bool)

SECTION7 = {
    "sum": 25.0,
    "sum_over_batch_size": 25 / 6,  # tf.keras >= 2.10, Keras 3: S / V
    "mean": 25 / 6,
    "sum_over_all_rows": 25 / 8,  # tf.keras <= 2.9, torch (l*w*m).mean(): S / R
    "mean_with_sample_weight": 25 / 7,  # sklearn, torch l1_loss(weight=w*m): S / W
    "weighted_mean": 25 / 7,
    "sum_by_nonzero_weights": 25 / 5,  # TF1: S / Z = 5.0
    "keras_legacy": 100 / 18,  # Keras 2.2: S·E / (V·E0) = 25·4 / (6·3)
}


@pytest.mark.parametrize("reduction", list(SECTION7))
def test_section7_example(reduction):
    got = mae(Y7, P7, sample_weight=W7, mask=M7, reduction=reduction)
    assert type(got) is float
    assert got == pytest.approx(SECTION7[reduction], rel=RTOL)


def test_section7_totals_and_none():
    t = mae(Y7, P7, sample_weight=W7, mask=M7, reduction="totals")
    assert t == fastloss.Totals(weighted_sum=25.0, weight_sum=7.0, count=6, nonzero_rows=5, rows=8,
                                weight_entries=4, nonzero_weight_entries=3)
    # "none": w·l on included rows, 0 on excluded rows: [[2·1, 2·3], [0·2, masked], [4, 6], [7, masked]]
    none = mae(Y7, P7, sample_weight=W7, mask=M7, reduction="none")
    assert none.dtype == np.float64 and none.shape == (4, 2)
    np.testing.assert_array_equal(none, [[2.0, 6.0], [0.0, 0.0], [4.0, 6.0], [7.0, 0.0]])
    np.testing.assert_array_equal(mae(Y7, P7, sample_weight=W7, mask=M7, reduction=None), none)


def test_section7_variants():
    # The same losses squared: MSE l = [[1,9],[4,25],[16,36],[49,81]]; S = 2·(1+9) + 16 + 36 + 49 = 121.
    assert mse(Y7, P7, sample_weight=W7, mask=M7, reduction="sum") == 121.0
    assert mse(Y7, P7, sample_weight=W7, mask=M7, reduction="mean_with_sample_weight") == pytest.approx(121 / 7)
    # Keras metrics (masked, unweighted): Σ m·l / Σ m = (1+3+2+4+6+7) / 6 = 23/6.
    assert mae(Y7, P7, mask=M7) == pytest.approx(23 / 6, rel=RTOL)
    # No weights and no mask: E = E0 = R, so keras_legacy = S/R = mean = 37/8.
    assert mae(Y7, P7, reduction="keras_legacy") == pytest.approx(37 / 8, rel=RTOL)
    assert mae(Y7, P7) == pytest.approx(37 / 8, rel=RTOL)
    # Per-sample weights given as (N, T) = [[2,2],[0,0],[1,1],[1,1]]: E = 8, E0 = 6, so
    # keras_legacy = 25·8 / (6·6) = 50/9, while S, V, W, Z are unchanged.
    w_nt = np.repeat(W7[:, None], 2, axis=1)
    assert mae(Y7, P7, sample_weight=w_nt, mask=M7, reduction="keras_legacy") == pytest.approx(50 / 9, rel=RTOL)
    assert mae(Y7, P7, sample_weight=w_nt, mask=M7, reduction="mean_with_sample_weight") == pytest.approx(25 / 7)
    # (N, 1) weights are the (N,) weights: E = 4, E0 = 3.
    assert mae(Y7, P7, sample_weight=W7[:, None], mask=M7, reduction="keras_legacy") == pytest.approx(100 / 18)
    # A mask of shape (N,) = [1, 0, 1, 1] on rows (N, T): S = 2·4 + 10 + 16 = 34, V = 6, W = 2·2+1·2+1·2 = 8.
    m_n = np.array([1, 0, 1, 1], dtype=bool)
    assert mae(Y7, P7, sample_weight=W7, mask=m_n, reduction="sum") == 34.0
    assert mae(Y7, P7, sample_weight=W7, mask=m_n, reduction="mean_with_sample_weight") == pytest.approx(34 / 8)
    # Scalar weight 3: E = 1, E0 = 1; S = 3·23 = 69 over V = 6: keras_legacy = 69·1 / (6·1) = 11.5.
    assert mae(Y7, P7, sample_weight=3.0, mask=M7, reduction="keras_legacy") == pytest.approx(11.5, rel=RTOL)


# All weights zero (S = W = Z = E0 = 0, V = 6, R = 8) and all positions masked (S = W = Z = V = 0, R = 8, E0 = 3).
ZERO_CASES = {
    "all weights zero": dict(sample_weight=np.zeros(4), mask=M7),
    "all masked": dict(sample_weight=W7, mask=np.zeros((4, 2), bool)),
}
NONZERO_DENOMINATOR = {
    "all weights zero": {"sum", "sum_over_batch_size", "mean", "sum_over_all_rows"},
    "all masked": {"sum", "sum_over_all_rows"},
}


@pytest.mark.parametrize("zero_division", ["nan", "raise", 0.0, 42.5])
@pytest.mark.parametrize("case", list(ZERO_CASES))
def test_section7_zero_denominators(case, zero_division):
    for reduction in SECTION7:
        if reduction in NONZERO_DENOMINATOR[case]:
            # 0 over a non-zero count: 0 whatever the policy
            assert mae(Y7, P7, reduction=reduction, zero_division=zero_division, **ZERO_CASES[case]) == 0.0
        elif zero_division == "raise":
            with pytest.raises(ValueError, match="zero"):
                mae(Y7, P7, reduction=reduction, zero_division=zero_division, **ZERO_CASES[case])
        else:
            got = mae(Y7, P7, reduction=reduction, zero_division=zero_division, **ZERO_CASES[case])
            if zero_division == "nan":
                assert math.isnan(got), (case, reduction, got)
            else:
                assert got == zero_division, (case, reduction, got)
    t = mae(Y7, P7, reduction="totals", **ZERO_CASES[case])
    if case == "all weights zero":
        assert t == fastloss.Totals(0.0, 0.0, 6, 0, 8, 4, 0)
    else:
        assert t == fastloss.Totals(0.0, 0.0, 0, 0, 8, 4, 3)
    # the default policy is Keras 3's: 0.0
    assert mae(Y7, P7, reduction="mean_with_sample_weight", **ZERO_CASES[case]) == 0.0


# ---------------------------------------------------------------------------------------------------------------
# Single values
# ---------------------------------------------------------------------------------------------------------------

F32_HI = float(np.float32(1 - 1e-7))  # 1 - 2**-23 = 0.99999988079071044921875
F32_LO = float(np.float32(1e-7))  # 1.0000000116860974e-07
F64_HI = 1 - 1e-7  # 0.9999999 (nearest double)
F64_LO = 1e-7

EXACT = [
    # BCE at the clip bounds (SEMANTICS §7 single-number table: Keras 3 float32 gives 15.942 and 16.118)
    ("bce f32 y=0 p=1", lambda: bce(np.zeros(1, np.float32), np.ones(1, np.float32)),
     23 * LN2),  # -log(1 - hi32) = -log(2**-23) = 23 ln 2 = 15.942385152878742
    ("bce f32 y=1 p=0", lambda: bce(np.ones(1, np.float32), np.zeros(1, np.float32)),
     -math.log(F32_LO)),  # -log(float32(1e-7)) = 16.118095639272223
    ("bce f64 y=0 p=1", lambda: bce(np.zeros(1), np.ones(1)),
     -math.log(1 - F64_HI)),  # -log(9.999999994736442e-08) = 16.118095651484676
    ("bce f64 y=1 p=0", lambda: bce(np.ones(1), np.zeros(1)),
     7 * math.log(10)),  # -log(1e-7) = 16.11809565095832
    ("bce f32 y=1 p=1", lambda: bce(np.ones(1, np.float32), np.ones(1, np.float32)),
     -math.log(F32_HI)),  # -log(1 - 2**-23) ≈ 1.19e-7
    ("bce f16 y=0 p=1 (float32 bounds)", lambda: bce(np.zeros(1, np.float16), np.ones(1, np.float16)), 23 * LN2),
    # BCE on probabilities inside the bounds
    ("bce y=1 p=0.5", lambda: bce([[1.0]], [[0.5]]), LN2),
    ("bce y=(1,0) p=(0.5,0.25)", lambda: bce([[1.0, 0.0]], [[0.5, 0.25]]),
     (LN2 - math.log(0.75)) / 2),  # mean over K of -log 0.5 and -log(1 - 0.25)
    ("bce smoothing 0.2 y=1 p=0.9", lambda: bce([[1.0]], [[0.9]], label_smoothing=0.2),
     -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))),  # y_s = 1·0.8 + 0.1 = 0.9
    ("bce smoothing 0.1 y=1 p=0.5", lambda: bce([[1.0]], [[0.5]], label_smoothing=0.1), LN2),
    # BCE on logits: max(z,0) - z·y + log1p(exp(-|z|))
    ("bce logits z=0 y=1", lambda: bce([[1.0]], [[0.0]], from_logits=True), LN2),
    ("bce logits z=0 y=0.3", lambda: bce([[0.3]], [[0.0]], from_logits=True), LN2),
    ("bce logits z=0 f32 smoothing", lambda: bce(np.ones((3, 2), np.float32), np.zeros((3, 2), np.float32),
                                                 from_logits=True, label_smoothing=0.1), LN2),
    ("bce logits z=1000 y=1", lambda: bce([[1.0]], [[1000.0]], from_logits=True), 0.0),  # 1000 - 1000 + log1p(e^-1000)
    ("bce logits z=1000 y=0", lambda: bce([[0.0]], [[1000.0]], from_logits=True), 1000.0),
    ("bce logits z=-1000 y=1", lambda: bce([[1.0]], [[-1000.0]], from_logits=True), 1000.0),
    ("bce logits z=-50 y=0", lambda: bce([[0.0]], [[-50.0]], from_logits=True), math.log1p(math.exp(-50.0))),
    ("bce logits z=1000 y=1 smoothing 0.1", lambda: bce([[1.0]], [[1000.0]], from_logits=True, label_smoothing=0.1),
     1000.0 * (1 - 0.9500000000000001)),  # y_s = 0.9 + 0.05; 1000 - 1000·y_s = 50
    ("bce logits z=2 y=1", lambda: bce([[1.0]], [[2.0]], from_logits=True), math.log1p(math.exp(-2.0))),
    # CCE: uniform probabilities over K classes give log K (q = 1/K after normalising, inside the clip bounds)
    *[(f"cce uniform K={K}", (lambda K=K: cce(np.eye(K)[[0]], np.full((1, K), 1.0 / K))), math.log(K))
      for K in (2, 3, 5, 10)],
    *[(f"cce unnormalised uniform K={K}", (lambda K=K: cce(np.eye(K)[[K - 1]], np.full((1, K), 0.125))), math.log(K))
      for K in (2, 5)],
    ("cce uniform K=4 smoothing 0.1", lambda: cce(np.eye(4)[[2]], np.full((1, 4), 0.25), label_smoothing=0.1),
     math.log(4)),  # y_s sums to 1
    ("cce equal logits K=6", lambda: cce(np.eye(6)[[3]], np.zeros((1, 6)), from_logits=True), math.log(6)),
    ("cce probs (0.2,0.3,0.5) y=1", lambda: cce([[0.0, 1.0, 0.0]], [[0.2, 0.3, 0.5]]), -math.log(0.3)),
    ("cce soft y=(0.5,0.5,0) p=(0.25,0.25,0.5)", lambda: cce([[0.5, 0.5, 0.0]], [[0.25, 0.25, 0.5]]), math.log(4)),
    ("cce p=0 for the true class f32", lambda: cce(np.array([[1.0, 0.0]], np.float32),
                                                   np.array([[0.0, 1.0]], np.float32)), -math.log(F32_LO)),
    # SCCE
    ("scce logits (1,2,3) y=2", lambda: scce([2], [[1.0, 2.0, 3.0]], from_logits=True),
     math.log(1 + math.exp(-1) + math.exp(-2))),  # logsumexp(z) - z_2 = log(e^-2 + e^-1 + 1) = 0.4076059644443806
    ("scce logits (1,2,3) y=0", lambda: scce([0], [[1.0, 2.0, 3.0]], from_logits=True),
     2 + math.log(1 + math.exp(-1) + math.exp(-2))),  # 3 + log(...) - 1
    ("scce logits (0,0) y=1", lambda: scce([1], [[0.0, 0.0]], from_logits=True), LN2),
    ("scce logits (1000,0) y=1", lambda: scce([1], [[1000.0, 0.0]], from_logits=True), 1000.0),
    ("scce logits (1000,0) y=0", lambda: scce([0], [[1000.0, 0.0]], from_logits=True), 0.0),
    ("scce logits (-1000,-1000) y=0", lambda: scce([0], [[-1000.0, -1000.0]], from_logits=True), LN2),
    ("scce probs (0.1,0.1,0.2) y=2", lambda: scce([2], [[0.1, 0.1, 0.2]]), LN2),  # q = (1/4, 1/4, 1/2)
    ("scce probs (0.2,0.3,0.5) y=1", lambda: scce([1], [[0.2, 0.3, 0.5]]), -math.log(0.3)),
    ("scce probs p_y=0 f64", lambda: scce([0], [[0.0, 1.0]]), 7 * math.log(10)),  # -log(lo) = -log(1e-7)
    ("scce probs p_y=1 f64", lambda: scce([1], [[0.0, 1.0]]), -math.log(F64_HI)),
    ("scce two rows mean", lambda: scce([0, 1], [[0.5, 0.5], [0.25, 0.75]]), (LN2 - math.log(0.75)) / 2),
    # MSE / MAE
    ("mse", lambda: mse([[1.0, 2.0]], [[3.0, 5.0]]), 6.5),  # (4 + 9) / 2
    ("mae", lambda: mae([[1.0, 2.0]], [[3.0, 5.0]]), 2.5),  # (2 + 3) / 2
    ("mse 1-D rows", lambda: mse([1.0, 2.0, 4.0], [2.0, 2.0, 1.0]), 10 / 3),  # (1 + 0 + 9) / 3
    ("mae weighted sum", lambda: mae([0.0, 0.0], [1.0, -2.0], sample_weight=[3.0, 0.5], reduction="sum"), 4.0),
    ("mse ints", lambda: mse(np.array([[1, 2]]), np.array([[3, 5]])), 6.5),
]


@pytest.mark.parametrize("name, call, expected", EXACT, ids=[row[0] for row in EXACT])
def test_exact_value(name, call, expected):
    got = call()
    assert type(got) is float
    rtol = F32_RTOL if " f32" in name or " f16" in name else RTOL
    assert got == pytest.approx(expected, rel=rtol, abs=1e-15)


def test_float32_none_output_is_the_rounded_value():
    none = bce(np.array([[0.0], [1.0]], np.float32), np.array([[1.0], [0.0]], np.float32), reduction="none")
    assert none.dtype == np.float32 and none.shape == (2,)
    np.testing.assert_allclose(none, np.array([23 * LN2, -math.log(F32_LO)], dtype=np.float32), rtol=F32_RTOL)
    # scalars are not sums of the rounded float32 outputs (32.060480117..., 2e-8 off): pixels without weights of their
    # own take their totals from the log of their product in double, exact to a few double ulps here
    s = bce(np.array([[0.0], [1.0]], np.float32), np.array([[1.0], [0.0]], np.float32), reduction="sum")
    assert s == pytest.approx(23 * LN2 - math.log(F32_LO), rel=1e-15)
    assert s != float(none[0]) + float(none[1])


def test_keras_mean_over_last_axis_and_crossentropy_sum():
    """BCE, MSE, MAE average over the last axis; CCE sums the class terms (one row, K = 2)."""
    y, p = np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])
    assert bce(y, p) == pytest.approx(LN2, rel=RTOL)  # (ln 2 + ln 2) / 2
    assert cce(y, p) == pytest.approx(LN2, rel=RTOL)  # -1·ln 0.5 - 0·ln 0.5
    assert cce(np.array([[0.5, 0.5]]), p) == pytest.approx(LN2, rel=RTOL)  # 0.5·ln2 + 0.5·ln2


def test_label_smoothing_values():
    # CCE: y_s = y·(1-α) + α/K; K = 2, α = 0.2, y = (1, 0) -> y_s = (0.9, 0.1)
    got = cce([[1.0, 0.0]], [[0.8, 0.2]], label_smoothing=0.2)
    assert got == pytest.approx(-(0.9 * math.log(0.8) + 0.1 * math.log(0.2)), rel=RTOL)
    # CCE logits z = (0, ln 3): softmax = (1/4, 3/4); y = (0, 1), α = 0.2 -> y_s = (0.1, 0.9)
    got = cce([[0.0, 1.0]], [[0.0, math.log(3.0)]], from_logits=True, label_smoothing=0.2)
    assert got == pytest.approx(-(0.1 * math.log(0.25) + 0.9 * math.log(0.75)), rel=RTOL)
    # K = 4, α = 0.4: y_s = (0.7, 0.1, 0.1, 0.1) on p = (0.5, 0.25, 0.125, 0.125)
    got = cce([[1.0, 0.0, 0.0, 0.0]], [[0.5, 0.25, 0.125, 0.125]], label_smoothing=0.4)
    want = -(0.7 * math.log(0.5) + 0.1 * math.log(0.25) + 0.2 * math.log(0.125))
    assert got == pytest.approx(want, rel=RTOL)
    # BCE logits: y_s = y·(1-α) + α/2; y = 0, α = 0.2 -> y_s = 0.1; z = 2:
    # l = max(z,0) - z·y_s + log1p(e^-|z|) = 2 - 0.2 + log1p(e^-2)
    got = bce([[0.0]], [[2.0]], from_logits=True, label_smoothing=0.2)
    assert got == pytest.approx(1.8 + math.log1p(math.exp(-2.0)), rel=RTOL)


def test_class_weight_totals_by_hand():
    # SCCE, K = 2, uniform probabilities: every row loses ln 2. labels (0, 1, 1, 0), class weights (0, 2),
    # mask (1, 1, 0, 1): effective weights w = (0, 2, 2, 0).
    # Included rows 0, 1, 3: S = 2·ln 2, W = 2, V = 3, Z = 1; R = 4; class_weight given -> E = R = 4,
    # E0 = rows with w != 0, mask ignored = 2 (rows 1 and 2).
    y = np.array([0, 1, 1, 0])
    p = np.full((4, 2), 0.5)
    mask = np.array([1, 1, 0, 1], bool)
    t = scce(y, p, class_weight=[0.0, 2.0], mask=mask, reduction="totals")
    assert t.as_dict() == pytest.approx(dict(weighted_sum=2 * LN2, weight_sum=2.0, count=3, nonzero_rows=1, rows=4,
                                             weight_entries=4, nonzero_weight_entries=2), rel=RTOL)
    assert scce(y, p, class_weight=[0.0, 2.0], mask=mask, reduction="keras_legacy") == pytest.approx(
        2 * LN2 * 4 / (3 * 2), rel=RTOL)
    # With a scalar sample weight 2 as well: w = (0, 4, 4, 0); E = R = 4 still (class weights given), E0 = 2.
    t = scce(y, p, class_weight={0: 0.0, 1: 2.0}, sample_weight=2.0, mask=mask, reduction="totals")
    assert (t.weighted_sum, t.weight_sum, t.weight_entries, t.nonzero_weight_entries) == pytest.approx(
        (4 * LN2, 4.0, 4, 2), rel=RTOL)
    # Class weights (1, 2) and per-sample weights (0, 1, 1, 3): w = (0, 2, 2, 3). Included rows 0, 1, 3:
    # S = 2·ln 2 + 3·ln 2, W = 5, V = 3, Z = 2; E0 = 3 (rows 1, 2, 3; the mask is ignored).
    t = scce(y, p, class_weight=[1.0, 2.0], sample_weight=[0.0, 1.0, 1.0, 3.0], mask=mask, reduction="totals")
    assert (t.weighted_sum, t.weight_sum, t.count, t.nonzero_rows, t.nonzero_weight_entries) == pytest.approx(
        (2 * LN2 + 3 * LN2, 5.0, 3, 2, 3), rel=RTOL)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_float64_softplus_tails_down_to_the_subnormals(sign, each_isa_level):
    # A confident BCE-from-logits element is its softplus tail log1p(e^-|z|) = e^-|z| to double precision (from
    # |z| = 37 on, e^-|z| < 2^-53): the exp itself, over every binade of its normal results (its polynomial, < 1.06
    # ulp). Past |z| = 693 the exp scales by 2^(k + 128)·2^-128, past 708 its result is subnormal (accurate to
    # 2^-1074).
    z = np.concatenate([np.linspace(37.0, 680.0, 40001), np.linspace(680.0, 746.0, 4001)])
    y = np.full_like(z, 1.0 if sign > 0 else 0.0)
    want = np.array([math.exp(-v) for v in z])
    for level in each_isa_level():
        got = fastloss.binary_crossentropy(y[:, None], sign * z[:, None], from_logits=True, reduction="none")
        np.testing.assert_allclose(got, want, rtol=4e-16, atol=2.0**-1074, err_msg=level)


def lane_sum(terms):
    """fl_kernels.h's row-sum order (FL_LANE_SUM_OF): lane j adds the terms i ≡ j (mod 8) below the last multiple of
    8, in order, from 0; the rest adds in order from 0 (the tail); then ((l0 + l1) + (l2 + l3)) + ((l4 + l5) +
    (l6 + l7)) + tail."""
    n8 = len(terms) - len(terms) % 8
    lanes = [0.0] * 8
    for i in range(n8):
        lanes[i % 8] += terms[i]
    tail = 0.0
    for t in terms[n8:]:
        tail += t
    return (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))) + tail


def test_short_row_sums_keep_the_lane_order(each_isa_level):
    # The overlap sum of y over a row is its row sum in this order. The terms 1, 2^-53, 3·2^-54, ... round
    # differently in other orders (about half of these rows would differ from a sum in element order), so a row of
    # 8-15 terms, summed within the row by vectors (FL_HALF_TREES), must give exactly this value at every level.
    rng = np.random.default_rng(5)
    values = [1.0, 2.0**-53, 2.0**-52, 0.75, 3 * 2.0**-54, 0.5 + 2.0**-53]
    rows = [rng.choice(values, size=k) for k in range(1, 41) for _ in range(20)]
    for level in each_isa_level():
        for row in rows:
            got = fastloss.overlap.batch_sum(row[None, :], np.zeros((1, row.size)), y=1.0)
            assert got == lane_sum(row.tolist()), (level, row.tolist())
