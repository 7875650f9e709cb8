"""Built-in corpus and audio I/O timings.

Measures, in one process:
  * rendering the default built-in corpus (16 classes x 8 clips) into an empty cache folder,
    reopening it from disk (no rendering), and a repeated call (in-process memo);
  * Corpus.load of every clip at 16 kHz: first pass (decode + soxr) vs second pass (LRU cache);
  * soundloc.audio.read_audio (decode + validation + resampling) vs the bare peer
    soundfile.read + soxr.resample on the same multichannel file, printing the ratio.

    python benchmarks/corpus.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from soundloc.audio import read_audio, write_audio
from soundloc.corpus import builtin as builtin_mod
from soundloc.corpus import builtin_corpus


def _best(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        cold = []
        for r in range(args.repeats):
            builtin_mod._MEMO.clear()
            t0 = time.perf_counter()
            c = builtin_corpus(cache_dir=Path(tmp) / f"cold{r}")
            cold.append(time.perf_counter() - t0)
        print(f"render default corpus ({len(c.class_names)} classes x 8 = {len(c)} clips), cold: "
              f"best {min(cold):.2f} s, all {', '.join(f'{t:.2f}' for t in cold)} s")

        def reopen():
            builtin_mod._MEMO.clear()
            return builtin_corpus(cache_dir=Path(tmp) / "cold0")

        t_disk, c = _best(reopen, args.repeats)
        t_memo, _ = _best(lambda: builtin_corpus(cache_dir=Path(tmp) / "cold0"), args.repeats)
        print(f"reopen from disk cache: {1000 * t_disk:.1f} ms  (cold/reopen = {min(cold) / t_disk:.0f}x)")
        print(f"repeated call (memo): {1000 * t_memo:.2f} ms")

        t0 = time.perf_counter()
        total = sum(c.load(clip, 16000).size for clip in c.clips)
        t_first = time.perf_counter() - t0
        t_second, _ = _best(lambda: [c.load(clip, 16000) for clip in c.clips], args.repeats)
        print(f"load all {len(c)} clips at 16 kHz ({total / 16000:.0f} s of audio): first {1000 * t_first:.0f} ms, "
              f"cached {1000 * t_second:.1f} ms ({t_first / t_second:.0f}x)")

        # read_audio vs bare soundfile + soxr
        fs_in, fs_out, n = 48000, 16000, 48000 * 10
        rng = np.random.default_rng(0)
        x = (0.1 * rng.standard_normal((4, n))).astype(np.float32)
        for name, sub in (("rec.wav", "FLOAT"), ("rec.flac", "PCM_24")):
            p = Path(tmp) / name
            write_audio(p, x, fs_in, subtype=sub)

            def ours():
                return read_audio(p, fs=fs_out, channels=4)[0]

            def peer():
                d, fs = sf.read(str(p), dtype="float32", always_2d=True)
                return soxr.resample(d, fs, fs_out, quality="HQ").T

            t_ours, a = _best(ours, args.repeats)
            t_peer, b = _best(peer, args.repeats)
            assert np.allclose(a, b, atol=1e-6)
            t_ours_native, _ = _best(lambda: read_audio(p, channels=4), args.repeats)
            t_peer_native, _ = _best(lambda: sf.read(str(p), dtype="float32", always_2d=True), args.repeats)
            print(f"{name} 4 ch x 10 s @48k -> 16k: read_audio {1000 * t_ours:.1f} ms, "
                  f"soundfile+soxr {1000 * t_peer:.1f} ms, ratio {t_ours / t_peer:.2f}; "
                  f"no resampling: {1000 * t_ours_native:.1f} vs {1000 * t_peer_native:.1f} ms, "
                  f"ratio {t_ours_native / t_peer_native:.2f}")


if __name__ == "__main__":
    main()
