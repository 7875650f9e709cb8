"""`soundloc demo` beside a built-in learned model for its array (a tiny random-weight stand-in)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from soundloc.cli import main
from soundloc.geometry import MicArray
from soundloc.models import InputSpec, SeldConfig, build_model, builtin, save_model
from soundloc.train import feature_config_for


def test_demo_shows_the_builtin_model(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = InputSpec.create("mic", MicArray.preset("circular4"), class_names=("dog", "bell"), feature_config=feature_config_for(16000))
    torch.manual_seed(0)
    model = build_model(SeldConfig.for_input(spec, encoder="crnn", head="multi-accdoa",
                                             encoder_kwargs={"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}))
    save_model(model, tmp_path / "m")
    monkeypatch.setattr(builtin, "PRETRAINED_DIR", tmp_path / "pretrained")
    monkeypatch.setenv("SOUNDLOC_CACHE", str(tmp_path / "cache"))
    assert main(["demo", "--out", str(tmp_path / "plain")]) == 0
    plain = capsys.readouterr().out
    assert "no built-in model for array 'circular4' at 16000 Hz is installed" in plain
    builtin.install_pretrained(tmp_path / "m.json", "circular4", description="tiny", recipe="-")
    t0 = time.perf_counter()
    assert main(["demo", "--out", str(tmp_path / "out")]) == 0
    seconds = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert "Learned model builtin:circular4" in out and "model's class" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("builtin:circular4")]
    assert len(rows) == 1
    scene = json.loads((tmp_path / "out" / "scene.json").read_text())
    assert set(scene["results"]) >= {"srp-phat", "builtin:circular4"}
    assert all("class" in s for s in scene["results"]["builtin:circular4"]["estimates"])
    assert seconds < 10
