"""Rigid-sphere scattering (soundloc.scenes.sphere) against analytic limits and independent evaluations."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from scipy.special import eval_legendre, spherical_jn, spherical_yn

from soundloc.geometry import SPEED_OF_SOUND, unit_vectors_deg
from soundloc.scenes.sphere import (
    legendre_table,
    modal_coefficients,
    modal_filters,
    sphere_diffuse_coherence,
    sphere_diffuse_cross_spectrum,
    sphere_response,
    truncation_order,
)

A = 0.042  # em32 radius


def _freq(ka: float) -> float:
    return ka * SPEED_OF_SOUND / (2 * np.pi * A)


def _mp_H(ka: float, cos_theta: float, n_max: int) -> complex:
    """The literal series with 50-digit mpmath Bessel functions (h_n = j_n - i y_n)."""
    mpmath.mp.dps = 50
    x = mpmath.mpf(ka)

    def jn(n: int) -> mpmath.mpf:
        return mpmath.sqrt(mpmath.pi / (2 * x)) * mpmath.besselj(n + mpmath.mpf(1) / 2, x)

    def yn(n: int) -> mpmath.mpf:
        return mpmath.sqrt(mpmath.pi / (2 * x)) * mpmath.bessely(n + mpmath.mpf(1) / 2, x)

    total = mpmath.mpc(0)
    for n in range(n_max + 1):
        dj = jn(n - 1) - (n + 1) / x * jn(n) if n > 0 else -jn(1)
        dy = yn(n - 1) - (n + 1) / x * yn(n) if n > 0 else -yn(1)
        h, dh = jn(n) - 1j * yn(n), dj - 1j * dy
        b = jn(n) - dj / dh * h
        total += (2 * n + 1) * (1j**n) * b * mpmath.legendre(n, cos_theta)
    return complex(total)


@pytest.mark.parametrize("ka", [0.3, 2.0, 9.0])
def test_matches_50_digit_literal_series(ka: float) -> None:
    cts = np.array([1.0, 0.3, -0.7, -1.0])
    ours = sphere_response([_freq(ka)], cts, A)[0]
    ref = np.array([_mp_H(ka, float(ct), truncation_order(ka) + 20) for ct in cts])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


def test_wronskian_form_equals_literal_formula() -> None:
    ka = np.array([0.05, 0.7, 3.0, 12.0, 30.0])
    n = np.arange(25)
    x = ka[:, None]
    j, dj = spherical_jn(n, x), spherical_jn(n, x, derivative=True)
    h, dh = j - 1j * spherical_yn(n, x), dj - 1j * spherical_yn(n, x, derivative=True)
    literal = j - dj / dh * h
    np.testing.assert_allclose(modal_coefficients(ka, 24), literal, rtol=1e-9, atol=1e-14)


def test_closed_form_n0_n1_terms() -> None:
    # j_0 = sin x / x, h_0 = i e^{-ix} / x (e^{+iwt}); b_0 = -i / (x^2 h_0'), h_0' = -e^{-ix} (x - i) / x^2 * i
    x = np.array([0.1, 1.0, 5.0])
    h0p = 1j * np.exp(-1j * x) * (-1j * x - 1) / x**2
    np.testing.assert_allclose(modal_coefficients(x, 1)[:, 0], -1j / (x**2 * h0p), rtol=1e-12)
    # h_1 = (i / x^2 - 1 / x) e^{-ix} ... derivative from j_1 = sin/x^2 - cos/x, y_1 = -cos/x^2 - sin/x
    dj1 = (2 * x * np.cos(x) + (x**2 - 2) * np.sin(x)) / x**3
    dy1 = (2 * x * np.sin(x) - (x**2 - 2) * np.cos(x)) / x**3
    np.testing.assert_allclose(modal_coefficients(x, 1)[:, 1], -1j / (x**2 * (dj1 - 1j * dy1)), rtol=1e-12)
    # low-frequency limits: b_0 -> 1, b_1 -> (3/2) x / 3 = x / 2 (dipole of a rigid sphere: 3/2 j_1)
    b = modal_coefficients(np.array([1e-4]), 1)[0]
    assert abs(b[0] - 1) < 1e-8 and abs(b[1] / 5e-5 - 1) < 1e-6


def test_low_frequency_is_omni_with_free_field_phase() -> None:
    cts = np.linspace(-1, 1, 7)
    for ka in (1e-4, 1e-2):
        h = sphere_response([_freq(ka)], cts, A)[0]
        free = np.exp(1j * ka * cts)
        assert np.max(np.abs(np.abs(h) - 1)) < 3 * ka**2
        # the phase follows the free field (the rigid sphere's dipole is 3/2 as strong: O(ka) difference)
        assert np.max(np.abs(np.angle(h) - np.angle(free))) < 0.6 * ka + 1e-12
    np.testing.assert_allclose(sphere_response([0.0], cts, A)[0], 1.0)


def test_transparent_sphere_series_is_the_free_field_phase() -> None:
    # with b_n = j_n the same machinery must give exactly exp(i ka cos theta)
    ka, cts = 7.0, np.linspace(-1, 1, 9)
    n = np.arange(40)
    series = np.sum(((2 * n + 1) * 1j**n * spherical_jn(n, ka))[:, None] * legendre_table(39, cts), axis=0)
    np.testing.assert_allclose(series, np.exp(1j * ka * cts), atol=1e-12)


def test_pressure_doubling_in_front_and_shadow_behind() -> None:
    f = [_freq(60.0)]
    assert abs(abs(sphere_response(f, [1.0], A)[0, 0]) - 2.0) < 0.05  # +6 dB
    assert abs(sphere_response([_freq(0.5)], [1.0], A)[0, 0]) < 1.2
    behind = np.cos(np.deg2rad(np.linspace(110, 165, 30)))
    assert np.mean(np.abs(sphere_response(f, behind, A)[0]) ** 2) < 0.3  # shadow (away from the bright spot)
    # front level grows monotonically with frequency on average (front > side > back at high ka)
    h = np.abs(sphere_response([_freq(10.0)], [1.0, 0.0, np.cos(np.deg2rad(135))], A)[0])
    assert h[0] > h[1] > h[2]


def test_symmetry_and_reciprocity() -> None:
    # H depends on the angle only: a source at u heard at r equals a source at r heard at u
    rng = np.random.default_rng(0)
    u, r = rng.normal(size=(2, 5, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    f = [500.0, 4000.0, 15000.0]
    a = sphere_response(f, np.sum(u * r, axis=1), A)
    b = sphere_response(f, np.sum(r * u, axis=1), A)
    np.testing.assert_array_equal(a, b)
    # rotating both directions together changes nothing
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    np.testing.assert_allclose(sphere_response(f, np.sum((u @ rot) * (r @ rot), axis=1), A), a, atol=1e-12)


@pytest.mark.parametrize("ka", [0.01, 1.0, 8.0, 25.0])
def test_truncation_error_below_tolerance(ka: float) -> None:
    cts = np.linspace(-1, 1, 11)
    for tol in (1e-6, 1e-10):
        n = truncation_order(ka, tol)
        filt = modal_filters([_freq(ka)], A, n_max=n + 40)
        p = legendre_table(n + 40, cts)
        full = filt @ p
        short = filt[:, : n + 1] @ p[: n + 1]
        assert np.max(np.abs(full - short)) < tol
        # ... and it is not wastefully long: dropping two more orders breaks a 1000x looser bound
        if n >= 3 and ka > 0.5:
            cut = filt[:, : n - 1] @ p[: n - 1]
            assert np.max(np.abs(full - cut)) > tol / 1000


def test_energy_parseval_over_directions() -> None:
    # mean of |H|^2 over the sphere (Gauss-Legendre in cos theta) = sum (2n+1) |b_n|^2 (the diffuse power)
    x, w = np.polynomial.legendre.leggauss(200)
    f = [_freq(k) for k in (0.2, 3.0, 20.0)]
    mean = (np.abs(sphere_response(f, x, A)) ** 2 @ w) / 2
    diag = sphere_diffuse_cross_spectrum(f, np.eye(3), A)[:, 0, 0]
    np.testing.assert_allclose(mean, diag, rtol=1e-9)
    assert abs(diag[0] - 1) < 0.02 and abs(diag[-1] - 2) < 0.1  # 1 at low, +3 dB at high ka


def test_diffuse_cross_spectrum_equals_direction_average() -> None:
    # brute force: average H(u.r_i) H*(u.r_j) over many directions (Fibonacci sphere)
    k = np.arange(20000) + 0.5
    z = 1 - 2 * k / 20000
    phi = np.pi * (1 + 5**0.5) * k
    u = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], axis=1)
    mics = unit_vectors_deg(np.array([45.0, -45.0, 135.0]), np.array([35.0, -35.0, -35.0]))
    f = [300.0, 3000.0, 9000.0]
    h = sphere_response(f, u @ mics.T, A)  # (F, U, M)
    brute = np.einsum("fui,fuj->fij", h, h.conj()).real / len(u)
    np.testing.assert_allclose(sphere_diffuse_cross_spectrum(f, mics, A), brute, atol=2e-3)
    coh = sphere_diffuse_coherence(f, mics, A)
    np.testing.assert_allclose(np.diagonal(coh, axis1=1, axis2=2), 1.0)


def test_free_field_coefficients_reproduce_sinc_coherence() -> None:
    # the same Legendre sum with b_n = j_n is the classic sinc(k d) (d = chord length)
    theta = np.deg2rad(109.47)
    ka = 2.5
    n = np.arange(40)
    s = np.sum((2 * n + 1) * spherical_jn(n, ka) ** 2 * eval_legendre(n, np.cos(theta)))
    d = 2 * A * np.sin(theta / 2)
    k = ka / A
    assert abs(s - np.sin(k * d) / (k * d)) < 1e-12


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="radius"):
        sphere_response([100.0], [1.0], 0.0)
    with pytest.raises(ValueError, match="cos_theta"):
        sphere_response([100.0], [1.5], A)
    with pytest.raises(ValueError, match="freqs"):
        sphere_response([-5.0], [1.0], A)
    with pytest.raises(ValueError, match="ka"):
        modal_coefficients(np.array([-1.0]), 3)
    with pytest.raises(ValueError, match="directions"):
        sphere_diffuse_coherence([100.0], np.zeros((2, 2)), A)
