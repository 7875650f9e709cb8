"""Labels of a scene: per-frame DCASE rows in the array's frame.

The label of an event in 100 ms frame ``f`` (covering ``[0.1 f, 0.1 (f + 1))`` s) exists when the
frame centre ``0.1 (f + 0.5)`` lies in ``[onset, offset)`` (an event shorter than that rule can
see gets the frame holding its midpoint). Its direction is from the array centre to the source
position active at the frame centre, rotated into the array's frame
(``R^T (p - c)``, :meth:`ArrayPose.to_array_frame`): azimuth counter-clockwise from the array's
+x in (-180, 180], elevation up, degrees; distance in metres.
"""

from __future__ import annotations

import math

import numpy as np

from soundloc.dataformat import LABEL_HOP_S, DcaseLabels
from soundloc.geometry import cart_to_sph_deg
from soundloc.scenes.sample import ArrayPose, SceneEvent


def event_frames(onset: float, offset: float, num_frames: int, hop: float = LABEL_HOP_S) -> np.ndarray:
    """Label frames of an event ``[onset, offset)`` seconds (see the module docstring), ``(F,)`` int."""
    first = int(math.ceil(onset / hop - 0.5 - 1e-9))
    last = int(math.ceil(offset / hop - 0.5 - 1e-9)) - 1  # centre < offset
    frames = np.arange(max(first, 0), min(last, num_frames - 1) + 1)
    if len(frames) == 0:
        mid = int((onset + offset) / 2.0 / hop)
        frames = np.array([min(max(mid, 0), num_frames - 1)])
    return frames


def scene_labels(events: list[SceneEvent], pose: ArrayPose, num_frames: int, hop: float = LABEL_HOP_S) -> DcaseLabels:
    """DCASE label rows of ``events`` heard by an array at ``pose``, sorted by (frame, class, track)."""
    rows = []
    for ev in events:
        frames = event_frames(ev.onset, ev.offset, num_frames, hop)
        centres = (frames + 0.5) * hop - ev.onset
        pts = ev.trajectory.positions[ev.trajectory.point_index(centres)]  # (F, 3)
        local = pose.to_array_frame(pts)
        az, el = cart_to_sph_deg(local)
        dist = np.linalg.norm(local, axis=-1)
        for f, a, e, d in zip(frames, np.atleast_1d(az), np.atleast_1d(el), dist):
            rows.append((int(f), ev.class_index, ev.track, float(a), float(e), float(d)))
    return DcaseLabels.from_rows(rows).sorted()
