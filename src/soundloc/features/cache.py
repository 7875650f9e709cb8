"""Cache the features of a dataset folder on disk (what ``soundloc features`` runs).

Output folder layout::

    OUT/features.json          feature name, FeatureConfig, channels, source dataset and audio
                               (``audio_format`` foa / mic, the array), split, clip list
    OUT/<clip name>.npy        (feature_channels, frames, bins) float32 per recording
    OUT/normalizer.json        per-channel mean / std (FeatureNormalizer) + ``fit_split`` and
                               ``fit_clips``: the clips it was fitted on

**Which audio.** FOA features (``foa``, ``intensity``) need FOA audio from a coincident array;
``mic``, ``gcc-phat`` and ``salsa-lite`` need a spaced microphone array; ``logmel`` takes
either. In a STARSS23 / TAU folder ``audio_format="auto"`` reads ``foa_dev`` for FOA features
and ``mic_dev`` for the others (``logmel``: ``mic_dev`` when present, else ``foa_dev``); a
soundloc dataset's ``dataset.json`` array decides, and a feature that does not fit it (or an
explicit ``audio_format`` that contradicts it) is refused.

**Which normalizer.** It is fitted on the selected clips of split ``train`` (DCASE:
``dev-train-*`` folders), or of ``fit_split`` when given explicitly; it is never fitted on
another split by default. A run whose selection holds no training clip (``split="test"``) keeps
the folder's existing normalizer, and refuses when there is none and no ``fit_split``.

Everything is validated before anything is written; every file is written atomically. A rerun
skips the clips whose ``.npy`` already exists (after checking that ``features.json`` describes
the same features and audio); ``features.json`` then lists the earlier runs' clips too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundloc.ambisonics import is_foa_dict
from soundloc.audio import audio_info, read_audio
from soundloc.data.layout import DatasetIndex, FileEntry, detect_layout, open_dataset
from soundloc.device import resolve_device
from soundloc.features.normalize import FeatureNormalizer, RunningStats
from soundloc.features.stacks import FEATURES, FOA_FEATURES, MIC_FEATURES, FeatureConfig, get_feature
from soundloc.fileio import atomic_path, load_json, write_json_atomic

FORMAT = "soundloc-features/1"
TRAIN_SPLIT = "train"


@dataclass(frozen=True)
class CacheResult:
    """What :func:`cache_features` did: clip counts, feature shape, the audio read and the files written.

    ``fit_clips`` is 0 and ``normalizer_kept`` True when the existing normalizer was kept.
    """

    out: Path
    computed: int
    skipped: int
    channels: int
    bins: int
    fit_clips: int
    normalizer: Path
    audio_format: str = "mic"
    audio_note: str = ""
    fit_split: str = TRAIN_SPLIT
    normalizer_kept: bool = False


def _clip_path(out: Path, name: str) -> Path:
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"clip name '{name}' is not a safe relative path")
    return out / rel.parent / (rel.name + ".npy")


def feature_audio(feature: str) -> str:
    """``"foa"``, ``"mic"`` or ``"any"``: the audio feature ``feature`` needs (``ValueError`` if unknown)."""
    key = str(feature).lower().replace("_", "-")
    if key not in FEATURES:
        raise ValueError(f"unknown feature '{feature}'; choose from {', '.join(FEATURES)}")
    return "foa" if key in FOA_FEATURES else "mic" if key in MIC_FEATURES else "any"


def _dcase_has(root: Path, fmt: str) -> bool:
    return any((root / f"{fmt}_{stage}").is_dir() for stage in ("dev", "eval"))


def _open_audio(dataset: Path, feature: str, split: str | None, layout: str,
                audio_format: str) -> tuple[DatasetIndex, str, dict[str, Any], str]:
    """Index ``dataset`` with the audio ``feature`` needs: ``(index, "foa"|"mic", audio record, note)``."""
    need = feature_audio(feature)
    if audio_format not in ("auto", "mic", "foa"):
        raise ValueError(f"audio_format must be 'auto', 'mic' or 'foa', got {audio_format!r}")
    if need != "any" and audio_format not in ("auto", need):
        raise ValueError(f"feature '{feature}' needs {need} audio, not --audio-format {audio_format}")
    kind = detect_layout(dataset) if layout == "auto" else layout
    if kind == "soundloc":
        index = open_dataset(dataset, split, layout=kind)
        array = index.header.get("array")
        if not isinstance(array, dict):
            raise ValueError(f"{dataset / 'dataset.json'}: no 'array' description; cannot tell FOA from mic audio")
        fmt = "foa" if is_foa_dict(array) else "mic"
        if audio_format not in ("auto", fmt):
            raise ValueError(f"--audio-format {audio_format}: dataset '{dataset}' holds {fmt} audio (array '{array.get('name')}')")
        if need not in ("any", fmt):
            what = "a coincident FOA array" if need == "foa" else "a spaced microphone array"
            raise ValueError(f"feature '{feature}' needs {what}; dataset '{dataset}' holds {fmt} audio (array '{array.get('name')}')")
        return index, fmt, {"audio_format": fmt, "array": array}, ""
    if audio_format != "auto":
        fmt = audio_format
    elif need != "any":
        fmt = need
        if not _dcase_has(dataset, fmt) and kind == "dcase":
            raise ValueError(f"feature '{feature}' needs {fmt} audio; '{dataset}' has no {fmt}_dev/ or {fmt}_eval/ folder")
    else:
        fmt = "mic" if _dcase_has(dataset, "mic") else "foa"
    note = ""
    if audio_format == "auto" and need == "any":
        note = f"{feature} features of the {fmt} audio ({fmt}_dev); --audio-format picks the other"
    index = open_dataset(dataset, split, layout=kind, audio_format=fmt)
    folders = sorted({_top_folder(dataset, e) for e in index.entries})
    return index, fmt, {"audio_format": fmt, "array": {"format": fmt, "folders": folders}}, note


def _top_folder(root: Path, entry: FileEntry) -> str:
    try:
        return entry.audio.relative_to(root).parts[0]
    except ValueError:
        return entry.audio.parent.name


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
        split, layout: which recordings (as ``open_dataset``).
        audio_format: DCASE folders: ``"mic"``, ``"foa"`` or ``"auto"`` (the audio the feature
            needs, see the module docstring); soundloc datasets: must match the header's array.
        per_bin: fit the normalizer per (channel, bin) instead of per channel.
        fit_split: split the normalizer is fitted on (default: ``train``; a selection without
            training clips keeps the existing normalizer).
        device: torch device for the computation.
        overwrite: replace a cache of different features in ``out`` instead of refusing.
        progress: called as ``progress(done, total)`` after each clip.

    Raises:
        ValueError: bad dataset, feature / audio mismatch, channel count, no clips to fit the
            normalizer on, a different cache in ``out``; raised before anything is written.
    """
    out = Path(out)
    dataset = Path(dataset)
    cfg = FeatureConfig.preset(preset)
    feature_audio(feature)
    index, fmt, audio, note = _open_audio(dataset, feature, split, layout, audio_format)
    first = audio_info(index.entries[0].audio)
    channels = int(first.channels)
    for e in index.entries[1:]:
        if (c := int(audio_info(e.audio).channels)) != channels:
            raise ValueError(f"{e.audio}: {c} channels, but {index.entries[0].audio} has {channels}")
    module = get_feature(feature, in_channels=channels, fs=cfg.fs, config=cfg)
    names = [e.name for e in index.entries]
    paths = [_clip_path(out, n) for n in names]
    clips = [{"name": n, "split": e.split, "file": str(p.relative_to(out))} for n, e, p in zip(names, index.entries, paths)]
    header: dict[str, Any] = {
        "format": FORMAT,
        "feature": feature,
        "preset": preset,
        "config": cfg.to_dict(),
        "in_channels": channels,
        "out_channels": module.out_channels(channels),
        "layout": "(feature_channels, frames, bins) float32 per clip",
        "dataset": str(dataset.resolve()),
        **audio,
        "split": split,
        "clips": clips,
    }
    old = _check_previous(out / "features.json", header, overwrite)
    reuse = old is not None
    if old is not None and isinstance(old.get("clips"), list):  # keep listing the clips earlier runs cached
        here = set(names)
        kept = [c for c in old["clips"] if isinstance(c, dict) and c.get("name") not in here and (out / str(c.get("file"))).is_file()]
        header["clips"] = kept + clips

    splits = {e.split for e in index.entries}
    norm_path = out / "normalizer.json"
    fit_on = fit_split if fit_split is not None else TRAIN_SPLIT
    keep_normalizer = False
    if not any(_in_split(s, fit_on) for s in splits):
        if fit_split is not None:
            raise ValueError(f"no clips of split '{fit_on}' to fit the normalizer on (splits: {', '.join(sorted(splits))})")
        keep_normalizer = bool(old) and norm_path.is_file()
        if not keep_normalizer:
            raise ValueError(f"no training clips selected (splits: {', '.join(sorted(splits))}) and no normalizer in '{out}': "
                             "cache the train split first or name the split to fit on with --fit-split")
        FeatureNormalizer.load(norm_path)  # the kept one must be readable

    dev = resolve_device(device)
    module = module.to(dev)
    write_json_atomic(out / "features.json", header)
    stats = RunningStats(per_bin=per_bin)
    computed = skipped = 0
    fitted: list[str] = []
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
            if not keep_normalizer and _in_split(entry.split, fit_on):
                stats.update(np.asarray(feats)[None])
                fitted.append(entry.name)
            if progress is not None:
                progress(k + 1, len(paths))
    if not keep_normalizer:
        record = FeatureNormalizer(stats.mean, stats.std).to_dict()
        record.update(fit_split=fit_on, fit_clips=fitted)
        write_json_atomic(norm_path, record, indent=None)
    return CacheResult(out, computed, skipped, module.out_channels(channels), bins, len(fitted), norm_path,
                       audio_format=fmt, audio_note=note, fit_split=fit_on, normalizer_kept=keep_normalizer)


def _in_split(clip_split: str, wanted: str) -> bool:
    """``wanted`` ``train`` / ``test`` also matches DCASE folders ``dev-train-*`` / ``dev-test-*``."""
    return clip_split == wanted or (wanted in ("train", "test") and clip_split.startswith(f"dev-{wanted}"))


def _check_previous(path: Path, header: dict[str, Any], overwrite: bool) -> dict[str, Any] | None:
    """The old header when ``path`` describes the same features and audio (finished clips can be
    reused; ``{}`` when there is none), ``None`` when ``overwrite`` replaces a different cache."""
    if not path.is_file():
        return {}
    try:
        old = load_json(path, what="feature cache header")
    except ValueError:  # unreadable: treated as a different cache
        old = None
    keys = ("format", "feature", "config", "in_channels", "dataset", "audio_format")
    if isinstance(old, dict) and all(old.get(k) == header[k] for k in keys):
        return old
    if not overwrite:
        raise ValueError(f"'{path.parent}' holds a cache of different features or data; use another folder or --overwrite")
    return None
