"""FOA localization on simulated reverberant scenes, beside the tetrahedral MIC array in the same rooms.

Scenes: the rooms, array poses (random yaw), source positions, source signals (speech-shaped
noise or harmonic notes), RT60s (0.1-1.0 s) and sensor-noise levels (white, 5-30 dB SNR) of
``benchmarks/doa.py`` (its generators are reused), 1 or 2 sources, 16 kHz, 1-s clips
(0.2-1.2 s after emission starts). Each scene is rendered twice with our ``fast`` RIR backend
(exact image sources for 30 ms, diffuse tail): once as first-order ambisonics (ACN/SN3D, every
image encoded with its SH gains in the array frame, diffuse FOA tail) and once at the 4 capsules
of the ``tetra`` MIC array (4.2 cm radius), same image sources and the same signals.

Every method searches the same 4000-point sphere grid (both formats are 3-D) with the same STFT
(nfft 512, hop 256) and band (each localizer's default, 300-6000 Hz). Errors are great-circle
errors in degrees after Hungarian matching of estimates to the references (a missed reference
counts 180); acc@10 is the fraction within 10 degrees. Times are per clip, batched, one thread.

Usage:
    python benchmarks/foa.py --rooms 200 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doa import (
    CLIP_S,
    FS,
    PRE_S,
    _sample_geometry,
    _summ,
    harmonic_notes,
    speech_shaped,
)

FORMATS = ("foa", "tetra")


def simulate_scene(args: tuple[int, int]) -> dict:
    """Scene ``index`` (deterministic): ``{"foa": (4, N), "tetra": (4, N), "az", "el", "rt60"}``."""
    from soundloc.geometry import get_array, rotation_matrix
    from soundloc.scenes.mix import convolve
    from soundloc.scenes.rir import InfeasibleRoomError, compute_rirs

    index, seed = args
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, 7]))
    num_sources = 1 + index % 2
    tetra = get_array("tetra")
    while True:
        dim, centre, yaw, srcs, azs, els = _sample_geometry(rng, num_sources, tetra)
        rt60 = float(rng.uniform(0.1, 1.0))
        rir_seed = int(rng.integers(2**31 - 1))
        try:
            h_foa = compute_rirs(dim, rt60, centre[None], srcs, FS, backend="fast", seed=rir_seed,
                                 foa_rotation=rotation_matrix(yaw))
        except InfeasibleRoomError:
            continue
        h_mic = compute_rirs(dim, rt60, tetra.placed(centre, yaw_deg=yaw), srcs, FS, backend="fast", seed=rir_seed)
        break
    n_src = int((PRE_S + CLIP_S + 0.1) * FS)
    sigs = []
    for _ in range(num_sources):
        s = speech_shaped(n_src, FS, rng) if rng.random() < 0.5 else harmonic_notes(n_src, FS, rng)
        sigs.append(s / (np.std(s) + 1e-12))
    snr = rng.uniform(5, 30)
    noise = rng.standard_normal((4, int(CLIP_S * FS)))
    start = int(PRE_S * FS)
    out: dict = {"az": azs, "el": els, "rt60": rt60, "snr": float(snr)}
    for name, h in (("foa", h_foa), ("tetra", h_mic)):
        y = np.zeros((4, n_src + h.shape[-1] - 1))
        for s, hs in zip(sigs, h):
            y += convolve(s, hs)
        y = y[:, start : start + int(CLIP_S * FS)]
        # sensor noise at the same SNR relative to the omni (W) / mean mic power
        ref = np.mean(y[0] ** 2) if name == "foa" else np.mean(y**2)
        out[name] = (y + noise * np.sqrt(ref / 10 ** (snr / 10))).astype(np.float32)
    return out


def _errors(res, az: np.ndarray, el: np.ndarray) -> list[float]:
    from soundloc.metrics.doa import match_doas

    est = np.stack([res.azimuth, res.elevation], 1) if res.num_sources else np.zeros((0, 2))
    m = match_doas(est, np.stack([az, el], 1))
    return list(np.asarray(m.errors, float)) + [180.0] * int(m.misses)


def run(args: argparse.Namespace) -> dict:
    import torch

    from soundloc.doa import get_localizer, localizers_for
    from soundloc.geometry import SphereGrid, get_array

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    work = [(i, args.seed) for i in range(args.rooms)]
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            scenes = pool.map(simulate_scene, work, chunksize=4)
    else:
        scenes = [simulate_scene(w) for w in work]
    t_sim = time.perf_counter() - t0
    print(f"simulated {len(scenes)} scenes x 2 formats in {t_sim:.0f} s", file=sys.stderr)
    grid = SphereGrid(4000)
    rows: dict[str, dict] = {}
    for fmt in FORMATS:
        arr = get_array(fmt)
        for name in localizers_for(arr):
            loc = get_localizer(name, arr, FS, grid=grid, nfft=args.nfft)
            errs: dict[int, list[float]] = {1: [], 2: []}
            elapsed = 0.0
            for k in (1, 2):
                idx = [i for i, s in enumerate(scenes) if len(s["az"]) == k]
                xs = np.stack([scenes[i][fmt] for i in idx])
                loc.locate_batch(xs[:2], k)  # warm-up
                t = time.perf_counter()
                res = loc.locate_batch(xs, k)
                elapsed += time.perf_counter() - t
                for r, i in zip(res, idx):
                    errs[k] += _errors(r, scenes[i]["az"], scenes[i]["el"])
            rows[f"{fmt} {name}"] = {
                **_summ(errs[1] + errs[2]),
                "median_1src": _summ(errs[1])["median"], "acc10_1src": _summ(errs[1])["acc10"],
                "median_2src": _summ(errs[2])["median"], "acc10_2src": _summ(errs[2])["acc10"],
                "ms_per_clip": 1e3 * elapsed / len(scenes),
            }
            print(f"done {fmt} {name} at {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return {"config": vars(args), "num_scenes": len(scenes), "simulation_s": t_sim, "rows": rows}


def table(result: dict) -> str:
    lines = [
        "| format | method | median err (deg) | mean err (deg) | acc@10 | median 1-src | acc@10 1-src | median 2-src | acc@10 2-src | ms/clip |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in result["rows"].items():
        fmt, name = key.split(" ", 1)
        lines.append(
            f"| {fmt} | {name} | {r['median']:.1f} | {r['mean']:.1f} | {100 * r['acc10']:.1f} % | {r['median_1src']:.1f} | "
            f"{100 * r['acc10_1src']:.1f} % | {r['median_2src']:.1f} | {100 * r['acc10_2src']:.1f} % | {r['ms_per_clip']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rooms", type=int, default=200, help="number of simulated scenes (one room each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="simulation worker processes")
    p.add_argument("--nfft", type=int, default=512)
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.rooms < 2:
        p.error("--rooms must be >= 2")
    result = run(args)
    print(f"\n{result['num_scenes']} scenes (half 1-source, half 2-source), seed {args.seed}, 16 kHz, 1-s clips, "
          f"4000-point sphere grid\n")
    print(table(result))
    if args.out:
        tmp = Path(args.out).with_name(Path(args.out).name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float))
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
