"""Feature frames -> 100 ms label frames: the encoders' total time pooling and its remainder policy.

Every encoder pools time by an explicit factor ``time_pool`` so that its output runs at the DCASE
label rate (:data:`soundloc.dataformat.LABEL_HOP_S`, 100 ms). The factor follows from the feature
hop: ``time_pool_for(FeatureConfig.preset("dcase")) == 5`` (24 kHz, hop 480 = 20 ms).

A feature sequence whose length ``T`` is not a multiple of ``time_pool`` is handled by the
``remainder`` policy (:data:`REMAINDERS`):

* ``"drop"`` (default): the last ``T % time_pool`` frames are dropped, ``T_label = T // time_pool``.
  Centred STFTs give ``N / hop + 1`` frames (51 for 1 s at 24 kHz), so the one extra frame of a
  whole number of label frames is dropped and ``T_label`` equals the label count (10).
* ``"pad"``: zeros are appended up to the next multiple, ``T_label = ceil(T / time_pool)``.
* ``"strict"``: ``ValueError`` unless ``T`` is a multiple of ``time_pool``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from soundloc.dataformat import LABEL_HOP_S
from soundloc.features.stacks import FeatureConfig

REMAINDERS: tuple[str, ...] = ("drop", "pad", "strict")


def time_pool_for(config: FeatureConfig, *, label_hop_s: float = LABEL_HOP_S) -> int:
    """Feature frames per label frame, ``label_hop_s * fs / hop``; ``ValueError`` unless a whole number.

    Example:
        >>> time_pool_for(FeatureConfig.preset("dcase"))
        5
    """
    ratio = label_hop_s * config.fs / config.hop
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
        raise ValueError(f"feature hop {config.hop} at {config.fs} Hz does not divide the {label_hop_s} s label frame "
                         f"({ratio:.4g} feature frames per label frame)")
    return int(round(ratio))


def check_remainder(remainder: str) -> str:
    if remainder not in REMAINDERS:
        raise ValueError(f"unknown remainder policy '{remainder}'; choose from {', '.join(REMAINDERS)}")
    return remainder


def label_frames(num_frames: int, time_pool: int, remainder: str = "drop") -> int:
    """Label frames an encoder outputs for ``num_frames`` feature frames (see the module docstring)."""
    check_remainder(remainder)
    if remainder == "strict" and num_frames % time_pool:
        raise ValueError(f"{num_frames} feature frames is not a multiple of the time pooling {time_pool} "
                         "(remainder='strict'; use 'drop' or 'pad')")
    n = math.ceil(num_frames / time_pool) if remainder == "pad" else num_frames // time_pool
    if n < 1:
        raise ValueError(f"{num_frames} feature frames is shorter than one label frame ({time_pool} frames)")
    return n


def fit_time(x: torch.Tensor, time_pool: int, remainder: str = "drop") -> torch.Tensor:
    """Crop or zero-pad features ``(B, C, T, F)`` along ``T`` to ``label_frames(T) * time_pool`` frames."""
    t = x.shape[2]
    n = label_frames(t, time_pool, remainder) * time_pool
    if n < t:
        return x[:, :, :n]
    if n > t:
        return F.pad(x, (0, 0, 0, n - t))
    return x
