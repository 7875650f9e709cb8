"""Learned SELD models against the classical localizers on the same polyphonic clips.

For every 100 ms label frame of every clip of a split with N >= 1 active events:

* **classical** (SRP-PHAT, MUSIC, NormMUSIC, GCC-PHAT or ``iv`` -- whatever suits the array): one
  window of ``--context`` seconds centred on the frame, the N strongest peaks (the number of
  sources is given to them: an oracle the learned models do not get), no confidence gate;
* **learned, oracle N** (each ``--model NAME=RUN``): the same protocol as the classical methods --
  the N strongest ACCDOA vectors of the frame (over classes and tracks, by activity = vector
  norm), each at least 20 degrees from the stronger ones, classes ignored;
* **learned, own detections**: the model's decoded detections in that frame (any number, its own
  activity threshold 0.5, classes ignored), so recall and precision are the model's own;

then a one-to-one Hungarian match of estimates to the reference directions
(:func:`soundloc.metrics.doa.match_doas`) and the angular error of each matched pair
(azimuth only for planar arrays, whose elevation is ambiguous). Printed per method: mean /
median error over matched pairs, the share of reference events matched (recall: 100 % for the
oracle-N rows by construction), the share of estimates matched (precision) and the mean error on frames with one source and with two or
more. The DCASE class-aware scores of the models come from ``soundloc evaluate RUN DATA``.

    PYTHONPATH=src python benchmarks/seld_vs_classical.py DATA --model crnn=RUN [--split test]
        [--methods srp-phat,normmusic] [--context 0.5] [--max-clips 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundloc.ambisonics import FoaFormat
from soundloc.data.dataset import SeldDataset
from soundloc.dataformat import LABEL_HOP_S, DcaseLabels
from soundloc.doa import get_localizer, localizers_for
from soundloc.doa.batch import resolve_grid
from soundloc.geometry import cart_to_sph
from soundloc.metrics.doa import match_doas
from soundloc.models import load_model
from soundloc.models.decode import concat_labels


def frame_doas(labels: DcaseLabels, frames: int) -> list[np.ndarray]:
    """``(K_t, 2)`` [azimuth, elevation] rows of each label frame ``t < frames``."""
    out: list[list[tuple[float, float]]] = [[] for _ in range(frames)]
    for f, az, el in zip(labels.frame, labels.azimuth, labels.elevation):
        if 0 <= int(f) < frames:
            out[int(f)].append((float(az), float(el)))
    return [np.asarray(r, dtype=float).reshape(-1, 2) for r in out]


class Tally:
    """Matched-pair errors and reference counts, overall and by polyphony."""

    def __init__(self) -> None:
        self.errors: list[float] = []
        self.by_poly: dict[str, list[float]] = {"1": [], "2+": []}
        self.refs = 0
        self.matched = 0
        self.estimates = 0

    def add(self, est: np.ndarray, ref: np.ndarray, azimuth_only: bool) -> None:
        m = match_doas(est, ref, azimuth_only=azimuth_only)
        self.refs += len(ref)
        self.estimates += len(est)
        self.matched += m.num_matched
        self.errors.extend(m.errors.tolist())
        self.by_poly["1" if len(ref) == 1 else "2+"].extend(m.errors.tolist())

    def row(self) -> dict[str, Any]:
        e = np.asarray(self.errors)

        def mean(v: list[float]) -> float | None:
            return round(float(np.mean(v)), 2) if v else None

        return {"mean_error_deg": mean(self.errors), "median_error_deg": round(float(np.median(e)), 2) if e.size else None,
                "recall": round(self.matched / max(self.refs, 1), 4),
                "precision": round(self.matched / self.estimates, 4) if self.estimates else None, "mean_error_1src": mean(self.by_poly["1"]),
                "mean_error_2plus": mean(self.by_poly["2+"]), "references": self.refs, "estimates": self.estimates}


def classical(ds: SeldDataset, method: str, clips: list[int], context: float, azimuth_only: bool, device: str) -> Tally:
    array = ds.array
    loc = get_localizer(method, array, ds.fs, grid=resolve_grid("auto", array), min_confidence=0.0,
                        min_level_dbfs=-float("inf"), device=device)
    half = int(round(context * ds.fs / 2))
    tally = Tally()
    for i in clips:
        x = ds.read_waveform(i)
        n = x.shape[1]
        frames = int(round(n / ds.fs / LABEL_HOP_S))
        refs = frame_doas(ds.labels[i], frames)
        active = [t for t in range(frames) if len(refs[t])]
        if not active:
            continue
        xp = np.pad(x, ((0, 0), (half, half)))
        centres = [int(round((t + 0.5) * LABEL_HOP_S * ds.fs)) for t in active]
        wins = np.stack([xp[:, c:c + 2 * half] for c in centres])  # centre c in x is c + half in xp
        results = loc.locate_batch(wins, 3, min_separation_deg=20.0)
        for t, r in zip(active, results):
            k = len(refs[t])
            est = np.stack([r.azimuth[:k], r.elevation[:k]], axis=1)
            tally.add(est, refs[t], azimuth_only)
    return tally


def strongest(vectors: np.ndarray, k: int, min_separation_deg: float = 20.0) -> np.ndarray:
    """``(<=k, 2)`` [azimuth, elevation] of the ``k`` longest of ``vectors`` ``(V, 3)``, greedily, each at
    least ``min_separation_deg`` from the ones already taken."""
    norms = np.linalg.norm(vectors, axis=1)
    units = vectors / np.maximum(norms[:, None], 1e-12)
    taken: list[int] = []
    for i in np.argsort(-norms):
        if len(taken) == k:
            break
        if all(np.degrees(np.arccos(np.clip(units[i] @ units[j], -1, 1))) >= min_separation_deg for j in taken):
            taken.append(int(i))
    az, el, _ = cart_to_sph(units[taken])
    return np.degrees(np.stack([az, el], axis=1)).reshape(-1, 2)


@torch.no_grad()
def model_frames(model: Any, x: np.ndarray, device: str, window_seconds: float = 5.0) -> tuple[np.ndarray, DcaseLabels]:
    """One pass of the model over the clip ``x`` ``(M, N)`` in windows of ``window_seconds`` (the last
    zero-padded, as :func:`soundloc.train.predict.predict_split` cuts them): the ``(T, V, 3)`` ACCDOA
    vectors of every (track, class) per label frame, and the model's own decoded detections."""
    spec = model.config.input
    feats = spec.feature_module().to(device)
    n_win = int(round(window_seconds * spec.fs))
    frames = int(round(x.shape[1] / spec.fs / LABEL_HOP_S))
    parts, labels = [], []
    for s0 in range(0, x.shape[1], n_win):
        w = np.zeros((x.shape[0], n_win), dtype=np.float32)
        seg = x[:, s0:s0 + n_win]
        w[:, :seg.shape[1]] = seg
        out = model(feats(torch.from_numpy(w)[None].to(device))).float()
        labels.extend(model.decode(out, frame_offset=int(round(s0 / spec.fs / LABEL_HOP_S))))
        o = out.cpu().numpy()[0]
        if o.ndim == 3:  # accdoa (T, 3, C): one track
            o = o[:, None]
        t, tracks, _, c = o.shape
        parts.append(o[:, :, :3, :].transpose(0, 1, 3, 2).reshape(t, tracks * c, 3))
    return np.concatenate(parts)[:frames], concat_labels(labels)


