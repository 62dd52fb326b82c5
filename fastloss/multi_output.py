"""The total loss of a multi-output model, as Keras 3 reports it (``CompileLoss`` / ``Trainer.compute_loss``).

``total = Σ_k loss_weight_k · L_k``, where ``L_k`` is output k's loss with its own sample weights, reduced by its own
reduction (Keras's compile default ``"sum_over_batch_size"``). Keras adds ``model.losses`` (regularisers,
``add_loss``) unscaled on top; fastloss has no model, so add them yourself. The per-output values Keras logs
(``<name>_loss``) are the *unweighted* ``L_k``: ``per_output=True`` returns them too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

from ._reductions import DEFAULT_ZERO_DIVISION, SCALAR_REDUCTIONS, canonical_reduction

__all__ = ["total_loss"]


def _loss_name(loss, where):
    from .losses import LOSSES  # every loss by its Keras name (fastloss.LOSSES)

    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"{where}: unknown loss {loss!r}; known losses are {sorted(LOSSES)}")
        return loss
    for name, fn in LOSSES.items():
        if fn is loss:
            return name
    raise TypeError(f"{where}: expected a loss name or a fastloss loss function, got {loss!r}")


def _loss_weight(value, where):
    if isinstance(value, (bool, str, bytes)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _entries(outputs, loss_weights, sample_weight, reduction, zero_division):
    """[(output name, loss name, y_true, y_pred, keyword options, loss weight)], checked, in the outputs' order."""
    if isinstance(outputs, Mapping):
        names = list(outputs)
        entries = [outputs[name] for name in names]
    elif isinstance(outputs, Sequence) and not isinstance(outputs, (str, bytes)):
        names = list(range(len(outputs)))
        entries = list(outputs)
    else:
        raise TypeError(f"outputs: expected a list or a dict of (loss, y_true, y_pred[, options]), got {outputs!r}")
    if not entries:
        raise ValueError("outputs: expected at least one output")

    def per_output(values, what):
        """A list (one per output) or dict (every output's name) of ``what``, or None."""
        if values is None:
            return [None] * len(names)
        if isinstance(values, Mapping):
            missing = [n for n in names if n not in values]
            extra = [k for k in values if k not in names]
            if missing or extra:
                raise ValueError(f"{what}: keys must be the output names {names}; missing {missing}, unknown {extra}")
            return [values[n] for n in names]
        if len(values) != len(names):
            raise ValueError(f"{what}: expected {len(names)} entries (one per output), got {len(values)}")
        return list(values)

    if loss_weights is None:
        weights = [1.0] * len(names)
    elif isinstance(loss_weights, (Mapping, list, tuple)):
        weights = [_loss_weight(w, f"loss_weights[{n!r}]") for n, w in zip(names, per_output(loss_weights,
                                                                                          "loss_weights"))]
    else:
        raise TypeError(f"loss_weights: expected None, a list or a dict of numbers, got {loss_weights!r}")
    # Keras: a nested sample_weight gives each output its own; anything else is shared by every output. Nested
    # means a dict, or a list / tuple with one array (or None) per output; a list of plain numbers is one weight
    # per sample.
    nested = isinstance(sample_weight, Mapping) or (
        isinstance(sample_weight, (list, tuple)) and len(sample_weight) == len(names)
        and all(w is None or hasattr(w, "shape") for w in sample_weight)
    )
    sample_weights = per_output(sample_weight, "sample_weight") if nested else [sample_weight] * len(names)

    reduction = canonical_reduction(reduction)
    if reduction not in SCALAR_REDUCTIONS:
        raise ValueError(f"reduction: total_loss needs a scalar reduction, got {reduction!r}")
    result = []
    for name, entry, weight, sw in zip(names, entries, weights, sample_weights):
        where = f"outputs[{name!r}]"
        if not isinstance(entry, (tuple, list)) or len(entry) not in (3, 4):
            raise TypeError(f"{where}: expected (loss, y_true, y_pred) or (loss, y_true, y_pred, options), "
                            f"got {entry!r}")
        options = dict(entry[3]) if len(entry) == 4 else {}
        options.setdefault("sample_weight", sw)
        options.setdefault("reduction", reduction)
        options.setdefault("zero_division", zero_division)
        if canonical_reduction(options["reduction"]) not in SCALAR_REDUCTIONS:
            raise ValueError(f"{where}: total_loss needs a scalar reduction, got {options['reduction']!r}")
        result.append((name, _loss_name(entry[0], where), entry[1], entry[2], options, weight))
    return result


def total_loss(outputs, loss_weights=None, *, sample_weight=None, reduction="sum_over_batch_size",
               zero_division=DEFAULT_ZERO_DIVISION, per_output=False, n_threads=None):
    """Keras 3's multi-output total ``Σ_k loss_weight_k · L_k``.

    outputs: a list, or a dict {output name: ...}, of ``(loss, y_true, y_pred)`` or ``(loss, y_true, y_pred,
        options)``; ``loss`` is a name in ``fastloss.LOSSES`` or one of its functions, ``options`` a dict of that
        loss's keyword arguments (``sample_weight``, ``mask``, ``from_logits``, ``reduction``, ...).
    loss_weights: None (all 1), a list with one number per output, or a dict with every output's name (as
        Keras, a missing name is an error).
    sample_weight: shared by every output (Keras's plain ``sample_weight``), or a dict / a list of arrays (or None)
        with one entry per output (Keras's nested form); an output's own ``options["sample_weight"]`` wins.
    reduction, zero_division: every output's default (its options may override); scalar reductions only.
    per_output: also return ``{output name (or index): unweighted L_k}``, the per-output values Keras logs.
    """
    from .losses import LOSSES

    total, values = 0.0, {}
    for name, loss, y_true, y_pred, options, weight in _entries(outputs, loss_weights, sample_weight, reduction,
                                                               zero_division):
        value = LOSSES[loss](y_true, y_pred, n_threads=n_threads, **options)
        values[name] = value
        total += weight * value
    return (total, values) if per_output else total
