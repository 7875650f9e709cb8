"""Training losses of the SELD outputs, one per file, and the registry (:func:`get_loss`).

* ``accdoa``: :class:`~soundloc.losses.accdoa.AccdoaLoss` (MSE of ACCDOA vectors);
* ``adpit``: :class:`~soundloc.losses.adpit.AdpitLoss` (multi-ACCDOA / multi-ACCDDOA, 3 tracks),
  with :func:`~soundloc.losses.adpit.adpit_targets` building its target tensor;
* ``sed``, ``doa``, ``sed-doa``: event classification (BCE on logits), masked DOA MSE and their sum
  (:mod:`soundloc.losses.sed_doa`);
* ``ntxent``: :class:`~soundloc.losses.ntxent.NTXentLoss`, the contrastive loss of SimCLR / MC-SimCLR
  (called as ``loss(z1, z2)`` on the two views' embeddings).

Every loss is an ``nn.Module`` called as ``loss(output, target) -> scalar``; each head of
:mod:`soundloc.models.heads` names its loss (``head.loss_name``) and builds its target (``head.target``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from soundloc.losses.accdoa import AccdoaLoss
from soundloc.losses.adpit import ADPIT_ROWS, AdpitLoss, adpit_targets
from soundloc.losses.av_contrastive import EZVSLLoss, FNACLoss, SLAVCLoss
from soundloc.losses.ntxent import NTXentLoss
from soundloc.losses.sed_doa import DoaLoss, SedDoaLoss, SedLoss

LOSSES: dict[str, type[nn.Module]] = {
    "accdoa": AccdoaLoss,
    "adpit": AdpitLoss,
    "sed": SedLoss,
    "doa": DoaLoss,
    "sed-doa": SedDoaLoss,
    "ntxent": NTXentLoss,
    "ezvsl": EZVSLLoss, "slavc": SLAVCLoss, "fnac": FNACLoss,  # audio-visual (soundloc.losses.av_contrastive)
}
"""Registry: loss name -> class."""


def get_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build loss ``name`` (see :data:`LOSSES`; case, ``-`` and ``_`` are ignored: ``NT-Xent`` = ``ntxent``)
    with keyword arguments; ``ValueError`` listing the choices."""
    squash = {k.replace("-", ""): k for k in LOSSES}
    key = squash.get(str(name).lower().replace("_", "").replace("-", ""))
    if key is None:
        raise ValueError(f"unknown loss '{name}'; choose from {', '.join(LOSSES)}")
    return LOSSES[key](**kwargs)


__all__ = ["ADPIT_ROWS", "LOSSES", "AccdoaLoss", "AdpitLoss", "DoaLoss", "EZVSLLoss", "FNACLoss", "SLAVCLoss",
           "NTXentLoss", "SedDoaLoss", "SedLoss", "adpit_targets", "get_loss"]
