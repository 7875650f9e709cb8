"""The demo's scene: two sources around an array in a reverberant room (``soundloc demo``).

Built from the same parts as the dataset generator: the room is drawn by
:func:`~soundloc.scenes.sample.sample_room` (redrawn while the RT60 is unreachable), the walls are
checked with :func:`~soundloc.scenes.sample.inside`, the RIRs come from
:func:`~soundloc.scenes.rir.compute_rirs` (pyroomacoustics' image-source method, ``backend="ism"``),
and the mixture is made with :mod:`soundloc.scenes.mix` (convolution, white sensor noise at an SNR,
peak normalisation). What is particular to the demo is the layout: the array near the middle of
the room facing +x (the room's x axis), the sources at the array's height, 1.5-2.5 m away and at
least :data:`MIN_SEPARATION_DEG` apart in azimuth, so the truth is a pair of azimuths.

Angles: azimuth counter-clockwise from the array's front (+x) in (-180, 180], degrees; elevation 0.
Positions in metres, room coordinates (origin at a room corner, z up).

Example:
    >>> from soundloc.corpus import builtin_corpus
    >>> from soundloc.geometry import MicArray
    >>> demo = make_demo_mixture(MicArray.preset("circular4"), builtin_corpus(), seed=0)  # doctest: +SKIP
    >>> demo.mixture.shape, demo.scene.azimuth                                            # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from soundloc.corpus import ClipRef, Corpus
from soundloc.geometry import MicArray, wrap_azimuth_deg
from soundloc.scenes.acoustics import measure_rt60
from soundloc.scenes.config import PlacementConfig, RoomConfig
from soundloc.scenes.mix import colored_noise, convolve, noise_gain, peak_gain, unit_rms
from soundloc.scenes.rir import compute_rirs
from soundloc.scenes.sample import draw_uniform, inside, sample_room

DEMO_FS = 16000
"""Sample rate of the demo recording in Hz."""

DEMO_CLASSES = ("drums", "helicopter", "speech_female", "speech_male")
"""Default sound classes: speech, drums and helicopter -- broadband sounds, the regime classical
localizers are built for."""

MIN_SEPARATION_DEG = 60.0
"""Smallest azimuth difference between two demo sources, degrees."""

DISTANCE_RANGE_M = (1.5, 2.5)
"""Source distance from the array centre, metres."""

WALL_MARGIN_M = 0.5
"""Smallest distance of a source from the walls, metres."""

RT60_RANGE_S = (0.1, 1.0)
"""Reverberation times the demo accepts, seconds."""

DEMO_ROOM = RoomConfig(width=(6.0, 9.0), length=(5.5, 7.5), height=(2.7, 3.3))
"""Room sizes of the demo (its RT60 is set per call)."""

PEAK_DBFS = 20.0 * math.log10(0.5)
"""The mixture's peak sample: 0.5 (-6 dBFS)."""

_MAX_TRIES = 1000


@dataclass(frozen=True)
class DemoScene:
    """Room geometry of the demo (metres; azimuth degrees in the array frame, which is the room's).

    Attributes:
        room_dim: ``(3,)`` shoebox size.
        rt60: target reverberation time in seconds.
        array_center: ``(3,)`` array centre in room coordinates.
        sources: ``(S, 3)`` source positions in room coordinates.
        azimuth: ``(S,)`` true azimuths in degrees (array frame, CCW from +x).
        elevation: ``(S,)`` true elevations in degrees (0: sources at the array's height).
        distance: ``(S,)`` source-to-array-centre distances.
    """

    room_dim: np.ndarray
    rt60: float
    array_center: np.ndarray
    sources: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray
    distance: np.ndarray


def draw_scene(rng: np.random.Generator, num_sources: int = 2, *, rt60: float = 0.4) -> DemoScene:
    """A random room (RT60 ``rt60`` s) with the array near the middle and ``num_sources`` sources around it.

    Sources are at the array's height, :data:`DISTANCE_RANGE_M` from its centre, every pair at
    least :data:`MIN_SEPARATION_DEG` apart in azimuth, and at least :data:`WALL_MARGIN_M` from the walls.

    Raises:
        ValueError: ``rt60`` outside :data:`RT60_RANGE_S`, ``num_sources`` not in 1-3.
    """
    lo, hi = RT60_RANGE_S
    if not lo <= rt60 <= hi:
        raise ValueError(f"rt60 must be between {lo:g} and {hi:g} s, got {rt60:g}")
    if int(num_sources) != num_sources or not 1 <= num_sources <= 3:  # 3 x 60 degrees: 4 may not fit
        raise ValueError(f"num_sources must be 1, 2 or 3, got {num_sources}")
    room_cfg = RoomConfig(width=DEMO_ROOM.width, length=DEMO_ROOM.length, height=DEMO_ROOM.height, rt60=(rt60, rt60))
    walls = PlacementConfig(height=(0.0, 100.0), wall_clearance=WALL_MARGIN_M, min_separation=0.0)
    for _ in range(_MAX_TRIES):
        room = sample_room(rng, room_cfg)
        dims = np.asarray(room.dims)
        center = np.array([dims[0] / 2 + draw_uniform(rng, (-0.5, 0.5)), dims[1] / 2 + draw_uniform(rng, (-0.5, 0.5)),
                           draw_uniform(rng, (1.2, 1.6))])
        az = [draw_uniform(rng, (-180.0, 180.0))]
        while len(az) < num_sources:
            step = float(rng.choice([-1.0, 1.0])) * draw_uniform(rng, (MIN_SEPARATION_DEG, 180.0))
            cand = float(wrap_azimuth_deg(az[-1] + step))
            if all(abs(float(wrap_azimuth_deg(cand - a))) >= MIN_SEPARATION_DEG for a in az):
                az.append(cand)
        az_arr = np.asarray(wrap_azimuth_deg(np.array(az)), dtype=float)
        dist = rng.uniform(*DISTANCE_RANGE_M, size=num_sources)
        rad = np.deg2rad(az_arr)
        src = center + np.stack([dist * np.cos(rad), dist * np.sin(rad), np.zeros(num_sources)], axis=1)
        if np.all(inside(src, room.dims, walls)):
            return DemoScene(dims, float(room.rt60), center, src, az_arr, np.zeros(num_sources), dist)
    raise ValueError("could not place the demo sources in a room; try another seed")  # pragma: no cover


