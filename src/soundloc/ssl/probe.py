"""Supervised evaluation of a spatial encoder: linear probe, fine-tune, subset fine-tune, from scratch.

Data: a soundloc dataset folder with one event per clip (the ``mcsimclr`` scene preset): each
clip's label is its event's class and azimuth (the class with the most active 100 ms frames,
its azimuth the circular mean over them; clips without any event are skipped). Azimuths are in
the array frame, counter-clockwise from +x (DCASE). Two linear heads sit on the clip embedding
``(B, D)``: one for the class (cross-entropy), one for the direction as the unit vector
``(cos az, sin az)`` (mean squared error, weight ``direction_weight``); the estimate is
``atan2(y, x)``.

Protocols (:class:`Protocol`, ``"linear"``, ``"finetune"``, ``"subset:0.1"``, ``"scratch"``,
``"scratch:0.1"``):

* ``linear``: encoder frozen (eval mode); its embeddings, standardised with the training clips'
  mean and std, feed the two heads.
* ``finetune`` / ``subset:F``: heads and encoder trained together, the encoder's learning rate
  scaled by ``encoder_lr_scale`` (0.1); ``subset:F`` uses the fraction ``F`` of the labelled
  training clips (:func:`subset_indices`: deterministic in the seed, the same for every encoder).
* ``scratch`` / ``scratch:F``: the same encoder architecture with random weights (seeded), trained
  like ``finetune`` but at the full learning rate, on the same subsets.

A fresh encoder (``scratch``, or ``fit_normalizer=True`` for a random-init one) first fits its
input normalizer on the protocol's training features (all of them); a pretrained encoder keeps the
statistics of its pretraining data.

ChannelSwap is the only augmentation (on the feature stacks, DOA targets rotated with them). Model
selection uses the ``val`` split, once per task: the class is scored at the evaluation point with
the best validation accuracy (ties: lower cross-entropy), the direction at the point with the lowest
validation mean azimuth error, so neither task's stopping point is set by the other (with one summed
loss the early point where cross-entropy starts to overfit was always kept, long before the direction
was learned). For the linear probe the two heads are independent, so this is one model with each head
taken at its own point; when the encoder is trained too it is two snapshots. Metrics (class accuracy,
mean and median wrapped azimuth error in degrees) are reported on ``test``.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from soundloc.augment import ChannelSwap
from soundloc.models import InputSpec
from soundloc.ssl.model import SpatialEncoder, build_encoder, fit_normalizer

KINDS = ("linear", "finetune", "scratch")


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol: ``kind`` (:data:`KINDS`) on the ``fraction`` of labelled training clips."""

    kind: str
    fraction: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown protocol '{self.kind}'; choose from linear, finetune, subset:F, scratch, scratch:F")
        if not (0.0 < self.fraction <= 1.0):
            raise ValueError(f"protocol fraction must be in (0, 1], got {self.fraction}")

    @classmethod
    def parse(cls, spec: str) -> Protocol:
        """``linear``, ``finetune``, ``subset:F`` (= fine-tune on ``F``), ``scratch``, ``scratch:F``, ``linear:F``."""
        name, _, frac = str(spec).strip().lower().partition(":")
        if name == "subset" and not frac:
            raise ValueError("subset needs a fraction: subset:0.1")
        kind = "finetune" if name == "subset" else name
        try:
            f = float(frac) if frac else 1.0
        except ValueError:
            raise ValueError(f"protocol '{spec}': '{frac}' is not a fraction") from None
        return cls(kind, f)

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``subset:0.1``, ``scratch:0.01``, ``linear``."""
        if self.fraction == 1.0:
            return self.kind
        return f"{'subset' if self.kind == 'finetune' else self.kind}:{self.fraction:g}"


@dataclass(frozen=True)
class ProbeConfig:
    """Supervised training settings shared by the protocols.

    Attributes:
        epochs: evaluation points on the validation split (one per pass over the training clips,
            or per ``min_steps / epochs`` steps on small subsets); min_steps: at least this many steps.
        batch_size, lr (heads; AdamW), weight_decay, encoder_lr_scale (fine-tune),
        direction_weight: weight of the direction loss; channel_swap: the one augmentation;
        seed: heads, scratch encoders, subsets, batches and swaps; amp: bf16 autocast on CUDA.
    """

    epochs: int = 30
    min_steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    encoder_lr_scale: float = 0.1
    direction_weight: float = 1.0
    channel_swap: bool = True
    seed: int = 0
    amp: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.min_steps < 0:
            raise ValueError(f"min_steps must be >= 0, got {self.min_steps}")
        for name in ("lr", "encoder_lr_scale"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass
class LabelledClips:
    """Clips with one label each: ``features`` ``(N, C, T, F)`` on the device, ``classes`` ``(N,)``
    long, ``azimuth`` ``(N,)`` degrees, the source ``files`` and the dataset's ``class_names``."""

    features: torch.Tensor
    classes: torch.Tensor
    azimuth: torch.Tensor
    files: list[str]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.classes.shape[0])

    def take(self, idx: np.ndarray) -> LabelledClips:
        i = torch.as_tensor(idx, dtype=torch.long)
        return LabelledClips(self.features[i.to(self.features.device)], self.classes[i], self.azimuth[i],
                             [self.files[int(k)] for k in idx], self.class_names)


