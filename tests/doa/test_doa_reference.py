"""Our vectorised spectra against straightforward float64 numpy re-implementations of the textbook formulas."""

from __future__ import annotations

import numpy as np
import pytest

from doa_test_signals import plane_wave, random_3d_array, white_noise
from soundloc.doa import get_localizer
from soundloc.features.stft import stft
from soundloc.geometry import MicArray, SphereGrid


def _scene(arr: MicArray, fs: int, rng: np.random.Generator) -> np.ndarray:
    x = plane_wave(arr, 40.0, 10.0, white_noise(3 * fs, rng), fs, fs // 2)
    x += plane_wave(arr, -95.0, -5.0, white_noise(3 * fs, rng), fs, fs // 2)
    return x + 0.2 * rng.standard_normal(x.shape)


def _steering(loc) -> np.ndarray:
    """(F, M, G) a_m = exp(-j w tau_m(g))."""
    return np.exp(-2j * np.pi * loc.freqs[:, None, None] * loc.tau.T[None])


def srp_reference(loc, X: np.ndarray) -> np.ndarray:
    """mean_{f,t} |sum_m conj(a_m) X_m / |X_m||^2 / M^2, frame by frame."""
    Xb = X[:, loc.freq_bins, :]  # (M, F, T)
    Y = Xb / np.abs(Xb)
    a = _steering(loc)
    M = Y.shape[0]
    out = np.zeros(a.shape[-1])
    for f in range(Y.shape[1]):
        beam = np.conj(a[f]).T @ Y[:, f, :]  # (G, T)
        out += np.mean(np.abs(beam) ** 2, axis=1)
    return out / Y.shape[1] / M**2


def music_reference(loc, X: np.ndarray, k: int, normalise: bool) -> np.ndarray:
    """mean_f 1 / (a^H En En^H a), noise subspace from np.linalg.eigh, optional per-bin max normalisation."""
    Xb = X[:, loc.freq_bins, :]
    a = _steering(loc)
    out = np.zeros(a.shape[-1])
    for f in range(Xb.shape[1]):
        R = Xb[:, f, :] @ Xb[:, f, :].conj().T / Xb.shape[2]
        _, V = np.linalg.eigh(R)
        En = V[:, :-k]
        p = 1.0 / np.sum(np.abs(En.conj().T @ a[f]) ** 2, axis=0)
        out += p / p.max() if normalise else p
    return out / Xb.shape[1]


@pytest.mark.parametrize("array_name", ["circular4", "tetra", "random3d"])
def test_srp_phat_matches_reference(array_name: str) -> None:
    fs = 16000
    arr = random_3d_array() if array_name == "random3d" else MicArray.preset(array_name)
    loc = get_localizer("srp-phat", arr, fs, grid=SphereGrid(500), fmax=6000)
    X = stft(_scene(arr, fs, np.random.default_rng(0)), loc.nfft, loc.hop)
    ours = loc.spectrum_from_stft(X)
    ref = srp_reference(loc, X)
    np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("method, normalise", [("music", False), ("normmusic", True)])
@pytest.mark.parametrize("array_name, k", [("circular6", 2), ("tetra", 1), ("random3d", 2)])
def test_music_matches_reference(method: str, normalise: bool, array_name: str, k: int) -> None:
    fs = 16000
    arr = random_3d_array() if array_name == "random3d" else MicArray.preset(array_name)
    loc = get_localizer(method, arr, fs, grid=SphereGrid(500))
    X = stft(_scene(arr, fs, np.random.default_rng(1)), loc.nfft, loc.hop)
    ours = loc.spectrum_from_stft(X, num_sources=k)
    ref = music_reference(loc, X, k, normalise)
    # float32 eigenvectors: compare relative to the spectrum's scale
    assert np.max(np.abs(ours - ref)) / ref.max() < 2e-3
    assert np.argmax(ours) == np.argmax(ref)
