"""Our mel filterbank and log-mel against librosa (test-only dependency) on the same settings."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from soundloc.features import LogMel, hz_to_mel, mel_filterbank, mel_to_hz


@pytest.mark.parametrize("scale", ["slaney", "htk"])
@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize(
    "fs,nfft,n_mels,fmin,fmax",
    [(24000, 1024, 64, 0.0, None), (16000, 512, 40, 50.0, 7000.0), (44100, 2048, 128, 20.0, 16000.0), (8000, 256, 10, 300.0, 3400.0)],
)
def test_filterbank_matches_librosa(scale: str, norm: str | None, fs: int, nfft: int, n_mels: int, fmin: float, fmax: float | None) -> None:
    ours = mel_filterbank(fs, nfft, n_mels, fmin=fmin, fmax=fmax, scale=scale, norm=norm)
    ref = librosa.filters.mel(sr=fs, n_fft=nfft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=scale == "htk", norm=norm, dtype=np.float64)
    assert ours.shape == ref.shape == (n_mels, nfft // 2 + 1)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * ref.max())


@pytest.mark.parametrize("scale", ["slaney", "htk"])
def test_mel_scale_matches_librosa_and_inverts(scale: str) -> None:
    f = np.array([0.0, 50.0, 999.0, 1000.0, 1001.0, 4000.0, 12000.0, 22050.0])
    np.testing.assert_allclose(hz_to_mel(f, scale), librosa.hz_to_mel(f, htk=scale == "htk"), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f, scale), scale), f, rtol=1e-12, atol=1e-9)


def _signal(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x[..., : shape[-1] // 4] *= 1e-3  # a quiet stretch exercises the log floor
    return x.astype(np.float32)


@pytest.mark.parametrize(
    "kw",
    [
        {"fs": 24000, "nfft": 1024, "hop": 480, "win_length": 960, "n_mels": 64, "center": True},  # DCASE setting
        {"fs": 16000, "nfft": 512, "hop": 160, "win_length": 400, "n_mels": 40, "center": True, "fmin": 50.0, "fmax": 7600.0,
         "mel_scale": "htk", "mel_norm": None},
        {"fs": 16000, "nfft": 512, "hop": 256, "win_length": None, "n_mels": 32, "center": False},
    ],
)
def test_logmel_matches_librosa_db(kw: dict) -> None:
    x = _signal((2, 3, 12000))
    f = LogMel(**kw)
    ours = f(torch.from_numpy(x)).numpy()
    S = librosa.feature.melspectrogram(
        y=x.astype(np.float64), sr=kw["fs"], n_fft=kw["nfft"], hop_length=kw["hop"], win_length=kw["win_length"],
        center=kw["center"], pad_mode="constant", power=2.0, n_mels=kw["n_mels"], fmin=kw.get("fmin", 0.0),
        fmax=kw.get("fmax"), htk=kw.get("mel_scale") == "htk", norm=kw.get("mel_norm", "slaney"),
    )
    ref = np.swapaxes(librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=None), -1, -2)  # (B, C, T, mels)
    assert ours.shape == ref.shape == (2, 3, f.num_frames(12000), kw["n_mels"])
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-3)  # float32 vs float64 in dB


def test_logmel_top_db_and_natural_log() -> None:
    x = _signal((1, 2, 8000), seed=1)
    kw = {"fs": 16000, "nfft": 512, "hop": 256, "n_mels": 40}
    S = librosa.feature.melspectrogram(y=x.astype(np.float64), sr=16000, n_fft=512, hop_length=256, n_mels=40, pad_mode="constant")
    ours = LogMel(**kw, top_db=30.0)(torch.from_numpy(x)).numpy()
    for c in range(2):  # librosa applies top_db per call: one call per channel of one clip
        np.testing.assert_allclose(ours[0, c], librosa.power_to_db(S[0, c], top_db=30.0).T, atol=2e-3)
    assert (ours.max(axis=(-2, -1)) - ours.min(axis=(-2, -1)) <= 30.0 + 1e-3).all()
    nat = LogMel(**kw, log="log", amin=1e-6)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(nat, np.log(np.swapaxes(S, -1, -2) + 1e-6), atol=2e-4)


def test_logmel_errors() -> None:
    with pytest.raises(ValueError, match="mel scale"):
        LogMel(fs=16000, nfft=512, hop=256, mel_scale="bark")
    with pytest.raises(ValueError, match="log kind"):
        LogMel(fs=16000, nfft=512, hop=256, log="log2")
    with pytest.raises(ValueError, match="fmin"):
        mel_filterbank(16000, 512, 40, fmin=9000.0)
    f = LogMel(fs=16000, nfft=512, hop=256, in_channels=4)
    with pytest.raises(ValueError, match="expects 4 input channels, got 2"):
        f(torch.zeros(1, 2, 4000))
    with pytest.raises(ValueError, match="batch, channels, samples"):
        f(torch.zeros(4, 4000))
