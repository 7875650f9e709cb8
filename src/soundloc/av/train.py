"""Train an :class:`~soundloc.av.models.AVLocalizer` with EZ-VSL, SLAVC or FNAC, resumably.

:func:`train_av` runs a small loop: AdamW, shuffled mini-batches (the order of epoch ``e`` is a pure
function of ``(seed, e)``), the chosen loss of :mod:`soundloc.losses.av_contrastive` plus the
calibration of the sounding-object confidence (binary cross-entropy of ``a * max_sim + b`` on each
clip's own frame, label 1, and on the next clip's frame in the batch, label 0, with the embeddings
detached so it does not change the contrastive objective). SLAVC adds momentum target encoders
(:class:`~soundloc.av.ema.EMA`).

**Model selection on the validation split, never on test**: after each epoch the model is scored by
``validate(model)`` (higher is better; default: minus the mean contrastive loss on the validation
data, which needs no labels; the CLI passes cIoU / AUC on the validation split) and the best epoch
is kept as ``RUN/model.safetensors`` + ``RUN/model.json``.

**Fresh data per epoch**: ``train`` may be a function ``epoch -> AVTensors`` (a pure function of the epoch, so
resuming stays exact) instead of one fixed split. With a fixed split of a few thousand pairs the contrastive loss
falls far below chance by *memorising* which training frame goes with which clip (any texture or voice detail
identifies a pair; measured in ``docs/av.md``: training loss 1.3, held-out loss 17.9, chance 8.3), which needs no
localization and drags the maps away from the objects; a procedural benchmark can draw new pairs every epoch
(``av-train builtin --fresh``), so only what generalises (the digit heard is the digit seen) lowers the loss.

**Checkpoints**: after each epoch the run folder gets the checkpoint of
:mod:`soundloc.train.checkpoint` (the same step-numbered scheme as the SELD trainer):
``RUN/checkpoint-<step>.safetensors`` (model as ``model.net.*``, SLAVC's momentum target as
``model.ema.*``, AdamW state, RNG states) is written first under a new name, then ``RUN/checkpoint.json``
(one atomic rename) names it with its sha256, then older tensor files are removed, so a kill at any
moment leaves a checkpoint that resumes. ``train_av(..., resume=True)`` continues from it and gives
bit-identical weights to an uninterrupted run on the same machine. ``RUN/history.json`` lists each
epoch's losses, validation score and time.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from soundloc.av.ema import EMA
from soundloc.av.models import AVLocalizer, AVModelConfig, load_image_weights, load_prior_weights, save_av_model
from soundloc.fileio import write_json_atomic
from soundloc.losses import get_loss
from soundloc.train.checkpoint import CHECKPOINT_JSON, TrainState, read_checkpoint, restore, save_checkpoint

AV_LOSSES = ("ezvsl", "slavc", "fnac")
"""Training objectives of :func:`train_av`."""
CHECKPOINT_FORMAT = "soundloc-av-checkpoint"


@dataclass(frozen=True)
class AVTrainConfig:
    """Training settings. ``loss`` one of :data:`AV_LOSSES`; ``epochs``; ``batch_size`` (>= 2: the other
    clips of the batch are the negatives); ``lr`` / ``weight_decay`` of AdamW; ``temperature`` of the loss;
    ``momentum`` of SLAVC's target encoders; ``calibration_weight`` of the confidence calibration term;
    ``seed`` (initial weights, batch order, dropout); ``model`` the architecture (for SLAVC, use
    ``separate_projections=True`` and ``visual_dropout`` as you wish); ``image_weights`` an optional local
    safetensors file to start the image encoder from (:func:`~soundloc.av.models.load_image_weights`);
    ``prior_weights`` the local safetensors file of the frozen object-prior encoder (needed exactly when
    ``model.prior_encoder`` is set, :func:`~soundloc.av.models.load_prior_weights`)."""

    loss: str = "ezvsl"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    temperature: float = 0.03
    momentum: float = 0.99
    calibration_weight: float = 1.0
    seed: int = 0
    model: AVModelConfig = AVModelConfig()
    image_weights: str | None = None
    prior_weights: str | None = None

    def __post_init__(self) -> None:
        if self.loss not in AV_LOSSES:
            raise ValueError(f"unknown AV loss '{self.loss}'; choose from {', '.join(AV_LOSSES)}")
        if not 1 <= self.epochs <= 100000:
            raise ValueError(f"epochs must be 1-100000, got {self.epochs!r}")
        if not 2 <= self.batch_size <= 4096:
            raise ValueError(f"batch_size must be 2-4096 (the batch holds the negatives), got {self.batch_size!r}")
        for name in ("lr", "temperature"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not (math.isfinite(self.calibration_weight) and self.calibration_weight >= 0):
            raise ValueError(f"calibration_weight must be >= 0, got {self.calibration_weight!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed!r}")
        if self.model.prior_encoder != (self.prior_weights is not None):
            raise ValueError("a separate object-prior encoder needs its weights file and vice versa "
                             "(model.prior_encoder and prior_weights go together)")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Any) -> AVTrainConfig:
        if not isinstance(d, dict):
            raise ValueError("an AV training config must be a JSON object")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"unknown AV training config key '{unknown[0]}'; allowed: {', '.join(names)}")
        kw = dict(d)
        kw["model"] = AVModelConfig.from_dict(kw.get("model", {}))
        try:
            return cls(**kw)
        except TypeError as e:
            raise ValueError(f"bad AV training config: {e}") from None


@dataclass(frozen=True)
class AVTensors:
    """A split held in memory: ``frames`` ``(N, 3, H, W)`` uint8, ``audio`` ``(N, S)`` float32, ``boxes`` (N arrays
    ``(K, 4)`` int64, pixels), ``kinds`` (N strings); ``box_format`` the ground-truth map rule of the boxes
    (``"flickr"`` soft consensus, ``"vggss"`` binary union; :func:`soundloc.av.boxes.gt_map_from_boxes`);
    ``annotated`` False when the boxes are unknown (unlabelled training clips); ``ids`` the clip ids."""

    frames: torch.Tensor
    audio: torch.Tensor
    boxes: list[np.ndarray]
    kinds: list[str]
    box_format: str = "vggss"
    annotated: bool = True
    ids: list[str] | None = None

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def batch(self, idx: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(frames float32 in [0, 1], audio)`` of the samples ``idx``."""
        i = torch.as_tensor(idx, dtype=torch.long)
        return self.frames[i].float() / 255.0, self.audio[i]


