"""Pretraining: loss falls, exact resume after a kill, DDP (2 gloo processes == 1), the encoder file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from soundloc.ssl import OBJECTIVES, PretrainConfig, get_objective, load_encoder, random_encoder, save_encoder
from soundloc.ssl.job import PretrainJob, run_distributed, run_pretrain
from soundloc.train import read_checkpoint, read_log

TINY_MODEL = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


def _cfg(**kw: object) -> PretrainConfig:
    base = dict(epochs=2, batch_size=4, steps_per_epoch=3, warmup_epochs=1, model_kwargs=TINY_MODEL, lr=3e-3)
    return PretrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _model_tensors(run: Path) -> dict[str, torch.Tensor]:
    _, t = read_checkpoint(run)
    return {k: v for k, v in t.items() if k.startswith(("model.", "optim."))}


def test_resume_after_kill_is_exact(mcsimclr_data: Path, tmp_path: Path) -> None:
    cfg = _cfg()  # every augmentation on, dropout on: every generator must be restored
    run_pretrain(0, 1, PretrainJob(config=cfg, run=str(tmp_path / "a"), data=str(mcsimclr_data)))
    part = run_pretrain(0, 1, PretrainJob(config=cfg, run=str(tmp_path / "b"), data=str(mcsimclr_data), max_steps=4))
    assert part.stopped == "max_steps" and part.state.step == 4  # mid epoch 2
    torch.manual_seed(99)  # a "new process"
    rest = run_pretrain(0, 1, PretrainJob(config=cfg, run=str(tmp_path / "b"), data=str(mcsimclr_data), require_checkpoint=True))
    assert rest.stopped == "epochs" and rest.state.step == 6
    a, b = _model_tensors(tmp_path / "a"), _model_tensors(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    la, lb = read_log(tmp_path / "a"), read_log(tmp_path / "b")
    assert [r["train_loss"] for r in la] == [r["train_loss"] for r in lb]
    # the saved encoder is the checkpoint's encoder, without the projector
    enc = load_encoder(tmp_path / "b")
    for k, v in enc.encoder.state_dict().items():
        assert torch.equal(v, a[f"model.encoder.encoder.{k}"]), k
    doc = json.loads((tmp_path / "b" / "encoder.json").read_text())
    assert doc["format"] == "soundloc-ssl-encoder" and doc["pretraining"]["epochs_done"] == 2
    assert not any("projector" in k for k in enc.state_dict())


def test_resume_refuses_other_settings(mcsimclr_data: Path, tmp_path: Path) -> None:
    run_pretrain(0, 1, PretrainJob(config=_cfg(epochs=1), run=str(tmp_path / "r"), data=str(mcsimclr_data), max_steps=1))
    with pytest.raises(ValueError, match="started with temperature=0.1, not 0.5"):
        run_pretrain(0, 1, PretrainJob(config=_cfg(epochs=1, temperature=0.5), run=str(tmp_path / "r"), data=str(mcsimclr_data)))


def test_loss_falls_on_repeated_steps(mcsimclr_data: Path, tmp_path: Path) -> None:
    cfg = _cfg(epochs=1, steps_per_epoch=30, warmup_epochs=0, augment=(), batch_size=8)
    run_pretrain(0, 1, PretrainJob(config=cfg, run=str(tmp_path / "l"), data=str(mcsimclr_data)))
    doc, _ = read_checkpoint(tmp_path / "l")
    # no augmentation: two crops of the same clip are easy positives, NT-Xent must fall well below log(2N - 1)
    assert doc["state"]["history"][0]["train_loss"] < 0.8 * float(torch.log(torch.tensor(15.0)))


@pytest.mark.slow  # two spawned processes importing torch: ~15-25 s on the loaded 2-core machine
def test_two_processes_match_one(mcsimclr_data: Path, tmp_path: Path) -> None:
    # all augmentations on (drawn for the global batch; Mixup partners from the global batch);
    # negatives and batch norms over the global batch; dropout off (drawn per rank)
    cfg = _cfg(epochs=1, steps_per_epoch=2, model_kwargs={**TINY_MODEL, "dropout": 0.0})
    run_pretrain(0, 1, PretrainJob(config=cfg, run=str(tmp_path / "one"), data=str(mcsimclr_data)))
    run_distributed(PretrainJob(config=cfg, run=str(tmp_path / "two"), data=str(mcsimclr_data)), 2)
    (_, a), (_, b) = read_checkpoint(tmp_path / "one"), read_checkpoint(tmp_path / "two")
    keys = [k for k in a if k.startswith("model.")]
    moved = 0
    init = random_encoder("random:circular4", seed=0, encoder_kwargs={**TINY_MODEL, "dropout": 0.0})
    # parameters whose gradient is zero in exact arithmetic, so AdamW moves them on rounding noise
    # (~5e-3), and the running means that track them: biases right before a batch norm (conv blocks,
    # the projector's first layer), the attention's in-projection bias (the key part: softmax is
    # shift-invariant) and the last LayerNorm's bias (a constant shift of every embedding, removed
    # by the projector's batch norm)
    noise = (".conv.", "projector.0.bias", "projector.1.running_mean", "in_proj_bias", "norms.0.bias")
    checked = 0
    for k in keys:
        if any(s in k for s in noise) and (k.endswith("bias") or k.endswith("running_mean")):
            continue
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=5e-4, msg=k)
        checked += 1
    assert checked > 20
    for k, v in init.encoder.state_dict().items():
        moved += int(v.is_floating_point() and not torch.allclose(v, a[f"model.encoder.encoder.{k}"]))
    assert moved > 10
    la, lb = read_log(tmp_path / "one"), read_log(tmp_path / "two")
    assert la[0]["train_loss"] == pytest.approx(lb[0]["train_loss"], rel=1e-4)


def test_encoder_round_trip_and_refusals(tmp_path: Path) -> None:
    enc = random_encoder("random:circular4", seed=1, encoder_kwargs=TINY_MODEL).eval()
    save_encoder(enc, tmp_path / "enc")
    back = load_encoder(tmp_path / "enc.json")
    f = torch.randn(2, 10, 41, 64)
    with torch.no_grad():
        torch.testing.assert_close(back(f), enc(f), rtol=0, atol=0)
    assert back(f).shape == (2, 16)
    raw = bytearray((tmp_path / "enc.safetensors").read_bytes())
    raw[-1] ^= 1
    (tmp_path / "enc.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_encoder(tmp_path / "enc")
    with pytest.raises(ValueError, match="random encoder needs an array"):
        random_encoder("random:")


def test_objective_registry() -> None:
    assert "ntxent" in OBJECTIVES
    with pytest.raises(ValueError, match="unknown objective 'byol'; choose from ntxent"):
        get_objective("byol", embed_dim=4)
    obj = get_objective("ntxent", embed_dim=8, proj_hidden=16, proj_dim=4, temperature=0.5)
    h = torch.randn(6, 8)
    loss = obj(h, h + 0.01 * torch.randn(6, 8))
    assert loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="unknown pretraining setting"):
        PretrainConfig().replace(tempreature=1.0)
    with pytest.raises(ValueError, match="crop_seconds"):
        PretrainConfig(crop_seconds=1.5, clip_seconds=1.0)


def test_input_normalizer_is_fitted_on_the_first_batches_and_saved(mcsimclr_data: Path, tmp_path: Path) -> None:
    import numpy as np

    from soundloc.models.seld import NORM_MIN_STD

    cfg = _cfg(epochs=1, steps_per_epoch=2)
    job = PretrainJob(config=cfg, run=str(tmp_path / "n"), data=str(mcsimclr_data))
    run_pretrain(0, 1, job)
    enc = load_encoder(tmp_path / "n")
    assert enc.norm is not None and enc.config is not None and enc.config.normalize
    # reference: numpy over the features of the same global batches (epoch 0, steps 0 and 1), unaugmented
    src, _, _ = job.source()
    feat = enc.config.input.feature_module()
    x = np.concatenate([feat(w).numpy() for w, _ in src.batches(0, batch_size=4, steps=2, start_step=0, rank=0, world_size=1)])
    assert x.shape[0] == 8
    mean, std = x.mean(axis=(0, 2)), np.maximum(x.std(axis=(0, 2)), NORM_MIN_STD)
    np.testing.assert_allclose(enc.norm.mean[0, :, 0].numpy(), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(enc.norm.std[0, :, 0].numpy(), std, rtol=1e-4, atol=1e-6)
    assert std[:4].mean() > 100 * std[4:].mean()  # dB log-mels vs GCC-PHAT: the scales the normalizer evens out
    # the checkpoint holds the same statistics (a resumed run keeps them)
    _, t = read_checkpoint(tmp_path / "n")
    assert torch.equal(t["model.encoder.norm.mean"], enc.norm.mean)
    f = torch.from_numpy(x[:2])
    with torch.no_grad():
        z = (f - torch.from_numpy(mean)[None, :, None].float()) / torch.from_numpy(std)[None, :, None].float()
        torch.testing.assert_close(enc(f), enc.encoder(z).mean(dim=1), rtol=1e-4, atol=1e-4)


def test_encoder_without_normalize_key_loads_as_off(tmp_path: Path) -> None:
    enc = random_encoder("random:circular4", seed=1, encoder_kwargs=TINY_MODEL, normalize=False).eval()
    assert enc.norm is None
    save_encoder(enc, tmp_path / "old")
    doc = json.loads((tmp_path / "old.json").read_text())
    del doc["config"]["normalize"]  # a file written before the option
    (tmp_path / "old.json").write_text(json.dumps(doc))
    back = load_encoder(tmp_path / "old")
    assert back.norm is None and back.config is not None and not back.config.normalize
    f = torch.randn(2, 10, 41, 64)
    with torch.no_grad():
        torch.testing.assert_close(back(f), enc(f), rtol=0, atol=0)


def test_fit_normalizer_equals_numpy_and_round_trips(tmp_path: Path) -> None:
    import numpy as np

    from soundloc.ssl import fit_normalizer

    enc = random_encoder("random:circular4", seed=1, encoder_kwargs=TINY_MODEL).eval()
    g = torch.Generator().manual_seed(0)
    f = torch.randn(7, 10, 41, 64, generator=g) * torch.linspace(0.01, 20, 10)[None, :, None, None] - 50
    assert fit_normalizer(enc, [f[:3], f[3:]])
    assert enc.norm is not None
    np.testing.assert_allclose(enc.norm.mean[0, :, 0].numpy(), f.numpy().mean(axis=(0, 2)), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(enc.norm.std[0, :, 0].numpy(), f.numpy().std(axis=(0, 2)), rtol=1e-4)
    save_encoder(enc, tmp_path / "e")
    back = load_encoder(tmp_path / "e")
    assert back.norm is not None and torch.equal(back.norm.std, enc.norm.std)
    with torch.no_grad():
        torch.testing.assert_close(back(f), enc(f), rtol=0, atol=0)
    with pytest.raises(ValueError, match="no features"):
        fit_normalizer(enc, [])


def test_gcc_lags_default_and_configs_saved_before_the_option() -> None:
    cfg = PretrainConfig()
    assert cfg.rrc_lags is False  # GCC-PHAT cropped along time only by default
    assert PretrainConfig.from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in cfg.to_dict().items() if k != "rrc_lags"}  # a run saved before the option
    assert PretrainConfig.from_dict(old).rrc_lags is True  # resumes with the joint crop it used
