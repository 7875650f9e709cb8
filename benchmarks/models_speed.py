"""CPU speed of the SELD models: one forward / train step (``--section forward``) and the real-time
factor of ``soundloc localize --model`` on a long recording (``--section localize``).

``forward``: a 60-s clip of tetra ``mic`` features through each encoder (13 classes, multi-ACCDDOA
head), a train step on a batch of 32 x 5 s, the ADPIT loss (numbers for docs/models.md).

``localize``: the library path behind ``soundloc localize FILE --model RUN --frame-length 1``
(:func:`soundloc.train.localize.iter_localize_model`: block reader, features, network, decoding,
1-s windows, results) on a ``--seconds`` long 4-channel 24 kHz 16-bit WAV (white noise with a
plane wave of noise from 60 degrees, written to a temp folder) with a default-size model of
``--encoder`` (random weights, seed 0, saved and loaded with ``soundloc.models.io``; the head's
output bias of track 0, x axis, classes 0-2 is set so that those classes are active in part of
the frames, as a trained model's are, and decoding has work to do). The real-time factor (RTF) is
wall time / audio time. ``--baseline REV`` also times the soundloc of git revision ``REV`` (its
own ``load_model`` and ``iter_localize_model``, :mod:`revision`) in the same process, alternating
in ``--rounds`` rounds, and compares the two outputs (largest differences of the windows'
azimuth, elevation, confidence, power, distance and level; windows whose sources or decisions
differ). ``--profile`` runs one more pass of the current code under ``torch.profiler`` and prints
the time of each stage (``localize.*`` ranges: read, features, model, decode, windows) and the
heaviest operators (profiler overhead included).

Usage:
    PYTHONPATH=src python benchmarks/models_speed.py
    PYTHONPATH=src python benchmarks/models_speed.py --section localize --seconds 600 --threads 1 \\
        --rounds 3 --baseline main --profile
"""

from __future__ import annotations

import argparse
import importlib
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from revision import from_revision

FS = 24000
CLASSES = 13


def forward_section() -> None:
    from soundloc.geometry import MicArray
    from soundloc.losses import AdpitLoss, adpit_targets
    from soundloc.models import InputSpec, SeldConfig, build_model

    spec = InputSpec.create("mic", MicArray.preset("tetra"), class_names=[f"c{i}" for i in range(CLASSES)])
    feat = spec.feature_module()
    x = torch.randn(1, 4, 60 * FS)
    with torch.no_grad():
        t0 = time.perf_counter()
        f = feat(x)
        tf = time.perf_counter() - t0
    print(f"features mic 60 s: {tf:.3f} s, shape {tuple(f.shape)}")
    for enc in ("crnn", "resnet-conformer"):
        m = build_model(SeldConfig.for_input(spec, encoder=enc, head="multi-accddoa")).eval()
        n = sum(p.numel() for p in m.parameters())
        with torch.no_grad():
            m(f[:, :, :501])
            t0 = time.perf_counter()
            y = m(f)
            t = time.perf_counter() - t0
        print(f"{enc}: {n / 1e6:.3f} M params, 60 s clip forward {t:.3f} s (RTF {t / 60:.4f}; "
              f"features+model {(t + tf) / 60:.4f}), out {tuple(y.shape)}")
        m.train()
        opt = torch.optim.Adam(m.parameters())
        xb, tgt = torch.randn(32, 10, 251, 64), torch.zeros(32, 50, 6, 5, 13)
        t0 = time.perf_counter()
        for _ in range(3):
            opt.zero_grad()
            AdpitLoss()(m(xb), tgt).backward()
            opt.step()
        print(f"{enc}: train step batch 32 x 5 s: {(time.perf_counter() - t0) / 3:.3f} s")
    out = torch.randn(32, 50, 3, 4, 13, requires_grad=True)
    tgt = adpit_targets(torch.ones(32, 50, 3, 13), torch.randn(32, 50, 3, 13, 3), torch.rand(32, 50, 3, 13))
    t0 = time.perf_counter()
    for _ in range(20):
        AdpitLoss()(out, tgt).backward()
    print(f"ADPIT loss fwd+bwd (32 x 50 x 13): {(time.perf_counter() - t0) / 20 * 1000:.2f} ms")


def make_recording(path: Path, seconds: int) -> None:
    """``seconds`` of 4-channel 16-bit 24 kHz WAV (tetra): a plane wave of noise from 60 degrees in
    white noise, one 10-s stretch repeated (``long_file.make_file``)."""
    from long_file import make_file

    make_file(path, seconds, array="tetra", fs=FS, elevation=10.0, piece_seconds=10, noise=0.3)


def make_model(path: Path, encoder: str) -> None:
    """A default-size ``encoder`` model (random weights, seed 0) whose classes 0-2 are active at times."""
    from soundloc.geometry import MicArray
    from soundloc.models import InputSpec, SeldConfig, build_model
    from soundloc.models.io import save_model

    torch.manual_seed(0)
    spec = InputSpec.create("mic", MicArray.preset("tetra"), class_names=[f"c{i}" for i in range(CLASSES)])
    m = build_model(SeldConfig.for_input(spec, encoder=encoder, head="multi-accddoa"))
    with torch.no_grad():
        last = m.head.mlp[-1]
        last.bias[0:3] += 0.6  # track 0, x axis (layout track, axis, class), classes 0-2
        last.bias[3 * CLASSES:3 * CLASSES + 3] += 1.0  # track 0, distance axis, classes 0-2
    save_model(m, path)


