"""The chunks' range check on probabilities (FL_OUTSIDE_UNIT_INTERVAL in fl_kernels.h) reads the bit patterns first and
compares only when they flag a chunk. Values at and just past the bounds of [0, 1], -0.0 and NaN must get the verdict
of the comparisons, at every ISA level, in the sparse chunks (Σp) and the CCE and categorical focal chunks (their
renormalisers): a value past a bound raises naming y_pred and its row; 0, 1, -0.0 and NaN do not raise, and the
row gets the bits of the row computed alone.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss

ROWS, K, ROW = 600, 10, 437  # several chunks; the value sits in a full chunk past the first


def _losses():
    """name -> f(p, labels): per-row losses of the rows p (class labels `labels`)."""
    def onehot(labels, dtype):
        return np.eye(K, dtype=dtype)[labels]
    return {
        "sparse_categorical_crossentropy": lambda p, labels: fastloss.sparse_categorical_crossentropy(
            labels, p, reduction="none"),
        "categorical_crossentropy": lambda p, labels: fastloss.categorical_crossentropy(
            onehot(labels, p.dtype), p, label_smoothing=0.1, reduction="none"),
        "categorical_focal_crossentropy": lambda p, labels: fastloss.categorical_focal_crossentropy(
            onehot(labels, p.dtype), p, reduction="none"),
    }


LABELS = np.arange(ROWS) % K


def _past_bounds(dtype):
    one_up = np.nextafter(dtype(1), dtype(2))
    tiny = np.nextafter(dtype(0), dtype(1))
    return {"1 + ulp": one_up, "-tiny": -tiny, "-1": dtype(-1), "inf": dtype(np.inf), "-inf": dtype(-np.inf)}


def _inside(dtype):
    return {"0": dtype(0), "1": dtype(1), "-0.0": dtype(-0.0), "nan": dtype(np.nan)}


def _rows(dtype):
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(K), ROWS)
    return p.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", sorted(_losses()))
def test_a_value_past_a_bound_raises_at_every_level(loss, dtype, each_isa_level):
    fn = _losses()[loss]
    for level in each_isa_level():
        for name, value in _past_bounds(dtype).items():
            p = _rows(dtype)
            p[ROW, 3] = value
            with pytest.raises(ValueError, match=rf"y_pred: probabilities must lie in \[0, 1\], but row \({ROW},\)"):
                fn(p, LABELS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", sorted(_losses()))
def test_bounds_minus_zero_and_nan_pass_with_the_bits_of_the_row_alone(loss, dtype, each_isa_level):
    fn = _losses()[loss]
    for level in each_isa_level():
        for name, value in _inside(dtype).items():
            p = _rows(dtype)
            p[ROW, 3] = value
            rows = fn(p, LABELS)
            # The row between its two neighbours: three rows, one chunk of its own.
            want = fn(p[ROW - 1:ROW + 2], LABELS[ROW - 1:ROW + 2])[1]
            got = rows[ROW]
            if name == "nan":
                assert np.isnan(got) and np.isnan(want), (level, name)
            else:
                assert np.isfinite(got) and got.tobytes() == want.tobytes(), (level, name, got, want)
            clean = fn(_rows(dtype), LABELS)
            assert np.delete(rows, ROW).tobytes() == np.delete(clean, ROW).tobytes(), (level, name)
