"""Metrics: DOA errors and DCASE SELD scores.

* :mod:`soundloc.metrics.doa`: great-circle / azimuth errors, Hungarian matching, summaries.
* :mod:`soundloc.metrics.seld`: DCASE2023 (segment-based) and DCASE2024 (frame-wise, with distance)
  SELD scores reproducing the official scoring code (``soundloc score``).

Attributes load lazily, so importing one metric module does not import the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SELD_SCORERS": "seld",
    "get_seld_scorer": "seld",
    "Dcase2023Scorer": "seld",
    "Dcase2024Scorer": "seld",
    "Dcase2023Result": "seld",
    "Dcase2024Result": "seld",
    "SeldCounts": "seld",
    "SeldReport": "seld",
    "pair_label_files": "seld",
    "score_label_files": "seld",
    "score_paths": "seld",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"soundloc.metrics.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'soundloc.metrics' has no attribute {name!r}")
