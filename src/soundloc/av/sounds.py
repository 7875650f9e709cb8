"""Spoken digits for the synthetic audio-visual benchmark: every digit said by many eSpeak NG voices.

Voice ``v`` is one speaker: an English eSpeak variant (female and male variants of the built-in
corpus, in British then American English) with its own rate, pitch and pitch range drawn from
``default_rng([seed, v])``; it says all ten digit words. Utterances are rendered with
:func:`soundloc.corpus.speech.synthesize` (one fresh process each, so the output depends only on
the recipe), resampled to :data:`AV_FS`, trimmed at -40 dB re peak and peak-normalised to 0.9.

The bank is cached on disk as one ``.npz`` (written atomically) named by a hash of every parameter
and the eSpeak version, under ``cache_dir`` (default: the corpus cache, ``$SOUNDLOC_CACHE`` or
``~/.cache/soundloc``).
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..audio import resample
from ..corpus.builtin import default_cache_dir
from ..corpus.recipes import FEMALE_VARIANTS, MALE_VARIANTS
from ..corpus.speech import SpeechRecipe, espeak_version, synthesize
from ..fileio import atomic_path

__all__ = ["AV_FS", "DIGIT_WORDS", "DigitSpeechBank", "digit_recipe", "digit_speech_bank"]

AV_FS = 16000
"""Sample rate of the benchmark's audio (Hz)."""

DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""The spoken word of each digit class (index = digit)."""

BANK_VERSION = 1
_VARIANTS: tuple[str, ...] = tuple(v for pair in zip(FEMALE_VARIANTS, MALE_VARIANTS) for v in pair) + MALE_VARIANTS[
    len(FEMALE_VARIANTS):]
_LANGS = ("en", "en-us")
_TRIM_DB = -40.0


def digit_recipe(digit: int, voice: int, seed: int = 0) -> SpeechRecipe:
    """The eSpeak recipe of voice ``voice`` (>= 0) saying ``digit`` (0-9)."""
    if not 0 <= digit <= 9:
        raise ValueError(f"digit must be 0-9, got {digit!r}")
    if voice < 0:
        raise ValueError(f"voice must be >= 0, got {voice!r}")
    rng = np.random.default_rng([seed, voice])
    variant = _VARIANTS[voice % len(_VARIANTS)]
    lang = _LANGS[(voice // len(_VARIANTS)) % len(_LANGS)]
    return SpeechRecipe(text=DIGIT_WORDS[digit], voice=f"{lang}+{variant}", rate=int(rng.integers(120, 230)),
                        pitch=int(rng.integers(20, 80)), range=int(rng.integers(20, 90)),
                        seed=int(rng.integers(0, 2**31 - 1)))


def _render(recipe: SpeechRecipe) -> NDArray[np.float32]:
    x, fs = synthesize(recipe)
    x = resample(np.asarray(x, np.float32), fs, AV_FS).astype(np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak < 1e-4:
        raise RuntimeError(f"eSpeak produced silence for {recipe!r}")
    active = np.flatnonzero(np.abs(x) > peak * 10 ** (_TRIM_DB / 20))
    x = x[active[0] : active[-1] + 1]
    fade = min(x.size // 4, int(0.005 * AV_FS))
    if fade:
        ramp = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
    return (x * (0.9 / peak)).astype(np.float32)


@dataclass(frozen=True)
class DigitSpeechBank:
    """``n_voices`` voices x 10 digits of mono float32 audio at :data:`AV_FS`.
    ``get(digit, voice)`` returns ``(N,)``; ``path`` is the cache file."""

    n_voices: int
    seed: int
    audio: NDArray[np.float32]
    offsets: NDArray[np.int64]
    path: Path

    def get(self, digit: int, voice: int) -> NDArray[np.float32]:
        if not (0 <= digit <= 9 and 0 <= voice < self.n_voices):
            raise ValueError(f"no utterance for digit {digit}, voice {voice} (bank has {self.n_voices} voices)")
        k = digit * self.n_voices + voice
        return self.audio[self.offsets[k] : self.offsets[k + 1]]


_MEMO: dict[tuple[str, int, int], DigitSpeechBank] = {}


def digit_speech_bank(*, n_voices: int = 16, seed: int = 0, cache_dir: str | Path | None = None,
                      workers: int | None = None) -> DigitSpeechBank:
    """The spoken-digit bank, rendered on first use (about 70 ms of eSpeak per utterance, ``workers``
    processes at a time) and cached on disk; later calls load the file."""
    if isinstance(n_voices, bool) or not isinstance(n_voices, int) or n_voices < 1:
        raise ValueError(f"n_voices must be a positive integer, got {n_voices!r}")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    params = {"version": BANK_VERSION, "fs": AV_FS, "n_voices": n_voices, "seed": seed, "espeak": espeak_version(),
              "words": list(DIGIT_WORDS), "variants": list(_VARIANTS), "langs": list(_LANGS), "trim_db": _TRIM_DB}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    path = root / f"avdigits-v{BANK_VERSION}-{n_voices}v-seed{seed}-{digest}.npz"
    key = (str(path.resolve()), n_voices, seed)
    if key in _MEMO and path.is_file():
        return _MEMO[key]
    audio = offsets = None
    if path.is_file():
        try:
            with np.load(path) as z:
                if json.loads(str(z["params"])) == params:
                    audio, offsets = z["audio"].astype(np.float32), z["offsets"].astype(np.int64)
        except (OSError, ValueError, KeyError):
            audio = offsets = None  # a damaged cache file is rebuilt
    if audio is None or offsets is None:
        recipes = [digit_recipe(d, v, seed) for d in range(10) for v in range(n_voices)]
        n_workers = workers or max(1, min(4, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=n_workers) as pool:
            clips = list(pool.map(_render, recipes))
        offsets = np.r_[0, np.cumsum([c.size for c in clips])].astype(np.int64)
        audio = np.concatenate(clips).astype(np.float32)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, audio=audio, offsets=offsets, params=np.array(json.dumps(params, sort_keys=True)))
    bank = DigitSpeechBank(n_voices=n_voices, seed=seed, audio=audio, offsets=offsets, path=path)
    _MEMO[key] = bank
    return bank
