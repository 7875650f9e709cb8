"""``soundloc av-train``: train an audio-visual localizer (EZ-VSL, SLAVC or FNAC) on a dataset.

``soundloc av-train builtin --loss ezvsl --out RUN`` trains on the built-in offline benchmark (spoken
digits and digit glyphs, :mod:`soundloc.av.synthetic`; generated once and cached). The model is selected
on the **validation** split after every epoch (``--select``: cIoU AUC, cIoU@0.5, detection AP, or the
unsupervised validation loss; ``--threshold``: the map threshold of those scores, 0.5 by default because
the EZ-VSL median threshold cannot rank maps of objects much smaller than half the frame), never on
test. RUN receives ``model.safetensors`` + ``model.json`` (the best epoch), ``checkpoint.json`` +
``checkpoint-<step>.safetensors`` (the last epoch, with optimiser and RNG states: ``--resume`` continues
bit-identically), ``history.json`` and ``data.json`` (the benchmark settings, for ``av-evaluate``).

``soundloc av-train DATA ...`` with a folder (or a vggss.json / list file) trains on your own data:
Flickr-SoundNet, VGG-SS or a VGGSound training list (``--format auto|flickr|vggss|vggsound``, ``--list``,
``--classes``; layouts in docs/av.md). Frames are resized to ``--image-size`` squares, clips are the middle
``--duration`` seconds. Validation: ``--val DATA2`` (e.g. the Flickr-SoundNet or VGG-SS test folder is *not*
the place: use annotated data you do not report on), else ``--val-size`` clips held out of DATA (seeded by
``--seed``); without boxes in the validation data the model is selected on the validation loss.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from soundloc.cli._av import DATA_HELP, add_folder_options


def _blocks(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated block counts such as 1,1,1, got '{text}'") from None
    return out


def _pair(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI such as 0.25,0.45, got '{text}'") from None
    return lo, hi


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "av-train", help="train an audio-visual sound source localizer (EZ-VSL, SLAVC, FNAC)",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", metavar="DATA", help=DATA_HELP)
    p.add_argument("--loss", required=True, choices=("ezvsl", "slavc", "fnac"), help="training objective")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (created)")
    p.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size, >= 2 (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--temperature", type=float, default=0.03, help="contrastive temperature (default 0.03)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, batch order and dropout (default 0)")
    p.add_argument("--image-size", type=int, default=64, help="benchmark frame side in pixels (default 64)")
    p.add_argument("--train-size", type=int, default=None, help="training samples (default: builtin 2000, folder data all)")
    p.add_argument("--val-size", type=int, default=None,
                   help="validation samples (default: builtin 500; folder data: 10%% of DATA held out, 2-500)")
    p.add_argument("--val", default=None, metavar="DATA2", help="folder data: a separate validation dataset (format detected)")
    p.add_argument("--test-size", type=int, default=1000, help="test samples recorded for av-evaluate (default 1000)")
    p.add_argument("--fresh", action="store_true",
                   help="builtin: new training samples every epoch (train-size per epoch, generated on the fly, not "
                        "cached; a fixed split is memorised pair by pair)")
    p.add_argument("--voices", type=int, default=16, help="eSpeak voices in the benchmark's speech bank, >= 8 (default 16)")
    p.add_argument("--object-scale", type=_pair, default=None, metavar="LO,HI",
                   help="digit height range as a fraction of the frame (benchmark default 0.25,0.45; at most 0.6)")
    p.add_argument("--max-distractors", type=int, default=None, help="silent digits on screen at most, 0-3 (default 2)")
    p.add_argument("--embed-dim", type=int, default=128, help="audio-visual embedding size (default 128)")
    p.add_argument("--width", type=int, default=32, help="channels of the first image stage (ResNet-18: 64; default 32)")
    p.add_argument("--blocks", type=_blocks, default=(1, 1, 1), help="image residual blocks per stage (ResNet-18: 2,2,2,2; default 1,1,1)")
    p.add_argument("--stem-stride", type=int, default=2, choices=(1, 2, 4), help="image stem stride (ResNet: 4; default 2)")
    p.add_argument("--image-padding", choices=("replicate", "zeros"), default="replicate",
                   help="padding of the image convolutions (default replicate; zeros puts the maps on the frame border)")
    p.add_argument("--audio-width", type=int, default=32, help="channels of the first audio stage (default 32)")
    p.add_argument("--visual-dropout", type=float, default=None, help="dropout on image features (default: 0.9 for slavc, else 0)")
    p.add_argument("--image-weights", default=None, metavar="FILE", help="local safetensors file to start the image encoder from")
    p.add_argument("--object-prior", type=float, default=0.0, metavar="W",
                   help="weight of the object map in the heatmap (EZ-VSL's object-guided localization; default 0: off)")
    p.add_argument("--prior-weights", default=None, metavar="FILE",
                   help="local safetensors file of a frozen image trunk for the object map (EZ-VSL: ImageNet ResNet-18); "
                        "without it the object map comes from the trained image trunk")
    p.add_argument("--select", choices=("auc", "ciou", "ap", "loss"), default=None,
                   help="validation score that picks the best epoch (default auc; loss when the validation data have no boxes)")
    p.add_argument("--threshold", default="0.5", metavar="median|T",
                   help="map threshold of the validation scores: T in [0, 1] on the min-max normalised map, or median "
                        "(EZ-VSL protocol; on the built-in benchmark it ranks a perfect map below the centre prior, "
                        "see docs/av.md); default 0.5")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch in which this time ran out")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1... (default: cuda when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint (same options)")
    p.add_argument("--cache-dir", default=None, help="benchmark cache folder (default: $SOUNDLOC_CACHE or ~/.cache/soundloc)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines on stderr")
    add_folder_options(p, format_alias=True)
    p.set_defaults(func=run)
    return p


def _folder_splits(args: argparse.Namespace, fs: int) -> tuple[Any, Any, dict[str, Any]]:
    """Training and validation datasets of folder DATA, and what data.json records about them."""
    from soundloc.av.dataset import holdout_split
    from soundloc.cli._av import open_folder

    ds = open_folder(args, args.data, image_size=args.image_size, fs=fs, duration=args.duration)
    doc: dict[str, Any] = {"data": "folder", **ds.describe(), "list": args.id_list, "classes": args.classes,
                           "list_split": args.list_split}
    if args.val is not None:
        if args.val_size is not None:
            raise ValueError("--val-size holds clips out of DATA; with --val DATA2 use all of DATA2 (or --list)")
        val = open_folder(args, args.val, image_size=args.image_size, fs=fs, duration=args.duration, with_list=False)
        doc["val"] = val.describe()
        return ds, val, doc
    n_val = args.val_size if args.val_size is not None else min(500, max(2, len(ds) // 10))
    train, val = holdout_split(ds, n_val, seed=args.seed)
    doc["val"] = {"holdout": n_val, "seed": args.seed}
    return train, val, doc


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from soundloc.av.models import AVModelConfig
    from soundloc.av.train import AVTrainConfig, train_av
    from soundloc.av.train import load_split as read_split
    from soundloc.cli._av import bench_config, bench_to_dict, check_builtin_options, fresh_epochs, is_builtin, load_split, parse_threshold
    from soundloc.fileio import check_writable, write_json_atomic

    builtin = is_builtin(args.data)
    if args.fresh and not builtin:
        raise ValueError("--fresh draws new samples of the built-in benchmark; folder data have a fixed list")
    if builtin:
        check_builtin_options(args)
        if args.val is not None:
            raise ValueError("--val applies to folder data; the built-in benchmark has its own validation split")
        args.train_size = 2000 if args.train_size is None else args.train_size
        args.val_size = 500 if args.val_size is None else args.val_size
    for name in ("train_size", "val_size", "test_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise ValueError(f"--max-minutes must be > 0, got {args.max_minutes}")
    dropout = args.visual_dropout if args.visual_dropout is not None else (0.9 if args.loss == "slavc" else 0.0)
    model = AVModelConfig(embed_dim=args.embed_dim, image_width=args.width, image_blocks=args.blocks, image_stem_stride=args.stem_stride,
                          audio_width=args.audio_width, audio_blocks=(1,) * len(args.blocks),
                          separate_projections=args.loss == "slavc", visual_dropout=dropout, object_prior=args.object_prior,
                          prior_encoder=args.prior_weights is not None,
                          image_padding=args.image_padding)
    cfg = AVTrainConfig(loss=args.loss, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, temperature=args.temperature,
                        seed=args.seed, model=model, image_weights=args.image_weights, prior_weights=args.prior_weights)
    threshold = parse_threshold(args.threshold)
    import torch

    from soundloc.device import resolve_device

    device = str(resolve_device(args.device, option="--device"))
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    run_dir = Path(args.out)
    check_writable(run_dir / "data.json")
    say = (lambda s: None) if args.quiet else (lambda s: print(f"soundloc av-train: {s}", file=sys.stderr, flush=True))
    if builtin:
        n_train = args.train_size * args.epochs if args.fresh else args.train_size
        bench = bench_config(image_size=args.image_size, sizes=(n_train, args.val_size, args.test_size),
                             n_voices=args.voices, object_scale=args.object_scale, max_distractors=args.max_distractors)
        data_doc: dict[str, Any] = {"data": "builtin", "bench": bench_to_dict(bench)}
        if args.fresh:
            data_doc["fresh"] = {"per_epoch": args.train_size}
    else:
        train_ds, val_ds, data_doc = _folder_splits(args, model.fs)
    if args.resume and (run_dir / "data.json").is_file():  # the data are part of what resumes
        from soundloc.fileio import load_json

        old = load_json(run_dir / "data.json", what="run data file")
        if old != data_doc:
            raise ValueError(f"--resume: {run_dir} was trained on another benchmark or dataset ({run_dir / 'data.json'}); "
                             "use the same DATA and data options (--image-size, sizes, --voices, --list ...)")
    if builtin:
        say(f"preparing the benchmark ({args.train_size} train, {args.val_size} val samples, {args.image_size} px)")
        if args.fresh:
            train = fresh_epochs(bench, args.train_size, cache_dir=args.cache_dir)
        else:
            train = load_split(bench, "train", cache_dir=args.cache_dir)
        val = load_split(bench, "val", cache_dir=args.cache_dir)
    else:
        say(f"reading {data_doc['format']} clips from {data_doc['root']} ({len(train_ds)} train, {len(val_ds)} val"
            + (f"; {data_doc['skipped']} listed clips without files skipped" if data_doc["skipped"] else "") + ")")
        train = read_split(train_ds, args.train_size)
        val = read_split(val_ds)
    write_json_atomic(run_dir / "data.json", data_doc)
    select = args.select or ("auc" if val.annotated else "loss")
    if select != "loss" and not val.annotated:
        raise ValueError(f"--select {select} needs boxes, but the validation data have none (a training list); "
                         "use --select loss or --val with Flickr-SoundNet / VGG-SS style data")
    validate = None
    if select != "loss":
        from soundloc.metrics.av_eval import evaluate_av, model_predictor

        key = {"auc": "auc", "ciou": "ciou_ap50", "ap": "ap"}[select]

        def validate(m):  # type: ignore[no-untyped-def]
            return float(getattr(evaluate_av(model_predictor(m), val, threshold=threshold), key))

    max_s = None if args.max_minutes is None else 60.0 * args.max_minutes
    doc = train_av(cfg, train, val, run_dir, resume=args.resume, validate=validate, log=say, max_seconds=max_s,
                   device=device)
    best = doc["best"]
    print(f"best epoch {best['epoch']} (validation {select} {best['score']:.4f}); "
          f"{len(doc['epochs'])} epochs in {doc['seconds']:.0f} s; model: {run_dir / 'model.safetensors'}")
    return 0
