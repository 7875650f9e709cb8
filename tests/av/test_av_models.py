"""AVLocalizer: shapes, similarity = brute-force cosine, save/load round trip, refused tampering, image weights, EMA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from soundloc.av.ema import EMA
from soundloc.av.models import (
    AVLocalizer,
    AVModelConfig,
    ResNetTrunk,
    center_prior,
    load_av_model,
    load_image_weights,
    save_av_model,
)

TINY = AVModelConfig(embed_dim=8, image_width=4, image_blocks=(1, 1), image_stem_stride=2, audio_width=4, audio_blocks=(1, 1))


def _inputs(b: int = 3, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g), 0.1 * torch.randn(b, 4000, generator=g)


def test_shapes_and_similarity() -> None:
    torch.manual_seed(0)
    m = AVLocalizer(config=TINY).eval()
    f, a = _inputs()
    with torch.no_grad():
        out = m(f, a)
    assert out["img_loc"].shape == (3, 8, 8, 8) and out["aud_loc"].shape == (3, 8)
    assert torch.allclose(out["img_loc"].norm(dim=1), torch.ones(3, 8, 8), atol=1e-5)
    # sim is the cosine of each location's raw projection with the audio projection (brute force)
    with torch.no_grad():
        v = m.img_proj(m.image_features(f)).numpy()
        au = m.aud_proj(m.audio_features(a)).numpy()
    i, y, x = 1, 2, 5
    cos = v[i, :, y, x] @ au[i] / (np.linalg.norm(v[i, :, y, x]) * np.linalg.norm(au[i]))
    assert float(out["sim"][i, y, x]) == pytest.approx(float(cos), abs=1e-5)
    heat, conf = m.localize(f, a)
    assert heat.shape == (3, 32, 32) and conf.shape == (3,)
    assert float(heat.abs().max()) <= 1.0 + 1e-5 and bool(((conf > 0) & (conf < 1)).all())
    # separate projections (SLAVC) give other correspondence embeddings
    ms = AVLocalizer(config=AVModelConfig(**{**TINY.__dict__, "separate_projections": True})).eval()
    with torch.no_grad():
        o2 = ms(f, a)
    assert o2["img_cor"].shape == o2["img_loc"].shape and not torch.allclose(o2["img_cor"], o2["img_loc"])


def test_resnet18_layout() -> None:
    t = ResNetTrunk(in_channels=3, width=64, blocks=(2, 2, 2, 2), stem_stride=4)
    y = t(torch.rand(1, 3, 224, 224))
    assert y.shape == (1, 512, 7, 7)
    n = sum(p.numel() for p in t.parameters())
    assert n == 11176512  # torchvision resnet18 without its 1000-class fc (11,689,512 - 513,000)


def test_save_load_round_trip_and_tampering(tmp_path: Path) -> None:
    torch.manual_seed(1)
    m = AVLocalizer(config=TINY)
    with torch.no_grad():  # non-trivial batch-norm statistics and confidence
        m.train()(*_inputs(4))
        m.conf_scale.fill_(3.0)
    m.eval()
    w, c = save_av_model(m, tmp_path / "m")
    m2 = load_av_model(tmp_path / "m.json")
    f, a = _inputs(seed=5)
    h1, c1 = m.localize(f, a)
    h2, c2 = m2.localize(f, a)
    assert torch.equal(h1, h2) and torch.equal(c1, c2)
    assert m2.config == TINY
    # tampered weights: same shapes, other values -> SHA-256 mismatch
    state = load_file(str(w))
    state["img_proj.bias"] = state["img_proj.bias"] + 1.0
    save_file(state, str(w))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_av_model(tmp_path / "m")
    # a tensor of another shape, a bad config
    save_av_model(m, tmp_path / "m")
    state = load_file(str(w))
    state["aud_proj.bias"] = torch.zeros(9)
    save_file(state, str(w))
    with pytest.raises(ValueError, match="tensor 'aud_proj.bias' is"):
        load_av_model(tmp_path / "m")
    doc = json.loads(c.read_text())
    doc["config"]["image_stem_stride"] = 3
    c.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="image_stem_stride"):
        load_av_model(tmp_path / "m")
    doc["format"] = "soundloc-model"
    c.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="is not a 'soundloc-av-model' file"):
        load_av_model(tmp_path / "m")


def test_image_weights(tmp_path: Path) -> None:
    torch.manual_seed(2)
    src = ResNetTrunk(in_channels=3, width=4, blocks=(1, 1), stem_stride=2)
    state = {k: v.contiguous() for k, v in src.state_dict().items()}
    state["fc.weight"] = torch.zeros(10, 8)  # a classifier head is ignored
    save_file(state, str(tmp_path / "img.safetensors"))
    m = AVLocalizer(config=TINY)
    load_image_weights(m, tmp_path / "img.safetensors")
    assert torch.equal(m.image.conv1.weight, src.conv1.weight)
    wide = AVLocalizer(config=AVModelConfig(**{**TINY.__dict__, "image_width": 8}))
    with pytest.raises(ValueError, match="img.safetensors': tensor 'conv1.weight' is"):
        load_image_weights(wide, tmp_path / "img.safetensors")
    with pytest.raises(ValueError, match="do not exist"):
        load_image_weights(m, tmp_path / "none.safetensors")


def test_config_and_input_errors() -> None:
    with pytest.raises(ValueError, match="image_blocks"):
        AVModelConfig(image_blocks=())
    with pytest.raises(ValueError, match="visual_dropout"):
        AVModelConfig(visual_dropout=1.0)
    with pytest.raises(ValueError, match="unknown AV model config key 'depth'"):
        AVModelConfig.from_dict({"depth": 3})
    assert AVModelConfig.from_dict(TINY.to_dict()) == TINY
    m = AVLocalizer(config=TINY)
    with pytest.raises(ValueError, match="frames must be"):
        m(torch.rand(2, 1, 32, 32), torch.rand(2, 4000))
    with pytest.raises(ValueError, match="batch size"):
        m(torch.rand(2, 3, 32, 32), torch.rand(3, 4000))


def test_center_prior() -> None:
    p = center_prior(9, 11)
    assert p.shape == (9, 11) and float(p[4, 5]) == pytest.approx(1.0, abs=0.02)
    assert torch.allclose(p, p.flip(0)) and torch.allclose(p, p.flip(1))


def test_ema() -> None:
    torch.manual_seed(3)
    online = torch.nn.Linear(3, 2)
    ema = EMA(online, momentum=0.75)
    w0 = online.weight.detach().clone()
    with torch.no_grad():
        online.weight.add_(1.0)
    ema.update(online)
    assert torch.allclose(ema.target.weight, 0.75 * w0 + 0.25 * (w0 + 1.0))
    assert not ema.target.weight.requires_grad
    with pytest.raises(ValueError, match="momentum"):
        EMA(online, momentum=1.0)


def _minmax_np(x: np.ndarray) -> np.ndarray:
    lo = x.reshape(len(x), -1).min(1)[:, None, None]
    hi = x.reshape(len(x), -1).max(1)[:, None, None]
    return (x - lo) / (hi - lo)


def test_object_guided_heatmap_is_the_weighted_mix(tmp_path: Path) -> None:
    """OGL: w = 0 is the raw cosine map; w in (0, 1] is (1 - w) minmax(av) + w minmax(object map), with the
    object map the channel mean of the trunk's features (numpy reference on the trunk output)."""
    torch.manual_seed(0)
    m = AVLocalizer(config=TINY).eval()
    frames, audio = _inputs(3, 32)
    raw, conf = m.localize(frames, audio)
    assert torch.equal(raw, m.localize(frames, audio, object_prior=0.0)[0])
    with torch.no_grad():
        feats = m.image_features(frames).mean(1, keepdim=True)  # (B, 1, h, w)
    obj = torch.nn.functional.interpolate(feats, size=(32, 32), mode="bilinear", align_corners=False)[:, 0].numpy()
    for w in (0.4, 1.0):
        heat, conf_w = m.localize(frames, audio, object_prior=w)
        want = (1 - w) * _minmax_np(raw.numpy()) + w * _minmax_np(obj)
        np.testing.assert_allclose(heat.numpy(), want, atol=1e-5)
        assert torch.equal(conf, conf_w)  # the confidence does not depend on the prior
    with pytest.raises(ValueError, match="object_prior"):
        m.localize(frames, audio, object_prior=1.5)
    with pytest.raises(ValueError, match="object_prior"):
        AVModelConfig(object_prior=-0.1)
    # the config's weight is the default
    m2 = AVLocalizer(config=AVModelConfig(**{**TINY.__dict__, "object_prior": 0.4}))
    m2.load_state_dict(m.state_dict())
    m2.eval()
    assert torch.allclose(m2.localize(frames, audio)[0], m.localize(frames, audio, object_prior=0.4)[0])


