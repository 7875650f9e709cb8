"""Log-mel spectrogram per channel (our own filterbank, see :mod:`soundloc.features.mel`).

``power = |STFT|^2`` (periodic Hann, see :class:`~soundloc.features.base.SpectralFeature` for the
framing), projected onto the mel bands, then ``10 * log10(max(amin, p))`` (``log="db"``, librosa's
``power_to_db`` with ``ref=1``) or ``ln(p + amin)`` (``log="log"``). With ``top_db`` the dB
values are floored at ``max - top_db``, the max taken per (clip, channel) as librosa does per call.
The DCASE baseline uses librosa with ``center=True``, Slaney mels, ``power_to_db`` with its
default ``top_db=80`` over a whole file; the default here is ``top_db=None`` so a clip's features
do not depend on its other frames.
"""

from __future__ import annotations

import torch

from soundloc.features.base import SpectralFeature, power
from soundloc.features.mel import mel_filterbank

LOG_KINDS = ("db", "log")


class LogMel(SpectralFeature):
    """Log-mel spectrogram of every channel: ``(B, C, N)`` -> ``(B, C, T, n_mels)`` float32.

    Args:
        fs, nfft, hop, win_length, center, in_channels: STFT settings (see ``SpectralFeature``).
        n_mels: mel bands.
        fmin, fmax: mel band edges in Hz (``fmax`` default ``fs / 2``).
        mel_scale: ``"slaney"`` or ``"htk"``.
        mel_norm: ``"slaney"`` or ``None``.
        log: ``"db"`` (``10 log10``) or ``"log"`` (natural log).
        amin: floor of the power before the log.
        top_db: dB range kept below each (clip, channel) maximum (``log="db"`` only), or ``None``.

    Example:
        >>> f = LogMel(fs=24000, nfft=1024, hop=480, win_length=960, n_mels=64)
        >>> f(torch.randn(2, 4, 24000)).shape
        torch.Size([2, 4, 51, 64])
    """

    fb_t: torch.Tensor

    def __init__(
        self,
        *,
        fs: int,
        nfft: int,
        hop: int,
        win_length: int | None = None,
        center: bool = True,
        in_channels: int | None = None,
        n_mels: int = 64,
        fmin: float = 0.0,
        fmax: float | None = None,
        mel_scale: str = "slaney",
        mel_norm: str | None = "slaney",
        log: str = "db",
        amin: float = 1e-10,
        top_db: float | None = None,
    ) -> None:
        super().__init__(fs=fs, nfft=nfft, hop=hop, win_length=win_length, center=center, in_channels=in_channels)
        if log not in LOG_KINDS:
            raise ValueError(f"unknown log kind '{log}'; choose from {', '.join(LOG_KINDS)}")
        if amin <= 0:
            raise ValueError(f"amin must be positive, got {amin}")
        if top_db is not None and (top_db < 0 or log != "db"):
            raise ValueError(f"top_db must be >= 0 and needs log='db', got top_db={top_db}, log='{log}'")
        fb = mel_filterbank(fs, nfft, n_mels, fmin=fmin, fmax=fmax, scale=mel_scale, norm=mel_norm)
        self.n_mels = int(n_mels)
        self.log = log
        self.amin = float(amin)
        self.top_db = None if top_db is None else float(top_db)
        # (F, n_mels) so that power (..., T, F) @ fb_t -> (..., T, n_mels)
        self.register_buffer("fb_t", torch.as_tensor(fb.T, dtype=torch.float32).contiguous(), persistent=False)

    def out_channels(self, in_channels: int) -> int:
        return in_channels

    uses_power = True

    def mel_power(self, X: torch.Tensor, pw: torch.Tensor | None = None) -> torch.Tensor:
        """Complex STFT ``(B, C, T, F)`` (or its power ``pw``, when given) -> mel power ``(B, C, T, n_mels)`` float32."""
        fb = self.fb_t
        return torch.matmul(power(X) if pw is None else pw, fb.to(X.device))

    def from_stft(self, X: torch.Tensor) -> torch.Tensor:
        return self.from_power(X, power(X))

    def from_power(self, X: torch.Tensor, pw: torch.Tensor) -> torch.Tensor:
        m = self.mel_power(X, pw)
        if self.log == "log":
            return torch.log(m + self.amin)
        db = 10.0 * torch.log10(torch.clamp(m, min=self.amin))
        if self.top_db is not None:
            floor = db.amax(dim=(-2, -1), keepdim=True) - self.top_db
            db = torch.maximum(db, floor)
        return db
