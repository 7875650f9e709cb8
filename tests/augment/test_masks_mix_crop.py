"""SpecAugment, Mixup, RandomResizedCrop, ChannelDrop: shape contracts, statistics, closed forms, references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soundloc.augment import (
    AUGMENTATIONS,
    ChannelDrop,
    ChannelSwap,
    Mixup,
    RandomResizedCrop,
    SpecAugment,
    get_augmentation,
)
from soundloc.augment.mixup import rms
from soundloc.augment.resized_crop import CropParams
from soundloc.geometry import MicArray

# -- SpecAugment ---------------------------------------------------------------


def test_spec_augment_same_mask_on_all_channels_and_bands() -> None:
    sa = SpecAugment(time_masks=2, time_width=8, freq_masks=2, freq_width=6, value=-5.0, seed=0)
    f = torch.randn(16, 10, 40, 64).abs() + 1.0  # never -5 by itself
    y = sa(f)
    assert y.shape == f.shape
    masked = y == -5.0
    assert torch.equal(masked, masked[:, :1].expand_as(masked))  # identical across channels
    assert torch.equal(y[~masked], f[~masked])  # untouched elsewhere
    m = masked[:, 0]  # (B, T, F): union of full rows (time) and full columns (freq)
    rows, cols = m.all(dim=2), m.all(dim=1)
    assert torch.equal(m, rows[:, :, None] | cols[:, None, :])
    assert rows.sum(dim=1).max() <= 16 and cols.sum(dim=1).max() <= 12
    assert bool(rows.any()) and bool(cols.any())


def test_spec_augment_mean_fill_uses_each_clip_channel_mean() -> None:
    """value="mean": masked cells get the clip's own per-channel mean (un-normalised dB features)."""
    f = torch.randn(3, 4, 30, 16) * 5.0 - 40.0  # log-mel-like: about -40 dB
    sa = SpecAugment(time_masks=2, time_width=6, freq_masks=2, freq_width=4, value="mean", seed=3)
    params = sa.sample(3, 30, 16)
    y = sa.transform(f, params)
    m = (params.time[:, None, :, None] | params.freq[:, None, None, :]).expand_as(f)
    mean = f.mean(dim=(2, 3), keepdim=True).expand_as(f)
    assert bool(m.any())
    assert torch.equal(y[m], mean[m]) and torch.equal(y[~m], f[~m])
    with pytest.raises(ValueError, match="'mean'"):
        SpecAugment(value="median")


def test_spec_augment_mask_statistics_match_analytic() -> None:
    # one time mask, width uniform in 0..W, start uniform in 0..T-w: P(frame t masked) in closed form
    T, W, B = 20, 6, 20000
    sa = SpecAugment(time_masks=1, time_width=W, freq_masks=0, freq_width=0, seed=1)
    p = sa.sample(B, T, 4)
    assert not bool(p.freq.any())
    widths = p.time.sum(dim=1)
    hist = torch.bincount(widths, minlength=W + 1).double() / B
    np.testing.assert_allclose(hist.numpy(), np.full(W + 1, 1 / (W + 1)), atol=0.012)
    ref = np.zeros(T)
    for w in range(W + 1):
        for start in range(T - w + 1):
            ref[start:start + w] += 1.0 / ((W + 1) * (T - w + 1))
    np.testing.assert_allclose(p.time.double().mean(dim=0).numpy(), ref, atol=0.012)


def test_spec_augment_switches_and_seed() -> None:
    f = torch.randn(4, 7, 30, 64)
    assert torch.equal(SpecAugment(p=0.0, seed=0)(f), f)
    assert torch.equal(SpecAugment(enabled=False, seed=0)(f), f)
    assert torch.equal(SpecAugment(seed=3)(f), SpecAugment(seed=3)(f))
    sa = SpecAugment(p=0.5, seed=2)
    p = sa.sample(4000, 30, 64)
    touched = (p.time.any(dim=1) | p.freq.any(dim=1)).double().mean()
    # touched only when applied (p = 0.5) and not every mask drew width 0
    assert 0.45 < float(touched) <= 0.5 + 0.03
    with pytest.raises(ValueError, match="features"):
        sa(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="time_width"):
        SpecAugment(time_width=-1)


