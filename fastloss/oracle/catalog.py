"""Oracle of the catalog losses added after the foundation (focal, generalized crossentropy, Dice, Tversky, multi-label weights)."""

from __future__ import annotations

__all__ = []

LOSSES = {}
