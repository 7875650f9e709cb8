"""First-order ambisonics (FOA): channel conventions, converters, encoder and the FOA "array".

soundloc's FOA format is the one of STARSS23 / TAU-NIGENS ``foa_dev``: **ACN** channel order
``(W, Y, Z, X)`` with **SN3D** normalisation. A plane wave carrying signal ``s(t)`` from the unit
direction ``u = (u_x, u_y, u_z)`` (x front, y left, z up; the direction *towards* the source) is
encoded as::

    W = s,   Y = u_y s,   Z = u_z s,   X = u_x s          (ACN / SN3D)

i.e. the real first-order spherical harmonics ``Y_0^0 = 1``, ``Y_1^-1 = sin(az) cos(el)``,
``Y_1^0 = sin(el)``, ``Y_1^1 = cos(az) cos(el)`` (:func:`sh_gains`). Other conventions:

* **N3D** (ACN order): the first-order channels are ``sqrt(3)`` times the SN3D ones
  (``N3D_l = sqrt(2 l + 1) SN3D_l``), W is the same.
* **FuMa** (B-format, order ``W, X, Y, Z``): first-order channels equal SN3D's, W is scaled by
  ``1 / sqrt(2)``.

Converters take channels on ``axis`` (default ``-2``: waveforms ``(..., 4, samples)``) and
return a new float array.

:class:`FoaFormat` lets FOA recordings be used wherever a :class:`~soundloc.geometry.MicArray`
is: both have ``name``, ``num_channels`` (alias ``num_mics``), ``delays(directions, c)``,
``gains(directions)`` and the far-field steering model ``steering(directions, freqs, c)``
``a_m(f, u) = g_m(u) exp(-2j pi f tau_m(u))``. An FOA "array" is *coincident* (all channels at
one point: ``tau = 0``) and *directional* (``g = sh_gains``), so its steering vector is the
frequency-independent ``[1, u_y, u_z, u_x]``; a microphone array is spaced and omnidirectional
(``g = 1``). Localizers that rely on inter-channel delays (GCC-PHAT) refuse FOA.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

ACN_CHANNELS: tuple[str, ...] = ("W", "Y", "Z", "X")
"""Channel names of soundloc's FOA format, in file order (ACN)."""

FUMA_CHANNELS: tuple[str, ...] = ("W", "X", "Y", "Z")
"""Channel names of FuMa B-format, in file order."""

FOA_NAMES: tuple[str, ...] = ("foa",)
"""Names that :func:`soundloc.geometry.get_array` resolves to :class:`FoaFormat`."""

DIFFUSE_STD = np.array([1.0, 1.0 / math.sqrt(3.0), 1.0 / math.sqrt(3.0), 1.0 / math.sqrt(3.0)])
"""Per-channel RMS of a spherically diffuse field in ACN/SN3D FOA relative to W: the energies are
``1, 1/3, 1/3, 1/3`` (the mean of ``u_x^2`` over the sphere is 1/3) and the channels are mutually
uncorrelated (``E[u_x] = E[u_x u_y] = 0``)."""

_N3D_SCALE = np.array([1.0, math.sqrt(3.0), math.sqrt(3.0), math.sqrt(3.0)])  # N3D = scale * SN3D (ACN)
_FUMA_FROM_ACN = np.array([0, 3, 1, 2])  # FuMa channel k is ACN channel _FUMA_FROM_ACN[k]
_ACN_FROM_FUMA = np.array([0, 2, 3, 1])  # ACN channel k is FuMa channel _ACN_FROM_FUMA[k]
_FUMA_W = 1.0 / math.sqrt(2.0)


def _channels(x: ArrayLike, axis: int, what: str) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0 or a.shape[axis] != 4:
        raise ValueError(f"{what}: expected 4 first-order channels on axis {axis}, got shape {a.shape}")
    return a


