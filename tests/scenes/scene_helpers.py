"""Shared helpers for the scene/data tests: a small synthetic folder corpus and a fast config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

CLASSES = ("burst", "chirp", "clicks")


def _burst(rng, n, fs):
    x = rng.standard_normal(n)
    env = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.02 * fs))
    return x * env


def _chirp(rng, n, fs):
    t = np.arange(n) / fs
    f0, f1 = rng.uniform(200, 600), rng.uniform(4000, 7000)
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    return np.sin(phase) + 0.05 * rng.standard_normal(n)


def _clicks(rng, n, fs):
    x = 0.02 * rng.standard_normal(n)
    period = int(fs * rng.uniform(0.03, 0.08))
    for k in range(0, n - 64, period):
        x[k : k + 64] += rng.standard_normal(64) * np.hanning(64) * 3
    return x


MAKERS = {"burst": _burst, "chirp": _chirp, "clicks": _clicks}


def make_corpus(root: Path, clips_per_class: int = 4, fs: int = 16000, seconds: float = 1.2, seed: int = 0) -> Path:
    """Write ``root/<class>/<class>_<k>.wav``: broadband synthetic sounds with 0.1 s of leading and
    trailing silence (the generator must trim it). Returns ``root``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    pad = int(0.1 * fs)
    for c in CLASSES:
        (root / c).mkdir(parents=True, exist_ok=True)
        for k in range(clips_per_class):
            x = MAKERS[c](rng, n, fs)
            x = 0.5 * x / np.max(np.abs(x))
            x = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
            sf.write(root / c / f"{c}_{k}.wav", x.astype(np.float32), fs, subtype="FLOAT")
    return root


def small_config(corpus: Path, **changes):
    """The tiny preset on ``corpus`` with shorter clips (fast tests); ``changes`` as in ``SceneConfig.replace``."""
    from soundloc.scenes.presets import get_preset

    base = get_preset("tiny").replace(corpus=str(corpus), duration=1.5, num_clips=6,
                                      events={"duration": [0.4, 0.6]})
    return base.replace(**changes) if changes else base


def tree_bytes(root: Path) -> dict[str, bytes]:
    """``{relative path: content}`` of every file under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
