"""Output heads: frame embeddings ``(B, T, D)`` -> SELD outputs, their training targets and decoding.

Every head is an MLP ``Linear(D, hidden) -> ReLU -> Dropout -> Linear(hidden, outputs)`` (one
``Linear`` when ``hidden=0``) followed by the output's activation and reshape:

=================  =========================  ============================================
name               output shape               meaning
=================  =========================  ============================================
``sed``            ``(B, T, C)``              event activity logits (sigmoid per class)
``doa``            ``(B, T, 3, C)``           DOA unit vector per class (x, y, z)
``sed-doa``        ``(B, T, 4, C)``           SELDnet's two branches: logit, then unit x, y, z
``accdoa``         ``(B, T, 3, C)``           ACCDOA: activity = vector norm (tanh)
``multi-accdoa``   ``(B, T, 3, 3, C)``        3 tracks x (x, y, z) x classes (tanh)
``multi-accddoa``  ``(B, T, 3, 4, C)``        3 tracks x (x, y, z, distance m) (tanh; ReLU)
=================  =========================  ============================================

Flattened, the ACCDOA-family outputs have the DCASE baselines' layout (track, axis, class):
``output.reshape(B, T, -1)`` is the baseline's ``(B, T, 3 * 4 * 13)`` for multi-ACCDDOA.

Each head has:

* ``target(targets)``: the tensor its loss (``loss_name`` in :data:`soundloc.losses.LOSSES`)
  compares with the output, from batched :func:`soundloc.data.dcase.labels_to_targets` tensors
  ``activity (B, T, K, C)``, ``doa (B, T, K, C, 3)``, ``distance (B, T, K, C)`` (single-track heads
  use slot 0, the lowest track id; multi-track heads build the ADPIT target ``(B, T, 6, 4|5, C)``);
* ``ideal_output(targets)``: an output that decodes to exactly these targets (loss 0 for the
  ACCDOA family; logits of +-20 for ``sed``);
* ``decode(output, threshold=0.5, unify_deg=15.0)``: one :class:`~soundloc.dataformat.DcaseLabels`
  per batch item (rows ``frame, class, track, azimuth, elevation, distance``; see
  :mod:`soundloc.models.decode`). ``sed`` rows have NaN directions; ``doa`` needs ``activity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from soundloc.dataformat import DcaseLabels
from soundloc.losses.adpit import NUM_TRACKS, adpit_targets
from soundloc.models.decode import labels_from_mask, unify_tracks

Targets = Mapping[str, torch.Tensor]
"""Batched frame-level targets: ``activity (B, T, K, C)``, ``doa (B, T, K, C, 3)``, ``distance (B, T, K, C)``."""

IDEAL_LOGIT = 20.0
"""Logit magnitude of :meth:`SedHead.ideal_output` (sigmoid 1 - 2e-9)."""


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.asarray(x.detach().to("cpu", torch.float64).numpy())


def _get(targets: Targets, key: str) -> torch.Tensor:
    if key not in targets:
        raise ValueError(f"targets need '{key}' (see soundloc.data.dcase.labels_to_targets), got {', '.join(targets)}")
    return targets[key]


def _slot0(targets: Targets) -> tuple[torch.Tensor, torch.Tensor]:
    """``activity (B, T, C)`` and ``doa (B, T, 3, C)`` of the first track slot."""
    act, doa = _get(targets, "activity"), _get(targets, "doa")
    if act.ndim != 4 or doa.shape != (*act.shape, 3):
        raise ValueError(f"targets: activity must be (B, T, K, C) and doa (B, T, K, C, 3), got {tuple(act.shape)} and "
                         f"{tuple(doa.shape)}")
    return act[:, :, 0], doa[:, :, 0].permute(0, 1, 3, 2)


class Head(nn.Module):
    """Base of the output heads (see the module docstring).

    Args:
        in_features: embedding size ``D`` of the encoder.
        num_classes: ``C``.
        hidden: hidden width of the MLP (0: a single linear layer).
        dropout: dropout after the hidden layer.
    """

    name: ClassVar[str]
    loss_name: ClassVar[str]
    axes: ClassVar[tuple[int, ...]]
    """Output shape after ``(B, T)``, with ``-1`` standing for ``C``."""
    tracks: ClassVar[int] = 1
    """Events of one class in one frame the head's target holds (track slots it reads)."""

    def __init__(self, *, in_features: int, num_classes: int, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        for nm, v in (("in_features", in_features), ("num_classes", num_classes)):
            if int(v) < 1:
                raise ValueError(f"{nm} must be >= 1, got {v}")
        if hidden < 0:
            raise ValueError(f"hidden must be >= 0, got {hidden}")
        self.in_features, self.num_classes = int(in_features), int(num_classes)
        out = self.num_classes * int(np.prod([a for a in self.axes if a > 0] or [1]))
        layers: list[nn.Module] = [nn.Linear(in_features, out)] if hidden == 0 else [
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, out)]
        self.mlp = nn.Sequential(*layers)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Output shape after ``(B, T)``."""
        return tuple(self.num_classes if a == -1 else a for a in self.axes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[2] != self.in_features:
            raise ValueError(f"{self.name} head expects embeddings (batch, frames, {self.in_features}), got {tuple(x.shape)}")
        y = self.mlp(x).reshape(x.shape[0], x.shape[1], *self.output_shape)
        return self.activate(y)

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def check_output(self, output: torch.Tensor) -> None:
        if output.ndim != 2 + len(self.axes) or tuple(output.shape[2:]) != self.output_shape:
            raise ValueError(f"{self.name} head: output must be (batch, frames, {', '.join(map(str, self.output_shape))}), "
                             f"got {tuple(output.shape)}")

    def target(self, targets: Targets) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def ideal_output(self, targets: Targets) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0, frame_offset: int = 0,
               activity: torch.Tensor | None = None) -> list[DcaseLabels]:  # pragma: no cover - abstract
        raise NotImplementedError


class SedHead(Head):
    """Event classification: activity logits ``(B, T, C)`` (apply a sigmoid for probabilities)."""

    name = "sed"
    loss_name = "sed"
    axes = (-1,)

    def target(self, targets: Targets) -> torch.Tensor:
        return (_get(targets, "activity").amax(dim=2) > 0.5).float()

    def ideal_output(self, targets: Targets) -> torch.Tensor:
        return (2.0 * self.target(targets) - 1.0) * IDEAL_LOGIT

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0, frame_offset: int = 0,
               activity: torch.Tensor | None = None) -> list[DcaseLabels]:
        """Class-only rows (NaN azimuth/elevation) where ``sigmoid(output) > threshold``."""
        self.check_output(output)
        p = _numpy(torch.sigmoid(output))
        return [labels_from_mask(p[b] > threshold, None, frame_offset=frame_offset) for b in range(len(p))]


class DoaHead(Head):
    """DOA regression: a unit vector per class ``(B, T, 3, C)`` (the DOA branch of SELDnet)."""

    name = "doa"
    loss_name = "doa"
    axes = (3, -1)

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        return y / torch.clamp(torch.linalg.vector_norm(y, dim=2, keepdim=True), min=1e-6)

    def target(self, targets: Targets) -> torch.Tensor:
        act, doa = _slot0(targets)
        return torch.cat([act[:, :, None], doa], dim=2)

    def ideal_output(self, targets: Targets) -> torch.Tensor:
        return _slot0(targets)[1]

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0, frame_offset: int = 0,
               activity: torch.Tensor | None = None) -> list[DcaseLabels]:
        """Rows where ``activity (B, T, C)`` (probabilities, e.g. from a ``sed`` head) exceeds ``threshold``."""
        self.check_output(output)
        if activity is None or activity.shape != (output.shape[0], output.shape[1], output.shape[3]):
            raise ValueError(f"the doa head decodes with activity=(batch, frames, classes) probabilities "
                             f"(e.g. sigmoid of a sed head), got {None if activity is None else tuple(activity.shape)}")
        v, a = _numpy(output), _numpy(activity)
        return [labels_from_mask(a[b] > threshold, v[b], frame_offset=frame_offset) for b in range(len(v))]


class SedDoaHead(Head):
    """SELDnet's two branches in one tensor ``(B, T, 4, C)``: activity logit, then unit x, y, z."""

    name = "sed-doa"
    loss_name = "sed-doa"
    axes = (4, -1)

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        d = y[:, :, 1:]
        return torch.cat([y[:, :, :1], d / torch.clamp(torch.linalg.vector_norm(d, dim=2, keepdim=True), min=1e-6)], dim=2)

    def target(self, targets: Targets) -> torch.Tensor:
        act, doa = _slot0(targets)
        return torch.cat([(act[:, :, None] > 0.5).float(), doa], dim=2)

    def ideal_output(self, targets: Targets) -> torch.Tensor:
        t = self.target(targets)
        return torch.cat([(2.0 * t[:, :, :1] - 1.0) * IDEAL_LOGIT, t[:, :, 1:]], dim=2)

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0, frame_offset: int = 0,
               activity: torch.Tensor | None = None) -> list[DcaseLabels]:
        """Rows where ``sigmoid(logit) > threshold``, directed by the DOA branch."""
        self.check_output(output)
        p, v = _numpy(torch.sigmoid(output[:, :, 0])), _numpy(output[:, :, 1:])
        return [labels_from_mask(p[b] > threshold, v[b], frame_offset=frame_offset) for b in range(len(p))]


