"""The encoder registry (:data:`MODELS`, :func:`get_model`)."""

from __future__ import annotations

from typing import Any

from soundloc.models.base import Encoder
from soundloc.models.crnn import CRNN
from soundloc.models.resnet_conformer import ResNetConformer

MODELS: dict[str, type[Encoder]] = {"crnn": CRNN, "resnet-conformer": ResNetConformer}
"""Registry: encoder name -> class (features ``(B, C, T, F)`` -> embeddings ``(B, T_label, D)``)."""


def get_model(name: str, **kwargs: Any) -> Encoder:
    """Build encoder ``name`` (:data:`MODELS`) with keyword arguments; ``ValueError`` listing the choices."""
    key = str(name).lower().replace("_", "-")
    if key not in MODELS:
        raise ValueError(f"unknown model '{name}'; choose from {', '.join(MODELS)}")
    return MODELS[key](**kwargs)
