"""Unlabelled pretraining data: fixed-length windows of multichannel recordings from one array.

* :class:`AudioWindows`: a torch ``Dataset`` of non-overlapping windows ``(M, N)`` of a list of
  files (the last partial window of a file is dropped; a file shorter than one window gives none);
  ``cached()`` reads them all into memory once (threads).
* :func:`open_recordings`: DATA -> ``(AudioWindows, array, fs)``: a soundloc / STARSS23-style
  dataset folder (its ``train`` split, array from ``dataset.json``; labels are ignored) or a plain
  folder of wav / flac files with ``array=`` (a preset name or JSON file).
* :func:`pretrain_source`: the training source the pretrainer iterates: a
  :class:`~soundloc.train.WindowSource` over the windows (batches a pure function of seed, epoch
  and step, for exact resume and DDP), or a :class:`~soundloc.train.SimulationSource`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from soundloc.ambisonics import FoaFormat
from soundloc.audio import list_audio_files
from soundloc.geometry import MicArray, get_array
from soundloc.train.data import WindowSource

MEMORY_LIMIT_BYTES = 8 * 2**30
"""Windows up to this total size are read into memory once; larger data is streamed from disk."""

Item = tuple[torch.Tensor, dict[str, torch.Tensor]]


class AudioWindows(Dataset[Item]):
    """Non-overlapping windows of ``seconds`` from ``files`` at ``fs`` Hz (resampled when a file differs).

    Items are ``(waveform (M, N), {})`` (no targets). ``ValueError`` for unreadable files, files
    with another channel count than ``channels``, or no window at all.
    """

    def __init__(self, files: Sequence[str | os.PathLike[str]], *, seconds: float, fs: int, channels: int) -> None:
        self.files = [Path(f) for f in files]
        self.fs, self.channels = int(fs), int(channels)
        self.length = int(round(seconds * self.fs))
        self.index: list[tuple[int, int, int]] = []  # (file, start sample in the file, file rate)
        for i, f in enumerate(self.files):
            try:
                info = sf.info(str(f))
            except (RuntimeError, sf.SoundFileError) as e:
                raise ValueError(f"{f}: cannot read audio header ({str(e).splitlines()[0]})") from None
            if info.channels != self.channels:
                raise ValueError(f"{f}: {info.channels} channels, the array has {self.channels}")
            ffs = int(info.samplerate)
            flen = int(round(seconds * ffs))
            self.index += [(i, k * flen, ffs) for k in range(int(info.frames) // flen)]
        if not self.index:
            raise ValueError(f"no {seconds:g}-s windows in {len(self.files)} audio file(s) (files too short?)")
        self._memory: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.index)

    def read(self, k: int) -> np.ndarray:
        """``(M, N)`` float32 window ``k`` read from disk."""
        i, start, ffs = self.index[k]
        n = int(round(self.length * ffs / self.fs))
        try:
            x, _ = sf.read(str(self.files[i]), start=start, stop=start + n, dtype="float32", always_2d=True)
        except (RuntimeError, sf.SoundFileError) as e:
            raise ValueError(f"{self.files[i]}: cannot decode audio ({str(e).splitlines()[0]})") from None
        x = np.ascontiguousarray(x.T)
        if ffs != self.fs:
            from soundloc.audio import resample

            x = resample(x, ffs, self.fs)
        out = np.zeros((self.channels, self.length), dtype=np.float32)
        m = min(self.length, x.shape[1])
        out[:, :m] = x[:, :m]
        return out

    def __getitem__(self, k: int) -> Item:
        if self._memory is not None:
            return self._memory[k], {}
        return torch.from_numpy(self.read(k)), {}

    @property
    def nbytes(self) -> int:
        return len(self) * self.channels * self.length * 4

    def cached(self, threads: int = 8) -> AudioWindows:
        """Read every window into memory (once; returns ``self``)."""
        if self._memory is None:
            mem = torch.empty((len(self), self.channels, self.length), dtype=torch.float32)

            def load(k: int) -> None:
                mem[k] = torch.from_numpy(self.read(k))

            with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
                list(ex.map(load, range(len(self))))
            self._memory = mem
        return self


def _is_dataset_folder(root: Path) -> bool:
    from soundloc.dataformat import DATASET_JSON

    return (root / DATASET_JSON).is_file() or any((root / d).is_dir() for d in ("mic_dev", "foa_dev", "metadata_dev"))


def open_recordings(data: str | os.PathLike[str], *, seconds: float, array: str | None = None, fs: int | None = None,
                    split: str = "train") -> tuple[AudioWindows, MicArray | FoaFormat, int]:
    """``(windows, array, fs)`` of a dataset folder's ``split`` or of a plain folder / list of audio files.

    Args:
        data: a soundloc or STARSS23/TAU dataset folder, or a folder of multichannel audio files.
        seconds: window length.
        array: the array of a plain folder (preset name or JSON file; required there); for a dataset
            folder it must match the recorded one when given.
        fs: sample rate to use (default: the files' rate, which must then be the same for all).
        split: the dataset folder split (labels are ignored).

    Raises:
        ValueError: missing folder, no audio, no array for a plain folder, mixed rates or channel counts.
    """
    root = Path(data)
    if not root.exists():
        raise ValueError(f"'{root}' does not exist")
    arr: MicArray | FoaFormat | None = None
    if root.is_dir() and _is_dataset_folder(root):
        from soundloc.data import SeldDataset

        ds = SeldDataset(root, split)
        files = [e.audio for e in ds.entries]
        arr = ds.array
        if array is not None and get_array(array).to_dict() != arr.to_dict():
            raise ValueError(f"--array {array} differs from the array '{arr.name}' of the dataset '{root}'")
    else:
        files = list_audio_files([root])
        if not files:
            raise ValueError(f"no audio files (wav, flac, ...) in '{root}'")
        if array is None:
            raise ValueError(f"'{root}' is a plain folder of recordings: give the array they were recorded with (--array NAME|JSON)")
        arr = get_array(array)
    rates = set()
    chans = set()
    for f in files:
        try:
            info = sf.info(str(f))
        except (RuntimeError, sf.SoundFileError) as e:
            raise ValueError(f"{f}: cannot read audio header ({str(e).splitlines()[0]})") from None
        rates.add(int(info.samplerate))
        chans.add(int(info.channels))
    if chans != {arr.num_channels}:
        raise ValueError(f"'{root}': files have {sorted(chans)} channels, array '{arr.name}' has {arr.num_channels}")
    if fs is None:
        if len(rates) != 1:
            raise ValueError(f"'{root}': files have different sample rates {sorted(rates)}; choose one (--fs)")
        fs = rates.pop()
    return AudioWindows(files, seconds=seconds, fs=int(fs), channels=arr.num_channels), arr, int(fs)


def pretrain_source(windows: AudioWindows, *, seed: int, memory_limit: int = MEMORY_LIMIT_BYTES) -> WindowSource:
    """A :class:`~soundloc.train.WindowSource` over ``windows`` (read into memory when they fit ``memory_limit``)."""
    if windows.nbytes <= memory_limit:
        windows.cached()
    return WindowSource(windows, crops_per_epoch=len(windows), seed=seed)  # type: ignore[arg-type]


def source_info(source: Any) -> str:
    """One line about a source, for the CLI."""
    ds = getattr(source, "dataset", None)
    if isinstance(ds, AudioWindows):
        where = "in memory" if ds._memory is not None else "streamed from disk"
        return f"{len(ds)} windows of {ds.length / ds.fs:g} s from {len(ds.files)} file(s), {where}"
    return "scenes simulated on the fly"
