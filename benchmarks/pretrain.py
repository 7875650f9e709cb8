"""MC-SimCLR pretraining throughput (pairs per second) with the full augmentation pipeline.

One process, random 1-s 4-channel 16 kHz clips of the ``circular4`` array held in memory (the
data path of ``soundloc pretrain`` on a dataset that fits in memory), views of 0.8 s, all four
augmentations (crop, Mixup, ChannelSwap, features, RandomResizedCrop, ChannelDrop), the encoder
(default CRNN, 128-d embedding; ``--small`` for the tests' tiny CRNN) on both views, projector,
NT-Xent, AdamW (:meth:`soundloc.ssl.pretrain.Pretrainer.train_step`). Timed over ``--steps`` steps
after ``--warmup`` steps; prints pairs/s and the fraction of the step time spent making the views
(augmentations + features; the issue's target: at most 30 %).

``--baseline REV`` also times the soundloc of git revision ``REV`` (its ``src/soundloc``, taken
with ``git archive``) in the same process: both trainers are built first, then their steps
alternate in ``--rounds`` rounds of ``--steps`` steps each, so machine load hits both alike.
(The baseline package is imported first and then dropped from ``sys.modules``; its objects keep
their own modules.) ``--profile`` runs ``torch.profiler`` over one more round of the current
trainer's steps and prints where the views' time goes: the ``views.*`` ranges of
:class:`~soundloc.ssl.views.ViewMaker` (crop, Mixup, ChannelSwap, features, RandomResizedCrop,
ChannelDrop) and the heaviest operators inside the features (profiler overhead included).

Usage:
    PYTHONPATH=src python benchmarks/pretrain.py --batch 64 --steps 5
    PYTHONPATH=src python benchmarks/pretrain.py --batch 64 --steps 2 --rounds 4 --threads 1 --baseline main
    PYTHONPATH=src python benchmarks/pretrain.py --batch 512 --steps 20 --device cuda
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from revision import from_revision

FS = 16000


class _Memory:
    """A source of random in-memory clips (the ``Source`` protocol)."""

    def __init__(self, batch: int, fs: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(batch, 4, fs, generator=g) * torch.rand(batch, 1, 1, generator=g)

    def steps_per_epoch(self, batch_size: int) -> int:
        return 1_000_000

    def batches(self, epoch: int, *, batch_size: int, steps: int, start_step: int = 0, rank: int = 0,
                world_size: int = 1, num_workers: int = 0):  # type: ignore[no-untyped-def]
        for _ in range(start_step, steps):
            yield self.x, {}


def _trainer(a: argparse.Namespace, run: str) -> Any:
    """A warmed-up ``Pretrainer`` of the ``soundloc`` now importable (``aug_seconds`` reset)."""
    geometry = importlib.import_module("soundloc.geometry")
    ssl = importlib.import_module("soundloc.ssl")
    pretrain = importlib.import_module("soundloc.ssl.pretrain")
    kw = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1} if a.small else {}
    cfg = ssl.PretrainConfig(batch_size=a.batch, epochs=1, warmup_epochs=0, augment=ssl.parse_augment(a.augment), model_kwargs=kw)
    model = pretrain.build_pretrain_model(cfg, geometry.MicArray.preset("circular4"), FS)
    src = _Memory(a.batch, FS)
    tr = pretrain.Pretrainer(cfg, model, run, source=src, device=a.device, progress=False)
    tr.bench_x = src.x.to(a.device)
    for _ in range(a.warmup):
        tr.train_step(tr.bench_x)
    tr.aug_seconds = 0.0
    return tr


def _baseline(a: argparse.Namespace, run: str, tmp: str) -> Any:
    """The trainer of revision ``a.baseline``, built from its own package, which is then unloaded."""
    return from_revision(a.baseline, tmp, lambda: _trainer(a, run))


def _time(tr: Any, steps: int, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        tr.train_step(tr.bench_x)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64, help="pairs per step")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (per round)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of --steps steps (alternating with --baseline)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--augment", default="all")
    ap.add_argument("--small", action="store_true", help="the tests' tiny CRNN instead of the default one")
    ap.add_argument("--baseline", metavar="REV", help="also time the soundloc of this git revision, alternating")
    ap.add_argument("--profile", action="store_true", help="profile one more round of the current trainer (views stages)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        trainers: dict[str, Any] = {}
        if a.baseline:
            trainers[f"baseline {a.baseline}"] = _baseline(a, str(Path(tmp) / "run_base"), str(Path(tmp) / "base"))
        trainers["current"] = _trainer(a, str(Path(tmp) / "run"))
        seconds = dict.fromkeys(trainers, 0.0)
        for _ in range(a.rounds):
            for name, tr in trainers.items():
                seconds[name] += _time(tr, a.steps, a.device)
        if a.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                _time(trainers["current"], a.steps, a.device)
    steps = a.steps * a.rounds
    tr = trainers["current"]
    params = sum(p.numel() for p in tr.model.encoder.parameters())
    print(f"device {a.device}, {a.threads} threads, batch {a.batch} pairs, augment {','.join(tr.config.augment) or 'none'}, "
          f"encoder {params / 1e3:.0f} k parameters ({'small' if a.small else 'default'} CRNN), amp {tr.amp}, {steps} timed steps")
    for name, tr in trainers.items():
        dt = seconds[name]
        print(f"{name + ': ' if a.baseline else ''}step {1e3 * dt / steps:.1f} ms, {a.batch * steps / dt:.1f} pairs/s, "
              f"views (augmentations + features) {1e3 * tr.aug_seconds / steps:.1f} ms = {100 * tr.aug_seconds / dt:.1f} % "
              "of the step time")
    if a.profile:
        _print_profile(prof, a.steps)


def _print_profile(prof: Any, steps: int) -> None:
    """The ``views.*`` ranges (ms per step) and the features' heaviest operators."""
    events = prof.key_averages()
    stages = [e for e in events if e.key.startswith("views.")]
    print(f"profile of {steps} steps of the current trainer (CPU ms per step; profiler overhead included):")
    for e in sorted(stages, key=lambda e: -e.cpu_time_total):
        print(f"  {e.key:22s} {e.cpu_time_total / 1e3 / steps:8.1f}")
    print("  heaviest operators (self time, whole step):")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:10]:
        print(f"  {e.key:22s} {e.self_cpu_time_total / 1e3 / steps:8.1f}  ({e.count // steps} calls)")


if __name__ == "__main__":
    main()
