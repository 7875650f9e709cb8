"""audio.iter_audio_blocks: block-by-block reading equals read_audio; checks per block name the time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundloc.audio import AudioError, iter_audio_blocks, read_audio

FS = 16000


def _noise(n: int, ch: int = 4, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((ch, n))).astype(np.float32)


def _write(path: Path, x: np.ndarray, fs: int = FS) -> Path:
    sf.write(str(path), x.T, fs, subtype="FLOAT")
    return path


def _blocks(path, block, **kw) -> list[np.ndarray]:
    return [b for b, _ in iter_audio_blocks(path, block, **kw)]


@pytest.mark.parametrize("block", [1, 777, 16000, 10**6])
def test_blocks_concatenate_to_read_audio(tmp_path, block):
    f = _write(tmp_path / "a.wav", _noise(12345))
    whole, fs = read_audio(f)
    blocks = list(iter_audio_blocks(f, block))
    assert all(r == fs for _, r in blocks)
    assert all(0 < b.shape[1] <= block and b.dtype == np.float32 and b.shape[0] == 4 for b, _ in blocks)
    assert np.array_equal(np.concatenate([b for b, _ in blocks], axis=1), whole)
    assert len(blocks) == -(-12345 // block)


def test_resampled_blocks_equal_one_shot_resampling(tmp_path):
    f = _write(tmp_path / "r48.wav", _noise(48000 + 123, 2), 48000)
    whole, fs = read_audio(f, fs=16000)
    got = _blocks(f, 4000, fs=16000)
    assert fs == 16000 and all(b.shape[1] <= 4000 for b in got)
    assert np.array_equal(np.concatenate(got, axis=1), whole)
    with pytest.raises(AudioError, match="r48.wav: sample rate is 48000 Hz, expected 16000 Hz"):
        _blocks(f, 4000, fs=16000, resample=False)


def test_select_and_channel_checks_before_the_first_block(tmp_path):
    x = _noise(5000, 6)
    f = _write(tmp_path / "six.wav", x)
    got = np.concatenate(_blocks(f, 999, select=[4, 1, 2, 3], channels=4), axis=1)
    assert np.array_equal(got, read_audio(f, select=[4, 1, 2, 3])[0])
    with pytest.raises(AudioError, match=r"six.wav: has 6 channels \(0 to 5\), cannot select channel 6"):
        next(iter_audio_blocks(f, 999, select=[1, 2, 3, 6]))
    with pytest.raises(AudioError, match="six.wav: expected 4 channels for the array, got 6"):
        next(iter_audio_blocks(f, 999, channels=4))
    with pytest.raises(AudioError, match="no such file"):
        next(iter_audio_blocks(tmp_path / "nope.wav"))
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        next(iter_audio_blocks(tmp_path / "empty.wav"))
    with pytest.raises(ValueError, match="block_frames"):
        next(iter_audio_blocks(f, 0))


def test_nan_in_a_later_block_names_file_and_time(tmp_path):
    x = _noise(3 * FS)
    x[2, 40000] = np.nan  # 2.5 s
    f = _write(tmp_path / "nan.wav", x)
    it = iter_audio_blocks(f, FS)
    first, _ = next(it)  # the blocks before the bad one are delivered
    assert np.array_equal(first, x[:, :FS])
    with pytest.raises(AudioError, match=r"nan.wav: NaN/inf sample at 2\.500 s \(channel 2, sample 40000\)"):
        list(it)


def test_silent_file_refused_before_any_block(tmp_path):
    f = _write(tmp_path / "silent.wav", np.zeros((4, 5 * FS), np.float32))
    with pytest.raises(AudioError, match="silent.wav: silent"):
        next(iter_audio_blocks(f, FS))
    # the same message as read_audio's
    with pytest.raises(AudioError) as e1:
        read_audio(f)
    with pytest.raises(AudioError) as e2:
        next(iter_audio_blocks(f, FS))
    assert str(e1.value) == str(e2.value)


def test_late_sound_after_silence_is_read_completely(tmp_path):
    x = np.zeros((4, 5 * FS), np.float32)
    x[:, -100:] = _noise(100)  # sound only in the last block: the scan ahead finds it, then reads from where it was
    f = _write(tmp_path / "late.wav", x)
    got = np.concatenate(_blocks(f, FS), axis=1)
    assert np.array_equal(got, x)
    # allow_silent skips the scan
    g = _write(tmp_path / "quiet.wav", np.zeros((4, 2 * FS), np.float32))
    assert sum(b.shape[1] for b in _blocks(g, FS, allow_silent=True)) == 2 * FS


def test_clipping_checked_per_block_names_the_span(tmp_path):
    x = _noise(3 * FS)
    seg = x[:, FS : 2 * FS]
    x[:, FS : 2 * FS] = np.clip(seg * 30, -0.5, 0.5)  # the second second is hard-clipped
    f = _write(tmp_path / "clip.wav", x)
    with pytest.raises(AudioError, match=r"clip.wav at 1\.0-2\.0 s: heavily clipped"):
        _blocks(f, FS)
    # a file of one block: read_audio's message
    g = _write(tmp_path / "clip1.wav", np.clip(_noise(FS) * 30, -0.5, 0.5))
    with pytest.raises(AudioError) as e1:
        read_audio(g)
    with pytest.raises(AudioError) as e2:
        _blocks(g, 10 * FS)
    assert str(e1.value) == str(e2.value)


def test_reads_are_bounded_by_the_block(tmp_path, monkeypatch):
    """Memory: the file is never read in more than about one block at a time."""
    f = _write(tmp_path / "a.wav", _noise(50000))
    asked = []
    real = sf.SoundFile.read

    def spy(self, frames=-1, *a, **kw):
        asked.append(frames)
        return real(self, frames, *a, **kw)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    assert sum(b.shape[1] for b in _blocks(f, 4096)) == 50000
    assert asked and all(0 < n <= 4096 for n in asked)
