"""ADPIT: target conversion from soundloc targets, and the loss against a brute-force numpy reference."""

from __future__ import annotations

from itertools import permutations, product

import numpy as np
import pytest
import torch

from soundloc.data.dcase import DcaseLabels, labels_to_targets
from soundloc.losses import LOSSES, AdpitLoss, adpit_targets, get_loss
from soundloc.models.heads import MultiAccddoaHead, MultiAccdoaHead


def random_targets(rng: np.random.Generator, b: int, t: int, k: int, c: int) -> dict[str, torch.Tensor]:
    """Batched targets as labels_to_targets fills them: n events of a (frame, class) in slots 0..n-1."""
    n = rng.integers(0, k + 1, size=(b, t, c))
    act = (np.arange(k)[None, None, :, None] < n[:, :, None, :]).astype(np.float64)
    doa = rng.normal(size=(b, t, k, c, 3))
    doa /= np.linalg.norm(doa, axis=-1, keepdims=True)
    dist = rng.uniform(0.5, 4.0, size=(b, t, k, c))
    return {"activity": torch.tensor(act), "doa": torch.tensor(doa * act[..., None]), "distance": torch.tensor(dist * act)}


def brute_force(output: np.ndarray, targets: dict[str, torch.Tensor], distance_weight: float = 1.0) -> float:
    """Mean over (b, t, c) of the min over surjective maps from the 3 output tracks onto the events."""
    b, t, _, a, c = output.shape
    act, doa, dist = (targets[k].numpy() for k in ("activity", "doa", "distance"))
    w = np.ones(a)
    if a == 4:
        w[3] = distance_weight
    total = 0.0
    for i, j, m in product(range(b), range(t), range(c)):
        slots = [s for s in range(act.shape[2]) if act[i, j, s, m] > 0][:3]
        events = [np.concatenate([doa[i, j, s, m], [dist[i, j, s, m]]])[:a] for s in slots]
        out = output[i, j, :, :, m]  # (3, a)
        if not events:
            best = float(np.mean(w * out**2))
        else:
            best = np.inf
            for assign in product(range(len(events)), repeat=3):
                if len(set(assign)) != len(events):
                    continue
                tgt = np.stack([events[e] for e in assign])
                best = min(best, float(np.mean(w * (out - tgt) ** 2)))
        total += best
    return total / (b * t * c)


