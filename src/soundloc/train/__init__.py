"""Training SELD models: config, data sources, the loop with exact resume, DDP.

* :class:`TrainConfig` (:mod:`~soundloc.train.config`): the frozen, JSON-able run settings.
* :class:`WindowSource`, :class:`SimulationSource`, :func:`validation_dataset`
  (:mod:`~soundloc.train.data`): random crops of dataset folders, an on-the-fly simulated stream.
* :class:`Trainer`, :func:`build_for`, :func:`learning_rate` (:mod:`~soundloc.train.loop`).
* checkpoints (:mod:`~soundloc.train.checkpoint`), DDP on gloo/NCCL (:mod:`~soundloc.train.ddp`).
* :class:`TrainJob`, :func:`run_job`, :func:`run_distributed` (:mod:`~soundloc.train.job`): a whole
  run from plain settings, in one process or several.
"""

from __future__ import annotations

from soundloc.train.checkpoint import TrainState, has_checkpoint, read_checkpoint, save_checkpoint
from soundloc.train.config import OUTPUTS, TrainConfig, feature_config_for
from soundloc.train.data import SimulatedBatches, SimulationSource, WindowSource, validation_dataset
from soundloc.train.job import TrainJob, run_distributed, run_job
from soundloc.train.loop import LOG_COLUMNS, Trainer, TrainResult, build_for, learning_rate, read_log, write_log

__all__ = [
    "LOG_COLUMNS",
    "OUTPUTS",
    "SimulatedBatches",
    "SimulationSource",
    "TrainConfig",
    "TrainResult",
    "TrainJob",
    "TrainState",
    "Trainer",
    "WindowSource",
    "build_for",
    "feature_config_for",
    "has_checkpoint",
    "learning_rate",
    "read_checkpoint",
    "read_log",
    "run_distributed",
    "run_job",
    "save_checkpoint",
    "validation_dataset",
    "write_log",
]
