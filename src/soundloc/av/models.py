"""Audio-visual localization model: image encoder -> feature map, audio encoder -> vector, similarity map.

:class:`AVLocalizer` (built from a frozen :class:`AVModelConfig`):

* **image encoder**: a ResNet-18-style 2D CNN (:class:`ResNetTrunk`; stem, stages of basic residual
  blocks, width and depth configurable so tests stay tiny) trained from scratch, or started from a
  local safetensors file the user supplies (:func:`load_image_weights`; a torchvision ResNet-18 state
  dict saved with safetensors loads as is, ``fc.*`` ignored) -> feature map ``(B, C, h, w)`` -> 1x1
  convolution -> ``(B, D, h, w)``, L2-normalised along ``D``;
* **audio encoder**: log-mel of the mono clip (:class:`~soundloc.features.logmel.LogMel`, ``(B, 1, T, n_mels)``)
  -> a second trunk -> global max pool -> linear -> ``(B, D)``, L2-normalised;
* **similarity map**: the cosine similarity of the sound with every image location, ``(B, h, w)`` in
  [-1, 1]; :meth:`AVLocalizer.heatmap` upsamples it (bilinear) to the frame, ``(B, H, W)``;
* **sounding-object confidence** ``(B,)`` in (0, 1): ``sigmoid(a * max_sim + b)`` with a learned
  scale ``a`` and offset ``b``, calibrated during training on matched vs mismatched (batch-rolled)
  pairs (:meth:`AVLocalizer.confidence_logits`): silent, noise-only and off-screen sounds match no
  location and should score low.

**Object-guided localization** (EZ-VSL's OGL, ``config.object_prior`` = weight ``w`` > 0): the
heatmap is ``(1 - w) * minmax(av map) + w * minmax(object map)``, where the object map is the
channel mean of an image trunk's (non-negative, post-ReLU) feature map, a class-agnostic "something
is here" map. EZ-VSL takes it from a frozen ImageNet-pretrained encoder: set
``config.prior_encoder=True`` and load that trunk from a local file with :func:`load_prior_weights`
(it is frozen, kept in eval mode and saved with the model); without it the map comes from the
model's own (trained) image trunk.

SLAVC options: ``separate_projections`` adds a second pair of projections for audio-visual
correspondence (``img_cor``, ``aud_cor``), ``visual_dropout`` drops image features before the
projections during training (SLAVC uses 0.9).

**Padding** (``config.image_padding``): the image trunk's convolutions pad with ``"replicate"`` (repeat the edge
pixels, the default) or ``"zeros"`` (torchvision's choice, used by models saved before the option existed). Zero
padding tells every location how far it is from the frame edge; with the multiple-instance max over locations
the contrastive losses then learn to put their maximum on the frame border for every sound (measured in
``docs/av.md``: 78-100 % of the peaks on the border in 6 of the first 10 epochs of an easy configuration, the
peak then almost never on the digit). Replicate padding gives a featureless frame a constant feature map (tested), so no location
is preferred before it sees something.

Frames are ``(B, 3, H, W)`` RGB floats in [0, 1] (normalised inside with the ImageNet mean and std);
audio is ``(B, N)`` mono at ``config.fs`` Hz. Image axes: row 0 at the top, column 0 at the left.
Save and load with :func:`save_av_model` / :func:`load_av_model` (safetensors + JSON, checked).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from soundloc.features.logmel import LogMel
from soundloc.models.io import load_checked_tensors, read_checked_doc, save_checked

AV_MODEL_FORMAT = "soundloc-av-model"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
PADDING_MODES = ("replicate", "zeros")
PaddingMode = Literal["replicate", "zeros"]
"""Padding of the image trunk's convolutions (:attr:`AVModelConfig.image_padding`)."""


