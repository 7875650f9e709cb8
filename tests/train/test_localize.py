"""Localizing with a model (soundloc.train.localize): the window rule checked against a designed output.

The network is replaced by a known per-frame output (classes, tracks, directions, distances,
activities), so every window's sources follow from the rule by hand: per class, the normalised
mean of its active frames' unit vectors, the fraction of active frames, the mean activity.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from soundloc.geometry import MicArray, cart_to_sph_deg, unit_vectors_deg
from soundloc.models import InputSpec, SeldConfig, SeldModel, build_model
from soundloc.train import feature_config_for
from soundloc.train.localize import ModelOptions, ModelRunner, iter_localize_model, locate_stream, locate_with_model

FS = 16000
TINY = {"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}
N_FRAMES = 35  # 3.5 s of 100 ms label frames


def tiny_model(head: str = "multi-accddoa", classes: tuple[str, ...] = ("dog", "bell")) -> SeldModel:
    spec = InputSpec.create("mic", MicArray.preset("circular4"), class_names=classes, feature_config=feature_config_for(FS))
    torch.manual_seed(0)
    return build_model(SeldConfig.for_input(spec, encoder="crnn", head=head, encoder_kwargs=TINY))


def active_model(encoder: str, head: str) -> SeldModel:
    """A small random model with BatchNorm statistics far from the identity whose track 0 of class 0
    is always active and of class 1 at times (head bias), so windows have sources to compare."""
    spec = InputSpec.create("mic", MicArray.preset("circular4"), class_names=("dog", "bell"), feature_config=feature_config_for(FS))
    kw = TINY if encoder == "crnn" else {"channels": [4, 8], "blocks": [1, 1], "t_pool": [5, 1], "f_pool": [4, 4],
                                        "d_model": 16, "num_blocks": 1, "heads": 2, "kernel_size": 5}
    torch.manual_seed(0)
    m = build_model(SeldConfig.for_input(spec, encoder=encoder, head=head, encoder_kwargs=kw))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.copy_(torch.rand(mod.num_features, generator=g) - 0.5)
                mod.running_var.copy_(0.3 + 2 * torch.rand(mod.num_features, generator=g))
        bias = m.head.mlp[-1].bias  # flattened (track, axis, class): [0] = track 0, x, class 0
        bias[0] += 2.0
        bias[1] += 0.6
    return m.eval()


def design() -> dict[str, np.ndarray]:
    """Per label frame: class 0 ("dog") on track 0 at az 30 (frames 0-14), then on track 2 at az 40
    (15-29), activity 0.9, 2 m; class 1 ("bell") on track 1 at az -60 el 20 (8-29), activity 0.7,
    1 m; frames 30-34 quiet (class 1 track 0 at az 100 with activity 0.2, below the threshold)."""
    out = np.zeros((N_FRAMES, 3, 4, 2))
    u = unit_vectors_deg(np.array([30.0, 40.0, -60.0, 100.0]), np.array([0.0, 0.0, 20.0, 0.0]))
    out[0:15, 0, :3, 0], out[0:15, 0, 3, 0] = 0.9 * u[0], 2.0
    out[15:30, 2, :3, 0], out[15:30, 2, 3, 0] = 0.9 * u[1], 2.0
    out[8:30, 1, :3, 1], out[8:30, 1, 3, 1] = 0.7 * u[2], 1.0
    out[30:35, 0, :3, 1] = 0.2 * u[3]
    return {"out": out, "u": u}


def patched(model: SeldModel, chunk_frames: int) -> SeldModel:
    """``model`` whose network gives the designed output, chunk after chunk (zeros past its end)."""
    out = design()["out"]
    state = {"next": 0}

    def forward(features: torch.Tensor) -> torch.Tensor:
        y = np.zeros((features.shape[0], chunk_frames, 3, 4, 2))
        for b in range(features.shape[0]):
            f0 = state["next"]
            part = out[f0:f0 + chunk_frames]
            y[b, : len(part)] = part
            state["next"] += chunk_frames
        return torch.from_numpy(y).float()

    model.forward = forward  # type: ignore[method-assign]
    return model


def expected(lo: int, hi: int) -> dict[str, tuple[float, float, float, float, float]]:
    """Per class active in frames [lo, hi): (azimuth, elevation, power, confidence, distance) by hand."""
    u = design()["u"]
    per_frame = {"dog": [(u[0] if f < 15 else u[1], 0.9, 2.0) for f in range(lo, hi) if f < 30],
                 "bell": [(u[2], 0.7, 1.0) for f in range(lo, hi) if 8 <= f < 30]}
    res = {}
    for c, rows in per_frame.items():
        if rows:
            v = np.mean([r[0] for r in rows], axis=0)
            az, el = cart_to_sph_deg(v / np.linalg.norm(v))
            res[c] = (float(az), float(el), len(rows) / (hi - lo), float(np.mean([r[1] for r in rows])),
                      float(np.mean([r[2] for r in rows])))
    return res


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((4, int(round(seconds * FS)))).astype(np.float32)
    x[:, int(3.0 * FS):] *= 0.01  # the quiet end
    return x


def _check(res, lo: int, hi: int) -> None:
    want = expected(lo, hi)
    got = {lab: k for k, lab in enumerate(res.label)} if res.window_decision == "source" else {}
    assert set(got) == set(want), (res.start, res.label)
    for c, (az, el, power, conf, dist) in want.items():
        k = got[c]
        assert res.azimuth[k] == pytest.approx(az, abs=1e-3) and res.elevation[k] == pytest.approx(el, abs=1e-3)
        assert res.power[k] == pytest.approx(power) and res.confidence[k] == pytest.approx(conf, abs=1e-5)
        assert res.distance[k] == pytest.approx(dist, abs=1e-5)


@pytest.mark.parametrize("chunk, batch", [(1.0, 2), (5.0, 1)])
def test_windows_follow_the_rule(chunk: float, batch: int) -> None:
    x = _audio(3.5)
    model = patched(tiny_model(), int(round(chunk * 10)))
    res = locate_with_model(model, x, FS, frame_length=1.0, hop_length=0.5, chunk_seconds=chunk, batch_size=batch)
    assert [(r.start, r.end) for r in res] == [(0.5 * k, min(0.5 * k + 1.0, 3.5)) for k in range(6)]
    for r in res:
        lo, hi = int(round(r.start * 10)), int(round(r.end * 10))
        _check(r, lo, hi)
        level = 10 * math.log10(np.mean(np.square(x[:, int(r.start * FS):int(r.end * FS)], dtype=np.float64)))
        assert r.level_dbfs == pytest.approx(level, abs=1e-9)
    # window [1.0, 2.0): the dog moves from track 0 (az 30) to track 2 (az 40): one source at az 35
    (r,) = [r for r in res if r.start == 1.0]
    assert r.label[0] == "dog" and r.azimuth[0] == pytest.approx(35.0, abs=1e-3) and len(r.label) == 2
    # window [3.0, 3.5): nothing active; the strongest candidate (bell at az 100, activity 0.2) is rejected
    res = locate_with_model(patched(tiny_model(), int(round(chunk * 10))), x, FS, frame_length=0.5, chunk_seconds=chunk,
                            batch_size=batch)
    assert len(res) == 7
    for r in res[:-1]:
        _check(r, int(round(r.start * 10)), int(round(r.end * 10)))
    last = res[-1]
    assert last.window_decision == "below-confidence" and last.label == ("bell",)
    assert last.azimuth[0] == pytest.approx(100.0, abs=1e-3) and last.confidence[0] == pytest.approx(0.2, abs=1e-6)
    assert last.to_dict()["sources"] == [] and last.to_dict()["rejected"][0]["class"] == "bell"


def test_whole_file_and_padding() -> None:
    """Whole file (2.95 s: 30 label frames, the last chunk padded): one result over frames 0-29."""
    x = _audio(2.95)
    (r,) = locate_with_model(patched(tiny_model(), 10), x, FS, chunk_seconds=1.0, batch_size=2)
    assert (r.start, r.end) == (0.0, pytest.approx(2.95))
    _check(r, 0, 30)
    assert r.label == ("dog", "bell")  # ordered by summed activity: 30 x 0.9 > 22 x 0.7


def test_options_level_gate_and_cap() -> None:
    x = _audio(3.5)
    (r,) = locate_with_model(patched(tiny_model(), 50), x, FS, min_level_dbfs=0.0)
    assert r.window_decision == "below-level" and set(r.decision) == {"below-level"}
    (r,) = locate_with_model(patched(tiny_model(), 50), x, FS, max_sources=1)
    assert r.label == ("dog",)
    (r,) = locate_with_model(patched(tiny_model(), 50), x, FS, threshold=0.8)  # the bell (0.7) is not active
    assert r.label == ("dog",)
    for bad in ({"threshold": 1.0}, {"frame_length": 0.05}, {"chunk_seconds": 0.25}, {"hop_length": 1.0}):
        with pytest.raises(ValueError):
            ModelOptions(label="m", **bad)
    with pytest.raises(ValueError, match="cannot localize on its own"):
        locate_with_model(tiny_model(head="sed"), x, FS)


def test_streamed_files_match_one_read(tmp_path: Path) -> None:
    """Small read blocks (not multiples of a chunk) give what one read gives; wrong audio is refused."""
    x = _audio(3.5, seed=1)
    path = tmp_path / "a.wav"
    sf.write(str(path), x.T, FS, subtype="FLOAT")
    model = tiny_model()
    one = locate_with_model(model, x, FS, frame_length=0.7, hop_length=0.3, label="m")
    evs = list(iter_localize_model([path], model, label="m", frame_length=0.7, hop_length=0.3, block_frames=7001))
    got = [e.result for e in evs if e.kind == "result"]
    assert len(got) == len(one) > 5
    for a, b in zip(got, one):
        da, db = a.to_dict(), b.to_dict()
        assert da.pop("level_dbfs") == pytest.approx(db.pop("level_dbfs"), abs=1e-9)  # summation order
        assert da == db
    bad = tmp_path / "b.wav"
    sf.write(str(bad), x[:, :8000].T, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match="trained for 16000 Hz"):
        iter_localize_model([bad], model, label="m")
    with pytest.raises(ValueError, match="trained for array 'circular4'"):
        iter_localize_model([path], model, label="m", array=MicArray.preset("tetra"))


@pytest.mark.parametrize("encoder", ["crnn", "resnet-conformer"])
@pytest.mark.parametrize("head", ["accdoa", "multi-accdoa", "multi-accddoa"])
def test_inference_form_gives_the_reference_results(encoder: str, head: str) -> None:
    """The runner's network (the model's inference form, BatchNorm folded) against the model itself."""
    model = active_model(encoder, head)
    x = _audio(3.5, seed=2)
    runner = ModelRunner(model, ModelOptions(label="m", frame_length=0.5, chunk_seconds=1.0, batch_size=2))
    assert runner.net is not runner.model
    fast = [r for kind, r in locate_stream(runner, iter([x])) if kind == "result"]
    runner.net = runner.model  # the reference path: the unfused model
    ref = [r for kind, r in locate_stream(runner, iter([x])) if kind == "result"]
    assert len(fast) == len(ref) == 7
    assert sum(len(r.label or ()) for r in ref) >= 7 and any("bell" in (r.label or ()) for r in ref)
    for a, b in zip(fast, ref):
        assert (a.label, a.decision, a.level_dbfs) == (b.label, b.decision, b.level_dbfs)
        for key in ("azimuth", "elevation", "confidence", "power"):
            np.testing.assert_allclose(getattr(a, key), getattr(b, key), atol=1e-4, err_msg=key)
        if head == "multi-accddoa":
            np.testing.assert_allclose(a.distance, b.distance, atol=1e-5)
