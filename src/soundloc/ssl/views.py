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
   mel and GCC channels (they stay aligned); with ``rrc_lags=False`` the GCC-PHAT channels are
   cropped and resized along time only (the same time box), their lag axis left alone: a crop of
   the lag axis moves the zero-lag bin, i.e. changes the apparent direction, differently per view;
6. ``cd`` :class:`~soundloc.augment.ChannelDrop`: whole channels zeroed (``p = 0.1`` each).

Every random draw is made for the *global* batch from the augmentation's own CPU generator and
then sliced to this process's rows, so ``R`` DDP processes with ``B / R`` clips each draw exactly
what one process with ``B`` clips draws (Mixup partners come from the global batch: pass
``gather``, which concatenates the processes' rows).

Both views go through each step as one batch of ``2B`` rows (view 1's rows, then view 2's): one
crop indexing, one Mixup, one ChannelSwap, *one* feature call, one RandomResizedCrop and one
ChannelDrop. Each augmentation draws view 1's parameters and then view 2's, so the views are
those of making them one after the other (the same random numbers; equal up to float rounding).
Not done, on purpose: sharing one STFT between the two overlapping crops of a clip. Its frames
coincide only for crop offsets that are multiples of the hop (11 offsets instead of 3201 for
0.8-s views of 1-s clips at a 20 ms hop), which would remove the sub-frame shifts between the
views; and with Mixup on (a different partner and weight per view) only the STFT could be shared,
not the log-mel or GCC-PHAT computed from it (about a fifth of the feature time, see
``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import torch
from torch import nn
from torch.profiler import record_function

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

    def transform(self, x: torch.Tensor, start: torch.Tensor, clip: torch.Tensor | None = None) -> torch.Tensor:
        """``x[clip[k], :, start[k] : start[k] + length]`` for each crop ``k`` (``clip`` default ``0 .. B-1``).

        ``x`` ``(B, M, N)``, ``start`` ``(K,)`` long, ``clip`` ``(K,)`` long indices into ``x`` (several
        crops of one clip in one call) -> ``(K, M, length)``, one indexing copy of a strided view.
        """
        clip = torch.arange(x.shape[0]) if clip is None else clip
        if x.ndim != 3 or start.ndim != 1 or clip.shape != start.shape:
            raise ValueError(f"TimeCrop expects waveforms (B, M, N) and (K,) starts and clips, got {tuple(x.shape)}, "
                             f"{tuple(start.shape)} and {tuple(clip.shape)}")
        if x.shape[2] < self.length:
            raise ValueError(f"clips of {x.shape[2]} samples are shorter than the {self.length}-sample crop")
        frames = x.unfold(2, self.length, 1)  # (B, M, N - length + 1, length), a view
        return frames[clip.to(x.device), :, start.to(x.device)]

    def forward(self, x: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.transform(x, self.sample(x.shape[0], x.shape[2], generator))

    def extra_repr(self) -> str:
        return f"length={self.length}"


class ViewMaker(nn.Module):
    """Two views per clip (see the module docstring).

    Args:
        array: the array (or FOA format) the audio comes from.
        features: the feature extractor ``(B, M, N) -> (B, C, T, F)`` (e.g. ``InputSpec.feature_module()``).
        crop: view length in samples.
        augment: switched-on augmentations (subset of :data:`~soundloc.ssl.config.AUGMENT_NAMES`).
        mixup_max_weight: the partner's largest weight; channel_drop: per-channel drop probability.
        rrc_lags: RandomResizedCrop also crops the lag axis of GCC-PHAT channels (MC-SimCLR's joint
            crop); ``False``: those channels (``features.lag_channels``) are cropped along time only.
        seed: seeds the five generators (``seed + 0 .. seed + 4``).

    ``forward(x, rank=0, world_size=1, gather=None)``: ``x`` ``(B_local, M, N)`` this process's
    rows of the global batch -> ``(view1, view2)`` features ``(B_local, C, T, F)``.
    """

    def __init__(self, array: MicArray | FoaFormat, features: nn.Module, *, crop: int, augment: Collection[str] = AUGMENT_NAMES,
                 mixup_max_weight: float = 0.2, channel_drop: float = 0.1, rrc_lags: bool = True, seed: int = 0) -> None:
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
        lags = getattr(features, "lag_channels", None)
        self.lag_channels: list[int] = [] if rrc_lags or lags is None else list(lags(int(getattr(features, "in_channels"))))

    def augmentations(self) -> dict[str, Augmentation]:
        """Name -> augmentation (their generators are saved with a checkpoint)."""
        return {"crop": self.crop, "cs": self.cs, "mu": self.mu, "rrc": self.rrc, "cd": self.cd}

    @torch.no_grad()
    def forward(self, x: torch.Tensor, *, rank: int = 0, world_size: int = 1,
                gather: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3:
            raise ValueError(f"expected waveforms (B, M, N), got shape {tuple(x.shape)}")
        n = x.shape[0]
        rows, b_global = slice(rank * n, (rank + 1) * n), n * world_size
        # both views go through every step as one batch of 2n rows (view 1, then view 2); each
        # augmentation draws view 1's parameters, then view 2's, as two separate calls would.
        # Each step is a named profiler range (views.crop, ...; benchmarks/pretrain.py --profile).
        with record_function("views.crop"):
            start = torch.cat([self.crop.sample(b_global, x.shape[2])[rows] for _ in range(2)])
            v = self.crop.transform(x, start, torch.arange(n).repeat(2))  # (2n, M, crop)
        if self.mu.active:
            with record_function("views.mixup"):
                p1, p2 = self.mu.sample(b_global), self.mu.sample(b_global)
                if gather is None:  # partners from this batch: view 2's rows follow view 1's
                    others, offset = None, n
                else:  # each view mixes with the same view of the global batch
                    pools = [gather(v[:n]), gather(v[n:])]
                    others, offset = torch.cat(pools), pools[0].shape[0]
                params = MixParams(partner=torch.cat([p1.partner[rows], p2.partner[rows] + offset]),
                                   weight=torch.cat([p1.weight[rows], p2.weight[rows]]))
                v = self.mu.transform(v, params, others=others)
        if self.cs.enabled:
            with record_function("views.channel_swap"):
                idx = self.cs.sample(b_global)[rows]
                v = self.cs.apply_waveform(v, idx.repeat(2))  # the same symmetry for both views of a clip
        with record_function("views.features"):
            f = self.features(v)  # (2n, C, T, F): one call for both views
        if self.rrc.active:
            with record_function("views.resized_crop"):
                b1, b2 = (self.rrc.sample(b_global, f.shape[2], f.shape[3]) for _ in range(2))
                box = CropParams(
                    top=torch.cat([b1.top[rows], b2.top[rows]]), height=torch.cat([b1.height[rows], b2.height[rows]]),
                    left=torch.cat([b1.left[rows], b2.left[rows]]), width=torch.cat([b1.width[rows], b2.width[rows]]))
                if self.lag_channels:  # GCC-PHAT: the same time box, the whole lag axis
                    keep = torch.tensor(self.lag_channels, device=f.device)
                    lag = self.rrc.transform(f[:, keep], CropParams(top=box.top, height=box.height,
                                                                   left=torch.zeros_like(box.left),
                                                                   width=torch.full_like(box.width, f.shape[3])))
                    f = self.rrc.transform(f, box)
                    f[:, keep] = lag
                else:
                    f = self.rrc.transform(f, box)
        if self.cd.active and self.cd.drop > 0:
            with record_function("views.channel_drop"):
                d1, d2 = self.cd.sample(b_global, f.shape[1]), self.cd.sample(b_global, f.shape[1])
                f = self.cd.transform(f, torch.cat([d1[rows], d2[rows]]), inplace=True)  # f is ours: no copy
        return f[:n], f[n:]
