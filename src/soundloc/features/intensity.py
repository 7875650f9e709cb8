"""First-order-ambisonics (FOA) intensity vectors on the mel scale (the DCASE ``foa`` spatial feature).

Input channels are FOA in ACN order ``W, Y, Z, X`` with SN3D normalisation (STARSS23 / TAU
``foa_dev``): a plane wave from azimuth ``az`` (counter-clockwise from +x), elevation ``el``
carrying ``s`` gives ``W = s, Y = s sin(az) cos(el), Z = s sin(el), X = s cos(az) cos(el)``.
Per time-frequency bin the active intensity ``I = Re(conj(W) [X, Y, Z])`` points towards the
source; it is divided by the energy ``E = |W|^2 + (|X|^2 + |Y|^2 + |Z|^2) / 3`` (+ eps) and
projected onto the mel bands with the same filterbank as the log-mel, as in the DCASE baseline.
Output channels are Cartesian ``x, y, z`` (the baseline keeps ACN order ``y, z, x``).
"""

from __future__ import annotations

import torch

from soundloc.features.base import SpectralFeature, power
from soundloc.features.mel import mel_filterbank


class IntensityVectors(SpectralFeature):
    """Mel-band FOA intensity vectors: ``(B, 4, N)`` FOA (ACN, SN3D) -> ``(B, 3, T, n_mels)`` float32 (x, y, z).

    Args:
        fs, nfft, hop, win_length, center: STFT settings (see ``SpectralFeature``).
        n_mels, fmin, fmax, mel_scale, mel_norm: the mel projection (as :class:`~soundloc.features.logmel.LogMel`).
        eps: added to the energy before dividing.

    For a single plane wave every bin's vector is ``0.75 * u`` (``u`` the unit vector towards
    the source), so the mel-band vectors point along ``u``.
    """

    min_channels = 4

    fb_t: torch.Tensor

    def __init__(
        self,
        *,
        fs: int,
        nfft: int,
        hop: int,
        win_length: int | None = None,
        center: bool = True,
        n_mels: int = 64,
        fmin: float = 0.0,
        fmax: float | None = None,
        mel_scale: str = "slaney",
        mel_norm: str | None = "slaney",
        eps: float = 1e-8,
    ) -> None:
        super().__init__(fs=fs, nfft=nfft, hop=hop, win_length=win_length, center=center, in_channels=4)
        fb = mel_filterbank(fs, nfft, n_mels, fmin=fmin, fmax=fmax, scale=mel_scale, norm=mel_norm)
        self.n_mels = int(n_mels)
        self.eps = float(eps)
        self.register_buffer("fb_t", torch.as_tensor(fb.T, dtype=torch.float32).contiguous(), persistent=False)

    def out_channels(self, in_channels: int) -> int:
        return 3

    def from_stft(self, X: torch.Tensor) -> torch.Tensor:
        W = X[:, 0:1]
        XYZ = X[:, [3, 1, 2]]  # ACN (W, Y, Z, X) -> Cartesian (x, y, z)
        Wr, Wi = W.real, W.imag
        inten = Wr * XYZ.real + Wi * XYZ.imag  # Re(conj(W) * [X, Y, Z])  (B, 3, T, F)
        energy = power(W) + power(XYZ).sum(dim=1, keepdim=True) / 3.0 + self.eps
        fb = self.fb_t
        return torch.matmul(inten / energy, fb.to(X.device))
