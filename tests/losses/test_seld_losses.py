"""ACCDOA, SED, DOA and SED-DOA losses against numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.losses import AccdoaLoss, DoaLoss, SedDoaLoss, SedLoss

rng = np.random.default_rng(0)


def test_accdoa_is_the_mean_squared_error() -> None:
    a, b = rng.normal(size=(2, 5, 3, 4)), rng.normal(size=(2, 5, 3, 4))
    assert float(AccdoaLoss()(torch.tensor(a), torch.tensor(b))) == pytest.approx(np.mean((a - b) ** 2), rel=1e-12)
    with pytest.raises(ValueError, match="accdoa loss: output"):
        AccdoaLoss()(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5))


def test_sed_is_binary_cross_entropy_of_the_sigmoid() -> None:
    z, y = rng.normal(size=(2, 5, 4)) * 3, rng.integers(0, 2, size=(2, 5, 4)).astype(float)
    p = 1 / (1 + np.exp(-z))
    ref = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(SedLoss()(torch.tensor(z), torch.tensor(y))) == pytest.approx(ref, rel=1e-10)


def test_doa_loss_counts_active_pairs_only() -> None:
    out = rng.normal(size=(2, 5, 3, 4))
    act = rng.integers(0, 2, size=(2, 5, 1, 4)).astype(float)
    doa = rng.normal(size=(2, 5, 3, 4))
    target = np.concatenate([act, doa], axis=2)
    ref = np.sum(act * (out - doa) ** 2) / (3 * act.sum())
    assert float(DoaLoss()(torch.tensor(out), torch.tensor(target))) == pytest.approx(ref, rel=1e-12)
    # changing an inactive pair's output does not change the loss
    out2 = out.copy()
    i = np.argwhere(act[:, :, 0] == 0)[0]
    out2[i[0], i[1], :, i[2]] += 10
    assert float(DoaLoss()(torch.tensor(out2), torch.tensor(target))) == pytest.approx(ref, rel=1e-12)
    assert float(DoaLoss()(torch.tensor(out), torch.tensor(target * 0))) == 0.0


def test_sed_doa_is_the_weighted_sum() -> None:
    out = rng.normal(size=(1, 6, 4, 3))
    target = np.concatenate([rng.integers(0, 2, size=(1, 6, 1, 3)).astype(float), rng.normal(size=(1, 6, 3, 3))], axis=2)
    o, t = torch.tensor(out), torch.tensor(target)
    bce = float(SedLoss()(o[:, :, 0], t[:, :, 0]))
    doa = float(DoaLoss()(o[:, :, 1:], t))
    assert float(SedDoaLoss(doa_weight=2.5)(o, t)) == pytest.approx(bce + 2.5 * doa, rel=1e-12)
    with pytest.raises(ValueError, match="doa_weight"):
        SedDoaLoss(doa_weight=-1)
