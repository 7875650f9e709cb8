"""`soundloc evaluate MODEL DATA` with MODEL a run folder, builtin:NAME or a saved model's stem / .json.

A tiny CRNN with fixed random weights (no training) stands in for a trained model; installed as a
built-in into a temporary folder it must give the same tables and the same prediction CSVs as the
run folder it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from soundloc.cli import main
from soundloc.data import SeldDataset
from soundloc.models import InputSpec, SeldConfig, build_model, builtin, save_model
from soundloc.train import feature_config_for

TINY = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


@pytest.fixture(scope="module")
def data(tiny_data: Path) -> Path:
    """The shared tiny dataset (tests/conftest.py)."""
    return tiny_data


@pytest.fixture(scope="module")
def run_dir(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder RUN/best.{json,safetensors}: a multi-ACCDDOA model for the tiny data (random weights)."""
    ds = SeldDataset(data, "test")
    spec = InputSpec.create("mic", ds.array, class_names=ds.class_names, feature_config=feature_config_for(ds.fs))
    torch.manual_seed(0)
    model = build_model(SeldConfig.for_input(spec, encoder="crnn", head="multi-accddoa", encoder_kwargs=TINY))
    run = tmp_path_factory.mktemp("run")
    save_model(model, run / "best")
    return run


def _evaluate(capsys: pytest.CaptureFixture[str], model: str, data: Path, *extra: str) -> tuple[int, str, str]:
    # a low threshold: the random model then predicts events, so the CSVs have rows to compare
    code = main(["evaluate", model, str(data), "--window", "1", "--threshold", "0.1", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _csvs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def _tables(out: str) -> str:
    """The report without its last line (which names the prediction folder)."""
    lines = out.strip().splitlines()
    assert lines[-1].startswith("predictions: ")
    return "\n".join(lines[:-1])


def test_builtin_and_model_paths_evaluate_like_the_run_folder(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                             data: Path, run_dir: Path, tmp_path: Path) -> None:
    monkeypatch.setattr(builtin, "PRETRAINED_DIR", tmp_path / "pretrained")
    monkeypatch.chdir(tmp_path)
    code, ref_out, err = _evaluate(capsys, str(run_dir), data)
    assert code == 0, err
    assert "dcase2024 (macro), 1 files of 'test'" in ref_out and "dcase2023 (macro)" in ref_out and "class-wise" in ref_out
    ref = _csvs(run_dir / "predictions" / "test")
    assert list(ref) == ["clip_000005.csv"] and ref["clip_000005.csv"].count(b"\n") > 1  # predicted rows
    builtin.install_pretrained(run_dir, "tiny", description="test model", recipe="none: random weights")
    code, out, err = _evaluate(capsys, "builtin:tiny", data)
    assert code == 0, err
    default = tmp_path / "predictions" / "builtin-tiny" / "test"  # in the current folder, not the package
    assert _tables(out) == _tables(ref_out) and _csvs(default) == ref
    assert out.strip().splitlines()[-1].startswith(f"predictions: {Path('predictions') / 'builtin-tiny' / 'test'}")
    for stem in (run_dir / "best", run_dir / "best.json", run_dir / "best.safetensors"):
        dest = tmp_path / f"out-{stem.name}"
        code, out, err = _evaluate(capsys, str(stem), data, "--out", str(dest))
        assert code == 0, err
        assert _tables(out) == _tables(ref_out) and _csvs(dest) == ref
    code, out, err = _evaluate(capsys, "builtin:tiny", data, "--format", "json", "--out", str(tmp_path / "j"))
    assert code == 0 and set(json.loads(out)) == {"dcase2024", "dcase2023", "predictions"}


def test_unknown_models_are_one_line_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           data: Path, run_dir: Path, tmp_path: Path) -> None:
    monkeypatch.setattr(builtin, "PRETRAINED_DIR", tmp_path / "pretrained")
    code, out, err = _evaluate(capsys, "builtin:tetra", data)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "unknown built-in model 'tetra'; no built-in model is installed" in err
    builtin.install_pretrained(run_dir, "circ", description="test model", recipe="none")
    builtin.install_pretrained(run_dir, "tiny", description="test model", recipe="none")
    code, _, err = _evaluate(capsys, "builtin:tetra", data)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("soundloc evaluate: error:") and "choose from builtin:circ, builtin:tiny" in err
    code, _, err = _evaluate(capsys, str(tmp_path / "nothere"), data)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not found" in err
    code, _, err = _evaluate(capsys, str(tmp_path), data)  # a folder that is not a run
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a soundloc train run" in err
