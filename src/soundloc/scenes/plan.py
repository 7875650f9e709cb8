"""The dataset-level plan: which clip index goes to which split, and which source clips each split may use.

A deterministic function of ``(config, seed, corpus)`` (:func:`make_plan`):

* clips per split: ``num_clips * fraction`` rounded by largest remainder; indices
  ``0 .. n_train-1`` are train, then val, then test;
* source clips are partitioned **per class** between the splits that get clips, in proportion
  to the split fractions (each such split gets at least one clip of a class when the class has
  enough; otherwise the earlier splits train, val, test get them first). So no source clip is
  heard in two splits. A class missing from a split's pool is never drawn in that split.

Random streams: the plan uses ``SeedSequence(seed, spawn_key=(1,))``, clip ``i`` uses
``SeedSequence(seed, spawn_key=(0, i))`` (:func:`clip_seed_sequence`), so clip ``i`` does not
depend on the number of workers or the order clips are made in.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np

from soundloc.scenes.config import SPLIT_NAMES, SceneConfig


def clip_seed_sequence(seed: int, index: int) -> np.random.SeedSequence:
    """The random stream of clip ``index`` of a dataset with ``seed``."""
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(0, int(index)))


def plan_seed_sequence(seed: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy=int(seed), spawn_key=(1,))


def largest_remainder(total: int, fractions: list[float]) -> list[int]:
    """Integers proportional to ``fractions`` summing to ``total`` (ties go to earlier entries)."""
    raw = [total * f for f in fractions]
    out = [int(math.floor(r)) for r in raw]
    rest = total - sum(out)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[:rest]:
        out[i] += 1
    return out


def corpus_fingerprint(clip_ids: list[str], labels: list[str], sizes: list[int] | None = None) -> str:
    """SHA-256 (hex, first 16 chars) of the corpus's ``clip_id<TAB>label<TAB>file size`` lines: its
    identity (a re-rendered or edited corpus changes file sizes; absolute paths are left out so the
    same corpus on another machine has the same fingerprint)."""
    h = hashlib.sha256()
    sizes = sizes if sizes is not None else [-1] * len(clip_ids)
    for cid, lab, size in zip(clip_ids, labels, sizes):
        h.update(f"{cid}\t{lab}\t{size}\n".encode())
    return h.hexdigest()[:16]


def _file_size(path) -> int:
    try:
        return int(os.path.getsize(path))
    except (OSError, TypeError):
        return -1


@dataclass(frozen=True)
class DatasetPlan:
    """Split layout of a dataset.

    Attributes:
        class_names: sorted class names of the corpus (class index = position).
        counts: clips per split, ``{"train": n, "val": n, "test": n}``.
        pools: split -> class name -> source clip ids available in that split (sorted).
        fingerprint: :func:`corpus_fingerprint` of the corpus.
    """

    class_names: tuple[str, ...]
    counts: dict[str, int]
    pools: dict[str, dict[str, tuple[str, ...]]]
    fingerprint: str

    @property
    def num_clips(self) -> int:
        return sum(self.counts.values())

    def split_of(self, index: int) -> str:
        """Split of clip ``index``."""
        if not 0 <= index < self.num_clips:
            raise ValueError(f"clip index {index} is out of range for {self.num_clips} clips")
        start = 0
        for s in SPLIT_NAMES:
            if index < start + self.counts[s]:
                return s
            start += self.counts[s]
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def clip_name(index: int) -> str:
        """File stem of clip ``index``, e.g. ``clip_000012``."""
        return f"clip_{index:06d}"

    def source_clips(self, split: str) -> set[str]:
        return {cid for ids in self.pools[split].values() for cid in ids}

    def to_dict(self) -> dict:
        return {
            "class_names": list(self.class_names),
            "counts": dict(self.counts),
            "source_clips": {s: {c: list(ids) for c, ids in self.pools[s].items()} for s in SPLIT_NAMES},
            "corpus_fingerprint": self.fingerprint,
        }


def make_plan(config: SceneConfig, seed: int, corpus) -> DatasetPlan:
    """Split clip indices and partition the corpus's source clips (see the module docstring).

    Args:
        config: the generator config (``num_clips``, ``splits``).
        seed: dataset seed.
        corpus: a :class:`soundloc.corpus.Corpus` (``class_names``, ``clips`` of ``ClipRef``).

    Raises:
        ValueError: empty corpus, or a split that gets clips but no source clip at all.
    """
    clips = list(corpus.clips)
    if not clips:
        raise ValueError(f"corpus '{getattr(corpus, 'name', corpus)}' has no clips")
    fractions = [getattr(config.splits, s) for s in SPLIT_NAMES]
    counts = dict(zip(SPLIT_NAMES, largest_remainder(config.num_clips, fractions)))
    active = [s for s in SPLIT_NAMES if counts[s] > 0]
    rng = np.random.default_rng(plan_seed_sequence(seed))
    by_class: dict[str, list[str]] = {}
    for c in sorted(clips, key=lambda c: c.clip_id):
        by_class.setdefault(c.label, []).append(c.clip_id)
    class_names = tuple(sorted(by_class))
    pools: dict[str, dict[str, tuple[str, ...]]] = {s: {} for s in SPLIT_NAMES}
    act_frac = [getattr(config.splits, s) for s in active]
    for cname in class_names:
        ids = by_class[cname]
        perm = [ids[i] for i in rng.permutation(len(ids))]
        k = len(perm)
        if k >= len(active):
            alloc = [1 + a for a in largest_remainder(k - len(active), act_frac)]
        else:
            alloc = [1 if i < k else 0 for i in range(len(active))]
        start = 0
        for s, n in zip(active, alloc):
            if n:
                pools[s][cname] = tuple(sorted(perm[start : start + n]))
            start += n
    for s in active:
        if not pools[s]:
            raise ValueError(f"corpus has too few clips to give the '{s}' split any source clip")
    ordered = sorted(clips, key=lambda c: c.clip_id)
    fp = corpus_fingerprint([c.clip_id for c in ordered], [c.label for c in ordered],
                            [_file_size(c.path) for c in ordered])
    return DatasetPlan(class_names=class_names, counts=counts, pools=pools, fingerprint=fp)