@pytest.mark.parametrize("axes", [3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adpit_equals_brute_force(axes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    targets = random_targets(rng, 2, 7, 3, 4)
    assert (targets["activity"].sum(dim=2) >= 2).any()  # same-class overlaps are in the draw
    output = rng.uniform(-1, 1, size=(2, 7, 3, axes, 4))
    output[..., 3:, :] = np.abs(output[..., 3:, :]) * 3
    target = adpit_targets(targets["activity"], targets["doa"], targets["distance"] if axes == 4 else None)
    for w in (1.0, 0.3):
        got = float(AdpitLoss(distance_weight=w)(torch.tensor(output), target))
        assert got == pytest.approx(brute_force(output, targets, w), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("head_cls", [MultiAccdoaHead, MultiAccddoaHead])
def test_adpit_is_zero_for_every_valid_pattern_and_track_permutation(head_cls: type[MultiAccdoaHead]) -> None:
    rng = np.random.default_rng(3)
    targets = random_targets(rng, 2, 6, 3, 5)
    head = head_cls(in_features=4, num_classes=5)
    target = head.target(targets)
    ideal = head.ideal_output(targets)
    loss = AdpitLoss()
    assert float(loss(ideal, target)) == 0.0
    for perm in permutations(range(3)):
        assert float(loss(ideal[:, :, list(perm)], target)) == 0.0
    # a noisy output: the loss is the same under any permutation of the tracks, and positive
    noisy = ideal + torch.tensor(rng.normal(scale=0.2, size=tuple(ideal.shape)))
    ref = float(loss(noisy, target))
    assert ref > 0
    for perm in permutations(range(3)):
        assert float(loss(noisy[:, :, list(perm)], target)) == pytest.approx(ref, rel=1e-12)


def test_a_wrong_duplicate_is_not_free() -> None:
    """Two events of one class: tracks (B0, B0, B0) cover only one event, so the loss is positive."""
    act = torch.zeros(1, 1, 3, 1)
    act[0, 0, :2, 0] = 1
    doa = torch.zeros(1, 1, 3, 1, 3)
    doa[0, 0, 0, 0] = torch.tensor([1.0, 0, 0])
    doa[0, 0, 1, 0] = torch.tensor([0, 1.0, 0])
    target = adpit_targets(act, doa)
    out = torch.tensor([1.0, 0, 0]).reshape(1, 1, 1, 3, 1).repeat(1, 1, 3, 1, 1)
    # best pattern B0B0B1 misses B1 on one track: 2 squared errors of 1 over 3 tracks x 3 axes
    assert float(AdpitLoss()(out, target)) == pytest.approx(2 / 9)


def test_targets_from_label_rows() -> None:
    """Labels with 1, 2 and 3 simultaneous events of one class land in A0, B0-B1 and C0-C2 (slot = track order)."""
    rows = [(0, 1, 0, 0.0, 0.0, 1.0),
            (1, 1, 5, 90.0, 0.0, 2.0), (1, 1, 2, 180.0, 0.0, 3.0),
            (2, 0, 0, 0.0, 90.0, 1.5), (2, 0, 1, -90.0, 0.0, 2.5), (2, 0, 7, 45.0, 0.0, 3.5), (2, 0, 9, 10.0, 0.0, 9.0)]
    tg = labels_to_targets(DcaseLabels.from_rows(rows), num_frames=3, num_classes=2, max_tracks=3)
    batch = {k: torch.from_numpy(v)[None] for k, v in tg.items()}
    t = adpit_targets(batch["activity"], batch["doa"], batch["distance"])[0].double()
    assert t.shape == (3, 6, 5, 2)
    e = torch.tensor

    def row(az: float, el: float, d: float) -> torch.Tensor:
        a, b = np.deg2rad(az), np.deg2rad(el)
        return e([1.0, np.cos(a) * np.cos(b), np.sin(a) * np.cos(b), np.sin(b), d], dtype=torch.float64)

    zero = torch.zeros(5, dtype=torch.float64)
    expect = {
        (0, 1): [row(0, 0, 1.0), zero, zero, zero, zero, zero],
        (1, 1): [zero, row(180, 0, 3.0), row(90, 0, 2.0), zero, zero, zero],  # track 2 before track 5
        (2, 0): [zero, zero, zero, row(0, 90, 1.5), row(-90, 0, 2.5), row(45, 0, 3.5)],  # the 4th event is dropped
    }
    for (f, c), rows_ in expect.items():
        assert torch.allclose(t[f, :, :, c], torch.stack(rows_), atol=1e-6)
    assert t[0, :, :, 0].abs().sum() == 0 and t[2, :, :, 1].abs().sum() == 0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_targets_with_other_slot_counts(k: int) -> None:
    rng = np.random.default_rng(k)
    tg = random_targets(rng, 1, 5, k, 3)
    t = adpit_targets(tg["activity"], tg["doa"])
    n = tg["activity"].sum(dim=2)
    assert t.shape == (1, 5, 6, 4, 3)
    assert torch.equal(t[:, :, 0, 0], (n == 1).double())
    assert torch.equal(t[:, :, 3, 0], (n >= 3).double())
    assert torch.allclose(t[:, :, 0, 1:], tg["doa"][:, :, 0].permute(0, 1, 3, 2) * (n == 1)[:, :, None])


def test_adpit_gradients_and_shape_errors() -> None:
    rng = np.random.default_rng(0)
    tg = random_targets(rng, 2, 4, 3, 2)
    out = torch.zeros(2, 4, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    AdpitLoss()(out, adpit_targets(tg["activity"], tg["doa"])).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="target must be"):
        AdpitLoss()(out, adpit_targets(tg["activity"], tg["doa"], tg["distance"]))
    with pytest.raises(ValueError, match="output must be"):
        AdpitLoss()(torch.zeros(2, 4, 2, 3, 2), torch.zeros(2, 4, 6, 4, 2))
    with pytest.raises(ValueError, match="doa must be"):
        adpit_targets(tg["activity"], tg["doa"][..., :2])
    with pytest.raises(ValueError, match="distance_weight"):
        AdpitLoss(distance_weight=-1)


def test_loss_registry() -> None:
    assert set(LOSSES) == {"accdoa", "adpit", "sed", "doa", "sed-doa", "ntxent", "ezvsl", "slavc", "fnac"}
    assert isinstance(get_loss("ADPIT", distance_weight=0.5), AdpitLoss)
    with pytest.raises(ValueError, match="choose from accdoa, adpit"):
        get_loss("focal")
