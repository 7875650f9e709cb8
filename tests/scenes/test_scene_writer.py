"""The dataset writer end to end: labels vs audio geometry, determinism, resume after a kill,
split disjointness, and clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scene_helpers import make_corpus, small_config, tree_bytes

from soundloc.dataformat import read_dcase_csv
from soundloc.geometry import MicArray, SphereGrid, angular_separation_deg, unit_vectors_deg, wrap_azimuth_deg
from soundloc.scenes.writer import generate_dataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _gcc_phat_tdoa(x: np.ndarray, y: np.ndarray, fs: int, max_tau: float, interp: int = 32) -> float:
    """Independent numpy GCC-PHAT: delay of y relative to x in seconds (positive: y later)."""
    from scipy.fft import next_fast_len

    n = next_fast_len(len(x) + len(y))
    r = np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n))
    cc = np.fft.irfft(r / np.maximum(np.abs(r), 1e-12), n * interp)
    m = int(max_tau * fs * interp) + interp
    cc = np.concatenate([cc[-m:], cc[: m + 1]])
    return (np.argmax(cc) - m) / (fs * interp)


def _single_event_segments(out: Path):
    for line in (out / "manifest.jsonl").read_text().splitlines():
        meta = json.loads(line)
        x, fs = sf.read(out / meta["audio"], dtype="float64", always_2d=True)
        lab = read_dcase_csv(out / meta["labels"], distance_unit="cm")
        for ev in meta["events"]:
            rows = lab.select((lab.class_index == ev["class_index"]) & (lab.track == ev["track"]))
            a, b = int(ev["onset"] * fs), int(ev["offset"] * fs)
            yield meta, ev, rows, x[a:b].T, fs


def test_labels_agree_with_audio_geometry(corpus, tmp_path):
    """Direct-path arrival order and inter-mic delays in the audio match the labelled direction
    (array frame; every clip has a random yaw), and the GCC-PHAT localizer finds the label.

    Early reflections are off (``max_order=0``: direct path + the fast backend's diffuse tail), so the
    direct path alone sets the delays and the check can be tight: this tests the labels, not the
    localizer's robustness to reverberation."""
    from soundloc.doa import get_localizer

    cfg = small_config(corpus, num_clips=6, events={"count": [1, 1], "duration": [0.5, 0.6]},
                       room={"rt60": [0.1, 0.2]}, max_order=0, noise={"snr_db": [30, 30]})
    out = tmp_path / "geo"
    generate_dataset(out, cfg, seed=3)
    arr = MicArray.preset("circular4")
    loc = get_localizer("gcc-phat", arr, cfg.fs)
    n_checked = 0
    for meta, ev, rows, seg, fs in _single_event_segments(out):
        assert len(rows) > 0 and np.ptp(rows.azimuth) < 1e-6  # static source
        az, el = float(rows.azimuth[0]), float(rows.elevation[0])
        assert abs(az - ev["azimuth"]) < 0.01 and abs(el - ev["elevation"]) < 0.01
        u = unit_vectors_deg(az, el)
        expected = arr.delays(u[None], 343.0)[0]  # (M,) arrival times relative to the centre
        measured = np.array([_gcc_phat_tdoa(seg[0], seg[m], fs, 0.12 / 343.0) for m in range(arr.num_mics)])
        # inter-mic delays: within 0.2 samples of the far-field prediction (max delay here: 4.7 samples)
        np.testing.assert_allclose(measured, expected - expected[0], atol=0.2 / fs)
        # arrival order: the mic the label points at hears the sound first
        assert np.argmin(measured) == np.argmin(expected)
        res = loc.locate(seg)
        assert abs(float(wrap_azimuth_deg(res.azimuth[0] - az))) < 3.0, (meta["name"], res.azimuth[0], az)
        n_checked += 1
    assert n_checked == 6


def test_rotated_3d_array_labels_match_audio(corpus, tmp_path):
    """A tetrahedral array with random yaw, pitch and roll: SRP-PHAT on the audio, with the array's
    own (unrotated) geometry, lands on the labelled 3-D direction."""
    from soundloc.doa import get_localizer

    cfg = small_config(corpus, num_clips=4, fs=24000, array={"name": "tetra", "pitch": [-60, 60], "roll": [-60, 60]},
                       events={"count": [1, 1], "duration": [0.5, 0.6]}, room={"rt60": [0.1, 0.2]}, max_order=0,
                       noise={"snr_db": [30, 30]})
    out = tmp_path / "rot"
    generate_dataset(out, cfg, seed=5)
    metas = [json.loads(s) for s in (out / "manifest.jsonl").read_text().splitlines()]
    assert any(abs(m["array"]["pitch"]) > 10 and abs(m["array"]["roll"]) > 10 for m in metas)
    loc = get_localizer("srp-phat", MicArray.preset("tetra"), cfg.fs, grid=SphereGrid(3000), fmax=8000.0)
    for meta, ev, rows, seg, fs in _single_event_segments(out):
        res = loc.locate(seg)
        est = unit_vectors_deg(res.azimuth[0], res.elevation[0])
        ref = unit_vectors_deg(rows.azimuth[0], rows.elevation[0])
        assert float(angular_separation_deg(est, ref)) < 5.0, (meta["name"], res.azimuth, res.elevation, rows.azimuth[0], rows.elevation[0])


def test_deterministic_across_runs_and_worker_counts(corpus, tmp_path):
    cfg = small_config(corpus, num_clips=5, events={"mode": "overlap", "count": [1, 3], "max_polyphony": 2,
                                                     "moving_probability": 0.5})
    a, b = tmp_path / "a", tmp_path / "b"
    ra = generate_dataset(a, cfg, seed=11, workers=1)
    rb = generate_dataset(b, cfg, seed=11, workers=2)
    assert ra.generated == rb.generated == 5
    ta, tb = tree_bytes(a), tree_bytes(b)
    assert ta.keys() == tb.keys() and len(ta) == 2 + 3 * 5
    assert all(ta[k] == tb[k] for k in ta)
    # any concurrent.futures executor maps the same tasks (here threads; Dask's works the same way)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        generate_dataset(tmp_path / "ex", cfg, seed=11, executor=ex)
    assert tree_bytes(tmp_path / "ex") == ta
    # a different seed changes the audio
    c = tmp_path / "c"
    generate_dataset(c, cfg, seed=12)
    tc = tree_bytes(c)
    assert ta["audio/train/clip_000000.flac"] != tc["audio/train/clip_000000.flac"]
    # moving sources happened and their labels move
    metas = [json.loads(s) for s in (a / "manifest.jsonl").read_text().splitlines()]
    assert any(ev["moving"] for m in metas for ev in m["events"])


_KILL_SCRIPT = """
import sys
from soundloc.scenes.config import SceneConfig
from soundloc.scenes.writer import generate_dataset
import json
cfg = SceneConfig.from_dict(json.loads(sys.argv[2]))
generate_dataset(sys.argv[1], cfg, seed=7, workers=1)
"""


def test_resume_after_kill_equals_uninterrupted_run(corpus, tmp_path):
    cfg = small_config(corpus, num_clips=14)
    ref, out = tmp_path / "ref", tmp_path / "killed"
    generate_dataset(ref, cfg, seed=7)
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(out), json.dumps(cfg.to_dict())],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("metadata/*/*.json"))) < 3:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("metadata/*/*.json")))
    assert proc.returncode == -signal.SIGKILL and 3 <= done < 14, done
    assert not (out / "manifest.jsonl").exists()
    # what a kill in the middle of a write leaves behind
    stray = out / "audio" / "train" / ".clip_000013.flac.x1y2.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half a flac")
    rep = generate_dataset(out, cfg, seed=7)
    assert rep.skipped == done and rep.generated == 14 - done
    assert not stray.exists()
    t_ref, t_out = tree_bytes(ref), tree_bytes(out)
    assert t_ref.keys() == t_out.keys()
    assert [k for k in t_ref if t_ref[k] != t_out[k]] == []


