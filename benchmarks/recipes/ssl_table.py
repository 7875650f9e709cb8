"""Collect the probe JSONs of ``benchmarks/recipes/mcsimclr.sh`` into the reproduction table (markdown).

``PROBE/<row>/<protocol>.json`` (written by ``soundloc probe --out PROBE/<row>``) -> one table row per
``<row>`` (random, none, cs, mu, rrc, cd, all, scratch) with accuracy / mean azimuth error for the
linear probe, fine-tuning and the 1 % / 10 % subsets (``scratch``: trained from random weights on
the full set and the same subsets, in the fine-tune and subset columns).

Usage:
    python benchmarks/recipes/ssl_table.py runs/mcsimclr/probe --out runs/mcsimclr/table.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROWS = {"random": "random init", "none": "MC-SimCLR, no augmentation", "cs": "+ ChannelSwap only", "mu": "+ Mixup only",
        "rrc": "+ RandomResizedCrop only", "cd": "+ ChannelDrop only", "all": "MC-SimCLR, all augmentations",
        "scratch": "from scratch (no pretraining)"}
COLUMNS = (("linear probe", ("linear",)), ("fine-tune", ("finetune", "scratch")), ("1 % labels", ("subset_0.01", "scratch_0.01")),
           ("10 % labels", ("subset_0.1", "scratch_0.1")))


def cell(folder: Path, names: tuple[str, ...]) -> str:
    for n in names:
        p = folder / f"{n}.json"
        if p.is_file():
            t = json.loads(p.read_text())["test"]
            return f"{100 * t['accuracy']:.1f} % / {t['azimuth_error_mean']:.1f}°"
    return "-"


def table(probe: Path) -> str:
    lines = ["| encoder | " + " | ".join(f"{c} acc / error" for c, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    rows = [r for r in ROWS if (probe / r).is_dir()] + sorted(p.name for p in probe.iterdir() if p.is_dir() and p.name not in ROWS)
    for r in rows:
        lines.append(f"| {ROWS.get(r, r)} | " + " | ".join(cell(probe / r, names) for _, names in COLUMNS) + " |")
    some = next(probe.glob("*/linear.json"), None)
    if some is not None:
        d = json.loads(some.read_text())
        lines.append("")
        lines.append(f"Test split: {d['test_clips']} clips; training clips {d['train_clips']} (full set); "
                     "azimuth error: mean wrapped absolute error in degrees; model selection on val, per task "
                     "(class: accuracy, direction: azimuth error).")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("probe", type=Path, help="folder with one sub-folder of probe JSONs per row")
    ap.add_argument("--out", type=Path, help="also write the table here")
    a = ap.parse_args()
    if not a.probe.is_dir():
        raise SystemExit(f"error: '{a.probe}' is not a folder")
    text = table(a.probe)
    print(text, end="")
    if a.out is not None:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
