"""The on-disk dataset format: folder layout, format version, label files and their units.

This module is the one owner of what a soundloc dataset looks like on disk, so that the writer
(:mod:`soundloc.scenes`) and the readers (:mod:`soundloc.data`) share it without importing each
other. It sits at the bottom of the package (it imports only ``geometry`` and ``fileio``).

Folder (written by :func:`soundloc.scenes.generate_dataset`)::

    dataset.json                       generator config, seed, array, classes, format_version, units
    manifest.jsonl                     one line of clip metadata per clip, in index order
    audio/<split>/<name>.flac|wav      multichannel audio (array mic order)
    metadata/<split>/<name>.csv        DCASE labels (see below)
    metadata/<split>/<name>.json       per-clip metadata (written last: the completion mark)

Label files (DCASE CSV): one row per active event per 100 ms label frame (:data:`LABEL_HOP_S`),
no header::

    frame,class,track,azimuth,elevation[,distance]

* ``frame``: label-frame index (frame ``f`` covers ``[0.1 f, 0.1 (f + 1))`` seconds).
* ``class``: 0-based class index; ``track``: instance index (distinguishes simultaneous
  events of one class; STARSS23 numbers instances per class).
* ``azimuth``: degrees, counter-clockwise from the array's +x (front), (-180, 180];
  ``elevation``: degrees up from the array's horizontal plane. STARSS23 writes integers; soundloc
  writes two decimals. Both read the same.
* ``distance`` (optional, DCASE2024): STARSS23 writes **integer centimetres**; soundloc writes
  integer centimetres too (:data:`DISTANCE_UNIT`). When reading, ``distance_unit="auto"`` takes a
  column of whole numbers as centimetres and one with any decimal point as metres (the DCASE2024
  baseline writes predictions in metres with decimals); pass ``"cm"`` or ``"m"`` to force it.
  Distances are returned in metres.
* A 7-column file ``frame,class,track,x,y,z,distance`` (the DCASE baseline's Cartesian output)
  is read too; ``x, y, z`` become azimuth/elevation. Its distance is in metres under
  ``distance_unit="auto"`` (what the baselines write), an explicit ``"cm"`` / ``"m"`` wins, and
  0 stays 0 m, as in the official ``load_output_format_file`` (the DCASE2023 baseline writes 0
  when it does not estimate distance, and DCASE2024 scoring scores that as 0 m).
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from soundloc.fileio import write_text_atomic
from soundloc.geometry import cart_to_sph_deg, unit_vectors_deg

FORMAT_VERSION = 2
"""Version of the folder layout and of the audio/label timing, stored in ``dataset.json``; a
folder written by another version is not resumed (2: direct sound aligned with labelled onsets)."""

DISTANCE_UNIT = "cm"
"""Unit of the distance column our label CSVs are written with (STARSS23 2024 convention)."""

DATASET_JSON = "dataset.json"
"""The dataset header file at the root of a soundloc dataset."""

MANIFEST = "manifest.jsonl"
"""One JSON line of clip metadata per clip, in index order (written last)."""

AUDIO_DIR = "audio"
METADATA_DIR = "metadata"


def clip_relpaths(split: str, name: str, ext: str) -> tuple[str, str, str]:
    """``(audio, labels CSV, metadata JSON)`` paths of one clip relative to the dataset root (``/``-separated)."""
    return (f"{AUDIO_DIR}/{split}/{name}.{ext}", f"{METADATA_DIR}/{split}/{name}.csv",
            f"{METADATA_DIR}/{split}/{name}.json")


def clip_paths(root: str | os.PathLike[str], split: str, name: str, ext: str) -> tuple[Path, Path, Path]:
    """``(audio, labels CSV, metadata JSON)`` paths of one clip under the dataset folder ``root``."""
    r = Path(root)
    a, c, j = clip_relpaths(split, name, ext)
    return r / a, r / c, r / j


LABEL_HOP_S = 0.1
"""Label frame length in seconds."""


def num_label_frames(seconds: float) -> int:
    """Label frames covering ``seconds`` of audio: ``ceil(seconds / LABEL_HOP_S)`` (a last partial frame counts)."""
    return int(math.ceil(seconds / LABEL_HOP_S - 1e-9))


DISTANCE_UNITS: tuple[str, ...] = ("auto", "cm", "m")


@dataclass(frozen=True)
class DcaseLabels:
    """Rows of a DCASE label file as arrays, all of length ``R``.

    Attributes:
        frame, class_index, track: ``(R,)`` int64.
        azimuth, elevation: ``(R,)`` float64 degrees.
        distance: ``(R,)`` float64 metres, NaN where unknown (5-column files).
    """

    frame: np.ndarray
    class_index: np.ndarray
    track: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    distance: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.frame)
        for name in ("class_index", "track", "azimuth", "elevation", "distance"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"DcaseLabels: column '{name}' has {len(getattr(self, name))} rows, frame has {n}")

    def __len__(self) -> int:
        return int(len(self.frame))

    @classmethod
    def empty(cls) -> "DcaseLabels":
        i = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        return cls(i, i.copy(), i.copy(), f, f.copy(), f.copy())

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[float, ...]]) -> "DcaseLabels":
        """From an iterable of ``(frame, class, track, azimuth_deg, elevation_deg, distance_m)``."""
        rows_ = list(rows)
        if not rows_:
            return cls.empty()
        a = np.asarray(rows_, dtype=np.float64).reshape(len(rows_), 6)
        return cls(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64),
                   a[:, 3], a[:, 4], a[:, 5])

    @property
    def num_frames(self) -> int:
        """``max(frame) + 1`` (0 for no rows)."""
        return int(self.frame.max()) + 1 if len(self) else 0

    @property
    def has_distance(self) -> bool:
        return bool(len(self)) and bool(np.all(np.isfinite(self.distance)))

    def directions(self) -> np.ndarray:
        """Unit vectors ``(R, 3)`` of the rows' azimuth/elevation."""
        return unit_vectors_deg(self.azimuth, self.elevation)

    def select(self, mask: np.ndarray) -> "DcaseLabels":
        m = np.asarray(mask)
        return DcaseLabels(self.frame[m], self.class_index[m], self.track[m], self.azimuth[m],
                           self.elevation[m], self.distance[m])

    def sorted(self) -> "DcaseLabels":
        """Rows sorted by (frame, class, track)."""
        return self.select(np.lexsort((self.track, self.class_index, self.frame)))


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _parse_plain(text: str) -> tuple[np.ndarray, list[str]] | None:
    """Fast path: ``(array (N, ncol), distance-column strings)`` of a plain numeric CSV with 5-7
    columns (no header, quotes or blank lines, every line the same column count); None otherwise."""
    body = text.rstrip()
    if not body or not body[0].isdigit() or '"' in body:
        return None
    lines = body.split("\n")
    ncol = lines[0].count(",") + 1
    if ncol not in (5, 6, 7) or not all(line.count(",") == ncol - 1 for line in lines):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            a = np.fromstring(body.replace("\n", ","), sep=",")  # C parser; stops (warns) at a bad token
        except (DeprecationWarning, ValueError):
            return None
    if a.size != len(lines) * ncol:
        return None
    raw_dist = [line.rsplit(",", 1)[1].strip() for line in lines] if ncol == 6 else []
    return a.reshape(len(lines), ncol), raw_dist


