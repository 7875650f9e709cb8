"""The spatial encoder: a registry encoder pooled over time to one embedding per clip; save / load.

:class:`SpatialEncoder` wraps an encoder of :data:`soundloc.models.MODELS` (features
``(B, C, T, F)`` -> frame embeddings ``(B, T_label, D)``) and averages its frame embeddings over
time: ``(B, C, T, F)`` -> ``(B, D)`` (``D`` = the CRNN's ``rnn_size``, 128 by default, MC-SimCLR's
embedding size). Its :class:`EncoderConfig` records the encoder and the :class:`~soundloc.models.InputSpec`
(feature stack and settings, array or FOA format, sample rate; no classes), so probing and
embedding refuse audio from another array or rate.

``save_encoder(enc, "run/encoder")`` writes ``run/encoder.safetensors`` + ``run/encoder.json``
(:func:`soundloc.models.io.save_checked`, never pickle); :func:`load_encoder` checks names, shapes,
dtypes and the SHA-256 of the weights. A projection head is never part of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from soundloc.ambisonics import FoaFormat
from soundloc.geometry import MicArray, array_from_dict
from soundloc.models import Encoder, InputSpec, get_model
from soundloc.models.io import load_checked_tensors, read_checked_doc, save_checked
from soundloc.models.timing import time_pool_for
from soundloc.train.config import feature_config_for

FORMAT = "soundloc-ssl-encoder"
"""``"format"`` of the encoder JSON."""


@dataclass(frozen=True)
class EncoderConfig:
    """What rebuilds a :class:`SpatialEncoder`.

    Attributes:
        encoder: :data:`soundloc.models.MODELS` name; ``encoder_kwargs`` its keyword arguments
            (``in_channels`` and ``n_bins`` included).
        input: feature stack, feature settings and array (``class_names`` empty).
    """

    encoder: str
    input: InputSpec
    encoder_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "encoder_kwargs": dict(self.encoder_kwargs), "input": self.input.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EncoderConfig:
        if not isinstance(d, Mapping) or set(d) != {"encoder", "encoder_kwargs", "input"}:
            raise ValueError("encoder config needs exactly the keys encoder, encoder_kwargs, input")
        if not isinstance(d["encoder_kwargs"], Mapping) or not isinstance(d["input"], Mapping):
            raise ValueError("encoder config: encoder_kwargs and input must be JSON objects")
        return cls(encoder=str(d["encoder"]), input=InputSpec.from_dict(d["input"]), encoder_kwargs=dict(d["encoder_kwargs"]))

    @classmethod
    def create(cls, array: MicArray | FoaFormat, fs: int, *, encoder: str = "crnn",
               encoder_kwargs: Mapping[str, Any] | None = None) -> EncoderConfig:
        """The config for audio of ``array`` at ``fs`` Hz (``mic`` features, or ``foa`` for FOA; the
        feature preset of :func:`soundloc.train.feature_config_for`)."""
        feature = "foa" if isinstance(array, FoaFormat) else "mic"
        spec = InputSpec.create(feature, array, class_names=(), feature_config=feature_config_for(fs))
        c, f = spec.feature_shape()
        return cls(encoder=encoder, input=spec, encoder_kwargs={"in_channels": c, "n_bins": f, **(encoder_kwargs or {})})

    @property
    def array(self) -> MicArray | FoaFormat:
        return array_from_dict(dict(self.input.array))


class SpatialEncoder(nn.Module):
    """``(B, C, T, F)`` features -> ``(B, D)`` clip embeddings: the encoder's frame embeddings averaged over time.

    Args:
        encoder: an :class:`~soundloc.models.Encoder`; config: the config that built it (needed to save).
    """

    def __init__(self, encoder: Encoder, *, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config

    @property
    def embed_dim(self) -> int:
        return int(self.encoder.out_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.encoder(features).mean(dim=1)
        return out


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
    return SpatialEncoder(enc, config=config)


def save_encoder(encoder: SpatialEncoder, path: str | os.PathLike[str], *,
                 pretraining: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` + ``<path>.json`` (``pretraining``: how it was made, recorded as is)."""
    if encoder.config is None:
        raise ValueError("this encoder has no config to save; build it with soundloc.ssl.build_encoder")
    return save_checked(encoder.encoder.state_dict(), path, fmt=FORMAT,
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
    state = load_checked_tensors(weights, config, doc["weights"]["sha256"], enc.encoder.state_dict())
    enc.encoder.load_state_dict(state, strict=True)
    return enc.to(device).eval()


def random_encoder(spec: str, *, fs: int | None = None, seed: int = 0, encoder: str = "crnn",
                   encoder_kwargs: Mapping[str, Any] | None = None) -> SpatialEncoder:
    """A random-init encoder from ``"random:ARRAY"`` (``ARRAY``: a preset name or JSON file, as
    :func:`soundloc.geometry.get_array`); ``fs`` defaults to 16 kHz."""
    from soundloc.geometry import get_array

    name = spec.split(":", 1)[1] if spec.startswith("random:") else spec
    if not name:
        raise ValueError("random encoder needs an array: random:NAME (e.g. random:circular4) or random:FILE.json")
    cfg = EncoderConfig.create(get_array(name), 16000 if fs is None else int(fs), encoder=encoder, encoder_kwargs=encoder_kwargs)
    return build_encoder(cfg, seed=seed)