@dataclass(frozen=True)
class AVModelConfig:
    """Architecture of :class:`AVLocalizer`.

    ``embed_dim`` ``D`` of the shared audio-visual space; ``image_width`` channels of the first image stage
    (doubled at each next stage), ``image_blocks`` residual blocks per stage (ResNet-18: width 64, (2, 2, 2, 2)),
    ``image_stem_stride`` 1, 2 or 4 (4 = ResNet's strided convolution + max pool; the map is
    ``H / (stem_stride * 2 ** (stages - 1))`` pixels high); ``audio_width`` / ``audio_blocks`` the same for the
    audio trunk (stem stride 2); ``fs`` audio rate (Hz), ``nfft`` / ``hop`` STFT settings (samples), ``n_mels``
    mel bands; ``separate_projections`` and ``visual_dropout`` the SLAVC options; ``object_prior`` the weight
    ``w`` in [0, 1] of the object map in the heatmap (0: off) and ``prior_encoder`` whether that map comes from a
    separate frozen trunk (EZ-VSL's OGL with pretrained weights) instead of the model's own image trunk;
    ``image_padding`` the image trunk's convolution padding, ``"replicate"`` (default) or ``"zeros"`` (see the
    module docstring; a saved config without the key is read as ``"zeros"``, what those models used).
    """

    embed_dim: int = 128
    image_width: int = 64
    image_blocks: tuple[int, ...] = (2, 2, 2, 2)
    image_stem_stride: int = 4
    audio_width: int = 32
    audio_blocks: tuple[int, ...] = (1, 1, 1, 1)
    fs: int = 16000
    nfft: int = 512
    hop: int = 160
    n_mels: int = 64
    separate_projections: bool = False
    visual_dropout: float = 0.0
    object_prior: float = 0.0
    prior_encoder: bool = False
    image_padding: str = "replicate"

    def __post_init__(self) -> None:
        for name in ("embed_dim", "image_width", "audio_width", "fs", "nfft", "hop", "n_mels"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("image_blocks", "audio_blocks"):
            v = getattr(self, name)
            if not isinstance(v, tuple) or not 1 <= len(v) <= 5 or not all(isinstance(b, int) and 1 <= b <= 8 for b in v):
                raise ValueError(f"{name} must be 1-5 stages of 1-8 blocks, got {v!r}")
        if self.image_stem_stride not in (1, 2, 4):
            raise ValueError(f"image_stem_stride must be 1, 2 or 4, got {self.image_stem_stride!r}")
        if not 0.0 <= float(self.visual_dropout) < 1.0:
            raise ValueError(f"visual_dropout must be in [0, 1), got {self.visual_dropout!r}")
        if isinstance(self.object_prior, bool) or not isinstance(self.object_prior, (int, float)) \
                or not 0.0 <= float(self.object_prior) <= 1.0:
            raise ValueError(f"object_prior must be a weight in [0, 1], got {self.object_prior!r}")
        if not isinstance(self.prior_encoder, bool):
            raise ValueError(f"prior_encoder must be true or false, got {self.prior_encoder!r}")
        if self.image_padding not in PADDING_MODES:
            raise ValueError(f"image_padding must be one of {', '.join(PADDING_MODES)}, got {self.image_padding!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Any) -> AVModelConfig:
        """Inverse of :meth:`to_dict`; ``ValueError`` naming an unknown key or a bad value."""
        if not isinstance(d, dict):
            raise ValueError(f"an AV model config must be a JSON object, got {type(d).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"unknown AV model config key '{unknown[0]}'; allowed: {', '.join(names)}")
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        kw.setdefault("image_padding", "zeros")  # configs saved before the option: their models padded with zeros
        try:
            return cls(**kw)
        except TypeError as e:
            raise ValueError(f"bad AV model config: {e}") from None


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with batch norm and an identity (or 1x1 strided) shortcut.
    ``(B, c_in, H, W)`` -> ``(B, c_out, H / stride, W / stride)``. Parameter names follow torchvision;
    ``padding_mode`` of the 3x3 convolutions: ``"zeros"`` or ``"replicate"``."""

    def __init__(self, *, in_channels: int, out_channels: int, stride: int = 1, padding_mode: PaddingMode = "zeros") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, padding_mode=padding_mode)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False, padding_mode=padding_mode)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return F.relu(y + skip)


class ResNetTrunk(nn.Module):
    """ResNet-style trunk without pooling or classifier: ``(B, in_channels, H, W)`` -> ``(B, out_channels, h, w)``.

    Stem: 7x7 convolution (stride 2 when ``stem_stride >= 2``) + batch norm + ReLU (+ 3x3 max pool, stride 2,
    when ``stem_stride == 4``); then ``len(blocks)`` stages ``layer1``, ``layer2``, ... of :class:`BasicBlock`
    with ``width * 2 ** k`` channels, the first block of each stage after the first with stride 2.
    ``width=64, blocks=(2, 2, 2, 2), stem_stride=4`` is ResNet-18 (same parameter names as torchvision).
    ``padding_mode`` of every convolution: ``"zeros"`` (torchvision) or ``"replicate"`` (edge pixels repeated: a
    constant input gives a constant output, so the output carries no position cue from the frame edges; the max
    pool pads with -inf either way, which never wins).
    """

    def __init__(self, *, in_channels: int, width: int, blocks: tuple[int, ...], stem_stride: int = 4,
                 padding_mode: PaddingMode = "zeros") -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
        self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2 if stem_stride >= 2 else 1, padding=3, bias=False,
                               padding_mode=padding_mode)
        self.bn1 = nn.BatchNorm2d(width)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if stem_stride == 4 else nn.Identity()
        c = width
        self.n_stages = len(blocks)
        for k, n in enumerate(blocks):
            out = width * 2**k
            stage = [BasicBlock(in_channels=c, out_channels=out, stride=1 if k == 0 else 2, padding_mode=padding_mode)]
            stage += [BasicBlock(in_channels=out, out_channels=out, padding_mode=padding_mode) for _ in range(n - 1)]
            setattr(self, f"layer{k + 1}", nn.Sequential(*stage))
            c = out
        self.out_channels = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        for k in range(self.n_stages):
            x = getattr(self, f"layer{k + 1}")(x)
        return x


class AVLocalizer(nn.Module):
    """Audio-visual localization model (see the module docstring). Build with ``AVLocalizer(config=...)``.

    ``forward(frame, audio)`` -> dict of L2-normalised embeddings: ``img_loc`` ``(B, D, h, w)``, ``aud_loc``
    ``(B, D)``, ``img_cor`` / ``aud_cor`` (the correspondence projections, or the localization ones when
    ``config.separate_projections`` is False) and ``sim`` ``(B, h, w)``, the cosine similarity of each clip's
    sound with each location of its own frame.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, *, config: AVModelConfig | None = None) -> None:
        super().__init__()
        cfg = config or AVModelConfig()
        self.config = cfg
        self.image = ResNetTrunk(in_channels=3, width=cfg.image_width, blocks=cfg.image_blocks, stem_stride=cfg.image_stem_stride,
                                 padding_mode=cast(PaddingMode, cfg.image_padding))
        self.logmel = LogMel(fs=cfg.fs, nfft=cfg.nfft, hop=cfg.hop, in_channels=1, n_mels=cfg.n_mels)
        self.audio_norm = nn.BatchNorm2d(1)
        self.audio = ResNetTrunk(in_channels=1, width=cfg.audio_width, blocks=cfg.audio_blocks, stem_stride=2)
        self.visual_dropout = nn.Dropout(cfg.visual_dropout)
        c_img, c_aud, d = self.image.out_channels, self.audio.out_channels, cfg.embed_dim
        self.img_proj = nn.Conv2d(c_img, d, 1)
        self.aud_proj = nn.Linear(c_aud, d)
        self.img_proj_cor: nn.Module | None = nn.Conv2d(c_img, d, 1) if cfg.separate_projections else None
        self.aud_proj_cor: nn.Module | None = nn.Linear(c_aud, d) if cfg.separate_projections else None
        self.prior_image: ResNetTrunk | None = None
        if cfg.prior_encoder:
            self.prior_image = ResNetTrunk(in_channels=3, width=cfg.image_width, blocks=cfg.image_blocks,
                                           stem_stride=cfg.image_stem_stride).requires_grad_(False).eval()
        self.conf_scale = nn.Parameter(torch.tensor(10.0))
        self.conf_bias = nn.Parameter(torch.tensor(-5.0))
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _check(self, frame: torch.Tensor, audio: torch.Tensor) -> None:
        if frame.ndim != 4 or frame.shape[1] != 3:
            raise ValueError(f"frames must be (B, 3, H, W) RGB in [0, 1], got shape {tuple(frame.shape)}")
        if audio.ndim != 2 or audio.shape[0] != frame.shape[0]:
            raise ValueError(f"audio must be (B, N) mono with the frames' batch size {frame.shape[0]}, got shape {tuple(audio.shape)}")
        if audio.shape[1] < self.config.nfft:
            raise ValueError(f"audio clips need at least {self.config.nfft} samples, got {audio.shape[1]}")

    def train(self, mode: bool = True) -> AVLocalizer:
        """As ``nn.Module.train``; the frozen prior encoder always stays in eval mode."""
        super().train(mode)
        if self.prior_image is not None:
            self.prior_image.eval()
        return self

    def image_features(self, frame: torch.Tensor) -> torch.Tensor:
        """Image trunk output ``(B, C, h, w)`` (before dropout and projection)."""
        return self.image((frame - self.mean) / self.std)  # type: ignore[no-any-return]

    def audio_features(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio trunk output, max-pooled over time and frequency: ``(B, C)``."""
        x = self.audio_norm(self.logmel(audio[:, None, :]))
        return self.audio(x).amax(dim=(2, 3))  # type: ignore[no-any-return]

    def forward(self, frame: torch.Tensor, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check(frame, audio)
        v = self.visual_dropout(self.image_features(frame))
        a = self.audio_features(audio)
        img_loc = F.normalize(self.img_proj(v), dim=1)
        aud_loc = F.normalize(self.aud_proj(a), dim=1)
        out = {"img_loc": img_loc, "aud_loc": aud_loc, "img_cor": img_loc, "aud_cor": aud_loc}
        if self.img_proj_cor is not None and self.aud_proj_cor is not None:
            out["img_cor"] = F.normalize(self.img_proj_cor(v), dim=1)
            out["aud_cor"] = F.normalize(self.aud_proj_cor(a), dim=1)
        out["sim"] = torch.einsum("bdyx,bd->byx", img_loc, aud_loc)
        return out

    def confidence_logits(self, sim: torch.Tensor) -> torch.Tensor:
        """Sounding-object logits ``a * max_{y,x} sim + b`` of similarity maps ``(B, h, w)`` -> ``(B,)``."""
        return self.conf_scale * sim.flatten(1).amax(dim=1) + self.conf_bias

    @torch.no_grad()
    def object_map(self, frame: torch.Tensor) -> torch.Tensor:
        """Object map ``(B, H, W)``: channel mean of the prior encoder's (or, without one, the image trunk's)
        feature map, upsampled (bilinear) to the frame. Class-agnostic; it does not depend on the sound."""
        x = (frame - self.mean) / self.std
        feats = self.prior_image(x) if self.prior_image is not None else self.image(x)
        return F.interpolate(feats.mean(1, keepdim=True), size=frame.shape[-2:], mode="bilinear", align_corners=False)[:, 0]

    @torch.no_grad()
    def localize(self, frame: torch.Tensor, audio: torch.Tensor, *,
                 object_prior: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(heatmap, confidence)``: ``(B, H, W)`` and the sounding-object confidence ``(B,)`` in (0, 1).

        Without an object prior (``object_prior`` 0, default ``config.object_prior``) the heatmap is the cosine
        similarity upsampled to the frame, in [-1, 1]; with weight ``w > 0`` it is
        ``(1 - w) * minmax(similarity) + w * minmax(object map)``, in [0, 1] (min-max per sample). Uses the
        current mode (call ``.eval()`` first)."""
        w = self.config.object_prior if object_prior is None else float(object_prior)
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"object_prior must be a weight in [0, 1], got {object_prior!r}")
        sim = self(frame, audio)["sim"]
        heat = F.interpolate(sim[:, None], size=frame.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        if w > 0:
            heat = (1 - w) * _minmax(heat) + w * _minmax(self.object_map(frame))
        return heat, torch.sigmoid(self.confidence_logits(sim))


def _minmax(x: torch.Tensor) -> torch.Tensor:
    """Min-max normalise each map of ``(B, H, W)`` to [0, 1] (a constant map becomes 0)."""
    flat = x.flatten(1)
    lo, hi = flat.amin(1, keepdim=True), flat.amax(1, keepdim=True)
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(x)


def load_prior_weights(model: AVLocalizer, path: str | os.PathLike[str]) -> None:
    """Load the frozen object-prior encoder (``config.prior_encoder=True``) from a local safetensors file, with
    the checks of :func:`load_image_weights`."""
    if model.prior_image is None:
        raise ValueError("the model has no prior encoder (build it with prior_encoder=True)")
    _load_trunk(model.prior_image, model.config, path)


def load_image_weights(model: AVLocalizer, path: str | os.PathLike[str]) -> None:
    """Start the image encoder from a local safetensors file (a trunk state dict; ``fc.*`` tensors of a
    classifier are ignored). ``ValueError`` (one line, naming the file) if it is unreadable, misses a tensor,
    has extra ones, or one of another shape: use matching ``image_width`` / ``image_blocks``."""
    _load_trunk(model.image, model.config, path)


def _load_trunk(trunk: nn.Module, config: AVModelConfig, path: str | os.PathLike[str]) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"image weights '{p}' do not exist")
    try:
        state = {k: v for k, v in load_file(str(p)).items() if not k.startswith("fc.")}
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise ValueError(f"image weights '{p}' are not a readable safetensors file ({str(e).splitlines()[0]})") from None
    expected = trunk.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        what = f"missing tensor '{missing[0]}'" if missing else f"unexpected tensor '{extra[0]}'"
        raise ValueError(f"image weights '{p}': {what}; they do not fit image_width={config.image_width}, "
                         f"image_blocks={config.image_blocks}")
    for k, v in expected.items():
        if state[k].shape != v.shape:
            raise ValueError(f"image weights '{p}': tensor '{k}' is {tuple(state[k].shape)}, the encoder needs {tuple(v.shape)}")
    trunk.load_state_dict({k: state[k].to(v.dtype) for k, v in expected.items()})


def save_av_model(model: AVLocalizer, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``<path>.safetensors`` + ``<path>.json`` (the config and the weights' SHA-256); returns both paths."""
    return save_checked(model.state_dict(), path, fmt=AV_MODEL_FORMAT, fields={"config": model.config.to_dict()})


def load_av_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> AVLocalizer:
    """The model saved by :func:`save_av_model` at ``path`` (stem, ``.json`` or ``.safetensors``), in eval mode.
    Refuses, with a one-line ``ValueError`` naming the file, everything :func:`soundloc.models.load_model` refuses
    (bad JSON or config, missing / extra / reshaped tensors, weights modified after saving)."""
    doc, weights, config = read_checked_doc(path, fmt=AV_MODEL_FORMAT, allowed=("config",), what="AV model config")
    try:
        model = AVLocalizer(config=AVModelConfig.from_dict(doc.get("config")))
    except ValueError as e:
        raise ValueError(f"AV model config '{config}': {e}") from None
    state = load_checked_tensors(weights, config, doc["weights"]["sha256"], model.state_dict())
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def center_prior(height: int, width: int, *, sigma: float = 0.25) -> torch.Tensor:
    """The "centre prior" baseline: an isotropic Gaussian at the frame centre, ``(height, width)``, with standard
    deviation ``sigma`` times the shorter side."""
    if height < 1 or width < 1 or not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"center_prior needs positive sizes and sigma, got {height}x{width}, sigma={sigma}")
    y = torch.arange(height, dtype=torch.float32) + 0.5 - height / 2
    x = torch.arange(width, dtype=torch.float32) + 0.5 - width / 2
    s = sigma * min(height, width)
    return torch.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * s * s))


__all__ = ["AV_MODEL_FORMAT", "PADDING_MODES", "AVLocalizer", "AVModelConfig", "BasicBlock", "ResNetTrunk", "center_prior", "load_av_model",
           "load_image_weights", "load_prior_weights", "save_av_model"]
