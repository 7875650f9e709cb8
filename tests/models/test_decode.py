"""Decoding head outputs into DCASE rows: round trips from labels, the baseline's track merging,
and a perfect DCASE score for perfect outputs (scored by soundloc.metrics.seld)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.data.dcase import DcaseLabels, format_dcase_rows, labels_to_targets, read_dcase_csv, write_dcase_csv
from soundloc.losses import get_loss
from soundloc.metrics.seld import get_seld_scorer
from soundloc.models import get_head
from soundloc.models.decode import unify_tracks
from soundloc.models.heads import Head

C = 4


def random_labels(seed: int, frames: int = 30, max_overlap: int = 3) -> DcaseLabels:
    """Rows with up to ``max_overlap`` simultaneous events per class, directions >= 40 degrees apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for f in range(frames):
        for c in range(C):
            n = int(rng.integers(0, max_overlap + 1))
            sectors = rng.choice(6, size=n, replace=False)
            for k, s in enumerate(sectors):
                az = -150.0 + 60.0 * s + rng.uniform(-5, 5)
                el = rng.uniform(-30, 30)
                rows.append((f, c, k, az, el, round(rng.uniform(0.5, 5.0), 2)))
    rows.append((frames, 0, 0, 0.0, 0.0, 1.0))  # a last frame, so every frame above is scored
    return DcaseLabels.from_rows(rows).sorted()


def batch_targets(labels: DcaseLabels, frames: int, k: int) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(v)[None] for key, v in labels_to_targets(labels, frames, C, max_tracks=k).items()}


def same_rows(a: DcaseLabels, b: DcaseLabels, *, distance: bool, tol_deg: float = 1e-3) -> None:
    """Same (frame, class, direction[, distance]) multiset; track ids may differ."""
    assert len(a) == len(b)
    ka = np.lexsort((a.azimuth, a.class_index, a.frame))
    kb = np.lexsort((b.azimuth, b.class_index, b.frame))
    assert np.array_equal(a.frame[ka], b.frame[kb]) and np.array_equal(a.class_index[ka], b.class_index[kb])
    ang = np.degrees(np.arccos(np.clip(np.sum(a.directions()[ka] * b.directions()[kb], axis=1), -1, 1)))
    assert ang.max() < tol_deg
    if distance:
        assert np.allclose(a.distance[ka], b.distance[kb], atol=1e-5)


def head(name: str) -> Head:
    return get_head(name, in_features=8, num_classes=C)


def test_accdoa_round_trip() -> None:
    ref = random_labels(0, max_overlap=1)
    frames = ref.num_frames
    h = head("accdoa")
    out = h.ideal_output(batch_targets(ref, frames, 1))
    assert out.shape == (1, frames, 3, C)
    (dec,) = h.decode(out)
    same_rows(dec, ref, distance=False)
    assert np.isnan(dec.distance).all() and (dec.track == 0).all()


@pytest.mark.parametrize("name", ["multi-accdoa", "multi-accddoa"])
def test_multi_accdoa_round_trip_with_same_class_overlaps(name: str) -> None:
    ref = random_labels(1)
    frames = ref.num_frames
    tg = batch_targets(ref, frames, 3)
    assert (tg["activity"].sum(dim=2) == 3).any() and (tg["activity"].sum(dim=2) == 2).any()
    h = head(name)
    (dec,) = h.decode(h.ideal_output(tg), frame_offset=0)
    same_rows(dec, ref, distance=name == "multi-accddoa")
    # simultaneous rows of a class get distinct tracks
    keys = list(zip(dec.frame.tolist(), dec.class_index.tolist(), dec.track.tolist()))
    assert len(set(keys)) == len(keys)


def test_frame_offset_and_batches() -> None:
    ref = random_labels(2, frames=10, max_overlap=1)
    h = head("accdoa")
    out = h.ideal_output(batch_targets(ref, 11, 1)).repeat(2, 1, 1, 1)
    a, b = h.decode(out, frame_offset=50)
    assert np.array_equal(a.frame, ref.frame + 50) and np.array_equal(b.frame, a.frame)


@pytest.mark.parametrize("name", ["multi-accdoa", "multi-accddoa"])
def test_perfect_outputs_score_perfectly(name: str, tmp_path: object) -> None:
    ref = random_labels(3)
    tg = batch_targets(ref, ref.num_frames, 3)
    h = head(name)
    (dec,) = h.decode(h.ideal_output(tg))
    r23 = get_seld_scorer("dcase2023", num_classes=C).score(ref, dec, average="macro")
    assert r23.er == pytest.approx(0, abs=1e-9) and r23.f == pytest.approx(1) and r23.lr == pytest.approx(1)
    assert r23.le < 1e-2
    if name == "multi-accddoa":
        r24 = get_seld_scorer("dcase2024", num_classes=C).score(ref, dec, average="macro")
        assert r24.f == pytest.approx(1) and r24.doae < 1e-2 and r24.rde < 1e-6 and r24.seld_score < 1e-4
    # and through a CSV written with our writer and read back by the scorer's reader
    from pathlib import Path

    p = Path(str(tmp_path)) / "pred.csv"
    write_dcase_csv(p, dec)
    back = read_dcase_csv(p)
    assert len(back) == len(dec) and format_dcase_rows(back) == format_dcase_rows(dec)


