"""Benchmark: `soundloc localize` on many files, batched, vs the per-file alternatives.

Three ways to localize the same N recordings (4-channel circular4, 16 kHz, 1 s white-noise
plane waves), run side by side in this one process:

* batch      -- ``soundloc localize DIR`` (in-process ``main``): localizers built once, equal-length
                clips stacked into ``locate_batch`` calls;
* loop       -- a Python loop doing what a naive script does per file: read, build the localizer,
                ``locate`` (no process start-up);
* reuse      -- the same loop with one localizer built up front and reused (per-file ``locate``);
* subprocess -- one ``soundloc localize FILE`` process per file (interpreter + torch start-up
                every time), timed on the first ``--subprocess-files`` files and reported per file.

Usage:  python benchmarks/localize_cli.py [--files 300] [--method srp-phat] [--subprocess-files 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def make_files(root: Path, n: int, fs: int = 16000, seconds: float = 1.0) -> list[tuple[Path, float]]:
    from soundloc.geometry import MicArray, unit_vectors_deg

    arr = MicArray.preset("circular4")
    rng = np.random.default_rng(0)
    m = int(fs * seconds)
    f = np.fft.rfftfreq(m, 1 / fs)
    out = []
    for i in range(n):
        az = float(rng.uniform(-180, 180))
        tau = arr.delays(unit_vectors_deg(az, 0.0))[0]
        s = np.fft.rfft(rng.standard_normal(m))
        x = np.fft.irfft(s[None] * np.exp(-2j * np.pi * f[None] * tau[:, None]), n=m)
        x += 0.01 * rng.standard_normal(x.shape)
        p = root / f"rec_{i:04d}.wav"
        sf.write(str(p), (0.3 * x / np.abs(x).max()).T, fs, subtype="FLOAT")
        out.append((p, az))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--method", default="srp-phat")
    ap.add_argument("--subprocess-files", type=int, default=5)
    a = ap.parse_args()

    from soundloc.audio import read_audio
    from soundloc.cli import main as cli_main
    from soundloc.doa import get_localizer
    from soundloc.geometry import MicArray
    from soundloc.metrics.doa import azimuth_error_deg

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = make_files(root, a.files)
        truth = {str(p): az for p, az in files}

        # warm-up (imports, torch kernels) so neither side pays one-off costs
        with contextlib.redirect_stdout(io.StringIO()):
            cli_main(["localize", str(files[0][0]), "--array", "circular4", "--method", a.method])

        buf = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(["localize", str(root), "--array", "circular4", "--method", a.method, "--format", "json"])
        t_batch = time.perf_counter() - t0
        assert code == 0
        res = json.loads(buf.getvalue())
        err_batch = max(azimuth_error_deg(r["sources"][0]["azimuth"], truth[r["file"]]) for r in res)

        arr = MicArray.preset("circular4")
        t0 = time.perf_counter()
        loop_az = {}
        for p, _ in files:
            x, fs = read_audio(p, channels=4)
            loop_az[str(p)] = float(get_localizer(a.method, arr, fs).locate(x).azimuth[0])
        t_loop = time.perf_counter() - t0
        same = all(abs(loop_az[r["file"]] - r["sources"][0]["azimuth"]) < 1e-9 for r in res)

        t0 = time.perf_counter()
        loc = get_localizer(a.method, arr, 16000)
        for p, _ in files:
            x, fs = read_audio(p, channels=4)
            loc.locate(x)
        t_reuse = time.perf_counter() - t0

        k = min(a.subprocess_files, len(files))
        exe = str(Path(sys.executable).with_name("soundloc"))
        t0 = time.perf_counter()
        for p, _ in files[:k]:
            subprocess.run([exe, "localize", str(p), "--array", "circular4", "--method", a.method],
                           check=True, capture_output=True)
        t_sub = (time.perf_counter() - t0) / k

    n = len(files)
    print(f"{n} files, 4 ch, 16 kHz, 1 s, method {a.method}")
    print(f"  batch (soundloc localize DIR):      {t_batch:7.2f} s  = {1e3 * t_batch / n:7.1f} ms/file  "
          f"(max error {err_batch:.1f} deg)")
    print(f"  loop (read + build + locate):       {t_loop:7.2f} s  = {1e3 * t_loop / n:7.1f} ms/file  "
          f"(same azimuths as batch: {same})")
    print(f"  reuse (read + locate, 1 build):     {t_reuse:7.2f} s  = {1e3 * t_reuse / n:7.1f} ms/file")
    print(f"  subprocess per file ({k} timed):      {'':7s}    {1e3 * t_sub:7.1f} ms/file")
    print(f"  ratio loop / batch:       {t_loop / t_batch:6.1f}x")
    print(f"  ratio reuse / batch:      {t_reuse / t_batch:6.1f}x")
    print(f"  ratio subprocess / batch: {t_sub * n / t_batch:6.1f}x")


if __name__ == "__main__":
    main()
