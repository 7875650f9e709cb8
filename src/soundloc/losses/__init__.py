"""Training losses of the SELD outputs, one per file, and the registry (:func:`get_loss`).

* ``accdoa``: :class:`~soundloc.losses.accdoa.AccdoaLoss` (MSE of ACCDOA vectors);
* ``adpit``: :class:`~soundloc.losses.adpit.AdpitLoss` (multi-ACCDOA / multi-ACCDDOA, 3 tracks),
  with :func:`~soundloc.losses.adpit.adpit_targets` building its target tensor;
* ``sed``, ``doa``, ``sed-doa``: event classification (BCE on logits), masked DOA MSE and their sum
  (:mod:`soundloc.losses.sed_doa`).

Every loss is an ``nn.Module`` called as ``loss(output, target) -> scalar``; each head of
:mod:`soundloc.models.heads` names its loss (``head.loss_name``) and builds its target (``head.target``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from soundloc.losses.accdoa import AccdoaLoss
from soundloc.losses.adpit import ADPIT_ROWS, AdpitLoss, adpit_targets
from soundloc.losses.sed_doa import DoaLoss, SedDoaLoss, SedLoss

LOSSES: dict[str, type[nn.Module]] = {
    "accdoa": AccdoaLoss,
    "adpit": AdpitLoss,
    "sed": SedLoss,
    "doa": DoaLoss,
    "sed-doa": SedDoaLoss,
}
"""Registry: loss name -> class."""


def get_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build loss ``name`` (see :data:`LOSSES`) with keyword arguments; ``ValueError`` listing the choices."""
    key = str(name).lower().replace("_", "-")
    if key not in LOSSES:
        raise ValueError(f"unknown loss '{name}'; choose from {', '.join(LOSSES)}")
    return LOSSES[key](**kwargs)


__all__ = ["ADPIT_ROWS", "LOSSES", "AccdoaLoss", "AdpitLoss", "DoaLoss", "SedDoaLoss", "SedLoss", "adpit_targets", "get_loss"]
