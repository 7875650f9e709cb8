"""ResNet-Conformer encoder, the kind the top DCASE 2023-2024 SELD systems use.

Layers::

    features (B, C, T, F)
    stem: Conv2d 3x3 -> BatchNorm -> ReLU
    ResNet stages (2D BasicBlocks: conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU; ResNet-18 has
    2 blocks in each of 4 stages), each followed by AvgPool2d (t_pool[i], f_pool[i])
    -> (B, T_label, channels[-1] * F') -> Linear to d_model -> + sinusoidal positions
    -> Conformer blocks: x + FFN/2, x + MHSA, x + conv module, x + FFN/2, LayerNorm
    -> frame embeddings (B, T_label, d_model)

Conformer (Gulati et al., 2020): FFN = LN -> Linear(d, ff_mult d) -> SiLU -> dropout -> Linear
-> dropout, added with weight 1/2; MHSA = LN -> multi-head self-attention -> dropout; conv module =
LN -> pointwise conv (2d) -> GLU -> depthwise conv (``kernel_size``, same padding) -> BatchNorm ->
SiLU -> pointwise conv -> dropout. Positions are absolute sinusoidal encodings (Vaswani et al.)
added once before the first block; they are computed for any length, so clips of any duration work.

Defaults are small (a few hundred thousand parameters) so tests and CPU training stay fast; the
top systems use channels (64, 128, 256, 512) and 8 blocks of d_model 256-512.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from soundloc.models.base import Encoder, pooled_size, positive_ints, prod


class BasicBlock(nn.Module):
    """ResNet basic block: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`` (shapes kept except channels)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