def _parse_careful(p: Path, text: str) -> tuple[np.ndarray, list[str], list[int]]:
    """csv-module parse with a header line and blank lines tolerated and errors naming the line:
    ``(array (N, ncol), distance-column strings, file line numbers)``."""
    reader = csv.reader(io.StringIO(text))
    rows, line_no = [], []
    for r in reader:
        if r and any(c.strip() for c in r):
            rows.append(r)
            line_no.append(reader.line_num)
    if rows and not _is_number(rows[0][0]):
        rows, line_no = rows[1:], line_no[1:]  # a header line ("frame,class,...")
    if not rows:
        return np.zeros((0, 5)), [], []
    ncol = len(rows[0])
    if ncol not in (5, 6, 7):
        raise ValueError(f"{p}: expected 5, 6 or 7 columns (frame,class,track,azimuth,elevation[,distance]), got {ncol}")
    for i, r in enumerate(rows):
        if len(r) != ncol:
            raise ValueError(f"{p}: line {line_no[i]} has {len(r)} columns, the first has {ncol}")
    try:
        a = np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError:
        bad = next(i for i, r in enumerate(rows) if not all(_is_number(c) for c in r))
        raise ValueError(f"{p}: line {line_no[bad]}: non-numeric value in the label row") from None
    return a, [r[5].strip() for r in rows] if ncol == 6 else [], line_no


