"""Oracle of fastloss.torch: torch.nn.functional's formulas in plain float64 NumPy (no torch import)."""

from __future__ import annotations

__all__ = []
