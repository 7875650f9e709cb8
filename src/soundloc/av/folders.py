"""Audio-visual datasets users bring as folders: Flickr-SoundNet, VGG-SS and VGGSound training lists.

All three layouts (those of the LVS / EZ-VSL / SLAVC / FNAC code) keep one frame and one audio file per
clip id, ``frames/<id>.jpg`` (or ``.jpeg`` / ``.png``) and ``audio/<id>.wav`` (or ``.flac``; ``.mp3`` /
``.ogg`` where libsndfile reads them), and differ in their annotations::

    Flickr-SoundNet/                 VGG-SS/                          VGGSound/
      frames/10000130166.jpg           frames/-0EJ2K4ghKs_000080.jpg     frames/<id>.jpg
      audio/10000130166.wav            audio/-0EJ2K4ghKs_000080.wav      audio/<id>.wav
      Annotations/10000130166.xml      vggss.json                        vggsound_10k.txt  (optional list)
      flickr_test.csv                  vggss_heard_test.csv (optional)

* **flickr** (:func:`flickr_dataset`): ``Annotations/<id>.xml`` holds every annotator's boxes
  (``<object><bbox>`` or Pascal-VOC ``<bndbox>`` with ``xmin ymin xmax ymax`` on the 256 x 256 scale,
  :func:`~soundloc.av.boxes.read_flickr_xml`); ground truth is the soft consensus map (``box_format``
  ``flickr``). The test list ``flickr_test.csv`` (``id[,class]`` rows; also ``flickr_test.txt``, ``test.csv``,
  ``test.txt``, at the root or in ``metadata/``) names the 250 test images; without one, every annotated id.
* **vggss** (:func:`vggss_dataset`): ``vggss.json`` (root or ``metadata/``) is a list of
  ``{"file": id, "class": name, "bbox": [[x1, y1, x2, y2], ...]}`` with coordinates normalised to [0, 1];
  ground truth is the binary union of the boxes. A list file (e.g. EZ-VSL's ``vggss_heard_test.csv``) or a
  class list (one class per line: the heard / unheard split) selects a subset.
* **vggsound** (:func:`vggsound_dataset`): unlabelled training clips (no boxes, ``annotated`` False): the ids
  of a list file (``id`` per line, ``id,class`` rows, or the official ``vggsound.csv`` rows
  ``youtube_id,start_seconds,class,split``, whose id is ``<youtube_id>_<start:06d>``; ``split`` keeps one
  split), or without a list every id with both a frame and an audio file.

Frames are resized to ``image_size`` squares (:func:`~soundloc.av.media.read_frame`) and boxes scaled to
them; audio is a centred ``duration`` s mono clip at ``fs`` (:func:`~soundloc.av.media.read_clip`).

**Safety and errors.** An id from a list or JSON file must be a plain file name (no ``/``, ``\\``, ``..``, NUL
or drive): it can never name a file outside the dataset root, and a frame or audio file that is a symlink to
somewhere outside the root is refused too (:func:`soundloc.data.layout.inside_root`). Missing files, bad JSON,
bad boxes and unreadable audio or images are one-line ``ValueError`` s naming the file. Ids listed but missing
a frame or audio file are an error for the test sets (``missing="error"``, the default of ``flickr`` and
``vggss``: a silently smaller test set changes the metric) and skipped for training lists
(``missing="skip"``, the default of ``vggsound``; ``dataset.skipped`` lists them).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from soundloc.av.boxes import FLICKR_SCALE, flickr_boxes_to_pixels, read_flickr_xml, vggss_boxes_to_pixels
from soundloc.av.dataset import UNLABELLED, AVDataset, AVRecord
from soundloc.av.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, clip_samples, read_clip, read_frame
from soundloc.av.sounds import AV_FS
from soundloc.data.layout import inside_root
from soundloc.fileio import load_json

__all__ = ["AV_FORMATS", "FolderAVDataset", "FolderOptions", "detect_av_format", "flickr_dataset", "open_av_dataset",
           "read_id_list", "vggsound_dataset", "vggss_dataset"]

AV_FORMATS: tuple[str, ...] = ("flickr", "vggss", "vggsound")
"""Folder dataset formats (``auto`` detects one of them)."""

FLICKR_LISTS: tuple[str, ...] = ("flickr_test.csv", "flickr_test.txt", "test.csv", "test.txt")
"""Test-list file names looked for in a Flickr-SoundNet folder (root, then ``metadata/``)."""

ANNOTATION_DIRS: tuple[str, ...] = ("Annotations", "annotations")
VGGSS_JSON = "vggss.json"
_HEADER_IDS = frozenset({"id", "file", "filename", "youtube_id", "ytid", "video_id", "# youtube_id"})
_STRIP_SUFFIXES = (*IMAGE_SUFFIXES, *AUDIO_SUFFIXES, ".mp4", ".xml")


@dataclass(frozen=True)
class FolderOptions:
    """How clips are read: ``image_size`` frame side (pixels; 224 is the official protocol), ``duration`` clip
    length (s; EZ-VSL / SLAVC use 3), ``fs`` audio rate (Hz; the model's), ``missing`` ``"error"`` / ``"skip"``
    for listed ids without a frame or audio file (``None``: the format's default)."""

    image_size: int = 224
    duration: float = 3.0
    fs: int = AV_FS
    missing: str | None = None

    def __post_init__(self) -> None:
        if not 8 <= self.image_size <= 4096:
            raise ValueError(f"image_size must be 8-4096 pixels, got {self.image_size!r}")
        if not 1000 <= self.fs <= 384000:
            raise ValueError(f"fs must be 1000-384000 Hz, got {self.fs!r}")
        clip_samples(self.duration, self.fs)
        if self.missing not in (None, "error", "skip"):
            raise ValueError(f"missing must be 'error' or 'skip', got {self.missing!r}")


@dataclass(frozen=True)
class _Entry:
    id: str
    frame: Path
    audio: Path
    boxes: NDArray[np.float64] | None  # annotation units (Flickr 256 scale, VGG-SS normalised); None: unlabelled
    label: str


class FolderAVDataset(AVDataset):
    """A folder dataset (see the module docstring); build it with :func:`open_av_dataset` or the per-format
    functions. ``format`` names the layout, ``root`` the folder, ``ids`` the clips in order, ``skipped`` the
    listed ids left out for a missing file. ``sample(i)`` reads the files (nothing is cached)."""

    def __init__(self, *, fmt: str, root: Path, entries: list[_Entry], options: FolderOptions, skipped: list[str]) -> None:
        if not entries:
            raise ValueError(f"{fmt} dataset '{root}' has no clips" + (f" ({len(skipped)} listed ids lack a frame or audio file)"
                                                                       if skipped else ""))
        self.format = fmt
        self.root = root
        self.options = options
        self.skipped = list(skipped)
        self._entries = entries
        self.box_format = "flickr" if fmt == "flickr" else "vggss"
        self.annotated = fmt != "vggsound"
        self.class_names = tuple(sorted({e.label for e in entries if e.label}))
        self._class_index = {c: i for i, c in enumerate(self.class_names)}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self._entries]

    def pixel_boxes(self, index: int) -> NDArray[np.int64]:
        """Boxes ``(K, 4)`` of clip ``index`` in pixels of the ``image_size`` frame (exclusive ends)."""
        b = self._entries[index].boxes
        size = self.options.image_size
        if b is None:
            return np.zeros((0, 4), dtype=np.int64)
        return flickr_boxes_to_pixels(b, size=size) if self.format == "flickr" else vggss_boxes_to_pixels(b, size=size)

    def sample(self, index: int) -> AVRecord:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} clips")
        index %= n
        e = self._entries[index]
        o = self.options
        return AVRecord(id=e.id, index=index, kind="sounding" if e.boxes is not None else UNLABELLED,
                        frame=read_frame(e.frame, o.image_size), audio=read_clip(e.audio, fs=o.fs, duration=o.duration),
                        boxes=self.pixel_boxes(index), label=e.label, class_index=self._class_index.get(e.label, -1))

    def describe(self) -> dict[str, Any]:
        """What a run records about these data (JSON)."""
        return {"format": self.format, "root": str(self.root), "n": len(self), "skipped": len(self.skipped),
                "image_size": self.options.image_size, "duration": self.options.duration, "fs": self.options.fs}


