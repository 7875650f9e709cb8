"""Write a simulated dataset to a folder: deterministic, parallel, resumable.

Layout of ``OUT``::

    dataset.json                   generator config, seed, array, classes, corpus identity, splits
    manifest.jsonl                 one line of clip metadata per clip, in index order (written last)
    audio/<split>/clip_000000.flac (M, N) mixture, FLAC PCM-24 (or WAV float32)
    metadata/<split>/clip_000000.csv   DCASE labels (array frame, see soundloc.dataformat)
    metadata/<split>/clip_000000.json  the clip's metadata; written last: marks the clip complete

Guarantees:

* **Deterministic**: clip ``i`` is a pure function of ``(config, seed, i)`` and the corpus
  (:func:`soundloc.scenes.clip.simulate_clip`); the worker count and order do not matter, so the
  same inputs give bit-identical files.
* **Resumable**: every file is written atomically (hidden temp name, then ``os.replace``) and the
  per-clip JSON goes last. A rerun on the same folder checks that ``dataset.json`` describes the
  same dataset (else ``ValueError``: use a new folder or ``overwrite=True``), deletes stray temp
  files of ours, skips complete clips and rebuilds ``manifest.jsonl``. Killing a run at any point
  and rerunning gives the same bytes as an uninterrupted run.
* **Never touches what it did not write**: a soundloc ``dataset.json`` carries
  ``"format": "soundloc-dataset"`` (every version has it). A folder whose ``dataset.json`` lacks
  it, or a non-empty folder without one, is refused even with ``overwrite``. ``overwrite`` deletes
  only the files the old ``dataset.json`` says it wrote (``audio/<split>/clip_NNNNNN.<ext>``,
  ``metadata/<split>/clip_NNNNNN.csv|json`` of its splits and clip indices, ``manifest.jsonl``,
  ``dataset.json``, their hidden temp files) and the folders that become empty; anything else
  stays. A header whose dataset has no clip on disk yet is replaced without ``overwrite``.
* **No residue**: the disk need is estimated and checked against the free space before anything
  is written (:func:`preflight`); a run that fails before completing any clip removes the
  ``dataset.json`` and folders it created, so the corrected rerun starts clean.
* **Parallel**: ``workers > 1`` runs clips in a ``spawn`` process pool (one BLAS/OpenMP thread per
  worker). Any ``concurrent.futures.Executor`` may be passed instead, e.g. a Dask
  ``distributed.Client(...).get_executor()`` to spread :func:`write_clip_task` over machines
  (``pip install soundloc[distributed]``); every worker must see ``OUT`` and the corpus.

This module imports only the standard library at import time, so spawned workers can pin their
thread counts before numpy loads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundloc.dataformat import DATASET_JSON, DISTANCE_UNIT, FORMAT_VERSION, MANIFEST, clip_paths, write_dcase_csv
from soundloc.fileio import TEMP_SUFFIX, disk_usage, format_bytes, load_json, missing_folders, write_json_atomic, write_text_atomic
from soundloc.scenes.config import SPLIT_NAMES

DATASET_FORMAT = "soundloc-dataset"
"""The ``"format"`` field of every ``dataset.json`` soundloc writes: its signature."""

BYTES_PER_SAMPLE = {"flac": 3, "wav": 4}
"""Bytes per sample of the raw audio before compression (FLAC PCM-24, WAV float32)."""

FLAC_RATIO = 0.85
"""Expected FLAC size / raw PCM-24 size of simulated clips (noise floor and reverberant tails
compress little; measured 0.8-0.9 on the presets), used for the disk-space estimate."""

METADATA_BYTES_PER_CLIP = 4096
"""Allowance for a clip's label CSV, metadata JSON and manifest line in the disk estimate."""

_CLIP_FILE = re.compile(r"^(\.)?clip_(\d{6,})\.(flac|wav|csv|json)(\.[0-9A-Za-z]+" + re.escape(TEMP_SUFFIX) + r")?$")
_ROOT_FILES = (MANIFEST, DATASET_JSON)

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "PRA_NUM_THREADS")


