"""Mel scales and the triangular mel filterbank (no librosa at run time).

Two scales:

* ``"slaney"`` (Auditory Toolbox, librosa's default): linear below 1 kHz (``mel = f / (200/3)``),
  logarithmic above (``mel = 15 + 27 * ln(f / 1000) / ln(6.4)``);
* ``"htk"``: ``mel = 2595 * log10(1 + f / 700)``.

The filterbank has ``n_mels`` triangles whose corners are ``n_mels + 2`` points equally spaced on
the mel scale between ``fmin`` and ``fmax``; each triangle rises from its left corner to 1 at
its centre and falls to 0 at its right corner, evaluated at the rFFT bin frequencies
``k * fs / nfft``. ``norm="slaney"`` divides each triangle by half its width in Hz
(``2 / (f_right - f_left)``: constant energy per band); ``norm=None`` leaves peaks at 1.
"""

from __future__ import annotations

import numpy as np

MEL_SCALES = ("slaney", "htk")
MEL_NORMS = ("slaney", None)

_F_SP = 200.0 / 3.0  # Hz per mel in the linear part of the Slaney scale
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15
_LOGSTEP = np.log(6.4) / 27.0


def _check_scale(scale: str) -> None:
    if scale not in MEL_SCALES:
        raise ValueError(f"unknown mel scale '{scale}'; choose from {', '.join(MEL_SCALES)}")


def hz_to_mel(f: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Frequencies in Hz -> mels on ``scale`` (``"slaney"`` or ``"htk"``), float64 array."""
    _check_scale(scale)
    f = np.asarray(f, dtype=np.float64)
    if scale == "htk":
        return np.asarray(2595.0 * np.log10(1.0 + f / 700.0))
    lin = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.asarray(np.where(f >= _MIN_LOG_HZ, log, lin))


def mel_to_hz(m: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    """Mels on ``scale`` -> Hz (inverse of :func:`hz_to_mel`), float64 array."""
    _check_scale(scale)
    m = np.asarray(m, dtype=np.float64)
    if scale == "htk":
        return np.asarray(700.0 * (10.0 ** (m / 2595.0) - 1.0))
    lin = m * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.asarray(np.where(m >= _MIN_LOG_MEL, log, lin))


def mel_filterbank(
    fs: float,
    nfft: int,
    n_mels: int = 64,
    *,
    fmin: float = 0.0,
    fmax: float | None = None,
    scale: str = "slaney",
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filterbank (see the module docstring).

    Args:
        fs: sample rate in Hz.
        nfft: FFT length; the filters act on its ``nfft // 2 + 1`` rFFT bins.
        n_mels: number of mel bands.
        fmin, fmax: band edges in Hz (``fmax`` defaults to ``fs / 2``).
        scale: ``"slaney"`` or ``"htk"``.
        norm: ``"slaney"`` (area normalisation) or ``None``.

    Returns:
        ``(n_mels, nfft // 2 + 1)`` float64 weights; ``mel_power = weights @ power_spectrum``.

    Example:
        >>> mel_filterbank(24000, 1024, 64).shape
        (64, 513)
    """
    _check_scale(scale)
    if norm not in MEL_NORMS:
        raise ValueError(f"unknown mel norm {norm!r}; choose from 'slaney', None")
    if fs <= 0:
        raise ValueError(f"sample rate must be positive, got {fs}")
    if nfft < 2:
        raise ValueError(f"nfft must be >= 2, got {nfft}")
    if n_mels < 1:
        raise ValueError(f"n_mels must be >= 1, got {n_mels}")
    fmax = fs / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax:
        raise ValueError(f"need 0 <= fmin < fmax, got fmin={fmin}, fmax={fmax}")
    bins_hz = np.arange(nfft // 2 + 1) * (fs / nfft)
    corners = mel_to_hz(np.linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax, scale), n_mels + 2), scale)
    left, centre, right = corners[:-2, None], corners[1:-1, None], corners[2:, None]
    rise = (bins_hz[None] - left) / (centre - left)
    fall = (right - bins_hz[None]) / (right - centre)
    weights = np.maximum(0.0, np.minimum(rise, fall))
    if norm == "slaney":
        weights *= 2.0 / (right - left)
    return np.asarray(weights)
