"""Clip mixing for SELD training: the sum of two clips' waveforms, labelled with the union of their events.

What the DCASE SELD systems call time-domain mixing (e.g. the USTC systems that won DCASE 2020 and
2022): a training clip ``a`` gets a partner clip ``b`` of the same batch added to its waveform,
``a + g b`` with the partner's gain ``g`` drawn in decibels from ``[min_gain_db, max_gain_db]``.
Both clips are recordings of the same array (or FOA format), so by linearity the sum is the
recording of the scene that holds both clips' sources; its labels are, frame by frame, the events of
``a`` and those of ``b``. Mixing in the waveform domain is what keeps the labels exact -- summing
log-mel or GCC features is not the feature of the summed audio.

**Labels.** The batch carries the track-slot targets of :func:`soundloc.data.dcase.labels_to_targets`:
``activity (B, T, K, C)``, ``doa (B, T, K, C, 3)``, ``distance (B, T, K, C)``. :func:`merge_targets`
puts, for every frame and class, the anchor's active slots first and then the partner's -- exactly
the targets of the concatenated label rows with the partner's track ids after the anchor's.

**Same class in the same frame.** A head holds ``max_per_class`` events of one class in one frame
(1 for single ACCDOA, the 3 tracks for multi-ACCDOA / ADPIT). A pair in which the partner would add
an event to a (frame, class) that then holds more than that is *not mixed* (the clip stays as it
was): capping would leave an audible event unlabelled, and for single ACCDOA one vector cannot say
two directions. So every mixed clip's labels are exactly the union of both clips' events. (Were the
anchor alone already over the limit, as a clip with four same-class events, it is never mixed.)

**Partners and DDP.** The partner of row ``i`` is a random other row of its *group* of ``group``
consecutive rows of the global batch (default pairs: rows ``2j`` and ``2j + 1``; ``None``: the whole
batch). Clip order in a batch is already random, so this is a random partner, and a group that lies
inside one DDP process's rows needs nothing from the other processes: draws are made for the
global batch from the module's generator and each process takes its rows
(:meth:`ClipMixParams.rows`), which gives the same result on any number of processes. A row alone
in its group (an odd batch) is not mixed.

Note: both clips' ambient noise is summed too (about 3 dB more diffuse noise at 0 dB gain), and the
partner's gain changes its events' level, one of the cues of distance (multi-ACCDDOA).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from soundloc.augment.base import Augmentation

TARGET_KEYS = ("activity", "doa", "distance")
"""Target tensors that are merged (``activity`` and ``doa`` required, ``distance`` optional)."""


@dataclass(frozen=True)
class ClipMixParams:
    """Drawn mixing of a batch: ``applied`` ``(B,)`` bool, ``partner`` ``(B,)`` long row index into the
    same batch (the row itself where there is none), ``gain`` ``(B,)`` float linear gain of the partner."""

    applied: torch.Tensor
    partner: torch.Tensor
    gain: torch.Tensor

    def rows(self, rows: slice) -> ClipMixParams:
        """The draws of rows ``rows`` of a global batch, partners renumbered within them (a DDP process's
        share); ``ValueError`` if a mixed row's partner lies outside (a group split across processes)."""
        start = 0 if rows.start is None else int(rows.start)
        applied, partner = self.applied[rows], self.partner[rows] - start
        n = applied.shape[0]
        if bool((applied & ((partner < 0) | (partner >= n))).any()):
            raise ValueError("clip mixing: a partner lies in another process's rows; "
                             "make the per-process batch a multiple of the mixing group")
        return ClipMixParams(applied=applied, partner=partner.clamp(0, max(n - 1, 0)), gain=self.gain[rows])


