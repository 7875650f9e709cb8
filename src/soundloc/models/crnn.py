"""SELDnet-style CRNN encoder of the DCASE2024 baseline.

Layers (the baseline's, with its default sizes)::

    features (B, C, T, F)
    3 x [Conv2d 3x3 -> BatchNorm -> ReLU -> MaxPool (t_pool[i], f_pool[i]) -> Dropout2d]
    -> (B, T/time_pool, conv_channels * F') -> 2-layer bidirectional GRU (hidden rnn_size)
    -> the two directions multiplied (the baseline's gating: (B, T', rnn_size))
    -> 2 x [multi-head self-attention + residual -> LayerNorm]
    -> frame embeddings (B, T_label, rnn_size)

``time_pool = prod(t_pool)`` must equal the feature frames per 100 ms label frame (5 for the
``dcase`` and ``mcsimclr`` feature presets, 20 ms hop): :func:`soundloc.models.timing.time_pool_for`.
``F' = F // prod(f_pool)`` (floor, as max pooling does).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from soundloc.models.base import Encoder, pooled_size, positive_ints, prod


class ConvBlock(nn.Sequential):
    """Conv2d 3x3 (same padding) -> BatchNorm2d -> ReLU -> MaxPool2d ``pool`` -> Dropout2d."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int], dropout: float) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.MaxPool2d(pool),
            nn.Dropout2d(dropout),
        )


class CRNN(Encoder):
    """The DCASE2024 baseline's CRNN encoder.

    Args:
        in_channels: feature channels ``C`` (10 for ``mic`` features of 4 mics, 7 for ``foa``).
        n_bins: feature bins ``F`` (64 mel bands).
        conv_channels: filters of every conv block (baseline: 64).
        t_pool: time pooling of each conv block; ``prod(t_pool)`` is the total (baseline: 5, 1, 1).
        f_pool: frequency pooling of each conv block (baseline: 4, 4, 2).
        rnn_size: GRU hidden size per direction and the embedding size ``D`` (baseline: 128).
        rnn_layers: GRU layers (baseline: 2).
        attn_layers: self-attention blocks (baseline: 2).
        attn_heads: heads per attention block (must divide ``rnn_size``; baseline: 8).
        dropout: dropout of conv blocks, GRU and attention (baseline: 0.05).
        remainder: what to do when ``T`` is not a multiple of ``prod(t_pool)`` (``drop``, ``pad``,
            ``strict``; see :mod:`soundloc.models.timing`).

    Shapes: ``(B, in_channels, T, n_bins)`` -> ``(B, T_label, rnn_size)``.

    Example:
        >>> enc = CRNN(in_channels=10, n_bins=64)
        >>> enc(torch.zeros(2, 10, 51, 64)).shape
        torch.Size([2, 10, 128])
    """

    def __init__(
        self,
        *,
        in_channels: int,
        n_bins: int,
        conv_channels: int = 64,
        t_pool: Sequence[int] = (5, 1, 1),
        f_pool: Sequence[int] = (4, 4, 2),
        rnn_size: int = 128,
        rnn_layers: int = 2,
        attn_layers: int = 2,
        attn_heads: int = 8,
        dropout: float = 0.05,
        remainder: str = "drop",
    ) -> None:
        super().__init__()
        tp, fp = positive_ints(t_pool, "t_pool"), positive_ints(f_pool, "f_pool")
        if len(tp) != len(fp):
            raise ValueError(f"t_pool and f_pool need one entry per conv block, got {len(tp)} and {len(fp)}")
        for name, v in (("in_channels", in_channels), ("n_bins", n_bins), ("conv_channels", conv_channels),
                        ("rnn_size", rnn_size), ("rnn_layers", rnn_layers), ("attn_heads", attn_heads)):
            if int(v) < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if attn_layers < 0:
            raise ValueError(f"attn_layers must be >= 0, got {attn_layers}")
        if rnn_size % attn_heads:
            raise ValueError(f"attn_heads ({attn_heads}) must divide rnn_size ({rnn_size})")
        f_out = pooled_size(n_bins, fp)
        if f_out < 1:
            raise ValueError(f"f_pool {list(fp)} (total {prod(fp)}) pools away all {n_bins} bins")
        self.in_channels, self.n_bins, self.out_features = int(in_channels), int(n_bins), int(rnn_size)
        self._init_timing(prod(tp), remainder)
        chans = [int(in_channels)] + [int(conv_channels)] * len(tp)
        self.conv = nn.Sequential(*(ConvBlock(chans[i], chans[i + 1], (tp[i], fp[i]), dropout) for i in range(len(tp))))
        self.gru = nn.GRU(input_size=conv_channels * f_out, hidden_size=rnn_size, num_layers=rnn_layers, batch_first=True,
                          dropout=dropout if rnn_layers > 1 else 0.0, bidirectional=True)
        self.attn = nn.ModuleList(nn.MultiheadAttention(rnn_size, attn_heads, dropout=dropout, batch_first=True)
                                  for _ in range(attn_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(rnn_size) for _ in range(attn_layers))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)  # (B, conv_channels, T', F')
        b, c, t, f = x.shape
        x = x.transpose(1, 2).reshape(b, t, c * f)
        x, _ = self.gru(x)  # (B, T', 2 * rnn_size)
        h = self.out_features
        x = x[..., h:] * x[..., :h]  # the baseline's gating of the backward by the forward direction
        for attn, norm in zip(self.attn, self.norms):
            y, _ = attn(x, x, x, need_weights=False)
            x = norm(x + y)
        return x
