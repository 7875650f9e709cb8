"""AV training loop: exact resume, model selection on the validation score, checkpoints, config checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from soundloc.av.models import AVModelConfig, load_av_model
from soundloc.av.train import AVTensors, AVTrainConfig, calibration_loss, train_av, validation_loss
from soundloc.train.checkpoint import read_checkpoint

TINY = AVModelConfig(embed_dim=8, image_width=4, image_blocks=(1, 1), image_stem_stride=2, audio_width=4, audio_blocks=(1, 1))


def _data(n: int, seed: int) -> AVTensors:
    g = torch.Generator().manual_seed(seed)
    frames = (torch.rand(n, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    audio = 0.1 * torch.randn(n, 2000, generator=g)
    boxes = [np.array([[4, 4, 20, 20]], dtype=np.int64)] * n
    return AVTensors(frames, audio, boxes, ["single"] * n)


def _tensors(run: Path) -> dict[str, torch.Tensor]:
    """The tensors of the run's current checkpoint (the file ``checkpoint.json`` names)."""
    return read_checkpoint(run)[1]


@pytest.mark.parametrize("loss", ["ezvsl", "slavc"])
def test_exact_resume(tmp_path: Path, loss: str) -> None:
    model = AVModelConfig(**{**TINY.__dict__, "separate_projections": loss == "slavc", "visual_dropout": 0.5 if loss == "slavc" else 0.0})
    cfg = AVTrainConfig(loss=loss, epochs=3, batch_size=8, model=model, seed=4)
    train, val = _data(24, 0), _data(8, 1)
    full = train_av(cfg, train, val, tmp_path / "full")
    part = train_av(AVTrainConfig(**{**cfg.__dict__, "epochs": 1}), train, val, tmp_path / "part")
    assert len(part["epochs"]) == 1
    # continue the 1-epoch run to 3 epochs: its checkpoint has another config -> refused, same config -> resumes
    with pytest.raises(ValueError, match="another training config"):
        train_av(cfg, train, val, tmp_path / "part", resume=True)
    train_av(cfg, train, val, tmp_path / "cut", max_seconds=0.0)  # stops after epoch 1 (time limit)
    resumed = train_av(cfg, train, val, tmp_path / "cut", resume=True)
    assert [r["epoch"] for r in resumed["epochs"]] == [1, 2, 3]
    a, b = _tensors(tmp_path / "full"), _tensors(tmp_path / "cut")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in full["epochs"]] == [r["loss"] for r in resumed["epochs"]]
    with pytest.raises(ValueError, match="no checkpoint"):
        train_av(cfg, train, val, tmp_path / "none", resume=True)


