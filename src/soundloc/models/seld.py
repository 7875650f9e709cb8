"""The composed SELD model ``SeldModel(encoder, head)``, its JSON-able config and what it was trained for.

* :class:`InputSpec`: the input a model was trained for: feature stack name and
  :class:`~soundloc.features.FeatureConfig`, the array or format (``MicArray``/``FoaFormat``
  ``to_dict()``), sample rate and class names. :meth:`InputSpec.check_input` refuses audio from
  another array, format or rate with a one-line ``ValueError``.
* :class:`SeldConfig`: encoder name + keyword arguments, head name + keyword arguments, and the
  optional :class:`InputSpec`; ``to_dict`` / ``from_dict`` (unknown keys are a ``ValueError``).
* :class:`SeldModel`: features ``(B, C, T, F)`` -> head output ``(B, T_label, ...)``; built from a
  config by :func:`build_model` (the head's ``in_features`` is the encoder's ``out_features``).

Example:
    >>> from soundloc.geometry import MicArray
    >>> spec = InputSpec.create("mic", MicArray.preset("tetra"), class_names=("a", "b"))
    >>> cfg = SeldConfig.for_input(spec, encoder="crnn", head="multi-accddoa")
    >>> model = build_model(cfg)
    >>> model(torch.zeros(1, 10, 51, 64)).shape      # (batch, label frames, tracks, x/y/z/dist, classes)
    torch.Size([1, 10, 3, 4, 2])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from soundloc.ambisonics import FoaFormat, is_foa_dict
from soundloc.dataformat import DcaseLabels
from soundloc.features.normalize import FeatureNormalizer
from soundloc.features.stacks import FeatureConfig, get_feature
from soundloc.geometry import MicArray, array_from_dict
from soundloc.models.base import Encoder
from soundloc.models.heads import HEADS, Head, Targets, get_head
from soundloc.models.registry import MODELS, get_model
from soundloc.models.timing import time_pool_for

CONFIG_VERSION = 1
"""Version of the JSON config layout."""

POSITION_TOLERANCE_M = 1e-3
"""Microphone positions differing by more than this (metres) make another array."""

NORM_MIN_STD = 1e-3
"""Floor of the input normalizer's standard deviations (feature units)."""

_JSON_SCALARS = (str, int, float, bool, type(None))


