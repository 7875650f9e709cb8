"""``soundloc score REF PRED``: DCASE SELD scores of predicted labels against reference labels.

REF and PRED are each a DCASE label CSV or a folder of them (searched recursively, matched by file
name); a folder is scored as one set, as the official ``get_SELD_Results`` does. Label files have
5, 6 or 7 columns: ``frame,class,track,azimuth,elevation[,distance]`` (100 ms frames, degrees) or
the baseline's Cartesian ``frame,class,track,x,y,z,distance``.

Metrics (reproducing the official scoring code, quirks included):
  dcase2023  segment-based ER_20, F_20, LE_CD, LR_CD and the SELD score
  dcase2024  frame-wise F_20/1.0, DOAE, DistE, RDE (with distance), ER, LR and the SELD score

Scores are fractions (not percent), angular errors in degrees, distance errors in metres.
``--format json`` prints one object with the metric keys, ``"classwise"`` (a list per key, one value
per class; null where undefined) and, with ``--per-file``, ``"files"``: each file scored alone.

Distances: STARSS23 2024 reference metadata are in centimetres, the DCASE2024 baseline's
predictions in metres (``--ref-distance-unit`` / ``--pred-distance-unit``; they apply to the
distance column of 7-column files too, as the official ``cm2m``). A distance of 0 is 0 m: the
DCASE2023 baseline's all-zero distances score as 0 m under dcase2024, as in the official code.

Exit codes: 0 scored; 2 bad option, unmatched files, malformed rows or a class out of range.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from soundloc.cli._text import align_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "score",
        help="DCASE SELD scores (dcase2023, dcase2024) of predicted labels against references",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ref", metavar="REF", help="reference label CSV or folder of CSVs")
    p.add_argument("pred", metavar="PRED", help="prediction label CSV or folder of CSVs (same file names)")
    p.add_argument("--metric", choices=("dcase2023", "dcase2024"), default="dcase2023",
                   help="scoring (default dcase2023)")
    p.add_argument("--average", choices=("macro", "micro"), default="macro",
                   help="class-wise (macro, default) or pooled (micro) averaging")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("--per-file", action="store_true", help="also score each file alone")
    p.add_argument("--num-classes", type=int, default=13, metavar="C", help="number of classes (default 13)")
    p.add_argument("--doa-threshold", type=float, default=20.0, metavar="DEG",
                   help="angular threshold for a true positive (default 20)")
    p.add_argument("--dist-threshold", type=float, default=math.inf, metavar="M",
                   help="dcase2024: absolute distance error threshold in metres (default inf)")
    p.add_argument("--reldist-threshold", type=float, default=1.0, metavar="R",
                   help="dcase2024: relative distance error threshold (default 1.0)")
    p.add_argument("--label-hop", type=float, default=0.1, metavar="S",
                   help="dcase2023: label frame length in seconds (default 0.1)")
    p.add_argument("--segment", type=float, default=1.0, metavar="S",
                   help="dcase2023: segment length in seconds (default 1.0)")
    p.add_argument("--ref-distance-unit", choices=("cm", "m"), default="cm",
                   help="unit of the reference files' distance column (default cm, as STARSS23)")
    p.add_argument("--pred-distance-unit", choices=("cm", "m"), default="m",
                   help="unit of the prediction files' distance column (default m, as the baseline)")
    p.set_defaults(func=run)
    return p


def _fmt(x: float | None, key: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if key in ("LE", "DOAE"):
        return f"{x:.2f}"
    return f"{x:.4f}"


def format_report(scores: dict[str, Any], keys: tuple[str, ...], title: str) -> str:
    """Aligned text: the overall scores, the class-wise table and, if present, one row per file."""
    lines = [title, align_table(list(keys), [[_fmt(scores[k], k) for k in keys]]), "", "class-wise:"]
    cw = scores["classwise"]
    rows = [[str(c)] + [_fmt(cw[k][c], k) for k in keys if k != "ER"] for c in range(len(cw["F"]))]
    lines.append(align_table(["class"] + [k for k in keys if k != "ER"], rows))
    files = scores.get("files")
    if files:
        lines += ["", "per file:"]
        rows = [[name] + [_fmt(s[k], k) for k in keys] for name, s in files.items()]
        lines.append(align_table(["file", *keys], rows, left=(0,)))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from soundloc.metrics.seld import score_paths

    kwargs: dict[str, Any] = {"num_classes": args.num_classes, "doa_threshold": args.doa_threshold}
    if args.metric == "dcase2023":
        kwargs.update(label_hop_s=args.label_hop, segment_s=args.segment)
    else:
        kwargs.update(dist_threshold=args.dist_threshold, reldist_threshold=args.reldist_threshold)
    report = score_paths(args.ref, args.pred, metric=args.metric, average=args.average, per_file=args.per_file,
                         ref_distance_unit=args.ref_distance_unit, pred_distance_unit=args.pred_distance_unit,
                         **kwargs)
    scores = report.to_dict()
    if args.format == "json":
        print(json.dumps(scores, indent=2, allow_nan=False))
    else:
        n = len(report.files) if report.files else None
        title = f"{args.metric} ({args.average})" + (f", {n} files scored as one set" if n else "")
        print(format_report(scores, report.total.keys, title))
    return 0
