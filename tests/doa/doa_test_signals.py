"""Signals with exactly known far-field delays for the localizer tests (shared helper, not a test).

Fractional delays are applied in the frequency domain: the source is generated longer than
needed, its FFT multiplied by ``exp(-2j pi f tau_m)`` for each mic, transformed back, and the
middle cropped out, so the circular wrap-around never reaches the kept part.
"""

from __future__ import annotations

import numpy as np

from soundloc.geometry import MicArray, unit_vectors_deg


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def harmonic(n: int, fs: int, rng: np.random.Generator, f0: float = 180.0) -> np.ndarray:
    """A broadband tonal signal: all harmonics of ``f0`` below fs/2 with random phases, 1/sqrt(k) amplitudes."""
    t = np.arange(n) / fs
    k = np.arange(1, int((fs / 2 - 100) // f0) + 1)
    ph = rng.uniform(0, 2 * np.pi, len(k))
    return (np.cos(2 * np.pi * f0 * k[:, None] * t[None] + ph[:, None]) / np.sqrt(k)[:, None]).sum(0)


def delay_signal(s: np.ndarray, delays_s: np.ndarray, fs: int, n_out: int) -> np.ndarray:
    """``(M, n_out)``: ``s`` delayed by ``delays_s (M,)`` seconds (exact fractional delays).

    ``s`` must be longer than ``n_out`` by a margin; the output is taken from its middle.
    """
    n = len(s)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    S = np.fft.rfft(s)
    y = np.fft.irfft(S[None] * np.exp(-2j * np.pi * f[None] * np.asarray(delays_s)[:, None]), n)
    start = (n - n_out) // 2
    return y[:, start : start + n_out]


def plane_wave(array: MicArray, az_deg: float, el_deg: float, s: np.ndarray, fs: int, n_out: int, c: float = 343.0) -> np.ndarray:
    """Mic signals ``(M, n_out)`` of source signal ``s`` arriving from (az, el) as a plane wave."""
    u = unit_vectors_deg(az_deg, el_deg)
    return delay_signal(s, array.delays(u[None], c)[0], fs, n_out)


def random_3d_array(seed: int = 7, num_mics: int = 5, size: float = 0.1) -> MicArray:
    """An irregular 3-D array: ``num_mics`` mics uniformly in a ``size``-metre cube (min spacing 2 cm)."""
    rng = np.random.default_rng(seed)
    while True:
        p = rng.uniform(-size / 2, size / 2, (num_mics, 3))
        d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(num_mics)
        if d.min() > 0.02:
            return MicArray("random3d", p)


def is_collinear(array: MicArray) -> bool:
    """All mics on one line (front/back and up/down ambiguous: a cone of confusion)."""
    p = array.positions - array.positions[0]
    return np.linalg.matrix_rank(p, tol=1e-9) <= 1
