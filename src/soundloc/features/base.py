"""Shared base of the spectral features: STFT settings, input checks, the ``from_stft`` split.

Every feature is an ``nn.Module`` mapping waveforms ``(batch, channels, samples)`` (float, any
device; the output follows the input's device) to features ``(batch, feature_channels, frames,
bins)`` float32. ``forward(x)`` is ``from_stft(self.spectrum(x))``, so a stack of features
computes the STFT once and hands the same spectra to each part.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from soundloc.features.stft import WINDOWS, num_frames, stft_frames

CPU_CHUNK_SAMPLES = 1 << 17
"""Input samples (clips x channels x samples) per chunk on the CPU (see ``SpectralFeature.forward``)."""


class SpectralFeature(nn.Module):
    """Base class: STFT settings and the waveform checks shared by all features.

    Args:
        fs: sample rate in Hz the feature is built for.
        nfft: FFT length in samples.
        hop: hop in samples.
        win_length: periodic-Hann window length in samples (``<= nfft``, centred in the frame;
            default ``nfft``).
        center: zero-pad ``nfft // 2`` samples at both ends so frame ``t`` is centred on sample
            ``t * hop`` (librosa's ``center=True``, the DCASE baseline framing). Frames:
            ``1 + samples // hop`` when centred, ``1 + (samples - nfft) // hop`` otherwise.
        in_channels: required input channel count, or ``None`` for any (``>= min_channels``).
    """

    min_channels = 1
    uses_power = False
    """Whether :meth:`from_power` uses the power spectrum (a stack then computes it once for all parts)."""

    def __init__(
        self,
        *,
        fs: int,
        nfft: int,
        hop: int,
        win_length: int | None = None,
        center: bool = True,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        if int(fs) <= 0:
            raise ValueError(f"sample rate must be positive, got {fs}")
        if int(nfft) < 2:
            raise ValueError(f"nfft must be >= 2, got {nfft}")
        if int(hop) < 1:
            raise ValueError(f"hop must be >= 1 sample, got {hop}")
        win = int(nfft) if win_length is None else int(win_length)
        if not 1 <= win <= int(nfft):
            raise ValueError(f"win_length must be in [1, nfft={nfft}], got {win_length}")
        if in_channels is not None and int(in_channels) < self.min_channels:
            raise ValueError(f"{type(self).__name__} needs >= {self.min_channels} input channels, got {in_channels}")
        self.fs = int(fs)
        self.nfft = int(nfft)
        self.hop = int(hop)
        self.win_length = win
        self.center = bool(center)
        self.in_channels = None if in_channels is None else int(in_channels)
        self.window = WINDOWS[0]

    @property
    def num_bins(self) -> int:
        """rFFT bins ``nfft // 2 + 1``."""
        return self.nfft // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` input samples."""
        return num_frames(num_samples, self.nfft, self.hop, center=self.center)

    def out_channels(self, in_channels: int) -> int:
        """Feature channels produced from ``in_channels`` input channels."""
        raise NotImplementedError

    def check_channels(self, channels: int) -> None:
        """``ValueError`` unless ``channels`` input channels are accepted."""
        if self.in_channels is not None and channels != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects {self.in_channels} input channels, got {channels}")
        if channels < self.min_channels:
            raise ValueError(f"{type(self).__name__} needs >= {self.min_channels} input channels, got {channels}")

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(B, C, N)`` -> complex64 STFT ``(B, C, T, F)`` (frames, bins) on ``x``'s device."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch tensor, got {type(x).__name__}")
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} expects (batch, channels, samples), got shape {tuple(x.shape)}")
        if x.is_complex() or not x.dtype.is_floating_point:
            raise ValueError(f"{type(self).__name__} expects a real float waveform, got {x.dtype}")
        self.check_channels(int(x.shape[1]))
        X = stft_frames(x.to(torch.float32), self.nfft, self.hop, window=self.window,
                        win_length=self.win_length, center=self.center)
        return cast(torch.Tensor, X)

    def from_stft(self, X: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``(B, C, T, F)`` (from :meth:`spectrum`) -> features ``(B, C', T, bins)``."""
        raise NotImplementedError

    def from_power(self, X: torch.Tensor, pw: torch.Tensor) -> torch.Tensor:
        """:meth:`from_stft` given also ``pw = |X|^2`` ``(B, C, T, F)`` float32 (ignored unless :attr:`uses_power`)."""
        return self.from_stft(X)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Waveforms ``(B, C, N)`` at :attr:`fs` -> features ``(B, C', T, bins)`` float32.

        On the CPU a batch is processed a few clips at a time (about ``CPU_CHUNK_SAMPLES`` input
        samples per chunk) so the intermediate spectra stay cache-sized: 2-3x faster than one
        pass over a large batch. On a GPU the whole batch goes at once.
        """
        if x.ndim != 3 or x.device.type != "cpu" or x.shape[0] <= 1 or (torch.is_grad_enabled() and x.requires_grad):
            return self.from_stft(self.spectrum(x))
        step = max(1, CPU_CHUNK_SAMPLES // max(1, int(x.shape[1]) * int(x.shape[2])))
        if step >= x.shape[0]:
            return self.from_stft(self.spectrum(x))
        first = self.from_stft(self.spectrum(x[:step]))
        out = torch.empty((x.shape[0], *first.shape[1:]), dtype=first.dtype)
        out[:step] = first
        for b in range(step, x.shape[0], step):
            out[b : b + step] = self.from_stft(self.spectrum(x[b : b + step]))
        return out


def power(X: torch.Tensor) -> torch.Tensor:
    """``|X|^2`` of a complex tensor without the square root of ``abs``."""
    r = torch.view_as_real(X)
    return r[..., 0] * r[..., 0] + r[..., 1] * r[..., 1]
