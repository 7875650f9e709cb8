"""Typed configuration of the scene generator.

A :class:`SceneConfig` says everything about *how* clips are drawn; together with a seed and
a corpus it fixes a dataset bit for bit. It round-trips through plain dicts
(:meth:`SceneConfig.to_dict` / :meth:`SceneConfig.from_dict`) and YAML
(:func:`load_config` / :func:`dump_config`); unknown keys and bad values raise ``ValueError``
naming the offending key, e.g. ``"room.rt60: values must be > 0 s, got [-0.1, 1.0]"``.

Units: metres, seconds, degrees, Hz, dB. A *range* ``(lo, hi)`` is drawn uniformly; a single
number ``v`` in YAML means ``(v, v)``.

Room coordinates: origin at a floor corner, x along ``width``, y along ``length``, z up.
Array orientation angles (yaw, pitch, roll) follow :func:`soundloc.geometry.rotation_matrix`.

Example YAML (the MC-SimCLR distribution)::

    fs: 16000
    duration: 1.0
    num_clips: 1000
    array: {name: circular4, yaw: [-180, 180]}
    room: {width: [3, 10], length: [3, 10], height: [2.5, 4], rt60: [0.1, 1.0]}
    placement: {height: [0.5, 2.0], wall_clearance: 0.5, min_separation: 0.5}
    events: {mode: nonoverlap, count: [1, 1], duration: [1.0, 1.0]}
    noise: {kind: diffuse, snr_db: [10, 30]}
    rir_backend: fast
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from soundloc.dataformat import LABEL_HOP_S, num_label_frames

Range = tuple[float, float]
IntRange = tuple[int, int]

EVENT_MODES: tuple[str, ...] = ("nonoverlap", "overlap")
NOISE_KINDS: tuple[str, ...] = ("diffuse", "point", "none")
NOISE_COLORS: tuple[str, ...] = ("white", "pink", "brown")
AUDIO_FORMATS: tuple[str, ...] = ("flac", "wav")
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")



# ---------------------------------------------------------------------------
# value helpers
# ---------------------------------------------------------------------------


def _range(name: str, v: Any, *, lo: float | None = None, hi: float | None = None, unit: str = "",
           strict_lo: bool = False) -> Range:
    """A ``(lo, hi)`` float range from a number or a 2-sequence, checked against bounds."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        a = b = float(v)
    else:
        try:
            a, b = (float(x) for x in v)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a number or a [min, max] pair, got {v!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name}: values must be finite, got [{a:g}, {b:g}]")
    if a > b:
        raise ValueError(f"{name}: min {a:g} is larger than max {b:g}")
    u = f" {unit}" if unit else ""
    if lo is not None and (a <= lo if strict_lo else a < lo):
        rel = ">" if strict_lo else ">="
        raise ValueError(f"{name}: values must be {rel} {lo:g}{u}, got [{a:g}, {b:g}]")
    if hi is not None and b > hi:
        raise ValueError(f"{name}: values must be <= {hi:g}{u}, got [{a:g}, {b:g}]")
    return (a, b)


def _int_range(name: str, v: Any, *, lo: int) -> IntRange:
    a, b = _range(name, v)
    if not (a.is_integer() and b.is_integer()):
        raise ValueError(f"{name}: expected whole numbers, got [{a:g}, {b:g}]")
    if a < lo:
        raise ValueError(f"{name}: values must be >= {lo}, got [{int(a)}, {int(b)}]")
    return (int(a), int(b))


def _number(name: str, v: Any, *, lo: float | None = None, hi: float | None = None, strict_lo: bool = False,
            unit: str = "") -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{name}: expected a number, got {v!r}")
    x = float(v)
    u = f" {unit}" if unit else ""
    if not math.isfinite(x):
        raise ValueError(f"{name}: must be finite, got {x}")
    if lo is not None and (x <= lo if strict_lo else x < lo):
        raise ValueError(f"{name}: must be {'>' if strict_lo else '>='} {lo:g}{u}, got {x:g}")
    if hi is not None and x > hi:
        raise ValueError(f"{name}: must be <= {hi:g}{u}, got {x:g}")
    return x


