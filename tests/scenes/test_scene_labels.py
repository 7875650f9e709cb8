"""Scene labels: frame rule and directions in the array's frame."""

from __future__ import annotations

import numpy as np

from soundloc.geometry import MicArray, angular_separation_deg, unit_vectors_deg
from soundloc.scenes.labels import event_frames, scene_labels
from soundloc.scenes.sample import ArrayPose, SceneEvent, Trajectory, arc_trajectory


def _event(onset, offset, traj, cls=0, track=0):
    return SceneEvent("a", cls, "a/x", track, onset, offset, 0.0, 0.0, traj)


def test_event_frames_use_frame_centres():
    np.testing.assert_array_equal(event_frames(0.0, 0.3, 100), [0, 1, 2])
    np.testing.assert_array_equal(event_frames(0.06, 0.3, 100), [1, 2])  # centre 0.05 < onset
    np.testing.assert_array_equal(event_frames(0.05, 0.25, 100), [0, 1])  # [0.05, 0.25): centres .05, .15
    np.testing.assert_array_equal(event_frames(0.31, 0.34, 100), [3])  # too short for a centre: its midpoint frame
    np.testing.assert_array_equal(event_frames(0.9, 1.5, 10), [9])  # clipped to the clip


def test_rotated_array_labels_match_independent_geometry():
    arr = MicArray.preset("tetra")
    pose = ArrayPose(position=(3.0, 2.0, 1.4), yaw=70.0, pitch=25.0, roll=-40.0)
    src = np.array([4.5, 3.1, 1.9])
    ev = _event(0.2, 0.5, Trajectory(src[None], np.zeros(1)))
    lab = scene_labels([ev], pose, 10)
    assert lab.frame.tolist() == [2, 3, 4]
    # independent: the far-field delays of the labelled direction on the unrotated array must equal
    # the delays of the true room direction on the placed (rotated) microphones
    mics = arr.placed(pose.position, pose.yaw, pose.pitch, pose.roll)
    u = (src - mics.mean(0)) / np.linalg.norm(src - mics.mean(0))
    tau_room = -((mics - mics.mean(0)) @ u) / 343.0
    tau_label = arr.delays(unit_vectors_deg(lab.azimuth[:1], lab.elevation[:1]))[0]
    np.testing.assert_allclose(tau_label, tau_room, atol=1e-12)
    np.testing.assert_allclose(lab.distance, np.linalg.norm(src - np.array(pose.position)))


def test_moving_source_labels_follow_the_trajectory():
    pose = ArrayPose(position=(2.0, 2.0, 1.5))
    tr = arc_trajectory(np.array([3.0, 2.0, 1.5]), np.array([2.0, 2.0, 1.5]), 100.0, 1.0, 0.1)
    lab = scene_labels([_event(0.0, 1.0, tr)], pose, 10)
    np.testing.assert_allclose(lab.azimuth, np.arange(10) * 10.0, atol=1e-9)  # 100 deg/s, 0.1 s points
    np.testing.assert_allclose(lab.elevation, 0.0, atol=1e-9)


def test_rows_sorted_and_tracks_kept():
    pose = ArrayPose(position=(0.0, 0.0, 0.0))
    a = _event(0.0, 0.2, Trajectory(np.array([[1.0, 0.0, 0.0]]), np.zeros(1)), cls=1, track=0)
    b = _event(0.1, 0.3, Trajectory(np.array([[0.0, 1.0, 0.0]]), np.zeros(1)), cls=0, track=0)
    c = _event(0.0, 0.3, Trajectory(np.array([[0.0, 0.0, 1.0]]), np.zeros(1)), cls=1, track=1)
    lab = scene_labels([a, b, c], pose, 5)
    rows = list(zip(lab.frame.tolist(), lab.class_index.tolist(), lab.track.tolist()))
    assert rows == sorted(rows) and len(rows) == 2 + 2 + 3
    up = lab.select((lab.class_index == 1) & (lab.track == 1))
    assert np.all(angular_separation_deg(up.directions(), np.array([0.0, 0.0, 1.0])) < 1e-9)