def _localizer(model_path: Path) -> Any:
    """``run(file) -> list of (kind, record)`` with the ``soundloc`` now importable."""
    io_ = importlib.import_module("soundloc.models.io")
    loc = importlib.import_module("soundloc.train.localize")
    model = io_.load_model(model_path)

    def run(file: Path, **kw: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(ev.kind, ev.result.to_dict() if ev.result is not None else {"message": ev.message})
                for ev in loc.iter_localize_model([file], model, label="model", **kw)]
    return run


def compare(a: list[tuple[str, dict[str, Any]]], b: list[tuple[str, dict[str, Any]]]) -> str:
    """Largest differences between two runs' records (see the module docstring)."""
    if len(a) != len(b):
        return f"different event counts: {len(a)} vs {len(b)}"
    worst: dict[str, float] = {}
    differ = 0
    for (ka, ra), (kb, rb) in zip(a, b):
        sa, sb = ra.get("sources", []), rb.get("sources", [])
        if ka != kb or len(sa) != len(sb) or ra.get("decision") != rb.get("decision") or \
                [s.get("class") for s in sa] != [s.get("class") for s in sb]:
            differ += 1
            continue
        pairs = [(ra, rb, "level_dbfs")] + [(x, y, k) for x, y in zip(sa, sb)
                                            for k in ("azimuth", "elevation", "confidence", "power", "distance")]
        for x, y, k in pairs:
            if x.get(k) is not None and y.get(k) is not None and np.isfinite(x[k]) and np.isfinite(y[k]):
                d = abs(float(x[k]) - float(y[k]))
                if k == "azimuth":
                    d = min(d, 360.0 - d)
                worst[k] = max(worst.get(k, 0.0), d)
    n_src = sum(len(r.get("sources", [])) for _, r in a)
    return (f"{len(a)} windows ({n_src} sources), {differ} differ in sources/decisions; largest differences: "
            + ", ".join(f"{k} {v:.2g}" for k, v in sorted(worst.items())))


def localize_section(a: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav, model = Path(tmp) / "rec.wav", Path(tmp) / "model"
        t0 = time.perf_counter()
        make_recording(wav, a.seconds)
        make_model(model, a.encoder)
        print(f"{a.seconds} s 4-channel 24 kHz recording, default {a.encoder}, multi-ACCDDOA, {CLASSES} classes, "
              f"{a.threads} torch thread(s), frame_length {a.frame_length:g} s (setup {time.perf_counter() - t0:.1f} s)")
        runs: dict[str, Any] = {}
        if a.baseline:
            runs[f"baseline {a.baseline}"] = from_revision(a.baseline, Path(tmp) / "base", lambda: _localizer(model))
        runs["current"] = _localizer(model)
        kw = {"frame_length": a.frame_length}
        outputs = {name: run(wav, **kw) for name, run in runs.items()}  # warm-up, and the outputs compared
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(a.rounds):
            for name, run in runs.items():
                t0 = time.perf_counter()
                run(wav, **kw)
                seconds[name].append(time.perf_counter() - t0)
        for name, ts in seconds.items():
            best, med = min(ts), float(np.median(ts))
            print(f"{name}: {a.seconds} s in {med:.2f} s median of {len(ts)} (best {best:.2f} s): RTF {med / a.seconds:.4f} "
                  f"(best {best / a.seconds:.4f}); an hour in {3600 * med / a.seconds:.0f} s")
        if a.baseline:
            base = f"baseline {a.baseline}"
            ratios = [b / c for b, c in zip(seconds[base], seconds["current"])]
            print(f"speed-up (baseline / current, per round): {', '.join(f'{r:.2f}' for r in ratios)}; "
                  f"median {float(np.median(ratios)):.2f}")
            print(f"outputs: {compare(outputs[base], outputs['current'])}")
        if a.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                runs["current"](wav, **kw)
            _print_profile(prof, a.seconds)


def _print_profile(prof: Any, seconds: float) -> None:
    events = prof.key_averages()
    stages = sorted((e for e in events if e.key.startswith("localize.")), key=lambda e: -e.cpu_time_total)
    print("profile of one pass (CPU ms per minute of audio; profiler overhead included):")
    for e in stages:
        print(f"  {e.key:22s} {e.cpu_time_total / 1e3 * 60 / seconds:8.1f}  ({e.count} calls)")
    print("  heaviest operators (self time):")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:15]:
        print(f"  {e.key:34s} {e.self_cpu_time_total / 1e3 * 60 / seconds:8.1f}  ({e.count} calls)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--section", choices=("forward", "localize"), default="forward")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=600, help="localize: length of the recording")
    ap.add_argument("--encoder", default="crnn", help="localize: crnn or resnet-conformer")
    ap.add_argument("--frame-length", type=float, default=1.0, help="localize: window length in seconds")
    ap.add_argument("--rounds", type=int, default=3, help="localize: timed passes (alternating with --baseline)")
    ap.add_argument("--baseline", metavar="REV", help="localize: also time the soundloc of this git revision")
    ap.add_argument("--profile", action="store_true", help="localize: profile one more pass of the current code")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.section == "forward":
        forward_section()
    else:
        localize_section(a)


if __name__ == "__main__":
    main()
