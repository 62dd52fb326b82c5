"""The command line: ``fastloss info | explain | evaluate``, in-process (main([...])) and as ``python -m fastloss``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastloss
from fastloss import cli

# SEMANTICS.md section 7: the values every convention gives on the built-in example.
EXAMPLE_VALUES = {
    "sum": "25.0",
    "sum_over_batch_size": "4.1667",
    "sum_over_all_rows": "3.125",
    "mean_with_sample_weight": "3.5714",
    "sum_by_nonzero_weights": "5.0",
    "keras_legacy": "5.5556",
    "unweighted (metrics=)": "3.8333",
}
EXAMPLE_EXACT = {
    "sum": 25.0,
    "sum_over_batch_size": 25 / 6,
    "sum_over_all_rows": 25 / 8,
    "mean_with_sample_weight": 25 / 7,
    "sum_by_nonzero_weights": 5.0,
    "keras_legacy": 100 / 18,
}

N, T, K = 300, 3, 4


def run_main(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def run_module(argv, cwd):
    """``python -m fastloss`` with the same fastloss this test process imported."""
    env = dict(os.environ)
    package_parent = str(Path(fastloss.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([package_parent] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run(
        [sys.executable, "-m", "fastloss", *map(str, argv)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(rc, out, err, *fragments):
    assert rc == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastloss: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ----------------------------------------------------------------------------------------------------------
# Data files


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(42)
    probs = rng.random((N, T, K)).astype(np.float32) + 0.05
    probs /= probs.sum(-1, keepdims=True)
    labels = rng.integers(0, K, (N, T))
    onehot = np.eye(K)[labels]
    sw = rng.random(N)
    sw[::5] = 0.0
    mask = rng.random((N, T)) > 0.25
    reg_true = rng.normal(size=(N, T, K))
    reg_pred = rng.normal(size=(N, T, K))
    binary = (rng.random((N, T, K)) > 0.5).astype(np.float64)
    arrays = dict(probs=probs, labels=labels, onehot=onehot, sw=sw, mask=mask, reg_true=reg_true,
                  reg_pred=reg_pred, binary=binary, logits=rng.normal(size=(N, T, K)))
    for name, array in arrays.items():
        np.save(d / f"{name}.npy", array)
    np.savez(d / "all.npz", **arrays)
    np.savez(d / "single.npz", probs)
    np.savez_compressed(d / "compressed.npz", probs=probs)
    np.save(d / "probs_fortran.npy", np.asfortranarray(probs))
    np.save(d / "probs_bigendian.npy", probs.astype(">f4"))
    np.save(d / "sw_scalar.npy", np.array(1.5))
    np.save(d / "short.npy", np.zeros(N - 1))
    np.save(d / "onehot_wrong_k.npy", onehot[..., :3])
    bad = probs.copy()
    bad[237, 1, 2] = 1.5
    np.save(d / "probs_bad.npy", bad)
    (d / "notes.txt").write_text("not an array\n")
    return d, arrays


# (loss option, y_true file, y_pred file, extra CLI args, API keyword arguments)
CASES = {
    "mae": ("mean_absolute_error", "reg_true", "reg_pred", [], {}),
    "mse": ("mean_squared_error", "reg_true", "reg_pred", [], {}),
    "bce": ("binary_crossentropy", "binary", "logits", ["--from-logits", "--label-smoothing", "0.1"],
            {"from_logits": True, "label_smoothing": 0.1}),
    "cce": ("categorical_crossentropy", "onehot", "probs", ["--label-smoothing", "0.2"], {"label_smoothing": 0.2}),
    "scce": ("sparse_categorical_crossentropy", "labels", "logits", ["--from-logits", "--ignore-class", "2"],
             {"from_logits": True, "ignore_class": 2}),
}


def case_args(d, alias, weights=True):
    name, yt, yp, extra, kwargs = CASES[alias]
    argv = ["--loss", alias, "--y-true", d / f"{yt}.npy", "--y-pred", d / f"{yp}.npy", *extra]
    if weights:
        argv += ["--sample-weight", d / "sw.npy", "--mask", d / "mask.npy"]
    return argv


def api_value(arrays, alias, reduction, weights=True):
    name, yt, yp, _extra, kwargs = CASES[alias]
    if weights:
        kwargs = dict(kwargs, sample_weight=arrays["sw"], mask=arrays["mask"])
    return fastloss.LOSSES[name](arrays[yt], arrays[yp], reduction=reduction, **kwargs)


# ----------------------------------------------------------------------------------------------------------
# info


def test_info_text(capsys):
    rc, out, err = run_main(["info"], capsys)
    assert rc == 0 and err == ""
    fields = dict(line.split(": ", 1) for line in out.splitlines())
    cfg = fastloss.config()
    assert fields["version"] == fastloss.__version__
    assert fields["openmp"] == ("on" if cfg["openmp"] else "off")
    assert int(fields["threads"]) == cfg["threads"] >= 1
    assert fields["compiler"] == str(cfg["compiler"])
    assert "flags" in fields
    assert list(fields)[:5] == ["version", "openmp", "threads", "compiler", "flags"]


def test_info_json(capsys):
    rc, out, _ = run_main(["info", "--json"], capsys)
    assert rc == 0
    info = json.loads(out)
    assert info["version"] == fastloss.__version__
    assert isinstance(info["openmp"], bool)
    assert info["threads"] == fastloss.config()["threads"]


# ----------------------------------------------------------------------------------------------------------
# explain: the built-in example


def _table_values(out):
    """{convention name: the value printed at the end of its table row}."""
    values = {}
    for line in out.splitlines():
        for name in EXAMPLE_VALUES:
            if line.startswith(name + " "):
                values[name] = line.split()[-1]
    return values


def test_explain_example(capsys):
    rc, out, err = run_main(["explain"], capsys)
    assert rc == 0 and err == ""
    assert _table_values(out) == EXAMPLE_VALUES
    for text in ("S / V = 25 / 6", "S / R = 25 / 8", "S / W = 25 / 7", "S / Z = 25 / 5",
                 "S * E / (V * E0) = 25 * 4 / (6 * 3)", "S' / V = 23 / 6"):
        assert text in out
    for letter, value in (("S", 25), ("W", 7), ("V", 6), ("Z", 5), ("R", 8), ("E", 4), ("E0", 3)):
        assert f"  {letter:<2} = {value} " in out
    for conv in fastloss.CONVENTIONS:  # every convention with its frameworks
        assert conv.used_by.split()[0] in out
    assert max(map(len, out.splitlines())) <= 100


def test_explain_example_json_matches_api(capsys):
    rc, out, _ = run_main(["explain", "--json", "--threads", "1"], capsys)
    assert rc == 0
    report = json.loads(out)
    y_true, y_pred, sw, mask = cli.example_arrays()
    totals = fastloss.mean_absolute_error(y_true, y_pred, sample_weight=sw, mask=mask, reduction="totals")
    assert report["totals"] == totals.as_dict()
    values = {row["name"]: row["value"] for row in report["conventions"]}
    for name, expected in EXAMPLE_EXACT.items():
        assert values[name] == pytest.approx(expected, rel=1e-15)
    assert values["unweighted (metrics=)"] == pytest.approx(23 / 6, rel=1e-15)


def test_explain_without_loss_rejects_data_arguments(capsys, data):
    d, _ = data
    rc, out, err = run_main(["explain", "--y-true", d / "probs.npy"], capsys)
    assert rc == 2 and out == "" and "--loss" in err and "Traceback" not in err


# ----------------------------------------------------------------------------------------------------------
# explain / evaluate on files


@pytest.mark.parametrize("alias", sorted(CASES))
@pytest.mark.parametrize("reduction", ["sum", "sum_over_batch_size", "mean_with_sample_weight", "keras_legacy"])
def test_evaluate_matches_api(capsys, data, alias, reduction):
    d, arrays = data
    rc, out, err = run_main(["evaluate", *case_args(d, alias), "--reduction", reduction], capsys)
    assert rc == 0, err
    expected = api_value(arrays, alias, reduction)
    assert float(out) == expected  # one chunk: the same call, bit for bit (and printed round-trip precise)


@pytest.mark.parametrize("alias", sorted(CASES))
def test_chunked_equals_unchunked(capsys, data, alias):
    d, arrays = data
    results = []
    for chunk in ([], ["--chunk-rows", 7], ["--chunk-rows", 1]):
        rc, out, err = run_main(["evaluate", *case_args(d, alias), "--reduction", "totals", "--json", *chunk],
                                capsys)
        assert rc == 0, err
        results.append(json.loads(out))
    whole, *chunked = results
    assert whole["chunks"] == 1
    assert [r["chunks"] for r in chunked] == [-(-N // 7), N]
    expected = api_value(arrays, alias, "totals")
    assert whole["totals"] == expected.as_dict()
    for r in chunked:
        for key, value in whole["totals"].items():
            if isinstance(value, int):
                assert r["totals"][key] == value, key
            else:
                assert r["totals"][key] == pytest.approx(value, rel=1e-12, abs=1e-300), key
        result = fastloss.Totals(**r["totals"]).result("sum_over_batch_size")
        assert result == pytest.approx(expected.result("sum_over_batch_size"), rel=1e-12)


def test_chunked_scalar_sample_weight_counts_once(capsys, data):
    d, arrays = data
    argv = ["evaluate", "--loss", "mae", "--y-true", d / "reg_true.npy", "--y-pred", d / "reg_pred.npy",
            "--sample-weight", d / "sw_scalar.npy", "--reduction", "totals", "--json"]
    rc, out, _ = run_main(argv + ["--chunk-rows", 10], capsys)
    assert rc == 0
    chunked = json.loads(out)["totals"]
    expected = fastloss.mean_absolute_error(arrays["reg_true"], arrays["reg_pred"], sample_weight=1.5,
                                            reduction="totals")
    assert (chunked["weight_entries"], chunked["nonzero_weight_entries"]) == (1, 1)
    assert chunked["weighted_sum"] == pytest.approx(expected.weighted_sum, rel=1e-12)
    assert {k: v for k, v in chunked.items() if k != "weighted_sum" and k != "weight_sum"} == {
        k: v for k, v in expected.as_dict().items() if k != "weighted_sum" and k != "weight_sum"}


def test_evaluate_json(capsys, data):
    d, arrays = data
    rc, out, _ = run_main(["evaluate", *case_args(d, "cce"), "--reduction", "mean", "--json"], capsys)
    assert rc == 0
    report = json.loads(out)
    assert report["loss"] == "categorical_crossentropy"
    assert report["reduction"] == "sum_over_batch_size"
    assert report["value"] == api_value(arrays, "cce", "sum_over_batch_size")
    assert report["totals"] == api_value(arrays, "cce", "totals").as_dict()
    assert report["rows"] == N * T
    assert report["samples"] == N


def test_evaluate_totals_text(capsys, data):
    d, arrays = data
    rc, out, _ = run_main(["evaluate", *case_args(d, "mse"), "--reduction", "totals"], capsys)
    assert rc == 0
    printed = dict(line.split(": ") for line in out.splitlines())
    expected = api_value(arrays, "mse", "totals").as_dict()
    assert {k: (int(v) if isinstance(expected[k], int) else float(v)) for k, v in printed.items()} == expected


def test_evaluate_zero_division(capsys, data, tmp_path):
    d, _ = data
    np.save(tmp_path / "none.npy", np.zeros((N, T), dtype=bool))
    argv = ["evaluate", *case_args(d, "mae", weights=False), "--mask", tmp_path / "none.npy"]
    assert run_main(argv, capsys)[:2] == (0, "0.0\n")
    assert run_main(argv + ["--zero-division", "nan"], capsys)[:2] == (0, "nan\n")
    rc, out, _ = run_main(argv + ["--zero-division", "nan", "--json"], capsys)
    assert json.loads(out)["value"] == "nan"
    assert_one_line_error(*run_main(argv + ["--zero-division", "raise"], capsys), "zero denominator")


def test_explain_files(capsys, data):
    d, arrays = data
    class_weight = '{"0": 1, "1": 5, "2": 1, "3": 2}'
    rc, out, err = run_main(["explain", *case_args(d, "cce"), "--class-weight", class_weight,
                             "--chunk-rows", 50], capsys)
    assert rc == 0, err
    kwargs = dict(label_smoothing=0.2, sample_weight=arrays["sw"], mask=arrays["mask"],
                  class_weight={0: 1.0, 1: 5.0, 2: 1.0, 3: 2.0})
    totals = fastloss.categorical_crossentropy(arrays["onehot"], arrays["probs"], reduction="totals", **kwargs)
    unweighted = fastloss.categorical_crossentropy(arrays["onehot"], arrays["probs"], reduction="totals",
                                                   label_smoothing=0.2, mask=arrays["mask"])
    assert "in 6 chunks" in out
    assert "memory-mapped" in out
    for line in out.splitlines():
        for conv in fastloss.CONVENTIONS:
            if line.startswith(conv.name + " "):
                assert float(line.split()[-1]) == pytest.approx(totals.result(conv.name), rel=1e-4)
        if line.startswith("unweighted"):
            assert float(line.split()[-1]) == pytest.approx(unweighted.result("mean"), rel=1e-4)
    assert max(map(len, out.splitlines())) <= 100

    rc, out, _ = run_main(["explain", *case_args(d, "cce"), "--class-weight", class_weight, "--json"], capsys)
    report = json.loads(out)
    assert report["totals"] == totals.as_dict()
    assert report["unweighted_totals"] == unweighted.as_dict()


def test_class_weight_array_file_and_json_list(capsys, data, tmp_path):
    d, arrays = data
    np.save(tmp_path / "cw.npy", np.array([1.0, 5.0, 1.0, 2.0]))
    expected = fastloss.sparse_categorical_crossentropy(
        arrays["labels"], arrays["probs"], class_weight=np.array([1.0, 5.0, 1.0, 2.0]),
        reduction="mean_with_sample_weight")
    base = ["evaluate", "--loss", "scce", "--y-true", d / "labels.npy", "--y-pred", d / "probs.npy",
            "--reduction", "weighted_mean", "--class-weight"]
    for spec in (tmp_path / "cw.npy", "[1, 5, 1, 2]", '{"0": 1, "1": 5, "2": 1, "3": 2}'):
        rc, out, err = run_main(base + [spec], capsys)
        assert rc == 0, err
        assert float(out) == expected


def test_long_names_and_aliases_agree(capsys, data):
    d, _ = data
    outs = set()
    for loss in ("mae", "mean_absolute_error", "MAE"):
        rc, out, _ = run_main(["evaluate", "--loss", loss, "--y-true", d / "reg_true.npy",
                               "--y-pred", d / "reg_pred.npy"], capsys)
        assert rc == 0
        outs.add(out)
    assert len(outs) == 1


# ----------------------------------------------------------------------------------------------------------
# .npz members and memory mapping


def test_npz_members(capsys, data):
    d, arrays = data
    expected = fastloss.categorical_crossentropy(arrays["onehot"], arrays["probs"], sample_weight=arrays["sw"],
                                                 mask=arrays["mask"], reduction="sum")
    npz = d / "all.npz"
    rc, out, err = run_main(["evaluate", "--loss", "cce", "--y-true", f"{npz}:onehot", "--y-pred", f"{npz}:probs",
                             "--sample-weight", f"{npz}:sw", "--mask", f"{npz}:mask.npy", "--reduction", "sum",
                             "--chunk-rows", 64], capsys)
    assert rc == 0, err
    assert float(out) == pytest.approx(expected, rel=1e-12)
    # a file holding one array needs no key
    rc, out, err = run_main(["evaluate", "--loss", "cce", "--y-true", d / "onehot.npy", "--y-pred",
                             d / "single.npz", "--reduction", "sum"], capsys)
    assert rc == 0, err
    assert float(out) == fastloss.categorical_crossentropy(arrays["onehot"], arrays["probs"], reduction="sum")


@pytest.mark.parametrize("spec", ["probs.npy", "all.npz:probs", "single.npz", "probs_fortran.npy",
                                  "probs_bigendian.npy"])
def test_load_array_memory_maps(data, spec):
    d, arrays = data
    array = cli.load_array(str(d / spec), "y_pred")
    assert isinstance(array, np.memmap)
    assert not array.flags.writeable
    np.testing.assert_array_equal(array, arrays["probs"])


def test_npz_member_layouts(tmp_path):
    a = np.arange(24, dtype=">f8").reshape(2, 3, 4)
    np.savez(tmp_path / "x.npz", f=np.asfortranarray(a), c=a, empty=np.zeros((0, 3)), b=np.array([True, False]))
    for key, expected in (("f", a), ("c", a), ("empty", np.zeros((0, 3))), ("b", np.array([True, False]))):
        loaded = cli.load_array(f"{tmp_path / 'x.npz'}:{key}", "y_true")
        assert loaded.dtype == expected.dtype and loaded.shape == expected.shape
        np.testing.assert_array_equal(loaded, expected)
    assert cli.load_array(f"{tmp_path / 'x.npz'}:f", "y_true").flags.f_contiguous


def test_compressed_npz_is_loaded_with_a_note(capsys, data):
    d, arrays = data
    rc, out, err = run_main(["evaluate", "--loss", "cce", "--y-true", d / "onehot.npy",
                             "--y-pred", d / "compressed.npz", "--reduction", "sum"], capsys)
    assert rc == 0
    assert float(out) == fastloss.categorical_crossentropy(arrays["onehot"], arrays["probs"], reduction="sum")
    assert "savez_compressed" in err and "np.savez" in err


# ----------------------------------------------------------------------------------------------------------
# Errors: one line, exit status 2, no traceback


def error_cases(d):
    good = ["--y-true", d / "onehot.npy", "--y-pred", d / "probs.npy"]
    return {
        "missing file": (["--loss", "cce", "--y-true", d / "nope.npy", "--y-pred", d / "probs.npy"],
                         ["y_true", "no such file", "nope.npy"]),
        "missing npz file": (["--loss", "cce", "--y-true", f"{d / 'nope.npz'}:k", "--y-pred", d / "probs.npy"],
                             ["y_true", "no such file"]),
        "bad npz key": (["--loss", "cce", "--y-true", f"{d / 'all.npz'}:nokey", "--y-pred", d / "probs.npy"],
                        ["y_true", "nokey", "onehot"]),
        "ambiguous npz": (["--loss", "cce", "--y-true", d / "all.npz", "--y-pred", d / "probs.npy"],
                          ["y_true", "KEY"]),
        "not an array file": (["--loss", "cce", "--y-true", d / "notes.txt", "--y-pred", d / "probs.npy"],
                              ["y_true", "not a .npy or .npz"]),
        "shape mismatch": (["--loss", "cce", "--y-true", d / "onehot_wrong_k.npy", "--y-pred", d / "probs.npy"],
                           ["y_true", f"({N}, {T}, 3)", f"({N}, {T}, {K})"]),
        "shape mismatch chunked": (["--loss", "cce", "--y-true", d / "onehot_wrong_k.npy", "--y-pred",
                                    d / "probs.npy", "--chunk-rows", 10],
                                   ["y_true", f"({N}, {T}, 3)", f"({N}, {T}, {K})"]),
        "sample_weight length": (["--loss", "cce", *good, "--sample-weight", d / "short.npy"],
                                 ["sample_weight", f"({N - 1},)"]),
        "unknown loss": (["--loss", "no_such_loss", *good], ["--loss", "no_such_loss"]),
        "option of another loss": (["--loss", "mse", *good, "--from-logits"], ["--from-logits"]),
        "bad probability in a later chunk": (["--loss", "cce", "--y-true", d / "onehot.npy", "--y-pred",
                                              d / "probs_bad.npy", "--chunk-rows", 100],
                                             ["y_pred", "(237, 1)"]),
        "bad class_weight json": (["--loss", "cce", *good, "--class-weight", "{0: 1}"], ["class_weight"]),
        "zero threads": (["--loss", "cce", *good, "--threads", 0], ["n_threads"]),
    }


@pytest.mark.parametrize("case", list(error_cases(Path("."))))
def test_errors(capsys, data, case):
    d, _ = data
    argv, fragments = error_cases(d)[case]
    assert_one_line_error(*run_main(["evaluate", *argv], capsys), *fragments)


@pytest.mark.parametrize("argv", [
    ["evaluate", "--loss", "mae"],  # missing required arguments
    ["evaluate", "--loss", "mae", "--y-true", "a.npy", "--y-pred", "b.npy", "--chunk-rows", "0"],
    ["evaluate", "--loss", "mae", "--y-true", "a.npy", "--y-pred", "b.npy", "--reduction", "median"],
    ["evaluate", "--loss", "mae", "--y-true", "a.npy", "--y-pred", "b.npy", "--zero-division", "maybe"],
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2(capsys, argv):
    rc, out, err = run_main(argv, capsys)
    assert rc == 2 and out == ""
    assert "usage:" in err and "Traceback" not in err


def test_help_exits_0(capsys):
    rc, out, _ = run_main(["--help"], capsys)
    assert rc == 0 and "explain" in out and "evaluate" in out
    rc, out, _ = run_main(["--version"], capsys)
    assert rc == 0 and fastloss.__version__ in out


# ----------------------------------------------------------------------------------------------------------
# python -m fastloss


def test_module_info(tmp_path):
    rc, out, err = run_module(["info"], tmp_path)
    assert rc == 0, err
    assert f"version: {fastloss.__version__}" in out.splitlines()
    rc, out, err = run_module(["info", "--json"], tmp_path)
    assert rc == 0 and json.loads(out)["version"] == fastloss.__version__


def test_module_explain(tmp_path):
    rc, out, err = run_module(["explain"], tmp_path)
    assert rc == 0, err
    assert _table_values(out) == EXAMPLE_VALUES


def test_module_evaluate(tmp_path, data):
    d, arrays = data
    rc, out, err = run_module(["evaluate", *case_args(d, "scce"), "--reduction", "keras_legacy", "--chunk-rows", 16],
                              tmp_path)
    assert rc == 0, err
    assert float(out) == pytest.approx(api_value(arrays, "scce", "keras_legacy"), rel=1e-12)
    rc, out, err = run_module(["evaluate", *case_args(d, "scce"), "--json"], tmp_path)
    assert rc == 0, err
    assert json.loads(out)["value"] == api_value(arrays, "scce", "sum_over_batch_size")


@pytest.mark.parametrize("case", ["missing file", "bad npz key", "shape mismatch", "unknown loss"])
def test_module_errors(tmp_path, data, case):
    d, _ = data
    argv, fragments = error_cases(d)[case]
    assert_one_line_error(*run_module(["evaluate", *argv], tmp_path), *fragments)


def test_module_usage_error(tmp_path):
    rc, out, err = run_module(["evaluate"], tmp_path)
    assert rc == 2 and "usage:" in err and "Traceback" not in err


def test_evaluate_huber_delta(capsys, data):
    # --delta reaches the huber loss (the only loss whose signature takes it) and changes the value.
    d, arrays = data
    args = ["evaluate", "--loss", "huber", "--y-true", d / "reg_true.npy", "--y-pred", d / "reg_pred.npy",
            "--sample-weight", d / "sw.npy", "--reduction", "sum"]
    rc, out, err = run_main([*args, "--delta", "0.25"], capsys)
    assert rc == 0, err
    expected = fastloss.huber(arrays["reg_true"], arrays["reg_pred"], delta=0.25, sample_weight=arrays["sw"],
                              reduction="sum")
    assert float(out) == expected
    rc, out, _ = run_main(args, capsys)
    assert rc == 0 and float(out) == fastloss.huber(arrays["reg_true"], arrays["reg_pred"],
                                                    sample_weight=arrays["sw"], reduction="sum") != expected
    rc, _, err = run_main([*args, "--delta", "-1"], capsys)
    assert rc == 2 and "delta" in err and "Traceback" not in err


def test_evaluate_focal_options_reach_the_loss_and_chunks_add_up(capsys, data):
    # --gamma / --alpha / --apply-class-balancing go to binary_focal_crossentropy; chunked totals equal the whole.
    d, arrays = data
    args = ["evaluate", "--loss", "binary_focal_crossentropy", "--y-true", d / "binary.npy", "--y-pred",
            d / "probs.npy", "--sample-weight", d / "sw.npy", "--mask", d / "mask.npy", "--gamma", "1.5",
            "--alpha", "0.4", "--apply-class-balancing", "--reduction", "sum", "--chunk-rows", "7"]
    rc, out, err = run_main(args, capsys)
    assert rc == 0, err
    expected = fastloss.binary_focal_crossentropy(arrays["binary"], arrays["probs"], gamma=1.5, alpha=0.4,
                                                  apply_class_balancing=True, sample_weight=arrays["sw"],
                                                  mask=arrays["mask"], reduction="sum")
    assert float(out) == pytest.approx(expected, rel=1e-12)
    assert expected != fastloss.binary_focal_crossentropy(arrays["binary"], arrays["probs"], sample_weight=arrays["sw"],
                                                          mask=arrays["mask"], reduction="sum")


def test_evaluate_dice_is_not_chunked(capsys, data):
    # Dice with axis=None is one ratio of sums over the whole batch: chunks would change it, so the CLI makes one call.
    d, arrays = data
    args = ["evaluate", "--loss", "dice", "--y-true", d / "binary.npy", "--y-pred", d / "probs.npy",
            "--smooth", "1", "--chunk-rows", "5"]
    rc, out, err = run_main(args, capsys)
    assert rc == 0, err
    assert float(out) == fastloss.dice(arrays["binary"], arrays["probs"], smooth=1.0)


@pytest.mark.parametrize("flag, value", [("--gamma", "2"), ("--q", "0.3"), ("--smooth", "1")])
def test_option_of_another_loss_is_a_one_line_error(capsys, data, flag, value):
    d, _ = data
    rc, _, err = run_main(["evaluate", "--loss", "mse", "--y-true", d / "reg_true.npy", "--y-pred",
                           d / "reg_pred.npy", flag, value], capsys)
    assert rc == 2 and flag in err and "not an option of mean_squared_error" in err and "Traceback" not in err
