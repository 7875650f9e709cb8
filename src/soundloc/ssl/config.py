"""The pretraining configuration: a frozen, JSON-able :class:`PretrainConfig`.

A run folder records it; resuming refuses a different config with a one-line ``ValueError``
naming the first differing field (:meth:`PretrainConfig.check_resume`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from soundloc.configs import checked_replace
from soundloc.models.registry import MODELS

AUGMENT_NAMES = ("cs", "mu", "rrc", "cd")
"""MC-SimCLR's augmentations, in pipeline order: ChannelSwap, Mixup, RandomResizedCrop, ChannelDrop."""

RESUME_FREE_FIELDS = ("num_workers",)
"""Fields that may change between a run and its resume (they do not change the result)."""


def parse_augment(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"cs,mu,rrc,cd"`` / ``"all"`` / ``"none"`` / a list -> the names in pipeline order.

    Raises:
        ValueError: an unknown or repeated name (the message lists the choices).
    """
    items = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if items in (["none"], []):
        return ()
    if items == ["all"]:
        return AUGMENT_NAMES
    bad = [s for s in items if s not in AUGMENT_NAMES]
    if bad:
        raise ValueError(f"unknown augmentation '{bad[0]}'; choose from {', '.join(AUGMENT_NAMES)}, all or none")
    if len(set(items)) != len(items):
        raise ValueError(f"augmentation listed twice in '{','.join(items)}'")
    return tuple(a for a in AUGMENT_NAMES if a in items)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that decides a pretraining run's result (besides the data).

    Attributes:
        model: encoder name (:data:`soundloc.models.MODELS`); ``model_kwargs`` its extra keyword
            arguments (the embedding size is the CRNN's ``rnn_size``, 128 by default).
        normalize: the encoder standardises its input features per (channel, bin), fitted before
            the first step on the first unaugmented training batches (see :class:`~soundloc.ssl.pretrain.Pretrainer`).
        objective: pretext objective (:data:`soundloc.ssl.objectives.OBJECTIVES`: ``ntxent``).
        temperature: NT-Xent temperature.
        proj_hidden, proj_dim: the two-layer projection head (hidden width, output size).
        augment: augmentations switched on (subset of :data:`AUGMENT_NAMES`).
        clip_seconds: window length taken from the data (a multiple of 0.1 s).
        crop_seconds: length of each of the two views cropped from a window (multiple of 0.1 s,
            ``<= clip_seconds``).
        mixup_max_weight: largest Mixup weight of the partner clip (``< 0.5``).
        channel_drop: probability of zeroing one feature channel.
        rrc_lags: RandomResizedCrop crops the GCC-PHAT lag axis too (MC-SimCLR's joint crop, which
            shifts the zero-lag bin differently per view and so teaches the encoder to ignore direction);
            ``False`` (default): GCC-PHAT channels are cropped along time only (see
            :class:`~soundloc.ssl.views.ViewMaker`). Configs saved without the field read as ``True``.
        epochs, batch_size (global, in pairs), lr (peak AdamW), weight_decay,
        warmup_epochs: linear warm-up, then cosine decay to 0.
        steps_per_epoch: ``None``: one pass over the windows.
        seed: weights, data order, crops and augmentations.
        amp: bfloat16 autocast on CUDA (CPU: float32).
        num_workers: DataLoader worker processes (does not change the result).
    """

    model: str = "crnn"
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    normalize: bool = True
    objective: str = "ntxent"
    temperature: float = 0.1
    proj_hidden: int = 512
    proj_dim: int = 128
    augment: tuple[str, ...] = AUGMENT_NAMES
    clip_seconds: float = 1.0
    crop_seconds: float = 0.8
    mixup_max_weight: float = 0.2
    channel_drop: float = 0.1
    rrc_lags: bool = False
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 10
    steps_per_epoch: int | None = None
    seed: int = 0
    amp: bool = True
    num_workers: int = 0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model '{self.model}'; choose from {', '.join(MODELS)}")
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        object.__setattr__(self, "augment", parse_augment(list(self.augment)))
        from soundloc.ssl.objectives import OBJECTIVES

        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective '{self.objective}'; choose from {', '.join(OBJECTIVES)}")
        for name in ("epochs", "batch_size", "proj_hidden", "proj_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (NT-Xent needs negatives), got {self.batch_size}")
        for name in ("warmup_epochs", "num_workers", "seed"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lr", "temperature"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("clip_seconds", "crop_seconds"):
            v = float(getattr(self, name))
            if v <= 0 or abs(v / 0.1 - round(v / 0.1)) > 1e-6:
                raise ValueError(f"{name} must be a positive multiple of 0.1 s, got {v}")
        if self.crop_seconds > self.clip_seconds + 1e-9:
            raise ValueError(f"crop_seconds ({self.crop_seconds}) must be <= clip_seconds ({self.clip_seconds})")
        if not 0.0 <= self.mixup_max_weight < 0.5:
            raise ValueError(f"mixup_max_weight must be in [0, 0.5), got {self.mixup_max_weight}")
        if not 0.0 <= self.channel_drop <= 1.0:
            raise ValueError(f"channel_drop must be in [0, 1], got {self.channel_drop}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or None, got {self.steps_per_epoch}")

    def replace(self, **changes: Any) -> PretrainConfig:
        """A copy with ``changes`` (``ValueError`` naming an unknown field)."""
        return checked_replace(self, "pretraining", changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model_kwargs"] = dict(self.model_kwargs)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PretrainConfig:
        """Inverse of :meth:`to_dict`; ``ValueError`` naming an unknown key."""
        if not isinstance(d, Mapping):
            raise ValueError(f"pretraining config must be a JSON object, got {type(d).__name__}")
        d = {"rrc_lags": True, **d}  # runs saved before the option cropped the lags jointly
        return cls().replace(**{k: (tuple(v) if k == "augment" else v) for k, v in d.items()})

    def check_resume(self, saved: PretrainConfig) -> None:
        """``ValueError`` naming the first field (other than :data:`RESUME_FREE_FIELDS`) that differs from ``saved``."""
        a, b = self.to_dict(), saved.to_dict()
        for f in dataclasses.fields(self):
            if f.name not in RESUME_FREE_FIELDS and a[f.name] != b[f.name]:
                raise ValueError(f"the run was started with {f.name}={b[f.name]!r}, not {a[f.name]!r}; "
                                 "use another output folder or the same settings")