# ---------------------------------------------------------------------------------------------------
# ids, lists and files
# ---------------------------------------------------------------------------------------------------


def _check_id(raw: Any, where: str) -> str:
    """A clip id as a plain file name; ``ValueError`` naming ``where`` for anything that could leave the root."""
    if not isinstance(raw, str):
        raise ValueError(f"{where}: clip id {raw!r} is not a string")
    cid = raw.strip()
    for suffix in _STRIP_SUFFIXES:
        if cid.lower().endswith(suffix):
            cid = cid[: -len(suffix)]
            break
    bad = (not cid or cid in (".", "..") or any(c in cid for c in "/\\\0") or (len(cid) > 1 and cid[1] == ":")
           or len(cid) > 255)
    if bad:
        raise ValueError(f"{where}: clip id {raw!r} is not a plain file name (ids may not contain '/', '\\\\' or '..': "
                         "files outside the dataset root are refused)")
    return cid


def read_id_list(path: str | Path, *, split: str | None = None) -> list[tuple[str, str]]:
    """``(id, class)`` pairs of a list file, in file order, duplicates dropped: ``id`` per line, ``id,class``
    rows (Flickr / VGG-SS test lists), or official ``vggsound.csv`` rows ``youtube_id,start,class,split`` (id
    ``<youtube_id>_<start:06d>``; ``split`` keeps the rows of one split). Blank lines, ``#`` comments and a
    header row are skipped; class is ``""`` when absent."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise ValueError(f"list file '{p}' does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"list file '{p}' cannot be read ({e})") from None
    out: dict[str, str] = {}
    saw_split = False
    for ln, row in enumerate(rows, 1):
        cells = [c.strip() for c in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        if ln == 1 and cells[0].lower() in _HEADER_IDS:
            continue
        where = f"{p}:{ln}"
        if len(cells) >= 4 and cells[1].isdigit():  # official vggsound.csv
            saw_split = True
            if split is not None and cells[3] != split:
                continue
            cid = _check_id(f"{cells[0]}_{int(cells[1]):06d}", where)
            label = cells[2]
        else:
            cid = _check_id(cells[0], where)
            label = cells[1] if len(cells) > 1 else ""
        out.setdefault(cid, label)
    if split is not None and not saw_split:
        raise ValueError(f"list file '{p}' has no split column (vggsound.csv rows 'youtube_id,start,class,split'); "
                         f"cannot keep split '{split}'")
    return list(out.items())


def read_class_list(path: str | Path) -> set[str]:
    """Class names of a text file, one per line (blank lines and ``#`` comments skipped)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise ValueError(f"class list '{p}' does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"class list '{p}' cannot be read ({e})") from None
    names = {s.strip() for s in lines if s.strip() and not s.strip().startswith("#")}
    if not names:
        raise ValueError(f"class list '{p}' names no class")
    return names


def _find(root: Path, folder: str, cid: str, suffixes: tuple[str, ...]) -> Path | None:
    """``root/folder/<cid><suffix>`` for the first suffix that exists, checked to stay inside ``root``."""
    for s in suffixes:
        p = root / folder / f"{cid}{s}"
        if p.is_file():
            return inside_root(root, p, shown=f"{folder}/{cid}{s}")
    return None


def _first(root: Path, names: tuple[str, ...]) -> Path | None:
    for base in (root, root / "metadata"):
        for name in names:
            if (base / name).is_file():
                return base / name
    return None


def _entries(fmt: str, root: Path, items: list[tuple[str, NDArray[np.float64] | None, str]], missing: str
             ) -> tuple[list[_Entry], list[str]]:
    """Entries of ``(id, boxes, class)`` items whose frame and audio exist; the rest raise or are skipped."""
    out: list[_Entry] = []
    absent: list[tuple[str, str]] = []
    for cid, boxes, label in items:
        frame = _find(root, "frames", cid, IMAGE_SUFFIXES)
        audio = _find(root, "audio", cid, AUDIO_SUFFIXES)
        if frame is None or audio is None:
            absent.append((cid, "frames" if frame is None else "audio"))
            continue
        out.append(_Entry(cid, frame, audio, boxes, label))
    if absent and missing == "error":
        cid, what = absent[0]
        raise ValueError(f"{fmt} dataset '{root}': {len(absent)} of {len(items)} listed clips have no file in {what}/ "
                         f"(first: '{cid}'); add the files, or pass missing='skip' (--missing skip) to leave them out")
    return out, [cid for cid, _ in absent]


def _root(root: str | Path) -> Path:
    r = Path(root)
    if not r.is_dir():
        raise ValueError(f"dataset folder '{r}' does not exist")
    for sub in ("frames", "audio"):
        if not (r / sub).is_dir():
            raise ValueError(f"dataset folder '{r}' has no {sub}/ folder (expected frames/<id>.jpg and audio/<id>.wav)")
    return r


def _filter_classes(items: list[tuple[str, Any, str]], classes: str | Path | None) -> list[tuple[str, Any, str]]:
    if classes is None:
        return items
    keep = read_class_list(classes)
    if any(not label for _, _, label in items):
        raise ValueError(f"class list '{classes}' given, but the dataset's clips have no class labels")
    return [it for it in items if it[2] in keep]


# ---------------------------------------------------------------------------------------------------
# the three formats
# ---------------------------------------------------------------------------------------------------


def _check_flickr_boxes(b: NDArray[np.int64], where: str) -> NDArray[np.float64]:
    if len(b) == 0:
        raise ValueError(f"{where}: no boxes (a Flickr-SoundNet test image has at least one annotator's box)")
    x0, y0, x1, y1 = b.T
    if (b < 0).any() or (b > FLICKR_SCALE).any():
        raise ValueError(f"{where}: box coordinates must be in [0, {FLICKR_SCALE}] (the 256 x 256 annotation scale), "
                         f"got {b[((b < 0) | (b > FLICKR_SCALE)).any(axis=1)][0].tolist()}")
    if ((x1 <= x0) | (y1 <= y0)).any():
        raise ValueError(f"{where}: a box has xmax <= xmin or ymax <= ymin: {b[((x1 <= x0) | (y1 <= y0))][0].tolist()}")
    return b.astype(np.float64)


def flickr_dataset(root: str | Path, *, test_list: str | Path | None = None, classes: str | Path | None = None,
                   options: FolderOptions | None = None) -> FolderAVDataset:
    """Flickr-SoundNet (see the module docstring): the ids of ``test_list`` (default: the folder's
    ``flickr_test.csv`` or another of :data:`FLICKR_LISTS`; none: every ``Annotations/*.xml``), each with its
    annotators' boxes, in id order (as the official loaders). ``ValueError`` for a listed id without an
    annotation file or with bad boxes."""
    r = _root(root)
    o = options or FolderOptions()
    ann = next((r / d for d in ANNOTATION_DIRS if (r / d).is_dir()), None)
    if ann is None:
        raise ValueError(f"Flickr-SoundNet folder '{r}' has no Annotations/ folder of <id>.xml box files")
    lst = Path(test_list) if test_list is not None else _first(r, FLICKR_LISTS)
    if lst is not None:
        listed = sorted(read_id_list(lst))
    else:
        listed = [(_check_id(p.stem, str(p)), "") for p in sorted(ann.glob("*.xml"))]
    items: list[tuple[str, NDArray[np.float64] | None, str]] = []
    for cid, label in listed:
        xml = ann / f"{cid}.xml"
        if not xml.is_file():
            raise ValueError(f"Flickr-SoundNet folder '{r}': clip '{cid}' has no annotation file {ann.name}/{cid}.xml")
        inside_root(r, xml, shown=f"{ann.name}/{cid}.xml")
        items.append((cid, _check_flickr_boxes(read_flickr_xml(xml), str(xml)), label))
    items = _filter_classes(items, classes)
    entries, skipped = _entries("flickr", r, items, o.missing or "error")
    return FolderAVDataset(fmt="flickr", root=r, entries=entries, options=o, skipped=skipped)


def _vggss_boxes(raw: Any, where: str) -> NDArray[np.float64]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: \"bbox\" must be a non-empty list of [x1, y1, x2, y2] boxes")
    rows = []
    for box in raw:
        ok = isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        if not ok or not all(math.isfinite(float(v)) for v in box):
            raise ValueError(f"{where}: bad box {box!r} (want four finite numbers [x1, y1, x2, y2])")
        rows.append([float(v) for v in box])
    b = np.asarray(rows, dtype=np.float64)
    if (b < -1e-3).any() or (b > 1 + 1e-3).any():
        raise ValueError(f"{where}: box {b[((b < -1e-3) | (b > 1 + 1e-3)).any(axis=1)][0].tolist()} is not normalised to "
                         "[0, 1] (VGG-SS boxes are fractions of the frame's width and height)")
    if ((b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])).any():
        raise ValueError(f"{where}: a box has x2 <= x1 or y2 <= y1")
    return b


