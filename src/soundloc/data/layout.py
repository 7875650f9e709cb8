"""Find the (audio, labels) file pairs of a dataset folder, in either supported layout.

* **soundloc** (written by :func:`soundloc.scenes.generate_dataset`): ``dataset.json`` at the
  root, clips listed in ``manifest.jsonl`` (or, for an unfinished run, in the per-clip
  ``metadata/<split>/*.json`` files); splits ``train`` / ``val`` / ``test``.
* **DCASE** (TAU-NIGENS Spatial Sound Events 2020/2021, STARSS22/23): ``foa_dev/`` and/or
  ``mic_dev/`` audio and ``metadata_dev/`` labels with the same relative paths (``dev-train-*``
  / ``dev-test-*`` sub-folders in STARSS, flat ``fold<k>_room<r>_mix<n>.wav`` in TAU). ``split``
  selects ``train`` (folders starting ``dev-train``), ``test`` (``dev-test``), an exact
  sub-folder name, or a fold (``"fold3"``: file names starting with it).

Every file a reader opens must stay inside the dataset root once symlinks are resolved
(:func:`inside_root`, ``ValueError`` otherwise): a path from metadata (``../``, absolute) and a
symlinked audio or label file pointing elsewhere are refused alike, in both layouts. To read a
dataset stored elsewhere, link or pass its root folder itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from soundloc.fileio import load_json

STARSS23_CLASSES: tuple[str, ...] = (
    "femaleSpeech", "maleSpeech", "clapping", "telephone", "laughter", "domesticSounds", "footsteps",
    "doorCnk", "musicInstrument", "waterTap", "bell", "knock", "music",
)
"""The 13 STARSS23 classes in label-index order (DCASE2023/2024 task 3)."""

LAYOUTS: tuple[str, ...] = ("auto", "soundloc", "dcase")


@dataclass(frozen=True)
class FileEntry:
    """One recording: ``audio`` and ``labels`` paths, its ``split`` and a ``name``; ``meta`` holds
    the per-clip metadata for soundloc datasets (empty for DCASE folders)."""

    name: str
    split: str
    audio: Path
    labels: Path
    meta: dict


def inside_root(root: Path, path: Path, shown: str | None = None) -> Path:
    """``path`` resolved (symlinks followed); ``ValueError`` if that lies outside ``root``
    (resolved too). ``shown`` names the path in the message (default: ``path``)."""
    full = Path(path).resolve()
    if not full.is_relative_to(Path(root).resolve()):
        raise ValueError(f"{root}: '{shown or path}' points outside the dataset root")
    return full


def safe_join(root: Path, rel: str) -> Path:
    """``root / rel``, refusing absolute paths and anything resolving outside ``root``."""
    if not isinstance(rel, str) or not rel:
        raise ValueError(f"{root}: metadata holds an empty or non-string path {rel!r}")
    p = Path(rel)
    if p.is_absolute():
        raise ValueError(f"{root}: metadata path '{rel}' is absolute; paths must be relative to the dataset root")
    return inside_root(root, root / p, shown=f"metadata path {rel}")


def detect_layout(root: Path) -> str:
    """``"soundloc"`` or ``"dcase"``; ``ValueError`` if ``root`` is neither."""
    if not root.is_dir():
        raise ValueError(f"dataset folder '{root}' does not exist")
    if (root / "dataset.json").is_file():
        return "soundloc"
    if any((root / d).is_dir() for d in ("metadata_dev", "metadata_eval")) and any(
        (root / d).is_dir() for d in ("mic_dev", "foa_dev", "mic_eval", "foa_eval")
    ):
        return "dcase"
    raise ValueError(
        f"'{root}' is not a dataset folder: expected dataset.json (soundloc) or "
        "foa_dev/ or mic_dev/ with metadata_dev/ (STARSS23/TAU)"
    )


def read_header(root: Path) -> dict:
    """``dataset.json`` of a soundloc dataset."""
    h = load_json(root / "dataset.json", what="dataset header")
    if not isinstance(h, dict) or "class_names" not in h:
        raise ValueError(f"{root / 'dataset.json'} is not a soundloc dataset header (no class_names)")
    return h


def soundloc_entries(root: Path, split: str | None) -> list[FileEntry]:
    """Complete clips of a soundloc dataset (manifest first, per-clip JSON files as fallback)."""
    metas: list[dict] = []
    manifest = root / "manifest.jsonl"
    if manifest.is_file():
        for i, line in enumerate(manifest.read_text().splitlines()):
            if line.strip():
                try:
                    metas.append(json.loads(line))
                except (json.JSONDecodeError, RecursionError):
                    raise ValueError(f"{manifest}: line {i + 1} is not valid JSON") from None
    else:
        for p in sorted((root / "metadata").glob("*/*.json")):
            m = load_json(p, what="clip metadata")
            if not isinstance(m, dict):
                raise ValueError(f"clip metadata '{p}' is not a JSON object")  # noqa: TRY004 - user input
            metas.append(m)
        metas.sort(key=lambda m: m.get("index", 0) if isinstance(m.get("index", 0), int) else 0)
    out = []
    for m in metas:
        if not isinstance(m, dict) or "audio" not in m or "labels" not in m:
            raise ValueError(f"{root}: a clip's metadata lacks 'audio'/'labels' paths")
        s = str(m.get("split", ""))
        if split is not None and s != split:
            continue
        out.append(FileEntry(name=str(m.get("name", Path(m["audio"]).stem)), split=s,
                             audio=safe_join(root, m["audio"]), labels=safe_join(root, m["labels"]), meta=m))
    return out


def _split_matches(split: str | None, rel: Path) -> bool:
    if split is None:
        return True
    parts = rel.parts[:-1]
    top = parts[0] if parts else ""
    if split == "train":
        return top.startswith("dev-train")
    if split == "test":
        return top.startswith("dev-test")
    return split in parts or rel.name.startswith(split + "_") or rel.stem == split


def dcase_entries(root: Path, split: str | None, audio_format: str = "auto") -> list[FileEntry]:
    """Recordings of a STARSS23/TAU folder that have a label file, sorted by path."""
    fmts = ("mic", "foa") if audio_format == "auto" else (audio_format,)
    if audio_format not in ("auto", "mic", "foa"):
        raise ValueError(f"audio_format must be 'auto', 'mic' or 'foa', got {audio_format!r}")
    out: list[FileEntry] = []
    for fmt in fmts:
        for stage in ("dev", "eval"):
            adir, mdir = root / f"{fmt}_{stage}", root / f"metadata_{stage}"
            if not adir.is_dir() or not mdir.is_dir():
                continue
            for wav in sorted(p for p in adir.rglob("*") if p.suffix.lower() in (".wav", ".flac") and not p.name.startswith(".")):
                rel = wav.relative_to(adir)
                if not _split_matches(split, rel):
                    continue
                csv = (mdir / rel).with_suffix(".csv")
                if not csv.is_file():
                    continue
                top = rel.parts[0] if len(rel.parts) > 1 else stage
                for p in (wav, csv):  # a symlinked file must not lead out of the dataset
                    inside_root(root, p, shown=str(p.relative_to(root)))
                out.append(FileEntry(name=str(rel.with_suffix("")), split=top, audio=wav, labels=csv, meta={}))
        if out:
            break  # first audio format that has labelled files
    return out


@dataclass(frozen=True)
class DatasetIndex:
    """What a reader needs to open a dataset folder.

    Attributes:
        layout: ``"soundloc"`` or ``"dcase"``.
        header: the soundloc ``dataset.json`` (empty for DCASE folders).
        entries: the (audio, labels) pairs, in order.
        class_names: the dataset's classes (STARSS23's 13 for DCASE folders).
        distance_unit: the label files' distance unit (``"auto"``: decide per value).
    """

    layout: str
    header: dict
    entries: list[FileEntry]
    class_names: tuple[str, ...]
    distance_unit: str


def open_dataset(root: Path, split: str | None = None, *, layout: str = "auto",
                 audio_format: str = "auto") -> DatasetIndex:
    """Index ``root`` in either layout; ``ValueError`` for an unknown layout or no labelled files."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    root = Path(root)
    layout = detect_layout(root) if layout == "auto" else layout
    if layout == "soundloc":
        header = read_header(root)
        index = DatasetIndex(layout, header, soundloc_entries(root, split), tuple(header["class_names"]),
                             header.get("label_format", {}).get("distance_unit", "cm"))
    else:
        index = DatasetIndex(layout, {}, dcase_entries(root, split, audio_format), STARSS23_CLASSES, "auto")
    if not index.entries:
        raise ValueError(f"no labelled audio files in '{root}'" + (f" for split '{split}'" if split else ""))
    return index
