"""Audio-visual metric and benchmark-generation timings.

Measures, in one process:
  * soundloc.metrics.av.ciou on batches of 224x224 heatmaps vs the peer: the official EZ-VSL
    per-sample recipe written plainly (min-max normalise, np.sort for the median threshold, sums),
    one map at a time; prints maps/s and the ratio, and checks both give the same cIoU;
  * the built-in AV benchmark: rendering the spoken-digit bank (eSpeak, first use), generating samples
    (no cache), and reading them back from the on-disk cache.

    python benchmarks/av_metrics.py [--maps 400] [--samples 300] [--voices 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from soundloc.av.synthetic import AVBenchConfig, SyntheticAVDataset, make_sample
from soundloc.metrics.av import ciou

REF = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference" / "vsl_ezvsl"


def _peer(hm: np.ndarray, gt: np.ndarray) -> float:
    v = hm.copy()
    lo, hi = v.min(), v.max()
    if hi - lo != 0:
        v = (v - lo) / (hi - lo)
    thr = np.sort(v.flatten())[int(v.size * 0.5)]
    inf = (v >= thr).astype(float)
    return float(np.sum(inf * gt) / (np.sum(gt) + np.sum(inf * (gt == 0))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=400)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--voices", type=int, default=8)
    args = ap.parse_args()

    h = np.load(REF / "heatmaps.npz")["heatmaps"]
    g = np.load(REF / "gt_maps.npz")["gt_maps"]
    reps = -(-args.maps // len(h))
    h, g = np.concatenate([h] * reps)[: args.maps], np.concatenate([g] * reps)[: args.maps]
    for batch in (1, 40):
        t = time.perf_counter()
        ours = np.concatenate([ciou(h[i : i + batch], g[i : i + batch]).ciou for i in range(0, len(h), batch)])
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        peer = np.array([_peer(a, b) for a, b in zip(h, g)])
        t_peer = time.perf_counter() - t
        print(f"cIoU, {len(h)} maps 224x224, batch {batch:3d}: soundloc {len(h) / t_ours:7.0f} maps/s | "
              f"official recipe {len(h) / t_peer:7.0f} maps/s | ratio {t_peer / t_ours:.2f}x | max |diff| {np.abs(ours - peer).max():.1e}")

    with tempfile.TemporaryDirectory() as tmp:
        cfg = AVBenchConfig(n_voices=args.voices, sizes=(args.samples, 0, 0))
        t = time.perf_counter()
        ds = SyntheticAVDataset("train", cfg, cache_dir=tmp, cache=False)
        print(f"spoken-digit bank, {args.voices} voices x 10 digits: rendered in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        for i in range(args.samples):
            make_sample(cfg, "train", i, ds.bank)
        dt = time.perf_counter() - t
        print(f"generate {args.samples} samples ({cfg.image_size} px, {cfg.duration:g} s audio): {dt:.2f} s "
              f"({1000 * dt / args.samples:.1f} ms/sample)")
        cached = SyntheticAVDataset("train", cfg, cache_dir=tmp)
        t = time.perf_counter()
        for i in range(args.samples):
            cached[i]
        print(f"first pass through the cached dataset (generate + write shards): {time.perf_counter() - t:.2f} s")
        again = SyntheticAVDataset("train", cfg, cache_dir=tmp)
        t = time.perf_counter()
        for i in range(args.samples):
            again[i]
        print(f"second pass (read shards from disk): {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