class AccdoaHead(Head):
    """ACCDOA (Shimada et al., 2021): ``(B, T, 3, C)`` vectors in [-1, 1] whose norm is the activity."""

    name = "accdoa"
    loss_name = "accdoa"
    axes = (3, -1)

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y)

    def target(self, targets: Targets) -> torch.Tensor:
        act, doa = _slot0(targets)
        return act[:, :, None] * doa

    def ideal_output(self, targets: Targets) -> torch.Tensor:
        return self.target(targets)

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0, frame_offset: int = 0,
               activity: torch.Tensor | None = None) -> list[DcaseLabels]:
        """Rows where the vector norm exceeds ``threshold`` (track 0)."""
        self.check_output(output)
        v = _numpy(output)
        act = np.linalg.norm(v, axis=2) > threshold
        return [labels_from_mask(act[b], v[b], frame_offset=frame_offset) for b in range(len(v))]


class MultiAccdoaHead(Head):
    """Multi-ACCDOA (Shimada et al., 2022): 3 tracks ``(B, T, 3, 3, C)``, trained with ADPIT."""

    name = "multi-accdoa"
    loss_name = "adpit"
    axes = (3, 3, -1)
    tracks = NUM_TRACKS
    with_distance: ClassVar[bool] = False

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y)

    def target(self, targets: Targets) -> torch.Tensor:
        act, doa = _get(targets, "activity"), _get(targets, "doa")
        return adpit_targets(act, doa, _get(targets, "distance") if self.with_distance else None)

    def ideal_output(self, targets: Targets) -> torch.Tensor:
        """The ADPIT patterns ``A0A0A0``, ``B0B1B1``, ``C0C1C2`` (one event duplicated on the spare track)."""
        t = self.target(targets)
        rows = t[:, :, :, :1] * t[:, :, :, 1:]
        return rows[:, :, [0, 0, 0]] + rows[:, :, [1, 2, 2]] + rows[:, :, [3, 4, 5]]

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0, frame_offset: int = 0,
               activity: torch.Tensor | None = None) -> list[DcaseLabels]:
        """Active tracks (norm > ``threshold``), similar tracks of a class merged (:func:`unify_tracks`)."""
        self.check_output(output)
        o = _numpy(output)
        dist = o[:, :, :, 3] if self.with_distance else None
        return [unify_tracks(o[b, :, :, :3], None if dist is None else dist[b], threshold=threshold, unify_deg=unify_deg,
                             frame_offset=frame_offset) for b in range(len(o))]


class MultiAccddoaHead(MultiAccdoaHead):
    """Multi-ACCDDOA (DCASE2024): 3 tracks ``(B, T, 3, 4, C)`` of x, y, z (tanh) and distance in metres (ReLU)."""

    name = "multi-accddoa"
    axes = (3, 4, -1)
    with_distance = True

    def activate(self, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.tanh(y[:, :, :, :3]), torch.relu(y[:, :, :, 3:])], dim=3)


HEADS: dict[str, type[Head]] = {h.name: h for h in (SedHead, DoaHead, SedDoaHead, AccdoaHead, MultiAccdoaHead, MultiAccddoaHead)}
"""Registry: head name -> class."""


def get_head(name: str, **kwargs: Any) -> Head:
    """Build head ``name`` (:data:`HEADS`) with keyword arguments; ``ValueError`` listing the choices."""
    key = str(name).lower().replace("_", "-")
    if key not in HEADS:
        raise ValueError(f"unknown head '{name}'; choose from {', '.join(HEADS)}")
    return HEADS[key](**kwargs)
