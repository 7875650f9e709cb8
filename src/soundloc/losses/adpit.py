"""ADPIT: auxiliary duplicating permutation invariant training for multi-ACCDOA / multi-ACCDDOA.

After Shimada et al., "Multi-ACCDOA: localizing and detecting overlapping sounds from the same
class with auxiliary duplicating permutation invariant training" (ICASSP 2022), as the DCASE
2022-2024 baselines use it (our own implementation).

**Target layout** ``(B, T, 6, A, C)`` (the baselines' layout): the 6 rows are ``A0, B0, B1, C0, C1,
C2`` (:data:`ADPIT_ROWS`): a (frame, class) with one event fills ``A0``, with two events ``B0, B1``,
with three ``C0, C1, C2``; the other rows are zero. The ``A`` axis is ``activity, x, y, z`` (``A = 4``,
multi-ACCDOA) or ``activity, x, y, z, distance`` (``A = 5``, multi-ACCDDOA, metres); x, y, z is the
unit DOA vector (array frame: x front, y left, z up).

**From soundloc targets** (:func:`soundloc.data.dcase.labels_to_targets`, batched:
``activity (B, T, K, C)``, ``doa (B, T, K, C, 3)``, ``distance (B, T, K, C)``), :func:`adpit_targets`
counts the active slots ``n`` of each (frame, class) and copies the active slots (in slot order,
i.e. by track id) to ``A0`` (n = 1), ``B0, B1`` (n = 2) or ``C0, C1, C2`` (n >= 3; slots beyond the third
are dropped, as the baselines do).

**Loss** (:class:`AdpitLoss`): the output ``(B, T, 3, A - 1, C)`` (3 tracks of ACC(D)DOA vectors)
is compared with 13 track-assignment patterns per (frame, class): ``A0A0A0``; the 6 sequences of
``B0``/``B1`` over the 3 tracks that use both (``B0B0B1, B0B1B0, B0B1B1, B1B0B0, B1B0B1, B1B1B0``: one event
duplicated); the 6 permutations of ``C0C1C2``. Each pattern's target is ``activity * vector`` of the
rows it names, plus the first pattern of the other two groups (only one group is non-zero in a
(frame, class), so a pattern of another group stands for that group's first pattern rather than
silence). The error of a pattern is the mean squared error over tracks and axes; the loss is the
minimum over patterns per (frame, class), averaged over batch, frames and classes. It is 0 exactly
when every (frame, class) output equals one of its valid patterns, and it is invariant to any
permutation of the output tracks.
"""

from __future__ import annotations

from itertools import permutations

import torch
from torch import nn

ADPIT_ROWS: tuple[str, ...] = ("A0", "B0", "B1", "C0", "C1", "C2")
"""Rows of the ADPIT target tensor's third axis."""

NUM_TRACKS = 3

_GROUPS: tuple[tuple[tuple[int, int, int], ...], ...] = (
    ((0, 0, 0),),
    ((1, 1, 2), (1, 2, 1), (1, 2, 2), (2, 1, 1), (2, 1, 2), (2, 2, 1)),
    tuple(permutations((3, 4, 5))),  # type: ignore[arg-type]
)
"""Track-assignment patterns (rows of the target per output track), grouped by A / B / C."""


