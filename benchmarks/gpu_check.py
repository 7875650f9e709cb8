"""GPU paths against the CPU, in one short run (for a machine with a CUDA GPU).

Checks, each printed as ``PASS``/``FAIL`` with its numbers (exit 1 when any fails):

1. every feature stack on CUDA equals the CPU (max abs difference);
2. every localizer on CUDA finds the CPU's directions (SRP-PHAT, MUSIC, NormMUSIC, GCC-PHAT on
   ``tetra``, SRP-PHAT and ``iv`` on FOA);
3. SELD training steps on CUDA: float32 and bfloat16 autocast from the same weights and batch
   (losses close, finite gradients, loss falls over a few steps on a repeated batch), the
   checkpoint written on CUDA resumes on the CPU;
4. a saved model gives the same outputs on CUDA and CPU.

    PYTHONPATH=src python benchmarks/gpu_check.py [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

FAILED: list[str] = []


def check(name: str, fn: Callable[[], str]) -> None:
    t0 = time.perf_counter()
    try:
        msg = fn()
        print(f"PASS {name}: {msg} ({time.perf_counter() - t0:.1f} s)", flush=True)
    except Exception as e:  # report and go on: one run should show every failure
        FAILED.append(name)
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc()


def features(dev: str) -> str:
    from soundloc.features import get_feature
    from soundloc.features.stacks import FEATURES

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 24000, generator=g)
    worst = {}
    for name in FEATURES:
        f = get_feature(name)
        a, b = f(x.to(dev)).cpu(), f(x)
        worst[name] = float((a - b).abs().max())
        if not worst[name] < 2e-2:
            raise AssertionError(f"{name}: max |cuda - cpu| = {worst[name]:.3g}")
    return ", ".join(f"{k} {v:.1e}" for k, v in worst.items())


def localizers(dev: str) -> str:
    from soundloc.ambisonics import FoaFormat
    from soundloc.doa import get_localizer
    from soundloc.doa.batch import resolve_grid
    from soundloc.geometry import SPEED_OF_SOUND, MicArray, unit_vectors_deg

    rng = np.random.default_rng(0)
    out = []
    for array, methods in ((MicArray.preset("tetra"), ("srp-phat", "music", "normmusic", "gcc-phat")),
                           (FoaFormat(), ("srp-phat", "iv"))):
        fs = 24000
        # a broadband plane wave from azimuth 60, elevation 20 (free field) plus a little noise
        d = unit_vectors_deg(60.0, 20.0)
        s = rng.standard_normal(fs)
        if isinstance(array, FoaFormat):
            gains = np.array([1.0, d[1], d[2], d[0]])
            x = gains[:, None] * s[None]
        else:
            delays = -(array.positions @ d) / SPEED_OF_SOUND
            n = len(s)
            f = np.fft.rfftfreq(n, 1 / fs)
            S = np.fft.rfft(s)
            x = np.stack([np.fft.irfft(S * np.exp(-2j * np.pi * f * t), n) for t in delays])
        x = (x + 0.01 * rng.standard_normal(x.shape)).astype(np.float32)
        for m in methods:
            grid = resolve_grid("3d", array)
            a = get_localizer(m, array, fs, grid=grid, device=dev).locate(x)
            b = get_localizer(m, array, fs, grid=grid).locate(x)
            # the same peak, up to one grid step (float noise may tip a flat maximum to its neighbour)
            if abs((a.azimuth[0] - b.azimuth[0] + 180) % 360 - 180) > 4.0 or abs(a.elevation[0] - b.elevation[0]) > 4.0:
                raise AssertionError(f"{m} on {getattr(array, 'name', 'foa')}: cuda {a.azimuth[0]:.1f}/{a.elevation[0]:.1f}"
                                     f" vs cpu {b.azimuth[0]:.1f}/{b.elevation[0]:.1f}")
            out.append(f"{m}@{getattr(array, 'name', 'foa')} {a.azimuth[0]:.0f}/{a.elevation[0]:.0f}")
    return ", ".join(out)


def training(dev: str) -> str:
    from soundloc.scenes import generate_dataset, get_preset
    from soundloc.train import TrainConfig, Trainer, WindowSource, build_for, validation_dataset

    tmp = Path(tempfile.mkdtemp())
    data = tmp / "data"
    generate_dataset(data, get_preset("tiny").replace(num_clips=8), seed=0)
    msgs = []
    losses = {}
    for amp in (False, True):
        cfg = TrainConfig(epochs=1, batch_size=4, clip_seconds=1.0, patience=None, amp=amp, dropout=0.0,
                          spec_augment=False, channel_swap=False, lr=3e-3)
        src = WindowSource.from_folder(str(data), "train", clip_seconds=1.0, max_tracks=3, seed=0)
        ds = src.dataset
        tr = Trainer(cfg, build_for(cfg, ds.array, ds.fs, ds.class_names), tmp / f"run{amp}", source=src,
                     val=validation_dataset(str(data), "val", clip_seconds=1.0, max_tracks=3), device=dev)
        tr.fit_normalizer()
        batch = next(iter(src.batches(0, batch_size=4, steps=1)))
        tr.total_steps = 1000
        ls = [tr.train_step(batch) for _ in range(12)]
        grads = [p.grad for p in tr.model.parameters() if p.grad is not None]
        if not all(torch.isfinite(g).all() for g in grads):
            raise AssertionError(f"non-finite gradients (amp={amp})")
        if not ls[-1] < ls[0]:
            raise AssertionError(f"loss did not fall on a repeated batch (amp={amp}): {ls}")
        losses[amp] = ls
        msgs.append(f"amp={amp}: loss {ls[0]:.4f} -> {ls[-1]:.4f}")
    if abs(losses[True][0] - losses[False][0]) > 0.05 * abs(losses[False][0]) + 1e-3:
        raise AssertionError(f"first-step loss bf16 {losses[True][0]:.5f} vs fp32 {losses[False][0]:.5f}")
    # a whole short run on the GPU, then resumed on the CPU from its checkpoint
    cfg = TrainConfig(epochs=2, batch_size=4, clip_seconds=1.0, patience=None)
    src = WindowSource.from_folder(str(data), "train", clip_seconds=1.0, max_tracks=3, seed=0)
    ds = src.dataset
    run = tmp / "resume"
    Trainer(cfg, build_for(cfg, ds.array, ds.fs, ds.class_names), run, source=src, device=dev).fit(max_steps=1)
    tr = Trainer(cfg, build_for(cfg, ds.array, ds.fs, ds.class_names), run, source=src, device="cpu")
    if not tr.resume():
        raise AssertionError("no checkpoint to resume on the CPU")
    tr.fit()
    msgs.append(f"GPU checkpoint resumed on CPU at step 1 -> step {tr.state.step}")
    return "; ".join(msgs)


def saved_model(dev: str) -> str:
    from soundloc.geometry import MicArray
    from soundloc.models import InputSpec, SeldConfig, build_model, load_model, save_model

    spec = InputSpec.create("mic", MicArray.preset("tetra"), class_names=("a", "b", "c"))
    torch.manual_seed(0)
    m = build_model(SeldConfig.for_input(spec, encoder="crnn", head="multi-accddoa", normalize=True)).eval()
    tmp = Path(tempfile.mkdtemp())
    save_model(m, tmp / "m")
    c, f = spec.feature_shape()
    x = torch.randn(2, c, 50, f)
    torch.set_grad_enabled(False)
    a = load_model(tmp / "m", device=dev)(x.to(dev)).cpu()
    b = load_model(tmp / "m")(x)
    diff = float((a - b).abs().max())
    if not diff < 1e-3:
        raise AssertionError(f"max |cuda - cpu| output {diff:.3g}")
    return f"max |cuda - cpu| output {diff:.1e}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    dev = ap.parse_args().device
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            print("no CUDA GPU here", file=sys.stderr)
            return 2
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    steps: tuple[tuple[str, Callable[[str], str]], ...] = (
        ("features", features), ("localizers", localizers), ("training", training), ("saved model", saved_model))
    for name, fn in steps:
        check(name, lambda: fn(dev))  # noqa: B023 (called at once)
    print(f"{len(FAILED)} failed: {', '.join(FAILED)}" if FAILED else "all GPU checks passed", flush=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
