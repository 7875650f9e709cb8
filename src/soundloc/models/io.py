"""Save and load SELD models: safetensors weights + a JSON config beside them (never pickle).

``save_model(model, "run/model")`` writes ``run/model.safetensors`` (every tensor of the state
dict) and ``run/model.json``::

    {"format": "soundloc-model", "config": {SeldConfig.to_dict()},
     "weights": {"file": "model.safetensors", "sha256": "..."}}

:func:`load_model` takes the stem, the ``.json`` or the ``.safetensors`` path and refuses, each with
a one-line ``ValueError`` naming the file: a missing or unreadable file, invalid JSON, unknown or
missing keys, a config that does not build, a corrupt safetensors file, missing / unexpected
tensors, a tensor of another shape or dtype, and weights whose SHA-256 differs from the one recorded
(modified after saving). Both files are written atomically (temporary name, then rename), weights
first, so a config never points at half-written weights.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from soundloc.fileio import atomic_path, load_json, sha256_file, write_json_atomic
from soundloc.models.seld import SeldConfig, SeldModel, build_model

FORMAT = "soundloc-model"
WEIGHTS_SUFFIX = ".safetensors"
CONFIG_SUFFIX = ".json"


def model_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(weights, config)`` paths of a model given its stem, ``.json`` or ``.safetensors`` path."""
    p = Path(path)
    if p.suffix in (WEIGHTS_SUFFIX, CONFIG_SUFFIX):
        p = p.with_suffix("")
    return p.with_name(p.name + WEIGHTS_SUFFIX), p.with_name(p.name + CONFIG_SUFFIX)


def save_checked(tensors: Mapping[str, torch.Tensor], path: str | os.PathLike[str], *, fmt: str,
                 fields: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``tensors`` to ``<path>.safetensors`` and ``{"format": fmt, **fields, "weights": {file, sha256}}``
    to ``<path>.json``, both atomically, weights first. The generic half of :func:`save_model`, shared by
    every model family (SELD models, :mod:`soundloc.av` models and training checkpoints)."""
    weights, config = model_paths(path)
    state = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp), metadata={"format": fmt})
    doc = {"format": fmt, **fields, "weights": {"file": weights.name, "sha256": sha256_file(weights)}}
    write_json_atomic(config, doc)
    return weights, config


def read_checked_doc(path: str | os.PathLike[str], *, fmt: str, allowed: tuple[str, ...],
                     what: str = "model config") -> tuple[dict[str, Any], Path, Path]:
    """``(doc, weights_path, config_path)`` of the JSON written by :func:`save_checked`; refuses (one-line
    ``ValueError`` naming the file) a missing or invalid file, keys outside ``allowed`` (plus ``format`` and
    ``weights``), another ``format`` and a malformed ``weights`` entry."""
    weights, config = model_paths(path)
    doc = load_json(config, what=what)
    if not isinstance(doc, dict):
        raise ValueError(f"{what} '{config}' must be a JSON object")
    keys = ("format", *allowed, "weights")
    unknown = sorted(set(doc) - set(keys))
    if unknown:
        raise ValueError(f"{what} '{config}': unknown key '{unknown[0]}'; allowed: {', '.join(keys)}")
    if doc.get("format") != fmt:
        kind = "soundloc model" if fmt == FORMAT else f"'{fmt}' file"
        raise ValueError(f"{what} '{config}' is not a {kind} (\"format\" is {doc.get('format')!r})")
    w = doc.get("weights")
    if not isinstance(w, dict) or set(w) != {"file", "sha256"} or not all(isinstance(v, str) for v in w.values()):
        raise ValueError(f"{what} '{config}': \"weights\" must be {{\"file\": ..., \"sha256\": ...}}")
    if w["file"] != weights.name:
        raise ValueError(f"{what} '{config}' names weights '{w['file']}', expected '{weights.name}'")
    return doc, weights, config


def load_checked_tensors(weights: Path, config: Path, sha256: str,
                         expected: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The tensors of ``weights`` after the checks of :func:`load_model`: readable safetensors, exactly the
    names, shapes and dtypes of ``expected`` (when given) and the SHA-256 recorded in ``config``."""
    if not weights.is_file():
        raise ValueError(f"model weights '{weights}' do not exist")
    try:
        with safe_open(str(weights), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise ValueError(f"model weights '{weights}' are not a readable safetensors file ({str(e).splitlines()[0]})") from None
    if expected is not None:
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing:
            raise ValueError(f"model weights '{weights}': missing tensor '{missing[0]}' ({len(missing)} missing)")
        if extra:
            raise ValueError(f"model weights '{weights}': unexpected tensor '{extra[0]}' ({len(extra)} not in the model)")
        for k, v in expected.items():
            got = state[k]
            if got.shape != v.shape or got.dtype != v.dtype:
                raise ValueError(f"model weights '{weights}': tensor '{k}' is {got.dtype} {tuple(got.shape)}, the model "
                                 f"needs {v.dtype} {tuple(v.shape)}")
    if sha256_file(weights) != sha256:
        raise ValueError(f"model weights '{weights}' differ from the ones saved with '{config.name}' (SHA-256 mismatch: "
                         "modified or corrupt)")
    return state


def save_model(model: SeldModel, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``model`` as ``<path>.safetensors`` + ``<path>.json``; returns both paths.

    Raises:
        ValueError: the model has no config (assemble it with :func:`~soundloc.models.seld.build_model`).
    """
    if model.config is None:
        raise ValueError("this model has no config to save; build it with soundloc.models.build_model(config)")
    return save_checked(model.state_dict(), path, fmt=FORMAT, fields={"config": model.config.to_dict()})


def load_model(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> SeldModel:
    """The model saved at ``path`` (stem, ``.json`` or ``.safetensors``), in eval mode on ``device``.

    Raises:
        ValueError: see the module docstring (one line, naming the file).
    """
    doc, weights, config = read_checked_doc(path, fmt=FORMAT, allowed=("config",))
    try:
        cfg = SeldConfig.from_dict(doc.get("config"))  # type: ignore[arg-type]
    except (ValueError, TypeError) as e:
        raise ValueError(f"model config '{config}': {e}") from None
    try:
        model = build_model(cfg)
    except ValueError as e:
        raise ValueError(f"model config '{config}': {e}") from None
    state = load_checked_tensors(weights, config, doc["weights"]["sha256"], model.state_dict())
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
