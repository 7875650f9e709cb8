"""``soundloc simulate OUT``: generate a labelled multichannel dataset (rooms, RIRs, mixing, DCASE labels).

The dataset is a pure function of the config, the seed and the corpus: rerunning into the same
folder resumes an interrupted run (finished clips are kept) and gives the same files as an
uninterrupted run. Print a preset as YAML with ``--print-config`` to start your own config.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate",
        help="simulate a labelled multichannel dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", metavar="OUT", nargs="?", help="output dataset folder (new, or a previous run's to resume)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="YAML", help="generator config file (see --print-config for the keys)")
    src.add_argument("--preset", metavar="NAME", help="named config: tiny, mcsimclr or dcase")
    p.add_argument("--clips", type=int, metavar="N", help="number of clips (overrides the config's num_clips)")
    p.add_argument("--workers", type=int, default=1, metavar="W", help="worker processes (default: 1)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="dataset seed (default: 0)")
    p.add_argument("--corpus", metavar="builtin|PATH", help="source sounds: 'builtin' or a folder (overrides the config)")
    p.add_argument("--backend", metavar="NAME", help="RIR backend, e.g. ism or fast (overrides the config)")
    p.add_argument("--array", metavar="NAME|JSON", help="array preset, foa (first-order ambisonics, ACN/SN3D; "
                   "uses the fast backend) or a JSON file (overrides the config)")
    p.add_argument("--overwrite", action="store_true", help="replace a different dataset already in OUT")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _resolve_config(args: argparse.Namespace):
    from soundloc.scenes.config import load_config
    from soundloc.scenes.presets import get_preset

    if args.config:
        cfg = load_config(args.config)
    elif args.preset:
        cfg = get_preset(args.preset)
    else:
        raise ValueError("give --config YAML or --preset NAME (tiny, mcsimclr, dcase)")
    changes = {}
    if args.clips is not None:
        if args.clips < 1:
            raise ValueError(f"--clips must be >= 1, got {args.clips}")
        changes["num_clips"] = args.clips
    if args.corpus:
        changes["corpus"] = args.corpus
    if args.backend:
        changes["rir_backend"] = args.backend
    if args.array:
        changes["array"] = {"name": args.array}
        if args.array.lower() == "foa" and not args.backend:
            changes["rir_backend"] = "fast"  # the only backend that encodes FOA
    cfg = cfg.replace(**changes) if changes else cfg
    from soundloc.scenes.rir import RIR_BACKENDS

    if cfg.rir_backend not in RIR_BACKENDS:
        raise ValueError(f"unknown RIR backend '{cfg.rir_backend}'; choose from {', '.join(sorted(RIR_BACKENDS))}")
    cfg.array.resolve()  # unknown array -> ValueError before any work
    return cfg


def run(args: argparse.Namespace) -> int:
    from soundloc.scenes.config import dump_config

    cfg = _resolve_config(args)
    if args.print_config:
        sys.stdout.write(dump_config(cfg))
        return 0
    if not args.out:
        raise ValueError("missing OUT folder")
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    from soundloc.scenes.writer import generate_dataset, preflight

    progress = not args.no_progress and sys.stderr.isatty()
    if progress:
        print(f"simulating {cfg.num_clips} clips ({cfg.duration:g} s, {cfg.fs} Hz, array {cfg.array.name}, "
              f"RIR backend {cfg.rir_backend}) into {args.out}", file=sys.stderr)
    check = preflight(args.out, cfg, overwrite=args.overwrite)  # a foreign folder or a full disk: refused now
    if progress:
        print(check.summary(), file=sys.stderr)
    corpus = None
    if cfg.corpus == "builtin":
        from soundloc.corpus import builtin_corpus

        if progress:
            print("preparing the built-in sounds (rendered on first use, then cached)...", file=sys.stderr)
        corpus = builtin_corpus(progress=progress)
    report = generate_dataset(args.out, cfg, seed=args.seed, workers=args.workers, overwrite=args.overwrite,
                              progress=progress, corpus=corpus)
    print(report.summary())
    print(f"next: soundloc inspect {args.out}")
    return 0
