"""band_bins: the one rule for an analysis band's rFFT bins, against a brute-force listing."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.spectral import band_bins


@pytest.mark.parametrize("fs, nfft, fmin, fmax", [(16000, 512, 300.0, 6000.0), (24000, 1024, 0.0, 12000.0),
                                                  (16000, 512, 31.25, 62.5), (44100, 2048, 1000.0, 1000.1)])
def test_band_bins_match_brute_force(fs: int, nfft: int, fmin: float, fmax: float) -> None:
    want = [k for k in range(1, nfft // 2 + 1) if fmin - 1e-9 <= k * fs / nfft <= fmax + 1e-9]
    if not want:
        with pytest.raises(ValueError, match="no FFT bin between"):
            band_bins(fs, nfft, fmin, fmax)
        return
    bins, freqs = band_bins(fs, nfft, fmin, fmax)
    assert bins.tolist() == want
    np.testing.assert_allclose(freqs, np.asarray(want) * fs / nfft)
    assert 0 not in bins.tolist()  # DC is never used


def test_band_edges_on_bins_are_kept() -> None:
    bins, _ = band_bins(16000, 512, 31.25, 62.5)  # exactly bins 1 and 2
    assert bins.tolist() == [1, 2]


def test_localizer_and_tdoa_use_the_same_bins() -> None:
    from soundloc.doa import get_localizer
    from soundloc.geometry import MicArray

    loc = get_localizer("srp-phat", MicArray.preset("circular4"), 16000, fmin=300.0, fmax=4000.0)
    np.testing.assert_array_equal(loc.freq_bins, band_bins(16000, 512, 300.0, 4000.0)[0])