def _choice(name: str, v: Any, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise ValueError(f"{name}: must be one of {', '.join(choices)}, got {v!r}")
    return str(v)


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomConfig:
    """Shoebox room distribution.

    Attributes:
        width: x extent range in metres.
        length: y extent range in metres.
        height: z extent range in metres.
        rt60: target reverberation time range in seconds (Sabine; the RIR backend realises it).
    """

    width: Range = (3.0, 10.0)
    length: Range = (3.0, 10.0)
    height: Range = (2.5, 4.0)
    rt60: Range = (0.1, 1.0)

    def __post_init__(self) -> None:
        for f in ("width", "length", "height"):
            object.__setattr__(self, f, _range(f"room.{f}", getattr(self, f), lo=0.0, strict_lo=True, unit="m"))
        object.__setattr__(self, "rt60", _range("room.rt60", self.rt60, lo=0.0, strict_lo=True, hi=20.0, unit="s"))


@dataclass(frozen=True)
class PlacementConfig:
    """Where the array and the sources may go.

    Attributes:
        height: z range (metres) for the array centre and every source (clipped to the
            wall clearance below the ceiling of the drawn room).
        wall_clearance: minimum distance (metres) from every wall, floor and ceiling.
        min_separation: minimum distance (metres) between any two of: array centre,
            static sources, the point noise source (moving sources keep it from the array).
    """

    height: Range = (0.5, 2.0)
    wall_clearance: float = 0.5
    min_separation: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "height", _range("placement.height", self.height, lo=0.0, unit="m"))
        object.__setattr__(self, "wall_clearance", _number("placement.wall_clearance", self.wall_clearance, lo=0.0, unit="m"))
        object.__setattr__(self, "min_separation", _number("placement.min_separation", self.min_separation, lo=0.0, unit="m"))


@dataclass(frozen=True)
class ArrayConfig:
    """The microphone array and its orientation distribution.

    Attributes:
        name: a preset of :data:`soundloc.geometry.PRESETS`, ``"foa"`` (first-order ambisonics,
            ACN/SN3D; needs ``rir_backend: fast``) or a path to an array JSON file.
        yaw, pitch, roll: orientation ranges in degrees (see :func:`~soundloc.geometry.rotation_matrix`).
            Labels are always in the array's own frame.
        foa_band_limit: FOA only: the encoder is ideal below this frequency (Hz) and spatially
            degraded above it, like a real spherical-array encoder (em32: 9000, STARSS23's FOA;
            model in :func:`soundloc.scenes.sphere.foa_encoder_band_limit`). None (default): ideal
            at all frequencies. (MIC arrays on a rigid sphere: ``name: tetra-sphere`` or an array
            JSON with a ``"baffle"``.)
    """

    name: str = "circular4"
    yaw: Range = (-180.0, 180.0)
    pitch: Range = (0.0, 0.0)
    roll: Range = (0.0, 0.0)
    foa_band_limit: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"array.name: expected a preset name or a .json path, got {self.name!r}")
        for f in ("yaw", "pitch", "roll"):
            object.__setattr__(self, f, _range(f"array.{f}", getattr(self, f), lo=-360.0, hi=360.0, unit="deg"))
        if self.foa_band_limit is not None:
            object.__setattr__(self, "foa_band_limit", _number("array.foa_band_limit", self.foa_band_limit, lo=0.0,
                                                               strict_lo=True, hi=192000.0, unit="Hz"))

    def resolve(self):
        """The :class:`~soundloc.geometry.MicArray` or :class:`~soundloc.ambisonics.FoaFormat`
        (ValueError for an unknown name)."""
        from soundloc.geometry import get_array

        return get_array(self.name)


