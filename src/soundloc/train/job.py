"""A whole training run from plain settings: data source, model, trainer, resume, fit.

:class:`TrainJob` is what the command line fills in; :func:`run_job` runs it in this process or,
through :func:`soundloc.train.ddp.spawn`, as one DDP process of several (it is picklable and
rebuilds everything from its fields in each process).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from soundloc.train.checkpoint import has_checkpoint
from soundloc.train.config import TrainConfig
from soundloc.train.data import SimulationSource, WindowSource, validation_dataset
from soundloc.train.loop import Source, Trainer, TrainResult, build_for


@dataclass(frozen=True)
class TrainJob:
    """One training run.

    Attributes:
        config: the :class:`TrainConfig`.
        run: the run folder.
        data: a dataset folder (soundloc or STARSS23/TAU-style), or ``None`` with ``scenes``.
        train_split, val_split: split / fold names of ``data`` (``val_split=None``: no validation,
            the last epoch is kept as the best).
        scenes: a :class:`~soundloc.scenes.SceneConfig` to simulate on the fly instead of ``data``;
            ``scene_seed`` its dataset seed; ``val_clips`` the simulated validation clips.
        device: torch device for training (``"cpu"``, ``"cuda"``...).
        require_checkpoint: refuse to start a new run (``--resume``).
        max_steps: stop (with a checkpoint) after this many total steps.
        max_minutes: stop after the first epoch that ends this many minutes into this call (a
            checkpoint is written; rerunning resumes).
        val_score: validation scorer passed to the :class:`Trainer` (picklable for DDP).
    """

    config: TrainConfig
    run: str
    data: str | None = None
    train_split: str = "train"
    val_split: str | None = "val"
    scenes: Any = None
    scene_seed: int = 0
    val_clips: int = 16
    device: str = "cpu"
    require_checkpoint: bool = False
    max_steps: int | None = None
    max_minutes: float | None = None
    val_score: Callable[[Any], Mapping[str, float | None]] | None = None

    def __post_init__(self) -> None:
        # model selection and early stopping on a validation split, never on the training or test data
        if self.data is not None and self.val_split is not None:
            val = self.val_split.lower()
            if val == self.train_split.lower():
                raise ValueError(f"the validation split '{self.val_split}' is the training split: choose a held-out split")
            if val.startswith("test") or val.startswith("dev-test") or val.startswith("eval"):
                raise ValueError(f"the validation split '{self.val_split}' looks like test data: models are selected on a "
                                 "validation split, never on the test split (hold out a training fold, e.g. of dev-train)")


def _sources(job: TrainJob) -> tuple[Source, Dataset[Any] | None, Any, int, tuple[str, ...]]:
    """``(training source, validation data, array, fs, class names)``."""
    cfg = job.config
    if job.scenes is not None:
        src = SimulationSource(job.scenes, job.scene_seed, max_tracks=cfg.max_tracks)
        val = src.validation(job.val_clips) if job.val_split is not None else None
        return src, val, job.scenes.array.resolve(), int(job.scenes.fs), src.class_names
    if job.data is None:
        raise ValueError("give a dataset folder or a scene config to simulate")
    ws = WindowSource.from_folder(job.data, job.train_split, clip_seconds=cfg.clip_seconds, max_tracks=cfg.max_tracks,
                                  seed=cfg.seed)
    vds = None
    if job.val_split is not None:
        vds = validation_dataset(job.data, job.val_split, clip_seconds=cfg.clip_seconds, max_tracks=cfg.max_tracks)
    ds = ws.dataset
    return ws, vds, ds.array, ds.fs, tuple(ds.class_names)


def run_job(rank: int, world_size: int, job: TrainJob,
            on_epoch: Callable[[Mapping[str, Any]], None] | None = None) -> TrainResult:
    """Run ``job`` as process ``rank`` of ``world_size`` (1: plain training); resumes from the run's checkpoint."""
    if job.require_checkpoint and not has_checkpoint(job.run):
        raise ValueError(f"{job.run}: no checkpoint to resume from")
    src, val, array, fs, names = _sources(job)
    model = build_for(job.config, array, fs, names)
    device = torch.device(job.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    trainer = Trainer(job.config, model, Path(job.run), source=src, val=val, device=device, rank=rank,
                      world_size=world_size, on_epoch=on_epoch, val_score=job.val_score)
    trainer.resume()
    return trainer.fit(max_steps=job.max_steps, max_seconds=None if job.max_minutes is None else 60.0 * job.max_minutes)


def _spawned(rank: int, world_size: int, job: TrainJob) -> None:
    run_job(rank, world_size, job)


def run_distributed(job: TrainJob, processes: int) -> None:
    """Run ``job`` on ``processes`` DDP processes (gloo on CPU, nccl on CUDA) of this machine."""
    from soundloc.train.ddp import spawn

    if job.config.batch_size % processes:
        raise ValueError(f"--batch-size {job.config.batch_size} is not divisible by the {processes} processes")
    backend = "nccl" if job.device.startswith("cuda") else "gloo"
    spawn(_spawned, processes, job, backend=backend)
