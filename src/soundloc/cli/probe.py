"""``soundloc probe ENCODER DATA --protocol linear``: score a spatial encoder on labelled clips.

ENCODER is a soundloc pretrain run folder (its encoder), an encoder .json, or random:ARRAY
(e.g. random:circular4) for a randomly initialised encoder of the default architecture;
--random-init takes ENCODER's architecture with random weights instead (the "random init" row).
DATA is a soundloc dataset folder with one event per clip (e.g. simulated with the mcsimclr
preset), recorded with the encoder's array at its rate (anything else is refused).

Protocols (comma-separated; each writes DIR/<protocol>.json with --out): linear (encoder frozen,
linear class and direction layers on its embedding), finetune (encoder trained too, learning rate
x0.1), subset:F (finetune on the fraction F of the training clips, e.g. subset:0.01), scratch and
scratch:F (the same architecture from random weights, trained like finetune at the full learning
rate, on the same subsets). ChannelSwap is the only augmentation; selection on the val split, per
task (class: best val accuracy; direction: lowest val azimuth error), scores on the test split:
class accuracy, mean and median azimuth error (degrees).
A random-init encoder (random:ARRAY, --random-init) and scratch fit the encoder's input
normalizer on the training clips' features; a pretrained encoder keeps its own.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "probe", help="linear probe / fine-tune / subset / from-scratch scores of a pretrained encoder",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("encoder", metavar="ENCODER", help="pretrain run folder, encoder .json, or random:ARRAY")
    p.add_argument("data", metavar="DATA", help="labelled dataset folder (train / val / test splits)")
    p.add_argument("--protocol", default="linear", metavar="LIST",
                   help="comma-separated: linear, finetune, subset:F, scratch, scratch:F (default linear)")
    p.add_argument("--out", metavar="DIR", help="write DIR/<protocol>.json per protocol")
    p.add_argument("--epochs", type=int, default=30, metavar="N", help="validation points (passes over the training clips; default 30)")
    p.add_argument("--min-steps", type=int, default=300, metavar="N", help="at least this many steps (default 300)")
    p.add_argument("--batch-size", type=int, default=64, metavar="B", help="batch (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of the heads (default 1e-3)")
    p.add_argument("--no-channel-swap", action="store_true", help="no ChannelSwap augmentation")
    p.add_argument("--random-init", action="store_true",
                   help="use ENCODER's architecture with random weights (seeded; the random-init row)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of heads, subsets, scratch weights (default 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda when available)")
    p.set_defaults(func=run)
    return p


def _encoder(spec: str, device: str) -> object:
    from pathlib import Path

    from soundloc.ssl.model import load_encoder, random_encoder

    if spec.startswith("random:"):
        return random_encoder(spec)
    if not Path(spec).exists() and not Path(spec + ".json").exists():
        raise ValueError(f"encoder '{spec}' does not exist (a pretrain run folder, an encoder .json, or random:ARRAY)")
    return load_encoder(spec, device=device)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from soundloc.device import resolve_device
    from soundloc.fileio import write_json_atomic
    from soundloc.ssl.probe import ProbeConfig, Protocol, load_labelled, run_protocol

    device = str(resolve_device(args.device, option="--device"))
    protocols = [Protocol.parse(s) for s in args.protocol.split(",") if s.strip()]
    if not protocols:
        raise ValueError("--protocol lists no protocol")
    cfg = ProbeConfig(epochs=args.epochs, min_steps=args.min_steps, batch_size=args.batch_size, lr=args.lr,
                      channel_swap=not args.no_channel_swap, seed=args.seed)
    enc = _encoder(args.encoder, device)
    if args.random_init:
        from soundloc.ssl.model import build_encoder

        enc = build_encoder(enc.config, seed=args.seed + 10)  # type: ignore[attr-defined]
    spec = enc.config.input  # type: ignore[attr-defined]
    splits = {s: load_labelled(args.data, s, spec, device=device) for s in ("train", "val", "test")}
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    random_init = bool(args.random_init or args.encoder.startswith("random:"))
    for prot in protocols:
        res = run_protocol(enc, prot, splits["train"], splits["val"], splits["test"], config=cfg, device=device,  # type: ignore[arg-type]
                           fit_normalizer_on_train=random_init)
        res = {"encoder": args.encoder, "random_init": random_init, "data": str(args.data), **res}
        t = res["test"]
        print(f"{prot.name}: accuracy {100 * t['accuracy']:.1f} %, azimuth error mean {t['azimuth_error_mean']:.1f} deg, "
              f"median {t['azimuth_error_median']:.1f} deg ({res['train_clips']} training clips, {t['clips']} test clips, "
              f"{res['seconds']:.1f} s)", flush=True)
        if out is not None:
            name = prot.name.replace(":", "_")
            write_json_atomic(out / f"{name}.json", res)
        else:
            print(json.dumps(res["test"]))
    return 0
