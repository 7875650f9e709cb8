"""GCC-PHAT per microphone pair, cropped to a window of lags (the DCASE ``mic`` spatial feature).

For pair ``(i, j)`` (``i < j``, in ``itertools.combinations`` order: (0,1), (0,2), ..., as
:meth:`soundloc.geometry.MicArray.pairs`) and frame ``t``:
``R = (X_j / |X_j|) conj(X_i / |X_i|)`` (``= conj(X_i) X_j / |conj(X_i) X_j|``; ``eps`` is added
to each ``|X|``, so a silent bin gives zero) and
``gcc = irfft(R, nfft)``, read at lags ``-L .. L`` samples (``2L + 1`` values) or, with
``symmetric=False``, ``-L .. L-1`` (``2L`` values; the DCASE baseline's crop, which makes the
GCC as wide as its 64 mel bands). The peak sits at lag ``+d`` when mic ``j`` hears the sound
``d`` samples after mic ``i``. ``L`` is an explicit parameter; the physical range needed is
``fs * max_mic_distance / c`` samples (see :func:`max_lag_for`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from soundloc.features.base import SpectralFeature, power
from soundloc.geometry import SPEED_OF_SOUND, MicArray


def max_lag_for(array: MicArray, fs: float, c: float = SPEED_OF_SOUND) -> int:
    """Smallest ``L`` covering every physical delay of ``array``: ``ceil(fs * max pair distance / c)``."""
    return math.ceil(fs * array.aperture / c)


class GCCPHATFeature(SpectralFeature):
    """GCC-PHAT of every mic pair: ``(B, M, N)`` -> ``(B, M(M-1)/2, T, 2L+1)`` float32 (``2L`` if not symmetric).

    Args:
        fs, nfft, hop, win_length, center, in_channels: STFT settings (see ``SpectralFeature``).
        max_lag: ``L`` in samples, ``1 <= L <= nfft // 2``.
        symmetric: lags ``-L..L`` (default) or ``-L..L-1`` (DCASE baseline crop).
        eps: added to ``|R|`` in the PHAT weighting.

    Example:
        >>> g = GCCPHATFeature(fs=24000, nfft=1024, hop=480, max_lag=32)
        >>> g(torch.randn(1, 4, 24000)).shape
        torch.Size([1, 6, 51, 65])
    """

    min_channels = 2

    def __init__(
        self,
        *,
        fs: int,
        nfft: int,
        hop: int,
        win_length: int | None = None,
        center: bool = True,
        in_channels: int | None = None,
        max_lag: int,
        symmetric: bool = True,
        eps: float = 1e-12,
    ) -> None:
        super().__init__(fs=fs, nfft=nfft, hop=hop, win_length=win_length, center=center, in_channels=in_channels)
        if not 1 <= int(max_lag) <= self.nfft // 2:
            raise ValueError(f"max_lag must be in [1, nfft // 2 = {self.nfft // 2}], got {max_lag}")
        self.max_lag = int(max_lag)
        self.symmetric = bool(symmetric)
        self.eps = float(eps)

    @property
    def num_lags(self) -> int:
        """Output bins: ``2L + 1`` (symmetric) or ``2L``."""
        return 2 * self.max_lag + (1 if self.symmetric else 0)

    @property
    def lags(self) -> np.ndarray:
        """``(num_lags,)`` lag of each output bin in samples, ascending."""
        return np.arange(-self.max_lag, self.max_lag + (1 if self.symmetric else 0))

    def out_channels(self, in_channels: int) -> int:
        return in_channels * (in_channels - 1) // 2

    uses_power = True

    def from_stft(self, X: torch.Tensor) -> torch.Tensor:
        return self.from_power(X, power(X))

    def from_power(self, X: torch.Tensor, pw: torch.Tensor) -> torch.Tensor:
        M = X.shape[1]
        # |conj(X_i) X_j| = |X_i| |X_j|: whiten each channel once (X / (|X| + eps), a real scale),
        # then form the pairs in combinations order: for each i, the channels j > i at once
        if torch.is_grad_enabled() and (X.requires_grad or pw.requires_grad):
            u = X / (torch.sqrt(pw) + self.eps)
            uc = u.conj()
            pairs = torch.cat([u[:, i + 1 :] * uc[:, i : i + 1] for i in range(M - 1)], dim=1)
        else:  # in place: no temporaries, no gathered copies of u
            scale = torch.sqrt(pw).add_(self.eps).reciprocal_()
            # real x real on the (re, im) view: complex x real broadcasting is ~8x slower on the CPU
            u = torch.view_as_complex(torch.view_as_real(X) * scale[..., None])
            uc = u.conj()
            pairs = torch.empty((X.shape[0], M * (M - 1) // 2, *X.shape[2:]), dtype=u.dtype, device=u.device)
            k = 0
            for i in range(M - 1):
                torch.mul(u[:, i + 1 :], uc[:, i : i + 1], out=pairs[:, k : k + M - 1 - i])
                k += M - 1 - i
        cc = torch.fft.irfft(pairs, n=self.nfft, dim=-1)  # (B, P, T, nfft), lag l at l mod nfft
        L = self.max_lag
        hi = L + 1 if self.symmetric else L
        return torch.cat([cc[..., self.nfft - L :], cc[..., :hi]], dim=-1)
