"""Folder datasets: a user's own collection of labelled source clips.

Two layouts:

* **sub-folders** (default): ``root/<class>/**/*.wav|flac|ogg|mp3|aif[f]``; the class is the
  name of the top-level sub-folder (deeper folders belong to it). Audio files directly in
  ``root`` are ignored; hidden files and folders are skipped.
* **CSV** (``csv=...``, or found automatically at ``root/meta/esc50.csv``): one row per clip.
  The header decides the columns:

  - ``filename,label`` (also ``fname``/``file``/``path`` and ``class``/``category``); a
    two-column file without a header is read as ``filename,label``;
  - ESC-50 ``meta/esc50.csv`` (``filename,fold,target,category,...``): label = ``category``,
    audio looked up in ``root/audio/`` when not directly under ``root``;
  - FSD50K ``ground_truth/dev.csv`` / ``eval.csv`` (``fname,labels,mids[,split]``): label =
    the **first** label of the comma-separated ``labels`` (FSD50K lists leaf labels first
    only approximately; pass your own CSV for another choice); ``fname`` has no extension,
    so ``.wav`` (then ``.flac``, ``.ogg``, ``.mp3``) is appended; point ``root`` at the audio
    folder (``FSD50K.dev_audio``);
  - FSDnoisy18k (``fname,label,...``): read as the generic layout.

  File names are relative to ``root`` (the audio base folder). Absolute paths and paths with
  ``..`` are rejected (ValueError naming the CSV line): a CSV can never reach outside the
  dataset root. Symlinks *inside* the root are followed.

``clip_id`` = ``<slug(label)>/<slug(path without extension)>`` (unique; ``__2``, ``__3`` appended
on a clash).
"""

from __future__ import annotations

import csv as _csv
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..audio import AUDIO_EXTENSIONS, AudioError, list_audio_files
from .base import ClipRef, Corpus, slugify

__all__ = ["folder_corpus"]

_FILE_COLS = ("filename", "fname", "file", "file_name", "path", "filepath", "slice_file_name")
_LABEL_COLS = ("category", "label", "labels", "class", "class_name", "classname")


def _unique_ids(items: list[tuple[str, str, Path]]) -> list[ClipRef]:
    seen: dict[str, int] = {}
    out = []
    for cid, label, path in items:
        n = seen.get(cid, 0) + 1
        seen[cid] = n
        out.append(ClipRef(cid if n == 1 else f"{cid}__{n}", label, path))
    return out


def _id_from(label: str, rel: PurePosixPath) -> str:
    parts = list(rel.parts)
    parts[-1] = rel.stem if rel.suffix.lower() in AUDIO_EXTENSIONS else rel.name
    return "/".join([slugify(label)] + [slugify(p) for p in parts])


def _from_subfolders(root: Path) -> list[ClipRef]:
    items = []
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    for d in subdirs:
        try:
            files = list_audio_files([d])
        except AudioError:
            continue  # an empty class folder is skipped
        for f in files:
            rel = PurePosixPath(f.relative_to(d).as_posix())
            items.append((_id_from(d.name, rel), d.name, f))
    if not items:
        hint = ""
        try:
            list_audio_files([root])
            hint = " (audio files must be inside one sub-folder per class, or pass csv=)"
        except AudioError:
            pass
        raise ValueError(f"{root}: no audio files found in class sub-folders{hint}")
    return _unique_ids(items)


def _escapes(rel: str) -> bool:
    if not rel or PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute():
        return True
    if PureWindowsPath(rel).drive or rel.startswith(("\\", "/")):
        return True
    parts = rel.replace("\\", "/").split("/")
    return any(p == ".." for p in parts)


