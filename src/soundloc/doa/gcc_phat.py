"""GCC-PHAT: pairwise time differences of arrival and a DOA from them.

Pairwise TDOA
    For mic pair ``(i, j)`` the PHAT-weighted cross-spectrum ``G_ij(f) = mean_t conj(Y_i) Y_j``
    (``Y = X / |X|``, restricted to the analysis band) gives the cross-correlation
    ``gcc(tau) = mean_f Re(G_ij(f) exp(j w_f tau))``, evaluated on an ``interp``-times finer lag
    grid (what an ``interp``-times longer, zero-padded inverse FFT computes) but only at the
    physically possible lags. The strongest peak within ``|lag| <= max_tau`` is refined by a
    parabola through it and its two neighbours, then polished by three Newton steps on the exact
    band-limited ``gcc`` (so even ``interp=1`` is accurate to ~1/100 sample on clean signals). The TDOA is ``t_j - t_i`` (seconds): positive
    when the sound reaches mic ``i`` first.

DOA
    Each grid direction ``g`` predicts pair delays ``tau_p(g)`` (far field, ``array.delays``).
    The spatial spectrum measures how consistent they are with the measured ones::

        S(g) = sum_p max_k h_pk * exp(-(tdoa_pk - tau_p(g))^2 / (2 sigma^2))

    with the ``K = num_sources`` strongest GCC peaks ``tdoa_pk`` (heights ``h_pk``) of every pair
    and ``sigma = sigma_samples / fs``. Each spectrum peak is then refined off the grid by
    weighted least squares (Gauss-Newton on the angles, a few steps, using for each pair the
    measured TDOA nearest the peak's prediction); the refinement is kept when it lowers the
    squared TDOA error and stays within a few grid steps of the peak.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch

from soundloc.doa.base import Localizer
from soundloc.doa.srp_phat import pair_entries, phat_cross_spectra
from soundloc.features.stft import stft
from soundloc.geometry import AzimuthGrid, MicArray, SphereGrid, unit_vectors
from soundloc.spectral import band_bins


def _lag_table(freqs: np.ndarray, max_lag: int, up: float, device: torch.device) -> torch.Tensor:
    """``(2F, 2 max_lag + 3)`` table evaluating the band-limited GCC at lags ``l / up`` s, ``|l| <= max_lag + 1``."""
    lags = np.arange(-max_lag - 1, max_lag + 2) / up
    ph = 2 * np.pi * freqs[:, None] * lags[None]
    return torch.as_tensor(np.concatenate([np.cos(ph), np.sin(ph)]) / len(freqs), dtype=torch.float32, device=device)


def _gcc_curves(C: torch.Tensor, table: torch.Tensor) -> np.ndarray:
    """Band cross-spectra ``(B, F, P)`` -> GCC ``(B, P, L)`` at the lags of ``table`` (see :func:`_lag_table`).

    ``gcc(tau) = mean_f Re(conj(C_f) exp(j w_f tau))``: 1 at the delay for a perfectly coherent
    pair; exactly the zero-padded (upsampled) inverse FFT of the PHAT cross-spectrum, but only at
    the lags that can occur.
    """
    feats = torch.cat([C.real, C.imag], dim=1).transpose(1, 2)  # (B, P, 2F)
    return torch.matmul(feats, table).double().cpu().numpy()


def _pick_peaks(win: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest local maxima of ``win (..., 2 L + 3)`` (lags ``-L-1 .. L+1``), searched in ``|lag| <= L``.

    Returns ``(lags (..., k) in steps, sub-step by a parabola through the peak and its neighbours;
    heights (..., k) >= 0)``. Missing peaks get height 0 and the lag of the maximum.
    """
    L = (win.shape[-1] - 3) // 2
    c, left, right = win[..., 1:-1], win[..., :-2], win[..., 2:]
    is_max = (c >= left) & (c > right)
    score = np.where(is_max, c, -np.inf)
    order = np.argsort(-score, axis=-1)[..., :k]
    h = np.take_along_axis(score, order, -1)
    y0 = np.take_along_axis(c, order, -1)
    ym = np.take_along_axis(left, order, -1)
    yp = np.take_along_axis(right, order, -1)
    den = ym - 2 * y0 + yp
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(den < 0, 0.5 * (ym - yp) / np.where(den < 0, den, -1.0), 0.0)
    lags = order - L + np.clip(delta, -0.5, 0.5)
    valid = np.isfinite(h)
    lags = np.where(valid, lags, np.argmax(c, axis=-1)[..., None] - L + 0.0)
    return lags, np.where(valid, np.maximum(y0, 0.0), 0.0)


