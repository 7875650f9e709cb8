"""Batch localization of many audio files: the library behind ``soundloc localize``.

:func:`localize_files` reads a list of files, builds each localizer once per sample rate, stacks
clips of equal length and locates them together (``Localizer.locate_batch``), optionally in
windows (``locate_frames``). Bad files are reported and skipped (or raise with ``strict=True``).
:func:`expand_inputs` turns files and folders into the file list, :func:`to_records` the results
into JSON-safe records, :func:`resolve_grid` picks the search grid for an array.

Angles in the results: azimuth counter-clockwise from the array's front (+x) in (-180, 180],
elevation up, degrees.

Example:
    >>> from soundloc.geometry import MicArray
    >>> files, missing = expand_inputs(["recordings/"])
    >>> out = localize_files(files, MicArray.preset("circular4"), ["srp-phat"], num_sources=2)
    >>> records = to_records(out.files, out.results)
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from soundloc.doa.base import DOAResult, FrameAccumulator, Localizer, window_follows, window_lookahead
from soundloc.geometry import ArrayModel, DOAGrid, MicArray

BATCH_BYTES = 256 * 2**20
"""Upper bound on the audio of short files stacked into one ``locate_batch`` call."""

STREAM_BYTES = 64 * 2**20
"""Whole-file mode: a file with more audio than this (float32, after resampling) is read block by block."""

WINDOW_BATCH_BYTES = 64 * 2**20
"""Per-window mode: upper bound on the audio of the windows located together."""

GRID_SPECS = ("auto", "2d", "3d")


def resolve_grid_dims(spec: str, array: ArrayModel) -> int:
    """Grid spec (``"auto"``, ``"2d"``, ``"3d"``) -> 2 or 3. ``auto``: 3 for a 3-D array (mics off the horizontal plane), else 2.

    A 3-D array such as the tetrahedral one measures a vertical delay component that no
    direction on the horizontal circle reproduces, so a source 30-45 degrees up can pull the
    azimuth-only search tens of degrees off; planar arrays lose nothing on the circle.
    """
    if spec not in GRID_SPECS:
        raise ValueError(f"unknown grid '{spec}'; choose from {', '.join(GRID_SPECS)}")
    if spec == "auto":
        return 2 if array.is_planar else 3
    return 3 if spec == "3d" else 2


def resolve_grid(spec: str, array: ArrayModel) -> DOAGrid:
    """Grid spec -> the search grid: :func:`resolve_grid_dims`'s, except that ``auto`` gives a
    linear horizontal array only the half circle in front of its axis
    (:meth:`~soundloc.geometry.AzimuthArcGrid.half_plane`): behind it are mirror images.
    """
    from soundloc.geometry import AzimuthArcGrid, default_grid

    dims = resolve_grid_dims(spec, array)
    if spec == "auto" and isinstance(array, MicArray) and array.is_linear and array.is_planar:
        return AzimuthArcGrid.half_plane(array, 1.0)
    return default_grid(array, dims=dims)


def expand_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files and folders (searched recursively) -> (audio files in argument order without repeats,
    one error message per missing path)."""
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


@dataclass(frozen=True)
class LocalizeEvent:
    """One thing :func:`iter_localize` has to say, as soon as it is known.

    Attributes:
        index: the file's position in the input list (-1 for a notice about the whole run).
        kind: ``"result"`` (a whole-file result, or one window's), ``"whole"`` (the whole-file
            result of a file located in windows, with ``keep_whole``), ``"error"`` (the file is
            skipped from here on; results it already gave stay valid) or ``"notice"``.
        result: the :class:`DOAResult` of a ``"result"`` / ``"whole"`` event.
        message: the one-line message of an ``"error"`` / ``"notice"`` event (names the file).
    """

    index: int
    kind: str
    result: DOAResult | None = None
    message: str = ""


@dataclass
class BatchOutput:
    """Results of :func:`localize_files`.

    Attributes:
        files: the input files, in order.
        results: ``results[i]`` holds file ``i``'s :class:`DOAResult` s (method order, then time);
            what a file gave before it failed is kept.
        whole: whole-file results per file (filled in per-window mode with ``keep_whole=True``,
            e.g. for polar plots beside the DOA-vs-time ones).
        errors: one-line messages of the skipped files.
        failed: indices of the skipped files.
        notices: one-line notices (e.g. a file shorter than the window).
    """

    files: list[Path]
    results: list[list[DOAResult]] = field(default_factory=list)
    whole: list[list[DOAResult]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)
    notices: list[str] = field(default_factory=list)


