"""Save/load (safetensors + JSON): identical outputs, every kind of tampering refused, and
``InputSpec.check_input`` refusing audio from another array, format or rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from soundloc.ambisonics import FoaFormat
from soundloc.features import FeatureConfig
from soundloc.geometry import MicArray
from soundloc.models import InputSpec, SeldConfig, SeldModel, build_model, get_head, get_model, load_model, save_model

CLASSES = ("speech", "music", "dog")
TINY_CRNN = {"conv_channels": 4, "rnn_size": 8, "attn_heads": 2}
TINY_RC = {"channels": [4, 8], "blocks": [1, 1], "t_pool": [5, 1], "f_pool": [4, 4], "d_model": 8, "num_blocks": 1,
           "heads": 2, "kernel_size": 3}


def mic_config(head: str = "multi-accddoa") -> SeldConfig:
    spec = InputSpec.create("mic", MicArray.preset("tetra"), class_names=CLASSES)
    return SeldConfig.for_input(spec, encoder="crnn", head=head, encoder_kwargs=TINY_CRNN, head_kwargs={"hidden": 8},
                                normalize=True)


def foa_config() -> SeldConfig:
    spec = InputSpec.create("foa", FoaFormat(), class_names=CLASSES)
    return SeldConfig.for_input(spec, encoder="resnet-conformer", head="multi-accdoa", encoder_kwargs=TINY_RC)


def trained_like(cfg: SeldConfig) -> SeldModel:
    """A model whose BatchNorm statistics moved (so buffers matter for the round trip)."""
    torch.manual_seed(0)
    m = build_model(cfg)
    c, f = cfg.input.feature_shape() if cfg.input else (0, 0)
    if m.norm is not None:  # fitted input statistics are part of the saved model
        m.set_normalizer(torch.randn(c, f), torch.rand(c, f) + 0.5)
    m.train()
    with torch.no_grad():
        m(torch.randn(4, c, 26, f) * 3 + 1)
    return m.eval()


@pytest.mark.parametrize("make", [mic_config, foa_config])
def test_round_trip_gives_identical_outputs(tmp_path: Path, make: object) -> None:
    cfg = make()  # type: ignore[operator]
    model = trained_like(cfg)
    w, j = save_model(model, tmp_path / "run" / "model")
    assert (w.name, j.name) == ("model.safetensors", "model.json")
    loaded = load_model(j)
    assert loaded.config == cfg and not loaded.training
    c, f = cfg.input.feature_shape()
    x = torch.randn(2, c, 31, f)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    assert load_model(w).config == cfg and load_model(tmp_path / "run" / "model").config == cfg
    assert w.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle


def test_config_json_round_trip_and_what_it_records(tmp_path: Path) -> None:
    cfg = mic_config()
    assert SeldConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    _, j = save_model(trained_like(cfg), tmp_path / "m")
    doc = json.loads(j.read_text())
    inp = doc["config"]["input"]
    assert inp["feature"] == "mic" and inp["class_names"] == list(CLASSES)
    assert inp["feature_config"] == FeatureConfig.preset("dcase").to_dict() and inp["feature_config"]["fs"] == 24000
    assert inp["array"]["name"] == "tetra" and len(inp["array"]["positions"]) == 4
    assert doc["config"]["encoder_kwargs"]["in_channels"] == 10 and doc["config"]["head_kwargs"]["num_classes"] == 3


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, Path]:
    return save_model(trained_like(mic_config()), tmp_path / "model")


def _rewrite(path: Path, change: object) -> None:
    state = load_file(str(path))
    change(state)  # type: ignore[operator]
    save_file(state, str(path))


def test_changed_shape_is_refused(saved: tuple[Path, Path]) -> None:
    w, _ = saved
    _rewrite(w, lambda s: s.__setitem__("head.mlp.0.weight", torch.zeros(9, 8)))
    with pytest.raises(ValueError, match=r"tensor 'head.mlp.0.weight' is torch.float32 \(9, 8\), the model needs"):
        load_model(w)


def test_missing_and_extra_tensors_are_refused(saved: tuple[Path, Path]) -> None:
    w, _ = saved
    _rewrite(w, lambda s: s.pop("encoder.gru.weight_hh_l0"))
    with pytest.raises(ValueError, match="missing tensor 'encoder.gru.weight_hh_l0'"):
        load_model(w)
    _rewrite(w, lambda s: s.update({"encoder.gru.weight_hh_l0": torch.zeros(24, 8), "backdoor": torch.ones(2)}))
    with pytest.raises(ValueError, match="unexpected tensor 'backdoor'"):
        load_model(w)


def test_modified_values_are_refused(saved: tuple[Path, Path]) -> None:
    w, _ = saved
    _rewrite(w, lambda s: s["head.mlp.3.bias"].add_(1e-3))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_model(w)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "missing"])
def test_corrupt_weights_are_refused(saved: tuple[Path, Path], damage: str) -> None:
    w, _ = saved
    data = w.read_bytes()
    if damage == "truncate":
        w.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        w.write_bytes(b"\x80\x04\x95" + bytes(range(256)) * 4)  # a pickle opcode start, then noise
    elif damage == "empty":
        w.write_bytes(b"")
    else:
        w.unlink()
    with pytest.raises(ValueError, match=str(w.name)):
        load_model(w)


@pytest.mark.parametrize(
    "edit, msg",
    [
        (lambda d: d.update({"extra": 1}), "unknown key 'extra'"),
        (lambda d: d["config"].update({"dropout": 0.1}), "unknown key 'dropout'"),
        (lambda d: d["config"]["input"].update({"fs": 16000}), "unknown key 'fs'"),
        (lambda d: d["config"].pop("head"), "missing key 'head'"),
        (lambda d: d["config"].update({"encoder": "lstm"}), "unknown model 'lstm'"),
        (lambda d: d["config"]["encoder_kwargs"].update({"rnn_size": 16}), "tensor 'encoder.gru"),
        (lambda d: d["config"]["encoder_kwargs"].update({"depth": 3}), "unexpected keyword argument 'depth'"),
        (lambda d: d["config"]["encoder_kwargs"].update({"t_pool": [4, 1, 1]}), "pools time by 4"),
        (lambda d: d["config"]["input"]["feature_config"].update({"n_mels": 32, "gcc_max_lag": 16}),
         r"expects \(10 channels, 64 bins\), the 'mic' features give \(10, 32\)"),
        (lambda d: d["config"]["input"]["feature_config"].update({"hop": 240}), "features give 10 frames per"),
        (lambda d: d["config"]["input"].update({"array": {"name": "x", "positions": [[0, 0, 0]]}}), "bad array description"),
        (lambda d: d["config"].update({"version": 99}), "version 99"),
        (lambda d: d["config"].update({"normalize": "yes"}), "'normalize' must be true or false"),
        (lambda d: d["config"].pop("normalize"), "unexpected tensor 'norm.mean'"),
        (lambda d: d.update({"format": "pickle"}), "not a soundloc model"),
        (lambda d: d["weights"].update({"file": "other.safetensors"}), "names weights 'other.safetensors'"),
        (lambda d: d["config"]["input"].update({"class_names": "speech"}), "list of strings"),
    ],
)
def test_bad_json_is_refused(saved: tuple[Path, Path], edit: object, msg: str) -> None:
    _, j = saved
    doc = json.loads(j.read_text())
    edit(doc)  # type: ignore[operator]
    j.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=msg):
        load_model(j)


def test_unreadable_json_is_refused(saved: tuple[Path, Path]) -> None:
    _, j = saved
    j.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_model(j)
    j.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        load_model(j)
    j.unlink()
    with pytest.raises(ValueError, match="does not exist"):
        load_model(j)


def test_a_hand_assembled_model_cannot_be_saved(tmp_path: Path) -> None:
    enc = get_model("crnn", in_channels=4, n_bins=16, f_pool=(2, 2, 2), **TINY_CRNN)  # type: ignore[arg-type]
    model = SeldModel(enc, get_head("accdoa", in_features=8, num_classes=2))
    with pytest.raises(ValueError, match="no config"):
        save_model(model, tmp_path / "m")
    with pytest.raises(ValueError, match="head expects 9-dim"):
        SeldModel(enc, get_head("accdoa", in_features=9, num_classes=2))


def test_check_input_refuses_other_arrays_formats_and_rates() -> None:
    spec = mic_config().input
    assert spec is not None
    tetra = MicArray.preset("tetra")
    spec.check_input(tetra, 24000, 4)  # what it was trained for
    spec.check_input(tetra.to_dict(), 24000)
    with pytest.raises(ValueError, match=r"trained for array 'tetra' \(4 mics\), got array 'circular4'"):
        spec.check_input(MicArray.preset("circular4"), 24000, 4)
    with pytest.raises(ValueError, match="other microphone positions"):
        spec.check_input(tetra.rotated(yaw_deg=30.0), 24000, 4)
    with pytest.raises(ValueError, match=r"got FOA \(ACN/SN3D\)"):
        spec.check_input(FoaFormat(), 24000, 4)
    with pytest.raises(ValueError, match="trained for 24000 Hz audio, got 16000 Hz"):
        spec.check_input(tetra, 16000, 4)
    with pytest.raises(ValueError, match="expects 4-channel audio"):
        spec.check_input(tetra, 24000, 2)
    foa = foa_config().input
    assert foa is not None
    foa.check_input(FoaFormat(), 24000, 4)
    with pytest.raises(ValueError, match=r"trained for FOA \(ACN/SN3D\) audio, got array 'tetra'"):
        foa.check_input(tetra, 24000, 4)


def test_config_errors() -> None:
    spec = mic_config().input
    assert spec is not None
    with pytest.raises(ValueError, match="head num_classes 5 differs from the 3 class names"):
        SeldConfig(encoder="crnn", encoder_kwargs={"in_channels": 10, "n_bins": 64}, head="accdoa",
                   head_kwargs={"num_classes": 5}, input=spec)
    with pytest.raises(ValueError, match="'in_features' is set from the encoder"):
        SeldConfig(encoder="crnn", head="accdoa", head_kwargs={"in_features": 3})
    with pytest.raises(ValueError, match="must be a number, string"):
        SeldConfig(encoder="crnn", encoder_kwargs={"in_channels": object()})
    with pytest.raises(ValueError, match="needs 4 FOA channels"):
        InputSpec.create("foa", MicArray.preset("circular6"), class_names=CLASSES)