def loudest_segment(x: np.ndarray, n: int) -> np.ndarray:
    """``n`` samples of mono ``x (N,)``: its most energetic window (on a grid of ``n // 8``), or ``x`` repeated when shorter."""
    if len(x) >= n:
        e = np.concatenate([[0.0], np.cumsum(np.asarray(x, dtype=np.float64) ** 2)])
        hop = max(1, n // 8)
        starts = np.arange(0, len(x) - n + 1, hop)
        s = int(starts[np.argmax(e[starts + n] - e[starts])])
        return np.asarray(x[s : s + n])
    return np.resize(x, n)


def render_scene(
    scene: DemoScene, mic_positions: np.ndarray, signals: np.ndarray, fs: int, snr_db: float,
    rng: np.random.Generator, *, seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Reverberant mixture of ``signals (S, N)`` at the mics ``(M, 3)`` (room coordinates) plus
    white sensor noise at ``snr_db`` (``inf``: none).

    Returns:
        ``(mixture (M, N) float32 with peak 0.5, RT60 in s measured on the first RIR -- NaN if
        not measurable)``.
    """
    rirs = compute_rirs(scene.room_dim, scene.rt60, mic_positions, scene.sources, fs, backend="ism", seed=seed)  # (S, M, L)
    n = signals.shape[1]
    mix = np.zeros((mic_positions.shape[0], n))
    for s in range(signals.shape[0]):
        mix += convolve(signals[s], rirs[s])[:, :n]
    if math.isfinite(snr_db):
        noise = colored_noise(rng, mix.shape, fs, "white")
        mix = mix + noise_gain(mix, noise, snr_db) * noise
    mix *= peak_gain(mix, PEAK_DBFS)
    try:
        rt = float(measure_rt60(rirs[0, 0], fs))
    except ValueError:
        rt = float("nan")
    return mix.astype(np.float32), rt


@dataclass(frozen=True)
class DemoMixture:
    """A simulated demo recording: ``mixture (M, N)`` float32 at :data:`DEMO_FS`, its scene and clips."""

    scene: DemoScene
    clips: list[ClipRef]
    mixture: np.ndarray
    rt60_measured: float


def make_demo_mixture(array: MicArray, corpus: Corpus, *, seed: int, rt60: float = 0.4, snr_db: float = 20.0,
                      duration: float = 3.0, classes: Sequence[str] | None = None) -> DemoMixture:
    """The demo's recording for ``seed``: 2 clips of different ``classes`` (default
    :data:`DEMO_CLASSES`) at equal level, a room from :func:`draw_scene`, ISM RIRs, white noise.

    Everything is drawn from ``numpy.random.default_rng(seed)``, so a seed always gives the same
    recording (for the same corpus).

    Raises:
        ValueError: a class the corpus does not have, fewer than 2 classes, bad ``rt60`` / ``duration``.
    """
    if not duration > 0:
        raise ValueError(f"duration must be > 0 s, got {duration}")
    fs = DEMO_FS
    rng = np.random.default_rng(seed)
    n = int(round(duration * fs))
    by_class = corpus.by_class()
    names = sorted(set(classes or DEMO_CLASSES))
    missing = [c for c in names if not by_class.get(c)]
    if missing:
        raise ValueError(f"unknown sound class '{missing[0]}'; the corpus has: {', '.join(sorted(by_class))}")
    if len(names) < 2:
        raise ValueError(f"need at least 2 different sound classes, got {', '.join(names) or 'none'}")
    picked = rng.choice(len(names), size=2, replace=False)
    clips = [by_class[names[i]][int(rng.integers(len(by_class[names[i]])))] for i in picked]
    # equal level at the source
    signals = [unit_rms(loudest_segment(np.asarray(corpus.load(c, fs), dtype=np.float64), n)) for c in clips]
    scene = draw_scene(rng, num_sources=2, rt60=rt60)
    mix, rt_measured = render_scene(scene, array.placed(scene.array_center.tolist()), np.stack(signals), fs, snr_db, rng, seed=seed)
    return DemoMixture(scene, clips, mix, rt_measured)
