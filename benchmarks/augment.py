"""Cost of the MC-SimCLR augmentation pipeline beside the features it feeds, and batched vs per-clip.

One batch of 1-s 4-channel 16 kHz clips (the ``mcsimclr`` feature preset: 4 log-mel + 6 GCC-PHAT,
``(B, 10, 51, 64)``) on one CPU thread (or ``--device cuda``). Rows, per batch:

* ``features``: ``get_feature("mic", preset="mcsimclr")`` on the batch (the reference cost);
* each augmentation alone (Mixup on waveforms; ChannelSwap, RandomResizedCrop, ChannelDrop,
  SpecAugment on features), and the full two-view pipeline (2 x Mixup + 2 x features + same
  ChannelSwap for both views + 2 x RRC + 2 x ChannelDrop), and its augmentation work alone (on
  precomputed features) as a fraction of augmentations + features;
* the peer: RandomResizedCrop and ChannelSwap done one clip at a time the way per-sample image
  pipelines do (``torchvision``-style crop then ``F.interpolate``; ``x[perm]`` per clip, GCC lag flip
  per channel), side by side with our batched versions (ratio = per-clip / batched).

Usage:
    python benchmarks/augment.py --batch 64 --repeats 5
    python benchmarks/augment.py --device cuda --batch 512
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from soundloc.augment import ChannelDrop, ChannelSwap, Mixup, RandomResizedCrop, SpecAugment
from soundloc.features import get_feature
from soundloc.geometry import MicArray


def timeit(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def rrc_per_clip(f: torch.Tensor, rrc: RandomResizedCrop) -> torch.Tensor:
    p = rrc.sample(f.shape[0], f.shape[2], f.shape[3])
    out = []
    for b in range(f.shape[0]):
        t0, h, l0, w = (int(v[b]) for v in (p.top, p.height, p.left, p.width))
        out.append(F.interpolate(f[b:b + 1, :, t0:t0 + h, l0:l0 + w], size=f.shape[2:], mode="bilinear", align_corners=False))
    return torch.cat(out)


def cs_per_clip(f: torch.Tensor, cs: ChannelSwap) -> torch.Tensor:
    idx = cs.sample(f.shape[0])
    out = []
    for b in range(f.shape[0]):
        k = int(idx[b])
        src = cs.feat_src[k].tolist()
        flips = cs.feat_flip[k].tolist()
        chans = []
        for c, (s, fl) in enumerate(zip(src, flips)):
            ch = f[b, s]
            if fl:
                ch = torch.cat([torch.zeros_like(ch[:, :1]), torch.flip(ch, dims=[-1])[:, :-1]], dim=-1)
            chans.append(ch)
        out.append(torch.stack(chans))
    return torch.stack(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    feat = get_feature("mic", in_channels=4, fs=16000, preset="mcsimclr").to(dev)
    x = torch.randn(args.batch, 4, 16000, device=dev)
    f = feat(x)
    cs = ChannelSwap(MicArray.preset("circular4"), seed=0).to(dev)
    mu, rrc, cd, sa = Mixup(seed=0), RandomResizedCrop(seed=0), ChannelDrop(seed=0), SpecAugment(seed=0)

    def pipeline() -> None:
        a, b = mu(x), mu(x)
        fa, fb, _ = cs.forward_pair(feat(a), feat(b))
        cd(rrc(fa))
        cd(rrc(fb))

    def augment_only() -> None:  # the same augmentation work on precomputed features
        mu(x), mu(x)
        fa, fb, _ = cs.forward_pair(f, f)
        cd(rrc(fa))
        cd(rrc(fb))

    rows: list[tuple[str, float]] = [
        ("features (mic, mcsimclr)", timeit(lambda: feat(x), args.repeats, sync)),
        ("mixup (waveforms)", timeit(lambda: mu(x), args.repeats, sync)),
        ("channel-swap (features)", timeit(lambda: cs(f), args.repeats, sync)),
        ("channel-swap (waveforms)", timeit(lambda: cs(x), args.repeats, sync)),
        ("resized-crop", timeit(lambda: rrc(f), args.repeats, sync)),
        ("channel-drop", timeit(lambda: cd(f), args.repeats, sync)),
        ("spec-augment", timeit(lambda: sa(f), args.repeats, sync)),
    ]
    full = timeit(pipeline, args.repeats, sync)
    aug_t = timeit(augment_only, args.repeats, sync)
    feat_t = rows[0][1]
    print(f"batch {args.batch} x 4 ch x 1 s @ 16 kHz on {dev} ({args.threads} thread(s)); best of {args.repeats}")
    for name, t in rows:
        print(f"  {name:28s} {1e3 * t:9.2f} ms/batch  {1e3 * t / args.batch:7.3f} ms/clip  ({t / feat_t:5.2f} x features)")
    print(f"  {'two-view pipeline':28s} {1e3 * full:9.2f} ms/batch (2 x mixup, 2 x features, channel-swap pair, 2 x rrc, 2 x cd)")
    print(f"  {'its augmentations alone':28s} {1e3 * aug_t:9.2f} ms/batch = {100 * aug_t / (aug_t + 2 * feat_t):.1f} % "
          "of augmentations + 2 x features")
    print("peer (one clip at a time) vs ours (batched):")
    for name, peer, ours in (("resized-crop", lambda: rrc_per_clip(f, rrc), lambda: rrc(f)),
                             ("channel-swap (features)", lambda: cs_per_clip(f, cs), lambda: cs(f))):
        tp, to = timeit(peer, args.repeats, sync), timeit(ours, args.repeats, sync)
        print(f"  {name:28s} per-clip {1e3 * tp:8.2f} ms  batched {1e3 * to:8.2f} ms  ratio {tp / to:6.1f}x")


if __name__ == "__main__":
    main()
