"""Scene simulation speed, side by side: scenes per second for 1-s, 4-mic (circular4), 16 kHz clips
with the MC-SimCLR room distribution (the ``mcsimclr`` preset: width/length U[3, 10] m, height
U[2.5, 4] m, RT60 U[0.1, 1.0] s, one source, diffuse noise at 10-30 dB SNR), built-in corpus.

Three ways to make the same scenes, timed one after the other in this process (single-threaded
BLAS / pyroomacoustics):

* ``soundloc ism``: :func:`soundloc.scenes.clip.simulate_clip` with ``rir_backend="ism"``
  (pyroomacoustics' image-source method at the order its Sabine inversion asks for);
* ``soundloc fast``: the same with ``rir_backend="fast"`` (early image sources + diffuse tail);
* ``naive pyroomacoustics``: the loop a researcher writes per scene: ``inverse_sabine(rt60, dims)``,
  ``ShoeBox(..., max_order=order)``, ``add_source(position, signal, delay=onset)``, the mic array,
  ``room.simulate(snr=...)``. It gets the very same rooms, RT60s, positions and source excerpts as
  the soundloc runs (taken from their clip metadata), so the RT60 distributions match; the table
  reports the RT60 measured on each method's RIRs (T30, mean over mics) against the target.

Then the dataset writer (fast backend, FLAC files on disk, manifest) with 1 and 2 fresh worker
processes (a spawn pool passed as ``executor``, so both pay the same start-up). The per-scene
rows time simulation only (source clips are decoded and cached first; the methods take turns scene
by scene); the writer rows are wall time including start-up and file writing.

Usage:
    python benchmarks/simulate.py --scenes 20 --fast-scenes 200 --dataset-clips 400
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PRA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # before numpy / pyroomacoustics load

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _naive_pra(meta: dict, ctx, fs: int) -> tuple[np.ndarray, float]:
    """One scene with plain pyroomacoustics; returns (mixture (M, N), measured RT60 of the RIR)."""
    import pyroomacoustics as pra

    from soundloc.scenes.mix import unit_rms
    from soundloc.scenes.rir import measure_rt60

    dims = meta["room"]["dims"]
    e_abs, order = pra.inverse_sabine(meta["room"]["rt60_target"], dims)
    room = pra.ShoeBox(dims, fs=fs, materials=pra.Material(e_abs), max_order=order)
    for ev in meta["events"]:
        x, _, _ = ctx.source(ev["clip_id"])
        a = int(round(ev["source_start"] * fs))
        n = int(round((ev["offset"] - ev["onset"]) * fs))
        room.add_source(ev["start_position"], signal=unit_rms(x[a : a + n]), delay=ev["onset"])
    room.add_microphone_array(np.asarray(meta["mic_positions"]).T)
    room.simulate(snr=meta["noise"]["snr_db"])
    y = room.mic_array.signals[:, : meta["num_samples"]]
    rt = float(np.mean([measure_rt60(room.rir[m][0], fs) for m in range(len(room.rir))]))
    return y, rt


def _time_ours(cfg, ctx, indices) -> tuple[float, list[dict]]:
    from soundloc.scenes.clip import simulate_clip

    metas = []
    t0 = time.perf_counter()
    for i in indices:
        metas.append(simulate_clip(cfg, 0, i, context=ctx).meta)
    return time.perf_counter() - t0, metas


def _rt_err(metas: list[dict]) -> tuple[float, float, float]:
    t = np.array([m["room"]["rt60_target"] for m in metas])
    m = np.array([np.nan if m["room"]["rt60_measured"] is None else m["room"]["rt60_measured"] for m in metas])
    return float(np.mean(t)), float(np.nanmean(m)), float(np.nanmedian(np.abs(m - t)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=20, help="scenes for the ism / naive pyroomacoustics rows")
    ap.add_argument("--fast-scenes", type=int, default=200, help="scenes for the fast-backend row")
    ap.add_argument("--dataset-clips", type=int, default=400, help="clips for the 1- vs 2-worker writer rows")
    ap.add_argument("--corpus", default="builtin")
    args = ap.parse_args(argv)

    from soundloc.corpus import get_corpus
    from soundloc.scenes.clip import ClipContext
    from soundloc.scenes.presets import get_preset
    from soundloc.scenes.writer import generate_dataset

    base = get_preset("mcsimclr").replace(corpus=args.corpus, num_clips=max(args.scenes, args.fast_scenes, args.dataset_clips))
    corpus = get_corpus(args.corpus)
    fs = base.fs
    rows = []

    # warm up: decode every source clip once and import everything
    cfg_fast = base.replace(rir_backend="fast")
    ctx_fast = ClipContext(cfg_fast, 0, corpus)
    for c in corpus.clips:
        ctx_fast.source(c.clip_id)
    _time_ours(cfg_fast, ctx_fast, [0])
    cfg_ism = base.replace(rir_backend="ism")
    ctx_ism = ClipContext(cfg_ism, 0, corpus)
    ctx_ism._cache = ctx_fast._cache

    # the three methods take turns scene by scene, so load from other processes hits them alike
    from soundloc.scenes.clip import simulate_clip

    t_ism = t_fast_same = t_naive = 0.0
    m_ism, m_fast, rt_naive = [], [], []
    for i in range(args.scenes):
        t0 = time.perf_counter()
        m_ism.append(simulate_clip(cfg_ism, 0, i, context=ctx_ism).meta)
        t1 = time.perf_counter()
        rt_naive.append(_naive_pra(m_ism[-1], ctx_fast, fs)[1])
        t2 = time.perf_counter()
        m_fast.append(simulate_clip(cfg_fast, 0, i, context=ctx_fast).meta)
        t3 = time.perf_counter()
        t_ism, t_naive, t_fast_same = t_ism + t1 - t0, t_naive + t2 - t1, t_fast_same + t3 - t2
    t_fast_many, m_fast_many = _time_ours(cfg_fast, ctx_fast, list(range(args.fast_scenes)))

    tgt = np.array([m["room"]["rt60_target"] for m in m_ism])
    rows.append(("naive pyroomacoustics loop", args.scenes, t_naive, float(np.mean(tgt)), float(np.mean(rt_naive)),
                 float(np.median(np.abs(np.array(rt_naive) - tgt)))))
    rows.append(("soundloc, ism backend", args.scenes, t_ism, *_rt_err(m_ism)))
    rows.append(("soundloc, fast backend (same scenes)", args.scenes, t_fast_same, *_rt_err(m_fast)))
    rows.append((f"soundloc, fast backend ({args.fast_scenes} scenes)", args.fast_scenes, t_fast_many, *_rt_err(m_fast_many)))

    print(f"\n1-s clips, circular4, {fs} Hz, MC-SimCLR rooms, corpus '{args.corpus}', in-process, 1 thread")
    print(f"{'method':<40}{'scenes':>7}{'time s':>9}{'scenes/s':>10}{'vs naive':>10}   RT60 target / measured / median |err|")
    naive_rate = args.scenes / t_naive
    for name, n, t, rt_t, rt_m, err in rows:
        rate = n / t
        print(f"{name:<40}{n:>7}{t:>9.2f}{rate:>10.2f}{rate / naive_rate:>9.1f}x   {rt_t:.3f} / {rt_m:.3f} / {err:.3f} s")

    print(f"\ndataset writer (fast backend, FLAC on disk), {args.dataset_clips} clips, fresh worker processes (spawn)")
    print("  (wall time includes starting the workers: imports, corpus index, decoding the source clips)")
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    tmp = Path(tempfile.mkdtemp(prefix="soundloc_bench_"))
    try:
        cfg_ds = cfg_fast.replace(num_clips=args.dataset_clips)
        rates = {}
        for w in (1, 2):
            out = tmp / f"w{w}"
            c0 = os.times()
            with ProcessPoolExecutor(w, mp_context=mp.get_context("spawn")) as ex:
                rep = generate_dataset(out, cfg_ds, seed=0, executor=ex, corpus=corpus)
            c1 = os.times()  # the pool's workers are reaped now, so their CPU time is in children_*
            cpu = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system", "children_user", "children_system"))
            rates[w] = args.dataset_clips / rep.seconds
            print(f"  {w} worker{'s' if w > 1 else ' '}: {rep.seconds:7.2f} s wall  {rates[w]:7.2f} clips/s  "
                  f"CPU {cpu:6.2f} s (CPU/wall {cpu / rep.seconds:.2f})  ({rep.disk_bytes / 1e6:.1f} MB)")
        print(f"  scaling 1 -> 2 workers: {rates[2] / rates[1]:.2f}x (machine has {os.cpu_count()} cores; "
              f"1-min load average now: {os.getloadavg()[0]:.1f})")
        same = all((tmp / "w1" / p.relative_to(tmp / "w2")).read_bytes() == p.read_bytes()
                   for p in (tmp / "w2").rglob("*") if p.is_file())
        print(f"  1- and 2-worker datasets bit-identical: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
