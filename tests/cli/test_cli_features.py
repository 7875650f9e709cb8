"""`soundloc features` through `main([...])` on a small hand-made DCASE-layout folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from soundloc.cli import main
from soundloc.features import FeatureNormalizer, get_feature


def _dcase_folder(root: Path, fs: int = 24000, fmt: str = "mic", fmts: tuple[str, ...] = ()) -> Path:
    """STARSS-like folder; ``fmts`` (default ``(fmt,)``) audio folders each get different noise."""
    rng = np.random.default_rng(0)
    for f in fmts or (fmt,):
        for sub, names in (("dev-train-synth", ["fold1_room1_mix001", "fold1_room1_mix002"]), ("dev-test-synth", ["fold2_room1_mix001"])):
            for k, name in enumerate(names):
                (root / f"{f}_dev" / sub).mkdir(parents=True, exist_ok=True)
                (root / "metadata_dev" / sub).mkdir(parents=True, exist_ok=True)
                x = 0.1 * rng.standard_normal((fs + 1000 * k, 4)) * (1 + k)
                sf.write(root / f"{f}_dev" / sub / f"{name}.wav", x, fs, subtype="FLOAT")
                (root / "metadata_dev" / sub / f"{name}.csv").write_text("0,1,0,30,0\n3,2,0,-60,10\n")
    return root


def test_features_cache_normalizer_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dcase_folder(tmp_path / "data")
    out = tmp_path / "feats"
    assert main(["features", str(data), "--feature", "mic", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "3 clips computed, 0 already cached" in text and "fitted on 2 clips" in text
    header = json.loads((out / "features.json").read_text())
    assert header["feature"] == "mic" and header["out_channels"] == 10 and len(header["clips"]) == 3
    # each cached array equals the library feature of the file
    f = get_feature("mic", in_channels=4, fs=24000)
    arrays = {}
    for c in header["clips"]:
        a = np.load(out / c["file"])
        x, _ = sf.read(data / "mic_dev" / (c["name"] + ".wav"), dtype="float32", always_2d=True)
        np.testing.assert_allclose(a, f(torch.from_numpy(x.T.copy())[None])[0].numpy(), atol=1e-4)
        arrays[c["name"]] = a
    # normalizer = per-channel mean/std over the train clips only
    train = [arrays[c["name"]] for c in header["clips"] if c["split"].startswith("dev-train")]
    assert len(train) == 2
    flat = np.concatenate([a.reshape(10, -1) for a in train], axis=1)
    norm = FeatureNormalizer.load(out / "normalizer.json")
    np.testing.assert_allclose(norm.mean.flatten().numpy(), flat.mean(1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(norm.std.flatten().numpy(), flat.std(1), rtol=1e-4)
    # rerun: nothing recomputed; a different feature into the same folder is refused
    mtime = (out / header["clips"][0]["file"]).stat().st_mtime_ns
    assert main(["features", str(data), "--feature", "mic", "--out", str(out), "--no-progress"]) == 0
    assert "0 clips computed, 3 already cached" in capsys.readouterr().out
    assert (out / header["clips"][0]["file"]).stat().st_mtime_ns == mtime
    assert main(["features", str(data), "--feature", "salsa-lite", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different features" in err and len(err.strip().splitlines()) == 1
    assert not list(out.rglob("*.tmp"))


def test_features_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dcase_folder(tmp_path / "data")
    for argv, msg in [
        (["features", str(data), "--feature", "mfcc", "--out", str(tmp_path / "o1")], "unknown feature 'mfcc'"),
        (["features", str(data), "--feature", "foa", "--out", str(tmp_path / "o2"), "--preset", "nope"], "unknown feature preset"),
        (["features", str(tmp_path / "nothing"), "--out", str(tmp_path / "o3")], "does not exist"),
        (["features", str(data), "--out", str(tmp_path / "o4"), "--split", "test", "--fit-split", "train"], "no clips of split"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_features_split_and_mcsimclr_preset_resamples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dcase_folder(tmp_path / "data")
    out = tmp_path / "o"
    assert main(["features", str(data), "--feature", "salsa-lite", "--preset", "mcsimclr", "--split", "test",
                 "--fit-split", "test", "--out", str(out), "--no-progress", "--per-bin"]) == 0
    header = json.loads((out / "features.json").read_text())
    assert len(header["clips"]) == 1 and header["config"]["fs"] == 16000
    a = np.load(out / header["clips"][0]["file"])
    assert a.shape == (7, 1 + 16000 // 320, 513)
    assert FeatureNormalizer.load(out / "normalizer.json").mean.shape == (1, 7, 1, 513)


def _cached_equals(out: Path, audio_dir: Path, feature: str) -> None:
    """Every clip of ``out`` equals the library feature of the same-named file in ``audio_dir``."""
    header = json.loads((out / "features.json").read_text())
    f = get_feature(feature, in_channels=4, fs=24000)
    for c in header["clips"]:
        x, _ = sf.read(audio_dir / (c["name"] + ".wav"), dtype="float32", always_2d=True)
        np.testing.assert_allclose(np.load(out / c["file"]), f(torch.from_numpy(x.T.copy())[None])[0].numpy(), atol=1e-4)


def test_features_auto_reads_the_audio_the_feature_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dcase_folder(tmp_path / "data", fmts=("mic", "foa"))  # STARSS23: both audio folders
    for feature, fmt in (("foa", "foa"), ("intensity", "foa"), ("gcc-phat", "mic"), ("logmel", "mic")):
        out = tmp_path / feature
        assert main(["features", str(data), "--feature", feature, "--out", str(out), "--no-progress"]) == 0
        text = capsys.readouterr().out
        header = json.loads((out / "features.json").read_text())
        assert header["audio_format"] == fmt and header["array"]["folders"] == [f"{fmt}_dev"]
        assert f"of {fmt} audio" in text
        assert ("--audio-format picks the other" in text) == (feature == "logmel")
        _cached_equals(out, data / f"{fmt}_dev", feature)
    # logmel of the FOA audio on request
    argv = ["features", str(data), "--feature", "logmel", "--audio-format", "foa", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "lf")]) == 0
    _cached_equals(tmp_path / "lf", data / "foa_dev", "logmel")
    # a cache of the mic audio is not reused for the FOA audio
    assert main(["features", str(data), "--feature", "logmel", "--audio-format", "foa", "--out", str(tmp_path / "logmel")]) == 2
    assert "different features" in capsys.readouterr().err
    # mismatches are usage errors, before anything is written
    mic_only = _dcase_folder(tmp_path / "mic_only")
    for argv, msg in [
        (["features", str(data), "--feature", "foa", "--audio-format", "mic"], "feature 'foa' needs foa audio"),
        (["features", str(data), "--feature", "salsa-lite", "--audio-format", "foa"], "needs mic audio"),
        (["features", str(mic_only), "--feature", "intensity"], "has no foa_dev/ or foa_eval/ folder"),
    ]:
        assert main([*argv, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()


def _soundloc_folder(root: Path, array: dict[str, object]) -> Path:
    """A minimal soundloc dataset: dataset.json with ``array`` and two clips (train, test) in manifest.jsonl."""
    rng = np.random.default_rng(1)
    (root / "audio").mkdir(parents=True)
    (root / "labels").mkdir()
    lines = []
    for i, split in enumerate(("train", "test")):
        sf.write(root / "audio" / f"c{i}.wav", 0.1 * rng.standard_normal((24000, 4)), 24000, subtype="FLOAT")
        (root / "labels" / f"c{i}.csv").write_text("0,0,0,30,0,100\n")
        lines.append(json.dumps({"name": f"c{i}", "split": split, "audio": f"audio/c{i}.wav", "labels": f"labels/c{i}.csv"}))
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    (root / "dataset.json").write_text(json.dumps({"class_names": ["a"], "array": array}))
    return root


def test_features_soundloc_dataset_feature_must_fit_the_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from soundloc.ambisonics import FoaFormat
    from soundloc.geometry import get_array

    foa = _soundloc_folder(tmp_path / "foa", FoaFormat().to_dict())
    mic = _soundloc_folder(tmp_path / "mic", get_array("tetra").to_dict())
    for data, feature, msg in [
        (foa, "mic", "feature 'mic' needs a spaced microphone array; dataset"),
        (foa, "gcc-phat", "needs a spaced microphone array"),
        (mic, "foa", "feature 'foa' needs a coincident FOA array; dataset"),
        (mic, "intensity", "needs a coincident FOA array"),
    ]:
        assert main(["features", str(data), "--feature", feature, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()
    assert main(["features", str(mic), "--feature", "logmel", "--audio-format", "foa", "--out", str(tmp_path / "bad")]) == 2
    assert "holds mic audio" in capsys.readouterr().err
    for data, feature, fmt in ((foa, "foa", "foa"), (foa, "logmel", "foa"), (mic, "salsa-lite", "mic")):
        out = tmp_path / f"{data.name}-{feature}"
        assert main(["features", str(data), "--feature", feature, "--out", str(out), "--no-progress"]) == 0
        header = json.loads((out / "features.json").read_text())
        assert header["audio_format"] == fmt and header["array"] == json.loads((data / "dataset.json").read_text())["array"]
        _cached_equals(out, data / "audio", feature)
    capsys.readouterr()


def test_features_normalizer_never_fitted_on_test_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _dcase_folder(tmp_path / "data")
    out = tmp_path / "o"
    # a fresh folder with only test clips: refused (no silent fit on test), nothing written
    assert main(["features", str(data), "--split", "test", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no training clips selected" in err and "--fit-split" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert main(["features", str(data), "--split", "train", "--out", str(out), "--no-progress"]) == 0
    norm = json.loads((out / "normalizer.json").read_text())
    assert norm["fit_split"] == "train"
    assert norm["fit_clips"] == ["dev-train-synth/fold1_room1_mix001", "dev-train-synth/fold1_room1_mix002"]
    before = (out / "normalizer.json").read_bytes()
    # the test split afterwards: computed, the train-fitted normalizer kept, the clip list grows
    assert main(["features", str(data), "--split", "test", "--out", str(out), "--no-progress"]) == 0
    assert "kept the existing normalizer" in capsys.readouterr().out
    assert (out / "normalizer.json").read_bytes() == before
    header = json.loads((out / "features.json").read_text())
    assert [c["split"] for c in header["clips"]] == ["dev-train-synth", "dev-train-synth", "dev-test-synth"]
    # a failing fit split changes nothing on disk
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["features", str(data), "--split", "test", "--fit-split", "val", "--out", str(out)]) == 2
    assert "no clips of split 'val'" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    # an explicit --fit-split test does fit on test, and says so in normalizer.json
    assert main(["features", str(data), "--split", "test", "--fit-split", "test", "--out", str(out), "--no-progress"]) == 0
    norm = json.loads((out / "normalizer.json").read_text())
    assert norm["fit_split"] == "test" and norm["fit_clips"] == ["dev-test-synth/fold2_room1_mix001"]
    a = np.load(out / "dev-test-synth" / "fold2_room1_mix001.npy")
    np.testing.assert_allclose(norm["mean"], a.reshape(a.shape[0], -1).mean(1), rtol=1e-5, atol=1e-5)