def load_split(dataset: Any, n: int | None = None) -> AVTensors:
    """The first ``n`` (default all) samples of an :class:`~soundloc.av.dataset.AVDataset` (the built-in benchmark
    or a folder dataset), read in order into memory. ``ValueError`` when the frames or clips differ in size."""
    n = len(dataset) if n is None else min(int(n), len(dataset))
    if n < 1:
        raise ValueError("the dataset split is empty")
    samples = [dataset.sample(i) for i in range(n)]
    shapes = {np.shape(s.frame) for s in samples}
    lengths = {np.shape(s.audio) for s in samples}
    if len(shapes) > 1 or len(lengths) > 1:
        raise ValueError(f"the samples differ in frame size {sorted(shapes)} or clip length {sorted(lengths)}; "
                         "a split held in memory needs one of each")
    frames = torch.from_numpy(np.stack([np.asarray(s.frame, dtype=np.uint8) for s in samples]))
    audio = torch.from_numpy(np.stack([np.asarray(s.audio, dtype=np.float32) for s in samples]))
    return AVTensors(frames, audio, [np.asarray(s.boxes, dtype=np.int64).reshape(-1, 4) for s in samples],
                     [str(s.kind) for s in samples], box_format=str(getattr(dataset, "box_format", "vggss")),
                     annotated=bool(getattr(dataset, "annotated", True)), ids=[str(getattr(s, "id", s.index)) for s in samples])


def build_av_model(config: AVTrainConfig) -> AVLocalizer:
    """A fresh model with the initial weights of ``config.seed``."""
    torch.manual_seed(config.seed)
    model = AVLocalizer(config=config.model)
    if config.image_weights is not None:
        load_image_weights(model, config.image_weights)
    if config.prior_weights is not None:
        load_prior_weights(model, config.prior_weights)
    return model


def _main_loss(loss: torch.nn.Module, name: str, out: dict[str, torch.Tensor],
               target: dict[str, torch.Tensor] | None) -> torch.Tensor:
    if name == "slavc":
        t = None if target is None else (target["img_loc"], target["aud_loc"], target["img_cor"], target["aud_cor"])
        v: torch.Tensor = loss(out["img_loc"], out["aud_loc"], out["img_cor"], out["aud_cor"], targets=t)
        return v
    v = loss(out["img_loc"], out["aud_loc"])
    return v


