"""Short-time Fourier transform used by the classical localizers.

One small function so every localizer (and the tests / benchmark that feed the same STFT to
pyroomacoustics) sees exactly the same time-frequency representation.

Convention: frame ``t`` covers samples ``[t * hop, t * hop + nfft)``; no centre padding, so a
delay of ``tau`` seconds multiplies bin ``k`` by ``exp(-2j pi k fs / nfft * tau)`` (the
pyroomacoustics convention). A signal shorter than ``nfft`` is zero-padded to one frame; a tail
shorter than one hop after the last full frame is dropped.
"""

from __future__ import annotations

import numpy as np
import torch

WINDOWS = ("hann", "rect")


def stft(x: np.ndarray | torch.Tensor, nfft: int = 512, hop: int | None = None, *, window: str = "hann") -> np.ndarray | torch.Tensor:
    """STFT of real signals.

    Args:
        x: ``(..., N)`` real waveform(s), numpy array or torch tensor.
        nfft: frame and FFT length in samples.
        hop: hop in samples (default ``nfft // 2``).
        window: ``"hann"`` (periodic Hann) or ``"rect"`` (no window, as pyroomacoustics' default).

    Returns:
        ``(..., F, T)`` complex with ``F = nfft // 2 + 1`` bins; complex64 for float32 input,
        complex128 for float64 input. Same kind (numpy / torch) as ``x``.

    Example:
        >>> stft(np.zeros((4, 16000)), 512).shape
        (4, 257, 61)
    """
    if nfft < 2:
        raise ValueError(f"nfft must be >= 2, got {nfft}")
    hop = nfft // 2 if hop is None else int(hop)
    if hop < 1:
        raise ValueError(f"hop must be >= 1 sample, got {hop}")
    if window not in WINDOWS:
        raise ValueError(f"unknown window '{window}'; choose from {', '.join(WINDOWS)}")
    is_numpy = not isinstance(x, torch.Tensor)
    t = torch.from_numpy(np.ascontiguousarray(x)) if is_numpy else x
    if not (t.dtype.is_floating_point):
        t = t.to(torch.float64)
    n = t.shape[-1]
    if n < nfft:
        t = torch.nn.functional.pad(t, (0, nfft - n))
        n = nfft
    lead = t.shape[:-1]
    if window == "hann":
        w = torch.hann_window(nfft, periodic=True, dtype=t.dtype, device=t.device)
    else:
        w = torch.ones(nfft, dtype=t.dtype, device=t.device)
    # torch.stft without centring frames exactly as documented above (fast C++ path)
    spec = torch.stft(t.reshape(-1, n), nfft, hop, window=w, center=False, return_complex=True)
    spec = spec.reshape(*lead, *spec.shape[-2:])
    return spec.numpy() if is_numpy else spec
