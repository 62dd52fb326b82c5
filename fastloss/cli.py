"""The ``fastloss`` command line: ``info``, ``explain`` and ``evaluate``.

    fastloss info [--json]
    fastloss explain                                   # the built-in padded-sequence example
    fastloss explain  --loss mae --y-true t.npy --y-pred p.npy [--sample-weight w.npy] [--mask m.npy] ...
    fastloss evaluate --loss mae --y-true t.npy --y-pred p.npy --reduction mean_with_sample_weight [--json]

Arrays come from ``.npy`` files or from members of ``.npz`` files (``file.npz:key``, or ``file.npz`` when it holds
one array). Both are memory-mapped, never read whole: the data are evaluated in chunks of samples (axis 0) with
``fastloss.Accumulator``, whose totals add exactly, so memory stays bounded whatever the file size. A member of
an ``np.savez_compressed`` file cannot be memory-mapped; it is decompressed into memory instead, with a note on
stderr.

Errors (bad or missing files, shape mismatches, invalid arguments) print one line ``fastloss: error: ...`` on
stderr and exit with status 2, as argparse does for usage errors. ``FASTLOSS_CLI_TRACEBACK=1`` re-raises instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import re
import shutil
import struct
import sys
import textwrap
import zipfile
from typing import Optional

import numpy as np
from numpy.lib import format as npy_format

import fastloss

from ._reductions import CONVENTIONS, SCALAR_REDUCTIONS, Totals, canonical_reduction, check_zero_division

PROG = "fastloss"
EXIT_ERROR = 2

#: Short names accepted by ``--loss`` besides the keys of ``fastloss.LOSSES``.
LOSS_ALIASES = {
    "bce": "binary_crossentropy",
    "cce": "categorical_crossentropy",
    "scce": "sparse_categorical_crossentropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
}

#: Loss-specific options and their flags; which losses take one is read from the loss's own signature.
_LOSS_OPTIONS = {
    "from_logits": "--from-logits",
    "label_smoothing": "--label-smoothing",
    "ignore_class": "--ignore-class",
    "delta": "--delta",
    "alpha": "--alpha",
    "beta": "--beta",
    "gamma": "--gamma",
    "q": "--q",
    "smooth": "--smooth",
    "apply_class_balancing": "--apply-class-balancing",
}


def _losses_taking(option: str) -> list:
    return [name for name, fn in fastloss.LOSSES.items() if option in inspect.signature(fn).parameters]
#: Losses whose 1-D y_pred is a single row (its axis 0 is the class axis, so it cannot be chunked).
_CLASS_AXIS_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence",
                      "categorical_hinge", "cosine_similarity", "categorical_focal_crossentropy",
                      "categorical_generalized_cross_entropy")
#: Losses that compute one value from sums over the whole batch (Dice and Tversky with axis=None): a chunk's
#: value is not a part of the whole's, so they are evaluated in one call.
_WHOLE_BATCH_LOSSES = ("dice", "tversky")

#: Default chunk: as many samples as fit in about this many elements of y_pred (32 MiB of float64).
DEFAULT_CHUNK_ELEMENTS = 1 << 22

_TOTAL_LETTERS = (
    ("S", "weighted_sum", "sum of w*l over the included rows"),
    ("W", "weight_sum", "sum of w over the included rows"),
    ("V", "count", "number of included rows (mask, ignore_class)"),
    ("Z", "nonzero_rows", "included rows with w != 0"),
    ("R", "rows", "all rows, the mask ignored"),
    ("E", "weight_entries", "entries of the effective weight array"),
    ("E0", "nonzero_weight_entries", "non-zero entries of that array, the mask ignored"),
)

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
# ZIP local file header: signature, version, flags, method, time, date, crc32, sizes, name and extra lengths.
_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


class CLIError(Exception):
    """A user error, reported as one line on stderr with exit status 2."""


# --------------------------------------------------------------------------------------------------------------
# Loading arrays: .npy and .npz members, memory-mapped


def _split_spec(spec: str):
    """``file.npz:key`` -> (file.npz, key); a path that exists as given is never split."""
    if ":" in spec and not os.path.exists(spec):
        path, key = spec.rsplit(":", 1)
        if path:
            return path, key
    return spec, None


def load_array(spec: str, what: str) -> np.ndarray:
    """Memory-map the array named by ``spec`` (a .npy file, ``file.npz:key`` or a one-array ``file.npz``)."""
    path, key = _split_spec(spec)
    if not os.path.exists(path):
        shown = path if key is None or path.endswith(".npz") else spec
        raise CLIError(f"{what}: no such file: {shown!r}")
    if os.path.isdir(path):
        raise CLIError(f"{what}: {path!r} is a directory, not a .npy or .npz file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise CLIError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    if magic.startswith(_ZIP_MAGIC):
        return _load_npz_member(path, key, what)
    if magic != _NPY_MAGIC:
        raise CLIError(f"{what}: {path!r} is not a .npy or .npz file (write one with np.save or np.savez)")
    if key is not None:
        raise CLIError(f"{what}: {path!r} is a .npy file; ':{key}' selects an array of an .npz file only")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CLIError(f"{what}: cannot memory-map {path!r}: {exc}") from None


def _read_npy_header(fh):
    version = npy_format.read_magic(fh)
    if version == (1, 0):
        return npy_format.read_array_header_1_0(fh)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(fh)
    reader = getattr(npy_format, "_read_array_header", None)  # version 3.0 (utf-8 field names)
    if reader is None:
        raise ValueError(f"unsupported .npy format version {version}")
    return reader(fh, version)


def _load_npz_member(path: str, key: Optional[str], what: str) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {info.filename: info for info in zf.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CLIError(f"{what}: {path!r} is not a valid .npz file: {exc}") from None
    keys = {name[: -len(".npy")] if name.endswith(".npy") else name: name for name in infos}
    if key is None:
        if len(keys) != 1:
            listing = ", ".join(sorted(keys)) or "nothing"
            raise CLIError(
                f"{what}: {path!r} holds {len(keys)} arrays ({listing}); choose one as {path}:KEY"
            )
        key = next(iter(keys))
    member = keys.get(key, key if key in infos else None)
    if member is None:
        listing = ", ".join(sorted(keys)) or "nothing"
        raise CLIError(f"{what}: {path!r} has no array {key!r}; it holds: {listing}")
    info = infos[member]
    where = f"{path}:{key}"
    if info.flag_bits & 0x1:
        raise CLIError(f"{what}: {where!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:
        # Compressed members cannot be memory-mapped: decompress into memory rather than refuse.
        _note(
            f"{what}: {where} is compressed (np.savez_compressed), so it is loaded into memory instead of "
            "memory-mapped; write it with np.savez to memory-map it"
        )
        try:
            with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
                return npy_format.read_array(fh, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise CLIError(f"{what}: cannot read {where!r}: {exc}") from None
    try:
        with open(path, "rb") as fh:
            fh.seek(info.header_offset)
            raw = fh.read(_ZIP_LOCAL_HEADER.size)
            if len(raw) != _ZIP_LOCAL_HEADER.size:
                raise ValueError("truncated zip local header")
            fields = _ZIP_LOCAL_HEADER.unpack(raw)
            if fields[0] != _ZIP_MAGIC:
                raise ValueError("bad zip local header signature")
            name_len, extra_len = fields[-2], fields[-1]
            start = info.header_offset + _ZIP_LOCAL_HEADER.size + name_len + extra_len
            fh.seek(start)
            shape, fortran_order, dtype = _read_npy_header(fh)
            data_offset = fh.tell()
    except (ValueError, OSError, EOFError, struct.error) as exc:
        raise CLIError(f"{what}: {where!r} is not a valid .npy member: {exc}") from None
    if dtype.hasobject:
        raise CLIError(f"{what}: {where!r} holds Python objects (dtype {dtype}), which cannot be memory-mapped")
    nbytes = math.prod(shape) * dtype.itemsize
    if data_offset - start + nbytes > info.file_size:
        raise CLIError(f"{what}: {where!r} is truncated: its header announces {nbytes} bytes of data")
    order = "F" if fortran_order else "C"
    if nbytes == 0:
        return np.empty(shape, dtype=dtype, order=order)
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=data_offset, shape=shape, order=order)
    except (ValueError, OSError) as exc:
        raise CLIError(f"{what}: cannot memory-map {where!r}: {exc}") from None


def load_class_weight(spec: str):
    """``--class-weight``: JSON (``'{"0": 1, "1": 5}'`` or ``'[1, 5]'``) or an array file."""
    text = spec.strip()
    if not text.startswith(("{", "[")):
        return np.array(load_array(spec, "class_weight"))  # small (one entry per class): read it whole
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"class_weight: not valid JSON ({exc.msg} at column {exc.colno}): {spec!r}") from None

    def number(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CLIError(f"class_weight: weights must be numbers, got {value!r}")
        return float(value)

    if isinstance(obj, dict):
        weights = {}
        for k, v in obj.items():
            try:
                label = int(k)
            except ValueError:
                raise CLIError(f"class_weight: keys must be integer class labels, got {k!r}") from None
            weights[label] = number(v)
        return weights
    if isinstance(obj, list):
        return np.array([number(v) for v in obj], dtype=np.float64)
    raise CLIError(f"class_weight: expected a JSON object or list, got {spec!r}")


# --------------------------------------------------------------------------------------------------------------
# Evaluation in chunks


def resolve_loss(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    key = LOSS_ALIASES.get(key, key)
    if key not in fastloss.LOSSES:
        known = ", ".join(list(fastloss.LOSSES) + [f"{a} ({n})" for a, n in LOSS_ALIASES.items()])
        raise CLIError(f"--loss: unknown loss {name!r}; known losses: {known}")
    return key


def parse_zero_division(text: str):
    value = text.strip().lower()
    if value in ("nan", "raise"):
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'nan', 'raise' or a number, got {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


@dataclasses.dataclass
class Job:
    """What ``explain``/``evaluate`` evaluate: the loss, its options and the (memory-mapped) arrays."""

    loss: str
    params: dict  # keyword arguments for the loss / Accumulator (from_logits, ..., n_threads)
    arrays: dict  # y_true, y_pred, sample_weight, mask -> array or None
    class_weight: object
    sources: dict  # argument -> the spec given on the command line
    zero_division: object


def job_from_args(args) -> Job:
    loss = resolve_loss(args.loss)
    params = {}
    for name, flag in _LOSS_OPTIONS.items():
        value = getattr(args, name)
        if value is None or value is False:
            continue
        losses = _losses_taking(name)
        if loss not in losses:
            raise CLIError(f"{flag}: not an option of {loss} (it applies to {', '.join(losses)})")
        params[name] = value
    if args.threads is not None:
        params["n_threads"] = args.threads
    sources = {"y_true": args.y_true, "y_pred": args.y_pred, "sample_weight": args.sample_weight,
               "mask": args.mask}
    arrays = {what: (None if spec is None else load_array(spec, what)) for what, spec in sources.items()}
    class_weight = None
    if args.class_weight is not None:
        class_weight = load_class_weight(args.class_weight)
        sources["class_weight"] = args.class_weight
    zero_division = check_zero_division(args.zero_division)
    return Job(loss, params, arrays, class_weight, {k: v for k, v in sources.items() if v is not None},
               zero_division)


def _samples(job: Job) -> Optional[int]:
    """The number of samples along axis 0 if the arrays can be cut there, else None (one call on the whole)."""
    y_pred = job.arrays["y_pred"]
    if y_pred.ndim == 0 or (y_pred.ndim == 1 and job.loss in _CLASS_AXIS_LOSSES) or job.loss in _WHOLE_BATCH_LOSSES:
        return None
    n = y_pred.shape[0]
    for array in job.arrays.values():
        if array is not None and array.ndim >= 1 and array.shape[0] != n:
            return None  # a shape error: let fastloss report it with both shapes
    return n


def _chunk(job: Job, rows: Optional[slice]) -> dict:
    chunk = {}
    for what, array in job.arrays.items():
        if array is None:
            chunk[what] = None
        elif rows is None or array.ndim == 0:
            chunk[what] = np.asarray(array)
        else:
            chunk[what] = np.asarray(array[rows])  # a view of the memory map: pages are read on demand
    return chunk


def _check_shapes(job: Job, n: int) -> None:
    """Let fastloss check the shapes on zero samples, and quote them with the real sample count.

    Shape rules do not depend on axis 0 (all arrays cut there have n samples), so an empty slice of every
    array raises exactly the shape and dtype errors the whole data would, without reading any data; only the
    leading 0 of each quoted shape is put back to n.
    """
    chunk = _chunk(job, slice(0, 0))
    try:
        fastloss.LOSSES[job.loss](chunk["y_true"], chunk["y_pred"], sample_weight=chunk["sample_weight"],
                                  class_weight=job.class_weight, mask=chunk["mask"], reduction="totals",
                                  **job.params)
    except (ValueError, TypeError) as exc:
        raise type(exc)(re.sub(r"\(0(?=[,)])", f"({n}", str(exc))) from None


@dataclasses.dataclass
class Evaluation:
    totals: Totals
    unweighted: Optional[Totals]  # the same pass without sample_weight and class_weight (Keras 3 metrics=)
    samples: Optional[int]
    chunks: int
    chunk_rows: Optional[int]


def evaluate(job: Job, chunk_rows: Optional[int] = None, unweighted: bool = False) -> Evaluation:
    """Accumulate the totals chunk by chunk (axis 0); chunk totals add exactly in fastloss.Accumulator."""
    acc = fastloss.Accumulator(job.loss, **job.params)
    acc_u = fastloss.Accumulator(job.loss, **job.params) if unweighted else None
    n = _samples(job)
    if n is None or n == 0:
        step, bounds = None, [None]
    else:
        if chunk_rows is None:
            per_sample = math.prod(job.arrays["y_pred"].shape[1:])
            chunk_rows = max(1, DEFAULT_CHUNK_ELEMENTS // max(1, per_sample))
        step = min(chunk_rows, n)
        bounds = [slice(start, min(start + step, n)) for start in range(0, n, step)]
    if len(bounds) > 1:
        _check_shapes(job, n)
    for rows in bounds:
        chunk = _chunk(job, rows)
        try:
            acc.update(chunk["y_true"], chunk["y_pred"], sample_weight=chunk["sample_weight"],
                       class_weight=job.class_weight, mask=chunk["mask"])
            if acc_u is not None:
                acc_u.update(chunk["y_true"], chunk["y_pred"], mask=chunk["mask"])
        except ValueError as exc:
            if rows is None or rows.start == 0:
                raise
            # fastloss names a bad row by its index in the chunk ("row (5, 2)"): report it in the whole data.
            message = re.sub(r"\brow \((\d+)", lambda m: f"row ({int(m.group(1)) + rows.start}", str(exc))
            raise ValueError(message) from None
    totals = acc.totals
    sw = job.arrays["sample_weight"]
    if len(bounds) > 1 and sw is not None and sw.ndim == 0 and job.class_weight is None:
        # A scalar sample_weight counts as one weight entry (E = 1, E0 = [sw != 0]) per call; every chunk
        # counted it again. Restore the counts of a single call on the whole data.
        totals = dataclasses.replace(totals, weight_entries=1, nonzero_weight_entries=int(sw != 0))
    return Evaluation(totals, None if acc_u is None else acc_u.totals,
                      n, len(bounds), step)


# --------------------------------------------------------------------------------------------------------------
# Formatting


def _fmt_exact(x) -> str:
    """Round-trip precise: ints as ints, floats as repr (shortest string that reads back as the same float)."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return repr(float(x))


