"""The pair-by-pair PHAT cross-spectra against a numpy brute force (every layout, chunking, zeros)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import soundloc.doa.srp_phat as srp
from soundloc.doa import get_localizer
from soundloc.features.stft import stft
from soundloc.geometry import MicArray


def _reference(X: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(B, F, M, T) -> (B, F, P): mean over frames of Y_i conj(Y_j), Y = X / |X| (0 where X == 0), float64."""
    X = X.astype(np.complex128)
    mag = np.abs(X)
    Y = np.where(mag > 0, X / np.where(mag > 0, mag, 1.0), 0.0)
    out = np.zeros((X.shape[0], X.shape[1], len(pairs)), dtype=np.complex128)
    for p, (i, j) in enumerate(pairs):
        for t in range(X.shape[-1]):
            out[:, :, p] += Y[:, :, i, t] * np.conj(Y[:, :, j, t])
    return out / X.shape[-1]


@pytest.mark.parametrize("chunk", [1, 300, 1 << 19])  # one clip at a time (with a remainder), several, all
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_contiguous_input_matches_brute_force(monkeypatch: pytest.MonkeyPatch, chunk: int, dtype: torch.dtype) -> None:
    monkeypatch.setattr(srp, "_CHUNK_ELEMS", chunk)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 7, 4, 9)) + 1j * rng.standard_normal((5, 7, 4, 9))
    X[1, 2, 3, :4] = 0.0  # silent bins are 0 after whitening, not NaN
    X[4, :, 0, :] = 0.0
    pairs = MicArray.preset("circular4").pairs()
    C = srp.phat_cross_spectra(torch.as_tensor(X, dtype=dtype), pairs)
    assert C.shape == (5, 7, len(pairs)) and C.dtype == dtype
    tol = 1e-6 if dtype == torch.complex64 else 1e-12
    np.testing.assert_allclose(C.numpy(), _reference(X, pairs), atol=tol)


def test_band_view_of_the_stft_matches_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """The localizer hands a strided view (the STFT's own memory order) over: same numbers."""
    monkeypatch.setattr(srp, "_CHUNK_ELEMS", 5000)
    rng = np.random.default_rng(1)
    loc = get_localizer("srp-phat", MicArray.preset("tetra"), 16000, nfft=256)
    x = rng.standard_normal((3, 4, 4000)).astype(np.float32)
    X = loc._band_stft(x)
    assert not X.is_contiguous()  # no copy was made
    full = stft(x, loc.nfft, loc.hop)  # (B, M, Fall, T) numpy
    band = np.transpose(full[:, :, loc.freq_bins], (0, 2, 1, 3))  # (B, F, M, T)
    np.testing.assert_array_equal(X.numpy(), band)
    C = srp.phat_cross_spectra(X, loc.pairs)
    np.testing.assert_allclose(C.numpy(), _reference(band, loc.pairs), atol=2e-6)
