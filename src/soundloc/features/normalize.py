"""Per-channel (optionally per-bin) mean / std normalisation of features, fitted on a training set.

:class:`RunningStats` accumulates counts, means and sums of squared deviations batch by batch
(Chan et al.'s parallel update, float64), so a training set never has to fit in memory; the
result equals numpy's mean / std (``ddof=0``) over the concatenation. :class:`FeatureNormalizer`
applies ``(x - mean) / std`` and is saved as JSON beside the features (no pickle).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from soundloc.fileio import load_json, write_json_atomic

FORMAT = "soundloc-feature-normalizer/1"


class RunningStats:
    """Streaming mean / variance of features ``(B, C, T, F)`` over batch and frames (and bins unless ``per_bin``).

    Args:
        per_bin: keep one statistic per (channel, bin) instead of per channel.

    Example:
        >>> st = RunningStats()
        >>> for feats in batches:            # each (B, C, T, F)
        ...     st.update(feats)
        >>> norm = st.normalizer()           # FeatureNormalizer
    """

    def __init__(self, *, per_bin: bool = False) -> None:
        self.per_bin = bool(per_bin)
        self.count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def update(self, feats: torch.Tensor | np.ndarray) -> None:
        """Add a batch ``(B, C, T, F)`` (or one clip ``(C, T, F)``) of features."""
        x = feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f"features must be (batch, channels, frames, bins), got shape {x.shape}")
        x = x.astype(np.float64, copy=False)
        axes = (0, 2) if self.per_bin else (0, 2, 3)
        n = int(np.prod([x.shape[a] for a in axes]))
        if n == 0:
            return
        mean_b = x.mean(axis=axes)
        m2_b = ((x - np.expand_dims(mean_b, axes)) ** 2).sum(axis=axes)
        if self._mean is None or self._m2 is None:
            self._mean, self._m2, self.count = mean_b, m2_b, n
            return
        if mean_b.shape != self._mean.shape:
            raise ValueError(f"feature shape changed: statistics are {self._mean.shape}, batch gives {mean_b.shape}")
        total = self.count + n
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2_b + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def mean(self) -> np.ndarray:
        """``(C,)`` or ``(C, F)`` float64 mean."""
        if self._mean is None:
            raise ValueError("no features accumulated yet")
        return self._mean

    @property
    def std(self) -> np.ndarray:
        """``(C,)`` or ``(C, F)`` float64 population standard deviation (``ddof=0``)."""
        if self._m2 is None:
            raise ValueError("no features accumulated yet")
        return np.asarray(np.sqrt(self._m2 / self.count))

    def normalizer(self, *, eps: float = 1e-8) -> FeatureNormalizer:
        """The fitted :class:`FeatureNormalizer`."""
        return FeatureNormalizer(self.mean, self.std, eps=eps)


class FeatureNormalizer(nn.Module):
    """``(x - mean) / (std + eps)`` per channel (``mean (C,)``) or per channel and bin (``mean (C, F)``).

    Input / output ``(B, C, T, F)`` float32 on the input's device.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, *, eps: float = 1e-8) -> None:
        super().__init__()
        m = torch.as_tensor(np.asarray(mean, dtype=np.float64), dtype=torch.float32)
        s = torch.as_tensor(np.asarray(std, dtype=np.float64), dtype=torch.float32)
        if m.shape != s.shape or m.ndim not in (1, 2):
            raise ValueError(f"mean and std must both be (C,) or (C, F), got {tuple(m.shape)} and {tuple(s.shape)}")
        if not (torch.isfinite(m).all() and torch.isfinite(s).all() and (s >= 0).all()):
            raise ValueError("normalizer statistics must be finite with std >= 0")
        self.eps = float(eps)
        shape = (1, m.shape[0], 1, m.shape[1] if m.ndim == 2 else 1)
        self.register_buffer("mean", m.reshape(shape))
        self.register_buffer("std", s.reshape(shape))

    @property
    def per_bin(self) -> bool:
        return self.mean.shape[-1] > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.mean.shape[1] or (self.per_bin and x.shape[-1] != self.mean.shape[-1]):
            raise ValueError(f"features must be (batch, {self.mean.shape[1]}, frames, "
                             f"{self.mean.shape[-1] if self.per_bin else 'bins'}), got {tuple(x.shape)}")
        return (x - self.mean.to(x.device)) / (self.std.to(x.device) + self.eps)

    def fit(self, batches: Iterable[torch.Tensor], *, min_std: float = 0.0) -> None:
        """Set the statistics to those of feature batches ``(B, C, T, F)`` (:class:`RunningStats` over
        clips and frames, and bins unless per bin: numpy's mean / std of their concatenation); standard
        deviations below ``min_std`` are raised to it (:meth:`set_stats`).

        Raises:
            ValueError: no features in ``batches``, or batches of another shape.
        """
        stats = RunningStats(per_bin=self.per_bin)
        for f in batches:
            stats.update(f.float())
        if stats.count == 0:
            raise ValueError("no features to fit the input normalizer on")
        self.set_stats(stats.mean, stats.std, min_std=min_std)

    def set_stats(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, *, min_std: float = 0.0) -> None:
        """Replace the statistics in place (same shapes as built: ``(C,)`` or ``(C, F)``); standard
        deviations below ``min_std`` are raised to it, so a constant channel or bin cannot blow up.

        Raises:
            ValueError: other shapes, or statistics that are not finite.
        """
        m = torch.as_tensor(np.asarray(mean, dtype=np.float64), dtype=torch.float32)
        s = torch.as_tensor(np.asarray(std, dtype=np.float64), dtype=torch.float32).clamp_min(min_std)
        want = (self.mean.shape[1], self.mean.shape[3]) if self.per_bin else (self.mean.shape[1],)
        if tuple(m.shape) != want or tuple(s.shape) != want:
            what = "(channels, bins)" if self.per_bin else "(channels,)"
            raise ValueError(f"normalizer statistics must be {want} {what}, got {tuple(m.shape)} and {tuple(s.shape)}")
        if not (torch.isfinite(m).all() and torch.isfinite(s).all()):
            raise ValueError("normalizer statistics must be finite")
        with torch.no_grad():
            self.mean.copy_(m.reshape(self.mean.shape).to(self.mean.device))
            self.std.copy_(s.reshape(self.std.shape).to(self.std.device))

    def to_dict(self) -> dict[str, Any]:
        idx = (0, slice(None), 0, slice(None)) if self.per_bin else (0, slice(None), 0, 0)
        return {"format": FORMAT, "eps": self.eps, "per_bin": self.per_bin,
                "mean": self.mean[idx].tolist(), "std": self.std[idx].tolist()}

    def save(self, path: str | Path) -> None:
        """Write the statistics as JSON (atomically)."""
        write_json_atomic(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> FeatureNormalizer:
        """Read a normalizer written by :meth:`save`; ``ValueError`` for anything else."""
        d = load_json(path, what="feature normalizer")  # one-line ValueError: missing, binary, not JSON
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"{path}: not a soundloc feature normalizer (format {FORMAT!r} expected)")
        return cls(np.asarray(d["mean"]), np.asarray(d["std"]), eps=float(d.get("eps", 1e-8)))
