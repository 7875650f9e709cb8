"""RIR backends side by side: pyroomacoustics' image-source method ("ism") vs our "fast" backend.

Rooms: the MC-SimCLR distribution — width and length U[3, 10] m, height U[2.5, 4] m, RT60
U[0.1, 1.0] s, redrawn while Sabine's inversion fails (as the scene sampler does). A ``circular4``
array (10 cm diameter, horizontal) at a random position >= 0.55 m from the walls (height
1-2 m), one source >= 0.5 m from the walls and >= 0.5 m from the array centre. 16 kHz.

Per room, in the same worker process, one after the other:

* time of ``compute_rirs(..., backend=b)`` for the 4-mic, 1-source set (pyroomacoustics' C++
  core limited to 1 thread; the rooms are spread over ``--workers`` single-threaded processes);
* measured RT60 (T30, Schroeder, mean over the 4 mics, :func:`soundloc.scenes.rir.measure_rt60`)
  against the target; direct-to-reverberant ratio (DRR: energy within +-2.5 ms of the direct
  path vs the rest, mean over mics);
* a localizer check: the same 1-s source signal (white noise in even rooms, speech-shaped noise
  in odd rooms), convolved with each backend's RIRs (FFT convolution), plus the same white
  sensor noise at 30 dB SNR, localized with SRP-PHAT and NormMUSIC from :mod:`soundloc.doa`
  (default 1-degree azimuth grid, 300-4000 Hz); azimuth error against the true azimuth.

The azimuth-error distributions of the two backends are compared with summary statistics and a
two-sample Kolmogorov-Smirnov test (scipy), and per room (paired differences).

Usage:
    python benchmarks/rir.py --rooms 200 --workers 2 --seed 0 --out /tmp/rir_bench.json
    python benchmarks/rir.py --worst      # time and peak memory of the worst-case room
"""

from __future__ import annotations

import os

os.environ.setdefault("PRA_NUM_THREADS", "1")  # before pyroomacoustics is imported anywhere
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from soundloc.geometry import SPEED_OF_SOUND as C  # noqa: E402

FS = 16000
BACKENDS = ("ism", "fast", "fast-sabine")  # fast-sabine: the fast backend with Sabine walls, for reference
METHODS = ("srp-phat", "normmusic")


def draw_room(rng: np.random.Generator):
    from soundloc.geometry import MicArray
    from soundloc.scenes.acoustics import InfeasibleRoomError, sabine_absorption

    while True:
        dims = np.array([rng.uniform(3, 10), rng.uniform(3, 10), rng.uniform(2.5, 4)])
        rt60 = rng.uniform(0.1, 1.0)
        try:
            sabine_absorption(dims, rt60, C)
        except InfeasibleRoomError:
            continue
        break
    center = np.array([rng.uniform(0.55, dims[0] - 0.55), rng.uniform(0.55, dims[1] - 0.55), rng.uniform(1.0, 2.0)])
    mics = MicArray.preset("circular4").placed(center)
    while True:
        src = rng.uniform(0.5, dims - 0.5)
        if np.linalg.norm(src - center) >= 0.5:
            break
    return dims, rt60, mics, center, src


