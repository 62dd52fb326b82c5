"""Error table: each bad input, the exception it must raise, and the words its message must contain.

CONTRACT: errors are ValueError/TypeError whose message starts with the argument name ("y_true: ..."); shape
mismatches quote both shapes; an unknown reduction lists the allowed values. No warning is emitted on the way
(every call runs with warnings turned into errors), and no Cython buffer error or IndexError reaches the user.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import fastloss

bce = fastloss.binary_crossentropy
cce = fastloss.categorical_crossentropy
scce = fastloss.sparse_categorical_crossentropy
mse = fastloss.mean_squared_error
mae = fastloss.mean_absolute_error

P = np.full((3, 4), 0.25)  # probabilities, 3 rows of K = 4
Y = np.eye(4)[[0, 1, 3]]  # one-hot
LABELS = np.array([0, 1, 3])
P3 = np.full((2, 3, 4), 0.25)  # rows (2, 3)
LABELS3 = np.array([[0, 1, 2], [3, 0, 1]])


def shape_words(*shapes):
    """Shapes as they print in a message, e.g. "(3, 2)"; compared with whitespace removed."""
    return [str(tuple(s)).replace(" ", "") for s in shapes]


def nan_label_row():
    y = LABELS.astype(float)
    y[1] = np.nan
    return y


# (id, callable, exception type(s), words the message must contain; "^name" = message starts with name)
ERROR_TABLE = [
    # shapes
    ("y_true/y_pred shape mismatch", lambda: mse(np.zeros((3, 2)), np.zeros((3, 4))), ValueError,
     ["y_true", "y_pred", *shape_words((3, 2), (3, 4))]),
    ("y_true/y_pred rows mismatch", lambda: bce(np.zeros((5, 1)), np.full((4, 1), 0.5)), ValueError,
     ["y_true", *shape_words((5, 1), (4, 1))]),
    ("y_true rank off by 2", lambda: mse(np.zeros(3), np.zeros((3, 1, 1))), ValueError,
     ["y_true", *shape_words((3,), (3, 1, 1))]),
    ("sparse labels shape", lambda: scce(np.zeros((3, 2), int), P), ValueError, ["^y_true", *shape_words((3, 2))]),
    ("sparse labels rows (2,3) vs (3,2)", lambda: scce(LABELS3.T, P3), ValueError, ["^y_true", *shape_words((3, 2))]),
    ("y_pred 0-d", lambda: mse(np.float64(1.0), np.float64(2.0)), ValueError, ["^y_pred"]),
    ("y_pred 0-d (categorical)", lambda: scce(0, 0.5), ValueError, ["^y_pred"]),
    ("sample_weight not a prefix", lambda: mse(np.zeros((3, 2, 4)), np.zeros((3, 2, 4)), sample_weight=np.ones(2)),
     ValueError, ["^sample_weight", *shape_words((2,))]),
    ("sample_weight trailing axis not a prefix", lambda: scce(LABELS3, P3, sample_weight=np.ones((2, 2))),
     ValueError, ["^sample_weight", *shape_words((2, 2))]),
    ("sample_weight too many axes", lambda: scce(LABELS, P, sample_weight=np.ones((3, 4))), ValueError,
     ["^sample_weight", *shape_words((3, 4))]),
    ("mask not a prefix", lambda: cce(Y, P, mask=np.ones(4, bool)), ValueError, ["^mask", *shape_words((4,))]),
    ("mask (3,2) on rows (2,3)", lambda: scce(LABELS3, P3, mask=np.ones((3, 2), bool)), ValueError,
     ["^mask", *shape_words((3, 2))]),
    # labels
    ("label negative", lambda: scce(np.array([0, -1, 2]), P), ValueError, ["^y_true"]),
    ("label too large", lambda: scce(np.array([0, 4, 2]), P), ValueError, ["^y_true"]),
    ("label too large (logits)", lambda: scce(np.array([0, 1, 7]), P, from_logits=True), ValueError, ["^y_true"]),
    ("label non-integral", lambda: scce(np.array([0.0, 1.5, 2.0]), P), ValueError, ["^y_true"]),
    ("label NaN in an included row", lambda: scce(nan_label_row(), P), ValueError, ["^y_true"]),
    ("label inf in an included row", lambda: scce(np.array([0, np.inf, 1]), P), ValueError, ["^y_true"]),
    ("label -1 not equal to ignore_class", lambda: scce(np.array([0, -1, 1]), P, ignore_class=3), ValueError,
     ["^y_true"]),
    ("label bad in an included row of a mask", lambda: scce(np.array([0, 9, 1]), P, mask=np.array([0, 1, 0])),
     ValueError, ["^y_true"]),
    # class_weight
    ("class missing from dict", lambda: scce(np.array([0, 2, 3]), P, class_weight={0: 1.0, 1: 2.0}), ValueError,
     ["class_weight", "2", "3"]),
    ("class missing from dict (one-hot argmax)", lambda: cce(Y, P, class_weight={0: 1.0, 3: 1.0}), ValueError,
     ["class_weight", "1"]),
    ("class missing from dict (K == 1, rounded)", lambda: bce(np.array([[0.0], [1.0]]), np.full((2, 1), 0.5),
                                                               class_weight={0: 1.0}), ValueError,
     ["class_weight", "1"]),
    ("class_weight array too short", lambda: scce(np.array([0, 1, 3]), P, class_weight=np.ones(3)), ValueError,
     ["class_weight"]),
    ("class_weight array too short (argmax)", lambda: cce(Y, P, class_weight=np.ones(2)), ValueError,
     ["class_weight"]),
    ("class_weight 2-D array", lambda: scce(LABELS, P, class_weight=np.ones((4, 1))), ValueError, ["^class_weight"]),
    # probabilities
    ("probability > 1", lambda: bce(np.zeros((3, 1)), np.array([[0.5], [1.5], [0.2]])), ValueError, ["^y_pred"]),
    ("probability < 0", lambda: cce(Y, P - 0.3), ValueError, ["^y_pred"]),
    ("probability < 0 (sparse)", lambda: scce(LABELS, -P), ValueError, ["^y_pred"]),
    ("probability inf", lambda: bce(np.zeros((2, 1)), np.array([[0.5], [np.inf]])), ValueError, ["^y_pred"]),
    # options
    ("unknown reduction", lambda: mse(np.zeros(3), np.zeros(3), reduction="average"), ValueError,
     ["^reduction", "average", "sum_over_batch_size", "mean_with_sample_weight", "none", "totals", "keras_legacy"]),
    ("reduction not a string", lambda: mse(np.zeros(3), np.zeros(3), reduction=1), ValueError, ["^reduction"]),
    ("n_threads=0", lambda: mse(np.zeros(3), np.zeros(3), n_threads=0), ValueError, ["^n_threads"]),
    ("n_threads float", lambda: mse(np.zeros(3), np.zeros(3), n_threads=2.5), (TypeError, ValueError),
     ["^n_threads"]),
    ("n_threads string", lambda: mse(np.zeros(3), np.zeros(3), n_threads="2"), (TypeError, ValueError),
     ["^n_threads"]),
    ("zero_division string", lambda: mse(np.zeros(3), np.zeros(3), zero_division="zero"), ValueError,
     ["^zero_division"]),
    ("zero_division None", lambda: mse(np.zeros(3), np.zeros(3), zero_division=None), ValueError,
     ["^zero_division"]),
    ("zero_division bool", lambda: mse(np.zeros(3), np.zeros(3), zero_division=True), ValueError,
     ["^zero_division"]),
    ("zero_division bad, even without a zero denominator",
     lambda: mse(np.zeros(3), np.ones(3), reduction="sum", zero_division="skip"), ValueError, ["^zero_division"]),
    # dtypes
    ("y_pred complex", lambda: mse(np.zeros(3), np.zeros(3, complex)), TypeError, ["^y_pred"]),
    ("y_true complex", lambda: mse(np.zeros(3, complex), np.zeros(3)), TypeError, ["^y_true"]),
    ("y_pred object", lambda: mse(np.zeros(3), np.array([1.0, None, 2.0], dtype=object)), TypeError, ["^y_pred"]),
    ("y_true strings", lambda: scce(np.array(["a", "b", "c"]), P), TypeError, ["^y_true"]),
    ("y_pred strings", lambda: mse(np.zeros(2), ["1", "2"]), TypeError, ["^y_pred"]),
    ("sample_weight strings", lambda: mse(np.zeros(3), np.zeros(3), sample_weight=np.array(["1", "2", "3"])),
     TypeError, ["^sample_weight"]),
    ("sample_weight complex", lambda: mse(np.zeros(3), np.zeros(3), sample_weight=np.ones(3, complex)), TypeError,
     ["^sample_weight"]),
    ("mask object", lambda: mse(np.zeros(3), np.zeros(3), mask=np.array([True, None, False], dtype=object)),
     TypeError, ["^mask"]),
    ("mask strings", lambda: mse(np.zeros(3), np.zeros(3), mask=np.array(["yes", "no", "yes"])), TypeError,
     ["^mask"]),
    ("class_weight complex", lambda: scce(LABELS, P, class_weight=np.ones(4, complex)), TypeError,
     ["^class_weight"]),
]


def check_message(message, words):
    squeezed = re.sub(r"\s+", "", message)
    for word in words:
        if word.startswith("^"):
            assert message.startswith(word[1:]), f"message should start with {word[1:]!r}: {message!r}"
        elif word.startswith("("):
            assert word in squeezed, f"message should quote the shape {word}: {message!r}"
        else:
            assert word in message, f"message should contain {word!r}: {message!r}"


@pytest.mark.parametrize("make_call, exc_type, words", [row[1:] for row in ERROR_TABLE],
                         ids=[row[0] for row in ERROR_TABLE])
def test_error_table(make_call, exc_type, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc_type) as info:
            make_call()
    check_message(str(info.value), words)


@pytest.mark.parametrize("make_call, exc_type, words", [row[1:] for row in ERROR_TABLE],
                         ids=[row[0] for row in ERROR_TABLE])
def test_error_table_parallel_blocks(make_call, exc_type, words, monkeypatch):
    """The same checks hold with the parallel block driver (errors are reported after the parallel loop)."""
    monkeypatch.setattr(fastloss._engine, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(fastloss._engine, "BLOCK_ELEMENTS", 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc_type) as info:
            make_call()
    check_message(str(info.value), words)


def test_errors_in_late_blocks_are_reported(monkeypatch):
    """A bad label in the last block of a parallel pass is found and reported, with nothing else raised."""
    monkeypatch.setattr(fastloss._engine, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(fastloss._engine, "BLOCK_ELEMENTS", 16)
    p = np.full((1000, 4), 0.25)
    for bad_row, bad in ((999, 4), (0, -3), (517, 2.5)):
        y = np.zeros(1000)
        y[bad_row] = bad
        for n_threads in (1, 2, 3):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with pytest.raises(ValueError, match=r"^y_true"):
                    scce(y, p, n_threads=n_threads)
        y[bad_row] = 1
        assert scce(y, p, n_threads=3) == pytest.approx(np.log(4.0), rel=1e-12)
    p[999, 2] = 1.5
    with pytest.raises(ValueError, match=r"^y_pred"):
        cce(np.eye(4)[np.zeros(1000, int)], p, n_threads=2)


ACCUMULATOR_ERRORS = [
    ("unknown loss name", lambda: fastloss.Accumulator("no_such_loss"), (ValueError, KeyError, TypeError),
     ["no_such_loss"]),
    ("bad label in update", lambda: fastloss.Accumulator("sparse_categorical_crossentropy").update(
        np.array([0, 5]), np.full((2, 4), 0.25)), ValueError, ["^y_true"]),
    ("bad reduction in result", lambda: fastloss.Accumulator("mean_squared_error").result("none"), ValueError,
     ["reduction"]),
    ("bad zero_division in result", lambda: fastloss.Accumulator("mean_squared_error").result(
        "sum", zero_division="x"), ValueError, ["^zero_division"]),
    ("empty accumulator, raise", lambda: fastloss.Accumulator("mean_squared_error").result(
        "sum_over_batch_size", zero_division="raise"), ValueError, ["zero"]),
]


@pytest.mark.parametrize("make_call, exc_type, words", [row[1:] for row in ACCUMULATOR_ERRORS],
                         ids=[row[0] for row in ACCUMULATOR_ERRORS])
def test_accumulator_errors(make_call, exc_type, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc_type) as info:
            make_call()
    check_message(str(info.value), words)


def test_failed_update_leaves_accumulator_unchanged():
    acc = fastloss.Accumulator("sparse_categorical_crossentropy")
    acc.update(np.array([0, 1]), np.full((2, 4), 0.25))
    before = acc.totals
    with pytest.raises(ValueError):
        acc.update(np.array([0, 9]), np.full((2, 4), 0.25))
    assert acc.totals == before


@pytest.mark.parametrize("zero_division", ["nan", 0.0, -1.0])
def test_zero_denominators_are_silent(zero_division):
    """0/0 is a policy, not a warning: no RuntimeWarning from NumPy or anywhere else."""
    y, p = np.zeros((4, 3, 1)), np.ones((4, 3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in fastloss.REDUCTIONS:
            mae(y, p, mask=False, reduction=reduction, zero_division=zero_division)
            mae(y, p, sample_weight=np.zeros(4), reduction=reduction, zero_division=zero_division)
            mae(y[:0], p[:0], reduction=reduction, zero_division=zero_division)
            scce(np.zeros(4, int), np.full((4, 3), 1 / 3), ignore_class=0, reduction=reduction,
                 zero_division=zero_division)
        acc = fastloss.Accumulator("mean_absolute_error")
        for reduction in [r for r in fastloss.REDUCTIONS if r not in ("none", "totals")]:
            acc.result(reduction, zero_division=zero_division)
            fastloss.Totals().result(reduction, zero_division=zero_division)