@dataclass(frozen=True)
class GenerateReport:
    """What :func:`generate_dataset` did.

    Attributes:
        out: the dataset folder.
        num_clips: clips in the dataset.
        generated: clips simulated by this run.
        skipped: clips already complete from an earlier run.
        seconds: wall time of this run.
        disk_bytes: total size of the dataset's files.
        counts: clips per split.
    """

    out: Path
    num_clips: int
    generated: int
    skipped: int
    seconds: float
    disk_bytes: int
    counts: dict[str, int]

    def summary(self) -> str:
        per = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        rate = f" ({self.generated / self.seconds:.1f} clips/s)" if self.generated and self.seconds > 0 else ""
        return (f"{self.out}: {self.num_clips} clips ({per}); simulated {self.generated}{rate}, "
                f"kept {self.skipped} from an earlier run; {format_bytes(self.disk_bytes)} on disk")


def write_clip(out: str | os.PathLike, result) -> dict:
    """Write a :class:`~soundloc.scenes.clip.ClipResult`: audio, labels, then the metadata JSON
    (the completion mark). Each file atomically. Returns the metadata dict."""
    from soundloc.audio import write_audio

    out = Path(out)
    ext = Path(result.meta["audio"]).suffix.lstrip(".")
    audio_path, csv_path, json_path = clip_paths(out, result.split, result.name, ext)
    write_audio(audio_path, result.audio, result.meta["fs"], subtype="PCM_24" if ext == "flac" else "FLOAT")
    write_dcase_csv(csv_path, result.labels)
    write_json_atomic(json_path, result.meta, indent=None)
    return result.meta


# ---------------------------------------------------------------------------
# per-process task (what a pool or a cluster maps)
# ---------------------------------------------------------------------------

_CONTEXT: dict[str, Any] = {}


def limit_threads() -> None:
    """Pin BLAS/OpenMP (and torch, if loaded) to one thread: call first thing in a worker."""
    for v in _THREAD_VARS:
        os.environ[v] = "1"
    import sys

    if "torch" in sys.modules:  # pragma: no cover - workers do not import torch
        sys.modules["torch"].set_num_threads(1)


def _context(config_dict: dict, seed: int):
    from soundloc.scenes.clip import make_context
    from soundloc.scenes.config import SceneConfig

    key = json.dumps([config_dict, int(seed)], sort_keys=True)
    ctx = _CONTEXT.get(key)
    if ctx is None:
        _CONTEXT.clear()
        ctx = make_context(SceneConfig.from_dict(config_dict), seed)
        _CONTEXT[key] = ctx
    return ctx


def write_clip_task(out: str, config_dict: dict, seed: int, index: int) -> int:
    """Simulate clip ``index`` of ``(config, seed)`` and write it under ``out``; returns ``index``.

    Pure in its arguments (the corpus is ``config["corpus"]``): any process, on any machine that
    sees ``out`` and the corpus, can run any task, in any order, any number of times.
    """
    from soundloc.scenes.clip import simulate_clip

    ctx = _context(config_dict, seed)
    write_clip(out, simulate_clip(ctx.config, seed, index, context=ctx))
    return int(index)


# ---------------------------------------------------------------------------
# dataset
# ---------------------------------------------------------------------------


def dataset_header(config, seed: int, corpus, plan, array) -> dict:
    """The content of ``dataset.json`` (deterministic: no timestamps, no absolute paths)."""
    from soundloc import __version__

    return {
        "format": DATASET_FORMAT,
        "format_version": FORMAT_VERSION,
        "generator": f"soundloc {__version__}",
        "seed": int(seed),
        "config": config.to_dict(),
        "fs": config.fs,
        "duration": config.duration,
        "num_clips": config.num_clips,
        "audio_format": config.audio_format,
        "label_hop": 0.1,
        "label_format": {
            "columns": ["frame", "class", "track", "azimuth", "elevation", "distance"],
            "angles": "degrees, 2 decimals, array frame (azimuth CCW from +x in (-180, 180], elevation up)",
            "distance_unit": DISTANCE_UNIT,
        },
        "class_names": list(plan.class_names),
        "array": array.to_dict(),
        "splits": dict(plan.counts),
        "corpus": {
            "spec": config.corpus,
            "name": getattr(corpus, "name", str(config.corpus)),
            "num_clips": len(corpus.clips),
            "fingerprint": plan.fingerprint,
        },
        "source_clips": {s: sorted(plan.source_clips(s)) for s in plan.counts},
    }


