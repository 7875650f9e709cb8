"""Waveform Mixup with a random other clip at a small weight (MC-SimCLR's mixing augmentation).

Each anchor ``x_a`` and its partner ``x_o`` are normalised to unit RMS (over all channels and
samples, so inter-channel level differences are kept), mixed as ``(1 - w) x_a + w x_o`` with
``w`` uniform in ``[min_weight, max_weight]`` (``max_weight < 0.5``: the anchor stays dominant),
and the mixture is normalised again to the anchor's original RMS. Labels stay the anchor's:
the partner is a weak interference, not a second labelled source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from soundloc.augment.base import Augmentation

EPS = 1e-8
"""Added to RMS values before dividing (silent clips stay silent)."""


@dataclass(frozen=True)
class MixParams:
    """Drawn mixing: ``partner`` ``(B,)`` long index into the pool, ``weight`` ``(B,)`` float (0 = untouched)."""

    partner: torch.Tensor
    weight: torch.Tensor


def rms(x: torch.Tensor) -> torch.Tensor:
    """``(B, ...)`` -> ``(B,)`` root mean square over everything but the batch axis."""
    return torch.sqrt(torch.mean(x.reshape(x.shape[0], -1) ** 2, dim=1))


class Mixup(Augmentation):
    """Mix every clip with a random other clip of the batch (or of a given pool) at a small weight.

    Args:
        min_weight, max_weight: range of the partner's weight ``w``, ``0 <= min <= max < 0.5``
            (our default ``[0, 0.2]``; the paper only says "small").
        p: probability that a clip is mixed; ``enabled`` / ``seed``: see
            :class:`~soundloc.augment.base.Augmentation`.

    ``forward(x, others=None)``: ``x`` ``(B, M, N)`` waveforms; partners are drawn from ``others``
    ``(B2, M, N)`` or, when it is ``None``, from the other clips of ``x`` (never the clip itself;
    a batch of one is returned unchanged).

    Example:
        >>> mu = Mixup(max_weight=0.2, seed=0)
        >>> mu(torch.randn(8, 4, 16000)).shape
        torch.Size([8, 4, 16000])
    """

    def __init__(
        self, *, min_weight: float = 0.0, max_weight: float = 0.2, p: float = 1.0, enabled: bool = True, seed: int | None = None
    ) -> None:
        super().__init__(p=p, enabled=enabled, seed=seed)
        lo, hi = float(min_weight), float(max_weight)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo <= hi < 0.5):
            raise ValueError(f"mixup weights need 0 <= min_weight <= max_weight < 0.5, got [{min_weight}, {max_weight}]")
        self.min_weight, self.max_weight = lo, hi

    def sample(self, batch: int, pool: int | None = None, generator: torch.Generator | None = None) -> MixParams:
        """Partners and weights for ``batch`` clips; ``pool=None``: partners from the batch itself."""
        g = self._gen(generator)
        applied = self.draw_apply(batch, g)
        w = self.min_weight + (self.max_weight - self.min_weight) * torch.rand(batch, generator=g)
        if pool is None:
            if batch < 2:
                return MixParams(partner=torch.zeros(batch, dtype=torch.long), weight=torch.zeros(batch))
            partner = (torch.arange(batch) + torch.randint(1, batch, (batch,), generator=g)) % batch  # never itself
        else:
            if pool < 1:
                raise ValueError("Mixup: the pool of other clips is empty")
            partner = torch.randint(0, pool, (batch,), generator=g)
        return MixParams(partner=partner, weight=torch.where(applied, w, torch.zeros_like(w)))

    def transform(self, x: torch.Tensor, params: MixParams, others: torch.Tensor | None = None) -> torch.Tensor:
        """Mix ``x`` ``(B, M, N)`` with ``others[partner]`` (``others`` defaults to ``x``)."""
        src = x if others is None else others
        if x.ndim != 3 or src.ndim != 3 or src.shape[1:] != x.shape[1:]:
            raise ValueError(f"Mixup expects waveforms (B, M, N) and a pool of equal (M, N), got {tuple(x.shape)} and {tuple(src.shape)}")
        b = x.shape[0]
        w = params.weight.to(device=x.device, dtype=torch.float64)
        partner = src[params.partner.to(x.device)]  # a copy (indexing by a tensor)
        xf, pf = x.reshape(b, 1, -1), partner.reshape(b, 1, -1)
        n = xf.shape[2]

        def mean_prod(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # (B,) mean of u * v, no temporaries
            return torch.bmm(u, v.transpose(1, 2))[:, 0, 0].double() / n

        ex, cross = mean_prod(xf, xf), mean_prod(xf, pf)  # mean squares and cross term
        ep = ex[params.partner.to(x.device)] if src is x else mean_prod(pf, pf)
        ra, rp = torch.sqrt(ex), torch.sqrt(ep)
        ca = (1.0 - w) / (ra + EPS)  # mixed = ca x + cp partner (both at unit RMS)
        cp = w / (rp + EPS)
        rms_mixed = torch.sqrt((ca**2 * ex + cp**2 * ep + 2.0 * ca * cp * cross).clamp_min(0.0))
        k = ra / (rms_mixed + EPS)  # back to the anchor's RMS
        mixed = w > 0
        ka = torch.where(mixed, ca * k, torch.ones_like(w)).to(x.dtype)
        kp = torch.where(mixed, cp * k, torch.zeros_like(w)).to(x.dtype)
        return partner.mul_(kp[:, None, None]).addcmul_(x, ka[:, None, None])  # in the partner copy: no temporaries

    def forward(self, x: torch.Tensor, others: torch.Tensor | None = None, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mix each clip of ``x`` ``(B, M, N)`` with a random partner."""
        if x.ndim != 3:
            raise ValueError(f"Mixup expects waveforms (B, M, N), got shape {tuple(x.shape)}")
        if not self.active:
            return x
        params = self.sample(x.shape[0], None if others is None else others.shape[0], generator)
        return self.transform(x, params, others)

    def extra_repr(self) -> str:
        return f"weight=[{self.min_weight}, {self.max_weight}], {super().extra_repr()}"
