"""Input coercion: every accepted layout and dtype gives exactly the result of the clean native array.

The front door converts lists, read-only, strided, Fortran-order, big-endian, float16, integer, bool and torch CPU
inputs to native contiguous arrays of the compute dtype (float32 stays float32, float16 -> float32, everything
else -> float64) without touching the caller's arrays. The kernel then sees the same values in the same row order,
so the results must be identical bit for bit, not merely close.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import fastloss
from oracle_cases import LOSS_NAMES

DENSE = [n for n in LOSS_NAMES if n != "sparse_categorical_crossentropy"]
ROWS, K = (6, 3), 4


def all_results(fn, y, p, **kw):
    return {r: fn(y, p, reduction=r, **kw) for r in fastloss.REDUCTIONS}


def assert_identical(got, want, context=""):
    for r in want:
        g, w = got[r], want[r]
        if isinstance(w, np.ndarray):
            assert isinstance(g, np.ndarray), f"{context} {r}: {type(g)}"
            assert g.dtype == w.dtype, f"{context} {r}: dtype {g.dtype} != {w.dtype}"
            assert g.shape == w.shape, f"{context} {r}: shape {g.shape} != {w.shape}"
            assert g.dtype.isnative and g.tobytes() == w.tobytes(), f"{context} {r}: 'none' differs\n{g}\n{w}"
        elif isinstance(w, float) and math.isnan(w):
            assert math.isnan(g), f"{context} {r}: {g!r} != nan"
        else:
            assert g == w, f"{context} {r}: {g!r} != {w!r}"


def weights_and_mask(rng):
    sw = rng.uniform(0.0, 2.0, ROWS[:1])
    sw[1] = 0.0
    mask = rng.random(ROWS) < 0.7
    cw = rng.uniform(0.5, 2.0, K)
    return dict(sample_weight=sw, mask=mask, class_weight=cw)


def read_only(a):
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def strided(a, axis=0):
    """The same values as a non-contiguous view (every other element of a twice-as-long array)."""
    a = np.asarray(a)
    shape = list(a.shape)
    shape[axis] *= 2
    big = np.zeros(shape, dtype=a.dtype)
    index = [slice(None)] * a.ndim
    index[axis] = slice(None, None, 2)
    big[tuple(index)] = a
    view = big[tuple(index)]
    assert not view.flags.c_contiguous or view.size <= 1
    return view


def big_endian(a):
    a = np.asarray(a)
    return a if a.dtype.kind == "b" else a.astype(a.dtype.newbyteorder(">"))


def fortran(a):
    f = np.asfortranarray(a)
    assert a.ndim < 2 or (f.flags.f_contiguous and not f.flags.c_contiguous)
    return f


LAYOUTS = {
    "list": lambda a: np.asarray(a).tolist(),
    "read-only": read_only,
    "strided axis 0": strided,
    "strided last axis": lambda a: strided(a, axis=np.ndim(a) - 1),
    "fortran": fortran,
    "big-endian": big_endian,
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_layouts_give_identical_results(loss, dtype, layout, loss_data, small_blocks):
    fn = getattr(fastloss, loss)
    y, p, params = loss_data(loss, ROWS, K, dtype=dtype, seed=1)
    kw = weights_and_mask(np.random.default_rng(2))
    want = all_results(fn, y, p, n_threads=2, **params, **kw)
    change = LAYOUTS[layout]
    if layout == "list" and dtype == "float32":
        # a list of Python floats is float64: compare with the float64 array of the same (float32) values
        want = all_results(fn, y if y.dtype.kind in "iu" else y.astype(np.float64), p.astype(np.float64),
                           n_threads=2, **params, **kw)
    # every argument at once, then each alone (so that a failure points at one argument)
    variants = {"all": dict(y=change(y), p=change(p), **{k: change(v) for k, v in kw.items()})}
    variants["y_true"] = dict(y=change(y), p=p, **kw)
    variants["y_pred"] = dict(y=y, p=change(p), **kw)
    for name in kw:
        variants[name] = dict(y=y, p=p, **{**kw, name: change(kw[name])})
    for label, v in variants.items():
        if layout == "list" and dtype == "float32" and label not in ("all", "y_pred"):
            continue  # y_pred stays float32 there: covered by the other layouts
        yy, pp = v.pop("y"), v.pop("p")
        got = all_results(fn, yy, pp, n_threads=2, **params, **v)
        assert_identical(got, want, f"{loss} {dtype} {layout} ({label})")


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_float16_is_computed_as_float32(loss, loss_data):
    fn = getattr(fastloss, loss)
    y, p, params = loss_data(loss, ROWS, K, dtype="float64", seed=3)
    p16 = p.astype(np.float16)
    y16 = y.astype(np.float16) if y.dtype.kind == "f" else y
    kw = weights_and_mask(np.random.default_rng(4))
    want = all_results(fn, y16.astype(np.float32) if y16.dtype == np.float16 else y16, p16.astype(np.float32),
                       **params, **kw)
    got = all_results(fn, y16, p16, **params, **kw)
    assert got["none"].dtype == np.float32
    assert_identical(got, want, f"{loss} float16")


@pytest.mark.parametrize("loss", DENSE)
@pytest.mark.parametrize("int_dtype", ["int64", "int32", "uint8", "int8", "bool"])
def test_integer_and_bool_inputs_are_computed_as_float64(loss, int_dtype, loss_data):
    fn = getattr(fastloss, loss)
    rng = np.random.default_rng(5)
    if int_dtype == "bool" or loss in ("binary_crossentropy", "categorical_crossentropy"):
        # probabilities (and targets) must lie in [0, 1]: 0/1 integers, with at least one 1 per CCE row
        y = rng.integers(0, 2, ROWS + (K,))
        p = rng.integers(0, 2, ROWS + (K,))
        p[..., 0] = 1
        params = {"from_logits": False} if "entropy" in loss else {}
    else:
        y = rng.integers(0, 100, ROWS + (K,))
        p = rng.integers(0, 100, ROWS + (K,))
        params = {}
    y, p = y.astype(int_dtype), p.astype(int_dtype)
    kw = weights_and_mask(rng)
    want = all_results(fn, y.astype(np.float64), p.astype(np.float64), **params, **kw)
    for label, (yy, pp) in {"both": (y, p), "y_true": (y, p.astype(np.float64)),
                            "y_pred": (y.astype(np.float64), p)}.items():
        got = all_results(fn, yy, pp, **params, **kw)
        assert got["none"].dtype == np.float64
        assert_identical(got, want, f"{loss} {int_dtype} {label}")
    # integer / bool weights and masks
    got = all_results(fn, y, p, **params, sample_weight=np.array([1, 0, 2, 3, 1, 1], dtype="int32"),
                      mask=kw["mask"].astype("uint8"), class_weight=np.array([1, 2, 0, 1], dtype="int64"))
    want = all_results(fn, y.astype(np.float64), p.astype(np.float64), **params,
                       sample_weight=np.array([1.0, 0, 2, 3, 1, 1]), mask=kw["mask"],
                       class_weight=np.array([1.0, 2, 0, 1]))
    assert_identical(got, want, f"{loss} {int_dtype} integer weights and mask")


@pytest.mark.parametrize("label_dtype", ["int64", "int32", "int16", "uint8", "uint64", ">i4", "<i8", "float64",
                                         "float32", "float16"])
def test_sparse_label_dtypes(label_dtype, loss_data):
    fn = fastloss.sparse_categorical_crossentropy
    y, p, params = loss_data("sparse_categorical_crossentropy", ROWS, K, seed=6)
    kw = weights_and_mask(np.random.default_rng(7))
    want = all_results(fn, y, p, **params, **kw)
    labels = y.astype(label_dtype)
    variants = {"plain": labels, "read-only": read_only(labels), "strided": strided(labels),
                "fortran": fortran(labels), "trailing (…, 1)": labels[..., None], "list": labels.tolist()}
    for label, yy in variants.items():
        got = all_results(fn, yy, p, **params, **kw)
        assert_identical(got, want, f"labels {label_dtype} {label}")


def test_sparse_bool_labels(loss_data):
    fn = fastloss.sparse_categorical_crossentropy
    y, p, params = loss_data("sparse_categorical_crossentropy", ROWS, 2, seed=8)
    assert_identical(all_results(fn, y.astype(bool), p, **params), all_results(fn, y, p, **params), "bool labels")


@pytest.mark.parametrize("loss", ["binary_crossentropy", "mean_squared_error", "mean_absolute_error"])
def test_binary_and_regression_shape_rules(loss, loss_data):
    """(N,) y_pred is (N, 1); y_true may drop or add a trailing size-1 axis (Keras's one rank rule)."""
    fn = getattr(fastloss, loss)
    y, p, params = loss_data(loss, (7,), 1, seed=9)
    sw = np.linspace(0, 2, 7)
    want = all_results(fn, y, p, sample_weight=sw, **params)  # (7, 1) and (7, 1)
    assert want["none"].shape == (7,)
    for label, (yy, pp) in {"(7,) (7,)": (y[:, 0], p[:, 0]), "(7,) (7,1)": (y[:, 0], p),
                            "(7,1) (7,)": (y, p[:, 0])}.items():
        assert_identical(all_results(fn, yy, pp, sample_weight=sw, **params), want, f"{loss} y_true/y_pred {label}")
    # rows (N, T): y_true (N, T) against y_pred (N, T, 1)
    y, p, params = loss_data(loss, (4, 5), 1, seed=10)
    want = all_results(fn, y, p, **params)
    assert want["none"].shape == (4, 5)
    assert_identical(all_results(fn, y[..., 0], p, **params), want, f"{loss} (4,5) vs (4,5,1)")


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_single_row_1d_prediction(loss, loss_data):
    """For the categorical crossentropies a 1-D y_pred is one row of K values (rows shape ())."""
    fn = getattr(fastloss, loss)
    y, p, params = loss_data(loss, (1,), 5, seed=11)
    batch = all_results(fn, y, p, **params)
    single = all_results(fn, y[0], p[0], **params)
    assert single["none"].shape == ()
    for r in fastloss.REDUCTIONS:
        if r == "none":
            assert single[r].tobytes() == batch[r][0].tobytes()
        else:
            assert single[r] == batch[r], r
    weighted = fn(y[0], p[0], sample_weight=2.0, mask=True, reduction="sum", **params)
    assert weighted == 2.0 * batch["sum"]
    assert fn(y[0], p[0], mask=False, reduction="sum", **params) == 0.0


def test_class_weight_containers(loss_data):
    """class_weight as a dict (int or numpy-int keys), array, list or tuple."""
    fn = fastloss.sparse_categorical_crossentropy
    y, p, params = loss_data("sparse_categorical_crossentropy", ROWS, K, seed=12)
    values = [0.5, 2.0, 1.0, 3.0]
    want = all_results(fn, y, p, class_weight=np.array(values), **params)
    for label, cw in {"dict": {c: v for c, v in enumerate(values)},
                      "dict numpy keys": {np.int64(c): np.float32(v) for c, v in enumerate(values)},
                      "list": list(values), "tuple": tuple(values), "float32 array": np.array(values, np.float32),
                      "read-only array": read_only(values), "strided array": strided(np.array(values))}.items():
        assert_identical(all_results(fn, y, p, class_weight=cw, **params), want, f"class_weight as {label}")


# ---------------------------------------------------------------------------------------------------------------
# The caller's arrays are never modified.
# ---------------------------------------------------------------------------------------------------------------


FLAGS = ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA", "WRITEABLE", "ALIGNED", "WRITEBACKIFCOPY")


def flags(a):
    return {f: a.flags[f] for f in FLAGS}


def snapshot(value):
    if isinstance(value, np.ndarray):
        return ("array", value.copy(), flags(value), value.dtype, value.strides)
    return ("object", copy.deepcopy(value))


def assert_unchanged(value, snap, name):
    if snap[0] == "array":
        _, data, saved_flags, dtype, strides = snap
        assert value.dtype == dtype and value.strides == strides, name
        assert flags(value) == saved_flags, f"{name}: flags changed {saved_flags} -> {flags(value)}"
        np.testing.assert_array_equal(value, data, err_msg=f"{name} was modified")
        assert value.tobytes() == data.tobytes(), f"{name} was modified"
    else:
        assert value == snap[1], f"{name} was modified"


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", ">f8"])
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_inputs_are_never_modified(loss, dtype, loss_data, small_blocks):
    fn = getattr(fastloss, loss)
    y, p, params = loss_data(loss, ROWS, K, seed=13)
    rng = np.random.default_rng(14)
    # values the kernel clips, normalises or rounds: probabilities at 0 and 1, unnormalised rows, soft labels
    p = p.astype(dtype)
    if y.dtype.kind == "f":
        y = y.astype(dtype)
    mask = rng.random(ROWS) < 0.7
    p_nan = p.copy()
    p_nan[~mask] = np.nan  # excluded rows hold NaN
    args = dict(sample_weight=rng.uniform(0, 2, ROWS[:1]).astype(dtype), mask=mask,
                class_weight={c: 1.0 + c for c in range(K)})
    for pred in (p, p_nan, np.asfortranarray(p), p[::1, ::-1]):
        snaps = {"y_true": snapshot(y), "y_pred": snapshot(pred), **{k: snapshot(v) for k, v in args.items()}}
        for reduction in fastloss.REDUCTIONS:
            out = fn(y, pred, reduction=reduction, n_threads=2, **params, **args)
            if isinstance(out, np.ndarray):
                assert not np.shares_memory(out, pred) and not np.shares_memory(out, y)
                out[...] = 123.0  # writing to the result must not reach the inputs
        assert_unchanged(y, snaps["y_true"], "y_true")
        assert_unchanged(pred, snaps["y_pred"], "y_pred")
        for k, v in args.items():
            assert_unchanged(v, snaps[k], k)
    acc = fastloss.Accumulator(loss, **params)
    snaps = {"y_true": snapshot(y), "y_pred": snapshot(p)}
    acc.update(y, p, **args)
    assert_unchanged(y, snaps["y_true"], "y_true (Accumulator)")
    assert_unchanged(p, snaps["y_pred"], "y_pred (Accumulator)")


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_torch_cpu_tensors(loss, loss_data):
    torch = pytest.importorskip("torch")
    fn = getattr(fastloss, loss)
    for dtype in ("float32", "float64"):
        y, p, params = loss_data(loss, ROWS, K, dtype=dtype, seed=15)
        kw = weights_and_mask(np.random.default_rng(16))
        want = all_results(fn, y, p, **params, **kw)
        tkw = {k: torch.from_numpy(v) for k, v in kw.items()}
        got = all_results(fn, torch.from_numpy(y), torch.from_numpy(p), **params, **tkw)
        assert_identical(got, want, f"{loss} torch {dtype}")
        # a non-contiguous tensor, and one that requires grad (read through .detach())
        pt = torch.from_numpy(p).transpose(0, 1).contiguous().transpose(0, 1).requires_grad_(True)
        got = all_results(fn, torch.from_numpy(y), pt, **params, **kw)
        assert_identical(got, want, f"{loss} torch {dtype} non-contiguous, requires_grad")
