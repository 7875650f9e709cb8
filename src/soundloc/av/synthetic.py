"""The built-in offline audio-visual benchmark: spoken digits and the digits on screen.

Each sample is a frame (a textured background with one to four digit glyphs drawn from matplotlib's
fonts, with scale, rotation, shear, colour and position jitter) and one second of audio (digit words
spoken by eSpeak NG voices, see :mod:`soundloc.av.sounds`). A digit on screen is *sounding* when its
word is heard; the benchmark knows every object's exact mask and box.

Kinds (:data:`KINDS`):

* ``single``: one sounding digit on screen, plus 0..``max_distractors`` silent digits of other classes;
* ``double``: two different sounding digits on screen (their words overlap in time), plus distractors;
* ``offscreen``: a digit is heard but is not on screen; 1..``max_distractors`` silent digits are;
* ``silent``: near-silent audio (white noise at about -70 dBFS); 1..``max_distractors`` silent digits;
* ``noise``: noise only (white, pink or brown); 1..``max_distractors`` silent digits.

Speech is mixed with background noise at an SNR drawn from ``snr_db``. Only ``single`` and ``double``
have sounding objects on screen (positives); the other kinds are the negatives of the detection
metrics (:mod:`soundloc.metrics.av`).

Determinism: a sample is a pure function of ``(config, split, index)``: its random generator is
``default_rng([seed, split id, index])``. The kinds follow ``kind_shares`` exactly in every block of
100 consecutive indices (a permutation drawn from ``default_rng([seed, split id, block, 1])``).
Splits ``train`` / ``val`` / ``test`` use disjoint voices (voice ``v`` with ``v % 8 == 7`` is test,
``== 6`` is val) and disjoint fonts (font ``i`` with ``i % 7 == 6`` is test, ``== 5`` is val), so the
validation and test sets measure generalisation to unseen speakers and typefaces.

Units and layout: frames ``(3, H, W)`` (stored as uint8; float frames are ``uint8 / 255``), audio
``(N,)`` float32 at :data:`~soundloc.av.sounds.AV_FS` on the int16 grid (``q / 32768``), boxes
``[xmin, ymin, xmax, ymax]`` in pixels with exclusive ends (the object covers
``frame[:, ymin:ymax, xmin:xmax]``; rows are image y, downwards), tight around the object's mask.

Cache: shards of :data:`SHARD_SIZE` samples in ``<cache_dir>/avbench-v<version>-<hash>/<split>/``,
each one ``.npz`` written atomically; the hash covers the configuration and the speech bank.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..corpus.builtin import default_cache_dir
from ..fileio import atomic_path
from .dataset import AVDataset, RecordLike, collate_av
from .glyphs import DIGIT_FONTS, render_digit
from .sounds import AV_FS, DIGIT_WORDS, DigitSpeechBank, digit_speech_bank
from .textures import random_texture

__all__ = ["KINDS", "SHARD_SIZE", "SPLITS", "AVBenchConfig", "AVSample", "SyntheticAVDataset", "collate_av",
           "make_sample"]

KINDS: tuple[str, ...] = ("single", "double", "offscreen", "silent", "noise")
"""Sample kinds; the first two have sounding objects on screen."""

SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2}
"""Split names and their ids in the random seeds."""

SHARD_SIZE = 256
"""Samples per cache file."""

GENERATOR_VERSION = 1
"""Bump when generation changes, so old caches are not reused."""

_BLOCK = 100
_SILENT_RMS = 3e-4


@dataclass(frozen=True)
class AVBenchConfig:
    """Parameters of the benchmark.

    ``image_size`` frame side (pixels); ``duration`` audio length (s); ``n_voices`` eSpeak speakers in the
    speech bank (>= 8, split between train/val/test); ``kind_shares`` the share of each kind of
    :data:`KINDS` (sums to 1; exact in each block of 100 samples); ``max_distractors`` silent digits on
    screen at most; ``digit_height`` glyph height as a fraction of ``image_size`` (before rotation);
    ``max_rotation_deg`` rotation range (±); ``snr_db`` speech-to-noise ratio range (dB);
    ``sizes`` samples in train, val, test; ``seed`` the benchmark's seed.
    """

    image_size: int = 128
    duration: float = 1.0
    n_voices: int = 16
    kind_shares: tuple[float, float, float, float, float] = (0.5, 0.15, 0.15, 0.1, 0.1)
    max_distractors: int = 2
    digit_height: tuple[float, float] = (0.25, 0.45)
    max_rotation_deg: float = 20.0
    snr_db: tuple[float, float] = (10.0, 30.0)
    sizes: tuple[int, int, int] = (8000, 1000, 1000)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 32 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be 32-1024 pixels, got {self.image_size!r}")
        if not 0.25 <= self.duration <= 10:
            raise ValueError(f"duration must be 0.25-10 s, got {self.duration!r}")
        if self.n_voices < 8:
            raise ValueError(f"n_voices must be at least 8 (voices are split between train/val/test), got {self.n_voices!r}")
        if len(self.kind_shares) != len(KINDS) or min(self.kind_shares) < 0 or abs(sum(self.kind_shares) - 1) > 1e-9:
            raise ValueError(f"kind_shares must be {len(KINDS)} non-negative shares summing to 1, got {self.kind_shares!r}")
        if not 0 <= self.max_distractors <= 3:
            raise ValueError(f"max_distractors must be 0-3, got {self.max_distractors!r}")
        lo, hi = self.digit_height
        if not 0.05 <= lo <= hi <= 0.6:
            raise ValueError(f"digit_height must be 0.05 <= lo <= hi <= 0.6, got {self.digit_height!r}")
        if self.snr_db[0] > self.snr_db[1]:
            raise ValueError(f"snr_db must be (low, high), got {self.snr_db!r}")
        if len(self.sizes) != 3 or min(self.sizes) < 0:
            raise ValueError(f"sizes must be three non-negative counts (train, val, test), got {self.sizes!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed!r}")

    @property
    def n_samples(self) -> int:
        """Audio samples per clip."""
        return int(round(self.duration * AV_FS))

    def size(self, split: str) -> int:
        """Number of samples in ``split``."""
        return self.sizes[_split_id(split)]

    def kind_counts(self) -> NDArray[np.int64]:
        """Samples of each kind in a block of 100 (largest remainder rounding of ``kind_shares``)."""
        from soundloc.scenes.plan import largest_remainder

        return np.asarray(largest_remainder(_BLOCK, list(self.kind_shares)), dtype=np.int64)


def _split_id(split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    return SPLITS[split]


def split_voices(split: str, n_voices: int) -> list[int]:
    """Voices (speech-bank indices) used by ``split``."""
    sid = _split_id(split)
    return [v for v in range(n_voices) if {7: 2, 6: 1}.get(v % 8, 0) == sid]


def split_fonts(split: str) -> list[str]:
    """Fonts used by ``split``."""
    sid = _split_id(split)
    return [f for i, f in enumerate(DIGIT_FONTS) if {6: 2, 5: 1}.get(i % 7, 0) == sid]


@dataclass(frozen=True)
class AVSample:
    """One benchmark sample (numpy).

    ``frame`` ``(3, H, W)`` uint8; ``audio`` ``(N,)`` float32; ``object_map`` ``(H, W)`` uint8 (0 =
    background, ``i + 1`` = object ``i``); per object ``object_digits`` ``(M,)``, ``object_boxes``
    ``(M, 4)`` (pixels, exclusive ends), ``object_sounding`` ``(M,)`` bool; ``spoken`` ``(S,)`` the digits
    heard (on screen or not).
    """

    split: str
    index: int
    kind: str
    frame: NDArray[np.uint8] = field(repr=False)
    audio: NDArray[np.float32] = field(repr=False)
    object_map: NDArray[np.uint8] = field(repr=False)
    object_digits: NDArray[np.int64]
    object_boxes: NDArray[np.int64]
    object_sounding: NDArray[np.bool_]
    spoken: NDArray[np.int64]

    @property
    def boxes(self) -> NDArray[np.int64]:
        """Boxes ``(K, 4)`` of the sounding objects on screen (K = 0 for negatives)."""
        return self.object_boxes[self.object_sounding]

    @property
    def labels(self) -> NDArray[np.int64]:
        """Digits ``(K,)`` of the sounding objects on screen."""
        return self.object_digits[self.object_sounding]

    @property
    def mask(self) -> NDArray[np.bool_]:
        """``(H, W)`` True on the pixels of sounding objects."""
        ids = np.flatnonzero(self.object_sounding) + 1
        out: NDArray[np.bool_] = np.isin(self.object_map, ids)
        return out

    @property
    def label(self) -> str:
        """The digit words heard, joined by ``+`` (``""`` for silent and noise-only clips)."""
        return "+".join(DIGIT_WORDS[int(d)] for d in self.spoken)

    @property
    def id(self) -> str:
        """``<split>-<index>``, e.g. ``test-000042``."""
        return f"{self.split}-{self.index:06d}"


# ---------------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------------


def _kind(config: AVBenchConfig, split: str, index: int) -> str:
    block, pos = divmod(index, _BLOCK)
    rng = np.random.default_rng([config.seed, _split_id(split), block, 1])
    order = rng.permutation(np.repeat(np.arange(len(KINDS)), config.kind_counts()))
    return KINDS[int(order[pos])]


def _luminance(c: NDArray[np.float64]) -> float:
    return float(c @ np.array([0.299, 0.587, 0.114]))


def _object_colour(rng: np.random.Generator, bg: NDArray[np.float64]) -> NDArray[np.float64]:
    """A colour whose luminance differs from the background's by at least 0.3."""
    lb = _luminance(bg)
    target = rng.uniform(0.0, lb - 0.3) if lb > 0.5 else rng.uniform(lb + 0.3, 1.0)
    c = rng.uniform(0.0, 1.0, size=3)
    c = np.clip(c + (target - _luminance(c)), 0.0, 1.0)
    return c


