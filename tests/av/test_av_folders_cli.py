"""`soundloc av-train` on a VGGSound-style folder, `av-evaluate` on Flickr-SoundNet and VGG-SS folders, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_errors import one_line_error as _one_line_error
from soundloc.av.folders import FolderOptions, flickr_dataset, vggss_dataset
from soundloc.av.models import load_av_model
from soundloc.av.train import load_split
from soundloc.cli import main
from soundloc.metrics.av_eval import evaluate_av, model_predictor

TINY = ["--epochs", "1", "--batch-size", "4", "--image-size", "32", "--width", "4", "--audio-width", "4", "--blocks", "1,1",
        "--embed-dim", "8", "--duration", "0.25", "--quiet"]


@pytest.fixture
def run(tmp_path: Path, vggsound_root: Callable[[int], Path], capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "run"
    assert main(["av-train", str(vggsound_root(10)), "--loss", "ezvsl", "--out", str(out), "--val-size", "2", *TINY]) == 0
    assert "validation loss" in capsys.readouterr().out  # no boxes in the held-out clips: selected on the loss
    return out


def test_train_on_a_folder_and_evaluate_on_flickr_and_vggss(run: Path, flickr_root: Path, vggss_root: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((run / "data.json").read_text())
    assert doc["format"] == "vggsound" and doc["n"] == 10 and doc["val"] == {"holdout": 2, "seed": 0} and doc["duration"] == 0.25
    model = load_av_model(run / "model")
    assert main(["av-evaluate", str(run), str(flickr_root), "--format", "json", "--baselines"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert list(got) == ["model", "random init", "centre prior"]
    data = load_split(flickr_dataset(flickr_root, options=FolderOptions(image_size=224, duration=0.25)))
    assert data.box_format == "flickr" and data.frames.shape == (3, 3, 224, 224)
    want = evaluate_av(model_predictor(model), data)
    assert got["model"]["n"] == 3 and got["model"]["n_pos"] == 3
    assert got["model"]["cIoU_mean"] == pytest.approx(want.ciou_mean) and got["model"]["AUC"] == pytest.approx(want.auc)
    # VGG-SS with a list file as DATA-side selection, at another size; the same table as the built-in benchmark
    (vggss_root / "test.csv").write_text("aaa_000010\nccc_000030\n")
    assert main(["av-evaluate", str(run), str(vggss_root), "--list", str(vggss_root / "test.csv"), "--image-size", "64"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["method", "n", "n_pos", "n_neg", "cIoU@0.5", "cIoU_mean", "AUC", "AP", "max_F1"]
    assert table[1].split()[:3] == ["model", "2", "2"]
    want = evaluate_av(model_predictor(model), load_split(vggss_dataset(
        vggss_root, id_list=vggss_root / "test.csv", options=FolderOptions(image_size=64, duration=0.25))))
    assert float(table[1].split()[5]) == pytest.approx(want.ciou_mean, abs=5e-4)


def test_folder_errors_are_one_line(run: Path, flickr_root: Path, vggsound_root: Callable[[int], Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(capsys, ["av-evaluate", str(run), str(vggsound_root(10))], "training list without boxes")
    _one_line_error(capsys, ["av-evaluate", str(run), str(flickr_root), "--data-format", "vggss"], "has no vggss.json")
    _one_line_error(capsys, ["av-evaluate", str(run), str(flickr_root), "--split", "val"], "--split applies to DATA builtin")
    _one_line_error(capsys, ["av-evaluate", str(run), str(flickr_root / "nope")], "no such folder or file")
    _one_line_error(capsys, ["av-train", "builtin", "--loss", "ezvsl", "--out", str(run.parent / "r2"), "--list", "x.txt"],
                    "--list: folder-data options do not apply to DATA builtin")
    _one_line_error(capsys, ["av-train", str(vggsound_root(10)), "--loss", "ezvsl", "--out", str(run.parent / "r3"),
                             "--select", "auc", *TINY], "--select auc needs boxes")
    (flickr_root / "list.txt").write_text("../../secret\n")
    _one_line_error(capsys, ["av-evaluate", str(run), str(flickr_root), "--list", str(flickr_root / "list.txt")],
                    "not a plain file name")


def test_validation_on_a_separate_annotated_folder(tmp_path: Path, vggsound_root: Callable[[int], Path], vggss_root: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run2"
    assert main(["av-train", str(vggsound_root(8)), "--loss", "ezvsl", "--out", str(out), "--val", str(vggss_root),
                 "--threshold", "0.5", *TINY]) == 0
    assert "validation auc" in capsys.readouterr().out  # boxes in the validation folder: selected on AUC
    doc = json.loads((out / "data.json").read_text())
    assert doc["val"]["format"] == "vggss" and doc["val"]["n"] == 3
