"""Classical DOA localizers vs pyroomacoustics on simulated reverberant rooms.

Scenes: random shoebox rooms (3-10 m x 3-10 m x 2.5-4 m, RT60 0.1-1.0 s drawn uniformly and
redrawn when ``pra.inverse_sabine`` cannot reach it), pyroomacoustics' image-source method with
the reflection order capped at ``--max-order`` (default 40, to keep 200+ rooms at a few minutes;
in small, very reverberant rooms the cap shortens the tail, so the effective RT60 is lower than
drawn), white sensor noise at 5-30 dB SNR, 16 kHz, 1-s clips (0.2-1.2 s after emission starts).
Arrays alternate ``circular4`` / ``tetra`` (random yaw), with 1 or 2 sources (2 sources at least
40 degrees apart in azimuth), all >= 1 m from the array and >= 0.5 m from the walls, at heights
0.8-2.2 m (so elevations are not zero: the azimuth-only grid is slightly mismatched, as in
practice). Source signals are synthetic but speech/music-like: speech-shaped noise with a
syllabic on/off envelope, or harmonic notes with vibrato.

Every method sees the same STFT (ours, periodic Hann, nfft 512, hop 256), the same 1-degree
azimuth grid (``AzimuthGrid(360)``) and the same frequency bins. Errors are azimuth errors in
degrees after Hungarian matching of estimates to references (``soundloc.metrics.doa``).
Timings (one process, torch on 1 thread, numpy as installed) are per clip: pyroomacoustics'
``locate_sources`` on one clip's STFT; ours from the same STFT, one clip at a time
("unbatched") and for the whole batch divided by the number of clips ("batched"), and batched
from waveforms including our STFT ("batched+stft"); the two batched timings are the best of 3 runs
after a warm-up.

Usage:
    python benchmarks/doa.py --rooms 200 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

FS = 16000
CLIP_S = 1.0
PRE_S = 0.2
ARRAYS = ("circular4", "tetra")
PRA_METHODS = ("SRP", "MUSIC", "NormMUSIC", "TOPS")
COUNTERPART = {"srp-phat": "SRP", "music": "MUSIC", "normmusic": "NormMUSIC", "gcc-phat": "SRP"}


# ---------------------------------------------------------------------------
# source signals
# ---------------------------------------------------------------------------


def speech_shaped(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a long-term speech-like spectrum (flat 150-500 Hz, -9 dB/octave above, cut below 100 Hz)
    and a 2-6 Hz syllabic envelope with pauses."""
    f = np.fft.rfftfreq(n, 1 / fs)
    h = np.where(f < 500, 1.0, (np.maximum(f, 1) / 500.0) ** (-1.5)) / (1 + (100.0 / np.maximum(f, 1)) ** 4)
    s = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * h, n)
    rate = rng.uniform(2, 6)
    env_f = np.fft.rfftfreq(n, 1 / fs)
    env = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * (env_f < rate), n)
    env = np.clip(env / (np.std(env) + 1e-12) + rng.uniform(0.0, 0.8), 0.0, None)
    return s * env