def vggss_dataset(root: str | Path, *, annotations: str | Path | None = None, id_list: str | Path | None = None,
                  classes: str | Path | None = None, options: FolderOptions | None = None) -> FolderAVDataset:
    """VGG-SS (see the module docstring): the entries of ``annotations`` (default the folder's ``vggss.json``,
    or ``metadata/vggss.json``), in id order, optionally only the ids of ``id_list`` and the classes of
    ``classes``. ``ValueError`` for bad JSON, a bad entry or box, a duplicate id."""
    r = _root(root)
    o = options or FolderOptions()
    js = Path(annotations) if annotations is not None else _first(r, (VGGSS_JSON,))
    if js is None:
        raise ValueError(f"VGG-SS folder '{r}' has no {VGGSS_JSON} (root or metadata/)")
    doc = load_json(js, what="VGG-SS annotation file")
    if not isinstance(doc, list):
        raise ValueError(f"VGG-SS annotation file '{js}' must hold a list of {{\"file\", \"class\", \"bbox\"}} objects")
    by_id: dict[str, tuple[NDArray[np.float64], str]] = {}
    for k, ent in enumerate(doc):
        where = f"{js} entry {k}"
        if not isinstance(ent, dict) or "file" not in ent or "bbox" not in ent:
            raise ValueError(f"{where}: must be an object with \"file\" and \"bbox\" (and \"class\")")
        cid = _check_id(ent["file"], where)
        label = ent.get("class", "")
        if not isinstance(label, str):
            raise ValueError(f"{where}: \"class\" must be a string")
        if cid in by_id:
            raise ValueError(f"{where}: clip '{cid}' appears twice")
        by_id[cid] = (_vggss_boxes(ent["bbox"], where), label)
    if id_list is not None:
        wanted = read_id_list(id_list)
        unknown = [cid for cid, _ in wanted if cid not in by_id]
        if unknown:
            raise ValueError(f"list file '{id_list}': {len(unknown)} ids are not in {js.name} (first: '{unknown[0]}')")
        ids = sorted(cid for cid, _ in wanted)
    else:
        ids = sorted(by_id)
    items: list[tuple[str, NDArray[np.float64] | None, str]] = [(cid, by_id[cid][0], by_id[cid][1]) for cid in ids]
    items = _filter_classes(items, classes)
    entries, skipped = _entries("vggss", r, items, o.missing or "error")
    return FolderAVDataset(fmt="vggss", root=r, entries=entries, options=o, skipped=skipped)


