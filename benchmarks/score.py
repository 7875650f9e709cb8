"""DCASE SELD scoring: ``soundloc.metrics.seld`` vs the official scoring code, side by side.

Generates a folder of random but realistic DCASE label files (seeded): STARSS23-like reference
scenes (13 classes, events of 1-8 s, static or moving sources, up to 3 simultaneous, same class
allowed, integer degrees, distances in integer cm) and a simulated system's predictions (DOA noise,
distance noise, misses, onset/offset jitter, class confusion, false alarms) written in the
baseline's Cartesian output format ``frame,class,track,x,y,z,distance`` (metres). Then, in one
process, scores the folder as one set with both implementations -- the official
``ComputeSELDResults(params, ref_folder).get_SELD_Results(pred_folder)`` of DCASE2023 (segment-based)
and DCASE2024 (frame-wise with distance), and ``soundloc.metrics.seld.score_paths`` -- and prints
the values, their largest difference (overall and class-wise) and the speed ratio. Times include
reading the CSV files, as the official scripts do; "score only" times our scoring of labels already
in memory.

The official code is not part of soundloc. Point ``--official-2023`` / ``--official-2024`` at local
checkouts of ``sharathadavanne/seld-dcase2023`` @ 24d14c9 and
``partha2409/DCASE2024_seld_baseline`` @ 0b07887. At run time (no file is edited) numpy aliases the
old code needs are restored (``np.float``, ``np.int``, ``np.NaN``) and modules only its feature
extraction uses (IPython, cv2, the video-feature module) are replaced by empty stand-ins.

Usage:
    python benchmarks/score.py --minutes 60 --seed 0 \\
        --official-2023 /tmp/official2023 --official-2024 /tmp/official2024
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import math
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from soundloc.data.dcase import read_dcase_csv
from soundloc.metrics.seld import get_seld_scorer, score_paths

NUM_CLASSES = 13
OFFICIAL_MODULES = ("SELD_evaluation_metrics", "cls_feature_class", "cls_compute_seld_results", "parameters",
                    "cls_vid_features")


# ---------------------------------------------------------------------------
# label generation
# ---------------------------------------------------------------------------


def _scene(rng: np.random.Generator, frames: int) -> list[tuple[int, int, int, float, float, float]]:
    """Reference events as rows ``(frame, class, track, az, el, dist_m)``, at most 3 active per frame."""
    active = np.zeros(frames, dtype=int)
    rows: list[tuple[int, int, int, float, float, float]] = []
    track_of_class = np.zeros(NUM_CLASSES, dtype=int)
    for _ in range(int(frames / 10 * 0.35)):  # ~0.35 event onsets per second
        dur = int(rng.integers(10, 81))
        start = int(rng.integers(0, max(1, frames - dur)))
        end = min(frames, start + dur)
        if active[start:end].max(initial=0) >= 3:
            continue
        active[start:end] += 1
        c = int(rng.integers(NUM_CLASSES))
        track = int(track_of_class[c] % 3)
        track_of_class[c] += 1
        az0, el0 = rng.uniform(-180, 180), rng.uniform(-40, 40)
        v = rng.uniform(-30, 30) / 10 if rng.random() < 0.5 else 0.0  # degrees per frame
        d0 = rng.uniform(0.5, 5.0)
        for f in range(start, end):
            az = (az0 + v * (f - start) + 180) % 360 - 180
            rows.append((f, c, track, float(round(az)), float(round(el0)), round(d0, 2)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows


def _system(rng: np.random.Generator, ref: list[tuple[int, int, int, float, float, float]], frames: int,
            doa_noise: float) -> list[tuple[int, int, int, float, float, float]]:
    """A simulated system's output for ``ref`` (same row format, metres)."""
    by_event: dict[tuple[int, int], list[tuple[int, int, int, float, float, float]]] = {}
    for r in ref:
        by_event.setdefault((r[1], r[2]), []).append(r)
    out = []
    for (c, _), rs in by_event.items():
        if rng.random() < 0.1:  # missed event
            continue
        c_out = int(rng.integers(NUM_CLASSES)) if rng.random() < 0.05 else c
        shift = int(rng.integers(-2, 3))
        bias = rng.normal(0, doa_noise / 2, 2)
        dscale = rng.uniform(0.7, 1.3)
        for f, _, tr, az, el, d in rs:
            if rng.random() < 0.05:  # frame drop
                continue
            ff = f + shift
            if not 0 <= ff < frames:
                continue
            n = rng.normal(0, doa_noise, 2) + bias
            out.append((ff, c_out, 0, az + n[0], float(np.clip(el + n[1], -89, 89)), d * dscale * rng.uniform(0.9, 1.1)))
    for _ in range(int(frames / 10 * 0.05)):  # false alarms
        dur = int(rng.integers(5, 30))
        start = int(rng.integers(0, max(1, frames - dur)))
        c = int(rng.integers(NUM_CLASSES))
        az, el, d = rng.uniform(-180, 180), rng.uniform(-40, 40), rng.uniform(0.5, 5)
        out += [(f, c, 0, az, el, d) for f in range(start, min(frames, start + dur))]
    out.sort(key=lambda r: (r[0], r[1]))
    return out


