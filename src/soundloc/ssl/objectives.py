"""Pretext objectives: what is optimised on top of the clip embeddings during pretraining.

An objective is an ``nn.Module`` built as ``cls(embed_dim=D, **kwargs)`` and called as
``objective(h1, h2) -> scalar loss`` on the encoder embeddings ``(B_local, D)`` of the two views.
It owns its own heads (e.g. a projector), which are dropped after pretraining: only the encoder
is saved. Register a new pretext in :data:`OBJECTIVES`.

With DDP, embeddings are gathered over the processes with a differentiable all-reduce (each
process then holds the whole global batch, computes the same global loss, and the gradient reaching
its rows is summed over processes): ``R`` processes of ``B / R`` pairs give the negatives, the loss
and (after DDP's gradient averaging) the gradients of one process with ``B`` pairs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from soundloc.losses.ntxent import NTXentLoss


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """``(n, ...)`` rows of this process -> ``(R n, ...)`` rows of all processes in rank order
    (differentiable; the identity without an initialised process group of more than one process)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return x
    from soundloc.train.ddp import all_reduce_sum

    r, w = dist.get_rank(), dist.get_world_size()
    n = x.shape[0]
    zeros = x.new_zeros((n, *x.shape[1:]))
    return all_reduce_sum(torch.cat([zeros] * r + [x] + [zeros] * (w - r - 1), dim=0))


class ProjectionHead(nn.Sequential):
    """SimCLR's two-layer projector: Linear -> BatchNorm1d -> ReLU -> Linear; ``(N, D) -> (N, out)``."""

    def __init__(self, in_features: int, hidden: int = 512, out_features: int = 128) -> None:
        super().__init__(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out_features))


class NTXentObjective(nn.Module):
    """MC-SimCLR: projector on both views, NT-Xent over the global batch.

    Args:
        embed_dim: encoder embedding size ``D``; proj_hidden / proj_dim: projector sizes;
        temperature: NT-Xent temperature.
    """

    def __init__(self, *, embed_dim: int, proj_hidden: int = 512, proj_dim: int = 128, temperature: float = 0.1) -> None:
        super().__init__()
        self.projector = ProjectionHead(embed_dim, proj_hidden, proj_dim)
        self.loss = NTXentLoss(temperature=temperature)

    def forward(self, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        n = h1.shape[0]
        z = self.projector(torch.cat([h1, h2], dim=0)).float()  # one pass: batch norm sees both views
        out: torch.Tensor = self.loss(gather_rows(z[:n]), gather_rows(z[n:]))
        return out


OBJECTIVES: dict[str, type[nn.Module]] = {"ntxent": NTXentObjective}
"""Registry: pretext objective name -> class."""


def get_objective(name: str, **kwargs: Any) -> nn.Module:
    """Build objective ``name`` (:data:`OBJECTIVES`); ``ValueError`` listing the choices."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in OBJECTIVES:
        raise ValueError(f"unknown objective '{name}'; choose from {', '.join(OBJECTIVES)}")
    return OBJECTIVES[key](**kwargs)
