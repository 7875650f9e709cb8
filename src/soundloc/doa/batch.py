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

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from soundloc.doa.base import DOAResult, Localizer
from soundloc.geometry import DOAGrid, MicArray

BATCH_BYTES = 256 * 2**20
"""Upper bound on the audio stacked into one ``locate_batch`` call."""

GRID_SPECS = ("auto", "2d", "3d")


def resolve_grid_dims(spec: str, array: MicArray) -> int:
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


def resolve_grid(spec: str, array: MicArray) -> DOAGrid:
    """Grid spec -> the search grid: :func:`resolve_grid_dims`'s, except that ``auto`` gives a
    linear horizontal array only the half circle in front of its axis
    (:meth:`~soundloc.geometry.AzimuthArcGrid.half_plane`): behind it are mirror images.
    """
    from soundloc.geometry import AzimuthArcGrid, default_grid

    dims = resolve_grid_dims(spec, array)
    if spec == "auto" and array.is_linear and array.is_planar:
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


@dataclass
class BatchOutput:
    """Results of :func:`localize_files`.

    Attributes:
        files: the input files, in order.
        results: ``results[i]`` holds file ``i``'s :class:`DOAResult` s (method order, then time);
            empty for a failed file.
        whole: whole-file results per file (filled in per-window mode with ``keep_whole=True``,
            e.g. for polar plots beside the DOA-vs-time ones).
        errors: one-line messages of the skipped files.
        failed: indices of the skipped files.
    """

    files: list[Path]
    results: list[list[DOAResult]] = field(default_factory=list)
    whole: list[list[DOAResult]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)


def localize_files(
    files: Sequence[Path],
    array: MicArray,
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
    on_error: Callable[[str], None] | None = None,
    progress: bool = False,
) -> BatchOutput:
    """Localize many files with few localizer builds and batched ``locate_batch`` calls.

    Files are grouped by (sample rate, length) from their headers; each group is read in
    chunks of at most :data:`BATCH_BYTES` of audio and located together. Localizers are built
    once per (method, sample rate). ``grid`` (a ``DOAGrid``) overrides ``grid_dims``.

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
        strict: raise the first bad file's :class:`ValueError` instead of skipping it.
        keep_whole: in per-window mode, also locate each whole file (``BatchOutput.whole``).
        on_error: called with each skipped file's one-line message.
        progress: show a progress bar on stderr.

    Returns:
        :class:`BatchOutput`.

    Raises:
        ValueError: ``channels`` does not select one channel per mic; with ``strict``, a bad file.
    """
    import soundfile as sf
    from tqdm import tqdm

    from soundloc.audio import read_audio
    from soundloc.doa import get_localizer
    from soundloc.geometry import default_grid

    out = BatchOutput(files=list(files))
    out.results = [[] for _ in files]
    out.whole = [[] for _ in files]
    kwargs = dict(localizer_kwargs or {})
    search_grid = default_grid(array, dims=grid_dims) if grid is None else grid
    select: list[int] | None = None
    if channels is not None:
        select = [int(c) for c in channels]
        if len(select) != array.num_mics:
            raise ValueError(f"channels selects {len(select)} channels, array '{array.name}' has {array.num_mics} mics")

    def read(f: Path) -> tuple[np.ndarray, int]:
        # with channels only the selected channels are checked: an unused one (e.g. a playback
        # reference) may be silent or hold anything
        return read_audio(f, fs=fs, channels=array.num_mics, resample=resample, select=select)

    localizers: dict[int, dict[str, Localizer] | str] = {}  # rate -> {method: Localizer} or an error message

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

    def get_locs(rate: int) -> dict[str, Localizer] | str:
        if rate not in localizers:
            try:
                localizers[rate] = {m: get_localizer(m, array, rate, grid=search_grid, **kwargs) for m in methods}
            except ValueError as e:
                localizers[rate] = f"{e} (at {rate} Hz)"
        return localizers[rate]

    # 1) group by header info (no decoding). Unreadable headers get their own group and
    #    read_audio reports the problem.
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, f in enumerate(files):
        try:
            info = sf.info(str(f))
            key: tuple[Any, ...] = (int(info.samplerate), int(info.frames), int(info.channels))
        except Exception:  # noqa: BLE001 - read_audio gives the user-facing message
            key = ("unreadable", i)
        if len(key) == 3 and select is None and key[2] != array.num_mics:
            hint = " (pick them with --channels)" if key[2] > array.num_mics else ""
            fail(i, f"{f}: has {key[2]} channels, array '{array.name}' needs {array.num_mics}{hint}")
            bar.update(1)
            continue
        groups.setdefault(key, []).append(i)

    # 2) read and locate group by group
    for key, idx in groups.items():
        frames = int(key[1]) if len(key) == 3 else 0
        per_clip = max(1, array.num_mics * max(frames, 1) * 4)
        chunk = max(1, min(256, BATCH_BYTES // per_clip)) if frame_length is None else 1
        for c0 in range(0, len(idx), chunk):
            part = idx[c0 : c0 + chunk]
            clips: list[np.ndarray] = []
            good: list[int] = []
            rate = 0
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
            if isinstance(locs, str):
                for i in good:
                    fail(i, f"{files[i]}: {locs}")
                bar.update(len(good))
                continue
            lengths = {c.shape[-1] for c in clips}
            if frame_length is None and len(lengths) == 1:
                batch = np.stack(clips)
                for m in methods:
                    res = locs[m].locate_batch(batch, num_sources, min_separation_deg=min_separation_deg)
                    for i, r_ in zip(good, res):
                        out.results[i].append(r_)
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