def _tracks(*dirs: tuple[float, float, float] | None, cls: int = 0, num_classes: int = 1) -> np.ndarray:
    """One frame of multi-ACCDOA vectors (1, 3, 3, C) with the given (az, el, norm) per track."""
    v = np.zeros((1, 3, 3, num_classes))
    for k, d in enumerate(dirs):
        if d is not None:
            az, el, n = np.radians(d[0]), np.radians(d[1]), d[2]
            v[0, k, :, cls] = n * np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
    return v


def test_unify_rules_of_the_baseline() -> None:
    # no similar pair: each active track (norm > 0.5) is a detection; inactive ones are not
    out = unify_tracks(_tracks((0, 0, 0.9), (90, 0, 0.8), (180, 0, 0.4)))
    assert out.track.tolist() == [0, 1] and np.allclose(out.azimuth, [0, 90])
    # one similar pair (10 deg < 15): its mean, plus the third track
    out = unify_tracks(_tracks((0, 0, 1.0), (10, 0, 1.0), (-90, 0, 0.9)))
    assert out.track.tolist() == [0, 2] and np.allclose(out.azimuth, [5, -90])
    # the same pair 20 deg apart is not merged
    assert len(unify_tracks(_tracks((0, 0, 1.0), (20, 0, 1.0), None))) == 2
    assert len(unify_tracks(_tracks((0, 0, 1.0), (20, 0, 1.0), None), unify_deg=25)) == 1
    # pair (1, 2) similar; track 0 kept
    out = unify_tracks(_tracks((100, 0, 1.0), (0, 0, 1.0), (0, 12, 1.0)))
    assert out.track.tolist() == [0, 1] and out.azimuth[0] == pytest.approx(100) and out.elevation[1] == pytest.approx(6, abs=0.1)
    # two or more similar pairs: one detection, the mean of the three
    out = unify_tracks(_tracks((0, 0, 1.0), (10, 0, 1.0), (20, 0, 1.0)))
    assert len(out) == 1 and out.azimuth[0] == pytest.approx(10, abs=1e-6)
    # a chain 0~1~2 with 0 and 2 apart (14 + 14 deg) still merges all three (two similar pairs)
    assert len(unify_tracks(_tracks((0, 0, 1.0), (14, 0, 1.0), (28, 0, 1.0)))) == 1
    # the distance of merged tracks is their mean
    d = np.array([[[1.0], [3.0], [0.0]]])
    out = unify_tracks(_tracks((0, 0, 1.0), (5, 0, 1.0), None), d)
    assert out.distance.tolist() == [2.0]
    # threshold
    assert len(unify_tracks(_tracks((0, 0, 0.6), None, None), threshold=0.7)) == 0


def test_sed_and_sed_doa_and_doa_decoding() -> None:
    ref = random_labels(4, frames=12, max_overlap=1)
    tg = batch_targets(ref, ref.num_frames, 1)
    sed = head("sed")
    (rows,) = sed.decode(sed.ideal_output(tg))
    assert np.array_equal(rows.frame, ref.frame) and np.array_equal(rows.class_index, ref.class_index)
    assert np.isnan(rows.azimuth).all()
    sd = head("sed-doa")
    (rows,) = sd.decode(sd.ideal_output(tg))
    same_rows(rows, ref, distance=False)
    doa = head("doa")
    with pytest.raises(ValueError, match="activity="):
        doa.decode(doa.ideal_output(tg))
    (rows,) = doa.decode(doa.ideal_output(tg), activity=tg["activity"][:, :, 0])
    same_rows(rows, ref, distance=False)


@pytest.mark.parametrize("name", ["sed", "doa", "sed-doa", "accdoa", "multi-accdoa", "multi-accddoa"])
def test_each_head_loss_is_minimal_at_its_ideal_output(name: str) -> None:
    ref = random_labels(5, frames=8)
    tg = batch_targets(ref, ref.num_frames, 3)
    h = head(name)
    loss = get_loss(h.loss_name)
    target = h.target(tg)
    ideal = h.ideal_output(tg).float()
    best = float(loss(ideal, target.float()))
    assert best < 1e-7
    assert float(loss(0.3 * torch.randn_like(ideal), target.float())) > best + 1e-2  # an uninformed output


def test_decode_checks_the_output_shape() -> None:
    with pytest.raises(ValueError, match=r"multi-accdoa head: output must be \(batch, frames, 3, 3, 4\)"):
        head("multi-accdoa").decode(torch.zeros(1, 5, 3, 4, C))
