"""Oracle of the metrics (accuracies, top-k, IoU / Dice coefficient) and the multi-output total."""

from __future__ import annotations

__all__ = ["METRICS"]

METRICS = {}
