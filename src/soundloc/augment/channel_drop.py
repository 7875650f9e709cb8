"""ChannelDrop: zero whole feature channels (MC-SimCLR uses p = 0.1 on the 4 mel + 6 GCC channels)."""

from __future__ import annotations

import torch

from soundloc.augment.base import Augmentation, check_probability


class ChannelDrop(Augmentation):
    """Set each channel of each clip to zero with probability ``drop``.

    Args:
        drop: probability that one channel of one clip is zeroed (independent draws).
        p: probability that a clip is considered at all (default 1); ``enabled`` / ``seed``: see
            :class:`~soundloc.augment.base.Augmentation`.

    ``(B, C, T, F)`` features (or ``(B, C, N)`` waveforms) -> same shape. Labels are unchanged.

    Example:
        >>> cd = ChannelDrop(drop=0.1, seed=0)
        >>> cd(torch.ones(2, 10, 5, 64)).shape
        torch.Size([2, 10, 5, 64])
    """

    def __init__(self, *, drop: float = 0.1, p: float = 1.0, enabled: bool = True, seed: int | None = None) -> None:
        super().__init__(p=p, enabled=enabled, seed=seed)
        self.drop = check_probability(drop, "drop")

    def sample(self, batch: int, channels: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch, channels)`` bool (CPU): ``True`` for the channels to zero."""
        g = self._gen(generator)
        applied = self.draw_apply(batch, g)
        return (torch.rand(batch, channels, generator=g) < self.drop) & applied[:, None]

    def transform(self, x: torch.Tensor, dropped: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
        """Zero the channels ``dropped`` ``(B, C)`` of ``x`` ``(B, C, ...)`` (in ``x`` itself with ``inplace``)."""
        if x.ndim < 3 or dropped.shape != x.shape[:2]:
            raise ValueError(f"ChannelDrop: mask {tuple(dropped.shape)} does not fit input {tuple(x.shape)}")
        keep = (~dropped).to(device=x.device, dtype=x.dtype).reshape(*dropped.shape, *([1] * (x.ndim - 2)))
        return x.mul_(keep) if inplace else x * keep

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Drop channels of ``x`` ``(B, C, ...)``."""
        if x.ndim < 3:
            raise ValueError(f"ChannelDrop expects (B, C, T, F) features or (B, C, N) waveforms, got shape {tuple(x.shape)}")
        if not self.active or self.drop == 0.0:
            return x
        return self.transform(x, self.sample(x.shape[0], x.shape[1], generator))

    def extra_repr(self) -> str:
        return f"drop={self.drop}, {super().extra_repr()}"
