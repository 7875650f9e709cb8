"""Audio-visual sound source localization metrics: cIoU, cIoU@0.5 (AP50), AUC, and detection AP / max-F1.

Maps are images: heatmaps and ground-truth maps are ``(batch, H, W)`` (or one ``(H, W)`` map), rows are
image ``y`` (down), columns image ``x`` (right). Boxes are ``[xmin, ymin, xmax, ymax]`` in pixels with
exclusive ends (a box covers ``map[ymin:ymax, xmin:xmax]``).

**The EZ-VSL / LVS protocol** (reproduced exactly, checked against the official evaluator's outputs in
``tests/data/reference/vsl_ezvsl/``):

1. Boxes to 224 px: Flickr-SoundNet annotations are integers on a 256 scale, ``int(224 * v / 256)``
   (:func:`flickr_boxes_to_pixels`); VGG-SS boxes are normalised floats, ``(clip(b, 0, 1) * 224).astype(int)``
   (:func:`vggss_boxes_to_pixels`). Both truncate.
2. Ground-truth map (:func:`gt_map_from_boxes`): the count of boxes covering each pixel. Flickr (one box per
   annotator, "consensus"): ``min(count / 2, 1)``, so a pixel inside one box weighs 0.5 and inside two or
   more 1. VGG-SS: binary ``count > 0``.
3. The heatmap is min-max normalised in float32 (left unchanged when constant), and the prediction mask is
   every pixel ``>=`` the value of rank ``int(H * W / 2)`` (0-based) in ascending order: the *median
   threshold*, which marks at least half of the image (ties at the threshold are all positive).
4. ``cIoU = sum(mask * gt) / (sum(gt) + sum(mask * (gt == 0)))``.
5. Over a set: ``AP50 = mean(cIoU >= 0.5)``, mean cIoU, and ``AUC`` = trapezoid area under
   ``y_i = mean(cIoU >= 0.05 * i)`` over ``x_i = 0.05 * i``, ``i = 0..20`` (the float grid of the official
   code, :data:`AUC_THRESHOLDS`).

The official evaluator passes the ground-truth map with a leading batch axis and is only right at batch
size 1; everything here is per sample and gives identical results at any batch size.

**Negatives and the sounding-object confidence** (SLAVC's extended protocol, defined precisely here).
A sample whose ground-truth map is all zero has *no sounding object on screen* (silent audio, noise-only
audio, or a sound whose source is off screen); its cIoU is undefined (NaN here; the official formula would
give 0) and it is left out of cIoU, AP50 and AUC. A model reports, per sample, a map and a confidence
``s`` that a sounding object is visible. Each sample is one *detection* claim with score ``s``:

* it is a **true positive** when the sample has a sounding object on screen and its cIoU ``>= iou_threshold``;
* every other claim is a **false positive** (a negative sample, or a positive one localised wrongly);
* recall is counted over all ``n_pos`` samples with a sounding object on screen, so a positive that is
  localised wrongly is also a miss (the usual detection convention). SLAVC's own code instead leaves
  wrongly localised positives out of the recall denominator, which lets a model that localises badly
  keep a high recall; we do not reproduce that.

Sweeping a threshold ``t`` over the distinct confidences (a claim is made when ``s >= t``; tied scores
enter together) gives precision ``TP(t) / (TP(t) + FP(t))`` and recall ``TP(t) / n_pos``.
``AP = sum_k (R_k - R_{k-1}) P_k`` (non-interpolated, the step sum of scikit-learn's
``average_precision_score``) and ``max-F1 = max_t 2PR / (P + R)``. AP is NaN without positives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from soundloc.av.boxes import (
    BOX_FORMATS,
    FLICKR_SCALE,
    MAP_SIZE,
    boxes_to_pixels,
    flickr_boxes_to_pixels,
    gt_map_from_boxes,
    gt_maps_from_boxes,
    read_flickr_xml,
    vggss_boxes_to_pixels,
)

__all__ = [
    "AUC_THRESHOLDS",
    "BOX_FORMATS",
    "FLICKR_SCALE",
    "MAP_SIZE",
    "AVLocalizationEvaluator",
    "AVLocalizationResult",
    "CiouResult",
    "DetectionResult",
    "auc_ciou",
    "boxes_to_pixels",
    "ciou",
    "ciou_at",
    "detection_pr",
    "flickr_boxes_to_pixels",
    "gt_map_from_boxes",
    "gt_maps_from_boxes",
    "median_threshold",
    "normalize_maps",
    "read_flickr_xml",
    "vggss_boxes_to_pixels",
]

AUC_THRESHOLDS: tuple[float, ...] = tuple(0.05 * i for i in range(21))
"""The 21 cIoU thresholds of the AUC, computed as the official code does (``0.05 * i`` in floating point)."""


# ---------------------------------------------------------------------------------------------------
# per-sample cIoU
# ---------------------------------------------------------------------------------------------------


def _maps(x: ArrayLike, name: str) -> NDArray[np.float32]:
    a = np.asarray(x)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1] == 0 or a.shape[2] == 0:
        raise ValueError(f"{name} must be (batch, H, W) or (H, W), got shape {np.shape(x)}")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ValueError(f"{name} must be real numbers, got dtype {a.dtype}")
    a = a.astype(np.float32, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return a


def normalize_maps(heatmaps: ArrayLike) -> NDArray[np.float32]:
    """Min-max normalise each map of ``(B, H, W)`` (or ``(H, W)``) to [0, 1] in float32, as the official
    ``normalize_img``; a constant map is returned unchanged. Output ``(B, H, W)`` float32."""
    h = _maps(heatmaps, "heatmaps")
    lo = h.min(axis=(1, 2), keepdims=True)
    span = h.max(axis=(1, 2), keepdims=True) - lo
    const = span[:, 0, 0] == 0
    out: NDArray[np.float32] = h - lo
    out /= np.where(span == 0, np.float32(1), span)
    if const.any():
        out[const] = h[const]
    return out


def median_threshold(maps: ArrayLike) -> NDArray[np.float32]:
    """The official median threshold of each map ``(B, H, W)``: the value of 0-based rank
    ``int(H * W * 0.5)`` in ascending order, ``(B,)`` float32. Pixels ``>=`` it are predicted."""
    m = _maps(maps, "maps")
    flat = m.reshape(m.shape[0], -1)
    k = int(flat.shape[1] * 0.5)
    out: NDArray[np.float32] = np.partition(flat, k, axis=1)[:, k]
    return out


@dataclass(frozen=True)
class CiouResult:
    """Per-sample cIoU and its parts, all ``(B,)``: ``ciou`` (NaN where the ground truth is empty),
    ``intersection = sum(mask * gt)``, ``union = sum(gt) + sum(mask * (gt == 0))``, ``threshold`` (on the
    normalised map), ``n_pred`` (predicted pixels), ``gt_sum``."""

    ciou: NDArray[np.float64]
    intersection: NDArray[np.float64]
    union: NDArray[np.float64]
    threshold: NDArray[np.float32]
    n_pred: NDArray[np.int64]
    gt_sum: NDArray[np.float64]


def _check_threshold(threshold: float | str) -> None:
    """``"median"`` or a number in [0, 1]: the mask rule of :func:`ciou`."""
    if isinstance(threshold, str):
        if threshold != "median":
            raise ValueError(f"threshold must be 'median' or a number in [0, 1], got {threshold!r}")
    elif not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be 'median' or a number in [0, 1], got {threshold!r}")


def ciou(heatmaps: ArrayLike, gt_maps: ArrayLike, *, threshold: float | Literal["median"] = "median") -> CiouResult:
    """Consensus IoU of each heatmap against its ground-truth map.

    ``heatmaps`` ``(B, H, W)`` or ``(H, W)``: raw model scores (any real values; higher = more likely the
    source). ``gt_maps``: the same shape, values in [0, 1] (see :func:`gt_map_from_boxes`). Each heatmap is
    normalised (:func:`normalize_maps`); the prediction mask is ``normalised >= t`` with
    ``t = median_threshold`` (``"median"``, the official protocol) or a fixed ``threshold`` in [0, 1] (as
    SLAVC's evaluator). Per sample, independent of the batch size.
    """
    raw = _maps(heatmaps, "heatmaps")
    g = _maps(gt_maps, "gt_maps")
    if g.shape != raw.shape:
        raise ValueError(f"gt_maps shape {g.shape} does not match heatmaps shape {raw.shape}")
    if g.min() < 0 or g.max() > 1:
        raise ValueError("gt_maps must lie in [0, 1]")
    _check_threshold(threshold)
    # a few maps at a time: the same values, and the work stays in the CPU cache
    parts = [_ciou_chunk(raw[i : i + _CHUNK], g[i : i + _CHUNK], threshold) for i in range(0, raw.shape[0], _CHUNK)]
    return CiouResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                        ("ciou", "intersection", "union", "threshold", "n_pred", "gt_sum")))


_CHUNK = 4


def _ciou_chunk(heatmaps: NDArray[np.float32], g: NDArray[np.float32], threshold: float | str) -> CiouResult:
    h = normalize_maps(heatmaps)
    if isinstance(threshold, str):
        thr = median_threshold(h)
    else:
        thr = np.full(h.shape[0], threshold, dtype=np.float32)
    mask = h >= thr[:, None, None]
    inter = (g * mask).sum(axis=(1, 2), dtype=np.float64)  # g * 0|1 is exact in float32; sums in float64
    gt_sum = g.sum(axis=(1, 2), dtype=np.float64)
    union = gt_sum + np.count_nonzero(mask & (g == 0), axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(gt_sum > 0, inter / np.where(union > 0, union, 1.0), np.nan)
    return CiouResult(ciou=c, intersection=inter, union=union, threshold=thr,
                      n_pred=np.count_nonzero(mask, axis=(1, 2)).astype(np.int64), gt_sum=gt_sum)


# ---------------------------------------------------------------------------------------------------
# set-level scores
# ---------------------------------------------------------------------------------------------------


def _valid_cious(cious: ArrayLike) -> NDArray[np.float64]:
    c = np.asarray(cious, dtype=np.float64).ravel()
    return c[~np.isnan(c)]


def ciou_at(cious: ArrayLike, threshold: float = 0.5) -> float:
    """Share of samples with ``cIoU >= threshold`` (``threshold=0.5``: the "cIoU@0.5" / AP50 of the
    papers). NaN entries (no object on screen) are skipped; NaN when none is left."""
    c = _valid_cious(cious)
    return float(np.mean(c >= threshold)) if c.size else float("nan")


def auc_ciou(cious: ArrayLike) -> float:
    """Area under the success curve ``mean(cIoU >= x)`` over :data:`AUC_THRESHOLDS` (trapezoid).
    NaN entries are skipped; NaN when none is left."""
    c = _valid_cious(cious)
    if not c.size:
        return float("nan")
    x = np.asarray(AUC_THRESHOLDS)
    y = np.array([np.sum(c >= t) / c.size for t in AUC_THRESHOLDS])
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


@dataclass(frozen=True)
class DetectionResult:
    """Precision-recall sweep over the confidence (see the module docstring). ``thresholds`` ``(T,)``
    descending distinct confidences; ``precision`` / ``recall`` ``(T,)`` when claiming every sample with
    ``confidence >= threshold``; ``ap``; ``max_f1`` and the ``f1_threshold`` reaching it (NaN if none);
    ``n_pos`` samples with a sounding object on screen, ``n_correct`` of them localised with cIoU >= the IoU
    threshold."""

    ap: float
    max_f1: float
    f1_threshold: float
    thresholds: NDArray[np.float64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    n_pos: int
    n_correct: int


def detection_pr(cious: ArrayLike, confidence: ArrayLike, *, iou_threshold: float = 0.5) -> DetectionResult:
    """AP and max-F1 over all samples, negatives included (see the module docstring).

    ``cious`` ``(N,)``: per-sample cIoU, NaN for samples with no sounding object on screen (negatives).
    ``confidence`` ``(N,)``: the model's sounding-object confidence (any real scale, higher = more sure).
    """
    c = np.asarray(cious, dtype=np.float64).ravel()
    s = np.asarray(confidence, dtype=np.float64).ravel()
    if c.shape != s.shape:
        raise ValueError(f"confidence has {s.size} values for {c.size} cIoU values")
    if not np.isfinite(s).all():
        raise ValueError("confidence contains NaN or infinite values")
    pos = ~np.isnan(c)
    correct = pos & (np.where(pos, c, -1.0) >= iou_threshold)
    n_pos, n_correct = int(pos.sum()), int(correct.sum())
    order = np.argsort(-s, kind="stable")
    s_sorted, tp_sorted = s[order], correct[order]
    tp = np.cumsum(tp_sorted)
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s.size - 1] if s.size else np.zeros(0, dtype=np.int64)
    tp_at = tp[last].astype(np.float64)
    claims = (last + 1).astype(np.float64)
    precision = tp_at / claims
    recall = tp_at / n_pos if n_pos else np.full(tp_at.shape, np.nan)
    if n_pos == 0:
        ap = float("nan")
    else:
        ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if f1.size and n_pos:
        best = int(np.argmax(f1))
        max_f1, f1_thr = float(f1[best]), float(s_sorted[last[best]])
    else:
        max_f1, f1_thr = (0.0 if n_pos else float("nan")), float("nan")
    return DetectionResult(ap=ap, max_f1=max_f1, f1_threshold=f1_thr, thresholds=s_sorted[last], precision=precision,
                           recall=recall, n_pos=n_pos, n_correct=n_correct)


# ---------------------------------------------------------------------------------------------------
# accumulating evaluator
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AVLocalizationResult:
    """Scores of a set. ``n`` samples, ``n_pos`` with a sounding object on screen (cIoU defined),
    ``n_neg`` without. ``ciou_ap50`` (= cIoU@0.5), ``ciou_mean``, ``auc`` over the positives;
    ``ap`` / ``max_f1`` over all samples from the confidences (NaN when no confidence was given);
    ``per_sample_ciou`` ``(n,)`` (NaN for negatives) and ``confidence`` ``(n,)`` (NaN when not given)."""

    n: int
    n_pos: int
    n_neg: int
    ciou_ap50: float
    ciou_mean: float
    auc: float
    ap: float
    max_f1: float
    per_sample_ciou: NDArray[np.float64] = field(repr=False)
    confidence: NDArray[np.float64] = field(repr=False)

    def to_dict(self) -> dict[str, float | int]:
        """The scalar scores (for tables and JSON)."""
        return {"n": self.n, "n_pos": self.n_pos, "n_neg": self.n_neg, "cIoU@0.5": self.ciou_ap50,
                "cIoU_mean": self.ciou_mean, "AUC": self.auc, "AP": self.ap, "max_F1": self.max_f1}


class AVLocalizationEvaluator:
    """Accumulates per-sample results batch by batch; :meth:`result` scores everything seen.

    Right at any batch size: each sample is scored on its own (``update`` with batches of 1, 7 or 40
    gives the same per-sample values). ``threshold``: ``"median"`` (the EZ-VSL protocol) or a fixed
    threshold on the normalised map. ``iou_threshold``: the cIoU a localisation needs to count as correct
    for AP50 / AP / max-F1.

    Example::

        ev = AVLocalizationEvaluator()
        for heatmaps, gt, conf in batches:      # (B, H, W), (B, H, W), (B,)
            ev.update(heatmaps, gt, confidence=conf)
        print(ev.result().to_dict())
    """

    def __init__(self, *, threshold: float | Literal["median"] = "median", iou_threshold: float = 0.5) -> None:
        _check_threshold(threshold)
        if not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        self.threshold = threshold
        self.iou_threshold = float(iou_threshold)
        self._ciou: list[NDArray[np.float64]] = []
        self._conf: list[NDArray[np.float64]] = []

    def __len__(self) -> int:
        return int(sum(c.size for c in self._ciou))

    def reset(self) -> None:
        """Forget every sample."""
        self._ciou.clear()
        self._conf.clear()

    def update(self, heatmaps: ArrayLike, gt_maps: ArrayLike, confidence: ArrayLike | None = None) -> NDArray[np.float64]:
        """Score a batch: ``heatmaps`` and ``gt_maps`` ``(B, H, W)`` (all-zero gt = no sounding object on
        screen), ``confidence`` ``(B,)`` or None. Returns the batch's cIoU ``(B,)`` (NaN for negatives)."""
        res = ciou(heatmaps, gt_maps, threshold=self.threshold)
        b = res.ciou.size
        if confidence is None:
            conf = np.full(b, np.nan)
        else:
            conf = np.asarray(confidence, dtype=np.float64).ravel()
            if conf.size != b:
                raise ValueError(f"confidence has {conf.size} values for a batch of {b}")
            if not np.isfinite(conf).all():
                raise ValueError("confidence contains NaN or infinite values")
        self._ciou.append(res.ciou)
        self._conf.append(conf)
        return res.ciou

    def result(self) -> AVLocalizationResult:
        """Scores of every sample seen so far."""
        c = np.concatenate(self._ciou) if self._ciou else np.zeros(0)
        s = np.concatenate(self._conf) if self._conf else np.zeros(0)
        n_pos = int((~np.isnan(c)).sum())
        ap = max_f1 = float("nan")
        if s.size and not np.isnan(s).any():
            det = detection_pr(c, s, iou_threshold=self.iou_threshold)
            ap, max_f1 = det.ap, det.max_f1
        valid = _valid_cious(c)
        return AVLocalizationResult(
            n=int(c.size), n_pos=n_pos, n_neg=int(c.size) - n_pos,
            ciou_ap50=ciou_at(c, self.iou_threshold),
            ciou_mean=float(valid.mean()) if valid.size else float("nan"),
            auc=auc_ciou(c), ap=ap, max_f1=max_f1, per_sample_ciou=c, confidence=s)
