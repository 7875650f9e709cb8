"""Mixing: windows, convolution, diffuse noise coherence, SNR and level scaling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import csd, welch

from soundloc.scenes.mix import (
    active_region,
    colored_noise,
    diffuse_noise,
    noise_gain,
    peak_gain,
    segment_windows,
    spatialize,
    unit_rms,
)


@pytest.mark.parametrize("xfade", [0, 1, 40, 160])
def test_segment_windows_partition_unity(xfade):
    w = segment_windows(1000, np.array([0, 200, 500, 900]), xfade)
    np.testing.assert_allclose(w.sum(0), 1.0, atol=1e-12)
    assert np.all(w >= -1e-12)
    # far from a boundary each segment owns its samples alone
    assert w[1, 350] == 1.0 and w[0, 350] == 0.0 and w[2, 350] == 0.0
    if xfade > 1:
        # the cross-fade is centred on the boundary
        np.testing.assert_allclose(w[0, 200 - 1 : 201].sum() / 2, 0.5, atol=0.05)


def test_spatialize_static_is_plain_convolution():
    rng = np.random.default_rng(0)
    dry = rng.standard_normal(300)
    rirs = rng.standard_normal((1, 3, 50))
    out = spatialize(dry, rirs, np.array([0]), 0)
    ref = np.stack([np.convolve(dry, rirs[0, m]) for m in range(3)])
    np.testing.assert_allclose(out, ref, atol=1e-10)


def test_spatialize_moving_with_equal_rirs_equals_static():
    # the windows sum to one, so identical RIRs at every point reproduce the static image
    rng = np.random.default_rng(1)
    dry = rng.standard_normal(800)
    h = rng.standard_normal((2, 64))
    moving = spatialize(dry, np.stack([h] * 5), np.array([0, 160, 320, 480, 640]), 32)
    static = spatialize(dry, h[None], np.array([0]), 0)
    np.testing.assert_allclose(moving, static, atol=1e-10)


def test_spatialize_moving_switches_rir():
    # two pure delays: the output follows delay A before the switch and delay B after
    dry = np.ones(400)
    rirs = np.zeros((2, 1, 20))
    rirs[0, 0, 0] = 1.0
    rirs[1, 0, 10] = 2.0
    out = spatialize(dry, rirs, np.array([0, 200]), 0)[0]
    np.testing.assert_allclose(out[50:150], 1.0)
    np.testing.assert_allclose(out[260:390], 2.0)


def test_diffuse_noise_has_sinc_coherence():
    fs, n = 16000, 16000 * 8
    mics = np.array([[0.0, 0.0, 0.0], [0.08, 0.0, 0.0], [0.0, 0.3, 0.0]])
    x = diffuse_noise(np.random.default_rng(0), mics, n, fs, color="white")
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=1e-6)
    for i, j in ((0, 1), (0, 2)):
        d = np.linalg.norm(mics[i] - mics[j])
        f, pxy = csd(x[i], x[j], fs=fs, nperseg=512)
        _, pxx = welch(x[i], fs=fs, nperseg=512)
        _, pyy = welch(x[j], fs=fs, nperseg=512)
        coh = np.real(pxy) / np.sqrt(pxx * pyy)
        band = (f > 100) & (f < 6000)
        expected = np.sinc(2 * f * d / 343.0)
        err = np.abs(coh[band] - expected[band])
        assert err.mean() < 0.03 and err.max() < 0.2  # estimation noise of ~500 averaged segments


def test_pink_noise_slope():
    fs = 16000
    x = colored_noise(np.random.default_rng(0), (fs * 8,), fs, "pink")
    f, p = welch(x, fs=fs, nperseg=4096)
    sel = (f > 100) & (f < 6000)
    slope = np.polyfit(np.log10(f[sel]), 10 * np.log10(p[sel]), 1)[0]
    assert -11.5 < slope < -8.5  # 1/f power: -10 dB per decade


def test_noise_gain_reaches_snr():
    rng = np.random.default_rng(0)
    s = np.zeros((2, 1000))
    s[:, 200:600] = rng.standard_normal((2, 400))
    active = np.zeros(1000, bool)
    active[200:600] = True
    nz = rng.standard_normal((2, 1000)) * 3
    g = noise_gain(s, nz, 12.0, active)
    snr = 10 * np.log10(np.mean(s[:, active] ** 2) / np.mean((g * nz) ** 2))
    assert abs(snr - 12.0) < 1e-9


def test_peak_gain_and_unit_rms():
    x = np.array([[0.1, -0.4], [0.2, 0.0]])
    assert np.max(np.abs(x * peak_gain(x, -6.0))) == pytest.approx(10 ** (-6 / 20))
    assert np.sqrt(np.mean(unit_rms(np.array([1.0, -3.0, 2.0])) ** 2)) == pytest.approx(1.0)


def test_active_region_trims_silence():
    fs = 16000
    x = np.zeros(fs)
    x[3000:9000] = np.random.default_rng(0).standard_normal(6000)
    a, b = active_region(x, fs, silence_db=40)
    assert 2800 <= a <= 3000 and 9000 <= b <= 9200
    assert active_region(np.zeros(100), fs) == (0, 100)
