"""Two views per clip: shapes, the shared ChannelSwap symmetry, RandomResizedCrop on all channels, crops, switches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from soundloc.features import get_feature
from soundloc.features.stacks import FeatureConfig
from soundloc.geometry import MicArray
from soundloc.ssl import TimeCrop, ViewMaker, parse_augment

ARRAY = MicArray.preset("circular4")
FS = 16000


def _mic() -> nn.Module:
    return get_feature("mic", in_channels=4, config=FeatureConfig.preset("mcsimclr"))


def _noise(b: int, n: int, seed: int = 0) -> torch.Tensor:
    """Independent white noise per mic with gains 1, 2, 4, 8 (each mic recognisable by its level)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 4, n, generator=g) * torch.tensor([1.0, 2.0, 4.0, 8.0])[None, :, None]


def test_shapes_and_all_augmentations() -> None:
    vm = ViewMaker(ARRAY, _mic(), crop=int(0.8 * FS), seed=0)
    f1, f2 = vm(_noise(3, FS))
    assert f1.shape == f2.shape == (3, 10, 41, 64)  # 0.8 s, 20 ms hop, centred frames; 4 mel + 6 GCC; 64 bins
    assert not torch.equal(f1, f2)
    assert torch.isfinite(f1).all() and torch.isfinite(f2).all()