def _fmt_short(x) -> str:
    """For people: 4 decimals, at least 5 significant digits, written like a Python float.

    25.0, 4.1667, 3.125, 3838.4524, 0.0012346, 1.2346e-08, nan.
    """
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return repr(x)
    if x != 0 and not 1e-4 <= abs(x) < 1e15:
        return format(x, ".5g")
    decimals = 4 if x == 0 else max(4, 4 - math.floor(math.log10(abs(x))))
    text = format(x, f".{decimals}f").rstrip("0")
    return text + "0" if text.endswith(".") else text


def _fmt_total(x) -> str:
    """A total inside a formula: integral values without a decimal point (25, not 25.0)."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isfinite(x) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return format(x, ".8g") if math.isfinite(x) else repr(x)


def _fill_formula(formula: str, values: dict) -> str:
    def sub(match):
        text = _fmt_total(values[match.group(1)])
        return f"({text})" if text.startswith("-") else text

    return re.sub(r"\b(E0|S|W|V|Z|R|E)\b", sub, formula)


def _letters(totals: Totals) -> dict:
    data = totals.as_dict()
    return {letter: data[field] for letter, field, _ in _TOTAL_LETTERS}


def _jsonable(x):
    """JSON without NaN/Infinity (not JSON): non-finite floats become the strings 'nan', 'inf', '-inf'."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else repr(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if x is None or isinstance(x, str):
        return x
    return str(x)


