"""Predictions of a trained model on a dataset split, as DCASE label rows per file.

Each file is cut into windows of ``window_seconds`` (the last one zero-padded), features are
computed on the device, the model's head decodes each window with its frame offset, and the rows
of a file are concatenated (rows in the padding beyond the file's end are dropped). The model
first checks that the data's array / format, rate and channel count are what it was trained for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from soundloc.data.dataset import SeldDataset
from soundloc.dataformat import LABEL_HOP_S, DcaseLabels, num_label_frames, write_dcase_csv
from soundloc.models import SeldModel, inference_model
from soundloc.models.decode import concat_labels


@dataclass(frozen=True)
class FilePrediction:
    """Predicted rows of one file: ``name`` (the label file name), ``reference`` (its label CSV path), ``labels``."""

    name: str
    reference: Path
    labels: DcaseLabels


@torch.no_grad()
def predict_split(model: SeldModel, root: str | os.PathLike[str], split: str | None, *, window_seconds: float = 5.0,
                  batch_size: int = 8, device: str | torch.device = "cpu", threshold: float = 0.5) -> list[FilePrediction]:
    """Decode ``model`` on every file of ``split`` of the dataset folder ``root`` (see the module docstring).

    Raises:
        ValueError: a model without an input spec, data from another array / rate / channel count.
    """
    spec = model.config.input if model.config is not None else None
    if spec is None:
        raise ValueError("the model has no input spec (array, rate, features); train it with soundloc train")
    ds = SeldDataset(Path(root), split, clip_seconds=window_seconds, max_tracks=3, class_names=spec.class_names)
    spec.check_input(ds.array, ds.fs, ds.num_channels)
    dev = torch.device(device)
    model = model.to(dev).eval()
    net = inference_model(model, channels_last=dev.type == "cpu")  # same outputs, faster
    features = spec.feature_module().to(dev)
    parts: dict[int, list[DcaseLabels]] = {}
    index = 0
    for x, _ in DataLoader(ds, batch_size=batch_size, shuffle=False, generator=torch.Generator()):  # global RNG untouched
        out = net(features(x.to(dev)))
        for b in range(out.shape[0]):
            info = ds.item_info(index)
            offset = int(round(info["start"] / LABEL_HOP_S))
            (labels,) = model.decode(out[b:b + 1], threshold=threshold, frame_offset=offset)
            parts.setdefault(info["file"], []).append(labels)
            index += 1
    result = []
    for i, entry in enumerate(ds.entries):
        frames = num_label_frames(ds.file_seconds(i))
        lab = concat_labels(parts.get(i, []))
        lab = lab.select(np.asarray(lab.frame) < frames)
        result.append(FilePrediction(name=entry.labels.name, reference=entry.labels, labels=lab))
    return result


def write_predictions(predictions: list[FilePrediction], out: str | os.PathLike[str]) -> list[Path]:
    """Write each file's rows as a DCASE CSV ``out/<name>`` (atomically; distances in cm); returns the paths."""
    paths = []
    for p in predictions:
        path = Path(out) / p.name
        write_dcase_csv(path, p.labels)
        paths.append(path)
    return paths
