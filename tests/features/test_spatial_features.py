"""GCC-PHAT, FOA intensity vectors and SALSA-lite against analytic delays and directions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from soundloc.features import (
    GCCPHATFeature,
    IntensityVectors,
    SalsaLite,
    max_lag_for,
    spatial_aliasing_frequency,
)
from soundloc.geometry import SPEED_OF_SOUND, MicArray, SphereGrid


def _delayed(s: np.ndarray, delays: list[float]) -> np.ndarray:
    """Rows = ``s`` delayed by each (fractional) number of samples (exact band-limited circular delay)."""
    S = np.fft.rfft(s)
    f = np.fft.rfftfreq(len(s))
    return np.stack([np.fft.irfft(S * np.exp(-2j * np.pi * f * d), len(s)) for d in delays])


# --------------------------------------------------------------------------- GCC-PHAT


@pytest.mark.parametrize("delays", [[0.0, 3.0, -5.0, 11.0], [0.0, 2.4, -7.3, 0.6]])
def test_gcc_peak_lag_equals_pair_delay(delays: list[float]) -> None:
    s = np.random.default_rng(0).standard_normal(24000)
    x = torch.from_numpy(_delayed(s, delays)[None].astype(np.float32))
    g = GCCPHATFeature(fs=24000, nfft=1024, hop=480, win_length=960, max_lag=20)
    y = g(x)[0].mean(dim=1).numpy()  # (P, 2L+1) averaged over frames
    assert y.shape == (6, 41)
    for p, (i, j) in enumerate(itertools.combinations(range(4), 2)):
        d = delays[j] - delays[i]  # mic j hears it d samples after mic i -> peak at +d
        k = int(np.argmax(y[p]))
        assert g.lags[k] == round(d)
        # parabolic interpolation around the peak recovers the fractional part
        a, b, c = y[p, k - 1], y[p, k], y[p, k + 1]
        frac = 0.5 * (a - c) / (a - 2 * b + c)
        assert g.lags[k] + frac == pytest.approx(d, abs=0.15)


def test_gcc_crop_and_layout() -> None:
    g = GCCPHATFeature(fs=16000, nfft=512, hop=256, max_lag=32, symmetric=False)
    assert g.num_lags == 64 and g.lags[0] == -32 and g.lags[-1] == 31
    x = torch.randn(3, 3, 8000)
    y = g(x)
    assert y.shape == (3, 3, g.num_frames(8000), 64)
    full = torch.fft.irfft(_phat(g.spectrum(x)), n=512, dim=-1)  # pairs (0,1),(0,2),(1,2)
    np.testing.assert_allclose(y[:, 0, :, 32].numpy(), full[:, 0, :, 0].numpy(), atol=1e-6)  # lag 0
    np.testing.assert_allclose(y[:, 1, :, 0].numpy(), full[:, 1, :, 512 - 32].numpy(), atol=1e-6)  # lag -32
    with pytest.raises(ValueError, match="max_lag"):
        GCCPHATFeature(fs=16000, nfft=512, hop=256, max_lag=300)
    with pytest.raises(ValueError, match=">= 2 input channels"):
        g(torch.randn(1, 1, 4000))
    assert max_lag_for(MicArray.preset("circular4"), 16000) == 5  # 10 cm at 16 kHz: 4.66 samples


@pytest.mark.parametrize("symmetric", [True, False])
def test_gcc_equals_numpy_reference_on_every_pair_and_lag(symmetric: bool) -> None:
    # float64 numpy: cross-spectrum of each pair whitened per channel, full irfft, lags -L..L(-1);
    # a silent mic gives zero GCC on its pairs; the gradient path gives the same numbers
    g = GCCPHATFeature(fs=16000, nfft=1024, hop=320, win_length=640, max_lag=32, symmetric=symmetric)
    x = torch.randn(3, 4, 6400)
    x[1, 2] = 0.0
    X = g.spectrum(x).numpy().astype(np.complex128)
    U = X / (np.abs(X) + 1e-12)
    lags = np.arange(-32, 33 if symmetric else 32)
    ref = np.stack([np.fft.irfft(U[:, j] * U[:, i].conj(), n=1024, axis=-1)[..., lags % 1024]
                    for i, j in itertools.combinations(range(4), 2)], axis=1)
    y = g(x)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, atol=2e-7)
    assert np.abs(ref[1, [1, 3, 5]]).max() == 0.0  # pairs (0,2), (1,2), (2,3) of the silent mic
    with torch.enable_grad():
        xg = x.clone().requires_grad_(True)
        yg = g(xg)
    np.testing.assert_allclose(yg.detach().numpy(), ref, atol=2e-7)


def _phat(X: torch.Tensor) -> torch.Tensor:
    pairs = list(itertools.combinations(range(X.shape[1]), 2))
    R = torch.stack([X[:, j] * X[:, i].conj() for i, j in pairs], dim=1)
    return R / (R.abs() + 1e-12)


# --------------------------------------------------------------------------- FOA intensity


def _foa_plane_waves(az: np.ndarray, el: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ACN / SN3D encoding of a plane wave: W = s, Y = s sin az cos el, Z = s sin el, X = s cos az cos el."""
    g = np.stack([np.ones_like(az), np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)], axis=1)  # (G, 4)
    return (g[:, :, None] * s[None, None]).astype(np.float32)


