"""Shoebox room acoustics: absorption from a target RT60, and RT60 measured from an RIR.

Formulas (3-D shoebox ``Lx x Ly x Lz``, volume ``V``, wall surface ``S``, speed of sound ``c``):

* Sabine: ``RT60 = 24 ln(10) V / (c S alpha)``, so ``alpha_sabine = 24 ln(10) V / (c S RT60)``.
  This is what pyroomacoustics' ``inverse_sabine`` (and so the ``"ism"`` backend) uses; it has no
  solution (``alpha > 1``) for a short RT60 in a large room.
* Eyring: ``RT60 = 24 ln(10) V / (-c S ln(1 - alpha))``, so
  ``alpha_eyring = 1 - exp(-alpha_sabine)``. An image source that has hit ``n`` walls carries
  energy ``(1 - alpha)^n``, and on average a ray hits ``c t S / (4 V)`` walls in time ``t``, so the
  mean image-source energy decays at exactly the Eyring rate: this is the inversion the
  ``"fast"`` backend uses.

``alpha`` is an *energy* absorption coefficient; the pressure reflection coefficient is
``beta = sqrt(1 - alpha)``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from soundloc.geometry import SPEED_OF_SOUND

_LN10 = math.log(10.0)


class InfeasibleRoomError(ValueError):
    """The requested RT60 cannot be reached in this room (e.g. too short for its volume): redraw."""


def room_volume_surface(room_dim: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """``(V, S)``: volume in m^3 and total wall surface in m^2 of a ``(3,)`` shoebox."""
    lx, ly, lz = (float(v) for v in room_dim)
    return lx * ly * lz, 2.0 * (lx * ly + lx * lz + ly * lz)


def sabine_absorption(room_dim: Sequence[float] | np.ndarray, rt60: float, c: float = SPEED_OF_SOUND) -> float:
    """Energy absorption coefficient that gives ``rt60`` (s) by Sabine's formula.

    Raises:
        InfeasibleRoomError: the coefficient would exceed 1 (RT60 too short for this room).
    """
    v, s = room_volume_surface(room_dim)
    alpha = 24.0 * _LN10 * v / (c * s * rt60)
    if alpha > 1.0:
        raise InfeasibleRoomError(
            f"RT60 {rt60:.3f} s is not reachable in a {[float(d) for d in room_dim]} m room "
            f"(Sabine absorption {alpha:.2f} > 1): redraw"
        )
    return alpha


def eyring_absorption(room_dim: Sequence[float] | np.ndarray, rt60: float, c: float = SPEED_OF_SOUND) -> float:
    """Energy absorption coefficient that gives ``rt60`` (s) by Eyring's formula (always < 1)."""
    v, s = room_volume_surface(room_dim)
    return -math.expm1(-24.0 * _LN10 * v / (c * s * rt60))


def diffuse_coherence(mic_positions: np.ndarray, freqs: np.ndarray, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Coherence of a spherically isotropic (diffuse) sound field between omnidirectional mics.

    ``Gamma_ij(f) = sin(k d_ij) / (k d_ij)`` with ``k = 2 pi f / c`` and ``d_ij`` the distance between
    mics ``i`` and ``j`` (1 on the diagonal and at 0 Hz).

    Args:
        mic_positions: ``(M, 3)`` positions in metres (only distances matter).
        freqs: ``(F,)`` frequencies in Hz.
        c: speed of sound in m/s.

    Returns:
        ``(F, M, M)`` float64 real symmetric coherence matrices.
    """
    pos = np.asarray(mic_positions, dtype=np.float64)
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)  # (M, M)
    f = np.asarray(freqs, dtype=np.float64)
    return np.sinc(2.0 * f[:, None, None] * d[None] / c)  # np.sinc(x) = sin(pi x) / (pi x)


def schroeder_decay_db(rir: np.ndarray) -> np.ndarray:
    """Schroeder energy decay curve ``10 log10(sum_{k>=n} h[k]^2 / sum_k h[k]^2)`` in dB, shape ``(L,)``.

    Starts at 0 dB and decreases; ``-inf`` after the last non-zero sample.
    """
    h = np.asarray(rir, dtype=np.float64)
    energy = np.cumsum((h * h)[::-1])[::-1]
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(energy / energy[0])


def measure_rt60(rir: np.ndarray, fs: float, *, decay_db: float = 30.0, start_db: float = -5.0) -> float | np.ndarray:
    """Reverberation time measured from an impulse response (Schroeder backward integration).

    The Schroeder decay curve (:func:`schroeder_decay_db`) is fitted by least squares with a line
    between the first samples where it falls below ``start_db`` and below ``start_db - decay_db``
    (ISO 3382 style: ``decay_db=30`` is T30, ``decay_db=20`` is T20); the RT60 is the time that
    line takes to fall by 60 dB, ``-60 / slope``. The curve is referenced to the RIR's total
    energy, so the direct sound counts (as it does for a measured room).

    Args:
        rir: ``(L,)`` impulse response, or ``(..., L)`` for several.
        fs: sample rate in Hz.
        decay_db: dynamic range of the fit in dB (> 0).
        start_db: where the fit starts, in dB below the total energy (<= 0).

    Returns:
        RT60 in seconds: a float for a 1-D ``rir``, else an array of shape ``rir.shape[:-1]``.

    Raises:
        ValueError: all-zero RIR, or its decay curve never falls ``decay_db`` below ``start_db``
            (too short an RIR for this fit; try a smaller ``decay_db``).
    """
    if decay_db <= 0 or start_db > 0:
        raise ValueError(f"need decay_db > 0 and start_db <= 0, got decay_db={decay_db}, start_db={start_db}")
    if fs <= 0:
        raise ValueError(f"sample rate must be > 0 Hz, got {fs}")
    h = np.asarray(rir, dtype=np.float64)
    if h.ndim == 0 or h.shape[-1] < 2:
        raise ValueError(f"RIR must have shape (..., L) with L >= 2, got {h.shape}")
    if h.ndim > 1:
        flat = h.reshape(-1, h.shape[-1])
        out = np.array([measure_rt60(r, fs, decay_db=decay_db, start_db=start_db) for r in flat])
        return out.reshape(h.shape[:-1])
    if not np.all(np.isfinite(h)) or not np.any(h):
        raise ValueError("RIR is all zeros or has NaN/inf samples; cannot measure its RT60")
    edc = schroeder_decay_db(h)
    end_db = start_db - decay_db
    below_end = np.flatnonzero(edc <= end_db)
    if below_end.size == 0:
        reached = -float(np.min(edc[np.isfinite(edc)]))
        raise ValueError(
            f"RIR decays only {reached:.1f} dB; a T{decay_db:g} fit from {start_db:g} dB needs {-end_db:g} dB"
        )
    i1 = int(below_end[0])
    i0 = int(np.flatnonzero(edc <= start_db)[0])
    if i1 - i0 < 2:
        # The decay happens within two samples: essentially no reverberation.
        return float((i1 - i0 + 1) / fs * 60.0 / decay_db)
    t = np.arange(i0, i1 + 1) / float(fs)
    y = edc[i0 : i1 + 1]
    tc = t - t.mean()
    slope = float(np.dot(tc, y - y.mean()) / np.dot(tc, tc))
    return -60.0 / slope
