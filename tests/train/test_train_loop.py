"""The training loop: overfitting one batch, exact resume, the schedule, the config.

The end-to-end run (checkpoints, log, best model, curves) is tested through the CLI in
``tests/cli/test_cli_train.py``; DDP in ``test_train_ddp.py``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from soundloc.augment import ClipMix, merge_targets
from soundloc.train import (
    TrainConfig,
    Trainer,
    WindowSource,
    build_for,
    learning_rate,
    read_checkpoint,
    read_log,
    validation_dataset,
)


def _trainer(cfg: TrainConfig, data: Path, run: Path) -> Trainer:
    src = WindowSource.from_folder(str(data), "train", clip_seconds=cfg.clip_seconds, max_tracks=cfg.max_tracks, seed=cfg.seed)
    val = validation_dataset(str(data), "val", clip_seconds=cfg.clip_seconds, max_tracks=cfg.max_tracks)
    ds = src.dataset
    return Trainer(cfg, build_for(cfg, ds.array, ds.fs, ds.class_names), run, source=src, val=val)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    _, tensors = read_checkpoint(run)
    return {k: v for k, v in tensors.items() if k.startswith(("model.", "optim."))}


def test_loss_decreases_on_a_repeated_batch(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    cfg = tiny_config.replace(channel_swap=False, spec_augment=False, dropout=0.0, lr=1e-2)
    tr = _trainer(cfg, tiny_data, tmp_path / "run")
    batch = next(iter(tr.source.batches(0, batch_size=2, steps=1)))
    tr.total_steps = 10_000  # constant-ish learning rate
    losses = [tr.train_step(batch) for _ in range(15)]
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("kill_at", [4])  # mid epoch 1: after an epoch boundary, inside an epoch
def test_resume_is_exact(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path, kill_at: int) -> None:
    # dropout, clip mixing, ChannelSwap and SpecAugment on: every random draw must be restored
    cfg = tiny_config.replace(dropout=0.2, mix_prob=0.5)
    _trainer(cfg, tiny_data, tmp_path / "a").fit()
    first = _trainer(cfg, tiny_data, tmp_path / "b").fit(max_steps=kill_at)
    assert first.stopped == "max_steps" and first.state.step == kill_at
    torch.manual_seed(1234)  # a "new process": other global RNG state before resuming
    tr = _trainer(cfg, tiny_data, tmp_path / "b")
    assert tr.resume() and tr.state.step == kill_at
    tr.fit()
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert "rng.aug.clip_mix" in read_checkpoint(tmp_path / "b")[1]
    assert read_log(tmp_path / "a") == [dict(r, seconds=ra["seconds"]) for r, ra in
                                        zip(read_log(tmp_path / "b"), read_log(tmp_path / "a"))]


def test_training_step_mixes_clip_pairs_and_merges_their_labels(tiny_data: Path, tiny_config: TrainConfig,
                                                                tmp_path: Path) -> None:
    cfg = tiny_config.replace(mix_prob=1.0, channel_swap=False, spec_augment=False, batch_size=4)
    tr = _trainer(cfg, tiny_data, tmp_path / "run")
    cm = tr.augment["clip_mix"]
    assert isinstance(cm, ClipMix) and cm.max_per_class == 3 and cm.group == 2
    batch = next(iter(tr.source.batches(0, batch_size=4, steps=1)))
    x, t = batch
    state = cm.rng_state()
    params = cm.sample(4)
    cm.set_rng_state(state)
    f, tm = tr.prepare(batch, train=True)
    assert params.partner.tolist() == [1, 0, 3, 2] and bool(params.applied.all())
    # features of the summed waveforms; labels: every event of both clips (where they fit in 3 slots)
    _, fits = merge_targets(t, {k: v[params.partner] for k, v in t.items()}, max_per_class=3)
    assert bool(fits.any())
    mixed = torch.where(fits[:, None, None], x + params.gain[:, None, None] * x[params.partner], x)
    torch.testing.assert_close(f, tr.features(mixed))
    n_own, n_partner, n_mixed = (a.sum(dim=(1, 2, 3)) for a in (t["activity"], t["activity"][params.partner], tm["activity"]))
    assert torch.equal(n_mixed, torch.where(fits, n_own + n_partner, n_own))
    assert bool((n_partner[fits] > 0).any())  # some partner did bring events
    assert math.isfinite(tr.train_step(batch))
    # single ACCDOA: one event per class and frame
    acc = _trainer(cfg.replace(output="accdoa"), tiny_data, tmp_path / "acc").augment["clip_mix"]
    assert isinstance(acc, ClipMix) and acc.max_per_class == 1
    with pytest.raises(ValueError, match="per-process batch"):
        ds = tr.source.dataset
        Trainer(cfg.replace(batch_size=2), build_for(cfg, ds.array, ds.fs, ds.class_names), tmp_path / "ddp",
                source=tr.source, rank=0, world_size=2)


def test_learning_rate_schedule() -> None:
    assert learning_rate(0, peak=1.0, warmup=4, total=14) == pytest.approx(0.25)
    assert learning_rate(3, peak=1.0, warmup=4, total=14) == pytest.approx(1.0)
    assert learning_rate(4, peak=1.0, warmup=4, total=14) == pytest.approx(1.0)
    assert learning_rate(9, peak=1.0, warmup=4, total=14) == pytest.approx(0.5)  # half-way down the cosine
    assert learning_rate(14, peak=1.0, warmup=4, total=14) == pytest.approx(0.0, abs=1e-12)


def test_config_round_trip_and_errors() -> None:
    cfg = TrainConfig(model_kwargs={"rnn_size": 16}, patience=None)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown training setting 'lrr'"):
        TrainConfig.from_dict({"lrr": 1})
    with pytest.raises(ValueError, match="unknown model 'x'"):
        TrainConfig(model="x")
    with pytest.raises(ValueError, match="clip_seconds"):
        TrainConfig(clip_seconds=0.25)
    mix = TrainConfig(mix_prob=0.5, mix_min_gain_db=-3.0, mix_max_gain_db=3.0)
    assert TrainConfig.from_dict(mix.to_dict()) == mix
    assert TrainConfig.from_dict({k: v for k, v in cfg.to_dict().items() if not k.startswith("mix_")}) == cfg  # older runs
    with pytest.raises(ValueError, match="mix_prob"):
        TrainConfig(mix_prob=1.5)
    with pytest.raises(ValueError, match="gain range"):
        TrainConfig(mix_min_gain_db=0.0, mix_max_gain_db=-1.0)


def test_damaged_checkpoints_are_refused_in_one_line(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    import json

    run = tmp_path / "run"
    _trainer(tiny_config, tiny_data, run).fit(max_steps=1)
    doc = json.loads((run / "checkpoint.json").read_text())
    (tmp_path / "other").mkdir()
    cases = {
        "weights": ({k: v for k, v in doc.items() if k != "weights"}, '"weights" must be'),
        "escape": ({**doc, "weights": {**doc["weights"], "file": "../other/x.safetensors"}}, "must be a file name"),
        "state": ({**doc, "state": {k: v for k, v in doc["state"].items() if k != "step"}}, "damaged training state"),
        "config": ({k: v for k, v in doc.items() if k != "train_config"}, '"train_config" is missing'),
    }
    for name, (bad, needle) in cases.items():
        (run / "checkpoint.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=needle) as e:
            read_checkpoint(run)
        assert "\n" not in str(e.value), name


def test_input_normalizer_is_fitted_on_the_first_training_batches_and_saved(tiny_data: Path, tiny_config: TrainConfig,
                                                                             tmp_path: Path) -> None:
    import numpy as np

    from soundloc.models import load_model
    from soundloc.train.loop import NORM_BATCHES

    cfg = tiny_config.replace(epochs=1)
    tr = _trainer(cfg, tiny_data, tmp_path / "run")
    assert tr.model.norm is not None and torch.equal(tr.model.norm.std, torch.ones_like(tr.model.norm.std))
    # the reference: numpy statistics of the unaugmented features of the same batches
    n = min(NORM_BATCHES, tr.steps)
    feats = np.concatenate([tr.features(x).numpy() for x, _ in tr.source.batches(0, batch_size=cfg.batch_size, steps=n)])
    mean, std = feats.mean(axis=(0, 2)), feats.std(axis=(0, 2))
    tr.fit()
    got_mean = tr.model.norm.mean[0, :, 0, :].numpy()
    got_std = tr.model.norm.std[0, :, 0, :].numpy()
    np.testing.assert_allclose(got_mean, mean, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_std, np.maximum(std, 1e-3), rtol=1e-4, atol=1e-4)
    assert std.max() > 1.0  # log-mel in dB: the statistics are far from identity
    # saved with the best model: a loaded model standardises the same way
    loaded = load_model(tmp_path / "run" / "best")
    assert loaded.norm is not None and torch.equal(loaded.norm.mean, tr.model.norm.mean.cpu())
    x = torch.randn(1, *tr.model.norm.mean.shape[1:2], 20, tr.model.norm.mean.shape[3])
    tr.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), tr.model(x))


def test_normalize_off_builds_a_model_without_normalizer(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    tr = _trainer(tiny_config.replace(normalize=False), tiny_data, tmp_path / "run")
    assert tr.model.norm is None
    with pytest.raises(ValueError, match="no input normalizer"):
        tr.model.set_normalizer(torch.zeros(1, 1), torch.ones(1, 1))


def test_time_budget_stops_after_an_epoch_and_resumes_to_the_same_weights(tiny_data: Path, tiny_config: TrainConfig,
                                                                          tmp_path: Path) -> None:
    cfg = tiny_config.replace(epochs=3)
    _trainer(cfg, tiny_data, tmp_path / "a").fit()
    first = _trainer(cfg, tiny_data, tmp_path / "b").fit(max_seconds=1e-9)  # spent after the first epoch
    assert first.stopped == "time" and first.state.epoch == 1 and not first.state.done
    tr = _trainer(cfg, tiny_data, tmp_path / "b")
    assert tr.resume()
    assert tr.fit(max_seconds=3600.0).stopped == "epochs"
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    for k in a:
        assert torch.equal(a[k], b[k]), k
