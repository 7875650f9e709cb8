"""DDP on gloo with 2 CPU processes equals one process with the same global batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from soundloc.data import SeldDataset
from soundloc.train import TrainConfig, TrainJob, build_for, read_checkpoint, read_log, run_distributed, run_job
from soundloc.train.ddp import SyncBatchNorm


@pytest.mark.slow  # two spawned processes importing torch: ~20-30 s on the loaded 2-core machine
def test_two_processes_match_one(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    # dropout off; clip mixing (pairs of rows inside a process), ChannelSwap and SpecAugment stay on
    # (drawn per global batch, so they agree too)
    cfg = tiny_config.replace(batch_size=4, steps_per_epoch=2, dropout=0.0, lr=3e-3, mix_prob=0.5)
    one = TrainJob(config=cfg, run=str(tmp_path / "one"), data=str(tiny_data))
    two = TrainJob(config=cfg, run=str(tmp_path / "two"), data=str(tiny_data))
    run_job(0, 1, one)
    run_distributed(two, 2)
    (_, a), (_, b) = read_checkpoint(one.run), read_checkpoint(two.run)
    keys = [k for k in a if k.startswith("model.")]
    assert keys and sorted(keys) == sorted(k for k in b if k.startswith("model."))
    for k in keys:
        if (k.endswith(".0.bias") or k.endswith(".1.running_mean")) and ".conv." in k:
            # conv biases right before a batch norm have zero gradient in exact arithmetic (AdamW moves
            # them on rounding noise) and the batch norms' running means track those biases
            continue
        # float32 sums in another order, amplified by AdamW on near-zero gradients: 5e-4 of updates of ~1e-2
        torch.testing.assert_close(b[k], a[k], rtol=1e-3, atol=5e-4, msg=k)
    # the runs did train (weights moved away from the initial ones) and logged the same losses
    ds = SeldDataset(tiny_data, "train")
    init = {f"model.{k}": v for k, v in build_for(cfg, ds.array, ds.fs, ds.class_names).state_dict().items()}
    moved = sum(not torch.allclose(init[k], a[k]) for k in keys if a[k].is_floating_point())
    assert moved > len(keys) // 2
    la, lb = read_log(one.run), read_log(two.run)
    # validation (eval mode: running statistics, which carry the rounding noise above) agrees closely
    assert [r["val_loss"] for r in la] == pytest.approx([r["val_loss"] for r in lb], rel=2e-3)


def test_sync_batchnorm_is_batchnorm_in_one_process() -> None:
    assert not dist.is_initialized()
    torch.manual_seed(0)
    bn, sbn = torch.nn.BatchNorm2d(3), SyncBatchNorm(3)
    sbn.load_state_dict(bn.state_dict())
    x = torch.randn(4, 3, 5, 6)
    torch.testing.assert_close(sbn(x), bn(x))


@pytest.mark.slow  # four spawned runs: ~40-60 s on the loaded 2-core machine
def test_ddp_resume_with_dropout_is_exact(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    """Dropout draws are a pure function of (seed, rank, step): a DDP run stopped and resumed has the
    uninterrupted run's weights (each rank's global RNG used to be restored from rank 0's state)."""
    cfg = tiny_config.replace(batch_size=4, steps_per_epoch=3, epochs=1, dropout=0.3, lr=3e-3)
    full = TrainJob(config=cfg, run=str(tmp_path / "full"), data=str(tiny_data))
    run_distributed(full, 2)
    part = TrainJob(config=cfg, run=str(tmp_path / "part"), data=str(tiny_data), max_steps=1)
    run_distributed(part, 2)
    rest = TrainJob(config=cfg, run=str(tmp_path / "part"), data=str(tiny_data), require_checkpoint=True)
    run_distributed(rest, 2)
    (_, a), (_, b) = read_checkpoint(full.run), read_checkpoint(part.run)
    keys = [k for k in a if k.startswith("model.")]
    assert keys
    for k in keys:
        assert torch.equal(a[k], b[k]), k
