"""GCC-PHAT pairwise delays: inserted fractional TDOAs recovered to within 1/10 sample."""

from __future__ import annotations

import numpy as np
import pytest
from doa_test_signals import delay_signal, harmonic, random_3d_array, white_noise

from soundloc.doa import gcc_phat_tdoa, get_localizer

FS = 16000


@pytest.mark.parametrize("kind", ["white", "harmonic"])
@pytest.mark.parametrize("interp", [1, 4, 16])
def test_inserted_tdoa_within_tenth_of_a_sample(kind: str, interp: int) -> None:
    rng = np.random.default_rng(5)
    delays = np.array([0.0, 3.37, -5.81, 0.5, -0.26]) / FS  # seconds, mic 0 is the reference
    s = white_noise(3 * FS, rng) if kind == "white" else harmonic(3 * FS, FS, rng)
    x = delay_signal(s, delays, FS, FS)
    pairs = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [3, 4]])
    est = gcc_phat_tdoa(x, FS, pairs, max_tau=12.0 / FS, interp=interp)
    true = delays[pairs[:, 1]] - delays[pairs[:, 0]]  # t_j - t_i
    err_samples = np.abs(est - true) * FS
    assert est.shape == (len(pairs),)
    assert err_samples.max() < 0.1, err_samples
    # the Newton polish converges to the same maximum whatever the coarse upsampling
    ref = gcc_phat_tdoa(x, FS, pairs, max_tau=12.0 / FS, interp=32)
    assert np.abs(est - ref).max() * FS < 1e-3


def test_batched_and_sign_convention() -> None:
    rng = np.random.default_rng(1)
    s = white_noise(3 * FS, rng)
    a = delay_signal(s, np.array([0.0, 2.25 / FS]), FS, FS)  # mic 1 hears it 2.25 samples later
    b = delay_signal(s, np.array([1.5 / FS, 0.0]), FS, FS)  # mic 0 hears it later
    est = gcc_phat_tdoa(np.stack([a, b]), FS, max_tau=4.0 / FS)
    assert est.shape == (2, 1)
    np.testing.assert_allclose(est[:, 0] * FS, [2.25, -1.5], atol=0.02)


def test_two_sources_give_two_peaks_per_pair() -> None:
    rng = np.random.default_rng(2)
    d1, d2 = np.array([0.0, 2.4]) / FS, np.array([0.0, -3.1]) / FS
    x = delay_signal(white_noise(3 * FS, rng), d1, FS, FS) + delay_signal(white_noise(3 * FS, rng), d2, FS, FS)
    tdoa, h = gcc_phat_tdoa(x, FS, max_tau=5.0 / FS, num_peaks=2, return_heights=True)
    assert tdoa.shape == (1, 2) and h.shape == (1, 2)
    assert sorted(np.round(tdoa[0] * FS, 1)) == pytest.approx([-3.1, 2.4], abs=0.15)
    assert np.all(h > 0.2) and np.all(h <= 1.0 + 1e-6)


def test_localizer_tdoas_match_geometry_on_irregular_array() -> None:
    arr = random_3d_array()
    loc = get_localizer("gcc-phat", arr, FS, fmax=8000)
    rng = np.random.default_rng(4)
    u = np.array([0.3, -0.8, 0.52])
    u /= np.linalg.norm(u)
    tau = arr.delays(u[None])[0]
    x = delay_signal(white_noise(3 * FS, rng), tau, FS, FS)
    tdoa, h = loc.tdoas(x)
    true = tau[loc.pairs[:, 1]] - tau[loc.pairs[:, 0]]
    assert np.abs(tdoa[:, 0] - true).max() * FS < 0.1
    assert np.all(h[:, 0] > 0.9)  # a pure delay is fully coherent


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"interp": 0}, "interp"),
        ({"pairs": [[0, 5]]}, "pairs"),
        ({"fmin": 3000.0, "fmax": 1000.0}, "fmin"),
        ({"fmax": 9000.0}, "fmax"),
        ({"max_tau": 0.0}, "max_tau"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    x = np.random.default_rng(0).standard_normal((2, FS))
    with pytest.raises(ValueError, match=match):
        gcc_phat_tdoa(x, FS, **kwargs)


def test_nan_input_rejected() -> None:
    x = np.zeros((2, 1000))
    x[1, 10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gcc_phat_tdoa(x, FS)
