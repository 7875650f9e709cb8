"""The spatial encoder: a registry encoder pooled over time to one embedding per clip; save / load.

:class:`SpatialEncoder` wraps an encoder of :data:`soundloc.models.MODELS` (features
``(B, C, T, F)`` -> frame embeddings ``(B, T_label, D)``) and averages its frame embeddings over
time: ``(B, C, T, F)`` -> ``(B, D)`` (``D`` = the CRNN's ``rnn_size``, 128 by default, MC-SimCLR's
embedding size). With ``EncoderConfig.normalize`` (on for new encoders) it first standardises its
input per (channel, bin) (:class:`~soundloc.features.FeatureNormalizer`, identity until
:func:`fit_normalizer` sets it from training features): without it the log-mel channels (dB, std
~15) drown the GCC-PHAT channels (~±0.05) and the direction is never learned.
Its :class:`EncoderConfig` records the encoder and the :class:`~soundloc.models.InputSpec`
(feature stack and settings, array or FOA format, sample rate; no classes), so probing and
embedding refuse audio from another array or rate.

``save_encoder(enc, "run/encoder")`` writes ``run/encoder.safetensors`` + ``run/encoder.json``
(:func:`soundloc.models.io.save_checked`, never pickle; the normalizer's statistics are the tensors
``input_norm.mean`` / ``input_norm.std``); :func:`load_encoder` checks names, shapes, dtypes and the
SHA-256 of the weights. A projection head is never part of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from soundloc.ambisonics import FoaFormat
from soundloc.features.normalize import FeatureNormalizer
from soundloc.geometry import MicArray, array_from_dict
from soundloc.models import Encoder, InputSpec, get_model
from soundloc.models.io import load_checked_tensors, read_checked_doc, save_checked
from soundloc.models.seld import NORM_MIN_STD
from soundloc.models.timing import time_pool_for
from soundloc.train.config import feature_config_for

FORMAT = "soundloc-ssl-encoder"
"""``"format"`` of the encoder JSON."""

NORM_PREFIX = "input_norm."
"""Prefix of the input normalizer's tensors in the encoder file."""


@dataclass(frozen=True)
class EncoderConfig:
    """What rebuilds a :class:`SpatialEncoder`.

    Attributes:
        encoder: :data:`soundloc.models.MODELS` name; ``encoder_kwargs`` its keyword arguments
            (``in_channels`` and ``n_bins`` included).
        input: feature stack, feature settings and array (``class_names`` empty).
        normalize: standardise the input features per (channel, bin) with statistics fitted on
            training features (:func:`fit_normalizer`), saved with the weights. ``False`` here so
            that encoder files written before the option load unchanged; :meth:`create` (every new
            encoder) turns it on.
    """

    encoder: str
    input: InputSpec
    encoder_kwargs: Mapping[str, Any] = field(default_factory=dict)
    normalize: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "encoder_kwargs": dict(self.encoder_kwargs), "input": self.input.to_dict(),
                "normalize": self.normalize}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EncoderConfig:
        """Inverse of :meth:`to_dict` (a config without ``normalize``, written before the option, has it off)."""
        if not isinstance(d, Mapping) or not {"encoder", "encoder_kwargs", "input"} <= set(d) <= {
                "encoder", "encoder_kwargs", "input", "normalize"}:
            raise ValueError("encoder config needs the keys encoder, encoder_kwargs, input (and optionally normalize)")
        if not isinstance(d["encoder_kwargs"], Mapping) or not isinstance(d["input"], Mapping):
            raise ValueError("encoder config: encoder_kwargs and input must be JSON objects")
        normalize = d.get("normalize", False)
        if not isinstance(normalize, bool):
            raise ValueError(f"encoder config: 'normalize' must be true or false, got {normalize!r}")
        return cls(encoder=str(d["encoder"]), input=InputSpec.from_dict(d["input"]), encoder_kwargs=dict(d["encoder_kwargs"]),
                   normalize=normalize)

    @classmethod
    def create(cls, array: MicArray | FoaFormat, fs: int, *, encoder: str = "crnn",
               encoder_kwargs: Mapping[str, Any] | None = None, normalize: bool = True) -> EncoderConfig:
        """The config for audio of ``array`` at ``fs`` Hz (``mic`` features, or ``foa`` for FOA; the
        feature preset of :func:`soundloc.train.feature_config_for`); ``normalize`` on by default."""
        feature = "foa" if isinstance(array, FoaFormat) else "mic"
        spec = InputSpec.create(feature, array, class_names=(), feature_config=feature_config_for(fs))
        c, f = spec.feature_shape()
        return cls(encoder=encoder, input=spec, encoder_kwargs={"in_channels": c, "n_bins": f, **(encoder_kwargs or {})},
                   normalize=bool(normalize))

    @property
    def array(self) -> MicArray | FoaFormat:
        return array_from_dict(dict(self.input.array))


