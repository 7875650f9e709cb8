"""``soundloc inspect DATASET``: what a dataset folder holds: a text summary (clips per split,
events per class, polyphony, azimuth/elevation/distance/RT60/SNR ranges, disk usage) and a PNG of
histograms. Reads soundloc datasets and STARSS23/TAU folders."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("inspect", help="summarise a dataset folder (text + histogram PNG)", description=__doc__)
    p.add_argument("dataset", metavar="DATASET", help="dataset folder (soundloc, STARSS23 or TAU layout)")
    p.add_argument("--split", help="only this split (train, val, test, or a DCASE sub-folder / fold)")
    p.add_argument("--plot", metavar="PNG", help="where to write the figure (default: DATASET/inspect.png)")
    p.add_argument("--no-plot", action="store_true", help="text summary only")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from soundloc.data.summary import format_summary, plot_summary, summarize_dataset

    root = Path(args.dataset)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder '{root}' does not exist")
    s = summarize_dataset(root, split=args.split)
    print(format_summary(s))
    if not args.no_plot:
        out = Path(args.plot) if args.plot else root / "inspect.png"
        plot_summary(s, out)
        print(f"histograms: {out}")
    return 0