# -- Mixup ---------------------------------------------------------------------


def test_mixup_closed_form_weights_and_normalisation() -> None:
    mu = Mixup(min_weight=0.05, max_weight=0.3, seed=0)
    x = torch.randn(32, 4, 500, dtype=torch.float64) * torch.linspace(0.1, 5.0, 32, dtype=torch.float64)[:, None, None]
    params = mu.sample(32)
    assert bool((params.partner != torch.arange(32)).all())  # never mixed with itself
    w = params.weight
    assert bool(((w >= 0.05) & (w <= 0.3)).all()) and float(w.std()) > 0.03
    y = mu.transform(x, params)
    # the batch as its own pool (partner energies reused) == the same clips given as a separate pool
    torch.testing.assert_close(mu.transform(x, params, others=x.clone()), y, rtol=1e-12, atol=0)
    # the anchor's level is kept
    torch.testing.assert_close(rms(y), rms(x), rtol=1e-6, atol=0)
    # closed form: y ∝ (1 - w) x / rms(x) + w x_o / rms(x_o)
    for b in range(32):
        o = int(params.partner[b])
        ref = (1 - w[b]) * x[b] / rms(x[b:b + 1]) + w[b] * x[o] / rms(x[o:o + 1])
        ref = ref / torch.sqrt(torch.mean(ref**2)) * rms(x[b:b + 1])
        torch.testing.assert_close(y[b], ref.to(y.dtype), rtol=1e-5, atol=1e-7)  # EPS in the divisions
        # anchor dominant: more correlated with its own clip than with the partner
        ca = float(torch.sum(y[b] * x[b]) / (y[b].norm() * x[b].norm()))
        co = float(torch.sum(y[b] * x[o]) / (y[b].norm() * x[o].norm()))
        assert ca > co


def test_mixup_pool_single_clip_and_switches() -> None:
    x = torch.randn(1, 4, 100)
    assert torch.equal(Mixup(seed=0)(x), x)  # nobody to mix with
    pool = torch.randn(5, 4, 100)
    y = Mixup(seed=0)(x, pool)
    assert y.shape == x.shape and not torch.equal(y, x)
    x8 = torch.randn(8, 4, 100)
    assert torch.equal(Mixup(p=0.0, seed=0)(x8), x8) and torch.equal(Mixup(enabled=False, seed=0)(x8), x8)
    with pytest.raises(ValueError, match="0.5"):
        Mixup(max_weight=0.6)
    with pytest.raises(ValueError, match="waveforms"):
        Mixup(seed=0)(torch.randn(8, 4, 10, 3))


# -- RandomResizedCrop ---------------------------------------------------------


def test_rrc_identity_crop_reproduces_input() -> None:
    f = torch.randn(3, 10, 50, 64)
    rrc = RandomResizedCrop(seed=0)
    full = CropParams(top=torch.zeros(3, dtype=torch.long), height=torch.full((3,), 50), left=torch.zeros(3, dtype=torch.long),
                      width=torch.full((3,), 64))
    assert torch.equal(rrc.transform(f, full), f)
    assert torch.equal(RandomResizedCrop(p=0.0, seed=0)(f), f)


