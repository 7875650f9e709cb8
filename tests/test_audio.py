"""Tests for soundloc.audio: round trips, resampling, validation errors, atomic writes, listing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from soundloc.audio import (
    AudioError,
    list_audio_files,
    read_audio,
    resample,
    validate_waveform,
    write_audio,
)


def _tones(fs: int, n: int, freqs=(440.0, 660.0, 880.0, 1100.0), amp=0.5) -> np.ndarray:
    t = np.arange(n) / fs
    return np.stack([amp * np.sin(2 * np.pi * f * t + k) for k, f in enumerate(freqs)]).astype(np.float32)


def _peak_freq(x: np.ndarray, fs: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / fs)[np.argmax(spec)])


def _one_line_error(excinfo, path) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert msg.startswith(str(path))
    return msg


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------


def test_wav_float_round_trip_is_bit_exact(tmp_path):
    x = _tones(16000, 8000)
    write_audio(tmp_path / "a.wav", x, 16000)
    y, fs = read_audio(tmp_path / "a.wav", channels=4)
    assert fs == 16000 and y.dtype == np.float32 and y.shape == (4, 8000)
    np.testing.assert_array_equal(y, x)
    assert sf.info(str(tmp_path / "a.wav")).subtype == "FLOAT"


@pytest.mark.parametrize(
    "name,subtype,tol",
    [("a.flac", None, 2.0**-23), ("a.flac", "PCM_16", 2.0**-15), ("a.wav", "PCM_16", 2.0**-15),
     ("a.wav", "PCM_24", 2.0**-23)],
)
def test_pcm_round_trip_within_quantisation(tmp_path, name, subtype, tol):
    x = _tones(22050, 5000)
    write_audio(tmp_path / name, x, 22050, subtype=subtype)
    y, fs = read_audio(tmp_path / name)
    assert fs == 22050 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tol
    expected = subtype or "PCM_24"
    assert sf.info(str(tmp_path / name)).subtype == expected


def test_mono_vector_is_written_as_one_channel(tmp_path):
    x = _tones(8000, 4000)[0]
    write_audio(tmp_path / "m.flac", x, 8000)
    y, _ = read_audio(tmp_path / "m.flac", channels=1)
    assert y.shape == (1, 4000)


def test_write_creates_parent_folders_and_overwrites(tmp_path):
    p = tmp_path / "deep" / "er" / "x.wav"
    write_audio(p, _tones(8000, 800), 8000)
    write_audio(p, 0.25 * _tones(8000, 1600), 8000)
    y, _ = read_audio(p)
    assert y.shape == (4, 1600)
    assert os.listdir(p.parent) == ["x.wav"]  # no temp files left behind


# ---------------------------------------------------------------------------
# resampling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fs_out", [8000, 44100, 48000])
def test_read_resamples_and_keeps_tone_frequency(tmp_path, fs_out):
    fs_in, f0 = 16000, 1000.0
    x = _tones(fs_in, 16000, freqs=(f0, 2 * f0))
    write_audio(tmp_path / "t.wav", x, fs_in)
    y, fs = read_audio(tmp_path / "t.wav", fs=fs_out, channels=2)
    assert fs == fs_out and y.dtype == np.float32
    assert abs(y.shape[1] - 16000 * fs_out / fs_in) <= 2
    for ch, f in enumerate((f0, 2 * f0)):
        assert abs(_peak_freq(y[ch], fs_out) - f) <= fs_out / y.shape[1]  # within one FFT bin
        # amplitude preserved (0.5, so RMS 0.5/sqrt 2) away from the edges
        mid = y[ch, y.shape[1] // 4 : 3 * y.shape[1] // 4]
        assert np.sqrt(np.mean(mid.astype(float) ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resample_matches_polyphase_reference_and_keeps_leading_shape():
    rng = np.random.default_rng(0)
    # band-limited noise well below both Nyquist limits
    noise = rng.standard_normal((2, 3, 24000))
    spec = np.fft.rfft(noise, axis=-1)
    spec[..., int(24000 * 3000 / 24000):] = 0  # keep < 3 kHz at fs 24 kHz
    x = np.fft.irfft(spec, n=24000, axis=-1).astype(np.float32)
    y = resample(x, 24000, 16000)
    ref = resample_poly(x.astype(np.float64), 2, 3, axis=-1)
    assert y.shape == (2, 3, 16000) and y.dtype == np.float32
    inner = slice(500, -500)
    err = np.sqrt(np.mean((y[..., inner] - ref[..., inner]) ** 2)) / np.sqrt(np.mean(ref[..., inner] ** 2))
    assert err < 1e-2


def test_resample_same_rate_is_identity_and_rejects_bad_rates():
    x = np.ones((2, 10), np.float32)
    assert resample(x, 16000, 16000) is x
    with pytest.raises(ValueError, match="fs_out"):
        resample(x, 16000, 0)
    with pytest.raises(ValueError, match="fs_in"):
        resample(x, 16000.5, 8000)


def test_wrong_rate_with_resampling_disabled(tmp_path):
    write_audio(tmp_path / "r.wav", _tones(16000, 1600), 16000)
    with pytest.raises(AudioError) as ei:
        read_audio(tmp_path / "r.wav", fs=48000, resample=False)
    msg = _one_line_error(ei, tmp_path / "r.wav")
    assert "16000" in msg and "48000" in msg
    # same rate is fine with resampling disabled
    assert read_audio(tmp_path / "r.wav", fs=16000, resample=False)[1] == 16000


# ---------------------------------------------------------------------------
# bad inputs
# ---------------------------------------------------------------------------


def test_wrong_channel_count(tmp_path):
    write_audio(tmp_path / "two.wav", _tones(16000, 1600, freqs=(300.0, 500.0)), 16000)
    with pytest.raises(AudioError) as ei:
        read_audio(tmp_path / "two.wav", channels=4)
    assert _one_line_error(ei, tmp_path / "two.wav") == (
        f"{tmp_path / 'two.wav'}: expected 4 channels for the array, got 2"
    )


def test_select_keeps_channels_in_order_and_checks_only_them(tmp_path):
    x = _tones(16000, 1600, freqs=(300.0, 500.0, 700.0, 900.0, 1100.0, 1300.0))
    x[0] = np.nan  # e.g. a junk processed channel
    x[5] = 0.0  # e.g. a silent playback reference
    path = tmp_path / "six.wav"
    sf.write(path, x.T, 16000, subtype="FLOAT")  # write_audio itself refuses NaN
    y, fs = read_audio(path, channels=4, select=[2, 1, 3, 4])
    assert fs == 16000 and y.shape == (4, 1600)
    assert np.array_equal(y, x[[2, 1, 3, 4]])
    with pytest.raises(AudioError) as ei:  # a selected NaN channel is still refused
        read_audio(path, channels=4, select=[0, 1, 2, 3])
    assert "NaN" in _one_line_error(ei, path)
    with pytest.raises(AudioError) as ei:
        read_audio(path, channels=4, select=[1, 2, 3, 6])
    assert _one_line_error(ei, path).endswith("has 6 channels (0 to 5), cannot select channel 6")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(AudioError, match="no such file") as ei:
        read_audio(tmp_path / "nope.wav")
    _one_line_error(ei, tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="directory"):
        read_audio(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty") as ei:
        read_audio(tmp_path / "e.wav")
    _one_line_error(ei, tmp_path / "e.wav")


def test_header_only_file_has_no_samples(tmp_path):
    sf.write(str(tmp_path / "h.wav"), np.zeros((0, 2), np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="no samples"):
        read_audio(tmp_path / "h.wav")


def test_corrupt_bytes(tmp_path):
    (tmp_path / "c.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    with pytest.raises(AudioError, match="cannot decode") as ei:
        read_audio(tmp_path / "c.wav")
    _one_line_error(ei, tmp_path / "c.wav")
    (tmp_path / "t.flac").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioError, match="cannot decode"):
        read_audio(tmp_path / "t.flac")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    x = _tones(16000, 1600)
    x[2, 77] = bad
    sf.write(str(tmp_path / "n.wav"), x.T, 16000, subtype="FLOAT")  # bypass write_audio's check
    with pytest.raises(AudioError, match="NaN/inf") as ei:
        read_audio(tmp_path / "n.wav")
    msg = _one_line_error(ei, tmp_path / "n.wav")
    assert "channel 2, sample 77" in msg


def test_silent_file_rejected_unless_allowed(tmp_path):
    write_audio(tmp_path / "s.flac", np.zeros((2, 1600), np.float32), 16000)
    with pytest.raises(AudioError, match="silent") as ei:
        read_audio(tmp_path / "s.flac")
    _one_line_error(ei, tmp_path / "s.flac")
    y, _ = read_audio(tmp_path / "s.flac", allow_silent=True)
    assert y.shape == (2, 1600) and not y.any()


def test_heavily_clipped_file_rejected(tmp_path):
    x = np.clip(3 * _tones(16000, 16000, amp=1.0), -1, 1)
    write_audio(tmp_path / "clip.wav", x, 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match="clipped") as ei:
        read_audio(tmp_path / "clip.wav")
    _one_line_error(ei, tmp_path / "clip.wav")
    y, _ = read_audio(tmp_path / "clip.wav", max_clipped_fraction=None)
    assert y.shape == x.shape


def test_clipping_at_a_lower_rail_is_caught_too():
    x = 0.3 * np.clip(4 * np.sin(2 * np.pi * 50 * np.arange(16000) / 16000), -1, 1)
    with pytest.raises(AudioError, match="clipped"):
        validate_waveform(x)


@pytest.mark.parametrize("fs,f", [(16000, 1000.0), (16000, 4000.0), (48000, 20.0), (44100, 997.0)])
def test_full_scale_tones_are_not_called_clipped(fs, f):
    x = np.sin(2 * np.pi * f * np.arange(fs) / fs)
    x /= np.max(np.abs(x))
    out = validate_waveform(x)
    assert out.shape == (1, fs) and out.dtype == np.float32


def test_quiet_noise_is_not_called_clipped():
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal(16000) * 2) / 32768  # a few LSBs of 16-bit noise
    validate_waveform(x)


def test_validate_waveform_shapes_and_types():
    assert validate_waveform(np.arange(1, 5)).tolist() == [[1.0, 2.0, 3.0, 4.0]]
    with pytest.raises(AudioError, match="input: expected a"):
        validate_waveform(np.ones((2, 2, 2)))
    with pytest.raises(AudioError, match="mic: expected 3 channels for the array, got 2"):
        validate_waveform(np.ones((2, 10)) * 0.1, name="mic", channels=3)
    with pytest.raises(AudioError, match="no samples"):
        validate_waveform(np.ones((2, 0)))
    with pytest.raises(AudioError, match="dtype"):
        validate_waveform(np.ones(4, dtype=complex))


def test_audio_error_is_value_error():
    assert issubclass(AudioError, ValueError)


# ---------------------------------------------------------------------------
# writing errors and atomicity
# ---------------------------------------------------------------------------


def test_write_rejects_bad_suffix_subtype_and_values(tmp_path):
    x = _tones(8000, 800)
    with pytest.raises(AudioError, match=r"\.mp4"):
        write_audio(tmp_path / "x.mp4", x, 8000)
    with pytest.raises(AudioError, match="FLOAT"):
        write_audio(tmp_path / "x.flac", x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="full scale"):
        write_audio(tmp_path / "x.flac", 3 * x, 8000)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        write_audio(tmp_path / "x.wav", bad, 8000)
    with pytest.raises(AudioError, match="sample rate"):
        write_audio(tmp_path / "x.wav", x, 0)
    assert list(tmp_path.iterdir()) == []
    # float WAV may exceed full scale
    write_audio(tmp_path / "loud.wav", 3 * x, 8000)
    assert np.max(np.abs(read_audio(tmp_path / "loud.wav", max_clipped_fraction=None)[0])) > 1


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "keep.flac"
    x = _tones(8000, 800)
    write_audio(p, x, 8000)
    before = p.read_bytes()

    def broken_write(file, data, *a, **k):
        Path(file).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        write_audio(p, 0.5 * x, 8000)
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["keep.flac"]


# ---------------------------------------------------------------------------
# listing
# ---------------------------------------------------------------------------


def test_list_audio_files(tmp_path):
    x = _tones(8000, 800)
    for rel in ["b.wav", "a/c.FLAC", "a/deep/d.ogg", "a/.hidden.wav", ".git/e.wav", "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".txt"):
            (tmp_path / rel).write_text("hi")
        else:
            (tmp_path / rel).write_bytes(b"x")
    other = tmp_path / "other"
    other.mkdir()
    write_audio(other / "z.wav", x, 8000)
    got = list_audio_files([tmp_path / "a", tmp_path / "b.wav", tmp_path / "notes.txt", tmp_path / "b.wav"])
    assert got == sorted([tmp_path / "a/c.FLAC", tmp_path / "a/deep/d.ogg", tmp_path / "b.wav",
                          tmp_path / "notes.txt"])
    everything = list_audio_files(tmp_path)  # a single path is accepted
    assert tmp_path / ".git/e.wav" not in everything and tmp_path / "a/.hidden.wav" not in everything
    assert other / "z.wav" in everything and everything == sorted(everything)


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs POSIX symlinks")
def test_list_audio_files_symlink_loop_is_walked_once(tmp_path):
    # a link back to a parent folder (e.g. "latest -> ..") made os.walk(followlinks=True) list
    # the same file ~40 times (a/x.wav, a/up/a/x.wav, ...) until the OS refused the path
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.wav").write_bytes(b"x")
    os.symlink("..", tmp_path / "a" / "up")
    os.symlink(tmp_path / "a", tmp_path / "alias")  # a linked folder outside the loop is still followed once
    got = list_audio_files([tmp_path / "a"])
    assert got == [tmp_path / "a" / "x.wav"]
    assert list_audio_files([tmp_path / "alias"]) == [tmp_path / "alias" / "x.wav"]


def test_list_audio_files_errors(tmp_path):
    with pytest.raises(AudioError, match="no such file or directory"):
        list_audio_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(AudioError, match="no audio files"):
        list_audio_files([tmp_path / "empty"])
    with pytest.raises(AudioError, match="no input"):
        list_audio_files([])
