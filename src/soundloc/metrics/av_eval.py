"""Score audio-visual localizers on a split held in memory (:class:`soundloc.av.train.AVTensors`).

A *predictor* maps ``(frames (B, 3, H, W) in [0, 1], audio (B, N))`` to ``(heatmaps (B, H, W),
confidence (B,))``. :func:`model_predictor` wraps a trained :class:`~soundloc.av.models.AVLocalizer`;
:func:`center_predictor` is the centre-prior floor (the same centred Gaussian for every sample, the
same confidence for every sample). :func:`evaluate_av` runs a predictor over the split in batches and
scores it with :class:`~soundloc.metrics.av.AVLocalizationEvaluator` against the ground-truth maps of
the boxes under the split's ``box_format`` (Flickr-SoundNet: the annotators' soft consensus; VGG-SS and the
built-in benchmark: binary union of the boxes; no box = no sounding object on screen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import NDArray

from soundloc.av.models import AVLocalizer, center_prior
from soundloc.av.train import AVTensors
from soundloc.metrics.av import AVLocalizationEvaluator, AVLocalizationResult, gt_maps_from_boxes

Predictor = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def model_predictor(model: AVLocalizer, *, object_prior: float | None = None) -> Predictor:
    """``(heatmap, confidence)`` of ``model`` in eval mode (the model is put in eval mode); ``object_prior`` the
    weight of the object map (:meth:`~soundloc.av.models.AVLocalizer.localize`; default: the model's own).
    Inputs move to the model's device, outputs come back on the CPU."""
    model.eval()

    def predict(frames: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dev = next(model.parameters()).device
        heat, conf = model.localize(frames.to(dev), audio.to(dev), object_prior=object_prior)
        return heat.cpu(), conf.cpu()

    return predict


def center_predictor(*, sigma: float = 0.25) -> Predictor:
    """The centre-prior baseline: a centred Gaussian (``sigma`` times the shorter side) and confidence 1 everywhere."""

    def predict(frames: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = frames.shape
        return center_prior(h, w, sigma=sigma).expand(b, h, w), torch.ones(b)

    return predict


def gt_maps(data: AVTensors, idx: Sequence[int]) -> NDArray[np.float32]:
    """Ground-truth maps ``(len(idx), H, W)`` of samples ``idx`` (``data.box_format``'s rule: Flickr soft consensus,
    or the binary union of the boxes)."""
    h, w = data.frames.shape[-2:]
    return gt_maps_from_boxes([data.boxes[i] for i in idx], data.box_format, size=(int(h), int(w)))


def evaluate_av(predict: Predictor, data: AVTensors, *, batch_size: int = 64,
                threshold: float | str = "median") -> AVLocalizationResult:
    """Per-sample cIoU, cIoU@0.5, AUC, and AP / max-F1 with the negatives of ``data``. ``threshold``: ``"median"``
    (EZ-VSL: the top half of each map is the prediction, so an object smaller than half the frame caps cIoU at
    its area over half the frame) or a fixed threshold in [0, 1] on the min-max normalised map."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not data.annotated:
        raise ValueError("these data have no boxes (unlabelled training clips); evaluate on annotated data "
                         "(Flickr-SoundNet, VGG-SS or the built-in benchmark)")
    ev = AVLocalizationEvaluator(threshold=threshold)  # type: ignore[arg-type]
    for s in range(0, len(data), batch_size):
        idx = list(range(s, min(s + batch_size, len(data))))
        with torch.no_grad():
            heat, conf = predict(*data.batch(idx))
        ev.update(heat.detach().cpu().numpy(), gt_maps(data, idx), conf.detach().cpu().numpy())
    return ev.result()


__all__ = ["Predictor", "center_predictor", "evaluate_av", "gt_maps", "model_predictor"]
