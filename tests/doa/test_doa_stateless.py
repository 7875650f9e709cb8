"""No hidden state between calls: a localizer's results depend only on its input, not on call history."""

from __future__ import annotations

import numpy as np
import pytest
from doa_test_signals import plane_wave, white_noise

from soundloc.ambisonics import FoaFormat, encode_plane_wave
from soundloc.doa import LOCALIZERS, get_localizer, localizers_for
from soundloc.geometry import ArrayModel, MicArray, unit_vectors_deg

FS = 16000
ARR = MicArray.preset("circular4")
FOA = FoaFormat()


def _array_for(method: str) -> ArrayModel:
    return ARR if method in localizers_for(ARR) else FOA


def _clip(az: float, seed: int, array: ArrayModel = ARR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if isinstance(array, MicArray):
        x = plane_wave(array, az, 0.0, white_noise(FS, rng), FS, FS // 2)
    else:
        x = encode_plane_wave(rng.standard_normal(FS // 2), unit_vectors_deg(az, 0.0))
    return x + 0.3 * rng.standard_normal(x.shape)  # noisy, so the estimates are not all on grid points


@pytest.mark.parametrize("method", sorted(LOCALIZERS))
def test_results_do_not_depend_on_call_history(method: str) -> None:
    array = _array_for(method)
    a, b = _clip(40.0, 1, array), _clip(-110.0, 2, array)
    fresh = get_localizer(method, array, FS).locate(a, 2)
    loc = get_localizer(method, array, FS)
    attrs = dict(vars(loc))
    loc.locate(b, 2)
    loc.locate_batch(np.stack([b, b]), 1)
    again = loc.locate(a, 2)
    np.testing.assert_array_equal(again.azimuth, fresh.azimuth)
    np.testing.assert_array_equal(again.elevation, fresh.elevation)
    np.testing.assert_array_equal(again.spectrum, fresh.spectrum)
    # nothing was added to (or rebound on) the localizer by the calls
    assert set(vars(loc)) == set(attrs)
    assert all(vars(loc)[k] is v for k, v in attrs.items())


def test_gcc_phat_refinement_is_the_same_with_or_without_the_passed_state() -> None:
    """The refinement reuses the pair delays of the same pass; recomputing them gives the same answer."""
    loc = get_localizer("gcc-phat", ARR, FS)
    x = _clip(63.0, 3)[None]
    X = loc._band_stft(x)
    s, state = loc._analyse(X, 1)
    spectra = s.double().cpu().numpy()
    peaks = loc.grid.find_peaks(spectra, 1)
    with_state = loc._refine(X, spectra, peaks, state)
    without = loc._refine(X, spectra, peaks)
    assert with_state is not None and without is not None
    np.testing.assert_array_equal(with_state[0], without[0])
    assert abs(((with_state[0][0, 0] - 63.0 + 180) % 360) - 180) < 2.0
