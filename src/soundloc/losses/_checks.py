"""Shape checks shared by the losses (one-line ``ValueError`` naming the loss)."""

from __future__ import annotations

import torch


def check_same_shape(loss: str, output: torch.Tensor, target: torch.Tensor) -> None:
    if output.shape != target.shape:
        raise ValueError(f"{loss} loss: output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
