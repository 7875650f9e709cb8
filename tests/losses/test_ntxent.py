"""NT-Xent: closed forms, a brute-force numpy reference, invariances, descent on free embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from soundloc.losses import LOSSES, get_loss
from soundloc.losses.ntxent import NTXentLoss


def ntxent_numpy(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """Straightforward loops: for every anchor, -log(exp(s_pos) / sum_{k != i} exp(s_ik))."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        pos = i + n if i < n else i - n
        denom = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[pos]) / tau) / denom)
    return total / (2 * n)


@pytest.mark.parametrize("n", [1, 2, 5, 16])
@pytest.mark.parametrize("tau", [0.05, 0.1, 1.0, 3.0])
def test_collinear_gives_log_2n_minus_1(n: int, tau: float) -> None:
    d = torch.randn(1, 7, dtype=torch.float64)
    scales = torch.rand(2 * n, 1, dtype=torch.float64) + 0.1  # any positive lengths: normalised away
    z = d * scales
    assert float(NTXentLoss(temperature=tau)(z[:n], z[n:])) == pytest.approx(math.log(2 * n - 1), abs=1e-12)


@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_orthogonal_pairs_closed_form(tau: float) -> None:
    n = 6
    e = torch.eye(n, 8, dtype=torch.float64)
    # identical pairs, orthogonal clips: s_pos = 1/tau, every negative 0
    expect = math.log(1 + (2 * n - 2) * math.exp(-1 / tau))
    assert float(NTXentLoss(temperature=tau)(e, e)) == pytest.approx(expect, rel=1e-12)
    # antipodal pairs: s_pos = -1/tau, negatives still 0
    expect_anti = 1 / tau + math.log(math.exp(-1 / tau) + 2 * n - 2)
    assert float(NTXentLoss(temperature=tau)(e, -e)) == pytest.approx(expect_anti, rel=1e-12)


def test_matches_bruteforce_reference_and_is_order_invariant() -> None:
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(10, 16, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(10, 16, generator=g, dtype=torch.float64)
    loss = NTXentLoss(temperature=0.2)
    v = float(loss(z1, z2))
    assert v == pytest.approx(ntxent_numpy(z1.numpy(), z2.numpy(), 0.2), rel=1e-10)
    perm = torch.randperm(10, generator=g)
    assert float(loss(z1[perm], z2[perm])) == pytest.approx(v, rel=1e-12)  # batch order
    assert float(loss(z2, z1)) == pytest.approx(v, rel=1e-12)  # which view is first
    assert float(loss(z1, z2[perm])) != pytest.approx(v, rel=1e-3)  # but the pairing matters


def test_numerically_safe_at_small_temperature() -> None:
    z1 = torch.randn(64, 32)
    v = NTXentLoss(temperature=1e-3)(z1, z1 + 0.01 * torch.randn(64, 32))
    assert torch.isfinite(v)
    # a zero embedding has similarity 0 with everything (no NaN): all-zero second views give the closed form
    e = torch.eye(4, 6, dtype=torch.float64)
    tau = 0.5
    # anchors e_i: positive 0, negatives e_j (0) and the 3 other zeros (0): log(7); zero anchors: log(7) too
    assert float(NTXentLoss(temperature=tau)(e, torch.zeros(4, 6, dtype=torch.float64))) == pytest.approx(math.log(7), rel=1e-12)


def test_decreases_under_gradient_descent_on_free_embeddings() -> None:
    torch.manual_seed(0)
    z1 = torch.randn(32, 16, requires_grad=True)
    z2 = torch.randn(32, 16, requires_grad=True)
    loss = NTXentLoss(temperature=0.2)
    opt = torch.optim.SGD([z1, z2], lr=0.5)
    start = float(loss(z1, z2).detach())
    for _ in range(100):
        opt.zero_grad()
        v = loss(z1, z2)
        v.backward()
        opt.step()
    end = float(loss(z1, z2).detach())
    n = 32
    floor = math.log(1 + (2 * n - 2) * math.exp(-2 / 0.2))  # lower bound: s_pos <= 1/tau, every s_neg >= -1/tau
    assert end < 0.5 * start and end > floor - 1e-6


def test_errors_and_registry() -> None:
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            NTXentLoss(temperature=bad)
    loss = NTXentLoss()
    with pytest.raises(ValueError, match="equal shape"):
        loss(torch.randn(4, 8), torch.randn(5, 8))
    with pytest.raises(ValueError, match="equal shape"):
        loss(torch.randn(4, 8, 2), torch.randn(4, 8, 2))
    with pytest.raises(ValueError, match="at least one"):
        loss(torch.randn(0, 8), torch.randn(0, 8))
    assert isinstance(get_loss("NT-Xent", temperature=0.5), NTXentLoss) and "ntxent" in LOSSES
    with pytest.raises(ValueError, match="choose from"):
        get_loss("triplet")
