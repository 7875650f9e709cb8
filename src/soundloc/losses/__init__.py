"""Training objectives, one loss per module (``nn.Module``s with explicit keyword arguments).

* :class:`NTXentLoss` (``ntxent``): the contrastive loss of SimCLR / MC-SimCLR.

Registry :data:`LOSSES`, built by :func:`get_loss`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from soundloc.losses.ntxent import NTXentLoss

LOSSES: dict[str, type[nn.Module]] = {"ntxent": NTXentLoss}
"""Registry: loss name -> class."""


def get_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build loss ``name`` (case-insensitive; ``-`` / ``_`` ignored) with ``kwargs``; ``ValueError`` listing the choices."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in LOSSES:
        raise ValueError(f"unknown loss '{name}'; choose from {', '.join(LOSSES)}")
    return LOSSES[key](**kwargs)


__all__ = ["LOSSES", "NTXentLoss", "get_loss"]
