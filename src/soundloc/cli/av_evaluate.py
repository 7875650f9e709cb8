"""``soundloc av-evaluate``: score a trained audio-visual localizer (``av-train`` run) on a dataset.

``soundloc av-evaluate RUN builtin`` scores ``RUN/model`` on the built-in benchmark's test split (the
settings ``av-train`` recorded in ``RUN/data.json``): per-sample cIoU with the median threshold (EZ-VSL
protocol), cIoU@0.5, mean cIoU and AUC over the samples with a sounding object on screen, and AP /
max-F1 of the sounding-object confidence with the silent, noise-only and off-screen samples as
negatives (:mod:`soundloc.metrics.av`). ``--baselines`` adds the honest floors: the centre prior (a
centred Gaussian, the same confidence everywhere) and the model at its random initialisation (same seed).
``--grid out.png`` draws the best and worst localised examples (frame, heatmap, true boxes).

``soundloc av-evaluate RUN DATA`` with a Flickr-SoundNet or VGG-SS folder (or a vggss.json / test list)
scores the model on that test set with the same table (``--data-format``, ``--list``, ``--classes`` e.g.
for the VGG-SS heard / unheard splits; layouts in docs/av.md): frames resized to ``--image-size``
(default 224, the official protocol's map size), the middle ``--duration`` seconds of audio (default:
the run's, else 3), Flickr ground truth the annotators' soft consensus map, VGG-SS the union of the boxes.
"""

from __future__ import annotations

import argparse

from soundloc.cli._av import DATA_HELP, add_folder_options


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "av-evaluate", help="score an audio-visual localizer: cIoU@0.5, AUC, AP / max-F1 with negatives",
        description=(__doc__ or "").replace("``", ""), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="run folder written by soundloc av-train")
    p.add_argument("data", metavar="DATA", help=DATA_HELP + "; builtin uses the benchmark settings recorded in RUN")
    p.add_argument("--split", choices=("test", "val"), default="test", help="builtin: split to score (default test)")
    p.add_argument("--image-size", type=int, default=None, help="folder data: frame side in pixels (default 224)")
    p.add_argument("--n", type=int, default=None, help="score only the first N samples (default all)")
    p.add_argument("--threshold", default="median", metavar="median|T",
                   help="map threshold: median (EZ-VSL protocol: the top half of the map) or T in [0, 1] on the "
                        "min-max normalised map (default median)")
    p.add_argument("--object-prior", type=float, default=None, metavar="W",
                   help="weight of the object map in the heatmap (EZ-VSL's OGL; default: the model's own setting); "
                        "choose it on --split val, not on test")
    p.add_argument("--baselines", action="store_true", help="also score the centre prior and the random-init model")
    p.add_argument("--grid", default=None, metavar="OUT.png", help="write a grid of the best and worst examples")
    p.add_argument("--grid-size", type=int, default=8, help="best and worst examples each in the grid (default 8)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("--cache-dir", default=None, help="benchmark cache folder (default: $SOUNDLOC_CACHE or ~/.cache/soundloc)")
    add_folder_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from soundloc.av.models import load_av_model
    from soundloc.cli._av import bench_from_run, check_builtin_options, is_builtin, load_split, open_folder, parse_threshold, run_data
    from soundloc.cli._text import align_table
    from soundloc.fileio import check_writable

    builtin = is_builtin(args.data)
    if builtin:
        check_builtin_options(args)
        if args.image_size is not None:
            raise ValueError("--image-size applies to folder data; builtin uses the size recorded in RUN")
    elif args.split != "test":
        raise ValueError("--split applies to DATA builtin; a folder dataset is scored whole (select clips with --list)")
    if args.n is not None and args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}")
    if not 1 <= args.grid_size <= 32:
        raise ValueError(f"--grid-size must be 1-32, got {args.grid_size}")
    threshold = parse_threshold(args.threshold)
    if args.object_prior is not None and not 0.0 <= args.object_prior <= 1.0:
        raise ValueError(f"--object-prior must be a weight in [0, 1], got {args.object_prior}")
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise ValueError(f"run folder '{run_dir}' does not exist")
    model = load_av_model(run_dir / "model")
    if args.grid:
        check_writable(args.grid)
    if builtin:
        data = load_split(bench_from_run(run_dir), args.split, args.n, cache_dir=args.cache_dir)
    else:
        from soundloc.av.train import load_split as read_split

        trained = run_data(run_dir)
        duration = args.duration if args.duration is not None else trained.get("duration") if trained.get("data") == "folder" else None
        ds = open_folder(args, args.data, image_size=224 if args.image_size is None else args.image_size, fs=model.config.fs,
                         duration=duration)
        if not ds.annotated:
            raise ValueError(f"'{args.data}' is a {ds.format} training list without boxes; evaluate on Flickr-SoundNet or VGG-SS data")
        data = read_split(ds, args.n)

    from soundloc.metrics.av_eval import center_predictor, evaluate_av, model_predictor

    w = args.object_prior
    rows = [("model", evaluate_av(model_predictor(model, object_prior=w), data, threshold=threshold))]
    if args.baselines:
        from soundloc.av.train import AVTrainConfig, build_av_model
        from soundloc.fileio import load_json

        hist = load_json(run_dir / "history.json", what="run history")
        cfg = AVTrainConfig.from_dict(hist.get("config") if isinstance(hist, dict) else None)
        rows.append(("random init", evaluate_av(model_predictor(build_av_model(cfg), object_prior=w), data, threshold=threshold)))
        rows.append(("centre prior", evaluate_av(center_predictor(), data, threshold=threshold)))
    if args.format == "json":
        print(json.dumps({name: r.to_dict() for name, r in rows}, indent=2))
    else:
        keys = ("n", "n_pos", "n_neg", "cIoU@0.5", "cIoU_mean", "AUC", "AP", "max_F1")
        table = []
        for name, r in rows:
            d = r.to_dict()
            table.append([name, *(str(d[k]) if isinstance(d[k], int) else f"{d[k]:.3f}" for k in keys)])
        print(align_table(["method", *keys], table, left=(0,)))
    if args.grid:
        from soundloc.plots import plot_av_grid

        res = rows[0][1]
        c = res.per_sample_ciou
        pos = np.flatnonzero(~np.isnan(c))
        if pos.size == 0:
            raise ValueError("no sample with a sounding object on screen to draw")
        order = pos[np.argsort(-c[pos], kind="stable")]
        k = min(args.grid_size, order.size)
        pick = list(order[:k]) + [i for i in order[::-1][:k] if i not in set(order[:k])]
        frames, audio = data.batch(pick)
        heat, conf = model.localize(frames, audio, object_prior=w)
        titles = [f"#{i} cIoU {c[i]:.2f} conf {float(conf[j]):.2f}" for j, i in enumerate(pick)]
        plot_av_grid(args.grid, list(frames.numpy()), list(heat.numpy()), boxes=[data.boxes[i] for i in pick], titles=titles,
                     ncols=k, suptitle=f"{run_dir.name}: best (top) and worst (bottom) localised {args.split} samples")
    return 0
