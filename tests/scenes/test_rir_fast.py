"""The fast RIR backend: image-source enumeration, measured RT60 vs target, the diffuse tail's
level, decay and inter-mic coherence, bounded memory."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from scipy.signal import csd, welch

from soundloc.geometry import MicArray
from soundloc.scenes.acoustics import measure_rt60
from soundloc.scenes.rir import compute_rirs
from soundloc.scenes.rir_fast import FastRIRConfig, fast_rirs, image_sources

FS = 16000
C = 343.0


def _brute_force_images(room, src, center, radius, max_hits=40):
    """Images by recursively mirroring the source in the room's 6 walls (breadth first: the
    depth at which an image first appears is its number of reflections), independent of the
    lattice formula; returns {rounded position: hits}."""
    found = {tuple(np.round(src, 9)): 0}
    frontier = [np.asarray(src, float)]
    for hits in range(1, max_hits):
        nxt = []
        for p in frontier:
            for axis in range(3):
                for wall in (0.0, room[axis]):
                    q = p.copy()
                    q[axis] = 2 * wall - q[axis]
                    key = tuple(np.round(q, 9))
                    if key not in found and np.linalg.norm(q - center) <= radius + 2 * max(room):
                        found[key] = hits
                        nxt.append(q)
        frontier = nxt
        if not frontier:
            break
    return {k: v for k, v in found.items() if np.linalg.norm(np.array(k) - center) <= radius}


def test_image_sources_match_recursive_mirroring():
    room = np.array([3.0, 4.0, 2.5])
    src = np.array([1.0, 3.1, 0.7])
    center = np.array([2.2, 1.4, 1.3])
    pos, hits = image_sources(room, src, center, 9.0)
    ours = {tuple(np.round(p, 9)): int(h) for p, h in zip(pos, hits)}
    ref = _brute_force_images(room, src, center, 9.0)
    assert len(ref) > 100 and set(ours) == set(ref)
    assert all(ours[key] == ref[key] for key in ref)
    # image density: one image per room volume
    big_pos, _ = image_sources(room, src, center, 30.0)
    assert len(big_pos) == pytest.approx(4 / 3 * np.pi * 30.0**3 / np.prod(room), rel=0.03)


ROOMS = [
    # (room_dim, rt60) spread over the MC-SimCLR distribution and beyond
    ((3.0, 3.0, 2.5), 0.2),
    ((3.0, 3.0, 2.5), 1.0),
    ((4.0, 6.0, 3.0), 0.35),
    ((5.5, 4.2, 2.8), 0.6),
    ((7.0, 9.0, 3.5), 0.25),
    ((7.0, 9.0, 3.5), 0.8),
    ((10.0, 10.0, 4.0), 0.4),
    ((10.0, 10.0, 4.0), 1.0),
    ((9.5, 3.2, 2.6), 0.15),
    ((6.0, 8.0, 3.0), 1.5),
]


@pytest.mark.parametrize("room, rt60", ROOMS)
def test_measured_rt60_within_10_percent_of_target(room, rt60):
    rng = np.random.default_rng(int(rt60 * 1000 + sum(room)))
    room = np.array(room)
    mics = MicArray.preset("circular4").placed(rng.uniform(0.6, room - 0.6))
    src = rng.uniform(0.5, room - 0.5)
    h = compute_rirs(room, rt60, mics, src, FS, backend="fast", seed=1)[0]
    t30 = measure_rt60(h, FS, decay_db=30)
    t20 = measure_rt60(h, FS, decay_db=20)
    np.testing.assert_allclose(t30, rt60, rtol=0.10)
    np.testing.assert_allclose(t20, rt60, rtol=0.10)


def test_tail_decay_level_and_continuity():
    """The tail's energy envelope falls 60 dB per RT60 and starts at the level of the image
    sources just before the transition."""
    room, rt60 = np.array([6.0, 5.0, 3.0]), 0.7
    mics = MicArray.preset("circular4").placed([2.0, 2.0, 1.4])
    src = np.array([4.5, 3.5, 1.7])
    cfg = FastRIRConfig(highpass_hz=0)
    h = fast_rirs(room, rt60, mics, src[None], FS, seed=0, config=cfg)[0].astype(float)
    bare = fast_rirs(room, rt60, mics, src[None], FS, config=FastRIRConfig(highpass_hz=0, tail=False))[0]
    t_tr = np.min(np.linalg.norm(mics - src, axis=1)) / C + cfg.transition_time
    n_tr = 40 + int(round(t_tr * FS))
    tail = h[:, n_tr:] - bare[:, n_tr:]
    # energy in 20 ms blocks, averaged over mics; slope of its log
    blk = int(0.02 * FS)
    nb = tail.shape[1] // blk
    e = (tail[:, : nb * blk] ** 2).reshape(4, nb, blk).mean(axis=(0, 2))
    t = (np.arange(nb) + 0.5) * 0.02
    slope = np.polyfit(t[: nb * 3 // 4], 10 * np.log10(e[: nb * 3 // 4]), 1)[0]
    assert -60 / slope == pytest.approx(rt60, rel=0.05)
    # continuity: rendered image energy in the 10 ms before the transition vs tail just after
    before = (bare[:, n_tr - 160 : n_tr].astype(float) ** 2).mean()
    after = (tail[:, :160] ** 2).mean()
    assert 0.5 < after / before < 2.0


def test_tail_has_diffuse_field_coherence():
    """Coherence between two mics of the tail: sinc(2 f d / c) (spherically isotropic field);
    independent noise when coherent_tail=False."""
    room, rt60 = np.array([8.0, 7.0, 3.0]), 2.0  # long tail for a good estimate
    d = 0.1
    mics = np.array([[4.0, 3.0, 1.5], [4.0 + d, 3.0, 1.5]])
    src = np.array([[1.5, 1.5, 1.2]])
    cfg = FastRIRConfig(highpass_hz=0)
    h = fast_rirs(room, rt60, mics, src, FS, seed=0, config=cfg)[0].astype(float)
    n_tr = 40 + int(round((np.min(np.linalg.norm(mics - src[0], axis=1)) / C + cfg.transition_time) * FS))
    n_end = n_tr + int(0.8 * FS)
    env = np.sqrt(np.mean(h[:, n_tr:n_end] ** 2, axis=0))
    env = np.convolve(env**2, np.ones(801) / 801, mode="same") ** 0.5  # smooth envelope
    x = h[:, n_tr:n_end] / env
    f, pxy = csd(x[0], x[1], fs=FS, nperseg=256)
    _, pxx = welch(x[0], fs=FS, nperseg=256)
    _, pyy = welch(x[1], fs=FS, nperseg=256)
    coh = np.real(pxy) / np.sqrt(pxx * pyy)
    expected = np.sinc(2 * f * d / C)
    band = (f > 100) & (f < 7000)
    assert np.abs(coh[band] - expected[band]).mean() < 0.08
    assert coh[(f > 200) & (f < 600)].mean() > 0.8  # strongly coherent at low frequencies
    # independent tails: no coherence
    h2 = fast_rirs(room, rt60, mics, src, FS, seed=0, config=FastRIRConfig(highpass_hz=0, coherent_tail=False))[0]
    x2 = h2[:, n_tr:n_end].astype(float) / env
    _, pxy2 = csd(x2[0], x2[1], fs=FS, nperseg=256)
    _, pxx2 = welch(x2[0], fs=FS, nperseg=256)
    _, pyy2 = welch(x2[1], fs=FS, nperseg=256)
    assert np.abs(np.real(pxy2) / np.sqrt(pxx2 * pyy2))[(f > 200) & (f < 600)].mean() < 0.3


def test_independent_tails_per_source():
    room = np.array([5.0, 5.0, 3.0])
    mics = MicArray.preset("circular4").placed([2.5, 2.5, 1.5])
    srcs = np.array([[1.0, 1.0, 1.5], [1.0, 1.0, 1.5]])  # the same position twice
    h = compute_rirs(room, 0.5, mics, srcs, FS, backend="fast", seed=0)
    n0 = 40 + int(0.08 * FS)
    np.testing.assert_allclose(h[0, :, :n0 - 800], h[1, :, :n0 - 800], atol=1e-3 * np.abs(h).max())
    late = h[:, 0, n0:].astype(float)
    assert abs(np.corrcoef(late)[0, 1]) < 0.1


def test_max_order_zero_leaves_only_direct_path_before_transition():
    room = np.array([5.0, 5.0, 3.0])
    mics = np.array([[2.0, 2.0, 1.5]])
    src = np.array([[3.0, 3.5, 1.2]])
    cfg = FastRIRConfig(highpass_hz=0)
    h = fast_rirs(room, 0.5, mics, src, FS, max_order=0, config=cfg)[0, 0]
    dist = np.linalg.norm(mics[0] - src[0])
    n_dir = int(dist / C * FS) + 40
    n_tr = 40 + int(round((dist / C + cfg.transition_time) * FS))
    assert not np.any(h[n_dir + 42 : n_tr])  # nothing between the direct path and the tail
    assert np.any(h[n_tr:])  # the tail is still there (level matched to the full image set)


@pytest.mark.parametrize(
    "kwargs", [dict(transition_time=0), dict(match_window=0.5), dict(absorption="norris"), dict(c=-1), dict(highpass_hz=-5)]
)
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        FastRIRConfig(**kwargs)


def test_memory_bounded_in_a_tiny_reverberant_room():
    """A 1 m^3 room needs ~40k image sources per mic before the transition: rendering is chunked."""
    mics = np.array([[0.4, 0.5, 0.5], [0.45, 0.5, 0.5]])
    tracemalloc.start()
    try:
        h = compute_rirs([1.0, 1.0, 1.0], 0.8, mics, [[0.7, 0.3, 0.6]], FS, backend="fast")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6
    assert measure_rt60(h[0, 0], FS) == pytest.approx(0.8, rel=0.1)


def test_longer_transition_still_matches_target():
    room = np.array([6.0, 7.0, 3.0])
    mics = MicArray.preset("circular4").placed([2.0, 2.5, 1.4])
    for ttr, rt60 in itertools.product([0.05, 0.08], [0.5, 0.9]):
        h = fast_rirs(room, rt60, mics, [[4.5, 5.0, 1.6]], FS, config=FastRIRConfig(transition_time=ttr))[0]
        np.testing.assert_allclose(measure_rt60(h, FS), rt60, rtol=0.1)


def test_refuses_absurdly_small_rooms():
    with pytest.raises(ValueError, match="too small for the fast backend"):
        compute_rirs([0.1, 0.1, 0.1], 0.3, [[0.05, 0.05, 0.05]], [[0.02, 0.03, 0.04]], FS, backend="fast")
