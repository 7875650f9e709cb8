"""RandomResizedCrop of feature "images", the same crop for every channel of a clip.

MC-SimCLR crops the stacked log-mel and GCC-PHAT maps jointly, so a mel bin and a GCC lag at the
same position stay aligned. The crop is an integer box of ``h`` frames x ``w`` bins with area
fraction ``s = (h / T) (w / F)`` drawn uniformly in ``scale`` and aspect ratio
``r = (w / F) / (h / T)`` log-uniformly in ``ratio`` (torchvision's rule in relative units:
up to 10 draws, then the box is clipped to the map), at a uniform integer offset, resized back
to ``T x F`` with bilinear interpolation (``align_corners=False``, the sampling of
``torch.nn.functional.interpolate``), done for the whole batch by one ``grid_sample`` call whose
sampling points are those of ``interpolate`` on each clip's box. Frame-level labels do not survive the time stretch: use
it for label-free views (contrastive pretraining) or clip-level labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from soundloc.augment.base import Augmentation

TRIES = 10
"""Draws of (scale, ratio) before the box is clipped to the map."""


@dataclass(frozen=True)
class CropParams:
    """Integer crop boxes, each ``(B,)`` long: rows ``top .. top+height-1``, columns ``left .. left+width-1``."""

    top: torch.Tensor
    height: torch.Tensor
    left: torch.Tensor
    width: torch.Tensor


def _source_index(start: torch.Tensor, size: torch.Tensor, out: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bilinear source rows for resizing ``size`` -> ``out`` (``align_corners=False``): ``(B, out)`` i0, i1, frac."""
    i = torch.arange(out, dtype=torch.float64)
    src = ((i[None] + 0.5) * (size[:, None].double() / out) - 0.5).clamp(min=0.0)
    i0 = src.floor().long()
    i0 = torch.minimum(i0, size[:, None] - 1)
    frac = src - i0.double()
    i1 = torch.minimum(i0 + 1, size[:, None] - 1)
    return start[:, None] + i0, start[:, None] + i1, frac


def _grid_axis(start: torch.Tensor, size: torch.Tensor, n: int) -> torch.Tensor:
    """``(B, n)`` float64 source coordinates of the resized box on the full axis, normalised for
    ``grid_sample(align_corners=True)`` (``-1`` = first sample, ``1`` = last)."""
    i0, i1, frac = _source_index(start, size, n)
    pix = i0.double() + frac * (i1 - i0).double()  # inside the box: the box's last sample is clamped
    return pix * (2.0 / max(n - 1, 1)) - 1.0


class RandomResizedCrop(Augmentation):
    """Crop a random box of each clip's ``(T, F)`` map and resize it back, identically for all channels.

    Args:
        scale: range of the area fraction ``s`` (default ``(0.8, 1.0)``, MC-SimCLR).
        ratio: range of the relative aspect ratio ``(w / F) / (h / T)`` (default ``(0.8, 1.25)``).
        p: probability that a clip is cropped; ``enabled`` / ``seed``: see
            :class:`~soundloc.augment.base.Augmentation`.

    ``(B, C, T, F)`` -> ``(B, C, T, F)``.

    Example:
        >>> rrc = RandomResizedCrop(seed=0)
        >>> rrc(torch.randn(2, 10, 50, 64)).shape
        torch.Size([2, 10, 50, 64])
    """

    def __init__(
        self,
        *,
        scale: tuple[float, float] = (0.8, 1.0),
        ratio: tuple[float, float] = (0.8, 1.25),
        p: float = 1.0,
        enabled: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(p=p, enabled=enabled, seed=seed)
        s0, s1 = (float(v) for v in scale)
        r0, r1 = (float(v) for v in ratio)
        if not (0.0 < s0 <= s1 <= 1.0):
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
        if not (0.0 < r0 <= r1 and math.isfinite(r1)):
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {ratio}")
        self.scale = (s0, s1)
        self.ratio = (r0, r1)

    def sample(self, batch: int, frames: int, bins: int, generator: torch.Generator | None = None) -> CropParams:
        """Draw one box per clip of a ``frames x bins`` map (CPU tensors; the full map where not applied)."""
        if frames < 1 or bins < 1:
            raise ValueError(f"RandomResizedCrop needs a non-empty map, got {frames} x {bins}")
        g = self._gen(generator)
        applied = self.draw_apply(batch, g)
        s = self.scale[0] + (self.scale[1] - self.scale[0]) * torch.rand(batch, TRIES, generator=g, dtype=torch.float64)
        lr = math.log(self.ratio[0]) + (math.log(self.ratio[1]) - math.log(self.ratio[0])) * torch.rand(
            batch, TRIES, generator=g, dtype=torch.float64)
        r = torch.exp(lr)
        h = torch.round(frames * torch.sqrt(s / r)).long()
        w = torch.round(bins * torch.sqrt(s * r)).long()
        ok = (h >= 1) & (h <= frames) & (w >= 1) & (w <= bins)
        first = torch.where(ok.any(dim=1), ok.long().argmax(dim=1), torch.zeros(batch, dtype=torch.long))
        h = h.gather(1, first[:, None])[:, 0].clamp(1, frames)
        w = w.gather(1, first[:, None])[:, 0].clamp(1, bins)
        top = (torch.rand(batch, generator=g, dtype=torch.float64) * (frames - h + 1)).long()
        left = (torch.rand(batch, generator=g, dtype=torch.float64) * (bins - w + 1)).long()
        full_t, full_f = torch.full_like(h, frames), torch.full_like(w, bins)
        zero = torch.zeros_like(h)
        return CropParams(
            top=torch.where(applied, top, zero), height=torch.where(applied, h, full_t),
            left=torch.where(applied, left, zero), width=torch.where(applied, w, full_f),
        )

    def transform(self, f: torch.Tensor, params: CropParams) -> torch.Tensor:
        """Crop ``f`` ``(B, C, T, F)`` to the boxes and resize back to ``T x F`` (bilinear)."""
        if f.ndim != 4:
            raise ValueError(f"RandomResizedCrop expects features (B, C, T, F), got shape {tuple(f.shape)}")
        b, _, t, n = f.shape
        if params.top.shape != (b,):
            raise ValueError(f"crop boxes for {params.top.shape[0]} clips given for a batch of {b}")
        if bool(((params.top + params.height > t) | (params.left + params.width > n)).any()):
            raise ValueError(f"crop boxes exceed the {t} x {n} map")
        gt = _grid_axis(params.top, params.height, t).to(device=f.device, dtype=f.dtype)  # (B, T), rounded once
        gf = _grid_axis(params.left, params.width, n).to(device=f.device, dtype=f.dtype)  # (B, F)
        grid = torch.stack([gf[:, None, :].expand(b, t, n), gt[:, :, None].expand(b, t, n)], dim=-1)
        y = F.grid_sample(f, grid, mode="bilinear", padding_mode="border", align_corners=True)
        full = (params.height == t) & (params.width == n)
        if bool(full.any()):  # a full-size box is exactly the identity
            rows = full.nonzero()[:, 0].to(f.device)
            y[rows] = f[rows]
        return y

    def forward(self, f: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Crop-and-resize each clip of ``f`` ``(B, C, T, F)``."""
        if f.ndim != 4:
            raise ValueError(f"RandomResizedCrop expects features (B, C, T, F), got shape {tuple(f.shape)}")
        if not self.active:
            return f
        return self.transform(f, self.sample(f.shape[0], f.shape[2], f.shape[3], generator))

    def extra_repr(self) -> str:
        return f"scale={self.scale}, ratio={self.ratio}, {super().extra_repr()}"
