"""Room impulse responses for shoebox rooms.

Backends (registry :data:`RIR_BACKENDS`), all with the signature of :func:`compute_rirs`:

* ``"ism"``: pyroomacoustics' image-source method, the reference.

Positions are absolute room coordinates in metres (origin at a room corner, x along the
first dimension, z up).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


class InfeasibleRoomError(ValueError):
    """The requested RT60 cannot be reached in this room (e.g. too short for its volume): redraw."""


def _ism_pyroomacoustics(
    room_dim: Sequence[float],
    rt60: float,
    mic_positions: np.ndarray,
    source_positions: np.ndarray,
    fs: int,
    *,
    max_order: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    import pyroomacoustics as pra

    try:
        e_absorption, order = pra.inverse_sabine(rt60, list(room_dim))
    except ValueError as e:
        raise InfeasibleRoomError(f"RT60 {rt60:.2f} s is not reachable in a {room_dim} m room: {e}") from None
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


RIR_BACKENDS: dict[str, Callable[..., np.ndarray]] = {"ism": _ism_pyroomacoustics}


def compute_rirs(
    room_dim: Sequence[float],
    rt60: float,
    mic_positions: np.ndarray,
    source_positions: np.ndarray,
    fs: int,
    *,
    backend: str = "ism",
    max_order: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """RIRs from every source to every mic.

    Args:
        room_dim: ``(3,)`` shoebox dimensions in metres.
        rt60: target reverberation time in seconds.
        mic_positions: ``(M, 3)`` absolute positions in metres.
        source_positions: ``(S, 3)`` absolute positions in metres.
        fs: sample rate in Hz.
        backend: a key of :data:`RIR_BACKENDS`.
        max_order: cap on the image-source order (None = what the RT60 needs).
        seed: seeds any randomness of the backend (deterministic output for a seed).

    Returns:
        ``(S, M, L)`` float32 impulse responses. Sample 0 is the source emission time, so the
        direct path of source s at mic m sits at ``|src_s - mic_m| / c * fs`` samples (plus the
        backend's fixed filter delay, see its docs).

    Raises:
        InfeasibleRoomError: RT60 unreachable for this room (redraw the room).
        ValueError: unknown backend, bad geometry.
    """
    if backend not in RIR_BACKENDS:
        raise ValueError(f"unknown RIR backend '{backend}'; choose from {', '.join(sorted(RIR_BACKENDS))}")
    if rt60 <= 0:
        raise ValueError(f"RT60 must be > 0 s, got {rt60}")
    dims = np.asarray(room_dim, dtype=float)
    for name, pts in (("mic", mic_positions), ("source", source_positions)):
        p = np.atleast_2d(np.asarray(pts, dtype=float))
        if p.shape[-1] != 3 or np.any(p < 0) or np.any(p > dims):
            raise ValueError(f"{name} positions must be (N, 3) points inside the room {dims.tolist()} m")
    return RIR_BACKENDS[backend](
        dims, float(rt60), np.asarray(mic_positions, float), np.atleast_2d(np.asarray(source_positions, float)), int(fs),
        max_order=max_order, seed=seed,
    )
