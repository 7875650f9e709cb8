"""Named scene-generator presets (dataclass factories), registry :data:`SCENE_PRESETS`.

* ``tiny``: 8 clips of 2 s, 16 kHz, ``circular4``, 1-2 non-overlapping events, mild rooms,
  fast RIRs with early reflections up to order 3. For smoke tests and demos: seconds to build.
* ``mcsimclr``: the MC-SimCLR room distribution: width/length U[3, 10] m, height U[2.5, 4] m,
  RT60 U[0.1, 1.0] s, array and sources at heights U[0.5, 2] m, >= 0.5 m from walls and from
  each other; 4-mic circular array of 10 cm diameter at a random yaw; 1-s clips at 16 kHz with
  one event each (non-overlapping mode), diffuse noise at 10-30 dB SNR.
* ``dcase``: DCASE/STARSS23-style: the tetrahedral MIC-format array (Eigenmike capsules), 24 kHz,
  10-s clips with 3-8 events overlapping up to 3 at a time, 30 % of them moving on arcs around the
  array at 10-40 deg/s, diffuse noise at 6-30 dB SNR, our built-in classes.

Each factory returns a fresh :class:`~soundloc.scenes.config.SceneConfig`; change fields with
``config.replace(num_clips=..., events={"count": [1, 3]})``.
"""

from __future__ import annotations

from typing import Callable

from soundloc.scenes.config import (
    ArrayConfig,
    EventConfig,
    NoiseConfig,
    PlacementConfig,
    RoomConfig,
    SceneConfig,
    SplitConfig,
)


def tiny() -> SceneConfig:
    """8 short clips for tests and demos (see the module docstring)."""
    return SceneConfig(
        fs=16000,
        duration=2.0,
        num_clips=8,
        array=ArrayConfig(name="circular4", yaw=(-180.0, 180.0)),
        room=RoomConfig(width=(3.0, 6.0), length=(3.0, 6.0), height=(2.5, 3.0), rt60=(0.2, 0.5)),
        placement=PlacementConfig(height=(0.5, 2.0), wall_clearance=0.5, min_separation=0.5),
        events=EventConfig(mode="nonoverlap", count=(1, 2), duration=(0.5, 0.9), gap=0.1),
        noise=NoiseConfig(kind="diffuse", snr_db=(20.0, 30.0)),
        splits=SplitConfig(train=0.5, val=0.25, test=0.25),
        rir_backend="fast",
        max_order=3,
    )


def mcsimclr() -> SceneConfig:
    """The MC-SimCLR simulation distribution (see the module docstring)."""
    return SceneConfig(
        fs=16000,
        duration=1.0,
        num_clips=10000,
        array=ArrayConfig(name="circular4", yaw=(-180.0, 180.0)),
        room=RoomConfig(width=(3.0, 10.0), length=(3.0, 10.0), height=(2.5, 4.0), rt60=(0.1, 1.0)),
        placement=PlacementConfig(height=(0.5, 2.0), wall_clearance=0.5, min_separation=0.5),
        events=EventConfig(mode="nonoverlap", count=(1, 1), duration=(0.5, 1.0)),
        noise=NoiseConfig(kind="diffuse", snr_db=(10.0, 30.0)),
        rir_backend="fast",
    )


def dcase() -> SceneConfig:
    """DCASE/STARSS23-style polyphonic scenes (see the module docstring)."""
    return SceneConfig(
        fs=24000,
        duration=10.0,
        num_clips=200,
        array=ArrayConfig(name="tetra", yaw=(-180.0, 180.0)),
        room=RoomConfig(width=(3.0, 10.0), length=(3.0, 10.0), height=(2.5, 4.0), rt60=(0.2, 1.0)),
        placement=PlacementConfig(height=(0.5, 2.0), wall_clearance=0.5, min_separation=0.5),
        events=EventConfig(
            mode="overlap",
            count=(3, 8),
            max_polyphony=3,
            duration=(1.0, 5.0),
            level_db=(-6.0, 0.0),
            moving_probability=0.3,
            angular_speed=(10.0, 40.0),
            trajectory_step=0.1,
            crossfade=0.02,
        ),
        noise=NoiseConfig(kind="diffuse", snr_db=(6.0, 30.0)),
        rir_backend="fast",
    )


SCENE_PRESETS: dict[str, Callable[[], SceneConfig]] = {"tiny": tiny, "mcsimclr": mcsimclr, "dcase": dcase}
"""Registry: preset name -> factory of a :class:`SceneConfig`."""


def get_preset(name: str) -> SceneConfig:
    """The config of preset ``name``; ``ValueError`` lists the choices for an unknown one."""
    if name not in SCENE_PRESETS:
        raise ValueError(f"unknown scene preset '{name}'; choose from {', '.join(SCENE_PRESETS)}")
    return SCENE_PRESETS[name]()
