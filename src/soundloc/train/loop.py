"""The training loop: on-the-fly features, augmentation, AdamW + warm-up/cosine, checkpoints, early stopping.

:class:`Trainer` runs one process (rank) of a run; with ``world_size > 1`` the model is wrapped in
torch's ``DistributedDataParallel`` (the process group must be initialised, see
:mod:`soundloc.train.ddp`) and batch norms are synchronised across processes, so the result equals
one process with the same global batch. Each epoch:

1. global batches from the source (a pure function of seed, epoch, step; this rank's rows);
2. clip mixing (``config.mix_prob``: a partner clip of the same pair of rows added to the
   waveform, labels merged, :class:`~soundloc.augment.ClipMix`), then ChannelSwap on the waveforms
   with the DOA labels rotated (each drawn for the whole global batch from the augmentation's own
   generator, then this rank's rows), features on the training device, SpecAugment masks (drawn
   the same way);
3. ``loss = get_loss(head.loss_name)(model(features), model.target(targets))``; bfloat16 autocast
   on CUDA when ``amp`` (CPU: float32); AdamW with the learning rate of :func:`learning_rate`;
4. validation loss on the validation windows (every rank computes it on all windows), model
   and, with a ``val_score`` function, the validation SELD score; model selection on the one
   ``config.select_on`` names: ``RUN/best.safetensors`` + ``best.json``
   (:func:`soundloc.models.save_model`) on a new lowest value (never the test split); early
   stopping after ``patience`` epochs without one;
5. a checkpoint (:mod:`soundloc.train.checkpoint`) and ``RUN/log.csv`` (+ TensorBoard events if
   the ``tensorboard`` package is installed).
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from soundloc.ambisonics import FoaFormat
from soundloc.augment import Augmentation, ChannelSwap, ClipMix, SpecAugment
from soundloc.features.stacks import FOA_FEATURES
from soundloc.fileio import write_text_atomic
from soundloc.geometry import MicArray, array_from_dict
from soundloc.losses import get_loss
from soundloc.models import InputSpec, SeldConfig, SeldModel, build_model, save_model
from soundloc.models.builtin import RUN_MODEL
from soundloc.models.seld import NORM_MIN_STD
from soundloc.train.checkpoint import TrainState, has_checkpoint, read_checkpoint, restore, save_checkpoint
from soundloc.train.config import TrainConfig, feature_config_for
from soundloc.train.data import Batch, as_batch

LOG_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_seld", "lr", "seconds")
"""Columns of ``RUN/log.csv`` (one row per epoch)."""

BEST_STEM = RUN_MODEL  # the run folder's model, where models.builtin.resolve_model looks

MIX_GROUP = 2
"""Clip mixing pairs rows ``2j`` and ``2j + 1`` of the global batch (a pair never spans two DDP processes)."""

NORM_BATCHES = 16
"""Training batches (global, unaugmented, the first of epoch 0) the input normalizer is fitted on."""

class Source(Protocol):
    """What the trainer needs from training data (:class:`~soundloc.train.data.WindowSource`,
    :class:`~soundloc.train.data.SimulationSource`)."""

    def steps_per_epoch(self, batch_size: int) -> int: ...

    def batches(self, epoch: int, *, batch_size: int, steps: int, start_step: int = 0, rank: int = 0,
                world_size: int = 1, num_workers: int = 0) -> Iterable[Batch]: ...


def learning_rate(step: int, *, peak: float, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps to ``peak``, then cosine decay to 0 at ``total`` steps."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup)
    frac = min(1.0, (step - warmup) / span)
    return peak * 0.5 * (1.0 + math.cos(math.pi * frac))


def build_for(config: TrainConfig, array: MicArray | FoaFormat, fs: int, class_names: tuple[str, ...]) -> SeldModel:
    """A fresh model for ``config`` and data of ``array`` at ``fs`` Hz with ``class_names``
    (weights seeded from ``config.seed``); ``ValueError`` when the features do not suit the audio
    (``foa`` needs FOA audio, ``mic`` / ``salsa-lite`` microphone-array audio)."""
    is_foa = isinstance(array, FoaFormat)
    if config.features in FOA_FEATURES and not is_foa:
        raise ValueError(f"features '{config.features}' need FOA audio; this data is from array '{array.name}' (use mic or salsa-lite)")
    if config.features not in FOA_FEATURES and is_foa:
        raise ValueError(f"features '{config.features}' need microphone-array audio; this data is FOA (use foa)")
    spec = InputSpec.create(config.features, array, class_names=class_names, feature_config=feature_config_for(fs))
    cfg = SeldConfig.for_input(spec, encoder=config.model, head=config.output, encoder_kwargs=config.encoder_kwargs(),
                               normalize=config.normalize)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_model(cfg)


@dataclass(frozen=True)
class TrainResult:
    """How a :meth:`Trainer.fit` call ended: ``state`` (see :class:`TrainState`), ``stopped``
    (``"epochs"``, ``"early"``, ``"max_steps"``, ``"time"``) and the run folder."""

    state: TrainState
    stopped: str
    run: Path


class Trainer:
    """One process of a training run (see the module docstring).

    Args:
        config: the :class:`TrainConfig`.
        model: a :class:`SeldModel` built with an :class:`InputSpec` (:func:`build_for`).
        run: the run folder (checkpoints, log, best model).
        source: training batches; val: validation dataset (:class:`SeldDataset` windows or the
            simulated ``TensorDataset``), ``None`` to select the last epoch.
        device: ``"cpu"``, ``"cuda"``, ...
        rank, world_size: the DDP process (the process group must exist when ``world_size > 1``).
        progress: a progress bar (default: when stderr is a terminal, rank 0 only).
        on_epoch: called with each finished epoch's row (e.g. to print it).
        val_score: ``model -> {"seld": score, ...}`` on the validation data (lower is better), run after
            every epoch on every rank (must be deterministic); required when ``config.select_on == "seld"``.
    """

    def __init__(self, config: TrainConfig, model: SeldModel, run: str | Path, *, source: Source,
                 val: Dataset[Any] | None = None, device: str | torch.device = "cpu", rank: int = 0, world_size: int = 1,
                 progress: bool | None = None, on_epoch: Callable[[Mapping[str, Any]], None] | None = None,
                 val_score: Callable[[SeldModel], Mapping[str, float | None]] | None = None) -> None:
        if model.config is None or model.config.input is None:
            raise ValueError("the model must be built with an input spec (use soundloc.train.build_for)")
        if config.select_on == "seld" and val_score is None:
            raise ValueError("select_on='seld' needs a validation scorer (val_score=)")
        self.config, self.run, self.source, self.val = config, Path(run), source, val
        self.val_score = val_score
        self.device = torch.device(device)
        self.rank, self.world_size = int(rank), int(world_size)
        self.model = model.to(self.device)
        self.spec: InputSpec = model.config.input
        self.features = self.spec.feature_module().to(self.device)
        self.loss_fn = get_loss(model.head.loss_name)
        self.augment: dict[str, Augmentation] = {}
        array = array_from_dict(dict(self.spec.array))
        if config.mix_prob > 0:
            if world_size > 1 and (config.batch_size // world_size) % MIX_GROUP:
                raise ValueError(f"clip mixing pairs the rows of a batch: the per-process batch "
                                 f"({config.batch_size} / {world_size}) must be even")
            self.augment["clip_mix"] = ClipMix(p=config.mix_prob, min_gain_db=config.mix_min_gain_db,
                                               max_gain_db=config.mix_max_gain_db, group=MIX_GROUP,
                                               max_per_class=min(model.head.tracks, config.max_tracks), seed=config.seed + 3)
        if config.channel_swap:
            self.augment["channel_swap"] = ChannelSwap(array, seed=config.seed + 1)
        if config.spec_augment:
            # features are not normalised (log-mel in dB): masked cells get the clip's channel mean, not 0 dB
            self.augment["spec_augment"] = SpecAugment(value="mean", seed=config.seed + 2)
        self.net: nn.Module = self.model
        if self.world_size > 1:
            from soundloc.train.ddp import wrap_ddp

            self.net = wrap_ddp(self.model, self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.steps = config.steps_per_epoch or source.steps_per_epoch(config.batch_size)
        self.total_steps = self.steps * config.epochs
        self.progress = (sys.stderr.isatty() and self.rank == 0) if progress is None else bool(progress)
        self.on_epoch = on_epoch
        self.amp = config.amp and self.device.type == "cuda"
        self.state = TrainState(history=[])
        self._tb: Any = None
        seed_everything(config.seed + self.rank)  # a fresh run; resume() restores the saved states

    # -- one step ---------------------------------------------------------------
    def _rows(self, n_local: int) -> slice:
        return slice(self.rank * n_local, (self.rank + 1) * n_local)

    def prepare(self, batch: Batch, *, train: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Features ``(B, C, T, F)`` and targets on the device (augmented when ``train``)."""
        x, t = batch
        x = x.to(self.device, non_blocking=True)
        t = {k: v.to(self.device, non_blocking=True) for k, v in t.items()}
        rows = self._rows(x.shape[0])
        b_global = x.shape[0] * self.world_size
        cm = self.augment.get("clip_mix")
        if train and isinstance(cm, ClipMix) and cm.active:
            x, t = cm.transform(x, t, cm.sample(b_global).rows(rows))
        cs = self.augment.get("channel_swap")
        if train and isinstance(cs, ChannelSwap) and cs.active:
            idx = cs.sample(b_global)[rows]
            x = cs.transform(x, idx)
            t = {**t, "doa": cs.apply_doa(t["doa"], idx)}
        with torch.no_grad():
            f = self.features(x)
        sa = self.augment.get("spec_augment")
        if train and isinstance(sa, SpecAugment) and sa.active:
            p = sa.sample(b_global, f.shape[2], f.shape[3])
            f = sa.transform(f, type(p)(time=p.time[rows], freq=p.freq[rows]))
        return f, t

    def loss(self, f: torch.Tensor, t: Mapping[str, torch.Tensor]) -> torch.Tensor:
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.net(f)
        target = self.model.target(t)
        out_t = out.float()
        if out_t.shape[1] != target.shape[1]:
            raise ValueError(f"the model gives {out_t.shape[1]} label frames for {target.shape[1]} target frames; "
                             "check clip_seconds and the feature hop")
        loss: torch.Tensor = self.loss_fn(out_t, target)
        return loss

    def train_step(self, batch: Batch) -> float:
        """One optimizer step on ``batch``; returns the (local) loss."""
        # the global RNG (dropout) is a pure function of (seed, rank, step): a resumed run -- on any
        # number of processes -- draws what the uninterrupted run drew, with no per-rank state to save
        torch.manual_seed(int(np.random.SeedSequence([self.config.seed, self.rank, self.state.step]).generate_state(1)[0]))
        self.net.train()
        lr = learning_rate(self.state.step, peak=self.config.lr, warmup=self.config.warmup_steps, total=self.total_steps)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        f, t = self.prepare(batch, train=True)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(f, t)
        loss.backward()  # type: ignore[no-untyped-call]
        if self.config.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.state.step += 1
        self.state.step_in_epoch += 1
        return float(loss.detach())

    @torch.no_grad()
    def validate(self) -> float | None:
        """Mean validation loss over all windows (``None`` without validation data)."""
        if self.val is None:
            return None
        self.model.eval()
        total, count = 0.0, 0
        # an own generator: creating a DataLoader iterator draws a seed, which must not come from the global RNG
        for item in DataLoader(self.val, batch_size=self.config.batch_size, shuffle=False, generator=torch.Generator()):
            x, t = as_batch(item)
            f, tt = self.prepare((x, t), train=False)
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                out = self.model(f)
            total += float(self.loss_fn(out.float(), self.model.target(tt))) * x.shape[0]
            count += x.shape[0]
        return total / max(count, 1)

    # -- run --------------------------------------------------------------------
    def resume(self) -> bool:
        """Restore the run folder's checkpoint if there is one (refusing another config); returns whether it did."""
        if not has_checkpoint(self.run):
            return False
        doc, tensors = read_checkpoint(self.run)
        self.config.check_resume(TrainConfig.from_dict(doc["train_config"]))
        if self.model.config is not None and doc["model_config"] != self.model.config.to_dict():
            raise ValueError(f"{self.run}: the checkpoint was made for another model or data (array, rate or classes)")
        self.state = restore(doc, tensors, model=self.model, optimizer=self.optimizer, augmentations=self.augment)
        return True

    def checkpoint(self) -> None:
        if self.rank != 0:
            return
        assert self.model.config is not None
        save_checkpoint(self.run, model=self.model, optimizer=self.optimizer, state=self.state,
                        train_config=self.config.to_dict(), model_config=self.model.config.to_dict(),
                        augmentations=self.augment)

    @torch.no_grad()
    def fit_normalizer(self) -> None:
        """Fit the model's input normalizer on the first :data:`NORM_BATCHES` global training batches of
        epoch 0 (no augmentation). Every rank computes the same statistics from the whole global batches
        (the source is a pure function of seed, epoch and step), and the global RNG is not touched, so the
        run is the same on any number of processes and after a resume."""
        if self.model.norm is None:
            return
        batches = self.source.batches(0, batch_size=self.config.batch_size, steps=min(NORM_BATCHES, self.steps),
                                      start_step=0, rank=0, world_size=1, num_workers=self.config.num_workers)
        self.model.norm.fit((self.features(x.to(self.device)) for x, _ in batches), min_std=NORM_MIN_STD)

    def _out_of_time(self, t_start: float, max_seconds: float | None) -> bool:
        """Whether ``max_seconds`` have passed since ``t_start`` (on rank 0; every rank gets its answer)."""
        if max_seconds is None:
            return False
        late = torch.tensor([1.0 if time.perf_counter() - t_start >= max_seconds else 0.0])
        if self.world_size > 1:
            import torch.distributed as dist

            backend_device = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
            late = late.to(backend_device)
            dist.broadcast(late, src=0)
        return bool(late.item() > 0)

    def fit(self, *, max_steps: int | None = None, max_seconds: float | None = None) -> TrainResult:
        """Train until ``config.epochs``, early stopping, or ``max_steps`` total steps (then a checkpoint
        is written mid-epoch, as if the run had been killed right after it). A run at step 0 first fits the
        input normalizer (:meth:`fit_normalizer`); a resumed run has it in its checkpoint.

        ``max_seconds``: a wall-clock budget for this call, checked after each epoch (rank 0 decides for
        all ranks); when it is spent the run stops with ``stopped="time"`` after that epoch's checkpoint,
        and a later call resumes it where it stopped (the learning-rate schedule still spans
        ``config.epochs``, so the result equals an uninterrupted run)."""
        t_start = time.perf_counter()
        st = self.state
        if st.step == 0 and st.epoch == 0:
            self.fit_normalizer()
        while not st.done and st.epoch < self.config.epochs:
            t0 = time.perf_counter()
            batches = self.source.batches(st.epoch, batch_size=self.config.batch_size, steps=self.steps,
                                          start_step=st.step_in_epoch, rank=self.rank, world_size=self.world_size,
                                          num_workers=self.config.num_workers)
            bar = self._bar(st.epoch)
            for batch in batches:
                if max_steps is not None and st.step >= max_steps:
                    break
                loss = self.train_step(batch)
                st.loss_sum += loss
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}")
            if bar is not None:
                bar.close()
            if max_steps is not None and st.step >= max_steps and st.step_in_epoch < self.steps:
                self.checkpoint()
                return TrainResult(state=st, stopped="max_steps", run=self.run)
            self._end_epoch(time.perf_counter() - t0)
            if max_steps is not None and st.step >= max_steps and not st.done:
                return TrainResult(state=st, stopped="max_steps", run=self.run)
            if not st.done and st.epoch < self.config.epochs and self._out_of_time(t_start, max_seconds):
                return TrainResult(state=st, stopped="time", run=self.run)
        stopped = "early" if st.done and st.epoch < self.config.epochs else "epochs"
        return TrainResult(state=st, stopped=stopped, run=self.run)

    def _end_epoch(self, seconds: float) -> None:
        st = self.state
        val = self.validate()
        train_loss = st.loss_sum / max(st.step_in_epoch, 1)
        seld = self.val_score(self.model).get("seld") if self.val_score is not None else None
        row = {"epoch": st.epoch, "step": st.step, "train_loss": train_loss, "val_loss": val, "val_seld": seld,
               "lr": self.optimizer.param_groups[0]["lr"], "seconds": round(seconds, 3)}
        assert st.history is not None
        st.history.append(row)
        measured = seld if self.config.select_on == "seld" else val
        score = measured if measured is not None else -float(st.epoch)  # without validation: the last epoch is best
        if st.best_val is None or score < st.best_val:
            st.best_val, st.best_epoch, st.bad_epochs = score, st.epoch, 0
            if self.rank == 0:
                save_model(self.model, self.run / BEST_STEM)
        else:
            st.bad_epochs += 1
        st.epoch += 1
        st.step_in_epoch = 0
        st.loss_sum = 0.0
        if self.config.patience is not None and measured is not None and st.bad_epochs >= self.config.patience:
            st.done = True
        if st.epoch >= self.config.epochs:
            st.done = True
        self.checkpoint()
        if self.rank == 0:
            write_log(self.run, st.history)
            self._tensorboard(row)
        if self.on_epoch is not None and self.rank == 0:
            self.on_epoch(row)

    def _bar(self, epoch: int) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps, initial=self.state.step_in_epoch, desc=f"epoch {epoch + 1}/{self.config.epochs}",
                    leave=False, file=sys.stderr)

    def _tensorboard(self, row: Mapping[str, Any]) -> None:
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                self._tb = False
                return
            self._tb = SummaryWriter(str(self.run / "tensorboard"))
        if self._tb:
            for k in ("train_loss", "val_loss", "val_seld", "lr"):
                if row[k] is not None:
                    self._tb.add_scalar(k, row[k], row["step"])
            self._tb.flush()


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's and python's global generators (dropout and any global draw)."""
    import random

    import numpy as np

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def write_log(run: str | Path, history: Iterable[Mapping[str, Any]]) -> Path:
    """``RUN/log.csv`` with :data:`LOG_COLUMNS` (rewritten atomically from the whole history)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(LOG_COLUMNS), lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in LOG_COLUMNS})
    path = Path(run) / "log.csv"
    write_text_atomic(path, buf.getvalue())
    return path


def read_log(run: str | Path) -> list[dict[str, float | None]]:
    """Rows of ``RUN/log.csv`` as numbers (``None`` for empty cells)."""
    with open(Path(run) / "log.csv", newline="") as f:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in csv.DictReader(f)]
