"""SALSA-lite: log-linear spectra + frequency-normalised inter-channel phase differences.

(Nguyen et al., "SALSA-Lite: a fast and effective feature for polyphonic sound event localization
and detection with microphone arrays", ICASSP 2022.) For ``M`` microphones the output has
``2M - 1`` channels on linear frequency bins ``0 .. K-1`` (``K = floor(fmax_spectra * nfft / fs)``,
all rFFT bins by default):

* channels ``0 .. M-1``: ``10 log10(max(amin, |X_m|^2))`` per microphone;
* channels ``M .. 2M-2``: the normalised inter-channel phase difference of mic ``m = 1 .. M-1``
  relative to mic 0, ``NIPD_m(f) = -c / (2 pi f) * arg(X_m conj(X_0))`` in metres, for bins
  from ``fmin_doa`` up to (not including) ``fmax_doa`` (the spatial-aliasing frequency), zero
  elsewhere. For a far-field source whose sound reaches mic ``m`` ``tau`` seconds after mic 0,
  ``NIPD_m = c * tau`` (the path difference) at every bin below the aliasing frequency.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from soundloc.features.base import SpectralFeature, power
from soundloc.geometry import SPEED_OF_SOUND, MicArray


def spatial_aliasing_frequency(array: MicArray, c: float = SPEED_OF_SOUND) -> float:
    """``c / (2 d_max)`` in Hz, ``d_max`` the largest distance between two microphones of ``array``."""
    return c / (2.0 * array.aperture)  # MicArray refuses coincident mics, so the aperture is > 0


class SalsaLite(SpectralFeature):
    """SALSA-lite: ``(B, M, N)`` -> ``(B, 2M-1, T, K)`` float32 (see the module docstring).

    Args:
        fs, nfft, hop, win_length, center, in_channels: STFT settings (see ``SpectralFeature``).
        fmin_doa, fmax_doa: band (Hz) of the phase features; ``fmax_doa`` should be the array's
            spatial-aliasing frequency (:func:`spatial_aliasing_frequency`; 2 kHz in the paper
            for the DCASE tetrahedral MIC array).
        fmax_spectra: upper edge (Hz) of the bins kept (default ``fs / 2``: all bins; 9 kHz in the paper).
        c: speed of sound in m/s.
        amin: power floor before the log.
    """

    min_channels = 2

    nipd_scale: torch.Tensor

    def __init__(
        self,
        *,
        fs: int,
        nfft: int,
        hop: int,
        win_length: int | None = None,
        center: bool = True,
        in_channels: int | None = None,
        fmin_doa: float = 50.0,
        fmax_doa: float = 2000.0,
        fmax_spectra: float | None = None,
        c: float = SPEED_OF_SOUND,
        amin: float = 1e-10,
    ) -> None:
        super().__init__(fs=fs, nfft=nfft, hop=hop, win_length=win_length, center=center, in_channels=in_channels)
        nyq = fs / 2.0
        fmax_spectra = nyq if fmax_spectra is None else float(fmax_spectra)
        if not 0 < fmax_spectra <= nyq:
            raise ValueError(f"fmax_spectra must be in (0, fs/2 = {nyq}], got {fmax_spectra}")
        if not 0 <= fmin_doa < fmax_doa <= fmax_spectra:
            raise ValueError(f"need 0 <= fmin_doa < fmax_doa <= fmax_spectra, got {fmin_doa}, {fmax_doa}, {fmax_spectra}")
        if c <= 0:
            raise ValueError(f"speed of sound must be positive, got {c}")
        self.num_out_bins = self.num_bins if fmax_spectra >= nyq else math.floor(fmax_spectra * nfft / fs)
        self.lower_bin = max(1, math.floor(fmin_doa * nfft / fs))
        self.upper_bin = min(self.num_out_bins, math.floor(fmax_doa * nfft / fs))
        self.c = float(c)
        self.amin = float(amin)
        k = np.arange(self.num_out_bins, dtype=np.float64)
        scale = np.zeros(self.num_out_bins)
        band = slice(self.lower_bin, self.upper_bin)
        scale[band] = -self.c / (2 * np.pi * k[band] * fs / nfft)
        self.register_buffer("nipd_scale", torch.as_tensor(scale, dtype=torch.float32), persistent=False)

    def out_channels(self, in_channels: int) -> int:
        return 2 * in_channels - 1

    def from_stft(self, X: torch.Tensor) -> torch.Tensor:
        X = X[..., : self.num_out_bins]
        spec = 10.0 * torch.log10(torch.clamp(power(X), min=self.amin))
        phase = torch.angle(X[:, 1:] * X[:, :1].conj())  # (B, M-1, T, K)
        scale = self.nipd_scale
        return torch.cat([spec, phase * scale.to(X.device)], dim=1)