@pytest.mark.parametrize("loss", ["ezvsl", "slavc"])
def test_kill_between_checkpoint_writes_still_resumes_exactly(tmp_path: Path, loss: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill after epoch 2's tensor file is written but before checkpoint.json names it: the run folder holds
    epoch 1's JSON and both tensor files; resume continues from epoch 1 and ends with the uninterrupted weights."""
    import soundloc.train.checkpoint as ckpt

    model = AVModelConfig(**{**TINY.__dict__, "separate_projections": loss == "slavc", "visual_dropout": 0.5 if loss == "slavc" else 0.0})
    cfg = AVTrainConfig(loss=loss, epochs=3, batch_size=8, model=model, seed=2)
    train, val = _data(24, 0), _data(8, 1)
    train_av(cfg, train, val, tmp_path / "full")
    calls = {"n": 0}
    real = ckpt.write_json_atomic

    def killed_on_second(path: Path, doc: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed between the tensor file and checkpoint.json")
        real(path, doc)

    monkeypatch.setattr(ckpt, "write_json_atomic", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        train_av(cfg, train, val, tmp_path / "cut")
    monkeypatch.setattr(ckpt, "write_json_atomic", real)
    cut = tmp_path / "cut"
    assert len(list(cut.glob("checkpoint-*.safetensors"))) == 2  # epoch 1's (named by the JSON) and epoch 2's orphan
    assert json.loads((cut / "checkpoint.json").read_text())["state"]["epoch"] == 1
    resumed = train_av(cfg, train, val, cut, resume=True)
    assert [r["epoch"] for r in resumed["epochs"]] == [1, 2, 3]
    a, b = _tensors(tmp_path / "full"), _tensors(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(list(cut.glob("checkpoint-*.safetensors"))) == 1  # the orphan is cleaned up by the next save
    assert load_av_model(cut / "model").state_dict().keys() == load_av_model(tmp_path / "full" / "model").state_dict().keys()
    full_best = load_av_model(tmp_path / "full" / "model").state_dict()
    assert all(torch.equal(v, full_best[k]) for k, v in load_av_model(cut / "model").state_dict().items())


def test_selection_uses_the_validation_score(tmp_path: Path) -> None:
    cfg = AVTrainConfig(epochs=3, batch_size=8, model=TINY)
    scores = iter([0.2, 0.9, 0.5])
    seen: list[int] = []

    def validate(m: torch.nn.Module) -> float:
        seen.append(1)
        return next(scores)

    doc = train_av(cfg, _data(16, 0), _data(8, 1), tmp_path, validate=validate)
    assert len(seen) == 3 and doc["best"] == {"epoch": 2, "score": 0.9}
    hist = json.loads((tmp_path / "history.json").read_text())
    assert [r["val_score"] for r in hist["epochs"]] == [0.2, 0.9, 0.5]
    # model.safetensors is epoch 2's model, not the last one
    best = load_av_model(tmp_path / "model")
    last = _tensors(tmp_path)
    assert not torch.equal(best.state_dict()["img_proj.weight"], last["model.net.img_proj.weight"])


def test_default_selection_is_the_validation_loss_and_training_lowers_it(tmp_path: Path) -> None:
    # a learnable pairing: the sound's pitch says where the bright square is
    n = 32
    frames = torch.zeros(n, 3, 32, 32)
    audio = torch.zeros(n, 2000)
    t = torch.arange(2000) / 16000
    for i in range(n):
        q = i % 4
        y, x = 16 * (q // 2), 16 * (q % 2)
        frames[i, :, y:y + 16, x:x + 16] = 1.0
        audio[i] = 0.5 * torch.sin(2 * torch.pi * (400 + 900 * q) * t)
    data = AVTensors((frames * 255).to(torch.uint8), audio, [np.zeros((0, 4), np.int64)] * n, ["single"] * n)
    cfg = AVTrainConfig(epochs=6, batch_size=8, lr=3e-3, temperature=0.1, model=TINY)
    from soundloc.av.train import build_av_model

    before = validation_loss(build_av_model(cfg), cfg, data)
    doc = train_av(cfg, data, data, tmp_path)
    assert doc["best"]["score"] == max(r["val_score"] for r in doc["epochs"])
    assert -doc["best"]["score"] < before


def test_calibration_separates_matched_and_mismatched() -> None:
    from soundloc.av.models import AVLocalizer

    m = AVLocalizer(config=TINY)
    img = torch.nn.functional.normalize(torch.randn(4, 8, 2, 2), dim=1)
    out = {"img_loc": img, "aud_loc": img[:, :, 0, 0]}
    # matched pairs have max similarity 1; at scale 10, offset -5 the loss is below that of a flat confidence
    assert float(calibration_loss(m, out).detach()) < float(torch.log(torch.tensor(2.0)))


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown AV loss 'lvs'"):
        AVTrainConfig(loss="lvs")
    with pytest.raises(ValueError, match="batch_size"):
        AVTrainConfig(batch_size=1)
    cfg = AVTrainConfig(model=TINY)
    assert AVTrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_av(AVTrainConfig(batch_size=64, model=TINY), _data(8, 0), _data(8, 1), "/nonexistent/run")


def test_fresh_data_per_epoch(tmp_path: Path) -> None:
    """A training function ``epoch -> data`` is called once per epoch in order; resuming continues exactly; the
    epochs see other samples than a fixed split (other losses), and a short epoch is refused."""
    cfg = AVTrainConfig(epochs=3, batch_size=8, model=TINY, seed=2)
    calls: list[int] = []

    def fresh(epoch: int) -> AVTensors:
        calls.append(epoch)
        return _data(16, 100 + epoch)

    val = _data(8, 1)
    full = train_av(cfg, fresh, val, tmp_path / "full")
    assert calls == [0, 1, 2]
    fixed = train_av(cfg, _data(16, 100), val, tmp_path / "fixed")
    assert full["epochs"][0]["loss"] == fixed["epochs"][0]["loss"]  # epoch 0 of both is the same split
    assert full["epochs"][2]["loss"] != fixed["epochs"][2]["loss"]
    calls.clear()
    train_av(cfg, fresh, val, tmp_path / "cut", max_seconds=0.0)
    train_av(cfg, fresh, val, tmp_path / "cut", resume=True)
    assert calls == [0, 1, 2]
    a, b = _tensors(tmp_path / "full"), _tensors(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_av(cfg, lambda e: _data(4, e), val, tmp_path / "short")
