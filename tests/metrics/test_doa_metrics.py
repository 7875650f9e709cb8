"""Tests for soundloc.metrics.doa against analytic geometry and brute-force matching."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from soundloc.geometry import angular_separation_deg, unit_vectors_deg
from soundloc.metrics.doa import (
    MatchResult,
    angular_error_deg,
    azimuth_error_deg,
    match_doas,
    summarize_errors,
    summarize_matches,
)

# ---------------------------------------------------------------------------
# angular error
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((0, 0), (0, 0), 0.0),
        ((0, 0), (90, 0), 90.0),
        ((0, 0), (180, 0), 180.0),
        ((45, 0), (-135, 0), 180.0),
        ((0, 90), (123, 90), 0.0),  # the pole has no azimuth
        ((0, 90), (77, -90), 180.0),
        ((10, 30), (10, -30), 60.0),  # along a meridian: elevation difference
        ((170, 0), (-170, 0), 20.0),  # wrap-around on the equator
        ((0, 45), (180, 45), 90.0),  # over the pole
    ],
)
def test_angular_error_analytic(a, b, expected):
    assert angular_error_deg(a[0], a[1], b[0], b[1]) == pytest.approx(expected, abs=1e-9)
    assert angular_error_deg(b[0], b[1], a[0], a[1]) == pytest.approx(expected, abs=1e-9)


def test_angular_error_same_elevation_closed_form():
    # cos(theta) = sin^2(el) + cos^2(el) cos(daz) for two points at the same elevation.
    rng = np.random.default_rng(0)
    el = rng.uniform(-80, 80, 200)
    daz = rng.uniform(-180, 180, 200)
    az0 = rng.uniform(-180, 180, 200)
    e = np.deg2rad(el)
    expected = np.rad2deg(np.arccos(np.sin(e) ** 2 + np.cos(e) ** 2 * np.cos(np.deg2rad(daz))))
    got = angular_error_deg(az0, el, az0 + daz, el)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_angular_error_matches_unit_vector_reference_and_broadcasts():
    rng = np.random.default_rng(1)
    az1, az2 = rng.uniform(-180, 180, (2, 50, 1))
    el1, el2 = np.rad2deg(np.arcsin(rng.uniform(-1, 1, (2, 50, 1))))
    ref_az = rng.uniform(-180, 180, (1, 7))
    ref_el = rng.uniform(-90, 90, (1, 7))
    got = angular_error_deg(az1, el1, ref_az, ref_el)
    assert got.shape == (50, 7)
    u = unit_vectors_deg(az1, el1)  # (50, 1, 3)
    v = unit_vectors_deg(ref_az, ref_el)  # (1, 7, 3)
    dots = np.clip(np.sum(u * v, axis=-1), -1, 1)
    np.testing.assert_allclose(got, np.rad2deg(np.arccos(dots)), atol=1e-5)
    np.testing.assert_allclose(got, angular_separation_deg(u, v), atol=1e-9)
    assert np.all((got >= 0) & (got <= 180))


@pytest.mark.parametrize("tiny", [1e-3, 1e-6, 1e-9, 1e-12])
def test_angular_error_accurate_for_tiny_errors(tiny):
    # Along the equator and along a meridian the exact answer is the coordinate difference.
    assert angular_error_deg(20.0, 0.0, 20.0 + tiny, 0.0) == pytest.approx(tiny, rel=1e-6)
    assert angular_error_deg(-33.0, 12.0, -33.0, 12.0 + tiny) == pytest.approx(tiny, rel=1e-3)
    # ... where the arccos form cannot resolve it (this is why the metric avoids it).
    if tiny <= 1e-9:
        u, v = unit_vectors_deg(20.0, 0.0), unit_vectors_deg(20.0 + tiny, 0.0)
        naive = np.rad2deg(np.arccos(np.clip(u @ v, -1, 1)))
        assert abs(naive - tiny) > 0.5 * tiny


def test_angular_error_near_antipode_is_accurate():
    d = 1e-7
    assert angular_error_deg(0.0, 0.0, 180.0 - d, 0.0) == pytest.approx(180.0 - d, abs=1e-10)


def test_azimuth_error_wraps():
    assert azimuth_error_deg(179, -179) == pytest.approx(2.0)
    assert azimuth_error_deg(-179, 179) == pytest.approx(2.0)
    assert azimuth_error_deg(0, 180) == pytest.approx(180.0)
    assert azimuth_error_deg(720 + 5, -5) == pytest.approx(10.0)
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-540, 540, (2, 1000))
    got = azimuth_error_deg(a, b)
    # equals the great-circle error on the equator
    np.testing.assert_allclose(got, angular_error_deg(a, 0, b, 0), atol=1e-9)
    assert np.all((got >= 0) & (got <= 180))


# ---------------------------------------------------------------------------
# matching
# ---------------------------------------------------------------------------


def _brute_force(est, ref, thr=None):
    """(number matched, total error) of the best assignment by enumeration."""
    k, n = len(est), len(ref)
    cost = angular_error_deg(est[:, None, 0], est[:, None, 1], ref[None, :, 0], ref[None, :, 1])
    best = (0, 0.0)  # maximise count, then minimise total
    m = min(k, n)
    for est_idx in itertools.permutations(range(k), m):
        for ref_idx in itertools.combinations(range(n), m):
            c = cost[list(est_idx), list(ref_idx)]
            if thr is not None:
                c = c[c <= thr]
            cand = (len(c), float(c.sum()))
            if cand[0] > best[0] or (cand[0] == best[0] and (cand[1] < best[1] or best == (0, 0.0))):
                best = cand
    return best


def _random_doas(rng, k):
    return np.stack([rng.uniform(-180, 180, k), np.rad2deg(np.arcsin(rng.uniform(-1, 1, k)))], axis=1)


def _check_consistent(m: MatchResult, est, ref):
    k, n = len(est), len(ref)
    assert m.pairs.shape == (m.num_matched, 2)
    assert len(set(m.pairs[:, 0])) == m.num_matched and len(set(m.pairs[:, 1])) == m.num_matched
    assert m.misses == n - m.num_matched and m.false_alarms == k - m.num_matched
    if m.num_matched:
        e, r = est[m.pairs[:, 0]], ref[m.pairs[:, 1]]
        np.testing.assert_allclose(m.errors, angular_error_deg(e[:, 0], e[:, 1], r[:, 0], r[:, 1]))
        assert np.all(np.diff(m.pairs[:, 1]) > 0)


@pytest.mark.parametrize("seed", range(40))
def test_match_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    k, n = rng.integers(0, 5, 2)
    est, ref = _random_doas(rng, k), _random_doas(rng, n)
    m = match_doas(est, ref)
    _check_consistent(m, est, ref)
    count, total = _brute_force(est, ref)
    assert m.num_matched == min(k, n) == count
    assert m.errors.sum() == pytest.approx(total, abs=1e-9)


@pytest.mark.parametrize("seed", range(40))
def test_match_with_threshold_against_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    k, n = rng.integers(1, 5, 2)
    ref = _random_doas(rng, n)
    # estimates near some references, plus random ones, so the threshold matters
    near = ref[rng.integers(0, n, k)] + rng.normal(0, 25, (k, 2))
    near[:, 1] = np.clip(near[:, 1], -90, 90)
    est = np.where(rng.random((k, 1)) < 0.7, near, _random_doas(rng, k))
    thr = float(rng.uniform(10, 60))
    m = match_doas(est, ref, max_error_deg=thr)
    _check_consistent(m, est, ref)
    assert np.all(m.errors <= thr)
    count, total = _brute_force(est, ref, thr)
    assert m.num_matched == count
    assert m.errors.sum() == pytest.approx(total, abs=1e-9)


def test_match_analytic_cases():
    # Greedy nearest-first would pair est 1 (10) with ref 0 (9) for 1 degree and leave
    # est 0 -> ref 1 at 100 (total 101); the optimum is 0->0, 1->1 with 9 + 90 = 99.
    m = match_doas([[0.0, 0.0], [10.0, 0.0]], [[9.0, 0.0], [100.0, 0.0]])
    assert m.pairs.tolist() == [[0, 0], [1, 1]]
    np.testing.assert_allclose(m.errors, [9.0, 90.0])
    assert (m.misses, m.false_alarms) == (0, 0)

    # more estimates than references: the extra one is a false alarm
    m = match_doas([[10, 0], [100, 0], [-120, 0]], [[-118, 0], [12, 0]])
    assert m.pairs.tolist() == [[2, 0], [0, 1]]
    np.testing.assert_allclose(m.errors, [2.0, 2.0])
    assert (m.misses, m.false_alarms) == (0, 1)

    # more references than estimates: misses
    m = match_doas([[0, 0]], [[90, 0], [3, 4], [-170, 0]])
    assert m.pairs.tolist() == [[0, 1]] and (m.misses, m.false_alarms) == (2, 0)

    # threshold turns a far pair into a miss and a false alarm
    m = match_doas([[0, 0], [90, 0]], [[5, 0], [150, 0]], max_error_deg=20)
    assert m.pairs.tolist() == [[0, 0]] and (m.misses, m.false_alarms) == (1, 1)
    np.testing.assert_allclose(m.errors, [5.0])

    # threshold-aware assignment: plain Hungarian would pick 0->0, 1->1 (25 + 30 = 55, none
    # within 20 deg); with the threshold it keeps the one pair that is within: 1->0 (5 deg).
    m = match_doas([[0, 0], [30, 0]], [[25, 0], [60, 0]], max_error_deg=20)
    assert m.pairs.tolist() == [[1, 0]] and (m.misses, m.false_alarms) == (1, 1)
    assert match_doas([[0, 0], [30, 0]], [[25, 0], [60, 0]]).pairs.tolist() == [[0, 0], [1, 1]]


def test_match_empty_and_azimuth_only():
    m = match_doas(np.zeros((0, 2)), [[0, 0], [10, 0]])
    assert m.num_matched == 0 and (m.misses, m.false_alarms) == (2, 0) and np.isnan(m.mean_error)
    m = match_doas([[0, 0]], [])
    assert (m.misses, m.false_alarms) == (0, 1)
    # a 2-D estimate at elevation 0 against a raised source: azimuth_only ignores elevation
    m = match_doas([[30, 0]], [[32, 40]], azimuth_only=True)
    np.testing.assert_allclose(m.errors, [2.0])
    assert match_doas([[30, 0]], [[32, 40]]).errors[0] > 39
    # a single [az, el] row is accepted
    assert match_doas([1.0, 2.0], [1.0, 2.0]).errors[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "est, ref, kw, msg",
    [
        ([[0, 0, 0]], [[0, 0]], {}, "estimates must be"),
        ([[0, 0]], [[np.nan, 0]], {}, "NaN"),
        ([[0, 0]], [[0, 0]], {"max_error_deg": -1}, "max_error_deg"),
    ],
)
def test_match_rejects_bad_input(est, ref, kw, msg):
    with pytest.raises(ValueError, match=msg):
        match_doas(est, ref, **kw)


# ---------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------


def test_summarize_errors():
    s = summarize_errors([1.0, 4.0, 5.0, 9.0, 15.0, 30.0])
    assert s["n"] == 6
    assert s["mean"] == pytest.approx(64.0 / 6)
    assert s["median"] == pytest.approx(7.0)
    assert s["acc5"] == pytest.approx(3 / 6)  # 5.0 counts as within 5 degrees
    assert s["acc10"] == pytest.approx(4 / 6)
    assert s["acc20"] == pytest.approx(5 / 6)
    rng = np.random.default_rng(3)
    e = rng.uniform(0, 50, 1001)
    s = summarize_errors(e, thresholds=(7.5,))
    assert s["median"] == pytest.approx(np.sort(e)[500]) and s["acc7.5"] == pytest.approx(np.mean(e <= 7.5))
    empty = summarize_errors([])
    assert empty["n"] == 0 and np.isnan(empty["mean"]) and np.isnan(empty["acc10"])
    with pytest.raises(ValueError, match="NaN"):
        summarize_errors([1.0, np.nan])


def test_summarize_matches():
    ms = [match_doas([[0, 0], [90, 0]], [[3, 0]]), match_doas([[0, 0]], [[12, 0], [100, 0]])]
    s = summarize_matches(ms)
    assert s["n"] == 2 and s["mean"] == pytest.approx(7.5)
    assert (s["misses"], s["false_alarms"]) == (1, 1)
    assert s["recall"] == pytest.approx(2 / 3) and s["precision"] == pytest.approx(2 / 3)
    assert s["acc5"] == pytest.approx(0.5)