def _check_keys(d: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str], what: str) -> None:
    if not isinstance(d, Mapping):
        raise ValueError(f"{what} must be a JSON object, got {type(d).__name__}")
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise ValueError(f"{what}: unknown key '{unknown[0]}'; allowed: {', '.join(allowed)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(f"{what}: missing key '{missing[0]}'")


def _jsonable_kwargs(kw: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Keyword arguments as JSON values (tuples become lists); ``ValueError`` for anything else."""
    if not isinstance(kw, Mapping):
        raise ValueError(f"{what} must be an object of keyword arguments, got {type(kw).__name__}")
    out: dict[str, Any] = {}
    for k, v in kw.items():
        if isinstance(v, (list, tuple)) and all(isinstance(e, _JSON_SCALARS) for e in v):
            out[str(k)] = list(v)
        elif isinstance(v, _JSON_SCALARS):
            out[str(k)] = v
        else:
            raise ValueError(f"{what}: '{k}' must be a number, string, boolean or list of them, got {type(v).__name__}")
    return out


def _array_label(d: Mapping[str, Any]) -> str:
    if is_foa_dict(d):
        return "FOA (ACN/SN3D)"
    return f"array '{d.get('name', 'array')}' ({len(d.get('positions', []))} mics)"


@dataclass(frozen=True)
class InputSpec:
    """What a model was trained for (recorded in its config; checked before inference).

    Attributes:
        feature: feature stack name (``mic``, ``foa``, ``salsa-lite`` ... :data:`soundloc.features.FEATURES`).
        feature_config: the feature settings (sample rate ``feature_config.fs``).
        array: the array (``MicArray.to_dict()``, positions in metres) or format (``FoaFormat.to_dict()``).
        class_names: the classes, in output order (empty for a label-free encoder, e.g. one
            pretrained by :mod:`soundloc.ssl`; a :class:`SeldConfig` needs at least one).
    """

    feature: str
    feature_config: FeatureConfig
    array: Mapping[str, Any]
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        try:
            array_from_dict(dict(self.array))
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"input spec: bad array description: {e}") from None

    @classmethod
    def create(cls, feature: str, array: MicArray | FoaFormat, *, class_names: Sequence[str], preset: str = "dcase",
               feature_config: FeatureConfig | None = None) -> InputSpec:
        """A spec from an array object and a feature preset (or explicit ``feature_config``)."""
        cfg = feature_config if feature_config is not None else FeatureConfig.preset(preset)
        spec = cls(feature=feature, feature_config=cfg, array=array.to_dict(), class_names=tuple(map(str, class_names)))
        spec.feature_shape()  # the feature must accept this array
        return spec

    @property
    def fs(self) -> int:
        return int(self.feature_config.fs)

    @property
    def num_channels(self) -> int:
        """Audio channels of the array / format."""
        return 4 if is_foa_dict(self.array) else len(self.array["positions"])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def feature_module(self) -> nn.Module:
        """The feature extractor ``(B, channels, samples)`` -> ``(B, C, T, F)`` this model expects."""
        return get_feature(self.feature, in_channels=self.num_channels, config=self.feature_config)

    def feature_shape(self) -> tuple[int, int]:
        """``(feature channels C, bins F)`` of the feature stack on this array's audio."""
        g = torch.Generator().manual_seed(0)
        x = torch.randn(1, self.num_channels, self.fs // 10, generator=g)
        with torch.no_grad():
            y = self.feature_module()(x)
        return int(y.shape[1]), int(y.shape[3])

    def check_input(self, array: MicArray | FoaFormat | Mapping[str, Any], fs: int, channels: int | None = None) -> None:
        """Refuse audio this model was not trained for (one-line ``ValueError``).

        Args:
            array: the array / format the audio was recorded with (object or ``to_dict()``).
            fs: the audio's sample rate in Hz.
            channels: the audio's channel count (checked against the array), if known.
        """
        got = dict(array) if isinstance(array, Mapping) else array.to_dict()
        want = self.array
        if is_foa_dict(want) != is_foa_dict(got):
            raise ValueError(f"this model was trained for {_array_label(want)} audio, got {_array_label(got)}")
        if not is_foa_dict(want):
            pw, pg = np.asarray(want["positions"], dtype=float), np.asarray(got.get("positions", []), dtype=float)
            if pw.shape != pg.shape or not np.allclose(pw, pg, atol=POSITION_TOLERANCE_M, rtol=0.0):
                raise ValueError(f"this model was trained for {_array_label(want)}, got {_array_label(got)} with other "
                                 "microphone positions")
        if int(fs) != self.fs:
            raise ValueError(f"this model was trained for {self.fs} Hz audio, got {int(fs)} Hz (resample it)")
        if channels is not None and int(channels) != self.num_channels:
            raise ValueError(f"this model expects {self.num_channels}-channel audio ({_array_label(want)}), got {int(channels)} channels")

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "feature_config": self.feature_config.to_dict(), "array": dict(self.array),
                "class_names": list(self.class_names)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputSpec:
        keys = ("feature", "feature_config", "array", "class_names")
        _check_keys(d, keys, keys, "input spec")
        if not isinstance(d["feature_config"], Mapping) or not isinstance(d["array"], Mapping):
            raise ValueError("input spec: 'feature_config' and 'array' must be JSON objects")
        names = d["class_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("input spec: 'class_names' must be a list of strings")
        return cls(feature=str(d["feature"]), feature_config=FeatureConfig.from_dict(dict(d["feature_config"])),
                   array=dict(d["array"]), class_names=tuple(names))


@dataclass(frozen=True)
class SeldConfig:
    """Everything needed to rebuild a :class:`SeldModel` (JSON-able).

    Attributes:
        encoder: :data:`MODELS` name (``crnn``, ``resnet-conformer``).
        encoder_kwargs: its keyword arguments (``in_channels``, ``n_bins`` and any others).
        head: :data:`~soundloc.models.heads.HEADS` name.
        head_kwargs: its keyword arguments except ``in_features`` (``num_classes`` and any others).
        input: what the model was trained for, or ``None`` (a bare model).
        normalize: the model standardises its input features per (channel, bin) with statistics
            fitted on the training data and saved with the weights (``norm.mean`` / ``norm.std``
            buffers, :class:`~soundloc.features.FeatureNormalizer`); identity until fitted.
    """

    encoder: str
    encoder_kwargs: Mapping[str, Any] = field(default_factory=dict)
    head: str = "multi-accdoa"
    head_kwargs: Mapping[str, Any] = field(default_factory=dict)
    input: InputSpec | None = None
    normalize: bool = False

    def __post_init__(self) -> None:
        if self.encoder not in MODELS:
            raise ValueError(f"unknown model '{self.encoder}'; choose from {', '.join(MODELS)}")
        if self.head not in HEADS:
            raise ValueError(f"unknown head '{self.head}'; choose from {', '.join(HEADS)}")
        object.__setattr__(self, "encoder_kwargs", _jsonable_kwargs(self.encoder_kwargs, "encoder_kwargs"))
        object.__setattr__(self, "head_kwargs", _jsonable_kwargs(self.head_kwargs, "head_kwargs"))
        if "in_features" in self.head_kwargs:
            raise ValueError("head_kwargs: 'in_features' is set from the encoder; remove it")
        if self.input is not None:
            if not self.input.class_names:
                raise ValueError("class_names must name at least one class")
            n = self.head_kwargs.get("num_classes")
            if n is not None and n != self.input.num_classes:
                raise ValueError(f"head num_classes {n} differs from the {self.input.num_classes} class names")

    @classmethod
    def for_input(cls, spec: InputSpec, *, encoder: str = "crnn", head: str = "multi-accdoa",
                  encoder_kwargs: Mapping[str, Any] | None = None, head_kwargs: Mapping[str, Any] | None = None,
                  normalize: bool = False) -> SeldConfig:
        """A config whose encoder input size and head classes come from ``spec``."""
        c, f = spec.feature_shape()
        ek = {"in_channels": c, "n_bins": f, **(encoder_kwargs or {})}
        hk = {"num_classes": spec.num_classes, **(head_kwargs or {})}
        return cls(encoder=encoder, encoder_kwargs=ek, head=head, head_kwargs=hk, input=spec, normalize=normalize)

    def to_dict(self) -> dict[str, Any]:
        return {"version": CONFIG_VERSION, "encoder": self.encoder, "encoder_kwargs": dict(self.encoder_kwargs),
                "head": self.head, "head_kwargs": dict(self.head_kwargs),
                "input": None if self.input is None else self.input.to_dict(), "normalize": self.normalize}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SeldConfig:
        """Inverse of :meth:`to_dict`; ``ValueError`` for unknown or missing keys and bad values."""
        _check_keys(d, ("version", "encoder", "encoder_kwargs", "head", "head_kwargs", "input", "normalize"),
                    ("version", "encoder", "head"), "model config")
        if d["version"] != CONFIG_VERSION:
            raise ValueError(f"model config version {d['version']!r} is not supported (this soundloc reads {CONFIG_VERSION})")
        spec = d.get("input")
        normalize = d.get("normalize", False)
        if not isinstance(normalize, bool):
            raise ValueError(f"model config: 'normalize' must be true or false, got {normalize!r}")
        return cls(encoder=str(d["encoder"]), encoder_kwargs=d.get("encoder_kwargs") or {}, head=str(d["head"]),
                   head_kwargs=d.get("head_kwargs") or {}, input=None if spec is None else InputSpec.from_dict(spec),
                   normalize=normalize)

    def replace(self, **changes: Any) -> SeldConfig:
        return dataclasses.replace(self, **changes)


class SeldModel(nn.Module):
    """``head(encoder(norm(features)))``: features ``(B, C, T, F)`` -> head output ``(B, T_label, ...)``.

    Args:
        encoder: an :class:`~soundloc.models.base.Encoder`.
        head: a :class:`~soundloc.models.heads.Head` with ``in_features == encoder.out_features``.
        config: the config that built them (kept for saving); ``None`` for hand-assembled models
            (which cannot be saved).
        norm: input standardisation (:class:`~soundloc.features.FeatureNormalizer` with ``(C, F)``
            statistics), ``None`` for none.
    """

    def __init__(self, encoder: Encoder, head: Head, *, config: SeldConfig | None = None,
                 norm: FeatureNormalizer | None = None) -> None:
        super().__init__()
        if head.in_features != encoder.out_features:
            raise ValueError(f"head expects {head.in_features}-dim embeddings, the encoder gives {encoder.out_features}")
        self.norm = norm
        self.encoder = encoder
        self.head = head
        self.config = config

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            features = self.norm(features)
        out: torch.Tensor = self.head(self.encoder(features))
        return out

    def set_normalizer(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, *,
                       min_std: float = NORM_MIN_STD) -> None:
        """Set the input statistics (``(C, F)`` means and standard deviations of the training features;
        standard deviations below ``min_std`` are raised to it, so a constant bin cannot blow up).

        Raises:
            ValueError: the model was built without ``normalize``, or the shapes differ from ``(C, F)``.
        """
        if self.norm is None:
            raise ValueError("this model has no input normalizer (build it with normalize=True)")
        self.norm.set_stats(mean, std, min_std=min_std)

    def label_frames(self, num_frames: int) -> int:
        """Output frames for ``num_frames`` feature frames."""
        return self.encoder.label_frames(num_frames)

    def target(self, targets: Targets) -> torch.Tensor:
        """The head's loss target (see :meth:`~soundloc.models.heads.Head.target`)."""
        return self.head.target(targets)

    def decode(self, output: torch.Tensor, *, threshold: float = 0.5, unify_deg: float = 15.0,
               frame_offset: int = 0) -> list[DcaseLabels]:
        """Per-item detections (see :meth:`~soundloc.models.heads.Head.decode`)."""
        return self.head.decode(output, threshold=threshold, unify_deg=unify_deg, frame_offset=frame_offset)


def build_model(config: SeldConfig) -> SeldModel:
    """The model ``config`` describes (fresh weights).

    Raises:
        ValueError: bad encoder/head arguments, or an encoder whose time pooling does not match the
            recorded feature hop (``prod(t_pool)`` must be the feature frames per 100 ms label frame).
    """
    try:
        encoder = get_model(config.encoder, **config.encoder_kwargs)
        head = get_head(config.head, in_features=encoder.out_features, **config.head_kwargs)
    except TypeError as e:
        raise ValueError(f"model config: {e}") from None
    if config.input is not None:
        need = time_pool_for(config.input.feature_config)
        if encoder.time_pool != need:
            raise ValueError(f"encoder pools time by {encoder.time_pool} but the features give {need} frames per "
                             "100 ms label frame; set t_pool so its product is that")
        c, f = config.input.feature_shape()
        if (encoder.in_channels, encoder.n_bins) != (c, f):
            raise ValueError(f"encoder expects ({encoder.in_channels} channels, {encoder.n_bins} bins), the "
                             f"'{config.input.feature}' features give ({c}, {f})")
    norm = None
    if config.normalize:
        c, f = encoder.in_channels, encoder.n_bins
        norm = FeatureNormalizer(np.zeros((c, f)), np.ones((c, f)), eps=0.0)
    return SeldModel(encoder, head, config=config, norm=norm)
