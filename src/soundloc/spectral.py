"""Frequency-bin helpers shared by the localizers and the features.

:func:`band_bins` is the one rule for "the rFFT bins of an analysis band": bin ``k`` of an
``nfft``-point rFFT at ``fs`` Hz sits at ``k fs / nfft`` Hz and belongs to the band when
``fmin <= k fs / nfft <= fmax`` (with a 1e-9 Hz tolerance, so a band edge that is exactly a bin
frequency keeps the bin whatever the rounding); the DC bin (``k = 0``) is never used, it carries
no phase information.
"""

from __future__ import annotations

import numpy as np

_TOL_HZ = 1e-9


def band_bins(fs: float, nfft: int, fmin: float, fmax: float) -> tuple[np.ndarray, np.ndarray]:
    """The rFFT bins of the band ``[fmin, fmax]`` Hz, DC excluded.

    Args:
        fs: sample rate in Hz.
        nfft: FFT length in samples (``nfft // 2 + 1`` rFFT bins).
        fmin, fmax: band edges in Hz (inclusive).

    Returns:
        ``(bins (F,) int64 indices, ascending and contiguous; freqs (F,) float64 Hz)``.

    Raises:
        ValueError: no bin in the band.
    """
    k = np.arange(int(nfft) // 2 + 1)
    f = k * float(fs) / int(nfft)
    sel = (f >= fmin - _TOL_HZ) & (f <= fmax + _TOL_HZ) & (k > 0)
    if not sel.any():
        raise ValueError(f"no FFT bin between fmin {fmin:g} Hz and fmax {fmax:g} Hz with nfft {nfft} at {fs:g} Hz")
    return k[sel].astype(np.int64), f[sel]
