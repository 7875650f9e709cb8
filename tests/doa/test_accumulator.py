"""Localizer.accumulator(): the whole-recording result from blocks equals locate() on the whole array."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.ambisonics import FoaFormat, encode_plane_wave
from soundloc.doa import get_localizer, localizers_for
from soundloc.doa.base import FrameAccumulator, Localizer
from soundloc.geometry import ArrayModel, MicArray, unit_vectors_deg

FS = 16000


def _two_sources(array: ArrayModel, n: int, seed: int = 0) -> np.ndarray:
    """(M, n) two white-noise plane waves (40 and -110 degrees), delays exact in the frequency domain
    (encoded to first-order ambisonics for an FOA array)."""
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n, 1 / FS)
    out = np.zeros((array.num_mics, n))
    for az, g in ((40.0, 1.0), (-110.0, 0.8)):
        if isinstance(array, FoaFormat):
            out += g * encode_plane_wave(rng.standard_normal(n), unit_vectors_deg(az, 0.0))
            continue
        tau = array.delays(unit_vectors_deg(az, 0.0))[0]
        out += g * np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(-2j * np.pi * f * tau[:, None]), n=n)
    out += 0.05 * rng.standard_normal(out.shape)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


_ARRAYS: dict[str, ArrayModel] = {"circular4": MicArray.preset("circular4"), "foa": FoaFormat()}
_CASES = [(m, a) for a, arr in _ARRAYS.items() for m in localizers_for(arr) if get_localizer(m, arr, FS).frame_statistic_for_array()]


def test_every_method_but_iv_accumulates():
    assert {m for m, _ in _CASES} == set(localizers_for(_ARRAYS["circular4"]))
    assert {m for m, a in _CASES if a == "foa"} == set(localizers_for(_ARRAYS["foa"])) - {"iv"}


@pytest.mark.parametrize("method,array", _CASES)
@pytest.mark.parametrize("cuts", [(5000,), (100, 356, 20000), tuple(range(300, 24000, 700))])
def test_blocks_give_the_whole_clip_result(method, array, cuts):
    arr = _ARRAYS[array]
    x = _two_sources(arr, 24000)
    loc = get_localizer(method, arr, FS)
    ref = loc.locate(x, 2)
    acc = loc.accumulator()
    for piece in np.split(x, list(cuts), axis=1):  # pieces shorter than nfft (512) and frames straddling cuts
        acc.add(piece)
    res = acc.result(2)
    assert acc.frames == (24000 - 512) // 256 + 1  # exactly the frames of the whole clip
    # MUSIC's 1 / (M - K - ||Es^H a||^2) magnifies float32 rounding near its peaks
    rtol = 0.05 if "music" in method else 1e-4
    np.testing.assert_allclose(res.spectrum, ref.spectrum, rtol=rtol, atol=1e-5)
    np.testing.assert_allclose(res.azimuth, ref.azimuth, atol=0.05)
    assert res.start == 0.0 and res.end == pytest.approx(24000 / FS)


def test_shorter_than_one_frame_and_errors():
    arr = MicArray.preset("circular4")
    x = _two_sources(arr, 300)
    loc = get_localizer("srp-phat", arr, FS)
    acc = loc.accumulator()
    acc.add(x[:, :100])
    acc.add(x[:, 100:])
    np.testing.assert_allclose(acc.result().spectrum, loc.locate(x).spectrum, rtol=1e-5)
    with pytest.raises(ValueError, match="no samples"):
        loc.accumulator().result()
    with pytest.raises(ValueError, match="NaN"):
        loc.accumulator().add(np.full((4, 600), np.nan))

    class Other(Localizer):  # a localizer that is not a function of frame sums
        name = "other"

        def _spectrum(self, X, num_sources):
            return X.abs().sum((1, 2, 3))[:, None].expand(-1, len(self.grid)).float()

    with pytest.raises(ValueError, match="other: cannot accumulate"):
        Other(arr, FS).accumulator()
    with pytest.raises(ValueError, match="other: cannot accumulate"):
        FrameAccumulator(Other(arr, FS))
