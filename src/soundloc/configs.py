"""Helpers shared by the frozen dataclass configs (features, training, ...)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C")


def checked_replace(config: C, what: str, changes: dict[str, Any]) -> C:
    """``dataclasses.replace(config, **changes)``; an unknown field is a ``ValueError`` naming it and
    listing the choices (``what``: ``"feature"``, ``"training"``... as in "unknown training setting")."""
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    for k in changes:
        if k not in names:
            raise ValueError(f"unknown {what} setting '{k}'; choose from {', '.join(sorted(names))}")
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]
