"""``soundloc pretrain DATA --out RUN``: MC-SimCLR self-supervised pretraining of a spatial encoder.

DATA is any folder of multichannel recordings from one array, labels ignored: a soundloc dataset
folder (its train split; the array comes from dataset.json), a STARSS23/TAU-style folder, or a
plain folder of wav/flac files with --array NAME|JSON. --simulate PRESET pretrains on scenes
simulated on the fly instead (no DATA). Each step takes two random crops of --crop-seconds of each
--clip-seconds window (the positive pair), augments them (--augment: cs = ChannelSwap, the same
array symmetry for both views; mu = Mixup with another clip; rrc = RandomResizedCrop of the mel and
GCC maps; cd = ChannelDrop; 'all' or 'none'), computes log-mel + GCC-PHAT on the training device,
and minimises NT-Xent through a two-layer projector (AdamW, warm-up epochs then cosine decay;
bfloat16 autocast on CUDA).

Every epoch writes RUN/encoder.safetensors + encoder.json (the encoder without the projector;
use it with soundloc probe / embed), RUN/checkpoint.json, RUN/log.csv and RUN/curves.png.
Rerunning into RUN resumes exactly (the same weights as an uninterrupted run); --max-minutes
stops with a checkpoint after that long. --processes N runs N DDP processes (gloo on CPU).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "pretrain", help="self-supervised (MC-SimCLR) pretraining on unlabelled multichannel recordings",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="DATA", nargs="?", help="folder of recordings or dataset folder (omit with --simulate)")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (encoder, checkpoints, log)")
    p.add_argument("--array", metavar="NAME|JSON", help="array of a plain folder of recordings (preset name or JSON file)")
    p.add_argument("--fs", type=int, metavar="HZ", help="resample recordings to this rate (default: the files' rate)")
    p.add_argument("--augment", default="all", metavar="LIST", help="cs,mu,rrc,cd (any subset), all (default) or none")
    p.add_argument("--rrc-gcc-lags", action="store_true",
                   help="RandomResizedCrop also crops the GCC-PHAT lag axis (MC-SimCLR's joint crop; it shifts each "
                        "view's zero lag and the encoder learns to ignore direction); default: GCC along time only")
    p.add_argument("--model", default="crnn", metavar="NAME", help="encoder: crnn (default) or resnet-conformer")
    p.add_argument("--model-kwargs", default="{}", metavar="JSON", help='encoder settings, e.g. \'{"conv_channels": 32}\'')
    p.add_argument("--epochs", type=int, default=100, metavar="N", help="epochs (default 100)")
    p.add_argument("--batch-size", type=int, default=256, metavar="B", help="global batch in pairs (default 256)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=1e-4, metavar="W", help="AdamW weight decay (default 1e-4)")
    p.add_argument("--warmup-epochs", type=int, default=10, metavar="N", help="linear warm-up epochs (default 10)")
    p.add_argument("--temperature", type=float, default=0.1, metavar="T", help="NT-Xent temperature (default 0.1)")
    p.add_argument("--clip-seconds", type=float, default=1.0, metavar="S", help="window taken from the data (default 1)")
    p.add_argument("--crop-seconds", type=float, default=0.8, metavar="S", help="length of each view (default 0.8)")
    p.add_argument("--steps-per-epoch", type=int, metavar="N", help="steps per epoch (default: one pass over the windows)")
    p.add_argument("--simulate", metavar="PRESET", help="pretrain on scenes simulated on the fly from this preset (e.g. mcsimclr)")
    p.add_argument("--sim-clips", type=int, default=100000, metavar="N", help="--simulate: clips in the simulated dataset (default 100000)")
    p.add_argument("--sim-seed", type=int, default=0, metavar="S", help="--simulate: dataset seed (default 0)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of weights, data order and augmentation (default 0)")
    p.add_argument("--workers", type=int, default=0, metavar="W", help="DataLoader worker processes (default 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1... (default: cuda when available)")
    p.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast on CUDA")
    p.add_argument("--processes", type=int, default=1, metavar="N", help="DDP processes on this machine (default 1)")
    p.add_argument("--max-minutes", type=float, metavar="M", help="stop with a checkpoint after M minutes (rerun to resume)")
    p.add_argument("--resume", action="store_true", help="require a checkpoint in RUN (refuse to start a new run)")
    p.add_argument("--max-steps", type=int, metavar="N", help=argparse.SUPPRESS)  # stop early, as if killed (tests)
    p.set_defaults(func=run)
    return p


def _job(args: argparse.Namespace) -> Any:
    from soundloc.cli._runs import model_kwargs
    from soundloc.device import resolve_device
    from soundloc.ssl.config import PretrainConfig, parse_augment
    from soundloc.ssl.job import PretrainJob

    kwargs = model_kwargs(args.model_kwargs)
    device = str(resolve_device(args.device, option="--device"))
    if args.processes < 1:
        raise ValueError(f"--processes must be >= 1, got {args.processes}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ValueError(f"--max-minutes must be > 0, got {args.max_minutes}")
    scenes = None
    clip = args.clip_seconds
    if args.simulate:
        if args.data:
            raise ValueError("give DATA or --simulate PRESET, not both")
        if args.sim_clips < 1:
            raise ValueError(f"--sim-clips must be >= 1, got {args.sim_clips}")
        from soundloc.scenes.presets import get_preset

        scenes = get_preset(args.simulate).replace(num_clips=args.sim_clips)
        clip = float(scenes.duration)  # simulated clips are used whole
    elif not args.data:
        raise ValueError("missing DATA folder (or --simulate PRESET)")
    cfg = PretrainConfig(model=args.model, model_kwargs=kwargs, temperature=args.temperature, augment=parse_augment(args.augment),
                         rrc_lags=args.rrc_gcc_lags,
                         clip_seconds=clip, crop_seconds=min(args.crop_seconds, clip), epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                         warmup_epochs=args.warmup_epochs, steps_per_epoch=args.steps_per_epoch, seed=args.seed,
                         amp=not args.no_amp, num_workers=args.workers)
    return PretrainJob(config=cfg, run=args.out, data=args.data, array=args.array, fs=args.fs, scenes=scenes,
                       scene_seed=args.sim_seed, device=device, require_checkpoint=args.resume, max_steps=args.max_steps,
                       max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes)


def _print_row(row: Any) -> None:
    print(f"epoch {row['epoch'] + 1}: step {row['step']}, loss {row['train_loss']:.4f}, lr {row['lr']:.2e}, "
          f"{row['seconds']:.1f} s", flush=True)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soundloc.cli._runs import announce_resume
    from soundloc.ssl.config import PretrainConfig
    from soundloc.ssl.job import run_distributed, run_pretrain
    from soundloc.train import read_checkpoint, read_log

    job = _job(args)
    run_dir = Path(job.run)
    if announce_resume(run_dir, job.config, PretrainConfig, what="pretraining", result=f"encoder: {run_dir / 'encoder.json'}"):
        return 0
    if args.processes > 1:
        run_distributed(job, args.processes)
        stopped = "epochs" if read_checkpoint(run_dir)[0]["state"].get("done") else "early"
    else:
        stopped = run_pretrain(0, 1, job, on_epoch=_print_row).stopped
    history = read_log(run_dir) if (run_dir / "log.csv").is_file() else []
    if history:
        from soundloc.plots import plot_training_curves

        plot_training_curves(history, run_dir / "curves.png", title=f"MC-SimCLR {job.config.model}, augment "
                             f"{','.join(job.config.augment) or 'none'}")
    if stopped != "epochs":
        print(f"stopped at step {read_checkpoint(run_dir)[0]['state']['step']}; rerun the same command to resume")
    if (run_dir / "encoder.json").is_file():
        print(f"encoder: {run_dir / 'encoder.json'}")
    return 0
