"""Training data: random crops of dataset folders and an on-the-fly simulated scene stream.

Both sources produce *global batches* ``(waveform (B, M, N), targets)`` (targets as in
:class:`~soundloc.data.SeldDataset`: ``activity (B, T, K, C)``, ``doa (B, T, K, C, 3)``,
``distance (B, T, K, C)``) whose content is a pure function of ``(seed, epoch, step)``: the data
order never depends on the number of DataLoader workers, and a resumed run continues with exactly
the batches an uninterrupted run would have seen. With DDP, process ``rank`` of ``world_size``
receives rows ``[rank * B / world_size, (rank + 1) * B / world_size)`` of every global batch.

* :class:`WindowSource`: fixed-length crops at random 0.1 s-aligned offsets of a
  :class:`SeldDataset` split (our simulated folders and STARSS23/TAU folders, MIC or FOA).
* :class:`SimulationSource` / :class:`SimulatedBatches`: an ``IterableDataset`` of fresh scenes from a
  :class:`~soundloc.scenes.SceneConfig`; clip ``k`` of the stream is training clip
  ``k mod n_train`` of the dataset ``(config, seed)`` (set ``config.num_clips`` large for an
  endless supply), workers take every ``num_workers``-th batch (spawn-safe: the per-process scene
  context is built lazily in the worker).
* :func:`validation_dataset`: sequential windows (no overlap) of a split, or the first clips of the
  simulated validation split held in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from soundloc.data.dataset import SeldDataset
from soundloc.dataformat import DcaseLabels

Batch = tuple[torch.Tensor, dict[str, torch.Tensor]]
"""``(waveform (B, M, N), {"activity", "doa", "distance"})``."""

TARGET_KEYS = ("activity", "doa", "distance")


def _rank_slice(batch_size: int, rank: int, world_size: int) -> slice:
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is out of range for world size {world_size}")
    if batch_size % world_size:
        raise ValueError(f"batch size {batch_size} is not divisible by the {world_size} processes")
    n = batch_size // world_size
    return slice(rank * n, (rank + 1) * n)


def _loader_kwargs(num_workers: int) -> dict[str, Any]:
    if num_workers <= 0:
        return {"num_workers": 0}
    return {"num_workers": int(num_workers), "multiprocessing_context": "spawn", "persistent_workers": False}


class WindowSource:
    """Random fixed-length crops of the windows of a dataset split.

    Args:
        dataset: a :class:`SeldDataset` with ``clip_seconds`` set and ``hop_seconds=0.1`` (every
            0.1 s-aligned crop is an item; see :meth:`from_folder`).
        crops_per_epoch: crops an epoch covers (default: the number of non-overlapping windows).
        seed: seed of the crop draws.
    """

    def __init__(self, dataset: SeldDataset, *, crops_per_epoch: int, seed: int) -> None:
        if len(dataset) == 0:
            raise ValueError(f"'{dataset.root}': no training windows")
        self.dataset = dataset
        self.crops_per_epoch = max(1, int(crops_per_epoch))
        self.seed = int(seed)

    @classmethod
    def from_folder(cls, root: str, split: str | None, *, clip_seconds: float, max_tracks: int, seed: int,
                    fs: int | None = None) -> WindowSource:
        """Crops of ``clip_seconds`` from split ``split`` of the folder ``root``."""
        ds = SeldDataset(root, split, fs=fs, clip_seconds=clip_seconds, hop_seconds=0.1, max_tracks=max_tracks)
        return cls(ds, crops_per_epoch=ds.count_windows(clip_seconds), seed=seed)

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, self.crops_per_epoch // batch_size)

    def epoch_order(self, epoch: int, batch_size: int, steps: int) -> np.ndarray:
        """``(steps, batch_size)`` item indices of epoch ``epoch`` (a function of seed and epoch only)."""
        rng = np.random.default_rng([self.seed, int(epoch), 0x5E1D])
        n = steps * batch_size
        idx = rng.choice(len(self.dataset), size=n, replace=n > len(self.dataset))
        return idx.reshape(steps, batch_size)

    def batches(self, epoch: int, *, batch_size: int, steps: int, start_step: int = 0, rank: int = 0,
                world_size: int = 1, num_workers: int = 0) -> Iterator[Batch]:
        """Global batches ``start_step..steps-1`` of epoch ``epoch`` (this rank's rows)."""
        sl = _rank_slice(batch_size, rank, world_size)
        order = self.epoch_order(epoch, batch_size, steps)[start_step:, sl]
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)  # keeps the global RNG untouched
        loader = DataLoader(self.dataset, batch_sampler=order.tolist(), generator=gen, **_loader_kwargs(num_workers))
        yield from loader


