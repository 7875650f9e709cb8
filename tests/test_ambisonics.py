"""First-order ambisonics format: SH gains vs their analytic definitions, converters, FoaFormat."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from soundloc.ambisonics import (
    DIFFUSE_STD,
    FoaFormat,
    encode_plane_wave,
    fuma_to_sn3d,
    n3d_to_sn3d,
    sh_gains,
    sn3d_to_fuma,
    sn3d_to_n3d,
    to_sn3d,
)
from soundloc.geometry import SphereGrid, array_from_dict, get_array, unit_vectors_deg


def _random_dirs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    az = rng.uniform(-180, 180, n)
    el = np.rad2deg(np.arcsin(rng.uniform(-1, 1, n)))
    return az, el, unit_vectors_deg(az, el)


def test_sh_gains_match_the_analytic_real_spherical_harmonics() -> None:
    az, el, u = _random_dirs(200)
    a, e = np.deg2rad(az), np.deg2rad(el)
    want = np.stack([np.ones_like(a), np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)], axis=1)
    np.testing.assert_allclose(sh_gains(u), want, atol=1e-12)
    np.testing.assert_allclose(sh_gains(3.0 * u), want, atol=1e-12)  # directions are normalised


def test_sn3d_and_n3d_normalisation_over_the_sphere() -> None:
    # SN3D: mean of Y^2 over the sphere is 1 / (2l + 1); N3D is orthonormal (mean 1), no cross terms.
    g = sh_gains(SphereGrid(20000).directions)
    np.testing.assert_allclose(np.mean(g**2, axis=0), [1.0, 1 / 3, 1 / 3, 1 / 3], atol=2e-3)
    n3d = sn3d_to_n3d(g, axis=-1)
    gram = n3d.T @ n3d / len(n3d)
    np.testing.assert_allclose(gram, np.eye(4), atol=3e-3)
    # the diffuse-field channel RMS is the SN3D normalisation's
    np.testing.assert_allclose(DIFFUSE_STD**2, np.mean(g**2, axis=0), atol=2e-3)


def test_fuma_definition_and_round_trips() -> None:
    az, el, u = _random_dirs(50, seed=1)
    a, e = np.deg2rad(az), np.deg2rad(el)
    s = np.random.default_rng(2).standard_normal(64)
    # FuMa B-format by its definition: W = s / sqrt(2), X = cos az cos el s, Y = sin az cos el s, Z = sin el s
    for k in range(len(u)):
        fuma = np.stack([s / math.sqrt(2), np.cos(a[k]) * np.cos(e[k]) * s, np.sin(a[k]) * np.cos(e[k]) * s, np.sin(e[k]) * s])
        acn = encode_plane_wave(s, u[k])
        np.testing.assert_allclose(fuma_to_sn3d(fuma), acn, atol=1e-12)
        np.testing.assert_allclose(sn3d_to_fuma(acn), fuma, atol=1e-12)
        n3d = np.sqrt([1.0, 3.0, 3.0, 3.0])[:, None] * acn
        np.testing.assert_allclose(n3d_to_sn3d(n3d), acn, atol=1e-12)
        np.testing.assert_allclose(to_sn3d(fuma, "FuMa"), acn, atol=1e-12)
    x = np.random.default_rng(3).standard_normal((2, 4, 100))
    np.testing.assert_allclose(fuma_to_sn3d(sn3d_to_fuma(x)), x, atol=1e-12)
    np.testing.assert_allclose(n3d_to_sn3d(sn3d_to_n3d(x)), x, atol=1e-12)
    y = np.moveaxis(x, 1, -1)  # channels last
    np.testing.assert_allclose(sn3d_to_fuma(y, axis=-1), np.moveaxis(sn3d_to_fuma(x), 1, -1), atol=1e-12)


def test_converters_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="unknown FOA convention 'ambix2'; choose from"):
        to_sn3d(np.zeros((4, 10)), "ambix2")
    with pytest.raises(ValueError, match="expected 4 first-order channels"):
        fuma_to_sn3d(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="2 signals but 1 directions"):
        encode_plane_wave(np.zeros((2, 10)), [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="non-zero"):
        sh_gains(np.zeros((1, 3)))


def test_encoder_sums_sources() -> None:
    _, _, u = _random_dirs(3, seed=4)
    s = np.random.default_rng(5).standard_normal((3, 32))
    want = sum(sh_gains(u[k])[0][:, None] * s[k][None] for k in range(3))
    np.testing.assert_allclose(encode_plane_wave(s, u), want, atol=1e-12)


def test_foa_format_is_an_array(tmp_path) -> None:
    foa = get_array("foa")
    assert isinstance(foa, FoaFormat) and foa.num_channels == foa.num_mics == 4 and foa.is_coincident
    _, _, u = _random_dirs(5)
    st = foa.steering(u, np.array([100.0, 1000.0, 5000.0]))
    assert st.shape == (3, 5, 4)
    np.testing.assert_allclose(st, np.broadcast_to(sh_gains(u), (3, 5, 4)))
    np.testing.assert_array_equal(foa.delays(u), 0.0)
    assert array_from_dict(foa.to_dict()) == foa
    p = tmp_path / "a.json"
    p.write_text(json.dumps(foa.to_dict()))
    assert get_array(str(p)) == foa
    (tmp_path / "dataset.json").write_text(json.dumps({"array": foa.to_dict(), "fs": 24000}))
    assert get_array(str(tmp_path / "dataset.json")) == foa
    with pytest.raises(ValueError, match="must be ACN/SN3D"):
        FoaFormat.from_dict({"format": "foa", "normalization": "N3D"})


def test_mic_array_steering_is_the_delay_model() -> None:
    arr = get_array("tetra")
    _, _, u = _random_dirs(7)
    f = np.array([250.0, 3000.0])
    want = np.exp(-2j * np.pi * f[:, None, None] * arr.delays(u)[None])
    np.testing.assert_allclose(arr.steering(u, f), want)
    assert not arr.is_coincident and arr.num_channels == 4