def clip_label(frames: np.ndarray, classes: np.ndarray, azimuth: np.ndarray) -> tuple[int, float] | None:
    """``(class, azimuth deg)`` of a one-event clip from its label rows (``None`` without events):
    the class with the most active frames, the circular mean of its azimuths."""
    if len(frames) == 0:
        return None
    counts = np.bincount(classes)
    c = int(np.argmax(counts))
    a = np.radians(azimuth[classes == c])
    return c, float(np.degrees(np.arctan2(np.sin(a).mean(), np.cos(a).mean())))


def load_labelled(root: str | Path, split: str, spec: InputSpec, *, device: str | torch.device = "cpu",
                  batch_size: int = 64) -> LabelledClips:
    """The clips of ``split`` with their labels and features (computed on ``device``).

    Raises:
        ValueError: audio from another array or rate than the encoder's (``spec.check_input``),
            clips of different lengths, no labelled clip.
    """
    from soundloc.data import SeldDataset

    ds = SeldDataset(root, split)
    spec.check_input(ds.array, ds.fs, ds.num_channels)
    waves, classes, az, files = [], [], [], []
    for i, lab in enumerate(ds.labels):
        lbl = clip_label(lab.frame, lab.class_index, lab.azimuth)
        if lbl is None:
            continue
        waves.append(ds.read_waveform(i))
        classes.append(lbl[0])
        az.append(lbl[1])
        files.append(str(ds.entries[i].audio))
    if not waves:
        raise ValueError(f"'{root}' split '{split}': no clip with a labelled event")
    lengths = {w.shape[1] for w in waves}
    if len(lengths) != 1:
        raise ValueError(f"'{root}' split '{split}': clips of different lengths {sorted(lengths)} (probing needs equal clips)")
    feat = spec.feature_module().to(device)
    chunks = []
    with torch.no_grad():
        for k in range(0, len(waves), batch_size):
            chunks.append(feat(torch.from_numpy(np.stack(waves[k:k + batch_size])).to(device)))
    return LabelledClips(torch.cat(chunks), torch.tensor(classes, dtype=torch.long), torch.tensor(az, dtype=torch.float64),
                         files, tuple(ds.class_names))


