"""Corpus basics: :class:`ClipRef` (one source clip on disk) and :class:`Corpus` (a set of them).

A corpus is a labelled collection of *mono source sounds* that scene simulation places in
rooms. Clips live on disk; :meth:`Corpus.load` returns a clip as mono float32 at the sample
rate asked for, peak-normalised to 1.0 (scene code sets levels itself).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..audio import AudioError, read_audio

__all__ = ["ClipRef", "Corpus", "slugify"]

_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def slugify(text: str) -> str:
    """Filesystem-safe form of one path component: runs of other characters become ``_``.

    ``"Dog bark/ü"`` -> ``"Dog_bark_"``; an empty result (or ``"."``/``".."``) becomes ``"_"``.
    """
    s = _SLUG_BAD.sub("_", str(text).strip())
    return "_" if s in ("", ".", "..") else s


@dataclass(frozen=True)
class ClipRef:
    """One source clip.

    ``clip_id``: unique within its corpus, stable across runs and filesystem-safe
    (components joined by ``/``, e.g. ``"piano/piano_003"``). ``label``: class name.
    ``path``: the audio file.
    """

    clip_id: str
    label: str
    path: Path


class _ByteLRU:
    """A small thread-safe LRU of arrays bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._d: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: tuple, value: np.ndarray) -> None:
        if value.nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._d:
                return
            self._d[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._d.popitem(last=False)
                self._bytes -= old.nbytes


class Corpus:
    """A labelled set of source clips on disk.

    Attributes: ``name`` (e.g. ``"builtin"`` or the folder name), ``root`` (folder the clips
    live under), ``class_names`` (sorted tuple), ``clips`` (tuple of :class:`ClipRef`
    sorted by ``clip_id``), ``info`` (free-form dict, e.g. the manifest of the built-in corpus).

    Decoded clips are kept in a per-corpus LRU cache (``cache_bytes``, default 64 MB) so
    repeated :meth:`load` calls in a scene generator do not re-read files; callers always
    get a fresh copy they may modify.
    """

    def __init__(
        self,
        name: str,
        clips: Iterable[ClipRef],
        *,
        root: Path | None = None,
        info: dict | None = None,
        cache_bytes: int = 64 << 20,
    ) -> None:
        clips = tuple(sorted(clips, key=lambda c: c.clip_id))
        if not clips:
            raise ValueError(f"corpus {name!r} has no clips")
        ids = [c.clip_id for c in clips]
        dup = next((a for a, b in zip(ids, ids[1:]) if a == b), None)
        if dup is not None:
            raise ValueError(f"corpus {name!r}: duplicate clip_id {dup!r}")
        self.name = name
        self.root = root
        self.clips: tuple[ClipRef, ...] = clips
        self.class_names: tuple[str, ...] = tuple(sorted({c.label for c in clips}))
        self.info: dict = dict(info or {})
        self._index = {c.clip_id: c for c in clips}
        self._cache = _ByteLRU(cache_bytes)

    # -- container protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[ClipRef]:
        return iter(self.clips)

    def __getitem__(self, clip_id: str) -> ClipRef:
        try:
            return self._index[clip_id]
        except KeyError:
            raise KeyError(f"corpus {self.name!r} has no clip {clip_id!r}") from None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, classes={len(self.class_names)}, "
            f"clips={len(self.clips)}, root={str(self.root)!r})"
        )

    # -- API ----------------------------------------------------------------------------
    def by_class(self) -> dict[str, list[ClipRef]]:
        """``{class_name: [clips sorted by clip_id]}`` for every class, keys sorted."""
        out: dict[str, list[ClipRef]] = {c: [] for c in self.class_names}
        for clip in self.clips:
            out[clip.label].append(clip)
        return out

    def label_index(self, label: str) -> int:
        """Position of ``label`` in :attr:`class_names` (ValueError if unknown)."""
        try:
            return self.class_names.index(label)
        except ValueError:
            raise ValueError(
                f"unknown class {label!r}; corpus {self.name!r} has: {', '.join(self.class_names)}"
            ) from None

    def subset(self, classes: Sequence[str]) -> "Corpus":
        """A corpus with only the clips of ``classes`` (each must exist)."""
        for c in classes:
            self.label_index(c)
        keep = set(classes)
        return Corpus(
            self.name, [c for c in self.clips if c.label in keep], root=self.root, info=self.info
        )

    def load(self, clip: ClipRef | str, fs: int) -> np.ndarray:
        """Clip audio as mono float32 ``(N,)`` at ``fs`` Hz, peak-normalised to 1.0.

        Multichannel files are averaged to mono (if that cancels out, the first channel is
        used). Resampling uses soxr. Heavily clipped files are accepted (clipping does not
        hurt localization); missing, corrupt, empty, non-finite or silent ones raise
        :class:`~soundloc.audio.AudioError` naming the file.
        """
        if isinstance(clip, str):
            clip = self[clip]
        if not float(fs).is_integer() or fs <= 0:
            raise ValueError(f"fs must be a positive integer sample rate, got {fs!r}")
        key = (str(clip.path), int(fs))
        cached = self._cache.get(key)
        if cached is None:
            x, _ = read_audio(clip.path, fs=int(fs), max_clipped_fraction=None)
            mono = x.mean(axis=0)
            peak = float(np.max(np.abs(mono)))
            if peak < 1e-6:  # channels cancel (e.g. phase-inverted stereo)
                mono = x[0]
                peak = float(np.max(np.abs(mono)))
                if peak < 1e-6:
                    raise AudioError(f"{clip.path}: first channel is silent after downmix")
            cached = (mono / peak).astype(np.float32)
            cached.setflags(write=False)
            self._cache.put(key, cached)
        return cached.copy()
