"""Checkpoints for an exact resume: safetensors (tensors) + JSON (everything else), written atomically.

``RUN/checkpoint.json`` names the tensor file ``RUN/checkpoint-<step>.safetensors`` and its sha256;
the tensor file is written first under a new name, the JSON last (one atomic rename), then older
tensor files are removed, so a kill at any moment leaves a consistent checkpoint.

Tensors: ``model.<name>`` (state dict), ``optim.<param index>.<key>`` (AdamW state),
``rng.torch`` / ``rng.cuda.<i>`` (global generators), ``rng.aug.<name>`` (augmentation generators).
JSON: format, version, the training and model configs, epoch / step / step in epoch, the optimizer's
hyper-parameters, numpy and python RNG states, the history of epoch rows and the best epoch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundloc.fileio import atomic_path, load_json, sha256_file, write_json_atomic

FORMAT = "soundloc-checkpoint"
VERSION = 1
CHECKPOINT_JSON = "checkpoint.json"


@dataclass
class TrainState:
    """Where a run stands (saved in the checkpoint JSON).

    Attributes:
        epoch: current epoch (0-based); step_in_epoch: optimizer steps done in it; step: total steps.
        history: one dict per finished epoch (``epoch, step, train_loss, val_loss, lr, seconds``).
        best_epoch, best_val: the epoch with the lowest validation loss so far and that loss.
        bad_epochs: epochs since the best one (early stopping); done: training finished.
        loss_sum: sum of the training losses of the current epoch's steps so far.
    """

    epoch: int = 0
    step_in_epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] | None = None
    best_epoch: int | None = None
    best_val: float | None = None
    bad_epochs: int = 0
    done: bool = False
    loss_sum: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "step": self.step, "history": self.history or [],
                "best_epoch": self.best_epoch, "best_val": self.best_val, "bad_epochs": self.bad_epochs, "done": self.done,
                "loss_sum": self.loss_sum}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainState:
        return cls(epoch=int(d["epoch"]), step_in_epoch=int(d["step_in_epoch"]), step=int(d["step"]),
                   history=list(d.get("history") or []), best_epoch=d.get("best_epoch"), best_val=d.get("best_val"),
                   bad_epochs=int(d.get("bad_epochs", 0)), done=bool(d.get("done", False)),
                   loss_sum=float(d.get("loss_sum", 0.0)))


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous().clone()


def rng_states(augmentations: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, json)`` of the global torch / CUDA / numpy / python RNGs and each augmentation's generator."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    for name, aug in augmentations.items():
        tensors[f"rng.aug.{name}"] = aug.rng_state()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    js = {"numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
          "python": [py[0], list(py[1]), py[2]]}
    return tensors, js


def set_rng_states(tensors: Mapping[str, torch.Tensor], js: Mapping[str, Any], augmentations: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_states` saved."""
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.split(".")[-1]))]
        if cuda:
            torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    for name, aug in augmentations.items():
        aug.set_rng_state(tensors[f"rng.aug.{name}"])
    kind, keys, pos, has_gauss, cached = js["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    v, internal, gauss = js["python"]
    random.setstate((v, tuple(internal), gauss))


def save_checkpoint(run: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: TrainState,
                    train_config: Mapping[str, Any], model_config: Mapping[str, Any],
                    augmentations: Mapping[str, Any]) -> Path:
    """Write the checkpoint of ``state`` into the run folder; returns the JSON path."""
    from safetensors.torch import save_file

    run = Path(run)
    tensors = {f"model.{k}": _cpu(v) for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, st in opt["state"].items():
        for key, v in st.items():
            tensors[f"optim.{pid}.{key}"] = _cpu(v if isinstance(v, torch.Tensor) else torch.tensor(v))
    rng_t, rng_j = rng_states(augmentations)
    tensors.update({k: _cpu(v) for k, v in rng_t.items()})
    weights = run / f"checkpoint-{state.step:09d}.safetensors"
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp))
    doc = {"format": FORMAT, "version": VERSION, "train_config": dict(train_config), "model_config": dict(model_config),
           "state": state.to_dict(), "optimizer": {"param_groups": opt["param_groups"]}, "rng": rng_j,
           "weights": {"file": weights.name, "sha256": sha256_file(weights)}}
    path = run / CHECKPOINT_JSON
    write_json_atomic(path, doc)
    for old in run.glob("checkpoint-*.safetensors"):
        if old.name != weights.name:
            old.unlink(missing_ok=True)
    return path


def read_checkpoint(run: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(json document, tensors)`` of the run's checkpoint; one-line ``ValueError`` if it is broken."""
    from safetensors.torch import load_file

    run = Path(run)
    path = run / CHECKPOINT_JSON
    doc = load_json(path, what="checkpoint")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not a soundloc checkpoint")
    if doc.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {doc.get('version')!r} is not supported (this soundloc reads {VERSION})")
    w = doc.get("weights")
    if not isinstance(w, dict) or not all(isinstance(w.get(k), str) for k in ("file", "sha256")):
        raise ValueError(f"{path}: \"weights\" must be {{\"file\": ..., \"sha256\": ...}}")
    if Path(w["file"]).name != w["file"] or w["file"] in ("", ".", ".."):  # a plain name inside the run folder
        raise ValueError(f"{path}: checkpoint tensors must be a file name in {run}, got {w['file']!r}")
    for key in ("state", "train_config", "model_config"):
        if not isinstance(doc.get(key), dict):
            raise ValueError(f"{path}: \"{key}\" is missing or not an object (a damaged checkpoint)")
    try:
        TrainState.from_dict(doc["state"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: damaged training state (field {e})") from None
    weights = run / w["file"]
    if not weights.is_file():
        raise ValueError(f"{weights}: checkpoint tensors are missing")
    if sha256_file(weights) != w["sha256"]:
        raise ValueError(f"{weights}: checkpoint tensors do not match their sha256 (changed or corrupt)")
    try:
        tensors = load_file(str(weights))
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{weights}: cannot read checkpoint tensors ({e})") from None
    return doc, tensors


def has_checkpoint(run: str | Path) -> bool:
    return (Path(run) / CHECKPOINT_JSON).is_file()


def restore(doc: Mapping[str, Any], tensors: Mapping[str, torch.Tensor], *, model: torch.nn.Module,
            optimizer: torch.optim.Optimizer, augmentations: Mapping[str, Any]) -> TrainState:
    """Load model, optimizer and RNG states from a checkpoint; returns its :class:`TrainState`."""
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": doc["optimizer"]["param_groups"]})
    set_rng_states(tensors, doc["rng"], augmentations)
    return TrainState.from_dict(doc["state"])
