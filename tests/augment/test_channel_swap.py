"""ChannelSwap: array symmetries derived from geometry, exact on plane waves and on feature stacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.ambisonics import FoaFormat, encode_plane_wave
from soundloc.augment.channel_swap import ChannelSwap, Symmetry, array_symmetries, foa_symmetries, symmetries_for
from soundloc.features import get_feature
from soundloc.geometry import SPEED_OF_SOUND, MicArray, unit_vectors_deg

FS = 24000


def plane_wave(array: MicArray, u: np.ndarray, s: np.ndarray, fs: int = FS) -> np.ndarray:
    """(M, N) recording of the periodic signal ``s`` arriving from ``u``: exact frequency-domain delays."""
    tau = array.delays(u[None], SPEED_OF_SOUND)[0]  # (M,) seconds
    f = np.fft.rfftfreq(len(s), 1.0 / fs)
    return np.fft.irfft(np.fft.rfft(s)[None] * np.exp(-2j * np.pi * f[None] * tau[:, None]), n=len(s))


def _directions(n: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 3))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def test_symmetry_counts_and_group() -> None:
    assert len(array_symmetries(MicArray.preset("tetra"))) == 8
    assert len(array_symmetries(MicArray.preset("circular4"))) == 8
    assert len(foa_symmetries()) == 16 and len(foa_symmetries(vertical=False)) == 48
    for syms in (array_symmetries(MicArray.preset("tetra")), array_symmetries(MicArray.preset("circular4")), foa_symmetries()):
        assert syms[0].is_identity
        mats = [s.matrix for s in syms]
        for r in mats:
            np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        # closed under composition: a group
        for a in mats:
            for b in mats:
                assert min(np.abs(a @ b - c).max() for c in mats) < 1e-9


def test_tetra_matches_published_channel_swap_angles() -> None:
    # Wang et al. 2021 (DCASE2021 task 3), MIC format: the 8 (azimuth, elevation) transforms
    published = {
        "az -> az - 90, el -> -el", "az -> -az - 90, el -> el", "az -> az, el -> el", "az -> -az, el -> -el",
        "az -> az + 90, el -> -el", "az -> -az + 90, el -> el", "az -> az + 180, el -> el", "az -> -az + 180, el -> -el",
    }
    assert {s.describe() for s in array_symmetries(MicArray.preset("tetra"))} == published
    # circular4: rotations by k*90 and their mirrors, elevation kept; FOA: those x elevation flip
    c4 = {s.describe() for s in array_symmetries(MicArray.preset("circular4"))}
    rot = [f"az -> {sg}az{off}" for sg in ("", "-") for off in ("", " + 90", " - 90", " + 180")]
    assert c4 == {f"{r}, el -> el" for r in rot}
    assert {s.describe() for s in foa_symmetries()} == {f"{r}, el -> {e}" for r in rot for e in ("el", "-el")}


def test_transform_doa_angles() -> None:
    # az -> -az + 90 maps (az 30, el 20) to (60, 20)
    sym = next(s for s in array_symmetries(MicArray.preset("tetra")) if s.describe() == "az -> -az + 90, el -> el")
    np.testing.assert_allclose(sym.transform_doa(unit_vectors_deg(30.0, 20.0)), unit_vectors_deg(60.0, 20.0), atol=1e-12)


@pytest.mark.parametrize("name", ["tetra", "circular4", "respeaker4", "uma8", "linear4"])
def test_waveform_swap_equals_rotated_scene(name: str) -> None:
    array = MicArray.preset(name)
    s = np.random.default_rng(1).normal(size=4096)
    cs = ChannelSwap(array, seed=0)
    dirs = _directions()
    x = torch.tensor(np.stack([plane_wave(array, u, s) for u in dirs]))  # (5, M, N)
    for k, sym in enumerate(cs.symmetries):
        idx = torch.full((len(dirs),), k)
        y = cs.apply_waveform(x, idx).numpy()
        labels = cs.apply_doa(torch.tensor(dirs), idx).numpy()
        np.testing.assert_allclose(labels, dirs @ sym.matrix.T, atol=1e-6)
        for b, u in enumerate(dirs):
            ref = plane_wave(array, sym.matrix @ u, s)
            np.testing.assert_allclose(y[b], ref, atol=1e-9, err_msg=f"{name} {sym.describe()}")
        if not sym.is_identity:  # and the swap really changes the audio
            assert np.abs(y - x.numpy()).max() > 1e-3


def test_foa_swap_equals_rotated_scene() -> None:
    s = np.random.default_rng(2).normal(size=2048)
    dirs = _directions(seed=3)
    x = torch.tensor(np.stack([encode_plane_wave(s, u) for u in dirs]))
    for vertical in (True, False):
        cs = ChannelSwap(FoaFormat(), features="foa", vertical=vertical, seed=0)
        for k, sym in enumerate(cs.symmetries):
            y = cs.apply_waveform(x, torch.full((len(dirs),), k)).numpy()
            for b, u in enumerate(dirs):
                np.testing.assert_allclose(y[b], encode_plane_wave(s, sym.matrix @ u), atol=1e-12)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("name", ["tetra", "circular4"])
def test_mic_feature_swap_equals_features_of_swapped_audio(name: str, symmetric: bool) -> None:
    array = MicArray.preset(name)
    feat = get_feature("mic", in_channels=4, fs=FS, gcc_symmetric=symmetric, gcc_max_lag=32, n_mels=65 if symmetric else 64)
    cs = ChannelSwap(array, features="mic", gcc_symmetric=symmetric, seed=0)
    s = np.random.default_rng(4).normal(size=FS // 4)
    x = torch.tensor(np.stack([plane_wave(array, u, s) for u in _directions(2)]), dtype=torch.float32)
    f = feat(x)
    n_lags = f.shape[-1]
    for k in range(cs.num_symmetries):
        idx = torch.full((x.shape[0],), k)
        direct = feat(cs.apply_waveform(x, idx))
        swapped = cs.apply_features(f, idx)
        np.testing.assert_allclose(swapped[:, :4].numpy(), direct[:, :4].numpy(), atol=1e-4)  # mel (dB)
        flip = cs.feat_flip[k]
        for c in range(4, 10):
            a, b = swapped[:, c].numpy(), direct[:, c].numpy()
            if flip[c] and not symmetric:  # lag -L of a reversed pair is unknown: zero; the rest exact
                assert np.all(a[..., 0] == 0)
                a, b = a[..., 1:], b[..., 1:]
            np.testing.assert_allclose(a, b, atol=1e-5)
        assert n_lags == (65 if symmetric else 64)
    # some symmetry reverses a pair (so the lag mirror is exercised)
    assert bool(cs.feat_flip.any())


def test_foa_feature_swap_equals_features_of_swapped_audio() -> None:
    feat = get_feature("foa", in_channels=4, fs=FS)
    cs = ChannelSwap(FoaFormat(), features="foa", seed=0)
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.normal(size=(2, 4, FS // 4)), dtype=torch.float32)  # any FOA signal, not only a plane wave
    f = feat(x)
    for k in range(cs.num_symmetries):
        idx = torch.full((2,), k)
        np.testing.assert_allclose(cs.apply_features(f, idx).numpy(), feat(cs.apply_waveform(x, idx)).numpy(), atol=1e-4)


def test_forward_random_per_clip_reproducible_and_switchable() -> None:
    array = MicArray.preset("circular4")
    x = torch.randn(64, 4, 256)
    doa = torch.tensor(_directions(64), dtype=torch.float32)
    y1, d1 = ChannelSwap(array, seed=7)(x, doa)
    y2, d2 = ChannelSwap(array, seed=7)(x, doa)
    assert torch.equal(y1, y2) and d1 is not None and d2 is not None and torch.equal(d1, d2)
    idx = ChannelSwap(array, seed=7).sample(64)
    assert len(set(idx.tolist())) > 4  # clips draw independently
    for off in (ChannelSwap(array, p=0.0, seed=1), ChannelSwap(array, enabled=False, seed=1)):
        y, d = off(x, doa)
        assert torch.equal(y, x) and d is not None and torch.equal(d, doa)
    half = ChannelSwap(array, p=0.5, seed=3).sample(4000)
    # identity drawn when not applied (p = 0.5) or drawn among the 8 when applied: 0.5 + 0.5 / 8
    assert abs(float((half == 0).float().mean()) - (0.5 + 0.5 / 8)) < 0.03


def test_forward_pair_same_symmetry_for_both_views() -> None:
    array = MicArray.preset("circular4")
    cs = ChannelSwap(array, seed=11)
    a = torch.randn(32, 4, 300)
    feat = get_feature("mic", in_channels=4, fs=16000, preset="mcsimclr")
    b = feat(torch.randn(32, 4, 3200))
    a2, b2, idx = cs.forward_pair(a, b)
    assert torch.equal(a2, cs.apply_waveform(a, idx)) and torch.equal(b2, cs.apply_features(b, idx))
    assert len(set(idx.tolist())) > 3


def test_errors() -> None:
    array = MicArray.preset("tetra")
    with pytest.raises(ValueError, match="layout"):
        ChannelSwap(array, features="nope")
    with pytest.raises(ValueError, match="does not fit"):
        ChannelSwap(array, features="foa")
    with pytest.raises(ValueError, match="does not fit"):
        ChannelSwap(FoaFormat(), features="mic")
    with pytest.raises(ValueError, match="p must be"):
        ChannelSwap(array, p=1.5)
    cs = ChannelSwap(array, seed=0)
    with pytest.raises(ValueError, match="waveforms"):
        cs(torch.randn(2, 3, 100))
    with pytest.raises(ValueError, match="features"):
        cs(torch.randn(2, 7, 5, 64))
    with pytest.raises(ValueError, match="DOA"):
        cs.apply_doa(torch.randn(2, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="out of range"):
        cs.apply_waveform(torch.randn(2, 4, 10), torch.tensor([0, 8]))
    with pytest.raises(ValueError, match="mics"):
        array_symmetries(MicArray("big", np.random.default_rng(0).normal(size=(9, 3))))
    assert len(symmetries_for(FoaFormat())) == 16
    tilted = array_symmetries(MicArray.preset("circular6"))[2]  # a 60-degree transform is no FOA channel swap
    with pytest.raises(ValueError, match="signed permutation"):
        ChannelSwap(FoaFormat(), symmetries=[Symmetry(perm=(0, 1, 2, 3), signs=(1.0,) * 4, rotation=tilted.rotation)])
    assert ChannelSwap(FoaFormat(), seed=0).layout == "foa" and ChannelSwap(array, seed=0).layout == "mic"
