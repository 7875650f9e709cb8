"""Rigid-sphere scattering: pressure microphones on the surface of a rigid sphere (Eigenmike-style).

A plane wave from the unit direction ``u`` (towards the source) hits a rigid sphere of radius ``a``;
the pressure at a point of its surface whose outward direction makes the angle ``Theta`` with ``u``
(``cos Theta = u . r_hat``; ``Theta = 0`` faces the source) is, relative to the free-field pressure
of the same plane wave at the sphere's centre (without the sphere)::

    H(f, Theta) = sum_n (2n + 1) i^n b_n(ka) P_n(cos Theta),
    b_n(x) = j_n(x) - j_n'(x) / h_n'(x) h_n(x) = -i / (x^2 h_n'(x))        (Wronskian form)

with ``k = 2 pi f / c``, ``j_n`` / ``y_n`` the spherical Bessel functions, ``P_n`` the Legendre
polynomials and ``h_n = j_n - i y_n`` the outgoing spherical Hankel function.

**Time convention**: ``exp(+i omega t)``, the one of numpy's FFT (a delay ``tau`` is the factor
``exp(-i omega tau)``, an outgoing wave ``h_n^(2)``). With it the free-field expansion
``exp(i k a cos Theta) = sum_n (2n + 1) i^n j_n(ka) P_n(cos Theta)`` is the *advance* of a surface
point facing the source: without the scattering term (``b_n = j_n``) ``H`` is exactly the free-field
phase of that point relative to the centre, and with it ``H -> 1`` for ``ka -> 0`` (the sphere is
acoustically transparent at low frequency), ``|H| -> 2`` (+6 dB, pressure doubling) on the facing
side and a shadow on the far side for ``ka >> 1``. The Wronskian form is used (no cancellation
between the incident and scattered terms); the tests compare it with the literal formula and with
an independent 50-digit evaluation (mpmath).

**Truncation** (:func:`truncation_order`): the terms fall super-exponentially once ``n > ka``
(``|b_n(x)| ~ x^n / ((n + 1) (2n - 1)!!)``), each at most ``(2n + 1) |b_n|`` since ``|P_n| <= 1``,
and for ``n >= ka`` consecutive terms shrink at least twofold, so the omitted tail is below twice the
first omitted term. ``N`` is the smallest order ``>= ceil(ka_max)`` with
``(2N + 3) |b_{N+1}(ka_max)| < tol / 2`` (``|b_n(x)|`` grows with ``x`` for ``n > x``, so ``ka_max``
bounds every lower frequency): the truncated ``H`` is within ``tol`` (default ``1e-9``) of the full
series at every frequency up to the one of ``ka_max`` (checked against ``N + 40`` terms in the tests).

**Diffuse field**: averaging ``H(u . r_i) H*(u . r_j)`` over all directions ``u`` (addition theorem
of the Legendre polynomials) gives the cross-spectrum of a spherically isotropic field between two
surface points at angle ``Theta_ij``::

    S_ij(f) = sum_n (2n + 1) |b_n(ka)|^2 P_n(cos Theta_ij)

(:func:`sphere_diffuse_cross_spectrum`; the free-field value ``sinc(k d_ij)`` is the same sum with
``b_n = j_n``), its diagonal the diffuse-field power gain of a surface mic (1 at low, 2 at high
``ka``) and ``S_ij / S_ii`` the coherence (:func:`sphere_diffuse_coherence`).

Far-field model: every source (and every image source of a room) is a plane wave at the sphere;
near-field curvature (``a / r`` of a few % at 1 m for the em32's 4.2 cm) is ignored.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import spherical_jn, spherical_yn

from soundloc.geometry import SPEED_OF_SOUND

DEFAULT_TOL = 1e-9
"""Default absolute truncation error of the modal series (|H| is of order 1)."""


def modal_coefficients(ka: ArrayLike, n_max: int) -> NDArray[np.complex128]:
    """Rigid-sphere modal coefficients ``b_n(ka)`` for ``n = 0 .. n_max``, shape ``(*ka.shape, n_max + 1)``.

    ``b_n(x) = -i / (x^2 h_n'(x))`` with ``h_n = j_n - i y_n`` (``exp(+i omega t)``); ``b_0(0) = 1`` and
    ``b_n(0) = 0`` for ``n >= 1`` (the limits). Orders whose ``h_n'`` overflows give exactly 0.
    """
    if n_max < 0:
        raise ValueError(f"n_max must be >= 0, got {n_max}")
    x = np.asarray(ka, dtype=np.float64)
    if np.any(x < 0) or not np.all(np.isfinite(x)):
        raise ValueError("ka must be finite and >= 0")
    n = np.arange(n_max + 1)
    xs = np.where(x > 0, x, 1.0)[..., None]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dh = spherical_jn(n, xs, derivative=True) - 1j * spherical_yn(n, xs, derivative=True)
        b = -1j / (xs * xs * dh)
    b = np.where(np.isfinite(b), b, 0.0)
    zero = np.zeros(n_max + 1, dtype=np.complex128)
    zero[0] = 1.0
    return np.where((x > 0)[..., None], b, zero).astype(np.complex128)


def truncation_order(ka_max: float, tol: float = DEFAULT_TOL) -> int:
    """Smallest series order ``N`` whose truncation error is below ``tol`` for every ``ka <= ka_max``
    (see the module docstring)."""
    if not (math.isfinite(ka_max) and ka_max >= 0):
        raise ValueError(f"ka_max must be finite and >= 0, got {ka_max}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    n0 = int(math.ceil(ka_max))
    n_hi = n0 + 80
    b = np.abs(modal_coefficients(np.array(ka_max), n_hi))
    term = (2 * np.arange(n_hi + 1) + 1) * b
    for n in range(n0, n_hi):
        if term[n + 1] < tol / 2:
            return n
    return n_hi  # pragma: no cover - 80 orders past ka always suffice


def legendre_table(n_max: int, x: ArrayLike) -> NDArray[np.float64]:
    """Legendre polynomials ``P_0 .. P_n_max`` at ``x`` (Bonnet's recurrence), shape ``(n_max + 1, *x.shape)``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((n_max + 1, *x.shape))
    out[0] = 1.0
    if n_max >= 1:
        out[1] = x
    for n in range(1, n_max):
        out[n + 1] = ((2 * n + 1) * x * out[n] - n * out[n - 1]) / (n + 1)
    return out


def modal_filters(freqs: ArrayLike, radius: float, c: float = SPEED_OF_SOUND, n_max: int | None = None,
                  tol: float = DEFAULT_TOL) -> NDArray[np.complex128]:
    """``(F, N + 1)`` complex ``(2n + 1) i^n b_n(k a)``: ``H(f, Theta) = sum_n filters[f, n] P_n(cos Theta)``.

    Args:
        freqs: ``(F,)`` frequencies in Hz (>= 0).
        radius: sphere radius ``a`` in metres.
        c: speed of sound in m/s.
        n_max: series order; None picks :func:`truncation_order` of the highest ``ka`` for ``tol``.
    """
    f = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
    _check_radius_c(radius, c)
    if np.any(f < 0) or not np.all(np.isfinite(f)):
        raise ValueError("freqs must be finite and >= 0 Hz")
    ka = 2.0 * np.pi * f * radius / c
    if n_max is None:
        n_max = truncation_order(float(ka.max()) if ka.size else 0.0, tol)
    n = np.arange(n_max + 1)
    return ((2 * n + 1) * (1j**n))[None, :] * modal_coefficients(ka, n_max)


def sphere_response(freqs: ArrayLike, cos_theta: ArrayLike, radius: float, c: float = SPEED_OF_SOUND,
                    *, tol: float = DEFAULT_TOL) -> NDArray[np.complex128]:
    """Pressure ``H(f, Theta)`` on a rigid sphere relative to the free-field plane wave at its centre.

    Args:
        freqs: ``(F,)`` frequencies in Hz.
        cos_theta: ``(...)`` cosines of the angle between the source direction and the mic's
            outward direction (1: facing the source, -1: opposite).
        radius: sphere radius in metres.
        c: speed of sound in m/s.
        tol: absolute truncation error of the series.

    Returns:
        ``(F, ...)`` complex transfer functions (``exp(+i omega t)``, numpy FFT convention).
    """
    ct = np.asarray(cos_theta, dtype=np.float64)
    if np.any(np.abs(ct) > 1.0 + 1e-9):
        raise ValueError("cos_theta must be in [-1, 1]")
    filt = modal_filters(freqs, radius, c, tol=tol)  # (F, N + 1)
    p = legendre_table(filt.shape[1] - 1, np.clip(ct, -1.0, 1.0))  # (N + 1, ...)
    return np.tensordot(filt, p, axes=(1, 0))


def sphere_diffuse_cross_spectrum(freqs: ArrayLike, directions: ArrayLike, radius: float,
                                  c: float = SPEED_OF_SOUND, *, tol: float = DEFAULT_TOL) -> NDArray[np.float64]:
    """Diffuse-field cross-spectra ``(F, M, M)`` (real) between mics on a rigid sphere.

    ``S_ij(f) = sum_n (2n + 1) |b_n(ka)|^2 P_n(u_i . u_j)``, relative to the power of the same
    diffuse field at the centre without the sphere (so ``S_ii -> 1`` at low, ``-> 2`` at high ``ka``).

    Args:
        freqs: ``(F,)`` Hz.
        directions: ``(M, 3)`` mic directions from the sphere's centre (normalised here).
        radius: metres. c: m/s.
    """
    f = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
    u = _unit_rows(directions)
    _check_radius_c(radius, c)
    ka = 2.0 * np.pi * f * radius / c
    n_max = truncation_order(float(ka.max()) if ka.size else 0.0, tol)
    b2 = np.abs(modal_coefficients(ka, n_max)) ** 2 * (2 * np.arange(n_max + 1) + 1)  # (F, N + 1)
    p = legendre_table(n_max, np.clip(u @ u.T, -1.0, 1.0))  # (N + 1, M, M)
    return np.tensordot(b2, p, axes=(1, 0))


def sphere_diffuse_coherence(freqs: ArrayLike, directions: ArrayLike, radius: float,
                             c: float = SPEED_OF_SOUND, *, tol: float = DEFAULT_TOL) -> NDArray[np.float64]:
    """Diffuse-field coherence ``S_ij / S_ii`` ``(F, M, M)`` of mics on a rigid sphere (1 on the
    diagonal); the rigid-sphere counterpart of :func:`soundloc.scenes.acoustics.diffuse_coherence`."""
    s = sphere_diffuse_cross_spectrum(freqs, directions, radius, c, tol=tol)
    out: NDArray[np.float64] = s / s[:, :1, :1]  # the diagonal is the same for every mic
    return out


def _unit_rows(directions: ArrayLike) -> NDArray[np.float64]:
    u = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if u.ndim != 2 or u.shape[1] != 3:
        raise ValueError(f"directions must have shape (M, 3), got {u.shape}")
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(norm)):
        raise ValueError("directions must be finite non-zero vectors")
    out: NDArray[np.float64] = u / norm
    return out


def _check_radius_c(radius: float, c: float) -> None:
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"sphere radius must be > 0 m, got {radius}")
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"speed of sound must be > 0 m/s, got {c}")


