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
  files, skips complete clips and rebuilds ``manifest.jsonl``. Killing a run at any point and
  rerunning gives the same bytes as an uninterrupted run.
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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundloc.dataformat import DISTANCE_UNIT, FORMAT_VERSION, clip_paths, write_dcase_csv
from soundloc.fileio import disk_usage, format_bytes, write_json_atomic, write_text_atomic

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
        "format": "soundloc-dataset",
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


def _clean_temp_files(out: Path) -> int:
    n = 0
    for sub in ("audio", "metadata", "."):
        base = out / sub
        if not base.is_dir():
            continue
        walker = os.walk(base) if sub != "." else [(str(base), [], os.listdir(base))]
        for dirpath, _, files in walker:
            for f in files:
                if f.startswith(".") and f.endswith(".tmp"):
                    try:
                        os.unlink(os.path.join(dirpath, f))
                        n += 1
                    except FileNotFoundError:  # pragma: no cover
                        pass
    return n


def clip_complete(out: Path, split: str, name: str, ext: str) -> bool:
    """Whether all three files of a clip exist (the JSON is written last)."""
    return all(p.is_file() for p in clip_paths(out, split, name, ext))


def _prepare_folder(out: Path, header: dict, overwrite: bool) -> None:
    ds = out / "dataset.json"
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    if ds.is_file():
        try:
            old = json.loads(ds.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = None
        same = isinstance(old, dict) and _identity(old) == _identity(header)
        if not same and not overwrite:
            raise ValueError(f"{out} holds a dataset with a different config ({_difference(old, header)}); "
                             "use a new folder or --overwrite")
        if not same:
            for sub in ("audio", "metadata"):
                shutil.rmtree(out / sub, ignore_errors=True)
            for f in ("manifest.jsonl", "dataset.json"):
                (out / f).unlink(missing_ok=True)
    elif out.is_dir() and any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise ValueError(f"{out} is not empty and holds no soundloc dataset (no dataset.json); use a new folder")
    out.mkdir(parents=True, exist_ok=True)
    if not ds.is_file() or json.loads(ds.read_text()) != header:
        write_json_atomic(ds, header, indent=2)


def build_manifest(out: str | os.PathLike) -> list[dict]:
    """Rebuild ``manifest.jsonl`` from the per-clip JSON files (index order), atomically."""

    out = Path(out)
    metas = []
    for p in sorted((out / "metadata").glob("*/clip_*.json")):
        metas.append(json.loads(p.read_text()))
    metas.sort(key=lambda m: m["index"])
    write_text_atomic(out / "manifest.jsonl", "".join(json.dumps(m) + "\n" for m in metas))
    return metas


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
    t0 = time.perf_counter()
    out = Path(out)
    if corpus is None:
        from soundloc.corpus import get_corpus

        corpus = get_corpus(config.corpus)
    if not corpus.clips:
        raise ValueError(f"corpus '{config.corpus}' has no audio clips")
    ctx = ClipContext(config, seed, corpus)
    header = dataset_header(config, seed, corpus, ctx.plan, ctx.array)
    _prepare_folder(out, header, overwrite)
    _clean_temp_files(out)

    ext = config.audio_format
    todo = [i for i in range(config.num_clips)
            if not clip_complete(out, ctx.plan.split_of(i), ctx.plan.clip_name(i), ext)]
    skipped = config.num_clips - len(todo)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.num_clips, initial=skipped, unit="clip", desc="simulate", dynamic_ncols=True)
    try:
        if executor is not None:
            _run_executor(executor, out, config, seed, todo, bar)
        elif workers == 1 or len(todo) <= 1:
            for i in todo:
                write_clip(out, simulate_clip(config, seed, i, context=ctx))
                if bar is not None:
                    bar.update(1)
        else:
            _run_pool(int(workers), out, config, seed, todo, bar)
    finally:
        if bar is not None:
            bar.close()
    build_manifest(out)
    return GenerateReport(out=out, num_clips=config.num_clips, generated=len(todo), skipped=skipped,
                          seconds=time.perf_counter() - t0, disk_bytes=disk_usage(out), counts=dict(ctx.plan.counts))


def _run_executor(executor, out: Path, config, seed: int, todo: list[int], bar) -> None:
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


def _run_pool(workers: int, out: Path, config, seed: int, todo: list[int], bar) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    cfg = config.to_dict()
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    try:
        for v in _THREAD_VARS:  # inherited by the spawned workers before numpy loads there
            os.environ[v] = "1"
        pool = ctx.Pool(processes=min(workers, len(todo)), initializer=_init_worker)
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    try:
        args = [(str(out), cfg, int(seed), i) for i in todo]
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
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()


def _star_task(args: tuple) -> int:
    return write_clip_task(*args)
