"""Localizer interface: registry, validation, result type, batching, framing, STFT helper."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from doa_test_signals import plane_wave, white_noise

from soundloc.doa import LOCALIZERS, DOAResult, Localizer, get_localizer, localizers_for, stft
from soundloc.geometry import AzimuthGrid, MicArray
from soundloc.metrics.doa import azimuth_error_deg

FS = 16000
ARR = MicArray.preset("circular4")


def test_registry_has_the_contract_names() -> None:
    assert set(LOCALIZERS) >= {"gcc-phat", "srp-phat", "music", "normmusic"}
    for name, cls in LOCALIZERS.items():
        assert issubclass(cls, Localizer) and cls.name == name
    assert isinstance(get_localizer("SRP_PHAT", ARR, FS), LOCALIZERS["srp-phat"])


def test_unknown_localizer_lists_choices() -> None:
    with pytest.raises(ValueError, match="srp-phat") as e:
        get_localizer("beamformer", ARR, FS)
    assert "beamformer" in str(e.value)


@pytest.mark.parametrize("method", sorted(localizers_for(ARR)))
def test_wrong_channel_count_names_array_and_counts(method: str) -> None:
    loc = get_localizer(method, ARR, FS)
    with pytest.raises(ValueError, match=r"expected 4 channels for array 'circular4', got 2"):
        loc.locate(np.zeros((2, FS)))
    with pytest.raises(ValueError, match=r"expected 4 channels for array 'circular4', got 3"):
        loc.locate_batch(np.zeros((5, 3, FS)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_unavailable_gpu_is_a_value_error() -> None:
    # torch itself raises AssertionError("Torch not compiled with CUDA enabled") or RuntimeError.
    with pytest.raises(ValueError, match="cuda.*no CUDA GPU"):
        get_localizer("srp-phat", ARR, FS, device="cuda")
    with pytest.raises(ValueError, match="unknown torch device"):
        get_localizer("srp-phat", ARR, FS, device="gpu0")


@pytest.mark.parametrize("method", sorted(localizers_for(ARR)))
def test_bad_waveforms_rejected(method: str) -> None:
    loc = get_localizer(method, ARR, FS)
    x = np.random.default_rng(0).standard_normal((4, FS))
    x[2, 100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        loc.locate(x)
    x[2, 100] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        loc.locate(x)
    with pytest.raises(ValueError, match="empty"):
        loc.locate(np.zeros((4, 0)))
    with pytest.raises(ValueError, match="empty"):
        loc.locate_batch(np.zeros((0, 4, FS)))
    with pytest.raises(ValueError, match=r"\(mics, samples\)"):
        loc.locate(np.zeros(FS))
    with pytest.raises(ValueError, match="num_sources"):
        loc.locate(np.ones((4, FS)), num_sources=0)
    with pytest.raises(ValueError, match="num_sources"):
        loc.locate_frames(np.ones((4, FS)), num_sources=-1, frame_length=0.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fmin": 4000.0, "fmax": 2000.0}, "fmin"),
        ({"fmin": 3000.0, "fmax": 3000.0}, "fmin"),
        ({"fmax": 9000.0}, "Nyquist"),
        ({"fmin": -1.0}, "fmin"),
        ({"fmin": 1010.0, "fmax": 1020.0}, "no FFT bin"),
        ({"nfft": 4}, "nfft"),
        ({"hop": 0}, "hop"),
        ({"grid": "sphere"}, "grid"),
        ({"c": 0.0}, "speed of sound"),
        ({"device": "warp-drive"}, "device"),
    ],
)
@pytest.mark.parametrize("method", sorted(localizers_for(ARR)))
def test_bad_constructor_arguments(method: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        get_localizer(method, ARR, FS, **kwargs)


def test_defaults_and_band() -> None:
    loc = get_localizer("srp-phat", ARR, FS)
    assert loc.nfft == 512 and loc.hop == 256 and loc.fmin == 300.0
    assert loc.fmax <= FS / 2 and np.all((loc.freqs >= 300.0) & (loc.freqs <= loc.fmax))
    assert np.all(np.diff(loc.freq_bins) == 1)
    # at 8 kHz the default band is clipped to Nyquist
    assert get_localizer("music", ARR, 8000).fmax <= 4000.0


@pytest.mark.parametrize("method", sorted(localizers_for(ARR)))
def test_result_fields_and_json(method: str) -> None:
    loc = get_localizer(method, ARR, FS)
    rng = np.random.default_rng(0)
    x = plane_wave(ARR, 60.0, 0.0, white_noise(3 * FS, rng), FS, FS // 2)
    r = loc.locate(x, num_sources=2)
    assert isinstance(r, DOAResult) and r.method == method
    assert r.azimuth.shape == r.elevation.shape == r.power.shape == (2,)
    assert r.power[0] == pytest.approx(1.0) and r.power[0] >= r.power[1]
    assert r.start == 0.0 and r.end == pytest.approx(0.5)
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d  # plain JSON types
    assert set(d) == {"method", "start", "end", "decision", "level_dbfs", "sources", "rejected"}
    assert len(d["sources"]) + len(d["rejected"]) == 2 and d["sources"] and d["decision"] == "source"
    assert all(type(v) is float for s in d["sources"] + d["rejected"] for k, v in s.items() if k != "decision")
    with pytest.raises(AttributeError):
        r.method = "other"  # frozen


def test_to_dict_non_finite_becomes_null() -> None:
    g = AzimuthGrid(8)
    r = DOAResult("x", np.array([np.nan]), np.array([0.0]), np.array([np.inf]), np.ones(8), g, 0.0, None)
    d = r.to_dict()
    assert d["sources"][0]["azimuth"] is None and d["sources"][0]["power"] is None and d["end"] is None
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize("method", sorted(localizers_for(ARR)))
def test_batch_equals_single_and_stft_path(method: str) -> None:
    loc = get_localizer(method, ARR, FS)
    rng = np.random.default_rng(1)
    xs = np.stack([plane_wave(ARR, az, 0.0, white_noise(2 * FS, rng), FS, FS // 2) + 0.3 * rng.standard_normal((4, FS // 2))
                   for az in (-100.0, 10.0, 135.0)])
    batch = loc.locate_batch(xs, 1)
    for x, rb in zip(xs, batch):
        r1 = loc.locate(x, 1)
        np.testing.assert_allclose(rb.spectrum, r1.spectrum, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(rb.azimuth, r1.azimuth, atol=1e-6)
    X = stft(xs.astype(np.float32), loc.nfft, loc.hop)
    s = loc.spectrum_from_stft(X)
    assert s.shape == (3, len(loc.grid))
    np.testing.assert_allclose(s / s.max(1, keepdims=True), np.stack([b.spectrum for b in batch]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loc.spectrum_from_stft(X[0]), s[0], rtol=1e-4)
    from_stft = loc.locate_from_stft(X, 1)
    assert [r.azimuth[0] for r in from_stft] == pytest.approx([r.azimuth[0] for r in batch])
    with pytest.raises(ValueError, match="STFT"):
        loc.spectrum_from_stft(X[:, :2])


@pytest.mark.parametrize("method", sorted(localizers_for(ARR)))
def test_locate_frames_follows_a_moving_source(method: str) -> None:
    loc = get_localizer(method, ARR, FS)
    rng = np.random.default_rng(2)
    a = plane_wave(ARR, -70.0, 0.0, white_noise(3 * FS, rng), FS, FS)
    b = plane_wave(ARR, 120.0, 0.0, white_noise(3 * FS, rng), FS, FS)
    x = np.concatenate([a, b], axis=1)  # 2 s: first second from -70, then from 120 degrees
    res = loc.locate_frames(x, 1, frame_length=0.5, hop_length=0.5)
    assert [(r.start, r.end) for r in res] == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    est = [r.azimuth[0] for r in res]
    assert azimuth_error_deg(est[:2], -70.0).max() <= 2.0 and azimuth_error_deg(est[2:], 120.0).max() <= 2.0
    # overlapping windows; the last one is cut at the end of the input
    res = loc.locate_frames(x, 1, frame_length=0.8, hop_length=0.6)
    assert [r.start for r in res] == pytest.approx([0.0, 0.6, 1.2])
    assert res[-1].end == pytest.approx(2.0)
    with pytest.raises(ValueError, match="frame_length"):
        loc.locate_frames(x, 1, frame_length=0.0)


def test_locate_frames_memory_does_not_grow_with_window_overlap() -> None:
    # 100 overlapping 1-s windows of a 2-s clip are 25.6 MB of float32 copies; they must be
    # made batch_size windows at a time (a long recording with a small hop would not fit in RAM).
    import tracemalloc

    x = np.random.default_rng(5).standard_normal((4, 2 * FS))
    small = get_localizer("srp-phat", ARR, FS, batch_size=4)
    tracemalloc.start()
    try:
        res = small.locate_frames(x, 1, frame_length=1.0, hop_length=0.01)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(res) == 101  # starts 0, 0.01, ..., 1.0 s
    assert peak < 8e6, f"peak {peak / 1e6:.1f} MB"
    ref = get_localizer("srp-phat", ARR, FS, batch_size=256).locate_frames(x, 1, frame_length=1.0, hop_length=0.01)
    assert [(r.start, r.end) for r in res] == [(r.start, r.end) for r in ref]
    np.testing.assert_allclose(np.stack([r.spectrum for r in res]), np.stack([r.spectrum for r in ref]), rtol=1e-4, atol=1e-6)


def test_short_and_silent_inputs_do_not_crash() -> None:
    for method in localizers_for(ARR):
        loc = get_localizer(method, ARR, FS)
        r = loc.locate(np.random.default_rng(0).standard_normal((4, 300)))  # shorter than one frame
        assert np.all(np.isfinite(r.spectrum)) and r.azimuth.shape == (1,)
        r = loc.locate(np.zeros((4, FS)))
        assert np.all(np.isfinite(r.spectrum)) and np.all(np.isfinite(r.azimuth))


def test_music_subspace_clamped_on_two_mic_array() -> None:
    loc = get_localizer("music", MicArray.preset("stereo"), FS)
    assert loc.subspace_size(3) == 1
    r = loc.locate(np.random.default_rng(0).standard_normal((2, FS)), num_sources=2)
    assert r.azimuth.shape == (2,)


def test_stft_matches_numpy_reference() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 2000))
    X = stft(x, 256, 100)
    n_frames = 1 + (2000 - 256) // 100
    assert X.shape == (2, 3, 129, n_frames) and X.dtype == np.complex128
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)  # periodic Hann
    ref = np.stack([np.fft.rfft(x[..., t * 100 : t * 100 + 256] * w, axis=-1) for t in range(n_frames)], axis=-1)
    np.testing.assert_allclose(X, ref, atol=1e-10)
    Xt = stft(torch.as_tensor(x), 256, 100, window="rect")
    assert isinstance(Xt, torch.Tensor)
    np.testing.assert_allclose(Xt[..., 1].numpy(), np.fft.rfft(x[..., 100:356], axis=-1), atol=1e-10)
    assert stft(np.zeros(100), 256).shape == (129, 1)  # padded to one frame
    with pytest.raises(ValueError, match="window"):
        stft(x, 256, window="hamming")
