"""The public metrics: the same engine and reductions as the losses (see fastloss.losses)."""

from __future__ import annotations

__all__ = ["METRICS"]

METRICS = {}