def speech_shaped(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a speech-like long-term spectrum: flat to 500 Hz, -9 dB/octave above."""
    f = np.fft.rfftfreq(n, 1 / FS)
    shape = np.where(f < 500, 1.0, (np.maximum(f, 1) / 500.0) ** -1.5) / (1 + (100.0 / np.maximum(f, 1)) ** 4)
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)


def drr_db(h: np.ndarray, dist: np.ndarray) -> float:
    """Mean over mics of the direct-to-reverberant ratio in dB (direct: +-2.5 ms around the direct path)."""
    out = []
    for m in range(h.shape[0]):
        n0 = int(round(dist[m] / C * FS)) + 40
        w = int(0.0025 * FS)
        e = h[m].astype(float) ** 2
        direct = e[max(0, n0 - w) : n0 + w + 1].sum()
        out.append(10 * np.log10(direct / max(e.sum() - direct, 1e-20)))
    return float(np.mean(out))


def run_room(args: tuple[int, int]) -> dict:
    index, seed = args
    import torch
    from scipy.signal import fftconvolve

    from soundloc.doa import get_localizer
    from soundloc.geometry import MicArray, cart_to_sph_deg
    from soundloc.metrics.doa import azimuth_error_deg
    from soundloc.scenes.rir import compute_rirs, measure_rt60
    from soundloc.scenes.rir_fast import FastRIRConfig, fast_rirs

    torch.set_num_threads(1)
    rng = np.random.default_rng([seed, index])
    dims, rt60, mics, center, src = draw_room(rng)
    n = FS  # 1 s
    x = rng.standard_normal(n) if index % 2 == 0 else speech_shaped(n, rng)
    sensor = rng.standard_normal((4, n))
    true_az = float(cart_to_sph_deg(src - center)[0])
    dist = np.linalg.norm(mics - src, axis=1)
    array = MicArray.preset("circular4")
    locs = {m: get_localizer(m, array, FS) for m in METHODS}
    rec = {"index": index, "dims": dims.tolist(), "rt60": rt60, "source_distance": float(np.linalg.norm(src - center)),
           "signal": "white" if index % 2 == 0 else "speech-shaped", "true_az": true_az}
    for b in BACKENDS:
        t0 = time.perf_counter()
        if b == "fast-sabine":
            h = fast_rirs(dims, rt60, mics, src[None], FS, seed=index, config=FastRIRConfig(absorption="sabine"))[0]
        else:
            h = compute_rirs(dims, rt60, mics, src, FS, backend=b, seed=index)[0]
        rec[f"{b}_time"] = time.perf_counter() - t0
        rec[f"{b}_length"] = int(h.shape[-1])
        try:
            rec[f"{b}_t30"] = float(np.mean(measure_rt60(h, FS, decay_db=30)))
        except ValueError:
            rec[f"{b}_t30"] = float(np.mean(measure_rt60(h, FS, decay_db=20)))
        rec[f"{b}_drr"] = drr_db(h, dist)
        y = fftconvolve(x[None, :], h, axes=-1)[:, :n]
        y = y + sensor * np.sqrt(np.mean(y**2) / 10**3)  # 30 dB SNR
        for m, loc in locs.items():
            est = loc.locate(y.astype(np.float32), num_sources=1)
            rec[f"{b}_{m}_err"] = float(azimuth_error_deg(est.azimuth[0], true_az))
        del h
    return rec


def worst_case(backend: str) -> tuple[float, float]:
    """Time (s) and peak RSS (MB) of one fresh process computing the worst room of the
    distribution (3 x 3 x 2.5 m, RT60 1 s: the highest image order) for ``backend``."""
    import resource

    from soundloc.geometry import MicArray
    from soundloc.scenes.rir import compute_rirs

    mics = MicArray.preset("circular4").placed([1.5, 1.5, 1.2])
    t0 = time.perf_counter()
    compute_rirs([3.0, 3.0, 2.5], 1.0, mics, [[2.3, 0.8, 1.6]], FS, backend=backend)
    return time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stats(v: np.ndarray) -> dict:
    return {"median": float(np.median(v)), "mean": float(np.mean(v)), "max": float(np.max(v))}


def summarize(recs: list[dict]) -> str:
    from scipy.stats import ks_2samp

    rt = np.array([r["rt60"] for r in recs])
    lines = []
    t = {b: np.array([r[f"{b}_time"] for r in recs]) * 1e3 for b in BACKENDS}
    lines.append(f"rooms: {len(recs)}\n")
    lines.append("| time per 4-mic 1-source RIR set (ms) | median | mean | max |")
    lines.append("| --- | --- | --- | --- |")
    for b in BACKENDS:
        s = _stats(t[b])
        lines.append(f"| {b} | {s['median']:.1f} | {s['mean']:.1f} | {s['max']:.1f} |")
    ratio = t["ism"] / t["fast"]
    lines.append(f"| ratio ism / fast (per room) | {np.median(ratio):.1f}x | {np.mean(t['ism']) / np.mean(t['fast']):.1f}x (of means) | - |")
    lines.append("")
    lines.append("| measured T30 vs target RT60 | median abs rel. error | within 10 % | median measured/target, RT60 < 0.4 / 0.4-0.7 / >= 0.7 s | median DRR (dB) |")
    lines.append("| --- | --- | --- | --- | --- |")
    bins = [(0.0, 0.4), (0.4, 0.7), (0.7, 9.0)]
    for b in BACKENDS:
        m = np.array([r[f"{b}_t30"] for r in recs])
        rel = m / rt - 1
        by_bin = " / ".join(f"{np.median((m / rt)[(rt >= lo) & (rt < hi)]):.2f}" for lo, hi in bins)
        drr = np.median([r[f"{b}_drr"] for r in recs])
        lines.append(f"| {b} | {np.median(np.abs(rel)) * 100:.1f} % | {np.mean(np.abs(rel) <= 0.1) * 100:.0f} % | {by_bin} | {drr:.1f} |")
    for b in BACKENDS[1:]:
        d_drr = np.array([r[f"{b}_drr"] - r["ism_drr"] for r in recs])
        lines.append(f"\nDRR {b} - ism per room: median {np.median(d_drr):+.2f} dB, 10-90 % [{np.percentile(d_drr, 10):+.2f}, {np.percentile(d_drr, 90):+.2f}] dB")
    lines.append("")
    lines.append("| azimuth error (deg) | backend | median | mean | 90th pct | <= 10 deg | KS p-value vs ism | paired median abs diff vs ism |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for m in METHODS:
        e = {b: np.array([r[f"{b}_{m}_err"] for r in recs]) for b in BACKENDS}
        for b in BACKENDS:
            p = f"{ks_2samp(e['ism'], e[b]).pvalue:.2f}" if b != "ism" else "-"
            paired = f"{np.median(np.abs(e['ism'] - e[b])):.1f}" if b != "ism" else "-"
            lines.append(
                f"| {m} | {b} | {np.median(e[b]):.1f} | {np.mean(e[b]):.1f} | {np.percentile(e[b], 90):.1f} | "
                f"{np.mean(e[b] <= 10) * 100:.0f} % | {p} | {paired} |"
            )
    for m in METHODS:
        parts = []
        for lo, hi in bins:
            sel = (rt >= lo) & (rt < hi)
            parts.append(f"RT60 [{lo:g}, {hi if hi < 9 else 1.0:g}): n={sel.sum()}, " + ", ".join(
                f"{b} {np.mean([r[f'{b}_{m}_err'] for r, s in zip(recs, sel) if s]):.1f}" for b in BACKENDS))
        lines.append(f"\n{m} mean error by RT60: " + "; ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="write per-room results as JSON (atomically)")
    ap.add_argument("--worst", action="store_true", help="only time the worst-case room, one fresh process per backend")
    a = ap.parse_args(argv)
    if a.worst:
        print("| worst room 3x3x2.5 m, RT60 1 s, 4 mics | time (s) | peak RSS of the process (MB) |")
        print("| --- | --- | --- |")
        for b in ("fast", "ism"):
            with mp.get_context("spawn").Pool(1) as pool:
                t, rss = pool.apply(worst_case, (b,))
            print(f"| {b} | {t:.2f} | {rss:.0f} |")
        return 0
    tasks = [(i, a.seed) for i in range(a.rooms)]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(a.workers, maxtasksperchild=20) as pool:
        recs = []
        for k, r in enumerate(pool.imap_unordered(run_room, tasks)):
            recs.append(r)
            if (k + 1) % 20 == 0:
                print(f"  {k + 1}/{a.rooms} rooms, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    recs.sort(key=lambda r: r["index"])
    print(f"command: python benchmarks/rir.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"wall time {time.perf_counter() - t0:.0f} s with {a.workers} workers\n")
    print(summarize(recs))
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=a.out.parent, suffix=".tmp", delete=False) as f:
            json.dump(recs, f, indent=1)
        os.replace(f.name, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
