"""Generate the built-in AV benchmark's cache shards in parallel (one process per shard), so that the
``av-train`` runs of ``av.sh`` start from a warm cache.

``python benchmarks/recipes/av_prepare.py --image-size 64 --sizes 32000,1000,1000 --workers 16``
(the same settings as the ``av-train`` options ``--image-size``, ``--train-size``, ``--val-size``,
``--test-size``, ``--voices``). Shards are written atomically; a rerun skips finished ones.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor


def _shard(job: tuple[dict[str, object], str, int]) -> int:
    from soundloc.av import AVBenchConfig, SyntheticAVDataset
    from soundloc.av.synthetic import SHARD_SIZE

    cfg, split, k = job
    SyntheticAVDataset(split, AVBenchConfig(**cfg)).sample(k * SHARD_SIZE)  # type: ignore[arg-type]
    return k


def main(argv: list[str] | None = None) -> int:
    from soundloc.av import AVBenchConfig, SyntheticAVDataset
    from soundloc.av.synthetic import SHARD_SIZE

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--sizes", default="32000,1000,1000", help="train,val,test samples")
    p.add_argument("--voices", type=int, default=16)
    p.add_argument("--workers", type=int, default=16)
    a = p.parse_args(argv)
    sizes = tuple(int(x) for x in a.sizes.split(","))
    cfg = {"image_size": a.image_size, "sizes": sizes, "n_voices": a.voices}
    bench = AVBenchConfig(**cfg)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    SyntheticAVDataset("train", bench)  # renders the speech bank once, before the workers read it
    jobs = [(cfg, split, k) for split in ("train", "val", "test") for k in range(-(-bench.size(split) // SHARD_SIZE))]
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        list(ex.map(_shard, jobs, chunksize=1))
    print(f"av_prepare: {len(jobs)} shards of {sum(sizes)} samples ({a.image_size} px) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