@dataclass(frozen=True)
class EventConfig:
    """Sound events per clip.

    Attributes:
        mode: ``"nonoverlap"`` (events follow each other, as in MC-SimCLR) or ``"overlap"``
            (DCASE-style: events may overlap, at most ``max_polyphony`` at any time).
        count: range of the number of events per clip (drawn uniformly, inclusive).
        max_polyphony: most simultaneous events in ``overlap`` mode (1..3 typical).
        duration: event length range in seconds; an event is shortened to what its source
            clip offers (after trimming leading/trailing silence).
        gap: minimum silence between consecutive events in ``nonoverlap`` mode, seconds.
        level_db: per-event gain range in dB relative to the reference level (each dry
            excerpt is first normalised to unit RMS over its active part).
        moving_probability: chance that an event moves.
        angular_speed: moving events turn around the array (horizontal arc, constant radius
            and height) at this many degrees per second (either direction).
        trajectory_step: a moving source is piecewise static: one RIR every this many
            seconds (the label of a 100 ms frame takes the point active at the frame centre).
        crossfade: raised-cosine cross-fade in seconds between consecutive trajectory
            segments (<= ``trajectory_step``).
        silence_db: excerpts are trimmed where their 10 ms energy stays this many dB below
            the clip's loudest 10 ms.
    """

    mode: str = "nonoverlap"
    count: IntRange = (1, 1)
    max_polyphony: int = 1
    duration: Range = (0.5, 1.0)
    gap: float = 0.0
    level_db: Range = (0.0, 0.0)
    moving_probability: float = 0.0
    angular_speed: Range = (10.0, 40.0)
    trajectory_step: float = 0.1
    crossfade: float = 0.02
    silence_db: float = 40.0

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "mode", _choice("events.mode", self.mode, EVENT_MODES))
        s(self, "count", _int_range("events.count", self.count, lo=1))
        mp = _number("events.max_polyphony", self.max_polyphony, lo=1)
        if not mp.is_integer():
            raise ValueError(f"events.max_polyphony: expected a whole number, got {mp:g}")
        s(self, "max_polyphony", int(mp))
        s(self, "duration", _range("events.duration", self.duration, lo=LABEL_HOP_S, unit="s"))
        s(self, "gap", _number("events.gap", self.gap, lo=0.0, unit="s"))
        s(self, "level_db", _range("events.level_db", self.level_db, lo=-60.0, hi=60.0, unit="dB"))
        s(self, "moving_probability", _number("events.moving_probability", self.moving_probability, lo=0.0, hi=1.0))
        s(self, "angular_speed", _range("events.angular_speed", self.angular_speed, lo=0.0, hi=720.0, unit="deg/s"))
        s(self, "trajectory_step", _number("events.trajectory_step", self.trajectory_step, lo=0.01, hi=10.0, unit="s"))
        s(self, "crossfade", _number("events.crossfade", self.crossfade, lo=0.0, unit="s"))
        if self.crossfade > self.trajectory_step:
            raise ValueError(f"events.crossfade: {self.crossfade:g} s is longer than events.trajectory_step {self.trajectory_step:g} s")
        s(self, "silence_db", _number("events.silence_db", self.silence_db, lo=1.0, hi=200.0, unit="dB"))


@dataclass(frozen=True)
class NoiseConfig:
    """Background noise.

    Attributes:
        kind: ``"diffuse"`` (spherically isotropic field: spatial coherence ``sinc(k d)``
            between mics), ``"point"`` (one unlabelled noise source in the room, reverberated)
            or ``"none"``.
        snr_db: range of the signal-to-noise ratio in dB: mean power of the summed
            reverberant events (over samples where any event is active, all mics) over the
            mean noise power (all samples, all mics).
        color: noise spectrum: ``white``, ``pink`` (1/f power) or ``brown`` (1/f^2).
    """

    kind: str = "diffuse"
    snr_db: Range = (10.0, 30.0)
    color: str = "pink"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _choice("noise.kind", self.kind, NOISE_KINDS))
        object.__setattr__(self, "snr_db", _range("noise.snr_db", self.snr_db, lo=-40.0, hi=120.0, unit="dB"))
        object.__setattr__(self, "color", _choice("noise.color", self.color, NOISE_COLORS))


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of clips per split. Source clips are partitioned between splits too
    (per class), so no source clip is heard in two splits."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        for f in SPLIT_NAMES:
            object.__setattr__(self, f, _number(f"splits.{f}", getattr(self, f), lo=0.0, hi=1.0))
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"splits: fractions must add up to 1, got {total:g}")

    def as_dict(self) -> dict[str, float]:
        return {f: float(getattr(self, f)) for f in SPLIT_NAMES}


