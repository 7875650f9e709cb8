"""FOA simulation: image sources encoded with the analytic SH gains, diffuse FOA tail and noise,
labels that agree with the direct sound's intensity direction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scene_helpers import make_corpus, small_config

from soundloc.ambisonics import sh_gains
from soundloc.geometry import angular_separation_deg, rotation_matrix, unit_vectors_deg
from soundloc.scenes.acoustics import eyring_absorption
from soundloc.scenes.clip import simulate_clip
from soundloc.scenes.mix import diffuse_foa_noise
from soundloc.scenes.rir import compute_rirs
from soundloc.scenes.rir_fast import FastRIRConfig, fast_rirs

FS = 16000
ROOM = np.array([6.0, 5.0, 3.0])
CENTRE = np.array([2.2, 1.9, 1.3])
SRC = np.array([4.1, 3.2, 1.7])
ROT = rotation_matrix(40.0, 20.0, -30.0)


def test_direct_path_is_the_sh_gains_times_the_omni_rir() -> None:
    cfg = FastRIRConfig(tail=False)
    foa = fast_rirs(ROOM, 0.4, CENTRE[None], SRC[None], FS, max_order=0, config=cfg, foa_rotation=ROT)[0]
    omni = fast_rirs(ROOM, 0.4, CENTRE[None], SRC[None], FS, max_order=0, config=cfg)[0, 0]
    g = sh_gains(ROT.T @ (SRC - CENTRE))[0]  # the direction in the rotated array's own frame
    assert foa.shape == (4, len(omni))
    np.testing.assert_allclose(foa, g[:, None] * omni[None], atol=1e-6 * np.abs(omni).max())


def _own_render(length: int, images: np.ndarray, amps: np.ndarray, rot: np.ndarray, c: float) -> np.ndarray:
    """Reference: each image as an 81-tap Hann-windowed sinc at d / c * fs + 40, times its SH gains."""
    out = np.zeros((4, length))
    hann = np.hanning(81)
    for p, a in zip(images, amps):
        d = np.linalg.norm(p - CENTRE)
        t = d / c * FS + 40
        n0 = math.floor(t)
        n = np.arange(n0 - 40, n0 + 41)
        h = a / d * hann * np.sinc(n - t)
        u = rot.T @ (p - CENTRE) / d
        out[:, n] += np.array([1.0, u[1], u[2], u[0]])[:, None] * h[None]
    return out


def test_first_order_images_match_an_independent_encoding() -> None:
    cfg = FastRIRConfig(tail=False, highpass_hz=0.0)
    foa = fast_rirs(ROOM, 0.5, CENTRE[None], SRC[None], FS, max_order=1, config=cfg, foa_rotation=ROT)[0]
    beta = math.sqrt(1.0 - eyring_absorption(ROOM, 0.5, cfg.c))
    images, amps = [SRC], [1.0]
    for ax in range(3):  # mirror in the wall at 0 and the wall at L
        for coord in (-SRC[ax], 2 * ROOM[ax] - SRC[ax]):
            p = SRC.copy()
            p[ax] = coord
            images.append(p)
            amps.append(beta)
    want = _own_render(foa.shape[1], np.array(images), np.array(amps), ROT, cfg.c)
    np.testing.assert_allclose(foa, want, atol=1e-5 * np.abs(want).max())


def test_w_is_the_omni_rir_and_foa_needs_fast() -> None:
    foa = compute_rirs(ROOM, 0.6, CENTRE[None], SRC[None], FS, backend="fast", seed=3, foa_rotation=ROT)
    omni = compute_rirs(ROOM, 0.6, CENTRE[None], SRC[None], FS, backend="fast", seed=3)
    np.testing.assert_array_equal(foa[0, 0], omni[0, 0])  # same draws, gain 1 on W, tail included
    with pytest.raises(ValueError, match="need the 'fast' backend"):
        compute_rirs(ROOM, 0.6, CENTRE[None], SRC[None], FS, backend="ism", foa_rotation=ROT)
    with pytest.raises(ValueError, match="one centre point"):
        fast_rirs(ROOM, 0.6, np.stack([CENTRE, CENTRE + 0.1]), SRC[None], FS, foa_rotation=ROT)


def _check_diffuse(x: np.ndarray) -> None:
    """Channel energies 1 : 1/3 : 1/3 : 1/3 within 5 % and correlations below 0.05 (diffuse SN3D FOA)."""
    e = np.mean(x**2, axis=-1)
    np.testing.assert_allclose(e[1:] / e[0], 1 / 3, rtol=0.05)
    rho = (x @ x.T) / np.sqrt(np.outer(np.sum(x**2, -1), np.sum(x**2, -1)))
    off = rho[~np.eye(4, dtype=bool)]
    assert np.max(np.abs(off)) < 0.05, rho


def test_tail_has_diffuse_field_statistics() -> None:
    room = np.array([8.0, 6.0, 3.5])
    rng = np.random.default_rng(0)
    srcs = np.column_stack([rng.uniform(1, 7, 6), rng.uniform(1, 5, 6), rng.uniform(1, 2.5, 6)])
    centre = np.array([4.0, 3.0, 1.5])
    h = fast_rirs(room, 1.5, centre[None], srcs, FS, seed=1, foa_rotation=ROT)  # (6, 4, L)
    d = np.linalg.norm(srcs - centre, axis=1)
    # each source's tail from 5 ms after its transition (direct + 30 ms), whitened by the known envelope
    parts = []
    for s in range(len(srcs)):
        n_tr = 40 + round(float(d[s] / 343.0 + 0.03) * FS) + 80
        seg = h[s, :, n_tr:-200].astype(np.float64)
        env = np.exp(-0.5 * 6 * math.log(10) / 1.5 * np.arange(seg.shape[1]) / FS)
        parts.append(seg / env)
    _check_diffuse(np.concatenate(parts, axis=1))


def test_diffuse_foa_noise_statistics() -> None:
    x = diffuse_foa_noise(np.random.default_rng(2), 100_000, FS, "pink")
    assert x.shape == (4, 100_000)
    assert abs(np.std(x[0]) - 1.0) < 1e-9
    _check_diffuse(x)


def test_simulated_foa_labels_agree_with_the_direct_sound_intensity(tmp_path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    cfg = small_config(corpus, array={"name": "foa", "pitch": [-40.0, 40.0], "roll": [-40.0, 40.0]},
                       rir_backend="fast", noise={"kind": "none"}, events={"count": [2, 2], "duration": [0.4, 0.6]})
    checked = 0
    for index in range(3):
        clip = simulate_clip(cfg, 7, index)
        assert clip.audio.shape[0] == 4
        meta = clip.meta
        arr = meta["array"]
        rot = rotation_matrix(arr["yaw"], arr["pitch"], arr["roll"])
        for ev in meta["events"]:
            src = np.array(ev["start_position"])
            h = compute_rirs(meta["room"]["dims"], meta["room"]["rt60_target"], np.array([arr["position"]]), src[None],
                             cfg.fs, backend="fast", max_order=0, foa_rotation=rot)[0]
            n_dir = round(float(np.linalg.norm(src - np.array(arr["position"]))) / 343.0 * cfg.fs) + 40
            w = h[:, n_dir - 40 : n_dir + 41].astype(np.float64)  # the direct sound only
            iv = np.array([w[0] @ w[3], w[0] @ w[1], w[0] @ w[2]])  # W.X, W.Y, W.Z
            lab = clip.labels
            rows = (lab.class_index == ev["class_index"]) & (lab.track == ev["track"])
            assert rows.any()
            u_label = unit_vectors_deg(lab.azimuth[rows][0], lab.elevation[rows][0])
            assert angular_separation_deg(iv, u_label) < 0.05
            checked += 1
    assert checked >= 4


def test_simulate_cli_writes_an_foa_dataset(tmp_path, capsys) -> None:
    import json

    import soundfile as sf

    from soundloc.cli import main
    from soundloc.data import SeldDataset
    from soundloc.geometry import get_array

    corpus = make_corpus(tmp_path / "corpus")
    out = tmp_path / "foa_ds"
    assert main(["simulate", str(out), "--preset", "tiny", "--corpus", str(corpus), "--array", "foa", "--clips", "3",
                 "--no-progress"]) == 0
    header = json.loads((out / "dataset.json").read_text())
    assert header["array"]["format"] == "foa" and header["config"]["rir_backend"] == "fast"
    wavs = sorted(out.glob("audio/*/*.*"))
    assert len(wavs) == 3 and all(sf.info(str(w)).channels == 4 for w in wavs)
    assert get_array(str(out / "dataset.json")).is_coincident
    assert SeldDataset(out, split="train").array == get_array("foa")
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "x"), "--preset", "tiny", "--array", "foa", "--backend", "ism"]) == 2
    assert "needs rir_backend 'fast'" in capsys.readouterr().err
