"""The FOA audio the scene simulator writes points where the clip's labels say.

Unlike ``test_rir_foa.py`` (which rebuilds the RIR itself), this looks only at ``clip.audio``: the
active intensity of the simulated FOA signal (plain numpy, ACN/SN3D: ``I = <W X>, <W Y>, <W Z>``)
over each event's labelled frames must point at the labelled azimuth / elevation, for arrays in
random yaw / pitch / roll poses. A wrong rotation in the simulator (the inverse pose, a swapped
axis) moves the intensity away from the labels by tens of degrees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scene_helpers import make_corpus, small_config

from soundloc.scenes.clip import simulate_clip

LABEL_HOP_S = 0.1


def _unit(az_deg: float, el_deg: float) -> np.ndarray:
    a, e = np.radians(az_deg), np.radians(el_deg)
    return np.array([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)])


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    c = float(u @ v) / float(np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def test_simulated_foa_audio_intensity_points_at_the_labels(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    cfg = small_config(
        corpus,
        array={"name": "foa", "yaw": [-180.0, 180.0], "pitch": [-60.0, 60.0], "roll": [-60.0, 60.0]},
        rir_backend="fast", max_order=0, noise={"kind": "none"}, room={"rt60": [0.1, 0.15]},
        events={"count": [1, 1], "duration": [0.5, 0.7], "moving_probability": 0.0},
    )
    poses = []
    for index in range(4):
        clip = simulate_clip(cfg, 5, index)
        x = np.asarray(clip.audio, dtype=np.float64)  # (4, N): W, Y, Z, X (ACN, SN3D)
        assert x.shape[0] == 4
        lab = clip.labels
        assert len(lab) and len(set(zip(lab.class_index.tolist(), lab.track.tolist()))) == 1  # one static source
        assert np.ptp(lab.azimuth) == 0 and np.ptp(lab.elevation) == 0
        fs = clip.meta["fs"]
        a, b = round(lab.frame.min() * LABEL_HOP_S * fs), round((lab.frame.max() + 1) * LABEL_HOP_S * fs)
        w, y, z, xx = x[:, a:b]
        intensity = np.array([w @ xx, w @ y, w @ z])  # array frame: x front, y left, z up
        err = _angle_deg(intensity, _unit(float(lab.azimuth[0]), float(lab.elevation[0])))
        assert err < 2.0, f"clip {index}: intensity {err:.1f} deg from the label (pose {clip.meta['array']})"
        poses.append(clip.meta["array"])
    # the poses were far enough from upright for a wrong rotation to show
    assert max(abs(p["pitch"]) + abs(p["roll"]) for p in poses) > 30.0
