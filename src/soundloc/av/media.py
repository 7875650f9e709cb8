"""Frames and audio clips from files, as the audio-visual datasets and ``av-localize`` feed them to a model.

* :func:`read_frame`: an image file (JPEG, PNG, anything Pillow decodes) -> ``(3, size, size)`` uint8 RGB,
  resized to a square with bicubic interpolation (the official Flickr-SoundNet / VGG-SS test transform resizes
  to 224 x 224 without keeping the aspect ratio, which is also what their box scales assume).
* :func:`read_clip`: an audio file (WAV, FLAC, and MP3 / OGG where libsndfile reads them) -> ``(N,)`` float32
  mono at ``fs`` (channels averaged, resampled with :func:`soundloc.audio.read_audio`), ``duration`` seconds
  from the middle of the file; a shorter file is repeated (the EZ-VSL / SLAVC recipe: centred 3 s crop).

Every problem is a one-line ``ValueError`` naming the file (:class:`~soundloc.audio.AudioError` for audio).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
from numpy.typing import NDArray

from soundloc.audio import AudioError, read_audio

__all__ = ["IMAGE_SUFFIXES", "AUDIO_SUFFIXES", "clip_samples", "read_clip", "read_frame"]

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
"""Frame file suffixes the folder datasets look for, in this order."""

AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg")
"""Audio file suffixes the folder datasets look for, in this order."""


def read_frame(path: str | os.PathLike[str], size: int) -> NDArray[np.uint8]:
    """Image ``path`` as ``(3, size, size)`` uint8 RGB (bicubic resize to a square; grey / palette / alpha
    images converted to RGB). ``ValueError`` for a missing, unreadable or non-image file."""
    from PIL import Image, UnidentifiedImageError

    if not 8 <= int(size) <= 4096:
        raise ValueError(f"frame size must be 8-4096 pixels, got {size!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                rgb = im.convert("RGB").resize((int(size), int(size)), Image.Resampling.BICUBIC)
    except FileNotFoundError:
        raise ValueError(f"frame '{path}' does not exist") from None
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise ValueError(f"frame '{path}' is not a readable image ({str(e).splitlines()[0]})") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated / corrupt files
        raise ValueError(f"frame '{path}' cannot be decoded ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))


def clip_samples(duration: float, fs: int) -> int:
    """Samples of a ``duration`` s clip at ``fs`` Hz (``ValueError`` unless duration is in (0, 60] s)."""
    if not (math.isfinite(duration) and 0 < duration <= 60):
        raise ValueError(f"clip duration must be in (0, 60] s, got {duration!r}")
    return max(1, int(round(duration * fs)))


def read_clip(path: str | os.PathLike[str], *, fs: int, duration: float) -> NDArray[np.float32]:
    """``duration`` s of mono audio ``(N,)`` float32 at ``fs`` Hz from the middle of file ``path`` (start
    ``(len - N) // 2``); a file shorter than ``N`` samples is tiled from its start and cut to ``N``. Silent
    files are accepted (negatives may be silent); clipping is not checked (web videos often clip).
    :class:`~soundloc.audio.AudioError` for missing, corrupt, empty or non-finite audio."""
    n = clip_samples(duration, fs)
    x, _ = read_audio(path, fs=fs, allow_silent=True, max_clipped_fraction=None)
    mono = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    if mono.size == 0:
        raise AudioError(f"{path}: has no samples")
    if mono.size >= n:
        start = (mono.size - n) // 2
        return np.ascontiguousarray(mono[start:start + n])
    return np.tile(mono, n // mono.size + 1)[:n]