def test_rrc_matches_crop_then_interpolate_reference() -> None:
    rrc = RandomResizedCrop(seed=1)
    f = torch.randn(8, 10, 50, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    params = rrc.sample(8, 50, 64)
    y = rrc.transform(f, params)
    for b in range(8):
        t0, h, l0, w = (int(v[b]) for v in (params.top, params.height, params.left, params.width))
        crop = f[b:b + 1, :, t0:t0 + h, l0:l0 + w]
        ref = F.interpolate(crop, size=(50, 64), mode="bilinear", align_corners=False)
        torch.testing.assert_close(y[b:b + 1], ref, rtol=1e-10, atol=1e-10)
    assert rrc(f.float()).dtype == torch.float32
    # a batch where some boxes are the full map: those rows exactly the input, the others as above
    full = CropParams(top=torch.where(torch.arange(8) % 3 == 0, 0, params.top),
                      height=torch.where(torch.arange(8) % 3 == 0, 50, params.height),
                      left=torch.where(torch.arange(8) % 3 == 0, 0, params.left),
                      width=torch.where(torch.arange(8) % 3 == 0, 64, params.width))
    y2 = rrc.transform(f, full)
    assert torch.equal(y2[0::3], f[0::3])
    keep = torch.arange(8) % 3 != 0
    assert torch.equal(y2[keep], y[keep])


def test_rrc_keeps_channels_aligned_and_draws_in_range() -> None:
    img = torch.randn(6, 1, 50, 64)
    f = img.expand(6, 10, 50, 64).contiguous()  # every channel the same "image" (mel and GCC alike)
    y = RandomResizedCrop(seed=2)(f)
    assert torch.equal(y, y[:, :1].expand_as(y))
    assert not torch.allclose(y, f)
    p = RandomResizedCrop(seed=3).sample(5000, 50, 64)
    area = (p.height * p.width).double() / (50 * 64)
    ratio = (p.width.double() / 64) / (p.height.double() / 50)
    assert float(area.min()) > 0.8 - 0.05 and float(area.max()) <= 1.0
    assert float(ratio.min()) > 0.8 - 0.06 and float(ratio.max()) < 1.25 + 0.06
    assert bool(((p.top + p.height <= 50) & (p.left + p.width <= 64)).all())
    assert float(area.std()) > 0.02 and len(set(p.top.tolist())) > 3


# -- ChannelDrop ---------------------------------------------------------------


def test_channel_drop_whole_channels_rate() -> None:
    cd = ChannelDrop(drop=0.1, seed=0)
    f = torch.rand(2000, 10, 4, 8) + 0.5
    y = cd(f)
    zero = (y == 0).all(dim=-1).all(dim=-1)  # (B, C): whole channels
    assert torch.equal((y == 0), zero[:, :, None, None].expand_as(y))
    assert abs(float(zero.double().mean()) - 0.1) < 0.01
    assert torch.equal(y[~zero], f[~zero])
    g = f.clone()
    dropped = zero.clone()
    assert cd.transform(g, dropped, inplace=True) is g and torch.equal(g, cd.transform(f, dropped))
    assert torch.equal(ChannelDrop(p=0.0, seed=0)(f), f) and torch.equal(ChannelDrop(enabled=False, seed=0)(f), f)
    with pytest.raises(ValueError, match="drop"):
        ChannelDrop(drop=-0.1)


# -- registry and reproducibility ----------------------------------------------


def test_registry_and_aliases() -> None:
    arr = MicArray.preset("circular4")
    assert isinstance(get_augmentation("cs", array=arr, seed=0), ChannelSwap)
    for alias, cls in (("mu", Mixup), ("rrc", RandomResizedCrop), ("cd", ChannelDrop), ("Spec_Augment", SpecAugment)):
        assert isinstance(get_augmentation(alias, seed=0), cls)
    with pytest.raises(ValueError, match="choose from"):
        get_augmentation("rotate")
    with pytest.raises(ValueError, match="array"):
        get_augmentation("channel-swap")
    assert set(AUGMENTATIONS) == {"channel-swap", "spec-augment", "mixup", "resized-crop", "channel-drop", "clip-mix"}


def test_rng_state_resume_gives_same_draws() -> None:
    f = torch.randn(4, 10, 30, 64)
    a = RandomResizedCrop(seed=5)
    a(f)
    state = a.rng_state()
    nxt = a(f)
    b = RandomResizedCrop(seed=99)
    b.set_rng_state(state)
    assert torch.equal(b(f), nxt)
    g = torch.Generator().manual_seed(0)
    h = torch.Generator().manual_seed(0)
    assert torch.equal(SpecAugment(seed=1)(f, generator=g), SpecAugment(seed=2)(f, generator=h))
