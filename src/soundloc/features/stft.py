"""The one short-time Fourier transform of soundloc (localizers and learned features share it).

Convention: frame ``t`` covers samples ``[t * hop, t * hop + nfft)`` of the (optionally padded)
signal and bin ``k`` is ``sum_n w[n] x[t * hop + n] exp(-2j pi k n / nfft)``. Without centring, a
delay of ``tau`` seconds therefore multiplies bin ``k`` by ``exp(-2j pi k fs / nfft * tau)`` (the
pyroomacoustics convention). ``center=True`` first zero-pads ``nfft // 2`` samples on both sides,
so frame ``t`` is centred on sample ``t * hop`` (librosa's ``center=True, pad_mode="constant"``,
which the DCASE baseline features use). A signal shorter than ``nfft`` (after centring) is
zero-padded to one frame; a tail shorter than one hop after the last full frame is dropped.

The window is a periodic Hann (``scipy.signal.get_window("hann", n)``, librosa's default) or
rectangular, of ``win_length <= nfft`` samples zero-padded to ``nfft`` in the middle of the frame
(as librosa and ``torch.stft``).

Speed: frames are strided views (no copy), windowed and transformed with ``torch.fft.rfft`` in
chunks of a few hundred kilobytes so the working set stays in cache; windows are cached per
(length, device, dtype). On the GPU the whole batch goes in one call.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

WINDOWS = ("hann", "rect")

_CHUNK_BYTES = 1 << 20
"""Target size of one chunk of windowed frames on the CPU (cache-sized)."""


@lru_cache(maxsize=64)
def _window(kind: str, win_length: int, nfft: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(nfft,)`` window of ``win_length`` samples centred in ``nfft`` (zeros outside).

    Built outside inference mode: a cached window made inside ``torch.inference_mode()`` could
    not be used later in a computation that needs gradients.
    """
    with torch.inference_mode(False):
        if kind == "hann":
            w = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
        else:
            w = torch.ones(win_length, dtype=torch.float64)
        left = (nfft - win_length) // 2
        w = torch.nn.functional.pad(w, (left, nfft - win_length - left))
        return w.to(dtype=dtype, device=device)


def num_frames(num_samples: int, nfft: int, hop: int, *, center: bool = False) -> int:
    """Frames :func:`stft` returns for ``num_samples`` input samples."""
    n = num_samples + (2 * (nfft // 2) if center else 0)
    return 1 + (max(n, nfft) - nfft) // hop


def stft(
    x: np.ndarray | torch.Tensor,
    nfft: int = 512,
    hop: int | None = None,
    *,
    window: str = "hann",
    win_length: int | None = None,
    center: bool = False,
) -> np.ndarray | torch.Tensor:
    """STFT of real signals (see the module docstring for the framing and phase convention).

    Args:
        x: ``(..., N)`` real waveform(s), numpy array or torch tensor (any device).
        nfft: FFT length in samples (the frame length).
        hop: hop in samples (default ``nfft // 2``).
        window: ``"hann"`` (periodic Hann) or ``"rect"`` (no window, as pyroomacoustics' default).
        win_length: window length in samples, ``<= nfft`` (default ``nfft``), centred in the frame.
        center: zero-pad ``nfft // 2`` samples at both ends first (librosa ``center=True``).

    Returns:
        ``(..., F, T)`` complex with ``F = nfft // 2 + 1`` bins and ``T =``
        :func:`num_frames`; complex64 for float32 (or lower) input, complex128 for float64 and
        integer input. Same kind (numpy / torch) and device as ``x``. A strided view (frames
        contiguous along ``F``, as ``torch.stft`` returns); ``.contiguous()`` if a layout matters.

    Example:
        >>> stft(np.zeros((4, 16000)), 512).shape
        (4, 257, 61)
    """
    return _stft(x, nfft, hop, window=window, win_length=win_length, center=center, freq_major=True)


def stft_frames(
    x: np.ndarray | torch.Tensor,
    nfft: int = 512,
    hop: int | None = None,
    *,
    window: str = "hann",
    win_length: int | None = None,
    center: bool = False,
) -> np.ndarray | torch.Tensor:
    """:func:`stft` in the feature layout ``(..., T, F)`` (frames, bins): the same numbers, transposed.

    The FFT produces frames-major data, so this is the cheapest layout for the features
    (``(batch, channels, frames, bins)``); arguments as :func:`stft`.
    """
    return _stft(x, nfft, hop, window=window, win_length=win_length, center=center, freq_major=False)


def _stft(
    x: np.ndarray | torch.Tensor,
    nfft: int,
    hop: int | None,
    *,
    window: str,
    win_length: int | None,
    center: bool,
    freq_major: bool,
) -> np.ndarray | torch.Tensor:
    if nfft < 2:
        raise ValueError(f"nfft must be >= 2, got {nfft}")
    hop = nfft // 2 if hop is None else int(hop)
    if hop < 1:
        raise ValueError(f"hop must be >= 1 sample, got {hop}")
    if window not in WINDOWS:
        raise ValueError(f"unknown window '{window}'; choose from {', '.join(WINDOWS)}")
    win_length = nfft if win_length is None else int(win_length)
    if not 1 <= win_length <= nfft:
        raise ValueError(f"win_length must be in [1, nfft={nfft}], got {win_length}")
    is_numpy = not isinstance(x, torch.Tensor)
    t: torch.Tensor = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.is_complex():
        raise ValueError("stft expects real signals, got complex input")
    if not t.dtype.is_floating_point:
        t = t.to(torch.float64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)
    if center:
        t = torch.nn.functional.pad(t, (nfft // 2, nfft // 2))
    if t.shape[-1] < nfft:
        t = torch.nn.functional.pad(t, (0, nfft - t.shape[-1]))
    lead = t.shape[:-1]
    rows = t.reshape(-1, t.shape[-1])
    w = _window(window, win_length, nfft, t.dtype, t.device)
    frames = num_frames(t.shape[-1], nfft, hop)
    if rows.device.type != "cpu" or (torch.is_grad_enabled() and rows.requires_grad) or rows.shape[0] == 0:
        spec = torch.fft.rfft(rows.unfold(-1, nfft, hop) * w, dim=-1)  # (R, T, F)
    else:
        spec = _stft_cpu(rows, w, hop, frames)
    if freq_major:
        spec = spec.transpose(-1, -2)  # a view: (R, F, T) with frames contiguous along F
    out: torch.Tensor = spec.reshape(*lead, *spec.shape[-2:])
    if is_numpy:
        arr: np.ndarray = out.numpy()
        return arr
    return out


def _stft_cpu(rows: torch.Tensor, w: torch.Tensor, hop: int, frames: int) -> torch.Tensor:
    """``(R, N)`` -> ``(R, T, F)`` contiguous, in cache-sized chunks of rows.

    Chunks keep the windowed copy and the FFT's work set in cache and give the FFT library the
    same shapes call after call (its plans are reused): about 30 % faster than one call over a
    batch of 64 4-channel clips.
    """
    nfft = w.shape[0]
    cdtype = torch.complex64 if rows.dtype == torch.float32 else torch.complex128
    step = max(1, _CHUNK_BYTES // max(frames * nfft * rows.element_size(), 1))
    spec = torch.empty((rows.shape[0], frames, nfft // 2 + 1), dtype=cdtype)
    for i in range(0, rows.shape[0], step):
        torch.fft.rfft(rows[i : i + step].unfold(-1, nfft, hop) * w, dim=-1, out=spec[i : i + step])
    return spec
