"""Calibrate the localizers' confidence on diffuse noise, then measure false alarms and detections.

Two steps, on different seeds (nothing reported is measured on the windows it was calibrated on):

``--calibrate`` (seed ``--calib-seed``, default 1; ``--methods`` / ``--arrays`` recalibrate some
methods / arrays and merge them into the existing table, e.g. GCC-PHAT with more windows: its null
has a longer tail; the other entries stay as they are): for every method, every array preset and both
grid kinds (``2d``: the azimuth circle, or the front half circle of a linear array as
``--grid auto`` picks it; ``3d``: ``default_grid(array, 3)``), ``--windows`` windows of spherically
diffuse pink noise (``soundloc.scenes.mix.diffuse_noise``, 16 kHz, 4 s) are localized at window
lengths of 0.1-4 s (the first T STFT frames of each window, nfft 512, hop 256, default band).
Quantiles of the log of the statistic (``peak / median`` of the raw spectrum; the peak value for
GCC-PHAT, see ``soundloc.doa.confidence``) are written per (method, array, grid
kind, frames) to ``src/soundloc/doa/confidence_calibration.json`` (``--table``), plus the
conservative ``*`` null (largest quantile over the presets) for other arrays. First-order
ambisonics (``--arrays foa``, included by default) gets its own entries ``foa/2d`` and ``foa/3d``
(``--grid auto`` uses the sphere) for the methods that run on it (SRP-PHAT, MUSIC, NormMUSIC,
``iv``), calibrated on diffuse FOA noise (``soundloc.scenes.mix.diffuse_foa_noise``: uncorrelated
ACN/SN3D channels with energies 1, 1/3, 1/3, 1/3); it never enters the ``*`` null. FOA windows
are drawn at each window length (not cut from 4-s windows): the generator normalises every
channel over the window it makes, and the channels' ratios are what FOA localizers read, so a
1-s window drawn as such carries a random per-channel gain of a few percent (pink noise's
variance over 1 s is dominated by a few low-frequency components) that a prefix of a 4-s window
does not. A table of 4-s prefixes gave 6-12 % false alarms on 1-s windows drawn as such
(nominal 3 %); drawn per length, the null also covers small channel mismatches of real FOA mics.

``--evaluate`` (seed ``--eval-seed``, default 2): with the shipped table and the default
thresholds (the code path of ``soundloc localize``), on ``--eval-windows`` windows of
``--window-length`` seconds per array (``--eval-arrays``, default circular4, tetra and foa; every
method that runs on the array):

* noise only: diffuse pink noise -> false-alarm rate (a window deciding "source");
* one active source: a reverberant room (``scenes`` room sampler, RT60 0.2-0.8 s, fast RIR
  backend), the array and a source 1-3 m away at up to +-30 degrees elevation, the loudest
  part of a built-in clip (``--classes``: the demo's broadband classes by default, or ``all``),
  plus diffuse pink noise at SNR 0, 5, 10, 15, 20 dB (power averaged over all channels; for
  FOA the source is encoded by the fast RIR backend, ``foa_rotation`` = identity, with diffuse FOA
  noise: a plane wave and diffuse noise both put half the W power in the mean channel power,
  so this is also the SNR on W) (the same scenes at every SNR) ->
  detection rate, and the median error of the detected top estimates at 10 dB (azimuth error
  on azimuth-only grids, which cannot see the elevation; great-circle error on the sphere).

Usage:
    python benchmarks/confidence.py --calibrate                  # rewrites the table (minutes)
    python benchmarks/confidence.py --calibrate --arrays foa     # only the FOA entries, merged
    python benchmarks/confidence.py --evaluate [--classes all] [--window-length 0.5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

FS = 16000
NFFT = 512
HOP = 256
WINDOW_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
SNRS = (0.0, 5.0, 10.0, 15.0, 20.0)


def frames_of(seconds: float) -> int:
    n = int(round(seconds * FS))
    return 1 + max(0, n - NFFT) // HOP


def grids(array: Any) -> dict[str, Any]:
    """The grid of each kind: ``2d`` as ``--grid auto`` picks it on a planar array, ``3d`` the sphere."""
    from soundloc.geometry import AzimuthArcGrid, default_grid

    linear = getattr(array, "is_linear", False) and array.is_planar  # FoaFormat: not linear, not planar
    g2 = AzimuthArcGrid.half_plane(array, 1.0) if linear else default_grid(array, 2)
    return {"2d": g2, "3d": default_grid(array, 3)}


def null_noise(rng: np.random.Generator, array: Any, n: int) -> np.ndarray:
    """One ``(M, n)`` window of spherically diffuse pink noise at ``array``: at its mics
    (``diffuse_noise``), or encoded in ACN/SN3D for the coincident FOA format (``diffuse_foa_noise``)."""
    from soundloc.scenes.mix import diffuse_foa_noise, diffuse_noise

    if array.is_coincident:
        return diffuse_foa_noise(rng, n, FS, "pink")
    return diffuse_noise(rng, array.positions, n, FS, "pink")


def table_key(name: str, array: Any) -> str:
    """The table's array key: the preset name, or the format's kind (``"foa"``) for a coincident
    array (``soundloc.doa.confidence.null_table`` looks FOA up by kind, whatever its name)."""
    return str(array.kind) if array.is_coincident else name


def calibrate(args: argparse.Namespace) -> None:
    import torch

    from soundloc.doa import LOCALIZERS, get_localizer, localizers_for, stft
    from soundloc.doa.confidence import QUANTILE_LEVELS, null_quantiles, peak_statistic, statistic_for
    from soundloc.fileio import write_json_atomic
    from soundloc.geometry import PRESETS, get_array

    frames = [frames_of(s) for s in WINDOW_SECONDS]
    n = int(WINDOW_SECONDS[-1] * FS)
    methods = args.methods.split(",") if args.methods else list(LOCALIZERS)
    names = args.arrays.split(",") if args.arrays else [*PRESETS, "foa"]
    tables: dict[str, dict[str, list[list[float]]]] = {m: {} for m in methods}
    calibrated: dict[str, set[str]] = {"mic": set(), "foa": set()}  # methods calibrated per array family
    chunk = 50
    for name in names:
        t0 = time.perf_counter()
        array = get_array(name)
        key_name = table_key(name, array)
        usable = [m for m in methods if m in localizers_for(array)]
        locs = {(m, k): get_localizer(m, array, FS, grid=g, nfft=NFFT, hop=HOP, batch_size=chunk)
                for k, g in grids(array).items() for m in usable}
        ratios: dict[tuple[str, str], list[list[float]]] = {key: [[] for _ in frames] for key in locs}
        rng = np.random.default_rng([args.calib_seed, sum(map(ord, name))])
        for c0 in range(0, args.windows, chunk):
            b = min(chunk, args.windows - c0)
            if array.is_coincident:  # windows of each length drawn as such (see fresh_windows)
                Xs = [torch.as_tensor(stft(np.stack([null_noise(rng, array, int(round(sec * FS))) for _ in range(b)])
                                           .astype(np.float32), NFFT, HOP)) for sec in WINDOW_SECONDS]
            else:  # the first T frames of 4-s windows
                x = np.stack([null_noise(rng, array, n) for _ in range(b)]).astype(np.float32)
                X = torch.as_tensor(stft(x, NFFT, HOP))  # (B, M, F, T)
                Xs = [X[..., :t] for t in frames]
            for key, loc in locs.items():
                for j, Xj in enumerate(Xs):
                    s, _ = loc._analyse(loc._select_band(Xj), 1)
                    s = s.double().numpy()
                    ratios[key][j].extend(peak_statistic(s, s.argmax(axis=1)[:, None], statistic_for(key[0]))[:, 0].tolist())
        for (m, k), per_t in ratios.items():
            bad = sum(int(not np.isfinite(v)) for r in per_t for v in r)
            if bad:  # a null statistic must stay finite on noise (e.g. a zero median): choose another one
                raise SystemExit(f"{m} on {name}/{k}: {bad} non-finite null statistics; see STATISTICS in confidence.py")
            tables[m][f"{key_name}/{k}"] = [null_quantiles(np.asarray(r)) for r in per_t]
        for m in usable:
            calibrated["foa" if array.is_coincident else "mic"].add(m)
        print(f"calibrated {name}: {args.windows} windows x {len(frames)} lengths x {len(locs)} (method, grid) "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
    old: dict[str, Any] = {}
    if (args.methods or args.arrays) and Path(args.table).is_file():  # update those entries in the existing table
        old = json.loads(Path(args.table).read_text())
        if old.get("frames") != frames:
            raise SystemExit("the existing table has other window lengths; recalibrate everything")
    merged = {m: dict(v) for m, v in old.get("tables", {}).items()}
    for m, per_key in tables.items():
        merged.setdefault(m, {}).update(per_key)
    for m in calibrated["mic"]:  # the conservative null of other mic arrays: the largest over the presets
        per_key = merged[m]
        for k in ("2d", "3d"):
            qs = np.array([v for key, v in per_key.items() if key in {f"{p}/{k}" for p in PRESETS}])  # (arrays, T, Q)
            per_key[f"*/{k}"] = np.round(qs.max(axis=0), 6).tolist()
    windows = dict(old.get("windows", {}))
    windows.update({m: args.windows for m in calibrated["mic"]})
    seeds = dict(old.get("seed", {}))
    seeds.update({m: args.calib_seed for m in calibrated["mic"]})
    foa_meta = dict(old.get("foa", {}))
    foa_meta["noise"] = "spherically diffuse pink noise encoded in ACN/SN3D (soundloc.scenes.mix.diffuse_foa_noise)"
    foa_meta["windows"] = {**foa_meta.get("windows", {}), **{m: args.windows for m in calibrated["foa"]}}
    foa_meta["seed"] = {**foa_meta.get("seed", {}), **{m: args.calib_seed for m in calibrated["foa"]}}
    out = {
        "format": 1,
        "statistic": {m: statistic_for(m) for m in LOCALIZERS},
        "about": "quantiles of log(statistic) of the strongest peak of the raw spatial spectrum under the null; "
                 "confidence = the empirical CDF",
        "noise": "spherically diffuse pink noise (soundloc.scenes.mix.diffuse_noise)",
        "fs": FS, "nfft": NFFT, "hop": HOP, "windows": windows, "seed": seeds,
        "foa": foa_meta,
        "window_seconds": list(WINDOW_SECONDS), "frames": frames,
        "levels": [round(float(v), 6) for v in QUANTILE_LEVELS],
        "tables": merged,
    }
    write_json_atomic(args.table, out, indent=None)
    print(f"wrote {args.table} ({Path(args.table).stat().st_size / 1024:.0f} KiB)")


def source_scenes(array: Any, n: int, count: int, rng: np.random.Generator, classes: list[str] | None) -> list[Any]:
    """``count`` reverberant one-source windows: (image (M, n), noise (M, n), true (az, el) degrees).

    For the FOA format the fast RIR backend encodes every image source in ACN/SN3D at the array
    centre (``foa_rotation``: the identity, so the array frame is the room frame) and the noise
    is diffuse FOA noise."""
    from soundloc.corpus import builtin_corpus
    from soundloc.scenes.config import PlacementConfig, RoomConfig
    from soundloc.scenes.demo import loudest_segment
    from soundloc.scenes.mix import convolve
    from soundloc.scenes.rir import InfeasibleRoomError, compute_rirs
    from soundloc.scenes.sample import inside, sample_point, sample_room

    corpus = builtin_corpus()
    clips = [c for c in corpus.clips if classes is None or c.label in classes]
    room_cfg = RoomConfig(width=(4.0, 9.0), length=(4.0, 9.0), height=(2.6, 3.5), rt60=(0.2, 0.8))
    array_place = PlacementConfig(height=(1.0, 2.0), wall_clearance=0.5, min_separation=1.0)
    source_place = PlacementConfig(height=(0.3, 3.5), wall_clearance=0.3, min_separation=1.0)
    out = []
    while len(out) < count:
        room = sample_room(rng, room_cfg)
        centre = sample_point(rng, room.dims, array_place)
        assert centre is not None
        az, el, d = rng.uniform(-180, 180), rng.uniform(-30, 30), rng.uniform(1.0, 3.0)
        u = np.array([np.cos(np.radians(el)) * np.cos(np.radians(az)), np.cos(np.radians(el)) * np.sin(np.radians(az)),
                      np.sin(np.radians(el))])
        src = centre + d * u
        if not inside(src[None], room.dims, source_place)[0]:
            continue
        seed = int(rng.integers(2**31))
        try:
            if array.is_coincident:
                h = compute_rirs(room.dims, room.rt60, centre[None], src[None], FS, backend="fast", seed=seed,
                                 foa_rotation=np.eye(3))[0]
            else:
                h = compute_rirs(room.dims, room.rt60, array.placed(centre.tolist()), src[None], FS, backend="fast",
                                 seed=seed)[0]
        except InfeasibleRoomError:
            continue
        clip = clips[int(rng.integers(len(clips)))]
        dry = loudest_segment(np.asarray(corpus.load(clip, FS), dtype=np.float64), n + h.shape[-1])
        img = convolve(dry, h)[:, h.shape[-1] : h.shape[-1] + n]  # steady state: the room is excited
        noise = null_noise(rng, array, n)
        out.append((img, noise, (az, el)))
    return out


def evaluate(args: argparse.Namespace) -> None:
    from soundloc.doa import get_localizer, localizers_for
    from soundloc.doa.batch import resolve_grid
    from soundloc.doa.confidence import DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_LEVEL_DBFS
    from soundloc.geometry import get_array
    from soundloc.metrics.doa import angular_error_deg, azimuth_error_deg
    from soundloc.scenes.demo import DEMO_CLASSES
    from soundloc.scenes.mix import noise_gain

    classes = None if args.classes == "all" else (list(DEMO_CLASSES) if args.classes is None else args.classes.split(","))
    n = int(round(args.window_length * FS))
    print(f"window {args.window_length:g} s, eval seed {args.eval_seed}, {args.eval_windows} noise + {args.eval_windows} "
          f"source windows per array, classes: {'all' if classes is None else ','.join(classes)}; "
          f"thresholds: confidence >= {DEFAULT_MIN_CONFIDENCE}, level >= {DEFAULT_MIN_LEVEL_DBFS} dBFS")
    print(f"{'array':10s} {'method':10s} {'FA noise':>8s} " + " ".join(f"{f'det {s:g}dB':>9s}" for s in SNRS)
          + "  median error of detected top estimates at 10 dB (azimuth on 2-D grids, great circle on 3-D)")
    for name in args.eval_arrays.split(","):
        array = get_array(name)
        rng = np.random.default_rng([args.eval_seed, sum(map(ord, name))])
        noise = np.stack([null_noise(rng, array, n) for _ in range(args.eval_windows)])
        noise = (noise * 10 ** (-30 / 20)).astype(np.float32)  # -30 dBFS: well above the energy gate
        scenes = source_scenes(array, n, args.eval_windows, rng, classes)
        mixes = {snr: np.stack([img + noise_gain(img, nz, snr) * nz for img, nz, _ in scenes]) for snr in SNRS}
        for snr, x in mixes.items():  # the same level for every window: -20 dBFS
            x *= 10 ** (-20 / 20) / np.sqrt(np.mean(x**2, axis=(1, 2), keepdims=True))
        truth = np.array([t for _, _, t in scenes])
        grid = resolve_grid("auto", array)
        for m in localizers_for(array):
            loc = get_localizer(m, array, FS, grid=grid)
            fa = np.mean([r.window_decision == "source" for r in loc.locate_batch(noise)])
            det, err = [], float("nan")
            for snr, x in mixes.items():
                res = loc.locate_batch(x.astype(np.float32))
                hit = np.array([r.window_decision == "source" for r in res])
                det.append(hit.mean())
                if snr == 10.0 and hit.any():
                    est_az = np.array([r.azimuth[0] for r in res])
                    if grid.is_azimuth_only:  # the circle cannot say the elevation: azimuth error
                        e = azimuth_error_deg(est_az, truth[:, 0])
                    else:
                        e = angular_error_deg(est_az, np.array([r.elevation[0] for r in res]), truth[:, 0], truth[:, 1])
                    err = float(np.median(e[hit]))
            print(f"{name:10s} {m:10s} {fa:8.3f} " + " ".join(f"{d:9.2f}" for d in det) + f"  {err:6.1f} deg", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calibrate", action="store_true", help="rebuild the calibration table")
    ap.add_argument("--evaluate", action="store_true", help="false alarms / detections with the shipped table")
    ap.add_argument("--windows", type=int, default=400, help="noise windows per array for the calibration")
    ap.add_argument("--arrays", default=None, help="presets (or foa) to calibrate, merged into the existing table "
                    "(default: all presets and foa)")
    ap.add_argument("--methods", default=None, help="recalibrate only these methods in the existing table (default: all)")
    ap.add_argument("--calib-seed", type=int, default=1)
    ap.add_argument("--eval-seed", type=int, default=2)
    ap.add_argument("--eval-windows", type=int, default=200)
    ap.add_argument("--eval-arrays", default="circular4,tetra,foa")
    ap.add_argument("--window-length", type=float, default=1.0)
    ap.add_argument("--classes", default=None, help="'all' or a comma-separated list (default: the demo's broadband classes)")
    ap.add_argument("--table", default=str(Path(__file__).resolve().parents[1] / "src/soundloc/doa/confidence_calibration.json"))
    args = ap.parse_args()
    if not (args.calibrate or args.evaluate):
        ap.error("give --calibrate and/or --evaluate")
    if args.calibrate:
        calibrate(args)
    if args.evaluate:
        evaluate(args)


if __name__ == "__main__":
    main()
