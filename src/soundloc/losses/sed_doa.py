"""Losses of the two-branch SELDnet outputs: event classification (BCE) and DOA regression (masked MSE)."""

from __future__ import annotations

import torch
from torch import nn

from soundloc.losses._checks import check_same_shape


def _masked_doa_mse(doa: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``doa (B, T, 3, C)``, ``target (B, T, 4, C)`` = activity, x, y, z: mean squared error of the
    active (frame, class) vectors per coordinate (0 when nothing is active)."""
    act = target[:, :, :1]
    err = act * (doa - target[:, :, 1:]) ** 2
    return err.sum() / torch.clamp(3.0 * act.sum(), min=1.0)


class SedLoss(nn.Module):
    """Binary cross-entropy of event activity: output logits and target in [0, 1], both ``(B, T, C)``."""

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_same_shape("sed", output, target)
        return nn.functional.binary_cross_entropy_with_logits(output, target)


class DoaLoss(nn.Module):
    """MSE of per-class DOA vectors over active (frame, class) pairs only.

    Shapes: output ``(B, T, 3, C)`` unit vectors; target ``(B, T, 4, C)`` = activity, x, y, z.
    """

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.ndim != 4 or target.shape != (*output.shape[:2], 4, output.shape[3]) or output.shape[2] != 3:
            raise ValueError(f"doa loss: expected output (B, T, 3, C) and target (B, T, 4, C), got "
                             f"{tuple(output.shape)} and {tuple(target.shape)}")
        return _masked_doa_mse(output, target)


class SedDoaLoss(nn.Module):
    """SELDnet's two-branch loss: ``BCE(activity) + doa_weight * masked MSE(DOA)``.

    Shapes: output ``(B, T, 4, C)`` = activity logit, x, y, z; target ``(B, T, 4, C)`` = activity, x, y, z.

    Args:
        doa_weight: weight of the DOA term relative to the detection term (default 1).
    """

    def __init__(self, *, doa_weight: float = 1.0) -> None:
        super().__init__()
        if doa_weight < 0:
            raise ValueError(f"doa_weight must be >= 0, got {doa_weight}")
        self.doa_weight = float(doa_weight)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        check_same_shape("sed-doa", output, target)
        if output.ndim != 4 or output.shape[2] != 4:
            raise ValueError(f"sed-doa loss: expected (B, T, 4, C) tensors, got {tuple(output.shape)}")
        bce = nn.functional.binary_cross_entropy_with_logits(output[:, :, 0], target[:, :, 0])
        return bce + self.doa_weight * _masked_doa_mse(output[:, :, 1:], target)
