"""Helpers shared by the ``av-*`` commands: the DATA argument and the run folder's data description."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

DATA_CHOICES = ("builtin",)
"""Datasets ``av-train`` / ``av-evaluate`` read: ``builtin`` is the offline benchmark (:mod:`soundloc.av.synthetic`)."""


def check_data(data: str) -> str:
    """``data`` lower-cased if it is one of :data:`DATA_CHOICES`; ``ValueError`` otherwise."""
    key = str(data).lower()
    if key not in DATA_CHOICES:
        raise ValueError(f"unknown DATA '{data}'; choose from {', '.join(DATA_CHOICES)} (the built-in benchmark)")
    return key


def bench_config(*, image_size: int, sizes: tuple[int, int, int], n_voices: int = 16, seed: int = 0) -> Any:
    from soundloc.av import AVBenchConfig

    return AVBenchConfig(image_size=image_size, sizes=sizes, n_voices=n_voices, seed=seed)


def bench_to_dict(cfg: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def bench_from_run(run: Path) -> Any:
    """The benchmark config recorded in ``RUN/data.json`` by ``av-train``."""
    from soundloc.av import AVBenchConfig
    from soundloc.fileio import load_json

    doc = load_json(run / "data.json", what="run data description")
    if not isinstance(doc, dict) or not isinstance(doc.get("bench"), dict):
        raise ValueError(f"'{run / 'data.json'}' has no \"bench\" object; was RUN written by soundloc av-train?")
    try:
        return AVBenchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc["bench"].items()})
    except TypeError as e:
        raise ValueError(f"'{run / 'data.json'}': {e}") from None


def load_split(cfg: Any, split: str, n: int | None = None, cache_dir: str | None = None) -> Any:
    from soundloc.av import SyntheticAVDataset
    from soundloc.av.train import load_split as _load

    return _load(SyntheticAVDataset(split, cfg, cache_dir=cache_dir), n)
