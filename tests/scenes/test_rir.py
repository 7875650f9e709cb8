"""compute_rirs contract for every backend: geometry of the direct path and first reflections,
agreement of the fast backend's image sources with pyroomacoustics, determinism, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.scenes.rir import (
    RIR_BACKENDS,
    RIR_DELAY_SAMPLES,
    InfeasibleRoomError,
    compute_rirs,
    rir_delay_samples,
)
from soundloc.scenes.rir_fast import FastRIRConfig, fast_rirs

FS = 16000
C = 343.0
ROOM = np.array([4.0, 3.5, 2.7])
MICS = np.array([[1.20, 1.10, 1.30], [1.25, 1.10, 1.30], [1.20, 1.17, 1.30], [1.22, 1.12, 1.36]])
SRC = np.array([[2.90, 2.30, 1.60]])
BACKENDS = sorted(RIR_BACKENDS)


def _phase_delay(h: np.ndarray, fs: int, fmax: float = 6000.0) -> float:
    """Delay in samples of a (single-path) impulse response from the slope of its phase."""
    n = 8192
    spec = np.fft.rfft(h, n)
    f = np.fft.rfftfreq(n, 1 / fs)
    band = (f > 100) & (f < fmax)
    phase = np.unwrap(np.angle(spec[band]))
    slope = np.polyfit(2 * np.pi * f[band] / fs, phase, 1)[0]
    return -slope


def test_registry_and_delays():
    assert {"ism", "fast"} <= set(RIR_BACKENDS)
    assert set(RIR_DELAY_SAMPLES) == set(RIR_BACKENDS)
    assert rir_delay_samples("ism") == rir_delay_samples("fast") == 40
    with pytest.raises(ValueError, match="unknown RIR backend"):
        rir_delay_samples("nope")


@pytest.mark.parametrize("backend", BACKENDS)
def test_output_contract(backend):
    srcs = np.array([[2.9, 2.3, 1.6], [0.8, 2.9, 1.0]])
    h = compute_rirs(ROOM, 0.3, MICS, srcs, FS, backend=backend)
    assert h.dtype == np.float32 and h.ndim == 3 and h.shape[:2] == (2, 4)
    assert np.all(np.isfinite(h))
    # a (3,) source is accepted as one source
    assert compute_rirs(ROOM, 0.3, MICS, srcs[0], FS, backend=backend).shape[:2] == (1, 4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_direct_path_delay_exact(backend):
    """Direct path alone: the delay measured from the phase slope is dist / c * fs + 40, and the
    inter-mic differences match the geometry (to a hundredth of a sample)."""
    h = compute_rirs(ROOM, 0.3, MICS, SRC, FS, backend=backend, max_order=0)[0]
    dist = np.linalg.norm(MICS - SRC[0], axis=1)
    expected = dist / C * FS + RIR_DELAY_SAMPLES[backend]
    # keep only the direct path (the fast backend also has a tail after the transition)
    direct = np.zeros_like(h)
    for m in range(len(MICS)):
        n0 = int(expected[m])
        direct[m, n0 - 40 : n0 + 42] = h[m, n0 - 40 : n0 + 42]
    measured = np.array([_phase_delay(d, FS) for d in direct])
    np.testing.assert_allclose(measured, expected, atol=0.02)
    np.testing.assert_allclose(measured - measured[0], (dist - dist[0]) / C * FS, atol=0.02)
    # amplitude 1 / d (pyroomacoustics' convention, no 1 / 4 pi)
    np.testing.assert_allclose(np.abs(np.fft.rfft(direct, 8192)[:, 300]), 1 / dist, rtol=0.01)


@pytest.mark.parametrize("backend", BACKENDS)
def test_direct_path_peak_in_full_rir(backend):
    """With all reflections (and the tail), the largest sample is still the direct path, within
    half a sample of dist / c * fs + delay."""
    mics = MICS
    src = np.array([1.9, 1.5, 1.4])  # about 0.8 m from the mics: the direct path dominates
    h = compute_rirs(ROOM, 0.5, mics, src, FS, backend=backend)[0]
    expected = np.linalg.norm(mics - src, axis=1) / C * FS + RIR_DELAY_SAMPLES[backend]
    assert np.all(np.abs(np.argmax(np.abs(h), axis=1) - expected) <= 0.5)


def _first_order_images(room, src):
    imgs = []
    for axis in range(3):
        for wall in (0.0, room[axis]):
            p = src.copy()
            p[axis] = 2 * wall - p[axis]
            imgs.append(p)
    return np.array(imgs)


def _kernel(tau: float, n: int) -> np.ndarray:
    """Hann-windowed sinc (81 taps on the integer grid) peaking at sample ``tau``, length ``n``."""
    k = np.zeros(n)
    n0 = int(np.floor(tau))
    taps = np.arange(81)
    k[n0 - 40 + taps] = np.hanning(81) * np.sinc(taps - 40 - (tau - n0))
    return k


def _absorption(rule: str, rt60: float) -> float:
    v = np.prod(ROOM)
    s = 2 * (ROOM[0] * ROOM[1] + ROOM[0] * ROOM[2] + ROOM[1] * ROOM[2])
    sabine = 24 * np.log(10) * v / (C * s * rt60)
    return sabine if rule == "sabine" else 1 - np.exp(-sabine)


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_order_reflections_at_mirror_image_times(backend):
    """An order-1 RIR is the direct path plus the 6 mirror images of the source in the walls
    (computed here by reflecting the source): least-squares amplitudes of windowed sincs at those
    arrival times are 1 / d and beta / d, and they explain the whole RIR."""
    mic, src = MICS[:1], SRC[0]
    imgs = np.vstack([src, _first_order_images(ROOM, src)])
    d = np.linalg.norm(imgs - mic[0], axis=1)
    tau = d / C * FS + 40
    assert np.min(np.diff(np.sort(tau))) > 3.0  # well-separated arrivals in this geometry
    if backend == "fast":
        h = fast_rirs(ROOM, 0.4, mic, SRC, FS, max_order=1, config=FastRIRConfig(tail=False))[0, 0]
        beta = np.sqrt(1 - _absorption("eyring", 0.4))
    else:
        h = compute_rirs(ROOM, 0.4, mic, SRC, FS, backend=backend, max_order=1)[0, 0]
        beta = np.sqrt(1 - _absorption("sabine", 0.4))
    basis = np.stack([_kernel(t, len(h)) for t in tau], axis=1)
    amp, *_ = np.linalg.lstsq(basis, h, rcond=None)
    np.testing.assert_allclose(amp, np.r_[1.0, np.full(6, beta)] / d, rtol=0.02)
    assert np.abs(h - basis @ amp).max() < 0.02 * np.abs(h).max()


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_fast_early_part_matches_pyroomacoustics(order):
    """Same absorption (Sabine), no tail: the fast backend's image sources reproduce
    pyroomacoustics' RIR sample by sample (up to its sinc look-up-table interpolation)."""
    ref = compute_rirs(ROOM, 0.4, MICS, SRC, FS, backend="ism", max_order=order)
    cfg = FastRIRConfig(tail=False, absorption="sabine", transition_time=0.1)
    ours = fast_rirs(ROOM, 0.4, MICS, SRC, FS, max_order=order, config=cfg)
    n = ref.shape[-1]
    assert np.abs(ours[..., :n] - ref).max() < 0.02 * np.abs(ref).max()
    # nothing of a higher order (without the high-pass, whose zero-phase response is long)
    cfg = FastRIRConfig(tail=False, absorption="sabine", transition_time=0.1, highpass_hz=0)
    bare = fast_rirs(ROOM, 0.4, MICS, SRC, FS, max_order=order, config=cfg)
    assert not np.any(bare[..., n:])


