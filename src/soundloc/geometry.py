"""Microphone arrays, angle helpers and direction-of-arrival (DOA) grids.

Conventions (the DCASE ones, used everywhere in soundloc):

* Coordinates: x front, y left, z up, in metres.
* Azimuth: counter-clockwise from +x, in (-180, 180] degrees.
* Elevation: up from the horizontal plane, in [-90, 90] degrees.
* Degrees at the edges (files, CLI, reports); radians or unit vectors inside.
  Functions here say which they take.

A direction ``u`` is the unit vector pointing *from the array towards the source*.
Under the far-field model a plane wave from ``u`` reaches microphone ``m`` at time
``tau_m = -(p_m - c0) . u / c`` relative to the array centre ``c0`` (mics nearer the
source hear it first, so their delay is negative).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundloc.ambisonics import FOA_NAMES, FoaFormat, is_foa_dict

SPEED_OF_SOUND = 343.0
"""Default speed of sound in m/s (about 20 degrees C). Always a parameter, never a global to mutate."""

MAX_MICS = 256
"""Most microphones a :class:`MicArray` may have. Pairwise methods work on ``M (M - 1) / 2`` mic
pairs (32 640 at 256); larger arrays would exhaust memory long before giving an answer."""

LENGTH_UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001}
"""Units an array file's ``"units"`` field may name, with their size in metres."""

APERTURE_WARN_M = 1.0
"""An array file without ``"units"`` whose aperture exceeds this many metres gets a warning."""

APERTURE_REFUSE_M = 2.0
"""An array file without ``"units"`` whose aperture exceeds this many metres is refused: positions
in millimetres or centimetres read as metres give a confident wrong direction. Distributed arrays
that large are fine with ``"units": "m"``."""


# ---------------------------------------------------------------------------
# angle helpers
# ---------------------------------------------------------------------------


def unit_vectors(azimuth: np.ndarray | float, elevation: np.ndarray | float) -> np.ndarray:
    """Unit vectors from azimuth/elevation in **radians**; shape ``(..., 3)``."""
    az = np.asarray(azimuth, dtype=float)
    el = np.asarray(elevation, dtype=float)
    az, el = np.broadcast_arrays(az, el)
    ce = np.cos(el)
    return np.stack([ce * np.cos(az), ce * np.sin(az), np.sin(el)], axis=-1)


def unit_vectors_deg(azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float) -> np.ndarray:
    """Unit vectors from azimuth/elevation in **degrees**; shape ``(..., 3)``."""
    return unit_vectors(np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg))


