"""``soundloc models``: the built-in pretrained SELD models (``--model builtin:NAME``).

Lists each model shipped in the package (``soundloc/models/pretrained/``) with its array, sample
rate, features, network, classes, the recipe that trained it and its scores; ``--format json``
prints the index entries. Loading a built-in model checks its weights against the SHA-256
recorded in the index (a modified or corrupt file is refused).
"""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "models", help="list the built-in pretrained models (soundloc localize --model builtin:NAME)",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from soundloc.models.builtin import BUILTIN_PREFIX, PRETRAINED_DIR, pretrained_index

    index = pretrained_index()
    if args.format == "json":
        print(json.dumps({name: info.to_dict() for name, info in index.items()}, indent=2))
        return 0
    if not index:
        print(f"No built-in models are installed (they ship in {PRETRAINED_DIR}); train one with soundloc train "
              "and use it with soundloc localize --model RUN.")
        return 0
    for name, info in index.items():
        print(f"{BUILTIN_PREFIX}{name}: {info.description}")
        print(f"  array {info.array}, {info.fs} Hz, features {info.feature}, {info.encoder} + {info.head}")
        print(f"  classes ({len(info.classes)}): {', '.join(info.classes)}")
        print(f"  recipe: {info.recipe}")
        if info.scores:
            print("  scores: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, (int, float)) else f"{k} {v}"
                                          for k, v in info.scores.items()))
    print(f"\nUse one with: soundloc localize FILE --model {BUILTIN_PREFIX}NAME")
    return 0
