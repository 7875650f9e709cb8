"""``soundloc localize``: find the directions of the sound sources in multichannel recordings.

Many files (or folders, searched recursively) are processed in one call as a batch: each
localizer is built once per sample rate, clips of equal length are stacked and located
together (``Localizer.locate_batch``), and a progress bar is shown on stderr for more than a
few files.

Output (stdout): an aligned table, or with ``--format json`` a list of objects
``{"file", "start", "end", "method", "decision", "level_dbfs", "sources": [{"azimuth",
"elevation", "power", "confidence", "decision"}], "rejected": [...]}`` -- one per file and
method, or one per window with ``--frame-length``. Angles in degrees: azimuth counter-clockwise
from the array's front (+x) in (-180, 180], elevation up. ``--format jsonl`` writes the same
objects one per line as soon as each is computed (window by window, all methods of a window
together), so an interrupted run (Ctrl-C: exit code 130) keeps every line it wrote; table and json
are printed at the end.

Long recordings are read in blocks, so memory does not grow with the file: per window
(``--frame-length``, at most 600 s) or, in whole-file mode, through each method's frame-summed
statistics (same result as one read, up to rounding).

No source: each estimate has a confidence in [0, 1], the fraction of diffuse-noise windows whose
spatial spectrum stood out less (peak over median; calibrated per method and array, see
soundloc.doa.confidence). Estimates below ``--min-confidence`` (default 0.97: at most 5 % false
alarms on diffuse noise) and windows quieter than ``--min-level`` dBFS (default -90) report no
source; ``decision`` says which rule decided ("source", "below-confidence", "below-level") and
``rejected`` lists the candidates that were turned down. ``power`` is the spectrum value at the
peak (spectrum scaled to max 1), as before.

Devices that record extra channels: ``--channels`` picks the array's mics, in the array's
mic order, e.g. the ReSpeaker USB Mic Array v2.0 (6-channel firmware: 0 = processed,
1-4 = raw mics, 5 = playback reference): ``--array respeaker4 --channels 1-4``.

Linear arrays (all mics on one line, e.g. linear4, stereo): a direction and its mirror image
about the array axis arrive with the same delays, so with ``--grid auto`` only the half circle
on the front side of the axis is searched (azimuth -90 to 90 for an array along y).

Bad files: by default each bad file (unreadable, wrong channel count, wrong rate with
``--no-resample``, empty, NaN, silent...) is reported on stderr in one line and skipped; the
others are processed and the exit code is 1. With ``--strict`` the first bad file stops the
run (exit code 2, nothing printed on stdout).

Learned models: ``--model RUN|MODEL.json|builtin:NAME`` localizes with a trained SELD model instead
of a classical method (a ``soundloc train`` run folder, a saved model, or a built-in one: see
``soundloc models``). The output is the same, plus each source's ``class`` (and ``distance`` in
metres for multi-ACCDDOA models); ``confidence`` is the model's mean activity over the frames
where the source is active, ``power`` the fraction of the window's 100 ms frames in which it is.
A window's sources are the classes (tracks) active in it, each at the mean of the model's frame
directions; see soundloc.train.localize for the rule. ``--array`` may be left out (the model
knows its array; if given it must match), and audio of another array, channel count or sample
rate is refused (exit code 2; ``--fs RATE`` resamples to the model's rate). ``--min-confidence``
is the activity threshold (default 0.5); ``--sources`` caps the sources per window (default: all).

Exit codes: 0 all files localized; 1 some files skipped; 2 the command could not run (bad
option, unknown array or method, malformed array JSON, an option that does not fit a file's
sample rate such as ``--fmax`` above its Nyquist frequency, ``--strict`` and a bad file);
130 interrupted.

``--plot out.png``: a polar plot of the spatial spectrum, one panel per method. With several
input files one image per file is written, named ``out_<file stem>.png`` (a ``-2``, ``-3``...
suffix keeps stems that repeat apart). With ``--frame-length`` a DOA-vs-time plot is written
as well, named like the polar plot plus ``_time`` (``out_time.png``, ``out_<stem>_time.png``);
the plot needs every window's spatial spectrum, so with ``--plot`` memory grows with the
number of windows (a few KB each).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Sequence

from soundloc.cli._text import align_table

PROGRESS_MIN_FILES = 4
"""With ``--progress auto`` a bar is drawn from this many input files on, when stderr is a terminal."""

MAX_NFFT = 65536
"""Largest ``--nfft`` (4 s at 16 kHz)."""

MAX_FS = 768000
"""Largest ``--fs`` in Hz."""

MAX_FRAME_S = 600.0
"""Largest ``--frame-length`` / ``--hop`` in seconds (a window is held in memory; longer: whole-file mode)."""

MAX_CHANNELS = 1024
"""Most channels ``--channels`` may select."""

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "localize",
        help="localize sound sources in multichannel recordings",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="audio files or folders (searched recursively)")
    p.add_argument("--array", default=None, metavar="NAME|JSON",
                   help="array preset (see `soundloc arrays`), foa (first-order ambisonics, ACN/SN3D) "
                        "or a JSON file with mic positions (required, except with --model)")
    p.add_argument("--model", default=None, metavar="RUN|MODEL.json|builtin:NAME",
                   help="localize with a trained SELD model: a soundloc train run folder, a model .json, or a built-in "
                        "model (see `soundloc models`); sources also get their class")
    p.add_argument("--method", default=None, metavar="NAME",
                   help="srp-phat (default), music, normmusic, gcc-phat, iv (FOA only), a comma-separated list, or 'all' "
                        "(the methods that work on the array)")
    p.add_argument("--channels", default=None, metavar="LIST",
                   help="0-based file channels holding the array's mics, in the array's mic order: indices "
                        "and ranges, e.g. 1-4 or 1,2,3,4 (must select one channel per mic, at most 1024; default: all "
                        "channels, and the file must have one per mic). ReSpeaker USB v2.0 6-channel "
                        "recordings (0 processed, 1-4 mics, 5 playback): --array respeaker4 --channels 1-4")
    p.add_argument("--sources", type=int, default=None, metavar="K",
                   help="number of sources to report (default 1; with --model: at most K, default all detected)")
    p.add_argument("--frame-length", type=float, default=None, metavar="S",
                   help="localize in windows of S seconds, at most 600 (default: the whole file)")
    p.add_argument("--hop", type=float, default=None, metavar="S",
                   help="window hop in seconds, at most 600 (default: frame length)")
    p.add_argument("--fmin", type=float, default=None, metavar="HZ", help="lowest analysed frequency (default 300)")
    p.add_argument("--fmax", type=float, default=None, metavar="HZ", help="highest analysed frequency (method default)")
    p.add_argument("--nfft", type=int, default=None, metavar="N", help="STFT length in samples, 8 to 65536 (default 512)")
    p.add_argument("--grid", choices=("auto", "2d", "3d"), default="auto",
                   help="2d: azimuth circle in the horizontal plane, 1 degree; 3d: sphere (upper half for "
                        "planar arrays); auto (default): for a linear horizontal array (linear4, stereo, a "
                        "collinear JSON) the half circle on the front side of its axis, 1 degree (mirror "
                        "directions behind it give the same delays; along y: azimuth -90 to 90, along x: "
                        "0 to 180), 2d for other arrays in a horizontal plane, 3d for 3-D arrays "
                        "(e.g. tetra: on the 2d circle their azimuths of elevated sources can be far off)")
    p.add_argument("--min-separation", type=float, default=None, metavar="DEG",
                   help="minimum angle between reported sources (default 20)")
    p.add_argument("--min-confidence", type=float, default=None, metavar="C",
                   help="report an estimate only if its confidence (0-1, calibrated on diffuse noise) is at least C "
                        "(default 0.97: at most 5 %% false alarms on diffuse noise; 0: report every peak); with "
                        "--model: the activity threshold, between 0 and 1 (default 0.5)")
    p.add_argument("--min-level", type=float, default=None, metavar="DBFS",
                   help="windows quieter than this mean-square level report no source (default -90 dBFS; -inf: no gate)")
    p.add_argument("--fs", type=float, default=None, metavar="HZ",
                   help="resample every file to this rate, at most 768000 (default: each file at its own rate)")
    p.add_argument("--no-resample", action="store_true", help="with --fs: refuse files at another rate")
    p.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                   help="output format: table (default), json (a list, at the end) or jsonl (one object per "
                        "line, written as soon as computed; an interrupted run keeps its lines)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write polar plot(s) of the spatial spectrum")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad file (default: skip it, exit 1)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help=f"progress bar on stderr (auto: from {PROGRESS_MIN_FILES} files on, when stderr is a terminal)")
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------------
# option handling
# ---------------------------------------------------------------------------


def parse_methods(spec: str, array=None) -> list[str]:
    """``"all"``, one name or a comma-separated list -> registry names (ValueError lists choices).

    With ``array``, ``all`` means the methods that work on it (:func:`soundloc.doa.localizers_for`)
    and a method that does not (GCC-PHAT on FOA, ``iv`` on a mic array) is a ValueError.
    """
    from soundloc.doa import ALIASES, LOCALIZERS, localizers_for

    names = [s.strip().lower().replace("_", "-") for s in str(spec).split(",") if s.strip()]
    if not names:
        raise ValueError("no method given; choose from " + ", ".join(LOCALIZERS) + " or 'all'")
    usable = list(LOCALIZERS) if array is None else localizers_for(array)
    if "all" in names:
        return usable
    out: list[str] = []
    for n in names:
        n = ALIASES.get(n, n)
        if n not in LOCALIZERS:
            raise ValueError(f"unknown method '{n}'; choose from {', '.join(LOCALIZERS)} or 'all'")
        if n not in usable:
            raise ValueError(f"method '{n}' does not work on array '{array.name}'; choose from {', '.join(usable)} or 'all'")
        if n not in out:
            out.append(n)
    return out


def parse_channels(spec: str) -> list[int]:
    """``"1-4"`` / ``"1,2,3,4"`` / ``"0,2-3"`` -> 0-based channel indices in the given order.

    Raises ValueError for a malformed item, a descending range, a negative or repeated index, or
    more than :data:`MAX_CHANNELS` channels (counted before any range is expanded).
    """
    items = [t.strip() for t in str(spec).split(",")]
    if not any(items):
        raise ValueError("--channels: no channels given; use e.g. 1-4 or 1,2,3,4")
    ranges: list[tuple[int, int]] = []
    total = 0
    for item in items:
        lo, sep, hi = item.partition("-")
        try:
            a = int(lo.strip())
            b = int(hi.strip()) if sep else a
        except ValueError:
            raise ValueError(f"--channels: '{item}' is not a channel index or range (use e.g. 1-4 or 1,2,3,4)") from None
        if b < a:
            raise ValueError(f"--channels: range '{item}' goes down; write it as {b}-{a} or list the channels")
        total += b - a + 1
        if total > MAX_CHANNELS:
            raise ValueError(f"--channels: '{spec}' selects more than {MAX_CHANNELS} channels")
        ranges.append((a, b))
    out: list[int] = []
    seen: set[int] = set()
    for a, b in ranges:
        for c in range(a, b + 1):
            if c in seen:
                raise ValueError(f"--channels: channel {c} is selected twice in '{spec}'")
            seen.add(c)
            out.append(c)
    return out


def _check_seconds(value: float | None, option: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option} must be a positive number of seconds, got {value}")
    if value is not None and value > MAX_FRAME_S:
        raise ValueError(f"{option} {value:g} s is above the limit of {MAX_FRAME_S:g} s "
                         "(for longer, drop --frame-length: the whole file is one window)")


MODEL_EXCLUDES = ("method", "nfft", "fmin", "fmax", "min_separation")
"""Options of the classical methods that a learned model does not take."""


def _check_options(args: argparse.Namespace) -> None:
    if args.model is not None:
        given = [o for o in MODEL_EXCLUDES if getattr(args, o) is not None]
        if given:
            raise ValueError(f"--{given[0].replace('_', '-')} is an option of the classical methods; a --model has its "
                             "own features (leave it out)")
        if args.min_confidence is not None and not 0 < args.min_confidence < 1:
            raise ValueError(f"--min-confidence with --model is an activity threshold between 0 and 1 (exclusive), "
                             f"got {args.min_confidence:g}")
    elif args.array is None:
        raise ValueError("--array is required (or localize with a trained model: --model RUN|builtin:NAME)")
    if args.method is None:
        args.method = "srp-phat"
    if args.nfft is None:
        args.nfft = 512
    if args.min_separation is None:
        args.min_separation = 20.0
    if args.sources is not None and args.sources < 1:
        raise ValueError(f"--sources must be >= 1, got {args.sources}")
    _check_seconds(args.frame_length, "--frame-length")
    if args.hop is not None:
        if args.frame_length is None:
            raise ValueError("--hop needs --frame-length")
        _check_seconds(args.hop, "--hop")
    if args.fs is not None:
        if not (math.isfinite(args.fs) and args.fs.is_integer() and 0 < args.fs <= MAX_FS):
            raise ValueError(f"--fs must be a whole number of Hz from 1 to {MAX_FS}, got {args.fs:g}")
        args.fs = int(args.fs)
    if args.no_resample and args.fs is None:
        raise ValueError("--no-resample needs --fs (without it every file is read at its own rate)")
    if args.model is None and args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise ValueError(f"--min-confidence must be between 0 and 1, got {args.min_confidence:g}")
    if args.min_level is not None and (math.isnan(args.min_level) or args.min_level == math.inf):
        raise ValueError(f"--min-level must be a level in dBFS (or -inf for no gate), got {args.min_level:g}")
    if not 0 <= args.min_separation <= 180:
        raise ValueError(f"--min-separation must be between 0 and 180 degrees, got {args.min_separation}")
    if not 8 <= args.nfft <= MAX_NFFT:
        raise ValueError(f"--nfft must be from 8 to {MAX_NFFT} samples, got {args.nfft}")
    if args.fmin is not None and not (math.isfinite(args.fmin) and args.fmin >= 0):
        raise ValueError(f"--fmin must be a frequency >= 0 Hz, got {args.fmin}")
    if args.fmax is not None and not (math.isfinite(args.fmax) and args.fmax > 0):
        raise ValueError(f"--fmax must be a frequency > 0 Hz, got {args.fmax}")
    if args.fmin is not None and args.fmax is not None and args.fmin >= args.fmax:
        raise ValueError(f"--fmin ({args.fmin:g} Hz) must be below --fmax ({args.fmax:g} Hz)")
    from soundloc.device import resolve_device

    resolve_device(args.device, option="--device")
    if args.plot is not None:
        if Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
            raise ValueError(f"--plot: cannot write '{Path(args.plot).suffix or args.plot}' images; use {', '.join(PLOT_SUFFIXES)}")
        folder = Path(args.plot).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise ValueError(f"--plot: {folder} exists and is not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"--plot: cannot write {args.plot} (no write permission in {folder})")


def plot_paths(out: str | Path, files: Sequence[Path]) -> list[Path]:
    """Plot file per input: ``out`` itself for one input, else ``out_<stem>[-n].<ext>``."""
    out = Path(out)
    if len(files) == 1:
        return [out]
    used: dict[str, int] = {}
    paths = []
    for f in files:
        stem = f.stem
        used[stem] = used.get(stem, 0) + 1
        tag = stem if used[stem] == 1 else f"{stem}-{used[stem]}"
        paths.append(out.with_name(f"{out.stem}_{tag}{out.suffix}"))
    return paths


def time_plot_path(polar_path: Path) -> Path:
    return polar_path.with_name(f"{polar_path.stem}_time{polar_path.suffix}")


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------


def format_table(records: Sequence[dict]) -> str:
    """Aligned text table, one row per source (file / method / times are not repeated).

    A window without a source gets one row of ``-`` with the rule that decided in the ``conf``
    column (``below-confidence`` / ``below-level``).
    """
    header = ["file", "method", "start", "end", "src", "azimuth", "elevation", "power", "conf"]
    srcs_all = [s for rec in records for s in rec["sources"]]
    with_class = any("class" in s for s in srcs_all)
    with_dist = any("distance" in s for s in srcs_all)
    header += ["class"] * with_class + ["dist"] * with_dist
    rows: list[list[str]] = []
    for rec in records:
        srcs = rec["sources"] or [None]
        for k, s in enumerate(srcs):
            first = k == 0
            cells = [
                rec["file"] if first else "",
                rec["method"] if first else "",
                f"{rec['start']:.2f}" if first and rec["start"] is not None else "",
                f"{rec['end']:.2f}" if first and rec["end"] is not None else "",
            ]
            if s is None:
                cells += ["-", "-", "-", "-", rec.get("decision") or "-"]  # no source: the rule that decided
                cells += ["-"] * (with_class + with_dist)
            else:
                cells += [
                    str(k + 1),
                    "nan" if s["azimuth"] is None else f"{s['azimuth']:.1f}",
                    "nan" if s["elevation"] is None else f"{s['elevation']:.1f}",
                    "nan" if s["power"] is None else f"{s['power']:.3f}",
                    "-" if s.get("confidence") is None else f"{s['confidence']:.2f}",
                ]
                if with_class:
                    cells.append(str(s.get("class", "-")))
                if with_dist:
                    cells.append("-" if s.get("distance") is None else f"{s['distance']:.2f}")
            rows.append(cells)
    return align_table(header, rows, left={0, 1})


# ---------------------------------------------------------------------------
# command
# ---------------------------------------------------------------------------


def _inputs(args: argparse.Namespace, report) -> tuple[list[Path], list[str]] | None:
    """The audio files and the missing-path messages (reported); ``None`` when there is nothing to do."""
    from soundloc.doa.batch import expand_inputs

    files, missing = expand_inputs(args.inputs)
    if missing and args.strict:
        raise ValueError(missing[0])
    for msg in missing:
        report(msg)
    if not files:
        if missing:
            return None
        raise ValueError("no audio files to localize")
    return files, missing


def _show_progress(args: argparse.Namespace, n_files: int) -> bool:
    return args.progress == "always" or (args.progress == "auto" and n_files >= PROGRESS_MIN_FILES and sys.stderr.isatty())


def _model_events(args: argparse.Namespace, files: Sequence[Path], channels: list[int] | None, model, label: str):
    """The events of ``--model`` (its checks raise here: exit 2, nothing printed)."""
    from soundloc.doa.batch import resolve_grid
    from soundloc.geometry import array_from_dict, get_array
    from soundloc.train.localize import DEFAULT_THRESHOLD, check_model, iter_localize_model

    spec = check_model(model)
    array = get_array(args.array) if args.array is not None else array_from_dict(dict(spec.array))
    if channels is not None and len(channels) != spec.num_channels:
        raise ValueError(f"--channels selects {len(channels)} channels ({args.channels}), the model expects {spec.num_channels}")
    if args.fs is not None and args.fs != spec.fs:
        raise ValueError(f"--fs {args.fs}: this model was trained for {spec.fs} Hz audio (use --fs {spec.fs})")
    kwargs: dict = {}
    if args.min_level is not None:
        kwargs["min_level_dbfs"] = args.min_level
    return iter_localize_model(
        files, model, label=label, array=array, fs=args.fs, resample=not args.no_resample, channels=channels,
        device=args.device, strict=args.strict, progress=_show_progress(args, len(files)),
        grid=resolve_grid(args.grid, array), frame_length=args.frame_length, hop_length=args.hop,
        threshold=DEFAULT_THRESHOLD if args.min_confidence is None else args.min_confidence,
        max_sources=args.sources, keep_whole=args.plot is not None, **kwargs), [label]


def _classical_events(args: argparse.Namespace, files: Sequence[Path], channels: list[int] | None, report):
    from soundloc.doa.batch import iter_localize, resolve_grid
    from soundloc.geometry import get_array

    array = get_array(args.array)
    methods = parse_methods(args.method, array)
    if array.is_coincident and "all" in args.method.lower():
        from soundloc.doa import LOCALIZERS

        skipped = ", ".join(m for m in LOCALIZERS if m not in methods)
        report(f"{skipped} skipped (needs a spaced microphone array, not FOA)", "note")
    kwargs: dict = {"nfft": args.nfft, "device": args.device}
    if args.fmin is not None:
        kwargs["fmin"] = args.fmin
    if args.fmax is not None:
        kwargs["fmax"] = args.fmax
    if args.min_confidence is not None:
        kwargs["min_confidence"] = args.min_confidence
    if args.min_level is not None:
        kwargs["min_level_dbfs"] = args.min_level
    try:  # options that do not fit a file's rate raise here, once: exit 2, nothing printed
        events = iter_localize(
            files, array, methods,
            num_sources=args.sources, fs=args.fs, resample=not args.no_resample,
            frame_length=args.frame_length, hop_length=args.hop, grid=resolve_grid(args.grid, array),
            channels=channels,
            min_separation_deg=args.min_separation, localizer_kwargs=kwargs, strict=args.strict,
            keep_whole=args.plot is not None, progress=_show_progress(args, len(files)),
        )
    except ValueError as e:  # name the option as the user typed it
        msg = str(e)
        raise ValueError("--" + msg if msg.split(" ")[0] in ("fmin", "fmax", "nfft") else msg) from e
    return events, methods


def run(args: argparse.Namespace) -> int:
    from soundloc.doa.base import capped_notice
    from soundloc.doa.batch import to_records

    _check_options(args)

    def report(msg: str, what: str = "error") -> None:
        print(f"soundloc localize: {what}: {msg}", file=sys.stderr)

    channels = parse_channels(args.channels) if args.channels is not None else None
    loaded = None
    if args.model is None:  # the run's own errors come first, before the inputs are looked at
        from soundloc.geometry import get_array

        array = get_array(args.array)
        if channels is not None and len(channels) != array.num_mics:
            raise ValueError(f"--channels selects {len(channels)} channels ({args.channels}), "
                             f"array '{array.name}' has {array.num_mics} mics")
        parse_methods(args.method, array)
        args.sources = 1 if args.sources is None else args.sources
    else:
        from soundloc.models.builtin import resolve_model

        loaded = resolve_model(args.model, device=args.device)
    found = _inputs(args, report)
    if found is None:
        return 1
    files, missing = found
    if loaded is not None:
        events, methods = _model_events(args, files, channels, *loaded)
    else:
        events, methods = _classical_events(args, files, channels, report)
    order = {m: k for k, m in enumerate(methods)}
    records: list[list[dict]] = [[] for _ in files]  # small: no spectra
    kept: list[list] = [[] for _ in files]  # DOAResults, for plots only
    fewest = args.sources or 0  # fewest candidates any window gave (for the capped-request notice)
    whole: list[list] = [[] for _ in files]
    failed: set[int] = set()
    for ev in events:
        if ev.kind == "error":
            report(ev.message)
            failed.add(ev.index)
        elif ev.kind == "notice":
            report(ev.message, "note")
        elif ev.result is None:
            continue
        elif ev.kind == "whole":
            whole[ev.index].append(ev.result)
        elif ev.kind == "result":
            rec = to_records([files[ev.index]], [[ev.result]])[0]
            if args.format == "jsonl":
                sys.stdout.write(json.dumps(rec) + "\n")
                sys.stdout.flush()
            else:
                records[ev.index].append(rec)
            if args.plot is not None:
                kept[ev.index].append(ev.result)
            fewest = min(fewest, ev.result.num_sources)
    for lst in (*records, *kept, *whole):
        lst.sort(key=lambda r: order.get(r["method"] if isinstance(r, dict) else r.method, 0))
    flat = [r for rs in records for r in rs]
    note = capped_notice(fewest, args.sources) if args.model is None else None  # a model finds its own count
    if note is not None:
        report(note, "note")
    if args.format == "json":
        print(json.dumps(flat, indent=2))
    elif args.format == "table" and flat:
        print(format_table(flat))

    if args.plot is not None:
        _write_plots(args, files, kept, whole, failed)
    return 1 if (failed or missing) else 0


def _write_plots(args: argparse.Namespace, files: Sequence[Path], results: list[list], whole: list[list], failed: set[int]) -> None:
    from soundloc.plots import plot_doa_vs_time, plot_polar_spectrum

    targets = plot_paths(args.plot, files)
    written = []
    for i, (f, target) in enumerate(zip(files, targets)):
        if i in failed or not results[i]:
            continue
        try:
            if args.frame_length is None:
                written.append(plot_polar_spectrum(results[i], target, title=str(f)))
            else:
                if whole[i]:  # methods that sum frame statistics (not iv): the whole file's spectrum
                    written.append(plot_polar_spectrum(whole[i], target, title=f"{f} (whole file)"))
                written.append(plot_doa_vs_time(results[i], time_plot_path(target), title=str(f)))
        except OSError as e:
            raise ValueError(f"--plot: cannot write {target} ({e.strerror or type(e).__name__})") from e
    if written:
        shown = ", ".join(str(p) for p in written[:3]) + (f" and {len(written) - 3} more" if len(written) > 3 else "")
        print(f"soundloc localize: wrote {shown}", file=sys.stderr)
