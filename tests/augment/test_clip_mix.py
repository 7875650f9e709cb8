"""ClipMix: the mixed clip's labels are the union of both clips' label rows (checked against
labels_to_targets of the hand-merged rows), waveforms are exact sums, pairs stay within their group."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundloc.augment import AUGMENTATIONS, ClipMix, get_augmentation, merge_targets
from soundloc.augment.clip_mix import ClipMixParams
from soundloc.data.dcase import labels_to_targets
from soundloc.dataformat import DcaseLabels

T, C, K = 12, 4, 3

# (frame, class, track, azimuth, elevation, distance): overlapping events, two of class 1 at once in A
ROWS_A = [(f, 1, 0, 30.0 + f, 10.0, 2.0) for f in range(0, 8)] + [(f, 1, 1, -90.0, 0.0, 1.5) for f in range(3, 6)] + \
         [(f, 2, 0, 150.0, -20.0, 3.0) for f in range(5, 12)]
# B shares class 1 with A on frames 6..9 (A has one class-1 event there) and adds class 0 and 3
ROWS_B = [(f, 1, 0, -45.0, 5.0, 2.5) for f in range(6, 10)] + [(f, 0, 0, 100.0, 40.0, 1.0) for f in range(0, 12)] + \
         [(f, 3, 2, 0.0, -60.0, 4.0) for f in range(2, 4)]


def _targets(rows: list[tuple[float, ...]]) -> dict[str, torch.Tensor]:
    t = labels_to_targets(DcaseLabels.from_rows(rows), T, C, K)
    return {k: torch.from_numpy(v) for k, v in t.items()}


def _union(first: list[tuple[float, ...]], second: list[tuple[float, ...]]) -> dict[str, torch.Tensor]:
    """Targets of the hand-merged label file: the second clip's tracks numbered after the first's."""
    return _targets(first + [(f, c, tr + 10, az, el, d) for f, c, tr, az, el, d in second])


def _batch(*rows: list[tuple[float, ...]]) -> dict[str, torch.Tensor]:
    ts = [_targets(r) for r in rows]
    return {k: torch.stack([t[k] for t in ts]) for k in ts[0]}


def _assert_targets_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-7, msg=k)


def test_mixed_pair_has_the_union_of_both_clips_events() -> None:
    t = _batch(ROWS_A, ROWS_B)
    x = torch.randn(2, 4, 800)
    cm = ClipMix(p=1.0, min_gain_db=-6.0, max_gain_db=0.0, seed=3)
    params = cm.sample(2)
    assert params.applied.tolist() == [True, True] and params.partner.tolist() == [1, 0]
    g = params.gain
    assert bool(((g >= 10 ** (-6 / 20) - 1e-6) & (g <= 1.0 + 1e-6)).all())
    y, tm = cm.transform(x, t, params)
    # waveform: the exact sum, the partner at its gain
    torch.testing.assert_close(y[0], x[0] + g[0] * x[1])
    torch.testing.assert_close(y[1], x[1] + g[1] * x[0])
    # labels: what labels_to_targets gives for the concatenated rows (anchor's events first)
    _assert_targets_equal({k: v[0] for k, v in tm.items()}, _union(ROWS_A, ROWS_B))
    _assert_targets_equal({k: v[1] for k, v in tm.items()}, _union(ROWS_B, ROWS_A))
    # a direct count: every active event of both clips is there, per frame and class
    act = tm["activity"][0].sum(dim=1)
    assert torch.equal(act, t["activity"][0].sum(dim=1) + t["activity"][1].sum(dim=1))
    assert float(tm["activity"][0, 7, :, 1].sum()) == 2.0  # A's class-1 event (slot 0) and B's (slot 1)
    torch.testing.assert_close(tm["doa"][0, 7, 1, 1], t["doa"][1, 7, 0, 1])


def test_same_class_overflow_is_not_mixed_and_other_pairs_are() -> None:
    # single ACCDOA holds one event per class and frame: A and B both have class 1 on frames 6..7
    rows_c = [(f, 0, 0, 10.0, 0.0, 1.0) for f in range(T)]  # class 0 only: fits next to A
    t = _batch(ROWS_A, ROWS_B, ROWS_A, rows_c)
    x = torch.randn(4, 4, 500)
    cm = ClipMix(p=1.0, max_per_class=1, seed=0)
    params = cm.sample(4)
    assert params.partner.tolist() == [1, 0, 3, 2]
    y, tm = cm.transform(x, t, params)
    for i in (0, 1):  # the A/B pair is left alone, waveform and labels
        assert torch.equal(y[i], x[i])
        _assert_targets_equal({k: v[i] for k, v in tm.items()}, {k: v[i] for k, v in t.items()})
    # A has two class-1 events on frames 3..5 by itself, but C adds none there: A + C is mixed
    torch.testing.assert_close(y[2], x[2] + params.gain[2] * x[3])
    _assert_targets_equal({k: v[2] for k, v in tm.items()}, _union(ROWS_A, rows_c))
    # ... but C + A is not: A would bring two class-1 events into frames 3..5, more than one slot holds
    assert torch.equal(y[3], x[3])
    _assert_targets_equal({k: v[3] for k, v in tm.items()}, {k: v[3] for k, v in t.items()})
    # with three slots per class (multi-ACCDOA) the A/B pair fits and is merged
    merged, fits = merge_targets({k: v[:1] for k, v in t.items()}, {k: v[1:2] for k, v in t.items()}, max_per_class=3)
    assert fits.tolist() == [True]
    _assert_targets_equal({k: v[0] for k, v in merged.items()}, _union(ROWS_A, ROWS_B))
    _, fits1 = merge_targets({k: v[:1] for k, v in t.items()}, {k: v[1:2] for k, v in t.items()}, max_per_class=1)
    assert fits1.tolist() == [False]


def test_merge_packs_slots_in_order_even_with_gaps() -> None:
    # the anchor's slot 0 inactive, slot 1 active: merged slots are packed, anchor first, zeros elsewhere
    a = {"activity": torch.zeros(1, 1, 2, 1), "doa": torch.zeros(1, 1, 2, 1, 3)}
    b = {"activity": torch.zeros(1, 1, 2, 1), "doa": torch.zeros(1, 1, 2, 1, 3)}
    a["activity"][0, 0, 1, 0] = 1.0
    a["doa"][0, 0, 1, 0] = torch.tensor([0.0, 1.0, 0.0])
    a["doa"][0, 0, 0, 0] = torch.tensor([9.0, 9.0, 9.0])  # junk in an inactive slot
    b["activity"][0, 0, 0, 0] = 1.0
    b["doa"][0, 0, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    m, fits = merge_targets(a, b)
    assert fits.tolist() == [True]
    assert m["activity"][0, 0, :, 0].tolist() == [1.0, 1.0]
    assert m["doa"][0, 0, :, 0].tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_p0_and_disabled_are_the_identity() -> None:
    t = _batch(ROWS_A, ROWS_B)
    x = torch.randn(2, 4, 300)
    for cm in (ClipMix(p=0.0, seed=0), ClipMix(p=1.0, enabled=False, seed=0)):
        y, tt = cm(x, t)
        assert y is x and all(tt[k] is t[k] for k in t)
        assert not cm.sample(2).applied.any()


def test_a_silent_partner_leaves_clip_and_labels_unchanged() -> None:
    t = _batch(ROWS_A, [])  # the second clip: silence, no events
    x = torch.randn(2, 4, 300)
    x[1] = 0.0
    cm = ClipMix(p=1.0, seed=1)
    params = cm.sample(2)
    y, tm = cm.transform(x, t, params)
    assert params.applied[0]
    assert torch.equal(y[0], x[0])
    _assert_targets_equal({k: v[0] for k, v in tm.items()}, {k: v[0] for k, v in t.items()})
    # the silent clip receives A (and A's labels)
    torch.testing.assert_close(y[1], params.gain[1] * x[0])
    _assert_targets_equal({k: v[1] for k, v in tm.items()}, _targets(ROWS_A))


def test_partners_stay_in_their_group_and_draws_follow_p() -> None:
    cm = ClipMix(p=0.3, group=4, min_gain_db=-10.0, max_gain_db=-2.0, seed=5)
    n = 4003  # the last group has 3 rows
    params = cm.sample(n)
    i = torch.arange(n)
    assert torch.equal(params.partner // 4, i // 4) and not bool((params.partner == i).any())
    assert abs(float(params.applied.float().mean()) - 0.3) < 0.03
    db = 20 * torch.log10(params.gain.double())
    assert float(db.min()) >= -10.0 - 1e-4 and float(db.max()) <= -2.0 + 1e-4
    assert abs(float(db.mean()) + 6.0) < 0.2  # uniform in dB
    # every other member of a group is drawn (uniform over the other 3)
    first = params.partner[: n - 3].reshape(-1, 4)[:, 0] % 4  # partner of each group's first row, within its group
    counts = torch.bincount(first, minlength=4)
    assert counts[0] == 0 and bool((counts[1:] > 250).all())
    # an odd batch of pairs: the last row has no partner and is never mixed
    odd = ClipMix(p=1.0, seed=0).sample(5)
    assert odd.applied.tolist() == [True, True, True, True, False] and int(odd.partner[4]) == 4
    # the whole batch as one group
    whole = ClipMix(p=1.0, group=None, seed=0).sample(64)
    assert not bool((whole.partner == torch.arange(64)).any()) and int(whole.partner.max()) > 1


def test_rows_of_a_global_batch_equal_the_global_mix() -> None:
    """A DDP process mixing its rows with ``sample(global).rows(...)`` gives the global batch's rows."""
    rows_c = [(f, 3, 0, 60.0, 0.0, 1.0) for f in range(T)]
    t = _batch(ROWS_A, ROWS_B, rows_c, [], ROWS_B, rows_c)
    x = torch.randn(6, 4, 200)
    cm = ClipMix(p=0.7, seed=11)
    params = cm.sample(6)
    y, tm = cm.transform(x, t, params)
    for sl in (slice(0, 2), slice(2, 4), slice(4, 6), slice(2, 6)):
        yl, tl = cm.transform(x[sl], {k: v[sl] for k, v in t.items()}, params.rows(sl))
        torch.testing.assert_close(yl, y[sl])
        _assert_targets_equal(tl, {k: v[sl] for k, v in tm.items()})
    with pytest.raises(ValueError, match="another process"):
        ClipMix(p=1.0, seed=0).sample(6).rows(slice(1, 4))


