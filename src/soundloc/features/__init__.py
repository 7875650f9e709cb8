"""Spatial audio features as batched ``nn.Module``s, and the one STFT.

Waveforms ``(batch, channels, samples)`` -> features ``(batch, feature_channels, frames, bins)``
float32 on the input's device (CPU or GPU); no librosa at run time.

* :mod:`~soundloc.features.stft`: the STFT shared with the localizers;
* :mod:`~soundloc.features.mel`: Slaney / HTK mel filterbank;
* :class:`LogMel`, :class:`GCCPHATFeature`, :class:`IntensityVectors`, :class:`SalsaLite`;
* :mod:`~soundloc.features.stacks`: :class:`FeatureConfig` (presets ``dcase``, ``mcsimclr``), the
  DCASE stacks ``mic`` / ``foa`` / ``salsa-lite``, registry :data:`FEATURES`, :func:`get_feature`;
* :mod:`~soundloc.features.normalize`: per-channel mean/std fitted by streaming over a training set.

Example:
    >>> import torch
    >>> from soundloc.features import get_feature
    >>> f = get_feature("mic", in_channels=4, fs=24000, preset="dcase")
    >>> f(torch.randn(2, 4, 24000)).shape      # 4 log-mel + 6 GCC-PHAT
    torch.Size([2, 10, 51, 64])
"""

from __future__ import annotations

from soundloc.features.base import SpectralFeature
from soundloc.features.gcc import GCCPHATFeature, max_lag_for
from soundloc.features.intensity import IntensityVectors
from soundloc.features.logmel import LogMel
from soundloc.features.mel import hz_to_mel, mel_filterbank, mel_to_hz
from soundloc.features.normalize import FeatureNormalizer, RunningStats
from soundloc.features.salsa_lite import SalsaLite, spatial_aliasing_frequency
from soundloc.features.stacks import (
    FEATURES,
    PRESETS,
    FeatureConfig,
    FeatureStack,
    get_feature,
)
from soundloc.features.stft import num_frames, stft, stft_frames

__all__ = [
    "FEATURES",
    "PRESETS",
    "FeatureConfig",
    "FeatureNormalizer",
    "FeatureStack",
    "GCCPHATFeature",
    "IntensityVectors",
    "LogMel",
    "RunningStats",
    "SalsaLite",
    "SpectralFeature",
    "get_feature",
    "hz_to_mel",
    "max_lag_for",
    "mel_filterbank",
    "mel_to_hz",
    "num_frames",
    "spatial_aliasing_frequency",
    "stft",
    "stft_frames",
]
