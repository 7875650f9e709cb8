"""The training configuration: a frozen, JSON-able :class:`TrainConfig`.

A run folder records it; resuming refuses a different config with a one-line ``ValueError``
naming the first differing field (:meth:`TrainConfig.check_resume`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soundloc.configs import checked_replace
from soundloc.features.stacks import FEATURES, FeatureConfig
from soundloc.models.heads import HEADS
from soundloc.models.registry import MODELS

RESUME_FREE_FIELDS = ("num_workers",)
"""Fields that may change between a run and its resume (they do not change the result)."""

OUTPUTS = ("accdoa", "multi-accdoa", "multi-accddoa")
"""Output heads the trainer is built for (all take the SELD dataset targets)."""

SELECT_ON = ("val_loss", "seld")
"""What model selection and early stopping minimise."""

FEATURE_PRESET_BY_FS = {24000: "dcase", 16000: "mcsimclr"}
"""Feature preset used for audio at each sample rate (both give 5 frames per 100 ms label frame)."""


def feature_config_for(fs: int) -> FeatureConfig:
    """The feature settings for ``fs`` Hz audio (:data:`FEATURE_PRESET_BY_FS`); ``ValueError`` otherwise."""
    name = FEATURE_PRESET_BY_FS.get(int(fs))
    if name is None:
        rates = ", ".join(str(r) for r in FEATURE_PRESET_BY_FS)
        raise ValueError(f"no feature preset for {fs} Hz audio; resample the data to one of {rates} Hz")
    return FeatureConfig.preset(name)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result (besides the data).

    Attributes:
        model: encoder name (:data:`soundloc.models.MODELS`: ``crnn``, ``resnet-conformer``).
        output: head name (:data:`OUTPUTS`).
        features: feature stack (``mic``, ``foa``, ``salsa-lite``; :data:`soundloc.features.FEATURES`).
        model_kwargs: extra encoder keyword arguments (e.g. ``{"rnn_size": 32}``), JSON values.
        epochs: maximum number of epochs.
        batch_size: global batch (split evenly over DDP processes).
        lr: peak learning rate of AdamW; ``weight_decay`` its decoupled weight decay.
        warmup_steps: linear warm-up steps, then a cosine decay to 0 over the remaining steps.
        clip_seconds: training crop / validation window length in seconds (multiple of 0.1).
        max_tracks: track slots per class in the targets (3 for the multi-track heads).
        seed: seed of the weights, the data order, crops and augmentations.
        channel_swap: random array symmetries on the waveforms with labels transformed.
        spec_augment: time/frequency masks on the features.
        mix_prob: probability that a training clip is mixed with another clip of its batch, labels
            merged (:class:`~soundloc.augment.ClipMix`; 0: off).
        mix_min_gain_db, mix_max_gain_db: range of the mixed-in clip's gain in dB.
        dropout: encoder dropout (``None``: the encoder's default).
        amp: bfloat16 autocast on CUDA (CPU runs always use float32).
        patience: stop after this many epochs without a better validation loss (``None``: never).
        steps_per_epoch: optimizer steps per epoch (``None``: one pass over the training windows).
        num_workers: DataLoader worker processes (spawned; does not change the result).
        grad_clip: clip the gradient norm to this (``None``: no clipping).
        select_on: model selection and early stopping on the validation ``"val_loss"`` or the
            validation ``"seld"`` score (the trainer then needs a ``val_score`` function, e.g. the
            CLI's DCASE scorer).
        normalize: the model standardises its input features per (channel, bin) with statistics of
            the first :data:`~soundloc.train.loop.NORM_BATCHES` training batches (unaugmented), fitted
            before the first step and saved with the weights.
    """

    model: str = "crnn"
    output: str = "multi-accdoa"
    features: str = "mic"
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 0
    clip_seconds: float = 5.0
    max_tracks: int = 3
    seed: int = 0
    channel_swap: bool = True
    spec_augment: bool = True
    mix_prob: float = 0.0
    mix_min_gain_db: float = -6.0
    mix_max_gain_db: float = 0.0
    dropout: float | None = None
    amp: bool = True
    patience: int | None = 10
    steps_per_epoch: int | None = None
    num_workers: int = 0
    grad_clip: float | None = None
    select_on: str = "val_loss"
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model '{self.model}'; choose from {', '.join(MODELS)}")
        if self.output not in OUTPUTS or self.output not in HEADS:
            raise ValueError(f"unknown output '{self.output}'; choose from {', '.join(OUTPUTS)}")
        if self.features not in FEATURES:
            raise ValueError(f"unknown features '{self.features}'; choose from {', '.join(FEATURES)}")
        object.__setattr__(self, "model_kwargs", dict(self.model_kwargs))
        for name in ("epochs", "batch_size", "max_tracks"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "num_workers", "seed"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        frames = self.clip_seconds / 0.1
        if self.clip_seconds <= 0 or abs(frames - round(frames)) > 1e-6:
            raise ValueError(f"clip_seconds must be a positive multiple of 0.1, got {self.clip_seconds}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1 or None, got {self.steps_per_epoch}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.select_on not in SELECT_ON:
            raise ValueError(f"unknown select_on '{self.select_on}'; choose from {', '.join(SELECT_ON)}")
        if not (math.isfinite(self.mix_prob) and 0.0 <= self.mix_prob <= 1.0):
            raise ValueError(f"mix_prob must be in [0, 1], got {self.mix_prob}")
        lo, hi = self.mix_min_gain_db, self.mix_max_gain_db
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"the mixing gain range needs finite min <= max dB, got [{lo}, {hi}]")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip}")

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (``ValueError`` naming an unknown field)."""
        return checked_replace(self, "training", changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model_kwargs"] = dict(self.model_kwargs)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; ``ValueError`` naming an unknown key."""
        if not isinstance(d, Mapping):
            raise ValueError(f"training config must be a JSON object, got {type(d).__name__}")
        return cls().replace(**dict(d))

    def encoder_kwargs(self) -> dict[str, Any]:
        """Encoder keyword arguments: ``model_kwargs`` plus ``dropout`` when set."""
        kw = dict(self.model_kwargs)
        if self.dropout is not None:
            kw["dropout"] = self.dropout
        return kw

    def check_resume(self, saved: TrainConfig) -> None:
        """``ValueError`` naming the first field (other than :data:`RESUME_FREE_FIELDS`) that differs from ``saved``."""
        a, b = self.to_dict(), saved.to_dict()
        for f in dataclasses.fields(self):
            if f.name not in RESUME_FREE_FIELDS and a[f.name] != b[f.name]:
                raise ValueError(f"the run was started with {f.name}={b[f.name]!r}, not {a[f.name]!r}; "
                                 "use another output folder or the same settings")
