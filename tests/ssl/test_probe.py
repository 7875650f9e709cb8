"""Probing protocols: labels of one-event clips, subsets, wrapped errors, an end-to-end pretrain -> probe run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from soundloc.ssl import PretrainConfig, load_encoder, random_encoder
from soundloc.ssl.job import PretrainJob, run_pretrain
from soundloc.ssl.probe import ProbeConfig, Protocol, azimuth_error_deg, clip_label, load_labelled, run_protocol, subset_indices

TINY_MODEL = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}


def test_protocol_parsing() -> None:
    assert Protocol.parse("subset:0.1") == Protocol("finetune", 0.1)
    assert Protocol.parse("subset:0.1").name == "subset:0.1"
    assert Protocol.parse("scratch:0.01").name == "scratch:0.01"
    assert Protocol.parse("finetune").name == "finetune"
    for bad, msg in (("subset", "needs a fraction"), ("subset:2", "fraction must be in"), ("probe", "unknown protocol"),
                     ("subset:x", "not a fraction")):
        with pytest.raises(ValueError, match=msg):
            Protocol.parse(bad)


def test_subsets_are_deterministic_nested_and_sized() -> None:
    a, b = subset_indices(1000, 0.01, 0), subset_indices(1000, 0.01, 0)
    assert np.array_equal(a, b) and len(a) == 10 and len(np.unique(a)) == 10
    assert not np.array_equal(a, subset_indices(1000, 0.01, 1))
    assert set(a) <= set(subset_indices(1000, 0.1, 0))  # one permutation: the 1 % is inside the 10 %
    assert len(subset_indices(5, 0.01, 0)) == 1 and len(subset_indices(5, 1.0, 0)) == 5


def test_azimuth_error_wraps() -> None:
    np.testing.assert_allclose(azimuth_error_deg(np.array([179.0, -170.0, 10.0, 90.0]), np.array([-179.0, 170.0, 10.0, -90.0])),
                               [2.0, 20.0, 0.0, 180.0])


def test_clip_label_takes_the_dominant_event_and_circular_mean() -> None:
    c, az = clip_label(np.arange(5), np.array([2, 2, 2, 1, 1]), np.array([179.0, -179.0, 180.0, 0.0, 0.0])) or (None, None)
    assert c == 2 and az is not None and abs(abs(az) - 180.0) < 1e-6
    assert clip_label(np.zeros(0, int), np.zeros(0, int), np.zeros(0)) is None


def test_labels_match_the_label_files(mcsimclr_data: Path) -> None:
    enc = random_encoder("random:circular4", encoder_kwargs=TINY_MODEL)
    test = load_labelled(mcsimclr_data, "test", enc.config.input)  # type: ignore[union-attr]
    meta = json.loads((mcsimclr_data / "dataset.json").read_text())
    assert test.class_names == tuple(meta["class_names"])
    for f, c, az in zip(test.files, test.classes, test.azimuth):
        rows = np.loadtxt(Path(f.replace("/audio/", "/metadata/")).with_suffix(".csv"), delimiter=",", ndmin=2)
        assert set(rows[:, 1].astype(int)) == {int(c)}  # one event per clip
        assert float(az) == pytest.approx(float(np.median(rows[:, 3])), abs=0.02)  # static source
    assert test.features.shape[1:] == (10, 51, 64)


def test_pretrain_then_probe_end_to_end(mcsimclr_data: Path, tmp_path: Path) -> None:
    cfg = PretrainConfig(epochs=1, batch_size=4, steps_per_epoch=2, warmup_epochs=0, model_kwargs=TINY_MODEL)
    run_pretrain(0, 1, PretrainJob(config=cfg, run=str(tmp_path / "run"), data=str(mcsimclr_data)))
    enc = load_encoder(tmp_path / "run")
    spec = enc.config.input  # type: ignore[union-attr]
    tr, va, te = (load_labelled(mcsimclr_data, s, spec) for s in ("train", "val", "test"))
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    pc = ProbeConfig(epochs=2, min_steps=6, batch_size=8)
    for name in ("linear", "finetune", "subset:0.1", "scratch:0.1"):
        res = run_protocol(enc, Protocol.parse(name), tr, va, te, config=pc)
        t = res["test"]
        assert res["protocol"] == name and t["clips"] == len(te)
        assert 0.0 <= t["accuracy"] <= 1.0 and 0.0 <= t["azimuth_error_median"] <= 180.0
        assert res["train_clips"] == (len(tr) if ":" not in name else max(1, round(0.1 * len(tr))))
        assert set(res["best_step"]) == {"class", "direction"}
        assert all(1 <= v <= max(6, 2 * len(tr)) for v in res["best_step"].values())
        json.dumps(res)  # JSON-able
    for k, v in enc.state_dict().items():  # protocols work on copies
        assert (v == before[k]).all(), k


def test_each_task_is_selected_at_its_own_best_validation_point(mcsimclr_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Class at the best validation accuracy, direction at the lowest validation azimuth error, each
    with the weights of that step (not one point chosen on a summed loss)."""
    from soundloc.ssl import probe

    enc = random_encoder("random:circular4", encoder_kwargs=TINY_MODEL)
    tr, va = (load_labelled(mcsimclr_data, s, enc.config.input) for s in ("train", "val"))  # type: ignore[union-attr]
    acc = [0.2, 0.6, 0.6, 0.5, 0.4]  # best at point 2 (point 3 ties in accuracy with a higher loss)
    cls_loss = [2.0, 1.0, 1.5, 1.0, 1.0]
    err = [90.0, 80.0, 60.0, 70.0, 30.0]  # best at point 5
    seen: list[dict[str, torch.Tensor]] = []

    def scripted(self: probe._Runner, clips: probe.LabelledClips) -> probe.Metrics:
        k = len(seen)
        seen.append({n: v.detach().clone() for n, v in self.heads.state_dict().items()})
        return probe.Metrics(accuracy=acc[k], azimuth_error_mean=err[k], azimuth_error_median=err[k],
                             class_loss=cls_loss[k], direction_loss=0.5, clips=len(clips))

    monkeypatch.setattr(probe._Runner, "evaluate", scripted)
    runner = probe._Runner(enc, Protocol.parse("linear"), ProbeConfig(epochs=5, min_steps=0, batch_size=len(tr)),
                           len(tr.class_names), torch.device("cpu"))
    best = runner.fit(tr, va)
    assert len(seen) == 5
    assert best["class"][0] == 2 and best["direction"][0] == 5
    for task, point in (("class", 1), ("direction", 4)):
        snap = {k[2:]: v for k, v in best[task][2].items()}
        assert all(torch.equal(snap[n], seen[point][n]) for n in seen[point])
    assert not torch.equal(seen[1]["doa.weight"], seen[4]["doa.weight"])  # the heads moved between the points
