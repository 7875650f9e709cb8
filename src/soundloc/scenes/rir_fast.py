"""The ``"fast"`` RIR backend: exact early image sources plus a statistically matched diffuse tail.

Model (shoebox, frequency-independent walls, the same amplitude convention as pyroomacoustics):

* **Early part**: *every* image source of the shoebox that arrives before the transition time
  ``t_tr = d_direct / c + transition_time`` (``transition_time`` = 30 ms after the direct sound
  reaches the nearest mic, a typical mixing time of rooms of tens to hundreds of m^3), whatever
  its order. Image ``i`` with ``n_i`` wall hits at distance ``d_i`` contributes ``beta^n_i / d_i`` (``beta =
  sqrt(1 - alpha)``, no ``1 / 4 pi`` — pyroomacoustics' convention, so the direct path has the
  same amplitude in both backends) through an 81-tap Hann-windowed-sinc fractional delay centred
  at ``d_i / c * fs + DELAY`` samples, ``DELAY = 40`` (the same filter length, window and delay as
  pyroomacoustics). The direct path therefore peaks at exactly ``d / c * fs + 40``.
* **Absorption** ``alpha`` from the **Eyring** inversion of the target RT60 (the energy of an
  image-source field decays at the Eyring rate, see :mod:`soundloc.scenes.acoustics`).
  pyroomacoustics uses Sabine's, whose walls are more absorbent (``alpha_eyring = 1 -
  exp(-alpha_sabine)``: 0.18 vs 0.2, 0.39 vs 0.5), so the fast backend's RIRs carry ~1 dB more
  reverberant energy for the same target (``FastRIRConfig(absorption="sabine")`` to match). For the same rooms
  to be accepted by both backends, a room whose Sabine inversion fails still raises
  :class:`InfeasibleRoomError`.
* **Late part** (from ``t_tr`` to ``max(RT60, t_tr + 10 ms)`` after emission): Gaussian
  noise (seeded) with an exponential energy envelope falling 60 dB per RT60 (the target, exactly),
  level-matched to the mean energy per sample of the complete image-source set in the
  ``match_window`` before the transition (mic-averaged, computed from the image amplitudes, so it
  is not a noisy measurement of the rendered early part). The noise is spatially *diffuse*: its
  inter-mic coherence is that of a spherically isotropic field, ``sinc(2 f d_ij / c)``, imposed
  per frequency with a Cholesky factor of the coherence matrix. Independent noise per source.
* A zero-phase 10 Hz high-pass (2nd-order Butterworth, forward-backward) removes the DC of the
  all-positive image sum, as pyroomacoustics does by default.

**First-order ambisonics** (``foa_rotation`` given, ``mic_positions`` = the one centre point):
every image source is encoded into ACN/SN3D first-order spherical-harmonic gains of its
direction seen from the centre, *in the array's own frame* (``R^T (image - centre)``, ``R`` the
array's rotation), times its omni contribution above — exact for the early part. The tail gets
the statistics of a diffuse field in SN3D FOA: independent Gaussian noise per channel, W with the
omni tail's energy and X, Y, Z each with 1/3 of it (the mean of ``u_x^2`` over the sphere), so
the channels are mutually uncorrelated and uncorrelated with W.

**Rigid sphere** (``sphere_radius`` given: the mics sit on a rigid sphere of that radius centred at
their centroid, e.g. the em32's 4.2 cm for the ``tetra-sphere`` preset): every early image source
is a plane wave at the sphere, delayed and attenuated by its distance to the *centre*
(``beta^n / d``, peak at ``d / c * fs + 40`` at the centre), and heard at mic ``m`` through the
rigid-sphere response ``H(f, Theta_m)`` (:mod:`soundloc.scenes.sphere`; ``Theta_m`` the angle
between the image's direction and the mic's, so ``H`` also carries each mic's free-field
advance/delay relative to the centre). The series is split into Legendre terms: per mic, ``N + 1``
sums of the same windowed-sinc impulses weighted by ``P_n(cos Theta_m)`` (one sparse product), each
filtered by its modal filter ``(2n + 1) i^n b_n(ka)`` with one FFT and summed — ``images x mics x
(N + 1)`` work (``N`` ~ 20 at 24 kHz) instead of a filter per (image, mic). ``H`` is tapered by a
raised cosine over the top 10 % of the band. The tail's cross-spectra are the rigid-sphere diffuse
ones ``sum_n (2n + 1) |b_n|^2 P_n(cos Theta_ij)`` instead of ``sinc``: the rigid-sphere coherence
and the sphere's diffuse-field power gain (1 at low, 2 at high ``ka``). Near-field curvature over
the sphere (``a / d``) is neglected. About 2.6x the free-field time (benchmarks/sphere.py).

**FOA encoder band limit** (``foa_band_limit`` with ``foa_rotation``): after rendering, the
first-order channels are ideal below the limit and spatially aliased above it
(:func:`soundloc.scenes.sphere.foa_encoder_band_limit`, seeded from ``seed``), like an em32's FOA.

What it does not model: frequency-dependent absorption or air absorption (the tail is white and
has one RT60 at all frequencies), scattering within the early part (specular reflections only),
source/mic directivity, per-wall materials; the late part carries no directional information.

Why 30 ms: the shorter the exact part, the closer the measured RT60 is to the target (the specular
image field of a shoebox decays slower than exponentially, most visibly for short RT60s); with
30 ms, T30 of 300 rooms of the MC-SimCLR distribution was within 5 % of the target (with 50 ms:
97 % within 5 %, worst 19 %). Longer values give more exact early reflections at that price.

Cost: about ``(4/3) pi (c t_tr)^3 / V`` images x mics x 81 taps for the early part (chunked, so
memory stays bounded even in tiny rooms), one FFT per mic for the tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.signal import butter, sosfiltfilt

from soundloc.ambisonics import DIFFUSE_STD, sh_gains
from soundloc.geometry import SPEED_OF_SOUND
from soundloc.scenes.acoustics import diffuse_coherence, eyring_absorption, room_volume_surface, sabine_absorption

FRAC_DELAY_TAPS = 81
"""Length of the windowed-sinc fractional delay filter (pyroomacoustics' default too)."""

FAST_DELAY_SAMPLES = FRAC_DELAY_TAPS // 2
"""Fixed delay in samples of the fast backend: the direct path peaks at ``d / c * fs + 40``."""

_HANN = np.hanning(FRAC_DELAY_TAPS)
_TAP_OFFSETS = np.arange(FRAC_DELAY_TAPS) - FAST_DELAY_SAMPLES  # -40 .. 40
# sin(pi (k - f)) = -(-1)^k sin(pi f) for integer k: one sine per image instead of one per tap.
_SIGNED_WINDOW = (-((-1.0) ** _TAP_OFFSETS) * _HANN / np.pi)[None, :]
_MAX_IMAGES = 2_000_000  # per source: beyond this (a room of a few litres) refuse rather than thrash
_CHUNK_PAIRS = 4096  # (image, mic) pairs rendered at once: 4096 x 81 float64 = 2.7 MB per temporary
SPHERE_TOL = 1e-6
"""Truncation error of the rigid-sphere series in simulation (-120 dB re the direct path)."""


@dataclass(frozen=True)
class FastRIRConfig:
    """Options of the fast backend (the defaults are what ``compute_rirs(..., backend="fast")`` uses).

    Attributes:
        transition_time: seconds after the direct sound (at the nearest mic) where image sources
            stop and the diffuse tail starts.
        match_window: seconds before the transition over which the tail level is matched to the
            image-source energy.
        c: speed of sound in m/s.
        absorption: ``"eyring"`` (default) or ``"sabine"`` inversion of the target RT60.
        tail: add the diffuse tail (False gives the bare early image sources, for tests).
        coherent_tail: impose the diffuse-field inter-mic coherence (False: independent noise).
        highpass_hz: cut-off of the zero-phase high-pass (0 disables it).
    """

    transition_time: float = 0.03
    match_window: float = 0.02
    c: float = SPEED_OF_SOUND
    absorption: str = "eyring"
    tail: bool = True
    coherent_tail: bool = True
    highpass_hz: float = 10.0

    def __post_init__(self) -> None:
        if not self.transition_time > 0:
            raise ValueError(f"transition_time must be > 0 s, got {self.transition_time}")
        if not 0 < self.match_window <= self.transition_time:
            raise ValueError(f"match_window must be in (0, transition_time], got {self.match_window}")
        if not self.c > 0:
            raise ValueError(f"speed of sound must be > 0 m/s, got {self.c}")
        if self.absorption not in ("eyring", "sabine"):
            raise ValueError(f"absorption must be 'eyring' or 'sabine', got {self.absorption!r}")
        if self.highpass_hz < 0:
            raise ValueError(f"highpass_hz must be >= 0, got {self.highpass_hz}")


def _axis_images(length: float, src: float, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates and wall-hit counts along one axis, ``(K,)`` each.

    Images sit at ``2 n L + s`` (``|2n|`` hits) and ``2 n L - s`` (``|2n - 1|`` hits).
    """
    n_max = int(math.ceil(radius / (2.0 * length))) + 1
    n = np.arange(-n_max, n_max + 1, dtype=np.float64)
    coords = np.concatenate([2.0 * n * length + src, 2.0 * n * length - src])
    hits = np.concatenate([np.abs(2.0 * n), np.abs(2.0 * n - 1.0)])
    return coords, hits


def image_sources(
    room_dim: np.ndarray, source: np.ndarray, center: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """All image sources of ``source`` within ``radius`` metres of ``center``.

    Returns:
        ``(positions (N, 3), hits (N,))``: image positions in room coordinates and their number of
        wall reflections (0 for the source itself).
    """
    cx, hx = _axis_images(room_dim[0], source[0], radius)
    cy, hy = _axis_images(room_dim[1], source[1], radius)
    cz, hz = _axis_images(room_dim[2], source[2], radius)
    dx2 = (cx - center[0]) ** 2
    dy2 = (cy - center[1]) ** 2
    dz2 = (cz - center[2]) ** 2
    inside = (dx2[:, None, None] + dy2[None, :, None] + dz2[None, None, :]) <= radius * radius
    ix, iy, iz = np.nonzero(inside)
    pos = np.stack([cx[ix], cy[iy], cz[iz]], axis=1)
    return pos, hx[ix] + hy[iy] + hz[iz]


def _kernels(t: np.ndarray, amp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windowed-sinc impulses: ``(first (P,) int64, ker (P, 81))``; impulse ``p`` peaks at sample
    ``t[p]`` (``>= 40``) with amplitude ``amp[p]`` and occupies samples ``first[p] .. first[p] + 80``."""
    n0 = np.floor(t)
    frac = t - n0
    den = _TAP_OFFSETS[None, :] - frac[:, None]  # k - 40 - frac
    num = _SIGNED_WINDOW * (np.sin(np.pi * frac) * amp)[:, None]
    exact = den == 0.0  # integer delay: the sinc is 1 there (0/0 otherwise)
    den[exact] = 1.0
    ker = num / den
    if exact.any():
        r, k = np.nonzero(exact)
        ker[r, k] = _HANN[k] * amp[r]
    return n0.astype(np.int64) - FAST_DELAY_SAMPLES, ker


def _render(out: np.ndarray, tau: np.ndarray, amp: np.ndarray, rows: np.ndarray) -> None:
    """Add windowed-sinc impulses into ``out (R, L)`` in place.

    ``tau (P,)`` peak positions in samples (``>= 40``), ``amp (P,)`` amplitudes, ``rows (P,)``
    row indices of ``out``. Chunked so that memory stays bounded.
    """
    length = out.shape[1]
    flat = out.reshape(-1)
    for a in range(0, tau.size, _CHUNK_PAIRS):
        first, ker = _kernels(tau[a : a + _CHUNK_PAIRS], amp[a : a + _CHUNK_PAIRS])
        start = rows[a : a + _CHUNK_PAIRS] * length + first
        idx = start[:, None] + np.arange(FRAC_DELAY_TAPS)[None, :]
        flat += np.bincount(idx.ravel(), weights=ker.ravel(), minlength=flat.size)


def _render_sphere(out: np.ndarray, tau: np.ndarray, amp: np.ndarray, dirs: np.ndarray, mic_dirs: np.ndarray,
                   radius: float, fs: int, c: float) -> None:
    """Add plane waves scattered by a rigid sphere into ``out (M, L)`` in place.

    Wave ``p`` reaches the sphere's centre at sample ``tau[p]`` with amplitude ``amp[p]`` from the
    unit direction ``dirs[p]``; mic ``m`` (outward unit direction ``mic_dirs[m]``) hears it through
    ``H(f, dirs[p] . mic_dirs[m])`` (:func:`soundloc.scenes.sphere.sphere_response`). With
    ``H = sum_n C_n(f) P_n(cos Theta)``, each mic's ``N + 1`` Legendre-weighted sums of the
    windowed-sinc impulses are formed in the time domain (one sparse product), filtered by ``C_n``
    with one FFT per row and summed: cost ``P x M x (N + 1)`` for ``P`` waves, not ``P x M x F``.

    ``H`` is not band-limited (complex at Nyquist), so its sampled impulse response would ring far;
    it is tapered by a raised cosine over the top 10 % of the band (where the windowed-sinc
    fractional delay already rolls off) to keep it compact, and the FFT buffer has room after the
    last impulse for its ring-down (5 ms) and for its anticausal part (front mics hear a wave up
    to ``a / c`` before the centre), which is discarded, not wrapped around.
    """
    from scipy.fft import irfft, next_fast_len, rfft, rfftfreq
    from scipy.sparse import csr_matrix

    from soundloc.scenes.sphere import legendre_table, modal_filters

    n_mic, length = out.shape
    if tau.size == 0:
        return
    first, ker = _kernels(tau, amp)
    # room for the scattered wave's ring-down (~ a few a / c) after the last impulse, then for the
    # wrapped-around anticausal part of the earliest one
    n_keep = int(first.max()) + FRAC_DELAY_TAPS + int(0.005 * fs) + 64
    n_fft = int(next_fast_len(n_keep + 64))
    cols = first[:, None] + np.arange(FRAC_DELAY_TAPS)[None, :]
    rows = np.repeat(np.arange(tau.size), FRAC_DELAY_TAPS)
    impulses = csr_matrix((ker.ravel(), (rows, cols.ravel())), shape=(tau.size, n_fft))
    freqs = rfftfreq(n_fft, 1.0 / fs)
    taper = np.cos(0.5 * np.pi * np.clip((freqs / (fs / 2.0) - 0.9) / 0.1, 0.0, 1.0)) ** 2
    filt = modal_filters(freqs, radius, c, tol=SPHERE_TOL) * taper[:, None]  # (F, N + 1)
    n_terms = filt.shape[1]
    leg = legendre_table(n_terms - 1, np.clip(dirs @ mic_dirs.T, -1.0, 1.0))  # (N + 1, P, M)
    weights = leg.transpose(1, 2, 0).reshape(tau.size, n_mic * n_terms)
    signals = np.asarray((impulses.T @ weights).T)  # (M (N + 1), n_fft)
    spec = rfft(signals, axis=1).reshape(n_mic, n_terms, -1)
    y = irfft(np.einsum("mnf,fn->mf", spec, filt), n=n_fft, axis=1)
    k = min(n_keep, length)
    out[:, :k] += y[:, :k]


def _coherence_factor(mics: np.ndarray, n_fft: int, fs: int, c: float,
                      sphere_radius: float | None = None) -> np.ndarray:
    """Cholesky factors ``(F, M, M)`` of the spherically-diffuse coherence ``sinc(2 f d_ij / c)``.

    Computed on a frequency grid fine enough for the array's largest spacing and interpolated
    linearly to the ``n_fft // 2 + 1`` rfft bins. With ``sphere_radius`` (mics on a rigid sphere
    around their centroid) the matrix is the rigid-sphere diffuse cross-spectrum
    :func:`soundloc.scenes.sphere.sphere_diffuse_cross_spectrum` instead: its normalised form is the
    rigid-sphere coherence, its diagonal the sphere's diffuse-field power gain (1 -> 2 with ``ka``).
    """
    m = len(mics)
    n_bins = n_fft // 2 + 1
    d = np.linalg.norm(mics[:, None, :] - mics[None, :, :], axis=-1)
    d_max = float(d.max())
    # coherence oscillates with period c / (2 d) in frequency: 32 grid points per period
    n_grid = n_bins if d_max == 0 else min(n_bins, max(64, int(math.ceil(fs / 2 / (c / (2 * d_max) / 32))) + 1))
    f = np.linspace(0.0, fs / 2.0, n_grid)
    if sphere_radius is None:
        gamma = diffuse_coherence(mics, f, c) + 1e-6 * np.eye(m)[None]
    else:
        from soundloc.scenes.sphere import sphere_diffuse_cross_spectrum

        gamma = sphere_diffuse_cross_spectrum(f, mics - mics.mean(axis=0), sphere_radius, c, tol=SPHERE_TOL)
        gamma = gamma + 1e-6 * np.eye(m)[None]
    chol = np.linalg.cholesky(gamma)
    if n_grid == n_bins:
        return chol
    pos = np.linspace(0.0, n_grid - 1.0, n_bins)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n_grid - 2)
    w = (pos - i0)[:, None, None]
    return chol[i0] * (1.0 - w) + chol[i0 + 1] * w


def _diffuse_noise(chol: np.ndarray | None, m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(m, n)`` unit-variance Gaussian noise; with diffuse-field inter-mic coherence if ``chol``
    (``(n // 2 + 1, m, m)`` from :func:`_coherence_factor`) is given."""
    noise = rng.standard_normal((m, n))
    if chol is None:
        return noise
    spec = np.fft.rfft(noise, axis=1)  # (M, F)
    mixed = np.einsum("fij,jf->if", chol, spec)
    return np.fft.irfft(mixed, n=n, axis=1)


def fast_rirs(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float,
    mic_positions: np.ndarray,
    source_positions: np.ndarray,
    fs: int,
    *,
    max_order: int | None = None,
    seed: int = 0,
    config: FastRIRConfig | None = None,
    foa_rotation: np.ndarray | None = None,
    sphere_radius: float | None = None,
    foa_band_limit: float | None = None,
) -> np.ndarray:
    """Fast RIRs (see the module docstring for the model); arguments as :func:`compute_rirs`.

    Args:
        room_dim: ``(3,)`` shoebox dimensions in metres.
        rt60: target RT60 in seconds.
        mic_positions: ``(M, 3)`` absolute positions in metres.
        source_positions: ``(S, 3)`` absolute positions in metres.
        fs: sample rate in Hz.
        max_order: render only image sources with at most this many reflections in the early part
            (the tail level is still matched to the complete image set). None: all of them.
        seed: seeds the tail noise; the output is bit-identical for the same arguments and seed.
        config: backend options, :class:`FastRIRConfig` defaults if None.
        foa_rotation: ``(3, 3)`` rotation of a first-order ambisonics array (array frame -> room
            frame, :func:`soundloc.geometry.rotation_matrix`); ``mic_positions`` is then its one
            centre point ``(1, 3)`` and the output has the 4 ACN/SN3D channels (``M = 4``).
        sphere_radius: the mics sit on a rigid sphere of this radius (metres) centred at their
            centroid (see "Rigid sphere" in the module docstring). None: free-field omni mics.
        foa_band_limit: with ``foa_rotation``: the FOA encoder is ideal only below this frequency
            (Hz) and spatially degraded above it
            (:func:`soundloc.scenes.sphere.foa_encoder_band_limit`, seeded from ``seed``). None: ideal.

    Returns:
        ``(S, M, L)`` float32, ``L = 40 + ceil(max(rt60, max_s t_tr_s + 10 ms) * fs) + 41``; the
        direct path of source s at mic m peaks at sample ``|src_s - mic_m| / c * fs + 40``.

    Raises:
        InfeasibleRoomError: Sabine's inversion fails for this room (as for ``"ism"``).
    """
    cfg = config or FastRIRConfig()
    dims = np.asarray(room_dim, dtype=np.float64)
    mics = np.atleast_2d(np.asarray(mic_positions, dtype=np.float64))
    srcs = np.atleast_2d(np.asarray(source_positions, dtype=np.float64))
    c, fs = cfg.c, int(fs)
    a_sabine = sabine_absorption(dims, rt60, c)  # raises InfeasibleRoomError like the ism backend
    alpha = eyring_absorption(dims, rt60, c) if cfg.absorption == "eyring" else a_sabine
    beta = math.sqrt(1.0 - alpha)  # pressure reflection coefficient

    foa = foa_rotation is not None
    if foa:
        rot = np.asarray(foa_rotation, dtype=np.float64)
        if rot.shape != (3, 3) or not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6):
            raise ValueError(f"foa_rotation must be a (3, 3) rotation matrix, got shape {rot.shape}")
        if len(mics) != 1:
            raise ValueError(f"FOA RIRs need the array's one centre point as mic_positions, got {len(mics)} points")
    n_mic = len(mics)
    n_out = 4 if foa else n_mic
    center = mics.mean(axis=0)
    if foa_band_limit is not None and not foa:
        raise ValueError("foa_band_limit applies to FOA RIRs (foa_rotation given) only")
    sphere = sphere_radius is not None
    radius = float(sphere_radius) if sphere_radius is not None else 0.0
    if sphere:
        if foa:
            raise ValueError("a rigid-sphere baffle applies to microphone arrays, not to FOA RIRs")
        if not (math.isfinite(radius) and radius > 0):
            raise ValueError(f"sphere_radius must be > 0 m, got {sphere_radius}")
        mic_vec = mics - center
        mic_r = np.linalg.norm(mic_vec, axis=1)
        if np.any(np.abs(mic_r - radius) > 0.02 * radius):
            raise ValueError(f"mics must lie on the sphere of radius {radius:g} m around their centroid "
                             f"(distances {np.round(mic_r, 4).tolist()} m)")
        mic_dirs = mic_vec / mic_r[:, None]
    array_radius = float(np.max(np.linalg.norm(mics - center, axis=1)))
    # transition: transition_time after the first direct-path arrival of each source
    t_direct = np.min(np.linalg.norm(srcs[:, None, :] - mics[None, :, :], axis=-1), axis=1) / c  # (S,)
    n_tr = FAST_DELAY_SAMPLES + np.round((t_direct + cfg.transition_time) * fs).astype(np.int64)  # tail start
    t_tr = (n_tr - FAST_DELAY_SAMPLES) / fs  # (S,) seconds since emission
    t_end = max(rt60, float(t_tr.max()) + 0.01)
    length = FAST_DELAY_SAMPLES + int(math.ceil(t_end * fs)) + FAST_DELAY_SAMPLES + 1
    volume, _ = room_volume_surface(dims)
    decay_per_s = 6.0 * math.log(10.0) / rt60  # energy decay rate of the target, nepers/s

    n_images = 4.0 / 3.0 * math.pi * (c * float(t_tr.max()) + array_radius) ** 3 / volume
    if n_images > _MAX_IMAGES:
        raise ValueError(
            f"room {dims.tolist()} m is too small for the fast backend: ~{n_images:.0f} image sources "
            f"before the transition (limit {_MAX_IMAGES}); shorten FastRIRConfig.transition_time"
        )
    rng = np.random.default_rng(seed)
    n_noise = length - int(n_tr.min())  # every source's tail is a prefix of this much noise
    chol = (_coherence_factor(mics, n_noise, fs, c, sphere_radius) if cfg.tail and cfg.coherent_tail and n_mic > 1
            else None)
    out = np.zeros((len(srcs), n_out, length), dtype=np.float64)
    rows = np.arange(n_mic)
    for s, src in enumerate(srcs):
        r_tr = c * t_tr[s]
        pos, hits = image_sources(dims, src, center, r_tr + array_radius)
        if sphere:  # plane waves at the sphere: every mic takes the image's distance to the centre
            d_c = np.linalg.norm(pos - center, axis=1)
            dist = np.repeat(d_c[:, None], n_mic, axis=1)  # (N, M)
        else:
            dist = np.linalg.norm(pos[:, None, :] - mics[None, :, :], axis=-1)  # (N, M)
        early = dist < r_tr
        amp = np.power(beta, hits)[:, None] / dist
        render = early if max_order is None else early & (hits[:, None] <= max_order)
        i_img, i_mic = np.nonzero(render)
        tau = dist[i_img, i_mic] / c * fs + FAST_DELAY_SAMPLES
        if sphere:  # each image once, scattered to every mic by H(f, theta)
            sel = render[:, 0]
            _render_sphere(out[s], d_c[sel] / c * fs + FAST_DELAY_SAMPLES, amp[sel, 0],
                           (pos[sel] - center) / d_c[sel, None], mic_dirs, radius, fs, c)
        elif foa:  # each image once per channel, weighted by the SH gains of its array-frame direction
            gains = sh_gains((pos[i_img] - center) @ rot)  # (P, 4); rows of R^T (p - c)
            p_amp = amp[i_img, i_mic][:, None] * gains
            _render(out[s], np.repeat(tau, 4), p_amp.ravel(), np.tile(np.arange(4), len(tau)))
        else:
            _render(out[s], tau, amp[i_img, i_mic], rows[i_mic])
        if not cfg.tail:
            continue
        # mean image energy per sample arriving in [t_tr - window, t_tr), direct path excluded,
        # referred to t_tr with the target decay, averaged over mics
        in_win = early & (dist >= c * (t_tr[s] - cfg.match_window)) & (hits[:, None] > 0)
        e_win = float(np.sum(np.where(in_win, amp**2, 0.0))) / n_mic
        x = decay_per_s * cfg.match_window
        level0 = e_win / (cfg.match_window * fs * math.expm1(x) / x)
        if level0 <= 0.0:
            # no image in the window (not for a complete set): the diffuse-field value
            level0 = 4.0 * math.pi * c / (volume * fs) * math.exp(-decay_per_s * t_tr[s])
        t_env = np.arange(length - n_tr[s]) / fs  # seconds after the transition
        env = np.sqrt(level0) * np.exp(-0.5 * decay_per_s * t_env)
        if foa:  # diffuse field in SN3D FOA: uncorrelated channels, X/Y/Z at 1/3 of W's energy
            noise = rng.standard_normal((4, n_noise))[:, : length - n_tr[s]] * DIFFUSE_STD[:, None]
        else:
            noise = _diffuse_noise(chol, n_mic, n_noise, rng)[:, : length - n_tr[s]]
        out[s, :, n_tr[s]:] += noise * env[None, :]
    if foa_band_limit is not None:
        from soundloc.scenes.sphere import foa_encoder_band_limit

        out = foa_encoder_band_limit(out, fs, float(foa_band_limit), np.random.default_rng([seed, 0xF0A]))
    if cfg.highpass_hz > 0:
        sos = butter(2, cfg.highpass_hz, btype="highpass", fs=fs, output="sos")
        out = sosfiltfilt(sos, out, axis=-1)
    return out.astype(np.float32)