def _identity(header: dict) -> dict:
    keys = ("format", "format_version", "seed", "config", "corpus")
    return {k: header.get(k) for k in keys}


def _difference(old, new: dict) -> str:
    """What differs between two ``dataset.json`` identities, e.g. ``"seed 0 there, 3 here"``."""
    if not isinstance(old, dict):
        return "unreadable dataset.json"

    def first(a, b, path: str):
        if isinstance(a, dict) and isinstance(b, dict):
            for k in list(a) + [k for k in b if k not in a]:
                if a.get(k) != b.get(k):
                    return first(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
            return None
        return f"{path or 'header'} {json.dumps(a)} there, {json.dumps(b)} here"

    return first(_identity(old), _identity(new), "") or "unknown difference"


def _is_our_temp(name: str, root_level: bool) -> bool:
    """``.clip_000001.flac.1a2b3c4d.tmp`` (in a split folder) or ``.manifest.jsonl.<hex>.tmp`` /
    ``.dataset.json.<hex>.tmp`` (at the root): temp files of :mod:`soundloc.fileio` for our names."""
    if root_level:
        return any(re.fullmatch(re.escape(f".{f}.") + r"[0-9A-Za-z]+" + re.escape(TEMP_SUFFIX), name) for f in _ROOT_FILES)
    m = _CLIP_FILE.match(name)
    return bool(m and m.group(1) and m.group(4))


def _clean_temp_files(out: Path) -> int:
    """Delete leftover temp files of our own names (a killed run's); other hidden files stay."""
    n = 0
    for folder, root_level in [(out, True)] + [(out / a / s, False) for a in ("audio", "metadata") for s in SPLIT_NAMES]:
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and _is_our_temp(entry.name, root_level) and entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.path)
                    n += 1
                except FileNotFoundError:  # pragma: no cover
                    pass
    return n


def _split_ranges(header: dict) -> dict[str, range] | None:
    """Clip-index range of each split that ``header`` (a soundloc ``dataset.json``) describes, or
    ``None`` when it does not say (then any index in our split folders counts as ours)."""
    counts = header.get("splits")
    if not isinstance(counts, dict) or not all(isinstance(counts.get(k, 0), int) for k in SPLIT_NAMES):
        return None
    out, start = {}, 0
    for k in SPLIT_NAMES:
        n = max(0, int(counts.get(k, 0)))
        out[k] = range(start, start + n)
        start += n
    return out


def _our_clip_files(out: Path, header: dict) -> Iterator[Path]:
    """The clip files (and their temp files) under ``out`` that the dataset of ``header`` wrote:
    our names, in our split folders, within that split's index range, with its audio suffix."""
    ranges = _split_ranges(header)
    ext = header.get("audio_format")
    for sub in ("audio", "metadata"):
        for split in SPLIT_NAMES:
            folder = out / sub / split
            if not folder.is_dir() or folder.is_symlink():
                continue
            for entry in os.scandir(folder):
                m = _CLIP_FILE.match(entry.name)
                if not m or not entry.is_file(follow_symlinks=False) or (m.group(1) and not m.group(4)):
                    continue
                suffix = m.group(3)
                if sub == "audio" and (suffix not in ("flac", "wav") or (ext in ("flac", "wav") and suffix != ext)):
                    continue
                if sub == "metadata" and suffix not in ("csv", "json"):
                    continue
                if ranges is not None and int(m.group(2)) not in ranges[split]:
                    continue
                yield Path(entry.path)


