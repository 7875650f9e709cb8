"""Built-in pretrained models: install, index, resolution of a model argument, integrity checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from soundloc.geometry import MicArray
from soundloc.models import InputSpec, SeldConfig, SeldModel, build_model, builtin, save_model
from soundloc.models.builtin import install_pretrained, load_pretrained, pretrained_index, resolve_model
from soundloc.train import feature_config_for

TINY = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


def _model() -> SeldModel:
    spec = InputSpec.create("mic", MicArray.preset("circular4"), class_names=("a", "b"), feature_config=feature_config_for(16000))
    torch.manual_seed(1)
    return build_model(SeldConfig.for_input(spec, encoder="crnn", head="multi-accdoa", encoder_kwargs=TINY)).eval()


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[SeldModel, Path]:
    model = _model()
    save_model(model, tmp_path / "run" / "best")
    folder = tmp_path / "pretrained"
    monkeypatch.setattr(builtin, "PRETRAINED_DIR", folder)
    install_pretrained(tmp_path / "run", "tiny", description="a tiny test model", recipe="soundloc train X --out RUN",
                       scores={"dcase2023_seld": 0.5})
    return model, folder


def test_install_index_and_load_identical(installed: tuple[SeldModel, Path]) -> None:
    model, folder = installed
    index = pretrained_index()
    info = index["tiny"]
    assert (info.array, info.fs, info.classes, info.head, info.scores) == ("circular4", 16000, ("a", "b"), "multi-accdoa",
                                                                          {"dcase2023_seld": 0.5})
    assert json.loads((folder / "index.json").read_text())["models"]["tiny"]["recipe"] == "soundloc train X --out RUN"
    loaded, label = resolve_model("builtin:tiny")
    assert label == "builtin:tiny"
    x = torch.randn(1, 10, 51, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert builtin.builtin_for(MicArray.preset("circular4"), 16000) == info
    assert builtin.builtin_for(MicArray.preset("circular4"), 24000) is None


def test_unknown_names_list_the_choices(installed: tuple[SeldModel, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown built-in model 'nosuch'; choose from builtin:tiny"):
        resolve_model("builtin:nosuch")
    monkeypatch.setattr(builtin, "PRETRAINED_DIR", tmp_path / "empty")
    with pytest.raises(ValueError, match="no built-in model is installed"):
        resolve_model("builtin:tiny")


def test_tampered_weights_are_refused(installed: tuple[SeldModel, Path]) -> None:
    """Weights changed after installing are refused, even with the model's own JSON updated to match them."""
    _, folder = installed
    w = folder / "tiny.safetensors"
    data = bytearray(w.read_bytes())
    data[-3] ^= 0x01  # one bit of a weight
    w.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_pretrained("tiny")
    from soundloc.fileio import sha256_file

    cfg = json.loads((folder / "tiny.json").read_text())
    cfg["weights"]["sha256"] = sha256_file(w)
    (folder / "tiny.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"differ from the ones listed in index.json"):
        load_pretrained("tiny")


def test_index_that_does_not_describe_the_model(installed: tuple[SeldModel, Path]) -> None:
    _, folder = installed
    doc = json.loads((folder / "index.json").read_text())
    doc["models"]["tiny"]["fs"] = 24000
    (folder / "index.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="does not describe the model"):
        load_pretrained("tiny")
    doc["models"]["tiny"]["extra"] = 1
    (folder / "index.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="unknown key 'extra'"):
        pretrained_index()


def test_resolve_paths(tmp_path: Path) -> None:
    model = _model()
    save_model(model, tmp_path / "run" / "best")
    for spec in (tmp_path / "run", tmp_path / "run" / "best.json", tmp_path / "run" / "best.safetensors"):
        m, label = resolve_model(str(spec))
        assert isinstance(m, SeldModel) and label.startswith("model:")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a soundloc train run"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="not found"):
        resolve_model(str(tmp_path / "nosuch.json"))


def test_shipped_index_is_valid() -> None:
    """The package's own index parses, and every model it lists loads with its checks."""
    for name in pretrained_index(Path(builtin.__file__).parent / "pretrained"):
        load_pretrained(name, folder=Path(builtin.__file__).parent / "pretrained")
