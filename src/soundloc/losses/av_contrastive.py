"""Audio-visual contrastive losses of visual sound source localization: EZ-VSL, SLAVC, FNAC.

Inputs are L2-normalised embeddings (the model normalises them): a visual feature map
``img`` ``(B, D, h, w)`` (one ``D``-vector per image location) and an audio vector ``aud`` ``(B, D)``;
row ``i`` of both comes from the same clip. The audio-visual similarity of image ``i`` and sound
``j`` at location ``(y, x)`` is ``S[i, j, y, x] = <img[i, :, y, x], aud[j]> / tau``.

* **EZ-VSL** (Mo & Morgado, ECCV 2022), :class:`EZVSLLoss`: multiple-instance contrastive learning.
  A pair's logit is its best location, ``L[i, j] = max_{y,x} S[i, j, y, x]``; the loss is the
  cross-entropy of matching each image to its sound over the batch plus that of each sound to its
  image (rows and columns of ``L``), **summed** as in the official code, temperature 0.03.
  Closed forms: if every embedding points the same way the loss is ``2 log B``; if the maps are
  constant over locations and ``img[i] = aud[i]`` are orthonormal it is
  ``2 log(1 + (B - 1) exp(-1 / tau))``.
* **SLAVC** (Mo & Morgado, NeurIPS 2022), :class:`SLAVCLoss`: separate projections for localization
  (``img_loc``, ``aud_loc``: the EZ-VSL loss) and for audio-visual correspondence (``img_cor`` average
  pooled over locations, ``aud_cor``: a symmetric InfoNCE of the pooled vectors); with momentum
  target encoders (:class:`soundloc.av.ema.EMA`) each online embedding is contrasted with the other
  modality's target embedding (gradients flow only through the online side), averaged over the two
  directions. Visual dropout is part of the model (:class:`soundloc.av.models.AVLocalizer`).
* **FNAC** (Sun et al., CVPR 2023), :class:`FNACLoss`: the EZ-VSL loss plus three false-negative-aware
  regularisers. Samples whose sounds (or images) are alike are likely false negatives of each other,
  so the softmax rows of the cross-modal logits ``L`` are pulled towards those of the intra-modal
  similarities: ``|softmax(A) - softmax(L)|`` with ``A = aud aud^T / tau`` (FNS, audio),
  ``|softmax(V) - softmax(L)|`` with ``V`` from the average-pooled image vectors (FNS, image), and
  ``|softmax(A) - softmax(F)|`` with ``F`` from foreground image vectors (locations whose min-max
  normalised own-sound map exceeds ``high_conf_threshold``; true-positive enhancement). Each term is
  a mean absolute difference weighted by ``weights`` (our defaults; the papers tune them per dataset).

Our own implementation from the papers' descriptions; every loss returns a scalar and is invariant to
the order of the batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

EZVSL_TEMPERATURE = 0.03
"""The temperature of EZ-VSL, SLAVC and FNAC."""


def _check_tau(temperature: float) -> float:
    t = float(temperature)
    if not (math.isfinite(t) and t > 0.0):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    return t


def _check_pair(img: torch.Tensor, aud: torch.Tensor, what: str = "img, aud") -> None:
    if img.ndim != 4 or aud.ndim != 2 or img.shape[0] != aud.shape[0] or img.shape[1] != aud.shape[1]:
        raise ValueError(f"{what}: expected (B, D, h, w) and (B, D) with equal B and D, got {tuple(img.shape)} and {tuple(aud.shape)}")
    if img.shape[0] < 1:
        raise ValueError("an audio-visual loss needs a batch of at least one pair")


def similarity_maps(img: torch.Tensor, aud: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``S[i, j, y, x] = <img[i, :, y, x], aud[j]> / temperature``: ``(B, D, h, w)``, ``(B', D)`` -> ``(B, B', h, w)``."""
    return torch.einsum("idyx,jd->ijyx", img, aud) / temperature


def mil_logits(img: torch.Tensor, aud: torch.Tensor, temperature: float) -> torch.Tensor:
    """Multiple-instance logits ``L[i, j] = max_{y,x} S[i, j, y, x]``: ``(B, B)``."""
    return similarity_maps(img, aud, temperature).flatten(2).amax(dim=2)


def _symmetric_ce(logits: torch.Tensor) -> torch.Tensor:
    target = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)


class EZVSLLoss(nn.Module):
    """EZ-VSL's multiple-instance contrastive loss (see the module docstring).

    Args:
        temperature: ``tau > 0`` (default 0.03).

    ``forward(img, aud)``: ``img`` ``(B, D, h, w)``, ``aud`` ``(B, D)``, both L2-normalised along ``D``;
    returns a scalar (image-to-sound plus sound-to-image cross-entropy, each a mean over the batch).

    Example:
        >>> loss = EZVSLLoss()
        >>> img, aud = torch.ones(4, 2, 3, 3) / 2 ** 0.5, torch.ones(4, 2) / 2 ** 0.5
        >>> round(float(loss(img, aud)), 5) == round(2 * math.log(4), 5)   # all alike: 2 log B
        True
    """

    def __init__(self, *, temperature: float = EZVSL_TEMPERATURE) -> None:
        super().__init__()
        self.temperature = _check_tau(temperature)

    def forward(self, img: torch.Tensor, aud: torch.Tensor) -> torch.Tensor:
        _check_pair(img, aud)
        return _symmetric_ce(mil_logits(img, aud, self.temperature))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


def _pool(img: torch.Tensor) -> torch.Tensor:
    return F.normalize(img.mean(dim=(2, 3)), dim=1)


