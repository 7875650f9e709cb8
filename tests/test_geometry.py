"""Tests for soundloc.geometry against analytic facts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from soundloc.geometry import (
    PRESETS,
    SPEED_OF_SOUND,
    AzimuthArcGrid,
    AzimuthGrid,
    DOAGrid,
    MicArray,
    SphereGrid,
    angular_separation_deg,
    cart_to_sph,
    cart_to_sph_deg,
    default_grid,
    get_array,
    rotation_matrix,
    unit_vectors,
    unit_vectors_deg,
    wrap_azimuth_deg,
)


def _pairwise(p):
    return np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)


def _random_dirs(rng, n):
    """Uniform random directions (az, el) in degrees."""
    return rng.uniform(-180, 180, n), np.rad2deg(np.arcsin(rng.uniform(-1, 1, n)))


# ---------------------------------------------------------------------------
# presets
# ---------------------------------------------------------------------------

# name -> (mics, aperture in m, planar)
EXPECTED_PRESETS = {
    "circular4": (4, 0.10, True),
    "circular6": (6, 0.10, True),
    "circular8": (8, 0.10, True),
    "tetra": (4, None, False),  # aperture checked in test_tetra_preset_is_near_regular_tetrahedron
    "respeaker4": (4, 2 * 0.0324, True),
    "respeaker6": (6, 2 * 0.0463, True),
    "uma8": (7, 2 * 0.043, True),
    "linear4": (4, 3 * 0.04, True),
    "stereo": (2, 0.10, True),
}


def test_every_preset_is_tested():
    assert set(PRESETS) == set(EXPECTED_PRESETS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PRESETS))
def test_preset_shape_and_aperture(name):
    arr = MicArray.preset(name)
    m, aperture, planar = EXPECTED_PRESETS[name]
    assert arr.name == name
    assert arr.positions.shape == (m, 3) and arr.num_mics == m
    assert arr.is_planar is planar
    assert arr.pairs().shape == (m * (m - 1) // 2, 2)
    assert np.all(arr.pairs()[:, 0] < arr.pairs()[:, 1])
    if name != "tetra":
        assert arr.aperture == pytest.approx(aperture, rel=1e-9)
    assert arr.max_delay() == pytest.approx(arr.aperture / SPEED_OF_SOUND)
    assert arr.max_delay(c=300.0) == pytest.approx(arr.aperture / 300.0)
    # every preset is centred on the origin
    np.testing.assert_allclose(arr.center, 0.0, atol=1e-12)
    with pytest.raises(ValueError):  # read-only: a preset cannot be modified in place
        arr.positions[0, 0] = 1.0


@pytest.mark.parametrize("name, n, radius, start", [("circular4", 4, 0.05, 0), ("circular6", 6, 0.05, 0),
                                                     ("circular8", 8, 0.05, 0), ("respeaker4", 4, 0.0324, 45),
                                                     ("respeaker6", 6, 0.0463, 0)])
def test_circular_presets_are_regular_polygons(name, n, radius, start):
    p = MicArray.preset(name).positions
    az, el, r = cart_to_sph(p)
    np.testing.assert_allclose(r, radius, rtol=1e-12)
    np.testing.assert_allclose(el, 0.0, atol=1e-12)
    expected = wrap_azimuth_deg(start + 360.0 * np.arange(n) / n)
    np.testing.assert_allclose(wrap_azimuth_deg(np.rad2deg(az)), expected, atol=1e-9)
    # neighbouring mics are one chord apart
    d = np.linalg.norm(p - np.roll(p, 1, axis=0), axis=1)
    np.testing.assert_allclose(d, 2 * radius * math.sin(math.pi / n), rtol=1e-12)


def test_tetra_preset_is_near_regular_tetrahedron():
    arr = MicArray.preset("tetra")
    p = arr.positions
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 0.042, rtol=1e-12)
    az, el = cart_to_sph_deg(p)
    np.testing.assert_allclose(az, [45, -45, 135, -135], atol=1e-9)
    np.testing.assert_allclose(el, [35, -35, -35, 35], atol=1e-9)
    # The DCASE elevations (35 deg) approximate the regular tetrahedron's arctan(1/sqrt 2) = 35.26
    # deg, so all six edges are within 1 % of the regular edge r * sqrt(8/3).
    d = _pairwise(p)[np.triu_indices(4, 1)]
    np.testing.assert_allclose(d, 0.042 * math.sqrt(8 / 3), rtol=0.01)
    assert arr.aperture == pytest.approx(d.max())


def test_uma8_linear_stereo_layout():
    p = MicArray.preset("uma8").positions
    np.testing.assert_allclose(p[0], 0.0)
    np.testing.assert_allclose(np.linalg.norm(p[1:], axis=1), 0.043)
    lin = MicArray.preset("linear4").positions
    np.testing.assert_allclose(lin[:, [0, 2]], 0.0)
    np.testing.assert_allclose(np.diff(lin[:, 1]), 0.04)
    st = MicArray.preset("stereo").positions
    assert st[0, 1] > 0 > st[1, 1]  # mic 0 left (+y), mic 1 right


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="unknown array 'nope'.*circular4"):
        MicArray.preset("nope")
    with pytest.raises(ValueError, match="unknown array 'nope'"):
        get_array("nope")


# ---------------------------------------------------------------------------
# construction, validation, JSON
# ---------------------------------------------------------------------------


def test_two_d_positions_get_zero_z_and_equality():
    a = MicArray("flat", [[0, 0], [0.1, 0], [0, 0.1]])
    assert a.positions.shape == (3, 3) and np.all(a.positions[:, 2] == 0) and a.is_planar
    b = MicArray("flat", [[0, 0, 0], [0.1, 0, 0], [0, 0.1, 0]])
    assert a == b and hash(a) == hash(b)
    assert a != MicArray("other", b.positions)
    assert a != MicArray("flat", b.positions + 0.01)
    assert len({a, b}) == 1


@pytest.mark.parametrize(
    "positions, msg",
    [
        ([[0, 0, 0]], "at least 2 microphones"),
        ([0.0, 0.1, 0.2], "list of \\[x, y, z\\] points"),
        ([[0, 0, 0, 0], [1, 0, 0, 0]], "list of \\[x, y, z\\] points"),
        ([[0, 0, 0], [np.nan, 0, 0]], "NaN"),
        ([[0, 0, 0], [np.inf, 0, 0]], "NaN or infinity"),
        ([[0, 0, 0], [0.1, 0, 0], [0, 0, 0]], "microphones 0 and 2 are at the same position"),
        ([[0, 0, 0], [150.0, 0, 0]], "metres"),
    ],
)
def test_invalid_positions(positions, msg):
    with pytest.raises(ValueError, match=msg):
        MicArray("bad", positions)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip(tmp_path, name):
    arr = MicArray.preset(name).rotated(yaw_deg=17.0, pitch_deg=-5.0)
    path = tmp_path / f"{name}.json"
    arr.to_json(path)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp file
    data = json.loads(path.read_text())
    assert data["name"] == name and len(data["positions"]) == arr.num_mics
    back = MicArray.from_json(path)
    assert back == arr  # float -> JSON text -> float is exact (repr round trip)
    assert get_array(path) == arr and get_array(str(path)) == arr
    assert MicArray.from_dict(arr.to_dict()) == arr


def test_get_array_accepts_arrays_and_presets(tmp_path):
    arr = MicArray.preset("tetra")
    assert get_array(arr) is arr
    assert get_array("tetra") == arr
    # name defaults to the file stem
    p = tmp_path / "my_board.json"
    p.write_text(json.dumps({"positions": [[0, 0, 0], [0.05, 0, 0]]}))
    assert get_array(p).name == "my_board"


@pytest.mark.parametrize(
    "text, msg",
    [
        ("{not json", "is not valid JSON"),
        ("", "is not valid JSON"),
        ("[[0, 0, 0], [1, 0, 0]]", "must be an object with a 'positions'"),
        ('{"name": "x"}', "must be an object with a 'positions'"),
        ('{"positions": [["a", 0, 0], [0, 0, 0]]}', "'positions' must be a list of \\[x, y, z\\] numbers"),
        ('{"positions": [[0, 0, 0], [0, 0]]}', "'positions' must be a list of \\[x, y, z\\] numbers"),
        ('{"positions": {"a": 1}}', "'positions' must be a list of \\[x, y, z\\] numbers|list of \\[x, y, z\\] points"),
        ('{"positions": [[0, 0, 0]]}', "at least 2 microphones"),
        ('{"positions": [[0, 0, 0], [NaN, 0, 0]]}', "NaN"),
        ('{"positions": [[0, 0, 0], [10, 20, 300]]}', "metres"),
    ],
)
def test_malformed_json(tmp_path, text, msg):
    p = tmp_path / "arr.json"
    p.write_bytes(text.encode())
    with pytest.raises(ValueError, match=msg):
        get_array(p)
    # the message is one line and names the file (or the array) for the user
    try:
        get_array(p)
    except ValueError as e:
        assert "\n" not in str(e)


def test_missing_and_binary_json(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        get_array(tmp_path / "missing.json")
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ValueError, match="not valid JSON"):
        get_array(p)
    with pytest.raises(ValueError, match="positions"):
        MicArray.from_dict({"name": "x"})


# ---------------------------------------------------------------------------
# angle helpers
# ---------------------------------------------------------------------------


def test_wrap_azimuth():
    got = wrap_azimuth_deg([-180.0, 180.0, 540.0, -190.0, 190.0, 0.0, 359.0, -360.0])
    np.testing.assert_allclose(got, [180.0, 180.0, 180.0, 170.0, -170.0, 0.0, -1.0, 0.0])
    rng = np.random.default_rng(0)
    a = rng.uniform(-2000, 2000, 1000)
    w = wrap_azimuth_deg(a)
    assert np.all((w > -180) & (w <= 180))
    np.testing.assert_allclose(np.cos(np.deg2rad(w)), np.cos(np.deg2rad(a)), atol=1e-9)
    np.testing.assert_allclose(np.sin(np.deg2rad(w)), np.sin(np.deg2rad(a)), atol=1e-9)


def test_unit_vectors_axes():
    np.testing.assert_allclose(unit_vectors_deg(0, 0), [1, 0, 0], atol=1e-15)  # front
    np.testing.assert_allclose(unit_vectors_deg(90, 0), [0, 1, 0], atol=1e-15)  # left
    np.testing.assert_allclose(unit_vectors_deg(-90, 0), [0, -1, 0], atol=1e-15)  # right
    np.testing.assert_allclose(unit_vectors_deg(33, 90), [0, 0, 1], atol=1e-15)  # up
    np.testing.assert_allclose(unit_vectors(np.pi, 0), [-1, 0, 0], atol=1e-15)  # back
    assert unit_vectors_deg(np.zeros((5, 2)), 0.0).shape == (5, 2, 3)


def test_cart_sph_round_trip():
    rng = np.random.default_rng(1)
    az, el = _random_dirs(rng, 500)
    r = rng.uniform(0.01, 10, 500)
    xyz = r[:, None] * unit_vectors_deg(az, el)
    a2, e2, r2 = cart_to_sph(xyz)
    np.testing.assert_allclose(np.rad2deg(a2), az, atol=1e-9)
    np.testing.assert_allclose(np.rad2deg(e2), el, atol=1e-9)
    np.testing.assert_allclose(r2, r, rtol=1e-12)
    a3, e3 = cart_to_sph_deg(xyz)
    np.testing.assert_allclose(a3, az, atol=1e-9)
    np.testing.assert_allclose(e3, el, atol=1e-9)
    np.testing.assert_allclose(unit_vectors_deg(a3, e3), xyz / r[:, None], atol=1e-12)


def test_cart_sph_edge_cases():
    az, el, r = cart_to_sph(np.array([[-1.0, -0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, -2.0]]))
    np.testing.assert_allclose(az[:2], np.pi)  # back is +180, never -180
    assert (az[2], el[2], r[2]) == (0.0, 0.0, 0.0)
    assert el[3] == pytest.approx(-np.pi / 2) and r[3] == pytest.approx(2.0)
    a, _ = cart_to_sph_deg(np.array([-1.0, -1e-300, 0.0]))
    assert a == 180.0 or a == pytest.approx(-180.0 + 1e-10, abs=1e-6)


def test_rotation_matrix_properties():
    rng = np.random.default_rng(2)
    for yaw, pitch, roll in rng.uniform(-180, 180, (20, 3)):
        r = rotation_matrix(yaw, pitch, roll)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
    # yaw alone: counter-clockwise about +z, so +x goes to +y at 90 degrees
    np.testing.assert_allclose(rotation_matrix(90) @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    # right-handed pitch about +y and roll about +x
    np.testing.assert_allclose(rotation_matrix(0, 90) @ [1, 0, 0], [0, 0, -1], atol=1e-15)
    np.testing.assert_allclose(rotation_matrix(0, 0, 90) @ [0, 1, 0], [0, 0, 1], atol=1e-15)
    # intrinsic z-y'-x'': R = Rz Ry Rx
    np.testing.assert_allclose(rotation_matrix(30, 20, 10),
                               rotation_matrix(30) @ rotation_matrix(0, 20) @ rotation_matrix(0, 0, 10), atol=1e-15)


def test_angular_separation():
    assert angular_separation_deg(unit_vectors_deg(10, 0), unit_vectors_deg(10, 0)) == pytest.approx(0.0, abs=1e-12)
    assert angular_separation_deg(unit_vectors_deg(0, 0), unit_vectors_deg(180, 0)) == pytest.approx(180.0)
    assert angular_separation_deg(unit_vectors_deg(0, 0), unit_vectors_deg(0, 90)) == pytest.approx(90.0)
    tiny = 1e-9
    assert angular_separation_deg(unit_vectors_deg(0, 0), unit_vectors_deg(tiny, 0)) == pytest.approx(tiny, rel=1e-5)


# ---------------------------------------------------------------------------
# far-field delays and transforms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_delays_match_path_length_differences(name):
    """Far-field delays equal the exact path-length differences from a very distant source."""
    arr = MicArray.preset(name).rotated(yaw_deg=11.0)  # shift the centre off the origin too
    arr = MicArray(arr.name, arr.positions + [0.3, -0.2, 0.1])
    rng = np.random.default_rng(3)
    az, el = _random_dirs(rng, 64)
    u = unit_vectors_deg(az, el)
    c = 340.0
    dist = 1e4  # 10 km: curvature error ~ aperture^2 / (2 dist) ~ 1e-7 m ~ 3e-10 s
    src = arr.center + dist * u  # (G, 3)
    t_mic = np.linalg.norm(src[:, None, :] - arr.positions[None, :, :], axis=-1) / c
    t_ref = np.linalg.norm(src - arr.center, axis=-1)[:, None] / c
    got = arr.delays(u, c=c)
    assert got.shape == (64, arr.num_mics)
    np.testing.assert_allclose(got, t_mic - t_ref, atol=1e-9)
    # centred on the centroid: the delays sum to zero; pairwise differences bounded by aperture / c
    np.testing.assert_allclose(got.sum(axis=1), 0.0, atol=1e-15)
    assert np.abs(got[:, :, None] - got[:, None, :]).max() <= arr.max_delay(c) + 1e-15


def test_delays_analytic_endfire_and_broadside():
    arr = MicArray.preset("linear4")  # along y at -6, -2, 2, 6 cm
    c = 343.0
    # a source on the left (+y) reaches the mic at y = +6 cm first, 0.06 / c early
    d = arr.delays(unit_vectors_deg(90, 0), c=c)[0]
    np.testing.assert_allclose(d, -arr.positions[:, 1] / c, atol=1e-15)
    assert np.argmin(d) == 3
    # broadside (front): all at once
    np.testing.assert_allclose(arr.delays(unit_vectors_deg(0, 0))[0], 0.0, atol=1e-15)
    # from above: a planar array hears everything at once too
    np.testing.assert_allclose(MicArray.preset("circular8").delays([0, 0, 1])[0], 0.0, atol=1e-15)
    # a single (3,) direction is accepted
    assert arr.delays(np.array([1.0, 0, 0])).shape == (1, 4)


@pytest.mark.parametrize("name", ["circular4", "tetra", "uma8", "linear4"])
def test_rotation_keeps_distances_and_adds_yaw_to_azimuth(name):
    arr = MicArray.preset(name)
    rot = arr.rotated(yaw_deg=40.0)
    np.testing.assert_allclose(_pairwise(rot.positions), _pairwise(arr.positions), atol=1e-12)
    np.testing.assert_allclose(rot.center, arr.center, atol=1e-12)
    az0, el0 = cart_to_sph_deg(arr.positions - arr.center)
    az1, el1 = cart_to_sph_deg(rot.positions - rot.center)
    r = np.linalg.norm(arr.positions - arr.center, axis=1)
    off = r > 1e-9  # the UMA-8 centre mic has no azimuth
    np.testing.assert_allclose(wrap_azimuth_deg(az1[off] - az0[off] - 40.0), 0.0, atol=1e-9)
    np.testing.assert_allclose(el1, el0, atol=1e-9)
    # a rotated array hears a rotated direction exactly as before
    rng = np.random.default_rng(4)
    az, el = _random_dirs(rng, 20)
    np.testing.assert_allclose(rot.delays(unit_vectors_deg(az + 40.0, el)), arr.delays(unit_vectors_deg(az, el)),
                               atol=1e-15)
    # full rotation with pitch and roll keeps distances as well
    full = arr.rotated(25.0, -30.0, 60.0)
    np.testing.assert_allclose(_pairwise(full.positions), _pairwise(arr.positions), atol=1e-12)


def test_placed():
    arr = MicArray.preset("circular4")
    pos = arr.placed([2.0, 3.0, 1.5], yaw_deg=90.0)
    np.testing.assert_allclose(pos.mean(axis=0), [2.0, 3.0, 1.5], atol=1e-12)
    # mic 0 (front, +x) now points to +y
    np.testing.assert_allclose(pos[0], [2.0, 3.05, 1.5], atol=1e-12)
    np.testing.assert_allclose(_pairwise(pos), _pairwise(arr.positions), atol=1e-12)
    np.testing.assert_allclose(arr.placed([0, 0, 0], 10, 20, 30), arr.rotated(10, 20, 30).positions, atol=1e-12)


# ---------------------------------------------------------------------------
# grids
# ---------------------------------------------------------------------------


def test_azimuth_grid_layout():
    g = AzimuthGrid(360)
    assert len(g) == 360 and g.is_azimuth_only and g.resolution_deg == 1.0
    assert g.azimuth_deg[-1] == 180.0 and g.azimuth_deg[0] == pytest.approx(-179.0)
    np.testing.assert_allclose(np.diff(g.azimuth_deg), 1.0, atol=1e-9)
    np.testing.assert_allclose(g.elevation_deg, 0.0, atol=1e-12)
    g2 = AzimuthGrid(72, elevation_deg=20.0)
    np.testing.assert_allclose(g2.elevation_deg, 20.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(g2.directions, axis=1), 1.0)
    with pytest.raises(ValueError, match="n >= 3"):
        AzimuthGrid(2)


def _von_mises(grid, az_deg, el_deg=0.0, kappa=50.0):
    return np.exp(kappa * (grid.directions @ unit_vectors_deg(az_deg, el_deg) - 1.0))


def test_find_peaks_azimuth_wraps_at_180():
    g = AzimuthGrid(360)
    # A ramp rising to the last point: without wrap-around the first point (-179) would also look
    # like a maximum (its only lower neighbour being +1 deg); with wrap-around only 180 is one.
    ramp = np.arange(360, dtype=float)
    nb = g.neighbors()
    is_peak = np.all(ramp[:, None] >= ramp[nb], axis=1)
    assert np.flatnonzero(is_peak).tolist() == [359]
    # A peak straddling +-180 is found once; the second source is the other real peak,
    # not the shoulder on the far side of the wrap.
    s = _von_mises(g, -179.7) + 0.6 * _von_mises(g, -60.0)
    idx = g.find_peaks(s, k=2, min_separation_deg=10)
    assert g.azimuth_deg[idx[0]] == 180.0
    assert g.azimuth_deg[idx[1]] == pytest.approx(-60.0)
    s = _von_mises(g, 179.7) + 0.6 * _von_mises(g, -179.0 + 30.0)
    idx = g.find_peaks(s, k=2, min_separation_deg=10)
    np.testing.assert_allclose(g.azimuth_deg[idx], [180.0, -149.0])


def test_find_peaks_min_separation():
    g = AzimuthGrid(360)
    s = _von_mises(g, 30.0, kappa=2000) + 0.9 * _von_mises(g, 36.0, kappa=2000) + 0.5 * _von_mises(g, -100.0, kappa=2000)
    close = g.find_peaks(s, k=2, min_separation_deg=3.0)
    np.testing.assert_allclose(g.azimuth_deg[close], [30.0, 36.0])
    far = g.find_peaks(s, k=2, min_separation_deg=10.0)
    np.testing.assert_allclose(g.azimuth_deg[far], [30.0, -100.0])
    # every returned pair respects the separation
    rng = np.random.default_rng(5)
    noisy = rng.random(360)
    idx = g.find_peaks(noisy, k=6, min_separation_deg=25.0)
    assert np.all(idx >= 0)
    sep = angular_separation_deg(g.directions[idx][:, None], g.directions[idx][None, :])
    assert np.all(sep[np.triu_indices(6, 1)] > 25.0)
    # local maxima, strongest first
    nb = g.neighbors()[idx]
    assert np.all(noisy[idx][:, None] >= noisy[nb])
    assert np.all(np.diff(noisy[idx]) <= 0) and noisy[idx[0]] == noisy.max()


def test_find_peaks_fills_and_marks_impossible_slots():
    g = AzimuthGrid(36)  # 10 degree steps
    s = _von_mises(g, 0.0, kappa=1.0)  # a single local maximum
    idx = g.find_peaks(s, k=3, min_separation_deg=95.0)
    assert g.azimuth_deg[idx[0]] == pytest.approx(0.0, abs=1e-9)
    assert np.all(idx >= 0)  # filled from non-peak points that respect the separation
    sep = angular_separation_deg(g.directions[idx][:, None], g.directions[idx][None, :])
    assert np.all(sep[np.triu_indices(3, 1)] > 95.0)
    # at most three directions can be more than 95 degrees apart on a circle (4 * 95 > 360)
    idx = g.find_peaks(s, k=5, min_separation_deg=95.0)
    assert np.all(idx[:3] >= 0) and idx[3:].tolist() == [-1, -1]
    # non-finite values are never chosen
    s_nan = np.full(36, np.nan)
    s_nan[[3, 20]] = [1.0, 2.0]
    assert g.find_peaks(s_nan, k=3, min_separation_deg=5.0).tolist() == [20, 3, -1]


def test_find_peaks_batch_equals_rows_and_errors():
    g = AzimuthGrid(120)
    rng = np.random.default_rng(6)
    spec = rng.random((5, 120))
    batch = g.find_peaks(spec, k=3, min_separation_deg=15.0)
    assert batch.shape == (5, 3)
    for b in range(5):
        assert batch[b].tolist() == g.find_peaks(spec[b], k=3, min_separation_deg=15.0).tolist()
    with pytest.raises(ValueError, match=">= 1"):
        g.find_peaks(spec[0], k=0)
    with pytest.raises(ValueError, match="119 points, grid has 120"):
        g.find_peaks(spec[0, :119])


@pytest.mark.parametrize("n", [500, 4000])
def test_sphere_grid_near_uniform(n):
    g = SphereGrid(n)
    assert len(g) == n and not g.is_azimuth_only
    np.testing.assert_allclose(np.linalg.norm(g.directions, axis=1), 1.0)
    assert g.spacing_deg == pytest.approx(math.degrees(math.sqrt(4 * math.pi / n)))
    # nearest-neighbour distances close to the nominal spacing everywhere (no clumps, no holes)
    sep = angular_separation_deg(g.directions[:, None], g.directions[None, :]) if n <= 500 else None
    if sep is None:
        from scipy.spatial import cKDTree

        chord, _ = cKDTree(g.directions).query(g.directions, k=2)
        nn = np.rad2deg(2 * np.arcsin(chord[:, 1] / 2))
    else:
        np.fill_diagonal(sep, np.inf)
        nn = sep.min(axis=1)
    assert 0.8 * g.spacing_deg < nn.min() and nn.max() < 1.1 * g.spacing_deg
    # centroid at the origin and equal counts in each octant / caps matching their area
    assert np.linalg.norm(g.directions.mean(axis=0)) < 1e-3
    octant = (g.directions > 0) @ np.array([1, 2, 4])
    np.testing.assert_allclose(np.bincount(octant, minlength=8) / n, 1 / 8, atol=0.01)
    rng = np.random.default_rng(7)
    centres = unit_vectors_deg(*_random_dirs(rng, 50))
    half = 40.0
    frac = (g.directions @ centres.T > math.cos(math.radians(half))).mean(axis=0)
    np.testing.assert_allclose(frac, (1 - math.cos(math.radians(half))) / 2, rtol=0.05 if n == 4000 else 0.12)


def test_sphere_grid_band_and_default_grid():
    h = SphereGrid(4000, min_elevation_deg=0.0)
    assert np.all(h.elevation_deg >= 0) and abs(len(h) - 2000) <= 2
    band = SphereGrid(4000, min_elevation_deg=-30.0, max_elevation_deg=30.0)
    assert np.all(np.abs(band.elevation_deg) <= 30.0 + 1e-9)
    assert len(band) == pytest.approx(4000 * math.sin(math.radians(30)), abs=3)  # band area fraction
    with pytest.raises(ValueError, match="n >= 10"):
        SphereGrid(5)
    with pytest.raises(ValueError, match="min_elevation_deg"):
        SphereGrid(100, min_elevation_deg=10, max_elevation_deg=10)
    g2 = default_grid(MicArray.preset("circular4"), dims=2)
    assert isinstance(g2, AzimuthGrid) and len(g2) == 360
    planar = default_grid(MicArray.preset("circular4"), dims=3)
    assert isinstance(planar, SphereGrid) and planar.elevation_deg.min() >= 0  # up/down ambiguous
    full = default_grid(MicArray.preset("tetra"), dims=3)
    assert len(full) == 4000 and full.elevation_deg.min() < -80
    with pytest.raises(ValueError, match="dims must be 2 or 3"):
        default_grid(MicArray.preset("tetra"), dims=4)


def test_sphere_find_peaks_nearest_grid_point():
    g = SphereGrid(2000)
    rng = np.random.default_rng(8)
    az, el = _random_dirs(rng, 2)
    while angular_separation_deg(unit_vectors_deg(az[0], el[0]), unit_vectors_deg(az[1], el[1])) < 40:
        az, el = _random_dirs(rng, 2)
    s = _von_mises(g, az[0], el[0], kappa=20) + 0.7 * _von_mises(g, az[1], el[1], kappa=20)
    idx = g.find_peaks(s, k=2, min_separation_deg=20)
    for i in range(2):
        nearest = np.argmax(g.directions @ unit_vectors_deg(az[i], el[i]))
        assert idx[i] == nearest


def test_doa_grid_validation_and_normalisation():
    g = DOAGrid(np.array([[2.0, 0, 0], [0, 3.0, 0], [0, 0, 0.5]]))
    np.testing.assert_allclose(np.linalg.norm(g.directions, axis=1), 1.0)
    np.testing.assert_allclose(g.azimuth_deg, [0.0, 90.0, 0.0])
    np.testing.assert_allclose(g.elevation_deg, [0.0, 0.0, 90.0])
    with pytest.raises(ValueError, match="grid directions"):
        DOAGrid(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="grid directions"):
        DOAGrid(np.zeros((5, 2)))


def test_array_from_a_dataset_header(tmp_path):
    """A soundloc dataset.json carries its array under "array": it loads as that array."""
    import json

    arr = MicArray.preset("tetra")
    p = tmp_path / "dataset.json"
    p.write_text(json.dumps({"format": "soundloc-dataset", "fs": 24000, "array": arr.to_dict()}))
    loaded = get_array(str(p))
    assert loaded == arr
    p.write_text(json.dumps({"format": "soundloc-dataset", "array": "tetra"}))
    with pytest.raises(ValueError, match="positions"):
        MicArray.from_json(p)


# ---------------------------------------------------------------------------
# linear arrays: is_linear and the half-plane arc grid
# ---------------------------------------------------------------------------


def test_is_linear_presets_and_tilted_lines():
    for name in PRESETS:
        assert MicArray.preset(name).is_linear == (name in ("linear4", "stereo")), name
    rng = np.random.default_rng(3)
    d = rng.standard_normal(3)
    d /= np.linalg.norm(d)
    line = np.array([0.1, -0.2, 0.3]) + np.outer([0.0, 0.03, 0.07, 0.12], d)  # uneven spacing, any direction
    assert MicArray("l", line).is_linear
    assert MicArray("l", line).rotated(40, 20, 10).is_linear
    off = np.cross(d, [0.0, 0.0, 1.0])
    off /= np.linalg.norm(off)
    assert MicArray("l", line + np.outer([0, 0, 5e-7, 0], off)).is_linear  # within 1e-6 m
    assert not MicArray("l", line + np.outer([0, 0, 1e-4, 0], off)).is_linear
    assert not MicArray("tri", [[0, 0, 0], [0.1, 0, 0], [0.05, 0.01, 0]]).is_linear


def test_arc_grid_points_and_neighbours():
    g = AzimuthArcGrid(-90.0, 90.0, 1.0)
    assert isinstance(g, AzimuthGrid) and g.is_azimuth_only and len(g) == 181
    np.testing.assert_allclose(g.azimuth_deg, np.arange(-90.0, 90.5, 1.0), atol=1e-9)
    np.testing.assert_allclose(g.elevation_deg, 0.0, atol=1e-12)
    assert g.resolution_deg == 1.0
    nb = g.neighbors()
    assert nb[0].tolist() == [1, 1] and nb[-1].tolist() == [179, 179] and nb[50].tolist() == [49, 51]
    across = AzimuthArcGrid(90.0, 270.0, 2.0, elevation_deg=10.0)  # the back half: wraps to (-180, 180]
    assert len(across) == 91
    np.testing.assert_allclose(across.azimuth_deg, wrap_azimuth_deg(np.arange(90.0, 270.5, 2.0)), atol=1e-9)
    np.testing.assert_allclose(across.elevation_deg, 10.0)
    for bad in [(0.0, 0.0, 1.0), (0.0, 360.0, 1.0), (0.0, 90.0, 0.0), (0.0, 1.0, 1.0)]:
        with pytest.raises(ValueError, match="arc grid"):
            AzimuthArcGrid(*bad)


def test_arc_grid_peaks_at_the_ends_and_inside():
    g = AzimuthArcGrid(-90.0, 90.0, 1.0)
    az = g.azimuth_deg
    # rising towards the -90 end plus a bump at 40: both are local maxima of the open arc
    s = np.exp(-((az + 90) / 30.0) ** 2) + 0.6 * np.exp(-((az - 40) / 5.0) ** 2)
    idx = g.find_peaks(s, k=2, min_separation_deg=10)
    assert az[idx].tolist() == [-90.0, 40.0]
    # a peak at the +90 end is found too, and 90 is not a neighbour of -90 (no wrap-around)
    s2 = np.exp(-((az - 90) / 10.0) ** 2) + 0.5 * np.exp(-((az + 89) / 1.0) ** 2)
    idx2 = g.find_peaks(s2, k=2, min_separation_deg=3)
    assert az[idx2].tolist() == [90.0, -89.0]
    # two close peaks 6 degrees apart are both found (neighbours are only the adjacent points)
    s3 = np.exp(-((az - 10) / 1.5) ** 2) + 0.9 * np.exp(-((az - 16) / 1.5) ** 2)
    assert az[g.find_peaks(s3, k=2, min_separation_deg=3)].tolist() == [10.0, 16.0]


@pytest.mark.parametrize("axis_deg, front", [(90.0, (-90.0, 90.0)), (0.0, (0.0, 180.0)), (45.0, (-135.0, 45.0)),
                                             (-30.0, (-30.0, 150.0))])
def test_half_plane_grid_one_side_of_the_axis(axis_deg, front):
    a = unit_vectors_deg(axis_deg, 0.0)
    arr = MicArray("line", np.outer([-0.05, 0.0, 0.02, 0.06], a) + [0.3, 0.1, 1.2])
    g = AzimuthArcGrid.half_plane(arr)
    assert len(g) == 181 and g.resolution_deg == pytest.approx(1.0)
    np.testing.assert_allclose(wrap_azimuth_deg(g.azimuth_deg[[0, -1]]), wrap_azimuth_deg(np.array(front)), atol=1e-9)
    normal = np.array([-a[1], a[0], 0.0])
    normal = normal if (normal[0] > 1e-9 or (abs(normal[0]) <= 1e-9 and normal[1] > 0)) else -normal
    assert np.all(g.directions @ normal >= -1e-9)
    # every horizontal direction or its mirror about the axis (same delays) is on the grid
    u = unit_vectors_deg(np.arange(-179.5, 180.0, 7.3), 0.0)
    mirror = 2 * (u @ a)[:, None] * a - u
    np.testing.assert_allclose(arr.delays(u), arr.delays(mirror), atol=1e-15)
    direct = angular_separation_deg(u[:, None], g.directions[None]).min(1)
    mirrored = angular_separation_deg(mirror[:, None], g.directions[None]).min(1)
    assert np.minimum(direct, mirrored).max() <= 0.5 + 1e-9
    with pytest.raises(ValueError, match="linear horizontal"):
        AzimuthArcGrid.half_plane(MicArray.preset("circular4"))
    with pytest.raises(ValueError, match="linear horizontal"):
        AzimuthArcGrid.half_plane(MicArray("up", [[0, 0, 0], [0, 0, 0.1]]))
