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


def bench_config(*, image_size: int, sizes: tuple[int, int, int], n_voices: int = 16, seed: int = 0,
                 object_scale: tuple[float, float] | None = None, max_distractors: int | None = None) -> Any:
    """The benchmark config of the ``av-*`` options; ``object_scale`` is the digit height range as a fraction of the
    frame (``AVBenchConfig.digit_height``), ``None`` keeps the benchmark's defaults."""
    from soundloc.av import AVBenchConfig

    extra: dict[str, Any] = {}
    if object_scale is not None:
        extra["digit_height"] = tuple(object_scale)
    if max_distractors is not None:
        extra["max_distractors"] = max_distractors
    return AVBenchConfig(image_size=image_size, sizes=sizes, n_voices=n_voices, seed=seed, **extra)


def parse_threshold(text: str, option: str = "--threshold") -> float | str:
    """``"median"`` or a float in [0, 1] (a fixed threshold on the min-max normalised map); one-line ``ValueError``."""
    if text == "median":
        return "median"
    try:
        t = float(text)
    except ValueError:
        raise ValueError(f"{option} must be 'median' or a number in [0, 1], got '{text}'") from None
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"{option} must be 'median' or a number in [0, 1], got '{text}'")
    return t


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