def vggsound_dataset(root: str | Path, *, id_list: str | Path | None = None, split: str | None = None,
                     classes: str | Path | None = None, options: FolderOptions | None = None) -> FolderAVDataset:
    """VGGSound-style training clips without boxes (see the module docstring): the ids of ``id_list`` (sorted),
    or every id with a frame and an audio file. Listed ids without files are skipped unless
    ``options.missing == "error"``."""
    r = _root(root)
    o = options or FolderOptions()
    if id_list is not None:
        listed = sorted(read_id_list(id_list, split=split))
    else:
        if split is not None:
            raise ValueError("a split needs a list file with a split column (vggsound.csv)")
        stems = sorted({p.stem for p in (r / "frames").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES})
        listed = [(_check_id(s, f"{r}/frames"), "") for s in stems]
    items: list[tuple[str, NDArray[np.float64] | None, str]] = [(cid, None, label) for cid, label in listed]
    items = _filter_classes(items, classes)
    entries, skipped = _entries("vggsound", r, items, o.missing or "skip")
    return FolderAVDataset(fmt="vggsound", root=r, entries=entries, options=o, skipped=skipped)


# ---------------------------------------------------------------------------------------------------
# detection and the one entry point
# ---------------------------------------------------------------------------------------------------


def _folder_format(root: Path) -> str | None:
    if _first(root, (VGGSS_JSON,)) is not None:
        return "vggss"
    if any((root / d).is_dir() for d in ANNOTATION_DIRS):
        return "flickr"
    if (root / "frames").is_dir() and (root / "audio").is_dir():
        return "vggsound"
    return None


