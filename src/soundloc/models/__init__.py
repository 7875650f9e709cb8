"""Learned SELD models: encoders, output heads, the composed model and its save/load.

* encoders (:data:`MODELS`, :func:`get_model`): :class:`~soundloc.models.crnn.CRNN` (the DCASE2024
  baseline's SELDnet-style CRNN) and :class:`~soundloc.models.resnet_conformer.ResNetConformer`;
  features ``(B, C, T, F)`` -> label-rate embeddings ``(B, T_label, D)`` (100 ms frames; time
  pooling and its remainder policy in :mod:`~soundloc.models.timing`);
* heads (:data:`HEADS`, :func:`get_head`): ``sed``, ``doa``, ``sed-doa``, ``accdoa``,
  ``multi-accdoa``, ``multi-accddoa`` with targets, losses and decoding to DCASE label rows
  (:mod:`~soundloc.models.heads`, :mod:`~soundloc.models.decode`);
* :class:`SeldModel`, :class:`SeldConfig`, :class:`InputSpec`, :func:`build_model`
  (:mod:`~soundloc.models.seld`); :func:`save_model` / :func:`load_model` (safetensors + JSON,
  :mod:`~soundloc.models.io`); :func:`inference_model`, the faster inference form of a model
  (BatchNorm folded into the convolutions, :mod:`~soundloc.models.inference`).
"""

from __future__ import annotations

from soundloc.models.base import Encoder
from soundloc.models.crnn import CRNN
from soundloc.models.heads import HEADS, Head, get_head
from soundloc.models.inference import inference_model
from soundloc.models.io import load_model, model_paths, save_model
from soundloc.models.registry import MODELS, get_model
from soundloc.models.resnet_conformer import ResNetConformer
from soundloc.models.seld import InputSpec, SeldConfig, SeldModel, build_model
from soundloc.models.timing import REMAINDERS, label_frames, time_pool_for

__all__ = [
    "CRNN",
    "HEADS",
    "MODELS",
    "REMAINDERS",
    "Encoder",
    "Head",
    "InputSpec",
    "ResNetConformer",
    "SeldConfig",
    "SeldModel",
    "build_model",
    "get_head",
    "get_model",
    "inference_model",
    "label_frames",
    "load_model",
    "model_paths",
    "save_model",
    "time_pool_for",
]
