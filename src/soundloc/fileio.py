"""Atomic file writes and checked JSON reads: every file soundloc writes appears whole or not at
all, and every failure names the path the user gave, in one line.

A writer gets a hidden temporary path in the destination folder (``.<name>.<random>.tmp``, so a
folder listing that skips hidden files never sees it); on success it is renamed onto the target
with ``os.replace`` (atomic on POSIX and Windows), on any error it is removed and the old file, if
any, is left untouched.

Errors: an ``OSError`` while writing (disk full, permission denied, read-only file system, a
missing or special folder such as ``/proc``) becomes an :class:`OutputError` whose message names
the *final* path, never the temporary one, e.g.
``"cannot write out/audio/train/clip_000000.flac: no space left on device"``.
"""

from __future__ import annotations

import errno as _errno
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["TEMP_SUFFIX", "OutputError", "atomic_path", "check_writable", "load_json", "output_error",
           "write_json_atomic", "write_text_atomic"]

TEMP_SUFFIX = ".tmp"
"""Suffix of in-progress files; a resumable job may delete leftovers ``.*.tmp`` after a kill."""

_REASONS = {
    _errno.ENOSPC: "no space left on device",
    _errno.EDQUOT: "disk quota exceeded",
    _errno.EROFS: "read-only file system",
    _errno.EACCES: "permission denied",
    _errno.EPERM: "permission denied",
    _errno.ENOENT: "no such folder (or it does not accept new files)",
    _errno.ENOTDIR: "a parent of it is a file, not a folder",
    _errno.EISDIR: "it is a folder",
    _errno.EFBIG: "file too large for the file system",
    _errno.EIO: "input/output error",
}


class OutputError(OSError):
    """An output file could not be written. ``str(e)`` is one line naming the final path;
    ``e.errno`` is the underlying errno (e.g. ``errno.ENOSPC``), ``e.filename`` the path.

    Built as ``OutputError(errno, message, path)`` like any ``OSError`` (so it pickles across
    worker processes unchanged)."""

    def __str__(self) -> str:
        return str(self.strerror)


def output_error(path: str | os.PathLike[str], err: BaseException | int | None, detail: str | None = None) -> OutputError:
    """An :class:`OutputError` for ``path`` from an ``OSError`` (or an errno, or ``None`` with a
    ``detail`` text): ``"cannot write PATH: <reason>"``."""
    if isinstance(err, OutputError):
        return err
    code = err.errno if isinstance(err, OSError) else err if isinstance(err, int) else None
    reason = detail or _REASONS.get(code or -1) or (
        (err.strerror or str(err)).lower() if isinstance(err, OSError) else "system error")
    return OutputError(code or 0, f"cannot write {path}: {reason}", str(path))


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
    Any ``OSError`` (creating the folder or the temporary file, inside the block, or renaming)
    is raised as an :class:`OutputError` naming ``path``; the temporary file is removed.

    Example:
        >>> with atomic_path("out/plot.png") as tmp:   # doctest: +SKIP
        ...     fig.savefig(tmp, format="png")
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_dir():
            raise IsADirectoryError(_errno.EISDIR, "is a folder", str(p))
        tmp = _create_temp(p)
    except OSError as e:
        raise output_error(p, e) from None
    try:
        yield Path(tmp)
        os.replace(tmp, p)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise output_error(p, e) from None
        raise


def check_writable(path: str | Path) -> None:
    """Raise :class:`OutputError` (naming ``path``) unless a file can be created there now.

    Call it before long work whose result goes to ``path``. Nothing is left behind: a probe file
    is created and removed in the nearest existing folder on the way to ``path`` (missing
    folders are not created), and ``path`` itself is not touched.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise IsADirectoryError(_errno.EISDIR, "is a folder", str(p))
        parent = p.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise NotADirectoryError(_errno.ENOTDIR, "not a folder", str(parent))
        os.unlink(_create_temp(parent / p.name))
    except OSError as e:
        raise output_error(p, e) from None


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` (``\\n`` newlines) to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
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


def load_json(path: str | Path, *, what: str = "file") -> Any:
    """Parse the JSON file ``path``; every problem is a one-line ``ValueError`` naming it.

    ``what`` starts the message (e.g. ``"array file"``): ``"array file 'a.json' does not exist"``,
    ``"... is not valid JSON: Expecting value: line 1 column 1 (char 0)"``, ``"... is not valid JSON
    (not UTF-8 text: a binary file?)"``, ``"... is nested too deeply"``, ``"... cannot be read: permission
    denied"``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{what} '{p}' does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{what} '{p}' is a folder, not a JSON file") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} '{p}' is not valid JSON (not UTF-8 text: a binary file?)") from None
    except OSError as e:
        raise ValueError(f"{what} '{p}' cannot be read: {(e.strerror or str(e)).lower()}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} '{p}' is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"{what} '{p}' is nested too deeply to be a soundloc JSON file") from None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (weights and checkpoint integrity)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing_folders(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, innermost first (what ``mkdir -p``
    would create: a failed run removes exactly these and nothing else)."""
    missing = []
    p = Path(path)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    return missing
