"""What every encoder shares: features ``(B, C, T, F)`` in, label-rate embeddings ``(B, T_label, D)`` out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from soundloc.models.timing import check_remainder, fit_time, label_frames


def positive_ints(values: Sequence[int], name: str) -> tuple[int, ...]:
    """``values`` as a tuple of ints >= 1; ``ValueError`` naming ``name`` otherwise."""
    out = tuple(int(v) for v in values)
    if not out or any(v < 1 for v in out):
        raise ValueError(f"{name} must be a non-empty list of integers >= 1, got {list(values)}")
    return out


class Encoder(nn.Module):
    """Base of the SELD encoders.

    Subclasses set :attr:`in_channels`, :attr:`n_bins`, :attr:`out_features`, :attr:`time_pool`
    and :attr:`remainder` and implement :meth:`encode` on time-fitted input.

    ``forward``: features ``(B, in_channels, T, n_bins)`` -> ``(B, label_frames(T), out_features)``.
    """

    in_channels: int
    n_bins: int
    out_features: int
    time_pool: int
    remainder: str

    def _init_timing(self, time_pool: int, remainder: str) -> None:
        self.time_pool = int(time_pool)
        self.remainder = check_remainder(remainder)

    def label_frames(self, num_frames: int) -> int:
        """Output frames for ``num_frames`` feature frames (see :mod:`soundloc.models.timing`)."""
        return label_frames(num_frames, self.time_pool, self.remainder)

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[3] != self.n_bins:
            raise ValueError(f"{type(self).__name__} expects features (batch, {self.in_channels}, frames, {self.n_bins}), "
                             f"got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.encode(fit_time(x, self.time_pool, self.remainder))

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def pooled_size(n: int, pools: Sequence[int]) -> int:
    """Size after successive floor-dividing max/avg pools."""
    for p in pools:
        n = n // p
    return n


def prod(values: Sequence[int]) -> int:
    return int(math.prod(values))
