"""Momentum (exponential moving average) target encoders, as in SLAVC / MoCo / BYOL.

``ema = EMA(model, momentum=0.999)`` keeps a frozen copy ``ema.target``; after each optimiser step
``ema.update(model)`` sets every target parameter ``p_t <- m p_t + (1 - m) p`` and copies the buffers
(batch-norm statistics). The target is in eval mode and never receives gradients.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """Exponential moving average of ``model``'s parameters (see the module docstring).

    Args:
        model: the online model (copied once at construction).
        momentum: ``m`` in [0, 1); 0 copies the online model at each update.
    """

    def __init__(self, model: nn.Module, *, momentum: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.target = copy.deepcopy(model).eval()
        for p in self.target.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> EMA:
        """The target stays in eval mode (no dropout, running batch-norm statistics)."""
        super().train(mode)
        self.target.eval()
        return self

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One moving-average step towards ``model`` (same architecture as the target)."""
        m = self.momentum
        for pt, p in zip(self.target.parameters(), model.parameters(), strict=True):
            pt.mul_(m).add_(p.detach(), alpha=1.0 - m)
        for bt, b in zip(self.target.buffers(), model.buffers(), strict=True):
            bt.copy_(b)

    def extra_repr(self) -> str:
        return f"momentum={self.momentum}"
