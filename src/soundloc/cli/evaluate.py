"""``soundloc evaluate MODEL DATA``: DCASE scores of a trained model on a dataset split.

MODEL is what ``localize --model`` takes: a ``soundloc train`` run folder (its best model),
``builtin:NAME`` (a model shipped with soundloc; ``soundloc models`` lists them) or a saved model
(its ``.json``, ``.safetensors`` or their common stem). Every file of the split (default ``test``)
is predicted in windows, the predictions are written as DCASE label CSVs (distances in cm) into
``--out`` (default ``RUN/predictions/SPLIT``, ``predictions/SPLIT`` beside a saved model, and
``predictions/builtin-NAME/SPLIT`` in the current folder for a built-in model; ``soundloc score`` reads them),
and scored against the split's labels with the DCASE2024 and DCASE2023 metrics (tables with the
class-wise values; ``--format json`` for one object). DCASE2024 scores distances, so it needs a
model with the multi-ACCDDOA output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "evaluate", help="DCASE2024/2023 scores of a trained model on a dataset split",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="MODEL", help="run folder of soundloc train, builtin:NAME, or a saved model (.json, "
                                                ".safetensors or their stem)")
    p.add_argument("data", metavar="DATA", help="dataset folder (soundloc or STARSS23/TAU-style)")
    p.add_argument("--split", default="test", metavar="NAME", help="split / fold to evaluate (default test)")
    p.add_argument("--out", metavar="DIR", help="prediction CSV folder (default: see above)")
    p.add_argument("--window", type=float, default=5.0, metavar="S", help="inference window in seconds (default 5)")
    p.add_argument("--batch-size", type=int, default=8, metavar="B", help="windows per batch (default 8)")
    p.add_argument("--threshold", type=float, default=0.5, help="activity threshold (default 0.5)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, ...")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from soundloc.cli.score import format_report
    from soundloc.device import resolve_device
    from soundloc.metrics.seld import get_seld_scorer, score_label_files
    from soundloc.models.builtin import resolve_model
    from soundloc.train.predict import predict_split, write_predictions

    model, _ = resolve_model(args.run, device=resolve_device(args.device, option="--device"))
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not (0.0 < args.threshold < 1.0):  # an ACCDOA vector norm / activity probability
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    preds = predict_split(model, args.data, args.split, window_seconds=args.window, batch_size=args.batch_size,
                          device=args.device, threshold=args.threshold)
    out = Path(args.out) if args.out else default_out(args.run, args.split)
    paths = write_predictions(preds, out)
    pairs = [(p.name, p.reference, path) for p, path in zip(preds, paths)]
    assert model.config is not None and model.config.input is not None
    n = model.config.input.num_classes
    has_distance = bool(preds) and any(p.labels.has_distance for p in preds) or model.config.head == "multi-accddoa"
    metrics = ("dcase2024", "dcase2023") if has_distance else ("dcase2023",)
    reports = {m: score_label_files(pairs, get_seld_scorer(m, num_classes=n), ref_distance_unit="cm", pred_distance_unit="cm")
               for m in metrics}
    if args.format == "json":
        print(json.dumps({m: r.to_dict() for m, r in reports.items()} | {"predictions": str(out)}, indent=2, allow_nan=False))
        return 0
    names = model.config.input.class_names
    if not has_distance:
        print(f"dcase2024: not scored (the '{model.config.head}' head predicts no distances; train with --output multi-accddoa)\n")
    for m, r in reports.items():
        print(format_report(r.to_dict(), r.total.keys, f"{m} (macro), {len(pairs)} files of '{args.split}' scored as one set"))
        print()
    print("classes: " + ", ".join(f"{i} {c}" for i, c in enumerate(names)))
    print(f"predictions: {out} (score them again with: soundloc score REF {out})")
    return 0


def default_out(model: str, split: str) -> Path:
    """Where predictions of ``model`` (a MODEL argument) on ``split`` go without ``--out`` (see the module docstring)."""
    from soundloc.models.builtin import BUILTIN_PREFIX

    text = str(model).strip()
    if text.startswith(BUILTIN_PREFIX):  # never into the installed package
        return Path("predictions") / f"builtin-{text[len(BUILTIN_PREFIX):]}" / split
    src = Path(text)
    return (src if src.is_dir() else src.parent) / "predictions" / split
