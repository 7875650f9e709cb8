"""Datasets on disk: DCASE label files, folder layouts, the torch reader, summaries.

* :mod:`soundloc.data.dcase`: frame-level targets from DCASE labels (the CSV format itself is
  :mod:`soundloc.dataformat`, re-exported here).
* :mod:`soundloc.data.layout`: soundloc dataset folders and STARSS23/TAU folders.
* :mod:`soundloc.data.dataset`: :class:`SeldDataset`, a torch ``Dataset`` of (waveform, targets).
* :mod:`soundloc.data.summary`: class/direction/RT60 statistics and plots (``soundloc inspect``).

Example:
    >>> from soundloc.data import SeldDataset
    >>> ds = SeldDataset("out/tiny", split="train", clip_seconds=1.0)  # doctest: +SKIP
    >>> x, y = ds[0]; x.shape, y["activity"].shape                     # doctest: +SKIP
    (torch.Size([4, 16000]), torch.Size([10, 3, 13]))

Attributes load lazily (torch is imported only by the reader).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DcaseLabels": "dcase",
    "read_dcase_csv": "dcase",
    "write_dcase_csv": "dcase",
    "labels_to_targets": "dcase",
    "STARSS23_CLASSES": "layout",
    "detect_layout": "layout",
    "SeldDataset": "dataset",
    "summarize_dataset": "summary",
    "DatasetSummary": "summary",
    "plot_summary": "summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"soundloc.data.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'soundloc.data' has no attribute {name!r}")
