"""Self-supervised spatial representations: MC-SimCLR pretraining, probing and fine-tuning.

* :mod:`~soundloc.ssl.config`: :class:`PretrainConfig` (frozen, JSON-able), the augmentation names
  ``cs, mu, rrc, cd`` (:func:`parse_augment`);
* :mod:`~soundloc.ssl.views`: :class:`ViewMaker`, two augmented feature views of each clip;
* :mod:`~soundloc.ssl.model`: :class:`SpatialEncoder` (a registry encoder pooled over time to a
  clip embedding), :class:`EncoderConfig`, :func:`save_encoder` / :func:`load_encoder` (safetensors
  + JSON), :func:`random_encoder`;
* :mod:`~soundloc.ssl.objectives`: pretext objectives (:data:`OBJECTIVES`: ``ntxent``) with their
  projection heads;
* :mod:`~soundloc.ssl.data`: unlabelled windows of recordings (dataset folders or plain folders);
* :mod:`~soundloc.ssl.pretrain` / :mod:`~soundloc.ssl.job`: the pretraining loop (exact resume,
  DDP, bf16 on CUDA) and a whole run;
* :mod:`~soundloc.ssl.probe`: linear probe, fine-tune, subset fine-tune and from-scratch
  protocols with class accuracy and azimuth errors; :mod:`~soundloc.ssl.embed`: embeddings of files.

See ``docs/ssl.md``.
"""

from __future__ import annotations

from soundloc.ssl.config import AUGMENT_NAMES, PretrainConfig, parse_augment
from soundloc.ssl.model import (
    EncoderConfig,
    SpatialEncoder,
    build_encoder,
    fit_normalizer,
    load_encoder,
    random_encoder,
    save_encoder,
)
from soundloc.ssl.objectives import OBJECTIVES, get_objective
from soundloc.ssl.views import TimeCrop, ViewMaker

__all__ = [
    "AUGMENT_NAMES",
    "OBJECTIVES",
    "EncoderConfig",
    "PretrainConfig",
    "SpatialEncoder",
    "TimeCrop",
    "ViewMaker",
    "build_encoder",
    "fit_normalizer",
    "get_objective",
    "load_encoder",
    "parse_augment",
    "random_encoder",
    "save_encoder",
]