def localize_files(
    files: Sequence[Path],
    array: ArrayModel,
    methods: Sequence[str],
    *,
    on_error: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> BatchOutput:
    """:func:`iter_localize`, collected: every file's results in method order, then time.

    ``on_error`` is called with each skipped file's one-line message; the other arguments are
    :func:`iter_localize`'s.
    """
    out = BatchOutput(files=list(files))
    out.results = [[] for _ in files]
    out.whole = [[] for _ in files]
    for ev in iter_localize(files, array, methods, **kwargs):
        if ev.kind == "result" and ev.result is not None:
            out.results[ev.index].append(ev.result)
        elif ev.kind == "whole" and ev.result is not None:
            out.whole[ev.index].append(ev.result)
        elif ev.kind == "error":
            out.errors.append(ev.message)
            out.failed.add(ev.index)
            if on_error is not None:
                on_error(ev.message)
        elif ev.kind == "notice":
            out.notices.append(ev.message)
    order = {m: k for k, m in enumerate(methods)}
    for rs in (*out.results, *out.whole):
        rs.sort(key=lambda r: order.get(r.method, len(order)))  # stable: time order kept within a method
    return out


def iter_localize(
    files: Sequence[Path],
    array: ArrayModel,
    methods: Sequence[str],
    *,
    num_sources: int = 1,
    fs: int | None = None,
    resample: bool = True,
    frame_length: float | None = None,
    hop_length: float | None = None,
    grid_dims: int = 2,
    grid: DOAGrid | None = None,
    channels: Sequence[int] | None = None,
    min_separation_deg: float = 20.0,
    localizer_kwargs: dict[str, Any] | None = None,
    strict: bool = False,
    keep_whole: bool = False,
    progress: bool = False,
    block_frames: int | None = None,
) -> Iterator[LocalizeEvent]:
    """Localize many files, yielding each result as soon as it is computed (memory bounded).

    Localizers are built once per (method, sample rate), all of them before the first file is
    read, so an option that does not fit a rate (``fmax`` above its Nyquist frequency...) is a
    ``ValueError`` from this call, not a per-file failure.

    Whole-file mode (``frame_length=None``): files are grouped by (sample rate, length) from their
    headers and short ones stacked into ``locate_batch`` calls of at most :data:`BATCH_BYTES`;
    a file whose audio exceeds :data:`STREAM_BYTES` is read block by block
    (:func:`~soundloc.audio.iter_audio_blocks`) into each localizer's
    :meth:`~soundloc.doa.base.Localizer.accumulator` (same result up to summation order).

    Per-window mode: every file is read block by block and its windows are located
    :data:`WINDOW_BATCH_BYTES` at a time; they are the windows of
    :meth:`~soundloc.doa.base.Localizer.locate_frames` on the whole file, with the same results
    (results come window by window, all methods of a window together).

    Args:
        files: audio files, each ``(array.num_mics)`` channels (or more with ``channels``).
        array: the microphone array.
        methods: localizer names (see ``soundloc.doa.LOCALIZERS``).
        num_sources: sources reported per file (or window).
        fs: resample every file to this rate in Hz (default: each file at its own rate).
        resample: with ``fs``, ``False`` refuses files at another rate.
        frame_length, hop_length: localize in windows of this many seconds (default: whole file).
        grid_dims, grid: the search grid (see :func:`resolve_grid`).
        channels: 0-based file channels to use as the array's mics, in mic order (one per mic);
            the signal checks apply to those channels only.
        min_separation_deg: minimum great-circle angle between reported sources.
        localizer_kwargs: passed to every localizer (``nfft``, ``fmin``, ``fmax``, ``device``...).
        strict: raise the first bad file's :class:`ValueError` instead of yielding an error event.
        keep_whole: in per-window mode, also yield each whole file's results (``"whole"`` events).
        progress: show a progress bar (files) on stderr.
        block_frames: samples per block read from long files (default
            :data:`~soundloc.audio.BLOCK_FRAMES`).

    Yields:
        :class:`LocalizeEvent` s.

    Raises:
        ValueError: ``channels`` does not select one channel per mic; a localizer cannot be built
            at some file's rate (the message names the rate and a file); with ``strict``, a bad file.
    """
    import soundfile as sf

    from soundloc.audio import BLOCK_FRAMES
    from soundloc.doa import get_localizer
    from soundloc.geometry import default_grid

    kwargs = dict(localizer_kwargs or {})
    search_grid = default_grid(array, dims=grid_dims) if grid is None else grid
    select: list[int] | None = None
    if channels is not None:
        select = [int(c) for c in channels]
        if len(select) != array.num_mics:
            raise ValueError(f"channels selects {len(select)} channels, array '{array.name}' has {array.num_mics} mics")
    if frame_length is not None and hop_length is None:
        hop_length = frame_length

    # 1) headers (no decoding): early per-file refusals, groups, and the rates to build for
    early: dict[int, str] = {}
    headers: dict[int, tuple[int, int, int]] = {}
    for i, f in enumerate(files):
        try:
            info = sf.info(str(f))
            headers[i] = (int(info.samplerate), int(info.frames), int(info.channels))
        except Exception:  # noqa: BLE001 - the reader gives the user-facing message
            continue
        n_ch = headers[i][2]
        if select is None and n_ch != array.num_mics:
            hint = " (pick them with --channels)" if n_ch > array.num_mics else ""
            early[i] = f"{f}: has {n_ch} channels, array '{array.name}' needs {array.num_mics}{hint}"
        elif select is not None and max(select) >= n_ch:
            bad = ", ".join(str(c) for c in select if c >= n_ch)
            early[i] = f"{f}: has {n_ch} channels (0 to {n_ch - 1}), cannot select channel {bad}"

    def rate_of(i: int) -> int | None:
        """The rate file ``i`` is located at (None: unknown, or it will be refused)."""
        if i not in headers or i in early:
            return None
        r = headers[i][0]
        if fs is not None and int(fs) != r:
            return int(fs) if resample else None
        return r

    localizers: dict[int, dict[str, Localizer]] = {}

    def locs_at(rate: int, example: Path) -> dict[str, Localizer]:
        if rate not in localizers:
            try:
                localizers[rate] = {m: get_localizer(m, array, rate, grid=search_grid, **kwargs) for m in methods}
            except ValueError as e:
                why = "--fs" if fs is not None else f"the rate of {example}"
                raise ValueError(f"{e} (at {rate} Hz, {why})") from e
        return localizers[rate]

    for i, f in enumerate(files):
        r = rate_of(i)
        if r is not None:
            locs_at(r, f)
    return _run(files, array, methods, early, headers, rate_of, locs_at, select, _Options(
        num_sources=num_sources, fs=None if fs is None else int(fs), resample=resample, frame_length=frame_length,
        hop_length=hop_length, min_sep=min_separation_deg, strict=strict, keep_whole=keep_whole, progress=progress,
        block_frames=BLOCK_FRAMES if block_frames is None else int(block_frames)))


@dataclass(frozen=True)
class _Options:
    """:func:`iter_localize`'s per-run settings, as its generator needs them."""

    num_sources: int
    fs: int | None
    resample: bool
    frame_length: float | None
    hop_length: float | None
    min_sep: float
    strict: bool
    keep_whole: bool
    progress: bool
    block_frames: int


def _run(
    files: Sequence[Path],
    array: ArrayModel,
    methods: Sequence[str],
    early: dict[int, str],
    headers: dict[int, tuple[int, int, int]],
    rate_of: Callable[[int], int | None],
    locs_at: Callable[[int, Path], dict[str, Localizer]],
    select: list[int] | None,
    o: _Options,
) -> Iterator[LocalizeEvent]:
    """The generator behind :func:`iter_localize` (whose checks run when it is called)."""
    from tqdm import tqdm

    from soundloc.audio import iter_audio_blocks, read_audio

    M = array.num_mics
    bar = tqdm(total=len(files), file=sys.stderr, unit="file", desc="localize", disable=not o.progress, leave=False)

    def say(ev: LocalizeEvent) -> Iterator[LocalizeEvent]:
        """Yield a message event with the progress bar out of the way."""
        if ev.kind == "error" and o.strict:
            raise ValueError(ev.message)
        if o.progress:
            bar.clear()
        yield ev
        if o.progress:
            bar.refresh()

    def blocks_of(i: int) -> Iterator[tuple[np.ndarray, int]]:
        return iter_audio_blocks(files[i], o.block_frames, fs=o.fs, channels=M, resample=o.resample, select=select)

    try:
        # once per sample rate: a method whose confidence table does not hold at these settings
        known = {rate_of(i) for i in range(len(files)) if i not in early}
        for rate in sorted(x for x in known if x is not None):
            off = [m for m, loc in locs_at(rate, files[0]).items() if loc.confidence_uncalibrated]
            if off:
                yield from say(LocalizeEvent(-1, "notice", message=(
                    f"{', '.join(off)} at {rate} Hz: the confidence is calibrated at 16000 Hz with nfft 512, hop 256 "
                    "and the default band only, so these estimates carry none (null) and only the energy gate "
                    "(--min-level) decides; resample with --fs 16000 to use it")))
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in range(len(files)):
            if i in early:
                yield from say(LocalizeEvent(i, "error", message=early[i]))
                bar.update(1)
                continue
            r = rate_of(i)
            if o.frame_length is not None:
                key: tuple[Any, ...] = ("stream",)
            elif i in headers and r is not None:
                frames = headers[i][1] * r // headers[i][0]
                key = ("stream",) if frames * M * 4 > STREAM_BYTES else headers[i]
            else:
                key = ("unreadable", i)
            groups.setdefault(key, []).append(i)

        for key, idx in groups.items():
            if key == ("stream",):
                for i in idx:
                    yield from _stream_file(i, files[i], blocks_of(i), locs_at, methods, o, say)
                    bar.update(1)
                continue
            # short files, whole-file mode: read, stack equal lengths, locate together
            frames = int(key[1]) if len(key) == 3 else 0
            chunk = max(1, min(256, BATCH_BYTES // max(1, M * max(frames, 1) * 4)))
            for c0 in range(0, len(idx), chunk):
                clips: list[np.ndarray] = []
                good: list[int] = []
                rate = 0
                for i in idx[c0 : c0 + chunk]:
                    try:
                        x, rate = read_audio(files[i], fs=o.fs, channels=M, resample=o.resample, select=select)
                    except ValueError as e:
                        yield from say(LocalizeEvent(i, "error", message=str(e)))
                        bar.update(1)
                        continue
                    clips.append(x)
                    good.append(i)
                if not good:
                    continue
                locs = locs_at(int(rate), files[good[0]])
                if len({c.shape[-1] for c in clips}) == 1:
                    batch = np.stack(clips)
                    per_method = [locs[m].locate_batch(batch, o.num_sources, min_separation_deg=o.min_sep) for m in methods]
                    for k, i in enumerate(good):
                        for res in per_method:
                            yield LocalizeEvent(i, "result", res[k])
                else:
                    for i, x in zip(good, clips):
                        for m in methods:
                            yield LocalizeEvent(i, "result", locs[m].locate(x, o.num_sources, min_separation_deg=o.min_sep))
                bar.update(len(good))
    finally:
        bar.close()


def _stream_file(
    i: int,
    f: Path,
    blocks: Iterator[tuple[np.ndarray, int]],
    locs_at: Callable[[int, Path], dict[str, Localizer]],
    methods: Sequence[str],
    o: _Options,
    say: Callable[[LocalizeEvent], Iterator[LocalizeEvent]],
) -> Iterator[LocalizeEvent]:
    """Locate one file read block by block: its windows (per-window mode) and/or whole-file results."""
    from soundloc.audio import AudioError

    try:
        first = next(blocks)
    except AudioError as e:
        yield from say(LocalizeEvent(i, "error", message=str(e)))
        return
    rate = first[1]
    locs = locs_at(rate, f)
    accs: dict[str, FrameAccumulator] = {}
    if o.frame_length is None or o.keep_whole:  # the methods that can sum frame statistics
        accs = {m: locs[m].accumulator() for m in methods if locs[m].frame_statistic_for_array() is not None}
    if o.frame_length is None:
        # a method that cannot sum frame statistics skips this file; the others still give results
        skipped = [m for m in methods if m not in accs]
        if skipped:
            yield from say(LocalizeEvent(i, "error", message=(
                f"{f}: too long for whole-file {', '.join(skipped)} ({STREAM_BYTES // 2**20} MiB of audio at most); "
                "localize it in windows (--frame-length)")))
        if not accs:
            return

    def feed() -> Iterator[np.ndarray]:
        for x, _ in itertools.chain([first], blocks):
            for acc in accs.values():
                acc.add(x)
            yield x

    kind = "result" if o.frame_length is None else "whole"
    try:
        if o.frame_length is None:
            for _ in feed():
                pass
        else:
            yield from _stream_windows(i, f, feed(), rate, locs, methods, o, say)
        for m, acc in accs.items():
            yield LocalizeEvent(i, kind, acc.result(o.num_sources, min_separation_deg=o.min_sep))
    except AudioError as e:
        yield from say(LocalizeEvent(i, "error", message=str(e)))


def _stream_windows(
    i: int,
    f: Path,
    blocks: Iterator[np.ndarray],
    fs: int,
    locs: dict[str, Localizer],
    methods: Sequence[str],
    o: _Options,
    say: Callable[[LocalizeEvent], Iterator[LocalizeEvent]],
) -> Iterator[LocalizeEvent]:
    """The windows of ``Localizer.locate_frames`` on the concatenated ``blocks``, located batch by batch."""
    loc0 = locs[methods[0]]
    nfft = max(loc.nfft for loc in locs.values())  # methods share nfft (one option)
    if o.frame_length is None or o.hop_length is None:
        raise ValueError("per-window mode needs frame_length and hop_length")
    frame_length = o.frame_length
    win = max(int(round(frame_length * fs)), nfft)
    hop = max(int(round(o.hop_length * fs)), 1)
    M = loc0.num_mics
    per_batch = max(1, min(min(loc.batch_size for loc in locs.values()), WINDOW_BATCH_BYTES // (M * win * 4)))
    pending: list[tuple[int, int, np.ndarray]] = []

    def flush() -> Iterator[LocalizeEvent]:
        frames = np.stack([w for _, _, w in pending])
        valid = [e - s for s, e, _ in pending]  # a cut last window is zero-padded: its real samples
        per_method = [locs[m].locate_batch(frames, o.num_sources, min_separation_deg=o.min_sep, valid_samples=valid)
                      for m in methods]
        for k, (s, e, _) in enumerate(pending):
            for res in per_method:
                yield LocalizeEvent(i, "result", replace(res[k], start=s / fs, end=e / fs))
        pending.clear()

    try:
        for s, e, w in _cut_windows(blocks, M, win, hop, nfft):
            if s == 0 and e < int(round(frame_length * fs)):
                yield from say(LocalizeEvent(i, "notice", message=(
                    f"{f}: {e / fs:.2f} s long, shorter than the {frame_length:g} s window: one window")))
            pending.append((s, e, w))
            if len(pending) == per_batch:
                yield from flush()
    except ValueError:  # a bad block: the windows read before it are still good
        if pending:
            yield from flush()
        raise
    if pending:
        yield from flush()


def _cut_windows(blocks: Iterator[np.ndarray], M: int, win: int, hop: int, nfft: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, end, window (M, win) float32, zero-padded past the end)`` over consecutive ``blocks``.

    The windows of :meth:`~soundloc.doa.base.Localizer.locate_frames`: starts ``0, hop, ...``; a
    next one exists while the current one ends before the input and leaves at least ``nfft``
    samples after the next start. Only about one window (plus one block) is held; the rest of the
    blocks is still read (and so checked) after the last window.
    """
    buf = np.zeros((M, 0), dtype=np.float32)
    buf0 = 0  # input index of buf[:, 0]
    s = 0
    eof = False

    def trim() -> None:
        nonlocal buf, buf0
        k = min(max(s - buf0, 0), buf.shape[1])
        if k:
            buf, buf0 = buf[:, k:], buf0 + k  # a view: no copy per window

    def fill(need: int) -> None:
        """Read blocks until the buffer reaches input index ``need`` (or the input ends)."""
        nonlocal buf, buf0, eof
        while not eof and buf0 + buf.shape[1] < need:
            x = next(blocks, None)
            if x is None:
                eof = True
                break
            if not buf.shape[1]:  # hop > window: skip the samples no window needs
                skip = min(max(s - buf0, 0), x.shape[1])
                buf, buf0 = x[:, skip:], buf0 + skip
            else:
                buf = np.concatenate([buf, x], axis=1)

    while True:
        fill(s + win)  # this window's samples
        seg = buf[:, s - buf0 : s - buf0 + win]
        w = np.zeros((M, win), dtype=np.float32)
        w[:, : seg.shape[1]] = seg
        yield s, s + seg.shape[1], w
        fill(window_lookahead(s, win, hop, nfft))  # enough to know whether another window follows
        n = buf0 + buf.shape[1]  # the input length once eof
        if eof and not window_follows(s, win, hop, n, nfft):
            break
        s += hop
        trim()
    for _ in blocks:  # the tail: read (and checked) like the rest
        pass


def to_records(files: Sequence[Path], results: Sequence[Sequence[DOAResult]]) -> list[dict[str, Any]]:
    """JSON records in file order: ``{"file", "start", "end", "method", "decision", "level_dbfs", "sources":
    [{"azimuth", "elevation", "power", "confidence", "decision"}], "rejected": [...]}`` (see ``DOAResult.to_dict``).

    Degrees and seconds as plain floats (non-finite values become ``None``).
    """
    recs = []
    for f, rs in zip(files, results):
        for r in rs:
            d = r.to_dict()
            recs.append({"file": str(f), "start": d["start"], "end": d["end"], "method": d["method"],
                         "decision": d["decision"], "level_dbfs": d["level_dbfs"], "sources": d["sources"],
                         "rejected": d["rejected"]})
    return recs
