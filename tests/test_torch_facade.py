"""fastloss.torch against its oracle (fastloss.oracle.torch): every function, shape, dtype, weighting, reduction.

The façade runs the compiled kernels through the engine; the oracle computes torch's formulas directly in NumPy
(the oracle itself is held to the real torch in tests/conformance/test_torch_facade.py). Both read float32
inputs as float32 and compute in double, so reductions agree to ~1e-12 and 'none' arrays to an ulp of the
input dtype. Also: thread counts give the same bits, errors name the argument, caller's arrays stay untouched.
"""

import numpy as np
import pytest

import fastloss.oracle.torch as oracle
import fastloss.torch as FT
from torch_cases import kl_div_case, poisson_case, signed_case

REDUCTIONS = ("mean", "sum", "none")


def _logits(rng, shape, dtype, scale=3.0):
    z = rng.normal(0.0, scale, shape)
    z.reshape(-1)[rng.random(z.size) < 0.05] = 40.0  # large logits
    return z.astype(dtype)


def _class_weight(rng, C):
    w = rng.uniform(0.2, 3.0, C)
    w[1 % C] = 0.0  # a class weighing nothing
    return w


# Each case: name -> builder(rng, dtype) returning (function name, args, kwargs). Shapes include extra
# dimensions (N, C, d1, d2) and unbatched inputs.
def _ce_indices(shape, weighted, ignore, smoothing):
    def build(rng, dtype):
        C = shape[0] if len(shape) == 1 else shape[1]
        x = _logits(rng, shape, dtype)
        index_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
        y = rng.integers(0, C, index_shape)
        if ignore is not None and y.ndim:
            y[rng.random(index_shape) < 0.3] = ignore
        kw = dict(label_smoothing=smoothing)
        if weighted:
            kw["weight"] = _class_weight(rng, C)
        if ignore is not None:
            kw["ignore_index"] = ignore
        return "cross_entropy", (x, y), kw
    return build


def _ce_probabilities(shape, weighted, smoothing):
    def build(rng, dtype):
        C = shape[0] if len(shape) == 1 else shape[1]
        x = _logits(rng, shape, dtype)
        t = rng.dirichlet(np.ones(C), tuple(s for i, s in enumerate(shape) if i != (1 if len(shape) > 1 else 0)))
        t = np.moveaxis(t, -1, 1 if len(shape) > 1 else 0).astype(dtype)
        kw = dict(label_smoothing=smoothing)
        if weighted:
            kw["weight"] = _class_weight(rng, C)
        return "cross_entropy", (x, t), kw
    return build


def _nll(shape, weighted, ignore):
    def build(rng, dtype):
        C = shape[1]
        z = _logits(rng, shape, np.float64)
        logp = (z - np.log(np.sum(np.exp(z - z.max(1, keepdims=True)), 1, keepdims=True)) - z.max(1, keepdims=True))
        y = rng.integers(0, C, shape[:1] + shape[2:])
        if ignore is not None:
            y[rng.random(y.shape) < 0.3] = ignore
        kw = {}
        if weighted:
            kw["weight"] = _class_weight(rng, C)
        if ignore is not None:
            kw["ignore_index"] = ignore
        return "nll_loss", (logp.astype(dtype), y), kw
    return build


def _bce(shape, weight_shape):
    def build(rng, dtype):
        p = rng.random(shape)
        p.reshape(-1)[rng.random(p.size) < 0.1] = rng.choice([0.0, 1.0, 1e-60])
        y = rng.integers(0, 2, shape).astype(np.float64)
        y.reshape(-1)[rng.random(y.size) < 0.2] = 0.3
        kw = {} if weight_shape is None else {"weight": rng.uniform(0.0, 2.0, weight_shape)}
        return "binary_cross_entropy", (p.astype(dtype), y.astype(dtype)), kw
    return build


