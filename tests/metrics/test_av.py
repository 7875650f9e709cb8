"""soundloc.metrics.av against the official EZ-VSL evaluator's outputs (tests/data/reference/vsl_ezvsl/),
numpy brute force and scikit-learn (detection AP / max-F1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from soundloc.metrics.av import (
    AUC_THRESHOLDS,
    AVLocalizationEvaluator,
    auc_ciou,
    boxes_to_pixels,
    ciou,
    ciou_at,
    detection_pr,
    flickr_boxes_to_pixels,
    gt_map_from_boxes,
    gt_maps_from_boxes,
    median_threshold,
    normalize_maps,
    read_flickr_xml,
    vggss_boxes_to_pixels,
)

REF = Path(__file__).resolve().parents[1] / "data" / "reference" / "vsl_ezvsl"


@pytest.fixture(scope="module")
def ref() -> dict:
    cases = json.loads((REF / "cases.json").read_text())["cases"]
    expected = json.loads((REF / "expected.json").read_text())
    heat = np.load(REF / "heatmaps.npz")["heatmaps"]
    gt = np.load(REF / "gt_maps.npz")["gt_maps"]
    assert heat.shape == gt.shape == (40, 224, 224) and heat.dtype == np.float32
    return {"cases": cases, "expected": expected, "heat": heat, "gt": gt}


def _case_maps(ref: dict) -> list[np.ndarray]:
    return [gt_map_from_boxes(boxes_to_pixels(c["boxes"], c["format"]), c["format"]) for c in ref["cases"]]


# ------------------------------------------------------------------ boxes and ground-truth maps


def test_pixel_boxes_match_official(ref: dict) -> None:
    for c in ref["cases"]:
        px = boxes_to_pixels(c["boxes"], c["format"])
        assert px.tolist() == ref["expected"][c["id"]]["boxes_224"], c["id"]


def test_gt_maps_equal_official_exactly(ref: dict) -> None:
    ours = np.stack(_case_maps(ref))
    assert ours.dtype == np.float32
    assert np.array_equal(ours, ref["gt"])
    for c, m in zip(ref["cases"], ours):
        e = ref["expected"][c["id"]]
        assert m.sum() == e["gt_sum"] and (m == 1).sum() == e["gt_n_ones"] and (m == 0.5).sum() == e["gt_n_halves"]


def test_box_conversion_truncates_like_python() -> None:
    b = [[0, 1, 255, 256], [7, 9, 128, 200]]
    assert flickr_boxes_to_pixels(b).tolist() == [[int(224 * v / 256) for v in row] for row in b]
    v = [[-0.2, 0.3333, 0.999999, 1.7]]
    assert vggss_boxes_to_pixels(v).tolist() == [[0, int(0.3333 * 224), int(0.999999 * 224), 224]]
    assert flickr_boxes_to_pixels([]).shape == (0, 4)


def test_gt_map_semantics_by_hand() -> None:
    two = [[0, 0, 4, 4], [2, 2, 6, 6]]
    m = gt_map_from_boxes(two, "flickr", size=8)
    assert m[0, 0] == 0.5 and m[3, 3] == 1.0 and m[5, 5] == 0.5 and m[6, 6] == 0 and m[0, 4] == 0
    assert m[:, 6:].sum() == 0 and m[6:, :].sum() == 0  # exclusive ends
    b = gt_map_from_boxes(two, "vggss", size=8)
    assert set(np.unique(b)) == {0.0, 1.0} and b.sum() == 16 + 16 - 4
    assert gt_map_from_boxes([], "vggss", size=(3, 5)).shape == (3, 5)
    assert gt_maps_from_boxes([two, []], "flickr", size=8).shape == (2, 8, 8)


def test_bad_inputs_raise_valueerror() -> None:
    with pytest.raises(ValueError, match="box format"):
        boxes_to_pixels([[0, 0, 1, 1]], "coco")
    with pytest.raises(ValueError, match="integers"):
        flickr_boxes_to_pixels([[0.5, 0, 1, 1]])
    with pytest.raises(ValueError, match="xmin"):
        gt_map_from_boxes([[1, 2, 3]], "flickr")
    with pytest.raises(ValueError, match="NaN"):
        ciou(np.full((4, 4), np.nan), np.ones((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        ciou(np.zeros((2, 4, 4)), np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match="threshold"):
        ciou(np.zeros((4, 4)), np.zeros((4, 4)), threshold=2.0)
    with pytest.raises(ValueError, match="confidence"):
        detection_pr([0.5, np.nan], [1.0])


def test_read_flickr_xml(tmp_path: Path) -> None:
    xml = ("<annotation><object><bbox><name>x</name><xmin>10</xmin><ymin>20</ymin><xmax>100</xmax><ymax>120</ymax></bbox>"
           "</object><object><bbox><id>1</id><a>1</a><b>2</b><c>30</c><d>40</d></bbox></object></annotation>")
    p = tmp_path / "a.xml"
    p.write_text(xml)
    assert read_flickr_xml(p).tolist() == [[10, 20, 100, 120], [1, 2, 30, 40]]
    (tmp_path / "bad.xml").write_text("<annotation>")
    with pytest.raises(ValueError, match="bad.xml"):
        read_flickr_xml(tmp_path / "bad.xml")


# ------------------------------------------------------------------ per-sample cIoU


def test_every_case_matches_official(ref: dict) -> None:
    res = ciou(ref["heat"], ref["gt"])
    for c in ref["cases"]:
        i, e = c["index"], ref["expected"][c["id"]]
        assert abs(res.ciou[i] - e["ciou"]) <= 1e-9, c["id"]
        assert res.intersection[i] == e["intersection"] and res.union[i] == e["union"], c["id"]
        assert res.n_pred[i] == e["n_pred_pixels"], c["id"]
        assert res.threshold[i] == np.float32(e["threshold_normalized"]), c["id"]


def test_median_threshold_is_the_sorted_rank(ref: dict) -> None:
    norm = normalize_maps(ref["heat"])
    thr = median_threshold(norm)
    brute = np.array([np.sort(m.ravel())[int(224 * 224 * 0.5)] for m in norm])
    assert np.array_equal(thr, brute)
    # ties: a binary map with few ones marks everything; a constant map too
    few = np.zeros((10, 10), np.float32)
    few[:2] = 1
    assert ciou(few, np.ones((10, 10))).n_pred[0] == 100
    assert ciou(np.full((10, 10), 3.0), np.ones((10, 10))).n_pred[0] == 100
    odd = np.arange(15, dtype=np.float32).reshape(3, 5)  # rank int(15/2) = 7 -> values 7..14
    assert ciou(odd, np.ones((3, 5))).n_pred[0] == 8


def test_normalize_is_official_float32(ref: dict) -> None:
    h = ref["heat"][:5]
    brute = []
    for m in h:
        lo, hi = m.min(), m.max()
        brute.append(m if hi - lo == 0 else (m - lo) / (hi - lo))
    assert np.array_equal(normalize_maps(h), np.stack(brute)) and normalize_maps(h).dtype == np.float32


def test_ciou_brute_force_random_maps() -> None:
    rng = np.random.default_rng(0)
    h = rng.normal(size=(6, 12, 9)).astype(np.float32)
    g = rng.choice([0.0, 0.5, 1.0], size=(6, 12, 9)).astype(np.float32)
    got = ciou(h, g).ciou
    for k in range(6):
        n = (h[k] - h[k].min()) / (h[k].max() - h[k].min())
        mask = n >= np.sort(n.ravel())[int(n.size * 0.5)]
        assert got[k] == pytest.approx((mask * g[k]).sum() / (g[k].sum() + (mask * (g[k] == 0)).sum()), abs=1e-12)
    fixed = ciou(h, g, threshold=0.3).n_pred
    assert fixed.tolist() == [int((normalize_maps(h)[k] >= np.float32(0.3)).sum()) for k in range(6)]


def test_empty_gt_is_nan_and_skipped() -> None:
    r = ciou(np.random.default_rng(1).random((2, 8, 8)), np.stack([np.zeros((8, 8)), np.ones((8, 8))]))
    assert np.isnan(r.ciou[0]) and 0 < r.ciou[1] <= 1
    assert ciou_at(r.ciou, 0.0) == 1.0 and np.isnan(auc_ciou([np.nan]))


# ------------------------------------------------------------------ aggregates and batch size


@pytest.mark.parametrize("subset", ["all", "flickr", "vggss"])
def test_aggregates_match_official(ref: dict, subset: str) -> None:
    idx = [c["index"] for c in ref["cases"] if subset == "all" or c["format"] == subset]
    e = ref["expected"]["_aggregate"][subset]
    ev = AVLocalizationEvaluator()
    ev.update(ref["heat"][idx], ref["gt"][idx])
    r = ev.result()
    assert r.n == e["n"] == len(idx) and r.n_neg == 0
    assert abs(r.ciou_ap50 - e["cIoU_AP50"]) <= 1e-9
    assert abs(r.ciou_mean - e["cIoU_mean"]) <= 1e-9
    assert abs(r.auc - e["AUC"]) <= 1e-9


def test_auc_grid_and_trapezoid() -> None:
    assert AUC_THRESHOLDS == tuple(0.05 * i for i in range(21))  # the float grid, 0.15000000000000002 included
    assert auc_ciou([1.0]) == pytest.approx(1.0) and auc_ciou([0.0]) == pytest.approx(0.05 / 2)
    c = np.random.default_rng(3).random(50)
    y = [np.mean(c >= t) for t in AUC_THRESHOLDS]
    assert auc_ciou(c) == pytest.approx(sum((AUC_THRESHOLDS[i + 1] - AUC_THRESHOLDS[i]) * (y[i] + y[i + 1]) / 2
                                            for i in range(20)), abs=1e-15)
    # 0.15 computed as 0.05*3 is slightly above 0.15: a cIoU of exactly 0.15 does not pass it
    assert ciou_at([0.15], AUC_THRESHOLDS[3]) == 0.0


@pytest.mark.parametrize("batch", [1, 7, 40])
def test_batch_size_independent(ref: dict, batch: int) -> None:
    ev = AVLocalizationEvaluator()
    conf = np.linspace(0, 1, 40)
    got = [ev.update(ref["heat"][i : i + batch], ref["gt"][i : i + batch], conf[i : i + batch]) for i in range(0, 40, batch)]
    per = np.concatenate(got)
    want = np.array([ref["expected"][c["id"]]["ciou"] for c in sorted(ref["cases"], key=lambda c: c["index"])])
    assert np.abs(per - want).max() <= 1e-9
    assert np.array_equal(ev.result().per_sample_ciou, per) and len(ev) == 40
    r1 = AVLocalizationEvaluator()
    for i in range(40):
        r1.update(ref["heat"][i], ref["gt"][i], conf[i : i + 1])
    assert ev.result().to_dict() == r1.result().to_dict()


# ------------------------------------------------------------------ detection AP / max-F1 with negatives


def _sklearn_reference(c: np.ndarray, s: np.ndarray, thr: float = 0.5) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    pos = ~np.isnan(c)
    correct = pos & (np.nan_to_num(c, nan=-1) >= thr)
    if correct.sum() == 0:
        return 0.0, 0.0
    scale = correct.sum() / pos.sum()  # recall over all on-screen positives, not only the correct ones
    ap = average_precision_score(correct, s) * scale
    p, r, _ = precision_recall_curve(correct, s)
    r = r * scale
    f1 = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0)
    return float(ap), float(f1.max())


@pytest.mark.parametrize("seed", range(6))
def test_detection_ap_and_f1_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    c = rng.random(n)
    c[rng.random(n) < 0.3] = np.nan  # negatives: silent / off-screen / noise
    s = rng.normal(size=n) + np.nan_to_num(c, nan=0.0)
    if seed % 2:
        s = np.round(s, 1)  # many tied confidences
    det = detection_pr(c, s)
    ap, f1 = _sklearn_reference(c, s)
    assert det.ap == pytest.approx(ap, abs=1e-12)
    assert det.max_f1 == pytest.approx(f1, abs=1e-12)
    assert det.n_pos == int((~np.isnan(c)).sum())


def test_detection_closed_forms() -> None:
    c = np.array([0.9, 0.8, np.nan, 0.1])
    # confident on the right ones: precision 1 up to recall 2/3 (3 positives, one mislocalised)
    det = detection_pr(c, [3.0, 2.0, 1.0, 0.0])
    assert det.ap == pytest.approx(2 / 3) and det.max_f1 == pytest.approx(0.8) and det.f1_threshold == 2.0
    # a negative ranked first halves the precision of the correct ones
    det = detection_pr(c, [2.0, 1.0, 3.0, 0.0])
    assert det.ap == pytest.approx(1 / 3 * 1 / 2 + 1 / 3 * 2 / 3)
    # all tied: one operating point, precision 2/4, recall 2/3
    det = detection_pr(c, [1.0, 1.0, 1.0, 1.0])
    assert det.ap == pytest.approx(2 / 3 * 1 / 2) and det.thresholds.tolist() == [1.0]
    assert np.isnan(detection_pr([np.nan], [1.0]).ap)
    assert detection_pr([0.1, 0.2], [1.0, 2.0]).ap == 0.0


def test_evaluator_with_negatives_and_confidence() -> None:
    rng = np.random.default_rng(5)
    gt = np.zeros((6, 16, 16), np.float32)
    gt[:3, 2:10, 2:10] = 1  # three samples with an object, three without
    heat = rng.random((6, 16, 16)).astype(np.float32)
    heat[0, 2:10, 2:10] += 5
    conf = np.array([0.9, 0.2, 0.3, 0.8, 0.1, 0.05])
    ev = AVLocalizationEvaluator()
    ev.update(heat[:4], gt[:4], conf[:4])
    ev.update(heat[4:], gt[4:], conf[4:])
    r = ev.result()
    assert (r.n, r.n_pos, r.n_neg) == (6, 3, 3)
    assert np.isnan(r.per_sample_ciou[3:]).all()
    det = detection_pr(r.per_sample_ciou, conf)
    assert r.ap == det.ap and r.max_f1 == det.max_f1
    assert r.ciou_ap50 == ciou_at(r.per_sample_ciou[:3])
    no_conf = AVLocalizationEvaluator()
    no_conf.update(heat, gt)
    assert np.isnan(no_conf.result().ap)
    with pytest.raises(ValueError, match="threshold"):
        AVLocalizationEvaluator(threshold="mean")  # type: ignore[arg-type]
