"""SpecAugment-style time and frequency masking of feature stacks.

The same masks cover every channel of a clip, so spectral (log-mel) and spatial (GCC-PHAT,
intensity) channels stay aligned; different clips get different masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from soundloc.augment.base import Augmentation


@dataclass(frozen=True)
class MaskParams:
    """Drawn masks: ``time`` ``(B, T)`` and ``freq`` ``(B, F)`` bool, ``True`` where masked."""

    time: torch.Tensor
    freq: torch.Tensor


def _band_masks(batch: int, count: int, max_width: int, size: int, applied: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """``(batch, size)`` bool: the union of ``count`` bands per row, widths uniform in ``0..max_width``."""
    mask = torch.zeros(batch, size, dtype=torch.bool)
    pos = torch.arange(size)
    w_max = min(max_width, size)
    for _ in range(count):
        w = torch.randint(0, w_max + 1, (batch,), generator=g)
        start = (torch.rand(batch, generator=g) * (size - w + 1).float()).long()  # uniform in 0..size-w
        mask |= (pos[None] >= start[:, None]) & (pos[None] < (start + w)[:, None])
    return mask & applied[:, None]


class SpecAugment(Augmentation):
    """Time and frequency masks on ``(B, C, T, F)`` features (the same for all ``C`` channels of a clip).

    Args:
        time_masks: number of time bands per clip; each is ``w`` frames wide with ``w`` uniform in
            ``0..time_width`` and a uniform start in ``0..T-w``.
        time_width: widest time band, frames.
        freq_masks, freq_width: the same along the last (bin / lag) axis.
        value: what masked cells are set to: a number (0 suits normalised features) or ``"mean"``,
            each clip's own per-channel mean (for un-normalised features such as log-mel in dB,
            where 0 dB would be louder than every real cell).
        p: probability that a clip is masked; ``enabled`` / ``seed``: see
            :class:`~soundloc.augment.base.Augmentation`.

    Labels are not changed (masking keeps the frame grid).

    Example:
        >>> sa = SpecAugment(time_masks=2, time_width=10, freq_masks=2, freq_width=8, seed=0)
        >>> sa(torch.randn(4, 10, 50, 64)).shape
        torch.Size([4, 10, 50, 64])
    """

    def __init__(
        self,
        *,
        time_masks: int = 2,
        time_width: int = 10,
        freq_masks: int = 2,
        freq_width: int = 8,
        value: float | str = 0.0,
        p: float = 1.0,
        enabled: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(p=p, enabled=enabled, seed=seed)
        for name, v in (("time_masks", time_masks), ("time_width", time_width), ("freq_masks", freq_masks), ("freq_width", freq_width)):
            if int(v) < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        self.time_masks, self.time_width = int(time_masks), int(time_width)
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        if isinstance(value, str) and value != "mean":
            raise ValueError(f"value must be a number or 'mean', got {value!r}")
        self.value: float | str = value if isinstance(value, str) else float(value)

    def sample(self, batch: int, frames: int, bins: int, generator: torch.Generator | None = None) -> MaskParams:
        """Draw the masks of ``batch`` clips of ``frames x bins`` (CPU tensors)."""
        g = self._gen(generator)
        applied = self.draw_apply(batch, g)
        return MaskParams(
            time=_band_masks(batch, self.time_masks, self.time_width, frames, applied, g),
            freq=_band_masks(batch, self.freq_masks, self.freq_width, bins, applied, g),
        )

    def transform(self, f: torch.Tensor, params: MaskParams) -> torch.Tensor:
        """``(B, C, T, F)`` -> masked copy (cells in a time or a frequency band set to ``value``)."""
        _check_features(f, "SpecAugment")
        if params.time.shape != (f.shape[0], f.shape[2]) or params.freq.shape != (f.shape[0], f.shape[3]):
            raise ValueError(f"masks {tuple(params.time.shape)} / {tuple(params.freq.shape)} do not fit features {tuple(f.shape)}")
        m = params.time.to(f.device)[:, None, :, None] | params.freq.to(f.device)[:, None, None, :]
        if self.value == "mean":
            return torch.where(m, f.mean(dim=(2, 3), keepdim=True), f)
        return f.masked_fill(m, float(self.value))

    def forward(self, f: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mask a batch of features ``(B, C, T, F)``."""
        _check_features(f, "SpecAugment")
        if not self.active:
            return f
        return self.transform(f, self.sample(f.shape[0], f.shape[2], f.shape[3], generator))

    def extra_repr(self) -> str:
        return (f"time_masks={self.time_masks}, time_width={self.time_width}, freq_masks={self.freq_masks}, "
                f"freq_width={self.freq_width}, value={self.value!r}, {super().extra_repr()}")


def _check_features(f: torch.Tensor, who: str) -> None:
    if f.ndim != 4:
        raise ValueError(f"{who} expects features (B, C, T, F), got shape {tuple(f.shape)}")