def write_dataset(root: Path, *, minutes: float, file_seconds: float, seed: int) -> tuple[Path, Path, int]:
    """Reference folder ``root/ref/dev-test/*.csv`` and prediction folder ``root/pred/*.csv``."""
    rng = np.random.default_rng(seed)
    ref_dir, pred_dir = root / "ref" / "dev-test", root / "pred"
    ref_dir.mkdir(parents=True)
    pred_dir.mkdir()
    n_files = max(1, round(minutes * 60 / file_seconds))
    frames = int(file_seconds * 10)
    n_rows = 0
    for k in range(n_files):
        ref = _scene(rng, frames)
        if not ref:
            ref = [(frames - 1, 0, 0, 0.0, 0.0, 1.0)]
        pred = _system(rng, ref, frames, doa_noise=float(rng.uniform(3, 25)))
        name = f"fold4_room{k % 10}_mix{k:03d}.csv"
        (ref_dir / name).write_text("".join(f"{f},{c},{t},{int(a)},{int(e)},{round(d * 100)}\n"
                                            for f, c, t, a, e, d in ref))
        lines = []
        for f, c, t, a, e, d in pred:
            ar, er = math.radians(a), math.radians(e)
            lines.append(f"{f},{c},{t},{math.cos(ar) * math.cos(er):.6f},{math.sin(ar) * math.cos(er):.6f},"
                         f"{math.sin(er):.6f},{d:.3f}\n")
        (pred_dir / name).write_text("".join(lines))
        n_rows += len(ref) + len(pred)
    return ref_dir.parent, pred_dir, n_rows


# ---------------------------------------------------------------------------
# the official code, loaded in isolation
# ---------------------------------------------------------------------------


def _load_official(path: Path) -> tuple[Any, Any]:
    """``(cls_compute_seld_results, parameters)`` of the checkout at ``path``."""
    for name in OFFICIAL_MODULES:
        sys.modules.pop(name, None)
    for alias, value in (("float", float), ("int", int), ("NaN", np.nan)):
        if not hasattr(np, alias):
            setattr(np, alias, value)
    stand_ins = {"IPython": {"embed": lambda *a, **k: None, "get_ipython": lambda: None}, "cv2": {}, "cls_vid_features": {"VideoFeatures": object}}
    for name, attrs in stand_ins.items():
        if name == "cls_vid_features" or (name not in sys.modules and importlib.util.find_spec(name) is None):
            m = types.ModuleType(name)
            for a, v in attrs.items():
                setattr(m, a, v)
            sys.modules[name] = m
    sys.path.insert(0, str(path))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            compute = importlib.import_module("cls_compute_seld_results")
            params = importlib.import_module("parameters")
    finally:
        sys.path.remove(str(path))
    return compute, params


