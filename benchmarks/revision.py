"""Build objects from the ``soundloc`` of another git revision, in this process (benchmark baselines).

:func:`from_revision` extracts ``src/soundloc`` of ``REV`` with ``git archive`` into a folder,
imports it in place of the current package, calls ``build()`` and then drops it from
``sys.modules`` again (the current package is restored). The objects ``build()`` returns keep their
own modules, so a benchmark can time the revision's code and the current code alternately in one
process, where machine load hits both alike.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def _soundloc_modules() -> dict[str, object]:
    return {k: v for k, v in sys.modules.items() if k == "soundloc" or k.startswith("soundloc.")}


def from_revision(rev: str, folder: str | Path, build: Callable[[], T]) -> T:
    """``build()`` run with the ``soundloc`` of git revision ``rev`` (extracted under ``folder``) importable."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src/soundloc"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(folder, filter="data")
    src = str(Path(folder) / "src")
    saved = _soundloc_modules()
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, src)
    importlib.invalidate_caches()
    try:
        out = build()
        assert Path(sys.modules["soundloc"].__file__ or "").is_relative_to(folder), f"revision {rev}: import failed"
    finally:
        sys.path.remove(src)
        for k in _soundloc_modules():
            del sys.modules[k]
        sys.modules.update(saved)  # type: ignore[arg-type]
        importlib.invalidate_caches()
    return out
