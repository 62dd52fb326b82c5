"""fastloss.multi_output.total_loss: Σ_k loss_weight_k · L_k with per-output sample weights (Keras 3 CompileLoss).

Checked against the oracle, against the formula from the single-output losses, and for its argument rules: list or
dict outputs, loss_weights list / dict (every name required, as Keras), a shared or nested sample_weight, an
output's own options winning, scalar reductions only.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import oracle
from fastloss.multi_output import total_loss

RNG = np.random.default_rng(4)
N = 6
Y_REG = RNG.normal(size=(N, 3))
P_REG = RNG.normal(size=(N, 3))
Y_BIN = RNG.integers(0, 2, (N, 2)).astype(float)
P_BIN = RNG.random((N, 2))
LABELS = RNG.integers(0, 4, N)
P_CAT = RNG.random((N, 4))
Y_SEG = (RNG.random((N, 3, 3)) < 0.5).astype(float)
P_SEG = RNG.random((N, 3, 3))
W_A = RNG.random(N)
W_B = np.where(RNG.random(N) < 0.3, 0.0, RNG.random(N))


def outputs_list():
    return [
        ("mean_squared_error", Y_REG, P_REG),
        (fastloss.binary_crossentropy, Y_BIN, P_BIN, {"label_smoothing": 0.1}),
        ("sparse_categorical_crossentropy", LABELS, P_CAT),
        ("dice", Y_SEG, P_SEG, {"axis": (1, 2)}),
    ]


@pytest.mark.parametrize("loss_weights", [None, [0.3, 2.0, 1.0, 0.5], (1, 0, 0, 0)])
@pytest.mark.parametrize("sample_weight", [None, "shared", "nested"])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", "keras_legacy"])
def test_against_oracle_and_formula(loss_weights, sample_weight, reduction):
    outputs = outputs_list()
    sw = {None: None, "shared": W_A, "nested": [W_A, W_B, None, W_B]}[sample_weight]
    got, per_output = total_loss(outputs, loss_weights, sample_weight=sw, reduction=reduction, per_output=True)
    want = oracle.total_loss(outputs, loss_weights, sample_weight=sw, reduction=reduction)
    assert got == pytest.approx(want, rel=1e-12)

    weights = loss_weights or [1.0] * 4
    sws = sw if sample_weight == "nested" else [sw] * 4
    by_hand = []
    for (loss, y, p, *options), s in zip(outputs, sws):
        fn = fastloss.LOSSES[loss] if isinstance(loss, str) else loss
        by_hand.append(fn(y, p, sample_weight=s, reduction=reduction, **(options[0] if options else {})))
    assert list(per_output) == [0, 1, 2, 3]
    assert list(per_output.values()) == by_hand  # unweighted per-output values, as Keras logs them
    assert got == pytest.approx(sum(w * v for w, v in zip(weights, by_hand)), rel=1e-14)


def test_dict_outputs_and_weights():
    outputs = {"reg": ("mean_absolute_error", Y_REG, P_REG), "seg": ("tversky", Y_SEG, P_SEG, {"alpha": 0.7})}
    total, values = total_loss(outputs, {"seg": 2.0, "reg": 0.5}, sample_weight={"reg": W_A, "seg": W_B},
                               per_output=True)
    reg = fastloss.mean_absolute_error(Y_REG, P_REG, sample_weight=W_A)
    seg = fastloss.tversky(Y_SEG, P_SEG, alpha=0.7, sample_weight=W_B)
    assert values == {"reg": reg, "seg": seg}
    assert total == pytest.approx(0.5 * reg + 2.0 * seg, rel=1e-14)
    assert total == pytest.approx(oracle.total_loss(outputs, {"seg": 2.0, "reg": 0.5},
                                                    sample_weight={"reg": W_A, "seg": W_B}), rel=1e-12)


def test_output_options_win_over_shared_arguments():
    outputs = [("mean_squared_error", Y_REG, P_REG, {"sample_weight": W_B, "reduction": "sum"}),
               ("mean_squared_error", Y_REG, P_REG)]
    total, values = total_loss(outputs, sample_weight=W_A, reduction="mean_with_sample_weight", per_output=True)
    assert values[0] == fastloss.mean_squared_error(Y_REG, P_REG, sample_weight=W_B, reduction="sum")
    assert values[1] == fastloss.mean_squared_error(Y_REG, P_REG, sample_weight=W_A,
                                                    reduction="mean_with_sample_weight")
    assert total == values[0] + values[1]


def test_array_sample_weight_is_shared_even_with_as_many_samples_as_outputs():
    y = RNG.normal(size=(2, 3))
    p = RNG.normal(size=(2, 3))
    w = np.array([1.0, 3.0])  # an array (not a list of arrays): one weight per sample, shared
    total = total_loss([("mean_squared_error", y, p), ("mean_absolute_error", y, p)], sample_weight=w)
    assert total == pytest.approx(fastloss.mean_squared_error(y, p, sample_weight=w)
                                  + fastloss.mean_absolute_error(y, p, sample_weight=w), rel=1e-14)


def test_threads_do_not_change_the_total():
    outputs = outputs_list()
    assert total_loss(outputs, sample_weight=W_A, n_threads=1) == total_loss(outputs, sample_weight=W_A, n_threads=3)


@pytest.mark.parametrize("outputs, loss_weights, kwargs, error, match", [
    ([("mse_typo", Y_REG, P_REG)], None, {}, ValueError, "unknown loss 'mse_typo'"),
    ([(len, Y_REG, P_REG)], None, {}, TypeError, "loss name or a fastloss loss function"),
    ([("mean_squared_error", Y_REG)], None, {}, TypeError, r"outputs\[0\]"),
    ([], None, {}, ValueError, "at least one output"),
    ("mean_squared_error", None, {}, TypeError, "outputs"),
    ([("mean_squared_error", Y_REG, P_REG)], [1.0, 2.0], {}, ValueError, "loss_weights: expected 1 entries"),
    ({"a": ("mean_squared_error", Y_REG, P_REG)}, {"b": 1.0}, {}, ValueError, r"missing \['a'\], unknown \['b'\]"),
    ([("mean_squared_error", Y_REG, P_REG)], ["x"], {}, TypeError, "loss_weights"),
    ([("mean_squared_error", Y_REG, P_REG)], [float("nan")], {}, TypeError, "finite"),
    ([("mean_squared_error", Y_REG, P_REG)], 2.0, {}, TypeError, "loss_weights"),
    ([("mean_squared_error", Y_REG, P_REG)], None, {"reduction": "none"}, ValueError, "scalar reduction"),
    ([("mean_squared_error", Y_REG, P_REG, {"reduction": "totals"})], None, {}, ValueError, "scalar reduction"),
    ([("mean_squared_error", Y_REG, P_REG)] * 2, None, {"sample_weight": {"x": W_A}}, ValueError, "sample_weight"),
])
def test_bad_arguments(outputs, loss_weights, kwargs, error, match):
    for fn in (total_loss, oracle.total_loss):
        with pytest.raises(error, match=match):
            fn(outputs, loss_weights, **kwargs)


def test_single_output_with_nested_sample_weight():
    total = total_loss([("mean_squared_error", Y_REG, P_REG)], sample_weight=[W_B])
    assert total == fastloss.mean_squared_error(Y_REG, P_REG, sample_weight=W_B)
    per_output_scalars = total_loss([("mean_squared_error", Y_REG, P_REG)] * 2,
                                    sample_weight=(np.float64(2.0), None))
    assert per_output_scalars == pytest.approx(3 * fastloss.mean_squared_error(Y_REG, P_REG), rel=1e-14)
