"""Audio-visual sound source localization: find the sounding object in the picture.

* :mod:`soundloc.av.synthetic`: the built-in offline benchmark (spoken digits and digit glyphs on
  textured backgrounds; sounding, silent and off-screen objects; silent and noise-only audio) as a
  torch ``Dataset``, deterministic and cached on disk.
* :mod:`soundloc.av.dataset`: the dataset interface every AV dataset implements (frame, audio clip, boxes /
  ground-truth map, class, negatives), :func:`collate_av`; :mod:`soundloc.av.folders`: Flickr-SoundNet, VGG-SS
  and VGGSound folders; :mod:`soundloc.av.media`: frames and audio clips from files; :mod:`soundloc.av.boxes`:
  annotation boxes and ground-truth maps.
* :mod:`soundloc.av.sounds`: the spoken-digit bank (eSpeak NG voices).
* :mod:`soundloc.av.models`: :class:`AVLocalizer` (image / audio encoders, similarity map, sounding-object
  confidence), save / load; :mod:`soundloc.av.train`: EZ-VSL / SLAVC / FNAC training with checkpoints;
  :mod:`soundloc.av.ema`: momentum target encoders.
* :mod:`soundloc.av.glyphs`, :mod:`soundloc.av.textures`: digit glyphs from matplotlib's fonts, backgrounds.

The metrics (cIoU, AUC, AP / max-F1) live in :mod:`soundloc.metrics.av`. Attributes load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "KINDS": "synthetic",
    "SPLITS": "synthetic",
    "AVBenchConfig": "synthetic",
    "AVSample": "synthetic",
    "SyntheticAVDataset": "synthetic",
    "collate_av": "dataset",
    "AVDataset": "dataset", "AVRecord": "dataset", "AVSubset": "dataset", "holdout_split": "dataset",
    "AV_FORMATS": "folders", "open_av_dataset": "folders", "detect_av_format": "folders",
    "make_sample": "synthetic",
    "AV_FS": "sounds",
    "DIGIT_WORDS": "sounds",
    "digit_speech_bank": "sounds",
    "AVLocalizer": "models", "AVModelConfig": "models", "load_av_model": "models", "save_av_model": "models",
    "AVTrainConfig": "train", "train_av": "train", "EMA": "ema",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"soundloc.av.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'soundloc.av' has no attribute {name!r}")