def _dump_json(obj, out) -> None:
    print(json.dumps(_jsonable(obj), indent=2, allow_nan=False), file=out)


def _width() -> int:
    columns = shutil.get_terminal_size(fallback=(100, 24)).columns
    return max(60, min(100, columns))


def _wrap(text: str, width: int, indent: str = "", subsequent: Optional[str] = None) -> str:
    return textwrap.fill(text, width=width, initial_indent=indent,
                         subsequent_indent=indent if subsequent is None else subsequent,
                         break_on_hyphens=False)


def _note(message: str) -> None:
    print(f"{PROG}: note: {message}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------------------
# Commands


def cmd_info(args, out) -> int:
    cfg = dict(fastloss.config())
    if args.json:
        _dump_json(cfg, out)
        return 0
    first = [k for k in ("version", "openmp", "threads", "compiler", "flags") if k in cfg]
    for key in first + [k for k in cfg if k not in first]:
        value = cfg[key]
        if key == "openmp" and isinstance(value, (bool, np.bool_)):
            value = "on" if value else "off"
        elif isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        elif isinstance(value, dict):
            value = json.dumps(_jsonable(value))
        print(f"{key}: {value}", file=out)
    return 0


def _conventions_table(totals: Totals, zero_division, unweighted: Optional[Totals]) -> list:
    letters = _letters(totals)
    rows = []
    for conv in CONVENTIONS:
        formula = f"{conv.formula} = {_fill_formula(conv.formula, letters)}"
        try:
            value = totals.result(conv.name, zero_division)
        except ValueError:  # zero_division="raise" and a zero denominator: report it in the table
            value = None
        rows.append({"name": conv.name, "formula": formula, "value": value, "used_by": conv.used_by})
    if unweighted is not None:
        u = _letters(unweighted)
        try:
            value = unweighted.result("sum_over_batch_size", zero_division)
        except ValueError:
            value = None
        rows.append({
            "name": "unweighted (metrics=)",
            "formula": f"S' / V = {_fmt_total(u['S'])} / {_fmt_total(u['V'])}",
            "value": value,
            "used_by": "Keras 3 metrics= and Keras 2.2 metrics (masked, ignore sample_weight and class_weight); "
                       "S' = sum of l over the included rows, from a second pass without weights",
        })
    return rows


def _print_totals(totals: Totals, out) -> None:
    data = totals.as_dict()
    texts = {letter: _fmt_total(data[field]) for letter, field, _ in _TOTAL_LETTERS}
    width = max(map(len, texts.values()))
    print("Totals (one pass over the data):", file=out)
    for letter, _field, meaning in _TOTAL_LETTERS:
        print(f"  {letter:<2} = {texts[letter]:<{width}}  {meaning}", file=out)


def _print_table(rows: list, out) -> None:
    width = _width()
    name_w = max(len("reduction"), *(len(r["name"]) for r in rows))
    values = ["zero division" if r["value"] is None else _fmt_short(r["value"]) for r in rows]
    value_w = max(len("value"), *map(len, values))
    formula_w = max(len("formula"), *(len(r["formula"]) for r in rows))
    formula_w = min(formula_w, max(20, width - name_w - value_w - 4))
    print(f"{'reduction':<{name_w}}  {'formula':<{formula_w}}  {'value':>{value_w}}", file=out)
    print(f"{'-' * name_w}  {'-' * formula_w}  {'-' * value_w}", file=out)
    for row, value in zip(rows, values):
        print(f"{row['name']:<{name_w}}  {row['formula']:<{formula_w}}  {value:>{value_w}}", file=out)
        print(_wrap(f"used by: {row['used_by']}", width, indent="    ", subsequent="             "), file=out)


def _explain_report(title: str, paragraph: str, call: str, totals: Totals, unweighted, zero_division,
                    extra: dict, args, out) -> int:
    rows = _conventions_table(totals, zero_division, unweighted)
    if args.json:
        _dump_json({**extra, "zero_division": zero_division, "totals": totals.as_dict(),
                    "unweighted_totals": None if unweighted is None else unweighted.as_dict(),
                    "conventions": rows}, out)
        return 0
    width = _width()
    print(title, file=out)
    print(file=out)
    for para in paragraph.split("\n\n"):
        print(_wrap(para, width), file=out)
        print(file=out)
    print(call, file=out)
    print(file=out)
    _print_totals(totals, out)
    print(file=out)
    _print_table(rows, out)
    if zero_division != 0.0:
        print(file=out)
        print(f"zero_division={zero_division!r}: a zero denominator gives "
              + ("an error" if zero_division == "raise" else repr(zero_division)), file=out)
    return 0


EXAMPLE_PARAGRAPH = (
    "Built-in example: N = 4 padded sequences of T = 2 steps. y_true is 0 and "
    "y_pred = [[1,3],[2,5],[4,6],[7,9]] (shape (4, 2, 1)), so mean_absolute_error gives the per-step losses "
    "l = |y_pred|. Each sequence has one weight, sample_weight = [2, 0, 1, 1], and the padding mask "
    "[[1,1],[1,0],[1,1],[1,0]] excludes steps (1, 1) and (3, 1), so 6 of the 8 rows are included."
    "\n\n"
    "fastloss makes one pass and returns the totals below. Every framework's scalar is an O(1) formula of "
    "the same totals; the frameworks differ only in the divisor, so the same inputs give different "
    "'mean' losses (25/6, 25/8, 25/7, 25/5, 100/18 and, unweighted, 23/6) depending on which framework "
    "and version computes them."
)


def example_arrays():
    """The padded-sequence example: the same inputs give five different scalars across frameworks."""
    y_pred = np.array([[1, 3], [2, 5], [4, 6], [7, 9]], dtype=np.float64).reshape(4, 2, 1)
    y_true = np.zeros((4, 2, 1))
    sample_weight = np.array([2.0, 0.0, 1.0, 1.0])
    mask = np.array([[1, 1], [1, 0], [1, 1], [1, 0]], dtype=bool)
    return y_true, y_pred, sample_weight, mask


def cmd_explain_example(args, out) -> int:
    zero_division = check_zero_division(args.zero_division)
    common = {} if args.threads is None else {"n_threads": args.threads}
    y_true, y_pred, sample_weight, mask = example_arrays()
    totals = fastloss.mean_absolute_error(y_true, y_pred, sample_weight=sample_weight, mask=mask,
                                          reduction="totals", **common)
    unweighted = fastloss.mean_absolute_error(y_true, y_pred, mask=mask, reduction="totals", **common)
    call = ('fastloss.mean_absolute_error(y_true, y_pred, sample_weight=[2, 0, 1, 1],\n'
            '                             mask=[[1,1],[1,0],[1,1],[1,0]], reduction="totals")')
    return _explain_report("fastloss explain: one loss, every weighting convention", EXAMPLE_PARAGRAPH,
                           call, totals, unweighted, zero_division,
                           {"example": "padded sequences, sample_weight [2, 0, 1, 1], mask", "loss": "mean_absolute_error"}, args, out)


def _describe_inputs(job: Job) -> list:
    parts = []
    for what, spec in job.sources.items():
        if what == "class_weight":
            parts.append(f"class_weight = {spec}")
            continue
        array = job.arrays[what]
        how = "memory-mapped" if isinstance(array, np.memmap) else "in memory"
        parts.append(f"{what} = {spec} (shape {tuple(array.shape)}, {array.dtype}, {how})")
    return parts


def _job_extra(job: Job, ev: Evaluation) -> dict:
    return {
        "loss": job.loss,
        "params": {k: v for k, v in job.params.items() if k != "n_threads"},
        "n_threads": job.params.get("n_threads"),
        "inputs": {what: {"source": spec,
                          **({} if what == "class_weight" else
                             {"shape": list(job.arrays[what].shape), "dtype": str(job.arrays[what].dtype)})}
                   for what, spec in job.sources.items()},
        "rows": ev.totals.rows,
        "samples": ev.samples,
        "chunks": ev.chunks,
        "chunk_rows": ev.chunk_rows,
    }


def cmd_explain_files(args, out) -> int:
    job = job_from_args(args)
    weighted = job.arrays["sample_weight"] is not None or job.class_weight is not None
    ev = evaluate(job, args.chunk_rows, unweighted=weighted)
    options = ", ".join(f"{k}={v!r}" for k, v in job.params.items())
    chunking = (f"in {ev.chunks} chunks of up to {ev.chunk_rows} samples along axis 0, whose totals "
                "fastloss.Accumulator adds exactly" if ev.chunks > 1 else "in one chunk")
    paragraph = (
        f"{job.loss}{f' ({options})' if options else ''} on " + "; ".join(_describe_inputs(job)) + ". "
        f"The data were evaluated {chunking}: {ev.totals.rows} rows, {ev.totals.count} of them included."
        "\n\n"
        "Every framework's scalar is an O(1) formula of the totals below; the frameworks differ only in "
        "the divisor."
        + ("" if weighted else " Without weights, the unweighted masked mean (Keras 3 metrics=) is "
                               "sum_over_batch_size.")
    )
    call = (f"fastloss.Accumulator({job.loss!r}{''.join(f', {k}={v!r}' for k, v in job.params.items())})"
            ".update(...).totals")
    return _explain_report(f"fastloss explain: {job.loss}, every weighting convention", paragraph, call,
                           ev.totals, ev.unweighted, job.zero_division, _job_extra(job, ev), args, out)


def cmd_explain(args, out) -> int:
    if args.loss is None:
        return cmd_explain_example(args, out)
    return cmd_explain_files(args, out)


def cmd_evaluate(args, out) -> int:
    reduction = canonical_reduction(args.reduction)
    job = job_from_args(args)
    ev = evaluate(job, args.chunk_rows)
    if reduction == "totals":
        if args.json:
            _dump_json({**_job_extra(job, ev), "reduction": "totals", "zero_division": job.zero_division,
                        "totals": ev.totals.as_dict()}, out)
        else:
            for key, value in ev.totals.as_dict().items():
                print(f"{key}: {_fmt_exact(value)}", file=out)
        return 0
    value = ev.totals.result(reduction, job.zero_division)
    if args.json:
        _dump_json({"loss": job.loss, "reduction": reduction, "value": value, "zero_division": job.zero_division,
                    "totals": ev.totals.as_dict(), **_job_extra(job, ev)}, out)
    else:
        print(_fmt_exact(value), file=out)
    return 0


# --------------------------------------------------------------------------------------------------------------
# Parser and entry point


def _add_data_arguments(parser, required: bool) -> None:
    names = ", ".join(fastloss.LOSSES)
    aliases = ", ".join(LOSS_ALIASES)
    data = parser.add_argument_group("data")
    data.add_argument("--loss", metavar="NAME", required=required,
                      help=f"one of {names}, or the short names {aliases}")
    data.add_argument("--y-true", metavar="FILE", required=required,
                      help="targets: FILE.npy, FILE.npz:KEY, or FILE.npz holding one array (memory-mapped)")
    data.add_argument("--y-pred", metavar="FILE", required=required, help="predictions (or logits), as --y-true")
    data.add_argument("--sample-weight", metavar="FILE",
                      help="per-sample weights: shape (N,), (N, T), ... (a leading prefix of the rows)")
    data.add_argument("--mask", metavar="FILE",
                      help="rows to include (nonzero = include), a prefix like --sample-weight")
    data.add_argument("--class-weight", metavar="FILE|JSON",
                      help="""per-class weights: a file or JSON, e.g. '{"0": 1, "1": 5}' or '[1, 5]'""")
    loss = parser.add_argument_group("loss options")
    loss.add_argument("--from-logits", action="store_true", default=None,
                      help="y_pred holds logits (crossentropies)")
    loss.add_argument("--label-smoothing", metavar="X", type=float,
                      help="label smoothing (binary/categorical crossentropy)")
    loss.add_argument("--ignore-class", metavar="C", type=int,
                      help="label excluded like a masked row (sparse categorical crossentropy)")
    loss.add_argument("--delta", metavar="D", type=float, help="threshold of the huber loss (default 1.0)")
    loss.add_argument("--alpha", metavar="A", type=float,
                      help="focal losses' balance weight (default 0.25); tversky's false-negative weight (0.5)")
    loss.add_argument("--beta", metavar="B", type=float, help="tversky's false-positive weight (default 0.5)")
    loss.add_argument("--gamma", metavar="G", type=float, help="focal losses' exponent (default 2.0)")
    loss.add_argument("--q", metavar="Q", type=float,
                      help="exponent of categorical_generalized_cross_entropy, 0 < q < 1 (default 0.5)")
    loss.add_argument("--smooth", metavar="S", type=float, help="additive smoothing of dice and tversky (default 0)")
    loss.add_argument("--apply-class-balancing", action="store_true", default=None,
                      help="binary focal crossentropy: weight by alpha / 1 - alpha")
    run = parser.add_argument_group("evaluation")
    run.add_argument("--chunk-rows", metavar="N", type=_positive_int,
                     help=f"samples (along axis 0) per chunk; default: about {DEFAULT_CHUNK_ELEMENTS} "
                          "elements of y_pred per chunk")
    _add_common_arguments(run)


def _add_common_arguments(group) -> None:
    group.add_argument("--zero-division", metavar="nan|raise|NUM", type=parse_zero_division, default=0.0,
                       help="result of a zero denominator (default 0.0, like Keras 3)")
    group.add_argument("--threads", metavar="N", type=int,
                       help="n_threads: N > 0 exactly N, -1 all cores, default: OpenMP's default")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Losses with every Keras / PyTorch / scikit-learn weighting convention, from one pass.",
        epilog="examples:\n"
               "  fastloss info\n"
               "  fastloss explain\n"
               "  fastloss explain --loss mae --y-true t.npy --y-pred p.npy --sample-weight w.npy --mask m.npy\n"
               "  fastloss evaluate --loss scce --y-true data.npz:labels --y-pred data.npz:logits --from-logits \\\n"
               "      --reduction mean_with_sample_weight --json\n"
               "errors print one line 'fastloss: error: ...' and exit with status 2.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {getattr(fastloss, '__version__', 'unknown')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = sub.add_parser("info", help="version, OpenMP, threads, compiler and flags of this build",
                          description="Print fastloss.config(): version, OpenMP, the thread count a call would "
                                      "use now, compiler and flags.")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)

    explain = sub.add_parser(
        "explain", help="one loss under every weighting convention (built-in example or your arrays)",
        description="Compute the totals once and show every convention's divisor, formula and value. "
                    "Without --loss: the built-in padded-sequence example.",
    )
    _add_data_arguments(explain, required=False)
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    explain.set_defaults(func=cmd_explain, subparser=explain)

    evaluate_p = sub.add_parser(
        "evaluate", help="one loss value with one convention",
        description="Evaluate a loss on array files (memory-mapped, in chunks) and print one value.",
    )
    _add_data_arguments(evaluate_p, required=True)
    choices = list(SCALAR_REDUCTIONS) + ["totals"]
    evaluate_p.add_argument("--reduction", metavar="R", default="sum_over_batch_size", choices=choices,
                            help=f"one of {', '.join(choices)} (default sum_over_batch_size)")
    evaluate_p.add_argument("--json", action="store_true",
                            help="a JSON object with loss, reduction, value, totals, rows, ... (a non-finite "
                                 "value is written as the string 'nan', 'inf' or '-inf')")
    evaluate_p.set_defaults(func=cmd_evaluate, subparser=evaluate_p)
    return parser


