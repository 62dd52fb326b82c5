"""Streaming evaluation: totals add, so a dataset fed batch by batch gives the whole-dataset result."""

from __future__ import annotations

import inspect

from ._reductions import DEFAULT_ZERO_DIVISION, Totals
from .losses import LOSSES

# Per-batch inputs go to update(); the reduction is chosen at result().
_PER_CALL = {"sample_weight", "mask", "reduction"}


class Accumulator:
    """Accumulate a loss's totals over batches, chunks of a file, or workers.

    >>> acc = Accumulator("binary_crossentropy", from_logits=True)
    >>> for y, z, w in batches: acc.update(y, z, sample_weight=w)      # doctest: +SKIP
    >>> acc.result("mean_with_sample_weight")                            # doctest: +SKIP

    The totals of the batches equal the totals of the whole for every loss whose value is a sum over rows. Dice
    and Tversky with ``axis=None`` give one value per batch (a ratio of sums over the batch); accumulated, they
    give the weighted mean of the batch values, as Keras reports an epoch, not the value of the concatenated data.
    """

    def __init__(self, loss, **loss_params):
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"loss: unknown loss {loss!r}; known losses are {', '.join(LOSSES)}")
            self.loss_name, self._fn = loss, LOSSES[loss]
        else:
            names = [name for name, fn in LOSSES.items() if fn is loss]
            if not names:
                raise TypeError(f"loss: expected a loss name or a fastloss loss function, got {loss!r}")
            self.loss_name, self._fn = names[0], loss
        bad = _PER_CALL.intersection(loss_params)
        if bad:
            raise TypeError(f"{sorted(bad)[0]}: pass it to update() or result(), not to Accumulator()")
        accepted = inspect.signature(self._fn).parameters
        unknown = sorted(set(loss_params) - set(accepted))
        if unknown:
            options = sorted(set(accepted) - {"y_true", "y_pred"} - _PER_CALL)
            raise TypeError(f"{unknown[0]}: {self.loss_name} has no such option; its options are {', '.join(options)}")
        self._params = loss_params
        self._totals = Totals()

    @property
    def totals(self) -> Totals:
        return self._totals

    def update(self, y_true, y_pred, *, sample_weight=None, class_weight=None, mask=None) -> "Accumulator":
        params = dict(self._params)
        if class_weight is not None:
            params["class_weight"] = class_weight
        batch = self._fn(y_true, y_pred, sample_weight=sample_weight, mask=mask, reduction="totals", **params)
        self._totals = self._totals + batch
        return self

    def merge(self, other) -> "Accumulator":
        if isinstance(other, Accumulator):
            if other.loss_name != self.loss_name:
                raise ValueError(f"other: cannot merge a {other.loss_name} accumulator into a {self.loss_name} one")
            other = other.totals
        if not isinstance(other, Totals):
            raise TypeError(f"other: expected an Accumulator or Totals, got {type(other).__name__}")
        self._totals = self._totals + other
        return self

    def reset(self) -> "Accumulator":
        self._totals = Totals()
        return self

    def result(self, reduction="sum_over_batch_size", zero_division=DEFAULT_ZERO_DIVISION) -> float:
        return self._totals.result(reduction, zero_division)

    def __repr__(self):
        return f"Accumulator({self.loss_name!r}, rows={self._totals.rows})"
