"""`soundloc pretrain / probe / embed` through `main([...])`: a tiny run, resume, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundloc.cli import main

TINY = json.dumps({"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from soundloc.scenes import generate_dataset, get_preset

    out = tmp_path_factory.mktemp("cli_ssl") / "mcsimclr"
    generate_dataset(out, get_preset("mcsimclr").replace(num_clips=16), seed=0)
    return out


def _pretrain(data: Path | str, run: Path, *extra: str) -> list[str]:
    return ["pretrain", str(data), "--out", str(run), "--epochs", "2", "--batch-size", "4", "--steps-per-epoch", "2",
            "--warmup-epochs", "1", "--model-kwargs", TINY, "--device", "cpu", *extra]


def test_pretrain_probe_embed(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(_pretrain(data, run, "--max-steps", "3")) == 0
    assert "stopped at step 3" in capsys.readouterr().out
    assert main(_pretrain(data, run)) == 0
    cap = capsys.readouterr()
    assert "resuming" in cap.err and "epoch 2: step 4" in cap.out and (run / "curves.png").is_file()
    assert main(_pretrain(data, run)) == 0 and "already finished" in capsys.readouterr().out
    out = tmp_path / "probe"
    assert main(["probe", str(run), str(data), "--protocol", "linear,scratch:0.5", "--epochs", "1", "--min-steps", "2",
                 "--out", str(out), "--device", "cpu"]) == 0
    assert "linear: accuracy" in capsys.readouterr().out
    res = json.loads((out / "scratch_0.5.json").read_text())
    assert res["protocol"] == "scratch:0.5" and set(res["test"]) >= {"accuracy", "azimuth_error_mean", "azimuth_error_median"}
    files = sorted((data / "audio" / "test").glob("*.*"))
    assert main(["embed", str(run), *map(str, files), "--out", str(tmp_path / "e.npy")]) == 0
    emb = np.load(tmp_path / "e.npy")
    assert emb.shape == (len(files), 16) and np.isfinite(emb).all()


def test_plain_folder_needs_an_array_and_audio(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_pretrain(empty, tmp_path / "r1", "--array", "circular4")) == 2
    assert "no audio files" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    x, fs = sf.read(next((data / "audio" / "train").glob("*.*")))
    sf.write(plain / "a.wav", np.concatenate([x, x, x]), fs)
    assert main(_pretrain(plain, tmp_path / "r2")) == 2
    assert "--array NAME|JSON" in capsys.readouterr().err
    assert main(_pretrain(plain, tmp_path / "r4", "--array", "circular4", "--epochs", "1", "--batch-size", "2")) == 0
    assert (tmp_path / "r4" / "encoder.json").is_file()


def test_wrong_array_and_rate_are_refused(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "random:tetra", str(data), "--device", "cpu"]) == 2
    assert "trained for array 'tetra'" in capsys.readouterr().err
    f = next((data / "audio" / "test").glob("*.*"))
    x, fs = sf.read(f)
    sf.write(tmp_path / "fast.wav", np.repeat(x, 3, axis=0)[: 3 * len(x)], 3 * fs)
    assert main(["embed", "random:circular4", str(tmp_path / "fast.wav"), "--out", str(tmp_path / "e.npy")]) == 2
    assert "48000" in capsys.readouterr().err
    assert main(["embed", "random:circular4", str(f), "--array", "tetra", "--out", str(tmp_path / "e.npy")]) == 2
    assert "trained for array 'circular4'" in capsys.readouterr().err
    assert main(["embed", "random:circular4", str(f), "--out", str(tmp_path / "e.csv")]) == 2
    assert "must end in .npy or .parquet" in capsys.readouterr().err
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        assert main(["embed", "random:circular4", str(f), "--out", str(tmp_path / "e.parquet")]) == 2
        assert "needs the pyarrow package" in capsys.readouterr().err
    assert main(["pretrain", str(data), "--out", str(tmp_path / "x"), "--augment", "cs,foo"]) == 2
    assert "unknown augmentation 'foo'" in capsys.readouterr().err
    assert main(["probe", str(tmp_path / "missing"), str(data)]) == 2
    assert "does not exist" in capsys.readouterr().err
