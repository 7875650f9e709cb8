"""Training data sources: deterministic crops, the on-the-fly simulated stream (= the dataset on disk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from soundloc.data import SeldDataset
from soundloc.scenes import get_preset
from soundloc.train import SimulatedBatches, SimulationSource, WindowSource


def _cat(batches: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([x for x, _ in batches]), torch.cat([t["doa"] for _, t in batches])


def test_window_source_order_is_a_function_of_seed_and_epoch(tiny_data: Path) -> None:
    src = WindowSource.from_folder(str(tiny_data), "train", clip_seconds=1.0, max_tracks=3, seed=0)
    # 3 files of 2 s at 0.1 s offsets: 11 crops each, of which 2 disjoint per file
    assert len(src.dataset) == 3 * 11 and src.crops_per_epoch == 6 and src.steps_per_epoch(2) == 3
    a, b = src.epoch_order(0, 2, 3), src.epoch_order(0, 2, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, src.epoch_order(1, 2, 3))
    # resuming at step 1 gives the batches 1.. of the full epoch; ranks split each global batch
    full = list(src.batches(0, batch_size=2, steps=3))
    tail = list(src.batches(0, batch_size=2, steps=3, start_step=1))
    r1 = list(src.batches(0, batch_size=2, steps=3, rank=1, world_size=2))
    assert torch.equal(_cat(full[1:])[0], _cat(tail)[0])
    assert torch.equal(torch.stack([x[1] for x, _ in full]), torch.stack([x[0] for x, _ in r1]))
    # a crop is the file's audio at its offset
    i = int(a[0, 0])
    info = src.dataset.item_info(i)
    whole = SeldDataset(str(tiny_data), "train")
    k = [e.audio for e in whole.entries].index(info["entry"].audio)
    s0 = int(round(info["start"] * whole.fs))
    assert np.allclose(src.dataset.read_waveform(i), whole.read_waveform(k)[:, s0:s0 + whole.fs], atol=0)


def test_simulated_stream_equals_dataset_on_disk(tiny_data: Path) -> None:
    cfg = get_preset("tiny").replace(num_clips=6)
    stream = SimulatedBatches(cfg, 0, batch_size=3, start=0, stop=1)
    (x, t), = list(stream)
    disk = SeldDataset(str(tiny_data), "train")  # the 3 training clips, whole files
    xd = torch.stack([disk[i][0] for i in range(3)])
    assert x.shape == xd.shape == (3, 4, 32000)
    assert torch.allclose(x, xd, atol=2e-6, rtol=0)  # FLAC stores 24-bit samples
    for key in ("activity", "doa", "distance"):
        assert torch.equal(t[key], torch.stack([disk[i][1][key] for i in range(3)])), key


def test_simulated_stream_with_spawned_workers_matches_one_process() -> None:
    cfg = get_preset("tiny").replace(num_clips=40)
    src = SimulationSource(cfg, 3)
    assert src.steps_per_epoch(2) == 10  # 20 training clips
    inproc = list(src.batches(1, batch_size=2, steps=3))
    workers = list(src.batches(1, batch_size=2, steps=3, num_workers=2))
    assert len(inproc) == len(workers) == 3
    for (xa, ta), (xb, tb) in zip(inproc, workers):
        assert torch.equal(xa, xb) and torch.equal(ta["doa"], tb["doa"])
    # epoch 1 of 3 steps = clips 6..11 of the stream; the stream wraps around the training split
    assert torch.equal(inproc[0][0][0], SimulatedBatches(cfg, 3, batch_size=1, start=0, stop=0).clip(6)[0])


def test_uneven_ddp_split_is_refused(tiny_data: Path) -> None:
    src = WindowSource.from_folder(str(tiny_data), "train", clip_seconds=1.0, max_tracks=3, seed=0)
    with pytest.raises(ValueError, match="batch size 3 is not divisible by the 2 processes"):
        next(iter(src.batches(0, batch_size=3, steps=1, world_size=2)))