def _check_targets(targets: Mapping[str, torch.Tensor]) -> tuple[int, int, int, int]:
    if "activity" not in targets or "doa" not in targets:
        raise ValueError(f"clip mixing needs targets 'activity' and 'doa', got {', '.join(targets) or 'none'}")
    unknown = sorted(set(targets) - set(TARGET_KEYS))
    if unknown:
        raise ValueError(f"clip mixing cannot merge targets {', '.join(unknown)} (it merges {', '.join(TARGET_KEYS)})")
    act = targets["activity"]
    if act.ndim != 4:
        raise ValueError(f"activity must be (B, T, K, C), got shape {tuple(act.shape)}")
    shape = tuple(act.shape)
    if tuple(targets["doa"].shape) != (*shape, 3):
        raise ValueError(f"doa must be (B, T, K, C, 3) = {(*shape, 3)}, got {tuple(targets['doa'].shape)}")
    if "distance" in targets and tuple(targets["distance"].shape) != shape:
        raise ValueError(f"distance must be (B, T, K, C) = {shape}, got {tuple(targets['distance'].shape)}")
    b, t, k, c = shape
    return b, t, k, c


def merge_targets(anchor: Mapping[str, torch.Tensor], partner: Mapping[str, torch.Tensor], *,
                  max_per_class: int | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Frame-wise union of two clips' events.

    Args:
        anchor, partner: targets of the same shape, ``activity (B, T, K, C)`` (active where > 0.5),
            ``doa (B, T, K, C, 3)`` and optionally ``distance (B, T, K, C)``.
        max_per_class: events one (frame, class) may hold after merging (``None``: ``K``; at most ``K``).

    Returns:
        ``(merged, fits)``: ``merged`` has the same keys and shapes -- per frame and class the anchor's
        active slots, then the partner's, in slot order, packed from slot 0 (inactive slots all zero),
        cut at ``K``; ``fits`` ``(B,)`` bool is ``False`` where the partner adds an event to a
        (frame, class) that would then hold more than ``max_per_class`` (the merge is then not the
        full union).
    """
    shape = _check_targets(anchor)
    if _check_targets(partner) != shape or set(partner) != set(anchor):
        raise ValueError(f"clip mixing: anchor and partner targets differ ({', '.join(anchor)} {shape} vs "
                         f"{', '.join(partner)} {tuple(partner['activity'].shape)})")
    k = shape[2]
    cap = k if max_per_class is None else int(max_per_class)
    if not 1 <= cap <= k:
        raise ValueError(f"max_per_class must be in 1..{k} (the target's track slots), got {max_per_class}")
    act_a, act_b = anchor["activity"] > 0.5, partner["activity"] > 0.5
    active = torch.cat([act_a, act_b], dim=2)  # (B, T, 2K, C): anchor slots, then partner slots
    order = torch.sort((~active).to(torch.uint8), dim=2, stable=True).indices[:, :, :k]  # active first, in order
    keep = torch.gather(active, 2, order)
    merged: dict[str, torch.Tensor] = {}
    for key in anchor:
        both = torch.cat([anchor[key], partner[key]], dim=2)
        if key == "doa":
            picked = torch.gather(both, 2, order[..., None].expand(*order.shape, 3))
            merged[key] = picked * keep[..., None].to(picked.dtype)
        else:
            picked = torch.gather(both, 2, order)
            merged[key] = picked * keep.to(picked.dtype)
    n_a, n_b = act_a.sum(dim=2), act_b.sum(dim=2)  # (B, T, C)
    over = (n_b > 0) & (n_a + n_b > cap)
    return merged, ~over.flatten(1).any(dim=1)


class ClipMix(Augmentation):
    """Add a partner clip of the batch to each clip (with probability ``p``) and merge their labels.

    Args:
        min_gain_db, max_gain_db: range of the partner's gain in dB (uniform in dB; default ``[-6, 0]``,
            our choice: the partner no louder than it was recorded).
        max_per_class: events of one class one frame may hold (1 for single ACCDOA, 3 for the
            multi-track heads; ``None``: the targets' ``K`` slots); pairs that would exceed it are not mixed.
        group: partners come from groups of this many consecutive rows (``None``: the whole batch;
            see the module docstring for DDP).
        p: probability that a clip is mixed; ``enabled`` / ``seed``: see
            :class:`~soundloc.augment.base.Augmentation`.

    ``forward(x, targets)``: ``x`` ``(B, M, N)`` waveforms and targets (see :func:`merge_targets`) ->
    the mixed waveforms and merged targets (rows that are not mixed are returned unchanged).

    Example:
        >>> cm = ClipMix(p=1.0, seed=0)
        >>> act = torch.zeros(4, 10, 3, 5); doa = torch.zeros(4, 10, 3, 5, 3)
        >>> x, t = cm(torch.randn(4, 4, 16000), {"activity": act, "doa": doa})
        >>> x.shape, t["doa"].shape
        (torch.Size([4, 4, 16000]), torch.Size([4, 10, 3, 5, 3]))
    """

    def __init__(self, *, min_gain_db: float = -6.0, max_gain_db: float = 0.0, max_per_class: int | None = None,
                 group: int | None = 2, p: float = 0.5, enabled: bool = True, seed: int | None = None) -> None:
        super().__init__(p=p, enabled=enabled, seed=seed)
        lo, hi = float(min_gain_db), float(max_gain_db)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"clip mixing gains need finite min_gain_db <= max_gain_db, got [{min_gain_db}, {max_gain_db}]")
        if max_per_class is not None and int(max_per_class) < 1:
            raise ValueError(f"max_per_class must be >= 1 or None, got {max_per_class}")
        if group is not None and int(group) < 2:
            raise ValueError(f"group must be >= 2 or None, got {group}")
        self.min_gain_db, self.max_gain_db = lo, hi
        self.max_per_class = None if max_per_class is None else int(max_per_class)
        self.group = None if group is None else int(group)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> ClipMixParams:
        """Which clips are mixed, their partners and gains, for a (global) batch of ``batch`` clips (CPU)."""
        g = self._gen(generator)
        applied = self.draw_apply(batch, g)
        gain_db = self.min_gain_db + (self.max_gain_db - self.min_gain_db) * torch.rand(batch, generator=g, dtype=torch.float64)
        u = torch.rand(batch, generator=g, dtype=torch.float64)
        i = torch.arange(batch)
        size = batch if self.group is None else self.group
        start = (i // size) * size
        n = torch.clamp(batch - start, max=size)  # the group's size (the last one may be short)
        shift = 1 + torch.floor(u * (n - 1).clamp_min(0)).long()  # 1..n-1: never the row itself
        partner = torch.where(n > 1, start + (i - start + shift) % n.clamp_min(1), i)
        return ClipMixParams(applied=applied & (n > 1), partner=partner, gain=(10.0 ** (gain_db / 20.0)).float())

    def transform(self, x: torch.Tensor, targets: Mapping[str, torch.Tensor],
                  params: ClipMixParams) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mix ``x`` ``(B, M, N)`` and merge ``targets`` as ``params`` says (pairs over ``max_per_class``
        are left unmixed)."""
        if x.ndim != 3:
            raise ValueError(f"ClipMix expects waveforms (B, M, N), got shape {tuple(x.shape)}")
        b = _check_targets(targets)[0]
        if b != x.shape[0] or params.applied.shape != (b,):
            raise ValueError(f"ClipMix: {x.shape[0]} waveforms, {b} targets and {tuple(params.applied.shape)} draws")
        partner = params.partner.to(x.device)
        merged, fits = merge_targets(targets, {k: v[partner] for k, v in targets.items()}, max_per_class=self.max_per_class)
        mixed = params.applied.to(x.device) & fits
        gain = torch.where(mixed, params.gain.to(x.device), torch.zeros_like(params.gain, device=x.device)).to(x.dtype)
        out = x + gain[:, None, None] * x[partner]
        t_out = {k: torch.where(mixed.view(-1, *([1] * (v.ndim - 1))), merged[k], v) for k, v in targets.items()}
        return out, t_out

    def forward(self, x: torch.Tensor, targets: Mapping[str, torch.Tensor], *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Mix a batch ``x`` ``(B, M, N)`` with its ``targets``; identity when not :attr:`active`."""
        if not self.active:
            return x, dict(targets)
        return self.transform(x, targets, self.sample(x.shape[0], generator))

    def extra_repr(self) -> str:
        return (f"gain_db=[{self.min_gain_db}, {self.max_gain_db}], max_per_class={self.max_per_class}, "
                f"group={self.group}, {super().extra_repr()}")