def _scale(a: NDArray[np.float64], s: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    shape = [1] * a.ndim
    shape[axis] = 4
    return a * s.reshape(shape)


def n3d_to_sn3d(x: ArrayLike, axis: int = -2) -> NDArray[np.float64]:
    """ACN/N3D -> ACN/SN3D: divide the first-order channels by ``sqrt(3)``."""
    return _scale(_channels(x, axis, "n3d_to_sn3d"), 1.0 / _N3D_SCALE, axis)


def sn3d_to_n3d(x: ArrayLike, axis: int = -2) -> NDArray[np.float64]:
    """ACN/SN3D -> ACN/N3D: multiply the first-order channels by ``sqrt(3)``."""
    return _scale(_channels(x, axis, "sn3d_to_n3d"), _N3D_SCALE, axis)


def fuma_to_sn3d(x: ArrayLike, axis: int = -2) -> NDArray[np.float64]:
    """FuMa ``(W, X, Y, Z)`` with ``W / sqrt(2)`` -> ACN/SN3D ``(W, Y, Z, X)``."""
    a = np.take(_channels(x, axis, "fuma_to_sn3d"), _ACN_FROM_FUMA, axis=axis)
    return _scale(a, np.array([1.0 / _FUMA_W, 1.0, 1.0, 1.0]), axis)


def sn3d_to_fuma(x: ArrayLike, axis: int = -2) -> NDArray[np.float64]:
    """ACN/SN3D ``(W, Y, Z, X)`` -> FuMa ``(W, X, Y, Z)`` with W scaled by ``1 / sqrt(2)``."""
    a = np.take(_channels(x, axis, "sn3d_to_fuma"), _FUMA_FROM_ACN, axis=axis)
    return _scale(a, np.array([_FUMA_W, 1.0, 1.0, 1.0]), axis)


def _sn3d_copy(x: ArrayLike, axis: int = -2) -> NDArray[np.float64]:
    return np.array(_channels(x, axis, "to_sn3d"), dtype=np.float64)


CONVERTERS: dict[str, Callable[..., NDArray[np.float64]]] = {"n3d": n3d_to_sn3d, "fuma": fuma_to_sn3d, "sn3d": _sn3d_copy}
"""Registry: source convention -> converter to ACN/SN3D (``f(x, axis=-2)``)."""


def to_sn3d(x: ArrayLike, convention: str, axis: int = -2) -> NDArray[np.float64]:
    """Convert FOA in ``convention`` (``"sn3d"``, ``"n3d"`` or ``"fuma"``) to ACN/SN3D.

    Raises:
        ValueError: unknown convention (the message lists the choices) or not 4 channels.
    """
    key = str(convention).lower()
    if key not in CONVERTERS:
        raise ValueError(f"unknown FOA convention '{convention}'; choose from {', '.join(CONVERTERS)}")
    return CONVERTERS[key](x, axis=axis)


def _directions(directions: ArrayLike) -> NDArray[np.float64]:
    u = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if u.ndim != 2 or u.shape[1] != 3:
        raise ValueError(f"directions must be (G, 3) vectors, got shape {u.shape}")
    n = np.linalg.norm(u, axis=1, keepdims=True)
    if not np.all(np.isfinite(u)) or np.any(n == 0):
        raise ValueError("directions must be finite non-zero vectors")
    out: NDArray[np.float64] = u / n
    return out


def sh_gains(directions: ArrayLike) -> NDArray[np.float64]:
    """Real first-order spherical-harmonic gains, ACN/SN3D.

    Args:
        directions: ``(G, 3)`` vectors towards the sources (normalised here).

    Returns:
        ``(G, 4)``: ``[1, u_y, u_z, u_x]`` = ``[1, sin az cos el, sin el, cos az cos el]``.
    """
    u = _directions(directions)
    return np.stack([np.ones(len(u)), u[:, 1], u[:, 2], u[:, 0]], axis=1)


def encode_plane_wave(signal: ArrayLike, direction: ArrayLike) -> NDArray[np.float64]:
    """Encode mono signal(s) arriving as plane waves from ``direction`` into ACN/SN3D FOA.

    Args:
        signal: ``(N,)`` one source, or ``(S, N)`` one row per source.
        direction: ``(3,)`` or ``(S, 3)`` vectors towards the sources.

    Returns:
        ``(4, N)`` FOA: the sum over sources of ``sh_gains(u_s)[:, None] * s``.
    """
    s = np.atleast_2d(np.asarray(signal, dtype=np.float64))
    g = sh_gains(direction)  # (S, 4)
    if s.ndim != 2 or len(g) != len(s):
        raise ValueError(f"encode_plane_wave: {len(s)} signals but {len(g)} directions")
    return np.asarray(g.T @ s, dtype=np.float64)


@dataclass(frozen=True)
class FoaFormat:
    """First-order ambisonics (ACN/SN3D) as a far-field "array": 4 coincident directional channels.

    Usable wherever a :class:`~soundloc.geometry.MicArray` is accepted (``get_array("foa")``):
    localizers steer with :meth:`steering`, the fast RIR backend encodes every image source with
    :meth:`gains`. It has no microphone positions: ``delays`` are all zero (coincident channels).

    Example:
        >>> foa = FoaFormat()
        >>> foa.steering(np.array([[1.0, 0, 0]]), np.array([1000.0])).shape
        (1, 1, 4)
    """

    name: str = "foa"
    kind: ClassVar[str] = "foa"
    channel_names: ClassVar[tuple[str, ...]] = ACN_CHANNELS
    is_planar: ClassVar[bool] = False
    is_linear: ClassVar[bool] = False
    is_coincident: ClassVar[bool] = True
    aperture: ClassVar[float] = 0.0

    @property
    def num_channels(self) -> int:
        return 4

    @property
    def num_mics(self) -> int:
        """Alias of :attr:`num_channels` for code written against :class:`MicArray`."""
        return 4

    def gains(self, directions: ArrayLike) -> NDArray[np.float64]:
        """Direction gains ``(G, 4)`` (:func:`sh_gains`)."""
        return sh_gains(directions)

    def delays(self, directions: ArrayLike, c: float | None = None) -> NDArray[np.float64]:
        """Far-field delays ``(G, 4)`` in seconds: all zero (the channels are coincident)."""
        return np.zeros((len(_directions(directions)), 4))

    def steering(self, directions: ArrayLike, freqs: ArrayLike, c: float | None = None) -> NDArray[np.complex128]:
        """Far-field steering vectors ``(F, G, 4)``: ``sh_gains(u)`` at every frequency (``c`` unused)."""
        f = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
        g = sh_gains(directions).astype(np.complex128)
        return np.array(np.broadcast_to(g[None], (len(f), *g.shape)), dtype=np.complex128)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "format": "foa", "channel_order": "ACN", "normalization": "SN3D"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoaFormat:
        """Inverse of :meth:`to_dict` (ValueError for another channel order / normalisation)."""
        if not is_foa_dict(data):
            raise ValueError(f"not an FOA description: {data!r}")
        order = str(data.get("channel_order", "ACN")).upper()
        norm = str(data.get("normalization", "SN3D")).upper()
        if order != "ACN" or norm != "SN3D":
            raise ValueError(f"FOA must be ACN/SN3D (convert with soundloc.ambisonics.to_sn3d), got {order}/{norm}")
        return cls(name=str(data.get("name", "foa")))


def is_foa_dict(data: object) -> bool:
    """True for a dict written by :meth:`FoaFormat.to_dict`."""
    return isinstance(data, dict) and str(data.get("format", "")).lower() == "foa"
