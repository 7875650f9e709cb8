"""``soundloc train DATA --out RUN``: train a SELD model (CRNN or ResNet-Conformer) on a dataset folder or on
scenes simulated on the fly.

DATA is a soundloc dataset folder (``soundloc simulate``) or a STARSS23/TAU-style folder (MIC or
FOA); ``--simulate PRESET`` trains on fresh scenes simulated on the fly instead (no DATA). Training
takes random crops of ``--clip-seconds``, computes the features on the training device, augments
(ChannelSwap with the labels rotated, SpecAugment; with ``--mix-prob P`` clips are also mixed
in pairs, the labels merged), and optimises AdamW with warm-up and cosine
decay. Every epoch writes RUN/checkpoint.json (+ tensors), RUN/log.csv and RUN/curves.png; the
model with the best validation SELD score (DCASE2024 for multi-ACCDDOA, else DCASE2023; or the
validation loss with ``--select loss``, the default with ``--simulate``) is RUN/best.json +
best.safetensors (load it with ``soundloc.models.load_model``; ``soundloc evaluate RUN DATA``
scores it on the test split).

Rerunning into a RUN that has a checkpoint resumes it exactly where it stopped (the same weights
as an uninterrupted run); different settings are refused, naming the first differing one.
``--processes N`` trains data-parallel with torch DDP on N local processes (gloo on CPU).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "train", help="train a SELD model on a dataset folder or on-the-fly simulated scenes",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="DATA", nargs="?", help="dataset folder (omit with --simulate)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (checkpoints, log, best model)")
    p.add_argument("--model", default="crnn", metavar="NAME", help="crnn (default) or resnet-conformer")
    p.add_argument("--output", default="multi-accdoa", metavar="HEAD", help="accdoa, multi-accdoa (default) or multi-accddoa")
    p.add_argument("--features", default="mic", metavar="NAME", help="mic (default), foa or salsa-lite")
    p.add_argument("--model-kwargs", default="{}", metavar="JSON", help='encoder settings, e.g. \'{"rnn_size": 64}\'')
    p.add_argument("--epochs", type=int, default=50, metavar="N", help="maximum epochs (default 50)")
    p.add_argument("--batch-size", type=int, default=32, metavar="B", help="global batch (default 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=0.01, metavar="W", help="AdamW weight decay (default 0.01)")
    p.add_argument("--warmup-steps", type=int, default=0, metavar="N", help="linear warm-up steps (default 0)")
    p.add_argument("--clip-seconds", type=float, default=5.0, metavar="S", help="training crop length (default 5)")
    p.add_argument("--steps-per-epoch", type=int, metavar="N", help="steps per epoch (default: one pass)")
    p.add_argument("--select", choices=("seld", "loss"), metavar="seld|loss",
                   help="select the best model (and stop early) on the validation SELD score or loss "
                        "(default: seld for DATA, loss for --simulate)")
    p.add_argument("--patience", type=int, default=10, metavar="N", help="early stopping patience in epochs (default 10; 0: off)")
    p.add_argument("--dropout", type=float, metavar="P", help="encoder dropout (default: the model's)")
    p.add_argument("--no-channel-swap", action="store_true", help="no ChannelSwap augmentation")
    p.add_argument("--no-spec-augment", action="store_true", help="no SpecAugment masks")
    p.add_argument("--mix-prob", type=float, default=0.0, metavar="P",
                   help="probability that a training clip gets another clip of its batch added, labels merged (default 0: off)")
    p.add_argument("--mix-gain-db", type=float, nargs=2, default=(-6.0, 0.0), metavar=("MIN", "MAX"),
                   help="gain range of the added clip in dB (default -6 0)")
    p.add_argument("--no-normalize", action="store_true",
                   help="no input standardisation (default: per channel and bin, fitted on the first training batches)")
    p.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast on CUDA")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of weights, data order and augmentation (default 0)")
    p.add_argument("--workers", type=int, default=0, metavar="W", help="DataLoader worker processes (default 0)")
    p.add_argument("--train-split", default="train", metavar="NAME", help="training split / fold (default train)")
    p.add_argument("--val-split", default="val", metavar="NAME", help="validation split / fold, or 'none' (default val)")
    p.add_argument("--simulate", metavar="PRESET", help="train on scenes simulated on the fly from this preset (tiny, mcsimclr, dcase)")
    p.add_argument("--sim-clips", type=int, default=100000, metavar="N", help="--simulate: clips in the simulated dataset (default 100000)")
    p.add_argument("--sim-seed", type=int, default=0, metavar="S", help="--simulate: dataset seed (default 0)")
    p.add_argument("--val-clips", type=int, default=16, metavar="N", help="--simulate: validation clips (default 16)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1... (default: cuda when available)")
    p.add_argument("--processes", type=int, default=1, metavar="N", help="DDP processes on this machine (default 1)")
    p.add_argument("--resume", action="store_true", help="require a checkpoint in RUN (refuse to start a new run)")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="stop after the epoch that ends M minutes into this call (checkpointed; rerun to continue)")
    p.add_argument("--max-steps", type=int, metavar="N", help=argparse.SUPPRESS)  # stop early, as if killed (tests)
    p.set_defaults(func=run)
    return p


def _config(args: argparse.Namespace) -> Any:
    from soundloc.cli._runs import model_kwargs
    from soundloc.train import TrainConfig

    kwargs = model_kwargs(args.model_kwargs)
    return TrainConfig(model=args.model, output=args.output, features=args.features, model_kwargs=kwargs, epochs=args.epochs,
                       batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
                       clip_seconds=args.clip_seconds, seed=args.seed, channel_swap=not args.no_channel_swap,
                       spec_augment=not args.no_spec_augment, mix_prob=args.mix_prob, mix_min_gain_db=args.mix_gain_db[0],
                       mix_max_gain_db=args.mix_gain_db[1], normalize=not args.no_normalize, dropout=args.dropout, amp=not args.no_amp,
                       patience=args.patience or None, steps_per_epoch=args.steps_per_epoch, num_workers=args.workers,
                       select_on="val_loss" if args.select == "loss" else "seld")


def _job(args: argparse.Namespace) -> Any:
    from soundloc.device import resolve_device
    from soundloc.train import TrainJob

    cfg = _config(args)
    device = str(resolve_device(args.device, option="--device"))
    val = None if args.val_split.lower() == "none" else args.val_split
    scenes = None
    if args.simulate:
        if args.data:
            raise ValueError("give DATA or --simulate PRESET, not both")
        from soundloc.scenes.presets import get_preset

        if args.sim_clips < 1:
            raise ValueError(f"--sim-clips must be >= 1, got {args.sim_clips}")
        scenes = get_preset(args.simulate).replace(num_clips=args.sim_clips)
        if abs(scenes.duration - cfg.clip_seconds) > 1e-9:
            cfg = cfg.replace(clip_seconds=scenes.duration)  # simulated clips are used whole
    elif not args.data:
        raise ValueError("missing DATA folder (or --simulate PRESET)")
    if args.processes < 1:
        raise ValueError(f"--processes must be >= 1, got {args.processes}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ValueError(f"--max-minutes must be > 0, got {args.max_minutes}")
    val_score = None
    if args.select is None:
        cfg = cfg.replace(select_on="seld" if (args.data and val is not None) else "val_loss")
    if cfg.select_on == "seld":
        if scenes is not None or val is None:
            raise ValueError("--select seld needs DATA with a validation split")
        from soundloc.metrics.seld_validation import SeldValidation

        val_score = SeldValidation(data=args.data, split=val, window_seconds=cfg.clip_seconds, batch_size=cfg.batch_size)
    return TrainJob(config=cfg, run=args.out, data=args.data, train_split=args.train_split, val_split=val, scenes=scenes,
                    scene_seed=args.sim_seed, val_clips=args.val_clips, device=device, require_checkpoint=args.resume,
                    max_steps=args.max_steps, max_minutes=args.max_minutes, val_score=val_score)


def _print_row(row: Any) -> None:
    val = "-" if row["val_loss"] is None else f"{row['val_loss']:.5f}"
    seld = "" if row.get("val_seld") is None else f", val SELD {row['val_seld']:.4f}"
    print(f"epoch {row['epoch'] + 1}: step {row['step']}, train loss {row['train_loss']:.5f}, val loss {val}{seld}, "
          f"lr {row['lr']:.2e}, {row['seconds']:.1f} s", flush=True)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soundloc.cli._runs import announce_resume
    from soundloc.train import TrainConfig, read_checkpoint, read_log, run_distributed, run_job

    job = _job(args)
    run_dir = Path(job.run)
    if announce_resume(run_dir, job.config, TrainConfig, what="training", result=f"best model: {run_dir / 'best.json'}"):
        return 0
    if args.processes > 1:
        run_distributed(job, args.processes)
        for row in read_log(run_dir)[-1:]:
            print(f"last epoch: {int(row['epoch'] or 0) + 1}, val loss {row['val_loss']}")
    else:
        res = run_job(0, 1, job, on_epoch=_print_row)
        if res.stopped == "max_steps":
            print(f"stopped at step {res.state.step}; rerun to resume")
            return 0
        if res.stopped == "time":
            print(f"stopped after {args.max_minutes:g} minutes at epoch {res.state.epoch} of {job.config.epochs} "
                  f"(step {res.state.step}); rerun the same command to continue", flush=True)
    history = read_log(run_dir) if (run_dir / "log.csv").is_file() else []
    if history:
        from soundloc.plots import plot_training_curves

        plot_training_curves(history, run_dir / "curves.png", title=f"{job.config.model} / {job.config.output} / {job.config.features}")
    doc, _ = read_checkpoint(run_dir)
    st = doc["state"]
    what = "val SELD" if job.config.select_on == "seld" else "val loss"
    print(f"best epoch {int(st['best_epoch']) + 1} ({what} {st['best_val']:.5f}): {run_dir / 'best.json'}"
          if st["best_val"] is not None and st["best_epoch"] is not None and job.val_split is not None
          else f"model: {run_dir / 'best.json'}")
    return 0
