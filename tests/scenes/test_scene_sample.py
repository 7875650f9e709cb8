"""Scene sampling: rooms, placements, trajectories and timelines keep their constraints."""

from __future__ import annotations

import numpy as np
import pytest

from soundloc.geometry import MicArray, cart_to_sph_deg, unit_vectors_deg, wrap_azimuth_deg
from soundloc.scenes.acoustics import room_volume_surface
from soundloc.scenes.config import EventConfig, PlacementConfig, RoomConfig
from soundloc.scenes.sample import (
    ArrayPose,
    arc_trajectory,
    max_overlap,
    nonoverlap_onsets,
    overlap_onsets,
    sample_point,
    sample_room,
    sample_trajectory,
)


def test_rooms_in_range_and_feasible():
    rng = np.random.default_rng(0)
    cfg = RoomConfig()
    rooms = [sample_room(rng, cfg) for _ in range(300)]
    dims = np.array([r.dims for r in rooms])
    rt = np.array([r.rt60 for r in rooms])
    assert np.all(dims[:, :2] >= 3) and np.all(dims[:, :2] <= 10) and np.all(dims[:, 2] >= 2.5) and np.all(dims[:, 2] <= 4)
    assert np.all((rt >= 0.1) & (rt <= 1.0))
    # Sabine absorption alpha = 24 ln10 V / (c S RT60) must be <= 1 for every accepted room
    for r in rooms:
        v, s = room_volume_surface(r.dims)
        assert 24 * np.log(10) * v / (343.0 * s * r.rt60) <= 1.0 + 1e-12
    # the joint rejection keeps short RT60s (they occur in small rooms)
    assert rt.min() < 0.25


def test_impossible_rt60_range_is_a_clear_error():
    with pytest.raises(ValueError, match="room.rt60"):
        sample_room(np.random.default_rng(0), RoomConfig(width=(9.0, 10.0), length=(9.0, 10.0), rt60=(0.01, 0.02)))


def test_points_respect_clearance_heights_and_separation():
    rng = np.random.default_rng(1)
    pl = PlacementConfig(height=(0.5, 2.0), wall_clearance=0.5, min_separation=0.8)
    dims = (4.0, 3.0, 2.6)
    for _ in range(50):
        pts = []
        for _ in range(4):
            p = sample_point(rng, dims, pl, pts)
            assert p is not None
            assert 0.5 <= p[0] <= 3.5 and 0.5 <= p[1] <= 2.5 and 0.5 <= p[2] <= 2.0 + 1e-12
            pts.append(p)
        d = np.linalg.norm(np.array(pts)[:, None] - np.array(pts)[None], axis=-1)
        assert d[np.triu_indices(4, 1)].min() >= 0.8
    # the ceiling clearance wins over the placement range
    low = (4.0, 3.0, 1.5)
    zs = [sample_point(rng, low, pl)[2] for _ in range(200)]
    assert max(zs) <= 1.0 + 1e-12


def test_impossible_separation_returns_none():
    pl = PlacementConfig(min_separation=10.0)
    rng = np.random.default_rng(0)
    assert sample_point(rng, (3.0, 3.0, 3.0), pl, [np.array([1.5, 1.5, 1.5])], tries=20) is None


