"""Encoders x heads: shapes, gradients, time pooling, registries and argument checks (tiny models, CPU)."""

from __future__ import annotations

import math

import pytest
import torch

from soundloc.features import FeatureConfig
from soundloc.models import HEADS, MODELS, SeldModel, get_head, get_model, label_frames, time_pool_for
from soundloc.models.resnet_conformer import sinusoidal_positions
from soundloc.models.timing import fit_time

TINY: dict[str, dict[str, object]] = {
    "crnn": {"conv_channels": 8, "t_pool": (5, 1, 1), "f_pool": (2, 2, 2), "rnn_size": 16, "attn_heads": 2},
    "resnet-conformer": {"channels": (4, 8), "blocks": (1, 1), "t_pool": (5, 1), "f_pool": (2, 2), "d_model": 16,
                         "num_blocks": 1, "heads": 2, "kernel_size": 3},
}
C_IN, BINS, CLASSES = 4, 16, 3
SHAPES = {"sed": (CLASSES,), "doa": (3, CLASSES), "sed-doa": (4, CLASSES), "accdoa": (3, CLASSES),
          "multi-accdoa": (3, 3, CLASSES), "multi-accddoa": (3, 4, CLASSES)}


def tiny(encoder: str, head: str) -> SeldModel:
    torch.manual_seed(0)
    enc = get_model(encoder, in_channels=C_IN, n_bins=BINS, **TINY[encoder])  # type: ignore[arg-type]
    return SeldModel(enc, get_head(head, in_features=enc.out_features, num_classes=CLASSES, hidden=8))


def test_registries_cover_the_issue() -> None:
    assert set(MODELS) == {"crnn", "resnet-conformer"}
    assert set(HEADS) == set(SHAPES)
    with pytest.raises(ValueError, match="choose from crnn, resnet-conformer"):
        get_model("transformer")
    with pytest.raises(ValueError, match="choose from sed, doa"):
        get_head("yolo", in_features=4, num_classes=2)


@pytest.mark.parametrize("encoder", list(MODELS))
@pytest.mark.parametrize("head", list(HEADS))
def test_shapes_and_gradients(encoder: str, head: str) -> None:
    model = tiny(encoder, head).train()
    x = torch.randn(2, C_IN, 26, BINS, requires_grad=True)  # 26 frames -> 5 label frames (one frame dropped)
    y = model(x)
    assert y.shape == (2, 5, *SHAPES[head])
    assert model.label_frames(26) == 5
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, no_grad


@pytest.mark.parametrize("head", ["accdoa", "multi-accdoa", "multi-accddoa"])
def test_output_ranges(head: str) -> None:
    y = tiny("crnn", head).eval()(torch.randn(3, C_IN, 20, BINS) * 10)
    if head == "multi-accddoa":
        assert y[:, :, :, :3].abs().max() <= 1 and y[:, :, :, 3].min() >= 0
    else:
        assert y.abs().max() <= 1


@pytest.mark.parametrize("head", ["doa", "sed-doa"])
def test_doa_branches_are_unit_vectors(head: str) -> None:
    y = tiny("resnet-conformer", head).eval()(torch.randn(2, C_IN, 10, BINS))
    v = y if head == "doa" else y[:, :, 1:]
    assert torch.allclose(torch.linalg.vector_norm(v, dim=2), torch.ones(()), atol=1e-5)


def test_crnn_default_is_the_baseline_size() -> None:
    """The DCASE2024 baseline CRNN (64 filters, pools 5/4/4/2, GRU 128 x 2 bi, 2 x 8-head MHSA) on 10 x 64 mic features."""
    enc = get_model("crnn", in_channels=10, n_bins=64)
    assert enc.time_pool == 5 and enc.out_features == 128
    assert enc(torch.zeros(1, 10, 251, 64)).shape == (1, 50, 128)  # 5 s of 20 ms frames -> 50 label frames
    g = enc.gru  # type: ignore[union-attr]
    assert (g.input_size, g.hidden_size, g.num_layers, g.bidirectional) == (128, 128, 2, True)
    conv = (10 * 9 * 64 + 64 + 128) + 2 * (64 * 9 * 64 + 64 + 128)  # conv + bias + BN, 3 blocks
    gru = 2 * 3 * (128 * 128 + 128 * 128 + 2 * 128) + 2 * 3 * (256 * 128 + 128 * 128 + 2 * 128)  # 2 layers x 2 directions
    mhsa = 2 * (4 * 128 * 128 + 4 * 128 + 2 * 128)  # in/out projections + LayerNorm
    assert sum(p.numel() for p in enc.parameters()) == conv + gru + mhsa


