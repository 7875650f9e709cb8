"""Training throughput (clips per second) of the soundloc trainer on three data paths, side by side.

One process, the default CRNN with the multi-ACCDOA head, batches of ``--batch`` clips of the
``tiny`` scene preset (2-s 4-channel 16 kHz ``circular4`` audio, ``mic`` features with the
``mcsimclr`` preset), ChannelSwap + SpecAugment on. Rows (each timed over ``--steps`` optimizer
steps after one warm-up step):

* ``precomputed``: features computed once and kept in memory; a step is model forward/backward
  + AdamW only (the peer pipeline's cost: DCASE baselines precompute features to disk);
* ``on-the-fly features``: waveforms in memory, features (and waveform ChannelSwap) computed in
  every step on the training device (:meth:`soundloc.train.Trainer.train_step`);
* ``on-the-fly simulation``: every clip freshly simulated (:class:`soundloc.train.SimulationSource`,
  in this process; ``--workers`` spawns simulation workers).

Ratios are relative to ``precomputed`` (the issue's target: on-the-fly paths within 1.3x).

Usage:
    PYTHONPATH=src python benchmarks/train.py --batch 8 --steps 5
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from soundloc.scenes import get_preset
from soundloc.train import SimulationSource, TrainConfig, Trainer, build_for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    scenes = get_preset("tiny").replace(num_clips=100000)
    src = SimulationSource(scenes, 0)
    cfg = TrainConfig(batch_size=a.batch, clip_seconds=scenes.duration, epochs=1, steps_per_epoch=a.steps + 1,
                      num_workers=a.workers)
    model = build_for(cfg, scenes.array.resolve(), scenes.fs, src.class_names)
    n = a.steps + 1
    with tempfile.TemporaryDirectory() as run:
        tr = Trainer(cfg, model, run, source=src, device=a.device, progress=False)
        t0 = time.perf_counter()
        batches = list(src.batches(0, batch_size=a.batch, steps=n, num_workers=a.workers))
        sim_s = time.perf_counter() - t0
        print(f"{a.batch * n} clips simulated in {sim_s:.2f} s ({a.batch * n / sim_s:.1f} clips/s, workers={a.workers})")

        def run_steps(step) -> float:  # seconds per step after one warm-up
            step(0)
            t = time.perf_counter()
            for i in range(1, n):
                step(i)
            return (time.perf_counter() - t) / a.steps

        feats = [tr.prepare(b, train=True) for b in batches]

        def precomputed(i: int) -> None:
            tr.net.train()
            f, t = feats[i]
            tr.optimizer.zero_grad()
            tr.loss(f, t).backward()
            tr.optimizer.step()

        pre = run_steps(precomputed)
        fly = run_steps(lambda i: tr.train_step(batches[i]))
        sim = fly + sim_s / n  # simulation in the loop (no workers overlap it)
        rows = [("precomputed features", pre), ("on-the-fly features", fly), ("on-the-fly simulation (serial)", sim)]
        print(f"CRNN {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params, batch {a.batch} x {scenes.duration:g} s, "
              f"{a.threads} threads, device {a.device}")
        print(f"{'path':34s} {'s/step':>8s} {'clips/s':>8s} {'x precomputed':>14s}")
        for name, s in rows:
            print(f"{name:34s} {s:8.3f} {a.batch / s:8.1f} {s / pre:14.2f}")


if __name__ == "__main__":
    main()
