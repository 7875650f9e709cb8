"""The localizer interface and its result type.

Every classical localizer turns a multichannel waveform into a spatial spectrum on a
:class:`~soundloc.geometry.DOAGrid` and picks the ``num_sources`` strongest peaks with
``grid.find_peaks``. Subclasses implement one method, :meth:`Localizer._spectrum`, which maps a
batch of STFTs (restricted to the analysis band) to spectra; batching, framing, validation and
peak picking live here.

Angles: azimuth counter-clockwise from +x in (-180, 180], elevation up from the horizontal
plane, degrees in :class:`DOAResult`. Far-field steering comes from ``array.delays`` (plane
wave from unit vector ``u``: mic ``m`` hears it at ``-(p_m - centre) . u / c`` seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from soundloc.ambisonics import FoaFormat
from soundloc.device import resolve_device
from soundloc.doa.confidence import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_LEVEL_DBFS,
    calibrated_settings,
    check_thresholds,
    decide,
    level_dbfs,
    null_table,
    peak_statistic,
    statistic_for,
)
from soundloc.features.stft import stft
from soundloc.geometry import SPEED_OF_SOUND, AzimuthGrid, DOAGrid, MicArray, wrap_azimuth_deg
from soundloc.spectral import band_bins

DEFAULT_FMIN_HZ = 300.0
"""Default lowest analysed frequency of every localizer (see :class:`Localizer`)."""


def _json_float(v: Any) -> float | None:
    f = float(v)
    return f if math.isfinite(f) else None


@dataclass(frozen=True, eq=False)
class DOAResult:
    """Directions found in one clip (or one window of it).

    Attributes:
        method: localizer name, e.g. ``"srp-phat"``.
        azimuth: ``(K,)`` degrees in (-180, 180], strongest source first.
        elevation: ``(K,)`` degrees in [-90, 90] (the grid's elevation for an azimuth-only grid).
        power: ``(K,)`` spectrum value at each peak (spectrum normalised to max 1).
        spectrum: ``(G,)`` spatial spectrum on ``grid``, normalised to max 1.
        grid: the grid the spectrum lives on.
        start: window start in seconds into the input.
        end: window end in seconds (``None``: end of the input).
        confidence: ``(K,)`` in [0, 1] per candidate: the fraction of diffuse-noise windows whose
            strongest peak stood out less (peak-to-median ratio of the spectrum; the peak value
            for GCC-PHAT; see :mod:`soundloc.doa.confidence`); ``NaN`` where the method is not
            calibrated; ``None`` when not computed.
        level_dbfs: the window's mean-square level in dBFS (``None``: not measured).
        decision: ``(K,)`` per candidate, ``"source"``, ``"below-confidence"`` or
            ``"below-level"`` (``None``: not decided -- every candidate counts as a source).
        label: ``(K,)`` sound class of each candidate (learned localizers,
            :mod:`soundloc.train.localize`); ``None`` for the classical ones.
        distance: ``(K,)`` metres per candidate (models with a distance output); ``None`` otherwise.

    The arrays hold every candidate peak (strongest first), accepted or not: :attr:`accepted`
    marks the sources, :meth:`detected` keeps only them, :meth:`to_dict` lists them apart.
    """

    method: str
    azimuth: np.ndarray
    elevation: np.ndarray
    power: np.ndarray
    spectrum: np.ndarray
    grid: DOAGrid
    start: float = 0.0
    end: float | None = None
    confidence: np.ndarray | None = None
    level_dbfs: float | None = None
    decision: tuple[str, ...] | None = None
    label: tuple[str, ...] | None = None
    distance: np.ndarray | None = None

    @property
    def num_sources(self) -> int:
        """Number of candidates (accepted or not); see :attr:`accepted`."""
        return int(len(self.azimuth))

    @property
    def accepted(self) -> np.ndarray:
        """``(K,)`` bool: the candidates decided to be sources (all of them when undecided)."""
        if self.decision is None:
            return np.ones(self.num_sources, dtype=bool)
        return np.array([d == "source" for d in self.decision], dtype=bool)

    @property
    def window_decision(self) -> str:
        """``"source"`` when any candidate is accepted, else the rule that rejected the strongest
        one (``"below-level"`` / ``"below-confidence"``); ``"no-peak"`` without candidates."""
        if self.num_sources == 0:
            return "no-peak"
        if self.accepted.any():
            return "source"
        return self.decision[0] if self.decision else "source"

    def detected(self) -> "DOAResult":
        """This result with only the accepted sources."""
        keep = self.accepted
        return replace(
            self, azimuth=self.azimuth[keep], elevation=self.elevation[keep], power=self.power[keep],
            confidence=None if self.confidence is None else self.confidence[keep],
            decision=None if self.decision is None else tuple(d for d, k in zip(self.decision, keep) if k),
            label=None if self.label is None else tuple(c for c, k in zip(self.label, keep) if k),
            distance=None if self.distance is None else self.distance[keep],
        )

    def to_dict(self) -> dict:
        """JSON-safe summary::

            {"method", "start", "end", "decision", "level_dbfs",
             "sources": [{"azimuth", "elevation", "power", "confidence", "decision"}],   # accepted
             "rejected": [{... same keys ...}]}                                          # the others

        With :attr:`label` each source also has ``"class"``, with :attr:`distance` ``"distance"`` (m).
        ``decision`` (window) is :attr:`window_decision`. All numbers are plain Python floats
        (non-finite values become ``None``); the spectrum is left out.
        """
        conf = self.confidence if self.confidence is not None else np.full(self.num_sources, np.nan)
        dec = self.decision if self.decision is not None else ("source",) * self.num_sources
        sources: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for k, (a, e, p, c, d) in enumerate(zip(self.azimuth, self.elevation, self.power, conf, dec)):
            item: dict[str, Any] = {"azimuth": _json_float(a), "elevation": _json_float(e), "power": _json_float(p),
                                    "confidence": _json_float(c), "decision": d}
            if self.label is not None:
                item["class"] = self.label[k]
            if self.distance is not None:
                item["distance"] = _json_float(self.distance[k])
            (sources if d == "source" else rejected).append(item)
        return {
            "method": self.method,
            "start": _json_float(self.start),
            "end": None if self.end is None else _json_float(self.end),
            "decision": self.window_decision,
            "level_dbfs": None if self.level_dbfs is None else _json_float(self.level_dbfs),
            "sources": sources,
            "rejected": rejected,
        }


class Localizer:
    """Base class: far-field broadband localizer on a direction grid.

    Args:
        array: the microphone array (its own frame: x front, y left, z up).
        fs: sample rate in Hz.
        grid: candidate directions; default a 1-degree azimuth circle in the horizontal plane
            (:class:`~soundloc.geometry.AzimuthGrid` ``(360)``). Use a
            :class:`~soundloc.geometry.SphereGrid` for azimuth + elevation.
        nfft: STFT frame / FFT length in samples (512 at 16 kHz = 32 ms).
        hop: STFT hop in samples (default ``nfft // 2``).
        fmin: lowest analysed frequency in Hz (default 300 Hz: below it the phase differences
            across a 5-10 cm array are too small to be useful and room modes dominate).
        fmax: highest analysed frequency in Hz; default ``min(fs / 2, default_fmax_hz)`` = 6 kHz
            for every method. On the reverberant benchmark (``benchmarks/doa.py``, 200 rooms,
            speech/music-like sources, 10-cm arrays) widening the band from 300-4000 Hz to
            300-6000 Hz raised accuracy within 10 degrees by 5-9 points for SRP-PHAT, NormMUSIC and
            GCC-PHAT (PHAT whitening lets the short wavelengths sharpen the beam of a small array);
            going to 8 kHz gave no further gain and costs 35 % more bins.
        c: speed of sound in m/s.
        device: torch device for the computation (``"cpu"``, ``"cuda"``...).
        batch_size: clips (or windows) processed together in :meth:`locate_batch`; bounds memory.
        min_confidence: candidates whose confidence (:mod:`soundloc.doa.confidence`) is below this
            are decided ``"below-confidence"`` (default
            :data:`~soundloc.doa.confidence.DEFAULT_MIN_CONFIDENCE`: at most 5 % false alarms on
            diffuse noise; 0 accepts every candidate).
        min_level_dbfs: windows whose mean-square level is below this many dBFS report no
            source (``"below-level"``; default -90 dBFS; ``-inf``: no gate).

    Raises:
        ValueError: bad ``fs``, ``nfft``, ``hop``, band (``fmin >= fmax``, ``fmax > fs / 2``,
            no FFT bin in the band), grid type.

    Attributes:
        freq_bins: ``(F,)`` indices of the analysed rFFT bins (``fmin <= k fs / nfft <= fmax``).
        freqs: ``(F,)`` their frequencies in Hz.
        tau: ``(G, M)`` far-field delays in seconds of every grid direction at every mic.
    """

    name: ClassVar[str] = "base"
    default_fmax_hz: ClassVar[float] = 6000.0
    supports_coincident: ClassVar[bool] = False
    """True for methods that also work on coincident directional channels (FOA, steering from
    ``array.gains``); the others need inter-channel delays and refuse such arrays."""
    frame_statistic: ClassVar[str | None] = None
    """What the spectrum of a clip depends on, summed over its STFT frames, per analysed bin:
    ``"phat"`` (``sum_t Y Y^H`` with ``Y = X / |X|``), ``"cov"`` (``sum_t X X^H``) or ``None``
    (something else: :meth:`accumulator` is not available). Lets a recording of any length be
    located block by block (:class:`FrameAccumulator`)."""

    def __init__(
        self,
        array: MicArray | FoaFormat,
        fs: int,
        *,
        grid: DOAGrid | None = None,
        nfft: int = 512,
        hop: int | None = None,
        fmin: float = DEFAULT_FMIN_HZ,
        fmax: float | None = None,
        c: float = SPEED_OF_SOUND,
        device: str = "cpu",
        batch_size: int = 64,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        min_level_dbfs: float = DEFAULT_MIN_LEVEL_DBFS,
    ) -> None:
        if not isinstance(array, (MicArray, FoaFormat)):
            raise ValueError(f"array must be a MicArray or FoaFormat, got {type(array).__name__}")
        if array.is_coincident and not self.supports_coincident:
            raise ValueError(f"{self.name} needs a spaced microphone array, not the coincident channels of '{array.name}'")
        if not (isinstance(fs, (int, np.integer)) or float(fs).is_integer()) or fs <= 0:
            raise ValueError(f"sample rate must be a positive integer, got {fs}")
        if int(nfft) != nfft or nfft < 8:
            raise ValueError(f"nfft must be an integer >= 8, got {nfft}")
        hop = int(nfft) // 2 if hop is None else hop
        if int(hop) != hop or hop < 1:
            raise ValueError(f"hop must be a positive integer number of samples, got {hop}")
        if grid is None:
            grid = AzimuthGrid(360)
        if not isinstance(grid, DOAGrid):
            raise ValueError(f"grid must be a DOAGrid, got {type(grid).__name__}")
        if not c > 0:
            raise ValueError(f"speed of sound must be positive, got {c}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        min_confidence, min_level_dbfs = check_thresholds(min_confidence, min_level_dbfs)
        fmin_given = None if fmin == DEFAULT_FMIN_HZ else fmin
        fmax_given = fmax
        fs = int(fs)
        nyq = fs / 2.0
        fmax = min(nyq, self.default_fmax_hz) if fmax is None else float(fmax)
        fmin = float(fmin)
        if fmin < 0:
            raise ValueError(f"fmin must be >= 0 Hz, got {fmin}")
        if fmax > nyq:
            raise ValueError(f"fmax {fmax:g} Hz is above the Nyquist frequency fs/2 = {nyq:g} Hz")
        if fmin >= fmax:
            raise ValueError(f"fmin ({fmin:g} Hz) must be below fmax ({fmax:g} Hz)")
        freq_bins, freqs = band_bins(fs, int(nfft), fmin, fmax)

        self.array = array
        self.fs = fs
        self.grid = grid
        self.nfft = int(nfft)
        self.hop = int(hop)
        self.fmin = fmin
        self.fmax = fmax
        self.c = float(c)
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.freq_bins = freq_bins
        self.freqs = freqs
        self.tau = array.delays(grid.directions, self.c)  # (G, M)
        self.min_confidence = min_confidence
        self.min_level_dbfs = min_level_dbfs
        self._setup()
        default_band = fmin_given is None and fmax_given is None
        calibrated = calibrated_settings(self.fs, self.nfft, self.hop, default_band=default_band)
        table = null_table(self.name, array, grid)
        self._null = table if calibrated else None
        # the method has a table for this array and grid, but not at these STFT settings
        self.confidence_uncalibrated = not calibrated and table is not None

    # -- to implement -----------------------------------------------------
    def _setup(self) -> None:
        """Precompute steering tensors (called once at the end of ``__init__``)."""

    def _spectrum(self, X: torch.Tensor, num_sources: int) -> torch.Tensor:
        """Spatial spectra from band-limited STFTs.

        Args:
            X: ``(B, F, M, T)`` complex STFT restricted to :attr:`freq_bins`, on :attr:`device`.
            num_sources: sources expected (MUSIC's signal-subspace size).

        Returns:
            ``(B, G)`` real, non-negative, larger = more likely.
        """
        raise NotImplementedError

    def _analyse(self, X: torch.Tensor, num_sources: int) -> tuple[torch.Tensor, Any]:
        """Spectra plus whatever :meth:`_refine` needs from the same pass (default: ``None``).

        Override instead of :meth:`_spectrum` when the refinement reuses intermediate results
        (GCC-PHAT's pair delays); the state is passed along explicitly, never kept on ``self``,
        so a result never depends on earlier calls.
        """
        return self._spectrum(X, num_sources), None

    def _analyse_sums(self, S: torch.Tensor, frames: int, num_sources: int) -> tuple[torch.Tensor, Any]:
        """:meth:`_analyse` from frame sums ``S (B, F, M, M)`` (see :attr:`frame_statistic`) of ``frames`` frames."""
        raise NotImplementedError

    def frame_statistic_for_array(self) -> str | None:
        """:attr:`frame_statistic` for this localizer's array (a method may use another statistic on
        a coincident FOA array, e.g. SRP's ``"vphat"``: ``sum_t Y Y^H`` with each time-frequency
        vector whitened, ``Y = X / ||X||``)."""
        return self.frame_statistic

    def _frame_sums(self, X: torch.Tensor) -> torch.Tensor:
        """``(B, F, M, T)`` band STFT -> ``(B, F, M, M)`` complex128 sums over frames of :meth:`frame_statistic_for_array`."""
        stat = self.frame_statistic_for_array()
        if stat == "vphat":
            from soundloc.doa.coincident import vector_whitened_sums

            return vector_whitened_sums(X).to(torch.complex128)
        if stat == "phat":
            X = torch.sgn(X)
        elif stat != "cov":
            raise ValueError(f"{self.name}: cannot accumulate over blocks; locate the whole clip")
        return torch.matmul(X, X.conj().transpose(-1, -2)).to(torch.complex128)

    def accumulator(self) -> FrameAccumulator:
        """A :class:`FrameAccumulator`: the whole-recording result from consecutive blocks."""
        return FrameAccumulator(self)

    def _refine(
        self, X: torch.Tensor | None, spectra: np.ndarray, peaks: np.ndarray, state: Any = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Optional off-grid refinement: ``(az_deg (B, K), el_deg (B, K))`` or ``None`` (use grid points).

        ``state`` is the second value :meth:`_analyse` returned for the same ``X`` (or
        :meth:`_analyse_sums`, for which ``X`` is ``None``).
        """
        return None

    # -- helpers ------------------------------------------------------------
    def _make_pair_table(self) -> tuple[np.ndarray, torch.Tensor]:
        """Steering table of all mic pairs: ``(pairs (P, 2), table (F, 2P, G) float32)``.

        For pair ``p = (i, j)`` and bin ``f``: ``table[f, p] = cos(phi)``, ``table[f, P + p] = -sin(phi)``
        with ``phi = w_f (tau_i(g) - tau_j(g))``, so that for a Hermitian ``A``
        ``a^H A a = sum_m A_mm + 2 * [Re A_ij, Im A_ij]_p . table[f, :, g]`` (``a_m = exp(-j w tau_m)``).
        """
        if not isinstance(self.array, MicArray):
            raise TypeError(f"{self.name}: mic-pair steering needs a MicArray, got {type(self.array).__name__}")
        pairs = self.array.pairs()
        w = 2 * np.pi * self.freqs  # (F,)
        dtau = self.tau[:, pairs[:, 0]] - self.tau[:, pairs[:, 1]]  # (G, P)
        phi = w[:, None, None] * dtau.T[None]  # (F, P, G)
        table = np.concatenate([np.cos(phi), -np.sin(phi)], axis=1)
        return pairs, torch.as_tensor(table, dtype=torch.float32, device=self.device)

    @property
    def num_mics(self) -> int:
        return self.array.num_mics

    def _check_num_sources(self, num_sources: int) -> int:
        if int(num_sources) != num_sources or num_sources < 1:
            raise ValueError(f"num_sources must be an integer >= 1, got {num_sources}")
        return int(num_sources)

    def _check_waveform(self, x: np.ndarray, batched: bool) -> np.ndarray:
        x = np.asarray(x)
        want = 3 if batched else 2
        shape_txt = "(batch, mics, samples)" if batched else "(mics, samples)"
        if x.ndim != want:
            raise ValueError(f"input must be {shape_txt}, got an array of shape {x.shape}")
        if x.shape[-2] != self.num_mics:
            raise ValueError(f"expected {self.num_mics} channels for array '{self.array.name}', got {x.shape[-2]}")
        if x.shape[-1] == 0 or (batched and x.shape[0] == 0):
            raise ValueError(f"input is empty (shape {x.shape})")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise ValueError(f"input must be real numbers, got dtype {x.dtype}")
        if not np.all(np.isfinite(x)):
            raise ValueError("input contains NaN or infinity")
        return x

    def _band_stft(self, x: np.ndarray) -> torch.Tensor:
        """``(B, M, N)`` waveform -> ``(B, F, M, T)`` complex64 band-limited STFT on the device."""
        t = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=self.device)
        return self._select_band(torch.as_tensor(stft(t, self.nfft, self.hop)))  # (B, M, Fall, T) -> (B, F, M, T)

    def _select_band(self, t: torch.Tensor) -> torch.Tensor:
        """Full-band ``(B, M, Fall, T)`` STFT -> ``(B, F, M, T)`` complex64 band (validated).

        A permuted view of ``t`` (no copy when ``t`` is complex64): the memory keeps the STFT's
        own order, so a method reads it in whatever layout suits it (SRP / GCC-PHAT pair by pair
        along the frames; a matrix product copies what it needs).
        """
        if t.ndim != 4 or t.shape[1] != self.num_mics or t.shape[2] != self.nfft // 2 + 1:
            raise ValueError(
                f"STFT must be (batch, {self.num_mics} mics, {self.nfft // 2 + 1} bins, frames) for array "
                f"'{self.array.name}' and nfft {self.nfft}, got {tuple(t.shape)}"
            )
        if not t.is_complex():
            raise ValueError("STFT must be complex")
        if t.shape[-1] == 0:
            raise ValueError("STFT has no frames")
        lo, hi = int(self.freq_bins[0]), int(self.freq_bins[-1]) + 1  # the band is contiguous
        return t[:, :, lo:hi].to(torch.complex64).permute(0, 2, 1, 3)

    def _results(
        self, spectra: np.ndarray, X: torch.Tensor | None, num_sources: int, min_sep: float, state: Any = None,
        levels: np.ndarray | None = None, frames: int | np.ndarray | None = None,
    ) -> list[DOAResult]:
        """Peaks, confidences and decisions of raw ``spectra (B, G)``; ``levels (B,)`` in dBFS
        (``None``: not measured, no energy gate); ``frames``: STFT frames behind each spectrum
        (default: those of ``X``), which selects the confidence table's window length."""
        spectra = np.asarray(spectra, dtype=np.float64)
        spectra = np.where(np.isfinite(spectra), spectra, 0.0)
        peaks = self.grid.find_peaks(spectra, num_sources, min_separation_deg=min_sep)  # (B, K)
        refined = self._refine(X, spectra, peaks, state) if (X is not None or state is not None) else None
        ratios = peak_statistic(spectra, peaks, statistic_for(self.name))  # (B, K)
        if self._null is not None:
            n_frames = np.broadcast_to(np.asarray(frames if frames is not None else (X.shape[-1] if X is not None else 1)),
                                       (ratios.shape[0],))
            conf = np.stack([self._null.confidence(ratios[b], float(n_frames[b])) for b in range(ratios.shape[0])]) \
                if ratios.shape[0] else np.zeros(ratios.shape)
        else:
            conf = np.full(ratios.shape, np.nan)
        g_az = self.grid.azimuth_deg
        g_el = self.grid.elevation_deg
        out = []
        for b in range(spectra.shape[0]):
            s = spectra[b]
            top = s.max()
            s = s / top if top > 0 else np.ones_like(s)
            p = peaks[b][peaks[b] >= 0]
            if refined is not None:
                az, el = refined[0][b][peaks[b] >= 0], refined[1][b][peaks[b] >= 0]
            else:
                az, el = g_az[p], g_el[p]
            c = conf[b][peaks[b] >= 0]
            level = None if levels is None else float(levels[b])
            out.append(
                DOAResult(
                    method=self.name,
                    azimuth=wrap_azimuth_deg(np.asarray(az, dtype=float)),
                    elevation=np.asarray(el, dtype=float),
                    power=s[p].astype(float),
                    spectrum=s,
                    grid=self.grid,
                    confidence=c,
                    level_dbfs=level,
                    decision=decide(c, math.inf if level is None else level, self.min_confidence, self.min_level_dbfs),
                )
            )
        return out

    # -- public API ---------------------------------------------------------
    def spectrum_from_stft(self, X: np.ndarray | torch.Tensor, num_sources: int = 1) -> np.ndarray:
        """Unnormalised spatial spectra from full-band STFTs.

        Args:
            X: ``(B, M, F, T)`` or ``(M, F, T)`` complex rFFT STFT with ``F = nfft // 2 + 1``
                (e.g. from :func:`soundloc.features.stft.stft`); the band ``freq_bins`` is selected here.
            num_sources: sources expected (used by MUSIC for the signal subspace).

        Returns:
            ``(B, G)`` (or ``(G,)`` for unbatched input) float64 spectra.
        """
        num_sources = self._check_num_sources(num_sources)
        t = torch.as_tensor(X, device=self.device)
        squeeze = t.ndim == 3
        if squeeze:
            t = t[None]
        Xb = self._select_band(t)
        s = self._spectrum(Xb, num_sources).double().cpu().numpy()
        return s[0] if squeeze else s

    def locate_from_stft(
        self, X: np.ndarray | torch.Tensor, num_sources: int = 1, *, min_separation_deg: float = 20.0
    ) -> list[DOAResult]:
        """:meth:`locate_batch` from precomputed full-band STFTs ``(B, M, F, T)`` (see :meth:`spectrum_from_stft`).

        Lets several methods (or another toolkit) share one STFT. ``start`` / ``end`` are left at 0 / None.
        """
        num_sources = self._check_num_sources(num_sources)
        t = torch.as_tensor(X, device=self.device)
        if t.ndim != 4:
            raise ValueError(f"STFT must be (batch, mics, bins, frames), got shape {tuple(t.shape)}")
        out: list[DOAResult] = []
        for i in range(0, t.shape[0], self.batch_size):
            Xb = self._select_band(t[i : i + self.batch_size])
            s, state = self._analyse(Xb, num_sources)
            out.extend(self._results(s.double().cpu().numpy(), Xb, num_sources, min_separation_deg, state))
        return out

    def locate(self, x: np.ndarray, num_sources: int = 1, *, min_separation_deg: float = 20.0) -> DOAResult:
        """Directions of the ``num_sources`` strongest sources in one clip.

        Args:
            x: ``(M, N)`` waveform, M = ``array.num_mics``.
            num_sources: peaks to return (and MUSIC's signal-subspace size).
            min_separation_deg: two reported sources are at least this far apart (great circle).

        Raises:
            ValueError: wrong channel count, empty input, NaN/inf, ``num_sources < 1``.
        """
        x = self._check_waveform(x, batched=False)
        res = self.locate_batch(x[None], num_sources, min_separation_deg=min_separation_deg)[0]
        return res

    def locate_batch(self, x: np.ndarray, num_sources: int = 1, *, min_separation_deg: float = 20.0,
                     valid_samples: Sequence[int] | None = None) -> list[DOAResult]:
        """:meth:`locate` on a batch ``(B, M, N)`` of equal-length clips, vectorised over clips.

        ``valid_samples`` ``(B,)``: clips zero-padded to the common length (a recording's cut last
        window) hold only this many real samples; their level (energy gate) and confidence are
        those of the real samples (the padding would lower both).
        """
        num_sources = self._check_num_sources(num_sources)
        x = self._check_waveform(x, batched=True)
        if valid_samples is not None and len(valid_samples) != x.shape[0]:
            raise ValueError(f"valid_samples has {len(valid_samples)} entries for {x.shape[0]} clips")
        out: list[DOAResult] = []
        for i in range(0, x.shape[0], self.batch_size):
            xb = x[i : i + self.batch_size]
            X = self._band_stft(xb)
            s, state = self._analyse(X, num_sources)
            frames: np.ndarray | None = None
            if valid_samples is None:
                levels: np.ndarray = level_dbfs(xb)
            else:
                v = np.clip(np.asarray(valid_samples[i : i + self.batch_size], dtype=np.int64), 1, xb.shape[-1])
                levels = np.array([level_dbfs(c[:, :k]) for c, k in zip(xb, v)], dtype=np.float64)
                frames = np.maximum(1, (v - self.nfft) // self.hop + 1)
            out.extend(self._results(s.double().cpu().numpy(), X, num_sources, min_separation_deg, state,
                                     levels=levels, frames=frames))
        end = x.shape[-1] / self.fs
        return [_with_span(r, 0.0, end) for r in out]

    def locate_frames(
        self,
        x: np.ndarray,
        num_sources: int = 1,
        *,
        frame_length: float,
        hop_length: float | None = None,
        min_separation_deg: float = 20.0,
    ) -> list[DOAResult]:
        """Per-window results over a long recording.

        Args:
            x: ``(M, N)`` waveform.
            frame_length: window length in seconds (at least one STFT frame is used).
            hop_length: window hop in seconds (default ``frame_length``: no overlap).

        Returns:
            One :class:`DOAResult` per window with ``start`` / ``end`` in seconds. Windows start at
            ``0, hop, 2 hop, ...``; the last one is cut at the end of the input (and dropped when it
            is shorter than one STFT frame, unless it is the only window).
        """
        x = self._check_waveform(x, batched=False)
        num_sources = self._check_num_sources(num_sources)
        if not frame_length > 0:
            raise ValueError(f"frame_length must be > 0 seconds, got {frame_length}")
        hop_length = frame_length if hop_length is None else hop_length
        if not hop_length > 0:
            raise ValueError(f"hop_length must be > 0 seconds, got {hop_length}")
        n = x.shape[-1]
        win = max(int(round(frame_length * self.fs)), self.nfft)
        hop = max(int(round(hop_length * self.fs)), 1)
        starts = [0]
        while window_follows(starts[-1], win, hop, n, self.nfft):
            starts.append(starts[-1] + hop)
        # all windows share one length so they batch; a cut last window is zero-padded
        # (zero frames add nothing to SRP / GCC and only scale the MUSIC covariance).
        # Windows are copied out ``batch_size`` at a time: overlapping windows of a long
        # recording would otherwise need (frame_length / hop_length) times its memory.
        res: list[DOAResult] = []
        for c0 in range(0, len(starts), self.batch_size):
            chunk = starts[c0 : c0 + self.batch_size]
            frames = np.zeros((len(chunk), x.shape[0], win), dtype=np.float32)
            for i, s in enumerate(chunk):
                seg = x[:, s : s + win]
                frames[i, :, : seg.shape[1]] = seg
            res.extend(self.locate_batch(frames, num_sources, min_separation_deg=min_separation_deg,
                                         valid_samples=[min(win, n - s) for s in chunk]))
        return [_with_span(r, s / self.fs, min(s + win, n) / self.fs) for r, s in zip(res, starts)]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(array='{self.array.name}', fs={self.fs}, grid={type(self.grid).__name__}({len(self.grid)}), "
            f"nfft={self.nfft}, hop={self.hop}, band={self.fmin:g}-{self.fmax:g} Hz)"
        )


def window_follows(start: int, win: int, hop: int, n: int, min_tail: int) -> bool:
    """The window rule of every windowed path (``locate_frames``, the streaming cutter of
    :mod:`soundloc.doa.batch`, ``localize --model``): after the window ``[start, start + win)`` of an
    input of ``n`` samples another starts at ``start + hop`` while this one ends before the input and
    at least ``min_tail`` samples (one STFT frame, or one label frame) follow the next start. To decide
    it without knowing ``n``, a stream needs the input up to :func:`window_lookahead`."""
    return start + win < n and n - (start + hop) >= min_tail


def window_lookahead(start: int, win: int, hop: int, min_tail: int) -> int:
    """Input index up to which a stream must have read to decide :func:`window_follows` for the window at ``start``."""
    return start + max(win + 1, hop + min_tail)


def _with_span(r: DOAResult, start: float, end: float) -> DOAResult:
    return replace(r, start=float(start), end=float(end))


class FrameAccumulator:
    """The whole-recording result of a localizer, fed block by block (memory independent of length).

    Blocks are consecutive pieces of one ``(M, N)`` recording, of any lengths. The STFT frames are
    exactly those of the whole recording (``t * hop .. t * hop + nfft``; the samples of a frame
    that straddles two blocks are carried over), and the localizer's spectrum depends on the frames
    only through per-bin sums (:attr:`Localizer.frame_statistic`), so :meth:`result` equals
    ``loc.locate(whole)`` up to floating-point summation order.

    Example:
        >>> acc = loc.accumulator()
        >>> for x, _ in iter_audio_blocks("long.flac", channels=loc.num_mics):
        ...     acc.add(x)
        >>> res = acc.result(num_sources=1)
    """

    def __init__(self, loc: Localizer) -> None:
        if loc.frame_statistic_for_array() not in ("phat", "cov", "vphat"):
            raise ValueError(f"{loc.name}: cannot accumulate over blocks; locate the whole clip")
        self.loc = loc
        self.samples = 0
        self.frames = 0
        self._sums: torch.Tensor | None = None
        self._sumsq = 0.0  # for the level (energy gate)
        self._carry = np.zeros((loc.num_mics, 0), dtype=np.float32)

    def add(self, x: np.ndarray) -> None:
        """Append the next block ``x (M, n)`` (float; finite)."""
        loc = self.loc
        x = loc._check_waveform(x, batched=False)
        self.samples += x.shape[-1]
        self._sumsq += float(np.sum(np.square(x, dtype=np.float64)))
        buf = np.concatenate([self._carry, x.astype(np.float32, copy=False)], axis=1) if self._carry.shape[1] else x
        if buf.shape[1] < loc.nfft:
            self._carry = np.array(buf, dtype=np.float32)
            return
        t = (buf.shape[1] - loc.nfft) // loc.hop + 1
        self._add_frames(buf[:, : (t - 1) * loc.hop + loc.nfft])
        self.frames += t
        self._carry = np.array(buf[:, t * loc.hop :], dtype=np.float32)

    def _add_frames(self, x: np.ndarray) -> None:
        s = self.loc._frame_sums(self.loc._band_stft(x[None]))
        self._sums = s if self._sums is None else self._sums + s

    def result(self, num_sources: int = 1, *, min_separation_deg: float = 20.0) -> DOAResult:
        """The :class:`DOAResult` of everything added (``start`` 0, ``end`` its duration in seconds)."""
        loc = self.loc
        num_sources = loc._check_num_sources(num_sources)
        if self.samples == 0:
            raise ValueError("no samples were added")
        sums, frames = self._sums, self.frames
        if sums is None:  # shorter than one frame: zero-padded to one, as stft() does
            sums, frames = loc._frame_sums(loc._band_stft(self._carry[None])), 1
        s, state = loc._analyse_sums(sums, frames, num_sources)
        ms = self._sumsq / (self.samples * loc.num_mics)
        level = np.array([10.0 * np.log10(ms) if ms > 0 else -np.inf])
        res = loc._results(s.double().cpu().numpy(), None, num_sources, min_separation_deg, state, levels=level, frames=frames)[0]
        return _with_span(res, 0.0, self.samples / loc.fs)


def capped_notice(fewest: int, num_sources: int) -> str | None:
    """The one-line notice when some window reported fewer candidates (``fewest``) than the
    ``num_sources`` requested (the grid has no more peaks the minimum separation apart); else ``None``.
    (A window longer than a file is noticed by :func:`soundloc.doa.batch.iter_localize` as it streams.)"""
    if fewest >= num_sources:
        return None
    return (f"only {fewest} of the {num_sources} requested sources could be reported in some windows: the "
            "spectrum has no more peaks the minimum separation apart on the search grid")
