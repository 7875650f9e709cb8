"""EZ-VSL / SLAVC / FNAC losses: closed forms, brute-force references, batch-order invariance, descent."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from soundloc.losses import LOSSES, EZVSLLoss, FNACLoss, SLAVCLoss, get_loss
from soundloc.losses.av_contrastive import mil_logits


def _rand(b: int = 5, d: int = 6, h: int = 3, w: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(b, d, h, w, generator=g, dtype=torch.float64), dim=1)
    aud = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    return img, aud


def _np_ezvsl(img: np.ndarray, aud: np.ndarray, tau: float) -> float:
    """Loops over pairs and locations; softmax cross-entropy written out."""
    b = img.shape[0]
    logits = np.zeros((b, b))
    for i in range(b):
        for j in range(b):
            logits[i, j] = max(float(img[i, :, y, x] @ aud[j]) / tau for y in range(img.shape[2]) for x in range(img.shape[3]))

    def ce(m: np.ndarray) -> float:
        return float(np.mean([-m[k, k] + np.log(np.sum(np.exp(m[k]))) for k in range(b)]))

    return ce(logits) + ce(logits.T)


def test_registered() -> None:
    assert LOSSES["ezvsl"] is EZVSLLoss and LOSSES["slavc"] is SLAVCLoss and LOSSES["fnac"] is FNACLoss
    assert isinstance(get_loss("EZ-VSL"), EZVSLLoss)


def test_ezvsl_closed_forms() -> None:
    b, tau = 4, 0.03
    same_img = torch.ones(b, 2, 3, 3, dtype=torch.float64) / math.sqrt(2)
    same_aud = torch.ones(b, 2, dtype=torch.float64) / math.sqrt(2)
    assert float(EZVSLLoss()(same_img, same_aud)) == pytest.approx(2 * math.log(b), rel=1e-12)
    # orthonormal pairs, constant over locations: logits = I / tau
    tau = 0.5
    e = torch.eye(b, dtype=torch.float64)
    img = e[:, :, None, None].expand(b, b, 2, 5)
    expected = 2 * math.log(1 + (b - 1) * math.exp(-1 / tau))
    assert float(EZVSLLoss(temperature=tau)(img, e)) == pytest.approx(expected, rel=1e-12)
    # the best location wins: one matching location among anti-matching ones gives the same value
    img2 = -img.clone()
    img2[:, :, 1, 3] = e
    assert float(EZVSLLoss(temperature=tau)(img2, e)) == pytest.approx(expected, rel=1e-12)


def test_ezvsl_matches_brute_force_and_batch_order() -> None:
    img, aud = _rand()
    tau = 0.07
    got = float(EZVSLLoss(temperature=tau)(img, aud))
    assert got == pytest.approx(_np_ezvsl(img.numpy(), aud.numpy(), tau), rel=1e-10)
    perm = torch.tensor([3, 0, 4, 1, 2])
    for loss in (EZVSLLoss(), FNACLoss()):
        assert float(loss(img[perm], aud[perm])) == pytest.approx(float(loss(img, aud)), rel=1e-10)
    s = SLAVCLoss()
    img2, aud2 = _rand(seed=1)
    t = _rand(seed=2) + _rand(seed=3)
    assert float(s(img[perm], aud[perm], img2[perm], aud2[perm], targets=tuple(x[perm] for x in t))) == pytest.approx(  # type: ignore[arg-type]
        float(s(img, aud, img2, aud2, targets=t)), rel=1e-10)


def test_mismatched_pairs_cost_more() -> None:
    img, aud = _rand(seed=4)
    good = float(EZVSLLoss()(img, F.normalize(img.amax(dim=(2, 3)), dim=1)))
    bad = float(EZVSLLoss()(img, F.normalize(img.amax(dim=(2, 3)), dim=1).roll(1, 0)))
    assert good < bad


def test_slavc_reduces_to_ezvsl_plus_infonce_without_targets() -> None:
    img, aud = _rand(seed=5)
    img_c, aud_c = _rand(seed=6)
    tau, w = 0.1, 0.5
    got = float(SLAVCLoss(temperature=tau, correspondence_weight=w)(img, aud, img_c, aud_c))
    v = img_c.mean(dim=(2, 3)).numpy()
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    m = v @ aud_c.numpy().T / tau
    ce = float(np.mean([-m[k, k] + np.log(np.exp(m[k]).sum()) for k in range(5)]) + np.mean(
        [-m[k, k] + np.log(np.exp(m[:, k]).sum()) for k in range(5)]))
    assert got == pytest.approx(_np_ezvsl(img.numpy(), aud.numpy(), tau) + w * ce, rel=1e-10)
    # targets equal to the online embeddings give the same value; gradients do not reach the targets
    t = tuple(x.clone().requires_grad_(True) for x in (img, aud, img_c, aud_c))
    val = SLAVCLoss(temperature=tau, correspondence_weight=w)(img, aud, img_c, aud_c, targets=t)  # type: ignore[arg-type]
    assert float(val) == pytest.approx(got, rel=1e-10)
    assert not val.requires_grad


def test_fnac_regularisers_closed_form() -> None:
    # all embeddings alike: every softmax row is uniform, so every regulariser is 0 and FNAC = EZ-VSL = 2 log B
    b = 3
    img = torch.ones(b, 2, 2, 2, dtype=torch.float64) / math.sqrt(2)
    aud = torch.ones(b, 2, dtype=torch.float64) / math.sqrt(2)
    assert [float(r) for r in FNACLoss().regularisers(img, aud)] == [0.0, 0.0, 0.0]
    assert float(FNACLoss()(img, aud)) == pytest.approx(2 * math.log(b), rel=1e-12)
    # random embeddings: the audio FNS term against a numpy softmax
    img, aud = _rand(seed=7)
    tau = 0.2
    r = FNACLoss(temperature=tau).regularisers(img, aud)
    a = aud.numpy() @ aud.numpy().T / tau
    lg = mil_logits(img, aud, tau).numpy()

    def sm(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    assert float(r[0]) == pytest.approx(float(np.abs(sm(a) - sm(lg)).mean()), rel=1e-10)
    assert float(r[0]) > 0
    base = float(EZVSLLoss(temperature=tau)(img, aud))
    assert float(FNACLoss(temperature=tau, weights=(1.0, 2.0, 3.0))(img, aud)) == pytest.approx(
        base + float(r[0]) + 2 * float(r[1]) + 3 * float(r[2]), rel=1e-10)


@pytest.mark.parametrize("name", ["ezvsl", "slavc", "fnac"])
def test_decreases_on_free_embeddings(name: str) -> None:
    torch.manual_seed(0)
    img_p = torch.randn(8, 16, 3, 3, requires_grad=True)
    aud_p = torch.randn(8, 16, requires_grad=True)
    loss = get_loss(name, temperature=0.1)
    opt = torch.optim.Adam([img_p, aud_p], lr=0.05)

    def value() -> torch.Tensor:
        img, aud = F.normalize(img_p, dim=1), F.normalize(aud_p, dim=1)
        out: torch.Tensor = loss(img, aud, img, aud) if name == "slavc" else loss(img, aud)
        return out

    first = float(value().detach())
    for _ in range(60):
        opt.zero_grad()
        value().backward()
        opt.step()
    assert float(value().detach()) < 0.5 * first


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="temperature"):
        EZVSLLoss(temperature=0.0)
    with pytest.raises(ValueError, match="weights"):
        FNACLoss(weights=(1.0, -1.0, 0.0))
    with pytest.raises(ValueError, match="correspondence_weight"):
        SLAVCLoss(correspondence_weight=float("nan"))
    with pytest.raises(ValueError, match="expected"):
        EZVSLLoss()(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4))
