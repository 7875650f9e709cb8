"""The built-in offline corpus: sampled instruments, sound effects and synthetic speech.

Nothing is downloaded. Instruments and effects are rendered from the General MIDI SoundFont
that pretty_midi ships (via TinySoundFont), speech with eSpeak NG (via espeakng-loader).
Clips are mono FLAC (PCM_24) at :data:`CORPUS_FS` = 32 kHz, 0.5-3 s long, with leading and
trailing silence trimmed (below -50 dB re peak), 2/10 ms fades and peak 0.9.

Each clip is a pure function of ``(seed, class name, index)``: the recipe is drawn from
``numpy.random.default_rng([seed, crc32(class), index])``; a render that comes out silent,
non-finite or shorter than 0.5 s is re-drawn from the same stream.

Cache: ``<cache_dir>/builtin-v<version>-seed<seed>-<hash>/`` where ``cache_dir`` defaults to
``$SOUNDLOC_CACHE`` or ``~/.cache/soundloc`` and the hash covers every parameter (classes,
clips per class, sample rate, SoundFont file, eSpeak version). Inside: ``<class>/<class>_NNN.flac``
(each written atomically), ``<class>/_class.json`` (written after the class's clips) and
``manifest.json`` (written last). A folder without a valid manifest is a partial cache:
classes whose ``_class.json`` and files are intact are kept, the others are rendered again.
A lock file serialises builders in concurrent processes (POSIX).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..audio import resample, write_audio
from ..fileio import write_json_atomic
from .base import ClipRef, Corpus
from .gm import GMRecipe, GMRenderer, soundfont_path
from .recipes import BUILTIN_CLASSES, DEFAULT_CLASSES, Recipe
from .speech import SpeechRecipe, espeak_version, synthesize

__all__ = [
    "CORPUS_FS",
    "CORPUS_VERSION",
    "RENDER_COUNTER",
    "builtin_corpus",
    "default_cache_dir",
    "render_clip",
]

CORPUS_VERSION = 2
"""Bump when rendering changes, so old caches are not reused."""
CORPUS_FS = 32000
MIN_DURATION = 0.5
MAX_DURATION = 3.0
TRIM_DB = -50.0
PEAK = 0.9
MAX_ATTEMPTS = 10

RENDER_COUNTER: Counter = Counter()
"""Clips rendered in this process, per class (tests use it to check cache reuse)."""

_MEMO: dict[tuple, Corpus] = {}
_MEMO_LOCK = threading.Lock()


def default_cache_dir() -> Path:
    """``$SOUNDLOC_CACHE`` if set, else ``$XDG_CACHE_HOME/soundloc`` or ``~/.cache/soundloc``."""
    env = os.environ.get("SOUNDLOC_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "soundloc"


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------


class _Renderers:
    """Lazily created synthesiser(s) for one build."""

    def __init__(self) -> None:
        self._gm: GMRenderer | None = None

    def render(self, recipe: Recipe) -> tuple[np.ndarray, int]:
        if isinstance(recipe, GMRecipe):
            if self._gm is None:
                self._gm = GMRenderer(CORPUS_FS)
            return self._gm.render(recipe), CORPUS_FS
        if isinstance(recipe, SpeechRecipe):
            return synthesize(recipe)
        raise TypeError(f"unknown recipe type {type(recipe).__name__}")  # pragma: no cover


def _finish(x: np.ndarray, fs: int) -> np.ndarray | None:
    """Resample to CORPUS_FS, trim, cap at MAX_DURATION, fade, normalise; None = re-draw."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0 or not np.isfinite(x).all():
        return None
    peak = float(np.max(np.abs(x)))
    if peak < 1e-4:
        return None
    if fs != CORPUS_FS:
        x = resample(x, fs, CORPUS_FS)
    fs = CORPUS_FS
    active = np.flatnonzero(np.abs(x) > peak * 10 ** (TRIM_DB / 20))
    if active.size == 0:
        return None
    pre = int(0.005 * fs)
    x = x[max(0, active[0] - pre) : active[-1] + 1]
    n_max = int(MAX_DURATION * fs)
    fade_out = int(0.010 * fs)
    if x.size > n_max:
        x = x[:n_max]
        fade_out = int(0.05 * fs)
    if x.size < int(MIN_DURATION * fs):
        return None
    x = x.copy()
    fi = int(0.002 * fs)
    x[:fi] *= np.sin(0.5 * np.pi * np.arange(fi) / fi) ** 2
    x[-fade_out:] *= np.cos(0.5 * np.pi * np.arange(1, fade_out + 1) / fade_out) ** 2
    peak = float(np.max(np.abs(x)))
    if peak < 1e-4:
        return None
    return (x * (PEAK / peak)).astype(np.float32)


def _clip_rng(seed: int, label: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(label.encode("utf-8")), int(index)])


def render_clip(label: str, index: int, seed: int = 0, *, _renderers: _Renderers | None = None
                ) -> tuple[np.ndarray, dict]:
    """Render clip ``index`` of class ``label``: ``(x (N,) float32 at CORPUS_FS, description)``.

    Deterministic in ``(label, index, seed)``. RuntimeError if ``MAX_ATTEMPTS`` draws in a row
    come out silent or too short.
    """
    if label not in BUILTIN_CLASSES:
        raise ValueError(f"unknown built-in class {label!r}; choose from {', '.join(sorted(BUILTIN_CLASSES))}")
    spec = BUILTIN_CLASSES[label]
    rng = _clip_rng(seed, label, index)
    renderers = _renderers or _Renderers()
    for attempt in range(MAX_ATTEMPTS):
        recipe = spec.draw(rng)
        raw, fs = renderers.render(recipe)
        x = _finish(raw, fs)
        if x is not None:
            RENDER_COUNTER[label] += 1
            return x, {**recipe.describe(), "attempt": attempt}
    raise RuntimeError(f"built-in class {label!r} clip {index}: {MAX_ATTEMPTS} renders in a row were silent")


