"""A whole pretraining run from plain settings, in this process or as DDP processes.

:class:`PretrainJob` is what ``soundloc pretrain`` fills in; it is picklable and every process
rebuilds the data source, the model and the :class:`~soundloc.ssl.pretrain.Pretrainer` from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from soundloc.ssl.config import PretrainConfig
from soundloc.ssl.data import open_recordings, pretrain_source
from soundloc.ssl.pretrain import Pretrainer, PretrainResult, build_pretrain_model
from soundloc.train.checkpoint import has_checkpoint
from soundloc.train.data import SimulationSource
from soundloc.train.loop import Source


@dataclass(frozen=True)
class PretrainJob:
    """One pretraining run.

    Attributes:
        config: the :class:`PretrainConfig`; run: the run folder.
        data: a dataset folder or a plain folder of recordings (``array`` then required), or ``None``
            with ``scenes`` (a :class:`~soundloc.scenes.SceneConfig` simulated on the fly, ``scene_seed``).
        fs: resample recordings to this rate (default: the files' rate).
        device: torch device; require_checkpoint: refuse to start a new run.
        max_steps, max_seconds: stop early with a checkpoint (rerun to resume).
    """

    config: PretrainConfig
    run: str
    data: str | None = None
    array: str | None = None
    fs: int | None = None
    scenes: Any = None
    scene_seed: int = 0
    device: str = "cpu"
    require_checkpoint: bool = False
    max_steps: int | None = None
    max_seconds: float | None = None

    def source(self) -> tuple[Source, Any, int]:
        """``(training source, array, fs)``."""
        if self.scenes is not None:
            if abs(float(self.scenes.duration) - self.config.clip_seconds) > 1e-9:
                raise ValueError(f"simulated clips last {self.scenes.duration} s but clip_seconds is {self.config.clip_seconds}")
            return SimulationSource(self.scenes, self.scene_seed, max_tracks=1), self.scenes.array.resolve(), int(self.scenes.fs)
        if self.data is None:
            raise ValueError("give a folder of recordings or a scene preset to simulate")
        windows, array, fs = open_recordings(self.data, seconds=self.config.clip_seconds, array=self.array, fs=self.fs)
        return pretrain_source(windows, seed=self.config.seed), array, fs


def run_pretrain(rank: int, world_size: int, job: PretrainJob,
                 on_epoch: Callable[[Mapping[str, Any]], None] | None = None, progress: bool | None = None) -> PretrainResult:
    """Run ``job`` as process ``rank`` of ``world_size``; resumes from the run's checkpoint."""
    if job.require_checkpoint and not has_checkpoint(job.run):
        raise ValueError(f"{job.run}: no checkpoint to resume from")
    src, array, fs = job.source()
    model = build_pretrain_model(job.config, array, fs)
    device = torch.device(job.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", rank % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(device)
    Path(job.run).mkdir(parents=True, exist_ok=True)
    trainer = Pretrainer(job.config, model, job.run, source=src, device=device, rank=rank, world_size=world_size,
                         on_epoch=on_epoch, progress=progress)
    trainer.resume()
    return trainer.fit(max_steps=job.max_steps, max_seconds=job.max_seconds)


def _spawned(rank: int, world_size: int, job: PretrainJob) -> None:
    run_pretrain(rank, world_size, job)


def run_distributed(job: PretrainJob, processes: int) -> None:
    """Run ``job`` on ``processes`` DDP processes (gloo on CPU, nccl on CUDA) of this machine."""
    from soundloc.train.ddp import spawn

    if job.config.batch_size % processes:
        raise ValueError(f"--batch-size {job.config.batch_size} is not divisible by the {processes} processes")
    spawn(_spawned, processes, job, backend="nccl" if job.device.startswith("cuda") else "gloo")
