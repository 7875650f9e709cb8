"""What is in a dataset folder: counts and distributions, as text and as a figure.

:func:`summarize_dataset` reads the labels (and, for soundloc datasets, the clip metadata) of a
soundloc or STARSS23/TAU folder; :func:`format_summary` prints it; :func:`plot_summary` draws
histograms of classes, azimuth, elevation, polyphony, RT60 (target vs measured) and SNR into a PNG.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundloc.data.layout import open_dataset
from soundloc.dataformat import LABEL_HOP_S, num_label_frames, read_dcase_csv
from soundloc.fileio import atomic_path, disk_usage, format_bytes


@dataclass
class DatasetSummary:
    """Statistics of a dataset folder.

    Attributes:
        root, layout: the folder and ``"soundloc"`` / ``"dcase"``.
        class_names: class list.
        files_per_split: recordings per split.
        seconds: total audio duration (s); ``channels``, ``fs``: of the files.
        class_frames: ``(C,)`` active label frames per class (all tracks).
        class_events: ``(C,)`` events per class (soundloc: from metadata; DCASE: (class, track)
            runs of consecutive frames).
        polyphony: ``(P,)`` number of label frames with ``p`` simultaneous events, ``p = 0..P-1``.
        azimuth, elevation, distance: per label row (degrees, degrees, metres; distance NaN if absent).
        rt60_target, rt60_measured, snr_db: per clip (soundloc only; empty otherwise).
        moving_events, total_events: counts (soundloc only).
        disk_bytes: total file size under ``root``.
    """

    root: Path
    layout: str
    class_names: tuple[str, ...]
    files_per_split: dict[str, int]
    seconds: float
    channels: int
    fs: int
    class_frames: np.ndarray
    class_events: np.ndarray
    polyphony: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    distance: np.ndarray
    rt60_target: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rt60_measured: np.ndarray = field(default_factory=lambda: np.zeros(0))
    snr_db: np.ndarray = field(default_factory=lambda: np.zeros(0))
    moving_events: int = 0
    total_events: int = 0
    disk_bytes: int = 0


def _runs(frames: np.ndarray) -> int:
    """Number of runs of consecutive integers in sorted unique ``frames``."""
    if len(frames) == 0:
        return 0
    return int(1 + np.sum(np.diff(frames) > 1))


def summarize_dataset(root: str | os.PathLike, *, split: str | None = None) -> DatasetSummary:
    """Read every label file (and soundloc metadata) of ``root``; ``split`` restricts to one split."""
    from soundloc.audio import audio_info


    root = Path(root)
    index = open_dataset(root, split)
    layout, entries = index.layout, index.entries
    class_names, unit = index.class_names, index.distance_unit
    c = len(class_names)
    files_per_split: dict[str, int] = {}
    class_frames = np.zeros(c, dtype=np.int64)
    class_events = np.zeros(c, dtype=np.int64)
    poly = np.zeros(8, dtype=np.int64)
    az, el, dist = [], [], []
    rt_t, rt_m, snr = [], [], []
    seconds, channels, fs = 0.0, 0, 0
    moving = total = 0
    for e in entries:
        files_per_split[e.split] = files_per_split.get(e.split, 0) + 1
        info = audio_info(e.audio, what="clip file")
        seconds += info.frames / info.samplerate
        channels, fs = info.channels, int(info.samplerate)
        lab = read_dcase_csv(e.labels, distance_unit=unit)
        n_frames = max(num_label_frames(info.frames / info.samplerate), lab.num_frames)
        if len(lab):
            if int(lab.class_index.max()) >= c:
                c_new = int(lab.class_index.max()) + 1
                class_names = class_names + tuple(f"class{k}" for k in range(c, c_new))
                class_frames = np.pad(class_frames, (0, c_new - c))
                class_events = np.pad(class_events, (0, c_new - c))
                c = c_new
            np.add.at(class_frames, lab.class_index, 1)
            az.append(lab.azimuth)
            el.append(lab.elevation)
            dist.append(lab.distance)
        per_frame = np.bincount(lab.frame, minlength=n_frames) if len(lab) else np.zeros(n_frames, dtype=np.int64)
        counts = np.bincount(per_frame)
        if len(counts) > len(poly):
            poly = np.pad(poly, (0, len(counts) - len(poly)))
        poly[: len(counts)] += counts
        if e.meta:
            for ev in e.meta.get("events", []):
                class_events[int(ev["class_index"])] += 1
                moving += bool(ev.get("moving"))
                total += 1
            room = e.meta.get("room", {})
            rt_t.append(room.get("rt60_target", np.nan))
            v = room.get("rt60_measured")
            rt_m.append(np.nan if v is None else v)
            s = e.meta.get("noise", {}).get("snr_db")
            snr.append(np.nan if s is None else s)
        elif len(lab):
            for k in np.unique(lab.class_index):
                for t in np.unique(lab.track[lab.class_index == k]):
                    class_events[k] += _runs(np.unique(lab.frame[(lab.class_index == k) & (lab.track == t)]))
    last = int(np.flatnonzero(poly)[-1]) + 1 if np.any(poly) else 1
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)  # noqa: E731
    return DatasetSummary(
        root=root, layout=layout, class_names=class_names, files_per_split=files_per_split, seconds=seconds,
        channels=channels, fs=fs, class_frames=class_frames, class_events=class_events, polyphony=poly[:last],
        azimuth=cat(az), elevation=cat(el), distance=cat(dist), rt60_target=np.asarray(rt_t, float),
        rt60_measured=np.asarray(rt_m, float), snr_db=np.asarray(snr, float), moving_events=moving,
        total_events=total, disk_bytes=disk_usage(root),
    )


def _rng(x: np.ndarray, fmt: str = "{:.1f}") -> str:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return "n/a"
    return f"{fmt.format(x.min())} .. {fmt.format(x.max())} (mean {fmt.format(x.mean())})"


def format_summary(s: DatasetSummary) -> str:
    """Multi-line text summary of ``s``."""

    n_files = sum(s.files_per_split.values())
    lines = [
        f"dataset   {s.root}  ({s.layout} layout)",
        f"files     {n_files}: " + ", ".join(f"{k} {v}" for k, v in sorted(s.files_per_split.items())),
        f"audio     {s.seconds / 60:.1f} min, {s.channels} channels, {s.fs} Hz; {format_bytes(s.disk_bytes)} on disk",
    ]
    frames = int(s.polyphony.sum())
    if frames:
        share = ", ".join(f"{p}: {100 * n / frames:.0f}%" for p, n in enumerate(s.polyphony))
        lines.append(f"polyphony {share} of {frames} label frames (100 ms)")
    if s.total_events:
        lines.append(f"events    {s.total_events} ({s.moving_events} moving)")
    lines.append("classes   name                 events  active s")
    width = max([len(n) for n in s.class_names] + [4])
    for k, name in enumerate(s.class_names):
        lines.append(f"          {name:<{max(width, 20)}} {int(s.class_events[k]):>6}  {s.class_frames[k] * LABEL_HOP_S:>8.1f}")
    lines.append(f"azimuth   {_rng(s.azimuth)} deg")
    lines.append(f"elevation {_rng(s.elevation)} deg")
    lines.append(f"distance  {_rng(s.distance, '{:.2f}')} m")
    if len(s.rt60_target):
        lines.append(f"RT60      target {_rng(s.rt60_target, '{:.2f}')} s; measured {_rng(s.rt60_measured, '{:.2f}')} s")
    if len(s.snr_db):
        lines.append(f"SNR       {_rng(s.snr_db)} dB")
    return "\n".join(lines)


def plot_summary(s: DatasetSummary, path: str | os.PathLike) -> Path:
    """Six histogram panels (classes, azimuth, elevation, polyphony, RT60, SNR) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    n_files = sum(s.files_per_split.values())
    fig.suptitle(f"{s.root.name}: {n_files} files, {s.seconds / 60:.1f} min, {s.channels} ch @ {s.fs} Hz", fontsize=13)

    ax = axes[0, 0]
    y = np.arange(len(s.class_names))
    ax.barh(y, s.class_events if s.class_events.sum() else s.class_frames, color="tab:blue")
    ax.set_yticks(y, s.class_names, fontsize=8 if len(y) > 10 else 9)
    ax.invert_yaxis()
    ax.set_xlabel("events" if s.class_events.sum() else "active frames")
    ax.set_title("classes")

    ax = axes[0, 1]
    ax.hist(s.azimuth, bins=np.arange(-180, 181, 10), color="tab:orange", edgecolor="white")
    ax.set_xlim(-180, 180)
    ax.set_xticks(np.arange(-180, 181, 60))
    ax.set_xlabel("azimuth (deg, array frame)")
    ax.set_ylabel("label frames")
    ax.set_title("azimuth")

    ax = axes[0, 2]
    ax.hist(s.elevation, bins=np.arange(-90, 91, 5), color="tab:green", edgecolor="white")
    ax.set_xlim(-90, 90)
    ax.set_xticks(np.arange(-90, 91, 30))
    ax.set_xlabel("elevation (deg)")
    ax.set_ylabel("label frames")
    ax.set_title("elevation")

    ax = axes[1, 0]
    ax.bar(np.arange(len(s.polyphony)), s.polyphony, color="tab:purple")
    ax.set_xticks(np.arange(len(s.polyphony)))
    ax.set_xlabel("simultaneous events")
    ax.set_ylabel("label frames")
    ax.set_title("polyphony")

    ax = axes[1, 1]
    if len(s.rt60_target):
        t, m = s.rt60_target, s.rt60_measured
        ok = np.isfinite(t) & np.isfinite(m)
        hi = float(np.nanmax(np.concatenate([t, m[ok]]))) * 1.08
        ax.plot([0, hi], [0, hi], color="0.6", lw=1, ls="--", label="measured = target")
        ax.scatter(t[ok], m[ok], s=14 if ok.sum() < 500 else 4, alpha=0.7 if ok.sum() < 500 else 0.3,
                   color="tab:red", label=f"clips ({ok.sum()})")
        ax.set_xlim(0, hi)
        ax.set_ylim(0, hi)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("RT60 target (s)")
        ax.set_ylabel("RT60 measured on the RIR, T30 (s)")
        ax.legend(loc="upper left")
    else:
        ax.text(0.5, 0.5, "no RT60 metadata\n(not a simulated dataset)", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title("reverberation time")

    ax = axes[1, 2]
    snr = s.snr_db[np.isfinite(s.snr_db)] if len(s.snr_db) else s.snr_db
    if len(snr):
        ax.hist(snr, bins=20, color="tab:gray", edgecolor="white")
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("clips")
    else:
        ax.text(0.5, 0.5, "no SNR metadata", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title("signal-to-noise ratio")

    from matplotlib.ticker import MaxNLocator

    for a in (axes[0, 0].xaxis, axes[0, 1].yaxis, axes[0, 2].yaxis, axes[1, 0].yaxis, axes[1, 2].yaxis):
        a.set_major_locator(MaxNLocator(integer=True))
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format=path.suffix[1:].lower() or "png")
    finally:
        plt.close(fig)
    return path