def test_time_pool_follows_the_feature_hop() -> None:
    assert time_pool_for(FeatureConfig.preset("dcase")) == 5
    assert time_pool_for(FeatureConfig.preset("mcsimclr")) == 5
    assert time_pool_for(FeatureConfig(hop=240)) == 10
    with pytest.raises(ValueError, match="does not divide"):
        time_pool_for(FeatureConfig(hop=512))


@pytest.mark.parametrize("t", [1, 4, 5, 9, 10, 51])
def test_remainder_policies(t: int) -> None:
    x = torch.arange(t, dtype=torch.float32).reshape(1, 1, t, 1)
    if t < 5:
        with pytest.raises(ValueError, match="shorter than one label frame"):
            label_frames(t, 5, "drop")
    else:
        assert label_frames(t, 5, "drop") == t // 5
        assert torch.equal(fit_time(x, 5, "drop")[0, 0, :, 0], torch.arange(t // 5 * 5, dtype=torch.float32))
    n = math.ceil(t / 5)
    assert label_frames(t, 5, "pad") == n
    padded = fit_time(x, 5, "pad")
    assert padded.shape[2] == 5 * n and torch.equal(padded[0, 0, :t, 0], x[0, 0, :, 0]) and padded[0, 0, t:].abs().sum() == 0
    if t % 5:
        with pytest.raises(ValueError, match="remainder='strict'"):
            label_frames(t, 5, "strict")
    else:
        assert label_frames(t, 5, "strict") == t // 5
    with pytest.raises(ValueError, match="choose from drop, pad, strict"):
        label_frames(t, 5, "round")


def test_encoder_pad_policy_keeps_the_last_frames() -> None:
    enc = get_model("crnn", in_channels=C_IN, n_bins=BINS, remainder="pad", **TINY["crnn"])  # type: ignore[arg-type]
    assert enc(torch.zeros(1, C_IN, 26, BINS)).shape[1] == 6


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"t_pool": (5, 1)}, "one entry per conv block"),
        ({"f_pool": (8, 8, 8)}, "pools away all"),
        ({"rnn_size": 10, "attn_heads": 4}, "must divide rnn_size"),
        ({"t_pool": (0, 1, 1)}, "integers >= 1"),
    ],
)
def test_crnn_argument_errors(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        get_model("crnn", in_channels=4, n_bins=16, **kw)  # type: ignore[arg-type]


def test_wrong_feature_shape_is_refused() -> None:
    model = tiny("crnn", "accdoa")
    with pytest.raises(ValueError, match=r"expects features \(batch, 4, frames, 16\)"):
        model(torch.zeros(1, 3, 10, BINS))
    with pytest.raises(ValueError, match="expects embeddings"):
        model.head(torch.zeros(1, 5, 3))


def test_sinusoidal_positions_match_the_formula() -> None:
    pe = sinusoidal_positions(7, 6).double()
    for p in range(7):
        for i in range(3):
            w = 10000.0 ** (-2 * i / 6)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(p * w), abs=1e-5)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(p * w), abs=1e-5)


def test_conformer_is_causal_free_and_uses_context() -> None:
    """Changing one input frame changes outputs at other label frames (attention and depthwise conv mix time)."""
    model = tiny("resnet-conformer", "accdoa").eval()
    x = torch.randn(1, C_IN, 30, BINS)
    y0 = model(x)
    x2 = x.clone()
    x2[:, :, 0] += 5.0
    y1 = model(x2)
    assert (y1[:, -1] - y0[:, -1]).abs().max() > 1e-6


@pytest.mark.parametrize("encoder", list(MODELS))
def test_a_few_steps_lower_the_adpit_loss(encoder: str) -> None:
    """Targets -> ADPIT target -> loss -> Adam: the whole chain learns a fixed batch."""
    from soundloc.losses import get_loss

    model = tiny(encoder, "multi-accddoa").train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, C_IN, 25, BINS, generator=g)
    act = (torch.rand(4, 5, 3, CLASSES, generator=g) > 0.6).float().sort(dim=2, descending=True).values
    doa = torch.nn.functional.normalize(torch.randn(4, 5, 3, CLASSES, 3, generator=g), dim=-1) * act[..., None]
    target = model.target({"activity": act, "doa": doa, "distance": 2.0 * act})
    loss_fn = get_loss(model.head.loss_name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
