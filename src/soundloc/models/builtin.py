"""Built-in pretrained SELD models shipped in the package, and the one resolver of a model argument.

The models live in the package folder ``soundloc/models/pretrained/`` as ``<name>.json`` +
``<name>.safetensors`` pairs (written by :func:`~soundloc.models.io.save_model`) with an index,
``index.json``::

    {"format": "soundloc-pretrained-index", "version": 1,
     "models": {"<name>": {"description", "array", "fs", "feature", "encoder", "head", "classes",
                           "recipe", "scores", "sha256"}}}

``array`` is the array's name (``foa`` for first-order ambisonics), ``fs`` the sample rate in Hz,
``recipe`` the command that trained the model, ``scores`` free-form results (e.g. DCASE metrics on
a test split) and ``sha256`` the SHA-256 of the weights file. :func:`install_pretrained` writes a
pair and its entry (atomically); :func:`load_pretrained` checks the weights against the index's
SHA-256 *and* the one in the model's JSON (:func:`~soundloc.models.io.load_model`), so replaced or
corrupt weights are refused with one line, and the index's array / rate / classes against the model.

:func:`resolve_model` turns what a user types into a model: ``builtin:NAME``, a ``soundloc train``
run folder (its ``best`` model) or a model's ``.json`` / ``.safetensors`` / stem path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from soundloc.ambisonics import is_foa_dict
from soundloc.fileio import load_json, sha256_file, write_json_atomic
from soundloc.models.io import load_model, model_paths, save_model
from soundloc.models.seld import SeldModel

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
"""The package folder of the built-in models (read at call time: tests point it elsewhere)."""

INDEX_NAME = "index.json"
INDEX_FORMAT = "soundloc-pretrained-index"
INDEX_VERSION = 1
BUILTIN_PREFIX = "builtin:"
"""A model argument starting with this names a built-in model."""

RUN_MODEL = "best"
"""The model of a ``soundloc train`` run folder: ``RUN/best.json`` + ``RUN/best.safetensors``."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ENTRY_KEYS = ("description", "array", "fs", "feature", "encoder", "head", "classes", "recipe", "scores", "sha256")


@dataclass(frozen=True)
class PretrainedInfo:
    """One entry of the index (see the module docstring); ``name`` is its key."""

    name: str
    description: str
    array: str
    fs: int
    feature: str
    encoder: str
    head: str
    classes: tuple[str, ...]
    recipe: str
    sha256: str
    scores: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "array": self.array, "fs": self.fs, "feature": self.feature,
                "encoder": self.encoder, "head": self.head, "classes": list(self.classes), "recipe": self.recipe,
                "scores": dict(self.scores), "sha256": self.sha256}

    @classmethod
    def from_dict(cls, name: str, d: Any, where: str) -> PretrainedInfo:
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: entry '{name}' must be a JSON object")
        unknown = sorted(set(d) - set(_ENTRY_KEYS))
        missing = [k for k in _ENTRY_KEYS if k not in d]
        if unknown or missing:
            what = f"unknown key '{unknown[0]}'" if unknown else f"missing key '{missing[0]}'"
            raise ValueError(f"{where}: entry '{name}': {what}; keys: {', '.join(_ENTRY_KEYS)}")
        classes = d["classes"]
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise ValueError(f"{where}: entry '{name}': 'classes' must be a list of strings")
        if not isinstance(d["fs"], int) or isinstance(d["fs"], bool) or d["fs"] <= 0:
            raise ValueError(f"{where}: entry '{name}': 'fs' must be a positive whole number of Hz")
        if not isinstance(d["scores"], Mapping):
            raise ValueError(f"{where}: entry '{name}': 'scores' must be a JSON object")
        sha = d["sha256"]
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ValueError(f"{where}: entry '{name}': 'sha256' must be 64 lowercase hex digits")
        text = {k: d[k] for k in ("description", "array", "feature", "encoder", "head", "recipe")}
        bad = [k for k, v in text.items() if not isinstance(v, str)]
        if bad:
            raise ValueError(f"{where}: entry '{name}': '{bad[0]}' must be a string")
        return cls(name=name, fs=int(d["fs"]), classes=tuple(classes), sha256=sha, scores=dict(d["scores"]), **text)


def _folder(folder: str | os.PathLike[str] | None) -> Path:
    return Path(folder) if folder is not None else PRETRAINED_DIR


def pretrained_index(folder: str | os.PathLike[str] | None = None) -> dict[str, PretrainedInfo]:
    """The built-in models by name (empty when none is installed: no ``index.json``)."""
    path = _folder(folder) / INDEX_NAME
    if not path.is_file():
        return {}
    doc = load_json(path, what="built-in model index")
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
        raise ValueError(f"built-in model index '{path}' is not a {INDEX_FORMAT} file")
    if doc.get("version") != INDEX_VERSION:
        raise ValueError(f"built-in model index '{path}': version {doc.get('version')!r} is not supported "
                         f"(this soundloc reads {INDEX_VERSION})")
    models = doc.get("models")
    if not isinstance(models, dict):
        raise ValueError(f"built-in model index '{path}': 'models' must be a JSON object")
    return {name: PretrainedInfo.from_dict(name, d, f"built-in model index '{path}'") for name, d in sorted(models.items())}


def _choices(index: Mapping[str, PretrainedInfo]) -> str:
    if not index:
        return "no built-in model is installed"
    return "choose from " + ", ".join(BUILTIN_PREFIX + n for n in index)


