"""Oracle of fastloss.sklearn: sklearn.metrics's formulas in plain float64 NumPy (no sklearn import)."""

from __future__ import annotations

__all__ = []
