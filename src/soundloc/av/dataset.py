"""The audio-visual dataset interface: what the trainer and the evaluator read.

Every audio-visual dataset (the built-in benchmark :class:`~soundloc.av.synthetic.SyntheticAVDataset`, the
folder datasets of :mod:`soundloc.av.folders`: Flickr-SoundNet, VGG-SS, VGGSound lists) is an
:class:`AVDataset`: ``len(ds)``, ``ds.sample(i)`` (a record with the fields below, numpy) and ``ds[i]`` (the
same as torch tensors, batched by :func:`collate_av`). :func:`soundloc.av.train.load_split` reads any of them
into memory for :func:`~soundloc.av.train.train_av` and :func:`soundloc.metrics.av_eval.evaluate_av`.

A record (:class:`AVRecord`, or the benchmark's :class:`~soundloc.av.synthetic.AVSample`) has

* ``frame`` ``(3, H, W)`` uint8 (RGB; rows are image ``y``, downwards);
* ``audio`` ``(N,)`` float32, mono, at the dataset's rate (16 kHz for the built-in benchmark);
* ``boxes`` ``(K, 4)`` int64 pixel boxes ``[xmin, ymin, xmax, ymax]`` with exclusive ends of the sounding
  objects on screen (Flickr-SoundNet: every annotator's boxes); ``K = 0`` when no sounding object is on screen;
* ``labels`` ``(K,)`` int64: the class of each box (index into the dataset's ``class_names``; -1 unknown);
* ``label``: the clip's class name (``""`` unknown), ``kind``, ``index`` and a string ``id``.

``kind`` tells what the boxes mean. The built-in benchmark has ``single`` / ``double`` (sounding objects on
screen) and ``offscreen`` / ``silent`` / ``noise`` (negatives: no sounding object on screen,
:data:`NEGATIVE_KINDS`). Folder datasets have ``sounding`` (annotated boxes), ``non-sounding`` (a negative
pair, e.g. SLAVC's extended test sets) and ``unlabelled`` (a training clip without annotation: its empty
``boxes`` are *unknown*, not "nothing on screen"). A dataset whose ``annotated`` is False holds unlabelled
clips and cannot be scored.

The ground-truth map of a record follows the dataset's ``box_format`` (:func:`~soundloc.av.boxes.gt_map_from_boxes`):
``flickr`` averages the annotators (the official consensus ``min(count / 2, 1)``: 0.5 inside one annotator's
box, 1 inside two or more), ``vggss`` is the binary union of the boxes (also the built-in benchmark's rule).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from soundloc.av.boxes import gt_map_from_boxes

__all__ = ["NEGATIVE_KINDS", "AVDataset", "AVRecord", "AVSubset", "RecordLike", "collate_av", "holdout_split"]

NEGATIVE_KINDS: frozenset[str] = frozenset({"offscreen", "silent", "noise", "non-sounding"})
"""Kinds whose sample has no sounding object on screen (the negatives of the detection metrics)."""

UNLABELLED = "unlabelled"
"""The kind of a clip without annotation (its boxes are unknown)."""


class RecordLike(Protocol):
    """What :meth:`AVDataset.sample` returns (see the module docstring for units)."""

    @property
    def frame(self) -> NDArray[np.uint8]: ...
    @property
    def audio(self) -> NDArray[np.float32]: ...
    @property
    def boxes(self) -> NDArray[np.int64]: ...
    @property
    def labels(self) -> NDArray[np.int64]: ...
    @property
    def label(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...


@dataclass(frozen=True)
class AVRecord:
    """One sample of a folder dataset (numpy; units in the module docstring). ``class_index`` is the clip's
    class (index into the dataset's ``class_names``, -1 unknown); every box has that class."""

    id: str
    index: int
    kind: str
    frame: NDArray[np.uint8] = field(repr=False)
    audio: NDArray[np.float32] = field(repr=False)
    boxes: NDArray[np.int64]
    label: str = ""
    class_index: int = -1

    @property
    def labels(self) -> NDArray[np.int64]:
        """``(K,)`` the class index of each box."""
        return np.full(len(self.boxes), self.class_index, dtype=np.int64)


class AVDataset(torch.utils.data.Dataset[dict[str, Any]], abc.ABC):
    """Base of the audio-visual datasets: subclasses give ``__len__`` and :meth:`sample`.

    ``box_format`` (``"flickr"`` or ``"vggss"``) is the ground-truth map rule; ``annotated`` is False for
    datasets of unlabelled clips (training lists); ``class_names`` the classes ``labels`` index.

    ``ds[i]`` is a dict of tensors: ``frame`` ``(3, H, W)`` float32 in [0, 1], ``audio`` ``(N,)`` float32,
    ``boxes`` ``(K, 4)`` int64, ``labels`` ``(K,)`` int64, ``gt_map`` ``(H, W)`` float32 (the ground-truth map
    of the boxes), ``mask`` ``(H, W)`` bool (sounding pixels: the exact object masks of the built-in benchmark,
    ``gt_map > 0`` elsewhere), ``annotated`` bool (False: the boxes are unknown), and ``kind``, ``label``,
    ``id``, ``index``.
    """

    box_format: str = "vggss"
    annotated: bool = True
    class_names: tuple[str, ...] = ()

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def sample(self, index: int) -> RecordLike:
        """Record ``index`` (numpy arrays)."""

    def gt_map(self, record: RecordLike) -> NDArray[np.float32]:
        """The ground-truth map ``(H, W)`` of ``record``'s boxes under :attr:`box_format`."""
        h, w = record.frame.shape[-2:]
        return gt_map_from_boxes(record.boxes, self.box_format, size=(int(h), int(w)))

    def mask(self, record: RecordLike, gt_map: NDArray[np.float32]) -> NDArray[np.bool_]:
        """``(H, W)`` True on sounding pixels (default: where the ground-truth map is positive)."""
        out: NDArray[np.bool_] = gt_map > 0
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.sample(index)
        gt = self.gt_map(s)
        return {"frame": torch.from_numpy(np.asarray(s.frame, dtype=np.float32) / 255.0),
                "audio": torch.from_numpy(np.array(s.audio, dtype=np.float32)),
                "boxes": torch.from_numpy(np.array(s.boxes, dtype=np.int64).reshape(-1, 4)),
                "labels": torch.from_numpy(np.array(s.labels, dtype=np.int64)),
                "gt_map": torch.from_numpy(gt), "mask": torch.from_numpy(np.asarray(self.mask(s, gt), dtype=bool)),
                "annotated": bool(self.annotated and s.kind != UNLABELLED),
                "kind": s.kind, "label": s.label, "id": s.id, "index": s.index}


class AVSubset(AVDataset):
    """The samples ``indices`` of ``dataset`` (same box format, annotation and classes)."""

    def __init__(self, dataset: AVDataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.box_format = dataset.box_format
        self.annotated = dataset.annotated
        self.class_names = dataset.class_names

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, index: int) -> RecordLike:
        return self.dataset.sample(self.indices[index])

    def mask(self, record: RecordLike, gt_map: NDArray[np.float32]) -> NDArray[np.bool_]:
        return self.dataset.mask(record, gt_map)


def holdout_split(dataset: AVDataset, n_val: int, *, seed: int = 0) -> tuple[AVSubset, AVSubset]:
    """``(train, val)``: ``n_val`` samples drawn by ``default_rng(seed)`` held out for validation, the rest for
    training (both in the dataset's order). ``ValueError`` unless ``1 <= n_val < len(dataset)``."""
    n = len(dataset)
    if not 1 <= n_val < n:
        raise ValueError(f"cannot hold out {n_val} of {n} samples for validation (need 1 <= n_val < {n})")
    val = np.zeros(n, dtype=bool)
    val[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return AVSubset(dataset, np.flatnonzero(~val).tolist()), AVSubset(dataset, np.flatnonzero(val).tolist())


def collate_av(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch :class:`AVDataset` items: ``frame`` ``(B, 3, H, W)``, ``audio`` ``(B, N)``, ``gt_map`` ``(B, H, W)``,
    ``mask`` ``(B, H, W)``, ``annotated`` ``(B,)``, ``index`` ``(B,)`` stacked; ``boxes``, ``labels``, ``kind``,
    ``label``, ``id`` as lists (their lengths vary). Frames (and clips) of a batch must share one size."""
    return {"frame": torch.stack([b["frame"] for b in batch]), "audio": torch.stack([b["audio"] for b in batch]),
            "gt_map": torch.stack([b["gt_map"] for b in batch]), "mask": torch.stack([b["mask"] for b in batch]),
            "annotated": torch.tensor([b["annotated"] for b in batch]), "index": torch.tensor([b["index"] for b in batch]),
            "boxes": [b["boxes"] for b in batch], "labels": [b["labels"] for b in batch], "kind": [b["kind"] for b in batch],
            "label": [b["label"] for b in batch], "id": [b["id"] for b in batch]}