def pretrained_info(name: str, folder: str | os.PathLike[str] | None = None) -> PretrainedInfo:
    """The index entry of built-in model ``name``; ``ValueError`` listing the choices."""
    index = pretrained_index(folder)
    if name not in index:
        raise ValueError(f"unknown built-in model '{name}'; {_choices(index)} (see soundloc models)")
    return index[name]


def load_pretrained(name: str, *, device: str | torch.device = "cpu",
                    folder: str | os.PathLike[str] | None = None) -> SeldModel:
    """Built-in model ``name``, its weights checked against the index (see the module docstring).

    Raises:
        ValueError: unknown name (lists the choices), missing / replaced / corrupt files, or an
            index entry that does not describe the model (one line each).
    """
    info = pretrained_info(name, folder)
    weights, _ = model_paths(_folder(folder) / name)
    if not weights.is_file():
        raise ValueError(f"built-in model '{name}': weights '{weights}' are missing (reinstall soundloc)")
    if sha256_file(weights) != info.sha256:
        raise ValueError(f"built-in model '{name}': weights '{weights}' differ from the ones listed in "
                         f"{INDEX_NAME} (SHA-256 mismatch: modified or corrupt; reinstall soundloc)")
    model = load_model(_folder(folder) / name, device=device)
    spec = model.config.input if model.config is not None else None
    if spec is None or spec.fs != info.fs or tuple(spec.class_names) != info.classes or array_name(spec.array) != info.array:
        raise ValueError(f"built-in model '{name}': {INDEX_NAME} does not describe the model in '{weights.parent}' "
                         "(array, rate or classes differ)")
    return model


def builtin_for(array: Any, fs: int, folder: str | os.PathLike[str] | None = None) -> PretrainedInfo | None:
    """The first built-in model (by name) for ``array`` (a ``MicArray`` / ``FoaFormat``) at ``fs`` Hz, or ``None``."""
    name = array_name(array.to_dict())
    return next((i for i in pretrained_index(folder).values() if i.array == name and i.fs == int(fs)), None)


def array_name(array: Mapping[str, Any]) -> str:
    """The name an index uses for an array description (``foa`` for first-order ambisonics)."""
    return "foa" if is_foa_dict(array) else str(array.get("name", "array"))


def install_pretrained(model: str | os.PathLike[str], name: str, *, description: str, recipe: str,
                       scores: Mapping[str, Any] | None = None, folder: str | os.PathLike[str] | None = None) -> PretrainedInfo:
    """Copy a saved model (anything :func:`resolve_model` takes except ``builtin:``) into the built-in
    folder as ``name`` and record it in the index (replacing an entry of that name). The model is
    loaded (so checked) and saved again; the index is written atomically after the files."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"built-in model name '{name}' must be lowercase letters, digits, '-' or '_' (at most 64)")
    m, _ = resolve_model(str(model))
    spec = m.config.input if m.config is not None else None
    if spec is None or m.config is None:
        raise ValueError(f"model '{model}' has no input spec (array, rate, features); train it with soundloc train")
    dest = _folder(folder)
    dest.mkdir(parents=True, exist_ok=True)
    index = pretrained_index(dest)
    weights, _ = save_model(m, dest / name)
    info = PretrainedInfo(name=name, description=description, array=array_name(spec.array), fs=spec.fs,
                          feature=spec.feature, encoder=m.config.encoder, head=m.config.head,
                          classes=tuple(spec.class_names), recipe=recipe, sha256=sha256_file(weights),
                          scores=dict(scores or {}))
    index[name] = info
    write_json_atomic(dest / INDEX_NAME, {"format": INDEX_FORMAT, "version": INDEX_VERSION,
                                          "models": {n: i.to_dict() for n, i in sorted(index.items())}})
    return info


def resolve_model(spec: str, *, device: str | torch.device = "cpu") -> tuple[SeldModel, str]:
    """``(model, label)`` for a model argument: ``builtin:NAME``, a ``soundloc train`` run folder
    (``RUN/best.json`` + ``RUN/best.safetensors``) or a model path (stem, ``.json`` or
    ``.safetensors``). ``label`` names it in results (``builtin:NAME`` or ``model:<folder or stem>``).

    Raises:
        ValueError: one line naming what is wrong (unknown built-in name with the choices, a folder
            that is not a run, missing / corrupt / tampered files).
    """
    text = str(spec).strip()
    if text.startswith(BUILTIN_PREFIX):
        name = text[len(BUILTIN_PREFIX):]
        return load_pretrained(name, device=device), BUILTIN_PREFIX + name
    p = Path(text)
    if p.is_dir():
        weights, config = model_paths(p / RUN_MODEL)
        if not config.is_file():
            raise ValueError(f"model '{p}' is a folder without {config.name}: not a soundloc train run "
                             "(or no epoch has finished yet); give a run folder, a model .json or builtin:NAME")
        return load_model(p / RUN_MODEL, device=device), f"model:{p.resolve().name}"
    weights, config = model_paths(p)
    if not config.is_file() and not weights.is_file():
        raise ValueError(f"model '{text}' not found: give a soundloc train run folder, a model .json / .safetensors "
                         f"or builtin:NAME ({_choices(pretrained_index())})")
    return load_model(p, device=device), f"model:{weights.with_suffix('').name}"
