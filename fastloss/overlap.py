"""Overlap losses (Dice, Tversky): one value per sample (or per batch) from sums over the overlap axes."""

from __future__ import annotations

__all__ = []

LOSSES = {}