def _check_explain_args(args) -> None:
    if args.command != "explain" or args.loss is not None:
        if args.command == "explain" and (args.y_true is None or args.y_pred is None):
            args.subparser.error("--loss needs --y-true and --y-pred (or run 'fastloss explain' alone)")
        return
    given = [flag for flag, dest in (("--y-true", "y_true"), ("--y-pred", "y_pred"),
                                     ("--sample-weight", "sample_weight"), ("--mask", "mask"),
                                     ("--class-weight", "class_weight"), ("--from-logits", "from_logits"),
                                     ("--label-smoothing", "label_smoothing"), ("--ignore-class", "ignore_class"),
                                     ("--delta", "delta"), ("--chunk-rows", "chunk_rows"))
             if getattr(args, dest) is not None]
    if given:
        args.subparser.error(f"{', '.join(given)} given without --loss (run 'fastloss explain' alone for "
                             "the built-in example)")


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def main(argv=None) -> int:
    """Entry point of ``fastloss`` and ``python -m fastloss``; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_explain_args(args)
    except SystemExit as exc:  # usage errors (status 2), --help and --version (status 0)
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    out = sys.stdout
    try:
        return args.func(args, out)
    except (CLIError, ValueError, TypeError, OSError, MemoryError) as exc:
        if os.environ.get("FASTLOSS_CLI_TRACEBACK"):
            raise
        if isinstance(exc, BrokenPipeError):
            return _broken_pipe()
        message = "out of memory" if isinstance(exc, MemoryError) else _one_line(exc)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _broken_pipe() -> int:
    # stdout was closed early (e.g. `fastloss explain | head`): stop quietly, as Python's docs recommend.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
