"""``soundloc localize``: find the directions of the sound sources in multichannel recordings.

Many files (or folders, searched recursively) are processed in one call as a batch: each
localizer is built once per sample rate, clips of equal length are stacked and located
together (``Localizer.locate_batch``), and a progress bar is shown on stderr for more than a
few files.

Output (stdout): an aligned table, or with ``--format json`` a list of objects
``{"file", "start", "end", "method", "sources": [{"azimuth", "elevation", "power"}]}`` -- one
per file and method, or one per window with ``--frame-length``. Angles in degrees: azimuth
counter-clockwise from the array's front (+x) in (-180, 180], elevation up.

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

Exit codes: 0 all files localized; 1 some files skipped; 2 the command could not run (bad
option, unknown array or method, malformed array JSON, ``--strict`` and a bad file).

``--plot out.png``: a polar plot of the spatial spectrum, one panel per method. With several
input files one image per file is written, named ``out_<file stem>.png`` (a ``-2``, ``-3``...
suffix keeps stems that repeat apart). With ``--frame-length`` a DOA-vs-time plot is written
as well, named like the polar plot plus ``_time`` (``out_time.png``, ``out_<stem>_time.png``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from soundloc.cli._text import align_table

PROGRESS_MIN_FILES = 4
"""A progress bar is shown (on stderr) from this many input files on."""

BATCH_BYTES = 256 * 2**20
"""Upper bound on the audio stacked into one ``locate_batch`` call."""

PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "localize",
        help="localize sound sources in multichannel recordings",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="FILE", help="audio files or folders (searched recursively)")
    p.add_argument("--array", required=True, metavar="NAME|JSON",
                   help="array preset (see `soundloc arrays`), foa (first-order ambisonics, ACN/SN3D) "
                        "or a JSON file with mic positions")
    p.add_argument("--method", default="srp-phat", metavar="NAME",
                   help="srp-phat (default), music, normmusic, gcc-phat, iv (FOA only), a comma-separated list, or 'all' "
                        "(the methods that work on the array)")
    p.add_argument("--channels", default=None, metavar="LIST",
                   help="0-based file channels holding the array's mics, in the array's mic order: indices "
                        "and ranges, e.g. 1-4 or 1,2,3,4 (must select one channel per mic; default: all "
                        "channels, and the file must have one per mic). ReSpeaker USB v2.0 6-channel "
                        "recordings (0 processed, 1-4 mics, 5 playback): --array respeaker4 --channels 1-4")
    p.add_argument("--sources", type=int, default=1, metavar="K", help="number of sources to report (default 1)")
    p.add_argument("--frame-length", type=float, default=None, metavar="S",
                   help="localize in windows of S seconds (default: the whole file)")
    p.add_argument("--hop", type=float, default=None, metavar="S", help="window hop in seconds (default: frame length)")
    p.add_argument("--fmin", type=float, default=None, metavar="HZ", help="lowest analysed frequency (default 300)")
    p.add_argument("--fmax", type=float, default=None, metavar="HZ", help="highest analysed frequency (method default)")
    p.add_argument("--nfft", type=int, default=512, metavar="N", help="STFT length in samples (default 512)")
    p.add_argument("--grid", choices=("auto", "2d", "3d"), default="auto",
                   help="2d: azimuth circle in the horizontal plane, 1 degree; 3d: sphere (upper half for "
                        "planar arrays); auto (default): for a linear horizontal array (linear4, stereo, a "
                        "collinear JSON) the half circle on the front side of its axis, 1 degree (mirror "
                        "directions behind it give the same delays; along y: azimuth -90 to 90, along x: "
                        "0 to 180), 2d for other arrays in a horizontal plane, 3d for 3-D arrays "
                        "(e.g. tetra: on the 2d circle their azimuths of elevated sources can be far off)")
    p.add_argument("--min-separation", type=float, default=20.0, metavar="DEG",
                   help="minimum angle between reported sources (default 20)")
    p.add_argument("--fs", type=int, default=None, metavar="HZ",
                   help="resample every file to this rate (default: each file at its own rate)")
    p.add_argument("--no-resample", action="store_true", help="with --fs: refuse files at another rate")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write polar plot(s) of the spatial spectrum")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad file (default: skip it, exit 1)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help=f"progress bar on stderr (auto: from {PROGRESS_MIN_FILES} files on)")
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

    Raises ValueError for a malformed item, a descending range, a negative or repeated index.
    """
    out: list[int] = []
    items = [t.strip() for t in str(spec).split(",")]
    if not any(items):
        raise ValueError("--channels: no channels given; use e.g. 1-4 or 1,2,3,4")
    for item in items:
        lo, sep, hi = item.partition("-")
        try:
            a = int(lo.strip())
            b = int(hi.strip()) if sep else a
        except ValueError:
            raise ValueError(f"--channels: '{item}' is not a channel index or range (use e.g. 1-4 or 1,2,3,4)") from None
        if b < a:
            raise ValueError(f"--channels: range '{item}' goes down; write it as {b}-{a} or list the channels")
        for c in range(a, b + 1):
            if c in out:
                raise ValueError(f"--channels: channel {c} is selected twice in '{spec}'")
            out.append(c)
    return out