# ---------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
        return obj if isinstance(obj, dict) else None
    except (OSError, ValueError):
        return None


@contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no inter-process lock
        yield
        return
    with open(folder / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _params(classes: Sequence[str], clips_per_class: int, seed: int) -> dict:
    sf2 = soundfont_path()
    return {
        "version": CORPUS_VERSION,
        "fs": CORPUS_FS,
        "classes": list(classes),
        "clips_per_class": clips_per_class,
        "seed": seed,
        "soundfont": {"name": sf2.name, "bytes": sf2.stat().st_size},
        "espeak": espeak_version(),
        "durations": [MIN_DURATION, MAX_DURATION],
        "trim_db": TRIM_DB,
        "peak": PEAK,
    }


def _class_entries_ok(folder: Path, label: str, n: int) -> list[dict] | None:
    info = _read_json(folder / label / "_class.json")
    if info is None or info.get("label") != label or len(info.get("clips", [])) != n:
        return None
    for e in info["clips"]:
        if not (folder / e["file"]).is_file():
            return None
    return info["clips"]


def _build(folder: Path, params: dict, progress: bool) -> dict:
    classes, n = params["classes"], params["clips_per_class"]
    todo = [c for c in classes if _class_entries_ok(folder, c, n) is None]
    renderers = _Renderers()
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo) * n, desc="rendering built-in corpus", unit="clip")
    t0 = time.perf_counter()
    try:
        for label in todo:
            (folder / label).mkdir(parents=True, exist_ok=True)
            entries = []
            for i in range(n):
                x, desc = render_clip(label, i, params["seed"], _renderers=renderers)
                rel = f"{label}/{label}_{i:03d}.flac"
                write_audio(folder / rel, x[None, :], CORPUS_FS, subtype="PCM_24")
                entries.append({"clip_id": f"{label}/{label}_{i:03d}", "label": label,
                                "file": rel, "samples": int(x.size), "desc": desc})
                if bar is not None:
                    bar.update(1)
            write_json_atomic(folder / label / "_class.json", {"label": label, "clips": entries}, indent=1, sort_keys=True)
    finally:
        if bar is not None:
            bar.close()
    clips = []
    for label in classes:
        done = _class_entries_ok(folder, label, n)
        if done is None:  # pragma: no cover - we just wrote it
            raise RuntimeError(f"built-in corpus cache {folder}: class {label!r} incomplete after rendering")
        clips += done
    manifest = {
        "name": "builtin",
        "params": params,
        "fs": CORPUS_FS,
        "clips": clips,
        "rendered_classes": todo,
        "render_seconds": round(time.perf_counter() - t0, 3),
    }
    write_json_atomic(folder / "manifest.json", manifest, indent=1, sort_keys=True)
    return manifest


def _manifest_ok(folder: Path, params: dict) -> dict | None:
    m = _read_json(folder / "manifest.json")
    if m is None or m.get("params") != params:
        return None
    clips = m.get("clips", [])
    if len(clips) != len(params["classes"]) * params["clips_per_class"]:
        return None
    if not all((folder / c["file"]).is_file() for c in clips):
        return None
    return m


def builtin_corpus(
    *,
    cache_dir: Path | str | None = None,
    clips_per_class: int = 8,
    seed: int = 0,
    progress: bool = False,
    classes: Sequence[str] | None = None,
) -> Corpus:
    """The built-in corpus, rendered on first use and cached on disk.

    ``classes``: names from :data:`~soundloc.corpus.recipes.BUILTIN_CLASSES` (default: the 16
    of :data:`~soundloc.corpus.recipes.DEFAULT_CLASSES`). ``clips_per_class`` clips per class,
    drawn deterministically from ``seed`` (>= 0). ``progress`` shows a tqdm bar while rendering.
    Repeated calls in one process with the same arguments return the same object (after
    checking its files still exist).
    """
    if isinstance(clips_per_class, bool) or not isinstance(clips_per_class, (int, np.integer)) or clips_per_class < 1:
        raise ValueError(f"clips_per_class must be a positive integer, got {clips_per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    names = list(DEFAULT_CLASSES if classes is None else classes)
    if not names:
        raise ValueError("classes must not be empty")
    unknown = [c for c in names if c not in BUILTIN_CLASSES]
    if unknown:
        raise ValueError(
            f"unknown built-in class(es) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(sorted(BUILTIN_CLASSES))}"
        )
    names = sorted(set(names))
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    key = (str(root.resolve()), tuple(names), int(clips_per_class), int(seed))
    with _MEMO_LOCK:
        hit = _MEMO.get(key)
        if hit is not None and all(c.path.is_file() for c in hit.clips):
            return hit
        params = _params(names, int(clips_per_class), int(seed))
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
        folder = root / f"builtin-v{CORPUS_VERSION}-seed{int(seed)}-{digest}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RuntimeError(
                f"cannot create the corpus cache folder {folder} ({e.strerror or e}); "
                "set SOUNDLOC_CACHE or pass cache_dir"
            ) from e
        with _build_lock(folder):
            manifest = _manifest_ok(folder, params) or _build(folder, params, progress)
        clips = [ClipRef(c["clip_id"], c["label"], folder / c["file"]) for c in manifest["clips"]]
        corpus = Corpus("builtin", clips, root=folder, info=manifest)
        _MEMO[key] = corpus
        return corpus
