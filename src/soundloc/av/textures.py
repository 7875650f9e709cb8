"""Procedural background textures for the synthetic audio-visual benchmark.

All images are ``(H, W, 3)`` float32 in [0, 1], a pure function of the generator passed in.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["TEXTURES", "random_texture"]

TEXTURES: tuple[str, ...] = ("fractal", "blobs", "stripes", "checker", "gradient")
"""Background families: 1/f^beta coloured noise, smooth colour blobs, oriented stripes, a
rotated checkerboard, a linear colour gradient; each with added grain."""


def _palette(rng: np.random.Generator, k: int) -> NDArray[np.float64]:
    return rng.uniform(0.05, 0.95, size=(k, 3))


def _fractal(rng: np.random.Generator, h: int, w: int, beta: float) -> NDArray[np.float64]:
    """Zero-mean, unit-range 1/f^beta noise ``(H, W)``."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f**beta
    spec[0, 0] = 0.0
    x = np.fft.irfft2(spec, s=(h, w))
    span = float(x.max() - x.min())
    out: NDArray[np.float64] = (x - x.min()) / (span if span > 0 else 1.0)
    return out


def random_texture(rng: np.random.Generator, h: int, w: int, kind: str | None = None) -> NDArray[np.float32]:
    """One background ``(H, W, 3)`` float32 in [0, 1]; ``kind`` from :data:`TEXTURES` (random if None)."""
    kind = str(rng.choice(TEXTURES)) if kind is None else kind
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    if kind == "fractal":
        pal = _palette(rng, 2)
        t = _fractal(rng, h, w, rng.uniform(1.2, 2.2))[..., None]
        img = pal[0] * (1 - t) + pal[1] * t
    elif kind == "blobs":
        img = np.stack([_fractal(rng, h, w, 2.5) for _ in range(3)], axis=-1)
        img = 0.15 + 0.7 * img
    elif kind in ("stripes", "checker"):
        pal = _palette(rng, 2)
        th = rng.uniform(0, np.pi)
        period = rng.uniform(0.04, 0.2)
        u = (xx * np.cos(th) + yy * np.sin(th)) / period
        if kind == "stripes":
            t = (0.5 + 0.5 * np.sin(2 * np.pi * u))[..., None]
        else:
            v = (-xx * np.sin(th) + yy * np.cos(th)) / period
            t = ((np.floor(u) + np.floor(v)) % 2)[..., None]
        img = pal[0] * (1 - t) + pal[1] * t
    elif kind == "gradient":
        pal = _palette(rng, 2)
        th = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(th) + yy * np.sin(th)
        t = ((t - t.min()) / max(float(t.max() - t.min()), 1e-9))[..., None]
        img = pal[0] * (1 - t) + pal[1] * t
    else:
        raise ValueError(f"unknown texture {kind!r}; choose from {', '.join(TEXTURES)}")
    img = img + rng.normal(scale=rng.uniform(0.0, 0.06), size=(h, w, 3))
    res: NDArray[np.float32] = np.clip(img, 0.0, 1.0).astype(np.float32)
    return res