def detect_av_format(path: str | Path) -> tuple[str, Path, Path | None]:
    """``(format, root, file)`` of a DATA argument: a folder (``vggss.json`` -> vggss, ``Annotations/`` -> flickr,
    ``frames/`` + ``audio/`` -> vggsound), a ``.json`` file (VGG-SS annotations; root its folder, or the folder
    above ``metadata/``) or a ``.csv`` / ``.txt`` list (format of its root folder). ``ValueError`` otherwise."""
    p = Path(path)
    if p.is_dir():
        fmt = _folder_format(p)
        if fmt is None:
            raise ValueError(f"cannot tell the format of '{p}': expected vggss.json (VGG-SS), Annotations/ (Flickr-SoundNet) "
                             "or frames/ + audio/ (VGGSound list); or pass --format")
        return fmt, p, None
    if not p.is_file():
        raise ValueError(f"unknown DATA '{p}': no such folder or file (give 'builtin', a dataset folder, a vggss.json or a list file)")
    root = p.parent
    if root.name == "metadata" and not (root / "frames").is_dir():
        root = root.parent
    if p.suffix.lower() == ".json":
        return "vggss", root, p
    if p.suffix.lower() in (".csv", ".txt"):
        fmt = _folder_format(root)
        if fmt is None:
            raise ValueError(f"list file '{p}': its dataset folder '{root}' has no frames/ and audio/ folders")
        return fmt, root, p
    raise ValueError(f"DATA '{p}' is neither a folder, a .json annotation file nor a .csv / .txt list")


