"""DCASE SELD metrics: the DCASE2023 segment-based and the DCASE2024 frame-wise (with distance) scores.

Both reproduce the official scoring code, quirks included (see ``tests/data/reference/README.md``):

* **dcase2023** (``sharathadavanne/seld-dcase2023``, ``SELDMetrics``): location-sensitive detection
  ER_20° / F_20° and class-sensitive localization LE_CD / LR_CD on 1 s segments of 10 label frames;
  ``SELD = mean(ER, 1 - F, LE / 180, 1 - LR)``.
* **dcase2024** (``partha2409/DCASE2024_seld_baseline``, frame-wise ``SELDMetrics`` with distance):
  F_20°/1.0 (a matched pair counts only when its angle is <= 20° and its relative distance error
  <= 1), DOAE, DistE (metres), RDE, plus ER and LR; ``SELD = nanmean(1 - F, DOAE / 180, RDE)``.

Quirks kept on purpose (each is what the official code does):

* The scored length comes from the **reference's last frame index** ``M``. dcase2023 scores
  ``ceil(M / 10)`` segments (frame ``M`` itself is dropped when ``M`` is a multiple of 10; prediction
  rows after ``M`` inside the last segment count); dcase2024 scores frames ``0 .. M-1`` (the last
  reference frame never counts). Prediction rows beyond that are ignored. An empty reference file is
  an error (the official code crashes on it).
* The track column is ignored: simultaneous rows of one class are told apart by their **row
  position** in the file within that frame (dcase2023 averages the matched angle per reference row
  position and segment).
* Macro averages run over **all** ``num_classes`` classes: a class absent from both files has
  F = 0, LE = 180, LR = 0 in dcase2023, and in dcase2024 F = 0 and NaN DOAE/DistE/RDE (ignored by
  ``nanmean``) with a per-class SELD of 1. The macro dcase2024 SELD is the mean of per-class scores.
* ``eps = 2.22e-16`` in every denominator (a perfect F is 0.9999999999999998); dcase2023 computes the
  great-circle angle with ``arccos`` of the spherical-coordinate form (an exact match gives ~1e-6°),
  dcase2024 normalises Cartesian vectors by ``sqrt(x²+y²+z²+1e-10)`` (an exact match gives ~8.1e-4°).
* dcase2024: no matched pair gives NaN DOAE/DistE/RDE (``None`` in :meth:`to_dict`).

Angles are degrees at the edges (azimuth counter-clockwise from +x in (-180, 180], elevation up),
distances metres, scores fractions (not percent). Frames are 100 ms label frames.

Implementation: each file is scored with array operations over all (frame, class) groups at once;
the Hungarian matching of the few simultaneous rows per group is an exhaustive search over the
assignments of groups with the same (rows, predictions) size, vectorised over the groups, with
``scipy.optimize.linear_sum_assignment`` (the official matcher) used where two assignments tie.
Counters are additive, so a folder is scored as one set by summing its files' counters, as the
official ``get_SELD_Results`` does.

Example:
    >>> from soundloc.dataformat import DcaseLabels
    >>> ref = DcaseLabels.from_rows([(f, 3, 0, 40.0, 10.0, 2.0) for f in range(20)])
    >>> pred = DcaseLabels.from_rows([(f, 3, 0, 50.0, 10.0, 2.5) for f in range(20)])
    >>> r = get_seld_scorer("dcase2023", num_classes=13).score(ref, pred, average="micro")
    >>> round(r.f, 6), round(r.le, 2)
    (1.0, 9.85)
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import permutations
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from soundloc.dataformat import DcaseLabels, read_dcase_csv

EPS = float(np.finfo(float).eps)
"""The official code's regulariser in every denominator."""

AVERAGES: tuple[str, ...] = ("macro", "micro")
DISTANCE_UNITS: tuple[str, ...] = ("cm", "m")
DCASE2023_KEYS: tuple[str, ...] = ("ER", "F", "LE", "LR", "SELD_score")
DCASE2024_KEYS: tuple[str, ...] = ("ER", "F", "DOAE", "DistE", "RDE", "LR", "SELD_score")

_MAX_ASSIGNMENTS = 720
"""Groups whose assignment count exceeds this go to scipy one by one (more than 6 rows)."""
_CHUNK_ELEMENTS = 1 << 22
"""Assignment search works on at most about this many (group, assignment, pair) elements at once."""
_TIE_DEG = 1e-9
"""Two assignments whose summed angles differ by at most this are a tie: scipy decides."""


