"""Direction-of-arrival error metrics.

Conventions (DCASE): azimuth counter-clockwise from +x in degrees, elevation up from the
horizontal plane in degrees. All functions take and return **degrees**.

* :func:`angular_error_deg` -- great-circle angle between two directions (Vincenty's atan2
  form: accurate near 0 and near 180 degrees, where ``arccos`` of a dot product loses digits).
* :func:`azimuth_error_deg` -- absolute azimuth difference with wrap-around, in [0, 180].
* :func:`match_doas` -- optimal one-to-one matching (Hungarian algorithm) of K estimates to
  N references, counting misses and false alarms, with an optional error threshold.
* :func:`summarize_errors` / :func:`summarize_matches` -- mean, median and accuracy within
  5 / 10 / 20 degrees.

Example:
    >>> m = match_doas([[10.0, 0.0], [-90.0, 0.0]], [[-80.0, 0.0]])
    >>> m.pairs.tolist(), m.errors.round(1).tolist(), m.misses, m.false_alarms
    ([[1, 0]], [10.0], 0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

ACCURACY_THRESHOLDS_DEG: tuple[float, ...] = (5.0, 10.0, 20.0)
"""Default thresholds (degrees) for the ``acc*`` fields of :func:`summarize_errors`."""


def angular_error_deg(est_az, est_el, ref_az, ref_el) -> np.ndarray:
    """Great-circle angle in degrees between estimated and reference directions.

    Args:
        est_az, est_el: estimated azimuth / elevation in degrees (any broadcastable shapes).
        ref_az, ref_el: reference azimuth / elevation in degrees.

    Returns:
        Angle in [0, 180] degrees, the broadcast shape of the inputs.

    Uses ``atan2(|u x v|, u . v)`` written in spherical coordinates (Vincenty), which keeps
    full relative precision for tiny errors (``arccos(u . v)`` cannot resolve below ~1e-6 deg).
    """
    p1 = np.deg2rad(np.asarray(est_el, dtype=float))
    p2 = np.deg2rad(np.asarray(ref_el, dtype=float))
    dl = np.deg2rad(np.asarray(ref_az, dtype=float) - np.asarray(est_az, dtype=float))
    s1, c1, s2, c2 = np.sin(p1), np.cos(p1), np.sin(p2), np.cos(p2)
    sdl, cdl = np.sin(dl), np.cos(dl)
    num = np.hypot(c2 * sdl, c1 * s2 - s1 * c2 * cdl)
    den = s1 * s2 + c1 * c2 * cdl
    return np.rad2deg(np.arctan2(num, den))


def azimuth_error_deg(est_az, ref_az) -> np.ndarray:
    """Absolute azimuth difference in degrees with wrap-around, in [0, 180] (broadcast).

    ``azimuth_error_deg(179, -179) == 2``.
    """
    d = np.mod(np.asarray(est_az, dtype=float) - np.asarray(ref_az, dtype=float), 360.0)
    return np.minimum(d, 360.0 - d)


@dataclass(frozen=True)
class MatchResult:
    """Outcome of :func:`match_doas`.

    Attributes:
        pairs: ``(P, 2)`` int array of ``(estimate index, reference index)``, sorted by reference.
        errors: ``(P,)`` angular error in degrees of each pair.
        misses: references left unmatched (N - P).
        false_alarms: estimates left unmatched (K - P).
    """

    pairs: np.ndarray
    errors: np.ndarray
    misses: int
    false_alarms: int

    @property
    def num_matched(self) -> int:
        return int(self.pairs.shape[0])

    @property
    def mean_error(self) -> float:
        """Mean error of the matched pairs (NaN when nothing matched)."""
        return float(self.errors.mean()) if self.errors.size else float("nan")


def _as_doas(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.size == 0:
        return np.zeros((0, 2))
    if a.ndim == 1 and a.shape[0] == 2:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must be (K, 2) rows of [azimuth, elevation] in degrees, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity")
    return a


def match_doas(
    est: Sequence | np.ndarray,
    ref: Sequence | np.ndarray,
    *,
    max_error_deg: float | None = None,
    azimuth_only: bool = False,
) -> MatchResult:
    """Match K estimated directions to N reference directions one-to-one (Hungarian algorithm).

    Args:
        est: ``(K, 2)`` estimates, rows ``[azimuth, elevation]`` in degrees (K may be 0).
        ref: ``(N, 2)`` references, same layout (N may be 0).
        max_error_deg: if given, a pair farther apart than this is not a match: it counts as
            one miss and one false alarm. The assignment then first maximises the number of
            pairs within the threshold and, among those, minimises their total error.
        azimuth_only: compare azimuths only (:func:`azimuth_error_deg`), e.g. for a 2-D grid
            whose estimates all sit at elevation 0.

    Returns:
        :class:`MatchResult`. Without a threshold ``min(K, N)`` pairs are formed, with the
        smallest possible total error.
    """
    from scipy.optimize import linear_sum_assignment

    e = _as_doas(est, "estimates")
    r = _as_doas(ref, "references")
    if max_error_deg is not None and not max_error_deg >= 0:
        raise ValueError(f"max_error_deg must be >= 0, got {max_error_deg}")
    k, n = e.shape[0], r.shape[0]
    if k == 0 or n == 0:
        return MatchResult(np.zeros((0, 2), dtype=int), np.zeros(0), misses=n, false_alarms=k)
    if azimuth_only:
        cost = azimuth_error_deg(e[:, None, 0], r[None, :, 0])
    else:
        cost = angular_error_deg(e[:, None, 0], e[:, None, 1], r[None, :, 0], r[None, :, 1])
    if max_error_deg is None:
        rows, cols = linear_sum_assignment(cost)
    else:
        ok = cost <= max_error_deg
        # A pair beyond the threshold costs more than any set of valid pairs together, so the
        # solver maximises the number of valid pairs before it minimises their total error.
        penalty = 180.0 * (min(k, n) + 1)
        rows, cols = linear_sum_assignment(np.where(ok, cost, penalty))
        keep = ok[rows, cols]
        rows, cols = rows[keep], cols[keep]
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    pairs = np.stack([rows, cols], axis=1).astype(int)
    p = pairs.shape[0]
    return MatchResult(pairs, cost[rows, cols].astype(float), misses=n - p, false_alarms=k - p)


def summarize_errors(errors: Iterable[float] | np.ndarray, thresholds: Sequence[float] = ACCURACY_THRESHOLDS_DEG) -> dict:
    """Summary statistics of angular errors in degrees.

    Returns:
        ``{"mean", "median", "acc5", "acc10", "acc20", "n"}``: mean and median error (NaN when
        empty), the fraction of errors ``<=`` each threshold (key ``f"acc{t:g}"``; NaN when
        empty) and the count.
    """
    err = np.asarray(list(errors) if not isinstance(errors, np.ndarray) else errors, dtype=float).ravel()
    if np.any(np.isnan(err)):
        raise ValueError("errors contain NaN")
    n = int(err.size)
    out: dict = {
        "mean": float(err.mean()) if n else float("nan"),
        "median": float(np.median(err)) if n else float("nan"),
    }
    for t in thresholds:
        out[f"acc{t:g}"] = float(np.mean(err <= t)) if n else float("nan")
    out["n"] = n
    return out


def summarize_matches(matches: Iterable[MatchResult], thresholds: Sequence[float] = ACCURACY_THRESHOLDS_DEG) -> dict:
    """:func:`summarize_errors` over the pairs of many :class:`MatchResult`, plus detection counts.

    Adds ``misses``, ``false_alarms``, ``recall`` = matched / references and
    ``precision`` = matched / estimates (NaN when the denominator is 0).
    """
    ms = list(matches)
    errs = np.concatenate([m.errors for m in ms]) if ms else np.zeros(0)
    out = summarize_errors(errs, thresholds)
    matched = sum(m.num_matched for m in ms)
    misses = sum(m.misses for m in ms)
    fas = sum(m.false_alarms for m in ms)
    out["misses"] = misses
    out["false_alarms"] = fas
    out["recall"] = matched / (matched + misses) if matched + misses else float("nan")
    out["precision"] = matched / (matched + fas) if matched + fas else float("nan")
    return out