def test_splits_do_not_share_source_clips(corpus, tmp_path):
    cfg = small_config(corpus, num_clips=8, events={"count": [1, 2]})
    out = tmp_path / "splits"
    generate_dataset(out, cfg, seed=1)
    header = json.loads((out / "dataset.json").read_text())
    pools = {s: set(v) for s, v in header["source_clips"].items()}
    assert header["splits"] == {"train": 4, "val": 2, "test": 2}
    assert not (pools["train"] & pools["val"]) and not (pools["train"] & pools["test"]) and not (pools["val"] & pools["test"])
    assert all(pools[s] for s in ("train", "val", "test"))
    used: dict[str, set] = {"train": set(), "val": set(), "test": set()}
    for line in (out / "manifest.jsonl").read_text().splitlines():
        m = json.loads(line)
        assert m["audio"].startswith(f"audio/{m['split']}/")
        used[m["split"]] |= {ev["clip_id"] for ev in m["events"]}
    for s in used:
        assert used[s] and used[s] <= pools[s]
    assert header["class_names"] == ["burst", "chirp", "clicks"]
    assert header["corpus"]["num_clips"] == 12 and len(header["corpus"]["fingerprint"]) == 16


def test_rerun_with_other_config_is_refused(corpus, tmp_path):
    cfg = small_config(corpus, num_clips=2)
    out = tmp_path / "ds"
    generate_dataset(out, cfg, seed=0)
    # the message names what differs (regression: it used to say "different config" for a new seed)
    with pytest.raises(ValueError, match=r"holds a dataset with a different config \(seed 0 there, 1 here\); "
                                         r"use a new folder or --overwrite"):
        generate_dataset(out, cfg, seed=1)
    with pytest.raises(ValueError, match=r"different config \(config\.room\.rt60 \[0\.2, 0\.5\] there, \[0\.3, 0\.4\] here\)"):
        generate_dataset(out, cfg.replace(room={"rt60": [0.3, 0.4]}), seed=0)
    with pytest.raises(ValueError, match=r"config\.num_clips 2 there, 3 here"):
        generate_dataset(out, cfg.replace(num_clips=3), seed=0)
    rep = generate_dataset(out, cfg, seed=1, overwrite=True)
    assert rep.generated == 2
    fresh = tmp_path / "fresh"
    generate_dataset(fresh, cfg, seed=1)
    assert tree_bytes(out) == tree_bytes(fresh)


