"""Turn ACCDOA-style output vectors into per-frame detections (:class:`~soundloc.dataformat.DcaseLabels`).

A detection is a row ``(frame, class, track, azimuth, elevation, distance)`` of a DCASE label file
(degrees, azimuth counter-clockwise from +x in (-180, 180], elevation up; distance in metres or NaN),
so decoded predictions are written with :func:`soundloc.dataformat.write_dcase_csv` and scored by
:mod:`soundloc.metrics.seld` directly.

Multi-track outputs are merged as the DCASE 2022-2024 baselines do (:func:`unify_tracks`): in
each (frame, class), two active tracks (vector norm above the threshold) whose directions are less
than ``unify_deg`` apart are "similar"; with no similar pair every active track is a detection;
with one similar pair the pair becomes one detection (the mean of the two vectors, and of their
distances) and the third track is kept if active; with two or more similar pairs the three tracks
become one detection (their mean). A merged detection takes the lower track index.
"""

from __future__ import annotations

import numpy as np

from soundloc.dataformat import DcaseLabels
from soundloc.geometry import cart_to_sph_deg

_EPS = 1e-12


def _unit(v: np.ndarray, axis: int) -> np.ndarray:
    return np.asarray(v / np.maximum(np.linalg.norm(v, axis=axis, keepdims=True), _EPS))


def labels_from_mask(
    mask: np.ndarray,
    vectors: np.ndarray | None,
    *,
    distance: np.ndarray | None = None,
    track: int | np.ndarray = 0,
    frame_offset: int = 0,
) -> DcaseLabels:
    """Rows for the true entries of ``mask``.

    Args:
        mask: ``(T, C)`` bool, the active (frame, class) pairs.
        vectors: ``(T, 3, C)`` direction vectors (any length > 0), or ``None`` for class-only rows
            (azimuth and elevation NaN).
        distance: ``(T, C)`` metres, or ``None`` (NaN).
        track: the rows' track index, or a ``(T, C)`` int array.
        frame_offset: added to the frame index.

    Returns:
        The rows, sorted by (frame, class, track).
    """
    t, c = np.nonzero(mask)
    n = len(t)
    if vectors is None:
        az = np.full(n, np.nan)
        el = np.full(n, np.nan)
    else:
        az, el = cart_to_sph_deg(_unit(vectors[t, :, c].reshape(n, 3), axis=1)) if n else (np.zeros(0), np.zeros(0))
    tr = np.broadcast_to(np.asarray(track, dtype=np.int64), mask.shape)[t, c]
    dist = np.full(n, np.nan) if distance is None else np.asarray(distance[t, c], dtype=np.float64)
    return DcaseLabels(t.astype(np.int64) + int(frame_offset), c.astype(np.int64), tr.astype(np.int64),
                       np.asarray(az, dtype=np.float64), np.asarray(el, dtype=np.float64), dist).sorted()


def concat_labels(parts: list[DcaseLabels]) -> DcaseLabels:
    """Rows of all ``parts``, sorted by (frame, class, track)."""
    if not parts:
        return DcaseLabels.empty()
    return DcaseLabels(*(np.concatenate([getattr(p, k) for p in parts])
                         for k in ("frame", "class_index", "track", "azimuth", "elevation", "distance"))).sorted()


def unify_tracks(
    vectors: np.ndarray,
    distance: np.ndarray | None = None,
    *,
    threshold: float = 0.5,
    unify_deg: float = 15.0,
    frame_offset: int = 0,
) -> DcaseLabels:
    """Detections of one clip's 3-track multi-ACCDOA output (see the module docstring).

    Args:
        vectors: ``(T, 3, 3, C)`` (frames, tracks, x/y/z, classes) activity-coupled DOA vectors.
        distance: ``(T, 3, C)`` metres (multi-ACCDDOA) or ``None``.
        threshold: a track is active when its vector norm exceeds this.
        unify_deg: tracks of one class closer than this (degrees) are merged.
        frame_offset: added to the frame index.
    """
    if vectors.ndim != 4 or vectors.shape[1:3] != (3, 3):
        raise ValueError(f"unify_tracks: vectors must be (frames, 3, 3, classes), got {vectors.shape}")
    v = np.asarray(vectors, dtype=np.float64)
    active = np.linalg.norm(v, axis=2) > threshold  # (T, 3, C)
    u = _unit(v, axis=2)
    limit = np.deg2rad(unify_deg)

    def similar(i: int, j: int) -> np.ndarray:
        cos = np.clip(np.sum(u[:, i] * u[:, j], axis=1), -1.0, 1.0)  # (T, C)
        return np.asarray(active[:, i] & active[:, j] & (np.arccos(cos) < limit))

    s01, s12, s20 = similar(0, 1), similar(1, 2), similar(2, 0)
    nsim = s01.astype(int) + s12 + s20
    d = None if distance is None else np.asarray(distance, dtype=np.float64)

    def mean(tracks: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        vm = v[:, list(tracks)].mean(axis=1)
        return vm, (None if d is None else d[:, list(tracks)].mean(axis=1))

    parts = []
    for k in range(3):  # no similar pair: every active track
        parts.append(labels_from_mask(active[:, k] & (nsim == 0), v[:, k], distance=None if d is None else d[:, k],
                                      track=k, frame_offset=frame_offset))
    one = nsim == 1
    for pair, other, flag in (((0, 1), 2, s01), ((1, 2), 0, s12), ((0, 2), 1, s20)):
        sel = one & flag
        parts.append(labels_from_mask(sel & active[:, other], v[:, other], distance=None if d is None else d[:, other],
                                      track=other, frame_offset=frame_offset))
        vm, dm = mean(pair)
        parts.append(labels_from_mask(sel, vm, distance=dm, track=min(pair), frame_offset=frame_offset))
    vm, dm = mean((0, 1, 2))
    parts.append(labels_from_mask(nsim >= 2, vm, distance=dm, track=0, frame_offset=frame_offset))
    return concat_labels(parts)
