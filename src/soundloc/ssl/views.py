"""Two augmented views of each clip (MC-SimCLR), from waveforms to feature stacks.

For a batch of multichannel clips ``(B, M, N)`` :class:`ViewMaker` returns two feature stacks
``(B, C, T, F)`` (``mic``: ``M`` log-mel + ``M(M-1)/2`` GCC-PHAT; ``foa`` for FOA audio), one per
view, through these steps (each augmentation switchable by its MC-SimCLR name):

1. :class:`TimeCrop`: each view is an independent random crop of ``crop`` samples of the clip
   (always on: two crops of one clip are the positive pair);
2. ``mu`` :class:`~soundloc.augment.Mixup`: each view mixed with the same view of a random other clip
   of the (global) batch at a small weight, RMS-normalised before and after;
3. ``cs`` :class:`~soundloc.augment.ChannelSwap`: one array symmetry per clip, the *same* for both
   views (a positive pair keeps one spatial layout), applied to the waveforms (exact on every
   GCC lag);
4. features on the input's device (no gradient);
5. ``rrc`` :class:`~soundloc.augment.RandomResizedCrop`: one box per view and clip, the same for all
   mel and GCC channels (they stay aligned);
6. ``cd`` :class:`~soundloc.augment.ChannelDrop`: whole channels zeroed (``p = 0.1`` each).

Every random draw is made for the *global* batch from the augmentation's own CPU generator and
then sliced to this process's rows, so ``R`` DDP processes with ``B / R`` clips each draw exactly
what one process with ``B`` clips draws (Mixup partners come from the global batch: pass
``gather``, which concatenates the processes' rows).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import torch
from torch import nn

from soundloc.ambisonics import FoaFormat
from soundloc.augment import Augmentation, ChannelDrop, ChannelSwap, Mixup, RandomResizedCrop
from soundloc.augment.mixup import MixParams
from soundloc.augment.resized_crop import CropParams
from soundloc.geometry import MicArray
from soundloc.ssl.config import AUGMENT_NAMES


class TimeCrop(Augmentation):
    """A random crop of ``length`` samples per clip (waveforms ``(B, M, N)`` -> ``(B, M, length)``).

    Args:
        length: crop length in samples (``>= 1``); ``seed``: its generator (see
            :class:`~soundloc.augment.base.Augmentation`). Always applied (``p = 1``).
    """

    def __init__(self, length: int, *, seed: int | None = None) -> None:
        super().__init__(p=1.0, seed=seed)
        if int(length) < 1:
            raise ValueError(f"crop length must be >= 1 sample, got {length}")
        self.length = int(length)

    def sample(self, batch: int, samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(batch,)`` long (CPU) start samples, uniform in ``[0, samples - length]``."""
        if samples < self.length:
            raise ValueError(f"clips of {samples} samples are shorter than the {self.length}-sample crop")
        return torch.randint(0, samples - self.length + 1, (batch,), generator=self._gen(generator))

    def transform(self, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """``x[b, :, start[b] : start[b] + length]`` for each clip ``b``."""
        if x.ndim != 3 or start.shape != (x.shape[0],):
            raise ValueError(f"TimeCrop expects waveforms (B, M, N) and (B,) starts, got {tuple(x.shape)} and {tuple(start.shape)}")
        idx = start.to(x.device)[:, None] + torch.arange(self.length, device=x.device)[None]
        return x.gather(2, idx[:, None, :].expand(x.shape[0], x.shape[1], self.length))

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.transform(x, self.sample(x.shape[0], x.shape[2], generator))

    def extra_repr(self) -> str:
        return f"length={self.length}"


def _rows_mix(p: MixParams, rows: slice) -> MixParams:
    return MixParams(partner=p.partner[rows], weight=p.weight[rows])


def _rows_crop(p: CropParams, rows: slice) -> CropParams:
    return CropParams(top=p.top[rows], height=p.height[rows], left=p.left[rows], width=p.width[rows])


class ViewMaker(nn.Module):
    """Two views per clip (see the module docstring).

    Args:
        array: the array (or FOA format) the audio comes from.
        features: the feature extractor ``(B, M, N) -> (B, C, T, F)`` (e.g. ``InputSpec.feature_module()``).
        crop: view length in samples.
        augment: switched-on augmentations (subset of :data:`~soundloc.ssl.config.AUGMENT_NAMES`).
        mixup_max_weight: the partner's largest weight; channel_drop: per-channel drop probability.
        seed: seeds the five generators (``seed + 0 .. seed + 4``).

    ``forward(x, rank=0, world_size=1, gather=None)``: ``x`` ``(B_local, M, N)`` this process's
    rows of the global batch -> ``(view1, view2)`` features ``(B_local, C, T, F)``.
    """

    def __init__(self, array: MicArray | FoaFormat, features: nn.Module, *, crop: int, augment: Collection[str] = AUGMENT_NAMES,
                 mixup_max_weight: float = 0.2, channel_drop: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        bad = sorted(set(augment) - set(AUGMENT_NAMES))
        if bad:
            raise ValueError(f"unknown augmentation '{bad[0]}'; choose from {', '.join(AUGMENT_NAMES)}")
        self.features = features
        self.crop = TimeCrop(crop, seed=seed)
        self.cs = ChannelSwap(array, seed=seed + 1, enabled="cs" in augment)
        self.mu = Mixup(max_weight=mixup_max_weight, seed=seed + 2, enabled="mu" in augment and mixup_max_weight > 0)
        self.rrc = RandomResizedCrop(seed=seed + 3, enabled="rrc" in augment)
        self.cd = ChannelDrop(drop=channel_drop, seed=seed + 4, enabled="cd" in augment)

    def augmentations(self) -> dict[str, Augmentation]:
        """Name -> augmentation (their generators are saved with a checkpoint)."""
        return {"crop": self.crop, "cs": self.cs, "mu": self.mu, "rrc": self.rrc, "cd": self.cd}

    def _waveform_view(self, x: torch.Tensor, rows: slice, b_global: int,
                       gather: Callable[[torch.Tensor], torch.Tensor] | None) -> torch.Tensor:
        v = self.crop.transform(x, self.crop.sample(b_global, x.shape[2])[rows])
        if self.mu.active:
            params = self.mu.sample(b_global)
            pool = v if gather is None else gather(v)
            v = self.mu.transform(v, _rows_mix(params, rows), others=pool)
        return v

    def _feature_view(self, f: torch.Tensor, rows: slice, b_global: int) -> torch.Tensor:
        if self.rrc.active:
            f = self.rrc.transform(f, _rows_crop(self.rrc.sample(b_global, f.shape[2], f.shape[3]), rows))
        if self.cd.active and self.cd.drop > 0:
            f = self.cd.transform(f, self.cd.sample(b_global, f.shape[1])[rows])
        return f

    @torch.no_grad()
    def forward(self, x: torch.Tensor, *, rank: int = 0, world_size: int = 1,
                gather: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3:
            raise ValueError(f"expected waveforms (B, M, N), got shape {tuple(x.shape)}")
        n = x.shape[0]
        rows, b_global = slice(rank * n, (rank + 1) * n), n * world_size
        v1 = self._waveform_view(x, rows, b_global, gather)
        v2 = self._waveform_view(x, rows, b_global, gather)
        if self.cs.enabled:
            idx = self.cs.sample(b_global)[rows]
            v1, v2 = self.cs.apply_waveform(v1, idx), self.cs.apply_waveform(v2, idx)
        f1, f2 = self.features(v1), self.features(v2)
        return self._feature_view(f1, rows, b_global), self._feature_view(f2, rows, b_global)