class SimulatedBatches(IterableDataset[Batch]):
    """Global batches ``start..stop-1`` of simulated training clips (see the module docstring).

    Args:
        config: a :class:`~soundloc.scenes.SceneConfig`; seed: the dataset seed.
        batch_size: global batch; ``rank`` / ``world_size``: which rows this process takes.
        start, stop: global batch numbers (stream position ``b * batch_size``).
        max_tracks: track slots per class in the targets.
    """

    def __init__(self, config: Any, seed: int, *, batch_size: int, start: int, stop: int, rank: int = 0,
                 world_size: int = 1, max_tracks: int = 3) -> None:
        super().__init__()
        self.config, self.seed = config, int(seed)
        self.batch_size, self.start, self.stop = int(batch_size), int(start), int(stop)
        self.rows = _rank_slice(self.batch_size, rank, world_size)
        self.max_tracks = int(max_tracks)
        self._context: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_context"] = None  # rebuilt in each worker
        return state

    def context(self) -> Any:
        if self._context is None:
            from soundloc.scenes.clip import make_context

            self._context = make_context(self.config, self.seed)
        return self._context

    def train_range(self) -> tuple[int, int]:
        """``(first clip index, number)`` of the training split."""
        from soundloc.scenes.config import SPLIT_NAMES

        counts = self.context().plan.counts
        first = 0
        for s in SPLIT_NAMES:
            if s == "train":
                break
            first += counts[s]
        if counts["train"] < 1:
            raise ValueError("the scene config gives no training clips; raise num_clips or the train fraction")
        return first, counts["train"]

    def clip(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Waveform ``(M, N)`` and targets of dataset clip ``index``."""
        from soundloc.data.dcase import labels_to_targets
        from soundloc.scenes.clip import simulate_clip

        ctx = self.context()
        res = simulate_clip(self.config, self.seed, index, context=ctx)
        frames = self.config.num_label_frames  # as simulate_clip labels them: ceil(duration / 0.1)
        t = labels_to_targets(quantize_labels(res.labels), frames, len(ctx.plan.class_names), self.max_tracks)
        return torch.from_numpy(np.ascontiguousarray(res.audio, dtype=np.float32)), {k: torch.from_numpy(v) for k, v in t.items()}

    def batch(self, b: int) -> Batch:
        """This rank's rows of global batch ``b``."""
        first, n = self.train_range()
        ks = range(b * self.batch_size, (b + 1) * self.batch_size)[self.rows]
        items = [self.clip(first + k % n) for k in ks]
        return _stack(items)

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        w, nw = (0, 1) if info is None else (info.id, info.num_workers)
        for b in range(self.start + w, self.stop, nw):
            yield self.batch(b)


def quantize_labels(labels: DcaseLabels) -> DcaseLabels:
    """Labels at the precision the dataset writer stores (angles to 0.01 degree, distances to 1 cm), so
    on-the-fly targets equal those read from a dataset written with the same config and seed."""
    dist = np.where(np.isnan(labels.distance), labels.distance, np.round(labels.distance * 100.0) / 100.0)
    return dataclasses.replace(labels, azimuth=np.round(labels.azimuth, 2) + 0.0, elevation=np.round(labels.elevation, 2) + 0.0,
                               distance=dist)


def _stack(items: Sequence[tuple[torch.Tensor, dict[str, torch.Tensor]]]) -> Batch:
    return torch.stack([x for x, _ in items]), {k: torch.stack([t[k] for _, t in items]) for k in TARGET_KEYS}


class SimulationSource:
    """Training batches simulated on the fly (see :class:`SimulatedBatches`).

    Args:
        config: the scene config; seed: dataset seed; max_tracks: target slots per class.
    """

    def __init__(self, config: Any, seed: int, *, max_tracks: int = 3) -> None:
        self.config, self.seed, self.max_tracks = config, int(seed), int(max_tracks)
        self._probe = SimulatedBatches(config, seed, batch_size=1, start=0, stop=0, max_tracks=max_tracks)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self._probe.context().plan.class_names)

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, self._probe.train_range()[1] // batch_size)

    def batches(self, epoch: int, *, batch_size: int, steps: int, start_step: int = 0, rank: int = 0,
                world_size: int = 1, num_workers: int = 0) -> Iterator[Batch]:
        stream = SimulatedBatches(self.config, self.seed, batch_size=batch_size, start=epoch * steps + start_step,
                                  stop=(epoch + 1) * steps, rank=rank, world_size=world_size, max_tracks=self.max_tracks)
        loader = DataLoader(stream, batch_size=None, generator=torch.Generator().manual_seed(self.seed + epoch),
                            **_loader_kwargs(num_workers))
        yield from loader

    def validation(self, count: int) -> Dataset[tuple[torch.Tensor, ...]]:
        """The first ``count`` clips of the simulated validation split, in memory (``TensorDataset`` of
        waveform, activity, doa, distance)."""
        from soundloc.scenes.config import SPLIT_NAMES

        ctx = self._probe.context()
        counts = ctx.plan.counts
        first = sum(counts[s] for s in SPLIT_NAMES[:SPLIT_NAMES.index("val")])
        n = min(int(count), counts["val"])
        if n < 1:
            raise ValueError("the scene config gives no validation clips; raise num_clips or the val fraction")
        x, t = _stack([self._probe.clip(first + i) for i in range(n)])
        return TensorDataset(x, *(t[k] for k in TARGET_KEYS))


def validation_dataset(root: str, split: str, *, clip_seconds: float, max_tracks: int, fs: int | None = None) -> SeldDataset:
    """Sequential non-overlapping windows of ``split`` (the last one zero-padded)."""
    return SeldDataset(root, split, fs=fs, clip_seconds=clip_seconds, max_tracks=max_tracks)


def as_batch(item: Any) -> Batch:
    """A collated ``(waveform, targets dict)`` from a DataLoader over a :class:`SeldDataset` or the
    ``TensorDataset`` of :meth:`SimulationSource.validation`."""
    if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], dict):
        return item[0], item[1]
    x, *rest = item
    return x, dict(zip(TARGET_KEYS, rest))