# ---------------------------------------------------------------------------
# counters
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeldCounts:
    """The official ``SELDMetrics`` accumulators. Per-class fields are ``(C,)`` float64 arrays.

    ``total_de`` is the summed angular error in degrees (dcase2023: per matched track-segment,
    dcase2024: per matched pair); ``total_dist`` (metres) and ``total_rel_dist`` are dcase2024's
    summed absolute and relative distance errors (zero for dcase2023). ``s``, ``d``, ``i`` are the
    substitutions, deletions and insertions of the error rate. Counters of files add up (``+``).
    """

    tp: np.ndarray
    fp: np.ndarray
    fp_spatial: np.ndarray
    fn: np.ndarray
    n_ref: np.ndarray
    total_de: np.ndarray
    total_dist: np.ndarray
    total_rel_dist: np.ndarray
    de_tp: np.ndarray
    de_fp: np.ndarray
    de_fn: np.ndarray
    s: float
    d: float
    i: float

    OFFICIAL_NAMES: ClassVar[dict[str, str]] = {
        "tp": "TP", "fp": "FP", "fp_spatial": "FP_spatial", "fn": "FN", "n_ref": "Nref", "total_de": "total_DE",
        "total_dist": "total_DistE", "total_rel_dist": "total_RelDistE", "de_tp": "DE_TP", "de_fp": "DE_FP",
        "de_fn": "DE_FN", "s": "S", "d": "D", "i": "I",
    }

    @classmethod
    def zeros(cls, num_classes: int) -> SeldCounts:
        arrays = {f.name: np.zeros(num_classes) for f in fields(cls) if f.name not in ("s", "d", "i")}
        return cls(**arrays, s=0.0, d=0.0, i=0.0)

    @property
    def num_classes(self) -> int:
        return len(self.tp)

    def __add__(self, other: SeldCounts) -> SeldCounts:
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot add counts of {other.num_classes} classes to counts of {self.num_classes}")
        return SeldCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def to_dict(self) -> dict[str, Any]:
        """Counters under the official names (``TP``, ``FP_spatial``, ``Nref``, ``S`` ...), lists per class."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[self.OFFICIAL_NAMES[f.name]] = v.tolist() if isinstance(v, np.ndarray) else float(v)
        return out


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


class _ResultJSON:
    """``to_dict()`` shared by the result types: ``{key: value for key in keys, "classwise": {key: [C
    floats]}}``, JSON-ready (NaN becomes ``None``)."""

    keys: ClassVar[tuple[str, ...]]
    classwise: Mapping[str, tuple[float, ...]]

    def values(self) -> tuple[float, ...]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _json_float(v) for k, v in zip(self.keys, self.values())}
        out["classwise"] = {k: [_json_float(x) for x in v] for k, v in self.classwise.items()}
        return out


@dataclass(frozen=True)
class Dcase2023Result(_ResultJSON):
    """DCASE2023 scores (fractions; ``le`` in degrees).

    Attributes:
        er, f, le, lr, seld_score: ER_20°, F_20°, LE_CD, LR_CD and the SELD score, macro or micro.
        classwise: per-class ``(C,)`` tuples under the keys of :data:`DCASE2023_KEYS` (``ER``
            repeated, ``F_c``, ``LE_c`` (180 where no track matched), ``LR_c``, ``SELD_c``); the same
            table for both averages (the official micro mode returns none).
        average: ``"macro"`` or ``"micro"``.
        counts: the accumulators the scores come from.
    """

    er: float
    f: float
    le: float
    lr: float
    seld_score: float
    classwise: Mapping[str, tuple[float, ...]]
    average: str
    counts: SeldCounts

    metric: ClassVar[str] = "dcase2023"
    keys: ClassVar[tuple[str, ...]] = DCASE2023_KEYS

    def values(self) -> tuple[float, ...]:
        """The scores in the order of :attr:`keys`."""
        return (self.er, self.f, self.le, self.lr, self.seld_score)



@dataclass(frozen=True)
class Dcase2024Result(_ResultJSON):
    """DCASE2024 scores (fractions; ``doae`` degrees, ``diste`` metres); NaN where undefined.

    Attributes:
        er, f, doae, diste, rde, lr, seld_score: ER, F_20°/1.0, DOA error, absolute and relative
            distance errors, localization recall, SELD score (macro: mean of per-class SELD).
        classwise: per-class ``(C,)`` tuples under the keys of :data:`DCASE2024_KEYS`.
        average, counts: as in :class:`Dcase2023Result`.
    """

    er: float
    f: float
    doae: float
    diste: float
    rde: float
    lr: float
    seld_score: float
    classwise: Mapping[str, tuple[float, ...]]
    average: str
    counts: SeldCounts

    metric: ClassVar[str] = "dcase2024"
    keys: ClassVar[tuple[str, ...]] = DCASE2024_KEYS

    def values(self) -> tuple[float, ...]:
        return (self.er, self.f, self.doae, self.diste, self.rde, self.lr, self.seld_score)


SeldResult = Dcase2023Result | Dcase2024Result


# ---------------------------------------------------------------------------
# grouping and matching (shared)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Groups:
    """Rows of one file stably sorted by (frame, class): group keys, their first row and size."""

    order: np.ndarray  # (R,) row indices, file order kept inside a group
    keys: np.ndarray  # (G,) frame * C + class, ascending
    start: np.ndarray  # (G,) first position in ``order``
    size: np.ndarray  # (G,)


def _group(frame: np.ndarray, cls: np.ndarray, num_classes: int) -> _Groups:
    key = frame * num_classes + cls
    order = np.argsort(key, kind="stable")
    keys, start, size = np.unique(key[order], return_index=True, return_counts=True)
    return _Groups(order, keys, start, size)


def _assignments(r: int, p: int) -> np.ndarray:
    """All one-to-one assignments of ``min(r, p)`` pairs: ``(Q, min(r, p))`` indices into the larger side."""
    k, n = min(r, p), max(r, p)
    return np.array(list(permutations(range(n), k)), dtype=np.int64).reshape(-1, k)


def _best_assignment(c: np.ndarray, perms: np.ndarray, rows_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest assignment per group of ``c`` ``(G, r, p)``: ``(index into perms (G,), tie (G,))``.

    ``perms`` ``(Q, k)`` are column choices per row (``rows_first``, r <= p) or row choices per column.
    A tie: the second cheapest total is within ``_TIE_DEG`` of the cheapest. Groups go in chunks
    so that ``G x Q x k`` stays small.
    """
    g, r, p = c.shape
    q, k = perms.shape
    best = np.zeros(g, dtype=np.int64)
    tie = np.zeros(g, dtype=bool)
    step = max(1, _CHUNK_ELEMENTS // max(q * k, 1))
    for a in range(0, g, step):
        cc = c[a:a + step]
        if rows_first:
            tot = cc[:, np.arange(r)[None, :], perms].sum(axis=-1)  # (G', Q)
        else:
            tot = cc[:, perms, np.arange(p)[None, :]].sum(axis=-1)
        best[a:a + step] = np.argmin(tot, axis=1)
        if q > 1:
            two = np.partition(tot, 1, axis=1)[:, :2]
            tie[a:a + step] = two[:, 1] - two[:, 0] <= _TIE_DEG
    return best, tie


def _match(
    ref_rows: np.ndarray, ref_size: np.ndarray, pred_rows: np.ndarray, pred_size: np.ndarray,
    ref_start: np.ndarray, pred_start: np.ndarray, cost: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching inside each group present in both files.

    Args:
        ref_rows, pred_rows: sorted row indices (``_Groups.order``) of each file.
        ref_size, pred_size, ref_start, pred_start: ``(G,)`` size and first position of each common group.
        cost: ``cost(ref_row_idx (...), pred_row_idx (...)) -> (...)`` pairwise cost (broadcast).

    Returns:
        ``(group, ref_pos, ref_row, pred_row)`` per matched pair, ``min(R, P)`` pairs per group:
        the common-group index, the reference row's position inside its group (file order), and the
        row indices in each file. Ties between assignments are decided by ``linear_sum_assignment``.
    """
    out_g: list[np.ndarray] = []
    out_pos: list[np.ndarray] = []
    out_pcol: list[np.ndarray] = []
    sizes = np.unique(np.stack([ref_size, pred_size], axis=1), axis=0) if len(ref_size) else np.zeros((0, 2))
    for r, p in sizes.astype(int).tolist():
        g = np.flatnonzero((ref_size == r) & (pred_size == p))
        ri = ref_rows[ref_start[g, None] + np.arange(r)]  # (G, r)
        pi = pred_rows[pred_start[g, None] + np.arange(p)]  # (G, p)
        c = cost(ri[:, :, None], pi[:, None, :])  # (G, r, p)
        k = min(r, p)
        if r == 1 and p == 1:
            out_g.append(g)
            out_pos.append(np.zeros(len(g), dtype=np.int64))
            out_pcol.append(np.zeros(len(g), dtype=np.int64))
            continue
        perms = _assignments(r, p) if math.perm(max(r, p), k) <= _MAX_ASSIGNMENTS else None
        if perms is not None:
            best, tie = _best_assignment(c, perms, r <= p)
            ok = ~tie
            sel = perms[best[ok]]  # (G', k)
            if r <= p:
                rows_, cols_ = np.broadcast_to(np.arange(r), sel.shape), sel
            else:  # scipy's order: ascending reference rows
                cols_ = np.argsort(sel, axis=1)
                rows_ = np.take_along_axis(sel, cols_, axis=1)
            out_g.append(np.repeat(g[ok], k))
            out_pos.append(np.asarray(rows_).reshape(-1))
            out_pcol.append(np.asarray(cols_).reshape(-1))
            slow = np.flatnonzero(tie)
        else:
            slow = np.arange(len(g))
        for j in slow:
            rr, cc = linear_sum_assignment(c[j])
            out_g.append(np.full(len(rr), g[j]))
            out_pos.append(rr.astype(np.int64))
            out_pcol.append(cc.astype(np.int64))
    if not out_g:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, e
    grp = np.concatenate(out_g)
    pos = np.concatenate(out_pos)
    pcol = np.concatenate(out_pcol)
    return grp, pos, ref_rows[ref_start[grp] + pos], pred_rows[pred_start[grp] + pcol]


def _common(a: _Groups, b: _Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group keys present in both, with their indices into ``a`` and ``b``."""
    keys, ia, ib = np.intersect1d(a.keys, b.keys, assume_unique=True, return_indices=True)
    return keys, ia, ib


def _check_classes(labels: DcaseLabels, num_classes: int, what: str) -> None:
    if len(labels) and int(labels.class_index.max()) >= num_classes:
        raise ValueError(f"{what}: class {int(labels.class_index.max())} is out of range for {num_classes} classes")


def _nanmean(a: np.ndarray, axis: int | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


R = TypeVar("R", "Dcase2023Result", "Dcase2024Result")


class _SeldScorer(Generic[R]):
    """What both scorers share: the running counters of a set of files and one-file scoring.

    Subclasses set ``num_classes`` and ``_counts`` in ``__init__`` and implement :meth:`file_counts`
    (one file's counters, pure) and :meth:`result` (scores from counters).
    """

    num_classes: int
    _counts: SeldCounts

    @property
    def counts(self) -> SeldCounts:
        return self._counts

    def reset(self) -> None:
        self._counts = SeldCounts.zeros(self.num_classes)

    def file_counts(self, ref: DcaseLabels, pred: DcaseLabels, *, ref_name: str = "reference",
                    pred_name: str = "prediction") -> SeldCounts:
        raise NotImplementedError

    def result(self, *, average: str = "macro", counts: SeldCounts | None = None) -> R:
        raise NotImplementedError

    def update(self, ref: DcaseLabels, pred: DcaseLabels, *, ref_name: str = "reference",
               pred_name: str = "prediction") -> SeldCounts:
        """Score one file into the running set; returns that file's own counters (names go in errors)."""
        c = self.file_counts(ref, pred, ref_name=ref_name, pred_name=pred_name)
        self._counts = self._counts + c
        return c

    def score(self, ref: DcaseLabels, pred: DcaseLabels, *, average: str = "macro") -> R:
        """The scores of one file alone (does not touch the running set)."""
        return self.result(average=average, counts=self.file_counts(ref, pred))


# ---------------------------------------------------------------------------
# DCASE2023
# ---------------------------------------------------------------------------


class Dcase2023Scorer(_SeldScorer[Dcase2023Result]):
    """DCASE2023 segment-based SELD scoring (official ``SELDMetrics`` of ``seld-dcase2023``).

    ``update(ref, pred)`` adds one file's counters; :meth:`result` computes the scores of everything
    added so far (a folder is one set). :meth:`file_counts` and :meth:`score` are pure.

    Args:
        num_classes: ``C`` (13 for STARSS23).
        doa_threshold: degrees; a track-segment whose mean matched angle is ``<= doa_threshold`` is a TP.
        label_hop_s: label frame length in seconds (0.1).
        segment_s: segment length in seconds (1.0); ``segment_s / label_hop_s`` must be a whole number.
    """

    metric: ClassVar[str] = "dcase2023"

    def __init__(self, *, num_classes: int = 13, doa_threshold: float = 20.0, label_hop_s: float = 0.1,
                 segment_s: float = 1.0) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not doa_threshold > 0:
            raise ValueError(f"doa_threshold must be > 0 degrees, got {doa_threshold}")
        if not (label_hop_s > 0 and segment_s > 0):
            raise ValueError(f"label_hop_s and segment_s must be > 0, got {label_hop_s} and {segment_s}")
        ratio = segment_s / label_hop_s
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(f"segment_s / label_hop_s must be a whole number, got {segment_s} / {label_hop_s}")
        self.num_classes = int(num_classes)
        self.doa_threshold = float(doa_threshold)
        self.frames_per_segment = round(ratio)
        self._counts = SeldCounts.zeros(self.num_classes)



    def _angles(self, ref: DcaseLabels, pred: DcaseLabels) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        # the official polar great-circle form, operation for operation (degrees -> radians as x * pi / 180)
        az1, el1 = ref.azimuth * np.pi / 180.0, ref.elevation * np.pi / 180.0
        az2, el2 = pred.azimuth * np.pi / 180.0, pred.elevation * np.pi / 180.0
        s1, c1, s2, c2 = np.sin(el1), np.cos(el1), np.sin(el2), np.cos(el2)

        def cost(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            d = s1[i] * s2[j] + c1[i] * c2[j] * np.cos(np.abs(az1[i] - az2[j]))
            return np.asarray(np.arccos(np.clip(d, -1, 1)) * 180 / np.pi)

        return cost

    def file_counts(self, ref: DcaseLabels, pred: DcaseLabels, *, ref_name: str = "reference",
                    pred_name: str = "prediction") -> SeldCounts:
        """One file's counters (see the module docstring for what is counted).

        Raises:
            ValueError: an empty reference, a class index out of range (naming ``ref_name`` / ``pred_name``).
        """
        C, F, T = self.num_classes, self.frames_per_segment, self.doa_threshold
        if len(ref) == 0:
            raise ValueError(f"{ref_name}: no label rows (the official scoring needs the reference's last frame)")
        _check_classes(ref, C, ref_name)
        _check_classes(pred, C, pred_name)
        last = int(ref.frame.max())
        nseg = -(-last // F)
        nf = nseg * F
        ref = ref.select(ref.frame < nf)
        pred = pred.select(pred.frame < nf)
        gr, gp = _group(ref.frame, ref.class_index, C), _group(pred.frame, pred.class_index, C)

        def seg_max(g: _Groups) -> np.ndarray:  # (nseg, C): most rows of a class in one frame of a segment
            out = np.zeros(nseg * C, dtype=np.int64)
            np.maximum.at(out, (g.keys // C) // F * C + g.keys % C, g.size)
            return out.reshape(nseg, C)

        R, P = seg_max(gr), seg_max(gp)
        keys, ia, ib = _common(gr, gp)
        cost = self._angles(ref, pred)
        grp, pos, ri, pj = _match(gr.order, gr.size[ia], gp.order, gp.size[ib], gr.start[ia], gp.start[ib], cost)
        dist = cost(ri, pj) if len(ri) else np.zeros(0)
        # mean matched angle per (segment, class, reference row position), summed in frame order like the official
        fr = keys[grp] // C
        o = np.argsort(fr, kind="stable")
        fr, pos, dist, cl = fr[o], pos[o], dist[o], (keys[grp] % C)[o]
        npos = max(int(R.max()) if R.size else 0, 1)
        cell = ((fr // F) * C + cl) * npos + pos
        size = nseg * C * npos
        sums = np.bincount(cell, weights=dist, minlength=size).reshape(nseg, C, npos)
        cnt = np.bincount(cell, minlength=size).reshape(nseg, C, npos)
        has = cnt > 0
        avg = sums / np.where(has, cnt, 1)
        tracks = has.sum(-1)
        tp_sc = (has & (avg <= T)).sum(-1)
        fps_sc = (has & (avg > T)).sum(-1)
        de_sc = np.where(has, avg, 0.0).sum(-1)
        matched = tracks > 0
        both = (R > 0) & (P > 0)
        only_ref, only_pred = (R > 0) & (P == 0), (R == 0) & (P > 0)
        unmatched = both & ~matched
        extra = np.where(matched, np.maximum(P - R, 0), 0)
        miss = np.where(matched, np.maximum(R - P, 0), 0)
        fp = extra + np.where(only_pred, P, 0)
        fn = miss + np.where(unmatched, P, 0) + np.where(only_ref, R, 0)
        loc_fp = (fps_sc + fp).sum(1)
        loc_fn = fn.sum(1)
        z = np.zeros(C)
        return SeldCounts(
            tp=tp_sc.sum(0).astype(float), fp=fp.sum(0).astype(float), fp_spatial=fps_sc.sum(0).astype(float),
            fn=fn.sum(0).astype(float), n_ref=R.sum(0).astype(float), total_de=de_sc.sum(0), total_dist=z,
            total_rel_dist=z.copy(), de_tp=tracks.sum(0).astype(float), de_fp=fp.sum(0).astype(float),
            de_fn=fn.sum(0).astype(float), s=float(np.minimum(loc_fp, loc_fn).sum()),
            d=float(np.maximum(0, loc_fn - loc_fp).sum()), i=float(np.maximum(0, loc_fp - loc_fn).sum()),
        )

    def result(self, *, average: str = "macro", counts: SeldCounts | None = None) -> Dcase2023Result:
        """Scores from ``counts`` (default: everything added with :meth:`update`)."""
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {', '.join(AVERAGES)}, got {average!r}")
        k = self._counts if counts is None else counts
        C = k.num_classes
        er = (k.s + k.d + k.i) / (k.n_ref.sum() + EPS)
        f_c = k.tp / (EPS + k.tp + k.fp_spatial + 0.5 * (k.fp + k.fn))
        le_c = k.total_de / (k.de_tp + EPS)
        le_c[k.de_tp == 0] = 180.0
        lr_c = k.de_tp / (EPS + k.de_tp + k.de_fn)
        seld_c = np.mean([np.repeat(er, C), 1 - f_c, le_c / 180, 1 - lr_c], 0)
        classwise = {"ER": (float(er),) * C, "F": _tup(f_c), "LE": _tup(le_c), "LR": _tup(lr_c),
                     "SELD_score": _tup(seld_c)}
        if average == "macro":
            f, le, lr, seld = float(f_c.mean()), float(le_c.mean()), float(lr_c.mean()), float(seld_c.mean())
        else:
            tp, de_tp = k.tp.sum(), k.de_tp.sum()
            f = float(tp / (EPS + tp + k.fp_spatial.sum() + 0.5 * (k.fp.sum() + k.fn.sum())))
            le = float(k.total_de.sum() / float(de_tp + EPS)) if de_tp else 180.0
            lr = float(de_tp / (EPS + de_tp + k.de_fn.sum()))
            seld = float(np.mean([er, 1 - f, le / 180, 1 - lr], 0))
        return Dcase2023Result(float(er), f, le, lr, seld, classwise, average, k)


def _tup(a: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in a)


# ---------------------------------------------------------------------------
# DCASE2024
# ---------------------------------------------------------------------------


class Dcase2024Scorer(_SeldScorer[Dcase2024Result]):
    """DCASE2024 frame-wise SELD scoring with distance (official ``SELDMetrics`` of the 2024 baseline).

    A matched (reference, prediction) pair is a true positive when its angle is ``<= doa_threshold``,
    its absolute distance error ``<= dist_threshold`` and its relative distance error
    ``<= reldist_threshold``; errors are averaged over all matched pairs, passing or not.

    Args:
        num_classes: ``C`` (13 for STARSS23).
        doa_threshold: degrees (20).
        dist_threshold: metres (``inf``: no absolute-distance threshold).
        reldist_threshold: relative distance error threshold (1.0).

    Distances: both label sets in metres (read reference CSVs of STARSS23 2024 with
    ``distance_unit="cm"``). A file without a distance column (5 columns) is an error; a distance
    of 0 is scored as 0 m, as in the official code (so the DCASE2023 baseline's 7-column output,
    whose distances are all 0, scores with every distance 0 m rather than being refused).
    """

    metric: ClassVar[str] = "dcase2024"

    def __init__(self, *, num_classes: int = 13, doa_threshold: float = 20.0, dist_threshold: float = math.inf,
                 reldist_threshold: float = 1.0) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        for name, v in (("doa_threshold", doa_threshold), ("dist_threshold", dist_threshold),
                        ("reldist_threshold", reldist_threshold)):
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        self.num_classes = int(num_classes)
        self.doa_threshold = float(doa_threshold)
        self.dist_threshold = float(dist_threshold)
        self.reldist_threshold = float(reldist_threshold)
        self._counts = SeldCounts.zeros(self.num_classes)



    @staticmethod
    def _unit(lab: DcaseLabels) -> np.ndarray:
        # the official polar -> Cartesian conversion, then its 1e-10-regularised normalisation
        el, az = lab.elevation * np.pi / 180.0, lab.azimuth * np.pi / 180.0
        ce = np.cos(el)
        xyz = np.stack([np.cos(az) * ce, np.sin(az) * ce, np.sin(el)])
        n = np.sqrt(xyz[0] ** 2 + xyz[1] ** 2 + xyz[2] ** 2 + 1e-10)
        return np.asarray(xyz / n)

    @staticmethod
    def _distances(lab: DcaseLabels, what: str) -> np.ndarray:
        d = lab.distance
        if len(lab) and np.all(np.isnan(d)):
            raise ValueError(f"{what}: no distance column; dcase2024 scores distances (6- or 7-column labels)")
        return np.where(np.isnan(d), 0.0, d)

    def file_counts(self, ref: DcaseLabels, pred: DcaseLabels, *, ref_name: str = "reference",
                    pred_name: str = "prediction") -> SeldCounts:
        """One file's counters (see the module docstring for what is counted).

        Raises:
            ValueError: an empty reference, a class index out of range (naming ``ref_name`` / ``pred_name``).
        """
        C = self.num_classes
        if len(ref) == 0:
            raise ValueError(f"{ref_name}: no label rows (the official scoring needs the reference's last frame)")
        _check_classes(ref, C, ref_name)
        _check_classes(pred, C, pred_name)
        last = int(ref.frame.max())
        ref = ref.select(ref.frame < last)
        pred = pred.select(pred.frame < last)
        dr, dp = self._distances(ref, ref_name), self._distances(pred, pred_name)
        ur, up = self._unit(ref), self._unit(pred)

        def cost(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            d = ur[0][i] * up[0][j] + ur[1][i] * up[1][j] + ur[2][i] * up[2][j]
            return np.asarray(np.arccos(np.clip(d, -1, 1)) * 180 / np.pi)

        gr, gp = _group(ref.frame, ref.class_index, C), _group(pred.frame, pred.class_index, C)
        keys, ia, ib = _common(gr, gp)
        grp, _, ri, pj = _match(gr.order, gr.size[ia], gp.order, gp.size[ib], gr.start[ia], gp.start[ib], cost)
        ang = cost(ri, pj) if len(ri) else np.zeros(0)
        derr = np.abs(dr[ri] - dp[pj])
        rel = derr / (dr[ri] + EPS)
        fail = (ang > self.doa_threshold) | (derr > self.dist_threshold) | (rel > self.reldist_threshold)
        ng = len(keys)
        L = np.bincount(grp, weights=fail, minlength=ng)
        Rg, Pg = gr.size[ia], gp.size[ib]
        K = np.minimum(Rg, Pg)
        cls_c = keys % C
        fr_c = keys // C

        def per_class(w: np.ndarray, cl: np.ndarray = cls_c) -> np.ndarray:
            return np.bincount(cl, weights=w, minlength=C).astype(float)

        only_r = np.ones(len(gr.keys), dtype=bool)
        only_r[ia] = False
        only_p = np.ones(len(gp.keys), dtype=bool)
        only_p[ib] = False
        cls_r, cls_p = gr.keys[only_r] % C, gp.keys[only_p] % C
        extra, miss = np.maximum(Pg - Rg, 0), np.maximum(Rg - Pg, 0)
        fp = per_class(extra) + per_class(gp.size[only_p], cls_p)
        fn = per_class(miss) + per_class(gr.size[only_r], cls_r)
        # per-frame substitutions / deletions / insertions
        frames = np.concatenate([fr_c, gr.keys[only_r] // C, gp.keys[only_p] // C])
        f_u, f_inv = np.unique(frames, return_inverse=True)
        n_c, n_r = len(fr_c), int(only_r.sum())
        loc_fp = np.bincount(f_inv, weights=np.concatenate([extra + L, np.zeros(n_r), gp.size[only_p]]),
                             minlength=len(f_u))
        loc_fn = np.bincount(f_inv, weights=np.concatenate([miss, gr.size[only_r], np.zeros(len(frames) - n_c - n_r)]),
                             minlength=len(f_u))
        pair_cls = cls_c[grp]
        return SeldCounts(
            tp=per_class(K - L), fp=fp, fp_spatial=per_class(L), fn=fn,
            n_ref=per_class(gr.size, gr.keys % C),
            total_de=per_class(ang, pair_cls), total_dist=per_class(derr, pair_cls),
            total_rel_dist=per_class(rel, pair_cls), de_tp=per_class(K), de_fp=fp.copy(), de_fn=fn.copy(),
            s=float(np.minimum(loc_fp, loc_fn).sum()), d=float(np.maximum(0, loc_fn - loc_fp).sum()),
            i=float(np.maximum(0, loc_fp - loc_fn).sum()),
        )

    def result(self, *, average: str = "macro", counts: SeldCounts | None = None) -> Dcase2024Result:
        """Scores from ``counts`` (default: everything added with :meth:`update`)."""
        if average not in AVERAGES:
            raise ValueError(f"average must be one of {', '.join(AVERAGES)}, got {average!r}")
        k = self._counts if counts is None else counts
        C = k.num_classes
        er = float((k.s + k.d + k.i) / (k.n_ref.sum() + EPS))
        f_c = k.tp / (EPS + k.tp + k.fp_spatial + 0.5 * (k.fp + k.fn))
        none = k.de_tp == 0
        ang_c = np.where(none, np.nan, k.total_de / (k.de_tp + EPS))
        dist_c = np.where(none, np.nan, k.total_dist / (k.de_tp + EPS))
        rel_c = np.where(none, np.nan, k.total_rel_dist / (k.de_tp + EPS))
        lr_c = k.de_tp / (EPS + k.de_tp + k.de_fn)
        seld_c = _nanmean(np.stack([1 - f_c, ang_c / 180, rel_c]), axis=0)
        classwise = {"ER": (er,) * C, "F": _tup(f_c), "DOAE": _tup(ang_c), "DistE": _tup(dist_c),
                     "RDE": _tup(rel_c), "LR": _tup(lr_c), "SELD_score": _tup(seld_c)}
        if average == "macro":
            f, doae, diste, rde = float(f_c.mean()), float(_nanmean(ang_c)), float(_nanmean(dist_c)), float(_nanmean(rel_c))
            lr, seld = float(lr_c.mean()), float(seld_c.mean())
        else:
            tp, de_tp = k.tp.sum(), k.de_tp.sum()
            f = float(tp / (EPS + tp + k.fp_spatial.sum() + 0.5 * (k.fp.sum() + k.fn.sum())))
            doae = float(k.total_de.sum() / float(de_tp + EPS)) if de_tp else math.nan
            diste = float(k.total_dist.sum() / float(de_tp + EPS)) if de_tp else math.nan
            rde = float(k.total_rel_dist.sum() / float(de_tp + EPS)) if de_tp else math.nan
            lr = float(de_tp / (EPS + de_tp + k.de_fn.sum()))
            seld = float(_nanmean(np.array([1 - f, doae / 180, rde])))
        return Dcase2024Result(er, f, doae, diste, rde, lr, seld, classwise, average, k)


SeldScorer = Dcase2023Scorer | Dcase2024Scorer

SELD_SCORERS: dict[str, type[Dcase2023Scorer | Dcase2024Scorer]] = {
    "dcase2023": Dcase2023Scorer,
    "dcase2024": Dcase2024Scorer,
}
"""Registry of SELD scorers by metric name."""


def get_seld_scorer(name: str, **kwargs: Any) -> SeldScorer:
    """A scorer by metric name (``"dcase2023"`` or ``"dcase2024"``); ``kwargs`` go to its constructor.

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    try:
        cls = SELD_SCORERS[name]
    except KeyError:
        raise ValueError(f"unknown SELD metric {name!r}; choose from {', '.join(SELD_SCORERS)}") from None
    return cls(**kwargs)


# ---------------------------------------------------------------------------
# files and folders
# ---------------------------------------------------------------------------


def _csv_files(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for p in sorted(root.rglob("*.csv")):
        if p.name.startswith("."):
            continue
        if p.name in found:
            raise ValueError(f"{root}: two label files named {p.name} ({found[p.name]} and {p})")
        found[p.name] = p
    return found


def pair_label_files(ref: str | os.PathLike[str], pred: str | os.PathLike[str]) -> list[tuple[str, Path, Path]]:
    """Match reference and prediction label files by file name.

    ``ref`` and ``pred`` are both CSV files (one pair, named after the prediction) or both folders,
    searched recursively for ``*.csv`` (a STARSS23 ``metadata_dev`` tree works as is).

    Returns:
        ``[(name, ref_path, pred_path)]`` sorted by name.

    Raises:
        ValueError: a missing path, one that is neither a file nor a folder (``/dev/null``), a
            file paired with a folder, no CSV files, a file name without a
            partner on the other side (the message names the first few), or a name twice in one tree.
    """
    r, p = Path(ref), Path(pred)
    for what, q in (("reference", r), ("prediction", p)):
        if not q.exists():
            raise ValueError(f"{what} path '{q}' does not exist")
        if not q.is_file() and not q.is_dir():  # a device, a FIFO, a socket
            raise ValueError(f"{what} path '{q}' is neither a CSV file nor a folder")
    if r.is_file() and p.is_file():
        return [(p.name, r, p)]
    if r.is_dir() != p.is_dir():
        raise ValueError(f"reference '{r}' and prediction '{p}' must both be CSV files or both folders")
    rf, pf = _csv_files(r), _csv_files(p)
    if not rf:
        raise ValueError(f"reference folder '{r}' has no .csv files")
    for side, mine, other, where in (("reference", rf, pf, p), ("prediction", pf, rf, r)):
        missing = sorted(set(mine) - set(other))
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise ValueError(f"{side} file(s) without a partner in '{where}': {', '.join(missing[:3])}{more}")
    return [(n, rf[n], pf[n]) for n in sorted(rf)]


@dataclass(frozen=True)
class SeldReport:
    """Scores of a set of files.

    Attributes:
        total: the set scored as one (counters summed over files, as the official folder scoring).
        files: per-file scores (each file alone), empty unless asked for.
    """

    total: SeldResult
    files: Mapping[str, SeldResult]

    def to_dict(self) -> dict[str, Any]:
        """``total.to_dict()`` plus ``"files": {name: scores}`` when per-file scores are present."""
        out = self.total.to_dict()
        if self.files:
            out["files"] = {n: r.to_dict() for n, r in self.files.items()}
        return out


def score_label_files(
    pairs: Sequence[tuple[str, Path, Path]], scorer: SeldScorer, *, average: str = "macro",
    ref_distance_unit: str = "cm", pred_distance_unit: str = "m", per_file: bool = False,
) -> SeldReport:
    """Read and score ``(name, ref_csv, pred_csv)`` pairs as one set (see :func:`pair_label_files`).

    Args:
        pairs: the files.
        scorer: a fresh scorer (its running set is reset first).
        average: ``"macro"`` or ``"micro"``.
        ref_distance_unit, pred_distance_unit: unit of the distance column of 6- and 7-column
            files (the official ``cm2m`` applies to both), ``"cm"`` (STARSS23 2024 metadata) or
            ``"m"`` (the DCASE2024 baseline's predictions).
        per_file: also score each file alone.

    Raises:
        ValueError: unreadable or malformed files, class index out of range (naming file and line).
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {', '.join(AVERAGES)}, got {average!r}")
    for what, u in (("ref_distance_unit", ref_distance_unit), ("pred_distance_unit", pred_distance_unit)):
        if u not in DISTANCE_UNITS:
            raise ValueError(f"{what} must be one of {', '.join(DISTANCE_UNITS)}, got {u!r}")
    if not pairs:
        raise ValueError("no label files to score")
    scorer.reset()
    files: dict[str, SeldResult] = {}
    for name, rp, pp in pairs:
        ref = read_dcase_csv(rp, distance_unit=ref_distance_unit, num_classes=scorer.num_classes)
        pred = read_dcase_csv(pp, distance_unit=pred_distance_unit, num_classes=scorer.num_classes)
        c = scorer.update(ref, pred, ref_name=str(rp), pred_name=str(pp))
        if per_file:
            files[name] = scorer.result(average=average, counts=c)
    return SeldReport(scorer.result(average=average), files)


def score_paths(
    ref: str | os.PathLike[str], pred: str | os.PathLike[str], *, metric: str = "dcase2023",
    average: str = "macro", per_file: bool = False, ref_distance_unit: str = "cm",
    pred_distance_unit: str = "m", **scorer_kwargs: Any,
) -> SeldReport:
    """Score a reference CSV or folder against a prediction CSV or folder (files matched by name).

    ``scorer_kwargs`` go to the scorer (``num_classes``, ``doa_threshold``, ...); see
    :func:`pair_label_files` and :func:`score_label_files`.
    """
    scorer = get_seld_scorer(metric, **scorer_kwargs)
    return score_label_files(pair_label_files(ref, pred), scorer, average=average, per_file=per_file,
                             ref_distance_unit=ref_distance_unit, pred_distance_unit=pred_distance_unit)
