"""A torch ``Dataset`` of (multichannel waveform, frame-level targets) over a dataset folder.

Reads soundloc datasets and STARSS23/TAU-style folders (see :mod:`soundloc.data.layout`) the same
way. Each item is ``(waveform, targets)``:

* ``waveform``: ``(M, N)`` float32 tensor (mics, samples) at ``fs``.
* ``targets``: a dict of float32 tensors over ``T`` label frames of 100 ms, ``K = max_tracks``
  slots per class and ``C`` classes (see :func:`soundloc.data.dcase.labels_to_targets`):
  ``activity`` ``(T, K, C)``, ``doa`` ``(T, K, C, 3)`` unit vectors in the array frame (x front,
  y left, z up), ``distance`` ``(T, K, C)`` metres (0 where unknown). The multi-ACCDOA target of the
  DCASE baselines is ``activity[..., None] * doa``; single-track ACCDOA takes ``K = 1``.

With ``clip_seconds`` every file is cut into windows of that length every ``hop_seconds``
(default: no overlap); the last window is zero-padded (and its padded frames carry no labels).
Without it each item is a whole file (lengths differ between files; batch with size 1 or a
padding collate function).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from soundloc.data.dcase import labels_to_targets
from soundloc.data.layout import open_dataset

if TYPE_CHECKING:
    from soundloc.geometry import ArrayModel

from soundloc.dataformat import LABEL_HOP_S, DcaseLabels, num_label_frames, read_dcase_csv


def _frames(seconds: float, name: str) -> int:
    t = seconds / LABEL_HOP_S
    if seconds <= 0 or abs(t - round(t)) > 1e-6:
        raise ValueError(f"{name} must be a positive multiple of the 0.1 s label frame, got {seconds}")
    return int(round(t))


def _window_count(total_frames: int, clip_frames: int, hop_frames: int) -> int:
    """Windows of ``clip_frames`` every ``hop_frames`` label frames over a file of ``total_frames``
    (the last one may run past the end, where it is zero-padded)."""
    return 1 + max(0, int(math.ceil((total_frames - clip_frames) / hop_frames)))


class SeldDataset(Dataset):
    """Frame-labelled multichannel audio from a dataset folder.

    Args:
        root: the dataset folder.
        split: ``"train"``/``"val"``/``"test"`` (soundloc), ``"train"``/``"test"`` or a sub-folder /
            fold name (DCASE folders), or ``None`` for every file.
        fs: sample rate of the returned audio (resampled with soxr if a file differs);
            ``None`` keeps the files' rate (all files must share it).
        clip_seconds: window length in seconds (multiple of 0.1), or ``None`` for whole files.
        hop_seconds: hop between windows (multiple of 0.1); defaults to ``clip_seconds``.
        max_tracks: ``K``, track slots per class.
        layout: ``"auto"``, ``"soundloc"`` or ``"dcase"``.
        audio_format: for DCASE folders, ``"mic"``, ``"foa"`` or ``"auto"`` (mic if present).
        class_names: class list; default: ``dataset.json`` (soundloc) or :data:`STARSS23_CLASSES`.
        distance_unit: unit of the label files' distance column: ``"auto"`` (soundloc: the unit
            ``dataset.json`` records; elsewhere integers = cm, decimals = m), ``"cm"`` or ``"m"``.

    Attributes:
        entries: the :class:`~soundloc.data.layout.FileEntry` list.
        class_names, num_classes, fs, num_channels, layout.
        header: ``dataset.json`` content (soundloc) or ``{}``.

    Raises:
        ValueError: not a dataset folder, no files for ``split``, files with different channel
            counts or rates (when ``fs`` is None), a label class out of range, bad lengths.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        fs: int | None = None,
        clip_seconds: float | None = None,
        hop_seconds: float | None = None,
        max_tracks: int = 3,
        layout: str = "auto",
        audio_format: str = "auto",
        class_names: Sequence[str] | None = None,
        distance_unit: str = "auto",
    ) -> None:
        self.root = Path(root)
        index = open_dataset(self.root, split, layout=layout, audio_format=audio_format)
        self.layout, self.header, self.entries = index.layout, index.header, index.entries
        unit = index.distance_unit if distance_unit == "auto" else distance_unit
        self.class_names = tuple(class_names) if class_names is not None else index.class_names
        self.num_classes = len(self.class_names)
        if max_tracks < 1:
            raise ValueError(f"max_tracks must be >= 1, got {max_tracks}")
        self.max_tracks = int(max_tracks)
        self.split = split

        infos = []
        for e in self.entries:
            try:
                infos.append(sf.info(str(e.audio)))
            except (RuntimeError, sf.SoundFileError) as err:
                raise ValueError(f"{e.audio}: cannot read audio header ({err})") from None
        chans = {i.channels for i in infos}
        if len(chans) != 1:
            raise ValueError(f"'{self.root}': files have different channel counts {sorted(chans)}")
        self.num_channels = chans.pop()
        rates = {int(i.samplerate) for i in infos}
        if fs is None and len(rates) != 1:
            raise ValueError(f"'{self.root}': files have different sample rates {sorted(rates)}; pass fs=")
        self.fs = int(fs) if fs is not None else rates.pop()
        self._file_fs = [int(i.samplerate) for i in infos]
        self._file_len = [int(i.frames) for i in infos]

        self.labels: list[DcaseLabels] = [read_dcase_csv(e.labels, distance_unit=unit) for e in self.entries]
        for e, lab in zip(self.entries, self.labels):
            if len(lab) and int(lab.class_index.max()) >= self.num_classes:
                raise ValueError(f"{e.labels}: class {int(lab.class_index.max())} is out of range for "
                                 f"{self.num_classes} classes; pass class_names=")

        self.clip_frames = None if clip_seconds is None else _frames(clip_seconds, "clip_seconds")
        hop_frames = 1  # used with clip_seconds only
        if self.clip_frames is not None:
            hop_frames = self.clip_frames if hop_seconds is None else _frames(hop_seconds, "hop_seconds")
        elif hop_seconds is not None:
            raise ValueError("hop_seconds needs clip_seconds")
        # items: (file index, first label frame, number of label frames)
        self._items: list[tuple[int, int, int]] = []
        for i, n in enumerate(self._file_len):
            total = num_label_frames(n / self._file_fs[i])
            if self.clip_frames is None:
                self._items.append((i, 0, max(total, 1)))
            else:
                count = _window_count(total, self.clip_frames, hop_frames)
                self._items.extend((i, k * hop_frames, self.clip_frames) for k in range(count))

    # ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    @property
    def array(self) -> ArrayModel:
        """The :class:`~soundloc.geometry.MicArray` or :class:`~soundloc.ambisonics.FoaFormat` of the
        audio: from ``dataset.json`` (soundloc), the ``tetra`` preset for DCASE ``mic_*`` audio (the
        Eigenmike MIC format), FOA (ACN/SN3D) for DCASE ``foa_*`` audio."""
        from soundloc.ambisonics import FoaFormat
        from soundloc.geometry import MicArray, array_from_dict

        if "array" in self.header:
            return array_from_dict(self.header["array"])
        if self.layout == "dcase" and self.entries[0].audio.relative_to(self.root).parts[0].startswith("mic_"):
            return MicArray.preset("tetra")
        return FoaFormat()

    def count_windows(self, clip_seconds: float) -> int:
        """Non-overlapping windows of ``clip_seconds`` over all files (what a dataset built with that
        ``clip_seconds`` and no hop would hold), without building it."""
        clip = _frames(clip_seconds, "clip_seconds")
        return sum(_window_count(num_label_frames(self.file_seconds(i)), clip, clip) for i in range(len(self.entries)))

    def file_seconds(self, file_index: int) -> float:
        """Duration in seconds of file ``file_index`` of :attr:`entries` (from the header read at construction)."""
        return self._file_len[file_index] / self._file_fs[file_index]

    def item_info(self, index: int) -> dict:
        """``{"entry", "file", "start", "frames"}``: which file (entry and its index in :attr:`entries`)
        and which window item ``index`` is."""
        i, f0, nf = self._items[index]
        return {"entry": self.entries[i], "file": i, "start": f0 * LABEL_HOP_S, "frames": nf}

    def read_waveform(self, index: int) -> np.ndarray:
        """``(M, N)`` float32 numpy waveform of item ``index`` at ``self.fs``."""
        i, f0, nf = self._items[index]
        ffs = self._file_fs[i]
        entry = self.entries[i]
        if self.clip_frames is None:
            start, stop = 0, self._file_len[i]
            n_out = int(round(self._file_len[i] * self.fs / ffs))
        else:
            start = int(round(f0 * LABEL_HOP_S * ffs))
            stop = min(self._file_len[i], int(round((f0 + nf) * LABEL_HOP_S * ffs)))
            n_out = int(round(nf * LABEL_HOP_S * self.fs))
        try:
            x, _ = sf.read(str(entry.audio), start=start, stop=stop, dtype="float32", always_2d=True)
        except (RuntimeError, sf.SoundFileError) as err:
            raise ValueError(f"{entry.audio}: cannot decode audio ({err})") from None
        x = np.ascontiguousarray(x.T)
        if ffs != self.fs and x.shape[1] > 0:
            from soundloc.audio import resample

            x = resample(x, ffs, self.fs)
        out = np.zeros((x.shape[0], n_out), dtype=np.float32)
        n = min(n_out, x.shape[1])
        out[:, :n] = x[:, :n]
        return out

    def read_targets(self, index: int) -> dict[str, np.ndarray]:
        """Numpy targets of item ``index`` (see the module docstring)."""
        i, f0, nf = self._items[index]
        return labels_to_targets(self.labels[i], nf, self.num_classes, self.max_tracks, frame_offset=f0)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index = index % len(self)
        x = self.read_waveform(index)
        t = self.read_targets(index)
        return torch.from_numpy(x), {k: torch.from_numpy(v) for k, v in t.items()}
