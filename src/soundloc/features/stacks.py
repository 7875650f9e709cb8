"""Feature configurations, the named feature stacks and the registry (``get_feature``).

Stacks concatenate features along the channel axis from one shared STFT, as the DCASE SELD
baseline does:

* ``mic``: log-mel of each of the ``M`` mics + GCC-PHAT of each pair (``M + M(M-1)/2``; 10 for 4 mics);
  the GCC must be as wide as the mel axis, so the presets use ``2 * gcc_max_lag == n_mels``
  with ``gcc_symmetric=False`` (lags ``-32 .. 31`` for 64 mels, the baseline's crop) — an
  explicit choice in the config, checked when the stack is built;
* ``foa``: log-mel of the 4 FOA channels + the 3 mel-band intensity vectors (7 channels);
* ``salsa-lite``: ``M`` log-linear spectra + ``M - 1`` phase differences (7 for 4 mics);
* single features: ``logmel``, ``gcc-phat``, ``intensity``.

Presets (:data:`PRESETS`):

* ``dcase``: 24 kHz, hop 480 (20 ms), window 960 (40 ms) periodic Hann, nfft 1024, centred
  frames, 64 Slaney mels (0-12 kHz, Slaney norm), dB, GCC lags -32..31, SALSA-lite phase
  50-2000 Hz (tetrahedral MIC aliasing) and spectra up to 9 kHz (the SALSA-lite paper's values).
* ``mcsimclr``: 16 kHz audio of the 4-mic 10 cm circular array (MC-SimCLR's simulated setting),
  with the same time resolution as ``dcase`` so 100 ms label frames hold 5 feature frames: hop
  320 (20 ms), window 640 (40 ms), nfft 1024, 64 Slaney mels (0-8 kHz), GCC lags -32..31 (the
  physical range of a 10 cm array is only +-4.7 samples; the crop is wider so the GCC is as
  wide as the mel axis), SALSA-lite phase 50-1700 Hz (``c / (2 * 0.1 m)``) and all bins to 8 kHz.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from soundloc.configs import checked_replace
from soundloc.features.base import SpectralFeature, power
from soundloc.features.gcc import GCCPHATFeature
from soundloc.features.intensity import IntensityVectors
from soundloc.features.logmel import LogMel
from soundloc.features.salsa_lite import SalsaLite
from soundloc.geometry import SPEED_OF_SOUND


@dataclass(frozen=True)
class FeatureConfig:
    """Settings shared by every feature (samples and Hz; see the module docstring for the presets).

    Attributes:
        fs: sample rate the features are built for (input audio must have it).
        nfft, hop, win_length, center: STFT (periodic Hann, see ``SpectralFeature``).
        n_mels, fmin, fmax, mel_scale, mel_norm: mel filterbank (``fmax=None``: ``fs / 2``).
        log, top_db: log-mel compression (``"db"`` / ``"log"``; dB floor below the max or ``None``).
        gcc_max_lag, gcc_symmetric: GCC-PHAT lags ``-L..L`` (symmetric) or ``-L..L-1``.
        salsa_fmin_doa, salsa_fmax_doa, salsa_fmax_spectra: SALSA-lite bands in Hz.
        c: speed of sound in m/s (SALSA-lite normalisation).
    """

    fs: int = 24000
    nfft: int = 1024
    hop: int = 480
    win_length: int = 960
    center: bool = True
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    mel_scale: str = "slaney"
    mel_norm: str | None = "slaney"
    log: str = "db"
    top_db: float | None = None
    gcc_max_lag: int = 32
    gcc_symmetric: bool = False
    salsa_fmin_doa: float = 50.0
    salsa_fmax_doa: float = 2000.0
    salsa_fmax_spectra: float | None = 9000.0
    c: float = SPEED_OF_SOUND

    @classmethod
    def preset(cls, name: str) -> FeatureConfig:
        """The named preset (:data:`PRESETS`); ``ValueError`` listing the choices otherwise."""
        if name not in PRESETS:
            raise ValueError(f"unknown feature preset '{name}'; choose from {', '.join(PRESETS)}")
        return PRESETS[name]

    def replace(self, **changes: Any) -> FeatureConfig:
        """A copy with ``changes``; ``ValueError`` naming an unknown field."""
        return checked_replace(self, "feature", changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureConfig:
        return cls().replace(**d)

    def stft_kwargs(self) -> dict[str, Any]:
        return {"fs": self.fs, "nfft": self.nfft, "hop": self.hop, "win_length": self.win_length, "center": self.center}

    def mel_kwargs(self) -> dict[str, Any]:
        return {"n_mels": self.n_mels, "fmin": self.fmin, "fmax": self.fmax, "mel_scale": self.mel_scale, "mel_norm": self.mel_norm}


PRESETS: dict[str, FeatureConfig] = {
    "dcase": FeatureConfig(),
    "mcsimclr": FeatureConfig(fs=16000, nfft=1024, hop=320, win_length=640, salsa_fmax_doa=1700.0, salsa_fmax_spectra=None),
}
"""Named feature settings (see the module docstring)."""


class FeatureStack(SpectralFeature):
    """Features concatenated along the channel axis, computed from one shared STFT.

    Args:
        parts: features with identical STFT settings and output widths (bins).
        name: the stack's name (for messages).

    ``(B, C, N)`` -> ``(B, sum of parts' channels, T, bins)`` float32.
    """

    def __init__(self, parts: Sequence[SpectralFeature], *, name: str = "stack") -> None:
        if not parts:
            raise ValueError("a feature stack needs at least one part")
        p0 = parts[0]
        super().__init__(fs=p0.fs, nfft=p0.nfft, hop=p0.hop, win_length=p0.win_length, center=p0.center,
                         in_channels=p0.in_channels)
        for p in parts[1:]:
            if (p.fs, p.nfft, p.hop, p.win_length, p.center) != (p0.fs, p0.nfft, p0.hop, p0.win_length, p0.center):
                raise ValueError(f"stack '{name}': {type(p).__name__} has different STFT settings than {type(p0).__name__}")
        widths = {type(p).__name__: _width(p) for p in parts}
        if len(set(widths.values())) > 1:
            raise ValueError(f"stack '{name}': parts have different widths {widths}; set e.g. 2 * gcc_max_lag == n_mels "
                             "with gcc_symmetric=False")
        self.name = name
        self.parts = torch.nn.ModuleList(parts)
        self._parts: list[SpectralFeature] = list(parts)
        self.min_channels = max(p.min_channels for p in parts)

    def check_channels(self, channels: int) -> None:
        for p in self._parts:
            p.check_channels(channels)

    def out_channels(self, in_channels: int) -> int:
        return sum(p.out_channels(in_channels) for p in self._parts)

    def lag_channels(self, in_channels: int) -> list[int]:
        """Output channels (for ``in_channels`` input channels) whose bin axis is a GCC-PHAT lag axis, not frequency."""
        out: list[int] = []
        k = 0
        for p in self._parts:
            n = p.out_channels(in_channels)
            if isinstance(p, GCCPHATFeature):
                out.extend(range(k, k + n))
            k += n
        return out

    def from_stft(self, X: torch.Tensor) -> torch.Tensor:
        pw = power(X) if any(p.uses_power for p in self._parts) else None  # |X|^2 once for all parts
        return torch.cat([p.from_stft(X) if pw is None else p.from_power(X, pw) for p in self._parts], dim=1)


def _width(p: SpectralFeature) -> int:
    if isinstance(p, (LogMel, IntensityVectors)):
        return p.n_mels
    if isinstance(p, GCCPHATFeature):
        return p.num_lags
    if isinstance(p, SalsaLite):
        return p.num_out_bins
    return p.num_bins


def _logmel(cfg: FeatureConfig, m: int) -> SpectralFeature:
    return LogMel(**cfg.stft_kwargs(), **cfg.mel_kwargs(), in_channels=m, log=cfg.log, top_db=cfg.top_db)


def _gcc(cfg: FeatureConfig, m: int) -> SpectralFeature:
    return GCCPHATFeature(**cfg.stft_kwargs(), in_channels=m, max_lag=cfg.gcc_max_lag, symmetric=cfg.gcc_symmetric)


def _intensity(cfg: FeatureConfig, m: int) -> SpectralFeature:
    return IntensityVectors(**cfg.stft_kwargs(), **cfg.mel_kwargs())


def _salsa(cfg: FeatureConfig, m: int) -> SpectralFeature:
    return SalsaLite(**cfg.stft_kwargs(), in_channels=m, fmin_doa=cfg.salsa_fmin_doa, fmax_doa=cfg.salsa_fmax_doa,
                     fmax_spectra=cfg.salsa_fmax_spectra, c=cfg.c)


def _mic(cfg: FeatureConfig, m: int) -> SpectralFeature:
    return FeatureStack([_logmel(cfg, m), _gcc(cfg, m)], name="mic")


def _foa(cfg: FeatureConfig, m: int) -> SpectralFeature:
    return FeatureStack([_logmel(cfg, m), _intensity(cfg, m)], name="foa")


FEATURES: dict[str, Callable[[FeatureConfig, int], SpectralFeature]] = {
    "mic": _mic,
    "foa": _foa,
    "salsa-lite": _salsa,
    "logmel": _logmel,
    "gcc-phat": _gcc,
    "intensity": _intensity,
}
"""Registry: feature name -> builder ``(config, input channels) -> module``."""

FOA_FEATURES: tuple[str, ...] = ("foa", "intensity")
"""Features that need FOA audio (4 channels ACN/SN3D from a coincident array)."""
MIC_FEATURES: tuple[str, ...] = ("mic", "salsa-lite", "gcc-phat")
"""Features that need a spaced microphone array (inter-mic delays); ``logmel`` takes either audio."""
_FOA_ONLY = FOA_FEATURES
_MULTI_MIC = MIC_FEATURES


def get_feature(
    name: str,
    *,
    in_channels: int = 4,
    fs: int | None = None,
    preset: str = "dcase",
    config: FeatureConfig | None = None,
    **overrides: Any,
) -> SpectralFeature:
    """Build feature ``name`` (see :data:`FEATURES`) for ``in_channels``-channel audio.

    Args:
        name: ``mic``, ``foa``, ``salsa-lite``, ``logmel``, ``gcc-phat`` or ``intensity``
            (case-insensitive, ``_`` = ``-``).
        in_channels: channels of the input audio (4 FOA channels, ACN/SN3D, for ``foa`` / ``intensity``).
        fs: the audio's sample rate; ``ValueError`` when it differs from the config's.
        preset: base settings (:data:`PRESETS`) when ``config`` is not given.
        config: explicit settings (overrides ``preset``).
        **overrides: :class:`FeatureConfig` fields to change, e.g. ``n_mels=128``.

    Returns:
        A module mapping ``(B, in_channels, N)`` -> ``(B, out_channels(in_channels), T, bins)``.

    Example:
        >>> f = get_feature("mic", in_channels=4, fs=24000)
        >>> f(torch.randn(1, 4, 24000)).shape
        torch.Size([1, 10, 51, 64])
    """
    key = str(name).lower().replace("_", "-")
    if key not in FEATURES:
        raise ValueError(f"unknown feature '{name}'; choose from {', '.join(FEATURES)}")
    cfg = (config if config is not None else FeatureConfig.preset(preset)).replace(**overrides)
    if fs is not None and int(fs) != cfg.fs:
        raise ValueError(f"feature '{key}' is set up for {cfg.fs} Hz audio, got {fs} Hz (resample, or pick a preset / fs setting)")
    m = int(in_channels)
    if key in _FOA_ONLY and m != 4:
        raise ValueError(f"feature '{key}' needs 4 FOA channels (W, Y, Z, X), got {m}")
    if key in _MULTI_MIC and m < 2:
        raise ValueError(f"feature '{key}' needs >= 2 microphones, got {m}")
    if m < 1:
        raise ValueError(f"in_channels must be >= 1, got {m}")
    return FEATURES[key](cfg, m)
