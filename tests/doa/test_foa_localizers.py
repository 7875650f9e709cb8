"""Localizers on first-order ambisonics: plane waves encoded with the analytic SH gains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.ambisonics import encode_plane_wave, sh_gains
from soundloc.doa import LOCALIZERS, get_localizer, localizers_for
from soundloc.doa.intensity import intensity_vectors
from soundloc.features.stft import stft
from soundloc.geometry import (
    AzimuthGrid,
    SphereGrid,
    angular_separation_deg,
    get_array,
    unit_vectors_deg,
)

FS = 16000
FOA = get_array("foa")
FOA_METHODS = localizers_for(FOA)
GRID = SphereGrid(3000)
# (azimuth, elevation) targets, snapped to the grid below; several elevated, one near a pole
TARGETS = [(0.0, 0.0), (45.0, 30.0), (-100.0, -45.0), (170.0, 10.0), (-30.0, 75.0), (120.0, -80.0)]


def _on_grid(az: float, el: float) -> np.ndarray:
    u = unit_vectors_deg(az, el)
    return GRID.directions[np.argmin(angular_separation_deg(GRID.directions, u))]


def _err(res, k: int, u: np.ndarray) -> float:
    return float(angular_separation_deg(unit_vectors_deg(res.azimuth[k], res.elevation[k]), u))


def test_registry_split() -> None:
    assert FOA_METHODS == ["srp-phat", "music", "normmusic", "iv"]
    assert "iv" not in localizers_for(get_array("tetra")) and "gcc-phat" in localizers_for(get_array("tetra"))
    with pytest.raises(ValueError, match="gcc-phat needs a spaced microphone array"):
        get_localizer("gcc-phat", FOA, FS)
    with pytest.raises(ValueError, match=r"iv needs first-order ambisonics \(--array foa\)"):
        get_localizer("iv", get_array("tetra"), FS)
    assert type(get_localizer("foa-iv", FOA, FS)) is LOCALIZERS["iv"]


@pytest.mark.parametrize("method", FOA_METHODS)
def test_every_foa_method_within_one_degree(method: str) -> None:
    rng = np.random.default_rng(0)
    loc = get_localizer(method, FOA, FS, grid=GRID)
    x = np.stack([encode_plane_wave(rng.standard_normal(FS // 2), _on_grid(az, el)) for az, el in TARGETS])
    x += 1e-3 * rng.standard_normal(x.shape)  # a little sensor noise (MUSIC needs a noise subspace)
    for (az, el), res in zip(TARGETS, loc.locate_batch(x)):
        assert _err(res, 0, _on_grid(az, el)) <= 1.0, f"{method} at ({az}, {el}): got ({res.azimuth[0]:.1f}, {res.elevation[0]:.1f})"


@pytest.mark.parametrize("method", FOA_METHODS)
def test_azimuth_grid(method: str) -> None:
    rng = np.random.default_rng(1)
    loc = get_localizer(method, FOA, FS, grid=AzimuthGrid(360))
    for az in (-150.0, -20.0, 90.0, 180.0):
        x = encode_plane_wave(rng.standard_normal(FS // 4), unit_vectors_deg(az, 0.0))
        res = loc.locate(x + 1e-3 * rng.standard_normal((4, FS // 4)))
        assert abs((res.azimuth[0] - az + 180) % 360 - 180) <= 1.0


def test_iv_refines_off_the_grid() -> None:
    # the mean-shift refinement lands on the exact direction, not the nearest of 3000 grid points
    rng = np.random.default_rng(2)
    loc = get_localizer("iv", FOA, FS, grid=GRID)
    for az, el in [(13.3, 7.7), (-141.2, 52.9), (77.7, -33.3)]:
        u = unit_vectors_deg(az, el)
        res = loc.locate(encode_plane_wave(rng.standard_normal(FS // 4), u))
        assert _err(res, 0, u) < 0.05


def _two_sources(rng: np.random.Generator, u1: np.ndarray, u2: np.ndarray, sparse: bool) -> np.ndarray:
    n = FS
    s = rng.standard_normal((2, n))
    if sparse:  # W-disjoint: the sources take turns every 50 ms (as speech / events mostly do)
        on = (np.arange(n) // 800) % 2 == 0
        s[0, ~on] = 0.0
        s[1, on] = 0.0
    return encode_plane_wave(s, np.stack([u1, u2])) + 1e-3 * rng.standard_normal((4, n))


@pytest.mark.parametrize("method", FOA_METHODS)
def test_two_sources_found(method: str) -> None:
    rng = np.random.default_rng(3)
    u1, u2 = _on_grid(40.0, 10.0), _on_grid(-80.0, -20.0)
    loc = get_localizer(method, FOA, FS, grid=GRID)
    if method == "srp-phat":
        # a first-order beam is broad: the lobes (1 + cos)^2 of two sources only separate beyond
        # 120 degrees (at 120 degrees SRP finds one peak between them, 15-30 degrees off each)
        u2 = _on_grid(-135.0, -10.0)
    res = loc.locate(_two_sources(rng, u1, u2, sparse=method in ("iv", "srp-phat")), num_sources=2)
    found = sorted(min(_err(res, k, u) for k in range(2)) for u in (u1, u2))
    assert found[-1] <= 1.0, f"{method}: {res.azimuth}, {res.elevation}"


def test_coincident_spectra_match_numpy_brute_force() -> None:
    rng = np.random.default_rng(4)
    x = encode_plane_wave(rng.standard_normal((2, 4000)), unit_vectors_deg([30.0, -60.0], [0.0, 20.0]))
    x = x + 0.05 * rng.standard_normal((4, 4000))
    grid = SphereGrid(200)
    X = stft(x, 256)  # (4, F, T) complex128
    a = sh_gains(grid.directions)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)  # (G, 4)
    srp = get_localizer("srp-phat", FOA, FS, grid=grid, nfft=256)
    band = X[:, srp.freq_bins]  # (4, F, T)
    # SRP: mean over bins of |a^T y|^2 with y the unit-norm bin vector
    y = band / np.linalg.norm(band, axis=0, keepdims=True)
    want = np.mean(np.abs(np.einsum("gm,mft->gft", a, y)) ** 2, axis=(1, 2))
    np.testing.assert_allclose(srp.spectrum_from_stft(X), want, rtol=1e-4)
    # (Norm)MUSIC with K = 2: per bin 1 / (1 - ||Es^H a||^2)
    for name in ("music", "normmusic"):
        loc = get_localizer(name, FOA, FS, grid=grid, nfft=256)
        p = np.zeros((len(loc.freq_bins), len(grid)))
        for i in range(len(loc.freq_bins)):
            R = band[:, i] @ band[:, i].conj().T
            _, V = np.linalg.eigh(R)
            Es = V[:, -2:]
            p[i] = 1.0 / (1.0 - np.sum(np.abs(Es.conj().T @ a.T) ** 2, axis=0))
            if name == "normmusic":
                p[i] /= p[i].max()
        np.testing.assert_allclose(loc.spectrum_from_stft(X, num_sources=2), p.mean(0), rtol=2e-3)


def test_intensity_vector_of_a_plane_wave_points_at_the_source() -> None:
    u = unit_vectors_deg(-70.0, 35.0)
    x = encode_plane_wave(np.random.default_rng(5).standard_normal(2048), u)
    iv = intensity_vectors(torch.as_tensor(stft(x, 256)).permute(1, 0, 2)[None]).numpy()  # (1, F, T, 3)
    d = iv.reshape(-1, 3)
    d = d[np.linalg.norm(d, axis=1) > 1e-9]
    assert np.max(angular_separation_deg(d, u)) < 1e-3


def test_iv_every_direction_of_a_sphere_grid() -> None:
    # 150 directions over the whole sphere (poles included), none on the 3000-point search grid
    dirs = SphereGrid(150).directions
    rng = np.random.default_rng(6)
    x = np.stack([encode_plane_wave(rng.standard_normal(2048), u) for u in dirs])
    res = get_localizer("iv", FOA, FS, grid=GRID).locate_batch(x)
    err = [_err(r, 0, u) for r, u in zip(res, dirs)]
    assert max(err) < 1.0, max(err)