def test_fast_is_deterministic_and_seed_only_changes_tail():
    a = compute_rirs(ROOM, 0.6, MICS, SRC, FS, backend="fast", seed=3)
    b = compute_rirs(ROOM, 0.6, MICS, SRC, FS, backend="fast", seed=3)
    c = compute_rirs(ROOM, 0.6, MICS, SRC, FS, backend="fast", seed=4)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    t_direct = np.min(np.linalg.norm(MICS - SRC[0], axis=1)) / C
    early = int((t_direct + 0.02) * FS)  # before the transition, only image sources
    # (the zero-phase high-pass spreads the tail a little backwards: compare loosely)
    np.testing.assert_allclose(a[..., :early], c[..., :early], atol=2e-3 * np.abs(a).max())


def test_ism_is_deterministic():
    a = compute_rirs(ROOM, 0.3, MICS, SRC, FS, backend="ism")
    b = compute_rirs(ROOM, 0.3, MICS, SRC, FS, backend="ism")
    assert np.array_equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_room(backend):
    with pytest.raises(InfeasibleRoomError):
        compute_rirs([10.0, 10.0, 4.0], 0.1, [[5.0, 5.0, 1.5]], [[2.0, 2.0, 1.5]], FS, backend=backend)
    assert issubclass(InfeasibleRoomError, ValueError)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rt60=-0.3), "RT60"),
        (dict(rt60=0.0), "RT60"),
        (dict(rt60=float("nan")), "RT60"),
        (dict(src=[[4.5, 1.0, 1.0]]), "source positions"),
        (dict(src=[[1.0, 1.0, -0.1]]), "source positions"),
        (dict(mics=[[1.0, 4.0, 1.0]]), "mic positions"),
        (dict(mics=[[1.0, 1.0]]), "mic positions"),
        (dict(src=[[1.2, 1.1, 1.3]]), "within 1 mm"),
        (dict(room=[4.0, -3.0, 2.7]), "room_dim"),
        (dict(room=[4.0, 3.0]), "room_dim"),
        (dict(fs=0), "sample rate"),
        (dict(max_order=-1), "max_order"),
    ],
)
def test_bad_inputs(backend, kwargs, match):
    args = dict(room=ROOM, rt60=0.3, mics=MICS[:1], src=SRC, fs=FS, max_order=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        compute_rirs(args["room"], args["rt60"], args["mics"], args["src"], args["fs"], backend=backend, max_order=args["max_order"])


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown RIR backend 'gpu'"):
        compute_rirs(ROOM, 0.3, MICS, SRC, FS, backend="gpu")
