"""evaluate_av end to end: a map that is exactly the box scores cIoU 1 through the model's upsampling path, the
transposed map does not; the centre prior equals a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soundloc.av.models import AVLocalizer, AVModelConfig, center_prior
from soundloc.av.train import AVTensors
from soundloc.metrics.av_eval import center_predictor, evaluate_av, model_predictor

TINY = AVModelConfig(embed_dim=8, image_width=4, image_blocks=(1, 1), image_stem_stride=2, audio_width=4, audio_blocks=(1, 1))
# [xmin, ymin, xmax, ymax] on the 8-pixel grid of a 64-pixel frame, none symmetric under x <-> y
BOXES = [(8, 16, 40, 32), (40, 0, 64, 24), (0, 48, 16, 64), (24, 8, 32, 56)]


def _data(transpose: bool = False) -> AVTensors:
    """Black frames with the object's box painted white (painted transposed when asked); boxes as given."""
    frames = torch.zeros(len(BOXES), 3, 64, 64, dtype=torch.uint8)
    for i, (x0, y0, x1, y1) in enumerate(BOXES):
        if transpose:
            frames[i, :, x0:x1, y0:y1] = 255
        else:
            frames[i, :, y0:y1, x0:x1] = 255
    return AVTensors(frames, torch.zeros(len(BOXES), 1600), [np.array([b], dtype=np.int64) for b in BOXES],
                     ["single"] * len(BOXES))


class _BoxModel(AVLocalizer):
    """An AVLocalizer whose similarity map is the frame's brightness averaged over ``stride`` x ``stride`` cells (what
    a perfect encoder of that stride would say): everything after ``forward`` (upsampling to the frame, confidence)
    is the real model's."""

    def __init__(self, stride: int) -> None:
        super().__init__(config=TINY)
        self.stride = stride

    def forward(self, frame: torch.Tensor, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"sim": F.avg_pool2d(frame.mean(1, keepdim=True), self.stride)[:, 0]}


def _box_vs_transpose() -> list[float]:
    """cIoU of each box with its transpose, by hand: intersection / union of the two rectangles."""
    ref = []
    for x0, y0, x1, y1 in BOXES:
        ix = max(0, min(x1, y1) - max(x0, y0))
        iy = max(0, min(y1, x1) - max(y0, x0))
        inter, area = ix * iy, (x1 - x0) * (y1 - y0)
        ref.append(inter / (2 * area - inter))
    return ref


@pytest.mark.parametrize("batch_size", [1, 3])
def test_a_map_on_the_box_scores_ciou_one_and_a_transposed_map_does_not(batch_size: int) -> None:
    full = _BoxModel(stride=1)  # a full-resolution map: the upsampling is the identity
    res = evaluate_av(model_predictor(full), _data(), batch_size=batch_size, threshold=0.5)
    np.testing.assert_allclose(res.per_sample_ciou, 1.0)
    assert res.auc == pytest.approx(1.0) and res.ciou_ap50 == 1.0
    bad = evaluate_av(model_predictor(full), _data(transpose=True), batch_size=batch_size, threshold=0.5)
    ref = _box_vs_transpose()
    np.testing.assert_allclose(bad.per_sample_ciou, ref, atol=1e-9)
    assert max(ref) < 0.5
    # a stride-8 map, upsampled bilinearly by the model: only the box corners are rounded off
    coarse = _BoxModel(stride=8)
    res8 = evaluate_av(model_predictor(coarse), _data(), batch_size=batch_size, threshold=0.5)
    assert float(res8.per_sample_ciou.min()) > 0.94
    heat, _ = model_predictor(coarse)(*_data().batch(range(len(BOXES))))
    for h, (x0, y0, x1, y1) in zip(heat, BOXES):
        assert float(h[y0:y1, x0:x1].min()) >= 0.3 and float(h.max()) == float(h[y0:y1, x0:x1].max())
    bad8 = evaluate_av(model_predictor(coarse), _data(transpose=True), batch_size=batch_size, threshold=0.5)
    np.testing.assert_allclose(bad8.per_sample_ciou, ref, atol=0.06)


def test_center_predictor_is_the_centred_gaussian() -> None:
    heat, conf = center_predictor(sigma=0.25)(torch.zeros(2, 3, 10, 6), torch.zeros(2, 100))
    y, x = np.mgrid[0:10, 0:6] + 0.5
    ref = np.exp(-((y - 5) ** 2 + (x - 3) ** 2) / (2 * (0.25 * 6) ** 2))
    np.testing.assert_allclose(heat.numpy(), np.broadcast_to(ref, (2, 10, 6)), rtol=1e-6)
    assert torch.equal(conf, torch.ones(2)) and torch.equal(center_prior(10, 6), heat[0])