def sinusoidal_positions(length: int, dim: int, *, device: torch.device | None = None) -> torch.Tensor:
    """``(length, dim)`` sinusoidal position encodings: sin on even, cos on odd features."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class FeedForward(nn.Sequential):
    """LayerNorm -> Linear(d, mult d) -> SiLU -> Dropout -> Linear(mult d, d) -> Dropout."""

    def __init__(self, d_model: int, mult: int, dropout: float) -> None:
        super().__init__(nn.LayerNorm(d_model), nn.Linear(d_model, mult * d_model), nn.SiLU(), nn.Dropout(dropout),
                         nn.Linear(mult * d_model, d_model), nn.Dropout(dropout))


class ConvModule(nn.Module):
    """Conformer convolution module on ``(B, T, d)``: LN, pointwise + GLU, depthwise, BN, SiLU, pointwise, dropout."""

    def __init__(self, d_model: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        self.norm = nn.LayerNorm(d_model)
        self.pointwise1 = nn.Conv1d(d_model, 2 * d_model, 1)
        self.depthwise = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2, groups=d_model)
        self.bn = nn.BatchNorm1d(d_model)
        self.pointwise2 = nn.Conv1d(d_model, d_model, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x).transpose(1, 2)  # (B, d, T)
        y = nn.functional.glu(self.pointwise1(y), dim=1)
        y = nn.functional.silu(self.bn(self.depthwise(y)))
        out: torch.Tensor = self.dropout(self.pointwise2(y))
        return out.transpose(1, 2)


class ConformerBlock(nn.Module):
    """``x + FFN/2 -> x + MHSA -> x + conv -> x + FFN/2 -> LayerNorm`` on ``(B, T, d_model)``."""

    def __init__(self, d_model: int, heads: int, ff_mult: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.ff1 = FeedForward(d_model, ff_mult, dropout)
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.attn_dropout = nn.Dropout(dropout)
        self.conv = ConvModule(d_model, kernel_size, dropout)
        self.ff2 = FeedForward(d_model, ff_mult, dropout)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        y = self.attn_norm(x)
        y, _ = self.attn(y, y, y, need_weights=False)
        x = x + self.attn_dropout(y)
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        out: torch.Tensor = self.norm(x)
        return out


class ResNetConformer(Encoder):
    """ResNet front end + Conformer blocks.

    Args:
        in_channels: feature channels ``C``.
        n_bins: feature bins ``F``.
        channels: output channels of each ResNet stage (the stem has ``channels[0]``).
        blocks: BasicBlocks per stage (ResNet-18: 2, 2, 2, 2).
        t_pool: average pooling in time after each stage; ``prod(t_pool)`` is the total (see
            :func:`soundloc.models.timing.time_pool_for`; 5 for 20 ms hops).
        f_pool: average pooling in frequency after each stage.
        d_model: Conformer width and embedding size ``D``.
        num_blocks: Conformer blocks.
        heads: attention heads (must divide ``d_model``).
        ff_mult: feed-forward expansion.
        kernel_size: depthwise convolution kernel (odd).
        dropout: dropout in the Conformer blocks.
        remainder: ``drop``, ``pad`` or ``strict`` (:mod:`soundloc.models.timing`).

    Shapes: ``(B, in_channels, T, n_bins)`` -> ``(B, T_label, d_model)``.

    Example:
        >>> enc = ResNetConformer(in_channels=7, n_bins=64)
        >>> enc(torch.zeros(1, 7, 51, 64)).shape
        torch.Size([1, 10, 128])
    """

    def __init__(
        self,
        *,
        in_channels: int,
        n_bins: int,
        channels: Sequence[int] = (16, 32, 64, 128),
        blocks: Sequence[int] = (2, 2, 2, 2),
        t_pool: Sequence[int] = (1, 1, 5, 1),
        f_pool: Sequence[int] = (2, 2, 2, 2),
        d_model: int = 128,
        num_blocks: int = 4,
        heads: int = 4,
        ff_mult: int = 4,
        kernel_size: int = 15,
        dropout: float = 0.1,
        remainder: str = "drop",
    ) -> None:
        super().__init__()
        ch, bl = positive_ints(channels, "channels"), positive_ints(blocks, "blocks")
        tp, fp = positive_ints(t_pool, "t_pool"), positive_ints(f_pool, "f_pool")
        if not len(ch) == len(bl) == len(tp) == len(fp):
            raise ValueError(f"channels, blocks, t_pool and f_pool need one entry per stage, got lengths "
                             f"{len(ch)}, {len(bl)}, {len(tp)}, {len(fp)}")
        for name, v in (("in_channels", in_channels), ("n_bins", n_bins), ("d_model", d_model), ("heads", heads),
                        ("ff_mult", ff_mult)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if num_blocks < 0:
            raise ValueError(f"num_blocks must be >= 0, got {num_blocks}")
        if d_model % heads or d_model % 2:
            raise ValueError(f"d_model ({d_model}) must be even and divisible by heads ({heads})")
        f_out = pooled_size(n_bins, fp)
        if f_out < 1:
            raise ValueError(f"f_pool {list(fp)} (total {prod(fp)}) pools away all {n_bins} bins")
        self.in_channels, self.n_bins, self.out_features = int(in_channels), int(n_bins), int(d_model)
        self._init_timing(prod(tp), remainder)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, ch[0], 3, padding=1, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU())
        stages: list[nn.Module] = []
        prev = ch[0]
        for c, n, t, f in zip(ch, bl, tp, fp):
            layers: list[nn.Module] = [BasicBlock(prev if i == 0 else c, c) for i in range(n)]
            if t > 1 or f > 1:
                layers.append(nn.AvgPool2d((t, f)))
            stages.append(nn.Sequential(*layers))
            prev = c
        self.stages = nn.Sequential(*stages)
        self.proj = nn.Linear(ch[-1] * f_out, d_model)
        self.blocks = nn.ModuleList(ConformerBlock(d_model, heads, ff_mult, kernel_size, dropout) for _ in range(num_blocks))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))  # (B, channels[-1], T', F')
        b, c, t, f = x.shape
        x = self.proj(x.transpose(1, 2).reshape(b, t, c * f))
        x = x + sinusoidal_positions(t, self.out_features, device=x.device).to(x.dtype)
        for block in self.blocks:
            x = block(x)
        return x