def _check_options(args: argparse.Namespace) -> None:
    if args.sources < 1:
        raise ValueError(f"--sources must be >= 1, got {args.sources}")
    if args.frame_length is not None and not args.frame_length > 0:
        raise ValueError(f"--frame-length must be > 0 seconds, got {args.frame_length}")
    if args.hop is not None:
        if args.frame_length is None:
            raise ValueError("--hop needs --frame-length")
        if not args.hop > 0:
            raise ValueError(f"--hop must be > 0 seconds, got {args.hop}")
    if args.fs is not None and args.fs <= 0:
        raise ValueError(f"--fs must be a positive sample rate in Hz, got {args.fs}")
    if args.no_resample and args.fs is None:
        raise ValueError("--no-resample needs --fs (without it every file is read at its own rate)")
    if not args.min_separation >= 0:
        raise ValueError(f"--min-separation must be >= 0 degrees, got {args.min_separation}")
    if args.nfft < 8:
        raise ValueError(f"--nfft must be >= 8 samples, got {args.nfft}")
    if args.fmin is not None and args.fmin < 0:
        raise ValueError(f"--fmin must be >= 0 Hz, got {args.fmin}")
    if args.fmin is not None and args.fmax is not None and args.fmin >= args.fmax:
        raise ValueError(f"--fmin ({args.fmin:g} Hz) must be below --fmax ({args.fmax:g} Hz)")
    _check_device(args.device)
    if args.plot is not None:
        if Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:
            raise ValueError(f"--plot: cannot write '{Path(args.plot).suffix or args.plot}' images; use {', '.join(PLOT_SUFFIXES)}")
        folder = Path(args.plot).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise ValueError(f"--plot: {folder} exists and is not a folder")


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"--device: unknown device '{device}' (use cpu, cuda, cuda:0, mps...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA GPU is available to torch here; use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available here; use --device cpu")


def resolve_grid_dims(spec: str, array) -> int:
    """``--grid`` -> 2 or 3. ``auto``: 3 for a 3-D array (mics off the horizontal plane), else 2.

    A 3-D array such as the tetrahedral one measures a vertical delay component that no
    direction on the horizontal circle reproduces, so a source 30-45 degrees up can pull the
    azimuth-only search tens of degrees off; planar arrays lose nothing on the circle.
    """
    if spec == "auto":
        return 2 if array.is_planar else 3
    return 3 if spec == "3d" else 2


def resolve_grid(spec: str, array):
    """``--grid`` -> the search grid: :func:`resolve_grid_dims`'s, except that ``auto`` gives a
    linear horizontal array only the half circle in front of its axis
    (:meth:`~soundloc.geometry.AzimuthArcGrid.half_plane`): behind it are mirror images.
    """
    from soundloc.geometry import AzimuthArcGrid, default_grid

    if spec == "auto" and array.is_linear and array.is_planar:
        return AzimuthArcGrid.half_plane(array, 1.0)
    return default_grid(array, dims=resolve_grid_dims(spec, array))


def expand_inputs(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Files and folders -> (audio files in argument order, error messages for missing paths)."""
    from soundloc.audio import AudioError, list_audio_files

    files: list[Path] = []
    seen: set[Path] = set()
    errors: list[str] = []
    for p in paths:
        try:
            found = list_audio_files([p])
        except AudioError as e:
            errors.append(str(e))
            continue
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files, errors


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
# batch localization
# ---------------------------------------------------------------------------


@dataclass
class BatchOutput:
    """Results of :func:`localize_files`: ``results[i]`` holds file ``i``'s results (method order, then time)."""

    files: list[Path]
    results: list[list] = field(default_factory=list)
    whole: list[list] = field(default_factory=list)  # whole-file results for plots in per-frame mode
    errors: list[str] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)