# ---------------------------------------------------------------------------
# band limit of a spherical-array FOA encoder
# ---------------------------------------------------------------------------

EM32_FOA_BAND_LIMIT_HZ = 9000.0
"""Frequency above which the em32's first-order ambisonics encoding stops being ideal (spatial aliasing)."""


def foa_encoder_band_limit(foa: ArrayLike, fs: int, band_limit: float, rng: np.random.Generator, *,
                           transition_octaves: float = 0.5, spread_s: float = 0.002) -> NDArray[np.float64]:
    """Degrade ideal ACN/SN3D FOA signals above an encoder's band limit (em32-like spherical array).

    A spherical array's FOA encoder derives the first-order channels from its capsules; above its
    spatial-aliasing frequency (about 9 kHz for the em32, :data:`EM32_FOA_BAND_LIMIT_HZ`) the encoded
    dipole patterns break up (aliased higher orders), so the encoded direction wanders and the
    first-order channels lose their coherence with W. Model:

    * W is kept as is (the capsule sum stays omnidirectional far higher);
    * Y, Z, X are the ideal channels below ``band_limit`` and, through a power-complementary
      raised-cosine crossfade over ``transition_octaves`` above it (gains ``w`` and
      ``sqrt(1 - w^2)``), a *spatially aliased* component above: W through an independent random
      all-pass filter per channel (unit magnitude, a random-walk phase with a step every
      ``1 / (2 spread_s)`` Hz, interpolated linearly, so its energy stays within about ``+-spread_s`` of the
      arrival), scaled by ``1 / sqrt(3)``.

    So every plane wave keeps its first-order energy at every frequency outside the crossfade
    (``u_x^2 + u_y^2 + u_z^2 = 1 = 3 / 3``), its encoded direction is exact below the band limit and
    random above it. Not modelled: the direction dependence of the aliasing (one filter per channel
    and signal, whatever the direction of arrival), capsule noise and mismatch, the low-frequency
    regularisation of real encoders.

    Args:
        foa: ``(..., 4, L)`` ACN/SN3D signals (e.g. RIRs ``(S, 4, L)``); each leading index gets its
            own random filters.
        fs: sample rate in Hz.
        band_limit: Hz (> 0); at or above ``fs / 2`` nothing changes.
        rng: the random generator of the all-pass filters.

    Returns:
        ``(..., 4, L)`` float64.
    """
    from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

    x = np.asarray(foa, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2] != 4:
        raise ValueError(f"foa must have shape (..., 4, samples), got {x.shape}")
    if not (math.isfinite(band_limit) and band_limit > 0):
        raise ValueError(f"FOA band limit must be > 0 Hz, got {band_limit}")
    if not transition_octaves > 0 or not spread_s > 0:
        raise ValueError("transition_octaves and spread_s must be > 0")
    length = x.shape[-1]
    pad = int(math.ceil(2 * spread_s * fs))  # room for the anticausal part, discarded after the FFT
    n_fft = int(next_fast_len(length + 2 * pad))
    f = rfftfreq(n_fft, 1.0 / fs)
    ramp = np.clip(np.log2(np.maximum(f, 1e-12) / band_limit) / transition_octaves, 0.0, 1.0)
    w = np.cos(0.5 * np.pi * ramp)  # 1 below the band limit, 0 above the transition
    n_knots = int(math.ceil(fs / 2.0 * 2.0 * spread_s)) + 2
    # a random walk of phases (uniform start, steps uniform in (-pi, pi)): every interpolated phase is
    # uniform mod 2 pi, so the aliased part is uncorrelated with W on average; independent uniform
    # knots would not be (the straight line between -3 and +3 rad passes through 0, not pi)
    lead = (*x.shape[:-2], 3)
    knots = rng.uniform(-np.pi, np.pi, (*lead, 1)) + np.cumsum(rng.uniform(-np.pi, np.pi, (*lead, n_knots)), axis=-1)
    pos = f / (fs / 2.0) * (n_knots - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n_knots - 2)
    frac = pos - i0
    allpass = np.exp(1j * (knots[..., i0] * (1.0 - frac) + knots[..., i0 + 1] * frac))
    spec = rfft(x, n=n_fft, axis=-1)
    first = w * spec[..., 1:, :] + np.sqrt(1.0 - w * w) * spec[..., :1, :] * allpass / math.sqrt(3.0)
    out = np.array(x, copy=True)
    out[..., 1:, :] = irfft(first, n=n_fft, axis=-1)[..., :length]
    return out