def test_intensity_direction_of_plane_waves_on_sphere_grid() -> None:
    grid = SphereGrid(800)  # every direction of a ~800-point sphere grid, poles included
    az, el = np.radians(grid.azimuth_deg), np.radians(grid.elevation_deg)
    s = np.random.default_rng(1).standard_normal(6000)
    f = IntensityVectors(fs=24000, nfft=1024, hop=480, win_length=960, n_mels=64)
    iv = f(torch.from_numpy(_foa_plane_waves(az, el, s))).numpy()  # (G, 3, T, mels)
    assert iv.shape == (len(az), 3, f.num_frames(6000), 64)
    v = iv.sum(axis=(2, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    u = np.stack([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)], axis=1)
    err = np.degrees(np.arccos(np.clip((u * v).sum(1), -1.0, 1.0)))
    assert err.max() < 1.0
    # per band too: each active mel band's vector points at the source
    band = iv[:, :, 10, 5:60]
    bu = band / np.linalg.norm(band, axis=1, keepdims=True)
    assert np.degrees(np.arccos(np.clip(np.einsum("gc,gcb->gb", u, bu), -1, 1))).max() < 1.0


def test_intensity_needs_four_channels() -> None:
    f = IntensityVectors(fs=24000, nfft=1024, hop=480)
    with pytest.raises(ValueError, match="expects 4 input channels"):
        f(torch.randn(1, 3, 4800))


# --------------------------------------------------------------------------- SALSA-lite


def test_salsa_lite_phase_of_known_delays_is_path_difference() -> None:
    fs, nfft = 24000, 512
    f = SalsaLite(fs=fs, nfft=nfft, hop=256, fmin_doa=50.0, fmax_doa=2000.0, fmax_spectra=9000.0)
    # bin-centred tones (random phases) in the phase band: exact phase relations under a periodic Hann window
    rng = np.random.default_rng(2)
    n = np.arange(fs)
    ks = np.arange(f.lower_bin + 1, f.upper_bin - 1, 3)  # 3 bins apart: Hann leaks only into +-1 bin
    taus = np.array([0.0, 1.5e-4, -2.0e-4, 0.7e-4])  # seconds after mic 0
    ph = rng.uniform(0, 2 * np.pi, len(ks))
    x = np.stack([np.cos(2 * np.pi * ks[:, None] * (n[None] / fs - t) * fs / nfft + ph[:, None]).sum(0) for t in taus])
    y = f(torch.from_numpy(x[None].astype(np.float32)))[0].numpy()
    assert y.shape == (7, f.num_frames(fs), 192)  # 4 spectra + 3 phases, bins below 9 kHz
    for m in range(1, 4):
        nipd = y[3 + m, 2:-2][:, ks]  # frames away from the zero-padded ends
        np.testing.assert_allclose(nipd, taus[m] * SPEED_OF_SOUND, atol=2e-4)  # metres
    assert np.all(y[4:, :, f.upper_bin :] == 0) and np.all(y[4:, :, : f.lower_bin] == 0)
    # white noise delayed: the median over time-frequency is the path difference too
    s = rng.standard_normal(fs)
    yn = f(torch.from_numpy(_delayed(s, list(taus * fs))[None].astype(np.float32)))[0].numpy()
    for m in range(1, 4):
        assert np.median(yn[3 + m, 2:-2, f.lower_bin : f.upper_bin]) == pytest.approx(taus[m] * SPEED_OF_SOUND, abs=1e-3)
    # log-linear spectra: 10 log10 |X|^2 of each channel
    X = f.spectrum(torch.from_numpy(x[None].astype(np.float32)))[0, :, :, :192]
    np.testing.assert_allclose(y[:4], 10 * np.log10(np.maximum(np.abs(X.numpy()) ** 2, 1e-10)), atol=1e-3)


def test_spatial_aliasing_frequency() -> None:
    assert spatial_aliasing_frequency(MicArray.preset("circular4")) == pytest.approx(SPEED_OF_SOUND / 0.2)
    with pytest.raises(ValueError, match="fmax_doa"):
        SalsaLite(fs=16000, nfft=512, hop=256, fmax_doa=9000.0)
