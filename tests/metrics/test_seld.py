"""soundloc.metrics.seld against the official DCASE2023 / DCASE2024 scoring outputs.

The expected values in ``tests/data/reference/`` came from the unmodified official code (see the
README there). Tolerances: counters exact, ER/F/LR 1e-9, angles 1e-5 degrees, SELD scores 1e-7.
The vectorised matcher is also checked against ``scipy.optimize.linear_sum_assignment`` directly.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from soundloc.data.dcase import DcaseLabels, read_dcase_csv
from soundloc.metrics import seld
from soundloc.metrics.seld import (
    DCASE2023_KEYS,
    DCASE2024_KEYS,
    SELD_SCORERS,
    Dcase2023Scorer,
    Dcase2024Scorer,
    SeldCounts,
    _group,
    _match,
    get_seld_scorer,
    pair_label_files,
    score_paths,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "reference"
D23, D24 = DATA / "dcase2023_seld", DATA / "dcase2024_seld_dist"
EXP23 = json.loads((D23 / "expected.json").read_text())
EXP24 = json.loads((D24 / "expected.json").read_text())
CASES23 = sorted(k for k in EXP23 if k.startswith("case"))
CASES24 = sorted(k for k in EXP24 if k.startswith("case"))

TOL = {"ER": 1e-9, "F": 1e-9, "LR": 1e-9, "LE": 1e-5, "DOAE": 1e-5, "DistE": 1e-9, "RDE": 1e-9, "SELD_score": 1e-7}


def _close(got, want, key: str, where: str) -> None:
    """``got``/``want`` scalars or lists; ``None`` (official NaN) must match ``None``."""
    g = np.array([np.nan if v is None else v for v in np.atleast_1d(np.asarray(got, dtype=object))], float)
    w = np.array([np.nan if v is None else v for v in np.atleast_1d(np.asarray(want, dtype=object))], float)
    assert g.shape == w.shape, f"{where} {key}: shape {g.shape} vs {w.shape}"
    assert np.array_equal(np.isnan(g), np.isnan(w)), f"{where} {key}: NaN pattern {g} vs {w}"
    ok = ~np.isnan(w)
    np.testing.assert_allclose(g[ok], w[ok], rtol=0, atol=TOL[key], err_msg=f"{where} {key}")


def _check(got: dict, want: dict, keys: tuple[str, ...], where: str) -> None:
    for k in keys:
        _close(got[k], want[k], k, where)
    if "classwise" in want:
        assert set(got["classwise"]) == set(want["classwise"]) == set(keys)
        for k in keys:
            _close(got["classwise"][k], want["classwise"][k], k, f"{where} classwise")


def _read23(case: str, pred_suffix: str = "pred") -> tuple[DcaseLabels, DcaseLabels]:
    return (read_dcase_csv(D23 / "cases" / f"{case}_ref.csv", num_classes=13),
            read_dcase_csv(D23 / "cases" / f"{case}_{pred_suffix}.csv", num_classes=13))


def _read24(case: str) -> tuple[DcaseLabels, DcaseLabels]:
    return (read_dcase_csv(D24 / "cases" / f"{case}_ref.csv", distance_unit="cm", num_classes=13),
            read_dcase_csv(D24 / "cases" / f"{case}_pred.csv", distance_unit="m", num_classes=13))


# ---------------------------------------------------------------------------
# per case
# ---------------------------------------------------------------------------


def test_reference_data_complete():
    assert len(CASES23) == 35 and len(CASES24) == 17
    assert {p.name for p in (D23 / "cases").iterdir()} >= {f"{c}_{s}.csv" for c in CASES23 for s in ("ref", "pred", "pred_cart")}
    assert {p.name for p in (D24 / "cases").iterdir()} >= {f"{c}_{s}.csv" for c in CASES24 for s in ("ref", "pred")}


@pytest.mark.parametrize("case", CASES23)
def test_dcase2023_case(case):
    ref, pred = _read23(case)
    scorer = Dcase2023Scorer(num_classes=13)
    counts = scorer.file_counts(ref, pred)
    want = EXP23[case]["counters"]
    got = counts.to_dict()
    for k in ("TP", "FP", "FP_spatial", "FN", "Nref", "DE_TP", "DE_FP", "DE_FN", "S", "D", "I"):
        assert np.array_equal(got[k], want[k]), f"{case} counter {k}: {got[k]} vs {want[k]}"
    np.testing.assert_allclose(got["total_DE"], want["total_DE"], rtol=0, atol=1e-5)
    for avg in ("macro", "micro"):
        _check(scorer.result(average=avg, counts=counts).to_dict(), EXP23[case][avg], DCASE2023_KEYS, f"{case} {avg}")


@pytest.mark.parametrize("case", CASES23)
def test_dcase2023_cartesian_predictions(case):
    """The 7-column Cartesian predictions (what the baseline writes) score like the polar ones."""
    ref, pred = _read23(case, "pred_cart")
    assert np.all(pred.distance == 0) and (pred.has_distance or not len(pred))  # the official loader keeps 0 as 0 m
    for avg in ("macro", "micro"):
        _check(Dcase2023Scorer().score(ref, pred, average=avg).to_dict(), EXP23[case][avg], DCASE2023_KEYS,
               f"{case} cart {avg}")


@pytest.mark.parametrize("case", CASES24)
def test_dcase2024_case(case):
    ref, pred = _read24(case)
    scorer = Dcase2024Scorer(num_classes=13)
    for avg in ("macro", "micro"):
        _check(scorer.score(ref, pred, average=avg).to_dict(), EXP24[case][avg], DCASE2024_KEYS, f"{case} {avg}")


@pytest.mark.parametrize("metric", ["dcase2023", "dcase2024"])
@pytest.mark.parametrize("average", ["macro", "micro"])
def test_aggregate_one_accumulating_scorer(metric, average):
    """All files in one scorer = the official folder scoring (counters of files add up)."""
    exp, cases, read, keys = ((EXP23, CASES23, _read23, DCASE2023_KEYS) if metric == "dcase2023"
                              else (EXP24, CASES24, _read24, DCASE2024_KEYS))
    scorer = get_seld_scorer(metric, num_classes=13)
    total = SeldCounts.zeros(13)
    for c in cases:
        total = total + scorer.update(*read(c))
    agg = exp["_aggregate_all_cases"]
    _check(scorer.result(average=average).to_dict(), agg[average], keys, f"{metric} aggregate {average}")
    assert scorer.result(average=average, counts=total).to_dict() == scorer.result(average=average).to_dict()
    if metric == "dcase2023":
        for k, v in agg["counters"].items():
            np.testing.assert_allclose(scorer.counts.to_dict()[k], v, rtol=0, atol=1e-5, err_msg=k)
    scorer.reset()
    assert scorer.counts.to_dict() == SeldCounts.zeros(13).to_dict()


def _folder(tmp: Path, src: Path, cases: list[str]) -> tuple[Path, Path]:
    ref, pred = tmp / "ref" / "dev-test", tmp / "pred"  # the reference one level deeper, as in STARSS23 metadata
    ref.mkdir(parents=True)
    pred.mkdir()
    for c in cases:
        shutil.copy(src / "cases" / f"{c}_ref.csv", ref / f"{c}.csv")
        shutil.copy(src / "cases" / f"{c}_pred.csv", pred / f"{c}.csv")
    return ref.parent, pred


@pytest.mark.parametrize("metric", ["dcase2023", "dcase2024"])
def test_score_paths_folder_and_per_file(tmp_path, metric):
    exp, cases, src, keys = ((EXP23, CASES23, D23, DCASE2023_KEYS) if metric == "dcase2023"
                             else (EXP24, CASES24, D24, DCASE2024_KEYS))
    ref, pred = _folder(tmp_path, src, cases)
    for avg in ("macro", "micro"):
        rep = score_paths(ref, pred, metric=metric, average=avg, per_file=True).to_dict()
        _check(rep, exp["_aggregate_all_cases"][avg], keys, f"folder {avg}")
        assert sorted(rep["files"]) == [f"{c}.csv" for c in cases]
        for c in cases:
            _check(rep["files"][f"{c}.csv"], exp[c][avg], keys, f"{c} per-file {avg}")
    assert "files" not in score_paths(ref, pred, metric=metric).to_dict()


# ---------------------------------------------------------------------------
# quirks, spelled out on small synthetic inputs
# ---------------------------------------------------------------------------


def _lab(rows) -> DcaseLabels:
    return DcaseLabels.from_rows([(*r, 2.0) if len(r) == 5 else r for r in rows])


def test_dcase2023_last_reference_frame_sets_segments():
    """M = 20 -> 2 segments (frames 0..19): the reference row at frame 20 and predictions after are not scored."""
    ref = _lab([(0, 1, 0, 10.0, 0.0), (20, 1, 0, 10.0, 0.0)])
    pred = _lab([(0, 1, 0, 10.0, 0.0), (19, 2, 0, 0.0, 0.0), (20, 2, 0, 0.0, 0.0), (25, 3, 0, 0.0, 0.0)])
    k = Dcase2023Scorer().file_counts(ref, pred)
    assert k.n_ref.sum() == 1 and k.tp[1] == 1 and k.fp[2] == 1 and k.fp[3] == 0 and k.i == 1


def test_dcase2024_last_reference_frame_not_scored():
    ref = _lab([(0, 1, 0, 10.0, 0.0), (5, 1, 0, 10.0, 0.0)])
    pred = _lab([(0, 1, 0, 10.0, 0.0), (5, 4, 0, 10.0, 0.0)])
    k = Dcase2024Scorer().file_counts(ref, pred)
    assert k.n_ref.sum() == 1 and k.tp[1] == 1 and k.fp.sum() == 0 and k.fn.sum() == 0


def test_dcase2024_distance_thresholds_are_strict_and_errors_count_all_pairs():
    ref = DcaseLabels.from_rows([(0, 0, 0, 0.0, 0.0, 2.0), (1, 0, 0, 0.0, 0.0, 2.0), (2, 0, 0, 0.0, 0.0, 2.0)])
    pred = DcaseLabels.from_rows([(0, 0, 0, 0.0, 0.0, 3.0), (1, 0, 0, 0.0, 0.0, 5.0)])
    k = Dcase2024Scorer().file_counts(ref, pred)
    assert k.tp[0] == 1 and k.fp_spatial[0] == 1  # rel. error 0.5 passes, 1.5 fails
    assert k.total_dist[0] == pytest.approx(4.0) and k.total_rel_dist[0] == pytest.approx(2.0)
    assert Dcase2024Scorer(dist_threshold=0.5).file_counts(ref, pred).tp[0] == 0


def test_dcase2024_no_matched_pair_gives_nan():
    ref = _lab([(0, 1, 0, 10.0, 0.0), (1, 1, 0, 10.0, 0.0)])
    r = Dcase2024Scorer().score(ref, _lab([]), average="micro")
    assert math.isnan(r.doae) and r.to_dict()["DOAE"] is None and r.f == 0 and r.seld_score == pytest.approx(1.0)


def test_scorer_arguments_and_errors():
    with pytest.raises(ValueError, match="dcase2023, dcase2024"):
        get_seld_scorer("dcase2022")
    assert set(SELD_SCORERS) == {"dcase2023", "dcase2024"}
    with pytest.raises(ValueError, match="whole number"):
        Dcase2023Scorer(segment_s=1.05)
    assert Dcase2023Scorer(label_hop_s=0.05, segment_s=1.0).frames_per_segment == 20
    with pytest.raises(ValueError, match="doa_threshold"):
        Dcase2024Scorer(doa_threshold=0)
    ref = _lab([(0, 1, 0, 10.0, 0.0), (3, 1, 0, 10.0, 0.0)])
    with pytest.raises(ValueError, match="no label rows"):
        Dcase2023Scorer().file_counts(_lab([]), ref)
    with pytest.raises(ValueError, match="pred.csv: class 13 is out of range for 13 classes"):
        Dcase2023Scorer().file_counts(ref, _lab([(0, 13, 0, 0.0, 0.0)]), pred_name="pred.csv")
    five = DcaseLabels.from_rows([(0, 1, 0, 10.0, 0.0, np.nan), (3, 1, 0, 10.0, 0.0, np.nan)])
    with pytest.raises(ValueError, match="no distance column"):
        Dcase2024Scorer().file_counts(five, ref)
    with pytest.raises(ValueError, match="average"):
        Dcase2023Scorer().result(average="weighted")


# ---------------------------------------------------------------------------
# the vectorised matcher vs scipy's linear_sum_assignment, group by group
# ---------------------------------------------------------------------------


def _brute(ref: DcaseLabels, pred: DcaseLabels, cost_fn) -> dict[tuple[int, int], float]:
    out = {}
    for f, c in {(int(a), int(b)) for a, b in zip(ref.frame, ref.class_index)}:
        i = np.flatnonzero((ref.frame == f) & (ref.class_index == c))
        j = np.flatnonzero((pred.frame == f) & (pred.class_index == c))
        if len(j):
            m = cost_fn(i[:, None], j[None, :])
            r, k = linear_sum_assignment(m)
            out[(f, c)] = float(m[r, k].sum())
    return out


@pytest.mark.parametrize(("seed", "chunk"), [(0, None), (1, 7)])
def test_matcher_equals_linear_sum_assignment(seed, chunk, monkeypatch):
    """Random groups of 1-8 rows per side (beyond 6 the matcher hands over to scipy), with exact
    duplicates (ties) mixed in: the same total cost per group, min(R, P) pairs, one-to-one;
    also with the assignment search cut into tiny chunks."""
    if chunk is not None:
        monkeypatch.setattr(seld, "_CHUNK_ELEMENTS", chunk)
    rng = np.random.default_rng(seed)
    rows_r, rows_p = [], []
    for f in range(300):
        nr, npred = rng.integers(1, 9 if f < 20 else 4, size=2)
        r = [(f, 0, 0, float(rng.uniform(-180, 180)), float(rng.uniform(-90, 90)), 1.0) for _ in range(nr)]
        p = [(f, 0, 0, float(rng.uniform(-180, 180)), float(rng.uniform(-90, 90)), 1.0) for _ in range(npred)]
        if f % 7 == 0 and npred > 1:
            p[1] = p[0]  # a tie
        rows_r += r
        rows_p += p
    ref, pred = DcaseLabels.from_rows(rows_r), DcaseLabels.from_rows(rows_p)
    cost_fn = Dcase2023Scorer()._angles(ref, pred)
    gr, gp = _group(ref.frame, ref.class_index, 1), _group(pred.frame, pred.class_index, 1)
    assert np.array_equal(gr.keys, gp.keys)
    grp, pos, ri, pj = _match(gr.order, gr.size, gp.order, gp.size, gr.start, gp.start, cost_fn)
    assert np.array_equal(np.bincount(grp, minlength=len(gr.keys)), np.minimum(gr.size, gp.size))
    pairs = set(zip(ri.tolist(), pj.tolist()))
    assert len(pairs) == len(ri) and len(set(ri.tolist())) == len(ri) and len(set(pj.tolist())) == len(pj)
    assert np.array_equal(ref.frame[ri], pred.frame[pj])
    assert np.array_equal(ri, gr.order[gr.start[grp] + pos])
    tot = np.bincount(grp, weights=cost_fn(ri, pj), minlength=len(gr.keys))
    want = _brute(ref, pred, cost_fn)
    np.testing.assert_allclose(tot, [want[(int(k), 0)] for k in gr.keys], rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def test_pair_label_files(tmp_path):
    (tmp_path / "r" / "fold").mkdir(parents=True)
    (tmp_path / "p").mkdir()
    for n in ("a.csv", "b.csv"):
        (tmp_path / "r" / "fold" / n).write_text("0,0,0,0,0\n")
        (tmp_path / "p" / n).write_text("0,0,0,0,0\n")
    pairs = pair_label_files(tmp_path / "r", tmp_path / "p")
    assert [(n, r.parent.name, p.parent.name) for n, r, p in pairs] == [("a.csv", "fold", "p"), ("b.csv", "fold", "p")]
    (tmp_path / "p" / "c.csv").write_text("0,0,0,0,0\n")
    with pytest.raises(ValueError, match="prediction file.*without a partner.*c.csv"):
        pair_label_files(tmp_path / "r", tmp_path / "p")
    with pytest.raises(ValueError, match="must both be CSV files or both folders"):
        pair_label_files(tmp_path / "r", tmp_path / "p" / "a.csv")
    with pytest.raises(ValueError, match="does not exist"):
        pair_label_files(tmp_path / "nope", tmp_path / "p")
    (tmp_path / "r" / "b.csv").write_text("0,0,0,0,0\n")
    with pytest.raises(ValueError, match="two label files named b.csv"):
        pair_label_files(tmp_path / "r", tmp_path / "p")


def test_reader_names_file_and_line(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("0,1,0,10,20\n\n1,1,0,ten,20\n")
    with pytest.raises(ValueError, match=r"x.csv: line 3: non-numeric"):
        read_dcase_csv(p)
    p.write_text("0,1,0,10,20\n1,13,0,10,20\n")
    with pytest.raises(ValueError, match=r"x.csv: line 2: class 13 is out of range for 13 classes"):
        read_dcase_csv(p, num_classes=13)
    assert len(read_dcase_csv(p)) == 2
    p.write_text("0,1,0,10,20\n-1,1,0,10,20\n")
    with pytest.raises(ValueError, match=r"x.csv: line 2: frame, class and track"):
        read_dcase_csv(p)


def test_reader_fast_and_careful_paths_agree(tmp_path):
    """A plain file (parsed in C) and the same rows with a header, a blank line and CRLF endings
    (parsed by the csv module) read the same; a bad token in a plain-looking file is still caught."""
    rows = ["3,1,0,-45.5,10,250", "3,2,1,170,-20,90", "7,1,0,-44,11,251"]
    plain, careful = tmp_path / "plain.csv", tmp_path / "careful.csv"
    plain.write_text("\n".join(rows) + "\n")
    careful.write_text("frame,class,track,azimuth,elevation,distance\r\n" + rows[0] + "\r\n\r\n" + "\r\n".join(rows[1:]))
    a, b = read_dcase_csv(plain), read_dcase_csv(careful)
    for f in ("frame", "class_index", "track", "azimuth", "elevation", "distance"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    np.testing.assert_allclose(a.distance, [2.5, 0.9, 2.51])  # integers -> cm
    plain.write_text("\n".join(rows[:2] + ["7,1,0,-44,1x,251"]) + "\n")
    with pytest.raises(ValueError, match=r"plain.csv: line 3: non-numeric"):
        read_dcase_csv(plain)
    plain.write_text("\n".join(rows[:2] + ["7,1,0,-44,nan,251"]) + "\n")
    with pytest.raises(ValueError, match=r"plain.csv: line 3: NaN"):
        read_dcase_csv(plain)


# ---------------------------------------------------------------------------
# 7-column (Cartesian) files: distance unit and distance 0 (official load_output_format_file)
# ---------------------------------------------------------------------------


def _to_cartesian_csv(src: Path, dst: Path, *, distance: str = "keep") -> None:
    """Rewrite a 5/6-column polar CSV as ``frame,class,track,x,y,z,distance`` (``distance="zero"``: all 0)."""
    lines = []
    for line in src.read_text().splitlines():
        f, c, t, az, el, *rest = line.split(",")
        a, e = math.radians(float(az)), math.radians(float(el))
        xyz = (math.cos(a) * math.cos(e), math.sin(a) * math.cos(e), math.sin(e))
        d = "0" if distance == "zero" or not rest else rest[0]
        lines.append(",".join([f, c, t, *(repr(v) for v in xyz), d]))
    dst.write_text("".join(x + "\n" for x in lines))


@pytest.mark.parametrize("case", ["case05", "case06", "case09", "case14", "case17"])
def test_dcase2024_cartesian_reference_in_cm(tmp_path, case):
    """The official loader applies cm2m to a 7-column file's distance too: a Cartesian reference in
    cm scores exactly like the polar one (the official outputs) under the reference unit cm."""
    (tmp_path / "ref").mkdir()
    (tmp_path / "pred").mkdir()
    _to_cartesian_csv(D24 / "cases" / f"{case}_ref.csv", tmp_path / "ref" / f"{case}.csv")
    shutil.copy(D24 / "cases" / f"{case}_pred.csv", tmp_path / "pred" / f"{case}.csv")
    ref7 = read_dcase_csv(tmp_path / "ref" / f"{case}.csv", distance_unit="cm")
    ref6, _ = _read24(case)
    np.testing.assert_allclose(ref7.distance, ref6.distance, rtol=0, atol=1e-12)
    for avg in ("macro", "micro"):
        got = score_paths(tmp_path / "ref", tmp_path / "pred", metric="dcase2024", average=avg,
                          ref_distance_unit="cm", pred_distance_unit="m").total.to_dict()
        _check(got, EXP24[case][avg], DCASE2024_KEYS, f"{case} cartesian ref {avg}")


def test_cartesian_distance_unit_auto_is_metres_explicit_wins(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("0,1,0,1.0,0.0,0.0,250\n1,1,0,0.0,1.0,0.0,0\n2,1,0,0.0,0.0,2.0,1.5\n")
    np.testing.assert_array_equal(read_dcase_csv(p).distance, [250.0, 0.0, 1.5])  # auto: metres
    np.testing.assert_array_equal(read_dcase_csv(p, distance_unit="m").distance, [250.0, 0.0, 1.5])
    np.testing.assert_allclose(read_dcase_csv(p, distance_unit="cm").distance, [2.5, 0.0, 0.015], rtol=1e-15)
    lab = read_dcase_csv(p)
    np.testing.assert_allclose(lab.azimuth, [0.0, 90.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(lab.elevation, [0.0, 0.0, 90.0], atol=1e-12)


def test_dcase2024_all_zero_cartesian_prediction_scores_as_zero_metres(tmp_path):
    """What the DCASE2023 baseline writes (7 columns, distance 0) is scored with 0 m distances, as
    the official code does; expected values derived by hand from the README's description."""
    (tmp_path / "ref").mkdir()
    (tmp_path / "pred").mkdir()
    # reference (cm): class 0 at az 30 / 2 m and class 1 at az -60 / 1.5 m in frames 0-2;
    # frame 3 is the last reference frame and is not scored
    ref_rows = [f"{f},0,0,30,0,200\n{f},1,0,-60,0,150\n" for f in range(4)]
    (tmp_path / "ref" / "a.csv").write_text("".join(ref_rows))
    # prediction: class 0 exact in frames 0-2; class 1 only in frame 0, 30 degrees off in azimuth
    c30, s30 = math.cos(math.radians(30)), math.sin(math.radians(30))
    pred = [f"{f},0,0,{c30!r},{s30!r},0.0,0\n" for f in range(3)]
    pred.append(f"0,1,0,{c30!r},{-s30!r},0.0,0\n")  # azimuth -30
    (tmp_path / "pred" / "a.csv").write_text("".join(pred))
    got = score_paths(tmp_path / "ref", tmp_path / "pred", metric="dcase2024").total.to_dict()
    eps = np.finfo(float).eps
    ang0 = math.degrees(math.acos(1.0 / (1.0 + 1e-10)))  # the official 1e-10 regulariser, identical directions
    # class 0: 3 TP (relative error 2/(2+eps) <= 1), DistE 2 m, RDE ~1; class 1: one failing pair (30 deg), 2 FN
    f = [3 / (eps + 3), 0.0] + [0.0] * 11
    doae, diste, rde = [ang0, 30.0], [2.0, 1.5], [2 / (2 + eps), 1.5 / (1.5 + eps)]
    seld_c = [(1 - f[0] + doae[0] / 180 + rde[0]) / 3, (1 - f[1] + doae[1] / 180 + rde[1]) / 3] + [1.0] * 11
    want = {"ER": 3 / 6,  # frame 0: one insertion (the failing pair); frames 1, 2: one deletion each; 6 reference rows
            "F": sum(f) / 13, "DOAE": sum(doae) / 2, "DistE": sum(diste) / 2, "RDE": sum(rde) / 2,
            "SELD_score": sum(seld_c) / 13}
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-9 if k != "DOAE" else 1e-6), k
