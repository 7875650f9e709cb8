"""Accuracy on the demo's scenes: soundloc's localizers vs pyroomacoustics, side by side.

For seeds 0..N-1, builds the exact recording ``soundloc demo --seed S`` would make (2 sources
from the demo's classes, reverberant room, ISM, white noise; ``make_demo_mixture``), then
localizes 2 sources with every soundloc method and with pyroomacoustics' SRP, MUSIC and
NormMUSIC on the same STFT (nfft 512, hop 256, 300-4000 Hz, 1-degree azimuth grid). A scene
counts as a success for a method when both sources are found within 10 degrees (Hungarian
matching).

Usage:  python benchmarks/demo_accuracy.py [--seeds 30] [--rt60 0.4] [--snr 20] [--classes all|a,b,...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--array", default="circular4")
    ap.add_argument("--rt60", type=float, default=0.4)
    ap.add_argument("--snr", type=float, default=20.0)
    ap.add_argument("--classes", default=None, help="'all' or a comma-separated list (default: the demo's)")
    a = ap.parse_args()

    import pyroomacoustics as pra

    from soundloc.corpus import builtin_corpus
    from soundloc.doa import get_localizer, localizers_for
    from soundloc.features.stft import stft
    from soundloc.geometry import SPEED_OF_SOUND, get_array
    from soundloc.metrics.doa import match_doas
    from soundloc.scenes.demo import DEMO_FS, make_demo_mixture

    array = get_array(a.array)
    corpus = builtin_corpus()
    classes = None
    if a.classes == "all":
        classes = list(corpus.class_names)
    elif a.classes:
        classes = a.classes.split(",")
    fs = DEMO_FS
    pra_names = ("SRP", "MUSIC", "NormMUSIC")
    errors: dict[str, list[float]] = {f"soundloc {m}": [] for m in localizers_for(array)}
    errors.update({f"pyroomacoustics {m}": [] for m in pra_names})
    t0 = time.perf_counter()
    for seed in range(a.seeds):
        demo = make_demo_mixture(array, corpus, seed=seed, rt60=a.rt60, snr_db=a.snr, classes=classes)
        truth = np.stack([demo.scene.azimuth, demo.scene.elevation], axis=1)
        for m in localizers_for(array):
            r = get_localizer(m, array, fs).locate(demo.mixture, 2)
            errors[f"soundloc {m}"].append(match_doas(np.stack([r.azimuth, r.elevation], 1), truth).errors.max())
        X = stft(demo.mixture.astype(np.float64), 512, 256)  # (M, F, T), the STFT our localizers use
        for m in pra_names:
            d = pra.doa.algorithms[m](array.positions[:, :2].T, fs, 512, c=SPEED_OF_SOUND, num_src=2,
                                      azimuth=np.deg2rad(np.arange(360)))
            d.locate_sources(X, freq_range=[300.0, 4000.0])
            est = np.stack([np.rad2deg(d.azimuth_recon), np.zeros(len(d.azimuth_recon))], 1)
            m_res = match_doas(est, truth)
            errors[f"pyroomacoustics {m}"].append(m_res.errors.max() if m_res.misses == 0 else 180.0)
        labels = "+".join(c.label for c in demo.clips)
        print(f"seed {seed:3d} {labels:28s} " + " ".join(f"{k.split()[-1]}={v[-1]:5.1f}" for k, v in errors.items()),
              flush=True)
    print(f"\n{a.seeds} scenes, {a.array}, RT60 {a.rt60:g} s, SNR {a.snr:g} dB, 2 sources "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"{'method':28s} {'both within 10 deg':>19s} {'median of max error':>20s}")
    for k, v in errors.items():
        v = np.asarray(v)
        print(f"{k:28s} {np.mean(v < 10):19.0%} {np.median(v):19.1f}°")


if __name__ == "__main__":
    main()
