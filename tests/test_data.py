"""soundloc.data: DCASE CSV reading (against the official reference files), frame targets, the
SeldDataset reader on our folders and on STARSS23/TAU layouts, and path safety."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).parent / "scenes"))
from scene_helpers import make_corpus, small_config  # noqa: E402

from soundloc.ambisonics import FoaFormat  # noqa: E402
from soundloc.data import SeldDataset  # noqa: E402
from soundloc.data.dcase import labels_to_targets  # noqa: E402
from soundloc.data.layout import STARSS23_CLASSES  # noqa: E402
from soundloc.data.summary import format_summary, summarize_dataset  # noqa: E402
from soundloc.dataformat import DcaseLabels, read_dcase_csv, write_dcase_csv  # noqa: E402

REF = Path(__file__).resolve().parent / "data" / "reference"  # copied from shared/reference (see its README)
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason="shared/reference not present")


# ---------------------------------------------------------------------------
# CSV format
# ---------------------------------------------------------------------------


@needs_ref
def test_starss_2024_distance_units_auto_detected():
    ref = read_dcase_csv(REF / "dcase2024_seld_dist/cases/case01_ref.csv")  # integer cm
    pred = read_dcase_csv(REF / "dcase2024_seld_dist/cases/case01_pred.csv")  # metres, 3 decimals
    assert ref.has_distance and pred.has_distance
    assert ref.distance[0] == pytest.approx(4.09)
    np.testing.assert_allclose(ref.distance, pred.distance, atol=1e-9)
    np.testing.assert_allclose(ref.azimuth, pred.azimuth)
    forced = read_dcase_csv(REF / "dcase2024_seld_dist/cases/case01_ref.csv", distance_unit="m")
    assert forced.distance[0] == pytest.approx(409.0)


@needs_ref
def test_polar_and_cartesian_files_agree():
    polar = read_dcase_csv(REF / "dcase2023_seld/cases/case06_pred.csv")
    cart = read_dcase_csv(REF / "dcase2023_seld/cases/case06_pred_cart.csv")
    assert len(polar) == len(cart) > 0 and not polar.has_distance
    assert cart.has_distance and np.all(cart.distance == 0)  # 7 columns: distance 0 is 0 m (official loader)
    np.testing.assert_array_equal(polar.frame, cart.frame)
    np.testing.assert_array_equal(polar.class_index, cart.class_index)
    sep = np.degrees(np.arccos(np.clip(np.sum(polar.directions() * cart.directions(), 1), -1, 1)))
    assert sep.max() < 0.01  # the polar file has 2 decimals


@needs_ref
def test_reference_files_read_with_five_columns():
    lab = read_dcase_csv(REF / "dcase2023_seld/cases/case01_ref.csv")
    assert lab.frame[0] == 10 and lab.class_index[0] == 3 and lab.azimuth[0] == 45 and lab.elevation[0] == 10
    assert np.all(np.isnan(lab.distance))
    assert len(read_dcase_csv(REF / "dcase2023_seld/cases/case03_pred.csv")) == 0  # empty file


def test_csv_round_trip_and_errors(tmp_path):
    lab = DcaseLabels.from_rows([(0, 2, 0, 12.345, -3.21, 1.234), (0, 1, 1, -179.999, 89.5, 0.5), (3, 2, 0, 0.004, -0.001, 2.0)])
    p = tmp_path / "l.csv"
    write_dcase_csv(p, lab)
    text = p.read_text()
    assert text.splitlines()[0] == "0,2,0,12.35,-3.21,123" and "0.00,0.00,200" in text and "-0.00" not in text
    back = read_dcase_csv(p)  # decimals in the distance? no: integers -> cm
    np.testing.assert_allclose(back.distance, [1.23, 0.5, 2.0])
    np.testing.assert_allclose(back.azimuth, [12.35, -180.0, 0.0])
    p.write_text("0,1,0,10,20\n1,1,0,10\n")
    with pytest.raises(ValueError, match="line 2 has 4 columns"):
        read_dcase_csv(p)
    p.write_text("0,1,0,ten,20\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_dcase_csv(p)
    with pytest.raises(ValueError, match="does not exist"):
        read_dcase_csv(tmp_path / "nope.csv")
    p.write_text("frame,class,track,azimuth,elevation\n4,0,0,90,0\n")  # header line tolerated
    assert read_dcase_csv(p).frame.tolist() == [4]


def test_labels_to_targets_slots_and_offsets():
    lab = DcaseLabels.from_rows([
        (1, 0, 5, 90.0, 0.0, 2.0), (1, 0, 2, 0.0, 0.0, 1.0), (1, 0, 7, 180.0, 0.0, 3.0),  # 3 instances of class 0
        (2, 1, 0, 0.0, 90.0, np.nan), (9, 1, 0, 0.0, 0.0, 1.0),
    ])
    t = labels_to_targets(lab, num_frames=4, num_classes=2, max_tracks=2)
    assert t["activity"].shape == (4, 2, 2) and t["doa"].shape == (4, 2, 2, 3)
    assert t["activity"][1, :, 0].tolist() == [1.0, 1.0]  # the third instance is dropped
    np.testing.assert_allclose(t["doa"][1, 0, 0], [1, 0, 0], atol=1e-7)  # track 2 (lowest id) -> slot 0
    np.testing.assert_allclose(t["doa"][1, 1, 0], [0, 1, 0], atol=1e-7)  # track 5 -> slot 1
    assert t["distance"][1, 0, 0] == 1.0 and t["distance"][2, 0, 1] == 0.0  # unknown distance -> 0
    np.testing.assert_allclose(t["doa"][2, 0, 1], [0, 0, 1], atol=1e-7)
    assert t["activity"].sum() == 3  # frame 9 is outside the window
    t2 = labels_to_targets(lab, num_frames=2, num_classes=2, max_tracks=1, frame_offset=8)
    assert t2["activity"][1, 0, 1] == 1 and t2["activity"].sum() == 1
    with pytest.raises(ValueError, match="out of range"):
        labels_to_targets(lab, 4, num_classes=1)


# ---------------------------------------------------------------------------
# reader on a generated dataset
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    from soundloc.scenes.writer import generate_dataset

    root = tmp_path_factory.mktemp("data")
    corpus = make_corpus(root / "corpus")
    out = root / "ds"
    generate_dataset(out, small_config(corpus, num_clips=4, splits={"train": 0.5, "val": 0.25, "test": 0.25}), seed=2)
    return out


def test_reader_on_generated_dataset(tiny_dataset):
    ds = SeldDataset(tiny_dataset, split="train")
    assert len(ds) == 2 and ds.class_names == ("burst", "chirp", "clicks") and ds.fs == 16000
    assert ds.array.name == "circular4"
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (4, 24000)
    assert y["activity"].shape == (15, 3, 3) and y["doa"].shape == (15, 3, 3, 3)
    # targets agree with the CSV rows
    entry = ds.entries[0]
    lab = read_dcase_csv(entry.labels, distance_unit="cm")
    for f, c, az, el, d in zip(lab.frame, lab.class_index, lab.azimuth, lab.elevation, lab.distance):
        assert y["activity"][f, 0, c] == 1
        a, e = np.radians(az), np.radians(el)
        u = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
        np.testing.assert_allclose(y["doa"][f, 0, c].numpy(), u, atol=1e-6)
        assert y["distance"][f, 0, c].item() == pytest.approx(d, abs=1e-6)
    assert y["activity"].sum() == len(lab)
    # the audio is the stored file
    ref, _ = sf.read(entry.audio, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(x.numpy(), ref.T)


def test_reader_windows_and_resampling(tiny_dataset):
    ds = SeldDataset(tiny_dataset, clip_seconds=1.0, fs=24000)
    assert len(ds) == 4 * 2  # 1.5 s clips -> 2 windows each, the second zero-padded
    x, y = ds[1]
    assert x.shape == (4, 24000) and y["activity"].shape[0] == 10
    assert float(x[:, 12000:].abs().max()) < 1e-3  # padding after 0.5 s (resampler ringing only)
    assert y["activity"][5:].sum() == 0
    whole = SeldDataset(tiny_dataset, clip_seconds=1.0, hop_seconds=0.5)
    assert len(whole) == 4 * 2
    with pytest.raises(ValueError, match="multiple of the 0.1 s"):
        SeldDataset(tiny_dataset, clip_seconds=0.25)
    loader = torch.utils.data.DataLoader(SeldDataset(tiny_dataset, clip_seconds=0.5), batch_size=3)
    xb, yb = next(iter(loader))
    assert xb.shape == (3, 4, 8000) and yb["doa"].shape == (3, 5, 3, 3, 3)


def test_summary_of_generated_dataset(tiny_dataset):
    s = summarize_dataset(tiny_dataset)
    assert s.files_per_split == {"train": 2, "val": 1, "test": 1}
    metas = [json.loads(x) for x in (tiny_dataset / "manifest.jsonl").read_text().splitlines()]
    assert s.total_events == sum(m["num_events"] for m in metas) == int(s.class_events.sum())
    np.testing.assert_allclose(np.sort(s.rt60_target), np.sort([m["room"]["rt60_target"] for m in metas]))
    assert s.polyphony.sum() == 4 * 15
    text = format_summary(s)
    assert "train 2" in text and "RT60" in text and "burst" in text


def test_metadata_paths_cannot_escape_root(tiny_dataset, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_dataset, bad)
    lines = (bad / "manifest.jsonl").read_text().splitlines()
    m = json.loads(lines[0])
    for evil in ("../outside.flac", "audio/../../outside.flac", str((tmp_path / "abs.flac").resolve())):
        m["audio"] = evil
        (bad / "manifest.jsonl").write_text("\n".join([json.dumps(m)] + lines[1:]) + "\n")
        with pytest.raises(ValueError, match="outside the dataset root|absolute"):
            SeldDataset(bad)


# ---------------------------------------------------------------------------
# STARSS23 / TAU layouts
# ---------------------------------------------------------------------------


def _write_dcase_file(audio: Path, csv: Path, rows: str, fs: int = 24000, seconds: float = 4.0, ch: int = 4):
    audio.parent.mkdir(parents=True, exist_ok=True)
    csv.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(0).standard_normal((int(fs * seconds), ch)).astype(np.float32) * 0.1
    sf.write(audio, x, fs)
    csv.write_text(rows)


def test_starss23_layout(tmp_path):
    root = tmp_path / "STARSS23"
    _write_dcase_file(root / "mic_dev/dev-train-sony/fold3_room21_mix001.wav",
                      root / "metadata_dev/dev-train-sony/fold3_room21_mix001.csv",
                      "3,12,0,-49,42,409\n3,0,1,10,0,150\n4,12,0,-48,42,409\n")
    _write_dcase_file(root / "mic_dev/dev-test-tau/fold4_room2_mix005.wav",
                      root / "metadata_dev/dev-test-tau/fold4_room2_mix005.csv", "0,5,0,90,0,200\n")
    _write_dcase_file(root / "foa_dev/dev-train-sony/fold3_room21_mix001.wav",
                      root / "metadata_dev/dev-train-sony/fold3_room21_mix001.csv",
                      "3,12,0,-49,42,409\n3,0,1,10,0,150\n4,12,0,-48,42,409\n")
    train = SeldDataset(root, split="train")
    assert len(train) == 1 and train.class_names == STARSS23_CLASSES and train.layout == "dcase"
    assert "mic_dev" in str(train.entries[0].audio) and train.array.name == "tetra"
    foa = SeldDataset(root, split="train", audio_format="foa")
    assert foa.entries[0].audio.parts[-3] == "foa_dev" and foa.array == FoaFormat()
    x, y = train[0]
    assert x.shape == (4, 96000) and y["activity"].shape == (40, 3, 13)
    assert y["activity"][3, 0, 12] == 1 and y["activity"][3, 0, 0] == 1 and y["activity"].sum() == 3
    assert y["distance"][3, 0, 12].item() == pytest.approx(4.09)
    u = y["doa"][3, 0, 12].numpy()
    assert np.degrees(np.arctan2(u[1], u[0])) == pytest.approx(-49.0, abs=1e-4)
    test = SeldDataset(root, split="test", clip_seconds=1.0)
    assert len(test) == 4 and test.entries[0].split == "dev-test-tau"
    assert len(SeldDataset(root)) == 2 and len(SeldDataset(root, split="dev-test-tau")) == 1
    with pytest.raises(ValueError, match="no labelled audio files"):
        SeldDataset(root, split="val")
    s = summarize_dataset(root)
    assert s.layout == "dcase" and s.class_events[12] == 1 and len(s.rt60_target) == 0


def test_tau_flat_layout_with_folds(tmp_path):
    root = tmp_path / "TAU2020"
    for fold in (1, 2):
        _write_dcase_file(root / f"foa_dev/fold{fold}_room1_mix001.wav", root / f"metadata_dev/fold{fold}_room1_mix001.csv",
                          "0,3,0,20,10\n1,3,0,21,10\n", seconds=1.0)
    ds = SeldDataset(root, split="fold2")
    assert len(ds) == 1 and ds.entries[0].name == "fold2_room1_mix001"
    _, y = ds[0]
    assert y["activity"].sum() == 2 and y["distance"].sum() == 0  # 5 columns: no distance


def test_not_a_dataset(tmp_path):
    with pytest.raises(ValueError, match="not a dataset folder"):
        SeldDataset(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        SeldDataset(tmp_path / "missing")


def test_num_label_frames_counts_partial_frames():
    from soundloc.dataformat import num_label_frames

    # 0.3 / 0.1 is 2.9999999999999996 in floating point: still 3 frames, not 4 (or 2)
    assert [num_label_frames(s) for s in (0.3, 1.0, 1.05, 0.01, 3.0)] == [3, 10, 11, 1, 30]
    assert num_label_frames(30000 / 16000) == 19  # a 1.875 s file: 18 whole frames + a partial one


def test_count_windows_equals_the_disjoint_dataset(tiny_dataset):
    crops = SeldDataset(tiny_dataset, clip_seconds=0.4, hop_seconds=0.1)
    for clip in (0.4, 0.5, 1.0, 2.0):
        assert crops.count_windows(clip) == len(SeldDataset(tiny_dataset, clip_seconds=clip))
    assert crops.file_seconds(0) == pytest.approx(1.5)