class SpatialEncoder(nn.Module):
    """``(B, C, T, F)`` features -> ``(B, D)`` clip embeddings: the encoder's frame embeddings of the
    standardised features (``norm``, when there is one) averaged over time.

    Args:
        encoder: an :class:`~soundloc.models.Encoder`; config: the config that built it (needed to save).
        norm: input standardisation (:class:`~soundloc.features.FeatureNormalizer` with ``(C, F)``
            statistics) or ``None``.
    """

    def __init__(self, encoder: Encoder, *, config: EncoderConfig | None = None,
                 norm: FeatureNormalizer | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config
        self.norm = norm

    @property
    def embed_dim(self) -> int:
        return int(self.encoder.out_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            features = self.norm(features)
        out: torch.Tensor = self.encoder(features).mean(dim=1)
        return out

    def set_normalizer(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, *,
                       min_std: float = NORM_MIN_STD) -> None:
        """Set the input statistics ``(C, F)`` (as :meth:`soundloc.models.SeldModel.set_normalizer`).

        Raises:
            ValueError: the encoder has no normalizer (``normalize`` off), or other shapes.
        """
        if self.norm is None:
            raise ValueError("this encoder has no input normalizer (its config has normalize off)")
        self.norm.set_stats(mean, std, min_std=min_std)


@torch.no_grad()
def fit_normalizer(encoder: SpatialEncoder, batches: Iterable[torch.Tensor]) -> bool:
    """Fit ``encoder``'s input normalizer on feature batches ``(B, C, T, F)`` (per channel and bin,
    over clips and frames: numpy's mean / std of their concatenation); returns ``False`` (and does
    nothing) when the encoder has no normalizer. ``ValueError`` for no batches."""
    if encoder.norm is None:
        return False
    encoder.norm.fit(batches, min_std=NORM_MIN_STD)
    return True


def build_encoder(config: EncoderConfig, *, seed: int | None = None) -> SpatialEncoder:
    """A fresh encoder for ``config`` (weights seeded by ``seed`` without touching the global RNG;
    ``None``: from the global RNG). ``ValueError`` for bad keyword arguments or a time pooling
    that does not fit the feature hop."""
    try:
        if seed is None:
            enc = get_model(config.encoder, **config.encoder_kwargs)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                enc = get_model(config.encoder, **config.encoder_kwargs)
    except TypeError as e:
        raise ValueError(f"encoder config: {e}") from None
    need = time_pool_for(config.input.feature_config)
    if enc.time_pool != need:
        raise ValueError(f"encoder pools time by {enc.time_pool} but the features give {need} frames per 100 ms")
    norm = None
    if config.normalize:
        norm = FeatureNormalizer(np.zeros((enc.in_channels, enc.n_bins)), np.ones((enc.in_channels, enc.n_bins)), eps=0.0)
    return SpatialEncoder(enc, config=config, norm=norm)


def _weights(encoder: SpatialEncoder) -> dict[str, torch.Tensor]:
    """The tensors of the encoder file: the encoder's state, and the normalizer's under :data:`NORM_PREFIX`."""
    out = dict(encoder.encoder.state_dict())
    if encoder.norm is not None:
        out.update({NORM_PREFIX + k: v for k, v in encoder.norm.state_dict().items()})
    return out


def save_encoder(encoder: SpatialEncoder, path: str | os.PathLike[str], *,
                 pretraining: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` + ``<path>.json`` (``pretraining``: how it was made, recorded as is)."""
    if encoder.config is None:
        raise ValueError("this encoder has no config to save; build it with soundloc.ssl.build_encoder")
    return save_checked(_weights(encoder), path, fmt=FORMAT,
                        fields={"config": encoder.config.to_dict(), "pretraining": dict(pretraining or {})})


def load_encoder(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> SpatialEncoder:
    """The encoder saved at ``path`` (stem, ``.json`` or ``.safetensors``; a run folder: its
    ``encoder``), in eval mode on ``device``; one-line ``ValueError`` naming the file otherwise."""
    p = Path(path)
    if p.is_dir():
        p = p / "encoder"
    doc, weights, config = read_checked_doc(p, fmt=FORMAT, allowed=("config", "pretraining"), what="encoder config")
    try:
        cfg = EncoderConfig.from_dict(doc.get("config"))  # type: ignore[arg-type]
        enc = build_encoder(cfg)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"encoder config '{config}': {e}") from None
    state = load_checked_tensors(weights, config, doc["weights"]["sha256"], _weights(enc))
    enc.encoder.load_state_dict({k: v for k, v in state.items() if not k.startswith(NORM_PREFIX)}, strict=True)
    if enc.norm is not None:
        enc.norm.load_state_dict({k[len(NORM_PREFIX):]: v for k, v in state.items() if k.startswith(NORM_PREFIX)}, strict=True)
    return enc.to(device).eval()


def random_encoder(spec: str, *, fs: int | None = None, seed: int = 0, encoder: str = "crnn",
                   encoder_kwargs: Mapping[str, Any] | None = None, normalize: bool = True) -> SpatialEncoder:
    """A random-init encoder from ``"random:ARRAY"`` (``ARRAY``: a preset name or JSON file, as
    :func:`soundloc.geometry.get_array`); ``fs`` defaults to 16 kHz. Its normalizer (``normalize``)
    is the identity until :func:`fit_normalizer`."""
    from soundloc.geometry import get_array

    name = spec.split(":", 1)[1] if spec.startswith("random:") else spec
    if not name:
        raise ValueError("random encoder needs an array: random:NAME (e.g. random:circular4) or random:FILE.json")
    cfg = EncoderConfig.create(get_array(name), 16000 if fs is None else int(fs), encoder=encoder, encoder_kwargs=encoder_kwargs,
                               normalize=normalize)
    return build_encoder(cfg, seed=seed)