def cart_to_sph(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian ``(..., 3)`` to ``(azimuth_rad, elevation_rad, radius)``.

    Azimuth is in (-pi, pi]; a zero vector gives azimuth 0, elevation 0, radius 0.
    """
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    r = np.sqrt(x * x + y * y + z * z)
    az = np.arctan2(y, x)
    az = np.where(az <= -np.pi, az + 2 * np.pi, az)
    with np.errstate(invalid="ignore", divide="ignore"):
        el = np.where(r > 0, np.arcsin(np.clip(z / np.where(r > 0, r, 1.0), -1.0, 1.0)), 0.0)
    return az, el, r


def cart_to_sph_deg(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian ``(..., 3)`` to ``(azimuth_deg, elevation_deg)`` in the DCASE ranges."""
    az, el, _ = cart_to_sph(xyz)
    return wrap_azimuth_deg(np.rad2deg(az)), np.rad2deg(el)


def wrap_azimuth_deg(azimuth_deg: np.ndarray | float) -> np.ndarray:
    """Wrap azimuth in degrees into (-180, 180]."""
    a = np.mod(np.asarray(azimuth_deg, dtype=float) + 180.0, 360.0) - 180.0
    return np.where(a == -180.0, 180.0, a)


def rotation_matrix(yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """3x3 rotation ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (intrinsic z-y'-x'').

    Yaw turns counter-clockwise about +z (so it adds to azimuth), pitch about +y, roll about +x.
    """
    cy, sy = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cp, sp = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    cr, sr = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


def angular_separation_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Great-circle angle in degrees between unit vectors ``u (..., 3)`` and ``v (..., 3)`` (broadcast)."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    # atan2 form: accurate near 0 and 180 degrees, unlike arccos of the dot product.
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = np.sum(u * v, axis=-1)
    return np.rad2deg(np.arctan2(cross, dot))


# ---------------------------------------------------------------------------
# microphone arrays
# ---------------------------------------------------------------------------


def _circle(n: int, radius: float, start_deg: float = 0.0, z: float = 0.0) -> np.ndarray:
    ang = np.deg2rad(start_deg + 360.0 * np.arange(n) / n)
    return np.stack([radius * np.cos(ang), radius * np.sin(ang), np.full(n, z)], axis=1)


def _tetra() -> np.ndarray:
    # DCASE / TAU-SRIR "MIC" format: 4 capsules of the Eigenmike em32 at radius 4.2 cm,
    # (azimuth, elevation) = (45, 35), (-45, -35), (135, -35), (-135, 35) degrees.
    az = np.array([45.0, -45.0, 135.0, -135.0])
    el = np.array([35.0, -35.0, -35.0, 35.0])
    return 0.042 * unit_vectors_deg(az, el)


def _uma8() -> np.ndarray:
    # miniDSP UMA-8: one centre mic and six on a 43 mm radius circle.
    return np.vstack([np.zeros((1, 3)), _circle(6, 0.043)])


PRESETS: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "circular4": (lambda: _circle(4, 0.05), "4 mics on a 10 cm diameter circle (MC-SimCLR), mic 0 on +x"),
    "circular6": (lambda: _circle(6, 0.05), "6 mics on a 10 cm diameter circle"),
    "circular8": (lambda: _circle(8, 0.05), "8 mics on a 10 cm diameter circle"),
    "tetra": (_tetra, "DCASE/Eigenmike tetrahedral MIC format, 4 capsules at r = 4.2 cm"),
    "respeaker4": (lambda: _circle(4, 0.0324, start_deg=45.0), "ReSpeaker 4-mic (USB v2.0): square, r = 32.4 mm"),
    "respeaker6": (lambda: _circle(6, 0.0463), "ReSpeaker 6-mic circular array, r = 46.3 mm"),
    "uma8": (_uma8, "miniDSP UMA-8: centre mic + 6 on a 43 mm radius circle"),
    "linear4": (
        lambda: np.stack([np.zeros(4), (np.arange(4) - 1.5) * 0.04, np.zeros(4)], axis=1),
        "4-mic uniform linear array along y, 4 cm spacing",
    ),
    "stereo": (
        lambda: np.array([[0.0, 0.05, 0.0], [0.0, -0.05, 0.0]]),
        "2 mics 10 cm apart on the y axis (left, right); front/back ambiguous",
    ),
}
"""Registry of named arrays: name -> (positions factory, one-line description)."""

BAFFLE_TYPES: tuple[str, ...] = ("sphere",)
"""Kinds of baffle a :class:`MicArray` may be mounted on (``MicArray.baffle``)."""


@dataclass(frozen=True)
class SphereBaffle:
    """A rigid sphere the microphones sit on (Eigenmike-style), centred at the array's centroid.

    The simulator then filters every arriving plane wave by the rigid-sphere scattering response
    (:mod:`soundloc.scenes.sphere`); without a baffle the mics are free-field omni points. The
    localizers' steering model stays free-field (what users of real spherical arrays do today).

    Attributes:
        radius: sphere radius in metres (the em32's is 0.042).
    """

    radius: float

    def __post_init__(self) -> None:
        r = self.radius
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not (math.isfinite(r) and 0 < r <= 1.0):
            raise ValueError(f"baffle radius must be a number in (0, 1] m, got {r!r}")
        object.__setattr__(self, "radius", float(r))

    def to_dict(self) -> dict[str, object]:
        """``{"type": "sphere", "radius": metres}``."""
        return {"type": "sphere", "radius": self.radius}

    @classmethod
    def from_dict(cls, data: object, *, scale: float = 1.0, where: str = "array") -> SphereBaffle:
        """Inverse of :meth:`to_dict`; ``radius`` is multiplied by ``scale`` (the file's length unit)."""
        if not isinstance(data, dict) or data.get("type") not in BAFFLE_TYPES:
            raise ValueError(f'{where}: "baffle" must be {{"type": "sphere", "radius": metres}}, got {data!r}')
        unknown = sorted(set(data) - {"type", "radius"})
        if unknown:
            raise ValueError(f'{where}: unknown "baffle" key {unknown[0]!r}; valid keys: type, radius')
        r = data.get("radius")
        if isinstance(r, bool) or not isinstance(r, (int, float)):
            raise ValueError(f'{where}: "baffle" radius must be a number, got {r!r}')
        try:
            return cls(radius=float(r) * scale)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None


BAFFLED_PRESETS: dict[str, tuple[str, float, str]] = {
    "tetra-sphere": ("tetra", 0.042, "the tetra MIC capsules on the em32's rigid sphere (r = 4.2 cm): "
                                     "simulated with rigid-sphere scattering"),
}
"""Presets mounted on a rigid sphere: name -> (base preset of :data:`PRESETS`, sphere radius in m, description).
Same positions as the base preset, plus ``baffle=SphereBaffle(radius)`` (opt-in: ``tetra`` stays free-field)."""


@dataclass(frozen=True, eq=False)
class MicArray:
    """A microphone array: positions in metres in the array's own frame (x front, y left, z up).

    Args:
        name: a label for reports and files.
        positions: ``(M, 3)`` (or ``(M, 2)``, z = 0) microphone positions in metres.
        baffle: None (free-field omni mics, the default) or a :class:`SphereBaffle`: the mics sit
            on a rigid sphere centred at their centroid (each within 2 % of its radius from it).

    Raises:
        ValueError: fewer than 2 mics, non-finite or coincident positions, wrong shape, a mic off
            the sphere baffle.

    Example:
        >>> arr = MicArray.preset("circular4")
        >>> arr.num_mics
        4
    """

    name: str
    positions: np.ndarray = field(repr=False)
    baffle: SphereBaffle | None = None

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=float)
        if pos.ndim != 2 or pos.shape[1] not in (2, 3):
            raise ValueError(f"array '{self.name}': positions must be a list of [x, y, z] points, got shape {pos.shape}")
        if pos.shape[1] == 2:
            pos = np.hstack([pos, np.zeros((pos.shape[0], 1))])
        if pos.shape[0] < 2:
            raise ValueError(f"array '{self.name}': need at least 2 microphones, got {pos.shape[0]}")
        if pos.shape[0] > MAX_MICS:
            raise ValueError(f"array '{self.name}': {pos.shape[0]} microphones; soundloc supports at most {MAX_MICS}")
        if not np.all(np.isfinite(pos)):
            raise ValueError(f"array '{self.name}': positions contain NaN or infinity")
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        d[np.diag_indices_from(d)] = np.inf
        if d.min() < 1e-4:
            i, j = np.unravel_index(np.argmin(d), d.shape)
            raise ValueError(f"array '{self.name}': microphones {i} and {j} are at the same position")
        if np.abs(pos).max() > 100.0:
            raise ValueError(f"array '{self.name}': positions must be in metres (found a coordinate > 100 m)")
        pos.setflags(write=False)
        object.__setattr__(self, "positions", pos)
        if self.baffle is not None:
            self._check_baffle(pos)

    def _check_baffle(self, pos: np.ndarray) -> None:
        if not isinstance(self.baffle, SphereBaffle):
            raise ValueError(f"array '{self.name}': baffle must be a SphereBaffle or None, got {self.baffle!r}")
        r = self.baffle.radius
        dist = np.linalg.norm(pos - pos.mean(axis=0), axis=1)
        bad = int(np.argmax(np.abs(dist - r)))
        if abs(dist[bad] - r) > 0.02 * r:
            raise ValueError(f"array '{self.name}': mic {bad} is {dist[bad]:.4g} m from the centre, "
                             f"not on the sphere baffle of radius {r:.4g} m")

    def __eq__(self, other: object) -> bool:
        # The generated dataclass __eq__ would compare the position arrays with `==` and raise.
        if not isinstance(other, MicArray):
            return NotImplemented
        return (self.name == other.name and np.array_equal(self.positions, other.positions)
                and self.baffle == other.baffle)

    def __hash__(self) -> int:
        return hash((self.name, self.positions.tobytes(), self.baffle))

    # -- construction ----------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> MicArray:
        """A named preset (see :data:`PRESETS` and :data:`BAFFLED_PRESETS`)."""
        if name in BAFFLED_PRESETS:
            base, radius, _ = BAFFLED_PRESETS[name]
            return cls(name=name, positions=PRESETS[base][0](), baffle=SphereBaffle(radius))
        if name not in PRESETS:
            raise ValueError(f"unknown array '{name}'; presets: {', '.join(_preset_names())} (or a .json file)")
        return cls(name=name, positions=PRESETS[name][0]())

    @classmethod
    def from_json(cls, path: str | Path) -> MicArray:
        """Load ``{"name": ..., "positions": [[x, y, z], ...], "units": "m"}`` (see :meth:`from_dict`).

        A simulated dataset's ``dataset.json`` works too (its ``"array"`` entry, in metres, is
        used), so ``soundloc localize OUT/audio/test --array OUT/dataset.json`` needs no separate
        array file. Every error is a one-line ``ValueError`` naming the file.
        """
        from soundloc.fileio import load_json

        path = Path(path)
        where = f"array file '{path}'"
        data = load_json(path, what="array file")
        units = None
        if isinstance(data, dict) and "positions" not in data and isinstance(data.get("array"), dict):
            data = data["array"]  # a soundloc dataset.json: the array its clips were recorded with
            units = "m"
        if not isinstance(data, dict) or "positions" not in data:
            raise ValueError(f"{where} must be an object with a 'positions' list of [x, y, z]")
        return cls._from_data(data, where=where, default_name=path.stem, default_units=units)

    def to_json(self, path: str | Path) -> None:
        """Write ``{"name", "positions", "units": "m"}`` JSON (atomic: temp file then rename)."""
        from soundloc.fileio import write_json_atomic

        write_json_atomic(path, self.to_dict())

    def to_dict(self) -> dict:
        """``{"name", "positions", "units": "m"}``, plus ``"baffle"`` (:meth:`SphereBaffle.to_dict`) when set."""
        d = {"name": self.name, "positions": self.positions.tolist(), "units": "m"}
        if self.baffle is not None:
            d["baffle"] = self.baffle.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict) -> MicArray:
        """An array from ``{"name": str, "positions": [[x, y, z], ...], "units": "m"|"cm"|"mm"}``.

        ``"units"`` (default metres) scales the positions (and a ``"baffle"``'s radius, see
        :class:`SphereBaffle`) to metres. Without it, an aperture over
        :data:`APERTURE_REFUSE_M` (2 m) is refused with a message naming the likely unit (positions
        in mm or cm read as metres give confident wrong directions) and one over
        :data:`APERTURE_WARN_M` (1 m) gives a ``UserWarning``; ``"units": "m"`` confirms metres.
        At most :data:`MAX_MICS` microphones.
        """
        if not isinstance(data, dict) or "positions" not in data:
            raise ValueError("array data must be an object with a 'positions' list of [x, y, z]")
        return cls._from_data(data, where=f"array '{data.get('name', 'array')}'", default_name="array")

    @classmethod
    def _from_data(cls, data: dict, *, where: str, default_name: str, default_units: str | None = None) -> MicArray:
        units = data.get("units", default_units)
        if units is not None and units not in LENGTH_UNITS:
            raise ValueError(f"{where}: \"units\" must be one of {', '.join(LENGTH_UNITS)}, got {units!r}")
        raw = data["positions"]
        if isinstance(raw, list) and len(raw) > MAX_MICS:  # before any O(M^2) work
            raise ValueError(f"{where}: {len(raw)} microphones; soundloc supports at most {MAX_MICS}")
        try:
            pos = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: 'positions' must be a list of [x, y, z] numbers") from None
        if pos.ndim == 2 and pos.shape[1] in (2, 3) and 2 <= pos.shape[0] <= MAX_MICS and np.all(np.isfinite(pos)):
            if units is None:
                _check_aperture(pos, where)
            pos = pos * LENGTH_UNITS[units or "m"]
        baffle = None
        if data.get("baffle") is not None:
            baffle = SphereBaffle.from_dict(data["baffle"], scale=LENGTH_UNITS[units or "m"], where=where)
        try:
            return cls(name=str(data.get("name", default_name)), positions=pos, baffle=baffle)
        except ValueError as e:
            raise ValueError(f"{where}: {e}" if where not in str(e) else str(e)) from None

    # -- properties ------------------------------------------------------
    @property
    def num_mics(self) -> int:
        return int(self.positions.shape[0])

    @property
    def center(self) -> np.ndarray:
        """Centroid of the microphones, ``(3,)``."""
        return self.positions.mean(axis=0)

    @property
    def aperture(self) -> float:
        """Largest distance between two microphones, metres."""
        p = self.positions
        return float(np.linalg.norm(p[:, None] - p[None, :], axis=-1).max())

    @property
    def is_planar(self) -> bool:
        """True when all mics lie in one horizontal plane (no elevation resolution, up/down ambiguous)."""
        return bool(np.ptp(self.positions[:, 2]) < 1e-6)

    @property
    def is_linear(self) -> bool:
        """True when all mics lie on one line (within 1e-6 m): mirror directions about it are ambiguous."""
        p = self.positions - self.center
        axis = self._principal_axis()
        off = p - np.outer(p @ axis, axis)  # distance of each mic from the best-fit line
        return bool(np.linalg.norm(off, axis=1).max() < 1e-6)

    def _principal_axis(self) -> np.ndarray:
        """``(3,)`` unit direction of the best-fit line through the mics (first right singular vector)."""
        return np.linalg.svd(self.positions - self.center, full_matrices=False)[2][0]

    def pairs(self) -> np.ndarray:
        """All microphone pairs ``(P, 2)`` with ``i < j``."""
        i, j = np.triu_indices(self.num_mics, k=1)
        return np.stack([i, j], axis=1)

    # -- transforms ------------------------------------------------------
    def rotated(self, yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> MicArray:
        """The array rotated about its centre by :func:`rotation_matrix`."""
        r = rotation_matrix(yaw_deg, pitch_deg, roll_deg)
        c = self.center
        return MicArray(self.name, (self.positions - c) @ r.T + c, baffle=self.baffle)

    def placed(self, position: Sequence[float], yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
        """Absolute mic positions ``(M, 3)`` with the array centre at ``position`` and the given orientation."""
        r = rotation_matrix(yaw_deg, pitch_deg, roll_deg)
        return (self.positions - self.center) @ r.T + np.asarray(position, dtype=float)

    # -- far-field model -------------------------------------------------
    def delays(self, directions: np.ndarray, c: float = SPEED_OF_SOUND) -> np.ndarray:
        """Far-field arrival delays in seconds, ``(G, M)``, relative to the array centre.

        Args:
            directions: ``(G, 3)`` unit vectors towards the sources.
            c: speed of sound, m/s.
        """
        u = np.atleast_2d(np.asarray(directions, dtype=float))
        return -((self.positions - self.center) @ u.T).T / c

    def max_delay(self, c: float = SPEED_OF_SOUND) -> float:
        """Largest possible inter-mic delay in seconds (aperture / c)."""
        return self.aperture / c

    # -- the far-field model shared with FoaFormat (see soundloc.ambisonics) --
    is_coincident = False

    @property
    def num_channels(self) -> int:
        """Same as :attr:`num_mics` (the name :class:`~soundloc.ambisonics.FoaFormat` shares)."""
        return self.num_mics

    def gains(self, directions: np.ndarray) -> np.ndarray:
        """Direction gains ``(G, M)``: all ones (omnidirectional mics)."""
        return np.ones((len(np.atleast_2d(directions)), self.num_mics))

    def steering(self, directions: np.ndarray, freqs: np.ndarray, c: float = SPEED_OF_SOUND) -> np.ndarray:
        """Far-field steering vectors ``(F, G, M)`` complex: ``exp(-2j pi f tau_m(u))``, ``tau`` from :meth:`delays`."""
        f = np.atleast_1d(np.asarray(freqs, dtype=float))
        return np.exp(-2j * np.pi * f[:, None, None] * self.delays(directions, c)[None])


ArrayModel = MicArray | FoaFormat
"""What every consumer of an array accepts: a spaced omni :class:`MicArray` or the coincident
first-order ambisonics :class:`~soundloc.ambisonics.FoaFormat` (shared: ``name``,
``num_channels`` / ``num_mics``, ``is_coincident``, ``delays``, ``gains``, ``steering``, ``to_dict``)."""


def _check_aperture(pos: np.ndarray, where: str) -> None:
    """Refuse / warn about a unit-less array file whose aperture suggests mm or cm (see :data:`APERTURE_REFUSE_M`)."""
    ap = float(np.linalg.norm(pos[:, None] - pos[None, :], axis=-1).max())
    if ap <= APERTURE_WARN_M:
        return
    names = {"mm": "millimetres", "cm": "centimetres"}
    likely = [u for u in ("mm", "cm") if 0.005 <= ap * LENGTH_UNITS[u] <= APERTURE_WARN_M]
    guess = " or ".join(f"{names[u]} ({ap * LENGTH_UNITS[u]:.3g} m)" for u in likely) or "not metres"
    fix = " or ".join(f'"units": "{u}"' for u in likely) or '"units"'
    msg = (f"{where}: aperture {ap:.3g} m: are the positions in {guess}? add {fix} to the file, "
           f'or "units": "m" to confirm metres')
    if ap > APERTURE_REFUSE_M:
        raise ValueError(msg)
    import warnings

    warnings.warn(msg, UserWarning, stacklevel=4)


def get_array(spec: str | Path | MicArray | FoaFormat) -> MicArray | FoaFormat:
    """A preset name, ``"foa"`` (first-order ambisonics, ACN/SN3D), a path to an array JSON file
    (or a dataset's ``dataset.json``), or a :class:`MicArray` / :class:`FoaFormat` (returned as is)."""
    if isinstance(spec, (MicArray, FoaFormat)):
        return spec
    s = str(spec)
    if s in PRESETS or s in BAFFLED_PRESETS:
        return MicArray.preset(s)
    if s.lower() in FOA_NAMES:
        return FoaFormat()
    if s.endswith(".json") or Path(s).is_file():
        foa = _foa_from_json(Path(s))
        return foa if foa is not None else MicArray.from_json(s)
    raise ValueError(f"unknown array '{s}'; presets: {', '.join(_preset_names())}, foa (or a .json file)")


def _preset_names() -> list[str]:
    return sorted([*PRESETS, *BAFFLED_PRESETS])


def array_from_dict(data: dict) -> MicArray | FoaFormat:
    """Inverse of ``to_dict`` for either kind of array (an FOA dict has ``"format": "foa"``)."""
    return FoaFormat.from_dict(data) if is_foa_dict(data) else MicArray.from_dict(data)


def _foa_from_json(path: Path) -> FoaFormat | None:
    from soundloc.fileio import load_json

    try:
        data = load_json(path, what="array file")
    except ValueError:
        return None  # MicArray.from_json reports the problem
    if isinstance(data, dict) and is_foa_dict(data.get("array")):
        data = data["array"]
    return FoaFormat.from_dict(data) if is_foa_dict(data) else None


# ---------------------------------------------------------------------------
# DOA grids
# ---------------------------------------------------------------------------


def _pick(candidates: np.ndarray, dirs: np.ndarray, cos_sep: float, k: int, chosen: list[int]) -> None:
    """Greedy: append to ``chosen`` each candidate (in order) farther than ``cos_sep`` from all chosen, up to ``k``."""
    for g in candidates:
        if len(chosen) == k:
            return
        if all(dirs[g] @ dirs[c] < cos_sep for c in chosen):
            chosen.append(int(g))


class DOAGrid:
    """A set of candidate directions shared by all localizers.

    Attributes:
        directions: ``(G, 3)`` unit vectors.
        azimuth: ``(G,)`` radians in (-pi, pi].
        elevation: ``(G,)`` radians.
    """

    directions: np.ndarray
    azimuth: np.ndarray
    elevation: np.ndarray

    def __init__(self, directions: np.ndarray) -> None:
        u = np.asarray(directions, dtype=float)
        if u.ndim != 2 or u.shape[1] != 3 or u.shape[0] < 3:
            raise ValueError(f"grid directions must be (G >= 3, 3) unit vectors, got {u.shape}")
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        self.directions = u
        self.azimuth, self.elevation, _ = cart_to_sph(u)
        self._neighbors: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.directions.shape[0])

    @property
    def azimuth_deg(self) -> np.ndarray:
        return wrap_azimuth_deg(np.rad2deg(self.azimuth))

    @property
    def elevation_deg(self) -> np.ndarray:
        return np.rad2deg(self.elevation)

    @property
    def is_azimuth_only(self) -> bool:
        return False

    def neighbors(self) -> np.ndarray:
        """``(G, n)`` indices of each point's neighbours (used to find local maxima)."""
        if self._neighbors is None:
            self._neighbors = self._compute_neighbors()
        return self._neighbors

    def _compute_neighbors(self) -> np.ndarray:
        from scipy.spatial import cKDTree

        k = min(9, len(self))
        _, idx = cKDTree(self.directions).query(self.directions, k=k)
        return idx[:, 1:]

    def find_peaks(self, spectrum: np.ndarray, k: int = 1, min_separation_deg: float = 10.0) -> np.ndarray:
        """Indices of the ``k`` strongest local maxima of ``spectrum``.

        Args:
            spectrum: ``(G,)`` or ``(B, G)`` non-negative spatial spectrum on this grid.
            k: number of peaks wanted.
            min_separation_deg: peaks closer than this (great-circle) to a stronger one are dropped.

        Returns:
            ``(k,)`` or ``(B, k)`` int indices into the grid, strongest first. When fewer than ``k``
            local maxima exist, the remaining slots take the best remaining points that respect the
            separation; if even that fails the slot is ``-1``.
        """
        if k < 1:
            raise ValueError(f"number of sources must be >= 1, got {k}")
        s = np.asarray(spectrum, dtype=float)
        squeeze = s.ndim == 1
        s2 = np.atleast_2d(s)
        if s2.shape[-1] != len(self):
            raise ValueError(f"spectrum has {s2.shape[-1]} points, grid has {len(self)}")
        nb = self.neighbors()
        finite = np.isfinite(s2)
        is_peak = np.all(s2[:, :, None] >= s2[:, nb], axis=-1) & finite
        out = np.full((s2.shape[0], k), -1, dtype=int)
        cos_sep = math.cos(math.radians(min_separation_deg))
        dirs = self.directions
        for b in range(s2.shape[0]):
            row = s2[b]
            # candidates: the local maxima strongest first (ties in grid order), then, only when
            # they do not give k separated peaks, every other finite point strongest first
            p = np.flatnonzero(is_peak[b])
            chosen: list[int] = []
            _pick(p[np.argsort(-row[p], kind="stable")], dirs, cos_sep, k, chosen)
            if len(chosen) < k:
                rest = np.flatnonzero(~is_peak[b] & finite[b])
                _pick(rest[np.argsort(-row[rest], kind="stable")], dirs, cos_sep, k, chosen)
            out[b, : len(chosen)] = chosen
        return out[0] if squeeze else out


class AzimuthGrid(DOAGrid):
    """Azimuth-only grid: ``n`` points evenly on a circle at a fixed elevation.

    Azimuths are ``-180 + 360 * (i + 1) / n`` degrees, so the last point is exactly 180.
    """

    def __init__(self, n: int = 360, elevation_deg: float = 0.0) -> None:
        if n < 3:
            raise ValueError(f"azimuth grid needs n >= 3 points, got {n}")
        az = -180.0 + 360.0 * (np.arange(n) + 1) / n
        super().__init__(unit_vectors_deg(az, np.full(n, float(elevation_deg))))
        self.elevation_deg_fixed = float(elevation_deg)
        self.resolution_deg = 360.0 / n

    @property
    def is_azimuth_only(self) -> bool:
        return True

    def _compute_neighbors(self) -> np.ndarray:
        n = len(self)
        i = np.arange(n)
        return np.stack([(i - 1) % n, (i + 1) % n], axis=1)  # wraps around at +-180


class AzimuthArcGrid(AzimuthGrid):
    """Azimuth-only grid on an arc: from ``start_deg`` to ``stop_deg`` (both included, CCW).

    Points are ``resolution_deg`` apart at a fixed elevation; azimuths are wrapped to
    (-180, 180]. Each point's neighbours are the points beside it on the arc, without
    wrap-around, so an end of the arc can be a peak. An :class:`AzimuthGrid` for the
    localizers (azimuth-only, ``resolution_deg``).
    """

    def __init__(self, start_deg: float, stop_deg: float, resolution_deg: float = 1.0, elevation_deg: float = 0.0) -> None:
        span = float(stop_deg) - float(start_deg)
        if not resolution_deg > 0:
            raise ValueError(f"arc grid resolution must be > 0 degrees, got {resolution_deg}")
        if not 0 < span < 360:
            raise ValueError(f"arc grid needs 0 < stop_deg - start_deg < 360, got {start_deg} to {stop_deg}")
        n = round(span / resolution_deg) + 1
        if n < 3:
            raise ValueError(f"arc grid needs >= 3 points, got {n} ({start_deg} to {stop_deg} in {resolution_deg} degree steps)")
        az = float(start_deg) + span * np.arange(n) / (n - 1)
        DOAGrid.__init__(self, unit_vectors_deg(az, np.full(n, float(elevation_deg))))
        self.elevation_deg_fixed = float(elevation_deg)
        self.resolution_deg = span / (n - 1)
        self.start_deg = float(start_deg)
        self.stop_deg = float(stop_deg)

    @classmethod
    def half_plane(cls, array: MicArray, resolution_deg: float = 1.0) -> AzimuthArcGrid:
        """The horizontal half-plane on one side of a linear horizontal ``array``'s axis.

        A linear array hears the mirror image of a direction about its axis with the same
        delays; this grid keeps the half of the circle whose directions have a non-negative
        component along the axis normal pointing most towards +x (for an array along y:
        azimuth -90 to 90, the front; along x: 0 to 180).

        Raises:
            ValueError: the array is not linear or not horizontal.
        """
        if not (array.is_linear and array.is_planar):
            raise ValueError(f"array '{array.name}': a half-plane grid needs a linear horizontal array")
        axis = array._principal_axis()
        normal = np.array([-axis[1], axis[0]])
        if normal[0] < -1e-9 or (abs(normal[0]) <= 1e-9 and normal[1] < 0):
            normal = -normal
        centre = math.degrees(math.atan2(normal[1], normal[0]))  # in [-90, 90]
        return cls(centre - 90.0, centre + 90.0, resolution_deg)

    def _compute_neighbors(self) -> np.ndarray:
        n = len(self)
        i = np.arange(n)
        prev = np.where(i == 0, 1, i - 1)  # an end point's only neighbour is listed twice
        nxt = np.where(i == n - 1, n - 2, i + 1)
        return np.stack([prev, nxt], axis=1)


class SphereGrid(DOAGrid):
    """Near-uniform grid on the sphere (Fibonacci lattice) with ``n`` points.

    ``min_elevation_deg`` / ``max_elevation_deg`` keep only a band (e.g. the upper hemisphere
    for a planar array, whose spectrum is mirror-symmetric about the horizontal plane).
    The spacing between neighbouring points is about ``sqrt(4 pi / n)`` radians
    (n = 4000 gives about 3.2 degrees).
    """

    def __init__(self, n: int = 4000, min_elevation_deg: float = -90.0, max_elevation_deg: float = 90.0) -> None:
        if n < 10:
            raise ValueError(f"sphere grid needs n >= 10 points, got {n}")
        if not -90.0 <= min_elevation_deg < max_elevation_deg <= 90.0:
            raise ValueError("need -90 <= min_elevation_deg < max_elevation_deg <= 90")
        i = np.arange(n) + 0.5
        z = 1.0 - 2.0 * i / n
        golden = math.pi * (3.0 - math.sqrt(5.0))
        az = np.mod(golden * np.arange(n) + math.pi, 2 * math.pi) - math.pi
        el = np.arcsin(z)
        keep = (el >= math.radians(min_elevation_deg) - 1e-12) & (el <= math.radians(max_elevation_deg) + 1e-12)
        super().__init__(unit_vectors(az[keep], el[keep]))
        self.spacing_deg = math.degrees(math.sqrt(4 * math.pi / n))


def default_grid(array: MicArray | FoaFormat, dims: int = 2) -> DOAGrid:
    """A sensible grid for ``array``: 1-degree azimuth circle (dims=2) or a sphere (dims=3).

    Planar arrays cannot tell up from down, so their 3-D grid is the upper hemisphere.
    """
    if dims == 2:
        return AzimuthGrid(360)
    if dims == 3:
        return SphereGrid(4000, min_elevation_deg=0.0) if array.is_planar else SphereGrid(4000)
    raise ValueError(f"grid dims must be 2 or 3, got {dims}")
