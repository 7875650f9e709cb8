"""`soundloc av-train` -> `av-evaluate` -> `av-localize` end to end on a tiny built-in benchmark; one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from cli_errors import one_line_error as _one_line_error
from soundloc.av.models import load_av_model
from soundloc.cli import main
from soundloc.cli._av import bench_from_run, load_split
from soundloc.metrics.av_eval import evaluate_av, model_predictor

TRAIN = ["--epochs", "2", "--batch-size", "8", "--train-size", "24", "--val-size", "16", "--test-size", "24", "--image-size", "32",
         "--width", "4", "--audio-width", "4", "--blocks", "1,1", "--embed-dim", "8", "--voices", "8", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("avcli")
    cache = root / "cache"
    assert main(["av-train", "builtin", "--loss", "ezvsl", "--out", str(root / "run"), "--cache-dir", str(cache), *TRAIN]) == 0
    yield root / "run", cache
    torch.set_num_threads(n)


def test_train_writes_the_run(run: tuple[Path, Path]) -> None:
    r, _ = run
    for name in ("model.safetensors", "model.json", "checkpoint.json", "history.json", "data.json"):
        assert (r / name).is_file(), name
    hist = json.loads((r / "history.json").read_text())
    assert len(hist["epochs"]) == 2 and hist["best"]["epoch"] in (1, 2)
    assert bench_from_run(r).sizes == (24, 16, 24)


def test_evaluate_matches_the_library(run: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r, cache = run
    capsys.readouterr()
    grid = tmp_path / "grid.png"
    assert main(["av-evaluate", str(r), "builtin", "--baselines", "--format", "json", "--grid", str(grid), "--grid-size", "2",
                 "--cache-dir", str(cache)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["model", "random init", "centre prior"]
    want = evaluate_av(model_predictor(load_av_model(r / "model")), load_split(bench_from_run(r), "test", cache_dir=str(cache)))
    got = doc["model"]
    assert got["n"] == 24 and got["n_pos"] + got["n_neg"] == 24 and got["n_neg"] > 0
    assert got["cIoU_mean"] == pytest.approx(want.ciou_mean) and got["AP"] == pytest.approx(want.ap)
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["av-evaluate", str(r), "builtin", "--n", "8", "--threshold", "0.5", "--cache-dir", str(cache)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["method", "n", "n_pos"] and table[1].split()[:2] == ["model", "8"]


def test_localize_peak_and_plot(run: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r, cache = run
    data = load_split(bench_from_run(r), "test", 1, cache_dir=str(cache))
    frame = data.frames[0].numpy().transpose(1, 2, 0)
    Image.fromarray(frame).save(tmp_path / "f.png")
    sf.write(tmp_path / "a.wav", data.audio[0].numpy(), 16000, subtype="FLOAT")
    capsys.readouterr()
    assert main(["av-localize", str(r), str(tmp_path / "f.png"), str(tmp_path / "a.wav"), "--format", "json",
                 "--plot", str(tmp_path / "loc.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    heat, conf = load_av_model(r / "model").localize(*data.batch([0]))
    py, px = np.unravel_index(int(heat[0].argmax()), heat[0].shape)
    assert (out["peak_x"], out["peak_y"]) == (int(px), int(py))
    assert out["confidence"] == pytest.approx(float(conf[0]), abs=1e-5)
    assert (tmp_path / "loc.png").is_file()


def test_resume_continues(run: tuple[Path, Path], tmp_path: Path) -> None:
    r, cache = run
    args = ["av-train", "builtin", "--loss", "ezvsl", "--cache-dir", str(cache), *TRAIN]
    assert main([*args[:4], "--out", str(tmp_path / "r"), *args[4:], "--max-minutes", "1e-6"]) == 0  # stops after epoch 1
    assert len(json.loads((tmp_path / "r" / "history.json").read_text())["epochs"]) == 1
    assert main([*args[:4], "--out", str(tmp_path / "r"), *args[4:], "--max-minutes", "1e-6", "--resume"]) == 0
    a = json.loads((tmp_path / "r" / "history.json").read_text())["epochs"]
    b = json.loads((r / "history.json").read_text())["epochs"]
    assert [e["loss"] for e in a] == [e["loss"] for e in b]


def test_resume_on_another_benchmark_is_refused_and_keeps_the_run(run: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    r, cache = run
    out = tmp_path / "r2"
    assert main(["av-train", "builtin", "--loss", "ezvsl", "--out", str(out), "--cache-dir", str(cache), *TRAIN,
                 "--max-minutes", "1e-6"]) == 0
    before = (out / "data.json").read_bytes()
    capsys.readouterr()
    other = [*TRAIN[:TRAIN.index("--image-size")], "--image-size", "40", *TRAIN[TRAIN.index("--image-size") + 2:]]
    _one_line_error(capsys, ["av-train", "builtin", "--loss", "ezvsl", "--out", str(out), "--cache-dir", str(cache), *other,
                             "--resume"], "another benchmark")
    assert (out / "data.json").read_bytes() == before


def test_errors(run: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    r, cache = run
    _one_line_error(capsys, ["av-train", "flickr", "--loss", "ezvsl", "--out", str(tmp_path / "x")], "unknown DATA 'flickr'")
    _one_line_error(capsys, ["av-train", "builtin", "--loss", "lvs", "--out", str(tmp_path / "x")], "invalid choice")
    _one_line_error(capsys, ["av-train", "builtin", "--loss", "ezvsl", "--out", str(tmp_path / "x"), "--cache-dir", str(cache),
                             *TRAIN, "--resume"], "no checkpoint to resume from")
    _one_line_error(capsys, ["av-evaluate", str(tmp_path / "none"), "builtin"], "does not exist")
    _one_line_error(capsys, ["av-evaluate", str(r), "builtin", "--threshold", "high"], "--threshold")
    (tmp_path / "bad.png").write_text("not an image")
    _one_line_error(capsys, ["av-localize", str(r), str(tmp_path / "bad.png"), str(tmp_path / "a.wav")], "not a readable image")
    # a model whose weights changed after saving is refused
    bad = tmp_path / "run"
    bad.mkdir()
    for f in r.iterdir():
        if f.is_file():
            (bad / f.name).write_bytes(f.read_bytes())
    w = bytearray((bad / "model.safetensors").read_bytes())
    w[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(w))
    _one_line_error(capsys, ["av-evaluate", str(bad), "builtin", "--cache-dir", str(cache)], "SHA-256 mismatch")


def test_fresh_training_data(run: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--fresh: each epoch draws train-size new samples (the benchmark's train split is train-size x epochs long);
    the validation and test samples are the fixed run's."""
    _, cache = run
    out = tmp_path / "fresh"
    assert main(["av-train", "builtin", "--loss", "ezvsl", "--out", str(out), "--cache-dir", str(cache), *TRAIN, "--fresh"]) == 0
    doc = json.loads((out / "data.json").read_text())
    assert doc["fresh"] == {"per_epoch": 24} and doc["bench"]["sizes"][0] == 48
    fixed, fresh = bench_from_run(run[0]), bench_from_run(out)
    a, b = load_split(fixed, "test", cache_dir=str(cache)), load_split(fresh, "test", cache_dir=str(cache))
    assert torch.equal(a.frames, b.frames) and torch.equal(a.audio, b.audio)
    assert main(["av-evaluate", str(out), "builtin", "--cache-dir", str(cache)]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["av-train", str(tmp_path), "--loss", "ezvsl", "--out", str(tmp_path / "y"), "--fresh"],
                    "--fresh draws new samples")