def _bce_logits(shape, weight_shape, pos_weight_shape):
    def build(rng, dtype):
        z = _logits(rng, shape, dtype, scale=5.0)
        y = rng.integers(0, 2, shape).astype(np.float64)
        y.reshape(-1)[rng.random(y.size) < 0.2] = 0.7
        kw = {} if weight_shape is None else {"weight": rng.uniform(0.0, 2.0, weight_shape)}
        if pos_weight_shape is not None:
            kw["pos_weight"] = rng.uniform(0.0, 4.0, pos_weight_shape)
        return "binary_cross_entropy_with_logits", (z, y.astype(dtype)), kw
    return build


def _regression(name, shape, **extra):
    def build(rng, dtype):
        x = rng.normal(0.0, 2.0, shape).astype(dtype)
        t = rng.normal(0.0, 2.0, shape).astype(dtype)
        kw = dict(extra)
        if kw.get("weight") == "elements":
            w = rng.uniform(0.0, 2.0, shape)
            w.reshape(-1)[rng.random(w.size) < 0.3] = 0.0
            kw["weight"] = w
        return name, (x, t), kw
    return build


def _multilabel(shape, weight):
    def build(rng, dtype):
        z = _logits(rng, shape, dtype)
        y = rng.integers(0, 2, shape).astype(dtype)
        kw = {}
        if weight == "class":
            kw["weight"] = rng.uniform(0.0, 2.0, shape[-1])
        elif weight == "sample":
            kw["weight"] = rng.uniform(0.0, 2.0, shape[:-1] + (1,))
        elif weight == "element":
            kw["weight"] = rng.uniform(0.0, 2.0, shape)
        return "multilabel_soft_margin_loss", (z, y), kw
    return build


def _focal(shape, alpha, gamma):
    def build(rng, dtype):
        z = _logits(rng, shape, dtype)
        y = rng.integers(0, 2, shape).astype(dtype)
        return "sigmoid_focal_loss", (z, y), dict(alpha=alpha, gamma=gamma)
    return build


CASES = {
    "ce(N,C)": _ce_indices((12, 4), False, None, 0.0),
    "ce(N,C,d1,d2)-weight-ignore": _ce_indices((3, 4, 5, 2), True, -100, 0.0),
    "ce-ignore-valid-class": _ce_indices((20, 3), True, 2, 0.0),
    "ce-smoothing": _ce_indices((15, 5), False, -100, 0.2),
    "ce-smoothing-weight(N,C,d)": _ce_indices((4, 5, 6), True, -100, 0.3),
    "ce-unbatched": _ce_indices((5,), True, None, 0.1),
    "ce-probabilities": _ce_probabilities((10, 4), False, 0.0),
    "ce-probabilities-weight-smoothing(N,C,d)": _ce_probabilities((3, 4, 5), True, 0.15),
    "ce-probabilities-unbatched": _ce_probabilities((6,), True, 0.0),
    "nll(N,C)": _nll((10, 3), True, None),
    "nll(N,C,d)-ignore": _nll((4, 3, 5), True, -100),
    "bce": _bce((7, 3), None),
    "bce-weight(C,)": _bce((6, 4), (4,)),
    "bce-weight(N,1)": _bce((6, 4), (6, 1)),
    "bce-weight-elements(N,T,C)": _bce((3, 4, 2), (3, 4, 2)),
    "bce-logits": _bce_logits((8, 3), None, None),
    "bce-logits-weight(N,1)-pos_weight": _bce_logits((6, 4), (6, 1), (4,)),
    "bce-logits-weight-elements-pos_weight(N,T,C)": _bce_logits((3, 4, 5), (3, 4, 5), (5,)),
    "bce-logits-pos_weight-elements": _bce_logits((6, 4), None, (6, 4)),
    "bce-logits-pos_weight-1d": _bce_logits((5,), None, (5,)),
    "mse": _regression("mse_loss", (9, 3)),
    "mse-weight": _regression("mse_loss", (4, 5, 2), weight="elements"),
    "l1": _regression("l1_loss", (9,)),
    "l1-weight": _regression("l1_loss", (6, 4), weight="elements"),
    "smooth_l1": _regression("smooth_l1_loss", (8, 3), beta=1.5),
    "smooth_l1-beta0": _regression("smooth_l1_loss", (8, 3), beta=0.0),
    "huber": _regression("huber_loss", (8, 3), delta=0.8),
    "huber-weight": _regression("huber_loss", (5, 4), delta=2.0, weight="elements"),
    "kl_div": kl_div_case((6, 4), False),
    "kl_div-log_target(N,T,C)": kl_div_case((3, 4, 5), True),
    "poisson": poisson_case((7, 3), True, False),
    "poisson-full": poisson_case((7, 3), True, True),
    "poisson-prob-full": poisson_case((5, 4), False, True),
    "hinge_embedding": signed_case("hinge_embedding_loss", (10, 3), margin=0.7),
    "soft_margin": signed_case("soft_margin_loss", (4, 5, 2)),
    "multilabel": _multilabel((8, 5), None),
    "multilabel-class-weight(N,T,C)": _multilabel((3, 4, 5), "class"),
    "multilabel-sample-weight": _multilabel((6, 3), "sample"),
    "multilabel-element-weight(N,T,C)": _multilabel((3, 4, 5), "element"),
    "focal": _focal((9, 3), 0.25, 2),
    "focal-no-alpha-gamma0": _focal((9, 3), -1.0, 0.0),
    "focal-gamma1.5": _focal((4, 3, 2), 0.6, 1.5),
}


