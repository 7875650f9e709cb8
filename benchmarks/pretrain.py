"""MC-SimCLR pretraining throughput (pairs per second) with the full augmentation pipeline.

One process, random 1-s 4-channel 16 kHz clips of the ``circular4`` array held in memory (the
data path of ``soundloc pretrain`` on a dataset that fits in memory), views of 0.8 s, all four
augmentations (crop, Mixup, ChannelSwap, features, RandomResizedCrop, ChannelDrop), the encoder
(default CRNN, 128-d embedding; ``--small`` for the tests' tiny CRNN) on both views, projector,
NT-Xent, AdamW (:meth:`soundloc.ssl.pretrain.Pretrainer.train_step`). Timed over ``--steps`` steps
after ``--warmup`` steps; prints pairs/s and the fraction of the step time spent making the views
(augmentations + features; the issue's target: at most 30 %).

Usage:
    PYTHONPATH=src python benchmarks/pretrain.py --batch 64 --steps 5
    PYTHONPATH=src python benchmarks/pretrain.py --batch 512 --steps 20 --device cuda
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from soundloc.geometry import MicArray
from soundloc.ssl import PretrainConfig
from soundloc.ssl.pretrain import Pretrainer, build_pretrain_model


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64, help="pairs per step")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--augment", default="all")
    ap.add_argument("--small", action="store_true", help="the tests' tiny CRNN instead of the default one")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from soundloc.ssl import parse_augment

    kw = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1} if a.small else {}
    cfg = PretrainConfig(batch_size=a.batch, epochs=1, warmup_epochs=0, augment=parse_augment(a.augment), model_kwargs=kw)
    model = build_pretrain_model(cfg, MicArray.preset("circular4"), 16000)
    src = _Memory(a.batch, 16000)
    with tempfile.TemporaryDirectory() as run:
        tr = Pretrainer(cfg, model, run, source=src, device=a.device, progress=False)  # type: ignore[arg-type]
        x = src.x.to(a.device)
        for _ in range(a.warmup):
            tr.train_step(x)
        tr.aug_seconds = 0.0
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            tr.train_step(x)
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    params = sum(p.numel() for p in model.encoder.parameters())
    print(f"device {a.device}, {a.threads} threads, batch {a.batch} pairs, augment {','.join(cfg.augment) or 'none'}, "
          f"encoder {params / 1e3:.0f} k parameters ({'small' if a.small else 'default'} CRNN), amp {tr.amp}")
    print(f"step {1e3 * dt / a.steps:.1f} ms, {a.batch * a.steps / dt:.1f} pairs/s, views (augmentations + features) "
          f"{100 * tr.aug_seconds / dt:.1f} % of the step time")


if __name__ == "__main__":
    main()
