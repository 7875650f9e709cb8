"""Frame-level training targets from DCASE labels.

The label format itself (:class:`DcaseLabels`, reading and writing the CSVs, the 100 ms label hop)
lives in :mod:`soundloc.dataformat`; its names are re-exported here for convenience.

Frame-level targets (:func:`labels_to_targets`) hold ``K`` track slots per class: in each frame
the rows of one class, sorted by track id, fill slots ``0..K-1`` (extra rows are dropped).
"""

from __future__ import annotations

import math

import numpy as np

from soundloc.dataformat import (
    DISTANCE_UNITS,
    LABEL_HOP_S,
    DcaseLabels,
    format_dcase_rows,
    num_label_frames,
    read_dcase_csv,
    write_dcase_csv,
)

__all__ = ["DISTANCE_UNITS", "LABEL_HOP_S", "DcaseLabels", "format_dcase_rows", "labels_to_targets", "num_label_frames",
           "read_dcase_csv", "write_dcase_csv"]


def labels_to_targets(
    labels: DcaseLabels, num_frames: int, num_classes: int, max_tracks: int = 3, frame_offset: int = 0
) -> dict[str, np.ndarray]:
    """Frame-level targets from label rows.

    Args:
        labels: the rows of one file.
        num_frames: ``T``, frames in the window.
        num_classes: ``C``.
        max_tracks: ``K`` slots per class.
        frame_offset: label frame that becomes target frame 0 (for windows into a long file).

    Returns:
        ``activity`` ``(T, K, C)`` float32 in {0, 1}; ``doa`` ``(T, K, C, 3)`` float32 unit vectors
        (zero where inactive); ``distance`` ``(T, K, C)`` float32 metres (0 where inactive or
        unknown). Multi-ACCDOA targets are ``activity[..., None] * doa``.

    Raises:
        ValueError: a class index ``>= num_classes``.
    """
    if max_tracks < 1:
        raise ValueError(f"max_tracks must be >= 1, got {max_tracks}")
    act = np.zeros((num_frames, max_tracks, num_classes), dtype=np.float32)
    doa = np.zeros((num_frames, max_tracks, num_classes, 3), dtype=np.float32)
    dist = np.zeros((num_frames, max_tracks, num_classes), dtype=np.float32)
    if len(labels) == 0:
        return {"activity": act, "doa": doa, "distance": dist}
    if int(labels.class_index.max()) >= num_classes:
        raise ValueError(f"label class {int(labels.class_index.max())} is out of range for {num_classes} classes")
    f = labels.frame - frame_offset
    keep = (f >= 0) & (f < num_frames)
    sel = labels.select(keep)
    f = f[keep]
    order = np.lexsort((sel.track, sel.class_index, f))
    dirs = sel.directions()
    slot_of: dict[tuple[int, int], int] = {}
    for i in order:
        key = (int(f[i]), int(sel.class_index[i]))
        k = slot_of.get(key, 0)
        slot_of[key] = k + 1
        if k >= max_tracks:
            continue
        t, c = key
        act[t, k, c] = 1.0
        doa[t, k, c] = dirs[i]
        d = sel.distance[i]
        dist[t, k, c] = d if math.isfinite(d) else 0.0
    return {"activity": act, "doa": doa, "distance": dist}
