"""Signal side of a scene: source excerpts, spatialisation by RIR convolution, noise, levels.

Arrays are channels-first: a multichannel signal is ``(M, N)`` float64 while mixing and float32
when stored. RIRs are ``(P, M, L)``: one ``(M, L)`` set per trajectory point, sample 0 at the
emission time (see :func:`soundloc.scenes.rir.compute_rirs`).

Moving sources are piecewise static: the dry signal is split into segments by raised-cosine
windows that sum to one (cross-fades centred on the segment boundaries), each segment is
convolved with the RIR of its point and the results are added. The reverberation of an earlier
segment therefore rings on while the next one plays, as it would in the room.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from soundloc.geometry import SPEED_OF_SOUND
from soundloc.scenes.acoustics import diffuse_coherence


def active_region(x: np.ndarray, fs: int, silence_db: float = 40.0, frame_s: float = 0.01) -> tuple[int, int]:
    """``(start, stop)`` samples of ``x`` ``(N,)`` without leading/trailing silence.

    Silence: 10 ms frames whose energy is more than ``silence_db`` below the loudest frame's.
    A silent signal returns ``(0, N)``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    hop = max(1, int(round(frame_s * fs)))
    nf = int(math.ceil(n / hop))
    padded = np.zeros(nf * hop)
    padded[:n] = x
    e = np.sum(padded.reshape(nf, hop) ** 2, axis=1)
    if e.max() <= 0:
        return 0, n
    loud = np.flatnonzero(e >= e.max() * 10.0 ** (-silence_db / 10.0))
    return int(loud[0] * hop), int(min(n, (loud[-1] + 1) * hop))


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution of ``x`` ``(n,)`` with every row of ``h`` ``(M, L)`` by FFT: ``(M, n + L - 1)``."""
    x = np.asarray(x, dtype=np.float64)
    h = np.asarray(h, dtype=np.float64)
    size = len(x) + h.shape[-1] - 1
    nfft = next_fast_len(size, real=True)
    return irfft(rfft(x, nfft)[None, :] * rfft(h, nfft, axis=-1), nfft, axis=-1)[:, :size]


def unit_rms(x: np.ndarray) -> np.ndarray:
    """``x`` scaled to RMS 1 (a silent signal is returned unchanged)."""
    x = np.asarray(x, dtype=np.float64)
    rms = math.sqrt(float(np.mean(x * x))) if len(x) else 0.0
    return x / rms if rms > 0 else x


def _ramp(t: np.ndarray, boundary: int, crossfade: int) -> np.ndarray:
    """0 before ``boundary``, 1 after; a raised-cosine ramp of ``crossfade`` samples centred on it."""
    if crossfade <= 1:
        return (t >= boundary).astype(float)
    u = np.clip((t - (boundary - crossfade / 2.0)) / crossfade, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def segment_window(n: int, starts: np.ndarray, k: int, crossfade: int) -> tuple[int, np.ndarray]:
    """Window of segment ``k`` on its support: ``(first sample, values)``.

    ``w_k = g_k - g_{k+1}`` with ``g_k`` the ramp at ``starts[k]`` (``g_0 = 1``, ``g_P = 0``), so the
    windows of all segments sum to one.
    """
    p = len(starts)
    half = (crossfade + 1) // 2 + 1
    a = 0 if k == 0 else max(0, int(starts[k]) - half)
    b = n if k == p - 1 else min(n, int(starts[k + 1]) + half)
    t = np.arange(a, b)
    g_in = np.ones(len(t)) if k == 0 else _ramp(t, int(starts[k]), crossfade)
    g_out = np.zeros(len(t)) if k == p - 1 else _ramp(t, int(starts[k + 1]), crossfade)
    return a, g_in - g_out


def segment_windows(n: int, starts: np.ndarray, crossfade: int) -> np.ndarray:
    """Windows ``(P, n)`` that sum to one, switching from segment ``k-1`` to ``k`` at ``starts[k]``.

    Each switch is a raised-cosine cross-fade of ``crossfade`` samples centred on the boundary
    (a hard switch for ``crossfade <= 1``). ``starts[0]`` must be 0; ``starts`` increasing.
    """
    starts = np.asarray(starts, dtype=np.int64)
    w = np.zeros((len(starts), n))
    for k in range(len(starts)):
        a, v = segment_window(n, starts, k, crossfade)
        w[k, a : a + len(v)] = v
    return w


def spatialize(dry: np.ndarray, rirs: np.ndarray, seg_starts: np.ndarray, crossfade: int) -> np.ndarray:
    """Reverberant multichannel image of one event.

    Args:
        dry: ``(n,)`` dry excerpt.
        rirs: ``(P, M, L)`` RIRs, one set per trajectory point.
        seg_starts: ``(P,)`` first sample of each point's segment in ``dry`` (``seg_starts[0] == 0``).
        crossfade: cross-fade length in samples between segments.

    Returns:
        ``(M, n + L - 1)`` float64.
    """
    dry = np.asarray(dry, dtype=np.float64)
    p, m, length = rirs.shape
    n = len(dry)
    out = np.zeros((m, n + length - 1))
    if p == 1:
        out += convolve(dry, rirs[0])
        return out
    starts = np.asarray(seg_starts, dtype=np.int64)
    for k in range(p):
        a, w = segment_window(n, starts, k, crossfade)
        nz = np.flatnonzero(w > 0)
        if len(nz) == 0:
            continue
        a, b = a + int(nz[0]), a + int(nz[-1]) + 1
        seg = dry[a:b] * w[nz[0] : nz[-1] + 1]
        out[:, a : b + length - 1] += convolve(seg, rirs[k])
    return out


def _colored_spectrum(rng: np.random.Generator, shape: tuple[int, ...], fs: int, color: str) -> np.ndarray:
    """rfft of Gaussian white noise ``shape`` shaped to the ``color`` power spectrum."""
    if color not in ("white", "pink", "brown"):
        raise ValueError(f"noise color must be white, pink or brown, got {color!r}")
    n = shape[-1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    if color != "white":
        exponent = {"pink": 0.5, "brown": 1.0}[color]  # amplitude ~ f^-exponent
        spec *= np.maximum(np.fft.rfftfreq(n, 1.0 / fs), 20.0) ** (-exponent)
    return spec


def _unit_std(y: np.ndarray) -> np.ndarray:
    std = y.std(axis=-1, keepdims=True)
    return y / np.where(std > 0, std, 1.0)


def colored_noise(rng: np.random.Generator, shape: tuple[int, ...], fs: int, color: str = "pink") -> np.ndarray:
    """Gaussian noise ``shape`` (last axis = time) with a ``white`` / ``pink`` (1/f) / ``brown`` (1/f^2)
    power spectrum, flattened below 20 Hz, unit variance per channel."""
    return _unit_std(np.fft.irfft(_colored_spectrum(rng, shape, fs, color), n=shape[-1], axis=-1))


@functools.lru_cache(maxsize=8)
def _diffuse_factor(pos_bytes: bytes, m: int, n: int, fs: int, c: float, sphere_radius: float | None = None) -> np.ndarray:
    pos = np.frombuffer(pos_bytes, dtype=np.float64).reshape(m, 3)
    if sphere_radius is None:
        gamma = diffuse_coherence(pos, np.fft.rfftfreq(n, 1.0 / fs), c)  # (F, M, M)
    else:  # mics on a rigid sphere around their centroid: smooth in f (scale c / 4a), so a coarse grid + interpolation
        from soundloc.scenes.sphere import sphere_diffuse_coherence

        f = np.fft.rfftfreq(n, 1.0 / fs)
        fc = np.linspace(0.0, fs / 2.0, min(len(f), 2049))
        coarse = sphere_diffuse_coherence(fc, pos - pos.mean(axis=0), sphere_radius, c, tol=1e-6).reshape(len(fc), -1)
        gamma = np.stack([np.interp(f, fc, col) for col in coarse.T], axis=1).reshape(len(f), m, m)
    vals, vecs = np.linalg.eigh(gamma)
    factor = vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]  # (F, M, M), A = V sqrt(L)
    factor.setflags(write=False)
    return factor


def diffuse_noise(
    rng: np.random.Generator, mic_positions: np.ndarray, n: int, fs: int, color: str = "pink", c: float = SPEED_OF_SOUND,
    sphere_radius: float | None = None,
) -> np.ndarray:
    """Spherically isotropic (diffuse) noise at the mics, ``(M, n)``.

    Independent coloured noises are mixed per frequency with a factor ``A(f)`` of the diffuse-field
    coherence ``Gamma_ij(f) = sinc(2 f d_ij / c)`` (``A A^T = Gamma``, from its eigendecomposition,
    so it stays valid where ``Gamma`` is near-singular at low frequencies). Unit variance per mic.

    Only the distances between the mics matter, so pass the array's own (unrotated) positions:
    the factor is cached per (positions, n, fs, c), and identical inputs keep clips bit-identical
    whichever clip filled the cache.

    ``sphere_radius``: the mics sit on a rigid sphere of that radius around their centroid; the
    coherence is then the rigid-sphere one (:func:`soundloc.scenes.sphere.sphere_diffuse_coherence`).
    """
    pos = np.ascontiguousarray(mic_positions, dtype=np.float64)
    m = len(pos)
    spec = _colored_spectrum(rng, (m, n), fs, color)  # (M, F) independent coloured noises
    factor = _diffuse_factor(pos.tobytes(), m, int(n), int(fs), float(c),
                             None if sphere_radius is None else float(sphere_radius))
    mixed = np.einsum("fij,jf->if", factor, spec)
    return _unit_std(np.fft.irfft(mixed, n=n, axis=-1))


def diffuse_foa_noise(rng: np.random.Generator, n: int, fs: int, color: str = "pink") -> np.ndarray:
    """Spherically isotropic (diffuse) noise in ACN/SN3D first-order ambisonics, ``(4, n)``.

    A diffuse field encodes to mutually uncorrelated channels with energies ``1, 1/3, 1/3, 1/3``
    (:data:`soundloc.ambisonics.DIFFUSE_STD`): independent coloured noises, W at unit variance.
    """
    from soundloc.ambisonics import DIFFUSE_STD

    return colored_noise(rng, (4, int(n)), fs, color) * DIFFUSE_STD[:, None]


def noise_gain(signal: np.ndarray, noise: np.ndarray, snr_db: float, active: np.ndarray | None = None) -> float:
    """Gain for ``noise`` so that ``signal`` over ``noise`` is ``snr_db``.

    Signal power: mean over mics of the samples where ``active`` (``(N,)`` bool, default all);
    noise power: mean over all mics and samples.
    """
    s = np.asarray(signal)
    if active is not None and np.any(active):
        s = s[:, active]
    p_sig = float(np.mean(s.astype(np.float64) ** 2))
    p_noise = float(np.mean(np.asarray(noise, dtype=np.float64) ** 2))
    if p_noise <= 0 or p_sig <= 0:
        return 0.0
    return math.sqrt(p_sig / (p_noise * 10.0 ** (snr_db / 10.0)))


def peak_gain(x: np.ndarray, peak_dbfs: float) -> float:
    """Gain that puts the peak ``max |x|`` at ``peak_dbfs`` (1.0 for a silent ``x``)."""
    peak = float(np.max(np.abs(x))) if np.size(x) else 0.0
    return 10.0 ** (peak_dbfs / 20.0) / peak if peak > 0 else 1.0