def _pair_peaks(curves: np.ndarray, max_lags: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of ``curves (B, P, 2 Lmax + 3)`` with pair ``p`` searched in ``|lag| <= max_lags[p]``: ``(B, P, k)`` twice."""
    Lmax = (curves.shape[-1] - 3) // 2
    B, P, _ = curves.shape
    lags, heights = np.empty((B, P, k)), np.empty((B, P, k))
    for p in range(P):
        Lp = int(max_lags[p])
        lags[:, p], heights[:, p] = _pick_peaks(curves[:, p, Lmax - Lp : Lmax + Lp + 3], k)
    return lags, heights


def _newton_refine(tau: np.ndarray, C: torch.Tensor, freqs: np.ndarray, step: float, iters: int = 3) -> np.ndarray:
    """Polish peak lags ``tau (B, P, K)`` (s) by Newton steps on the exact band-limited GCC of ``C (B, F, P)``.

    ``g(tau) = mean_f Re(conj(C_f) exp(j w_f tau))`` is smooth, so a few steps from the parabolic
    estimate reach its maximum to far below 1/100 sample; each step is limited to ``step`` seconds.
    """
    Cn = C.detach().cpu().numpy().astype(np.complex128).transpose(0, 2, 1)[:, :, None, :]  # (B, P, 1, F)
    w = 2 * np.pi * np.asarray(freqs, dtype=float)
    t = tau.copy()
    for _ in range(iters):
        e = np.exp(1j * w * t[..., None])  # (B, P, K, F)
        z = np.conj(Cn) * e
        d1 = np.mean(w * (-z.imag), axis=-1)  # g'
        d2 = -np.mean(w * w * z.real, axis=-1)  # g''
        with np.errstate(invalid="ignore", divide="ignore"):
            dt = np.where(d2 < 0, -d1 / np.where(d2 < 0, d2, -1.0), 0.0)
        t = t + np.clip(dt, -step, step)
    return t


def _tdoa_peaks(
    X: torch.Tensor, pairs: np.ndarray, freqs: np.ndarray, table: torch.Tensor, max_lags: np.ndarray, up: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` strongest GCC-PHAT peaks of every pair of the band STFT ``X (B, F, M, T)``.

    ``table`` from :func:`_lag_table` over ``freqs`` at ``up`` lags per second; pair ``p`` is
    searched in ``|lag| <= max_lags[p]`` steps. Returns ``(tdoa (B, P, k) seconds t_j - t_i,
    Newton-polished; heights (B, P, k))``.
    """
    return _cross_spectra_peaks(phat_cross_spectra(X, pairs), freqs, table, max_lags, up, k)


def _cross_spectra_peaks(
    C: torch.Tensor, freqs: np.ndarray, table: torch.Tensor, max_lags: np.ndarray, up: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_tdoa_peaks` from the frame-averaged PHAT pair cross-spectra ``C (B, F, P)``."""
    lags, heights = _pair_peaks(_gcc_curves(C, table), max_lags, k)
    return _newton_refine(lags / up, C, freqs, 0.5 / up), heights


def gcc_phat_tdoa(
    x: np.ndarray,
    fs: int,
    pairs: np.ndarray | None = None,
    max_tau: float | np.ndarray | None = None,
    interp: int = 16,
    *,
    nfft: int = 512,
    hop: int | None = None,
    fmin: float = 0.0,
    fmax: float | None = None,
    num_peaks: int = 1,
    return_heights: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Pairwise TDOAs by GCC-PHAT with sub-sample interpolation.

    Args:
        x: ``(M, N)`` or ``(B, M, N)`` waveforms.
        fs: sample rate in Hz.
        pairs: ``(P, 2)`` mic index pairs ``(i, j)``; default all pairs ``i < j``.
        max_tau: largest |TDOA| searched, seconds (scalar or ``(P,)``); default half the frame.
            Pass ``distance(i, j) / c`` (plus a little margin) to search physical delays only.
        interp: upsampling factor of the cross-correlation for the coarse peak search (>= 1);
            higher values avoid picking the wrong one of two close peaks.
        nfft, hop: STFT frame / hop in samples (cross-spectra are averaged over frames).
        fmin, fmax: analysis band in Hz (default the whole band above DC).
        num_peaks: return the ``num_peaks`` strongest peaks per pair.
        return_heights: also return the GCC value at each peak (1 = perfectly coherent).

    Returns:
        TDOAs ``t_j - t_i`` in seconds: ``(P,)`` / ``(B, P)`` for ``num_peaks == 1``, else with a
        trailing ``(num_peaks,)`` axis; and the heights in the same shape if requested.

    Example:
        >>> from soundloc.geometry import SPEED_OF_SOUND
        >>> tdoa = gcc_phat_tdoa(x, 16000, pairs=[[0, 1]], max_tau=0.1 / SPEED_OF_SOUND)   # x: (2, N)
    """
    xa = np.asarray(x)
    squeeze = xa.ndim == 2
    if xa.ndim not in (2, 3) or xa.shape[-1] == 0:
        raise ValueError(f"x must be (mics, samples) or (batch, mics, samples) and non-empty, got shape {xa.shape}")
    if not np.all(np.isfinite(xa)):
        raise ValueError("input contains NaN or infinity")
    if int(interp) != interp or interp < 1:
        raise ValueError(f"interp must be an integer >= 1, got {interp}")
    if int(num_peaks) != num_peaks or num_peaks < 1:
        raise ValueError(f"num_peaks must be an integer >= 1, got {num_peaks}")
    xa = xa[None] if squeeze else xa
    M = xa.shape[1]
    pairs = np.stack(np.triu_indices(M, 1), axis=1) if pairs is None else np.atleast_2d(np.asarray(pairs, dtype=int))
    if pairs.shape[-1] != 2 or pairs.min() < 0 or pairs.max() >= M:
        raise ValueError(f"pairs must be (P, 2) mic indices below {M}, got {pairs.tolist()}")
    fmax = fs / 2.0 if fmax is None else float(fmax)
    if fmax > fs / 2.0 or fmin >= fmax or fmin < 0:
        raise ValueError(f"need 0 <= fmin < fmax <= fs/2, got fmin={fmin:g}, fmax={fmax:g}, fs={fs}")
    bins, freqs = band_bins(fs, nfft, fmin, fmax)
    X = torch.as_tensor(stft(torch.as_tensor(xa, dtype=torch.float64), nfft, hop))  # (B, M, F, T)
    X = X[:, :, torch.as_tensor(bins)].permute(0, 2, 1, 3).to(torch.complex64)  # (B, F, M, T)
    up = fs * interp
    mt = np.broadcast_to(np.asarray(nfft / (2 * fs) if max_tau is None else max_tau, dtype=float), (len(pairs),))
    if np.any(mt <= 0):
        raise ValueError(f"max_tau must be > 0 seconds, got {max_tau}")
    max_lags = np.ceil(mt * up).astype(int)
    table = _lag_table(freqs, int(max_lags.max()), up, X.device)
    tdoa, heights = _tdoa_peaks(X, pairs, freqs, table, max_lags, up, num_peaks)
    if num_peaks == 1:
        tdoa, heights = tdoa[..., 0], heights[..., 0]
    if squeeze:
        tdoa, heights = tdoa[0], heights[0]
    return (tdoa, heights) if return_heights else tdoa


class GCCPHAT(Localizer):
    """DOA from GCC-PHAT pairwise TDOAs (consistency grid search + least-squares refinement).

    Extra args:
        interp: cross-correlation upsampling factor before the parabolic peak fit (default 16).
        sigma_samples: width of the TDOA consistency kernel in samples (default 1.0; wider is
            more tolerant of reverberation, narrower separates close sources better).
        refine: least-squares refinement of each peak off the grid (default True).

    Default band 300-6000 Hz (see :class:`~soundloc.doa.base.Localizer`). Use :meth:`tdoas` for
    the pairwise delays of a clip. Works for one source best: with ``num_sources > 1`` each pair
    contributes its ``num_sources`` strongest GCC peaks, which small arrays rarely resolve.
    """

    name: ClassVar[str] = "gcc-phat"
    frame_statistic: ClassVar[str | None] = "phat"

    def __init__(self, *args, interp: int = 16, sigma_samples: float = 1.0, refine: bool = True, **kwargs) -> None:
        if int(interp) != interp or interp < 1:
            raise ValueError(f"interp must be an integer >= 1, got {interp}")
        if not sigma_samples > 0:
            raise ValueError(f"sigma_samples must be > 0, got {sigma_samples}")
        self.interp = int(interp)
        self.sigma_samples = float(sigma_samples)
        self.refine = bool(refine)
        super().__init__(*args, **kwargs)

    def _setup(self) -> None:
        if not isinstance(self.array, MicArray):
            raise TypeError(f"{self.name}: needs a MicArray, got {type(self.array).__name__}")
        self.pairs = self.array.pairs()
        pos = self.array.positions
        self._baselines = pos[self.pairs[:, 1]] - pos[self.pairs[:, 0]]  # (P, 3): d_p = p_j - p_i
        self._dist = np.linalg.norm(self._baselines, axis=1)
        # search each pair's physically possible delays plus one sample of margin
        self._max_lag = np.ceil((self._dist / self.c + 1.0 / self.fs) * self.fs * self.interp).astype(int)
        self._lags = _lag_table(self.freqs, int(self._max_lag.max()), self.fs * self.interp, self.device)
        self.pair_tau = (self.tau[:, self.pairs[:, 1]] - self.tau[:, self.pairs[:, 0]]).T  # (P, G) t_j - t_i
        self._sigma = self.sigma_samples / self.fs
        g = self.grid
        if isinstance(g, AzimuthGrid):
            self._step_deg = g.resolution_deg
        elif isinstance(g, SphereGrid):
            self._step_deg = g.spacing_deg
        else:
            nb = g.neighbors()[:, 0]
            self._step_deg = float(np.median(np.degrees(np.arccos(np.clip(np.sum(g.directions * g.directions[nb], 1), -1, 1)))))
        self._el_range = (float(g.elevation.min()), float(g.elevation.max()))

    def _pair_peaks(self, X: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
        return _tdoa_peaks(X, self.pairs, self.freqs, self._lags, self._max_lag, self.fs * self.interp, k)

    def tdoas(self, x: np.ndarray, num_peaks: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Pairwise TDOAs of ``x (M, N)`` over ``self.pairs`` in the localizer's band.

        Returns ``(tdoa (P, num_peaks) seconds t_j - t_i, heights (P, num_peaks))``.
        """
        x = self._check_waveform(x, batched=False)
        t, h = self._pair_peaks(self._band_stft(x[None]), int(num_peaks))
        return t[0], h[0]

    def _spectrum(self, X: torch.Tensor, num_sources: int) -> torch.Tensor:
        return self._analyse(X, num_sources)[0]

    def _analyse(self, X: torch.Tensor, num_sources: int) -> tuple[torch.Tensor, tuple[np.ndarray, np.ndarray]]:
        """Spectra and the pair peaks ``(tdoa, heights)`` they came from, which :meth:`_refine` reuses."""
        return self._from_peaks(*self._pair_peaks(X, num_sources))

    def _analyse_sums(self, S: torch.Tensor, frames: int, num_sources: int) -> tuple[torch.Tensor, tuple[np.ndarray, np.ndarray]]:
        C = pair_entries((S / frames).to(torch.complex64), self.pairs)
        return self._from_peaks(*_cross_spectra_peaks(C, self.freqs, self._lags, self._max_lag, self.fs * self.interp, num_sources))

    def _from_peaks(self, tdoa: np.ndarray, h: np.ndarray) -> tuple[torch.Tensor, tuple[np.ndarray, np.ndarray]]:
        """Spectra from the pair peaks ``tdoa, h (B, P, K)``, and those peaks (for :meth:`_refine`)."""
        t = torch.as_tensor(tdoa, dtype=torch.float32, device=self.device)
        w = torch.as_tensor(h, dtype=torch.float32, device=self.device)
        ptau = torch.as_tensor(self.pair_tau, dtype=torch.float32, device=self.device)  # (P, G)
        z = (t[..., None] - ptau[None, :, None, :]) / self._sigma  # (B, P, K, G)
        s = (w[..., None] * torch.exp(-0.5 * z * z)).amax(2).sum(1)
        return s, (tdoa, h)

    def _refine(
        self, X: torch.Tensor | None, spectra: np.ndarray, peaks: np.ndarray, state: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if not self.refine:
            return None
        if state is None:
            if X is None:
                raise ValueError("gcc-phat refinement needs the STFT or the pair peaks")
            state = self._pair_peaks(X, peaks.shape[1])
        tdoa, h = state
        g = self.grid
        az0 = np.where(peaks >= 0, g.azimuth[np.maximum(peaks, 0)], 0.0)  # (B, K) rad
        el0 = np.where(peaks >= 0, g.elevation[np.maximum(peaks, 0)], 0.0)
        B, K = peaks.shape
        pred0 = self.pair_tau[:, np.maximum(peaks, 0)].transpose(1, 2, 0)  # (B, K, P)
        # for each peak and pair: the measured TDOA nearest the prediction
        diff = np.abs(tdoa[:, None, :, :] - pred0[..., None])  # (B, K, P, Kpk)
        pick = np.argmin(diff, axis=-1)
        meas = np.take_along_axis(np.broadcast_to(tdoa[:, None], diff.shape), pick[..., None], -1)[..., 0]  # (B, K, P)
        wts = np.take_along_axis(np.broadcast_to(h[:, None], diff.shape), pick[..., None], -1)[..., 0]
        near = np.abs(meas - pred0) <= 3 * self._sigma + self._step_deg * np.pi / 180 * self._dist / self.c
        wts = np.where(near, wts, 0.0)
        az, el = self._gauss_newton(az0, el0, meas, wts, fit_el=not isinstance(g, AzimuthGrid))
        moved = np.degrees(np.arccos(np.clip(np.sum(unit_vectors(az, el) * unit_vectors(az0, el0), -1), -1, 1)))
        keep = (self._cost(az, el, meas, wts) <= self._cost(az0, el0, meas, wts)) & (moved <= 3 * self._step_deg) & (peaks >= 0)
        az = np.where(keep, az, az0)
        el = np.where(keep, el, el0)
        return np.degrees(az), np.degrees(el)

    def _predict(self, az: np.ndarray, el: np.ndarray) -> np.ndarray:
        """Pair delays ``(..., P)`` (t_j - t_i) for directions (radians)."""
        return -(unit_vectors(az, el) @ self._baselines.T) / self.c

    def _cost(self, az, el, meas, wts) -> np.ndarray:
        r = (self._predict(az, el) - meas) * self.fs
        return np.sum(wts * r * r, axis=-1)

    def _gauss_newton(self, az, el, meas, wts, fit_el: bool, iters: int = 8):
        az = az.copy()
        el = el.copy()
        lam = 1e-6
        for _ in range(iters):
            r = (self._predict(az, el) - meas) * self.fs  # (B, K, P) in samples
            ca, sa, ce, se = np.cos(az), np.sin(az), np.cos(el), np.sin(el)
            du_daz = np.stack([-ce * sa, ce * ca, np.zeros_like(az)], -1)
            du_del = np.stack([-se * ca, -se * sa, ce], -1)
            cols = [-(du_daz @ self._baselines.T) / self.c * self.fs]
            if fit_el:
                cols.append(-(du_del @ self._baselines.T) / self.c * self.fs)
            J = np.stack(cols, -1)  # (B, K, P, D)
            JtW = J.swapaxes(-1, -2) * wts[..., None, :]
            A = JtW @ J
            A = A + lam * (np.trace(A, axis1=-2, axis2=-1)[..., None, None] + 1e-9) * np.eye(A.shape[-1])
            step = -np.linalg.solve(A, (JtW @ r[..., None]))[..., 0]
            step = np.clip(step, -math.radians(self._step_deg), math.radians(self._step_deg))
            az = az + step[..., 0]
            if fit_el:
                el = np.clip(el + step[..., 1], *self._el_range)
        return az, el