def test_changed_corpus_is_a_different_dataset(corpus, tmp_path):
    import shutil

    c2 = tmp_path / "corpus2"
    shutil.copytree(corpus, c2)
    cfg = small_config(c2, num_clips=1)
    out = tmp_path / "ds"
    generate_dataset(out, cfg, seed=0)
    victim = sorted(c2.rglob("*.wav"))[0]
    x, fs = sf.read(victim)
    sf.write(victim, np.concatenate([x, x[:1000]]), fs, subtype="FLOAT")  # a re-rendered source clip
    with pytest.raises(ValueError, match="different config"):
        generate_dataset(out, cfg, seed=0)


def test_clear_errors_for_bad_inputs(corpus, tmp_path):
    empty = tmp_path / "empty_corpus"
    empty.mkdir()
    with pytest.raises(ValueError) as e:
        generate_dataset(tmp_path / "x", small_config(empty), seed=0)
    assert "empty_corpus" in str(e.value)
    other = tmp_path / "not_a_dataset"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no soundloc dataset"):
        generate_dataset(other, small_config(corpus), seed=0)
    assert (other / "notes.txt").read_text() == "mine"


def test_point_noise_and_wav_output(corpus, tmp_path):
    cfg = small_config(corpus, num_clips=2, audio_format="wav", noise={"kind": "point", "snr_db": [5, 5]},
                       peak_dbfs=-3.0)
    out = tmp_path / "wav"
    generate_dataset(out, cfg, seed=0)
    for line in (out / "manifest.jsonl").read_text().splitlines():
        m = json.loads(line)
        x, fs = sf.read(out / m["audio"], dtype="float32", always_2d=True)
        assert sf.info(out / m["audio"]).subtype == "FLOAT" and fs == cfg.fs and x.shape == (cfg.num_samples, 4)
        assert abs(20 * np.log10(np.abs(x).max()) + 3.0) < 1e-4  # peak at peak_dbfs
        assert m["noise"]["kind"] == "point" and len(m["noise"]["position"]) == 3
        assert m["room"]["rt60_measured"] is not None and abs(m["room"]["rt60_measured"] - m["room"]["rt60_target"]) < 0.1


def test_dask_executor_gives_the_same_dataset(corpus, tmp_path):
    """The per-clip task is a pure function of (config, seed, index): a Dask cluster maps it too."""
    distributed = pytest.importorskip("distributed")
    cfg = small_config(corpus, num_clips=3)
    ref = tmp_path / "ref"
    generate_dataset(ref, cfg, seed=5, workers=1)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        generate_dataset(tmp_path / "dask", cfg, seed=5, executor=client.get_executor())
    assert tree_bytes(tmp_path / "dask") == tree_bytes(ref)


def test_direct_sound_arrives_propagation_delay_after_labelled_onset(corpus, tmp_path):
    """Regression: the RIRs carry a fixed 40-sample filter delay (direct path at d / c * fs + 40);
    the mixer must take it out, so the direct sound at mic m arrives exactly |src - mic_m| / c after
    the labelled onset (it used to arrive 40 samples later). Measured by independent GCC-PHAT between
    the dry excerpt (read from the corpus file) placed at the onset and each mic signal."""
    cfg = small_config(corpus, num_clips=3, events={"count": [1, 1], "duration": [0.5, 0.6]},
                       room={"rt60": [0.1, 0.2]}, max_order=0, noise={"kind": "none"})
    out = tmp_path / "timing"
    generate_dataset(out, cfg, seed=2)
    for line in (out / "manifest.jsonl").read_text().splitlines():
        meta = json.loads(line)
        x, fs = sf.read(out / meta["audio"], dtype="float64", always_2d=True)
        (ev,) = meta["events"]
        src, sfs = sf.read(corpus / f"{ev['clip_id']}.wav", dtype="float64")
        assert sfs == fs
        a = int(round(ev["source_start"] * fs))
        n = int(round((ev["offset"] - ev["onset"]) * fs))
        dry = np.zeros(len(x))
        on = int(round(ev["onset"] * fs))
        dry[on : on + n] = src[a : a + n]
        d = np.linalg.norm(np.array(meta["mic_positions"]) - np.array(ev["start_position"]), axis=1)
        for m in range(x.shape[1]):
            tau = _gcc_phat_tdoa(dry, x[:, m], fs, 0.05)
            assert abs(tau - d[m] / 343.0) < 0.5 / fs, (meta["name"], m, tau * fs, d[m] / 343.0 * fs)