def _read_rows(csv_path: Path) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            raw = list(_csv.reader(f))
    except (OSError, UnicodeDecodeError, _csv.Error) as e:
        raise ValueError(f"{csv_path}: cannot read CSV ({e})") from e
    rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(raw)
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise ValueError(f"{csv_path}: CSV is empty")
    first = [c.lower() for c in rows[0][1]]
    if any(c in _FILE_COLS for c in first):
        return first, rows[1:]
    return None, rows


def _from_csv(root: Path, csv_path: Path) -> list[ClipRef]:
    header, rows = _read_rows(csv_path)
    if header is None:
        fi, li = 0, 1
        if any(len(r) < 2 for _, r in rows):
            ln = next(n for n, r in rows if len(r) < 2)
            raise ValueError(f"{csv_path}:{ln}: expected 'filename,label' (no header found)")
    else:
        fi = next(header.index(c) for c in _FILE_COLS if c in header)
        li_found = next((header.index(c) for c in _LABEL_COLS if c in header), None)
        if li_found is None:
            raise ValueError(
                f"{csv_path}: no label column in header {header} (expected one of {', '.join(_LABEL_COLS)})"
            )
        li = li_found
    multi = header is not None and header[li] == "labels"  # FSD50K: comma-separated labels
    base = root
    if header is not None and "category" in header and "fold" in header and (root / "audio").is_dir():
        base = root / "audio"  # ESC-50 layout
    if not rows:
        raise ValueError(f"{csv_path}: CSV has a header but no rows")
    items, missing, seen = [], [], set()
    for ln, r in rows:
        if len(r) <= max(fi, li):
            raise ValueError(f"{csv_path}:{ln}: expected at least {max(fi, li) + 1} columns, got {len(r)}")
        rel, label = r[fi], r[li]
        if multi:
            label = label.split(",")[0].strip()
        if not label:
            raise ValueError(f"{csv_path}:{ln}: empty label for {rel!r}")
        if _escapes(rel):
            raise ValueError(f"{csv_path}:{ln}: path {rel!r} escapes the dataset root {root} "
                             "(absolute paths and '..' are not allowed)")
        relp = PurePosixPath(rel.replace("\\", "/"))
        path = base / relp
        if not path.is_file() and base != root and (root / relp).is_file():
            path = root / relp
        if not path.is_file() and relp.suffix.lower() not in AUDIO_EXTENSIONS:
            for ext in (".wav", ".flac", ".ogg", ".mp3"):
                cand = path.with_name(path.name + ext)
                if cand.is_file():
                    path = cand
                    break
        if not path.is_file():
            missing.append(rel)
            continue
        if (str(relp), label) in seen:
            continue
        seen.add((str(relp), label))
        items.append((_id_from(label, relp), label, path))
    if missing:
        raise ValueError(f"{csv_path}: {len(missing)} listed file(s) not found under {base}, "
                         f"e.g. {missing[0]!r}")
    return _unique_ids(items)


def folder_corpus(root: str | Path, *, csv: str | Path | None = None) -> Corpus:
    """A :class:`Corpus` over a folder of labelled clips (layouts in the module docstring).

    ``csv``: the metadata file; a relative path is looked up in the current directory, then
    under ``root``. Raises ValueError for a missing root or CSV, an empty result, missing
    listed files, or paths escaping the root.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise ValueError(f"{root}: corpus folder not found")
    if not root.is_dir():
        raise ValueError(f"{root}: corpus path is not a folder")
    if csv is None and (root / "meta" / "esc50.csv").is_file():
        csv = root / "meta" / "esc50.csv"
    if csv is not None:
        cp = Path(csv).expanduser()
        if not cp.is_file() and not cp.is_absolute() and (root / cp).is_file():
            cp = root / cp
        if not cp.is_file():
            raise ValueError(f"{csv}: corpus CSV not found")
        clips = _from_csv(root, cp)
        info = {"layout": "csv", "csv": str(cp)}
    else:
        clips = _from_subfolders(root)
        info = {"layout": "subfolders"}
    return Corpus(root.resolve().name or str(root), clips, root=root, info=info)
