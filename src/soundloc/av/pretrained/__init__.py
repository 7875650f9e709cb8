"""Built-in audio-visual models shipped with soundloc (none yet): ``<name>.safetensors`` + ``<name>.json``
(:func:`~soundloc.av.models.save_av_model`) and ``<name>.data.json`` (the built-in benchmark settings it was
trained on: ``{"data": "builtin", "bench": {...}}``, the ``data.json`` of an ``av-train`` run) in this folder.

:func:`builtin_av_model` returns ``(model, benchmark config)`` or ``None`` when no such model is shipped;
``soundloc demo --av`` uses it. To ship one: copy a run's ``model.safetensors`` / ``model.json`` /
``data.json`` here as ``digits.safetensors`` / ``digits.json`` / ``digits.data.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PRETRAINED_DIR = Path(__file__).resolve().parent
"""Where the built-in AV models live."""

DEFAULT_MODEL = "digits"
"""The model ``soundloc demo --av`` shows: trained on the built-in digits benchmark."""


def builtin_av_model(name: str = DEFAULT_MODEL, *, directory: str | Path | None = None) -> tuple[Any, Any] | None:
    """``(AVLocalizer in eval mode, AVBenchConfig)`` of the built-in model ``name`` in ``directory`` (default
    :data:`PRETRAINED_DIR`), or ``None`` if it is not there. A damaged model is a one-line ``ValueError``."""
    from soundloc.av.models import load_av_model
    from soundloc.av.synthetic import AVBenchConfig
    from soundloc.fileio import load_json

    if Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"built-in AV model names are plain names, got {name!r}")
    folder = Path(directory) if directory is not None else PRETRAINED_DIR
    stem = folder / name
    if not (stem.with_suffix(".safetensors").is_file() and stem.with_suffix(".json").is_file()):
        return None
    model = load_av_model(stem)
    data_path = folder / f"{name}.data.json"
    doc = load_json(data_path, what="built-in AV model data description")
    if not isinstance(doc, dict) or not isinstance(doc.get("bench"), dict):
        raise ValueError(f"'{data_path}' has no \"bench\" object")
    try:
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in doc["bench"].items()}
        bench = AVBenchConfig(**kw)
    except TypeError as e:
        raise ValueError(f"'{data_path}': {e}") from None
    return model, bench


__all__ = ["DEFAULT_MODEL", "PRETRAINED_DIR", "builtin_av_model"]
