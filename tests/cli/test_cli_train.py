"""`soundloc train` through `main([...])`: a tiny run killed and resumed, on-the-fly simulation, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from soundloc.cli import main
from soundloc.models import load_model
from soundloc.train import read_checkpoint, read_log

TINY = json.dumps({"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from soundloc.scenes import generate_dataset, get_preset

    out = tmp_path_factory.mktemp("cli_train") / "tiny"
    generate_dataset(out, get_preset("tiny").replace(num_clips=6), seed=0)
    return out


def _args(data: Path, run: Path, *extra: str) -> list[str]:
    return ["train", str(data), "--out", str(run), "--epochs", "2", "--batch-size", "2", "--clip-seconds", "1",
            "--model-kwargs", TINY, "--device", "cpu", *extra]


def test_train_kill_and_resume(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(_args(data, run, "--max-steps", "4")) == 0
    out = capsys.readouterr().out
    assert "epoch 1: step 3" in out and "stopped at step 4" in out
    doc, _ = read_checkpoint(run)
    assert doc["state"]["step"] == 4 and doc["state"]["epoch"] == 1
    assert main(_args(data, run)) == 0
    cap = capsys.readouterr()
    assert "resuming" in cap.err and "epoch 2: step 6" in cap.out and "best epoch" in cap.out
    assert "val SELD" in cap.out
    rows = read_log(run)
    assert [r["step"] for r in rows] == [3.0, 6.0]  # 3 train clips of 2 s = 6 disjoint 1-s crops per epoch
    assert all(r["val_loss"] is not None and 0 < r["val_loss"] < 1 for r in rows)
    assert all(r["val_seld"] is not None and r["val_seld"] >= 0 for r in rows)
    doc, _ = read_checkpoint(run)
    # the best model is the epoch with the lowest validation SELD score (the default selection with DATA)
    assert doc["train_config"]["select_on"] == "seld"
    assert doc["state"]["done"] and doc["state"]["best_epoch"] == min(range(2), key=lambda e: rows[e]["val_seld"] or 0.0)
    assert len(list(run.glob("checkpoint-*.safetensors"))) == 1  # older tensor files are removed
    assert (run / "curves.png").stat().st_size > 1000 and (run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    model = load_model(run / "best")
    assert model.config is not None and model.config.encoder == "crnn" and model.config.head == "multi-accdoa"
    # evaluate: DCASE2023 table (no distances from multi-accdoa), CSVs that soundloc score reads
    assert main(["evaluate", str(run), str(data), "--window", "1"]) == 0
    out = capsys.readouterr().out
    assert "dcase2023 (macro), 1 files of 'test'" in out and "dcase2024: not scored" in out and "class-wise" in out
    preds = run / "predictions" / "test"
    assert [p.name for p in preds.glob("*.csv")] == ["clip_000005.csv"]
    assert main(["score", str(data / "metadata" / "test"), str(preds), "--num-classes", "16", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["SELD_score"] is not None
    assert main(["evaluate", str(run), str(data), "--split", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("soundloc evaluate: error:") and "nosuch" in err[0]
    # a finished run is not trained again; another setting is refused naming it
    assert main(_args(data, run)) == 0
    assert "already finished" in capsys.readouterr().out
    assert main(_args(data, run, "--lr", "0.01")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lr=0.001, not 0.01" in err[0]


def test_train_on_the_fly_simulation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "sim"
    argv = ["train", "--simulate", "tiny", "--sim-clips", "8", "--val-clips", "1", "--out", str(run), "--epochs", "1",
            "--batch-size", "2", "--model-kwargs", TINY, "--output", "multi-accddoa", "--device", "cpu",
            "--mix-prob", "1", "--mix-gain-db", "-3", "0"]
    assert main(argv) == 0
    assert "epoch 1: step 2" in capsys.readouterr().out  # 4 training clips of the 8
    doc, _ = read_checkpoint(run)
    assert doc["train_config"]["clip_seconds"] == 2.0  # the preset's clips are used whole
    assert (doc["train_config"]["mix_prob"], doc["train_config"]["mix_min_gain_db"]) == (1.0, -3.0)
    assert load_model(run / "best").config.head == "multi-accddoa"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "transformer"], "unknown model 'transformer'"),
        (["--output", "sed"], "unknown output 'sed'"),
        (["--features", "foa"], "foa"),
        (["--model-kwargs", "{bad"], "--model-kwargs is not JSON"),
        (["--model-kwargs", '{"nope": 1}'], "nope"),
        (["--simulate", "tiny"], "give DATA or --simulate PRESET, not both"),
        (["--resume"], "no checkpoint to resume from"),
        (["--clip-seconds", "0.25"], "clip_seconds must be a positive multiple of 0.1"),
        (["--val-split", "nosuchsplit"], "nosuchsplit"),
        (["--device", "tpu"], "--device"),
        (["--select", "seld", "--val-split", "none"], "--select seld needs DATA with a validation split"),
        (["--val-split", "test"], "never on the test split"),
        (["--val-split", "train"], "is the training split"),
        (["--mix-prob", "2"], "mix_prob must be in [0, 1]"),
        (["--mix-gain-db", "0", "-3"], "mixing gain range"),
    ],
)
def test_train_errors_are_one_line(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                                   message: str) -> None:
    assert main(_args(data, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("soundloc train: error:") and message in err[0], err


def test_train_needs_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--out", str(tmp_path / "r")]) == 2
    assert "missing DATA folder" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "nothere"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothere" in err[0]