def _remove_ours(out: Path, header: dict) -> None:
    """Delete what the dataset of ``header`` wrote under ``out`` (see the module docstring), then
    the folders of ours that became empty. Nothing else is touched."""
    for p in list(_our_clip_files(out, header)):
        p.unlink(missing_ok=True)
    _clean_temp_files(out)
    for f in _ROOT_FILES:
        (out / f).unlink(missing_ok=True)
    _remove_empty_folders(out)


def _remove_empty_folders(out: Path) -> None:
    for sub in ("audio", "metadata"):
        for folder in [out / sub / s for s in SPLIT_NAMES] + [out / sub]:
            try:
                if folder.is_dir() and not folder.is_symlink():
                    folder.rmdir()  # only succeeds when empty
            except OSError:
                pass


def is_soundloc_header(header: Any) -> bool:
    """Whether ``header`` (a parsed ``dataset.json``) was written by soundloc (its signature)."""
    return isinstance(header, dict) and header.get("format") == DATASET_FORMAT


def _read_own_header(out: Path) -> dict | None:
    """The soundloc ``dataset.json`` of ``out``, ``None`` if there is none; ``ValueError`` when
    ``out`` holds anything that soundloc did not write as a dataset (refused, whatever the options)."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    ds = out / "dataset.json"
    if ds.exists() or ds.is_symlink():
        try:
            old = load_json(ds, what="dataset header")
        except ValueError:
            old = None
        if not is_soundloc_header(old) or ds.is_symlink():
            raise ValueError(f"{ds} was not written by soundloc (no \"format\": \"{DATASET_FORMAT}\"); "
                             "refusing to touch that folder: use a new folder")
        return old
    if out.is_dir() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise ValueError(f"{out} is not empty and holds no soundloc dataset (no dataset.json); use a new folder")
    return None


def _has_clips(out: Path, header: dict) -> bool:
    """Whether any finished clip file (not a temp file) of ``header``'s dataset is under ``out``."""
    return any(not p.name.startswith(".") for p in _our_clip_files(out, header))


def _prepare_folder(out: Path, header: dict, overwrite: bool) -> bool:
    """Make ``out`` ready for the dataset of ``header``; returns whether this call wrote
    ``dataset.json`` where there was none (so a failed run may remove it again)."""
    ds = out / "dataset.json"
    old = _read_own_header(out)
    created = old is None
    if old is not None and _identity(old) != _identity(header):
        if _has_clips(out, old) and not overwrite:
            raise ValueError(f"{out} holds a dataset with a different config ({_difference(old, header)}); "
                             "use a new folder or --overwrite")
        _remove_ours(out, old)  # only what that dataset wrote; a header without clips loses nothing
        created = True
    out.mkdir(parents=True, exist_ok=True)
    if old is None or created or old != header:
        write_json_atomic(ds, header, indent=2)
    return created


def build_manifest(out: str | os.PathLike) -> list[dict]:
    """Rebuild ``manifest.jsonl`` from the per-clip JSON files (index order), atomically."""

    out = Path(out)
    metas = []
    for p in sorted((out / "metadata").glob("*/clip_*.json")):
        m = load_json(p, what="clip metadata")
        if not isinstance(m, dict) or not isinstance(m.get("index"), int):
            raise ValueError(f"clip metadata '{p}' is not a soundloc clip record (no integer 'index')")  # noqa: TRY004
        metas.append(m)
    metas.sort(key=lambda m: m["index"])
    write_text_atomic(out / "manifest.jsonl", "".join(json.dumps(m) + "\n" for m in metas))
    return metas


@dataclass(frozen=True)
class Preflight:
    """What a run into a folder will need, known before anything is written (:func:`preflight`).

    Attributes:
        out: the dataset folder.
        num_clips: clips in the dataset; ``todo``: of them, not yet on disk (an estimate from the
            clip files present; the exact count comes after planning).
        bytes_per_clip: estimated disk size of one clip (audio + labels + metadata).
        needed_bytes: ``todo * bytes_per_clip``; ``free_bytes``: free space where ``out`` goes.
    """

    out: Path
    num_clips: int
    todo: int
    bytes_per_clip: int
    needed_bytes: int
    free_bytes: int

    def summary(self) -> str:
        return (f"planning {self.num_clips} clips ({self.todo} to simulate, about "
                f"{format_bytes(self.needed_bytes)} on disk; {format_bytes(self.free_bytes)} free)")


