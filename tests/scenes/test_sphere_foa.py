"""The FOA encoder band limit (soundloc.scenes.sphere.foa_encoder_band_limit) and its scene option."""

from __future__ import annotations

import numpy as np
import pytest
from scene_helpers import make_corpus, small_config
from scipy.signal import csd
from scipy.signal.windows import tukey

from soundloc.ambisonics import encode_plane_wave
from soundloc.geometry import angular_separation_deg, rotation_matrix, unit_vectors_deg
from soundloc.scenes.config import SceneConfig
from soundloc.scenes.rir import compute_rirs
from soundloc.scenes.sphere import EM32_FOA_BAND_LIMIT_HZ, foa_encoder_band_limit

FS = 24000


def _intensity_dirs(x: np.ndarray, nper: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin direction of the active intensity ``Re(W* [X, Y, Z])`` (ACN: W Y Z X)."""
    f, wy = csd(x[0], x[1], fs=FS, nperseg=nper)
    _, wz = csd(x[0], x[2], fs=FS, nperseg=nper)
    _, wx = csd(x[0], x[3], fs=FS, nperseg=nper)
    v = np.stack([wx.real, wy.real, wz.real], axis=1)
    return f, v / np.linalg.norm(v, axis=1, keepdims=True)


def test_ideal_below_the_limit_direction_lost_above() -> None:
    rng = np.random.default_rng(0)
    u = unit_vectors_deg(40.0, 25.0)
    burst = np.pad(rng.standard_normal(FS * 4) * tukey(FS * 4, 0.05), FS // 20)  # silent edges
    x = encode_plane_wave(burst, u)  # (4, N), ideal encoder
    lim = 6000.0
    y = foa_encoder_band_limit(x, FS, lim, np.random.default_rng(1))
    np.testing.assert_array_equal(y[0], x[0])  # W untouched
    f, d = _intensity_dirs(y)
    err = angular_separation_deg(d, u[None])
    assert np.max(err[(f > 200) & (f < 0.95 * lim)]) < 1.0  # ideal encoding below the limit
    above = f > lim * 2**0.5 * 1.05
    assert np.median(err[above]) > 30.0  # spatially degraded above it
    # first-order energy kept, band by band (W energy = X^2 + Y^2 + Z^2 energy for a plane wave)
    _, pw = csd(y[0], y[0], fs=FS, nperseg=256)
    p1 = sum(csd(y[k], y[k], fs=FS, nperseg=256)[1].real for k in (1, 2, 3))
    np.testing.assert_allclose((p1 / pw.real)[(f > 200) & ((f < lim) | (f > lim * 2**0.5))], 1.0, atol=0.05)
    # the ideal signal itself passes unchanged below the limit
    spec_x, spec_y = np.fft.rfft(x[1:]), np.fft.rfft(y[1:])
    fr = np.fft.rfftfreq(x.shape[1], 1 / FS)
    low = fr < 0.9 * lim
    assert np.max(np.abs(spec_y[:, low] - spec_x[:, low])) < 1e-5 * np.max(np.abs(spec_x))


def test_aliased_part_is_uncorrelated_with_w_on_average() -> None:
    """Above the limit the encoded direction is random, not biased: averaged over encoder draws the
    intensity there is about 0 (independent uniform phase knots, interpolated linearly, pulled every
    source towards azimuth 45 deg, elevation 35 deg: a mean intensity of about 0.15 per axis)."""
    rng = np.random.default_rng(2)
    burst = np.pad(rng.standard_normal(FS) * tukey(FS, 0.05), FS // 20)
    lim = 6000.0
    for u in (unit_vectors_deg(180.0, 0.0), unit_vectors_deg(0.0, -90.0)):
        x = encode_plane_wave(burst, u)
        mean = np.zeros(3)
        for seed in range(100):
            y = foa_encoder_band_limit(x, FS, lim, np.random.default_rng(seed))
            f, wy = csd(y[0], y[1], fs=FS, nperseg=256)
            _, wz = csd(y[0], y[2], fs=FS, nperseg=256)
            _, wx = csd(y[0], y[3], fs=FS, nperseg=256)
            _, ww = csd(y[0], y[0], fs=FS, nperseg=256)
            above = f > lim * 2**0.5 * 1.05
            mean += np.array([np.mean(wx.real[above] / ww.real[above]), np.mean(wy.real[above] / ww.real[above]),
                              np.mean(wz.real[above] / ww.real[above])]) / 100
        assert np.max(np.abs(mean)) < 0.05, mean


def test_band_limit_at_nyquist_changes_nothing_and_bad_args() -> None:
    x = encode_plane_wave(np.random.default_rng(0).standard_normal(2000), unit_vectors_deg(10.0, 0.0))
    np.testing.assert_allclose(foa_encoder_band_limit(x, FS, FS / 2, np.random.default_rng(0)), x, atol=1e-12)
    with pytest.raises(ValueError, match="band limit"):
        foa_encoder_band_limit(x, FS, -1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        foa_encoder_band_limit(x[:3], FS, 9000.0, np.random.default_rng(0))


def test_rirs_with_band_limit() -> None:
    room, centre, src = [5.0, 6.0, 3.0], np.array([2.0, 2.5, 1.5]), np.array([[4.0, 4.0, 1.8]])
    rot = rotation_matrix(30.0)
    ideal = compute_rirs(room, 0.5, centre[None], src, FS, backend="fast", seed=4, foa_rotation=rot)
    lim = compute_rirs(room, 0.5, centre[None], src, FS, backend="fast", seed=4, foa_rotation=rot,
                       foa_band_limit=EM32_FOA_BAND_LIMIT_HZ)
    again = compute_rirs(room, 0.5, centre[None], src, FS, backend="fast", seed=4, foa_rotation=rot,
                         foa_band_limit=EM32_FOA_BAND_LIMIT_HZ)
    np.testing.assert_array_equal(lim, again)
    np.testing.assert_array_equal(lim[:, 0], ideal[:, 0])
    assert not np.allclose(lim[:, 1:], ideal[:, 1:], atol=1e-4)
    with pytest.raises(ValueError, match="FOA"):
        compute_rirs(room, 0.5, np.stack([centre, centre + 0.05]), src, FS, backend="fast", foa_band_limit=9000.0)


def test_config_option_round_trip_and_checks(tmp_path) -> None:
    cfg = SceneConfig.from_dict({"array": {"name": "foa", "foa_band_limit": 9000}, "rir_backend": "fast"})
    assert cfg.array.foa_band_limit == 9000.0
    assert SceneConfig.from_dict(cfg.to_dict()) == cfg
    assert SceneConfig().array.foa_band_limit is None
    with pytest.raises(ValueError, match="array.foa_band_limit"):
        SceneConfig.from_dict({"array": {"name": "tetra", "foa_band_limit": 9000}})
    with pytest.raises(ValueError, match="array.foa_band_limit"):
        SceneConfig.from_dict({"array": {"name": "foa", "foa_band_limit": -5}})
    with pytest.raises(ValueError, match="rir_backend 'fast'"):
        SceneConfig.from_dict({"array": {"name": "tetra-sphere"}, "rir_backend": "ism"})


def test_clips_with_band_limited_foa_and_a_sphere_array(tmp_path) -> None:
    from soundloc.scenes.clip import simulate_clip

    corpus = make_corpus(tmp_path / "c", clips_per_class=2)
    cfg = small_config(corpus, array={"name": "foa", "foa_band_limit": 5000.0}, rir_backend="fast", num_clips=2)
    clip = simulate_clip(cfg, 0, 0)
    assert clip.audio.shape[0] == 4 and clip.meta["array"]["foa_band_limit"] == 5000.0
    ideal = simulate_clip(cfg.replace(array={"foa_band_limit": None}), 0, 0)
    np.testing.assert_array_equal(clip.labels.azimuth, ideal.labels.azimuth)  # same scene
    assert not np.array_equal(clip.audio, ideal.audio)
    cfg_s = small_config(corpus, array={"name": "tetra-sphere"}, rir_backend="fast", num_clips=2)
    c_s = simulate_clip(cfg_s, 0, 1)
    assert c_s.meta["array"]["baffle"] == {"type": "sphere", "radius": 0.042}
    c_f = simulate_clip(cfg_s.replace(array={"name": "tetra"}), 0, 1)
    assert "baffle" not in c_f.meta["array"] and c_f.meta["room"]["dims"] == c_s.meta["room"]["dims"]
    assert not np.array_equal(c_s.audio, c_f.audio)