def test_separate_prior_encoder_is_frozen_loaded_and_saved(tmp_path: Path) -> None:
    """EZ-VSL's OGL with a supplied trunk: the object map comes from that frozen trunk (not the trained one), it stays
    in eval mode, gets no gradient and round-trips through save / load."""
    from soundloc.av.models import load_prior_weights
    from soundloc.av.train import AVTrainConfig, build_av_model

    torch.manual_seed(1)
    trunk = ResNetTrunk(in_channels=3, width=4, blocks=(1, 1), stem_stride=2)
    with torch.no_grad():
        for mod in trunk.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):  # non-trivial running statistics, so eval mode matters
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    trunk.eval()
    path = tmp_path / "trunk.safetensors"
    save_file({**trunk.state_dict(), "fc.weight": torch.zeros(2, 2)}, str(path))
    cfg = AVModelConfig(**{**TINY.__dict__, "object_prior": 0.5, "prior_encoder": True})
    with pytest.raises(ValueError, match="prior-encoder|prior_encoder"):
        AVTrainConfig(model=cfg)  # a separate prior encoder without its weights
    with pytest.raises(ValueError, match="no prior encoder"):
        load_prior_weights(AVLocalizer(config=TINY), path)
    m = build_av_model(AVTrainConfig(model=cfg, prior_weights=str(path)))
    m.train()
    assert m.prior_image is not None and not m.prior_image.training
    assert not any(p.requires_grad for p in m.prior_image.parameters())
    frames, audio = _inputs(2, 32)
    with torch.no_grad():
        want = torch.nn.functional.interpolate(trunk((frames - m.mean) / m.std).mean(1, keepdim=True), size=(32, 32),
                                               mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(m.object_map(frames), want, atol=1e-6)
    out = m(frames, audio)
    out["sim"].sum().backward()
    assert all(p.grad is None for p in m.prior_image.parameters())
    save_av_model(m, tmp_path / "m")
    back = load_av_model(tmp_path / "m")
    m.eval()
    assert torch.equal(back.localize(frames, audio)[0], m.localize(frames, audio)[0])


@pytest.mark.parametrize("stem_stride", [1, 2, 4])
def test_replicate_padding_gives_a_featureless_frame_a_constant_map(stem_stride: int) -> None:
    """Zero padding makes the border locations of a uniform frame differ from the inside (a position cue the
    multiple-instance max learns to put its peak on); replicate padding leaves no such cue."""
    torch.manual_seed(0)
    frame = torch.full((2, 3, 32, 32), 0.3)
    frame[1] = 0.8
    for mode, constant in (("replicate", True), ("zeros", False)):
        trunk = ResNetTrunk(in_channels=3, width=4, blocks=(1, 1), stem_stride=stem_stride, padding_mode=mode).eval()
        with torch.no_grad():
            y = trunk(frame)
        spread = (y.amax(dim=(2, 3)) - y.amin(dim=(2, 3))).abs().max()
        assert (float(spread) < 1e-5) is constant, (mode, float(spread))
    # the model's image trunk follows the config; the default is replicate
    assert AVModelConfig().image_padding == "replicate"
    m = AVLocalizer(config=AVModelConfig(**{**TINY.__dict__, "image_stem_stride": stem_stride})).eval()
    assert all(c.padding_mode == "replicate" for c in m.image.modules() if isinstance(c, torch.nn.Conv2d) and c.padding != (0, 0))
    with torch.no_grad():
        sim = m(frame, 0.1 * torch.randn(2, 4000))["sim"]
    assert float((sim.flatten(1).amax(1) - sim.flatten(1).amin(1)).abs().max()) < 1e-5


def test_padding_config_and_old_configs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="image_padding"):
        AVModelConfig(image_padding="reflect")
    with pytest.raises(ValueError, match="padding_mode"):
        ResNetTrunk(in_channels=3, width=4, blocks=(1,), padding_mode="circular")
    cfg = AVModelConfig(**{**TINY.__dict__, "image_padding": "zeros"})
    assert AVModelConfig.from_dict(cfg.to_dict()) == cfg
    old = TINY.to_dict()
    del old["image_padding"]  # a config saved before the option: its model padded with zeros
    assert AVModelConfig.from_dict(old).image_padding == "zeros"
    torch.manual_seed(0)
    m = AVLocalizer(config=cfg).eval()
    save_av_model(m, tmp_path / "m")
    m2 = load_av_model(tmp_path / "m")
    assert m2.config.image_padding == "zeros"
    assert all(c.padding_mode == "zeros" for c in m2.image.modules() if isinstance(c, torch.nn.Conv2d) and c.padding != (0, 0))
