"""Augmentations for training and contrastive pretraining: batched ``nn.Module``s.

Each one draws its randomness from its own seeded CPU generator (or one passed to ``forward``),
can be switched off for ablations (``p=0`` or ``enabled=False``: ``forward`` returns its input),
and splits into ``sample(...)`` (draw the parameters) and ``transform(x, params)`` so that the same
draw can be reused, e.g. on both views of a pair.

* :class:`ChannelSwap`: array symmetries on waveforms ``(B, M, N)``, feature stacks
  ``(B, C, T, F)`` and DOA labels ``(B, ..., 3)`` (tetra MIC, FOA, circular4, any array);
* :class:`SpecAugment`: time / frequency masks, the same on every channel of a clip;
* :class:`Mixup`: waveform mixing with another clip at a small weight (labels stay the anchor's);
* :class:`ClipMix`: SELD clip mixing, the sum of two clips with the union of their labels;
* :class:`RandomResizedCrop`: the same crop of all channels of a ``(T, F)`` map, resized back;
* :class:`ChannelDrop`: zero whole channels.

Example:
    >>> from soundloc.augment import get_augmentation
    >>> from soundloc.geometry import MicArray
    >>> cs = get_augmentation("cs", array=MicArray.preset("circular4"), seed=0)
"""

from __future__ import annotations

from typing import Any

from soundloc.augment.base import Augmentation
from soundloc.augment.channel_drop import ChannelDrop
from soundloc.augment.channel_swap import (
    ChannelSwap,
    Symmetry,
    array_symmetries,
    foa_symmetries,
    symmetries_for,
)
from soundloc.augment.clip_mix import ClipMix, ClipMixParams, merge_targets
from soundloc.augment.mixup import Mixup
from soundloc.augment.resized_crop import RandomResizedCrop
from soundloc.augment.spec_augment import SpecAugment

AUGMENTATIONS: dict[str, type[Augmentation]] = {
    "channel-swap": ChannelSwap,
    "spec-augment": SpecAugment,
    "mixup": Mixup,
    "resized-crop": RandomResizedCrop,
    "channel-drop": ChannelDrop,
    "clip-mix": ClipMix,
}
"""Registry: augmentation name -> class."""

ALIASES: dict[str, str] = {"cs": "channel-swap", "sa": "spec-augment", "mu": "mixup", "rrc": "resized-crop", "cd": "channel-drop",
                           "cm": "clip-mix"}
"""Short names (MC-SimCLR's ``cs, mu, rrc, cd``) -> registry names."""


def get_augmentation(name: str, **kwargs: Any) -> Augmentation:
    """Build augmentation ``name`` (a registry name or alias, case-insensitive) with ``kwargs``.

    ``channel-swap`` needs ``array=`` (a ``MicArray`` or ``FoaFormat``).

    Raises:
        ValueError: unknown name (the message lists the choices).
    """
    key = str(name).lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation '{name}'; choose from {', '.join([*AUGMENTATIONS, *ALIASES])}")
    cls = AUGMENTATIONS[key]
    if cls is ChannelSwap:
        if "array" not in kwargs:
            raise ValueError("augmentation 'channel-swap' needs array=<MicArray or FoaFormat>")
        array = kwargs.pop("array")
        return ChannelSwap(array, **kwargs)
    return cls(**kwargs)


__all__ = [
    "ALIASES",
    "AUGMENTATIONS",
    "Augmentation",
    "ChannelDrop",
    "ChannelSwap",
    "ClipMix",
    "ClipMixParams",
    "Mixup",
    "RandomResizedCrop",
    "SpecAugment",
    "Symmetry",
    "array_symmetries",
    "foa_symmetries",
    "get_augmentation",
    "merge_targets",
    "symmetries_for",
]