def test_arc_trajectory_geometry():
    c = np.array([2.0, 2.0, 1.5])
    start = np.array([3.0, 2.0, 1.0])
    tr = arc_trajectory(start, c, angular_speed_deg=30.0, duration=1.0, step=0.1)
    assert len(tr.positions) == 10 and tr.moving
    np.testing.assert_allclose(tr.times, np.arange(10) * 0.1)
    rel = tr.positions - c
    np.testing.assert_allclose(np.hypot(rel[:, 0], rel[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(tr.positions[:, 2], 1.0)
    az, _ = cart_to_sph_deg(rel)
    np.testing.assert_allclose(np.diff(np.unwrap(np.deg2rad(az))), np.deg2rad(3.0), atol=1e-12)
    assert tr.point_index(0.0) == 0 and tr.point_index(0.15) == 1 and tr.point_index(5.0) == 9


def test_sampled_trajectories_stay_inside():
    rng = np.random.default_rng(3)
    pl = PlacementConfig()
    ev = EventConfig(angular_speed=(30.0, 60.0), trajectory_step=0.1)
    dims = (5.0, 4.0, 3.0)
    c = np.array([2.5, 2.0, 1.2])
    n = 0
    for _ in range(30):
        tr = sample_trajectory(rng, dims, pl, c, 3.0, ev, [c])
        if tr is None:
            continue
        n += 1
        p = tr.positions
        assert np.all(p[:, :2] >= 0.5 - 1e-9) and np.all(p[:, 0] <= 4.5 + 1e-9) and np.all(p[:, 1] <= 3.5 + 1e-9)
        assert np.all(np.linalg.norm(p - c, axis=1) >= 0.5)
        assert 30.0 <= abs(tr.angular_speed) <= 60.0
    assert n > 20


def test_nonoverlap_onsets():
    rng = np.random.default_rng(0)
    for _ in range(100):
        d = rng.uniform(0.1, 0.5, size=3)
        on = nonoverlap_onsets(rng, d, 2.0, gap=0.1)
        assert on[0] >= 0 and on[-1] + d[-1] <= 2.0 + 1e-9
        assert np.all(on[1:] >= on[:-1] + d[:-1] + 0.1 - 1e-9)
    with pytest.raises(ValueError):
        nonoverlap_onsets(rng, np.array([1.0, 1.0]), 1.5, 0.0)


def test_overlap_onsets_respect_polyphony():
    rng = np.random.default_rng(0)
    for maxp in (1, 2, 3):
        d = rng.uniform(0.5, 3.0, size=12)
        on = overlap_onsets(rng, d, 10.0, maxp)
        ok = np.isfinite(on)
        assert ok.sum() >= maxp
        t = np.arange(0, 10, 0.001)
        active = sum(((t >= o) & (t < o + dd)).astype(int) for o, dd in zip(on[ok], d[ok]))
        assert active.max() <= maxp
        assert np.all(on[ok] >= 0) and np.all(on[ok] + d[ok] <= 10.0 + 1e-9)
    assert max_overlap([(0, 1), (0.5, 2), (1.5, 3)], 0.0, 3.0) == 2


def test_array_frame_rotation_matches_far_field_delays():
    """The label direction (array frame) must predict the same inter-mic delays as the room-frame
    geometry of the placed, rotated array - an independent check of R^T."""
    arr = MicArray.preset("tetra")
    rng = np.random.default_rng(0)
    for _ in range(20):
        pose = ArrayPose(position=(2.0, 3.0, 1.5), yaw=rng.uniform(-180, 180), pitch=rng.uniform(-60, 60),
                         roll=rng.uniform(-60, 60))
        src = np.array([2.0, 3.0, 1.5]) + rng.normal(size=3) * 2
        local = pose.to_array_frame(src)
        az, el = cart_to_sph_deg(local)
        tau_label = arr.delays(unit_vectors_deg(az, el)[None])[0]
        mics = arr.placed(pose.position, pose.yaw, pose.pitch, pose.roll)
        u_room = (src - np.asarray(pose.position)) / np.linalg.norm(src - np.asarray(pose.position))
        tau_room = -((mics - mics.mean(0)) @ u_room) / 343.0
        np.testing.assert_allclose(tau_label, tau_room, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(local), np.linalg.norm(src - np.asarray(pose.position)))


def test_yaw_only_subtracts_from_azimuth():
    pose = ArrayPose(position=(0.0, 0.0, 0.0), yaw=90.0)
    az, el = cart_to_sph_deg(pose.to_array_frame(np.array([1.0, 0.0, 0.0])))
    assert abs(float(wrap_azimuth_deg(az - (-90.0)))) < 1e-9 and abs(float(el)) < 1e-9