def open_av_dataset(path: str | Path, *, format: str = "auto", id_list: str | Path | None = None,
                    classes: str | Path | None = None, split: str | None = None,
                    options: FolderOptions | None = None) -> FolderAVDataset:
    """The folder dataset at ``path`` (a folder, or a file as :func:`detect_av_format` reads it) in ``format``
    (:data:`AV_FORMATS` or ``"auto"``). ``id_list`` selects clips (Flickr: the test list; VGG-SS: a subset such
    as the heard / unheard test list; VGGSound: the training list); ``classes`` a class-list file; ``split``
    one split of an official ``vggsound.csv``."""
    if format not in ("auto", *AV_FORMATS):
        raise ValueError(f"unknown AV dataset format '{format}'; choose from auto, {', '.join(AV_FORMATS)}")
    fmt, root, file = detect_av_format(path)
    if format != "auto":
        fmt = format
    if file is not None and file.suffix.lower() == ".json":
        if fmt != "vggss":
            raise ValueError(f"'{file}' is a JSON annotation file, which only the vggss format reads")
        return vggss_dataset(root, annotations=file, id_list=id_list, classes=classes, options=options)
    if file is not None:
        if id_list is not None:
            raise ValueError(f"DATA '{file}' is already a list file; do not pass another list")
        id_list = file
    if split is not None and fmt != "vggsound":
        raise ValueError("a split (of vggsound.csv) applies to the vggsound format only")
    if fmt == "flickr":
        return flickr_dataset(root, test_list=id_list, classes=classes, options=options)
    if fmt == "vggss":
        return vggss_dataset(root, id_list=id_list, classes=classes, options=options)
    return vggsound_dataset(root, id_list=id_list, split=split, classes=classes, options=options)