def harmonic_notes(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """A sequence of harmonic notes (f0 100-500 Hz, 1/k harmonics up to 7 kHz, 5 Hz vibrato, 0.15-0.5 s each)."""
    out = np.zeros(n)
    pos = 0
    while pos < n:
        dur = int(rng.uniform(0.15, 0.5) * fs)
        m = min(dur, n - pos)
        t = np.arange(m) / fs
        f0 = rng.uniform(100, 500)
        inst = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t + rng.uniform(0, 6.3)))
        phase = 2 * np.pi * np.cumsum(inst) / fs
        k = np.arange(1, int(7000 // f0) + 1)
        note = (np.sin(k[:, None] * phase[None] + rng.uniform(0, 6.3, len(k))[:, None]) / k[:, None]).sum(0)
        env = np.minimum(1.0, np.minimum(t / 0.01, (m / fs - t) / 0.05)) * np.exp(-t * rng.uniform(0, 4))
        out[pos : pos + m] = note * np.clip(env, 0, None)
        pos += dur + int(rng.uniform(0, 0.1) * fs)
    return out


# ---------------------------------------------------------------------------
# scenes
# ---------------------------------------------------------------------------


@dataclass
class Scene:
    x: np.ndarray  # (M, N) float32
    array: str
    ref_az: np.ndarray  # (K,) degrees, array frame
    ref_el: np.ndarray  # (K,) degrees
    rt60: float
    snr_db: float
    room: tuple


def _sample_geometry(rng: np.random.Generator, num_sources: int, array):
    from soundloc.geometry import cart_to_sph_deg, rotation_matrix

    while True:
        dim = np.array([rng.uniform(3, 10), rng.uniform(3, 10), rng.uniform(2.5, 4.0)])
        centre = np.array([rng.uniform(0.5, dim[0] - 0.5), rng.uniform(0.5, dim[1] - 0.5), rng.uniform(1.0, min(2.0, dim[2] - 0.5))])
        yaw = rng.uniform(-180, 180)
        srcs, azs, els = [], [], []
        for _ in range(2000):
            p = np.array([rng.uniform(0.5, dim[0] - 0.5), rng.uniform(0.5, dim[1] - 0.5), rng.uniform(0.8, min(2.2, dim[2] - 0.5))])
            if np.linalg.norm(p - centre) < 1.0:
                continue
            local = rotation_matrix(yaw).T @ (p - centre)  # direction in the array frame
            az, el = cart_to_sph_deg(local)
            if any(min(abs(az - a) % 360, 360 - abs(az - a) % 360) < 40.0 for a in azs):
                continue
            srcs.append(p)
            azs.append(float(az))
            els.append(float(el))
            if len(srcs) == num_sources:
                return dim, centre, yaw, np.array(srcs), np.array(azs), np.array(els)
        # could not place the sources (small room): draw another room


def simulate_scene(args: tuple[int, int, int]) -> Scene:
    """Scene ``index`` of the benchmark with ``seed`` (deterministic whatever the worker)."""
    import pyroomacoustics as pra

    from soundloc.geometry import MicArray

    index, seed, max_order = args
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    array_name = ARRAYS[index % 2]
    num_sources = 1 + (index // 2) % 2
    arr = MicArray.preset(array_name)
    while True:
        dim, centre, yaw, srcs, azs, els = _sample_geometry(rng, num_sources, arr)
        rt60 = rng.uniform(0.1, 1.0)
        try:
            e_abs, order = pra.inverse_sabine(rt60, list(dim))
        except ValueError:
            continue  # RT60 unreachable in this room: redraw
        break
    room = pra.ShoeBox(list(dim), fs=FS, materials=pra.Material(e_abs), max_order=min(order, max_order))
    n_src = int((PRE_S + CLIP_S + 0.1) * FS)
    for p in srcs:
        sig = speech_shaped(n_src, FS, rng) if rng.random() < 0.5 else harmonic_notes(n_src, FS, rng)
        room.add_source(list(p), signal=sig / (np.std(sig) + 1e-12))
    room.add_microphone_array(arr.placed(centre, yaw_deg=yaw).T)
    room.simulate()
    start = int(PRE_S * FS)
    y = room.mic_array.signals[:, start : start + int(CLIP_S * FS)]
    snr = rng.uniform(5, 30)
    noise = rng.standard_normal(y.shape) * np.sqrt(np.mean(y**2) / 10 ** (snr / 10))
    return Scene((y + noise).astype(np.float32), array_name, azs, els, float(rt60), float(snr), tuple(dim))


def simulate_all(rooms: int, seed: int, max_order: int, jobs: int, cache_dir: str | None) -> list[Scene]:
    path = None
    if cache_dir:
        path = Path(cache_dir) / f"doa_scenes_n{rooms}_s{seed}_o{max_order}.npz"
        if path.exists():
            d = np.load(path, allow_pickle=False)
            meta = json.loads(str(d["meta"]))
            return [Scene(d[f"x{i}"], m["array"], np.array(m["az"]), np.array(m["el"]), m["rt60"], m["snr"], tuple(m["room"])) for i, m in enumerate(meta)]
    work = [(i, seed, max_order) for i in range(rooms)]
    if jobs > 1:
        with Pool(jobs) as pool:
            scenes = pool.map(simulate_scene, work, chunksize=4)
    else:
        scenes = [simulate_scene(w) for w in work]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = [{"array": s.array, "az": s.ref_az.tolist(), "el": s.ref_el.tolist(), "rt60": s.rt60, "snr": s.snr_db, "room": list(s.room)} for s in scenes]
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, meta=json.dumps(meta), **{f"x{i}": s.x for i, s in enumerate(scenes)})
        os.replace(tmp, path)
    return scenes


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------


def _errors(est_az: np.ndarray, ref_az: np.ndarray) -> list[float]:
    """Azimuth errors of the references after Hungarian matching; a missed reference counts 180."""
    from soundloc.metrics.doa import match_doas

    est = np.stack([np.asarray(est_az, float), np.zeros(len(est_az))], 1) if len(est_az) else np.zeros((0, 2))
    ref = np.stack([ref_az, np.zeros(len(ref_az))], 1)
    m = match_doas(est, ref)
    return list(np.asarray(m.errors, float)) + [180.0] * int(m.misses)


def _summ(errs: list[float]) -> dict:
    e = np.asarray(errs, float)
    return {"median": float(np.median(e)), "mean": float(np.mean(e)), "acc10": float(np.mean(e <= 10.0)), "n": int(len(e))}


REPEATS = 3


def _best_time(fn, *args) -> float:
    """Shortest of ``REPEATS`` wall-clock timings of ``fn(*args)`` in seconds."""
    best = float("inf")
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def run(args: argparse.Namespace) -> dict:
    import pyroomacoustics as pra
    import torch

    from soundloc.doa import get_localizer, localizers_for, stft
    from soundloc.geometry import AzimuthGrid, MicArray

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    scenes = simulate_all(args.rooms, args.seed, args.max_order, args.jobs, args.cache_dir)
    t_sim = time.perf_counter() - t0
    print(f"simulated {len(scenes)} scenes in {t_sim:.0f} s", file=sys.stderr)
    grid = AzimuthGrid(360)
    kw = {"nfft": args.nfft}
    if args.fmin is not None:
        kw["fmin"] = args.fmin
    if args.fmax is not None:
        kw["fmax"] = args.fmax
    ours = localizers_for(MicArray.preset(ARRAYS[0])) if not args.methods else args.methods
    pra_methods = [m for m in PRA_METHODS if not (args.no_tops and m == "TOPS")]
    errs: dict[str, dict[int, list[float]]] = {}
    times: dict[str, dict[str, float]] = {}
    for name in ours + [f"pra-{m}" for m in pra_methods]:
        errs[name] = {1: [], 2: []}
        times[name] = {"unbatched": 0.0, "batched": 0.0, "batched+stft": 0.0}

    for array_name in ARRAYS:
        arr = MicArray.preset(array_name)
        for k in (1, 2):
            idx = [i for i, s in enumerate(scenes) if s.array == array_name and len(s.ref_az) == k]
            if not idx:
                continue
            xs = np.stack([scenes[i].x for i in idx])  # (B, M, N)
            X = stft(xs, args.nfft, args.nfft // 2)  # (B, M, F, T) complex64
            for name in ours:
                loc = get_localizer(name, arr, FS, grid=grid, **kw)
                loc.locate_from_stft(X[:2], k)  # warm-up
                loc.locate_batch(xs[:2], k)  # warm-up (FFT plans, first-touch memory)
                res = loc.locate_from_stft(X, k)
                # batched calls take ~10-30 ms: best of REPEATS so one scheduler hiccup does not dominate
                times[name]["batched"] += _best_time(loc.locate_from_stft, X, k)
                times[name]["batched+stft"] += _best_time(loc.locate_batch, xs, k)
                t = time.perf_counter()
                for b in range(len(idx)):
                    loc.locate_from_stft(X[b : b + 1], k)
                times[name]["unbatched"] += time.perf_counter() - t
                for r, i in zip(res, idx):
                    errs[name][k] += _errors(r.azimuth, scenes[i].ref_az)
            bins = get_localizer("srp-phat", arr, FS, **kw).freq_bins  # same band for pyroomacoustics
            Xd = X.astype(np.complex128)
            for m in pra_methods:
                d = pra.doa.algorithms[m](arr.positions.T, FS, args.nfft, c=343.0, num_src=k, azimuth=grid.azimuth)
                d.locate_sources(Xd[0], num_src=k, freq_bins=bins)  # warm-up
                t = time.perf_counter()
                ests = []
                for b in range(len(idx)):
                    d.locate_sources(Xd[b], num_src=k, freq_bins=bins)
                    ests.append(np.degrees(np.asarray(d.azimuth_recon, float)))
                dt = time.perf_counter() - t
                for key in times[f"pra-{m}"]:
                    times[f"pra-{m}"][key] += dt
                for e, i in zip(ests, idx):
                    errs[f"pra-{m}"][k] += _errors(e, scenes[i].ref_az)
            print(f"done {array_name} k={k} ({len(idx)} clips) at {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    n = len(scenes)
    rows = {}
    for name in errs:
        all_e = errs[name][1] + errs[name][2]
        rows[name] = {
            **_summ(all_e),
            "acc10_1src": _summ(errs[name][1])["acc10"] if errs[name][1] else float("nan"),
            "acc10_2src": _summ(errs[name][2])["acc10"] if errs[name][2] else float("nan"),
            "median_2src": _summ(errs[name][2])["median"] if errs[name][2] else float("nan"),
            **{f"ms_{key}": 1e3 * v / n for key, v in times[name].items()},
        }
    for name in ours:
        peer = f"pra-{COUNTERPART[name]}"
        if peer in rows:
            rows[name]["speedup_batched"] = rows[peer]["ms_unbatched"] / rows[name]["ms_batched"]
            rows[name]["speedup_unbatched"] = rows[peer]["ms_unbatched"] / rows[name]["ms_unbatched"]
            rows[name]["speedup_waveform"] = rows[peer]["ms_unbatched"] / rows[name]["ms_batched+stft"]
            rows[name]["peer"] = peer
    return {"config": vars(args), "num_scenes": n, "simulation_s": t_sim, "rows": rows,
            "band_hz": [float(get_localizer("srp-phat", MicArray.preset("circular4"), FS, **kw).fmin),
                        float(get_localizer("srp-phat", MicArray.preset("circular4"), FS, **kw).fmax)]}


def table(result: dict) -> str:
    lines = [
        "| method | median err (deg) | mean err (deg) | acc@10 | acc@10 1-src | acc@10 2-src | ms/clip batched | ms/clip batched+stft | ms/clip unbatched | speed-up vs pra (batched / unbatched) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        sp = (f"{r['speedup_batched']:.1f}x / {r['speedup_unbatched']:.1f}x vs {r['peer']} "
              f"({r['speedup_waveform']:.1f}x batched from the waveform)") if "peer" in r else "-"
        b = f"{r['ms_batched']:.2f}" if not name.startswith("pra-") else "-"
        bs = f"{r['ms_batched+stft']:.2f}" if not name.startswith("pra-") else "-"
        lines.append(
            f"| {name} | {r['median']:.1f} | {r['mean']:.1f} | {100 * r['acc10']:.1f} % | {100 * r['acc10_1src']:.1f} % | "
            f"{100 * r['acc10_2src']:.1f} % | {b} | {bs} | {r['ms_unbatched']:.2f} | {sp} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rooms", type=int, default=200, help="number of simulated scenes (one room each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-order", type=int, default=40, help="cap on the image-source order")
    p.add_argument("--jobs", type=int, default=2, help="simulation worker processes")
    p.add_argument("--nfft", type=int, default=512)
    p.add_argument("--fmin", type=float, default=None, help="Hz (default: each localizer's default)")
    p.add_argument("--fmax", type=float, default=None, help="Hz (default: each localizer's default)")
    p.add_argument("--methods", nargs="*", default=None, help="our methods to run (default all)")
    p.add_argument("--no-tops", action="store_true", help="skip pyroomacoustics TOPS (slow)")
    p.add_argument("--cache-dir", default=None, help="cache the simulated scenes here (npz)")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.rooms < 1:
        p.error("--rooms must be >= 1")
    result = run(args)
    print(f"\n{result['num_scenes']} scenes, seed {args.seed}, max_order {args.max_order}, band {result['band_hz'][0]:g}-{result['band_hz'][1]:g} Hz\n")
    print(table(result))
    if args.out:
        tmp = Path(args.out).with_name(Path(args.out).name + ".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float))
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
