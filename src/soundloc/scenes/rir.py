"""Room impulse responses for shoebox rooms.

Backends (registry :data:`RIR_BACKENDS`), all with the signature of :func:`compute_rirs`:

* ``"ism"``: pyroomacoustics' image-source method, the reference. Sabine inversion of the RT60,
  all image sources up to the order the RT60 needs. Slow for long RT60 in small rooms (seconds
  and GBs), and its measured RT60 overshoots long targets (specular shoebox reflections decay
  non-exponentially), so store :func:`measure_rt60` of the RIR, not only the target.
* ``"fast"``: :mod:`soundloc.scenes.rir_fast` — every image source up to 30 ms after the direct
  sound (Eyring walls) plus a seeded diffuse Gaussian tail with the target's exponential decay,
  level-matched to the image sources. ~10 ms per 4-mic RIR set (60-140x faster), bounded memory,
  measured RT60 within a few % of the target (see docs/benchmarks.md, "RIR backends"). It also
  simulates arrays on a rigid sphere (``baffle``, :mod:`soundloc.scenes.sphere`) and band-limited
  FOA encoders (``foa_band_limit``).

Both put sample 0 at the emission time and peak the direct path at
``|src - mic| / c * fs + RIR_DELAY_SAMPLES[backend]`` samples (40 for both: an 81-tap
windowed-sinc fractional delay centred on its middle tap), with ``c =``
:data:`soundloc.geometry.SPEED_OF_SOUND` (343 m/s).

Positions are absolute room coordinates in metres (origin at a room corner, x along the
first dimension, z up).

Backends are pure functions of their arguments and ``seed`` (bit-identical output for the same
inputs), set no global state and start no threads of their own (pyroomacoustics' C++ core uses
its own ``num_threads`` constant, which we leave alone: run one single-threaded worker per core).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from soundloc.geometry import SPEED_OF_SOUND, SphereBaffle
from soundloc.scenes.acoustics import InfeasibleRoomError, measure_rt60, sabine_absorption
from soundloc.scenes.rir_fast import FAST_DELAY_SAMPLES, fast_rirs

__all__ = [
    "InfeasibleRoomError",
    "RIR_BACKENDS",
    "RIR_DELAY_SAMPLES",
    "compute_rirs",
    "measure_rt60",
    "rir_delay_samples",
]



def _ism_pyroomacoustics(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float,
    mic_positions: np.ndarray,
    source_positions: np.ndarray,
    fs: int,
    *,
    max_order: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    import pyroomacoustics as pra

    # pyroomacoustics' rooms take the speed of sound from its global constant table; we never
    # change it, and refuse to simulate if someone else did (labels assume SPEED_OF_SOUND)
    if float(pra.constants.get("c")) != SPEED_OF_SOUND:
        raise ValueError(f"pyroomacoustics' speed of sound is set to {pra.constants.get('c')} m/s; "
                         f"the 'ism' backend needs its default {SPEED_OF_SOUND} m/s (soundloc.geometry.SPEED_OF_SOUND)")
    try:
        e_absorption, order = pra.inverse_sabine(rt60, list(room_dim), c=SPEED_OF_SOUND)
    except ValueError as e:
        raise InfeasibleRoomError(f"RT60 {rt60:.2f} s is not reachable in a {list(room_dim)} m room: {e}") from None
    if max_order is not None:
        order = min(order, max_order)
    room = pra.ShoeBox(list(room_dim), fs=fs, materials=pra.Material(e_absorption), max_order=order)
    for s in source_positions:
        room.add_source(list(s))
    room.add_microphone_array(np.asarray(mic_positions, dtype=float).T)
    room.compute_rir()
    n_src, n_mic = len(source_positions), len(mic_positions)
    length = max(len(room.rir[m][s]) for m in range(n_mic) for s in range(n_src))
    out = np.zeros((n_src, n_mic, length), dtype=np.float32)
    for m in range(n_mic):
        for s in range(n_src):
            r = room.rir[m][s]
            out[s, m, : len(r)] = r
    return out


RIR_BACKENDS: dict[str, Callable[..., np.ndarray]] = {"ism": _ism_pyroomacoustics, "fast": fast_rirs}
"""Registry: backend name -> function with the arguments of :func:`compute_rirs` (minus ``backend``)."""

RIR_DELAY_SAMPLES: dict[str, int] = {"ism": 40, "fast": FAST_DELAY_SAMPLES}
"""Fixed delay of each backend in samples: the direct path peaks at ``d / c * fs + delay``."""


def rir_delay_samples(backend: str) -> int:
    """The fixed delay in samples of ``backend`` (see :data:`RIR_DELAY_SAMPLES`)."""
    if backend not in RIR_DELAY_SAMPLES:
        raise ValueError(f"unknown RIR backend '{backend}'; choose from {', '.join(sorted(RIR_DELAY_SAMPLES))}")
    return RIR_DELAY_SAMPLES[backend]


def compute_rirs(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float,
    mic_positions: np.ndarray,
    source_positions: np.ndarray,
    fs: int,
    *,
    backend: str = "ism",
    max_order: int | None = None,
    seed: int = 0,
    foa_rotation: np.ndarray | None = None,
    baffle: SphereBaffle | None = None,
    foa_band_limit: float | None = None,
) -> np.ndarray:
    """RIRs from every source to every mic.

    Args:
        room_dim: ``(3,)`` shoebox dimensions in metres.
        rt60: target reverberation time in seconds.
        mic_positions: ``(M, 3)`` absolute positions in metres.
        source_positions: ``(S, 3)`` (or ``(3,)``) absolute positions in metres.
        fs: sample rate in Hz.
        backend: a key of :data:`RIR_BACKENDS`.
        max_order: cap on the image-source order (None = what the RT60 needs; for ``"fast"``, a
            cap on the early image sources it renders).
        seed: seeds any randomness of the backend (deterministic output for a seed).
        foa_rotation: ``(3, 3)`` rotation (array frame -> room frame) of a first-order ambisonics
            array whose centre is the one row of ``mic_positions``: the output then has the 4
            ACN/SN3D channels (``"fast"`` backend only; see :mod:`soundloc.scenes.rir_fast`).
        baffle: the array's :class:`~soundloc.geometry.SphereBaffle` (``MicArray.baffle``): the mics
            sit on a rigid sphere centred at their centroid and every image source is filtered by
            the rigid-sphere scattering response (``"fast"`` backend only). None: free-field mics.
        foa_band_limit: with ``foa_rotation``: Hz above which the FOA encoding is spatially
            degraded (em32: 9000; :func:`soundloc.scenes.sphere.foa_encoder_band_limit`). None: ideal.

    Returns:
        ``(S, M, L)`` float32 impulse responses. Sample 0 is the source emission time, so the
        direct path of source s at mic m sits at ``|src_s - mic_m| / c * fs`` samples plus the
        backend's fixed filter delay :data:`RIR_DELAY_SAMPLES` (40 for both). ``L`` depends on the
        backend and the room.

    Raises:
        InfeasibleRoomError: RT60 unreachable for this room (Sabine absorption > 1): redraw the room.
        ValueError: unknown backend, bad geometry (a point outside the room, a source on a mic),
            non-positive RT60 or sample rate, negative max_order.
    """
    if backend not in RIR_BACKENDS:
        raise ValueError(f"unknown RIR backend '{backend}'; choose from {', '.join(sorted(RIR_BACKENDS))}")
    if not np.isfinite(rt60) or rt60 <= 0:
        raise ValueError(f"RT60 must be a finite number > 0 s, got {rt60}")
    if not fs or fs <= 0 or int(fs) != fs:
        raise ValueError(f"sample rate must be a positive integer (Hz), got {fs}")
    if max_order is not None and max_order < 0:
        raise ValueError(f"max_order must be >= 0 or None, got {max_order}")
    dims = np.asarray(room_dim, dtype=float)
    if dims.shape != (3,) or not np.all(np.isfinite(dims)) or np.any(dims <= 0):
        raise ValueError(f"room_dim must be 3 positive lengths in metres, got {np.asarray(room_dim).tolist()}")
    pts = {}
    for name, p in (("mic", mic_positions), ("source", source_positions)):
        p = np.atleast_2d(np.asarray(p, dtype=float))
        if p.ndim != 2 or p.shape[-1] != 3 or len(p) == 0:
            raise ValueError(f"{name} positions must have shape (N, 3), got {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > dims):
            raise ValueError(f"{name} positions must be (N, 3) points inside the room {dims.tolist()} m")
        pts[name] = p
    gap = np.linalg.norm(pts["source"][:, None, :] - pts["mic"][None, :, :], axis=-1)
    if np.any(gap < 1e-3):
        raise ValueError("a source is within 1 mm of a microphone; the direct path would be infinite")
    sabine_absorption(dims, float(rt60), SPEED_OF_SOUND)  # same feasibility rule for every backend
    extra: dict[str, object] = {}
    if foa_rotation is not None:
        if backend != "fast":
            raise ValueError(f"FOA (first-order ambisonics) RIRs need the 'fast' backend, not '{backend}'")
        extra["foa_rotation"] = foa_rotation
    if baffle is not None:
        if backend != "fast":
            raise ValueError(f"arrays on a rigid-sphere baffle need the 'fast' RIR backend, not '{backend}'")
        if not isinstance(baffle, SphereBaffle):
            raise ValueError(f"baffle must be a SphereBaffle or None, got {baffle!r}")
        extra["sphere_radius"] = baffle.radius
    if foa_band_limit is not None:
        if foa_rotation is None:
            raise ValueError("foa_band_limit needs FOA RIRs (foa_rotation)")
        if not (np.isfinite(foa_band_limit) and foa_band_limit > 0):
            raise ValueError(f"foa_band_limit must be > 0 Hz, got {foa_band_limit}")
        extra["foa_band_limit"] = float(foa_band_limit)
    return RIR_BACKENDS[backend](
        dims, float(rt60), pts["mic"], pts["source"], int(fs), max_order=max_order, seed=seed, **extra,
    )