def test_generator_state_round_trip_reproduces_draws() -> None:
    cm = ClipMix(p=0.5, seed=2)
    state = cm.rng_state()
    a = cm.sample(16)
    cm.set_rng_state(state)
    b = cm.sample(16)
    for f in ("applied", "partner", "gain"):
        assert torch.equal(getattr(a, f), getattr(b, f))


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="p must be"):
        ClipMix(p=1.5)
    with pytest.raises(ValueError, match="min_gain_db <= max_gain_db"):
        ClipMix(min_gain_db=0.0, max_gain_db=-3.0)
    with pytest.raises(ValueError, match="group"):
        ClipMix(group=1)
    with pytest.raises(ValueError, match="max_per_class"):
        ClipMix(max_per_class=0)
    t = _batch(ROWS_A, ROWS_B)
    with pytest.raises(ValueError, match="waveforms"):
        ClipMix(p=1.0)(torch.randn(2, 100), t)
    with pytest.raises(ValueError, match="cannot merge"):
        ClipMix(p=1.0)(torch.randn(2, 4, 100), {**t, "extra": torch.zeros(2)})
    with pytest.raises(ValueError, match="needs targets"):
        ClipMix(p=1.0)(torch.randn(2, 4, 100), {"doa": t["doa"]})
    with pytest.raises(ValueError, match="max_per_class must be in 1..3"):
        merge_targets(t, t, max_per_class=4)
    params = ClipMixParams(applied=torch.ones(3, dtype=torch.bool), partner=torch.zeros(3, dtype=torch.long), gain=torch.ones(3))
    with pytest.raises(ValueError, match="draws"):
        ClipMix(p=1.0).transform(torch.randn(2, 4, 100), t, params)


def test_registry_and_alias() -> None:
    assert AUGMENTATIONS["clip-mix"] is ClipMix
    cm = get_augmentation("cm", p=0.25, seed=0)
    assert isinstance(cm, ClipMix) and cm.p == 0.25
    assert np.isclose(cm.max_gain_db, 0.0)
