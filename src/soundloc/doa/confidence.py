"""Confidence of a localization estimate, and the "no source" decision.

Every spectrum peak gets a **confidence in [0, 1]**: the fraction of spherically diffuse noise
windows whose spectrum had a smaller peak-to-background ratio. A threshold ``c`` on it therefore
has a known false-alarm rate on diffuse noise, ``1 - c``; the default
:data:`DEFAULT_MIN_CONFIDENCE` (0.97: nominally 3 %, with margin for the sampling error of the
calibration) keeps false alarms at or below 5 % on fresh noise.

The statistic (:data:`STATISTICS`, per method):
    ``ratio = S(peak) / median_g S(g)``, the raw (unnormalised) spatial spectrum at the peak over
    its median over the grid -- the "background" level (SRP-PHAT, MUSIC, NormMUSIC). It is
    scale-free (a gain on the input leaves it unchanged) and near 1 when nothing stands out.
    GCC-PHAT's spectrum is a sum over mic pairs of PHAT correlation peak heights (each in
    [0, 1], already scale-free) at the directions that agree with them; its background is 0
    wherever no pair agrees, so its statistic is the peak value ``S(peak)`` itself. (On
    reverberant one-source scenes the ratio to the median detected fewer sources for GCC-PHAT
    at the same false-alarm rate: the median rises with the source, because many directions
    partly agree with its pair delays.)
    ``iv``'s spectrum is its smoothed direction histogram (votes weighted by directness): diffuse
    noise spreads the votes over the whole sphere, so the median is positive (no window of the
    calibration had a zero median; the benchmark refuses to calibrate on non-finite statistics)
    and ``peak / median`` measures how concentrated the votes are. A single plane wave puts
    every vote within the kernel's reach of one point: a zero median, ratio ``inf``, confidence 1.

The calibration (``benchmarks/confidence.py --calibrate`` writes :data:`CALIBRATION_FILE`):
    For every method, every array preset and both grid kinds (azimuth-only ``2d``: the circle, or
    the half circle for linear arrays as ``--grid auto`` picks it; ``3d``: the sphere of
    ``default_grid(array, 3)``), hundreds of windows of pink diffuse noise
    (:func:`soundloc.scenes.mix.diffuse_noise`, 16 kHz, STFT 512 / hop 256, the default band)
    are localized at several window lengths; the same for first-order ambisonics (key ``foa``:
    SRP-PHAT, MUSIC, NormMUSIC and the intensity-vector ``iv`` on diffuse FOA noise,
    :func:`soundloc.scenes.mix.diffuse_foa_noise`, whose channels are uncorrelated with energies
    1, 1/3, 1/3, 1/3; windows drawn at each length, so the null includes the few-percent random
    channel gains of a short window, to which FOA methods, reading channel ratios, are
    sensitive); the table stores quantiles of ``log(ratio)`` per number of STFT frames. Looking
    a ratio up interpolates the empirical CDF between the stored quantiles and between window
    lengths (in log frames; clamped outside the calibrated range).
    An array that matches no preset (by geometry) uses the largest quantile over all presets --
    the most conservative null. A method without a table (a localizer added after the
    calibration) gets no confidence (``NaN``) and only the energy gate applies.

The energy gate:
    ``level_dbfs = 10 log10(mean x^2)`` over the window's mics and samples (0 dBFS = a full-scale
    square wave; a full-scale sine is -3 dBFS). Windows below ``min_level_dbfs`` (default
    :data:`DEFAULT_MIN_LEVEL_DBFS`, -90 dBFS: digital silence and near-silence of 16-bit audio)
    report no source, whatever their spectrum.

Decisions (per source): ``"source"``, ``"below-level"`` (the gate, checked first) or
``"below-confidence"``.

Limits: the null is diffuse *noise*; a second coherent source, a fan or a loudspeaker hum is a
real directional source to this test. Ratios of the second and later peaks are scored against
the null of the strongest peak (conservative: fewer false alarms). The table holds for the settings
it was made at (16 kHz, nfft 512, hop 256, the default band; windows of at least 5 STFT frames):
at other rates, FFT sizes, hops or bands, and for shorter windows, the null differs (48 kHz diffuse
noise passed the 0.97 threshold in 22-32 % of 1-s windows), so there the confidence is ``NaN``
(uncalibrated) and only the energy gate decides; resample to 16 kHz (``--fs 16000``) to use it.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundloc.geometry import PRESETS, ArrayModel, DOAGrid, MicArray

CALIBRATION_FILE = Path(__file__).with_name("confidence_calibration.json")
"""The shipped calibration table (written by ``benchmarks/confidence.py --calibrate``)."""

DEFAULT_MIN_CONFIDENCE = 0.97
"""Default confidence threshold: nominally 3 % false alarms on diffuse noise (<= 5 % measured on
noise not used for the calibration, see docs/benchmarks.md)."""

DEFAULT_MIN_LEVEL_DBFS = -90.0
"""Default energy gate in dBFS (mean-square level of the window)."""

DECISIONS = ("source", "below-confidence", "below-level")
"""The decision vocabulary, per source."""

ANY_ARRAY = "*"
"""Table key of the conservative null used for arrays that match no preset."""


def level_dbfs(x: np.ndarray) -> np.ndarray:
    """Mean-square level in dBFS of each clip: ``(..., M, N)`` -> ``(...)`` (``-inf`` for digital silence)."""
    ms = np.mean(np.square(np.asarray(x, dtype=np.float64)), axis=(-2, -1))
    with np.errstate(divide="ignore"):
        return np.asarray(10.0 * np.log10(ms), dtype=np.float64)


STATISTICS: dict[str, str] = {"gcc-phat": "peak"}
"""Methods whose statistic is not the default ``"peak-to-median"``."""


def statistic_for(method: str) -> str:
    """``"peak"`` or ``"peak-to-median"``: the confidence statistic of ``method`` (see :data:`STATISTICS`)."""
    return STATISTICS.get(method, "peak-to-median")


def peak_statistic(spectra: np.ndarray, peaks: np.ndarray, statistic: str = "peak-to-median") -> np.ndarray:
    """The confidence statistic of each peak: ``(B, G)`` raw spectra, ``(B, K)`` grid indices
    (``-1``: no peak) -> ``(B, K)`` (``NaN`` for ``-1``): :func:`peak_ratio`, or the spectrum
    value at the peak for ``statistic="peak"``."""
    if statistic == "peak":
        s = np.asarray(spectra, dtype=np.float64)
        p = np.asarray(peaks)
        return np.where(p >= 0, np.take_along_axis(s, np.maximum(p, 0), axis=-1), np.nan)
    if statistic != "peak-to-median":
        raise ValueError(f"unknown confidence statistic '{statistic}'; choose from peak, peak-to-median")
    return peak_ratio(spectra, peaks)


def peak_ratio(spectra: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Peak-to-background ratios: ``spectra (B, G)`` raw spectra, ``peaks (B, K)`` grid indices
    (``-1``: no peak) -> ``(B, K)`` ``S(peak) / median(S)`` (``NaN`` for ``-1``; 1 for a flat or
    all-zero spectrum; ``inf`` when the median is 0 but the peak is not)."""
    s = np.asarray(spectra, dtype=np.float64)
    p = np.asarray(peaks)
    med = np.median(s, axis=-1, keepdims=True)  # (B, 1)
    val = np.take_along_axis(s, np.maximum(p, 0), axis=-1)  # (B, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(med > 0, val / np.where(med > 0, med, 1.0), np.where(val > 0, np.inf, 1.0))
    return np.where(p >= 0, r, np.nan)


