"""Oracle of the overlap losses (Dice, Tversky), the metrics (accuracies, top-k, IoU / Dice coefficient) and the multi-output total."""

from __future__ import annotations

__all__ = ["METRICS"]

LOSSES = {}  # the overlap losses (Dice, Tversky)
METRICS = {}
