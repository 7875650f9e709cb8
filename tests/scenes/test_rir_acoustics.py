"""Room-acoustics helpers: absorption inversions and the Schroeder RT60 measurement, against
closed forms, synthetic decays of known RT60 and pyroomacoustics."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest
from pyroomacoustics.experimental import measure_rt60 as pra_measure_rt60

from soundloc.scenes.acoustics import (
    InfeasibleRoomError,
    eyring_absorption,
    measure_rt60,
    room_volume_surface,
    sabine_absorption,
    schroeder_decay_db,
)
from soundloc.scenes.rir import compute_rirs

FS = 16000


def _exp_noise(rt60: float, seconds: float, seed: int = 0, fs: int = FS) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return np.random.default_rng(seed).standard_normal(t.size) * 10 ** (-3 * t / rt60)


@pytest.mark.parametrize("rt60", [0.15, 0.4, 0.9, 1.8])
@pytest.mark.parametrize("decay_db", [20, 30])
def test_synthetic_exponential_decay(rt60, decay_db):
    """Gaussian noise with an energy envelope falling 60 dB per RT60: each realisation within
    6 %, their mean within 2 %."""
    est = [measure_rt60(_exp_noise(rt60, 1.2 * rt60, seed=s), FS, decay_db=decay_db) for s in range(4)]
    assert np.allclose(est, rt60, rtol=0.06)
    assert np.mean(est) == pytest.approx(rt60, rel=0.02)


def test_deterministic_exponential_is_exact():
    """h[n] = r^n: the Schroeder curve of a long enough pure exponential is an exact line."""
    rt60 = 0.5
    n = np.arange(int(3 * rt60 * FS))
    h = 10 ** (-3 * n / FS / rt60)
    assert measure_rt60(h, FS) == pytest.approx(rt60, rel=1e-4)
    edc = schroeder_decay_db(h)
    assert edc[0] == 0.0 and np.all(np.diff(edc) < 0)


def test_direct_sound_counts():
    """A strong direct impulse before the decay: the curve is referenced to the total energy, so
    the -5 dB start moves into the decay; the slope (and RT60) is unchanged."""
    rt60 = 0.6
    h = np.concatenate([[0.0] * 10, [30.0], _exp_noise(rt60, 1.0, seed=1)])
    assert measure_rt60(h, FS, decay_db=20) == pytest.approx(rt60, rel=0.05)


@pytest.mark.parametrize(
    "room, rt60, backend",
    [
        ([4.0, 5.0, 3.0], 0.3, "ism"),
        ([6.0, 4.0, 2.8], 0.2, "ism"),
        ([3.5, 3.0, 2.5], 0.45, "ism"),
        ([6.0, 7.0, 3.0], 0.8, "fast"),
        ([3.0, 3.0, 2.5], 0.25, "fast"),
    ],
)
@pytest.mark.parametrize("decay_db", [20, 30])
def test_matches_pyroomacoustics_measure_rt60(room, rt60, backend, decay_db):
    h = compute_rirs(room, rt60, [[1.1, 1.3, 1.2]], [[2.4, 2.1, 1.7]], FS, backend=backend)[0, 0]
    ours = measure_rt60(h, FS, decay_db=decay_db)
    ref = pra_measure_rt60(h, fs=FS, decay_db=decay_db)
    assert ours == pytest.approx(ref, rel=0.02)


def test_batched_shapes():
    h = np.stack([_exp_noise(0.3, 0.5, s) for s in range(6)]).reshape(2, 3, -1)
    out = measure_rt60(h, FS)
    assert out.shape == (2, 3)
    assert out[1, 2] == pytest.approx(measure_rt60(h[1, 2], FS))


def test_errors():
    with pytest.raises(ValueError, match="all zeros"):
        measure_rt60(np.zeros(100), FS)
    with pytest.raises(ValueError, match="decays only"):
        measure_rt60(_exp_noise(2.0, 0.2), FS, decay_db=30)  # 6 dB of decay
    with pytest.raises(ValueError, match="sample rate"):
        measure_rt60(_exp_noise(0.3, 0.5), 0)
    with pytest.raises(ValueError, match="decay_db"):
        measure_rt60(_exp_noise(0.3, 0.5), FS, decay_db=0)


@pytest.mark.parametrize("room", [[3.0, 3.0, 2.5], [10.0, 7.0, 4.0], [5.0, 5.5, 3.1]])
@pytest.mark.parametrize("rt60", [0.2, 0.6, 1.0])
def test_absorption_inversions(room, rt60):
    v, s = room_volume_surface(room)
    assert v == pytest.approx(np.prod(room))
    try:
        ref, _ = pra.inverse_sabine(rt60, room, c=343.0)
    except ValueError:
        with pytest.raises(InfeasibleRoomError):
            sabine_absorption(room, rt60)
        return
    a_s = sabine_absorption(room, rt60)
    assert a_s == pytest.approx(ref, rel=1e-12)
    a_e = eyring_absorption(room, rt60)
    # Eyring's formula with this coefficient gives back the target RT60
    assert 24 * np.log(10) * v / (-343.0 * s * np.log(1 - a_e)) == pytest.approx(rt60, rel=1e-12)
    assert a_e < a_s
