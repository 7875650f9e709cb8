"""Source-clip collections: the built-in offline corpus and folder datasets.

``builtin_corpus()`` renders (once, then cached) 16 classes of instrument, effect and
speech sounds with no network; ``folder_corpus(root)`` reads a user's collection (class =
sub-folder, or a ``filename,label`` CSV, or the ESC-50 / FSD50K / FSDnoisy18k metadata
CSVs); ``get_corpus(spec)`` picks one from a string.
"""

from __future__ import annotations

from pathlib import Path

from .base import ClipRef, Corpus, slugify
from .builtin import CORPUS_FS, builtin_corpus, default_cache_dir
from .folder import folder_corpus
from .recipes import BUILTIN_CLASSES, DEFAULT_CLASSES

__all__ = [
    "BUILTIN_CLASSES",
    "CORPUS_FS",
    "ClipRef",
    "Corpus",
    "DEFAULT_CLASSES",
    "builtin_corpus",
    "default_cache_dir",
    "folder_corpus",
    "get_corpus",
    "slugify",
]


def get_corpus(spec: str | Path = "builtin", **kw) -> Corpus:
    """``"builtin"`` -> :func:`builtin_corpus` (``**kw`` passed on); an existing folder ->
    :func:`folder_corpus`. Anything else raises ValueError."""
    if isinstance(spec, str) and spec.strip().lower() == "builtin":
        return builtin_corpus(**kw)
    p = Path(spec).expanduser()
    if p.is_dir():
        return folder_corpus(p, **kw)
    raise ValueError(f"unknown corpus {str(spec)!r}: use 'builtin' or the path of an existing folder")
