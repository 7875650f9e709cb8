"""Classical sound source localizers: GCC-PHAT, SRP-PHAT, MUSIC, NormMUSIC, intensity vector (FOA).

All share one interface (:class:`Localizer`): ``locate(x (M, N), num_sources) -> DOAResult``
with azimuth / elevation in degrees (azimuth CCW from +x in (-180, 180], elevation up), the
spatial spectrum on the grid, batched ``locate_batch`` and windowed ``locate_frames``.

Example:
    >>> from soundloc.ambisonics import FoaFormat
from soundloc.geometry import MicArray
    >>> from soundloc.doa import get_localizer
    >>> loc = get_localizer("srp-phat", MicArray.preset("circular4"), 16000)
    >>> res = loc.locate(x, num_sources=2)          # x: (4, N) float
    >>> res.azimuth, res.elevation                   # degrees, strongest first
"""

from __future__ import annotations

from soundloc.ambisonics import FoaFormat
from soundloc.doa.base import DOAResult, Localizer
from soundloc.doa.gcc_phat import GCCPHAT, gcc_phat_tdoa
from soundloc.doa.intensity import IntensityVector
from soundloc.doa.music import MUSIC, NormMUSIC
from soundloc.doa.srp_phat import SRPPHAT
from soundloc.features.stft import stft
from soundloc.geometry import MicArray

LOCALIZERS: dict[str, type[Localizer]] = {
    GCCPHAT.name: GCCPHAT,
    SRPPHAT.name: SRPPHAT,
    MUSIC.name: MUSIC,
    NormMUSIC.name: NormMUSIC,
    IntensityVector.name: IntensityVector,
}
"""Registry: name -> localizer class."""

ALIASES: dict[str, str] = {"foa-iv": IntensityVector.name}
"""Other accepted spellings of registry names."""


def localizers_for(array: MicArray | FoaFormat) -> list[str]:
    """Registry names that work on ``array``: delay-based methods need a spaced mic array,
    ``iv`` needs FOA; SRP-PHAT, MUSIC and NormMUSIC work on both."""
    if array.is_coincident:
        return [n for n, cls in LOCALIZERS.items() if cls.supports_coincident]
    return [n for n, cls in LOCALIZERS.items() if cls is not IntensityVector]


def get_localizer(name: str, array: MicArray | FoaFormat, fs: int, **kwargs) -> Localizer:
    """Build the localizer ``name`` (see :data:`LOCALIZERS`) for ``array`` at ``fs`` Hz.

    ``kwargs`` go to the class (``grid``, ``nfft``, ``hop``, ``fmin``, ``fmax``, ``c``,
    ``device`` and method-specific options). Names are case-insensitive; ``_`` equals ``-``.

    Raises:
        ValueError: unknown name (the message lists the choices) or bad arguments.
    """
    key = str(name).lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in LOCALIZERS:
        raise ValueError(f"unknown localizer '{name}'; choose from {', '.join(LOCALIZERS)}")
    return LOCALIZERS[key](array, fs, **kwargs)


__all__ = ["DOAResult", "Localizer", "LOCALIZERS", "get_localizer", "GCCPHAT", "SRPPHAT", "MUSIC", "NormMUSIC",
           "IntensityVector", "localizers_for", "ALIASES", "gcc_phat_tdoa", "stft"]
