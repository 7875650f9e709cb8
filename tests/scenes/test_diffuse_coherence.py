"""diffuse_coherence (the one diffuse-field coherence) against a direct average over plane waves
from every direction, and its two users (diffuse noise, the fast RIR tail) against it."""

from __future__ import annotations

import numpy as np

from soundloc.geometry import SPEED_OF_SOUND, MicArray, SphereGrid
from soundloc.scenes.acoustics import diffuse_coherence


def test_matches_the_average_of_plane_waves_over_the_sphere() -> None:
    pos = MicArray.preset("tetra").positions
    freqs = np.array([0.0, 250.0, 1000.0, 3000.0, 7000.0])
    u = SphereGrid(20000).directions  # near-uniform directions
    tau = -(u @ pos.T) / SPEED_OF_SOUND  # (G, M)
    ph = np.exp(-2j * np.pi * freqs[:, None, None] * tau[None])  # (F, G, M)
    ref = np.einsum("fgi,fgj->fij", ph, ph.conj()).real / len(u)
    got = diffuse_coherence(pos, freqs, SPEED_OF_SOUND)
    assert got.shape == (5, 4, 4)
    np.testing.assert_allclose(got, ref, atol=2e-3)
    np.testing.assert_allclose(got[:, np.arange(4), np.arange(4)], 1.0)


def test_diffuse_noise_has_that_coherence() -> None:
    from soundloc.scenes.mix import diffuse_noise

    pos = MicArray.preset("circular4").positions
    fs, nfft = 16000, 256
    x = diffuse_noise(np.random.default_rng(0), pos, fs * 20, fs, color="white")
    frames = x[:, : (x.shape[1] // nfft) * nfft].reshape(4, -1, nfft)
    X = np.fft.rfft(frames * np.hanning(nfft), axis=-1)  # (M, T, F)
    S = np.einsum("itf,jtf->fij", X, X.conj())
    d = np.sqrt(np.einsum("fii->fi", S).real)
    coh = (S / (d[:, :, None] * d[:, None, :])).real
    want = diffuse_coherence(pos, np.fft.rfftfreq(nfft, 1 / fs))
    np.testing.assert_allclose(coh[4:], want[4:], atol=0.12)  # ~1250 frames: std ~0.03 per entry
    assert np.abs(coh[4:] - want[4:]).mean() < 0.02
    assert np.abs(want[4:]).mean() > 0.1  # the test is not trivially passed by zeros