def calibration_loss(model: AVLocalizer, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """BCE of the confidence on matched pairs (label 1) and on each frame with the next clip's sound (label 0);
    the embeddings are detached, so only the confidence's scale and offset learn."""
    img, aud = out["img_loc"].detach(), out["aud_loc"].detach()
    pos = model.confidence_logits(torch.einsum("bdyx,bd->byx", img, aud))
    neg = model.confidence_logits(torch.einsum("bdyx,bd->byx", img, aud.roll(1, 0)))
    return 0.5 * (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
                  + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))


@torch.no_grad()
def validation_loss(model: AVLocalizer, config: AVTrainConfig, data: AVTensors) -> float:
    """Mean contrastive loss (eval mode, batches in order, last partial batch of >= 2 kept)."""
    model.eval()
    loss = _make_loss(config)
    total, count = 0.0, 0
    for s in range(0, len(data), config.batch_size):
        idx = list(range(s, min(s + config.batch_size, len(data))))
        if len(idx) < 2:
            break
        dev = next(model.parameters()).device
        out = model(*(t.to(dev) for t in data.batch(idx)))
        total += float(_main_loss(loss, config.loss, out, None)) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def _make_loss(config: AVTrainConfig) -> torch.nn.Module:
    return get_loss(config.loss, temperature=config.temperature)


def checkpoint_json(run: str | os.PathLike[str]) -> Path:
    """``RUN/checkpoint.json``, the file that names the run's current checkpoint tensors."""
    return Path(run) / CHECKPOINT_JSON


class _Bundle(torch.nn.Module):
    """What a checkpoint holds as its "model": the network (``net.*``) and SLAVC's momentum target (``ema.*``)."""

    def __init__(self, net: AVLocalizer, ema: EMA | None) -> None:
        super().__init__()
        self.net = net
        self.ema = ema.target if ema is not None else None


