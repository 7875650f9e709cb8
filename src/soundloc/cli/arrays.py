"""``soundloc arrays``: list the named microphone array presets."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("arrays", help="list microphone array presets", description=__doc__)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from soundloc.geometry import BAFFLED_PRESETS, PRESETS, MicArray

    rows = []
    named = [(n, d) for n, (_, d) in PRESETS.items()] + [(n, d) for n, (_, _, d) in BAFFLED_PRESETS.items()]
    for name, desc in named:
        arr = MicArray.preset(name)
        rows.append({"name": name, "mics": arr.num_mics, "aperture_cm": round(100 * arr.aperture, 2),
                     "planar": arr.is_planar, "description": desc, "positions": arr.positions.round(5).tolist()})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<12}{'mics':>5}{'aperture':>11}  {'3-D':<4} description")
    for r in rows:
        print(f"{r['name']:<12}{r['mics']:>5}{r['aperture_cm']:>8.1f} cm  {'no' if r['planar'] else 'yes':<4} {r['description']}")
    print("\nAny other array: a JSON file {\"name\": ..., \"positions\": [[x, y, z], ...]} in metres (x front, y left, z up).")
    return 0
