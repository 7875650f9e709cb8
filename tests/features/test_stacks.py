"""Named stacks, presets and the registry: shapes, shared-STFT equality with the parts, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from soundloc.features import (
    FEATURES,
    PRESETS,
    FeatureConfig,
    GCCPHATFeature,
    LogMel,
    get_feature,
)

EXPECTED_CHANNELS = {"mic": 10, "foa": 7, "salsa-lite": 7, "logmel": 4, "gcc-phat": 6, "intensity": 3}


@pytest.mark.parametrize("name", list(FEATURES))
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_feature_shape_dtype(name: str, preset: str) -> None:
    cfg = FeatureConfig.preset(preset)
    f = get_feature(name, in_channels=4, fs=cfg.fs, preset=preset)
    x = torch.randn(2, 4, cfg.fs // 2)
    y = f(x)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    assert y.shape[:3] == (2, EXPECTED_CHANNELS[name], 1 + (cfg.fs // 2) // cfg.hop)
    assert f.out_channels(4) == EXPECTED_CHANNELS[name]


def test_mic_stack_equals_its_parts_and_baseline_crop() -> None:
    f = get_feature("mic", in_channels=4, fs=24000)
    x = torch.randn(1, 4, 12000)
    y = f(x)
    cfg = PRESETS["dcase"]
    lm = LogMel(**cfg.stft_kwargs(), n_mels=64)(x)
    gcc = GCCPHATFeature(**cfg.stft_kwargs(), max_lag=32, symmetric=False)(x)
    assert y.shape == (1, 10, 26, 64)
    torch.testing.assert_close(y[:, :4], lm)
    torch.testing.assert_close(y[:, 4:], gcc)


def test_config_overrides_and_roundtrip() -> None:
    cfg = FeatureConfig.preset("dcase").replace(n_mels=32, gcc_max_lag=16)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    f = get_feature("mic", config=cfg)
    assert f(torch.randn(1, 4, 4800)).shape[-1] == 32
    g = get_feature("logmel", n_mels=40, fs=24000)
    assert g(torch.randn(1, 4, 4800)).shape[-1] == 40


def test_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown feature 'mfcc'; choose from mic, foa"):
        get_feature("mfcc")
    with pytest.raises(ValueError, match="unknown feature preset 'x'; choose from dcase, mcsimclr"):
        get_feature("mic", preset="x")
    with pytest.raises(ValueError, match="24000 Hz audio, got 16000 Hz"):
        get_feature("mic", fs=16000)
    with pytest.raises(ValueError, match="4 FOA channels"):
        get_feature("foa", in_channels=6)
    with pytest.raises(ValueError, match=">= 2 microphones"):
        get_feature("mic", in_channels=1)
    with pytest.raises(ValueError, match="unknown feature setting 'nmels'"):
        get_feature("mic", nmels=12)
    with pytest.raises(ValueError, match="different widths"):
        get_feature("mic", gcc_symmetric=True)
    f = get_feature("mic", in_channels=4)
    with pytest.raises(ValueError, match="expects 4 input channels, got 6"):
        f(torch.randn(1, 6, 4800))


def test_other_mic_counts_and_aliases() -> None:
    f = get_feature("MIC", in_channels=6)
    assert f(torch.randn(1, 6, 4800)).shape[1] == 6 + 15
    assert get_feature("salsa_lite", in_channels=3)(torch.randn(1, 3, 4800)).shape[1] == 5


@pytest.mark.parametrize("name", ["mic", "foa", "salsa-lite"])
def test_batch_items_independent_across_cpu_chunks(name: str) -> None:
    f = get_feature(name, in_channels=4)
    x = torch.randn(5, 4, 24000)  # several CPU chunks (one 1-s clip each)
    y = f(x)
    for i in range(5):
        np.testing.assert_allclose(f(x[i : i + 1]).numpy(), y[i : i + 1].numpy(), atol=1e-4)
    # the unchunked path (gradients enabled) gives the same numbers and a gradient
    xg = x[:2].clone().requires_grad_(True)
    yg = f(xg)
    np.testing.assert_allclose(yg.detach().numpy(), y[:2].numpy(), atol=1e-3)
    yg[:, :4].sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def test_no_librosa_at_run_time() -> None:
    code = "import sys, torch, soundloc.features as F; F.get_feature('mic')(torch.randn(1, 4, 4800)); print('librosa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_gpu_matches_cpu() -> None:
    x = torch.randn(2, 4, 24000)
    for name in ("mic", "foa", "salsa-lite"):
        f = get_feature(name)
        np.testing.assert_allclose(f(x.cuda()).cpu().numpy(), f(x).numpy(), atol=2e-3, rtol=1e-3)
