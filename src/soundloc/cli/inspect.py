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
    from soundloc.fileio import check_writable

    root = Path(args.dataset)
    if not root.exists():
        raise FileNotFoundError(f"dataset folder '{root}' does not exist")
    out = None if args.no_plot else Path(args.plot) if args.plot else root / "inspect.png"
    if out is not None:
        check_plot_format(out)
        check_writable(out)  # before reading the dataset: an unwritable --plot fails at once
    s = summarize_dataset(root, split=args.split)
    print(format_summary(s))
    if out is not None:
        plot_summary(s, out)
        print(f"histograms: {out}")
    return 0


def check_plot_format(path: Path) -> None:
    """``ValueError`` unless matplotlib can write ``path``'s suffix (png, pdf, svg, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    kinds = FigureCanvasBase.get_supported_filetypes()
    ext = path.suffix[1:].lower() or "png"  # as plot_summary: no suffix means PNG
    if ext not in kinds:
        raise ValueError(f"--plot {path}: cannot write '{ext}' figures; use one of "
                         f"{', '.join(sorted(kinds))}")
