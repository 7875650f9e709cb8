"""Random scene geometry and timing: rooms, array poses, source positions, trajectories, onsets.

Pure functions of a :class:`numpy.random.Generator` and the config sections; no audio here.
Room coordinates: origin at a floor corner, x along the width, y along the length, z up (metres).
Times are in seconds from the clip start; an event's onset is its *emission* time.

Rooms whose RT60 cannot be reached (Sabine absorption > 1, see
:func:`soundloc.scenes.acoustics.sabine_absorption`) are redrawn as a whole (dimensions and RT60
together), so the realised distribution is the configured one conditioned on feasibility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from soundloc.geometry import SPEED_OF_SOUND, rotation_matrix
from soundloc.scenes.config import ArrayConfig, EventConfig, PlacementConfig, RoomConfig

MAX_ROOM_DRAWS = 1000
"""Redraws of an infeasible room before giving up."""

POINT_TRIES = 200
"""Random tries to place one point before the room is redrawn."""


@dataclass(frozen=True)
class ArrayPose:
    """Where the array sits and how it is turned.

    Attributes:
        position: ``(3,)`` array centre in room coordinates, metres.
        yaw, pitch, roll: orientation in degrees (:func:`soundloc.geometry.rotation_matrix`):
            a vector ``v`` in the array frame is ``R @ v`` in the room frame.
    """

    position: tuple[float, float, float]
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    @property
    def rotation(self) -> np.ndarray:
        """``(3, 3)`` array-to-room rotation ``R``."""
        return rotation_matrix(self.yaw, self.pitch, self.roll)

    def to_array_frame(self, points: np.ndarray) -> np.ndarray:
        """Room points ``(..., 3)`` as vectors from the array centre in the array frame: ``R^T (p - c)``."""
        p = np.asarray(points, dtype=float) - np.asarray(self.position, dtype=float)
        return p @ self.rotation  # row-vector form of R^T p

    def to_dict(self) -> dict:
        return {"position": [float(v) for v in self.position], "yaw": float(self.yaw),
                "pitch": float(self.pitch), "roll": float(self.roll)}


@dataclass(frozen=True)
class Room:
    """A drawn shoebox: ``dims`` ``(3,)`` metres and the target ``rt60`` in seconds."""

    dims: tuple[float, float, float]
    rt60: float


@dataclass(frozen=True)
class Trajectory:
    """A piecewise-static path: the source sits at ``positions[k]`` from ``times[k]`` on.

    Attributes:
        positions: ``(P, 3)`` room coordinates; ``P == 1`` for a static source.
        times: ``(P,)`` seconds relative to the event onset, ``times[0] == 0``, increasing.
        angular_speed: deg/s around the array (signed, counter-clockwise positive; 0 = static).
    """

    positions: np.ndarray
    times: np.ndarray
    angular_speed: float = 0.0

    @property
    def moving(self) -> bool:
        return len(self.positions) > 1

    def point_index(self, t: np.ndarray | float) -> np.ndarray:
        """Index of the point active at time(s) ``t`` since onset."""
        return np.clip(np.searchsorted(self.times, np.asarray(t, dtype=float), side="right") - 1, 0, len(self.times) - 1)


# ---------------------------------------------------------------------------
# rooms and points
# ---------------------------------------------------------------------------


def draw_uniform(rng: np.random.Generator, r: tuple[float, float]) -> float:
    """Uniform draw from ``[lo, hi]``; a degenerate range returns ``lo`` without consuming randomness."""
    lo, hi = r
    return float(lo) if hi <= lo else float(rng.uniform(lo, hi))


def sample_room(rng: np.random.Generator, room: RoomConfig, c: float = SPEED_OF_SOUND) -> Room:
    """Draw dimensions and RT60, redrawing both while the RT60 is unreachable in the room.

    Raises:
        ValueError: no feasible room in :data:`MAX_ROOM_DRAWS` draws (the RT60 range is too
            short for the room sizes).
    """
    from soundloc.scenes.acoustics import InfeasibleRoomError, sabine_absorption

    for _ in range(MAX_ROOM_DRAWS):
        dims = (draw_uniform(rng, room.width), draw_uniform(rng, room.length), draw_uniform(rng, room.height))
        rt60 = draw_uniform(rng, room.rt60)
        try:
            sabine_absorption(dims, rt60, c)
        except InfeasibleRoomError:
            continue
        return Room(dims=dims, rt60=rt60)
    raise ValueError(
        f"room.rt60: no room in {MAX_ROOM_DRAWS} draws can reach an RT60 in [{room.rt60[0]:g}, {room.rt60[1]:g}] s "
        f"(too short for rooms this large); raise the RT60 range or shrink the rooms"
    )


def height_range(dims: tuple[float, float, float], placement: PlacementConfig) -> tuple[float, float]:
    """Allowed z range in a room of height ``dims[2]``: the placement heights within the clearance."""
    lo = max(placement.height[0], placement.wall_clearance)
    hi = min(placement.height[1], dims[2] - placement.wall_clearance)
    return lo, hi


def inside(points: np.ndarray, dims: tuple[float, float, float], placement: PlacementConfig) -> np.ndarray:
    """Whether points ``(..., 3)`` respect the wall clearance and the height range, ``(...,)`` bool."""
    p = np.asarray(points, dtype=float)
    clr = placement.wall_clearance
    zlo, zhi = height_range(dims, placement)
    tol = 1e-9
    return (
        (p[..., 0] >= clr - tol) & (p[..., 0] <= dims[0] - clr + tol)
        & (p[..., 1] >= clr - tol) & (p[..., 1] <= dims[1] - clr + tol)
        & (p[..., 2] >= zlo - tol) & (p[..., 2] <= zhi + tol)
    )


def sample_point(
    rng: np.random.Generator,
    dims: tuple[float, float, float],
    placement: PlacementConfig,
    avoid: list[np.ndarray] | None = None,
    tries: int = POINT_TRIES,
) -> np.ndarray | None:
    """A uniform point inside the clearance box, at least ``min_separation`` from every ``avoid`` point.

    Returns ``None`` when ``tries`` draws all fail.
    """
    clr = placement.wall_clearance
    zlo, zhi = height_range(dims, placement)
    others = np.array(avoid, dtype=float).reshape(-1, 3) if avoid else np.zeros((0, 3))
    for _ in range(tries):
        p = np.array([rng.uniform(clr, dims[0] - clr), rng.uniform(clr, dims[1] - clr), draw_uniform(rng, (zlo, zhi))])
        if len(others) == 0 or np.min(np.linalg.norm(others - p, axis=1)) >= placement.min_separation:
            return p
    return None


def sample_pose(
    rng: np.random.Generator, dims: tuple[float, float, float], placement: PlacementConfig, array: ArrayConfig
) -> ArrayPose | None:
    """Array centre uniformly inside the clearance box, orientation uniform in the configured ranges."""
    p = sample_point(rng, dims, placement)
    if p is None:  # pragma: no cover - an empty avoid list always succeeds
        return None
    return ArrayPose(
        position=(float(p[0]), float(p[1]), float(p[2])),
        yaw=draw_uniform(rng, array.yaw),
        pitch=draw_uniform(rng, array.pitch),
        roll=draw_uniform(rng, array.roll),
    )


def arc_trajectory(
    start: np.ndarray, center: np.ndarray, angular_speed_deg: float, duration: float, step: float
) -> Trajectory:
    """Horizontal arc around ``center`` (constant radius and height) sampled every ``step`` s.

    Point ``k`` is the start rotated by ``angular_speed_deg * k * step`` degrees about the vertical
    through ``center``; ``P = ceil(duration / step)`` points (at least 1).
    """
    n = max(1, int(math.ceil(duration / step - 1e-9)))
    times = np.arange(n) * step
    rel = np.asarray(start, float) - np.asarray(center, float)
    ang = np.deg2rad(angular_speed_deg * times)
    x = center[0] + rel[0] * np.cos(ang) - rel[1] * np.sin(ang)
    y = center[1] + rel[0] * np.sin(ang) + rel[1] * np.cos(ang)
    z = np.full(n, float(start[2]))
    return Trajectory(positions=np.stack([x, y, z], axis=1), times=times, angular_speed=float(angular_speed_deg))


def sample_trajectory(
    rng: np.random.Generator,
    dims: tuple[float, float, float],
    placement: PlacementConfig,
    center: np.ndarray,
    duration: float,
    events: EventConfig,
    avoid: list[np.ndarray],
) -> Trajectory | None:
    """A moving source: an arc around the array that stays inside the clearance box and at least
    ``min_separation`` from the array centre. Tries both directions, then new start points.

    Returns ``None`` if no start point works.
    """
    speed = draw_uniform(rng, events.angular_speed)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    for _ in range(20):
        start = sample_point(rng, dims, placement, avoid)
        if start is None:
            return None
        for direction in (sign, -sign):
            traj = arc_trajectory(start, center, direction * speed, duration, events.trajectory_step)
            if np.all(inside(traj.positions, dims, placement)):
                return traj
    return None


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------


def nonoverlap_onsets(rng: np.random.Generator, durations: np.ndarray, clip_duration: float, gap: float) -> np.ndarray:
    """Onsets for events played one after another (in the given order) with random pauses.

    The slack ``clip_duration - sum(durations) - (K - 1) gap`` is split at ``K`` uniform random
    points, so every arrangement is equally likely. Requires the events to fit.
    """
    d = np.asarray(durations, dtype=float)
    k = len(d)
    slack = clip_duration - d.sum() - (k - 1) * gap
    if slack < -1e-9:
        raise ValueError(f"{k} events of {d.sum():.2f} s do not fit in {clip_duration:g} s")
    cuts = np.sort(rng.uniform(0.0, max(slack, 0.0), size=k))
    before = np.concatenate([[0.0], np.cumsum(d[:-1] + gap)])
    return cuts + before


def max_overlap(intervals: list[tuple[float, float]], start: float, end: float) -> int:
    """Largest number of ``intervals`` (half-open ``[a, b)``) active at once inside ``[start, end)``."""
    points = [start] + [a for a, _ in intervals if start < a < end]
    return max(sum(1 for a, b in intervals if a <= t < b) for t in points)


def overlap_onsets(
    rng: np.random.Generator, durations: np.ndarray, clip_duration: float, max_polyphony: int, tries: int = 100
) -> np.ndarray:
    """Onsets for DCASE-style overlapping events with at most ``max_polyphony`` active at once.

    Events are placed in order at uniform random onsets in ``[0, clip_duration - d]``; an event
    that finds no slot in ``tries`` draws gets onset ``NaN`` (the caller drops it).
    """
    out = np.full(len(durations), np.nan)
    placed: list[tuple[float, float]] = []
    for i, d in enumerate(np.asarray(durations, dtype=float)):
        latest = max(clip_duration - d, 0.0)
        for _ in range(tries):
            t0 = float(rng.uniform(0.0, latest)) if latest > 0 else 0.0
            if max_overlap(placed, t0, t0 + d) < max_polyphony:
                placed.append((t0, t0 + d))
                out[i] = t0
                break
    return out


@dataclass(frozen=True)
class SceneEvent:
    """One sound event of a clip, fully placed.

    Attributes:
        class_name, class_index: the event's class (index into the dataset's class list).
        clip_id: the source clip (:class:`soundloc.corpus.ClipRef` id).
        track: instance index within its class in this clip (0, 1, ... by onset).
        onset, offset: emission start/end in seconds from the clip start (sample-aligned).
        source_start: seconds into the source clip where the excerpt starts.
        level_db: gain applied to the unit-RMS excerpt.
        trajectory: where it sounds from (room coordinates).
    """

    class_name: str
    class_index: int
    clip_id: str
    track: int
    onset: float
    offset: float
    source_start: float
    level_db: float
    trajectory: Trajectory