@dataclass(frozen=True)
class SceneConfig:
    """Everything the generator draws from. See the module docstring for units and YAML.

    Attributes:
        fs: sample rate in Hz (16000 and 24000 are the usual ones).
        duration: clip length in seconds.
        num_clips: number of clips in the dataset (over all splits).
        corpus: source sounds: ``"builtin"`` or a folder (see :func:`soundloc.corpus.get_corpus`).
        rir_backend: a key of :data:`soundloc.scenes.rir.RIR_BACKENDS` (``"ism"`` reference, ``"fast"``).
        max_order: cap on the image-source order (``None``: the backend decides).
        audio_format: ``"flac"`` (PCM 24-bit) or ``"wav"`` (float32).
        peak_dbfs: every mixture is scaled so its peak sample sits here (the gain is stored
            per clip in the metadata as ``gain_db``).

    The speed of sound is :data:`soundloc.geometry.SPEED_OF_SOUND` (343 m/s), the value the RIR backends use.
    """

    fs: int = 16000
    duration: float = 1.0
    num_clips: int = 100
    corpus: str = "builtin"
    array: ArrayConfig = field(default_factory=ArrayConfig)
    room: RoomConfig = field(default_factory=RoomConfig)
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    events: EventConfig = field(default_factory=EventConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    splits: SplitConfig = field(default_factory=SplitConfig)
    rir_backend: str = "fast"
    max_order: int | None = None
    audio_format: str = "flac"
    peak_dbfs: float = -1.0

    def __post_init__(self) -> None:
        s = object.__setattr__
        fs = _number("fs", self.fs, lo=1000, hi=384000, unit="Hz")
        if not fs.is_integer():
            raise ValueError(f"fs: expected a whole number of Hz, got {fs:g}")
        s(self, "fs", int(fs))
        s(self, "duration", _number("duration", self.duration, lo=LABEL_HOP_S, hi=3600.0, unit="s"))
        n = _number("num_clips", self.num_clips, lo=1)
        if not n.is_integer():
            raise ValueError(f"num_clips: expected a whole number, got {n:g}")
        s(self, "num_clips", int(n))
        if not isinstance(self.corpus, str) or not self.corpus:
            raise ValueError(f"corpus: expected 'builtin' or a folder path, got {self.corpus!r}")
        if not isinstance(self.rir_backend, str) or not self.rir_backend:
            raise ValueError(f"rir_backend: expected a backend name, got {self.rir_backend!r}")
        if self.max_order is not None:
            mo = _number("max_order", self.max_order, lo=0, hi=200)
            if not mo.is_integer():
                raise ValueError(f"max_order: expected a whole number or null, got {mo:g}")
            s(self, "max_order", int(mo))
        s(self, "audio_format", _choice("audio_format", self.audio_format, AUDIO_FORMATS))
        s(self, "peak_dbfs", _number("peak_dbfs", self.peak_dbfs, lo=-60.0, hi=0.0, unit="dBFS"))
        self._check_geometry()
        self._check_events()
        self._check_array()

    # -- cross-section checks ---------------------------------------------
    def _check_geometry(self) -> None:
        r, p = self.room, self.placement
        clr = p.wall_clearance
        for f in ("width", "length"):
            lo = getattr(r, f)[0]
            if lo <= 2 * clr:
                raise ValueError(
                    f"room.{f}: the smallest room ({lo:g} m) leaves no space inside the wall clearance "
                    f"({clr:g} m on each side); make rooms larger than {2 * clr:g} m or lower placement.wall_clearance"
                )
        zmin = max(p.height[0], clr)
        zmax_smallest = min(p.height[1], r.height[0] - clr)
        if zmin > zmax_smallest:
            raise ValueError(
                f"placement.height: [{p.height[0]:g}, {p.height[1]:g}] m leaves no valid height in the lowest room "
                f"({r.height[0]:g} m) with wall_clearance {clr:g} m"
            )
        area = (r.width[0] - 2 * clr) * (r.length[0] - 2 * clr)
        need = self.events.count[1] + (2 if self.noise.kind == "point" else 1)
        if p.min_separation > 0 and area < need * (p.min_separation**2) * 0.5:
            raise ValueError(
                f"placement.min_separation: {need} points {p.min_separation:g} m apart do not fit in the smallest "
                f"room ({r.width[0]:g} x {r.length[0]:g} m minus {clr:g} m clearance)"
            )

    def _check_array(self) -> None:
        # by what the array is (a preset name or a JSON file of either kind), not by its name
        try:
            arr = self.array.resolve()
        except (ValueError, OSError):
            return  # an unknown or unreadable array is reported where the writer resolves it
        coincident = bool(arr.is_coincident)
        baffled = getattr(arr, "baffle", None) is not None
        if (coincident or baffled) and self.rir_backend != "fast":
            kind = "first-order ambisonics" if coincident else "mics on a rigid sphere"
            raise ValueError(f"array.name: '{self.array.name}' ({kind}) needs rir_backend 'fast', got '{self.rir_backend}'")
        if self.array.foa_band_limit is not None and not coincident:
            raise ValueError(f"array.foa_band_limit: applies to first-order ambisonics arrays (name: foa) only, "
                             f"got array '{self.array.name}'")

    def _check_events(self) -> None:
        e = self.events
        if e.mode == "nonoverlap":
            need = e.count[1] * min(e.duration[0], self.duration) + (e.count[1] - 1) * e.gap
            if need > self.duration + 1e-9:
                raise ValueError(
                    f"events.count: {e.count[1]} non-overlapping events of >= {e.duration[0]:g} s"
                    f"{f' with {e.gap:g} s gaps' if e.gap else ''} do not fit in a {self.duration:g} s clip"
                )
        if e.duration[0] > self.duration:
            raise ValueError(f"events.duration: min {e.duration[0]:g} s is longer than the clip ({self.duration:g} s)")

    # -- derived ------------------------------------------------------------
    @property
    def num_samples(self) -> int:
        """Samples per clip, ``round(duration * fs)``."""
        return int(round(self.duration * self.fs))

    @property
    def num_label_frames(self) -> int:
        """100 ms label frames per clip, ``ceil(duration / 0.1)``."""
        return num_label_frames(self.duration)

    # -- (de)serialisation ----------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON/YAML-safe dict (ranges as lists)."""
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceneConfig:
        """Build from a (possibly partial) nested dict; missing keys take the defaults.

        Raises:
            ValueError: unknown key (named with its section) or a bad value.
        """
        return _build(cls, data, "")

    def replace(self, **changes: Any) -> SceneConfig:
        """A copy with top-level fields replaced (sections may be given as dicts of changes)."""
        d = self.to_dict()
        for k, v in changes.items():
            if isinstance(v, Mapping) and isinstance(d.get(k), dict):
                d[k] = {**d[k], **v}
            elif dataclasses.is_dataclass(v) and not isinstance(v, type):
                d[k] = _to_plain(dataclasses.asdict(v))
            else:
                d[k] = v
        return SceneConfig.from_dict(d)


def _to_plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _to_plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_to_plain(x) for x in v]
    return v


