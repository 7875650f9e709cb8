"""The inference form of a SELD model: the same function, fewer and faster operations.

:func:`inference_model` returns a copy of a (trained) model for ``soundloc localize --model`` and
``soundloc evaluate``; the model itself and its saved weights are untouched. The copy is in eval
mode without gradients, and:

* every eval-mode BatchNorm that directly follows a convolution is folded into that
  convolution's weights and bias (``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) g / sqrt(v + eps) + beta``,
  :func:`torch.nn.utils.fusion.fuse_conv_bn_eval`): in ``nn.Sequential`` s (the CRNN's conv
  blocks, the ResNet stem and shortcuts) and in the ResNet :class:`~soundloc.models.resnet_conformer.BasicBlock`
  and Conformer :class:`~soundloc.models.resnet_conformer.ConvModule` (depthwise conv + BatchNorm1d);
* a ReLU followed by a max pooling becomes the pooling followed by the ReLU (exactly equal:
  ``relu(max(a)) == max(relu(a))``; the ReLU then runs on the pooled, smaller tensor);
* dropout layers (identities in eval mode) are removed from ``nn.Sequential`` s and replaced by
  ``nn.Identity`` elsewhere;
* with ``channels_last``, 2-D convolution weights are stored channels-last (NHWC), so oneDNN's
  convolutions and poolings on the CPU run on NHWC activations without layout conversions (about
  5x faster for the CRNN's conv blocks on one core).

Outputs equal the model's up to float32 rounding (the folded weights are rounded once). Layers
this module does not know are kept as they are, so the result is always correct, only maybe
less fused.

Example:
    >>> from soundloc.models import SeldConfig, build_model
    >>> m = build_model(SeldConfig(encoder="crnn", encoder_kwargs={"in_channels": 7, "n_bins": 64},
    ...                            head_kwargs={"num_classes": 3})).eval()
    >>> x = torch.randn(1, 7, 50, 64)
    >>> bool(torch.allclose(inference_model(m)(x), m(x), atol=1e-5))
    True
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from soundloc.models.resnet_conformer import BasicBlock, ConvModule
from soundloc.models.seld import SeldModel

_CONVS = (nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_DROPOUTS = (nn.Dropout, nn.Dropout1d, nn.Dropout2d)

FOLDED_PAIRS: dict[type[nn.Module], tuple[tuple[str, str], ...]] = {
    BasicBlock: (("conv1", "bn1"), ("conv2", "bn2")),
    ConvModule: (("depthwise", "bn"),),
}
"""Modules whose ``forward`` applies attribute ``bn`` right after attribute ``conv`` (pairs folded)."""


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, _CONVS) and isinstance(bn, _NORMS) and bn.track_running_stats
            and bn.running_mean is not None and conv.out_channels == bn.num_features)


def _fold_sequential(seq: nn.Sequential) -> nn.Sequential:
    mods = [m for m in seq if not isinstance(m, _DROPOUTS)]
    out: list[nn.Module] = []
    i = 0
    while i < len(mods):
        m, nxt = mods[i], mods[i + 1] if i + 1 < len(mods) else None
        if nxt is not None and _foldable(m, nxt):
            out.append(fuse_conv_bn_eval(m, nxt))  # type: ignore[arg-type, type-var]
            i += 2
        elif nxt is not None and type(m) is nn.ReLU and type(nxt) is nn.MaxPool2d:
            out += [nxt, nn.ReLU(inplace=True)]
            i += 2
        else:
            out.append(m)
            i += 1
    return nn.Sequential(*out)


def _transform(module: nn.Module) -> nn.Module:
    for name, child in list(module.named_children()):
        module._modules[name] = nn.Identity() if isinstance(child, _DROPOUTS) else _transform(child)
    if isinstance(module, nn.Sequential):
        return _fold_sequential(module)
    for conv_name, bn_name in FOLDED_PAIRS.get(type(module), ()):
        conv, bn = getattr(module, conv_name), getattr(module, bn_name)
        if _foldable(conv, bn):
            setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
            setattr(module, bn_name, nn.Identity())
    return module


def inference_model(model: SeldModel, *, channels_last: bool = True) -> SeldModel:
    """A copy of ``model`` for inference (see the module docstring): same outputs, faster.

    Args:
        model: a :class:`~soundloc.models.SeldModel` (not changed; its training mode does not matter).
        channels_last: store 2-D convolution weights channels-last (best on the CPU).

    Returns:
        The copy, in eval mode, on ``model``'s device, with ``requires_grad`` off; its ``config``
        is the model's (it is not meant to be saved or trained).
    """
    m = copy.deepcopy(model).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        m.encoder = _transform(m.encoder)  # type: ignore[assignment]
        m.head = _transform(m.head)  # type: ignore[assignment]
        if channels_last:
            for mod in m.modules():
                if isinstance(mod, nn.Conv2d):
                    mod.weight.data = mod.weight.data.contiguous(memory_format=torch.channels_last)
    return m.eval()


__all__ = ["FOLDED_PAIRS", "inference_model"]
