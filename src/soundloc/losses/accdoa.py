"""The ACCDOA loss (Shimada et al., ICASSP 2021): mean squared error of activity-coupled DOA vectors."""

from __future__ import annotations

import torch
from torch import nn

from soundloc.losses._checks import check_same_shape


class AccdoaLoss(nn.Module):
    """MSE between ACCDOA outputs and targets, averaged over every element.

    Shapes: output and target ``(B, T, 3, C)`` (x, y, z per class; target = activity x unit
    vector, zero when inactive; see :meth:`soundloc.models.heads.AccdoaHead.target`).

    Example:
        >>> t = torch.zeros(1, 2, 3, 4)
        >>> float(AccdoaLoss()(t, t))
        0.0
    """

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_same_shape("accdoa", output, target)
        return torch.mean((output - target) ** 2)
