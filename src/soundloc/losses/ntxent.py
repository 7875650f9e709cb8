"""NT-Xent, the normalised-temperature cross-entropy of SimCLR / MC-SimCLR.

Given two views ``z1, z2`` ``(N, D)`` of ``N`` clips, the ``2N`` embeddings are L2-normalised
and compared by cosine similarity ``s_ik = <z_i, z_k> / tau``. Each embedding's positive is the
other view of its clip and its negatives are the other ``2N - 2`` embeddings of the batch:

    loss = mean_i [ -s_{i, pos(i)} + log sum_{k != i} exp(s_ik) ]

computed with ``logsumexp`` (no overflow at small ``tau``). Closed forms: if all ``2N``
embeddings point the same way the loss is ``log(2N - 1)`` for any ``tau``; if the ``N`` pairs
are identical and mutually orthogonal it is ``log(1 + (2N - 2) exp(-1 / tau))``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class NTXentLoss(nn.Module):
    """NT-Xent loss over a batch of positive pairs (negatives: every other embedding in the batch).

    Args:
        temperature: ``tau > 0`` (MC-SimCLR / SimCLR use 0.1-0.5; default 0.1).
        eps: floor on embedding norms before normalising (a zero vector gives similarity 0).

    ``forward(z1, z2)``: ``(N, D)`` each, row ``i`` of both the two views of clip ``i``
    (``N >= 1``); returns a scalar tensor (mean over the ``2N`` anchors).

    Example:
        >>> loss = NTXentLoss(temperature=0.5)
        >>> z = torch.ones(4, 8)
        >>> round(float(loss(z, z)), 6) == round(math.log(7), 6)   # collinear: log(2N - 1)
        True
    """

    def __init__(self, *, temperature: float = 0.1, eps: float = 1e-8) -> None:
        super().__init__()
        t = float(temperature)
        if not (math.isfinite(t) and t > 0.0):
            raise ValueError(f"temperature must be a positive finite number, got {temperature}")
        if not float(eps) > 0.0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.temperature = t
        self.eps = float(eps)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Scalar NT-Xent of the pairs ``(z1[i], z2[i])``, both ``(N, D)``."""
        if z1.ndim != 2 or z2.ndim != 2 or z1.shape != z2.shape:
            raise ValueError(f"NT-Xent expects two (N, D) embeddings of equal shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
        n = z1.shape[0]
        if n < 1 or z1.shape[1] < 1:
            raise ValueError(f"NT-Xent needs at least one pair of non-empty embeddings, got shape {tuple(z1.shape)}")
        z = torch.cat([z1, z2], dim=0)
        z = z / z.norm(dim=1, keepdim=True).clamp_min(self.eps)
        sim = (z @ z.T) / self.temperature  # (2N, 2N)
        self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        logits = sim.masked_fill(self_mask, float("-inf"))
        pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
        positive = sim.gather(1, pos[:, None])[:, 0]
        out: torch.Tensor = (torch.logsumexp(logits, dim=1) - positive).mean()
        return out

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
