"""Atomic file writes: every file soundloc writes appears whole or not at all.

A writer gets a hidden temporary path in the destination folder (``.<name>.<random>.tmp``, so a
folder listing that skips hidden files never sees it); on success it is renamed onto the target
with ``os.replace`` (atomic on POSIX and Windows), on any error it is removed and the old file, if
any, is left untouched.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

TEMP_SUFFIX = ".tmp"
"""Suffix of in-progress files; a resumable job may delete leftovers ``.*.tmp`` after a kill."""


def _create_temp(p: Path) -> str:
    """Create an empty ``.<name>.<random>.tmp`` next to ``p`` with the usual permissions.

    ``tempfile.mkstemp`` creates files with mode 0600 whatever the umask, and ``os.replace``
    keeps that mode, so every file written through it would be private to its owner; opening
    with mode 0666 lets the umask decide (e.g. 0644), as for a file written in place.
    """
    for _ in range(100):
        tmp = os.path.join(p.parent, f".{p.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{p}: could not create a temporary file next to it")  # pragma: no cover


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    Parent folders are created. The temporary name keeps ``path``'s suffix before ``.tmp`` is
    appended, so tools that pick a format from the name can be given an explicit format.

    Example:
        >>> with atomic_path("out/plot.png") as tmp:   # doctest: +SKIP
        ...     fig.savefig(tmp, format="png")
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(p)
    try:
        yield Path(tmp)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` (``\\n`` newlines) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


def write_json_atomic(path: str | Path, obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False) + "\n")


def disk_usage(root: str | os.PathLike[str]) -> int:
    """Total size in bytes of the files under ``root`` (files that vanish meanwhile count 0)."""
    total = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


def format_bytes(n: int) -> str:
    """``1234567 -> '1.2 MB'`` (decimal units)."""
    v = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if v < 1000 or unit == "TB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1000.0
    return f"{v:.1f} TB"  # pragma: no cover