def learned(ds: SeldDataset, run: str, clips: list[int], azimuth_only: bool, device: str) -> tuple[Tally, Tally]:
    """``(oracle-N tally, own-detections tally)`` of the model in ``run``."""
    model = load_model(Path(run) / "best" if Path(run).is_dir() else run, device=device)
    oracle, own = Tally(), Tally()
    for i in clips:
        x = ds.read_waveform(i)
        frames = int(round(x.shape[1] / ds.fs / LABEL_HOP_S))
        refs = frame_doas(ds.labels[i], frames)
        vec, detections = model_frames(model, x, device)
        ests = frame_doas(detections, frames)
        for t in range(min(frames, len(vec))):
            if len(refs[t]):
                oracle.add(strongest(vec[t], len(refs[t])), refs[t], azimuth_only)
                own.add(ests[t], refs[t], azimuth_only)
    return oracle, own


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="dataset folder (soundloc simulate)")
    p.add_argument("--split", default="test")
    p.add_argument("--model", action="append", default=[], metavar="NAME=RUN", help="a trained run (repeatable)")
    p.add_argument("--methods", default="auto", help="classical methods, comma-separated, or none (default: all for the array)")
    p.add_argument("--context", type=float, default=0.5, help="classical window per label frame, seconds (default 0.5)")
    p.add_argument("--max-clips", type=int, default=0, help="first N clips of the split (default all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="write the table as JSON here")
    args = p.parse_args(argv)

    torch.set_num_threads(max(1, torch.get_num_threads()))
    ds = SeldDataset(args.data, args.split, clip_seconds=None)
    array = ds.array
    azimuth_only = bool(getattr(array, "is_planar", False)) and not isinstance(array, FoaFormat)
    clips = list(range(len(ds.entries)))[: args.max_clips or None]
    if args.methods == "auto":
        methods = localizers_for(array)
    else:
        methods = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "none"]
    rows: dict[str, dict[str, Any]] = {}
    print(f"{args.data} [{args.split}]: {len(clips)} clips, array {getattr(array, 'name', 'foa')}, "
          f"{'azimuth' if azimuth_only else 'angular'} error, classical window {args.context} s")
    for spec in args.model:
        name, _, run = spec.partition("=")
        t0 = time.perf_counter()
        oracle, own = learned(ds, run, clips, azimuth_only, args.device)
        sec = round(time.perf_counter() - t0, 1)
        rows[f"{name} (oracle N)"] = {**oracle.row(), "seconds": sec}
        rows[f"{name} (own detections)"] = {**own.row(), "seconds": sec}
    for m in methods:
        t0 = time.perf_counter()
        rows[m] = {**classical(ds, m, clips, args.context, azimuth_only, args.device).row(), "seconds": round(time.perf_counter() - t0, 1)}
    cols = ("mean_error_deg", "median_error_deg", "recall", "precision", "mean_error_1src", "mean_error_2plus", "seconds")
    print(f"{'method':<30}" + "".join(f"{c:>17}" for c in cols))
    for name, r in rows.items():
        print(f"{name:<30}" + "".join(f"{'-' if r[c] is None else r[c]!s:>17}" for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "split": args.split, "clips": len(clips),
                                               "context": args.context, "azimuth_only": azimuth_only, "rows": rows},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
