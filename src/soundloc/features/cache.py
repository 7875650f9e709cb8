"""Cache the features of a dataset folder on disk (what ``soundloc features`` runs).

Output folder layout::

    OUT/features.json          feature name, FeatureConfig, channels, source dataset, split, clip list
    OUT/<clip name>.npy        (feature_channels, frames, bins) float32 per recording
    OUT/normalizer.json        per-channel mean / std fitted on the training clips (FeatureNormalizer)

Every file is written atomically; a rerun skips the clips whose ``.npy`` already exists (after
checking that ``features.json`` describes the same features) and refits the normalizer from all
cached clips. The normalizer is fitted on the clips of split ``train`` (DCASE: ``dev-train-*``
folders) when the selection holds any, else on every selected clip (``fit_split`` overrides).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundloc.audio import read_audio
from soundloc.data.layout import open_dataset
from soundloc.device import resolve_device
from soundloc.features.normalize import FeatureNormalizer, RunningStats
from soundloc.features.stacks import FeatureConfig, get_feature
from soundloc.fileio import atomic_path, write_json_atomic

FORMAT = "soundloc-features/1"


@dataclass(frozen=True)
class CacheResult:
    """What :func:`cache_features` did: clip counts, feature shape and the files written."""

    out: Path
    computed: int
    skipped: int
    channels: int
    bins: int
    fit_clips: int
    normalizer: Path


def _clip_path(out: Path, name: str) -> Path:
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"clip name '{name}' is not a safe relative path")
    return out / rel.parent / (rel.name + ".npy")


def cache_features(
    dataset: str | Path,
    out: str | Path,
    *,
    feature: str = "mic",
    preset: str = "dcase",
    split: str | None = None,
    layout: str = "auto",
    audio_format: str = "auto",
    per_bin: bool = False,
    fit_split: str | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CacheResult:
    """Compute ``feature`` (see :data:`~soundloc.features.stacks.FEATURES`) for every recording of ``dataset``.

    Args:
        dataset: a soundloc dataset or a STARSS23 / TAU folder (:func:`soundloc.data.layout.open_dataset`).
        out: output folder (see the module docstring).
        feature, preset: feature name and :class:`FeatureConfig` preset; audio is resampled to its rate.
        split, layout, audio_format: which recordings (as ``open_dataset``).
        per_bin: fit the normalizer per (channel, bin) instead of per channel.
        fit_split: split the normalizer is fitted on (default: ``train`` if selected, else all).
        device: torch device for the computation.
        overwrite: replace a cache of different features in ``out`` instead of refusing.
        progress: called as ``progress(done, total)`` after each clip.

    Raises:
        ValueError: bad dataset, channel count / feature mismatch, a different cache in ``out``.
    """
    out = Path(out)
    index = open_dataset(Path(dataset), split, layout=layout, audio_format=audio_format)
    cfg = FeatureConfig.preset(preset)
    dev = resolve_device(device)
    first, _ = read_audio(index.entries[0].audio, fs=cfg.fs, allow_silent=True)
    channels = int(first.shape[0])
    module = get_feature(feature, in_channels=channels, fs=cfg.fs, config=cfg).to(dev)
    names = [e.name for e in index.entries]
    paths = [_clip_path(out, n) for n in names]
    header: dict[str, Any] = {
        "format": FORMAT,
        "feature": feature,
        "preset": preset,
        "config": cfg.to_dict(),
        "in_channels": channels,
        "out_channels": module.out_channels(channels),
        "layout": "(feature_channels, frames, bins) float32 per clip",
        "dataset": str(Path(dataset).resolve()),
        "split": split,
        "clips": [{"name": n, "split": e.split, "file": str(p.relative_to(out))} for n, e, p in zip(names, index.entries, paths)],
    }
    reuse = _check_previous(out / "features.json", header, overwrite)
    write_json_atomic(out / "features.json", header)

    splits = {e.split for e in index.entries}
    fit_on = fit_split if fit_split is not None else ("train" if any(_in_split(s, "train") for s in splits) else None)
    if fit_on is not None and not any(_in_split(s, fit_on) for s in splits):
        raise ValueError(f"no clips of split '{fit_on}' to fit the normalizer on (splits: {', '.join(sorted(splits))})")
    stats = RunningStats(per_bin=per_bin)
    computed = skipped = fitted = 0
    bins = 0
    with torch.inference_mode():
        for k, (entry, path) in enumerate(zip(index.entries, paths)):
            if reuse and path.is_file():
                feats = np.load(path, mmap_mode="r")
                skipped += 1
            else:
                x, _ = read_audio(entry.audio, fs=cfg.fs, channels=channels, allow_silent=True)
                feats = module(torch.from_numpy(x)[None].to(dev))[0].cpu().numpy()
                with atomic_path(path) as tmp, open(tmp, "wb") as f:
                    np.save(f, feats)
                computed += 1
            bins = int(feats.shape[-1])
            if fit_on is None or _in_split(entry.split, fit_on):
                stats.update(np.asarray(feats)[None])
                fitted += 1
            if progress is not None:
                progress(k + 1, len(paths))
    norm_path = out / "normalizer.json"
    FeatureNormalizer(stats.mean, stats.std).save(norm_path)
    return CacheResult(out, computed, skipped, module.out_channels(channels), bins, fitted, norm_path)


def _in_split(clip_split: str, wanted: str) -> bool:
    """``wanted`` ``train`` / ``test`` also matches DCASE folders ``dev-train-*`` / ``dev-test-*``."""
    return clip_split == wanted or (wanted in ("train", "test") and clip_split.startswith(f"dev-{wanted}"))


def _check_previous(path: Path, header: dict[str, Any], overwrite: bool) -> bool:
    """True when ``path`` describes the same features (finished clips can be reused)."""
    if not path.is_file():
        return True
    try:
        old = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        old = None
    keys = ("format", "feature", "config", "in_channels", "dataset")
    same = isinstance(old, dict) and all(old.get(k) == header[k] for k in keys)
    if not same and not overwrite:
        raise ValueError(f"'{path.parent}' holds a cache of different features or data; use another folder or --overwrite")
    return same