def _build(cls: type, data: Any, prefix: str):
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        where = prefix.rstrip(".") or "config"
        raise ValueError(f"{where}: expected a mapping of keys to values, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"unknown config key '{prefix}{unknown[0]}'; valid keys{' in ' + prefix.rstrip('.') if prefix else ''}: "
            f"{', '.join(known)}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        sub = _SECTIONS.get(name) if cls is SceneConfig else None
        if sub is not None:
            kwargs[name] = value if isinstance(value, sub) else _build(sub, value, f"{prefix}{name}.")
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - all fields have defaults
        raise ValueError(f"{prefix or 'config'}: {e}") from None


_SECTIONS: dict[str, type] = {
    "array": ArrayConfig,
    "room": RoomConfig,
    "placement": PlacementConfig,
    "events": EventConfig,
    "noise": NoiseConfig,
    "splits": SplitConfig,
}


def load_config(path: str | Path) -> SceneConfig:
    """Read a YAML config (``yaml.safe_load``). Missing keys take the :class:`SceneConfig` defaults."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file '{p}' does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"config file '{p}' is not valid YAML (not UTF-8 text: a binary file?)") from None
    except RecursionError:
        raise ValueError(f"config file '{p}' is nested too deeply to be a scene config") from None
    except yaml.YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "parse error"
        raise ValueError(f"config file '{p}' is not valid YAML: {first}") from None
    except OSError as e:
        raise ValueError(f"config file '{p}' cannot be read: {(e.strerror or str(e)).lower()}") from None
    try:
        return SceneConfig.from_dict(data or {})
    except ValueError as e:
        raise ValueError(f"config file '{p}': {e}") from None


def dump_config(config: SceneConfig) -> str:
    """YAML text of ``config`` (ranges in flow style), loadable by :func:`load_config`."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _list(dumper, data):
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

    _Dumper.add_representer(list, _list)
    return yaml.dump(config.to_dict(), Dumper=_Dumper, sort_keys=False, default_flow_style=False)
