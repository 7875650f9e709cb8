"""``soundloc features DATASET --feature mic --out DIR``: cache spatial features of a dataset on disk.

Writes one ``.npy`` per recording (``(feature_channels, frames, bins)`` float32), ``features.json``
(the feature settings, audio and clip list) and ``normalizer.json`` (per-channel mean / std of
the training clips, or of --fit-split; a run without training clips keeps the existing one).
STARSS23/TAU folders: --audio-format auto reads foa_dev for foa / intensity, mic_dev for mic /
gcc-phat / salsa-lite (and logmel); soundloc datasets: the feature must fit the dataset's array.
Audio is resampled to the preset's rate. A rerun skips finished clips.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "features",
        help="cache log-mel / GCC-PHAT / SALSA-lite / intensity features of a dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="soundloc dataset or STARSS23/TAU folder")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--feature", default="mic", metavar="NAME", help="mic, foa, salsa-lite, logmel, gcc-phat or intensity (default: mic)")
    p.add_argument("--preset", default="dcase", metavar="NAME", help="feature settings: dcase or mcsimclr (default: dcase)")
    p.add_argument("--split", default=None, metavar="NAME", help="only this split (train, val, test, a DCASE folder or fold)")
    p.add_argument("--fit-split", default=None, metavar="NAME",
                   help="split the normalizer is fitted on (default: train; without train clips the existing normalizer is kept)")
    p.add_argument("--per-bin", action="store_true", help="normalise per channel and bin (default: per channel)")
    p.add_argument("--audio-format", default="auto", choices=("auto", "mic", "foa"),
                   help="DCASE folders: which audio (auto: what the feature needs; mic for logmel)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--overwrite", action="store_true", help="replace a cache of different features in DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from soundloc.features.cache import cache_features

    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit="clip", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        res = cache_features(
            args.dataset, args.out, feature=args.feature, preset=args.preset, split=args.split,
            audio_format=args.audio_format, per_bin=args.per_bin, fit_split=args.fit_split,
            device=args.device, overwrite=args.overwrite, progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()
    if res.audio_note:
        print(res.audio_note)
    print(f"{args.feature} features of {res.audio_format} audio ({res.channels} channels x {res.bins} bins): "
          f"{res.computed} clips computed, {res.skipped} already cached, in {res.out}")
    if res.normalizer_kept:
        print(f"no training clips selected: kept the existing normalizer {res.normalizer}")
    else:
        print(f"normalizer fitted on {res.fit_clips} clips of split '{res.fit_split}': {res.normalizer}")
    return 0
