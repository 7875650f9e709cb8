"""Long recordings: peak memory and time, whole-file read (the old path) vs block-by-block streaming.

For 4-channel 16 kHz recordings of 1 minute, 1 hour and 10 hours (16-bit RF64 WAV written to a
temp folder on the fly: a plane wave of white noise from 60 degrees, one minute repeated) it runs,
each case in its own subprocess:

  * ``old``:    ``read_audio`` of the whole file + ``Localizer.locate_frames(frame_length=1)``
                (what ``soundloc localize --frame-length 1`` did before reading in blocks);
  * ``stream``: ``soundloc.doa.batch.iter_localize(frame_length=1)`` (block reader + windows,
                what ``soundloc localize --frame-length 1`` does now);
  * ``whole``:  ``iter_localize`` without windows (the whole file through the frame-sum
                accumulator; the old whole-file path needed ~6 GB per hour of audio).

Peak memory is ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` read by a small per-case
wrapper process around the case (so cases do not see each other's peaks). Throughput is audio
seconds per wall-clock second (SRP-PHAT, CPU). The 10-hour file needs 4.6 GB of disk; it is
skipped with a message when the temp folder has less than 6 GB free. ``old`` is skipped above
``--old-max-hours`` (default 1: at 10 h it needs about 2.5 GB of memory for the samples alone).

    python benchmarks/long_file.py [--hours 0.0167,1,10] [--modes old,stream,whole] [--old-max-hours 1] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

FS = 16000
MICS = 4
HERE = Path(__file__).resolve()


def make_file(path: Path, seconds: int, *, array: str = "circular4", fs: int = FS, elevation: float = 0.0,
              piece_seconds: int = 60, noise: float = 0.05) -> None:
    """16-bit WAV (RF64) of ``seconds``: a plane wave of noise from azimuth 60 degrees (``elevation``)
    at the ``array`` preset in white noise (``noise`` x its std), one ``piece_seconds`` stretch repeated."""
    from soundloc.geometry import MicArray, unit_vectors_deg

    arr = MicArray.preset(array)
    n = piece_seconds * fs
    rng = np.random.default_rng(0)
    f = np.fft.rfftfreq(n, 1 / fs)
    tau = arr.delays(unit_vectors_deg(60.0, elevation))[0]
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(-2j * np.pi * f * tau[:, None]), n=n)
    x += noise * rng.standard_normal(x.shape)
    piece = (0.3 * x / np.abs(x).max()).T.astype(np.float32)
    # RF64: a plain RIFF WAV cannot hold more than 4 GiB (the 10-hour file is 4.3 GiB)
    with sf.SoundFile(str(path), "w", fs, arr.num_mics, subtype="PCM_16", format="RF64") as out:
        left = seconds * fs
        while left > 0:
            k = min(left, n)
            out.write(piece[:k])
            left -= k


def run_case(mode: str, path: str) -> dict:
    """One case in this process: returns counts and seconds (memory is measured by the wrapper)."""
    from soundloc.audio import read_audio
    from soundloc.doa import get_localizer
    from soundloc.doa.batch import iter_localize
    from soundloc.geometry import MicArray

    arr = MicArray.preset("circular4")
    t0 = time.perf_counter()  # imports (torch) excluded; building the localizer included
    if mode == "old":
        x, fs = read_audio(path, channels=MICS)
        res = get_localizer("srp-phat", arr, fs).locate_frames(x, 1, frame_length=1.0)
        n, az = len(res), float(res[0].azimuth[0])
    else:
        n, az = 0, float("nan")
        kw = {"frame_length": 1.0} if mode == "stream" else {}
        for ev in iter_localize([Path(path)], arr, ["srp-phat"], **kw):
            if ev.kind != "result" or ev.result is None:
                raise RuntimeError(f"{mode}: {ev.kind} {ev.message}")
            if n == 0:
                az = float(ev.result.azimuth[0])
            n += 1
    return {"results": n, "seconds": time.perf_counter() - t0, "azimuth": az}


def measure(mode: str, path: str) -> dict:
    """Run the case in a child process; report its result and peak RSS (MiB)."""
    p = subprocess.run([sys.executable, str(HERE), "--child", mode, path], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", default="0.0166667,1,10", help="comma-separated durations in hours")
    ap.add_argument("--old-max-hours", type=float, default=1.0, help="skip the old path above this duration")
    ap.add_argument("--modes", default="old,stream,whole", help="comma-separated cases to run")
    ap.add_argument("--dir", default=None, help="folder for the temporary recordings (default: the system temp)")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_case(*args.child)))
        return
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return

    hours = [float(h) for h in args.hours.split(",")]
    root = Path(tempfile.mkdtemp(prefix="soundloc_long_", dir=args.dir))
    print(f"{'duration':>9} {'mode':>7} {'peak MiB':>9} {'time s':>8} {'audio s/s':>10} {'windows':>8} {'az':>6}")
    try:
        for h in hours:
            seconds = int(round(h * 3600))
            need = seconds * FS * MICS * 2 + 2**30
            free = shutil.disk_usage(root).free
            label = f"{seconds // 60} min" if seconds < 3600 else f"{seconds / 3600:g} h"
            if free < need:
                print(f"{label:>9} skipped: needs {need / 2**30:.1f} GiB of disk in {root}, {free / 2**30:.1f} GiB free")
                continue
            f = root / f"rec_{seconds}s.wav"
            t0 = time.perf_counter()
            make_file(f, seconds)
            print(f"{label:>9} (wrote {f.stat().st_size / 2**30:.2f} GiB in {time.perf_counter() - t0:.0f} s)", flush=True)
            for mode in args.modes.split(","):
                if mode == "old" and h > args.old_max_hours:
                    print(f"{label:>9} {mode:>7} skipped (above --old-max-hours {args.old_max_hours:g})", flush=True)
                    continue
                p = subprocess.run([sys.executable, str(HERE), "--measure", mode, str(f)], capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"{label:>9} {mode:>7} failed: {p.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                r = json.loads(p.stdout.strip().splitlines()[-1])
                want = 1 if mode == "whole" else seconds
                bad = "" if r["results"] == want else f"  WRONG: expected {want} results"
                print(f"{label:>9} {mode:>7} {r['peak_mib']:9.0f} {r['seconds']:8.1f} {seconds / r['seconds']:10.0f} "
                      f"{r['results']:8d} {r['azimuth']:6.1f}{bad}", flush=True)
            f.unlink()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