def read_dcase_csv(
    path: str | os.PathLike[str], *, distance_unit: str = "auto", num_classes: int | None = None
) -> DcaseLabels:
    """Read a DCASE label CSV (5, 6 or 7 columns, see the module docstring).

    Rows are returned in file order (the DCASE scorers group simultaneous rows by their order).

    Args:
        path: the CSV file.
        distance_unit: unit of the distance column (6th of 6, 7th of 7 columns): ``"cm"``,
            ``"m"`` or ``"auto"`` (6 columns: whole numbers = cm, decimals = m; 7 columns: m).
        num_classes: when given, a class index ``>= num_classes`` is an error.

    Raises:
        ValueError: missing file, rows with a different column count, non-numeric values,
            negative frame/class/track, class out of range, unknown ``distance_unit``; the
            message names the file and, for a bad row, its line number.
    """
    if distance_unit not in DISTANCE_UNITS:
        raise ValueError(f"distance_unit must be one of {', '.join(DISTANCE_UNITS)}, got {distance_unit!r}")
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ValueError(f"{p}: label file does not exist") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not a text (CSV) label file") from None
    plain = _parse_plain(text)
    if plain is not None:  # the common case, parsed in C; anything unusual goes the careful way
        a, raw_dist = plain
        ncol, line_no = a.shape[1], list(range(1, len(a) + 1))
    else:
        a, raw_dist, line_no = _parse_careful(p, text)
        if not len(a):
            return DcaseLabels.empty()
        ncol = a.shape[1]
    finite = np.isfinite(a).all(axis=1)
    if not finite.all():
        raise ValueError(f"{p}: line {line_no[int(np.argmin(finite))]}: NaN or infinite value in the label row")
    head = a[:, :3]
    bad_head = np.any((head < 0) | (head != np.round(head)), axis=1)
    if bad_head.any():
        raise ValueError(f"{p}: line {line_no[int(np.argmax(bad_head))]}: frame, class and track must be whole numbers >= 0")
    frame, cls, track = (head[:, k].astype(np.int64) for k in range(3))
    if num_classes is not None and np.any(cls >= num_classes):
        i = int(np.argmax(cls >= num_classes))
        raise ValueError(f"{p}: line {line_no[i]}: class {int(cls[i])} is out of range for {num_classes} classes")
    if ncol == 7:
        az, el = cart_to_sph_deg(a[:, 3:6])
        dist = a[:, 6] / (100.0 if distance_unit == "cm" else 1.0)  # 0 stays 0 m, as the official loader
    else:
        az, el = a[:, 3], a[:, 4]
        if ncol == 6:
            unit = distance_unit
            if unit == "auto":
                unit = "m" if any(("." in s or "e" in s.lower()) for s in raw_dist) else "cm"
            dist = a[:, 5] / (100.0 if unit == "cm" else 1.0)
        else:
            dist = np.full(len(a), np.nan)
    return DcaseLabels(frame, cls, track, az.copy(), el.copy(), np.asarray(dist, dtype=np.float64))


def format_dcase_rows(labels: DcaseLabels, *, angle_decimals: int = 2, distance: bool = True) -> str:
    """CSV text of ``labels`` (sorted as given): angles with ``angle_decimals`` decimals,
    distance in integer centimetres (omitted when ``distance`` is False or unknown)."""
    with_dist = distance and labels.has_distance
    lines = []
    for i in range(len(labels)):
        az = round(float(labels.azimuth[i]), angle_decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
        el = round(float(labels.elevation[i]), angle_decimals) + 0.0
        parts = [str(int(labels.frame[i])), str(int(labels.class_index[i])), str(int(labels.track[i])),
                 f"{az:.{angle_decimals}f}", f"{el:.{angle_decimals}f}"]
        if with_dist:
            parts.append(str(int(round(float(labels.distance[i]) * 100.0))))
        lines.append(",".join(parts))
    return "".join(line + "\n" for line in lines)


def write_dcase_csv(path: str | os.PathLike[str], labels: DcaseLabels, *, angle_decimals: int = 2, distance: bool = True) -> None:
    """Write ``labels`` as a DCASE CSV atomically (temp file in the same folder, then rename)."""
    write_text_atomic(Path(path), format_dcase_rows(labels, angle_decimals=angle_decimals, distance=distance))