def _place(rng: np.random.Generator, size: int, h: int, w: int, taken: list[NDArray[np.int64]]) -> NDArray[np.int64] | None:
    for _ in range(60):
        y0 = int(rng.integers(1, size - h)) if size - h > 1 else 0
        x0 = int(rng.integers(1, size - w)) if size - w > 1 else 0
        box = np.array([x0, y0, x0 + w, y0 + h], dtype=np.int64)
        if all(box[0] >= t[2] + 2 or t[0] >= box[2] + 2 or box[1] >= t[3] + 2 or t[1] >= box[3] + 2 for t in taken):
            return box
    return None


def _noise(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Unit-RMS white, pink or brown noise ``(n,)``."""
    colour = int(rng.integers(0, 3))
    x = rng.normal(size=n)
    if colour:
        spec = np.fft.rfft(x)
        f = np.arange(spec.size, dtype=np.float64)
        f[0] = 1.0
        x = np.fft.irfft(spec / f ** (0.5 * colour), n)
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def make_sample(config: AVBenchConfig, split: str, index: int, bank: DigitSpeechBank) -> AVSample:
    """Sample ``index`` of ``split``: a pure function of ``(config, split, index)`` and the speech bank."""
    if not 0 <= index < config.size(split):
        raise ValueError(f"index {index} out of range for split {split!r} of {config.size(split)} samples")
    if bank.n_voices != config.n_voices or bank.seed != config.seed:
        raise ValueError(f"speech bank ({bank.n_voices} voices, seed {bank.seed}) does not match the config "
                         f"({config.n_voices} voices, seed {config.seed})")
    kind = _kind(config, split, index)
    rng = np.random.default_rng([config.seed, _split_id(split), index])
    size = config.image_size
    fonts, voices = split_fonts(split), split_voices(split, config.n_voices)

    n_spoken = {"single": 1, "double": 2, "offscreen": 1}.get(kind, 0)
    perm = rng.permutation(10)
    spoken = perm[:n_spoken].astype(np.int64)
    if kind in ("single", "double"):
        n_distract = int(rng.integers(0, config.max_distractors + 1))
    else:
        n_distract = int(rng.integers(1, max(config.max_distractors, 1) + 1))
    on_screen = [(int(d), True) for d in spoken] if kind in ("single", "double") else []
    on_screen += [(int(d), False) for d in perm[n_spoken : n_spoken + n_distract]]

    # --- picture
    img = random_texture(rng, size, size).astype(np.float64)
    object_map = np.zeros((size, size), dtype=np.uint8)
    digits: list[int] = []
    boxes: list[NDArray[np.int64]] = []
    sounding: list[bool] = []
    for digit, is_sounding in on_screen:
        height = rng.uniform(*config.digit_height) * size
        font = fonts[int(rng.integers(len(fonts)))]
        angle = rng.uniform(-config.max_rotation_deg, config.max_rotation_deg)
        shear, aspect = rng.uniform(-0.2, 0.2), rng.uniform(0.8, 1.25)
        box = None
        for _ in range(8 if is_sounding else 4):  # a sounding digit shrinks further before it is given up
            glyph = render_digit(digit, font, height=max(int(height), 6), angle_deg=angle, shear=shear, aspect=aspect)
            gh, gw = glyph.shape
            if gh < size - 2 and gw < size - 2:
                box = _place(rng, size, gh, gw, boxes)
            if box is not None:
                break
            height *= 0.75
        if box is None:
            if is_sounding:  # pragma: no cover - sounding digits are placed first and may shrink to 0.13 x their height
                raise RuntimeError(f"cannot place a sounding digit in sample {index} of {split!r}")
            continue
        x0, y0, x1, y1 = (int(v) for v in box)
        region = img[y0:y1, x0:x1]
        colour = _object_colour(rng, region.reshape(-1, 3).mean(axis=0))
        shade = 0.85 + 0.3 * np.linspace(0, 1, gw)[None, :, None] * rng.uniform(0, 1)
        region[glyph] = np.broadcast_to(np.clip(colour * shade, 0, 1), (gh, gw, 3))[glyph]
        object_map[y0:y1, x0:x1][glyph] = len(digits) + 1
        digits.append(digit)
        boxes.append(box)
        sounding.append(is_sounding)
    frame = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8).transpose(2, 0, 1).copy()

    # --- sound
    n = config.n_samples
    audio = np.zeros(n)
    if n_spoken:
        for d in spoken:
            voice = voices[int(rng.integers(len(voices)))]
            utt = bank.get(int(d), voice).astype(np.float64)
            gain = 10 ** (rng.uniform(-3, 3) / 20) / max(float(np.sqrt(np.mean(utt**2))), 1e-9) * 0.1
            if utt.size >= n:
                start = int(rng.integers(0, utt.size - n + 1))
                audio += gain * utt[start : start + n]
            else:
                onset = int(rng.integers(0, n - utt.size + 1))
                audio[onset : onset + utt.size] += gain * utt
        speech_rms = float(np.sqrt(np.mean(audio**2)))
        audio += _noise(rng, n) * speech_rms * 10 ** (-rng.uniform(*config.snr_db) / 20)
    elif kind == "noise":
        audio = _noise(rng, n) * 10 ** (rng.uniform(-30, -12) / 20)
    else:  # silent
        audio = rng.normal(size=n) * _SILENT_RMS
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:
        audio *= 0.99 / peak
    audio_q = (np.clip(np.round(audio * 32768), -32768, 32767) / 32768).astype(np.float32)

    return AVSample(
        split=split, index=index, kind=kind, frame=frame, audio=audio_q, object_map=object_map,
        object_digits=np.asarray(digits, dtype=np.int64), object_boxes=np.asarray(boxes, dtype=np.int64).reshape(-1, 4),
        object_sounding=np.asarray(sounding, dtype=bool), spoken=spoken)


# ---------------------------------------------------------------------------------------------------
# cache and dataset
# ---------------------------------------------------------------------------------------------------


def _pack(samples: list[AVSample]) -> dict[str, NDArray[Any]]:
    obj_sample = np.concatenate([np.full(s.object_digits.size, i) for i, s in enumerate(samples)]).astype(np.int64)
    sp_sample = np.concatenate([np.full(s.spoken.size, i) for i, s in enumerate(samples)]).astype(np.int64)
    return {
        "frames": np.stack([s.frame for s in samples]),
        "audio": np.stack([np.round(s.audio * 32768).astype(np.int16) for s in samples]),
        "object_maps": np.stack([s.object_map for s in samples]),
        "kinds": np.array([KINDS.index(s.kind) for s in samples], dtype=np.int8),
        "obj_sample": obj_sample,
        "obj_digit": np.concatenate([s.object_digits for s in samples]).astype(np.int64),
        "obj_box": np.concatenate([s.object_boxes for s in samples]).astype(np.int64).reshape(-1, 4),
        "obj_sounding": np.concatenate([s.object_sounding for s in samples]).astype(bool),
        "sp_sample": sp_sample,
        "sp_digit": np.concatenate([s.spoken for s in samples]).astype(np.int64),
    }


def _unpack(z: dict[str, NDArray[Any]], split: str, start: int) -> list[AVSample]:
    out = []
    for i in range(z["frames"].shape[0]):
        o, s = z["obj_sample"] == i, z["sp_sample"] == i
        out.append(AVSample(
            split=split, index=start + i, kind=KINDS[int(z["kinds"][i])], frame=z["frames"][i],
            audio=(z["audio"][i].astype(np.float32) / 32768).astype(np.float32), object_map=z["object_maps"][i],
            object_digits=z["obj_digit"][o], object_boxes=z["obj_box"][o].reshape(-1, 4),
            object_sounding=z["obj_sounding"][o], spoken=z["sp_digit"][s]))
    return out


class SyntheticAVDataset(AVDataset):
    """The built-in benchmark's ``split`` as an :class:`~soundloc.av.dataset.AVDataset`.

    ``dataset[i]`` is the interface's dict: ``frame`` ``(3, H, W)`` float32 in [0, 1]; ``audio`` ``(N,)`` float32
    at :data:`~soundloc.av.sounds.AV_FS`; ``boxes`` ``(K, 4)`` int64 of the sounding objects on screen
    (pixels, exclusive ends); ``labels`` ``(K,)`` their digits; ``gt_map`` the binary union of the boxes
    (``box_format`` ``vggss``, what the evaluation scores); ``mask`` ``(H, W)`` bool (the exact sounding-object
    pixels); ``kind`` (str, see :data:`KINDS`), ``label`` (digit words heard), ``id``, ``index``, ``annotated``
    (True). Batch with :func:`collate_av`. :meth:`sample` returns the full :class:`AVSample` (all objects,
    the digits heard). ``class_names`` are the ten digit words.

    ``cache=True`` keeps generated shards on disk under ``cache_dir`` (default: the corpus cache),
    ``cache=False`` generates every sample on the fly (same values). The speech bank is rendered (or
    loaded) at construction.
    """

    class_names = DIGIT_WORDS

    def __init__(self, split: str = "train", config: AVBenchConfig | None = None, *, cache: bool = True,
                 cache_dir: str | Path | None = None) -> None:
        self.config = config or AVBenchConfig()
        self.split = split
        _split_id(split)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.bank = digit_speech_bank(n_voices=self.config.n_voices, seed=self.config.seed, cache_dir=root)
        key = {"version": GENERATOR_VERSION, "config": asdict(self.config), "bank": self.bank.path.name,
               "fonts": list(DIGIT_FONTS), "shard": SHARD_SIZE}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        self.cache_folder: Path | None = root / f"avbench-v{GENERATOR_VERSION}-{digest}" / split if cache else None
        self._shards: OrderedDict[int, list[AVSample]] = OrderedDict()

    def __len__(self) -> int:
        return self.config.size(self.split)

    def _shard(self, k: int) -> list[AVSample]:
        if k in self._shards:
            self._shards.move_to_end(k)
            return self._shards[k]
        start, stop = k * SHARD_SIZE, min((k + 1) * SHARD_SIZE, len(self))
        path = Path(str(self.cache_folder)) / f"shard_{k:05d}.npz"
        samples = None
        if path.is_file():
            try:
                with np.load(path) as z:
                    samples = _unpack({name: z[name] for name in z.files}, self.split, start)
                if len(samples) != stop - start:
                    samples = None
            except (OSError, ValueError, KeyError):
                samples = None  # a damaged shard is generated again
        if samples is None:
            samples = [make_sample(self.config, self.split, i, self.bank) for i in range(start, stop)]
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez_compressed(f, **_pack(samples))  # type: ignore[arg-type]
        self._shards[k] = samples
        while len(self._shards) > 2:
            self._shards.popitem(last=False)
        return samples

    def sample(self, index: int) -> AVSample:
        """The full :class:`AVSample` ``index`` (negative indices count from the end)."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        index %= n
        if self.cache_folder is None:
            return make_sample(self.config, self.split, index, self.bank)
        return self._shard(index // SHARD_SIZE)[index % SHARD_SIZE]

    def mask(self, record: RecordLike, gt_map: NDArray[np.float32]) -> NDArray[np.bool_]:
        """The exact pixels of the sounding objects (not their boxes)."""
        if isinstance(record, AVSample):
            return record.mask
        return super().mask(record, gt_map)