def _assert_matches(got, expected, dtype, reduction, scale, n_elements):
    """Same rounding of the inputs, different but equally exact float64 forms: the kernels and the oracle may
    differ by the conditioning of a loss from logits, about eps64·|input| per element (e.g. (1 - y)·z +
    softplus(-z) against y·softplus(-z) + (1 - y)·softplus(z)); 'none' arrays also round to the input dtype, and
    float32 inputs take their crossentropy logs and exps on float lanes (< 2 float ulps per element)."""
    atol = 8 * np.finfo(np.float64).eps * (1.0 + scale)
    if reduction == "none":
        assert isinstance(got, np.ndarray) and got.dtype == expected.dtype, (type(got), getattr(got, "dtype", None))
        assert got.shape == expected.shape
        rtol = 4e-7 if np.dtype(dtype) == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    else:
        assert isinstance(got, float)
        rtol = 4e-7 if np.dtype(dtype) == np.float32 else 1e-11
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol * max(n_elements, 1))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_facade_matches_oracle(case, dtype):
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    name, args, kwargs = CASES[case](rng, np.dtype(dtype))
    reductions = REDUCTIONS + (("batchmean",) if name == "kl_div" else ())
    for reduction in reductions:
        got = getattr(FT, name)(*args, reduction=reduction, **kwargs)
        expected = getattr(oracle, name)(*args, reduction=reduction, **kwargs)
        scale = max(float(np.max(np.abs(np.asarray(a, dtype=np.float64)), initial=0.0)) for a in args)
        _assert_matches(got, expected, dtype, reduction, scale, np.size(args[0]))


@pytest.mark.parametrize("case", ["ce(N,C,d1,d2)-weight-ignore", "ce-smoothing-weight(N,C,d)",
                                  "ce-probabilities-weight-smoothing(N,C,d)", "nll(N,C,d)-ignore", "bce-weight(C,)",
                                  "bce-logits-weight-elements-pos_weight(N,T,C)", "mse-weight", "huber-weight",
                                  "kl_div-log_target(N,T,C)", "multilabel-class-weight(N,T,C)",
                                  "multilabel-element-weight(N,T,C)", "focal-gamma1.5", "poisson-prob-full"])
def test_thread_counts_and_isa_levels_give_the_same_bits(case, assert_same_bits):
    rng = np.random.default_rng(7)
    name, args, kwargs = CASES[case](rng, np.dtype("float64"))
    fn = getattr(FT, name)

    def run(n_threads):
        scalars = tuple(fn(*args, reduction=r, n_threads=n_threads, **kwargs) for r in ("mean", "sum"))
        return scalars, fn(*args, reduction="none", n_threads=n_threads, **kwargs)

    assert_same_bits(run)