def run_official(path: Path, metric: str, average: str, ref: Path, pred: Path) -> tuple[dict[str, Any], float]:
    compute, parameters = _load_official(path)
    with contextlib.redirect_stdout(io.StringIO()):
        params = parameters.get_params()
        params["average"] = average
        params["unique_classes"] = NUM_CLASSES
        t0 = time.perf_counter()
        res = compute.ComputeSELDResults(params, ref_files_folder=str(ref)).get_SELD_Results(str(pred))
        dt = time.perf_counter() - t0
    if metric == "dcase2023":
        keys = ("ER", "F", "LE", "LR", "SELD_score")
        values, classwise = res[:5], res[5]
    else:
        keys = ("ER", "F", "DOAE", "DistE", "RDE", "LR", "SELD_score")
        values, classwise = res[:7], res[7]
    out: dict[str, Any] = {k: float(v) for k, v in zip(keys, values)}
    if len(classwise):
        out["classwise"] = {k: [float(x) for x in row] for k, row in zip(keys, np.asarray(classwise))}
    return out, dt


def _max_diff(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
    """Largest |difference| of the overall values and of the class-wise tables (NaN = None must agree)."""
    def arr(v: Any) -> np.ndarray:
        return np.array([np.nan if x is None else x for x in np.atleast_1d(v)], dtype=float)

    def diff(x: np.ndarray, y: np.ndarray) -> float:
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return math.inf
        ok = ~np.isnan(x)
        return float(np.max(np.abs(x[ok] - y[ok]), initial=0.0))

    overall = max(diff(arr(a[k]), arr(b[k])) for k in b if k != "classwise")
    cw = max((diff(arr(a["classwise"][k]), arr(b["classwise"][k])) for k in b.get("classwise", {})), default=0.0)
    return overall, cw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="total label duration (default 60)")
    ap.add_argument("--file-seconds", type=float, default=120.0, help="length of each file (default 120)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--official-2023", type=Path, help="checkout of sharathadavanne/seld-dcase2023")
    ap.add_argument("--official-2024", type=Path, help="checkout of partha2409/DCASE2024_seld_baseline")
    ap.add_argument("--repeat", type=int, default=3, help="our timings: best of N (default 3)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        ref, pred, n_rows = write_dataset(Path(tmp), minutes=args.minutes, file_seconds=args.file_seconds,
                                          seed=args.seed)
        n_files = len(list(pred.iterdir()))
        print(f"labels: {n_files} files x {args.file_seconds:g} s = {args.minutes:g} min, {n_rows} rows "
              f"(seed {args.seed}); times in seconds, including reading the CSVs")
        labels = [(read_dcase_csv(p, distance_unit="cm"), read_dcase_csv(pred / p.name, distance_unit="m"))
                  for p in sorted((ref / "dev-test").iterdir())]
        print(f"{'metric':<10} {'avg':<6} {'official':>9} {'soundloc':>9} {'speed-up':>9} {'score only':>11} "
              f"{'max |diff|':>11} {'class-wise':>11}")
        for metric, official in (("dcase2023", args.official_2023), ("dcase2024", args.official_2024)):
            for average in ("macro", "micro"):
                ours_t = math.inf
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    ours = score_paths(ref, pred, metric=metric, average=average).to_dict()
                    ours_t = min(ours_t, time.perf_counter() - t0)
                score_t = math.inf
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    sc = get_seld_scorer(metric)
                    for r, p in labels:
                        sc.update(r, p)
                    sc.result(average=average)
                    score_t = min(score_t, time.perf_counter() - t0)
                if official is None:
                    print(f"{metric:<10} {average:<6} {'-':>9} {ours_t:9.3f} {'-':>9} {score_t:11.4f} {'-':>11} {'-':>11}")
                    continue
                off, off_t = run_official(official, metric, average, ref, pred)
                d, dcw = _max_diff(ours, off)
                print(f"{metric:<10} {average:<6} {off_t:9.3f} {ours_t:9.3f} {off_t / ours_t:8.1f}x {score_t:11.4f} "
                      f"{d:11.2e} {dcw:11.2e}")
                print("  official:", ", ".join(f"{k}={v:.6g}" for k, v in off.items() if k != "classwise"))
                print("  soundloc:", ", ".join(f"{k}={v:.6g}" for k, v in ours.items() if k != "classwise"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
