"""The sklearn façade's test cases, shared by tests/test_sklearn_facade.py (against the oracle) and
tests/conformance/test_sklearn_facade.py (against scikit-learn): every façade function with its variants of label
kinds (integers, strings, booleans) and shapes (binary, multiclass, indicator), on data that hits the clip bounds
(probabilities exactly 0 and 1), under every kind of sample weight."""

import numpy as np

N = 64
STRINGS = np.array(["ant", "bee", "cat", "dog", "eel"])
WEIGHTS = ["none", "positive", "with_zeros", "with_negatives"]


def weights(rng, n, kind):
    """Sample weights of one kind: WEIGHTS, or "integer" (counts 0 to 3, zeros included)."""
    if kind == "none":
        return None
    w = rng.uniform(0.1, 3.0, n)
    if kind == "with_zeros":
        w[rng.random(n) < 0.4] = 0.0
        w[0] = 1.5
    elif kind == "with_negatives":
        w[rng.random(n) < 0.3] *= -0.25  # the sum stays clearly positive
    elif kind == "integer":
        w = rng.integers(0, 4, n).astype(np.float64)
        w[0] = 2.0
    return w


def probabilities(rng, n, k, dtype):
    """Rows summing to 1, with exact 0 and 1 entries (the clip bounds) in a few rows."""
    p = rng.dirichlet(np.ones(k), n)
    p[1] = 0.0
    p[1, 0] = 1.0
    p[2] = 0.0
    p[2, -1] = 1.0
    return p.astype(dtype)


def labels(rng, n, classes, kind):
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)  # every class present
    if kind == "str":
        return STRINGS[y]
    if kind == "bool":
        return y.astype(bool)
    return y * 3 - 2  # integers that are not column indices


def case(function, variant, dtype, weight_kind, seed=0):
    """(args, kwargs) for one call of ``function``."""
    rng = np.random.default_rng(seed)
    w = weights(rng, N, weight_kind)
    kw = {} if w is None else {"sample_weight": w}
    if function in ("log_loss", "brier_score_loss"):
        if variant == "binary-1d":
            y = labels(rng, N, 2, "int")
            p = probabilities(rng, N, 2, dtype)[:, 1]
            if function == "brier_score_loss":
                kw["pos_label"] = int(y.max())
            return (y, p), kw
        if variant == "binary-str-2col":
            return (labels(rng, N, 2, "str"), probabilities(rng, N, 2, dtype)), kw
        if variant == "multiclass-str":
            return (labels(rng, N, 4, "str"), probabilities(rng, N, 4, dtype)), kw
        if variant == "multiclass-labels":
            # classes "eel" and "ant" never occur in y_true: labels= declares them
            y = STRINGS[rng.integers(1, 4, N)]
            kw["labels"] = list(STRINGS)
            return (y, probabilities(rng, N, 5, dtype)), kw
        if variant == "indicator":
            y = (rng.random((N, 3)) < 0.4).astype(np.int64)
            return (y, probabilities(rng, N, 3, dtype)), kw
        if variant == "bool-1d":
            return (labels(rng, N, 2, "bool"), probabilities(rng, N, 2, dtype)[:, 0]), kw
        if variant == "pos-label-str":
            kw["pos_label"] = "bee"
            return (labels(rng, N, 2, "str"), probabilities(rng, N, 2, dtype)[:, 0]), kw
    if function == "hinge_loss":
        if variant == "binary":
            return (labels(rng, N, 2, "int"), rng.normal(0, 2, N).astype(dtype)), kw
        if variant == "binary-str":
            return (labels(rng, N, 2, "str"), rng.normal(0, 2, (N, 1)).astype(dtype)), kw
        if variant == "one-class":
            return (np.full(N, 4), rng.normal(0, 2, N).astype(dtype)), kw
        if variant == "multiclass":
            return (labels(rng, N, 4, "int"), rng.normal(0, 2, (N, 4)).astype(dtype)), kw
        if variant == "multiclass-labels":
            kw["labels"] = list(STRINGS)
            return (STRINGS[rng.integers(0, 3, N)], rng.normal(0, 2, (N, 5)).astype(dtype)), kw
    if function in ("mean_squared_error", "mean_absolute_error"):
        shape = (N,) if variant.startswith("1d") else (N, 3)
        y, p = rng.normal(0, 2, shape).astype(dtype), rng.normal(0, 2, shape).astype(dtype)
        if variant.endswith("raw"):
            kw["multioutput"] = "raw_values"
        elif variant.endswith("array"):
            kw["multioutput"] = np.array([0.5, 2.0, -0.25])
        return (y, p), kw
    if function == "accuracy_score":
        if variant == "int":
            return (rng.integers(0, 3, N), rng.integers(0, 3, N).astype(dtype)), kw
        if variant == "float-labels":
            return (rng.integers(0, 3, N).astype(dtype), rng.integers(0, 3, N).astype(dtype)), kw
        if variant == "str":
            return (STRINGS[rng.integers(0, 3, N)], STRINGS[rng.integers(0, 3, N)]), kw
        if variant == "indicator":
            y = (rng.random((N, 3)) < 0.5).astype(dtype)
            p = y.copy()
            flip = rng.random(N) < 0.4
            p[flip, 1] = 1 - p[flip, 1]
            return (y, p), kw
        if variant == "unnormalized":
            kw["normalize"] = False
            return (rng.integers(0, 3, N), rng.integers(0, 3, N)), kw
    raise AssertionError((function, variant))


VARIANTS = {
    "log_loss": ["binary-1d", "binary-str-2col", "multiclass-str", "multiclass-labels", "indicator", "bool-1d"],
    "brier_score_loss": ["binary-1d", "binary-str-2col", "multiclass-str", "multiclass-labels", "indicator",
                         "pos-label-str"],
    "hinge_loss": ["binary", "binary-str", "one-class", "multiclass", "multiclass-labels"],
    "mean_squared_error": ["1d", "2d", "2d-raw", "2d-array"],
    "mean_absolute_error": ["1d", "2d", "2d-raw", "2d-array"],
    "accuracy_score": ["int", "float-labels", "str", "indicator", "unnormalized"],
}
CASES = [(f, v) for f, variants in VARIANTS.items() for v in variants]
