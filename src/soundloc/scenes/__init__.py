"""Scene simulation: rooms, RIRs, mixing, labels and the dataset writer.

Modules (one job each): :mod:`~soundloc.scenes.config` (typed config, YAML),
:mod:`~soundloc.scenes.presets` (``tiny``, ``mcsimclr``, ``dcase``), :mod:`~soundloc.scenes.sample`
(rooms, poses, positions, trajectories, onsets), :mod:`~soundloc.scenes.rir` (RIR backends),
:mod:`~soundloc.scenes.mix` (convolution, noise, levels), :mod:`~soundloc.scenes.labels` (DCASE
rows in the array frame), :mod:`~soundloc.scenes.plan` (splits), :mod:`~soundloc.scenes.clip`
(one clip, a pure function of config, seed and index), :mod:`~soundloc.scenes.writer` (dataset
folder, parallel and resumable).

Example:
    >>> from soundloc.scenes import generate_dataset, get_preset
    >>> report = generate_dataset("out/tiny", get_preset("tiny"), seed=0)  # doctest: +SKIP

Attributes are imported lazily so that ``import soundloc.scenes`` stays cheap (spawned workers
pin their thread counts before numpy loads).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SceneConfig": "config",
    "load_config": "config",
    "dump_config": "config",
    "SCENE_PRESETS": "presets",
    "get_preset": "presets",
    "simulate_clip": "clip",
    "ClipResult": "clip",
    "make_context": "clip",
    "make_plan": "plan",
    "DatasetPlan": "plan",
    "generate_dataset": "writer",
    "GenerateReport": "writer",
    "write_clip_task": "writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"soundloc.scenes.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'soundloc.scenes' has no attribute {name!r}")
