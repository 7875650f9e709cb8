"""One clip of a dataset: a pure function of ``(config, seed, index)`` (and the corpus it names).

:func:`simulate_clip` draws the events (class, source clip, excerpt, level, timing), the room
(dimensions, RT60), the array pose and the source positions/trajectories from clip ``index``'s own
random stream, computes all RIRs of the room in one :func:`~soundloc.scenes.rir.compute_rirs` call
(static sources, every trajectory point, the point noise source), renders the mixture, adds
noise at the drawn SNR, scales the mixture to ``config.peak_dbfs`` and returns the audio, the
DCASE labels (array frame) and a JSON-safe metadata dict.

Draw order (fixed, so a clip only depends on its seed): number of events; per event class, source
clip, duration, excerpt start, level; onsets; then room/pose/positions (redrawn together until
everything fits); RIR seed; SNR and noise.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from soundloc.dataformat import DcaseLabels, clip_relpaths
from soundloc.scenes.config import SceneConfig
from soundloc.scenes.labels import scene_labels
from soundloc.scenes.mix import (
    active_region,
    colored_noise,
    convolve,
    diffuse_foa_noise,
    diffuse_noise,
    noise_gain,
    peak_gain,
    spatialize,
    unit_rms,
)
from soundloc.scenes.plan import DatasetPlan, clip_seed_sequence, make_plan
from soundloc.scenes.sample import (
    ArrayPose,
    SceneEvent,
    Trajectory,
    draw_uniform,
    nonoverlap_onsets,
    overlap_onsets,
    sample_point,
    sample_pose,
    sample_room,
    sample_trajectory,
)

PLACEMENT_ATTEMPTS = 50
"""Rooms drawn per clip before giving up on placing everything."""

SOURCE_CACHE_SIZE = 256
"""Decoded source clips kept in memory per process."""


@dataclass
class ClipResult:
    """A simulated clip.

    Attributes:
        index, split, name: position in the dataset, its split, file stem.
        audio: ``(M, N)`` float32 mixture, peak at ``config.peak_dbfs``.
        labels: DCASE rows in the array frame.
        meta: JSON-safe metadata (room, RT60 target and measured, array pose, SNR, gain, events).
    """

    index: int
    split: str
    name: str
    audio: np.ndarray
    labels: DcaseLabels
    meta: dict[str, Any]


class ClipContext:
    """What every clip of one dataset shares: config, seed, corpus, plan, array, a source cache.

    Build it once per process (:func:`make_context`) and pass it to :func:`simulate_clip`.
    """

    def __init__(self, config: SceneConfig, seed: int, corpus, plan: DatasetPlan | None = None, array=None) -> None:
        self.config = config
        self.seed = int(seed)
        self.corpus = corpus
        self.plan = plan if plan is not None else make_plan(config, seed, corpus)
        self.array = array if array is not None else config.array.resolve()
        self.refs = {c.clip_id: c for c in corpus.clips}
        self._cache: OrderedDict[str, tuple[np.ndarray, int, int]] = OrderedDict()
        self._lock = threading.Lock()  # thread-pool executors share one context

    def source(self, clip_id: str) -> tuple[np.ndarray, int, int]:
        """``(x (n,) float64 at config.fs, start, stop)`` of a source clip; ``[start, stop)`` is
        its non-silent part."""
        with self._lock:
            hit = self._cache.get(clip_id)
            if hit is not None:
                self._cache.move_to_end(clip_id)
                return hit
        ref = self.refs[clip_id]
        x = np.asarray(self.corpus.load(ref, self.config.fs), dtype=np.float64).reshape(-1)
        if len(x) == 0 or not np.all(np.isfinite(x)) or not np.any(x):
            raise ValueError(f"source clip '{clip_id}' ({ref.path}) is empty or silent")
        a, b = active_region(x, self.config.fs, self.config.events.silence_db)
        out = (x, a, b)
        with self._lock:
            self._cache[clip_id] = out
            if len(self._cache) > SOURCE_CACHE_SIZE:
                self._cache.popitem(last=False)
        return out


def make_context(config: SceneConfig, seed: int, corpus=None) -> ClipContext:
    """A :class:`ClipContext`; ``corpus`` defaults to ``get_corpus(config.corpus)``."""
    if corpus is None:
        from soundloc.corpus import get_corpus

        corpus = get_corpus(config.corpus)
    return ClipContext(config, seed, corpus)


def _r(v: float, nd: int = 6) -> float:
    return round(float(v), nd) + 0.0


def _draw_events(rng: np.random.Generator, ctx: ClipContext, split: str) -> list[dict]:
    cfg, ev = ctx.config, ctx.config.events
    fs, n_clip = cfg.fs, cfg.num_samples
    pool = ctx.plan.pools[split]
    classes = sorted(pool)
    n_events = int(rng.integers(ev.count[0], ev.count[1] + 1))
    drafts: list[dict[str, Any]] = []
    for _ in range(n_events):
        cname = classes[int(rng.integers(len(classes)))]
        ids = pool[cname]
        cid = ids[int(rng.integers(len(ids)))]
        x, a, b = ctx.source(cid)
        want = draw_uniform(rng, ev.duration)
        n = int(round(min(want, cfg.duration) * fs))
        n = max(1, min(n, b - a, n_clip))
        start = a + int(rng.integers(0, (b - a) - n + 1))
        level = draw_uniform(rng, ev.level_db)
        drafts.append({"class": cname, "clip_id": cid, "n": n, "start": start, "level": level})
    # timing
    if ev.mode == "nonoverlap":
        while len(drafts) > 1 and sum(d["n"] for d in drafts) / fs + (len(drafts) - 1) * ev.gap > cfg.duration:
            drafts.pop()
        onsets = nonoverlap_onsets(rng, np.array([d["n"] / fs for d in drafts]), cfg.duration, ev.gap)
    else:
        onsets = overlap_onsets(rng, np.array([d["n"] / fs for d in drafts]), cfg.duration, ev.max_polyphony)
    kept = []
    for d, t0 in zip(drafts, onsets):
        if not np.isfinite(t0):
            continue  # no slot within the polyphony limit
        d["on"] = min(int(round(t0 * fs)), n_clip - d["n"])
        kept.append(d)
    kept.sort(key=lambda d: d["on"])
    seen: dict[str, int] = {}
    for d in kept:
        d["track"] = seen.get(d["class"], 0)
        seen[d["class"]] = d["track"] + 1
    return kept


def _place(rng: np.random.Generator, ctx: ClipContext, drafts: list[dict]):
    cfg, pl = ctx.config, ctx.config.placement
    fs = cfg.fs
    for _ in range(PLACEMENT_ATTEMPTS):
        room = sample_room(rng, cfg.room)
        pose = sample_pose(rng, room.dims, pl, cfg.array)
        if pose is None:  # pragma: no cover - an empty avoid list always succeeds
            continue
        centre = np.asarray(pose.position)
        mics = _capture_points(ctx.array, pose)
        if np.any(mics < 0) or np.any(mics > np.asarray(room.dims)):
            continue
        statics = [centre]
        trajs: list[Trajectory] = []
        ok = True
        for d in drafts:
            dur = d["n"] / fs
            traj = None
            if cfg.events.moving_probability > 0 and rng.random() < cfg.events.moving_probability \
                    and dur > cfg.events.trajectory_step:
                traj = sample_trajectory(rng, room.dims, pl, centre, dur, cfg.events, [centre])
            if traj is None:
                p = sample_point(rng, room.dims, pl, statics)
                if p is None:
                    ok = False
                    break
                statics.append(p)
                traj = Trajectory(positions=p[None, :], times=np.zeros(1))
            trajs.append(traj)
        noise_pos = None
        if ok and cfg.noise.kind == "point":
            noise_pos = sample_point(rng, room.dims, pl, statics)
            ok = noise_pos is not None
        if ok:
            return room, pose, mics, trajs, noise_pos
    raise ValueError(
        f"could not place the array and {len(drafts)} sources in {PLACEMENT_ATTEMPTS} rooms; "
        "lower placement.min_separation / wall_clearance or make the rooms larger"
    )


def _capture_points(array, pose: ArrayPose) -> np.ndarray:
    """Absolute points the RIRs are computed at: every mic, or the one centre of an FOA array."""
    if array.is_coincident:
        return np.asarray(pose.position, dtype=np.float64)[None, :]
    return array.placed(pose.position, pose.yaw, pose.pitch, pose.roll)


def _measured_rt60(rirs: np.ndarray, fs: int) -> float | None:
    from soundloc.scenes.rir import measure_rt60

    for decay in (30.0, 20.0):
        try:
            return float(np.mean(measure_rt60(rirs, fs, decay_db=decay)))
        except ValueError:
            continue
    return None


def simulate_clip(config: SceneConfig, seed: int, index: int, *, context: ClipContext | None = None) -> ClipResult:
    """Simulate clip ``index`` of the dataset ``(config, seed)``. Deterministic.

    Args:
        config: generator config.
        seed: dataset seed.
        index: clip index in ``[0, config.num_clips)``.
        context: shared per-process state (:func:`make_context`); built from ``config.corpus`` if None.

    Returns:
        A :class:`ClipResult`.
    """
    from soundloc.scenes.rir import compute_rirs, rir_delay_samples

    ctx = context if context is not None else make_context(config, seed)
    if ctx.config != config or ctx.seed != int(seed):
        raise ValueError("simulate_clip: context was built for another config or seed")
    cfg = config
    fs, n_clip = cfg.fs, cfg.num_samples
    split = ctx.plan.split_of(index)
    rng = np.random.default_rng(clip_seed_sequence(seed, index))
    class_index = {c: i for i, c in enumerate(ctx.plan.class_names)}

    drafts = _draw_events(rng, ctx, split)
    room, pose, mics, trajs, noise_pos = _place(rng, ctx, drafts)

    points = [t.positions for t in trajs] + ([noise_pos[None, :]] if noise_pos is not None else [])
    rir_seed = int(rng.integers(2**31 - 1))
    foa_rotation = pose.rotation if ctx.array.is_coincident else None
    baffle = getattr(ctx.array, "baffle", None)  # a MicArray on a rigid sphere: scattering in the RIRs
    extra: dict[str, Any] = {} if baffle is None else {"baffle": baffle}
    if cfg.array.foa_band_limit is not None:  # an em32-like FOA encoder, ideal only below the limit
        extra["foa_band_limit"] = cfg.array.foa_band_limit
    rirs = compute_rirs(room.dims, room.rt60, mics, np.concatenate(points, axis=0), fs,
                        backend=cfg.rir_backend, max_order=cfg.max_order, seed=rir_seed, foa_rotation=foa_rotation,
                        **extra)

    # events
    m = rirs.shape[1]
    sources = np.zeros((m, n_clip))
    active = np.zeros(n_clip, dtype=bool)
    xfade = int(round(cfg.events.crossfade * fs))
    delay = rir_delay_samples(cfg.rir_backend)
    events: list[SceneEvent] = []
    k = 0
    for d, traj in zip(drafts, trajs):
        p = len(traj.positions)
        x, _, _ = ctx.source(d["clip_id"])
        dry = unit_rms(x[d["start"] : d["start"] + d["n"]]) * 10.0 ** (d["level"] / 20.0)
        seg_starts = np.round(traj.times * fs).astype(np.int64)
        img = spatialize(dry, rirs[k : k + p], seg_starts, xfade)
        k += p
        on = d["on"]
        # the RIRs peak at d / c * fs + delay (the fractional-delay filter's centre): start the image
        # `delay` samples early so the direct sound arrives exactly d / c after the labelled onset
        first = on - delay
        a = max(0, first)
        end = min(n_clip, first + img.shape[1])
        sources[:, a:end] += img[:, a - first : end - first]
        active[on : on + d["n"]] = True
        events.append(SceneEvent(
            class_name=d["class"], class_index=class_index[d["class"]], clip_id=d["clip_id"], track=d["track"],
            onset=on / fs, offset=(on + d["n"]) / fs, source_start=d["start"] / fs, level_db=d["level"],
            trajectory=traj,
        ))

    # noise
    snr = draw_uniform(rng, cfg.noise.snr_db)
    noise_scale = 0.0
    mixture = sources
    if cfg.noise.kind != "none":
        if cfg.noise.kind == "diffuse":
            if ctx.array.is_coincident:
                noise = diffuse_foa_noise(rng, n_clip, fs, cfg.noise.color)
            else:
                noise = diffuse_noise(rng, ctx.array.positions, n_clip, fs, cfg.noise.color,
                                      **({} if baffle is None else {"sphere_radius": baffle.radius}))
        else:
            h = rirs[-1]
            dry_noise = colored_noise(rng, (n_clip + h.shape[1],), fs, cfg.noise.color)
            noise = convolve(dry_noise, h)[:, h.shape[1] : h.shape[1] + n_clip]
        noise_scale = noise_gain(sources, noise, snr, active)
        mixture = sources + noise_scale * noise
    gain = peak_gain(mixture, cfg.peak_dbfs)
    audio = np.ascontiguousarray((mixture * gain).astype(np.float32))

    labels = scene_labels(events, pose, cfg.num_label_frames)
    plan = ctx.plan
    name = plan.clip_name(index)
    ext = cfg.audio_format
    array_meta = {"name": ctx.array.name, "position": [_r(x, 4) for x in pose.position],
                  "yaw": _r(pose.yaw, 3), "pitch": _r(pose.pitch, 3), "roll": _r(pose.roll, 3)}
    if baffle is not None:
        array_meta["baffle"] = baffle.to_dict()
    if cfg.array.foa_band_limit is not None:
        array_meta["foa_band_limit"] = cfg.array.foa_band_limit
    meta = {
        "name": name,
        "index": int(index),
        "split": split,
        "audio": clip_relpaths(split, name, ext)[0],
        "labels": clip_relpaths(split, name, ext)[1],
        "fs": fs,
        "num_samples": n_clip,
        "duration": _r(n_clip / fs),
        "room": {"dims": [_r(v, 4) for v in room.dims], "rt60_target": _r(room.rt60, 4),
                 "rt60_measured": None if (v := _measured_rt60(rirs[0], fs)) is None else _r(v, 4)},
        "array": array_meta,
        "mic_positions": [[_r(x, 5) for x in row] for row in mics],
        "noise": {"kind": cfg.noise.kind, "color": cfg.noise.color,
                  "snr_db": None if cfg.noise.kind == "none" else _r(snr, 3),
                  "position": None if noise_pos is None else [_r(x, 4) for x in noise_pos]},
        "gain_db": _r(20.0 * math.log10(gain), 4),
        "rir_backend": cfg.rir_backend,
        "rir_seed": rir_seed,
        "num_events": len(events),
        "max_polyphony": _polyphony(labels),
        "events": [_event_meta(e, pose) for e in events],
    }
    return ClipResult(index=int(index), split=split, name=name, audio=audio, labels=labels, meta=meta)


def _polyphony(labels: DcaseLabels) -> int:
    if len(labels) == 0:
        return 0
    return int(np.bincount(labels.frame).max())


def _event_meta(e: SceneEvent, pose: ArrayPose) -> dict:
    from soundloc.geometry import cart_to_sph_deg

    local = pose.to_array_frame(e.trajectory.positions[0])
    az, el = cart_to_sph_deg(local)
    return {
        "class": e.class_name,
        "class_index": e.class_index,
        "track": e.track,
        "clip_id": e.clip_id,
        "source_start": _r(e.source_start),
        "onset": _r(e.onset),
        "offset": _r(e.offset),
        "level_db": _r(e.level_db, 3),
        "moving": e.trajectory.moving,
        "angular_speed": _r(e.trajectory.angular_speed, 3),
        "trajectory_points": len(e.trajectory.positions),
        "start_position": [_r(v, 4) for v in e.trajectory.positions[0]],
        "end_position": [_r(v, 4) for v in e.trajectory.positions[-1]],
        "azimuth": _r(float(az), 2),
        "elevation": _r(float(el), 2),
        "distance": _r(float(np.linalg.norm(local)), 4),
    }