def train_av(config: AVTrainConfig, train: AVTensors | Callable[[int], AVTensors], val: AVTensors,
             run: str | os.PathLike[str], *,
             resume: bool = False, validate: Callable[[AVLocalizer], float] | None = None,
             log: Callable[[str], None] | None = None, max_seconds: float | None = None,
             device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train (or with ``resume=True`` continue) into folder ``run``; returns the final history document
    ``{"config", "epochs": [...], "best": {"epoch", "score"}, "seconds"}``.

    ``train``: the training split, or a function ``epoch (0-based) -> AVTensors`` giving each epoch its own samples
    (fresh data; it must be a pure function of the epoch for exact resumption).

    ``validate(model) -> score`` (higher is better) selects the model (default: minus
    :func:`validation_loss`). ``max_seconds`` stops after the epoch during which the time ran out (the
    checkpoint lets a later call resume). ``device``: where the model trains (the data stay on the CPU and
    move batch by batch; checkpoints and the saved model are CPU tensors). ``ValueError`` if ``resume`` finds a checkpoint of another
    config, or no checkpoint.
    """
    def epoch_data(epoch: int) -> AVTensors:
        data = train(epoch) if callable(train) else train
        if len(data) < config.batch_size:
            raise ValueError(f"the training split has {len(data)} samples, fewer than one batch of {config.batch_size}")
        return data

    if not callable(train):
        epoch_data(0)
    run = Path(run)
    say = log or (lambda s: None)
    dev = torch.device(device)
    model = build_av_model(config).to(dev)
    ema = EMA(model, momentum=config.momentum) if config.loss == "slavc" else None
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = _make_loss(config)
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": None, "score": None}
    start_epoch = 0
    seconds = 0.0
    if resume:
        start_epoch, history, best, seconds = _load_checkpoint(run, config, model, ema, opt)
        say(f"resumed after epoch {start_epoch}")
    score_fn = validate or (lambda m: -validation_loss(m, config, val))
    t_start = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        data = epoch_data(epoch)
        model.train()
        g = torch.Generator().manual_seed(config.seed * 100003 + epoch)
        order = torch.randperm(len(data), generator=g)
        sums = {"loss": 0.0, "calibration": 0.0}
        n_batches = len(data) // config.batch_size
        for b in range(n_batches):
            frames, audio = data.batch(order[b * config.batch_size:(b + 1) * config.batch_size])
            frames, audio = frames.to(dev, non_blocking=True), audio.to(dev, non_blocking=True)
            out = model(frames, audio)
            target = None
            if ema is not None:
                with torch.no_grad():
                    target = ema.target(frames, audio)
            main = _main_loss(loss_fn, config.loss, out, target)
            cal = calibration_loss(model, out)
            opt.zero_grad(set_to_none=True)
            total: torch.Tensor = main + config.calibration_weight * cal
            total.backward()  # type: ignore[no-untyped-call]
            opt.step()
            if ema is not None:
                ema.update(model)
            sums["loss"] += float(main.detach())
            sums["calibration"] += float(cal.detach())
        score = float(score_fn(model))
        if not math.isfinite(score):  # e.g. AP on a validation split without a sounding object
            raise ValueError(f"the validation score of epoch {epoch + 1} is {score}: the validation split cannot rank "
                             "models by it (too small, or no positives); use a larger split or another selection")
        dt = time.perf_counter() - t0
        seconds += dt
        row = {"epoch": epoch + 1, "loss": sums["loss"] / n_batches, "calibration": sums["calibration"] / n_batches,
               "val_score": score, "seconds": dt}
        history.append(row)
        if best["score"] is None or score > best["score"]:
            best = {"epoch": epoch + 1, "score": score}
            save_av_model(model, run / "model")
        _save_checkpoint(run, config, model, ema, opt, epoch + 1, n_batches, history, best, done=epoch + 1 == config.epochs)
        write_json_atomic(run / "history.json", {"config": config.to_dict(), "epochs": history, "best": best, "seconds": seconds})
        say(f"epoch {epoch + 1}/{config.epochs}: loss {row['loss']:.4f}, calibration {row['calibration']:.4f}, "
            f"val score {score:.4f}, {dt:.1f} s" + (" (best)" if best["epoch"] == epoch + 1 else ""))
        if max_seconds is not None and time.perf_counter() - t_start > max_seconds:
            say(f"time limit reached after epoch {epoch + 1}; continue with resume")
            break
    return {"config": config.to_dict(), "epochs": history, "best": best, "seconds": seconds}


def _save_checkpoint(run: Path, config: AVTrainConfig, model: AVLocalizer, ema: EMA | None, opt: torch.optim.Optimizer,
                     epoch: int, steps_per_epoch: int, history: list[dict[str, Any]], best: dict[str, Any], done: bool) -> None:
    # best_val keeps TrainState's "lower is better" meaning: minus the validation score
    state = TrainState(epoch=epoch, step=epoch * steps_per_epoch, history=history, best_epoch=best["epoch"],
                       best_val=None if best["score"] is None else -float(best["score"]), done=done)
    save_checkpoint(run, model=_Bundle(model, ema), optimizer=opt, state=state, train_config=config.to_dict(),
                    model_config=config.model.to_dict(), augmentations={})


def _load_checkpoint(run: Path, config: AVTrainConfig, model: AVLocalizer, ema: EMA | None,
                     opt: torch.optim.Optimizer) -> tuple[int, list[dict[str, Any]], dict[str, Any], float]:
    if not checkpoint_json(run).is_file():
        raise ValueError(f"no checkpoint to resume from in '{run}'")
    doc, tensors = read_checkpoint(run)
    if doc["train_config"] != config.to_dict():
        raise ValueError(f"checkpoint '{checkpoint_json(run)}' was written with another training config; "
                         "use the same options to resume")
    try:
        state = restore(doc, tensors, model=_Bundle(model, ema), optimizer=opt, augmentations={})
    except (KeyError, RuntimeError) as e:
        raise ValueError(f"checkpoint '{checkpoint_json(run)}' does not fit this model ({str(e).splitlines()[0]})") from None
    history = list(state.history or [])
    best = {"epoch": state.best_epoch, "score": None if state.best_val is None else -float(state.best_val)}
    return state.epoch, history, best, float(sum(float(r["seconds"]) for r in history))


__all__ = ["AV_LOSSES", "AVTensors", "AVTrainConfig", "build_av_model", "calibration_loss", "checkpoint_json", "load_split",
           "train_av", "validation_loss"]