def estimate_clip_bytes(config) -> int:
    """Estimated disk size of one clip of ``config``: samples x mics x bytes per sample of the audio
    format (FLAC at :data:`FLAC_RATIO` of raw PCM-24), plus :data:`METADATA_BYTES_PER_CLIP`."""
    raw = config.num_samples * config.array.resolve().num_mics * BYTES_PER_SAMPLE[config.audio_format]
    ratio = FLAC_RATIO if config.audio_format == "flac" else 1.0
    return int(raw * ratio) + METADATA_BYTES_PER_CLIP


def _free_bytes(out: Path) -> int:
    missing = missing_folders(out)
    return int(shutil.disk_usage(missing[-1].parent if missing else out).free)


def preflight(out: str | os.PathLike, config, *, overwrite: bool = False) -> Preflight:
    """Check ``out`` before any work or any write: it must be new, empty, or hold a soundloc
    dataset (``ValueError`` otherwise, whatever ``overwrite`` says), and the clips still to
    simulate must fit in the free disk space (``ValueError`` naming both sizes otherwise).
    Fast: reads only ``dataset.json`` and the folder listings."""
    out = Path(out)
    old = _read_own_header(out)
    done = 0
    if old is not None and (not overwrite or _identity_config(old) == _identity_config_of(config)):
        done = sum(1 for p in _our_clip_files(out, old) if p.parent.parent.name == "metadata" and p.suffix == ".json")
    todo = max(0, config.num_clips - done)
    per = estimate_clip_bytes(config)
    need, free = todo * per, _free_bytes(out)
    if need > free:
        raise ValueError(f"{config.num_clips} clips need about {format_bytes(need)} on disk, but only "
                         f"{format_bytes(free)} is free under {out}; use fewer clips or another disk")
    return Preflight(out=out, num_clips=config.num_clips, todo=todo, bytes_per_clip=per, needed_bytes=need,
                     free_bytes=free)


def _identity_config(header: dict) -> Any:
    return header.get("config")


def _identity_config_of(config) -> Any:
    return json.loads(json.dumps(config.to_dict()))


def _complete_indices(out: Path, plan, ext: str) -> set[int]:
    """Indices of the clips whose three files exist (the JSON is written last): one folder
    listing per split, not three ``stat`` calls per clip (fast for millions of clips)."""
    done: set[int] = set()
    start = 0
    for split in SPLIT_NAMES:
        n = plan.counts.get(split, 0)
        names = {}
        for sub in ("audio", "metadata"):
            folder = out / sub / split
            names[sub] = set(os.listdir(folder)) if folder.is_dir() else set()
        for name in names["metadata"]:
            m = _CLIP_FILE.match(name)
            if not m or m.group(1) or m.group(3) != "json":
                continue
            i = int(m.group(2))
            stem = f"clip_{m.group(2)}"
            if start <= i < start + n and f"{stem}.csv" in names["metadata"] and f"{stem}.{ext}" in names["audio"]:
                done.add(i)
        start += n
    return done


