"""The conventions: one-pass totals and the O(1) finalizers that turn them into a loss.

This module is the only place where a divisor is chosen. Every loss, the Accumulator, the CLI and the
oracle's zero-division handling go through it.

A pass over the data yields, over the *included* rows (mask True):

    S = Σ w·l   (weighted_sum)          W = Σ w   (weight_sum)
    V = count   (count)                 Z = #{w ≠ 0}   (nonzero_rows)

and fixed counts that ignore the mask:

    R  = rows                           E  = entries of the effective weight array
    E0 = non-zero entries of that array (Keras 2.2 counts them before masking)

Totals add, so chunks of a dataset, batches of a loop, or shards of a cluster combine exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple, Union

ZeroDivision = Union[str, float]
DEFAULT_ZERO_DIVISION = 0.0


class Convention(NamedTuple):
    name: str
    formula: str  # in terms of the totals
    used_by: str


# The divisors, in the order the CLI's table shows them. Aliases map onto these names.
CONVENTIONS = (
    Convention("sum", "S", "every framework's reduction='sum'"),
    Convention(
        "sum_over_batch_size",
        "S / V",
        "Keras 3 default (also 'mean'); tf.keras >= 2.10; Keras 3 with a mask divides by the valid count",
    ),
    Convention(
        "sum_over_all_rows",
        "S / R",
        "tf.keras <= 2.9 with a mask; PyTorch reduction='mean' of a pre-weighted loss, (l*w*m).mean()",
    ),
    Convention(
        "mean_with_sample_weight",
        "S / W",
        "scikit-learn sample_weight; PyTorch class-weighted cross_entropy/nll_loss, l1/mse with weight=; "
        "Keras 3 'mean_with_sample_weight' and weighted_metrics (also 'weighted_mean')",
    ),
    Convention("sum_by_nonzero_weights", "S / Z", "TF1 tf.losses SUM_BY_NONZERO_WEIGHTS"),
    Convention("keras_legacy", "S * E / (V * E0)", "Keras 2.2 weighted_masked_objective (fit/evaluate)"),
)

ALIASES = {"mean": "sum_over_batch_size", "weighted_mean": "mean_with_sample_weight"}
SCALAR_REDUCTIONS = tuple(c.name for c in CONVENTIONS) + tuple(ALIASES)
REDUCTIONS = ("none",) + SCALAR_REDUCTIONS + ("totals",)


def canonical_reduction(reduction) -> str:
    """Validate a reduction name and resolve aliases. ``None`` means ``"none"``, as in Keras."""
    if reduction is None:
        return "none"
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction: unknown value {reduction!r}; allowed values are {', '.join(map(repr, REDUCTIONS))}"
        )
    return ALIASES.get(reduction, reduction)


def check_zero_division(zero_division) -> ZeroDivision:
    """``"nan"`` (PyTorch, Keras 2.2), a float such as 0.0 (Keras 3's divide_no_nan), or ``"raise"`` (scikit-learn)."""
    if isinstance(zero_division, str):
        if zero_division in ("nan", "raise"):
            return zero_division
    elif isinstance(zero_division, (int, float)) and not isinstance(zero_division, bool):
        return float(zero_division)
    raise ValueError(
        f"zero_division: expected 'nan', 'raise' or a number, got {zero_division!r}"
    )


def divide(numerator: float, denominator: float, zero_division: ZeroDivision, what: str = "") -> float:
    """numerator / denominator, with the zero-denominator policy applied instead of an error or a warning."""
    if denominator != 0:
        return float(numerator) / float(denominator)
    if zero_division == "raise":
        raise ValueError(
            f"reduction {what!r} has a zero denominator (no included rows, or every weight is zero); "
            "pass zero_division='nan' or a number to get a value instead"
        )
    if zero_division == "nan":
        return math.nan
    return float(zero_division)


@dataclass(frozen=True)
class Totals:
    """Sufficient statistics of a weighted, masked loss; ``a + b`` merges, ``result()`` finalizes."""

    weighted_sum: float = 0.0  # S
    weight_sum: float = 0.0  # W
    count: int = 0  # V
    nonzero_rows: int = 0  # Z
    rows: int = 0  # R
    weight_entries: int = 0  # E
    nonzero_weight_entries: int = 0  # E0

    def __add__(self, other: "Totals") -> "Totals":
        if not isinstance(other, Totals):
            return NotImplemented
        return Totals(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __radd__(self, other):
        # lets sum(list_of_totals) start from 0
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def result(self, reduction: str = "sum_over_batch_size", zero_division: ZeroDivision = DEFAULT_ZERO_DIVISION) -> float:
        """Finalize with one of the conventions in ``CONVENTIONS`` (or an alias)."""
        name = canonical_reduction(reduction)
        if name not in SCALAR_REDUCTIONS:
            raise ValueError(
                f"reduction: Totals.result needs a scalar reduction, got {reduction!r}; "
                f"allowed values are {', '.join(map(repr, SCALAR_REDUCTIONS))}"
            )
        zero_division = check_zero_division(zero_division)
        return scalar_result(name, zero_division, self.weighted_sum, self.weight_sum, self.count, self.nonzero_rows,
                             self.rows, self.weight_entries, self.nonzero_weight_entries)

    def divisor(self, reduction: str) -> float:
        """D such that the reduction is S / D (so d result / d S = 1 / D, for value_and_grad); D may be 0."""
        name = canonical_reduction(reduction)
        if name not in SCALAR_REDUCTIONS:
            raise ValueError(
                f"reduction: Totals.divisor needs a scalar reduction, got {reduction!r}; "
                f"allowed values are {', '.join(map(repr, SCALAR_REDUCTIONS))}"
            )
        return reduction_divisor(name, self.weight_sum, self.count, self.nonzero_rows, self.rows, self.weight_entries,
                                 self.nonzero_weight_entries)


# The conventions whose divisor is one of the totals, by its place in (S, W, V, Z, R, E, E0): the kernels' order.
_DIVISOR_PLACE = {"sum_over_batch_size": 2, "sum_over_all_rows": 4, "mean_with_sample_weight": 1,
                  "sum_by_nonzero_weights": 3}


def reduction_divisor(name: str, W, V, Z, R, E, E0) -> float:
    """The divisor D of each scalar reduction, result = S / D: the one place where a convention's divisor is chosen."""
    if name == "sum":
        return 1.0
    place = _DIVISOR_PLACE.get(name)
    if place is not None:
        return (None, W, V, Z, R, E, E0)[place]
    # keras_legacy: Keras 2.2 divides the masked loss by mean(mask) and then by the share of non-zero weight
    # entries, i.e. S / (V/R_w) / (E0/E) with the row count cancelling (SEMANTICS.md §1.2).
    return V * E0 / E if E else 0.0


def scalar_result(name: str, zero_division: ZeroDivision, S, W, V, Z, R, E, E0) -> float:
    """Totals.result from the totals' values, for a canonical scalar reduction name and a checked zero_division
    (the engine calls it directly: building a Totals costs ~1 µs, much of a call on 1e3 elements)."""
    if name == "keras_legacy":
        # S·E / (V·E0): the same value as S / reduction_divisor, multiplied first as Keras rounds it.
        S, D = S * E, V * E0
    else:
        D = reduction_divisor(name, W, V, Z, R, E, E0)
    # divide's first branch, inline: a call costs ~0.07 µs, a tenth of a small call's Python.
    return float(S) / float(D) if D != 0 else divide(S, D, zero_division, name)


def scalar_result_of_totals(name: str, zero_division: ZeroDivision, totals) -> float:
    """scalar_result of a kernel's totals (S, W, V, Z, R, E, E0, ...) as one sequence: the engine's direct calls,
    where unpacking the totals into scalar_result's arguments costs as much as the division rule itself."""
    place = _DIVISOR_PLACE.get(name)
    if place is not None and totals[place] != 0:
        return float(totals[0]) / float(totals[place])
    return scalar_result(name, zero_division, *totals[:7])