def _reference_views(vm: ViewMaker, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two views made one after the other from the modules' transforms (one process): per view
    a crop by slicing, Mixup with the view's own crops, the pair's ChannelSwap, a feature call of
    its own, then RandomResizedCrop and ChannelDrop; each generator drawn view 1 first."""
    b, n = x.shape[0], x.shape[2]
    views = []
    for _ in range(2):
        start = vm.crop.sample(b, n)
        v = torch.stack([x[k, :, int(start[k]) : int(start[k]) + vm.crop.length] for k in range(b)])
        if vm.mu.active:
            v = vm.mu.transform(v, vm.mu.sample(b), others=v.clone())
        views.append(v)
    if vm.cs.enabled:
        idx = vm.cs.sample(b)
        views = [vm.cs.apply_waveform(v, idx) for v in views]
    out = []
    for v in views:
        f = vm.features(v)
        if vm.rrc.active:
            f = vm.rrc.transform(f, vm.rrc.sample(b, f.shape[2], f.shape[3]))
        if vm.cd.active:
            f = vm.cd.transform(f, vm.cd.sample(b, f.shape[1]))
        out.append(f)
    return out[0], out[1]


@pytest.mark.parametrize("augment", [("cs", "mu", "rrc", "cd"), ("mu",), ("cs", "rrc"), ()])
def test_views_equal_the_view_by_view_reference(augment: tuple[str, ...]) -> None:
    # one batch of 2B rows for both views == two separate views, same seed, same draws
    x = _noise(6, FS, seed=4) * torch.linspace(0.2, 3.0, 6)[:, None, None]
    ref = _reference_views(ViewMaker(ARRAY, _mic(), crop=int(0.8 * FS), augment=augment, seed=7), x)
    vm = ViewMaker(ARRAY, _mic(), crop=int(0.8 * FS), augment=augment, seed=7)
    new = vm(x)
    for f, r in zip(new, ref):
        assert f.shape == r.shape == (6, 10, 41, 64)
        torch.testing.assert_close(f, r, rtol=0, atol=1e-4)  # dB and GCC values; float32 rounding only
    assert not torch.equal(new[0], new[1])
    assert (new[0] == 0).flatten(2).all(dim=2).any() == ("cd" in augment)  # a dropped channel somewhere


def test_both_views_get_the_same_symmetry() -> None:
    # mic levels 1:2:4:8 -> the order of the 4 log-mel channel means of a view is the mic permutation
    # it got; crops, Mixup (same level pattern in every clip) and RandomResizedCrop keep that order
    vm = ViewMaker(ARRAY, _mic(), crop=int(0.6 * FS), augment=("cs", "mu", "rrc"), seed=3)
    f1, f2 = vm(_noise(16, FS, seed=1))
    p1 = torch.argsort(f1[:, :4].mean(dim=(2, 3)), dim=1)
    p2 = torch.argsort(f2[:, :4].mean(dim=(2, 3)), dim=1)
    assert torch.equal(p1, p2)
    perms = {tuple(int(v) for v in torch.argsort(p)) for p in p1}  # mic at each output channel
    syms = {s.perm for s in vm.cs.symmetries}
    assert perms <= syms and len(perms) >= 3  # array symmetries only, and several of them drawn


def test_without_channel_swap_the_mics_stay() -> None:
    vm = ViewMaker(ARRAY, _mic(), crop=int(0.6 * FS), augment=("mu", "rrc"), seed=3)
    f1, _ = vm(_noise(8, FS, seed=1))
    assert torch.equal(torch.argsort(f1[:, :4].mean(dim=(2, 3)), dim=1), torch.arange(4).expand(8, 4))


class _SameImage(nn.Module):
    """Fake feature stack: the same (T, F) image on all 10 channels (so any misalignment shows)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img = x[:, 0, : 40 * 64].reshape(x.shape[0], 1, 40, 64)
        return img.expand(-1, 10, -1, -1).contiguous()


def test_resized_crop_keeps_mel_and_gcc_aligned() -> None:
    vm = ViewMaker(ARRAY, _SameImage(), crop=FS, augment=("rrc",), seed=5)
    x = _noise(4, FS)
    f1, f2 = vm(x)
    orig = _SameImage()(x)
    for f in (f1, f2):
        assert torch.equal(f, f[:, :1].expand_as(f))  # every channel got the same box
        assert not torch.allclose(f, orig)  # and it was cropped
    assert not torch.allclose(f1, f2)  # independently per view


def test_channel_drop_zeroes_whole_channels() -> None:
    vm = ViewMaker(ARRAY, _SameImage(), crop=FS, augment=("cd",), channel_drop=0.5, seed=2)
    f1, _ = vm(_noise(6, FS) + 10.0)
    zero = (f1 == 0).flatten(2).all(dim=2)
    kept = (f1 != 0).flatten(2).any(dim=2)
    assert torch.equal(zero, ~kept) and zero.any() and (~zero).any()


def test_no_augmentation_views_are_two_plain_crops() -> None:
    vm = ViewMaker(ARRAY, _mic(), crop=int(0.5 * FS), augment=(), seed=0)
    x = _noise(2, FS)
    state = vm.crop.rng_state()
    f1, f2 = vm(x)
    vm.crop.set_rng_state(state)
    s1 = vm.crop.sample(2, FS)
    s2 = vm.crop.sample(2, FS)
    mic = _mic()
    torch.testing.assert_close(f1, mic(torch.stack([x[b, :, int(s1[b]): int(s1[b]) + FS // 2] for b in range(2)])))
    torch.testing.assert_close(f2, mic(torch.stack([x[b, :, int(s2[b]): int(s2[b]) + FS // 2] for b in range(2)])))


def test_time_crop_matches_slicing() -> None:
    x = torch.arange(2 * 3 * 50, dtype=torch.float32).reshape(2, 3, 50)
    tc = TimeCrop(7, seed=0)
    start = tc.sample(2, 50)
    y = tc.transform(x, start)
    ref = np.stack([x[b, :, int(start[b]): int(start[b]) + 7].numpy() for b in range(2)])
    np.testing.assert_array_equal(y.numpy(), ref)
    with pytest.raises(ValueError, match="shorter than the 7-sample crop"):
        tc.sample(1, 5)


def test_parse_augment() -> None:
    assert parse_augment("rrc,cs") == ("cs", "rrc")
    assert parse_augment("all") == ("cs", "mu", "rrc", "cd")
    assert parse_augment("none") == ()
    with pytest.raises(ValueError, match="unknown augmentation 'xx'"):
        parse_augment("cs,xx")


class _TimeConstantStack(nn.Module):
    """Fake 10-channel stack (4 "mel" + 6 "GCC" channels) whose image varies along F only."""

    in_channels = 4

    def lag_channels(self, in_channels: int) -> list[int]:
        assert in_channels == 4
        return list(range(4, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        row = x[:, 0, :64].abs().cumsum(dim=1)  # (B, F), strictly varying along F
        return row[:, None, None, :].expand(-1, 10, 40, -1).contiguous()


@pytest.mark.parametrize("rrc_lags", [True, False])
def test_resized_crop_of_gcc_lags_is_optional(rrc_lags: bool) -> None:
    """rrc_lags=False: GCC channels are cropped along time only (a time-constant image is unchanged), the
    mel channels still along both axes; the default crops the lag axis too."""
    vm = ViewMaker(ARRAY, _TimeConstantStack(), crop=FS, augment=("rrc",), rrc_lags=rrc_lags, seed=5)
    x = _noise(8, FS)
    orig = _TimeConstantStack()(x)
    for f in vm(x):
        moved_mel = ~torch.isclose(f[:, :4], orig[:, :4], atol=1e-5).flatten(1).all(dim=1)
        moved_gcc = ~torch.isclose(f[:, 4:], orig[:, 4:], atol=1e-5).flatten(1).all(dim=1)
        assert moved_mel.any()
        assert torch.equal(moved_gcc, moved_mel) if rrc_lags else not moved_gcc.any()


def test_lag_channels_of_the_feature_stacks() -> None:
    assert _mic().lag_channels(4) == list(range(4, 10))  # type: ignore[operator]
    foa = get_feature("foa", in_channels=4, config=FeatureConfig.preset("mcsimclr"))
    assert foa.lag_channels(4) == []  # type: ignore[operator]