def localize_files(
    files: Sequence[Path],
    array,
    methods: Sequence[str],
    *,
    num_sources: int = 1,
    fs: int | None = None,
    resample: bool = True,
    frame_length: float | None = None,
    hop_length: float | None = None,
    grid_dims: int = 2,
    grid=None,
    channels: Sequence[int] | None = None,
    min_separation_deg: float = 20.0,
    localizer_kwargs: dict | None = None,
    strict: bool = False,
    keep_whole: bool = False,
    on_error: Callable[[str], None] | None = None,
    progress: bool = False,
) -> BatchOutput:
    """Localize many files with few localizer builds and batched ``locate_batch`` calls.

    Files are grouped by (sample rate, length) from their headers; each group is read in
    chunks of at most :data:`BATCH_BYTES` of audio and located together. Localizers are built
    once per (method, sample rate). ``grid`` (a ``DOAGrid``) overrides ``grid_dims``.
    ``channels``: 0-based file channels to use as the array's mics, in mic order (one per
    mic); the signal checks apply to those channels only. A bad file is recorded in ``errors`` (and passed to
    ``on_error``) and skipped, or with ``strict=True`` raises the :class:`ValueError`.

    Returns:
        :class:`BatchOutput`; ``results[i]`` is a list of ``DOAResult`` for ``files[i]``
        (empty for a failed file).
    """
    import numpy as np
    import soundfile as sf
    from tqdm import tqdm

    from soundloc.audio import read_audio
    from soundloc.doa import get_localizer
    from soundloc.geometry import default_grid

    out = BatchOutput(files=list(files))
    out.results = [[] for _ in files]
    out.whole = [[] for _ in files]
    kwargs = dict(localizer_kwargs or {})
    if grid is None:
        grid = default_grid(array, dims=grid_dims)
    if channels is not None:
        channels = [int(c) for c in channels]
        if len(channels) != array.num_mics:
            raise ValueError(f"--channels selects {len(channels)} channels, array '{array.name}' has {array.num_mics} mics")

    def read(f: Path):
        # with --channels only the selected channels are checked: an unused one (e.g. a playback
        # reference) may be silent or hold anything
        return read_audio(f, fs=fs, channels=array.num_mics, resample=resample, select=channels)
    localizers: dict[int, dict] = {}  # rate -> {method: Localizer} or {"error": msg}

    bar = tqdm(total=len(files), file=sys.stderr, unit="file", desc="localize", disable=not progress, leave=False)

    def fail(i: int, msg: str) -> None:
        if strict:
            bar.close()
            raise ValueError(msg)
        out.errors.append(msg)
        out.failed.add(i)
        if on_error is not None:
            if progress:
                bar.clear()
            on_error(msg)
            if progress:
                bar.refresh()

    def get_locs(rate: int) -> dict:
        if rate not in localizers:
            try:
                localizers[rate] = {m: get_localizer(m, array, rate, grid=grid, **kwargs) for m in methods}
            except ValueError as e:
                localizers[rate] = {"error": f"{e} (at {rate} Hz)"}
        return localizers[rate]

    # 1) group by header info (no decoding). Unreadable headers get their own group and
    #    read_audio reports the problem.
    groups: dict[tuple, list[int]] = {}
    for i, f in enumerate(files):
        try:
            info = sf.info(str(f))
            key: tuple = (int(info.samplerate), int(info.frames), int(info.channels))
        except Exception:  # noqa: BLE001 - read_audio gives the user-facing message
            key = ("unreadable", i)
        if len(key) == 3 and channels is None and key[2] != array.num_mics:
            hint = " (pick them with --channels)" if key[2] > array.num_mics else ""
            fail(i, f"{f}: has {key[2]} channels, array '{array.name}' needs {array.num_mics}{hint}")
            bar.update(1)
            continue
        groups.setdefault(key, []).append(i)

    # 2) read and locate group by group
    for key, idx in groups.items():
        frames = key[1] if len(key) == 3 else 0
        per_clip = max(1, array.num_mics * max(frames, 1) * 4)
        chunk = max(1, min(256, BATCH_BYTES // per_clip)) if frame_length is None else 1
        for c0 in range(0, len(idx), chunk):
            part = idx[c0 : c0 + chunk]
            clips, good = [], []
            rate = None
            for i in part:
                try:
                    x, r = read(files[i])
                except ValueError as e:
                    fail(i, str(e))
                    bar.update(1)
                    continue
                clips.append(x)
                good.append(i)
                rate = r
            if not good:
                continue
            locs = get_locs(int(rate))
            if "error" in locs:
                for i in good:
                    fail(i, f"{files[i]}: {locs['error']}")
                bar.update(len(good))
                continue
            lengths = {c.shape[-1] for c in clips}
            if frame_length is None and len(lengths) == 1:
                batch = np.stack(clips)
                for m in methods:
                    res = locs[m].locate_batch(batch, num_sources, min_separation_deg=min_separation_deg)
                    for i, r in zip(good, res):
                        out.results[i].append(r)
            else:
                for i, x in zip(good, clips):
                    for m in methods:
                        if frame_length is None:
                            out.results[i].append(locs[m].locate(x, num_sources, min_separation_deg=min_separation_deg))
                        else:
                            out.results[i].extend(locs[m].locate_frames(
                                x, num_sources, frame_length=frame_length, hop_length=hop_length,
                                min_separation_deg=min_separation_deg))
                            if keep_whole:
                                out.whole[i].append(locs[m].locate(x, num_sources, min_separation_deg=min_separation_deg))
            bar.update(len(good))
    bar.close()
    return out


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------


def to_records(files: Sequence[Path], results: Sequence[Sequence]) -> list[dict]:
    """JSON records ``{"file", "start", "end", "method", "sources"}`` in file order."""
    recs = []
    for f, rs in zip(files, results):
        for r in rs:
            d = r.to_dict()
            recs.append({"file": str(f), "start": d["start"], "end": d["end"], "method": d["method"], "sources": d["sources"]})
    return recs


def format_table(records: Sequence[dict]) -> str:
    """Aligned text table, one row per source (file / method / times are not repeated)."""
    header = ["file", "method", "start", "end", "src", "azimuth", "elevation", "power"]
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
                cells += ["-", "-", "-", "-"]
            else:
                cells += [
                    str(k + 1),
                    "nan" if s["azimuth"] is None else f"{s['azimuth']:.1f}",
                    "nan" if s["elevation"] is None else f"{s['elevation']:.1f}",
                    "nan" if s["power"] is None else f"{s['power']:.3f}",
                ]
            rows.append(cells)
    return align_table(header, rows, left={0, 1})


# ---------------------------------------------------------------------------
# command
# ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from soundloc.geometry import get_array

    _check_options(args)
    array = get_array(args.array)
    channels = None
    if args.channels is not None:
        channels = parse_channels(args.channels)
        if len(channels) != array.num_mics:
            raise ValueError(f"--channels selects {len(channels)} channels ({args.channels}), "
                             f"array '{array.name}' has {array.num_mics} mics")
    methods = parse_methods(args.method, array)
    if array.is_coincident and "all" in args.method.lower():
        from soundloc.doa import LOCALIZERS

        skipped = ", ".join(m for m in LOCALIZERS if m not in methods)
        print(f"soundloc localize: note: {skipped} skipped (needs a spaced microphone array, not FOA)", file=sys.stderr)
    files, missing = expand_inputs(args.inputs)

    def report(msg: str) -> None:
        print(f"soundloc localize: error: {msg}", file=sys.stderr)

    if missing and args.strict:
        raise ValueError(missing[0])
    for msg in missing:
        report(msg)
    if not files:
        if missing:
            return 1
        raise ValueError("no audio files to localize")

    kwargs: dict = {"nfft": args.nfft, "device": args.device}
    if args.fmin is not None:
        kwargs["fmin"] = args.fmin
    if args.fmax is not None:
        kwargs["fmax"] = args.fmax
    show = args.progress == "always" or (args.progress == "auto" and len(files) >= PROGRESS_MIN_FILES)
    batch = localize_files(
        files, array, methods,
        num_sources=args.sources, fs=args.fs, resample=not args.no_resample,
        frame_length=args.frame_length, hop_length=args.hop, grid=resolve_grid(args.grid, array),
        channels=channels,
        min_separation_deg=args.min_separation, localizer_kwargs=kwargs, strict=args.strict,
        keep_whole=args.plot is not None, on_error=report, progress=show,
    )
    records = to_records(files, batch.results)
    if args.format == "json":
        print(json.dumps(records, indent=2))
    elif records:
        print(format_table(records))

    if args.plot is not None:
        from soundloc.plots import plot_doa_vs_time, plot_polar_spectrum

        targets = plot_paths(args.plot, files)
        targets[0].parent.mkdir(parents=True, exist_ok=True)
        written = []
        for i, (f, target) in enumerate(zip(files, targets)):
            if i in batch.failed or not batch.results[i]:
                continue
            if args.frame_length is None:
                written.append(plot_polar_spectrum(batch.results[i], target, title=str(f)))
            else:
                written.append(plot_polar_spectrum(batch.whole[i], target, title=f"{f} (whole file)"))
                written.append(plot_doa_vs_time(batch.results[i], time_plot_path(target), title=str(f)))
        if written:
            shown = ", ".join(str(p) for p in written[:3]) + (f" and {len(written) - 3} more" if len(written) > 3 else "")
            print(f"soundloc localize: wrote {shown}", file=sys.stderr)
    return 1 if (batch.errors or missing) else 0
