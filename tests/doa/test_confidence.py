"""Confidence, energy gate and "no source" decisions (soundloc.doa.confidence, DOAResult).

References: brute-force empirical CDFs and medians (numpy), the analytic level of a sine, fresh
diffuse noise (a seed the calibration never saw) for the false-alarm side, exact plane waves
for the detection side.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from doa_test_signals import plane_wave, white_noise

from soundloc.ambisonics import FoaFormat, encode_plane_wave
from soundloc.doa import LOCALIZERS, SRPPHAT, get_localizer, localizers_for
from soundloc.doa.batch import resolve_grid
from soundloc.doa.confidence import (
    ANY_ARRAY,
    DEFAULT_MIN_CONFIDENCE,
    QUANTILE_LEVELS,
    NullTable,
    array_key,
    decide,
    level_dbfs,
    load_calibration,
    null_quantiles,
    null_table,
    peak_ratio,
    peak_statistic,
    statistic_for,
)
from soundloc.geometry import PRESETS, AzimuthGrid, MicArray, SphereGrid, unit_vectors_deg
from soundloc.metrics.doa import angular_error_deg
from soundloc.scenes.mix import diffuse_foa_noise, diffuse_noise

FS = 16000
CLASSIC = ("gcc-phat", "srp-phat", "music", "normmusic")


def test_confidence_is_the_empirical_cdf_of_the_null():
    rng = np.random.default_rng(0)
    null = np.exp(rng.gamma(2.0, 0.05, 4000))  # ratios > 1, skewed like a max over a grid
    t = NullTable(np.array([61.0]), QUANTILE_LEVELS, np.array([null_quantiles(null)]))
    probe = np.quantile(null, [0.5, 0.9, 0.95, 0.97, 0.99])
    brute = np.array([np.mean(null <= r) for r in probe])
    np.testing.assert_allclose(t.confidence(probe, 61), brute, atol=0.01)
    assert t.confidence(np.array([null.min() * 0.9, null.max() * 1.1, np.inf, np.nan]), 61).tolist()[:3] == [0.0, 1.0, 1.0]
    assert np.isnan(t.confidence(np.array([np.nan]), 61)[0])
    # monotone in the ratio
    r = np.linspace(1.0, null.max(), 200)
    assert np.all(np.diff(t.confidence(r, 61)) >= 0)


def test_null_table_interpolates_in_log_frames_and_clamps():
    lev = np.array([0.0, 0.5, 1.0])
    t = NullTable(np.array([10.0, 40.0]), lev, np.array([[0.0, 0.1, 0.2], [0.0, 0.05, 0.1]]))
    r = math.exp(0.075)
    assert t.confidence(r, 20.0) == pytest.approx(0.5)  # log-midpoint of 10 and 40: median 0.075
    assert t.confidence(r, 10.0) == pytest.approx(0.375)  # the 10-frame row
    # shorter than the shortest calibrated window: the null is wider, so no confidence (not clamped)
    assert np.isnan(t.confidence(r, 5.0))
    assert t.confidence(r, 400.0) == pytest.approx(0.75)  # clamped to the 40-frame row


@pytest.mark.parametrize("kwargs", [{"fs": 48000}, {"fs": 16000, "nfft": 1024}, {"fs": 16000, "fmax": 4000.0},
                                    {"fs": 16000, "fmin": 100.0}])
def test_confidence_is_nan_away_from_the_calibrated_settings(kwargs):
    """The table holds at 16 kHz, nfft 512, hop 256 and the default band only (at 48 kHz diffuse
    noise passed 0.97 in 22-32 % of windows): elsewhere no confidence, the energy gate alone decides."""
    from soundloc.doa import get_localizer
    from soundloc.geometry import MicArray

    fs = kwargs.pop("fs")
    arr = MicArray.preset("circular4")
    x = np.random.default_rng(3).standard_normal((4, fs // 2)).astype(np.float32)
    loc = get_localizer("srp-phat", arr, fs, **kwargs)
    res = loc.locate(x)
    assert np.all(np.isnan(res.confidence)) and res.decision == ("source",)
    assert np.all(np.isfinite(get_localizer("srp-phat", arr, 16000).locate(x).confidence))


def test_confidence_is_nan_for_windows_shorter_than_calibrated():
    from soundloc.doa import get_localizer
    from soundloc.geometry import MicArray

    loc = get_localizer("srp-phat", MicArray.preset("circular4"), 16000)
    x = np.random.default_rng(4).standard_normal((4, 600)).astype(np.float32)  # 1 STFT frame (5 calibrated)
    assert np.all(np.isnan(loc.locate(x).confidence))


def test_peak_ratio_against_brute_force():
    rng = np.random.default_rng(1)
    s = rng.random((3, 50)) + 0.1
    peaks = np.array([[4, 7], [0, -1], [49, 3]])
    r = peak_ratio(s, peaks)
    for b in range(3):
        for k in range(2):
            if peaks[b, k] < 0:
                assert np.isnan(r[b, k])
            else:
                assert r[b, k] == pytest.approx(s[b, peaks[b, k]] / np.median(s[b]))
    assert peak_ratio(np.zeros((1, 10)), np.array([[0]]))[0, 0] == 1.0  # flat: nothing stands out
    np.testing.assert_array_equal(peak_statistic(s, peaks, "peak"), np.where(peaks >= 0, s[[[0], [1], [2]], peaks], np.nan))
    np.testing.assert_array_equal(peak_statistic(s, peaks), r)
    with pytest.raises(ValueError, match="unknown confidence statistic"):
        peak_statistic(s, peaks, "mean")


def test_level_dbfs_of_a_sine_and_of_silence():
    t = np.arange(16000) / FS
    sine = np.sin(2 * np.pi * 1000 * t)[None].repeat(4, 0)
    assert level_dbfs(sine) == pytest.approx(10 * math.log10(0.5), abs=1e-3)  # -3.01 dBFS
    assert level_dbfs(0.01 * sine) == pytest.approx(-43.01, abs=1e-2)
    assert level_dbfs(np.zeros((2, 4, 100))).tolist() == [-math.inf, -math.inf]


def test_decide_rules():
    c = np.array([0.99, 0.5, np.nan])
    assert decide(c, -20.0, 0.97, -90.0) == ("source", "below-confidence", "source")
    assert decide(c, -95.0, 0.97, -90.0) == ("below-level",) * 3
    assert decide(c, -95.0, 0.0, -math.inf) == ("source",) * 3


def test_array_key_matches_geometry_not_name():
    for name in PRESETS:
        assert array_key(MicArray.preset(name)) == name
    c4 = MicArray.preset("circular4")
    assert array_key(MicArray("mine", c4.positions + 1.0)) == "circular4"  # moved, same geometry
    assert array_key(MicArray("circular4", 2 * c4.positions)) == ANY_ARRAY  # same name, other geometry
    assert array_key(c4.rotated(yaw_deg=10.0)) == ANY_ARRAY


def test_shipped_table_covers_every_method_preset_and_grid():
    data = load_calibration()
    frames, levels = data["frames"], data["levels"]
    assert levels[0] == 0.0 and levels[-1] == 1.0 and np.all(np.diff(levels) > 0)
    assert np.all(np.diff(frames) > 0)
    for m in CLASSIC:
        for key in [f"{a}/{k}" for a in [*PRESETS, ANY_ARRAY] for k in ("2d", "3d")]:
            q = np.asarray(data["tables"][m][key])
            assert q.shape == (len(frames), len(levels)), (m, key)
            assert np.all(np.diff(q, axis=1) >= 0), (m, key)
            if statistic_for(m) == "peak-to-median":
                assert np.all(q[:, 0] >= -1e-6)  # log(peak / median) >= 0
        # the conservative null is at least every preset's
        star = np.asarray(data["tables"][m]["*/2d"])
        assert np.all(star >= np.asarray(data["tables"][m]["circular4/2d"]) - 1e-9)


def _diffuse(array: MicArray, count: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.stack([diffuse_noise(rng, array.positions, n, FS, "pink") for _ in range(count)])
    return (0.05 * x).astype(np.float32)


@pytest.mark.parametrize("method, preset", [("srp-phat", "circular4"), ("normmusic", "tetra")])
def test_diffuse_noise_gets_low_confidence_and_no_source_by_default(method, preset):
    array = MicArray.preset(preset)
    grid = AzimuthGrid(360) if array.is_planar else SphereGrid(4000)
    loc = get_localizer(method, array, FS, grid=grid)
    res = loc.locate_batch(_diffuse(array, 40, FS, seed=987654))  # a seed the calibration never used
    conf = np.array([r.confidence[0] for r in res])
    decisions = [r.window_decision for r in res]
    # nominal false-alarm rate 1 - 0.97: 6 or more of 40 has probability < 0.5 %
    assert sum(d == "source" for d in decisions) <= 5, conf
    assert np.median(conf) < 0.8
    assert all(d in ("source", "below-confidence") for d in decisions)
    assert loc.locate(_diffuse(array, 1, FS, seed=5)[0]).power[0] == 1.0  # power is unchanged


@pytest.mark.parametrize("method", CLASSIC)
def test_clear_plane_wave_gets_high_confidence(method):
    array = MicArray.preset("circular4")
    rng = np.random.default_rng(3)
    x = plane_wave(array, 40.0, 0.0, white_noise(FS + 4000, rng), FS, FS)
    x = x + 0.1 * np.std(x) * _diffuse(array, 1, FS, seed=4)[0] / 0.05  # 20 dB SNR of diffuse noise
    res = get_localizer(method, array, FS).locate(x.astype(np.float32))
    assert res.confidence[0] > 0.99 and res.decision == ("source",) and res.window_decision == "source"
    assert abs(res.azimuth[0] - 40.0) < 3.0


def test_energy_gate_on_silence_and_quiet_windows():
    array = MicArray.preset("circular4")
    loc = get_localizer("srp-phat", array, FS)
    r = loc.locate(np.zeros((4, FS), dtype=np.float32))
    assert r.level_dbfs == -math.inf and r.decision == ("below-level",) and r.window_decision == "below-level"
    rng = np.random.default_rng(5)
    x = plane_wave(array, -60.0, 0.0, white_noise(FS + 4000, rng), FS, FS)
    quiet = (x / np.sqrt(np.mean(x**2)) * 10 ** (-100 / 20)).astype(np.float32)  # -100 dBFS
    r = loc.locate(quiet)
    assert r.level_dbfs == pytest.approx(-100.0, abs=0.01) and r.window_decision == "below-level"
    assert r.confidence[0] > 0.99  # the spectrum is fine; the gate decided
    ungated = get_localizer("srp-phat", array, FS, min_level_dbfs=-math.inf).locate(quiet)
    assert ungated.window_decision == "source"
    loud = (quiet * 1e4).astype(np.float32)  # -20 dBFS
    assert get_localizer("srp-phat", array, FS, min_level_dbfs=-21.0).locate(loud).window_decision == "source"
    assert get_localizer("srp-phat", array, FS, min_level_dbfs=-19.0).locate(loud).window_decision == "below-level"


def test_locate_frames_marks_noise_windows():
    array = MicArray.preset("circular4")
    rng = np.random.default_rng(6)
    x = plane_wave(array, 100.0, 0.0, white_noise(4 * FS + 4000, rng), FS, 4 * FS)
    x[:, 2 * FS :] = 0.0
    x[:, 3 * FS :] = 0.5 * _diffuse(array, 1, FS, seed=77)[0]
    res = get_localizer("srp-phat", array, FS).locate_frames(x.astype(np.float32), frame_length=1.0)
    assert [r.window_decision for r in res][:3] == ["source", "source", "below-level"]
    assert abs(res[0].azimuth[0] - 100.0) < 3.0


def test_to_dict_json_fields():
    array = MicArray.preset("circular4")
    rng = np.random.default_rng(8)
    x = plane_wave(array, 0.0, 0.0, white_noise(FS + 4000, rng), FS, FS).astype(np.float32)
    d = get_localizer("srp-phat", array, FS).locate(x, num_sources=3).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["decision"] == "source" and isinstance(d["level_dbfs"], float)
    assert list(d) == ["method", "start", "end", "decision", "level_dbfs", "sources", "rejected"]
    assert len(d["sources"]) + len(d["rejected"]) == 3
    for s in d["sources"]:
        assert s["decision"] == "source" and s["confidence"] >= DEFAULT_MIN_CONFIDENCE
        assert set(s) == {"azimuth", "elevation", "power", "confidence", "decision"}
    for s in d["rejected"]:
        assert s["decision"] == "below-confidence" and s["confidence"] < DEFAULT_MIN_CONFIDENCE
    # everything accepted with min_confidence 0
    d0 = get_localizer("srp-phat", array, FS, min_confidence=0.0).locate(x, num_sources=3).to_dict()
    assert len(d0["sources"]) == 3 and d0["rejected"] == []


def test_detected_keeps_only_the_sources():
    array = MicArray.preset("circular4")
    r = get_localizer("srp-phat", array, FS).locate(np.zeros((4, 4000), dtype=np.float32), num_sources=2)
    assert r.num_sources == 2 and r.detected().num_sources == 0 and r.detected().decision == ()


def test_uncalibrated_method_has_nan_confidence_and_only_the_gate():
    class Uncalibrated(SRPPHAT):
        name = "not-in-the-table"

    array = MicArray.preset("circular4")
    loc = Uncalibrated(array, FS)
    assert null_table(loc.name, array, loc.grid) is None
    r = loc.locate(_diffuse(array, 1, FS, seed=9)[0])
    assert np.isnan(r.confidence[0]) and r.decision == ("source",)
    assert r.to_dict()["sources"][0]["confidence"] is None


@pytest.mark.parametrize("kw, msg", [({"min_confidence": 1.5}, "min_confidence"), ({"min_confidence": -0.1}, "min_confidence"),
                                     ({"min_level_dbfs": float("nan")}, "min_level_dbfs")])
def test_threshold_validation(kw, msg):
    with pytest.raises(ValueError, match=msg):
        get_localizer("srp-phat", MicArray.preset("circular4"), FS, **kw)


def test_every_registered_classic_method_has_a_table():
    for m in CLASSIC:
        assert m in LOCALIZERS
        assert null_table(m, MicArray.preset("tetra"), SphereGrid(500)) is not None


# --- first-order ambisonics: its own null, calibrated on diffuse FOA noise -------------------------

FOA_METHODS = ("srp-phat", "music", "normmusic", "iv")


def test_shipped_table_has_the_foa_entries():
    data = load_calibration()
    foa = FoaFormat()
    assert sorted(localizers_for(foa)) == sorted(FOA_METHODS)
    for m in FOA_METHODS:
        for k in ("2d", "3d"):
            q = np.asarray(data["tables"][m][f"foa/{k}"])
            assert q.shape == (len(data["frames"]), len(data["levels"])), (m, k)
            assert np.all(np.diff(q, axis=1) >= 0) and np.all(q[:, 0] >= -1e-6), (m, k)  # log(peak / median) >= 0
        assert data["foa"]["windows"][m] >= 200 and data["foa"]["seed"][m] != 2  # 2: the evaluation seed
        # found whatever the format's name, on the grid --grid auto picks; never the mic arrays' null
        for fmt in (foa, FoaFormat(name="my-recorder")):
            table = null_table(m, fmt, resolve_grid("auto", fmt))
            assert table is not None
            np.testing.assert_array_equal(table.quantiles, data["tables"][m]["foa/3d"])
    assert "foa/3d" not in data["tables"]["gcc-phat"]  # GCC-PHAT does not run on coincident channels


def _diffuse_foa(count: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.05 * np.stack([diffuse_foa_noise(rng, n, FS, "pink") for _ in range(count)])).astype(np.float32)


@pytest.fixture(scope="module")
def foa_noise() -> np.ndarray:
    return _diffuse_foa(40, FS // 2, seed=424242)  # a seed the calibration never used; 0.5-s windows


@pytest.mark.parametrize("method", FOA_METHODS)
def test_foa_diffuse_noise_gets_low_confidence_and_no_source_by_default(method, foa_noise):
    foa = FoaFormat()
    res = get_localizer(method, foa, FS, grid=resolve_grid("auto", foa)).locate_batch(foa_noise)
    conf = np.array([r.confidence[0] for r in res])
    assert np.all(np.isfinite(conf))  # calibrated: no NaN any more
    # nominal false-alarm rate 1 - 0.97: 6 or more of 40 has probability < 0.5 %
    assert sum(r.window_decision == "source" for r in res) <= 5, conf
    assert np.median(conf) < 0.8


@pytest.mark.parametrize("method", FOA_METHODS)
def test_foa_plane_wave_gets_high_confidence(method):
    foa = FoaFormat()
    rng = np.random.default_rng(11)
    x = encode_plane_wave(white_noise(FS // 2, rng), unit_vectors_deg(-70.0, 25.0))  # (4, N) ACN/SN3D
    x = x + 0.1 * np.std(x[0]) * _diffuse_foa(1, FS // 2, seed=12)[0] / 0.05  # 20 dB SNR on W
    res = get_localizer(method, foa, FS, grid=resolve_grid("auto", foa)).locate(x.astype(np.float32))
    assert res.confidence[0] > 0.99 and res.window_decision == "source"
    assert angular_error_deg(res.azimuth[0], res.elevation[0], -70.0, 25.0) < 8.0


def test_cut_last_window_level_and_confidence_are_those_of_its_samples():
    """locate_frames zero-pads a cut last window to the common length; its level must be that of its
    real samples (the padding lowered it by 10 log10(0.3) = -5.2 dB) and its confidence is looked up
    for its real number of STFT frames (the spectrum itself keeps the padded frames' scale)."""
    from soundloc.doa import get_localizer
    from soundloc.geometry import MicArray

    loc = get_localizer("srp-phat", MicArray.preset("circular4"), 16000)
    x = (0.1 * np.random.default_rng(7).standard_normal((4, int(2.3 * 16000)))).astype(np.float32)
    wins = loc.locate_frames(x, frame_length=1.0)
    assert [round(w.end - w.start, 2) for w in wins] == [1.0, 1.0, 0.3]
    tail = loc.locate(x[:, 2 * 16000:])
    assert wins[-1].level_dbfs == pytest.approx(tail.level_dbfs, abs=1e-6)
    frames_real = (int(0.3 * 16000) - loc.nfft) // loc.hop + 1
    ratio = peak_statistic(wins[-1].spectrum[None], np.array([[int(np.argmax(wins[-1].spectrum))]]), statistic_for("srp-phat"))
    assert loc._null is not None
    np.testing.assert_allclose(wins[-1].confidence[:1], loc._null.confidence(ratio[0], frames_real), atol=1e-9)