class SLAVCLoss(nn.Module):
    """SLAVC's localization + correspondence loss (see the module docstring).

    Args:
        temperature: ``tau > 0`` of both terms (default 0.03).
        correspondence_weight: weight of the correspondence (InfoNCE) term, ``>= 0`` (default 1).

    ``forward(img_loc, aud_loc, img_cor, aud_cor, *, targets=None)``: online embeddings ``(B, D, h, w)``,
    ``(B, D)``, ``(B, D, h, w)``, ``(B, D)`` (L2-normalised); ``targets`` the same four from the momentum
    target encoders (detached here) or None (then online and target are the same, and the loss is the
    EZ-VSL loss of the localization pair plus the weighted symmetric InfoNCE of the correspondence pair).
    Returns a scalar.
    """

    def __init__(self, *, temperature: float = EZVSL_TEMPERATURE, correspondence_weight: float = 1.0) -> None:
        super().__init__()
        self.temperature = _check_tau(temperature)
        w = float(correspondence_weight)
        if not (math.isfinite(w) and w >= 0.0):
            raise ValueError(f"correspondence_weight must be a finite number >= 0, got {correspondence_weight}")
        self.correspondence_weight = w

    def forward(self, img_loc: torch.Tensor, aud_loc: torch.Tensor, img_cor: torch.Tensor, aud_cor: torch.Tensor, *,
                targets: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        _check_pair(img_loc, aud_loc, "img_loc, aud_loc")
        _check_pair(img_cor, aud_cor, "img_cor, aud_cor")
        tau = self.temperature
        v_cor, a_cor = _pool(img_cor), aud_cor
        if targets is None:
            loc = _symmetric_ce(mil_logits(img_loc, aud_loc, tau))
            cor = _symmetric_ce(v_cor @ a_cor.T / tau)
        else:
            ti, ta, tci, tca = (t.detach() for t in targets)
            _check_pair(ti, ta, "target img_loc, aud_loc")
            _check_pair(tci, tca, "target img_cor, aud_cor")
            loc = 0.5 * (_symmetric_ce(mil_logits(img_loc, ta, tau)) + _symmetric_ce(mil_logits(ti, aud_loc, tau)))
            cor = 0.5 * (_symmetric_ce(v_cor @ tca.T / tau) + _symmetric_ce(_pool(tci) @ a_cor.T / tau))
        out: torch.Tensor = loc + self.correspondence_weight * cor
        return out

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, correspondence_weight={self.correspondence_weight}"


class FNACLoss(nn.Module):
    """FNAC: EZ-VSL plus false-negative-aware regularisers (see the module docstring).

    Args:
        temperature: ``tau > 0`` (default 0.03).
        weights: ``(audio FNS, image FNS, true-positive enhancement)`` weights, each ``>= 0`` (default 10 each).
        high_conf_threshold: foreground threshold in (0, 1) on the min-max normalised own-sound map (default 0.6).

    ``forward(img, aud)`` as :class:`EZVSLLoss`; returns a scalar.
    """

    def __init__(self, *, temperature: float = EZVSL_TEMPERATURE, weights: tuple[float, float, float] = (10.0, 10.0, 10.0),
                 high_conf_threshold: float = 0.6) -> None:
        super().__init__()
        self.temperature = _check_tau(temperature)
        w = tuple(float(x) for x in weights)
        if len(w) != 3 or not all(math.isfinite(x) and x >= 0.0 for x in w):
            raise ValueError(f"weights must be three finite numbers >= 0, got {weights}")
        if not 0.0 < float(high_conf_threshold) < 1.0:
            raise ValueError(f"high_conf_threshold must be in (0, 1), got {high_conf_threshold}")
        self.weights = w
        self.high_conf_threshold = float(high_conf_threshold)

    def regularisers(self, img: torch.Tensor, aud: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The three unweighted regularisers (audio FNS, image FNS, true-positive enhancement), scalars."""
        _check_pair(img, aud)
        s = similarity_maps(img, aud, self.temperature)
        return self._regularisers(img, aud, s, s.flatten(2).amax(dim=2))

    def _regularisers(self, img: torch.Tensor, aud: torch.Tensor, s: torch.Tensor,
                      logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`regularisers` from the similarity maps ``s (B, B, h, w)`` and their MIL logits."""
        tau, b = self.temperature, img.shape[0]
        a_attn = aud @ aud.T / tau
        v = img.mean(dim=(2, 3))
        v_attn = v @ v.T / tau
        own = s[torch.arange(b), torch.arange(b)]  # (B, h, w)
        lo, hi = own.amin(dim=(1, 2), keepdim=True), own.amax(dim=(1, 2), keepdim=True)
        fg = ((own - lo) / (hi - lo + 1e-5) > self.high_conf_threshold).to(img.dtype)
        f = (img * fg[:, None]).flatten(2).mean(dim=2)
        f_attn = f @ f.T / tau
        sa, sl = a_attn.softmax(dim=1), logits.softmax(dim=1)
        return (F.l1_loss(sa, sl), F.l1_loss(v_attn.softmax(dim=1), sl), F.l1_loss(sa, f_attn.softmax(dim=1)))

    def forward(self, img: torch.Tensor, aud: torch.Tensor) -> torch.Tensor:
        _check_pair(img, aud)
        s = similarity_maps(img, aud, self.temperature)  # the largest tensor of the loss: computed once
        logits = s.flatten(2).amax(dim=2)
        base = _symmetric_ce(logits)
        r = self._regularisers(img, aud, s, logits)
        out: torch.Tensor = base + sum((w * x for w, x in zip(self.weights, r)), torch.zeros((), device=img.device))
        return out

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, weights={self.weights}, high_conf_threshold={self.high_conf_threshold}"


__all__ = ["EZVSL_TEMPERATURE", "EZVSLLoss", "FNACLoss", "SLAVCLoss", "mil_logits", "similarity_maps"]
