"""Helpers shared by the ``av-*`` commands: the DATA argument and the run folder's data description."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

DATA_HELP = ("dataset: builtin (the offline benchmark), or a Flickr-SoundNet / VGG-SS / VGGSound folder, a vggss.json "
             "or a list file (see --format and docs/av.md)")


def is_builtin(data: str) -> bool:
    """True for the built-in benchmark's DATA name (``builtin``); anything else is a folder or file."""
    return str(data).lower() == "builtin"


def add_folder_options(p: argparse.ArgumentParser, *, format_alias: bool = False) -> None:
    """The options of folder datasets (Flickr-SoundNet, VGG-SS, VGGSound lists). ``--data-format`` names the layout
    (``format_alias``: also ``--format``, where the command has no output ``--format``)."""
    names = ("--data-format", "--format") if format_alias else ("--data-format",)
    p.add_argument(*names, dest="data_format", choices=("auto", "flickr", "vggss", "vggsound"), default="auto",
                   help="layout of a DATA folder or file (default auto: vggss.json -> vggss, Annotations/ -> flickr, "
                        "frames/ + audio/ -> vggsound)")
    p.add_argument("--list", dest="id_list", default=None, metavar="FILE",
                   help="ids to use (csv/txt: id[,class] rows or vggsound.csv rows): the Flickr test list, a VGG-SS subset "
                        "such as vggss_heard_test.csv, a VGGSound training list")
    p.add_argument("--classes", default=None, metavar="FILE", help="keep the clips of these classes (one per line; "
                   "e.g. the VGG-SS heard / unheard classes)")
    p.add_argument("--list-split", default=None, metavar="NAME", help="keep one split (train / test) of a vggsound.csv list")
    p.add_argument("--missing", choices=("error", "skip"), default=None,
                   help="listed clips without a frame or audio file: error (default for flickr / vggss) or skip "
                        "(default for vggsound)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="seconds of audio per clip, from the middle of the file, for folder data (default 3, as EZ-VSL)")


def check_builtin_options(args: argparse.Namespace) -> None:
    """``ValueError`` when folder-data options are given with DATA ``builtin``."""
    given = [f"--{k.replace('_', '-')}" for k in ("id_list", "classes", "list_split", "missing", "duration")
             if getattr(args, k, None) is not None]
    if getattr(args, "data_format", "auto") != "auto":
        given.insert(0, "--data-format")
    if given:
        names = ", ".join(g.replace("--id-list", "--list") for g in given)
        raise ValueError(f"{names}: folder-data options do not apply to DATA builtin")


def open_folder(args: argparse.Namespace, data: str, *, image_size: int, fs: int, duration: float | None,
                with_list: bool = True) -> Any:
    """The folder dataset ``data`` with the command's folder options (``with_list=False`` ignores --list,
    --classes and --list-split, e.g. for a separate validation folder)."""
    from soundloc.av.folders import FolderOptions, open_av_dataset

    opts = FolderOptions(image_size=image_size, duration=3.0 if duration is None else duration, fs=fs, missing=args.missing)
    if not with_list:
        return open_av_dataset(data, options=opts)
    return open_av_dataset(data, format=args.data_format, id_list=args.id_list, classes=args.classes, split=args.list_split,
                           options=opts)


def run_data(run: Path) -> dict[str, Any]:
    """``RUN/data.json`` (what ``av-train`` trained on), or ``{}`` when the run has none."""
    from soundloc.fileio import load_json

    if not (run / "data.json").is_file():
        return {}
    doc = load_json(run / "data.json", what="run data description")
    if not isinstance(doc, dict):
        raise ValueError(f"'{run / 'data.json'}' is not a JSON object; was RUN written by soundloc av-train?")
    return doc


def run_image_size(run: Path, default: int = 224) -> int:
    """The frame side a run was trained at (``RUN/data.json``), ``default`` when it does not say."""
    doc = run_data(run)
    if isinstance(doc.get("bench"), dict):
        return int(bench_from_run(run).image_size)
    size = doc.get("image_size")
    return int(size) if isinstance(size, int) else default


def bench_config(*, image_size: int, sizes: tuple[int, int, int], n_voices: int = 16, seed: int = 0,
                 object_scale: tuple[float, float] | None = None, max_distractors: int | None = None) -> Any:
    """The benchmark config of the ``av-*`` options; ``object_scale`` is the digit height range as a fraction of the
    frame (``AVBenchConfig.digit_height``), ``None`` keeps the benchmark's defaults."""
    from soundloc.av import AVBenchConfig

    extra: dict[str, Any] = {}
    if object_scale is not None:
        extra["digit_height"] = tuple(object_scale)
    if max_distractors is not None:
        extra["max_distractors"] = max_distractors
    return AVBenchConfig(image_size=image_size, sizes=sizes, n_voices=n_voices, seed=seed, **extra)


def parse_threshold(text: str, option: str = "--threshold") -> float | str:
    """``"median"`` or a float in [0, 1] (a fixed threshold on the min-max normalised map); one-line ``ValueError``."""
    if text == "median":
        return "median"
    try:
        t = float(text)
    except ValueError:
        raise ValueError(f"{option} must be 'median' or a number in [0, 1], got '{text}'") from None
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"{option} must be 'median' or a number in [0, 1], got '{text}'")
    return t


def bench_to_dict(cfg: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def bench_from_run(run: Path) -> Any:
    """The benchmark config recorded in ``RUN/data.json`` by ``av-train``."""
    from soundloc.av import AVBenchConfig
    from soundloc.fileio import load_json

    doc = load_json(run / "data.json", what="run data description")
    if not isinstance(doc, dict) or not isinstance(doc.get("bench"), dict):
        raise ValueError(f"'{run / 'data.json'}' has no \"bench\" object; was RUN written by soundloc av-train?")
    try:
        return AVBenchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc["bench"].items()})
    except TypeError as e:
        raise ValueError(f"'{run / 'data.json'}': {e}") from None


def fresh_epochs(cfg: Any, per_epoch: int, cache_dir: str | None = None) -> Any:
    """``epoch -> AVTensors``: training samples ``[epoch * per_epoch, (epoch + 1) * per_epoch)`` of the benchmark's
    train split, generated on the fly (not cached: every epoch is new)."""
    from soundloc.av import SyntheticAVDataset
    from soundloc.av.dataset import AVSubset
    from soundloc.av.train import load_split as _load

    ds = SyntheticAVDataset("train", cfg, cache=False, cache_dir=cache_dir)

    def epoch(e: int) -> Any:
        return _load(AVSubset(ds, range(e * per_epoch, (e + 1) * per_epoch)))

    return epoch


def load_split(cfg: Any, split: str, n: int | None = None, cache_dir: str | None = None) -> Any:
    from soundloc.av import SyntheticAVDataset
    from soundloc.av.train import load_split as _load

    return _load(SyntheticAVDataset(split, cfg, cache_dir=cache_dir), n)
