"""The pretraining loop: two views, encoder, objective, AdamW warm-up + cosine, exact resume, DDP.

:class:`Pretrainer` runs one process (rank) of a run. Each step: a global batch of windows from the
source (a pure function of seed, epoch and step; this rank's rows), two views by
:class:`~soundloc.ssl.views.ViewMaker` on the training device, the encoder (bfloat16 autocast on
CUDA) on both, the objective's loss (:mod:`soundloc.ssl.objectives`), one AdamW step at the
learning rate of :func:`soundloc.train.learning_rate` (warm-up epochs, then cosine). Each epoch
ends with a checkpoint (:mod:`soundloc.train.checkpoint`: model, optimizer, every generator),
``RUN/log.csv`` (:func:`soundloc.train.write_log`) and the encoder ``RUN/encoder.safetensors`` +
``encoder.json`` (no projector). Before the first step the encoder's input normalizer is fitted on
the first :data:`soundloc.train.loop.NORM_BATCHES` global batches of epoch 0, unaugmented (whole
windows; a resumed run has it from its checkpoint). ``max_steps`` / ``max_seconds`` stop mid-epoch with a checkpoint,
as if the run had been killed; rerunning resumes exactly (same weights as an uninterrupted run).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from soundloc.ambisonics import FoaFormat
from soundloc.geometry import MicArray
from soundloc.ssl.config import PretrainConfig
from soundloc.ssl.model import EncoderConfig, SpatialEncoder, build_encoder, fit_normalizer, save_encoder
from soundloc.ssl.objectives import gather_rows, get_objective
from soundloc.ssl.views import ViewMaker
from soundloc.train.checkpoint import TrainState, has_checkpoint, read_checkpoint, restore, save_checkpoint
from soundloc.train.loop import NORM_BATCHES, Source, learning_rate, seed_everything, write_log

ENCODER_STEM = "encoder"


class PretrainModel(nn.Module):
    """Encoder + objective: ``forward(f1, f2) -> loss`` (the module DDP wraps)."""

    def __init__(self, encoder: SpatialEncoder, objective: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.objective = objective

    def forward(self, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
        n = f1.shape[0]
        h = self.encoder(torch.cat([f1, f2], dim=0))  # one pass: batch norm sees both views
        out: torch.Tensor = self.objective(h[:n].float(), h[n:].float())
        return out


def build_pretrain_model(config: PretrainConfig, array: MicArray | FoaFormat, fs: int) -> PretrainModel:
    """Fresh encoder + objective for ``config`` and audio of ``array`` at ``fs`` Hz (seeded by ``config.seed``)."""
    enc_cfg = EncoderConfig.create(array, fs, encoder=config.model, encoder_kwargs=config.model_kwargs, normalize=config.normalize)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        enc = build_encoder(enc_cfg)
        obj = get_objective(config.objective, embed_dim=enc.embed_dim, proj_hidden=config.proj_hidden,
                            proj_dim=config.proj_dim, temperature=config.temperature)
    return PretrainModel(enc, obj)


@dataclass(frozen=True)
class PretrainResult:
    """How :meth:`Pretrainer.fit` ended: ``state``, ``stopped`` (``"epochs"``, ``"max_steps"``, ``"time"``), run folder."""

    state: TrainState
    stopped: str
    run: Path


class Pretrainer:
    """One process of a pretraining run (see the module docstring).

    Args:
        config: the :class:`PretrainConfig`.
        model: a :class:`PretrainModel` (:func:`build_pretrain_model`).
        run: the run folder; source: training windows (``WindowSource`` / ``SimulationSource``).
        device, rank, world_size: as :class:`soundloc.train.Trainer`.
        progress: a progress bar (default: when stderr is a terminal, rank 0 only).
        on_epoch: called with each finished epoch's log row (rank 0).
    """

    def __init__(self, config: PretrainConfig, model: PretrainModel, run: str | Path, *, source: Source,
                 device: str | torch.device = "cpu", rank: int = 0, world_size: int = 1, progress: bool | None = None,
                 on_epoch: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        enc_cfg = model.encoder.config
        if enc_cfg is None:
            raise ValueError("the encoder must be built with a config (use build_pretrain_model)")
        self.config, self.run, self.source = config, Path(run), source
        self.device = torch.device(device)
        self.rank, self.world_size = int(rank), int(world_size)
        self.model = model.to(self.device)
        spec = enc_cfg.input
        self.views = ViewMaker(enc_cfg.array, spec.feature_module(), crop=int(round(config.crop_seconds * spec.fs)),
                               augment=config.augment, mixup_max_weight=config.mixup_max_weight,
                               channel_drop=config.channel_drop, rrc_lags=config.rrc_lags,
                               seed=config.seed + 1).to(self.device)
        self.augment = self.views.augmentations()
        self.net: nn.Module = self.model
        if self.world_size > 1:
            from soundloc.train.ddp import wrap_ddp

            self.net = wrap_ddp(self.model, self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.steps = config.steps_per_epoch or source.steps_per_epoch(config.batch_size)
        self.total_steps = self.steps * config.epochs
        self.warmup_steps = self.steps * config.warmup_epochs
        self.progress = (sys.stderr.isatty() and self.rank == 0) if progress is None else bool(progress)
        self.on_epoch = on_epoch
        self.amp = config.amp and self.device.type == "cuda"
        self.state = TrainState(history=[])
        self.aug_seconds = 0.0  # time spent making views (augmentations + features), for benchmarks
        seed_everything(config.seed + self.rank)

    @property
    def encoder(self) -> SpatialEncoder:
        return self.model.encoder

    def train_step(self, x: torch.Tensor) -> float:
        """One optimizer step on this rank's rows ``x`` ``(B_local, M, N)``; returns the (global) loss."""
        torch.manual_seed(int(np.random.SeedSequence([self.config.seed, self.rank, self.state.step]).generate_state(1)[0]))
        self.net.train()
        lr = learning_rate(self.state.step, peak=self.config.lr, warmup=self.warmup_steps, total=self.total_steps)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        t0 = time.perf_counter()
        x = x.to(self.device, non_blocking=True)
        gather = gather_rows if self.world_size > 1 else None
        f1, f2 = self.views(x, rank=self.rank, world_size=self.world_size, gather=gather)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.aug_seconds += time.perf_counter() - t0
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = self.net(f1, f2)
        loss.backward()
        self.optimizer.step()
        self.state.step += 1
        self.state.step_in_epoch += 1
        return float(loss.detach())

    def resume(self) -> bool:
        """Restore the run folder's checkpoint if there is one (refusing another config); returns whether it did."""
        if not has_checkpoint(self.run):
            return False
        doc, tensors = read_checkpoint(self.run)
        self.config.check_resume(PretrainConfig.from_dict(doc["train_config"]))
        if doc["model_config"] != self._model_config():
            raise ValueError(f"{self.run}: the checkpoint was made for another encoder or data (array or rate)")
        self.state = restore(doc, tensors, model=self.model, optimizer=self.optimizer, augmentations=self.augment)
        return True

    def _model_config(self) -> dict[str, Any]:
        assert self.encoder.config is not None
        return self.encoder.config.to_dict()

    def checkpoint(self) -> None:
        if self.rank == 0:
            self.run.mkdir(parents=True, exist_ok=True)
            save_checkpoint(self.run, model=self.model, optimizer=self.optimizer, state=self.state,
                            train_config=self.config.to_dict(), model_config=self._model_config(), augmentations=self.augment)

    @torch.no_grad()
    def fit_normalizer(self) -> None:
        """Fit the encoder's input normalizer on the features of the first :data:`NORM_BATCHES` global
        batches of epoch 0 (whole windows, no augmentation). Every rank computes the same statistics
        from the whole global batches (the source is a pure function of seed, epoch and step) and the
        global RNG is not touched, so the run is the same on any number of processes."""
        if self.encoder.norm is None:
            return
        assert self.encoder.config is not None
        feat = self.encoder.config.input.feature_module().to(self.device)
        batches = self.source.batches(0, batch_size=self.config.batch_size, steps=min(NORM_BATCHES, self.steps), start_step=0,
                                      rank=0, world_size=1, num_workers=self.config.num_workers)
        fit_normalizer(self.encoder, (feat(x.to(self.device)) for x, _ in batches))

    def _batches(self) -> Iterable[Any]:
        st = self.state
        return self.source.batches(st.epoch, batch_size=self.config.batch_size, steps=self.steps, start_step=st.step_in_epoch,
                                   rank=self.rank, world_size=self.world_size, num_workers=self.config.num_workers)

    def fit(self, *, max_steps: int | None = None, max_seconds: float | None = None) -> PretrainResult:
        """Pretrain until ``config.epochs``; ``max_steps`` total steps or ``max_seconds`` of this call stop
        early with a checkpoint (rerun to resume)."""
        st = self.state
        t_start = time.perf_counter()
        if st.step == 0 and st.epoch == 0:
            self.fit_normalizer()
        while st.epoch < self.config.epochs:
            t0 = time.perf_counter()
            bar = self._bar()
            stop = None
            for x, _ in self._batches():
                if max_steps is not None and st.step >= max_steps:
                    stop = "max_steps"
                    break
                if max_seconds is not None and self._out_of_time(time.perf_counter() - t_start >= max_seconds):
                    stop = "time"
                    break
                loss = self.train_step(x)
                st.loss_sum += loss
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}")
            if bar is not None:
                bar.close()
            if stop is not None and st.step_in_epoch < self.steps:
                self.checkpoint()
                return PretrainResult(state=st, stopped=stop, run=self.run)
            self._end_epoch(time.perf_counter() - t0)
        st.done = True
        return PretrainResult(state=st, stopped="epochs", run=self.run)

    def _out_of_time(self, local: bool) -> bool:
        """Whether any process ran out of time (all processes stop at the same step)."""
        if self.world_size == 1:
            return local
        import torch.distributed as dist

        flag = torch.tensor([1.0 if local else 0.0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def _end_epoch(self, seconds: float) -> None:
        st = self.state
        row = {"epoch": st.epoch, "step": st.step, "train_loss": st.loss_sum / max(st.step_in_epoch, 1), "val_loss": None,
               "val_seld": None, "lr": self.optimizer.param_groups[0]["lr"], "seconds": round(seconds, 3)}
        assert st.history is not None
        st.history.append(row)
        st.epoch += 1
        st.step_in_epoch = 0
        st.loss_sum = 0.0
        st.best_epoch = st.epoch - 1  # the last epoch is the model (no labels to select on)
        st.done = st.epoch >= self.config.epochs
        if self.rank == 0:
            save_encoder(self.encoder, self.run / ENCODER_STEM, pretraining={**self.config.to_dict(), "epochs_done": st.epoch})
        self.checkpoint()
        if self.rank == 0:
            write_log(self.run, st.history)
            if self.on_epoch is not None:
                self.on_epoch(row)

    def _bar(self) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps, initial=self.state.step_in_epoch, desc=f"epoch {self.state.epoch + 1}/{self.config.epochs}",
                    leave=False, file=sys.stderr)
