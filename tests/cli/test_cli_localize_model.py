"""`soundloc localize --model` and `soundloc models` through `main([...])`.

A tiny CRNN with fixed random weights (built and saved in the test: no training) stands in for a
trained model; the checks are about the interface: same JSON as the classical path plus the class,
one-line refusals (exit 2), built-in resolution, integrity, JSONL streaming, plots.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from soundloc.cli import main
from soundloc.geometry import MicArray, unit_vectors_deg
from soundloc.models import InputSpec, SeldConfig, build_model, builtin, save_model
from soundloc.train import feature_config_for

FS = 16000
TINY = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder RUN/best.{json,safetensors} of a circular4 16 kHz multi-ACCDDOA model."""
    spec = InputSpec.create("mic", MicArray.preset("circular4"), class_names=("dog", "bell", "speech"),
                            feature_config=feature_config_for(FS))
    torch.manual_seed(0)
    model = build_model(SeldConfig.for_input(spec, encoder="crnn", head="multi-accddoa", encoder_kwargs=TINY))
    run = tmp_path_factory.mktemp("run")
    save_model(model, run / "best")
    return run


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2.5 s of a simulated white-noise plane wave from azimuth 40 on circular4 (exact delays)."""
    arr = MicArray.preset("circular4")
    n = int(2.5 * FS)
    rng = np.random.default_rng(0)
    f = np.fft.rfftfreq(n, 1 / FS)
    tau = arr.delays(unit_vectors_deg(40.0, 0.0))[0]
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(-2j * np.pi * f[None] * tau[:, None]), n=n)
    path = tmp_path_factory.mktemp("audio") / "clip.wav"
    sf.write(str(path), (0.3 * x / np.abs(x).max()).T, FS, subtype="FLOAT")
    return path


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_same_json_as_classical_plus_class(capsys: pytest.CaptureFixture[str], run_dir: Path, clip: Path) -> None:
    code, out, err = _run(capsys, ["localize", str(clip), "--array", "circular4", "--format", "json"])
    assert code == 0, err
    (classical,) = json.loads(out)
    code, out, err = _run(capsys, ["localize", str(clip), "--model", str(run_dir), "--format", "json",
                                   "--min-confidence", "0.2"])
    assert code == 0, err
    (rec,) = json.loads(out)
    assert set(rec) == set(classical)
    assert rec["method"] == f"model:{run_dir.name}" and rec["end"] == pytest.approx(2.5)
    assert rec["sources"], "a random model with threshold 0.2 finds something"
    want = set(classical["sources"][0]) | {"class", "distance"}
    for s in rec["sources"]:
        assert set(s) == want and s["class"] in ("dog", "bell", "speech") and 0.2 <= s["confidence"] <= 1.0
        assert 0.0 < s["power"] <= 1.0 and -180 < s["azimuth"] <= 180


def test_refusals_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], run_dir: Path, clip: Path, tmp_path: Path) -> None:
    x, _ = sf.read(str(clip), dtype="float32")
    slow = tmp_path / "8k.wav"
    sf.write(str(slow), x[::2], 8000, subtype="FLOAT")
    stereo = tmp_path / "stereo.wav"
    sf.write(str(stereo), x[:, :2], FS, subtype="FLOAT")
    cases = {
        "rate": ([str(slow)], "trained for 16000 Hz audio, got 8000 Hz"),
        "channels": ([str(stereo)], "expects 4-channel audio"),
        "array": ([str(clip), "--array", "tetra"], "trained for array 'circular4'"),
        "fs": ([str(clip), "--fs", "24000"], "use --fs 16000"),
        "method": ([str(clip), "--method", "music"], "--method is an option of the classical methods"),
        "threshold": ([str(clip), "--min-confidence", "1"], "activity threshold"),
    }
    for name, (args, msg) in cases.items():
        code, out, err = _run(capsys, ["localize", *args, "--model", str(run_dir)])
        assert code == 2 and out == "", name
        assert msg in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (name, err)
    code, _, err = _run(capsys, ["localize", str(clip)])
    assert code == 2 and "--array is required" in err


def test_resampling_to_the_model_rate(capsys: pytest.CaptureFixture[str], run_dir: Path, clip: Path, tmp_path: Path) -> None:
    x, _ = sf.read(str(clip), dtype="float32")
    hi = tmp_path / "32k.wav"
    sf.write(str(hi), np.repeat(x, 2, axis=0), 2 * FS, subtype="FLOAT")
    code, out, err = _run(capsys, ["localize", str(hi), "--model", str(run_dir), "--fs", "16000", "--format", "json"])
    assert code == 0, err
    assert json.loads(out)[0]["end"] == pytest.approx(2.5)


def test_builtin_resolution_listing_and_tampering(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                  run_dir: Path, clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pretrained"
    monkeypatch.setattr(builtin, "PRETRAINED_DIR", folder)
    code, out, _ = _run(capsys, ["models"])
    assert code == 0 and "No built-in models are installed" in out
    code, _, err = _run(capsys, ["localize", str(clip), "--model", "builtin:circular4"])
    assert code == 2 and "no built-in model is installed" in err
    builtin.install_pretrained(run_dir, "circular4", description="test model", recipe="soundloc train DATA --out RUN")
    code, out, _ = _run(capsys, ["models"])
    assert code == 0 and "builtin:circular4: test model" in out and "dog, bell, speech" in out and "16000 Hz" in out
    code, out, _ = _run(capsys, ["models", "--format", "json"])
    assert json.loads(out)["circular4"]["array"] == "circular4"
    code, out, err = _run(capsys, ["localize", str(clip), "--model", "builtin:circular4", "--format", "json"])
    assert code == 0, err
    assert json.loads(out)[0]["method"] == "builtin:circular4"
    code, _, err = _run(capsys, ["localize", str(clip), "--model", "builtin:foa"])
    assert code == 2 and "unknown built-in model 'foa'; choose from builtin:circular4" in err
    w = folder / "circular4.safetensors"
    w.write_bytes(w.read_bytes()[:-4] + b"\0\0\0\0")
    code, out, err = _run(capsys, ["localize", str(clip), "--model", "builtin:circular4"])
    assert code == 2 and out == "" and "SHA-256 mismatch" in err and len(err.strip().splitlines()) == 1


def test_jsonl_streams_windows_and_plots(capsys: pytest.CaptureFixture[str], run_dir: Path, clip: Path, tmp_path: Path) -> None:
    args = ["localize", str(clip), "--model", str(run_dir), "--frame-length", "1", "--hop", "0.5", "--min-confidence", "0.2"]
    code, out, err = _run(capsys, [*args, "--format", "jsonl"])
    assert code == 0, err
    lines = [json.loads(ln) for ln in out.splitlines()]
    assert [(r["start"], r["end"]) for r in lines] == [(0.0, 1.0), (0.5, 1.5), (1.0, 2.0), (1.5, 2.5)]
    code, out, err = _run(capsys, [*args, "--format", "json"])
    assert json.loads(out) == lines
    png = tmp_path / "p.png"
    code, out, err = _run(capsys, [*args, "--plot", str(png)])
    assert code == 0 and png.is_file() and (tmp_path / "p_time.png").is_file(), err
    assert "class" in out.splitlines()[0] and "dist" in out.splitlines()[0]  # the table shows the classes
