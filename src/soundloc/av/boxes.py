"""Boxes and ground-truth maps of the visual sound localization benchmarks (Flickr-SoundNet, VGG-SS).

Boxes are ``[xmin, ymin, xmax, ymax]``; pixel boxes have exclusive ends (a box covers
``map[ymin:ymax, xmin:xmax]``; rows are image ``y``, downwards). Flickr-SoundNet annotations are integers
on a 256-pixel scale, one box per annotator (several annotators, each possibly several boxes), read from
per-image XML files (:func:`read_flickr_xml`); VGG-SS boxes are normalised floats. The conversions and the
ground-truth map rules are the official EZ-VSL / LVS ones (see :mod:`soundloc.metrics.av`, which
re-exports everything here and scores maps); they live here, below the metrics, because the dataset
loaders of :mod:`soundloc.av.folders` need them too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from os import PathLike
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["BOX_FORMATS", "FLICKR_SCALE", "MAP_SIZE", "BoxFormat", "boxes_to_pixels", "flickr_boxes_to_pixels",
           "gt_map_from_boxes", "gt_maps_from_boxes", "read_flickr_xml", "vggss_boxes_to_pixels"]

MAP_SIZE = 224
"""Side of the square maps of the standard protocol (pixels)."""

FLICKR_SCALE = 256
"""Flickr-SoundNet annotations are integers on a 256-pixel scale."""

BOX_FORMATS = ("flickr", "vggss")
"""Annotation formats: ``flickr`` (256-scale ints, soft consensus maps), ``vggss`` (normalised floats, binary maps)."""

BoxFormat = Literal["flickr", "vggss"]


def _check_format(fmt: str) -> None:
    if fmt not in BOX_FORMATS:
        raise ValueError(f"unknown box format {fmt!r}; choose from {', '.join(BOX_FORMATS)}")


def _boxes_array(boxes: ArrayLike, name: str) -> NDArray[np.float64]:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 4))
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name} must be [xmin, ymin, xmax, ymax] rows, got shape {np.shape(boxes)}")
    if not np.isfinite(b).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return b


# ---------------------------------------------------------------------------------------------------
# boxes and ground-truth maps
# ---------------------------------------------------------------------------------------------------


def flickr_boxes_to_pixels(boxes: ArrayLike, *, size: int = MAP_SIZE) -> NDArray[np.int64]:
    """Flickr-SoundNet boxes ``(K, 4)`` (integers on a 256 scale) -> pixel boxes ``(K, 4)`` on a
    ``size`` map: ``int(size * v / 256)`` per coordinate (truncation, as the official loader)."""
    b = _boxes_array(boxes, "Flickr boxes")
    if (b != np.round(b)).any():
        raise ValueError("Flickr boxes must be integers on the 256-pixel scale")
    return np.trunc(size * b / FLICKR_SCALE).astype(np.int64)


def vggss_boxes_to_pixels(boxes: ArrayLike, *, size: int = MAP_SIZE) -> NDArray[np.int64]:
    """VGG-SS boxes ``(K, 4)`` (normalised floats, nominally in [0, 1]) -> pixel boxes ``(K, 4)``:
    ``(clip(b, 0, 1) * size).astype(int)`` (clipped, then truncated)."""
    b = _boxes_array(boxes, "VGG-SS boxes")
    return (np.clip(b, 0.0, 1.0) * size).astype(np.int64)


def boxes_to_pixels(boxes: ArrayLike, fmt: str, *, size: int = MAP_SIZE) -> NDArray[np.int64]:
    """Annotation boxes in format ``fmt`` (``"flickr"`` or ``"vggss"``) -> pixel boxes ``(K, 4)``."""
    _check_format(fmt)
    return flickr_boxes_to_pixels(boxes, size=size) if fmt == "flickr" else vggss_boxes_to_pixels(boxes, size=size)


def read_flickr_xml(path: str | PathLike[str]) -> NDArray[np.int64]:
    """Boxes ``(K, 4)`` (256-scale ints, one per annotator) from a Flickr-SoundNet annotation XML file.

    Every ``bbox`` element two levels below the root is one box (``bndbox``, the Pascal VOC name, is read
    the same way); its ``xmin/ymin/xmax/ymax`` children are read by name when present, else its last four
    children in order (the official loader skips the first child and reads the next four).
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise ValueError(f"cannot read Flickr annotation {path}: {e}") from None
    boxes: list[list[int]] = []
    for obj in root:
        for el in obj:
            if el.tag not in ("bbox", "bndbox"):
                continue
            named = {c.tag: c.text for c in el}
            texts = [named.get(k) for k in ("xmin", "ymin", "xmax", "ymax")]
            if any(t is None for t in texts):
                texts = [c.text for c in list(el)[-4:]]
            try:
                boxes.append([int(str(t).strip()) for t in texts])
            except ValueError:
                raise ValueError(f"Flickr annotation {path}: a bbox does not hold four integers") from None
            if len(boxes[-1]) != 4:
                raise ValueError(f"Flickr annotation {path}: a bbox does not hold four integers")
    return np.asarray(boxes, dtype=np.int64).reshape(-1, 4)


def gt_map_from_boxes(boxes_px: ArrayLike, fmt: str, *, size: int | tuple[int, int] = MAP_SIZE) -> NDArray[np.float32]:
    """Ground-truth map ``(H, W)`` float32 from pixel boxes ``(K, 4)`` (exclusive ends; see
    :func:`boxes_to_pixels`). ``fmt="flickr"``: soft consensus ``min(count / 2, 1)`` (values 0, 0.5, 1);
    ``fmt="vggss"``: binary. Coordinates outside the map are cut off as numpy slicing does. No boxes
    gives an all-zero map (no sounding object on screen)."""
    _check_format(fmt)
    h, w = (size, size) if isinstance(size, int) else size
    b = _boxes_array(boxes_px, "pixel boxes")
    if (b != np.round(b)).any():
        raise ValueError("pixel boxes must be integers (convert with boxes_to_pixels)")
    count = np.zeros((h, w), dtype=np.int64)
    for xmin, ymin, xmax, ymax in b.astype(np.int64):
        count[_cut(ymin, h) : _cut(ymax, h), _cut(xmin, w) : _cut(xmax, w)] += 1
    if fmt == "flickr":
        return np.minimum(count / 2.0, 1.0).astype(np.float32)
    return (count > 0).astype(np.float32)


def _cut(v: np.int64, n: int) -> int:
    """A slice bound as numpy reads it (negative counts from the end), clamped to [0, n]."""
    i = int(v)
    return max(0, n + i) if i < 0 else min(i, n)


def gt_maps_from_boxes(boxes_px: Sequence[ArrayLike], fmt: str, *, size: int | tuple[int, int] = MAP_SIZE) -> NDArray[np.float32]:
    """Ground-truth maps ``(B, H, W)`` for a batch: ``boxes_px[i]`` are the pixel boxes of sample ``i``."""
    h, w = (size, size) if isinstance(size, int) else size
    if len(boxes_px) == 0:
        return np.zeros((0, h, w), dtype=np.float32)
    return np.stack([gt_map_from_boxes(b, fmt, size=(h, w)) for b in boxes_px])
