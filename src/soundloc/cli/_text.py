"""Plain-text output shared by the sub-commands."""

from __future__ import annotations

from typing import Collection, Sequence


def align_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Collection[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart: columns in ``left`` left-aligned,
    the others right-aligned; trailing spaces stripped. The header is the first line."""
    widths = [max(len(h), *(len(r[j]) for r in rows)) if rows else len(h) for j, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([fmt(header)] + [fmt(r) for r in rows])
