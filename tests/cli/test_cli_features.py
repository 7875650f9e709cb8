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


def _dcase_folder(root: Path, fs: int = 24000, fmt: str = "mic") -> Path:
    rng = np.random.default_rng(0)
    for sub, names in (("dev-train-synth", ["fold1_room1_mix001", "fold1_room1_mix002"]), ("dev-test-synth", ["fold2_room1_mix001"])):
        for k, name in enumerate(names):
            (root / f"{fmt}_dev" / sub).mkdir(parents=True, exist_ok=True)
            (root / "metadata_dev" / sub).mkdir(parents=True, exist_ok=True)
            x = 0.1 * rng.standard_normal((fs + 1000 * k, 4)) * (1 + k)
            sf.write(root / f"{fmt}_dev" / sub / f"{name}.wav", x, fs, subtype="FLOAT")
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
                 "--out", str(out), "--no-progress", "--per-bin"]) == 0
    header = json.loads((out / "features.json").read_text())
    assert len(header["clips"]) == 1 and header["config"]["fs"] == 16000
    a = np.load(out / header["clips"][0]["file"])
    assert a.shape == (7, 1 + 16000 // 320, 513)
    assert FeatureNormalizer.load(out / "normalizer.json").mean.shape == (1, 7, 1, 513)