def generate_dataset(
    out: str | os.PathLike,
    config,
    *,
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = False,
    executor=None,
    corpus=None,
) -> GenerateReport:
    """Simulate ``config.num_clips`` clips into ``out`` (see the module docstring).

    Args:
        out: dataset folder (created; an existing one must hold the same dataset, be empty, or
            ``overwrite`` must be set).
        config: a :class:`~soundloc.scenes.config.SceneConfig`.
        seed: dataset seed.
        workers: processes (1 = in this process).
        overwrite: replace a different dataset in ``out``.
        progress: show a tqdm progress bar.
        executor: a ``concurrent.futures.Executor`` to run :func:`write_clip_task` on instead of the
            built-in pool (e.g. Dask's ``client.get_executor()``).
        corpus: the :class:`~soundloc.corpus.Corpus` to use in this process (default
            ``get_corpus(config.corpus)``); workers always load ``config.corpus``.

    Returns:
        A :class:`GenerateReport`.

    Raises:
        ValueError: bad config, empty corpus, a different dataset in ``out``.
    """
    from soundloc.scenes.clip import ClipContext, simulate_clip
    from soundloc.scenes.config import SceneConfig

    if not isinstance(config, SceneConfig):
        raise TypeError(f"config must be a SceneConfig, got {type(config).__name__}")
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    try:
        seed_ok = not isinstance(seed, bool) and int(seed) == seed and int(seed) >= 0
    except (TypeError, ValueError, OverflowError):
        seed_ok = False
    if not seed_ok:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    t0 = time.perf_counter()
    out = Path(out)
    preflight(out, config, overwrite=overwrite)
    if corpus is None:
        from soundloc.corpus import get_corpus

        corpus = get_corpus(config.corpus)
    if not corpus.clips:
        raise ValueError(f"corpus '{config.corpus}' has no audio clips")
    ctx = ClipContext(config, seed, corpus)
    header = dataset_header(config, seed, corpus, ctx.plan, ctx.array)
    new_dirs = missing_folders(out)
    created = False
    try:
        created = _prepare_folder(out, header, overwrite)
        _clean_temp_files(out)
        done = _complete_indices(out, ctx.plan, config.audio_format)
        skipped = len(done)
        todo = (i for i in range(config.num_clips) if i not in done)
        n_todo = config.num_clips - skipped
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=config.num_clips, initial=skipped, unit="clip", desc="simulate", dynamic_ncols=True)
        try:
            if executor is not None:
                _run_executor(executor, out, config, seed, todo, bar)
            elif workers == 1 or n_todo <= 1:
                for i in todo:
                    write_clip(out, simulate_clip(config, seed, i, context=ctx))
                    if bar is not None:
                        bar.update(1)
            else:
                _run_pool(int(workers), out, config, seed, todo, bar, n_todo)
        finally:
            if bar is not None:
                bar.close()
        build_manifest(out)
    except BaseException:
        if created and not _has_clips(out, header):  # nothing to resume: leave no residue
            _remove_ours(out, header)
        for d in new_dirs:  # folders this run made, innermost first, if still empty
            try:
                d.rmdir()
            except OSError:
                break
        raise
    return GenerateReport(out=out, num_clips=config.num_clips, generated=n_todo, skipped=skipped,
                          seconds=time.perf_counter() - t0, disk_bytes=disk_usage(out), counts=dict(ctx.plan.counts))


def _run_executor(executor, out: Path, config, seed: int, todo, bar) -> None:
    from concurrent.futures import as_completed

    cfg = config.to_dict()
    futures = [executor.submit(write_clip_task, str(out), cfg, int(seed), i) for i in todo]
    try:
        for f in as_completed(futures):
            f.result()  # re-raises a worker's error
            if bar is not None:
                bar.update(1)
    except BaseException:
        for f in futures:
            f.cancel()
        raise


def _run_pool(workers: int, out: Path, config, seed: int, todo, bar, n_todo: int) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    cfg = config.to_dict()
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    # Workers start with Ctrl-C ignored (an ignored SIGINT survives exec, and Python keeps it
    # ignored): a terminal's SIGINT to the process group during their start-up would otherwise
    # kill one mid-import and can leave the pool unable to terminate.
    main_thread = threading.current_thread() is threading.main_thread()
    old_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        for v in _THREAD_VARS:  # inherited by the spawned workers before numpy loads there
            os.environ[v] = "1"
        pool = ctx.Pool(processes=min(workers, n_todo), initializer=_init_worker)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, old_sigint)
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    try:
        args = ((str(out), cfg, int(seed), i) for i in todo)
        for _ in pool.imap_unordered(_star_task, args, chunksize=1):
            if bar is not None:
                bar.update(1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _init_worker() -> None:
    """Pool worker setup: one thread each, and Ctrl-C left to the parent (which terminates the
    pool), so an interrupt prints one message instead of a traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()


def _star_task(args: tuple) -> int:
    return write_clip_task(*args)
