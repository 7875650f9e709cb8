"""The inference form of a model (soundloc.models.inference): same outputs as the model, BatchNorm folded."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from soundloc.models import SeldConfig, SeldModel, build_model, inference_model
from soundloc.models.inference import FOLDED_PAIRS

SMALL = {
    "crnn": {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1},
    "resnet-conformer": {"channels": [4, 8], "blocks": [1, 1], "t_pool": [5, 1], "f_pool": [2, 2], "d_model": 16,
                         "num_blocks": 1, "heads": 2, "kernel_size": 5},
}


def trained_like(encoder: str, head: str, *, normalize: bool = False) -> SeldModel:
    """A model whose BatchNorm statistics and affine parameters are far from the identity (as after training)."""
    torch.manual_seed(0)
    kw = {"in_channels": 7, "n_bins": 32, **SMALL[encoder]}
    m = build_model(SeldConfig(encoder=encoder, encoder_kwargs=kw, head=head, head_kwargs={"num_classes": 3},
                               normalize=normalize))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                n = mod.num_features
                mod.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                mod.running_var.copy_(0.3 + 2 * torch.rand(n, generator=g))
                mod.weight.copy_(0.5 + torch.rand(n, generator=g))
                mod.bias.copy_(0.4 * torch.rand(n, generator=g) - 0.2)
        if m.norm is not None:
            m.set_normalizer(torch.randn(7, 32, generator=g), 0.5 + torch.rand(7, 32, generator=g))
    return m


@pytest.mark.parametrize("encoder", ["crnn", "resnet-conformer"])
@pytest.mark.parametrize("head", ["accdoa", "multi-accdoa", "multi-accddoa"])
@pytest.mark.parametrize("channels_last", [True, False])
def test_same_outputs_as_the_model(encoder: str, head: str, channels_last: bool) -> None:
    m = trained_like(encoder, head, normalize=encoder == "crnn").train()  # the copy is eval whatever the model's mode
    before = {k: v.clone() for k, v in m.state_dict().items()}
    fast = inference_model(m, channels_last=channels_last)
    assert m.training, "the model's mode is not touched"
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in before.items()), "the model's weights are not touched"
    m.eval()
    x = torch.randn(3, 7, 53, 32, generator=torch.Generator().manual_seed(2))  # 53 frames: a remainder to drop
    with torch.inference_mode():
        ref, got = m(x), fast(x)
    assert got.shape == ref.shape
    assert float(ref.abs().max()) > 0.05  # outputs that could differ
    torch.testing.assert_close(got, ref, atol=2e-5, rtol=1e-4)
    kinds = {type(mod) for mod in fast.modules()}
    assert not kinds & {nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Dropout2d}, kinds
    assert not any(p.requires_grad for p in fast.parameters())


def test_folding_by_hand_and_relu_after_pool() -> None:
    """A conv + BN + ReLU + max-pool block against the closed form ``relu(max(g (w*x + b - m) / s + beta))``."""
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25, 1.0]))
        bn.weight.copy_(torch.tensor([2.0, -1.0, 0.5]))  # a negative scale: max-pool then ReLU still exact
        bn.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    seq = nn.Sequential(conv, bn, nn.ReLU(), nn.MaxPool2d((2, 2)), nn.Dropout2d(0.5)).eval()
    from soundloc.models.inference import _fold_sequential

    fast = _fold_sequential(seq)
    assert [type(mod) for mod in fast] == [nn.Conv2d, nn.MaxPool2d, nn.ReLU]
    x = torch.randn(2, 2, 6, 8)
    with torch.no_grad():
        z = (conv(x) - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
        want = torch.relu(nn.functional.max_pool2d(bn.weight[:, None, None] * z + bn.bias[:, None, None], 2))
        torch.testing.assert_close(fast(x), want, atol=1e-6, rtol=1e-6)


def test_known_pairs_are_the_modules_attributes() -> None:
    """Every pair FOLDED_PAIRS names exists on its module, as (conv, batch norm)."""
    m = trained_like("resnet-conformer", "accdoa")
    seen = set()
    for mod in m.modules():
        for conv, bn in FOLDED_PAIRS.get(type(mod), ()):
            assert isinstance(getattr(mod, conv), (nn.Conv1d, nn.Conv2d))
            assert isinstance(getattr(mod, bn), (nn.BatchNorm1d, nn.BatchNorm2d))
            seen.add(type(mod))
    assert seen == set(FOLDED_PAIRS)