def grid_kind(grid: DOAGrid) -> str:
    """``"2d"`` for an azimuth-only grid, ``"3d"`` otherwise (the table's grid key)."""
    return "2d" if grid.is_azimuth_only else "3d"


def array_key(array: MicArray, atol: float = 1e-6) -> str:
    """The preset whose mic positions equal ``array``'s (about their centres), else :data:`ANY_ARRAY`.

    Matching is by geometry, not by name: a JSON array named like a preset but with other
    positions gets the conservative null.
    """
    pos = np.asarray(array.positions, dtype=np.float64)
    pos = pos - pos.mean(axis=0)
    for name, (make, _) in PRESETS.items():
        ref = np.asarray(make(), dtype=np.float64)
        if ref.shape == pos.shape and np.allclose(ref - ref.mean(axis=0), pos, atol=atol):
            return name
    return ANY_ARRAY


@dataclass(frozen=True)
class NullTable:
    """Null distribution of the log statistic (``log(ratio)``) for one (method, array, grid kind).

    Attributes:
        frames: ``(T,)`` increasing STFT frame counts of the calibrated window lengths.
        levels: ``(Q,)`` increasing CDF levels in [0, 1] (first 0, last 1).
        quantiles: ``(T, Q)`` ``log(ratio)`` quantiles, non-decreasing along Q.
    """

    frames: np.ndarray
    levels: np.ndarray
    quantiles: np.ndarray

    def _quantiles_at(self, frames: float) -> np.ndarray | None:
        """The null quantiles for windows of ``frames`` STFT frames (interpolated in log frames;
        the longest calibrated length above it); ``None`` below the shortest calibrated length,
        where the null is wider than any stored one (uncalibrated, not clamped)."""
        lf = np.log(np.asarray(self.frames, dtype=np.float64))
        x = math.log(max(float(frames), 1.0))
        if x < lf[0] - 1e-9:
            return None
        if x <= lf[0]:
            return np.asarray(self.quantiles[0], dtype=np.float64)
        if x >= lf[-1]:
            return np.asarray(self.quantiles[-1], dtype=np.float64)
        j = int(np.searchsorted(lf, x)) - 1
        w = (x - lf[j]) / (lf[j + 1] - lf[j])
        return np.asarray((1 - w) * self.quantiles[j] + w * self.quantiles[j + 1], dtype=np.float64)

    def confidence(self, ratio: np.ndarray, frames: float) -> np.ndarray:
        """Empirical null CDF at ``ratio`` (any shape) for windows of ``frames`` STFT frames.

        0 at or below the smallest null ratio, 1 at or above the largest, linear between the
        stored quantiles; ``NaN`` stays ``NaN``.
        """
        r = np.asarray(ratio, dtype=np.float64)
        q = self._quantiles_at(frames)
        if q is None:  # shorter than any calibrated window
            return np.full(r.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            lr = np.log(np.where(r > 0, r, np.nan))
        lr = np.where(r == 0, -np.inf, lr)
        # np.interp needs increasing x: ties in q (a discrete null) keep the largest level
        qs, idx = np.unique(q[::-1], return_index=True)
        lev = self.levels[::-1][idx]
        out = np.interp(np.where(np.isfinite(lr), lr, 0.0), qs, lev, left=0.0, right=1.0)
        out = np.where(lr == np.inf, 1.0, np.where(lr == -np.inf, 0.0, out))
        return np.where(np.isnan(lr), np.nan, out)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    if not Path(path).is_file():  # only while the table is being built: the package ships it (a test checks)
        return {"frames": [1], "levels": [0.0, 1.0], "tables": {}}
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def load_calibration(path: str | Path | None = None) -> dict[str, Any]:
    """The calibration table as a dict; cached. Fields: ``frames`` (STFT frame counts), ``levels``
    (CDF levels), ``tables[method]["<preset>/<2d|3d>"]`` ``(frames, levels)`` log-ratio quantiles
    (``"*/2d"``, ``"*/3d"``: the largest over the presets), plus how it was made (``noise``,
    ``fs``, ``nfft``, ``hop``, ``windows``, ``seed``)."""
    return _load(str(CALIBRATION_FILE if path is None else path))


def calibrated_settings(fs: int, nfft: int, hop: int, *, default_band: bool, path: str | Path | None = None) -> bool:
    """Whether the table applies to a localizer at ``fs`` Hz, ``nfft`` / ``hop`` samples and (if
    ``default_band``) its default analysis band: the settings the table was calibrated at."""
    data = load_calibration(path)
    want = (data.get("fs"), data.get("nfft"), data.get("hop"))
    return default_band and (int(fs), int(nfft), int(hop)) == want


def null_table(method: str, array: ArrayModel, grid: DOAGrid, *, path: str | Path | None = None) -> NullTable | None:
    """The null of ``method`` for ``array`` on ``grid`` (``None`` when the method is not calibrated
    for it; see :func:`calibrated_settings` for the STFT settings it needs). A coincident FOA array
    uses its own table ``"foa/<2d|3d>"`` (calibrated on diffuse FOA noise; any
    :class:`~soundloc.ambisonics.FoaFormat`, whatever its ``name``): the mic arrays' tables,
    including the conservative ``*`` one, never apply to it."""
    data = load_calibration(path)
    tables = data["tables"].get(method)
    if tables is None:
        return None
    kind = grid_kind(grid)
    if not isinstance(array, MicArray):  # a coincident format: its own null, by kind ("foa"), whatever its name
        key = f"{getattr(array, 'kind', array.name)}/{kind}"
        if key not in tables:
            return None
    else:
        key = f"{array_key(array)}/{kind}"
        if key not in tables:
            key = f"{ANY_ARRAY}/{kind}"
    return NullTable(np.asarray(data["frames"], dtype=np.float64), np.asarray(data["levels"], dtype=np.float64),
                     np.asarray(tables[key], dtype=np.float64))


def decide(confidence: np.ndarray, level: float, min_confidence: float, min_level_dbfs: float) -> tuple[str, ...]:
    """Per-source decisions: ``"below-level"`` for all when ``level < min_level_dbfs``, else
    ``"below-confidence"`` where ``confidence < min_confidence`` (``NaN``: not calibrated, passes),
    else ``"source"``."""
    c = np.asarray(confidence, dtype=np.float64).ravel()
    if level < min_level_dbfs:
        return tuple("below-level" for _ in c)
    return tuple("below-confidence" if (not np.isnan(v) and v < min_confidence) else "source" for v in c)


def check_thresholds(min_confidence: float, min_level_dbfs: float) -> tuple[float, float]:
    """Validated ``(min_confidence in [0, 1], min_level_dbfs not NaN)``; ``ValueError`` names the bad one."""
    c, lv = float(min_confidence), float(min_level_dbfs)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
    if math.isnan(lv) or lv == math.inf:
        raise ValueError(f"min_level_dbfs must be a level in dBFS (or -inf for no gate), got {min_level_dbfs}")
    return c, lv


# --- building the table (benchmarks/confidence.py) ------------------------------------------------

QUANTILE_LEVELS = np.concatenate([np.linspace(0.0, 0.9, 19), np.linspace(0.91, 0.99, 9), [0.995, 1.0]])
"""CDF levels stored in the table: fine steps in the upper tail, where thresholds live."""


def null_quantiles(ratios: np.ndarray, levels: np.ndarray = QUANTILE_LEVELS) -> list[float]:
    """``log`` quantiles of null ratios at ``levels`` (linear interpolation between order statistics)."""
    lr = np.log(np.asarray(ratios, dtype=np.float64))
    lr = lr[np.isfinite(lr)]
    if lr.size == 0:
        raise ValueError("no finite null ratios to calibrate on")
    return [round(float(v), 6) for v in np.quantile(lr, levels)]
