"""Digit glyphs drawn from the fonts matplotlib ships (DejaVu, STIX, Computer Modern).

A glyph is rasterised without anti-aliasing by matplotlib's Agg renderer (non-zero winding, so the
holes of 0, 4, 6, 8, 9 stay open), which makes its mask exact: a pixel belongs to the object or not.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DIGIT_FONTS", "font_path", "render_digit"]

DIGIT_FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmb10.ttf", "cmti10.ttf",
)
"""Font files (in matplotlib's ``mpl-data/fonts/ttf``) whose digits are drawn; 21 faces."""


def font_path(name: str) -> Path:
    """Path of one of matplotlib's bundled fonts; ValueError if it is not there."""
    import matplotlib

    p = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not p.is_file():
        raise ValueError(f"font {name!r} is not shipped by this matplotlib ({p})")
    return p


@lru_cache(maxsize=512)
def _glyph_path(font: str, digit: int) -> tuple[Any, Any]:
    """(matplotlib ``TextPath`` of the digit at size 1, its extents ``Bbox``)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), str(digit), size=1, prop=FontProperties(fname=str(font_path(font))))
    return path, path.get_extents()


def render_digit(digit: int, font: str, *, height: int, angle_deg: float = 0.0, shear: float = 0.0,
                 aspect: float = 1.0) -> NDArray[np.bool_]:
    """Binary mask ``(h, w)`` of ``digit`` (0-9) in ``font``, about ``height`` pixels tall before the
    rotation by ``angle_deg`` (counter-clockwise on screen), horizontal ``shear`` and width ``aspect``;
    cropped tight (every border row and column holds glyph pixels)."""
    from matplotlib.backends import backend_agg
    from matplotlib.transforms import Affine2D

    renderer_agg: Any = backend_agg.RendererAgg  # untyped in matplotlib's stubs

    if not 0 <= int(digit) <= 9:
        raise ValueError(f"digit must be 0-9, got {digit!r}")
    if height < 4:
        raise ValueError(f"glyph height must be at least 4 pixels, got {height!r}")
    path, ext = _glyph_path(font, int(digit))
    tr = (Affine2D().translate(-(ext.x0 + ext.x1) / 2, -(ext.y0 + ext.y1) / 2)
          .scale(aspect * height / ext.height, height / ext.height)
          .skew(np.arctan(shear), 0.0).rotate_deg(angle_deg))
    corners = tr.transform([[ext.x0, ext.y0], [ext.x0, ext.y1], [ext.x1, ext.y0], [ext.x1, ext.y1]])
    size = int(np.ceil(np.abs(corners).max() * 2)) + 4
    renderer = renderer_agg(size, size, 72)
    gc = renderer.new_gc()
    gc.set_antialiased(False)
    gc.set_linewidth(0)
    renderer.draw_path(gc, path, tr.translate(size / 2, size / 2), (1.0, 1.0, 1.0, 1.0))
    mask = np.asarray(renderer.buffer_rgba())[..., 3] > 127
    gc.restore()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:  # pragma: no cover - every font here has digits
        raise ValueError(f"font {font!r} draws nothing for digit {digit}")
    out: NDArray[np.bool_] = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy()
    return out