# ---------------------------------------------------------------------------------------------------------------
# Conventions and edge cases (the oracle states the rule; these pin the cases users ask about)
# ---------------------------------------------------------------------------------------------------------------


def test_cross_entropy_mean_divides_by_selected_class_weights():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 3))
    y = np.array([0, 1, 2, 2, -100, 0])
    w = np.array([0.5, 2.0, 4.0])
    per_position = FT.cross_entropy(x, y, weight=w, reduction="none")
    assert per_position[4] == 0.0
    expected = per_position.sum() / w[[0, 1, 2, 2, 0]].sum()
    assert FT.cross_entropy(x, y, weight=w) == pytest.approx(expected, rel=1e-13)


def test_smoothing_with_class_weights_shares_the_nll_divisor():
    """The smoothing term weights every class by its own weight, and a class of weight 0 still contributes its
    smoothing term to the numerator (torch's rule): the mean is Σ l / Σ w_y, not a weighted mean of l."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 3))
    y = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    w = np.array([1.0, 0.0, 2.0])
    rows = FT.cross_entropy(x, y, weight=w, label_smoothing=0.4, reduction="none")
    assert rows[2] > 0  # target class 1 weighs 0, its smoothing term does not
    assert FT.cross_entropy(x, y, weight=w, label_smoothing=0.4) == pytest.approx(rows.sum() / w[y].sum(), rel=1e-13)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_all_ignored_and_empty_batches_give_nan_for_mean(weighted, smoothing):
    x = np.random.default_rng(0).normal(size=(4, 3))
    w = np.array([1.0, 2.0, 3.0]) if weighted else None
    all_ignored = np.full(4, -100)
    assert np.isnan(FT.cross_entropy(x, all_ignored, weight=w, label_smoothing=smoothing))
    assert FT.cross_entropy(x, all_ignored, weight=w, label_smoothing=smoothing, reduction="sum") == 0.0
    empty_x, empty_y = np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    assert np.isnan(FT.cross_entropy(empty_x, empty_y, weight=w, label_smoothing=smoothing))
    assert FT.cross_entropy(empty_x, empty_y, weight=w, reduction="none").shape == (0,)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss",
                                  "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss", "soft_margin_loss",
                                  "hinge_embedding_loss", "sigmoid_focal_loss"])
def test_empty_elementwise_mean_is_nan(name):
    empty = np.zeros((0, 3))
    assert np.isnan(getattr(FT, name)(empty, empty, reduction="mean"))
    assert getattr(FT, name)(empty, empty, reduction="sum") == 0.0
    assert getattr(FT, name)(empty, empty, reduction="none").shape == (0, 3)


def test_nan_in_an_ignored_position_does_not_propagate():
    x = np.array([[1.0, 2.0, 3.0], [np.nan, 0.0, 0.0]])
    y = np.array([0, -100])
    for smoothing in (0.0, 0.1):
        assert np.isfinite(FT.cross_entropy(x, y, label_smoothing=smoothing))


def test_bce_saturated_probabilities_cost_exactly_100():
    p = np.array([0.0, 1.0, 1.0, 0.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(FT.binary_cross_entropy(p, y, reduction="none"), [100.0, 100.0, 0.0, 0.0])


def test_regression_weights_all_zero_give_nan_for_mse_and_l1_but_zero_for_huber():
    x, t, w = np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2))
    assert np.isnan(FT.mse_loss(x, t, weight=w))
    assert np.isnan(FT.l1_loss(x, t, weight=w))
    assert FT.huber_loss(x, t, weight=w) == 0.0
    assert FT.binary_cross_entropy(np.full((3, 2), 0.5), t, weight=w) == 0.0


def test_kl_div_batchmean_divides_by_the_batch():
    rng = np.random.default_rng(5)
    x = np.log(rng.dirichlet(np.ones(4), (6, 3)))
    t = rng.dirichlet(np.ones(4), (6, 3))
    assert FT.kl_div(x, t, reduction="batchmean") == pytest.approx(FT.kl_div(x, t, reduction="sum") / 6, rel=1e-13)
    assert FT.kl_div(x, t, reduction="mean") == pytest.approx(FT.kl_div(x, t, reduction="sum") / x.size, rel=1e-13)


def test_mse_broadcasts_target_with_torchs_warning():
    x = np.arange(6.0).reshape(2, 3)
    t = np.array([1.0, 0.0, 2.0])
    with pytest.warns(UserWarning, match="target size"):
        got = FT.mse_loss(x, t, reduction="none")
    np.testing.assert_array_equal(got, (x - t) ** 2)


# ---------------------------------------------------------------------------------------------------------------
# Errors: the argument is named, the exception is ValueError or TypeError
# ---------------------------------------------------------------------------------------------------------------

X = np.zeros((4, 3))
Y = np.array([0, 1, 2, 0])
P = np.full((4, 3), 0.5)

ERRORS = [
    ("class index out of range", lambda: FT.cross_entropy(X, np.array([0, 3, 0, 0])), ValueError,
     ["target", "out of range"]),
    ("negative class index", lambda: FT.cross_entropy(X, np.array([0, -1, 0, 0])), ValueError, ["target"]),
    ("float indices", lambda: FT.cross_entropy(X, Y.astype(float)), TypeError, ["target", "integers"]),
    ("integer probabilities", lambda: FT.cross_entropy(X, np.ones((4, 3), dtype=int)), TypeError,
     ["target", "floating"]),
    ("target shape", lambda: FT.cross_entropy(X, np.zeros(5, dtype=int)), ValueError, ["target", "shape"]),
    ("ignore_index with probabilities", lambda: FT.cross_entropy(X, P, ignore_index=1), ValueError,
     ["ignore_index", "probabilit"]),
    ("weight length", lambda: FT.cross_entropy(X, Y, weight=np.ones(4)), ValueError, ["weight", "(3,)"]),
    ("weight NaN", lambda: FT.nll_loss(X, Y, weight=np.array([1.0, np.nan, 1.0])), ValueError, ["weight", "NaN"]),
    ("nll probabilities", lambda: FT.nll_loss(X, P), ValueError, ["target", "nll_loss"]),
    ("ignore_index type", lambda: FT.cross_entropy(X, Y, ignore_index=1.5), TypeError, ["ignore_index"]),
    ("label_smoothing range", lambda: FT.cross_entropy(X, Y, label_smoothing=1.5), ValueError,
     ["label_smoothing"]),
    ("legacy size_average", lambda: FT.cross_entropy(X, Y, size_average=True), TypeError, ["reduction"]),
    ("legacy reduce", lambda: FT.mse_loss(X, X, reduce=False), TypeError, ["reduction"]),
    ("reduction", lambda: FT.mse_loss(X, X, reduction="average"), ValueError, ["reduction", "'none'"]),
    ("batchmean elsewhere", lambda: FT.mse_loss(X, X, reduction="batchmean"), ValueError, ["reduction"]),
    ("focal reduction", lambda: FT.sigmoid_focal_loss(X, X, reduction="batchmean"), ValueError, ["reduction"]),
    ("bce probability", lambda: FT.binary_cross_entropy(np.array([0.5, 1.5]), np.array([1.0, 0.0])), ValueError,
     ["input", "[0, 1]"]),
    ("bce NaN probability", lambda: FT.binary_cross_entropy(np.array([np.nan]), np.array([1.0])), ValueError,
     ["input", "nan"]),
    ("bce target", lambda: FT.binary_cross_entropy(np.array([0.5]), np.array([2.0])), ValueError, ["target"]),
    ("bce shape", lambda: FT.binary_cross_entropy(P, np.ones(3)), ValueError, ["target", "shape"]),
    ("bce weight shape", lambda: FT.binary_cross_entropy(P, P, weight=np.ones(2)), ValueError, ["weight"]),
    ("mse weight shape", lambda: FT.mse_loss(X, X, weight=np.ones(3)), ValueError, ["weight", "same as input"]),
    ("pos_weight length", lambda: FT.binary_cross_entropy_with_logits(X, P, pos_weight=np.ones(2)), ValueError,
     ["pos_weight", "broadcast"]),
    ("multilabel weight shape", lambda: FT.multilabel_soft_margin_loss(X, P, weight=np.ones((2, 3))),
     ValueError, ["weight"]),
    ("beta negative", lambda: FT.smooth_l1_loss(X, X, beta=-1.0), ValueError, ["beta"]),
    ("delta zero", lambda: FT.huber_loss(X, X, delta=0.0), ValueError, ["delta"]),
    ("log_target type", lambda: FT.kl_div(X, X, log_target="yes"), TypeError, ["log_target"]),
    ("margin type", lambda: FT.hinge_embedding_loss(X, X, margin="1"), TypeError, ["margin"]),
    ("kl shape", lambda: FT.kl_div(X, np.ones(2)), ValueError, ["target", "broadcast"]),
    ("bce-logits shape", lambda: FT.binary_cross_entropy_with_logits(X, np.ones(3)), ValueError,
     ["target", "same as input"]),
    ("scalar input", lambda: FT.cross_entropy(np.float64(1.0), np.int64(0)), ValueError, ["input"]),
    ("strings", lambda: FT.mse_loss(np.array(["a"]), np.array(["b"])), TypeError, ["input"]),
]


@pytest.mark.parametrize("call, exc, words", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_callers_arrays_are_not_modified_and_read_only_arrays_work():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 4, 5))
    y = rng.integers(0, 4, (3, 5))
    w = rng.uniform(size=4)
    copies = [a.copy() for a in (x, y, w)]
    for a in (x, y, w):
        a.setflags(write=False)
    got = FT.cross_entropy(x, y, weight=w, label_smoothing=0.1)
    assert got == pytest.approx(oracle.cross_entropy(x, y, weight=w, label_smoothing=0.1), rel=1e-12)
    z = x[:, :, 0]
    FT.binary_cross_entropy_with_logits(z, (z > 0).astype(float), pos_weight=w)
    for a, c in zip((x, y, w), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("case", ["ce(N,C,d1,d2)-weight-ignore", "ce-probabilities-weight-smoothing(N,C,d)",
                                  "bce-logits-weight-elements-pos_weight(N,T,C)", "mse-weight", "kl_div",
                                  "multilabel-class-weight(N,T,C)"])
def test_layouts_fortran_strided_big_endian_read_the_same(case):
    rng = np.random.default_rng(11)
    name, args, kwargs = CASES[case](rng, np.dtype("float64"))
    fn = getattr(FT, name)
    expected = fn(*args, reduction="none", **kwargs)
    layouts = {
        "fortran": lambda a: np.asfortranarray(a),
        "strided": lambda a: np.repeat(a, 2, axis=-1)[..., ::2] if a.ndim else a,
        "big-endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    }
    for layout, convert in layouts.items():
        converted = [convert(a) for a in args]
        got = fn(*converted, reduction="none", **kwargs)
        assert got.tobytes() == expected.tobytes(), layout


def test_result_dtypes():
    x = np.arange(6).reshape(2, 3)
    assert FT.mse_loss(x, x + 1, reduction="none").dtype == np.float64  # integers compute in float64
    assert FT.mse_loss(x, x + 1) == 1.0
    half = np.linspace(-1, 1, 6, dtype=np.float16).reshape(2, 3)
    assert FT.l1_loss(half, half * 0, reduction="none").dtype == np.float32
    assert FT.cross_entropy(half, np.array([0, 2]), reduction="none").dtype == np.float32
    assert isinstance(FT.cross_entropy(half, np.array([0, 2])), float)
