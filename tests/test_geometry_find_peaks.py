"""``DOAGrid.find_peaks`` against a straightforward greedy reference (full sort, peaks first)."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.geometry import AzimuthArcGrid, AzimuthGrid, DOAGrid, SphereGrid


def _reference(grid: DOAGrid, s: np.ndarray, k: int, min_sep: float) -> list[int]:
    """Sort every point (local maxima first, each group strongest first, ties in grid order), then
    take greedily each finite point farther than ``min_sep`` degrees from all taken ones."""
    nb = grid.neighbors()
    n = len(s)
    is_peak = [bool(np.isfinite(s[g]) and all(s[g] >= s[h] for h in nb[g])) for g in range(n)]
    order = sorted((g for g in range(n) if np.isfinite(s[g])), key=lambda g: (not is_peak[g], -s[g], g))
    chosen: list[int] = []
    for g in order:
        sep = [np.degrees(np.arccos(np.clip(grid.directions[g] @ grid.directions[c], -1, 1))) for c in chosen]
        if all(d > min_sep + 1e-9 for d in sep):
            chosen.append(g)
        if len(chosen) == k:
            break
    return chosen + [-1] * (k - len(chosen))


@pytest.mark.parametrize("grid", [AzimuthGrid(72), AzimuthArcGrid(-60, 90, 5.0), SphereGrid(200)], ids=type)
def test_find_peaks_matches_greedy_reference(grid: DOAGrid) -> None:
    rng = np.random.default_rng(3)
    smooth = np.abs(rng.standard_normal((6, len(grid)))).cumsum(axis=1) % 5.0  # few peaks
    rough = rng.random((6, len(grid)))  # many peaks
    quant = np.round(rng.random((6, len(grid))) * 3)  # ties and plateaus
    spectra = np.concatenate([smooth, rough, quant])
    spectra[2, ::3] = np.nan  # non-finite points are never chosen
    spectra[3, :] = np.nan
    spectra[4, 5] = np.inf
    for k in (1, 2, 4):
        for sep in (7.5, 22.5, 97.5):  # off the grid spacings: no rounding-boundary cases
            got = grid.find_peaks(spectra, k, min_separation_deg=sep)
            want = [_reference(grid, row, k, sep) for row in spectra]
            assert got.tolist() == want, (k, sep)
