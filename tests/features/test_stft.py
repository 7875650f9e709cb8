"""The one STFT: framing, phase convention, centring and window length against independent references."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from soundloc.features.stft import num_frames, stft, stft_frames


def _numpy_stft(x: np.ndarray, nfft: int, hop: int, win: np.ndarray) -> np.ndarray:
    """Straightforward reference: frame t = x[t*hop : t*hop+nfft] * win, rFFT, stacked as (F, T)."""
    n = max(len(x), nfft)
    x = np.pad(x, (0, n - len(x)))
    frames = [np.fft.rfft(x[t * hop : t * hop + nfft] * win) for t in range(1 + (n - nfft) // hop)]
    return np.stack(frames, axis=-1)


@pytest.mark.parametrize("nfft,hop", [(512, 256), (256, 100), (64, 64), (1024, 480)])
def test_matches_numpy_frames(nfft: int, hop: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4000))
    X = stft(x, nfft, hop)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nfft) / nfft)  # periodic Hann
    ref = np.stack([np.stack([_numpy_stft(c, nfft, hop, win) for c in b]) for b in x])
    assert X.shape == ref.shape == (2, 3, nfft // 2 + 1, num_frames(4000, nfft, hop))
    np.testing.assert_allclose(X, ref, atol=1e-9)
    R = stft(x, nfft, hop, window="rect")
    np.testing.assert_allclose(R[0, 0], _numpy_stft(x[0, 0], nfft, hop, np.ones(nfft)), atol=1e-9)


def test_dtypes_kinds_and_frames_layout() -> None:
    x = np.random.default_rng(1).standard_normal((5, 4, 3000)).astype(np.float32)
    X = stft(x, 256, 128)
    assert isinstance(X, np.ndarray) and X.dtype == np.complex64
    assert stft(x.astype(np.float64), 256, 128).dtype == np.complex128
    T = stft(torch.from_numpy(x), 256, 128)
    assert isinstance(T, torch.Tensor) and T.dtype == torch.complex64
    np.testing.assert_allclose(T.numpy(), X, atol=1e-4)
    Y = stft_frames(x, 256, 128)
    np.testing.assert_array_equal(np.swapaxes(Y, -1, -2), X)
    # the chunked CPU path equals one unchunked transform (large batch crosses several chunks)
    big = np.random.default_rng(2).standard_normal((40, 4, 16000)).astype(np.float32)
    ref = torch.fft.rfft(torch.from_numpy(big).unfold(-1, 512, 256) * torch.hann_window(512), dim=-1).transpose(-1, -2)
    np.testing.assert_allclose(stft(big, 512, 256), ref.numpy(), rtol=0, atol=1e-3)


def test_delay_phase_convention() -> None:
    """A delay of d samples multiplies bin k by exp(-2j pi k d / nfft) (frame-wise, circular inside one frame)."""
    rng = np.random.default_rng(3)
    nfft, d = 512, 7
    s = rng.standard_normal(8000)
    X = stft(np.stack([s[d:], s[:-d]]), nfft, nfft, window="rect")  # channel 1 = channel 0 delayed by d
    k = np.arange(nfft // 2 + 1)
    # with a rect window the frame of the delayed copy is the same block shifted; compare cross-phase slope
    cross = (X[1] * np.conj(X[0])).sum(-1)
    slope = np.polyfit(k[5:100], np.unwrap(np.angle(cross[5:100])), 1)[0]
    assert slope == pytest.approx(-2 * np.pi * d / nfft, rel=1e-2)


@pytest.mark.parametrize("nfft,hop,win_length", [(1024, 480, 960), (512, 256, None), (400, 160, 301)])
def test_center_and_win_length_match_librosa(nfft: int, hop: int, win_length: int | None) -> None:
    x = np.random.default_rng(4).standard_normal(7001)
    ref = librosa.stft(x, n_fft=nfft, hop_length=hop, win_length=win_length, center=True, pad_mode="constant")
    ours = stft(x, nfft, hop, win_length=win_length, center=True)
    assert ours.shape == ref.shape == (nfft // 2 + 1, num_frames(7001, nfft, hop, center=True))
    np.testing.assert_allclose(ours, ref, atol=1e-9 * np.abs(ref).max())


def test_short_signal_and_errors() -> None:
    assert stft(np.ones(100), 512).shape == (257, 1)
    with pytest.raises(ValueError, match="nfft"):
        stft(np.ones(100), 1)
    with pytest.raises(ValueError, match="hop"):
        stft(np.ones(100), 64, 0)
    with pytest.raises(ValueError, match="window"):
        stft(np.ones(100), 64, window="hamming")
    with pytest.raises(ValueError, match="win_length"):
        stft(np.ones(100), 64, win_length=65)
    with pytest.raises(ValueError, match="complex"):
        stft(np.ones(100, complex), 64)


def test_gradient_flows_after_inference_mode_use() -> None:
    with torch.inference_mode():  # caches the window; it must stay usable with autograd
        stft(torch.randn(2, 1000), 136, 64)  # a size no other test uses: a fresh cache entry
    x = torch.randn(2, 1000, requires_grad=True)
    stft(x, 136, 64).abs().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
