"""Sparse categorical crossentropy on short rows runs whole chunks in fl_kernels.h (labels, weights, row losses,
chunk totals); value_and_grad runs the scalar row functions of _kernels.pyx.tp one row at a time. The two must
agree: per-row outputs bit for bit at every ISA level, the same counts (E0 included) and the same first error,
whatever the label dtype and whatever sits in excluded rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastloss
from fastloss.gradients import value_and_grad

LABEL_DTYPES = ["int32", "int64", "float32", "float64"]
scce = fastloss.sparse_categorical_crossentropy


def _predictions(rng, shape, from_logits):
    z = rng.normal(scale=4.0, size=shape)
    if from_logits:
        return z
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    if shape[-1] > 1:
        p.reshape(-1, shape[-1])[:3, :2] = (0.0, 1.0)  # both clip bounds
    return p


def _weightings(rng, n, t, K):
    cw = rng.uniform(0.5, 2.0, K)
    cw[min(1, K - 1)] = 0.0  # a zero class weight: E0 < E
    sw = rng.uniform(0.0, 2.0, (n, t))
    sw[rng.random((n, t)) < 0.1] = 0.0
    return {
        "plain": {},
        "sample weight (N,), mask (N,T)": dict(sample_weight=rng.random(n), mask=rng.random((n, t)) > 0.2),
        "class weight, sample weight (N,T)": dict(class_weight=cw, sample_weight=sw),
        "class weight dict, mask (N,), ignore_class": dict(class_weight=dict(enumerate(cw)), mask=rng.random(n) > 0.1,
                                                           ignore_class=2),
    }


@pytest.mark.parametrize("K", [1, 3, 10, 256])
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_chunks_give_the_bits_of_the_row_functions(from_logits, K, each_isa_level):
    rng = np.random.default_rng(K)
    n, t = 61, 7  # 427 rows: several chunks, and a partial one
    y_pred = _predictions(rng, (n, t, K), from_logits)
    for level in each_isa_level():
        for label_dtype in LABEL_DTYPES:
            labels = rng.integers(0, K, (n, t)).astype(label_dtype)
            for name, weighting in _weightings(rng, n, t, K).items():
                for dtype in (np.float32, np.float64):
                    p = y_pred.astype(dtype)
                    chunked = scce(labels, p, from_logits=from_logits, reduction="none", **weighting)
                    rows, _ = value_and_grad("sparse_categorical_crossentropy", labels, p, from_logits=from_logits,
                                             reduction="none", **weighting)
                    context = f"{level} {label_dtype} labels, {name}, {dtype.__name__}"
                    assert chunked.dtype == rows.dtype, context
                    assert chunked.tobytes() == rows.tobytes(), context


# Labels a row may hold, by what the kernel must make of them: read, report or (in an excluded row) skip.
GOOD = [0, 1, 3]
BAD_INTEGER = [-1, 4, 2**31 - 1, -(2**31)]
BAD_FLOAT = [-1.0, 4.0, 2.5, 0.5, -0.5, 3.999, np.nan, np.inf, -np.inf, 1e30, 2.0**40]


def _bad_labels(label_dtype):
    if label_dtype.startswith("int"):
        return BAD_INTEGER + ([-(2**40), 2**40] if label_dtype == "int64" else [])
    return BAD_FLOAT


@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
def test_labels_are_read_as_the_row_functions_read_them(label_dtype, from_logits):
    rng = np.random.default_rng(17)
    n, t, K = 40, 25, 4  # 1000 rows
    p = _predictions(rng, (n, t, K), from_logits)
    cw = np.array([0.5, 0.0, 2.0])  # no weight for class 3: a class beyond the table
    for bad in _bad_labels(label_dtype):
        base = rng.integers(0, K, (n, t)).astype(label_dtype)
        base[0, 0] = -0.0 if label_dtype.startswith("float") else 0
        mask = rng.random((n, t)) > 0.3
        labels = base.copy()
        labels[~mask] = bad  # garbage in excluded rows only
        for class_weight in (None, cw):
            for ignore in (None, 3, bad):
                if ignore is not None and not (np.isfinite(ignore) and float(ignore).is_integer()
                                               and abs(ignore) < 2**62):
                    continue
                kwargs = dict(mask=mask, class_weight=class_weight, from_logits=from_logits)
                if ignore is not None:
                    kwargs["ignore_class"] = int(ignore)
                context = f"{label_dtype} padding {bad!r}, class_weight={class_weight is not None}, ignore={ignore}"
                _check_same_outcome(labels, p, kwargs, context)
                # the same garbage in one included row: the first failing included row is reported
                one = labels.copy()
                one[n // 2, 3] = bad
                one[n - 1, :] = bad
                _check_same_outcome(one, p, dict(kwargs, mask=None), context + ", included")


# Together these divide S by W, V, Z and V·E0/E: a count off by one changes them far beyond the tolerance.
REDUCTIONS = ["none", "sum", "mean_with_sample_weight", "sum_by_nonzero_weights", "keras_legacy"]


def _check_same_outcome(labels, p, kwargs, context):
    def outcome(fn):
        try:
            return [fn(r) for r in REDUCTIONS], None
        except ValueError as exc:
            return None, str(exc)

    got, got_error = outcome(lambda r: scce(labels, p, reduction=r, **kwargs))
    want, want_error = outcome(lambda r: value_and_grad("sparse_categorical_crossentropy", labels, p, reduction=r,
                                                        **kwargs)[0])
    assert got_error == want_error, context
    if got_error is not None:
        return
    assert got[0].tobytes() == want[0].tobytes(), context
    for r, g, w in zip(REDUCTIONS[1:], got[1:], want[1:]):
        assert math.isclose(g, w, rel_tol=1e-12, abs_tol=0.0) or (math.isnan(g) and math.isnan(w)), \
            f"{context} {r}: {g!r} != {w!r}"