def adpit_targets(activity: torch.Tensor, doa: torch.Tensor, distance: torch.Tensor | None = None) -> torch.Tensor:
    """The ADPIT target tensor from batched soundloc targets (see the module docstring).

    Args:
        activity: ``(B, T, K, C)`` in {0, 1}.
        doa: ``(B, T, K, C, 3)`` unit vectors.
        distance: ``(B, T, K, C)`` metres, or ``None`` for multi-ACCDOA.

    Returns:
        ``(B, T, 6, 4, C)`` (no distance) or ``(B, T, 6, 5, C)`` float tensor.

    Example:
        >>> act = torch.zeros(1, 1, 3, 2); act[0, 0, :2, 1] = 1      # two events of class 1
        >>> doa = torch.zeros(1, 1, 3, 2, 3); doa[0, 0, 0, 1, 0] = 1; doa[0, 0, 1, 1, 1] = 1
        >>> adpit_targets(act, doa)[0, 0, :, :, 1].tolist()         # rows A0, B0, B1, C0, C1, C2
        [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    if activity.ndim != 4:
        raise ValueError(f"activity must be (batch, frames, tracks, classes), got shape {tuple(activity.shape)}")
    if doa.shape != (*activity.shape, 3):
        raise ValueError(f"doa must be {(*activity.shape, 3)} for activity {tuple(activity.shape)}, got {tuple(doa.shape)}")
    if distance is not None and distance.shape != activity.shape:
        raise ValueError(f"distance must have the activity's shape {tuple(activity.shape)}, got {tuple(distance.shape)}")
    b, t, k, c = activity.shape
    act = (activity > 0.5).to(doa.dtype)
    parts = [act[..., None], doa * act[..., None]]
    if distance is not None:
        parts.append((distance * act)[..., None])
    vec = torch.cat(parts, dim=-1)  # (B, T, K, C, A)
    order = torch.argsort(-act, dim=2, stable=True)  # active slots first, in slot order
    vec = torch.gather(vec, 2, order[..., None].expand_as(vec))
    if k < NUM_TRACKS:
        vec = torch.cat([vec, vec.new_zeros(b, t, NUM_TRACKS - k, c, vec.shape[-1])], dim=2)
    vec = vec[:, :, :NUM_TRACKS].permute(0, 1, 2, 4, 3)  # (B, T, 3, A, C)
    n = act.sum(dim=2)[:, :, None, :]  # (B, T, 1, C)
    m1, m2, m3 = (n == 1).to(vec.dtype), (n == 2).to(vec.dtype), (n >= 3).to(vec.dtype)
    return torch.stack([vec[:, :, 0] * m1, vec[:, :, 0] * m2, vec[:, :, 1] * m2,
                        vec[:, :, 0] * m3, vec[:, :, 1] * m3, vec[:, :, 2] * m3], dim=2)


class AdpitLoss(nn.Module):
    """The ADPIT loss for 3-track multi-ACCDOA (``A = 3``) or multi-ACCDDOA (``A = 4``) outputs.

    Args:
        distance_weight: weight of the distance axis' squared error (multi-ACCDDOA; 1 = plain MSE).

    Shapes: output ``(B, T, 3, A, C)``; target ``(B, T, 6, A + 1, C)`` (:func:`adpit_targets`).
    Returns a scalar (mean over batch, frames and classes of the per-(frame, class) minimum).

    Example:
        >>> act = torch.ones(1, 1, 1, 1); doa = torch.tensor([[[[[0.0, 1.0, 0.0]]]]])
        >>> target = adpit_targets(act, doa)
        >>> output = torch.tensor([0.0, 1.0, 0.0]).reshape(1, 1, 1, 3, 1).repeat(1, 1, 3, 1, 1)
        >>> float(AdpitLoss()(output, target))
        0.0
    """

    def __init__(self, *, distance_weight: float = 1.0) -> None:
        super().__init__()
        if distance_weight < 0:
            raise ValueError(f"distance_weight must be >= 0, got {distance_weight}")
        self.distance_weight = float(distance_weight)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.ndim != 5 or output.shape[2] != NUM_TRACKS or output.shape[3] not in (3, 4):
            raise ValueError(f"adpit loss: output must be (batch, frames, 3, 3|4, classes), got {tuple(output.shape)}")
        b, t, _, a, c = output.shape
        if target.shape != (b, t, len(ADPIT_ROWS), a + 1, c):
            raise ValueError(f"adpit loss: target must be {(b, t, len(ADPIT_ROWS), a + 1, c)} for output "
                             f"{tuple(output.shape)}, got {tuple(target.shape)}")
        rows = target[:, :, :, :1] * target[:, :, :, 1:]  # (B, T, 6, A, C) activity-coupled vectors
        weight = torch.ones(a, dtype=output.dtype, device=output.device)
        if a == 4:
            weight[3] = self.distance_weight
        weight = weight[None, None, None, :, None]
        firsts = [rows[:, :, list(g[0])] for g in _GROUPS]  # (B, T, 3, A, C) per group
        errors = []
        for gi, group in enumerate(_GROUPS):
            pad = sum(firsts[h] for h in range(len(_GROUPS)) if h != gi)
            for pattern in group:
                tgt = rows[:, :, list(pattern)] + pad
                errors.append((weight * (output - tgt) ** 2).mean(dim=(2, 3)))  # (B, T, C)
        return torch.stack(errors).min(dim=0).values.mean()