def subset_indices(n: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``max(1, round(fraction * n))`` of ``n`` clips, a function of ``seed`` and ``n`` only
    (so every encoder and protocol sees the same labelled subset)."""
    if fraction >= 1.0:
        return np.arange(n)
    k = max(1, int(round(fraction * n)))
    return np.sort(np.random.default_rng([int(seed), 0x5B5E7]).permutation(n)[:k])


def unit_xy(azimuth_deg: torch.Tensor) -> torch.Tensor:
    """``(N,)`` degrees -> ``(N, 3)`` float32 unit vectors ``(cos, sin, 0)``."""
    a = torch.deg2rad(azimuth_deg.double())
    return torch.stack([torch.cos(a), torch.sin(a), torch.zeros_like(a)], dim=1).float()


def azimuth_error_deg(est_deg: np.ndarray, ref_deg: np.ndarray) -> np.ndarray:
    """``|est - ref|`` wrapped to ``[0, 180]`` degrees."""
    d = np.mod(np.asarray(est_deg, dtype=np.float64) - np.asarray(ref_deg, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.abs(d)


class Heads(nn.Module):
    """Linear class head ``(B, D) -> (B, classes)`` and linear direction head ``(B, D) -> (B, 2)`` (x, y)."""

    def __init__(self, embed_dim: int, num_classes: int) -> None:
        super().__init__()
        self.cls = nn.Linear(embed_dim, num_classes)
        self.doa = nn.Linear(embed_dim, 2)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cls(h), self.doa(h)


def _loss(heads: Heads, h: torch.Tensor, cls: torch.Tensor, xy: torch.Tensor, w: float) -> torch.Tensor:
    logits, d = heads(h.float())
    out: torch.Tensor = F.cross_entropy(logits, cls) + w * F.mse_loss(d, xy)
    return out


@dataclass(frozen=True)
class Metrics:
    """Class accuracy (0-1), mean / median azimuth error (degrees), the class head's cross-entropy,
    the direction head's mean squared error, clips."""

    accuracy: float
    azimuth_error_mean: float
    azimuth_error_median: float
    class_loss: float
    direction_loss: float
    clips: int

    def merged(self, direction: Metrics) -> Metrics:
        """The class metrics of ``self`` with the direction metrics of ``direction``."""
        return Metrics(accuracy=self.accuracy, azimuth_error_mean=direction.azimuth_error_mean,
                       azimuth_error_median=direction.azimuth_error_median, class_loss=self.class_loss,
                       direction_loss=direction.direction_loss, clips=self.clips)


def _metrics(logits: torch.Tensor, d: torch.Tensor, clips: LabelledClips, xy: torch.Tensor) -> Metrics:
    pred_c = logits.argmax(dim=1).cpu()
    est = np.degrees(np.arctan2(d[:, 1].double().cpu().numpy(), d[:, 0].double().cpu().numpy()))
    err = azimuth_error_deg(est, clips.azimuth.numpy())
    return Metrics(accuracy=float((pred_c == clips.classes).double().mean()), azimuth_error_mean=float(err.mean()),
                   azimuth_error_median=float(np.median(err)),
                   class_loss=float(F.cross_entropy(logits, clips.classes.to(logits.device))),
                   direction_loss=float(F.mse_loss(d, xy)), clips=len(clips))


class _Runner:
    """Trains the heads (and the encoder unless linear) of one protocol."""

    def __init__(self, encoder: SpatialEncoder, protocol: Protocol, config: ProbeConfig, num_classes: int,
                 device: torch.device) -> None:
        self.protocol, self.config, self.device = protocol, config, device
        self.encoder = encoder.to(device)
        assert encoder.config is not None
        self.cs = ChannelSwap(encoder.config.array, features=encoder.config.input.feature, seed=config.seed + 11,
                              enabled=config.channel_swap)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 12)
            self.heads = Heads(encoder.embed_dim, num_classes).to(device)
        self.amp = config.amp and device.type == "cuda"
        self.mean = torch.zeros(encoder.embed_dim, device=device)
        self.std = torch.ones(encoder.embed_dim, device=device)

    def embed(self, f: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            h: torch.Tensor = self.encoder(f)
        return (h.float() - self.mean) / self.std

    @torch.no_grad()
    def _frozen_bank(self, clips: LabelledClips) -> tuple[torch.Tensor, torch.Tensor]:
        """Linear probe: embeddings ``(S, N, D)`` of every symmetry, and the rotated targets ``(S, N, 2)``."""
        self.encoder.eval()
        syms = range(self.cs.num_symmetries) if self.cs.enabled else [max(self.cs.identity_index, 0)]
        embs, xys = [], []
        u = unit_xy(clips.azimuth).to(self.device)
        for s in syms:
            rows = []
            for k in range(0, len(clips), 256):
                f = clips.features[k:k + 256]
                idx = torch.full((f.shape[0],), s, dtype=torch.long)
                rows.append(self.embed(self.cs.apply_features(f, idx)))
            embs.append(torch.cat(rows))
            xys.append(self.cs.apply_doa(u, torch.full((len(clips),), s, dtype=torch.long))[:, :2])
        return torch.stack(embs), torch.stack(xys)

    @torch.no_grad()
    def evaluate(self, clips: LabelledClips) -> Metrics:
        self.encoder.eval()
        self.heads.eval()
        outs = [self.heads(self.embed(clips.features[k:k + 256])) for k in range(0, len(clips), 256)]
        logits = torch.cat([o[0] for o in outs]).float()
        d = torch.cat([o[1] for o in outs]).float()
        return _metrics(logits, d, clips, unit_xy(clips.azimuth).to(self.device)[:, :2])

    def _state(self, linear: bool) -> dict[str, torch.Tensor]:
        state = {f"h.{k}": v.detach().clone() for k, v in self.heads.state_dict().items()}
        if not linear:
            state.update({f"e.{k}": v.detach().clone() for k, v in self.encoder.state_dict().items()})
        return state

    def load(self, state: dict[str, torch.Tensor]) -> None:
        """Load a snapshot of :meth:`fit` (heads, and the encoder when it was trained)."""
        self.heads.load_state_dict({k[2:]: v for k, v in state.items() if k.startswith("h.")})
        enc = {k[2:]: v for k, v in state.items() if k.startswith("e.")}
        if enc:
            self.encoder.load_state_dict(enc)

    def fit(self, train: LabelledClips, val: LabelledClips) -> dict[str, tuple[int, Metrics, dict[str, torch.Tensor]]]:
        """Train; returns, per task (``"class"``, ``"direction"``), the selected step, its validation
        metrics and its snapshot (:meth:`load`)."""
        cfg = self.config
        linear = self.protocol.kind == "linear"
        n = len(train)
        b = min(cfg.batch_size, n)
        per_epoch = max(1, math.ceil(n / b))
        total = max(cfg.epochs * per_epoch, cfg.min_steps)
        every = max(1, total // cfg.epochs)
        if linear:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            bank, xys = self._frozen_bank(train)
            self.mean = bank[0].mean(dim=0)  # identity symmetry statistics (a fixed affine map: still linear)
            self.std = bank[0].std(dim=0).clamp_min(1e-6) if n > 1 else torch.ones_like(self.mean)
            bank = (bank - self.mean) / self.std
            params: list[dict[str, Any]] = [{"params": list(self.heads.parameters()), "lr": cfg.lr}]
        else:
            scale = 1.0 if self.protocol.kind == "scratch" else cfg.encoder_lr_scale
            params = [{"params": list(self.heads.parameters()), "lr": cfg.lr},
                      {"params": list(self.encoder.parameters()), "lr": cfg.lr * scale}]
        opt = torch.optim.AdamW(params, weight_decay=cfg.weight_decay)
        base = [g["lr"] for g in opt.param_groups]
        rng = np.random.default_rng([cfg.seed, 0xF17E])
        g = torch.Generator().manual_seed(cfg.seed + 13)
        u = unit_xy(train.azimuth).to(self.device)
        cls_all = train.classes.to(self.device)
        best: dict[str, tuple[int, Metrics, dict[str, torch.Tensor]]] = {}
        order = np.empty(0, dtype=np.int64)
        for step in range(total):
            if len(order) < b:
                order = np.concatenate([order, rng.permutation(n)])
            idx_np, order = order[:b], order[b:]
            idx = torch.as_tensor(idx_np, dtype=torch.long)
            sym = self.cs.sample(b, g)
            for gr, lr0 in zip(opt.param_groups, base):  # cosine decay over the run
                gr["lr"] = lr0 * 0.5 * (1.0 + math.cos(math.pi * step / total))
            if linear:
                pos = (sym if self.cs.enabled else torch.zeros_like(sym)).to(self.device)  # bank row of the symmetry
                h = bank[pos, idx.to(self.device)]
                xy = xys[pos, idx.to(self.device)]
                self.heads.train()
            else:
                self.encoder.train()
                self.heads.train()
                torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout
                f = self.cs.apply_features(train.features[idx.to(self.device)], sym)
                h = self.embed(f)
                xy = self.cs.apply_doa(u[idx.to(self.device)], sym)[:, :2]
            opt.zero_grad(set_to_none=True)
            loss = _loss(self.heads, h, cls_all[idx.to(self.device)], xy, cfg.direction_weight)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            if (step + 1) % every == 0 or step + 1 == total:
                m = self.evaluate(val)
                c, dn = best.get("class"), best.get("direction")
                better_c = c is None or (m.accuracy, -m.class_loss) > (c[1].accuracy, -c[1].class_loss)
                better_d = dn is None or m.azimuth_error_mean < dn[1].azimuth_error_mean
                state = self._state(linear) if better_c or better_d else {}
                if better_c:
                    best["class"] = (step + 1, m, state)
                if better_d:
                    best["direction"] = (step + 1, m, state)
        return best


def run_protocol(encoder: SpatialEncoder, protocol: Protocol, train: LabelledClips, val: LabelledClips, test: LabelledClips,
                 *, config: ProbeConfig = ProbeConfig(), device: str | torch.device = "cpu",
                 fit_normalizer_on_train: bool = False) -> dict[str, Any]:
    """Train and score one protocol; returns a JSON-able result (``test`` and ``val`` metrics at the
    evaluation point selected on ``val``). ``encoder`` is not modified (fine-tuning works on a copy;
    ``scratch`` builds fresh weights of the same architecture, seeded by ``config.seed``).

    ``scratch``, and any protocol with ``fit_normalizer_on_train`` (a random-init encoder), first fit
    the encoder's input normalizer on the protocol's training features; otherwise the encoder keeps
    its statistics."""
    if encoder.config is None:
        raise ValueError("the encoder has no config (load it with soundloc.ssl.load_encoder)")
    t0 = time.perf_counter()
    dev = torch.device(device)
    if protocol.kind == "scratch":
        enc = build_encoder(encoder.config, seed=config.seed + 10)
    else:
        enc = copy.deepcopy(encoder)
    sub = train.take(subset_indices(len(train), protocol.fraction, config.seed))
    if protocol.kind == "scratch" or fit_normalizer_on_train:
        fit_normalizer(enc, (sub.features[k:k + 256] for k in range(0, len(sub), 256)))
    runner = _Runner(enc, protocol, config, len(train.class_names), dev)
    best = runner.fit(sub, val)
    scored = {}
    for task, (_, _, state) in best.items():
        runner.load(state)
        scored[task] = runner.evaluate(test)
    test_m = scored["class"].merged(scored["direction"])
    val_m = best["class"][1].merged(best["direction"][1])
    return {"protocol": protocol.name, "kind": protocol.kind, "fraction": protocol.fraction, "train_clips": len(sub),
            "val_clips": len(val), "test_clips": len(test),
            "best_step": {task: best[task][0] for task in ("class", "direction")}, "test": asdict(test_m),
            "val": asdict(val_m), "config": asdict(config), "seconds": round(time.perf_counter() - t0, 2)}
