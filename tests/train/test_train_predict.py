"""Predicting a split: windows, frame offsets, concatenation and CSVs, checked with ideal head outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from soundloc.data import SeldDataset
from soundloc.metrics.seld import get_seld_scorer, score_label_files
from soundloc.train import TrainConfig, build_for
from soundloc.train.predict import predict_split, write_predictions


@pytest.mark.parametrize("window", [0.7, 1.5])  # windows that do not divide the 2-s files: the last one is padded
def test_ideal_outputs_score_perfectly(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path, window: float) -> None:
    cfg = tiny_config.replace(output="multi-accddoa")
    ref = SeldDataset(tiny_data, "val", clip_seconds=window, max_tracks=3)
    model = build_for(cfg, ref.array, ref.fs, ref.class_names)
    targets = iter([ref[i][1] for i in range(len(ref))])

    def ideal(features: torch.Tensor) -> torch.Tensor:  # the head's perfect output for the next windows, in order
        batch = [next(targets) for _ in range(features.shape[0])]
        return model.head.ideal_output({k: torch.stack([t[k] for t in batch]) for k in batch[0]})

    model.forward = ideal  # type: ignore[method-assign]
    preds = predict_split(model, tiny_data, "val", window_seconds=window, batch_size=2)
    assert next(targets, None) is None  # every window was predicted once
    assert [p.name for p in preds] == [e.labels.name for e in ref.entries]
    paths = write_predictions(preds, tmp_path / "pred")
    pairs = [(p.name, p.reference, path) for p, path in zip(preds, paths)]
    assert all(len(p.labels) > 0 for p in preds)
    for metric in ("dcase2024", "dcase2023"):
        res = score_label_files(pairs, get_seld_scorer(metric, num_classes=len(ref.class_names)), average="micro",
                                ref_distance_unit="cm", pred_distance_unit="cm").total.to_dict()
        assert res["F"] == pytest.approx(1.0) and res["ER"] == pytest.approx(0.0), (metric, res)
        assert (res.get("DOAE") or res.get("LE")) < 0.05  # CSV angles have 0.01 degree precision


def test_other_array_is_refused(tiny_data: Path, tiny_config: TrainConfig) -> None:
    from soundloc.geometry import MicArray

    ds = SeldDataset(tiny_data, "val")
    model = build_for(tiny_config, MicArray.preset("tetra"), ds.fs, ds.class_names)
    with pytest.raises(ValueError, match="trained for array 'tetra'"):
        predict_split(model, tiny_data, "val", window_seconds=1.0)


def test_seld_validation_scorer_matches_the_scorer_on_files(tiny_data: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    from soundloc.metrics.seld_validation import SeldValidation

    ds = SeldDataset(tiny_data, "val")
    model = build_for(tiny_config, ds.array, ds.fs, ds.class_names).eval()
    got = SeldValidation(data=str(tiny_data), split="val", window_seconds=1.0)(model)
    preds = predict_split(model, tiny_data, "val", window_seconds=1.0)
    paths = write_predictions(preds, tmp_path / "p")
    want = score_label_files([(p.name, p.reference, q) for p, q in zip(preds, paths)],
                             get_seld_scorer("dcase2023", num_classes=len(ds.class_names)), pred_distance_unit="cm").total.to_dict()
    assert got["metric"] == "dcase2023" and got["seld"] == pytest.approx(want["SELD_score"])
